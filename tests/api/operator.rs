//! The operator's side: the account commands of the CLI, what it needs to run, and start-up
//! errors and warnings that name what is wrong (contract sections 1 and 6).

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
