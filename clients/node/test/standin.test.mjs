// The client against a stand-in daemon that answers as the daemon's
// contract says, for what the real one does rarely or only on some builds:
// a stream that drops before any event came, a send refused for its quote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Client, LocalAuth, GroupChat, Contact, PrivateContact, BusinessContact, MessageMedia } = require('../index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A daemon with one linked session "s". `stream(req, res, n)` serves the
// n-th event stream; `send(body)` answers a send: [status, value];
// `routes(method, path, body, url)` answers any other request it knows:
// [status, value] (or a promise of it, to answer late).
async function standIn({ stream, send, manage = true, read, routes, port = 0, oneChat = true } = {}) {
  const seen = { streams: [], sends: [], keys: [], chatLists: 0, chatReads: 0, reads: 0 };
  const server = http.createServer(async (req, res) => {
    const json = (status, v, headers = {}) => { res.writeHead(status, { 'content-type': 'application/json', ...headers }); res.end(JSON.stringify(v)); };
    const u = new URL(req.url, 'http://x');
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : undefined;
    const known = routes && (await routes(req.method, u.pathname, body, u));
    if (known) return json(...known);
    if (!manage && req.method === 'POST' && /^\/api\/sessions(\/s\/start)?$/.test(u.pathname)) return json(403, { error: { code: 'forbidden', message: 'this key may not manage sessions' } });
    if (req.method === 'POST' && u.pathname === '/api/sessions') return json(409, { error: { code: 'session_exists', message: 'exists' } });
    if (req.method === 'POST' && u.pathname === '/api/sessions/s/start') return json(200, { id: 's', status: 'CONNECTED' });
    if (req.method === 'GET' && u.pathname === '/api/sessions/s' && read && (seen.reads += 1) && read(seen.reads)) return json(...read(seen.reads));
    if (req.method === 'GET' && u.pathname === '/api/sessions/s') return json(200, { id: 's', status: 'CONNECTED', me: { id: '1@c.us', name: 'Me' }, platform: 'android' });
    if (req.method === 'POST' && /^\/api\/sessions\/s\/chats\/[^/]+\/read$/.test(u.pathname)) return json(200, {});
    if (req.method === 'GET' && u.pathname === '/api/sessions/s/chats') {
      seen.chatLists += 1;
      return json(200, [{ id: '15551234567@c.us', name: 'Ann', unread: seen.chatLists }]);
    }
    const one = req.method === 'GET' && u.pathname.match(/^\/api\/sessions\/s\/chats\/([^/]+)$/);
    if (one) {
      // A daemon from before the route: axum's answer for another method's path.
      if (!oneChat) { res.writeHead(405); return res.end(); }
      seen.chatReads += 1;
      const id = decodeURIComponent(one[1]);
      return id === '15551234567@c.us' ? json(200, { id, name: 'Ann', unread: seen.chatReads })
        : json(404, { error: { code: 'chat_not_found', message: `this account has no chat '${id}'` } });
    }
    if (req.method === 'POST' && u.pathname === '/api/sessions/s/messages') {
      seen.sends.push(body);
      seen.keys.push(req.headers['idempotency-key']);
      const [status, v, headers] = send ? send(body, seen.sends.length) : [201, null];
      return json(status, v || { id: `true_${body.to}_${seen.sends.length}`, to: body.to, timestamp: 1, ack: 'sent' }, headers);
    }
    if (req.method === 'GET' && u.pathname === '/api/events') {
      seen.streams.push({ lastEventId: req.headers['last-event-id'], url: req.url });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (stream) return stream(req, res, seen.streams.length);
      return undefined; // kept open, as a live stream with nothing to say
    }
    return json(404, { error: { code: 'not_found', message: req.url } });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => { server.closeAllConnections(); server.close(); } };
}

// A client of `d`; both are ended when test `t` is, failed or not.
function client(t, d) {
  const c = new Client({ authStrategy: { clientId: 's' }, wabridge: { url: d.url, key: 'k' } });
  t.after(async () => { await c.destroy(); d.close(); });
  return c;
}

test("a stream that drops before any event resumes from where it began (': from N'): nothing logged meanwhile is lost", async (t) => {
  const d = await standIn({
    stream: (req, res, n) => {
      res.write(': from 41\n\n');
      if (n === 1) setTimeout(() => res.end(), 50); // the drop
    },
  });
  const c = client(t, d);
  await c.initialize();
  for (let i = 0; i < 100 && d.seen.streams.length < 2; i++) await sleep(20);
  assert.equal(d.seen.streams.length, 2, 'it came back');
  assert.equal(d.seen.streams[0].lastEventId, undefined);
  assert.equal(d.seen.streams[1].lastEventId, '41', 'resumed after the place the first stream began at');
});

test('destroy() during a pause between streams leaves no timer holding the process', async (t) => {
  const d = await standIn({ stream: (req, res) => res.end() });
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const c = client(t, d);
  await c.initialize();
  await sleep(300); // the stream ended: the client waits before it comes back
  await c.destroy();
  await sleep(10);
  assert.ok(timers() <= before, 'no timer left');
});

const GONE = 'false_2@c.us_DELETED';
const NONE = 'false_2@c.us_NEVERSEEN';
// As the daemon answers (core/send.rs): a quote of a message deleted for
// everyone is 409 message_revoked, of one WhatsApp Web does not have 422 on reply_to.
function quotes(body) {
  if (body.reply_to === GONE) return [409, { error: { code: 'message_revoked', message: `message '${GONE}' was deleted for everyone: it cannot be replied to` } }];
  if (body.reply_to === NONE) return [422, { error: { code: 'invalid_field', message: `field 'reply_to' names no message this account has: ${NONE}` } }];
  if (body.to === 'nobody') return [422, { error: { code: 'invalid_field', message: "field 'to' is not a phone number" } }];
  return [201, null];
}

test('a quote whatsapp-web.js would leave out is left out: deleted for everyone, or unknown (ignoreQuoteErrors, default true)', async (t) => {
  const d = await standIn({ send: quotes });
  const c = client(t, d);
  const r1 = await c.sendMessage('2@c.us', 'to a deleted one', { quotedMessageId: GONE, sendSeen: false });
  assert.equal(r1.hasQuotedMsg, false);
  assert.deepEqual(d.seen.sends.map((b) => b.reply_to), [GONE, undefined], 'sent again without the quote');
  assert.equal(d.seen.sends[1].text, 'to a deleted one');
  const r2 = await c.sendMessage('2@c.us', 'to an unknown one', { quotedMessageId: NONE, sendSeen: false });
  assert.equal(r2.hasQuotedMsg, false);
  assert.deepEqual(d.seen.sends.slice(2).map((b) => b.reply_to), [NONE, undefined]);
  // ignoreQuoteErrors: false: an unknown quote is an error; a deleted one never is (whatsapp-web.js: canReply).
  await assert.rejects(() => c.sendMessage('2@c.us', 'strict', { quotedMessageId: NONE, ignoreQuoteErrors: false, sendSeen: false }), /reply_to/);
  assert.equal((await c.sendMessage('2@c.us', 'strict', { quotedMessageId: GONE, ignoreQuoteErrors: false, sendSeen: false })).hasQuotedMsg, false);
  // Other refusals are the caller's, sent once.
  const n = d.seen.sends.length;
  await assert.rejects(() => c.sendMessage('nobody', 'x', { quotedMessageId: GONE, sendSeen: false }), /field 'to'/);
  await assert.rejects(() => c.sendMessage('nobody', 'x', { sendSeen: false }), /field 'to'/);
  assert.equal(d.seen.sends.length, n + 3);
});

test("getQuotedMessage() answers from what the reply carries when the daemon has no copy of the quoted message", async (t) => {
  const reply = {
    id: 'false_2@c.us_R', chat: '2@c.us', from: '2@c.us', to: '1@c.us', from_me: false, type: 'image', text: null,
    caption: 'the blue one?', timestamp: 5, ack: 'delivered', sender: { phone: '2', name: 'Dora' },
    reply_to: 'true_2@c.us_OLD', quoted: { from: '1@c.us', type: 'text', text: 'we have red and blue' }, media: null,
  };
  const d = await standIn({
    stream: (req, res, n) => {
      if (n === 1) res.write(`id: 1\nevent: message\ndata: ${JSON.stringify({ id: 'evt_1', event: 'message', session: 's', timestamp: Date.now(), payload: reply })}\n\n`);
    },
  });
  const c = client(t, d);
  const got = new Promise((r) => c.on('message', r));
  await c.initialize();
  const msg = await got;
  assert.equal(msg.hasQuotedMsg, true);
  const q = await msg.getQuotedMessage();
  assert.deepEqual([q.id._serialized, q.fromMe, q.type, q.body], ['true_2@c.us_OLD', true, 'chat', 'we have red and blue']);
});

test('media_uploaded, listened to alone, asks for the acks it comes from: once per media message, at its first ack', async (t) => {
  const photo = {
    id: 'true_2@c.us_P', chat: '2@c.us', from: '1@c.us', to: '2@c.us', from_me: true, type: 'image', text: null,
    caption: 'dot', timestamp: 5, ack: 'delivered', sender: { phone: '1' }, media: { mimetype: 'image/png' },
  };
  const text = { ...photo, id: 'true_2@c.us_T', type: 'text', text: 'hi', caption: null, media: null };
  const ack = (n, m, a) => `id: ${n}\nevent: message.ack\ndata: ${JSON.stringify({ id: `evt_${n}`, event: 'message.ack', session: 's', timestamp: Date.now(), payload: { id: m.id, chat: m.chat, ack: a, message: { ...m, ack: a } } })}\n\n`;
  const d = await standIn({
    // The photo's first ack here is delivered (sent was missed); then read.
    stream: (req, res, n) => { if (n === 1) res.write(ack(1, text, 'sent') + ack(2, photo, 'delivered') + ack(3, photo, 'read')); },
  });
  const c = client(t, d);
  const heard = [];
  c.on('media_uploaded', (m) => heard.push(m));
  await c.initialize();
  for (let i = 0; i < 100 && heard.length < 1; i++) await sleep(20);
  await sleep(100);
  assert.match(d.seen.streams[0].url, /message\.ack/, 'the stream asked for acks');
  assert.deepEqual(heard.map((m) => [m.id._serialized, m.type, m.hasMedia]), [['true_2@c.us_P', 'image', true]]);
});

test('a send the daemon\'s pacing refuses (429, Retry-After) goes once it may, as whatsapp-web.js\'s would; other refusals are errors', async (t) => {
  const paced = { error: { code: 'rate_limited', message: 'this session sends 30 a minute' } };
  const d = await standIn({
    send: (body, n) => (body.text === 'paced' && n === 1 ? [429, paced, { 'retry-after': '1' }]
      : body.text === 'refused' ? [429, paced] : [201, null]),
  });
  const c = client(t, d);
  await c.initialize();
  const t0 = Date.now();
  const m = await c.sendMessage('15551234567@c.us', 'paced', { sendSeen: false });
  assert.ok(Date.now() - t0 >= 900, 'waited as told');
  assert.equal(d.seen.sends.length, 2, 'asked again once');
  assert.equal(m.body, 'paced');
  // No Retry-After: nothing says when, so the caller hears of it.
  await assert.rejects(c.sendMessage('15551234567@c.us', 'refused', { sendSeen: false }), (e) => e.code === 'rate_limited' && e.status === 429);
});

test('a send whose outcome the daemon does not know yet (503) is asked again under its own Idempotency-Key, a forward is paced as a send, a refusal that stands is an error', async (t) => {
  const unknown = { error: { code: 'send_outcome_unknown', message: 'the browser went away mid-send' } };
  const notReady = { error: { code: 'session_not_ready', message: "session 's' is not connected (status SCAN_QR)" } };
  const paced = { error: { code: 'rate_limited', message: 'this session sends 30 a minute' } };
  const d = await standIn({
    send: (body, n) => (body.text === 'lost' && n === 1 ? [503, unknown, { 'retry-after': '1' }]
      : body.text === 'lost' && n === 2 ? [409, { error: { code: 'idempotency_in_progress', message: 'still going' } }, { 'retry-after': '1' }]
      : body.forward && n === 4 ? [429, paced, { 'retry-after': '1' }]
      : body.text === 'unlinked' ? [409, notReady] : [201, null]),
  });
  const c = client(t, d);
  await c.initialize();
  const m = await c.sendMessage('15551234567@c.us', 'lost', { sendSeen: false });
  assert.equal(m.body, 'lost');
  assert.equal(d.seen.sends.length, 3, 'asked until answered');
  assert.ok(d.seen.keys[0] && d.seen.keys.slice(0, 3).every((k) => k === d.seen.keys[0]), 'one key for one send');
  await m.forward('15557654321@c.us');
  assert.equal(d.seen.sends.length, 5, 'the paced forward was asked again');
  assert.equal(d.seen.keys[3], d.seen.keys[4]);
  assert.notEqual(d.seen.keys[3], d.seen.keys[0], 'another send, another key');
  // A session that is not on its way back (CONNECTED as far as the client
  // heard, yet refused): the caller hears of it at once.
  await assert.rejects(c.sendMessage('15551234567@c.us', 'unlinked', { sendSeen: false }), (e) => e.code === 'session_not_ready' && e.status === 409);
  assert.equal(d.seen.sends.length, 6);
});

test('destroy() ends a send waiting to be asked again: it rejects at once, and nothing is sent after', async (t) => {
  const busy = { error: { code: 'server_busy', message: 'busy' } };
  const d = await standIn({ send: () => [503, busy, { 'retry-after': '30' }] });
  const c = client(t, d);
  await c.initialize();
  const sent = c.sendMessage('15551234567@c.us', 'later', { sendSeen: false });
  for (let i = 0; i < 100 && d.seen.sends.length < 1; i++) await sleep(20);
  const t0 = Date.now();
  await c.destroy();
  await assert.rejects(sent, (e) => e.status === 503);
  assert.ok(Date.now() - t0 < 2000, 'at once');
  assert.equal(d.seen.sends.length, 1);
});

test('initialize() before the daemon is up waits for it, as a bot started first by docker compose needs', async (t) => {
  const free = http.createServer();
  await new Promise((r) => free.listen(0, '127.0.0.1', r));
  const port = free.address().port;
  await new Promise((r) => free.close(r));
  const c = new Client({ authStrategy: { clientId: 's' }, wabridge: { url: `http://127.0.0.1:${port}`, key: 'k' } });
  let d;
  t.after(async () => { await c.destroy(); if (d) d.close(); });
  const started = c.initialize();
  await sleep(1200);
  d = await standIn({ port });
  const ready = new Promise((r) => c.once('ready', r));
  await started;
  await ready;
});

test('a key that may read and send but not manage sessions follows the session as it is', async (t) => {
  const d = await standIn({ manage: false });
  const c = client(t, d);
  const ready = new Promise((r) => c.once('ready', r));
  await c.initialize();
  await ready;
  for (let i = 0; i < 100 && d.seen.streams.length < 1; i++) await sleep(20);
  assert.equal(d.seen.streams.length, 1, 'it follows the stream');
  // A daemon that refuses the key outright is still an error.
  const none = await standIn({ manage: false });
  const refused = new Client({ authStrategy: { clientId: 'nobody' }, wabridge: { url: none.url, key: 'k' } });
  t.after(async () => { await refused.destroy(); none.close(); });
  await assert.rejects(refused.initialize(), (e) => e.status === 403);
});

test('msg.getChat() asks for that one chat, never the whole list, and sees a change at once; a daemon without that route has its list read', async (t) => {
  const d = await standIn();
  const c = client(t, d);
  await c.initialize();
  for (let i = 0; i < 5; i++) assert.equal((await c.getChatById('15551234567@c.us')).name, 'Ann');
  assert.deepEqual([d.seen.chatReads, d.seen.chatLists], [5, 0]);
  // One the account does not have: a chat with its id only, as before.
  assert.equal((await c.getChatById('15550000000@c.us')).id._serialized, '15550000000@c.us');
  const before = (await c.getChatById('15551234567@c.us')).unreadCount;
  await c.sendSeen('15551234567@c.us');
  const after = (await c.getChatById('15551234567@c.us')).unreadCount;
  assert.notEqual(after, before);
  assert.equal(d.seen.chatLists, 0);
  // The status chat: no chat of the list, nothing asked.
  const reads = d.seen.chatReads;
  assert.equal((await c.getChatById('status@broadcast')).id._serialized, 'status@broadcast');
  assert.equal(d.seen.chatReads, reads);
  const old = await standIn({ oneChat: false });
  const o = client(t, old);
  await o.initialize();
  assert.equal((await o.getChatById('15551234567@c.us')).name, 'Ann');
  assert.equal(old.seen.chatLists, 1);
});

test('an initialize() whose session read fails stops following, and a retry starts over to ready', async (t) => {
  const d = await standIn({ read: (n) => (n === 1 ? [503, { error: { code: 'busy', message: 'busy' } }] : undefined) });
  const c = client(t, d);
  await assert.rejects(c.initialize(), (e) => e.status === 503);
  assert.equal(c._following, false, 'not following half-way');
  const ready = new Promise((r) => c.once('ready', r));
  await c.initialize();
  await ready;
});

test('a kept place ahead of the daemon\'s log (a data dir restored) follows the log back', async (t) => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dataPath = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-place-'));
  const d = await standIn({ stream: (req, res) => res.write(': from 5\n\n') });
  const auth = new LocalAuth({ clientId: 's', dataPath });
  const file = auth.resumeFile();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ url: d.url, session: 's', place: '100' }));
  const c = new Client({ authStrategy: auth, wabridge: { url: d.url, key: 'k' } });
  t.after(async () => { await c.destroy(); d.close(); fs.rmSync(dataPath, { recursive: true, force: true }); });
  await c.initialize();
  for (let i = 0; i < 100 && d.seen.streams.length < 1; i++) await sleep(20);
  assert.equal(d.seen.streams[0].lastEventId, '100', 'resumed from the kept place');
  await sleep(100);
  await c.destroy();
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).place, '5', 'the place follows the log back');
});

