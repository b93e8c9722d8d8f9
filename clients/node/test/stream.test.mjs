// The event stream against a stand-in daemon, for what the real one does
// rarely: tell a resuming reader that events it missed were pruned ('gone').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Client } = require('../index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A daemon with one linked session "s"; every stream it serves starts with
// 'gone' and then one message.
async function daemon() {
  const streams = [];
  const server = http.createServer((req, res) => {
    const json = (status, v) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); };
    const u = new URL(req.url, 'http://x');
    if (req.method === 'POST' && u.pathname === '/api/sessions') return json(409, { error: { code: 'session_exists', message: 'exists' } });
    if (req.method === 'POST' && u.pathname === '/api/sessions/s/start') return json(200, { id: 's', status: 'CONNECTED' });
    if (req.method === 'GET' && u.pathname === '/api/sessions/s') return json(200, { id: 's', status: 'CONNECTED', me: { id: '1@c.us', name: 'Me' }, platform: 'android' });
    if (req.method === 'GET' && u.pathname === '/api/events') {
      streams.push({ lastEventId: req.headers['last-event-id'] });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const msg = { id: 'evt_1', event: 'message', session: 's', timestamp: Date.now(),
        payload: { id: 'false_2@c.us_A', chat: '2@c.us', from: '2@c.us', from_me: false, type: 'text', text: 'hi', timestamp: 1, ack: 'sent', sender: { phone: '2', name: 'B' } } };
      res.write(`event: gone\ndata: ${JSON.stringify({ error: { code: 'events_gone', message: 'pruned' } })}\n\n`);
      res.write(`id: 7\nevent: message\ndata: ${JSON.stringify(msg)}\n\n`);
      return undefined; // kept open, as a live stream
    }
    return json(404, { error: { code: 'not_found', message: req.url } });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, streams, close: () => server.close() };
}

test("after 'gone' the stream goes on: no reconnect loop, no 'error' for no one", async () => {
  const d = await daemon();
  const c = new Client({ authStrategy: { clientId: 's' }, wabridge: { url: d.url, key: 'k' } });
  const got = [];
  c.on('message', (m) => got.push(m.body));
  await c.initialize();
  for (let i = 0; i < 50 && !got.length; i++) await sleep(20);
  await sleep(300);
  assert.deepEqual(got, ['hi'], 'the message after gone arrives');
  assert.equal(d.streams.length, 1, 'one stream: it was not dropped and reopened');
  assert.equal(c._lastEventId, '7');
  await c.destroy();
  d.close();
});

test("'gone' is told to an 'error' listener, when there is one", async () => {
  const d = await daemon();
  const c = new Client({ authStrategy: { clientId: 's' }, wabridge: { url: d.url, key: 'k' } });
  const errors = [];
  c.on('error', (e) => errors.push(e.message));
  await c.initialize();
  for (let i = 0; i < 50 && !errors.length; i++) await sleep(20);
  assert.equal(errors.length, 1);
  assert.match(errors[0], /no longer keeps/);
  await c.destroy();
  d.close();
});
