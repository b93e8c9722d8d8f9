// bridge.js run in a bare VM context standing in for a page: the tests
// hand it a `WPP` shaped as real wa-js behaves, where the sandbox's is
// simpler, and read what it sends the daemon.
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

// A page hidden as a background tab at worst: its timers never fire.
// `wpp` is merged over a minimal WPP (not authenticated, online).
export function hiddenPage(wpp = {}) {
  const handlers = new Map();
  const sent = [];
  const timers = [];
  const window = {
    setTimeout: (f, ms) => { timers.push(ms); return timers.length; },
    clearTimeout: () => {},
    MessageChannel: NextTaskChannel,
    JSON, Date, Promise, Map, Set, Math, Array, String, Number, Object, Error, btoa,
    __wabridgeEmit: (json) => sent.push(...JSON.parse(json)),
    WPP: {
      on: (name, f) => handlers.set(name, f),
      loader: { onReady: () => {} },
      ...wpp,
      conn: { isAuthenticated: () => false, isIdle: () => false, isOnline: () => true, ...(wpp.conn || {}) },
    },
  };
  window.window = window;
  window.top = window;
  vm.createContext(window);
  vm.runInContext(fs.readFileSync(BRIDGE_JS, 'utf8'), window, { filename: BRIDGE_JS });
  return { handlers, sent, timers, window };
}

export const turns = async (n) => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };
