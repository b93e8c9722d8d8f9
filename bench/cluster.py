#!/usr/bin/env python3
"""Benchmark of wabridge's peers (cluster): forwarding overhead and moving sessions.

Two figures, each on fresh peers over one sandbox:

* forwarding: peers A and B; one linked session homed on B; 2000 sequential
  GET /api/sessions/{id} straight to B and 2000 through A (forwarded to B),
  interleaved in batches of 100, each over one keep-alive connection:
  p50/p99 of both and the p99 overhead (target: <= 2 ms).
* moving: peers A, B and C; 10 linked sessions homed on C; the peers file is
  rewritten to list A and B only; the time from that write until all 10 are
  CONNECTED on their new homes and gone from C (target: <= 10 s, the file's
  2 s re-read included), and how many were ever CONNECTED on two peers at once.

Prints a markdown table and writes the figures as JSON.

    python3 bench/cluster.py --bin target/release/wabridge --out bench-results/cluster.json

Standard library only, like bench/bench.py, whose process and HTTP helpers it imports.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client as hc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench as B  # noqa: E402  (bench/bench.py: HTTP, sandbox, linking and process helpers)

CLUSTER_KEY = "bench-cluster-key-0123456789"
N_REQUESTS = 2000
BATCH = 100
N_MOVE = 10
MOVE_POLL_S = 0.1
TARGET_OVERHEAD_MS = 2.0
TARGET_MOVE_S = 10.0
log = B.log


def home(peers: list[str], sid: str) -> str:
    """The rendezvous home of `sid` (src/cluster/peers.rs): max by (weight, Reverse(url))."""
    def weight(p: str) -> int:
        return int.from_bytes(hashlib.sha256(p.encode() + b"\0" + sid.encode()).digest()[:8], "big")
    best = max(weight(p) for p in peers)
    return min(p for p in peers if weight(p) == best)


def ids_homed(peers: list[str], on: str, prefix: str, n: int) -> list[str]:
    out, i = [], 0
    while len(out) < n:
        i += 1
        if home(peers, f"{prefix}{i}") == on:
            out.append(f"{prefix}{i}")
    return out


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round((len(s) - 1) * p)))]


def write_peers(file: Path, urls: list[str]) -> None:
    """Whole or not at all: a peer never reads half a list."""
    tmp = file.with_suffix(".tmp")
    tmp.write_text("\n".join(urls) + "\n")
    os.replace(tmp, file)


class Peer(B.Daemon):
    """`wabridge serve` as one of the peers named in `peers_file`."""

    def __init__(self, bench: "Cluster", name: str, peers_file: Path):
        # data-*: bench.Bench.cleanup looks there; one dir per run and peer (none resumes another's)
        super().__init__(bench, bench.tmp / f"data-{peers_file.name}-{name}")
        self.name = name
        self.port = B.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.peers_file = peers_file

    def start(self) -> float:
        b = self.bench
        args = [b.bin, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
                "--wa-url", b.sandbox_url + "/"]
        env = {"WABRIDGE_API_KEY": B.API_KEY, "WABRIDGE_SEND_PER_MINUTE": "0",
               "WABRIDGE_PEERS_FILE": str(self.peers_file), "WABRIDGE_SELF": self.url,
               "WABRIDGE_CLUSTER_KEY": CLUSTER_KEY}
        self.proc = B.Proc(args, self.data_dir.with_suffix(f".{self.port}.log"), env=env)
        b.procs.append(self.proc)
        B.wait_http_ok(self.url + "/health", self.proc, b.timeout, f"peer {self.name}")
        return self.proc.started

    def own(self) -> dict[str, str] | None:
        """This peer's own sessions (id -> status), as it answers another peer; None if it cannot."""
        try:
            code, body = B.http("GET", self.url + "/api/sessions", timeout=5, headers={
                "Authorization": f"Bearer {B.API_KEY}", "X-Wabridge-Forwarded-By": "bench",
                "X-Wabridge-Cluster-Key": CLUSTER_KEY})
        except OSError:
            return None
        if code != 200 or not isinstance(body, list):
            return None
        return {s["id"]: s.get("status") for s in body}


