//! The request pipeline: what every operation passes through between the transport and the
//! resolvers.
//!
//! A transport hands each request over through `handover`: its context in, each response's
//! [`Phase`](crate::graphql::Phase) out. Inside the schema, one extension (`extension`) carries
//! the rest, field by field:
//! - the `envelope` around each operation: the document parsed once per distinct text
//!   (`documents`) and checked against the `limits` before async-graphql validates it; after
//!   execution, the keys put back in selection `order`, a code on every error, the metrics;
//! - the directive guards before each guarded field ([`crate::graphql::guards`]);
//! - the `nulls` of failed fields, at the nearest nullable position;
//! - the punch on the operation's ticket once it executes (`phase`).

/// Parsed documents, kept by their text.
mod documents;
/// Around everything, once per operation: parse, limits, key order, codes, metrics.
mod envelope;
/// The one schema extension, the link every field's resolution walks through.
mod extension;
/// The one way an operation gets in and its answer comes out: context in, phase out.
mod handover;
/// Depth, complexity, aliases, and the mutations refused in a batch or over a socket.
mod limits;
/// A failed field's `null` at the nearest nullable position, and its error at its path.
mod nulls;
/// Response keys in selection order.
mod order;
/// Whether an operation reached execution, and how it arrived: its ticket.
mod phase;

pub(crate) use extension::Pipeline;
pub use handover::{Answer, Answers, RequestContext, Transport, execute, execute_stream, selects};
pub(crate) use limits::DocumentLimits;
pub use phase::Phase;
