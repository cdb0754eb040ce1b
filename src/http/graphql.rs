//! `POST /graphql` and `GET /graphql`: transport checks, credentials, then the schema.
//!
//! The body is read as bytes and parsed here rather than by async-graphql-axum's extractor,
//! so that each transport fault gets the status the contract names (400 malformed JSON,
//! 413 too large, 415 not JSON) instead of one generic rejection.

use std::sync::Arc;

use async_graphql::{BatchRequest, parser::types::OperationType};
use async_graphql_axum::GraphQLResponse;
use axum::{
    Json,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    error::ErrorCode,
    graphql::RequestMeta,
    http::{HttpState, credentials, playground},
};

/// Most operations in one batched POST.
pub const MAX_BATCH: usize = 10;
/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 256;

/// A transport fault: status and a GraphQL-shaped error body.
fn transport_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": ErrorCode::BadUserInput.as_str() } }]
    });
    (status, Json(body)).into_response()
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

fn request_meta(headers: &HeaderMap) -> RequestMeta {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    RequestMeta { user_agent }
}

async fn execute(
    state: &HttpState,
    headers: &HeaderMap,
    is_post: bool,
    batch: BatchRequest,
) -> Response {
    let finder = credentials::Finder {
        transport: &state.transport,
        verifier: &state.verifier,
    };
    let credentials = finder.resolve(headers, is_post);
    let batch = batch
        .data(Arc::new(credentials))
        .data(request_meta(headers));
    GraphQLResponse::from(state.schema.execute_batch(batch).await).into_response()
}

/// `POST /graphql`.
pub async fn post(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_json(&headers) {
        return transport_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            return transport_error(
                StatusCode::BAD_REQUEST,
                &format!("Malformed JSON body: {e}"),
            );
        }
    };
    if let BatchRequest::Batch(items) = &batch
        && (items.is_empty() || items.len() > MAX_BATCH)
    {
        return transport_error(
            StatusCode::BAD_REQUEST,
            &format!("A batch must hold 1 to {MAX_BATCH} operations"),
        );
    }
    execute(&state, &headers, true, batch).await
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

/// `GET /graphql`: GraphiQL for browsers when the playground is on; otherwise a query (never
/// a mutation) from the query string.
pub async fn get(
    State(state): State<HttpState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if state.playground && wants_html(&headers) && !query.contains("query=") {
        return playground::page();
    }
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(e) => {
            return transport_error(
                StatusCode::BAD_REQUEST,
                &format!("Bad GraphQL GET request: {e}"),
            );
        }
    };
    if request.query.trim().is_empty() {
        return transport_error(StatusCode::BAD_REQUEST, "Missing query: send ?query=…");
    }
    if is_mutation(&request) {
        let mut response = transport_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, &headers, false, BatchRequest::Single(request)).await
}
