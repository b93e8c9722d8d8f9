//! The protocol between the driver and `inject/bridge.js`: events arrive as
//! JSON arrays through the `__wabridgeEmit` binding; calls go out as
//! `window.__wabridge.<fn>(args...)`, each under a timeout.

use crate::domain::{GroupSetting, Wid};
use chromiumoxide::Page;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub const BINDING: &str = "__wabridgeEmit";
pub const BRIDGE_JS: &str = include_str!("../../inject/bridge.js");

/// Set before any page script: no analytics, no service worker (it would
/// serve a stale WhatsApp Web and keep running after the page).
pub const PRELUDE_JS: &str = r#"
window.WPPConfig = Object.assign({ disableGoogleAnalytics: true, sendStatusToDevice: false, poweredBy: null }, window.WPPConfig || {});
try {
  if (navigator.serviceWorker) {
    navigator.serviceWorker.getRegistrations().then(rs => rs.forEach(r => r.unregister())).catch(() => {});
  }
} catch (e) {}
"#;

#[derive(Debug, Deserialize, PartialEq)]
pub struct BridgeMe {
    pub id: String,
    pub phone: Option<String>,
    pub name: Option<String>,
}

/// What `Bridge::reacted` found, and whether that was all.
#[derive(Debug, Deserialize)]
pub struct Reacted {
    pub items: Vec<Value>,
    pub complete: bool,
}

/// Who calls, as bridge.js resolves them: a privacy id's phone when
/// WhatsApp tells it.
#[derive(Debug, Default, Deserialize, Clone, PartialEq)]
pub struct CallSender {
    pub phone: Option<String>,
    pub lid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BridgeEvent {
    Injected,
    Ready,
    AuthCode {
        code: Option<String>,
    },
    Authenticated,
    Connected {
        me: BridgeMe,
        platform: Option<String>,
        /// false: linked, but WhatsApp cannot be reached now (its socket
        /// down from the start); an `online` event tells when it can.
        #[serde(default = "yes")]
        online: bool,
    },
    Online {
        online: bool,
    },
    /// This account's name changed (from this page).
    MeChanged {
        me: BridgeMe,
    },
    Logout,
    RequireAuth,
    Message {
        msg: Value,
    },
    Ack {
        ack: i64,
        chat: Option<String>,
        ids: Vec<String>,
    },
    Revoke {
        id: Option<String>,
        chat: Option<String>,
    },
    Reaction {
        /// The reaction's own id.
        id: Option<String>,
        /// The message reacted to.
        msg_id: Option<String>,
        chat: Option<String>,
        sender: Option<String>,
        /// The sender's phone, where `sender` is a privacy id whose phone
        /// WhatsApp Web knows (as a message's sender is told).
        #[serde(default)]
        sender_phone: Option<String>,
        #[serde(default)]
        from_me: bool,
        #[serde(default)]
        text: String,
        #[serde(default, deserialize_with = "page_time")]
        timestamp: Option<i64>,
    },
    PollVote {
        msg_id: Option<String>,
        chat: Option<String>,
        sender: Option<String>,
        #[serde(default)]
        selected: Vec<usize>,
        #[serde(default, deserialize_with = "page_time")]
        timestamp: Option<i64>,
    },
    Presence {
        id: Option<String>,
        state: Option<String>,
        #[serde(default)]
        online: bool,
        #[serde(default, deserialize_with = "page_time")]
        timestamp: Option<i64>,
        /// A group's members and their states (`{id, state}`).
        #[serde(default)]
        participants: Option<Vec<Value>>,
    },
    GroupParticipants {
        group: Option<String>,
        /// add, remove, join, leaver, promote, demote
        action: String,
        author: Option<String>,
        #[serde(default)]
        participants: Vec<String>,
        /// This account put in it: the group as WhatsApp Web has it.
        #[serde(default)]
        info: Option<Value>,
    },
    /// Labels put on a chat or taken off it (a business account's).
    Labels {
        chat: Option<String>,
        /// add or remove
        action: String,
        #[serde(default)]
        labels: Vec<Value>,
        #[serde(default)]
        ids: Vec<String>,
    },
    /// A chat was archived, pinned, muted, read or marked unread (or
    /// undone), here, on the phone or another device: `changed` names
    /// which (archived, pinned, muted_until, unread); the rest is the chat
    /// as it is now.
    Chat {
        changed: String,
        #[serde(flatten)]
        chat: ChatInfo,
    },
    /// A chat was deleted, here, on the phone or another device.
    ChatRemoved {
        chat: Option<String>,
        name: Option<String>,
    },
    /// Someone asks to join a group this account runs.
    MembershipRequest {
        /// The notice's own message id.
        id: Option<String>,
        group: Option<String>,
        requester: Option<String>,
        #[serde(default, deserialize_with = "page_time")]
        timestamp: Option<i64>,
    },
    /// A call rings on this account.
    Call {
        id: String,
        /// The caller: `…@c.us`, or a privacy id.
        from: String,
        #[serde(default)]
        is_video: bool,
        #[serde(default)]
        is_group: bool,
        #[serde(default, deserialize_with = "page_time")]
        timestamp: Option<i64>,
        #[serde(default)]
        sender: CallSender,
    },
    /// A change to a group's info: one of subject, description (empty:
    /// removed), announce (only admins send), restrict (only admins edit),
    /// picture.
    GroupUpdate {
        /// The notice's own message id, when the page has it.
        id: Option<String>,
        group: Option<String>,
        subject: Option<String>,
        description: Option<String>,
        announce: Option<bool>,
        restrict: Option<bool>,
        /// A new picture (true) or none any more (false).
        picture: Option<bool>,
        author: Option<String>,
        #[serde(default, deserialize_with = "page_time")]
        timestamp: Option<i64>,
    },
    Edit {
        id: Option<String>,
        chat: Option<String>,
        #[serde(default)]
        text: String,
        #[serde(default, deserialize_with = "page_time")]
        timestamp: Option<i64>,
    },
    #[serde(other)]
    Unknown,
}

fn yes() -> bool {
    true
}

pub fn parse_batch(payload: &str) -> Vec<BridgeEvent> {
    match serde_json::from_str::<Vec<Value>>(payload) {
        Ok(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        Err(e) => {
            tracing::warn!("bridge sent a batch that is not JSON: {e}");
            Vec::new()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the page did not answer within {0:?}")]
    Timeout(Duration),
    /// bridge.js checked the number before sending: not on WhatsApp.
    #[error("{0} is not on WhatsApp")]
    NotOnWhatsApp(String),
    #[error("{0}")]
    Page(String),
    #[error("the browser is not available: {0}")]
    Browser(String),
    /// The page could not reach WhatsApp for the call (it is reconnecting):
    /// a passing failure, not WhatsApp's answer.
    #[error("WhatsApp is not reachable from the page: {0}")]
    Offline(String),
}

/// A time the page gives (unix s). Its clock is not to be trusted: kept
/// between 1970 and 2100, where arithmetic on it cannot overflow.
fn page_time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.map(crate::domain::message::sane_time))
}

fn page_time_now<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    i64::deserialize(d).map(crate::domain::message::sane_time)
}

/// What the page answers for a message it sent.
#[derive(Debug, Deserialize)]
pub struct Sent {
    pub id: String,
    #[serde(default)]
    pub ack: i64,
    /// unix s
    #[serde(default, deserialize_with = "page_time")]
    pub timestamp: Option<i64>,
}

/// A file to send, base64 and described.
pub struct OutgoingFile<'a> {
    pub b64: &'a str,
    pub mimetype: &'a str,
    pub filename: Option<&'a str>,
    /// wa-js's `type`: image, video, audio, document, sticker.
    pub kind: &'a str,
    pub caption: Option<&'a str>,
    /// Audio sent as a voice note.
    pub voice: bool,
    /// Opened once by its receiver (wa-js `isViewOnce`).
    pub view_once: bool,
    /// A video that plays as a GIF (wa-js `isGif`).
    pub gif: bool,
    /// Who the caption mentions.
    pub mentions: &'a [Wid],
}

