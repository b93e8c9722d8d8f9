//! The core: everything any dialect may ask of wabridge, in one place.
//! Sessions (create, start, stop, logout, delete, QR), sending with media and
//! idempotency, history, chats and contacts, webhook deliveries, and the
//! live event stream. Dialects turn their requests into these calls and
//! `CoreError` into their own error bodies.

mod actions;
mod calls;
mod channels;
mod communities;
mod contacts;
mod deliveries;
mod error;
mod groups;
mod health;
mod history;
mod keys;
mod labels;
mod media;
mod notes;
mod pacing;
mod people;
mod pins;
pub use people::{BusinessEdit, ProfileEdit};
pub use pins::{PinState, Pinned};
mod send;
mod sessions;
mod templates;
mod uploads;
mod vcard;

pub use crate::domain::StatusStyle;
pub use crate::session::{
    AddOutcome, CardOf, Channel, ChannelPage, Community, Contact, GroupInfo, JoinRequest, Label,
    Labels, LinkFailure, LinkedGroup, Linking, Note, Participant, Receipt, Receipts,
};
pub use channels::{ChannelEdit, MAX_CHANNEL_DESCRIPTION, MAX_CHANNEL_NAME, MAX_CHANNEL_PAGE};
pub use communities::{CommunityEdit, MAX_COMMUNITY_NAME, MadeCommunity, NewCommunity, NewGroup};
pub use error::CoreError;
pub use groups::{
    EPHEMERAL_SECS, GroupAfter, GroupEdit, INVITE_PREFIX, JoinAnswers, MAX_DESCRIPTION, Membership,
};
pub use history::{Found, HistoryPage, Live, MAX_SEARCH};
pub use media::{MAX_SEND_MEDIA, MediaSource, OutgoingMedia, StoredMedia};
pub use notes::MAX_NOTE;
pub use send::{
    InviteToGroup, MAX_CARDS, MAX_TEXT, SendOptions, SendRequest, SentMessage, Special,
};
pub use templates::Template;
pub use uploads::{UPLOAD_TYPES, UploadProgress, is_upload_session, upload_owner};
pub use vcard::vcard_cards;

use crate::outbound::Reach;
use crate::pipeline::Pipeline;
use crate::session::Manager;
use crate::store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct Core {
    manager: Arc<Manager>,
    pipeline: Arc<Pipeline>,
    store: Store,
    /// One client for every media download (connection reuse, one timeout),
    /// and one for a tenant's (public addresses only; `media::Reach`).
    http: Arc<media::MediaClients>,
    http_public: Arc<media::MediaClients>,
    /// Scoped keys' URLs (media, webhooks) may reach private networks too.
    private_for_keys: bool,
    /// Acting for a tenant whatever the access (a TwiML reply of a webhook
    /// a scoped key set): its URLs reach what a scoped key's do.
    tenant: bool,
    /// The session of calls that name none (open-wa's `POST /{method}`).
    default_session: Option<crate::domain::SessionId>,
    /// Send pacing, one queue per session.
    lanes: Arc<pacing::Lanes>,
    /// Who is calling: the API gives each request a core acting as its
    /// key (`acting_as`); the daemon's own core is the admin.
    access: crate::domain::Access,
    /// Turns true when the daemon stops: live streams end then, so a
    /// graceful shutdown does not wait on readers that never leave.
    stopping: tokio::sync::watch::Receiver<bool>,
    /// The largest media a send or an upload may carry (bytes).
    max_media: usize,
    /// Chats whose history the page had nothing older for, by the oldest
    /// message then stored: a reader at the end of a chat does not ask the
    /// page again until that changes.
    history_ends: Arc<std::sync::Mutex<HistoryEnds>>,
    /// Bumped when a session's call policy changes: the task that applies
    /// them reads the event log only while some session has one.
    call_policies: Arc<tokio::sync::watch::Sender<u64>>,
    /// Resumable uploads take one part at a time (`uploads`).
    upload_parts: Arc<tokio::sync::Mutex<()>>,
}

/// (session, chat) → (its oldest stored message then, when noted).
type HistoryEnds = std::collections::HashMap<
    (crate::domain::SessionId, String),
    (Option<String>, std::time::Instant),
>;

impl Core {
    pub fn new(
        manager: Arc<Manager>,
        default_session: Option<crate::domain::SessionId>,
        pacing: crate::domain::pacing::Pacing,
        stopping: tokio::sync::watch::Receiver<bool>,
        max_media: usize,
        private_for_keys: bool,
    ) -> anyhow::Result<Self> {
        let env = manager.env().clone();
        tokio::spawn(send::sweep_idempotency(env.store.clone()));
        let core = Core {
            pipeline: env.pipeline.clone(),
            store: env.store.clone(),
            manager,
            http: Arc::new(media::MediaClients::new(Reach::Private)?),
            http_public: Arc::new(media::MediaClients::new(Reach::Public)?),
            private_for_keys,
            tenant: false,
            default_session,
            lanes: Arc::new(pacing::Lanes::new(pacing)),
            access: crate::domain::Access::Admin,
            stopping,
            max_media,
            history_ends: Default::default(),
            call_policies: Arc::new(tokio::sync::watch::Sender::new(0)),
            upload_parts: Default::default(),
        };
        tokio::spawn(core.clone().answer_calls());
        tokio::spawn(core.clone().sweep_upload_sessions());
        Ok(core)
    }

    /// Whether the caller is a tenant: a scoped key, or one acting for it.
    pub(crate) fn is_tenant(&self) -> bool {
        self.tenant || !self.access.is_admin()
    }

    /// Where this caller's URLs (media, webhooks) may lead.
    pub(crate) fn reach(&self) -> Reach {
        if !self.is_tenant() || self.private_for_keys {
            Reach::Private
        } else {
            Reach::Public
        }
    }

    /// The same core, its URLs reaching what a scoped key's do.
    pub fn for_tenant(&self) -> Core {
        Core {
            tenant: true,
            ..self.clone()
        }
    }

    /// The largest media a send or an upload may carry (bytes).
    pub fn max_media(&self) -> usize {
        self.max_media
    }

    pub fn manager(&self) -> &Arc<Manager> {
        &self.manager
    }
}
