//! What the page reports about messages becomes stored messages and their
//! events: new messages (with their media kept on disk), acks, revokes, and
//! the catch-up that closes the gap a crash leaves between the page seeing a
//! message and the store keeping it.

use super::bridge::{Bridge, BridgeEvent, CallError};
use super::{MediaError, SessionEnv};
use crate::domain::chat::{chat_removed_event, chat_update_event};
use crate::domain::{
    Ack, Amendment, ChatField, GroupChange, GroupSetting, IncomingCall, Message, Reaction,
    SessionId, Vote, message, now_ms,
};
use crate::store::Op;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

/// How far before the newest stored message a catch-up looks: covers
/// messages whose timestamp (the sender's clock) is older than one already
/// stored, e.g. delivered late. Duplicates are dropped by id.
const CATCH_UP_OVERLAP_S: i64 = 600;

/// The page keeps its copies of messages written in the last minute.
const PAGE_KEEPS_S: i64 = 60;

/// How far before the watermark catch-up still looks for what changed on
/// this account's messages (a read receipt may come days after a send) and
/// for deletes.
const CATCH_UP_STATES_S: i64 = 3 * 86_400;

/// At most this many of each chat's newest messages are caught up.
const CATCH_UP_PER_CHAT: u32 = 200;
/// Pages of 500 stored messages looked through for sends the browser lost.
const LOST_SENDS_PAGES: usize = 10;

/// Where catch-up stops looking back for a link made at `linked_at`: a
/// minute before it, or the earliest stamp of a message of the link
/// stamped before it (`early_floor`, itself bounded).
fn link_floor(linked_at: i64, early_floor: Option<i64>) -> i64 {
    let floor = catch_up_since(None, linked_at);
    early_floor.map_or(floor, |e| e.min(floor))
}

/// The catch-up watermark for a browser life that begins now.
pub fn catch_up_since(newest_stored: Option<i64>, now: i64) -> i64 {
    match newest_stored {
        // A sender's clock ahead of ours must not put the mark in the
        // future, where no catch-up would find anything.
        Some(ts) => ts.min(now) - CATCH_UP_OVERLAP_S,
        // Never stored anything: don't replay the account's whole history.
        None => now - 60,
    }
}

pub struct Inbound {
    id: SessionId,
    env: Arc<SessionEnv>,
    /// Set on (re)connect: fetch what the page saw that we may have missed.
    pub catch_up_due: bool,
    /// The last catch-up failed: try again on the next health tick.
    catch_up_retry: bool,
    /// Where catch-ups of this browser life start (unix s). Fixed when the
    /// life begins, before it stores anything: messages of this life that
    /// are stored before a catch-up runs must not move it past the gap a
    /// crash left behind.
    catch_up_since: i64,
    /// A catch-up from `catch_up_since` has yet to succeed: a new browser
    /// life keeps the older watermark rather than skip what it had to read.
    owes_catch_up: bool,
    /// This life's account is not linked yet (it began on the QR, or was
    /// unlinked since): its watermark is set afresh when it is.
    unlinked: bool,
    /// Changes the store did not take (a full disk): offered again on each
    /// health tick. Catch-up finds messages again, but not acks, edits,
    /// reactions, deletes or votes: those are kept here until stored.
    unstored: Vec<Op>,
    /// A media download timed out: none is tried before this.
    downloads_paused_until: Option<Instant>,
    /// The session is being stopped (`LiveState::leaving`): no media is
    /// downloaded, and one under way is left.
    pub leaving: Arc<std::sync::atomic::AtomicBool>,
    /// When to look over the page's reactions and votes once more after a
    /// catch-up (`reactions_pass`).
    reactions_recheck: Option<Instant>,
    /// Calls already announced, newest last: WhatsApp offers a ringing
    /// call again to a page that reloads or a browser that comes back.
    calls_heard: std::collections::VecDeque<String>,
    /// Stored reactions (message, sender) the last reactions pass did not
    /// find on the page: taken back if the next pass misses them too.
    taken_back_suspects: std::collections::HashSet<(String, String)>,
    /// Chats deleted in the batch being taken in: each with where its
    /// removal stands among the batch's changes.
    removed_chats: Vec<(String, usize)>,
    /// Chats deleted whose stored messages go once the event that tells
    /// of it is stored: each with the ids of its messages that came after
    /// the removal (a new chat's), which stay.
    forget_owed: Vec<(String, std::collections::HashSet<String>)>,
    /// The session's `linked_at` and `early_floor`, as this life last knew
    /// them.
    linked_at: Option<i64>,
    early_floor: Option<i64>,
}

/// How many calls `calls_heard` remembers.
const CALLS_HEARD: usize = 64;

/// The most messages a reactions pass looks up (newest first).
const REACTIONS_LOOKED_UP: u32 = 200;
/// How far back the store is read for messages with reactions (pages of
/// 200): a busy session's newest, not its whole life.
const REACTIONS_SCAN_PAGES: usize = 5;
/// A stored reaction this recent may have come after the page was asked:
/// not taken as taken back.
const TAKEN_BACK_MARGIN_S: i64 = 5;

/// How long after a catch-up its reactions pass runs again.
const REACTIONS_RECHECK: std::time::Duration = std::time::Duration::from_secs(20);

/// The driver's health tick (10 s) that runs a due pass comes at about
/// the same moments after a connect as the pass fell due: a tick this
/// early still runs it, instead of the pass waiting a whole tick more.
const RECHECK_SLACK: std::time::Duration = std::time::Duration::from_secs(1);

/// How long inbound media is not fetched after a download timed out.
const DOWNLOAD_PAUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// Changes kept for a store that refuses them, at most; beyond it the
/// newest are dropped (and counted in the log).
const UNSTORED_MAX: usize = 50_000;

impl Inbound {
    pub fn new(id: SessionId, env: Arc<SessionEnv>) -> Self {
        Inbound {
            id,
            env,
            catch_up_due: false,
            catch_up_retry: false,
            catch_up_since: 0,
            owes_catch_up: false,
            unlinked: false,
            unstored: Vec::new(),
            downloads_paused_until: None,
            leaving: Default::default(),
            calls_heard: std::collections::VecDeque::new(),
            reactions_recheck: None,
            taken_back_suspects: Default::default(),
            removed_chats: Vec::new(),
            forget_owed: Vec::new(),
            linked_at: None,
            early_floor: None,
        }
    }

