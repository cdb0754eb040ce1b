//! The guards' logic: what each requirement asks of the request's credentials. It knows
//! neither HTTP nor GraphQL; `graphql::guards` declares the requirements with SDL directives,
//! runs them before resolvers and maps a refusal to a field error.

use crate::{
    auth::{Credentials, RequestCredentials, Verified, tokens::Claims},
    error::{AppError, Required, TokenKind},
};

/// The verified token of the wanted kind, or why there is none.
pub fn token_of_kind(
    credentials: &RequestCredentials,
    kind: TokenKind,
) -> Result<&Verified, AppError> {
    match credentials.for_kind(kind) {
        Credentials::Missing(place) => Err(AppError::Unauthenticated(place.clone())),
        Credentials::Rejected(err) => Err(err.duplicate()),
        Credentials::Verified(v) if v.claims.kind() != kind => Err(AppError::WrongTokenType(kind)),
        Credentials::Verified(v) => Ok(v),
    }
}

/// A check on the request's credentials.
pub trait Requirement: Send + Sync {
    /// `Ok` lets the field resolve; the error is the field's.
    ///
    /// # Errors
    /// The contract error for what is missing.
    fn check_credentials(&self, credentials: &RequestCredentials, now: i64)
    -> Result<(), AppError>;
}

/// `@authenticated`: any valid access token.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated;

impl Requirement for Authenticated {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        token_of_kind(credentials, TokenKind::Access).map(|_| ())
    }
}

/// `@refreshToken`: a valid refresh token.
#[derive(Debug, Clone, Copy)]
pub struct RefreshToken;

impl Requirement for RefreshToken {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        token_of_kind(credentials, TokenKind::Refresh).map(|_| ())
    }
}

/// `@fresh`: an access token made right after a password check, or whose "fresh until"
/// time is still ahead.
#[derive(Debug, Clone, Copy)]
pub struct Fresh;

impl Requirement for Fresh {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        if token.claims.is_fresh(now) {
            Ok(())
        } else {
            Err(AppError::FreshTokenRequired)
        }
    }
}

/// `@hasRole(anyOf:)`: the token carries one of these roles, and (if the user's grants
/// changed since) the user still holds it.
#[derive(Debug, Clone)]
pub struct HasRole {
    any_of: Vec<String>,
}

impl HasRole {
    /// Any one of `roles`.
    pub fn new(any_of: Vec<String>) -> Self {
        Self { any_of }
    }

    /// Any one of `roles`.
    pub fn any_of(roles: &[&str]) -> Self {
        Self {
            any_of: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

impl Requirement for HasRole {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        let carried: Vec<&String> = self
            .any_of
            .iter()
            .filter(|role| token.claims.roles().contains(role))
            .collect();
        if carried.is_empty() {
            return Err(AppError::Forbidden(Required::Roles(self.any_of.clone())));
        }
        match &token.current_grants {
            Some(now) if !carried.iter().any(|role| now.roles.contains(role)) => {
                Err(AppError::GrantsChanged)
            }
            _ => Ok(()),
        }
    }
}

/// `@hasPermission(allOf:)`: the token carries all of these permissions, and (if the user's
/// grants changed since) the user still holds them.
#[derive(Debug, Clone)]
pub struct HasPermission {
    all_of: Vec<String>,
}

impl HasPermission {
    /// All of `permissions`.
    pub fn new(all_of: Vec<String>) -> Self {
        Self { all_of }
    }

    /// All of `permissions`.
    pub fn all_of(permissions: &[&str]) -> Self {
        Self {
            all_of: permissions.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

/// True when the token carries every permission in `all_of`.
fn carries_all(claims: &Claims, all_of: &[String]) -> bool {
    all_of.iter().all(|p| claims.permissions().contains(p))
}

impl Requirement for HasPermission {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        if !carries_all(&token.claims, &self.all_of) {
            return Err(AppError::Forbidden(Required::Permissions(
                self.all_of.clone(),
            )));
        }
        match &token.current_grants {
            Some(now) if !self.all_of.iter().all(|p| now.permissions.contains(p)) => {
                Err(AppError::GrantsChanged)
            }
            _ => Ok(()),
        }
    }
}

/// `@selfOrPermission(allOf:)`: the object is the caller's own, or the caller holds all of
/// these permissions. It needs the object, so its resolver runs it (see
/// [`check_self_or_permission`]); the directive documents it and marks the field as guarded.
#[derive(Debug, Clone)]
pub struct SelfOrPermission {
    owner: i64,
    all_of: HasPermission,
}

impl SelfOrPermission {
    /// The object belongs to user `owner`.
    pub fn new(owner: i64, all_of: &[&str]) -> Self {
        Self {
            owner,
            all_of: HasPermission::all_of(all_of),
        }
    }
}

impl Requirement for SelfOrPermission {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        if token.claims.user_id() == Some(self.owner) {
            return Ok(());
        }
        self.all_of.check_credentials(credentials, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        testing::{TestClaims, verified},
        users::Grants,
    };

    #[test]
    fn a_stale_token_keeps_only_the_grants_still_held() {
        let claims = TestClaims::access(1)
            .fresh(true)
            .roles(&["admin", "editor"])
            .permissions(&["a", "b"])
            .claims();
        let credentials = verified(
            claims,
            Some(Grants {
                roles: vec!["editor".into()],
                permissions: vec!["a".into()],
            }),
        );
        let check = |r: &dyn Requirement| {
            r.check_credentials(&credentials, 0)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            check(&HasRole::any_of(&["admin"])),
            Err("Token has been revoked: grants changed".into())
        );
        assert_eq!(check(&HasRole::any_of(&["admin", "editor"])), Ok(()));
        assert_eq!(check(&HasPermission::all_of(&["a"])), Ok(()));
        assert_eq!(
            check(&HasPermission::all_of(&["a", "b"])),
            Err("Token has been revoked: grants changed".into())
        );
        assert_eq!(check(&HasRole::any_of(&["owner"])), Err("Forbidden".into()));
    }
}
