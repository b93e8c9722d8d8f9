//! The EASY API's calls, all pure: `POST /{sessionId}/{method}` with
//! `{"args": {...} | [...]}`. Each open-wa `Client` method wabridge serves,
//! with its parameters in open-wa's declared order (positional `args` follow
//! it; named ones use the same names), read and checked into a `Call` for
//! the handler to run; and the EASY API's errors.

use crate::api::body::BodyError;
use crate::core::{
    CoreError, GroupEdit, MediaSource, Membership, OutgoingMedia, ProfileEdit, SendRequest, Special,
};
use crate::domain::{Location, Poll, Wid};
use crate::session::{CardOf, ChatChange};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// The methods open-wa's `Client` offers that wabridge serves, with their
/// parameter names in open-wa's order (for named `args`).
pub const METHODS: &[(&str, &[&str])] = &[
    // Sending.
    ("sendText", &["to", "content"]),
    ("reply", &["to", "content", "quotedMsgId", "sendSeen"]),
    (
        "sendTextWithMentions",
        &["to", "content", "hideTags", "mentions"],
    ),
    (
        "sendReplyWithMentions",
        &["to", "content", "replyMessageId", "hideTags", "mentions"],
    ),
    ("sendImage", FILE_PARAMS),
    ("sendFile", FILE_PARAMS),
    (
        "sendFileFromUrl",
        &[
            "to",
            "url",
            "filename",
            "caption",
            "quotedMsgId",
            "requestConfig",
            "waitForId",
            "ptt",
            "withoutPreview",
            "hideTags",
            "viewOnce",
        ],
    ),
    ("sendPtt", &["to", "file", "quotedMsgId"]),
    (
        "sendVideoAsGif",
        &[
            "to",
            "file",
            "filename",
            "caption",
            "quotedMsgId",
            "requestConfig",
        ],
    ),
    ("sendImageAsSticker", &["to", "image", "stickerMetadata"]),
    (
        "sendStickerfromUrl",
        &["to", "url", "requestConfig", "stickerMetadata"],
    ),
    (
        "sendImageAsStickerAsReply",
        &["to", "image", "messageId", "stickerMetadata"],
    ),
    (
        "sendStickerfromUrlAsReply",
        &["to", "url", "messageId", "requestConfig", "stickerMetadata"],
    ),
    ("sendRawWebpAsSticker", &["to", "webpBase64", "animated"]),
    (
        "sendRawWebpAsStickerAsReply",
        &["to", "messageId", "webpBase64", "animated"],
    ),
    ("sendAudio", &["to", "file", "quotedMsgId"]),
    (
        "sendLocation",
        &["to", "lat", "lng", "loc", "address", "url"],
    ),
    ("sendContact", &["to", "contactId"]),
    ("sendMultipleContacts", &["to", "contactIds"]),
    (
        "sendVCard",
        &["chatId", "vcard", "contactName", "contactNumber"],
    ),
    ("sendLinkWithAutoPreview", LINK_PARAMS),
    ("sendYoutubeLink", LINK_PARAMS),
    (
        "sendPoll",
        &["to", "name", "options", "quotedMsgId", "allowMultiSelect"],
    ),
    ("sendSeen", &["chatId"]),
    ("simulateTyping", &["to", "on"]),
    ("simulateRecording", &["to", "on"]),
    ("setChatState", &["chatState", "chatId"]),
    ("setPresence", &["available"]),
    // What was sent.
    ("react", &["messageId", "emoji"]),
    ("editMessage", &["messageId", "text"]),
    ("deleteMessage", &["chatId", "messageId", "onlyLocal"]),
    ("starMessage", &["messageId"]),
    ("unstarMessage", &["messageId"]),
    ("pinMessage", &["id", "pin", "pinDuration"]),
    ("getMessageInfo", &["messageId"]),
    ("getMessageReaders", &["messageId"]),
    ("getStarredMessages", &["chatId"]),
    ("forwardMessages", &["to", "messages", "skipMyMessages"]),
    ("getMessageById", &["messageId"]),
    ("getPollData", &["messageId"]),
    ("getMyLastMessage", &["chatId"]),
    ("decryptMedia", &["message"]),
    (
        "getAllMessagesInChat",
        &["chatId", "includeMe", "includeNotifications"],
    ),
    ("loadEarlierMessages", &["contactId"]),
    ("loadAllEarlierMessages", &["contactId", "timeout"]),
    ("loadEarlierMessagesTillDate", &["contactId", "timestamp"]),
    (
        "loadAndGetAllMessagesInChat",
        &["chatId", "includeMe", "includeNotifications"],
    ),
    // Chats and contacts.
    ("getAllChats", &["withNewMessageOnly"]),
    ("getAllChatsWithMessages", &["withNewMessageOnly"]),
    ("getChatWithNonContacts", &[]),
    ("getChatById", &["contactId"]),
    ("getChat", &["contactId"]),
    ("getAllChatIds", &[]),
    ("getAllUnreadMessages", &[]),
    ("getAllNewMessages", &[]),
    ("getIndicatedNewMessages", &[]),
    ("getLastMsgTimestamps", &[]),
    ("isChatMuted", &["chatId"]),
    ("getVCards", &["msgId"]),
    ("clearAllChats", &["ts"]),
    (
        "getUnreadMessages",
        &["includeMe", "includeNotifications", "use_unread_count"],
    ),
    ("markAllRead", &[]),
    ("getAllContacts", &[]),
    ("getContact", &["contactId"]),
    ("checkNumberStatus", &["contactId"]),
    ("getProfilePicFromServer", &["chatId"]),
    ("getStatus", &["contactId"]),
    ("getBusinessProfile", &["id"]),
    ("getLastSeen", &["chatId"]),
    ("isChatOnline", &["chatId"]),
    ("setMyName", &["newName"]),
    ("setMyStatus", &["newStatus"]),
    ("setProfilePic", &["data"]),
    ("archiveChat", &["id", "archive"]),
    ("pinChat", &["id", "pin"]),
    ("muteChat", &["chatId", "muteDuration"]),
    ("unmuteChat", &["chatId"]),
    ("clearChat", &["chatId"]),
    ("deleteChat", &["chatId"]),
    ("markAsUnread", &["chatId"]),
    ("getBlockedIds", &[]),
    // Stories.
    (
        "postTextStatus",
        &["text", "textRgba", "backgroundRgba", "font"],
    ),
    ("postImageStatus", &["data", "caption"]),
    ("postVideoStatus", &["data", "caption"]),
    ("deleteStory", &["statusesToDelete"]),
    ("deleteStatus", &["statusesToDelete"]),
    ("deleteAllStories", &[]),
    ("deleteAllStatus", &[]),
    ("getMyStoryArray", &[]),
    ("getMyStatusArray", &[]),
    ("getAllLabels", &[]),
    ("createLabel", &["label"]),
    ("addLabel", &["label", "chatId"]),
    ("removeLabel", &["label", "chatId"]),
    ("getChatsByLabel", &["label"]),
    ("autoReject", &["message"]),
    ("contactBlock", &["id"]),
    ("contactUnblock", &["id"]),
    // Groups.
    ("getAllGroups", &["withNewMessagesOnly"]),
    ("getGroupMembersId", &["groupId"]),
    ("getGroupMembers", &["groupId"]),
    ("getGroupAdmins", &["groupId"]),
    ("getAllCommunities", &[]),
    (
        "createCommunity",
        &[
            "communityName",
            "communitySubject",
            "icon",
            "existingGroups",
            "newGroups",
        ],
    ),
    ("getCommunityInfo", &["communityId"]),
    ("getCommunityParticipantIds", &["communityId"]),
    ("getCommunityAdminIds", &["communityId"]),
    ("getCommunityParticipants", &["communityId"]),
    ("getCommunityAdmins", &["communityId"]),
    (
        "tagEveryone",
        &[
            "groupId",
            "content",
            "hideTags",
            "formatting",
            "messageBeforeTags",
        ],
    ),
    ("getGroupInfo", &["groupId"]),
    ("iAmAdmin", &[]),
    ("getCommonGroups", &["contactId"]),
    ("createGroup", &["groupName", "contacts"]),
    ("addParticipant", &["groupId", "participantId"]),
    ("removeParticipant", &["groupId", "participantId"]),
    ("promoteParticipant", &["groupId", "participantId"]),
    ("demoteParticipant", &["groupId", "participantId"]),
    ("getGroupInviteLink", &["chatId"]),
    ("joinGroupViaLink", &["link", "returnChatObj"]),
    ("revokeGroupInviteLink", &["chatId"]),
    ("getGroupApprovalRequests", &["groupChatId"]),
    ("approveGroupJoinRequest", &["groupChatId", "contactId"]),
    ("rejectGroupJoinRequest", &["groupChatId", "contactId"]),
    ("inviteInfo", &["link"]),
    ("setGroupTitle", &["groupId", "title"]),
    ("setGroupDescription", &["groupId", "description"]),
    ("setGroupToAdminsOnly", &["groupId", "onlyAdmins"]),
    ("setGroupEditToAdminsOnly", &["groupId", "onlyAdmins"]),
    ("setGroupIcon", &["groupId", "image"]),
    ("setGroupIconByUrl", &["groupId", "url", "requestConfig"]),
    ("setChatEphemeral", &["chatId", "ephemeral"]),
    ("leaveGroup", &["groupId"]),
    // The session.
    ("getHostNumber", &[]),
    ("getConnectionState", &[]),
    ("isConnected", &[]),
    ("getMe", &[]),
    ("logout", &["preserveSessionData"]),
    ("kill", &["reason"]),
    ("refresh", &[]),
    ("forceRefocus", &[]),
    ("healthCheck", &[]),
    // Webhooks registered at run time (open-wa's, format `openwa`).
    (
        "registerWebhook",
        &["url", "events", "requestConfig", "concurrency"],
    ),
    ("listWebhooks", &[]),
    ("removeWebhook", &["webhookId"]),
    ("updateWebhook", &["webhookId", "events"]),
    ("getAmountOfLoadedMessages", &[]),
    ("cutMsgCache", &[]),
    ("cutChatCache", &[]),
    ("getUnsentMessages", &[]),
    ("checkReadReceipts", &["contactId"]),
    ("waitWhQIdle", &[]),
    ("waitAllQEmpty", &[]),
    ("syncContacts", &[]),
    ("isPhoneDisconnected", &[]),
    ("getWAVersion", &[]),
    ("getBatteryLevel", &[]),
    ("getIsPlugged", &[]),
];

