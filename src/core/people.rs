//! The people around an account: showing presence (typing, recording,
//! online), hearing theirs, their profiles, and the blocklist.

use super::{Core, CoreError};
use crate::domain::Scope;
use crate::domain::{SessionId, Wid};
use crate::session::CallFailure;
use serde_json::Value;

/// What a session can show: in a chat, or for the whole account.
pub const CHAT_STATES: &[&str] = &["typing", "recording", "paused"];
pub const ACCOUNT_STATES: &[&str] = &["online", "offline"];

fn page(e: crate::session::CallError) -> CoreError {
    CoreError::from(CallFailure::from(e))
}

impl Core {
    /// `typing`, `recording` or `paused` in `chat`; `online` or `offline`
    /// without one.
    pub async fn presence(
        &self,
        session: &SessionId,
        chat: Option<&Wid>,
        state: &str,
    ) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        match chat {
            Some(_) if !CHAT_STATES.contains(&state) => {
                return Err(CoreError::invalid(
                    "state",
                    "in a chat must be typing, recording or paused",
                ));
            }
            None if !ACCOUNT_STATES.contains(&state) => {
                return Err(CoreError::invalid(
                    "state",
                    "without a chat must be online or offline",
                ));
            }
            _ => {}
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.presence(chat, state).await.map_err(page)
    }

    /// Contacts whose presence comes as `presence.update` events from now on.
    pub async fn subscribe_presence(
        &self,
        session: &SessionId,
        ids: &[Wid],
    ) -> Result<Vec<String>, CoreError> {
        self.may(session, Scope::Send)?;
        if ids.is_empty() || ids.len() > 256 {
            return Err(CoreError::invalid(
                "contacts",
                "must name 1 to 256 contacts",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.subscribe_presence(ids).await.map_err(page)
    }

    pub async fn profile(&self, session: &SessionId, id: &Wid) -> Result<Value, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.profile(id).await.map_err(page)
    }

    pub async fn block(&self, session: &SessionId, id: &Wid, yes: bool) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        if id.phone().is_none() {
            return Err(CoreError::invalid("phone", "must be a person, not a group"));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.block(id, yes).await.map_err(page)?;
        tracing::info!(session = %session, blocked = yes, "blocklist changed");
        Ok(())
    }
}
