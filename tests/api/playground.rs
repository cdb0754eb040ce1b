//! GraphiQL: served from the binary (no CDN), under a strict Content-Security-Policy, and able
//! to load the schema.

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    backend_test,
    support::{spawn_app, spawn_app_with},
};

backend_test! {
    async fn the_introspection_query_graphiql_sends_is_answered(backend) {
        let app = spawn_app(backend).await;
        let query = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/introspection.graphql")).expect("fixture");
        let body = app.graphql(None, &query, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        assert!(body["data"]["__schema"]["types"].as_array().is_some_and(|t| t.len() > 10));
        let directives: Vec<&str> = body["data"]["__schema"]["directives"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str())
            .collect();
        for guard in ["authenticated", "fresh", "refreshToken", "hasRole", "hasPermission", "selfOrPermission"] {
            assert!(directives.contains(&guard), "{guard} in {directives:?}");
        }
    }
}

backend_test! {
    async fn graphiql_assets_are_served_locally_under_a_strict_policy(backend) {
        let app = spawn_app(backend).await;
        let page = app.client.get(format!("{}/graphql", app.base)).header("accept", "text/html").send().await.expect("sent");
        let policy = page.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).map(str::to_owned).expect("a CSP");
        assert!(policy.contains("script-src 'self'") && !policy.contains("script-src 'self' 'unsafe-inline'"), "{policy}");
        let html = page.text().await.expect("text");
        assert!(!html.contains("unpkg") && !html.contains("cdn"), "no third-party scripts: {html}");
        for asset in ["graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js", "init.js"] {
            assert!(html.contains(&format!("/graphiql/{asset}")), "{asset} linked");
            let response = app.client.get(format!("{}/graphiql/{asset}", app.base)).send().await.expect("sent");
            assert_eq!(response.status(), StatusCode::OK, "{asset}");
        }
        let missing = app.client.get(format!("{}/graphiql/../Cargo.toml", app.base)).send().await.expect("sent");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);

        let off = spawn_app_with(backend, &[("WARDEN_PLAYGROUND", "0")]).await;
        let asset = off.client.get(format!("{}/graphiql/init.js", off.base)).send().await.expect("sent");
        assert_eq!(asset.status(), StatusCode::NOT_FOUND);
    }
}

/// Renders the page in headless Chromium with the network closed to all but the app, and
/// reads the DOM React built: the scripts loaded from the app, passed the CSP, and ran.
#[tokio::test]
#[cfg_attr(
    not(browser_leg),
    ignore = "browser test skipped: set WARDEN_CHROMIUM to a Chromium binary to run it"
)]
async fn graphiql_renders_in_a_real_browser_without_internet() {
    let app = spawn_app(crate::support::Backend::Sqlite).await;
    let chromium = std::env::var("WARDEN_CHROMIUM").expect("WARDEN_CHROMIUM");
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("{}/graphql", app.base);
    let output = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(&url)
        .output()
        .await
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL rendered: {dom}"
    );
    assert!(
        !dom.contains("Loading GraphiQL"),
        "the placeholder was replaced"
    );
    assert!(!dom.contains("nested too deep"), "the schema loaded");
}