const LINK_PARAMS: &[&str] = &[
    "to",
    "url",
    "text",
    "thumbnail",
    "quotedMsgId",
    "customSize",
];

const FILE_PARAMS: &[&str] = &[
    "to",
    "file",
    "filename",
    "caption",
    "quotedMsgId",
    "waitForId",
    "ptt",
    "withoutPreview",
    "hideTags",
    "viewOnce",
    "requestConfig",
];

/// How a send that cannot go to a number not on WhatsApp answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NotOnWhatsApp {
    /// open-wa's error string, `success: false` (sendText).
    ErrorString,
    /// `false`, `success: true` (the other sends).
    False,
}

/// One EASY API call, its arguments read and checked.
// Sends are most calls, and a call lives for one request: not boxed.
#[allow(clippy::large_enum_variant)]
pub enum Call {
    /// `seen_first`: mark the chat read before sending, as open-wa's
    /// `sendText` always does and `reply` does when asked.
    Send {
        req: SendRequest,
        seen_first: bool,
        unknown: NotOnWhatsApp,
        /// As open-wa's `reply`: a quoted message WhatsApp Web does not
        /// have (or deleted for everyone) leaves the quote out, not the
        /// message.
        quote_optional: bool,
        /// Answer `true`, as open-wa's sendVCard does, not the message's id.
        answer_true: bool,
    },
    SendSeen(Wid),
    /// Typing or recording in a chat, or stopping (`paused`); without a
    /// chat, the account `online` or `offline`.
    Presence {
        chat: Option<Wid>,
        state: &'static str,
    },
    React {
        message: String,
        emoji: String,
    },
    Edit {
        message: String,
        text: String,
    },
    /// Deletes for everyone, or (`onlyLocal`) for this account only.
    Delete {
        messages: Vec<String>,
        only_local: bool,
    },
    /// Stars (or unstars) a message.
    Star {
        message: String,
        on: bool,
    },
    /// Who got, read and played one of our messages (`readers`: only who
    /// read it, as Contacts).
    Receipts {
        message: String,
        readers: bool,
    },
    /// The starred messages, of one chat or all.
    GetStarredMessages(Option<Wid>),
    /// Pins a message for everyone in its chat, or unpins it.
    Pin {
        message: String,
        on: bool,
        duration: crate::domain::PinDuration,
    },
    /// Clears a chat but its starred messages (`delete`: deletes it).
    ClearChat {
        chat: Wid,
        delete: bool,
    },
    /// Each message on to `to`, in order; answers the copies' ids.
    Forward {
        to: Wid,
        messages: Vec<String>,
    },
    GetMessageById(String),
    /// A poll's tally as it stands (open-wa's PollData).
    GetPollData(String),
    /// The newest message this account sent, in a chat or in any.
    MyLastMessage(Option<Wid>),
    /// A message's media as a data URL (a Message or its id).
    DecryptMedia(String),
    GetAllMessagesInChat {
        chat: Wid,
        include_me: bool,
    },
    /// Messages older than those getAllMessagesInChat shows, which it
    /// shows from then on: the next batch, or (`all`) every one.
    LoadEarlier {
        chat: Wid,
        all: bool,
    },
    /// Older messages loaded until one as old as `till` (unix s).
    LoadTill {
        chat: Wid,
        till: i64,
    },
    /// loadAllEarlierMessages, then getAllMessagesInChat.
    LoadAndGetAll {
        chat: Wid,
        include_me: bool,
    },
    GetAllChats {
        unread_only: bool,
    },
    GetChatById(Wid),
    GetAllChatIds,
    /// Of each chat with unread messages, that many of its newest.
    GetAllUnreadMessages,
    /// The unread messages that came in (not this account's own).
    GetAllNewMessages,
    /// The people of the chats who are not in the address book (Contacts).
    ChatsWithNonContacts,
    /// The same, as the chats with their unread `messages` (ours only
    /// with `include_me`).
    GetUnreadMessages {
        include_me: bool,
    },
    /// Each unread chat's id with its unread messages, not ours.
    GetIndicatedNewMessages,
    /// Each chat's id with its last message's time (ms).
    LastMessageTimes,
    IsChatMuted(Wid),
    /// A contact card message's cards, as `{displayName, vcard}`.
    GetVCards(String),
    /// Every chat cleared whose last message is no newer than `till`
    /// (unix s; all without it).
    ClearAllChats {
        till: Option<i64>,
    },
    /// This account's statuses of the last 24 hours.
    MyStatuses,
    /// All of them taken down.
    DeleteAllStatuses,
    /// Every chat with unread messages marked read.
    MarkAllRead,
    /// The ids of a group's admins.
    GroupAdmins(Wid),
    /// The communities this account is in (ids).
    GetAllCommunities,
    /// A community with `existing` groups and new ones linked to it.
    CreateCommunity {
        name: String,
        description: String,
        icon: Option<Vec<u8>>,
        existing: Vec<Wid>,
        new_groups: Vec<NewCommunityGroup>,
    },
    /// A community's GroupMetadata, with its groups' as `subGroups`.
    CommunityInfo(Wid),
    /// getCommunityParticipant(Id)s and getCommunityAdmin(Id)s: the
    /// community's members (or admins), then each linked group's.
    CommunityMembers {
        community: Wid,
        admins_only: bool,
        ids_only: bool,
    },
    /// A group's title and description.
    GroupInfo(Wid),
    /// The groups this account is an admin of.
    IAmAdmin,
    /// The groups this account shares with someone.
    CommonGroups(Wid),
    GetAllContacts,
    GetContact(Wid),
    CheckNumberStatus(Wid),
    ProfilePicture(Wid),
    GetStatus(Wid),
    /// A business's profile (null for a person's).
    BusinessProfile(Wid),
    /// When someone was last seen (false: online, hidden or unknown).
    LastSeen(Wid),
    IsChatOnline(Wid),
    /// A message to a group that mentions every other member.
    TagEveryone {
        group: Wid,
        content: String,
        hide_tags: bool,
        formatting: Option<String>,
        before: bool,
    },
    Block {
        who: Wid,
        yes: bool,
    },
    GetBlockedIds,
    /// deleteStory and deleteStatus: statuses of ours taken down.
    DeleteStatus(Vec<String>),
    /// A business account's labels, each with the chats it is on.
    GetAllLabels,
    CreateLabel(String),
    /// addLabel and removeLabel: `label` is its id or its name.
    LabelChat {
        label: String,
        chat: Wid,
        add: bool,
    },
    /// By name, whatever its case.
    ChatsByLabel(String),
    /// Decline every call from now on, and send the caller `message`.
    AutoReject {
        message: Option<String>,
    },
    /// setMyName, setMyStatus and setProfilePic.
    Profile(ProfileEdit),
    /// archiveChat, pinChat, muteChat, unmuteChat and markAsUnread.
    ChatState {
        chat: Wid,
        change: ChatChange,
    },
    GetAllGroups {
        unread_only: bool,
    },
    /// `ids_only`: getGroupMembersId (ids) rather than getGroupMembers
    /// (Contacts).
    GroupMembers {
        group: Wid,
        ids_only: bool,
    },
    CreateGroup {
        name: String,
        contacts: Vec<Wid>,
    },
    Participants {
        group: Wid,
        change: Membership,
    },
    InviteLink(Wid),
    RevokeInvite(Wid),
    /// Who asks to join (their ids).
    JoinRequests(Wid),
    /// approveGroupJoinRequest and rejectGroupJoinRequest.
    AnswerJoinRequest {
        group: Wid,
        who: Wid,
        approve: bool,
    },
    /// The group an invite opens (a link or a code, or a message holding one).
    InviteInfo(String),
    JoinGroup {
        link: String,
        chat: bool,
    },
    /// setGroupTitle, setGroupDescription, setGroupToAdminsOnly and
    /// setGroupEditToAdminsOnly.
    EditGroup {
        group: Wid,
        edit: GroupEdit,
    },
    LeaveGroup(Wid),
    /// The group's picture from an image at a URL, fetched by the daemon.
    SetGroupIconByUrl {
        group: Wid,
        url: String,
        headers: Vec<(String, String)>,
    },
    GetHostNumber,
    GetConnectionState,
    IsConnected,
    GetMe,
    Logout,
    /// The session stopped (open-wa's kill: the browser closed).
    Kill,
    /// The session's browser started again, no scan (open-wa's refresh).
    Refresh,
    /// The session taken back where its connection is lost (open-wa's
    /// "use here"); nothing to do where it is connected.
    ForceRefocus,
    HealthCheck,
    /// A webhook of open-wa's format for these listeners (`all`), posting
    /// with these headers (its `requestConfig`'s).
    RegisterWebhook {
        url: String,
        listeners: Vec<String>,
        headers: std::collections::BTreeMap<String, String>,
    },
    ListWebhooks,
    RemoveWebhook(String),
    UpdateWebhook {
        id: String,
        listeners: Vec<String>,
    },
    /// How many messages WhatsApp Web holds in memory.
    GetAmountOfLoadedMessages,
    /// Drops WhatsApp Web's in-memory copies of messages already stored.
    CutMsgCache,
    /// The same, answered with the counts before and after.
    CutChatCache,
    /// Our messages WhatsApp's server has not taken.
    GetUnsentMessages,
    /// Whether a contact's read receipts show (true, false, or why it
    /// cannot be told).
    CheckReadReceipts(Wid),
    /// Waits until the session's webhook deliveries are all made.
    WaitDeliveries,
    /// What needs no doing here, answered as open-wa does: syncContacts
    /// (WhatsApp syncs the address book to linked devices itself).
    Answer(bool),
    /// Whether WhatsApp cannot be reached (as healthCheck tells it): a
    /// linked device works without its phone.
    PhoneDisconnected,
    /// The WhatsApp Web build the session's page runs.
    GetWaVersion,
    /// What multi-device WhatsApp no longer tells (the phone's battery):
    /// open-wa's answer, `"DEPRECATED"`.
    Deprecated,
}

