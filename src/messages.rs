//! Human-readable error messages, overridable per code by a TOML file (`WARDEN_MESSAGES`).
//! Codes never change; only the text a person reads does.

use std::{collections::HashMap, path::Path};

use crate::{
    config::ConfigError,
    error::{AppError, ErrorCode},
};

/// The message catalogue: the contract's defaults, with any overrides applied.
#[derive(Debug, Clone, Default)]
pub struct Messages {
    overrides: HashMap<ErrorCode, String>,
}

impl Messages {
    /// Reads a TOML file of `CODE = "text"` pairs. Unknown codes and non-string values are
    /// refused, so a typo does not silently leave a message untranslated.
    ///
    /// # Errors
    /// A `WARDEN_MESSAGES` configuration error naming the problem.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let err = |reason: String| ConfigError {
            variable: "WARDEN_MESSAGES",
            reason,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|reason| err(format!("{}: {reason}", path.display())))
    }

    /// Parses the catalogue's TOML text.
    ///
    /// # Errors
    /// A sentence naming the first bad entry.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| e.message().to_owned())?;
        let mut overrides = HashMap::new();
        for (key, value) in table {
            let code =
                ErrorCode::parse(&key).ok_or_else(|| format!("unknown error code {key:?}"))?;
            let text = value
                .as_str()
                .ok_or_else(|| format!("the message for {key} must be a string"))?;
            overrides.insert(code, text.to_owned());
        }
        Ok(Self { overrides })
    }

    /// The text shown for an error. An override replaces the default sentence; validation
    /// errors keep their specific sentence, which says what to fix.
    pub fn render(&self, err: &AppError) -> String {
        match (err, self.overrides.get(&err.code())) {
            // A session past its maximum age keeps its own sentence, as validation errors do.
            (AppError::BadUserInput(_) | AppError::SessionExpired, _) | (_, None) => {
                err.to_string()
            }
            (_, Some(text)) => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_replaces_the_default_text() {
        let messages =
            Messages::from_toml("TOKEN_EXPIRED = \"El token ha expirado\"").expect("parses");
        assert_eq!(
            messages.render(&AppError::TokenExpired),
            "El token ha expirado"
        );
        assert_eq!(
            messages.render(&AppError::TokenRevoked),
            "Token has been revoked"
        );
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert!(Messages::from_toml("TOKEN_EXPIRD = \"x\"").is_err());
        assert!(Messages::from_toml("TOKEN_EXPIRED = 3").is_err());
    }

    #[test]
    fn the_spanish_example_covers_every_code() {
        let text = include_str!("../examples/messages.es.toml");
        let messages = Messages::from_toml(text).expect("the example parses");
        for code in ErrorCode::ALL {
            assert!(messages.overrides.contains_key(&code), "{code} missing");
        }
    }
}
