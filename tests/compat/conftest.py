"""Fixtures for the compatibility tests: the real wabridge binary with its
embedded sandbox (real headless Chromium behind it), and a webhook receiver
on 127.0.0.1."""

import base64
import io
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

KEY = "wab_compat_test_key_0123456789"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("WABRIDGE_BIN", os.path.join(ROOT, "target", "debug", "wabridge"))
ACCOUNT = "15550001111"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def eventually(what, f, limit=60.0):
    start = time.time()
    while True:
        v = f()
        if v:
            return v
        if time.time() - start > limit:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        time.sleep(0.1)


class Sandbox:
    """`wabridge sandbox` in its own process: WhatsApp that stays up while a
    daemon stops and starts around it."""

    def __init__(self, dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(dir, "sandbox.log"), "wb")
        self.proc = subprocess.Popen([BIN, "sandbox", "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        eventually("the sandbox to listen", self._up, 30)

    def _up(self):
        try:
            return httpx.get(self.url + "/_sandbox/messages", params={"account": ACCOUNT}, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# Every data dir the run made: gone once the run passed; kept, with the
# daemons' logs, when something failed.
MADE_DIRS = []


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0:
        import shutil
        for d in MADE_DIRS:
            shutil.rmtree(d, ignore_errors=True)


def made_dir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    MADE_DIRS.append(d)
    return d


class Daemon:
    def __init__(self, extra_env=None, sandbox=None):
        """`sandbox`: a Sandbox to use instead of the embedded one."""
        self.dir = made_dir("wabridge-compat-")
        self.port, self.sb_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox = sandbox.url if sandbox else f"http://127.0.0.1:{self.sb_port}"
        # No send pacing: the tests send in bursts. The tests' receivers run
        # on the daemon's host, where a scoped key's URLs may otherwise not lead.
        self.env = dict(os.environ, WABRIDGE_API_KEY=KEY, WABRIDGE_SEND_PER_MINUTE="0",
                        WABRIDGE_PRIVATE_NETWORKS_FOR_KEYS="1", **(extra_env or {}))
        wa = ["--wa-url", sandbox.url + "/"] if sandbox else \
            ["--sandbox", "--sandbox-listen", f"127.0.0.1:{self.sb_port}"]
        self.argv = [BIN, "serve", *wa,
                     "--listen", f"127.0.0.1:{self.port}", "--data-dir", os.path.join(self.dir, "data"),
                     "--webhook-retry-base-ms", "100", "--webhook-retry-max-ms", "1000"]
        self.log = open(os.path.join(self.dir, "daemon.log"), "wb")
        self._spawn()

    def _spawn(self):
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        eventually("the daemon to listen", self._up, 30)

    def _up(self):
        try:
            return httpx.get(self.url + "/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()

    def restart(self):
        """A new daemon process on the same ports, data dir and arguments
        (after the old one has exited: stop it first)."""
        assert self.proc.poll() is not None, "the daemon is still running"
        if not self.log.closed:
            self.log.close()
        self.log = open(self.log.name, "ab")
        self._spawn()

    def native(self):
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)

    def link_session(self, sid, phone=ACCOUNT, hooks=None):
        """Creates a session through the native API and scans its QR."""
        n = self.native()
        r = n.post("/api/sessions", json={"id": sid, "webhooks": hooks or []})
        assert r.status_code == 201, r.text
        qr = eventually("a QR", lambda: (lambda x: x.json()["qr"] if x.status_code == 200 else None)(n.get(f"/api/sessions/{sid}/qr")))
        self.link(qr, phone)
        eventually("connected", lambda: n.get(f"/api/sessions/{sid}").json()["status"] == "CONNECTED")

    def link(self, qr, phone=ACCOUNT, name="Demo Shop"):
        r = httpx.post(self.sandbox + "/_sandbox/link", json={"qr": qr, "phone": phone, "name": name}, timeout=10)
        assert r.status_code == 200, r.text
        return r

    def inbound(self, frm, text, name="Alice", to=ACCOUNT, media=None, reply_to=None, forwarded=0):
        body = {"from": frm, "to": to, "text": text, "name": name}
        if media:
            body["media"] = media
        if reply_to:
            body["reply_to"] = reply_to
        if forwarded:
            body["forwarded"] = forwarded
        r = httpx.post(self.sandbox + "/_sandbox/messages", json=body, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def sent(self, account=ACCOUNT):
        return httpx.get(self.sandbox + "/_sandbox/messages", params={"account": account}, timeout=10).json()


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every request."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        # path -> f(request) -> (status, content type, body): how to answer
        self.responders = {}
        # path -> (content type, bytes): what GET serves
        self.files = {}
        # path -> f(query dict) -> (status, content type, body): GET answers
        self.get_responders = {}
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n)
                req = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                with outer.lock:
                    outer.requests.append(req)
                    answer = outer.responders.get(self.path)
                status, ctype, out = answer(req) if answer else (200, "text/plain", b"")
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                path, _, query = self.path.partition("?")
                with outer.lock:
                    outer.requests.append({"path": path, "method": "GET", "query": query,
                                           "headers": {k.lower(): v for k, v in self.headers.items()}, "body": b""})
                    answer = outer.get_responders.get(path)
                if answer:
                    import urllib.parse
                    # (status, content type, body[, more headers])
                    status, ctype, out, *more = answer(dict(urllib.parse.parse_qsl(query)))
                    self.send_response(status)
                    for k, v in (more[0] if more else {}).items():
                        self.send_header(k, v)
                    self.send_header("content-type", ctype)
                    self.send_header("content-length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                with outer.lock:
                    f = outer.files.get(self.path)
                if f is None:
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", f[0])
                self.send_header("content-length", str(len(f[1])))
                self.end_headers()
                self.wfile.write(f[1])

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self, path):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["path"] == path]

    def raw(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path and r.get("method") != "GET"]

    def gets(self, path):
        with self.lock:
            return [r for r in self.requests if r["path"] == path and r.get("method") == "GET"]

    def close(self):
        self.server.shutdown()


def decode_qr(data_url):
    """What a person does with the QR image: scan it."""
    import zxingcpp
    from PIL import Image

    assert data_url.startswith("data:image/png;base64,"), data_url[:40]
    img = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    found = zxingcpp.read_barcodes(img)
    assert found, "no QR code in the image"
    return found[0].text


# A 1x1 PNG, for media both ways.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def daemon():
    """One daemon per test module (each module is one client's world)."""
    d = Daemon()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()
