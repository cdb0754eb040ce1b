//! Password hashing with argon2id at no less than OWASP's minimum (m = 19 MiB, t = 2, p = 1).
//!
//! Hashing is deliberately slow, so it always runs on tokio's blocking pool: an async worker
//! that hashed would stall every request scheduled on it.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{AppError, AppResult};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD_BYTES: usize = 1024;

fn hasher() -> Argon2<'static> {
    // OWASP's minimum for argon2id; also argon2 0.6's defaults, spelled out so that a
    // change of defaults upstream cannot weaken us silently.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the password policy.
///
/// # Errors
/// `BAD_USER_INPUT` with a sentence saying what is wrong.
pub fn check_policy(password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::bad_input(format!(
            "Password must be at least {MIN_PASSWORD_CHARS} characters long."
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AppError::bad_input(format!(
            "Password must be at most {MAX_PASSWORD_BYTES} bytes long."
        )));
    }
    Ok(())
}

/// Hashes a password on the blocking pool; returns the PHC string.
///
/// # Errors
/// Internal when the pool or the hasher fails.
pub async fn hash(password: SecretString) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(format!("password hashing task failed: {e}")))?
}

/// Verifies a password against a PHC string on the blocking pool. A malformed stored hash
/// verifies as false (and is logged), never as an error the client could tell apart.
///
/// # Errors
/// Internal when the pool fails.
pub async fn verify(password: SecretString, phc: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        match hasher().verify_password(password.expose_secret().as_bytes(), phc.as_str()) {
            Ok(()) => true,
            Err(argon2::password_hash::Error::PasswordInvalid) => false,
            Err(e) => {
                tracing::error!(error = %e, "stored password hash cannot be verified");
                false
            }
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("password verification task failed: {e}")))
}

/// A hash of a random password, verified against when the email is unknown so that both
/// failure paths cost one argon2 verification.
///
/// # Errors
/// Internal when hashing fails.
pub async fn dummy_hash() -> AppResult<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("rng failed: {e}")))?;
    let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hash(random.into()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse".to_owned().into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify("correct horse".to_owned().into(), phc.clone())
                .await
                .expect("verify")
        );
        assert!(
            !verify("wrong horse".to_owned().into(), phc)
                .await
                .expect("verify")
        );
    }

    #[tokio::test]
    async fn a_malformed_hash_verifies_as_false() {
        assert!(
            !verify("x".to_owned().into(), "not-a-phc".into())
                .await
                .expect("verify")
        );
    }

    #[test]
    fn the_policy_wants_eight_characters() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("long enough").is_ok());
    }
}
