//! The handover between a transport and the schema: the one way an operation gets in, and the
//! one way its answer comes out.
//!
//! A transport admits a request once and describes it in a [`RequestContext`]: who asks (the
//! credentials judged at admission, the client) and through which door ([`Transport`]). It
//! hands that over with the operations to [`execute`] (HTTP) or [`execute_stream`] (a
//! WebSocket operation), and gets back each response with its [`Phase`], from which it picks
//! its status code or message. What the pipeline and the resolvers read from an operation's
//! data (the credentials, the client, the socket's close hook, the operation's [`Ticket`]) is
//! put there here and nowhere else, so a transport never touches request data, and a new
//! transport (or an in-process test) cannot forget a piece of it.
//!
//! [`Ticket`]: crate::graphql::pipeline::phase::Ticket

use std::sync::Arc;

use async_graphql::{
    BatchRequest, Request, Response,
    parser::{parse_query, types::OperationType},
};
use futures_util::{
    Stream, StreamExt,
    stream::{self, FuturesOrdered},
};

use super::{
    limits::Carrier,
    phase::{Phase, Ticket},
};
use crate::{
    auth::{Client, RequestCredentials},
    graphql::{WardenSchema, subscription::CloseConnection},
};

/// Everything a transport tells the schema about a request, built once by its admission.
#[derive(Clone)]
pub struct RequestContext {
    /// The caller's credentials, judged once at admission: guards and resolvers read this
    /// outcome and never a raw token. Behind an `Arc` so that the operations of a batch share
    /// one judgement.
    pub credentials: Arc<RequestCredentials>,
    /// Who is asking (address, request id, user agent), for login limits, new sessions and the
    /// security log.
    pub client: Client,
    /// The door the request came through.
    pub transport: Transport,
}

/// The door a request came through, for the rules that depend on it: the auth mutations are
/// refused in a JSON batch (a batch is the shape of an HTTP request, not a door of its own),
/// the HTTP-only ones over a socket.
#[derive(Clone)]
pub enum Transport {
    /// `POST` or `GET /graphql`.
    Http,
    /// An operation started on a WebSocket. `sessionEvents` asks the socket to close through
    /// the hook once the connection's token has ended.
    Socket(Arc<dyn CloseConnection>),
}

/// One operation's response, and how far the operation got.
#[derive(Debug)]
pub struct Answer {
    /// The response, as the client is to see it.
    pub response: Response,
    /// Whether the operation reached execution.
    pub phase: Phase,
}

/// The answers to a request, shaped as the request was.
#[derive(Debug)]
// Moved once, from `execute` to the transport; boxing the single answer would cost the common
// request an allocation to save a copy of 232 bytes.
#[allow(clippy::large_enum_variant)]
pub enum Answers {
    /// The answer to a request of one operation.
    Single(Answer),
    /// One answer per operation of a JSON batch, in the batch's order.
    Batch(Vec<Answer>),
}

impl RequestContext {
    /// Puts what the pipeline and the resolvers read into `request`'s data, and returns the
    /// operation's ticket for its phase. Moves rather than clones: a request of one operation
    /// costs no copy of the context.
    fn hand_over(self, request: &mut Request, batched: bool) -> Ticket {
        let carrier = match (&self.transport, batched) {
            (Transport::Socket(_), _) => Carrier::Socket,
            (Transport::Http, true) => Carrier::Batch,
            (Transport::Http, false) => Carrier::Request,
        };
        let ticket = Ticket::new(carrier);
        request.data.insert(ticket.clone());
        request.data.insert(self.credentials);
        request.data.insert(self.client);
        if let Transport::Socket(close) = self.transport {
            request.data.insert(close);
        }
        ticket
    }
}

/// Runs `batch` in `schema` as `context` describes it: one answer per operation, shaped as the
/// request. The operations of a batch run concurrently, each with its own ticket, the
/// credentials shared.
pub async fn execute(
    schema: &WardenSchema,
    context: RequestContext,
    batch: BatchRequest,
) -> Answers {
    match batch {
        BatchRequest::Single(mut request) => {
            let ticket = context.hand_over(&mut request, false);
            let response = schema.execute(request).await;
            Answers::Single(Answer {
                response,
                phase: ticket.phase(),
            })
        }
        BatchRequest::Batch(requests) => Answers::Batch(
            requests
                .into_iter()
                .map(|mut request| {
                    let ticket = context.clone().hand_over(&mut request, true);
                    async move {
                        let response = schema.execute(request).await;
                        Answer {
                            response,
                            phase: ticket.phase(),
                        }
                    }
                })
                .collect::<FuturesOrdered<_>>()
                .collect()
                .await,
        ),
    }
}

/// Runs one operation as a stream of answers: every event of a subscription, or the one
/// response of a query or mutation. Nothing runs until the stream is first polled, so the
/// document is parsed in the task that polls it (a socket's operation task), not in the
/// caller's. Only the first answer can be [`Phase::Refused`]; nothing follows a refusal.
pub fn execute_stream(
    schema: &WardenSchema,
    context: RequestContext,
    mut request: Request,
) -> impl Stream<Item = Answer> + Send + 'static + use<> {
    let ticket = context.hand_over(&mut request, false);
    let schema = schema.clone();
    async_stream::stream! {
        let mut responses = if is_subscription(&request) {
            schema.execute_stream(request)
        } else {
            stream::once(async move { schema.execute(request).await }).boxed()
        };
        let mut first = true;
        while let Some(response) = responses.next().await {
            let phase = if first { ticket.first_phase(&response) } else { Phase::Executed };
            first = false;
            let refused = phase == Phase::Refused;
            yield Answer { response, phase };
            if refused {
                break;
            }
        }
    }
}

