//! The wall clock, read one way everywhere: token times are Unix seconds (`iat`, `exp`,
//! revocation expiry), stored moments are Unix milliseconds (rotations, login failures,
//! events). Both saturate rather than panic on a clock outside `i64`.

use time::OffsetDateTime;

/// Seconds since the Unix epoch.
pub fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
