//! WhatsApp Channels (newsletters) in the simulated WhatsApp. A channel is
//! one-way: its owner posts, its followers receive. Anyone may make one,
//! find channels in the directory by name, follow and unfollow, and mute
//! one they follow; only the owner edits it, posts to it and deletes it.
//! Followers see neither each other nor the owner's number, only the
//! count. Which channels an account has (owned or followed, muted or not)
//! is its app state: every device of the account is told of each change.

use super::world::{SbMessage, World, random_hex};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[derive(Clone, Serialize, Deserialize)]
pub struct SbChannel {
    /// `120363…@newsletter`
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Its picture (base64 JPEG), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    /// What follows `https://whatsapp.com/channel/`.
    pub invite: String,
    /// The phone that made it.
    pub owner: String,
    pub created: i64,
    #[serde(default)]
    pub followers: BTreeSet<String>,
    /// Followers who muted it.
    #[serde(default)]
    pub muted: BTreeSet<String>,
    /// WhatsApp suspended it: it takes no posts.
    #[serde(default)]
    pub suspended: bool,
}

/// How an account stands to a channel, in WhatsApp's words.
fn role(c: &SbChannel, phone: &str) -> &'static str {
    if c.owner == phone {
        "owner"
    } else if c.followers.contains(phone) {
        "subscriber"
    } else {
        "guest"
    }
}

impl SbChannel {
    /// As `phone`'s devices see it.
    pub fn wire(&self, phone: &str) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "invite": self.invite, "created": self.created,
            "subscribers": self.followers.len(), "role": role(self, phone),
            "muted": self.muted.contains(phone), "picture": self.picture.is_some(),
        })
    }

    /// What the control API shows (the test's view): everything.
    pub fn control_view(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description,
            "invite": self.invite, "owner": self.owner, "created": self.created,
            "followers": self.followers, "muted": self.muted, "picture": self.picture,
            "suspended": self.suspended,
        })
    }
}

pub fn is_channel(id: &str) -> bool {
    id.ends_with("@newsletter")
}

impl World {
    /// The channels an account owns or follows, newest first.
    pub fn channels_of(&self, phone: &str) -> Vec<Value> {
        let mut mine: Vec<&SbChannel> = self
            .p
            .channels
            .values()
            .filter(|c| c.owner == phone || c.followers.contains(phone))
            .collect();
        mine.sort_by_key(|c| std::cmp::Reverse(c.created));
        mine.iter().map(|c| c.wire(phone)).collect()
    }

