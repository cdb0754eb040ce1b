//! What a password may be: long enough and no longer than 128 code points (never truncated),
//! not in the bundled list of common passwords, and not built from the account's own email or
//! name.
//!
//! The common-password list is a bundled file, `common-passwords.txt`: the 11,611 entries of
//! 8 characters or more from zxcvbn's "passwords" frequency list (top 30,000 of leaked
//! corpora), as shipped in the zxcvbn crate 3.1.1. Bundled rather than calling the zxcvbn
//! crate: its matcher took over a second of CPU for one 100-character password full of l33t
//! substitutions (measured, release build), and the policy runs before any hashing limit
//! applies, so that would be a cheap way to burn CPU. Its score would also refuse passwords the
//! contract accepts (anything "weak", not only listed ones). A set lookup is exact, constant
//! time, and says precisely what the contract says: the password is in the list.

use std::{collections::HashSet, sync::LazyLock};

use crate::{
    config::MAX_PASSWORD_CHARS,
    error::{AppError, AppResult},
};

/// Name parts and email parts shorter than this are too common to say a password is built
/// from them.
const MIN_PERSONAL_TOKEN: usize = 3;
/// A password is "built from" the email or name when, once those and digits are taken out,
/// fewer than this many characters of its own are left.
const MIN_OWN_CHARS: usize = 4;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .collect()
});

/// The personal data a password must not be built from.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The account's email.
    pub email: &'a str,
    /// The account's display name.
    pub name: &'a str,
}

/// Lower-case letters and digits only.
fn fold(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// True when the password is little more than the owner's email or name (plus digits and
/// punctuation): `Ana.Smith1990!` for Ana Smith, `ana@example.com` for that address.
fn built_from(password: &str, owner: Owner<'_>) -> bool {
    let (local, domain) = owner.email.split_once('@').unwrap_or((owner.email, ""));
    let words = |text: &str| {
        text.split(|c: char| !c.is_alphanumeric())
            .map(fold)
            .collect::<Vec<_>>()
    };
    let domain_labels = domain
        .rsplit_once('.')
        .map_or(domain, |(labels, _tld)| labels);
    let mut tokens: Vec<String> = [fold(owner.email), fold(local), fold(owner.name)]
        .into_iter()
        .chain(words(local))
        .chain(words(domain_labels))
        .chain(words(owner.name))
        .filter(|t| t.chars().count() >= MIN_PERSONAL_TOKEN)
        .collect();
    // Longest first, so that the full email goes before its parts.
    tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let mut rest = fold(password);
    let mut found = false;
    for token in &tokens {
        if rest.contains(token.as_str()) {
            rest = rest.replace(token.as_str(), "");
            found = true;
        }
    }
    found && rest.chars().filter(|c| !c.is_numeric()).count() < MIN_OWN_CHARS
}

/// True when the password, ignoring case, is in the bundled common-password list.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

/// Checks the password policy for an account whose passwords must be at least
/// `min_length` code points long.
///
/// # Errors
/// `BAD_USER_INPUT` with a sentence saying what is wrong.
pub(super) fn check(password: &str, owner: Owner<'_>, min_length: usize) -> AppResult<()> {
    let length = password.chars().count();
    if length < min_length {
        return Err(AppError::bad_input(format!(
            "Password must be at least {} characters long.",
            min_length
        )));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(AppError::bad_input(format!(
            "Password must be at most {MAX_PASSWORD_CHARS} characters long."
        )));
    }
    if is_common(password) {
        return Err(AppError::bad_input(
            "Password is too common: choose one that is not in lists of leaked passwords.",
        ));
    }
    if built_from(password, owner) {
        return Err(AppError::bad_input(
            "Password must not be built from your email address or name.",
        ));
    }
    Ok(())
}
