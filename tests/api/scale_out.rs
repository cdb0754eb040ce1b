//! Several instances on one database, and concurrent requests on one session.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{
    backend_test,
    support::{code, payload, spawn_app},
};

const REFRESH: &str = "mutation { refresh { accessToken refreshToken } }";

backend_test! {
    async fn a_logout_on_one_instance_bites_on_another_within_the_lag_bound(backend) {
        let a = spawn_app(backend).await;
        let b = a.another_instance().await;
        let (_, access, refresh) = a.user_with_tokens("ana@example.com", &[], &[]).await;
        assert!(b.graphql(Some(&access), "{ me { id } }", json!({})).await["data"]["me"].is_object());
        assert_eq!(a.graphql(Some(&access), "mutation { logout }", json!({})).await["data"]["logout"], true);
        let started = Instant::now();
        // The logging-out instance refuses at once; the other within WARDEN_REVOCATION_MAX_LAG.
        assert_eq!(code(&a.graphql(Some(&access), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        b.until_revoked(&access).await;
        let delay = started.elapsed();
        println!("cross-instance revocation delay ({backend:?}): {delay:?}");
        assert!(delay <= Duration::from_secs(1), "within the 1 s default bound: {delay:?}");
        assert_eq!(code(&b.graphql(Some(&refresh), REFRESH, json!({})).await), "TOKEN_REVOKED");
    }
}

backend_test! {
    async fn concurrent_refreshes_with_one_token_get_the_same_successor(backend) {
        let a = spawn_app(backend).await;
        let b = a.another_instance().await;
        let (_, _, refresh) = a.user_with_tokens("ana@example.com", &[], &[]).await;
        // Two tabs, two instances, one refresh token, at the same moment.
        let (first, second) = tokio::join!(
            a.graphql(Some(&refresh), REFRESH, json!({})),
            b.graphql(Some(&refresh), REFRESH, json!({})),
        );
        let successor = |body: &serde_json::Value| {
            let token = body["data"]["refresh"]["refreshToken"].as_str().unwrap_or_else(|| panic!("refreshed: {body}"));
            payload(token)["jti"].clone()
        };
        assert_eq!(successor(&first), successor(&second));
    }
}

backend_test! {
    async fn a_grants_change_on_one_instance_bites_on_another(backend) {
        let a = spawn_app(backend).await;
        let b = a.another_instance().await;
        let (_, admin, _) = a.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let (ed_id, ed, _) = a.user_with_tokens("ed@example.com", &["editor"], &[]).await;
        assert!(b.graphql(Some(&ed), "{ report }", json!({})).await["data"]["report"].is_string());
        let body = a
            .graphql(Some(&admin), "mutation($id: ID!) { setUserRoles(userId: $id, roles: []) { roles } }", json!({ "id": ed_id.to_string() }))
            .await;
        assert_eq!(body["data"]["setUserRoles"]["roles"], json!([]), "{body}");
        let body = b.eventually(Some(&ed), "{ report }", |b| !b["errors"].is_null()).await;
        assert_eq!(code(&body), "TOKEN_REVOKED", "{body}");
        // b learnt the new grants from the change's event: judging needs no statement.
        let before = b.statements_so_far();
        assert_eq!(code(&b.graphql(Some(&ed), "{ report }", json!({})).await), "TOKEN_REVOKED");
        assert_eq!(b.statements_so_far() - before, 0);
    }
}

backend_test! {
    async fn a_copy_retired_several_rotations_ago_gets_the_current_token_within_the_grace(backend) {
        let app = crate::support::spawn_app_with(backend, &[("WARDEN_REFRESH_REUSE_GRACE", "2s")]).await;
        let (_, _, first) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let refresh = |token: String| {
            let app = &app;
            async move {
                let body = app.graphql(Some(&token), REFRESH, json!({})).await;
                body["data"]["refresh"]["refreshToken"].as_str().map(str::to_owned).ok_or(body)
            }
        };
        // Tab A refreshes twice in a row; tabs B and C still hold the first token.
        let second = refresh(first.clone()).await.expect("rotated once");
        let third = refresh(second.clone()).await.expect("rotated twice");
        let (b, c) = tokio::join!(refresh(first.clone()), refresh(second.clone()));
        for copy in [b.expect("tab B keeps the session"), c.expect("tab C keeps the session")] {
            assert_eq!(payload(&copy)["jti"], payload(&third)["jti"], "the session's current token");
        }
        // The session lives on: the current token rotates as usual.
        let fourth = refresh(third).await.expect("still signed in");
        // Past the grace window, a retired copy is a replay and ends the session.
        tokio::time::sleep(Duration::from_millis(2_300)).await;
        let replay = refresh(first).await.expect_err("a replay");
        assert_eq!(code(&replay), "TOKEN_REVOKED");
        assert_eq!(code(&refresh(fourth).await.expect_err("session ended")), "TOKEN_REVOKED");
    }
}
