//! What the store remembers (messages, their media) and what the page knows
//! (chats, whether a number is on WhatsApp, marking read), plus the live
//! event stream.

use super::{Core, CoreError};
use crate::domain::Scope;
use crate::domain::chat::{self, ReadReceipts};
use crate::domain::{
    Ack, Event, EventKind, LoggedEvent, MediaInfo, Message, SessionId, Wid, now_ms,
};
use crate::session::ChatInfo;
use crate::store::Op;
use futures::{Stream, StreamExt};

/// bridge.js keeps "muted always" as a mute until 2100-01-01 (wa-js mutes
/// only until a time to come).
const MUTE_ALWAYS: i64 = 4_102_444_800;

/// How long "the page has nothing older in this chat" is taken as so.
const HISTORY_END_KEPT: std::time::Duration = std::time::Duration::from_secs(300);

/// Pages of 500 of the newest stored messages looked through for unsent
/// ones.
const UNSENT_PAGES: usize = 10;

/// One page of history, newest first; `next` continues it.
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub next: Option<Vec<u8>>,
}

/// Messages WhatsApp Web found, newest first; `more` when a next page may
/// have more.
pub struct Found {
    pub messages: Vec<Message>,
    pub more: bool,
    /// Where a next page starts (`before`), when there may be one.
    pub last: Option<String>,
}

/// The longest search WhatsApp Web is asked (characters).
pub const MAX_SEARCH: usize = 256;

/// An item of the event stream.
pub enum Live {
    /// First: the place in the log this stream starts after. A reader
    /// that merges several logs (the cluster's) keeps it as this log's
    /// place, so a log that sends nothing before a drop resumes from here.
    From {
        after: u64,
    },
    Event(LoggedEvent),
    /// The reader asked to resume from a place the log no longer holds:
    /// events up to `pruned_through` are gone.
    Gone {
        pruned_through: u64,
    },
}

impl Core {
    pub async fn messages(
        &self,
        session: &SessionId,
        chat: Option<&Wid>,
        limit: usize,
        before: Option<&[u8]>,
    ) -> Result<HistoryPage, CoreError> {
        self.may(session, Scope::Read)?;
        let page = self.stored_messages(session, chat, limit, before).await?;
        // The end of what the store has of a chat: older messages, from
        // before the link too, are loaded from WhatsApp Web as it holds them.
        // A full last page too: one more than the page needs tells
        // whether there is a next.
        if let Some(chat) = chat
            && page.next.is_none()
            && self
                .load_history(session, chat, limit + 1 - page.messages.len())
                .await
        {
            return self
                .stored_messages(session, Some(chat), limit, before)
                .await;
        }
        Ok(page)
    }

    /// As `messages`, from the store alone: WhatsApp Web is not asked for
    /// older ones at the end of it.
    pub async fn stored_messages(
        &self,
        session: &SessionId,
        chat: Option<&Wid>,
        limit: usize,
        before: Option<&[u8]>,
    ) -> Result<HistoryPage, CoreError> {
        self.may(session, Scope::Read)?;
        self.manager.get(session).await?;
        let (messages, next) =
            self.store
                .messages(session, chat.map(Wid::as_str), limit, before)?;
        Ok(HistoryPage { messages, next })
    }

