//! The schema's answers as an HTTP response: one body per operation, in the negotiated media
//! type, and one status for them all ([`crate::http::negotiation`] says which).

use axum::{
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};

use super::negotiation::MediaType;
use crate::graphql::{Answer, Answers};

/// Serialises the answers in `media`, with the status GraphQL over HTTP gives them.
pub(super) fn respond(media: MediaType, mut answers: Answers) -> Response {
    // Taken rather than copied: the body never carries them (async-graphql skips them).
    let http_headers = match &mut answers {
        Answers::Single(answer) => std::mem::take(&mut answer.response.http_headers),
        Answers::Batch(items) => items.iter_mut().fold(HeaderMap::new(), |mut all, answer| {
            all.extend(std::mem::take(&mut answer.response.http_headers));
            all
        }),
    };
    // Each answer is serialised once, straight to the body.
    let body = |answer| Body::of(media, answer);
    let (status, serialised) = match &answers {
        Answers::Single(answer) => (
            media.status([answer.phase]),
            serde_json::to_vec(&body(answer)),
        ),
        Answers::Batch(items) => (
            media.status(items.iter().map(|answer| answer.phase)),
            serde_json::to_vec(&items.iter().map(body).collect::<Vec<_>>()),
        ),
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

/// What one operation's answer serialises as.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Body<'a> {
    /// The engine's response as it is: executed (partial results included), or any answer
    /// for an `application/json` client.
    Answered(&'a async_graphql::Response),
    /// Failed before execution, for an `application/graphql-response+json` client: errors
    /// (and extensions), no `data`.
    Refused(ErrorsOnly<'a>),
}

impl<'a> Body<'a> {
    /// What `answer` serialises as in `media`.
    fn of(media: MediaType, answer: &'a Answer) -> Self {
        if media.keeps_data(answer.phase) {
            Self::Answered(&answer.response)
        } else {
            Self::Refused(ErrorsOnly {
                errors: &answer.response.errors,
                extensions: &answer.response.extensions,
            })
        }
    }
}

/// A response without its `data` entry.
#[derive(serde::Serialize)]
struct ErrorsOnly<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}
