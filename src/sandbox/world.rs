//! The sandbox's simulated WhatsApp: accounts, device links, every message
//! and its ack, the offline queue, and the live device connections.
//! Plain data behind one mutex; no IO here but the optional state file.

use base64::Engine as _;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// What survives a sandbox restart when `--state` is given.
#[derive(Default, Serialize, Deserialize)]
pub struct Persisted {
    pub accounts: BTreeMap<String, Account>,
    /// device token -> account phone
    pub links: BTreeMap<String, String>,
    pub unregistered: BTreeSet<String>,
    #[serde(default)]
    pub groups: BTreeMap<String, super::groups::Group>,
    /// Contacts' about, picture and business details, by phone.
    #[serde(default)]
    pub profiles: BTreeMap<String, super::people::Profile>,
    /// Each account's blocklist.
    #[serde(default)]
    pub blocked: BTreeMap<String, BTreeSet<String>>,
    /// Privacy ids (`…@lid`, the user part) of contacts who write as one.
    #[serde(default)]
    pub lids: BTreeMap<String, LidEntry>,
    /// Each account's archived, pinned and muted chats.
    #[serde(default)]
    pub chats: BTreeMap<String, BTreeMap<String, super::chats::ChatState>>,
    /// Business accounts (they have labels).
    #[serde(default)]
    pub business: BTreeSet<String>,
    /// Each business account's labels.
    #[serde(default)]
    pub labels: BTreeMap<String, Vec<super::labels::SbLabel>>,
    /// Each account's starred messages (ids).
    #[serde(default)]
    pub starred: BTreeMap<String, BTreeSet<String>>,
    /// Each account's address book, by the contact's phone.
    #[serde(default)]
    pub address_books: BTreeMap<String, BTreeMap<String, super::contacts::Saved>>,
    /// Each account's pinned messages, by chat (`super::pins`).
    #[serde(default)]
    pub pins: BTreeMap<String, BTreeMap<String, Vec<super::pins::SbPin>>>,
    /// Each business account's customer notes, by chat (`super::notes`).
    #[serde(default)]
    pub notes: BTreeMap<String, BTreeMap<String, super::notes::SbNote>>,
    /// WhatsApp Channels, by id (`super::channels`).
    #[serde(default)]
    pub channels: BTreeMap<String, super::channels::SbChannel>,
}

/// A privacy id's owner, and whether WhatsApp lets others learn the phone.
#[derive(Clone, Serialize, Deserialize)]
pub struct LidEntry {
    pub phone: String,
    pub shared: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Account {
    pub phone: String,
    pub name: String,
    /// Added with `push`, which keeps the indexes below.
    pub messages: Vec<SbMessage>,
    /// The server's indexes over `messages`, as WhatsApp's would be: every
    /// send looks for a retransmission of its id and marks its chat read
    /// first (wa-js does), and without them both walked the whole history,
    /// so the sandbox's cost per send grew with what it had stored. Both may
    /// hold more than is left (a removed message leaves its entry), which
    /// costs a look, never a wrong answer.
    #[serde(skip)]
    own_ids: HashSet<String>,
    /// Chats with messages from others that may not be read yet.
    #[serde(skip)]
    unread_in: HashSet<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Media {
    pub mimetype: String,
    pub filename: Option<String>,
    /// base64
    pub data: String,
    /// Seconds of a voice note, audio or video, as the sending phone
    /// gives them (WhatsApp's `seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SbLocation {
    pub lat: f64,
    pub lng: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A poll: its question, options, and how many one may pick.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SbPoll {
    pub name: String,
    pub options: Vec<String>,
    #[serde(default = "one")]
    pub selectable: u32,
}

/// A private invite to a group (WhatsApp's `groups_v4_invite`): what an
/// admin sends someone WhatsApp would not add (their privacy settings),
/// its code good for them alone, until it expires.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SbInvite {
    pub group: String,
    pub code: String,
    /// unix s
    pub expires: i64,
    #[serde(default)]
    pub name: Option<String>,
}

/// A scheduled event, as WhatsApp's event message carries it.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SbEvent {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// unix s
    pub start: i64,
    pub end: i64,
    /// As wa-js gives it: `{degreesLatitude, degreesLongitude, name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_link: Option<String>,
    #[serde(default)]
    pub canceled: bool,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Serialize, Deserialize, Default)]
pub struct SbMessage {
    /// Serialized id as the account's device sees it: `false_<peer>@c.us_<key>`.
    pub id: String,
    pub from_me: bool,
    /// The contact's phone.
    pub peer: String,
    pub peer_name: Option<String>,
    pub text: Option<String>,
    pub caption: Option<String>,
    pub media: Option<Media>,
    pub reply_to: Option<String>,
    pub ack: i8,
    pub timestamp: i64,
    /// Inbound only: a device of the account confirmed receipt.
    pub delivered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SbLocation>,
    /// Contact cards (vCard text), one or more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vcards: Vec<String>,
    /// Audio recorded as a voice note (plays as one).
    #[serde(default)]
    pub ptt: bool,
    /// Media sent as a document, whatever its type (a photo as a file).
    #[serde(default)]
    pub document: bool,
    /// Opened once, on the receiver's phone.
    #[serde(default)]
    pub view_once: bool,
    /// A video that plays as a GIF.
    #[serde(default)]
    pub gif: bool,
    /// Earlier texts, oldest first, when the author edited it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edits: Vec<String>,
    /// Deleted for everyone by its author.
    #[serde(default)]
    pub revoked: bool,
    /// Who reacted (phone) and with what.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reactions: BTreeMap<String, String>,
    /// Each reaction's own id and time (unix s), by who reacted: what a
    /// device keeps of it, and finds again after a restart.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reaction_keys: BTreeMap<String, (String, i64)>,
    /// In a group: who wrote it (phone). `peer` is then the group's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Phones mentioned (`@155…` in the text).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<SbPoll>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<SbEvent>,
    /// A private invite to a group; `text` is its comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<SbInvite>,
    /// A channel's post: its number in the channel (WhatsApp's server id),
    /// once WhatsApp took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_id: Option<u32>,
    /// A reply carries what it quotes, as WhatsApp's does (the quoted
    /// message's content travels with the reply; the receiver may never
    /// have seen the original).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted: Option<SbQuote>,
    /// A poll's votes: voter phone → chosen option indexes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub votes: BTreeMap<String, Vec<usize>>,
    /// When each voter last voted (unix s).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub voted_at: BTreeMap<String, i64>,
    /// Forwarded: how many times (WhatsApp's forwarding score; 0: not
    /// forwarded, 5 or more: "forwarded many times").
    #[serde(default)]
    pub forwarded: u32,
    /// A group message: the key every member's copy shares (WhatsApp's
    /// message key; here each copy has an id of its own, this ties them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_key: Option<String>,
    /// A status (story) of the account's, to `status@broadcast`: how a
    /// text one looks (`{background, font}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// The account's own message: each recipient's receipt, by phone
    /// (`super::receipts`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub receipts: BTreeMap<String, super::receipts::SbReceipt>,
}