/// True when the operation `request` selects is a subscription (a stream of results).
fn is_subscription(request: &Request) -> bool {
    selects(request, |ty| ty == OperationType::Subscription)
}

/// True when an operation `request` selects has a type `wanted` accepts: the one its
/// `operationName` names, or, without a name, any of the document's. A document that does not
/// parse selects none (the executor reports the syntax error).
pub fn selects(request: &Request, wanted: impl Fn(OperationType) -> bool) -> bool {
    let Ok(document) = parse_query(&request.query) else {
        return false;
    };
    let name = request.operation_name.as_deref();
    document.operations.iter().any(|(op_name, op)| {
        let selected = name.is_none_or(|name| op_name.is_some_and(|n| n.as_str() == name));
        selected && wanted(op.node.ty)
    })
}

/// The handover in-process, on the real schema without its state: only what runs before a
/// resolver needs the database (the limits, the guards) is exercised.
#[cfg(test)]
mod tests {
    use async_graphql::Schema;
    use futures_util::StreamExt;

    use super::*;
    use crate::{
        config::LimitsConfig,
        graphql::{
            mutation::Mutation,
            pipeline::{DocumentLimits, Pipeline},
            query::Query,
            subscription::Subscription,
        },
    };

    fn schema() -> WardenSchema {
        Schema::build(Query, Mutation, Subscription)
            .extension(Pipeline::new(DocumentLimits {
                limits: LimitsConfig::default(),
                introspection: false,
            }))
            .finish()
    }

    fn anonymous(transport: Transport) -> RequestContext {
        RequestContext {
            credentials: Arc::new(RequestCredentials::missing("Authorization Header")),
            client: Client::default(),
            transport,
        }
    }

    struct Unclosable;

    impl CloseConnection for Unclosable {
        fn close(&self) {}
    }

    /// The first error's message and code.
    fn first_error(answer: &Answer) -> (&str, Option<&str>) {
        let error = answer.response.errors.first().expect("an error");
        let code = match error.extensions.as_ref().and_then(|e| e.get("code")) {
            Some(async_graphql::Value::String(code)) => Some(code.as_str()),
            _ => None,
        };
        (error.message.as_str(), code)
    }

    async fn single(query: &str) -> Answer {
        let batch = BatchRequest::Single(Request::new(query));
        match execute(&schema(), anonymous(Transport::Http), batch).await {
            Answers::Single(answer) => answer,
            Answers::Batch(_) => panic!("one request, one answer"),
        }
    }

    #[tokio::test]
    async fn an_answer_comes_back_with_how_far_its_operation_got() {
        assert_eq!(single("{ __typename }").await.phase, Phase::Executed);
        assert_eq!(single("{ __typename").await.phase, Phase::Refused);
        assert_eq!(single("{ nowhere }").await.phase, Phase::Refused);
        // The context's credentials reach the guards: no token, a guarded field refused at
        // execution, as a field error.
        let me = single("{ me { id } }").await;
        assert_eq!(me.phase, Phase::Executed);
        assert_eq!(first_error(&me).1, Some("UNAUTHENTICATED"));
    }

    #[tokio::test]
    async fn a_batch_is_answered_in_its_order_and_refuses_the_auth_mutations() {
        let batch = BatchRequest::Batch(vec![
            Request::new("{ __typename }"),
            Request::new("mutation { login }"),
            Request::new("{ __typename"),
        ]);
        let Answers::Batch(answers) = execute(&schema(), anonymous(Transport::Http), batch).await
        else {
            panic!("a batch, answered as one");
        };
        let phases: Vec<Phase> = answers.iter().map(|a| a.phase).collect();
        assert_eq!(phases, [Phase::Executed, Phase::Refused, Phase::Refused]);
        assert!(
            first_error(&answers[1])
                .0
                .contains("cannot be sent in a batch")
        );
    }

    #[tokio::test]
    async fn a_socket_operation_streams_its_answers_and_is_refused_the_http_only_mutations() {
        let over_socket = |query: &str| {
            let context = anonymous(Transport::Socket(Arc::new(Unclosable)));
            execute_stream(&schema(), context, Request::new(query)).collect::<Vec<_>>()
        };
        let answers = over_socket("{ __typename }").await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].phase, Phase::Executed);
        let answers = over_socket("mutation { login }").await;
        assert_eq!(answers.len(), 1, "nothing follows a refusal");
        assert_eq!(answers[0].phase, Phase::Refused);
        assert_eq!(
            first_error(&answers[0]).0,
            "login is only available over HTTP"
        );
        // A subscription refused at its start (no token) is refused, not a first event.
        let answers = over_socket("subscription { sessionEvents { kind } }").await;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].phase, Phase::Refused);
    }
}
