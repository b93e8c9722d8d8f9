//! Messages pinned in a chat: pin one for everyone in it for a while, and
//! read what a chat has pinned. WhatsApp Web keeps the pins (made here, on
//! the phone, or by anyone in the chat) and tells of none in an event, so
//! the list is read from the page each time, never stored.

use super::{Core, CoreError};
use crate::domain::{Message, PinDuration, Scope, SessionId, Wid};
use crate::session::CallError;

/// A message pinned in its chat.
#[derive(Debug)]
pub struct Pinned {
    pub message: Message,
    /// Who pinned it.
    pub by: Option<String>,
    /// When (unix s) and until when.
    pub at: i64,
    pub expires_at: i64,
}

/// A message's pin after a pin or unpin: none once unpinned.
#[derive(Debug)]
pub struct PinState {
    pub by: Option<String>,
    pub at: i64,
    pub expires_at: i64,
}

impl Core {
    /// Pins (`on`) or unpins a stored message for everyone in its chat.
    /// Pinning a message pinned for as long, or unpinning one that is not,
    /// changes nothing; pinned for another time, it is pinned anew.
    pub async fn pin(
        &self,
        session: &SessionId,
        id: &str,
        on: bool,
        duration: PinDuration,
    ) -> Result<Option<PinState>, CoreError> {
        self.may(session, Scope::Send)?;
        let m = self.stored(session, id)?;
        if m.revoked {
            return Err(super::actions::revoked(id));
        }
        if m.chat == Wid::STATUS {
            return Err(not_pinnable("a status cannot be pinned".into()));
        }
        // wa-js refuses it too, as WhatsApp does.
        if on && m.view_once {
            return Err(not_pinnable(
                "a message to be viewed once cannot be pinned".into(),
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        let pin = bridge
            .pin_message(id, on, duration)
            .await
            .map_err(|e| refused(id, e))?;
        tracing::info!(session = %session, pinned = pin.is_some(), "message pinned or unpinned");
        Ok(pin.map(|p| PinState {
            by: p.by,
            at: p.at,
            expires_at: p.expires_at,
        }))
    }

    /// The messages pinned in a chat, newest pin first: the stored copy of
    /// each, else WhatsApp Web's (a pin of a message from before the link).
    pub async fn pinned(&self, session: &SessionId, chat: &Wid) -> Result<Vec<Pinned>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        let mut out = vec![];
        let pins = bridge
            .pinned(chat)
            .await
            .map_err(|e| super::history::find_failure(Some(chat), None, e))?;
        for p in pins {
            let message = match self.store.message(session, &p.id)? {
                // WhatsApp unpins a message deleted for everyone; the page
                // may not have heard yet.
                Some(m) if m.revoked => continue,
                Some(m) => m,
                None => match p
                    .msg
                    .as_ref()
                    .and_then(|v| Message::from_bridge(session, v))
                {
                    Some(m) => m,
                    // WhatsApp Web no longer has the message either.
                    None => continue,
                },
            };
            out.push(Pinned {
                message,
                by: p.by,
                at: p.at,
                expires_at: p.expires_at,
            });
        }
        Ok(out)
    }
}

fn not_pinnable(message: String) -> CoreError {
    CoreError::Conflict {
        code: "not_pinnable",
        message,
    }
}

/// What wa-js refuses before it sends a pin, as bridge.js names it.
fn refused(id: &str, e: CallError) -> CoreError {
    let after = |m: &str, prefix: &str| m.trim_start_matches(prefix).to_string();
    match e {
        CallError::Page(m) if m.starts_with("NOT_PINNABLE: ") => not_pinnable(format!(
            "message '{id}' cannot be pinned (not yet sent, or a notice)"
        )),
        CallError::Page(m) if m.starts_with("ONLY_ADMINS: ") => CoreError::Conflict {
            code: "not_group_admin",
            message: format!(
                "only the group's admins pin messages in this group ({})",
                after(&m, "ONLY_ADMINS: ")
            ),
        },
        // As the group calls say it.
        CallError::Page(m) if m.starts_with("NOT_MEMBER: ") => CoreError::NotFound {
            code: "group_not_found",
            message: "this account is in no such group (no longer)".into(),
        },
        e @ CallError::Page(_) if e.to_string().contains("UNSUPPORTED: ") => {
            super::history::find_failure(None, Some(id), e)
        }
        e => super::actions::off_page(id, e),
    }
}