/// A contact card to send: who, and the name to show.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CardOf {
    pub id: Wid,
    pub name: String,
}

/// A group as bridge.js describes it.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
pub struct GroupInfo {
    pub id: String,
    pub subject: Option<String>,
    pub owner: Option<String>,
    /// unix s
    pub created: Option<i64>,
    #[serde(default)]
    pub participants: Vec<Participant>,
    /// How many people are in it, where a preview lists only some
    /// (an invite's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
    pub description: Option<String>,
    /// Only admins send messages.
    #[serde(default)]
    pub announce: bool,
    /// Only admins change the subject and description.
    #[serde(default)]
    pub restrict: bool,
    /// Its admins approve who joins (a join by link is a request).
    #[serde(default)]
    pub approval: bool,
    /// Disappearing messages: how long a message lasts (s; 0: off).
    #[serde(default)]
    pub ephemeral: u32,
    /// The community it is linked to (or whose announcements it carries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    /// It is its community's announcement group.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub community_announcements: bool,
}

/// What WhatsApp said of one person a group add, or a new group, named.
#[derive(Debug, Clone, Deserialize)]
pub struct AddOutcome {
    pub id: String,
    /// WhatsApp's code: 200 added, else why not ([`AddOutcome::reason`]);
    /// none where WhatsApp Web told none.
    pub code: Option<u16>,
    /// For a 403: the code of an invite WhatsApp made for them, for the
    /// admin to send instead.
    #[serde(default)]
    pub invite_code: Option<String>,
    /// unix s
    #[serde(default)]
    pub invite_expires: Option<i64>,
}

impl AddOutcome {
    pub fn added(&self) -> bool {
        self.code == Some(200)
    }

    /// Why WhatsApp did not add them, by its code (as whatsapp-web.js and
    /// open-wa read them).
    pub fn reason(&self) -> &'static str {
        match self.code.unwrap_or(0) {
            200 => "added",
            403 => "privacy_settings",
            404 => "not_on_whatsapp",
            408 => "recently_left",
            409 => "already_member",
            417 => "community",
            419 | 500 => "group_full",
            421 => "awaiting_approval",
            _ => "refused",
        }
    }
}

/// A new group's id, and what WhatsApp said of each person named.
#[derive(Debug, Deserialize)]
pub struct CreatedGroup {
    pub id: String,
    #[serde(default)]
    pub added: Vec<AddOutcome>,
}

/// A WhatsApp community: a parent group, its announcement group (where
/// only admins write, and every member is) and the groups linked to it.
#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Community {
    pub id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// unix s
    pub created: Option<i64>,
    /// Its announcement group (…@g.us), where WhatsApp Web has it.
    pub announcement_group: Option<String>,
    /// The linked groups this account is in.
    #[serde(default)]
    pub groups: Vec<LinkedGroup>,
    /// Its members (everyone in its announcement group); only on one
    /// community, not in the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<Participant>>,
}

#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct LinkedGroup {
    pub id: String,
    pub subject: Option<String>,
}

/// What became of groups linked to (or unlinked from) a community.
#[derive(Debug, Default, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Linking {
    /// The groups WhatsApp linked (or unlinked).
    #[serde(default)]
    pub done: Vec<String>,
    /// Those it refused, with its error (403: not their admin; 404: no
    /// such group, or not in this community; 409: already in one).
    #[serde(default)]
    pub failed: Vec<LinkFailure>,
}

#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct LinkFailure {
    pub id: String,
    pub error: String,
}

/// A new community: its id, and its groups' linking.
#[derive(Debug, Deserialize)]
pub struct CreatedCommunity {
    pub id: String,
    #[serde(flatten)]
    pub linking: Linking,
}

/// A contact's presence as WhatsApp tells it.
#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Presence {
    pub id: String,
    /// Online now.
    #[serde(default)]
    pub online: bool,
    /// When last online (unix s); null while online, where the person hides
    /// it, or where WhatsApp has not told it.
    #[serde(default)]
    pub last_seen: Option<i64>,
    /// Whether WhatsApp has told this person's presence yet (within a
    /// second of asking).
    #[serde(default)]
    pub known: bool,
}

/// Someone who asked to join a group whose admins approve who joins.
#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct JoinRequest {
    /// Who asks: `…@c.us`, or a privacy id.
    pub id: String,
    /// Who added them, where a member's add awaits approval.
    pub added_by: Option<String>,
    /// How it was asked: `InviteLink`, `LinkedGroupJoin` or `NonAdminAdd`.
    pub method: Option<String>,
    /// unix s
    #[serde(default, deserialize_with = "page_time")]
    pub timestamp: Option<i64>,
}

/// What a join by invite came to.
#[derive(Debug, Deserialize)]
pub struct Joined {
    pub id: String,
    /// A request, until the group's admins approve it.
    #[serde(default)]
    pub pending: bool,
}