/// An EASY API error: `{"success": false, "error": {"name", "message", "data"}}`.
#[derive(Debug)]
pub struct EasyError {
    pub status: StatusCode,
    pub name: &'static str,
    pub message: String,
    /// open-wa's `error.data`, where its error carries some.
    pub data: Option<Value>,
    pub retry_after: Option<u64>,
}

impl EasyError {
    pub fn new(status: StatusCode, name: &'static str, message: impl Into<String>) -> Self {
        EasyError {
            status,
            name,
            message: message.into(),
            data: None,
            retry_after: None,
        }
    }

    /// open-wa's AddParticipantError: those WhatsApp did not add, each
    /// with its code (409 already in, 403 their privacy settings, ...).
    pub fn not_added(codes: serde_json::Map<String, Value>) -> Self {
        EasyError {
            data: Some(Value::Object(codes)),
            ..Self::new(
                StatusCode::OK,
                "ADD_PARTICIPANTS_ERROR",
                "Unable to add some participants",
            )
        }
    }

    /// Arguments the method cannot take: as in open-wa, where the method
    /// throws, a 200 with `success: false`.
    pub fn bad_args(message: impl Into<String>) -> Self {
        Self::new(StatusCode::OK, "INVALID_ARGS", message)
    }

    pub fn unknown_method(method: &str) -> Self {
        let known: Vec<&str> = METHODS.iter().map(|(m, _)| *m).collect();
        Self::new(
            StatusCode::NOT_FOUND,
            "UNKNOWN_METHOD",
            format!(
                "Cannot find method: {method}. wabridge serves: {}",
                known.join(", ")
            ),
        )
    }

    pub fn body(&self) -> Value {
        json!({"success": false, "error": {"name": self.name, "message": self.message, "data": self.data}})
    }
}

impl From<BodyError> for EasyError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::Malformed(m) => EasyError::new(StatusCode::BAD_REQUEST, "MALFORMED_BODY", m),
            BodyError::TooLarge => EasyError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large",
            ),
            BodyError::Invalid { field, why } => {
                EasyError::bad_args(format!("'{field}' is invalid: {why}"))
            }
        }
    }
}

/// A method failed. Like open-wa, a call that ran and failed answers 200
/// with `success: false`; a session that does not exist is a 404.
impl From<CoreError> for EasyError {
    fn from(e: CoreError) -> Self {
        let (status, name) = match &e {
            CoreError::SessionNotFound(_) => (StatusCode::NOT_FOUND, "SESSION_NOT_FOUND"),
            // No session at all for a call that names none.
            CoreError::NotFound { code, .. } if *code == "session_not_found" => {
                (StatusCode::NOT_FOUND, "SESSION_NOT_FOUND")
            }
            CoreError::NotReady(_) => (StatusCode::OK, "STATE_ERROR"),
            CoreError::Invalid { .. } => (StatusCode::OK, "INVALID_ARGS"),
            CoreError::MediaTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "INVALID_ARGS"),
            CoreError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            CoreError::Forbidden { .. } => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            CoreError::StorageFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "STORAGE_FULL"),
            CoreError::Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY"),
            _ => (StatusCode::OK, "ERROR"),
        };
        let mut err = EasyError::new(status, name, e.to_string());
        err.retry_after = e.retry_after_secs();
        err
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct EasyIn {
    /// The method's arguments: by name (an object) or by position (an array).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub args: Value,
    pub method: Option<String>,
}

/// open-wa's NewCommunityGroup: a group made for a new community.
pub struct NewCommunityGroup {
    pub subject: String,
    pub icon: Option<Vec<u8>>,
    /// Disappearing messages (s), one of WhatsApp's durations.
    pub ephemeral: Option<u32>,
}

fn new_community_groups(v: Option<&Value>) -> Result<Vec<NewCommunityGroup>, EasyError> {
    let bad = |why: &str| EasyError::bad_args(format!("'newGroups' {why}"));
    let Some(v) = v else { return Ok(vec![]) };
    let list = v
        .as_array()
        .ok_or_else(|| bad("must be a list of {subject, icon?, ephemeralDuration?}"))?;
    list.iter()
        .map(|g| {
            let subject = g["subject"]
                .as_str()
                .ok_or_else(|| bad("needs each a 'subject'"))?;
            let icon = match g["icon"].as_str() {
                Some(i) if !i.is_empty() => Some(data_url_bytes("newGroups[].icon", i)?),
                _ => None,
            };
            let ephemeral = match &g["ephemeralDuration"] {
                Value::Null => None,
                d => Some(
                    d.as_u64()
                        .and_then(|d| u32::try_from(d).ok())
                        .filter(|d| crate::core::EPHEMERAL_SECS.contains(d))
                        .ok_or_else(|| {
                            bad("'ephemeralDuration' must be 0, 86400, 604800 or 7776000 (s)")
                        })?,
                ),
            };
            // Checked here, before any group is made.
            if subject.trim().is_empty() || subject.chars().count() > 100 {
                return Err(bad("needs each a 'subject' of 1 to 100 characters"));
            }
            Ok(NewCommunityGroup {
                subject: subject.to_string(),
                icon,
                ephemeral,
            })
        })
        .collect()
}

/// Arguments by position or by open-wa's parameter names.
struct Args<'a> {
    params: &'a [&'a str],
    args: &'a Value,
}

