//! Messages as the API and webhooks show them (design.md §2), built from
//! what bridge.js reports, and the events they produce.

use super::event::{Event, EventKind};
use super::ids::{SessionId, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// WhatsApp lets an author edit a message for 15 minutes.
pub const EDIT_WINDOW_S: i64 = 15 * 60;

/// Message acknowledgement, wa-js numbering: -1 failed … 4 played.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ack {
    Failed,
    Pending,
    Sent,
    Delivered,
    Read,
    Played,
}

impl Ack {
    pub fn from_wa(n: i64) -> Ack {
        match n {
            i64::MIN..=-1 => Ack::Failed,
            0 => Ack::Pending,
            1 => Ack::Sent,
            2 => Ack::Delivered,
            3 => Ack::Read,
            _ => Ack::Played,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Ack::Failed => "failed",
            Ack::Pending => "pending",
            Ack::Sent => "sent",
            Ack::Delivered => "delivered",
            Ack::Read => "read",
            Ack::Played => "played",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sender {
    /// The phone number, when WhatsApp makes it knowable.
    pub phone: Option<String>,
    pub name: Option<String>,
    /// The privacy id (`…@lid`) the sender wrote under, if it did: stable
    /// per contact; reply to it (or to the phone, when known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lid: Option<String>,
    /// How this account saved the sender in its address book, when it did
    /// (`name` is the one they go by, their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<SavedAs>,
}

/// An address book's entry for a person: the name WhatsApp shows for them
/// and the short (first) name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SavedAs {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MediaInfo {
    pub mimetype: Option<String>,
    pub filename: Option<String>,
    pub size: Option<u64>,
    pub url: String,
    /// Hex SHA-256 of the bytes, once wabridge has kept them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Seconds of a voice note, audio or video, where WhatsApp gives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
}

/// A place: coordinates, and a name and address when it is a named place.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Location {
    pub lat: f64,
    pub lng: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Location {
    /// Checks the coordinates are on Earth.
    pub fn validate(&self) -> Result<(), String> {
        if !(-90.0..=90.0).contains(&self.lat) {
            return Err("lat must be between -90 and 90".into());
        }
        if !(-180.0..=180.0).contains(&self.lng) {
            return Err("lng must be between -180 and 180".into());
        }
        Ok(())
    }
}

/// A private invite to a group (WhatsApp's `groups_v4_invite`): the code
/// WhatsApp made for one person it would not add, good for them alone
/// until it expires; its comment is the message's `text`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct GroupInvite {
    pub group: String,
    pub code: String,
    /// unix s
    #[serde(default)]
    pub expires: Option<i64>,
    /// The group's subject, as the invite shows it.
    #[serde(default)]
    pub name: Option<String>,
}

/// A scheduled event (WhatsApp's event message): what, when, and where
/// or by which call.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ScheduledEvent {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// unix s
    pub start: i64,
    /// unix s; WhatsApp Web makes it two hours after the start when none
    /// is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<EventPlace>,
    /// `voice` or `video`: WhatsApp makes a call link for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    /// The call's link, as WhatsApp made it (received or sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_link: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub canceled: bool,
}

/// Where an event is: a name, and coordinates when it is a place on the map.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventPlace {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lng: Option<f64>,
}

/// This daemon's limit on an event's name and description (characters).
pub const MAX_EVENT_NAME: usize = 256;
pub const MAX_EVENT_DESCRIPTION: usize = 2048;

impl ScheduledEvent {
    /// What is checked before WhatsApp is asked: a name, a start, an end
    /// after it, a call WhatsApp knows, a place on Earth.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_EVENT_NAME {
            return Err((
                "event.name",
                format!("must be 1 to {MAX_EVENT_NAME} characters"),
            ));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_EVENT_DESCRIPTION)
        {
            return Err((
                "event.description",
                format!("must be at most {MAX_EVENT_DESCRIPTION} characters"),
            ));
        }
        // After 2001 and before 2100, in seconds (not milliseconds).
        if !(1_000_000_000..4_102_444_800).contains(&self.start) {
            return Err(("event.start", "must be a time in unix seconds".into()));
        }
        if self
            .end
            .is_some_and(|e| e <= self.start || e >= 4_102_444_800)
        {
            return Err((
                "event.end",
                "must be after the start, in unix seconds".into(),
            ));
        }
        if self
            .call
            .as_deref()
            .is_some_and(|c| c != "voice" && c != "video")
        {
            return Err(("event.call", "must be 'voice' or 'video'".into()));
        }
        if let Some(p) = &self.location {
            if p.name.trim().is_empty() {
                return Err(("event.location.name", "is required".into()));
            }
            if p.lat.is_some() != p.lng.is_some() {
                return Err((
                    "event.location",
                    "takes both 'lat' and 'lng', or neither".into(),
                ));
            }
            if p.lat.is_some_and(|l| !(-90.0..=90.0).contains(&l)) {
                return Err(("event.location.lat", "must be between -90 and 90".into()));
            }
            if p.lng.is_some_and(|l| !(-180.0..=180.0).contains(&l)) {
                return Err(("event.location.lng", "must be between -180 and 180".into()));
            }
        }
        Ok(())
    }
}

/// An earlier text of an edited message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Edit {
    pub text: Option<String>,
    /// unix s: when this text was replaced.
    pub replaced_at: i64,
}