    /// A new browser life begins: fix its catch-up watermark.
    pub fn begin_life(&mut self) {
        // A new page: its downloads may answer again.
        self.downloads_paused_until = None;
        let record = self.env.records.get(&self.id);
        let newest = self.env.store.last_message_ts(&self.id).ok().flatten();
        let fresh = catch_up_since(newest, now_ms() / 1000);
        // Never past where the link's first life looked back from: what
        // the page holds from before was another link's, or the account's
        // history while no device here was linked (a logout, a scan days
        // later), not messages missed.
        self.linked_at = record.as_ref().and_then(|r| r.linked_at);
        self.early_floor = record.as_ref().and_then(|r| r.early_floor);
        let floor = self.linked_at.map(|t| link_floor(t, self.early_floor));
        self.unlinked = record.is_none_or(|r| r.me.is_none());
        // What an earlier life owes: this driver's, or one of an earlier
        // run of the session (a restart, a stop and start) kept with it.
        let owed = if self.owes_catch_up {
            Some(self.catch_up_since)
        } else {
            self.env.records.get(&self.id).and_then(|r| r.owed_catch_up)
        };
        let since = owed.map_or(fresh, |o| o.min(fresh));
        self.catch_up_since = floor.map_or(since, |f| since.max(f));
        self.owes_catch_up = true;
        self.keep_owed();
        self.catch_up_due = false;
        self.catch_up_retry = false;
    }

    /// Turns a message, ack or revoke into store changes. False for any
    /// other event (the driver's business).
    pub async fn take(&mut self, bridge: &Bridge, ev: &BridgeEvent, ops: &mut Vec<Op>) -> bool {
        match ev {
            BridgeEvent::Message { msg } => self.message_op(bridge, msg, ops).await,
            BridgeEvent::Ack { ack, chat, ids } => {
                let ack = Ack::from_wa(*ack);
                let chat = chat.as_deref().unwrap_or_default();
                let me = self.me();
                for id in ids {
                    // Carried only where the ack rises (one that does not
                    // is no event: the store drops it).
                    let acked = self
                        .stored_or_taking(id, ops)
                        .filter(|m| ack > m.ack || (ack == Ack::Failed && m.ack != Ack::Failed));
                    let event = self.ack_event(id, chat, me.as_deref(), ack, acked.as_ref());
                    ops.push(Op::Ack {
                        session: self.id.clone(),
                        id: id.clone(),
                        ack,
                        event,
                    });
                }
            }
            BridgeEvent::Revoke { id: Some(id), chat } => {
                let chat = chat.as_deref().unwrap_or("");
                let change = Amendment::Revoke {
                    at: now_ms() / 1000,
                };
                // The event carries the message as it will be stored.
                let revoked = self
                    .env
                    .store
                    .message(&self.id, id)
                    .ok()
                    .flatten()
                    .map(|mut m| {
                        m.amend(&change);
                        m
                    });
                ops.push(Op::Amend {
                    session: self.id.clone(),
                    id: id.clone(),
                    change,
                    event: message::revoke_event(
                        &self.id,
                        id,
                        chat,
                        revoked.as_ref(),
                        self.me().as_deref(),
                    ),
                });
            }
            BridgeEvent::PollVote {
                msg_id: Some(target),
                chat,
                sender,
                selected,
                timestamp,
            } => ops.push(self.vote_op(
                target,
                chat.as_deref().unwrap_or(""),
                sender.clone().unwrap_or_default(),
                selected,
                timestamp.unwrap_or(now_ms() / 1000),
            )),
            BridgeEvent::Labels {
                chat: Some(chat),
                action,
                labels,
                ids,
            } => ops.push(Op::Event(message::chat_labels_event(
                &self.id, chat, action, labels, ids,
            ))),
            BridgeEvent::Chat { changed, chat } => {
                if let Some(field) = ChatField::parse(changed) {
                    let chat = serde_json::to_value(chat).unwrap_or_default();
                    ops.push(Op::Event(chat_update_event(&self.id, field, &chat)));
                }
            }
            BridgeEvent::ChatRemoved {
                chat: Some(chat),
                name,
            } => {
                // An operator's archive keeps what agents delete.
                if !self.env.config.keep_deleted_chats {
                    self.removed_chats.push((chat.clone(), ops.len()));
                }
                ops.push(Op::Event(chat_removed_event(
                    &self.id,
                    chat,
                    name.as_deref(),
                    now_ms() / 1000,
                )));
            }
            BridgeEvent::MembershipRequest {
                id,
                group: Some(group),
                requester: Some(requester),
                timestamp,
            } => ops.push(Op::Event(message::membership_request_event(
                &self.id,
                id.as_deref(),
                group,
                requester,
                timestamp.unwrap_or(now_ms() / 1000),
            ))),
            BridgeEvent::Call {
                id,
                from,
                is_video,
                is_group,
                timestamp,
                sender,
            } => {
                if self.calls_heard.contains(id) {
                    return true;
                }
                if self.calls_heard.len() >= CALLS_HEARD {
                    self.calls_heard.pop_front();
                }
                self.calls_heard.push_back(id.clone());
                // A number to call back or write to, when WhatsApp tells it.
                let from = match &sender.phone {
                    Some(p) if from.ends_with("@lid") => format!("{p}@c.us"),
                    _ => from.clone(),
                };
                let call = IncomingCall {
                    id: id.clone(),
                    phone: sender
                        .phone
                        .clone()
                        .or_else(|| from.strip_suffix("@c.us").map(String::from)),
                    lid: sender.lid.clone(),
                    from,
                    video: *is_video,
                    group: *is_group,
                    offered_at: timestamp.unwrap_or(now_ms() / 1000),
                };
                ops.push(Op::Event(call.event(&self.id)));
            }
            BridgeEvent::Presence {
                id: Some(id),
                state,
                online,
                timestamp,
                participants,
            } => {
                ops.push(Op::Event(message::presence_event(
                    &self.id,
                    id,
                    state.as_deref(),
                    *online,
                    timestamp.unwrap_or(now_ms() / 1000),
                    participants.as_deref(),
                )));
            }
            BridgeEvent::GroupParticipants {
                group: Some(group),
                action,
                author,
                participants,
                info,
            } => {
                let mut ev = message::group_participants_event(
                    &self.id,
                    group,
                    action,
                    author.as_deref(),
                    participants,
                    self.me().as_deref(),
                );
                // Only an object: what the page said of the group, as is.
                if let Some(info) = info.as_ref().filter(|i| i.is_object()) {
                    ev.payload["group_info"] = info.clone();
                }
                ops.push(Op::Event(ev));
            }
            BridgeEvent::GroupUpdate {
                id,
                group: Some(group),
                subject,
                description,
                announce,
                restrict,
                picture,
                author,
                timestamp,
            } => {
                let change = match (subject, description, announce, restrict, picture) {
                    (Some(s), ..) => Some(GroupChange::Subject(s.clone())),
                    (_, Some(d), ..) => Some(GroupChange::Description(d.clone())),
                    (_, _, Some(on), ..) => Some(GroupChange::Setting(GroupSetting::Announce, *on)),
                    (_, _, _, Some(on), _) => {
                        Some(GroupChange::Setting(GroupSetting::Restrict, *on))
                    }
                    (.., Some(set)) => Some(GroupChange::Picture(*set)),
                    _ => None,
                };
                if let Some(change) = change {
                    ops.push(Op::Event(message::group_update_event(
                        &self.id,
                        group,
                        id.as_deref(),
                        &change,
                        author.as_deref(),
                        timestamp.unwrap_or(now_ms() / 1000),
                        self.me().as_deref(),
                    )));
                }
            }
            BridgeEvent::Edit {
                id: Some(id),
                chat,
                text,
                timestamp,
            } => {
                let at = timestamp.unwrap_or(now_ms() / 1000);
                let chat = chat.as_deref().unwrap_or("");
                ops.push(Op::Amend {
                    session: self.id.clone(),
                    id: id.clone(),
                    change: Amendment::Edit {
                        text: text.clone(),
                        at,
                    },
                    event: message::edit_event(&self.id, id, chat, text, at, self.me().as_deref()),
                });
            }
            BridgeEvent::Reaction {
                id,
                msg_id: Some(target),
                chat,
                sender,
                sender_phone,
                from_me,
                text,
                timestamp,
            } => {
                let r = Reaction {
                    sender: sender.clone().unwrap_or_default(),
                    emoji: text.clone(),
                    from_me: *from_me,
                    timestamp: timestamp.unwrap_or(now_ms() / 1000),
                };
                let mut op =
                    self.reaction_op(id.as_deref(), target, chat.as_deref().unwrap_or(""), r, ops);
                if let (Op::Amend { event, .. }, Some(phone)) = (&mut op, sender_phone) {
                    event.payload["sender_phone"] = serde_json::json!(phone);
                }
                ops.push(op);
            }
            _ => return false,
        }
        true
    }

