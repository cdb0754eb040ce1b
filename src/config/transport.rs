//! The transport section: where tokens travel (headers, cookies or both), the header names,
//! the cookies' names and attributes, and the CSRF double submit (`JWT_TOKEN_LOCATION`,
//! `JWT_HEADER_NAME`, `JWT_COOKIE_*`, `JWT_CSRF_HEADER_NAME`, …).
//!
//! Its own module because these settings are the HTTP side of tokens, read by the HTTP
//! layer and the cookie writer, and independent of how tokens are signed.
//!
//! Read in three steps, [`Channels::load`], [`Channels::cookie_secure`] and
//! [`TransportConfig::load`], with other sections' variables checked between them as they
//! always were (see [`super::Config::from_lookup`]).

use super::{ConfigError, env::Env};

/// Where a request's token may travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLocation {
    /// `Authorization: Bearer …` (names configurable).
    Headers,
    /// `access_token_cookie` / `refresh_token_cookie` with double-submit CSRF.
    Cookies,
}

/// `SameSite` attribute of token cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (browsers then require `Secure`).
    None,
}

/// Where tokens travel and what the cookies look like.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Locations in the order they are tried.
    pub locations: Vec<TokenLocation>,
    /// Header carrying the token.
    pub header_name: String,
    /// Scheme word before the token in that header (may be empty).
    pub header_type: String,
    /// `Secure` on token cookies.
    pub cookie_secure: bool,
    /// `SameSite` on token cookies.
    pub cookie_samesite: SameSite,
    /// Token cookies end with the browser session (no `Max-Age`), as in Flask-JWT-Extended.
    pub session_cookie: bool,
    /// `Domain` of every cookie (`JWT_COOKIE_DOMAIN`); `None`: host-only cookies.
    pub cookie_domain: Option<String>,
    /// Double-submit CSRF check for cookie tokens.
    pub csrf_protect: bool,
    /// Access-token cookie name.
    pub access_cookie: String,
    /// Refresh-token cookie name.
    pub refresh_cookie: String,
    /// Access CSRF cookie name (readable by scripts).
    pub access_csrf_cookie: String,
    /// Refresh CSRF cookie name (readable by scripts).
    pub refresh_csrf_cookie: String,
    /// Header that must echo the CSRF cookie.
    pub csrf_header: String,
}

impl TransportConfig {
    /// True when tokens may travel in cookies.
    pub fn uses_cookies(&self) -> bool {
        self.locations.contains(&TokenLocation::Cookies)
    }

    /// True when tokens may travel in headers (and so appear in response bodies).
    pub fn uses_headers(&self) -> bool {
        self.locations.contains(&TokenLocation::Headers)
    }

    /// The section's last step: the header type, `JWT_SESSION_COOKIE`,
    /// `JWT_COOKIE_CSRF_PROTECT` and the cookie names, with what the first two steps read.
    pub(super) fn load(
        env: &Env<'_>,
        channels: Channels,
        cookie_secure: bool,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            locations: channels.locations,
            header_name: channels.header_name,
            header_type: env.string("JWT_HEADER_TYPE", "Bearer").trim().to_owned(),
            cookie_secure,
            cookie_samesite: channels.cookie_samesite,
            session_cookie: env.bool("JWT_SESSION_COOKIE")?.unwrap_or(true),
            cookie_domain: cookie_domain(env.get("JWT_COOKIE_DOMAIN"))?,
            csrf_protect: env.bool("JWT_COOKIE_CSRF_PROTECT")?.unwrap_or(true),
            access_cookie: env.string("JWT_ACCESS_COOKIE_NAME", "access_token_cookie"),
            refresh_cookie: env.string("JWT_REFRESH_COOKIE_NAME", "refresh_token_cookie"),
            access_csrf_cookie: env.string("JWT_ACCESS_CSRF_COOKIE_NAME", "csrf_access_token"),
            refresh_csrf_cookie: env.string("JWT_REFRESH_CSRF_COOKIE_NAME", "csrf_refresh_token"),
            csrf_header: channels.csrf_header,
        })
    }
}

