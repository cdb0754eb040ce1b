//! What an instance keeps in memory follows the traffic of the last access lifetime, not the
//! history (contract section 6): a revocation is held for at most `JWT_ACCESS_TOKEN_EXPIRES`
//! plus the leeway, and refresh tokens are judged against the database when used.

use std::time::Duration;

use serde_json::json;

use crate::{
    backend_test,
    support::{code, spawn_app_with},
};

const REFRESH: &str = "mutation { refresh { accessToken refreshToken } }";

backend_test! {
    async fn a_logout_older_than_the_access_lifetime_leaves_no_memory_and_its_refresh_token_is_still_refused(backend) {
        let a = spawn_app_with(backend, &[("JWT_ACCESS_TOKEN_EXPIRES", "1s")]).await;
        let (_, access, refresh) = a.user_with_tokens("ana@example.com", &[], &[]).await;
        assert_eq!(a.graphql(Some(&access), "mutation { logout }", json!({})).await["data"]["logout"], true);
        let held = a.revocation.as_ref().expect("state").len();
        assert!(held.0 >= 1 && held.1 >= 1, "the logout is held while its access token can live: {held:?}");

        // Past the access lifetime, an instance that starts now holds nothing of it...
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        let mut b = a.another_instance().await;
        assert_eq!(b.revocation.as_ref().expect("state").len(), (0, 0, 0), "nothing held on a fresh instance");
        // ...and the one that made it forgets it at its next pruning.
        let state = a.revocation.as_ref().expect("state");
        state.prune(warden::clock::now_secs());
        assert_eq!(state.len(), (0, 0, 0), "nothing held after pruning");

        // The refresh token is still refused everywhere, judged against the database.
        for app in [&a, &b] {
            assert_eq!(code(&app.graphql(Some(&refresh), REFRESH, json!({})).await), "TOKEN_REVOKED");
        }
        b.restart().await;
        assert_eq!(code(&b.graphql(Some(&refresh), REFRESH, json!({})).await), "TOKEN_REVOKED");
    }
}
