//! The event log and the in-memory state it feeds: ordering, grant versions, concurrent
//! changes, profile caches across instances, and the metrics endpoint.

use std::time::Duration;

use futures_util::future::join_all;
use sea_orm::{ConnectionTrait, EntityTrait, TransactionTrait};
use serde_json::{Value, json};
use warden::events::{Change, EventLog};

use crate::{
    backend_test,
    support::{code, now, payload, spawn_app, spawn_app_with},
};

const SET_ROLES: &str =
    "mutation($id: ID!, $r: [String!]!) { setUserRoles(userId: $id, roles: $r) { roles } }";
const SET_PERMISSIONS: &str = "mutation($id: ID!, $p: [String!]!) { setUserPermissions(userId: $id, permissions: $p) { permissions } }";

fn revoke(jti: &str) -> Vec<Change> {
    vec![Change::JtiRevoked {
        jti: jti.to_owned(),
        user_id: None,
        until: now() + 900,
    }]
}

backend_test! {
    async fn a_writer_that_got_a_later_id_cannot_commit_before_an_earlier_one(backend) {
        let app = spawn_app(backend).await;
        let (_, first, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let (_, second, _) = app.user_with_tokens("bob@example.com", &[], &[]).await;
        let first_jti = payload(&first)["jti"].as_str().expect("jti").to_owned();
        let second_jti = payload(&second)["jti"].as_str().expect("jti").to_owned();

        // Writer A appends an event and keeps its transaction open.
        let db_a = app.db().await;
        let txn_a = db_a.begin().await.expect("begin");
        let _a = EventLog::default().append(&txn_a, revoke(&first_jti)).await.expect("append a");
        // Writer B appends after it and tries to commit first.
        let db_b = app.db().await;
        let writer_b = tokio::spawn(async move {
            let txn_b = db_b.begin().await.expect("begin");
            let _b = EventLog::default().append(&txn_b, revoke(&second_jti)).await.expect("append b");
            txn_b.commit().await.expect("commit b");
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        // B could not commit past A: had it done so, a tailer would have moved beyond A's id.
        assert!(!writer_b.is_finished(), "B waits for A");
        assert!(app.graphql(Some(&second), "{ me { id } }", json!({})).await["data"]["me"].is_object());

        txn_a.commit().await.expect("commit a");
        writer_b.await.expect("writer b");
        // Both events reach the instance; neither was skipped.
        app.until_revoked(&first).await;
        app.until_revoked(&second).await;
        let rows = entity::auth_event::Entity::find().all(&db_a).await.expect("events");
        let ids: Vec<i64> = rows.iter().filter(|r| r.kind == "jti_revoked").map(|r| r.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids in commit order: {ids:?}");
    }
}

backend_test! {
    async fn a_grants_change_racing_logins_leaves_no_removed_role_in_any_token(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let ed_id = app.create_user("ed@example.com", &["editor"], &[]).await;
        // Logins and the removal of the role, at the same moment (the same second).
        let logins = (0..6).map(|_| app.login("ed@example.com", crate::support::PASSWORD));
        let removal = app.graphql(Some(&admin), SET_ROLES, json!({ "id": ed_id.to_string(), "r": [] }));
        let (tokens, removed) = tokio::join!(join_all(logins), removal);
        assert_eq!(removed["data"]["setUserRoles"]["roles"], json!([]), "{removed}");
        // Whatever grants a token carries, the removed role no longer opens `report`.
        for (access, _) in tokens {
            let carries_editor = payload(&access)["roles"] == json!(["editor"]);
            let body = app.graphql(Some(&access), "{ report }", json!({})).await;
            let expected = if carries_editor { "TOKEN_REVOKED" } else { "FORBIDDEN" };
            assert_eq!(code(&body), expected, "token {}: {body}", payload(&access));
        }
    }
}

backend_test! {
    async fn two_grant_changes_at_once_both_stick(backend) {
        let app = spawn_app(backend).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let ed_id = app.create_user("ed@example.com", &[], &[]).await;
        let b = app.another_instance().await;
        for round in 0..4 {
            let role = format!("role{round}");
            let permission = format!("perm:{round}");
            let (roles, permissions) = tokio::join!(
                app.graphql(Some(&admin), SET_ROLES, json!({ "id": ed_id.to_string(), "r": [role] })),
                b.graphql(Some(&admin), SET_PERMISSIONS, json!({ "id": ed_id.to_string(), "p": [permission] })),
            );
            assert!(roles["errors"].is_null(), "{roles}");
            assert!(permissions["errors"].is_null(), "{permissions}");
            let db = app.db().await;
            let user = entity::user::Entity::find_by_id(ed_id).one(&db).await.expect("read").expect("user");
            assert_eq!(user.grants_version, 2 * (round + 1), "every change bumps the version once");
            let grants = warden::users::load_grants(&db, ed_id).await.expect("grants");
            db.close().await.ok();
            assert_eq!(grants.roles, vec![role.clone()], "round {round}");
            assert_eq!(grants.permissions, vec![permission.clone()], "round {round}");
        }
    }
}

backend_test! {
    async fn a_profile_change_on_one_instance_reaches_the_others_cache(backend) {
        let a = spawn_app(backend).await;
        let b = a.another_instance().await;
        let (_, access, _) = a.user_with_tokens("ana@example.com", &[], &[]).await;
        let name = |body: &Value| body["data"]["me"]["name"].clone();
        assert_eq!(name(&b.graphql(Some(&access), "{ me { name } }", json!({})).await), "ana");
        let renamed = a.graphql(Some(&access), "mutation { updateSettings(name: \"Ana María\") { name } }", json!({})).await;
        assert_eq!(renamed["data"]["updateSettings"]["name"], "Ana María", "{renamed}");
        assert_eq!(name(&a.graphql(Some(&access), "{ me { name } }", json!({})).await), "Ana María");
        b.eventually(Some(&access), "{ me { name } }", |body| name(body) == "Ana María").await;
    }
}

backend_test! {
    async fn revocations_made_before_the_event_log_existed_still_bite(backend) {
        // The migration turns existing revocations into events; a restart loads them.
        let mut app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let db = app.db().await;
        let jti = payload(&access)["jti"].as_str().expect("jti").to_owned();
        warden::auth::revocation::revoke_jti(&db, &jti, now() + 900).await.expect("listed");
        db.execute_unprepared("DELETE FROM seaql_migrations WHERE version LIKE '%auth_events'").await.expect("forget");
        db.execute_unprepared("DROP TABLE auth_events").await.expect("drop");
        db.close().await.ok();
        app.restart().await;
        assert_eq!(code(&app.graphql(Some(&access), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

backend_test! {
    async fn metrics_are_served_as_the_contract_says(backend) {
        // Development: on the main listener, in Prometheus text format.
        let dev = spawn_app(backend).await;
        let (_, access, _) = dev.user_with_tokens("ana@example.com", &[], &[]).await;
        dev.graphql(Some(&access), "{ me { id } }", json!({})).await;
        dev.graphql(None, "{ adminPanel }", json!({})).await;
        let (status, text) = get(&format!("{}/metrics", dev.base)).await;
        assert_eq!(status, 200);
        for name in [
            "warden_graphql_requests_total{operation=\"query\"}",
            "warden_graphql_request_duration_seconds_bucket",
            "warden_logins_total{result=\"ok\"}",
            "warden_guard_denials_total{code=\"UNAUTHENTICATED\"}",
            "warden_cache_requests_total",
            "warden_event_feed_age_seconds",
        ] {
            assert!(text.contains(name), "{name} in /metrics:\n{text}");
        }

        // Production without WARDEN_METRICS_ADDR: not served.
        let production = spawn_app_with(backend, &[("WARDEN_ENV", "production")]).await;
        assert_eq!(get(&format!("{}/metrics", production.base)).await.0, 404);

        // With WARDEN_METRICS_ADDR: on that listener only.
        let own = spawn_app_with(backend, &[("WARDEN_ENV", "production"), ("WARDEN_METRICS_ADDR", "127.0.0.1:0")]).await;
        let metrics_base = own.metrics_base.clone().expect("metrics listener");
        assert_eq!(get(&format!("{}/metrics", own.base)).await.0, 404);
        let (status, text) = get(&format!("{metrics_base}/metrics")).await;
        assert_eq!(status, 200);
        assert!(text.contains("warden_"), "{text}");
    }
}
