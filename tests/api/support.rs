//! The test harness: a real Warden on port 0 with a fresh database per test (a SQLite file,
//! or a new PostgreSQL database when `TEST_DATABASE_URL` is set), and a real HTTP client.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};
pub(crate) use warden::testing::{PASSWORD, TEST_KEY, forge};
use warden::{
    config::Config,
    events::{Change, EventLog},
    startup::Application,
    testing::{TestClaims, sqlite_url},
    users,
};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    /// A SQLite file in a temp folder.
    Sqlite,
    /// A fresh database on the server named by `TEST_DATABASE_URL`.
    Postgres,
}

/// Generates a `sqlite` and a `postgres` test from one body taking `backend: Backend`.
/// The PostgreSQL one is ignored, with the reason shown, unless `TEST_DATABASE_URL` is set.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($backend: $crate::support::Backend) $body
            #[tokio::test]
            async fn sqlite() {
                run($crate::support::Backend::Sqlite).await
            }
            #[tokio::test]
            #[cfg_attr(not(postgres_leg), ignore = "PostgreSQL leg skipped: set TEST_DATABASE_URL to run it")]
            async fn postgres() {
                run($crate::support::Backend::Postgres).await
            }
        }
    };
}

/// A running app and what is needed to talk to it, restart it, or reach its database.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the metrics listener, when `WARDEN_METRICS_ADDR` is set.
    pub metrics_base: Option<String>,
    /// The database URL (for the CLI and restarts).
    pub database_url: String,
    /// The variables the app was configured with.
    pub vars: HashMap<String, String>,
    /// The HTTP client.
    pub client: reqwest::Client,
    /// SQL statements the running app has executed.
    pub statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The running app's live-event fan-out (open WebSocket connections).
    pub live: Option<std::sync::Arc<warden::auth::live::LiveEvents>>,
    /// What the running app holds in memory to judge tokens.
    pub revocation: Option<std::sync::Arc<warden::auth::revocation::RevocationState>>,
    /// Password hashes running in the app, and the most that ran at once.
    pub hashes: std::sync::Arc<warden::password::HashGauge>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

async fn fresh_database(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            (sqlite_url(dir.path(), "warden.db"), Some(dir))
        }
        Backend::Postgres => {
            let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
            let name = format!("warden_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (without_query, query) = match admin_url.split_once('?') {
                Some((base, q)) => (base, format!("?{q}")),
                None => (admin_url.as_str(), String::new()),
            };
            let (server, _) = without_query
                .rsplit_once('/')
                .expect("URL with a database path");
            (format!("{server}/{name}{query}"), None)
        }
    }
}

/// Starts an app with the test defaults.
pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts an app with the test defaults overridden by `extra`.
pub(crate) async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    warden::telemetry::init_for_tests();
    let (database_url, dir) = fresh_database(backend).await;
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", database_url.as_str()),
        ("WARDEN_ADDR", "127.0.0.1:0"),
        ("JWT_SECRET_KEY", TEST_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut app = TestApp {
        base: String::new(),
        metrics_base: None,
        database_url,
        vars,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        statements: Default::default(),
        live: None,
        revocation: None,
        hashes: Default::default(),
        shutdown: None,
        server: None,
        _dir: dir,
    };
    app.start().await;
    app
}

impl TestApp {
    async fn start(&mut self) {
        let config = Config::from_map(&self.vars).expect("test config");
        let app = Application::build(config).await.expect("app builds");
        let addr: SocketAddr = app.local_addr();
        self.metrics_base = app.metrics_addr().map(|a| format!("http://{a}"));
        self.statements = app.statements();
        self.live = Some(app.live());
        self.revocation = Some(app.revocation_state());
        self.hashes = app.hashes();
        let (tx, rx) = oneshot::channel::<()>();
        self.server = Some(tokio::spawn(app.run_until(async move {
            rx.await.ok();
        })));
        self.shutdown = Some(tx);
        self.base = format!("http://{addr}");
    }

    /// A second instance on the same database and key (scale-out), with its own port.
    pub(crate) async fn another_instance(&self) -> TestApp {
        let mut other = TestApp {
            base: String::new(),
            metrics_base: None,
            database_url: self.database_url.clone(),
            vars: self.vars.clone(),
            client: self.client.clone(),
            statements: Default::default(),
            live: None,
            revocation: None,
            hashes: Default::default(),
            shutdown: None,
            server: None,
            _dir: None,
        };
        other.start().await;
        other
    }