impl Args<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        let v = match self.args {
            Value::Array(a) => {
                let i = self.params.iter().position(|p| *p == name)?;
                a.get(i)
            }
            Value::Object(o) => o.get(name),
            _ => None,
        }?;
        (!v.is_null()).then_some(v)
    }

    fn string(&self, name: &str) -> Result<Option<String>, EasyError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => one_string(name, v).map(Some),
        }
    }

    fn required(&self, name: &str) -> Result<String, EasyError> {
        self.string(name)?
            .ok_or_else(|| EasyError::bad_args(format!("'{name}' is required")))
    }

    /// sendText's `content` as open-wa takes it: a number or a boolean as
    /// its text, trimmed unless nothing would be left.
    fn content(&self) -> Result<String, EasyError> {
        let text = match self.get("content") {
            None | Some(Value::Null) => String::new(),
            // JavaScript's `if (!content) content = ''`, then String().
            Some(Value::Number(n)) if n.as_f64() == Some(0.0) => String::new(),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => (f as i64).to_string(),
                _ => n.to_string(),
            },
            Some(Value::Bool(false)) => String::new(),
            Some(Value::Bool(true)) => "true".into(),
            Some(v) => one_string("content", v)?,
        };
        Ok(match text.trim() {
            "" => text,
            t => t.to_string(),
        })
    }

    fn wid(&self, name: &str) -> Result<Wid, EasyError> {
        parse_wid(name, &self.required(name)?)
    }

    /// One id or several (open-wa's `ContactId | ContactId[]`).
    fn wids(&self, name: &str) -> Result<Vec<Wid>, EasyError> {
        match self.get(name) {
            None => Err(EasyError::bad_args(format!("'{name}' is required"))),
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|v| parse_wid(name, &one_string(name, v)?))
                .collect(),
            Some(Value::Array(_)) => Err(EasyError::bad_args(format!("'{name}' is empty"))),
            Some(v) => Ok(vec![parse_wid(name, &one_string(name, v)?)?]),
        }
    }

    /// One message id or several.
    fn message_ids(&self, name: &str) -> Result<Vec<String>, EasyError> {
        match self.get(name) {
            None => Err(EasyError::bad_args(format!("'{name}' is required"))),
            Some(Value::Array(a)) if !a.is_empty() => {
                a.iter().map(|v| one_string(name, v)).collect()
            }
            Some(Value::Array(_)) => Err(EasyError::bad_args(format!("'{name}' is empty"))),
            Some(v) => Ok(vec![one_string(name, v)?]),
        }
    }

    fn boolean(&self, name: &str) -> Result<bool, EasyError> {
        match self.get(name) {
            None => Err(EasyError::bad_args(format!("'{name}' is required"))),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| EasyError::bad_args(format!("'{name}' must be true or false"))),
        }
    }

    /// The headers of an axios config (`requestConfig.headers`), the one
    /// part of it wabridge applies: a file server's credentials, a
    /// webhook's own headers.
    fn request_headers(&self) -> Result<std::collections::BTreeMap<String, String>, EasyError> {
        match self.get("requestConfig").map(|c| &c["headers"]) {
            None | Some(Value::Null) => Ok(Default::default()),
            // As axios sends them: null leaves a header out, a number or
            // a boolean goes as its text.
            Some(Value::Object(h)) => h
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| match v {
                    Value::String(v) => Ok((k.clone(), v.clone())),
                    Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
                    _ => Err(EasyError::bad_args(format!(
                        "'requestConfig.headers.{k}' must be a string"
                    ))),
                })
                .collect(),
            Some(_) => Err(EasyError::bad_args(
                "'requestConfig.headers' must be an object of header names and values",
            )),
        }
    }

    /// `m`, fetched with the call's `requestConfig` headers if it is a URL.
    fn fetched_with_config(&self, mut m: OutgoingMedia) -> Result<OutgoingMedia, EasyError> {
        if let MediaSource::Url { headers, .. } = &mut m.source {
            *headers = self.request_headers()?.into_iter().collect();
        }
        Ok(m)
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name).and_then(Value::as_bool).unwrap_or(false)
    }

    /// A number, given as one or as a numeric string (open-wa types
    /// coordinates as strings).
    fn number(&self, name: &str) -> Result<f64, EasyError> {
        let v = self
            .get(name)
            .ok_or_else(|| EasyError::bad_args(format!("'{name}' is required")))?;
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| EasyError::bad_args(format!("'{name}' must be a number")))
    }
}

/// A string; a number as its digits; a MessageId or Wid object by its
/// `_serialized`; a Message by its `id`.
fn one_string(name: &str, v: &Value) -> Result<String, EasyError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Object(o) if o.get("_serialized").is_some_and(Value::is_string) => {
            Ok(o["_serialized"].as_str().unwrap_or_default().to_string())
        }
        // An open-wa Message, by its id.
        Value::Object(o) if o.get("id").is_some_and(Value::is_string) => {
            Ok(o["id"].as_str().unwrap_or_default().to_string())
        }
        _ => Err(EasyError::bad_args(format!("'{name}' must be a string"))),
    }
}

/// The bytes of a base64 data URL, as open-wa takes images.
fn data_url_bytes(name: &str, data: &str) -> Result<Vec<u8>, EasyError> {
    let b64 = data
        .strip_prefix("data:")
        .and_then(|d| d.split_once(";base64,"))
        .map(|(_, b)| b)
        .ok_or_else(|| {
            EasyError::bad_args(format!(
                "'{name}' must be a data URL (data:image/jpeg;base64,...)"
            ))
        })?;
    crate::domain::base64_bytes(b64)
        .map_err(|_| EasyError::bad_args(format!("'{name}' is not valid base64")))
}

fn parse_wid(name: &str, s: &str) -> Result<Wid, EasyError> {
    Wid::parse(s).map_err(|e| EasyError::bad_args(format!("'{name}': {e}")))
}

/// Whether open-wa has a client method of this name that wabridge serves.
pub fn is_method(name: &str) -> bool {
    METHODS.iter().any(|(m, _)| *m == name)
}

/// A file argument: a data URL or an http(s) URL.
fn media(
    file: String,
    filename: Option<String>,
    sticker: bool,
) -> Result<OutgoingMedia, EasyError> {
    let source = if file.starts_with("data:") {
        MediaSource::Data(file)
    } else if file.starts_with("http://") || file.starts_with("https://") {
        MediaSource::url(file)
    } else {
        return Err(EasyError::bad_args(
            "'file' must be a data URL (data:<mime>;base64,...) or an http(s) URL; wabridge does not read files from its own disk",
        ));
    };
    Ok(OutgoingMedia {
        source,
        mimetype: None,
        filename: filename.filter(|f| !f.is_empty()),
        sticker,
        document: false,
        view_once: false,
        gif: false,
    })
}

/// A sticker's `image` as open-wa takes it: a data URL, an http(s) URL,
/// bare base64, or a Node Buffer as JSON has it (`{type: "Buffer",
/// data: [bytes]}`), made base64.
fn sticker_image(a: &Args) -> Result<String, EasyError> {
    use base64::Engine as _;
    match a.get("image") {
        Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("Buffer") => {
            let bytes: Option<Vec<u8>> = o
                .get("data")
                .and_then(Value::as_array)
                .map(|d| {
                    d.iter()
                        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                        .collect()
                })
                .unwrap_or(None);
            bytes
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
                .ok_or_else(|| EasyError::bad_args("'image': a Buffer's data must be bytes"))
        }
        _ => a.required("image"),
    }
}

/// A sticker's image: as `media` takes one, or bare base64.
fn sticker_media(file: String) -> Result<OutgoingMedia, EasyError> {
    if file.starts_with("data:") || file.starts_with("http://") || file.starts_with("https://") {
        return media(file, None, true);
    }
    if crate::domain::base64_bytes(file.trim()).is_err() {
        return Err(EasyError::bad_args(
            "'image' must be a data URL, an http(s) URL, base64 or a Buffer; wabridge does not read files from its own disk",
        ));
    }
    Ok(OutgoingMedia {
        source: MediaSource::Data(file),
        mimetype: None,
        filename: None,
        sticker: true,
        document: false,
        view_once: false,
        gif: false,
    })
}

/// The people a text mentions: those named, else every `@<digits>` in it
/// (open-wa's sendTextWithMentions finds them in the text).
fn mentions(a: &Args, text: &str) -> Result<Vec<Wid>, EasyError> {
    if a.get("mentions").is_some() {
        return a.wids("mentions");
    }
    let mut found: Vec<Wid> = Vec::new();
    for word in text.split('@').skip(1) {
        let digits: String = word.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() >= 5
            && let Ok(w) = Wid::parse(&digits)
            && !found.contains(&w)
        {
            found.push(w);
        }
    }
    Ok(found)
}

