//! A fault found before the schema sees a request (400, 405, 406, 413, 415), and how it is
//! answered: its status and a GraphQL-shaped error body, so a client reads it as it reads any
//! other error.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::negotiation::MediaType;
use crate::error::ErrorCode;

/// A fault found before the schema sees the request; answered with its status and a
/// GraphQL-shaped error body (never a `data` entry).
pub(super) struct TransportFault {
    /// The status it is answered with.
    pub(super) status: StatusCode,
    /// What the client is told is wrong.
    pub(super) message: String,
}

impl TransportFault {
    /// A fault answered with `status`.
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A 400: the request's JSON or parameters are wrong.
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The response, in the negotiated media type (`application/json` when none was).
    pub(super) fn respond(self, media: Option<MediaType>) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_a_graphql_error_body_and_405_names_post() {
        let response = TransportFault::new(StatusCode::METHOD_NOT_ALLOWED, "no").respond(None);
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "POST");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let response = TransportFault::bad_request("no").respond(Some(MediaType::GraphqlResponse));
        assert!(response.headers().get(header::ALLOW).is_none());
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/graphql-response+json; charset=utf-8"
        );
    }
}