/// What a reply carries of the message it quotes (its id is `reply_to`):
/// WhatsApp sends it with the reply, so it is known even when the quoted
/// message never reached this session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Quoted {
    /// Who wrote it (WhatsApp id), when WhatsApp says.
    pub from: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    /// Its text, or a media message's caption.
    pub text: Option<String>,
}

/// Someone's reaction to a message (one per person; the latest counts).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Reaction {
    /// The reacting user's WhatsApp id.
    pub sender: String,
    pub emoji: String,
    pub from_me: bool,
    /// unix s
    pub timestamp: i64,
}

/// How a text status (story) looks: its background (`#rrggbb`) and font
/// (WhatsApp's 0 to 5). Left out: black, and WhatsApp's first font.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusStyle {
    pub background: Option<String>,
    pub font: Option<u8>,
}

impl StatusStyle {
    /// The field at fault, and why.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if let Some(b) = &self.background {
            let hex = b.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(("background", "must be #rrggbb"));
            }
        }
        if self.font.is_some_and(|f| f > 5) {
            return Err(("font", "must be 0 to 5"));
        }
        Ok(())
    }
}

/// Whether `s` is one emoji, as WhatsApp takes reactions: a pictograph
/// with its modifiers (skin tone, presentation selector), a ZWJ sequence
/// of them (👩‍💻), a flag (two regional indicators, or 🏴 with tags) or
/// a keycap (1️⃣). Text such as "ok" would reach the contact as a blank.
pub fn is_one_emoji(s: &str) -> bool {
    const ZWJ: char = '\u{200D}';
    const KEYCAP: char = '\u{20E3}';
    let regional = |c: char| ('\u{1F1E6}'..='\u{1F1FF}').contains(&c);
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [a, b] if regional(*a) && regional(*b) => return true,
        [k, '\u{FE0F}', KEYCAP] | [k, KEYCAP] if k.is_ascii_digit() || *k == '#' || *k == '*' => {
            return true;
        }
        _ => {}
    }
    let modifier = |c: char| {
        matches!(c, '\u{FE0E}' | '\u{FE0F}')
            || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
            // Tags: subdivision flags (🏴 + tag letters + cancel tag).
            || ('\u{E0020}'..='\u{E007F}').contains(&c)
    };
    !chars.is_empty()
        && s.split(ZWJ).all(|part| {
            let mut cs = part.chars();
            cs.next()
                .is_some_and(|c| pictograph(c) && !regional(c) && !modifier(c))
                && cs.all(modifier)
        })
}

/// Unicode's Extended_Pictographic, closely enough for reactions.
fn pictograph(c: char) -> bool {
    matches!(c as u32,
        0xA9 | 0xAE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x2194..=0x2199
        | 0x21A9..=0x21AA | 0x231A..=0x231B | 0x2328 | 0x23CF | 0x23E9..=0x23F3
        | 0x23F8..=0x23FA | 0x24C2 | 0x25AA..=0x25AB | 0x25B6 | 0x25C0
        | 0x25FB..=0x25FE | 0x2600..=0x27BF | 0x2934..=0x2935 | 0x2B05..=0x2B07
        | 0x2B1B..=0x2B1C | 0x2B50 | 0x2B55 | 0x3030 | 0x303D | 0x3297 | 0x3299
        | 0x1F000..=0x1FAFF)
}

/// A poll: its question, options, how many one may pick (0: any), and
/// the latest vote of each voter.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Poll {
    pub name: String,
    pub options: Vec<String>,
    pub selectable: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub votes: Vec<Vote>,
}

impl Poll {
    /// WhatsApp's limits: a question, 2 to 12 distinct options.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.name.trim().is_empty() {
            return Err(("poll.name", "is required".into()));
        }
        if !(2..=12).contains(&self.options.len()) {
            return Err(("poll.options", "must have 2 to 12 options".into()));
        }
        let mut seen = std::collections::HashSet::new();
        if self
            .options
            .iter()
            .any(|o| o.trim().is_empty() || !seen.insert(o.trim()))
        {
            return Err(("poll.options", "must be distinct and not empty".into()));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Vote {
    pub voter: String,
    /// Option names; empty: the vote was taken back.
    pub selected: Vec<String>,
    pub timestamp: i64,
}

/// A change to a stored message, reported by WhatsApp after the message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Amendment {
    /// The author replaced its text (or a media message's caption).
    Edit { text: String, at: i64 },
    /// The author deleted it for everyone.
    Revoke { at: i64 },
    /// Someone reacted; an empty emoji takes their reaction back.
    React(Reaction),
    /// Someone voted in a poll (replacing their earlier vote).
    Vote(Vote),
}

/// How a menu was offered: reply buttons, or a list.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MenuKind {
    Button,
    List,
}

/// A numbered text menu sent to a chat (WhatsApp Web cannot send native
/// buttons): the options a reply may pick by number or title.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Menu {
    pub kind: MenuKind,
    /// (id, title), in the order shown (1, 2, ...).
    pub options: Vec<(String, String)>,
    /// Each option's description, where a list row has one (by place;
    /// none in menus stored before it was kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub descriptions: Vec<Option<String>>,
    /// The message that showed it.
    #[serde(default)]
    pub message_id: Option<String>,
    /// When it went (unix s): only what we send after it ends it.
    #[serde(default)]
    pub sent_at: i64,
}