test('in a group that addresses its members by privacy id: the author, read-only, common groups and notices go by that id, ours too', async (t) => {
  const event = (n, event, payload) => `id: ${n}\nevent: ${event}\ndata: ${JSON.stringify({ id: `evt_${n}`, event, session: 's', timestamp: Date.now(), payload })}\n\n`;
  // We are 1 (privacy id 11@lid), an admin; Bo is 2 (22@lid). The groups
  // list both by privacy id, Bo's phone known in one only.
  const lids = { '1@c.us': ['11@lid', '1'], '2@c.us': ['22@lid', '2'] };
  const team = { id: '9@g.us', subject: 'Team', announce: true, participants: [{ id: '11@lid', phone: null, admin: true }, { id: '22@lid', phone: '2' }] };
  const club = { id: '8@g.us', subject: 'Club', participants: [{ id: '11@lid', phone: null }, { id: '22@lid', phone: null }] };
  const routes = (method, path) => {
    const who = path.match(/^\/api\/sessions\/s\/contacts\/([^/]+)\/lid$/);
    if (method === 'GET' && who && lids[decodeURIComponent(who[1])]) {
      const [lid, phone] = lids[decodeURIComponent(who[1])];
      return [200, { id: `${phone}@c.us`, lid, phone }];
    }
    if (method === 'GET' && path === '/api/sessions/s/groups') return [200, [team, club]];
    if (method === 'GET' && path === '/api/sessions/s/groups/9%40g.us') return [200, team];
    return undefined;
  };
  const d = await standIn({
    routes,
    stream: (req, res, n) => {
      if (n !== 1) return;
      res.write(event(1, 'message', {
        id: 'false_9@g.us_3A1_22@lid', chat: '9@g.us', from: '9@g.us', to: '1@c.us', from_me: false, type: 'text', text: 'hi @11',
        timestamp: 5, ack: 'delivered', sender: { phone: '2', lid: '22@lid', name: 'Bo' }, mentions: ['11@lid'], media: null,
      }));
      res.write(event(2, 'group.update', { group: '9@g.us', subject: 'Team 2', author: '11@lid' }));
    },
  });
  const c = client(t, d);
  const got = new Promise((r) => c.on('message', r));
  const notice = new Promise((r) => c.on('group_update', r));
  await c.initialize();
  const msg = await got;
  // As whatsapp-web.js: the id the group names the writer by.
  assert.deepEqual([msg.author, msg.id.participant], ['22@lid', '22@lid']);
  const chat = await msg.getChat();
  assert.ok(chat.participants.some((p) => p.id._serialized === msg.author));
  assert.equal(chat.isReadOnly, false, 'we are an admin, under our privacy id');
  assert.equal((await msg.getContact()).number, '2');
  assert.equal((await notice).id.fromMe, true, 'we changed the subject');
  const common = (await c.getCommonGroups('2@c.us')).map((g) => g._serialized).sort();
  assert.deepEqual(common, ['8@g.us', '9@g.us']);
});