/// `JWT_COOKIE_DOMAIN`: a host name (a leading dot, as older browsers wrote it, is allowed),
/// never a URL, a port or a path, which browsers would silently ignore, leaving the app
/// without its CSRF cookie.
fn cookie_domain(value: Option<String>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value.map(|v| v.trim().to_owned()) else {
        return Ok(None);
    };
    let name = value.strip_prefix('.').unwrap_or(&value);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        return Err(ConfigError::new(
            "JWT_COOKIE_DOMAIN",
            format!("expected a host name such as example.com, got {value:?}"),
        ));
    }
    Ok(Some(value.to_ascii_lowercase()))
}

/// The section's first step: the token locations, the cookies' `SameSite`, and the two
/// header names (the token's and the CSRF echo's).
pub(super) struct Channels {
    locations: Vec<TokenLocation>,
    cookie_samesite: SameSite,
    header_name: String,
    csrf_header: String,
}

impl Channels {
    /// `JWT_TOKEN_LOCATION` (default: headers), `JWT_COOKIE_SAMESITE` (default: Lax),
    /// `JWT_HEADER_NAME` and `JWT_CSRF_HEADER_NAME`, in that order.
    pub(super) fn load(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut locations = Vec::new();
        for item in env.list("JWT_TOKEN_LOCATION") {
            let location = match item.to_ascii_lowercase().as_str() {
                "headers" => TokenLocation::Headers,
                "cookies" => TokenLocation::Cookies,
                other => {
                    return Err(ConfigError::new(
                        "JWT_TOKEN_LOCATION",
                        format!("unknown location {other:?}; use headers and/or cookies"),
                    ));
                }
            };
            if !locations.contains(&location) {
                locations.push(location);
            }
        }
        if locations.is_empty() {
            locations.push(TokenLocation::Headers);
        }

        let cookie_samesite = match env
            .string("JWT_COOKIE_SAMESITE", "Lax")
            .to_ascii_lowercase()
            .as_str()
        {
            "strict" => SameSite::Strict,
            "lax" => SameSite::Lax,
            "none" => SameSite::None,
            other => {
                return Err(ConfigError::new(
                    "JWT_COOKIE_SAMESITE",
                    format!("expected Strict, Lax or None, got {other:?}"),
                ));
            }
        };

        Ok(Self {
            locations,
            cookie_samesite,
            header_name: header_name(env, "JWT_HEADER_NAME", "Authorization")?,
            csrf_header: header_name(env, "JWT_CSRF_HEADER_NAME", "X-CSRF-TOKEN")?,
        })
    }

    /// The second step: `JWT_COOKIE_SECURE` (default: on in production only), refused off
    /// when `SameSite=None`, which browsers drop without `Secure`.
    pub(super) fn cookie_secure(
        &self,
        env: &Env<'_>,
        production: bool,
    ) -> Result<bool, ConfigError> {
        let cookie_secure = env.bool("JWT_COOKIE_SECURE")?.unwrap_or(production);
        if self.cookie_samesite == SameSite::None && !cookie_secure {
            return Err(ConfigError::new(
                "JWT_COOKIE_SAMESITE",
                "None needs JWT_COOKIE_SECURE=true (browsers drop SameSite=None cookies without Secure)",
            ));
        }
        Ok(cookie_secure)
    }
}

/// The variable `name` (or `default`), refused unless it can be an HTTP header name.
fn header_name(env: &Env<'_>, name: &'static str, default: &str) -> Result<String, ConfigError> {
    let value = env.string(name, default);
    if !is_field_name(&value) {
        return Err(ConfigError::new(
            name,
            format!("{value:?} is not a valid header name"),
        ));
    }
    Ok(value)
}

/// Longest header name the `http` crate (so axum) accepts, bytes.
const MAX_FIELD_NAME_BYTES: usize = u16::MAX as usize;