/// What stands for a media message's thumbnail (a JPEG's base64 start).
pub const THUMBNAIL: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U";

/// The part of a quoted message a reply carries.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct SbQuote {
    /// WhatsApp's type of the quoted message (`chat`, `image`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    pub body: Option<String>,
    pub caption: Option<String>,
    /// Who wrote it, as a WhatsApp id (`<phone>@c.us` or `<n>@lid`).
    pub participant: String,
}

impl Account {
    pub fn new(phone: &str, name: String) -> Account {
        Account {
            phone: phone.to_string(),
            name,
            messages: Vec::new(),
            own_ids: HashSet::new(),
            unread_in: HashSet::new(),
        }
    }

    pub fn push(&mut self, m: SbMessage) {
        if m.from_me {
            self.own_ids.insert(m.id.clone());
        } else if m.ack < 3 {
            self.unread_in.insert(m.peer.clone());
        }
        self.messages.push(m);
    }

    /// Builds the indexes of an account read from the state file.
    fn reindex(&mut self) {
        let all = std::mem::take(&mut self.messages);
        for m in all {
            self.push(m);
        }
    }

    /// This account's own message `id`, sent before.
    fn own(&self, id: &str) -> Option<&SbMessage> {
        if !self.own_ids.contains(id) {
            return None;
        }
        self.messages.iter().rev().find(|m| m.from_me && m.id == id)
    }

    /// What a reply to `id` quotes, from this account's copy of it.
    pub fn quote(&self, id: &str) -> Option<SbQuote> {
        let m = self.messages.iter().rev().find(|m| m.id == id)?;
        let author = match (&m.author, m.from_me) {
            (_, true) => self.phone.clone(),
            (Some(a), false) => a.clone(),
            (None, false) => m.peer.clone(),
        };
        Some(SbQuote {
            kind: m.kind().to_string(),
            // WhatsApp Web's body of a media message is its thumbnail.
            body: match m.media {
                Some(_) => Some(THUMBNAIL.to_string()),
                None => m.text.clone(),
            },
            caption: m.caption.clone(),
            participant: match author.contains('@') {
                true => author,
                false => format!("{author}@c.us"),
            },
        })
    }
}

impl SbMessage {
    /// The shape pushed to the page.
    pub fn wire(&self) -> Value {
        json!({
            "id": self.id, "from_me": self.from_me, "peer": self.peer,
            "peer_name": self.peer_name, "text": self.text, "caption": self.caption,
            "media": self.media.as_ref().map(|m| json!({
                "mimetype": m.mimetype, "filename": m.filename, "data": m.data,
                "size": base64::engine::general_purpose::STANDARD.decode(&m.data).map(|b| b.len()).unwrap_or(0),
                "duration": m.duration,
            })),
            "reply_to": self.reply_to, "ack": self.ack, "t": self.timestamp,
            "location": self.location, "vcards": self.vcards, "ptt": self.ptt,
            "document": self.document, "view_once": self.view_once, "gif": self.gif, "revoked": self.revoked, "edited": !self.edits.is_empty(),
            "author": self.author, "mentions": self.mentions, "poll": self.poll,
            "event": self.event, "invite": self.invite, "server_id": self.server_id, "quoted": self.quoted, "forwarded": self.forwarded,
            // What a device holds of the reactions and votes it received.
            "reactions": self.reactions.iter().map(|(who, emoji)| {
                let (id, ts) = self.reaction_keys.get(who).cloned().unwrap_or_default();
                json!({"id": id, "sender": who, "text": emoji, "ts": ts})
            }).collect::<Vec<_>>(),
            "votes": self.votes.iter().map(|(who, picked)| {
                json!({"sender": who, "selected": picked, "ts": self.voted_at.get(who).copied().unwrap_or(0)})
            }).collect::<Vec<_>>(),
        })
    }

    /// What kind of message it is, in WhatsApp's words.
    pub fn kind(&self) -> &'static str {
        if self.revoked {
            "revoked"
        } else if self.poll.is_some() {
            "poll_creation"
        } else if self.event.is_some() {
            "event_creation"
        } else if self.invite.is_some() {
            "groups_v4_invite"
        } else if self.location.is_some() {
            "location"
        } else if !self.vcards.is_empty() {
            if self.vcards.len() > 1 {
                "multi_vcard"
            } else {
                "vcard"
            }
        } else if let Some(m) = &self.media {
            let top = m.mimetype.split('/').next().unwrap_or("");
            match top {
                _ if self.document => "document",
                _ if m.mimetype == "image/webp" => "sticker",
                "image" => "image",
                "video" => "video",
                "audio" if self.ptt => "ptt",
                "audio" => "audio",
                _ => "document",
            }
        } else {
            "chat"
        }
    }

    /// The shape of `GET /_sandbox/messages`.
    pub fn control_view(&self) -> Value {
        json!({
            "id": self.id, "to": self.peer, "from_me": self.from_me, "type": self.kind(),
            "text": self.text, "caption": self.caption,
            "media": self.media.as_ref().map(|m| json!({
                "mimetype": m.mimetype, "filename": m.filename, "data": m.data,
                "size": base64::engine::general_purpose::STANDARD.decode(&m.data).map(|b| b.len()).unwrap_or(0),
            })),
            "reply_to": self.reply_to,
            "ack": ack_name(self.ack), "timestamp": self.timestamp,
            "location": self.location, "vcards": self.vcards,
            "edits": self.edits, "revoked": self.revoked, "reactions": self.reactions,
            "author": self.author, "mentions": self.mentions, "poll": self.poll, "votes": self.votes,
            "event": self.event, "invite": self.invite,
            "forwarded": self.forwarded, "status": self.status,
            "view_once": self.view_once, "gif": self.gif,
            // Inbound: whether a device of the account confirmed it.
            "delivered": self.delivered,
        })
    }
}

/// Who changes a message: the account's own device, or the contact's phone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Account,
    Contact,
}

/// A sentence for a failed change, as WhatsApp Web would throw it.
pub fn change_error(e: &ChangeError, id: &str) -> String {
    match e {
        ChangeError::NotFound => format!("message {id} not found"),
        ChangeError::NotAuthor => "only the author of a message can edit or delete it".into(),
        ChangeError::Revoked => "the message was deleted".into(),
        ChangeError::TooLate => "the time WhatsApp allows for this has passed".into(),
        ChangeError::NotInChat => {
            "only someone in the chat can do that; in a group, `from` names which member".into()
        }
        ChangeError::NotEditable => {
            "only text and the captions of photos, videos and documents can be edited".into()
        }
        ChangeError::NotPinnable => "only a sent message in a chat can be pinned".into(),
        ChangeError::AdminsOnly => "only the group's admins can do that in this group".into(),
    }
}

