"""The HTTP API fuzzed from its own OpenAPI document (issue 13): schemathesis
reads the running daemon's /openapi.json and generates requests for every
operation, both fitting the schema (positive) and breaking it (negative).
Against the real daemon with the sandbox, one session linked and one
waiting for a scan, so path parameters hit existing sessions, messages,
groups, templates and media as well as made-up ones.

What every response must satisfy:

* no 500, ever; a 502 or 503 only where the operation documents it and in
  its dialect's error shape (WhatsApp refused; the page or session is not
  available), any other 5xx is a failure;
* an answer (headers and the whole body) within WABRIDGE_FUZZ_LIMIT_S
  (10 s): longer is a hang. The event stream (SSE) counts once its headers
  came;
* every 4xx in the error shape of the route's dialect: native
  `{"error": {"code", "message"}}`, open-wa `{"success": false, "error":
  sentence | {name, message, data}}`, Cloud `{"error": {"message", "type",
  "code", "fbtrace_id", ...}}`, Twilio `{"code", "message", "more_info",
  "status"}`. A path that no route serves gets the router's native
  `route_not_found` / `method_not_allowed` whatever the operation it was
  generated for (the one- and two-segment paths are shared);
* without the key, or with a wrong one, a 401 in that shape;
* no panic in the daemon's log.

Bounded: WABRIDGE_FUZZ_EXAMPLES (default 4, about half a minute) examples
per operation and mode, derandomized (the same requests every run); `make
fuzz` runs 200. Path parameters get existing things three times in four,
and the sending operations a body that sends a quarter of the time (their
schemas are loose). Failures are collected, not shrunk, and listed with a
curl line each; the whole record (statuses per operation, failures) goes to
<daemon dir>/fuzz-report-{main,lifecycle}.json.

A kept-alive connection the daemon closed unannounced is retried once on a
new one and counted (`dropped_connections`); the test after the main one
checks that case on its own, deterministically.

What is kept from harming the run or the world:

* lifecycle operations (stop, restart, start, logout, delete; open-wa's
  logout and delete; the EASY `logout` method) never get the real sessions
  in the main run; test_lifecycle_last, the module's last test, fuzzes them
  with the real sessions and then checks the gone sessions answer 404;
* session creation (`POST /api/sessions`, `POST /session/create`) gets the
  existing ids for any id it generates (409, or the existing session), so
  no browser is started for a made-up session; a native create with no id
  (the daemon makes one up) is let through twice, and any session
  the fuzzer made is deleted at once;
* the daemon's outbound HTTP (media URLs, webhooks, status callbacks) goes
  through a proxy that is a closed port on 127.0.0.1 (HTTP(S)_PROXY,
  NO_PROXY for loopback only): no made-up URL is ever contacted off this
  machine.
"""

import base64
import collections
import json
import os
import re
import shlex
import time

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from conftest import KEY, PNG, Daemon, eventually, free_port

EXAMPLES = int(os.environ.get("WABRIDGE_FUZZ_EXAMPLES", "4"))
LIMIT = float(os.environ.get("WABRIDGE_FUZZ_LIMIT_S", "10"))
# Lifecycle operations relaunch or kill browsers: fewer of them.
LIFECYCLE_EXAMPLES = min(EXAMPLES, int(os.environ.get("WABRIDGE_FUZZ_LIFECYCLE_EXAMPLES", "6")))

CONTACT = "15557770000"
LINKED, UNLINKED = "fz1", "fz2"
SESSIONS = (LINKED, UNLINKED)
TEMPLATE = "fz_tpl"
# open-wa's EASY methods; `logout` only in the last test.
EASY_METHODS = ["sendText", "sendImage", "sendFile", "reply", "sendSeen", "getHostNumber", "getConnectionState",
                "isConnected", "checkNumberStatus", "getAllChats", "getAllContacts", "getMe", "healthCheck"]

