// The sandbox's `window.WPP`: the subset of @wppconnect/wa-js 4.x that
// wabridge's bridge.js uses, with wa-js's names, arguments, return shapes
// and event names, backed by the sandbox server over a WebSocket instead of
// WhatsApp's. Defining it has no side effects; `__sandboxDevice.start()`
// connects. The contract test (inject/test) checks every member against
// wa-js's type declarations.
(function (window) {
  'use strict';

  const CREDS = 'sandbox.creds';
  const listeners = new Map();
  const readyCbs = [];
  const pending = new Map();
  let nextReq = 1;
  let ws = null;
  let inbox = Promise.resolve();
  let started = false;
  let online = false;
  // WhatsApp's stream mode, as wa-js's conn.getStreamData tells it.
  let streamMode = 'OFFLINE';
  let mainReady = false;
  let authCode = null;
  let creds = null; // {token, phone, name, platform}
  const chats = new Map(); // chat wid -> {id, name, msgs: Msg[], unreadCount, t}
  const presences = new Map(); // contact wid -> PresenceModel's {isOnline, hasData, chatstate}
  const byId = new Map(); // serialized msg id -> Msg
  const knownContacts = new Set(); // chats known to be on WhatsApp

  // The link credentials and the outbox live in IndexedDB, as WhatsApp
  // Web keeps them: its commits reach the disk at once, so a killed
  // browser keeps its link and the messages it had not sent yet.
  let opened = null;
  function idb() {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const open = window.indexedDB.open('wabridge-sandbox', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('kv');
        open.onerror = () => { opened = null; reject(open.error); };
        open.onsuccess = () => resolve(open.result);
      });
    }
    return opened;
  }

  // op: get, put, delete; list and clear take every key that starts with
  // `key`; putAll writes [suffix, value] pairs under `key` in one transaction.
  async function kv(op, key, value) {
    const db = await idb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction('kv', op === 'get' || op === 'list' ? 'readonly' : 'readwrite');
      const store = tx.objectStore('kv');
      const prefix = IDBKeyRange.bound(key, key + '\uffff');
      let req;
      if (op === 'get') req = store.get(key);
      else if (op === 'put') req = store.put(value, key);
      else if (op === 'putAll') for (const [k, v] of value) req = store.put(v, key + k);
      else if (op === 'list') req = store.getAll(prefix);
      else req = store.delete(op === 'clear' ? prefix : key);
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
    });
  }
  const creds_db = (op, value) => kv(op, CREDS, value);

  // Outbox writes, in the order they were made.
  const OUTBOX = 'sandbox.outbox/';
  let outboxWrites = Promise.resolve();
  function outbox(op, key, value) {
    outboxWrites = outboxWrites.then(() => kv(op, OUTBOX + key, value))
      .catch((e) => console.error('sandbox: outbox write failed', e));
    return outboxWrites;
  }

  // Inbound messages are written to IndexedDB before WhatsApp gets their
  // receipt, as WhatsApp Web stores a message and then acknowledges it: a
  // browser killed in between has them sent again. Those that come while a
  // write is under way go in the next one, with one receipt for them all.
  // (The page does not read them back: the server's history sync on
  // connect stands in for WhatsApp Web's loading its chats from disk.)
  const MSGS = 'sandbox.msg/';
  let unsaved = [];
  let saving = false;
  async function saveAndConfirm(w) {
    unsaved.push(w);
    if (saving) return;
    saving = true;
    while (unsaved.length) {
      const batch = unsaved;
      unsaved = [];
      // WhatsApp Web keeps a media message's keys and thumbnail, not the file.
      const rows = batch.map((m) => [m.id, m.media ? Object.assign({}, m, { media: Object.assign({}, m.media, { data: null }) }) : m]);
      // A failed write still confirms: the messages were handed over, and
      // holding the receipt back would only have them sent again and again.
      await kv('putAll', MSGS, rows).catch((e) => console.error('sandbox: cannot store messages', e));
      if (ws && ws.readyState === 1) ws.send(JSON.stringify({ t: 'received', ids: batch.map((m) => m.id) }));
    }
    saving = false;
  }

  // Logging out wipes the device, as WhatsApp Web clears its storage.
  function forget() {
    creds = null;
    chats.clear();
    byId.clear();
    calls.clear();
    reactionsOf.clear();
    votesOf.clear();
    labelStore.clear();
    unsaved = [];
    for (const [, u] of unconfirmed) for (const w of u.waiters) w[1](new Error('logged out'));
    unconfirmed.clear();
    return Promise.all([creds_db('delete').catch(() => {}), kv('clear', MSGS).catch(() => {}), outbox('clear', '')]);
  }

  function emit(name, data) {
    for (const cb of listeners.get(name) || []) {
      try { cb(data); } catch (e) { console.error('WPP listener failed', name, e); }
    }
  }

  function wid(x) {
    const s = typeof x === 'string' ? x : (x && x._serialized) || '';
    const full = s.includes('@') ? s : s + '@c.us';
    const [user, server] = full.split('@');
    return { user, server, _serialized: full, toString() { return full; } };
  }

  // A sticker of an image, as WhatsApp Web makes one: a WebP that fits
  // 512 × 512 px. What cannot be read as an image cannot be one.
  async function asSticker(mimetype, b64) {
    if (mimetype === 'image/webp') return b64;
    if (!/^image\//.test(mimetype)) throw new Error('a sticker is made from an image, not ' + mimetype);
    const bin = window.atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const image = await createImageBitmap(new Blob([bytes], { type: mimetype }));
    const scale = Math.min(1, 512 / Math.max(image.width, image.height));
    const [w, h] = [Math.max(1, Math.round(image.width * scale)), Math.max(1, Math.round(image.height * scale))];
    const canvas = new OffscreenCanvas(w, h);
    canvas.getContext('2d').drawImage(image, 0, 0, w, h);
    const webp = await canvas.convertToBlob({ type: 'image/webp' });
    if (webp.type !== 'image/webp') throw new Error('this browser cannot make WebP images');
    const out = new Uint8Array(await webp.arrayBuffer());
    let s = '';
    for (let i = 0; i < out.length; i += 0x8000) s += String.fromCharCode.apply(null, out.subarray(i, i + 0x8000));
    return window.btoa(s);
  }

  const TYPES = { image: 'image', video: 'video', audio: 'audio', sticker: 'sticker' };
  // WhatsApp Web's MsgModel types.
  function msgType(w) {
    if (w.revoked) return 'revoked';
    if (w.poll) return 'poll_creation';
    if (w.event) return 'event_creation';
    if (w.invite) return 'groups_v4_invite';
    if (w.location) return 'location';
    if (w.vcards && w.vcards.length) return w.vcards.length > 1 ? 'multi_vcard' : 'vcard';
    const media = w.media;
    if (!media) return 'chat';
    if (w.document) return 'document';
    if ((media.mimetype || '') === 'image/webp') return 'sticker';
    const top = (media.mimetype || '').split('/')[0];
    if (top === 'audio' && w.ptt) return 'ptt';
    return TYPES[top] || 'document';
  }

  // The display name in a vCard (its FN line).
  function vcardName(v) {
    const m = /^FN[^:]*:(.*)$/m.exec(v || '');
    return m ? m[1].trim() : '';
  }

  // A MsgKey from a serialized id: fromMe_remote_id.
  function msgKey(s) {
    const str = typeof s === 'string' ? s : (s && s._serialized) || '';
    const [fromMe, remote, ...rest] = str.split('_');
    return { fromMe: fromMe === 'true', remote: wid(remote || ''), id: rest.join('_'), _serialized: str };
  }

  // The reactions and poll votes this device received, by message id, as
  // WhatsApp Web keeps them apart from the messages (its reactions and
  // votes tables): sender -> { id, text, ms } and sender -> { selected, ms }.
  const reactionsOf = new Map();
  const votesOf = new Map();

  function keepReaction(msgId, sender, r) {
    let all = reactionsOf.get(msgId);
    if (!all) { all = new Map(); reactionsOf.set(msgId, all); }
    if (r.text) all.set(sender, r); else all.delete(sender);
    const m = byId.get(msgId);
    if (m) m.hasReaction = all.size > 0;
  }

  function keepVote(msgId, sender, v) {
    let all = votesOf.get(msgId);
    if (!all) { all = new Map(); votesOf.set(msgId, all); }
    all.set(sender, v);
  }

  // What MsgModel's prototype has from wa-js: a `quotedMsgId` getter
  // (getQuotedMsgKey) that throws on a message that is no reply.
  const MSG_PROTO = Object.defineProperty({}, 'quotedMsgId', {
    get() {
      if (!this.quotedStanzaID) throw wppError('message_not_have_a_reply', 'Message ' + this.id._serialized + ' does not have a reply');
      return this.__quotedKey;
    },
    configurable: true,
  });
  // And a `senderObj` getter: the ContactModel of who wrote it (in a
  // group, its author), as the ContactStore has them now.
  Object.defineProperty(MSG_PROTO, 'senderObj', {
    get() { return contactModel(this.author || this.from); },
    configurable: true,
  });

  // A wire message from the server -> a MsgModel-like object.
  function toMsg(w) {
    const me = wid(creds ? creds.phone : '');
    const peer = wid(w.peer);
    const key = w.id.split('_').slice(2).join('_');
    const type = msgType(w);
    const m = Object.assign(Object.create(MSG_PROTO), {
      id: { fromMe: w.from_me, remote: peer, id: key, _serialized: w.id },
      type,
      body: type === 'revoked' ? '' : type === 'vcard' ? w.vcards[0] : w.media ? (w.caption || '') : (w.text || ''),
      caption: w.caption || undefined,
      t: w.t,
      from: w.from_me ? me : peer,
      to: w.from_me ? peer : me,
      notifyName: w.peer_name || undefined,
      ack: w.ack,
      isNewMsg: true,
      mimetype: w.media ? w.media.mimetype : undefined,
      filename: w.media ? w.media.filename || undefined : undefined,
      size: w.media ? w.media.size : undefined,
      // WhatsApp Web keeps an audio's or video's seconds as a string.
      duration: w.media && w.media.duration != null ? String(w.media.duration) : undefined,
      quotedStanzaID: w.reply_to ? w.reply_to.split('_').slice(2).join('_') : undefined,
      // What the reply carries of the message it quotes.
      quotedMsg: w.quoted ? { type: w.quoted.type, body: w.quoted.body || undefined, caption: w.quoted.caption || undefined } : undefined,
      quotedParticipant: w.quoted ? wid(w.quoted.participant) : undefined,
      author: w.author ? wid(w.author) : undefined,
      mentionedJidList: (w.mentions || []).map(wid),
      isForwarded: w.forwarded > 0,
      forwardingScore: w.forwarded || 0,
      star: starredIds.has(w.id),
      isViewOnce: !!w.view_once,
      isGif: !!w.gif,
    });
    Object.defineProperty(m, '__quotedKey', { value: w.reply_to || undefined, enumerable: false });
    if (type === 'location') {
      m.lat = w.location.lat;
      m.lng = w.location.lng;
      // WhatsApp Web keeps a named place as "name\naddress" in `loc`.
      m.loc = [w.location.name, w.location.address].filter(Boolean).join('\n') || undefined;
    }
    if (type === 'poll_creation') {
      m.pollName = w.poll.name;
      m.pollOptions = w.poll.options.map((name, localId) => ({ name, localId }));
      m.pollSelectableOptionsCount = w.poll.selectable;
      m.body = w.poll.name;
    }
    // A channel's post WhatsApp took has its number in the channel.
    if (w.server_id) m.serverId = w.server_id;
    if (type === 'event_creation') {
      // As WhatsApp Web's MsgModel of an event message.
      m.eventName = w.event.name;
      m.eventDescription = w.event.description;
      m.eventStartTime = w.event.start;
      m.eventEndTime = w.event.end;
      m.eventLocation = w.event.location || undefined;
      m.eventJoinLink = w.event.join_link || undefined;
      m.isEventCanceled = !!w.event.canceled;
    }
    if (type === 'groups_v4_invite') {
      // As WhatsApp Web's MsgModel of a private group invite.
      m.inviteGrp = w.invite.group;
      m.inviteCode = w.invite.code;
      m.inviteCodeExp = String(w.invite.expires);
      m.inviteGrpName = w.invite.name || undefined;
      m.comment = w.text || undefined;
      m.body = '';
    }
    if (type === 'multi_vcard') m.vcardList = w.vcards.map((v) => ({ displayName: vcardName(v), vcard: v }));
    if (w.edited) m.latestEditSenderTimestampMs = (w.edit_ts || w.t) * 1000;
    for (const r of w.reactions || []) keepReaction(w.id, wid(r.sender)._serialized, { id: r.id, text: r.text, ms: r.ts * 1000 });
    for (const v of w.votes || []) keepVote(w.id, wid(v.sender)._serialized, { selected: v.selected, ms: v.ts * 1000 });
    m.hasReaction = (reactionsOf.get(w.id) || new Map()).size > 0;
    Object.defineProperty(m, '__media', { value: w.media, enumerable: false });
    m.serialize = function () { return JSON.parse(JSON.stringify(this)); };
    return m;
  }

  function store(m) {
    const key = m.id.remote._serialized;
    let chat = chats.get(key);
    // A group is named by its subject; a person by the name they go by.
    const group = m.id.remote.server === 'g.us';
    if (!chat) {
      const g = group ? groupCache.get(key) : null;
      chat = { id: m.id.remote, name: g ? g.subject : (!group && m.notifyName) || m.id.remote.user, msgs: [], unreadCount: 0, t: 0 };
      chats.set(key, chat);
    }
    // The status chat (status@broadcast) is named by no one.
    const broadcast = m.id.remote.server === 'broadcast';
    if (m.notifyName && !group && !broadcast) chat.name = m.notifyName;
    // WhatsApp Web learns the name each person goes by from their messages.
    const sender = group || broadcast ? m.author : m.id.remote;
    if (!m.id.fromMe && m.notifyName && sender) pushnames.set(sender._serialized, m.notifyName);
    if (byId.has(m.id._serialized)) return false;
    byId.set(m.id._serialized, m);
    chat.msgs.push(m);
    chat.t = Math.max(chat.t, m.t);
    // WhatsApp Web's ChatModel keeps the key of its last message.
    if (!chat.lastKey || m.t >= chat.lastKeyT) { chat.lastKey = m.id; chat.lastKeyT = m.t; }
    if (!m.id.fromMe) setUnread(chat, chat.unreadCount + 1);
    return true;
  }

  // The account's starred messages, as WhatsApp syncs them.
  const starredIds = new Set();

  // A message as WhatsApp Web's database finds it: its stored fields, not
  // a model (the key serialized).
  function row(w) {
    const m = toMsg(w);
    return Object.assign({}, m, { id: m.id._serialized });
  }

  // WhatsApp Web's PinInChat table: one row per message ever pinned here,
  // by the pinned message's id. An unpin keeps the row (pinType 2), as
  // wa-js's "already unpinned" check reads it; a pin whose time ran out
  // keeps its row as it was (pinType 1), which wa-js does not look past.
  const pinRows = new Map();
  const PIN_SECS = { FiveSeconds: 5, FifteenSeconds: 15, OneMinute: 60, OneDay: 86400, SevenDays: 604800, ThirtyDays: 2592000 };

  // Messages the account no longer has: off the chat and the device's disk.
  function forgetMsgs(chatId, ids) {
    const c = chats.get(chatId);
    const gone = new Set(ids);
    if (c) c.msgs = c.msgs.filter((m) => !gone.has(m.id._serialized));
    // The chat's last message is then the newest one left.
    if (c && c.lastKey && gone.has(c.lastKey._serialized)) {
      const newest = c.msgs.reduce((a, m) => (!a || m.t >= a.t ? m : a), null);
      c.lastKey = newest ? newest.id : undefined;
      c.lastKeyT = newest ? newest.t : 0;
    }
    for (const id of ids) {
      byId.delete(id);
      kv('delete', MSGS + id).catch(() => {});
    }
  }

  // An error that says nothing of the call's fate: the connection was
  // down, went down, or the server did not answer in time.
  function unheard(message) {
    const e = new Error(message);
    e.unheard = true;
    return e;
  }

  function call(t, fields, timeoutMs) {
    return new Promise((resolve, reject) => {
      if (!ws || ws.readyState !== 1) return reject(unheard('not connected to WhatsApp'));
      const req = nextReq++;
      const timer = setTimeout(() => { pending.delete(req); reject(unheard(t + ' timed out')); }, timeoutMs || 30000);
      pending.set(req, { resolve, reject, timer });
      ws.send(JSON.stringify(Object.assign({ t, req }, fields)));
    });
  }

  let qrIdle = false;
  function setAuthCode(code) {
    authCode = code
      ? (() => {
          const [ref, staticKeyPair, identityKeyPair, secretKey] = code.split(',');
          return { type: 'multidevice', ref, staticKeyPair, identityKeyPair, secretKey, fullCode: code };
        })()
      : null;
    emit('conn.auth_code_change', authCode);
  }

  // WhatsApp Web stamps messages with the server's time (its clock's skew
  // from the server, learnt at connect, to the millisecond), not the
  // computer's: learnt to the second only, a reply could be stamped a
  // second before the message it answers.
  let skewMs = 0;
  const unixTime = () => Math.floor((Date.now() + skewMs) / 1000);
  const learnClock = (v) => { skewMs = typeof v.now_ms === 'number' ? v.now_ms - Date.now() : (v.now - Math.floor(Date.now() / 1000)) * 1000; };

  // Server messages are handled one at a time, in order: a link is
  // announced only once its credentials are stored, as a browser closed
  // right after linking must come back linked.
  async function onServer(v) {
    switch (v.t) {
      case 'qr':
        qrIdle = false;
        device.qrPng = v.png;
        if (!mainReady) { mainReady = true; emit('conn.main_ready'); }
        streamMode = 'QR';
        emit('conn.stream_mode_changed', 'QR');
        setAuthCode(v.code);
        break;
      // WhatsApp stopped offering codes (UNPAIRED_IDLE): the page shows
      // "Click to reload the QR code", and wa-js says conn.qrcode_idle.
      case 'qr_idle':
        qrIdle = true;
        emit('conn.qrcode_idle');
        break;
      case 'linked':
        qrIdle = false;
        creds = { token: v.token, phone: v.phone, name: v.name, platform: v.platform };
        await creds_db('put', creds).catch((e) => console.error('sandbox: cannot store credentials', e));
        setAuthCode(null);
        // Linked: WhatsApp syncs the device before it is online.
        streamMode = 'SYNCING';
        emit('conn.stream_mode_changed', 'SYNCING');
        emit('conn.authenticated');
        break;
      case 'ready': {
        learnClock(v);
        creds = Object.assign(creds || {}, { phone: v.phone, name: v.name, platform: v.platform, business: !!v.business });
        keepLabels(v.labels);
        for (const w of v.history || []) { const m = toMsg(w); m.isNewMsg = false; store(m); }
        if (!restored) { restored = true; await restoreOutbox(); }
        online = true;
        if (!mainReady) { mainReady = true; emit('conn.main_ready'); }
        streamMode = 'MAIN';
        emit('conn.stream_mode_changed', 'MAIN');
        emit('conn.online', true);
        for (const id of unconfirmed.keys()) transmit(id);
        break;
      }
      case 'message': {
        const m = toMsg(v.msg);
        // The server keeps it queued until the receipt.
        if (store(m)) emit('chat.new_message', m);
        saveAndConfirm(v.msg);
        break;
      }
      case 'ack': {
        const m = byId.get(v.id);
        if (m) raiseAck(m, v.ack);
        // A contact's receipt is wa-js's simple receipt, keyed by the
        // message; a group's come one member at a time ('receipt').
        if (!/@g\.us$/.test(v.chat)) emit('chat.msg_ack_change', { ack: v.ack, chat: wid(v.chat), ids: [m ? m.id : { _serialized: v.id }] });
        break;
      }
      case 'receipt': {
        // One member's receipt of a group message: wa-js keys it by that
        // member (the key's participant) and names them `sender`.
        const by = wid(v.by);
        const stanza = msgKey(v.id).id.split('_')[0];
        const key = { fromMe: true, remote: wid(v.chat), id: stanza, participant: by, _serialized: 'true_' + v.chat + '_' + stanza + '_' + by._serialized };
        emit('chat.msg_ack_change', { ack: v.ack, chat: wid(v.chat), sender: by, ids: [key] });
        break;
      }
      case 'reaction': {
        keepReaction(v.msg_id, wid(v.sender)._serialized, { id: v.id, text: v.text || '', ms: v.ts * 1000 });
        const target = byId.get(v.msg_id);
        emit('chat.new_reaction', {
          id: msgKey(v.id), msgId: target ? target.id : msgKey(v.msg_id), reactionText: v.text || '',
          read: false, sender: wid(v.sender), orphan: 0, orphanReason: null, timestamp: v.ts,
        });
        break;
      }
      case 'edit': {
        const m = byId.get(v.id);
        if (m) {
          m.body = v.text;
          if (m.type !== 'chat') m.caption = v.text;
          m.latestEditSenderTimestampMs = v.ts * 1000;
        }
        // As wa-js: an edit is told as a change to a message WhatsApp Web
        // holds (MsgStore's change:latestEditMsgKey), of no other. wa-js
        // names the chat by the message's `to`: for a contact's message,
        // this account.
        if (m) emit('chat.msg_edited', { chat: m.to, id: v.id, msg: m });
        break;
      }
      case 'revoke': {
        const m = byId.get(v.id);
        const me = wid(creds ? creds.phone : '');
        const peer = wid(v.chat);
        if (m) { m.type = 'revoked'; m.body = ''; }
        // wa-js tells of deletes that come in (a protocol message), not of
        // the ones this device made.
        if (revokedHere.delete(v.id)) break;
        emit('chat.msg_revoke', {
          from: v.from_me ? me : peer, to: v.from_me ? peer : me, type: 'revoke',
          id: { fromMe: !!v.from_me, remote: peer, id: '3RV' + v.ts, _serialized: (!!v.from_me) + '_' + peer._serialized + '_3RV' + v.ts },
          refId: m ? m.id : msgKey(v.id),
        });
        break;
      }
      case 'poll_vote': {
        // As wa-js's upsertVotes hook: the chosen options by localId (a
        // sparse array of the poll's {name, localId}), the time in ms.
        keepVote(v.msg_id, wid(v.sender)._serialized, { selected: v.selected, ms: v.ts * 1000 });
        const target = byId.get(v.msg_id);
        const selected = [];
        for (const i of v.selected) {
          selected[i] = (target && target.pollOptions && target.pollOptions.find((o) => o.localId === i)) || { localId: i };
        }
        emit('chat.poll_response', {
          msgId: target ? target.id : msgKey(v.msg_id), chatId: wid(v.chat), selectedOptions: selected, timestamp: v.ts * 1000, sender: wid(v.sender),
        });
        break;
      }
      case 'presence': {
        // As WhatsApp Web's PresenceStore: a contact's chat state, and for
        // one offline when it was last seen (unix s), where it lets us see.
        const id = wid(v.id)._serialized;
        presences.set(id, {
          id: wid(v.id), isOnline: !!v.online, hasData: true, isSubscribed: true,
          chatstate: { id: wid(v.id), type: v.state, t: v.last || undefined, deny: !!v.deny },
        });
        // wa-js stamps the change with Date.now().
        emit('chat.presence_change', {
          id: wid(v.id), isOnline: !!v.online, isGroup: false, isUser: true, shortName: v.id, state: v.state, t: Date.now(), isContact: !v.deny,
        });
        break;
      }
      case 'business':
        if (creds) creds.business = !!v.business;
        break;
      case 'labels':
        keepLabels(v.labels);
        break;
      case 'channels':
        keepChannels(v.channels);
        break;
      case 'notes':
        // A business account's customer notes (its app state).
        noteStore.clear();
        for (const n of v.notes || []) noteStore.set(n.chat, n);
        break;
      case 'label_chats': {
        // Put on or taken off on the phone or another device: as wa-js's
        // chat.update_label, one event per chat.
        const l = labelStore.get(v.label);
        for (const chatId of v.chats || []) {
          if (l) { if (v.type === 'add') l.chats.add(chatId); else l.chats.delete(chatId); }
          const c = chats.get(chatId);
          // WhatsApp Web tells of the chats it has.
          if (c && l) emit('chat.update_label', { chat: chatModel(c), ids: [v.label], labels: [labelView(l)], type: v.type });
        }
        break;
      }
      case 'chat_states':
        chatStates.clear();
        for (const [id, st] of Object.entries(v.states || {})) chatStates.set(id, st);
        break;
      case 'chat_state': {
        // Changed here, on the phone or another device: WhatsApp Web's
        // ChatStore tells of each attribute that changed.
        const c = chats.get(v.chat);
        const was = chatStates.get(v.chat) || {};
        const shown = c ? shownUnread(c) : 0;
        chatStates.set(v.chat, v.state);
        if (!c) break;
        const now = v.state || {};
        if (!!was.archived !== !!now.archived) chatChanged('change:archive', c, !!now.archived, !!was.archived);
        if ((was.pinned || 0) !== (now.pinned || 0)) chatChanged('change:pin', c, now.pinned || 0, was.pinned || 0);
        if ((was.mute_until || 0) !== (now.mute_until || 0)) chatChanged('change:muteExpiration', c, now.mute_until || 0, was.mute_until || 0);
        const after = shownUnread(c);
        if (after !== shown) chatChanged('change:unreadCount', c, after, shown);
        break;
      }
      case 'chat_read': {
        // Read on the phone or another device: WhatsApp syncs it.
        const c = chats.get(v.chat);
        if (c) setUnread(c, 0);
        break;
      }
      case 'my_profile':
        // Changed on this device or another: WhatsApp syncs the name.
        if (creds && v.profile && v.profile.name) creds.name = v.profile.name;
        break;
      case 'contacts':
        // The address book, as WhatsApp's app state syncs it.
        addressBook.clear();
        for (const c of v.book || []) addressBook.set(wid(c.id)._serialized, { first: c.first, last: c.last || '' });
        businessPhones.clear();
        for (const p of v.business || []) businessPhones.add(p);
        lidPhones.clear();
        for (const [lid, pn] of v.lids || []) lidPhones.set(lid, pn);
        break;
      case 'forget':
        // Deleted for the account on the phone or another device.
        forgetMsgs(v.chat, v.ids || []);
        break;
      case 'starred':
        // Starred on the phone or another device (WhatsApp's app state).
        starredIds.clear();
        for (const id of v.ids || []) starredIds.add(id);
        for (const m of byId.values()) m.star = starredIds.has(m.id._serialized);
        break;
      case 'pins': {
        // Pinned or unpinned by anyone in the chat, the phone or another
        // device: the pins each chat has now (every chat's, as it syncs).
        const now = new Set();
        for (const [chat, pins] of Object.entries(v.chats || {})) {
          for (const p of pins) {
            now.add(p.msg);
            pinRows.set(p.msg, {
              id: msgKey(p.id), msgKey: msgKey(p.id), parentMsgKey: msgKey(p.msg), chatId: wid(chat), sender: wid(p.by),
              t: p.at, senderTimestampMs: p.at * 1000, pinType: 1, pinExpiryDuration: p.secs, read: true,
            });
          }
        }
        for (const [id, r] of pinRows) {
          if (!now.has(id) && (v.all || r.chatId._serialized in (v.chats || {}))) r.pinType = 2;
        }
        break;
      }
      case 'chat_cleared': {
        const c = chats.get(v.chat);
        if (c) forgetMsgs(v.chat, c.msgs.filter((m) => !(v.keep_starred && m.star)).map((m) => m.id._serialized));
        if (v.deleted) removeChat(v.chat);
        else if (c) setUnread(c, 0);
        break;
      }
      case 'blocklist':
        blocked.clear();
        for (const id of v.ids || []) blocked.add(wid(id)._serialized);
        break;
      case 'group_participants': {
        if (v.group) groupCache.set(v.gid, v.group);
        // Being put in a new group reads, on the phone, as being added.
        const action = v.action === 'create' ? 'add' : v.action;
        emit('group.participant_changed', {
          groupId: v.gid, action, operation: action === 'leaver' ? 'remove' : action === 'join' ? 'add' : action,
          author: v.author + '@c.us', participants: v.participants,
        });
        break;
      }
      case 'group_meta':
        // A group's (or community's) metadata changed with no message in
        // any chat: linked, unlinked, a community's groups and admins.
        if (v.group) groupCache.set(v.gid, v.group); else groupCache.delete(v.gid);
        break;
      case 'group_notice': {
        // WhatsApp announces a change to a group's info (subject,
        // description, settings) as a notification message, and the
        // device's copy of the group's metadata follows it.
        if (v.group) groupChat(v.group);
        const m = {
          id: msgKey(v.id), type: 'gp2', subtype: v.subtype, body: v.body, t: v.ts,
          from: wid(v.gid), to: wid(creds ? creds.phone : ''), author: wid(v.author), recipients: [], isNewMsg: true, ack: 1,
        };
        m.serialize = function () { return JSON.parse(JSON.stringify(this)); };
        const c = chats.get(wid(v.gid)._serialized);
        if (c && v.subtype === 'subject') c.name = v.body;
        emit('chat.new_message', m);
        break;
      }
      case 'call': {
        // The caller's device is in its id (`user:device@server`), as in
        // WhatsApp's offer; wa-js's `sender` is the caller without it.
        const sender = wid(v.peer);
        // A group call is named by its own id, with no device.
        const peerJid = v.group ? sender : Object.assign(wid(sender.user + ':1@' + sender.server), { device: 1 });
        const c = { id: v.id, peerJid, isVideo: !!v.video, isGroup: !!v.group, offerTime: v.ts, state: 'INCOMING_RING', outgoing: false };
        if (calls.has(v.id)) break;
        calls.set(v.id, c);
        emit('call.incoming_call', { id: c.id, isGroup: c.isGroup, isVideo: c.isVideo, offerTime: c.offerTime, sender, peerJid });
        break;
      }
      case 'call_end':
        // WhatsApp Web has no event for this: its active call is gone, and
        // wa-js finds no call by that id any more.
        calls.delete(v.id);
        break;
      case 'clock':
        learnClock(v);
        break;
      case 'update':
        // A newer build is out: WhatsApp Web reloads itself into it, keeping
        // its storage (and so its link).
        location.reload();
        break;
      case 'logout':
        forget();
        emit('conn.logout');
        emit('conn.require_auth');
        break;
      case 'result': {
        const p = pending.get(v.req);
        if (!p) break;
        pending.delete(v.req);
        clearTimeout(p.timer);
        v.ok ? p.resolve(v.value) : p.reject(new Error(v.error));
        break;
      }
    }
    device.render();
  }

  function connect() {
    ws = new window.WebSocket(device.url);
    ws.onopen = () => {
      ws.send(JSON.stringify({ t: 'hello', token: creds ? creds.token : null }));
    };
    ws.onmessage = (e) => {
      inbox = inbox.then(() => onServer(JSON.parse(e.data))).catch((err) => console.error(err));
    };
    ws.onclose = () => {
      for (const [, p] of pending) { clearTimeout(p.timer); p.reject(unheard('connection lost')); }
      pending.clear();
      if (online) { online = false; emit('conn.online', false); }
      if (streamMode !== 'OFFLINE') { streamMode = 'OFFLINE'; emit('conn.stream_mode_changed', 'OFFLINE'); }
      device.render();
      setTimeout(connect, 1000);
    };
  }

  // Sends WhatsApp has not confirmed. As in WhatsApp Web, a connection
  // that is down or drops mid-send does not fail a message: it keeps its
  // clock and goes again, under the same id (which the server takes once),
  // when the connection is back. Only WhatsApp's refusal fails it. They are
  // kept in the outbox too: a page that reloads, or a browser killed and
  // started again, sends them once it is back.
  const unconfirmed = new Map(); // id -> { req, waiters: [[resolve, reject]], inFlight }
  let restored = false;

  function transmit(id) {
    const u = unconfirmed.get(id);
    if (!u || u.inFlight || !online) return;
    u.inFlight = true;
    const settle = (i, v) => {
      unconfirmed.delete(id);
      outbox('delete', id);
      for (const w of u.waiters) w[i](v);
    };
    call('send', { msg: u.req }).then((value) => settle(0, value), (e) => {
      u.inFlight = false;
      if (!e.unheard) settle(1, e); // else it waits for the next connection
    });
  }

  function confirmed(req) {
    return new Promise((resolve, reject) => {
      let u = unconfirmed.get(req.id);
      if (!u) {
        u = { req, waiters: [], inFlight: false };
        unconfirmed.set(req.id, u);
        outbox('put', req.id, req);
      }
      u.waiters.push([resolve, reject]);
      transmit(req.id);
    });
  }

  // The message as the device shows it before WhatsApp's receipt: ack 0.
  function localMsg(req) {
    return toMsg(Object.assign({ from_me: true, peer: wid(req.to)._serialized, ack: 0, t: req.t, text: null, caption: null, media: null }, req,
      { media: req.media ? Object.assign({ size: Math.floor(req.media.data.length * 3 / 4) }, req.media) : null }));
  }

  // MsgStore's listeners (WhatsApp Web's collection events), and a
  // model's ack raised as WhatsApp Web does it: the collection tells of it
  // (`change:ack`); in a group it counts every member's receipt.
  const storeListeners = new Map();
  function raiseAck(m, ack) {
    if (!(ack > m.ack)) return;
    m.ack = ack;
    for (const [cb, ctx] of storeListeners.get('change:ack') || []) {
      try { cb.call(ctx, m); } catch (e) { console.error('MsgStore listener failed', e); }
    }
  }

  // WhatsApp's answer moves the message's ack: sent, or failed (-1).
  function settled(local, confirming) {
    return confirming.then((value) => {
      raiseAck(local, value.ack);
      emit('chat.msg_ack_change', { ack: value.ack, chat: local.id.remote, ids: [local.id] });
      return value;
    }, (e) => {
      // As WhatsApp Web: the model is failed, which MsgStore's listeners
      // hear; wa-js tells no ack below 1 (its chat.msg_ack_change).
      local.ack = -1;
      for (const [cb, ctx] of storeListeners.get('change:ack') || []) {
        try { cb.call(ctx, local); } catch (err) { console.error('MsgStore listener failed', err); }
      }
      throw e;
    });
  }

  // A page life's first connection: the outbox of the one before goes out.
  async function restoreOutbox() {
    const reqs = await kv('list', OUTBOX).catch(() => []);
    for (const req of reqs || []) {
      if (unconfirmed.has(req.id)) continue;
      let local = byId.get(req.id);
      if (!local) { local = localMsg(req); local.isNewMsg = false; store(local); }
      settled(local, confirmed(req)).catch(() => {});
    }
  }

  function newMsgId(to) {
    let hex = '3EB0';
    for (let i = 0; i < 16; i++) hex += '0123456789ABCDEF'[Math.floor(Math.random() * 16)];
    return 'true_' + to + '_' + hex;
  }

  // The message a send quotes, as wa-js looks it up (getMessageById: in
  // memory, else loaded back): one this account does not have is
  // msg_not_found, a deleted one cannot be replied to (canReplyMsg).
  // Returns the id and what the reply carries of it.
  async function quotedId(q) {
    if (!q) return {};
    const id = typeof q === 'string' ? q : q._serialized || q.id._serialized;
    const m = byId.get(id);
    const held = m ? { revoked: m.type === 'revoked', quote: quoteOf(m) } : await call('quoted', { id });
    if (!held) throw wppError('msg_not_found', 'Message ' + id + ' not found');
    if (held.revoked) throw wppError('quoted_msg_can_not_reply', 'QuotedMsg can not reply');
    return { id, quote: held.quote };
  }

  const THUMBNAIL = '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8U';

  function quoteOf(m) {
    const author = m.id.fromMe ? wid(creds ? creds.phone : '') : m.author || m.from;
    // WhatsApp Web's body of a media message is its thumbnail.
    const body = m.__media ? THUMBNAIL : m.type === 'chat' ? m.body : null;
    return { type: m.type, body, caption: m.caption || null, participant: author._serialized };
  }

  function ownKey(messageId, to) {
    const str = typeof messageId === 'string' ? messageId : messageId._serialized;
    const [fromMe, remote, id] = String(str).split('_');
    if (!remote || !id) throw new Error('MsgKey error: ' + str + ' is not a message key');
    if (fromMe !== 'true') throw wppError('message_key_is_not_from_me', 'Message key is not from me');
    if (wid(remote)._serialized !== to) throw wppError('message_key_remote_id_is_not_same_of_chat', 'Message key remote ID is not same of chat');
    return str;
  }

  function wppError(code, message) {
    const e = new Error(message);
    e.code = code;
    return e;
  }

  // Like WhatsApp Web: the message exists at once with ack 0 (clock), the
  // server's receipt makes it 1 (sent).
  async function send(chatId, fields, options) {
    const to = wid(chatId)._serialized;
    if (wid(to).server === 'c.us' && !knownContacts.has(to)) {
      if (!(await call('exists', { phone: wid(to).user }))) throw new Error(wid(to).user + ' is not on WhatsApp');
      knownContacts.add(to);
    }
    // wa-js takes the key to send under (options.messageId) as
    // prepareRawMessage does: MsgKey.fromString, from this device, in this
    // chat.
    const id = options && options.messageId ? ownKey(options.messageId, to) : newMsgId(to);
    const quoted = await quotedId(options && options.quotedMsg);
    // wa-js's defaultSendMessageOptions: the chat is marked read first
    // (errors ignored) unless markIsRead is false.
    if (!options || options.markIsRead !== false) {
      await call('read', { chat: to }).catch(() => null);
      const chat = chats.get(to);
      if (chat) setUnread(chat, 0);
    }
    const mentions = options && options.mentionedList ? ids(options.mentionedList) : [];
    const req = Object.assign({ id, to, mentions, t: unixTime(), reply_to: quoted.id || null, quoted: quoted.quote || null }, fields);
    const local = localMsg(req);
    // As wa-js: a channel takes text, photos, videos and polls.
    if (wid(to).server === 'newsletter' && !['chat', 'image', 'video', 'poll_creation'].includes(local.type)) {
      throw wppError('type_not_valid_for_newsletter', 'Please, send a valid type for send message to newsletter. Valid types: "chat", "image", "video", "poll_creation"');
    }
    if (store(local)) emit('chat.new_message', local);
    if (wid(to).server === 'newsletter') {
      // As wa-js: a channel's post goes by a job of its own, which marks it
      // sent and answers OK whatever WhatsApp said; only a post WhatsApp
      // took has its server id.
      try {
        local.serverId = (await confirmed(req)).server_id;
      } catch (e) {
        local.serverId = undefined;
      }
      raiseAck(local, 1);
      emit('chat.msg_ack_change', { ack: 1, chat: local.id.remote, ids: [local.id] });
      return { id, ack: local.ack, from: local.from._serialized, to, sendMsgResult: 'OK' };
    }
    await settled(local, confirmed(req));
    return { id, ack: local.ack, from: local.from._serialized, to: local.to._serialized, sendMsgResult: Promise.resolve({ messageSendResult: 'OK' }) };
  }

  // Messages this device deleted for everyone, until the server confirms.
  const revokedHere = new Set();

  // The account's blocklist, as WhatsApp syncs it to the device.
  const blocked = new Set();

  // typing/recording shown for `duration` ms, then paused, as wa-js does.
  async function mark(chatId, state, duration) {
    requireAuth();
    const chat = wid(chatId)._serialized;
    await call('presence_chat', { chat, state });
    if (duration) setTimeout(() => { call('presence_chat', { chat, state: 'paused' }).catch(() => {}); }, duration);
  }

  // Groups the device has heard of (WhatsApp keeps their metadata).
  const groupCache = new Map();

  // The account's address book (id -> {first, last}), who is a business,
  // and the names people go by, as WhatsApp Web's ContactStore has them.
  const addressBook = new Map();
  const businessPhones = new Set();
  const pushnames = new Map();
  // Privacy id -> the phone behind it (null where its owner hides it).
  const lidPhones = new Map();
  const savedName = (s) => s && [s.first, s.last].filter(Boolean).join(' ');

  // A ContactModel: a saved contact has the address book's names.
  function contactModel(id) {
    const w = wid(id);
    const s = w._serialized;
    // WhatsApp Web keeps one model per id: a person's privacy id has its
    // own, without the address book's names.
    const saved = addressBook.get(s);
    const pn = w.server === 'lid' ? lidPhones.get(s) : null;
    const g = w.server === 'g.us' ? groupCache.get(s) : null;
    return {
      phoneNumber: pn ? wid(pn) : undefined,
      id: w, name: g ? g.subject : savedName(saved) || undefined, shortName: saved ? saved.first : undefined,
      pushname: pushnames.get(s), isMyContact: !!saved, isBusiness: businessPhones.has(w.user), isEnterprise: false,
      isUser: w.server === 'c.us' || w.server === 'lid', isGroup: w.server === 'g.us', isWAContact: w.server !== 'g.us',
      isMe: !!creds && w._serialized === creds.phone + '@c.us', labels: [], type: saved ? 'in' : 'out',
    };
  }

  // Everyone WhatsApp Web has a ContactModel for: the address book, the
  // people and groups it has chats with, the members of its groups.
  function contactIds() {
    const ids = new Set([...addressBook.keys(), ...pushnames.keys()]);
    // A saved person known by a privacy id too has a model under each.
    for (const [lid, pn] of lidPhones) if (pn && addressBook.has(pn)) ids.add(lid);
    for (const c of chats.values()) if (c.id.server !== 'broadcast') ids.add(c.id._serialized);
    for (const g of groupCache.values()) {
      ids.add(wid(g.id)._serialized);
      for (const p of g.participants || []) ids.add(wid(p.id)._serialized);
    }
    if (creds && creds.phone) ids.add(creds.phone + '@c.us');
    return [...ids];
  }

  // The account's archived, pinned and muted chats, as WhatsApp syncs them
  // to the device.
  const chatStates = new Map();
  // WhatsApp Web's calls (its CallStore): a call rings until it is
  // answered or declined on the phone, declined here, hung up, or missed;
  // then it is gone.
  const calls = new Map(); // call id -> { id, peerJid, isVideo, isGroup, offerTime, state }

  // A chat as WhatsApp Web's ChatModel shows it: pin is when it was pinned.
  function chatModel(c) {
    const st = chatStates.get(c.id._serialized) || {};
    // WhatsApp Web counts a chat marked unread as -1.
    return {
      id: c.id, name: (c.id.server === 'c.us' && savedName(addressBook.get(c.id._serialized))) || c.name, unreadCount: st.marked_unread && !c.unreadCount ? -1 : c.unreadCount, t: c.t, isGroup: c.id.server === 'g.us',
      archive: !!st.archived, pin: st.pinned || 0, muteExpiration: st.mute_until || 0,
      mute: { expiration: st.mute_until || 0 },
      // WhatsApp Web's ChatModel keeps the ids of its labels.
      labels: labelsOn(c.id._serialized),
      lastReceivedKey: c.lastKey,
      ...(c.id.server === 'newsletter' ? channelFields(c.id._serialized) : {}),
    };
  }

  // The unread count WhatsApp Web shows: -1 for a chat marked unread.
  function shownUnread(c) {
    const st = chatStates.get(c.id._serialized) || {};
    return st.marked_unread && !c.unreadCount ? -1 : c.unreadCount;
  }

  // ChatStore's listeners, told as WhatsApp Web's collection tells of a
  // model's change: (chat, value, previous value); `remove`: (chat).
  const chatListeners = new Map();
  function chatChanged(name, c, value, prev) {
    const ls = chatListeners.get(name);
    if (!ls || !ls.length) return;
    const model = chatModel(c);
    for (const [cb, ctx] of ls) {
      try { cb.call(ctx, model, value, prev); } catch (e) { console.error('ChatStore listener failed', name, e); }
    }
  }
  function setUnread(c, n) {
    const before = shownUnread(c);
    c.unreadCount = n;
    const after = shownUnread(c);
    if (after !== before) chatChanged('change:unreadCount', c, after, before);
  }
  // A chat deleted here, on the phone or another device: gone from the
  // list, with how it was kept.
  function removeChat(id) {
    const c = chats.get(id);
    chats.delete(id);
    chatStates.delete(id);
    if (c) chatChanged('remove', c);
  }

  // A business account's customer notes, by chat, as WhatsApp syncs them.
  const noteStore = new Map();
  // As WhatsApp Web's NoteModel.
  function noteModel(n) {
    return n ? { id: n.id, type: 'unstructured', chatJid: n.chat, content: n.content, createdAt: n.created, modifiedAt: n.modified } : null;
  }
  // wa-js's checks before a note is read or written.
  function noteChat(chatId, what) {
    const id = knownChat(chatId);
    if (!creds || !creds.business) throw wppError('connected_device_not_is_business', 'Connected device not is business account');
    if (wid(id).server === 'g.us') throw wppError('can_not_' + what + '_notes_for_groups', 'You can not ' + what + ' notes for groups. ChatId: ' + chatId);
    return id;
  }

  // The channels the account owns or follows, as WhatsApp syncs them
  // (WhatsApp Web's NewsletterStore): id -> the server's view of it.
  const channelStore = new Map();
  function keepChannels(list) {
    channelStore.clear();
    for (const c of list || []) channelStore.set(c.id, c);
  }

  // What WhatsApp Web's ChatModel of a channel adds: its metadata, and a
  // muted channel muted for always (-1).
  function channelFields(id) {
    const ch = channelStore.get(id);
    if (!ch) return { isNewsletter: true };
    const until = ch.muted ? -1 : 0;
    return {
      name: ch.name, isNewsletter: true, isGroup: false, muteExpiration: until, mute: { expiration: until },
      newsletterMetadata: {
        name: ch.name, description: ch.description, inviteCode: ch.invite, membershipType: ch.role,
        creationTime: ch.created, size: ch.subscribers, verified: false,
        picture: ch.picture ? window.location.origin + '/_sandbox/channels/' + id + '/picture' : undefined,
      },
    };
  }

  // A channel's chat, whether or not a post came yet.
  function channelChat(id) {
    return chatModel(chats.get(id) || { id: wid(id), msgs: [], unreadCount: 0, t: (channelStore.get(id) || {}).created || 0 });
  }

  // As wa-js's create and edit answer.
  function channelResult(ch) {
    return {
      idJid: ch.id, inviteCode: ch.invite, inviteLink: 'https://whatsapp.com/channel/' + ch.invite, name: ch.name,
      state: 'ACTIVE', subscribersCount: ch.subscribers, description: ch.description || null, timestamp: ch.created,
    };
  }

  // wa-js's ensureNewsletter: a chat the device has, and a channel's.
  function knownChannel(id) {
    const s = wid(id)._serialized;
    if (!chats.has(s) && !channelStore.has(s)) throw wppError('chat_not_found', 'Chat not found: ' + s);
    if (wid(s).server !== 'newsletter') throw wppError('not_a_newsletter', 'Chat ' + s + ' is not a newsletter');
    return s;
  }

  // A picture as a base64 JPEG, from a data URL or bare base64.
  const pictureData = (p) => String(p).replace(/^data:[^,]*,/, '');
  async function downloadPicture(url) {
    const r = await fetch(url);
    if (!r.ok) throw wppError('download_failed', 'Could not download the picture: ' + r.status);
    const bytes = new Uint8Array(await r.arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return window.btoa(bin);
  }

  const STATUS = 'status@broadcast';

  // wa-js's assertColor: '#rrggbb', or a number (ARGB).
  function hexColor(c) {
    if (typeof c === 'number') return '#' + (c & 0xffffff).toString(16).padStart(6, '0');
    // Hex with or without '#'; eight digits are ARGB.
    const s = String(c).replace(/^#/, '');
    if (!/^[0-9a-fA-F]{1,8}$/.test(s)) throw wppError('invalid_color', 'Invalid color ' + c);
    return '#' + s.padStart(6, '0').slice(-6).toLowerCase();
  }

  async function statusMedia(content, options, kind) {
    requireAuth();
    const o = options || {};
    const match = /^data:([^,;]*)(;[^,]*)?,(.*)$/s.exec(String(content));
    if (!match || !match[1].startsWith(kind)) throw new Error('a ' + kind.slice(0, -1) + ' status takes a ' + kind + '* data URL');
    // As wa-js: the id is WhatsApp Web's own (no messageId is taken), and
    // the chat is read unless markIsRead is false.
    return send(STATUS, { caption: o.caption || null, media: { mimetype: match[1], filename: null, data: match[3] }, status: {} }, { markIsRead: o.markIsRead });
  }

  // A business account's labels, as WhatsApp Web's LabelStore keeps them:
  // id -> { id, name, color (palette index), chats: Set }.
  const labelStore = new Map();
  const PALETTE = ['#ff9485', '#64c4ff', '#ffd429', '#dfaef0', '#99b6c1', '#55ccb3', '#ff9dff', '#d3a91d',
    '#6d7cce', '#d7e752', '#00d0e2', '#ffc5c7', '#93ceac', '#f74848', '#00a0f2', '#83e422',
    '#ffaf04', '#b5ebff', '#9ba6ff', '#9368cf'];

  function labelsOn(chatId) {
    return [...labelStore.values()].filter((l) => l.chats.has(chatId)).map((l) => l.id);
  }

  // As wa-js's Label.
  // `color` a number (wa-js's assertColor), `count` without archived chats.
  function labelView(l) {
    const hex = PALETTE[l.color] || null;
    const count = [...l.chats].filter((c) => !(chatStates.get(c) || {}).archived).length;
    return { id: l.id, name: l.name, color: hex ? parseInt(hex.slice(1), 16) : null, count, hexColor: hex, colorIndex: l.color };
  }

  function keepLabels(list) {
    labelStore.clear();
    for (const l of list || []) labelStore.set(l.id, { id: l.id, name: l.name, color: l.color, chats: new Set(l.chats || []) });
  }

  function assertIsBusiness() {
    if (!creds || !creds.business) throw wppError('is_not_business', 'This account is not a business version');
  }

  // As wa-js: a palette colour, by index or hex.
  function colorIndex(c) {
    if (c === undefined || c === null || c === '') return undefined;
    const i = typeof c === 'string' && c.length > 2 ? PALETTE.indexOf(c) : parseInt(String(c), 10);
    if (!(i >= 0 && i < PALETTE.length)) throw wppError('color_not_in_pallet', 'Color not in pallet');
    return i;
  }

  // wa-js's checks before a promotion or demotion: an admin asks
  // (ensureGroup), each named is a member, and each one's role is `admin`
  // now.
  async function inRole(groupId, participantsIds, admin, code, what) {
    const g = groupChat(await call('group_info', { gid: wid(groupId)._serialized }));
    const gid = g.id._serialized;
    const now = new Map(g.groupMetadata.participants.map((p) => [p.id._serialized, !!(p.isAdmin || p.isSuperAdmin)]));
    const me = creds ? creds.phone + '@c.us' : null;
    if (!now.get(me)) throw wppError('group_you_are_not_admin', 'You are not admin in ' + gid);
    for (const p of ids(participantsIds)) {
      if (!now.has(p)) throw wppError('group_participant_not_found', 'Group ' + gid + ": Participant '" + p + "' not found");
    }
    if (ids(participantsIds).some((p) => now.get(p) !== admin)) throw wppError(code, 'Group ' + gid + ': ' + what);
  }

  // A chat the device has (wa-js's assertGetChat).
  function knownChat(chatId) {
    const id = wid(chatId)._serialized;
    if (!chats.has(id)) throw wppError('chat_not_found', 'Chat not found: ' + id);
    return id;
  }

  function groupChat(g) {
    groupCache.set(g.id, g);
    return { id: wid(g.id), name: g.subject, isGroup: true, t: g.creation, groupMetadata: groupMeta(g) };
  }

  // As WhatsApp Web's GroupMetadataModel. A community is a parent group
  // (`isParentGroup`), its announcement group the `defaultSubgroup`, a
  // linked group's `parentGroup` the community; `joinedSubgroups` are
  // the community's groups this account is in; `groupType` is derived.
  function groupMeta(g) {
    const me = creds ? creds.phone + '@c.us' : null;
    const joined = () => (g.subgroups || []).filter((s) => {
      const sg = groupCache.get(s);
      return sg && sg.participants.some((p) => p.id === me);
    }).map(wid);
    return {
      id: wid(g.id), subject: g.subject, owner: wid(g.owner), creation: g.creation,
      desc: g.desc || undefined, announce: !!g.announce, restrict: !!g.restrict, membershipApprovalMode: !!g.approval,
      ephemeralDuration: g.ephemeral || 0,
      isParentGroup: !!g.isParentGroup, defaultSubgroup: !!g.defaultSubgroup, parentGroup: g.parentGroup ? wid(g.parentGroup) : undefined,
      get joinedSubgroups() { return g.isParentGroup ? joined() : undefined; },
      groupType: g.isParentGroup ? 'COMMUNITY' : g.defaultSubgroup ? 'LINKED_ANNOUNCEMENT_GROUP' : g.parentGroup ? 'LINKED_SUBGROUP' : 'DEFAULT',
      participants: g.participants.map((p) => ({ id: wid(p.id), isAdmin: p.isAdmin, isSuperAdmin: p.isSuperAdmin })),
    };
  }

  // wa-js's ensureGroupAndParticipants: an admin asks (ensureGroup), and
  // each one named is a participant, as the device's metadata lists them.
  function communityMembers(gid, participantsIds) {
    const g = groupCache.get(gid);
    if (!g) throw wppError('group_not_found', 'Group ' + gid + ' not found');
    const me = creds ? creds.phone + '@c.us' : null;
    if (!g.participants.some((x) => x.id === me && (x.isAdmin || x.isSuperAdmin))) throw wppError('group_you_are_not_admin', 'You are not admin in ' + gid);
    for (const p of ids(participantsIds)) {
      if (!g.participants.some((x) => x.id === p)) throw wppError('group_participant_not_found', 'Group ' + gid + ": Participant '" + p + "' not found");
    }
  }

  // wa-js's community results: which groups were linked or unlinked, and
  // which WhatsApp refused (with its error).
  function linkResult(r) {
    return { linkedGroupJids: r.linkedGroupJids, failedGroups: r.failedGroups };
  }

  function ids(x) {
    return (Array.isArray(x) ? x : [x]).map((p) => wid(p)._serialized);
  }

  function requireAuth() {
    if (!creds || !online) throw new Error('WhatsApp is not connected');
  }

  // What only a group's admins may do, refused as wa-js refuses it.
  async function asAdmin(code, what, groupId, op) {
    try {
      return await op();
    } catch (e) {
      if (/only (group|community) admins/.test(e.message)) throw wppError(code, what + ' ' + wid(groupId)._serialized);
      throw e;
    }
  }

  // wa-js's approve/reject: one result per id, `error` set where it
  // failed; a call WhatsApp refuses as a whole throws.
  async function answerRequests(groupId, ids, approve, code) {
    requireAuth();
    const list = (Array.isArray(ids) ? ids : [ids]).map((x) => wid(x)._serialized);
    try {
      const done = await call('group_requests_answer', { gid: wid(groupId)._serialized, ids: list, approve });
      return done.map((d) => ({ error: d.error ? 404 : undefined, wid: wid(d.wid) }));
    } catch (e) {
      throw wppError(code, 'Error on ' + (approve ? 'accept' : 'reject') + ' member on group ' + wid(groupId)._serialized);
    }
  }

  const WPP = {
    version: '3.0.0-sandbox',
    get isReady() { return started; },
    get isFullReady() { return started && online; },
    loader: {
      // As wa-js's: it only listens for the ready to come (a listener
      // added after it is never called).
      onReady(listener, delay) {
        readyCbs.push(() => setTimeout(listener, delay || 0));
      },
    },
    on(name, cb) {
      if (!listeners.has(name)) listeners.set(name, []);
      listeners.get(name).push(cb);
      return WPP;
    },
    off(name, cb) {
      const l = listeners.get(name) || [];
      const i = l.indexOf(cb);
      if (i >= 0) l.splice(i, 1);
      return WPP;
    },
    conn: {
      async getAuthCode() { return authCode; },
      isIdle() { return qrIdle; },
      isAuthenticated() { return !!(creds && creds.token); },
      isRegistered() { return !!(creds && creds.token); },
      isMainReady() { return mainReady; },
      isOnline() { return online; },
      getStreamData() { return { mode: streamMode, info: streamMode === 'MAIN' ? 'NORMAL' : streamMode === 'SYNCING' ? 'SYNCING' : streamMode === 'QR' ? 'PAIRING' : 'OFFLINE' }; },
      getMyUserId() { return creds && creds.phone ? wid(creds.phone) : undefined; },
      // As wa-js (UserPrefs.getMeLidUserOrThrow): the sandbox's accounts
      // have no privacy id of their own.
      getMyUserLid() { throw new Error('the account has no privacy id'); },
      getPlatform() { return creds ? creds.platform || 'android' : undefined; },
      async logout() {
        const token = creds ? creds.token : null;
        await forget();
        try { await call('logout', { token }, 5000); } catch (e) { /* offline: the link dies server-side later */ }
        emit('conn.logout');
        return true;
      },
      async genLinkDeviceCodeForPhoneNumber(phone, sendPushNotification) {
        if (creds) throw new Error('already linked');
        return call('pair_code', { phone: String(phone), push: sendPushNotification !== false });
      },
      async markAvailable(available) {
        requireAuth();
        return call('presence_available', { available: available !== false });
      },
      async refreshQR() {
        if (creds) return null;
        await call('refresh_qr', {});
        return authCode;
      },
    },
    profile: {
      getMyProfileName() { return creds ? creds.name : undefined; },
      isBusiness() { return !!(creds && creds.business); },
      async getMyStatus() {
        requireAuth();
        return (await call('my_profile', {})).about || undefined;
      },
      async setMyProfileName(name) {
        requireAuth();
        await call('my_profile_set', { name: String(name) });
        creds.name = String(name);
        return true;
      },
      async setMyStatus(statusText) {
        requireAuth();
        await call('my_profile_set', { about: String(statusText) });
        return true;
      },
      // As wa-js: an image as a data URL (WhatsApp Web makes it 640 px).
      async setMyProfilePicture(content) {
        requireAuth();
        const match = /^data:(image\/[^;,]+)?(;base64)?,(.*)$/s.exec(String(content));
        if (!match || !match[2]) throw new Error('the picture must be a base64 data URL');
        await call('my_profile_set', { picture: match[3] });
        return { eurl: '', status: 200, tag: '', token: '', _duplicate: false };
      },
      // As wa-js: a business account's; websites as URLs (WhatsApp Web
      // keeps them as {url}); answers the profile as WhatsApp Web fetches
      // it after.
      async editBusinessProfile(params) {
        requireAuth();
        if (!creds.business) throw wppError('NOT_BUSINESS_PROFILE', 'Not a business profile');
        // As wa-js: the websites rewritten in place, in the caller's object.
        const p = params;
        if (p.website && Array.isArray(p.website)) p.website = p.website.map((i) => ({ url: i }));
        const b = await call('my_business_set', {
          description: p.description, address: p.address, email: p.email,
          website: p.website ? p.website.map((w) => w.url) : undefined,
        });
        return Object.assign({ id: wid(creds.phone) }, b, { website: (b.website || []).map((url) => ({ url })) });
      },
      // As wa-js: whether WhatsApp took it (false when there was none).
      async removeMyProfilePicture() {
        requireAuth();
        const before = await call('my_profile', {});
        await call('my_profile_set', { picture: null });
        return !!before.has_picture;
      },
    },
    // WhatsApp Web's collection of the messages the page has loaded: it
    // keeps every one for the life of the page. A removed message is gone
    // from memory only (WhatsApp Web keeps it in IndexedDB; nothing here
    // reads it back: the daemon has stored it).
    whatsapp: {
      functions: {
        unixTime: () => unixTime(),
        // As WhatsApp Web's local search (WAWebDBMessageFindLocal): what
        // this device holds, newest first; `remote` a chat's Wid.
        async msgFindSearch(params) {
          requireAuth();
          const r = await call('find', {
            kind: 'search', term: params.searchTerm, chat: params.remote ? wid(params.remote)._serialized : null,
            page: params.page, count: params.count, anchor: params.anchor ? msgKey(params.anchor)._serialized : null,
          });
          return { messages: r.messages.map(row), eof: r.eof, canceled: false };
        },
        async msgFindStarred(params) {
          requireAuth();
          const r = await call('find', {
            kind: 'starred', chat: params.chat ? wid(params.chat)._serialized : null, count: params.count,
            anchor: params.anchor ? msgKey(params.anchor)._serialized : null,
          });
          return r.messages.map(row);
        },
      },
      enums: { PinExpiryDurationOption: Object.fromEntries(Object.keys(PIN_SECS).map((k) => [k, k])) },
      PresenceStore: {
        get(id) { return presences.get(wid(id)._serialized); },
      },
      // The groups (and communities) the device has metadata for.
      GroupMetadataStore: {
        get(id) {
          const g = groupCache.get(String(id && id._serialized ? id._serialized : id));
          return g ? groupMeta(g) : undefined;
        },
        getModelsArray() { return [...groupCache.values()].map(groupMeta); },
      },
      // WhatsApp Web's chats (its ChatCollection): their models, and the
      // events of a change to one (`change:archive`, `change:pin`,
      // `change:muteExpiration`, `change:unreadCount`) or its removal.
      ChatStore: {
        on(eventName, listener, context) {
          if (!chatListeners.has(eventName)) chatListeners.set(eventName, []);
          chatListeners.get(eventName).push([listener, context]);
          return this;
        },
        get(id) { const c = chats.get(wid(id)._serialized); return c ? chatModel(c) : undefined; },
        getModelsArray() { return [...chats.values()].map(chatModel); },
      },
      PinInChatStore: {
        getByParentMsgKey(key) { return pinRows.get(msgKey(key)._serialized); },
        getModelsArray() { return [...pinRows.values()]; },
      },
      // A message model from stored fields, as WhatsApp Web's MsgModel is
      // made (its key parsed from the serialized id where one is given).
      MsgModel: class {
        constructor(props) {
          Object.assign(this, props);
          if (typeof this.id === 'string') this.id = msgKey(this.id);
        }
      },
      MsgStore: {
        get length() { return byId.size; },
        on(eventName, listener, context) {
          if (!storeListeners.has(eventName)) storeListeners.set(eventName, []);
          storeListeners.get(eventName).push([listener, context]);
          return this;
        },
        get(id) { return byId.get(msgKey(id)._serialized); },
        getModelsArray() { return [...byId.values()]; },
        remove(value) {
          const list = (Array.isArray(value) ? value : [value]).filter((m) => m && m.id && byId.get(m.id._serialized) === m);
          if (!list.length) return [];
          const gone = new Set(list);
          const touched = new Set();
          for (const m of list) {
            byId.delete(m.id._serialized);
            touched.add(m.id.remote._serialized);
          }
          for (const key of touched) {
            const chat = chats.get(key);
            if (chat) chat.msgs = chat.msgs.filter((m) => !gone.has(m));
          }
          return list;
        },
      },
    },
    chat: {
      // As wa-js: grouped by emoji; each sender a Wid (not the declared
      // senderUserJid), the time as WhatsApp Web's reactions table keeps it.
      async getReactions(msgId) {
        requireAuth();
        const id = msgKey(msgId)._serialized;
        const groups = new Map();
        let mine;
        for (const [sender, r] of reactionsOf.get(id) || []) {
          // WhatsApp Web keeps the keys as strings; wa-js hands them on.
          const key = msgKey(r.id);
          const row = { id: r.id, msgId: id, reactionText: r.text, read: true, sender: wid(sender), orphan: 0, timestamp: r.ms };
          if (!groups.has(r.text)) groups.set(r.text, { aggregateEmoji: r.text, hasReactionByMe: false, senders: [] });
          const g = groups.get(r.text);
          g.senders.push(row);
          if (key.fromMe) { g.hasReactionByMe = true; mine = row; }
        }
        return { reactionByMe: mine, reactions: [...groups.values()] };
      },
      // As wa-js: a poll's votes, each choice a sparse array of the poll's
      // options by localId, the time in ms.
      async getVotes(id) {
        requireAuth();
        const key = msgKey(id)._serialized;
        const m = byId.get(key);
        if (!m) throw wppError('msg_not_found', 'Message ' + key + ' not found');
        if (m.type !== 'poll_creation') throw wppError('msg_not_found', 'Message ' + key + ' not a poll');
        const votes = [];
        for (const [sender, v] of votesOf.get(key) || []) {
          const selectedOptions = [];
          for (const i of v.selected) selectedOptions[i] = (m.pollOptions || []).find((o) => o.localId === i);
          votes.push({ selectedOptions, timestamp: v.ms, sender: wid(sender) });
        }
        return { msgId: m.id, chatId: m.id.remote, votes };
      },
      // The chat a send goes to (WhatsApp Web's findOrCreateLatestChat).
      async find(chatId) {
        requireAuth();
        const id = wid(chatId);
        // A group's chat carries the metadata the device holds of it.
        const g = id.server === 'g.us' ? groupCache.get(id._serialized) : null;
        return g ? groupChat(g) : { id };
      },
      async getNotes(chatId) {
        requireAuth();
        return noteModel(noteStore.get(noteChat(chatId, 'get')));
      },
      async setNotes(chatId, content) {
        requireAuth();
        const id = noteChat(chatId, 'set');
        if (!content) throw wppError('missing_content_for_notes', 'Missing content for notes');
        const n = await call('note_set', { chat: id, content: String(content) });
        noteStore.set(id, n);
        return noteModel(n);
      },
      // As wa-js: from this device to the chat, a new random id, and in a
      // group this device as the participant.
      async generateMessageID(chat) {
        requireAuth();
        const to = wid(chat && chat.id ? chat.id : chat);
        const participant = to.server === 'g.us' ? wid(creds.phone) : undefined;
        const id = newMsgId(to._serialized).split('_').pop();
        return { fromMe: true, remote: to, id, participant, _serialized: 'true_' + to._serialized + '_' + id + (participant ? '_' + participant._serialized : '') };
      },
      // As wa-js: the end two hours after the start where none is given,
      // a description of one space where none is, a call link made for a
      // voice or video call.
      async sendEventMessage(chatId, options) {
        requireAuth();
        const o = Object.assign({}, options);
        if (typeof o.callType === 'string' && o.callType !== 'voice' && o.callType !== 'video') {
          throw wppError('callType_is_invalid', 'Param callType: ' + o.callType + ' is not a valid type call. Use voice or video');
        }
        const event = {
          name: o.name || ' ', description: o.description || ' ', start: o.startTime, end: o.endTime || o.startTime + 7200,
          location: o.location || null, canceled: false,
          join_link: typeof o.callType === 'string' ? 'https://call.whatsapp.com/' + o.callType + '/' + newMsgId('x').slice(-20) : null,
        };
        return send(chatId, { event }, o);
      },
      async sendTextMessage(chatId, content, options) {
        requireAuth();
        return send(chatId, { text: String(content) }, options);
      },
      // As WhatsApp Web: each message goes again, as it is, forwarded one
      // time more, except our own (WhatsApp does not count those); a
      // caption only with displayCaptionText. wa-js answers what WhatsApp
      // Web's forward answers, which says nothing of the copies.
      async forwardMessages(toChatId, msgsId, options) {
        requireAuth();
        const opts = options || {};
        const out = [];
        for (const key of msgsId) {
          const id = typeof key === 'string' ? key : key._serialized;
          const m = byId.get(id) || await call('message', { id }).then((w) => w && toMsg(w));
          if (!m) throw wppError('msg_not_found', 'Message ' + id + ' not found');
          // WhatsApp Web offers no forward of a deleted message: nothing
          // goes, and wa-js answers it among those it could not forward.
          if (m.type === 'revoked') { out.push(m); continue; }
          const fields = { forwarded: (m.forwardingScore || 0) + (m.id.fromMe ? 0 : 1) };
          if (m.__media) Object.assign(fields, { media: m.__media, caption: opts.displayCaptionText ? m.caption || null : null, ptt: m.type === 'ptt', document: m.type === 'document', gif: !!m.isGif });
          else if (m.type === 'location') fields.location = { lat: m.lat, lng: m.lng, name: (m.loc || '').split('\n')[0] || null, address: (m.loc || '').split('\n')[1] || null };
          else if (m.type === 'vcard' || m.type === 'multi_vcard') fields.vcards = m.vcardList ? m.vcardList.map((v) => v.vcard) : [m.body];
          else if (m.type === 'poll_creation') fields.poll = { name: m.pollName, options: m.pollOptions.map((o) => o.name), selectable: m.pollSelectableOptionsCount };
          else fields.text = m.body;
          await send(toChatId, fields, { markIsRead: false });
        }
        return out;
      },
      async sendFileMessage(chatId, content, options) {
        requireAuth();
        const opts = options || {};
        const match = /^data:([^,]*?)(;base64)?,(.*)$/s.exec(String(content));
        if (!match) throw new Error('content must be a data URL');
        const data = match[2] ? match[3] : window.btoa(decodeURIComponent(match[3]));
        const mimetype = opts.mimetype || match[1] || 'application/octet-stream';
        if (opts.type === 'sticker') {
          // WhatsApp Web makes the sticker: a WebP of the image, no caption.
          return send(chatId, { caption: null, media: { mimetype: 'image/webp', filename: null, data: await asSticker(mimetype, data) } }, opts);
        }
        // type 'document': a file to download, whatever it is. As wa-js
        // reads them: isViewOnce for an image, a video or a voice note,
        // isGif for a video, each only when the type is given.
        const type = opts.type;
        const viewOnce = !!opts.isViewOnce && (type === 'image' || type === 'video' || (type === 'audio' && !!opts.isPtt));
        const gif = !!opts.isGif && type === 'video';
        return send(chatId, { caption: opts.caption || null, ptt: !!opts.isPtt, document: opts.type === 'document', view_once: viewOnce, gif, media: { mimetype, filename: opts.filename || null, data } }, opts);
      },
      async markIsComposing(chatId, duration) { return mark(chatId, 'composing', duration); },
      async markIsRecording(chatId, duration) { return mark(chatId, 'recording', duration); },
      async markIsPaused(chatId) { return mark(chatId, 'paused'); },
      // As wa-js: with an expiry, a private invite (`groups_v4_invite`);
      // without, the group's link as text.
      async sendGroupInviteMessage(chatId, options) {
        requireAuth();
        const o = options || {};
        const group = wid(o.groupId)._serialized;
        const cached = groupCache.get(group);
        if (!o.groupName && !cached) throw wppError('group_not_found', 'Group ' + group + ' not found');
        const name = o.groupName || cached.subject;
        if (!o.inviteCodeExpiration) {
          const link = 'https://chat.whatsapp.com/' + o.inviteCode;
          return send(chatId, { text: o.caption ? o.caption + '\n' + link : link }, o);
        }
        return send(chatId, { text: o.caption || null, invite: { group, code: String(o.inviteCode), expires: Number(o.inviteCodeExpiration), name } }, o);
      },
      async sendLocationMessage(chatId, options) {
        requireAuth();
        const o = options || {};
        const lat = Number(o.lat);
        const lng = Number(o.lng);
        if (!Number.isFinite(lat) || !Number.isFinite(lng)) throw new Error('lat and lng must be numbers');
        return send(chatId, { location: { lat, lng, name: o.name || null, address: o.address || null } }, o);
      },
      async sendVCardContactMessage(chatId, contacts, options) {
        requireAuth();
        const list = (Array.isArray(contacts) ? contacts : [contacts]).map((c) => {
          const id = wid(typeof c === 'object' && c.id !== undefined ? c.id : c);
          const name = (typeof c === 'object' && c.name) || id.user;
          return ['BEGIN:VCARD', 'VERSION:3.0', 'N:;' + name + ';;;', 'FN:' + name,
            'TEL;type=CELL;type=VOICE;waid=' + id.user + ':+' + id.user, 'END:VCARD'].join('\n');
        });
        if (!list.length) throw new Error('no contacts to send');
        return send(chatId, { vcards: list }, options);
      },
      async sendCreatePollMessage(chatId, name, choices, options) {
        requireAuth();
        const opts = options || {};
        if (!Array.isArray(choices) || choices.length < 2) throw new Error('a poll needs at least 2 choices');
        return send(chatId, { poll: { name: String(name), options: choices.map(String), selectable: opts.selectableCount === undefined ? 1 : opts.selectableCount } }, opts);
      },
      async sendReactionToMessage(messageId, reaction) {
        requireAuth();
        const id = msgKey(messageId)._serialized;
        await call('react', { id, emoji: reaction || '' });
        return { sendMsgResult: 'OK' };
      },
      async editMessage(msgId, newText, options) {
        requireAuth();
        const key = msgKey(msgId);
        const id = key._serialized;
        await call('edit', { id, text: String(newText) });
        // As wa-js (sendRawMessage): the chat is read unless markIsRead is false.
        if (!options || options.markIsRead !== false) {
          const to = key.remote._serialized;
          await call('read', { chat: to }).catch(() => null);
          const chat = chats.get(to);
          if (chat) setUnread(chat, 0);
        }
        const m = byId.get(id);
        return { id, ack: m ? m.ack : 1, from: m ? m.from._serialized : undefined, to: m ? m.to._serialized : undefined, sendMsgResult: Promise.resolve({ messageSendResult: 'OK' }) };
      },
      async deleteMessage(chatId, ids, deleteMediaInDevice, revoke) {
        requireAuth();
        const one = !Array.isArray(ids);
        const out = [];
        const chat = wid(chatId);
        for (const id of one ? [ids] : ids) {
          const m = byId.get(id);
          // As wa-js: for everyone when it is ours, or in a group we run;
          // else it is deleted for this device only.
          const mine = m ? !!m.id.fromMe : id.startsWith('true_');
          const canRevoke = mine || (chat.server === 'g.us' && await WPP.group.iAmAdmin(chat));
          if (revoke && canRevoke) {
            revokedHere.add(id);
            await call('revoke', { id });
          }
          else {
            // Deleted for me: gone from the phone and every device
            // (WhatsApp's app state); the others in the chat keep theirs.
            if (!m) throw wppError('msg_not_found', 'Message not found: ' + id);
            await call('delete_for_me', { chat: m.id.remote._serialized, ids: [id] });
            forgetMsgs(m.id.remote._serialized, [id]);
          }
          const revoked = !!revoke && canRevoke;
          out.push({ id, sendMsgResult: 'OK', isRevoked: revoked, isDeleted: !revoked, isSentByMe: mine });
        }
        return one ? out[0] : out;
      },
      // As wa-js: each answer's `star` is the message's before the call.
      // As wa-js: in memory, else loaded back from the device's store;
      // msg_not_found for one the account does not have.
      async getMessageById(id) {
        requireAuth();
        const key = typeof id === 'string' ? id : id._serialized;
        const m = byId.get(key);
        if (m) return m;
        const held = await call('message', { id: key });
        if (!held) throw wppError('msg_not_found', 'Message ' + key + ' not found');
        return toMsg(held);
      },
      // As wa-js: refused before it is sent (in a group one is not in, or
      // whose settings only admins change when one is not one of them; a
      // notification, a deleted message, one not yet sent; already in the
      // state asked), then WhatsApp's answer.
      async pinMsg(msgId, pin, duration) {
        requireAuth();
        if (pin === undefined) pin = true;
        if (typeof pin !== 'boolean') throw wppError('invalid_pin_parameter', "The 'pin' parameter must be a boolean");
        // As wa-js: an unknown duration is a week.
        const secs = PIN_SECS[duration] || PIN_SECS.SevenDays;
        const msg = await WPP.chat.getMessageById(msgId);
        const key = msg.id._serialized;
        const what = pin ? 'pin_error' : 'unpin_error';
        const chat = msg.id.remote;
        if (chat.server === 'g.us') {
          // The server tells a non-member nothing of the group (WhatsApp
          // Web reads its own copy of the members).
          const g = await call('group_info', { gid: chat._serialized }).catch((e) => {
            if (/not a participant|no such group/.test(String(e && e.message))) return null;
            throw e;
          });
          if (g) groupChat(g);
          const me = g && g.participants.find((p) => p.id === wid(creds.phone)._serialized);
          if (!me) throw wppError(what, 'You not a member of group, to pin msg ' + key);
          if ((g.restrict || g.announce) && !(me.isAdmin || me.isSuperAdmin)) throw wppError(what, 'You not have permission to pin msg ' + key);
        }
        if (msg.type === 'gp2' || msg.type === 'revoked' || (msg.ack || 0) < 1) throw wppError(what, 'The msg ' + key + ' not can be pinned');
        const row = pinRows.get(key);
        if (row && row.pinType === (pin ? 1 : 2)) throw wppError(what, 'The msg ' + key + ' is already ' + (pin ? 'pinned' : 'unpinned'));
        // As wa-js: a send WhatsApp refused is an answer, not an error.
        let result = 'OK';
        await call('pin', { id: key, pin, secs }).catch(() => { result = 'ERROR_UNKNOWN'; });
        return { message: msg, pinned: result === 'OK' ? pin : !pin, result };
      },
      // As wa-js: the message's ack and each recipient's receipt, from
      // WhatsApp Web's message info, which lists a recipient once, under
      // the furthest it got (delivered, read, played), with that time.
      async getMessageACK(msgId) {
        requireAuth();
        const msg = await WPP.chat.getMessageById(msgId);
        const info = await call('msg_info', { id: msg.id._serialized });
        const audio = msg.type === 'ptt' || msg.type === 'audio';
        const participants = [];
        let deliveryRemaining = 0, readRemaining = 0, playedRemaining = 0;
        for (const r of info.receipts || []) {
          const p = { id: wid(r.id)._serialized, wid: wid(r.id) };
          if (r.played) p.playedAt = r.played;
          else if (r.read) p.readAt = r.read;
          else if (r.delivered) p.deliveredAt = r.delivered;
          if (!r.delivered && !r.read) deliveryRemaining += 1;
          if (!r.read) readRemaining += 1;
          if (audio && !r.played) playedRemaining += 1;
          if (p.playedAt || p.readAt || p.deliveredAt) participants.push(p);
        }
        return { ack: msg.ack, fromMe: msg.id.fromMe, deliveryRemaining, readRemaining, playedRemaining, participants };
      },
      async starMessage(ids, star) {
        requireAuth();
        const one = !Array.isArray(ids);
        const list = one ? [ids] : ids;
        const msgs = list.map((id) => { const m = byId.get(id); if (!m) throw wppError('msg_not_found', 'Message not found: ' + id); return m; });
        const out = msgs.map((m) => ({ id: m.id._serialized, star: m.star || false }));
        await call('star', { ids: list, star: star !== false });
        for (const m of msgs) if (m.type !== 'revoked') m.star = star !== false;
        return one ? out[0] : out;
      },
      // Clears a chat on the phone and every device; the chat stays.
      async clear(chatId, keepStarred) {
        requireAuth();
        const id = knownChat(chatId);
        const keep = keepStarred !== false;
        const r = await call('chat_clear', { chat: id, delete: false, keep_starred: keep }).then(() => 200, () => 500);
        if (r === 200) { const c = chats.get(id); if (c) { forgetMsgs(id, c.msgs.filter((m) => !(keep && m.star)).map((m) => m.id._serialized)); setUnread(c, 0); } }
        return { wid: wid(id), status: r, keepStarred: keep };
      },
      // Deletes a chat, its messages and how it was kept, everywhere. As
      // wa-js (assertFindChat): a chat the device lacks is found or made
      // first, so deleting it succeeds.
      async delete(chatId) {
        requireAuth();
        const id = wid(chatId)._serialized;
        const r = await call('chat_clear', { chat: id, delete: true }).then(() => 200, () => 500);
        if (r === 200) { const c = chats.get(id); if (c) forgetMsgs(id, c.msgs.map((m) => m.id._serialized)); removeChat(id); }
        return { wid: wid(id), status: r };
      },
      async markIsRead(chatId) {
        requireAuth();
        // As wa-js (assertGetChat): chat_not_found for a chat the device lacks.
        const w = wid(knownChat(chatId));
        await call('read', { chat: w._serialized });
        const chat = chats.get(w._serialized);
        const unreadCount = chat ? chat.unreadCount : 0;
        if (chat) setUnread(chat, 0);
        return { wid: w, unreadCount };
      },
      async list(options) {
        if (options && options.onlyNewsletter) return [...channelStore.keys()].map(channelChat);
        const all = [...chats.values()].sort((a, b) => b.t - a.t);
        const count = options && options.count;
        return (count ? all.slice(0, count) : all).map(chatModel);
      },
      get(chatId) {
        if (channelStore.has(wid(chatId)._serialized)) return channelChat(wid(chatId)._serialized);
        const c = chats.get(wid(chatId)._serialized);
        return c ? chatModel(c) : undefined;
      },
      // As wa-js: the chat must be one the device has, and a change to what
      // it already is throws.
      async archive(chatId, archive) {
        requireAuth();
        const on = archive !== false;
        const id = knownChat(chatId);
        if (!!(chatStates.get(id) || {}).archived === on) throw wppError((on ? 'archive' : 'unarchive') + '_error', 'The chat ' + id + ' is already ' + (on ? 'archived' : 'unarchived'));
        await call('chat_state', { chat: id, archive: on });
        return { wid: wid(id), archive: on };
      },
      async unarchive(chatId) { return WPP.chat.archive(chatId, false); },
      // WhatsApp Web pins no fourth chat: it says so on screen, and the
      // chat stays as it was.
      async pin(chatId, pin) {
        requireAuth();
        const on = pin !== false;
        const id = knownChat(chatId);
        if (!!(chatStates.get(id) || {}).pinned === on) throw wppError((on ? 'pin' : 'unpin') + '_error', 'The chat ' + id + ' is already ' + (on ? 'pinned' : 'unpinned'));
        await call('chat_state', { chat: id, pin: on }).catch((e) => { if (!/pin up to/.test(e.message)) throw e; });
        return { wid: wid(id), pin: on };
      },
      async unpin(chatId) { return WPP.chat.pin(chatId, false); },
      async mute(chatId, time) {
        requireAuth();
        const id = knownChat(chatId);
        let until;
        if (time && 'expiration' in time) until = typeof time.expiration === 'number' ? time.expiration : Math.floor(time.expiration.getTime() / 1000);
        else if (time && 'duration' in time) until = unixTime() + time.duration;
        else throw wppError('invalid_time_mute', 'Invalid time for mute');
        if (until < unixTime()) throw wppError('negative_time_mute', 'Negative duration for mute');
        const st = await call('chat_state', { chat: id, mute_until: until });
        return { wid: wid(id), expiration: st.mute_until, isMuted: st.mute_until !== 0 };
      },
      async markIsUnread(chatId) {
        requireAuth();
        const id = knownChat(chatId);
        await call('chat_state', { chat: id, unread: true });
        return { wid: wid(id) };
      },
      async unmute(chatId) {
        requireAuth();
        await call('chat_state', { chat: knownChat(chatId), mute_until: 0 });
      },
      // Earlier messages than the device holds in memory load from its
      // history (WhatsApp Web's local store, filled at the link and from
      // the phone), as scrolling up does.
      async getMessages(chatId, options) {
        const opts = options || {};
        const key = wid(chatId)._serialized;
        const chat = chats.get(key);
        let msgs = chat ? chat.msgs.slice() : [];
        let count = opts.count === -1 ? Infinity : opts.count || 20;
        // As wa-js: without an id it anchors on the chat's last message,
        // asks for one fewer before it, and adds that message itself only
        // if WhatsApp Web holds it in memory (MsgStore).
        const last = !opts.id && opts.direction !== 'after' && chat && chat.lastKey ? chat.lastKey._serialized : null;
        if (last) count -= 1;
        let anchor = opts.id || last;
        if (anchor) {
          const i = msgs.findIndex((m) => m.id._serialized === anchor);
          if (i >= 0) msgs = opts.direction === 'after' ? msgs.slice(i + 1) : msgs.slice(0, i);
          else if (opts.direction !== 'after') msgs = [];
        }
        if (opts.direction !== 'after' && msgs.length < count && creds && online) {
          const before = msgs.length ? msgs[0].id._serialized : anchor;
          const want = count === Infinity ? 1000 : count - msgs.length;
          const older = await call('history', { chat: key, before, count: want }).catch(() => []);
          const held = new Set(msgs.map((m) => m.id._serialized));
          msgs = older.map((w) => byId.get(w.id) || toMsg(w)).filter((m) => !held.has(m.id._serialized)).concat(msgs);
        }
        msgs = opts.direction === 'after' ? msgs.slice(0, count) : count > 0 ? msgs.slice(-count) : [];
        if (last && byId.has(last)) msgs.push(byId.get(last));
        // Models, as wa-js answers (MsgStore.get(m) || new MsgModel(m)).
        return msgs;
      },
      async downloadMedia(id) {
        // Not in memory (the page let it go): WhatsApp Web loads it back
        // and downloads its media again.
        const m = byId.get(id) || await call('message', { id }).then((w) => w && toMsg(w));
        if (!m || !m.__media || m.type === 'revoked') throw new Error('message has no media: ' + id);
        // WhatsApp gives a linked device none of a view-once message's media.
        if (m.isViewOnce && !m.id.fromMe) throw new Error('view once media can only be opened on the phone: ' + id);
        const bin = window.atob(m.__media.data);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        return new window.Blob([bytes], { type: m.__media.mimetype });
      },
    },
    // As wa-js's community module (WhatsApp's communities).
    community: {
      async create(name, desc, subGroupsIds) {
        requireAuth();
        const c = await call('community_create', { name: String(name), desc: String(desc || '') });
        groupChat(c);
        const subGroups = await call('community_link', { cid: c.id, groups: ids(subGroupsIds || []) });
        return { wid: wid(c.id), subGroups: linkResult(subGroups) };
      },
      async addSubgroups(parentGroupId, subgroupIds) {
        requireAuth();
        return linkResult(await asAdmin('group_you_are_not_admin', 'You are not admin in', parentGroupId, () => call('community_link', { cid: wid(parentGroupId)._serialized, groups: ids(subgroupIds) })));
      },
      async removeSubgroups(parentGroupId, subgroupIds) {
        requireAuth();
        return linkResult(await asAdmin('group_you_are_not_admin', 'You are not admin in', parentGroupId, () => call('community_unlink', { cid: wid(parentGroupId)._serialized, groups: ids(subgroupIds) })));
      },
      async deactivate(communityId) {
        requireAuth();
        await call('community_deactivate', { cid: wid(communityId)._serialized });
        groupCache.delete(wid(communityId)._serialized);
        return true;
      },
      async getParticipants(communityId) {
        requireAuth();
        const list = await call('community_participants', { cid: wid(communityId)._serialized });
        return list.map((p) => ({ id: wid(p.id), isAdmin: p.isAdmin, isSuperAdmin: p.isSuperAdmin }));
      },
      // As wa-js: each must be a member (ensureGroupAndParticipants); a
      // demotion WhatsApp refuses is answered, not thrown.
      async promoteParticipants(communityId, participantsIds) {
        requireAuth();
        const cid = wid(communityId)._serialized;
        communityMembers(cid, participantsIds);
        await asAdmin('group_you_are_not_admin', 'You are not admin in', communityId, () => call('community_admins', { cid, promote: ids(participantsIds) }));
        return true;
      },
      async demoteParticipants(communityId, participantsIds) {
        requireAuth();
        const cid = wid(communityId)._serialized;
        communityMembers(cid, participantsIds);
        try {
          await asAdmin('group_you_are_not_admin', 'You are not admin in', communityId, () => call('community_admins', { cid, demote: ids(participantsIds) }));
          return { participants: participantsIds, success: true };
        } catch (error) {
          return { participants: participantsIds, success: false, error };
        }
      },
      // As wa-js: a community's joined groups, given it or one of them.
      getSubgroups(communityId) {
        const g = window.WPP.whatsapp.GroupMetadataStore.get(String(communityId));
        if (!g) throw wppError('group_not_exist', 'GroupId ' + communityId + ' not exists');
        if (g.joinedSubgroups && g.joinedSubgroups.length > 0) return g.joinedSubgroups;
        const parent = window.WPP.whatsapp.GroupMetadataStore.get(String(g.parentGroup));
        return parent.joinedSubgroups;
      },
      getAnnouncementGroup(communityId) {
        for (const s of window.WPP.community.getSubgroups(communityId)) {
          const m = window.WPP.whatsapp.GroupMetadataStore.get(s._serialized);
          if (m && m.groupType === 'LINKED_ANNOUNCEMENT_GROUP') return m.id;
        }
        return undefined;
      },
    },
    group: {
      async getAllGroups() {
        requireAuth();
        return (await call('groups', {})).map(groupChat);
      },
      async getParticipants(groupId) {
        requireAuth();
        const g = await call('group_info', { gid: wid(groupId)._serialized });
        return groupChat(g).groupMetadata.participants;
      },
      async create(groupName, participantsIds, parentGroup) {
        requireAuth();
        if (parentGroup) throw new Error('communities are not modelled by the sandbox');
        // As wa-js: each one asked about first; one not on WhatsApp is named.
        for (const p of ids(participantsIds)) {
          if (!(await call('exists', { phone: wid(p).user }))) throw Object.assign(wppError('participant_not_exists', 'Participant not exists'), { id: wid(p) });
        }
        const g = await call('group_create', { subject: String(groupName), participants: ids(participantsIds) });
        groupChat(g);
        // As wa-js: what WhatsApp said of each person, by id.
        const participants = {};
        for (const a of g.added || []) participants[a.wid] = { wid: a.wid, code: a.code, invite_code: a.invite_code, invite_code_exp: a.invite_code_exp };
        return { gid: wid(g.id), participants };
      },
      // As wa-js: a code per person (200 added, 403 kept out by their
      // privacy settings, with an invite code to send them instead, 409
      // already in), with wa-js's messages.
      async addParticipants(groupId, participantsIds) {
        requireAuth();
        const add = ids(participantsIds);
        const g = await asAdmin('group_you_are_not_admin', 'You are not admin in', groupId, () => call('group_participants', { gid: wid(groupId)._serialized, add }));
        const messages = {
          200: 'OK', 403: "Can't join this group because the number was restricted it.",
          409: "Can't join this group because the number is already a member of it.", 421: 'Member not added, awaiting approval!',
        };
        const out = {};
        for (const a of g.added || []) {
          out[a.wid] = { wid: a.wid, code: a.code, message: messages[a.code] || "Can't Join., unknown error", invite_code: a.invite_code, invite_code_exp: a.invite_code_exp };
        }
        return out;
      },
      // As wa-js: those not in the group are left out, none in is
      // refused, and so is its creator.
      async removeParticipants(groupId, participantsIds) {
        requireAuth();
        const g = groupChat(await call('group_info', { gid: wid(groupId)._serialized }));
        const members = new Map(g.groupMetadata.participants.map((p) => [p.id._serialized, p]));
        const me = creds ? creds.phone + '@c.us' : null;
        if (!(members.get(me) || {}).isAdmin && !(members.get(me) || {}).isSuperAdmin) throw wppError('group_you_are_not_admin', 'You are not admin in ' + g.id._serialized);
        const valid = ids(participantsIds).filter((p) => members.has(p));
        if (!valid.length) throw wppError('not_valid_group_participants', 'No valid participants found for the group ' + wid(groupId)._serialized);
        if (valid.some((p) => members.get(p).isSuperAdmin)) throw wppError('group_participant_is_not_a_group_member', 'Group ' + g.id._serialized + ': Group participant is not a group member');
        await asAdmin('group_you_are_not_admin', 'You are not admin in', groupId, () => call('group_participants', { gid: wid(groupId)._serialized, remove: valid }));
      },
      // As wa-js: the whole call is refused if one is in the role already.
      async promoteParticipants(groupId, participantsIds) {
        requireAuth();
        await inRole(groupId, participantsIds, false, 'group_participant_is_already_a_group_admin', 'Group participant is already a group admin');
        await asAdmin('group_you_are_not_admin', 'You are not admin in', groupId, () => call('group_admins', { gid: wid(groupId)._serialized, promote: ids(participantsIds) }));
      },
      async demoteParticipants(groupId, participantsIds) {
        requireAuth();
        await inRole(groupId, participantsIds, true, 'group_participant_is_already_not_a_group_admin', 'Group participant is already not a group admin');
        await asAdmin('group_you_are_not_admin', 'You are not admin in', groupId, () => call('group_admins', { gid: wid(groupId)._serialized, demote: ids(participantsIds) }));
      },
      async getInviteCode(groupId) {
        requireAuth();
        return call('group_invite', { gid: wid(groupId)._serialized });
      },
      async revokeInviteCode(groupId) {
        requireAuth();
        return asAdmin('group_you_are_not_admin', 'You are not admin in', groupId, () => call('group_invite_revoke', { gid: wid(groupId)._serialized }));
      },
      // As wa-js: the group as the invite shows it, ids as strings.
      async getGroupInfoFromInviteCode(inviteCode) {
        requireAuth();
        const code = String(inviteCode).replace('https://', '').replace('http://', '').replace('chat.whatsapp.com/', '').replace('invite/', '');
        const g = await call('group_invite_info', { code }).catch(() => null);
        if (!g) throw wppError('invalid_invite_code', 'Invalid Invite Code');
        return {
          id: g.id, subject: g.subject, owner: g.owner + '@c.us', creation: g.creation, desc: g.desc || '', announce: !!g.announce,
          // WhatsApp's preview lists a few of the people, and says how many.
          restrict: !!g.restrict, size: g.participants.length, participants: g.participants.slice(0, 3).map((p) => ({ id: p.id, isAdmin: p.isAdmin, isSuperAdmin: p.isSuperAdmin })),
        };
      },
      async join(inviteCode) {
        requireAuth();
        const r = await call('group_join', { code: String(inviteCode) });
        // Where the admins approve who joins, it is a request for now.
        return typeof r === 'string' ? { id: r, pendingApproval: false } : { id: r.gid, pendingApproval: true };
      },
      // As wa-js: who asked to join, as WhatsApp keeps the requests (its
      // server answers admins only).
      async getMembershipRequests(groupId) {
        requireAuth();
        const list = await call('group_requests', { gid: wid(groupId)._serialized });
        return list.map((r) => ({ addedBy: wid(r.addedBy), id: wid(r.id), requestMethod: r.requestMethod, t: r.t }));
      },
      async approve(groupId, membershipIds) {
        return answerRequests(groupId, membershipIds, true, 'error_on_accept_membership_request');
      },
      async reject(groupId, membershipIds) {
        return answerRequests(groupId, membershipIds, false, 'error_on_reject_membership_request');
      },
      async setSubject(groupId, subject) {
        requireAuth();
        await asAdmin('you_are_not_allowed_set_group_subject', 'You are not allowed to set group subject in', groupId, () => call('group_subject', { gid: wid(groupId)._serialized, subject: String(subject) }));
        return true;
      },
      async setDescription(groupId, description) {
        requireAuth();
        await asAdmin('you_are_not_allowed_set_group_description', 'You are not allowed to set group description in', groupId, () => call('group_description', { gid: wid(groupId)._serialized, desc: String(description) }));
        return true;
      },
      // wa-js's GroupProperty: 'announcement' (only admins send),
      // 'restrict' (only admins edit the info) and 'ephemeral' (how long
      // messages last: any boolean, or 1, is a week, as wa-js takes them).
      // Each an admin's to set.
      async setProperty(groupId, property, value) {
        requireAuth();
        if (property === 'ephemeral') {
          const secs = typeof value === 'boolean' || value === 1 ? 604800 : value;
          if (![0, 86400, 604800, 7776000].includes(secs)) throw wppError('invalid_ephemeral_duration', 'Invalid ephemeral duration');
          await asAdmin('you_are_not_allowed_set_group_property', 'You are not allowed to set property in', groupId, () => call('group_setting', { gid: wid(groupId)._serialized, property, value: secs }));
          return true;
        }
        if (property !== 'announcement' && property !== 'restrict') throw new Error('the sandbox does not model the group property ' + property);
        await asAdmin('you_are_not_allowed_set_group_property', 'You are not allowed to set property in', groupId, () => call('group_setting', { gid: wid(groupId)._serialized, property, value: !!value }));
        return true;
      },
      async iAmAdmin(groupId) {
        requireAuth();
        const g = await call('group_info', { gid: wid(groupId)._serialized });
        groupChat(g);
        const me = wid(creds.phone)._serialized;
        return g.participants.some((p) => p.id === me && (p.isAdmin || p.isSuperAdmin));
      },
      // As wa-js: an image as a data URL (WhatsApp Web makes it 640 px).
      async setIcon(groupId, content) {
        requireAuth();
        const match = /^data:(image\/[^;,]+)?(;base64)?,(.*)$/s.exec(String(content));
        if (!match || !match[2]) throw new Error('the picture must be a base64 data URL');
        // As wa-js: a member of a group whose info only admins edit is a
        // restricted member there.
        await asAdmin('group_you_are_restricted_member', 'You are a restricted member in', groupId, () => call('group_picture', { gid: wid(groupId)._serialized, data: match[3] }));
        return { eurl: '', status: 200, tag: '', token: '', _duplicate: false };
      },
      async removeIcon(groupId) {
        requireAuth();
        const g = await call('group_info', { gid: wid(groupId)._serialized });
        if (!g.has_picture) return false;
        // As wa-js: no rights checked here; WhatsApp's refusal is false.
        try {
          await call('group_picture', { gid: wid(groupId)._serialized, data: null });
        } catch (e) {
          if (/only (group|community) admins/.test(e.message)) return false;
          throw e;
        }
        return true;
      },
      async leave(groupId) {
        requireAuth();
        await call('group_leave', { gid: wid(groupId)._serialized });
      },
    },
    // The account's status (stories): posted as a message to
    // status@broadcast, which the account's contacts see for a day.
    status: {
      async sendTextStatus(content, options) {
        requireAuth();
        const o = options || {};
        // As wa-js: black and the first font unless said.
        const background = ['number', 'string'].includes(typeof o.backgroundColor) ? hexColor(o.backgroundColor) : '#000000';
        const font = o.font && o.font >= 0 && o.font <= 5 ? o.font : 0;
        return send(STATUS, { text: String(content), status: { background, font } }, { messageId: o.messageId, markIsRead: o.markIsRead });
      },
      async sendImageStatus(content, options) {
        return statusMedia(content, options, 'image/');
      },
      async sendVideoStatus(content, options) {
        return statusMedia(content, options, 'video/');
      },
      async remove(msgId) {
        requireAuth();
        const id = msgKey(msgId)._serialized;
        const m = byId.get(id);
        if (!m || !m.id.fromMe || m.id.remote._serialized !== STATUS) throw wppError('error_on_remove_status', 'Error on remove status with id ' + id);
        revokedHere.add(id);
        await call('revoke', { id });
        return true;
      },
    },
    // As wa-js's newsletter namespace (WhatsApp Channels).
    newsletter: {
      async create(name, opts) {
        requireAuth();
        const o = opts || {};
        const ch = await call('channel_create', { name: String(name), description: o.description || '', picture: o.picture ? pictureData(o.picture) : null });
        channelStore.set(ch.id, ch);
        return channelResult(ch);
      },
      // As wa-js 4.6: an empty name or description is left as it is; a
      // picture given by URL is downloaded; and the picture is edited
      // whenever none is given (to none: it is taken away).
      async edit(id, opts) {
        requireAuth();
        const o = opts || {};
        const f = { id: knownChannel(id) };
        if (o.name) f.name = String(o.name);
        if (o.description) f.description = String(o.description);
        let pic;
        if (o.picture) pic = String(o.picture).includes('http') ? await downloadPicture(o.picture) : pictureData(o.picture);
        if (!(!pic && o.picture != null)) f.picture = o.picture == null ? null : pic;
        const ch = await call('channel_edit', f);
        channelStore.set(ch.id, ch);
        return channelResult(ch);
      },
      // As wa-js: false where WhatsApp refuses.
      async destroy(id) {
        if (!id || !String(id).includes('newsletter')) throw wppError('send_correctly_newsletter_id', 'Please, send the correct newsletter ID.');
        requireAuth();
        try {
          await call('channel_destroy', { id: String(id) });
          channelStore.delete(String(id));
          return true;
        } catch (e) {
          return false;
        }
      },
      async follow(id) {
        if (!id || !String(id).includes('@newsletter')) throw wppError('invalid_newsletter_id', 'Please provide a valid newsletter ID (must contain @newsletter)');
        requireAuth();
        try {
          const ch = await call('channel_follow', { id: String(id), on: true });
          channelStore.set(ch.id, ch);
          return true;
        } catch (e) {
          // wa-js keeps WhatsApp's error, with its status.
          const err = wppError('newsletter_follow_failed', 'Failed to follow newsletter: ' + e.message);
          err.error = { status: /NOT_FOUND/.test(e.message) ? 404 : 500 };
          throw err;
        }
      },
      async unfollow(id) {
        if (!id || !String(id).includes('@newsletter')) throw wppError('invalid_newsletter_id', 'Please provide a valid newsletter ID (must contain @newsletter)');
        requireAuth();
        try {
          await call('channel_follow', { id: String(id), on: false });
          channelStore.delete(String(id));
          return true;
        } catch (e) {
          const err = wppError('newsletter_unfollow_failed', 'Failed to unfollow newsletter: ' + e.message);
          err.error = { status: /NOT_FOUND/.test(e.message) ? 404 : 500 };
          throw err;
        }
      },
      async mute(id, value) {
        requireAuth();
        const s = knownChannel(id);
        if (value != null && typeof value !== 'boolean') throw wppError('invalid_mute_value', 'Mute value must be boolean');
        const ch = await call('channel_mute', { id: s, on: value !== false });
        channelStore.set(ch.id, ch);
        return channelChat(s);
      },
      async search(query, options) {
        if (!query || !String(query).trim()) throw wppError('invalid_search_query', 'Search query cannot be empty');
        requireAuth();
        const o = options || {};
        try {
          const r = await call('channel_search', { query: String(query).trim(), limit: o.limit || 20, after: o.cursorToken || null });
          return {
            newsletters: r.channels.map((c) => ({
              idJid: c.id, name: c.name, description: c.description, picture: '', subscribersCount: c.subscribers,
              verification: 'UNVERIFIED', handle: null, inviteCode: c.invite, creationTime: c.created,
            })),
            pageInfo: { hasNextPage: !!r.more, endCursor: r.cursor || undefined },
          };
        } catch (e) {
          throw wppError('newsletter_search_failed', 'Failed to search newsletters: ' + e.message);
        }
      },
    },
    labels: {
      async getAllLabels() {
        return [...labelStore.values()].map(labelView);
      },
      async getLabelById(labelId) {
        const l = labelStore.get(String(labelId));
        if (!l) throw wppError('canot_get_label_error', "Can't get label by id");
        return labelView(l);
      },
      async getLabelColorPalette() {
        assertIsBusiness();
        return PALETTE.slice();
      },
      async addNewLabel(labelName, options) {
        requireAuth();
        assertIsBusiness();
        // As wa-js: a colour of 0 counts as none given.
        const color = colorIndex((options && options.labelColor) || undefined);
        const l = await call('label_add', { name: String(labelName), color });
        return labelView({ id: l.id, name: l.name, color: l.color, chats: new Set() });
      },
      async editLabel(id, options) {
        requireAuth();
        assertIsBusiness();
        if (!labelStore.has(String(id))) throw wppError('label_not_exist', 'Label with id ' + id + ' not exist');
        const color = colorIndex((options && options.labelColor) || undefined);
        const l = await call('label_edit', { id: String(id), name: (options && options.name) || undefined, color });
        return labelView({ id: l.id, name: l.name, color: l.color, chats: new Set(l.chats || []) });
      },
      async deleteLabel(ids) {
        requireAuth();
        assertIsBusiness();
        const one = !Array.isArray(ids);
        const out = [];
        for (const id of one ? [ids] : ids) {
          const had = labelStore.has(String(id));
          const gone = had ? await call('label_delete', { id: String(id) }) : false;
          out.push({ id, deleteLabelResult: !!gone });
        }
        return one ? out[0] : out;
      },
      // As wa-js: business only, every chat one the device has.
      async addOrRemoveLabels(chatIds, options) {
        requireAuth();
        assertIsBusiness();
        const ids = (Array.isArray(chatIds) ? chatIds : [chatIds]).map(knownChat);
        // As wa-js: the label is not checked (WhatsApp ignores one it lacks).
        for (const o of Array.isArray(options) ? options : [options]) {
          if (!labelStore.has(String(o.labelId))) continue;
          await call('label_chats', { id: String(o.labelId), chats: ids, type: o.type === 'remove' ? 'remove' : 'add' });
        }
        return true;
      },
    },
    call: {
      // As wa-js: the first ringing call when no id is given; a call that
      // no longer rings cannot be declined.
      async reject(callId) {
        requireAuth();
        const c = callId ? calls.get(callId) : [...calls.values()].find((x) => x.state === 'INCOMING_RING');
        if (!c) throw wppError('call_not_found', 'Call ' + (callId || '<empty>') + ' not found');
        if (c.state !== 'INCOMING_RING') {
          // wa-js sends a group call's decline whatever its state.
          if (c.isGroup) return true;
          throw wppError('call_is_not_incoming_ring', 'Call ' + c.id + ' is not incoming ring');
        }
        try {
          await call('call_reject', { id: c.id });
        } catch (e) {
          // The phone answered or the caller hung up on the way.
          if (/call_is_not_incoming_ring/.test(e.message)) throw wppError('call_is_not_incoming_ring', 'Call ' + c.id + ' is not incoming ring');
          throw e;
        }
        c.state = 'REJECTED';
        return true;
      },
    },
    blocklist: {
      all() { return [...blocked].map(wid); },
      isBlocked(chatId) { return blocked.has(wid(chatId)._serialized); },
      async blockContact(chatId) {
        requireAuth();
        await call('block', { id: wid(chatId)._serialized, block: true });
        blocked.add(wid(chatId)._serialized);
        return { wid: wid(chatId), isBlocked: true };
      },
      async unblockContact(chatId) {
        requireAuth();
        await call('block', { id: wid(chatId)._serialized, block: false });
        blocked.delete(wid(chatId)._serialized);
        return { wid: wid(chatId), isBlocked: false };
      },
    },
    contact: {
      async list(options) {
        let all = contactIds().map(contactModel);
        if (options && options.onlyMyContacts) all = all.filter((c) => c.isMyContact);
        return all;
      },
      async get(contactId) {
        const s = wid(contactId)._serialized;
        return contactIds().includes(s) ? contactModel(s) : undefined;
      },
      // WhatsApp's app state: the phone and every device hear.
      async save(contactId, firstName, options) {
        requireAuth();
        if (!contactId || !firstName) throw wppError('send_the_required_fields', 'Please, send the contact id like <number@c.us> and the name for your contact');
        const w = wid(contactId);
        const o = options || {};
        await call('contact_save', { id: w._serialized, first: firstName, last: o.lastName || o.surname || '', phone_book: o.syncAddressBook !== false });
        addressBook.set(w._serialized, { first: String(firstName).trim(), last: String(o.lastName || o.surname || '').trim() });
        return contactModel(w);
      },
      async remove(contactId) {
        requireAuth();
        const w = wid(contactId);
        const c = await WPP.contact.get(w);
        if (!c) throw wppError('contact_not_found', 'Contact not found');
        if (!c.isMyContact) throw wppError('number_is_not_your_contact', 'The number ' + w._serialized + ' is not your contact');
        await call('contact_remove', { id: w._serialized });
        addressBook.delete(w._serialized);
        return contactModel(w);
      },
      async getPnLidEntry(contactId) {
        requireAuth();
        return call('lid_entry', { id: wid(contactId)._serialized });
      },
      async subscribePresence(ids) {
        requireAuth();
        const list = (Array.isArray(ids) ? ids : [ids]).map((i) => wid(i)._serialized);
        await call('presence_subscribe', { ids: list });
        return list.map(wid);
      },
      async getProfilePictureUrl(contactId, full) {
        requireAuth();
        if (wid(contactId).server === 'newsletter') {
          const ch = channelStore.get(wid(contactId)._serialized);
          return ch && ch.picture ? window.location.origin + '/_sandbox/channels/' + ch.id + '/picture' : undefined;
        }
        if (wid(contactId).server === 'g.us') {
          const g = await call('group_info', { gid: wid(contactId)._serialized });
          return g.has_picture ? window.location.origin + '/_sandbox/groups/' + wid(contactId)._serialized + '/picture' : undefined;
        }
        const p = await call('profile', { id: wid(contactId)._serialized });
        // WhatsApp answers a CDN URL; the sandbox serves pictures itself.
        return p.has_picture ? window.location.origin + '/_sandbox/pictures/' + wid(contactId).user : undefined;
      },
      async getStatus(contactId) {
        requireAuth();
        const p = await call('profile', { id: wid(contactId)._serialized });
        return p.about == null ? null : p.about;
      },
      async getBusinessProfile(contactId) {
        requireAuth();
        const p = await call('profile', { id: wid(contactId)._serialized });
        return p.business || undefined;
      },
      async queryWidExists(contactId) {
        requireAuth();
        const w = wid(contactId);
        if (w.server !== 'c.us') return { wid: w, biz: false };
        // wa-js catches a failed query and answers null, as for a number
        // WhatsApp does not know.
        const exists = await call('exists', { phone: w.user }).catch(() => null);
        return exists ? { wid: w, biz: false } : null;
      },
    },
  };

  // Sandbox internals, for the page's own UI; not part of WPP.
  const device = {
    url: null,
    qrPng: null,
    render() {},
    state() {
      return { online, creds, authCode, chats: [...chats.values()] };
    },
    start(url) {
      if (device.url) return;
      device.url = url;
      // Like WhatsApp Web, know whether we are linked before saying ready.
      // The database may be briefly unavailable right after a browser
      // restart on the same profile: try a few times.
      const load = (tries) => creds_db('get').catch((e) => {
        if (tries <= 1) throw e;
        return new Promise((r) => setTimeout(r, 200)).then(() => load(tries - 1));
      });
      load(10).then((saved) => {
        if (saved && saved.token) creds = saved;
      }, (e) => console.error('sandbox: cannot read credentials', e)).then(() => {
        started = true;
        connect();
        for (const cb of readyCbs.splice(0)) setTimeout(cb, 0);
      });
    },
  };

  // The WhatsApp Web build this page plays. The sandbox can serve a "new
  // build" on which wa-js lacks members (POST /_sandbox/build), as when
  // WhatsApp changes its internals under wa-js.
  const build = window.__sandboxBuild || {};
  window.Debug = { VERSION: build.version || '2.3000.1000000000-sandbox' };
  for (const path of build.missing || []) {
    const keys = path.split('.');
    const last = keys.pop();
    const owner = keys.reduce((o, k) => (o == null ? undefined : o[k]), WPP);
    if (owner) delete owner[last];
  }

  window.WPP = WPP;
  window.__sandboxDevice = device;
})(window);
