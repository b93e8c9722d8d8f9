#!/usr/bin/env python3
"""Benchmark of wabridge's session engine and messaging against the sandbox.

Sessions suite: for each session count N it measures, in a fresh data dir:
create -> SCAN_QR, link -> CONNECTED, daemon and per-session browser memory,
graceful shutdown, restart -> CONNECTED (no new scan) and, for N=1, browser
crash -> CONNECTED.

Messaging suite: for each session count N (linked sessions with a webhook to a
receiver inside this script) it measures inbound throughput (sandbox contact ->
daemon -> webhook, msgs/s and end-to-end latency), inbound latency at a fixed
rate, and outbound sends through the REST API (sends/s, request latency).
Every inbound message must reach the receiver and every send must answer 201.
The receiver and the load generators share this Python process (and the
machine with the daemon and browsers), so the figures are lower bounds.

Prints markdown tables (for docs/performance.md) and writes the figures as JSON.

    python3 bench/bench.py --bin target/release/wabridge --out bench-results/bench.json
    python3 bench/bench.py --suite messaging --msg-sessions 1,4 --inbound 4000

Standard library only, so `make bench` needs nothing beyond Python 3.11.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
# `from` imports: the module-level `http()` helper below owns the name `http`.
from http.client import HTTPConnection, HTTPException, RemoteDisconnected
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

API_KEY = "bench"
POLL_S = 0.05  # status poll interval
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in the daemon's log
SETTLE_S = 3.0  # let browsers finish their start-up work before measuring memory
LOAD_WORKERS = 32  # threads posting inbound messages or outbound sends
RATE_WORKERS = 16  # threads pacing the fixed-rate inbound load
CONTACTS = 20  # distinct contacts (chats) the load is spread over


class BenchError(Exception):
    """A step did not happen in time; the message names the session and its state."""


# ---------------------------------------------------------------- HTTP


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None,
         timeout: float = 30) -> tuple[int, object]:
    """One JSON request; returns (status, parsed body or None). Never raises on HTTP errors."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conns:
    """Keep-alive connections for load loops: one per thread and host.

    `post` returns (status, parsed body, monotonic send instant, monotonic
    answer instant); transport errors come back as status 0 with the error
    text as body, so a load loop never dies half-way.
    """

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.local = threading.local()
        self.lock = threading.Lock()
        self.opened: list[HTTPConnection] = []

    def post(self, url: str, body: dict, headers: dict | None = None) -> tuple[int, object, float, float]:
        u = urllib.parse.urlsplit(url)
        data = json.dumps(body).encode()
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        conns = self.local.__dict__.setdefault("conns", {})
        while True:
            conn, reused = conns.get(u.netloc), True
            if conn is None:
                conn, reused = HTTPConnection(u.hostname, u.port, timeout=self.timeout), False
                conns[u.netloc] = conn
                with self.lock:
                    self.opened.append(conn)
            t0 = time.monotonic()
            try:
                conn.request("POST", u.path, body=data, headers=hdrs)
                r = conn.getresponse()
                status, raw = r.status, r.read()
                t1 = time.monotonic()
            except (RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                conn.close()
                del conns[u.netloc]
                if reused:
                    continue  # the server closed an idle keep-alive connection: once more, fresh
                return 0, f"{type(e).__name__}: {e}", t0, time.monotonic()
            except (HTTPException, OSError) as e:
                conn.close()
                del conns[u.netloc]
                return 0, f"{type(e).__name__}: {e}", t0, time.monotonic()
            try:
                return status, json.loads(raw) if raw else None, t0, t1
            except ValueError:
                return status, raw.decode(errors="replace"), t0, t1

    def close(self) -> None:
        with self.lock:
            for c in self.opened:
                c.close()
            self.opened.clear()


class Receiver:
    """The webhook receiver: 200 to POST /hook, recording when each `message` event arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrived: dict[str, float] = {}  # WhatsApp message id -> first arrival (monotonic)
        self.duplicates = 0  # `message` events for an id that had already arrived
        self.events: Counter = Counter()  # every request by its `event`
        rec = self

        class Hook(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the daemon's client expects

            def do_POST(self) -> None:
                t = time.monotonic()
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ok = self.path == "/hook"
                self.send_response(200 if ok else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if ok:
                    rec.record(t, raw)

            def log_message(self, *_) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True)
        self.thread.start()

    def record(self, t: float, raw: bytes) -> None:
        try:
            body = json.loads(raw)
            event, mid = body.get("event"), (body.get("payload") or {}).get("id")
        except (ValueError, AttributeError):
            event, mid = "<not JSON>", None
        with self.lock:
            self.events[event] += 1
            if event == "message" and mid is not None:
                if mid in self.arrived:
                    self.duplicates += 1
                else:
                    self.arrived[mid] = t

    def count(self, ids) -> int:
        with self.lock:
            return sum(1 for i in ids if i in self.arrived)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- /proc


def read_kb(path: str, key: str) -> int:
    """A `Key:   123 kB` line of a /proc file, in kB (0 if the process is gone)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def group_members(pgid: int) -> list[int]:
    """Live pids whose process group (field 5 of /proc/PID/stat) is `pgid`."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: parse after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(name))
    return out


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def mb(kb: float) -> float:
    return round(kb / 1024, 1)


# ---------------------------------------------------------------- processes


class Proc:
    """A wabridge child process with its log in a file."""

    def __init__(self, args: list[str], log: Path, env: dict | None = None):
        self.log = log
        self.args = args
        self.started = time.monotonic()
        with open(log, "ab") as out:
            # Own session: a Ctrl-C reaches only us, and we end the children in order.
            self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                      env={**os.environ, **(env or {})}, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def terminate(self, timeout: float) -> float:
        """SIGTERM and wait for the exit; returns the seconds it took."""
        t0 = time.monotonic()
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{self.args[1]} did not exit within {timeout:g} s of SIGTERM; "
                             f"log tail:\n{self.tail()}") from None
        return time.monotonic() - t0

    def kill(self) -> None:
        if self.alive():
            self.p.kill()
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, n: int = 30) -> str:
        try:
            text = ANSI.sub("", self.log.read_text(errors="replace"))
            return "\n".join(text.splitlines()[-n:])
        except OSError:
            return ""


def wait_http_ok(url: str, proc: Proc, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise BenchError(f"{what} exited with {proc.p.returncode}; log tail:\n{proc.tail()}")
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(POLL_S)
    raise BenchError(f"{what} did not answer {url} within {timeout:g} s; log tail:\n{proc.tail()}")


class Daemon:
    """`wabridge serve` on a free port over one data dir, pointed at the sandbox."""

    def __init__(self, bench: "Bench", data_dir: Path, extra: list[str] | None = None):
        self.bench = bench
        self.data_dir = data_dir
        self.extra = extra or []
        self.proc: Proc | None = None
        self.url = ""

    def start(self) -> float:
        """Spawns the daemon, waits for /health; returns the spawn instant (monotonic)."""
        b = self.bench
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        args = [b.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir),
                "--wa-url", b.sandbox_url + "/"]
        if b.browser:
            args += ["--browser", b.browser]
        args += self.extra
        self.proc = Proc(args, self.data_dir.with_suffix(f".{port}.log"),
                         env={"WABRIDGE_API_KEY": API_KEY})
        b.procs.append(self.proc)
        wait_http_ok(self.url + "/health", self.proc, b.timeout, "the daemon")
        return self.proc.started

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        return http(method, self.url + path, body, headers={"X-Api-Key": API_KEY})

    def session(self, sid: str) -> dict:
        try:
            code, body = self.api("GET", f"/api/sessions/{sid}")
        except OSError as e:
            return {"status": f"unreachable: {e}"}
        return body if code == 200 and isinstance(body, dict) else {"status": f"HTTP {code}: {body}"}

    def browser_pgid(self, sid: str) -> int | None:
        try:
            return int((self.data_dir / "sessions" / sid / "browser.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def wait_status(self, sid: str, want: str, t0: float, not_pgid: int | None = None) -> float:
        """Polls until `sid` shows `want`; returns seconds since `t0`.

        With `not_pgid`, also requires a browser other than that one, so a stale
        status from before a restart or crash is never taken for recovery.
        """
        b = self.bench
        deadline = time.monotonic() + b.timeout
        last: dict = {}
        while True:
            if b.abort.is_set():
                raise BenchError(f"session {sid}: given up, another step failed")
            last = self.session(sid)
            status = last.get("status")
            if status == want:
                if not_pgid is None:
                    return time.monotonic() - t0
                pgid = self.browser_pgid(sid)
                if pgid is not None and pgid != not_pgid:
                    b.pgids.add(pgid)
                    return time.monotonic() - t0
            if status in ("FAILED", "LOGGED_OUT"):
                raise BenchError(f"session {sid} is {status} while waiting for {want}: "
                                 f"{last.get('error')}\n--- daemon log ---\n{self.proc.tail()}")
            if not self.proc.alive():
                raise BenchError(f"the daemon exited while session {sid} waited for {want}; "
                                 f"log tail:\n{self.proc.tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"session {sid} did not reach {want} within {b.timeout:g} s; "
                                 f"last: {json.dumps(last)}\n--- daemon log ---\n{self.proc.tail()}")
            time.sleep(POLL_S)


# ---------------------------------------------------------------- the benchmark


def spread(xs: list[float]) -> dict:
    return {"p50": round(statistics.median(xs), 3), "max": round(max(xs), 3)}


def pct_ms(xs: list[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of durations in seconds, in ms."""
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[max(1, math.ceil(q / 100 * len(xs))) - 1] * 1000, 1)


