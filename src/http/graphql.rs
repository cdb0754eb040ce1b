//! `POST /graphql` and `GET /graphql`: GraphQL over HTTP — transport checks, content
//! negotiation, credentials, then the schema, then the status code.
//!
//! The body is read as bytes and parsed here rather than by async-graphql-axum's extractor,
//! so that each transport fault gets the status the contract names (400 malformed JSON or
//! request parameters, 413 too large, 415 not JSON) instead of one generic rejection.
//!
//! The response media type follows `Accept` (contract section 2): `application/json` by
//! default, where every GraphQL response is HTTP 200; `application/graphql-response+json` when
//! the client prefers it, where a request that fails before execution is HTTP 400 without a
//! `data` entry. A batch is 400 only when every one of its operations failed before execution:
//! one status has to describe them all, and once any operation ran, its result is real data the
//! client must not discard. A client that accepts neither type gets 406, as the
//! GraphQL-over-HTTP specification recommends (its alternative, ignoring `Accept`, would hand a
//! client a type it said it cannot read).

use async_graphql::{BatchRequest, parser::types::OperationType};
use axum::{
    Json,
    body::Bytes,
    extract::{Query, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::{
    error::ErrorCode,
    graphql::{self, Answer, Answers, Phase, Transport},
    http::{
        HttpState,
        admission::{self, Peer},
        playground,
    },
};

/// The media types a GraphQL response travels as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    /// `application/json`: the default; every GraphQL response is HTTP 200.
    Json,
    /// `application/graphql-response+json`: the status code tells a bad request from a result.
    GraphqlResponse,
}

impl MediaType {
    const fn essence(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::GraphqlResponse => "application/graphql-response+json",
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Json => "application/json; charset=utf-8",
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
        })
    }

    /// The type to answer in, from `Accept` (RFC 9110 §12.5.1); `None` when the client accepts
    /// neither. No `Accept`, or only wildcards, means `application/json`. Between the two, the
    /// higher q-value wins, then a range that names the type over a wildcard, then the range
    /// listed first.
    fn negotiate(headers: &HeaderMap) -> Option<Self> {
        let ranges: Vec<(&str, u16)> = headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(parse_range)
            .collect();
        if ranges.is_empty() {
            return Some(Self::Json);
        }
        // For each type: (q, specificity, earlier position) of its most specific range.
        let rank = |media: Self| {
            let (main, _) = media.essence().split_once('/').unwrap_or_default();
            ranges
                .iter()
                .enumerate()
                .filter_map(|(index, &(range, q))| {
                    let specificity = if range.eq_ignore_ascii_case(media.essence()) {
                        2
                    } else if range
                        .strip_suffix("/*")
                        .is_some_and(|m| m.eq_ignore_ascii_case(main))
                    {
                        1
                    } else if range == "*/*" {
                        0
                    } else {
                        return None;
                    };
                    Some((specificity, q, std::cmp::Reverse(index)))
                })
                .max()
                .map(|(specificity, q, index)| (q, specificity, index))
                .filter(|&(q, _, _)| q > 0)
        };
        // `max_by_key` keeps the last of equal keys: `Json` last makes it win a full tie.
        [Self::GraphqlResponse, Self::Json]
            .into_iter()
            .filter_map(|media| rank(media).map(|r| (media, r)))
            .max_by_key(|&(_, r)| r)
            .map(|(media, _)| media)
    }
}

/// One element of `Accept`: the media range and its q-value in thousandths.
fn parse_range(element: &str) -> Option<(&str, u16)> {
    let mut parts = element.split(';').map(str::trim);
    let range = parts.next().filter(|r| !r.is_empty())?;
    let q = parts
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
        .map_or(1000, |(_, value)| {
            value
                .trim()
                .parse::<f32>()
                .map_or(0, |q| (q.clamp(0.0, 1.0) * 1000.0).round() as u16)
        });
    Some((range, q))
}

/// A fault found before the schema sees the request; answered with its status and a
/// GraphQL-shaped error body (never a `data` entry).
struct TransportFault {
    status: StatusCode,
    message: String,
}

impl TransportFault {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The response, in the negotiated media type (`application/json` when none was).
    fn respond(self, media: Option<MediaType>) -> Response {
        let body = serde_json::json!({
            "errors": [{ "message": self.message, "extensions": { "code": ErrorCode::BadUserInput.as_str() } }]
        });
        let media = media.unwrap_or(MediaType::Json);
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, media.content_type())],
            Json(body),
        )
            .into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            // Only a mutation over GET is refused this way.
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

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

