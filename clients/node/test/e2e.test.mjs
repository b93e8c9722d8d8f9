// End to end: a bot written in whatsapp-web.js style, with only its
// `require` changed, against the real daemon (real headless Chromium) and
// the sandbox standing in for WhatsApp.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import crypto from 'node:crypto';

const require = createRequire(import.meta.url);
// The one line a whatsapp-web.js bot changes:
const { Client, LocalAuth, RemoteAuth, MessageMedia, Location, Poll, GroupChat, ScheduledEvent } = require('../index.js');

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
const BIN = process.env.WABRIDGE_BIN || path.join(ROOT, 'target/debug/wabridge');
const KEY = 'wab_node_client_test_key';
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-node-'));
let sandbox, daemon, sbUrl, url, daemonArgs;

const freePort = () => new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function eventually(what, f, ms = 60000) {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
async function up(u) { try { return (await fetch(u + '/health')).ok || true; } catch { return false; } }
function run(args, log) {
  return spawn(BIN, args, { env: { ...process.env, WABRIDGE_API_KEY: KEY, WABRIDGE_SEND_PER_MINUTE: '0' }, stdio: ['ignore', fs.openSync(path.join(dir, log), 'a'), fs.openSync(path.join(dir, log), 'a')] });
}
async function startDaemon() {
  daemon = run(daemonArgs, 'daemon.log');
  await eventually('the daemon', () => up(url));
}
const sb = (p, body) => fetch(sbUrl + p, { method: body ? 'POST' : 'GET', headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) }).then((r) => r.json());
const sent = (account) => sb(`/_sandbox/messages?account=${account}`);

before(async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  sbUrl = `http://127.0.0.1:${p2}`;
  url = `http://127.0.0.1:${p1}`;
  sandbox = run(['sandbox', '--listen', `127.0.0.1:${p2}`, '--state', path.join(dir, 'sandbox.json'), '--ack-delay-ms', '100'], 'sandbox.log');
  await eventually('the sandbox', async () => { try { return (await fetch(sbUrl + '/')).ok; } catch { return false; } });
  daemonArgs = ['serve', '--wa-url', sbUrl + '/', '--listen', `127.0.0.1:${p1}`, '--data-dir', path.join(dir, 'data')];
  await startDaemon();
});

// Every client a test made: destroyed at the end, so that a failed test
// leaves no stream holding the process open.
const made = [];
// The data dir and the logs are kept when a test failed, and said where.
let failed = false;
afterEach((t) => { if (!t.passed) failed = true; });
after(async () => {
  await Promise.all(made.map((c) => c.destroy()));
  const gone = (p) => p && p.exitCode === null && p.signalCode === null ? new Promise((r) => { p.once('exit', r); p.kill('SIGKILL'); }) : null;
  await Promise.all([gone(daemon), gone(sandbox)]);
  if (failed) console.error(`kept ${dir} (the daemon's and the sandbox's logs)`);
  else fs.rmSync(dir, { recursive: true, force: true });
});

// A client whose QR the "phone" scans as soon as it is shown.
function bot(clientId, phone) {
  const client = new Client({ authStrategy: new LocalAuth({ clientId, dataPath: path.join(dir, 'auth') }), wabridge: { url, key: KEY } });
  made.push(client);
  client.qrs = [];
  client.on('qr', (qr) => { client.qrs.push(qr); sb('/_sandbox/link', { qr, phone, name: clientId }).catch(() => {}); });
  client.seen = [];
  client.on('message', async (msg) => {
    client.seen.push(msg.id._serialized);
    if (msg.body === '!ping') await msg.reply('pong');
    if (msg.body === '!media') await client.sendMessage(msg.from, new MessageMedia('image/png', PNG.toString('base64'), 'dot.png'), { caption: 'a dot' });
  });
  return client;
}

test('a whatsapp-web.js bot runs unchanged: ping, pong, media, history', async () => {
  const client = bot('shop', '15550001111');
  const ready = new Promise((res) => client.once('ready', res));
  await client.initialize();
  await ready;
  assert.equal(client.info.wid._serialized, '15550001111@c.us');
  assert.equal(await client.getState(), 'CONNECTED');

  const ping = await sb('/_sandbox/messages', { from: '15551234567', to: '15550001111', text: '!ping', name: 'Alice' });
  const pong = await eventually('pong', async () => (await sent('15550001111')).find((m) => m.text === 'pong'));
  assert.ok(pong.id.startsWith('true_15551234567@c.us_'));
  await sb('/_sandbox/messages', { from: '15551234567', to: '15550001111', text: '!media' });
  const media = await eventually('the media', async () => (await sent('15550001111')).find((m) => m.caption === 'a dot'));
  assert.equal(media.media.mimetype, 'image/png');

  const chat = await client.getChatById('15551234567@c.us');
  const history = await eventually('history', async () => { const h = await chat.fetchMessages({ limit: 10 }); return h.length >= 4 && h; });
  assert.deepEqual(history.map((m) => m.body).slice(0, 2), ['!ping', 'pong']);
  assert.ok(history.every((m, i) => i === 0 || m.timestamp >= history[i - 1].timestamp), 'oldest first');
  assert.equal(history[0].id._serialized, ping.id);
  assert.equal(await client.isRegisteredUser('15551234567@c.us'), true);
  await client.destroy();
});

test('reactions, edits, deletes, typing, places, polls and voice notes, as whatsapp-web.js calls them', async () => {
  const client = bot('extras', '15550003333');
  const ready = new Promise((res) => client.once('ready', res));
  await client.initialize();
  await ready;
  const all = () => sb('/_sandbox/messages?account=15550003333&direction=all');
  const at = (id) => eventually(id, async () => (await all()).find((m) => m.id === id));
  const mine = await client.sendMessage('15551230000', 'see you at 5');
  await at(mine.id._serialized);
  // Reacting and editing go through the daemon's store: wait for it to have the message.
  await eventually('stored', async () => (await client.getChatById('15551230000@c.us')).fetchMessages({ limit: 5 }).then((h) => h.some((m) => m.id._serialized === mine.id._serialized)));
  await mine.edit('see you at 6');
  assert.equal((await at(mine.id._serialized)).text, 'see you at 6');
  await mine.react('👍');
  await eventually('our reaction', async () => (await at(mine.id._serialized)).reactions['15550003333'] === '👍');
  await mine.delete(true);
  await eventually('deleted', async () => (await at(mine.id._serialized)).revoked === true);
  // For this account only, as whatsapp-web.js deletes without `everyone`.
  await mine.delete(false);
  await eventually('gone from the phone', async () => !(await all()).some((m) => m.id === mine.id._serialized));
  assert.equal(await client.getMessageById(mine.id._serialized), undefined);

  const chat = await client.getChatById('15551230000@c.us');
  await chat.sendStateTyping();
  assert.equal((await sb('/_sandbox/accounts/15550003333/presence')).chats['15551230000@c.us'], 'composing');
  assert.equal(await chat.clearState(), true);
  assert.equal((await sb('/_sandbox/accounts/15550003333/presence')).chats['15551230000@c.us'], 'paused');

  const place = await client.sendMessage('15551230000', new Location(52.37, 4.89, { name: 'Dam', address: 'Amsterdam' }));
  assert.deepEqual((await at(place.id._serialized)).location, { lat: 52.37, lng: 4.89, name: 'Dam', address: 'Amsterdam' });
  const poll = await client.sendMessage('15551230000', new Poll('Lunch?', ['Pizza', 'Sushi'], { allowMultipleAnswers: true }));
  assert.deepEqual((await at(poll.id._serialized)).poll, { name: 'Lunch?', options: ['Pizza', 'Sushi'], selectable: 0 });
  const voice = await client.sendMessage('15551230000', new MessageMedia('audio/ogg', Buffer.from('OggS').toString('base64')), { sendAudioAsVoice: true });
  assert.equal((await at(voice.id._serialized)).type, 'ptt');
  // vCard text goes as a contact card (parseVCards, on by default), unless told not to.
  const vcard = 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Baker\r\nTEL;type=CELL;waid=15557002222:+1 555 700 2222\r\nEND:VCARD';
  const card = await client.sendMessage('15551230000', vcard);
  assert.equal(card.type, 'vcard');
  const atPhone = await at(card.id._serialized);
  assert.equal(atPhone.type, 'vcard');
  assert.ok(atPhone.vcards.length === 1 && atPhone.vcards[0].includes('waid=15557002222') && atPhone.vcards[0].includes('Anna Baker'), atPhone.vcards);
  const plain = await client.sendMessage('15551230000', vcard, { parseVCards: false });
  assert.equal((await at(plain.id._serialized)).text, vcard);
  assert.equal(await client.getProfilePicUrl('15551230000@c.us'), undefined);
  await client.destroy();
});

