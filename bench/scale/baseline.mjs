// The baseline of `make bench-scale`: whatsapp-web.js's architecture on the
// same sandbox page wabridge drives. Node + puppeteer-core, one Chromium per
// session, every new message serialized whole in the page and handed to Node
// through `page.exposeFunction`, then POSTed to the webhook receiver — what
// whatsapp-web.js does with `onAddMessageEvent` and a user's `client.on
// ('message', m => fetch(...))`. No auth persistence: it measures the event
// path and the browsers, not restarts.
//
// With --shared, one Chromium for all sessions, a browser context each (the
// design docs/performance.md weighs and rejects): what sharing the browser's
// wake-ups between sessions would save.
//
//   node baseline.mjs --sandbox URL --receiver URL --sessions N --browser PATH [--shared]
//
// Prints one JSON line per event on stdout: {"ready": sid, "pid": n} as each
// session is linked, {"all_ready": ms} once all are; exits on SIGTERM after
// closing every browser.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const sandbox = arg('sandbox');
const receiver = new URL(arg('receiver'));
const n = Number(arg('sessions', '1'));
const browserPath = arg('browser');
const phoneBase = Number(arg('phone-base', '15550300000'));
const parallel = Number(arg('parallel', '4'));
const shared = process.argv.includes('--shared');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-baseline-'));

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
function post(body) {
  return new Promise((resolve) => {
    const req = http.request({
      host: receiver.hostname, port: receiver.port, path: receiver.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', resolve);
    req.end(body);
  });
}

function sandboxPost(p, body) {
  return fetch(sandbox.replace(/\/$/, '') + p, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  }).then((r) => r.status);
}

const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// Runs in the page before its scripts, as whatsapp-web.js's injected store
// hooks do: wait for the client, then forward.
const PAGE_HOOK = `(() => {
  const wire = () => {
    if (!window.WPP || typeof window.WPP.on !== 'function') return setTimeout(wire, 50);
    WPP.on('conn.auth_code_change', (c) => { if (c && c.fullCode) window.onQRChangedEvent(c.fullCode); });
    WPP.on('conn.authenticated', () => window.onAuthenticatedEvent());
    WPP.on('chat.new_message', (m) => window.onAddMessageEvent(JSON.parse(JSON.stringify(m))));
  };
  wire();
})();`;

const browsers = [];

function launch(dir) {
  return puppeteer.launch({
    executablePath: browserPath,
    headless: 'shell',
    userDataDir: path.join(tmp, dir),
    defaultViewport: null,
    // whatsapp-web.js's README: root in a container needs --no-sandbox.
    args: ['--no-sandbox', '--disable-setuid-sandbox', '--disable-gpu', '--disable-quic'],
  });
}

const one = shared ? await launch('shared') : null;
if (one) browsers.push(one);

async function start(i) {
  const sid = 'b' + i;
  const phone = String(phoneBase + i);
  let browser, page;
  if (one) {
    browser = one;
    page = await (await one.createBrowserContext()).newPage();
  } else {
    browser = await launch(sid);
    browsers.push(browser);
    page = (await browser.pages())[0] || (await browser.newPage());
  }
  let ready;
  const authenticated = new Promise((r) => { ready = r; });
  let linking = false;
  await page.exposeFunction('onQRChangedEvent', async (qr) => {
    if (linking) return;
    linking = true;
    const status = await sandboxPost('/_sandbox/link', { qr, phone, name: 'Baseline ' + i });
    if (status !== 200) linking = false; // the QR rotated: the next one is scanned
  });
  await page.exposeFunction('onAuthenticatedEvent', () => ready());
  await page.exposeFunction('onAddMessageEvent', (m) =>
    post(JSON.stringify({ event: 'message', session: sid, payload: { ...m, id: m.id && m.id._serialized } })));
  await page.evaluateOnNewDocument(PAGE_HOOK);
  await page.goto(sandbox, { waitUntil: 'domcontentloaded' });
  await authenticated;
  say({ ready: sid, pid: browser.process().pid, phone });
}

const t0 = Date.now();
let next = 0;
await Promise.all(Array.from({ length: Math.min(parallel, n) }, async () => {
  while (next < n) await start(next++);
}));
say({ all_ready: Date.now() - t0 });

async function stop() {
  await Promise.all(browsers.map((b) => b.close().catch(() => {})));
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => {}, 1 << 30);
