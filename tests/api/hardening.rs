//! The login protections under attack (docs/reference.md, "Limits"): login limits that hold under concurrency
//! and across instances, bounded hashing, the password policy on every path, re-hashing,
//! and the session's absolute lifetime.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};
use warden::{
    config::{Argon2Params, LoginConfig},
    password::Passwords,
    testing::new_user,
    users,
};

use crate::{
    backend_test,
    cli::warden,
    support::{PASSWORD, TestApp, code, message, spawn_app, spawn_app_with},
};

const LOGIN: &str =
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";

/// POSTs a raw JSON body (a request or a batch) and returns the JSON answer, whatever status.
async fn post(app: &TestApp, body: &Value, forwarded_for: Option<&str>) -> Value {
    let headers: Vec<(&str, &str)> = forwarded_for
        .map(|address| ("x-forwarded-for", address))
        .into_iter()
        .collect();
    app.post(body, &headers).await.json().await.expect("JSON")
}

/// Every `extensions.code` in an answer (one response or a batch of them).
fn codes(answer: &Value) -> Vec<String> {
    let responses = match answer {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    responses
        .iter()
        .flat_map(|r| r["errors"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["extensions"]["code"].as_str().map(str::to_owned))
        .collect()
}

fn login_request(email: &str, password: &str) -> Value {
    json!({ "query": LOGIN, "variables": { "e": email, "p": password } })
}

/// Wrong-password attempts for `email`: single requests, batches and aliased documents.
fn attack_bodies(email: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| match i % 5 {
            // A batch of three logins.
            3 => json!([
                login_request(email, &format!("wrong guess {i} a")),
                login_request(email, &format!("wrong guess {i} b")),
                login_request(email, &format!("wrong guess {i} c")),
            ]),
            // Three aliased logins in one document.
            4 => json!({ "query": format!(
                "mutation {{ a: login(email: \"{email}\", password: \"wrong {i} a\") {{ accessToken }} \
                 b: login(email: \"{email}\", password: \"wrong {i} b\") {{ accessToken }} \
                 c: login(email: \"{email}\", password: \"wrong {i} c\") {{ accessToken }} }}"
            ) }),
            _ => login_request(email, &format!("wrong guess {i}")),
        })
        .collect()
}

/// Sends every body at once to the apps in turn; returns how many password checks were told
/// "wrong" and how many were refused by the limit.
async fn burst(apps: &[&TestApp], bodies: &[Value]) -> (usize, usize) {
    let answers = join_all(
        bodies
            .iter()
            .enumerate()
            .map(|(i, body)| post(apps[i % apps.len()], body, None)),
    )
    .await;
    let all: Vec<String> = answers.iter().flat_map(codes).collect();
    let count = |wanted: &str| all.iter().filter(|c| *c == wanted).count();
    (count("INVALID_CREDENTIALS"), count("RATE_LIMITED"))
}

fn retry_after(body: &Value) -> u64 {
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("retryAfter in {body}"))
}

backend_test! {
    async fn fifty_parallel_wrong_passwords_test_no_more_than_the_account_limit(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let (invalid, limited) = burst(&[&app], &attack_bodies("ana@example.com", 50)).await;
        println!("one instance ({backend:?}): {invalid} told wrong, {limited} rate limited");
        assert!(invalid <= 10, "at most the limit (10) told wrong, got {invalid}");
        assert!(limited > 0, "the rest were refused");
        // Now even the right password is refused, with the time to wait.
        let body = app.graphql(None, LOGIN, json!({ "e": "ana@example.com", "p": PASSWORD })).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        assert!((1..=900).contains(&retry_after(&body)));
    }
}

backend_test! {
    async fn parallel_wrong_passwords_on_two_instances_test_no_more_than_the_account_limit(backend) {
        let a = spawn_app(backend).await;
        let b = a.another_instance().await;
        a.create_user("ana@example.com", &[], &[]).await;
        let bodies: Vec<Value> = (0..50).map(|i| login_request("ana@example.com", &format!("wrong guess {i}"))).collect();
        let (invalid, limited) = burst(&[&a, &b], &bodies).await;
        println!("two instances ({backend:?}): {invalid} told wrong, {limited} rate limited");
        assert!(invalid <= 10, "at most the limit (10) told wrong across instances, got {invalid}");
        // A third instance has counted nothing itself: the database tells it the limit is reached.
        let c = a.another_instance().await;
        for app in [&a, &b, &c] {
            let body = app.graphql(None, LOGIN, json!({ "e": "ana@example.com", "p": PASSWORD })).await;
            assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        }
    }
}

