//! Every configured algorithm signs and verifies; asymmetric keys are published as a JWK set;
//! the classic key-confusion attacks fail.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    backend_test,
    support::{PASSWORD, code, flask_access_claims, forge, spawn_app, spawn_app_with},
};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn header_kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).expect("header").kid
}

backend_test! {
    async fn hs384_and_hs512_sign_and_verify(backend) {
        for algorithm in ["HS384", "HS512"] {
            let app = spawn_app_with(backend, &[("JWT_ALGORITHM", algorithm)]).await;
            let (id, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
            assert_eq!(format!("{:?}", jsonwebtoken::decode_header(&access).expect("header").alg), algorithm);
            let body = app.graphql(Some(&access), "{ me { id } }", json!({})).await;
            assert_eq!(body["data"]["me"]["id"], id.to_string(), "{algorithm}: {body}");
            // A token signed with the same key but HS256 is refused: the header does not choose.
            let hs256 = forge(&flask_access_claims(&id.to_string()), crate::support::TEST_KEY, Algorithm::HS256);
            assert_eq!(code(&app.graphql(Some(&hs256), "{ me { id } }", json!({})).await), "INVALID_TOKEN");
        }
    }
}

backend_test! {
    async fn asymmetric_algorithms_sign_verify_and_publish_their_key(backend) {
        for (algorithm, stem, alg) in [
            ("RS256", "rs256", Algorithm::RS256),
            ("ES256", "es256", Algorithm::ES256),
            ("EdDSA", "eddsa", Algorithm::EdDSA),
        ] {
            let private = fixture(&format!("{stem}-private.pem"));
            let public = fixture(&format!("{stem}-public.pem"));
            let app = spawn_app_with(backend, &[
                ("JWT_ALGORITHM", algorithm),
                ("JWT_PRIVATE_KEY", private.as_str()),
                ("JWT_PUBLIC_KEY", public.as_str()),
            ]).await;
            app.create_user("ana@example.com", &[], &[]).await;
            let (access, refresh) = app.login("ana@example.com", PASSWORD).await;
            let body = app.graphql(Some(&access), "{ me { email } }", json!({})).await;
            assert_eq!(body["data"]["me"]["email"], "ana@example.com", "{algorithm}: {body}");
            assert!(app.graphql(Some(&refresh), "mutation { refresh { accessToken } }", json!({})).await["data"]["refresh"].is_object());

            // The JWK set names the key the token header points at, and verifies the token.
            let response = app.client.get(format!("{}/.well-known/jwks.json", app.base)).send().await.expect("sent");
            assert_eq!(response.status(), StatusCode::OK);
            let set: JwkSet = response.json().await.expect("a JWK set");
            let kid = header_kid(&access).expect("tokens carry a kid");
            let jwk = set.find(&kid).expect("the kid is published");
            let mut validation = Validation::new(alg);
            validation.validate_nbf = true;
            jsonwebtoken::decode::<serde_json::Value>(&access, &DecodingKey::from_jwk(jwk).expect("usable JWK"), &validation)
                .unwrap_or_else(|e| panic!("{algorithm}: the published key verifies the token: {e}"));

            // Key confusion: HS256 "signed" with the public key's PEM text is refused.
            let id = crate::support::payload(&access)["sub"].as_str().expect("sub").to_owned();
            let pem = std::fs::read_to_string(&public).expect("public key");
            let confused = forge(&flask_access_claims(&id), &pem, Algorithm::HS256);
            assert_eq!(code(&app.graphql(Some(&confused), "{ me { id } }", json!({})).await), "INVALID_TOKEN", "{algorithm}");
        }
    }
}

backend_test! {
    async fn jwks_is_not_found_with_a_shared_secret(backend) {
        let app = spawn_app(backend).await;
        let response = app.client.get(format!("{}/.well-known/jwks.json", app.base)).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(!response.text().await.expect("text").contains(crate::support::TEST_KEY));
    }
}