/// A text without its tags of the people `mentioned` (`@<number>`, and
/// the space after each): what open-wa's `hideTags` sends. Anything else
/// with an `@` (an order number, an address) stays.
fn without_tags(text: &str, mentioned: &[Wid]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let tag = Wid::parse(&after[..digits]).is_ok_and(|w| mentioned.contains(&w));
        if digits > 0 && tag {
            rest = &after[digits..];
            // The space after it; a tag that ends the text takes the one before.
            match rest.strip_prefix(' ') {
                Some(r) => rest = r,
                None if rest.is_empty() && out.ends_with(' ') => {
                    out.pop();
                }
                None => {}
            }
        } else {
            out.push('@');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A time in unix seconds, as open-wa's callers pass it; one in ms (as
/// JavaScript's `Date.now()`) is read as such. None for no time at all.
fn unix_s(t: f64) -> Option<i64> {
    if !t.is_finite() || !(0.0..=1e15).contains(&t) {
        return None;
    }
    Some(if t > 1e11 { t / 1000.0 } else { t } as i64)
}

/// A group's id, refused for anything else.
fn group_id(a: &Args, name: &str) -> Result<Wid, EasyError> {
    let w = a.wid(name)?;
    match w.is_group() {
        true => Ok(w),
        false => Err(EasyError::bad_args(format!(
            "'{name}' must be a group (…@g.us)"
        ))),
    }
}

/// The text of open-wa's tagEveryone: each member as `formatting` renders
/// `@mention` (by default `@mention `, a tag and a space), then the
/// content on a line of its own, or first with `before`; with `hide`,
/// the content alone (the mentions still notify them).
pub fn tag_everyone_text(
    members: &[Wid],
    content: &str,
    hide: bool,
    formatting: Option<&str>,
    before: bool,
) -> String {
    if hide {
        return content.to_string();
    }
    let format = formatting
        .filter(|f| f.contains("@mention"))
        .unwrap_or("@mention ");
    let tags: String = members
        .iter()
        .map(|m| format.replace("@mention", &format!("@{}", m.user())))
        .collect();
    let tags = tags.trim_end();
    match (tags.is_empty(), content.is_empty(), before) {
        (true, _, _) => content.to_string(),
        (_, true, _) => tags.to_string(),
        (_, _, true) => format!("{content}\n{tags}"),
        (_, _, false) => format!("{tags}\n{content}"),
    }
}

/// The invite code in what a bot passes on: a link, alone or in a message
/// ("join us: https://chat.whatsapp.com/AbC…"), with or without a scheme,
/// or the code itself.
fn invite_code(text: &str) -> String {
    const HOST: &str = "chat.whatsapp.com/";
    match text.rfind(HOST) {
        Some(at) => text[at + HOST.len()..]
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect(),
        None => text.trim().to_string(),
    }
}

/// Where a status (story) is posted.
fn status() -> Wid {
    Wid::parse_recipient(Wid::STATUS).expect("a valid id")
}

/// open-wa's listener names (`SimpleListener`), one or a list, or `all`;
/// as open-wa, a name may leave out its `on` (`message` is `onMessage`).
fn listeners(a: &Args) -> Result<Vec<String>, EasyError> {
    let named = |n: &str| match n.strip_prefix("on") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_uppercase()) => n.to_string(),
        _ if n == "all" => n.to_string(),
        _ => {
            let mut c = n.chars();
            c.next()
                .map(|f| format!("on{}{}", f.to_ascii_uppercase(), c.as_str()))
                .unwrap_or_default()
        }
    };
    match a.get("events") {
        Some(Value::String(one)) => Ok(vec![named(one)]),
        Some(Value::Array(names)) => names
            .iter()
            .map(|n| {
                n.as_str().map(named).ok_or_else(|| {
                    EasyError::bad_args(
                        "'events' must be listener names, such as onMessage, or 'all'",
                    )
                })
            })
            .collect(),
        _ => Err(EasyError::bad_args(
            "'events' must be listener names, such as [\"onMessage\"], or 'all'",
        )),
    }
}

fn send(req: SendRequest) -> Call {
    Call::Send {
        req,
        seen_first: false,
        unknown: NotOnWhatsApp::False,
        quote_optional: false,
        answer_true: false,
    }
}

