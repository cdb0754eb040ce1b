//! What a GraphQL-over-HTTP request carries: a POST body or a GET query string read into the
//! operations to run, or the transport fault that stops it before the schema sees it.
//!
//! The body is read as bytes and parsed here rather than by async-graphql-axum's extractor,
//! so that each transport fault gets the status the contract names (400 malformed JSON or
//! request parameters, 413 too large, 415 not JSON, 405 a mutation over GET) instead of one
//! generic rejection.

use async_graphql::{BatchRequest, parser::types::OperationType};
use axum::{
    body::Bytes,
    extract::{Query, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, Uri, header},
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::fault::TransportFault;
use crate::graphql;

/// The batch a POST carries, or the transport fault that stops it.
pub(super) fn read_post(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    max_batch: usize,
) -> Result<BatchRequest, TransportFault> {
    if !is_json(headers) {
        return Err(TransportFault::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    // 413 over the body limit.
    let body = body.map_err(|r| TransportFault::new(r.status(), r.body_text()))?;
    let value = serde_json::from_slice(&body)
        .map_err(|e| TransportFault::bad_request(format!("Malformed JSON body: {e}")))?;
    to_batch(value, max_batch)
}

/// A JSON `Content-Type`: `application/json` or `application/graphql-response+json`, whatever
/// its parameters (`charset`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || mime.eq_ignore_ascii_case("application/graphql-response+json")
        })
}

/// The request parameters' types, as GraphQL over HTTP requires them: a string `query`;
/// `variables` and `extensions` maps; a string `operationName`. `null` counts as absent.
fn check_parameters(request: &Value) -> Result<(), &'static str> {
    let Some(request) = request.as_object() else {
        return Err("A GraphQL request must be a JSON object");
    };
    if !request.get("query").is_some_and(Value::is_string) {
        return Err("A GraphQL request needs a string `query`");
    }
    let absent_or =
        |key: &str, ok: fn(&Value) -> bool| request.get(key).is_none_or(|v| v.is_null() || ok(v));
    if !absent_or("variables", Value::is_object) {
        return Err("`variables` must be an object");
    }
    if !absent_or("extensions", Value::is_object) {
        return Err("`extensions` must be an object");
    }
    if !absent_or("operationName", Value::is_string) {
        return Err("`operationName` must be a string");
    }
    Ok(())
}

/// One request object, checked and converted.
fn to_request(value: Value) -> Result<async_graphql::Request, TransportFault> {
    check_parameters(&value).map_err(TransportFault::bad_request)?;
    serde_json::from_value(value)
        .map_err(|e| TransportFault::bad_request(format!("Bad GraphQL request parameters: {e}")))
}

/// A POST body: one request object, or a batch of them (a JSON array) of at most `max_batch`.
fn to_batch(value: Value, max_batch: usize) -> Result<BatchRequest, TransportFault> {
    match value {
        Value::Array(items) if items.is_empty() || items.len() > max_batch => Err(
            TransportFault::bad_request(format!("A batch must hold 1 to {max_batch} operations")),
        ),
        Value::Array(items) => items
            .into_iter()
            .map(to_request)
            .collect::<Result<Vec<_>, _>>()
            .map(BatchRequest::Batch),
        single => to_request(single).map(BatchRequest::Single),
    }
}

/// The query a GET carries, or the transport fault that stops it.
pub(super) fn read_get(uri: &Uri) -> Result<async_graphql::Request, TransportFault> {
    let Query(parameters) = Query::<GetParameters>::try_from_uri(uri).map_err(|e| {
        TransportFault::bad_request(format!("Bad GraphQL GET request: {}", e.body_text()))
    })?;
    if parameters
        .query
        .as_deref()
        .is_none_or(|q| q.trim().is_empty())
    {
        return Err(TransportFault::bad_request("Missing query: send ?query=…"));
    }
    let request = to_request(parameters.into_json()?)?;
    if is_mutation(&request) {
        return Err(TransportFault::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations must be sent with POST",
        ));
    }
    Ok(request)
}

/// True when the operation a GET would run is not a query: GET is safe, so mutations (and
/// subscriptions) are refused there. Without an operation name any such operation counts; a
/// document that does not parse counts as none, for the executor to report.
fn is_mutation(request: &async_graphql::Request) -> bool {
    graphql::selects(request, |ty| ty != OperationType::Query)
}

