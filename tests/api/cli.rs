//! The `warden` binary as an operator runs it.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use crate::{backend_test, support::spawn_app};

/// Runs the `warden` binary in an empty folder with only the given environment.
pub(crate) fn warden(
    database_url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir"); // no stray .env is read
    warden_in(dir.path(), database_url, args, stdin, env)
}

/// Runs the binary in `dir` (where it looks for `.env`) with only the given environment.
pub(crate) fn warden_in(
    dir: &std::path::Path,
    database_url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("warden runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("warden exits")
}

backend_test! {
    async fn user_create_reads_the_password_from_stdin_and_refuses_a_duplicate_email(backend) {
        let app = spawn_app(backend).await;
        let url = app.database_url.clone();
        let args = ["user", "create", "--email", "Ed@Example.com", "--password-stdin", "--name", "Ed", "--role", "editor", "--role", "admin"];
        let out = tokio::task::spawn_blocking({
            let url = url.clone();
            move || warden(&url, &args, Some("s3cret-passphrase\r\n"), &[])
        }).await.expect("ran");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (access, _) = app.login("ed@example.com", "s3cret-passphrase").await;
        assert_eq!(crate::support::payload(&access)["roles"], serde_json::json!(["admin", "editor"]));

        let out = tokio::task::spawn_blocking(move || warden(&url, &args, Some("another-passphrase\n"), &[]))
            .await
            .expect("ran");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("already exists"), "{stderr}");
    }
}

backend_test! {
    async fn set_roles_replaces_the_roles_new_tokens_carry(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &["editor"], &[]).await;
        let url = app.database_url.clone();
        let out = tokio::task::spawn_blocking(move || {
            warden(&url, &["user", "set-roles", "--email", "ana@example.com", "--role", "admin"], None, &[])
        }).await.expect("ran");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (access, _) = app.login("ana@example.com", crate::support::PASSWORD).await;
        assert_eq!(crate::support::payload(&access)["roles"], serde_json::json!(["admin"]));
    }
}