test('two clients stay apart; a restart loses and repeats nothing; destroy leaves the session running', async () => {
  const a = bot('shop', '15550001111');
  const b = bot('other', '15550002222');
  const readyA = new Promise((res) => a.once('ready', res));
  const readyB = new Promise((res) => b.once('ready', res));
  await a.initialize();
  await b.initialize();
  await readyA;
  await readyB;
  const ids = [];
  for (let i = 0; i < 20; i++) ids.push((await sb('/_sandbox/messages', { from: '15557770000', to: '15550001111', text: `before ${i}` })).id);
  const toB = (await sb('/_sandbox/messages', { from: '15557770000', to: '15550002222', text: 'for b' })).id;
  await eventually('some at a', () => a.seen.length >= 5);
  daemon.kill('SIGKILL');
  await new Promise((res) => daemon.once('exit', res));
  for (let i = 0; i < 20; i++) ids.push((await sb('/_sandbox/messages', { from: '15557770000', to: '15550001111', text: `while down ${i}` })).id);
  await startDaemon();
  for (let i = 0; i < 20; i++) ids.push((await sb('/_sandbox/messages', { from: '15557770000', to: '15550001111', text: `after ${i}` })).id);
  await eventually('all 60 at a', () => ids.every((id) => a.seen.includes(id)), 90000);
  await sleep(1000);
  const mine = a.seen.filter((id) => ids.includes(id));
  assert.equal(mine.length, 60, 'each once');
  assert.equal(new Set(mine).size, 60);
  await eventually('b got its own', () => b.seen.includes(toB));
  assert.ok(!a.seen.includes(toB) && !ids.some((id) => b.seen.includes(id)), 'no crossing');
  await a.destroy();
  await b.destroy();
  const r = await fetch(`${url}/api/sessions/shop`, { headers: { 'X-Api-Key': KEY } }).then((x) => x.json());
  assert.equal(r.status, 'CONNECTED');
});

// The next `event` of `client`, or a failure after `ms`.
function next(client, event, ms = 30000) {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no '${event}' within ${ms} ms`)), ms);
    client.once(event, (v) => { clearTimeout(t); res(v); });
  });
}

// A linked bot for one test, with what it heard of the events named.
async function linked(clientId, phone, events = []) {
  const client = bot(clientId, phone);
  client.heard = {};
  for (const e of events) {
    client.heard[e] = [];
    client.on(e, (...args) => client.heard[e].push(args.length > 1 ? args : args[0]));
  }
  const ready = next(client, 'ready');
  await client.initialize();
  await ready;
  return client;
}
const inbound = (from, to, text, extra = {}) => sb('/_sandbox/messages', { from, to, text, ...extra });
const all = (account) => sb(`/_sandbox/messages?account=${account}&direction=all`);

test('RemoteAuth: the store is not needed, and remote_session_saved comes once the session is linked', async () => {
  const c = new Client({ authStrategy: new RemoteAuth({ clientId: 'remote1', store: {}, backupSyncIntervalMs: 60000 }), wabridge: { url, key: KEY } });
  made.push(c);
  c.on('qr', (qr) => { sb('/_sandbox/link', { qr, phone: '15550006161', name: 'remote1' }).catch(() => {}); });
  const saved = [];
  c.on('remote_session_saved', () => saved.push(c.info && c.info.wid._serialized));
  const ready = next(c, 'ready');
  await c.initialize();
  await ready;
  await eventually('saved', () => saved.length === 1);
  assert.deepEqual(saved, ['15550006161@c.us']);
  await c.destroy();
});

test('initialize again after destroy: ready again, each message once; a second initialize while following adds nothing', async () => {
  const c = await linked('again', '15550004444', ['authenticated', 'ready']);
  await c.initialize(); // already following: no second stream
  const m1 = (await inbound('15557770001', '15550004444', 'one')).id;
  await eventually('one', () => c.seen.includes(m1));
  await c.destroy();
  const m2 = (await inbound('15557770001', '15550004444', 'while destroyed')).id;
  const ready = next(c, 'ready');
  await c.initialize();
  await ready;
  assert.equal(c.heard.authenticated.length, 2, 'authenticated again');
  assert.equal(c.heard.ready.length, 2, 'ready again');
  const m3 = (await inbound('15557770001', '15550004444', 'three')).id;
  await eventually('three', () => c.seen.includes(m3));
  await eventually('the one sent while destroyed', () => c.seen.includes(m2));
  await sleep(300);
  assert.deepEqual(c.seen.filter((id) => [m1, m2, m3].includes(id)).sort(), [m1, m2, m3].sort(), 'each message once');
  assert.equal(c.heard.ready.length, 2);
  await c.destroy();
});

test('a new process takes up, once, what came while none ran (LocalAuth keeps the place)', async () => {
  const first = await linked('resume', '15550007777');
  const m1 = (await inbound('15557770001', '15550007777', 'before the deploy')).id;
  await eventually('the first', () => first.seen.includes(m1));
  await first.destroy();
  const place = path.join(dir, 'auth', 'session-resume', 'wabridge-last-event');
  assert.ok(fs.readFileSync(place, 'utf8').trim(), 'the place is kept');
  const m2 = (await inbound('15557770001', '15550007777', 'while no bot ran')).id;
  // A new Client, as a new process makes after a deploy or a crash. The
  // backlog comes after 'ready', as whatsapp-web.js's messages do.
  const second = bot('resume', '15550007777');
  const readyFirst = [];
  second.on('message', () => readyFirst.push(!!second.info));
  const ready = next(second, 'ready');
  await second.initialize();
  await ready;
  await eventually('the one that came while none ran', () => second.seen.includes(m2));
  const m3 = (await inbound('15557770001', '15550007777', 'after')).id;
  await eventually('the next', () => second.seen.includes(m3));
  await sleep(300);
  assert.deepEqual(second.seen.filter((id) => [m1, m2, m3].includes(id)), [m2, m3], 'each once, the first not again');
  assert.ok(readyFirst.length >= 2 && readyFirst.every(Boolean), 'client.info is there for every message');
  await second.destroy();
  // A bot that listens for messages only once ready (a common shape):
  // what came while none ran still reaches it.
  const m4 = (await inbound('15557770001', '15550007777', 'while no bot ran, again')).id;
  const third = new Client({ authStrategy: new LocalAuth({ clientId: 'resume', dataPath: path.join(dir, 'auth') }), wabridge: { url, key: KEY } });
  made.push(third);
  const heard = [];
  third.once('ready', () => third.on('message', (msg) => heard.push(msg.id._serialized)));
  await third.initialize();
  await eventually('the backlog at a listener added in ready', () => heard.includes(m4));
  assert.ok(!heard.includes(m3), 'not again');
  await third.destroy();
});

test('a short network drop is change_state TIMEOUT then CONNECTED: no disconnected, no second ready', async () => {
  const c = await linked('drop', '15550005555', ['change_state', 'disconnected', 'ready', 'authenticated']);
  await sb('/_sandbox/drop', {});
  await eventually('TIMEOUT then CONNECTED', () => {
    const s = c.heard.change_state;
    return s.includes('TIMEOUT') && s.lastIndexOf('CONNECTED') > s.indexOf('TIMEOUT');
  }, 30000);
  const m = (await inbound('15557770002', '15550005555', 'after the drop')).id;
  await eventually('a message after the drop', () => c.seen.includes(m));
  assert.deepEqual(c.heard.disconnected, []);
  assert.equal(c.heard.ready.length, 1);
  assert.equal(c.heard.authenticated.length, 1);
  await c.destroy();
});

test('unlinked from the phone: disconnected LOGOUT, then a new QR on the same client, as whatsapp-web.js; it links again', async () => {
  const c = await linked('unlinked', '15550006767', ['ready']);
  assert.equal(c.qrs.length, 1);
  const gone = next(c, 'disconnected');
  const ready = next(c, 'ready');
  await sb('/_sandbox/accounts/15550006767/unlink', {});
  assert.equal(await gone, 'LOGOUT');
  await ready;
  // A bot that calls initialize() on LOGOUT, as many do: nothing more.
  await c.initialize();
  assert.ok(c.qrs.length >= 2 && c.qrs.at(-1) !== c.qrs[0], 'a new QR');
  assert.equal(c.heard.ready.length, 2);
  const m = (await inbound('15557770005', '15550006767', 'linked again')).id;
  await eventually('the message', () => c.seen.includes(m));
  await sleep(300);
  assert.equal(c.seen.filter((id) => id === m).length, 1, 'once: one stream');
  await c.destroy();
});

test('logout(): disconnected LOGOUT and the client stops, as whatsapp-web.js closes its browser; initialize() again shows a new QR and links again', async () => {
  const c = await linked('relink', '15550006666', ['ready']);
  assert.equal(c.qrs.length, 1);
  const gone = next(c, 'disconnected');
  await c.logout();
  assert.equal(await gone, 'LOGOUT');
  await sleep(2500);
  assert.equal(c.qrs.length, 1, 'no QR of its own accord');
  const ready = next(c, 'ready');
  await c.initialize();
  await ready;
  assert.ok(c.qrs.length >= 2 && c.qrs.at(-1) !== c.qrs[0], 'a new QR');
  assert.equal(new Set(c.qrs).size, c.qrs.length, 'each QR once');
  assert.equal(c.heard.ready.length, 2);
  assert.equal(c.info.wid._serialized, '15550006666@c.us');
  const m = (await inbound('15557770004', '15550006666', 'linked again')).id;
  await eventually('the message', () => c.seen.includes(m));
  await sleep(300);
  assert.equal(c.seen.filter((id) => id === m).length, 1, 'once: one stream');
  await c.destroy();
});

test('group events and GroupChat as whatsapp-web.js shows them; mentions reach WhatsApp', async () => {
  const me = '15550007777';
  const c = await linked('groups', me, ['group_join', 'group_leave', 'group_update', 'group_admin_changed', 'group_membership_request']);
  const g = await sb('/_sandbox/groups', { owner: '15552220000', subject: 'Team', participants: [me, '15553330000'] });
  const join = await eventually('group_join', () => c.heard.group_join.find((n) => n.chatId === g.id));
  assert.equal(join.type, 'add');
  assert.equal(join.author, '15552220000@c.us');
  assert.ok(join.recipientIds.includes(`${me}@c.us`));
  assert.equal(join.id.remote, g.id);
  assert.equal(typeof join.timestamp, 'number');
  assert.equal(join.body, '');
  const chat = await join.getChat();
  assert.ok(chat instanceof GroupChat && chat.isGroup);
  assert.equal(chat.name, 'Team');
  assert.equal(chat.owner._serialized, '15552220000@c.us');
  assert.equal(chat.groupMetadata.subject, 'Team');
  assert.deepEqual(chat.participants.map((p) => [p.id._serialized, p.isAdmin, p.isSuperAdmin]).sort(),
    [['15550007777@c.us', false, false], ['15552220000@c.us', true, true], ['15553330000@c.us', false, false]]);
  assert.ok(chat.createdAt instanceof Date);
  assert.equal((await join.getContact()).id._serialized, '15552220000@c.us');
  assert.equal((await join.getRecipients()).length, join.recipientIds.length);

  await sb(`/_sandbox/groups/${g.id}/subject`, { by: '15552220000', subject: 'Team 2' });
  const update = await eventually('group_update', () => c.heard.group_update.find((n) => n.chatId === g.id));
  assert.deepEqual([update.type, update.body, update.author], ['subject', 'Team 2', '15552220000@c.us']);
  // The owner describes it and lets only admins write: we may not, and say so.
  await sb(`/_sandbox/groups/${g.id}/description`, { by: '15552220000', description: 'Rota inside' });
  await sb(`/_sandbox/groups/${g.id}/settings`, { by: '15552220000', announce: true });
  const desc = await eventually('a new description', () => c.heard.group_update.find((n) => n.type === 'description'));
  assert.deepEqual([desc.body, desc.author, desc.chatId], ['Rota inside', '15552220000@c.us', g.id]);
  const closed = await eventually('admins only', () => c.heard.group_update.find((n) => n.type === 'announce'));
  assert.equal(closed.body, 'on');
  const ro = await c.getChatById(g.id);
  assert.deepEqual([ro.description, ro.groupMetadata.announce, ro.groupMetadata.restrict, ro.isReadOnly], ['Rota inside', true, false, true]);
  assert.equal(await ro.setMessagesAdminsOnly(false), false, 'only admins change settings');

  // The owner leaves: WhatsApp makes the longest member (this account) admin.
  await sb(`/_sandbox/groups/${g.id}/leave`, { phone: '15552220000' });
  const leave = await eventually('group_leave', () => c.heard.group_leave.find((n) => n.chatId === g.id));
  assert.deepEqual([leave.type, leave.recipientIds], ['leave', ['15552220000@c.us']]);
  const admin = await eventually('group_admin_changed', () => c.heard.group_admin_changed.find((n) => n.chatId === g.id));
  assert.deepEqual([admin.type, admin.recipientIds], ['promote', [`${me}@c.us`]]);
  assert.equal(c.heard.group_update.length, 3, 'a promotion is no group_update');

  const now = await c.getChatById(g.id);
  assert.ok(now.participants.find((p) => p.id._serialized === `${me}@c.us`).isAdmin);
  // An admin now: we open the group again, and a member's message goes
  // for everyone, as whatsapp-web.js deletes it.
  assert.equal(await now.setMessagesAdminsOnly(false), true);
  assert.equal(now.isReadOnly, false);
  const spam = (await sb('/_sandbox/messages', { from: '15553330000', group: g.id, text: 'cheap watches' })).ids[me];
  const spamMsg = await eventually('the member\'s message', () => c.getMessageById(spam));
  await spamMsg.delete(true);
  await eventually('deleted at WhatsApp', async () => (await all(me)).find((m) => m.id === spam && m.revoked));
  assert.equal(await now.getInviteCode(), g.invite);
  // A new link: the old one opens nothing; the new one shows the group.
  const fresh = await now.revokeInvite();
  assert.notEqual(fresh, g.invite);
  assert.equal(await now.getInviteCode(), fresh);
  const info = await c.getInviteInfo(`https://chat.whatsapp.com/${fresh}`);
  assert.deepEqual([info.id._serialized, info.subject, info.desc, info.size], [g.id, 'Team 2', 'Rota inside', 2]);
  await assert.rejects(() => c.getInviteInfo(g.invite), (e) => e.code === 'invite_not_found');
  // Admins approve who joins (turned on from our phone): requests are
  // heard, listed and answered as whatsapp-web.js answers them.
  await sb(`/_sandbox/groups/${g.id}/settings`, { by: me, approval: true });
  for (const who of ['15554440001', '15554440002']) {
    assert.equal((await sb('/_sandbox/groups/join', { phone: who, invite: fresh })).requested, true);
  }
  const asked = await eventually('group_membership_request', () => (c.heard.group_membership_request.length === 2 ? c.heard.group_membership_request : null));
  assert.deepEqual(asked.map((n) => [n.type, n.chatId, n.author]).sort(), [
    ['membership_approval_request', g.id, '15554440001@c.us'], ['membership_approval_request', g.id, '15554440002@c.us']]);
  const reqs = await now.getGroupMembershipRequests();
  assert.deepEqual(reqs.map((r) => [r.id._serialized, r.requestMethod]), [['15554440001@c.us', 'InviteLink'], ['15554440002@c.us', 'InviteLink']]);
  assert.deepEqual(await c.approveGroupMembershipRequests(g.id, { requesterIds: ['15554440001@c.us'] }),
    [{ requesterId: '15554440001@c.us', message: 'Approved successfully' }]);
  assert.deepEqual(await now.rejectGroupMembershipRequests({}), [{ requesterId: '15554440002@c.us', message: 'Rejected successfully' }]);
  assert.deepEqual(await now.getGroupMembershipRequests(), []);
  const [gone] = await c.rejectGroupMembershipRequests(g.id, { requesterIds: '15554440002@c.us' });
  assert.deepEqual([gone.requesterId, gone.error, gone.message], ['15554440002@c.us', 404, 'ParticipantRequestNotFoundError']);
  const hello = await join.reply('hello group');
  assert.equal(hello.id.remote, g.id);
  const bo = await c.getContactById('15553330000@c.us');
  const m1 = await now.sendMessage('hi @15553330000', { mentions: [bo] });
  const m2 = await c.sendMessage(g.id, 'again @15553330000', { mentions: ['15553330000@c.us'] });
  assert.deepEqual(m1.mentionedIds, ['15553330000@c.us']);
  for (const m of [m1, m2]) {
    const there = await eventually('the mention', async () => (await sent(me)).find((x) => x.id === m.id._serialized));
    assert.deepEqual(there.mentions, ['15553330000'], 'the mention reached WhatsApp');
  }
  assert.ok((await sent(me)).some((x) => x.id === hello.id._serialized && x.text === 'hello group'));
  await c.destroy();
});