# (METHOD, path) of the operations that stop, relaunch, unlink or remove a session.
LIFECYCLE = {
    ("POST", "/api/sessions/{id}/start"), ("POST", "/api/sessions/{id}/stop"),
    ("POST", "/api/sessions/{id}/restart"), ("POST", "/api/sessions/{id}/logout"),
    ("DELETE", "/api/sessions/{id}"), ("POST", "/session/{id}/logout"), ("DELETE", "/session/{id}"),
}
CREATE = {("POST", "/api/sessions"), ("POST", "/session/create")}
# The order test_lifecycle_last runs them in: the destroying ones last.
LIFECYCLE_ORDER = [("POST", "/api/sessions/{id}/start"), ("POST", "/api/sessions/{id}/restart"),
                   ("POST", "/api/sessions/{id}/stop"), ("POST", "/api/sessions/{id}/logout"),
                   ("POST", "/session/{id}/logout"), ("DELETE", "/session/{id}"), ("DELETE", "/api/sessions/{id}")]
# Body fields that name a recipient, and one that exists.
RECIPIENTS = {"to": CONTACT, "to_number": CONTACT, "phone": CONTACT, "chat": CONTACT, "chatId": f"{CONTACT}@c.us",
              "To": f"whatsapp:+{CONTACT}", "contactId": f"{CONTACT}@c.us"}
# Bodies that send, with generated text, for a quarter of the positive cases
# of the sending operations: their schemas are loose (Cloud's and Twilio's
# are any object), so generated bodies alone rarely get past validation.
TEXT = st.text(min_size=1, max_size=300)
SEEDS = {
    ("POST", "/api/sessions/{id}/messages"): st.fixed_dictionaries({"to": st.just(CONTACT), "text": TEXT}),
    ("POST", "/message/send"): st.fixed_dictionaries({"session_id": st.just(LINKED), "to_number": st.just(CONTACT), "message": TEXT}),
    ("POST", "/{version}/{phone_number_id}/messages"): st.fixed_dictionaries(
        {"messaging_product": st.just("whatsapp"), "to": st.just(CONTACT), "type": st.just("text"),
         "text": st.fixed_dictionaries({"body": TEXT})}),
    ("POST", "/2010-04-01/Accounts/{account}/Messages.json"): st.fixed_dictionaries(
        {"To": st.just(f"whatsapp:+{CONTACT}"), "Body": TEXT}),
    ("POST", "/{first}/{second}"): st.fixed_dictionaries({"args": st.fixed_dictionaries({"to": st.just(f"{CONTACT}@c.us"), "content": TEXT})}),
    ("POST", "/{method}"): st.fixed_dictionaries({"args": st.fixed_dictionaries({"to": st.just(f"{CONTACT}@c.us"), "content": TEXT})}),
}
EASY_PATHS = {"/{method}", "/{first}/{second}"}
ROUTER_CODES = {"route_not_found", "method_not_allowed"}


# ---- the daemon and the things that exist in it


@pytest.fixture(scope="module")
def daemon():
    dead = free_port()  # nothing listens there: the daemon's only way out
    proxy = f"http://127.0.0.1:{dead}"
    loopback = "127.0.0.1,localhost,::1"
    env = {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "ALL_PROXY": proxy,
           "http_proxy": proxy, "https_proxy": proxy, "all_proxy": proxy,
           "NO_PROXY": loopback, "no_proxy": loopback,
           # open-wa's /session/create waits this long for a QR.
           "WABRIDGE_QR_WAIT": "5",
           # The EASY API's `POST /{method}` names no session.
           "WABRIDGE_DEFAULT_SESSION": LINKED}
    d = Daemon(extra_env=env)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def world(daemon):
    """Two sessions (one linked), messages both ways (one with media), a
    group, a template, a Twilio sid and a Cloud media id: values for the
    path parameters."""
    d = daemon
    d.link_session(LINKED, hooks=[{"url": f"http://127.0.0.1:{free_port()}/hook", "format": "native"}])
    n = d.native()
    r = n.post("/api/sessions", json={"id": UNLINKED})
    assert r.status_code == 201, r.text
    eventually("a QR for the unlinked session", lambda: n.get(f"/api/sessions/{UNLINKED}/qr").status_code == 200)

    text_in = d.inbound(CONTACT, "fuzz hello")
    media_in = d.inbound(CONTACT, "", media={"mimetype": "image/png", "filename": "in.png",
                                            "data": base64.b64encode(PNG).decode()})
    for mid in (text_in, media_in):
        eventually("an inbound message stored", lambda: n.get(f"/api/sessions/{LINKED}/messages/{mid}").status_code == 200)
    r = n.post(f"/api/sessions/{LINKED}/messages", json={"to": CONTACT, "text": "fuzz out"})
    assert r.status_code == 201, r.text
    out = r.json()["id"]
    r = n.post(f"/api/sessions/{LINKED}/groups", json={"subject": "fuzz group", "participants": [CONTACT]})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    r = n.put(f"/api/templates/{TEMPLATE}", json={"body": "Hi {{1}}"})
    assert r.status_code == 200, r.text
    r = n.post(f"/2010-04-01/Accounts/{LINKED}/Messages.json", data={"To": f"whatsapp:+{CONTACT}", "Body": "fuzz twilio"})
    assert r.status_code == 201, r.text
    sid = r.json()["sid"]
    r = n.post(f"/v21.0/{LINKED}/media", files={"file": ("dot.png", PNG, "image/png")},
               data={"messaging_product": "whatsapp", "type": "image/png"})
    assert r.status_code == 200, r.text
    media_id = r.json()["id"]
    deliveries = eventually("a webhook delivery", lambda: n.get(f"/api/sessions/{LINKED}/deliveries").json()["deliveries"], 30)
    did = deliveries[0]["id"]
    return {
        "mids": [text_in, media_in, out], "gid": gid, "sid": sid, "media_id": media_id, "did": did,
    }


