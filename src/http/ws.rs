//! GraphQL subscriptions over WebSocket at `GET /graphql` (subprotocol
//! `graphql-transport-ws`), with authentication in `connection_init`.
//!
//! The client authenticates in the `connection_init` payload: the token header under
//! `JWT_HEADER_NAME` (`{"Authorization": "Bearer …"}`), or, in cookie mode, the access cookie
//! sent with the upgrade and the CSRF value under `JWT_CSRF_HEADER_NAME`. Both are judged by
//! the same [`credentials::Finder`] as HTTP requests; a failure closes the socket with 4401.
//! A cookie-carrying upgrade from an origin outside `WARDEN_CORS_ORIGINS` (and not the
//! server's own) is refused before the upgrade: cross-site WebSocket hijacking needs the
//! victim's cookies, and this is where they would be used.
//!
//! Between async-graphql's protocol engine and the socket sits a writer of our own. It
//! forwards the engine's messages, pings an idle client (the protocol's ping/pong), and
//! closes the socket with 4401 when the connection's token stops being valid: after the
//! subscription's `complete` when one is open, after a short grace otherwise. A watcher per
//! connection decides when that is (revocation, account disabled, expiry), so no socket
//! outlives the token it authenticated with, whether or not it subscribed.

use std::{
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    extract::{
        FromRequestParts, Request, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Notify;

use crate::{
    auth::{Credentials, live::ConnectionSlot, tokens::Claims},
    clock::now_secs,
    error::TokenKind,
    graphql::subscription::CloseConnection,
    http::{HttpState, credentials, graphql},
};

/// The one subprotocol spoken.
const SUBPROTOCOL: &str = "graphql-transport-ws";
/// Close code for a connection whose authentication failed or ended.
const CLOSE_UNAUTHENTICATED: u16 = 4401;
/// Messages queued towards one socket before the engine waits for the client.
const OUTBOUND_BUFFER: usize = 32;
/// How often an idle connection is pinged.
const PING_EVERY: Duration = Duration::from_secs(30);
/// A client that sends nothing (not even a pong) for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long the writer waits for a subscription's `complete` before closing anyway.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// `GET /graphql`: a WebSocket upgrade for subscriptions, or a query over HTTP.
pub async fn get_or_upgrade(
    State(state): State<HttpState>,
    peer: graphql::Peer,
    request: Request,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !is_upgrade(&parts.headers) {
        return graphql::get(State(state), peer, parts.headers, parts.uri).await;
    }
    let offers_ours = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL);
    if !offers_ours {
        return (
            StatusCode::BAD_REQUEST,
            "WebSocket subprotocol graphql-transport-ws required",
        )
            .into_response();
    }
    parts.headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
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
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols([SUBPROTOCOL])
        .on_upgrade(move |socket| serve(state, socket, protocol, cookie))
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

/// What the pieces of one connection share.
#[derive(Default)]
struct Life {
    /// The token stopped being valid: close with 4401.
    closing: AtomicBool,
    close_requested: Notify,
    /// `connection_init` was refused: the engine's close becomes a 4401.
    refused: AtomicBool,
    /// The token the connection authenticated with.
    claims: OnceLock<Claims>,
    authenticated: Notify,
    /// The per-user slot, freed with the connection.
    slot: Mutex<Option<ConnectionSlot>>,
}

impl CloseConnection for Life {
    fn close(&self) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            self.close_requested.notify_one();
        }
    }
}

impl Life {
    async fn claims(&self) -> &Claims {
        loop {
            let notified = self.authenticated.notified();
            if let Some(claims) = self.claims.get() {
                return claims;
            }
            notified.await;
        }
    }
}

