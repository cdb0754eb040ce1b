//! Liveness, readiness and the public key set.

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::http::HttpState;

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the database answers, 503 otherwise.
pub async fn readyz(State(state): State<HttpState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// `GET /.well-known/jwks.json`: the public keys (asymmetric algorithms only).
pub async fn jwks(State(state): State<HttpState>) -> Response {
    match state.codec.jwks() {
        Some(set) => Json(set.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no public keys: tokens are signed with a shared secret",
        )
            .into_response(),
    }
}
