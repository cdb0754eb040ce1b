//! One WebSocket connection: the handshake, the operations it starts, and its end.
//!
//! A single task owns the socket and reads three things at once: the client's messages, the
//! messages its operations produce (each operation runs in a task of its own and writes into a
//! bounded queue, so a slow client slows its own operations and nothing else), and its timers
//! (the `connection_init` deadline, pings, the close that follows the end of the token). Every
//! `subscribe` is admitted anew ([`crate::http::admission`]) and handed to the schema through
//! [`crate::graphql::execute_stream`], the same context as over HTTP; the connection keeps only
//! the headers its `connection_init` stood for, never a verdict on them.

use std::{
    collections::HashMap,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::ws::{CloseFrame, Message, WebSocket},
    http::{HeaderMap, HeaderValue},
};
use futures_util::{SinkExt, Stream, StreamExt, stream::SplitSink};
use tokio::{
    sync::{Notify, mpsc},
    task::AbortHandle,
    time::Instant,
};

use super::{
    INIT_TIMEOUT,
    protocol::{ClientMessage, Close, ServerMessage},
    waiting::WaitingSlot,
};
use crate::{
    auth::{Client, Credentials, live::ConnectionSlot, live::LiveEvents, tokens::Claims},
    clock::now_secs,
    error::{AppError, TokenKind},
    graphql::{self, Answer, Phase, Transport, errors, subscription::CloseConnection},
    http::{HttpState, admission},
};

/// Messages queued towards the socket before operations wait for the client.
const OUTBOUND_BUFFER: usize = 32;
/// How often an authenticated, idle connection is pinged.
const PING_EVERY: Duration = Duration::from_secs(30);
/// A client that sends nothing (not even a pong) for this long is disconnected.
const IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long the connection waits for a subscription's `complete` before closing anyway, once
/// its token has ended.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// Longest the closing handshake may take once we have sent our close frame.
const LINGER: Duration = Duration::from_millis(500);

/// What the upgrade hands the connection.
pub(super) struct Upgrade {
    /// The upgrade's `Cookie` header (cookie mode only): the access cookie travels there.
    pub(super) cookie: Option<HeaderValue>,
    /// The client as the upgrade request showed it (address through the trusted proxies).
    pub(super) client: Client,
    /// Its place among the sockets waiting for `connection_init`.
    pub(super) waiting: WaitingSlot,
}

/// What operations send back to the connection's task.
enum Outbound {
    /// A protocol message; `completes` when it is a `complete`.
    Message { text: String, completes: bool },
    /// The operation with this id is over (its last message is queued before this).
    Finished(String),
}

/// A task aborted when its handle is dropped: an operation the client stopped, or every
/// operation of a connection that ended.
struct Task(AbortHandle);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Asks the connection to close once its token is no longer valid: from the token watcher,
/// or from `sessionEvents` after its last event.
#[derive(Default)]
struct Closer {
    requested: AtomicBool,
    notify: Notify,
}

