//! The example app, GraphiQL and a foreign origin, in Debian's Chromium driven by
//! playwright-core (`tests/browser/e2e.mjs`). Screenshots of failures land in
//! `target/tmp/browser-artifacts`.
//!
//! Several Wardens run side by side, one per configuration the script needs: the main one
//! (`headers,cookies`; also three tabs racing refreshes), one with a two-second access token (the app reopened after expiry),
//! one in header mode, and two in cookie mode behind the host names `auth.example.test`, with
//! and without `JWT_COOKIE_DOMAIN`, for the app page served from `app.example.test` by
//! [`serve_app_pages`]. Chromium maps `*.example.test` to 127.0.0.1.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

use axum::{
    Router,
    extract::{Path as UrlPath, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::support::{Backend, PASSWORD, TestApp, spawn_app_with};

const EMAIL: &str = "ana@example.com";

/// `tests/browser` with its npm packages installed (playwright-core for this test, jose for
/// `verify_tokens`): `npm ci` runs once per test run, and again whenever package-lock.json
/// has changed since the last install. `Err` when node or npm cannot run or the install fails.
pub(crate) fn node_project() -> Result<PathBuf, String> {
    static READY: Mutex<bool> = Mutex::new(false);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if *ready {
        return Ok(dir);
    }
    let lock = std::fs::read_to_string(dir.join("package-lock.json"))
        .map_err(|e| format!("tests/browser/package-lock.json: {e}"))?;
    let stamp = dir.join("node_modules/.warden-installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("npm did not start (install nodejs and npm): {e}"))?;
        if !status.success() {
            return Err(format!("npm ci in tests/browser failed ({status})"));
        }
        std::fs::write(&stamp, &lock).map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    *ready = true;
    Ok(dir)
}

/// `http://127.0.0.1:PORT` as `http://auth.example.test:PORT`.
fn as_auth_host(app: &TestApp) -> String {
    app.base.replace("127.0.0.1", "auth.example.test")
}

/// The Wardens each page case talks to: `(case, Warden origin)`.
type Cases = std::sync::Arc<Vec<(String, String)>>;

/// The example app as another host serves it: `/{case}/` is `examples/browser/index.html`
/// with its `warden-url` meta naming that case's Warden, under a policy that lets the page
/// reach that Warden and nothing else.
async fn app_page(State(cases): State<Cases>, UrlPath(path): UrlPath<String>) -> Response {
    let (case, file) = path.split_once('/').unwrap_or((path.as_str(), ""));
    let Some((_, warden)) = cases.iter().find(|(name, _)| name == case) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (file, content_type) = match file {
        "" | "index.html" => ("index.html", "text/html; charset=utf-8"),
        "app.js" => ("app.js", "text/javascript; charset=utf-8"),
        "app.css" => ("app.css", "text/css; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/browser");
    let Ok(mut body) = std::fs::read_to_string(dir.join(file)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if file == "index.html" {
        let empty = r#"<meta name="warden-url" content="">"#;
        assert!(body.contains(empty), "index.html keeps {empty}");
        body = body.replace(
            empty,
            &format!(r#"<meta name="warden-url" content="{warden}">"#),
        );
    }
    let socket = warden.replace("http://", "ws://");
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src {warden} {socket}; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_SECURITY_POLICY, policy),
        ],
        body,
    )
        .into_response()
}

/// Serves [`app_page`] on `listener` until the test ends.
fn serve_app_pages(listener: tokio::net::TcpListener, cases: Vec<(String, String)>) {
    let router = Router::new()
        .route("/{*path}", get(app_page))
        .with_state(std::sync::Arc::new(cases));
    tokio::spawn(async move { axum::serve(listener, router).await });
}

#[tokio::test]
#[cfg_attr(
    not(browser_leg),
    ignore = "browser test skipped: set WARDEN_CHROMIUM to a Chromium binary to run it"
)]
async fn the_example_app_graphiql_and_a_foreign_origin_behave_as_promised_in_chromium() {
    // The app pages' origin must be known before the Wardens that list it start.
    let pages = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the app pages' port");
    let pages_origin = format!(
        "http://app.example.test:{}",
        pages.local_addr().expect("address").port()
    );

    let main = spawn_app_with(
        Backend::Sqlite,
        &[
            ("JWT_TOKEN_LOCATION", "headers,cookies"),
            ("WARDEN_CORS_ORIGINS", "http://app.example"),
        ],
    )
    .await;
    // The shortest lifetime the configuration accepts is anything over zero; two seconds
    // leaves the page time to act between expiries.
    let short = spawn_app_with(
        Backend::Sqlite,
        &[
            ("JWT_TOKEN_LOCATION", "cookies"),
            ("JWT_ACCESS_TOKEN_EXPIRES", "2s"),
        ],
    )
    .await;
    let header = spawn_app_with(Backend::Sqlite, &[("JWT_TOKEN_LOCATION", "headers")]).await;
    let cross_host = [
        ("JWT_TOKEN_LOCATION", "cookies"),
        ("WARDEN_CORS_ORIGINS", pages_origin.as_str()),
    ];
    let shared = spawn_app_with(
        Backend::Sqlite,
        &[
            cross_host.as_slice(),
            &[("JWT_COOKIE_DOMAIN", "example.test")],
        ]
        .concat(),
    )
    .await;
    let host_only = spawn_app_with(Backend::Sqlite, &cross_host).await;
    for app in [&main, &short, &header, &shared, &host_only] {
        app.create_user(EMAIL, &[], &[]).await;
    }
    serve_app_pages(
        pages,
        vec![
            ("shared".to_owned(), as_auth_host(&shared)),
            ("host-only".to_owned(), as_auth_host(&host_only)),
        ],
    );

    let dir = tokio::task::spawn_blocking(node_project)
        .await
        .expect("ran")
        .unwrap_or_else(|e| panic!("{e}"));
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    let config = json!({
        "email": EMAIL,
        "password": PASSWORD,
        "artifacts": artifacts,
        "wardens": {
            "main": main.base,
            "short": short.base,
            "header": header.base,
        },
        "crossHost": {
            "shared": format!("{pages_origin}/shared/"),
            "hostOnly": format!("{pages_origin}/host-only/"),
        },
    });
    let output = tokio::process::Command::new("node")
        .arg("e2e.mjs")
        .arg(config.to_string())
        .current_dir(&dir)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{stderr}");
}
