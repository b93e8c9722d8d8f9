//! What can be done to a message after it was sent: react to it, edit it,
//! delete it for everyone or for this account only, star it. Only messages
//! the store knows: their chat and author decide what WhatsApp allows.

use super::{Core, CoreError, Receipts};
use crate::domain::Scope;
use crate::domain::{Amendment, Message, SessionId, is_one_emoji, now_ms};
use crate::store::Op;

pub use crate::domain::message::EDIT_WINDOW_S;
/// And delete it for everyone for about two and a half days.
pub const REVOKE_WINDOW_S: i64 = 60 * 3600;
/// How long a status (story) is up.
pub const STATUS_LIFE_S: i64 = 24 * 3600;

impl Core {
    /// Reacts to a message; an empty emoji takes this account's reaction back.
    pub async fn react(&self, session: &SessionId, id: &str, emoji: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        if !emoji.is_empty() && !is_one_emoji(emoji) {
            return Err(CoreError::invalid(
                "emoji",
                "must be one emoji, or empty to remove",
            ));
        }
        let m = self.stored(session, id)?;
        if m.revoked {
            return Err(revoked(id));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.react(id, emoji).await.map_err(CoreError::from)
    }

    /// Takes down a status of ours, and nothing else: a message in a
    /// chat is 404 here, as one there is not.
    pub async fn revoke_status(&self, session: &SessionId, id: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        if self.stored(session, id)?.chat != crate::domain::Wid::STATUS {
            return Err(CoreError::NotFound {
                code: "message_not_found",
                message: format!("this account has no message '{id}'"),
            });
        }
        self.revoke(session, id).await
    }

    /// Replaces the text (or a media message's caption) of one of this
    /// account's messages.
    pub async fn edit(&self, session: &SessionId, id: &str, text: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        if text.trim().is_empty() {
            return Err(CoreError::invalid("text", "is required"));
        }
        if text.len() > super::send::MAX_TEXT {
            return Err(CoreError::invalid(
                "text",
                format!("is longer than {} bytes", super::send::MAX_TEXT),
            ));
        }
        let m = self.stored(session, id)?;
        own(&m, "edited")?;
        // WhatsApp offers no edit of a status.
        if m.chat == crate::domain::Wid::STATUS {
            return Err(CoreError::Conflict {
                code: "message_not_editable",
                message: "a status cannot be edited: take it down and post another".into(),
            });
        }
        // wa-js sends an edit as a protocol message, which it does not send
        // to a channel.
        if m.chat.ends_with("@newsletter") {
            return Err(CoreError::Conflict {
                code: "message_not_editable",
                message: "wa-js cannot edit a channel's post".into(),
            });
        }
        if m.revoked {
            return Err(revoked(id));
        }
        // Text, and the captions of photos, videos and documents.
        if !matches!(m.kind.as_str(), "text" | "image" | "video" | "document") {
            return Err(CoreError::Conflict {
                code: "message_not_editable",
                message: format!("this {} message has no text to edit", m.kind),
            });
        }
        if now_ms() / 1000 - m.timestamp > EDIT_WINDOW_S {
            return Err(CoreError::Conflict {
                code: "edit_window_passed",
                message: "WhatsApp allows edits for 15 minutes after sending".into(),
            });
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.edit(id, text).await.map_err(CoreError::from)
    }

    /// Deletes a message for everyone: one of this account's, or anyone's
    /// in a group this account runs (WhatsApp shows it deleted by an
    /// admin).
    pub async fn revoke(&self, session: &SessionId, id: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        let m = self.stored(session, id)?;
        // Another's message outside a group: no need to ask the page. In a
        // group, bridge.js asks whether we run it, as wa-js decides.
        if !m.from_me && !m.chat.ends_with("@g.us") {
            return Err(not_own_message());
        }
        if m.revoked {
            return Ok(());
        }
        // A status is up for a day; a message may be deleted for 60 hours.
        let window = match m.chat == crate::domain::Wid::STATUS {
            true => STATUS_LIFE_S,
            false => REVOKE_WINDOW_S,
        };
        if now_ms() / 1000 - m.timestamp > window {
            return Err(CoreError::Conflict {
                code: "revoke_window_passed",
                message: match window {
                    STATUS_LIFE_S => "a status is up for a day: this one is gone already".into(),
                    _ => "WhatsApp allows deleting for everyone for 60 hours after sending".into(),
                },
            });
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.revoke(&m.chat, id).await.map_err(|e| match e {
            crate::session::CallError::Page(m) if m.starts_with("NOT_ADMIN: ") => not_own_message(),
            e => CoreError::from(e),
        })?;
        // Stored and announced now: WhatsApp Web tells of deletes that come
        // in, not of this device's own. The page's word, if it comes too,
        // changes nothing (the message is deleted already).
        let change = Amendment::Revoke {
            at: now_ms() / 1000,
        };
        let mut after = m.clone();
        after.amend(&change);
        let me = self
            .manager
            .get(session)
            .await
            .ok()
            .and_then(|v| v.live.and_then(|l| l.me).or(v.record.me))
            .map(|m| m.id);
        let mut event =
            crate::domain::message::revoke_event(session, id, &m.chat, Some(&after), me.as_deref());
        // Deleted by this account (an admin deletes anyone's in a group):
        // not the author's own delete.
        event.payload["by_me"] = serde_json::json!(true);
        self.pipeline
            .commit(vec![Op::Amend {
                session: session.clone(),
                id: id.to_string(),
                change,
                event,
            }])
            .await
            .map_err(|e| CoreError::from(e.error))?;
        Ok(())
    }
}

impl Core {
    /// Deletes a message for this account only ("delete for me"): gone
    /// from its phone and every device, and from the stored history; the
    /// others in the chat keep theirs. One WhatsApp Web no longer has
    /// (deleted on the phone already) leaves the history too.
    pub async fn delete_for_me(&self, session: &SessionId, id: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        let m = self.stored(session, id)?;
        if m.chat == crate::domain::Wid::STATUS {
            return Err(CoreError::Conflict {
                code: "status_not_deletable_for_me",
                message: "a status is taken down for everyone: DELETE without ?for=me".into(),
            });
        }
        let bridge = self.manager.bridge(session).await?;
        let had = bridge.delete_for_me(&m.chat, id).await?;
        self.store.forget_messages(session, &[id])?;
        self.store.flush().await?;
        self.forget_media(session, &[id.to_string()]).await;
        tracing::info!(session = %session, on_whatsapp_web = had, "message deleted for this account");
        Ok(())
    }

    /// Who got, read and played one of this account's own messages, as
    /// WhatsApp Web's message info has it now.
    pub async fn receipts(&self, session: &SessionId, id: &str) -> Result<Receipts, CoreError> {
        self.may(session, Scope::Read)?;
        let m = self.stored(session, id)?;
        if !m.from_me {
            return Err(CoreError::Conflict {
                code: "not_own_message",
                message: "receipts are kept for this account's own messages".into(),
            });
        }
        if m.chat == crate::domain::Wid::STATUS {
            return Err(CoreError::Conflict {
                code: "status_receipts",
                message: "who viewed a status is not kept: its ack says whether anyone has".into(),
            });
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.receipts(id).await.map_err(|e| off_page(id, e))
    }

    /// Stars or unstars a message (WhatsApp keeps stars on the phone and
    /// every device); its stored copy says so.
    pub async fn star(&self, session: &SessionId, id: &str, on: bool) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        let m = self.stored(session, id)?;
        if m.revoked {
            return Err(revoked(id));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.star(id, on).await.map_err(|e| off_page(id, e))?;
        self.store.set_starred(session, id, on)?;
        self.store.flush().await?;
        Ok(())
    }
}

/// `done`: what may happen to own messages only ("edited").
fn own(m: &Message, done: &str) -> Result<(), CoreError> {
    if m.from_me {
        Ok(())
    } else {
        Err(CoreError::Conflict {
            code: "not_own_message",
            message: format!("only this account's own messages can be {done}"),
        })
    }
}

fn not_own_message() -> CoreError {
    CoreError::Conflict {
        code: "not_own_message",
        message: "only this account's own messages, or anyone's in a group it runs, can be deleted for everyone".into(),
    }
}

/// A stored message WhatsApp Web no longer has (bridge.js's
/// `MESSAGE_NOT_FOUND`) is 404; any other failure is the call's.
pub(super) fn off_page(id: &str, e: crate::session::CallError) -> CoreError {
    match e {
        crate::session::CallError::Page(m) if m.starts_with("MESSAGE_NOT_FOUND: ") => {
            CoreError::NotFound {
                code: "message_not_found",
                message: format!("WhatsApp Web no longer has message '{id}'"),
            }
        }
        e => CoreError::from(e),
    }
}

pub(super) fn revoked(id: &str) -> CoreError {
    CoreError::Conflict {
        code: "message_revoked",
        message: format!("message '{id}' was deleted for everyone"),
    }
}
