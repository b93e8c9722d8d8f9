"""Chaos: faults in the middle of a burst of inbound messages (a few
contacts write through the sandbox) and of sends (native API, each with an
Idempotency-Key, retried with the same key as a client would while the
outcome is unknown), and every case ends with the same count:

    messages in (injected inbound + sends answered 2xx)
      = messages stored (the session's history, paged)
      = deliveries acknowledged by the webhook receiver (one per event id),

with no inbound message lost or stored twice, no send stored or sent twice,
and the sandbox (WhatsApp's side) agreeing with the store on what went out.

Two kinds of send are outside "messages in": a send answered 503 (the
browser died mid-call) whose key the daemon keeps reserved (409
idempotency_in_progress) for two minutes, longer than a case runs, stays
"unknown" and counts as in when WhatsApp has it (it must then be stored
once); and the local copy WhatsApp Web keeps of a send that failed (ack
"failed", answered 502 and retried) is neither in nor stored, though its
webhook event is delivered like any other.

Each case has its own daemon and data dir; its log is `<dir>/daemon.log`
(named in every assertion message). `pytest -s` prints the counts."""

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from conftest import ACCOUNT, Daemon, Sandbox, eventually

CONTACTS = [f"1555810{i:04d}" for i in range(4)]
# Both bursts run until the case's faults are over, and at least this far:
N_IN = 60  # inbound messages, ten a second from the four contacts
N_OUT = 40  # sends, back to back from two client threads (so a fault finds one mid-call)


