"""Meta Cloud API compatibility, judged by pywa: its client (pointed at
wabridge) sends, uploads and downloads; its webhook side answers the
subscription handshake, verifies X-Hub-Signature-256 and parses every update
strictly. Real daemon, real headless Chromium, the sandbox."""

import base64
import time

import httpx
import pytest
from pywa import WhatsApp, errors, types
from pywa.types.templates import BodyText, TemplateLanguage

from conftest import ACCOUNT, KEY, PNG, Receiver, eventually

CONTACT = "15551234567"
APP_SECRET = "app-secret-0123456789"


class Backend:
    """A Cloud API backend as pywa users write one."""

    def __init__(self, daemon, receiver, token=KEY, phone_id="shop1"):
        self.wa = WhatsApp(phone_id=phone_id, token=token, verify_token="vt", app_secret=APP_SECRET, api_version="21.0")
        self.wa.api._session.base_url = daemon.url + "/v21.0"
        self.messages, self.statuses, self.buttons, self.selections, self.rejected = [], [], [], [], []
        wa = self.wa
        wa.on_message()(lambda _, m: self.messages.append(m))
        wa.on_message_status()(lambda _, s: self.statuses.append(s))
        wa.on_callback_button()(lambda _, b: self.buttons.append(b))
        wa.on_callback_selection()(lambda _, s: self.selections.append(s))

        def challenge(q):
            body, status = wa.webhook_challenge_handler(q.get("hub.verify_token"), q.get("hub.challenge"))
            return status, "text/plain", str(body).encode()

        def update(req):
            bad = wa.webhook_update_validator(req["body"], req["headers"].get("x-hub-signature-256"))
            if bad:
                self.rejected.append(req)
                return bad[1], "text/plain", str(bad[0]).encode()
            body, status = wa.webhook_update_handler(req["body"])
            return status, "text/plain", str(body).encode()

        receiver.get_responders["/cloud"] = challenge
        receiver.responders["/cloud"] = update


@pytest.fixture(scope="module")
def backend(daemon, receiver):
    b = Backend(daemon, receiver)
    receiver.files["/static/dot.png"] = ("image/png", PNG)
    hooks = [{"url": receiver.url + "/cloud", "format": "cloud", "secret": APP_SECRET, "verify_token": "vt",
              "events": ["message", "message.ack"]}]
    daemon.link_session("shop1", hooks=hooks)
    return b


def test_handshake_then_signed_inbound_messages(daemon, receiver, backend):
    mid = daemon.inbound(CONTACT, "hi there", name="Alice")
    m = eventually("the message at pywa", lambda: [x for x in backend.messages if x.id == mid])[0]
    assert m.text == "hi there" and m.from_user.wa_id == CONTACT and m.from_user.name == "Alice"
    assert m.from_user.bsuid.startswith("US.")
    assert m.metadata.phone_number_id == "shop1" and m.metadata.display_phone_number == ACCOUNT
    # The handshake came first and passed; nothing was rejected.
    gets = receiver.gets("/cloud")
    assert gets and "hub.mode=subscribe" in gets[0]["query"] and "hub.verify_token=vt" in gets[0]["query"]
    assert not backend.rejected


def test_a_wrong_verify_token_holds_deliveries_and_says_so(daemon, receiver, backend):
    n = daemon.native()
    hooks = [{"url": receiver.url + "/cloud", "format": "cloud", "secret": APP_SECRET, "verify_token": "vt",
              "events": ["message", "message.ack"]},
             {"url": receiver.url + "/cloud-wrong", "format": "cloud", "secret": APP_SECRET, "verify_token": "nope"}]
    receiver.get_responders["/cloud-wrong"] = lambda q: (403, "text/plain", b"Forbidden")
    assert n.put("/api/sessions/shop1/webhooks", json=hooks).status_code == 200
    daemon.inbound(CONTACT, "held")
    held = eventually("a held delivery", lambda: [d for d in n.get("/api/sessions/shop1/deliveries").json()["deliveries"]
                                                  if d["url"].endswith("/cloud-wrong") and d["last_error"]])
    assert "handshake" in held[0]["last_error"]
    assert not receiver.raw("/cloud-wrong")
    assert n.put("/api/sessions/shop1/webhooks", json=hooks[:1]).status_code == 200