    /// Stores up to `want` of a chat's messages older than the oldest
    /// stored, from the page; no events (they are history, not news). True
    /// if it stored any. A page that cannot be asked now, or has nothing
    /// older, leaves the history as it is: the store's is what there is.
    ///
    /// Only what is no one's news is taken: messages written before the
    /// session's `stored_before` (none while a catch-up waits: what it finds
    /// comes with its events), and none that arrived in the last minute
    /// (bridge.js leaves those out: their events may be on their way).
    async fn load_history(&self, session: &SessionId, chat: &Wid, want: usize) -> bool {
        let stored_before = match self.manager.get(session).await {
            Ok(v) => v.live.and_then(|l| l.stored_before),
            Err(_) => None,
        };
        let Some(stored_before) = stored_before else {
            return false;
        };
        let oldest = match self.store.oldest_in_chat(session, chat.as_str()) {
            Ok(m) => m.map(|m| m.id),
            Err(_) => return false,
        };
        let key = (session.clone(), chat.as_str().to_string());
        let noted = self.history_ends.lock().is_ok_and(|e| {
            e.get(&key)
                .is_some_and(|(o, at)| *o == oldest && at.elapsed() < HISTORY_END_KEPT)
        });
        if noted {
            return false;
        }
        let Ok(bridge) = self.manager.bridge(session).await else {
            return false;
        };
        let page = match bridge.history(chat, oldest.as_deref(), want.min(501)).await {
            Ok(page) => page,
            Err(e) => {
                tracing::debug!(session = %session, "history not loaded from the page: {e}");
                return false;
            }
        };
        let unstored: Vec<Message> = page
            .msgs
            .iter()
            .filter_map(|v| Message::from_bridge(session, v))
            .filter(|m| m.chat == chat.as_str())
            .filter(|m| !self.store.has_message(session, &m.id).unwrap_or(true))
            .collect();
        // Nothing older, as WhatsApp Web holds the chat now: noted for a
        // while, or until the chat's oldest changes (not when the page lacked
        // the chat: a page still syncing may have it soon).
        if unstored.is_empty() {
            if !page.more
                && !page.missing
                && let Ok(mut ends) = self.history_ends.lock()
            {
                // Bounded: a reader of many chats forgets the oldest notes.
                if ends.len() >= 10_000 {
                    ends.clear();
                }
                ends.insert(key, (oldest, std::time::Instant::now()));
            }
            return false;
        }
        self.keep_as_history(session, stored_before, unstored).await
    }

    /// Stores messages the page holds and the store lacks, as history: no
    /// events, and only those written before `stored_before` (what came
    /// since may have its event on its way). True if it stored any.
    async fn keep_as_history(
        &self,
        session: &SessionId,
        stored_before: i64,
        unstored: Vec<Message>,
    ) -> bool {
        // Newest first: each lists before those stored before it.
        let ops: Vec<Op> = unstored
            .into_iter()
            .rev()
            .filter(|m| m.timestamp < stored_before)
            .map(|msg| Op::Message {
                msg,
                events: vec![],
                history: true,
            })
            .collect();
        if ops.is_empty() {
            return false;
        }
        let n = ops.len();
        match self.pipeline.commit(ops).await {
            Ok(_) => {
                tracing::debug!(session = %session, loaded = n, "history loaded from the page");
                true
            }
            Err(e) => {
                tracing::warn!(session = %session, "history from the page not stored: {}", e.error);
                false
            }
        }
    }

