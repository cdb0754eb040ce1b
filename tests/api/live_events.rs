//! `sessionEvents` over WebSocket: authentication in `connection_init`, events pushed from
//! this and other instances, close codes, bounds and cleanup.

use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::{
    backend_test,
    support::{TEST_KEY, forge, now, payload, spawn_app, spawn_app_with, ws_open},
};

const CLOSE_UNAUTHENTICATED: Option<u16> = Some(4401);

backend_test! {
    async fn a_logout_elsewhere_is_pushed_as_signed_out_then_the_socket_closes_4401(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let sid = payload(&access)["sid"].clone();
        let mut ws = app.subscribe(&access).await;
        // Another tab of the same session logs out.
        assert_eq!(app.graphql(Some(&access), "mutation { logout }", json!({})).await["data"]["logout"], true);
        let event = ws.next_session_event().await;
        assert_eq!(event["kind"], "SIGNED_OUT", "{event}");
        assert_eq!(event["sessionId"], sid);
        assert_eq!(ws.expect_complete_and_close().await, CLOSE_UNAUTHENTICATED);
    }
}

backend_test! {
    async fn events_from_another_instance_reach_subscribers_within_the_lag_bound(backend) {
        let a = spawn_app(backend).await;
        let b = a.another_instance().await;
        let (_, access, _) = a.user_with_tokens("ana@example.com", &[], &[]).await;
        let mut ws = b.subscribe(&access).await;
        // Subscribed when the server has seen the subscribe message: give it a moment.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        assert_eq!(a.graphql(Some(&access), "mutation { logout }", json!({})).await["data"]["logout"], true);
        let event = ws.next_session_event().await;
        let delay = started.elapsed();
        println!("cross-instance live event delay ({backend:?}): {delay:?}");
        assert_eq!(event["kind"], "SIGNED_OUT", "{event}");
        assert!(delay <= Duration::from_secs(1), "within WARDEN_REVOCATION_MAX_LAG: {delay:?}");
        assert_eq!(ws.expect_complete_and_close().await, CLOSE_UNAUTHENTICATED);
    }
}

backend_test! {
    async fn a_grants_change_is_pushed_with_the_grants_now_held(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let (ed_id, ed, _) = app.user_with_tokens("ed@example.com", &["editor"], &["read:sensitive"]).await;
        let mut ws = app.subscribe(&ed).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let change = "mutation($id: ID!) { setUserRoles(userId: $id, roles: [\"viewer\"]) { id } }";
        let body = app.graphql(Some(&admin), change, json!({ "id": ed_id.to_string() })).await;
        assert!(body["errors"].is_null(), "{body}");
        let event = ws.next_session_event().await;
        assert_eq!(event["kind"], "GRANTS_CHANGED", "{event}");
        assert_eq!(event["roles"], json!(["viewer"]));
        assert_eq!(event["permissions"], json!(["read:sensitive"]));
        // The connection stays open: the client refreshes and carries on.
        ws.close().await;
    }
}

backend_test! {
    async fn connection_init_without_a_valid_access_token_closes_4401(backend) {
        let app = spawn_app(backend).await;
        let (_, _, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        for payload in [
            json!({}),
            json!({ "Authorization": "Bearer not-a-token" }),
            json!({ "Authorization": format!("Bearer {refresh}") }),
        ] {
            let mut ws = app.ws_connect(&[], payload.clone()).await;
            assert_eq!(ws.expect_close().await, CLOSE_UNAUTHENTICATED, "{payload}");
        }
        assert_eq!(app.open_connections(), 0);
    }
}

backend_test! {
    async fn no_socket_outlives_its_token(backend) {
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        // A token with three seconds to live: the warning comes at once, the close at expiry.
        let issued = now();
        let claims = json!({
            "sub": id.to_string(), "iat": issued, "nbf": issued, "exp": issued + 3,
            "jti": uuid::Uuid::new_v4().to_string(), "type": "access", "fresh": false,
        });
        let token = forge(&claims, TEST_KEY, Algorithm::HS256);
        let mut ws = app.subscribe(&token).await;
        let event = ws.next_session_event().await;
        assert_eq!(event["kind"], "ACCESS_TOKEN_EXPIRING", "{event}");
        assert!(event["expiresAt"].is_string(), "{event}");
        let started = Instant::now();
        assert_eq!(ws.expect_complete_and_close().await, CLOSE_UNAUTHENTICATED);
        assert!(started.elapsed() <= Duration::from_secs(5));

        // Without a subscription, the connection still closes at expiry.
        let issued = now();
        let claims = json!({
            "sub": id.to_string(), "iat": issued, "nbf": issued, "exp": issued + 2,
            "jti": uuid::Uuid::new_v4().to_string(), "type": "access",
        });
        let token = forge(&claims, TEST_KEY, Algorithm::HS256);
        let mut ws = app.ws_connect(&[], json!({ "Authorization": format!("Bearer {token}") })).await;
        assert_eq!(ws.next().await["type"], "connection_ack");
        assert_eq!(ws.expect_close().await, CLOSE_UNAUTHENTICATED);
    }
}

backend_test! {
    async fn connections_are_bounded_per_user_and_closed_sockets_free_everything(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let mut open = Vec::new();
        for _ in 0..16 {
            open.push(app.subscribe(&access).await);
        }
        assert_eq!(app.open_connections(), 16);
        let mut one_too_many = app.ws_connect(&[], json!({ "Authorization": format!("Bearer {access}") })).await;
        // 4429, not 4401: a client that refreshes its token on 4401 would loop.
        assert_eq!(one_too_many.expect_close().await, Some(4429));
        for ws in open {
            ws.close().await;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while app.open_connections() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(app.open_connections(), 0, "every slot freed");
    }
}

backend_test! {
    async fn a_cookie_authenticated_upgrade_from_a_foreign_origin_is_refused(backend) {
        let app = spawn_app_with(backend, &[
            ("JWT_TOKEN_LOCATION", "cookies"),
            ("WARDEN_CORS_ORIGINS", "http://app.example"),
        ]).await;
        let cookie = "access_token_cookie=whatever";
        let evil = ws_open(&app.base, &[("cookie", cookie), ("origin", "http://evil.example")]).await;
        let status = match evil {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
            other => panic!("expected a refused upgrade, got {:?}", other.map(|_| ())),
        };
        assert_eq!(status, 403);
        // The allowed origin gets its socket (and then needs a valid cookie and CSRF value).
        let allowed = ws_open(&app.base, &[("cookie", cookie), ("origin", "http://app.example")]).await;
        assert!(allowed.is_ok(), "allowed origin upgrades");
    }
}
