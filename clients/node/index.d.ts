// Type declarations of wabridge-client: the whatsapp-web.js surface it
// offers, with whatsapp-web.js's names and parameters (checked against the
// pinned whatsapp-web.js declarations by test/contract.test.mjs).
//
// Members marked @deprecated exist so that code written for
// whatsapp-web.js loads and compiles, but wabridge cannot do them: they
// reject with NotSupportedError.

import { EventEmitter } from 'events';

export interface WabridgeOptions {
    /** The daemon, e.g. http://127.0.0.1:8002 (default: WABRIDGE_URL) */
    url?: string;
    /** Its API key (default: WABRIDGE_API_KEY) */
    key?: string;
}

/** whatsapp-web.js's options. The daemon runs the browser: the browser
 * options are accepted and ignored. */
export interface ClientOptions {
    authStrategy?: AuthStrategy;
    wabridge?: WabridgeOptions;
    /** Ignored: the daemon runs the browser. */
    puppeteer?: any;
    authTimeoutMs?: number;
    evalOnNewDoc?: Function;
    webVersion?: string;
    webVersionCache?: WebCacheOptions;
    /** After this many QRs, 'disconnected' with 'Max qrcode retries reached' (0: never). */
    qrMaxRetries?: number;
    takeoverOnConflict?: boolean;
    takeoverTimeoutMs?: number;
    userAgent?: string | false;
    ffmpegPath?: string;
    bypassCSP?: boolean;
    deviceName?: string;
    browserName?: string;
    proxyAuthentication?: { username: string; password: string } | undefined;
    /** Link by a pairing code (the 'code' event) instead of a QR. */
    pairWithPhoneNumber?: { phoneNumber: string; showNotification?: boolean; intervalMs?: number };
}

export interface ContactId {
    server: string;
    user: string;
    _serialized: string;
}
export type ChatId = ContactId;

/** Accepted and ignored: the daemon runs the browser. */
export interface LocalWebCacheOptions {
    type: 'local';
    path?: string;
    strict?: boolean;
}
export interface RemoteWebCacheOptions {
    type: 'remote';
    remotePath: string;
    strict?: boolean;
}
export interface NoWebCacheOptions {
    type: 'none';
}
export type WebCacheOptions = NoWebCacheOptions | LocalWebCacheOptions | RemoteWebCacheOptions;

/** RemoteAuth's store: not used (the daemon keeps the link). */
export interface Store {
    sessionExists: (options: { session: string }) => Promise<boolean> | boolean;
    delete: (options: { session: string }) => Promise<any> | any;
    save: (options: { session: string }) => Promise<any> | any;
    extract: (options: { session: string; path: string }) => Promise<any> | any;
}

/** @deprecated ClientInfo.getBatteryStatus() is not supported by wabridge */
export interface BatteryInfo {
    battery: number;
    plugged: boolean;
}

/** @deprecated Not known in multi-device */
export interface ClientInfoPhone {
    wa_version: string;
    os_version: string;
    device_manufacturer: string;
    device_model: string;
    os_build_number: string;
}

export class ClientInfo {
    wid: ContactId;
    /** @deprecated use wid */
    me: ContactId;
    /** @deprecated not known in multi-device */
    phone: any;
    pushname: string;
    platform: string;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getBatteryStatus(): Promise<BatteryInfo>;
}

export interface MessageId {
    fromMe: boolean;
    remote: string;
    id: string;
    _serialized: string;
    /** In groups: who wrote it */
    participant?: string;
}

export interface MessageSendOptions {
    /** Accepted; no effect on multi-device accounts (as in whatsapp-web.js). */
    linkPreview?: boolean;
    /** Audio as a voice note; other media goes as it is. */
    sendAudioAsVoice?: boolean;
    /** A video that plays as a GIF (WhatsApp takes MP4); ignored for media that is no video. */
    sendVideoAsGif?: boolean;
    /** An image as a sticker (WhatsApp Web makes the WebP); other media rejects with NotSupportedError. */
    sendMediaAsSticker?: boolean;
    /** Any media as a document, a file to download (a photo or video kept as it is). */
    sendMediaAsDocument?: boolean;
    /** Accepted and ignored: WhatsApp picks the quality. */
    sendMediaAsHd?: boolean;
    /** A photo, video or voice note its receiver opens once, on their phone; ignored for other media. */
    isViewOnce?: boolean;
    parseVCards?: boolean;
    caption?: string;
    quotedMessageId?: string;
    /** Ids (or Contacts) a text or a caption mentions; left out on a message with neither. */
    mentions?: Array<string | Contact> | string | Contact;
    /** Not supported: rejects with NotSupportedError when not empty. */
    groupMentions?: { subject: string; id: string }[];
    /** Mark the chat read before sending (default true). */
    sendSeen?: boolean;
    invokedBotWid?: string;
    media?: MessageMedia;
    extra?: any;
    stickerName?: string;
    stickerAuthor?: string;
    stickerCategories?: string[];
    /** As in whatsapp-web.js: a quote of an unknown message is left out unless false (default true); a deleted one always is. */
    ignoreQuoteErrors?: boolean;
    /** A send always waits for the daemon's answer. */
    waitUntilMsgSent?: boolean;
}

export interface MessageEditOptions {
    linkPreview?: boolean;
    mentions?: string[];
    extra?: any;
}

export interface LocationSendOptions {
    name?: string;
    address?: string;
    url?: string;
}

