//! The domain error every layer below GraphQL returns, and the contract's error codes.
//!
//! A variant says what the client can act on; internal causes (database faults) ride along as
//! a source that is logged once where the error is rendered and never shown to the client.
//! `graphql::errors` is the one place that turns these into `extensions.code`.

use std::fmt;

/// The contract's `errors[].extensions.code` values (section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A guarded field and no token.
    Unauthenticated,
    /// `exp` passed.
    TokenExpired,
    /// Bad signature, malformed, wrong `alg`, `iss`, `aud`, or `nbf` ahead.
    InvalidToken,
    /// Revoked by `jti`, by session, or by a grants change.
    TokenRevoked,
    /// Refresh where access is needed, or the reverse.
    WrongTokenType,
    /// A non-fresh token on a `@fresh` field.
    FreshTokenRequired,
    /// A role or permission is missing.
    Forbidden,
    /// Cookie token without a matching CSRF header.
    CsrfFailed,
    /// Wrong email or password.
    InvalidCredentials,
    /// Too many attempts.
    RateLimited,
    /// Validation failed.
    BadUserInput,
    /// Not the caller's to see.
    NotFound,
    /// The database cannot be reached.
    ServiceUnavailable,
}

impl ErrorCode {
    /// Every code, for catalogues and tests.
    pub const ALL: [ErrorCode; 13] = [
        Self::Unauthenticated,
        Self::TokenExpired,
        Self::InvalidToken,
        Self::TokenRevoked,
        Self::WrongTokenType,
        Self::FreshTokenRequired,
        Self::Forbidden,
        Self::CsrfFailed,
        Self::InvalidCredentials,
        Self::RateLimited,
        Self::BadUserInput,
        Self::NotFound,
        Self::ServiceUnavailable,
    ];

    /// The code as it appears in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::WrongTokenType => "WRONG_TOKEN_TYPE",
            Self::FreshTokenRequired => "FRESH_TOKEN_REQUIRED",
            Self::Forbidden => "FORBIDDEN",
            Self::CsrfFailed => "CSRF_FAILED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::RateLimited => "RATE_LIMITED",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// Parses a code as written in `extensions.code` (and in `WARDEN_MESSAGES` files).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of token a field wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `type: access` (or no `type` at all, as in Flask-JWT-Extended).
    Access,
    /// `type: refresh`.
    Refresh,
}

/// What a `FORBIDDEN` error says was missing (`extensions.required`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Required {
    /// Any one of these roles.
    Roles(Vec<String>),
    /// All of these permissions.
    Permissions(Vec<String>),
}

/// Why a double-submit CSRF check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrfFailure {
    /// No CSRF header (or no `csrf` claim).
    Missing,
    /// Header and claim differ.
    Mismatch,
}