/// True when `name` is a valid HTTP field (header) name: an RFC 9110 `token`, one or more of
/// ``!#$%&'*+-.^_`|~``, digits and ASCII letters. It also holds the `http` crate's length
/// bound, so that it accepts exactly what `HeaderName::from_bytes` accepts.
fn is_field_name(name: &str) -> bool {
    const SYMBOLS: &[u8] = b"!#$%&'*+-.^_`|~";
    !name.is_empty()
        && name.len() <= MAX_FIELD_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || SYMBOLS.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load;

    #[test]
    fn the_cookie_domain_is_a_host_name_or_nothing() {
        assert_eq!(load(&[]).expect("loads").transport.cookie_domain, None);
        for (given, kept) in [
            ("example.test", "example.test"),
            (".Example.TEST", ".example.test"),
            ("localhost", "localhost"),
        ] {
            let config = load(&[("JWT_COOKIE_DOMAIN", given)]).expect(given);
            assert_eq!(config.transport.cookie_domain.as_deref(), Some(kept));
        }
        for bad in [
            "https://example.test",
            "example.test:8000",
            "example.test/app",
            "exa mple.test",
            ".",
            "a..b",
        ] {
            let err = load(&[("JWT_COOKIE_DOMAIN", bad)]).expect_err(bad);
            assert_eq!(err.variable, "JWT_COOKIE_DOMAIN");
        }
    }

    #[test]
    fn cookies_are_secure_by_default_in_production_only() {
        let development = load(&[]).expect("loads");
        assert!(!development.transport.cookie_secure);
        assert!(development.transport.session_cookie);
        let production = load(&[
            ("WARDEN_ENV", "production"),
            ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ])
        .expect("loads");
        assert!(production.transport.cookie_secure);
        let none = load(&[
            ("JWT_COOKIE_SAMESITE", "None"),
            ("JWT_COOKIE_SECURE", "true"),
        ])
        .expect("SameSite=None with Secure");
        assert_eq!(none.transport.cookie_samesite, SameSite::None);
        let err = load(&[
            ("WARDEN_ENV", "production"),
            ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("JWT_COOKIE_SAMESITE", "None"),
            ("JWT_COOKIE_SECURE", "false"),
        ])
        .expect_err("SameSite=None without Secure");
        assert_eq!(err.variable, "JWT_COOKIE_SAMESITE");
    }

    #[test]
    fn header_names_are_http_tokens() {
        let longest = "a".repeat(MAX_FIELD_NAME_BYTES);
        for valid in [
            "Authorization",
            "X-CSRF-TOKEN",
            "x-api-key",
            "X_Token.v2",
            "!#$%&'*+-.^_`|~",
            "0",
            &longest,
        ] {
            assert!(is_field_name(valid), "{valid:?} is a header name");
        }
        let too_long = "a".repeat(MAX_FIELD_NAME_BYTES + 1);
        for invalid in [
            "",
            " ",
            "X-Token ",
            " Authorization",
            "X Token",
            "X-Token:",
            "X-\"Token\"",
            "(comment)",
            "a/b",
            "a@b",
            "a,b",
            "a;b",
            "a=b",
            "a[b]",
            "a{b}",
            "a\\b",
            "a?b",
            "a\tb",
            "a\nb",
            "a\0b",
            "a\x7fb",
            "Tökén",
            &too_long,
        ] {
            assert!(!is_field_name(invalid), "{invalid:?} is no header name");
        }
        let err = load(&[("JWT_HEADER_NAME", "X Token")]).expect_err("a space");
        assert_eq!(
            err.to_string(),
            "JWT_HEADER_NAME: \"X Token\" is not a valid header name"
        );
        let err = load(&[("JWT_CSRF_HEADER_NAME", "X-CSRF:")]).expect_err("a colon");
        assert_eq!(
            err.to_string(),
            "JWT_CSRF_HEADER_NAME: \"X-CSRF:\" is not a valid header name"
        );
    }
}
