//! docs/verify-tokens.md, run for real: its Node (`jose`), Python (PyJWT) and Rust
//! (`jsonwebtoken`) code verifies the tokens of a running Warden, against the JWKS (RS256, with
//! `iss` and `aud` written) and against the shared secret (HS256), and refuses what the page
//! says it refuses. The Node and Python code is cut from the page itself (the fenced block after
//! each `<!-- snippet: NAME -->`); the Rust code is `verify_tokens/snippet.rs`, which a test
//! holds equal to the page's block.
//!
//! Python runs in the interop test's virtual environment ([`crate::flask_interop::python`]);
//! Node in `tests/browser` ([`crate::browser::node_project`]). Without `python3` or `node`, or
//! offline, that leg is skipped, saying so; under CI (`CI` set) offline fails it instead.

// The page's own code, kept as a user would copy it (with `pub` items, which are unreachable
// from outside this test crate).
#[allow(unreachable_pub)]
mod snippet;

use std::{path::Path, process::Command};

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::support::{Backend, PASSWORD, TEST_KEY, TestApp, forge, spawn_app_with};
use warden::{clock::now_secs, testing::TestClaims};

const ISSUER: &str = "https://auth.example.test";
const AUDIENCE: &str = "api";

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The fenced block after `<!-- snippet: NAME -->` in docs/verify-tokens.md.
fn snippet(name: &str) -> String {
    let page = std::fs::read_to_string(repository().join("docs/verify-tokens.md"))
        .expect("docs/verify-tokens.md");
    let marker = format!("<!-- snippet: {name} -->");
    let after = &page[page
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} in docs/verify-tokens.md"))..];
    let code = after
        .split_once("```")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, rest)| rest)
        .expect("a fenced block after the marker");
    code.split_once("```")
        .expect("the block is closed")
        .0
        .to_owned()
}

/// A Warden, one account on it with grants, and that account's tokens.
struct Issuer {
    app: TestApp,
    id: i64,
    access: String,
    refresh: String,
}

async fn issuer(extra: &[(&str, &str)]) -> Issuer {
    let app = spawn_app_with(Backend::Sqlite, extra).await;
    let id = app
        .create_user("ana@example.com", &["editor"], &["read:sensitive"])
        .await;
    let (access, refresh) = app.login("ana@example.com", PASSWORD).await;
    Issuer {
        app,
        id,
        access,
        refresh,
    }
}

/// RS256 with `iss` and `aud` written: the JWKS leg.
async fn rs256() -> Issuer {
    let private = repository().join("tests/fixtures/rs256-private.pem");
    let public = repository().join("tests/fixtures/rs256-public.pem");
    issuer(&[
        ("JWT_ALGORITHM", "RS256"),
        ("JWT_PRIVATE_KEY", private.to_str().expect("path")),
        ("JWT_PUBLIC_KEY", public.to_str().expect("path")),
        ("JWT_ENCODE_ISSUER", ISSUER),
        ("JWT_ENCODE_AUDIENCE", AUDIENCE),
    ])
    .await
}

/// HS256 with the test key: the shared-secret leg.
async fn hs256() -> Issuer {
    issuer(&[]).await
}

