//! The auth mutations end to end: login → me → refresh → reauth → logout, rotation with
//! reuse detection, and tokens from a Flask-JWT-Extended app.

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::{
    backend_test,
    support::{
        PASSWORD, TEST_KEY, code, flask_access_claims, forge, now, payload, spawn_app,
        spawn_app_with,
    },
};

const REFRESH: &str =
    "mutation { refresh { accessToken refreshToken tokenType expiresIn user { id email } } }";

fn tokens(body: &Value, field: &str) -> (String, String) {
    let p = &body["data"][field];
    (
        p["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {body}"))
            .to_owned(),
        p["refreshToken"]
            .as_str()
            .unwrap_or_else(|| panic!("no refresh token: {body}"))
            .to_owned(),
    )
}

backend_test! {
    async fn login_returns_a_fresh_access_token_and_a_refresh_token_of_one_session(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &["editor"], &["read:sensitive"]).await;
        let body = app
            .graphql(None, "mutation($p: String!) { login(email: \"  ANA@example.com \", password: $p) { accessToken refreshToken tokenType expiresIn user { id email name roles permissions createdAt } } }", json!({ "p": PASSWORD }))
            .await;
        let login = &body["data"]["login"];
        assert_eq!(login["tokenType"], "Bearer");
        assert_eq!(login["expiresIn"], 900);
        assert_eq!(login["user"]["id"], id.to_string());
        assert_eq!(login["user"]["email"], "ana@example.com");
        assert_eq!(login["user"]["roles"], json!(["editor"]));
        assert_eq!(login["user"]["permissions"], json!(["read:sensitive"]));

        let (access, refresh) = tokens(&body, "login");
        let a = payload(&access);
        let r = payload(&refresh);
        assert_eq!(a["sub"], id.to_string());
        assert_eq!(a["type"], "access");
        assert_eq!(a["fresh"], true);
        assert_eq!(a["roles"], json!(["editor"]));
        assert_eq!(a["permissions"], json!(["read:sensitive"]));
        assert_eq!(r["type"], "refresh");
        assert_eq!(a["sid"], r["sid"]);
        assert_ne!(a["jti"], r["jti"]);
        for claim in ["iat", "nbf", "exp"] {
            assert!(a[claim].is_i64() && r[claim].is_i64(), "{claim}");
        }
        assert_eq!(a["exp"].as_i64().unwrap_or_default() - a["iat"].as_i64().unwrap_or_default(), 900);
    }
}

