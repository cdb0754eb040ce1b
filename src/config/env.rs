//! Reading the variables: the lookup every section reads through (empty values count as
//! unset), the parsers the sections share (booleans, durations, comma lists), and `.env`.
//!
//! Kept apart so that every section reads and parses its variables the same way.

use std::time::Duration;

use super::ConfigError;

/// Reads variables by name; empty values count as unset.
pub(super) struct Env<'a> {
    /// Where values come from: the process environment, a map, or any function.
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    pub(super) fn bool(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(name).map(|v| parse_bool(name, &v)).transpose()
    }

    pub(super) fn duration(
        &self,
        name: &'static str,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        parse_duration(name, &self.string(name, default))
    }

    /// A whole number from `min` to `max` (`usize::MAX`: no upper bound).
    pub(super) fn number(
        &self,
        name: &'static str,
        default: usize,
        min: usize,
        max: usize,
    ) -> Result<usize, ConfigError> {
        let Some(text) = self.get(name) else {
            return Ok(default);
        };
        match text.trim().parse::<usize>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => {
                let range = if max == usize::MAX {
                    format!("of at least {min}")
                } else {
                    format!("from {min} to {max}")
                };
                Err(ConfigError::new(
                    name,
                    format!("expected a whole number {range}, got {text:?}"),
                ))
            }
        }
    }

    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Reads `.env` into the environment (variables already set win). A missing file is normal;
/// a malformed one is reported by name. Only the current directory's: `dotenvy::dotenv()`
/// would also search the parent folders, and pick up a file the operator never meant for
/// this process.
pub(super) fn read_dotenv() -> Result<(), ConfigError> {
    match dotenvy::from_path(".env") {
        Err(e) if !e.not_found() => Err(ConfigError::new(".env", e.to_string())),
        _ => Ok(()),
    }
}

/// `true`/`false`, also `1`/`0` (and `yes`/`no`, `on`/`off`), case-insensitive.
fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ConfigError::new(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

/// Integer seconds (`900`) or humantime text (`15m`, `30d`).
pub fn parse_duration(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(value).map_err(|e| {
        ConfigError::new(
            name,
            format!("expected seconds or a duration like 15m or 30d, got {value:?} ({e})"),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::Algorithm;

    use crate::config::tests::load;

    #[test]
    fn durations_take_seconds_or_humantime() {
        let config = load(&[
            ("JWT_ACCESS_TOKEN_EXPIRES", "90"),
            ("JWT_REFRESH_TOKEN_EXPIRES", "2h"),
        ])
        .expect("loads");
        assert_eq!(config.jwt.access_ttl, Duration::from_secs(90));
        assert_eq!(config.jwt.refresh_ttl, Duration::from_secs(7200));
    }

    #[test]
    fn empty_values_count_as_unset_and_booleans_take_digits() {
        let config = load(&[
            ("WARDEN_SIGNUP", "1"),
            ("WARDEN_PLAYGROUND", "0"),
            ("JWT_ALGORITHM", ""),
        ])
        .expect("loads");
        assert!(config.signup);
        assert!(!config.playground);
        assert_eq!(config.jwt.algorithm, Algorithm::HS256);
    }
}
