//! Who is calling and what they may touch. The admin key (configured) may
//! do anything; API keys made through `POST /api/keys` are scoped to a list
//! of sessions and to some of three scopes. Pure: the store keeps the
//! records, the API resolves a presented key to an [`Access`], the core
//! checks it on every call that names a session.

use super::SessionId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::sync::Arc;

/// What a key may do with its sessions.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Session info, history, chats, contacts, groups, deliveries, events.
    Read,
    /// Send and act in WhatsApp: messages, reactions, edits, presence, groups.
    Send,
    /// The session itself: create, start, stop, restart, logout, delete,
    /// webhooks, QR and pairing code, delivery retries.
    Manage,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Send, Scope::Manage];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Send => "send",
            Scope::Manage => "manage",
        }
    }
}

/// A scoped API key as stored: never the key itself, only its SHA-256
/// (keys are 32 random bytes, so a plain digest cannot be reversed by
/// guessing; a slow hash would only cost every request).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public and stable across rotations: `key_...`.
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub sessions: BTreeSet<SessionId>,
    pub scopes: BTreeSet<Scope>,
    /// Hex SHA-256 of the secret.
    pub hash: String,
    /// The secret's last four characters, to tell keys apart in a list.
    pub hint: String,
    pub created_at: i64,
    #[serde(default)]
    pub rotated_at: Option<i64>,
}

impl ApiKey {
    /// Which of two records of one key is newer: a rotation makes a new one.
    pub fn version(&self) -> i64 {
        self.rotated_at.unwrap_or(self.created_at)
    }
}

/// Every key and every revocation (key id -> when, ms): what peers
/// exchange so that a key made or revoked on one works or stops on all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KeySet {
    pub keys: Vec<ApiKey>,
    pub revoked: std::collections::BTreeMap<String, i64>,
}

/// The secret's prefix: a key is recognisable in a config file or a leak scan.
pub const KEY_PREFIX: &str = "wabk_";

/// The access a request carries, resolved from its key by the API.
#[derive(Clone, Debug, Default)]
pub enum Access {
    /// No key was checked: nothing is allowed. (Internal callers use the
    /// core's admin view explicitly.)
    #[default]
    Nobody,
    Admin,
    Key(Arc<ApiKey>),
}

/// Why an access check failed: a stable code and a sentence.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Access {
    pub fn is_admin(&self) -> bool {
        matches!(self, Access::Admin)
    }

    /// May this caller see the session at all (lists, the event stream)?
    pub fn sees(&self, session: &SessionId) -> bool {
        match self {
            Access::Admin => true,
            Access::Key(k) => k.sessions.contains(session),
            Access::Nobody => false,
        }
    }

    /// May this caller do `scope` on `session`?
    pub fn check(&self, session: &SessionId, scope: Scope) -> Result<(), Refusal> {
        match self {
            Access::Admin => Ok(()),
            Access::Nobody => Err(Refusal {
                code: "forbidden",
                message: "no API key was checked for this call".into(),
            }),
            Access::Key(k) if !k.sessions.contains(session) => Err(Refusal {
                code: "session_forbidden",
                message: format!("this API key ({}) may not use session '{session}'", k.id),
            }),
            Access::Key(k) if !k.scopes.contains(&scope) => Err(Refusal {
                code: "scope_forbidden",
                message: format!(
                    "this API key ({}) lacks the '{}' scope this call needs",
                    k.id,
                    scope.as_str()
                ),
            }),
            Access::Key(_) => Ok(()),
        }
    }

    /// May this caller read any session at all (the stream of all of them)?
    pub fn check_reads_some(&self) -> Result<(), Refusal> {
        match self {
            Access::Key(k) if !k.scopes.contains(&Scope::Read) => Err(Refusal {
                code: "scope_forbidden",
                message: format!("this API key ({}) lacks the 'read' scope", k.id),
            }),
            Access::Key(_) | Access::Admin => Ok(()),
            Access::Nobody => Err(Refusal {
                code: "forbidden",
                message: "no API key was checked for this call".into(),
            }),
        }
    }

    /// Calls that are not about one session (keys, templates, metrics).
    pub fn check_admin(&self) -> Result<(), Refusal> {
        match self {
            Access::Admin => Ok(()),
            _ => Err(Refusal {
                code: "admin_only",
                message: "only the admin key may do this".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(sessions: &[&str], scopes: &[Scope]) -> Access {
        Access::Key(Arc::new(ApiKey {
            id: "key_1".into(),
            name: None,
            sessions: sessions
                .iter()
                .map(|s| SessionId::parse(s).unwrap())
                .collect(),
            scopes: scopes.iter().copied().collect(),
            hash: String::new(),
            hint: String::new(),
            created_at: 0,
            rotated_at: None,
        }))
    }

    #[test]
    fn a_key_reaches_its_sessions_and_scopes_only() {
        let (a, b) = (
            SessionId::parse("a").unwrap(),
            SessionId::parse("b").unwrap(),
        );
        let k = key(&["a"], &[Scope::Read, Scope::Send]);
        assert!(k.sees(&a) && !k.sees(&b));
        assert!(k.check(&a, Scope::Send).is_ok());
        assert_eq!(
            k.check(&a, Scope::Manage).unwrap_err().code,
            "scope_forbidden"
        );
        assert_eq!(
            k.check(&b, Scope::Read).unwrap_err().code,
            "session_forbidden"
        );
        assert_eq!(k.check_admin().unwrap_err().code, "admin_only");
        assert!(Access::Admin.check(&b, Scope::Manage).is_ok());
        assert!(Access::Nobody.check(&a, Scope::Read).is_err() && !Access::Nobody.sees(&a));
    }
}