/// Runs the request in the schema (406 first if no media type was agreed).
async fn execute(
    state: &HttpState,
    headers: &HeaderMap,
    peer: Peer,
    is_post: bool,
    media: Option<MediaType>,
    batch: BatchRequest,
) -> Response {
    let Some(media) = media else {
        return TransportFault::new(
            StatusCode::NOT_ACCEPTABLE,
            "Accept must allow application/json or application/graphql-response+json",
        )
        .respond(None);
    };
    let client = admission::client(state, headers, &peer);
    let context = admission::admit(state, headers, is_post, client, Transport::Http);
    let answers = graphql::execute(&state.schema, context, batch).await;
    respond(media, answers)
}

/// Serialises the answers in `media`, with the status GraphQL over HTTP gives them.
fn respond(media: MediaType, mut answers: Answers) -> Response {
    let strict = media == MediaType::GraphqlResponse;
    // Taken rather than copied: the body never carries them (async-graphql skips them).
    let http_headers = match &mut answers {
        Answers::Single(answer) => std::mem::take(&mut answer.response.http_headers),
        Answers::Batch(items) => items.iter_mut().fold(HeaderMap::new(), |mut all, answer| {
            all.extend(std::mem::take(&mut answer.response.http_headers));
            all
        }),
    };
    // Each answer is serialised once, straight to the body: one that failed before execution,
    // for a client that asked for application/graphql-response+json, goes out without its
    // `data` entry.
    let body = |answer| Body::of(strict, answer);
    let (all_refused, serialised) = match &answers {
        Answers::Single(answer) => (
            answer.phase == Phase::Refused,
            serde_json::to_vec(&body(answer)),
        ),
        Answers::Batch(items) => (
            items.iter().all(|answer| answer.phase == Phase::Refused),
            serde_json::to_vec(&items.iter().map(body).collect::<Vec<_>>()),
        ),
    };
    let status = if strict && all_refused {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let bytes = serialised.unwrap_or_else(|e| {
        tracing::error!(error = %e, "GraphQL response not serialisable");
        br#"{"errors":[{"message":"Internal error","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}"#
            .to_vec()
    });
    let mut response = (
        status,
        [(header::CONTENT_TYPE, media.content_type())],
        bytes,
    )
        .into_response();
    response.headers_mut().extend(http_headers);
    response
}

impl<'a> Body<'a> {
    /// What `answer` serialises as; `strict` for an `application/graphql-response+json` client.
    fn of(strict: bool, answer: &'a Answer) -> Self {
        if strict && answer.phase == Phase::Refused {
            Self::Refused(ErrorsOnly {
                errors: &answer.response.errors,
                extensions: &answer.response.extensions,
            })
        } else {
            Self::Answered(&answer.response)
        }
    }
}

/// What one operation's answer serialises as.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Body<'a> {
    /// Executed (partial results included): the engine's response as it is.
    Answered(&'a async_graphql::Response),
    /// Failed before execution, for a strict client: errors (and extensions), no `data`.
    Refused(ErrorsOnly<'a>),
}

#[derive(serde::Serialize)]
struct ErrorsOnly<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// `POST /graphql`.
pub async fn post(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let media = MediaType::negotiate(&headers);
    match read_post(&headers, body, state.max_batch) {
        Ok(batch) => execute(&state, &headers, peer, true, media, batch).await,
        Err(fault) => fault.respond(media),
    }
}

/// The batch a POST carries, or the transport fault that stops it.
fn read_post(
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

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The operation a GET would run, if the document says; mutations are refused on GET.
fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false; // the executor reports the syntax error
    };
    let name = request.operation_name.as_deref();
    document.operations.iter().any(|(op_name, op)| {
        let selected = match name {
            Some(name) => op_name.is_some_and(|n| n.as_str() == name),
            None => true,
        };
        selected && op.node.ty != OperationType::Query
    })
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

/// `GET /graphql`: GraphiQL for browsers when the playground is on; otherwise a query (never
/// a mutation) from the query string.
pub async fn get(
    State(state): State<HttpState>,
    peer: Peer,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let has_query = uri.query().is_some_and(|q| q.contains("query="));
    if state.playground && wants_html(&headers) && !has_query {
        return playground::page();
    }
    let media = MediaType::negotiate(&headers);
    match read_get(&uri) {
        Ok(request) => {
            execute(
                &state,
                &headers,
                peer,
                false,
                media,
                BatchRequest::Single(request),
            )
            .await
        }
        Err(fault) => fault.respond(media),
    }
}

/// The query a GET carries, or the transport fault that stops it.
fn read_get(uri: &Uri) -> Result<async_graphql::Request, TransportFault> {
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