test('createGroup, addParticipants, removeParticipants, promote and demote, setSubject, acceptInvite and leave', async () => {
  const me = '15550007778';
  const c = await linked('groupadmin', me);
  const res = await c.createGroup('Mine', ['15553330000@c.us']);
  assert.equal(res.title, 'Mine');
  assert.ok(res.gid._serialized.endsWith('@g.us'));
  assert.equal(res.participants['15553330000@c.us'].statusCode, 200);
  const chat = await c.getChatById(res.gid._serialized);
  assert.ok(chat instanceof GroupChat);
  assert.equal(chat.owner._serialized, `${me}@c.us`);
  // One whose privacy settings keep us out: 403, as whatsapp-web.js answers.
  await fetch(sbUrl + '/_sandbox/contacts/15554449999', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ group_add: 'nobody' }) });
  const added = await chat.addParticipants(['15554440000@c.us', '15553330000@c.us', '15554449999@c.us']);
  assert.deepEqual([added['15554440000@c.us'].code, added['15553330000@c.us'].code, added['15554449999@c.us'].code], [200, 409, 403]);
  assert.equal(added['15554449999@c.us'].message, 'The participant can be added by sending private invitation only');
  // As whatsapp-web.js: the private invite WhatsApp made for them goes to them.
  assert.equal(added['15554449999@c.us'].isInviteV4Sent, true);
  const invites = (await sent(me)).filter((x) => x.to === '15554449999' && x.type === 'groups_v4_invite');
  assert.equal(invites.length, 1);
  assert.equal(invites[0].invite.group, res.gid._serialized);
  const quiet = await chat.addParticipants(['15554449999@c.us'], { autoSendInviteV4: false });
  assert.deepEqual([quiet['15554449999@c.us'].code, quiet['15554449999@c.us'].isInviteV4Sent], [403, false]);
  assert.ok(!chat.participants.some((p) => p.id._serialized === '15554449999@c.us'));
  assert.deepEqual(await chat.removeParticipants(['15554440000@c.us']), { status: 200 });
  assert.ok(!chat.participants.some((p) => p.id._serialized === '15554440000@c.us'));
  const adminAtWa = async () => (await sb(`/_sandbox/groups/${res.gid._serialized}`)).participants.find((p) => p.id === '15553330000@c.us').isAdmin;
  assert.deepEqual(await chat.promoteParticipants(['15553330000@c.us']), { status: 200 });
  assert.equal(await adminAtWa(), true);
  assert.ok(chat.participants.find((p) => p.id._serialized === '15553330000@c.us').isAdmin);
  assert.deepEqual(await chat.demoteParticipants(['15553330000@c.us']), { status: 200 });
  assert.equal(await adminAtWa(), false);
  assert.equal(await chat.setSubject('Mine 2'), true);
  assert.equal((await sb(`/_sandbox/groups/${res.gid._serialized}`)).subject, 'Mine 2');
  // Groups are among the contacts, by their subject, as whatsapp-web.js lists them.
  const asContact = await eventually('the group among the contacts', async () =>
    (await c.getContacts()).find((x) => x.id._serialized === res.gid._serialized && x.name === 'Mine 2'));
  assert.deepEqual([asContact.isGroup, asContact.isUser, asContact.isMyContact], [true, false, false]);
  assert.equal(await chat.setDescription('All things mine'), true);
  assert.equal(await chat.setMessagesAdminsOnly(), true);
  assert.equal(await chat.setInfoAdminsOnly(true), true);
  const there = await sb(`/_sandbox/groups/${res.gid._serialized}`);
  assert.deepEqual([there.desc, there.announce, there.restrict], ['All things mine', true, true]);
  assert.equal(await chat.setPicture(new MessageMedia('image/png', PNG.toString('base64'))), true);
  assert.equal((await sb(`/_sandbox/groups/${res.gid._serialized}`)).has_picture, true);
  assert.equal(await chat.deletePicture(), true);
  assert.equal((await sb(`/_sandbox/groups/${res.gid._serialized}`)).has_picture, false);
  assert.deepEqual([chat.description, chat.groupMetadata.announce, chat.groupMetadata.restrict, chat.isReadOnly],
    ['All things mine', true, true, false], 'an admin may still write');
  const common = await c.getCommonGroups('15553330000@c.us');
  assert.ok(common.some((gid) => gid._serialized === res.gid._serialized));

  // Its options, as whatsapp-web.js sets them: disappearing messages,
  // only admins send, linked to a community this account runs.
  const community = (await sb('/_sandbox/communities', { owner: me, name: 'Neighbourhood' })).community.id;
  await eventually('the community on the page', () => c._api('GET', `/communities/${community}`).then(() => true, () => false));
  const opts = await c.createGroup('Linked', ['15553330000@c.us'], { messageTimer: 86400, announce: true, parentGroupId: community });
  assert.equal(opts.errors, undefined, 'every option taken');
  // A community that is none is refused before a group is made (as
  // whatsapp-web.js answers WhatsApp's refusal: a string).
  assert.match(await c.createGroup('Nope', ['15553330000@c.us'], { parentGroupId: res.gid._serialized }), /^CreateGroupError: .*community/i);
  const linkedAtWa = await sb(`/_sandbox/groups/${opts.gid._serialized}`);
  assert.deepEqual([linkedAtWa.ephemeral, linkedAtWa.announce, linkedAtWa.parentGroup], [86400, true, community]);
  const linkedChat = await eventually('the linked group', async () => {
    const ch = await c.getChatById(opts.gid._serialized);
    return ch.groupMetadata.parentGroup && ch;
  });
  assert.deepEqual([linkedChat.groupMetadata.parentGroup._serialized, linkedChat.groupMetadata.ephemeralDuration], [community, 86400]);
  await assert.rejects(c.createGroup('Nope', ['15553330000@c.us'], { messageTimer: 5 }), TypeError);
  await assert.rejects(c.createGroup('Nope', ['15553330000@c.us'], { membershipApprovalMode: true }), /not supported/i);

  const other = await sb('/_sandbox/groups', { owner: '15552220000', subject: 'Open', participants: ['15553330000'] });
  assert.equal(await c.acceptInvite(other.invite), other.id);
  assert.ok((await sb(`/_sandbox/groups/${other.id}`)).participants.some((p) => p.id === `${me}@c.us`));
  const joined = await c.getChatById(other.id);
  await joined.leave();
  assert.ok(!(await sb(`/_sandbox/groups/${other.id}`)).participants.some((p) => p.id === `${me}@c.us`));
  await c.destroy();
});

