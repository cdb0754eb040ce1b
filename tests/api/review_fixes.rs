//! The review's findings on the event feed, refresh and the login limits, each run as the
//! attacker (or the rolling upgrade) ran it: unknown event kinds, an event row that cannot be
//! read, a refresh token minted elsewhere for a disabled account, and password guesses spread
//! over two instances sharing one database.

use std::time::{Duration, Instant};

use entity::auth_event;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, EntityTrait, Set};
use serde_json::{Value, json};
use warden::{
    config::{Argon2Params, LoginConfig},
    password::Passwords,
    testing::{TestClaims, new_user},
    users,
};

use crate::{
    backend_test,
    support::{PASSWORD, TestApp, code, now, payload, spawn_app, spawn_app_with},
};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
const REFRESH: &str = "mutation { refresh { accessToken refreshToken } }";
const REAUTH: &str = "mutation($p: String!) { reauth(password: $p) { accessToken } }";
const CHANGE_PASSWORD: &str = "mutation($p: String!) { changePassword(currentPassword: $p, newPassword: \"a brand new passphrase\") }";
const REGISTER: &str = "mutation($e: String!) { register(email: $e, password: \"a long enough passphrase\", name: \"New\") { accessToken } }";
const DISABLE: &str =
    "mutation($id: ID!, $d: Boolean!) { setUserDisabled(userId: $id, disabled: $d) { disabled } }";

/// GETs a path of the app; returns the status and the body.
async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("text"))
}

