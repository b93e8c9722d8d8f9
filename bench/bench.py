#!/usr/bin/env python3
"""Benchmark of wabridge's session engine against the sandbox.

For each session count N it measures, in a fresh data dir: create -> SCAN_QR,
link -> CONNECTED, daemon and per-session browser memory, graceful shutdown,
restart -> CONNECTED (no new scan) and, for N=1, browser crash -> CONNECTED.
Prints a markdown table (for docs/performance.md) and writes the figures as JSON.

    python3 bench/bench.py --bin target/release/wabridge --out bench-results/sessions.json

Standard library only, so `make bench` needs nothing beyond Python 3.11.
"""

from __future__ import annotations

import argparse
import json
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
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

API_KEY = "bench"
POLL_S = 0.05  # status poll interval
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in the daemon's log
SETTLE_S = 3.0  # let browsers finish their start-up work before measuring memory


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

    def __init__(self, bench: "Bench", data_dir: Path):
        self.bench = bench
        self.data_dir = data_dir
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

    def run(self, n: int) -> dict:
        try:
            return self._run(n)
        except BaseException:
            self.abort.set()
            raise

    def _run(self, n: int) -> dict:
        log(f"== {n} session(s)")
        d = Daemon(self, self.tmp / f"data-{n}")
        d.start()
        ids = [f"b{i}" for i in range(1, n + 1)]
        phones = {sid: f"1555020{i:04d}" for i, sid in enumerate(ids, 1)}
        out: dict = {"sessions": n}

        # Threads, not sequential calls: the point is N browsers starting at once.
        with ThreadPoolExecutor(max_workers=n) as pool:
            def create(sid: str) -> float:
                t0 = time.monotonic()
                code, body = d.api("POST", "/api/sessions", {"id": sid})
                if code != 201:
                    raise BenchError(f"creating session {sid}: HTTP {code} {body}")
                return d.wait_status(sid, "SCAN_QR", t0)

            times = list(pool.map(create, ids))
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


# ---------------------------------------------------------------- main


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="target/release/wabridge", help="the wabridge binary")
    ap.add_argument("--out", default="bench-results/sessions.json", help="where to write the JSON")
    ap.add_argument("--sessions", default="1,10", help="comma-separated session counts")
    ap.add_argument("--browser", choices=["auto", "headless-shell", "chromium"],
                    help="passed to `wabridge serve --browser` (default: the daemon's own, auto)")
    ap.add_argument("--timeout", type=float, default=120, help="limit of every wait, in seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temporary dir (logs, profiles)")
    args = ap.parse_args()
    counts = [int(x) for x in args.sessions.split(",") if x.strip()]
    if not counts or min(counts) < 1:
        ap.error("--sessions needs positive counts, e.g. 1,10")
    if not os.access(args.bin, os.X_OK):
        ap.error(f"{args.bin} is not an executable (build it: cargo build --release)")

    bench = Bench(args)
    # SIGTERM (e.g. from CI) takes the same cleanup path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    ok = False
    try:
        info = machine()
        bench.start_sandbox()
        runs = [bench.run(n) for n in counts]
        result = {
            "machine": info,
            "browser": {"mode": args.browser or "auto", "executable": bench.browser_exe},
            "runs": runs,
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"Machine: {info['cores']} cores, {info['mem_gb']} GB RAM; {info['chromium_version'] or 'chromium ?'}; "
              f"browser: {args.browser or 'auto'} ({bench.browser_exe})\n")
        print(table(runs))
        print(f"\nJSON: {out}")
        ok = True
    except BenchError as e:
        log(f"bench failed: {e}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        bench.cleanup()
        if ok and not args.keep:
            shutil.rmtree(bench.tmp, ignore_errors=True)
        else:
            log(f"logs and profiles kept in {bench.tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
