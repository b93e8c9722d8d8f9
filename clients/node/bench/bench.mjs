// Benchmark (not a test): inbound messages from the sandbox through the
// daemon to this client's `message` handler, msg/s and latency at a fixed
// rate; then the resident memory of one Node process following 10 sessions.
// `make bench` runs it against the release binary:
//   node clients/node/bench/bench.mjs --bin target/release/wabridge --out bench-results/node.json
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';

const require = createRequire(import.meta.url);
const { Client, LocalAuth } = require('../index.js');

const argv = process.argv.slice(2);

// Child mode: a fresh process that follows the sessions b0..b{n-1} (already
// linked) and reports its resident memory.
// Child mode: the load generator (a burst, or a fixed rate when a rate is
// given), in its own process so that posting does not compete with the
// client being measured. Prints [id, epoch ms] pairs.
if (argv[0] === '--child-post') {
  // node:http with a keep-alive pool: fetch costs several times the CPU per
  // request, and on 2 cores the generator would be what the bench measures.
  const http = await import('node:http');
  const [, sbUrl, account, n] = argv;
  const target = new URL(sbUrl + '/_sandbox/messages');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const postOne = (body) => new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => (res.statusCode === 201 ? resolve(JSON.parse(data)) : reject(new Error(`sandbox answered ${res.statusCode}: ${data}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  const out = [];
  const now = () => performance.timeOrigin + performance.now();
  const rate = Number(argv[4] || 0);
  if (rate > 0) {
    // A fixed rate: message i is due at start + i/rate, whatever the answers.
    const posts = [];
    const start = performance.now();
    for (let i = 0; i < Number(n); i++) {
      const wait = start + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = now();
      posts.push(postOne(JSON.stringify({ from: '15557770001', to: account, text: `rate ${i}` })).then((v) => out.push([v.id, t])));
    }
    await Promise.all(posts);
    out.push(['achieved_per_s', Number(n) / ((performance.now() - start) / 1000)]);
  } else {
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < Number(n)) {
        const i = next++;
        const t = now();
        const v = await postOne(JSON.stringify({ from: `1555777${String(i % 50).padStart(4, '0')}`, to: account, text: `bench ${i}` }));
        out.push([v.id, t]);
      }
    }));
  }
  process.stdout.write(JSON.stringify(out), () => process.exit(0));
  await new Promise(() => {});
}

if (argv[0] === '--child-memory') {
  const [, url, key, n] = argv;
  const clients = [];
  for (let i = 0; i < Number(n); i++) {
    const c = new Client({ authStrategy: new LocalAuth({ clientId: `b${i}` }), wabridge: { url, key } });
    const ready = new Promise((res) => c.once('ready', res));
    c.on('message', () => {});
    await c.initialize();
    await ready;
    clients.push(c);
  }
  await new Promise((r) => setTimeout(r, 3000));
  const rss = process.memoryUsage().rss / 1e6;
  for (const c of clients) await c.destroy();
  process.stdout.write(JSON.stringify({ rss_mb: rss }), () => process.exit(0));
  await new Promise(() => {});
}
const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : dflt; };
const BIN = path.resolve(opt('--bin', 'target/release/wabridge'));
const OUT = opt('--out', 'bench-results/node.json');
const INBOUND = Number(opt('--inbound', '4000'));
const RATE = Number(opt('--rate', '500'));
const SECONDS = Number(opt('--rate-seconds', '10'));
const CLIENTS = Number(opt('--clients', '10'));
const KEY = 'wab_node_bench_key';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wabridge-node-bench-'));

const freePort = () => new Promise((res) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function eventually(what, f, ms = 120000) {
  const t0 = Date.now();
  for (;;) { const v = await f(); if (v) return v; if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`); await sleep(50); }
}
const run = (args, log) => spawn(BIN, args, { env: { ...process.env, WABRIDGE_API_KEY: KEY, WABRIDGE_SEND_PER_MINUTE: '0' }, stdio: ['ignore', fs.openSync(path.join(dir, log), 'a'), fs.openSync(path.join(dir, log), 'a')] });
const pct = (xs, p) => xs.length ? xs[Math.round((xs.length - 1) * p)] : NaN;

const [p1, p2] = [await freePort(), await freePort()];
const sbUrl = `http://127.0.0.1:${p2}`;
const url = `http://127.0.0.1:${p1}`;
const procs = [run(['sandbox', '--listen', `127.0.0.1:${p2}`], 'sandbox.log')];
await eventually('the sandbox', async () => { try { return (await fetch(sbUrl + '/')).ok; } catch { return false; } });
procs.push(run(['serve', '--wa-url', sbUrl + '/', '--listen', `127.0.0.1:${p1}`, '--data-dir', path.join(dir, 'data')], 'daemon.log'));
await eventually('the daemon', async () => { try { return (await fetch(url + '/health')).ok; } catch { return false; } });

async function linked(clientId, phone) {
  const c = new Client({ authStrategy: new LocalAuth({ clientId }), wabridge: { url, key: KEY } });
  c.on('qr', (qr) => fetch(sbUrl + '/_sandbox/link', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ qr, phone }) }).catch(() => {}));
  const ready = new Promise((res) => c.once('ready', res));
  await c.initialize();
  await ready;
  return c;
}