    /// Stops the server gracefully and starts a new one on the same database and key.
    pub(crate) async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Stops the server gracefully.
    pub(crate) async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ran");
        }
    }

    /// How many SQL statements the app has executed so far.
    pub(crate) fn statements_so_far(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A database connection of the test's own.
    pub(crate) async fn db(&self) -> sea_orm::DatabaseConnection {
        Database::connect(&self.database_url)
            .await
            .expect("connect")
    }

    /// Creates a user straight in the database; returns its id.
    pub(crate) async fn create_user(
        &self,
        email: &str,
        roles: &[&str],
        permissions: &[&str],
    ) -> i64 {
        let db = self.db().await;
        let id = warden::testing::create_user(&db, email, roles, permissions).await;
        db.close().await.ok();
        id
    }

    /// POSTs a raw JSON body (a request or a batch) to `/graphql` with `headers`; returns the
    /// response, whatever its status.
    pub(crate) async fn post(&self, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request sent")
    }

    /// POSTs a GraphQL operation, with a bearer token if given; returns the JSON body
    /// (asserting HTTP 200, as every GraphQL-level error must travel).
    pub(crate) async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|value| ("authorization", value.as_str()))
            .collect();
        let response = self
            .post(&json!({ "query": query, "variables": variables }), &headers)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "GraphQL errors travel with 200"
        );
        response.json().await.expect("JSON body")
    }

    /// Logs in; returns `(access, refresh)`.
    pub(crate) async fn login(&self, email: &str, password: &str) -> (String, String) {
        let body = self
            .graphql(
                None,
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }",
                json!({ "e": email, "p": password }),
            )
            .await;
        let login = &body["data"]["login"];
        assert!(login.is_object(), "login failed: {body}");
        (
            login["accessToken"].as_str().expect("access").to_owned(),
            login["refreshToken"].as_str().expect("refresh").to_owned(),
        )
    }

    /// Changes a user's grants the way another process does (the CLI, another instance):
    /// in the database and its event log, with nothing told to this app, which learns of it
    /// through its event feed.
    pub(crate) async fn set_grants_elsewhere(
        &self,
        user_id: i64,
        roles: Option<&[String]>,
        permissions: Option<&[String]>,
    ) {
        let db = self.db().await;
        users::set_grants(&db, &EventLog::default(), user_id, roles, permissions)
            .await
            .expect("grants changed");
        db.close().await.ok();
    }

    /// Revokes a `jti` the way another instance does: the revocation list and its event, in
    /// one transaction, with nothing told to this app.
    pub(crate) async fn revoke_elsewhere(&self, jti: &str, expires_at: i64) {
        let db = self.db().await;
        let txn = db.begin().await.expect("begin");
        warden::auth::revocation::revoke_jti(&txn, jti, expires_at)
            .await
            .expect("revoked");
        let change = Change::JtiRevoked {
            jti: jti.to_owned(),
            user_id: None,
            until: expires_at,
        };
        EventLog::default()
            .commit(txn, vec![change])
            .await
            .expect("event");
        db.close().await.ok();
    }

    /// Sends `query` until `done` holds for the answer (a change made elsewhere reaches this
    /// app through its event feed, within `WARDEN_REVOCATION_MAX_LAG`); panics after 5 s.
    pub(crate) async fn eventually(
        &self,
        token: Option<&str>,
        query: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let body = self.graphql(token, query, json!({})).await;
            if done(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not within 5 s: {query} still answers {body}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until this app refuses `token` as revoked (see [`Self::eventually`]).
    pub(crate) async fn until_revoked(&self, token: &str) {
        self.eventually(Some(token), "{ greeting }", |body| {
            body["errors"][0]["extensions"]["code"] == "TOKEN_REVOKED"
        })
        .await;
    }

    /// WebSocket connections the app has open.
    pub(crate) fn open_connections(&self) -> usize {
        self.live.as_ref().map_or(0, |l| l.open_connections())
    }

    /// Opens a `graphql-transport-ws` connection and sends `connection_init` with `payload`.
    pub(crate) async fn ws_connect(&self, extra_headers: &[(&str, &str)], payload: Value) -> Ws {
        let mut ws = ws_open(&self.base, extra_headers)
            .await
            .expect("WebSocket upgrade");
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        ws
    }

    /// A connection authenticated with `access` (its `connection_ack` read).
    pub(crate) async fn ws_authenticated(&self, access: &str) -> Ws {
        let mut ws = self
            .ws_connect(&[], json!({ "Authorization": format!("Bearer {access}") }))
            .await;
        assert_eq!(ws.next().await["type"], "connection_ack");
        ws
    }

    /// A connection authenticated with `access`, subscribed to `sessionEvents` as id `1`.
    pub(crate) async fn subscribe(&self, access: &str) -> Ws {
        let mut ws = self.ws_authenticated(access).await;
        ws.send(json!({
            "id": "1",
            "type": "subscribe",
            "payload": { "query": SESSION_EVENTS },
        }))
        .await;
        ws
    }

    /// Creates a user and logs it in; returns `(user id, access, refresh)`.
    pub(crate) async fn user_with_tokens(
        &self,
        email: &str,
        roles: &[&str],
        permissions: &[&str],
    ) -> (i64, String, String) {
        let id = self.create_user(email, roles, permissions).await;
        let (access, refresh) = self.login(email, PASSWORD).await;
        (id, access, refresh)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
    }
}

/// The subscription the live tests open.
pub(crate) const SESSION_EVENTS: &str =
    "subscription { sessionEvents { kind at sessionId roles permissions expiresAt } }";

/// Opens a `graphql-transport-ws` connection to the server at `base` and sends nothing yet;
/// the upgrade's refusal (its HTTP status) is the error.
pub(crate) async fn ws_open(
    base: &str,
    extra_headers: &[(&str, &str)],
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/graphql", base.replacen("http", "ws", 1));
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    for (name, value) in extra_headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Ws { socket })
}