impl Menu {
    /// The option a reply picks: its number, or its title (any case).
    pub fn pick(&self, reply: &str) -> Option<Choice> {
        let r = reply.trim().trim_end_matches('.');
        let at = match r.parse::<usize>() {
            Ok(n) if (1..=self.options.len()).contains(&n) => n - 1,
            _ => self
                .options
                .iter()
                .position(|(_, t)| t.eq_ignore_ascii_case(r))?,
        };
        let found = &self.options[at];
        Some(Choice {
            id: found.0.clone(),
            title: found.1.clone(),
            description: self.descriptions.get(at).cloned().flatten(),
            kind: self.kind,
            menu_message: self.message_id.clone(),
        })
    }
}

/// What a reply picked from a menu.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Choice {
    pub id: String,
    pub title: String,
    /// A list row's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub kind: MenuKind,
    /// The message that showed the menu.
    #[serde(default)]
    pub menu_message: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Message {
    pub id: String,
    pub session: SessionId,
    pub chat: String,
    /// A group's subject or a channel's name, as WhatsApp Web showed it
    /// when the message came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat_name: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub from_me: bool,
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub caption: Option<String>,
    /// unix seconds
    pub timestamp: i64,
    pub ack: Ack,
    pub sender: Sender,
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<Quoted>,
    pub media: Option<MediaInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The menu option this reply picked, if it answered a menu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
    /// `contact` messages: the cards, as vCard text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcards: Option<Vec<String>>,
    /// unix s of the last edit; `edits` keeps the earlier texts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<Edit>,
    /// Deleted for everyone by its author (the text stays here, as it was).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
    /// Starred through this daemon (WhatsApp keeps stars on the phone too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub starred: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reaction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<Poll>,
    /// A scheduled event (`type` `event`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<ScheduledEvent>,
    /// A private invite to a group (`type` `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_invite: Option<GroupInvite>,
    /// Who the text mentions (WhatsApp ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// Forwarded (by us or by whoever sent it to us).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forwarded: bool,
    /// How many times it was forwarded on its way (WhatsApp shows
    /// "forwarded many times" from 5).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub forwarding_score: u32,
    /// A photo, video or voice note to be opened once. A linked device
    /// never gets one's media: only the receiver's phone opens it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub view_once: bool,
    /// A video that plays as a GIF (looped, silent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gif: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// WhatsApp's "forwarded many times": a forwarding score of 5 or more.
pub const FREQUENTLY_FORWARDED: u32 = 5;

/// A message kind as WhatsApp's business API types it (Meta's Cloud API,
/// and Twilio after it): a voice note is audio, a contact card contacts;
/// None for a kind it has no type for.
pub fn business_type(kind: &str) -> Option<&str> {
    match kind {
        "text" | "image" | "video" | "audio" | "document" | "sticker" | "location" => Some(kind),
        "ptt" => Some("audio"),
        "contact" => Some("contacts"),
        _ => None,
    }
}

const TYPES: &[&str] = &[
    "text", "image", "video", "audio", "ptt", "document", "sticker", "location", "contact", "poll",
    "event", "other",
];

impl Message {
    /// From bridge.js's normalized message. None if it lacks an id or chat.
    pub fn from_bridge(session: &SessionId, v: &Value) -> Option<Message> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        let id = s("id").filter(|x| !x.is_empty())?;
        let chat = s("chat").filter(|x| !x.is_empty())?;
        let kind = s("type")
            .filter(|t| TYPES.contains(&t.as_str()))
            .unwrap_or_else(|| "other".into());
        let media = v.get("media").filter(|m| m.is_object()).map(|m| MediaInfo {
            mimetype: m.get("mimetype").and_then(Value::as_str).map(String::from),
            filename: m.get("filename").and_then(Value::as_str).map(String::from),
            size: m.get("size").and_then(Value::as_u64),
            url: format!("/api/sessions/{session}/messages/{}/media", urlencode(&id)),
            sha256: None,
            duration: m
                .get("duration")
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok()),
        });
        let location = v.get("location").and_then(|l| {
            let text = |k: &str| {
                l.get(k)
                    .and_then(Value::as_str)
                    .filter(|x| !x.is_empty())
                    .map(String::from)
            };
            Some(Location {
                lat: l.get("lat")?.as_f64()?,
                lng: l.get("lng")?.as_f64()?,
                name: text("name"),
                address: text("address"),
            })
        });
        let vcards = v.get("vcards").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect::<Vec<_>>()
        });
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        let forwarding_score = v
            .get("forwarded")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(u32::MAX as u64) as u32;
        Some(Message {
            session: session.clone(),
            chat_name: s("chat_name").filter(|n| {
                !n.is_empty() && (chat.ends_with("@g.us") || chat.ends_with("@newsletter"))
            }),
            chat,
            from: s("from"),
            to: s("to"),
            from_me: v.get("from_me").and_then(Value::as_bool).unwrap_or(false),
            kind,
            text: s("text"),
            caption: s("caption"),
            // A page's clock is not to be trusted: keep it between 1970
            // and 2100 so arithmetic on it cannot overflow.
            timestamp: v
                .get("timestamp")
                .and_then(Value::as_i64)
                .map_or(now_ms() / 1000, sane_time),
            ack: Ack::from_wa(v.get("ack").and_then(Value::as_i64).unwrap_or(0)),
            sender: Sender {
                phone: v["sender"]["phone"].as_str().map(String::from),
                name: v["sender"]["name"].as_str().map(String::from),
                lid: v["sender"]["lid"].as_str().map(String::from),
                saved: v["sender"]["saved"]["name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .map(|n| SavedAs {
                        name: n.to_string(),
                        short_name: v["sender"]["saved"]["short_name"]
                            .as_str()
                            .filter(|n| !n.is_empty())
                            .map(String::from),
                    }),
            },
            quoted: v
                .get("quoted")
                .filter(|_| v.get("reply_to").is_some_and(Value::is_string))
                .and_then(|q| {
                    let s = |k: &str| q.get(k).and_then(Value::as_str).map(String::from);
                    q.is_object().then(|| Quoted {
                        from: s("from").filter(|x| !x.is_empty()),
                        kind: s("type")
                            .filter(|t| TYPES.contains(&t.as_str()))
                            .unwrap_or_else(|| "other".into()),
                        text: s("text"),
                    })
                }),
            reply_to: s("reply_to"),
            media,
            location,
            choice: None,
            vcards: vcards.filter(|_| kind_is(v, "contact")),
            edited_at: v.get("edited_at").and_then(Value::as_i64).map(sane_time),
            edits: vec![],
            // Starred on the phone before the page reported it.
            starred: v.get("starred").and_then(Value::as_bool).unwrap_or(false),
            revoked: false,
            reactions: vec![],
            poll: v.get("poll").filter(|p| p.is_object()).map(|p| Poll {
                name: p["name"].as_str().unwrap_or("").to_string(),
                options: p["options"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                selectable: p["selectable"].as_u64().unwrap_or(1) as u32,
                votes: vec![],
            }),
            event: v
                .get("event")
                .filter(|_| kind_is(v, "event"))
                .and_then(|e| serde_json::from_value(e.clone()).ok()),
            group_invite: v
                .get("group_invite")
                .filter(|g| g.is_object())
                .and_then(|g| serde_json::from_value(g.clone()).ok()),
            mentions: v
                .get("mentions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
            forwarded: forwarding_score > 0,
            forwarding_score,
            view_once: flag("view_once") && v.get("media").is_some_and(Value::is_object),
            gif: kind_is(v, "video") && flag("gif"),
            id,
        })
    }

    /// This message as the page reported it, with what happened to it
    /// since `stored` (the same message, kept earlier from less: history):
    /// its ack as far as it rose, its edits, its deletion, its reactions,
    /// its votes and its star.
    pub fn with_changes_of(mut self, stored: Message) -> Message {
        self.ack = self.ack.max(stored.ack);
        if stored.edited_at.is_some() {
            self.text = stored.text;
            self.caption = stored.caption;
            self.edits = stored.edits;
            self.edited_at = stored.edited_at;
        }
        self.revoked |= stored.revoked;
        if !stored.reactions.is_empty() {
            self.reactions = stored.reactions;
        }
        if let (Some(poll), Some(kept)) = (self.poll.as_mut(), stored.poll)
            && !kept.votes.is_empty()
        {
            poll.votes = kept.votes;
        }
        self.starred |= stored.starred;
        self
    }

    /// Applies a later change. False when it changes nothing (a repeat).
    pub fn amend(&mut self, a: &Amendment) -> bool {
        match a {
            Amendment::Edit { text, at } => {
                let slot = if self.media.is_some() {
                    &mut self.caption
                } else {
                    &mut self.text
                };
                if slot.as_deref() == Some(text.as_str()) {
                    return false;
                }
                let old = slot.replace(text.clone());
                self.edits.push(Edit {
                    text: old,
                    replaced_at: *at,
                });
                self.edited_at = Some(*at);
                true
            }
            Amendment::Revoke { .. } => !std::mem::replace(&mut self.revoked, true),
            Amendment::React(r) => {
                let before = self.reactions.iter().position(|x| x.sender == r.sender);
                match (before, r.emoji.is_empty()) {
                    (Some(i), true) => {
                        self.reactions.remove(i);
                    }
                    (Some(i), false) if self.reactions[i].emoji == r.emoji => return false,
                    (Some(i), false) => self.reactions[i] = r.clone(),
                    (None, true) => return false,
                    (None, false) => self.reactions.push(r.clone()),
                }
                true
            }
            Amendment::Vote(v) => {
                let Some(poll) = self.poll.as_mut() else {
                    return false;
                };
                match poll.votes.iter().position(|x| x.voter == v.voter) {
                    Some(i) if poll.votes[i].selected == v.selected => return false,
                    Some(i) => poll.votes[i] = v.clone(),
                    None => poll.votes.push(v.clone()),
                }
                true
            }
        }
    }

    /// A short, fixed-size id for a message (16 bytes of a hash of session
    /// and id), for dialects whose ids have a set shape (Twilio's `SM…`).
    /// The store indexes messages by it.
    pub fn short_id(session: &SessionId, id: &str) -> [u8; 16] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(session.as_str().as_bytes());
        h.update([0]);
        h.update(id.as_bytes());
        let d = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        out
    }

    /// `message.any` always; `message` too when it came from someone else.
    pub fn events(&self) -> Vec<Event> {
        let payload = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut out = vec![];
        if !self.from_me {
            out.push(Event::stable(
                &self.session,
                EventKind::Message,
                &self.id,
                self.timestamp * 1000,
                payload.clone(),
            ));
        }
        out.push(Event::stable(
            &self.session,
            EventKind::MessageAny,
            &self.id,
            self.timestamp * 1000,
            payload,
        ));
        out
    }
}