test('archive, pin and mute, as whatsapp-web.js calls them; three pins at most; the phone sees them', async () => {
  const me = '15550007779';
  const c = await linked('chatstate', me);
  const them = ['15551110001', '15551110002', '15551110003', '15551110004'].map((p) => `${p}@c.us`);
  for (const id of them) await inbound(id.split('@')[0], me, 'hi');
  const chat = await eventually('the chats', async () => {
    const all = await c.getChats();
    const first = all.find((x) => x.id._serialized === them[0]);
    return them.every((id) => all.some((x) => x.id._serialized === id)) && first && first.lastMessage && first;
  });
  assert.deepEqual([chat.archived, chat.pinned, chat.isMuted, chat.muteExpiration], [false, false, false, 0]);
  // Its last message, as whatsapp-web.js's Chat has it.
  assert.deepEqual([chat.lastMessage.body, chat.lastMessage.fromMe, chat.lastMessage.from], ['hi', false, them[0]]);
  const atPhone = async () => sb(`/_sandbox/accounts/${me}/chats`);
  assert.equal(await chat.archive(), true);
  assert.equal(chat.archived, true);
  assert.equal((await atPhone())[them[0]].archived, true);
  assert.equal(await c.unarchiveChat(them[0]), false);
  for (const id of them.slice(1)) assert.equal(await c.pinChat(id), true);
  assert.equal(await chat.pin(), false, 'a fourth pin is refused, as whatsapp-web.js answers');
  assert.equal(await c.unpinChat(them[3]), false);
  assert.equal(await chat.pin(), true);
  assert.deepEqual(await chat.mute(), { isMuted: true, muteExpiration: -1 });
  const until = new Date(Date.now() + 3600 * 1000);
  assert.deepEqual(await c.muteChat(them[1], until), { isMuted: true, muteExpiration: Math.floor(until.getTime() / 1000) });
  assert.equal((await atPhone())[them[1]].mute_until, Math.floor(until.getTime() / 1000));
  assert.deepEqual(await chat.unmute(), { isMuted: false, muteExpiration: 0 });
  await chat.sendSeen();
  await chat.markUnread();
  assert.equal((await atPhone())[them[0]].marked_unread, true);
  const again = await c.getChatById(them[0]);
  assert.deepEqual([again.archived, again.pinned, again.isMuted, again.unreadCount], [false, true, false, -1]);
  await again.sendSeen();
  assert.equal((await c.getChatById(them[0])).unreadCount, 0);
  // What we show of ourselves, as whatsapp-web.js sets it.
  assert.equal(await c.setDisplayName('Corner Shop'), true);
  await c.setStatus('Open late');
  assert.equal(await c.setProfilePicture(new MessageMedia('image/png', PNG.toString('base64'))), true);
  assert.deepEqual(await sb(`/_sandbox/accounts/${me}/profile`), { name: 'Corner Shop', about: 'Open late', has_picture: true });
  assert.equal(await c.deleteProfilePicture(), true);
  assert.equal((await sb(`/_sandbox/accounts/${me}/profile`)).has_picture, false);
  assert.equal(await c.setDisplayName(' '), false, 'refused, as whatsapp-web.js answers');
  // Labels and customer notes are a business account's.
  assert.deepEqual(await c.getLabels(), [], 'an account that is no business has none');
  assert.equal(await c.addOrEditCustomerNote(them[0], 'ignored'), undefined);
  assert.equal(await c.getCustomerNote(them[0]), null);
  await assert.rejects(() => c.addOrRemoveLabels(['1'], [them[0]]), (e) => e.code === 'not_business');
  await sb(`/_sandbox/accounts/${me}/business`, { business: true });
  const labels = await eventually('the labels', async () => { const l = await c.getLabels(); return l.length ? l : null; });
  assert.deepEqual(labels.map((l) => [l.id, l.name]).slice(0, 2), [['1', 'New customer'], ['2', 'New order']]);
  assert.match(labels[0].hexColor, /^#[0-9a-f]{6}$/);
  await c.addOrRemoveLabels(['1', '3', '99'], [them[0], them[1]]);
  assert.deepEqual((await c.getChatLabels(them[0])).map((l) => l.id), ['1', '3']);
  await (await c.getChatById(them[0])).changeLabels([3]);
  assert.deepEqual((await (await c.getChatById(them[0])).getLabels()).map((l) => l.name), ['Pending payment']);
  assert.deepEqual((await c.getChatsByLabelId('1')).map((x) => x.id._serialized), [them[1]]);
  assert.deepEqual((await (await c.getLabelById('3')).getChats()).map((x) => x.id._serialized).sort(), [them[0], them[1]].sort());
  const phone = await sb(`/_sandbox/accounts/${me}/labels`);
  assert.deepEqual(phone.find((l) => l.id === '3').chats.sort(), [them[0], them[1]].sort());
  await (await c.getChatById(them[0])).addOrEditCustomerNote('Pays on delivery');
  const note = await c.getCustomerNote(them[0]);
  assert.deepEqual([note.chatId, note.content, note.type], [them[0], 'Pays on delivery', 'unstructured']);
  assert.equal((await sb(`/_sandbox/accounts/${me}/notes`))[0].content, 'Pays on delivery');
  assert.equal(await (await c.getChatById(them[1])).getCustomerNote(), null);
  // A status (story), as whatsapp-web.js posts one, and taken down.
  const story = await c.sendMessage('status@broadcast', 'Open late today', { backgroundColor: 0xff25d366, fontStyle: 2 });
  const posted = await eventually('the story', async () => (await all(me)).find((m) => m.id === story.id._serialized));
  assert.deepEqual([posted.to, posted.text, posted.status], ['status@broadcast', 'Open late today', { background: '#25d366', font: 2 }]);
  await assert.rejects(() => c.revokeStatusMessage(them[0]), /own status broadcast/);
  await c.revokeStatusMessage(story.id._serialized);
  await eventually('taken down', async () => (await all(me)).find((m) => m.id === story.id._serialized && m.revoked));
  // Starred, then deleted: another's message outside a group goes for this
  // account only, as whatsapp-web.js deletes it; a chat cleared, deleted.
  const [hi] = await (await c.getChatById(them[2])).fetchMessages({ limit: 1 });
  await hi.star();
  assert.equal(hi.isStarred, true);
  assert.deepEqual(await sb(`/_sandbox/accounts/${me}/starred`), [hi.id._serialized]);
  assert.equal((await c.getMessageById(hi.id._serialized)).isStarred, true);
  await hi.unstar();
  assert.deepEqual(await sb(`/_sandbox/accounts/${me}/starred`), []);
  // Pinned for everyone in the chat, for a day; then unpinned.
  assert.equal(await hi.pin(86400), true);
  const pins = await sb(`/_sandbox/accounts/${me}/pins/${encodeURIComponent(them[2])}`);
  assert.deepEqual(pins.pins.map((p) => [p.msg, p.secs]), [[hi.id._serialized, 86400]]);
  assert.deepEqual((await (await c.getChatById(them[2])).getPinnedMessages()).map((m) => m.id._serialized), [hi.id._serialized]);
  assert.equal(await hi.pin(3600), false, 'no duration WhatsApp offers');
  assert.equal(await hi.pin(), false, 'no duration: as whatsapp-web.js');
  assert.equal(await hi.unpin(), true);
  assert.deepEqual(await c.getPinnedMessages(them[2]), []);
  // Found by WhatsApp Web's own search.
  const hits = await c.searchMessages('ARRIVE', { chatId: them[2], limit: 5 });
  assert.deepEqual(hits.map((m) => m.body), []);
  // Who got it, as whatsapp-web.js's getInfo() tells.
  const asked = await c.sendMessage(them[2], 'did it arrive?');
  const info = await eventually('delivered', async () => {
    const i = await asked.getInfo();
    return i && i.delivery.length ? i : null;
  });
  assert.deepEqual([info.delivery[0].id._serialized, typeof info.delivery[0].t, info.readRemaining, info.read], [them[2], 'number', 1, []]);
  assert.deepEqual((await c.searchMessages('ARRIVE', { chatId: them[2], limit: 5 })).map((m) => m.id._serialized), [asked.id._serialized]);
  await hi.delete(true);
  assert.equal(await c.getMessageById(hi.id._serialized), undefined);
  assert.ok(!(await all(me)).some((m) => m.id === hi.id._serialized), 'gone from the phone');
  const fourth = await c.getChatById(them[3]);
  assert.equal(await fourth.clearMessages(), true);
  assert.deepEqual(await fourth.fetchMessages({ limit: 5 }), []);
  assert.ok((await c.getChats()).some((x) => x.id._serialized === them[3]), 'a cleared chat stays');
  assert.equal(await fourth.delete(), true);
  assert.ok(!(await c.getChats()).some((x) => x.id._serialized === them[3]));
  assert.equal(await fourth.delete(), false);
  await c.destroy();
});

test('chat_archived, unread_count and chat_removed: what the phone does to a chat, as whatsapp-web.js tells it', async () => {
  const me = '15550007782';
  const ann = '15551110021@c.us';
  const c = await linked('chatevents', me);
  const seen = [];
  c.on('chat_archived', (chat, cur, prev) => seen.push(['chat_archived', chat.id._serialized, cur, prev, chat.archived]));
  c.on('unread_count', (chat) => seen.push(['unread_count', chat.id._serialized, chat.unreadCount]));
  c.on('chat_removed', (chat) => seen.push(['chat_removed', chat.id._serialized, chat instanceof GroupChat]));
  await inbound('15551110021', me, 'hi', { name: 'Ann' });
  await inbound('15551110021', me, 'are you there?', { name: 'Ann' });
  const chat = await eventually('the chat', async () => (await c.getChats()).find((x) => x.id._serialized === ann && x.unreadCount === 2));
  assert.equal(chat.archived, false);
  const phone = (tail, body) => sb(`/_sandbox/accounts/${me}/chats/${ann}${tail}`, body);
  await phone('', { archive: true });
  await eventually('archived', async () => seen.length >= 1);
  // The chat read since is out of date: the next one shows the phone's change.
  assert.equal((await c.getChatById(ann)).archived, true);
  await phone('/read', {});
  await eventually('read', async () => seen.length >= 2);
  await phone('', { unread: true });
  await eventually('marked unread', async () => seen.length >= 3);
  await phone('/clear', { delete: true });
  await eventually('deleted', async () => seen.length >= 4);
  assert.deepEqual(seen, [
    ['chat_archived', ann, true, false, true],
    ['unread_count', ann, 0],
    ['unread_count', ann, -1],
    ['chat_removed', ann, false],
  ]);
  // Its messages are gone from the history, as from the phone.
  assert.deepEqual(await (await c.getChatById(ann)).fetchMessages({ limit: 10 }), []);
});

test('reactions, edits, votes, deletes for everyone and calls arrive in whatsapp-web.js\'s shapes', async () => {
  const me = '15550008888';
  const c = await linked('events', me, ['message_reaction', 'message_edit', 'vote_update', 'message_revoke_everyone', 'call']);
  const m = (await inbound('15551234567', me, 'orig', { name: 'Alice' })).id;
  await eventually('the message', () => c.seen.includes(m));

  await sb(`/_sandbox/messages/${m}/react`, { emoji: '👍' });
  const r = await eventually('message_reaction', () => c.heard.message_reaction[0]);
  assert.deepEqual([r.reaction, r.msgId._serialized, r.senderId, r.orphan], ['👍', m, '15551234567@c.us', 0]);
  assert.equal(typeof r.timestamp, 'number');
  assert.equal(typeof r.id._serialized, 'string');
  assert.ok('ack' in r && 'read' in r);

  await sb(`/_sandbox/messages/${m}/edit`, { text: 'changed' });
  const [edited, newBody, prevBody] = await eventually('message_edit', () => c.heard.message_edit[0]);
  assert.deepEqual([edited.id._serialized, edited.body, newBody, prevBody], [m, 'changed', 'changed', 'orig']);

  const poll = await c.sendMessage('15551234567', new Poll('Lunch?', ['Pizza', 'Sushi']));
  assert.equal(poll.type, 'poll_creation');
  await eventually('the poll there', async () => (await sent(me)).some((x) => x.id === poll.id._serialized));
  await sb(`/_sandbox/messages/${poll.id._serialized}/vote`, { options: ['Sushi'] });
  const vote = await eventually('vote_update', () => c.heard.vote_update[0]);
  assert.equal(vote.voter, '15551234567@c.us');
  assert.deepEqual(vote.selectedOptions, [{ name: 'Sushi', localId: 1 }]);
  assert.ok(vote.interractedAtTs > 1e12, 'ms');
  assert.deepEqual([vote.parentMessage.id._serialized, vote.parentMessage.pollName], [poll.id._serialized, 'Lunch?']);
  assert.deepEqual((await poll.getPollVotes()).map((v) => v.selectedOptions[0].name), ['Sushi']);

  await sb(`/_sandbox/messages/${m}/revoke`, {});
  const [now, was] = await eventually('message_revoke_everyone', () => c.heard.message_revoke_everyone[0]);
  assert.deepEqual([now.type, now.body, now.id._serialized], ['revoked', '', m]);
  assert.deepEqual([was.type, was.body, was.id._serialized, was.fromMe], ['chat', 'changed', m, false]);

  // A call rings: declined as whatsapp-web.js's call.reject() declines it.
  const rings = await sb('/_sandbox/calls', { from: '15551234567', to: me, video: true });
  const call = await eventually('call', () => c.heard.call[0]);
  assert.deepEqual([call.id, call.from, call.isVideo, call.isGroup, call.fromMe], [rings.id, '15551234567@c.us', true, false, false]);
  assert.equal(typeof call.timestamp, 'number');
  await call.reject();
  assert.deepEqual([(await sb(`/_sandbox/calls/${rings.id}`)).state], ['rejected']);
  await call.reject(); // it rings no more: left be, as whatsapp-web.js does
  await c.destroy();
});

test('listeners that throw or reject stop neither the stream nor the process', async () => {
  const me = '15550009999';
  const c = await linked('throws', me);
  const after = [];
  c.on('message', () => { throw new Error('sync boom'); });
  c.on('message', async () => { throw new Error('async boom'); });
  c.on('message', (msg) => after.push(msg.id._serialized));
  const logged = [];
  const consoleError = console.error;
  console.error = (...args) => logged.push(args.join(' '));
  try {
    const ids = [];
    for (const text of ['a', 'b']) ids.push((await inbound('15557770003', me, text)).id);
    await eventually('both, to every listener', () => ids.every((id) => c.seen.includes(id) && after.includes(id)));
    await eventually('both failures told', () => logged.length >= 4);
    assert.ok(logged.every((l) => l.includes("'message' listener")));
    const errors = [];
    c.on('error', (e) => errors.push(e.message));
    const id = (await inbound('15557770003', me, 'c')).id;
    await eventually('the third', () => after.includes(id));
    await eventually('to the error listener', () => errors.length >= 2);
    assert.deepEqual(errors.sort(), ['async boom', 'sync boom']);
    assert.equal(logged.length, 4);
  } finally {
    console.error = consoleError;
  }
  await c.destroy();
});

test('message_create, then message, with the one Message, as whatsapp-web.js emits them; ours message_create only', async () => {
  const me = '15550004646';
  const them = '15557770004';
  const c = await linked('created', me, ['message_create']);
  // A bot that marks a message in message_create and reads the mark in message.
  const order = [];
  c.on('message_create', (msg) => { msg.marked = true; order.push(['message_create', msg.id._serialized]); });
  c.on('message', (msg) => order.push(['message', msg.id._serialized, msg.marked]));
  const theirs = (await inbound(them, me, 'mark me')).id;
  await eventually('theirs', () => order.some(([e, id]) => e === 'message' && id === theirs));
  const ours = (await c.sendMessage(them, 'marked')).id._serialized;
  await eventually('ours', () => order.some(([, id]) => id === ours));
  await sleep(300);
  assert.deepEqual(order.filter(([, id]) => id === theirs), [['message_create', theirs], ['message', theirs, true]]);
  assert.deepEqual(order.filter(([, id]) => id === ours), [['message_create', ours]]);
  await c.destroy();
});

test('media: a sent Message has its type and gives its media back; gone media is undefined; replies, quotes, sendSeen, privacy ids', async () => {
  const me = '15550003334';
  const c = await linked('media', me, ['message', 'message_ack', 'media_uploaded']);
  const png = new MessageMedia('image/png', PNG.toString('base64'), 'dot.png');
  const photo = await c.sendMessage('15551234567', png, { caption: 'dot' });
  assert.deepEqual([photo.type, photo.hasMedia, photo.body], ['image', true, 'dot']);
  // Its acks hand on the whole message, as whatsapp-web.js's do.
  await sb(`/_sandbox/messages/${photo.id._serialized}/read`, {});
  const [acked, ack] = await eventually('the read ack', () => c.heard.message_ack.find(([m, a]) => m.id._serialized === photo.id._serialized && a === 3));
  assert.deepEqual([acked.body, acked.type, acked.fromMe, acked.ack, ack], ['dot', 'image', true, 3, 3]);
  // Its first, which comes before the send's answer, too.
  const photoAcks = c.heard.message_ack.filter(([m]) => m.id._serialized === photo.id._serialized);
  assert.ok(photoAcks.length >= 2 && photoAcks.every(([m, a]) => m.body === 'dot' && m.ack === a), JSON.stringify(photoAcks.map(([m, a]) => [m.body, a])));
  assert.equal((await photo.downloadMedia()).data, PNG.toString('base64'));
  // media_uploaded: once, for our media only.
  const uploaded = await eventually('media_uploaded', () => c.heard.media_uploaded.find((m) => m.id._serialized === photo.id._serialized));
  assert.deepEqual([uploaded.type, uploaded.hasMedia, uploaded.fromMe], ['image', true, true]);
  const text = await c.sendMessage('15551234567', 'no media here');
  await eventually('the text sent', () => c.heard.message_ack.find(([m, a]) => m.id._serialized === text.id._serialized && a >= 1));
  assert.equal(c.heard.media_uploaded.filter((m) => m.id._serialized === photo.id._serialized).length, 1);
  assert.ok(!c.heard.media_uploaded.some((m) => m.id._serialized === text.id._serialized));
  const pdf = await c.sendMessage('15551234567', new MessageMedia('application/pdf', Buffer.from('%PDF-1.4').toString('base64'), 'a.pdf'), { sendMediaAsDocument: true });
  assert.equal(pdf.type, 'document');
  // A photo as a document: a file to download, kept as it is.
  const asFile = await c.sendMessage('15551234567', png, { sendMediaAsDocument: true, caption: 'as a file' });
  assert.deepEqual([asFile.type, asFile.body], ['document', 'as a file']);
  const fileAtPhone = await eventually('the file at the phone', async () => (await all(me)).find((m) => m.id === asFile.id._serialized));
  assert.deepEqual([fileAtPhone.type, fileAtPhone.media.mimetype, fileAtPhone.media.data], ['document', 'image/png', PNG.toString('base64')]);
  const voice = await c.sendMessage('15551234567', new MessageMedia('audio/ogg', Buffer.from('OggS').toString('base64')), { sendAudioAsVoice: true });
  assert.equal(voice.type, 'ptt');
  // A voice note that comes has its seconds, as the phone gave them (a string, as in whatsapp-web.js).
  const heardVoice = (await inbound('15551234567', me, '', { ptt: true, media: { data: Buffer.from('OggS').toString('base64'), mimetype: 'audio/ogg', duration: 9 } })).id;
  const came = await eventually('the voice note', () => c.heard.message.find((m) => m.id._serialized === heardVoice));
  assert.deepEqual([came.type, came.duration], ['ptt', '9']);
  const sticker = await c.sendMessage('15551234567', png, { sendMediaAsSticker: true, stickerName: 'ignored' });
  assert.equal(sticker.type, 'sticker');
  const atPhone = await eventually('the sticker at the phone', async () => (await all(me)).find((m) => m.id === sticker.id._serialized));
  assert.deepEqual([atPhone.type, atPhone.media.mimetype], ['sticker', 'image/webp']);
  // A photo to be viewed once, and a video as a GIF, as whatsapp-web.js sends them.
  const once = await c.sendMessage('15551234567', png, { isViewOnce: true });
  const onceAtPhone = await eventually('the view-once photo at the phone', async () => (await all(me)).find((m) => m.id === once.id._serialized));
  assert.deepEqual([onceAtPhone.type, onceAtPhone.view_once], ['image', true]);
  const mp4 = new MessageMedia('video/mp4', 'AAAAGGZ0eXBtcDQy', 'loop.mp4');
  const gif = await c.sendMessage('15551234567', mp4, { sendVideoAsGif: true, caption: 'loop' });
  assert.deepEqual([gif.type, gif.isGif, gif.body], ['video', true, 'loop']);
  const gifAtPhone = await eventually('the GIF at the phone', async () => (await all(me)).find((m) => m.id === gif.id._serialized));
  assert.deepEqual([gifAtPhone.type, gifAtPhone.gif, gifAtPhone.view_once], ['video', true, false]);
  // One received plays as a GIF too.
  const theirGif = (await inbound('15551234567', me, null, { media: { data: 'AAAAGGZ0eXBtcDQy', mimetype: 'video/mp4' }, gif: true })).id;
  const heardGif = await eventually('their GIF', () => c.heard.message.find((x) => x.id._serialized === theirGif));
  assert.deepEqual([heardGif.type, heardGif.isGif, heardGif.hasMedia], ['video', true, true]);
  // One to be viewed once: its media is the receiver's phone's only.
  const theirOnce = (await inbound('15551234567', me, null, { media: { data: PNG.toString('base64'), mimetype: 'image/png' }, view_once: true })).id;
  const heardOnce = await eventually('their view-once photo', () => c.heard.message.find((x) => x.id._serialized === theirOnce));
  assert.deepEqual([heardOnce.type, heardOnce.hasMedia], ['image', false]);

  // A contact's status, as whatsapp-web.js hands one on.
  const story = (await inbound('15551234567', me, 'Fresh bread at 7', { status: true })).id;
  const heardStory = await eventually('the status', () => c.heard.message.find((x) => x.id._serialized === story));
  assert.deepEqual([heardStory.isStatus, heardStory.from, heardStory.author, heardStory.body],
    [true, 'status@broadcast', '15551234567@c.us', 'Fresh bread at 7']);
  // Contacts' statuses of the day, by contact, as whatsapp-web.js lists them.
  const bc = (await c.getBroadcasts()).find((b) => b.id._serialized === '15551234567@c.us');
  assert.deepEqual([bc.totalCount, bc.msgs.map((x) => x.body), bc.msgs[0].isStatus], [1, ['Fresh bread at 7'], true]);
  assert.equal((await (await c.getContactById('15551234567@c.us')).getBroadcast()).msgs[0].id._serialized, story);
  assert.equal((await c.getBroadcastById('15550000000@c.us')).msgs, undefined);

  const id = (await inbound('15551234567', me, undefined, { media: { mimetype: 'image/png', data: PNG.toString('base64'), filename: 'in.png' }, caption: 'in' })).id;
  const msg = await eventually('the photo', () => c.heard.message.find((x) => x.id._serialized === id));
  assert.deepEqual([msg.type, msg.mentionedIds], ['image', []]);
  assert.equal((await msg.downloadMedia()).mimetype, 'image/png');
  const name = crypto.createHash('sha256').update(id).digest().subarray(0, 16).toString('hex');
  // Where the daemon keeps it (<data dir>/sessions/<session>/media/<hash of the id>): gone.
  const file = path.join(dir, 'data', 'sessions', 'media', 'media', name);
  assert.ok(fs.existsSync(file));
  fs.rmSync(file);
  // No longer on disk: fetched from WhatsApp again, as whatsapp-web.js does.
  assert.equal((await msg.downloadMedia()).data, PNG.toString('base64'));
  assert.ok(fs.existsSync(file), 'kept again');
  // Forwarded on, as it is; what reaches us forwarded says so.
  assert.equal(msg.isForwarded, false);
  assert.equal(await msg.forward('15557654321@c.us'), undefined);
  const fwd = await eventually('the forward at the phone', async () => (await all(me)).find((m) => m.to === '15557654321' && m.forwarded));
  assert.deepEqual([fwd.caption, fwd.media.data, fwd.forwarded], ['in', PNG.toString('base64'), 1]);
  const chainId = (await inbound('15551234567', me, 'pass it on', { forwarded: 4 })).id;
  const chain = await eventually('the forwarded text', () => c.heard.message.find((x) => x.id._serialized === chainId));
  assert.deepEqual([chain.isForwarded, chain.forwardingScore], [true, 4]);
  await chain.forward(await c.getChatById('15557654321@c.us'));
  await eventually('the second forward at the phone', async () => (await all(me)).find((m) => m.text === 'pass it on' && m.forwarded === 5));

  const reply = await msg.reply('nice');
  assert.equal(reply.hasQuotedMsg, true);
  const quoted = await (await c.getMessageById(reply.id._serialized)).getQuotedMessage();
  assert.equal(quoted.id._serialized, id);

  // Deleted for everyone, and not on disk: WhatsApp gives it no more.
  await sb(`/_sandbox/messages/${encodeURIComponent(id)}/revoke`, {});
  await eventually('the delete', async () => (await c.getMessageById(id)).type === 'revoked');
  fs.rmSync(file);
  assert.equal(await msg.downloadMedia(), undefined, 'gone for good');

  // sendSeen: whatsapp-web.js marks the chat read before sending, unless told not to.
  const unread = (await inbound('15551234568', me, 'read me?')).id;
  await eventually('it', () => c.seen.includes(unread));
  await c.sendMessage('15551234568', 'not yet', { sendSeen: false });
  assert.equal((await all(me)).find((x) => x.id === unread).ack, 'sent');
  await c.sendMessage('15551234568', 'now');
  assert.equal((await all(me)).find((x) => x.id === unread).ack, 'read');

  // A privacy id whose phone WhatsApp shows.
  const lid = (await inbound('15556660000', me, 'from a lid', { name: 'Lida', lid: true })).id;
  const fromLid = await eventually('the lid message', () => c.heard.message.find((x) => x.id._serialized === lid));
  assert.ok(fromLid.from.endsWith('@lid'));
  const who = await fromLid.getContact();
  assert.deepEqual([who.id._serialized, who.number, who.isUser, who.pushname], [fromLid.from, '15556660000', true, 'Lida']);
  assert.equal((await c.getContactById(fromLid.from)).number, '15556660000');
  // Each id asked for the other, as whatsapp-web.js's getContactLidAndPhone.
  assert.deepEqual(await c.getContactLidAndPhone([fromLid.from, '15556660000@c.us']),
    [{ lid: fromLid.from, pn: '15556660000@c.us' }, { lid: fromLid.from, pn: '15556660000@c.us' }]);
  await c.destroy();
});

test('linking by pairing code; a contact\'s about, picture, block and unblock; online and offline', async () => {
  const me = '15550001212';
  const c = new Client({ authStrategy: new LocalAuth({ clientId: 'pair', dataPath: path.join(dir, 'auth') }), wabridge: { url, key: KEY }, pairWithPhoneNumber: { phoneNumber: me } });
  made.push(c);
  const qrs = [];
  const codes = [];
  c.on('qr', (qr) => qrs.push(qr));
  c.on('code', (code) => { codes.push(code); sb('/_sandbox/link', { code, phone: me }).catch(() => {}); });
  const ready = next(c, 'ready');
  await c.initialize();
  await ready;
  assert.deepEqual(qrs, [], 'a code instead of a QR');
  assert.equal(codes.length, 1);
  assert.equal(c.info.wid._serialized, `${me}@c.us`);

  const put = await fetch(`${sbUrl}/_sandbox/contacts/15551234567`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ about: 'Hey there', picture: PNG.toString('base64') }) });
  assert.ok(put.ok);
  const alice = await c.getContactById('15551234567@c.us');
  assert.equal(await alice.getAbout(), 'Hey there');
  assert.ok((await alice.getProfilePicUrl()).length > 0);
  assert.equal(await alice.block(), true);
  assert.equal(alice.isBlocked, true);
  assert.ok(JSON.stringify(await sb(`/_sandbox/accounts/${me}/blocked`)).includes('15551234567'));
  const listed = await c.getBlockedContacts();
  assert.deepEqual(listed.map((x) => [x.id._serialized, x.isBlocked]), [['15551234567@c.us', true]]);
  assert.equal(await alice.unblock(), true);
  assert.deepEqual(await c.getBlockedContacts(), []);
  assert.ok(!JSON.stringify(await sb(`/_sandbox/accounts/${me}/blocked`)).includes('15551234567'));
  // The address book: saved here, it is the phone's too.
  await c.saveOrEditAddressbookContact('15551234567', 'Alice', 'Liddell', true);
  assert.deepEqual(await sb(`/_sandbox/accounts/${me}/contacts`), { 15551234567: { first: 'Alice', last: 'Liddell', phone_book: true } });
  const mine = (await c.getContacts()).filter((x) => x.isMyContact);
  assert.deepEqual(mine.map((x) => [x.id._serialized, x.name, x.shortName]), [['15551234567@c.us', 'Alice Liddell', 'Alice']]);
  assert.equal((await c.getContactById('15551234567@c.us')).name, 'Alice Liddell');
  await c.deleteAddressbookContact('15551234567');
  assert.deepEqual(await sb(`/_sandbox/accounts/${me}/contacts`), {});
  assert.equal((await c.getContactById('15551234567@c.us')).isMyContact, false);
  await c.deleteAddressbookContact('15551234567'); // as whatsapp-web.js: no error
  await c.sendPresenceUnavailable();
  assert.equal((await sb(`/_sandbox/accounts/${me}/presence`)).online, false);
  await c.sendPresenceAvailable();
  assert.equal((await sb(`/_sandbox/accounts/${me}/presence`)).online, true);
  assert.equal(await c.getWWebVersion(), (await fetch(`${url}/api/sessions/pair`, { headers: { 'X-Api-Key': KEY } }).then((r) => r.json())).versions.wa_web);
  await c.destroy();
});