test('message_create, then message, with the one Message, as whatsapp-web.js emits them; ours only message_create; none twice when a stream replays', async (t) => {
  const event = (n, event, payload) => ({ n, event, text: `id: ${n}\nevent: ${event}\ndata: ${JSON.stringify({ id: `evt_${n}`, event, session: 's', timestamp: Date.now(), payload })}\n\n` });
  const msg = (id, fromMe) => ({
    id, chat: '2@c.us', from: fromMe ? '1@c.us' : '2@c.us', to: fromMe ? '2@c.us' : '1@c.us', from_me: fromMe, type: 'text', text: id,
    timestamp: 5, ack: 'delivered', sender: { phone: fromMe ? '1' : '2' }, media: null,
  });
  const [m, o, n, p] = [msg('false_2@c.us_M', false), msg('true_2@c.us_O', true), msg('false_2@c.us_N', false), msg('false_2@c.us_P', false)];
  // As the daemon logs them: another's 'message' before its 'message.any';
  // ours 'message.any' only; N the other way round (it should not be).
  const log = [event(1, 'message', m), event(2, 'message.any', m), event(3, 'message.any', o), event(4, 'message.any', n), event(5, 'message', n)];
  const later = [event(6, 'message', p), event(7, 'message.any', p)];
  const daemon = () => standIn({
    stream: (req, res, k) => {
      const asked = new URL(req.url, 'http://x').searchParams.get('events').split(',');
      // The first stream drops; the second replays it all (Last-Event-ID
      // not heeded), then goes on.
      const events = k === 1 ? log : k === 2 ? [...log, ...later] : [];
      for (const e of events) if (asked.includes(e.event)) res.write(e.text);
      if (k === 1) setTimeout(() => res.end(), 50);
    },
  });
  const heard = async (events, count) => {
    const d = await daemon();
    const c = client(t, d);
    const got = [];
    for (const e of events) c.on(e, (msg) => got.push([e, msg.id._serialized, msg]));
    await c.initialize();
    // As many as told, and a moment for any told twice.
    for (let i = 0; i < 150 && got.length < count; i++) await sleep(20);
    await sleep(200);
    return got;
  };
  const both = await heard(['message_create', 'message'], 7);
  assert.deepEqual(both.map(([e, id]) => [e, id]), [
    ['message_create', m.id], ['message', m.id], ['message_create', o.id], ['message_create', n.id], ['message', n.id],
    ['message_create', p.id], ['message', p.id],
  ]);
  for (const i of [0, 3, 5]) assert.equal(both[i][2], both[i + 1][2], 'the same Message to both');
  // message_create alone: another's messages too, each once.
  const created = await heard(['message_create'], 4);
  assert.deepEqual(created.map(([e, id]) => [e, id]), [m.id, o.id, n.id, p.id].map((id) => ['message_create', id]));
});

