//! The people around an account in the simulated WhatsApp: their profiles
//! (about, picture, business details), presence (typing, recording, online)
//! in both directions, and the account's blocklist. As on WhatsApp, a
//! contact's presence reaches an account only after it subscribed to it, and
//! a blocked contact's messages never arrive.

use super::world::World;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub about: Option<String>,
    /// A PNG, base64.
    pub picture: Option<String>,
    /// WhatsApp Business details: description, email, website, address, categories.
    pub business: Option<Value>,
    /// Privacy: nobody sees when this person was last online.
    #[serde(default)]
    pub hides_last_seen: bool,
    /// Privacy: who may add this person to groups.
    #[serde(default)]
    pub group_add: GroupAdd,
}

/// WhatsApp's privacy setting "Who can add me to groups". Those it does
/// not let add them get an invite to send instead (code 403).
#[derive(Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupAdd {
    #[default]
    Everyone,
    /// Only people in their address book.
    Contacts,
    /// Nobody ("My contacts except…" everyone).
    Nobody,
}

/// A contact's own presence: online, or when it was last (unix s).
#[derive(Clone, Copy, Default)]
pub struct Seen {
    pub online: bool,
    pub last: Option<i64>,
}

/// What the contacts of an account see of it: online, and per chat typing,
/// recording or paused.
#[derive(Clone, Default, Serialize)]
pub struct Shown {
    pub online: bool,
    pub chats: BTreeMap<String, String>,
}

fn phone_of(id: &str) -> String {
    id.trim_end_matches("@c.us").to_string()
}

impl World {
    pub fn is_blocked(&self, account: &str, contact: &str) -> bool {
        self.p
            .blocked
            .get(account)
            .is_some_and(|b| b.contains(contact))
    }

    pub fn set_profile(&mut self, phone: &str, p: Profile) {
        self.p.profiles.insert(phone.to_string(), p);
        self.dirty = true;
    }

    pub fn picture(&self, phone: &str) -> Option<&str> {
        self.p.profiles.get(phone)?.picture.as_deref()
    }

    /// A contact shows a presence to an account; delivered only if the
    /// account subscribed to it. Returns whether it was delivered.
    pub fn contact_presence(&mut self, from: &str, to: &str, state: &str) -> bool {
        // Online or not is the contact's, whoever it is shown to.
        let online = !matches!(state, "unavailable");
        let now = self.now_s();
        let seen = self.seen.entry(from.to_string()).or_default();
        if seen.online && !online {
            seen.last = Some(now);
        }
        seen.online = online;
        if !self.subscribed.get(to).is_some_and(|s| s.contains(from)) || self.is_blocked(to, from) {
            return false;
        }
        let push = self.presence_push(from, state);
        self.send_account(to, &push);
        true
    }

    /// A contact's presence as WhatsApp's server tells it: its state, and
    /// when it was last online, unless it hides that (`deny`).
    fn presence_push(&self, from: &str, state: &str) -> Value {
        let seen = self.seen.get(from).copied().unwrap_or_default();
        let hidden = self.p.profiles.get(from).is_some_and(|p| p.hides_last_seen);
        let last = match (seen.online, hidden) {
            (false, false) => seen.last,
            _ => None,
        };
        json!({"t": "presence", "id": from, "state": state, "online": seen.online, "ts": self.now_s(),
               "last": last, "deny": hidden && !seen.online})
    }

    pub fn shown(&self, account: &str) -> Shown {
        self.presence.get(account).cloned().unwrap_or_default()
    }