export class Location {
    latitude: string;
    longitude: string;
    name?: string;
    address?: string;
    url?: string;
    description?: string;
    constructor(latitude: number, longitude: number, options?: LocationSendOptions);
}

export interface PollSendOptions {
    allowMultipleAnswers?: boolean;
    messageSecret?: Array<number> | undefined;
}

export class Poll {
    pollName: string;
    pollOptions: Array<{ name: string; localId: number }>;
    options: PollSendOptions;
    constructor(pollName: string, pollOptions: Array<string>, options?: PollSendOptions);
}

/** Constructible; sending one rejects with NotSupportedError. */
export class List {
    body: string;
    buttonText: string;
    sections: Array<any>;
    title?: string | null;
    footer?: string | null;
    constructor(body: string, buttonText: string, sections: Array<any>, title?: string | null, footer?: string | null);
}

/** Constructible; sending one rejects with NotSupportedError. */
export class Buttons {
    body: string | MessageMedia;
    buttons: Array<any>;
    title?: string | null;
    footer?: string | null;
    constructor(body: string, buttons: Array<{ id?: string; body: string }>, title?: string | null, footer?: string | null);
}

export interface ScheduledEventSendOptions {
    description?: string;
    endTime?: Date;
    /** A place's name */
    location?: string;
    /** 'video', 'voice' or 'none' */
    callType?: string;
    /** Sending a canceled one rejects with NotSupportedError */
    isEventCanceled?: boolean;
    messageSecret: Array<number> | undefined;
}

/** A scheduled event to send (a canceled one rejects with NotSupportedError). */
export class ScheduledEvent {
    name: string;
    startTimeTs: number;
    eventSendOptions: any;
    constructor(name: string, startTime: Date, options?: ScheduledEventSendOptions);
}

export type MessageContent = string | MessageMedia | Location | Poll | Contact | Contact[] | List | Buttons | ScheduledEvent;

export interface MessageSearchOptions {
    /** The last this many (default 50; Infinity for all) */
    limit?: number;
    fromMe?: boolean;
}

export type WAState = 'CONFLICT' | 'CONNECTED' | 'DEPRECATED_VERSION' | 'OPENING' | 'PAIRING' | 'PROXYBLOCK'
    | 'SMB_TOS_BLOCK' | 'TIMEOUT' | 'TOS_BLOCK' | 'UNLAUNCHED' | 'UNPAIRED' | 'UNPAIRED_IDLE';
export const WAState: { [K in WAState]: K };

export type MessageAck = -1 | 0 | 1 | 2 | 3 | 4;

/** Message.getInfo(): each recipient under what WhatsApp Web keeps a time for; `t` in seconds */
export type MessageInfo = {
    delivery: Array<{ id: ContactId; t: number }>;
    deliveryRemaining: number;
    played: Array<{ id: ContactId; t: number }>;
    playedRemaining: number;
    read: Array<{ id: ContactId; t: number }>;
    readRemaining: number;
};
export const MessageAck: { ACK_ERROR: -1; ACK_PENDING: 0; ACK_SERVER: 1; ACK_DEVICE: 2; ACK_READ: 3; ACK_PLAYED: 4 };

export type MessageTypes = string;
export const MessageTypes: { [name: string]: string };
export type GroupNotificationTypes = string;
export const GroupNotificationTypes: { [name: string]: string };
export const ChatTypes: { SOLO: 'solo'; GROUP: 'group'; UNKNOWN: 'unknown' };
export const Status: { INITIALIZING: 0; AUTHENTICATING: 1; READY: 3 };
export const Events: {
    AUTHENTICATED: 'authenticated'; AUTHENTICATION_FAILURE: 'auth_failure'; READY: 'ready';
    CHAT_REMOVED: 'chat_removed'; CHAT_ARCHIVED: 'chat_archived'; MESSAGE_RECEIVED: 'message';
    MESSAGE_CIPHERTEXT: 'message_ciphertext'; MESSAGE_CIPHERTEXT_FAILED: 'message_ciphertext_failed';
    MESSAGE_CREATE: 'message_create'; MESSAGE_REVOKED_EVERYONE: 'message_revoke_everyone';
    MESSAGE_REVOKED_ME: 'message_revoke_me'; MESSAGE_ACK: 'message_ack'; MESSAGE_EDIT: 'message_edit';
    UNREAD_COUNT: 'unread_count'; MESSAGE_REACTION: 'message_reaction'; MEDIA_UPLOADED: 'media_uploaded';
    CONTACT_CHANGED: 'contact_changed'; GROUP_JOIN: 'group_join'; GROUP_LEAVE: 'group_leave';
    GROUP_ADMIN_CHANGED: 'group_admin_changed'; GROUP_MEMBERSHIP_REQUEST: 'group_membership_request';
    GROUP_UPDATE: 'group_update'; QR_RECEIVED: 'qr'; CODE_RECEIVED: 'code'; LOADING_SCREEN: 'loading_screen';
    DISCONNECTED: 'disconnected'; STATE_CHANGED: 'change_state'; BATTERY_CHANGED: 'change_battery';
    INCOMING_CALL: 'call'; REMOTE_SESSION_SAVED: 'remote_session_saved'; VOTE_UPDATE: 'vote_update';
};
export const WhatsWebURL: string;
export const DefaultOptions: ClientOptions;
export const version: string;

export abstract class AuthStrategy {
    clientId?: string;
    dataPath?: string;
}

