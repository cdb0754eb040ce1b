//! GraphQL over WebSocket at `GET /graphql` (subprotocol `graphql-transport-ws`): a second
//! door, held to the same rules as the first.
//!
//! - **Admission per operation.** The client authenticates in `connection_init` (the token
//!   header under `JWT_HEADER_NAME`, or in cookie mode the access cookie of the upgrade and the
//!   CSRF value under `JWT_CSRF_HEADER_NAME`); a failure closes the socket with 4401. Every
//!   operation it then starts goes through [`super::admission`] again, with that token and the
//!   upgrade's client address, exactly as the same request over HTTP would at that moment.
//!   The mutations that take a password, a code or a one-time token, or mint tokens, are HTTP
//!   only (the pipeline's limits refuse them on a [`crate::graphql::Transport::Socket`]).
//! - **Bounded before parsing.** A message over [`MAX_MESSAGE`] closes the socket with 1009
//!   before anything reads it (tungstenite's default was 64 MiB, and a parse into JSON values
//!   multiplies that); a socket that sends no `connection_init` within [`INIT_TIMEOUT`] closes
//!   with 4408, and at most [`MAX_WAITING_PER_ADDRESS`] sockets per client address may wait for
//!   theirs (the next upgrade is a 429). Once authenticated, `WARDEN_WS_MAX_PER_USER` bounds
//!   the sockets of one user (4429 past it) and `WARDEN_WS_MAX_OPERATIONS` the operations in
//!   flight on one socket.
//! - **No socket outlives its token**: a watcher per connection closes it with 4401 when the
//!   token's session or account ends, or the token expires.
//! - **Cross-site hijacking**: a cookie-carrying upgrade from an origin outside
//!   `WARDEN_CORS_ORIGINS` (and not the server's own) is refused before the upgrade; the
//!   victim's cookies are what such a page would use.

mod connection;
mod protocol;
mod waiting;

use std::time::Duration;

use axum::{
    extract::{FromRequestParts, Request, State, WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::http::{HttpState, admission, handlers};
pub(crate) use waiting::Waiting;

/// Largest message (and frame) read from a socket: the same bound as an HTTP body.
pub(crate) const MAX_MESSAGE: usize = crate::http::BODY_LIMIT;
/// How long a socket may wait before its `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Sockets one client address may hold open before their `connection_init`.
pub(crate) const MAX_WAITING_PER_ADDRESS: usize = 16;

/// `GET /graphql`: a WebSocket upgrade, or a query over HTTP.
pub(super) async fn get_or_upgrade(
    State(state): State<HttpState>,
    peer: admission::Peer,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !is_upgrade(&parts.headers) {
        return handlers::get(State(state), peer, parts.headers, parts.uri).await;
    }
    let offers_ours = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == protocol::SUBPROTOCOL);
    if !offers_ours {
        return (
            StatusCode::BAD_REQUEST,
            "WebSocket subprotocol graphql-transport-ws required",
        )
            .into_response();
    }
    let cookie = state
        .api
        .transport
        .uses_cookies()
        .then(|| parts.headers.get(header::COOKIE).cloned())
        .flatten();
    if cookie.is_some() && !origin_allowed(&parts.headers, &state.origins) {
        tracing::warn!("cookie-carrying WebSocket upgrade from a foreign origin refused");
        return (StatusCode::FORBIDDEN, "Origin not allowed").into_response();
    }
    let client = admission::client(&state, &parts.headers, &peer);
    let Some(waiting) = state.waiting.enter(client.ip) else {
        tracing::warn!(
            target: "warden::security",
            event = "websocket_refused",
            outcome = "limited",
            client_ip = client.ip.map(tracing::field::display),
            request_id = client.request_id.as_deref(),
            "too many sockets waiting for connection_init from one address"
        );
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many connections waiting for connection_init",
        )
            .into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade_ = connection::Upgrade {
        cookie,
        client,
        waiting,
    };
    upgrade
        .protocols([protocol::SUBPROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| connection::serve(state, socket, upgrade_))
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// No `Origin` (not a browser), one of the allowed origins, or the server's own.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o))
}

/// The request headers `connection_init` stands for: the upgrade's cookie (cookie mode) and
/// the payload's token and CSRF entries, under their configured names. Other entries are
/// ignored; a value that is not text is dropped, as a header could not carry it.
fn init_headers(
    state: &HttpState,
    cookie: Option<HeaderValue>,
    payload: &serde_json::Value,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(cookie) = cookie {
        headers.insert(header::COOKIE, cookie);
    }
    let wanted = [
        &state.api.transport.header_name,
        &state.api.transport.csrf_header,
    ];
    for (name, value) in payload.as_object().into_iter().flatten() {
        let Some(value) = value.as_str() else {
            continue;
        };
        if !wanted.iter().any(|w| w.eq_ignore_ascii_case(name)) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}
