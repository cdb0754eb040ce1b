//! Turns on the PostgreSQL leg of the integration tests when `TEST_DATABASE_URL` is set (and
//! the browser test when `WARDEN_CHROMIUM` is), so that without them those tests show as
//! ignored with the reason rather than passing silently.

fn main() {
    // The browser test of the GraphiQL page runs when WARDEN_CHROMIUM names a Chromium binary.
    println!("cargo::rerun-if-env-changed=WARDEN_CHROMIUM");
    println!("cargo::rustc-check-cfg=cfg(browser_leg)");
    if std::env::var("WARDEN_CHROMIUM").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=browser_leg");
    }
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(postgres_leg)");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=postgres_leg");
    }
}