class Conn:
    """One keep-alive connection; a request the server closed under us is retried once, reconnected."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").split(":")
        self.c = hc.HTTPConnection(host, int(port), timeout=30)
        self.reconnects = 0

    def get(self, path: str) -> tuple[float, int, str | None, bytes]:
        """(seconds, status, X-Wabridge-Peer, body)."""
        for attempt in range(2):
            try:
                t0 = time.perf_counter()
                self.c.request("GET", path, headers={"Authorization": f"Bearer {B.API_KEY}"})
                r = self.c.getresponse()
                body = r.read()
                return time.perf_counter() - t0, r.status, r.getheader("X-Wabridge-Peer"), body
            except (hc.HTTPException, OSError):
                self.c.close()
                if attempt:
                    raise
                self.reconnects += 1
                self.c.connect()  # outside the timing of the retry
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.c.close()


class Cluster(B.Bench):
    def peers(self, names: str, file: Path) -> list[Peer]:
        ps = [Peer(self, n, file) for n in names]
        write_peers(file, [p.url for p in ps])
        with ThreadPoolExecutor(len(ps)) as pool:
            list(pool.map(Peer.start, ps))
        return ps

    def create_and_link(self, d: Peer, ids: list[str], phones: dict[str, str]) -> None:
        def one(sid: str) -> None:
            code, body = d.api("POST", "/api/sessions", {"id": sid})
            if code != 201:
                raise B.BenchError(f"creating session {sid} on {d.name}: HTTP {code} {body}")
            d.wait_status(sid, "SCAN_QR", time.monotonic())
            self.link(d, sid, phones[sid])
        with ThreadPoolExecutor(len(ids)) as pool:
            list(pool.map(one, ids))

    def forwarding(self) -> dict:
        log("== forwarding: peers A, B; one session homed on B")
        a, b = self.peers("AB", self.tmp / "peers-fwd")
        sid = ids_homed([a.url, b.url], b.url, "fwd", 1)[0]
        self.create_and_link(b, [sid], {sid: "15550500001"})
        time.sleep(2.0)  # warm-up
        path = f"/api/sessions/{sid}"
        conns = {"direct": Conn(b.url), "forwarded": Conn(a.url)}
        lat: dict[str, list[float]] = {"direct": [], "forwarded": []}
        wrong_peer, bad_status = 0, 0
        for c in conns.values():  # open each connection outside the timings
            c.get(path)
        for i in range(N_REQUESTS // BATCH):
            order = ["direct", "forwarded"] if i % 2 == 0 else ["forwarded", "direct"]
            for kind in order:
                for _ in range(BATCH):
                    s, status, peer, body = conns[kind].get(path)
                    lat[kind].append(s * 1000)
                    bad_status += status != 200 or json.loads(body).get("status") != "CONNECTED"
                    wrong_peer += peer != b.url
        for c in conns.values():
            c.close()
        out: dict = {"session": sid, "home": b.url, "requests_each": N_REQUESTS, "batch": BATCH}
        for kind, xs in lat.items():
            out[kind + "_ms"] = {"p50": round(pct(xs, 0.5), 3), "p99": round(pct(xs, 0.99), 3),
                                 "mean": round(sum(xs) / len(xs), 3), "max": round(max(xs), 3)}
        out["p99_overhead_ms"] = round(out["forwarded_ms"]["p99"] - out["direct_ms"]["p99"], 3)
        out["p50_overhead_ms"] = round(out["forwarded_ms"]["p50"] - out["direct_ms"]["p50"], 3)
        out["answers_not_from_home"] = wrong_peer
        out["answers_not_200_connected"] = bad_status
        out["reconnects"] = {k: c.reconnects for k, c in conns.items()}
        log(f"   direct p50/p99 {out['direct_ms']['p50']}/{out['direct_ms']['p99']} ms, forwarded "
            f"{out['forwarded_ms']['p50']}/{out['forwarded_ms']['p99']} ms")
        for p in (a, b):
            p.proc.terminate(self.timeout)
        return out

    def moving(self) -> dict:
        log(f"== moving: peers A, B, C; {N_MOVE} linked sessions homed on C; the file loses C")
        file = self.tmp / "peers-move"
        a, b, c = ps = self.peers("ABC", file)
        ids = ids_homed([p.url for p in ps], c.url, "mv", N_MOVE)
        phones = {sid: f"1555060{i:04d}" for i, sid in enumerate(ids, 1)}
        t0 = time.monotonic()
        self.create_and_link(c, ids, phones)
        log(f"   {N_MOVE} created and linked on C in {time.monotonic() - t0:.1f} s")
        time.sleep(B.SETTLE_S)  # let the browsers finish starting up
        if (own := c.own()) is None or any(own.get(s) != "CONNECTED" for s in ids):
            raise B.BenchError(f"not all {N_MOVE} CONNECTED on C before the move: {own}")
        new_home = {sid: home([a.url, b.url], sid) for sid in ids}
        by_url = {p.url: p for p in ps}

        write_peers(file, [a.url, b.url])
        t0 = time.monotonic()
        done: dict[str, float] = {}
        twice: set[str] = set()
        first_left_c = None
        polls = unreachable = 0
        with ThreadPoolExecutor(3) as pool:
            while True:
                now = time.monotonic() - t0
                lists = dict(zip(ps, pool.map(Peer.own, ps)))
                polls += 1
                unreachable += sum(v is None for v in lists.values())
                lists = {p: v or {} for p, v in lists.items()}
                for sid in ids:
                    if sum(lists[p].get(sid) == "CONNECTED" for p in ps) > 1:
                        twice.add(sid)
                    if first_left_c is None and sid not in lists[c]:
                        first_left_c = now
                    there = lists[by_url[new_home[sid]]].get(sid) == "CONNECTED"
                    if sid not in done and there and sid not in lists[c]:
                        done[sid] = now
                if len(done) == len(ids):
                    break
                for p in ps:
                    if not p.proc.alive():
                        raise B.BenchError(f"peer {p.name} exited during the move; log tail:\n{p.proc.tail()}")
                if now > self.timeout:
                    missing = {s: {p.name: lists[p].get(s) for p in ps} for s in ids if s not in done}
                    raise B.BenchError(f"not all moved within {self.timeout:g} s: {missing}\n"
                                       f"--- C's log ---\n{c.proc.tail()}")
                time.sleep(MOVE_POLL_S)
        total = max(done.values())
        # Through A, the peer that never held them: linked as before (no rescan), served by the new home.
        checks = []
        for sid in ids:
            conn = Conn(a.url)
            _, status, peer, body = conn.get(f"/api/sessions/{sid}")
            conn.close()
            v = json.loads(body) if status == 200 else {}
            checks.append(status == 200 and v.get("status") == "CONNECTED" and peer == new_home[sid]
                          and (v.get("me") or {}).get("phone") == phones[sid])
        ts = sorted(done.values())
        out = {
            "sessions": N_MOVE, "ids": ids,
            "new_homes": {p.name: sum(new_home[s] == p.url for s in ids) for p in (a, b)},
            "write_to_all_connected_s": round(total, 3),
            "write_to_first_left_c_s": round(first_left_c, 3) if first_left_c is not None else None,
            "per_session_s": {"p50": round(pct(ts, 0.5), 3), "min": round(ts[0], 3), "max": round(ts[-1], 3)},
            "connected_on_two_peers": len(twice), "polls": polls, "unreachable_polls": unreachable,
            "linked_as_before_through_a": sum(checks),
        }
        log(f"   all {N_MOVE} CONNECTED on their new homes {total:.2f} s after the write "
            f"(first left C at {out['write_to_first_left_c_s']} s)")
        return out

    def cleanup(self) -> None:
        """SIGTERM to the daemons, then the sandbox; SIGKILL to whatever is left (and browsers)."""
        for group in (self.procs[1:], self.procs[:1]):
            live = [p for p in group if p.alive()]
            for p in live:
                p.p.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for p in live:
                try:
                    p.p.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        super().cleanup()


def table(r: dict) -> str:
    f, m = r["forwarding"], r["moving"]
    ok = lambda good: "" if good else " ✗"  # noqa: E731
    rows = [
        ("GET a session, direct to its home: p50 / p99 (ms)", f"{f['direct_ms']['p50']:.2f} / {f['direct_ms']['p99']:.2f}", "–"),
        ("GET a session, through another peer: p50 / p99 (ms)", f"{f['forwarded_ms']['p50']:.2f} / {f['forwarded_ms']['p99']:.2f}", "–"),
        ("forwarding overhead at p99 (ms)", f"{f['p99_overhead_ms']:.2f}{ok(f['p99_overhead_ms'] <= TARGET_OVERHEAD_MS)}",
         f"≤ {TARGET_OVERHEAD_MS:g}"),
        ("forwarded answers not served by the home", f"{f['answers_not_from_home']}", "0"),
        (f"{m['sessions']} linked sessions moved: file write → all CONNECTED (s)",
         f"{m['write_to_all_connected_s']:.2f}{ok(m['write_to_all_connected_s'] <= TARGET_MOVE_S)}", f"≤ {TARGET_MOVE_S:g}"),
        ("… first session gone from the leaving peer (s)", f"{m['write_to_first_left_c_s']}", "–"),
        ("… per session: p50 / max (s)", f"{m['per_session_s']['p50']:.2f} / {m['per_session_s']['max']:.2f}", "–"),
        ("sessions CONNECTED on two peers at once", f"{m['connected_on_two_peers']}", "0"),
        ("moved sessions still linked as before (no rescan)", f"{m['linked_as_before_through_a']} / {m['sessions']}",
         f"{m['sessions']} / {m['sessions']}"),
    ]
    return "\n".join(["| figure | value | target |", "|---|---:|---:|",
                      *(f"| {a} | {b} | {c} |" for a, b, c in rows)])


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/wabridge", help="the wabridge binary")
    ap.add_argument("--out", default="bench-results/cluster.json", help="where to write the JSON")
    ap.add_argument("--timeout", type=float, default=120, help="limit of every wait, in seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temporary dir (logs, data dirs)")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        ap.error(f"{args.bin} is not an executable (build it: cargo build --release)")
    args.browser = None  # bench.Bench reads it; the daemon's own default

    bench = Cluster(args)
    signal.signal(signal.SIGTERM, _interrupt)
    ok = False
    t0 = time.monotonic()
    try:
        info = B.machine()
        bench.start_sandbox()
        result = {"machine": info, "binary": bench.bin, "forwarding": bench.forwarding(), "moving": bench.moving()}
        result["run_s"] = round(time.monotonic() - t0, 1)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"Machine: {info['cores']} cores, {info['mem_gb']} GB RAM; {info['chromium_version'] or 'chromium ?'}\n")
        print(table(result))
        print(f"\nJSON: {out} ({result['run_s']} s)")
        ok = True
    except B.BenchError as e:
        log(f"bench failed: {e}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        bench.cleanup()
        if ok and not args.keep:
            shutil.rmtree(bench.tmp, ignore_errors=True)
        else:
            log(f"logs and data dirs kept in {bench.tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
