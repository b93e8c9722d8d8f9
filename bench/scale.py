#!/usr/bin/env python3
"""Scale benchmark: N sessions on one machine, wabridge beside whatsapp-web.js's architecture.

For each N (default 1, 10, 40, 100), on a fresh sandbox:

* wabridge: a fresh daemon; create N sessions (webhook to a receiver here) ->
  all SCAN_QR; link all -> all CONNECTED; PSS per session (each browser's
  process group) and the daemon's RSS; idle CPU over --idle seconds, once
  the pages have had --settle seconds after linking; a burst
  of inbound messages (end-to-end msg/s and p99, the CPU of the daemon, the
  browsers and the test itself per message); outbound sends/s; a graceful
  restart and a kill -9 -> all CONNECTED again.
* the baseline (bench/scale/baseline.mjs): Node + puppeteer-core, one Chromium
  per session, each message serialized in the page and handed to Node with
  exposeFunction, then POSTed to the same receiver: the same figures where
  they apply, and wabridge's as a ratio to them.

Then once: one session fed at each N's per-session rate (the N-session
burst's msg/s divided by N, evenly spaced, about 10 s of it), for the
browsers' CPU per message of a page that gets messages as often as each of
the N did but has the machine to itself (--no-same-rate skips it); and the
daemon's RSS before and after --history stored messages on one session.
The receiver's own ceiling is measured first and printed. Prints a
markdown table and writes JSON. Standard library only (plus the baseline's
node_modules, installed by `make bench-scale`).

    python3 bench/scale.py --bin target/release/wabridge --out bench-results/scale.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
SHELL = "/usr/lib/chromium/chromium-headless-shell"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- CPU


def cpu_s(pids) -> float:
    """utime + stime of these processes, in seconds (gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            fields = s[s.rfind(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / TICK


class Meter:
    """CPU seconds of named groups of processes between start() and stop()."""

    def __init__(self, groups: dict):
        self.groups = groups  # name -> callable returning pids

    def start(self) -> None:
        self.pids = {k: set(f()) for k, f in self.groups.items()}
        self.t0 = time.monotonic()
        self.self0 = sum(os.times()[:2])
        self.c0 = {k: cpu_s(p) for k, p in self.pids.items()}

    def stop(self) -> dict:
        wall = time.monotonic() - self.t0
        out = {}
        for k, f in self.groups.items():
            # Processes that started meanwhile count from 0; ones that ended are lost.
            pids = self.pids[k] | set(f())
            out[k] = cpu_s(pids) - self.c0[k]
        out["bench"] = out.pop("bench", 0) + sum(os.times()[:2]) - self.self0
        out["wall"] = wall
        return out


# ---------------------------------------------------------------- receiver


class Receiver:
    """A fast webhook receiver (asyncio, keep-alive): first arrival per message."""

    def __init__(self):
        self.first: dict = {}
        self.dups = 0
        self.count = 0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        srv = self.loop.run_until_complete(asyncio.start_server(self._conn, "127.0.0.1", 0))
        self.port = srv.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _conn(self, r: asyncio.StreamReader, w: asyncio.StreamWriter):
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        n = int(line[15:])
                body = await r.readexactly(n) if n else b""
                self._note(body)
                w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            w.close()

    def _note(self, body: bytes):
        now = time.monotonic()
        try:
            ev = json.loads(body)
        except ValueError:
            return
        if ev.get("event") != "message":
            return
        key = (ev.get("payload") or {}).get("id")
        with self.lock:
            self.count += 1
            if key in self.first:
                self.dups += 1
            else:
                self.first[key] = now

    def reset(self):
        with self.lock:
            self.first.clear()
            self.dups = self.count = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def receiver_ceiling(rcv: Receiver, n: int = 4000) -> float:
    """Requests/s the receiver takes from this process's own client threads."""
    body = {"event": "message", "payload": {"id": "x"}}
    t0 = time.monotonic()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda i: B.http("POST", rcv.url, {**body, "payload": {"id": f"c{i}"}}), range(n)))
    rate = n / (time.monotonic() - t0)
    rcv.reset()
    return rate


# ---------------------------------------------------------------- the runs


class Scale:
    def __init__(self, args):
        self.args = args
        self.b = B.Bench(argparse.Namespace(bin=args.bin, browser=None, timeout=args.timeout, keep=False))
        self.rcv = Receiver()
        self.sandbox: B.Proc | None = None

    # -- shared pieces

    def fresh_sandbox(self):
        if self.sandbox:
            self.sandbox.kill()
            self.b.procs.remove(self.sandbox)
        (self.b.tmp / "sb.json").unlink(missing_ok=True)
        self.b.start_sandbox()
        self.sandbox = self.b.procs[-1]

    def burst(self, phones: list[str], meter: Meter, m: int | None = None, rate: float = 0) -> dict:
        """--burst inbound messages across the accounts (or `m`, `rate` a
        second if given, else as fast as the injector goes); rates,
        latency, CPU."""
        m = m or self.args.burst
        self.rcv.reset()
        posted: dict = {}
        lock = threading.Lock()
        start = time.monotonic()

        def one(k: int):
            if rate:
                time.sleep(max(0.0, start + k / rate - time.monotonic()))
            to = phones[k % len(phones)]
            t = time.monotonic()
            code, body = B.http("POST", self.b.sandbox_url + "/_sandbox/messages",
                                {"from": f"1555099{k % 97:04d}", "to": to, "text": f"scale {k}"})
            if code == 201 and isinstance(body, dict):
                with lock:
                    posted[body["id"]] = t

        meter.start()
        t0 = time.monotonic()
        with ThreadPoolExecutor(self.args.inject_threads) as pool:
            list(pool.map(one, range(m)))
        deadline = time.monotonic() + self.args.timeout
        while len(self.rcv.first) < len(posted) and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu = meter.stop()
        arrived = dict(self.rcv.first)
        lat = sorted(arrived[k] - t for k, t in posted.items() if k in arrived)
        last = max(arrived.values()) if arrived else t0
        got = sum(1 for k in posted if k in arrived)
        out = {
            "messages": m, "posted": len(posted), "delivered": got, "lost": len(posted) - got,
            "duplicates": self.rcv.dups,
            "msg_per_s": round(got / max(last - t0, 1e-6), 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1) if lat else None,
        }
        for k in ("bridge", "browsers", "bench", "sandbox"):
            out[f"cpu_ms_per_msg_{k}"] = round(cpu[k] * 1000 / max(got, 1), 3)
        return out

    def idle(self, meter: Meter) -> dict:
        # Pages just linked are still settling (history sync, storage
        # writes, the first garbage collections): that is start-up, not idle.
        time.sleep(self.args.settle)
        meter.start()
        time.sleep(self.args.idle)
        cpu = meter.stop()
        cores = os.cpu_count() or 1
        return {f"idle_pct_{k}": round(100 * cpu[k] / cpu["wall"] / cores, 2) for k in ("bridge", "browsers")}

    def memory(self, pgids: list[int]) -> dict:
        pss = [sum(B.read_kb(f"/proc/{p}/smaps_rollup", "Pss") for p in B.group_members(g)) for g in pgids]
        return {"pss_mb_per_session": B.mb(statistics.mean(pss)), "pss_mb_total": B.mb(sum(pss)),
                "processes_per_session": round(statistics.mean(len(B.group_members(g)) for g in pgids), 1)}

    # -- wabridge

    def wabridge(self, n: int) -> dict:
        log(f"== wabridge, {n} session(s)")
        self.fresh_sandbox()
        d = B.Daemon(self.b, self.b.tmp / f"data-{n}")
        d.start()
        ids = [f"s{i}" for i in range(n)]
        phones = {sid: f"1555040{i:04d}" for i, sid in enumerate(ids)}
        out: dict = {"sessions": n}
        hook = {"url": self.rcv.url, "events": ["message"]}
        with ThreadPoolExecutor(min(n, 16)) as pool:
            t0 = time.monotonic()
            def create(sid):
                code, body = d.api("POST", "/api/sessions", {"id": sid, "webhooks": [hook]})
                if code != 201:
                    raise B.BenchError(f"creating {sid}: HTTP {code} {body}")
                d.wait_status(sid, "SCAN_QR", t0)
            list(pool.map(create, ids))
            out["create_to_all_qr_s"] = round(time.monotonic() - t0, 2)
            t0 = time.monotonic()
            list(pool.map(lambda sid: self.b.link(d, sid, phones[sid]), ids))
            out["link_to_all_connected_s"] = round(time.monotonic() - t0, 2)
        out["start_to_all_connected_s"] = round(out["create_to_all_qr_s"] + out["link_to_all_connected_s"], 2)
        log(f"   all QR {out['create_to_all_qr_s']} s, all CONNECTED {out['link_to_all_connected_s']} s")
        time.sleep(5)
        pgids = [d.browser_pgid(sid) for sid in ids]
        self.b.pgids.update(pgids)
        out.update(self.memory(pgids))
        out["daemon_rss_mb"] = B.mb(B.read_kb(f"/proc/{d.proc.pid}/status", "VmRSS"))
        meter = Meter({
            "bridge": lambda: [d.proc.pid],
            "browsers": lambda: [p for g in pgids for p in B.group_members(g)],
            "sandbox": lambda: [self.sandbox.pid],
        })
        out.update(self.idle(meter))
        log(f"   PSS {out['pss_mb_per_session']} MB/session, daemon RSS {out['daemon_rss_mb']} MB, "
            f"idle browsers {out['idle_pct_browsers']}% daemon {out['idle_pct_bridge']}%")
        out["inbound"] = self.burst(list(phones.values()), meter)
        log(f"   inbound {json.dumps(out['inbound'])}")
        out["outbound_msg_per_s"] = self.outbound(d, ids, phones)
        log(f"   outbound {out['outbound_msg_per_s']} msg/s")
        # A browser replaced since the measurements began (a crash, a
        # recycle) is a finding, and leaves the browsers' CPU figures short.
        out["browsers_replaced"] = sum(d.browser_pgid(sid) != g for sid, g in zip(ids, pgids))
        if out["browsers_replaced"]:
            log(f"   WARNING: {out['browsers_replaced']} of {n} browsers were replaced during the run; "
                f"see the daemon's log, {d.proc.log}")
        for how in ("graceful", "kill"):
            old = {sid: d.browser_pgid(sid) for sid in ids}
            if how == "graceful":
                d.proc.terminate(self.args.timeout)
            else:
                d.proc.p.send_signal(signal.SIGKILL)
                d.proc.p.wait()
            t0 = d.start()
            self.wait_all(d, ids, t0, old)
            out[f"{how}_restart_to_all_connected_s"] = round(time.monotonic() - t0, 2)
            log(f"   {how} restart -> all CONNECTED {out[f'{how}_restart_to_all_connected_s']} s")
        d.proc.terminate(self.args.timeout)
        return out

    def wait_all(self, d: B.Daemon, ids: list[str], t0: float, old: dict):
        """Until every session is CONNECTED on a new browser (a status read
        before the restart took hold is not taken for recovery)."""
        want = set(ids)
        while True:
            code, body = d.api("GET", "/api/sessions")
            if code == 200:
                up = {s["id"] for s in body if s.get("status") == "CONNECTED"
                      and d.browser_pgid(s["id"]) not in (None, old.get(s["id"]))}
                if up >= want:
                    return
            if time.monotonic() - t0 > self.args.timeout:
                raise B.BenchError("sessions did not all come back CONNECTED")
            time.sleep(0.1)

    def same_rate(self, rates: dict) -> dict:
        """One session, fed at each N's per-session rate (N -> msg/s):
        the browsers' CPU per message when a page gets messages as often
        as each of N pages did, without the other N - 1 browsers."""
        log("== wabridge, 1 session at each N's per-session rate")
        self.fresh_sandbox()
        d = B.Daemon(self.b, self.b.tmp / "data-same-rate")
        d.start()
        out = {}
        try:
            hook = {"url": self.rcv.url, "events": ["message"]}
            code, body = d.api("POST", "/api/sessions", {"id": "s0", "webhooks": [hook]})
            if code != 201:
                raise B.BenchError(f"creating s0: HTTP {code} {body}")
            d.wait_status("s0", "SCAN_QR", time.monotonic())
            self.b.link(d, "s0", "15550400000")
            pgid = d.browser_pgid("s0")
            self.b.pgids.add(pgid)
            time.sleep(min(self.args.settle, 10))
            meter = Meter({"bridge": lambda: [d.proc.pid], "browsers": lambda: B.group_members(pgid),
                           "sandbox": lambda: [self.sandbox.pid]})
            for n, rate in rates.items():
                # About 10 s of messages, at least 200.
                r = self.burst(["15550400000"], meter, m=max(200, min(self.args.burst, int(rate * 10))), rate=rate)
                out[n] = {"rate_per_s": round(rate, 1), **r}
                log(f"   at {rate:.1f} msg/s (the per-session rate of {n} sessions): "
                    f"browsers {r['cpu_ms_per_msg_browsers']} ms/msg, {r['lost']} lost")
        finally:
            d.proc.terminate(self.args.timeout)
        return out

    def outbound(self, d: B.Daemon, ids: list[str], phones: dict) -> float:
        m = self.args.sends
        t0 = time.monotonic()
        def one(k):
            sid = ids[k % len(ids)]
            code, _ = d.api("POST", f"/api/sessions/{sid}/messages", {"to": f"1555099{k % 97:04d}", "text": f"out {k}"})
            return code == 201
        with ThreadPoolExecutor(16) as pool:
            ok = sum(pool.map(one, range(m)))
        return round(ok / (time.monotonic() - t0), 1)

    # -- the baseline

    def baseline(self, n: int) -> dict:
        shared = self.args.baseline_shared
        log(f"== baseline (Node + puppeteer{', one shared browser' if shared else ''}), {n} session(s)")
        self.fresh_sandbox()
        proc = subprocess.Popen(
            ["node", str(HERE / "scale" / "baseline.mjs"), "--sandbox", self.b.sandbox_url + "/",
             "--receiver", self.rcv.url, "--sessions", str(n), "--browser", self.args.chromium]
            + (["--shared"] if shared else []),
            stdout=subprocess.PIPE, stderr=open(self.b.tmp / f"baseline-{n}.log", "wb"),
            start_new_session=True, text=True)
        out: dict = {"sessions": n}
        pids, phones = [], []
        t0 = time.monotonic()
        try:
            for line in proc.stdout:
                ev = json.loads(line)
                if "ready" in ev:
                    if ev["pid"] not in pids:
                        pids.append(ev["pid"])
                    phones.append(ev["phone"])
                if "all_ready" in ev:
                    break
            else:
                raise B.BenchError(f"the baseline ended early; see {self.b.tmp}/baseline-{n}.log")
            out["start_to_all_connected_s"] = round(time.monotonic() - t0, 2)
            time.sleep(5)
            out.update(self.memory(pids))
            if shared:
                out["pss_mb_per_session"] = round(out["pss_mb_total"] / n, 1)
            out["daemon_rss_mb"] = B.mb(B.read_kb(f"/proc/{proc.pid}/status", "VmRSS"))
            meter = Meter({
                "bridge": lambda: [proc.pid],
                "browsers": lambda: [p for g in pids for p in B.group_members(g)],
                "sandbox": lambda: [self.sandbox.pid],
            })
            out.update(self.idle(meter))
            log(f"   PSS {out['pss_mb_per_session']} MB/session, node RSS {out['daemon_rss_mb']} MB, "
                f"idle browsers {out['idle_pct_browsers']}%")
            out["inbound"] = self.burst(phones, meter)
            log(f"   inbound {json.dumps(out['inbound'])}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            for g in pids:
                try:
                    os.killpg(g, signal.SIGKILL)
                except OSError:
                    pass
        return out

    # -- history

    def history(self) -> dict:
        m = self.args.history
        log(f"== daemon memory before and after {m:,} stored messages (1 session)")
        self.fresh_sandbox()
        d = B.Daemon(self.b, self.b.tmp / "data-history")
        d.start()
        d.api("POST", "/api/sessions", {"id": "h", "webhooks": [{"url": self.rcv.url, "events": ["message"]}]})
        d.wait_status("h", "SCAN_QR", time.monotonic())
        self.b.link(d, "h", "15550500000")
        time.sleep(3)
        rss = lambda: B.mb(B.read_kb(f"/proc/{d.proc.pid}/status", "VmRSS"))  # noqa: E731
        before = rss()
        peak = before
        stop = threading.Event()
        def watch():
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, rss())
                time.sleep(0.5)
        threading.Thread(target=watch, daemon=True).start()
        steps = []  # (stored so far, RSS once that step's backlog settled)
        step = max(1, m // 6)
        with ThreadPoolExecutor(self.args.inject_threads) as pool:
            for lo in range(0, m, step):
                list(pool.map(lambda k: B.http("POST", self.b.sandbox_url + "/_sandbox/messages",
                                               {"from": f"1555098{k % 50:04d}", "to": "15550500000",
                                                "text": f"history message {k} " + "x" * 80}),
                              range(lo, min(m, lo + step))))
                time.sleep(2)
                steps.append((min(m, lo + step), rss()))
                log(f"   {steps[-1][0]:,} stored: RSS {steps[-1][1]} MB")
        time.sleep(20)  # the webhook backlog drains; freed memory is returned
        stop.set()
        out = {"messages": m, "daemon_rss_mb_before": before, "daemon_rss_mb_after": rss(),
               "daemon_rss_mb_peak": peak, "daemon_rss_mb_by_stored": steps}
        log(f"   {json.dumps(out)}")
        d.proc.terminate(self.args.timeout)
        return out


# ---------------------------------------------------------------- report


def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b else "–"


def table(res: dict) -> str:
    rows = [
        ("create → all QR (s)", lambda w, b: (w.get("create_to_all_qr_s"), None)),
        ("link → all CONNECTED (s)", lambda w, b: (w["link_to_all_connected_s"], None)),
        ("start → all CONNECTED: launch and link (s)", lambda w, b: (w["start_to_all_connected_s"], b.get("start_to_all_connected_s"))),
        ("PSS per session (MB)", lambda w, b: (w["pss_mb_per_session"], b.get("pss_mb_per_session"))),
        ("bridge process RSS (MB)", lambda w, b: (w["daemon_rss_mb"], b.get("daemon_rss_mb"))),
        ("browsers' idle CPU (% of machine)", lambda w, b: (w["idle_pct_browsers"], b.get("idle_pct_browsers"))),
        ("bridge idle CPU (% of machine)", lambda w, b: (w["idle_pct_bridge"], b.get("idle_pct_bridge"))),
        ("inbound end to end (msg/s)", lambda w, b: (w["inbound"]["msg_per_s"], b.get("inbound", {}).get("msg_per_s"))),
        ("inbound p99 (ms)", lambda w, b: (w["inbound"]["p99_ms"], b.get("inbound", {}).get("p99_ms"))),
        ("browsers' CPU per message (ms)", lambda w, b: (w["inbound"]["cpu_ms_per_msg_browsers"], b.get("inbound", {}).get("cpu_ms_per_msg_browsers"))),
        ("… one session fed at this N's per-session rate (ms)", lambda w, b: (
            w["same_rate"]["cpu_ms_per_msg_browsers"] if "same_rate" in w else "–", None)),
        ("… N sessions / that one session", lambda w, b: (
            ratio(w["inbound"]["cpu_ms_per_msg_browsers"], w["same_rate"]["cpu_ms_per_msg_browsers"])
            if "same_rate" in w else "–", None)),
        ("bridge CPU per message (ms)", lambda w, b: (w["inbound"]["cpu_ms_per_msg_bridge"], b.get("inbound", {}).get("cpu_ms_per_msg_bridge"))),
        ("test's CPU per message: sandbox + bench (ms)", lambda w, b: (
            round(w["inbound"]["cpu_ms_per_msg_sandbox"] + w["inbound"]["cpu_ms_per_msg_bench"], 3),
            round(b["inbound"]["cpu_ms_per_msg_sandbox"] + b["inbound"]["cpu_ms_per_msg_bench"], 3) if b.get("inbound") else None)),
        ("lost / repeated messages", lambda w, b: (f"{w['inbound']['lost']} / {w['inbound']['duplicates']}",
                                                   f"{b['inbound']['lost']} / {b['inbound']['duplicates']}" if b.get("inbound") else None)),
        ("outbound (msg/s)", lambda w, b: (w["outbound_msg_per_s"], None)),
        ("graceful restart → all CONNECTED (s)", lambda w, b: (w["graceful_restart_to_all_connected_s"], None)),
        ("kill -9 restart → all CONNECTED (s)", lambda w, b: (w["kill_restart_to_all_connected_s"], None)),
    ]
    ns = [r["sessions"] for r in res["wabridge"]]
    head = "| wabridge / baseline (ratio) | " + " | ".join(f"{n} session{'s' * (n != 1)}" for n in ns) + " |"
    lines = [head, "|---|" + "---:|" * len(ns)]
    base = {r["sessions"]: r for r in res.get("baseline", [])}
    for name, f in rows:
        cells = []
        for w in res["wabridge"]:
            a, b = f(w, base.get(w["sessions"], {}))
            if a == "–":
                cells.append(a)
            elif b is None:
                cells.append(f"**{a}**")
            elif isinstance(a, str):
                cells.append(f"**{a}** / {b}")
            else:
                cells.append(f"**{a}** / {b} ({ratio(a, b)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/wabridge")
    ap.add_argument("--out", default="bench-results/scale.json")
    ap.add_argument("--sessions", default="1,10,40,100", help="comma-separated session counts")
    ap.add_argument("--burst", type=int, default=3000, help="inbound messages per burst")
    ap.add_argument("--sends", type=int, default=1000, help="outbound sends per run")
    ap.add_argument("--idle", type=float, default=30, help="seconds of idle CPU measurement")
    ap.add_argument("--settle", type=float, default=30,
                    help="seconds to wait after linking before the idle measurement (both sides)")
    ap.add_argument("--history", type=int, default=30000, help="stored messages for the memory row (0: skip)")
    ap.add_argument("--inject-threads", type=int, default=32)
    ap.add_argument("--no-baseline", action="store_true", help="wabridge only")
    ap.add_argument("--baseline-shared", action="store_true",
                    help="the baseline runs every session in one browser, a context each")
    ap.add_argument("--no-same-rate", action="store_true",
                    help="skip the one-session runs at each N's per-session rate")
    ap.add_argument("--chromium", default=SHELL, help="the browser the baseline launches (wabridge's default)")
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    # bench.Daemon passes the environment on: every flag has a WABRIDGE_* twin.
    os.environ["WABRIDGE_SEND_PER_MINUTE"] = "0"  # no pacing: the bench sets the rate
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    s = Scale(args)
    res: dict = {"machine": B.machine(), "args": vars(args), "wabridge": [], "baseline": []}
    try:
        res["receiver_ceiling_req_per_s"] = round(receiver_ceiling(s.rcv))
        log(f"receiver ceiling (from this process's own client threads): {res['receiver_ceiling_req_per_s']} req/s")
        for n in [int(x) for x in args.sessions.split(",") if x.strip()]:
            res["wabridge"].append(s.wabridge(n))
            if not args.no_baseline:
                res["baseline"].append(s.baseline(n))
        rates = {w["sessions"]: w["inbound"]["msg_per_s"] / w["sessions"] for w in res["wabridge"] if w["sessions"] > 1}
        if rates and not args.no_same_rate:
            same = s.same_rate(rates)
            for w in res["wabridge"]:
                if w["sessions"] in same:
                    w["same_rate"] = same[w["sessions"]]
        if args.history:
            res["history"] = s.history()
    finally:
        s.b.cleanup()
    print(table(res))
    if "history" in res:
        h = res["history"]
        print(f"\ndaemon RSS with {h['messages']:,} stored messages: {h['daemon_rss_mb_before']} MB before, "
              f"{h['daemon_rss_mb_after']} MB after (peak {h['daemon_rss_mb_peak']} MB)")
    print(f"receiver ceiling: {res['receiver_ceiling_req_per_s']} req/s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
