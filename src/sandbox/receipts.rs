//! Who got, read and played a message of the account's. WhatsApp keeps a
//! receipt per recipient (the contact; in a group each other member when it
//! was sent), and the message's ack is where all of them are: delivered
//! once every recipient's phone has it, read once every one read it,
//! played once every one played it (a voice note). A device asks for them
//! as WhatsApp Web's message info does.

use super::world::{ChangeError, World};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One recipient's receipt: when (unix s) each stage was reached.
#[derive(Clone, Default, Debug, PartialEq, Serialize, Deserialize)]
pub struct SbReceipt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub played: Option<i64>,
}

impl World {
    /// Who a message the account `me` sends to `peer` goes to: the contact,
    /// or a group's other members. A status goes to no one in particular.
    pub(super) fn recipients(&self, me: &str, peer: &str) -> BTreeMap<String, SbReceipt> {
        if peer.ends_with("@broadcast") {
            return BTreeMap::new();
        }
        match self.group(peer) {
            Some(g) => g
                .participants
                .iter()
                .filter(|p| *p != me)
                .map(|p| (p.clone(), SbReceipt::default()))
                .collect(),
            None => [(peer.to_string(), SbReceipt::default())].into(),
        }
    }

    /// Every recipient's phone has the message (ack 2).
    pub fn deliver(&mut self, id: &str) -> bool {
        // A channel's post is only ever sent: followers send no receipts.
        if id.contains("@newsletter_") {
            return false;
        }
        let now = self.now_s();
        let mut got = vec![];
        if let Some((phone, m)) = self.find_mut(id).filter(|(_, m)| m.from_me) {
            for (who, r) in m.receipts.iter_mut() {
                if r.delivered.is_none() {
                    r.delivered = Some(now);
                    got.push(who.clone());
                }
            }
            let peer = m.peer.clone();
            self.tell_receipts(&phone, id, &peer, &got, 2);
        }
        self.set_ack(id, 2)
    }

    /// A group's receipts reach the sender's devices one member at a time,
    /// each naming its member (WhatsApp Web's group receipt; wa-js keys it
    /// by that member), apart from the message's own ack, which counts
    /// them all. A contact's receipt is the ack itself.
    fn tell_receipts(&self, phone: &str, id: &str, peer: &str, who: &[String], ack: i8) {
        if !peer.ends_with("@g.us") {
            return;
        }
        for by in who {
            let push = json!({"t": "receipt", "id": id, "chat": peer, "by": by, "ack": ack});
            self.send_account(phone, &push);
        }
    }

    /// `by` (every recipient when `None`) read the message, and with
    /// `played` played it (a voice note: WhatsApp tells of nothing else
    /// played). The ack follows once all have. Answers the ack it has now.
    pub fn read_by(&mut self, id: &str, by: Option<&str>, played: bool) -> Result<i8, ChangeError> {
        let now = self.now_s();
        let (phone, m) = self
            .find_mut(id)
            .filter(|(_, m)| m.from_me)
            .ok_or(ChangeError::NotFound)?;
        let audio = m
            .media
            .as_ref()
            .is_some_and(|x| x.mimetype.starts_with("audio/"));
        if played && !audio {
            return Err(ChangeError::NotEditable);
        }
        if let Some(who) = by
            && !m.receipts.contains_key(who)
        {
            return Err(ChangeError::NotInChat);
        }
        let mut moved = vec![];
        for (who, r) in m.receipts.iter_mut() {
            if by.is_some_and(|b| b != who) {
                continue;
            }
            let before = r.clone();
            r.delivered.get_or_insert(now);
            r.read.get_or_insert(now);
            if played {
                r.played.get_or_insert(now);
            }
            if *r != before {
                moved.push(who.clone());
            }
        }
        // A message from before receipts were kept has none: all read it.
        let all = |f: fn(&SbReceipt) -> bool| m.receipts.is_empty() || m.receipts.values().all(f);
        let ack = if all(|r| r.played.is_some()) && played {
            4
        } else if all(|r| r.read.is_some()) {
            3
        } else {
            m.ack
        };
        let peer = m.peer.clone();
        self.dirty = true;
        self.tell_receipts(&phone, id, &peer, &moved, if played { 4 } else { 3 });
        self.set_ack(id, ack);
        Ok(self.find_mut(id).map_or(ack, |(_, m)| m.ack))
    }

    /// What a device asks of one of its account's messages: its ack and
    /// each recipient's receipt.
    pub fn msg_info(&self, me: &str, id: &str) -> Result<Value, String> {
        let m = self
            .p
            .accounts
            .get(me)
            .and_then(|a| a.messages.iter().find(|m| m.id == id))
            .ok_or_else(|| format!("message {id} not found"))?;
        // Receipts are the sender's to see.
        let receipts: Vec<Value> = m
            .receipts
            .iter()
            .filter(|_| m.from_me)
            .map(|(who, r)| json!({"id": who, "delivered": r.delivered, "read": r.read, "played": r.played}))
            .collect();
        Ok(json!({"ack": m.ack, "from_me": m.from_me, "receipts": receipts}))
    }
}