/// Reads an EASY API call. Unknown methods and bad arguments are errors.
pub fn parse_call(method: &str, body: &EasyIn) -> Result<Call, EasyError> {
    let params = METHODS
        .iter()
        .find(|(m, _)| *m == method)
        .map(|(_, p)| *p)
        .ok_or_else(|| EasyError::unknown_method(method))?;
    if !matches!(body.args, Value::Null | Value::Array(_) | Value::Object(_)) {
        return Err(EasyError::bad_args(
            "'args' must be an object of named arguments or an array",
        ));
    }
    let a = Args {
        params,
        args: &body.args,
    };
    Ok(match method {
        "sendText" => Call::Send {
            req: SendRequest::text(a.wid("to")?, a.content()?),
            seen_first: true,
            unknown: NotOnWhatsApp::ErrorString,
            quote_optional: false,
            answer_true: false,
        },
        "reply" => Call::Send {
            req: SendRequest {
                reply_to: Some(a.required("quotedMsgId")?),
                ..SendRequest::text(a.wid("to")?, a.required("content")?)
            },
            seen_first: a.flag("sendSeen"),
            unknown: NotOnWhatsApp::False,
            quote_optional: true,
            answer_true: false,
        },
        "sendTextWithMentions" | "sendReplyWithMentions" => {
            // As open-wa: `@c.us` out of the text, the people it tags (or
            // those named) mentioned, with `hideTags` their tags out of the
            // text too (they are still notified), and the chat seen first.
            let text = a.required("content")?.replace("@c.us", "");
            let reply_to = match method {
                "sendReplyWithMentions" => Some(a.required("replyMessageId")?),
                _ => None,
            };
            let mentions = mentions(&a, &text)?;
            let text = match a.flag("hideTags") {
                true => without_tags(&text, &mentions),
                false => text,
            };
            Call::Send {
                req: SendRequest {
                    mentions,
                    reply_to,
                    ..SendRequest::text(a.wid("to")?, text)
                },
                seen_first: true,
                unknown: NotOnWhatsApp::False,
                quote_optional: false,
                answer_true: false,
            }
        }
        "sendImage" | "sendFile" | "sendFileFromUrl" | "sendPtt" | "sendAudio" | "sendVideoAsGif" => {
            let file = match method {
                "sendFileFromUrl" => a.required("url")?,
                _ => a.required("file")?,
            };
            let voice = method == "sendPtt" || (method != "sendAudio" && a.flag("ptt"));
            send(SendRequest {
                mentions: vec![],
                style: None,
                special: None,
                voice,
                to: a.wid("to")?,
                text: None,
                media: Some(a.fetched_with_config(OutgoingMedia {
                    // open-wa's viewOnce: a photo or video opened once.
                    view_once: a.flag("viewOnce"),
                    gif: method == "sendVideoAsGif",
                    // "Without a preview (i.e. as a file)": no auto-download,
                    // no recompression.
                    document: a.flag("withoutPreview"),
                    // open-wa names a voice note or an audio file that has
                    // no name: what a file server's generic type is taken as.
                    ..media(
                        file,
                        a.string("filename")?.filter(|f| !f.is_empty()).or(match method {
                            "sendPtt" => Some("ptt.ogg".into()),
                            "sendAudio" => Some("file.mp3".into()),
                            _ => None,
                        }),
                        false
                    )?
                })?),
                caption: a.string("caption")?.filter(|c| !c.is_empty()),
                reply_to: a.string("quotedMsgId")?,
                menu: None,
            })
        }
        // The sticker's pack name and author (`stickerMetadata`) are not
        // WhatsApp Web's to set: ignored.
        "sendImageAsSticker"
        | "sendStickerfromUrl"
        | "sendImageAsStickerAsReply"
        | "sendStickerfromUrlAsReply"
        | "sendRawWebpAsSticker"
        | "sendRawWebpAsStickerAsReply" => {
            let file = match method {
                "sendStickerfromUrl" | "sendStickerfromUrlAsReply" => a.required("url")?,
                // A WebP's base64 (open-wa's own calls give a data URL too).
                "sendRawWebpAsSticker" | "sendRawWebpAsStickerAsReply" => {
                    match a.required("webpBase64")? {
                        d if d.starts_with("data:") => d,
                        b64 => format!("data:image/webp;base64,{}", b64.trim()),
                    }
                }
                _ => sticker_image(&a)?,
            };
            send(SendRequest {
                text: None,
                media: Some(a.fetched_with_config(sticker_media(file)?)?),
                reply_to: match method.ends_with("AsReply") {
                    true => Some(a.required("messageId")?),
                    false => None,
                },
                ..SendRequest::text(a.wid("to")?, String::new())
            })
        }
        "sendLocation" => {
            let place = Location {
                lat: a.number("lat")?,
                lng: a.number("lng")?,
                name: a.string("loc")?.filter(|s| !s.is_empty()),
                address: a.string("address")?.filter(|s| !s.is_empty()),
            };
            send(SendRequest {
                text: None,
                special: Some(Special::Location(place)),
                ..SendRequest::text(a.wid("to")?, String::new())
            })
        }
        "sendContact" | "sendMultipleContacts" => {
            // open-wa sends the contact's own card. Left unnamed here: the
            // handler names it as WhatsApp Web does (`own_cards_named`).
            let ids = match method {
                "sendContact" => "contactId",
                _ => "contactIds",
            };
            let cards = a
                .wids(ids)?
                .into_iter()
                .map(|id| match id.phone() {
                    Some(_) => Ok(CardOf {
                        id,
                        name: String::new(),
                    }),
                    None => Err(EasyError::bad_args(format!(
                        "'{ids}' must be people, not groups"
                    ))),
                })
                .collect::<Result<Vec<_>, EasyError>>()?;
            send(SendRequest {
                text: None,
                special: Some(Special::Contacts(cards)),
                ..SendRequest::text(a.wid("to")?, String::new())
            })
        }
        // WhatsApp Web sends a contact card as a name and a number: the
        // rest of a vCard (email, company) does not go.
        "sendVCard" => {
            let cards = crate::core::vcard_cards(
                &a.required("vcard")?,
                a.string("contactName")?.as_deref(),
                a.string("contactNumber")?.as_deref(),
            )
            .map_err(EasyError::bad_args)?;
            Call::Send {
                req: SendRequest {
                    text: None,
                    special: Some(Special::Contacts(cards)),
                    ..SendRequest::text(a.wid("chatId")?, String::new())
                },
                seen_first: false,
                unknown: NotOnWhatsApp::False,
                quote_optional: false,
                answer_true: true,
            }
        }
        // The text with the link, as open-wa's: WhatsApp Web makes the
        // preview. A thumbnail of one's own is not WhatsApp Web's to take.
        "sendLinkWithAutoPreview" | "sendYoutubeLink" => {
            let url = a.required("url")?;
            let text = a.string("text")?.unwrap_or_default();
            let body = match text.as_str() {
                "" => url,
                t if t.contains(&url) => text,
                _ => format!("{url}\n{text}"),
            };
            send(SendRequest {
                reply_to: a.string("quotedMsgId")?,
                ..SendRequest::text(a.wid("to")?, body)
            })
        }
        "sendPoll" => {
            let options = match a.get("options") {
                Some(Value::Array(o)) => o
                    .iter()
                    .map(|v| one_string("options", v))
                    .collect::<Result<Vec<_>, _>>()?,
                _ => return Err(EasyError::bad_args("'options' must be a list of strings")),
            };
            let poll = Poll {
                name: a.required("name")?,
                options,
                selectable: if a.flag("allowMultiSelect") { 0 } else { 1 },
                votes: vec![],
            };
            send(SendRequest {
                text: None,
                special: Some(Special::Poll(poll)),
                reply_to: a.string("quotedMsgId")?,
                ..SendRequest::text(a.wid("to")?, String::new())
            })
        }
        "sendSeen" => Call::SendSeen(a.wid("chatId")?),
        "simulateTyping" => Call::Presence {
            chat: Some(a.wid("to")?),
            state: if a.flag("on") { "typing" } else { "paused" },
        },
        "simulateRecording" => Call::Presence {
            chat: Some(a.wid("to")?),
            state: if a.flag("on") { "recording" } else { "paused" },
        },
        // open-wa's ChatState: TYPING 0, RECORDING 1, PAUSED 2.
        "setChatState" => Call::Presence {
            chat: Some(a.wid("chatId")?),
            state: match a.number("chatState")? {
                0.0 => "typing",
                1.0 => "recording",
                2.0 => "paused",
                _ => {
                    return Err(EasyError::bad_args(
                        "'chatState' must be 0 (typing), 1 (recording) or 2 (paused)",
                    ));
                }
            },
        },
        "setPresence" => Call::Presence {
            chat: None,
            state: if a.boolean("available")? { "online" } else { "offline" },
        },
        "react" => Call::React {
            message: a.required("messageId")?,
            // An empty emoji takes the reaction back.
            emoji: a.string("emoji")?.unwrap_or_default(),
        },
        "editMessage" => Call::Edit {
            message: a.required("messageId")?,
            text: a.required("text")?,
        },
        "deleteMessage" => {
            a.wid("chatId")?;
            Call::Delete {
                messages: a.message_ids("messageId")?,
                only_local: a.flag("onlyLocal"),
            }
        }
        "starMessage" | "unstarMessage" => Call::Star {
            message: a.required("messageId")?,
            on: method == "starMessage",
        },
        // open-wa's MessagePinDuration names WhatsApp Web's; its default
        // is 30 days.
        "getStarredMessages" => Call::GetStarredMessages(
            a.string("chatId")?
                .map(|c| parse_wid("chatId", &c))
                .transpose()?,
        ),
        "getMessageInfo" | "getMessageReaders" => Call::Receipts {
            message: a.required("messageId")?,
            readers: method == "getMessageReaders",
        },
        "pinMessage" => Call::Pin {
            message: a.required("id")?,
            on: a.boolean("pin")?,
            duration: match a.string("pinDuration")? {
                None => crate::domain::PinDuration::ThirtyDays,
                Some(name) => crate::domain::PinDuration::from_name(&name).ok_or_else(|| {
                    EasyError::bad_args(format!(
                        "'pinDuration' must be one of FiveSeconds, FifteenSeconds, OneMinute, OneDay, SevenDays, ThirtyDays, not '{name}'"
                    ))
                })?,
            },
        },
        "clearChat" | "deleteChat" => Call::ClearChat {
            chat: a.wid("chatId")?,
            delete: method == "deleteChat",
        },
        "forwardMessages" => {
            let mut messages = a.message_ids("messages")?;
            // Our own messages stay back when asked (their ids say whose).
            if a.flag("skipMyMessages") {
                messages.retain(|m| !m.starts_with("true_"));
            }
            Call::Forward {
                to: a.wid("to")?,
                messages,
            }
        }
        "getBlockedIds" => Call::GetBlockedIds,
        // open-wa's colours are #RRGGBBAA: WhatsApp takes the background's
        // #RRGGBB (the text's colour is WhatsApp's own).
        "postTextStatus" => {
            let background = a
                .string("backgroundRgba")?
                .map(|c| {
                    format!(
                        "#{}",
                        c.trim_start_matches('#')
                            .chars()
                            .take(6)
                            .collect::<String>()
                    )
                })
                .filter(|c| c.len() > 1);
            let font = match a.get("font") {
                None | Some(Value::Null) => None,
                Some(_) => Some(a.number("font")? as i64),
            };
            let font = font
                .map(|f| u8::try_from(f).map_err(|_| EasyError::bad_args("'font' must be 0 to 5")))
                .transpose()?;
            send(SendRequest {
                style: Some(crate::core::StatusStyle { background, font }),
                ..SendRequest::text(status(), a.required("text")?)
            })
        }
        "postImageStatus" | "postVideoStatus" => send(SendRequest {
            text: None,
            media: Some(media(a.required("data")?, None, false)?),
            caption: a.string("caption")?.filter(|c| !c.is_empty()),
            ..SendRequest::text(status(), String::new())
        }),
        "deleteStory" | "deleteStatus" => Call::DeleteStatus(a.message_ids("statusesToDelete")?),
        "deleteAllStories" | "deleteAllStatus" => Call::DeleteAllStatuses,
        "getMyStoryArray" | "getMyStatusArray" => Call::MyStatuses,
        "getAllLabels" => Call::GetAllLabels,
        "createLabel" => Call::CreateLabel(a.required("label")?),
        m @ ("addLabel" | "removeLabel") => Call::LabelChat {
            label: a.required("label")?,
            chat: a.wid("chatId")?,
            add: m == "addLabel",
        },
        "getChatsByLabel" => Call::ChatsByLabel(a.required("label")?),
        "autoReject" => Call::AutoReject {
            message: a.string("message")?.filter(|m| !m.trim().is_empty()),
        },
        "setMyName" => Call::Profile(ProfileEdit {
            name: Some(a.required("newName")?),
            ..Default::default()
        }),
        "setMyStatus" => Call::Profile(ProfileEdit {
            about: Some(a.required("newStatus")?),
            ..Default::default()
        }),
        // A data URL, as open-wa takes images.
        "setProfilePic" => Call::Profile(ProfileEdit {
            picture: Some(Some(data_url_bytes("data", &a.required("data")?)?)),
            ..Default::default()
        }),
        "archiveChat" => Call::ChatState {
            chat: a.wid("id")?,
            change: ChatChange {
                archive: Some(a.boolean("archive")?),
                ..Default::default()
            },
        },
        "pinChat" => Call::ChatState {
            chat: a.wid("id")?,
            change: ChatChange {
                pin: Some(a.boolean("pin")?),
                ..Default::default()
            },
        },
        "muteChat" => {
            // open-wa's ChatMuteDuration.
            let now = crate::domain::now_ms() / 1000;
            let until = match a.required("muteDuration")?.as_str() {
                "EIGHT_HOURS" => now + 8 * 3600,
                "ONE_WEEK" => now + 7 * 24 * 3600,
                "FOREVER" => -1,
                other => {
                    return Err(EasyError::bad_args(format!(
                        "'muteDuration' must be EIGHT_HOURS, ONE_WEEK or FOREVER, not '{other}'"
                    )));
                }
            };
            Call::ChatState {
                chat: a.wid("chatId")?,
                change: ChatChange {
                    mute_until: Some(until),
                    ..Default::default()
                },
            }
        }
        "markAsUnread" => Call::ChatState {
            chat: a.wid("chatId")?,
            change: ChatChange {
                unread: Some(true),
                ..Default::default()
            },
        },
        "unmuteChat" => Call::ChatState {
            chat: a.wid("chatId")?,
            change: ChatChange {
                mute_until: Some(0),
                ..Default::default()
            },
        },
        "getMessageById" => Call::GetMessageById(a.required("messageId")?),
        "getPollData" => Call::GetPollData(a.required("messageId")?),
        "decryptMedia" => Call::DecryptMedia(a.required("message")?),
        // No chat (or open-wa's falsy one): any.
        "getMyLastMessage" => Call::MyLastMessage(match a.get("chatId") {
            None | Some(Value::Null | Value::Bool(false)) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(_) => Some(a.wid("chatId")?),
        }),
        "getAllMessagesInChat" => Call::GetAllMessagesInChat {
            chat: a.wid("chatId")?,
            include_me: a.flag("includeMe"),
        },
        m @ ("loadEarlierMessages" | "loadAllEarlierMessages") => Call::LoadEarlier {
            chat: a.wid("contactId")?,
            all: m == "loadAllEarlierMessages",
        },
        "loadEarlierMessagesTillDate" => Call::LoadTill {
            chat: a.wid("contactId")?,
            till: unix_s(a.number("timestamp")?)
                .ok_or_else(|| EasyError::bad_args("'timestamp' must be a time in seconds"))?,
        },
        "loadAndGetAllMessagesInChat" => Call::LoadAndGetAll {
            chat: a.wid("chatId")?,
            include_me: a.flag("includeMe"),
        },
        "getAllChats" | "getAllChatsWithMessages" => Call::GetAllChats {
            unread_only: a.flag("withNewMessageOnly"),
        },
        "getChatById" | "getChat" => Call::GetChatById(a.wid("contactId")?),
        "getAllChatIds" => Call::GetAllChatIds,
        "getAllUnreadMessages" => Call::GetAllUnreadMessages,
        "getAllNewMessages" => Call::GetAllNewMessages,
        "getChatWithNonContacts" => Call::ChatsWithNonContacts,
        "getUnreadMessages" => Call::GetUnreadMessages {
            include_me: a.flag("includeMe"),
        },
        "getIndicatedNewMessages" => Call::GetIndicatedNewMessages,
        "getLastMsgTimestamps" => Call::LastMessageTimes,
        "isChatMuted" => Call::IsChatMuted(a.wid("chatId")?),
        "getVCards" => Call::GetVCards(a.required("msgId")?),
        "clearAllChats" => Call::ClearAllChats {
            till: match a.get("ts") {
                None => None,
                Some(_) => Some(
                    unix_s(a.number("ts")?)
                        .ok_or_else(|| EasyError::bad_args("'ts' must be a time in seconds"))?,
                ),
            },
        },
        "markAllRead" => Call::MarkAllRead,
        "getGroupAdmins" => Call::GroupAdmins(a.wid("groupId")?),
        "getAllCommunities" => Call::GetAllCommunities,
        "createCommunity" => Call::CreateCommunity {
            name: a.required("communityName")?,
            description: a.string("communitySubject")?.unwrap_or_default(),
            icon: match a.string("icon")? {
                Some(icon) if !icon.is_empty() => Some(data_url_bytes("icon", &icon)?),
                _ => None,
            },
            existing: match a.get("existingGroups") {
                Some(Value::Array(x)) if x.is_empty() => vec![],
                Some(_) => {
                    let ids = a.wids("existingGroups")?;
                    if ids.iter().any(|g| !g.is_group()) {
                        return Err(EasyError::bad_args("'existingGroups' must be group ids (…@g.us)"));
                    }
                    ids
                }
                None => vec![],
            },
            new_groups: new_community_groups(a.get("newGroups"))?,
        },
        "getCommunityInfo" => Call::CommunityInfo(a.wid("communityId")?),
        "getCommunityParticipantIds"
        | "getCommunityAdminIds"
        | "getCommunityParticipants"
        | "getCommunityAdmins" => Call::CommunityMembers {
            community: a.wid("communityId")?,
            admins_only: method.starts_with("getCommunityAdmin"),
            ids_only: method.ends_with("Ids"),
        },
        "getGroupInfo" => Call::GroupInfo(a.wid("groupId")?),
        "iAmAdmin" => Call::IAmAdmin,
        "getCommonGroups" => Call::CommonGroups(a.wid("contactId")?),
        "getAllContacts" => Call::GetAllContacts,
        "getContact" => Call::GetContact(a.wid("contactId")?),
        "checkNumberStatus" => Call::CheckNumberStatus(a.wid("contactId")?),
        "getProfilePicFromServer" => Call::ProfilePicture(a.wid("chatId")?),
        "getStatus" => Call::GetStatus(a.wid("contactId")?),
        "getBusinessProfile" => Call::BusinessProfile(a.wid("id")?),
        "getLastSeen" => Call::LastSeen(a.wid("chatId")?),
        "isChatOnline" => Call::IsChatOnline(a.wid("chatId")?),
        // open-wa's: true is a day, false off, or 86400, 604800 or 7776000
        // seconds. WhatsApp Web sets it for groups.
        "setChatEphemeral" => Call::EditGroup {
            group: group_id(&a, "chatId")?,
            edit: GroupEdit {
                ephemeral: Some(match a.get("ephemeral") {
                    Some(Value::Bool(on)) => if *on { 86_400 } else { 0 },
                    _ => match a.number("ephemeral")? {
                        n if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => n as u32,
                        _ => {
                            return Err(EasyError::bad_args(
                                "'ephemeral' must be true, false or a number of seconds",
                            ));
                        }
                    },
                }),
                ..Default::default()
            },
        },
        "tagEveryone" => Call::TagEveryone {
            group: group_id(&a, "groupId")?,
            content: a.string("content")?.unwrap_or_default(),
            hide_tags: a.flag("hideTags"),
            formatting: a.string("formatting")?,
            before: a.flag("messageBeforeTags"),
        },
        "contactBlock" | "contactUnblock" => Call::Block {
            who: a.wid("id")?,
            yes: method == "contactBlock",
        },
        "getAllGroups" => Call::GetAllGroups {
            unread_only: a.flag("withNewMessagesOnly"),
        },
        "getGroupMembersId" | "getGroupMembers" => Call::GroupMembers {
            group: a.wid("groupId")?,
            ids_only: method == "getGroupMembersId",
        },
        "createGroup" => Call::CreateGroup {
            name: a.required("groupName")?,
            contacts: a.wids("contacts")?,
        },
        "addParticipant" | "removeParticipant" | "promoteParticipant" | "demoteParticipant" => {
            let who = a.wids("participantId")?;
            let change = match method {
                "addParticipant" => Membership {
                    add: who,
                    ..Default::default()
                },
                "removeParticipant" => Membership {
                    remove: who,
                    ..Default::default()
                },
                "promoteParticipant" => Membership {
                    promote: who,
                    ..Default::default()
                },
                _ => Membership {
                    demote: who,
                    ..Default::default()
                },
            };
            Call::Participants {
                group: a.wid("groupId")?,
                change,
            }
        }
        "getGroupInviteLink" => Call::InviteLink(a.wid("chatId")?),
        "revokeGroupInviteLink" => Call::RevokeInvite(a.wid("chatId")?),
        "getGroupApprovalRequests" => Call::JoinRequests(a.wid("groupChatId")?),
        m @ ("approveGroupJoinRequest" | "rejectGroupJoinRequest") => Call::AnswerJoinRequest {
            group: a.wid("groupChatId")?,
            who: a.wid("contactId")?,
            approve: m == "approveGroupJoinRequest",
        },
        "inviteInfo" => Call::InviteInfo(invite_code(&a.required("link")?)),
        "joinGroupViaLink" => Call::JoinGroup {
            link: invite_code(&a.required("link")?),
            chat: a.flag("returnChatObj"),
        },
        "setGroupTitle"
        | "setGroupDescription"
        | "setGroupToAdminsOnly"
        | "setGroupEditToAdminsOnly"
        | "setGroupIcon" => {
            let edit = match method {
                "setGroupIcon" => GroupEdit {
                    picture: Some(Some(data_url_bytes("image", &a.required("image")?)?)),
                    ..Default::default()
                },
                "setGroupTitle" => GroupEdit {
                    subject: Some(a.required("title")?),
                    ..Default::default()
                },
                // An empty description removes it.
                "setGroupDescription" => GroupEdit {
                    description: Some(a.required("description")?),
                    ..Default::default()
                },
                "setGroupToAdminsOnly" => GroupEdit {
                    announce: Some(a.boolean("onlyAdmins")?),
                    ..Default::default()
                },
                _ => GroupEdit {
                    restrict: Some(a.boolean("onlyAdmins")?),
                    ..Default::default()
                },
            };
            Call::EditGroup {
                group: a.wid("groupId")?,
                edit,
            }
        }
        "leaveGroup" => Call::LeaveGroup(a.wid("groupId")?),
        "setGroupIconByUrl" => Call::SetGroupIconByUrl {
            group: a.wid("groupId")?,
            url: a.required("url")?,
            headers: a.request_headers()?.into_iter().collect(),
        },
        "getHostNumber" => Call::GetHostNumber,
        "getConnectionState" => Call::GetConnectionState,
        "isConnected" => Call::IsConnected,
        "getMe" => Call::GetMe,
        "logout" => Call::Logout,
        "kill" => Call::Kill,
        "refresh" => Call::Refresh,
        "forceRefocus" => Call::ForceRefocus,
        "healthCheck" => Call::HealthCheck,
        "registerWebhook" => Call::RegisterWebhook {
            url: a.required("url")?,
            listeners: listeners(&a)?,
            // Those a post sets itself (an axios config's Content-Type)
            // are left out, not refused.
            headers: a
                .request_headers()?
                .into_iter()
                .filter(|(k, _)| !crate::domain::webhook::is_reserved_header(k))
                .collect(),
        },
        "listWebhooks" => Call::ListWebhooks,
        "removeWebhook" => Call::RemoveWebhook(a.required("webhookId")?),
        "updateWebhook" => Call::UpdateWebhook {
            id: a.required("webhookId")?,
            listeners: listeners(&a)?,
        },
        "getAmountOfLoadedMessages" => Call::GetAmountOfLoadedMessages,
        "cutMsgCache" => Call::CutMsgCache,
        "cutChatCache" => Call::CutChatCache,
        "getUnsentMessages" => Call::GetUnsentMessages,
        "checkReadReceipts" => Call::CheckReadReceipts(a.wid("contactId")?),
        "waitWhQIdle" | "waitAllQEmpty" => Call::WaitDeliveries,
        "syncContacts" => Call::Answer(true),
        "isPhoneDisconnected" => Call::PhoneDisconnected,
        "getWAVersion" => Call::GetWaVersion,
        "getBatteryLevel" | "getIsPlugged" => Call::Deprecated,
        _ => return Err(EasyError::unknown_method(method)),
    })
}

