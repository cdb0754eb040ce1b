//! GraphQL over HTTP (docs/reference.md, "Routes"): the response media type follows `Accept`, and with
//! `application/graphql-response+json` a request that fails before execution is a 400 without
//! `data`. Requests go over a raw socket so that "no `Accept` at all" can be sent (reqwest
//! always adds `Accept: */*`).

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{backend_test, support::spawn_app};

const JSON: &str = "application/json";
const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// What came back: status, the media type (without parameters) and the JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    media: String,
    body: Value,
}

/// One HTTP/1.1 exchange on a fresh connection. `target` is the path and query;
/// a `body` makes it a JSON POST.
async fn exchange(base: &str, target: &str, accept: Option<&str>, body: Option<&str>) -> Answer {
    let authority = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect");
    let mut request = format!(
        "{} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n",
        if body.is_some() { "POST" } else { "GET" }
    );
    if let Some(accept) = accept {
        request.push_str(&format!("Accept: {accept}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let raw = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let media = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.split(';').next().unwrap_or_default().trim().to_owned())
        .unwrap_or_default();
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {body}"));
    Answer {
        status,
        media,
        body,
    }
}

async fn post(base: &str, accept: Option<&str>, body: &Value) -> Answer {
    exchange(base, "/graphql", accept, Some(&body.to_string())).await
}

/// How a request fails, which decides the status once the media type is known.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Runs and succeeds (possibly partially): 200 with `data`.
    None,
    /// Fails during execution: 200 with `data` (null for a failed mutation).
    AtExecution,
    /// Fails before execution: 200 with `data: null` as JSON, 400 without `data` otherwise.
    BeforeExecution,
    /// Bad request parameters: 400 without `data`, whatever the media type.
    Parameters,
}

#[rustfmt::skip]
fn requests() -> Vec<(&'static str, Value, Fault)> {
    let depth_bomb = format!("{{ __type(name: \"Query\") {{ {} name {} }} }}", "ofType { ".repeat(25), "}".repeat(25));
    vec![
        ("a good query", json!({ "query": "{ greeting }" }), Fault::None),
        ("a partial result", json!({ "query": "{ greeting me { id } }" }), Fault::None),
        ("a login with a wrong password", json!({
            "query": "mutation { login(email: \"nobody@example.com\", password: \"wrong password here\") { accessToken } }"
        }), Fault::AtExecution),
        ("a parse error", json!({ "query": "{ greeting" }), Fault::BeforeExecution),
        ("a validation error", json!({ "query": "{ nonexistent }" }), Fault::BeforeExecution),
        ("a null for a non-null variable", json!({
            "query": "query($id: ID!) { __typename }", "variables": { "id": null }
        }), Fault::BeforeExecution),
        ("a variable of the wrong type", json!({
            "query": "query($f: Int) { users(first: $f) { edges { cursor } } }", "variables": { "f": "ten" }
        }), Fault::BeforeExecution),
        ("a depth bomb", json!({ "query": depth_bomb }), Fault::BeforeExecution),
        ("an unknown operation name", json!({
            "query": "query A { greeting }", "operationName": "B"
        }), Fault::BeforeExecution),
        ("a missing query", json!({ "notquery": "{ greeting }" }), Fault::Parameters),
        ("a query that is not a string", json!({ "query": 1 }), Fault::Parameters),
        ("variables that are not an object", json!({ "query": "{ greeting }", "variables": "{}" }), Fault::Parameters),
        ("extensions that are not an object", json!({ "query": "{ greeting }", "extensions": [] }), Fault::Parameters),
        ("an operation name that is not a string", json!({ "query": "{ greeting }", "operationName": false }), Fault::Parameters),
    ]
}

/// `Accept` values and the media type each must get.
const ACCEPTS: &[(Option<&str>, &str)] = &[
    (None, JSON),
    (Some("*/*"), JSON),
    (Some("application/json"), JSON),
    (Some("application/*"), JSON),
    (Some("application/graphql-response+json"), GRAPHQL_RESPONSE),
    (
        Some("application/graphql-response+json, application/json;q=0.9"),
        GRAPHQL_RESPONSE,
    ),
    (
        Some("application/json, application/graphql-response+json"),
        JSON,
    ),
    (
        Some("application/json;q=0.5, application/graphql-response+json"),
        GRAPHQL_RESPONSE,
    ),
    (
        Some("text/html, */*;q=0.8, application/graphql-response+json;q=0.9"),
        GRAPHQL_RESPONSE,
    ),
    (Some("application/graphql-response+json;q=0, */*"), JSON),
];

backend_test! {
    async fn each_accept_and_fault_gets_the_status_media_type_and_data_entry_the_spec_names(backend) {
        let app = spawn_app(backend).await;
        for (accept, media) in ACCEPTS {
            for (name, body, fault) in requests() {
                let answer = post(&app.base, *accept, &body).await;
                let strict = *media == GRAPHQL_RESPONSE;
                let (status, has_data) = match fault {
                    Fault::None | Fault::AtExecution => (200, true),
                    Fault::BeforeExecution if strict => (400, false),
                    Fault::BeforeExecution => (200, true),
                    Fault::Parameters => (400, false),
                };
                let case = format!("{name} with Accept {accept:?}: {answer:?}");
                assert_eq!(answer.status, status, "{case}");
                assert_eq!(answer.media, *media, "{case}");
                assert_eq!(answer.body.get("data").is_some(), has_data, "{case}");
                assert_eq!(answer.body["errors"].is_array(), name != "a good query", "{case}");
                if fault == Fault::AtExecution {
                    assert!(answer.body["data"].is_null(), "a failed mutation has data: null: {case}");
                    assert_eq!(answer.body["errors"][0]["extensions"]["code"], "INVALID_CREDENTIALS", "{case}");
                }
                if fault == Fault::BeforeExecution {
                    assert_eq!(answer.body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{case}");
                }
            }
        }
    }
}

backend_test! {
    async fn a_batch_is_400_only_when_every_operation_failed_before_execution(backend) {
        let app = spawn_app(backend).await;
        let good = json!({ "query": "{ greeting }" });
        let broken = json!({ "query": "{ greeting" });
        let invalid = json!({ "query": "{ nonexistent }" });

        let mixed = post(&app.base, Some(GRAPHQL_RESPONSE), &json!([good, broken])).await;
        assert_eq!((mixed.status, mixed.media.as_str()), (200, GRAPHQL_RESPONSE), "{mixed:?}");
        assert_eq!(mixed.body[0]["data"]["greeting"], "Hello, guest");
        assert!(mixed.body[1].get("data").is_none(), "{mixed:?}");
        assert_eq!(mixed.body[1]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

        let all_bad = post(&app.base, Some(GRAPHQL_RESPONSE), &json!([broken, invalid])).await;
        assert_eq!(all_bad.status, 400, "{all_bad:?}");
        assert!(all_bad.body.as_array().expect("array").iter().all(|item| item.get("data").is_none() && item["errors"].is_array()));

        let as_json = post(&app.base, Some(JSON), &json!([broken, invalid])).await;
        assert_eq!((as_json.status, as_json.media.as_str()), (200, JSON), "{as_json:?}");
        assert!(as_json.body.as_array().expect("array").iter().all(|item| item["data"].is_null()));

        let bad_item = post(&app.base, Some(JSON), &json!([good, { "query": "{ greeting }", "variables": 0 }])).await;
        assert_eq!(bad_item.status, 400, "{bad_item:?}");
    }
}

/// A GET of `/graphql` with these query-string parameters.
async fn get(base: &str, parameters: &[(&str, &str)], accept: Option<&str>) -> Answer {
    let query: Vec<String> = parameters
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect();
    exchange(base, &format!("/graphql?{}", query.join("&")), accept, None).await
}

backend_test! {
    async fn get_negotiates_the_same_way_and_honours_operation_name(backend) {
        let app = spawn_app(backend).await;
        let parse_error = get(&app.base, &[("query", "{ greeting")], Some(GRAPHQL_RESPONSE)).await;
        assert_eq!((parse_error.status, parse_error.media.as_str()), (400, GRAPHQL_RESPONSE), "{parse_error:?}");
        assert!(parse_error.body.get("data").is_none());
        let as_json = get(&app.base, &[("query", "{ greeting")], None).await;
        assert_eq!((as_json.status, as_json.media.as_str()), (200, JSON), "{as_json:?}");
        assert!(as_json.body["data"].is_null());

        let mutation = get(&app.base, &[("query", "mutation { logout }")], Some(GRAPHQL_RESPONSE)).await;
        assert_eq!((mutation.status, mutation.media.as_str()), (405, GRAPHQL_RESPONSE), "{mutation:?}");

        let named = get(&app.base, &[
            ("query", "query A { greeting } query B($n: String!) { __type(name: $n) { name } }"),
            ("operationName", "B"),
            ("variables", r#"{"n": "Query"}"#),
        ], Some(GRAPHQL_RESPONSE)).await;
        assert_eq!(named.status, 200, "{named:?}");
        assert_eq!(named.body["data"]["__type"]["name"], "Query");

        let bad_variables = get(&app.base, &[("query", "{ __typename }"), ("variables", "[]")], None).await;
        assert_eq!(bad_variables.status, 400, "{bad_variables:?}");
    }
}

backend_test! {
    async fn a_client_that_accepts_neither_media_type_gets_406(backend) {
        let app = spawn_app(backend).await;
        let answer = post(&app.base, Some("text/html"), &json!({ "query": "{ greeting }" })).await;
        assert_eq!((answer.status, answer.media.as_str()), (406, JSON), "{answer:?}");
        assert!(answer.body.get("data").is_none());
        let refused = post(&app.base, Some("application/json;q=0"), &json!({ "query": "{ greeting }" })).await;
        assert_eq!(refused.status, 406, "{refused:?}");
    }
}

backend_test! {
    async fn transport_faults_keep_their_status_in_the_negotiated_media_type(backend) {
        let app = spawn_app(backend).await;
        let malformed = exchange(&app.base, "/graphql", Some(GRAPHQL_RESPONSE), Some("{ not json")).await;
        assert_eq!((malformed.status, malformed.media.as_str()), (400, GRAPHQL_RESPONSE), "{malformed:?}");
        let huge = json!({ "query": "{ greeting }", "variables": { "pad": "x".repeat(100 * 1024) } });
        let too_large = post(&app.base, Some(GRAPHQL_RESPONSE), &huge).await;
        assert_eq!((too_large.status, too_large.media.as_str()), (413, GRAPHQL_RESPONSE), "{too_large:?}");
        let batch: Vec<_> = (0..11).map(|_| json!({ "query": "{ greeting }" })).collect();
        let too_many = post(&app.base, None, &json!(batch)).await;
        assert_eq!((too_many.status, too_many.media.as_str()), (400, JSON), "{too_many:?}");
        assert!(too_many.body.get("data").is_none());
    }
}

/// Percent-encodes a query-string value.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