/// `me`: the account's own id, when known (dialects that name both ends
/// of a message, like Twilio's status callbacks, need it). `message`: the
/// message acked, when stored, carried with this ack (open-wa's `onAck`
/// and WAHA's `message.ack` hand on the whole message).
/// Its id is the same whenever this ack of this message is seen (no time
/// in it): a replay carries the webhook id a receiver dedupes on.
pub fn ack_event(
    session: &SessionId,
    id: &str,
    chat: &str,
    me: Option<&str>,
    ack: Ack,
    message: Option<&Message>,
) -> Event {
    let mut payload = json!({"id": id, "chat": chat, "ack": ack, "me": me});
    if let Some(m) = message {
        let mut acked = serde_json::to_value(m).unwrap_or(Value::Null);
        acked["ack"] = json!(ack);
        payload["message"] = acked;
    }
    Event::stable(
        session,
        EventKind::MessageAck,
        &format!("{id}/{}", ack.as_str()),
        0,
        payload,
    )
}

/// `{id, chat, me, message?}`: `message` is the stored message as revoked, when
/// this account had it (open-wa's `onMessageDeleted` hands on a Message);
/// `me` this account's id, when known.
pub fn revoke_event(
    session: &SessionId,
    id: &str,
    chat: &str,
    message: Option<&Message>,
    me: Option<&str>,
) -> Event {
    let mut payload = json!({"id": id, "chat": chat, "me": me});
    if let Some(m) = message {
        payload["message"] = serde_json::to_value(m).unwrap_or(Value::Null);
    }
    // One delete per message: the same id however often it is seen.
    Event::stable(session, EventKind::MessageRevoked, id, 0, payload)
}