/// open-wa answers a send to a number not on WhatsApp with this string
/// (`success: false`), not an exception.
pub const NOT_ON_WHATSAPP: &str = "Error: Number not linked to WhatsApp Account";

pub fn success(response: Value) -> Value {
    json!({"success": true, "response": response})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, args: Value) -> Result<Call, EasyError> {
        parse_call(method, &EasyIn { args, method: None })
    }

    #[test]
    fn no_session_at_all_is_a_404_like_an_unknown_one() {
        let none = EasyError::from(CoreError::NotFound {
            code: "session_not_found",
            message: "there is no session yet; create one first".into(),
        });
        assert_eq!(none.status, StatusCode::NOT_FOUND);
        let msg = EasyError::from(CoreError::NotFound {
            code: "message_not_found",
            message: "no such message".into(),
        });
        assert_eq!(msg.status, StatusCode::OK);
    }

    #[test]
    fn every_method_is_parsed_and_every_parameter_list_is_open_was() {
        for (m, params) in METHODS {
            // No arguments: a method either needs some or runs.
            match call(m, Value::Null) {
                Ok(_) => assert!(
                    params.is_empty()
                        || [
                            "getAllChats",
                            "getAllChatsWithMessages",
                            "getAllGroups",
                            "logout",
                            "kill",
                            "autoReject",
                            "getStarredMessages",
                            "getMyLastMessage",
                            "getUnreadMessages",
                            "clearAllChats"
                        ]
                        .contains(m),
                    "{m} ran without its arguments"
                ),
                Err(e) => assert_eq!(e.name, "INVALID_ARGS", "{m}: {}", e.message),
            }
        }
        assert_eq!(
            call("noSuchMethod", Value::Null).err().unwrap().status,
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn tag_everyone_puts_the_tags_and_the_content_as_asked() {
        let ms = [
            Wid::parse("15551234567").unwrap(),
            Wid::parse("15557654321").unwrap(),
        ];
        let t = |content, hide, f, before| tag_everyone_text(&ms, content, hide, f, before);
        assert_eq!(t("Hi", false, None, false), "@15551234567 @15557654321\nHi");
        assert_eq!(t("Hi", false, None, true), "Hi\n@15551234567 @15557654321");
        assert_eq!(
            t("Hi", false, Some("- @mention\n"), false),
            "- @15551234567\n- @15557654321\nHi"
        );
        // A format with no tag in it would tag no one: the default.
        assert_eq!(t("", false, Some("x"), false), "@15551234567 @15557654321");
        assert_eq!(t("Hi", true, None, false), "Hi");
        assert_eq!(tag_everyone_text(&[], "Hi", false, None, false), "Hi");
    }

    #[test]
    fn positional_and_named_arguments_read_alike() {
        let by_pos = call(
            "sendLocation",
            json!(["15551234567@c.us", "52.52", 13.405, "Office"]),
        )
        .unwrap();
        let by_name = call(
            "sendLocation",
            json!({"to": "15551234567", "lat": 52.52, "lng": "13.405", "loc": "Office"}),
        )
        .unwrap();
        for c in [by_pos, by_name] {
            let Call::Send { req, .. } = c else {
                panic!("not a send")
            };
            let Some(Special::Location(l)) = req.special else {
                panic!("not a place")
            };
            assert_eq!(
                (l.lat, l.lng, l.name.as_deref()),
                (52.52, 13.405, Some("Office"))
            );
        }
    }

    #[test]
    fn hidden_tags_leave_the_text_and_still_mention() {
        let Call::Send {
            req, seen_first, ..
        } = call(
            "sendTextWithMentions",
            json!([
                "123-456@g.us",
                "hi @15551234567@c.us and @15557654321 see you @home, ticket @123456, a@12345.com @15551234567",
                true
            ]),
        )
        .unwrap()
        else {
            panic!()
        };
        let got: Vec<&str> = req.mentions.iter().map(Wid::as_str).collect();
        assert_eq!(got, ["15551234567@c.us", "15557654321@c.us"]);
        assert_eq!(
            req.text.as_deref(),
            Some("hi and see you @home, ticket @123456, a@12345.com")
        );
        assert!(seen_first, "the chat is seen first, as open-wa does");
        let Call::Send { req, .. } = call(
            "sendTextWithMentions",
            json!(["123-456@g.us", "hi @15551234567@c.us"]),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(req.text.as_deref(), Some("hi @15551234567"));
    }

    #[test]
    fn mentions_come_from_the_text_unless_named() {
        let Call::Send { req, .. } = call(
            "sendTextWithMentions",
            json!([
                "123-456@g.us",
                "hi @15551234567 and @15557654321, @15551234567"
            ]),
        )
        .unwrap() else {
            panic!()
        };
        let got: Vec<&str> = req.mentions.iter().map(Wid::as_str).collect();
        assert_eq!(got, ["15551234567@c.us", "15557654321@c.us"]);
        let Call::Send { req, .. } = call(
            "sendReplyWithMentions",
            json!({"to": "123-456@g.us", "content": "@1555 x", "replyMessageId": "false_x_Y",
                   "mentions": ["15550000001@c.us"]}),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(req.reply_to.as_deref(), Some("false_x_Y"));
        assert_eq!(req.mentions.len(), 1);
    }

    #[test]
    fn send_text_takes_its_content_as_open_wa_does() {
        let text = |content: Value| match call("sendText", json!(["15551234567", content])) {
            Ok(Call::Send { req, .. }) => Ok(req.text.unwrap_or_default()),
            Ok(_) => panic!(),
            Err(e) => Err(e.name),
        };
        assert_eq!(text(json!("  hi \n")), Ok("hi".into()));
        assert_eq!(text(json!("   ")), Ok("   ".into()));
        assert_eq!(text(json!(42)), Ok("42".into()));
        assert_eq!(text(json!(true)), Ok("true".into()));
        assert_eq!(text(json!(1.0)), Ok("1".into()));
        assert_eq!(text(json!(2.5)), Ok("2.5".into()));
        // JavaScript's falsy values are no content.
        for falsy in [json!(false), json!(0), json!(null)] {
            assert_eq!(text(falsy), Ok(String::new()));
        }
        assert_eq!(text(json!({"a": 1})), Err("INVALID_ARGS"));
    }

    #[test]
    fn invite_codes_are_found_where_bots_pass_them() {
        for text in [
            "https://chat.whatsapp.com/AbC123xyz",
            "chat.whatsapp.com/AbC123xyz",
            "Join my group: http://chat.whatsapp.com/AbC123xyz now!",
            " AbC123xyz ",
        ] {
            assert_eq!(invite_code(text), "AbC123xyz", "{text}");
        }
    }

    #[test]
    fn files_voice_notes_and_refusals() {
        let Call::Send { req, .. } = call(
            "sendPtt",
            json!(["15551234567", "data:audio/ogg;base64,T2dn", "true_x_Q"]),
        )
        .unwrap() else {
            panic!()
        };
        assert!(req.voice && req.media.is_some());
        assert_eq!(req.reply_to.as_deref(), Some("true_x_Q"));
        // A voice note or an audio file with no name gets open-wa's, which
        // is what a file server's generic type is taken for.
        for (method, name) in [("sendPtt", "ptt.ogg"), ("sendAudio", "file.mp3")] {
            let Call::Send { req, .. } =
                call(method, json!(["15551234567", "https://example.com/v1"])).unwrap()
            else {
                panic!()
            };
            let media = req.media.unwrap();
            assert_eq!(media.filename.as_deref(), Some(name), "{method}");
        }
        let Call::Send { req, .. } = call(
            "sendFileFromUrl",
            json!([
                "15551234567",
                "https://example.com/a.pdf",
                "a.pdf",
                "the file"
            ]),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(req.caption.as_deref(), Some("the file"));
        assert!(!req.voice);
        let local = call("sendFile", json!(["15551234567", "/etc/passwd", "p"]));
        assert_eq!(local.err().unwrap().name, "INVALID_ARGS");
        let Call::Delete { only_local, .. } = call(
            "deleteMessage",
            json!(["15551234567@c.us", "true_x_Q", true]),
        )
        .unwrap() else {
            panic!()
        };
        assert!(only_local);
        let Call::Delete { messages, .. } = call(
            "deleteMessage",
            json!(["15551234567@c.us", ["true_x_A", {"_serialized": "true_x_B"}]]),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(messages, ["true_x_A", "true_x_B"]);
    }
}
