//! The operator's side: the account commands of the CLI, what it needs to run, and start-up
//! errors and warnings that name what is wrong (docs/reference.md, "Environment variables"; docs/reference.md).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    backend_test,
    cli::{Served, warden},
    support::{PASSWORD, TestApp, code, spawn_app},
};

/// Runs the CLI against `app`'s database off the async runtime.
async fn cli(app: &TestApp, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let url = app.database_url.clone();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        warden(&url, &args, stdin.as_deref(), &[])
    })
    .await
    .expect("ran")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

backend_test! {
    async fn user_list_shows_every_account_with_its_grants_as_a_table_or_json(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &["admin"], &["users:read"]).await;
        app.create_user("bo@example.com", &[], &[]).await;
        let out = cli(&app, &["user", "list", "--json"], None).await;
        assert!(out.status.success(), "{}", stderr(&out));
        let rows: Vec<Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["email"], "ana@example.com");
        assert_eq!(rows[0]["roles"], json!(["admin"]));
        assert_eq!(rows[0]["permissions"], json!(["users:read"]));
        assert_eq!(rows[1]["disabled"], false);
        let table = cli(&app, &["user", "list"], None).await;
        assert!(stdout(&table).contains("bo@example.com"), "{}", stdout(&table));
    }
}

backend_test! {
    async fn user_set_password_applies_the_policy_and_ends_every_session(backend) {
        let app = spawn_app(backend).await;
        let (_, access, refresh) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let weak = cli(&app, &["user", "set-password", "--email", "ana@example.com", "--password-stdin"], Some("password\n")).await;
        assert!(!weak.status.success(), "the policy applies");
        assert_eq!(stderr(&weak).trim().lines().count(), 1, "{}", stderr(&weak));

        let out = cli(&app, &["user", "set-password", "--email", "ana@example.com", "--password-stdin"], Some("a brand new break-glass passphrase\n")).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("1 session(s) ended"), "{}", stdout(&out));
        app.until_revoked(&access).await;
        assert_eq!(code(&app.graphql(Some(&refresh), "mutation { refresh { accessToken } }", json!({})).await), "TOKEN_REVOKED");
        let (fresh, _) = app.login("ana@example.com", "a brand new break-glass passphrase").await;
        assert!(!fresh.is_empty());
        let old = app.graphql(None, "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { accessToken } }", json!({ "p": PASSWORD })).await;
        assert_eq!(code(&old), "INVALID_CREDENTIALS");
    }
}

backend_test! {
    async fn user_delete_kills_the_accounts_tokens_and_keeps_the_last_admin(backend) {
        let app = spawn_app(backend).await;
        app.create_user("root@example.com", &["admin"], &[]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let out = cli(&app, &["user", "delete", "--email", "ana@example.com"], None).await;
        assert!(out.status.success(), "{}", stderr(&out));
        app.until_revoked(&access).await;
        let out = cli(&app, &["user", "delete", "--email", "root@example.com"], None).await;
        assert!(!out.status.success(), "the last enabled admin stays");
        let unknown = cli(&app, &["user", "delete", "--email", "nobody@example.com"], None).await;
        assert!(stderr(&unknown).contains("no user with email"), "{}", stderr(&unknown));
    }
}

#[test]
fn migrate_and_user_commands_need_only_the_database_url_in_production() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = warden::testing::sqlite_url(dir.path(), "w.db");
    let production = [("WARDEN_ENV", "production")];
    let out = warden(&url, &["migrate"], None, &production);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = warden(
        &url,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ],
        Some("an operator's passphrase\n"),
        &production,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = warden(&url, &["user", "list", "--json"], None, &production);
    assert!(stdout(&out).contains("ops@example.com"), "{}", stderr(&out));
    // Serving still needs the key.
    let out = warden(
        &url,
        &["serve"],
        None,
        &[("WARDEN_ENV", "production"), ("WARDEN_ADDR", "127.0.0.1:0")],
    );
    assert!(stderr(&out).contains("JWT_SECRET_KEY"), "{}", stderr(&out));
}

#[test]
fn a_bad_database_url_is_named_with_its_cause_within_five_seconds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = format!("sqlite://{}/w.db", dir.path().display());
    let no_dir = format!(
        "sqlite://{}/no/such/dir/w.db?mode=rwc",
        dir.path().display()
    );
    let cases = [
        (missing.as_str(), "mode=rwc"),
        (no_dir.as_str(), "cannot open"),
        // Nothing listens on port 1 of the loopback.
        (
            "postgres://warden:hunter2@127.0.0.1:1/warden",
            "127.0.0.1:1",
        ),
        ("mysql://warden@127.0.0.1/warden", "sqlite://"),
        ("warden.db", "postgres://"),
    ];
    for (url, cause) in cases {
        for command in [&["migrate"][..], &["user", "list"], &["serve"]] {
            let started = Instant::now();
            let out = warden(url, command, None, &[("WARDEN_ADDR", "127.0.0.1:0")]);
            let took = started.elapsed();
            let err = stderr(&out);
            assert!(!out.status.success(), "{url} {command:?}");
            assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
            assert!(
                err.contains("DATABASE_URL") && err.contains(cause),
                "{url} {command:?}: {err}"
            );
            assert!(!err.contains("hunter2"), "no password in: {err}");
            assert!(
                took < Duration::from_secs(5),
                "{url} {command:?} took {took:?}"
            );
        }
    }
}

