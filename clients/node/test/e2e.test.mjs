// End to end: a bot written in whatsapp-web.js style, with only its
// `require` changed, against the real daemon (real headless Chromium) and
// the sandbox standing in for WhatsApp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

const require = createRequire(import.meta.url);
// The one line a whatsapp-web.js bot changes:
const { Client, LocalAuth, MessageMedia, Location, Poll } = require('../index.js');

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

after(() => {
  daemon && daemon.kill('SIGKILL');
  sandbox && sandbox.kill('SIGKILL');
});

// A client whose QR the "phone" scans as soon as it is shown.
function bot(clientId, phone) {
  const client = new Client({ authStrategy: new LocalAuth({ clientId }), wabridge: { url, key: KEY } });
  client.on('qr', (qr) => { sb('/_sandbox/link', { qr, phone, name: clientId }).catch(() => {}); });
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
  await assert.rejects(() => mine.delete(false), /deleting a message for this device only/);

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