    /// Tells each of these accounts' devices which channels it has now.
    fn push_channels<'a>(&self, phones: impl IntoIterator<Item = &'a String>) {
        for p in phones {
            let push = json!({"t": "channels", "channels": self.channels_of(p)});
            self.send_account(p, &push);
        }
    }

    pub fn channel(&self, id: &str) -> Option<&SbChannel> {
        self.p.channels.get(id)
    }

    /// `phone` makes a channel.
    pub fn create_channel(
        &mut self,
        phone: &str,
        name: &str,
        description: &str,
        picture: Option<String>,
    ) -> Result<Value, String> {
        if name.trim().is_empty() {
            return Err("a channel needs a name".into());
        }
        let c = SbChannel {
            id: format!(
                "120363{:012}@newsletter",
                rand::random::<u64>() % 1_000_000_000_000
            ),
            name: name.trim().to_string(),
            description: description.to_string(),
            picture,
            invite: format!("0029Va{}", random_hex(18)),
            owner: phone.to_string(),
            created: self.now_s(),
            followers: BTreeSet::new(),
            muted: BTreeSet::new(),
            suspended: false,
        };
        let view = c.wire(phone);
        self.p.channels.insert(c.id.clone(), c);
        self.dirty = true;
        self.push_channels([&phone.to_string()]);
        Ok(view)
    }

    fn own_channel(&mut self, id: &str, phone: &str) -> Result<&mut SbChannel, String> {
        let c = self
            .p
            .channels
            .get_mut(id)
            .ok_or_else(|| format!("NOT_FOUND: no channel {id}"))?;
        if c.owner != phone {
            return Err(format!("NOT_ADMIN: only the owner may change channel {id}"));
        }
        Ok(c)
    }

    /// The owner renames it, describes it or changes its picture
    /// (`Some(None)` takes the picture away).
    pub fn edit_channel(
        &mut self,
        id: &str,
        phone: &str,
        name: Option<&str>,
        description: Option<&str>,
        picture: Option<Option<String>>,
    ) -> Result<Value, String> {
        if name.is_some_and(|n| n.trim().is_empty()) {
            return Err("a channel needs a name".into());
        }
        let c = self.own_channel(id, phone)?;
        if let Some(n) = name {
            c.name = n.trim().to_string();
        }
        if let Some(d) = description {
            c.description = d.to_string();
        }
        if let Some(p) = picture {
            c.picture = p;
        }
        let view = c.wire(phone);
        let told: Vec<String> = c
            .followers
            .iter()
            .cloned()
            .chain([c.owner.clone()])
            .collect();
        self.dirty = true;
        self.push_channels(&told);
        Ok(view)
    }

    /// The owner deletes it: it is gone for every follower too.
    pub fn destroy_channel(&mut self, id: &str, phone: &str) -> Result<(), String> {
        self.own_channel(id, phone)?;
        let c = self.p.channels.remove(id).expect("checked above");
        let told: Vec<String> = c.followers.into_iter().chain([c.owner]).collect();
        self.dirty = true;
        self.push_channels(&told);
        Ok(())
    }

    /// Follows (or unfollows) a channel; the owner does neither.
    pub fn follow_channel(&mut self, id: &str, phone: &str, on: bool) -> Result<Value, String> {
        let c = self
            .p
            .channels
            .get_mut(id)
            .ok_or_else(|| format!("NOT_FOUND: no channel {id}"))?;
        if c.owner == phone {
            return Err(format!(
                "OWNER: the owner of {id} neither follows nor unfollows it"
            ));
        }
        if on {
            c.followers.insert(phone.to_string());
        } else {
            c.followers.remove(phone);
            c.muted.remove(phone);
        }
        let view = c.wire(phone);
        self.dirty = true;
        self.push_channels([&phone.to_string()]);
        Ok(view)
    }

    /// A follower mutes or unmutes a channel (its notifications only: the
    /// posts still come).
    pub fn mute_channel(&mut self, id: &str, phone: &str, on: bool) -> Result<Value, String> {
        let c = self
            .p
            .channels
            .get_mut(id)
            .ok_or_else(|| format!("NOT_FOUND: no channel {id}"))?;
        if !c.followers.contains(phone) {
            return Err(format!("NOT_FOLLOWING: follow {id} to mute it"));
        }
        if on {
            c.muted.insert(phone.to_string());
        } else {
            c.muted.remove(phone);
        }
        let view = c.wire(phone);
        self.dirty = true;
        self.push_channels([&phone.to_string()]);
        Ok(view)
    }

    /// The directory: channels whose name or description holds `query`
    /// (every one for an empty query), by followers, most first; `after`
    /// is the cursor the page before ended with.
    pub fn search_channels(
        &self,
        phone: &str,
        query: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Value {
        let q = query.trim().to_lowercase();
        let mut found: Vec<&SbChannel> = self
            .p
            .channels
            .values()
            .filter(|c| {
                q.is_empty()
                    || c.name.to_lowercase().contains(&q)
                    || c.description.to_lowercase().contains(&q)
            })
            .collect();
        found.sort_by(|a, b| {
            b.followers
                .len()
                .cmp(&a.followers.len())
                .then(a.id.cmp(&b.id))
        });
        let start = after
            .and_then(|a| found.iter().position(|c| c.id == a))
            .map_or(0, |i| i + 1);
        let page: Vec<Value> = found
            .iter()
            .skip(start)
            .take(limit)
            .map(|c| c.wire(phone))
            .collect();
        let more = found.len() > start + page.len();
        let end = page.last().map(|c| c["id"].clone());
        json!({"channels": page, "more": more, "cursor": if more { end } else { None }})
    }

    /// A post reaches every follower, as a message in the channel's chat
    /// (no author: followers do not learn who runs it). The owner keeps
    /// `msg` itself.
    pub fn channel_fanout(&mut self, id: &str, phone: &str, msg: &SbMessage) -> Result<(), String> {
        let c = self
            .p
            .channels
            .get(id)
            .ok_or_else(|| format!("no channel {id}"))?;
        if c.owner != phone {
            return Err("only the channel's owner may post to it".into());
        }
        if c.suspended {
            return Err(format!("channel {id} is suspended"));
        }
        let followers: Vec<String> = c.followers.iter().cloned().collect();
        let now = self.now_s();
        let key = msg.id.rsplit('_').next().unwrap_or_default().to_string();
        for f in followers {
            let Some(acct) = self.p.accounts.get_mut(&f) else {
                continue;
            };
            let copy = SbMessage {
                id: format!("false_{id}_{key}"),
                from_me: false,
                peer: id.to_string(),
                peer_name: None,
                author: None,
                receipts: Default::default(),
                reply_to: None,
                quoted: None,
                ack: 1,
                timestamp: now,
                delivered: false,
                ..msg.clone()
            };
            let wire = json!({"t": "message", "msg": copy.wire()});
            acct.push(copy);
            self.send_account(&f, &wire);
        }
        self.dirty = true;
        Ok(())
    }

    /// The owner posts from the phone: its own devices get the post as
    /// theirs, the followers theirs.
    pub fn post_to_channel(&mut self, id: &str, text: &str) -> Result<String, String> {
        let owner = self
            .channel(id)
            .map(|c| c.owner.clone())
            .ok_or_else(|| format!("no channel {id}"))?;
        let msg = SbMessage {
            id: format!("true_{id}_3A{}", random_hex(18)),
            from_me: true,
            peer: id.to_string(),
            text: Some(text.to_string()),
            ack: 1,
            timestamp: self.now_s(),
            delivered: true,
            server_id: Some(rand::random::<u32>() % 1_000_000 + 100),
            ..Default::default()
        };
        self.channel_fanout(id, &owner, &msg)?;
        let posted = msg.id.clone();
        if let Some(acct) = self.p.accounts.get_mut(&owner) {
            let wire = json!({"t": "message", "msg": msg.wire()});
            acct.push(msg);
            self.send_account(&owner, &wire);
        }
        Ok(posted)
    }

    /// What a device asks of channels (`channel_*` frames).
    pub fn device_channel_call(&mut self, me: &str, t: &str, v: &Value) -> Result<Value, String> {
        let id = v["id"].as_str().unwrap_or("");
        let s = |k: &str| v[k].as_str();
        match t {
            "channel_create" => self.create_channel(
                me,
                s("name").unwrap_or(""),
                s("description").unwrap_or(""),
                s("picture").map(String::from),
            ),
            "channel_edit" => {
                let picture = match v.get("picture") {
                    None => None,
                    Some(Value::Null) => Some(None),
                    Some(p) => Some(p.as_str().map(String::from)),
                };
                self.edit_channel(id, me, s("name"), s("description"), picture)
            }
            "channel_destroy" => self.destroy_channel(id, me).map(|_| json!(true)),
            "channel_follow" => self.follow_channel(id, me, v["on"].as_bool().unwrap_or(true)),
            "channel_mute" => self.mute_channel(id, me, v["on"].as_bool().unwrap_or(true)),
            "channel_get" => self
                .channel(id)
                .map(|c| c.wire(me))
                .ok_or_else(|| format!("NOT_FOUND: no channel {id}")),
            "channel_search" => Ok(self.search_channels(
                me,
                s("query").unwrap_or(""),
                v["limit"].as_u64().unwrap_or(50).clamp(1, 100) as usize,
                s("after"),
            )),
            _ => Err(format!("unknown call {t}")),
        }
    }
}
