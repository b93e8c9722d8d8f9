"""Operations, judged by the ecosystem's own parsers: /metrics by the
Prometheus client library's text parser, /health and /ready as a probe
sees them."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import KEY, Daemon, eventually


@pytest.fixture(scope="module")
def daemon():
    d = Daemon()
    yield d
    d.stop()


def scrape(daemon):
    r = daemon.native().get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_health_and_ready_need_no_key(daemon):
    assert httpx.get(daemon.url + "/health").json() == {"status": "ok"}
    r = httpx.get(daemon.url + "/ready")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"
    assert r.json()["store"] == "ok"


def test_metrics_want_the_key(daemon):
    assert httpx.get(daemon.url + "/metrics").status_code == 401
    r = httpx.get(daemon.url + "/metrics", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_counters_move_when_messages_flow(daemon):
    daemon.link_session("ops", hooks=[])
    before = scrape(daemon)
    assert value(before, "wabridge_sessions", status="CONNECTED") == 1
    assert value(before, "wabridge_sessions", status="FAILED") == 0
    assert value(before, "wabridge_browser_launches_total", session="ops") >= 1

    for i in range(3):
        daemon.inbound("15557770000", f"metric {i}")
    n = daemon.native()
    r = n.post("/api/sessions/ops/messages", json={"to": "15557770000", "text": "out"})
    assert r.status_code in (200, 201), r.text

    def moved():
        s = scrape(daemon)
        got_in = value(s, "wabridge_messages_total", session="ops", direction="in")
        got_out = value(s, "wabridge_messages_total", session="ops", direction="out")
        return s if got_in - value(before, "wabridge_messages_total", session="ops", direction="in") >= 3 and got_out >= 1 else None

    after = eventually("message counters to move", moved, 30)
    # Requests are counted by route pattern, never by raw path.
    assert value(after, "wabridge_http_requests_total", route="/api/sessions/{id}/messages", method="POST", status="201") + \
        value(after, "wabridge_http_requests_total", route="/api/sessions/{id}/messages", method="POST", status="200") >= 1
    assert not any("ops/messages" in dict(l).get("route", "") for (_, l) in after)
    # The send went through the page: its latency histogram has a count.
    assert any(name == "wabridge_page_call_seconds_count" and v >= 1 for (name, _), v in after.items())
    assert value(after, "wabridge_outbox_deliveries", state="dead") == 0


def test_a_deleted_sessions_series_leave(daemon):
    daemon.link_session("brief", phone="15550009999", hooks=[])
    daemon.inbound("15557770001", "counted", to="15550009999")
    eventually("its counters", lambda: value(scrape(daemon), "wabridge_messages_total", session="brief", direction="in") >= 1, 30)
    assert daemon.native().delete("/api/sessions/brief").status_code in (200, 204)
    left = [l for (_, l) in scrape(daemon) if dict(l).get("session") == "brief"]
    assert left == [], left


def test_openapi_document_validates_as_3_1(daemon):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    r = httpx.get(daemon.url + "/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    validate(doc, cls=OpenAPIV31SpecValidator)
    # Each dialect is there.
    for p in ["/api/sessions", "/session/create", "/{version}/{phone_number_id}/messages",
              "/2010-04-01/Accounts/{account}/Messages.json", "/metrics", "/ready"]:
        assert p in doc["paths"], p
    # The docs page is served from the binary and points at the document.
    page = httpx.get(daemon.url + "/docs")
    assert page.status_code == 200 and "docs.js" in page.text


def test_json_logs_carry_no_secrets():
    """WABRIDGE_LOG_FORMAT=json: one JSON object per line, and at info level
    no key, message text or QR string."""
    import json

    d = Daemon(extra_env={"WABRIDGE_LOG_FORMAT": "json"})
    try:
        n = d.native()
        assert n.post("/api/sessions", json={"id": "logs"}).status_code == 201
        qr = eventually("a QR", lambda: (lambda x: x.json()["qr"] if x.status_code == 200 else None)(n.get("/api/sessions/logs/qr")))
        d.link(qr)
        eventually("connected", lambda: n.get("/api/sessions/logs").json()["status"] == "CONNECTED")
        d.inbound("15557770001", "secret inbound words")
        r = n.post("/api/sessions/logs/messages", json={"to": "15557770001", "text": "secret outbound words"})
        assert r.status_code == 201, r.text
        eventually("the inbound message stored", lambda: any(
            m.get("text") == "secret inbound words" for m in n.get("/api/sessions/logs/messages").json()["messages"]))
    finally:
        d.stop()
    text = open(d.log.name, encoding="utf-8").read()
    lines = [l for l in text.splitlines() if l.strip()]
    assert lines, "the daemon logged nothing"
    for l in lines:
        obj = json.loads(l)  # every line is one JSON object
        assert obj["level"] in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR"), obj
    for secret in (KEY, qr, "secret inbound words", "secret outbound words"):
        assert secret not in text, f"the log carries a secret: {secret[:12]}..."
    assert "\x1b[" not in text, "colour codes in a log that is not a terminal"
