//! Revocation: what makes a token that verifies no longer count.
//!
//! Two halves with two readers. [`memory`](RevocationState) is what every guarded request
//! consults: this instance's view of the revoked tokens and sessions, the grants changes and
//! the disabled accounts of the last access lifetime, kept current by the event log, with no
//! database round trip. [`list`](revoke_jti) is the persisted list of revoked `jti`s that
//! `refresh` and `logout` write and read: the record that makes a single-use token single-use
//! across instances and restarts, however long ago it was used.

mod list;
mod memory;

pub use list::{prune, revoke_jti};
pub use memory::{RevocationState, TokenStanding};