    /// A vote in a poll, by option indexes: the stored poll names them,
    /// and the event carries the tally with this vote.
    fn vote_op(&self, target: &str, chat: &str, voter: String, selected: &[usize], at: i64) -> Op {
        let mut poll = self
            .env
            .store
            .message(&self.id, target)
            .ok()
            .flatten()
            .and_then(|m| m.poll);
        self.vote_with(target, chat, voter, selected, at, &mut poll)
    }

    /// As `vote_op`, on a tally the caller keeps (several votes found at
    /// once each carry the tally with the ones before).
    fn vote_with(
        &self,
        target: &str,
        chat: &str,
        voter: String,
        selected: &[usize],
        at: i64,
        poll: &mut Option<crate::domain::Poll>,
    ) -> Op {
        let options = poll.as_ref().map(|p| p.options.clone()).unwrap_or_default();
        let v = Vote {
            voter,
            selected: selected
                .iter()
                .map(|i| options.get(*i).cloned().unwrap_or_else(|| i.to_string()))
                .collect(),
            timestamp: at,
        };
        // The tally with this vote, as the store will hold it.
        if let Some(p) = poll.as_mut() {
            match p.votes.iter().position(|old| old.voter == v.voter) {
                Some(i) => p.votes[i] = v.clone(),
                None => p.votes.push(v.clone()),
            }
        }
        Op::Amend {
            session: self.id.clone(),
            id: target.to_string(),
            event: message::vote_event(&self.id, target, chat, &v, poll.as_ref()),
            change: Amendment::Vote(v),
        }
    }

    /// A reaction, named by its own id when the page gives it (so the same
    /// reaction heard live and found by catch-up is one event).
    /// `ops`: the batch so far (the event carries the message as the
    /// store will have it, with the batch's reactions before this one).
    fn reaction_op(
        &self,
        id: Option<&str>,
        target: &str,
        chat: &str,
        r: Reaction,
        ops: &[Op],
    ) -> Op {
        let rid = id
            .map(String::from)
            .unwrap_or_else(|| format!("{target}/{}", r.sender));
        let before = self.as_it_will_be(target, ops);
        Op::Amend {
            session: self.id.clone(),
            id: target.to_string(),
            event: message::reaction_event(
                &self.id,
                &rid,
                target,
                chat,
                self.me().as_deref(),
                &r,
                before.as_ref(),
            ),
            change: Amendment::React(r),
        }
    }

    /// The message `id` as the store will have it once the batch so far
    /// is written: as stored or taken, with the batch's changes to it.
    fn as_it_will_be(&self, id: &str, ops: &[Op]) -> Option<Message> {
        let mut m = self.stored_or_taking(id, ops)?;
        for op in ops {
            if let Op::Amend { id: of, change, .. } = op
                && of == id
            {
                m.amend(change);
            }
        }
        Some(m)
    }

    /// An ack of our message as its event, with the message and the
    /// tracker its send carried (`tracker`), if it did.
    fn ack_event(
        &self,
        id: &str,
        chat: &str,
        me: Option<&str>,
        ack: Ack,
        acked: Option<&Message>,
    ) -> crate::domain::Event {
        let mut ev = message::ack_event(&self.id, id, chat, me, ack, acked);
        if let Ok(Some(t)) = self.env.store.tracker(&self.id, id) {
            ev.payload["tracker"] = t.into();
        }
        ev
    }

    /// The message `id` as stored, else as this batch is about to store it
    /// (a send's first ack can come with the message itself; the store
    /// keeps the copy it has over one seen again).
    fn stored_or_taking(&self, id: &str, ops: &[Op]) -> Option<Message> {
        self.env
            .store
            .message(&self.id, id)
            .ok()
            .flatten()
            .or_else(|| {
                ops.iter().find_map(|op| match op {
                    Op::Message { msg, .. } if msg.id == id => Some(msg.clone()),
                    _ => None,
                })
            })
    }

    /// The account's own id, once linked.
    fn me(&self) -> Option<String> {
        self.env
            .records
            .get(&self.id)
            .and_then(|r| r.me)
            .map(|m| m.id)
    }