/** The daemon session "session". */
export class NoAuth extends AuthStrategy {}

/** clientId names the daemon session. */
export class LocalAuth extends AuthStrategy {
    public clientId?: string;
    public dataPath?: string;
    constructor(options?: { clientId?: string; dataPath?: string; rmMaxRetries?: number });
}

/** clientId names the daemon session; the store is not used (the daemon keeps the link). */
export class RemoteAuth extends AuthStrategy {
    public clientId?: string;
    public dataPath?: string;
    constructor(options?: { store?: Store; clientId?: string; dataPath?: string; backupSyncIntervalMs?: number; rmMaxRetries?: number });
}

export class MessageMedia {
    mimetype: string;
    data: string;
    filename?: string | null;
    filesize?: number | null;
    constructor(mimetype: string, data: string, filename?: string | null, filesize?: number | null);
    static fromFilePath: (filePath: string) => MessageMedia;
    /** The type by the URL path's extension, else the server's Content-Type (as whatsapp-web.js) */
    static fromUrl: (url: string, options?: MediaFromURLOptions) => Promise<MessageMedia>;
}

export interface MediaFromURLOptions {
    /** Ignored: the media is fetched here */
    client?: Client;
    filename?: string;
    unsafeMime?: boolean;
    /** fetch()'s options (RequestInit) */
    reqOptions?: any;
}

export interface CreateGroupOptions {
    messageTimer?: number;
    parentGroupId?: string;
    autoSendInviteV4?: boolean;
    comment?: string;
    memberAddMode?: boolean;
    membershipApprovalMode?: boolean;
    isRestrict?: boolean;
    isAnnounce?: boolean;
    /** What whatsapp-web.js reads for `isAnnounce` */
    announce?: boolean;
}

export interface CreateGroupResult {
    title: string;
    gid: ChatId;
    /** wabridge: the options WhatsApp did not take once the group was made */
    errors?: string[];
    participants: {
        [participantId: string]: { statusCode: number; message: string; isGroupCreator: boolean; isInviteV4Sent: boolean };
    };
}

export interface GroupNotification {
    author: string;
    body: string;
    chatId: string;
    id: object;
    recipientIds: string[];
    timestamp: number;
    type: GroupNotificationTypes;
    getChat: () => Promise<Chat>;
    getContact: () => Promise<Contact>;
    getRecipients: () => Promise<Contact[]>;
    reply: (content: MessageContent, options?: MessageSendOptions) => Promise<Message>;
}

export class Reaction {
    id: MessageId;
    orphan: number;
    orphanReason?: string;
    timestamp: number;
    reaction: string;
    read: boolean;
    msgId: MessageId;
    senderId: string;
    ack?: number;
}

/** A WhatsApp Business label */
export interface Label {
    name: string;
    id: string;
    hexColor: string;
    getChats: () => Promise<Chat[]>;
}

/** Someone who asked to join a group */
export interface GroupMembershipRequest {
    id: Object;
    /** Null where WhatsApp does not say (a request by link) */
    addedBy: Object;
    /** Null: the daemon does not say which community a group is in */
    parentGroupId: Object | null;
    /** InviteLink, LinkedGroupJoin or NonAdminAdd */
    requestMethod: string;
    t: number;
}

export interface MembershipRequestActionResult {
    requesterId: Array<string> | string | null;
    error?: number;
    message: string;
}

export interface MembershipRequestActionOptions {
    /** Whom; all who asked when left out */
    requesterIds: Array<string> | string | null;
    /** Taken for compatibility: the daemon paces WhatsApp's calls itself */
    sleep: Array<number> | number | null;
}

/** A call that rings on this account ('call'). WhatsApp Web never takes one. */
export interface Call {
    id: string;
    /** The caller: `…@c.us`, or a privacy id (`…@lid`) when WhatsApp hides the phone */
    from?: string;
    timestamp: number;
    isVideo: boolean;
    isGroup: boolean;
    /** Always false: only calls to this account ring here */
    fromMe: boolean;
    /** Always false */
    canHandleLocally: boolean;
    /** Always false */
    webClientShouldHandle: boolean;
    participants: object;
    /** Declines it; a call that no longer rings is left be */
    reject: () => Promise<void>;
}

export type ReactionList = {
    id: string;
    aggregateEmoji: string;
    hasReactionByMe: boolean;
    senders: Array<Reaction>;
};

export interface SelectedPollOption {
    name: string;
    /** The option's index in the poll */
    localId: number;
}

export interface PollVote {
    voter: string;
    selectedOptions: SelectedPollOption[];
    /** unix ms */
    interractedAtTs: number;
    parentMessage: Message;
}

export interface AddParticipantsOptions {
    /** Taken for compatibility: the daemon paces WhatsApp's calls itself */
    sleep?: Array<number> | number;
    autoSendInviteV4?: boolean;
    comment?: string;
}

/** Promotes or demotes participants by ids */
export type ChangeParticipantsPermissions = (participantIds: Array<string>) => Promise<{ status: number }>;

export type InviteV4Data = {
    inviteCode: string;
    /** (As WhatsApp Web gives it, and so whatsapp-web.js: the unix seconds as a string) */
    inviteCodeExp: number;
    groupId: string;
    groupName?: string;
    fromId: string;
    toId: string;
};

