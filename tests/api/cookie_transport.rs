//! Tokens in cookies for browser apps, with the double-submit CSRF check.

use std::collections::HashMap;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{
    backend_test,
    support::{PASSWORD, TestApp, code, message, spawn_app_with},
};

const LOGIN: &str = "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { accessToken refreshToken user { id } } }";

/// The `Set-Cookie` headers of a response, by cookie name: (value, full header).
fn set_cookies(response: &Response) -> HashMap<String, (String, String)> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|header| {
            let (pair, _) = header.split_once(';').unwrap_or((header, ""));
            let (name, value) = pair.split_once('=')?;
            Some((name.to_owned(), (value.to_owned(), header.to_owned())))
        })
        .collect()
}

async fn post(app: &TestApp, query: &str, headers: &[(&str, &str)]) -> Response {
    let response = app.post(&json!({ "query": query }), headers).await;
    assert_eq!(response.status(), StatusCode::OK);
    response
}

async fn login(app: &TestApp) -> (HashMap<String, (String, String)>, Value) {
    app.create_user("ana@example.com", &[], &[]).await;
    let response = app
        .post(
            &json!({ "query": LOGIN, "variables": { "p": PASSWORD } }),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    (cookies, response.json().await.expect("json"))
}

backend_test! {
    async fn login_sets_http_only_token_cookies_and_readable_csrf_cookies(backend) {
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies"), ("JWT_COOKIE_SECURE", "true"), ("JWT_COOKIE_SAMESITE", "Strict")]).await;
        let (cookies, body) = login(&app).await;
        assert_eq!(body["data"]["login"]["accessToken"], Value::Null, "tokens travel only in cookies: {body}");
        assert_eq!(body["data"]["login"]["refreshToken"], Value::Null);
        for name in ["access_token_cookie", "refresh_token_cookie"] {
            let (_, header) = &cookies[name];
            assert!(header.contains("HttpOnly") && header.contains("Secure") && header.contains("SameSite=Strict") && header.contains("Path=/"), "{header}");
        }
        for (csrf, token) in [("csrf_access_token", "access_token_cookie"), ("csrf_refresh_token", "refresh_token_cookie")] {
            let (value, header) = &cookies[csrf];
            assert!(!header.contains("HttpOnly"), "page scripts read {csrf}: {header}");
            assert_eq!(&crate::support::payload(&cookies[token].0)["csrf"], &json!(value), "the cookie echoes the token's csrf claim");
        }
    }
}

backend_test! {
    async fn a_cookie_token_on_post_needs_the_matching_csrf_header(backend) {
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies")]).await;
        let (cookies, _) = login(&app).await;
        let cookie = format!("access_token_cookie={}", cookies["access_token_cookie"].0);
        let csrf = cookies["csrf_access_token"].0.clone();

        let body: Value = post(&app, "{ me { id } }", &[("cookie", &cookie)]).await.json().await.expect("json");
        assert_eq!(code(&body), "CSRF_FAILED");
        assert_eq!(message(&body), "Missing CSRF token");
        let body: Value = post(&app, "{ me { id } }", &[("cookie", &cookie), ("X-CSRF-TOKEN", "forged")]).await.json().await.expect("json");
        assert_eq!(code(&body), "CSRF_FAILED");
        assert_eq!(message(&body), "CSRF double submit tokens do not match");
        // Public fields are untouched by the failed check.
        let body: Value = post(&app, "{ me { id } greeting }", &[("cookie", &cookie), ("X-CSRF-TOKEN", "forged")]).await.json().await.expect("json");
        assert_eq!(code(&body), "CSRF_FAILED");
        let body: Value = post(&app, "{ me { id } }", &[("cookie", &cookie), ("X-CSRF-TOKEN", &csrf)]).await.json().await.expect("json");
        assert!(body["data"]["me"]["id"].is_string(), "{body}");

        // GET runs queries only, so it is not checked.
        let response = app.client.get(format!("{}/graphql", app.base)).query(&[("query", "{ me { id } }")]).header("cookie", &cookie).send().await.expect("sent");
        let body: Value = response.json().await.expect("json");
        assert!(body["data"]["me"]["id"].is_string(), "{body}");
    }
}

backend_test! {
    async fn refresh_reads_the_refresh_cookie_and_logout_clears_the_cookies(backend) {
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies")]).await;
        let (cookies, _) = login(&app).await;
        let both = format!(
            "access_token_cookie={}; refresh_token_cookie={}",
            cookies["access_token_cookie"].0, cookies["refresh_token_cookie"].0
        );
        let response = post(&app, "mutation { refresh { tokenType } }", &[("cookie", &both), ("X-CSRF-TOKEN", &cookies["csrf_refresh_token"].0)]).await;
        let renewed = set_cookies(&response);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["data"]["refresh"]["tokenType"], "Bearer", "{body}");
        assert_ne!(renewed["refresh_token_cookie"].0, cookies["refresh_token_cookie"].0, "rotated");
        assert_eq!(crate::support::payload(&renewed["access_token_cookie"].0)["fresh"], false);

        // With only the access cookie, refresh says which cookie is missing.
        let only_access = format!("access_token_cookie={}", renewed["access_token_cookie"].0);
        let body: Value = post(&app, "mutation { refresh { tokenType } }", &[("cookie", &only_access)]).await.json().await.expect("json");
        assert_eq!(code(&body), "UNAUTHENTICATED");
        assert_eq!(message(&body), "Missing cookie \"refresh_token_cookie\"");

        let response = post(&app, "mutation { logout }", &[("cookie", &only_access), ("X-CSRF-TOKEN", &renewed["csrf_access_token"].0)]).await;
        let cleared = set_cookies(&response);
        for name in ["access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"] {
            assert!(cleared[name].1.contains("Max-Age=0"), "{name} cleared: {:?}", cleared.get(name));
        }
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["data"]["logout"], true);
    }
}

