//! How an account keeps its chats in the simulated WhatsApp: archived,
//! pinned (three at most, as WhatsApp allows), muted until a time (-1:
//! always) and marked unread (until read). WhatsApp keeps this per account and syncs it to every device
//! (its app state): a change on the phone reaches the linked devices, and a
//! device's change reaches the phone and the other devices.

use super::world::World;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// WhatsApp lets an account pin this many chats.
pub const MAX_PINNED: usize = 3;

#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Debug)]
pub struct ChatState {
    #[serde(default)]
    pub archived: bool,
    /// When it was pinned (unix s); pinned chats sort by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<i64>,
    /// Muted until (unix s); -1: always; 0: not muted.
    #[serde(default)]
    pub mute_until: i64,
    /// Marked unread (until it is read).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub marked_unread: bool,
}

/// A change to a chat's state; what is `None` stays.
#[derive(Default)]
pub struct ChatChange {
    pub archive: Option<bool>,
    pub pin: Option<bool>,
    /// 0 unmutes; -1 mutes always.
    pub mute_until: Option<i64>,
    pub unread: Option<bool>,
}

impl ChatChange {
    pub fn from_json(v: &Value) -> Result<ChatChange, String> {
        let flag = |k: &str| match v.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("'{k}' must be true or false")),
        };
        let mute_until = match v.get("mute_until") {
            None | Some(Value::Null) => None,
            Some(n) => match n.as_i64() {
                Some(t) if t >= -1 => Some(t),
                _ => return Err("'mute_until' must be a unix time, 0 or -1".into()),
            },
        };
        Ok(ChatChange {
            archive: flag("archive")?,
            pin: flag("pin")?,
            mute_until,
            unread: flag("unread")?,
        })
    }
}

impl World {
    /// Every chat of the account with a state, by chat id (`…@c.us`,
    /// `…@g.us`).
    pub fn chat_states(&self, account: &str) -> BTreeMap<String, ChatState> {
        self.p.chats.get(account).cloned().unwrap_or_default()
    }

    /// Changes a chat's state, from the phone or from a device; every
    /// device of the account hears. Pinning a fourth chat is refused.
    pub fn set_chat_state(
        &mut self,
        account: &str,
        chat: &str,
        change: &ChatChange,
    ) -> Result<ChatState, String> {
        let now = self.now_s();
        let states = self.p.chats.entry(account.to_string()).or_default();
        let pinned = states.values().filter(|s| s.pinned.is_some()).count();
        let mut s = states.get(chat).cloned().unwrap_or_default();
        if let Some(a) = change.archive {
            s.archived = a;
        }
        match change.pin {
            Some(true) if s.pinned.is_none() => {
                if pinned >= MAX_PINNED {
                    return Err(format!("you can only pin up to {MAX_PINNED} chats"));
                }
                s.pinned = Some(now);
            }
            Some(false) => s.pinned = None,
            _ => {}
        }
        if let Some(t) = change.mute_until {
            s.mute_until = if t > 0 && t <= now { 0 } else { t };
        }
        if let Some(u) = change.unread {
            s.marked_unread = u;
        }
        if s == ChatState::default() {
            states.remove(chat);
        } else {
            states.insert(chat.to_string(), s.clone());
        }
        self.dirty = true;
        self.send_account(
            account,
            &json!({"t": "chat_state", "chat": chat, "state": s}),
        );
        Ok(s)
    }

    /// What a linked device asks of its account's chats.
    pub fn device_chat_call(&mut self, me: &str, v: &Value) -> Result<Value, String> {
        let chat = v["chat"].as_str().unwrap_or("");
        if chat.is_empty() {
            return Err("no chat".into());
        }
        let change = ChatChange::from_json(v)?;
        self.set_chat_state(me, chat, &change).map(|s| json!(s))
    }
}

/// The chat a message is in, as devices name it.
fn chat_of(m: &super::world::SbMessage) -> String {
    super::world::chat_id(&m.peer)
}