/** @deprecated Message.getOrder() is not supported by wabridge */
export interface Product {
    id: string;
    price?: string;
    thumbnailUrl: string;
    currency: string;
    name: string;
    quantity: number;
    getData: () => Promise<ProductMetadata>;
}

/** @deprecated Message.getOrder() is not supported by wabridge */
export interface Order {
    products: Array<Product>;
    subtotal: string;
    total: string;
    currency: string;
    createdAt: number;
}

/** @deprecated Message.getPayment() is not supported by wabridge */
export interface Payment {
    id: object;
    paymentCurrency: string;
    paymentAmount1000: number;
    paymentMessageReceiverJid: object;
    paymentTransactionTimestamp: number;
    paymentStatus: number;
    paymentTxnStatus: number;
    paymentNote: string;
}

export interface AddParticipantsResult {
    [participantId: string]: { code: number; message: string; isInviteV4Sent: boolean };
}

export type GroupParticipant = {
    id: ContactId;
    isAdmin: boolean;
    isSuperAdmin: boolean;
};

export class Client extends EventEmitter {
    constructor(options: ClientOptions);
    info: ClientInfo;
    /** Always undefined: the daemon runs the browser. */
    pupPage?: any;
    pupBrowser?: any;

    initialize(): Promise<void>;
    destroy(): Promise<void>;
    logout(): Promise<void>;
    sendMessage(chatId: string, content: MessageContent, options?: MessageSendOptions): Promise<Message>;
    sendReaction(messageId: string, reaction: string): Promise<void>;
    getProfilePicUrl(contactId: string): Promise<string>;
    getChats(): Promise<Chat[]>;
    getChatById(chatId: string): Promise<Chat>;
    getContactById(contactId: string): Promise<Contact>;
    /** The people of one-to-one chats */
    getContacts(): Promise<Contact[]>;
    getMessageById(messageId: string): Promise<Message>;
    getPollVotes(messageId: string): Promise<PollVote[]>;
    getCommonGroups(contactId: string): Promise<ChatId[]>;
    sendSeen(chatId: string): Promise<boolean>;
    sendPresenceAvailable(): Promise<void>;
    sendPresenceUnavailable(): Promise<void>;
    getState(): Promise<WAState>;
    getWWebVersion(): Promise<string>;
    getNumberId(number: string): Promise<ContactId | null>;
    isRegisteredUser(contactId: string): Promise<boolean>;
    /** The string 'CreateGroupError: …' where WhatsApp would not make it, as whatsapp-web.js */
    createGroup(title: string, participants?: string | Contact | Contact[] | string[], options?: CreateGroupOptions): Promise<CreateGroupResult | string>;
    acceptInvite(inviteCode: string): Promise<string>;
    requestPairingCode(phoneNumber: string, showNotification?: boolean, intervalMs?: number): Promise<string>;

    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    acceptChannelAdminInvite(channelId: string): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    revokeChannelAdminInvite(channelId: string, userId: string): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    demoteChannelAdmin(channelId: string, userId: string): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    acceptGroupV4Invite(inviteV4: any): Promise<{ status: number }>;
    /** What an invite shows before joining: id, subject, desc, owner, size, participants */
    getInviteInfo(inviteCode: string): Promise<object>;
    /** Archives the chat (on the phone too); true */
    archiveChat(chatId: string): Promise<boolean>;
    /** Pins the chat; its new pin state: false when three chats are pinned already */
    pinChat(chatId: string): Promise<boolean>;
    /** Unpins the chat; its new pin state */
    unpinChat(chatId: string): Promise<boolean>;
    /** Makes a channel this account owns; the reason as a string where WhatsApp or the daemon refuses */
    createChannel(title: string, options?: CreateChannelOptions): Promise<CreateChannelResult | string>;
    /** Deletes a channel this account owns; false where it may not */
    deleteChannel(channelId: string): Promise<boolean>;
    /** Follows a channel (its posts come as messages); false for one this account runs or WhatsApp lacks */
    subscribeToChannel(channelId: string): Promise<boolean>;
    /** Unfollows a channel */
    unsubscribeFromChannel(channelId: string, options?: UnsubscribeOptions): Promise<boolean>;
    /** WhatsApp's directory by words of a channel's name (searchText is required: the views without words are not offered) */
    searchChannels(searchOptions: SearchChannelsOptions): Promise<Array<Channel> | []>;
    /** Everyone this account blocked */
    getBlockedContacts(): Promise<Contact[]>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getChannelByInviteCode(inviteCode: string): Promise<any>;
    /** The channels this account runs or follows */
    getChannels(): Promise<Channel[]>;
    /** The chat's pinned messages, newest pin first (pinned here, on the phone or by anyone in the chat) */
    getPinnedMessages(chatId: string): Promise<Message[]>;
    /** The calling code the number starts with ("1" for 15551234567), as WhatsApp Web finds it; null for none */
    getCountryCode(number: string): Promise<string | null>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getFormattedNumber(number: string): Promise<string>;
    /** A business account's labels (rejects with code not_business for another) */
    getLabels(): Promise<Label[]>;
    /** Contacts' statuses of the last day, one Broadcast per contact (from the daemon's history; unreadCount is 0: the daemon does not know which were viewed) */
    getBroadcasts(): Promise<Broadcast[]>;
    /** One contact's statuses of the last day */
    getBroadcastById(contactId: string): Promise<Broadcast>;
    /** Takes down a status (story) of ours */
    revokeStatusMessage(messageId: string): Promise<void>;
    /** Each chat ends with exactly these labels */
    addOrRemoveLabels(labelIds: Array<number | string>, chatIds: Array<string>): Promise<void>;
    getLabelById(labelId: string): Promise<Label>;
    getChatLabels(chatId: string): Promise<Label[]>;
    getChatsByLabelId(labelId: string): Promise<Chat[]>;
    /** Mutes the chat until unmuteDate, or always */
    muteChat(chatId: string, unmuteDate?: Date): Promise<{ isMuted: boolean; muteExpiration: number }>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    cancelPairingCode(): Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    resetState(): Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    sendChannelAdminInvite(chatId: string, channelId: string, options?: { comment?: string }): Promise<boolean>;
    /** WhatsApp Web's own search of the messages it holds (text and captions), newest first */
    searchMessages(query: string, options?: { chatId?: string; page?: number; limit?: number }): Promise<Message[]>;
    /** Marks the chat unread (on the phone too) */
    markChatUnread(chatId: string): Promise<void>;
    /** Sets this account's about */
    setStatus(status: string): Promise<void>;
    /** Sets this account's name (1 to 25 characters); false when refused */
    setDisplayName(displayName: string): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    setAutoDownloadAudio(flag: boolean): Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    setAutoDownloadDocuments(flag: boolean): Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    setAutoDownloadPhotos(flag: boolean): Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    setAutoDownloadVideos(flag: boolean): Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    setBackgroundSync(flag: boolean): Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getContactDeviceCount(userId: string): Promise<number>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    syncHistory(chatId: string): Promise<boolean>;
    /** Saves a contact to the address book or renames one (WhatsApp syncs it to the phone): PUT .../contacts/{phone} */
    saveOrEditAddressbookContact(phoneNumber: string, firstName: string, lastName: string, syncToAddressbook?: boolean): Promise<void>;
    /** A business account's customer note on a person, written or rewritten (on the phone too); nothing for an account that is no business */
    addOrEditCustomerNote(userId: string, note: string): Promise<void>;
    /** The customer note on a person; null where there is none or the account is no business */
    getCustomerNote(userId: string): Promise<{ chatId: string; content: string; createdAt: number; id: string; modifiedAt: number; type: string } | null>;
    /** Takes a contact out of the address book: DELETE .../contacts/{phone} */
    deleteAddressbookContact(phoneNumber: string): Promise<void>;
    /** The privacy id and phone WhatsApp pairs for each person, by either */
    getContactLidAndPhone(userIds: string[]): Promise<{ lid: string; pn: string }[]>;
    /** Unarchives the chat; false */
    unarchiveChat(chatId: string): Promise<boolean>;
    /** Unmutes the chat */
    unmuteChat(chatId: string): Promise<{ isMuted: boolean; muteExpiration: number }>;
    /** Sets this account's picture (a JPEG or PNG); false when refused */
    setProfilePicture(media: MessageMedia): Promise<boolean>;
    /** Removes this account's picture */
    deleteProfilePicture(): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    createCallLink(startTime: Date, callType: string): Promise<string>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    sendResponseToScheduledEvent(response: number, eventMessageId: string): Promise<boolean>;
    /** Who asks to join a group we run (admins only) */
    getGroupMembershipRequests(groupId: string): Promise<Array<GroupMembershipRequest>>;
    /** Approves requests to join (all when requesterIds is left out); `sleep` is not needed */
    approveGroupMembershipRequests(groupId: string, options: MembershipRequestActionOptions): Promise<Array<MembershipRequestActionResult>>;
    /** Rejects requests to join (all when requesterIds is left out) */
    rejectGroupMembershipRequests(groupId: string, options: MembershipRequestActionOptions): Promise<Array<MembershipRequestActionResult>>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    transferChannelOwnership(channelId: string, newOwnerId: string, options?: TransferChannelOwnershipOptions): Promise<boolean>;

