#!/usr/bin/env python3
"""Soak benchmark of wabridge: steady traffic for a long while, against the sandbox.

N sessions (10) are linked through the sandbox; then, for --minutes (30), contacts
write to each account at a steady rate and each session sends through the API,
while every session's webhook goes to a receiver here that flaps: it answers
200, then 503, then hangs past the daemon's webhook timeout, in cycles. It samples
the daemon (RSS, PSS, open fds, threads, CPU), each session's browser process
group (RSS, PSS, processes) and the outbox backlog (`/metrics`); afterwards the
receiver turns healthy and the backlog must drain. Then it checks that every
injected message was stored and delivered exactly once (deduped by event id, the
`webhook-id` header), fits the memory and fd figures after warm-up by least
squares, prints markdown tables and writes the figures as JSON.

    python3 bench/soak.py --bin target/release/wabridge --out bench-results/soak.json --minutes 30

Standard library only, like bench/bench.py, whose process and /proc helpers it imports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402  (bench/bench.py: HTTP, /proc and process helpers)

TARGET_MB_PER_HOUR = 5.0
TARGET_FD_GROWTH = 10  # fds above the first count after warm-up, at most
HTTP_TIMEOUT = 30


# ---------------------------------------------------------------- helpers


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round((len(s) - 1) * p)))]


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, in value per hour."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx == 0:
        return None
    sxy = sum((t - mx) * (v - my) for t, v in points)
    return sxy / sxx * 3600


def rnd(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


def fmt(x, unit: str = "", nd: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}{unit}"
    return f"{x:,}{unit}"


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks (0 if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


def fd_count(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def dir_mb(path: Path) -> float:
    """Bytes of the files under `path`, in MB."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return round(total / 1024 / 1024, 1)


def prom(text: str) -> dict[str, float]:
    """Prometheus text → {'name{labels}': value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, val = line.rpartition(" ")
        try:
            out[key.strip()] = float(val)
        except ValueError:
            pass
    return out


def prom_sum(m: dict[str, float], name: str, label: str = "") -> float:
    """Sum of a metric's series whose labels contain `label`."""
    return sum(v for k, v in m.items()
               if (k == name or k.startswith(name + "{")) and label in k)


# ---------------------------------------------------------------- the flapping receiver