impl World {
    /// Messages deleted for this account only ("delete for me"): gone from
    /// the phone and every device (WhatsApp syncs it); the others in the
    /// chat keep theirs. Answers the ids that went.
    pub fn delete_for_me(&mut self, account: &str, chat: &str, ids: &[String]) -> Vec<String> {
        let Some(acct) = self.p.accounts.get_mut(account) else {
            return vec![];
        };
        let mut gone = vec![];
        acct.messages.retain(|m| {
            let go = chat_of(m) == chat && ids.contains(&m.id);
            if go {
                gone.push(m.id.clone());
            }
            !go
        });
        if let Some(s) = self.p.starred.get_mut(account) {
            s.retain(|id| !gone.contains(id));
        }
        if !gone.is_empty() {
            self.dirty = true;
            self.send_account(account, &json!({"t": "forget", "chat": chat, "ids": gone}));
            self.drop_pins_of_gone(account, chat);
        }
        gone
    }

    /// Clears a chat (its messages go, the chat stays; its starred ones
    /// stay with `keep_starred`) or deletes it (the chat goes too, with
    /// how it was kept: archived, pinned, muted), on the phone and every
    /// device. Messages still on their way to the account's devices are
    /// not in the chat yet and stay.
    pub fn clear_chat(
        &mut self,
        account: &str,
        chat: &str,
        delete: bool,
        keep_starred: bool,
    ) -> Result<usize, String> {
        let starred = self.p.starred.get(account).cloned().unwrap_or_default();
        let Some(acct) = self.p.accounts.get_mut(account) else {
            return Err(format!("no account {account}"));
        };
        let before = acct.messages.len();
        acct.messages.retain(|m| {
            chat_of(m) != chat
                || !(m.from_me || m.delivered)
                || (keep_starred && !delete && starred.contains(&m.id))
        });
        let cleared = before - acct.messages.len();
        if delete && let Some(states) = self.p.chats.get_mut(account) {
            states.remove(chat);
        }
        self.drop_pins_of_gone(account, chat);
        self.dirty = true;
        self.send_account(
            account,
            &json!({"t": "chat_cleared", "chat": chat, "deleted": delete, "keep_starred": keep_starred && !delete}),
        );
        Ok(cleared)
    }

    /// Stars or unstars messages the account has (not one deleted for
    /// everyone); every device hears. Answers how many changed.
    pub fn star(&mut self, account: &str, ids: &[String], on: bool) -> Result<usize, String> {
        let acct = self
            .p
            .accounts
            .get(account)
            .ok_or_else(|| format!("no account {account}"))?;
        let has: Vec<&String> = ids
            .iter()
            .filter(|id| acct.messages.iter().any(|m| &m.id == *id && !m.revoked))
            .collect();
        let set = self.p.starred.entry(account.to_string()).or_default();
        let mut changed = 0;
        for id in has {
            changed += usize::from(if on {
                set.insert(id.clone())
            } else {
                set.remove(id)
            });
        }
        if changed > 0 {
            self.dirty = true;
            self.send_account(account, &self.starred_push(account));
        }
        Ok(changed)
    }

    /// The account's starred messages, as its devices learn them.
    pub(super) fn starred_push(&self, account: &str) -> Value {
        let ids: Vec<&String> = self.p.starred.get(account).into_iter().flatten().collect();
        json!({"t": "starred", "ids": ids})
    }

    /// What a linked device asks: delete messages for the account, clear
    /// or delete a chat, star messages.
    pub fn device_forget_call(&mut self, me: &str, t: &str, v: &Value) -> Result<Value, String> {
        let chat = v["chat"].as_str().unwrap_or("");
        if chat.is_empty() && t != "star" {
            return Err("no chat".into());
        }
        match t {
            "delete_for_me" => {
                let ids = super::world::strings(v, "ids");
                Ok(json!(self.delete_for_me(me, chat, &ids)))
            }
            "chat_clear" => self
                .clear_chat(
                    me,
                    chat,
                    v["delete"].as_bool().unwrap_or(false),
                    v["keep_starred"].as_bool().unwrap_or(true),
                )
                .map(|n| json!(n)),
            "star" => {
                let ids = super::world::strings(v, "ids");
                self.star(me, &ids, v["star"].as_bool().unwrap_or(true))
                    .map(|n| json!(n))
            }
            _ => Err(format!("unknown call {t}")),
        }
    }
}
