//! Every way a token can fail, each with the contract's code.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::{
    backend_test,
    support::{
        PASSWORD, TEST_KEY, code, flask_access_claims, forge, message, now, spawn_app,
        spawn_app_with,
    },
};

const ME: &str = "{ me { id } }";

backend_test! {
    async fn no_token_on_me_is_unauthenticated(backend) {
        let app = spawn_app(backend).await;
        let body = app.graphql(None, ME, json!({})).await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
        assert_eq!(message(&body), "Missing Authorization Header");
        assert_eq!(body["data"], json!({ "me": null }), "the field is null, not missing");
        assert_eq!(body["errors"][0]["path"], json!(["me"]));
    }
}

backend_test! {
    async fn a_failed_guarded_field_is_null_at_its_path_and_its_siblings_resolve(backend) {
        let app = spawn_app(backend).await;
        let body = app.graphql(None, "{ me { id } greeting }", json!({})).await;
        assert_eq!(body["data"], json!({ "me": null, "greeting": "Hello, guest" }));
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(1));
        assert_eq!(body["errors"][0]["path"], json!(["me"]));
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
}

backend_test! {
    async fn expired_token_is_token_expired(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let mut claims = flask_access_claims(&id.to_string());
        claims["iat"] = json!(now() - 3600);
        claims["nbf"] = json!(now() - 3600);
        claims["exp"] = json!(now() - 60);
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(code(&body), "TOKEN_EXPIRED");
        assert_eq!(message(&body), "Token has expired");
    }
}

backend_test! {
    async fn leeway_lets_a_just_expired_token_through(backend) {
        let app = spawn_app_with(backend, &[("JWT_DECODE_LEEWAY", "2m")]).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let mut claims = flask_access_claims(&id.to_string());
        claims["exp"] = json!(now() - 60);
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "{body}");
    }
}

backend_test! {
    async fn bad_signature_is_invalid_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let token = forge(&flask_access_claims(&id.to_string()), "another-key-another-key-another-key!", Algorithm::HS256);
        let body = app.graphql(Some(&token), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN");
        assert!(message(&body).starts_with("Invalid token"), "{body}");
    }
}

backend_test! {
    async fn malformed_token_is_invalid_token(backend) {
        let app = spawn_app(backend).await;
        for token in ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.sig"] {
            let body = app.graphql(Some(token), ME, json!({})).await;
            assert_eq!(code(&body), "INVALID_TOKEN", "{token}: {body}");
        }
        // A header without the Bearer scheme is a bad token, not a missing one.
        let response = app.post(&json!({ "query": ME }), &[("Authorization", "Token abc")]).await;
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(code(&body), "INVALID_TOKEN", "{body}");
    }
}

backend_test! {
    async fn wrong_algorithm_and_alg_none_are_invalid_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let claims = flask_access_claims(&id.to_string());
        // Same key, another HMAC algorithm: the header must not choose.
        let hs512 = forge(&claims, TEST_KEY, Algorithm::HS512);
        let body = app.graphql(Some(&hs512), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "{body}");
        // alg: none with an empty signature.
        use base64::Engine;
        let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), b64(&claims));
        let body = app.graphql(Some(&none), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "{body}");
    }
}

backend_test! {
    async fn wrong_issuer_or_audience_is_invalid_token(backend) {
        let app = spawn_app_with(backend, &[
            ("JWT_ENCODE_ISSUER", "warden"),
            ("JWT_DECODE_ISSUER", "warden"),
            ("JWT_ENCODE_AUDIENCE", "frontend"),
            ("JWT_DECODE_AUDIENCE", "frontend,admin-ui"),
        ]).await;
        let (id, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        // Our own tokens carry iss and aud and pass.
        let body = app.graphql(Some(&access), ME, json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "{body}");

        let mut claims = flask_access_claims(&id.to_string());
        claims["aud"] = json!("frontend");
        claims["iss"] = json!("someone-else");
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "wrong iss: {body}");

        claims["iss"] = json!("warden");
        claims["aud"] = json!("elsewhere");
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "wrong aud: {body}");

        claims.as_object_mut().expect("object").remove("aud");
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "missing aud: {body}");

        claims["aud"] = json!(["admin-ui"]);
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "accepted aud: {body}");
    }
}