class Receiver:
    """Webhook receiver on 127.0.0.1, path /hook/<session>. Answers by the flap
    schedule (from `start()`; 200 before and after), counts per event id what it
    answered 200 to, and records when each message and ack first arrived."""

    def __init__(self, flap: list[tuple[float, str]], hang_s: float):
        self.flap = flap
        self.cycle = sum(d for d, _ in flap)
        self.hang_s = hang_s
        self.t0: float | None = None  # flapping from here; None: always 200
        self.healthy = False  # forced 200 (the drain)
        self.lock = threading.Lock()
        self.acked: dict[str, int] = {}  # event id -> 200s answered
        self.attempts: dict[str, int] = {}  # event id -> requests received
        self.answers = {"200": 0, "503": 0, "hang": 0}
        self.msg_first: dict[tuple[str, str], float] = {}  # (session, msg id) -> first arrival
        self.msg_acked: dict[tuple[str, str], float] = {}  # ... -> first 200
        self.msg_events: dict[tuple[str, str], set] = {}  # ... -> event ids acked
        self.delivered_acked: set[tuple[str, str]] = set()  # sends whose "delivered" ack was acked
        self.ack_kinds: dict[str, int] = {}
        self.other_events: dict[str, int] = {}
        self.bad: list[str] = []  # requests that made no sense (first few)
        self.bad_n = 0
        self.id_mismatch = 0  # webhook-id header != body id
        self.slow_acks = 0  # 200s that took us close to the daemon's timeout
        self.timeout_s = hang_s
        self.server: ThreadingHTTPServer | None = None
        self.url = ""

    def mode(self, now: float) -> str:
        if self.healthy or self.t0 is None:
            return "200"
        pos = (now - self.t0) % self.cycle
        for d, m in self.flap:
            if pos < d:
                return m
            pos -= d
        return self.flap[-1][1]

    def note_bad(self, what: str) -> None:
        with self.lock:
            self.bad_n += 1
            if len(self.bad) < 10:
                self.bad.append(what)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        n = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(n) if n else b""
        mode = self.mode(arrived)
        try:
            ev = json.loads(raw)
            eid = ev["id"]
            kind = ev["event"]
            sess = ev["session"]
            payload = ev.get("payload") or {}
        except (ValueError, KeyError, TypeError):
            self.note_bad(f"{h.path}: not a native event: {raw[:200]!r}")
            ev, eid, kind, sess, payload = None, None, None, None, {}
        hid = h.headers.get("webhook-id")
        if ev is not None:
            if h.path != f"/hook/{sess}":
                self.note_bad(f"event of session {sess} posted to {h.path}")
            with self.lock:
                if hid != eid:
                    self.id_mismatch += 1
                self.attempts[eid] = self.attempts.get(eid, 0) + 1
                self.answers[mode] += 1
                if kind == "message":
                    self.msg_first.setdefault((sess, payload.get("id")), arrived)
        if mode == "hang":
            # Past the daemon's timeout: it gives up and retries; we never answer.
            time.sleep(self.hang_s)
            h.close_connection = True
            return
        if mode == "503" or ev is None:
            code = 503 if ev is not None else 400
            h.send_response(code)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        with self.lock:
            self.acked[eid] = self.acked.get(eid, 0) + 1
            if kind == "message":
                key = (sess, payload.get("id"))
                self.msg_acked.setdefault(key, arrived)
                self.msg_events.setdefault(key, set()).add(eid)
            elif kind == "message.ack":
                ack = str(payload.get("ack"))
                self.ack_kinds[ack] = self.ack_kinds.get(ack, 0) + 1
                if ack in ("delivered", "read", "played"):
                    self.delivered_acked.add((sess, payload.get("id")))
            else:
                self.other_events[kind] = self.other_events.get(kind, 0) + 1
        body = b"ok"
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        if time.monotonic() - arrived > 0.5 * self.timeout_s:
            with self.lock:
                self.slow_acks += 1

    def serve(self) -> None:
        recv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver

            def do_POST(self):  # noqa: N802
                recv.handle(self)

            def log_message(self, *a):
                pass

        class S(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

            def handle_error(self, request, client_address):
                pass  # the daemon hung up on a hanging answer: expected

        self.server = S(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def duplicates(self) -> tuple[int, int, list[str]]:
        """(event ids answered 200 more than once, extra 200s, a few of those ids)."""
        with self.lock:
            dup = {k: v for k, v in self.acked.items() if v > 1}
        return len(dup), sum(v - 1 for v in dup.values()), list(dup)[:10]


# ---------------------------------------------------------------- the soak


class Soak(B.Bench):
    def __init__(self, args: argparse.Namespace):
        super().__init__(args)
        self.args = args
        self.n = args.sessions
        self.ids = [f"s{i}" for i in range(1, self.n + 1)]
        self.phones = {sid: f"1555040{i:04d}" for i, sid in enumerate(self.ids, 1)}
        self.contacts = {sid: [f"155577{i:02d}{c:03d}" for c in range(args.contacts)]
                         for i, sid in enumerate(self.ids, 1)}
        self.recv = Receiver(args.flap, args.webhook_timeout_ms / 1000 + args.hang_extra)
        self.recv.timeout_s = args.webhook_timeout_ms / 1000
        self.d: B.Daemon | None = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.inbound: list[tuple[str, str, float]] = []  # (session, msg id, posted at)
        self.inbound_fail: dict[str, int] = {}
        self.outbound: list[tuple[str, str, float, float]] = []  # (session, id, sent at, latency s)
        self.outbound_fail: dict[str, int] = {}
        self.skipped = {"inbound": 0, "outbound": 0}  # ticks dropped: too many requests in flight
        self.samples: list[dict] = []
        self.checkpoints: list[dict] = []
        self.t0 = 0.0  # load start (monotonic)
        self.load_end = 0.0
        self.pool: ThreadPoolExecutor | None = None
        self.inflight = threading.BoundedSemaphore(args.max_inflight)
        self.errors: list[str] = []

    # ---- setup

    def start_sandbox(self) -> None:
        """Like bench.py's, without a state file: the soak never restarts it, and
        rewriting a world of tens of thousands of messages every 200 ms would
        take the CPU the daemon is measured on."""
        port = B.free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        self.sandbox = B.Proc([self.bin, "sandbox", "--listen", f"127.0.0.1:{port}"],
                              self.tmp / "sandbox.log")
        self.procs.append(self.sandbox)
        B.wait_http_ok(self.sandbox_url + "/", self.sandbox, self.timeout, "the sandbox")

    def start_daemon(self) -> None:
        a = self.args
        # bench.Daemon passes the environment on: every flag has a WABRIDGE_* twin.
        os.environ.update({
            "WABRIDGE_SEND_PER_MINUTE": "0",  # no pacing: the bench sets the rate
            "WABRIDGE_WEBHOOK_TIMEOUT_MS": str(a.webhook_timeout_ms),
            "WABRIDGE_WEBHOOK_RETRY_BASE_MS": str(a.retry_base_ms),
            "WABRIDGE_WEBHOOK_RETRY_MAX_MS": str(a.retry_max_ms),
            "WABRIDGE_LOG_FORMAT": "json",
        })
        self.d = B.Daemon(self, self.tmp / "data-soak")
        self.d.start()

    def setup_sessions(self) -> None:
        d = self.d

        def create(sid: str) -> None:
            hook = {"url": f"{self.recv.url}/hook/{sid}", "events": ["message", "message.ack"],
                    "retries": {"attempts": self.args.webhook_attempts}}
            code, body = d.api("POST", "/api/sessions", {"id": sid, "webhooks": [hook]})
            if code != 201:
                raise B.BenchError(f"creating session {sid}: HTTP {code} {body}")
            d.wait_status(sid, "SCAN_QR", time.monotonic())
            self.link(d, sid, self.phones[sid])

        with ThreadPoolExecutor(max_workers=self.n) as pool:
            list(pool.map(create, self.ids))
        for sid in self.ids:
            pgid = d.browser_pgid(sid)
            if pgid:
                self.pgids.add(pgid)

    # ---- load

    def _post_inbound(self, k: int) -> None:
        try:
            sid = self.ids[k % self.n]
            frm = self.contacts[sid][(k // self.n) % len(self.contacts[sid])]
            t = time.monotonic()
            try:
                code, body = B.http("POST", self.sandbox_url + "/_sandbox/messages",
                                    {"from": frm, "to": self.phones[sid], "text": f"soak in {k}",
                                     "name": f"Contact {frm[-3:]}"}, timeout=HTTP_TIMEOUT)
            except OSError as e:
                code, body = type(e).__name__, None
            if code == 201 and isinstance(body, dict) and body.get("id"):
                with self.lock:
                    self.inbound.append((sid, body["id"], t))
            else:
                with self.lock:
                    self.inbound_fail[str(code)] = self.inbound_fail.get(str(code), 0) + 1
        finally:
            self.inflight.release()

    def _send_outbound(self, k: int) -> None:
        try:
            sid = self.ids[k % self.n]
            to = self.contacts[sid][(k // self.n) % len(self.contacts[sid])]
            t = time.monotonic()
            try:
                code, body = self.d.api("POST", f"/api/sessions/{sid}/messages",
                                        {"to": to, "text": f"soak out {k}"})
            except OSError as e:
                code, body = type(e).__name__, None
            lat = time.monotonic() - t
            if code == 201 and isinstance(body, dict) and body.get("id"):
                with self.lock:
                    self.outbound.append((sid, body["id"], t, lat))
            else:
                key = str(code) if not isinstance(body, dict) else \
                    f"{code} {(body.get('error') or {}).get('code', '')}".strip()
                with self.lock:
                    self.outbound_fail[key] = self.outbound_fail.get(key, 0) + 1
        finally:
            self.inflight.release()

    def _ticker(self, rate: float, fn, kind: str, end: float) -> None:
        """Calls fn(k) on the pool at `rate` per second, on a fixed schedule."""
        if rate <= 0:
            return
        k = 0
        while not self.stop.is_set():
            at = self.t0 + k / rate
            if at >= end:
                return
            delay = at - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                return
            if self.inflight.acquire(blocking=False):
                try:
                    self.pool.submit(fn, k)
                except RuntimeError:  # pool shut down
                    self.inflight.release()
                    return
            else:
                with self.lock:
                    self.skipped[kind] += 1
            k += 1

    # ---- sampling

    def sample(self) -> dict:
        d = self.d
        pid = d.proc.pid
        now = time.monotonic()
        s = {
            "t": round(now - self.t0, 1),
            "phase": self.recv.mode(now),
            "daemon_rss_mb": B.mb(B.read_kb(f"/proc/{pid}/status", "VmRSS")),
            "daemon_pss_mb": B.mb(B.read_kb(f"/proc/{pid}/smaps_rollup", "Pss")),
            "daemon_threads": B.read_kb(f"/proc/{pid}/status", "Threads"),  # a bare count
            "daemon_fds": fd_count(pid),
            "daemon_cpu_ticks": cpu_ticks(pid),
            "sandbox_rss_mb": B.mb(B.read_kb(f"/proc/{self.sandbox.pid}/status", "VmRSS")),
            "db_mb": dir_mb(d.data_dir / "db"),
        }
        browsers = {}
        for sid in self.ids:
            pgid = d.browser_pgid(sid)
            members = B.group_members(pgid) if pgid else []
            if pgid:
                self.pgids.add(pgid)
            browsers[sid] = {
                "pgid": pgid,
                "procs": len(members),
                "pss_mb": B.mb(sum(B.read_kb(f"/proc/{m}/smaps_rollup", "Pss") for m in members)),
                "rss_mb": B.mb(sum(B.read_kb(f"/proc/{m}/smaps_rollup", "Rss") for m in members)),
                "cpu_ticks": sum(cpu_ticks(m) for m in members),
            }
        s["browsers"] = browsers
        s["browser_pss_mb_total"] = round(sum(b["pss_mb"] for b in browsers.values()), 1)
        s["browser_rss_mb_total"] = round(sum(b["rss_mb"] for b in browsers.values()), 1)
        s["processes"] = 1 + sum(b["procs"] for b in browsers.values())
        try:
            code, text = d.api("GET", "/metrics")
            m = prom(text) if code == 200 and isinstance(text, str) else {}
        except OSError:
            m = {}
        s["outbox_pending"] = prom_sum(m, "wabridge_outbox_deliveries", 'state="pending"') if m else None
        s["outbox_dead"] = prom_sum(m, "wabridge_outbox_deliveries", 'state="dead"') if m else None
        s["browser_launches"] = prom_sum(m, "wabridge_browser_launches_total") if m else None
        s["browser_crashes"] = prom_sum(m, "wabridge_browser_crashes_total") if m else None
        try:
            code, body = d.api("GET", "/api/sessions")
            lst = body if isinstance(body, list) else (body or {}).get("sessions", []) if isinstance(body, dict) else []
            s["connected"] = sum(1 for x in lst if x.get("status") == "CONNECTED")
        except OSError:
            s["connected"] = None
        with self.lock:
            s["injected"] = len(self.inbound)
            s["sent"] = len(self.outbound)
        with self.recv.lock:
            s["acked_events"] = len(self.recv.acked)
        return s

    def pending(self) -> float | None:
        """Deliveries waiting in the outbox, from /metrics."""
        try:
            code, text = self.d.api("GET", "/metrics")
        except OSError:
            return None
        if code != 200 or not isinstance(text, str):
            return None
        return prom_sum(prom(text), "wabridge_outbox_deliveries", 'state="pending"')

    def _sampler(self) -> None:
        period = self.args.sample_s
        k = 0
        next_cp = self.t0 + self.healthy_len() - 1.0  # just before each cycle's 503 phase
        while not self.stop.is_set():
            now = time.monotonic()
            at = self.t0 + k * period
            if next_cp <= at and next_cp < self.load_end:
                if self.stop.wait(max(0.0, next_cp - now)):
                    return
                cp = self.sample()
                cp["cycle"] = len(self.checkpoints) + 1
                self.checkpoints.append(cp)
                next_cp += self.recv.cycle
                continue
            if self.stop.wait(max(0.0, at - now)):
                return
            if not self.d.proc.alive():
                self.errors.append(f"the daemon exited with {self.d.proc.p.returncode}")
                self.stop.set()
                return
            try:
                s = self.sample()
            except Exception as e:  # a sample must never end the soak
                self.errors.append(f"sample failed: {e!r}")
                k += 1
                continue
            self.samples.append(s)
            if k % max(1, round(self.args.interval / period)) == 0:
                B.log(f"  t={s['t']:6.0f}s [{s['phase']:>4}] in {s['injected']:,} out {s['sent']:,} "
                      f"acked {s['acked_events']:,} backlog {fmt(s['outbox_pending'], nd=0)} | daemon RSS "
                      f"{s['daemon_rss_mb']} MB, fds {s['daemon_fds']}, threads {s['daemon_threads']} | "
                      f"browsers PSS {s['browser_pss_mb_total']} MB, procs {s['processes']}, "
                      f"connected {s['connected']}/{self.n}")
            k += 1

    def healthy_len(self) -> float:
        """Seconds from a cycle's start to its first non-200 phase."""
        t = 0.0
        for dur, mode in self.recv.flap:
            if mode != "200":
                return t
            t += dur
        return t

    # ---- run

    def run_soak(self) -> dict:
        a = self.args
        self.recv.serve()
        B.log(f"== soak: {self.n} sessions, {a.minutes:g} min, {a.inbound_rate:g} in + "
              f"{a.outbound_rate:g} out msg/s per session; receiver flaps "
              f"{', '.join(f'{d:g} s {m}' for d, m in a.flap)} (webhook timeout {a.webhook_timeout_ms} ms)")
        self.start_sandbox()
        self.start_daemon()
        t = time.monotonic()
        self.setup_sessions()
        B.log(f"   {self.n} sessions CONNECTED in {time.monotonic() - t:.1f} s; daemon pid {self.d.proc.pid}")

        self.pool = ThreadPoolExecutor(max_workers=a.workers, thread_name_prefix="load")
        self.t0 = time.monotonic()
        self.load_end = self.t0 + a.minutes * 60
        self.recv.t0 = self.t0
        threads = [
            threading.Thread(target=self._ticker, args=(a.inbound_rate * self.n, self._post_inbound,
                                                        "inbound", self.load_end), daemon=True),
            threading.Thread(target=self._ticker, args=(a.outbound_rate * self.n, self._send_outbound,
                                                        "outbound", self.load_end), daemon=True),
            threading.Thread(target=self._sampler, daemon=True),
        ]
        for th in threads:
            th.start()
        while time.monotonic() < self.load_end and not self.stop.is_set():
            time.sleep(0.5)
        for th in threads[:2]:
            th.join()
        self.pool.shutdown(wait=True)
        self.stop.set()
        threads[2].join()
        if self.errors and not self.d.proc.alive():
            raise B.BenchError("; ".join(self.errors) + f"\nlog tail:\n{self.d.proc.tail()}")
        load_s = time.monotonic() - self.t0
        end_sample = self.sample()
        self.samples.append(end_sample)

        # Drain: the receiver turns healthy; the outbox must empty and every
        # message and send's delivered ack reach it.
        B.log(f"   load stopped at {load_s:.0f} s; backlog {fmt(end_sample['outbox_pending'], nd=0)}; draining "
              f"(at most {a.drain_timeout:g} s)")
        self.recv.healthy = True
        t_drain = time.monotonic()
        want_msgs = {(s, i) for s, i, _ in self.inbound}
        want_acks = {(s, i) for s, i, _, _ in self.outbound}
        drained_s = None
        while time.monotonic() - t_drain < a.drain_timeout:
            time.sleep(1.0)
            with self.recv.lock:
                got_msgs = want_msgs.issubset(self.recv.msg_acked.keys())
                got_acks = want_acks.issubset(self.recv.delivered_acked)
            if got_msgs and got_acks and self.pending() == 0:
                drained_s = time.monotonic() - t_drain
                break
        # Let stray retries land (a duplicate would show here), then measure idle.
        time.sleep(min(a.retry_max_ms / 1000 + 2, 10))
        final = self.sample()
        B.log(f"   drained: {'in %.1f s' % drained_s if drained_s is not None else 'NO'}; backlog "
              f"{fmt(final['outbox_pending'], nd=0)}, fds {final['daemon_fds']}")
        stored = self.stored()
        log_summary = self.daemon_log()
        self.d.proc.terminate(self.timeout)
        return self.report(load_s, end_sample, final, drained_s, stored, log_summary)

    def stored(self) -> dict:
        """Every stored message id per session, paging history newest first."""
        ids: dict[str, set[str]] = {}
        for sid in self.ids:
            got: set[str] = set()
            before = None
            while True:
                q = f"/api/sessions/{sid}/messages?limit=500" + (f"&before={before}" if before else "")
                code, body = self.d.api("GET", q)
                if code != 200:
                    raise B.BenchError(f"GET {q}: HTTP {code} {body}")
                got.update(m["id"] for m in body["messages"])
                before = body.get("next")
                if not before or not body["messages"]:
                    break
            ids[sid] = got
        return ids

    def daemon_log(self) -> dict:
        """Warnings and errors of the daemon's JSON log, counted by message."""
        levels: dict[str, int] = {}
        msgs: dict[str, int] = {}
        examples: dict[str, str] = {}
        try:
            lines = self.d.proc.log.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                v = json.loads(line)
                level = str(v.get("level", "?")).upper()
                msg = (v.get("fields") or {}).get("message") or v.get("message") or line
            except ValueError:
                level, msg = "TEXT", B.ANSI.sub("", line)[:160]
            levels[level] = levels.get(level, 0) + 1
            if level in ("WARN", "ERROR", "TEXT"):
                key = f"{level} {v.get('target', '') if level != 'TEXT' else ''}: {msg}"[:200]
                msgs[key] = msgs.get(key, 0) + 1
                examples.setdefault(key, line[:600])
        top = sorted(msgs.items(), key=lambda kv: -kv[1])[:15]
        return {"levels": levels, "warnings_and_errors": [{"count": n, "message": k, "example": examples[k]}
                                                           for k, n in top]}

    # ---- report

    def report(self, load_s: float, end_sample: dict, final: dict, drained_s, stored: dict,
               log_summary: dict) -> dict:
        a = self.args
        warm = min(a.warmup * 60, a.minutes * 60 / 3)
        post = [s for s in self.samples if warm <= s["t"] <= load_s]

        def series(f) -> list[tuple[float, float]]:
            return [(s["t"], f(s)) for s in post if f(s) is not None]

        mem = {
            "daemon_rss": slope_per_hour(series(lambda s: s["daemon_rss_mb"])),
            "daemon_pss": slope_per_hour(series(lambda s: s["daemon_pss_mb"])),
            "browser_pss_total": slope_per_hour(series(lambda s: s["browser_pss_mb_total"])),
            "browser_rss_total": slope_per_hour(series(lambda s: s["browser_rss_mb_total"])),
            "sandbox_rss": slope_per_hour(series(lambda s: s["sandbox_rss_mb"])),
        }
        per_pss, per_rss = {}, {}
        for sid in self.ids:
            per_pss[sid] = slope_per_hour(series(lambda s: s["browsers"][sid]["pss_mb"]))
            per_rss[sid] = slope_per_hour(series(lambda s: s["browsers"][sid]["rss_mb"]))
        vals = [v for v in per_pss.values() if v is not None]
        mem["browser_pss_per_session_mean"] = statistics.mean(vals) if vals else None
        mem["browser_pss_per_session_max"] = max(vals) if vals else None
        vals = [v for v in per_rss.values() if v is not None]
        mem["browser_rss_per_session_mean"] = statistics.mean(vals) if vals else None
        mem["browser_rss_per_session_max"] = max(vals) if vals else None
        mem = {k: rnd(v, 2) for k, v in mem.items()}

        first = self.samples[0] if self.samples else end_sample
        at_warm = post[0] if post else end_sample

        # fds and processes, compared at the same point of each flap cycle
        # (the end of its healthy phase), then idle after the drain.
        cps = [c for c in self.checkpoints if c["t"] >= warm] or self.checkpoints[-1:]
        fd_base = cps[0]["daemon_fds"] if cps else at_warm["daemon_fds"]
        fd_vals = [c["daemon_fds"] for c in cps if c["daemon_fds"] is not None]
        # A leak shows at every later checkpoint and after the drain; one
        # checkpoint caught while retries from a hang are still in flight
        # (16 connections per receiver) does not: the median of the last
        # three is compared, and the count after the drain.
        late = statistics.median(fd_vals[-3:]) if fd_vals else 0
        fd_growth = max(late, final["daemon_fds"] or 0) - fd_base if fd_base is not None else None
        procs_post = [s["processes"] for s in post] + [final["processes"]]

        # Messages: injected, stored, acknowledged, lost, repeated.
        recv = self.recv
        in_ids = {(s, i) for s, i, _ in self.inbound}
        out_ids = {(s, i) for s, i, _, _ in self.outbound}
        stored_pairs = {(sid, mid) for sid, ids in stored.items() for mid in ids}
        with recv.lock:
            msg_acked = dict(recv.msg_acked)
            msg_first = dict(recv.msg_first)
            delivered_acked = set(recv.delivered_acked)
            multi_event = sum(1 for v in recv.msg_events.values() if len(v) > 1)
            answers = dict(recv.answers)
            attempts_total = sum(recv.attempts.values())
            events_acked = len(recv.acked)
        dup_ids, dup_extra, dup_examples = recv.duplicates()
        lost_msgs = sorted(in_ids - msg_acked.keys())
        lost_acks = sorted(out_ids - delivered_acked)
        counts = {
            "inbound_injected": len(in_ids),
            "inbound_post_failures": dict(self.inbound_fail),
            "inbound_stored": len(in_ids & stored_pairs),
            "inbound_not_stored": len(in_ids - stored_pairs),
            "inbound_webhooks_acked": len(in_ids & msg_acked.keys()),
            "inbound_lost": len(lost_msgs),
            "inbound_lost_examples": [list(x) for x in lost_msgs[:10]],
            "outbound_sent": len(out_ids),
            "outbound_failures": dict(self.outbound_fail),
            "outbound_stored": len(out_ids & stored_pairs),
            "outbound_delivered_acks_acked": len(out_ids & delivered_acked),
            "outbound_acks_lost": len(lost_acks),
            "outbound_acks_lost_examples": [list(x) for x in lost_acks[:10]],
            "stored_unexpected": len(stored_pairs - in_ids - out_ids),
            "ticks_skipped": dict(self.skipped),
            "events_acked": events_acked,
            "webhook_requests": attempts_total,
            "receiver_answers": answers,
            "duplicate_event_ids": dup_ids,
            "duplicate_acks_extra": dup_extra,
            "duplicate_examples": dup_examples,
            "messages_with_several_event_ids": multi_event,
            "webhook_id_header_mismatch": recv.id_mismatch,
            "slow_200s": recv.slow_acks,
            "bad_requests": recv.bad_n,
            "bad_request_examples": recv.bad,
            "ack_events_by_kind": dict(recv.ack_kinds),
            "other_events": dict(recv.other_events),
        }

        # Per interval (by the time a message was posted; the last one takes
        # what was posted in the final instant).
        iv = a.interval
        nb = max(1, round(load_s / iv + 0.49))

        def idx(t: float) -> int:
            return min(nb - 1, max(0, int((t - self.t0) // iv)))

        ins_by = [[] for _ in range(nb)]
        for s_, i_, t_ in self.inbound:
            ins_by[idx(t_)].append((s_, i_, t_))
        outs_by = [[] for _ in range(nb)]
        for _, _, t_, lat in self.outbound:
            outs_by[idx(t_)].append(lat * 1000)
        smp_by = [[] for _ in range(nb)]
        for s_ in self.samples:
            if s_["t"] <= load_s:
                smp_by[idx(self.t0 + s_["t"])].append(s_)
        hz = os.sysconf("SC_CLK_TCK")
        buckets = []
        for b in range(nb):
            ins, outs, ss = ins_by[b], outs_by[b], smp_by[b]
            first_lat = [(msg_first[(s, i)] - t) * 1000 for s, i, t in ins if (s, i) in msg_first]
            ack_lat = [(msg_acked[(s, i)] - t) * 1000 for s, i, t in ins if (s, i) in msg_acked]
            cpu = None
            if len(ss) >= 2 and ss[-1]["t"] > ss[0]["t"]:
                dt = ss[-1]["t"] - ss[0]["t"]
                cpu = {
                    "daemon_pct": rnd((ss[-1]["daemon_cpu_ticks"] - ss[0]["daemon_cpu_ticks"]) / hz / dt * 100),
                    "browsers_pct": rnd(sum(
                        max(0, ss[-1]["browsers"][sid]["cpu_ticks"] - ss[0]["browsers"][sid]["cpu_ticks"])
                        for sid in self.ids) / hz / dt * 100),
                }
            pend = [s["outbox_pending"] for s in ss if s["outbox_pending"] is not None]
            buckets.append({
                "from_s": b * iv, "to_s": round(load_s) if b == nb - 1 else (b + 1) * iv,
                "inbound": len(ins), "outbound": len(outs),
                "first_attempt_ms": {"p50": rnd(pct(first_lat, 0.5)), "p99": rnd(pct(first_lat, 0.99)),
                                     "max": rnd(max(first_lat) if first_lat else None)},
                "acked_ms": {"p50": rnd(pct(ack_lat, 0.5)), "p99": rnd(pct(ack_lat, 0.99)),
                             "max": rnd(max(ack_lat) if ack_lat else None)},
                "send_ms": {"p50": rnd(pct(outs, 0.5)), "p99": rnd(pct(outs, 0.99))},
                "backlog_max": max(pend) if pend else None,
                "daemon_rss_mb": ss[-1]["daemon_rss_mb"] if ss else None,
                "daemon_pss_mb": ss[-1]["daemon_pss_mb"] if ss else None,
                "browser_pss_mb_total": ss[-1]["browser_pss_mb_total"] if ss else None,
                "daemon_fds": ss[-1]["daemon_fds"] if ss else None,
                "cpu": cpu,
            })

        pend_all = [s["outbox_pending"] for s in self.samples if s["outbox_pending"] is not None]
        checks = {
            "memory_slope": all(v is not None and v <= TARGET_MB_PER_HOUR for v in
                                (mem["daemon_rss"], mem["daemon_pss"], mem["browser_pss_per_session_max"])),
            "fds_flat": fd_growth is not None and fd_growth <= TARGET_FD_GROWTH,
            "processes_flat": len(set(procs_post)) == 1,
            "backlog_drains": drained_s is not None and final["outbox_pending"] == 0,
            "no_dead_deliveries": (final["outbox_dead"] or 0) == 0,
            "all_stored": counts["inbound_not_stored"] == 0 and counts["outbound_stored"] == len(out_ids),
            "lost_zero": counts["inbound_lost"] == 0 and counts["outbound_acks_lost"] == 0,
            "duplicates_zero": dup_ids == 0,
            "sessions_stayed_connected": all(s["connected"] == self.n for s in self.samples
                                             if s["connected"] is not None),
            "no_browser_crash": (final["browser_crashes"] or 0) == (first["browser_crashes"] or 0),
        }
        return {
            "options": {"sessions": self.n, "minutes": a.minutes, "inbound_per_s_per_session": a.inbound_rate,
                        "outbound_per_s_per_session": a.outbound_rate,
                        "flap": [{"seconds": d, "answer": m} for d, m in a.flap],
                        "webhook_timeout_ms": a.webhook_timeout_ms, "hang_s": round(recv.hang_s, 2),
                        "retry_base_ms": a.retry_base_ms, "retry_max_ms": a.retry_max_ms,
                        "webhook_attempts": a.webhook_attempts, "warmup_s": warm,
                        "sample_s": a.sample_s, "interval_s": iv, "binary": self.bin},
            "load_s": round(load_s, 1),
            "memory_slope_mb_per_hour": mem,
            "memory_slope_per_session_mb_per_hour": {"pss": {k: rnd(v, 2) for k, v in per_pss.items()},
                                                     "rss": {k: rnd(v, 2) for k, v in per_rss.items()}},
            "memory_mb": {
                k: {"start": first[k], "after_warmup": at_warm[k], "end_of_load": end_sample[k],
                    "after_drain": final[k]}
                for k in ("daemon_rss_mb", "daemon_pss_mb", "browser_pss_mb_total", "browser_rss_mb_total",
                          "sandbox_rss_mb", "db_mb")
            },
            "fds": {"start": first["daemon_fds"], "first_after_warmup": fd_base,
                    "at_cycle_checkpoints": fd_vals, "max_during_load": max(s["daemon_fds"] or 0 for s in self.samples),
                    "after_drain": final["daemon_fds"], "growth": fd_growth,
                    "slope_per_hour": rnd(slope_per_hour(series(lambda s: s["daemon_fds"]))),
                    "target_growth_max": TARGET_FD_GROWTH},
            "threads": {"start": first["daemon_threads"],
                        "max_during_load": max(s["daemon_threads"] for s in self.samples),
                        "after_drain": final["daemon_threads"]},
            "processes": {"start": first["processes"], "min_after_warmup": min(procs_post),
                          "max_after_warmup": max(procs_post), "after_drain": final["processes"]},
            "browser_launches": {"start": first["browser_launches"], "end": final["browser_launches"]},
            "browser_crashes": {"start": first["browser_crashes"], "end": final["browser_crashes"]},
            "backlog": {"max_pending": max(pend_all) if pend_all else None,
                        "pending_at_end_of_load": end_sample["outbox_pending"],
                        "drained_in_s": rnd(drained_s), "pending_after_drain": final["outbox_pending"],
                        "dead_after_drain": final["outbox_dead"], "drain_timeout_s": a.drain_timeout},
            "counts": counts,
            "intervals": buckets,
            "checkpoints": [{k: c[k] for k in ("cycle", "t", "daemon_rss_mb", "daemon_pss_mb", "daemon_fds",
                                                "daemon_threads", "processes", "outbox_pending",
                                                "browser_pss_mb_total")} for c in self.checkpoints],
            "daemon_log": log_summary,
            "errors": self.errors,
            "checks": checks,
            "ok": all(checks.values()),
            "samples": [{k: v for k, v in s.items() if k != "browsers"} |
                        {"browser_pss_mb": {sid: b["pss_mb"] for sid, b in s["browsers"].items()}}
                        for s in self.samples],
        }


# ---------------------------------------------------------------- printing


def mmss(s: float) -> str:
    return f"{int(s // 60)}:{int(s % 60):02d}"


def tables(r: dict) -> str:
    o, m, c, bl, fd = r["options"], r["memory_slope_mb_per_hour"], r["counts"], r["backlog"], r["fds"]
    mm, ck = r["memory_mb"], r["checks"]

    def ok(b: bool) -> str:
        return "ok" if b else "**FAIL**"

    def mb_row(name: str, key: str) -> str:
        x = mm[key]
        return (f"| {name}: start / after warm-up / end / after drain (MB) | {x['start']} / {x['after_warmup']} / "
                f"{x['end_of_load']} / {x['after_drain']} | | |")

    rows = [
        "| | value | target | |",
        "|---|---:|---:|---|",
        f"| load | {o['sessions']} sessions × ({o['inbound_per_s_per_session']:g} in + "
        f"{o['outbound_per_s_per_session']:g} out) msg/s, {r['load_s'] / 60:.1f} min; slopes after "
        f"{o['warmup_s'] / 60:.1f} min | | |",
        f"| daemon RSS / PSS slope (MB/hour) | {fmt(m['daemon_rss'], nd=2)} / {fmt(m['daemon_pss'], nd=2)} "
        f"| ≤ {TARGET_MB_PER_HOUR:g} | {ok(ck['memory_slope'])} |",
        f"| browser PSS slope per session, mean / max (MB/hour) | {fmt(m['browser_pss_per_session_mean'], nd=2)} / "
        f"{fmt(m['browser_pss_per_session_max'], nd=2)} | ≤ {TARGET_MB_PER_HOUR:g} | |",
        f"| browser RSS slope per session, mean / max (MB/hour) | {fmt(m['browser_rss_per_session_mean'], nd=2)} / "
        f"{fmt(m['browser_rss_per_session_max'], nd=2)} | | |",
        f"| browsers PSS / RSS slope, all sessions (MB/hour) | {fmt(m['browser_pss_total'], nd=2)} / "
        f"{fmt(m['browser_rss_total'], nd=2)} | | |",
        mb_row("daemon RSS", "daemon_rss_mb"),
        mb_row("daemon PSS", "daemon_pss_mb"),
        mb_row("browsers PSS, all sessions", "browser_pss_mb_total"),
        mb_row("database on disk", "db_mb"),
        f"| daemon fds: start / first after warm-up / max / after drain | {fd['start']} / "
        f"{fd['first_after_warmup']} / {fd['max_during_load']} / {fd['after_drain']} | growth ≤ "
        f"{TARGET_FD_GROWTH} (is {fmt(fd['growth'])}) | {ok(ck['fds_flat'])} |",
        f"| daemon threads: start / max / after drain | {r['threads']['start']} / "
        f"{r['threads']['max_during_load']} / {r['threads']['after_drain']} | | |",
        f"| processes (daemon + browsers), min / max after warm-up | {r['processes']['min_after_warmup']} / "
        f"{r['processes']['max_after_warmup']} | flat | {ok(ck['processes_flat'])} |",
        f"| browser launches / crashes during the run | "
        f"{fmt((r['browser_launches']['end'] or 0) - (r['browser_launches']['start'] or 0), nd=0)} / "
        f"{fmt((r['browser_crashes']['end'] or 0) - (r['browser_crashes']['start'] or 0), nd=0)} | 0 crashes | "
        f"{ok(ck['no_browser_crash'])} |",
        f"| outbox backlog: max / at end of load / after drain (dead) | {fmt(bl['max_pending'], nd=0)} / "
        f"{fmt(bl['pending_at_end_of_load'], nd=0)} / {fmt(bl['pending_after_drain'], nd=0)} "
        f"({fmt(bl['dead_after_drain'], nd=0)}) | drains, 0 dead | "
        f"{ok(ck['backlog_drains'] and ck['no_dead_deliveries'])} |",
        f"| drained in (s) | {fmt(bl['drained_in_s'])} | ≤ {bl['drain_timeout_s']:g} | |",
        f"| inbound injected / stored / webhook acked / lost | {c['inbound_injected']:,} / {c['inbound_stored']:,} / "
        f"{c['inbound_webhooks_acked']:,} / {c['inbound_lost']:,} | lost 0 | "
        f"{ok(ck['lost_zero'] and ck['all_stored'])} |",
        f"| outbound sent / stored / delivered-ack acked / lost | {c['outbound_sent']:,} / {c['outbound_stored']:,} / "
        f"{c['outbound_delivered_acks_acked']:,} / {c['outbound_acks_lost']:,} | lost 0 | |",
        f"| failed posts / sends; ticks skipped | {sum(c['inbound_post_failures'].values())} / "
        f"{sum(c['outbound_failures'].values())}; {sum(c['ticks_skipped'].values())} | | |",
        f"| webhook requests / events acked (answers 200 / 503 / hang) | {c['webhook_requests']:,} / "
        f"{c['events_acked']:,} ({c['receiver_answers']['200']:,} / {c['receiver_answers']['503']:,} / "
        f"{c['receiver_answers']['hang']:,}) | | |",
        f"| duplicates: event ids acked twice (extra 200s); webhook-id ≠ body id | {c['duplicate_event_ids']} "
        f"({c['duplicate_acks_extra']}); {c['webhook_id_header_mismatch']} | 0 | {ok(ck['duplicates_zero'])} |",
        f"| sessions CONNECTED throughout | {'yes' if ck['sessions_stayed_connected'] else 'no'} | yes | "
        f"{ok(ck['sessions_stayed_connected'])} |",
        f"| daemon log: warnings / errors | {r['daemon_log']['levels'].get('WARN', 0)} / "
        f"{r['daemon_log']['levels'].get('ERROR', 0)} | | |",
    ]
    per = [
        "| interval (m:ss) | inbound | first attempt p50 / p99 (ms) | acked p99 / max (ms) | send p99 (ms) "
        "| backlog max | daemon RSS / PSS (MB) | browsers PSS (MB) | fds | CPU daemon / browsers (%) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in r["intervals"]:
        cpu = b["cpu"] or {}
        per.append(
            f"| {mmss(b['from_s'])}–{mmss(b['to_s'])} | {b['inbound']:,} | {fmt(b['first_attempt_ms']['p50'])} / "
            f"{fmt(b['first_attempt_ms']['p99'])} | {fmt(b['acked_ms']['p99'], nd=0)} / "
            f"{fmt(b['acked_ms']['max'], nd=0)} | {fmt(b['send_ms']['p99'])} | {fmt(b['backlog_max'], nd=0)} | "
            f"{fmt(b['daemon_rss_mb'])} / {fmt(b['daemon_pss_mb'])} | {fmt(b['browser_pss_mb_total'])} | "
            f"{fmt(b['daemon_fds'])} | {fmt(cpu.get('daemon_pct'))} / {fmt(cpu.get('browsers_pct'))} |")
    window = r["load_s"] - o["warmup_s"]
    note = ""
    if window < 15 * 60:
        note = (f"\n\nNote: the slopes are fitted over {window / 60:.1f} min after warm-up; a window this short "
                "mostly measures warm-up (allocator high-water marks, caches), not a leak. Run 30 min or more.")
    return "\n".join(rows) + note + "\n\n" + "\n".join(per)


# ---------------------------------------------------------------- main


def parse_flap(spec: str) -> list[tuple[float, str]]:
    out = []
    for part in spec.split(","):
        secs, _, mode = part.strip().partition(":")
        if mode not in ("200", "503", "hang"):
            raise ValueError(f"answer '{mode}' is not 200, 503 or hang")
        if float(secs) <= 0:
            raise ValueError("durations must be positive")
        out.append((float(secs), mode))
    if not out:
        raise ValueError("empty")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/wabridge", help="the wabridge binary")
    ap.add_argument("--out", default="bench-results/soak.json", help="where to write the JSON")
    ap.add_argument("--minutes", type=float, default=30, help="how long the load runs (default 30)")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--inbound-rate", type=float, default=2.0, help="inbound msg/s per session (default 2)")
    ap.add_argument("--outbound-rate", type=float, default=1.0, help="sends/s per session (default 1)")
    ap.add_argument("--contacts", type=int, default=20, help="contacts writing to each account")
    ap.add_argument("--flap", default="60:200,20:503,20:hang",
                    help="the receiver's cycle: seconds:answer,... with answer 200, 503 or hang")
    ap.add_argument("--webhook-timeout-ms", type=int, default=2000, help="the daemon's --webhook-timeout-ms")
    ap.add_argument("--hang-extra", type=float, default=1.0, help="a hang lasts the timeout plus this (s)")
    ap.add_argument("--retry-base-ms", type=int, default=500, help="the daemon's --webhook-retry-base-ms")
    ap.add_argument("--retry-max-ms", type=int, default=5000, help="the daemon's --webhook-retry-max-ms")
    ap.add_argument("--webhook-attempts", type=int, default=100,
                    help="retries.attempts of each session's webhook (1-100)")
    ap.add_argument("--warmup", type=float, default=5,
                    help="minutes left out of the slopes (at most a third of --minutes)")
    ap.add_argument("--sample", dest="sample_s", type=float, default=10, help="seconds between samples")
    ap.add_argument("--interval", type=float, default=60, help="seconds per row of the latency table")
    ap.add_argument("--drain-timeout", type=float, default=300, help="longest wait for the backlog to drain (s)")
    ap.add_argument("--workers", type=int, default=16, help="threads posting the load")
    ap.add_argument("--max-inflight", type=int, default=64, help="requests of the load in flight, at most")
    ap.add_argument("--browser", choices=["auto", "headless-shell", "chromium"],
                    help="passed to `wabridge serve --browser`")
    ap.add_argument("--timeout", type=float, default=120, help="limit of every set-up wait, in seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temporary dir (logs, profiles)")
    args = ap.parse_args()
    try:
        args.flap = parse_flap(args.flap)
    except ValueError as e:
        ap.error(f"--flap: {e}")
    if args.minutes <= 0 or args.sessions < 1:
        ap.error("--minutes and --sessions must be positive")
    if not os.access(args.bin, os.X_OK):
        ap.error(f"{args.bin} is not an executable (build it: cargo build --release)")

    soak = Soak(args)
    signal.signal(signal.SIGTERM, B._interrupt)  # same cleanup path as Ctrl-C
    ok = False
    try:
        info = B.machine()
        result = {"machine": info, **soak.run_soak()}
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"Machine: {info['cores']} cores, {info['mem_gb']} GB RAM; {info['chromium_version'] or 'chromium ?'}\n")
        print(tables(result))
        logs = result["daemon_log"]["warnings_and_errors"]
        if logs:
            print("\nDaemon log, warnings and errors (count: message):")
            for x in logs[:10]:
                print(f"  {x['count']:>6}: {x['message']}")
        failed = [k for k, v in result["checks"].items() if not v]
        print(f"\nTargets: {'all met' if not failed else 'NOT met: ' + ', '.join(failed)}")
        print(f"JSON: {out}")
        ok = True
    except B.BenchError as e:
        B.log(f"soak failed: {e}")
    except KeyboardInterrupt:
        B.log("interrupted")
    finally:
        soak.stop.set()
        if soak.pool:
            soak.pool.shutdown(wait=False, cancel_futures=True)
        if soak.d and soak.d.proc and soak.d.proc.alive():
            try:
                soak.d.proc.terminate(30)  # graceful: browsers closed
            except B.BenchError:
                pass
        soak.cleanup()
        soak.recv.stop()
        if args.keep:
            B.log(f"logs and profiles kept in {soak.tmp}")
        else:
            shutil.rmtree(soak.tmp, ignore_errors=True)
            if not ok:
                B.log("(--keep keeps the logs and profiles)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
