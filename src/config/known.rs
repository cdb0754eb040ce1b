//! Every variable Warden reads, so that one it does not know (a misspelling such as
//! `JWT_ACCESS_TOKEN_EXPIRE`) is reported at start instead of being ignored in silence.
//!
//! A test keeps this list and the variables the code reads in step (`tests/api/docs_reference.rs`).

/// The configuration variables, and the few the test suite reads (which an operator never
/// sets, but a developer's shell may hold).
pub const KNOWN_VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "JWT_ACCESS_COOKIE_NAME",
    "JWT_ACCESS_CSRF_COOKIE_NAME",
    "JWT_ACCESS_TOKEN_EXPIRES",
    "JWT_ALGORITHM",
    "JWT_COOKIE_CSRF_PROTECT",
    "JWT_COOKIE_DOMAIN",
    "JWT_COOKIE_SAMESITE",
    "JWT_COOKIE_SECURE",
    "JWT_CSRF_HEADER_NAME",
    "JWT_DECODE_AUDIENCE",
    "JWT_DECODE_ISSUER",
    "JWT_DECODE_LEEWAY",
    "JWT_ENCODE_AUDIENCE",
    "JWT_ENCODE_ISSUER",
    "JWT_HEADER_NAME",
    "JWT_HEADER_TYPE",
    "JWT_PRIVATE_KEY",
    "JWT_PUBLIC_KEY",
    "JWT_REFRESH_COOKIE_NAME",
    "JWT_REFRESH_CSRF_COOKIE_NAME",
    "JWT_REFRESH_TOKEN_EXPIRES",
    "JWT_SECRET_KEY",
    "JWT_SESSION_COOKIE",
    "JWT_TOKEN_LOCATION",
    "WARDEN_ADDR",
    "WARDEN_ADMIN_EMAIL",
    "WARDEN_ADMIN_PASSWORD",
    "WARDEN_ARGON2_ITERATIONS",
    "WARDEN_ARGON2_MEMORY",
    "WARDEN_ARGON2_PARALLELISM",
    "WARDEN_CORS_ORIGINS",
    "WARDEN_ENV",
    "WARDEN_HASH_CONCURRENCY",
    "WARDEN_INTROSPECTION",
    "WARDEN_LOGIN_LIMIT_ACCOUNT",
    "WARDEN_LOGIN_LIMIT_IP",
    "WARDEN_LOG_FORMAT",
    "WARDEN_MAX_ALIASES",
    "WARDEN_MAX_BATCH",
    "WARDEN_MAX_COMPLEXITY",
    "WARDEN_MAX_DEPTH",
    "WARDEN_MESSAGES",
    "WARDEN_METRICS_ADDR",
    "WARDEN_PASSWORD_MIN_LENGTH",
    "WARDEN_PLAYGROUND",
    "WARDEN_REFRESH_REUSE_GRACE",
    "WARDEN_REVOCATION_MAX_LAG",
    "WARDEN_SESSION_MAX_AGE",
    "WARDEN_SIGNUP",
    "WARDEN_TRUSTED_PROXIES",
    "WARDEN_WS_MAX_OPERATIONS",
    "WARDEN_WS_MAX_PER_USER",
    // Read by the test suite only.
    "WARDEN_CHROMIUM",
    "WARDEN_INTEROP_PYTHON",
];

/// The names among `names` that look like Warden's (`JWT_…`, `WARDEN_…`) but are not.
pub(super) fn unknown<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut unknown: Vec<&str> = names
        .into_iter()
        .filter(|n| n.starts_with("JWT_") || n.starts_with("WARDEN_"))
        .filter(|n| !KNOWN_VARIABLES.contains(n))
        .collect();
    unknown.sort_unstable();
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_variables_are_found_and_others_left_alone() {
        // Spelt in lower case here, so that the reference's scan of the sources (which looks
        // for quoted upper-case names) does not take them for variables Warden reads.
        let misspelt = ["jwt_access_token_expire", "warden_sign_up"].map(str::to_uppercase);
        let set = [
            misspelt[0].as_str(),
            misspelt[1].as_str(),
            "JWT_SECRET_KEY",
            "PATH",
            "RUST_LOG",
        ];
        assert_eq!(unknown(set), [misspelt[0].as_str(), misspelt[1].as_str()]);
    }
}