    on(event: 'qr', listener: (qr: string) => void): this;
    on(event: 'code', listener: (code: string) => void): this;
    on(event: 'authenticated', listener: () => void): this;
    on(event: 'ready', listener: () => void): this;
    on(event: 'message', listener: (message: Message) => void): this;
    on(event: 'message_create', listener: (message: Message) => void): this;
    on(event: 'message_ack', listener: (message: Message, ack: MessageAck) => void): this;
    on(event: 'message_revoke_everyone', listener: (message: Message, revoked_msg?: Message | null) => void): this;
    on(event: 'message_edit', listener: (message: Message, newBody: String, prevBody: String) => void): this;
    on(event: 'message_reaction', listener: (reaction: Reaction) => void): this;
    on(event: 'media_uploaded', listener: (message: Message) => void): this;
    on(event: 'vote_update', listener: (vote: PollVote) => void): this;
    on(event: 'call', listener: (call: Call) => void): this;
    on(event: 'group_membership_request', listener: (notification: GroupNotification) => void): this;
    on(event: 'group_join', listener: (notification: GroupNotification) => void): this;
    on(event: 'group_leave', listener: (notification: GroupNotification) => void): this;
    on(event: 'group_update', listener: (notification: GroupNotification) => void): this;
    on(event: 'group_admin_changed', listener: (notification: GroupNotification) => void): this;
    /** A chat read or marked unread, here, on the phone or another device (not each message that comes: `message` tells of those) */
    on(event: 'unread_count', listener: (chat: Chat) => void): this;
    /** A chat deleted, here, on the phone or another device */
    on(event: 'chat_removed', listener: (chat: Chat) => void): this;
    /** A chat archived or unarchived, here, on the phone or another device */
    on(event: 'chat_archived', listener: (chat: Chat, currState: boolean, prevState: boolean) => void): this;
    on(event: 'change_state', listener: (state: WAState) => void): this;
    on(event: 'disconnected', listener: (reason: WAState | 'LOGOUT') => void): this;
    on(event: string, listener: (...args: any) => void): this;
}