class Hook:
    """A webhook receiver on 127.0.0.1. Answers 200 at once, or, while
    `flap` is set, cycles through phases: "200", "503" and "hang" (holds the
    request longer than the daemon's webhook timeout, then answers 503 to no
    one). Only answers given in a 200 phase count as acknowledged."""

    def __init__(self, hang_s=0.0):
        self.hang_s = hang_s
        self.flap = None  # [(phase, seconds), ...] cycled from flap_t0
        self.flap_t0 = time.monotonic()
        self.lock = threading.Lock()
        # (event id, message id, phase answered in)
        self.got = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    v = json.loads(body)
                except ValueError:
                    v = {}
                evt = self.headers.get("webhook-id") or v.get("id")
                mid = (v.get("payload") or {}).get("id")
                phase = outer.phase()
                with outer.lock:
                    outer.got.append((evt, mid, phase))
                if phase == "hang":
                    time.sleep(outer.hang_s)
                try:
                    self.send_response(200 if phase == "200" else 503)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the daemon gave up on a hanging answer

            def log_message(self, *a):
                pass

        class S(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, *a):
                pass

        self.server = S(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def phase(self):
        flap = self.flap
        if not flap:
            return "200"
        t = (time.monotonic() - self.flap_t0) % sum(s for _, s in flap)
        for p, s in flap:
            if t < s:
                return p
            t -= s
        return flap[-1][0]

    def acked(self):
        """Event id -> how many times it was acknowledged; and message ids acknowledged."""
        with self.lock:
            ok = [(e, m) for e, m, p in self.got if p == "200"]
        return Counter(e for e, _ in ok), {m for _, m in ok}

    def close(self):
        self.server.shutdown()


class Case:
    """One chaos case: a daemon with one linked session and a webhook, the
    two bursts, and the count at the end."""

    def __init__(self, name, daemon, hook, sid):
        self.name, self.d, self.hook, self.sid = name, daemon, hook, sid
        self.nonce = uuid.uuid4().hex[:6]
        self.lock = threading.Lock()
        self.injected = {}  # sandbox message id -> text
        self.inject_errors = 0
        # Idempotency-Key -> {text, to, answers: [...], outcome: acked|unknown|refused|None, id}
        self.sends = {}
        self.stop_retrying = threading.Event()
        self.faults_over = threading.Event()
        self.sharing = 2  # sender threads still taking new keys
        self.in_flight = {}  # Idempotency-Key -> when its request went out
        self.threads = []
        self.started = time.monotonic()
        daemon.link_session(sid, hooks=[{"url": hook.url, "events": ["message.any"],
                                         "retries": {"attempts": 100}}])

    def log(self):
        return self.d.log.name

    # ---- the bursts

    def start_bursts(self):
        self.threads = [threading.Thread(target=self._inject, daemon=True)]
        for t in range(2):
            self.threads.append(threading.Thread(target=self._send_share, args=(t,), daemon=True))
        for t in self.threads:
            t.start()

    def _inject(self):
        with httpx.Client(timeout=10) as c:
            i = 0
            while i < N_IN or not self.faults_over.is_set():
                frm = CONTACTS[i % len(CONTACTS)]
                text = f"{self.name} {self.nonce} in {i}"
                while True:
                    try:
                        r = c.post(self.d.sandbox + "/_sandbox/messages",
                                   json={"from": frm, "to": ACCOUNT, "text": text, "name": f"Contact {frm[-1]}"})
                        if r.status_code == 201:
                            with self.lock:
                                self.injected[r.json()["id"]] = text
                            break
                    except httpx.HTTPError:
                        pass
                    with self.lock:
                        self.inject_errors += 1
                    # settle() gave up waiting (the sandbox is gone): end,
                    # so the test fails with its counts instead of hanging.
                    if self.stop_retrying.is_set():
                        return
                    time.sleep(0.2)
                time.sleep(0.1)
                i += 1

    def _send_share(self, t):
        parked = []
        with self.d.native() as c:
            i = t
            while i < N_OUT or not self.faults_over.is_set():
                key = f"{self.name}-{self.nonce}-{i}"
                s = {"text": f"{self.name} {self.nonce} out {i}", "to": CONTACTS[i % len(CONTACTS)],
                     "answers": [], "outcome": None, "id": None}
                with self.lock:
                    self.sends[key] = s
                if not self._send(c, key, s):
                    parked.append((key, s))
                time.sleep(0.02)
                i += 2
            with self.lock:
                self.sharing -= 1
            # Keys the daemon keeps reserved: asked again now and then.
            while parked:
                if self.stop_retrying.is_set():
                    with self.lock:
                        for _, s in parked:
                            s["outcome"] = "unknown"
                    return
                time.sleep(1.0)
                parked = [(k, s) for k, s in parked if self._attempt(c, k, s) == "parked"]

    def _attempt(self, c, key, s):
        """One request: "done" (a final answer), "parked" (the key is
        reserved: outcome unknown) or "retry"."""
        with self.lock:
            self.in_flight[key] = time.monotonic()
        try:
            r = c.post(f"/api/sessions/{self.sid}/messages", json={"to": s["to"], "text": s["text"]},
                       headers={"Idempotency-Key": key}, timeout=40)
            code = r.status_code
            err = None
            if code >= 400:
                try:
                    err = r.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    err = "?"
        except httpx.TransportError as e:
            code, err = None, type(e).__name__
        with self.lock:
            del self.in_flight[key]
            s["answers"].append(f"{code}:{err}" if err else str(code))
        if code is not None and 200 <= code < 300:
            with self.lock:
                s["outcome"], s["id"] = "acked", r.json()["id"]
            return "done"
        if code == 409 and err == "idempotency_in_progress":
            return "parked"
        if code is None or code >= 500 or code == 429 or (code == 409 and err == "session_not_ready"):
            return "retry"
        with self.lock:
            s["outcome"] = "refused"
        return "done"

    def _send(self, c, key, s):
        """As a client does: the same key again until the answer is final.
        False if the key is left reserved (retried later)."""
        delay = 0.2
        while True:
            a = self._attempt(c, key, s)
            if a != "retry":
                return a == "done"
            if self.stop_retrying.is_set():
                with self.lock:
                    s["outcome"] = "unknown"
                return True
            if s["answers"][-1].startswith("None:"):
                # Down: a client behind a readiness check waits for /ready.
                deadline = time.monotonic() + 90
                while not self._ready() and time.monotonic() < deadline and not self.stop_retrying.is_set():
                    time.sleep(0.2)
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _ready(self):
        try:
            return httpx.get(self.d.url + "/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def send_in_flight(self, limit=30.0):
        """Waits until a send's request has been in the daemon for a moment
        (so a fault now catches it mid-send)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            with self.lock:
                now = time.monotonic()
                if any(now - t > 0.005 for t in self.in_flight.values()):
                    return
            time.sleep(0.001)
        raise AssertionError(f"{self.name}: no send in flight within {limit}s")

    def settle(self, limit=90.0):
        """Ends the bursts and waits for them. A send whose key stays reserved
        (409 idempotency_in_progress: the daemon keeps it two minutes after
        an unknown outcome) is left as unknown once nothing else is pending."""
        self.faults_over.set()
        deadline = time.monotonic() + limit
        while any(t.is_alive() for t in self.threads):
            with self.lock:
                injecting = self.threads[0].is_alive()
                pending = [s for s in self.sends.values() if s["outcome"] is None]
                stuck = all(s["answers"] and s["answers"][-1] == "409:idempotency_in_progress" for s in pending)
                queued = self.sharing > 0
            if (pending and stuck and not injecting and not queued) or time.monotonic() > deadline:
                self.stop_retrying.set()
            time.sleep(0.2)
        for t in self.threads:
            t.join()

    # ---- the count

    def stored(self):
        msgs, before = [], None
        with self.d.native() as c:
            while True:
                params = {"limit": 500, **({"before": before} if before else {})}
                r = c.get(f"/api/sessions/{self.sid}/messages", params=params)
                assert r.status_code == 200, r.text
                v = r.json()
                msgs += v["messages"]
                before = v.get("next")
                if not before:
                    return msgs

    def sandbox_out(self):
        r = httpx.get(self.d.sandbox + "/_sandbox/messages", params={"account": ACCOUNT}, timeout=10)
        assert r.status_code == 200, r.text
        return [m for m in r.json() if m.get("from_me")]

    def check(self):
        acked = {k: s for k, s in self.sends.items() if s["outcome"] == "acked"}
        unknown = {k: s for k, s in self.sends.items() if s["outcome"] == "unknown"}
        refused = {k: s for k, s in self.sends.items() if s["outcome"] == "refused"}
        ours = {s["text"] for s in self.sends.values()}

        def snapshot():
            msgs = self.stored()
            return msgs, self.sandbox_out(), self.hook.acked()

        def converged():
            msgs, sb, (_, hook_mids) = snapshot()
            ids = {m["id"] for m in msgs}
            inbound = {m["id"] for m in msgs if not m["from_me"]}
            good_out = sorted(m["text"] for m in msgs if m["from_me"] and m["ack"] != "failed")
            ok = set(self.injected) <= inbound and all(s["id"] in ids for s in acked.values()) \
                and ids <= hook_mids and sorted(m["text"] for m in sb) == good_out
            return ok

        try:
            eventually(f"{self.name}: store, sandbox and receiver to agree", converged, 90)
        except AssertionError:
            pass  # the count below says what is missing
        time.sleep(1.5)  # room for a late duplicate
        msgs, sb, (hook_count, hook_mids) = snapshot()

        inbound = [m for m in msgs if not m["from_me"]]
        outbound = [m for m in msgs if m["from_me"]]
        failed = [m for m in outbound if m["ack"] == "failed"]
        good_out = [m for m in outbound if m["ack"] != "failed"]
        stored_text = Counter(m["text"] for m in good_out)
        sandbox_text = Counter(m["text"] for m in sb)
        by_id = {m["id"]: m for m in msgs}
        unknown_out = {s["text"] for s in unknown.values()} & set(sandbox_text)

        counts = {
            "in": len(self.injected) + len(acked),
            "injected": len(self.injected), "sent_2xx": len(acked),
            "send_unknown": len(unknown), "send_unknown_went_out": len(unknown_out),
            "send_refused": len(refused), "send_retried": sum(len(s["answers"]) > 1 for s in self.sends.values()),
            "stored": len(inbound) + len(good_out), "stored_in": len(inbound), "stored_out": len(good_out),
            "stored_failed": len(failed),
            "hook_acked": sum(1 for m in hook_mids if m in by_id and not (by_id[m]["from_me"] and by_id[m]["ack"] == "failed")),
            "hook_acked_events": len(hook_count), "hook_requests": len(self.hook.got),
            "sandbox_out": len(sb), "inject_errors": self.inject_errors,
        }
        retried = Counter(a for s in self.sends.values() if len(s["answers"]) > 1 for a in s["answers"])
        print(f"\n[chaos] {self.name}: {counts} ({time.monotonic() - self.started:.1f}s) log: {self.log()}"
              f"\n[chaos] {self.name}: answers to retried sends {dict(retried)}")
        why = f"{self.name}: counts {counts}; daemon log {self.log()}"
        answers = {k: s["answers"] for k, s in self.sends.items() if len(s["answers"]) > 1}

        # Inbound: each injected message stored, once; nothing else.
        missing_in = sorted(set(self.injected) - {m["id"] for m in inbound})
        extra_in = sorted({m["id"] for m in inbound} - set(self.injected))
        assert not missing_in, f"inbound lost: {missing_in[:5]}; {why}"
        assert not extra_in, f"inbound not injected: {extra_in[:5]}; {why}"
        assert len(inbound) == len({m["text"] for m in inbound}), f"an inbound message stored twice; {why}"
        # Sends: nothing refused; each acknowledged one stored under its id, once, and at WhatsApp once.
        assert not refused, f"sends refused: { {k: s['answers'] for k, s in refused.items()} }; {why}"
        for k, s in acked.items():
            m = by_id.get(s["id"])
            assert m is not None and m["text"] == s["text"], f"send {k} answered 2xx ({s['id']}) but not stored; {why}"
        twice = {t: n for t, n in stored_text.items() if n > 1}
        assert not twice, f"sent messages stored twice: {twice}; answers {answers}; {why}"
        twice = {t: n for t, n in sandbox_text.items() if n > 1}
        assert not twice, f"sent twice to WhatsApp: {twice}; answers {answers}; {why}"
        assert set(stored_text) <= ours, f"outbound messages no one sent: {set(stored_text) - ours}; {why}"
        lost = {s["text"] for s in acked.values()} - set(sandbox_text)
        assert not lost, f"sends answered 2xx that WhatsApp never got: {lost}; {why}"
        # The sandbox agrees with the store on what went out, message by message.
        assert set(sandbox_text) == set(stored_text), \
            f"sandbox vs store: only sandbox {set(sandbox_text) - set(stored_text)}, " \
            f"only store {set(stored_text) - set(sandbox_text)}; {why}"
        assert {m["id"] for m in sb} == {m["id"] for m in good_out}, f"sandbox and store ids differ; {why}"
        # A send the client never saw succeed went out only if its outcome was left unknown.
        surprise = set(stored_text) - {s["text"] for s in acked.values()} - {s["text"] for s in unknown.values()}
        assert not surprise, f"sends that went out though the client was told they failed: {surprise}; answers {answers}; {why}"
        # Webhook: each event acknowledged once, one per stored message.
        again = {e: n for e, n in hook_count.items() if n > 1}
        assert not again, f"deliveries acknowledged twice: {again}; {why}"
        assert set(by_id) == hook_mids, \
            f"receiver vs store: never acknowledged {sorted(set(by_id) - hook_mids)[:5]}, " \
            f"not stored {sorted(hook_mids - set(by_id))[:5]}; {why}"
        # The count.
        assert counts["in"] + counts["send_unknown_went_out"] == counts["stored"] == counts["hook_acked"], why
        return counts


def browser_pids(d, sid):
    """The session's Chromium: the daemon's child processes whose command
    line names the session's profile (src/session/browser.rs launches it
    with --user-data-dir=<data dir>/sessions/<id>/profile)."""
    profile = f"--user-data-dir={os.path.join(d.dir, 'data', 'sessions', sid, 'profile')}".encode()
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z" or int(fields[1]) != d.proc.pid:
                continue
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if profile in cmd:
            out.append(int(p))
    return out


def status(d, sid):
    try:
        with d.native() as c:
            return c.get(f"/api/sessions/{sid}", timeout=5).json().get("status")
    except (httpx.HTTPError, ValueError):
        return None


def some_through(case, n=10):
    """Waits until the burst is under way: n messages stored."""
    eventually(f"{case.name}: the burst under way", lambda: len(case.hook.acked()[1]) >= n, 60)


@pytest.fixture
def hook():
    h = Hook(hang_s=2.0)
    yield h
    h.close()


def test_browser_killed_during_the_bursts(hook):
    d = Daemon()
    try:
        case = Case("kill9", d, hook, "chaos1")
        case.start_bursts()
        some_through(case)
        for _ in range(2):
            case.send_in_flight()
            [pid] = browser_pids(d, case.sid)
            os.kill(pid, signal.SIGKILL)
            eventually("a new browser, connected", lambda: status(d, case.sid) == "CONNECTED"
                       and browser_pids(d, case.sid) not in ([], [pid]), 60)
            time.sleep(1.0)
        case.settle()
        case.check()
    finally:
        d.stop()


def test_sandbox_connection_dropped_during_the_bursts(hook):
    d = Daemon()
    try:
        case = Case("drop", d, hook, "chaos2")
        case.start_bursts()
        some_through(case)
        for _ in range(5):
            case.send_in_flight()
            r = httpx.post(d.sandbox + "/_sandbox/drop", timeout=10)
            assert r.status_code == 200 and r.json()["dropped"] >= 1, r.text
            time.sleep(1.3)  # the page reconnects after a second
            eventually("connected again", lambda: status(d, case.sid) == "CONNECTED", 60)
        case.settle()
        case.check()
    finally:
        d.stop()


def test_daemon_sigterm_under_load_and_restart(hook, tmp_path):
    # WhatsApp (the sandbox) stays up while the daemon stops and starts.
    sb = Sandbox(str(tmp_path))
    d = Daemon(sandbox=sb)
    try:
        case = Case("sigterm", d, hook, "chaos3")
        case.start_bursts()
        some_through(case)
        case.send_in_flight()
        t0 = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(45)
        except Exception:
            d.proc.kill()
            raise AssertionError(f"the daemon did not exit within 45 s of SIGTERM; log {d.log.name}")
        took = time.monotonic() - t0
        print(f"\n[chaos] sigterm: exited {rc} after {took:.1f}s")
        assert rc == 0, f"exit status {rc}; log {d.log.name}"
        time.sleep(0.5)  # inbound keeps arriving at WhatsApp meanwhile
        d.restart()
        eventually("connected after the restart", lambda: status(d, case.sid) == "CONNECTED", 60)
        case.settle()
        case.check()
    finally:
        d.stop()
        sb.stop()


def test_webhook_receiver_flapping_during_the_bursts(hook):
    # The daemon waits 1.5 s for an answer; a hanging receiver holds 2 s.
    # (The receiver counts a 200 as it decides on it: a wait much shorter
    # than a busy machine's stall of its thread would see one answer late,
    # retried and acknowledged twice.)
    d = Daemon(extra_env={"WABRIDGE_WEBHOOK_TIMEOUT_MS": "1500"})
    try:
        case = Case("flap", d, hook, "chaos4")
        hook.flap_t0 = time.monotonic()
        hook.flap = [("200", 1.0), ("503", 0.7), ("hang", 1.2)]
        case.start_bursts()
        # The inbound burst, all of it against the flapping receiver.
        eventually("the inbound burst", lambda: len(case.injected) >= N_IN, 60)
        phases = Counter(p for _, _, p in hook.got)
        hook.flap = None  # then it stays up: everything must arrive
        case.settle()
        counts = case.check()
        assert phases["503"] and phases["hang"], f"the receiver never flapped: {phases}; {counts}"
        print(f"[chaos] flap: answers during the burst {dict(phases)}")
    finally:
        d.stop()


# ---------------------------------------------------------------------------
# Case 5: disk full (the data dir on a small tmpfs). To be added here, on the
# same pattern: a Daemon whose data dir (`<d.dir>/data`) is the tmpfs,
# `case = Case(...)`, `case.start_bursts()`, the fault, `case.settle()`,
# `case.check()`.
