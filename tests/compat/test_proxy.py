"""A proxy per session, against a real authenticating proxy on 127.0.0.1
(proxy.py from PyPI): the session with a proxy links and messages with all
its browser traffic through it (loopback included), a session without one
never touches it, wrong credentials or a dead proxy are a clear
PROXY_FAILED, and the password shows in no answer and no log."""

import os
import socket
import subprocess
import sys

import httpx

from conftest import ACCOUNT, Daemon, eventually, free_port, made_dir

PASSWORD = "s3cret-proxy-pw"


class Proxy:
    def __init__(self, user="alice", password=PASSWORD, port=None):
        self.port = port or free_port()
        self.dir = made_dir("wabridge-proxy-")
        exe = os.path.join(os.path.dirname(sys.executable), "proxy")
        self.log = open(os.path.join(self.dir, "proxy.log"), "wb")
        auth = ["--basic-auth", f"{user}:{password}"] if user else []
        self.proc = subprocess.Popen(
            [exe, "--hostname", "127.0.0.1", "--port", str(self.port), *auth,
             "--num-workers", "1", "--num-acceptors", "1", "--data-dir", self.dir],
            stdout=self.log, stderr=subprocess.STDOUT)
        eventually("the proxy to listen", self._up, 30)

    def _up(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def url(self, user="alice", password=PASSWORD):
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def status(n, sid):
    return n.get(f"/api/sessions/{sid}").json()


def link(d, n, sid, phone):
    qr = eventually(f"a QR for {sid}", lambda: (lambda x: x.json()["qr"] if x.status_code == 200 else None)(
        n.get(f"/api/sessions/{sid}/qr")))
    d.link(qr, phone)
    eventually(f"{sid} connected", lambda: status(n, sid)["status"] == "CONNECTED")


def test_a_session_runs_behind_its_own_authenticated_proxy():
    proxy = Proxy()
    d = Daemon()
    try:
        n = d.native()
        r = n.post("/api/sessions", json={"id": "px", "proxy": proxy.url()})
        assert r.status_code == 201, r.text
        assert r.json()["proxy"] == f"http://alice:***@127.0.0.1:{proxy.port}", r.text
        link(d, n, "px", ACCOUNT)
        r = n.post("/api/sessions", json={"id": "direct"})
        assert r.status_code == 201, r.text
        link(d, n, "direct", "15550001112")

        # Messages flow both ways through the proxy.
        sent = n.post("/api/sessions/px/messages", json={"to": "15557770011", "text": "via the proxy"})
        assert sent.status_code == 201, sent.text
        mid = d.inbound("15557770011", "hello through the proxy")
        eventually("the inbound message", lambda: n.get(f"/api/sessions/px/messages/{mid}").status_code == 200)

        # All of the proxied session's traffic goes through it: with the
        # proxy gone it loses WhatsApp; the session without one does not.
        proxy.stop()
        httpx.post(d.sandbox + "/_sandbox/drop", timeout=10)
        eventually("the proxied session cut off", lambda: status(n, "px")["status"] != "CONNECTED", 60)
        eventually("the direct session back", lambda: status(n, "direct")["status"] == "CONNECTED", 60)
        # The direct one reconnected; the proxied one cannot.
        assert status(n, "px")["status"] != "CONNECTED"

        # Restarted while its proxy is down, the linked session says
        # PROXY_FAILED, and keeps trying (DISCONNECTED, not given up):
        # back, linked, once the proxy is.
        assert n.post("/api/sessions/px/restart").status_code < 300
        s = eventually("PROXY_FAILED", lambda: (lambda s: s if s.get("error_code") == "PROXY_FAILED" else None)(status(n, "px")), 60)
        assert s["status"] == "DISCONNECTED" and s["me"], s
        proxy = Proxy(port=proxy.port)
        s = eventually("back through the proxy", lambda: (lambda s: s if s["status"] == "CONNECTED" else None)(status(n, "px")), 90)
        assert s["me"]["phone"] == ACCOUNT, s

        # The password is in no answer and no log.
        for path in ["/api/sessions", "/api/sessions/px", "/sessions"]:
            assert PASSWORD not in n.get(path).text, path
    finally:
        d.stop()
        proxy.stop()
    with open(os.path.join(d.dir, "daemon.log"), "rb") as f:
        log = f.read().decode("utf-8", "replace")
    assert PASSWORD not in log


def test_wrong_credentials_or_a_dead_proxy_are_proxy_failed():
    proxy = Proxy()
    d = Daemon()
    try:
        n = d.native()
        r = n.post("/api/sessions", json={"id": "wrong", "proxy": proxy.url(password="not-it")})
        assert r.status_code == 201, r.text
        s = eventually("PROXY_FAILED", lambda: (lambda s: s if s["status"] == "FAILED" else None)(status(n, "wrong")), 60)
        assert s["error_code"] == "PROXY_FAILED", s
        assert "refused" in s["error"], s
        assert "not-it" not in str(s)

        # A proxy that wants credentials, given none: said so, not served
        # its 407 as the page.
        r = n.post("/api/sessions", json={"id": "bare", "proxy": f"http://127.0.0.1:{proxy.port}"})
        assert r.status_code == 201, r.text
        s = eventually("PROXY_FAILED", lambda: (lambda s: s if s["status"] == "FAILED" else None)(status(n, "bare")), 60)
        assert s["error_code"] == "PROXY_FAILED", s
        assert "asks for a user and password" in s["error"], s
        # One that wants none serves as before.
        open_proxy = Proxy(user=None)
        try:
            r = n.post("/api/sessions", json={"id": "open", "proxy": f"http://127.0.0.1:{open_proxy.port}"})
            assert r.status_code == 201, r.text
            eventually("a QR through the open proxy", lambda: status(n, "open")["status"] == "SCAN_QR", 60)
        finally:
            open_proxy.stop()

        dead = free_port()
        r = n.post("/api/sessions", json={"id": "dead", "proxy": f"http://127.0.0.1:{dead}"})
        assert r.status_code == 201, r.text
        s = eventually("PROXY_FAILED", lambda: (lambda s: s if s["status"] == "FAILED" else None)(status(n, "dead")), 60)
        assert s["error_code"] == "PROXY_FAILED", s
        assert "PROXY" in s["error"], s
        # Still said once its driver is gone (a stop; a restart reads the same record).
        assert n.post("/api/sessions/dead/stop").status_code == 200
        s = status(n, "dead")
        assert (s["status"], s.get("error_code")) == ("FAILED", "PROXY_FAILED"), s

        # Fixed with PATCH: the browser restarts on the right proxy and the
        # session shows its QR (a new session links as usual).
        r = n.patch("/api/sessions/wrong", json={"proxy": proxy.url()})
        assert r.status_code == 200, r.text
        r = n.post("/api/sessions/wrong/start")
        eventually("a QR through the proxy", lambda: status(n, "wrong")["status"] == "SCAN_QR", 60)

        # Bad input: a clear 422.
        for bad in ["ftp://x:1", "socks5://u:p@127.0.0.1:1080", "not a url"]:
            r = n.post("/api/sessions", json={"id": "bad", "proxy": bad})
            assert r.status_code == 422, (bad, r.text)
            assert r.json()["error"]["code"] == "invalid_field"
    finally:
        d.stop()
        proxy.stop()