export interface Message {
    id: MessageId;
    ack: MessageAck;
    body: string;
    type: MessageTypes;
    timestamp: number;
    from: string;
    to: string;
    /** In a group (or a status), who wrote it: the id they wrote under, a privacy id (@lid) in a group that addresses its members by it */
    author?: string;
    deviceType: string;
    fromMe: boolean;
    hasMedia: boolean;
    hasQuotedMsg: boolean;
    hasReaction: boolean;
    duration: string;
    isForwarded: boolean;
    forwardingScore: number;
    isStatus: boolean;
    isStarred: boolean;
    broadcast: boolean;
    isGif: boolean;
    isEphemeral: boolean;
    /** wabridge: the sender's public name (whatsapp-web.js has it in _data.notifyName) */
    notifyName?: string;
    location: Location;
    vCards: string[];
    mentionedIds: string[];
    /** Always empty: the daemon does not report group mentions */
    groupMentions: { groupSubject: string; groupJid: string }[];
    links: Array<{ link: string; isSuspicious: boolean }>;
    latestEditSenderTimestampMs?: number;
    pollName: string;
    pollOptions: any;
    allowMultipleAnswers: boolean;
    /** A private invite to a group (type groups_v4_invite); accepting one here is not supported */
    inviteV4?: InviteV4Data;
    /** Declared as whatsapp-web.js declares them; wabridge's messages do not carry these (undefined) */
    mediaKey?: string;
    orderId?: string;
    title?: string;
    description?: string;
    businessOwnerJid?: string;
    productId?: string;
    latestEditMsgKey?: MessageId;
    protocolMessageKey?: MessageId;
    dynamicReplyButtons?: object;
    selectedButtonId?: string;
    selectedRowId?: string;
    messageSecret?: Array<number>;
    eventStartTime?: number;
    eventEndTime?: number;
    eventDescription?: string;
    eventLocation?: { degreesLatitude: number; degreesLongitude: number; name: string };
    eventJoinLink?: string;
    isEventCaneled?: boolean;
    /** The daemon's message */
    rawData: object;
    reload: () => Promise<Message>;
    reply: (content: MessageContent, chatId?: string, options?: MessageSendOptions) => Promise<Message>;
    downloadMedia: () => Promise<MessageMedia>;
    getChat: () => Promise<Chat>;
    getContact: () => Promise<Contact>;
    getMentions: () => Promise<Contact[]>;
    getQuotedMessage: () => Promise<Message>;
    getPollVotes: () => Promise<PollVote[]>;
    getReactions: () => Promise<ReactionList[]>;
    react: (reaction: string) => Promise<void>;
    /** Null where WhatsApp would not edit it (another's, too old, deleted, no text or caption), as whatsapp-web.js; `options.mentions` are not sent */
    edit: (content: MessageContent, options?: MessageEditOptions) => Promise<Message | null>;
    /** Deletes for everyone where WhatsApp allows it, else for this account only (its phone and the daemon's history) */
    delete: (everyone?: boolean, clearMedia?: boolean) => Promise<void>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    acceptGroupV4Invite: () => Promise<{ status: number }>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getGroupMentions: () => Promise<GroupChat[] | []>;
    /** Sends this message on to a chat (or anything with an id, as whatsapp-web.js), marked forwarded */
    forward: (chat: Chat | string) => Promise<void>;
    /** Stars this message (on the phone too) */
    star: () => Promise<void>;
    /** Takes this message's star off */
    unstar: () => Promise<void>;
    /** Pins the message for everyone in the chat for `duration` seconds (86400, 604800 or 2592000); false when WhatsApp would not */
    pin: (duration: number) => Promise<boolean>;
    /** Unpins the message; false when WhatsApp would not */
    unpin: () => Promise<boolean>;
    /** Who got, read and played this message of ours (in a group, each member); null for another's */
    getInfo: () => Promise<MessageInfo | null>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getOrder: () => Promise<Order>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getPayment: () => Promise<Payment>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    editScheduledEvent: (editedEventObject: any) => Promise<Message | null>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    vote: (selectedOptions: Array<string>) => Promise<void>;
}

export interface Contact {
    id: ContactId;
    /** The phone; for a privacy id (@lid), the phone behind it when WhatsApp showed it */
    number: string;
    name?: string;
    pushname: string;
    shortName?: string;
    isMe: boolean;
    isUser: boolean;
    isGroup: boolean;
    isWAContact: boolean;
    isMyContact: boolean;
    isBusiness: boolean;
    isEnterprise: boolean;
    isBlocked: boolean;
    labels?: string[];
    sectionHeader: string;
    statusMute: boolean;
    type: string;
    verifiedLevel?: undefined;
    verifiedName?: undefined;
    /** null for this account's own contact */
    getChat: () => Promise<Chat>;
    getProfilePicUrl: () => Promise<string>;
    getAbout: () => Promise<string | null>;
    /** false for a group */
    block: () => Promise<boolean>;
    /** false for a group */
    unblock: () => Promise<boolean>;
    getCommonGroups: () => Promise<ChatId[]>;
    /** The calling code of their phone; null for someone known only by a privacy id */
    getCountryCode(): Promise<string | null>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getFormattedNumber(): Promise<string>;
    /** Their statuses of the last day */
    getBroadcast: () => Promise<Broadcast>;
}