    /// WhatsApp Web's own search of the messages it holds (text and
    /// captions, as the phone searches), newest first, in `chat` only when
    /// given; `page` from 1.
    pub async fn search_messages(
        &self,
        session: &SessionId,
        query: &str,
        chat: Option<&Wid>,
        page: usize,
        limit: usize,
    ) -> Result<Found, CoreError> {
        self.may(session, Scope::Read)?;
        let query = query.trim();
        if query.is_empty() || query.chars().count() > MAX_SEARCH {
            return Err(CoreError::invalid(
                "q",
                format!("must be 1 to {MAX_SEARCH} characters"),
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        let batch = bridge
            .search(query, chat, page, limit)
            .await
            .map_err(|e| find_failure(chat, None, e))?;
        self.found(session, batch).await
    }

    /// The account's starred messages (starred here, on the phone or
    /// another device), newest first, in `chat` only when given, older than
    /// message `before` when given.
    pub async fn starred_messages(
        &self,
        session: &SessionId,
        chat: Option<&Wid>,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Found, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        let batch = bridge
            .starred(chat, before, limit)
            .await
            .map_err(|e| match e {
                crate::session::CallError::Page(m) if m.starts_with("NOT_STARRED: ") => {
                    CoreError::invalid("before", "must be a starred message (a page's next)")
                }
                e => find_failure(chat, before, e),
            })?;
        self.found(session, batch).await
    }

    /// What the page found: each message's stored copy with the page's
    /// star (set on the phone too, which tells the daemon of no star: the
    /// store takes it) and ack, else the page's. What the store lacks (from
    /// before the link) is listed, not stored: stored, it would leave a gap
    /// in the chat's history before it, and one whose live event is still
    /// on its way would lose that event.
    async fn found(
        &self,
        session: &SessionId,
        batch: crate::session::HistoryBatch,
    ) -> Result<Found, CoreError> {
        let mut messages = vec![];
        for v in &batch.msgs {
            let Some(page) = Message::from_bridge(session, v) else {
                continue;
            };
            match self.store.message(session, &page.id)? {
                Some(mut m) => {
                    if m.starred != page.starred {
                        // Best effort: a read does not fail for it.
                        if let Err(e) = self.store.set_starred(session, &m.id, page.starred) {
                            tracing::debug!(session = %session, "a star seen on the page not stored: {e}");
                        }
                        m.starred = page.starred;
                    }
                    m.ack = m.ack.max(page.ack);
                    messages.push(m);
                }
                None => messages.push(page),
            }
        }
        Ok(Found {
            messages,
            more: batch.more,
            last: batch.last,
        })
    }

    /// One stored message.
    pub async fn message(&self, session: &SessionId, id: &str) -> Result<Message, CoreError> {
        self.may(session, Scope::Read)?;
        self.stored(session, id)
    }

    /// One stored message, for a call whose own scope was checked.
    pub(super) fn stored(&self, session: &SessionId, id: &str) -> Result<Message, CoreError> {
        match self.store.message(session, id)? {
            Some(m) => Ok(m),
            None if !self.manager.exists(session) => {
                Err(CoreError::SessionNotFound(session.clone()))
            }
            None => Err(CoreError::NotFound {
                code: "message_not_found",
                message: format!("no message {id}"),
            }),
        }
    }

    /// A message by its short id (`Message::short_id`), in any session.
    pub async fn message_by_short_id(&self, short: &[u8]) -> Result<Option<Message>, CoreError> {
        let m = self.store.message_by_short_id(short)?;
        if let Some(m) = &m {
            self.may(&m.session, Scope::Read)?;
        }
        Ok(m)
    }

    /// A `before` cursor that continues history from messages written at
    /// or before `ts` (unix s): where a message that left the history was.
    pub fn cursor_through(&self, ts: i64) -> Vec<u8> {
        crate::store::Store::cursor_through(ts)
    }

    /// The `before` cursor that continues history after this message.
    pub fn cursor_of(&self, session: &SessionId, id: &str) -> Result<Option<Vec<u8>>, CoreError> {
        self.may(session, Scope::Read)?;
        Ok(self.store.message_cursor(session, id)?)
    }

    /// A stored message's media and its bytes.
    pub async fn media(
        &self,
        session: &SessionId,
        msg_id: &str,
    ) -> Result<(MediaInfo, Vec<u8>), CoreError> {
        self.may(session, Scope::Read)?;
        self.manager.get(session).await?;
        let msg = self
            .store
            .message(session, msg_id)?
            .ok_or_else(|| CoreError::NotFound {
                code: "message_not_found",
                message: format!("no message {msg_id}"),
            })?;
        let info = msg.media.ok_or_else(|| CoreError::NotFound {
            code: "no_media",
            message: format!("message {msg_id} has no media"),
        })?;
        if msg.view_once && !msg.from_me {
            return Err(CoreError::NotFound {
                code: "view_once",
                message: format!(
                    "message {msg_id} is to be viewed once: WhatsApp opens its media on the receiver's phone only, never on a linked device"
                ),
            });
        }
        let env = self.manager.env();
        let bytes = match tokio::fs::read(env.media_path(session, msg_id)).await {
            Ok(bytes) => bytes,
            Err(_) if crate::session::too_large_to_keep(&info) => {
                return Err(media_failure(msg_id, crate::session::MediaError::TooLarge));
            }
            // Not kept when it came (the page could not hand it over then,
            // or it was sent, not received): WhatsApp still has it.
            Err(_) => {
                let bridge = self.manager.bridge(session).await.map_err(|e| {
                    CoreError::Unavailable(format!(
                        "the media of {msg_id} is not kept here and is fetched from WhatsApp Web, which this session cannot reach now: {}",
                        CoreError::from(e)
                    ))
                })?;
                env.keep_media(&bridge, session, msg_id, true)
                    .await
                    .map_err(|e| media_failure(msg_id, e))?
            }
        };
        Ok((info, bytes))
    }

    /// This account's messages WhatsApp's server has not taken (no tick:
    /// still on their way, or failed), oldest first, among the newest
    /// stored (open-wa's getUnsentMessages).
    pub async fn unsent(&self, session: &SessionId) -> Result<Vec<Message>, CoreError> {
        self.may(session, Scope::Read)?;
        let mut out = Vec::new();
        let mut before: Option<Vec<u8>> = None;
        for _ in 0..UNSENT_PAGES {
            let page = self
                .stored_messages(session, None, 500, before.as_deref())
                .await?;
            out.extend(
                page.messages
                    .into_iter()
                    .filter(|m| m.from_me && m.ack < Ack::Sent),
            );
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Whether a contact's read receipts show, as this account's newest
    /// stored messages with them tell (open-wa's checkReadReceipts).
    pub async fn read_receipts(
        &self,
        session: &SessionId,
        contact: &Wid,
    ) -> Result<ReadReceipts, CoreError> {
        self.may(session, Scope::Read)?;
        if contact.is_group() || contact.is_status() {
            return Ok(ReadReceipts::Unknown(
                "read receipts are a contact's: a group's or a status's do not tell",
            ));
        }
        let page = self
            .stored_messages(session, Some(contact), 500, None)
            .await?;
        Ok(chat::read_receipts(&page.messages))
    }

    pub async fn chats(&self, session: &SessionId) -> Result<Vec<ChatInfo>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        Ok(bridge
            .chats()
            .await
            .map_err(crate::session::CallFailure::from)?)
    }

    /// One chat, as `chats` lists it, and with `with_last` the newest
    /// message stored of it (as `chats_with_last`); 404 `chat_not_found`
    /// for one the account does not have.
    pub async fn chat(
        &self,
        session: &SessionId,
        chat: &Wid,
        with_last: bool,
    ) -> Result<(ChatInfo, Option<Message>), CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        let info = bridge.chat(chat).await.map_err(|e| chat_failure(chat, e))?;
        if !with_last {
            return Ok((info, None));
        }
        let mut one = self.with_last(session, vec![info]).await?;
        Ok(one.pop().expect("one chat in, one out"))
    }

    /// The chats `keep` picks, each with the newest message stored of it
    /// (none for a chat whose messages all came before the link and were
    /// never read back): whatsapp-web.js's `Chat.lastMessage`. One read of
    /// the store for all, off the runtime's threads.
    pub async fn chats_with_last(
        &self,
        session: &SessionId,
        keep: impl Fn(&ChatInfo) -> bool,
    ) -> Result<Vec<(ChatInfo, Option<Message>)>, CoreError> {
        self.may(session, Scope::Read)?;
        let mut chats = self.chats(session).await?;
        chats.retain(keep);
        self.with_last(session, chats).await
    }

    /// Each chat with the newest message stored of it: one read of the
    /// store for all, off the runtime's threads.
    async fn with_last(
        &self,
        session: &SessionId,
        chats: Vec<ChatInfo>,
    ) -> Result<Vec<(ChatInfo, Option<Message>)>, CoreError> {
        let (store, session) = (self.store.clone(), session.clone());
        let with = tokio::task::spawn_blocking(move || {
            let ids: Vec<&str> = chats.iter().map(|c| c.id.as_str()).collect();
            let last = store.newest_in_chats(&session, &ids)?;
            Ok::<_, crate::store::StoreError>(chats.into_iter().zip(last).collect())
        })
        .await
        .map_err(|e| CoreError::Internal(e.to_string()))??;
        Ok(with)
    }

    /// Archives, pins, mutes or marks a chat unread (WhatsApp keeps it on
    /// the phone and every device); answers the chat as it is after.
    pub async fn edit_chat(
        &self,
        session: &SessionId,
        chat: &Wid,
        change: &crate::session::ChatChange,
    ) -> Result<ChatInfo, CoreError> {
        self.may(session, Scope::Send)?;
        if change.archive.is_none()
            && change.pin.is_none()
            && change.mute_until.is_none()
            && change.unread.is_none()
        {
            return Err(CoreError::invalid(
                "archived",
                "or 'pinned', 'muted_until' or 'unread' is required",
            ));
        }
        // Seconds, not milliseconds: WhatsApp Web's "always" is 2100 at most.
        if let Some(t) = change.mute_until
            && t != 0
            && t != -1
            && (t <= now_ms() / 1000 || t >= MUTE_ALWAYS)
        {
            return Err(CoreError::invalid(
                "muted_until",
                "must be a time to come before 2100 (unix s), -1 for always, or 0 to unmute",
            ));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge
            .set_chat_state(chat, change)
            .await
            .map_err(|e| match e {
                crate::session::CallError::Page(m) if m.starts_with("PIN_LIMIT: ") => {
                    CoreError::Conflict {
                        code: "pin_limit_reached",
                        message: m.trim_start_matches("PIN_LIMIT: ").to_string(),
                    }
                }
                e => chat_failure(chat, e),
            })
    }

    /// Clears a chat (its messages go, the chat stays; `keep_starred`
    /// keeps its starred ones) or deletes it (`remove`: the chat goes too,
    /// with how it was kept), on the phone and every device, and takes its
    /// messages out of the stored history. Answers how many left it.
    pub async fn clear_chat(
        &self,
        session: &SessionId,
        chat: &Wid,
        remove: bool,
        keep_starred: bool,
    ) -> Result<usize, CoreError> {
        self.may(session, Scope::Send)?;
        let bridge = self.manager.bridge(session).await?;
        // What comes after the clear stays: it is not among what it cleared.
        let until = now_ms() / 1000;
        let kept = bridge
            .clear_chat(chat, remove, keep_starred)
            .await
            .map_err(|e| chat_failure(chat, e))?;
        let kept: std::collections::HashSet<String> = kept.into_iter().collect();
        let gone = self
            .store
            .forget_chat(session, chat.as_str(), &kept, until)?;
        self.store.flush().await?;
        self.forget_media(session, &gone).await;
        tracing::info!(session = %session, deleted = remove, "chat cleared");
        Ok(gone.len())
    }

    /// The media kept on disk of messages no longer in the history.
    pub(super) async fn forget_media(&self, session: &SessionId, ids: &[String]) {
        let env = self.manager.env();
        for id in ids {
            let _ = tokio::fs::remove_file(env.media_path(session, id)).await;
        }
    }

    /// The id WhatsApp knows `who` by, or None if not on WhatsApp.
    pub async fn contact(
        &self,
        session: &SessionId,
        who: &Wid,
    ) -> Result<Option<String>, CoreError> {
        self.may(session, Scope::Read)?;
        let bridge = self.manager.bridge(session).await?;
        Ok(bridge
            .exists(who)
            .await
            .map_err(crate::session::CallFailure::from)?)
    }

    pub async fn mark_read(&self, session: &SessionId, chat: &Wid) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        let bridge = self.manager.bridge(session).await?;
        bridge
            .mark_read(chat)
            .await
            .map_err(|e| chat_failure(chat, e))
    }

    /// Marks the chat of a received message read.
    pub async fn mark_message_read(
        &self,
        session: &crate::domain::SessionId,
        msg_id: &str,
    ) -> Result<crate::domain::Wid, CoreError> {
        self.may(session, Scope::Send)?;
        let msg = self.stored(session, msg_id)?;
        let chat = crate::domain::Wid::parse(&msg.chat).map_err(|e| {
            CoreError::invalid(
                "message_id",
                format!("is in a chat that cannot be marked read: {e}"),
            )
        })?;
        self.mark_read(session, &chat).await?;
        Ok(chat)
    }

    /// Events from the log: those after `since` (a place the stream gave
    /// before), else from now on; then each new one once it is durable. No
    /// gap and no repeat: the log is read in order and only as far as it is
    /// on disk (an event lost in a crash is stored again after the
    /// restart, under a new place), and the durable horizon only wakes
    /// the reader.
    pub fn live(
        &self,
        session: Option<SessionId>,
        kinds: Option<Vec<EventKind>>,
        since: Option<u64>,
    ) -> Result<impl Stream<Item = Live> + Send + use<>, CoreError> {
        const PAGE: usize = 256;
        // The stream carries what the messages routes do: `read`'s scope.
        match &session {
            Some(s) => self.may(s, Scope::Read)?,
            None => self.access.check_reads_some()?,
        }
        // Subscribe before reading where the log ends: nothing slips between.
        let wake = self.pipeline.durable_horizon();
        let (last, pruned) = self.pipeline.log_bounds()?;
        let gone = since.is_some_and(|s| s < pruned);
        let start = match since {
            // What is still kept, from the oldest.
            Some(_) if gone => pruned,
            // A place past the end is from another log (a restored data
            // directory, another peer's): everything new from here on.
            Some(s) => s.min(last),
            None => last,
        };
        let pipeline = self.pipeline.clone();
        let access = self.access.clone();
        // A key revoked or rotated while its stream is open ends it: the
        // next request with it would be refused, so must the stream be.
        let (store, holder) = (self.store.clone(), self.access.clone());
        let still_valid = move || match &holder {
            crate::domain::Access::Key(k) => store
                .key_by_hash(&k.hash)
                .ok()
                .flatten()
                .is_some_and(|now| now.id == k.id),
            _ => true,
        };
        let wanted = move |e: &Event| {
            access.check(&e.session, Scope::Read).is_ok()
                // A QR or pairing code links a phone: `manage`'s, as its routes.
                && (!matches!(e.event, EventKind::SessionQr | EventKind::SessionPairingCode)
                    || access.check(&e.session, Scope::Manage).is_ok())
                && session.as_ref().is_none_or(|s| *s == e.session)
                && kinds.as_ref().is_none_or(|k| k.contains(&e.event))
        };
        let head = futures::stream::iter(std::iter::once(Live::From { after: start }).chain(
            gone.then_some(Live::Gone {
                pruned_through: pruned,
            }),
        ));
        let body = futures::stream::unfold((start, wake), move |(mut after, mut wake)| {
            let (pipeline, wanted, still_valid) =
                (pipeline.clone(), wanted.clone(), still_valid.clone());
            async move {
                loop {
                    if !still_valid() {
                        return None;
                    }
                    let page = match pipeline.events_after(after, PAGE) {
                        Ok(p) => p,
                        Err(e) => {
                            tracing::error!("the event log cannot be read: {e}");
                            return None;
                        }
                    };
                    if let Some(l) = page.last() {
                        after = l.seq;
                        let items: Vec<Live> = page
                            .into_iter()
                            .filter(|l| wanted(&l.event))
                            .map(Live::Event)
                            .collect();
                        if !items.is_empty() {
                            return Some((futures::stream::iter(items), (after, wake)));
                        }
                        continue;
                    }
                    // Caught up: wait until more of the log is durable
                    // (or a while, to see the key is still good).
                    tokio::select! {
                        changed = wake.changed() => if changed.is_err() {
                            return None;
                        },
                        _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                    }
                }
            }
        })
        .flatten();
        let mut stopping = self.stopping.clone();
        let stopped = async move {
            let _ = stopping.wait_for(|s| *s).await;
        };
        Ok(head.chain(body).take_until(stopped))
    }
}

/// A media the page could not give: WhatsApp has it no more (404), or the
/// page could not be asked or answer now (503).
fn media_failure(msg_id: &str, e: crate::session::MediaError) -> CoreError {
    use crate::session::{CallError, MediaError};
    let gone = |why: &str| {
        let w = why.to_ascii_lowercase();
        [
            "no media",
            "not found",
            "expired",
            "gone",
            "deleted",
            "404",
            "410",
        ]
        .iter()
        .any(|k| w.contains(k))
    };
    match e {
        MediaError::Page(CallError::Page(ref why)) if gone(why) => CoreError::NotFound {
            code: "media_unavailable",
            message: format!(
                "the media of {msg_id} is not kept and WhatsApp no longer gives it: {e}"
            ),
        },
        MediaError::TooLarge => CoreError::NotFound {
            code: "media_unavailable",
            message: format!("the media of {msg_id} is not kept here: {e}"),
        },
        MediaError::Garbled(_) => CoreError::WhatsApp(format!("the media of {msg_id}: {e}")),
        _ => CoreError::Unavailable(format!(
            "the media of {msg_id} could not be fetched from WhatsApp Web now: {e}"
        )),
    }
}

/// A search, the starred list or a chat's pins: a chat the account lacks
/// is 404, as a message named by `before` that WhatsApp Web lacks; what
/// the WhatsApp Web build lacks is 409 `unsupported_by_whatsapp_web`.
pub(super) fn find_failure(
    chat: Option<&Wid>,
    before: Option<&str>,
    e: crate::session::CallError,
) -> CoreError {
    match (chat, e) {
        (Some(chat), crate::session::CallError::Page(m)) if m.starts_with("CHAT_NOT_FOUND: ") => {
            chat_failure(chat, crate::session::CallError::Page(m))
        }
        // A WhatsApp Web build older than these finds.
        (_, crate::session::CallError::Page(m)) if m.starts_with("UNSUPPORTED: ") => {
            CoreError::Conflict {
                code: "unsupported_by_whatsapp_web",
                message: m.trim_start_matches("UNSUPPORTED: ").to_string(),
            }
        }
        (_, e) => super::actions::off_page(before.unwrap_or(""), e),
    }
}

/// A call on a chat that failed; `CHAT_NOT_FOUND`: the account has no such
/// chat.
fn chat_failure(chat: &Wid, e: crate::session::CallError) -> CoreError {
    match e {
        crate::session::CallError::Page(m) if m.starts_with("CHAT_NOT_FOUND: ") => {
            CoreError::NotFound {
                code: "chat_not_found",
                message: format!("this account has no chat '{chat}'"),
            }
        }
        e => CoreError::from(crate::session::CallFailure::from(e)),
    }
}