try {
  const account = '15550300000';
  const client = await linked('b0', account);
  const arrived = new Map();
  client.on('message', (m) => { if (!arrived.has(m.id._serialized)) arrived.set(m.id._serialized, performance.now()); });

  // Inbound throughput: a burst, 32 posts in flight from another process.
  const now = () => performance.timeOrigin + performance.now();
  client.removeAllListeners('message');
  client.on('message', (m) => { if (!arrived.has(m.id._serialized)) arrived.set(m.id._serialized, now()); });
  const t0 = now();
  const gen = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child-post', sbUrl, account, String(INBOUND)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let posted = '';
  gen.stdout.on('data', (d) => { posted += d; });
  await new Promise((res) => gen.on('exit', res));
  const postedPerS = INBOUND / ((now() - t0) / 1000);
  const sentAt = new Map(JSON.parse(posted));
  await eventually('the burst at the handler', () => [...sentAt.keys()].every((id) => arrived.has(id)));
  const last = Math.max(...[...sentAt.keys()].map((id) => arrived.get(id)));
  const burstPerS = INBOUND / ((last - t0) / 1000);

  // Latency at a fixed rate, from a settled state.
  await sleep(3000);
  const total = RATE * SECONDS;
  const rateGen = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child-post', sbUrl, account, String(total), String(RATE)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let ratePosted = '';
  rateGen.stdout.on('data', (d) => { ratePosted += d; });
  await new Promise((res) => rateGen.on('exit', res));
  const fixed = new Map(JSON.parse(ratePosted));
  const achieved = fixed.get('achieved_per_s');
  fixed.delete('achieved_per_s');
  await eventually('the fixed-rate messages', () => [...fixed.keys()].every((id) => arrived.has(id)));
  const lat = [...fixed.entries()].map(([id, t]) => arrived.get(id) - t).sort((a, b) => a - b);
  await client.destroy();

  // Memory: a fresh Node process following CLIENTS linked sessions.
  for (let i = 1; i < CLIENTS; i++) await (await linked(`b${i}`, `1555030${String(i).padStart(4, '0')}`)).destroy();
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--child-memory', url, KEY, String(CLIENTS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  await new Promise((res) => child.on('exit', res));
  const rssMb = JSON.parse(out).rss_mb;

  const res = { inbound: { messages: INBOUND, per_s: burstPerS, posted_per_s: postedPerS }, fixed_rate: { target_per_s: RATE, achieved_per_s: achieved, p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99), max_ms: lat[lat.length - 1] }, memory: { clients: CLIENTS, rss_mb: rssMb } };
  console.log(`\nload generator: posted ${INBOUND} messages at ${postedPerS.toFixed(0)}/s`);
  console.log('\n| Node client | inbound msg/s to `message` | at %d msg/s: p50 / p99 / max ms | RSS of one process, %d clients |', RATE, CLIENTS);
  console.log('|---|---:|---:|---:|');
  console.log(`| wabridge-client | ${burstPerS.toFixed(0)} | ${pct(lat, 0.5).toFixed(1)} / ${pct(lat, 0.99).toFixed(1)} / ${lat[lat.length - 1].toFixed(1)} | ${rssMb.toFixed(1)} MB |`);
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, JSON.stringify(res, null, 2));
  console.log(`\nJSON: ${OUT}`);
} finally {
  for (const p of procs) p.kill('SIGKILL');
}
process.exit(0);