const sse = (n, event, payload) => `id: ${n}\nevent: ${event}\ndata: ${JSON.stringify({ id: `evt_${n}`, event, session: 's', timestamp: Date.now(), payload })}\n\n`;
const ME = { id: 's', status: 'CONNECTED', me: { id: '1@c.us', name: 'Me' }, platform: 'android' };
// The session read answered only once the stream was served, and read: so
// whatever the stream brings comes while initialize() is under way.
const lateRead = (d) => async (method, path) => {
  if (method !== 'GET' || path !== '/api/sessions/s') return undefined;
  while (!d.seen.streams.length) await sleep(10);
  await sleep(150);
  return [200, ME];
};

test('ready, authenticated and the backlog come after initialize() resolved: a bot that listens once it awaited initialize() hears them, and the kept place passes nothing unheard', async (t) => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dataPath = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-late-'));
  const backlog = {
    id: 'false_2@c.us_B', chat: '2@c.us', from: '2@c.us', to: '1@c.us', from_me: false, type: 'text', text: 'while none ran',
    timestamp: 5, ack: 'delivered', sender: { phone: '2', name: 'Bo' }, media: null,
  };
  const d = await standIn({
    routes: (...a) => lateRead(d)(...a),
    stream: (req, res, n) => { if (n === 1) res.write(sse(11, 'message', backlog)); },
  });
  const auth = new LocalAuth({ clientId: 's', dataPath });
  fs.mkdirSync(path.dirname(auth.resumeFile()), { recursive: true });
  fs.writeFileSync(auth.resumeFile(), JSON.stringify({ url: d.url, session: 's', place: '10' }));
  const c = new Client({ authStrategy: auth, wabridge: { url: d.url, key: 'k' } });
  t.after(async () => { await c.destroy(); d.close(); fs.rmSync(dataPath, { recursive: true, force: true }); });
  await c.initialize();
  const heard = [];
  c.on('authenticated', () => heard.push('authenticated'));
  c.on('ready', () => heard.push('ready'));
  c.on('message', (m) => heard.push(m.body));
  for (let i = 0; i < 100 && heard.length < 3; i++) await sleep(20);
  await sleep(100);
  assert.deepEqual(heard, ['authenticated', 'ready', 'while none ran']);
  assert.equal(d.seen.streams[0].lastEventId, '10');
  await c.destroy();
  assert.equal(JSON.parse(fs.readFileSync(auth.resumeFile(), 'utf8')).place, '11', 'the place passed the message once it was heard');
});