#[test]
fn a_private_key_that_does_not_match_its_public_key_stops_the_server() {
    let (private, other_public) = (
        fixture("rs256-private.pem"),
        fixture("rs256-other-public.pem"),
    );
    let out = warden(
        "sqlite::memory:",
        &["serve"],
        None,
        &[
            ("WARDEN_ADDR", "127.0.0.1:0"),
            ("JWT_ALGORITHM", "RS256"),
            ("JWT_PRIVATE_KEY", &private),
            ("JWT_PUBLIC_KEY", &other_public),
        ],
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("JWT_PRIVATE_KEY") && err.contains("JWT_PUBLIC_KEY"),
        "{err}"
    );
}

#[tokio::test]
async fn start_up_warns_of_an_open_development_server_a_short_key_and_a_misspelt_variable() {
    let served = Served::start(&[
        ("RUST_LOG", "warn"),
        ("WARDEN_ADDR", "0.0.0.0:0"),
        ("JWT_SECRET_KEY", "a-short-development-key"),
        ("JWT_ACESS_TOKEN_EXPIRES", "1m"),
    ])
    .await;
    let head = served.head.clone();
    for named in ["WARDEN_ADDR", "JWT_SECRET_KEY", "JWT_ACESS_TOKEN_EXPIRES"] {
        assert!(
            head.lines()
                .any(|l| l.contains("WARN") && l.contains(named)),
            "a warning naming {named} in:\n{head}"
        );
    }
    assert!(
        !head.contains("a-short-development-key"),
        "the key itself is never printed"
    );
    drop(served);

    // A quiet start has none of them.
    let quiet = Served::start(&[
        ("RUST_LOG", "warn"),
        ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
    ])
    .await;
    assert!(!quiet.head.contains("WARN"), "{}", quiet.head);
}

#[tokio::test]
async fn the_start_up_line_is_json_under_the_json_log_format() {
    let served = Served::start(&[("RUST_LOG", "error"), ("WARDEN_LOG_FORMAT", "json")]).await;
    let line: Value = serde_json::from_str(served.first_line.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", served.first_line));
    assert_eq!(line["fields"]["address"], served.base.as_str());
    assert!(
        line["fields"]["graphql"]
            .as_str()
            .is_some_and(|g| g.ends_with("/graphql")),
        "{line}"
    );
}

backend_test! {
    async fn user_unlock_lets_a_locked_out_account_sign_in_again_on_a_running_server(backend) {
        let app = crate::support::spawn_app_with(backend, &[("WARDEN_LOGIN_LIMIT_ACCOUNT", "3/15m")]).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let login = "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { accessToken } }";
        // Someone guesses at Ana's address until the account is locked, on this instance.
        for i in 0..3 {
            let body = app.graphql(None, login, json!({ "p": format!("a wrong guess {i}") })).await;
            assert_eq!(code(&body), "INVALID_CREDENTIALS");
        }
        assert_eq!(code(&app.graphql(None, login, json!({ "p": PASSWORD })).await), "RATE_LIMITED");
        let out = cli(&app, &["user", "unlock", "--email", "ana@example.com"], None).await;
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).contains("3 failed attempt(s) cleared"), "{}", stdout(&out));
        // The running server forgets its own count too, within the lag bound.
        let right = format!("mutation {{ login(email: \"ana@example.com\", password: \"{PASSWORD}\") {{ accessToken }} }}");
        let body = app.eventually(None, &right, |b| b["data"]["login"]["accessToken"].is_string()).await;
        assert!(body["errors"].is_null(), "{body}");
    }
}

