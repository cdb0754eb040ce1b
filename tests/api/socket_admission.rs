//! The WebSocket held to the same rules as HTTP (docs/security.md, "The WebSocket"), each test written as the
//! attack it answers: every operation on a socket is admitted at its start against the state
//! of that moment, the mutations that take secrets or mint tokens are HTTP only, and the socket
//! is bounded before anything is parsed or anyone is authenticated.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{
    backend_test,
    cli::Served,
    support::{PASSWORD, TestApp, Ws, WsNext, code, spawn_app, spawn_app_with, ws_open},
};

const ADMIN_PANEL: &str = "{ adminPanel }";
const SET_ROLES: &str = "mutation($id: ID!, $roles: [String!]!) { setUserRoles(userId: $id, roles: $roles) { id roles } }";

/// The first error code of an operation's answer (`error` message or `next` payload).
fn op_code(answer: &Value) -> &str {
    answer["payload"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| answer["errors"][0]["extensions"]["code"].as_str())
        .unwrap_or_else(|| panic!("no error code in {answer}"))
}

fn op_message(answer: &Value) -> &str {
    answer["payload"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {answer}"))
}

/// Asks `query` over `ws` until `done` holds for the answer; panics after 5 s.
async fn eventually_on_socket(ws: &mut Ws, query: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    for attempt in 0.. {
        let answer = ws
            .operation(&format!("poll-{attempt}"), query, json!({}))
            .await;
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "not within 5 s: {query} answers {answer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    unreachable!()
}

async fn ready_status(app: &TestApp) -> u16 {
    app.client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz answers")
        .status()
        .as_u16()
}

async fn until_ready_is(app: &TestApp, status: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready_status(app).await != status {
        assert!(Instant::now() < deadline, "/readyz never became {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

backend_test! {
    async fn a_demoted_admin_on_an_open_socket_loses_admin_at_once_and_cannot_promote_itself_back(backend) {
        let app = spawn_app(backend).await;
        app.create_user("other-admin@example.com", &["admin"], &[]).await;
        let (id, admin, _) = app.user_with_tokens("root@example.com", &["admin"], &[]).await;
        let mut ws = app.ws_authenticated(&admin).await;
        let before = ws.operation("1", ADMIN_PANEL, json!({})).await;
        assert!(before["data"]["adminPanel"].is_string(), "{before}");

        // The role is taken away elsewhere (the CLI, another instance) while the socket stays open.
        app.set_grants_elsewhere(id, Some(&[]), None).await;
        let refused = eventually_on_socket(&mut ws, ADMIN_PANEL, |a| a["errors"][0]["extensions"]["code"] == "TOKEN_REVOKED").await;
        assert!(refused["data"]["adminPanel"].is_null(), "{refused}");

        // The old token cannot undo the demotion over the socket either.
        let promote = ws.operation("2", SET_ROLES, json!({ "id": id.to_string(), "roles": ["admin"] })).await;
        assert_eq!(op_code(&promote), "TOKEN_REVOKED", "{promote}");
        let (fresh, _) = app.login("root@example.com", PASSWORD).await;
        assert_eq!(crate::support::payload(&fresh)["roles"], json!([]), "the demotion stuck");
        // HTTP says the same of the same token.
        assert_eq!(code(&app.graphql(Some(&admin), ADMIN_PANEL, json!({})).await), "TOKEN_REVOKED");
    }
}

backend_test! {
    async fn a_socket_on_an_instance_whose_feed_stalled_fails_closed_like_http(backend) {
        let a = spawn_app(backend).await;
        let b = a.another_instance().await;
        let (_, access, _) = a.user_with_tokens("ana@example.com", &[], &[]).await;
        let mut ws = b.ws_authenticated(&access).await;
        assert!(ws.operation("1", "{ me { id } }", json!({})).await["data"]["me"].is_object());

        // The event log becomes unreadable: B cannot confirm its revocation state any more.
        let db = a.db().await;
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("ALTER TABLE auth_events RENAME TO auth_events_stalled").await.expect("stall");
        until_ready_is(&b, 503).await;
        let answer = ws.operation("2", "{ me { id } }", json!({})).await;
        assert_eq!(answer["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE", "{answer}");
        assert_eq!(code(&b.graphql(Some(&access), "{ me { id } }", json!({})).await), "SERVICE_UNAVAILABLE");

        // Once the log reads again, so does the socket.
        db.execute_unprepared("ALTER TABLE auth_events_stalled RENAME TO auth_events").await.expect("unstall");
        until_ready_is(&b, 200).await;
        assert!(ws.operation("3", "{ me { id } }", json!({})).await["data"]["me"].is_object());
        db.close().await.ok();
    }
}

backend_test! {
    async fn logins_and_other_secret_taking_mutations_are_refused_over_the_socket(backend) {
        let app = spawn_app_with(backend, &[
            ("WARDEN_LOGIN_LIMIT_IP", "3/15m"),
            ("WARDEN_SIGNUP", "true"),
        ]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let mut ws = app.ws_authenticated(&access).await;
        let spray = "mutation($e: String!) { login(email: $e, password: \"guess guess guess\") { accessToken } }";
        for i in 0..10 {
            let answer = ws.operation(&format!("l{i}"), spray, json!({ "e": format!("victim{i}@example.com") })).await;
            assert_eq!(answer["type"], "error", "{answer}");
            assert_eq!(op_code(&answer), "BAD_USER_INPUT");
            assert_eq!(op_message(&answer), "login is only available over HTTP");
        }
        let others = [
            ("register", "mutation { register(email: \"new@example.com\", password: \"a long new password\", name: \"N\") { accessToken } }"),
            ("refresh", "mutation { refresh { accessToken } }"),
            ("reauth", "mutation { reauth(password: \"x\") { accessToken } }"),
            ("changePassword", "mutation { changePassword(currentPassword: \"x\", newPassword: \"y\") }"),
        ];
        for (name, document) in others {
            let answer = ws.operation(name, document, json!({})).await;
            assert_eq!(op_message(&answer), format!("{name} is only available over HTTP"), "{answer}");
        }
        // None of them reached a password check: the address's limit of 3 is untouched, and
        // nobody registered.
        let (again, _) = app.login("ana@example.com", PASSWORD).await;
        assert!(!again.is_empty());
        // A mutation that takes no secret still runs on the socket.
        let logout = ws.operation("out", "mutation { logout }", json!({})).await;
        assert_eq!(logout["data"]["logout"], true, "{logout}");
    }
}

backend_test! {
    async fn a_socket_cannot_hold_more_operations_than_the_limit(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_WS_MAX_OPERATIONS", "2")]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let mut ws = app.ws_authenticated(&access).await;
        for id in ["a", "b"] {
            ws.send(json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { sessionEvents { kind } }" } })).await;
        }
        let third = ws.operation("c", "{ me { id } }", json!({})).await;
        assert_eq!(third["type"], "error", "{third}");
        assert_eq!(op_code(&third), "RATE_LIMITED");
        // Stopping one makes room for one.
        ws.send(json!({ "id": "a", "type": "complete" })).await;
        let fourth = ws.operation("d", "{ me { id } }", json!({})).await;
        assert!(fourth["data"]["me"].is_object(), "{fourth}");
        // An id in use closes the socket, as the protocol says.
        ws.send(json!({ "id": "b", "type": "subscribe", "payload": { "query": "{ me { id } }" } })).await;
        assert_eq!(ws.expect_close().await, Some(4409));
    }
}

backend_test! {
    async fn a_socket_that_never_authenticates_is_closed_4408_and_may_do_nothing_meanwhile(backend) {
        let app = spawn_app(backend).await;
        // Operations before the handshake close the socket 4401.
        let mut early = ws_open(&app.base, &[]).await.expect("upgrade");
        early.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ greeting }" } })).await;
        assert_eq!(early.expect_close().await, Some(4401));
        // Pings are answered while waiting, but the wait is bounded.
        let mut idle = ws_open(&app.base, &[]).await.expect("upgrade");
        idle.send(json!({ "type": "ping" })).await;
        assert_eq!(idle.next().await["type"], "pong");
        let started = Instant::now();
        assert_eq!(idle.next_event_within(Duration::from_secs(15)).await, WsNext::Closed(Some(4408)));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_secs(8) && waited <= Duration::from_secs(12), "{waited:?}");
    }
}

backend_test! {
    async fn one_address_may_keep_only_sixteen_sockets_waiting_for_connection_init(backend) {
        let app = spawn_app(backend).await;
        let mut waiting = Vec::new();
        for _ in 0..16 {
            waiting.push(ws_open(&app.base, &[]).await.expect("upgrade"));
        }
        let refused = ws_open(&app.base, &[]).await.err().expect("the 17th is refused");
        match refused {
            tokio_tungstenite::tungstenite::Error::Http(response) => assert_eq!(response.status().as_u16(), 429),
            other => panic!("expected an HTTP refusal, got {other}"),
        }
        // A socket that authenticates leaves the queue and makes room.
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let first = waiting.first_mut().expect("one");
        first.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {access}") } })).await;
        assert_eq!(first.next().await["type"], "connection_ack");
        let mut next = ws_open(&app.base, &[]).await.expect("room again");
        next.send(json!({ "type": "ping" })).await;
        assert_eq!(next.next().await["type"], "pong");
    }
}

backend_test! {
    async fn a_message_over_64_kib_closes_the_socket_1009_authenticated_or_not(backend) {
        let app = spawn_app(backend).await;
        let big = format!(r#"{{"type":"ping","payload":{{"pad":"{}"}}}}"#, "a".repeat(65 * 1024));
        let mut anonymous = ws_open(&app.base, &[]).await.expect("upgrade");
        anonymous.send_text(big.clone()).await.ok();
        assert_eq!(anonymous.expect_close().await, Some(1009));

        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let mut ws = app.ws_authenticated(&access).await;
        // Just under the bound is fine.
        let fits = format!(r#"{{"type":"ping","payload":{{"pad":"{}"}}}}"#, "a".repeat(60 * 1024));
        ws.send_text(fits).await.expect("sent");
        assert_eq!(ws.next().await["type"], "pong");
        ws.send_text(big).await.ok();
        assert_eq!(ws.expect_close().await, Some(1009));
    }
}

backend_test! {
    async fn the_per_user_socket_limit_closes_4429_not_4401(backend) {
        let app = spawn_app_with(backend, &[("WARDEN_WS_MAX_PER_USER", "2")]).await;
        let (_, access, _) = app.user_with_tokens("ana@example.com", &[], &[]).await;
        let _one = app.ws_authenticated(&access).await;
        let _two = app.ws_authenticated(&access).await;
        let mut three = app.ws_connect(&[], json!({ "Authorization": format!("Bearer {access}") })).await;
        assert_eq!(three.expect_close().await, Some(4429));
    }
}

/// Megabyte-sized messages sent before `connection_init`, against the real binary, whose
/// memory is measured from outside: each is refused on its frame header, never read.
#[tokio::test]
async fn huge_messages_before_connection_init_are_refused_unread_and_cost_no_memory() {
    let served = Served::start(&[("RUST_LOG", "error")]).await;
    let before = served.rss_kib();
    let huge = format!(
        r#"{{"type":"ping","payload":"{}"}}"#,
        "a".repeat(8 * 1024 * 1024)
    );
    for _ in 0..4 {
        let mut ws = ws_open(&served.base, &[]).await.expect("upgrade");
        ws.send_text(huge.clone()).await.ok();
        match ws.next_event().await {
            WsNext::Closed(code) => assert!(matches!(code, Some(1009) | None), "{code:?}"),
            WsNext::Message(m) => panic!("expected a close, got {m}"),
        }
    }
    let after = served.rss_kib();
    let grown = after.saturating_sub(before);
    println!("RSS before {before} KiB, after four 8 MiB messages {after} KiB");
    assert!(grown < 16 * 1024, "the process grew by {grown} KiB");
}

/// The socket's operations carry the upgrade's client address (through the trusted proxy,
/// whose `X-Forwarded-For` entry has a port) into the security log, as HTTP requests do.
#[tokio::test]
async fn socket_operations_log_the_upgrades_client_address() {
    let served = Served::start(&[
        ("RUST_LOG", "warden::security=info,error"),
        ("WARDEN_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("WARDEN_ADMIN_EMAIL", "root@example.com"),
        ("WARDEN_ADMIN_PASSWORD", "a bootstrap password for root"),
    ])
    .await;
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/graphql", served.base))
        .json(&json!({ "query": "mutation { login(email: \"root@example.com\", password: \"a bootstrap password for root\") { accessToken user { id } } }" }))
        .send()
        .await
        .expect("login")
        .json::<Value>()
        .await
        .expect("JSON");
    let access = login["data"]["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let id = login["data"]["login"]["user"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut ws = ws_open(&served.base, &[("x-forwarded-for", "203.0.113.9:4000")])
        .await
        .expect("upgrade");
    ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {access}") } })).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    let changed = ws
        .operation(
            "1",
            SET_ROLES,
            json!({ "id": id, "roles": ["admin", "editor"] }),
        )
        .await;
    assert_eq!(
        changed["data"]["setUserRoles"]["roles"],
        json!(["admin", "editor"]),
        "{changed}"
    );
    ws.close().await;
    let log = served.stop_and_read_log().await;
    let line = log
        .lines()
        .find(|l| l.contains("warden::security") && l.contains("editor"))
        .unwrap_or_else(|| panic!("a grant-change line in:\n{log}"));
    assert!(line.contains("203.0.113.9"), "{line}");
    assert!(!line.contains(&access), "no token in the log");
}

backend_test! {
    async fn forwarded_addresses_with_ports_keep_each_client_in_its_own_login_bucket(backend) {
        let app = spawn_app_with(backend, &[
            ("WARDEN_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("WARDEN_LOGIN_LIMIT_IP", "3/15m"),
        ]).await;
        let attempt = |forwarded: &'static str| {
            let body = json!({ "query": "mutation { login(email: \"nobody@example.com\", password: \"a wrong password\") { accessToken } }" });
            let app = &app;
            async move { app.post(&body, &[("x-forwarded-for", forwarded)]).await.json::<Value>().await.expect("JSON") }
        };
        for _ in 0..3 {
            assert_eq!(code(&attempt("198.51.100.1:1111").await), "INVALID_CREDENTIALS");
        }
        // The same address from another port is the same client.
        assert_eq!(code(&attempt("198.51.100.1:2222").await), "RATE_LIMITED");
        // Another client behind the same proxy is not locked out.
        assert_eq!(code(&attempt("198.51.100.2:1111").await), "INVALID_CREDENTIALS");
        assert_eq!(code(&attempt("[2001:db8::1]:443").await), "INVALID_CREDENTIALS");
    }
}

backend_test! {
    async fn a_client_chosen_request_id_is_kept_only_when_short_and_plain(backend) {
        let app = spawn_app(backend).await;
        let body = json!({ "query": "{ greeting }" });
        let echoed = |response: &reqwest::Response| {
            response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let plain = app.post(&body, &[("x-request-id", "req-42.a_b")]).await;
        assert_eq!(echoed(&plain).as_deref(), Some("req-42.a_b"));
        for forged in ["x level=error user=admin", &"a".repeat(65), "a\"b"] {
            let response = app.post(&body, &[("x-request-id", forged)]).await;
            let id = echoed(&response).expect("a request id");
            assert_ne!(id, forged);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "a fresh id: {id}");
        }
    }
}