test('a CONNECTED the stream brings while initialize() is under way waits for it: ready once, after', async (t) => {
  const d = await standIn({
    routes: (...a) => lateRead(d)(...a),
    stream: (req, res, n) => { if (n === 1) res.write(sse(1, 'session.status', { status: 'CONNECTED', me: ME.me })); },
  });
  const c = client(t, d);
  await c.initialize();
  const heard = [];
  for (const e of ['authenticated', 'ready', 'change_state']) c.on(e, () => heard.push(e));
  for (let i = 0; i < 100 && heard.length < 2; i++) await sleep(20);
  await sleep(150);
  assert.deepEqual(heard, ['authenticated', 'ready']);
});

test('a stream that says nothing, not even a keep-alive, is opened again after the last event; one with keep-alives is kept', async (t) => {
  const d = await standIn({
    stream: (req, res, n) => {
      res.write(': from 5\n\n');
      if (n === 1) return; // half-open: nothing more, never closed
      const alive = setInterval(() => res.write(': keep-alive\n\n'), 100);
      res.on('close', () => clearInterval(alive));
    },
  });
  const c = client(t, d);
  c._idleMs = 400;
  const errors = [];
  c.on('error', (e) => errors.push(e.message));
  await c.initialize();
  for (let i = 0; i < 100 && d.seen.streams.length < 2; i++) await sleep(20);
  assert.equal(d.seen.streams.length, 2, 'opened again');
  assert.equal(d.seen.streams[1].lastEventId, '5', 'resumed after the place the silent stream began at');
  assert.match(errors.join('\n'), /said nothing/);
  await sleep(1000);
  assert.equal(d.seen.streams.length, 2, 'keep-alives keep it');
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  await c.destroy();
  assert.equal(c._idle && c._idle.hasRef(), false, 'the idle timer holds no process open');
  await sleep(10);
  assert.ok(timers() <= before);
});

