//! What an account's fields may be: an email's shape, a display name, role and permission
//! names. Every path that writes one (API, CLI, bootstrap, import) goes through here.

use crate::error::{AppError, AppResult};

/// Longest email accepted (RFC 5321's path limit).
const MAX_EMAIL_BYTES: usize = 254;
/// Longest display name accepted.
const MAX_NAME_CHARS: usize = 100;
/// Longest role or permission name accepted.
const MAX_GRANT_BYTES: usize = 64;

/// Trims and lower-cases an email and checks its shape.
///
/// # Errors
/// `BAD_USER_INPUT` when it does not look like an email address.
pub fn normalize_email(email: &str) -> AppResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL_BYTES
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if valid {
        Ok(email)
    } else {
        Err(AppError::bad_input("Email must be a valid email address."))
    }
}

pub(crate) fn normalize_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::bad_input("Name must not be empty."));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::bad_input(format!(
            "Name must be at most {MAX_NAME_CHARS} printable characters."
        )));
    }
    Ok(name.to_owned())
}

/// Checks role or permission names (`admin`, `read:sensitive`) and sorts them uniquely.
///
/// # Errors
/// `BAD_USER_INPUT` naming the first bad entry.
pub fn normalize_grants(kind: &str, names: &[String]) -> AppResult<Vec<String>> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim();
        let valid = !name.is_empty()
            && name.len() <= MAX_GRANT_BYTES
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '*'));
        if !valid {
            return Err(AppError::bad_input(format!(
                "{kind} {name:?} is not valid: use up to {MAX_GRANT_BYTES} letters, digits and : _ - . *"
            )));
        }
        out.push(name.to_owned());
    }
    out.sort();
    out.dedup();
    Ok(out)
}