/// What a reaction, edit or delete may fail with.
#[derive(Debug)]
pub enum ChangeError {
    NotFound,
    NotAuthor,
    Revoked,
    /// Past WhatsApp's window: 15 minutes to edit, 60 hours to delete.
    TooLate,
    NotEditable,
    /// The contact named is not in the message's chat (or, in a group,
    /// none was named).
    NotInChat,
    /// Not a message one can pin: not yet sent, or a status.
    NotPinnable,
    /// In a group whose settings only admins change: only admins may.
    AdminsOnly,
}

/// The strings of a JSON list field (what is not a string is left out).
pub fn strings(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

/// A chat's id as devices name it, from a message's `peer` (a contact's
/// phone, or a group's or the status chat's id).
pub fn chat_id(peer: &str) -> String {
    match peer.contains('@') {
        true => peer.to_string(),
        false => format!("{peer}@c.us"),
    }
}

pub fn ack_name(ack: i8) -> &'static str {
    crate::domain::Ack::from_wa(ack as i64).as_str()
}

pub enum Link {
    /// Waiting for `hello`.
    Greeting,
    Unlinked {
        keys: String,
        /// Empty once WhatsApp stopped offering codes (idle).
        qr: String,
        /// Codes shown since the page last asked for them.
        shown: u32,
    },
    Linked {
        phone: String,
    },
}

pub struct Conn {
    pub tx: UnboundedSender<String>,
    pub link: Link,
}

pub struct World {
    pub p: Persisted,
    pub conns: HashMap<u64, Conn>,
    /// QR strings that were shown and rotated away, for 410 on link.
    pub expired_qrs: HashMap<String, Instant>,
    /// Pairing codes by code.
    pub pair_codes: HashMap<String, PairCode>,
    /// What each account shows its contacts (online, typing...).
    pub presence: HashMap<String, super::people::Shown>,
    /// Whose presence each account subscribed to.
    pub subscribed: HashMap<String, BTreeSet<String>>,
    /// Each contact's own presence as WhatsApp's server knows it: online,
    /// or when last seen (unix s); told to whoever subscribes to it.
    pub seen: HashMap<String, super::people::Seen>,
    next_conn: u64,
    pub dirty: bool,
    /// Sends are taken but their answers never reach the device, as when a
    /// connection dies right after a send (`POST /_sandbox/lose-replies`).
    pub lose_replies: bool,
    /// Devices cannot open their connection (the page loads, WhatsApp's
    /// socket is out of reach), as behind a firewall or with the page from
    /// its cache on a network that is down (`POST /_sandbox/refuse-sockets`).
    pub refuse_sockets: bool,
    /// Sends never reach the server, as on a connection that is dead but
    /// not yet known to be (`POST /_sandbox/lose-sends`).
    pub lose_sends: bool,
    /// A privacy id's phone is looked up slowly (1 s), as over a slow
    /// network (`POST /_sandbox/slow-lookups`).
    pub slow_lookups: bool,
    /// How long WhatsApp takes to sync a device that links or comes back
    /// before it is online (`POST /_sandbox/slow-sync`): 0 normally, a
    /// few seconds on a real account.
    pub sync_delay: std::time::Duration,
    /// Devices authenticated and still syncing: (online at, conn, phone).
    pub syncing: Vec<(std::time::Instant, u64, String)>,
    /// The WhatsApp Web build pages get: `{"version", "missing": [wa-js
    /// members this build lacks]}` (`POST /_sandbox/build`); `{}` is the
    /// normal one.
    pub build: Value,
    /// Seconds the sandbox's clock runs ahead of (or, negative, behind)
    /// the real one (`POST /_sandbox/clock`): a message sent meanwhile is
    /// as old as a test needs, against WhatsApp's windows for edits and
    /// deletes.
    pub clock_offset_s: i64,
    /// Calls by id, ringing or ended (`super::calls`).
    pub calls: HashMap<String, super::calls::SbCall>,
}

pub enum LinkError {
    NotShown,
    Expired,
    /// A pairing code entered on a phone other than the one it was asked for.
    WrongPhone,
}

/// A pairing code a device asked for: which device, for which phone.
pub struct PairCode {
    pub conn: u64,
    pub phone: String,
    pub at: Instant,
}

/// How long a pairing code can be entered (WhatsApp's are short-lived).
pub const PAIR_CODE_TTL: Duration = Duration::from_secs(180);
/// WhatsApp's pairing codes: 8 characters, no look-alikes (0/O, 1/I).
const PAIR_ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";

fn b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(&mut bytes[..]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| {
            char::from_digit(rng.random_range(0..16), 16)
                .unwrap()
                .to_ascii_uppercase()
        })
        .collect()
}

impl World {
    /// The server's time, in seconds.
    pub fn now_s(&self) -> i64 {
        self.now_ms() / 1000
    }

    /// The server's clock to the millisecond: a device that learnt only
    /// the second could stamp its own messages a second off the server's.
    pub fn now_ms(&self) -> i64 {
        crate::domain::now_ms() + self.clock_offset_s * 1000
    }

    pub fn new(mut p: Persisted) -> Self {
        for a in p.accounts.values_mut() {
            a.reindex();
        }
        World {
            p,
            conns: HashMap::new(),
            expired_qrs: HashMap::new(),
            pair_codes: HashMap::new(),
            presence: HashMap::new(),
            subscribed: HashMap::new(),
            seen: HashMap::new(),
            next_conn: 1,
            dirty: false,
            lose_replies: false,
            refuse_sockets: false,
            slow_lookups: false,
            sync_delay: std::time::Duration::ZERO,
            syncing: Vec::new(),
            lose_sends: false,
            build: json!({}),
            clock_offset_s: 0,
            calls: HashMap::new(),
        }
    }

    pub fn add_conn(&mut self, tx: UnboundedSender<String>) -> u64 {
        let id = self.next_conn;
        self.next_conn += 1;
        self.conns.insert(
            id,
            Conn {
                tx,
                link: Link::Greeting,
            },
        );
        id
    }

    pub fn remove_conn(&mut self, id: u64) {
        self.pair_codes.retain(|_, p| p.conn != id);
        if let Some(Conn {
            link: Link::Unlinked { qr, .. },
            ..
        }) = self.conns.remove(&id)
        {
            self.expired_qrs.insert(qr, Instant::now());
        }
    }