#[test]
fn a_bad_configuration_value_stops_with_one_line_naming_the_variable() {
    let key = ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef");
    let cases: [(&[(&str, &str)], &str); 12] = [
        (
            &[("JWT_ACCESS_TOKEN_EXPIRES", "soon")],
            "JWT_ACCESS_TOKEN_EXPIRES",
        ),
        (&[("WARDEN_LOG_FORMAT", "xml")], "WARDEN_LOG_FORMAT"),
        (&[("JWT_ALGORITHM", "none")], "JWT_ALGORITHM"),
        (&[("WARDEN_ENV", "production")], "JWT_SECRET_KEY"),
        (
            &[
                ("WARDEN_ENV", "production"),
                ("JWT_SECRET_KEY", "too-short"),
            ],
            "JWT_SECRET_KEY",
        ),
        // Login protections (docs/reference.md, "Limits").
        (
            &[("WARDEN_LOGIN_LIMIT_ACCOUNT", "10 per 15m")],
            "WARDEN_LOGIN_LIMIT_ACCOUNT",
        ),
        (
            &[("WARDEN_LOGIN_LIMIT_IP", "0/15m")],
            "WARDEN_LOGIN_LIMIT_IP",
        ),
        (
            &[("WARDEN_TRUSTED_PROXIES", "10.0.0.0/33")],
            "WARDEN_TRUSTED_PROXIES",
        ),
        (
            &[("WARDEN_HASH_CONCURRENCY", "0")],
            "WARDEN_HASH_CONCURRENCY",
        ),
        (
            &[("WARDEN_PASSWORD_MIN_LENGTH", "7")],
            "WARDEN_PASSWORD_MIN_LENGTH",
        ),
        (
            &[("WARDEN_SESSION_MAX_AGE", "forever")],
            "WARDEN_SESSION_MAX_AGE",
        ),
        (
            &[
                ("WARDEN_ENV", "production"),
                key,
                ("WARDEN_ARGON2_MEMORY", "8192"),
            ],
            "WARDEN_ARGON2_MEMORY",
        ),
    ];
    for (env, variable) in cases {
        // `serve` reads every section; `migrate` would not read the key's (it needs none).
        let env: Vec<(&str, &str)> = [("WARDEN_ADDR", "127.0.0.1:0")]
            .into_iter()
            .chain(env.iter().copied())
            .collect();
        let out = warden("sqlite::memory:", &["serve"], None, &env);
        assert!(!out.status.success(), "{env:?} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(variable), "{variable} named in: {stderr}");
    }
}

#[test]
fn schema_prints_the_committed_sdl() {
    let out = warden("sqlite::memory:", &["schema"], None, &[]);
    assert!(out.status.success());
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("committed");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

/// A running `warden serve`: started in an empty folder on a fresh SQLite file, with only
/// the database, a free port and the given variables set, standard output piped.
pub(crate) struct Served {
    pub(crate) child: std::process::Child,
    /// The first line it printed.
    pub(crate) first_line: String,
    /// Everything it printed up to and including the line with its address (start-up
    /// warnings come before that line).
    pub(crate) head: String,
    /// `http://host:port`, from the first line that carries an address.
    pub(crate) base: String,
    /// The rest of standard output.
    out: std::io::BufReader<std::process::ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Served {
    pub(crate) async fn start(env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let dir = tempfile::tempdir().expect("temp dir");
        let url = warden::testing::sqlite_url(dir.path(), "w.db");
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("serve")
            .current_dir(dir.path())
            .env_clear()
            .env("DATABASE_URL", &url)
            .env("WARDEN_ADDR", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("warden serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (first_line, head, base, out) = tokio::task::spawn_blocking(move || {
            let mut out = std::io::BufReader::new(stdout);
            let mut read_line = |line: &mut String| {
                line.clear();
                let n = out.read_line(line).expect("a line");
                assert!(n > 0, "warden serve stopped before printing its address");
            };
            let mut line = String::new();
            read_line(&mut line);
            let first_line = line.clone();
            let mut head = String::new();
            loop {
                head.push_str(&line);
                // Plain text, or a JSON log line where the address sits in quotes.
                if let Some(base) = line
                    .split(|c: char| c.is_whitespace() || c == '"')
                    .find(|w| w.starts_with("http://"))
                {
                    let base = base.trim_end_matches("/graphql").to_owned();
                    return (first_line, head, base, out);
                }
                read_line(&mut line);
            }
        })
        .await
        .expect("read");
        Self {
            child,
            first_line,
            head,
            base,
            out,
            _dir: dir,
        }
    }

    /// The server's `DATABASE_URL` (a SQLite file in its folder), for the CLI.
    pub(crate) fn database_url(&self) -> String {
        warden::testing::sqlite_url(self._dir.path(), "w.db")
    }

    /// Stops the server and returns the rest of what it logged (standard output).
    pub(crate) async fn stop_and_read_log(mut self) -> String {
        use std::io::Read;
        self.terminate();
        tokio::task::spawn_blocking(move || {
            let mut rest = String::new();
            self.out.read_to_string(&mut rest).expect("the rest");
            self.child.wait().expect("exits");
            rest
        })
        .await
        .expect("read")
    }

    /// The server's resident memory, in KiB (Linux).
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("process status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Sends SIGTERM, as a service manager stops it.
    pub(crate) fn terminate(&self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
    }
}

impl Drop for Served {
    /// A test that failed half-way leaves no server running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

#[tokio::test]
async fn serve_prints_its_address_answers_and_stops_cleanly_on_sigterm() {
    let mut served = Served::start(&[("RUST_LOG", "error")]).await;
    assert!(
        served.first_line.contains("/graphql"),
        "GraphiQL address printed: {}",
        served.first_line
    );
    let health = reqwest::get(format!("{}/healthz", served.base))
        .await
        .expect("answers");
    assert!(health.status().is_success());

    served.terminate();
    let status = tokio::task::spawn_blocking(move || served.child.wait().expect("exits"))
        .await
        .expect("waited");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

backend_test! {
    async fn disable_enable_and_revoke_sessions_reach_a_running_server(backend) {
        let app = spawn_app(backend).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let url = app.database_url.clone();
        let run = |args: &'static [&'static str]| {
            let url = url.clone();
            tokio::task::spawn_blocking(move || warden(&url, args, None, &[]))
        };
        let out = run(&["user", "disable", "--email", "ana@example.com"]).await.expect("ran");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The serving instance learns of it through its event feed.
        app.until_revoked(&access).await;
        let login = "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { accessToken } }";
        let body = app.graphql(None, login, serde_json::json!({ "p": crate::support::PASSWORD })).await;
        assert_eq!(crate::support::code(&body), "FORBIDDEN", "{body}");

        let out = run(&["user", "enable", "--email", "ana@example.com"]).await.expect("ran");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (fresh, _) = app.login("ana@example.com", crate::support::PASSWORD).await;
        let out = run(&["user", "revoke-sessions", "--email", "ana@example.com"]).await.expect("ran");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 session(s)"), "{}", String::from_utf8_lossy(&out.stdout));
        app.until_revoked(&fresh).await;
    }
}

/// Runs `warden serve` with `format`, sends one request carrying a token and a request id,
/// stops it, and returns what it wrote to standard output (a pipe, not a terminal).
async fn serve_and_log(format: &str) -> String {
    let served = Served::start(&[("RUST_LOG", "info"), ("WARDEN_LOG_FORMAT", format)]).await;
    reqwest::Client::new()
        .post(format!("{}/graphql", served.base))
        .header("x-request-id", "req-logged-42")
        .bearer_auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.secret-signature-part")
        .json(&serde_json::json!({ "query": "{ me { id } }" }))
        .send()
        .await
        .expect("answers");
    served.stop_and_read_log().await
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id_and_no_token() {
    let out = serve_and_log("json").await;
    let lines: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == "req-logged-42"),
        "a line carries the request id: {out}"
    );
    assert!(
        !out.contains("secret-signature-part"),
        "no token in the logs: {out}"
    );
}

#[tokio::test]
async fn logs_to_a_pipe_carry_no_colour_codes() {
    let out = serve_and_log("pretty").await;
    assert!(out.contains("req-logged-42"), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no ANSI escapes when not a terminal: {out:?}"
    );
    assert!(
        !out.contains("secret-signature-part"),
        "no token in the logs: {out}"
    );
}