backend_test! {
    async fn nbf_ahead_is_invalid_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let mut claims = flask_access_claims(&id.to_string());
        claims["nbf"] = json!(now() + 600);
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "{body}");
    }
}

backend_test! {
    async fn non_string_sub_is_invalid_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let mut claims = flask_access_claims(&id.to_string());
        claims["sub"] = json!(id);
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "{body}");
    }
}

backend_test! {
    async fn refresh_token_on_me_is_wrong_token_type(backend) {
        let app = spawn_app(backend).await;
        let (_, _, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app.graphql(Some(&refresh), ME, json!({})).await;
        assert_eq!(code(&body), "WRONG_TOKEN_TYPE");
        assert_eq!(message(&body), "Only access tokens are allowed");
    }
}

backend_test! {
    async fn access_token_on_refresh_is_wrong_token_type(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app.graphql(Some(&access), "mutation { refresh { accessToken } }", json!({})).await;
        assert_eq!(code(&body), "WRONG_TOKEN_TYPE");
        assert_eq!(message(&body), "Only refresh tokens are allowed");
        assert_eq!(body["data"], serde_json::Value::Null, "a failed mutation has data: null");
    }
}

backend_test! {
    async fn refresh_token_on_logout_is_wrong_token_type(backend) {
        let app = spawn_app(backend).await;
        let (_, _, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app.graphql(Some(&refresh), "mutation { logout }", json!({})).await;
        assert_eq!(code(&body), "WRONG_TOKEN_TYPE");
    }
}

backend_test! {
    async fn logged_out_tokens_are_revoked_also_after_a_restart(backend) {
        let mut app = spawn_app(backend).await;
        let (_, access, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app.graphql(Some(&access), "mutation { logout }", json!({})).await;
        assert_eq!(body["data"]["logout"], true, "{body}");

        for round in ["before restart", "after restart"] {
            let body = app.graphql(Some(&access), ME, json!({})).await;
            assert_eq!(code(&body), "TOKEN_REVOKED", "access {round}: {body}");
            assert_eq!(message(&body), "Token has been revoked");
            let body = app.graphql(Some(&refresh), "mutation { refresh { accessToken } }", json!({})).await;
            assert_eq!(code(&body), "TOKEN_REVOKED", "refresh {round}: {body}");
            if round == "before restart" {
                app.restart().await;
            }
        }
    }
}

backend_test! {
    async fn wrong_password_and_unknown_email_are_the_same_invalid_credentials(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
        let wrong = app.graphql(None, login, json!({ "e": "ana@example.com", "p": "not the password" })).await;
        let unknown = app.graphql(None, login, json!({ "e": "nobody@example.com", "p": PASSWORD })).await;
        assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
        assert_eq!(code(&unknown), "INVALID_CREDENTIALS");
        assert_eq!(message(&wrong), "Invalid credentials");
        assert_eq!(message(&wrong), message(&unknown));
        assert_eq!(wrong["data"], serde_json::Value::Null);
    }
}

backend_test! {
    async fn reauth_with_a_wrong_password_is_invalid_credentials(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app
            .graphql(Some(&access), "mutation { reauth(password: \"nope nope nope\") { accessToken } }", json!({}))
            .await;
        assert_eq!(code(&body), "INVALID_CREDENTIALS");
    }
}

backend_test! {
    async fn a_bad_token_on_greeting_is_its_error_not_guest(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let body = app.graphql(None, "{ greeting }", json!({})).await;
        assert_eq!(body["data"]["greeting"], "Hello, guest");

        let body = app.graphql(Some("garbage"), "{ greeting }", json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN");
        assert_eq!(body["data"]["greeting"], serde_json::Value::Null);

        let mut claims = flask_access_claims(&id.to_string());
        claims["exp"] = json!(now() - 10);
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), "{ greeting }", json!({})).await;
        assert_eq!(code(&body), "TOKEN_EXPIRED");
    }
}

backend_test! {
    async fn a_bad_token_fails_guarded_fields_and_leaves_public_ones_alone(backend) {
        let app = spawn_app(backend).await;
        let (_, _, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        // A refresh token on `me` fails `me`; a login in the same request still runs.
        let body = app
            .graphql(Some(&refresh), "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { tokenType } }", json!({ "p": PASSWORD }))
            .await;
        assert_eq!(body["data"]["login"]["tokenType"], "Bearer", "{body}");
    }
}

backend_test! {
    async fn database_faults_are_service_unavailable_without_internals(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let db = app.db().await;
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("DROP TABLE revoked_tokens").await.expect("drop");
        db.execute_unprepared("DROP TABLE sessions").await.expect("drop");
        db.close().await.ok();

        // Guards need no database: a valid token still reads `me` (its profile is loaded from
        // the users table, which is there).
        assert!(app.graphql(Some(&access), ME, json!({})).await["data"]["me"].is_object());
        let login = app
            .graphql(None, "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { accessToken } }", json!({ "p": PASSWORD }))
            .await;
        assert_eq!(code(&login), "SERVICE_UNAVAILABLE", "{login}");
        assert_eq!(message(&login), "Service unavailable");
        let text = login.to_string().to_lowercase();
        for leak in ["sessions", "table", "sql", "relation"] {
            assert!(!text.contains(leak), "no internals ({leak}) in {login}");
        }
        // Public fields that need no database still answer.
        assert_eq!(app.graphql(None, "{ greeting }", json!({})).await["data"]["greeting"], "Hello, guest");
    }
}

backend_test! {
    async fn a_feed_broken_longer_than_the_lag_bound_fails_closed_and_recovers(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_REVOCATION_MAX_LAG", "300ms")]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let ready = || async { app.client.get(format!("{}/readyz", app.base)).send().await.expect("readyz").status().as_u16() };
        assert_eq!(ready().await, 200);
        let db = app.db().await;
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("ALTER TABLE auth_events RENAME TO auth_events_away").await.expect("rename");

        // The state cannot be confirmed: guarded fields refuse rather than trust it.
        let body = app.eventually(Some(&access), ME, |b| !b["errors"].is_null()).await;
        assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body}");
        assert_eq!(message(&body), "Service unavailable");
        assert_eq!(ready().await, 503);
        // A public field without a token still answers.
        assert_eq!(app.graphql(None, "{ greeting }", json!({})).await["data"]["greeting"], "Hello, guest");

        // The feed reads again: it recovers without a restart.
        db.execute_unprepared("ALTER TABLE auth_events_away RENAME TO auth_events").await.expect("rename back");
        db.close().await.ok();
        let body = app.eventually(Some(&access), ME, |b| b["errors"].is_null()).await;
        assert!(body["data"]["me"].is_object(), "{body}");
        assert_eq!(ready().await, 200);
    }
}

backend_test! {
    async fn too_many_wrong_passwords_are_rate_limited_with_retry_after(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        app.create_user("bob@example.com", &[], &[]).await;
        let login = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
        // WARDEN_LOGIN_LIMIT_ACCOUNT defaults to 10/15m.
        for _ in 0..10 {
            let body = app.graphql(None, login, json!({ "e": "ana@example.com", "p": "guess guess" })).await;
            assert_eq!(code(&body), "INVALID_CREDENTIALS");
        }
        // Now even the right password waits; the answer says how long.
        let body = app.graphql(None, login, json!({ "e": "ANA@example.com", "p": PASSWORD })).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        assert_eq!(message(&body), "Too many attempts");
        let retry_after = body["errors"][0]["extensions"]["retryAfter"].as_u64().expect("retryAfter");
        assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");
        // Other accounts are not affected.
        assert!(app.graphql(None, login, json!({ "e": "bob@example.com", "p": PASSWORD })).await["data"]["login"].is_object());
    }
}
