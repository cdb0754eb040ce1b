//! Admission: the one place where "a request from this client, with these credentials" becomes
//! an operation the schema may run, described by the [`crate::graphql::RequestContext`] the
//! schema is handed.
//!
//! Both transports come through here. HTTP admits each request once; the WebSocket admits each
//! operation at its start, with the token its `connection_init` carried and the address of its
//! upgrade, so an operation on a socket is judged exactly as the same request over HTTP would be
//! at that moment: the token against the current revocation state, grants, account state and
//! lag bound ([`crate::auth::verify`]), the client address for the login limits and the security
//! log. Judging at `connection_init` only, as async-graphql's engine does, let a demoted admin
//! keep acting as admin on a socket opened before the demotion.
//!
//! Who the client is comes from here too: the socket peer, or what a trusted proxy says in
//! `X-Forwarded-For`, the request id (the client's own when it is short and plain, else a fresh
//! one) and the `User-Agent` kept with new sessions.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    Extension,
    extract::ConnectInfo,
    http::{HeaderMap, header},
};

use crate::{
    auth::{Client, RequestCredentials},
    graphql::{RequestContext, Transport},
    http::{HttpState, REQUEST_ID, credentials},
};

/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT: usize = 256;
/// Longest client-chosen `x-request-id` kept; longer ones are replaced by a fresh id.
const MAX_REQUEST_ID: usize = 64;

/// The socket peer, when the server was started with connection info.
pub(crate) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Lets an operation (or a batch of them) in: judges the tokens `headers` carry, now, for an
/// operation from `client`, into the context the schema runs it with. `state_changing` is true
/// for POST and for every socket operation (a cookie token then needs its CSRF echo).
pub(crate) fn admit(
    state: &HttpState,
    headers: &HeaderMap,
    state_changing: bool,
    client: Client,
    transport: Transport,
) -> RequestContext {
    RequestContext {
        credentials: Arc::new(judge(state, headers, state_changing)),
        client,
        transport,
    }
}

/// The tokens `headers` carry, judged now; what [`admit`] hands the schema, for a caller that
/// runs no operation with it (a socket's `connection_init`).
pub(crate) fn judge(
    state: &HttpState,
    headers: &HeaderMap,
    state_changing: bool,
) -> RequestCredentials {
    let finder = credentials::Finder {
        transport: &state.api.transport,
        verifier: &state.verifier,
    };
    finder.resolve(headers, state_changing)
}

/// Who is asking: address, request id and user agent, from the request's headers and peer.
pub(crate) fn client(state: &HttpState, headers: &HeaderMap, peer: &Peer) -> Client {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    let request_id = headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let peer = peer.as_ref().map(|Extension(ConnectInfo(addr))| addr.ip());
    Client {
        ip: client_ip(headers, peer, &state.trusted_proxies),
        request_id,
        user_agent,
    }
}

/// True for a request id worth keeping as the client sent it: short, and only
/// `[A-Za-z0-9._-]`, so that it cannot forge or break a log line.
pub(crate) fn is_plain_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The client's address: the socket peer, unless the peer is a trusted proxy; then the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left
/// were written by the client and prove nothing). A malformed header leaves the peer.
pub(crate) fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &[ipnet::IpNet],
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let chain: Option<Vec<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().ok())
        .collect::<Option<Vec<_>>>()
        .and_then(|values| {
            values
                .iter()
                .flat_map(|v| v.split(','))
                .map(forwarded_address)
                .collect()
        });
    let Some(chain) = chain else {
        return Some(peer);
    };
    Some(
        chain
            .iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .or(chain.first())
            .copied()
            .unwrap_or(peer),
    )
}

/// One `X-Forwarded-For` entry: an address, with or without a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`, `[2001:db8::1]`). Proxies that add the port are common; reading such an
/// entry as malformed would put every client behind the proxy into the proxy's bucket.
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("header value"));
        headers
    }

    fn proxies() -> Vec<ipnet::IpNet> {
        vec!["10.0.0.0/8".parse().expect("net")]
    }

    #[test]
    fn forwarded_entries_are_read_with_or_without_a_port() {
        let cases = [
            ("1.2.3.4", "1.2.3.4"),
            ("1.2.3.4:5678", "1.2.3.4"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            (" ::ffff:1.2.3.4 ", "1.2.3.4"),
        ];
        for (entry, expected) in cases {
            assert_eq!(
                forwarded_address(entry),
                Some(expected.parse().expect("ip")),
                "{entry}"
            );
        }
        for bad in ["", "nope", "1.2.3.4:port", "[1.2.3.4", "1.2.3.4.5"] {
            assert_eq!(forwarded_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_anyone_else_is_the_client() {
        let proxy = Some("10.0.0.1".parse().expect("ip"));
        let stranger = Some("203.0.113.9".parse().expect("ip"));
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        let cases = [
            (proxy, "198.51.100.7:4000", ip("198.51.100.7")),
            (proxy, "6.6.6.6, 198.51.100.7", ip("198.51.100.7")),
            (proxy, "198.51.100.7, 10.0.0.2", ip("198.51.100.7")),
            (proxy, "[2001:db8::1]:443", ip("2001:db8::1")),
            (proxy, "garbage", proxy),
            (stranger, "198.51.100.7", stranger),
        ];
        for (peer, header, expected) in cases {
            assert_eq!(
                client_ip(&forwarded(header), peer, &proxies()),
                expected,
                "{header}"
            );
        }
        assert_eq!(client_ip(&HeaderMap::new(), proxy, &proxies()), proxy);
        assert_eq!(client_ip(&HeaderMap::new(), None, &proxies()), None);
    }

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        for ok in ["abc", "req-1.2_3", &"a".repeat(64)] {
            assert!(is_plain_request_id(ok), "{ok}");
        }
        for bad in [
            "",
            &"a".repeat(65),
            "a b",
            "a\"b",
            "x\nlevel=error",
            "é",
            "a=b",
        ] {
            assert!(!is_plain_request_id(bad), "{bad:?}");
        }
    }
}