/// `{id, chat, text, edited_at, me}`: the message's new text; `me` this
/// account's id, when known.
pub fn edit_event(
    session: &SessionId,
    id: &str,
    chat: &str,
    text: &str,
    at: i64,
    me: Option<&str>,
) -> Event {
    Event::stable(
        session,
        EventKind::MessageEdited,
        &format!("{id}/edit/{at}/{}", short_hash(text)),
        at * 1000,
        json!({"id": id, "chat": chat, "text": text, "edited_at": at, "me": me}),
    )
}

/// The most reactions a reaction event's `target` carries.
pub const TARGET_REACTIONS: usize = 64;

/// `{id, message, chat, sender, emoji, from_me, timestamp}`: `message` is
/// the message reacted to; an empty `emoji` takes the reaction back.
/// `me`: the account's own id, when known. `before`: the message reacted
/// to as stored before this reaction, when this account has it: then
/// `previous_emoji` is the sender's reaction this one replaces (null for
/// none), and `target` the message with this reaction (open-wa's
/// onReaction hands on the message and all its reactions; past
/// [`TARGET_REACTIONS`], this one, ours and the newest).
pub fn reaction_event(
    session: &SessionId,
    id: &str,
    message: &str,
    chat: &str,
    me: Option<&str>,
    r: &Reaction,
    before: Option<&Message>,
) -> Event {
    let mut payload = json!({
        "id": id, "message": message, "chat": chat, "sender": r.sender,
        "emoji": r.emoji, "from_me": r.from_me, "timestamp": r.timestamp, "me": me,
    });
    if let Some(b) = before {
        payload["previous_emoji"] = json!(
            b.reactions
                .iter()
                .find(|x| x.sender == r.sender)
                .map(|x| x.emoji.as_str())
        );
        let mut after = b.clone();
        after.amend(&Amendment::React(r.clone()));
        // Each reaction to a message everyone reacts to would carry all the
        // others: this one, ours and the newest, up to a bound.
        if after.reactions.len() > TARGET_REACTIONS {
            after.reactions.sort_by_key(|x| {
                (
                    x.sender != r.sender && !x.from_me,
                    std::cmp::Reverse(x.timestamp),
                )
            });
            after.reactions.truncate(TARGET_REACTIONS);
        }
        payload["target"] = serde_json::to_value(after).unwrap_or(Value::Null);
    }
    Event::stable(
        session,
        EventKind::MessageReaction,
        &format!("{id}/{}", short_hash(&r.emoji)),
        r.timestamp * 1000,
        payload,
    )
}

/// People joined or left a group: `group.join` or `group.leave` by action.
/// `me`: this account's id, when known (open-wa tells "added to a group"
/// apart from someone else's joining).
pub fn group_participants_event(
    session: &SessionId,
    group: &str,
    action: &str,
    author: Option<&str>,
    participants: &[String],
    me: Option<&str>,
) -> Event {
    let kind = match action {
        "remove" | "leaver" | "leave" => EventKind::GroupLeave,
        // Made or unmade admin: no one came or went.
        "promote" | "demote" => EventKind::GroupUpdate,
        _ => EventKind::GroupJoin,
    };
    let now = now_ms();
    Event::stable(
        session,
        kind,
        &format!("{group}/{action}/{}/{}", participants.join(","), now / 1000),
        now,
        json!({"group": group, "action": action, "author": author, "participants": participants, "me": me}),
    )
}

/// A group setting WhatsApp keeps (wa-js's `GroupProperty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSetting {
    /// Only admins send messages.
    Announce,
    /// Only admins change the subject and description.
    Restrict,
}

impl GroupSetting {
    /// The name in events and in the native API.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupSetting::Announce => "announce",
            GroupSetting::Restrict => "restrict",
        }
    }
}