backend_test! {
    async fn a_right_password_inside_a_burst_does_not_erase_the_failures_counted_with_it(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_LOGIN_LIMIT_ACCOUNT", "4/15m")]).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let mut bodies: Vec<Value> = (0..3).map(|i| login_request("ana@example.com", &format!("wrong guess {i}"))).collect();
        bodies.push(login_request("ana@example.com", PASSWORD));
        let (invalid, _) = burst(&[&app], &bodies).await;
        assert_eq!(invalid, 3);
        // The success gave back only its own slot: one more failure reaches the limit.
        let body = app.graphql(None, LOGIN, json!({ "e": "ana@example.com", "p": "wrong again" })).await;
        assert_eq!(code(&body), "INVALID_CREDENTIALS", "{body}");
        let body = app.graphql(None, LOGIN, json!({ "e": "ana@example.com", "p": PASSWORD })).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    }
}

backend_test! {
    async fn reauth_and_change_password_count_toward_the_account_limit(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_LOGIN_LIMIT_ACCOUNT", "3/15m")]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let reauth = "mutation($p: String!) { reauth(password: $p) { accessToken } }";
        let change = "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"a brand new passphrase\") }";
        let wrong = app.graphql(Some(&access), reauth, json!({ "p": "wrong guess 1" })).await;
        assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
        let wrong = app.graphql(Some(&access), change, json!({ "c": "wrong guess 2" })).await;
        assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
        let wrong = app.graphql(None, LOGIN, json!({ "e": "ana@example.com", "p": "wrong guess 3" })).await;
        assert_eq!(code(&wrong), "INVALID_CREDENTIALS");
        // One account, one limit, whichever mutation checks the password.
        let body = app.graphql(Some(&access), reauth, json!({ "p": PASSWORD })).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        let body = app.graphql(Some(&access), change, json!({ "c": PASSWORD })).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        assert!(retry_after(&body) > 0);
    }
}