async fn serve(
    state: HttpState,
    socket: WebSocket,
    protocol: GraphQLProtocol,
    cookie: Option<HeaderValue>,
) {
    let (mut sink, stream) = socket.split();
    let (outbound, mut outbox) = futures_channel::mpsc::channel::<Message>(OUTBOUND_BUFFER);
    let life = Arc::new(Life::default());
    let mut data = Data::default();
    data.insert(life.clone() as Arc<dyn CloseConnection>);
    let init_state = state.clone();
    let init_life = life.clone();
    let engine = GraphQLWebSocket::new_with_pair(outbound, stream, state.schema.clone(), protocol)
        .with_data(data)
        .on_connection_init(move |payload| async move {
            authenticate(&init_state, cookie, &payload, &init_life)
        })
        .keepalive_timeout(IDLE_TIMEOUT)
        .serve();
    let engine = async {
        engine.await;
        // The engine has stopped; leave the writer time to flush what it queued.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = write(&mut sink, &mut outbox, &life) => {}
        () = engine => {}
        () = watch(&state, &life) => {}
    }
    sink.close().await.ok();
}

/// Judges the `connection_init` payload as a request's headers would be judged.
fn authenticate(
    state: &HttpState,
    cookie: Option<HeaderValue>,
    payload: &serde_json::Value,
    life: &Life,
) -> async_graphql::Result<Data> {
    let refuse = |reason: &str| {
        life.refused.store(true, Ordering::Release);
        Err(async_graphql::Error::new(reason))
    };
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
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    let finder = credentials::Finder {
        transport: &state.api.transport,
        verifier: &state.verifier,
    };
    // Judged like a POST: a cookie token needs its CSRF value.
    let credentials = finder.resolve(&headers, true);
    let Credentials::Verified(verified) = credentials.access.as_ref() else {
        return refuse("Unauthenticated");
    };
    if verified.claims.kind() != TokenKind::Access {
        return refuse("Only access tokens are allowed");
    }
    let Some(slot) = state.api.live.open(verified.claims.user_id().unwrap_or(-1)) else {
        return refuse("Too many open connections");
    };
    *life
        .slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(slot);
    life.claims.set(verified.claims.clone()).ok();
    life.authenticated.notify_waiters();
    let mut data = Data::default();
    data.insert(Arc::new(credentials));
    Ok(data)
}

/// Forwards the engine's messages to the socket, pings, and closes with 4401 when asked.
async fn write(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    outbox: &mut futures_channel::mpsc::Receiver<Message>,
    life: &Life,
) {
    let close = |reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code: CLOSE_UNAUTHENTICATED,
            reason: reason.into(),
        }))
    };
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            message = outbox.next() => match message {
                None => return,
                Some(Message::Close(_)) if life.refused.load(Ordering::Acquire) => {
                    sink.send(close("Unauthenticated")).await.ok();
                    return;
                }
                Some(message @ Message::Close(_)) => {
                    sink.send(message).await.ok();
                    return;
                }
                Some(message) => {
                    let completes = matches!(&message, Message::Text(t) if t.contains("\"complete\""));
                    if sink.send(message).await.is_err() {
                        return;
                    }
                    if completes && life.closing.load(Ordering::Acquire) {
                        sink.send(close("Token no longer valid")).await.ok();
                        return;
                    }
                }
            },
            () = life.close_requested.notified(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + CLOSE_GRACE);
            }
            () = sleep_until(deadline), if deadline.is_some() => {
                sink.send(close("Token no longer valid")).await.ok();
                return;
            }
            _ = ping.tick() => {
                if life.claims.get().is_some()
                    && sink.send(Message::Text(r#"{"type":"ping"}"#.into())).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Asks the connection to close once its token stops being valid: an event that ends its
/// session or account, or expiry. Never completes by itself.
async fn watch(state: &HttpState, life: &Life) {
    let claims = life.claims().await;
    let mut events = state.api.live.watch(claims.clone());
    let until_expiry = Duration::from_secs(u64::try_from(claims.exp - now_secs()).unwrap_or(0));
    let expiry = tokio::time::sleep(until_expiry);
    tokio::pin!(expiry);
    if !state.api.live.is_refused(claims) {
        loop {
            tokio::select! {
                outcome = events.next() => {
                    if outcome.is_none_or(|o| o.is_terminal()) {
                        break;
                    }
                }
                () = &mut expiry => break,
            }
        }
    }
    life.close();
    std::future::pending::<()>().await;
}