def real_values(world, method, path):
    """Existing things, by path parameter name."""
    ids = list(SESSIONS)
    v = {
        "id": ids, "phone_number_id": ids, "account": ids + ["AC" + "0" * 32],
        "mid": world["mids"], "chat": [CONTACT, f"{CONTACT}@c.us", world["gid"]],
        "phone": [CONTACT, f"{CONTACT}@c.us"], "gid": [world["gid"]], "did": [world["did"]],
        "name": [TEMPLATE], "version": ["v21.0"], "sid": [world["sid"]], "media": ["ME" + "0" * 32],
        "media_id": [world["media_id"]], "method": EASY_METHODS,
    }
    if path == "/{first}/{second}":
        if method == "POST":  # open-wa EASY: /{session}/{method}
            v.update(first=ids, second=EASY_METHODS)
        else:  # Cloud media: /{version}/{media_id}
            v.update(first=["v21.0"], second=[world["media_id"]])
    return v


# ---- the document


@pytest.fixture(scope="module")
def doc(daemon):
    r = httpx.get(daemon.url + "/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def schema(doc):
    return schemathesis.openapi.from_dict(doc)


def operations(schema):
    ops = []
    for res in schema.get_all_operations():
        op = res.ok()  # an operation schemathesis cannot read is a failure of the document
        ops.append(op)
    return ops


def dialect(doc, method, path):
    item = doc["paths"][path][method.lower()]
    tags = item.get("tags") or []
    if "open-wa" in tags:
        return "openwa"
    if "cloud" in tags:
        return "cloud"
    if "twilio" in tags:
        return "twilio"
    return "native"


def needs_key(doc, method, path):
    item = doc["paths"][path][method.lower()]
    sec = item.get("security", doc.get("security", []))
    return bool(sec) and {} not in sec


def documented(doc, method, path):
    return set((doc["paths"][path][method.lower()].get("responses") or {}).keys())


# ---- the judge


def shape_problem(kind, status, body):
    """None if `body` is the dialect's error shape, else what is wrong."""
    if not isinstance(body, dict):
        return f"not a JSON object: {body!r:.200}"
    e = body.get("error")
    # The router's own answer to a path or method no route serves.
    if set(body) == {"error"} and isinstance(e, dict) and set(e) == {"code", "message"} and e.get("code") in ROUTER_CODES \
            and status in (404, 405):
        return None
    if kind == "native":
        if set(body) != {"error"} or not isinstance(e, dict) or set(e) != {"code", "message"}:
            return "not {error: {code, message}}"
        if not (isinstance(e["code"], str) and re.fullmatch(r"[a-z][a-z0-9_]*", e["code"])):
            return f"error.code not snake_case: {e['code']!r}"
        if not (isinstance(e["message"], str) and e["message"]):
            return "error.message empty or not a string"
    elif kind == "openwa":
        if body.get("success") is not False:
            return "no success: false"
        if isinstance(e, str):
            if not e:
                return "error is an empty string"
        elif isinstance(e, dict):
            if not (isinstance(e.get("name"), str) and e["name"] and isinstance(e.get("message"), str) and "data" in e):
                return "error object is not {name, message, data}"
        else:
            return "error is neither a sentence nor {name, message, data}"
    elif kind == "cloud":
        if set(body) != {"error"} or not isinstance(e, dict):
            return "not {error: {...}}"
        if not (isinstance(e.get("message"), str) and e["message"] and isinstance(e.get("type"), str)
                and isinstance(e.get("code"), int) and isinstance(e.get("fbtrace_id"), str)):
            return "error is not {message, type, code, fbtrace_id, ...}"
    elif kind == "twilio":
        if not (isinstance(body.get("code"), int) and isinstance(body.get("message"), str) and body["message"]
                and isinstance(body.get("more_info"), str) and body.get("status") == status):
            return "not {code, message, more_info, status} (status equal to the HTTP status)"
    return None


def curl(prep):
    parts = ["curl", "-sS", "-i", "-X", prep.method, prep.url]
    for k, v in prep.headers.items():
        if k.lower() in ("content-length", "accept-encoding", "connection", "user-agent"):
            continue
        parts += ["-H", f"{k}: {v}"]
    body = prep.body
    line = " ".join(shlex.quote(p) for p in parts)
    if body:
        if isinstance(body, str):
            body = body.encode()
        try:
            text = body.decode("utf-8")
            line += " --data-binary " + shlex.quote(text) if "\0" not in text else " --data-binary " + _ansi_c(body)
        except UnicodeDecodeError:
            line += " --data-binary " + _ansi_c(body)
    return line


def _ansi_c(b):
    return "$'" + "".join(chr(c) if 32 <= c < 127 and c not in (39, 92) else f"\\x{c:02x}" for c in b) + "'"


class Judge:
    def __init__(self, daemon, doc):
        self.daemon, self.doc = daemon, doc
        self.http = requests.Session()
        self.http.trust_env = False  # 127.0.0.1 directly, whatever the environment's proxies
        self.failures = collections.OrderedDict()  # key -> {count, example}
        self.statuses = collections.Counter()
        self.by_op = collections.defaultdict(collections.Counter)
        self.cases = 0
        self.unsendable = 0
        self.dropped = []  # labels whose kept-alive connection was gone
        self.slowest = (0.0, "")
        self.created = 0

    def fail(self, label, kind, detail, prep, resp_desc, elapsed):
        key = (label, kind, detail[:120])
        f = self.failures.get(key)
        if f:
            f["count"] += 1
            return
        body = prep.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "backslashreplace")
        self.failures[key] = {
            "count": 1, "operation": label, "kind": kind, "detail": detail,
            "request": {"method": prep.method, "url": prep.url, "headers": dict(prep.headers),
                        "body": body if body is None or len(body) < 4000 else body[:4000] + "…"},
            "response": resp_desc, "elapsed_s": round(elapsed, 2), "curl": curl(prep),
        }

    def send(self, label, kw, method, path, expect_401=False):
        """Sends one request and judges its answer."""
        kind = dialect(self.doc, method, path)
        try:
            prep = self.http.prepare_request(requests.Request(**kw))
        except (ValueError, requests.exceptions.RequestException, UnicodeError):
            self.unsendable += 1  # the client cannot even encode it (a header with a newline, ...)
            return None
        start = time.monotonic()
        for attempt in (1, 2):
            try:
                r = self.http.send(prep, stream=True, timeout=(LIMIT, LIMIT), allow_redirects=False)
                break
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectTimeout):
                self.fail(label, "hang", f"no answer within {LIMIT:g} s", prep, None, time.monotonic() - start)
                return None
            except requests.exceptions.ConnectionError as e:
                if attempt == 1:
                    # A kept-alive connection the daemon closed without saying so
                    # (test_refusal_before_the_body_leaves_the_connection_usable
                    # holds that on its own): once more on a new connection.
                    self.dropped.append(label)
                    self.http.close()
                    start = time.monotonic()
                    continue
                self.fail(label, "connection", f"the connection broke: {e!s:.200}", prep, None, time.monotonic() - start)
                return None
            except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError):
                self.unsendable += 1
                return None
        body = b""
        try:
            if r.headers.get("content-type", "").startswith("text/event-stream"):
                pass  # the stream answered; it goes on forever by design
            else:
                for chunk in r.iter_content(65536):
                    body += chunk
                    if time.monotonic() - start > LIMIT:
                        break
        except requests.exceptions.RequestException as e:
            self.fail(label, "connection", f"the body broke off: {e!s:.200}", prep, {"status": r.status_code}, time.monotonic() - start)
            r.close()
            return None
        finally:
            r.close()
        elapsed = time.monotonic() - start
        self.cases += 1
        self.statuses[r.status_code] += 1
        self.by_op[label][r.status_code] += 1
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, f"{label} -> {r.status_code}")
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        desc = {"status": r.status_code, "headers": {k: v for k, v in r.headers.items() if k.lower() in ("content-type", "retry-after", "www-authenticate")},
                "body": body[:2000].decode("utf-8", "backslashreplace")}
        if elapsed > LIMIT:
            self.fail(label, "hang", f"answered after {elapsed:.1f} s (limit {LIMIT:g} s)", prep, desc, elapsed)
        s = r.status_code
        if s >= 500:
            docd = documented(self.doc, method, path)
            if s == 500:
                self.fail(label, "500", "an internal server error", prep, desc, elapsed)
            elif s in (502, 503) and str(s) in docd:
                p = shape_problem(kind, s, parsed)
                if p:
                    self.fail(label, "error-shape", f"{s} {kind}: {p}", prep, desc, elapsed)
            else:
                self.fail(label, "5xx", f"{s}, not documented for the operation (documents {sorted(docd)})", prep, desc, elapsed)
        elif 400 <= s < 500:
            p = shape_problem(kind, s, parsed)
            if p:
                self.fail(label, "error-shape", f"{s} {kind}: {p}", prep, desc, elapsed)
        if expect_401 and s != 401 and not (s in (404, 405) and isinstance(parsed, dict)
                                            and isinstance(parsed.get("error"), dict)
                                            and parsed["error"].get("code") in ROUTER_CODES):
            self.fail(label, "auth", f"answered {s} without a valid key", prep, desc, elapsed)
        return s

    def panics(self):
        self.daemon.log.flush()
        text = open(self.daemon.log.name, encoding="utf-8", errors="replace").read()
        return [l for l in text.splitlines() if "panicked" in l or "RUST_BACKTRACE" in l]

    def reap(self):
        """Deletes any session the fuzzer made after all."""
        r = self.daemon.native().get("/api/sessions")
        if r.status_code != 200:
            return
        for s in r.json():
            sid = s.get("id") if isinstance(s, dict) else None
            if sid and sid not in SESSIONS:
                self.created += 1
                self.daemon.native().delete(f"/api/sessions/{sid}")

    def report(self, name):
        out = {"examples": EXAMPLES, "limit_s": LIMIT, "cases": self.cases, "unsendable": self.unsendable,
               "statuses": dict(sorted(self.statuses.items())), "slowest": self.slowest,
               "sessions_made_and_deleted": self.created, "dropped_connections": self.dropped,
               "by_operation": {k: dict(sorted(v.items())) for k, v in self.by_op.items()},
               "failures": list(self.failures.values())}
        path = os.path.join(self.daemon.dir, f"fuzz-report-{name}.json")
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
        ops = {k.split(" (")[0] for k in self.by_op}
        print(f"\nfuzz {name}: {len(ops)} operations, {self.cases} requests, statuses {dict(sorted(self.statuses.items()))}, "
              f"slowest {self.slowest[0]:.2f} s ({self.slowest[1]}), {len(self.dropped)} dropped connections, "
              f"{self.created} sessions made and deleted, {len(self.failures)} distinct failures; {path}")
        return out

    def verdict(self, name):
        out = self.report(name)
        panics = self.panics()
        lines = []
        for f in out["failures"]:
            lines.append(f"[{f['kind']}] {f['operation']} x{f['count']}: {f['detail']}\n"
                         f"    response: {json.dumps(f['response'])[:400]}\n    {f['curl'][:1500]}")
        if panics:
            lines.append("panics in the daemon log:\n    " + "\n    ".join(panics[:10]))
        assert not lines, f"{len(out['failures'])} distinct failures:\n" + "\n".join(lines)