/// How long a message stays pinned in its chat. WhatsApp offers a day,
/// a week and a month; WhatsApp Web also knows three short ones
/// (`WAWebPinMsgConstants`), which wa-js passes on as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinDuration {
    FiveSeconds,
    FifteenSeconds,
    OneMinute,
    OneDay,
    SevenDays,
    ThirtyDays,
}

impl PinDuration {
    const ALL: [PinDuration; 6] = [
        PinDuration::FiveSeconds,
        PinDuration::FifteenSeconds,
        PinDuration::OneMinute,
        PinDuration::OneDay,
        PinDuration::SevenDays,
        PinDuration::ThirtyDays,
    ];

    /// WhatsApp's default (and wa-js's).
    pub const DEFAULT: PinDuration = PinDuration::SevenDays;

    pub fn secs(self) -> i64 {
        match self {
            PinDuration::FiveSeconds => 5,
            PinDuration::FifteenSeconds => 15,
            PinDuration::OneMinute => 60,
            PinDuration::OneDay => 86_400,
            PinDuration::SevenDays => 604_800,
            PinDuration::ThirtyDays => 2_592_000,
        }
    }

    /// Its name in WhatsApp Web's `PinExpiryDurationOption` (and open-wa's
    /// `MessagePinDuration`).
    pub fn name(self) -> &'static str {
        match self {
            PinDuration::FiveSeconds => "FiveSeconds",
            PinDuration::FifteenSeconds => "FifteenSeconds",
            PinDuration::OneMinute => "OneMinute",
            PinDuration::OneDay => "OneDay",
            PinDuration::SevenDays => "SevenDays",
            PinDuration::ThirtyDays => "ThirtyDays",
        }
    }

    /// Only the lengths WhatsApp knows: any other would be pinned for a
    /// week without a word (wa-js's fallback).
    pub fn from_secs(secs: i64) -> Option<PinDuration> {
        Self::ALL.into_iter().find(|d| d.secs() == secs)
    }

    pub fn from_name(name: &str) -> Option<PinDuration> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// For error messages: "5, 15, 60, 86400, 604800 or 2592000".
    pub fn choices() -> String {
        let all: Vec<String> = Self::ALL.iter().map(|d| d.secs().to_string()).collect();
        format!(
            "{} or {}",
            all[..all.len() - 1].join(", "),
            all[all.len() - 1]
        )
    }
}

/// What changed in a group's info: one `group.update` event.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupChange {
    Subject(String),
    /// Empty: the description was removed.
    Description(String),
    Setting(GroupSetting, bool),
    /// A new picture (true), or none any more (false).
    Picture(bool),
}

/// `{group, author, me}` and one of `subject`, `description`, `announce`,
/// `restrict`, `picture` (a new one: true; removed: false). `notice`: the notice's message id, which names this change
/// apart from another to the same value in the same second. `me`: this
/// account's id, when known (open-wa tells its own changes by it).
pub fn group_update_event(
    session: &SessionId,
    group: &str,
    notice: Option<&str>,
    change: &GroupChange,
    author: Option<&str>,
    at: i64,
    me: Option<&str>,
) -> Event {
    let mut payload = json!({"group": group, "author": author, "me": me});
    let about = match change {
        GroupChange::Subject(s) => {
            payload["subject"] = json!(s);
            format!("subject/{at}/{}", short_hash(s))
        }
        GroupChange::Description(d) => {
            payload["description"] = json!(d);
            format!("description/{at}/{}", short_hash(d))
        }
        GroupChange::Setting(s, on) => {
            payload[s.as_str()] = json!(on);
            format!("{}/{at}/{on}", s.as_str())
        }
        GroupChange::Picture(set) => {
            payload["picture"] = json!(set);
            format!("picture/{at}/{set}")
        }
    };
    // WhatsApp's notice in the group, where WhatsApp Web told it: the
    // event is that message's (open-wa's GenericGroupChangeEvent `id`).
    let about = match notice {
        Some(id) if !id.is_empty() => {
            payload["id"] = json!(id);
            format!("notice/{id}")
        }
        _ => about,
    };
    Event::stable(
        session,
        EventKind::GroupUpdate,
        &format!("{group}/{about}"),
        at * 1000,
        payload,
    )
}

/// `{chat, action, labels: [{id, name, color}]}`: a business account's
/// labels put on a chat (`add`) or taken off it (`remove`), here, on the
/// phone or on another device. WhatsApp Web's report of it carries nothing
/// that names this change apart from another: the event's id is its own.
pub fn chat_labels_event(
    session: &SessionId,
    chat: &str,
    action: &str,
    labels: &[Value],
    ids: &[String],
) -> Event {
    let labels: Vec<Value> = match labels.is_empty() {
        // The page knew only their ids.
        true => ids
            .iter()
            .map(|id| json!({"id": id, "name": null, "color": null}))
            .collect(),
        false => labels
            .iter()
            .map(|l| json!({"id": l["id"], "name": l["name"], "color": l["color"]}))
            .collect(),
    };
    Event::new(
        session,
        EventKind::ChatLabels,
        json!({"chat": chat, "action": action, "labels": labels}),
    )
}

/// `{id, group, requester, timestamp}`: someone asks to join a group we
/// run (`id`: WhatsApp's notice of it, when known); named by that notice,
/// else by who and when.
pub fn membership_request_event(
    session: &SessionId,
    notice: Option<&str>,
    group: &str,
    requester: &str,
    at: i64,
) -> Event {
    let about = match notice {
        Some(id) if !id.is_empty() => format!("notice/{id}"),
        _ => format!("{group}/request/{requester}/{at}"),
    };
    Event::stable(
        session,
        EventKind::GroupMembershipRequest,
        &about,
        at * 1000,
        json!({"id": notice, "group": group, "requester": requester, "timestamp": at}),
    )
}

