//! The claims of a token, in Flask-JWT-Extended 4.x's layout, read as leniently as that
//! library writes them (a `fresh` that is a time, a missing `type`, an `aud` that is a string
//! or a list) and no more.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::TokenKind;

/// `fresh` as read: a flag, or (Flask-JWT-Extended's timedelta freshness) "fresh until".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Freshness {
    /// `true` right after a password check, `false` after a refresh.
    Flag(bool),
    /// Fresh until this Unix time.
    Until(f64),
}

impl Freshness {
    /// True when the token counts as fresh at `now`.
    pub fn is_fresh(self, now: i64) -> bool {
        match self {
            Self::Flag(flag) => flag,
            #[allow(clippy::cast_precision_loss)]
            Self::Until(until) => (now as f64) < until,
        }
    }
}

/// `aud` as a single string or a list, as RFC 7519 allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

/// The token payload. Unknown claims are ignored, missing optional ones take
/// Flask-JWT-Extended's defaults (no `type` = access, no `fresh` = not fresh).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, always a string.
    pub sub: String,
    /// Issued at, Unix seconds (0 when a token minted elsewhere leaves it out, as PyJWT allows;
    /// nothing is decided on it).
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: i64,
    /// Not before, Unix seconds.
    #[serde(
        default,
        deserialize_with = "optional_numeric_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub nbf: Option<i64>,
    /// Expires, Unix seconds.
    #[serde(deserialize_with = "numeric_date")]
    pub exp: i64,
    /// Unique id (UUID when minted here). Required: revoking a token without `sid` needs it.
    #[serde(default)]
    pub jti: String,
    /// `access` or `refresh`; absent (or `null`) reads as `access`, as in Flask-JWT-Extended.
    #[serde(
        rename = "type",
        default = "access_type",
        deserialize_with = "token_type"
    )]
    pub token_type: String,
    /// Access tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<Freshness>,
    /// Double-submit CSRF value, when cookies are a token location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// The user's roles when the token was made (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The user's permissions when the token was made (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// The session this token belongs to; absent in tokens minted elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Access tokens: the user's grants version when the token was made. A token whose
    /// version is older than the user's current one keeps only the grants still held.
    /// Versions, not timestamps: a change and a login in the same second, or clocks that
    /// differ between instances, cannot leave a removed grant in a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gv: Option<i64>,
    /// Issuer, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

fn access_type() -> String {
    "access".to_owned()
}

fn token_type<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(de)?.unwrap_or_else(access_type))
}

/// Accepts integer or float numeric dates (PyJWT may write either) and keeps whole seconds.
fn numeric_date<'de, D: Deserializer<'de>>(de: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(de)?;
    n.as_i64()
        .or_else(|| {
            #[allow(clippy::cast_possible_truncation)]
            n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom("numeric date out of range"))
}

fn optional_numeric_date<'de, D: Deserializer<'de>>(de: D) -> Result<Option<i64>, D::Error> {
    numeric_date(de).map(Some)
}

impl Claims {
    /// The token's kind; anything but `refresh` is refused by [`TokenCodec::decode`].
    pub fn kind(&self) -> TokenKind {
        if self.token_type == "refresh" {
            TokenKind::Refresh
        } else {
            TokenKind::Access
        }
    }

    /// True when this access token counts as fresh now.
    pub fn is_fresh(&self, now: i64) -> bool {
        self.fresh.is_some_and(|f| f.is_fresh(now))
    }

    /// The roles claim (empty when absent).
    pub fn roles(&self) -> &[String] {
        self.roles.as_deref().unwrap_or_default()
    }

    /// The permissions claim (empty when absent).
    pub fn permissions(&self) -> &[String] {
        self.permissions.as_deref().unwrap_or_default()
    }

    /// The user id, when `sub` is one of ours (a decimal id).
    pub fn user_id(&self) -> Option<i64> {
        self.sub.parse().ok()
    }
}