def per_s(n: int, seconds: float) -> float | None:
    return round(n / seconds, 1) if n and seconds > 0 else None


def summarize_errors(errors: list[tuple[int, object]]) -> str:
    """`3 x HTTP 500, 1 x HTTP 0`, then the first body of each status."""
    by = Counter(code for code, _ in errors)
    first = {}
    for code, body in errors:
        first.setdefault(code, body)
    return (", ".join(f"{k} x HTTP {c}" for c, k in by.most_common()) + "; first: "
            + "; ".join(f"{c}: {json.dumps(b)[:300]}" for c, b in first.items()))


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.bin = str(Path(args.bin).resolve())
        self.browser = args.browser
        self.timeout = args.timeout
        self.tmp = Path(tempfile.mkdtemp(prefix="wabridge-bench-"))
        self.procs: list[Proc] = []  # everything we spawned, for cleanup
        self.pgids: set[int] = set()  # browser groups seen, for cleanup
        self.sandbox_url = ""
        self.browser_exe: str | None = None
        self.inbound, self.outbound = args.inbound, args.outbound
        self.rate, self.rate_seconds = args.rate, args.rate_seconds
        self.receiver: Receiver | None = None
        self.msg_runs = 0  # messaging runs so far: each links fresh sandbox accounts
        # Errors and missing messages: reported with the figures, then the run fails.
        self.problems: list[str] = []
        # Set when one step fails, so sibling threads stop polling at once.
        self.abort = threading.Event()

    def start_sandbox(self) -> None:
        port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{port}"
        proc = Proc([self.bin, "sandbox", "--listen", f"127.0.0.1:{port}",
                     "--state", str(self.tmp / "sb.json")], self.tmp / "sandbox.log")
        self.procs.append(proc)
        wait_http_ok(self.sandbox_url + "/", proc, self.timeout, "the sandbox")

    def link(self, d: Daemon, sid: str, phone: str) -> float:
        """Scans the QR the API shows with the sandbox phone; seconds until CONNECTED."""
        deadline = time.monotonic() + self.timeout
        while True:
            code, body = d.api("GET", f"/api/sessions/{sid}/qr")
            if code != 200:
                raise BenchError(f"GET qr of session {sid}: HTTP {code} {body}")
            t0 = time.monotonic()
            code, res = http("POST", self.sandbox_url + "/_sandbox/link",
                             {"qr": body["qr"], "phone": phone, "name": "Bench"})
            if code == 200:
                return d.wait_status(sid, "CONNECTED", t0)
            # 404/410: the QR rotated between reading and scanning it; read it again.
            if code not in (404, 410) or time.monotonic() > deadline:
                raise BenchError(f"linking session {sid}: sandbox answered HTTP {code} {res}")
            time.sleep(0.2)

    def create(self, d: Daemon, sid: str, body: dict | None = None) -> float:
        """POST /api/sessions; seconds until the session shows SCAN_QR."""
        t0 = time.monotonic()
        code, res = d.api("POST", "/api/sessions", {"id": sid, **(body or {})})
        if code != 201:
            raise BenchError(f"creating session {sid}: HTTP {code} {res}")
        return d.wait_status(sid, "SCAN_QR", t0)

    def memory(self, d: Daemon, ids: list[str]) -> dict:
        pid = d.proc.pid
        per_pss, per_rss, per_n = [], [], []
        for sid in ids:
            pgid = d.browser_pgid(sid)
            if pgid is None:
                raise BenchError(f"session {sid} is CONNECTED but has no browser.pid")
            self.pgids.add(pgid)
            members = group_members(pgid)
            per_pss.append(sum(read_kb(f"/proc/{m}/smaps_rollup", "Pss") for m in members))
            per_rss.append(sum(read_kb(f"/proc/{m}/smaps_rollup", "Rss") for m in members))
            per_n.append(len(members))
            if self.browser_exe is None:
                self.browser_exe = (cmdline(pgid) or [None])[0]
        return {
            "daemon_rss_mb": mb(read_kb(f"/proc/{pid}/status", "VmRSS")),
            "daemon_pss_mb": mb(read_kb(f"/proc/{pid}/smaps_rollup", "Pss")),
            "browser_pss_mb_per_session": {"mean": mb(statistics.mean(per_pss)), "max": mb(max(per_pss))},
            "browser_rss_mb_per_session": {"mean": mb(statistics.mean(per_rss)), "max": mb(max(per_rss))},
            "browser_pss_mb_total": mb(sum(per_pss)),
            "browser_processes_per_session": round(statistics.mean(per_n), 1),
        }

    def run(self, step, n: int) -> dict:
        """`step(n)`, stopping sibling threads' polls if it fails."""
        try:
            return step(n)
        except BaseException:
            self.abort.set()
            raise

    def sessions_run(self, n: int) -> dict:
        log(f"== {n} session(s)")
        d = Daemon(self, self.tmp / f"data-{n}")
        d.start()
        ids = [f"b{i}" for i in range(1, n + 1)]
        phones = {sid: f"1555020{i:04d}" for i, sid in enumerate(ids, 1)}
        out: dict = {"sessions": n}

        # Threads, not sequential calls: the point is N browsers starting at once.
        with ThreadPoolExecutor(max_workers=n) as pool:
            times = list(pool.map(lambda sid: self.create(d, sid), ids))
            out["create_to_scan_qr_s"] = spread(times)
            log(f"   create -> SCAN_QR   {fmt_spread(out['create_to_scan_qr_s'])}")

            times = list(pool.map(lambda sid: self.link(d, sid, phones[sid]), ids))
            out["link_to_connected_s"] = spread(times)
            log(f"   link -> CONNECTED   {fmt_spread(out['link_to_connected_s'])}")

            time.sleep(SETTLE_S)
            out.update(self.memory(d, ids))
            log(f"   memory              daemon {out['daemon_pss_mb']} MB PSS, browser "
                f"{out['browser_pss_mb_per_session']['mean']} MB PSS/session")

            # Graceful restart on the same data dir: sessions must come back linked.
            old = {sid: d.browser_pgid(sid) for sid in ids}
            out["shutdown_s"] = round(d.proc.terminate(self.timeout), 3)
            log(f"   shutdown            {out['shutdown_s']} s")
            t0 = d.start()
            times = list(pool.map(lambda sid: d.wait_status(sid, "CONNECTED", t0, old[sid]), ids))
            out["restart_to_connected_s"] = spread(times)
            log(f"   restart -> CONNECTED {fmt_spread(out['restart_to_connected_s'])}")

        if n == 1:
            # A browser crash: the driver must notice and relaunch on its own.
            sid = ids[0]
            pgid = d.browser_pgid(sid)
            t0 = time.monotonic()
            os.kill(pgid, signal.SIGKILL)
            out["crash_to_connected_s"] = round(d.wait_status(sid, "CONNECTED", t0, pgid), 3)
            log(f"   crash -> CONNECTED  {out['crash_to_connected_s']} s")

        d.proc.terminate(self.timeout)
        return out

    # ------------------------------------------------------------ messaging

    def messaging_run(self, n: int) -> dict:
        log(f"== messaging, {n} session(s)")
        self.msg_runs += 1
        # A data dir and sandbox accounts of its own: nothing queued for an earlier run's devices.
        d = Daemon(self, self.tmp / f"data-msg-{self.msg_runs}", ["--webhook-retry-base-ms", "100"])
        d.start()
        ids = [f"m{i}" for i in range(1, n + 1)]
        phones = [f"1555030{self.msg_runs * 100 + i:04d}" for i in range(1, n + 1)]
        hooks = {"webhooks": [{"url": self.receiver.url, "events": ["message"]}]}
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(lambda sid: self.create(d, sid, hooks), ids))
            list(pool.map(lambda i: self.link(d, ids[i], phones[i]), range(n)))
        for sid in ids:
            pgid = d.browser_pgid(sid)
            if pgid is not None:
                self.pgids.add(pgid)
                if self.browser_exe is None:
                    self.browser_exe = (cmdline(pgid) or [None])[0]
        time.sleep(SETTLE_S)

        out: dict = {"sessions": n}
        conns = Conns(self.timeout)
        try:
            r = out["inbound"] = self.inbound_load(d, ids, phones, conns)
            log(f"   inbound {r['messages']}      {r['per_s']} msg/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
            r = out["fixed_rate"] = self.fixed_rate(d, ids, phones, conns)
            log(f"   inbound at {r['target_per_s']:g}/s  achieved {r['achieved_per_s']}/s, p50 {r['p50_ms']} ms, "
                f"p99 {r['p99_ms']} ms, max {r['max_ms']} ms")
            r = out["outbound"] = self.outbound_load(d, ids, phones, conns)
            log(f"   outbound {r['messages']}     {r['per_s']} msg/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
        finally:
            conns.close()
        d.proc.terminate(self.timeout)
        return out

    def problem(self, what: str) -> None:
        """An error answer or a lost message: shown at once, and the run fails at the end."""
        log(f"   !! {what}")
        self.problems.append(what)

    def post_inbound(self, conns: Conns, k: int, phones: list[str], tag: str) -> tuple:
        """Contact k % CONTACTS writes `<tag> k` to account k % N: (message id or None, sent at, status, body)."""
        code, body, t0, _ = conns.post(self.sandbox_url + "/_sandbox/messages", {
            "from": f"1555777{k % CONTACTS:04d}", "to": phones[k % len(phones)], "text": f"{tag} {k}"})
        mid = body.get("id") if code == 201 and isinstance(body, dict) else None
        return mid, t0, code, body

    def arrivals(self, d: Daemon, ids: list[str], sent: dict[str, float], what: str) -> dict[str, float]:
        """Waits (up to --timeout) for every id in `sent` at the receiver; {id: arrival} of those that came."""
        rec = self.receiver
        deadline = time.monotonic() + self.timeout
        while True:
            with rec.lock:
                got = {i: rec.arrived[i] for i in sent if i in rec.arrived}
            if len(got) == len(sent):
                return got
            if self.abort.is_set():
                raise BenchError(f"{what}: given up, another step failed")
            if not d.proc.alive():
                raise BenchError(f"the daemon exited during {what}; log tail:\n{d.proc.tail()}")
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        lost = [i for i in sent if i not in got]
        dead = []
        for sid in ids:
            code, body = d.api("GET", f"/api/sessions/{sid}/deliveries?status=dead")
            dead.append(f"{sid}: HTTP {code} {json.dumps(body)[:200]}")
        self.problem(f"{what}, {len(ids)} session(s): {len(lost)} of {len(sent)} messages never reached "
                     f"the receiver within {self.timeout:g} s (e.g. {', '.join(lost[:3])}); dead deliveries: "
                     f"{'; '.join(dead)}; receiver saw {dict(rec.events)}")
        return got

    def inbound_load(self, d: Daemon, ids: list[str], phones: list[str], conns: Conns) -> dict:
        """Throughput: M messages as fast as LOAD_WORKERS threads post them."""
        m = self.inbound
        dups = self.receiver.duplicates
        with ThreadPoolExecutor(LOAD_WORKERS) as pool:
            res = list(pool.map(lambda k: self.post_inbound(conns, k, phones, "bench"), range(m)))
        sent = {mid: t0 for mid, t0, _, _ in res if mid}
        errors = [(code, body) for mid, _, code, body in res if not mid]
        if errors:
            self.problem(f"inbound, {len(ids)} session(s): the sandbox refused {len(errors)} of {m} "
                         f"messages: {summarize_errors(errors)}")
        got = self.arrivals(d, ids, sent, "inbound")
        lat = [got[i] - sent[i] for i in got]
        first = min(t0 for _, t0, _, _ in res)
        return {"messages": m, "per_s": per_s(len(got), max(got.values(), default=first) - first),
                "p50_ms": pct_ms(lat, 50), "p99_ms": pct_ms(lat, 99),
                "errors": len(errors), "missing": len(sent) - len(got),
                "duplicates": self.receiver.duplicates - dups}

    def fixed_rate(self, d: Daemon, ids: list[str], phones: list[str], conns: Conns) -> dict:
        """Latency: --rate messages a second for --rate-seconds, paced by RATE_WORKERS threads."""
        rate = self.rate
        total = max(1, round(rate * self.rate_seconds))
        start = time.monotonic() + 0.2  # every thread ready before the first message is due

        def pace(w: int) -> list:
            out = []
            for k in range(w, total, RATE_WORKERS):
                delay = start + k / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if self.abort.is_set():
                    break
                out.append(self.post_inbound(conns, k, phones, "rate"))
            return out

        with ThreadPoolExecutor(RATE_WORKERS) as pool:
            res = [x for part in pool.map(pace, range(RATE_WORKERS)) for x in part]
        sent = {mid: t0 for mid, t0, _, _ in res if mid}
        errors = [(code, body) for mid, _, code, body in res if not mid]
        if errors:
            self.problem(f"fixed rate, {len(ids)} session(s): the sandbox refused {len(errors)} of {total} "
                         f"messages: {summarize_errors(errors)}")
        got = self.arrivals(d, ids, sent, "fixed-rate inbound")
        lat = [got[i] - sent[i] for i in got]
        posted = sorted(t0 for _, t0, _, _ in res)
        return {"target_per_s": rate, "messages": total,
                "achieved_per_s": per_s(len(posted) - 1, posted[-1] - posted[0]),
                "p50_ms": pct_ms(lat, 50), "p99_ms": pct_ms(lat, 99), "max_ms": pct_ms(lat, 100),
                "errors": len(errors), "missing": len(sent) - len(got)}

    def outbound_load(self, d: Daemon, ids: list[str], phones: list[str], conns: Conns) -> dict:
        """Sends through the REST API, spread over the sessions; each must answer 201 and reach the sandbox."""
        m = self.outbound

        def send(k: int) -> tuple:
            sid = ids[k % len(ids)]
            return sid, *conns.post(f"{d.url}/api/sessions/{sid}/messages",
                                    {"to": f"1555888{k % CONTACTS:04d}", "text": f"out {k}"},
                                    {"X-Api-Key": API_KEY})

        with ThreadPoolExecutor(LOAD_WORKERS) as pool:
            res = list(pool.map(send, range(m)))
        good = [r[1] == 201 and isinstance(r[2], dict) and "id" in r[2] for r in res]
        ok = [r for r, g in zip(res, good) if g]
        errors = [(r[1], r[2]) for r, g in zip(res, good) if not g]
        if errors:
            self.problem(f"outbound, {len(ids)} session(s): {len(errors)} of {m} sends failed: "
                         f"{summarize_errors(errors)}")
        first = min(r[3] for r in res)
        last = max((r[4] for r in ok), default=first)
        # Every 201 must be in the sandbox, under its session's account.
        want = {phones[ids.index(sid)]: set() for sid in ids}
        for sid, _, body, _, _ in ok:
            want[phones[ids.index(sid)]].add(body["id"])
        missing = sum(len(v) for v in want.values())
        deadline = time.monotonic() + min(self.timeout, 10)
        while missing and time.monotonic() < deadline:
            for phone, pending in want.items():
                code, body = http("GET", f"{self.sandbox_url}/_sandbox/messages?account={phone}")
                if code == 200 and isinstance(body, list):
                    pending -= {x.get("id") for x in body if isinstance(x, dict)}
            missing = sum(len(v) for v in want.values())
            if missing:
                time.sleep(POLL_S * 4)
        if missing:
            eg = [i for v in want.values() for i in v][:3]
            self.problem(f"outbound, {len(ids)} session(s): {missing} of {len(ok)} sends answered 201 but "
                         f"never reached the sandbox (e.g. {', '.join(eg)})")
        return {"messages": m, "per_s": per_s(len(ok), last - first),
                "p50_ms": pct_ms([r[4] - r[3] for r in ok], 50), "p99_ms": pct_ms([r[4] - r[3] for r in ok], 99),
                "errors": len(errors), "missing": missing}

    def cleanup(self) -> None:
        """Ends daemons, the sandbox and any browser group they left behind."""
        for p in reversed(self.procs):
            p.kill()
        # After a SIGKILLed daemon its browser.pid files remain; they and the
        # groups seen during the run are checked against our tmp dir so a
        # reused pid is never killed.
        pgids = set(self.pgids)
        for f in self.tmp.glob("data-*/sessions/*/browser.pid"):
            try:
                pgids.add(int(f.read_text().strip()))
            except (OSError, ValueError):
                pass
        for pgid in pgids:
            if pgid > 1 and any(str(self.tmp) in a for a in cmdline(pgid)):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass


# ---------------------------------------------------------------- reporting


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt_spread(s: dict, unit: str = " s") -> str:
    return f"{s['p50']:.2f} / {s['max']:.2f}{unit}"


def machine() -> dict:
    mem_kb = read_kb("/proc/meminfo", "MemTotal")
    version = None
    if shutil.which("chromium"):
        try:
            # Debian's wrapper script prints noise on stderr; the version is on stdout.
            r = subprocess.run(["chromium", "--version"], capture_output=True, text=True, timeout=30)
            version = r.stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            pass
    return {"cores": os.cpu_count(), "mem_gb": round(mem_kb / 1024 / 1024, 1), "chromium_version": version}


def table(runs: list[dict]) -> str:
    """Metrics as rows, one column per session count: stays narrow for any N list."""
    def mm(d: dict) -> str:
        return f"{d['mean']} / {d['max']}"

    rows = [
        ("create → SCAN_QR, p50 / max (s)", lambda r: fmt_spread(r["create_to_scan_qr_s"], "")),
        ("link → CONNECTED, p50 / max (s)", lambda r: fmt_spread(r["link_to_connected_s"], "")),
        ("restart → CONNECTED, p50 / max (s)", lambda r: fmt_spread(r["restart_to_connected_s"], "")),
        ("graceful shutdown (s)", lambda r: f"{r['shutdown_s']:.2f}"),
        ("crash → CONNECTED (s)", lambda r: f"{r['crash_to_connected_s']:.2f}" if "crash_to_connected_s" in r else "–"),
        ("daemon RSS / PSS (MB)", lambda r: f"{r['daemon_rss_mb']} / {r['daemon_pss_mb']}"),
        ("browser PSS per session, mean / max (MB)", lambda r: mm(r["browser_pss_mb_per_session"])),
        ("browser RSS per session, mean / max (MB)", lambda r: mm(r["browser_rss_mb_per_session"])),
        ("browser PSS total (MB)", lambda r: f"{r['browser_pss_mb_total']}"),
        ("browser processes per session", lambda r: f"{r['browser_processes_per_session']:g}"),
    ]
    head = "| | " + " | ".join(f"{r['sessions']} session{'s' * (r['sessions'] != 1)}" for r in runs) + " |"
    sep = "|---|" + "---:|" * len(runs)
    body = ["| " + name + " | " + " | ".join(f(r) for r in runs) + " |" for name, f in rows]
    return "\n".join([head, sep, *body])


def msg_table(runs: list[dict]) -> str:
    """One row per session count; the targets are in the header."""
    def num(x) -> str:
        return "–" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:g}"

    def lost(r: dict) -> str:
        bad = [f"{r[k]} {k}" for k in ("errors", "missing") if r.get(k)]
        return f" ✗ {', '.join(bad)}" if bad else ""

    rate = num(runs[0]["fixed_rate"]["target_per_s"])
    cols = [
        ("sessions", lambda r: str(r["sessions"])),
        ("inbound msg/s (target ≥ 2,000)", lambda r: num(r["inbound"]["per_s"]) + lost(r["inbound"])),
        ("inbound p50 / p99 (ms)", lambda r: f"{num(r['inbound']['p50_ms'])} / {num(r['inbound']['p99_ms'])}"),
        (f"at {rate} msg/s: achieved msg/s", lambda r: num(r["fixed_rate"]["achieved_per_s"]) + lost(r["fixed_rate"])),
        (f"at {rate} msg/s: p50 / p99 / max (ms) (target p99 ≤ 50 at 500 msg/s)",
         lambda r: " / ".join(num(r["fixed_rate"][k]) for k in ("p50_ms", "p99_ms", "max_ms"))),
        ("outbound msg/s (target ≥ 500 across 4 sessions)", lambda r: num(r["outbound"]["per_s"]) + lost(r["outbound"])),
        ("outbound p50 / p99 (ms)", lambda r: f"{num(r['outbound']['p50_ms'])} / {num(r['outbound']['p99_ms'])}"),
    ]
    head = "| " + " | ".join(name for name, _ in cols) + " |"
    sep = "|" + "---:|" * len(cols)
    body = ["| " + " | ".join(f(r) for _, f in cols) + " |" for r in runs]
    return "\n".join([head, sep, *body])


# ---------------------------------------------------------------- main


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/wabridge", help="the wabridge binary")
    ap.add_argument("--out", default="bench-results/bench.json", help="where to write the JSON")
    ap.add_argument("--suite", choices=["sessions", "messaging", "all"], default="all", help="what to measure")
    ap.add_argument("--sessions", default="1,10", help="comma-separated session counts (sessions suite)")
    ap.add_argument("--msg-sessions", default="1,4", help="comma-separated session counts (messaging suite)")
    ap.add_argument("--inbound", type=int, default=4000, help="inbound messages of the throughput run, in total")
    ap.add_argument("--rate", type=float, default=500, help="inbound messages a second of the latency run")
    ap.add_argument("--rate-seconds", type=float, default=5, help="length of the latency run, in seconds")
    ap.add_argument("--outbound", type=int, default=2000, help="outbound sends, in total")
    ap.add_argument("--browser", choices=["auto", "headless-shell", "chromium"],
                    help="passed to `wabridge serve --browser` (default: the daemon's own, auto)")
    ap.add_argument("--timeout", type=float, default=120, help="limit of every wait, in seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temporary dir (logs, profiles)")
    args = ap.parse_args()
    counts = [int(x) for x in args.sessions.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        ap.error("--sessions needs positive counts, e.g. 1,10")
    msg_counts = [int(x) for x in args.msg_sessions.split(",") if x.strip()]
    if not msg_counts or min(msg_counts) < 1 or max(msg_counts) > 99:
        ap.error("--msg-sessions needs counts from 1 to 99, e.g. 1,4")
    if min(args.inbound, args.outbound) < 1 or args.rate <= 0 or args.rate_seconds <= 0:
        ap.error("--inbound, --outbound, --rate and --rate-seconds must be positive")
    sessions = args.suite in ("sessions", "all")
    messaging = args.suite in ("messaging", "all")
    if not os.access(args.bin, os.X_OK):
        ap.error(f"{args.bin} is not an executable (build it: cargo build --release)")

    bench = Bench(args)
    # SIGTERM (e.g. from CI) takes the same cleanup path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    ok = False
    try:
        info = machine()
        bench.start_sandbox()
        runs = [bench.run(bench.sessions_run, n) for n in counts] if sessions else []
        msg_runs = []
        if messaging:
            bench.receiver = Receiver()
            msg_runs = [bench.run(bench.messaging_run, n) for n in msg_counts]
        result = {
            "machine": info,
            "browser": {"mode": args.browser or "auto", "executable": bench.browser_exe},
            **({"runs": runs} if sessions else {}),
            **({"messaging": msg_runs} if messaging else {}),
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"Machine: {info['cores']} cores, {info['mem_gb']} GB RAM; {info['chromium_version'] or 'chromium ?'}; "
              f"browser: {args.browser or 'auto'} ({bench.browser_exe})\n")
        if sessions:
            print(table(runs) + "\n")
        if messaging:
            print(msg_table(msg_runs) + "\n")
        print(f"JSON: {out}")
        if bench.problems:
            log(f"bench failed: {len(bench.problems)} problem(s):\n" + "\n".join(bench.problems))
        else:
            ok = True
    except BenchError as e:
        log(f"bench failed: {e}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        if bench.receiver:
            bench.receiver.close()
        bench.cleanup()
        if ok and not args.keep:
            shutil.rmtree(bench.tmp, ignore_errors=True)
        else:
            log(f"logs and profiles kept in {bench.tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