/// `{message, chat, voter, selected, timestamp, poll?}`: a vote in a poll;
/// `poll` is the poll as it stands with this vote (open-wa hands on the
/// whole tally).
pub fn vote_event(
    session: &SessionId,
    message: &str,
    chat: &str,
    v: &Vote,
    poll: Option<&Poll>,
) -> Event {
    Event::stable(
        session,
        EventKind::MessagePollVote,
        &format!(
            "{message}/vote/{}/{}/{}",
            v.voter,
            v.timestamp,
            short_hash(&v.selected.join("\n"))
        ),
        v.timestamp * 1000,
        {
            let mut p = json!({"message": message, "chat": chat, "voter": v.voter, "selected": v.selected, "timestamp": v.timestamp});
            if let Some(poll) = poll {
                p["poll"] = serde_json::to_value(poll).unwrap_or(Value::Null);
            }
            p
        },
    )
}

/// A contact's presence as WhatsApp reported it: `{id, state, online,
/// timestamp, participants?}` (a group's members and their states).
pub fn presence_event(
    session: &SessionId,
    id: &str,
    state: Option<&str>,
    online: bool,
    at: i64,
    participants: Option<&[Value]>,
) -> Event {
    let mut payload = json!({"id": id, "state": state, "online": online, "timestamp": at});
    // A group's members and their states, read field by field.
    if let Some(ps) = participants {
        payload["participants"] = ps
            .iter()
            .filter_map(|p| Some(json!({"id": p["id"].as_str()?, "state": p["state"].as_str()})))
            .collect();
    }
    // Each a change of its own (one may type, pause and type again in a
    // second), never seen again by a catch-up: a fresh id.
    Event {
        timestamp: at.saturating_mul(1000),
        ..Event::new(session, EventKind::PresenceUpdate, payload)
    }
}