impl CloseConnection for Closer {
    fn close(&self) {
        if !self.requested.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}

/// The connection once `connection_init` was accepted.
struct Authenticated {
    /// The headers `connection_init` stood for; every operation is admitted with them.
    headers: HeaderMap,
    /// The per-user slot, freed with the connection.
    _slot: ConnectionSlot,
    /// Closes the connection when the token ends.
    _watcher: Task,
}

struct Connection {
    state: HttpState,
    client: Client,
    cookie: Option<HeaderValue>,
    waiting: Option<WaitingSlot>,
    authenticated: Option<Authenticated>,
    operations: HashMap<String, Task>,
    outbound: mpsc::Sender<Outbound>,
    closer: Arc<Closer>,
}

type Sink = SplitSink<WebSocket, Message>;

/// Serves the socket until the client leaves or a rule closes it.
pub(super) async fn serve(state: HttpState, socket: WebSocket, upgrade: Upgrade) {
    let (mut sink, mut stream) = socket.split();
    let (outbound, mut queue) = mpsc::channel(OUTBOUND_BUFFER);
    let closer = Arc::new(Closer::default());
    let mut connection = Connection {
        state,
        client: upgrade.client,
        cookie: upgrade.cookie,
        waiting: Some(upgrade.waiting),
        authenticated: None,
        operations: HashMap::new(),
        outbound,
        closer: closer.clone(),
    };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    let mut close_at: Option<Instant> = None;
    let close = loop {
        tokio::select! {
            incoming = stream.next() => {
                last_heard = Instant::now();
                match incoming {
                    None | Some(Ok(Message::Close(_))) => break None,
                    Some(Err(e)) => break is_too_big(e).then_some(Close::TooBig),
                    Some(Ok(Message::Text(text))) => {
                        if let Err(close) = connection.receive(text.as_str(), &mut sink).await {
                            break Some(close);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => break Some(Close::Invalid),
                    Some(Ok(_)) => {} // WebSocket-level ping and pong frames
                }
            }
            Some(out) = queue.recv() => match out {
                Outbound::Message { text, completes } => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                    if completes && closer.requested.load(Ordering::Acquire) {
                        break Some(Close::TokenEnded);
                    }
                }
                Outbound::Finished(id) => {
                    connection.operations.remove(&id);
                }
            },
            () = &mut init_deadline, if connection.authenticated.is_none() => {
                break Some(Close::InitTimeout);
            }
            () = closer.notify.notified(), if close_at.is_none() => {
                close_at = Some(Instant::now() + CLOSE_GRACE);
            }
            () = sleep_until(close_at), if close_at.is_some() => break Some(Close::TokenEnded),
            _ = ping.tick(), if connection.authenticated.is_some() => {
                if last_heard.elapsed() >= IDLE_TIMEOUT {
                    break Some(Close::Idle);
                }
                if send(&mut sink, &ServerMessage::Ping).await.is_err() {
                    break None;
                }
            }
        }
    };
    // Stop the operations first, so nothing more is queued for a socket about to close.
    connection.operations.clear();
    if let Some(close) = close {
        let frame = CloseFrame {
            code: close.code(),
            reason: close.reason().into(),
        };
        if sink.send(Message::Close(Some(frame))).await.is_ok() {
            linger(&mut stream, close).await;
        }
    }
    sink.close().await.ok();
}

/// After our close frame, the closing handshake: the client's own close, briefly awaited, so
/// that the connection ends in order rather than with a reset that could swallow our frame.
/// After a message over the bound the socket cannot be read any further (the rest of that
/// message is still arriving), so the client is only given a moment to read our frame.
async fn linger(stream: &mut futures_util::stream::SplitStream<WebSocket>, close: Close) {
    if close == Close::TooBig {
        tokio::time::sleep(LINGER).await;
        return;
    }
    let reply = async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    tokio::time::timeout(LINGER, reply).await.ok();
}

async fn send(sink: &mut Sink, message: &ServerMessage<'_>) -> Result<(), axum::Error> {
    sink.send(Message::Text(message.text().into())).await
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// True when the read failed because the message was over the size bound.
fn is_too_big(error: axum::Error) -> bool {
    matches!(
        error.into_inner().downcast_ref::<tungstenite::Error>(),
        Some(tungstenite::Error::Capacity(_))
    )
}

impl Connection {
    /// One text message from the client; `Err` closes the socket.
    async fn receive(&mut self, text: &str, sink: &mut Sink) -> Result<(), Close> {
        let message: ClientMessage = serde_json::from_str(text).map_err(|_| Close::Invalid)?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.authenticated.is_some() {
                    return Err(Close::SecondInit);
                }
                self.authenticate(&payload.unwrap_or_default())?;
                send(sink, &ServerMessage::ConnectionAck).await.ok();
            }
            ClientMessage::Ping { .. } => {
                send(sink, &ServerMessage::Pong).await.ok();
            }
            ClientMessage::Pong { .. } => {}
            ClientMessage::Subscribe { id, payload } => self.start(id, payload, sink).await?,
            ClientMessage::Complete { id } => {
                if self.authenticated.is_none() {
                    return Err(Close::Unauthenticated);
                }
                self.operations.remove(&id);
            }
        }
        Ok(())
    }

    /// Judges `connection_init` as a POST carrying the same headers would be judged.
    fn authenticate(&mut self, payload: &serde_json::Value) -> Result<(), Close> {
        let headers = super::init_headers(&self.state, self.cookie.take(), payload);
        let credentials = admission::judge(&self.state, &headers, true);
        let claims = match credentials.access.as_ref() {
            Credentials::Verified(verified) if verified.claims.kind() == TokenKind::Access => {
                verified.claims.clone()
            }
            _ => return Err(Close::Unauthenticated),
        };
        let live = &self.state.api.live;
        let slot = live
            .open(claims.user_id().unwrap_or(-1))
            .ok_or(Close::TooManyConnections)?;
        let watcher = tokio::spawn(watch(live.clone(), claims, self.closer.clone()));
        self.authenticated = Some(Authenticated {
            headers,
            _slot: slot,
            _watcher: Task(watcher.abort_handle()),
        });
        // No longer waiting for `connection_init`: its place goes back to the address.
        self.waiting = None;
        Ok(())
    }

    /// A `subscribe`: admitted now, then run in a task of its own.
    async fn start(
        &mut self,
        id: String,
        payload: serde_json::Value,
        sink: &mut Sink,
    ) -> Result<(), Close> {
        let Some(authenticated) = &self.authenticated else {
            return Err(Close::Unauthenticated);
        };
        if self.operations.contains_key(&id) {
            return Err(Close::DuplicateId);
        }
        let request: async_graphql::Request =
            serde_json::from_value(payload).map_err(|_| Close::Invalid)?;
        if self.operations.len() >= self.state.ws_max_operations {
            let refusal = errors::render(Some(&self.state.api.messages), &AppError::RateLimited(1))
                .into_server_error(async_graphql::Pos::default());
            let message = ServerMessage::Error {
                id: &id,
                payload: &[refusal],
            };
            send(sink, &message).await.ok();
            return Ok(());
        }
        let context = admission::admit(
            &self.state,
            &authenticated.headers,
            true,
            self.client.clone(),
            Transport::Socket(self.closer.clone()),
        );
        let answers = graphql::execute_stream(&self.state.schema, context, request);
        let task = tokio::spawn(run(id.clone(), answers, self.outbound.clone()));
        self.operations.insert(id, Task(task.abort_handle()));
        Ok(())
    }
}

/// Runs one operation and queues its messages: `error` when it was refused before producing
/// a result, otherwise each result as `next`, then `complete`.
async fn run(id: String, answers: impl Stream<Item = Answer>, outbound: mpsc::Sender<Outbound>) {
    let queue = |message: &ServerMessage<'_>| Outbound::Message {
        text: message.text(),
        completes: matches!(message, ServerMessage::Complete { .. }),
    };
    let mut answers = pin!(answers);
    while let Some(Answer { response, phase }) = answers.next().await {
        let refused = phase == Phase::Refused;
        let message = if refused {
            ServerMessage::Error {
                id: &id,
                payload: &response.errors,
            }
        } else {
            ServerMessage::Next {
                id: &id,
                payload: &response,
            }
        };
        if outbound.send(queue(&message)).await.is_err() {
            return;
        }
        if refused {
            outbound.send(Outbound::Finished(id)).await.ok();
            return;
        }
    }
    if outbound
        .send(queue(&ServerMessage::Complete { id: &id }))
        .await
        .is_ok()
    {
        outbound.send(Outbound::Finished(id)).await.ok();
    }
}

/// Asks the connection to close once its token stops being valid: an event that ends its
/// session or account, or expiry.
async fn watch(live: Arc<LiveEvents>, claims: Claims, closer: Arc<Closer>) {
    let mut events = live.watch(claims.clone());
    let until_expiry = Duration::from_secs(u64::try_from(claims.exp - now_secs()).unwrap_or(0));
    let expiry = tokio::time::sleep(until_expiry);
    tokio::pin!(expiry);
    if !live.is_refused(&claims) {
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
    closer.close();
}
