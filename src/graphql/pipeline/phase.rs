//! Whether an operation reached execution, told back to the transport with its response.
//!
//! GraphQL over HTTP answers `application/graphql-response+json` clients with 400 when a request
//! fails before execution (parse, validation, limits, variable coercion) and with 200 once
//! execution has started; the WebSocket answers the first with `error` and the second with
//! `next`. async-graphql runs an extension's `execute` hook exactly when the request got past
//! all of those checks, so that hook punches the operation's ticket. This rather than
//! guessing from the response (`data: null` and errors without a path): a mutation that fails
//! at execution also has `data: null`, and an engine error raised during execution may carry no
//! path.

use std::{
    any::TypeId,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{Request, Response, Value, extensions::ExtensionContext};

use super::limits::Carrier;

/// How far an operation got: what the transport's status code or message depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// It reached execution: its response is a result, partial results and errors raised
    /// while resolving included.
    Executed,
    /// It failed before execution (parse, validation, limits, variable coercion, a refused
    /// subscription): its response holds errors only.
    Refused,
}

/// One operation's ticket through the pipeline: stamped with how the operation arrived (read
/// by the limits), punched once it starts executing (read back for its [`Phase`]).
///
/// `execute` puts it into the operation's data and keeps a clone, since the schema consumes
/// the request. One entry, one allocation per operation, for both facts: the carrier rides on
/// the marker the phase needs anyway.
#[derive(Debug, Clone)]
pub(super) struct Ticket(Arc<Stamps>);

#[derive(Debug)]
struct Stamps {
    carrier: Carrier,
    started: AtomicBool,
}

impl Ticket {
    /// A ticket for an operation that arrived as `carrier` says.
    pub(super) fn new(carrier: Carrier) -> Self {
        Self(Arc::new(Stamps {
            carrier,
            started: AtomicBool::new(false),
        }))
    }

    /// How `request` arrived; [`Carrier::Request`] for an operation run without a ticket (the
    /// schema executed directly, as in-process tests do).
    pub(super) fn carrier_of(request: &Request) -> Carrier {
        request
            .data
            .get(&TypeId::of::<Self>())
            .and_then(|data| data.downcast_ref::<Self>())
            .map_or(Carrier::Request, |ticket| ticket.0.carrier)
    }

    /// Marks the operation in `ctx` as executing. Called from the `execute` hook of
    /// [`super::extension`]: every extension is a link in the chain each field's resolution
    /// walks, so this one rides on an existing link rather than adding its own.
    pub(super) fn punch(ctx: &ExtensionContext<'_>) {
        if let Some(ticket) = ctx.data_opt::<Self>() {
            ticket.0.started.store(true, Ordering::Release);
        }
    }

    /// The phase of the operation's (only) response.
    pub(super) fn phase(&self) -> Phase {
        if self.0.started.load(Ordering::Acquire) {
            Phase::Executed
        } else {
            Phase::Refused
        }
    }

    /// The phase of the first response of a stream. A subscription never passes the `execute`
    /// hook (async-graphql runs its streams without it), so an unpunched ticket alone does not
    /// tell a refusal there: the first response is refused when, besides, it carries errors and
    /// no data. The responses after the first are results.
    pub(super) fn first_phase(&self, response: &Response) -> Phase {
        if self.phase() == Phase::Refused
            && response.data == Value::Null
            && !response.errors.is_empty()
        {
            Phase::Refused
        } else {
            Phase::Executed
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::ServerError;

    use super::*;

    #[test]
    fn a_ticket_tells_its_carrier_and_only_a_punched_one_executed() {
        let ticket = Ticket::new(Carrier::Batch);
        let mut request = Request::new("{ greeting }");
        assert_eq!(Ticket::carrier_of(&request), Carrier::Request, "no ticket");
        request.data.insert(ticket.clone());
        assert_eq!(Ticket::carrier_of(&request), Carrier::Batch);
        assert_eq!(ticket.phase(), Phase::Refused);
        ticket.0.started.store(true, Ordering::Release);
        assert_eq!(ticket.phase(), Phase::Executed);
    }

    #[test]
    fn a_stream_is_refused_only_by_errors_without_data_before_execution() {
        let errors = Response::from_errors(vec![ServerError::new("no", None)]);
        let data = Response::new(Value::from(1));
        let empty = Response::new(Value::Null);
        let unpunched = Ticket::new(Carrier::Socket);
        assert_eq!(unpunched.first_phase(&errors), Phase::Refused);
        assert_eq!(unpunched.first_phase(&data), Phase::Executed);
        assert_eq!(unpunched.first_phase(&empty), Phase::Executed);
        let punched = Ticket::new(Carrier::Socket);
        punched.0.started.store(true, Ordering::Release);
        assert_eq!(punched.first_phase(&errors), Phase::Executed);
    }
}