/// One answer to a request to join: WhatsApp's error, or none.
#[derive(Debug, Deserialize)]
pub struct JoinAnswer {
    pub id: String,
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Participant {
    pub id: String,
    pub phone: Option<String>,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub super_admin: bool,
}

/// A batch of a chat's history, as `history()` answers it (and what
/// `search()` and `starred()` find, newest first).
#[derive(Debug, Deserialize)]
pub struct HistoryBatch {
    /// Oldest first, as bridge.js normalizes messages.
    pub msgs: Vec<Value>,
    /// WhatsApp Web may hold older ones still.
    #[serde(default)]
    pub more: bool,
    /// WhatsApp Web has no such chat (or anchor message) now.
    #[serde(default)]
    pub missing: bool,
    /// `starred()`: the id of the last message read, where the next page
    /// starts (what bridge.js leaves out of `msgs` counts).
    #[serde(default)]
    pub last: Option<String>,
}

/// A message pinned in its chat, as `pinMessage()` and `pinned()` answer.
#[derive(Debug, Deserialize)]
pub struct Pin {
    /// The pinned message.
    pub id: String,
    /// Who pinned it.
    #[serde(default)]
    pub by: Option<String>,
    /// When (unix s) and until when.
    #[serde(deserialize_with = "page_time_now")]
    pub at: i64,
    #[serde(deserialize_with = "page_time_now")]
    pub expires_at: i64,
    /// The message as bridge.js normalizes it (`pinned()` only; null when
    /// WhatsApp Web no longer has it).
    #[serde(default)]
    pub msg: Option<Value>,
}

/// Who got, read and played one of this account's messages, as
/// `receipts()` answers (WhatsApp Web's message info).
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct Receipts {
    /// wa-js's number, as the page has it now.
    pub ack: Option<i64>,
    pub recipients: Vec<Receipt>,
    /// How many recipients it has yet to reach, to be read by, to be
    /// played by (a voice note).
    #[serde(default)]
    pub delivery_remaining: u32,
    #[serde(default)]
    pub read_remaining: u32,
    #[serde(default)]
    pub played_remaining: u32,
}

/// One recipient's receipt: when (unix s) each stage was reached, as far
/// as WhatsApp Web keeps it (it may keep only the furthest).
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct Receipt {
    pub id: String,
    #[serde(default, deserialize_with = "page_time")]
    pub delivered_at: Option<i64>,
    #[serde(default, deserialize_with = "page_time")]
    pub read_at: Option<i64>,
    #[serde(default, deserialize_with = "page_time")]
    pub played_at: Option<i64>,
}

/// A chat as `chats()` lists it.
#[derive(Default, Debug, Deserialize, serde::Serialize)]
pub struct ChatInfo {
    pub id: String,
    pub name: Option<String>,
    pub unread: u64,
    #[serde(default, deserialize_with = "page_time")]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub pinned: bool,
    /// unix s; -1: always; None: not muted.
    pub muted_until: Option<i64>,
    /// Marked unread (until it is read).
    #[serde(default)]
    pub marked_unread: bool,
    /// A business account's labels on it, by id.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A person WhatsApp Web knows, as `contacts()` lists them: one in the
/// address book, or one it heard from (a chat, a group).
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Contact {
    /// `…@c.us`; a privacy id `…@lid` where the phone is hidden.
    pub id: String,
    /// Where WhatsApp shows it (a privacy id may hide it).
    pub phone: Option<String>,
    /// Their privacy id, where WhatsApp Web knows them by it too.
    pub lid: Option<String>,
    /// The address book's full name; null for one not saved.
    pub name: Option<String>,
    /// The address book's first name.
    pub short_name: Option<String>,
    /// The name they go by on WhatsApp (their profile's), where known.
    pub pushname: Option<String>,
    /// In this account's address book.
    pub saved: bool,
    /// A WhatsApp Business account.
    pub business: bool,
    /// This account blocked them.
    pub blocked: bool,
}

/// A WhatsApp Business label.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Label {
    /// A small number, as WhatsApp numbers them ("1", "2", ...).
    pub id: String,
    pub name: String,
    /// `#rrggbb`, from WhatsApp's palette.
    pub color: Option<String>,
    /// How many chats carry it, where WhatsApp Web says.
    pub count: Option<u64>,
}

/// A WhatsApp Business customer note on a person's chat.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Note {
    /// WhatsApp's id of the note.
    pub id: Option<String>,
    pub content: String,
    /// unix s
    pub created: Option<i64>,
    /// unix s
    pub modified: Option<i64>,
}

/// A business account's labels, and the colours a label may have.
#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Labels {
    pub labels: Vec<Label>,
    pub palette: Vec<String>,
}

/// A WhatsApp Channel (newsletter) the account runs or follows, or one
/// found in the directory.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct Channel {
    /// `…@newsletter`
    #[schema(value_type = String)]
    pub id: Wid,
    pub name: String,
    pub description: String,
    /// What follows `https://whatsapp.com/channel/` in its invite link.
    pub invite: Option<String>,
    /// `owner`, `admin`, `subscriber` (this account follows it) or
    /// `guest`.
    pub role: String,
    /// How many follow it, where WhatsApp says.
    pub subscribers: Option<u64>,
    /// unix s
    pub created: Option<i64>,
    /// This account muted its notifications.
    pub muted: bool,
    /// WhatsApp verified who runs it (the directory's badge).
    #[serde(default)]
    pub verified: bool,
    /// It has a picture (where WhatsApp Web says).
    #[serde(default)]
    pub has_picture: bool,
}