fn short_hash(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn kind_is(v: &Value, kind: &str) -> bool {
    v.get("type").and_then(Value::as_str) == Some(kind)
}

/// Percent-encodes a path segment (message ids contain '@').
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A time (unix s) a page or a client gave, kept between 1970 and 2100 so
/// that arithmetic on it (milliseconds, dates) cannot overflow.
pub fn sane_time(t: i64) -> i64 {
    t.clamp(0, 4_102_444_800)
}

/// A new id for a message this account sends, in WhatsApp Web's form
/// (`3EB0` and hex). Chosen before the send, so that a send whose outcome
/// was lost can be found by it, and sent again under it (WhatsApp takes a
/// message key once).
pub fn new_message_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut id = String::from("3EB0");
    for b in bytes {
        id.push_str(&format!("{b:02X}"));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::PinDuration;

    #[test]
    fn pin_durations_are_whatsapps_only() {
        assert_eq!(PinDuration::from_secs(86_400), Some(PinDuration::OneDay));
        assert_eq!(PinDuration::from_secs(3_600), None);
        assert_eq!(
            PinDuration::from_name("ThirtyDays").map(PinDuration::secs),
            Some(2_592_000)
        );
        assert_eq!(PinDuration::from_name("thirtydays"), None);
        assert_eq!(
            PinDuration::choices(),
            "5, 15, 60, 86400, 604800 or 2592000"
        );
    }

    #[test]
    fn one_emoji_as_whatsapp_takes_a_reaction() {
        for one in [
            "👍",
            "❤️",
            "👍🏽",
            "👩‍💻",
            "👩🏻‍❤️‍💋‍👨🏼",
            "👨‍👩‍👧‍👦",
            "🇧🇷",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
            "1️⃣",
            "#⃣",
            "©️",
            "☺",
        ] {
            assert!(super::is_one_emoji(one), "{one} is one emoji");
        }
        for not in [
            "",
            "ok",
            "a",
            "1",
            "👍👍",
            "👍 ",
            " 👍",
            "🇧",
            "🇧🇷🇧🇷",
            "\u{FE0F}",
            "🏽",
            "👍\u{200D}",
            "\u{200D}👍",
            "👍a",
            "🙂🙃",
        ] {
            assert!(!super::is_one_emoji(not), "{not:?} is not one emoji");
        }
    }
    use super::*;

    fn sid() -> SessionId {
        SessionId::parse("s1").unwrap()
    }

    #[test]
    fn a_group_change_is_named_by_its_notice() {
        let sid = SessionId::parse("shop").unwrap();
        let g = "120363000000000001@g.us";
        let on = GroupChange::Setting(GroupSetting::Announce, true);
        let id = |notice| group_update_event(&sid, g, notice, &on, None, 1704110400, None).id;
        // The same setting made twice in one second: two events, each
        // stable under a replay of its own notice.
        assert_ne!(id(Some("false_g_3GA")), id(Some("false_g_3GB")));
        assert_eq!(id(Some("false_g_3GA")), id(Some("false_g_3GA")));
        let ev = group_update_event(
            &sid,
            g,
            None,
            &on,
            Some("1@c.us"),
            1704110400,
            Some("2@c.us"),
        );
        assert_eq!(
            ev.payload,
            json!({"group": g, "author": "1@c.us", "announce": true, "me": "2@c.us"})
        );
    }

    #[test]
    fn from_bridge_message() {
        let v = json!({"id": "false_1555@c.us_ABC", "chat": "1555@c.us", "from": "1555@c.us", "to": "1444@c.us",
            "from_me": false, "type": "image", "text": null, "caption": "look", "timestamp": 1700000000, "ack": 1,
            "sender": {"phone": "1555", "name": "Alice"}, "reply_to": null, "media": {"mimetype": "image/png", "filename": null, "size": 8}});
        let m = Message::from_bridge(&sid(), &v).unwrap();
        assert_eq!(m.kind, "image");
        assert_eq!(m.ack, Ack::Sent);
        assert_eq!(
            m.media.as_ref().unwrap().url,
            "/api/sessions/s1/messages/false_1555%40c.us_ABC/media"
        );
        let evs = m.events();
        assert_eq!(
            evs.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
            ["message", "message.any"]
        );
        let mut own = m.clone();
        own.from_me = true;
        assert_eq!(own.events().len(), 1);
        assert!(Message::from_bridge(&sid(), &json!({"chat": "x"})).is_none());
    }

    /// A reaction to a message everyone reacted to carries it with this
    /// reaction, ours and the newest, up to the bound.
    #[test]
    fn a_reactions_target_is_bounded_and_keeps_this_one_and_ours() {
        let v = json!({"id": "true_1555@c.us_ABC", "chat": "1555@c.us", "from_me": true, "type": "chat",
            "text": "vote with an emoji", "timestamp": 1700000000, "ack": 2});
        let mut m = Message::from_bridge(&sid(), &v).unwrap();
        let r = |who: usize, ts: i64, from_me: bool| Reaction {
            sender: format!("{}@c.us", 15550000000u64 + who as u64),
            emoji: "👍".into(),
            from_me,
            timestamp: ts,
        };
        m.reactions.push(r(0, 1, true));
        for i in 1..100 {
            m.reactions.push(r(i, 100 + i as i64, false));
        }
        // An old reaction changed, as the hundred-and-first.
        let change = Reaction {
            emoji: "❤️".into(),
            ..r(5, 50, false)
        };
        let ev = reaction_event(&sid(), "r1", &m.id, &m.chat, None, &change, Some(&m));
        let kept = ev.payload["target"]["reactions"].as_array().unwrap();
        assert_eq!(kept.len(), TARGET_REACTIONS);
        let has = |who: &str, emoji: &str| {
            kept.iter()
                .any(|x| x["sender"] == who && x["emoji"] == emoji)
        };
        assert!(has("15550000005@c.us", "❤️"), "this one");
        assert!(has("15550000000@c.us", "👍"), "ours");
        assert!(
            has("15550000099@c.us", "👍") && !has("15550000001@c.us", "👍"),
            "the newest"
        );
        assert_eq!(ev.payload["previous_emoji"], "👍");
    }

    #[test]
    fn event_ids_are_stable_and_distinct() {
        let a = Event::stable(
            &sid(),
            EventKind::Message,
            "m1",
            1_700_000_000_000,
            Value::Null,
        );
        let b = Event::stable(
            &sid(),
            EventKind::Message,
            "m1",
            1_700_000_000_000,
            json!(1),
        );
        let c = Event::stable(
            &sid(),
            EventKind::MessageAny,
            "m1",
            1_700_000_000_000,
            Value::Null,
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert!(a.id.starts_with("evt_") && a.id.len() == 30);
        assert_ne!(
            ack_event(&sid(), "m1", "c", None, Ack::Sent, None).id,
            ack_event(&sid(), "m1", "c", None, Ack::Read, None).id
        );
        // Seen again later, the same ack or delete is the same event.
        let read = ack_event(&sid(), "m1", "c", None, Ack::Read, None).id;
        let deleted = revoke_event(&sid(), "m1", "c", None, None).id;
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert_eq!(ack_event(&sid(), "m1", "c", None, Ack::Read, None).id, read);
        assert_eq!(revoke_event(&sid(), "m1", "c", None, None).id, deleted);
    }

    #[test]
    fn acks() {
        assert_eq!(Ack::from_wa(-1), Ack::Failed);
        assert_eq!(Ack::from_wa(3), Ack::Read);
        assert!(Ack::Sent < Ack::Delivered && Ack::Delivered < Ack::Read);
        assert_eq!(
            serde_json::to_string(&Ack::Delivered).unwrap(),
            "\"delivered\""
        );
    }

    #[test]
    fn a_page_clock_far_off_is_clamped() {
        for (t, want) in [
            (i64::MAX, 4_102_444_800),
            (-5, 0),
            (1_700_000_000, 1_700_000_000),
        ] {
            let m = Message::from_bridge(
                &sid(),
                &json!({"id": "x", "chat": "1@c.us", "timestamp": t}),
            )
            .unwrap();
            assert_eq!(m.timestamp, want);
            m.events(); // ms arithmetic on it must not overflow
        }
    }

    #[test]
    fn menu_picks_by_number_or_title() {
        let menu = Menu {
            kind: MenuKind::List,
            options: vec![("s".into(), "Small".into()), ("l".into(), "Large".into())],
            descriptions: vec![],
            message_id: Some("m1".into()),
            sent_at: 0,
        };
        assert_eq!(menu.pick("2.").unwrap().id, "l");
        assert_eq!(
            menu.pick(" small ").unwrap().menu_message.as_deref(),
            Some("m1")
        );
        assert!(menu.pick("3").is_none() && menu.pick("medium").is_none());
    }
}