test('the daemon restarting (SIGTERM) or a session restart is no disconnected: messages go on; a session stopped for good is', async () => {
  const me = '15550002323';
  const c = await linked('graceful', me, ['change_state', 'disconnected', 'ready']);
  // The daemon stops its sessions (STOPPED) on its way down and resumes them when it starts.
  daemon.kill('SIGTERM');
  await new Promise((res) => daemon.once('exit', res));
  await startDaemon();
  const m1 = (await inbound('15557770009', me, 'after a graceful restart')).id;
  await eventually('a message after the daemon restarted', () => c.seen.includes(m1), 60000);
  const m2 = (await fetch(`${url}/api/sessions/graceful/restart`, { method: 'POST', headers: { 'X-Api-Key': KEY } })).ok
    && (await inbound('15557770009', me, 'after a session restart')).id;
  await eventually('a message after the session restarted', () => c.seen.includes(m2), 60000);
  await sleep(2000);
  assert.deepEqual(c.heard.disconnected, []);
  assert.ok(c.heard.change_state.includes('UNLAUNCHED'), 'the stop is a change_state');
  assert.equal(c.heard.change_state.at(-1), 'CONNECTED');
  assert.equal(c.heard.ready.length, 1);
  const gone = next(c, 'disconnected');
  await fetch(`${url}/api/sessions/graceful/stop`, { method: 'POST', headers: { 'X-Api-Key': KEY } });
  assert.equal(await gone, 'UNLAUNCHED');
  await c.destroy();
});

