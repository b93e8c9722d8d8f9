//! Messages pinned in a chat, as WhatsApp keeps them. A pin is a message
//! to the chat (WhatsApp's `PinInChatMessage`): everyone in it sees the
//! same pins, the account's phone and every device included. At most three
//! per chat (a fourth takes the oldest one's place), each for the time it
//! was pinned for. In a group where only admins change the settings or
//! send, only admins pin (what WhatsApp Web checks before it sends one).

use super::world::{Actor, ChangeError, World, chat_id, random_hex};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// WhatsApp keeps this many pinned messages in a chat.
pub const MAX_PINS: usize = 3;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SbPin {
    /// The pinned message, as the account's devices name it.
    pub msg: String,
    /// The pin's own message id.
    pub id: String,
    /// Who pinned it (phone).
    pub by: String,
    /// When (unix s, the pinner's clock).
    pub at: i64,
    /// For how long (s).
    pub secs: i64,
}

impl SbPin {
    fn live(&self, now: i64) -> bool {
        self.at + self.secs > now
    }
}

impl World {
    /// The chat's pins still in force, oldest first.
    pub fn pins(&self, account: &str, chat: &str) -> Vec<SbPin> {
        let now = self.now_s();
        self.p
            .pins
            .get(account)
            .and_then(|c| c.get(chat))
            .into_iter()
            .flatten()
            .filter(|p| p.live(now))
            .cloned()
            .collect()
    }

    /// Pins (`on`) or unpins message `id` for everyone in its chat, from
    /// the account (its phone or a device) or a contact in the chat
    /// (`from`, in a group). Every account in the chat holds it under its
    /// own copy's id. Pinning a pinned message pins it again, for the new
    /// time; unpinning one not pinned changes nothing.
    pub fn pin(
        &mut self,
        id: &str,
        who: Actor,
        from: Option<&str>,
        on: bool,
        secs: i64,
    ) -> Result<Value, ChangeError> {
        let contact = match who {
            Actor::Account => None,
            Actor::Contact => Some(self.contact_in(id, from)?),
        };
        let now = self.now_s();
        let (account, m) = self.find_mut(id).ok_or(ChangeError::NotFound)?;
        let (peer, key, revoked) = (m.peer.clone(), m.group_key.clone(), m.revoked);
        if revoked {
            return Err(ChangeError::Revoked);
        }
        if (m.from_me && m.ack < 1) || peer.ends_with("@broadcast") || (on && m.view_once) {
            return Err(ChangeError::NotPinnable);
        }
        let by = contact.unwrap_or_else(|| account.clone());
        if let Some(g) = self.group(&peer) {
            if !g.participants.contains(&by) {
                return Err(ChangeError::NotInChat);
            }
            if (g.restrict || g.announce) && !g.admins.contains(&by) {
                return Err(ChangeError::AdminsOnly);
            }
        }
        let pin_id = format!(
            "{}_{}_3P{}",
            who == Actor::Account,
            chat_id(&peer),
            random_hex(18)
        );
        let mut answer = json!(null);
        for (acct, msg) in self.copies(&account, id, &peer, key.as_deref()) {
            let chat = chat_id(&peer);
            let pins = self
                .p
                .pins
                .entry(acct.clone())
                .or_default()
                .entry(chat.clone())
                .or_default();
            pins.retain(|p| p.live(now) && p.msg != msg);
            if on {
                if pins.len() >= MAX_PINS {
                    pins.remove(0);
                }
                pins.push(SbPin {
                    msg: msg.clone(),
                    id: pin_id.clone(),
                    by: by.clone(),
                    at: now,
                    secs,
                });
            }
            let push = self.pins_push(&acct, Some(&chat));
            self.send_account(&acct, &push);
            if acct == account {
                answer = json!({"chat": chat, "pins": push["chats"][&chat]});
            }
        }
        self.dirty = true;
        Ok(answer)
    }

    /// A message deleted for everyone is unpinned, for everyone.
    pub(super) fn unpin_revoked(&mut self, account: &str, id: &str, peer: &str, key: Option<&str>) {
        let chat = chat_id(peer);
        for (acct, msg) in self.copies(account, id, peer, key) {
            let Some(pins) = self.p.pins.get_mut(&acct).and_then(|c| c.get_mut(&chat)) else {
                continue;
            };
            let before = pins.len();
            pins.retain(|p| p.msg != msg);
            if pins.len() != before {
                let push = self.pins_push(&acct, Some(&chat));
                self.send_account(&acct, &push);
            }
        }
    }

    /// The account's pins in `chat` of messages it no longer has (deleted
    /// for it, the chat cleared or deleted): its devices stop showing them.
    pub(super) fn drop_pins_of_gone(&mut self, account: &str, chat: &str) {
        let held: std::collections::HashSet<String> = self
            .p
            .accounts
            .get(account)
            .map(|a| a.messages.iter().map(|m| m.id.clone()).collect())
            .unwrap_or_default();
        let Some(pins) = self.p.pins.get_mut(account).and_then(|c| c.get_mut(chat)) else {
            return;
        };
        let before = pins.len();
        pins.retain(|p| held.contains(&p.msg));
        if pins.len() != before {
            let push = self.pins_push(account, Some(chat));
            self.send_account(account, &push);
        }
    }

    /// Each account's copy of a message (account, its id there): in a
    /// group every member account holds one, sharing the group key.
    fn copies(
        &self,
        account: &str,
        id: &str,
        peer: &str,
        key: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut out = vec![(account.to_string(), id.to_string())];
        if let Some(key) = key {
            for a in self.p.accounts.values().filter(|a| a.phone != account) {
                if let Some(m) = a
                    .messages
                    .iter()
                    .rev()
                    .find(|m| m.peer == peer && m.group_key.as_deref() == Some(key))
                {
                    out.push((a.phone.clone(), m.id.clone()));
                }
            }
        }
        out
    }

    /// What the account's devices learn of pins: one chat's, or (`None`,
    /// as a device comes online) every chat's.
    pub(super) fn pins_push(&self, account: &str, chat: Option<&str>) -> Value {
        let chats: BTreeMap<String, Vec<SbPin>> = match chat {
            Some(c) => [(c.to_string(), self.pins(account, c))].into(),
            None => self
                .p
                .pins
                .get(account)
                .into_iter()
                .flat_map(|c| c.keys())
                .map(|c| (c.clone(), self.pins(account, c)))
                .collect(),
        };
        json!({"t": "pins", "chats": chats, "all": chat.is_none()})
    }

    /// A device pins or unpins a message (`{id, pin, secs}`).
    pub fn device_pin_call(&mut self, me: &str, v: &Value) -> Result<Value, String> {
        let id = v["id"].as_str().unwrap_or("");
        // Only the account's own messages' chats: a device names its own.
        if !self
            .p
            .accounts
            .get(me)
            .is_some_and(|a| a.messages.iter().any(|m| m.id == id))
        {
            return Err(format!("message {id} not found"));
        }
        let secs = v["secs"].as_i64().filter(|s| *s > 0).unwrap_or(604_800);
        self.pin(
            id,
            Actor::Account,
            None,
            v["pin"].as_bool().unwrap_or(true),
            secs,
        )
        .map_err(|e| super::world::change_error(&e, id))
    }
}