    /// What a linked device asks about people (`WPP.contact.*`,
    /// `WPP.blocklist.*`, presence marks).
    pub fn device_people_call(&mut self, me: &str, t: &str, v: &Value) -> Result<Value, String> {
        let id = phone_of(v["id"].as_str().unwrap_or(""));
        match t {
            "presence_chat" => {
                let chat = v["chat"].as_str().unwrap_or("").to_string();
                let state = v["state"].as_str().unwrap_or("paused").to_string();
                let shown = self.presence.entry(me.to_string()).or_default();
                shown.online = true;
                shown.chats.insert(chat, state);
                Ok(json!(null))
            }
            "presence_available" => {
                let shown = self.presence.entry(me.to_string()).or_default();
                shown.online = v["available"].as_bool().unwrap_or(true);
                if !shown.online {
                    shown.chats.clear();
                }
                Ok(json!(shown.online))
            }
            "presence_subscribe" => {
                let ids: Vec<String> = v["ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(phone_of)
                    .collect();
                self.subscribed
                    .entry(me.to_string())
                    .or_default()
                    .extend(ids.iter().cloned());
                // As WhatsApp's server: a subscription is answered with the
                // contact's presence where it is known.
                for id in &ids {
                    if let Some(seen) = self.seen.get(id).copied()
                        && !self.is_blocked(me, id)
                    {
                        let state = if seen.online {
                            "available"
                        } else {
                            "unavailable"
                        };
                        let push = self.presence_push(id, state);
                        self.send_account(me, &push);
                    }
                }
                Ok(json!(ids))
            }
            "profile" => {
                let p = self.p.profiles.get(&id).cloned().unwrap_or_default();
                // An account that is no longer a business shows no
                // business profile.
                let phone = phone_of(&id);
                let business = match self.p.accounts.contains_key(&phone)
                    && !self.p.business.contains(&phone)
                {
                    true => None,
                    false => p.business,
                };
                Ok(
                    json!({"about": p.about, "has_picture": p.picture.is_some(), "business": business}),
                )
            }
            // The account's own name, about and picture, as its contacts
            // see them (a picture null: removed).
            "my_profile" => Ok(self.my_profile(me)),
            "my_profile_set" => {
                // WhatsApp's limits, checked before anything changes.
                let name = v["name"].as_str();
                if name.is_some_and(|n| n.trim().is_empty() || n.chars().count() > 25) {
                    return Err("a name is 1 to 25 characters".into());
                }
                let about = v["about"].as_str();
                if about.is_some_and(|a| a.chars().count() > 139) {
                    return Err("an about is at most 139 characters".into());
                }
                if let Some(name) = name
                    && let Some(a) = self.p.accounts.get_mut(me)
                {
                    a.name = name.to_string();
                }
                let p = self.p.profiles.entry(me.to_string()).or_default();
                if let Some(about) = about {
                    p.about = Some(about.to_string());
                }
                match v.get("picture") {
                    Some(Value::Null) => p.picture = None,
                    Some(Value::String(b64)) => p.picture = Some(b64.clone()),
                    _ => {}
                }
                self.dirty = true;
                let mine = self.my_profile(me);
                self.send_account(me, &json!({"t": "my_profile", "profile": mine}));
                Ok(mine)
            }
            // A business account edits its business profile (WhatsApp
            // Business's limits); an empty text clears a field. Everyone
            // who looks the account up sees it.
            "my_business_set" => {
                if !self.p.business.contains(me) {
                    return Err("NOT_BUSINESS_PROFILE: Not a business profile".into());
                }
                let text = |k: &str, max: usize| -> Result<Option<String>, String> {
                    match &v[k] {
                        Value::Null => Ok(None),
                        Value::String(t) if t.chars().count() <= max => Ok(Some(t.clone())),
                        _ => Err(format!("{k} is text of at most {max} characters")),
                    }
                };
                let description = text("description", 512)?;
                let address = text("address", 256)?;
                let email = text("email", 128)?;
                if email
                    .as_deref()
                    .is_some_and(|e| !e.is_empty() && !e.contains('@'))
                {
                    return Err("email is no email address".into());
                }
                let website = match &v["website"] {
                    Value::Null => None,
                    Value::Array(sites)
                        if sites.len() <= 2
                            && sites.iter().all(|s| {
                                s.as_str().is_some_and(|u| {
                                    u.len() <= 256
                                        && (u.starts_with("http://") || u.starts_with("https://"))
                                })
                            }) =>
                    {
                        Some(sites.clone())
                    }
                    _ => return Err("website is at most 2 http(s) URLs".into()),
                };
                let p = self.p.profiles.entry(me.to_string()).or_default();
                let mut b = p
                    .business
                    .clone()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({"categories": []}));
                for (k, t) in [
                    ("description", description),
                    ("address", address),
                    ("email", email),
                ] {
                    if let Some(t) = t {
                        b[k] = if t.is_empty() { Value::Null } else { json!(t) };
                    }
                }
                if let Some(w) = website {
                    b["website"] = json!(w);
                }
                p.business = Some(b.clone());
                self.dirty = true;
                Ok(b)
            }
            "block" => {
                let block = v["block"].as_bool().unwrap_or(true);
                let list = self.p.blocked.entry(me.to_string()).or_default();
                if block {
                    list.insert(id.clone());
                } else {
                    list.remove(&id);
                }
                self.dirty = true;
                let all: Vec<String> = list.iter().cloned().collect();
                self.send_account(me, &json!({"t": "blocklist", "ids": all}));
                Ok(json!(block))
            }
            _ => Err(format!("unknown call {t}")),
        }
    }

    /// What the account shows of itself: its name, about, whether it has a
    /// picture, and a business account's business profile.
    pub fn my_profile(&self, me: &str) -> Value {
        let name = self.p.accounts.get(me).map(|a| a.name.clone());
        let p = self.p.profiles.get(me).cloned().unwrap_or_default();
        let mut mine = json!({"name": name, "about": p.about, "has_picture": p.picture.is_some()});
        // A business account's business profile too.
        if self.p.business.contains(me) {
            mine["business"] = p.business.unwrap_or_else(|| json!({"categories": []}));
        }
        mine
    }

    /// The account's blocklist, for its devices when they come online.
    pub fn blocklist(&self, account: &str) -> BTreeSet<String> {
        self.p.blocked.get(account).cloned().unwrap_or_default()
    }
}
