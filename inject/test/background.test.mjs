// bridge.js in a page hidden as a background tab (the daemon hides linked
// pages): the page's timers may wake only once a second, so the bridge must
// hand its events to the daemon without waiting on one. Here timers never
// fire at all, and every event must still reach the binding, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BRIDGE_JS = path.resolve(process.env.BRIDGE_JS || path.join(HERE, '../bridge.js'));

// A message channel as a page has one: a message is a task of its own, run
// soon. (Node's own would keep the test process alive.)
class NextTaskChannel {
  constructor() {
    const port1 = { onmessage: null };
    this.port1 = port1;
    this.port2 = { postMessage: (data) => setImmediate(() => port1.onmessage && port1.onmessage({ data })) };
  }
}

function hiddenPage() {
  const handlers = new Map();
  const sent = [];
  const timers = [];
  const window = {
    // Held, never run: the worst a background page's timers can do.
    setTimeout: (f, ms) => { timers.push(ms); return timers.length; },
    clearTimeout: () => {},
    MessageChannel: NextTaskChannel,
    JSON, Date, Promise, Map, Set, Math, Array, String, Number, Object, Error,
    __wabridgeEmit: (json) => sent.push(...JSON.parse(json)),
    WPP: {
      on: (name, f) => handlers.set(name, f),
      loader: { onReady: () => {} },
      conn: { isAuthenticated: () => false, isOnline: () => true },
    },
  };
  window.window = window;
  window.top = window;
  vm.createContext(window);
  vm.runInContext(fs.readFileSync(BRIDGE_JS, 'utf8'), window, { filename: BRIDGE_JS });
  return { handlers, sent, timers };
}

const turns = async (n) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

test('events leave a background page without waiting on a timer', async () => {
  const page = hiddenPage();
  await turns(5);
  assert.deepEqual(page.sent.map((e) => e.type), ['injected'], 'the first event waited on a timer');
  const onMessage = page.handlers.get('chat.new_message');
  for (let i = 0; i < 3; i++) {
    onMessage({
      id: { fromMe: false, remote: '15550001111@c.us', _serialized: `false_15550001111@c.us_M${i}` },
      type: 'chat', body: `hello ${i}`, from: '15550001111@c.us', to: '15550002222@c.us', t: 1700000000 + i,
    });
  }
  await turns(10);
  const msgs = page.sent.filter((e) => e.type === 'message').map((e) => e.msg.text);
  assert.deepEqual(msgs, ['hello 0', 'hello 1', 'hello 2']);
});