/// Tokens the HS256 snippets must refuse although a key signs them: expired, and another key's.
fn forged_refusals(id: i64) -> [(&'static str, String); 2] {
    let expired = TestClaims::access(id).expires_at(now_secs() - 60);
    let valid = TestClaims::access(id);
    [
        ("expired", forge(expired.json(), TEST_KEY, Algorithm::HS256)),
        (
            "signed with another key",
            forge(
                valid.json(),
                "another-key-another-key-another-key!",
                Algorithm::HS256,
            ),
        ),
    ]
}

/// How one language runs a snippet: `verify(name, env, token)` is the claims or the error.
trait Runner {
    fn verify(&self, name: &str, env: &[(&str, &str)], token: &str) -> Result<Value, String>;
}

/// Runs every case of the page against `runner`, for the snippets `jwks` and `secret`;
/// `refuses_without_audience`: the page says this library refuses a token carrying `aud`
/// when no audience is named.
async fn check_snippets(
    runner: impl Runner + Send + 'static,
    [jwks, secret]: [&'static str; 2],
    refuses_without_audience: bool,
) {
    let (rs, hs) = (rs256().await, hs256().await);
    // Off the runtime, which keeps serving both Wardens meanwhile (the JWKS is fetched).
    tokio::task::spawn_blocking(move || {
        let r = &runner;
        let configured = [
            ("AUTH_SERVER", rs.app.base.as_str()),
            ("TOKEN_ISSUER", ISSUER),
            ("TOKEN_AUDIENCE", AUDIENCE),
        ];
        let claims = r
            .verify(jwks, &configured, &rs.access)
            .unwrap_or_else(|e| panic!("{jwks}: an RS256 access token passes: {e}"));
        assert_eq!(claims["sub"], rs.id.to_string(), "{jwks}: {claims}");
        assert_eq!(claims["roles"], serde_json::json!(["editor"]), "{jwks}");
        assert!(
            r.verify(jwks, &configured, &rs.refresh).is_err(),
            "{jwks}: a refresh token is refused"
        );
        let other_audience = [configured[0], configured[1], ("TOKEN_AUDIENCE", "other")];
        assert!(
            r.verify(jwks, &other_audience, &rs.access).is_err(),
            "{jwks}: another audience is refused"
        );
        let other_issuer = [
            configured[0],
            ("TOKEN_ISSUER", "https://other"),
            configured[2],
        ];
        assert!(
            r.verify(jwks, &other_issuer, &rs.access).is_err(),
            "{jwks}: another issuer is refused"
        );
        if refuses_without_audience {
            assert!(
                r.verify(jwks, &configured[..1], &rs.access).is_err(),
                "{jwks}: a token with `aud` is refused when no audience is named"
            );
        }

        let key = [("TOKEN_SECRET", TEST_KEY)];
        let claims = r
            .verify(secret, &key, &hs.access)
            .unwrap_or_else(|e| panic!("{secret}: an HS256 access token passes: {e}"));
        assert_eq!(claims["sub"], hs.id.to_string(), "{secret}: {claims}");
        assert_eq!(claims["type"], "access");
        assert!(
            r.verify(secret, &key, &hs.refresh).is_err(),
            "{secret}: a refresh token is refused"
        );
        for (what, token) in forged_refusals(hs.id) {
            assert!(
                r.verify(secret, &key, &token).is_err(),
                "{secret}: a token {what} is refused"
            );
        }
    })
    .await
    .expect("the checks ran");
}

/// `program`, without the variables the snippets read, so that only a case's own count.
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for name in [
        "AUTH_SERVER",
        "TOKEN_ISSUER",
        "TOKEN_AUDIENCE",
        "TOKEN_SECRET",
    ] {
        command.env_remove(name);
    }
    command
}

/// Runs `command`: its stdout as JSON, or its stderr as the error.
fn json_output(command: &mut Command) -> Result<Value, String> {
    let out = command
        .output()
        .map_err(|e| format!("{command:?} did not start: {e}"))?;
    if out.status.success() {
        serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON ({e}): {out:?}"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Writes snippet `name` into `dir` as `file`; returns its path.
fn write_snippet(dir: &Path, name: &str, file: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).expect("snippet folder");
    let path = dir.join(file);
    std::fs::write(&path, snippet(name)).expect("snippet written");
    path
}

struct Python(std::path::PathBuf);

impl Runner for Python {
    fn verify(&self, name: &str, env: &[(&str, &str)], token: &str) -> Result<Value, String> {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("verify-tokens-python");
        let file = write_snippet(&dir, name, &format!("{}.py", name.replace('-', "_")));
        const DRIVER: &str = "import importlib.util, json, sys\n\
            spec = importlib.util.spec_from_file_location('snippet', sys.argv[1])\n\
            snippet = importlib.util.module_from_spec(spec)\n\
            spec.loader.exec_module(snippet)\n\
            try:\n    print(json.dumps(snippet.verify_access_token(sys.argv[2])))\n\
            except Exception as e:\n    sys.exit(f'{type(e).__name__}: {e}')\n";
        json_output(
            command(&self.0)
                .args(["-c", DRIVER])
                .arg(file)
                .arg(token)
                .envs(env.iter().copied()),
        )
    }
}

struct Node(std::path::PathBuf);

impl Runner for Node {
    fn verify(&self, name: &str, env: &[(&str, &str)], token: &str) -> Result<Value, String> {
        // Under node_modules, so that `import 'jose'` resolves to tests/browser's copy.
        let dir = self.0.join("node_modules/.cache/warden-docs");
        let file = write_snippet(&dir, name, &format!("{name}.mjs"));
        const DRIVER: &str = "import { pathToFileURL } from 'node:url';\n\
            const [file, token] = process.argv.slice(1);\n\
            const { verifyAccessToken } = await import(pathToFileURL(file));\n\
            try { console.log(JSON.stringify(await verifyAccessToken(token))); }\n\
            catch (e) { console.error(`${e.code ?? e.name}: ${e.message}`); process.exit(1); }\n";
        json_output(
            command("node")
                .args(["--input-type=module", "-e", DRIVER])
                .arg(file)
                .arg(token)
                .envs(env.iter().copied()),
        )
    }
}

#[test]
fn the_rust_code_of_the_page_is_the_code_tested_here() {
    let tested = std::fs::read_to_string(repository().join("tests/api/verify_tokens/snippet.rs"))
        .expect("snippet.rs");
    let body: String = tested
        .lines()
        .skip_while(|line| line.starts_with("//!"))
        .skip_while(|line| line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        snippet("rust"),
        body,
        "docs/verify-tokens.md's Rust block and tests/api/verify_tokens/snippet.rs differ"
    );
}

#[tokio::test]
async fn the_rust_code_verifies_warden_tokens_with_the_jwks_and_the_secret() {
    let rs = rs256().await;
    let jwks = snippet::fetch_jwks(&rs.app.base).await.expect("the JWKS");
    let key = snippet::key_from_jwks(&jwks, &rs.access).expect("the token's key");
    let claims = snippet::verify_access_token(
        &rs.access,
        &key,
        Algorithm::RS256,
        Some(ISSUER),
        Some(AUDIENCE),
    )
    .expect("an RS256 access token passes");
    assert_eq!(claims.sub, rs.id.to_string());
    assert_eq!(claims.kind, "access");
    assert!(claims.exp > u64::try_from(now_secs()).expect("after 1970"));
    assert_eq!(
        (claims.roles, claims.permissions),
        (vec!["editor".to_owned()], vec!["read:sensitive".to_owned()])
    );
    let verify = |token: &str, issuer, audience| {
        snippet::verify_access_token(token, &key, Algorithm::RS256, issuer, audience)
    };
    assert!(verify(&rs.refresh, Some(ISSUER), Some(AUDIENCE)).is_err());
    assert!(verify(&rs.access, Some(ISSUER), Some("other")).is_err());
    assert!(verify(&rs.access, Some("https://other"), Some(AUDIENCE)).is_err());
    assert!(verify(&rs.access, None, None).is_ok(), "aud not checked");

    let hs = hs256().await;
    let secret = DecodingKey::from_secret(TEST_KEY.as_bytes()).expect("a key");
    let verify =
        |token: &str| snippet::verify_access_token(token, &secret, Algorithm::HS256, None, None);
    assert_eq!(
        verify(&hs.access)
            .expect("an HS256 access token passes")
            .sub,
        hs.id.to_string()
    );
    assert!(verify(&hs.refresh).is_err());
    for (what, token) in forged_refusals(hs.id) {
        assert!(verify(&token).is_err(), "a token {what} is refused");
    }
}

#[tokio::test]
async fn the_python_code_verifies_warden_tokens_with_the_jwks_and_the_secret() {
    let python = match tokio::task::spawn_blocking(crate::flask_interop::python)
        .await
        .expect("setup")
    {
        Ok(python) => python,
        Err(reason) => {
            eprintln!("SKIPPED verify_tokens (Python): {reason}");
            return;
        }
    };
    check_snippets(Python(python), ["python-jwks", "python-secret"], true).await;
}

#[tokio::test]
async fn the_node_code_verifies_warden_tokens_with_the_jwks_and_the_secret() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED verify_tokens (Node): node is not installed");
        return;
    }
    let dir = match tokio::task::spawn_blocking(crate::browser::node_project)
        .await
        .expect("setup")
    {
        Ok(dir) => dir,
        Err(reason) => {
            // As for PyPI in flask_interop: under CI a skipped leg would hide a failure.
            assert!(std::env::var_os("CI").is_none(), "{reason}");
            eprintln!("SKIPPED verify_tokens (Node): {reason}");
            return;
        }
    };
    check_snippets(Node(dir), ["node-jwks", "node-secret"], false).await;
}
