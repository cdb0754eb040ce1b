//! Liveness, readiness and the public key set.

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::http::HttpState;

/// `GET /healthz`: 200 while the process runs.
pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// How long readiness waits for the database; probes want a quick answer.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /readyz`: 200 when the database answers (within two seconds) and the revocation
/// state is current (within `WARDEN_REVOCATION_MAX_LAG`), 503 otherwise.
pub(super) async fn readyz(State(state): State<HttpState>) -> Response {
    if !state.verifier.state().is_current() {
        tracing::warn!("readiness check: revocation state is behind the event log");
        return (StatusCode::SERVICE_UNAVAILABLE, "revocation state lagging").into_response();
    }
    match tokio::time::timeout(READY_TIMEOUT, state.api.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => {
            tracing::warn!("readiness check: database did not answer in time");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// `GET /.well-known/jwks.json`: the public keys (asymmetric algorithms only).
pub(super) async fn jwks(State(state): State<HttpState>) -> Response {
    match state.verifier.codec().jwks() {
        Some(set) => Json(set.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no public keys: tokens are signed with a shared secret",
        )
            .into_response(),
    }
}
