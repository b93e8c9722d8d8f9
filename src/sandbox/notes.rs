//! WhatsApp Business customer notes in the simulated WhatsApp: a business
//! account keeps one note per person it chats with (not per group).
//! WhatsApp keeps them in the account's app state: a note written on the
//! phone reaches every device, and a device's reaches the phone.

use super::world::{World, random_hex};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Clone, Serialize, Deserialize)]
pub struct SbNote {
    pub id: String,
    pub content: String,
    /// unix s
    pub created: i64,
    pub modified: i64,
}

impl World {
    /// An account's notes, by chat (`…@c.us`, `…@lid`).
    pub fn notes_of(&self, account: &str) -> Value {
        let notes = self.p.notes.get(account);
        json!(
            notes
                .map(|n| {
                    n.iter()
                        .map(|(chat, note)| {
                            json!({"chat": chat, "id": note.id, "content": note.content,
                           "created": note.created, "modified": note.modified})
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        )
    }

    fn push_notes(&self, account: &str) {
        let push = json!({"t": "notes", "notes": self.notes_of(account)});
        self.send_account(account, &push);
    }

    /// The account writes (or rewrites) its note on a person's chat.
    pub fn set_note(&mut self, account: &str, chat: &str, content: &str) -> Result<Value, String> {
        if !self.is_business(account) {
            return Err("is_not_business: this account is not a business account".into());
        }
        if chat.ends_with("@g.us") {
            return Err("a group has no customer note".into());
        }
        if content.is_empty() {
            return Err("a note needs content".into());
        }
        let now = self.now_s();
        let note = self
            .p
            .notes
            .entry(account.to_string())
            .or_default()
            .entry(chat.to_string())
            .and_modify(|n| {
                n.content = content.to_string();
                n.modified = now;
            })
            .or_insert_with(|| SbNote {
                id: random_hex(16),
                content: content.to_string(),
                created: now,
                modified: now,
            })
            .clone();
        self.dirty = true;
        self.push_notes(account);
        Ok(json!({"chat": chat, "id": note.id, "content": note.content,
                  "created": note.created, "modified": note.modified}))
    }
}