/// A page of the channel directory.
#[derive(Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
pub struct ChannelPage {
    pub channels: Vec<Channel>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// A change to a channel; what is `None` stays.
#[derive(Debug, Default, serde::Serialize)]
pub struct ChannelChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Some(None)` takes the picture away; else a data URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<Option<String>>,
}

/// A change to how the account keeps a chat; what is `None` stays.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ChatChange {
    pub archive: Option<bool>,
    pub pin: Option<bool>,
    /// unix s; 0 unmutes; -1 mutes always.
    #[serde(rename = "muteUntil")]
    pub mute_until: Option<i64>,
    /// true: marked unread; false: read.
    pub unread: Option<bool>,
}

/// What `trim_messages` did to WhatsApp Web's message collection.
#[derive(Debug, Deserialize, serde::Serialize, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    pub removed: u64,
    pub left: u64,
}

/// One page's `window.__wabridge`, one typed method per call of bridge.js.
/// Every call has a timeout.
/// What `compat()` reports: the WhatsApp Web build, the wa-js version and
/// what of bridge.js's needs this build lacks (`missing`: the session
/// cannot run; `lacking`: what only one feature needs, which then says so).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize, PartialEq)]
pub struct Compat {
    pub wa_web: Option<String>,
    pub wa_js: Option<String>,
    #[serde(default)]
    pub missing: Vec<String>,
    #[serde(default)]
    pub lacking: Vec<String>,
}

impl Compat {
    /// The versions in play, as session info shows them, with what this
    /// build lacks of what single features need, when it lacks any.
    pub fn versions(&self) -> Value {
        let mut v = json!({"wa_web": self.wa_web, "wa_js": self.wa_js});
        if !self.lacking.is_empty() {
            v["lacking"] = json!(self.lacking);
        }
        v
    }
}

/// See [`Bridge::busy`].
pub struct Busy(Option<Arc<AtomicUsize>>);

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

#[derive(Clone)]
pub struct Bridge {
    calls: Option<Arc<AtomicUsize>>,
    page: Page,
    timeout: Duration,
    /// The longest any call may wait, whatever it is given (see `capped`).
    cap: Option<Duration>,
}

impl Bridge {
    pub fn new(page: Page, timeout: Duration) -> Self {
        Bridge {
            page,
            timeout,
            calls: None,
            cap: None,
        }
    }

    /// No call waits longer than `cap`: for the driver's own calls, made
    /// from the loop that also notices a hung page. While one of them
    /// waits (a catch-up may wait three page timeouts), nothing can; a page
    /// that answers within no hang bound is hung, whatever was asked.
    pub fn capped(mut self, cap: Duration) -> Self {
        self.cap = Some(cap);
        self
    }

    fn within(&self, timeout: Duration) -> Duration {
        self.cap.map_or(timeout, |c| timeout.min(c))
    }

    /// Counts this bridge's calls in flight in `calls` (the session's: a
    /// browser recycle waits for none).
    pub fn counting(mut self, calls: Arc<AtomicUsize>) -> Self {
        self.calls = Some(calls);
        self
    }

    async fn call<T: DeserializeOwned>(&self, func: &str, args: &[Value]) -> Result<T, CallError> {
        self.call_within(self.timeout, func, args).await
    }

    /// Counted as a call in flight until dropped: a send between its
    /// steps ("typing…" shown, then the page's call) is not cut short by a
    /// browser recycle.
    pub fn busy(&self) -> Busy {
        if let Some(c) = &self.calls {
            c.fetch_add(1, Ordering::SeqCst);
        }
        Busy(self.calls.clone())
    }

    /// A call counted among the API's calls in flight, bounded by `timeout`.
    async fn call_within<T: DeserializeOwned>(
        &self,
        timeout: Duration,
        func: &str,
        args: &[Value],
    ) -> Result<T, CallError> {
        self.run(timeout, func, expression(func, args)).await
    }

    /// As `call_within`, the call's expression built already.
    async fn run<T: DeserializeOwned>(
        &self,
        timeout: Duration,
        func: &str,
        expr: String,
    ) -> Result<T, CallError> {
        struct InFlight<'a>(Option<&'a AtomicUsize>);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                if let Some(c) = self.0 {
                    c.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        let counter = self.calls.as_deref();
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::SeqCst);
        }
        let _in_flight = InFlight(counter);
        call_expr(&self.page, self.within(timeout), func, expr).await
    }

    /// Every send names the id WhatsApp gives the message (`id`, from
    /// [`crate::domain::message::new_message_id`]): a send whose outcome was
    /// lost can be looked for, and sent again under the same id, which
    /// WhatsApp takes once.
    /// The versions in play and the wa-js members this build lacks.
    pub async fn compat(&self) -> Result<Compat, CallError> {
        self.call("compat", &[]).await
    }

    pub async fn send_text(
        &self,
        to: &Wid,
        id: &str,
        text: &str,
        reply_to: Option<&str>,
        mentions: &[Wid],
    ) -> Result<Sent, CallError> {
        self.call(
            "sendText",
            &[
                json!(to),
                json!(text),
                json!(reply_to),
                json!(mentions),
                json!(id),
            ],
        )
        .await
    }

    /// Shows a presence: `typing`, `recording` or `paused` in `chat`;
    /// `online` or `offline` for the account.
    pub async fn presence(&self, chat: Option<&Wid>, state: &str) -> Result<(), CallError> {
        self.call::<Value>("presence", &[json!(chat), json!(state)])
            .await
            .map(drop)
    }

    /// Asks WhatsApp to report these contacts' presence.
    pub async fn subscribe_presence(&self, ids: &[Wid]) -> Result<Vec<String>, CallError> {
        self.call("subscribePresence", &[json!(ids)]).await
    }

    /// A contact's presence: online, or when last seen. With `subscribe`,
    /// one not heard yet is subscribed to first; else what WhatsApp Web
    /// already has is the answer.
    pub async fn presence_of(&self, id: &Wid, subscribe: bool) -> Result<Presence, CallError> {
        self.call("presenceOf", &[json!(id), json!(subscribe)])
            .await
    }

    /// What WhatsApp tells of a contact: about, picture, business, blocked.
    pub async fn profile(&self, id: &Wid) -> Result<Value, CallError> {
        self.call("profile", &[json!(id)]).await
    }

    pub async fn block(&self, id: &Wid, yes: bool) -> Result<(), CallError> {
        self.call::<Value>("block", &[json!(id), json!(yes)])
            .await
            .map(drop)
    }

    /// Archives, pins or mutes a chat; answers it as it is after.
    pub async fn set_chat_state(
        &self,
        id: &Wid,
        change: &ChatChange,
    ) -> Result<ChatInfo, CallError> {
        self.call("setChatState", &[json!(id), json!(change)]).await
    }

    /// A chat's messages before message `before` (the newest, without
    /// it), at most `count`, oldest first, as bridge.js normalizes them:
    /// its history as WhatsApp Web holds it, older than the link too.
    pub async fn history(
        &self,
        chat: &Wid,
        before: Option<&str>,
        count: usize,
    ) -> Result<HistoryBatch, CallError> {
        self.call("history", &[json!(chat), json!(before), json!(count)])
            .await
    }

    /// The people WhatsApp Web knows: the address book and everyone it
    /// heard from.
    pub async fn contacts(&self) -> Result<Vec<Contact>, CallError> {
        self.call("contacts", &[]).await
    }

    /// One person WhatsApp Web knows (with their privacy id's twin);
    /// `None` for one it does not.
    pub async fn contact(&self, id: &Wid) -> Result<Option<Contact>, CallError> {
        self.call("contact", &[json!(id)]).await
    }

    /// Saves a contact to the address book or renames one (`phone_book`:
    /// the phone's own address book too).
    pub async fn save_contact(
        &self,
        id: &Wid,
        first: &str,
        last: &str,
        phone_book: bool,
    ) -> Result<Contact, CallError> {
        self.call(
            "saveContact",
            &[json!(id), json!(first), json!(last), json!(phone_book)],
        )
        .await
    }

    /// Takes a contact out of the address book; `CONTACT_NOT_SAVED` when
    /// it is not in it.
    pub async fn remove_contact(&self, id: &Wid) -> Result<(), CallError> {
        self.call::<Value>("removeContact", &[json!(id)])
            .await
            .map(drop)
    }

    /// Everyone this account blocked.
    pub async fn blocked(&self) -> Result<Vec<String>, CallError> {
        self.call("blocked", &[]).await
    }

    /// What this account shows of itself: `{id, name, about, picture_url}`.
    pub async fn my_profile(&self) -> Result<Value, CallError> {
        self.call("myProfile", &[]).await
    }

    /// `change`: `{name?, about?, picture?}` (a data URL, or null to remove).
    pub async fn set_my_profile(&self, change: &Value) -> Result<(), CallError> {
        self.call::<Value>("setMyProfile", std::slice::from_ref(change))
            .await
            .map(drop)
    }

    /// Every group the account is in.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, CallError> {
        self.call("groups", &[]).await
    }

    /// One group, with its participants.
    pub async fn group(&self, id: &Wid) -> Result<GroupInfo, CallError> {
        self.call("group", &[json!(id)]).await
    }

    /// Creates a group; returns its id.
    pub async fn create_group(
        &self,
        subject: &str,
        participants: &[Wid],
    ) -> Result<CreatedGroup, CallError> {
        self.call("createGroup", &[json!(subject), json!(participants)])
            .await
    }

    /// What WhatsApp said of each person: it adds whom it may and answers
    /// the rest per person, rather than refusing the call.
    pub async fn add_participants(
        &self,
        id: &Wid,
        who: &[Wid],
    ) -> Result<Vec<AddOutcome>, CallError> {
        self.call("addParticipants", &[json!(id), json!(who)]).await
    }

    pub async fn remove_participants(&self, id: &Wid, who: &[Wid]) -> Result<(), CallError> {
        self.call::<Value>("removeParticipants", &[json!(id), json!(who)])
            .await
            .map(drop)
    }

    /// `yes`: makes them admins; else members again.
    pub async fn set_admins(&self, id: &Wid, who: &[Wid], yes: bool) -> Result<(), CallError> {
        self.call::<Value>("setAdmins", &[json!(id), json!(who), json!(yes)])
            .await
            .map(drop)
    }

    pub async fn invite_code(&self, id: &Wid) -> Result<String, CallError> {
        self.call("inviteCode", &[json!(id)]).await
    }

    /// The communities this account is in.
    pub async fn communities(&self) -> Result<Vec<Community>, CallError> {
        self.call("communities", &[]).await
    }

    /// One, with its members (`COMMUNITY_NOT_FOUND` for another).
    pub async fn community(&self, id: &Wid) -> Result<Community, CallError> {
        self.call("community", &[json!(id)]).await
    }

    pub async fn create_community(
        &self,
        name: &str,
        description: &str,
        groups: &[Wid],
    ) -> Result<CreatedCommunity, CallError> {
        self.call(
            "createCommunity",
            &[json!(name), json!(description), json!(groups)],
        )
        .await
    }

    /// `link`: links the groups to the community; else unlinks them.
    pub async fn link_groups(
        &self,
        id: &Wid,
        groups: &[Wid],
        link: bool,
    ) -> Result<Linking, CallError> {
        let f = if link { "linkGroups" } else { "unlinkGroups" };
        self.call(f, &[json!(id), json!(groups)]).await
    }

    /// Exits it (its groups too).
    pub async fn leave_community(&self, id: &Wid) -> Result<(), CallError> {
        self.call::<Value>("leaveCommunity", &[json!(id)])
            .await
            .map(drop)
    }

    pub async fn deactivate_community(&self, id: &Wid) -> Result<(), CallError> {
        self.call::<Value>("deactivateCommunity", &[json!(id)])
            .await
            .map(drop)
    }

    /// `yes`: makes them the community's admins; else members again.
    pub async fn set_community_admins(
        &self,
        id: &Wid,
        who: &[Wid],
        yes: bool,
    ) -> Result<(), CallError> {
        self.call::<Value>("setCommunityAdmins", &[json!(id), json!(who), json!(yes)])
            .await
            .map(drop)
    }

    /// Whether this account is one of the group's admins, as wa-js tells
    /// (by phone or privacy id alike).
    pub async fn i_am_admin(&self, id: &Wid) -> Result<bool, CallError> {
        self.call("iAmAdmin", &[json!(id)]).await
    }

    /// The channels the account runs or follows, newest first.
    pub async fn channels(&self) -> Result<Vec<Channel>, CallError> {
        self.call("channels", &[]).await
    }

    /// One of them (`CHANNEL_NOT_FOUND` for another).
    pub async fn channel(&self, id: &Wid) -> Result<Channel, CallError> {
        self.call("channel", &[json!(id)]).await
    }

    /// `picture`: a data URL.
    pub async fn create_channel(
        &self,
        name: &str,
        description: Option<&str>,
        picture: Option<&str>,
    ) -> Result<Channel, CallError> {
        self.call(
            "createChannel",
            &[json!(name), json!(description), json!(picture)],
        )
        .await
    }

    /// Its admins only (`NOT_CHANNEL_ADMIN`).
    pub async fn edit_channel(
        &self,
        id: &Wid,
        change: &ChannelChange,
    ) -> Result<Channel, CallError> {
        self.call("editChannel", &[json!(id), json!(change)]).await
    }

    /// Its owner only.
    pub async fn delete_channel(&self, id: &Wid) -> Result<(), CallError> {
        self.call::<Value>("deleteChannel", &[json!(id)])
            .await
            .map(drop)
    }

    /// Follows (the channel after) or unfollows (None).
    pub async fn follow_channel(&self, id: &Wid, on: bool) -> Result<Option<Channel>, CallError> {
        self.call("followChannel", &[json!(id), json!(on)]).await
    }

    pub async fn mute_channel(&self, id: &Wid, on: bool) -> Result<Channel, CallError> {
        self.call("muteChannel", &[json!(id), json!(on)]).await
    }

    pub async fn search_channels(
        &self,
        query: &str,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<ChannelPage, CallError> {
        self.call(
            "searchChannels",
            &[json!(query), json!(limit), json!(cursor)],
        )
        .await
    }

    /// A business account's note on a person's chat (`NOT_BUSINESS` for
    /// another account, `CHAT_NOT_FOUND`, `GROUP_NOTE`).
    pub async fn note(&self, chat: &Wid) -> Result<Option<Note>, CallError> {
        self.call("note", &[json!(chat)]).await
    }

    /// Writes it (or rewrites it); the note after.
    pub async fn set_note(&self, chat: &Wid, content: &str) -> Result<Option<Note>, CallError> {
        self.call("setNote", &[json!(chat), json!(content)]).await
    }

    /// A business account's labels (`NOT_BUSINESS` for another).
    pub async fn labels(&self) -> Result<Labels, CallError> {
        self.call("labels", &[]).await
    }

    /// `color`: `#rrggbb` from the palette; None lets WhatsApp choose.
    pub async fn add_label(&self, name: &str, color: Option<&str>) -> Result<Label, CallError> {
        self.call("addLabel", &[json!(name), json!(color)]).await
    }

