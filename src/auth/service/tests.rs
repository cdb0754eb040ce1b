//! The flows against a real (temporary SQLite) database, below the HTTP layer.

use super::*;
use crate::testing::{TestClaims, TestDatabase, create_user, hs256_codec};

async fn service() -> (AuthService, TestDatabase) {
    let database = TestDatabase::new().await;
    create_user(&database.db, "ana@example.com", &[], &[]).await;
    let service = AuthService::new(
        database.db.clone(),
        Arc::new(hs256_codec()),
        Duration::from_secs(10),
        false,
        EventLog::default(),
        Passwords::default(),
        &LoginConfig::default(),
        LoginLimits::new(
            LoginConfig::default().account_limit,
            LoginConfig::default().ip_limit,
        ),
    )
    .await
    .expect("service");
    (service, database)
}

#[tokio::test]
async fn refresh_asks_the_database_whether_the_account_is_disabled_whatever_the_token() {
    // No revocation state at all here: only the database can refuse.
    let (service, database) = service().await;
    let id = create_user(&database.db, "bo@example.com", &[], &[]).await;
    let foreign = || TestClaims::refresh(id).sid(None).claims();
    let issued = service
        .refresh(&foreign(), &Client::default())
        .await
        .expect("an enabled account refreshes");
    let ours = issued.refresh.expect("a refresh token").claims;
    let log = EventLog::default();
    crate::auth::admin::set_disabled(&database.db, &log, id, true)
        .await
        .expect("disabled");
    for claims in [foreign(), ours] {
        let refused = service.refresh(&claims, &Client::default()).await;
        assert!(
            matches!(refused, Err(AppError::TokenRevoked)),
            "{:?}: {refused:?}",
            claims.sid
        );
    }
    crate::auth::admin::set_disabled(&database.db, &log, id, false)
        .await
        .expect("enabled");
    assert!(
        service
            .refresh(&foreign(), &Client::default())
            .await
            .is_ok(),
        "enabled again, a new token minted elsewhere works"
    );
}

#[tokio::test]
async fn an_unknown_email_costs_one_password_verification_like_a_wrong_password() {
    let (service, _dir) = service().await;
    let unknown = service
        .login(
            "nobody@example.com",
            "whatever-password".to_owned().into(),
            &Client::default(),
        )
        .await;
    assert!(matches!(unknown, Err(AppError::InvalidCredentials)));
    assert_eq!(
        service.password_checks(),
        1,
        "the unknown email verified the dummy hash"
    );
    let wrong = service
        .login(
            "ana@example.com",
            "wrong-password".to_owned().into(),
            &Client::default(),
        )
        .await;
    assert!(matches!(wrong, Err(AppError::InvalidCredentials)));
    assert_eq!(service.password_checks(), 2);
}