backend_test! {
    async fn with_both_locations_the_first_that_carries_a_token_wins(backend) {
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "headers,cookies")]).await;
        let (cookies, body) = login(&app).await;
        let header_token = body["data"]["login"]["accessToken"].as_str().expect("tokens in the body too").to_owned();
        let cookie = format!("access_token_cookie={}", cookies["access_token_cookie"].0);
        // Header first: a bad header token is used (and fails) even with a good cookie.
        let body: Value = post(&app, "{ me { id } }", &[("cookie", &cookie), ("Authorization", "Bearer garbage")]).await.json().await.expect("json");
        assert_eq!(code(&body), "INVALID_TOKEN");
        let body: Value = post(&app, "{ me { id } }", &[("Authorization", &format!("Bearer {header_token}"))]).await.json().await.expect("json");
        assert!(body["data"]["me"].is_object(), "a header token needs no CSRF: {body}");
        let body: Value = post(&app, "{ me { id } }", &[("cookie", &cookie)]).await.json().await.expect("json");
        assert_eq!(code(&body), "CSRF_FAILED");
        let body: Value = post(&app, "{ me { id } }", &[]).await.json().await.expect("json");
        assert_eq!(message(&body), "Missing Authorization Header");
    }
}

backend_test! {
    async fn csrf_protection_can_be_turned_off(backend) {
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies"), ("JWT_COOKIE_CSRF_PROTECT", "false")]).await;
        let (cookies, _) = login(&app).await;
        let cookie = format!("access_token_cookie={}", cookies["access_token_cookie"].0);
        let body: Value = post(&app, "{ me { id } }", &[("cookie", &cookie)]).await.json().await.expect("json");
        assert!(body["data"]["me"].is_object(), "{body}");
    }
}

backend_test! {
    async fn token_cookies_last_the_browser_session_unless_session_cookies_are_off(backend) {
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies")]).await;
        let (cookies, _) = login(&app).await;
        for name in ["access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"] {
            let (_, header) = &cookies[name];
            assert!(!header.contains("Max-Age") && !header.contains("Expires"), "{name} is a session cookie: {header}");
        }

        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies"), ("JWT_SESSION_COOKIE", "false")]).await;
        let (cookies, _) = login(&app).await;
        let max_age = |name: &str| -> i64 {
            let header = &cookies[name].1;
            header
                .split(';')
                .find_map(|part| part.trim().strip_prefix("Max-Age="))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} has a Max-Age: {header}"))
        };
        for name in ["access_token_cookie", "csrf_access_token"] {
            assert!((890..=900).contains(&max_age(name)), "{name}: the access token's 15 minutes");
        }
        for name in ["refresh_token_cookie", "csrf_refresh_token"] {
            assert!((30 * 86_400 - 10..=30 * 86_400).contains(&max_age(name)), "{name}: the refresh token's 30 days");
        }
    }
}

backend_test! {
    async fn token_cookies_are_secure_by_default_in_production(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_ENV", "production"), ("JWT_TOKEN_LOCATION", "cookies")]).await;
        let (cookies, _) = login(&app).await;
        for name in ["access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"] {
            assert!(cookies[name].1.contains("Secure"), "{name}: {}", cookies[name].1);
        }
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies")]).await;
        let (cookies, _) = login(&app).await;
        assert!(!cookies["access_token_cookie"].1.contains("Secure"), "development over plain HTTP");
    }
}

backend_test! {
    async fn with_a_cookie_domain_every_cookie_is_set_and_cleared_for_that_domain(backend) {
        let app = spawn_app_with(backend, &[("JWT_TOKEN_LOCATION", "cookies"), ("JWT_COOKIE_DOMAIN", "example.test")]).await;
        let (cookies, _) = login(&app).await;
        let names = ["access_token_cookie", "refresh_token_cookie", "csrf_access_token", "csrf_refresh_token"];
        for name in names {
            assert!(cookies[name].1.contains("Domain=example.test"), "{name}: {}", cookies[name].1);
        }
        let access = format!("access_token_cookie={}", cookies["access_token_cookie"].0);
        let response = post(&app, "mutation { logout }", &[("cookie", &access), ("X-CSRF-TOKEN", &cookies["csrf_access_token"].0)]).await;
        let cleared = set_cookies(&response);
        for name in names {
            let header = &cleared[name].1;
            assert!(header.contains("Max-Age=0") && header.contains("Domain=example.test"), "{name} cleared for the domain: {header}");
        }
    }
}
