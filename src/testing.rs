//! Test fixtures, one set for the unit tests, the integration tests (`tests/api`) and the
//! benches: the test password and signing key, an HS256 codec, a claims builder, credentials
//! as the transport would hand them over, and a migrated SQLite database in a temp folder.
//!
//! Why in the library: integration tests and benches are crates of their own and see only the
//! public API, so a fixture written there and another written in a unit test drift apart (a
//! key here, a claim shape there). This module is compiled for the crate's own tests and with
//! the `testing` feature, which the integration tests and benches turn on through the crate's
//! dev-dependency on itself. A release build never contains it.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::{
    auth::{
        Credentials, RequestCredentials, Verified,
        tokens::{Claims, TokenCodec},
    },
    clock::now_secs,
    config::{JwtConfig, SigningKey},
    database::connect_and_migrate,
    password::Passwords,
    users::{self, Grants, NewUser},
};

/// A password that passes the policy (length, not common, not built from the email or name).
pub const PASSWORD: &str = "correct horse battery";

/// The HMAC key test servers and codecs sign with, so that tests can forge tokens.
pub const TEST_KEY: &str = "test-secret-key-test-secret-key-0123456789";

/// HS256 with [`TEST_KEY`] and the contract's default lifetimes.
pub fn hs256_config() -> JwtConfig {
    JwtConfig::new(
        Algorithm::HS256,
        SigningKey::Secret {
            key: TEST_KEY.as_bytes().to_vec().into(),
            generated: false,
        },
    )
}

/// A codec for [`hs256_config`].
///
/// # Panics
/// Never for this configuration (the key is long enough).
pub fn hs256_codec() -> TokenCodec {
    TokenCodec::new(&hs256_config()).expect("the test key makes a codec")
}

/// Signs arbitrary claims with `key`, as another issuer (or an attacker) would.
///
/// # Panics
/// When `claims` is not a JSON object or `algorithm` is not an HMAC one.
pub fn forge(claims: &Value, key: &str, algorithm: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(key.as_bytes()).expect("an HMAC key"),
    )
    .expect("claims sign")
}

/// Token claims under construction, valid now for 15 minutes: `sub`, `iat`, `nbf`, `exp`, a
/// fresh `jti` and `type`. Access tokens start with `fresh: false` and no grants.
#[derive(Debug, Clone)]
pub struct TestClaims(Value);

impl TestClaims {
    /// An access token's claims for user `user_id`.
    pub fn access(user_id: i64) -> Self {
        Self::of_kind("access", user_id).fresh(false)
    }

    /// A refresh token's claims for user `user_id`.
    pub fn refresh(user_id: i64) -> Self {
        Self::of_kind("refresh", user_id)
    }

    /// Claims of `type` `kind` (`access`, `refresh`, or anything a test wants refused).
    pub fn of_kind(kind: &str, user_id: i64) -> Self {
        let now = now_secs();
        Self(json!({
            "sub": user_id.to_string(), "iat": now - 5, "nbf": now - 5, "exp": now + 900,
            "jti": uuid::Uuid::new_v4().to_string(), "type": kind,
        }))
    }

    /// Sets `fresh`.
    #[must_use]
    pub fn fresh(self, fresh: bool) -> Self {
        self.with("fresh", json!(fresh))
    }

    /// Sets `roles`.
    #[must_use]
    pub fn roles(self, roles: &[&str]) -> Self {
        self.with("roles", json!(roles))
    }

    /// Sets `permissions`.
    #[must_use]
    pub fn permissions(self, permissions: &[&str]) -> Self {
        self.with("permissions", json!(permissions))
    }

    /// Sets `jti`.
    #[must_use]
    pub fn jti(self, jti: &str) -> Self {
        self.with("jti", json!(jti))
    }

    /// Sets `sid` (the session), or removes it.
    #[must_use]
    pub fn sid(self, sid: Option<&str>) -> Self {
        self.with("sid", json!(sid))
    }

    /// Sets `gv` (the grants version), or removes it.
    #[must_use]
    pub fn grants_version(self, gv: Option<i64>) -> Self {
        self.with("gv", json!(gv))
    }

    /// Sets `exp`.
    #[must_use]
    pub fn expires_at(self, exp: i64) -> Self {
        self.with("exp", json!(exp))
    }

    /// Sets any claim (`null` removes it).
    ///
    /// # Panics
    /// Never: the claims are always an object.
    #[must_use]
    pub fn with(mut self, name: &str, value: Value) -> Self {
        let object = self.0.as_object_mut().expect("claims are an object");
        if value.is_null() {
            object.remove(name);
        } else {
            object.insert(name.to_owned(), value);
        }
        self
    }

    /// The claims as JSON.
    pub fn json(&self) -> &Value {
        &self.0
    }

    /// The claims as Warden reads them.
    ///
    /// # Panics
    /// When a test set a claim to a value Warden cannot read.
    pub fn claims(&self) -> Claims {
        serde_json::from_value(self.0.clone()).expect("claims Warden can read")
    }

    /// A token signed with [`TEST_KEY`] (HS256).
    pub fn sign(&self) -> String {
        forge(&self.0, TEST_KEY, Algorithm::HS256)
    }
}

/// A verified, unrevoked token's credentials, as the transport hands them to the guards;
/// `current_grants` when the user's grants changed since the token was made.
pub fn verified(claims: Claims, current_grants: Option<Grants>) -> RequestCredentials {
    RequestCredentials::single(Credentials::Verified(Box::new(Verified {
        claims,
        current_grants: current_grants.map(Arc::new),
    })))
}

/// What [`create_user`] creates:
/// `email` with [`PASSWORD`], named after the email's local part.
pub fn new_user(email: &str, roles: &[&str], permissions: &[&str]) -> NewUser {
    NewUser {
        email: email.to_owned(),
        password: PASSWORD.to_owned().into(),
        name: email.split('@').next().unwrap_or_default().to_owned(),
        roles: roles.iter().map(|s| (*s).to_owned()).collect(),
        permissions: permissions.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The URL of a SQLite file `name` in `dir`, created on first connection.
pub fn sqlite_url(dir: &std::path::Path, name: &str) -> String {
    format!("sqlite://{}?mode=rwc", dir.join(name).display())
}

/// Creates a user ([`new_user`]) in `db` with the default password hashing; returns its id.
///
/// # Panics
/// When the user cannot be created.
pub async fn create_user(
    db: &DatabaseConnection,
    email: &str,
    roles: &[&str],
    permissions: &[&str],
) -> i64 {
    users::create(
        db,
        &Passwords::default(),
        new_user(email, roles, permissions),
    )
    .await
    .expect("user created")
    .user
    .id
}

/// A migrated SQLite database in a temp folder, deleted when dropped.
pub struct TestDatabase {
    /// Its connection.
    pub db: DatabaseConnection,
    /// Its URL (for a second connection, the CLI, or a server).
    pub url: String,
    _dir: tempfile::TempDir,
}

impl TestDatabase {
    /// Creates and migrates the database.
    ///
    /// # Panics
    /// When the temp folder or the database cannot be made.
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = sqlite_url(dir.path(), "warden.db");
        let db = connect_and_migrate(&url).await.expect("migrated database");
        Self { db, url, _dir: dir }
    }
}
