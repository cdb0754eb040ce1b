//! Configuration errors as an operator meets them: the binary stops with one line naming the
//! variable (docs/reference.md, "Environment variables"), and `.env` is read from the current folder only.

use crate::cli::warden_in;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_cors_wildcard_stops_the_binary_with_a_line_naming_the_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    for origins in [
        "*",
        "https://app.example.com,*",
        "app.example.com",
        "https://app.example.com/",
    ] {
        let out = warden_in(
            dir.path(),
            "sqlite::memory:",
            &["migrate"],
            None,
            &[("WARDEN_CORS_ORIGINS", origins)],
        );
        let stderr = stderr(&out);
        assert!(!out.status.success(), "{origins}: {stderr}");
        assert!(
            stderr.contains("WARDEN_CORS_ORIGINS"),
            "{origins}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{origins}: {stderr}");
    }
}

#[test]
fn configuration_errors_stop_the_binary_with_their_variable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let strong = "k".repeat(64);
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("JWT_DECODE_LEEWAY", &[("JWT_DECODE_LEEWAY", "10m")]),
        ("JWT_COOKIE_SAMESITE", &[("JWT_COOKIE_SAMESITE", "None")]),
        (
            "JWT_SECRET_KEY",
            &[
                ("WARDEN_ENV", "production"),
                ("JWT_ALGORITHM", "HS512"),
                ("JWT_SECRET_KEY", &strong[..48]),
            ],
        ),
        ("WARDEN_MAX_DEPTH", &[("WARDEN_MAX_DEPTH", "0")]),
    ];
    for (variable, env) in cases {
        // `serve` reads every section (`migrate` leaves the signing key alone).
        let env: Vec<(&str, &str)> = [("WARDEN_ADDR", "127.0.0.1:0")]
            .into_iter()
            .chain(env.iter().copied())
            .collect();
        let out = warden_in(dir.path(), "sqlite::memory:", &["serve"], None, &env);
        let stderr = stderr(&out);
        assert!(!out.status.success(), "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

#[test]
fn dotenv_is_read_from_the_current_folder_only() {
    let parent = tempfile::tempdir().expect("temp dir");
    std::fs::write(parent.path().join(".env"), "WARDEN_ENV=staging\n").expect(".env");
    let child = parent.path().join("child");
    std::fs::create_dir(&child).expect("child folder");
    // The parent's .env would stop the process: it is not read.
    let out = warden_in(&child, "sqlite::memory:", &["migrate"], None, &[]);
    assert!(
        out.status.success(),
        "a parent folder's .env was read: {}",
        stderr(&out)
    );
    // The current folder's is.
    let out = warden_in(parent.path(), "sqlite::memory:", &["migrate"], None, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("WARDEN_ENV"), "{}", stderr(&out));
}
