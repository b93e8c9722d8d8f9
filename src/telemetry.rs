//! Metrics: their names and labels in one place, recorded through the
//! `metrics` facade (a no-op until the daemon installs the Prometheus
//! recorder, so library code and tests pay nothing). Gauges that are a
//! reading of state (sessions by status, outbox backlog) are set when
//! `/metrics` is scraped, not kept up to date on every change.

use std::time::Duration;

pub const SESSIONS: &str = "wabridge_sessions";
pub const MESSAGES: &str = "wabridge_messages_total";
pub const WEBHOOK_ATTEMPTS: &str = "wabridge_webhook_attempts_total";
pub const WEBHOOK_SECONDS: &str = "wabridge_webhook_attempt_seconds";
pub const OUTBOX: &str = "wabridge_outbox_deliveries";
pub const BROWSER_LAUNCHES: &str = "wabridge_browser_launches_total";
pub const BROWSER_CRASHES: &str = "wabridge_browser_crashes_total";
/// Browser restarts for a memory or age ceiling, by session and reason.
pub const BROWSER_RECYCLES: &str = "wabridge_browser_recycles_total";
/// A session browser's PSS (its whole process tree), bytes.
pub const BROWSER_PSS: &str = "wabridge_session_browser_pss_bytes";
/// Browser lives ended because wa-js could not come up on the WhatsApp Web build.
pub const INCOMPATIBLE: &str = "wabridge_session_incompatible_total";
pub const HTTP_REQUESTS: &str = "wabridge_http_requests_total";
pub const HTTP_SECONDS: &str = "wabridge_http_request_seconds";
pub const PAGE_CALL_SECONDS: &str = "wabridge_page_call_seconds";

/// A gauge not set for this long leaves `/metrics`: two missed readings
/// of a browser's memory, so a stopped or deleted session's last one does
/// not stay on for ever.
pub const STALE_GAUGE: Duration = Duration::from_secs(11 * 60);

/// Histogram buckets (seconds): from a fast page call to a slow webhook.
pub const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Descriptions, registered once the recorder is installed.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(SESSIONS, "Sessions by status.");
    describe_counter!(
        MESSAGES,
        "Messages stored, by session and direction (in, out)."
    );
    describe_counter!(WEBHOOK_ATTEMPTS, "Webhook delivery attempts by outcome.");
    describe_histogram!(WEBHOOK_SECONDS, "Webhook attempt latency, seconds.");
    describe_gauge!(
        OUTBOX,
        "Webhook deliveries in the outbox, by state (pending, dead)."
    );
    describe_counter!(BROWSER_LAUNCHES, "Browser launches, by session.");
    describe_counter!(
        BROWSER_CRASHES,
        "Browser or page crashes and hangs, by session."
    );
    describe_counter!(
        BROWSER_RECYCLES,
        "Browser restarts for a memory or age ceiling, by session and reason."
    );
    metrics::describe_gauge!(
        BROWSER_PSS,
        "A session browser's PSS, its whole process tree, bytes."
    );
    describe_counter!(
        INCOMPATIBLE,
        "Browser lives that found a WhatsApp Web build wa-js cannot run on, by session."
    );
    describe_counter!(HTTP_REQUESTS, "API requests by route, method and status.");
    describe_histogram!(HTTP_SECONDS, "API request latency by route, seconds.");
    describe_histogram!(
        PAGE_CALL_SECONDS,
        "Calls into a session's page by function, seconds."
    );
}

/// `n` messages stored for `session`: `out` if the account sent them.
pub fn messages(session: &str, from_me: bool, n: u64) {
    let direction = if from_me { "out" } else { "in" };
    metrics::counter!(MESSAGES, "session" => session.to_string(), "direction" => direction)
        .increment(n);
}

/// One webhook attempt: `outcome` is `delivered`, `retry` or `dead`.
pub fn webhook_attempt(outcome: &'static str, took: Duration) {
    metrics::counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
    metrics::histogram!(WEBHOOK_SECONDS).record(took.as_secs_f64());
}

pub fn browser_launched(session: &str) {
    metrics::counter!(BROWSER_LAUNCHES, "session" => session.to_string()).increment(1);
}

pub fn browser_recycled(session: &str, reason: &'static str) {
    metrics::counter!(BROWSER_RECYCLES, "session" => session.to_string(), "reason" => reason)
        .increment(1);
}

pub fn browser_pss(session: &str, bytes: u64) {
    metrics::gauge!(BROWSER_PSS, "session" => session.to_string()).set(bytes as f64);
}

pub fn session_incompatible(session: &str) {
    metrics::counter!(INCOMPATIBLE, "session" => session.to_string()).increment(1);
}

pub fn browser_crashed(session: &str) {
    metrics::counter!(BROWSER_CRASHES, "session" => session.to_string()).increment(1);
}

/// An API request: `route` is the matched route pattern (never the raw
/// path, which would carry ids and make a label per request).
pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    metrics::counter!(HTTP_REQUESTS, "route" => route.to_string(), "method" => method.to_string(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_SECONDS, "route" => route.to_string()).record(took.as_secs_f64());
}

pub fn page_call(func: &str, took: Duration) {
    metrics::histogram!(PAGE_CALL_SECONDS, "call" => func.to_string()).record(took.as_secs_f64());
}

/// The rendered metrics without the series of sessions this process no
/// longer has (deleted, or moved to a peer): the recorder keeps a counter
/// for life, and a dashboard summing by session would count them on.
pub fn without_gone_sessions(text: &str, live: &std::collections::HashSet<String>) -> String {
    let gone = |line: &str| {
        !line.starts_with('#')
            && line
                .split_once("session=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .is_some_and(|(id, _)| !live.contains(id))
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines().filter(|l| !gone(l)) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A reading of state, set at scrape time.
pub fn gauge(name: &'static str, label: &'static str, value: &str, v: f64) {
    metrics::gauge!(name, label => value.to_string()).set(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_sessions_series_leave_the_page() {
        let text = "# HELP wabridge_messages_total Messages.\n# TYPE wabridge_messages_total counter\n\
wabridge_messages_total{session=\"shop1\",direction=\"in\"} 3\n\
wabridge_messages_total{session=\"gone\",direction=\"in\"} 9\n\
wabridge_webhook_attempts_total{outcome=\"delivered\"} 2\n";
        let live = ["shop1".to_string()].into_iter().collect();
        let out = without_gone_sessions(text, &live);
        assert!(out.contains("session=\"shop1\""), "{out}");
        assert!(!out.contains("gone"), "{out}");
        assert!(
            out.contains("outcome=\"delivered\"} 2") && out.starts_with("# HELP"),
            "{out}"
        );
    }
}