test('getNumberId and isRegisteredUser: null and false for a number the daemon finds malformed (422), as whatsapp-web.js', async (t) => {
  const d = await standIn({
    routes: (method, path) => {
      if (method !== 'GET') return undefined;
      if (path === '/api/sessions/s/contacts/abc') return [422, { error: { code: 'invalid_field', message: "field 'phone' is not a phone number" } }];
      if (path === '/api/sessions/s/contacts/15550000000') return [200, { exists: false, id: null }];
      if (path === '/api/sessions/s/contacts/15551234567') return [200, { exists: true, id: '15551234567@c.us' }];
      if (path === '/api/sessions/s/contacts/15559999999') return [503, { error: { code: 'busy', message: 'busy' } }];
      return undefined;
    },
  });
  const c = client(t, d);
  assert.equal(await c.getNumberId('abc'), null);
  assert.equal(await c.isRegisteredUser('abc'), false);
  assert.equal(await c.getNumberId('15550000000'), null);
  assert.equal((await c.getNumberId('15551234567@c.us'))._serialized, '15551234567@c.us');
  assert.equal(await c.isRegisteredUser('15551234567'), true);
  await assert.rejects(c.getNumberId('15559999999'), (e) => e.status === 503, 'other trouble is still an error');
});

test('getInviteCode() is undefined where WhatsApp refuses; a group contact is not blocked (false); our own contact has no chat (null)', async (t) => {
  const asked = [];
  const d = await standIn({
    routes: (method, path) => {
      asked.push(`${method} ${path}`);
      if (path === '/api/sessions/s/groups/9%40g.us/invite') return [409, { error: { code: 'not_group_admin', message: 'only admins' } }];
      if (path === '/api/sessions/s/groups/8%40g.us/invite') return [200, { code: 'ABC', link: 'https://chat.whatsapp.com/ABC' }];
      if (path === '/api/sessions/s/groups/7%40g.us/invite') return [503, { error: { code: 'busy', message: 'busy' } }];
      return undefined;
    },
  });
  const c = client(t, d);
  const group = (id) => new GroupChat(c, { id }, { id, subject: 'G', participants: [] });
  assert.equal(await group('9@g.us').getInviteCode(), undefined);
  assert.equal(await group('8@g.us').getInviteCode(), 'ABC');
  await assert.rejects(group('7@g.us').getInviteCode(), (e) => e.status === 503);
  const g = new Contact(c, '9@g.us', { name: 'G' });
  assert.equal(await g.block(), false);
  assert.equal(await g.unblock(), false);
  assert.ok(!asked.some((a) => a.includes('/block') || a.includes('/unblock')), 'nothing asked of the daemon');
  const ready = new Promise((r) => c.once('ready', r));
  await c.initialize();
  await ready;
  assert.equal(await new Contact(c, '1@c.us', 'Me').getChat(), null);
  assert.equal((await new Contact(c, '15551234567@c.us', 'Ann').getChat()).name, 'Ann');
});

