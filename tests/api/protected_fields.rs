//! What each protected field does once its guard lets the caller through: real data from the
//! database, and the contract's codes for what the guard cannot know.

use serde_json::{Value, json};

use crate::{
    backend_test,
    support::{PASSWORD, code, message, payload, spawn_app, spawn_app_with},
};

backend_test! {
    async fn users_pages_with_cursors_and_caps_first(backend) {
        let app = spawn_app(backend).await;
        let (_, reader, _) = app.user_with_tokens("reader@example.com", &[], &["users:read"]).await;
        for i in 0..4 {
            app.create_user(&format!("u{i}@example.com"), &[], &[]).await;
        }
        let page = "query($first: Int, $after: String) { users(first: $first, after: $after) { edges { cursor node { id email } } pageInfo { hasNextPage endCursor } } }";
        let body = app.graphql(Some(&reader), page, json!({ "first": 2 })).await;
        let first_page = &body["data"]["users"];
        assert_eq!(first_page["edges"].as_array().map(Vec::len), Some(2), "{body}");
        assert_eq!(first_page["edges"][0]["node"]["email"], "reader@example.com");
        assert_eq!(first_page["pageInfo"]["hasNextPage"], true);

        let mut emails = Vec::new();
        let mut after = first_page["pageInfo"]["endCursor"].clone();
        emails.extend(first_page["edges"].as_array().into_iter().flatten().map(|e| e["node"]["email"].clone()));
        loop {
            let body = app.graphql(Some(&reader), page, json!({ "first": 2, "after": after })).await;
            let users = &body["data"]["users"];
            emails.extend(users["edges"].as_array().into_iter().flatten().map(|e| e["node"]["email"].clone()));
            if users["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = users["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(emails.len(), 5, "every user once: {emails:?}");

        for bad in [0, 101, -1] {
            let body = app.graphql(Some(&reader), page, json!({ "first": bad })).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "first = {bad}: {body}");
        }
        let body = app.graphql(Some(&reader), page, json!({ "first": 2, "after": "not-a-cursor" })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT");
        let body = app.graphql(Some(&reader), "{ users { edges { node { id } } } }", json!({})).await;
        assert_eq!(body["data"]["users"]["edges"].as_array().map(Vec::len), Some(5), "default first is 50");
    }
}

backend_test! {
    async fn email_is_visible_to_its_owner_or_a_users_read_holder_only(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        // An admin without users:read creates a user: the new user's email is not theirs to read.
        let body = app
            .graphql(Some(&admin), "mutation($p: String!) { createUser(email: \"x@example.com\", password: $p, name: \"X\", roles: [\"editor\"]) { id name roles email } }", json!({ "p": PASSWORD }))
            .await;
        assert_eq!(body["data"]["createUser"]["roles"], json!(["editor"]), "{body}");
        assert_eq!(body["data"]["createUser"]["email"], Value::Null);
        assert_eq!(body["errors"][0]["path"], json!(["createUser", "email"]));
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
        assert_eq!(body["errors"][0]["extensions"]["required"], json!({ "permissions": ["users:read"] }));
        // Their own email they see.
        let body = app.graphql(Some(&admin), "{ me { email } }", json!({})).await;
        assert_eq!(body["data"]["me"]["email"], "admin@example.com");
    }
}

backend_test! {
    async fn create_user_refuses_a_taken_or_malformed_email_and_a_weak_password(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let create = "mutation($e: String!, $p: String!) { createUser(email: $e, password: $p, name: \"N\") { id } }";
        for (email, password, needle) in [
            (" ADMIN@example.com", PASSWORD, "already exists"),
            ("not-an-email", PASSWORD, "valid email"),
            ("ok@example.com", "short", "at least 12"),
        ] {
            let body = app.graphql(Some(&admin), create, json!({ "e": email, "p": password })).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{email}: {body}");
            assert!(message(&body).contains(needle), "{body}");
        }
    }
}

backend_test! {
    async fn sessions_lists_the_callers_own_and_revoke_session_ends_only_their_own(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let (laptop, _) = app.login("ana@example.com", PASSWORD).await;
        let (phone, phone_refresh) = app.login("ana@example.com", PASSWORD).await;
        let (_, mallory, _) = app.user_with_tokens("mallory@example.com", &[], &[]).await;

        let body = app.graphql(Some(&laptop), "{ sessions { id current userAgent createdAt lastUsedAt } }", json!({})).await;
        let sessions = body["data"]["sessions"].as_array().expect("sessions").clone();
        assert_eq!(sessions.len(), 2, "{body}");
        let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["id"], payload(&laptop)["sid"]);
        let phone_sid = payload(&phone)["sid"].clone();

        let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";
        let body = app.graphql(Some(&mallory), revoke, json!({ "id": phone_sid })).await;
        assert_eq!(code(&body), "NOT_FOUND", "another user's session: {body}");
        let body = app.graphql(Some(&laptop), revoke, json!({ "id": "no-such-session" })).await;
        assert_eq!(code(&body), "NOT_FOUND");
        assert!(app.graphql(Some(&phone), "{ me { id } }", json!({})).await["data"]["me"].is_object());

        let body = app.graphql(Some(&laptop), revoke, json!({ "id": phone_sid })).await;
        assert_eq!(body["data"]["revokeSession"], true, "{body}");
        assert_eq!(code(&app.graphql(Some(&phone), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        assert_eq!(code(&app.graphql(Some(&phone_refresh), "mutation { refresh { accessToken } }", json!({})).await), "TOKEN_REVOKED");
        let body = app.graphql(Some(&laptop), "{ sessions { id } }", json!({})).await;
        assert_eq!(body["data"]["sessions"].as_array().map(Vec::len), Some(1));
    }
}

backend_test! {
    async fn change_password_ends_the_other_sessions_and_swaps_the_password(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let (here, _) = app.login("ana@example.com", PASSWORD).await;
        let (elsewhere, elsewhere_refresh) = app.login("ana@example.com", PASSWORD).await;
        let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

        let body = app.graphql(Some(&here), change, json!({ "c": "wrong password!", "n": "a new passphrase" })).await;
        assert_eq!(code(&body), "INVALID_CREDENTIALS");
        let body = app.graphql(Some(&here), change, json!({ "c": PASSWORD, "n": "short" })).await;
        assert_eq!(code(&body), "BAD_USER_INPUT");
        assert!(app.graphql(Some(&elsewhere), "{ me { id } }", json!({})).await["data"]["me"].is_object(), "failed changes end nothing");

        let body = app.graphql(Some(&here), change, json!({ "c": PASSWORD, "n": "a new passphrase" })).await;
        assert_eq!(body["data"]["changePassword"], true, "{body}");
        assert!(app.graphql(Some(&here), "{ me { id } }", json!({})).await["data"]["me"].is_object(), "this session goes on");
        assert_eq!(code(&app.graphql(Some(&elsewhere), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        assert_eq!(code(&app.graphql(Some(&elsewhere_refresh), "mutation { refresh { accessToken } }", json!({})).await), "TOKEN_REVOKED");

        let login = "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { accessToken } }";
        assert_eq!(code(&app.graphql(None, login, json!({ "p": PASSWORD })).await), "INVALID_CREDENTIALS");
        assert!(app.graphql(None, login, json!({ "p": "a new passphrase" })).await["data"]["login"].is_object());
    }
}

backend_test! {
    async fn update_settings_renames_the_caller(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app.graphql(Some(&access), "mutation { updateSettings(name: \"Ana María\") { name email } }", json!({})).await;
        assert_eq!(body["data"]["updateSettings"], json!({ "name": "Ana María", "email": "ana@example.com" }), "{body}");
        assert_eq!(app.graphql(Some(&access), "{ greeting }", json!({})).await["data"]["greeting"], "Hello, Ana María");
        let body = app.graphql(Some(&access), "mutation { updateSettings(name: \"   \") { name } }", json!({})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT");
    }
}

backend_test! {
    async fn register_is_forbidden_unless_signup_is_on(backend) {
        let register = "mutation($p: String!) { register(email: \"new@example.com\", password: $p, name: \"New\") { accessToken refreshToken user { email roles } } }";
        let password = json!({ "p": PASSWORD });
        let off = spawn_app(backend).await;
        let body = off.graphql(None, register, password.clone()).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");

        let on = spawn_app_with(backend, &[("WARDEN_SIGNUP", "true")]).await;
        let body = on.graphql(None, register, password.clone()).await;
        assert_eq!(body["data"]["register"]["user"], json!({ "email": "new@example.com", "roles": [] }), "{body}");
        let access = body["data"]["register"]["accessToken"].as_str().expect("access");
        assert_eq!(payload(access)["fresh"], true);
        assert!(on.graphql(Some(access), "{ me { id } }", json!({})).await["data"]["me"].is_object());
        assert_eq!(code(&on.graphql(None, register, password.clone()).await), "BAD_USER_INPUT", "the email is taken now");
    }
}

backend_test! {
    async fn admin_and_editor_fields_return_database_figures(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &["read:sensitive"]).await;
        app.create_user("ed@example.com", &["editor"], &[]).await;
        let body = app.graphql(Some(&admin), "{ adminPanel report sensitiveData }", json!({})).await;
        assert_eq!(body["data"]["adminPanel"], "Admin panel: 2 users, 1 live sessions", "{body}");
        assert_eq!(body["data"]["report"], "Report: 1 logins in the last 24 hours");
        assert_eq!(
            body["data"]["sensitiveData"],
            json!([
                "admin@example.com: roles [admin], permissions [read:sensitive]",
                "ed@example.com: roles [editor], permissions []",
            ])
        );
    }
}

backend_test! {
    async fn messages_can_be_spanish_while_codes_stay(backend) {
        let path = format!("{}/examples/messages.es.toml", env!("CARGO_MANIFEST_DIR"));
        let app = spawn_app_with(backend, &[("WARDEN_MESSAGES", path.as_str())]).await;
        let body = app.graphql(None, "{ me { id } }", json!({})).await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
        assert_eq!(message(&body), "Falta el encabezado de autorización");
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app.graphql(Some(&access), "{ adminPanel }", json!({})).await;
        assert_eq!(code(&body), "FORBIDDEN");
        assert_eq!(message(&body), "Acceso denegado");
        assert_eq!(body["errors"][0]["extensions"]["required"], json!({ "roles": ["admin"] }));
    }
}
