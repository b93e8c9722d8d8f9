//! What the store remembers (messages, their media) and what the page knows
//! (chats, whether a number is on WhatsApp, marking read), plus the live
//! event stream.

use super::{Core, CoreError};
use crate::domain::{Event, EventKind, MediaInfo, Message, SessionId, Wid};
use crate::session::ChatInfo;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

/// One page of history, newest first; `next` continues it.
pub struct HistoryPage {
    pub messages: Vec<Message>,
    pub next: Option<Vec<u8>>,
}

/// An item of the live stream.
pub enum Live {
    Event(Event),
    /// A slow reader missed this many events.
    Lagged(u64),
}

impl Core {
    pub async fn messages(
        &self,
        session: &SessionId,
        chat: Option<&Wid>,
        limit: usize,
        before: Option<&[u8]>,
    ) -> Result<HistoryPage, CoreError> {
        self.manager.get(session).await?;
        let (messages, next) =
            self.store
                .messages(session, chat.map(Wid::as_str), limit, before)?;
        Ok(HistoryPage { messages, next })
    }

    /// One stored message.
    pub async fn message(&self, session: &SessionId, id: &str) -> Result<Message, CoreError> {
        self.store
            .message(session, id)?
            .ok_or_else(|| CoreError::NotFound {
                code: "message_not_found",
                message: format!("no message {id}"),
            })
    }

    /// A message by its short id (`Message::short_id`), in any session.
    pub async fn message_by_short_id(&self, short: &[u8]) -> Result<Option<Message>, CoreError> {
        Ok(self.store.message_by_short_id(short)?)
    }

    /// The `before` cursor that continues history after this message.
    pub fn cursor_of(&self, session: &SessionId, id: &str) -> Result<Option<Vec<u8>>, CoreError> {
        Ok(self.store.message_cursor(session, id)?)
    }

    /// A stored message's media and its bytes.
    pub async fn media(
        &self,
        session: &SessionId,
        msg_id: &str,
    ) -> Result<(MediaInfo, Vec<u8>), CoreError> {
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
        let path = self.manager.env().media_path(session, msg_id);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|_| CoreError::NotFound {
                code: "media_unavailable",
                message: format!("the media of {msg_id} was not kept"),
            })?;
        Ok((info, bytes))
    }

    pub async fn chats(&self, session: &SessionId) -> Result<Vec<ChatInfo>, CoreError> {
        let bridge = self.manager.bridge(session).await?;
        Ok(bridge
            .chats()
            .await
            .map_err(crate::session::CallFailure::from)?)
    }

    /// The id WhatsApp knows `who` by, or None if not on WhatsApp.
    pub async fn contact(
        &self,
        session: &SessionId,
        who: &Wid,
    ) -> Result<Option<String>, CoreError> {
        let bridge = self.manager.bridge(session).await?;
        Ok(bridge
            .exists(who)
            .await
            .map_err(crate::session::CallFailure::from)?)
    }

    pub async fn mark_read(&self, session: &SessionId, chat: &Wid) -> Result<(), CoreError> {
        let bridge = self.manager.bridge(session).await?;
        Ok(bridge
            .mark_read(chat)
            .await
            .map_err(crate::session::CallFailure::from)?)
    }

    /// Live events from now on, optionally of one session and some kinds.
    pub fn live(
        &self,
        session: Option<SessionId>,
        kinds: Option<Vec<EventKind>>,
    ) -> impl Stream<Item = Live> + Send + use<> {
        BroadcastStream::new(self.pipeline.subscribe()).filter_map(move |item| {
            let out = match item {
                Ok(ev) => {
                    let wanted = session.as_ref().is_none_or(|s| *s == ev.session)
                        && kinds.as_ref().is_none_or(|k| k.contains(&ev.event));
                    wanted.then_some(Live::Event(ev))
                }
                Err(BroadcastStreamRecvError::Lagged(n)) => Some(Live::Lagged(n)),
            };
            std::future::ready(out)
        })
    }
}