export interface PrivateContact extends Contact {}

export interface BusinessCategory {
    id: string;
    localized_display_name: string;
}

export interface BusinessHoursOfDay {
    mode: string;
    hours: number[];
}

export interface BusinessHours {
    config: {
        sun: BusinessHoursOfDay;
        mon: BusinessHoursOfDay;
        tue: BusinessHoursOfDay;
        wed: BusinessHoursOfDay;
        thu: BusinessHoursOfDay;
        fri: BusinessHoursOfDay;
    };
    timezone: string;
}

/** A business account's contact (isBusiness), as whatsapp-web.js builds one */
export interface BusinessContact extends Contact {
    /** Undefined: the daemon's contact lists do not carry it */
    businessProfile: {
        id: ContactId;
        tag: string;
        description: string;
        categories: BusinessCategory[];
        profileOptions: { commerceExperience: string; cartEnabled: boolean };
        email: string;
        website: string[];
        latitude: number;
        longitude: number;
        businessHours: BusinessHours;
        address: string;
        fbPage: object;
        ifProfileLinked: boolean;
        coverPhoto: null | any;
    };
}

export interface Chat {
    id: ChatId;
    name: string;
    isGroup: boolean;
    unreadCount: number;
    timestamp: number;
    archived: boolean;
    pinned: boolean;
    isReadOnly: boolean;
    isMuted: boolean;
    muteExpiration: number;
    isLocked: boolean;
    /** The newest message the daemon has stored of it (getChats, getChatById); undefined where it has none */
    lastMessage: Message;
    sendMessage: (content: MessageContent, options?: MessageSendOptions) => Promise<Message>;
    sendSeen: () => Promise<boolean>;
    fetchMessages: (searchOptions: MessageSearchOptions) => Promise<Message[]>;
    getContact: () => Promise<Contact>;
    sendStateTyping: () => Promise<void>;
    sendStateRecording: () => Promise<void>;
    clearState: () => Promise<boolean>;
    /** Archives this chat */
    archive: () => Promise<void>;
    /** Pins this chat; its new pin state */
    pin: () => Promise<boolean>;
    /** Unpins this chat; its new pin state */
    unpin: () => Promise<boolean>;
    /** Clears this chat's messages (starred ones too) on the phone and from the daemon's history; false for a chat the account does not have */
    clearMessages: () => Promise<boolean>;
    /** Deletes this chat and its messages, on the phone too; false for a chat the account does not have */
    delete: () => Promise<boolean>;
    /** Mutes this chat until unmuteDate, or always */
    mute: (unmuteDate?: Date) => Promise<{ isMuted: boolean; muteExpiration: number }>;
    /** Unarchives this chat */
    unarchive: () => Promise<void>;
    /** Unmutes this chat */
    unmute: () => Promise<{ isMuted: boolean; muteExpiration: number }>;
    /** Marks this chat unread (on the phone too) */
    markUnread: () => Promise<void>;
    /** A business account's labels on this chat */
    getLabels: () => Promise<Label[]>;
    /** Its labels become these (others come off) */
    changeLabels: (labelIds: Array<string | number>) => Promise<void>;
    /** This chat's pinned messages, newest pin first */
    getPinnedMessages: () => Promise<Message[]>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    syncHistory: () => Promise<boolean>;
    /** A business account's customer note on this person, written or rewritten */
    addOrEditCustomerNote: (note: string) => Promise<void>;
    /** The customer note on this person; null where there is none */
    getCustomerNote: () => Promise<{ chatId: string; content: string; createdAt: number; id: string; modifiedAt: number; type: string } | null>;
}

export interface PrivateChat extends Chat {}

export interface GroupChat extends Chat {
    owner: ContactId;
    createdAt: Date;
    /** The group's description, if it has one */
    description: string;
    participants: Array<GroupParticipant>;
    groupMetadata: {
        id: ChatId;
        subject?: string;
        owner?: ContactId;
        creation?: number;
        desc?: string;
        /** Only admins send messages */
        announce: boolean;
        /** Only admins change the subject and description */
        restrict: boolean;
        participants: Array<GroupParticipant>;
        /** Disappearing messages: how long one lasts (s; 0 off) */
        ephemeralDuration: number;
        isParentGroup: boolean;
        /** The community it is linked to */
        parentGroup?: ChatId;
        /** It is its community's announcement group */
        defaultSubgroup: boolean;
    };
    addParticipants: (participantIds: string | string[], options?: AddParticipantsOptions) => Promise<AddParticipantsResult | string>;
    removeParticipants: (participantIds: string[]) => Promise<{ status: number }>;
    setSubject: (subject: string) => Promise<boolean>;
    /** undefined where WhatsApp refuses (not an admin), as whatsapp-web.js */
    getInviteCode: () => Promise<string>;
    leave: () => Promise<void>;
    /** Admins only; rejects when WhatsApp refuses */
    promoteParticipants: (participantIds: Array<string>) => Promise<{ status: number }>;
    /** Admins only; rejects when WhatsApp refuses */
    demoteParticipants: (participantIds: Array<string>) => Promise<{ status: number }>;
    /** false when WhatsApp refuses (where only admins may edit the info) */
    setDescription: (description: string) => Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    setAddMembersAdminsOnly: (adminsOnly?: boolean) => Promise<boolean>;
    /** Admins only: false when WhatsApp refuses */
    setMessagesAdminsOnly: (adminsOnly?: boolean) => Promise<boolean>;
    /** Admins only: false when WhatsApp refuses */
    setInfoAdminsOnly: (adminsOnly?: boolean) => Promise<boolean>;
    /** Who asks to join (admins only) */
    getGroupMembershipRequests: () => Promise<Array<GroupMembershipRequest>>;
    /** Approves requests to join (all when requesterIds is left out) */
    approveGroupMembershipRequests: (options: MembershipRequestActionOptions) => Promise<Array<MembershipRequestActionResult>>;
    /** Rejects requests to join (all when requesterIds is left out) */
    rejectGroupMembershipRequests: (options: MembershipRequestActionOptions) => Promise<Array<MembershipRequestActionResult>>;
    /** Admins only: resolves to the new invite code; the old link stops working */
    revokeInvite: () => Promise<string>;
    /** Sets the group's picture; false where WhatsApp refuses */
    setPicture: (media: MessageMedia) => Promise<boolean>;
    /** Removes the group's picture; false where WhatsApp refuses */
    deletePicture: () => Promise<boolean>;
}

