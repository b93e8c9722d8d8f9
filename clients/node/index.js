'use strict';
// A whatsapp-web.js-style client for a wabridge daemon. The bot code stays
// the same; the browser, the session and its link live in the daemon.
// Transport: the daemon's REST API, and its event stream (Server-Sent
// Events), resumed with Last-Event-ID after a drop so no event is lost or
// seen twice.

const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const path = require('node:path');

const Events = {
  QR_RECEIVED: 'qr',
  AUTHENTICATED: 'authenticated',
  READY: 'ready',
  MESSAGE_RECEIVED: 'message',
  MESSAGE_CREATE: 'message_create',
  MESSAGE_ACK: 'message_ack',
  MESSAGE_REVOKED_EVERYONE: 'message_revoke_everyone',
  STATE_CHANGED: 'change_state',
  DISCONNECTED: 'disconnected',
};

// The stream kinds each client event needs; status and QR always.
const KINDS = {
  message: 'message',
  message_create: 'message.any',
  message_ack: 'message.ack',
  message_revoke_everyone: 'message.revoked',
};

const ACK = { failed: -1, pending: 0, sent: 1, delivered: 2, read: 3, played: 4 };
const TYPES = {
  text: 'chat', image: 'image', video: 'video', audio: 'audio', ptt: 'ptt', document: 'document', sticker: 'sticker',
  location: 'location', contact: 'vcard', poll: 'poll_creation',
};

// whatsapp-web.js's WAState for a wabridge status.
function waState(status) {
  switch (status) {
    case 'CONNECTED': return 'CONNECTED';
    case 'STARTING': return 'OPENING';
    case 'SCAN_QR': case 'LOGGED_OUT': return 'UNPAIRED';
    case 'DISCONNECTED': return 'TIMEOUT';
    default: return 'UNLAUNCHED';
  }
}

class NotSupportedError extends Error {
  constructor(what) {
    super(`${what} is not supported by wabridge-client`);
    this.name = 'NotSupportedError';
  }
}

function widObj(s) {
  const [user, server] = String(s).split('@');
  return { server: server || 'c.us', user, _serialized: `${user}@${server || 'c.us'}` };
}

// whatsapp-web.js ids: "15551234567@c.us"; wabridge takes them as they are.
function chatId(id) {
  return typeof id === 'object' && id ? id._serialized : String(id);
}

class LocalAuth {
  // clientId names the wabridge session (whatsapp-web.js: the profile dir).
  constructor(options = {}) {
    this.clientId = options.clientId;
    this.dataPath = options.dataPath;
  }
}

class MessageMedia {
  constructor(mimetype, data, filename, filesize) {
    this.mimetype = mimetype;
    this.data = data;
    this.filename = filename;
    this.filesize = filesize;
  }

  static fromFilePath(filePath) {
    const data = fs.readFileSync(filePath);
    const ext = path.extname(filePath).slice(1).toLowerCase();
    const mime = MIME[ext] || 'application/octet-stream';
    return new MessageMedia(mime, data.toString('base64'), path.basename(filePath), data.length);
  }

  static async fromUrl(url, options = {}) {
    const r = await fetch(url, options.reqOptions);
    if (!r.ok) throw new Error(`could not fetch ${url}: ${r.status}`);
    const buf = Buffer.from(await r.arrayBuffer());
    const mime = (r.headers.get('content-type') || 'application/octet-stream').split(';')[0];
    const name = options.filename || decodeURIComponent(new URL(url).pathname.split('/').pop() || '') || undefined;
    return new MessageMedia(mime, buf.toString('base64'), name, buf.length);
  }
}

const MIME = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
  mp4: 'video/mp4', mp3: 'audio/mpeg', ogg: 'audio/ogg', pdf: 'application/pdf', txt: 'text/plain',
};