/// The query-string parameters of a GET; `variables` and `extensions` are JSON texts.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParameters {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

impl GetParameters {
    /// The same request object a POST body holds, so that both are checked alike.
    fn into_json(self) -> Result<Value, TransportFault> {
        let mut request = Map::new();
        let texts = [
            ("query", self.query),
            ("operationName", self.operation_name),
        ];
        for (key, text) in texts {
            if let Some(text) = text {
                request.insert(key.to_owned(), Value::String(text));
            }
        }
        let maps = [
            ("variables", self.variables),
            ("extensions", self.extensions),
        ];
        for (key, json) in maps {
            if let Some(json) = json.filter(|j| !j.trim().is_empty()) {
                let value = serde_json::from_str(&json).map_err(|e| {
                    TransportFault::bad_request(format!("`{key}` is not valid JSON: {e}"))
                })?;
                request.insert(key.to_owned(), value);
            }
        }
        Ok(Value::Object(request))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn request_parameters_must_have_the_types_graphql_over_http_names() {
        let cases = [
            (json!({ "query": "{ greeting }" }), Ok(())),
            (
                json!({ "query": "{ greeting }", "variables": null, "extensions": null,
                        "operationName": null }),
                Ok(()),
            ),
            (
                json!({ "query": "query A { greeting }", "variables": { "a": 1 },
                        "extensions": {}, "operationName": "A" }),
                Ok(()),
            ),
            (json!([]), Err("A GraphQL request must be a JSON object")),
            (
                json!("{ greeting }"),
                Err("A GraphQL request must be a JSON object"),
            ),
            (json!({}), Err("A GraphQL request needs a string `query`")),
            (
                json!({ "query": null }),
                Err("A GraphQL request needs a string `query`"),
            ),
            (
                json!({ "query": 1 }),
                Err("A GraphQL request needs a string `query`"),
            ),
            (
                json!({ "query": "{ a }", "variables": [] }),
                Err("`variables` must be an object"),
            ),
            (
                json!({ "query": "{ a }", "variables": "{}" }),
                Err("`variables` must be an object"),
            ),
            (
                json!({ "query": "{ a }", "extensions": 1 }),
                Err("`extensions` must be an object"),
            ),
            (
                json!({ "query": "{ a }", "operationName": 1 }),
                Err("`operationName` must be a string"),
            ),
        ];
        for (request, expected) in cases {
            assert_eq!(check_parameters(&request), expected, "{request}");
        }
    }

    #[test]
    fn a_post_body_is_one_request_or_a_bounded_batch() {
        let one = json!({ "query": "{ greeting }" });
        let outcome = |body: Value| match to_batch(body, 2) {
            Ok(BatchRequest::Single(_)) => Ok(1),
            Ok(BatchRequest::Batch(items)) => Ok(items.len()),
            Err(fault) => Err((fault.status, fault.message)),
        };
        let refused = |why: &str| Err((StatusCode::BAD_REQUEST, why.to_owned()));
        let cases = [
            (one.clone(), Ok(1)),
            // Keys the transport does not know are left to the engine, which ignores them.
            (json!({ "query": "{ a }", "extra": 1 }), Ok(1)),
            (json!([one.clone()]), Ok(1)),
            (json!([one.clone(), one.clone()]), Ok(2)),
            (json!([]), refused("A batch must hold 1 to 2 operations")),
            (
                json!([one.clone(), one.clone(), one.clone()]),
                refused("A batch must hold 1 to 2 operations"),
            ),
            (
                json!([one, { "query": 1 }]),
                refused("A GraphQL request needs a string `query`"),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(outcome(body.clone()), expected, "{body}");
        }
    }

    #[test]
    fn a_post_needs_a_json_content_type_and_a_json_body() {
        let post = |content_type: Option<&str>, body: &'static str| {
            let mut headers = HeaderMap::new();
            if let Some(value) = content_type {
                headers.insert(header::CONTENT_TYPE, value.parse().expect("header value"));
            }
            read_post(&headers, Ok(Bytes::from_static(body.as_bytes())), 10)
                .map(|_| ())
                .map_err(|fault| fault.status)
        };
        let query = r#"{"query":"{ greeting }"}"#;
        let cases = [
            (Some("application/json"), query, Ok(())),
            (Some("application/json; charset=utf-8"), query, Ok(())),
            (Some("APPLICATION/JSON"), query, Ok(())),
            (Some("application/graphql-response+json"), query, Ok(())),
            (
                Some("application/jsonx"),
                query,
                Err(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            (
                Some("text/plain"),
                query,
                Err(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ),
            (None, query, Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
            (Some("application/json"), "{", Err(StatusCode::BAD_REQUEST)),
            (Some("application/json"), "", Err(StatusCode::BAD_REQUEST)),
        ];
        for (content_type, body, expected) in cases {
            assert_eq!(
                post(content_type, body),
                expected,
                "{content_type:?} {body:?}"
            );
        }
    }

    #[test]
    fn a_get_reads_its_parameters_from_the_query_string() {
        let get = |uri: &str| read_get(&uri.parse().expect("uri"));
        let request = get("/graphql?query=query%20A%20%7B%20greeting%20%7D&operationName=A&variables=%7B%22a%22%3A1%7D&extensions=")
            .unwrap_or_else(|fault| panic!("{}", fault.message));
        assert_eq!(request.query, "query A { greeting }");
        assert_eq!(request.operation_name.as_deref(), Some("A"));
        assert_eq!(
            request.variables.into_value().into_json().expect("json"),
            json!({ "a": 1 })
        );
        let cases = [
            ("/graphql?query=%7B%20greeting%20%7D", Ok(())),
            ("/graphql?query=%7B%20greeting%20%7D&variables=", Ok(())),
            ("/graphql?query=%7B%20greeting%20%7D&variables=%20", Ok(())),
            (
                "/graphql",
                Err((StatusCode::BAD_REQUEST, "Missing query: send ?query=…")),
            ),
            (
                "/graphql?query=",
                Err((StatusCode::BAD_REQUEST, "Missing query: send ?query=…")),
            ),
            (
                "/graphql?query=%20",
                Err((StatusCode::BAD_REQUEST, "Missing query: send ?query=…")),
            ),
            (
                "/graphql?query=%7Ba%7D&variables=%5B1%5D",
                Err((StatusCode::BAD_REQUEST, "`variables` must be an object")),
            ),
            (
                "/graphql?query=%7Ba%7D&extensions=1",
                Err((StatusCode::BAD_REQUEST, "`extensions` must be an object")),
            ),
            (
                "/graphql?query=mutation%20%7B%20logout%20%7D",
                Err((
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Mutations must be sent with POST",
                )),
            ),
        ];
        for (uri, expected) in cases {
            let outcome = get(uri)
                .map(|_| ())
                .map_err(|fault| (fault.status, fault.message));
            assert_eq!(
                outcome,
                expected.map_err(|(status, message)| (status, message.to_owned())),
                "{uri}"
            );
        }
        for (uri, starts) in [
            (
                "/graphql?query=%7Ba%7D&variables=nope",
                "`variables` is not valid JSON",
            ),
            (
                "/graphql?query=%7Ba%7D&query=%7Bb%7D",
                "Bad GraphQL GET request",
            ),
        ] {
            let fault = get(uri).map(|_| ()).expect_err(uri);
            assert_eq!(fault.status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(
                fault.message.starts_with(starts),
                "{uri}: {}",
                fault.message
            );
        }
    }

    #[test]
    fn only_a_query_may_run_over_get() {
        let two = "query A { greeting } mutation B { logout }";
        let cases = [
            ("{ me { id } }", None, false),
            ("query Q { me { id } }", None, false),
            ("mutation { logout }", None, true),
            ("subscription { sessionEvents { kind } }", None, true),
            (two, Some("A"), false),
            (two, Some("B"), true),
            // No name: the executor will refuse the choice, but a mutation is there.
            (two, None, true),
            // A name no operation has, or a syntax error: the executor reports it.
            ("mutation { logout }", Some("Other"), false),
            ("mutation { logout", None, false),
        ];
        for (query, operation_name, expected) in cases {
            let mut request = async_graphql::Request::new(query);
            request.operation_name = operation_name.map(str::to_owned);
            assert_eq!(
                is_mutation(&request),
                expected,
                "{query} {operation_name:?}"
            );
        }
    }
}