/// Every security-relevant action lands in the security log through one function, from the
/// API (with the client's address) and from the command line (`by=cli`).
#[tokio::test]
async fn the_security_log_records_api_and_cli_actions_with_the_account() {
    let served = Served::start(&[
        ("RUST_LOG", "warden::security=info,error"),
        ("WARDEN_ADMIN_EMAIL", "root@example.com"),
        ("WARDEN_ADMIN_PASSWORD", "a bootstrap password for root"),
    ])
    .await;
    let client = reqwest::Client::new();
    let post = |token: Option<String>, query: String| {
        let client = client.clone();
        let url = format!("{}/graphql", served.base);
        async move {
            let mut request = client.post(url).json(&json!({ "query": query }));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request
                .send()
                .await
                .expect("answers")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    };
    let login = |email: &str, password: &str| {
        format!(
            "mutation {{ login(email: \"{email}\", password: \"{password}\") {{ accessToken user {{ id }} }} }}"
        )
    };
    let root = post(
        None,
        login("root@example.com", "a bootstrap password for root"),
    )
    .await;
    let admin = root["data"]["login"]["accessToken"]
        .as_str()
        .expect("admin token")
        .to_owned();
    let created = post(Some(admin.clone()), "mutation { createUser(email: \"bo@example.com\", password: \"bo's long passphrase\", name: \"Bo\") { id } }".into()).await;
    let bo_id = created["data"]["createUser"]["id"]
        .as_str()
        .expect("created")
        .to_owned();
    let failed = post(None, login("bo@example.com", "not bo's passphrase")).await;
    assert_eq!(code(&failed), "INVALID_CREDENTIALS");
    let bo = post(None, login("bo@example.com", "bo's long passphrase")).await;
    let bo_token = bo["data"]["login"]["accessToken"]
        .as_str()
        .expect("bo's token")
        .to_owned();
    assert_eq!(
        post(Some(bo_token), "mutation { logout }".into()).await["data"]["logout"],
        true
    );
    post(
        Some(admin.clone()),
        format!("mutation {{ setUserDisabled(userId: \"{bo_id}\", disabled: true) {{ id }} }}"),
    )
    .await;
    post(
        Some(admin.clone()),
        format!("mutation {{ deleteUser(userId: \"{bo_id}\") }}"),
    )
    .await;

    // The command line, against the same database.
    let url = served.database_url();
    let out = tokio::task::spawn_blocking(move || {
        warden(
            &url,
            &["user", "revoke-sessions", "--email", "root@example.com"],
            None,
            &[("RUST_LOG", "warden::security=info")],
        )
    })
    .await
    .expect("ran");
    assert!(out.status.success(), "{}", stderr(&out));
    let cli_line = stderr(&out);
    assert!(
        cli_line.contains("sessions_revoked") && cli_line.contains("by=cli"),
        "{cli_line}"
    );
    assert!(
        stdout(&out).contains("session(s) of root@example.com ended"),
        "the result stays on stdout"
    );

    let log = served.stop_and_read_log().await;
    let line = |event: &str| {
        log.lines()
            .find(|l| l.contains("warden::security") && l.contains(&format!("event=\"{event}\"")))
            .unwrap_or_else(|| panic!("no {event} line in:\n{log}"))
            .to_owned()
    };
    let failed_line = log
        .lines()
        .find(|l| l.contains("event=\"login\"") && l.contains("outcome=\"failed\""))
        .unwrap_or_else(|| panic!("a failed login line in:\n{log}"));
    assert!(
        failed_line.contains(&format!("user_id={bo_id}")),
        "a failed login names the account: {failed_line}"
    );
    assert!(line("user_created").contains("roles=[]"));
    assert!(line("logout").contains(&format!("user_id={bo_id}")));
    assert!(line("user_disabled").contains(&format!("user_id={bo_id}")));
    assert!(line("user_deleted").contains(&format!("user_id={bo_id}")));
    assert!(!log.contains(&admin), "no token in the log");
    assert!(!log.contains("passphrase"), "no password in the log");
}

/// `/metrics` of a process that has just started: every series is there at zero, and the
/// history it replayed from the log is not counted as feed delay (an alert on the delay would
/// otherwise fire at every restart).
#[tokio::test]
async fn metrics_start_at_zero_and_the_replayed_history_is_not_feed_delay() {
    let admin = [
        ("RUST_LOG", "error"),
        ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("WARDEN_ADMIN_EMAIL", "root@example.com"),
        ("WARDEN_ADMIN_PASSWORD", "a bootstrap password for root"),
    ];
    let first = Served::start(&admin).await;
    let graphql = format!("{}/graphql", first.base);
    let client = reqwest::Client::new();
    let login: Value = client
        .post(&graphql)
        .json(&json!({ "query": "mutation { login(email: \"root@example.com\", password: \"a bootstrap password for root\") { accessToken } }" }))
        .send().await.expect("login").json().await.expect("JSON");
    let access = login["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let logout: Value = client
        .post(&graphql)
        .bearer_auth(&access)
        .json(&json!({ "query": "mutation { logout }" }))
        .send()
        .await
        .expect("logout")
        .json()
        .await
        .expect("JSON");
    assert_eq!(logout["data"]["logout"], true, "an event in the log");
    let url = first.database_url();
    first.terminate();
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let mut env = admin.to_vec();
    env.push(("DATABASE_URL", &url));
    let second = Served::start(&env).await;
    let text = reqwest::get(format!("{}/metrics", second.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for series in [
        "warden_refresh_reuse_detected_total 0",
        "warden_logins_total{result=\"rate_limited\"} 0",
        "warden_revocations_total{kind=\"session\"} 0",
        "warden_guard_denials_total{code=\"TOKEN_REVOKED\"} 0",
        "warden_live_events_total{kind=\"SIGNED_OUT\"} 0",
        "warden_live_connections 0",
        "warden_event_feed_delay_seconds_count 0",
    ] {
        assert!(
            text.lines().any(|l| l == series),
            "`{series}` in /metrics:\n{text}"
        );
    }
    drop(first);
}