// A place to send, as whatsapp-web.js's Location.
class Location {
  constructor(latitude, longitude, options = {}) {
    this.latitude = latitude;
    this.longitude = longitude;
    this.name = options.name;
    this.address = options.address;
    this.url = options.url;
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

class Contact {
  constructor(client, id, name) {
    this.client = client;
    this.id = widObj(id);
    this.number = this.id.user;
    this.name = name || undefined;
    this.pushname = name || undefined;
    this.shortName = name || undefined;
    this.isMe = client.info ? client.info.wid._serialized === this.id._serialized : false;
    this.isUser = this.id.server === 'c.us';
    this.isGroup = this.id.server === 'g.us';
    this.isWAContact = true;
    this.isMyContact = false;
    this.isBusiness = false;
    this.isEnterprise = false;
    this.isBlocked = false;
  }

  async getChat() {
    return this.client.getChatById(this.id._serialized);
  }
}

class Chat {
  constructor(client, data) {
    this.client = client;
    this.id = widObj(data.id);
    this.name = data.name || this.id.user;
    this.isGroup = this.id.server === 'g.us';
    this.unreadCount = data.unread || 0;
    this.timestamp = data.timestamp || 0;
    this.archived = false;
    this.pinned = false;
    this.isReadOnly = false;
    this.isMuted = false;
  }

  async sendMessage(content, options) {
    return this.client.sendMessage(this.id._serialized, content, options);
  }

  async sendSeen() {
    return this.client.sendSeen(this.id._serialized);
  }

  // Oldest first, like whatsapp-web.js; from the daemon's message store.
  async fetchMessages(searchOptions = {}) {
    const limit = Math.min(Math.max(searchOptions.limit || 50, 1), 500);
    const q = new URLSearchParams({ chat: this.id._serialized, limit: String(limit) });
    const r = await this.client._api('GET', `/messages?${q}`);
    let msgs = r.messages.map((m) => new Message(this.client, m));
    if (searchOptions.fromMe !== undefined) msgs = msgs.filter((m) => m.fromMe === searchOptions.fromMe);
    return msgs.reverse();
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

class Message {
  constructor(client, m) {
    this.client = client;
    this._data = m;
    const [fromMe, remote, ...rest] = String(m.id).split('_');
    this.id = { fromMe: fromMe === 'true', remote: m.chat || remote, id: rest.join('_'), _serialized: m.id };
    this.ack = typeof m.ack === 'number' ? m.ack : ACK[m.ack] ?? 0;
    this.body = m.text || m.caption || '';
    this.type = TYPES[m.type] || 'unknown';
    this.timestamp = m.timestamp;
    this.fromMe = !!m.from_me;
    this.from = m.from_me ? m.from || (client.info && client.info.wid._serialized) : m.from || m.chat;
    this.to = m.from_me ? m.chat : m.to || (client.info && client.info.wid._serialized);
    this.author = m.chat && m.chat.endsWith('@g.us') && m.sender && m.sender.phone ? `${m.sender.phone}@c.us` : undefined;
    this.hasMedia = !!m.media;
    this.hasQuotedMsg = !!m.reply_to;
    this.isForwarded = false;
    this.isStatus = false;
    this.notifyName = m.sender ? m.sender.name || undefined : undefined;
    this.location = m.location
      ? { latitude: m.location.lat, longitude: m.location.lng, name: m.location.name || undefined, address: m.location.address || undefined }
      : undefined;
    if (m.poll) {
      this.pollName = m.poll.name;
      this.pollOptions = m.poll.options.map((name, localId) => ({ name, localId }));
    }
    if (m.vcards) this.vCards = m.vcards;
  }

  _path() {
    return `/messages/${encodeURIComponent(this.id._serialized)}`;
  }

  // An empty reaction takes this account's reaction back.
  async react(reaction) {
    await this.client._api('POST', `${this._path()}/reaction`, { emoji: reaction || '' });
  }

  // Own messages, within 15 minutes; resolves to the edited message.
  async edit(content) {
    if (typeof content !== 'string') throw new NotSupportedError('editing to anything but text');
    await this.client._api('PATCH', this._path(), { text: content });
    this.body = content;
    return this;
  }

  async delete(everyone) {
    if (!everyone) throw new NotSupportedError('deleting a message for this device only (wabridge deletes for everyone)');
    await this.client._api('DELETE', this._path());
  }

  async reply(content, chatIdArg, options = {}) {
    const to = chatIdArg || this.id.remote;
    return this.client.sendMessage(to, content, { ...options, quotedMessageId: this.id._serialized });
  }

  async downloadMedia() {
    if (!this.hasMedia) return undefined;
    const r = await this.client._fetch('GET', this._data.media.url);
    const buf = Buffer.from(await r.arrayBuffer());
    return new MessageMedia(this._data.media.mimetype || 'application/octet-stream', buf.toString('base64'),
      this._data.media.filename || undefined, buf.length);
  }

  async getChat() {
    return this.client.getChatById(this.id.remote);
  }

  async getContact() {
    const who = this.fromMe ? this.client.info.wid._serialized : this.author || this.from;
    return this.client.getContactById(who, this.notifyName);
  }
}

class Client extends EventEmitter {
  constructor(options = {}) {
    super();
    const wb = options.wabridge || {};
    this.url = (wb.url || process.env.WABRIDGE_URL || 'http://127.0.0.1:8002').replace(/\/$/, '');
    this.key = wb.key || process.env.WABRIDGE_API_KEY || '';
    const auth = options.authStrategy;
    this.sessionId = (auth && auth.clientId) || 'session';
    this.options = options;
    this.info = undefined;
    this._lastEventId = undefined;
    this._stream = undefined;
    this._destroyed = false;
    this._status = undefined;
    this._kinds = '';
    // Ask the stream only for what someone listens to; a listener added
    // later reconnects it (resuming after the last event, so nothing is lost).
    this.on('newListener', (event) => {
      if (KINDS[event] && this._stream && !this._kinds.split(',').includes(KINDS[event])) {
        setImmediate(() => this._stream && this._stream.abort());
      }
    });
  }

  _wantedKinds() {
    const kinds = ['session.status', 'session.qr'];
    for (const [event, kind] of Object.entries(KINDS)) {
      if (this.listenerCount(event) > 0) kinds.push(kind);
    }
    return kinds.join(',');
  }

  _fetch(method, pathOrUrl, body) {
    const headers = { 'X-Api-Key': this.key };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(this.url + pathOrUrl, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  async _api(method, p, body, { session = true } = {}) {
    const r = await this._fetch(method, (session ? `/api/sessions/${encodeURIComponent(this.sessionId)}` : '') + p, body);
    const text = await r.text();
    const v = text ? JSON.parse(text) : null;
    if (!r.ok) {
      const e = new Error((v && v.error && v.error.message) || `wabridge answered ${r.status}`);
      e.code = v && v.error && v.error.code;
      e.status = r.status;
      throw e;
    }
    return v;
  }

  // Starts (or creates) the session and follows its events.
  async initialize() {
    this._destroyed = false;
    try {
      await this._api('POST', '/api/sessions', { id: this.sessionId, start: true }, { session: false });
    } catch (e) {
      if (e.status !== 409) throw e;
      await this._api('POST', '/start');
    }
    this._follow();
    const s = await this._api('GET', '');
    await this._onStatus(s.status, s);
    if (s.status === 'SCAN_QR') {
      try {
        const qr = await this._api('GET', '/qr');
        this.emit(Events.QR_RECEIVED, qr.qr);
      } catch (_) { /* rotated meanwhile: the stream brings the next */ }
    }
  }

  async _onStatus(status, view) {
    if (status === this._status) return;
    const before = this._status;
    this._status = status;
    if (before !== undefined) this.emit(Events.STATE_CHANGED, waState(status));
    if (status === 'CONNECTED') {
      const s = view && view.me ? view : await this._api('GET', '');
      this.info = { wid: widObj(s.me.id), me: widObj(s.me.id), pushname: s.me.name || undefined, platform: s.platform || undefined };
      this.emit(Events.AUTHENTICATED);
      this.emit(Events.READY);
    } else if (before === 'CONNECTED' && (status === 'DISCONNECTED' || status === 'LOGGED_OUT' || status === 'STOPPED')) {
      this.emit(Events.DISCONNECTED, status === 'LOGGED_OUT' ? 'LOGOUT' : status);
    }
  }

  _dispatch(ev) {
    const p = ev.payload;
    switch (ev.event) {
      case 'session.qr': this.emit(Events.QR_RECEIVED, p.qr); break;
      case 'session.status': this._onStatus(p.status).catch((e) => this.emit('error', e)); break;
      case 'message': this.emit(Events.MESSAGE_RECEIVED, new Message(this, p)); break;
      case 'message.any': this.emit(Events.MESSAGE_CREATE, new Message(this, p)); break;
      case 'message.ack': {
        const m = new Message(this, { id: p.id, chat: p.chat, from_me: String(p.id).startsWith('true_'), ack: p.ack });
        this.emit(Events.MESSAGE_ACK, m, ACK[p.ack] ?? 0);
        break;
      }
      case 'message.revoked': this.emit(Events.MESSAGE_REVOKED_EVERYONE, new Message(this, { id: p.id, chat: p.chat }), null); break;
      default: break;
    }
  }

  // The session's event stream; after a drop, resumed with Last-Event-ID.
  async _follow() {
    while (!this._destroyed) {
      const ac = new AbortController();
      this._stream = ac;
      try {
        const headers = { 'X-Api-Key': this.key, accept: 'text/event-stream' };
        if (this._lastEventId) headers['Last-Event-ID'] = this._lastEventId;
        this._kinds = this._wantedKinds();
        const q = new URLSearchParams({ session: this.sessionId, events: this._kinds });
        const r = await fetch(`${this.url}/api/events?${q}`, { headers, signal: ac.signal });
        if (!r.ok) throw new Error(`event stream answered ${r.status}`);
        let buf = '';
        const decoder = new TextDecoder();
        for await (const chunk of r.body) {
          buf += decoder.decode(chunk, { stream: true });
          // Every complete block of the chunk, then keep the rest once.
          let start = 0;
          let end;
          while ((end = buf.indexOf('\n\n', start)) >= 0) {
            const block = buf.slice(start, end);
            start = end + 2;
            let id; let name; let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trimStart();
            }
            if (!name) continue;
            if (name === 'gone') { this.emit('error', new Error('wabridge no longer keeps some events this client missed')); continue; }
            if (id) this._lastEventId = id;
            try { this._dispatch(JSON.parse(data)); } catch (e) { this.emit('error', e); }
          }
          buf = buf.slice(start);
        }
      } catch (e) {
        if (this._destroyed) return;
      }
      // Reconnect at once after a deliberate abort (new kinds), else after a pause.
      if (!this._destroyed && !ac.signal.aborted) await new Promise((res) => setTimeout(res, 500));
    }
  }

  async sendMessage(chatIdArg, content, options = {}) {
    const body = { to: chatId(chatIdArg) };
    const media = content instanceof MessageMedia ? content : options.media;
    if (content instanceof Location) {
      body.location = { lat: Number(content.latitude), lng: Number(content.longitude), name: content.name, address: content.address };
    } else if (content instanceof Poll) {
      body.poll = { name: content.pollName, options: content.pollOptions.map((o) => o.name), multiple: !!content.options.allowMultipleAnswers };
    } else if (media) {
      if (options.sendAudioAsVoice) body.voice = true;
      body.media = { data: media.data, mimetype: media.mimetype, filename: media.filename || undefined };
      const caption = options.caption || (typeof content === 'string' ? content : undefined);
      if (caption) body.caption = caption;
    } else if (typeof content === 'string') {
      body.text = content;
    } else {
      throw new NotSupportedError(`sending ${content && content.constructor ? content.constructor.name : typeof content}`);
    }
    if (options.quotedMessageId) body.reply_to = options.quotedMessageId;
    const sent = await this._api('POST', '/messages', body);
    const type = body.location ? 'location' : body.poll ? 'poll' : media ? 'document' : 'text';
    return new Message(this, {
      id: sent.id, chat: sent.to, from_me: true, ack: sent.ack, timestamp: sent.timestamp,
      type, text: body.text, caption: body.caption, media: media ? {} : null, location: body.location, poll: body.poll,
    });
  }

  // The contact's profile picture URL, or undefined when it shows none.
  async getProfilePicUrl(contactId) {
    const r = await this._api('GET', `/contacts/${encodeURIComponent(chatId(contactId))}/profile`);
    return r.picture_url || undefined;
  }

  async getChats() {
    const list = await this._api('GET', '/chats');
    return list.map((c) => new Chat(this, c));
  }

  async getChatById(id) {
    const s = chatId(id);
    const found = (await this.getChats()).find((c) => c.id._serialized === s);
    return found || new Chat(this, { id: s });
  }

  async getContactById(id, name) {
    return new Contact(this, chatId(id), name);
  }

  async sendSeen(id) {
    await this._api('POST', `/chats/${encodeURIComponent(chatId(id))}/read`);
    return true;
  }

  async getState() {
    const s = await this._api('GET', '');
    return waState(s.status);
  }

  async getNumberId(number) {
    const digits = String(number).replace(/@c\.us$/, '');
    const r = await this._api('GET', `/contacts/${encodeURIComponent(digits)}`);
    return r.exists ? widObj(r.id) : null;
  }

  async isRegisteredUser(id) {
    return (await this.getNumberId(id)) !== null;
  }

  async logout() {
    await this._api('POST', '/logout');
  }

  // Stops following the session; the session keeps running in the daemon.
  async destroy() {
    this._destroyed = true;
    if (this._stream) this._stream.abort();
  }
}

// whatsapp-web.js members this client does not offer: calling one says so.
for (const name of ['createGroup', 'setStatus', 'setDisplayName', 'archiveChat', 'pinChat',
  'muteChat', 'getInviteInfo', 'acceptInvite', 'getLabels', 'getBlockedContacts', 'requestPairingCode',
  'getContacts', 'searchMessages', 'getCommonGroups', 'resetState']) {
  Client.prototype[name] = function () { return Promise.reject(new NotSupportedError(`Client.${name}`)); };
}

module.exports = { Client, LocalAuth, MessageMedia, Location, Poll, Message, Chat, Contact, Events, NotSupportedError };
