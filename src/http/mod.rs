//! The HTTP surface (axum): routes, transport limits, request ids, tracing, CORS.
//! It extracts and checks the token once per request (admission) and hands the outcome to the
//! schema in a [`crate::graphql::RequestContext`]; the schema's answer comes back with each
//! operation's phase, from which the status is picked. Nothing here reads or writes a
//! GraphQL request's data.

/// The one place a request or a socket operation is let in, and who the client is.
mod admission;
/// Finding the caller's tokens in headers and cookies.
mod credentials;
/// The example browser app at `/example/`.
mod example;
/// A fault found before the schema sees a request, answered as a GraphQL error.
mod fault;
/// `POST` and `GET /graphql`: reading, admission, the schema, the answer.
mod handlers;
/// `/healthz`, `/readyz` and the JWKS.
mod health;
/// `GET /metrics`, on the main listener or one of its own.
pub mod metrics;
/// The media type to answer in, and the status each gives an answer.
mod negotiation;
/// GraphiQL, from assets built into the binary.
mod playground;
/// A POST body or GET query string read into operations, and the faults that stop one.
mod request;
/// The schema's answers written as an HTTP response.
mod response;
/// GraphQL over WebSocket, held to the same rules as HTTP.
mod ws;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, Request, header},
    routing::get,
};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::ServiceBuilder;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    auth::verify::TokenVerifier,
    graphql::{ApiState, WardenSchema},
};

/// Largest request body accepted (GraphQL documents for this API are small).
pub const BODY_LIMIT: usize = 64 * 1024;
/// Longest a request may take before it is answered 408 (a stuck database, a slow client).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the handlers share, behind one `Arc`: axum clones the state for every request, and
/// one reference count is cheaper than one per field.
#[derive(Clone)]
pub struct HttpState(Arc<HttpShared>);

impl HttpState {
    /// Shares `shared` with every handler.
    pub fn new(shared: HttpShared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for HttpState {
    type Target = HttpShared;

    fn deref(&self) -> &HttpShared {
        &self.0
    }
}

/// The fields of [`HttpState`].
pub struct HttpShared {
    /// The schema.
    pub schema: WardenSchema,
    /// What a presented token is worth (signature, claims, revocation state).
    pub verifier: TokenVerifier,
    /// What the resolvers share (the database, where tokens travel, the live events); the
    /// transport reads it too, so there is one copy of each.
    pub api: ApiState,
    /// GraphiQL on `GET /graphql`.
    pub playground: bool,
    /// Most operations in one JSON batch (`WARDEN_MAX_BATCH`).
    pub max_batch: usize,
    /// `GET /metrics` on this listener (development without `WARDEN_METRICS_ADDR`).
    pub metrics: Option<PrometheusHandle>,
    /// Browser origins allowed (`WARDEN_CORS_ORIGINS`): a cookie-authenticated WebSocket from
    /// any other origin (but the server's own) is refused.
    pub origins: Arc<[String]>,
    /// Proxies whose `X-Forwarded-For` names the client (`WARDEN_TRUSTED_PROXIES`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Operations in flight on one WebSocket (`WARDEN_WS_MAX_OPERATIONS`).
    pub ws_max_operations: usize,
    /// Sockets waiting for their `connection_init`, per client address.
    pub(crate) waiting: ws::Waiting,
}

/// Builds the router with its layers.
pub fn router(state: HttpState, cors_origins: &[String]) -> Router {
    // Browsers may send the token header and the CSRF header under their configured names.
    let cors_headers: Vec<HeaderName> = [
        state.api.transport.header_name.as_str(),
        state.api.transport.csrf_header.as_str(),
    ]
    .iter()
    .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
    .chain([header::CONTENT_TYPE])
    .collect();
    let graphql_routes = Router::new()
        .route("/graphql", get(ws::get_or_upgrade).post(handlers::post))
        // Responses may carry tokens: never store them in a cache.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));

    let playground = state.playground;
    let mut router = Router::new().merge(graphql_routes);
    if playground {
        router = router
            .route("/graphiql/{file}", get(playground::asset))
            .route("/example/", get(example::index))
            .route("/example/{file}", get(example::file));
    }
    if state.metrics.is_some() {
        router = router.route("/metrics", get(metrics::serve));
    }
    let mut router = router
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/jwks.json", get(health::jwks))
        .with_state(state);

    if !cors_origins.is_empty() {
        // `config` has checked each origin's shape (and refused `*`, which tower-http panics on
        // when credentials are allowed), so none is dropped here.
        let origins: Vec<HeaderValue> = cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST])
                .allow_headers(cors_headers)
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        );
    }

    // One stack, outermost first, added with one `layer` call: axum boxes the routes once per
    // `layer` call, and each box costs every request a clone and an allocation.
    router.layer(
        ServiceBuilder::new()
            // A client's own request id is kept only when short and plain, since it is written
            // into the logs; any other is replaced by a fresh one.
            .map_request(|mut request: Request<_>| {
                if request
                    .headers()
                    .get(&REQUEST_ID)
                    .is_some_and(|id| !id.to_str().is_ok_and(admission::is_plain_request_id))
                {
                    request.headers_mut().remove(&REQUEST_ID);
                }
                request
            })
            .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
            .layer(
                // The span names method, path and request id; never headers or the query
                // string, which may carry tokens.
                TraceLayer::new_for_http()
                    .on_response(DefaultOnResponse::new().level(Level::INFO))
                    .make_span_with(|req: &Request<_>| {
                        let request_id = req
                            .headers()
                            .get(&REQUEST_ID)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-");
                        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
                    }),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            // Hardening headers on every response; the GraphiQL page sets its own CSP.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                HeaderName::from_static("x-frame-options"),
                HeaderValue::from_static("DENY"),
            ))
            .layer(SetResponseHeaderLayer::if_not_present(
                HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ))
            .layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}
