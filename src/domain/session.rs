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
#[derive(Clone, Debug, Serialize, Deserialize)]
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize_as_the_api_shows_them() {
        assert_eq!(
            serde_json::to_string(&Status::ScanQr).unwrap(),
            "\"SCAN_QR\""
        );
        assert_eq!(Status::LoggedOut.as_str(), "LOGGED_OUT");
    }
}