test('fetchMessages: fromMe picks before the limit counts', async () => {
  const me = '15550002525';
  const c = await linked('fetch', me);
  const chat = '15551239999@c.us';
  const mine = [];
  for (const t of ['one', 'two']) mine.push((await c.sendMessage(chat, t)).id._serialized);
  for (const t of ['a', 'b', 'c']) await inbound('15551239999', me, t);
  const h = await c.getChatById(chat);
  await eventually('all stored', async () => (await h.fetchMessages({ limit: 10 })).length === 5);
  assert.deepEqual((await h.fetchMessages({ limit: 2, fromMe: true })).map((m) => m.id._serialized), mine);
  assert.deepEqual((await h.fetchMessages({ limit: 2, fromMe: false })).map((m) => m.body), ['b', 'c']);
  assert.deepEqual((await h.fetchMessages({ limit: Infinity })).map((m) => m.body), ['one', 'two', 'a', 'b', 'c']);
  await c.destroy();
});

test('channels as whatsapp-web.js calls them: create, post, search, subscribe, a post arrives, mute, unsubscribe, delete', async () => {
  const me = '15550002626';
  const c = await linked('channels', me);
  assert.deepEqual(await c.getChannels(), []);
  const made = await c.createChannel('Shop news', { description: 'Offers', picture: new MessageMedia('image/png', PNG.toString('base64')) });
  assert.equal(typeof made, 'object', String(made));
  assert.equal(made.title, 'Shop news');
  assert.ok(made.nid._serialized.endsWith('@newsletter') && made.inviteLink.startsWith('https://whatsapp.com/channel/'), made.inviteLink);
  assert.match(await c.createChannel(' '), /^CreateChannelError: /);
  const mine = await c.getChatById(made.nid._serialized);
  assert.deepEqual([mine.isChannel, mine.isReadOnly, mine.name, mine.description], [true, false, 'Shop news', 'Offers']);
  const post = await mine.sendMessage('Big sale');
  assert.equal(post.body, 'Big sale');
  assert.equal(await mine.setSubject('Shop news 2'), true);
  assert.equal(mine.name, 'Shop news 2');
  assert.equal(await c.subscribeToChannel(made.nid._serialized), false, 'the owner does not follow its own');

  // A contact's channel: found, followed, its post arrives as a message.
  const theirs = await sb('/_sandbox/channels', { owner: '15551234567', name: 'Daily deals', description: 'Deals' });
  const found = await c.searchChannels({ searchText: 'deals', limit: 5 });
  assert.ok(found.some((ch) => ch.id._serialized === theirs.id && ch.isReadOnly), JSON.stringify(found.map((f) => f.id)));
  await assert.rejects(() => c.searchChannels({}), { name: 'NotSupportedError' });
  assert.equal(await c.subscribeToChannel(theirs.id), true);
  assert.equal((await c.searchChannels({ searchText: 'deals', skipSubscribedNewsletters: true })).length, 0);
  const got = new Promise((res) => c.on('message', (m) => { if (m.from === theirs.id) res(m); }));
  await sb(`/_sandbox/channels/${theirs.id}/posts`, { text: 'Deal of the day' });
  const m = await got;
  assert.equal(m.body, 'Deal of the day');
  const ch = await m.getChat();
  assert.deepEqual([ch.isChannel, ch.isReadOnly, ch.name], [true, true, 'Daily deals']);
  assert.equal(await ch.mute(), true);
  assert.equal(ch.isMuted, true);
  assert.deepEqual((await sb(`/_sandbox/channels/${theirs.id}`)).muted, [me]);
  assert.equal(await ch.setSubject('Mine now'), false, 'a follower may not');
  assert.equal(await ch.unmute(), true);
  assert.equal((await c.getChannels()).length, 2);
  assert.equal(await c.unsubscribeFromChannel(theirs.id), true);
  assert.deepEqual((await sb(`/_sandbox/channels/${theirs.id}`)).followers, []);
  assert.equal(await c.deleteChannel(theirs.id), false);
  assert.equal(await mine.deleteChannel(), true);
  assert.deepEqual(await c.getChannels(), []);
  await c.destroy();
});

