//! The event log: every change that can kill or weaken a token is appended to `auth_events`
//! in the same transaction as the change itself, so the change and its event commit together
//! or not at all.
//!
//! Instances keep what the guards need in memory (see [`crate::auth::revocation::RevocationState`]) and learn of
//! changes two ways: their own writes are applied at commit ([`EventLog::commit`]), and the
//! [`Feed`] tails the table for everyone else's (other instances, the CLI).
//!
//! The rooms: [`change`](Change) says what can change; `log` records changes
//! ([`EventLog::commit`], the one way to do it) and hands them to this process's
//! [`Subscriber`]s; `store` is the table (rows in and out, reading a page, pruning); `feed`
//! tails it.
//!
//! Tailing reads "rows after the last id applied", which is only safe if ids become visible in
//! order. A sequence hands out ids at insert, not at commit, so on PostgreSQL two writers could
//! commit out of id order and a reader would skip the smaller id. Writers therefore take one
//! transaction-scoped advisory lock before they insert: ids are handed out and committed one
//! writer at a time. Writes that append events are rare (logout, revocation, grant changes),
//! so serialising them costs nothing that matters; reads never take the lock. SQLite has a
//! single writer anyway.

mod change;
mod feed;
mod lag;
mod log;
mod store;

pub use change::Change;
pub use feed::Feed;
pub use lag::Lag;
pub use log::{CHANNEL, EventLog, Horizon, Pending, Subscriber, lock_for_transaction};
pub use store::{Event, Page, Unreadable, last_id, prune, read_after};