    pub async fn edit_label(
        &self,
        id: &str,
        name: Option<&str>,
        color: Option<&str>,
    ) -> Result<Label, CallError> {
        self.call("editLabel", &[json!(id), json!(name), json!(color)])
            .await
    }

    pub async fn delete_label(&self, id: &str) -> Result<(), CallError> {
        self.call::<Value>("deleteLabel", &[json!(id)])
            .await
            .map(drop)
    }

    /// Puts a label on chats and takes it off others; the label after.
    pub async fn label_chats(
        &self,
        id: &str,
        add: &[Wid],
        remove: &[Wid],
    ) -> Result<Label, CallError> {
        self.call("labelChats", &[json!(id), json!(add), json!(remove)])
            .await
    }

    /// Who asks to join the group (admins only: `ONLY_ADMINS`).
    pub async fn join_requests(&self, id: &Wid) -> Result<Vec<JoinRequest>, CallError> {
        self.call("joinRequests", &[json!(id)]).await
    }

    /// Approves (or rejects) these requests to join.
    pub async fn answer_join_requests(
        &self,
        id: &Wid,
        ids: &[Wid],
        approve: bool,
    ) -> Result<Vec<JoinAnswer>, CallError> {
        self.call(
            "answerJoinRequests",
            &[json!(id), json!(ids), json!(approve)],
        )
        .await
    }

    /// A new invite code for the group; the old one stops working.
    pub async fn revoke_invite(&self, id: &Wid) -> Result<String, CallError> {
        self.call("revokeInvite", &[json!(id)]).await
    }

    /// The group an invite code opens, as it shows before joining.
    pub async fn invite_info(&self, code: &str) -> Result<GroupInfo, CallError> {
        self.call("inviteInfo", &[json!(code)]).await
    }

    /// Joins by invite code; returns the group's id.
    /// Joins by an invite code: the group's id, and whether it is a
    /// request its admins have yet to approve.
    pub async fn join_group(&self, code: &str) -> Result<Joined, CallError> {
        self.call("joinGroup", &[json!(code)]).await
    }