# ---- running one operation


def fuzz(judge, op, world, examples, real_ids=True):
    method, path = op.method.upper(), op.path
    label = f"{method} {path}"
    kind = dialect(judge.doc, method, path)
    reals = real_values(world, method, path)
    lifecycle = (method, path) in LIFECYCLE
    probed = []
    fresh = [1, 1]
    current = {}

    def mutate(case, data):
        seed = SEEDS.get((method, path))
        if seed is not None and current["mode"] == GenerationMode.POSITIVE and data.draw(st.integers(0, 3), label="seed") == 0:
            case.body = data.draw(seed, label="seed body")
        for p in list((case.path_parameters or {}).keys()):
            if lifecycle and not real_ids:
                if case.path_parameters[p] in SESSIONS:
                    case.path_parameters[p] = "zz" + case.path_parameters[p]
                continue
            # Mostly existing things: a made-up id only meets the parser.
            if p in reals and data.draw(st.integers(0, 3), label=f"real {p}") < 3:
                case.path_parameters[p] = data.draw(st.sampled_from(reals[p]), label=p)
        # A recipient that exists, in half the bodies that name one.
        for obj in (case.body, case.body.get("args") if isinstance(case.body, dict) else None):
            if not isinstance(obj, dict):
                continue
            for k, v in list(obj.items()):
                if k in RECIPIENTS and isinstance(v, str) and not data.draw(st.booleans(), label=f"real {k}"):
                    obj[k] = RECIPIENTS[k]
        # The EASY `logout` method unlinks: only in the last test.
        for p in ("method", "second"):
            if path in EASY_PATHS and method == "POST" and (case.path_parameters or {}).get(p) == "logout" and not real_ids:
                case.path_parameters[p] = "getMe"
        # Creation gets the existing ids: no browser for a made-up session.
        # A native create without an id makes one up: allowed twice a run
        # (the session is deleted at once), else the existing ids too.
        if (method, path) in CREATE and isinstance(case.body, dict):
            if path == "/api/sessions" and case.body.get("id") is None:
                if fresh:
                    fresh.pop()
                else:
                    case.body["id"] = data.draw(st.sampled_from(SESSIONS), label="id")
            for k in ("id", "session_id", "sessionId"):
                if isinstance(case.body.get(k), str):
                    case.body[k] = data.draw(st.sampled_from(SESSIONS), label=k)

    def run(case, data):
        mutate(case, data)
        kw = case.as_transport_kwargs(base_url=judge.daemon.url, headers={"Authorization": f"Bearer {KEY}"})
        judge.send(label, kw, method, path)
        if (method, path) in CREATE:
            judge.reap()
        if needs_key(judge.doc, method, path) and len(probed) < 2:
            # The same request with no key, then a wrong one.
            for auth in (None, "Bearer wab_wrong"):
                kw2 = case.as_transport_kwargs(base_url=judge.daemon.url)
                h = {k: v for k, v in (kw2.get("headers") or {}).items()
                     if k.lower() not in ("authorization", "x-api-key", "key", "api_key")}
                if auth:
                    h["Authorization"] = auth
                kw2["headers"] = h
                if isinstance(kw2.get("params"), dict):
                    kw2["params"] = {k: v for k, v in kw2["params"].items() if k not in ("key", "api_key")}
                judge.send(label + " (no valid key)", kw2, method, path, expect_401=True)
            probed.append(1)

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        current["mode"] = mode
        strategy = op.as_strategy(generation_mode=mode)
        test = settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                        )(given(case=strategy, data=st.data())(run))
        try:
            test()
        except Unsatisfiable:
            pass  # no request breaks this operation's schema (e.g. no parameters, no body)
        except Exception as e:  # generation failures of schemathesis itself
            if type(e).__module__.startswith("schemathesis"):
                judge.fail(label, "generation", f"{mode.value}: {type(e).__name__}: {e!s:.300}",
                           requests.Request("GET", judge.daemon.url + path).prepare(), None, 0.0)
            else:
                raise


