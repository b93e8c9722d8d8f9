//! A session as it is stored and reported: its lifecycle status, the linked
//! account, and the record kept in the store.

use super::ids::SessionId;
use super::webhook::Webhook;
use serde::{Deserialize, Serialize};

/// The lifecycle of a session, as the API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Stopped,
    Starting,
    ScanQr,
    Connected,
    Disconnected,
    LoggedOut,
    Failed,
    /// The page library (wa-js) cannot come up on this WhatsApp Web build;
    /// the session retries with backoff and picks up a fixed build.
    Incompatible,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Stopped,
        Status::Starting,
        Status::ScanQr,
        Status::Connected,
        Status::Disconnected,
        Status::LoggedOut,
        Status::Failed,
        Status::Incompatible,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stopped => "STOPPED",
            Status::Starting => "STARTING",
            Status::ScanQr => "SCAN_QR",
            Status::Connected => "CONNECTED",
            Status::Disconnected => "DISCONNECTED",
            Status::LoggedOut => "LOGGED_OUT",
            Status::Failed => "FAILED",
            Status::Incompatible => "INCOMPATIBLE",
        }
    }

    /// Whether a browser should be running for a session in this state.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            Status::Starting
                | Status::ScanQr
                | Status::Connected
                | Status::Disconnected
                | Status::Incompatible
        )
    }
}

/// The linked account, once connected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub id: String,
    pub phone: String,
    pub name: Option<String>,
}

/// What is stored about a session. Its webhooks are the session's
/// subscriptions; the event pipeline is the only code that changes them.
/// (Its `Debug` shows the proxy masked and the webhooks redacted.)
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: SessionId,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// Whether the session should be running; a daemon start resumes these.
    pub should_run: bool,
    pub status: Status,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub me: Option<Me>,
    #[serde(default)]
    pub platform: Option<String>,
    /// The session's proxy URL, with its password (the data dir is 0700;
    /// answers and logs show `Proxy::masked`). None: the daemon's default.
    #[serde(default)]
    pub proxy: Option<String>,
    /// How many times the session moved between peers: a daemon takes in a
    /// move only if it is newer than the copy it has.
    #[serde(default)]
    pub move_epoch: u64,
    /// The session's own ceilings; None: the daemon's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// What the session does with calls on its own; None: nothing (they
    /// ring on the phone, and `call.received` tells of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<super::call::CallPolicy>,
    /// A catch-up from this time (unix s) has yet to succeed: the next
    /// browser life looks back at least this far, in this daemon's run or
    /// the next (a restart must not skip a gap a failed catch-up left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owed_catch_up: Option<i64>,
    /// When the account now linked was linked here (unix s; None for a
    /// link made before it was kept): catch-up never looks back past it
    /// (but to `early_floor`). What came before was another link's, or
    /// the account's history while it was linked nowhere here: not
    /// messages missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_at: Option<i64>,
    /// The earliest stamp of a message that reached this link as new
    /// though stamped before it (a sender's clock behind, one written
    /// offline), at most the catch-up overlap before the link: catch-up
    /// reaches back to it. Meaningful only with the `linked_at` it was
    /// kept under (a new link clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_floor: Option<i64>,
    /// A stable code for `error` (`PROXY_FAILED`), kept with it: a FAILED
    /// session still says it after a stop, a restart or a move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proxy = self.proxy.as_deref().map(|p| {
            super::Proxy::parse(p)
                .map(|p| p.masked())
                .unwrap_or_else(|_| "(invalid)".into())
        });
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("webhooks", &self.webhooks)
            .field("should_run", &self.should_run)
            .field("status", &self.status)
            .field("error", &self.error)
            .field("me", &self.me)
            .field("platform", &self.platform)
            .field("proxy", &proxy)
            .field("move_epoch", &self.move_epoch)
            .field("limits", &self.limits)
            .field("calls", &self.calls)
            .field("owed_catch_up", &self.owed_catch_up)
            .field("linked_at", &self.linked_at)
            .field("early_floor", &self.early_floor)
            .finish()
    }
}

/// A session's own memory and age ceilings for its browser (design §6),
/// in place of the daemon's `WABRIDGE_SESSION_MAX_PSS_MB` and
/// `WABRIDGE_BROWSER_MAX_AGE`: a field left out is the daemon's, `0` is
/// none. Passing one recycles the browser at a quiet moment, no rescan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// MB of PSS (the browser's whole process tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pss_mb: Option<u64>,
    /// How long one browser may live: `12h`, `3d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_max_age: Option<String>,
}

/// The largest memory ceiling a session may set: 1 TB, far above any
/// browser's, and far below where MB as bytes would overflow.
const MAX_PSS_MB: u64 = 1 << 20;

impl Limits {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_pss_mb.is_some_and(|mb| mb > MAX_PSS_MB) {
            return Err((
                "limits.max_pss_mb",
                format!("must be at most {MAX_PSS_MB} (1 TB), or 0 for none"),
            ));
        }
        self.max_age()
            .transpose()
            .map(drop)
            .map_err(|e| ("limits.browser_max_age", e))
    }

    /// The memory ceiling in bytes: None if this session does not say,
    /// Some(None) for none at all.
    pub fn max_pss(&self) -> Option<Option<u64>> {
        // (Bounded again: a record from before the bound may hold more.)
        self.max_pss_mb
            .map(|mb| (mb > 0).then_some(mb.min(MAX_PSS_MB) << 20))
    }

    /// As `max_pss`, for the browser's age.
    pub fn max_age(&self) -> Option<Result<Option<std::time::Duration>, String>> {
        self.browser_max_age.as_deref().map(|s| match s.trim() {
            "0" => Ok(None),
            s => humantime::parse_duration(s)
                .map(|d| (!d.is_zero()).then_some(d))
                .map_err(|e| format!("{e} (e.g. 12h, 3d, 0 for never)")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sessions_limits_override_the_daemons_or_leave_them() {
        let l: Limits =
            serde_json::from_str(r#"{"max_pss_mb": 300, "browser_max_age": "12h"}"#).unwrap();
        assert_eq!(l.max_pss(), Some(Some(300 << 20)));
        assert_eq!(
            l.max_age(),
            Some(Ok(Some(std::time::Duration::from_secs(12 * 3600))))
        );
        let none: Limits =
            serde_json::from_str(r#"{"max_pss_mb": 0, "browser_max_age": "0"}"#).unwrap();
        assert_eq!(
            (none.max_pss(), none.max_age()),
            (Some(None), Some(Ok(None)))
        );
        let unsaid = Limits::default();
        assert_eq!((unsaid.max_pss(), unsaid.max_age()), (None, None));
        let bad = Limits {
            browser_max_age: Some("soon".into()),
            ..Limits::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "limits.browser_max_age");
        // MB as bytes would wrap past 2^44 MB, into a ceiling of 0.
        let huge = Limits {
            max_pss_mb: Some(1 << 44),
            ..Limits::default()
        };
        assert_eq!(huge.validate().unwrap_err().0, "limits.max_pss_mb");
        assert!(l.validate().is_ok() && none.validate().is_ok());
        assert!(serde_json::from_str::<Limits>(r#"{"max_rss": 1}"#).is_err());
    }

    #[test]
    fn statuses_serialize_as_the_api_shows_them() {
        assert_eq!(
            serde_json::to_string(&Status::ScanQr).unwrap(),
            "\"SCAN_QR\""
        );
        assert_eq!(Status::LoggedOut.as_str(), "LOGGED_OUT");
    }
}