    pub async fn set_subject(&self, id: &Wid, subject: &str) -> Result<(), CallError> {
        self.call::<Value>("setSubject", &[json!(id), json!(subject)])
            .await
            .map(drop)
    }

    /// An empty description removes it.
    pub async fn set_description(&self, id: &Wid, desc: &str) -> Result<(), CallError> {
        self.call::<Value>("setDescription", &[json!(id), json!(desc)])
            .await
            .map(drop)
    }

    /// Disappearing messages in a group: how long one lasts (s; 0 off).
    pub async fn set_group_ephemeral(&self, id: &Wid, secs: u32) -> Result<(), CallError> {
        self.call::<Value>("setGroupEphemeral", &[json!(id), json!(secs)])
            .await
            .map(drop)
    }

    pub async fn set_group_setting(
        &self,
        id: &Wid,
        setting: GroupSetting,
        on: bool,
    ) -> Result<(), CallError> {
        let property = match setting {
            GroupSetting::Announce => "announcement",
            GroupSetting::Restrict => "restrict",
        };
        self.call::<Value>("setGroupProperty", &[json!(id), json!(property), json!(on)])
            .await
            .map(drop)
    }

    /// `picture`: a data URL, or None to remove the group's picture.
    pub async fn set_group_picture(
        &self,
        id: &Wid,
        picture: Option<&str>,
    ) -> Result<(), CallError> {
        self.call::<Value>("setGroupPicture", &[json!(id), json!(picture)])
            .await
            .map(drop)
    }

    pub async fn leave_group(&self, id: &Wid) -> Result<(), CallError> {
        self.call::<Value>("leaveGroup", &[json!(id)])
            .await
            .map(drop)
    }

    /// Posts a text status (story) under the planned id `id`. A status's
    /// image or video goes by `send_file` to `status@broadcast`.
    pub async fn post_status(
        &self,
        id: &str,
        text: &str,
        style: &crate::domain::StatusStyle,
    ) -> Result<Sent, CallError> {
        self.call(
            "postStatus",
            &[
                json!(text),
                json!(style.background),
                json!(style.font),
                json!(id),
            ],
        )
        .await
    }

    pub async fn send_file(
        &self,
        to: &Wid,
        id: &str,
        file: &OutgoingFile<'_>,
        reply_to: Option<&str>,
    ) -> Result<Sent, CallError> {
        let opts = json!({"type": file.kind, "mimetype": file.mimetype, "filename": file.filename,
                          "caption": file.caption, "replyTo": reply_to, "ptt": file.voice, "messageId": id,
                          "mentions": file.mentions, "viewOnce": file.view_once, "gif": file.gif});
        // WhatsApp Web waits for a status to be up, then for its ack: up to
        // a minute.
        let within = match to.is_status() {
            true => self.timeout * 3,
            false => self.timeout,
        };
        // The base64 written into the call as it is (its alphabet needs no
        // escaping in a JS string): up to 85 MB, copied once here.
        // (Anything else is written as JSON: never code in the page.)
        let plain = file
            .b64
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        let mut expr = String::with_capacity(file.b64.len() + 1024);
        expr.push_str(&expression("sendFile", &[json!(to)]));
        expr.pop();
        expr.push(',');
        if plain {
            expr.push('"');
            expr.push_str(file.b64);
            expr.push('"');
        } else {
            expr.push_str(&json!(file.b64).to_string());
        }
        expr.push(',');
        expr.push_str(&opts.to_string());
        expr.push(')');
        self.run(within, "sendFile", expr).await
    }

    pub async fn send_location(
        &self,
        to: &Wid,
        id: &str,
        place: &crate::domain::Location,
        reply_to: Option<&str>,
    ) -> Result<Sent, CallError> {
        self.call(
            "sendLocation",
            &[json!(to), json!(place), json!(reply_to), json!(id)],
        )
        .await
    }

    /// Forwards a message this account has to `to`; answers the copy
    /// (WhatsApp Web gives it an id of its own, found by `kind`, the
    /// original's type when known). The page looks for the copy for half
    /// the call's time, so its answer comes before the call times out.
    pub async fn forward(
        &self,
        to: &Wid,
        message: &str,
        kind: Option<&str>,
    ) -> Result<Sent, CallError> {
        let wait = (self.timeout / 2).as_millis() as u64;
        self.call(
            "forward",
            &[json!(to), json!(message), json!(kind), json!(wait)],
        )
        .await
    }

    pub async fn send_poll(
        &self,
        to: &Wid,
        id: &str,
        poll: &crate::domain::Poll,
        reply_to: Option<&str>,
    ) -> Result<Sent, CallError> {
        let args = [
            json!(to),
            json!(poll.name),
            json!(poll.options),
            json!(poll.selectable),
            json!(reply_to),
            json!(id),
        ];
        self.call("sendPoll", &args).await
    }

    /// A private invite to `group` (`groups_v4_invite`), with the code
    /// WhatsApp made for `to`.
    #[allow(clippy::too_many_arguments)]
    pub async fn send_group_invite(
        &self,
        to: &Wid,
        id: &str,
        group: &Wid,
        code: &str,
        expires: Option<i64>,
        comment: Option<&str>,
        reply_to: Option<&str>,
    ) -> Result<Sent, CallError> {
        let invite = json!({"group": group, "code": code, "expires": expires});
        self.call(
            "sendGroupInvite",
            &[
                json!(to),
                invite,
                json!(comment),
                json!(reply_to),
                json!(id),
            ],
        )
        .await
    }

    pub async fn send_event(
        &self,
        to: &Wid,
        id: &str,
        event: &crate::domain::ScheduledEvent,
        reply_to: Option<&str>,
    ) -> Result<Sent, CallError> {
        self.call(
            "sendEvent",
            &[json!(to), json!(event), json!(reply_to), json!(id)],
        )
        .await
    }

    pub async fn send_contacts(
        &self,
        to: &Wid,
        id: &str,
        cards: &[CardOf],
        reply_to: Option<&str>,
    ) -> Result<Sent, CallError> {
        self.call(
            "sendContacts",
            &[json!(to), json!(cards), json!(reply_to), json!(id)],
        )
        .await
    }

    /// Reacts to a message; an empty emoji takes this account's reaction back.
    pub async fn react(&self, id: &str, emoji: &str) -> Result<(), CallError> {
        self.call::<Value>("react", &[json!(id), json!(emoji)])
            .await
            .map(drop)
    }

    pub async fn edit(&self, id: &str, text: &str) -> Result<(), CallError> {
        self.call::<Value>("edit", &[json!(id), json!(text)])
            .await
            .map(drop)
    }

    /// Deletes a message for this account only (its phone and devices);
    /// false when WhatsApp Web no longer has it.
    pub async fn delete_for_me(&self, chat: &str, id: &str) -> Result<bool, CallError> {
        self.call("deleteForMe", &[json!(chat), json!(id)]).await
    }

    /// Clears a chat (`remove`: deletes it); answers the ids it still has
    /// (the starred ones WhatsApp kept). `CHAT_NOT_FOUND` for one the
    /// account does not have.
    pub async fn clear_chat(
        &self,
        chat: &Wid,
        remove: bool,
        keep_starred: bool,
    ) -> Result<Vec<String>, CallError> {
        self.call(
            "clearChat",
            &[json!(chat), json!(remove), json!(keep_starred)],
        )
        .await
    }