    fn send(&self, conn: u64, msg: Value) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.tx.send(msg.to_string());
        }
    }

    pub(super) fn send_account(&self, phone: &str, msg: &Value) {
        let text = msg.to_string();
        for c in self.conns.values() {
            if matches!(&c.link, Link::Linked { phone: p } if p == phone) {
                let _ = c.tx.send(text.clone());
            }
        }
    }

    /// To every open page; how many there were.
    pub(super) fn send_all(&self, msg: &Value) -> usize {
        let text = msg.to_string();
        for c in self.conns.values() {
            let _ = c.tx.send(text.clone());
        }
        self.conns.len()
    }

    pub fn account_online(&self, phone: &str) -> bool {
        self.conns
            .values()
            .any(|c| matches!(&c.link, Link::Linked { phone: p } if p == phone))
    }

    /// `hello` from a page: resume a link if its token is valid, else show a QR.
    pub fn hello(&mut self, conn: u64, token: Option<&str>) {
        match token {
            Some(t) => match self.p.links.get(t).cloned() {
                Some(phone) => self.go_linked(conn, phone),
                None => {
                    // Unlinked while the device was away: the page logs out.
                    self.send(conn, json!({"t": "logout"}));
                    self.show_qr(conn, true);
                }
            },
            None => self.show_qr(conn, true),
        }
    }

    /// Show (or rotate) the QR of an unlinked device. Like WhatsApp, the keys
    /// stay for the connection's life and only the ref rotates.
    pub fn show_qr(&mut self, conn: u64, fresh_keys: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let (keys, shown) = match (&c.link, fresh_keys) {
            (Link::Unlinked { keys, shown, .. }, false) => (keys.clone(), *shown),
            _ => (format!("{},{},{}", b64(32), b64(32), b64(32)), 0),
        };
        if let Link::Unlinked { qr, .. } = &c.link {
            self.expired_qrs.insert(qr.clone(), Instant::now());
        }
        let qr = format!("2@{},{keys}", b64(48));
        c.link = Link::Unlinked {
            keys,
            qr: qr.clone(),
            shown: shown + 1,
        };
        let png = crate::qr::png_data_url(&qr).unwrap_or_default();
        self.send(conn, json!({"t": "qr", "code": qr, "png": png}));
        let cutoff = Instant::now() - Duration::from_secs(3600);
        self.expired_qrs.retain(|_, at| *at > cutoff);
    }

    /// The next QR of an unlinked device, as WhatsApp offers them: after
    /// `codes` unscanned, no more (the page shows "Click to reload the QR
    /// code", UNPAIRED_IDLE) until the page asks again (`refresh`).
    pub fn rotate_qr(&mut self, conn: u64, codes: u32, refresh: bool) {
        let Some(Conn {
            link: Link::Unlinked { qr, shown, .. },
            ..
        }) = self.conns.get_mut(&conn)
        else {
            return;
        };
        if refresh {
            *shown = 0;
        } else if *shown >= codes {
            if !qr.is_empty() {
                let last = std::mem::take(qr);
                self.expired_qrs.insert(last, Instant::now());
                self.send(conn, json!({"t": "qr_idle"}));
            }
            return;
        }
        self.show_qr(conn, false);
    }

    pub fn is_unlinked(&self, conn: u64) -> bool {
        matches!(
            self.conns.get(&conn),
            Some(Conn {
                link: Link::Unlinked { .. },
                ..
            })
        )
    }

    /// An unlinked device asks for a code to link `phone` by (instead of a QR).
    pub fn pair_code(&mut self, conn: u64, phone: &str) -> Result<String, String> {
        if !self.is_unlinked(conn) {
            return Err("the device is already linked".into());
        }
        self.pair_codes
            .retain(|_, p| p.conn != conn && p.at.elapsed() < PAIR_CODE_TTL);
        let mut rng = rand::rng();
        let code: String = (0..8)
            .map(|_| PAIR_ALPHABET[rng.random_range(0..PAIR_ALPHABET.len())] as char)
            .collect();
        self.pair_codes.insert(
            code.clone(),
            PairCode {
                conn,
                phone: phone.to_string(),
                at: Instant::now(),
            },
        );
        Ok(code)
    }

    /// The phone entered a pairing code: link the device that asked for it.
    pub fn link_code(
        &mut self,
        code: &str,
        phone: &str,
        name: Option<&str>,
    ) -> Result<(), LinkError> {
        let code: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_uppercase();
        let p = self.pair_codes.get(&code).ok_or(LinkError::NotShown)?;
        if p.at.elapsed() > PAIR_CODE_TTL {
            self.pair_codes.remove(&code);
            return Err(LinkError::Expired);
        }
        if p.phone != phone {
            return Err(LinkError::WrongPhone);
        }
        let conn = p.conn;
        self.pair_codes.retain(|_, p| p.conn != conn);
        if !self.is_unlinked(conn) {
            return Err(LinkError::NotShown);
        }
        self.link_conn(conn, phone, name);
        Ok(())
    }

    /// The phone scanned `qr`: link the device showing it to `phone`.
    pub fn link(&mut self, qr: &str, phone: &str, name: Option<&str>) -> Result<(), LinkError> {
        let conn = self
            .conns
            .iter()
            .find(|(_, c)| matches!(&c.link, Link::Unlinked { qr: q, .. } if q == qr && !q.is_empty()))
            .map(|(id, _)| *id);
        let Some(conn) = conn else {
            return Err(if self.expired_qrs.contains_key(qr) {
                LinkError::Expired
            } else {
                LinkError::NotShown
            });
        };
        self.pair_codes.retain(|_, p| p.conn != conn);
        self.link_conn(conn, phone, name);
        Ok(())
    }

    fn link_conn(&mut self, conn: u64, phone: &str, name: Option<&str>) {
        let acct = self
            .p
            .accounts
            .entry(phone.to_string())
            .or_insert_with(|| Account::new(phone, format!("Sandbox {phone}")));
        if let Some(n) = name {
            acct.name = n.to_string();
        }
        // A new device, with none of the account's others linked: what
        // came meanwhile went to the phone, and reaches the new device in
        // its history sync, not as new messages (WhatsApp encrypts a
        // message for the devices linked when it is sent).
        if !self.p.links.values().any(|p| p == phone) {
            for m in acct.messages.iter_mut().filter(|m| !m.from_me) {
                m.delivered = true;
            }
        }
        let token = b64(24);
        self.p.links.insert(token.clone(), phone.to_string());
        self.dirty = true;
        let name = acct.name.clone();
        self.send(
            conn,
            json!({"t": "linked", "token": token, "phone": phone, "name": name, "platform": "android"}),
        );
        self.go_linked(conn, phone.to_string());
    }

    /// A linked device comes online: history sync, then what was queued;
    /// after the sync delay, when there is one (`sync_due` then).
    fn go_linked(&mut self, conn: u64, phone: String) {
        if !self.sync_delay.is_zero() {
            // Neither showing a QR nor online meanwhile.
            if let Some(c) = self.conns.get_mut(&conn) {
                c.link = Link::Greeting;
            }
            let at = std::time::Instant::now() + self.sync_delay;
            self.syncing.push((at, conn, phone));
            return;
        }
        self.online_now(conn, phone);
    }

    /// Devices whose sync is over come online.
    pub fn sync_due(&mut self) {
        let now = std::time::Instant::now();
        let (due, wait): (Vec<_>, Vec<_>) = std::mem::take(&mut self.syncing)
            .into_iter()
            .partition(|(at, _, _)| *at <= now);
        self.syncing = wait;
        for (_, conn, phone) in due {
            // Still syncing (not logged out or showing a QR since), and
            // still linked (the phone did not unlink it meanwhile).
            let syncing =
                matches!(self.conns.get(&conn), Some(c) if matches!(c.link, Link::Greeting));
            if syncing && self.p.links.values().any(|p| *p == phone) {
                self.online_now(conn, phone);
            }
        }
    }

    fn online_now(&mut self, conn: u64, phone: String) {
        let Some(acct) = self.p.accounts.get(&phone) else {
            return;
        };
        let mut history: Vec<Value> = acct
            .messages
            .iter()
            .rev()
            .filter(|m| m.from_me || m.delivered)
            .take(500)
            .map(SbMessage::wire)
            .collect();
        history.reverse();
        let queued: Vec<Value> = acct
            .messages
            .iter()
            .filter(|m| !m.from_me && !m.delivered)
            .map(SbMessage::wire)
            .collect();
        // Its app state comes with it: whether it is a business, its labels.
        let labels: Vec<Value> = self
            .labels(&phone)
            .iter()
            .map(super::labels::SbLabel::wire)
            .collect();
        self.send(
            conn,
            json!({"t": "ready", "phone": phone, "name": acct.name, "platform": "android", "history": history, "now": self.now_s(), "now_ms": self.now_ms(),
                   "business": self.p.business.contains(&phone), "labels": labels}),
        );
        for m in queued {
            self.send(conn, json!({"t": "message", "msg": m}));
        }
        let blocked: Vec<String> = self.blocklist(&phone).into_iter().collect();
        self.send(conn, json!({"t": "blocklist", "ids": blocked}));
        let states = self.chat_states(&phone);
        self.send(conn, json!({"t": "chat_states", "states": states}));
        self.send(conn, self.contacts_push(&phone));
        self.send(conn, self.starred_push(&phone));
        self.send(conn, self.pins_push(&phone, None));
        self.send(
            conn,
            json!({"t": "channels", "channels": self.channels_of(&phone)}),
        );
        self.send(conn, json!({"t": "notes", "notes": self.notes_of(&phone)}));
        for offer in self.ringing_for(&phone) {
            self.send(conn, offer);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.link = Link::Linked { phone };
        }
    }

    pub fn conn_phone(&self, conn: u64) -> Option<String> {
        match self.conns.get(&conn) {
            Some(Conn {
                link: Link::Linked { phone },
                ..
            }) => Some(phone.clone()),
            _ => None,
        }
    }

    /// A contact writes to an account. Queued until a device confirms
    /// receipt. `msg` carries the content; its id, direction and time are
    /// set here.
    /// `lid`: the contact writes under its privacy id (as WhatsApp now
    /// often shows contacts), not its phone.
    pub fn inbound(
        &mut self,
        from: &str,
        to: &str,
        mut msg: SbMessage,
        lid: Option<bool>,
    ) -> Option<String> {
        // A blocked contact's message never reaches the account.
        if self.p.accounts.contains_key(to) && self.is_blocked(to, from) {
            return Some(format!("false_{from}@c.us_3A{}", random_hex(18)));
        }
        let peer = match lid {
            Some(shared) => self.lid_of(from, shared),
            None => from.to_string(),
        };
        let now = self.now_s();
        let acct = self.p.accounts.get_mut(to)?;
        if msg.quoted.is_none() {
            msg.quoted = msg.reply_to.as_deref().and_then(|r| acct.quote(r));
        }
        let chat = if peer.contains('@') {
            peer.clone()
        } else {
            format!("{peer}@c.us")
        };
        msg.id = format!("false_{chat}_3A{}", random_hex(18));
        msg.from_me = false;
        msg.peer = peer;
        msg.ack = 1;
        if msg.timestamp == 0 {
            msg.timestamp = now;
        }
        msg.delivered = false;
        let id = msg.id.clone();
        let wire = json!({"t": "message", "msg": msg.wire()});
        acct.push(msg);
        self.dirty = true;
        self.send_account(to, &wire);
        Some(id)
    }

    /// A contact's status (story) reaches an account: in the status chat,
    /// by its author, as WhatsApp delivers one (not a blocked contact's).
    pub fn status_inbound(&mut self, from: &str, to: &str, mut msg: SbMessage) -> Option<String> {
        let id = format!("false_status@broadcast_3A{}_{from}@c.us", random_hex(18));
        if self.p.accounts.contains_key(to) && self.is_blocked(to, from) {
            return Some(id);
        }
        let now = self.now_s();
        let acct = self.p.accounts.get_mut(to)?;
        msg.id = id.clone();
        msg.from_me = false;
        msg.peer = "status@broadcast".into();
        msg.author = Some(from.to_string());
        msg.ack = 1;
        if msg.timestamp == 0 {
            msg.timestamp = now;
        }
        msg.delivered = false;
        let wire = json!({"t": "message", "msg": msg.wire()});
        acct.push(msg);
        self.dirty = true;
        self.send_account(to, &wire);
        Some(id)
    }

    /// A contact's privacy id (`…@lid`), made once and kept.
    pub fn lid_of(&mut self, phone: &str, shared: bool) -> String {
        if let Some((user, e)) = self.p.lids.iter_mut().find(|(_, e)| e.phone == phone) {
            e.shared = shared;
            return format!("{user}@lid");
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        phone.hash(&mut h);
        let user = format!(
            "{}",
            100_000_000_000_000u64 + h.finish() % 899_999_999_999_999
        );
        self.p.lids.insert(
            user.clone(),
            LidEntry {
                phone: phone.to_string(),
                shared,
            },
        );
        self.dirty = true;
        format!("{user}@lid")
    }

    /// What WhatsApp tells a device of an id: its privacy id and, when the
    /// owner shares it, its phone (`WPP.contact.getPnLidEntry`).
    pub fn lid_entry(&self, id: &str) -> Value {
        let wid = |user: &str, server: &str| json!({"id": user, "server": server, "_serialized": format!("{user}@{server}")});
        if let Some(user) = id.strip_suffix("@lid") {
            return match self.p.lids.get(user) {
                Some(e) if e.shared => {
                    json!({"lid": wid(user, "lid"), "phoneNumber": wid(&e.phone, "c.us")})
                }
                // As wa-js: a privacy id is its own, known or not.
                Some(_) | None => json!({"lid": wid(user, "lid")}),
            };
        }
        let phone = id.trim_end_matches("@c.us");
        match self.p.lids.iter().find(|(_, e)| e.phone == phone) {
            Some((user, _)) => json!({"lid": wid(user, "lid"), "phoneNumber": wid(phone, "c.us")}),
            None => json!({"phoneNumber": wid(phone, "c.us")}),
        }
    }

    /// A chat's messages older than `before` (all, without it), the
    /// newest `count` of them, oldest first: what a device loads when its
    /// user scrolls up (WhatsApp Web's local history, filled at the link
    /// and from the phone).
    pub fn history(&self, conn: u64, chat: &str, before: Option<&str>, count: usize) -> Vec<Value> {
        let Some(acct) = self.conn_phone(conn).and_then(|p| self.p.accounts.get(&p)) else {
            return vec![];
        };
        let peer = chat.strip_suffix("@c.us").unwrap_or(chat);
        let mut older: Vec<&SbMessage> = acct
            .messages
            .iter()
            .filter(|m| m.peer == peer && (m.from_me || m.delivered))
            .collect();
        if let Some(b) = before {
            match older.iter().position(|m| m.id == b) {
                Some(i) => older.truncate(i),
                None => return vec![],
            }
        }
        let skip = older.len().saturating_sub(count);
        older[skip..].iter().map(|m| m.wire()).collect()
    }

    /// Whether the device's account holds this message.
    pub fn device_holds(&self, conn: u64, id: &str) -> bool {
        self.held(conn, id).is_some()
    }

    /// Message `id` as the account on `conn` has it (a device that dropped
    /// it from memory loads it back from here, as WhatsApp Web does).
    pub fn held(&self, conn: u64, id: &str) -> Option<&SbMessage> {
        self.conn_phone(conn)
            .and_then(|p| self.p.accounts.get(&p))
            .and_then(|a| a.messages.iter().find(|m| m.id == id))
    }

    /// The contact who acts on message `id` of a chat: the chat's contact,
    /// or in a group `from`, which must be one of its members.
    pub(super) fn contact_in(&self, id: &str, from: Option<&str>) -> Result<String, ChangeError> {
        let peer = self
            .p
            .accounts
            .values()
            .find_map(|a| a.messages.iter().rev().find(|m| m.id == id))
            .map(|m| m.peer.clone())
            .ok_or(ChangeError::NotFound)?;
        match (self.group(&peer), from) {
            (Some(g), Some(who)) if g.participants.iter().any(|p| p == who) => Ok(who.to_string()),
            (Some(_), _) => Err(ChangeError::NotInChat),
            (None, None) => Ok(peer),
            (None, Some(who)) if who == peer => Ok(peer),
            (None, Some(_)) => Err(ChangeError::NotInChat),
        }
    }

    /// The account that holds a message, and the message.
    pub(super) fn find_mut(&mut self, id: &str) -> Option<(String, &mut SbMessage)> {
        self.p.accounts.values_mut().find_map(|a| {
            let phone = a.phone.clone();
            a.messages
                .iter_mut()
                .rev()
                .find(|m| m.id == id)
                .map(|m| (phone, m))
        })
    }

    /// A reaction to a message (an empty emoji removes it). Like WhatsApp,
    /// every device of the account hears of it, the reacting one included.
    /// `from`: which contact, in a group (one of its members); in a chat
    /// it can only be the contact.
    pub fn react(
        &mut self,
        id: &str,
        who: Actor,
        from: Option<&str>,
        emoji: &str,
    ) -> Result<Value, ChangeError> {
        let sender = match who {
            Actor::Account => None,
            Actor::Contact => Some(self.contact_in(id, from)?),
        };
        let now = self.now_s();
        let (account, m) = self.find_mut(id).ok_or(ChangeError::NotFound)?;
        if m.revoked {
            return Err(ChangeError::Revoked);
        }
        let sender = sender.unwrap_or_else(|| account.clone());
        let from_me = who == Actor::Account;
        let rid = format!("{from_me}_{}@c.us_3R{}", m.peer, random_hex(18));
        if emoji.is_empty() {
            m.reactions.remove(&sender);
            m.reaction_keys.remove(&sender);
        } else {
            m.reactions.insert(sender.clone(), emoji.to_string());
            m.reaction_keys.insert(sender.clone(), (rid.clone(), now));
        }
        let push = json!({
            "t": "reaction",
            "id": rid,
            "msg_id": m.id, "chat": m.peer, "sender": sender, "from_me": from_me,
            "text": emoji, "ts": now,
        });
        self.dirty = true;
        self.send_account(&account, &push);
        Ok(push)
    }

    /// A contact votes in a poll (its new choice replaces the old one).
    pub fn vote(
        &mut self,
        id: &str,
        voter: Option<&str>,
        options: &[String],
    ) -> Result<Value, String> {
        let voter = self
            .contact_in(id, voter)
            .map_err(|e| change_error(&e, id))?;
        let now = self.now_s();
        let (account, m) = self
            .find_mut(id)
            .ok_or_else(|| format!("message {id} not found"))?;
        let poll = m.poll.as_ref().ok_or("that message is not a poll")?;
        let mut picked = vec![];
        for o in options {
            let i = poll
                .options
                .iter()
                .position(|x| x == o)
                .ok_or_else(|| format!("'{o}' is not an option"))?;
            if !picked.contains(&i) {
                picked.push(i);
            }
        }
        if picked.len() as u32 > poll.selectable.max(1) && poll.selectable != 0 {
            return Err(format!(
                "this poll takes at most {} choice(s)",
                poll.selectable
            ));
        }
        m.votes.insert(voter.clone(), picked.clone());
        m.voted_at.insert(voter.clone(), now);
        let push = json!({"t": "poll_vote", "msg_id": m.id, "chat": m.peer, "sender": voter, "selected": picked, "ts": now});
        self.dirty = true;
        self.send_account(&account, &push);
        Ok(push)
    }

    /// The author edits a message's text (or a media message's caption).
    pub fn edit(&mut self, id: &str, who: Actor, text: &str) -> Result<Value, ChangeError> {
        let now = self.now_s();
        let (account, m) = self.find_mut(id).ok_or(ChangeError::NotFound)?;
        if m.from_me != (who == Actor::Account) {
            return Err(ChangeError::NotAuthor);
        }
        if m.revoked {
            return Err(ChangeError::Revoked);
        }
        // WhatsApp's server takes edits of text and of the captions of
        // photos, videos and documents, for 15 minutes.
        let editable = match &m.media {
            Some(media) => {
                m.document
                    || (!m.ptt
                        && !media.mimetype.starts_with("audio/")
                        && media.mimetype != "image/webp")
            }
            None => m.location.is_none() && m.vcards.is_empty() && m.poll.is_none(),
        };
        if !editable {
            return Err(ChangeError::NotEditable);
        }
        if now - m.timestamp > 15 * 60 {
            return Err(ChangeError::TooLate);
        }
        let slot = if m.media.is_some() {
            &mut m.caption
        } else {
            &mut m.text
        };
        let old = slot.replace(text.to_string()).unwrap_or_default();
        m.edits.push(old);
        let push = json!({"t": "edit", "id": m.id, "chat": m.peer, "text": text, "ts": now});
        self.dirty = true;
        self.send_account(&account, &push);
        Ok(push)
    }

    /// Deletes a message for everyone: its author may, within 60 hours, and
    /// so may a group's admin (`admin`: who, for a contact's phone; the
    /// account itself for its device). Every member's copy is deleted.
    pub fn revoke(
        &mut self,
        id: &str,
        who: Actor,
        admin: Option<&str>,
    ) -> Result<Value, ChangeError> {
        let now = self.now_s();
        let (account, m) = self.find_mut(id).ok_or(ChangeError::NotFound)?;
        let (peer, from_me, timestamp, key, author) = (
            m.peer.clone(),
            m.from_me,
            m.timestamp,
            m.group_key.clone(),
            m.author.clone(),
        );
        // The account deletes what it wrote; a contact what it wrote: in a
        // group, the one named `admin` must be its author to delete as such.
        let by_author = match (who, admin) {
            (Actor::Account, _) => from_me,
            (Actor::Contact, None) => !from_me,
            (Actor::Contact, Some(by)) => {
                !from_me && (author.as_deref() == Some(by) || (author.is_none() && peer == by))
            }
        };
        let acting = match who {
            Actor::Account => Some(account.clone()),
            Actor::Contact => admin.map(String::from),
        };
        let by_admin = !by_author
            && acting.as_deref().is_some_and(|a| {
                self.group(&peer)
                    .is_some_and(|g| g.admins.iter().any(|x| x == a))
            });
        if !by_author && !by_admin {
            return Err(ChangeError::NotAuthor);
        }
        if now - timestamp > 60 * 3600 {
            return Err(ChangeError::TooLate);
        }
        let mut pushes = vec![];
        for acct in self.p.accounts.values_mut() {
            for m in acct.messages.iter_mut() {
                let same = m.id == id || (key.is_some() && m.group_key == key && m.peer == peer);
                if !same || m.revoked {
                    continue;
                }
                m.revoked = true;
                let mut push = json!({"t": "revoke", "id": m.id, "chat": m.peer, "from_me": m.from_me, "ts": now});
                if by_admin {
                    push["admin"] = json!(acting);
                }
                pushes.push((acct.phone.clone(), push));
            }
        }
        self.dirty = true;
        for (acct, push) in pushes {
            self.send_account(&acct, &push);
        }
        self.unpin_revoked(&account, id, &peer, key.as_deref());
        Ok(json!({"t": "revoke", "id": id, "chat": peer, "from_me": from_me, "ts": now}))
    }

    pub fn received(&mut self, conn: u64, ids: &[String]) {
        let Some(phone) = self.conn_phone(conn) else {
            return;
        };
        if let Some(acct) = self.p.accounts.get_mut(&phone) {
            // Receipts are for recent messages: stop once all are found
            // rather than walk the whole history for each one.
            let mut want: HashSet<&str> = ids.iter().map(String::as_str).collect();
            for m in acct.messages.iter_mut().rev() {
                if want.is_empty() {
                    break;
                }
                if !m.from_me && want.remove(m.id.as_str()) {
                    m.delivered = true;
                }
            }
            self.dirty = true;
        }
    }

    /// The device sends a message. Returns the stored message's wire shape.
    pub fn outbound(&mut self, conn: u64, req: &Value) -> Result<Value, String> {
        let phone = self.conn_phone(conn).ok_or("device is not linked")?;
        let to = req["to"].as_str().ok_or("missing 'to'")?;
        let group = to.ends_with("@g.us");
        let channel = super::channels::is_channel(to);
        let peer = to.strip_suffix("@c.us").unwrap_or(to).to_string();
        if let Some(user) = to.strip_suffix("@lid")
            && !self.p.lids.contains_key(user)
        {
            return Err(format!("no WhatsApp user {to}"));
        }
        if self.p.unregistered.contains(&peer) {
            return Err(format!("{peer} is not on WhatsApp"));
        }
        if self.is_blocked(&phone, &peer) {
            return Err("you blocked this contact: unblock it to send".into());
        }
        if group
            && !self
                .p
                .groups
                .get(&peer)
                .is_some_and(|g| g.participants.contains(&phone))
        {
            return Err("you are not a participant of this group".into());
        }
        let id = req["id"].as_str().ok_or("missing 'id'")?.to_string();
        let Some(acct) = self.p.accounts.get(&phone) else {
            return Err("no account".into());
        };
        // Like WhatsApp's server: a message sent again under the same key
        // (a retransmission) is taken once.
        if let Some(m) = acct.own(&id) {
            return Ok(m.wire());
        }
        let media = match req.get("media").filter(|m| !m.is_null()) {
            Some(m) => Some(Media {
                mimetype: m["mimetype"]
                    .as_str()
                    .unwrap_or("application/octet-stream")
                    .into(),
                filename: m["filename"].as_str().map(String::from),
                data: m["data"].as_str().ok_or("media without data")?.into(),
                // (The sandbox's page decodes no audio: a send carries none.)
                duration: None,
            }),
            None => None,
        };
        let location = match req.get("location").filter(|l| !l.is_null()) {
            Some(l) => Some(
                serde_json::from_value::<SbLocation>(l.clone())
                    .map_err(|e| format!("bad location: {e}"))?,
            ),
            None => None,
        };
        let vcards: Vec<String> = req["vcards"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let msg = SbMessage {
            id,
            from_me: true,
            peer: peer.clone(),
            peer_name: None,
            text: req["text"].as_str().map(String::from),
            caption: req["caption"].as_str().map(String::from),
            media,
            reply_to: req["reply_to"].as_str().map(String::from),
            ack: 1,
            timestamp: self.now_s(),
            delivered: true,
            location,
            vcards,
            forwarded: req["forwarded"].as_u64().unwrap_or(0).min(127) as u32,
            status: req.get("status").filter(|s| s.is_object()).cloned(),
            ptt: req["ptt"].as_bool().unwrap_or(false),
            document: req["document"].as_bool().unwrap_or(false),
            view_once: req["view_once"].as_bool().unwrap_or(false),
            gif: req["gif"].as_bool().unwrap_or(false),
            event: match req.get("event").filter(|e| !e.is_null()) {
                Some(e) => {
                    Some(serde_json::from_value(e.clone()).map_err(|e| format!("bad event: {e}"))?)
                }
                None => None,
            },
            invite: match req.get("invite").filter(|e| !e.is_null()) {
                Some(i) => Some(
                    serde_json::from_value(i.clone()).map_err(|e| format!("bad invite: {e}"))?,
                ),
                None => None,
            },
            poll: match req.get("poll").filter(|p| !p.is_null()) {
                Some(p) => {
                    Some(serde_json::from_value(p.clone()).map_err(|e| format!("bad poll: {e}"))?)
                }
                None => None,
            },
            mentions: req["mentions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(|s| s.trim_end_matches("@c.us").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            ..Default::default()
        };
        let quoted = msg
            .reply_to
            .as_deref()
            .and_then(|r| self.p.accounts.get(&phone)?.quote(r));
        // A group message's key, shared by every member's copy.
        let group_key = group
            .then(|| msg.id.split('_').nth(2).unwrap_or_default().to_string())
            .filter(|k| !k.is_empty());
        // A channel's followers send no receipts.
        let receipts = match channel {
            true => Default::default(),
            false => self.recipients(&phone, &peer),
        };
        let msg = SbMessage {
            quoted,
            group_key,
            receipts,
            ..msg
        };
        // A channel's post gets its number in the channel (WhatsApp's
        // server id).
        let msg = SbMessage {
            server_id: channel.then(|| rand::random::<u32>() % 1_000_000 + 100),
            ..msg
        };
        let wire = msg.wire();
        if group {
            self.group_fanout(&peer, &phone, &msg)?;
        }
        if channel {
            self.channel_fanout(&peer, &phone, &msg)?;
        }
        let acct = self.p.accounts.get_mut(&phone).ok_or("no account")?;
        acct.push(msg);
        self.dirty = true;
        Ok(wire)
    }

    /// Raise an outbound message's ack (never lower it) and tell the devices.
    pub fn set_ack(&mut self, id: &str, ack: i8) -> bool {
        for acct in self.p.accounts.values_mut() {
            if let Some(m) = acct
                .messages
                .iter_mut()
                .rev()
                .find(|m| m.id == id && m.from_me)
            {
                if m.ack < ack {
                    m.ack = ack;
                    let push = json!({"t": "ack", "id": id, "chat": m.peer, "ack": ack});
                    let phone = acct.phone.clone();
                    self.dirty = true;
                    self.send_account(&phone, &push);
                }
                return true;
            }
        }
        false
    }

    pub fn unlink(&mut self, phone: &str) -> bool {
        let before = self.p.links.len();
        self.p.links.retain(|_, p| p != phone);
        let had = before != self.p.links.len() || self.account_online(phone);
        let syncing: Vec<u64> = self
            .syncing
            .iter()
            .filter(|(_, _, p)| p == phone)
            .map(|(_, c, _)| *c)
            .collect();
        self.syncing.retain(|(_, _, p)| p != phone);
        let conns: Vec<u64> = self
            .conns
            .iter()
            .filter(|(id, c)| {
                matches!(&c.link, Link::Linked { phone: p } if p == phone) || syncing.contains(id)
            })
            .map(|(id, _)| *id)
            .collect();
        for conn in conns {
            self.send(conn, json!({"t": "logout"}));
            self.show_qr(conn, true);
        }
        self.dirty = true;
        had
    }

    /// The device logs itself out (WPP.conn.logout).
    pub fn device_logout(&mut self, conn: u64, token: Option<&str>) {
        if let Some(t) = token {
            self.p.links.remove(t);
            self.dirty = true;
        }
        self.show_qr(conn, true);
    }

    pub fn mark_read(&mut self, conn: u64, chat: &str) {
        if let Some(phone) = self.conn_phone(conn) {
            self.read_chat(&phone, chat);
        }
    }

    /// The account reads a chat, on the phone or a device: its messages
    /// are read, and every device shows the chat read (WhatsApp syncs it).
    pub fn read_chat(&mut self, phone: &str, chat: &str) {
        let phone = phone.to_string();
        let peer = chat.strip_suffix("@c.us").unwrap_or(chat);
        if let Some(acct) = self.p.accounts.get_mut(&phone)
            && acct.unread_in.remove(peer)
        {
            for m in acct
                .messages
                .iter_mut()
                .filter(|m| !m.from_me && m.peer == peer)
            {
                m.ack = m.ack.max(3);
            }
            self.dirty = true;
        }
        // Read: no longer marked unread, on every device.
        if self
            .p
            .chats
            .get(&phone)
            .and_then(|c| c.get(chat))
            .is_some_and(|s| s.marked_unread)
        {
            let change = super::chats::ChatChange {
                unread: Some(false),
                ..Default::default()
            };
            let _ = self.set_chat_state(&phone, chat, &change);
        }
        self.send_account(&phone, &json!({"t": "chat_read", "chat": chat}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world with account 15550001 linked on a connection, read back
    /// from its state file as a restarted sandbox does.
    fn reloaded(w: &World) -> (World, u64) {
        let p: Persisted = serde_json::from_slice(&serde_json::to_vec(&w.p).unwrap()).unwrap();
        let mut w = World::new(p);
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let conn = w.add_conn(tx);
        w.link_conn(conn, "15550001", None);
        (w, conn)
    }

    fn acks(w: &World, peer: &str) -> Vec<i8> {
        let a = &w.p.accounts["15550001"];
        a.messages
            .iter()
            .filter(|m| !m.from_me && m.peer == peer)
            .map(|m| m.ack)
            .collect()
    }

    // The indexes a send reads (its id sent before; its chat's unread
    // messages) must hold for history the sandbox stored, then reloaded.
    #[test]
    fn a_send_finds_its_retransmission_and_reads_its_chat_after_a_reload() {
        let (mut w, conn) = reloaded(&World::new(Persisted::default()));
        let text = |t: &str| SbMessage {
            text: Some(t.into()),
            ..Default::default()
        };
        w.inbound("15550002", "15550001", text("one"), None)
            .unwrap();
        w.inbound("15550003", "15550001", text("other chat"), None)
            .unwrap();
        let sent = w
            .outbound(
                conn,
                &json!({"id": "true_15550002@c.us_3EB0AA", "to": "15550002@c.us", "text": "hi"}),
            )
            .unwrap();

        let (mut w, conn) = reloaded(&w);
        let again = w
            .outbound(
                conn,
                &json!({"id": "true_15550002@c.us_3EB0AA", "to": "15550002@c.us", "text": "hi"}),
            )
            .unwrap();
        assert_eq!(again, sent, "a retransmission is taken once");
        assert_eq!(w.p.accounts["15550001"].messages.len(), 3);

        assert_eq!(acks(&w, "15550002"), vec![1]);
        w.mark_read(conn, "15550002@c.us");
        assert_eq!(acks(&w, "15550002"), vec![3], "the chat read");
        assert_eq!(acks(&w, "15550003"), vec![1], "another chat left unread");
        // A message after the read is unread until the next one.
        w.inbound("15550002", "15550001", text("two"), None)
            .unwrap();
        assert_eq!(acks(&w, "15550002"), vec![3, 1]);
        w.mark_read(conn, "15550002@c.us");
        assert_eq!(acks(&w, "15550002"), vec![3, 3]);
    }
}
