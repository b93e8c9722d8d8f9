#!/usr/bin/env python3
"""Where the browsers' CPU goes, thread by thread (issue 17's profile).

N linked sessions on the sandbox; then the browsers' threads, grouped by
name (`Chrome_InProcRe` is the page's main thread, `chromium-headle` the
browser's, `NetworkService`, `Chrome_IOThread`, `Chrome_DevTools`, …): CPU
(from /proc/…/task/*/schedstat, in nanoseconds) and wake-ups (time slices)
per session per second while idle, then per message over bursts of inbound
messages. Optionally `perf record` (software clock) over the bursts.

    python3 bench/threads.py --sessions 40 --bursts 3
    python3 bench/threads.py --sessions 1 --burst 1500 --rate 50
    WABRIDGE_BROWSER_FOREGROUND=true python3 bench/threads.py --sessions 40
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402
import scale as S  # noqa: E402


def threads(pgids: list[int]) -> dict:
    """name -> [cpu ns, time slices, threads] over every browser's threads."""
    out: dict = collections.defaultdict(lambda: [0, 0, 0])
    for g in pgids:
        for pid in B.group_members(g):
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/comm") as f:
                        name = f.read().strip()
                    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                        ns, _wait, slices = map(int, f.read().split())
                except (OSError, ValueError):
                    continue
                row = out[name]
                row[0] += ns
                row[1] += slices
                row[2] += 1
    return out


def show(title: str, before: dict, after: dict, per: float, unit: str) -> None:
    d = {k: (v[0] - before.get(k, [0, 0])[0], v[1] - before.get(k, [0, 0])[1], v[2]) for k, v in after.items()}
    print(f"{title}: {sum(v[0] for v in d.values()) / 1e6 / per:.4f} ms {unit}")
    print(f"| thread | CPU (ms {unit}) | wake-ups {unit} | threads |\n|---|---:|---:|---:|")
    for k, v in sorted(d.items(), key=lambda kv: -kv[1][0]):
        if v[0] > 0:
            print(f"| {k} | {v[0] / 1e6 / per:.4f} | {v[1] / per:.3f} | {v[2]} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/wabridge")
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--burst", type=int, default=6000, help="inbound messages per burst")
    ap.add_argument("--bursts", type=int, default=1)
    ap.add_argument("--settle", type=float, default=30, help="seconds after linking before measuring")
    ap.add_argument("--idle", type=float, default=20, help="seconds of idle measurement")
    ap.add_argument("--inject-threads", type=int, default=32)
    ap.add_argument("--rate", type=float, default=0,
                    help="inbound messages per second over all sessions (0: as fast as possible)")
    ap.add_argument("--perf-daemon", metavar="FILE", help="perf record the daemon over the bursts into FILE")
    ap.add_argument("--no-wait", action="store_true",
                    help="measure until 2 s after the last post, not until every message is delivered")
    ap.add_argument("--pause", type=float, default=0, help="seconds between bursts")
    ap.add_argument("--perf", metavar="FILE", help="perf record the browsers over the bursts into FILE")
    a = ap.parse_args()

    b = B.Bench(argparse.Namespace(bin=a.bin, browser=None, timeout=300, keep=False))
    rcv = S.Receiver()
    try:
        b.start_sandbox()
        d = B.Daemon(b, b.tmp / "data")
        d.start()
        ids = [f"s{i}" for i in range(a.sessions)]
        phones = [f"1555040{i:04d}" for i in range(a.sessions)]
        hook = {"url": rcv.url, "events": ["message"]}

        def create(i: int) -> None:
            d.api("POST", "/api/sessions", {"id": ids[i], "webhooks": [hook]})
            d.wait_status(ids[i], "SCAN_QR", time.monotonic())
            b.link(d, ids[i], phones[i])

        with ThreadPoolExecutor(min(a.sessions, 16)) as pool:
            list(pool.map(create, range(a.sessions)))
        pgids = [d.browser_pgid(s) for s in ids]
        others = {"daemon": d.proc.pid, "sandbox": b.procs[0].pid}
        b.pgids.update(pgids)
        print(f"{a.sessions} sessions linked; settling {a.settle:g} s", file=sys.stderr)
        time.sleep(a.settle)
        t0, w0 = threads(pgids), time.monotonic()
        time.sleep(a.idle)
        show("idle", t0, threads(pgids), a.sessions * (time.monotonic() - w0), "per session per second")

        perf = None
        if a.perf:
            pids = ",".join(str(p) for g in pgids for p in B.group_members(g))
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g",
                                     "-o", a.perf, "-p", pids], stderr=subprocess.DEVNULL)
            time.sleep(1)
        dperf = None
        if a.perf_daemon:
            dperf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1000", "--call-graph", "dwarf,16384",
                                      "-o", a.perf_daemon, "-p", str(d.proc.pid)], stderr=subprocess.DEVNULL)
            time.sleep(1)
        for n in range(a.bursts):
            rcv.reset()

            start = time.monotonic()
            def one(k: int) -> None:
                if a.rate:
                    time.sleep(max(0.0, start + k / a.rate - time.monotonic()))
                B.http("POST", b.sandbox_url + "/_sandbox/messages",
                       {"from": f"1555099{k % 97:04d}", "to": phones[k % len(phones)], "text": f"burst {n} {k}"})

            t0, w0 = threads(pgids), time.monotonic()
            others0 = {k: S.cpu_s([pid]) for k, pid in others.items()}
            with ThreadPoolExecutor(a.inject_threads) as pool:
                list(pool.map(one, range(a.burst)))
            while len(rcv.first) < a.burst and time.monotonic() - w0 < 120:
                if a.no_wait:
                    # A build that sends no events (an experiment): the
                    # pages' work is done a moment after the last post.
                    time.sleep(2)
                    break
                time.sleep(0.05)
            wall = time.monotonic() - w0
            print(f"\nburst {n + 1}: {len(rcv.first)} of {a.burst} delivered in {wall:.2f} s ({a.burst / wall:.0f} msg/s)")
            show("per message", t0, threads(pgids), a.burst, "per message")
            print("outside the browsers: " + ", ".join(
                f"{k} {(S.cpu_s([pid]) - others0[k]) * 1000 / a.burst:.4f} ms per message" for k, pid in others.items()))
            if a.pause and n + 1 < a.bursts:
                time.sleep(a.pause)
        for p in (perf, dperf):
            if p:
                p.send_signal(signal.SIGINT)
                p.wait()
    finally:
        for p in b.procs:
            p.kill()
        for g in b.pgids:
            try:
                os.killpg(g, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(b.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
