'use strict';
// A whatsapp-web.js-style client for a wabridge daemon. The bot code stays
// the same; the browser, the session and its link live in the daemon.
// Transport: the daemon's REST API, and its event stream (Server-Sent
// Events), resumed with Last-Event-ID after a drop so no event is lost or
// seen twice.

const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

// ---- whatsapp-web.js's constants (names and values as it exports them)

const Events = {
  AUTHENTICATED: 'authenticated',
  AUTHENTICATION_FAILURE: 'auth_failure',
  READY: 'ready',
  CHAT_REMOVED: 'chat_removed',
  CHAT_ARCHIVED: 'chat_archived',
  MESSAGE_RECEIVED: 'message',
  MESSAGE_CIPHERTEXT: 'message_ciphertext',
  MESSAGE_CIPHERTEXT_FAILED: 'message_ciphertext_failed',
  MESSAGE_CREATE: 'message_create',
  MESSAGE_REVOKED_EVERYONE: 'message_revoke_everyone',
  MESSAGE_REVOKED_ME: 'message_revoke_me',
  MESSAGE_ACK: 'message_ack',
  MESSAGE_EDIT: 'message_edit',
  UNREAD_COUNT: 'unread_count',
  MESSAGE_REACTION: 'message_reaction',
  MEDIA_UPLOADED: 'media_uploaded',
  CONTACT_CHANGED: 'contact_changed',
  GROUP_JOIN: 'group_join',
  GROUP_LEAVE: 'group_leave',
  GROUP_ADMIN_CHANGED: 'group_admin_changed',
  GROUP_MEMBERSHIP_REQUEST: 'group_membership_request',
  GROUP_UPDATE: 'group_update',
  QR_RECEIVED: 'qr',
  CODE_RECEIVED: 'code',
  LOADING_SCREEN: 'loading_screen',
  DISCONNECTED: 'disconnected',
  STATE_CHANGED: 'change_state',
  BATTERY_CHANGED: 'change_battery',
  INCOMING_CALL: 'call',
  REMOTE_SESSION_SAVED: 'remote_session_saved',
  VOTE_UPDATE: 'vote_update',
};

const MessageTypes = {
  TEXT: 'chat', AUDIO: 'audio', VOICE: 'ptt', IMAGE: 'image', ALBUM: 'album', VIDEO: 'video',
  DOCUMENT: 'document', STICKER: 'sticker', LOCATION: 'location', CONTACT_CARD: 'vcard',
  CONTACT_CARD_MULTI: 'multi_vcard', ORDER: 'order', REVOKED: 'revoked', PRODUCT: 'product',
  UNKNOWN: 'unknown', GROUP_INVITE: 'groups_v4_invite', LIST: 'list', LIST_RESPONSE: 'list_response',
  BUTTONS_RESPONSE: 'buttons_response', PAYMENT: 'payment', BROADCAST_NOTIFICATION: 'broadcast_notification',
  CALL_LOG: 'call_log', CIPHERTEXT: 'ciphertext', DEBUG: 'debug', E2E_NOTIFICATION: 'e2e_notification',
  GP2: 'gp2', GROUP_NOTIFICATION: 'group_notification', HSM: 'hsm', INTERACTIVE: 'interactive',
  NATIVE_FLOW: 'native_flow', NOTIFICATION: 'notification', NOTIFICATION_TEMPLATE: 'notification_template',
  OVERSIZED: 'oversized', PROTOCOL: 'protocol', REACTION: 'reaction', TEMPLATE_BUTTON_REPLY: 'template_button_reply',
  POLL_CREATION: 'poll_creation', SCHEDULED_EVENT_CREATION: 'scheduled_event_creation',
};

const GroupNotificationTypes = {
  ADD: 'add', INVITE: 'invite', REMOVE: 'remove', LEAVE: 'leave', PROMOTE: 'promote', DEMOTE: 'demote',
  SUBJECT: 'subject', DESCRIPTION: 'description', PICTURE: 'picture', ANNOUNCE: 'announce', RESTRICT: 'restrict',
};

const ChatTypes = { SOLO: 'solo', GROUP: 'group', UNKNOWN: 'unknown' };

const WAState = {
  CONFLICT: 'CONFLICT', CONNECTED: 'CONNECTED', DEPRECATED_VERSION: 'DEPRECATED_VERSION', OPENING: 'OPENING',
  PAIRING: 'PAIRING', PROXYBLOCK: 'PROXYBLOCK', SMB_TOS_BLOCK: 'SMB_TOS_BLOCK', TIMEOUT: 'TIMEOUT',
  TOS_BLOCK: 'TOS_BLOCK', UNLAUNCHED: 'UNLAUNCHED', UNPAIRED: 'UNPAIRED', UNPAIRED_IDLE: 'UNPAIRED_IDLE',
};

const MessageAck = { ACK_ERROR: -1, ACK_PENDING: 0, ACK_SERVER: 1, ACK_DEVICE: 2, ACK_READ: 3, ACK_PLAYED: 4 };

const Status = { INITIALIZING: 0, AUTHENTICATING: 1, READY: 3 };

const WhatsWebURL = 'https://web.whatsapp.com/';

// Accepted for compatibility; the daemon runs the browser, so none applies.
const DefaultOptions = {
  puppeteer: { headless: true, defaultViewport: null },
  webVersionCache: { type: 'local' },
  authTimeoutMs: 0,
  qrMaxRetries: 0,
  takeoverOnConflict: false,
  takeoverTimeoutMs: 0,
  ffmpegPath: 'ffmpeg',
  bypassCSP: false,
  proxyAuthentication: undefined,
  pairWithPhoneNumber: { phoneNumber: '', showNotification: true, intervalMs: 180000 },
};

// The daemon's stream kinds behind each client event (status and QR always).
const KINDS = {
  message: 'message',
  message_create: 'message.any',
  message_ack: 'message.ack',
  media_uploaded: 'message.ack',
  message_revoke_everyone: 'message.revoked',
  message_edit: 'message.edited',
  message_reaction: 'message.reaction',
  vote_update: 'message.poll_vote',
  group_join: 'group.join',
  group_leave: 'group.leave',
  // A group made with this account in it (group.join's 'create') is a
  // group_update, as in whatsapp-web.js.
  group_update: ['group.update', 'group.join'],
  group_admin_changed: 'group.update',
  code: 'session.pairing_code',
  call: 'call.received',
  group_membership_request: 'group.membership_request',
  chat_archived: 'chat.update',
  unread_count: 'chat.update',
  chat_removed: 'chat.removed',
};

const ACK = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3, played: 4 };

// The daemon's message types, as whatsapp-web.js names them.
const TYPES = {
  text: 'chat', image: 'image', video: 'video', audio: 'audio', ptt: 'ptt', document: 'document',
  sticker: 'sticker', location: 'location', contact: 'vcard', poll: 'poll_creation', event: 'scheduled_event_creation', other: 'unknown',
  // Only sends made here: several cards.
  multi_vcard: 'multi_vcard',
};

// A message's whatsapp-web.js type. The daemon types a voice note as audio
// with `voice: true`, a contact card, a poll or an event as other with its
// `vcards`, `poll` or `event` (sends made here carry the finer type already).
function typeOf(m) {
  if (m.voice) return 'ptt';
  if (m.type === 'other' && m.poll) return 'poll_creation';
  if (m.type === 'other' && m.event) return 'scheduled_event_creation';
  if (m.type === 'other' && m.group_invite) return 'groups_v4_invite';
  if (m.type === 'other' && m.vcards && m.vcards.length) return 'vcard';
  return TYPES[m.type] || 'unknown';
}

// How long a session must stay STOPPED or FAILED to be 'disconnected'.
const STILL_DOWN_MS = 1500;

// A request that did not reach the daemon (down, restarting, not up yet):
// fetch's own failure, with no answer.
function unreachable(e) {
  return e && e.status === undefined && e instanceof TypeError && /fetch failed/.test(e.message);
}

// The group event actions, as whatsapp-web.js's notification types.
const GROUP_ACTIONS = { join: 'invite', leaver: 'leave' };
// The group.join types whatsapp-web.js emits as group_join; the others (a
// group made with this account in it: 'create') are group_update.
const JOIN_TYPES = new Set(['add', 'invite', 'linked_group_join']);

// whatsapp-web.js's WAState for a wabridge status.
function waState(status, view) {
  switch (status) {
    case 'CONNECTED': return WAState.CONNECTED;
    case 'STARTING': return WAState.OPENING;
    case 'SCAN_QR': case 'LOGGED_OUT': return WAState.UNPAIRED;
    case 'DISCONNECTED': return WAState.TIMEOUT;
    case 'INCOMPATIBLE': return WAState.DEPRECATED_VERSION;
    case 'FAILED': return view && view.error_code === 'PROXY_FAILED' ? WAState.PROXYBLOCK : WAState.UNLAUNCHED;
    default: return WAState.UNLAUNCHED;
  }
}

class NotSupportedError extends Error {
  constructor(what) {
    super(`${what} is not supported by wabridge-client`);
    this.name = 'NotSupportedError';
  }
}

// ITU-T E.164 country calling codes (prefix-free: a number starts with one
// at most), as WhatsApp Web's findCC finds them.
const CALLING_CODES = new Set((
  '1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 '
  + '90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 '
  + '238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 265 266 '
  + '267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 379 '
  + '380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 '
  + '597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692 800 808 850 852 '
  + '853 855 856 870 878 880 881 882 883 886 888 960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 '
  + '979 992 993 994 995 996 998').split(' '));

// The calling code a phone number (or `…@c.us` id) starts with; null for
// none.
function countryCode(number) {
  const digits = String(number).replace(/@(c\.us|s\.whatsapp\.net)$/, '').replace(/[\s+()-]/g, '');
  if (!/^\d+$/.test(digits)) return null;
  for (let n = 1; n <= 3; n++) if (CALLING_CODES.has(digits.slice(0, n))) return digits.slice(0, n);
  return null;
}

// Gives each named method of cls a body that rejects with NotSupportedError,
// so that calling what wabridge cannot do says so instead of a TypeError.
function unsupported(cls, label, names) {
  for (const name of names) {
    if (Object.prototype.hasOwnProperty.call(cls.prototype, name)) continue;
    Object.defineProperty(cls.prototype, name, {
      value: function () { return Promise.reject(new NotSupportedError(`${label}.${name}`)); },
      writable: true, configurable: true,
    });
  }
}

// How long WhatsApp pins a message for (s), and what it refuses to pin or
// unpin: whatsapp-web.js answers false.
const PIN_DURATIONS = new Set([86400, 604800, 2592000, 5, 15, 60]);
const PIN_REFUSED = new Set(['message_not_found', 'message_revoked', 'not_pinnable', 'not_group_admin', 'not_group_member']);

// Why the daemon edits no message, where whatsapp-web.js answers null.
const EDIT_REFUSED = new Set(['not_own_message', 'edit_window_passed', 'message_not_editable', 'message_revoked', 'message_not_found']);

function widObj(s) {
  const [user, server] = String(s).split('@');
  return { server: server || 'c.us', user, _serialized: `${user}@${server || 'c.us'}` };
}

// whatsapp-web.js ids: "15551234567@c.us" or an object with _serialized;
// wabridge takes them as they are.
function serialized(id) {
  return typeof id === 'object' && id ? id._serialized : String(id);
}

// A message id "true_<chat>_<id>" (in groups "..._<participant>") as
// whatsapp-web.js's MessageId.
function msgKey(s, chat) {
  const str = String(s);
  const parts = str.split('_');
  if (parts.length >= 3 && (parts[0] === 'true' || parts[0] === 'false')) {
    const key = { fromMe: parts[0] === 'true', remote: parts[1], id: parts[2], _serialized: str };
    if (parts.length > 3) key.participant = parts.slice(3).join('_');
    return key;
  }
  return { fromMe: false, remote: chat, id: str, _serialized: str };
}

// The kind the daemon sends media as (core/media.rs): WhatsApp shows webp
// images and everything that is not a photo, video or audio as a document.
function mediaKind(mimetype) {
  const m = String(mimetype || '').split(';')[0].trim().toLowerCase();
  const top = m.split('/')[0];
  if (m === 'image/webp') return 'sticker';
  if (top === 'image') return 'image';
  if (top === 'video' || top === 'audio') return top;
  return 'document';
}