# ---- the tests


def test_fuzz_every_operation(daemon, world, doc, schema):
    judge = Judge(daemon, doc)
    ops = operations(schema)
    assert len(ops) >= 40, [f"{o.method} {o.path}" for o in ops]
    for op in ops:
        fuzz(judge, op, world, EXAMPLES, real_ids=(op.method.upper(), op.path) not in LIFECYCLE)
    judge.reap()
    # Still alive, and the linked session still linked.
    assert httpx.get(daemon.url + "/health", timeout=5).status_code == 200
    judge.verdict("main")


def test_refusal_before_the_body_leaves_the_connection_usable(daemon):
    """What the fuzzer met now and then as a broken connection, made
    certain: a request refused before its body has arrived (no key, no such
    route) must either say `Connection: close` or leave the kept-alive
    connection usable; a client that sends its next request on it (requests,
    httpx, Node's keep-alive agents all do) must get an answer."""
    import socket

    body = b'{"id": "x"}'
    bad = []
    for path, auth in [("/api/sessions", ""), ("/api/sessions", "Authorization: Bearer wab_wrong\r\n"),
                       ("/message/send", ""), ("/v21.0/fz1/messages", ""),
                       ("/2010-04-01/Accounts/fz1/Messages.json", ""),
                       ("/api/sessions/nosuch/stop", f"Authorization: Bearer {KEY}\r\n"), ("/no/such/route/here", "")]:
        s = socket.create_connection(("127.0.0.1", daemon.port), timeout=LIMIT)
        try:
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode())
            s.settimeout(2)
            try:
                first = s.recv(65536)  # answered before the body was sent
            except socket.timeout:
                continue  # this one waits for its body: nothing to judge
            head = first.split(b"\r\n\r\n")[0].lower()
            if b"\r\nconnection: close" in head:
                continue  # the client is told not to reuse it
            s.settimeout(LIMIT)
            try:
                s.sendall(body + b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                second = s.recv(65536)
            except OSError as e:
                second = repr(e).encode()
            if not second.startswith(b"HTTP/1.1 200"):
                status = first.split(b"\r\n")[0].decode()
                bad.append(f"POST {path} {auth.split(':')[0] or '(no key)'} -> {status}, "
                           f"no Connection: close, then the connection was gone ({second[:60]!r})")
        finally:
            s.close()
    assert not bad, "\n".join(bad)


def test_lifecycle_last(daemon, world, doc, schema):
    """The operations that stop, relaunch, unlink or remove sessions, now
    with the real sessions, the destroying ones last; then every one of
    them again on the sessions that are gone."""
    judge = Judge(daemon, doc)
    by_key = {(o.method.upper(), o.path): o for o in operations(schema)}
    for key in LIFECYCLE_ORDER:
        fuzz(judge, by_key[key], world, LIFECYCLE_EXAMPLES, real_ids=True)
    # The EASY API's logout, on both sessions (or what is left of them).
    for sid in SESSIONS:
        kw = {"method": "POST", "url": f"{daemon.url}/{sid}/logout", "json": {"args": {}},
              "headers": {"Authorization": f"Bearer {KEY}"}}
        judge.send("POST /{first}/{second} (logout)", kw, "POST", "/{first}/{second}")
    n = daemon.native()
    for sid in SESSIONS:
        n.delete(f"/api/sessions/{sid}")
    for method, path in LIFECYCLE_ORDER:
        for sid in SESSIONS:
            kw = {"method": method, "url": daemon.url + path.replace("{id}", sid),
                  "headers": {"Authorization": f"Bearer {KEY}"}}
            s = judge.send(f"{method} {path} (gone)", kw, method, path)
            assert s == 404, f"{method} {path} on the deleted session {sid}: {s}"
    assert httpx.get(daemon.url + "/health", timeout=5).status_code == 200
    judge.verdict("lifecycle")