/// The value of an unlabelled counter in `/metrics` (0 before it is first recorded).
async fn counter(app: &TestApp, name: &str) -> u64 {
    let (status, text) = get(app, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .map_or(0, |value| value.trim().parse().expect("a whole number"))
}

/// Waits (at most 5 s) until `/readyz` answers `status`.
async fn until_ready_is(app: &TestApp, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (now, body) = get(app, "/readyz").await;
        if now == status {
            return;
        }
        assert!(Instant::now() < deadline, "/readyz still {now} {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Inserts `n` event rows of a kind no version of Warden writes yet, in one statement.
async fn insert_unknown_kind(app: &TestApp, n: usize) {
    let expires = now() + 3600;
    let rows = vec![format!("('future_kind', 7, '{{\"shape\": \"new\"}}', {expires}, 0)"); n];
    let db = app.db().await;
    db.execute_unprepared(&format!(
        "INSERT INTO auth_events (kind, user_id, payload, expires_at, created_at_ms) VALUES {}",
        rows.join(", ")
    ))
    .await
    .expect("rows of an unknown kind");
    db.close().await.ok();
}

backend_test! {
    async fn a_thousand_events_of_an_unknown_kind_are_skipped_counted_and_later_revocations_still_bite(backend) {
        let mut app = spawn_app(backend).await;
        let (_, first, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let (_, second, _) = app.user_with_tokens("bob@example.com", &[], &[]).await;
        let before = counter(&app, "warden_event_feed_unknown_total").await;

        // A newer version, during a rolling upgrade, writes a thousand events of its own kind.
        insert_unknown_kind(&app, 1000).await;
        app.revoke_elsewhere(payload(&first)["jti"].as_str().expect("jti"), now() + 900).await;
        app.until_revoked(&first).await;
        let (status, _) = get(&app, "/readyz").await;
        assert_eq!(status, 200, "skipping is not stalling");
        let counted = counter(&app, "warden_event_feed_unknown_total").await;
        assert!(counted >= before + 1000, "the skipped rows are counted: {before} → {counted}");

        // At start, the same rows are skipped: the instance starts ready and later
        // revocations still bite.
        app.restart().await;
        until_ready_is(&app, 200).await;
        assert_eq!(code(&app.graphql(Some(&first), "{ me { id } }", json!({})).await), "TOKEN_REVOKED");
        assert!(app.graphql(Some(&second), "{ me { id } }", json!({})).await["data"]["me"].is_object());
        insert_unknown_kind(&app, 1000).await;
        app.revoke_elsewhere(payload(&second)["jti"].as_str().expect("jti"), now() + 900).await;
        app.until_revoked(&second).await;
    }
}

/// Writes a grants change whose payload does not decode; returns its id.
async fn insert_unreadable_event(app: &TestApp, user_id: i64) -> i64 {
    let db = app.db().await;
    let id = auth_event::Entity::insert(auth_event::ActiveModel {
        id: NotSet,
        kind: Set("grants_changed".to_owned()),
        user_id: Set(Some(user_id)),
        session_id: Set(None),
        jti: Set(None),
        grants_version: Set(Some(99)),
        payload: Set(Some("{\"roles\": [\"admin\"".to_owned())),
        expires_at: Set(now() + 3600),
        created_at_ms: Set(0),
    })
    .exec(&db)
    .await
    .expect("inserted")
    .last_insert_id;
    db.close().await.ok();
    id
}

/// What an operator does: the row gets a payload that reads.
async fn fix_event(app: &TestApp, id: i64) {
    let db = app.db().await;
    db.execute_unprepared(&format!(
        "UPDATE auth_events SET payload = '{{\"roles\": [], \"permissions\": []}}' WHERE id = {id}"
    ))
    .await
    .expect("fixed");
    db.close().await.ok();
}

backend_test! {
    async fn an_event_that_cannot_be_read_fails_closed_until_it_is_fixed(backend) {
        let mut app = spawn_app_with(backend, &[("WARDEN_REVOCATION_MAX_LAG", "200ms")]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let (_, later, _) = app.user_with_tokens("bob@example.com", &[], &[]).await;
        let nobody = 1_000_000;
        let me = "{ me { id } }";
        until_ready_is(&app, 200).await;

        let bad = insert_unreadable_event(&app, nobody).await;
        // A revocation after the bad row: it must not be skipped, nor the bad row with it.
        app.revoke_elsewhere(payload(&later)["jti"].as_str().expect("jti"), now() + 900).await;
        let body = app.eventually(Some(&access), me, |b| !b["errors"].is_null()).await;
        assert_eq!(code(&body), "SERVICE_UNAVAILABLE", "{body}");
        assert_eq!(code(&app.graphql(Some(&later), me, json!({})).await), "SERVICE_UNAVAILABLE");
        until_ready_is(&app, 503).await;
        // Public fields still answer.
        assert!(app.graphql(None, "{ greeting }", json!({})).await["data"]["greeting"].is_string());

        // A restart does not read past it either: the instance starts, unready.
        app.restart().await;
        until_ready_is(&app, 503).await;
        assert_eq!(code(&app.graphql(Some(&access), me, json!({})).await), "SERVICE_UNAVAILABLE");

        fix_event(&app, bad).await;
        until_ready_is(&app, 200).await;
        app.eventually(Some(&access), me, |b| b["data"]["me"].is_object()).await;
        // The revocation written after the bad row was applied once it was read.
        assert_eq!(code(&app.graphql(Some(&later), me, json!({})).await), "TOKEN_REVOKED");
    }
}

backend_test! {
    async fn an_event_that_cannot_be_read_while_serving_recovers_without_a_restart(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_REVOCATION_MAX_LAG", "200ms")]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let bad = insert_unreadable_event(&app, 1_000_000).await;
        until_ready_is(&app, 503).await;
        fix_event(&app, bad).await;
        until_ready_is(&app, 200).await;
        assert!(app.graphql(Some(&access), "{ me { id } }", json!({})).await["data"]["me"].is_object());
    }
}

backend_test! {
    async fn a_disabled_accounts_refresh_token_minted_elsewhere_is_refused_long_after_the_disable(backend) {
        // Lifetimes of a second: what this instance must remember of the disable ends at once.
        let a = spawn_app_with(backend, &[
            ("JWT_ACCESS_TOKEN_EXPIRES", "1"),
            ("JWT_REFRESH_TOKEN_EXPIRES", "1"),
        ]).await;
        let admin_id = a.create_user("admin@example.com", &["admin"], &["users:read"]).await;
        let ana_id = a.create_user("ana@example.com", &[], &[]).await;
        assert!(admin_id != ana_id);
        let set_disabled = |disabled: bool| {
            let a = &a;
            async move {
                let (admin, _) = a.login("admin@example.com", PASSWORD).await;
                let body = a.graphql(Some(&admin), DISABLE, json!({ "id": ana_id.to_string(), "d": disabled })).await;
                assert_eq!(body["data"]["setUserDisabled"]["disabled"], disabled, "{body}");
            }
        };
        // What a Flask app sharing the key mints: no session, its own lifetime.
        let flask_refresh = || TestClaims::refresh(ana_id).expires_at(now() + 3600).sign();
        let flask_access = || TestClaims::access(ana_id).expires_at(now() + 3600).sign();

        set_disabled(true).await;
        // Past every lifetime; the hourly pruning has deleted the disable's event.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        let db = a.db().await;
        assert!(warden::events::prune(&db, now()).await.expect("pruned") > 0);
        db.close().await.ok();
        let b = a.another_instance().await;

        for app in [&a, &b] {
            let body = app.graphql(Some(&flask_refresh()), REFRESH, json!({})).await;
            assert_eq!(code(&body), "TOKEN_REVOKED", "{body}");
            let body = app.graphql(Some(&flask_access()), "{ me { id } }", json!({})).await;
            assert_eq!(code(&body), "TOKEN_REVOKED", "{body}");
        }

        // The refusal is the account's state, not the tokens'.
        set_disabled(false).await;
        let body = a.graphql(Some(&flask_refresh()), REFRESH, json!({})).await;
        assert!(body["data"]["refresh"]["accessToken"].is_string(), "{body}");
        let body = b.eventually(Some(&flask_access()), "{ me { id } }", |b| b["data"]["me"].is_object()).await;
        assert_eq!(body["data"]["me"]["id"], ana_id.to_string());
    }
}

/// Creates an account whose stored hash takes long to check (many argon2 iterations): a
/// wrong password for it holds an instance's only hashing slot for a while: long enough for
/// the other instance's guesses (about 0.7 s quiet, against their 0.5 s), short enough that the request waiting
/// for the slot stays well inside the 5 s hashing-queue timeout on a loaded machine.
async fn slow_account(app: &TestApp, email: &str) {
    let costly = LoginConfig {
        argon2: Argon2Params {
            iterations: 60,
            ..Argon2Params::default()
        },
        ..LoginConfig::default()
    };
    let db = app.db().await;
    users::create(&db, &Passwords::new(&costly), new_user(email, &[], &[]))
        .await
        .expect("slow account");
    db.close().await.ok();
}

/// One run of the race the review ran, for `operation` (reauth or changePassword): instance a
/// checks the right password, having read the account's count before instance b recorded the
/// limit's worth of wrong guesses. `None` when the machine was too loaded to set the race up
/// (the right password's request waited past the 5 s hashing queue before anything happened).
async fn cross_instance_race(backend: crate::support::Backend, operation: &str) -> Option<()> {
    let a = spawn_app_with(
        backend,
        &[
            ("WARDEN_LOGIN_LIMIT_ACCOUNT", "3/15m"),
            ("WARDEN_HASH_CONCURRENCY", "1"),
        ],
    )
    .await;
    let b = a.another_instance().await;
    let (_, access, _) = a.user_with_tokens("ana@example.com", &[], &[]).await;
    slow_account(&a, "slow@example.com").await;
    let started = Instant::now();
    // Holds a's only hashing slot.
    let hold = a.graphql(
        None,
        LOGIN,
        json!({ "e": "slow@example.com", "p": "not this one" }),
    );
    // The right password on a: it reads the account's count (no failures yet), then waits for
    // the slot.
    let right = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let body = a
            .graphql(Some(&access), operation, json!({ "p": PASSWORD }))
            .await;
        (body, started.elapsed())
    };
    // Meanwhile, the limit's worth of wrong guesses on b, each told wrong.
    let guesses = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut codes = Vec::new();
        for i in 0..3 {
            let body = b
                .graphql(
                    Some(&access),
                    operation,
                    json!({ "p": format!("wrong guess {i}") }),
                )
                .await;
            codes.push(code(&body).to_owned());
        }
        (codes, started.elapsed())
    };
    let (held, (right, right_at), (codes, guessed_at)) = tokio::join!(hold, right, guesses);
    println!(
        "{backend:?}: guesses done at {guessed_at:?}, right password answered at {right_at:?}"
    );
    if code(&right) == "SERVICE_UNAVAILABLE" {
        return None;
    }
    assert_eq!(code(&held), "INVALID_CREDENTIALS", "{held}");
    assert_eq!(codes, ["INVALID_CREDENTIALS"; 3]);
    assert!(
        guessed_at < right_at,
        "the race as the review ran it: the guesses were recorded while the right password waited"
    );
    // The limit was reached before the right password's check finished: refused.
    assert_eq!(code(&right), "RATE_LIMITED", "{operation}: {right}");
    // And on either instance from now on.
    for app in [&a, &b] {
        let body = app
            .graphql(Some(&access), operation, json!({ "p": PASSWORD }))
            .await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    }
    Some(())
}

backend_test! {
    async fn reauth_and_change_password_guesses_spread_over_two_instances_hit_the_account_limit(backend) {
        for operation in [REAUTH, CHANGE_PASSWORD] {
            // A machine busy enough to keep the slow hash past the hashing queue's 5 s could
            // not set the race up; the run is repeated then, never passed.
            let ran = async {
                for _ in 0..5 {
                    if cross_instance_race(backend, operation).await.is_some() {
                        return true;
                    }
                }
                false
            };
            assert!(ran.await, "{operation}: the race could not be set up in five tries");
        }
    }
}

/// POSTs `query` from client address `client` (through the trusted proxy 127.0.0.1).
async fn from(app: &TestApp, client: &str, query: &str, variables: Value) -> Value {
    app.post(
        &json!({ "query": query, "variables": variables }),
        &[("x-forwarded-for", client)],
    )
    .await
    .json()
    .await
    .expect("JSON")
}

backend_test! {
    async fn the_address_limit_holds_across_two_instances(backend) {
        let a = spawn_app_with(backend, &[
            ("WARDEN_LOGIN_LIMIT_IP", "4/15m"),
            ("WARDEN_TRUSTED_PROXIES", "127.0.0.1"),
            ("WARDEN_SIGNUP", "true"),
        ]).await;
        let b = a.another_instance().await;
        a.create_user("ana@example.com", &[], &[]).await;
        let attacker = "203.0.113.7";
        // Two sign-ups (each hashes) and two unknown emails, alternating instances: neither
        // instance has seen four attempts itself.
        let body = from(&a, attacker, REGISTER, json!({ "e": "new1@example.com" })).await;
        assert!(body["data"]["register"].is_object(), "{body}");
        let body = from(&b, attacker, REGISTER, json!({ "e": "new2@example.com" })).await;
        assert!(body["data"]["register"].is_object(), "{body}");
        for (i, app) in [&a, &b].into_iter().enumerate() {
            let body = from(app, attacker, LOGIN, json!({ "e": format!("nobody{i}@example.com"), "p": "wrong guess" })).await;
            assert_eq!(code(&body), "INVALID_CREDENTIALS", "{body}");
        }
        // The database has counted four: the address is limited on both, whatever it tries.
        for app in [&a, &b] {
            let body = from(app, attacker, LOGIN, json!({ "e": "ana@example.com", "p": PASSWORD })).await;
            assert_eq!(code(&body), "RATE_LIMITED", "{body}");
            assert!(body["errors"][0]["extensions"]["retryAfter"].as_u64().is_some_and(|s| s > 0), "{body}");
            let body = from(app, attacker, REGISTER, json!({ "e": "new3@example.com" })).await;
            assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        }
        // Another client is not affected.
        let body = from(&b, "198.51.100.1", LOGIN, json!({ "e": "ana@example.com", "p": PASSWORD })).await;
        assert!(body["data"]["login"].is_object(), "{body}");
    }
}

backend_test! {
    async fn parallel_wrong_passwords_from_one_address_on_two_instances_test_no_more_than_the_address_limit(backend) {
        let a = spawn_app_with(backend, &[
            ("WARDEN_LOGIN_LIMIT_IP", "6/15m"),
            ("WARDEN_TRUSTED_PROXIES", "127.0.0.1"),
        ]).await;
        let b = a.another_instance().await;
        // Each guess a different (unknown) account, so only the address limit applies.
        let answers = futures_util::future::join_all((0..30).map(|i| {
            let app = if i % 2 == 0 { &a } else { &b };
            from(app, "203.0.113.9", LOGIN, json!({ "e": format!("user{i}@example.com"), "p": "wrong guess" }))
        }))
        .await;
        let told_wrong = answers.iter().filter(|body| code(body) == "INVALID_CREDENTIALS").count();
        let limited = answers.iter().filter(|body| code(body) == "RATE_LIMITED").count();
        println!("two instances ({backend:?}): {told_wrong} told wrong, {limited} rate limited");
        assert!(told_wrong <= 6, "at most the address limit told wrong across instances, got {told_wrong}");
        assert_eq!(told_wrong + limited, 30);
    }
}

backend_test! {
    async fn the_address_failures_and_refresh_retirements_migrations_go_down_and_up_again(backend) {
        use migration::{Migrator, MigratorTrait};
        let app = spawn_app(backend).await;
        let db = app.db().await;
        let counts = ["SELECT COUNT(*) FROM address_failures", "SELECT COUNT(*) FROM refresh_retirements"];
        for count in counts {
            db.execute_unprepared(count).await.expect("the table exists");
        }
        // The two newest migrations, newest first.
        Migrator::down(&db, Some(2)).await.expect("down");
        for count in counts {
            assert!(db.execute_unprepared(count).await.is_err(), "the table is gone: {count}");
        }
        Migrator::up(&db, None).await.expect("up again");
        for count in counts {
            db.execute_unprepared(count).await.expect("the table exists again");
        }
        db.close().await.ok();
    }
}