    /// Stars or unstars a message; `MESSAGE_NOT_FOUND` when WhatsApp Web
    /// does not have it.
    pub async fn star(&self, id: &str, on: bool) -> Result<(), CallError> {
        self.call::<Value>("star", &[json!(id), json!(on)])
            .await
            .map(drop)
    }

    /// Pins (`on`) or unpins a message for everyone in its chat; answers
    /// the pin in force after (none once unpinned). Pinned already for
    /// another time: pinned again for this one. `MESSAGE_NOT_FOUND`,
    /// `NOT_PINNABLE`, `ONLY_ADMINS`, `NOT_MEMBER` when wa-js refuses.
    pub async fn pin_message(
        &self,
        id: &str,
        on: bool,
        duration: crate::domain::PinDuration,
    ) -> Result<Option<Pin>, CallError> {
        self.call(
            "pinMessage",
            &[
                json!(id),
                json!(on),
                json!(duration.name()),
                json!(duration.secs()),
            ],
        )
        .await
    }

    /// The privacy id and the phone WhatsApp pairs for a person, by either:
    /// `{lid, phone}`, each null where WhatsApp tells none.
    pub async fn lid_and_phone(&self, id: &Wid) -> Result<Value, CallError> {
        self.call("lidAndPhone", &[json!(id)]).await
    }

    /// Who got, read and played one of this account's messages;
    /// `MESSAGE_NOT_FOUND` when WhatsApp Web does not have it.
    pub async fn receipts(&self, id: &str) -> Result<Receipts, CallError> {
        self.call("receipts", &[json!(id)]).await
    }

    /// WhatsApp Web's own search of the messages it holds, newest first
    /// (`page` from 1); `more` when a next page may have more.
    pub async fn search(
        &self,
        query: &str,
        chat: Option<&Wid>,
        page: usize,
        count: usize,
    ) -> Result<HistoryBatch, CallError> {
        self.call(
            "search",
            &[json!(query), json!(chat), json!(page), json!(count)],
        )
        .await
    }

    /// The account's starred messages, newest first, older than `before`
    /// when given (`MESSAGE_NOT_FOUND` when WhatsApp Web lacks it,
    /// `NOT_STARRED` when it is not starred).
    pub async fn starred(
        &self,
        chat: Option<&Wid>,
        before: Option<&str>,
        count: usize,
    ) -> Result<HistoryBatch, CallError> {
        self.call("starred", &[json!(chat), json!(before), json!(count)])
            .await
    }

    /// The messages pinned in a chat, newest pin first.
    pub async fn pinned(&self, chat: &Wid) -> Result<Vec<Pin>, CallError> {
        self.call("pinned", &[json!(chat)]).await
    }

    /// Deletes one of this account's messages for everyone.
    pub async fn revoke(&self, chat: &str, id: &str) -> Result<(), CallError> {
        self.call::<Value>("revoke", &[json!(chat), json!(id)])
            .await
            .map(drop)
    }

    /// The id WhatsApp knows the number by, or None if it is not on WhatsApp.
    pub async fn exists(&self, id: &Wid) -> Result<Option<String>, CallError> {
        self.call("exists", &[json!(id)]).await
    }

    /// Declines a call that rings (wa-js `call.reject`); `CALL_NOT_FOUND`
    /// or `CALL_NOT_RINGING` when it does not.
    pub async fn reject_call(&self, id: &str) -> Result<(), CallError> {
        self.call::<Value>("rejectCall", &[json!(id)])
            .await
            .map(drop)
    }

    pub async fn mark_read(&self, chat: &Wid) -> Result<(), CallError> {
        self.call::<Value>("markRead", &[json!(chat)])
            .await
            .map(drop)
    }

    /// One chat, as `chats` lists it; `CHAT_NOT_FOUND` for one the
    /// account does not have.
    pub async fn chat(&self, id: &Wid) -> Result<ChatInfo, CallError> {
        self.call("chat", &[json!(id)]).await
    }

    pub async fn chats(&self) -> Result<Vec<ChatInfo>, CallError> {
        self.call("chats", &[]).await
    }

    /// Messages newer than `since` (unix s) in every chat, at most
    /// `per_chat` each, oldest first; and, back to `states_since`, this
    /// account's messages as `{id, chat, ack, states_only: true}` and
    /// deleted ones as `{id, chat, revoked: true}`. It walks every chat:
    /// 3× the timeout.
    pub async fn recent(
        &self,
        since: i64,
        per_chat: u32,
        states_since: i64,
    ) -> Result<Vec<Value>, CallError> {
        call(
            &self.page,
            self.within(self.timeout * 3),
            "recent",
            &[json!(since), json!(per_chat), json!(states_since)],
        )
        .await
    }

    /// The reactions and poll votes WhatsApp Web keeps on messages since
    /// `since` (unix s), the newest `most` messages with any: each
    /// `{id, chat, reactions: [{id, sender, text, from_me, timestamp}]}`
    /// or `{id, chat, votes: [{sender, selected, timestamp}]}`. The page
    /// looks for half the call's time and answers what it found by then.
    /// `known`: messages the daemon has reactions on, looked up too (a
    /// reaction list answered is all the message has now).
    pub async fn reacted(
        &self,
        since: i64,
        most: u32,
        known: &[String],
    ) -> Result<Reacted, CallError> {
        // Half of what the call may wait (a capped bridge's cap included).
        let budget = self.within(self.timeout).as_millis() as u64 / 2;
        self.call(
            "reacted",
            &[json!(since), json!(budget), json!(most), json!(known)],
        )
        .await
    }

    /// How many messages WhatsApp Web holds in memory.
    pub async fn loaded_messages(&self) -> Result<u64, CallError> {
        self.call("loadedMessages", &[]).await
    }

    /// Drops from WhatsApp Web's memory the messages written before
    /// `before` (unix s); they must be stored. What it dropped and kept.
    pub async fn trim_messages(&self, before: i64) -> Result<Trimmed, CallError> {
        self.call("trimMessages", &[json!(before)]).await
    }

    /// A message's media, base64, if it is at most `max` bytes (larger, the
    /// page refuses it before encoding it: `TOO_LARGE: `). A download from
    /// WhatsApp's servers may take longer than a call into the page:
    /// thrice the bound, as `recent`.
    pub async fn download_media(&self, id: &str, max: usize) -> Result<String, CallError> {
        self.call_within(self.timeout * 3, "downloadMedia", &[json!(id), json!(max)])
            .await
    }

    pub async fn logout(&self) -> Result<bool, CallError> {
        self.call("logout", &[]).await
    }

    /// Asks WhatsApp for a code to link this device by phone number.
    pub async fn pair_code(&self, phone: &str) -> Result<String, CallError> {
        self.call("pairCode", &[json!(phone)]).await
    }

    /// Liveness probe: a trivial evaluation under `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), CallError> {
        // A page without bridge.js yet answers too.
        let pulse = "window.__wabridge && window.__wabridge.pulse ? window.__wabridge.pulse() : 1";
        evaluate::<i64>(&self.page, timeout, pulse).await.map(drop)
    }

    pub fn page(&self) -> &Page {
        &self.page
    }
}