test("a group made with this account in it (group.join 'create') is group_update, as whatsapp-web.js; an add is group_join", async (t) => {
  const d = await standIn({
    stream: (req, res, n) => {
      if (n !== 1) return;
      res.write(sse(1, 'group.join', { group: '9@g.us', action: 'create', author: '2@c.us', participants: ['1@c.us', '2@c.us'] }));
      res.write(sse(2, 'group.join', { group: '8@g.us', action: 'add', author: '2@c.us', participants: ['1@c.us'] }));
    },
  });
  const c = client(t, d);
  const heard = [];
  c.on('group_update', (n) => heard.push(['group_update', n.type, n.chatId, n.recipientIds]));
  c.on('group_join', (n) => heard.push(['group_join', n.type, n.chatId, n.recipientIds]));
  await c.initialize();
  for (let i = 0; i < 100 && heard.length < 2; i++) await sleep(20);
  await sleep(100);
  assert.deepEqual(heard, [['group_update', 'create', '9@g.us', ['1@c.us', '2@c.us']], ['group_join', 'add', '8@g.us', ['1@c.us']]]);
  // A bot that listens to group_update alone asks the stream for group.join too.
  const lone = new Client({ wabridge: { url: d.url, key: 'k' } });
  lone.on('group_update', () => {});
  assert.ok(lone._wantedKinds().split(',').includes('group.join'));
});