// The links in a text, as whatsapp-web.js lists them (WhatsApp Web's
// findLinks): a URL, a www. address, or a bare domain under a common
// top-level domain (or any, followed by a path); an address without a
// scheme is http://. WhatsApp flags no link as suspicious here: what it
// flags are look-alike characters, which this does not judge.
const LINK = /\bhttps?:\/\/[^\s<>"]+|\bwww\.[^\s<>"]+|(?<![@\w.\/-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:(?:com|org|net|edu|gov|info|biz|io|co|me|app|dev|ai|ly|tv|xyz|shop|store|online|site|uk|de|fr|nl|es|it|br|in|au|ca|ru)\b(?![.\w@-])|[a-z]{2,}(?=\/))(?:\/[^\s<>"]*)?/gi;

function findLinks(text) {
  if (!text) return [];
  return (String(text).match(LINK) || []).map((found) => {
    let link = found.replace(/[.,;:!?'"]+$/, '');
    if (link.endsWith(')') && !link.includes('(')) link = link.slice(0, -1).replace(/[.,;:!?'"]+$/, '');
    return { link: /^https?:\/\//i.test(link) ? link : `http://${link}`, isSuspicious: false };
  });
}

// A place in a session's event log: the daemon's numbers.
const isPlace = (id) => typeof id === 'string' && /^[0-9]+$/.test(id);

// Events held until 'ready' at most; past it they are read again from the
// daemon's log once ready, not kept in memory.
const HELD_MAX = 10000;

// Messages kept for message_ack to hand on whole (the newest this many).
const RECENT_MAX = 2000;

// ---- auth strategies: each names the daemon session

class BaseAuthStrategy {
  constructor(options = {}) {
    this.clientId = options.clientId;
    this.dataPath = options.dataPath;
  }
}

// clientId names the wabridge session (whatsapp-web.js: the profile dir).
// dataPath (./.wwebjs_auth/ by default, as whatsapp-web.js's) keeps where
// the event stream was read to, so a new process takes up what came while
// none ran (whatsapp-web.js's page gets those messages when it starts).
class LocalAuth extends BaseAuthStrategy {
  constructor(options = {}) {
    super(options);
    this.dataPath = path.resolve(options.dataPath || './.wwebjs_auth/');
  }

  // The file that keeps the last event read, for this session.
  resumeFile() {
    return path.join(this.dataPath, this.clientId ? `session-${this.clientId}` : 'session', 'wabridge-last-event');
  }
}

// The session "session"; the daemon keeps its link (no new scan each start).
class NoAuth extends BaseAuthStrategy {
  constructor() { super({}); }
}

// clientId names the session; the store is not used: the daemon keeps the link.
class RemoteAuth extends BaseAuthStrategy {
  constructor(options = {}) {
    super(options);
    this.store = options.store;
    this.backupSyncIntervalMs = options.backupSyncIntervalMs;
  }
}

// ---- things to send

class MessageMedia {
  constructor(mimetype, data, filename, filesize) {
    this.mimetype = mimetype;
    this.data = data;
    this.filename = filename;
    this.filesize = filesize;
  }

  static fromFilePath(filePath) {
    const data = fs.readFileSync(filePath);
    const mime = mimeOf(filePath) || 'application/octet-stream';
    return new MessageMedia(mime, data.toString('base64'), path.basename(filePath), data.length);
  }

  // As whatsapp-web.js: the type by the URL path's extension, else as the
  // server says (Content-Type); with neither, an error unless unsafeMime.
  static async fromUrl(url, options = {}) {
    const pathname = new URL(url).pathname;
    const r = await fetch(url, options.reqOptions);
    if (!r.ok) throw new Error(`could not fetch ${url}: ${r.status}`);
    const buf = Buffer.from(await r.arrayBuffer());
    let mime = mimeOf(pathname) || (r.headers.get('content-type') || '').split(';')[0].trim();
    if (!mime) {
      if (!options.unsafeMime) throw new Error('Unable to determine MIME type using URL. Set unsafeMime to true to download it anyway.');
      mime = 'application/octet-stream';
    }
    const last = pathname.split('/').pop() || '';
    let decoded;
    try { decoded = decodeURIComponent(last); } catch (_) { decoded = last; } // a stray '%': the name as it is
    const name = options.filename || decoded || undefined;
    return new MessageMedia(mime, buf.toString('base64'), name, buf.length);
  }
}

// The type a file name's (or URL path's) extension says; undefined for
// none known.
function mimeOf(name) {
  return MIME[path.posix.extname(String(name)).slice(1).toLowerCase()];
}

const MIME = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', bmp: 'image/bmp',
  svg: 'image/svg+xml', heic: 'image/heic', tif: 'image/tiff', tiff: 'image/tiff',
  mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', mkv: 'video/x-matroska',
  avi: 'video/x-msvideo', '3gp': 'video/3gpp',
  mp3: 'audio/mpeg', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', m4a: 'audio/mp4', aac: 'audio/aac',
  wav: 'audio/wav', flac: 'audio/flac', amr: 'audio/amr',
  pdf: 'application/pdf', txt: 'text/plain', csv: 'text/csv', json: 'application/json', xml: 'application/xml',
  html: 'text/html', htm: 'text/html', rtf: 'application/rtf', vcf: 'text/vcard',
  zip: 'application/zip', rar: 'application/vnd.rar', '7z': 'application/x-7z-compressed', gz: 'application/gzip',
  tar: 'application/x-tar', apk: 'application/vnd.android.package-archive', epub: 'application/epub+zip',
  doc: 'application/msword', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint', pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text', ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
};

// A place, as whatsapp-web.js's Location.
class Location {
  constructor(latitude, longitude, options = {}) {
    this.latitude = latitude;
    this.longitude = longitude;
    this.name = options.name;
    this.address = options.address;
    this.url = options.url;
    this.description = this.name && this.address ? `${this.name}\n${this.address}` : this.name || this.address || '';
  }
}

// A poll to send, as whatsapp-web.js's Poll.
class Poll {
  constructor(pollName, pollOptions, options = {}) {
    this.pollName = pollName;
    this.pollOptions = pollOptions.map((name, localId) => ({ name, localId }));
    this.options = options;
  }
}

// Constructible like whatsapp-web.js's, so bot code loads; sending one
// rejects with NotSupportedError (WhatsApp Web cannot send them from a
// linked device, and wabridge has no scheduled events).
class List {
  constructor(body, buttonText, sections, title, footer) {
    Object.assign(this, { body, buttonText, sections, title, footer });
  }
}
class Buttons {
  constructor(body, buttons, title, footer) {
    Object.assign(this, { body, buttons, title, footer });
  }
}
// A scheduled event, as whatsapp-web.js's: a name, a start (a Date), and
// options {description, endTime (a Date), location (a place's name),
// callType ('voice', 'video' or 'none'), isEventCanceled}.
class ScheduledEvent {
  constructor(name, startTime, options = {}) {
    if (!name || !String(name).trim()) throw new Error("Empty 'name' parameter value is provided.");
    if (options.callType && !['video', 'voice', 'none'].includes(options.callType)) {
      throw new Error("Invalid 'callType' parameter value is provided. Valid values are: 'voice' | 'video' | 'none'.");
    }
    this.name = String(name).trim();
    this.startTimeTs = Math.floor(new Date(startTime).getTime() / 1000);
    this.eventSendOptions = {
      description: options.description ? String(options.description).trim() : undefined,
      endTimeTs: options.endTime ? Math.floor(new Date(options.endTime).getTime() / 1000) : null,
      location: options.location ? String(options.location).trim() : undefined,
      callType: options.callType,
      isEventCanceled: options.isEventCanceled ?? false,
      messageSecret: options.messageSecret,
    };
  }
}

// ---- what the client reports

class ClientInfo {
  constructor(s) {
    this.wid = widObj(s.me.id);
    this.me = this.wid;
    this.pushname = s.me.name || undefined;
    this.platform = s.platform || undefined;
    this.phone = undefined;
  }

  getBatteryStatus() {
    return Promise.reject(new NotSupportedError('ClientInfo.getBatteryStatus'));
  }
}

// What the daemon lists of a contact, as a Contact's info.
function contactInfo(c) {
  return {
    name: c.name || undefined, shortName: c.short_name || undefined, pushname: c.pushname || undefined,
    phone: c.phone || undefined, isMyContact: !!c.saved, isBusiness: !!c.business, isBlocked: !!c.blocked,
  };
}

class Contact {
  // info: what is known of the person: {name, shortName, pushname, phone,
  // isMyContact, isBlocked, isBusiness}; a string is taken as the name.
  constructor(client, id, info = {}) {
    if (typeof info === 'string') info = { pushname: info };
    this.client = client;
    this.id = widObj(id);
    const lid = this.id.server === 'lid';
    // A privacy id hides the phone; WhatsApp may have shown it to us.
    this.number = lid ? info.phone || undefined : this.id.user;
    this.name = info.name || undefined;
    this.pushname = info.pushname || undefined;
    this.shortName = info.shortName || undefined;
    this.isMe = client._isMe(this.id._serialized);
    this.isUser = this.id.server === 'c.us' || lid;
    this.isGroup = this.id.server === 'g.us';
    this.isWAContact = !this.isGroup;
    this.isMyContact = !!info.isMyContact;
    this.isBusiness = !!info.isBusiness;
    this.isEnterprise = false;
    this.isBlocked = !!info.isBlocked;
    this.labels = [];
    this.sectionHeader = undefined;
    this.statusMute = false;
    this.type = 'in';
    this.verifiedLevel = undefined;
    this.verifiedName = undefined;
  }

  // null for this account's own contact, as whatsapp-web.js.
  async getChat() {
    if (this.isMe) return null;
    return this.client.getChatById(this.id._serialized);
  }

  // Their statuses of the last day.
  async getBroadcast() {
    return this.client.getBroadcastById(this.id._serialized);
  }

  // The profile (about, picture, business, blocked); it also tells
  // isBlocked and isBusiness, which a Contact does not know until asked.
  async _profile() {
    const p = await this.client._profile(this.id._serialized);
    this.isBlocked = !!p.blocked;
    this.isBusiness = !!p.business;
    return p;
  }

  async getProfilePicUrl() {
    return (await this._profile()).picture_url || undefined;
  }

  // The "about" text, or null when WhatsApp does not show it.
  async getAbout() {
    return (await this._profile()).about || null;
  }

  // A group is no one to block: false, as whatsapp-web.js.
  async block() {
    if (this.isGroup) return false;
    await this.client._api('POST', `/contacts/${encodeURIComponent(this.id._serialized)}/block`);
    this.isBlocked = true;
    return true;
  }

  async unblock() {
    if (this.isGroup) return false;
    await this.client._api('POST', `/contacts/${encodeURIComponent(this.id._serialized)}/unblock`);
    this.isBlocked = false;
    return true;
  }

  async getCommonGroups() {
    return this.client.getCommonGroups(this.id._serialized);
  }

  // By the phone (a privacy id has no country): null where none is known.
  async getCountryCode() {
    return this.number ? countryCode(this.number) : null;
  }
}

class PrivateContact extends Contact {}

// A business account's contact. Its business profile is not in the
// contact lists the daemon gives: undefined here (the profile route has it).
class BusinessContact extends Contact {
  constructor(client, id, info) {
    super(client, id, info);
    this.businessProfile = undefined;
  }
}

// As whatsapp-web.js's ContactFactory: a BusinessContact for a business
// account (as far as the daemon's contact list tells), else a
// PrivateContact (groups too).
function contactOf(client, id, info = {}) {
  const business = typeof info === 'object' && info && info.isBusiness;
  return business ? new BusinessContact(client, id, info) : new PrivateContact(client, id, info);
}

// A WhatsApp Channel (newsletter) as whatsapp-web.js's Channel, from the
// daemon's ({id, name, description, invite, role, subscribers, created,
// muted}).
class Channel {
  constructor(client, data = {}) {
    this.client = client;
    this._patch(data);
  }

  _patch(data) {
    this.id = widObj(data.id);
    this.name = data.name || this.id.user;
    this.description = data.description || '';
    this.isChannel = true;
    this.isGroup = false;
    // Only its admins post to it.
    this.isReadOnly = data.role !== 'owner' && data.role !== 'admin';
    this.unreadCount = 0;
    this.timestamp = data.created || 0;
    this.isMuted = !!data.muted;
    this.muteExpiration = data.muted ? -1 : 0;
    this.lastMessage = undefined;
    this.channelMetadata = {
      id: widObj(data.id), name: this.name, description: this.description, inviteCode: data.invite || undefined,
      membershipType: data.role, subscribersCount: data.subscribers, createdAtTs: data.created || undefined, verified: !!data.verified,
    };
    return this;
  }

  _path(tail = '') {
    return `/channels/${encodeURIComponent(this.id._serialized)}${tail}`;
  }

  // What whatsapp-web.js answers false for (WhatsApp refused, or this
  // account may not): false; anything else throws.
  async _try(method, tail, body) {
    try {
      const c = await this.client._api(method, this._path(tail), body);
      if (c && c.id) this._patch(c);
      return true;
    } catch (e) {
      if (e && CHANNEL_REFUSED.has(e.code)) return false;
      throw e;
    }
  }

  // A post: text, a photo or a video (its caption), as the channel takes.
  async sendMessage(content, options = {}) {
    return this.client.sendMessage(this.id._serialized, content, options);
  }

  // Its posts, oldest first (the ones this daemon holds).
  async fetchMessages(searchOptions) {
    return Chat.prototype.fetchMessages.call(this, searchOptions);
  }

  setSubject(newSubject) { return this._try('PATCH', '', { name: newSubject }); }
  setDescription(newDescription) { return this._try('PATCH', '', { description: newDescription }); }
  setProfilePicture(newProfilePicture) { return this._try('PATCH', '', { picture: newProfilePicture.data }); }
  mute() { return this._try('POST', '/mute'); }
  unmute() { return this._try('DELETE', '/mute'); }
  deleteChannel() { return this.client.deleteChannel(this.id._serialized); }
}

// What the daemon refuses of channels that whatsapp-web.js answers false
// for.
const CHANNEL_REFUSED = new Set(['channel_not_found', 'not_channel_admin', 'channel_admin', 'channel_closed', 'invalid_field']);
// A contact's statuses of the last day, as whatsapp-web.js's Broadcast:
// `id` the contact, `timestamp` the newest, `msgs` oldest first.
class Broadcast {
  constructor(client, data) {
    this.client = client;
    if (!data) return;
    this.id = widObj(data.id);
    this.timestamp = data.timestamp;
    this.totalCount = data.msgs.length;
    // The daemon does not know which the account viewed.
    this.unreadCount = 0;
    this.msgs = data.msgs.map((m) => client._message(m));
  }

  getChat() {
    return this.client.getChatById(this.id._serialized);
  }

  getContact() {
    return this.client.getContactById(this.id._serialized);
  }
}
class ProductMetadata {
  constructor(client, data = {}) { this.client = client; Object.assign(this, data); }
}

// ---- chats

class Chat {
  constructor(client, data) {
    this.client = client;
    this.id = widObj(data.id);
    this.name = data.name || this.id.user;
    this.isGroup = this.id.server === 'g.us';
    this.unreadCount = data.unread || 0;
    this.timestamp = data.timestamp || 0;
    this.isReadOnly = false;
    this._setState(data);
    this.isLocked = false;
    // The newest message the daemon has stored of it, where the list
    // carried it (getChats, getChatById).
    this.lastMessage = data.last_message ? new Message(client, data.last_message) : undefined;
  }

  async sendMessage(content, options) {
    return this.client.sendMessage(this.id._serialized, content, options);
  }

  // A business account's labels on it.
  getLabels() {
    return this.client.getChatLabels(this.id._serialized);
  }

  // Its labels become these (others come off).
  changeLabels(labelIds) {
    return this.client.addOrRemoveLabels(labelIds, [this.id._serialized]);
  }

  async getPinnedMessages() {
    return this.client.getPinnedMessages(this.id._serialized);
  }

  // A business account's note on this person (a group has none: nothing
  // and null, as whatsapp-web.js).
  async addOrEditCustomerNote(note) {
    if (this.isGroup) return undefined;
    return this.client.addOrEditCustomerNote(this.id._serialized, note);
  }

  async getCustomerNote() {
    if (this.isGroup) return null;
    return this.client.getCustomerNote(this.id._serialized);
  }

  // Its messages go (starred ones too, as whatsapp-web.js clears), on
  // the phone and from the daemon's history; the chat stays. False for a
  // chat the account does not have.
  async clearMessages() {
    return this._gone('POST', '/clear', { keep_starred: false });
  }

  // The chat and its messages go, on the phone too.
  async delete() {
    return this._gone('DELETE', '');
  }

  async _gone(method, tail, body) {
    try {
      await this.client._api(method, `/chats/${encodeURIComponent(this.id._serialized)}${tail}`, body);
      return true;
    } catch (e) {
      if (e && e.code === 'chat_not_found') return false;
      throw e;
    }
  }

  // How the account keeps the chat (the daemon's chat).
  _setState(c) {
    this.archived = !!c.archived;
    this.pinned = !!c.pinned;
    this.isMuted = c.muted_until != null;
    this.muteExpiration = c.muted_until || 0;
    // As WhatsApp Web counts a chat marked unread.
    if (c.marked_unread && !this.unreadCount) this.unreadCount = -1;
  }

  async markUnread() {
    await this.client.markChatUnread(this.id._serialized);
    if (!this.unreadCount) this.unreadCount = -1;
  }

  // Resolve as whatsapp-web.js's do: true, then false.
  async archive() {
    return (this.archived = await this.client.archiveChat(this.id._serialized));
  }

  async unarchive() {
    return (this.archived = await this.client.unarchiveChat(this.id._serialized));
  }

  async pin() {
    return (this.pinned = await this.client.pinChat(this.id._serialized));
  }

  async unpin() {
    return (this.pinned = await this.client.unpinChat(this.id._serialized));
  }

  async mute(unmuteDate) {
    const r = await this.client.muteChat(this.id._serialized, unmuteDate);
    Object.assign(this, r);
    return r;
  }

  async unmute() {
    const r = await this.client.unmuteChat(this.id._serialized);
    Object.assign(this, r);
    return r;
  }

  async sendSeen() {
    return this.client.sendSeen(this.id._serialized);
  }

  // The last `limit` messages (50 if none; Infinity for all), oldest
  // first, like whatsapp-web.js; `fromMe` picks before counting. From the
  // daemon's message store, a page (at most 500) at a time.
  async fetchMessages(searchOptions = {}) {
    const opts = searchOptions || {};
    const want = Number(opts.limit) > 0 ? Number(opts.limit) : 50;
    const fromMe = opts.fromMe;
    const out = [];
    let before;
    while (out.length < want) {
      const left = want - out.length;
      // With a filter, fetch more at a time: some of the page is left out.
      const page = Math.min(500, fromMe === undefined ? Math.ceil(left) : Math.max(Math.ceil(left), 100));
      const q = new URLSearchParams({ chat: this.id._serialized, limit: String(page) });
      if (before) q.set('before', before);
      const r = await this.client._api('GET', `/messages?${q}`);
      for (const m of r.messages) {
        const msg = new Message(this.client, m);
        if (fromMe !== undefined && msg.fromMe !== !!fromMe) continue;
        if (out.length < want) out.push(msg);
      }
      if (!r.next || !r.messages.length) break;
      before = r.next;
    }
    return out.reverse();
  }

  async getContact() {
    return this.client.getContactById(this.id._serialized);
  }

  async sendStateTyping() {
    await this.client._api('POST', '/presence', { state: 'typing', chat: this.id._serialized });
  }

  async sendStateRecording() {
    await this.client._api('POST', '/presence', { state: 'recording', chat: this.id._serialized });
  }

  async clearState() {
    await this.client._api('POST', '/presence', { state: 'paused', chat: this.id._serialized });
    return true;
  }
}

class PrivateChat extends Chat {}

// whatsapp-web.js's answers for adding people (GroupChat.addParticipants,
// Client.createGroup), by WhatsApp's code.
const ADD_RESULTS = {
  default: 'An unknown error occupied while adding a participant',
  200: 'The participant was added successfully',
  403: 'The participant can be added by sending private invitation only',
  404: 'The phone number is not registered on WhatsApp',
  408: 'You cannot add this participant because they recently left the group',
  409: 'The participant is already a group member',
  417: "The participant can't be added to the community. You can invite them privately to join this group through its invite link",
  419: "The participant can't be added because the group is full",
};

// Whether the private invite WhatsApp made for `id` (kept out of `group`
// by their privacy settings, code 403) was sent to them, as whatsapp-web.js
// sends it unless options.autoSendInviteV4 is false.
async function sendPrivateInvite(client, g, group, id, code, options) {
  const { autoSendInviteV4 = true, comment = '' } = options || {};
  const f = (g.failed || []).find((x) => x.id === id);
  if (!autoSendInviteV4 || code !== 403 || !f || !f.invite_code) return false;
  const invite = { group, code: f.invite_code, expires: f.invite_expires, comment: comment || undefined };
  return client._api('POST', '/messages', { to: id, group_invite: invite }).then(() => true, () => false);
}

// The code WhatsApp answered for `id`: the daemon's `failed` names those
// it did not add; of the rest, one in the group before was already in.
function addCode(g, id, before) {
  const f = (g.failed || []).find((x) => x.id === id);
  if (f) return f.code;
  const inside = (g.participants || []).some((p) => p.id === id);
  return before && before.has(id) ? 409 : inside ? 200 : 404;
}
const NOT_ADMIN_ADD = 'AddParticipantsError: You have no admin rights to add a participant to a group';

class GroupChat extends Chat {
  // group: the daemon's Group {id, subject, owner, created, participants}.
  constructor(client, data, group) {
    super(client, { ...data, name: (group && group.subject) || data.name });
    this.isGroup = true;
    this._setGroup(group || { id: data.id, participants: [] });
  }

  _setGroup(g) {
    this.groupMetadata = {
      id: widObj(g.id),
      subject: g.subject || undefined,
      owner: g.owner ? widObj(g.owner) : undefined,
      creation: g.created || undefined,
      desc: g.description || undefined,
      announce: !!g.announce,
      restrict: !!g.restrict,
      participants: (g.participants || []).map((p) => ({ id: widObj(p.id), isAdmin: !!p.admin, isSuperAdmin: !!p.super_admin })),
      ephemeralDuration: g.ephemeral || 0,
      // Where it stands in a community, as WhatsApp Web's metadata says.
      isParentGroup: false,
      parentGroup: g.community ? widObj(g.community) : undefined,
      defaultSubgroup: !!g.community_announcements,
    };
    if (g.subject) this.name = g.subject;
    // Read-only, as WhatsApp shows it: only admins send, and we are none.
    // A group that addresses its members by privacy id lists us by ours.
    const mine = (g.participants || []).find((p) => this.client._isMe(p.id) || (p.phone && this.client._isMe(`${p.phone}@c.us`)));
    this.isReadOnly = !!g.announce && !(mine && mine.admin);
  }

  get owner() { return this.groupMetadata.owner; }
  get createdAt() { return this.groupMetadata.creation ? new Date(this.groupMetadata.creation * 1000) : undefined; }
  get description() { return this.groupMetadata.desc; }
  get participants() { return this.groupMetadata.participants; }

  _path() {
    return `/groups/${encodeURIComponent(this.id._serialized)}`;
  }

  // Per person, as whatsapp-web.js answers: 200 added, 409 already in,
  // 404 not on WhatsApp, 403 kept out by their privacy settings (then, as
  // whatsapp-web.js does unless autoSendInviteV4 is false, they are sent
  // the private invite WhatsApp made for them, with options.comment), ...;
  // its sentence when this account is no admin.
  async addParticipants(participantIds, options = {}) {
    const ids = (Array.isArray(participantIds) ? participantIds : [participantIds]).map(serialized);
    const before = new Set(this.participants.map((p) => p.id._serialized));
    let g;
    try {
      g = await this.client._api('POST', `${this._path()}/participants`, { add: ids });
    } catch (e) {
      if (e.code === 'not_group_admin') return NOT_ADMIN_ADD;
      if (e.code !== 'number_not_on_whatsapp') throw e;
      g = await this.client._api('GET', this._path());
    }
    this._setGroup(g);
    const out = {};
    for (const id of ids) {
      const code = addCode(g, id, before);
      const isInviteV4Sent = await sendPrivateInvite(this.client, g, this.id._serialized, id, code, options);
      out[id] = { code, message: ADD_RESULTS[code] || ADD_RESULTS.default, isInviteV4Sent };
    }
    return out;
  }

  async removeParticipants(participantIds) {
    const ids = (Array.isArray(participantIds) ? participantIds : [participantIds]).map(serialized);
    this._setGroup(await this.client._api('POST', `${this._path()}/participants`, { remove: ids }));
    return { status: 200 };
  }

  // Admins only, as in whatsapp-web.js; what WhatsApp refuses rejects.
  async promoteParticipants(participantIds) {
    const ids = (Array.isArray(participantIds) ? participantIds : [participantIds]).map(serialized);
    this._setGroup(await this.client._api('POST', `${this._path()}/participants`, { promote: ids }));
    return { status: 200 };
  }

  async demoteParticipants(participantIds) {
    const ids = (Array.isArray(participantIds) ? participantIds : [participantIds]).map(serialized);
    this._setGroup(await this.client._api('POST', `${this._path()}/participants`, { demote: ids }));
    return { status: 200 };
  }

  // false when WhatsApp refuses (as whatsapp-web.js answers).
  async setSubject(subject) {
    try {
      await this.client._api('PUT', `${this._path()}/subject`, { subject });
    } catch (e) {
      if (e.code === 'not_group_admin' || e.status === 502) return false;
      throw e;
    }
    this.name = subject;
    this.groupMetadata.subject = subject;
    return true;
  }

  // A change to the group's info or settings: false when WhatsApp
  // refuses (not an admin where only admins may), as whatsapp-web.js
  // answers; else true, with groupMetadata as the group is after.
  async _edit(change) {
    try {
      this._setGroup(await this.client._api('PATCH', this._path(), change));
    } catch (e) {
      if (e.code === 'not_group_admin' || e.code === 'invalid_field' || e.status === 502) return false;
      throw e;
    }
    return true;
  }

  async setDescription(description) {
    return this._edit({ description: String(description == null ? '' : description) });
  }

  async setMessagesAdminsOnly(adminsOnly = true) {
    return this._edit({ announce: !!adminsOnly });
  }

  async setInfoAdminsOnly(adminsOnly = true) {
    return this._edit({ restrict: !!adminsOnly });
  }

  // undefined where WhatsApp refuses (not an admin, not in the group), as
  // whatsapp-web.js answers.
  async getInviteCode() {
    try {
      return (await this.client._api('GET', `${this._path()}/invite`)).code;
    } catch (e) {
      if (e.code === 'not_group_admin' || e.code === 'group_not_found' || e.status === 502) return undefined;
      throw e;
    }
  }

  // false where WhatsApp refuses (only admins edit the info), as
  // whatsapp-web.js answers.
  async setPicture(media) {
    return this._edit({ picture: media.data });
  }

  async deletePicture() {
    return this._edit({ picture: null });
  }

  getGroupMembershipRequests() {
    return this.client.getGroupMembershipRequests(this.id._serialized);
  }

  approveGroupMembershipRequests(options = {}) {
    return this.client.approveGroupMembershipRequests(this.id._serialized, options);
  }

  rejectGroupMembershipRequests(options = {}) {
    return this.client.rejectGroupMembershipRequests(this.id._serialized, options);
  }

  // Admins only: the new code; the old link stops working.
  async revokeInvite() {
    return (await this.client._api('POST', `${this._path()}/invite/revoke`)).code;
  }

  async leave() {
    await this.client._api('POST', `${this._path()}/leave`);
  }
}

// ---- messages

class Message {
  constructor(client, m) {
    this.client = client;
    this._patch(m);
  }

  _patch(m) {
    // Bots written for whatsapp-web.js read the sender's name here.
    this._data = { ...m, notifyName: (m.sender && m.sender.name) || undefined };
    const me = this.client.info && this.client.info.wid._serialized;
    this.id = msgKey(m.id, m.chat);
    if (m.chat) this.id.remote = m.chat;
    this.ack = typeof m.ack === 'number' ? m.ack : ACK[m.ack] ?? 0;
    this.fromMe = m.from_me !== undefined ? !!m.from_me : this.id.fromMe;
    const revoked = !!m.revoked;
    this.type = revoked ? 'revoked' : typeOf(m);
    if (this.type === 'vcard' && m.vcards && m.vcards.length > 1) this.type = 'multi_vcard';
    this.body = revoked ? '' : m.text || m.caption || (m.poll && m.poll.name) || (m.event && m.event.name) || (this.type === 'vcard' && m.vcards ? m.vcards[0] : '') || '';
    this.timestamp = m.timestamp;
    const chat = m.chat || this.id.remote;
    this.from = this.fromMe ? m.from || me : m.from || chat;
    this.to = this.fromMe ? chat : m.to || me;
    const s = m.sender || {};
    // In a group, and for a contact's status, who wrote it: the id they
    // wrote under, as whatsapp-web.js has it and as the group's members,
    // id.participant, mentions and reactions name them (a privacy id in a
    // group that addresses its members by it, even where the phone
    // behind it is known).
    const byAuthor = chat && (chat.endsWith('@g.us') || chat === 'status@broadcast');
    this.author = !this.fromMe && byAuthor ? s.lid || (s.phone ? `${s.phone}@c.us` : undefined) : undefined;
    // A view-once message received: its media is the receiver's phone's only.
    this.hasMedia = !!m.media && !revoked && !(m.view_once && !this.fromMe);
    this.hasQuotedMsg = !!m.reply_to;
    this.hasReaction = !!(m.reactions && m.reactions.length);
    const idPart = this.id.id || '';
    this.deviceType = idPart.length > 21 ? 'android' : idPart.startsWith('3A') ? 'ios' : 'web';
    this.isForwarded = !!m.forwarded;
    this.forwardingScore = m.forwarding_score || 0;
    this.isStatus = chat === 'status@broadcast';
    this.isStarred = !!m.starred;
    this.broadcast = false;
    this.isGif = !!m.gif;
    this.isEphemeral = false;
    // A voice note's, audio's or video's seconds, a string as whatsapp-web.js has it.
    this.duration = m.media && m.media.duration != null ? String(m.media.duration) : undefined;
    this.notifyName = s.name || undefined;
    this.location = m.location && !revoked
      ? new Location(m.location.lat, m.location.lng, { name: m.location.name || undefined, address: m.location.address || undefined })
      : undefined;
    this.vCards = (!revoked && m.vcards) || [];
    this.mentionedIds = m.mentions || [];
    this.groupMentions = [];
    this.links = revoked ? [] : findLinks(m.text || m.caption);
    if (m.edited_at) this.latestEditSenderTimestampMs = m.edited_at * 1000;
    const poll = !revoked && m.poll;
    this.pollName = poll ? poll.name : undefined;
    this.pollOptions = poll ? poll.options.map((name, localId) => ({ name, localId })) : undefined;
    // A private invite to a group, as whatsapp-web.js reads one (its
    // comment is the body).
    const inv = !revoked && m.group_invite;
    this.inviteV4 = inv ? {
      inviteCode: inv.code, inviteCodeExp: inv.expires != null ? String(inv.expires) : undefined, groupId: inv.group,
      groupName: inv.name || undefined, fromId: this.from, toId: this.to,
    } : undefined;
    this.allowMultipleAnswers = poll ? poll.selectable === 0 : undefined;
    return this;
  }

  get rawData() {
    return this._data;
  }

  _path() {
    return `/messages/${encodeURIComponent(this.id._serialized)}`;
  }

  // This message as the daemon keeps it now; null if it does not.
  async reload() {
    const m = await this.client._stored(this.id._serialized);
    return m ? this._patch(m) : null;
  }

  // As whatsapp-web.js: sends this message on to a chat, marked
  // forwarded; resolves to nothing.
  async forward(chat) {
    // A Chat, a Channel, a Contact: anything with an id, as whatsapp-web.js takes it.
    const to = typeof chat === 'string' ? chat : chat.id ? chat.id._serialized : serialized(chat);
    await this.client._sendBody({ to, forward: this.id._serialized });
  }

  // An empty reaction takes this account's reaction back.
  async react(reaction) {
    await this.client.sendReaction(this.id._serialized, reaction);
  }

  // Own messages, within 15 minutes; resolves to the edited message. As
  // whatsapp-web.js, null where WhatsApp would not edit it: another's, one
  // too old, deleted, with no text or caption, or gone. (The daemon's
  // edit takes the text alone: options.mentions are not sent.)
  async edit(content, options = {}) { // eslint-disable-line no-unused-vars
    if (typeof content !== 'string') throw new NotSupportedError('editing to anything but text');
    if (!this.fromMe) return null;
    try {
      await this.client._api('PATCH', this._path(), { text: content });
    } catch (e) {
      if (EDIT_REFUSED.has(e.code)) return null;
      throw e;
    }
    this.body = content;
    return this;
  }

  // For everyone where WhatsApp allows it; else, as whatsapp-web.js, for
  // this account only (gone from its phone and the daemon's history).
  async delete(everyone) {
    if (everyone) {
      try {
        return void (await this.client._api('DELETE', this._path()));
      } catch (e) {
        if (!(e && (e.code === 'not_own_message' || e.code === 'revoke_window_passed'))) throw e;
      }
    }
    await this.client._api('DELETE', `${this._path()}?for=me`);
  }

  async star() {
    await this.client._api('POST', `${this._path()}/star`, { starred: true });
    this.isStarred = true;
  }

  async unstar() {
    await this.client._api('POST', `${this._path()}/star`, { starred: false });
    this.isStarred = false;
  }

  // Pinned for everyone in the chat for `duration` seconds: 86400,
  // 604800 or 2592000, as WhatsApp offers (or WhatsApp Web's 5, 15 and
  // 60). As whatsapp-web.js: true when
  // it was done, false when not (a duration that is no number or none
  // WhatsApp offers, a deleted message, one not yet sent, a group where
  // only admins pin).
  async pin(duration) {
    if (!PIN_DURATIONS.has(duration)) return false;
    return this._pin({ pinned: true, duration });
  }

  async unpin() {
    return this._pin({ pinned: false });
  }

  // Who got, read and played it (WhatsApp Web's message info): each
  // recipient under what WhatsApp Web keeps a time for. Null for another's
  // message or one the daemon does not have, as whatsapp-web.js.
  async getInfo() {
    if (!this.fromMe) return null;
    let r;
    try {
      r = await this.client._api('GET', `${this._path()}/receipts`);
    } catch (e) {
      if (e.code === 'message_not_found' || e.code === 'not_own_message' || e.code === 'status_receipts') return null;
      throw e;
    }
    const at = (k) => r.recipients.filter((x) => x[k] != null).map((x) => ({ id: widObj(x.id), t: x[k] }));
    return {
      delivery: at('delivered_at'), deliveryRemaining: r.pending.delivery,
      played: at('played_at'), playedRemaining: r.pending.played,
      read: at('read_at'), readRemaining: r.pending.read,
    };
  }

  async _pin(body) {
    try {
      await this.client._api('POST', `${this._path()}/pin`, body);
      return true;
    } catch (e) {
      if (PIN_REFUSED.has(e.code) || e.status === 502) return false;
      throw e;
    }
  }

  async reply(content, chatIdArg, options = {}) {
    const to = chatIdArg || this.id.remote;
    return this.client.sendMessage(to, content, { ...options, quotedMessageId: this.id._serialized });
  }

  // The media, or undefined when the message has none or the daemon no
  // longer has it (as whatsapp-web.js answers for media it cannot fetch).
  async downloadMedia() {
    if (this._sentMedia) return this._sentMedia;
    if (!this.hasMedia) return undefined;
    const media = this._data.media;
    const url = media.url || `/api/sessions/${encodeURIComponent(this.client.sessionId)}${this._path()}/media`;
    const r = await this.client._fetch('GET', url);
    if (r.status === 404 || r.status === 410) {
      await r.arrayBuffer().catch(() => {});
      return undefined;
    }
    if (!r.ok) throw await this.client._error(r);
    const buf = Buffer.from(await r.arrayBuffer());
    const mime = media.mimetype || (r.headers.get('content-type') || 'application/octet-stream').split(';')[0];
    return new MessageMedia(mime, buf.toString('base64'), media.filename || undefined, buf.length);
  }

  async getChat() {
    return this.client.getChatById(this.id.remote);
  }

  async getContact() {
    if (this.fromMe) return this.client.getContactById(this.from);
    const s = this._data.sender || {};
    return this.client.getContactById(this.author || this.from, { pushname: s.name, phone: s.phone });
  }

  async getMentions() {
    return Promise.all(this.mentionedIds.map((id) => this.client.getContactById(id)));
  }

  // The message this one replies to: as stored, else from what the reply
  // carries of it (WhatsApp sends that with the reply); undefined if none.
  async getQuotedMessage() {
    if (!this.hasQuotedMsg) return undefined;
    const stored = await this.client.getMessageById(this._data.reply_to);
    const q = this._data.quoted;
    if (stored || !q) return stored;
    const id = this._data.reply_to;
    const author = q.from || '';
    return new Message(this.client, {
      id, chat: this._data.chat, from_me: id.startsWith('true_'), type: q.type, voice: q.voice,
      text: q.type === 'text' ? q.text : null, caption: q.type === 'text' ? null : q.text,
      sender: { phone: author.endsWith('@c.us') ? author.split('@')[0] : null, lid: author.endsWith('@lid') ? author : null },
    });
  }

  async getPollVotes() {
    return this.client.getPollVotes(this.id._serialized);
  }

  // Reactions grouped by emoji, as whatsapp-web.js's ReactionList; undefined if none.
  async getReactions() {
    const m = await this.client._stored(this.id._serialized);
    if (!m || !m.reactions || !m.reactions.length) return undefined;
    const by = new Map();
    for (const r of m.reactions) {
      const list = by.get(r.emoji) || [];
      list.push(new Reaction(this.client, {
        id: `${r.from_me}_${m.chat}_${this.id.id}_${r.sender}`, message: m.id, chat: m.chat,
        sender: r.sender, emoji: r.emoji, from_me: r.from_me, timestamp: r.timestamp,
      }));
      by.set(r.emoji, list);
    }
    return [...by].map(([emoji, senders]) => ({
      id: emoji, aggregateEmoji: emoji, hasReactionByMe: senders.some((x) => this.client._isMe(x.senderId)), senders,
    }));
  }
}

// What a group.update says changed, as GroupNotification types.
const GROUP_CHANGES = ['subject', 'description', 'announce', 'restrict', 'picture'];

// What WhatsApp's codes for a refused request to join mean, in
// whatsapp-web.js's words.
const REQUEST_ERRORS = {
  400: 'ParticipantNotFoundError', 401: 'ParticipantNotAuthorizedError', 403: 'ParticipantForbiddenError',
  404: 'ParticipantRequestNotFoundError', 408: 'ParticipantTemporarilyBlockedError', 409: 'ParticipantConflictError',
  412: 'ParticipantParentLinkedGroupsResourceConstraintError', 500: 'ParticipantResourceConstraintError',
};

// group_join, group_leave, group_update, group_admin_changed and
// group_membership_request carry one.
class GroupNotification {
  constructor(client, ev, type) {
    const p = ev.payload || {};
    const fromMe = client._isMe(p.author);
    this.client = client;
    // No message stands behind these events: the event's id stands in.
    this.id = { fromMe, remote: p.group, id: ev.id, _serialized: `${fromMe}_${p.group}_${ev.id}` };
    // The new subject or description; a setting's 'on' or 'off'; nothing
    // for a new picture (WhatsApp's notice carries none).
    this.body = type === 'subject' ? p.subject || '' : type === 'description' ? p.description || ''
      : type !== 'picture' && typeof p[type] === 'boolean' ? (p[type] ? 'on' : 'off') : '';
    this.type = type;
    this.timestamp = Math.floor((ev.timestamp || Date.now()) / 1000);
    this.chatId = p.group;
    this.author = p.author || undefined;
    this.recipientIds = p.participants || [];
  }

  getChat() {
    return this.client.getChatById(this.chatId);
  }

  getContact() {
    return this.client.getContactById(this.author);
  }

  async getRecipients() {
    return Promise.all(this.recipientIds.map((id) => this.client.getContactById(id)));
  }

  async reply(content, options = {}) {
    return this.client.sendMessage(this.chatId, content, options);
  }
}

// message_reaction carries one. p: the daemon's message.reaction payload.
class Reaction {
  constructor(client, p) {
    this.client = client;
    this.id = msgKey(p.id, p.chat);
    this.orphan = 0;
    this.orphanReason = undefined;
    this.timestamp = p.timestamp;
    this.reaction = p.emoji;
    this.read = false;
    this.msgId = msgKey(p.message, p.chat);
    this.senderId = p.sender;
    this.ack = undefined;
  }
}

// A status's colour as #rrggbb: a number is ARGB; hex with or without
// '#', eight digits ARGB.
function statusColor(c) {
  if (typeof c === 'number') return '#' + (c & 0xffffff).toString(16).padStart(6, '0');
  const hex = String(c).replace(/^#/, '');
  return '#' + hex.padStart(6, '0').slice(-6).toLowerCase();
}

// A business account's label, as whatsapp-web.js has it.
class Label {
  constructor(client, l) {
    Object.defineProperty(this, 'client', { value: client, enumerable: false });
    this.id = l.id;
    this.name = l.name;
    this.hexColor = l.color || undefined;
  }

  getChats() {
    return this.client.getChatsByLabelId(this.id);
  }
}

// 'call' carries one: a call that rings on this account (the daemon's
// call.received). WhatsApp Web never takes a call itself.
class Call {
  constructor(client, p) {
    Object.defineProperty(this, 'client', { value: client, enumerable: false });
    this.id = p.id;
    this.from = p.from;
    this.timestamp = p.timestamp;
    this.isVideo = !!p.is_video;
    this.isGroup = !!p.is_group;
    this.fromMe = false;
    this.canHandleLocally = false;
    this.webClientShouldHandle = false;
    this.participants = [];
  }

  // Declines it: the caller hears it declined. As whatsapp-web.js, a call
  // that no longer rings (taken on the phone, hung up) is left be.
  async reject() {
    try {
      await this.client._api('POST', `/calls/${encodeURIComponent(this.id)}/reject`);
    } catch (e) {
      if (e.code !== 'call_not_found' && e.code !== 'call_not_ringing') throw e;
    }
  }
}

// vote_update carries one. vote: {voter, selected (option names),
// timestamp}; parent: the poll as the daemon keeps it, if it does.
class PollVote {
  constructor(client, vote, parent, parentId, chat) {
    const options = (parent && parent.poll && parent.poll.options) || [];
    this.voter = vote.voter;
    this.selectedOptions = (vote.selected || []).map((name) => ({ name, localId: options.indexOf(name) >= 0 ? options.indexOf(name) : undefined }));
    this.interractedAtTs = vote.timestamp * 1000;
    this.parentMessage = new Message(client, parent || { id: parentId, chat });
    this.parentMsgKey = msgKey(parentId, chat);
  }
}

// ---- the client

class Client extends EventEmitter {
  constructor(options = {}) {
    super();
    const wb = options.wabridge || {};
    this.url = (wb.url || process.env.WABRIDGE_URL || 'http://127.0.0.1:8002').replace(/\/$/, '');
    this.key = wb.key || process.env.WABRIDGE_API_KEY || '';
    const auth = options.authStrategy;
    this.authStrategy = auth;
    this.sessionId = (auth && auth.clientId) || 'session';
    this.options = { ...DefaultOptions, ...options };
    this.info = undefined;
    // This account's privacy id, where WhatsApp tells it (_isMe).
    this._meLid = undefined;
    this._lastEventId = undefined;
    this._resumeFile = auth instanceof LocalAuth ? auth.resumeFile() : undefined;
    // The place a new process starts after: the last event handed to the
    // listeners with none held before it (not the stream's position).
    this._placeId = undefined;
    this._savedEventId = undefined;
    this._saving = undefined;
    this._saves = Promise.resolve();
    this._saveFailedAt = undefined;
    this._saveWarned = false;
    this._placeReset = false;
    this._askedFrom = undefined;
    this._replayWhenReady = false;
    // Events that came before 'ready' (a new process's backlog): handed on
    // after it, in order, as whatsapp-web.js emits no message before it.
    this._held = [];
    this._flushing = false;
    this._stream = undefined;
    this._kinds = '';
    // How long a stream may say nothing before it is opened again (the
    // daemon sends a keep-alive every 15 s).
    this._idleMs = 45000;
    this._idle = undefined;
    // Until initialize() resolved and handled the status it read: a
    // promise the stream waits on before it hands on a status (_open
    // settles it).
    this._opening = undefined;
    this._open = undefined;
    // Each initialize() starts a generation; destroy() and 'disconnected'
    // end it. Only the current generation's follow loop may deliver.
    this._gen = 0;
    this._following = false;
    this._people = new Map(); // id -> {pushname, phone}, from messages seen
    // The messages this client sent or heard of last (id -> payload), so a
    // message_ack hands on the whole message, as whatsapp-web.js does.
    this._recent = new Map();
    // Our media messages media_uploaded was emitted for (the newest 10,000).
    this._uploaded = new Set();
    // The messages message_create was emitted for (id -> whether message
    // was too; the newest 10,000): neither is emitted twice, even when a
    // stream replays them.
    this._told = new Map();
    // Ask the stream only for what someone listens to; a listener added
    // later reconnects it (resuming after the last event, so nothing is lost).
    this.on('newListener', (event) => {
      const asked = this._kinds.split(',');
      if (KINDS[event] && this._following && this._stream && [].concat(KINDS[event]).some((k) => !asked.includes(k))) {
        setImmediate(() => this._stream && this._stream.abort());
      }
    });
  }

  // Calls each listener on its own: one that throws, or whose promise
  // rejects, neither stops the others nor the stream (nor the process).
  _emit(name, ...args) {
    for (const listener of this.rawListeners(name)) {
      try {
        const r = listener.apply(this, args);
        if (r && typeof r.then === 'function') r.then(undefined, (e) => this._listenerFailed(name, e));
      } catch (e) {
        this._listenerFailed(name, e);
      }
    }
  }

  _listenerFailed(name, e) {
    if (name !== 'error' && this.listenerCount('error') > 0) this._emit('error', e);
    else console.error(`wabridge-client: a '${name}' listener failed:`, e);
  }

  // whatsapp-web.js never emits 'error', and an unheard 'error' would kill
  // the process: only those who listen hear about trouble.
  _warn(e) {
    if (this.listenerCount('error') > 0) this._emit('error', e);
  }

  _wantedKinds() {
    const kinds = new Set(['session.status', 'session.qr']);
    for (const [event, kind] of Object.entries(KINDS)) {
      // A kept place must be past only what was handed on: every kind is
      // asked for, as a listener added later (in 'ready') must not find
      // the place gone past what it would have heard.
      if (this._resumeFile || this.listenerCount(event) > 0) for (const k of [].concat(kind)) kinds.add(k);
    }
    return [...kinds].join(',');
  }

  _fetch(method, pathOrUrl, body, extra) {
    const headers = { 'X-Api-Key': this.key, ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(this.url + pathOrUrl, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  // An Error from a daemon's error answer, with its code and status.
  async _error(r) {
    const text = await r.text().catch(() => '');
    let v = null;
    try { v = JSON.parse(text); } catch (_) { /* not JSON */ }
    const e = new Error((v && v.error && v.error.message) || `wabridge answered ${r.status}`);
    e.code = v && v.error && v.error.code;
    e.status = r.status;
    const header = r.headers.get('retry-after');
    const after = header === null ? NaN : Number(header);
    if (Number.isFinite(after) && after >= 0) e.retryAfter = after;
    return e;
  }

  // A send, as whatsapp-web.js's: it goes when it may, for up to 10
  // minutes. Each send has its own Idempotency-Key, so asking again never
  // sends it twice (the daemon answers a repeat with the first outcome).
  async _sendBody(body) {
    const key = crypto.randomUUID();
    const giveUp = Date.now() + 10 * 60 * 1000;
    const gen = this._gen;
    for (let tries = 0; ; tries++) {
      try {
        return await this._api('POST', '/messages', body, { headers: { 'Idempotency-Key': key } });
      } catch (e) {
        const wait = this._sendAgainIn(e, tries);
        if (wait === null || Date.now() + wait > giveUp) throw e;
        // Not after destroy(): the client no longer sends.
        if (!(await this._pause(gen, wait))) throw e;
      }
    }
  }

  // Waits `ms`, or less if the generation `gen` ends meanwhile (destroy(),
  // another initialize()); true if it still lasts.
  async _pause(gen, ms) {
    if (this._gen !== gen) return false;
    this._pauses = this._pauses || new Set();
    await new Promise((res) => {
      const wake = () => { clearTimeout(t); this._pauses.delete(wake); res(); };
      const t = setTimeout(wake, ms);
      this._pauses.add(wake);
    });
    return this._gen === gen;
  }

  // When a send that failed is asked again (ms), or null for an answer
  // that stands. Asked again: one the daemon paces (429: nothing sent),
  // one it could not take now (503: a browser restarting, a busy daemon,
  // an outcome not known yet; 409 idempotency_in_progress: that outcome
  // still unknown), one made while the session is on its way back
  // (WhatsApp Web keeps such a send and sends it once it is), and one
  // that did not reach the daemon (a restart).
  _sendAgainIn(e, tries) {
    const backoff = Math.min(1000 * 2 ** tries, 15000);
    const after = e.retryAfter === undefined ? backoff : Math.min(Math.max(e.retryAfter, 1), 60) * 1000;
    if (e.status === 429) return e.retryAfter === undefined ? null : after;
    if (e.status === 503 || (e.status === 409 && e.code === 'idempotency_in_progress')) return after;
    if (e.status === 409 && e.code === 'session_not_ready') return ['STARTING', 'DISCONNECTED'].includes(this._status) ? backoff : null;
    if (unreachable(e)) return backoff;
    return null;
  }

  // A request of initialize(), asked again while the daemon cannot be
  // reached or cannot answer now (a bot started before it, a daemon
  // restarting: 503), for up to two minutes and while this generation
  // lasts (destroy() ends it).
  async _whileStarting(gen, ask) {
    const giveUp = Date.now() + 2 * 60 * 1000;
    for (let tries = 0; ; tries++) {
      try {
        return await ask();
      } catch (e) {
        const wait = e.retryAfter === undefined ? Math.min(500 * 2 ** tries, 5000) : Math.min(Math.max(e.retryAfter, 1), 30) * 1000;
        if (!(e.status === 503 || unreachable(e)) || Date.now() + wait > giveUp) throw e;
        if (!(await this._pause(gen, wait))) throw e;
      }
    }
  }

  // {value, date}: the answer and the daemon's clock (its Date header).
  async _request(method, p, body, { session = true, headers } = {}) {
    const r = await this._fetch(method, (session ? `/api/sessions/${encodeURIComponent(this.sessionId)}` : '') + p, body, headers);
    if (!r.ok) throw await this._error(r);
    const text = await r.text();
    return { value: text ? JSON.parse(text) : null, date: Date.parse(r.headers.get('date') || '') || 0 };
  }

  async _api(method, p, body, opts) {
    return (await this._request(method, p, body, opts)).value;
  }

  // A stored message as the daemon keeps it; null when it has none.
  async _stored(id) {
    try {
      return await this._api('GET', `/messages/${encodeURIComponent(id)}`);
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
  }

  async _profile(id) {
    return this._api('GET', `/contacts/${encodeURIComponent(serialized(id))}/profile`);
  }

  // Whether an id is this account's: its phone id, or its privacy id,
  // by which groups that address their members by privacy id name us.
  _isMe(id) {
    const s = id && serialized(id);
    return !!s && !!this.info && (s === this.info.wid._serialized || (!!this._meLid && s === this._meLid));
  }

  // This account's privacy id, as WhatsApp pairs it with our phone; none
  // where it tells none or does not answer within two seconds (our own
  // messages in such groups tell it too: _remember).
  async _ownLid(me) {
    let timer;
    const late = new Promise((res) => { timer = setTimeout(res, 2000); timer.unref(); });
    try {
      const r = await Promise.race([this._api('GET', `/contacts/${encodeURIComponent(me)}/lid`), late]);
      return (r && r.lid) || undefined;
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  // Remembers who wrote (name, and the phone behind a privacy id), so
  // Contacts know them without asking WhatsApp.
  _remember(m) {
    const s = m.sender;
    // Our own message in a group that knows us by privacy id names it.
    if (s && m.from_me && s.lid && this.info) this._meLid = s.lid;
    if (!s || m.from_me || (!s.name && !s.phone)) return;
    const info = { pushname: s.name || undefined, phone: s.phone || undefined };
    for (const id of [s.phone && `${s.phone}@c.us`, s.lid]) {
      if (!id) continue;
      this._people.delete(id);
      this._people.set(id, { ...this._people.get(id), ...info });
    }
    // Bounded: the oldest go first.
    while (this._people.size > 10000) this._people.delete(this._people.keys().next().value);
  }

  _message(p) {
    this._remember(p);
    this._keep(p);
    return new Message(this, p);
  }

  // Bounded: the oldest go first.
  _tell(id, received) {
    if (!id) return;
    this._told.delete(id);
    this._told.set(id, received);
    while (this._told.size > 10000) this._told.delete(this._told.keys().next().value);
  }

  // Bounded: the oldest go first.
  _keep(p) {
    if (!p || !p.id) return;
    this._recent.delete(p.id);
    this._recent.set(p.id, p);
    while (this._recent.size > RECENT_MAX) this._recent.delete(this._recent.keys().next().value);
  }

  // Starts (or creates) the session and follows its events. While the
  // client follows, a second call does nothing.
  async initialize() {
    if (this._following) return;
    const gen = ++this._gen;
    this._following = true;
    this._status = undefined;
    this._state = undefined;
    this._ready = false;
    this._lastQr = undefined;
    this._lastCode = undefined;
    this._qrs = 0;
    let started;
    let failure;
    try {
      try {
        started = await this._whileStarting(gen, () => this._request('POST', '/api/sessions', { id: this.sessionId, start: true }, { session: false }));
      } catch (e) {
        if (e.status !== 409) throw e;
        // It exists: start it (after a logout this brings a new QR).
        started = await this._whileStarting(gen, () => this._request('POST', '/start'));
      }
    } catch (e) {
      failure = e;
      // A key that may read and send but not manage sessions: follow the
      // session as it is (someone else runs it).
      if (e.status === 403) started = await this._request('GET', '').catch(() => undefined);
    }
    if (!started) {
      if (this._gen === gen) this._following = false;
      throw failure;
    }
    // Ended (destroy(), or another initialize()) while this one waited:
    // nothing of this generation's may be set now.
    if (this._gen !== gen) return;
    // Status and QR events from before this start (replayed when the
    // stream resumes after the last generation's last event) are stale.
    this._since = started.date;
    // A new process goes on where the last one read to.
    if (!this._lastEventId && this._resumeFile) {
      const kept = this._readPlace();
      // Only a place in this daemon's log of this session (another daemon
      // numbers its events otherwise).
      if (kept && kept.url === this.url && kept.session === this.sessionId) {
        this._lastEventId = kept.place;
        this._placeId = kept.place;
        this._savedEventId = kept.place;
      }
    }
    // The stream reads from now on, but hands on no status until the
    // session's status read here was handled, after initialize() resolved.
    // Kept here too: a later generation's may take `_open`'s place.
    let open;
    const opening = new Promise((res) => {
      open = () => {
        res();
        if (this._opening === opening) this._opening = undefined;
      };
    });
    this._open = open;
    this._opening = opening;
    this._follow(gen);
    let s;
    try {
      s = await this._api('GET', '');
    } catch (e) {
      // Not following half-way (events held for a 'ready' that never
      // comes): a retried initialize() starts over.
      if (this._gen === gen) this._endGeneration();
      throw e;
    }
    if (this._gen !== gen) {
      open();
      return;
    }
    if (s.status === 'SCAN_QR' && !this._pairPhone()) {
      try {
        this._onQr(gen, (await this._api('GET', '/qr')).qr);
      } catch (_) { /* rotated or linked meanwhile: the stream says */ }
    }
    // As in whatsapp-web.js, 'authenticated', 'ready' and the events held
    // for it (a new process's backlog) come after initialize() resolved: a
    // bot that adds its listeners once it has awaited initialize() hears
    // them (and the kept place moves past none it did not hear).
    setImmediate(() => {
      this._onStatus(gen, s.status, s).catch((e) => this._warn(e)).finally(open);
    });
  }

  _pairPhone() {
    const p = this.options.pairWithPhoneNumber;
    return p && p.phoneNumber ? String(p.phoneNumber) : '';
  }

  // Ends the current generation: its loop delivers nothing more.
  _endGeneration() {
    // What was held, or cut short, was never handed on: the next
    // initialize() reads it again from the place.
    if (this._placeId) this._lastEventId = this._placeId;
    this._held = [];
    this._flushing = false;
    this._replayWhenReady = false;
    if (this._open) this._open();
    this._gen++;
    this._following = false;
    this._ready = false;
    this._status = undefined;
    if (this._stream) this._stream.abort();
    clearTimeout(this._idle);
    if (this._wake) this._wake();
    // Sends and starts waiting to be asked again end now.
    for (const wake of [...(this._pauses || [])]) wake();
  }

  // As whatsapp-web.js, which destroys itself after 'disconnected': the
  // client stops following; initialize() starts again.
  _disconnect(gen, reason) {
    if (this._gen !== gen) return;
    this._endGeneration();
    this._emit(Events.DISCONNECTED, reason);
  }

  // 'disconnected' if, a moment later, the session is still in
  // this status by the stream and by the daemon's word. A daemon that does
  // not answer is stopping or restarting: the stream resumes when it is back.
  _disconnectIfStillDown(gen, status) {
    const t = setTimeout(async () => {
      if (this._gen !== gen || this._status !== status) return;
      let now;
      try {
        now = await this._api('GET', '');
      } catch (_) {
        return;
      }
      if (this._gen !== gen || this._status !== status || now.status !== status) return;
      // The session's view tells what its status event does not: a proxy
      // that failed (PROXYBLOCK).
      const state = waState(now.status, now);
      if (state !== this._state) {
        this._state = state;
        this._emit(Events.STATE_CHANGED, state);
      }
      this._disconnect(gen, state);
    }, STILL_DOWN_MS);
    if (t.unref) t.unref();
  }

  _startIfStillLoggedOut(gen) {
    const t = setTimeout(async () => {
      if (this._gen !== gen || this._status !== 'LOGGED_OUT') return;
      try {
        await this._api('POST', '/start');
      } catch (e) {
        // Deleted: nothing more to follow.
        if (e.status === 404 && this._gen === gen) this._endGeneration();
        // A key that may not manage sessions: whoever runs it starts it.
        else if (e.status !== 403) this._warn(e);
      }
    }, STILL_DOWN_MS);
    if (t.unref) t.unref();
  }

  _onQr(gen, qr) {
    if (this._gen !== gen || !qr || qr === this._lastQr || this._pairPhone()) return;
    this._lastQr = qr;
    this._qrs++;
    this._emit(Events.QR_RECEIVED, qr);
    const max = this.options.qrMaxRetries;
    if (max > 0 && this._qrs > max) this._disconnect(gen, 'Max qrcode retries reached');
  }

  _onCode(code) {
    if (!code || code === this._lastCode) return;
    this._lastCode = code;
    this._emit(Events.CODE_RECEIVED, code);
  }

  async _onStatus(gen, status, view) {
    if (this._gen !== gen || !status || status === this._status) return;
    const first = this._status === undefined;
    this._status = status;
    const state = waState(status, view);
    if (!first && state !== this._state) this._emit(Events.STATE_CHANGED, state);
    this._state = state;
    switch (status) {
      case 'CONNECTED': {
        // Once per generation, and again only after a new link: a
        // reconnect after a drop is no new 'ready'.
        if (this._ready) return;
        this._ready = true;
        let s = view;
        if (!s || !s.me) {
          try {
            s = await this._api('GET', '');
          } catch (e) {
            // Not ready after all: asked again in a moment (a session that
            // stays CONNECTED says no new status).
            if (this._gen === gen) {
              this._ready = false;
              this._status = undefined;
              setTimeout(() => { this._onStatus(gen, status).catch((err) => this._warn(err)); }, 2000).unref();
            }
            throw e;
          }
        }
        if (this._gen !== gen) return;
        if (!s.me) {
          // Linked, but the account not yet known: asked again in a moment.
          this._ready = false;
          this._status = undefined;
          setTimeout(() => { this._onStatus(gen, status).catch((err) => this._warn(err)); }, 2000).unref();
          return;
        }
        // Our privacy id learnt before stays ours while the account does.
        const was = this.info && this.info.wid._serialized;
        this.info = new ClientInfo(s);
        if (was !== this.info.wid._serialized) this._meLid = undefined;
        // Asked now and known before the held events are handed on; not
        // awaited before 'ready', so that no event comes between the two
        // (a listener added in 'ready' would miss it).
        const asked = this._ownLid(s.me.id);
        this._emit(Events.AUTHENTICATED);
        this._emit(Events.READY);
        // RemoteAuth's bots wait for their session to be saved: the daemon
        // keeps the link on its own disk, saved once it is linked.
        if (this.authStrategy instanceof RemoteAuth && !this._remoteSaved) {
          this._remoteSaved = true;
          this._emit(Events.REMOTE_SESSION_SAVED);
        }
        const lid = await asked;
        if (this._gen !== gen) return;
        if (lid) this._meLid = lid;
        if (this._replayWhenReady) {
          // Read again from the place what was dropped while held.
          this._replayWhenReady = false;
          if (this._placeId) this._lastEventId = this._placeId;
          if (this._stream) this._stream.abort();
        } else {
          await this._handOnHeld(gen);
        }
        break;
      }
      case 'SCAN_QR': {
        this._ready = false;
        const phone = this._pairPhone();
        if (phone) {
          const p = this.options.pairWithPhoneNumber;
          this.requestPairingCode(phone, p.showNotification, p.intervalMs).catch((e) => this._warn(e));
        }
        break;
      }
      case 'LOGGED_OUT':
        // This client's logout(): as whatsapp-web.js's, which closes its
        // browser, the client stops following.
        if (this._loggedOutBy === gen) {
          this._disconnect(gen, 'LOGOUT');
          break;
        }
        // Unlinked from the phone (or by another): as whatsapp-web.js, whose
        // page shows WhatsApp Web's QR again after 'disconnected' (LOGOUT),
        // the client goes on following, and starts the session again for a
        // new QR where it stays logged out.
        this._ready = false;
        this._qrs = 0;
        this._emit(Events.DISCONNECTED, 'LOGOUT');
        this._startIfStillLoggedOut(gen);
        break;
      // The daemon does not bring these back by itself; but it stops its
      // sessions when it stops (to resume them when it starts again), and
      // a session's restart stops it for a moment: only a session that
      // stays down is 'disconnected'.
      case 'STOPPED': case 'FAILED':
        this._disconnectIfStillDown(gen, status);
        break;
      default: break; // STARTING, DISCONNECTED, INCOMPATIBLE: it recovers by itself
    }
  }

  // `kinds`: what the stream that brought `ev` asked for.
  async _dispatch(gen, ev, kinds = '') {
    const p = ev.payload || {};
    const stale = ev.timestamp !== undefined && ev.timestamp < this._since;
    switch (ev.event) {
      case 'session.qr': if (!stale) this._onQr(gen, p.qr); break;
      case 'session.pairing_code': if (!stale) this._onCode(p.code); break;
      case 'session.status': if (!stale) await this._onStatus(gen, p.status, p); break;
      // As whatsapp-web.js: message_create, then message, with the one
      // Message. The daemon logs another's 'message' before its
      // 'message.any': both are emitted at the first, the second skipped.
      case 'message': {
        const told = p.id ? this._told.get(p.id) : undefined;
        if (told) break;
        const m = this._message(p);
        // (false: message_create came at its 'message.any', on a stream
        // that did not ask for 'message'.)
        if (told === undefined) this._emit(Events.MESSAGE_CREATE, m);
        this._tell(p.id, true);
        this._emit(Events.MESSAGE_RECEIVED, m);
        break;
      }
      case 'message.any': {
        if (p.id && this._told.has(p.id)) break;
        // Another's, on a stream that asks for 'message' too: emitted at
        // its 'message', before this in the log (so handed on here, or by
        // the process whose place this one took up), or, should it come
        // after, then. The stream's kinds, not this._kinds: a listener
        // added since asks anew, resuming after this.
        if (!p.from_me && kinds.split(',').includes('message')) break;
        this._tell(p.id, false);
        this._emit(Events.MESSAGE_CREATE, this._message(p));
        break;
      }
      case 'message.ack': {
        // The whole message: as the ack carries it (the daemon's stored
        // copy), else where this client sent or heard of it lately. One
        // neither has (a send's first ack can come before the message) is
        // read from the daemon, where someone listens; else its id, chat
        // and ack.
        let known = p.message || this._recent.get(p.id);
        if (p.message) this._keep(p.message);
        if (!known && (this.listenerCount(Events.MESSAGE_ACK) > 0 || this.listenerCount(Events.MEDIA_UPLOADED) > 0)) {
          const stored = await this._stored(p.id).catch(() => null);
          if (this._gen !== gen) return;
          if (stored) this._keep((known = stored));
        }
        if (known) known.ack = p.ack;
        const m = new Message(this, known ? structuredClone(known) : { id: p.id, chat: p.chat, ack: p.ack });
        this._emit(Events.MESSAGE_ACK, m, ACK[p.ack] ?? 0);
        // As whatsapp-web.js: our media message, once uploaded (WhatsApp's
        // server has it: its first ack, whichever comes first).
        if ((ACK[p.ack] ?? 0) >= 1 && known && known.from_me && known.media && !this._uploaded.has(p.id)) {
          this._uploaded.add(p.id);
          if (this._uploaded.size > 10000) this._uploaded.delete(this._uploaded.values().next().value);
          this._emit(Events.MEDIA_UPLOADED, new Message(this, structuredClone(known)));
        }
        break;
      }
      case 'message.revoked': {
        // A kept copy is out of date: read anew when next asked for.
        this._recent.delete(p.id);
        // As whatsapp-web.js: the message as it is now (revoked), and as it was.
        const was = p.message || null;
        const now = new Message(this, { ...(was || {}), id: p.id, chat: p.chat, revoked: true });
        this._emit(Events.MESSAGE_REVOKED_EVERYONE, now, was ? new Message(this, { ...was, revoked: false }) : null);
        break;
      }
      case 'message.edited': {
        this._recent.delete(p.id);
        const stored = await this._stored(p.id).catch(() => null);
        if (this._gen !== gen) return;
        const before = stored && (stored.edits || []).filter((e) => e.replaced_at === p.edited_at).pop();
        const m = new Message(this, stored || { id: p.id, chat: p.chat, text: p.text });
        m.body = p.text;
        this._emit(Events.MESSAGE_EDIT, m, p.text, (before && before.text) || '');
        break;
      }
      case 'message.reaction': this._emit(Events.MESSAGE_REACTION, new Reaction(this, p)); break;
      case 'call.received': this._emit(Events.INCOMING_CALL, new Call(this, p)); break;
      case 'group.membership_request': {
        // As whatsapp-web.js: its author is who asks, its time the request's.
        const at = typeof p.timestamp === 'number' ? p.timestamp * 1000 : ev.timestamp;
        const asked = { ...ev, timestamp: at, payload: { group: p.group, author: p.requester, participants: p.recipients || [] } };
        this._emit(Events.GROUP_MEMBERSHIP_REQUEST, new GroupNotification(this, asked, 'membership_approval_request'));
        break;
      }
      case 'message.poll_vote': {
        const parent = await this._stored(p.message).catch(() => null);
        if (this._gen !== gen) return;
        this._emit(Events.VOTE_UPDATE, new PollVote(this, p, parent, p.message, p.chat));
        break;
      }
      case 'group.join': case 'group.leave': {
        const type = GROUP_ACTIONS[p.action] || p.action;
        const name = ev.event === 'group.leave' ? Events.GROUP_LEAVE : JOIN_TYPES.has(type) ? Events.GROUP_JOIN : Events.GROUP_UPDATE;
        this._emit(name, new GroupNotification(this, ev, type));
        break;
      }
      case 'group.update':
        if (p.action === 'promote' || p.action === 'demote') this._emit(Events.GROUP_ADMIN_CHANGED, new GroupNotification(this, ev, p.action));
        else this._emit(Events.GROUP_UPDATE, new GroupNotification(this, ev, GROUP_CHANGES.find((k) => k in p) || 'subject'));
        break;
      case 'chat.update': case 'chat.removed': {
        const removed = ev.event === 'chat.removed';
        const tells = removed || p.changed === 'archived' || p.changed === 'unread';
        if (!tells) break;
        const data = {
          id: p.chat, name: p.name, unread: p.unread, archived: p.archived, pinned: p.pinned,
          muted_until: p.muted_until, marked_unread: p.marked_unread,
        };
        let chat;
        if (String(p.chat).endsWith('@g.us')) {
          // A group's members, as whatsapp-web.js's GroupChat has them
          // (none for a group deleted: it is gone).
          const g = removed ? undefined : await this._api('GET', `/groups/${encodeURIComponent(p.chat)}`).catch(() => undefined);
          if (this._gen !== gen) return;
          chat = new GroupChat(this, data, g);
        } else {
          chat = new PrivateChat(this, data);
        }
        // whatsapp-web.js: (chat), and for an archive (chat, currState, prevState).
        if (removed) this._emit(Events.CHAT_REMOVED, chat);
        else if (p.changed === 'archived') this._emit(Events.CHAT_ARCHIVED, chat, !!p.archived, !p.archived);
        else this._emit(Events.UNREAD_COUNT, chat);
        break;
      }
      default: break;
    }
  }

  // The session's event stream, for one generation; after a drop, resumed
  // with Last-Event-ID.
  async _follow(gen) {
    let pause = 500;
    while (this._gen === gen) {
      const ac = new AbortController();
      this._stream = ac;
      // A stream that says nothing, not even the daemon's keep-alive (every
      // 15 s), for this long is taken for dead (a half-open connection) and
      // opened again, resumed after the last event. Counted while waiting
      // for the daemon, not while its events are handed on.
      let silent = false;
      let idle;
      const wait = () => {
        clearTimeout(idle);
        idle = this._idle = setTimeout(() => { silent = true; ac.abort(); }, this._idleMs);
        idle.unref();
      };
      try {
        const headers = { 'X-Api-Key': this.key, accept: 'text/event-stream' };
        if (this._lastEventId) headers['Last-Event-ID'] = this._lastEventId;
        this._askedFrom = isPlace(this._lastEventId) ? this._lastEventId : undefined;
        const kinds = this._kinds = this._wantedKinds();
        const q = new URLSearchParams({ session: this.sessionId, events: kinds });
        wait();
        const r = await fetch(`${this.url}/api/events?${q}`, { headers, signal: ac.signal });
        if (!r.ok) throw await this._error(r);
        pause = 500;
        let buf = '';
        const decoder = new TextDecoder();
        wait();
        for await (const chunk of r.body) {
          clearTimeout(idle);
          buf += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
          // Every complete block of the chunk, then keep the rest once.
          let start = 0;
          let end;
          while ((end = buf.indexOf('\n\n', start)) >= 0) {
            const block = buf.slice(start, end);
            start = end + 2;
            if (this._gen !== gen) return;
            let id; let name; const data = [];
            for (const line of block.split('\n')) {
              // ': from N': where this stream starts. Until an event comes,
              // that is the place to resume from after a drop.
              const from = /^: ?from (\S+)$/.exec(line);
              if (from) {
                // Behind the place asked for: another log (a data dir
                // restored or wiped), whose places the kept one must follow.
                if (this._askedFrom && isPlace(from[1]) && BigInt(from[1]) < BigInt(this._askedFrom)) this._placeReset = true;
                this._lastEventId = from[1];
                if (!this._holding() && !this._replayWhenReady) { this._placeId = from[1]; this._keepPlace(); }
              }
              else if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
            }
            if (!name) continue;
            if (name === 'gone') {
              // Older events were pruned; the stream goes on from the oldest kept.
              this._warn(new Error('wabridge no longer keeps some events this client missed; going on from the oldest it keeps'));
              continue;
            }
            let ev;
            try { ev = JSON.parse(data.join('\n')); } catch (e) { this._warn(e); if (id) this._lastEventId = id; continue; }
            const status = ev.event === 'session.status' || ev.event === 'session.qr' || ev.event === 'session.pairing_code';
            // Too much held: dropped, and read again from the place once ready.
            if (!status && this._replayWhenReady) continue;
            if (id) this._lastEventId = id;
            if (!status && (!this._ready || this._holding())) {
              if (this._held.length >= HELD_MAX) {
                this._held = [];
                this._replayWhenReady = true;
                if (this._placeId) this._lastEventId = this._placeId;
                continue;
              }
              this._held.push({ id, ev, kinds });
              continue;
            }
            // No status before initialize() resolved and handled the
            // status it read (events before it are held until 'ready').
            if (status && this._opening) {
              await this._opening;
              if (this._gen !== gen) return;
            }
            const before = this._holding();
            try { await this._dispatch(gen, ev, kinds); } catch (e) { this._warn(e); }
            if (this._gen !== gen) {
              // A status that ended this generation (a logout) was handled:
              // the next one starts after it, not with it again.
              if (status && id && !before) { this._placeId = id; this._lastEventId = id; this._keepPlace(); }
              return;
            }
            // Cut off (new kinds, or read again from the place): the rest
            // comes again on the next connection.
            if (ac.signal.aborted) break;
            // Handed to the listeners, with nothing held before it: a new
            // process starts after it.
            if (!before && id) { this._placeId = id; this._keepPlace(); }
          }
          buf = buf.slice(start);
          wait();
        }
      } catch (e) {
        if (this._gen !== gen) return;
        if (!ac.signal.aborted) this._warn(e);
      } finally {
        clearTimeout(idle);
      }
      if (silent && this._gen === gen) this._warn(new Error(`wabridge's event stream said nothing for ${this._idleMs / 1000} s; opening it again`));
      // Reconnect at once after a deliberate abort (new kinds), else after a pause.
      if (this._gen === gen && !ac.signal.aborted) {
        // destroy() cuts the pause short: nothing holds the process open.
        await new Promise((res) => {
          const t = setTimeout(res, pause);
          this._wake = () => { clearTimeout(t); res(); };
        });
        this._wake = undefined;
        pause = Math.min(pause * 2, 5000);
      }
    }
  }

  async sendMessage(chatIdArg, content, options = {}) {
    const to = serialized(chatIdArg);
    const body = { to };
    let media = null;
    let type;
    let cards = 0;
    if (content instanceof MessageMedia) {
      media = content;
      if (options.caption) body.caption = options.caption;
    } else if (options.media instanceof MessageMedia) {
      media = options.media;
      const caption = typeof content === 'string' && content ? content : options.caption;
      if (caption) body.caption = caption;
    } else if (content instanceof Location) {
      body.location = { lat: Number(content.latitude), lng: Number(content.longitude), name: content.name, address: content.address };
      type = 'location';
    } else if (content instanceof ScheduledEvent) {
      const o = content.eventSendOptions || {};
      if (o.isEventCanceled) throw new NotSupportedError('sending a canceled ScheduledEvent');
      body.event = { name: content.name, start: content.startTimeTs };
      if (o.description) body.event.description = o.description;
      if (o.endTimeTs) body.event.end = o.endTimeTs;
      if (o.location) body.event.location = { name: o.location };
      if (o.callType && o.callType !== 'none') body.event.call = o.callType;
      type = 'event';
    } else if (content instanceof Poll) {
      body.poll = { name: content.pollName, options: content.pollOptions.map((o) => o.name), multiple: !!content.options.allowMultipleAnswers };
      type = 'poll';
    } else if (content instanceof Contact || (Array.isArray(content) && content.length && content.every((c) => c instanceof Contact))) {
      const list = Array.isArray(content) ? content : [content];
      body.contacts = list.map((c) => ({ phone: c.number || c.id._serialized, name: c.name || c.pushname || c.number || c.id.user }));
      cards = list.length;
      type = 'contact';
    } else if (typeof content === 'string' && options.parseVCards !== false && content.startsWith('BEGIN:VCARD')) {
      // As whatsapp-web.js (parseVCards, on unless false): vCard text goes
      // as contact cards; the daemon reads each card's name and number.
      body.vcard = content;
      cards = (content.match(/BEGIN:VCARD/gi) || []).length;
      type = 'contact';
    } else if (typeof content === 'string') {
      body.text = content;
      type = 'text';
    } else {
      throw new NotSupportedError(`sending ${content && content.constructor ? `a ${content.constructor.name}` : typeof content}`);
    }

    if (media) {
      // As a document: a file to download, whatever its type (a photo
      // kept as it is). A sticker stays a sticker.
      const asDocument = !!options.sendMediaAsDocument && !options.sendMediaAsSticker;
      // A voice note is audio: other media goes as it is (whatsapp-web.js
      // makes a voice note of audio only).
      if (options.sendAudioAsVoice && !asDocument && /^audio\//.test(media.mimetype || '')) body.voice = true;
      if (asDocument) body.document = true;
      body.media = { data: media.data, mimetype: media.mimetype, filename: media.filename || undefined };
      type = asDocument ? 'document' : body.voice ? 'ptt' : mediaKind(media.mimetype);
      // WhatsApp Web makes the sticker (a WebP) of an image; a sticker has
      // no caption, and its pack name and author are not WhatsApp Web's to
      // set (stickerName, stickerAuthor: ignored).
      if (options.sendMediaAsSticker) {
        if (!/^image\//.test(media.mimetype || '')) throw new NotSupportedError(`a sticker of ${media.mimetype}`);
        body.sticker = true;
        delete body.caption;
        delete body.text;
        delete body.media.filename;
        type = 'sticker';
      }
      // Where WhatsApp Web takes them, as whatsapp-web.js passes them on: a
      // photo, video or voice note to be viewed once; a video as a GIF.
      // (A WebP goes as a sticker.)
      const top = media.mimetype === 'image/webp' ? 'sticker' : String(media.mimetype || '').split('/')[0];
      if (options.isViewOnce && !body.sticker && !asDocument && (top === 'image' || top === 'video' || body.voice)) body.view_once = true;
      if (options.sendVideoAsGif && top === 'video' && !asDocument) body.gif = true;
    }
    if (options.groupMentions && [].concat(options.groupMentions).length) throw new NotSupportedError('sendMessage option groupMentions');
    if (options.invokedBotWid) throw new NotSupportedError('sendMessage option invokedBotWid');
    let mentions = options.mentions == null ? [] : [].concat(options.mentions);
    mentions = mentions.map((m) => (m instanceof Contact ? m.id._serialized : serialized(m)));
    // Mentions live in a text or a caption: on anything else (media
    // without a caption, a place, a poll) whatsapp-web.js sends the
    // message and they tag no one, so they are left out.
    if (body.text === undefined && body.caption === undefined) mentions = [];
    if (mentions.length) body.mentions = mentions;
    if (options.quotedMessageId) body.reply_to = options.quotedMessageId;
    // A status (story): a text one's background and font, as
    // whatsapp-web.js takes them (a number is ARGB); no chat to mark read.
    // whatsapp-web.js reads them from `extra` too, and posts its green
    // (0xff7acca5) where none is given.
    const isStatus = to === 'status@broadcast';
    if (isStatus && body.text !== undefined) {
      const extra = options.extra || {};
      const bg = options.backgroundColor ?? extra.backgroundColor ?? 0xff7acca5;
      body.background = statusColor(bg);
      const font = options.fontStyle ?? extra.fontStyle;
      if (typeof font === 'number') body.font = font;
    }
    // As whatsapp-web.js: mark the chat read first, unless told not to.
    if (options.sendSeen !== false && !isStatus && !to.endsWith('@newsletter')) await this.sendSeen(to).catch(() => false);

    let sent;
    try {
      sent = await this._sendBody(body);
    } catch (e) {
      // As whatsapp-web.js: a message that cannot be quoted (deleted for
      // everyone, or one this account does not have, unless
      // ignoreQuoteErrors is false) is sent without the quote.
      const revoked = e.code === 'message_revoked';
      const unknown = e.code === 'invalid_field' && /'reply_to'/.test(e.message);
      if (!body.reply_to || !(revoked || (unknown && options.ignoreQuoteErrors !== false))) throw e;
      delete body.reply_to;
      sent = await this._sendBody(body);
    }
    const payload = {
      id: sent.id, chat: sent.to, from_me: true, ack: sent.ack, timestamp: sent.timestamp, type,
      text: body.text, caption: body.caption, location: body.location, reply_to: body.reply_to, mentions,
      media: media ? { mimetype: media.mimetype, filename: media.filename || null, size: media.filesize || null } : null,
      poll: body.poll && { name: body.poll.name, options: body.poll.options, selectable: body.poll.multiple ? 0 : 1 },
      event: body.event,
    };
    if (cards > 1) payload.type = 'multi_vcard';
    if (body.gif) payload.gif = true;
    if (body.view_once) payload.view_once = true;
    // What the stream brought of it meanwhile is newer: that stays.
    if (!this._recent.has(sent.id)) this._keep(payload);
    const msg = new Message(this, structuredClone(payload));
    if (media) msg._sentMedia = media;
    return msg;
  }

  async sendReaction(messageId, reaction) {
    await this._api('POST', `/messages/${encodeURIComponent(serialized(messageId))}/reaction`, { emoji: reaction || '' });
  }

  // The contact's profile picture URL, or undefined when it shows none.
  async getProfilePicUrl(contactId) {
    return (await this._profile(contactId)).picture_url || undefined;
  }

  // This account's about, name and picture, as whatsapp-web.js sets them
  // (false where WhatsApp refuses).
  async setStatus(status) {
    await this._api('PATCH', '/profile', { about: String(status) });
  }

  async setDisplayName(displayName) {
    try {
      await this._api('PATCH', '/profile', { name: String(displayName) });
    } catch (e) {
      // A business account's name, as whatsapp-web.js answers; ours too.
      if (e.code === 'name_not_settable' || e.code === 'invalid_field' || e.status === 502) return false;
      throw e;
    }
    if (this.info) this.info.pushname = String(displayName).trim();
    return true;
  }

  async setProfilePicture(media) {
    try {
      await this._api('PATCH', '/profile', { picture: media.data });
    } catch (e) {
      if (e.code === 'invalid_field' || e.status === 502) return false;
      throw e;
    }
    return true;
  }

  async deleteProfilePicture() {
    try {
      await this._api('PATCH', '/profile', { picture: null });
    } catch (e) {
      if (e.status === 502) return false;
      throw e;
    }
    return true;
  }

  // Takes down a status (story) of ours; as whatsapp-web.js, any other
  // message is refused.
  async revokeStatusMessage(messageId) {
    const id = serialized(messageId);
    if (!id.startsWith('true_status@broadcast_')) {
      throw new Error('Invalid usage! Can only revoke the message its from own status broadcast');
    }
    await this._api('DELETE', `/messages/${encodeURIComponent(id)}`);
  }

  // A business account's labels (rejects with code not_business for
  // another).
  // As whatsapp-web.js, an account that is no business has none.
  async getLabels() {
    try {
      return (await this._api('GET', '/labels')).labels.map((l) => new Label(this, l));
    } catch (e) {
      if (e.code === 'not_business') return [];
      throw e;
    }
  }

  async getLabelById(labelId) {
    const found = (await this.getLabels()).find((l) => String(l.id) === String(labelId));
    if (!found) {
      const e = new Error(`no label ${labelId}`);
      e.code = 'label_not_found';
      throw e;
    }
    return found;
  }

  async getChatLabels(chatId) {
    const [labels, chats] = await Promise.all([this.getLabels(), this._api('GET', '/chats')]);
    const chat = chats.find((c) => c.id === serialized(chatId));
    const on = new Set((chat && chat.labels) || []);
    return labels.filter((l) => on.has(String(l.id)));
  }

  async getChatsByLabelId(labelId) {
    const list = await this._api('GET', `/chats?label=${encodeURIComponent(String(labelId))}`);
    return Promise.all(list.map((c) => this.getChatById(c.id)));
  }

  // As whatsapp-web.js: each chat ends with exactly these labels.
  // Label ids the account lacks are left out, as whatsapp-web.js leaves
  // them; an account that is no business rejects with code not_business.
  async addOrRemoveLabels(labelIds, chatIds) {
    const known = new Set((await this._api('GET', '/labels')).labels.map((l) => String(l.id)));
    const want = new Set(labelIds.map(String).filter((id) => known.has(id)));
    const ids = chatIds.map(serialized);
    const chats = (await this._api('GET', '/chats')).filter((c) => ids.includes(c.id));
    const change = new Map(); // label id -> {add, remove}
    const at = (id) => change.get(id) || change.set(id, { add: [], remove: [] }).get(id);
    for (const c of chats) {
      const has = new Set(c.labels || []);
      for (const l of want) if (!has.has(l)) at(l).add.push(c.id);
      for (const l of has) if (!want.has(l)) at(l).remove.push(c.id);
    }
    for (const [id, body] of change) {
      await this._api('POST', `/labels/${encodeURIComponent(id)}/chats`, body);
    }
  }

  // Who asks to join a group we run (admins only), as whatsapp-web.js
  // hands on WhatsApp Web's requests.
  // WhatsApp Web holds requests for admins only: another sees none.
  async getGroupMembershipRequests(groupId) {
    let list;
    try {
      list = await this._api('GET', `/groups/${encodeURIComponent(serialized(groupId))}/requests`);
    } catch (e) {
      if (e.code === 'not_group_admin') return [];
      throw e;
    }
    // The community the group is linked to, as whatsapp-web.js tells it.
    const g = list.length ? await this._api('GET', `/groups/${encodeURIComponent(serialized(groupId))}`).catch(() => ({})) : {};
    return list.map((r) => ({
      id: widObj(r.id), addedBy: r.added_by ? widObj(r.added_by) : null, parentGroupId: g.community ? widObj(g.community) : null,
      requestMethod: r.method, t: r.timestamp,
    }));
  }

  // `requesterIds`: whom (all who asked when left out). The daemon paces
  // WhatsApp's calls itself: `sleep` is taken and not needed.
  async approveGroupMembershipRequests(groupId, options = {}) {
    return this._answerRequests(groupId, options, true);
  }

  async rejectGroupMembershipRequests(groupId, options = {}) {
    return this._answerRequests(groupId, options, false);
  }

  // As whatsapp-web.js: one result per requester, in their order; a call
  // WhatsApp refused as a whole answers [] rather than rejecting.
  async _answerRequests(groupId, options, approve) {
    let ids = options && options.requesterIds;
    if (!ids || (Array.isArray(ids) && !ids.length)) {
      ids = (await this.getGroupMembershipRequests(groupId)).map((r) => r.id._serialized);
    }
    ids = (Array.isArray(ids) ? ids : [ids]).map(serialized);
    if (!ids.length) return [];
    let done;
    try {
      done = await this._api('POST', `/groups/${encodeURIComponent(serialized(groupId))}/requests`, approve ? { approve: ids } : { reject: ids });
    } catch (e) {
      if (e.status && e.status < 500 && e.code !== 'not_group_admin') throw e;
      return [];
    }
    const ok = new Set(approve ? done.approved : done.rejected);
    const failed = new Map(done.failed.map((f) => [f.id, f]));
    const user = (id) => String(id).split('@')[0];
    return ids.map((id) => {
      const hit = [...ok].find((x) => x === id || user(x) === user(id));
      if (hit) return { requesterId: hit, message: `${approve ? 'Approved' : 'Rejected'} successfully` };
      const f = failed.get(id) || [...failed.values()].find((x) => user(x.id) === user(id));
      const code = f ? Number(f.error) : NaN;
      const out = { requesterId: f ? f.id : id };
      if (Number.isFinite(code)) out.error = code;
      out.message = REQUEST_ERRORS[code] || (f ? `An unknown error occupied while ${approve ? 'approving' : 'rejecting'} the participant membership request` : 'ServerStatusCodeError');
      return out;
    });
  }

  // What an invite shows before joining, in WhatsApp's words (as
  // whatsapp-web.js hands on WhatsApp Web's answer).
  async getInviteInfo(inviteCode) {
    const code = String(inviteCode).replace(/^https?:\/\//, '').replace('chat.whatsapp.com/', '').replace('invite/', '');
    const g = await this._api('GET', `/invites/${encodeURIComponent(code)}`);
    return {
      id: widObj(g.id), subject: g.subject || undefined, creation: g.created || undefined, owner: g.owner ? widObj(g.owner) : undefined,
      desc: g.description || undefined, size: g.size, announce: !!g.announce, restrict: !!g.restrict,
      participants: (g.participants || []).map((p) => ({ id: widObj(p.id), isAdmin: !!p.admin, isSuperAdmin: !!p.super_admin })),
    };
  }

  // Archive, pin and mute, as whatsapp-web.js answers them; WhatsApp
  // keeps them on the phone and every device.
  _chatState(chatId, change) {
    return this._api('PATCH', `/chats/${encodeURIComponent(serialized(chatId))}`, change);
  }

  async markChatUnread(chatId) {
    await this._chatState(chatId, { unread: true });
  }

  async archiveChat(chatId) {
    await this._chatState(chatId, { archived: true });
    return true;
  }

  async unarchiveChat(chatId) {
    await this._chatState(chatId, { archived: false });
    return false;
  }

  // false when three chats are pinned already, as whatsapp-web.js answers.
  async pinChat(chatId) {
    try {
      return (await this._chatState(chatId, { pinned: true })).pinned;
    } catch (e) {
      if (e.code === 'pin_limit_reached') return false;
      throw e;
    }
  }

  async unpinChat(chatId) {
    return (await this._chatState(chatId, { pinned: false })).pinned;
  }

  // Without a date: always (-1), as whatsapp-web.js mutes.
  async muteChat(chatId, unmuteDate) {
    const until = unmuteDate ? Math.floor(unmuteDate.getTime() / 1000) : -1;
    const c = await this._chatState(chatId, { muted_until: until });
    return { isMuted: c.muted_until != null, muteExpiration: c.muted_until || 0 };
  }

  async unmuteChat(chatId) {
    const c = await this._chatState(chatId, { muted_until: 0 });
    return { isMuted: c.muted_until != null, muteExpiration: c.muted_until || 0 };
  }

  // Chats from the page; groups as GroupChats (one more call for all of them).
  async getChats() {
    const list = await this._api('GET', '/chats?last_message=true');
    const groups = list.some((c) => String(c.id).endsWith('@g.us')) ? await this._api('GET', '/groups') : [];
    const byId = new Map(groups.map((g) => [g.id, g]));
    return list.map((c) => (String(c.id).endsWith('@g.us') ? new GroupChat(this, c, byId.get(c.id)) : new PrivateChat(this, c)));
  }

  async getChatById(id) {
    const s = serialized(id);
    // "Gets chat or channel instance by ID", as whatsapp-web.js.
    if (s.endsWith('@newsletter')) return new Channel(this, await this._api('GET', `/channels/${encodeURIComponent(s)}`));
    if (s.endsWith('@g.us')) {
      const [g, found] = await Promise.all([this._api('GET', `/groups/${encodeURIComponent(s)}`), this._listedChat(s)]);
      return new GroupChat(this, found || { id: s }, g);
    }
    return new PrivateChat(this, (await this._listedChat(s)) || { id: s });
  }

  // A chat as the chat list shows it (undefined where the account has
  // none), asked for alone: a bot asks for the chat of every message, and
  // an account may have thousands. A daemon from before that route (405)
  // has its whole list read.
  async _listedChat(s) {
    // The status chat, a broadcast list: no chat of the list.
    if (s.endsWith('@broadcast')) return undefined;
    try {
      return await this._api('GET', `/chats/${encodeURIComponent(s)}?last_message=true`);
    } catch (e) {
      if ((e.status === 404 && e.code === 'chat_not_found') || e.status === 422) return undefined;
      if (e.status !== 405) throw e;
    }
    return (await this._api('GET', '/chats?last_message=true')).find((c) => c.id === s);
  }

  // A Contact as WhatsApp Web knows it (the address book's name), else
  // from what this client has seen of it.
  async getContactById(id, hint = {}) {
    const s = serialized(id);
    const known = this._people.get(s) || {};
    const info = { ...known };
    for (const [k, v] of Object.entries(hint)) if (v) info[k] = v;
    const found = await this._knownContact(s).catch(() => undefined);
    for (const [k, v] of Object.entries(found || {})) if (v !== undefined) info[k] = v;
    return contactOf(this, s, info);
  }

  // One person as WhatsApp Web knows them, kept a few seconds (a bot asks
  // for the author of every message); undefined for one it does not know.
  async _knownContact(s) {
    const now = Date.now();
    this._contacts = this._contacts || new Map();
    let hit = this._contacts.get(s);
    if (!hit || now - hit.at > 5000) {
      const ask = this._api('GET', `/contacts?id=${encodeURIComponent(s)}`);
      hit = { at: now, ask };
      this._contacts.set(s, hit);
      ask.catch(() => { if (this._contacts.get(s) === hit) this._contacts.delete(s); });
      while (this._contacts.size > 1000) this._contacts.delete(this._contacts.keys().next().value);
    }
    const list = await hit.ask;
    return list.length ? contactInfo(list[0]) : undefined;
  }

  // What was kept of contacts is stale once the address book changes.
  _contactsChanged() {
    if (this._contacts) this._contacts.clear();
  }

  // A business account's note on a person (on the phone too). As
  // whatsapp-web.js, nothing happens for an account that is no business.
  // (WhatsApp Web writes one only on a chat it has: chat_not_found else.)
  async addOrEditCustomerNote(userId, note) {
    try {
      await this._api('PUT', `/chats/${encodeURIComponent(serialized(userId))}/note`, { content: note });
    } catch (e) {
      if (e && e.code === 'not_business') return;
      throw e;
    }
  }

  // The note, as whatsapp-web.js serializes WhatsApp Web's; null where
  // there is none (or the account is no business).
  async getCustomerNote(userId) {
    try {
      const n = await this._api('GET', `/chats/${encodeURIComponent(serialized(userId))}/note`);
      return { chatId: n.chat, content: n.content, createdAt: n.created, id: n.id, modifiedAt: n.modified, type: 'unstructured' };
    } catch (e) {
      if (e && ['not_business', 'note_not_found', 'chat_not_found'].includes(e.code)) return null;
      throw e;
    }
  }

  // A channel this account owns. Answers whatsapp-web.js's
  // CreateChannelResult, or the reason as a string where it refuses.
  async createChannel(title, options = {}) {
    const body = { name: title };
    if (options.description) body.description = options.description;
    if (options.picture) body.picture = options.picture.data;
    let c;
    try {
      c = await this._api('POST', '/channels', body);
    } catch (e) {
      if (e && e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 403) return `CreateChannelError: ${e.message}`;
      throw e;
    }
    return { title: c.name, nid: widObj(c.id), inviteLink: `https://whatsapp.com/channel/${c.invite}`, createdAtTs: c.created };
  }

  async deleteChannel(channelId) {
    return this._channelCall('DELETE', serialized(channelId), '');
  }

  // False for a channel this account runs, or one WhatsApp does not have.
  async subscribeToChannel(channelId) {
    return this._channelCall('POST', serialized(channelId), '/follow');
  }

  // (WhatsApp Web forgets it either way: deleteLocalModels changes nothing.)
  async unsubscribeFromChannel(channelId, options) {
    return this._channelCall('DELETE', serialized(channelId), '/follow');
  }

  async _channelCall(method, id, tail) {
    try {
      await this._api(method, `/channels/${encodeURIComponent(id)}${tail}`);
      return true;
    } catch (e) {
      if (e && CHANNEL_REFUSED.has(e.code)) return false;
      throw e;
    }
  }

  // The channels this account runs or follows.
  async getChannels() {
    return (await this._api('GET', '/channels')).channels.map((c) => new Channel(this, c));
  }

  // WhatsApp's directory, by words of a channel's name. (Its recommended,
  // trending, popular and new views, without words, are not offered by
  // wa-js: said, not answered with nothing.)
  async searchChannels(searchOptions = {}) {
    const { searchText = '', limit = 50, skipSubscribedNewsletters = false } = searchOptions || {};
    if (!String(searchText).trim()) throw new NotSupportedError('Client.searchChannels without searchText (WhatsApp\'s recommended, trending, popular and new views)');
    const q = new URLSearchParams({ q: String(searchText).trim(), limit: String(Math.min(Math.max(Number(limit) || 50, 1), 100)) });
    const page = await this._api('GET', `/channels/search?${q}`);
    return page.channels.filter((c) => !skipSubscribedNewsletters || c.role === 'guest').map((c) => new Channel(this, c));
  }

  // Everyone this account blocked, as Contacts.
  async getBlockedContacts() {
    const r = await this._api('GET', '/blocklist');
    return Promise.all(r.blocked.map((id) => this.getContactById(id, { isBlocked: true })));
  }

  // Contacts' statuses of the last day, one Broadcast per contact, newest
  // first: from the daemon's history of status@broadcast.
  async getBroadcasts() {
    const since = Math.floor(Date.now() / 1000) - 24 * 3600;
    const byAuthor = new Map();
    let before;
    for (let pages = 0; pages < 50; pages++) {
      const q = `/messages?chat=status%40broadcast&limit=100${before ? `&before=${encodeURIComponent(before)}` : ''}`;
      const page = await this._api('GET', q);
      let older = false;
      for (const m of page.messages) {
        if (m.timestamp < since) { older = true; break; }
        if (m.from_me || m.revoked) continue;
        const s = m.sender || {};
        const author = s.phone ? `${s.phone}@c.us` : s.lid;
        if (!author) continue;
        const b = byAuthor.get(author) || { id: author, timestamp: m.timestamp, msgs: [] };
        b.msgs.unshift(m);
        byAuthor.set(author, b);
      }
      if (older || !page.next) break;
      before = page.next;
    }
    return [...byAuthor.values()].map((b) => new Broadcast(this, b));
  }

  // One contact's statuses of the last day; a Broadcast without any when
  // there are none, as whatsapp-web.js answers.
  async getBroadcastById(contactId) {
    const id = serialized(contactId);
    return (await this.getBroadcasts()).find((b) => b.id._serialized === id) || new Broadcast(this);
  }

  // Everyone WhatsApp Web knows: the address book's (isMyContact, with
  // their saved names) and everyone it heard from.
  // Groups are among them, by their subject, as in whatsapp-web.js.
  async getContacts() {
    const [list, groups] = await Promise.all([this._api('GET', '/contacts'), this._api('GET', '/groups')]);
    return list.map((c) => contactOf(this, c.id, contactInfo(c)))
      .concat(groups.map((g) => contactOf(this, g.id, { name: g.subject || undefined })));
  }

  // Saves a contact to the address book, or renames one (WhatsApp syncs it
  // to the phone); syncToAddressbook: the phone's own address book too.
  async saveOrEditAddressbookContact(phoneNumber, firstName, lastName, syncToAddressbook = false) {
    try {
      await this._api('PUT', `/contacts/${encodeURIComponent(serialized(phoneNumber))}`, {
        first_name: firstName, last_name: lastName || undefined, sync_to_phone: !!syncToAddressbook,
      });
    } finally {
      this._contactsChanged();
    }
  }

  // As whatsapp-web.js, one not in the address book is no error.
  async deleteAddressbookContact(phoneNumber) {
    try {
      await this._api('DELETE', `/contacts/${encodeURIComponent(serialized(phoneNumber))}`);
    } catch (e) {
      if (!(e && e.code === 'contact_not_found')) throw e;
    } finally {
      this._contactsChanged();
    }
  }

  // The privacy id and phone WhatsApp pairs for each person, by either:
  // [{lid, pn}] in the order asked, as whatsapp-web.js (undefined where
  // WhatsApp tells none).
  async getContactLidAndPhone(userIds) {
    const ids = Array.isArray(userIds) ? userIds : [userIds];
    return Promise.all(ids.map(async (u) => {
      const r = await this._api('GET', `/contacts/${encodeURIComponent(serialized(u))}/lid`);
      return { lid: r.lid || undefined, pn: r.phone ? `${r.phone}@c.us` : undefined };
    }));
  }

  // WhatsApp Web's own search of the messages it holds (text and
  // captions), newest first; `page` from 1, `limit` per page (20).
  async searchMessages(query, options = {}) {
    const q = new URLSearchParams({ q: String(query) });
    if (options.chatId) q.set('chat', serialized(options.chatId));
    if (options.page) q.set('page', String(options.page));
    // The daemon pages by 100 at most; whatsapp-web.js passes any count.
    if (options.limit) q.set('limit', String(Math.min(100, Math.max(1, Number(options.limit) || 20))));
    const r = await this._api('GET', `/messages/search?${q}`);
    return r.messages.map((m) => new Message(this, m));
  }

  // The chat's pinned messages, newest pin first (pinned here, on the
  // phone or by anyone in the chat).
  async getPinnedMessages(chatId) {
    const r = await this._api('GET', `/chats/${encodeURIComponent(serialized(chatId))}/pinned`);
    return r.pinned.map((p) => new Message(this, p.message));
  }

  // The stored message; undefined if the daemon does not have it.
  async getMessageById(messageId) {
    const m = await this._stored(serialized(messageId));
    return m ? new Message(this, m) : undefined;
  }

  async getPollVotes(messageId) {
    const m = await this._stored(serialized(messageId));
    if (!m || !m.poll) return [];
    return (m.poll.votes || []).map((v) => new PollVote(this, v, m, m.id, m.chat));
  }

  // The groups this account shares with the contact, by its phone or its
  // privacy id: a group that addresses its members by privacy id lists
  // them by it, the phone behind it where WhatsApp shows it.
  async getCommonGroups(contactId) {
    const id = serialized(contactId);
    const [groups, pair] = await Promise.all([
      this._api('GET', '/groups'),
      this._api('GET', `/contacts/${encodeURIComponent(id)}/lid`).catch(() => null),
    ]);
    const known = this._people.get(id) || {};
    const phone = (pair && pair.phone) || known.phone || (id.endsWith('@c.us') ? id.slice(0, -5) : undefined);
    const ids = new Set([id, pair && pair.lid, phone && `${phone}@c.us`].filter(Boolean));
    return groups
      .filter((g) => (g.participants || []).some((p) => ids.has(p.id) || (!!phone && p.phone === phone)))
      .map((g) => widObj(g.id));
  }

  // Creates a group; answers as whatsapp-web.js: {title, gid, participants}.
  // Its options are set on it as WhatsApp sets them, right after: only
  // admins send (`announce`, which whatsapp-web.js reads; its documentation
  // says `isAnnounce`), and, as whatsapp-web.js, only on a group with
  // someone else in it, disappearing messages (`messageTimer`) and the
  // community it is linked to (`parentGroupId`, looked up first). The
  // group made, an option WhatsApp did not take does not undo it: it is
  // named in the answer's `errors`.
  async createGroup(title, participants = [], options = {}) {
    for (const k of ['memberAddMode', 'membershipApprovalMode']) {
      if (options[k]) throw new NotSupportedError(`createGroup option ${k}`);
    }
    const timer = Number(options.messageTimer || 0);
    if (timer && ![86400, 604800, 7776000].includes(timer)) {
      throw new TypeError('messageTimer: 0, 86400, 604800 or 7776000 seconds');
    }
    const cid = options.parentGroupId ? serialized(options.parentGroupId) : null;
    const ids = (Array.isArray(participants) ? participants : [participants]).map((p) => (p instanceof Contact ? p.id._serialized : serialized(p)));
    let g;
    try {
      if (cid) await this._api('GET', `/communities/${encodeURIComponent(cid)}`);
      g = await this._api('POST', '/groups', { subject: title, participants: ids });
    } catch (e) {
      // As whatsapp-web.js: a group WhatsApp would not make is a string,
      // not an error (the key's own refusals are errors still).
      if (e && ((e.status >= 400 && e.status < 500 && e.status !== 401 && e.status !== 403) || e.status === 502)) return `CreateGroupError: ${e.message}`;
      throw e;
    }
    const errors = [];
    const others = (g.participants || []).length > 1;
    const path = `/groups/${encodeURIComponent(g.id)}`;
    const announce = !!(options.announce || options.isAnnounce);
    const change = { ...(timer && others ? { ephemeral: timer } : {}), ...(announce ? { announce } : {}) };
    if (Object.keys(change).length) await this._api('PATCH', path, change).catch((e) => errors.push(`options: ${e.message}`));
    if (cid && others) {
      await this._api('POST', `/communities/${encodeURIComponent(cid)}/groups`, { groups: [g.id] })
        .then((r) => (r.failed || []).forEach((f) => errors.push(`parentGroupId: WhatsApp did not link it (${f.error})`)))
        .catch((e) => errors.push(`parentGroupId: ${e.message}`));
    }
    const out = {};
    for (const id of ids) {
      const code = addCode(g, id, null);
      const isInviteV4Sent = await sendPrivateInvite(this, g, g.id, id, code, options);
      out[id] = { statusCode: code, message: ADD_RESULTS[code] || ADD_RESULTS.default, isGroupCreator: false, isInviteV4Sent };
    }
    return errors.length ? { title, gid: widObj(g.id), participants: out, errors } : { title, gid: widObj(g.id), participants: out };
  }

  // Joins by an invite code (or link); answers the group's id.
  async acceptInvite(inviteCode) {
    return (await this._api('POST', '/groups/join', { invite: inviteCode })).id;
  }

  async requestPairingCode(phoneNumber, showNotification = true, intervalMs = 180000) { // eslint-disable-line no-unused-vars
    const r = await this._api('POST', '/pair', { phone: String(phoneNumber) });
    this._onCode(r.code);
    return r.code;
  }

  async sendSeen(id) {
    await this._api('POST', `/chats/${encodeURIComponent(serialized(id))}/read`);
    return true;
  }

  async sendPresenceAvailable() {
    await this._api('POST', '/presence', { state: 'online' });
  }

  async sendPresenceUnavailable() {
    await this._api('POST', '/presence', { state: 'offline' });
  }

  async getState() {
    const s = await this._api('GET', '');
    return waState(s.status, s);
  }

  async getWWebVersion() {
    const s = await this._api('GET', '');
    return (s.versions && s.versions.wa_web) || undefined;
  }

  // As whatsapp-web.js (WhatsApp Web's findCC): "15551234567" is "1".
  async getCountryCode(number) {
    return countryCode(number);
  }

  // null for a number not on WhatsApp, and, as whatsapp-web.js, for one
  // that is no number at all (the daemon's 422).
  async getNumberId(number) {
    const digits = String(number).replace(/@c\.us$/, '');
    let r;
    try {
      r = await this._api('GET', `/contacts/${encodeURIComponent(digits)}`);
    } catch (e) {
      if (e.status === 422) return null;
      throw e;
    }
    return r.exists ? widObj(r.id) : null;
  }

  async isRegisteredUser(id) {
    return (await this.getNumberId(id)) !== null;
  }

  // Unlinks the account. The stream then brings disconnected('LOGOUT')
  // and the client stops following, as whatsapp-web.js's closes its
  // browser; initialize() afterwards starts the session again, with a new
  // QR.
  async logout() {
    this._loggedOutBy = this._gen;
    await this._api('POST', '/logout');
  }

  // Stops following the session; the session keeps running in the daemon.
  async destroy() {
    this._endGeneration();
    await this._savePlace();
  }

  _holding() { return this._flushing || this._held.length > 0; }

  // The events held until 'ready', handed on in order (and any that come
  // meanwhile after them); the place follows each.
  async _handOnHeld(gen) {
    if (this._flushing) return;
    this._flushing = true;
    try {
      while (this._held.length && this._gen === gen) {
        const { id, ev, kinds } = this._held.shift();
        try { await this._dispatch(gen, ev, kinds); } catch (e) { this._warn(e); }
        if (this._gen !== gen) return;
        if (id) { this._placeId = id; this._keepPlace(); }
      }
    } finally {
      if (this._gen === gen) {
        this._flushing = false;
        // Too much came while the held were handed on (after 'ready'): what
        // was dropped is read again from the place, as at 'ready'.
        if (this._replayWhenReady && this._ready) {
          this._replayWhenReady = false;
          if (this._placeId) this._lastEventId = this._placeId;
          if (this._stream) this._stream.abort();
        }
      }
    }
  }

  // Saves the place at most once a second: a process that dies meanwhile
  // gets that second's events again.
  _keepPlace() {
    if (!this._resumeFile || this._saving || this._placeId === this._savedEventId) return;
    // After a failure, tried again once a minute.
    if (this._saveFailedAt && Date.now() - this._saveFailedAt < 60000) return;
    this._saving = setTimeout(() => { this._savePlace(); }, 1000);
    this._saving.unref();
  }

  _readPlace() {
    try {
      const text = fs.readFileSync(this._resumeFile, 'utf8').trim();
      // (A bare place: as the first version kept it, for this URL and session.)
      if (isPlace(text)) return { url: this.url, session: this.sessionId, place: text };
      const v = JSON.parse(text);
      return v && isPlace(String(v.place)) ? { url: v.url, session: v.session, place: String(v.place) } : undefined;
    } catch (_) {
      return undefined; // never saved, or unreadable: from now, as a first start
    }
  }

  // One save at a time; never a place before the one kept (another process
  // of this session, a rolling deploy, may have read further).
  _savePlace() {
    if (this._saving) clearTimeout(this._saving);
    this._saving = undefined;
    this._saves = this._saves.then(async () => {
      const id = this._placeId;
      if (!this._resumeFile || !isPlace(id) || id === this._savedEventId) return;
      const kept = this._readPlace();
      if (!this._placeReset && kept && kept.url === this.url && kept.session === this.sessionId && BigInt(kept.place) >= BigInt(id)) {
        this._savedEventId = id;
        return;
      }
      try {
        await fs.promises.mkdir(path.dirname(this._resumeFile), { recursive: true, mode: 0o700 });
        const tmp = `${this._resumeFile}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
        await fs.promises.writeFile(tmp, JSON.stringify({ url: this.url, session: this.sessionId, place: id }), { mode: 0o600 });
        await fs.promises.rename(tmp, this._resumeFile);
        this._savedEventId = id;
        this._placeReset = false;
        this._saveFailedAt = undefined;
      } catch (e) {
        // Said once: a read-only disk would otherwise say it every second.
        if (!this._saveFailedAt && !this._saveWarned) {
          this._saveWarned = true;
          this._warn(new Error(`could not keep the event stream's place in ${this._resumeFile} (tried again each minute; a new process starts from the last place kept): ${e.message}`));
        }
        this._saveFailedAt = Date.now();
      }
    }).catch((e) => this._warn(e));
    return this._saves;
  }
}

// whatsapp-web.js members this client does not offer: calling one says so.
unsupported(Client, 'Client', ['acceptChannelAdminInvite', 'revokeChannelAdminInvite', 'demoteChannelAdmin',
  'acceptGroupV4Invite', 'getChannelByInviteCode', 'getFormattedNumber',
  'cancelPairingCode', 'resetState', 'sendChannelAdminInvite',
  'setAutoDownloadAudio', 'setAutoDownloadDocuments', 'setAutoDownloadPhotos',
  'setAutoDownloadVideos', 'setBackgroundSync', 'getContactDeviceCount', 'syncHistory',
  'createCallLink', 'sendResponseToScheduledEvent',
  'transferChannelOwnership']);
unsupported(Message, 'Message', ['acceptGroupV4Invite', 'getGroupMentions', 'getOrder', 'getPayment', 'editScheduledEvent', 'vote']);
unsupported(Chat, 'Chat', [
  'syncHistory']);
unsupported(GroupChat, 'GroupChat', ['setAddMembersAdminsOnly']);
// wa-js 4.6 offers none of these for channels.
unsupported(Channel, 'Channel', ['getSubscribers', 'setReactionSetting', 'sendSeen', 'sendChannelAdminInvite',
  'acceptChannelAdminInvite', 'revokeChannelAdminInvite', 'demoteChannelAdmin', 'transferChannelOwnership']);
unsupported(Contact, 'Contact', ['getFormattedNumber']);

module.exports = {
  Client,
  version: require('./package.json').version,
  Chat, PrivateChat, GroupChat, Channel, Message, MessageMedia, Contact, PrivateContact, BusinessContact, ClientInfo,
  Location, Poll, ProductMetadata, Broadcast,
  List, Buttons, ScheduledEvent, GroupNotification, Reaction, PollVote,
  NoAuth, LocalAuth, RemoteAuth,
  WhatsWebURL, DefaultOptions, Status, Events, MessageTypes, GroupNotificationTypes, ChatTypes, WAState, MessageAck,
  NotSupportedError,
};
