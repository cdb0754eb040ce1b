//! The contract's token edge cases (sections 3, 6 and 7): Flask-JWT-Extended's defaults for
//! missing claims, `aud`/`iss` written but not verified, the 8 KiB bound, and pruning that
//! respects the leeway.

use jsonwebtoken::Algorithm;
use serde_json::json;
use warden::auth::revocation;

use crate::{
    backend_test,
    support::{
        TEST_KEY, code, flask_access_claims, forge, message, now, payload, spawn_app,
        spawn_app_with,
    },
};

const ME: &str = "{ me { id } }";

backend_test! {
    async fn a_token_without_type_counts_as_an_access_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let mut claims = flask_access_claims(&id.to_string());
        claims.as_object_mut().expect("object").remove("type");
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "{body}");
    }
}

backend_test! {
    async fn encode_audience_and_issuer_without_decode_twins_are_written_not_verified(backend) {
        let app = spawn_app_with(backend, &[("JWT_ENCODE_AUDIENCE", "frontend"), ("JWT_ENCODE_ISSUER", "warden")]).await;
        let (id, access, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        assert_eq!(payload(&access)["aud"], "frontend");
        assert_eq!(payload(&access)["iss"], "warden");
        let body = app.graphql(Some(&access), ME, json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "Warden accepts its own token: {body}");
        let body = app.graphql(Some(&refresh), "mutation { refresh { accessToken } }", json!({})).await;
        assert!(body["data"]["refresh"]["accessToken"].is_string(), "and its own refresh token: {body}");
        // As in Flask-JWT-Extended, another audience or issuer is not checked either.
        let mut claims = flask_access_claims(&id.to_string());
        claims["aud"] = json!("elsewhere");
        claims["iss"] = json!("someone-else");
        let body = app.graphql(Some(&forge(&claims, TEST_KEY, Algorithm::HS256)), ME, json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "{body}");
    }
}

backend_test! {
    async fn a_token_over_8_kib_is_invalid_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        // Correctly signed, for a real user: only its length is wrong.
        let mut claims = flask_access_claims(&id.to_string());
        claims["pad"] = json!("x".repeat(9 * 1024));
        let token = forge(&claims, TEST_KEY, Algorithm::HS256);
        assert!(token.len() > 8 * 1024);
        let body = app.graphql(Some(&token), ME, json!({})).await;
        assert_eq!(code(&body), "INVALID_TOKEN", "{body}");
        assert!(message(&body).starts_with("Invalid token"), "{body}");
        // Just under the bound still passes.
        claims["pad"] = json!("x".repeat(5 * 1024));
        let token = forge(&claims, TEST_KEY, Algorithm::HS256);
        assert!(token.len() < 8 * 1024);
        let body = app.graphql(Some(&token), ME, json!({})).await;
        assert_eq!(body["data"]["me"]["id"], id.to_string(), "{body}");
    }
}

backend_test! {
    async fn pruning_keeps_revocations_whose_token_is_still_inside_the_leeway(backend) {
        let app = spawn_app(backend).await;
        let expired_a_minute_ago = now() - 60;
        app.revoke_elsewhere("inside-leeway", expired_a_minute_ago).await;
        let db = app.db().await;
        let pruned = revocation::prune(&db, now(), 120).await.expect("pruned");
        assert_eq!(pruned, 0, "a token 60 s past exp is still accepted with a 120 s leeway");
        let pruned = revocation::prune(&db, now(), 30).await.expect("pruned");
        assert_eq!(pruned, 1, "past exp + leeway it can go");
        db.close().await.ok();
    }
}