    /// A message from the page becomes a stored message and its events;
    /// inbound media is fetched from the page and kept on disk first.
    /// A message of this link stamped `ts` (unix s). One stamped before the
    /// link (a sender's clock behind ours, one written offline and sent
    /// later) lowers the floor to it, by at most the catch-up overlap: a
    /// later life's catch-up reaches back to such stamps, or one like it
    /// that a crash left unstored would never be found; but not to days
    /// before the link, whose history a contact's late message must not
    /// have replayed.
    fn heard_stamped(&mut self, ts: i64) {
        let Some(at) = self.linked_at else { return };
        let low = ts.max(at - CATCH_UP_OVERLAP_S);
        if low >= link_floor(at, self.early_floor) {
            return;
        }
        self.early_floor = Some(low);
        tracing::debug!(session = %self.id, "a message stamped {}s before the link", at - ts);
        self.env.records.update(&self.id, |r| {
            if r.linked_at == Some(at) {
                r.early_floor = Some(r.early_floor.map_or(low, |f| f.min(low)));
            }
        });
    }

    async fn message_op(&mut self, bridge: &Bridge, raw: &Value, ops: &mut Vec<Op>) {
        let Some(mut msg) = Message::from_bridge(&self.id, raw) else {
            tracing::debug!(session = %self.id, "ignoring a message without id or chat");
            return;
        };
        self.heard_stamped(msg.timestamp);
        // (A contact's 2 GB document would be held in the page and here.)
        let too_large = msg.media.as_ref().is_some_and(super::too_large_to_keep);
        if too_large && !msg.from_me {
            tracing::info!(session = %self.id, "media not kept: larger than {} MB", super::MAX_MEDIA >> 20);
        } else if msg.view_once && !msg.from_me {
            // WhatsApp gives a linked device none of it: the phone opens it.
            tracing::debug!(session = %self.id, msg = %msg.id, "media not kept: to be viewed once");
        } else if msg.media.is_some() && !msg.from_me {
            match self.download_media(bridge, &msg.id).await {
                Ok((size, sha256)) => {
                    if let Some(m) = msg.media.as_mut() {
                        m.size = Some(size);
                        m.sha256 = Some(sha256);
                    }
                }
                Err(e) => tracing::warn!(session = %self.id, "media not kept: {e}"),
            }
        }
        // A reply to a menu we sent: which option it picked. A menu is
        // answered while it is our last word in the chat: what we send
        // after it (from here or the phone) ends it, so a later "2" to
        // another question is text again; and a reply quoting another
        // message answers that one.
        if (msg.from_me || msg.text.is_some())
            && let Ok(Some(menu)) = self.env.store.menu(&self.id, &msg.chat)
        {
            if msg.from_me {
                // Sent with or after it (WhatsApp's clock is in seconds):
                // one of ours from before it, reported late (a slow page,
                // a catch-up), must not end it.
                if msg.timestamp >= menu.sent_at
                    && menu.message_id.as_deref() != Some(msg.id.as_str())
                    && let Err(e) = self.env.store.delete_menu(&self.id, &msg.chat)
                {
                    tracing::warn!(session = %self.id, "an answered menu could not be dropped: {e}");
                }
            } else if msg.reply_to.is_none() || msg.reply_to == menu.message_id {
                msg.choice = menu.pick(msg.text.as_deref().unwrap_or_default());
            }
        }
        let events = msg.events();
        ops.push(Op::Message {
            msg,
            events,
            history: false,
        });
    }

    /// Keeps an inbound message's media on disk: its size and SHA-256.
    async fn download_media(&mut self, bridge: &Bridge, id: &str) -> Result<(u64, String), String> {
        use sha2::{Digest, Sha256};
        if self
            .downloads_paused_until
            .is_some_and(|t| Instant::now() < t)
        {
            return Err("the page stopped answering: fetched when asked for".into());
        }
        // A stop waits for the round to be stored, not for its media (a
        // slow download takes up to a minute, and the stop's wait is half
        // that): what is left is fetched when a client asks.
        let stop = self.until_leaving();
        let fetched = tokio::select! {
            r = self.env.keep_media(bridge, &self.id, id, false) => Some(r),
            _ = stop => None,
        };
        let Some(fetched) = fetched else {
            return Err("the session is stopping: fetched when asked for".into());
        };
        let bytes = match fetched {
            Ok(bytes) => bytes,
            Err(e) => {
                // A page that does not answer would hold every message of
                // a batch for a page timeout each: the rest wait for a
                // client to ask (the API fetches media not kept), while
                // the health check decides about the page.
                if matches!(e, MediaError::Page(CallError::Timeout(_))) {
                    self.downloads_paused_until = Some(Instant::now() + DOWNLOAD_PAUSE);
                }
                return Err(e.to_string());
            }
        };
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect();
        Ok((bytes.len() as u64, hex))
    }

    /// Durable before anything else sees it.
    pub async fn commit(&mut self, ops: Vec<Op>) {
        // A deleted chat's messages go: those stored before, and those of
        // this batch before its removal; one after it is a new chat's, as
        // is every one of a batch after it while its forgetting is owed.
        for (chat, after) in &mut self.forget_owed {
            after.extend(ops.iter().filter_map(|op| match op {
                Op::Message { msg, .. } if msg.chat == *chat => Some(msg.id.clone()),
                _ => None,
            }));
        }
        for (chat, at) in std::mem::take(&mut self.removed_chats) {
            let after = ops[at..]
                .iter()
                .filter_map(|op| match op {
                    Op::Message { msg, .. } if msg.chat == chat => Some(msg.id.clone()),
                    _ => None,
                })
                .collect();
            self.forget_owed.push((chat, after));
        }
        // What the store refused before goes first: a later change (an
        // ack, an edit, the next message of a chat) must not be stored and
        // told before what it follows.
        let ops = if self.unstored.is_empty() {
            ops
        } else {
            let mut all = std::mem::take(&mut self.unstored);
            all.extend(ops);
            all
        };
        let stored = self.env.pipeline.commit(ops).await;
        // Only once every event before is stored: a batch kept for the
        // store holds the removal's event, or messages from before it.
        if stored.is_ok() {
            self.forget_removed_chats().await;
        }
        if let Err(e) = stored {
            // Not acknowledged anywhere: kept and offered again on the next
            // health tick, with a catch-up (this life's watermark is before
            // them), until the store takes them (a full disk).
            tracing::error!(session = %self.id, "could not store events: {e}");
            self.keep_unstored(e.ops);
            self.catch_up_retry = true;
        }
    }

