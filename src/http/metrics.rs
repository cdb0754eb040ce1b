//! `GET /metrics`: the Prometheus text format. Served on the main listener in development,
//! on `WARDEN_METRICS_ADDR` when it is set, and not at all in production without it (metrics
//! name operations and failure rates, which are nobody's business on a public port).

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::http::HttpState;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn render(handle: &PrometheusHandle) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT))],
        handle.render(),
    )
        .into_response()
}

/// `GET /metrics` on the main listener.
pub async fn serve(State(state): State<HttpState>) -> Response {
    match &state.metrics {
        Some(handle) => render(handle),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// The router of the metrics-only listener (`WARDEN_METRICS_ADDR`).
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { render(&handle) }
        }),
    )
}
