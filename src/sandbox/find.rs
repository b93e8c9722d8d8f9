//! What a device finds in its own store of messages, as WhatsApp Web
//! searches its local database: the messages its account holds (those
//! that reached it; WhatsApp Web's history, filled at the link and from
//! the phone), newest first. A search matches the starts of words in text
//! and captions (a word index, as WhatsApp Web's), any case, and leaves out
//! what was deleted for everyone; the starred are the account's stars (set
//! here, on the phone or another device).

use super::world::{SbMessage, World, chat_id};
use serde_json::{Value, json};

impl World {
    /// `{kind: "search"|"starred", term?, chat?, page?, count, anchor?}`:
    /// one page of what the device `me` finds, and whether it was the last.
    pub fn device_find(&self, me: &str, v: &Value) -> Result<Value, String> {
        let acct = self.p.accounts.get(me).ok_or("no account")?;
        let chat = v["chat"].as_str().filter(|c| !c.is_empty());
        let count = v["count"].as_u64().unwrap_or(20).clamp(1, 500) as usize;
        let held = |m: &&SbMessage| {
            (m.from_me || m.delivered) && chat.is_none_or(|c| chat_id(&m.peer) == c)
        };
        let mut found: Vec<&SbMessage> = match v["kind"].as_str() {
            Some("search") => {
                // Words of a term as of a text: what is not a letter or a
                // digit parts them (a term of none finds nothing).
                let term = v["term"].as_str().unwrap_or("").to_lowercase();
                let terms: Vec<&str> = term
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                acct.messages
                    .iter()
                    .rev()
                    .filter(held)
                    .filter(|m| !m.revoked)
                    .filter(|m| {
                        let words: Vec<String> = [&m.text, &m.caption]
                            .into_iter()
                            .flatten()
                            .flat_map(|t| {
                                t.to_lowercase()
                                    .split(|c: char| !c.is_alphanumeric())
                                    .filter(|w| !w.is_empty())
                                    .map(String::from)
                                    .collect::<Vec<_>>()
                            })
                            .collect();
                        !terms.is_empty()
                            && terms.iter().all(|t| words.iter().any(|w| w.starts_with(t)))
                    })
                    .collect()
            }
            Some("starred") => {
                let stars = self.p.starred.get(me);
                acct.messages
                    .iter()
                    .rev()
                    .filter(held)
                    .filter(|m| stars.is_some_and(|s| s.contains(&m.id)))
                    .collect()
            }
            _ => return Err("unknown kind of find".into()),
        };
        // Older than the anchor, when one is given.
        if let Some(anchor) = v["anchor"].as_str() {
            match found.iter().position(|m| m.id == anchor) {
                Some(i) => found.drain(..=i).for_each(drop),
                None => found.clear(),
            }
        }
        let page = v["page"].as_u64().unwrap_or(1).max(1) as usize;
        let from = (page - 1).saturating_mul(count).min(found.len());
        let to = (from + count).min(found.len());
        let messages: Vec<Value> = found[from..to].iter().map(|m| m.wire()).collect();
        Ok(json!({"messages": messages, "eof": to == found.len()}))
    }
}
