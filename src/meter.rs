//! Metrics: the names Warden reports and the Prometheus registry behind `GET /metrics`.
//!
//! Call sites use the `metrics` macros with the names below. The recorder is process-wide
//! (the `metrics` crate has one global recorder), so several applications in one process,
//! as in the test suite, share one registry.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// GraphQL operations executed, by `operation` (query, mutation, subscription, unknown).
pub const REQUESTS: &str = "warden_graphql_requests_total";
/// GraphQL operation latency in seconds, by `operation`.
pub const REQUEST_SECONDS: &str = "warden_graphql_request_duration_seconds";
/// Logins by `result` (ok, failed, rate_limited).
pub const LOGINS: &str = "warden_logins_total";
/// Successful refreshes (rotations and grace-window repeats).
pub const REFRESHES: &str = "warden_refreshes_total";
/// Refresh-token reuse detected (the session was revoked).
pub const REUSE_DETECTED: &str = "warden_refresh_reuse_detected_total";
/// Revocations written, by `kind` (jti, session).
pub const REVOCATIONS: &str = "warden_revocations_total";
/// Guarded fields refused, by `code`.
pub const GUARD_DENIALS: &str = "warden_guard_denials_total";
/// Password checks refused by the rate limit.
pub const RATE_LIMITED: &str = "warden_rate_limited_total";
/// Requests turned away because every password-hashing slot stayed busy.
pub const HASH_SATURATED: &str = "warden_password_hash_saturated_total";
/// Seconds since the revocation state was last confirmed current.
pub const FEED_AGE: &str = "warden_event_feed_age_seconds";
/// Seconds between an event's commit (writer's clock) and its application here.
pub const FEED_DELAY: &str = "warden_event_feed_delay_seconds";
/// Event-log rows of kinds this version does not know (written by a newer one), skipped.
pub const FEED_UNKNOWN: &str = "warden_event_feed_unknown_total";
/// Cache lookups, by `cache` and `result` (hit, miss).
pub const CACHE: &str = "warden_cache_requests_total";
/// Open authenticated WebSocket connections (see [`crate::auth::live`]).
pub const LIVE_CONNECTIONS: &str = "warden_live_connections";
/// Session events pushed to subscribers, by `kind`.
pub const LIVE_EVENTS: &str = "warden_live_events_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns the handle that renders it; `None`
/// if another recorder was installed first (an embedding application's own).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0, 2.5,
                ])
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    register_at_zero();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// Registers every series Warden reports, at zero, so that `/metrics` lists them from the
/// start: an alert or a dashboard built on a series that appears only on first use (the first
/// rate-limited login, the first reuse) sees "no data" rather than 0 until then.
fn register_at_zero() {
    hot();
    for name in [
        REUSE_DETECTED,
        REFRESHES,
        RATE_LIMITED,
        HASH_SATURATED,
        FEED_UNKNOWN,
    ] {
        metrics::counter!(name).increment(0);
    }
    for result in ["ok", "failed", "rate_limited"] {
        metrics::counter!(LOGINS, "result" => result).increment(0);
    }
    for kind in ["logout", "session"] {
        metrics::counter!(REVOCATIONS, "kind" => kind).increment(0);
    }
    for code in crate::error::ErrorCode::ALL {
        metrics::counter!(GUARD_DENIALS, "code" => code.as_str()).increment(0);
    }
    for kind in [
        "SIGNED_OUT",
        "GRANTS_CHANGED",
        "ACCESS_TOKEN_EXPIRING",
        "ACCOUNT_DISABLED",
    ] {
        metrics::counter!(LIVE_EVENTS, "kind" => kind).increment(0);
    }
    metrics::gauge!(LIVE_CONNECTIONS).set(0.0);
    // Registered without a sample: rendered with a count of 0.
    let _ = metrics::histogram!(FEED_DELAY);
}

/// Handles of the per-request metrics, looked up once: a `counter!` with labels builds and
/// hashes its key on every call, which the hot path should not pay. (Looked up after the
/// recorder is installed, at the first request.)
struct HotHandles {
    requests: [(metrics::Counter, metrics::Histogram); 4],
    profile_hit: metrics::Counter,
    profile_miss: metrics::Counter,
}

const OPERATIONS: [&str; 4] = ["query", "mutation", "subscription", "unknown"];

fn hot() -> &'static HotHandles {
    static HOT: OnceLock<HotHandles> = OnceLock::new();
    HOT.get_or_init(|| HotHandles {
        requests: OPERATIONS.map(|operation| {
            (
                metrics::counter!(REQUESTS, "operation" => operation),
                metrics::histogram!(REQUEST_SECONDS, "operation" => operation),
            )
        }),
        profile_hit: metrics::counter!(CACHE, "cache" => "profile", "result" => "hit"),
        profile_miss: metrics::counter!(CACHE, "cache" => "profile", "result" => "miss"),
    })
}

/// Counts one GraphQL operation of `operation` type that took `seconds`.
pub fn request(operation: &str, seconds: f64) {
    let index = OPERATIONS
        .iter()
        .position(|o| *o == operation)
        .unwrap_or(OPERATIONS.len() - 1);
    let (count, latency) = &hot().requests[index];
    count.increment(1);
    latency.record(seconds);
}

/// Counts one profile-cache lookup.
pub fn profile_cache(hit: bool) {
    let handles = hot();
    if hit {
        handles.profile_hit.increment(1);
    } else {
        handles.profile_miss.increment(1);
    }
}
