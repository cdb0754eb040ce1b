//! GraphQL limits (docs/reference.md, "Environment variables"; docs/reference.md, "Limits"): depth, complexity and aliases per document, the
//! auth mutations once per document and never in a batch, the batch size, and no field
//! suggestions in production. Each limit is refused before execution: `BAD_USER_INPUT` with
//! `data: null` as `application/json`, a 400 without `data` as
//! `application/graphql-response+json`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    backend_test,
    support::{PASSWORD, TestApp, spawn_app, spawn_app_with},
};

const STRICT: &str = "application/graphql-response+json";

/// POSTs `body` with `accept`; returns the status and the JSON body.
async fn post(app: &TestApp, accept: &str, body: &Value) -> (StatusCode, Value) {
    let response = app.post(body, &[("accept", accept)]).await;
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

/// Asserts that `query` is refused before execution, in both media types, with a message
/// containing `why`.
async fn refused_before_execution(app: &TestApp, query: &str, why: &str) {
    let request = json!({ "query": query });
    let (status, body) = post(app, "application/json", &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(why), "expected {why:?}: {body}");
    let (status, body) = post(app, STRICT, &request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.get("data").is_none(),
        "no data before execution: {body}"
    );
}

/// Asserts that `query` runs (no error).
async fn runs(app: &TestApp, query: &str) -> Value {
    let body = app.graphql(None, query, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    body
}

fn aliased_typenames(n: usize) -> String {
    let fields: Vec<String> = (0..n).map(|i| format!("a{i}: __typename")).collect();
    format!("{{ {} }}", fields.join(" "))
}

/// `__type(name: "User") { ofType { … { name } } }`, `depth` fields deep.
fn nested_introspection(depth: usize) -> String {
    let mut query = "name".to_owned();
    for _ in 2..depth {
        query = format!("ofType {{ {query} }}");
    }
    format!("{{ __type(name: \"User\") {{ {query} }} }}")
}

backend_test! {
    async fn alias_bombs_are_refused_before_execution(backend) {
        let app = spawn_app(backend).await;
        runs(&app, &aliased_typenames(50)).await;
        for n in [51, 101, 3_000] {
            refused_before_execution(&app, &aliased_typenames(n), "too many aliases").await;
        }
    }
}

backend_test! {
    async fn every_field_counts_toward_complexity_typename_included(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_MAX_ALIASES", "100000")]).await;
        let body = runs(&app, &aliased_typenames(500)).await;
        assert_eq!(body["data"]["a499"], "Query");
        refused_before_execution(&app, &aliased_typenames(501), "too complex").await;
        refused_before_execution(&app, &aliased_typenames(3_000), "too complex").await;
        // Unaliased repeats count too.
        refused_before_execution(&app, &format!("{{ {} }}", "__typename ".repeat(501)), "too complex").await;
    }
}

backend_test! {
    async fn complexity_is_configurable(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_MAX_COMPLEXITY", "3")]).await;
        runs(&app, "{ greeting __typename a: greeting }").await;
        refused_before_execution(&app, "{ greeting __typename a: greeting b: __typename }", "too complex").await;
    }
}

backend_test! {
    async fn depth_bombs_are_refused_before_execution(backend) {
        let app = spawn_app(backend).await;
        runs(&app, &nested_introspection(15)).await;
        refused_before_execution(&app, &nested_introspection(16), "nested too deep").await;
        refused_before_execution(&app, &nested_introspection(30), "nested too deep").await;

        // Depth counts nested fields: `{ me { id } }` is 2.
        let app = spawn_app_with(backend, &[("WARDEN_MAX_DEPTH", "2")]).await;
        let body = app.graphql(None, "{ me { id } }", json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "depth 2 runs: {body}");
        refused_before_execution(&app, "{ users { edges { node { id } } } }", "nested too deep").await;
        refused_before_execution(&app, "{ me { __typename } users { pageInfo { __typename } } }", "nested too deep").await;
    }
}

backend_test! {
    async fn a_fragment_bomb_is_refused_at_once(backend) {
        let app = spawn_app(backend).await;
        // 2^30 fields once the fragments are expanded, in a few hundred bytes.
        let mut query = String::from("{ ...F0 }");
        for i in 0..30 {
            query.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
        }
        query.push_str(" fragment F30 on Query { __typename }");
        let started = std::time::Instant::now();
        refused_before_execution(&app, &query, "too complex").await;
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}", started.elapsed());
    }
}

backend_test! {
    async fn graphiql_introspection_passes_even_under_a_lower_depth_limit(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_MAX_DEPTH", "4")]).await;
        let query = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/introspection.graphql")).expect("fixture");
        let body = runs(&app, &query).await;
        assert!(body["data"]["__schema"]["types"].is_array());
    }
}

backend_test! {
    async fn an_auth_mutation_twice_in_one_document_is_refused_before_execution(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let login = format!("login(email: \"ana@example.com\", password: \"{PASSWORD}\") {{ tokenType }}");
        refused_before_execution(&app, &format!("mutation {{ a: {login} b: {login} }}"), "only once").await;
        refused_before_execution(&app, &format!("mutation {{ {login} refresh {{ tokenType }} }}"), "only once").await;
        refused_before_execution(&app, &format!("mutation {{ ...L ...L }} fragment L on Mutation {{ {login} }}"), "only once").await;
        for name in ["reauth(password: \"x\")", "register(email: \"b@example.com\", password: \"x\", name: \"B\")", "changePassword(currentPassword: \"x\", newPassword: \"y\")"] {
            let field = if name.starts_with("changePassword") { name.to_owned() } else { format!("{name} {{ tokenType }}") };
            refused_before_execution(&app, &format!("mutation {{ a: {field} b: {field} }}"), "only once").await;
        }
        // Once is fine.
        let body = app.graphql(None, &format!("mutation {{ {login} }}"), json!({})).await;
        assert_eq!(body["data"]["login"]["tokenType"], "Bearer", "{body}");
    }
}

backend_test! {
    async fn an_auth_mutation_inside_a_batch_is_refused_before_execution(backend) {
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let login = json!({ "query": format!("mutation {{ login(email: \"ana@example.com\", password: \"{PASSWORD}\") {{ tokenType }} }}") });
        let greeting = json!({ "query": "{ greeting }" });

        let (status, body) = post(&app, "application/json", &json!([login, greeting])).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body[0]["data"], Value::Null, "{body}");
        assert_eq!(body[0]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        assert!(body[0]["errors"][0]["message"].as_str().is_some_and(|m| m.contains("batch")), "{body}");
        assert_eq!(body[1]["data"]["greeting"], "Hello, guest", "the rest of the batch runs: {body}");

        // Alone in an array it is still a batch.
        let (status, body) = post(&app, STRICT, &json!([login])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body[0].get("data").is_none(), "{body}");
    }
}

backend_test! {
    async fn the_batch_size_follows_its_variable(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_MAX_BATCH", "1")]).await;
        let greeting = json!({ "query": "{ greeting }" });
        let (status, body) = post(&app, "application/json", &json!([greeting])).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body[0]["data"]["greeting"], "Hello, guest");
        let (status, body) = post(&app, "application/json", &json!([greeting, greeting])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.get("data").is_none(), "{body}");
    }
}