test('scheduled events as whatsapp-web.js sends them, and one received', async () => {
  const me = '15550002727';
  const c = await linked('scheduled', me);
  const start = new Date('2030-03-01T18:00:00Z');
  const sentEv = await c.sendMessage('15551234567@c.us', new ScheduledEvent('Launch party', start, { description: 'Drinks', location: 'The shop', callType: 'voice' }));
  assert.equal(sentEv.type, 'scheduled_event_creation');
  assert.equal(sentEv.body, 'Launch party');
  const at = await eventually('the event at WhatsApp', async () => (await all(me)).find((m) => m.id === sentEv.id._serialized));
  assert.deepEqual([at.type, at.event.name, at.event.start, at.event.end, at.event.location.name], ['event_creation', 'Launch party', start / 1000, start / 1000 + 7200, 'The shop']);
  assert.ok(at.event.join_link.startsWith('https://call.whatsapp.com/voice/'), at.event.join_link);
  assert.throws(() => new ScheduledEvent('x', start, { callType: 'phone' }), /callType/);
  await assert.rejects(() => c.sendMessage('15551234567@c.us', new ScheduledEvent('Off', start, { isEventCanceled: true })), { name: 'NotSupportedError' });

  const got = new Promise((res) => c.on('message', (m) => { if (m.type === 'scheduled_event_creation') res(m); }));
  await inbound('15551234567', me, undefined, { event: { name: 'Team lunch', start: start / 1000, end: start / 1000 + 3600 } });
  const m = await got;
  assert.equal(m.body, 'Team lunch');
  await c.destroy();
});