/// A WebSocket client speaking `graphql-transport-ws`.
pub(crate) struct Ws {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What the server did next on a WebSocket.
#[derive(Debug, PartialEq)]
pub(crate) enum WsNext {
    /// A protocol message (pings are answered and skipped).
    Message(Value),
    /// The socket closed with this code.
    Closed(Option<u16>),
}

impl Ws {
    /// Sends one protocol message.
    pub(crate) async fn send(&mut self, message: Value) {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                message.to_string().into(),
            ))
            .await
            .expect("ws send");
    }

    /// The next message or close, within 10 s (pings are answered with pongs).
    pub(crate) async fn next_event(&mut self) -> WsNext {
        self.next_event_within(Duration::from_secs(10)).await
    }

    /// The next message or close, within `limit` (pings are answered with pongs).
    pub(crate) async fn next_event_within(&mut self, limit: Duration) -> WsNext {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let received = tokio::time::timeout(limit, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("the server answers within {limit:?}"));
            match received {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return WsNext::Message(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return WsNext::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return WsNext::Closed(None),
            }
        }
    }

    /// Sends a text frame as it is (not necessarily JSON, not necessarily small).
    pub(crate) async fn send_text(
        &mut self,
        text: String,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
            .await
    }

    /// Runs one query or mutation as operation `id` and returns its answer: the `next`
    /// message's payload (after reading its `complete`), or the `error` message whole.
    pub(crate) async fn operation(&mut self, id: &str, query: &str, variables: Value) -> Value {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
        loop {
            let message = self.next().await;
            if message["id"] != id {
                continue;
            }
            match message["type"].as_str() {
                Some("next") => {
                    let complete = self.next().await;
                    assert_eq!(complete, json!({ "type": "complete", "id": id }));
                    return message["payload"].clone();
                }
                Some("error") => return message,
                _ => panic!("unexpected answer to operation {id}: {message}"),
            }
        }
    }

    /// The next protocol message; panics on a close.
    pub(crate) async fn next(&mut self) -> Value {
        match self.next_event().await {
            WsNext::Message(value) => value,
            WsNext::Closed(code) => panic!("socket closed ({code:?}) instead of a message"),
        }
    }

    /// The next `sessionEvents` payload; panics on anything else.
    pub(crate) async fn next_session_event(&mut self) -> Value {
        let message = self.next().await;
        assert_eq!(message["type"], "next", "{message}");
        message["payload"]["data"]["sessionEvents"].clone()
    }

    /// Expects `complete` for the subscription, then the close code.
    pub(crate) async fn expect_complete_and_close(&mut self) -> Option<u16> {
        let message = self.next().await;
        assert_eq!(message["type"], "complete", "{message}");
        self.expect_close().await
    }

    /// Expects the socket to close; returns the code.
    pub(crate) async fn expect_close(&mut self) -> Option<u16> {
        match self.next_event().await {
            WsNext::Closed(code) => code,
            WsNext::Message(m) => panic!("expected a close, got {m}"),
        }
    }

    /// Closes from the client side.
    pub(crate) async fn close(mut self) {
        self.socket.close(None).await.ok();
    }
}

/// Seconds since the epoch.
pub(crate) fn now() -> i64 {
    warden::clock::now_secs()
}

/// Claims shaped like a Flask-JWT-Extended 4.x access token for `sub`, valid now: `fresh`,
/// `iat`, `jti`, `type`, `sub`, `nbf`, `exp` and nothing else.
pub(crate) fn flask_access_claims(sub: &str) -> Value {
    TestClaims::access(0).with("sub", json!(sub)).json().clone()
}

/// The first error's `extensions.code`.
pub(crate) fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
}

/// The first error's message.
pub(crate) fn message(body: &Value) -> &str {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {body}"))
}

/// Decodes a token's payload without checking it (to read `jti`, `sid`, `fresh`).
pub(crate) fn payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON payload")
}