/// `window.__wabridge.<func>(...args)`, each argument's JSON written
/// straight into it (a file's base64 is copied once, not once per step).
fn expression(func: &str, args: &[Value]) -> String {
    use std::fmt::Write as _;
    let mut expr = format!("window.__wabridge.{func}(");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            expr.push(',');
        }
        let _ = write!(expr, "{a}");
    }
    expr.push(')');
    expr
}

/// `window.__wabridge.<func>(...args)`, awaited, under `timeout`.
async fn call<T: DeserializeOwned>(
    page: &Page,
    timeout: Duration,
    func: &str,
    args: &[Value],
) -> Result<T, CallError> {
    call_expr(page, timeout, func, expression(func, args)).await
}

/// A call built already (see `expression`), awaited, under `timeout`.
async fn call_expr<T: DeserializeOwned>(
    page: &Page,
    timeout: Duration,
    func: &str,
    expr: String,
) -> Result<T, CallError> {
    let started = std::time::Instant::now();
    let res = evaluate(page, timeout, expr).await;
    crate::telemetry::page_call(func, started.elapsed());
    match res {
        // bridge.js's prefix for a number it found not on WhatsApp.
        Err(CallError::Page(m)) => {
            if let Some(who) = m.strip_prefix("NOT_ON_WHATSAPP: ") {
                Err(CallError::NotOnWhatsApp(
                    who.trim_end_matches("@c.us").to_string(),
                ))
            } else if let Some(why) = m.strip_prefix("OFFLINE: ") {
                Err(CallError::Offline(why.to_string()))
            } else {
                Err(CallError::Page(m))
            }
        }
        other => other,
    }
}

pub async fn evaluate<T: DeserializeOwned>(
    page: &Page,
    timeout: Duration,
    expr: impl Into<String>,
) -> Result<T, CallError> {
    use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
    let params = EvaluateParams::builder()
        .expression(expr.into())
        .await_promise(true)
        .return_by_value(true)
        .build()
        .map_err(CallError::Page)?;
    let res = tokio::time::timeout(timeout, page.evaluate_expression(params))
        .await
        .map_err(|_| CallError::Timeout(timeout))?;
    match res {
        // `null` and `undefined` come back without a value.
        Ok(r) => serde_json::from_value(r.value().cloned().unwrap_or(Value::Null))
            .map_err(|e| CallError::Page(format!("unexpected answer from the page: {e}"))),
        Err(chromiumoxide::error::CdpError::JavascriptException(e)) => Err(CallError::Page(
            e.exception
                .as_ref()
                .and_then(|x| x.description.clone())
                .unwrap_or(e.text.clone())
                .lines()
                .next()
                .unwrap_or("error in page")
                .trim_start_matches("Error: ")
                .to_string(),
        )),
        // chromiumoxide's own bound on a command: no answer, as above.
        Err(chromiumoxide::error::CdpError::Timeout) => Err(CallError::Timeout(timeout)),
        Err(e) => Err(CallError::Browser(e.to_string())),
    }
}

/// The wa-js members bridge.js calls that every session needs: its `NEEDS`
/// list (the contract test keeps it and `WANTS` equal to what the code
/// calls).
pub fn needs() -> Vec<String> {
    members("NEEDS")
}

/// What only one feature needs (`WANTS`): lacking one turns that feature
/// off, not the session.
pub fn wants() -> Vec<String> {
    members("WANTS")
}

fn members(list: &str) -> Vec<String> {
    let head = format!("const {list} = [");
    let Some(start) = BRIDGE_JS.find(&head) else {
        return Vec::new();
    };
    let rest = &BRIDGE_JS[start + head.len()..];
    let list = &rest[..rest.find("];").unwrap_or(0)];
    list.split(',')
        .map(|s| s.trim().trim_matches('\'').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Injects wa-js into a page that has no `window.WPP` (real WhatsApp Web;
/// the sandbox brings its own). Returns whether it injected.
pub async fn inject_wajs_if_missing(
    page: &Page,
    timeout: Duration,
    src: &str,
) -> Result<bool, CallError> {
    let missing: bool = evaluate(page, timeout, "typeof window.WPP === 'undefined'").await?;
    if missing {
        evaluate::<Value>(page, timeout, &format!("{src}\n;true")).await?;
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_its_arguments_json_in_order() {
        let e = expression("f", &[json!("a\"b);x()//"), json!(1), json!({"k": null})]);
        assert_eq!(e, r#"window.__wabridge.f("a\"b);x()//",1,{"k":null})"#);
        assert_eq!(expression("g", &[]), "window.__wabridge.g()");
    }

    #[test]
    fn a_pages_times_are_kept_between_1970_and_2100() {
        let ev: BridgeEvent = serde_json::from_value(serde_json::json!(
            {"type": "reaction", "msg_id": "m", "timestamp": i64::MAX}))
        .unwrap();
        let BridgeEvent::Reaction { timestamp, .. } = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(timestamp, Some(4_102_444_800));
        let sent: Sent =
            serde_json::from_value(serde_json::json!({"id": "x", "timestamp": -5})).unwrap();
        assert_eq!(sent.timestamp, Some(0));
        let sent: Sent = serde_json::from_value(serde_json::json!({"id": "x"})).unwrap();
        assert_eq!(sent.timestamp, None);
        let pin: Pin = serde_json::from_value(
            serde_json::json!({"id": "x", "at": i64::MIN, "expires_at": i64::MAX}),
        )
        .unwrap();
        assert_eq!((pin.at, pin.expires_at), (0, 4_102_444_800));
    }

    #[test]
    fn needs_lists_what_bridge_js_calls() {
        let n = needs();
        assert!(n.len() > 30, "{n:?}");
        for m in [
            "chat.sendTextMessage",
            "conn.getAuthCode",
            "isReady",
            "version",
        ] {
            assert!(n.iter().any(|x| x == m), "{m} in {n:?}");
        }
        assert!(
            n.iter().all(|m| !m.contains('\'') && !m.contains(' ')),
            "{n:?}"
        );
        let w = wants();
        assert!(
            w.iter().any(|x| x == "whatsapp.functions.msgFindSearch"),
            "{w:?}"
        );
        assert!(w.iter().all(|x| !n.contains(x)), "{w:?}");
    }

    #[test]
    fn parses_batches_and_ignores_unknown() {
        let evs = parse_batch(
            r#"[{"type":"auth_code","code":"2@x,a,b,c"},{"type":"connected","me":{"id":"1@c.us","phone":"1","name":null},"platform":"android"},{"type":"whatever"},{"type":"online","online":false}]"#,
        );
        assert!(matches!(&evs[0], BridgeEvent::AuthCode { code: Some(c) } if c == "2@x,a,b,c"));
        assert!(matches!(&evs[1], BridgeEvent::Connected { .. }));
        assert!(matches!(&evs[2], BridgeEvent::Unknown));
        assert!(matches!(&evs[3], BridgeEvent::Online { online: false }));
        assert!(parse_batch("not json").is_empty());
    }
}