backend_test! {
    async fn the_walkthrough_login_me_refresh_reauth_logout(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let (access, refresh) = app.login("ana@example.com", PASSWORD).await;

        let body = app.graphql(Some(&access), "{ me { id email name } greeting }", json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "{body}");
        assert_eq!(body["data"]["me"]["email"], "ana@example.com");
        assert_eq!(body["data"]["greeting"], "Hello, ana");

        let body = app.graphql(Some(&refresh), REFRESH, json!({})).await;
        let (access2, refresh2) = tokens(&body, "refresh");
        assert_eq!(payload(&access2)["fresh"], false, "a refreshed access token is not fresh");
        assert_eq!(payload(&access2)["sid"], payload(&access)["sid"]);
        assert_ne!(payload(&refresh2)["jti"], payload(&refresh)["jti"], "the refresh token rotates");
        assert_eq!(body["data"]["refresh"]["user"]["email"], "ana@example.com");

        let body = app
            .graphql(Some(&access2), "mutation($p: String!) { reauth(password: $p) { accessToken refreshToken } }", json!({ "p": PASSWORD }))
            .await;
        let access3 = body["data"]["reauth"]["accessToken"].as_str().expect("access").to_owned();
        assert_eq!(body["data"]["reauth"]["refreshToken"], Value::Null, "reauth hands out no refresh token");
        assert_eq!(payload(&access3)["fresh"], true);
        assert_eq!(payload(&access3)["sid"], payload(&access)["sid"], "reauth stays in the session");

        let body = app.graphql(Some(&access3), "mutation { logout }", json!({})).await;
        assert_eq!(body["data"]["logout"], true);
        for token in [&access, &access2, &access3] {
            assert_eq!(code(&app.graphql(Some(token), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        }
        assert_eq!(code(&app.graphql(Some(&refresh2), REFRESH, json!({})).await), "TOKEN_REVOKED");
    }
}

backend_test! {
    async fn a_retired_refresh_token_within_the_grace_window_gets_the_same_successor(backend) {
        let app = spawn_app(backend).await;
        let (_, _, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let first = app.graphql(Some(&refresh), REFRESH, json!({})).await;
        let second = app.graphql(Some(&refresh), REFRESH, json!({})).await;
        let (_, successor1) = tokens(&first, "refresh");
        let (access2, successor2) = tokens(&second, "refresh");
        assert_eq!(payload(&successor1)["jti"], payload(&successor2)["jti"]);
        assert_eq!(successor1, successor2);
        // The session lives on: the successor rotates normally.
        let third = app.graphql(Some(&successor2), REFRESH, json!({})).await;
        tokens(&third, "refresh");
        assert!(app.graphql(Some(&access2), "{ me { id } }", json!({})).await["data"]["me"].is_object());
    }
}

backend_test! {
    async fn a_retired_refresh_token_after_the_grace_window_revokes_the_whole_session(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_REFRESH_REUSE_GRACE", "0")]).await;
        let (_, access, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let body = app.graphql(Some(&refresh), REFRESH, json!({})).await;
        let (access2, refresh2) = tokens(&body, "refresh");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;

        let replay = app.graphql(Some(&refresh), REFRESH, json!({})).await;
        assert_eq!(code(&replay), "TOKEN_REVOKED", "{replay}");
        // Everything of that session is dead now, including the legitimate successor.
        assert_eq!(code(&app.graphql(Some(&refresh2), REFRESH, json!({})).await), "TOKEN_REVOKED");
        for token in [&access, &access2] {
            assert_eq!(code(&app.graphql(Some(token), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        }
    }
}

backend_test! {
    async fn logout_ends_only_its_own_session_and_everywhere_ends_all(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let (laptop, _) = app.login("ana@example.com", PASSWORD).await;
        let (phone, phone_refresh) = app.login("ana@example.com", PASSWORD).await;
        let (tablet, tablet_refresh) = app.login("ana@example.com", PASSWORD).await;

        app.graphql(Some(&laptop), "mutation { logout }", json!({})).await;
        assert_eq!(code(&app.graphql(Some(&laptop), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        assert!(app.graphql(Some(&phone), "{ me { id } }", json!({})).await["data"]["me"].is_object());

        let body = app.graphql(Some(&phone), "mutation { logout(everywhere: true) }", json!({})).await;
        assert_eq!(body["data"]["logout"], true);
        for token in [&phone, &tablet] {
            assert_eq!(code(&app.graphql(Some(token), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        }
        for token in [&phone_refresh, &tablet_refresh] {
            assert_eq!(code(&app.graphql(Some(token), REFRESH, json!({})).await), "TOKEN_REVOKED");
        }
    }
}

backend_test! {
    async fn a_flask_jwt_extended_access_token_is_accepted_and_revocable_by_jti(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        // No sid, no roles, extra claims: what a Flask app sharing the key would mint.
        let mut claims = flask_access_claims(&id.to_string());
        claims["csrf"] = json!("d2f5e1a0");
        claims["custom"] = json!({ "anything": true });
        let token = forge(&claims, TEST_KEY, Algorithm::HS256);
        let body = app.graphql(Some(&token), "{ me { id } greeting }", json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "{body}");
        assert_eq!(body["data"]["greeting"], "Hello, ana");

        // Without `type` it counts as an access token.
        claims.as_object_mut().expect("object").remove("type");
        claims["jti"] = json!(uuid::Uuid::new_v4().to_string());
        let untyped = forge(&claims, TEST_KEY, Algorithm::HS256);
        assert!(app.graphql(Some(&untyped), "{ me { id } }", json!({})).await["data"]["me"].is_object());

        assert_eq!(app.graphql(Some(&token), "mutation { logout }", json!({})).await["data"]["logout"], true);
        assert_eq!(code(&app.graphql(Some(&token), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        // Another token of the same user is untouched (no session to end).
        assert!(app.graphql(Some(&untyped), "{ me { id } }", json!({})).await["data"]["me"].is_object());
    }
}

backend_test! {
    async fn a_flask_refresh_token_is_accepted_once_and_continues_in_a_session(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let now = now();
        let claims = json!({
            "iat": now, "nbf": now, "exp": now + 3600, "sub": id.to_string(),
            "jti": uuid::Uuid::new_v4().to_string(), "type": "refresh",
        });
        let token = forge(&claims, TEST_KEY, Algorithm::HS256);
        let body = app.graphql(Some(&token), REFRESH, json!({})).await;
        let (access, refresh) = tokens(&body, "refresh");
        assert!(payload(&access)["sid"].is_string());
        assert_eq!(payload(&access)["sid"], payload(&refresh)["sid"]);
        assert_eq!(code(&app.graphql(Some(&token), REFRESH, json!({})).await), "TOKEN_REVOKED");
    }
}

backend_test! {
    async fn tokens_we_mint_verify_with_the_shared_key_as_flask_would(backend) {
        let app = spawn_app(backend).await;
        let (id, access, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        // PyJWT's check, done here with an independent decoder: HS256, the shared key, exp.
        let mut validation = jsonwebtoken::Validation::new(Algorithm::HS256);
        validation.validate_nbf = true;
        for token in [&access, &refresh] {
            let data = jsonwebtoken::decode::<Value>(
                token,
                &jsonwebtoken::DecodingKey::from_secret(TEST_KEY.as_bytes()).expect("key"),
                &validation,
            )
            .expect("verifies with the shared key");
            assert_eq!(data.claims["sub"], id.to_string());
            assert!(data.claims["jti"].as_str().is_some_and(|j| uuid::Uuid::parse_str(j).is_ok()));
        }
    }
}

backend_test! {
    async fn the_bootstrap_admin_is_created_once_with_role_admin(backend) {
        let mut app = spawn_app_with(backend, &[
            ("WARDEN_ADMIN_EMAIL", "Root@Example.com"),
            ("WARDEN_ADMIN_PASSWORD", "bootstrap-password"),
        ]).await;
        app.restart().await; // a second start must not fail or duplicate
        let (access, _) = app.login("root@example.com", "bootstrap-password").await;
        assert_eq!(payload(&access)["roles"], json!(["admin"]));
    }
}