def test_pywa_sends_everything_and_gets_statuses(daemon, receiver, backend):
    wa = backend.wa
    inbound = daemon.inbound(CONTACT, "order?")
    eventually("inbound", lambda: [x for x in backend.messages if x.id == inbound])
    sent = wa.send_message(to=CONTACT, text="hello from pywa")
    out = {x["id"]: x for x in daemon.sent()}
    assert out[sent.id]["text"] == "hello from pywa"
    reply = wa.send_message(to=CONTACT, text="re: order", reply_to_message_id=inbound)
    assert reply.id in {x["id"] for x in daemon.sent()}
    # By user id (a business-scoped id), as pywa replies by default.
    msg = [x for x in backend.messages if x.id == inbound][0]
    by_bsuid = msg.reply_text("answered by user id")
    assert by_bsuid.id in {x["id"] for x in daemon.sent()}

    img = wa.send_image(to=CONTACT, image=receiver.url + "/static/dot.png", caption="a dot")
    up = wa.upload_media(media=PNG, mime_type="image/png", filename="dot.png")
    assert up.id.isdigit()
    by_id = wa.send_image(to=CONTACT, image=up.id, caption="uploaded")
    doc = wa.send_document(to=CONTACT, document=up.id, filename="dot.png", caption="doc")
    loc = wa.send_location(to=CONTACT, latitude=52.52, longitude=13.405, name="Office")
    out = {x["id"]: x for x in daemon.sent()}
    assert out[img.id]["caption"] == "a dot" and out[img.id]["media"]["mimetype"] == "image/png"
    assert out[by_id.id]["caption"] == "uploaded" and base64.b64decode(out[by_id.id]["media"]["data"]) == PNG
    assert out[doc.id]["media"]["filename"] == "dot.png"
    assert "52.52,13.405" in out[loc.id]["text"] and "Office" in out[loc.id]["text"]
    info = wa.get_media_url(up.id)
    assert info.mime_type == "image/png" and info.file_size == len(PNG)
    assert wa.get_media_bytes(info.url) == PNG
    assert wa.mark_message_as_read(inbound)

    statuses = lambda: {(s.id, s.status.value) for s in backend.statuses}
    eventually("sent and delivered", lambda: {(sent.id, "sent"), (sent.id, "delivered")} <= statuses())
    httpx.post(f"{daemon.sandbox}/_sandbox/messages/{sent.id}/read").raise_for_status()
    eventually("read", lambda: (sent.id, "read") in statuses())
    s = [x for x in backend.statuses if x.id == sent.id][0]
    assert s.from_user.wa_id == CONTACT and s.from_user.bsuid.startswith("US.")
    assert not backend.rejected


def test_menus_come_back_as_interactive_replies(daemon, backend):
    wa = backend.wa
    m = wa.send_message(to=CONTACT, text="Delivery or pickup?",
                        buttons=[types.Button(title="Delivery", callback_data="d"), types.Button(title="Pickup", callback_data="p")])
    text = {x["id"]: x for x in daemon.sent()}[m.id]["text"]
    assert "1. Delivery" in text and "2. Pickup" in text
    daemon.inbound(CONTACT, "2")
    b = eventually("the button pick", lambda: backend.buttons)[0]
    assert (b.data, b.title) == ("p", "Pickup")

    wa.send_message(to=CONTACT, text="Pick a size", buttons=types.SectionList(button_title="Sizes", sections=[
        types.Section(title="Sizes", rows=[types.SectionRow(title="Small", callback_data="s"),
                                           types.SectionRow(title="Large", callback_data="l", description="32 cm")])]))
    daemon.inbound(CONTACT, "large")
    s = eventually("the list pick", lambda: backend.selections)[0]
    assert (s.data, s.title) == ("l", "Large")
    # Text that picks nothing stays text.
    other = daemon.inbound(CONTACT, "something else")
    eventually("plain text", lambda: [x for x in backend.messages if x.id == other and x.text == "something else"])


def test_templates_media_in_and_errors(daemon, receiver, backend):
    wa = backend.wa
    n = daemon.native()
    r = n.put("/api/templates/order_ready", json={"body": "Hi {{1}}, order {{2}} is ready", "language": "en_US"})
    assert r.status_code == 200, r.text
    t = wa.send_template(to=CONTACT, name="order_ready", language=TemplateLanguage.ENGLISH_US,
                         params=[BodyText.params("Ann", "42")])
    assert {x["id"]: x for x in daemon.sent()}[t.id]["text"] == "Hi Ann, order 42 is ready"
    with pytest.raises(errors.TemplateNotExists):
        wa.send_template(to=CONTACT, name="nope", language=TemplateLanguage.ENGLISH_US)

    mid = daemon.inbound(CONTACT, "", media={"mimetype": "image/png", "filename": "in.png",
                                            "data": base64.b64encode(PNG).decode()})
    m = eventually("the image at pywa", lambda: [x for x in backend.messages if x.id == mid])[0]
    assert m.image.mime_type == "image/png" and m.image.sha256
    assert wa.get_media_bytes(wa.get_media_url(m.image.id).url) == PNG

    httpx.post(daemon.sandbox + "/_sandbox/unregistered", json={"phone": "15559990000"}).raise_for_status()
    with pytest.raises(errors.MessageUndeliverable):
        wa.send_message(to="15559990000", text="x")
    bad = Backend(daemon, Receiver(), token="wrong")
    with pytest.raises(errors.AuthorizationError) as e:
        bad.wa.send_message(to=CONTACT, text="x")
    assert e.value.code == 190
    nobody = Backend(daemon, Receiver(), phone_id="nosuch")
    with pytest.raises(errors.WhatsAppError) as e:
        nobody.wa.send_message(to=CONTACT, text="x")
    assert e.value.code == 100
    h = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", content=b"{", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", json={"messaging_product": "whatsapp", "to": CONTACT, "type": "reaction"}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == 131051
    r = httpx.post(daemon.url + "/v21.0/shop1/media", headers=h, files={"file": ("big.bin", b"\0" * (65 << 20), "application/octet-stream")},
                   data={"messaging_product": "whatsapp", "type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == 131053