test('where whatsapp-web.js answers quietly: links, edit null, voice notes of audio only, mentions with nothing to tag, CreateGroupError, a forward to a Contact', async () => {
  const me = '15550004545';
  const them = '15551239999';
  const c = await linked('quiet', me, ['message']);
  const stored = (m) => eventually('stored', () => c.getMessageById(m.id._serialized));
  const atPhone = (m) => eventually('at the phone', async () => (await all(me)).find((x) => x.id === m.id._serialized));

  // The links of a text or a caption, as whatsapp-web.js lists them.
  const theirs = (await inbound(them, me, 'menu at https://shop.example.com/menu. or www.shop.nl')).id;
  const got = await eventually('their message', () => c.heard.message.find((m) => m.id._serialized === theirs));
  assert.deepEqual(got.links, [{ link: 'https://shop.example.com/menu', isSuspicious: false }, { link: 'http://www.shop.nl', isSuspicious: false }]);
  assert.equal(await got.edit('mine now'), null, 'another\'s message');

  // sendAudioAsVoice makes voice notes of audio only: a photo goes as a photo.
  const png = new MessageMedia('image/png', PNG.toString('base64'), 'dot.png');
  const photo = await c.sendMessage(them, png, { sendAudioAsVoice: true, caption: 'see https://x.io/p' });
  assert.equal(photo.type, 'image');
  assert.deepEqual(photo.links, [{ link: 'https://x.io/p', isSuspicious: false }]);
  assert.equal((await atPhone(photo)).type, 'image');
  // Mentions on media without a caption: sent, tagging no one.
  const bare = await c.sendMessage(them, png, { mentions: [`${them}@c.us`] });
  assert.deepEqual(bare.mentionedIds, []);
  assert.equal((await atPhone(bare)).type, 'image');

  // edit: null where WhatsApp would not edit, as whatsapp-web.js.
  const place = await c.sendMessage(them, new Location(52.37, 4.89));
  await stored(place);
  assert.equal(await place.edit('somewhere'), null, 'no text to edit');
  const oops = await c.sendMessage(them, 'oops');
  await stored(oops);
  await oops.delete(true);
  await eventually('deleted', async () => (await c.getMessageById(oops.id._serialized)).type === 'revoked');
  assert.equal(await oops.edit('fixed'), null, 'deleted for everyone');
  await sb('/_sandbox/clock', { offset: -3600 });
  try {
    const old = await c.sendMessage(them, 'an hour ago');
    await stored(old);
    assert.equal(await old.edit('too late'), null, 'past the 15 minutes');
  } finally {
    await sb('/_sandbox/clock', { offset: 0 });
  }
  const fine = await c.sendMessage(them, 'see you at 5');
  await stored(fine);
  assert.equal((await fine.edit('see you at 6')).body, 'see you at 6');

  // A group WhatsApp would not make: whatsapp-web.js's string, not an error.
  assert.match(await c.createGroup('x'.repeat(200), [`${them}@c.us`]), /^CreateGroupError: /);

  // Forwarded to anything with an id, as whatsapp-web.js takes it: a Contact.
  await got.forward(await c.getContactById('15551238888@c.us'));
  await eventually('the forward at the phone', async () => (await all(me)).find((m) => m.to === '15551238888' && m.forwarded));
  await c.destroy();
});

test('a session whose proxy fails: change_state and disconnected PROXYBLOCK', async () => {
  const dead = await freePort();
  const made_ = await fetch(`${url}/api/sessions`, { method: 'POST', headers: { 'X-Api-Key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'proxied', start: false, proxy: `http://127.0.0.1:${dead}` }) });
  assert.equal(made_.status, 201);
  const c = bot('proxied', '15550002626');
  const states = [];
  c.on('change_state', (s) => states.push(s));
  const gone = next(c, 'disconnected', 60000);
  await c.initialize();
  assert.equal(await gone, 'PROXYBLOCK');
  assert.equal(states.at(-1), 'PROXYBLOCK');
  assert.equal(await c.getState(), 'PROXYBLOCK');
});