    /// A chat deleted on the phone, another device or here leaves the
    /// stored history once the event that tells of it is stored, as
    /// WhatsApp Web no longer has it: what came before the deletion, with
    /// the media kept of it. (The events already logged and delivered stay
    /// until their retention.) One the store refuses stays owed.
    async fn forget_removed_chats(&mut self) {
        let mut gone = Vec::new();
        for (chat, after) in std::mem::take(&mut self.forget_owed) {
            match self
                .env
                .store
                .forget_chat(&self.id, &chat, &after, i64::MAX)
            {
                Ok(ids) => {
                    tracing::info!(session = %self.id, messages = ids.len(), "a chat was deleted: its messages left the history");
                    gone.extend(ids);
                }
                Err(e) => {
                    tracing::error!(session = %self.id, "could not take a deleted chat's messages out of the history: {e}");
                    self.forget_owed.push((chat, after));
                }
            }
        }
        if gone.is_empty() {
            return;
        }
        // Durable before the media go: a crash must not bring back rows
        // whose media are gone (a store that cannot flush keeps them).
        if let Err(e) = self.env.store.flush().await {
            tracing::error!(session = %self.id, "could not make a deleted chat's removal durable: {e}");
            return;
        }
        for id in &gone {
            let _ = tokio::fs::remove_file(self.env.media_path(&self.id, id)).await;
        }
    }

    fn keep_unstored(&mut self, ops: Vec<Op>) {
        let room = UNSTORED_MAX.saturating_sub(self.unstored.len());
        if ops.len() > room {
            tracing::error!(session = %self.id, dropped = ops.len() - room, "the store refuses changes for too long: dropping the newest");
        }
        self.unstored.extend(ops.into_iter().take(room));
    }

    pub async fn catch_up_if_due(&mut self, bridge: &Bridge) {
        if self.catch_up_due {
            self.catch_up_due = false;
            self.run_catch_up(bridge).await;
        }
    }

    /// Messages written before this (unix s) that the page holds are
    /// stored: every message the page reported has been committed, and
    /// what it held at connect was caught up. The page's copies may go
    /// (it also keeps those that arrived in the last minute, whose events
    /// may still be on their way). None while a catch-up is due or waits
    /// to be retried: it reads the page.
    pub fn stored_before(&self) -> Option<i64> {
        if self.catch_up_due || self.catch_up_retry || !self.unstored.is_empty() {
            return None;
        }
        Some(now_ms() / 1000 - PAGE_KEEPS_S)
    }

    /// A catch-up failed and waits for the next health tick.
    pub fn catch_up_pending(&self) -> bool {
        self.catch_up_retry || !self.unstored.is_empty() || !self.forget_owed.is_empty()
    }

    pub async fn retry_catch_up(&mut self, bridge: &Bridge) {
        if !self.unstored.is_empty() {
            let ops = std::mem::take(&mut self.unstored);
            if let Err(e) = self.env.pipeline.commit(ops).await {
                self.keep_unstored(e.ops);
                return;
            }
        }
        // The deleted chats' events are stored now.
        if !self.forget_owed.is_empty() {
            self.forget_removed_chats().await;
        }
        if self.catch_up_retry {
            self.run_catch_up(bridge).await;
        } else if self.reactions_recheck_due() {
            self.reactions_recheck = None;
            self.reactions_pass(bridge).await;
            // A reaction seen missing once is looked at again.
            if !self.taken_back_suspects.is_empty() {
                self.reactions_recheck = Some(Instant::now() + REACTIONS_RECHECK);
            }
        }
    }

    /// The second look over reactions and votes is due.
    pub fn reactions_recheck_due(&self) -> bool {
        self.reactions_recheck
            .is_some_and(|at| Instant::now() + RECHECK_SLACK >= at)
    }

