//! Flask-JWT-Extended interop (docs/reference.md, "Token claims"), against the real library: with the same
//! HS256 key, a token made by Flask-JWT-Extended passes Warden's guards, and a Warden access
//! token passes a Flask-JWT-Extended `@jwt_required()` view.
//!
//! The Python side is tests/interop/flask_side.py, run in a virtual environment under
//! `target/` with tests/interop/requirements.txt installed from PyPI (or with the interpreter
//! named by `WARDEN_INTEROP_PYTHON`, which must already have them). Without `python3`, or
//! offline (PyPI unreachable), the test is skipped and says why and what to set; under CI
//! (`CI` set) an unreachable PyPI fails it instead, so a green run never hides a skipped leg.
//! No `venv` module fails it everywhere.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

use serde_json::json;

use crate::{
    backend_test,
    support::{TEST_KEY, spawn_app},
};

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// Runs `command`; its trimmed stdout, or its stderr as the error.
fn run(command: &mut Command) -> Result<String, String> {
    let out = command
        .output()
        .map_err(|e| format!("{command:?} did not start: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{command:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The interpreter with Flask-JWT-Extended (and PyJWT with `cryptography`, for the code of
/// docs/verify-tokens.md), made once per test run; `Err` with the reason to skip when Python is
/// absent or PyPI cannot be reached outside CI.
pub(crate) fn python() -> Result<PathBuf, String> {
    static READY: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(python) = ready.as_ref() {
        return Ok(python.clone());
    }
    if let Some(python) = std::env::var_os("WARDEN_INTEROP_PYTHON").filter(|p| !p.is_empty()) {
        let python = PathBuf::from(python);
        *ready = Some(python.clone());
        return Ok(python);
    }
    if Command::new("python3").arg("--version").output().is_err() {
        return Err("python3 is not installed".to_owned());
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("flask-interop-venv");
    let python = venv.join("bin").join("python");
    let requirements = Path::new(INTEROP).join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).expect("requirements.txt");
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        run(Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv))
        .unwrap_or_else(|e| {
            panic!(
                "cannot make a virtual environment (on Debian: apt-get install python3-venv): {e}"
            )
        });
        let installed = run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--timeout",
                "20",
                "-r",
            ])
            .arg(&requirements));
        if let Err(e) = installed {
            let reason = format!(
                "cannot install tests/interop/requirements.txt from PyPI (offline?); set WARDEN_INTEROP_PYTHON to a Python that has them: {e}"
            );
            assert!(std::env::var_os("CI").is_none(), "{reason}");
            return Err(reason);
        }
        std::fs::write(&stamp, &wanted).expect("stamp");
    }
    *ready = Some(python.clone());
    Ok(python)
}

/// `flask_side.py` with `args`, off the async runtime.
async fn flask_side(python: &Path, args: Vec<String>) -> Result<String, String> {
    let python = python.to_owned();
    tokio::task::spawn_blocking(move || {
        run(Command::new(python)
            .arg(Path::new(INTEROP).join("flask_side.py"))
            .args(args))
    })
    .await
    .expect("ran")
}

backend_test! {
    async fn tokens_cross_between_warden_and_flask_jwt_extended_both_ways(backend) {
        let python = match tokio::task::spawn_blocking(python).await.expect("setup") {
            Ok(python) => python,
            Err(reason) => {
                eprintln!("SKIPPED flask_interop: {reason}");
                return;
            }
        };
        let app = spawn_app(backend).await;
        let id = app.create_user("ana@example.com", &["admin"], &["read:sensitive"]).await;

        // Flask-JWT-Extended → Warden: identity and grants from `additional_claims`.
        let claims = json!({ "roles": ["admin"], "permissions": ["read:sensitive"] }).to_string();
        let token = flask_side(&python, vec!["mint".into(), TEST_KEY.into(), id.to_string(), claims])
            .await
            .expect("Flask-JWT-Extended mints");
        let body = app.graphql(Some(&token), "{ me { id } adminPanel sensitiveData }", json!({})).await;
        assert!(body["errors"].is_null(), "a Flask-JWT-Extended token passes the guards: {body}");
        assert_eq!(body["data"]["me"]["id"], id.to_string());

        // Warden → Flask-JWT-Extended: `get_jwt_identity()` is the user id.
        let (access, refresh) = app.login("ana@example.com", crate::support::PASSWORD).await;
        let identity = flask_side(&python, vec!["verify".into(), TEST_KEY.into(), access.clone()])
            .await
            .expect("a Warden access token passes @jwt_required()");
        assert_eq!(identity, id.to_string());

        // The checks are real on both sides: another key, or a refresh token, is refused.
        let other_key = "another-key-another-key-another-key!".to_owned();
        assert!(flask_side(&python, vec!["verify".into(), other_key, access]).await.is_err());
        assert!(flask_side(&python, vec!["verify".into(), TEST_KEY.into(), refresh]).await.is_err());
    }
}
