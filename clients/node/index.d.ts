// Type declarations of wabridge-client: the whatsapp-web.js surface it
// offers, with whatsapp-web.js's names and parameters (checked against the
// pinned whatsapp-web.js declarations by test/contract.test.mjs).

import { EventEmitter } from 'events';

export interface WabridgeOptions {
    /** The daemon, e.g. http://127.0.0.1:8002 (default: WABRIDGE_URL) */
    url?: string;
    /** Its API key (default: WABRIDGE_API_KEY) */
    key?: string;
}

export interface ClientOptions {
    authStrategy?: LocalAuth;
    wabridge?: WabridgeOptions;
}

export interface ContactId {
    server: string;
    user: string;
    _serialized: string;
}

export interface ClientInfo {
    wid: ContactId;
    me: ContactId;
    pushname: string;
    platform: string;
}

export interface MessageId {
    fromMe: boolean;
    remote: string;
    id: string;
    _serialized: string;
}

export interface MessageSendOptions {
    caption?: string;
    quotedMessageId?: string;
    media?: MessageMedia;
    sendAudioAsVoice?: boolean;
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
    constructor(latitude: number, longitude: number, options?: LocationSendOptions);
}

export interface PollSendOptions {
    allowMultipleAnswers?: boolean;
}

export class Poll {
    pollName: string;
    pollOptions: Array<{ name: string; localId: number }>;
    options: PollSendOptions;
    constructor(pollName: string, pollOptions: Array<string>, options?: PollSendOptions);
}

export type MessageContent = string | MessageMedia | Location | Poll;

export interface MessageSearchOptions {
    limit?: number;
    fromMe?: boolean;
}

export type WAState = string;

export class LocalAuth {
    constructor(options?: { clientId?: string, dataPath?: string });
}

export class MessageMedia {
    mimetype: string;
    data: string;
    filename?: string | null;
    filesize?: number | null;
    constructor(mimetype: string, data: string, filename?: string | null, filesize?: number | null);
    static fromFilePath: (filePath: string) => MessageMedia;
    static fromUrl: (url: string, options?: { reqOptions?: any, filename?: string }) => Promise<MessageMedia>;
}

export class Client extends EventEmitter {
    constructor(options: ClientOptions);
    info: ClientInfo;
    initialize(): Promise<void>;
    destroy(): Promise<void>;
    logout(): Promise<void>;
    sendMessage(chatId: string, content: MessageContent, options?: MessageSendOptions): Promise<Message>;
    getProfilePicUrl(contactId: string): Promise<string>;
    getChats(): Promise<Chat[]>;
    getChatById(chatId: string): Promise<Chat>;
    getContactById(contactId: string): Promise<Contact>;
    sendSeen(chatId: string): Promise<boolean>;
    getState(): Promise<WAState>;
    getNumberId(number: string): Promise<ContactId | null>;
    isRegisteredUser(contactId: string): Promise<boolean>;

    on(event: 'qr', listener: (qr: string) => void): this;
    on(event: 'authenticated', listener: () => void): this;
    on(event: 'ready', listener: () => void): this;
    on(event: 'message', listener: (message: Message) => void): this;
    on(event: 'message_create', listener: (message: Message) => void): this;
    on(event: 'message_ack', listener: (message: Message, ack: number) => void): this;
    on(event: 'message_revoke_everyone', listener: (message: Message, revoked_msg?: Message | null) => void): this;
    on(event: 'change_state', listener: (state: WAState) => void): this;
    on(event: 'disconnected', listener: (reason: string) => void): this;
    on(event: string, listener: (...args: any) => void): this;
}

export interface Message {
    id: MessageId;
    ack: number;
    body: string;
    type: string;
    timestamp: number;
    from: string;
    to: string;
    author?: string;
    fromMe: boolean;
    hasMedia: boolean;
    hasQuotedMsg: boolean;
    isForwarded: boolean;
    isStatus: boolean;
    reply: (content: string | MessageMedia, chatId?: string, options?: MessageSendOptions) => Promise<Message>;
    downloadMedia: () => Promise<MessageMedia>;
    getChat: () => Promise<Chat>;
    getContact: () => Promise<Contact>;
    react: (reaction: string) => Promise<void>;
    edit: (content: string) => Promise<Message | null>;
    delete: (everyone?: boolean) => Promise<void>;
}

export interface Contact {
    id: ContactId;
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
    getChat: () => Promise<Chat>;
}

export interface Chat {
    id: ContactId;
    name: string;
    isGroup: boolean;
    unreadCount: number;
    timestamp: number;
    archived: boolean;
    pinned: boolean;
    isReadOnly: boolean;
    isMuted: boolean;
    sendMessage: (content: string | MessageMedia, options?: MessageSendOptions) => Promise<Message>;
    sendSeen: () => Promise<boolean>;
    fetchMessages: (searchOptions: MessageSearchOptions) => Promise<Message[]>;
    getContact: () => Promise<Contact>;
    sendStateTyping: () => Promise<void>;
    sendStateRecording: () => Promise<void>;
    clearState: () => Promise<boolean>;
}

export const Events: { [name: string]: string };
export class NotSupportedError extends Error {}