    /// Ends when the session is being stopped (`leaving`).
    fn until_leaving(&self) -> impl std::future::Future<Output = ()> + use<> {
        let leaving = self.leaving.clone();
        async move {
            while !leaving.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }

    async fn run_catch_up(&mut self, bridge: &Bridge) {
        // A stop does not wait for a slow catch-up (the page may take a
        // minute to read back a long history): it is owed, and the next
        // life does it, from the same watermark.
        let stop = self.until_leaving();
        let ok = tokio::select! {
            ok = self.catch_up(bridge) => ok,
            _ = stop => false,
        };
        self.catch_up_retry = !ok;
        if ok {
            let stop = self.until_leaving();
            tokio::select! {
                _ = self.reactions_pass(bridge) => {}
                _ = stop => {}
            }
            self.reactions_recheck = Some(Instant::now() + REACTIONS_RECHECK);
        }
        if ok && self.owes_catch_up {
            self.owes_catch_up = false;
            self.env
                .records
                .update(&self.id, |r| r.owed_catch_up = None);
        } else if !ok && !self.owes_catch_up {
            // A later catch-up of this life (back online) that failed: owed
            // from the same watermark, by this run and the next.
            self.owes_catch_up = true;
            self.keep_owed();
        }
    }

    /// Keeps the catch-up owed with the session, for a linked one only: an
    /// account that was never linked has no history to catch up on, and
    /// one linked later must not have the days since replayed.
    /// The account was unlinked in this life (a QR after a link, a
    /// logout): what was owed was the old link's.
    pub fn unlinked_now(&mut self) {
        self.unlinked = true;
    }

    /// The account is linked: a life that began unlinked (or was since)
    /// looks back from the link, not from when it began nor from what an
    /// earlier link stored (a QR scanned days after a logout must not have
    /// the days between replayed as new messages), and so does every later
    /// life (`linked_at`); what is owed is kept with the session.
    pub fn linked_now(&mut self) {
        if std::mem::take(&mut self.unlinked) {
            let now = now_ms() / 1000;
            self.catch_up_since = catch_up_since(None, now);
            self.linked_at = Some(now);
            self.early_floor = None;
            self.env.records.update(&self.id, |r| {
                r.linked_at = Some(now);
                r.early_floor = None;
            });
        }
        self.keep_owed();
    }

    fn keep_owed(&self) {
        if !self.owes_catch_up {
            return;
        }
        let since = self.catch_up_since;
        self.env.records.update(&self.id, |r| {
            if r.me.is_some() {
                r.owed_catch_up = Some(since);
            }
        });
    }

    /// What happened to a stored message that the page has and the store
    /// does not: an ack, an edit or a delete whose event was still on its
    /// way when the browser or the daemon went down. (The store takes
    /// each once: acks only rise, an edit or a delete is not applied twice.)
    fn changed_since(&self, m: &Message, raw: &Value, ops: &mut Vec<Op>) {
        if raw["revoked"] == true {
            if !m.revoked {
                let change = Amendment::Revoke {
                    at: now_ms() / 1000,
                };
                let mut after = m.clone();
                after.amend(&change);
                ops.push(Op::Amend {
                    session: self.id.clone(),
                    id: m.id.clone(),
                    change,
                    event: message::revoke_event(
                        &self.id,
                        &m.id,
                        &m.chat,
                        Some(&after),
                        self.me().as_deref(),
                    ),
                });
            }
            return;
        }
        if m.from_me
            && let Some(n) = raw["ack"].as_i64()
        {
            let ack = Ack::from_wa(n);
            // Acks rise, except to failed, which the store takes at any time.
            let news = ack > m.ack || (ack == Ack::Failed && m.ack != Ack::Failed);
            if news {
                let me = self.me();
                ops.push(Op::Ack {
                    session: self.id.clone(),
                    id: m.id.clone(),
                    ack,
                    event: self.ack_event(&m.id, &m.chat, me.as_deref(), ack, Some(m)),
                });
            }
        }
        if let Some(at) = raw["edited_at"].as_i64().map(message::sane_time)
            && m.edited_at.is_none_or(|was| at > was)
        {
            let text = raw["text"]
                .as_str()
                .or(raw["caption"].as_str())
                .unwrap_or("")
                .to_string();
            ops.push(Op::Amend {
                session: self.id.clone(),
                id: m.id.clone(),
                event: message::edit_event(
                    &self.id,
                    &m.id,
                    &m.chat,
                    &text,
                    at,
                    self.me().as_deref(),
                ),
                change: Amendment::Edit { text, at },
            });
        }
    }

    /// The reactions and poll votes the page keeps on a stored message
    /// that the store lacks: a report that died with the browser or the
    /// daemon. Each made as the live event makes it (the store takes each
    /// once); one the store has newer is left. A reaction taken back
    /// meanwhile is not found this way: the page keeps none of it.
    fn reacted_since(&self, m: &Message, raw: &Value, ops: &mut Vec<Op>) {
        let now = now_ms() / 1000;
        for r in raw["reactions"].as_array().into_iter().flatten() {
            let (Some(sender), Some(emoji)) = (r["sender"].as_str(), r["text"].as_str()) else {
                continue;
            };
            let at = r["timestamp"].as_i64().map_or(now, message::sane_time);
            let known = m
                .reactions
                .iter()
                .any(|x| x.sender == sender && (x.emoji == emoji || x.timestamp > at));
            if emoji.is_empty() || known {
                continue;
            }
            let reaction = Reaction {
                sender: sender.to_string(),
                emoji: emoji.to_string(),
                from_me: r["from_me"].as_bool().unwrap_or(false),
                timestamp: at,
            };
            ops.push(self.reaction_op(r["id"].as_str(), &m.id, &m.chat, reaction, ops));
        }
        // The tally as it grows with each vote found, for each event.
        let mut poll = m.poll.clone();
        for v in raw["votes"].as_array().into_iter().flatten() {
            let (Some(voter), Some(p)) = (v["sender"].as_str(), poll.as_ref()) else {
                continue;
            };
            let picked: Vec<usize> = v["selected"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i.as_u64().map(|i| i as usize))
                .collect();
            let names: Vec<String> = picked
                .iter()
                .map(|i| p.options.get(*i).cloned().unwrap_or_else(|| i.to_string()))
                .collect();
            let at = v["timestamp"].as_i64().map_or(now, message::sane_time);
            let known = p
                .votes
                .iter()
                .any(|x| x.voter == voter && (x.selected == names || x.timestamp > at));
            if known {
                continue;
            }
            ops.push(self.vote_with(&m.id, &m.chat, voter.to_string(), &picked, at, &mut poll));
        }
    }

    /// Reactions stored on `m` that WhatsApp Web no longer has (`raw`'s
    /// list is all it has now) were taken back while no one listened. One
    /// missing is announced gone only when the next pass misses it too:
    /// WhatsApp Web may tell of a reaction before its table has it, and a
    /// reaction's time is its sender's clock. (`missing`: this pass's.)
    fn taken_back_since(
        &self,
        m: &Message,
        raw: &Value,
        looked_at: i64,
        missing: &mut std::collections::HashSet<(String, String)>,
        ops: &mut Vec<Op>,
    ) {
        let Some(now) = raw["reactions"].as_array() else {
            return;
        };
        for x in &m.reactions {
            let still = now.iter().any(|r| {
                r["sender"].as_str() == Some(x.sender.as_str())
                    && r["text"].as_str().is_some_and(|t| !t.is_empty())
            });
            if still || x.timestamp >= looked_at - TAKEN_BACK_MARGIN_S {
                continue;
            }
            let key = (m.id.clone(), x.sender.clone());
            if !self.taken_back_suspects.contains(&key) {
                missing.insert(key);
                continue;
            }
            let gone = Reaction {
                sender: x.sender.clone(),
                emoji: String::new(),
                from_me: x.from_me,
                timestamp: looked_at,
            };
            ops.push(self.reaction_op(None, &m.id, &m.chat, gone, ops));
        }
    }

    /// Stored messages of this life with reactions, the newest
    /// `REACTIONS_LOOKED_UP`: the page is asked for them too.
    fn reacted_stored(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.this_life_newest_first(REACTIONS_SCAN_PAGES * 200, |m| {
            if !m.reactions.is_empty() && !m.revoked {
                out.push(m.id.clone());
            }
            out.len() < REACTIONS_LOOKED_UP as usize
        });
        out
    }

    /// Walks the stored messages of this life (back to the catch-up's
    /// watermark), newest first, at most `most` of them, while `f` says go on.
    fn this_life_newest_first(&self, most: usize, mut f: impl FnMut(&Message) -> bool) {
        let mut before: Option<Vec<u8>> = None;
        let mut seen = 0;
        while seen < most {
            let Ok((page, next)) =
                self.env
                    .store
                    .messages(&self.id, None, 500.min(most - seen), before.as_deref())
            else {
                return;
            };
            seen += page.len();
            for m in &page {
                if m.timestamp < self.catch_up_since || !f(m) {
                    return;
                }
            }
            match next {
                Some(n) => before = Some(n),
                None => return,
            }
        }
    }

    /// A pass over the reactions and votes the page keeps on messages of
    /// this life (see `reacted_since`), apart from the catch-up of
    /// messages: on a large account it may not finish, and that must not
    /// hold the messages back. Run after each catch-up and once more a
    /// little later (WhatsApp may still be delivering what came while
    /// the page was away).
    async fn reactions_pass(&mut self, bridge: &Bridge) {
        let looked_at = now_ms() / 1000;
        let known = self.reacted_stored();
        let found = match bridge
            .reacted(self.catch_up_since, REACTIONS_LOOKED_UP, &known)
            .await
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(session = %self.id, "reactions and votes could not be caught up: {e}");
                return;
            }
        };
        if !found.complete {
            tracing::warn!(session = %self.id, "reactions and votes caught up on the newest messages only");
        }
        let mut ops = Vec::new();
        let mut missing = std::collections::HashSet::new();
        for raw in &found.items {
            let stored = raw["id"]
                .as_str()
                .and_then(|id| self.env.store.message(&self.id, id).ok().flatten());
            if let Some(m) = stored {
                self.reacted_since(&m, raw, &mut ops);
                self.taken_back_since(&m, raw, looked_at, &mut missing, &mut ops);
            }
        }
        self.taken_back_suspects = missing;
        match self.env.pipeline.commit(ops).await {
            Ok(events) if !events.is_empty() => {
                tracing::info!(session = %self.id, new_events = events.len(), "reactions and votes caught up")
            }
            Ok(_) => {}
            Err(e) => self.keep_unstored(e.ops),
        }
    }

    /// After every (re)connect: what the page holds since this life's
    /// watermark; duplicates are dropped by id.
    /// Returns false if it must be tried again.
    /// Ours the store holds with a clock that this page life does not
    /// have: WhatsApp Web shows a send before it has written it down, and
    /// a browser killed in between loses it (the page that comes back
    /// sends what it had written, and lists it). It never went and never
    /// will: failed, as WhatsApp Web's own clock turns into a failed mark.
    /// A chat the page listed in full only (a longer one may hold it
    /// further back); a send answered as unknown may still be sent again
    /// under its key, and its ack then rises.
    fn lost_sends(&self, list: &[Value], ops: &mut Vec<Op>) {
        use std::collections::{HashMap, HashSet};
        let listed: HashSet<&str> = list.iter().filter_map(|r| r["id"].as_str()).collect();
        let mut per_chat: HashMap<&str, u32> = HashMap::new();
        for r in list.iter().filter(|r| r["states_only"] != true) {
            *per_chat
                .entry(r["chat"].as_str().unwrap_or(""))
                .or_default() += 1;
        }
        let me = self.me();
        self.this_life_newest_first(LOST_SENDS_PAGES * 500, |m| {
            let full = per_chat.get(m.chat.as_str()).copied().unwrap_or(0) < CATCH_UP_PER_CHAT;
            if m.from_me && m.ack == Ack::Pending && full && !listed.contains(m.id.as_str()) {
                tracing::info!(session = %self.id, "a send the browser lost before WhatsApp had it: failed");
                ops.push(Op::Ack {
                    session: self.id.clone(),
                    id: m.id.clone(),
                    ack: Ack::Failed,
                    event: self.ack_event(&m.id, &m.chat, me.as_deref(), Ack::Failed, Some(m)),
                });
            }
            true
        });
    }

    async fn catch_up(&mut self, bridge: &Bridge) -> bool {
        let states_since = self.catch_up_since - CATCH_UP_STATES_S;
        match bridge
            .recent(self.catch_up_since, CATCH_UP_PER_CHAT, states_since)
            .await
        {
            Ok(list) => {
                let mut ops = Vec::new();
                for raw in &list {
                    // Most are stored already: no media to fetch again,
                    // only what changed on them while no one listened.
                    let stored = raw["id"]
                        .as_str()
                        .and_then(|id| self.env.store.message(&self.id, id).ok().flatten());
                    match stored {
                        Some(m) => self.changed_since(&m, raw, &mut ops),
                        // Not a whole message: nothing to store.
                        None if raw["revoked"] == true || raw["states_only"] == true => {}
                        None => {
                            self.message_op(bridge, raw, &mut ops).await;
                        }
                    }
                }
                self.lost_sends(&list, &mut ops);
                let n = ops.len();
                match self.env.pipeline.commit(ops).await {
                    Ok(events) => {
                        if !events.is_empty() {
                            tracing::info!(session = %self.id, checked = n, new_events = events.len(), "caught up after connect");
                        }
                        true
                    }
                    Err(e) => {
                        tracing::warn!(session = %self.id, "catch-up could not be stored: {e}");
                        false
                    }
                }
            }
            Err(e) => {
                tracing::warn!(session = %self.id, "catch-up failed, will retry: {e}");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session's environment on a real store, with no browser.
    fn env(dir: &std::path::Path) -> Arc<SessionEnv> {
        let store = crate::store::Store::open(&dir.join("db")).unwrap();
        let render: crate::webhook::Render = Arc::new(|_, _| unreachable!("no webhooks here"));
        let dispatcher = crate::webhook::dispatcher::Dispatcher::spawn(
            store.clone(),
            Default::default(),
            render,
            None,
            false,
        )
        .unwrap();
        let pipeline = crate::pipeline::Pipeline::new(
            store.clone(),
            dispatcher,
            None,
            std::time::Duration::from_secs(3600),
        );
        let config = crate::session::SessionConfig {
            data_dir: dir.to_path_buf(),
            browser: crate::session::browser::BrowserSpec {
                kind: crate::config::BrowserKind::HeadlessShell,
                executable: None,
                no_sandbox: false,
                frames: false,
                multi_process: false,
                background: false,
            },
            wa_url: "http://127.0.0.1:9/".into(),
            wajs_path: dir.join("wa.js"),
            page_timeout: std::time::Duration::from_secs(1),
            load_timeout: std::time::Duration::from_secs(1),
            hang: crate::session::HangCheck::default(),
            print_qr: false,
            max_pss: None,
            max_age: None,
            trim_every: None,
            keep_deleted_chats: false,
            default_proxy: None,
        };
        Arc::new(SessionEnv::new(config, pipeline, store))
    }

    fn stored_at(env: &SessionEnv, s: &SessionId, id: &str, ts: i64) {
        stored(env, s, id, "15551234567@c.us", false, "delivered", ts);
    }

    fn stored(
        env: &SessionEnv,
        s: &SessionId,
        id: &str,
        chat: &str,
        from_me: bool,
        ack: &str,
        ts: i64,
    ) {
        let msg: Message = serde_json::from_value(serde_json::json!({
            "id": id, "session": s, "chat": chat, "from_me": from_me,
            "type": "text", "text": "hi", "timestamp": ts, "ack": ack,
            "sender": {"phone": null, "name": null, "lid": null},
        }))
        .unwrap();
        let events = msg.events();
        env.store
            .commit(&[crate::store::Change {
                op: Op::Message {
                    msg,
                    events,
                    history: false,
                },
                deliveries: vec![],
            }])
            .unwrap();
    }

    /// A life whose catch-up never succeeded owes it to the next, also
    /// across a restart of the session or the daemon (a new driver): live
    /// messages stored meanwhile must not move the watermark past the gap.
    #[tokio::test]
    async fn a_catch_up_still_owed_is_owed_by_the_next_run_of_the_session() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path());
        let s = SessionId::parse("s").unwrap();
        let manager = crate::session::Manager::new(env.clone());
        manager
            .create(s.clone(), vec![], false, None, None, None)
            .await
            .unwrap();
        let now = now_ms() / 1000;
        let link = || {
            env.records.update(&s, |r| {
                r.me = Some(crate::domain::Me {
                    id: "15550001111@c.us".into(),
                    phone: "15550001111".into(),
                    name: None,
                })
            })
        };
        // Not linked (never, or logged out since an earlier link stored
        // messages): nothing owed is kept, and a link later in the same
        // life looks back from the link, not from when the life began nor
        // to what the earlier link stored (a QR scanned days after a logout
        // must not replay the days between as new messages).
        stored_at(&env, &s, "false_15551234567@c.us_EARLY", now - 90_000);
        let mut unlinked = Inbound::new(s.clone(), env.clone());
        unlinked.begin_life();
        assert_eq!(env.records.get(&s).unwrap().owed_catch_up, None);
        stored_at(&env, &s, "false_15551234567@c.us_OLD", now - 7200);
        link();
        unlinked.linked_now();
        let since = unlinked.catch_up_since;
        assert!(
            since >= now - 60 && since <= now_ms() / 1000 - 60,
            "{since}"
        );
        let linked_at = env.records.get(&s).unwrap().linked_at.unwrap();
        assert!(linked_at >= now, "kept with the session");
        drop(unlinked);
        // An hour after the link, a new life (a restart) does not look
        // back past where the link's first life did either (the overlap
        // would reach into what the page got before the link).
        env.records.update(&s, |r| r.linked_at = Some(now - 3600));
        let mut first = Inbound::new(s.clone(), env.clone());
        first.begin_life();
        let owed = first.catch_up_since;
        assert_eq!(owed, now - 3600 - 60);
        // Its catch-up fails; live messages keep being stored; the session
        // restarts (a new driver, a new Inbound).
        stored_at(&env, &s, "false_15551234567@c.us_NEW", now - 10);
        drop(first);
        let mut next = Inbound::new(s.clone(), env.clone());
        next.begin_life();
        assert_eq!(next.catch_up_since, owed);
        assert_eq!(
            env.records.get(&s).unwrap().owed_catch_up,
            Some(owed),
            "kept with the session"
        );
        // A message of the link stamped before it (written offline): the
        // next life looks back to its stamp, by at most the overlap before
        // the link (one stamped days before must not have the days
        // replayed); a later one moves nothing.
        let link = now - 3600;
        next.heard_stamped(link - 300);
        next.heard_stamped(now - 5);
        let r = env.records.get(&s).unwrap();
        assert_eq!((r.linked_at, r.early_floor), (Some(link), Some(link - 300)));
        next.heard_stamped(link - 2 * 86_400);
        let r = env.records.get(&s).unwrap();
        assert_eq!(r.early_floor, Some(link - CATCH_UP_OVERLAP_S));
        drop(next);
        env.records.update(&s, |r| r.owed_catch_up = None);
        let mut after = Inbound::new(s.clone(), env.clone());
        after.begin_life();
        assert_eq!(after.catch_up_since, now - 10 - CATCH_UP_OVERLAP_S);
        env.records
            .update(&s, |r| r.owed_catch_up = Some(now - 90_000));
        let mut owing = Inbound::new(s.clone(), env.clone());
        owing.begin_life();
        assert_eq!(owing.catch_up_since, link - CATCH_UP_OVERLAP_S);
    }

    /// A send stored with its clock that the page's new life does not
    /// list was lost with the browser: failed. Not one the page lists, one
    /// of a chat it listed only in part, one sent, or one from before the
    /// watermark.
    #[tokio::test]
    async fn a_send_the_browser_lost_before_whatsapp_had_it_turns_failed() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path());
        let s = SessionId::parse("s").unwrap();
        let now = now_ms() / 1000;
        let ours =
            |id: &str, chat: &str, ack: &str, ts: i64| stored(&env, &s, id, chat, true, ack, ts);
        let (a, b) = ("15551234567@c.us", "15557654321@c.us");
        ours("true_a_LOST", a, "pending", now - 5);
        ours("true_a_LISTED", a, "pending", now - 5);
        ours("true_a_SENT", a, "sent", now - 5);
        ours("true_a_OLD", a, "pending", now - 7200);
        ours("true_b_FURTHER", b, "pending", now - 5);
        let mut inbound = Inbound::new(s.clone(), env.clone());
        inbound.catch_up_since = now - 60;
        let mut list =
            vec![serde_json::json!({"id": "true_a_LISTED", "chat": a, "timestamp": now - 5})];
        // Chat b listed as far as the page goes: it may hold more.
        for i in 0..CATCH_UP_PER_CHAT {
            list.push(
                serde_json::json!({"id": format!("true_b_{i}"), "chat": b, "timestamp": now - 1}),
            );
        }
        let mut ops = vec![];
        inbound.lost_sends(&list, &mut ops);
        let failed: Vec<(&str, Ack)> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Ack { id, ack, .. } => Some((id.as_str(), *ack)),
                _ => None,
            })
            .collect();
        assert_eq!(failed, [("true_a_LOST", Ack::Failed)]);
    }

    #[test]
    fn the_catch_up_watermark_looks_back_from_the_newest_stored_message() {
        assert_eq!(
            catch_up_since(Some(10_000), 99_999),
            10_000 - CATCH_UP_OVERLAP_S
        );
        assert_eq!(catch_up_since(None, 99_999), 99_999 - 60);
        // A message stamped a day ahead (a phone with a wrong clock).
        assert_eq!(
            catch_up_since(Some(99_999 + 86_400), 99_999),
            99_999 - CATCH_UP_OVERLAP_S
        );
    }
}