backend_test! {
    async fn field_suggestions_appear_in_development_only(backend) {
        let misspelt = [
            "mutation { setUserRole(userId: \"1\", roles: []) { id } }",
            "{ users(firsts: 1) { pageInfo { hasNextPage } } }",
        ];
        let development = spawn_app(backend).await;
        for query in misspelt {
            let body = development.graphql(None, query, json!({})).await;
            assert!(body.to_string().contains("Did you mean"), "development suggests: {body}");
        }
        let production = spawn_app_with(backend, &[("WARDEN_ENV", "production")]).await;
        for query in misspelt {
            let body = production.graphql(None, query, json!({})).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
            assert!(!body.to_string().contains("Did you mean"), "production does not: {body}");
            assert!(!body.to_string().contains("setUserRoles"), "{body}");
        }
    }
}

backend_test! {
    async fn a_document_seen_before_is_judged_like_a_new_one(backend) {
        // Parsed documents are kept by their text; the second sending of each text below is
        // answered from that cache and must get exactly what the first got.
        let app = spawn_app(backend).await;
        app.create_user("ana@example.com", &[], &[]).await;
        let login = json!({
            "query": "mutation($p: String!) { login(email: \"ana@example.com\", password: $p) { tokenType } }",
            "variables": { "p": PASSWORD },
        });
        for _ in 0..2 {
            let (_, body) = post(&app, "application/json", &login).await;
            assert_eq!(body["data"]["login"]["tokenType"], "Bearer", "alone it runs: {body}");
            let (_, body) = post(&app, "application/json", &json!([login, { "query": "{ greeting }" }])).await;
            assert!(body[0]["errors"][0]["message"].as_str().is_some_and(|m| m.contains("batch")), "in a batch it never does: {body}");
        }
        // Variables and the chosen operation still come from each request.
        let wrong = json!({ "query": login["query"], "variables": { "p": "not the password" } });
        let (_, body) = post(&app, "application/json", &wrong).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "INVALID_CREDENTIALS", "{body}");
        let two = "query A { greeting } query B { b: greeting }";
        for (name, key) in [("A", "greeting"), ("B", "b"), ("A", "greeting")] {
            let (_, body) = post(&app, "application/json", &json!({ "query": two, "operationName": name })).await;
            assert_eq!(body["data"][key], "Hello, guest", "{name}: {body}");
        }
        // A document over a limit is refused every time (it is never kept).
        for _ in 0..2 {
            refused_before_execution(&app, &aliased_typenames(51), "too many aliases").await;
        }
    }
}