backend_test! {
    async fn the_address_limit_counts_unknown_emails_and_trusts_only_configured_proxies(backend) {
        let app = spawn_app_with(backend, &[
            ("WARDEN_LOGIN_LIMIT_IP", "5/15m"),
            ("WARDEN_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
        ]).await;
        app.create_user("ana@example.com", &[], &[]).await;
        // Five unknown emails from one client behind the proxy use up its address limit.
        for i in 0..5 {
            let body = post(&app, &login_request(&format!("nobody{i}@example.com"), "wrong guess"), Some("203.0.113.7, 10.1.2.3")).await;
            assert_eq!(code(&body), "INVALID_CREDENTIALS", "{body}");
        }
        let body = post(&app, &login_request("ana@example.com", PASSWORD), Some("203.0.113.7")).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
        // Another client is not affected; a forged left-most entry does not make one.
        let body = post(&app, &login_request("ana@example.com", PASSWORD), Some("198.51.100.1")).await;
        assert!(body["data"]["login"].is_object(), "{body}");
        let body = post(&app, &login_request("ana@example.com", PASSWORD), Some("198.51.100.9, 203.0.113.7")).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");

        // Without trusted proxies, X-Forwarded-For is ignored: the socket peer is the client.
        let direct = spawn_app_with(backend, &[("WARDEN_LOGIN_LIMIT_IP", "2/15m")]).await;
        for i in 0..2 {
            let body = post(&direct, &login_request("nobody@example.com", "wrong guess"), Some(&format!("192.0.2.{i}"))).await;
            assert_eq!(code(&body), "INVALID_CREDENTIALS", "{body}");
        }
        let body = post(&direct, &login_request("nobody@example.com", "wrong guess"), Some("192.0.2.99")).await;
        assert_eq!(code(&body), "RATE_LIMITED", "{body}");
    }
}

backend_test! {
    async fn a_flood_of_unknown_email_logins_stays_within_the_hashing_gate_and_me_keeps_answering(backend) {
        let app = spawn_app_with(backend, &[
            ("WARDEN_HASH_CONCURRENCY", "1"),
            ("WARDEN_LOGIN_LIMIT_IP", "1000/15m"),
        ]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let flood = join_all((0..60).map(|i| {
            let body = login_request(&format!("nobody{i}@example.com"), "wrong guess");
            let app = &app;
            async move { post(app, &body, None).await }
        }));
        let me = async {
            let mut slowest = Duration::ZERO;
            for _ in 0..10 {
                let started = Instant::now();
                let body = app.graphql(Some(&access), "{ me { id } }", json!({})).await;
                assert!(body["data"]["me"]["id"].is_string(), "{body}");
                slowest = slowest.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            slowest
        };
        let (answers, slowest) = tokio::join!(flood, me);
        println!("flood ({backend:?}): slowest me {slowest:?}, peak hashes {}", app.hashes.peak());
        assert!(slowest < Duration::from_secs(2), "me kept answering: {slowest:?}");
        assert_eq!(app.hashes.peak(), 1, "never more hashes at once than WARDEN_HASH_CONCURRENCY");
        for answer in &answers {
            match code(answer) {
                "INVALID_CREDENTIALS" => {}
                "SERVICE_UNAVAILABLE" => assert!(retry_after(answer) > 0),
                other => panic!("unexpected {other}: {answer}"),
            }
        }
    }
}

const TOO_SHORT: &str = "short pass1";
const COMMON: &str = "qwertyuiop123";

/// The refusals every path must give, for an account `ana.smith@example.com` named Ana Smith.
fn policy_cases() -> Vec<(String, &'static str)> {
    vec![
        (TOO_SHORT.to_owned(), "at least 12"),
        ("x".repeat(129), "at most 128"),
        (COMMON.to_owned(), "too common"),
        ("AnaSmith2024!".to_owned(), "email address or name"),
        ("ana.smith@example.com".to_owned(), "email address or name"),
    ]
}

fn assert_refused(body: &Value, why: &str) {
    assert_eq!(code(body), "BAD_USER_INPUT", "{body}");
    assert!(message(body).contains(why), "{why}: {body}");
}

backend_test! {
    async fn the_password_policy_holds_on_register_create_user_and_change_password(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_SIGNUP", "true")]).await;
        let (_, admin, _) = app.user_with_tokens("admin@example.com", &["admin"], &[]).await;
        let register = "mutation($p: String!) { register(email: \"ana.smith@example.com\", password: $p, name: \"Ana Smith\") { accessToken } }";
        let create = "mutation($p: String!) { createUser(email: \"ana.smith@example.com\", password: $p, name: \"Ana Smith\") { id } }";
        for (password, why) in policy_cases() {
            assert_refused(&app.graphql(None, register, json!({ "p": password })).await, why);
            assert_refused(&app.graphql(Some(&admin), create, json!({ "p": password })).await, why);
        }
        // Any Unicode, counted in code points, never truncated.
        let long = format!("{}ü", "ñandú ".repeat(21));
        assert_eq!(long.chars().count(), 127);
        let body = app.graphql(None, register, json!({ "p": long })).await;
        let access = body["data"]["register"]["accessToken"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned();
        let truncated: String = long.chars().take(72).collect();
        assert_eq!(code(&app.graphql(None, LOGIN, json!({ "e": "ana.smith@example.com", "p": truncated })).await), "INVALID_CREDENTIALS");
        app.login("ana.smith@example.com", &long).await;

        let change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
        for (password, why) in policy_cases() {
            let body = app.graphql(Some(&access), change, json!({ "c": long, "n": password })).await;
            assert_refused(&body, why);
        }
    }
}

backend_test! {
    async fn the_minimum_length_follows_its_variable(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_SIGNUP", "true"), ("WARDEN_PASSWORD_MIN_LENGTH", "20")]).await;
        let register = "mutation($p: String!) { register(email: \"ed@example.com\", password: $p, name: \"Ed\") { accessToken } }";
        assert_refused(&app.graphql(None, register, json!({ "p": "nineteen characters" })).await, "at least 20");
        let body = app.graphql(None, register, json!({ "p": "twenty characters ok" })).await;
        assert!(body["data"]["register"].is_object(), "{body}");
    }
}

backend_test! {
    async fn the_password_policy_holds_on_warden_user_create(backend) {
        let app = spawn_app(backend).await;
        for (password, why) in policy_cases() {
            let url = app.database_url.clone();
            let out = tokio::task::spawn_blocking(move || {
                let args = ["user", "create", "--email", "ana.smith@example.com", "--name", "Ana Smith", "--password-stdin"];
                warden(&url, &args, Some(&format!("{password}\n")), &[])
            })
            .await
            .expect("ran");
            assert!(!out.status.success(), "{why} must be refused");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(why), "{why}: {stderr}");
        }
    }
}

backend_test! {
    async fn a_hash_made_with_other_parameters_is_replaced_at_the_next_login(backend) {
        let app = spawn_app(backend).await;
        let weak = Passwords::new(&LoginConfig {
            argon2: Argon2Params { memory_kib: 1024, iterations: 1, parallelism: 1 },
            ..LoginConfig::default()
        });
        let db = app.db().await;
        let account = users::create(&db, &weak, new_user("ana@example.com", &[], &[]))
        .await
        .expect("user");
        assert!(account.user.password_hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        app.login("ana@example.com", PASSWORD).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        let stored = loop {
            let stored = users::find_by_id(&db, account.user.id).await.expect("read").expect("user").password_hash;
            if stored != account.user.password_hash || Instant::now() > deadline {
                break stored;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "re-hashed: {stored}");
        db.close().await.ok();
        // The same password still opens the account.
        app.login("ana@example.com", PASSWORD).await;
    }
}

backend_test! {
    async fn a_session_older_than_its_max_age_cannot_refresh_and_ends(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_SESSION_MAX_AGE", "2s")]).await;
        let (_, access, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let refresh_op = "mutation { refresh { accessToken refreshToken } }";
        let body = app.graphql(Some(&refresh), refresh_op, json!({})).await;
        let refresh = body["data"]["refresh"]["refreshToken"].as_str().unwrap_or_else(|| panic!("young session refreshes: {body}")).to_owned();
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        let body = app.graphql(Some(&refresh), refresh_op, json!({})).await;
        assert_eq!(code(&body), "TOKEN_EXPIRED", "{body}");
        assert_eq!(message(&body), "Session has expired");
        // The session ended: its access token is refused too.
        let body = app.graphql(Some(&access), "{ me { id } }", json!({})).await;
        assert_eq!(code(&body), "TOKEN_REVOKED", "{body}");
    }
}

backend_test! {
    async fn a_login_session_is_created_only_while_the_account_and_address_are_under_their_limits(backend) {
        use warden::{auth::{protection::failures::{self, Keys}, sessions::{self, RefreshSlot}}, config::Limit};
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &[], &[]).await;
        let db = app.db().await;
        let now_ms = crate::support::now() * 1000;
        let since = now_ms - 60_000;
        let limit = Limit { max: 3, window: Duration::from_secs(60) };
        let keys = |account: Option<&'static str>, address: Option<&'static str>| Keys {
            account, account_since: since, address, address_since: since,
        };
        let ana = keys(Some("ana@example.com"), Some("192.0.2.1"));
        let slot = |n: u32| RefreshSlot { jti: format!("jti-{n}"), iat: 0, exp: i64::MAX / 2 };
        let create = |n: u32| {
            let db = &db;
            async move {
                let condition = failures::within_limits(ana, limit, limit);
                sessions::create_unless_limited(db, (&format!("s{n}"), id, None, &slot(n)), condition)
                    .await
                    .expect("insert")
            }
        };
        // What another instance's failures, recorded while this login hashed, leave behind.
        for n in 0..2 {
            failures::record(&db, keys(Some("ana@example.com"), None), now_ms).await.expect("recorded");
            assert!(create(n).await, "{} failures: under the limit", n + 1);
        }
        failures::record(&db, keys(Some("ana@example.com"), None), now_ms).await.expect("recorded");
        assert!(!create(3).await, "at the account's limit, the session is not created");
        assert!(sessions::find(&db, "s3").await.expect("read").is_none());
        assert!(sessions::find(&db, "s1").await.expect("read").is_some());

        // The same for the client address, whatever accounts its failures were for.
        let elsewhere = keys(Some("bob@example.com"), Some("192.0.2.1"));
        let bob = |n: u32| {
            let db = &db;
            async move {
                let condition = failures::within_limits(elsewhere, limit, limit);
                sessions::create_unless_limited(db, (&format!("b{n}"), id, None, &slot(10 + n)), condition)
                    .await
                    .expect("insert")
            }
        };
        for n in 0..2 {
            failures::record(&db, keys(None, Some("192.0.2.1")), now_ms).await.expect("recorded");
            assert!(bob(n).await, "{} address failures: under the limit", n + 1);
        }
        let counted = failures::record(&db, keys(None, Some("192.0.2.1")), now_ms).await.expect("recorded");
        assert_eq!((counted.account, counted.address), (0, 3));
        assert!(!bob(3).await, "at the address's limit, the session is not created");
        db.close().await.ok();
    }
}
