//! Turns on the PostgreSQL leg of the integration tests when `TEST_DATABASE_URL` is set, so
//! that without it those tests show as ignored with the reason rather than passing silently.

fn main() {
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(postgres_leg)");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=postgres_leg");
    }
}
