//! The `graphql-transport-ws` messages and close codes Warden speaks.
//!
//! Our own types rather than async-graphql's engine: the engine runs every operation with the
//! data `connection_init` produced (so a token judged once served the socket's whole life),
//! accepts `subscribe` before the handshake, and bounds neither the message size nor the
//! operations in flight. Each message here is read only after the transport has checked its
//! size (see [`super::MAX_MESSAGE`]).

use async_graphql::{Response, ServerError};
use serde::{Deserialize, Serialize};

/// The one subprotocol spoken.
pub(super) const SUBPROTOCOL: &str = "graphql-transport-ws";

/// Why a socket is closed, as its close code and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Close {
    /// 1009: a message over [`super::MAX_MESSAGE`] (RFC 6455's "message too big").
    TooBig,
    /// 3008: nothing heard from the client, not even a pong, for too long.
    Idle,
    /// 4400: a message that is not one of the protocol's.
    Invalid,
    /// 4401: authentication failed or ended, or an operation before `connection_ack`.
    Unauthenticated,
    /// 4401 as well, when the connection's token stopped being valid.
    TokenEnded,
    /// 4408: no `connection_init` in time.
    InitTimeout,
    /// 4409: an operation id already in use on this socket.
    DuplicateId,
    /// 4429: a second `connection_init`.
    SecondInit,
    /// 4429: the user holds `WARDEN_WS_MAX_PER_USER` sockets already.
    TooManyConnections,
}

impl Close {
    /// The close code.
    pub(super) const fn code(self) -> u16 {
        match self {
            Self::TooBig => 1009,
            Self::Idle => 3008,
            Self::Invalid => 4400,
            Self::Unauthenticated | Self::TokenEnded => 4401,
            Self::InitTimeout => 4408,
            Self::DuplicateId => 4409,
            Self::SecondInit | Self::TooManyConnections => 4429,
        }
    }

    /// The close reason (short: a close frame holds at most 123 bytes of it).
    pub(super) const fn reason(self) -> &'static str {
        match self {
            Self::TooBig => "Message too big",
            Self::Idle => "Connection idle",
            Self::Invalid => "Invalid message",
            Self::Unauthenticated => "Unauthorized",
            Self::TokenEnded => "Token no longer valid",
            Self::InitTimeout => "Connection initialisation timeout",
            Self::DuplicateId => "Subscriber for this id already exists",
            Self::SecondInit => "Too many initialisation requests",
            Self::TooManyConnections => "Too many connections",
        }
    }
}

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ClientMessage {
    /// The handshake, with the credentials in its payload.
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Value>,
    },
    /// The client checks the connection; answered with `pong`.
    Ping {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<serde_json::Value>,
    },
    /// The answer to our `ping`.
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<serde_json::Value>,
    },
    /// Starts an operation (a subscription, or a query or mutation answered once).
    Subscribe {
        id: String,
        payload: serde_json::Value,
    },
    /// The client stops an operation.
    Complete { id: String },
}

/// A message to the client.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ServerMessage<'a> {
    /// The handshake succeeded.
    ConnectionAck,
    /// Are you there?
    Ping,
    /// The answer to the client's `ping`.
    Pong,
    /// One result of an operation.
    Next { id: &'a str, payload: &'a Response },
    /// The operation failed before it produced a result; nothing follows for its id.
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    /// The operation is over.
    Complete { id: &'a str },
}

impl ServerMessage<'_> {
    /// The message as the text frame's content.
    pub(super) fn text(&self) -> String {
        // Serialising these types cannot fail (string keys, no maps with non-string keys); an
        // empty object would still be a valid frame should it ever.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_messages_are_read_as_the_protocol_spells_them() {
        let read = |text: &str| serde_json::from_str::<ClientMessage>(text);
        assert!(matches!(
            read(r#"{"type":"connection_init","payload":{"Authorization":"Bearer x"}}"#),
            Ok(ClientMessage::ConnectionInit { payload: Some(_) })
        ));
        assert!(matches!(
            read(r#"{"type":"connection_init"}"#),
            Ok(ClientMessage::ConnectionInit { payload: None })
        ));
        assert!(matches!(
            read(r#"{"type":"subscribe","id":"1","payload":{"query":"{ me { id } }"}}"#),
            Ok(ClientMessage::Subscribe { .. })
        ));
        assert!(matches!(
            read(r#"{"type":"complete","id":"1"}"#),
            Ok(ClientMessage::Complete { .. })
        ));
        assert!(matches!(
            read(r#"{"type":"ping"}"#),
            Ok(ClientMessage::Ping { .. })
        ));
        for bad in [
            r#"{"type":"start","id":"1","payload":{}}"#,
            r#"{"type":"subscribe","payload":{}}"#,
            r#"{"id":"1"}"#,
            "[]",
            "not json",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn server_messages_are_written_as_the_protocol_spells_them() {
        assert_eq!(
            ServerMessage::ConnectionAck.text(),
            r#"{"type":"connection_ack"}"#
        );
        assert_eq!(
            ServerMessage::Complete { id: "7" }.text(),
            r#"{"type":"complete","id":"7"}"#
        );
        let errors = [ServerError::new("no", None)];
        let error = ServerMessage::Error {
            id: "7",
            payload: &errors,
        }
        .text();
        assert!(
            error.starts_with(r#"{"type":"error","id":"7","payload":[{"message":"no""#),
            "{error}"
        );
    }

    #[test]
    fn close_codes_follow_the_protocol_and_the_contract() {
        assert_eq!(Close::TooBig.code(), 1009);
        assert_eq!(Close::Unauthenticated.code(), 4401);
        assert_eq!(Close::TokenEnded.code(), 4401);
        assert_eq!(Close::InitTimeout.code(), 4408);
        assert_eq!(Close::TooManyConnections.code(), 4429);
        assert!(Close::InitTimeout.reason().len() <= 123);
    }
}