test('contacts are PrivateContacts or, for a business account, BusinessContacts, as whatsapp-web.js builds them', async (t) => {
  const people = [
    { id: '2@c.us', name: 'Shop', saved: true, business: true },
    { id: '3@c.us', name: 'Ann', saved: true, business: false },
  ];
  const d = await standIn({
    routes: (method, path, body, u) => {
      if (method !== 'GET') return undefined;
      if (path === '/api/sessions/s/contacts') {
        const id = u.searchParams.get('id');
        return [200, id ? people.filter((p) => p.id === id) : people];
      }
      if (path === '/api/sessions/s/groups') return [200, [{ id: '9@g.us', subject: 'Team', participants: [] }]];
      if (path === '/api/sessions/s/blocklist') return [200, { blocked: ['2@c.us', '4@c.us'] }];
      return undefined;
    },
  });
  const c = client(t, d);
  const shop = await c.getContactById('2@c.us');
  assert.ok(shop instanceof BusinessContact && shop instanceof Contact && shop.isBusiness);
  assert.ok('businessProfile' in shop);
  assert.ok((await c.getContactById('3@c.us')) instanceof PrivateContact);
  assert.ok((await c.getContactById('4@c.us')) instanceof PrivateContact, 'one WhatsApp Web does not know');
  const all = await c.getContacts();
  assert.deepEqual(all.map((x) => [x.id._serialized, x.constructor.name]),
    [['2@c.us', 'BusinessContact'], ['3@c.us', 'PrivateContact'], ['9@g.us', 'PrivateContact']]);
  assert.deepEqual((await c.getBlockedContacts()).map((x) => x.constructor.name), ['BusinessContact', 'PrivateContact']);
  const msg = c._message({ id: 'false_2@c.us_X', chat: '2@c.us', from: '2@c.us', from_me: false, type: 'text', text: 'hi', sender: { phone: '2', name: 'Shop' } });
  assert.ok((await msg.getContact()) instanceof BusinessContact);
});

test('MessageMedia.fromUrl: the type by the path\'s extension first, then Content-Type, as whatsapp-web.js; a malformed %-escape is no error', async (t) => {
  const server = http.createServer((req, res) => {
    const type = { '/photo.jpg': 'binary/octet-stream', '/render': 'image/png; charset=binary', '/bad%E0%A4%A.png': 'application/octet-stream' }[req.url];
    res.writeHead(200, type ? { 'content-type': type } : {});
    res.end('xyz');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  const jpg = await MessageMedia.fromUrl(`${base}/photo.jpg`);
  assert.deepEqual([jpg.mimetype, jpg.filename, jpg.data, jpg.filesize], ['image/jpeg', 'photo.jpg', Buffer.from('xyz').toString('base64'), 3]);
  assert.equal((await MessageMedia.fromUrl(`${base}/render`)).mimetype, 'image/png');
  const bad = await MessageMedia.fromUrl(`${base}/bad%E0%A4%A.png`);
  assert.deepEqual([bad.mimetype, bad.filename], ['image/png', 'bad%E0%A4%A.png']);
  await assert.rejects(MessageMedia.fromUrl(`${base}/nothing`), /unsafeMime/);
  assert.equal((await MessageMedia.fromUrl(`${base}/nothing`, { unsafeMime: true })).mimetype, 'application/octet-stream');
});
