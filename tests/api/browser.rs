//! The example app, GraphiQL's subscription and a foreign origin, in Debian's Chromium driven
//! by playwright-core (`tests/browser/e2e.mjs`). Screenshots of failures land in
//! `target/tmp/browser-artifacts`.

use crate::support::{Backend, PASSWORD, spawn_app_with};

#[tokio::test]
#[cfg_attr(
    not(browser_leg),
    ignore = "browser test skipped: set WARDEN_CHROMIUM to a Chromium binary to run it"
)]
async fn the_example_app_graphiql_and_a_foreign_origin_behave_as_promised_in_chromium() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("JWT_TOKEN_LOCATION", "headers,cookies"),
            ("WARDEN_CORS_ORIGINS", "http://app.example"),
        ],
    )
    .await;
    app.create_user("ana@example.com", &[], &[]).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        let installed = tokio::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .await
            .expect("npm runs (install nodejs and npm)");
        assert!(installed.success(), "npm ci in tests/browser");
    }
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-artifacts");
    let output = tokio::process::Command::new("node")
        .arg("e2e.mjs")
        .args([app.base.as_str(), "ana@example.com", PASSWORD])
        .arg(&artifacts)
        .current_dir(&dir)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{stderr}");
}