// Constructors for the structures above (as whatsapp-web.js exports them).
export const Message: { new (client: Client, data: any): Message };
export const Chat: { new (client: Client, data: any): Chat };
export const PrivateChat: { new (client: Client, data: any): PrivateChat };
export const GroupChat: { new (client: Client, data: any, group?: any): GroupChat };
export const Contact: { new (client: Client, id: string, info?: any): Contact };
export const PrivateContact: { new (client: Client, id: string, info?: any): PrivateContact };
export const BusinessContact: { new (client: Client, id: string, info?: any): BusinessContact };
export interface CreateChannelOptions {
    description?: string;
    picture?: MessageMedia;
}

export interface CreateChannelResult {
    title: string;
    nid: ChatId;
    /** https://whatsapp.com/channel/… */
    inviteLink: string;
    createdAtTs: number;
}

export interface TransferChannelOwnershipOptions {
    shouldDismissSelfAsAdmin?: boolean;
}

export interface MessageSendChannelOptions {
    caption?: string;
    mentions?: string[];
    media?: MessageMedia;
    extra?: any;
}

export interface UnsubscribeOptions {
    /** Changes nothing here */
    deleteLocalModels?: boolean;
}

export interface SearchChannelsOptions {
    /** Required */
    searchText?: string;
    /** Ignored: WhatsApp's directory searches where the account is */
    countryCodes?: string[];
    skipSubscribedNewsletters?: boolean;
    /** Ignored: the views without words are not offered */
    view?: number;
    /** 1 to 100 (default 50) */
    limit?: number;
}

/** A WhatsApp Channel (newsletter) */
export interface Channel {
    id: ChatId;
    name: string;
    description: string;
    isChannel: boolean;
    isGroup: boolean;
    /** True unless this account runs it */
    isReadOnly: boolean;
    /** Always 0 */
    unreadCount: number;
    /** When it was made (unix s) */
    timestamp: number;
    isMuted: boolean;
    /** -1 when muted, else 0 */
    muteExpiration: number;
    /** Always undefined */
    lastMessage: Message | undefined;
    /** A post: text, a photo or a video (its admins only) */
    sendMessage(content: string | MessageMedia, options?: MessageSendOptions): Promise<Message>;
    /** Its posts the daemon holds, oldest first */
    fetchMessages: (searchOptions: MessageSearchOptions) => Promise<Message[]>;
    setSubject(newSubject: string): Promise<boolean>;
    setDescription(newDescription: string): Promise<boolean>;
    setProfilePicture(newProfilePicture: MessageMedia): Promise<boolean>;
    mute(): Promise<boolean>;
    unmute(): Promise<boolean>;
    deleteChannel(): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    getSubscribers(limit?: number): Promise<{ contact: Contact; role: string }[]>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    setReactionSetting(reactionCode: number): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    sendSeen(): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    sendChannelAdminInvite(chatId: string, options?: { comment?: string }): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    acceptChannelAdminInvite(): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    revokeChannelAdminInvite(userId: string): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    demoteChannelAdmin(userId: string): Promise<boolean>;
    /** @deprecated Not supported by wabridge: rejects with NotSupportedError */
    transferChannelOwnership(newOwnerId: string, options?: TransferChannelOwnershipOptions): Promise<boolean>;
}
export const Channel: { new (client: Client, data?: any): Channel };
/** A contact's statuses of the last day */
export class Broadcast {
    constructor(client: Client, data?: any);
    id: { server: string; user: string; _serialized: string };
    /** Unix timestamp of the newest status */
    timestamp: number;
    totalCount: number;
    /** Always 0: the daemon does not know which were viewed */
    unreadCount: number;
    /** Oldest first */
    msgs: Message[];
    getChat(): Promise<Chat>;
    getContact(): Promise<Contact>;
}
/** Exported as whatsapp-web.js does; this client never makes one. */
export class ProductMetadata {
    constructor(client: Client, data?: any);
    id: string;
    name: string;
    description: string;
    retailer_id?: string;
}

export class NotSupportedError extends Error {}
