//! WhatsApp Business customer notes: a business account keeps one note
//! on each person it chats with (not on a group). WhatsApp keeps them in
//! the account's app state, so a note written here reaches the phone and
//! one written on the phone is read here. Any other account is answered
//! 409 `not_business`.

use super::error::{Refusal, refusal};
use super::{Core, CoreError};
use crate::domain::{Scope, SessionId, Wid};
use crate::session::{CallError, Note};

/// This daemon's limit on a note (characters).
pub const MAX_NOTE: usize = 4096;

fn page(e: CallError) -> CoreError {
    refusal(
        e,
        &[
            ("NOT_BUSINESS", Refusal::Conflict("not_business")),
            ("CHAT_NOT_FOUND", Refusal::NotFound("chat_not_found")),
            ("GROUP_NOTE", Refusal::Invalid("chat")),
        ],
    )
}

/// A person's chat: WhatsApp keeps no note on a group.
fn person(chat: &Wid) -> Result<(), CoreError> {
    if chat.is_group() {
        return Err(CoreError::invalid(
            "chat",
            "is a group: a customer note is on a person's chat",
        ));
    }
    Ok(())
}

impl Core {
    /// The note on a person's chat; None where there is none.
    pub async fn note(&self, session: &SessionId, chat: &Wid) -> Result<Option<Note>, CoreError> {
        self.may(session, Scope::Read)?;
        person(chat)?;
        let bridge = self.manager.bridge(session).await?;
        bridge.note(chat).await.map_err(page)
    }

    /// Writes the note on a person's chat, or rewrites it (WhatsApp Web
    /// cannot empty one); the note after.
    pub async fn set_note(
        &self,
        session: &SessionId,
        chat: &Wid,
        content: &str,
    ) -> Result<Note, CoreError> {
        self.may(session, Scope::Send)?;
        person(chat)?;
        if content.trim().is_empty() || content.chars().count() > MAX_NOTE {
            return Err(CoreError::invalid(
                "content",
                format!("must be 1 to {MAX_NOTE} characters (WhatsApp Web cannot empty a note)"),
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge
            .set_note(chat, content)
            .await
            .map_err(page)?
            .ok_or_else(|| {
                CoreError::WhatsApp("WhatsApp Web shows no note after writing it".into())
            })
    }
}
