//! The HTTP surface: routes, transport faults and their statuses, request ids.

use reqwest::StatusCode;
use serde_json::json;

use crate::{
    backend_test,
    support::{spawn_app, spawn_app_with},
};

backend_test! {
    async fn health_and_readiness_answer(backend) {
        let app = spawn_app(backend).await;
        let health = app.client.get(format!("{}/healthz", app.base)).send().await.expect("sent");
        assert_eq!(health.status(), StatusCode::OK);
        let ready = app.client.get(format!("{}/readyz", app.base)).send().await.expect("sent");
        assert_eq!(ready.status(), StatusCode::OK);
    }
}

backend_test! {
    async fn transport_faults_are_4xx(backend) {
        let app = spawn_app(backend).await;
        let url = format!("{}/graphql", app.base);
        let malformed = app.client.post(&url).header("content-type", "application/json").body("{not json").send().await.expect("sent");
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = malformed.json().await.expect("json error body");
        assert!(body["errors"][0]["message"].as_str().is_some_and(|m| m.starts_with("Malformed JSON")));

        let not_json = app.client.post(&url).header("content-type", "text/plain").body("{}").send().await.expect("sent");
        assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let huge = format!("{{\"query\": \"{{ greeting }}\", \"variables\": {{\"pad\": \"{}\"}}}}", "x".repeat(100 * 1024));
        let too_large = app.client.post(&url).header("content-type", "application/json").body(huge).send().await.expect("sent");
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);

        let batch: Vec<_> = (0..11).map(|_| json!({ "query": "{ greeting }" })).collect();
        let too_many = app.client.post(&url).json(&batch).send().await.expect("sent");
        assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    }
}

backend_test! {
    async fn batches_within_the_limit_run(backend) {
        let app = spawn_app(backend).await;
        let batch = json!([{ "query": "{ greeting }" }, { "query": "{ me { id } }" }]);
        let response = app.post(&batch, &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body[0]["data"]["greeting"], "Hello, guest");
        assert_eq!(body[1]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
}

backend_test! {
    async fn get_runs_queries_but_never_mutations(backend) {
        let app = spawn_app(backend).await;
        let url = format!("{}/graphql", app.base);
        let query = app.client.get(&url).query(&[("query", "{ greeting }")]).send().await.expect("sent");
        assert_eq!(query.status(), StatusCode::OK);
        let body: serde_json::Value = query.json().await.expect("json");
        assert_eq!(body["data"]["greeting"], "Hello, guest");

        let mutation = app
            .client
            .get(&url)
            .query(&[("query", "mutation { login(email: \"a@b.c\", password: \"x\") { tokenType } }")])
            .send()
            .await
            .expect("sent");
        assert_eq!(mutation.status(), StatusCode::METHOD_NOT_ALLOWED);

        let named = app
            .client
            .get(&url)
            .query(&[("query", "query Q { greeting } mutation M { logout }"), ("operationName", "M")])
            .send()
            .await
            .expect("sent");
        assert_eq!(named.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}

backend_test! {
    async fn graphiql_is_served_to_browsers_only_when_the_playground_is_on(backend) {
        let app = spawn_app(backend).await;
        let url = format!("{}/graphql", app.base);
        let page = app.client.get(&url).header("accept", "text/html").send().await.expect("sent");
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.text().await.expect("text").contains("graphiql"));

        let off = spawn_app_with(backend, &[("WARDEN_PLAYGROUND", "false")]).await;
        let page = off.client.get(format!("{}/graphql", off.base)).header("accept", "text/html").send().await.expect("sent");
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    }
}

backend_test! {
    async fn every_response_has_a_request_id_and_graphql_is_not_cached(backend) {
        let app = spawn_app(backend).await;
        let response = app.post(&json!({ "query": "{ greeting }" }), &[]).await;
        assert!(response.headers().get("x-request-id").is_some());
        for (name, value) in [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"), ("referrer-policy", "no-referrer")] {
            assert_eq!(response.headers().get(name).and_then(|v| v.to_str().ok()), Some(value), "{name}");
        }
        assert_eq!(response.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
        let given = app.client.get(format!("{}/healthz", app.base)).header("x-request-id", "abc-123").send().await.expect("sent");
        assert_eq!(given.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("abc-123"));
    }
}

backend_test! {
    async fn introspection_follows_its_switch(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_INTROSPECTION", "false")]).await;
        let body = app.graphql(None, "{ __schema { queryType { name } } }", json!({})).await;
        assert!(body["data"]["__schema"].is_null(), "no schema is revealed: {body}");
        let on = spawn_app(backend).await;
        let body = on.graphql(None, "{ __schema { queryType { name } } }", json!({})).await;
        assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    }
}

backend_test! {
    async fn cors_allows_only_the_configured_origins_with_credentials(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_CORS_ORIGINS", "https://app.example.com")]).await;
        let preflight = |origin: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.base))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization,content-type")
                .send()
        };
        let allowed = preflight("https://app.example.com").await.expect("sent");
        let header = |r: &reqwest::Response, name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header(&allowed, "access-control-allow-origin").as_deref(), Some("https://app.example.com"));
        assert_eq!(header(&allowed, "access-control-allow-credentials").as_deref(), Some("true"));
        assert!(header(&allowed, "access-control-allow-headers").is_some_and(|h| h.to_lowercase().contains("authorization")));
        let other = preflight("https://evil.example.com").await.expect("sent");
        assert_eq!(header(&other, "access-control-allow-origin"), None);
    }
}

backend_test! {
    async fn malformed_operations_are_bad_user_input(backend) {
        let app = spawn_app(backend).await;
        for query in [
            "{ nonexistent }",
            "{ greeting",
            "query($f: Int) { users(first: $f) { edges { cursor } } }",
            "{ users(first: \"ten\") { edges { cursor } } }",
            "mutation { login(email: \"a@b.c\") { tokenType } }",
        ] {
            let body = app.graphql(None, query, json!({ "f": "not an int" })).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{query}: {body}");
        }
        let deep = format!("{{ me {{ {} }} }}", "id ".repeat(600));
        let body = app.graphql(None, &deep, json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "too complex: {body}");
    }
}