/// A failure with a contract code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No token where one is needed; the text names where it was looked for.
    #[error("Missing {0}")]
    Unauthenticated(String),
    /// `exp` passed.
    #[error("Token has expired")]
    TokenExpired,
    /// The session is older than `WARDEN_SESSION_MAX_AGE`; it has been ended.
    #[error("Session has expired")]
    SessionExpired,
    /// Signature, shape, algorithm, `iss`, `aud` or `nbf`; the text is a short reason.
    #[error("Invalid token: {0}")]
    InvalidToken(&'static str),
    /// Revoked token or session.
    #[error("Token has been revoked")]
    TokenRevoked,
    /// The user's grants changed since the token was made.
    #[error("Token has been revoked: grants changed")]
    GrantsChanged,
    /// The token is of the other type than the field needs.
    #[error("{}", match .0 { TokenKind::Access => "Only access tokens are allowed", TokenKind::Refresh => "Only refresh tokens are allowed" })]
    WrongTokenType(TokenKind),
    /// A non-fresh token on a field that needs a fresh one.
    #[error("Fresh token required")]
    FreshTokenRequired,
    /// A role or permission is missing.
    #[error("Forbidden")]
    Forbidden(Required),
    /// Sign-up is turned off (`WARDEN_SIGNUP`).
    #[error("Forbidden: sign-up is disabled")]
    SignupDisabled,
    /// The right password for an account an admin disabled.
    #[error("Account disabled")]
    AccountDisabled,
    /// Cookie token without a matching CSRF header.
    #[error("{}", match .0 { CsrfFailure::Missing => "Missing CSRF token", CsrfFailure::Mismatch => "CSRF double submit tokens do not match" })]
    Csrf(CsrfFailure),
    /// Wrong email or password (one message for both).
    #[error("Invalid credentials")]
    InvalidCredentials,
    /// Too many attempts; retry after this many seconds.
    #[error("Too many attempts")]
    RateLimited(u64),
    /// Validation failed; the text is a sentence for the user.
    #[error("{0}")]
    BadUserInput(String),
    /// Not the caller's to see.
    #[error("Not found")]
    NotFound,
    /// The database failed; the cause is logged, never shown.
    #[error("Service unavailable")]
    Unavailable(#[source] sea_orm::DbErr),
    /// This instance's revocation state is older than `WARDEN_REVOCATION_MAX_LAG`: it cannot
    /// vouch that a token is not revoked, so it refuses (fails closed).
    #[error("Service unavailable")]
    Lagging,
    /// Password hashing is saturated; retry after this many seconds.
    #[error("Service unavailable")]
    Saturated(u64),
    /// A fault of ours (a task panicked, a key could not sign); logged, never shown.
    #[error("Service unavailable")]
    Internal(#[source] Fault),
}

impl AppError {
    /// The contract code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::TokenExpired | Self::SessionExpired => ErrorCode::TokenExpired,
            Self::InvalidToken(_) => ErrorCode::InvalidToken,
            Self::TokenRevoked | Self::GrantsChanged => ErrorCode::TokenRevoked,
            Self::WrongTokenType(_) => ErrorCode::WrongTokenType,
            Self::FreshTokenRequired => ErrorCode::FreshTokenRequired,
            Self::Forbidden(_) | Self::SignupDisabled | Self::AccountDisabled => {
                ErrorCode::Forbidden
            }
            Self::Csrf(_) => ErrorCode::CsrfFailed,
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::RateLimited(_) => ErrorCode::RateLimited,
            Self::BadUserInput(_) => ErrorCode::BadUserInput,
            Self::NotFound => ErrorCode::NotFound,
            Self::Unavailable(_) | Self::Lagging | Self::Saturated(_) | Self::Internal(_) => {
                ErrorCode::ServiceUnavailable
            }
        }
    }

    /// A copy of this error for a second field that fails for the same reason (the
    /// database cause, which cannot be cloned, is kept as text).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Unauthenticated(place) => Self::Unauthenticated(place.clone()),
            Self::TokenExpired => Self::TokenExpired,
            Self::SessionExpired => Self::SessionExpired,
            Self::InvalidToken(reason) => Self::InvalidToken(reason),
            Self::TokenRevoked => Self::TokenRevoked,
            Self::GrantsChanged => Self::GrantsChanged,
            Self::WrongTokenType(kind) => Self::WrongTokenType(*kind),
            Self::FreshTokenRequired => Self::FreshTokenRequired,
            Self::Forbidden(required) => Self::Forbidden(required.clone()),
            Self::SignupDisabled => Self::SignupDisabled,
            Self::AccountDisabled => Self::AccountDisabled,
            Self::Csrf(failure) => Self::Csrf(*failure),
            Self::InvalidCredentials => Self::InvalidCredentials,
            Self::RateLimited(secs) => Self::RateLimited(*secs),
            Self::BadUserInput(sentence) => Self::BadUserInput(sentence.clone()),
            Self::NotFound => Self::NotFound,
            Self::Unavailable(db) => {
                Self::Internal(Fault::Repeated(format!("database error: {db}")))
            }
            Self::Lagging => Self::Lagging,
            Self::Saturated(secs) => Self::Saturated(*secs),
            Self::Internal(cause) => Self::Internal(Fault::Repeated(cause.to_string())),
        }
    }

    /// A validation error with a sentence for the user.
    pub fn bad_input(sentence: impl Into<String>) -> Self {
        Self::BadUserInput(sentence.into())
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Unavailable(err)
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => Self::Unavailable(db),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}

/// What went wrong inside, with its cause: logged once where it becomes a response, never
/// shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// Signing a token failed (a key problem).
    #[error("signing a token failed: {0}")]
    Signing(#[source] jsonwebtoken::errors::Error),
    /// argon2 refused to hash (parameters or input).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// A password hash panicked or was cancelled.
    #[error("a hashing task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// The password-hashing threads could not be set up.
    #[error("the hashing threads could not be set up: {0}")]
    HashThreads(std::io::ErrorKind),
    /// The password-hashing gate was closed.
    #[error("the hashing gate is closed: {0}")]
    GateClosed(#[source] tokio::sync::AcquireError),
    /// The operating system's random source failed.
    #[error("the random source failed: {0}")]
    Random(#[source] getrandom::Error),
    /// A value could not be serialised.
    #[error("serialising failed: {0}")]
    Serialise(#[source] serde_json::Error),
    /// A statement could not be built.
    #[error("building a statement failed: {0}")]
    Statement(#[source] sea_orm::sea_query::error::Error),
    /// The text of a fault already logged, for a second field that fails with it.
    #[error("{0}")]
    Repeated(String),
}

/// Result alias for the layers below GraphQL.
pub type AppResult<T> = Result<T, AppError>;
