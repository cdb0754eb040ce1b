//! `POST /graphql` and `GET /graphql`: GraphQL over HTTP, in the order a request meets it:
//! the media type to answer in ([negotiation]), the operations the request carries
//! ([request]), admission ([admission]), the schema ([`crate::graphql::execute`]), then the
//! answer ([response]).
//!
//! [negotiation]: crate::http::negotiation
//! [request]: crate::http::request
//! [admission]: crate::http::admission
//! [response]: crate::http::response

use async_graphql::BatchRequest;
use axum::{
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, Uri, header},
    response::Response,
};

use super::{
    HttpState,
    admission::{self, Peer},
    fault::TransportFault,
    negotiation::MediaType,
    playground,
    request::{read_get, read_post},
    response::respond,
};
use crate::graphql::{self, Transport};

/// `POST /graphql`.
pub(crate) async fn post(
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

/// `GET /graphql`: GraphiQL for browsers when the playground is on; otherwise a query (never
/// a mutation) from the query string.
pub(crate) async fn get(
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

/// A browser asking for a page (GraphiQL) rather than a GraphQL response.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}
