"""Meta Cloud API compatibility, judged by pywa: its client (pointed at
wabridge) sends, uploads and downloads; its webhook side answers the
subscription handshake, verifies X-Hub-Signature-256 and parses every update
strictly. Real daemon, real headless Chromium, the sandbox."""

import base64
import json
import logging
import time

import httpx
import pytest
from pywa import WhatsApp, errors, types
from pywa.types.templates import BodyText, TemplateLanguage

from conftest import ACCOUNT, KEY, PNG, Receiver, eventually

CONTACT = "15551234567"
APP_SECRET = "app-secret-0123456789"


class Unparsed(logging.Handler):
    """An update pywa cannot parse is logged and dropped (answered 200), so
    a backend never sees it: every test's `rejected` counts these too."""

    seen = []

    def emit(self, record):
        if "Failed to construct update" in record.getMessage():
            Unparsed.seen.append(record.getMessage())


logging.getLogger("pywa").addHandler(Unparsed(logging.ERROR))


class Backend:
    """A Cloud API backend as pywa users write one."""

    @property
    def rejected(self):
        """Updates refused (a bad signature) or that pywa could not parse."""
        return self.refused + Unparsed.seen

    def __init__(self, daemon, receiver, token=KEY, phone_id="shop1"):
        self.wa = WhatsApp(phone_id=phone_id, token=token, verify_token="vt", app_secret=APP_SECRET, api_version="21.0")
        self.wa.api._session.base_url = daemon.url + "/v21.0"
        self.messages, self.statuses, self.buttons, self.selections, self.refused = [], [], [], [], []
        self.edits, self.deletes = [], []
        wa = self.wa
        wa.on_message()(lambda _, m: self.messages.append(m))
        wa.on_edited_message()(lambda _, m: self.edits.append(m))
        wa.on_deleted_message()(lambda _, m: self.deletes.append(m))
        wa.on_message_status()(lambda _, s: self.statuses.append(s))
        wa.on_callback_button()(lambda _, b: self.buttons.append(b))
        wa.on_callback_selection()(lambda _, s: self.selections.append(s))

        def challenge(q):
            body, status = wa.webhook_challenge_handler(q.get("hub.verify_token"), q.get("hub.challenge"))
            return status, "text/plain", str(body).encode()

        def update(req):
            bad = wa.webhook_update_validator(req["body"], req["headers"].get("x-hub-signature-256"))
            if bad:
                self.refused.append(req)
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
    # The id answers: pywa sends to it, and it reaches the same contact.
    sent = backend.wa.send_message(to=m.from_user.bsuid, text="by user id")
    assert any(x["id"] == sent.id and x["to"].startswith(CONTACT) for x in daemon.sent()), daemon.sent()[-1:]
    assert m.metadata.phone_number_id == "shop1" and m.metadata.display_phone_number == ACCOUNT
    # The handshake came first and passed; nothing was rejected.
    gets = receiver.gets("/cloud")
    assert gets and "hub.mode=subscribe" in gets[0]["query"] and "hub.verify_token=vt" in gets[0]["query"]
    # A reply names the message it answers and who wrote it: the contact
    # quoting their own message, then ours.
    again = daemon.inbound(CONTACT, "as I said", reply_to=mid)
    r = eventually("the reply at pywa", lambda: [x for x in backend.messages if x.id == again])[0]
    assert (r.reply_to_message.id, r.reply_to_message.from_user_id) == (mid, CONTACT)
    ours = daemon.inbound(CONTACT, "thanks", reply_to=sent.id)
    r = eventually("the answer to ours at pywa", lambda: [x for x in backend.messages if x.id == ours])[0]
    assert (r.reply_to_message.id, r.reply_to_message.from_user_id) == (sent.id, ACCOUNT)
    assert not r.forwarded
    # Forwarded to us: once, then many times.
    for score, many in [(1, False), (5, True)]:
        fwd = daemon.inbound(CONTACT, f"pass it on {score}", forwarded=score)
        f = eventually("the forward at pywa", lambda: [x for x in backend.messages if x.id == fwd])[0]
        assert (f.forwarded, f.forwarded_many_times, f.reply_to_message) == (True, many, None)
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
    # A receiver that cannot be reached: the error names no verify token
    # (it rides in the handshake's URL), neither here nor in the log.
    down = {"url": "http://127.0.0.1:1/cloud-down", "format": "cloud", "secret": APP_SECRET, "verify_token": "vt-kept-secret"}
    assert n.put("/api/sessions/shop1/webhooks", json=hooks[:1] + [down]).status_code == 200
    daemon.inbound(CONTACT, "held too")
    errs = eventually("the unreachable one's error", lambda: [d["last_error"] for d in n.get("/api/sessions/shop1/deliveries").json()["deliveries"]
                                                              if d["url"].endswith("/cloud-down") and d["last_error"]])
    assert "handshake" in errs[0] and "vt-kept-secret" not in errs[0], errs[0]
    assert n.put("/api/sessions/shop1/webhooks", json=hooks[:1]).status_code == 200
    with open(daemon.log.name, "rb") as f:
        assert b"vt-kept-secret" not in f.read()


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
    # A picture sent as a document goes as a file, as Meta sends it.
    assert (out[doc.id]["type"], out[doc.id]["media"]["filename"]) == ("document", "dot.png"), out[doc.id]
    assert out[loc.id]["type"] == "location" and out[loc.id]["location"] == {"lat": 52.52, "lng": 13.405, "name": "Office", "address": None}
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
    # Audio played: Meta's own status for it, after read.
    ogg = wa.upload_media(media=b"OggS fake opus", mime_type="audio/ogg", filename="v.ogg")
    audio = wa.send_audio(to=CONTACT, audio=ogg.id)
    eventually("the audio at the contact", lambda: [x for x in daemon.sent() if x["id"] == audio.id])
    r = httpx.post(f"{daemon.sandbox}/_sandbox/messages/{audio.id}/read", json={"played": True})
    assert r.status_code == 200, r.text
    eventually("played", lambda: (audio.id, "played") in statuses())
    assert not backend.rejected


def test_a_tracker_comes_back_with_each_status(daemon, receiver, backend):
    """`tracker` (biz_opaque_callback_data) is told back with every status
    of the message it was sent with, and only of that message."""
    wa = backend.wa
    n = daemon.native()
    r = n.put("/api/templates/tracked", json={"body": "Order {{1}} shipped", "language": "en_US"})
    assert r.status_code == 200, r.text
    text = wa.send_message(to=CONTACT, text="tracked", tracker="order-42")
    tmpl = wa.send_template(to=CONTACT, name="tracked", language=TemplateLanguage.ENGLISH_US,
                            params=[BodyText.params("43")], tracker="order-43 ✓")
    plain = wa.send_message(to=CONTACT, text="not tracked")
    of = lambda mid: [s for s in backend.statuses if s.id == mid]
    has = lambda mid, *want: (lambda s: s if set(want) <= {x.status.value for x in s} else None)(of(mid))
    for m in (text, tmpl):
        eventually(f"sent and delivered of {m.id}", lambda: has(m.id, "sent", "delivered"))
        httpx.post(f"{daemon.sandbox}/_sandbox/messages/{m.id}/read").raise_for_status()
    for m, want in ((text, "order-42"), (tmpl, "order-43 ✓")):
        got = eventually(f"read of {m.id}", lambda: has(m.id, "sent", "delivered", "read"))
        assert {s.tracker for s in got} == {want}, [(s.status, s.tracker) for s in got]
    eventually("the untracked message delivered", lambda: has(plain.id, "sent", "delivered"))
    assert {s.tracker for s in of(plain.id)} == {None}
    # Meta's bounds: a string of at most 512 characters.
    h = {"Authorization": f"Bearer {KEY}"}
    for bad in ["x" * 513, 42, {"a": 1}]:
        r = httpx.post(daemon.url + "/v21.0/shop1/messages", headers=h, json={"messaging_product": "whatsapp", "to": CONTACT,
                       "text": {"body": "x"}, "biz_opaque_callback_data": bad})
        assert r.status_code == 400 and r.json()["error"]["code"] == 100, r.text
        assert "biz_opaque_callback_data" in r.json()["error"]["message"]
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", headers=h, json={"messaging_product": "whatsapp", "to": CONTACT,
                   "text": {"body": "x"}, "biz_opaque_callback_data": "é" * 512})
    assert r.status_code == 200, r.text
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

    # A menu is answered while it is the business's last word in the chat:
    # after another question, "1" is the answer to that one, as text.
    wa.send_message(to=CONTACT, text="Delivery or pickup?",
                    buttons=[types.Button(title="Delivery", callback_data="d"), types.Button(title="Pickup", callback_data="p")])
    wa.send_message(to=CONTACT, text="How many pizzas?")
    one = daemon.inbound(CONTACT, "1")
    eventually("a number, as text", lambda: [x for x in backend.messages if x.id == one and x.text == "1"])
    assert len(backend.buttons) == 1, backend.buttons


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
    # A photo to be viewed once: the receiver's phone's only, so the Cloud
    # API hands on no media, as an unsupported message.
    r = httpx.post(daemon.sandbox + "/_sandbox/messages", json={"from": CONTACT, "to": ACCOUNT, "name": "Alice", "view_once": True,
                                                               "media": {"mimetype": "image/png", "data": base64.b64encode(PNG).decode()}})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    m = eventually("the view-once photo at pywa", lambda: [x for x in backend.messages if x.id == oid])[0]
    assert (m.type, m.image, m.unsupported.type) == (types.MessageType.UNSUPPORTED, None, "view_once"), m

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
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", json={"messaging_product": "whatsapp", "to": CONTACT, "type": "product"}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == 131051
    # A user id never given out is refused, not decoded to some number.
    for forged in ["US.1", "US.324270819542170", "US.12345678901234567890123"]:
        r = httpx.post(daemon.url + "/v21.0/shop1/messages", json={"messaging_product": "whatsapp", "recipient": forged, "text": {"body": "x"}}, headers=h)
        assert r.status_code == 400 and r.json()["error"]["code"] == 100, (forged, r.text)
    # Currency and date-time parameters read as their fallback text.
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", headers=h, json={"messaging_product": "whatsapp", "to": CONTACT, "type": "template",
                   "template": {"name": "order_ready", "language": {"code": "en_US"}, "components": [{"type": "body", "parameters": [
                       {"type": "text", "text": "Ann"}, {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}}]}]}})
    assert r.status_code == 200, r.text
    assert {x["id"]: x for x in daemon.sent()}[r.json()["messages"][0]["id"]]["text"] == "Hi Ann, order $100.99 is ready"
    # Coordinates as strings, as Meta documents them.
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", headers=h, json={"messaging_product": "whatsapp", "to": CONTACT, "type": "location",
                   "location": {"latitude": "37.4421", "longitude": "-122.1615", "name": "HQ"}})
    assert r.status_code == 200, r.text
    assert {x["id"]: x for x in daemon.sent()}[r.json()["messages"][0]["id"]]["location"]["lat"] == 37.4421
    # An upload that is not multipart, a path Graph has no edge for, a method a route does not take.
    r = httpx.post(daemon.url + "/v21.0/shop1/media", headers=h, json={"file": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 100, r.text
    r = httpx.post(daemon.url + "/v21.0/shop1/unknown", headers=h, json={})
    assert r.status_code == 400 and r.json()["error"]["code"] == 2500, r.text
    r = httpx.post(daemon.url + "/v21.0/shop1", headers=h, json={})
    assert r.status_code == 400 and r.json()["error"]["code"] == 2500, r.text
    r = httpx.delete(daemon.url + "/v21.0/shop1/messages", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100, r.text
    r = httpx.post(daemon.url + "/v21.0/shop1/media", headers=h, files={"file": ("big.bin", b"\0" * (65 << 20), "application/octet-stream")},
                   data={"messaging_product": "whatsapp", "type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == 131053


def test_locations_contacts_reactions_and_voice_notes(daemon, receiver, backend):
    """pywa sends a named place, a contact card and reactions; it parses the
    same kinds (and a voice note) arriving, signatures checked."""
    n = daemon.native()
    hooks = [{"url": receiver.url + "/cloud", "format": "cloud", "secret": APP_SECRET, "verify_token": "vt",
              "events": ["message", "message.ack", "message.reaction"]}]
    assert n.put("/api/sessions/shop1/webhooks", json=hooks).status_code == 200
    wa = backend.wa

    def at_phone(mid):
        sent = lambda: [m for m in daemon.sent() if m["id"] == mid]
        return eventually(f"{mid} at the contact", sent)[0]

    sent = wa.send_location(to=CONTACT, latitude=40.6892, longitude=-74.0445, name="Statue of Liberty", address="Liberty Island, NY")
    m = at_phone(sent.id)
    assert m["type"] == "location"
    assert m["location"] == {"lat": 40.6892, "lng": -74.0445, "name": "Statue of Liberty", "address": "Liberty Island, NY"}

    card = types.Contact(name=types.Contact.Name(formatted_name="Night Desk", first_name="Night"),
                         phones=[types.Contact.Phone(phone="+1 555 010 4040", wa_id="15550104040", type="CELL")])
    sent = wa.send_contact(to=CONTACT, contact=card)
    m = at_phone(sent.id)
    assert m["type"] == "vcard" and "FN:Night Desk" in m["vcards"][0] and "waid=15550104040" in m["vcards"][0]

    # The contact writes; we react to it through pywa, then take it back.
    theirs = daemon.inbound(CONTACT, "do you deliver?", name="Alice")
    eventually("the message at pywa", lambda: [x for x in backend.messages if x.id == theirs])
    wa.send_reaction(to=CONTACT, emoji="👍", message_id=theirs)
    all_msgs = lambda: httpx.get(daemon.sandbox + "/_sandbox/messages", params={"account": ACCOUNT, "direction": "all"}).json()
    eventually("our reaction at the contact", lambda: [m for m in all_msgs() if m["id"] == theirs and m["reactions"].get(ACCOUNT) == "👍"])
    wa.remove_reaction(to=CONTACT, message_id=theirs)
    eventually("our reaction taken back", lambda: [m for m in all_msgs() if m["id"] == theirs and not m["reactions"]])

    # Arriving: a place, a card, a voice note, and the contact's reaction.
    post = lambda body: httpx.post(daemon.sandbox + "/_sandbox/messages", json=dict({"from": CONTACT, "to": ACCOUNT, "name": "Alice"}, **body)).json()["id"]
    loc = post({"location": {"lat": 48.8584, "lng": 2.2945, "name": "Eiffel Tower", "address": "Champ de Mars, Paris"}})
    vc = post({"vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Builder\nTEL;type=CELL;waid=15550007777:+1 555 000 7777\nEND:VCARD"})
    voice = post({"media": {"data": base64.b64encode(b"OggS fake opus").decode(), "mimetype": "audio/ogg; codecs=opus"}, "ptt": True})
    got = lambda mid: eventually(f"{mid} at pywa", lambda: [x for x in backend.messages if x.id == mid])[0]
    m = got(loc)
    assert m.type == types.MessageType.LOCATION
    assert (m.location.latitude, m.location.longitude, m.location.name, m.location.address) == (48.8584, 2.2945, "Eiffel Tower", "Champ de Mars, Paris")
    m = got(vc)
    assert m.type == types.MessageType.CONTACTS
    assert m.contacts[0].name.formatted_name == "Bob Builder"
    assert m.contacts[0].phones[0].wa_id == "15550007777"
    m = got(voice)
    assert m.type == types.MessageType.AUDIO and m.audio.voice is True

    mine = wa.send_message(to=CONTACT, text="we deliver daily").id
    at_phone(mine)
    r = httpx.post(daemon.sandbox + f"/_sandbox/messages/{mine}/react", json={"emoji": "🎉"})
    assert r.status_code == 200, r.text
    m = eventually("the reaction at pywa", lambda: [x for x in backend.messages if x.type == types.MessageType.REACTION and x.reaction.message_id == mine])[0]
    assert m.reaction.emoji == "🎉" and m.from_user.wa_id == CONTACT
    assert not backend.rejected


def test_voice_notes_typing_picture_menus_gated_receivers_and_refusals(daemon, receiver, backend):
    """pywa's voice note goes as one, its typing indicator shows, a menu
    under a picture goes with the picture; a receiver behind a gateway gets
    the webhook's headers on the handshake too; and what can never be sent
    is Graph's 131009, not an outage a client would retry."""
    wa, n = backend.wa, daemon.native()
    at_phone = lambda mid: eventually(f"{mid} at the contact", lambda: [m for m in daemon.sent() if m["id"] == mid])[0]
    ogg = wa.upload_media(media=b"OggS fake opus", mime_type="audio/ogg", filename="v.ogg")
    assert at_phone(wa.send_voice(to=CONTACT, voice=ogg.id).id)["type"] == "ptt"
    assert at_phone(wa.send_audio(to=CONTACT, audio=ogg.id).id)["type"] == "audio"

    theirs = daemon.inbound(CONTACT, "anyone there?")
    eventually("the message at pywa", lambda: [x for x in backend.messages if x.id == theirs])
    assert wa.indicate_typing(message_id=theirs)
    shown = lambda: httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/presence").json()["chats"].get(CONTACT + "@c.us")
    eventually("typing at the contact", lambda: shown() == "composing")

    up = wa.upload_media(media=PNG, mime_type="image/png", filename="dot.png")
    menu = wa.send_image(to=CONTACT, image=up.id, caption="Today's special",
                         buttons=[types.Button(title="Order", callback_data="o"), types.Button(title="Later", callback_data="l")])
    m = at_phone(menu.id)
    assert m["type"] == "image" and base64.b64decode(m["media"]["data"]) == PNG, m["type"]
    assert "Today's special" in m["caption"] and "1. Order" in m["caption"] and "2. Later" in m["caption"], m["caption"]

    # The webhook's own headers go with its handshake, as with its posts.
    def gate(q):
        asked = receiver.gets("/cloud-gated")[-1]["headers"]
        if asked.get("x-gate") != "open":
            return 403, "text/plain", b"no"
        return 200, "text/plain", q["hub.challenge"].encode()
    receiver.get_responders["/cloud-gated"] = gate
    # (The first as the tests before left it, which the tests after use.)
    hooks = [{"url": receiver.url + "/cloud", "format": "cloud", "secret": APP_SECRET, "verify_token": "vt",
              "events": ["message", "message.ack", "message.reaction"]},
             {"url": receiver.url + "/cloud-gated", "format": "cloud", "secret": APP_SECRET, "verify_token": "vt",
              "headers": {"X-Gate": "open"}, "events": ["message"]}]
    assert n.put("/api/sessions/shop1/webhooks", json=hooks).status_code == 200
    gated = daemon.inbound(CONTACT, "through the gate")
    eventually("the post past the gate", lambda: [r for r in receiver.raw("/cloud-gated") if gated.encode() in r["body"]])
    assert n.put("/api/sessions/shop1/webhooks", json=hooks[:1]).status_code == 200

    # A reaction to a message deleted for everyone: never possible.
    mine = wa.send_message(to=CONTACT, text="oops").id
    at_phone(mine)
    assert n.delete(f"/api/sessions/shop1/messages/{mine}").status_code == 200
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", headers={"Authorization": f"Bearer {KEY}"},
                   json={"messaging_product": "whatsapp", "to": CONTACT, "type": "reaction", "reaction": {"message_id": mine, "emoji": "👍"}})
    e = r.json()["error"]
    assert (r.status_code, e["code"]) == (400, 131009), r.text
    assert e["message"].startswith("(#131009) ") and e["message"].count("(#") == 1, e
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", headers={"Authorization": f"Bearer {KEY}"}, json={"messaging_product": "whatsapp", "to": CONTACT})
    assert r.status_code == 400 and r.json()["error"]["message"].count("(#100)") == 1, r.text
    assert not backend.rejected


def cloud_posts(receiver):
    """The Cloud webhook bodies the receiver got (the subscription's
    handshake and empty bodies left out)."""
    return [json.loads(q["body"]) for q in list(receiver.requests) if q["path"] == "/cloud" and q["body"]]


def test_a_groups_messages_name_it_and_an_answer_goes_to_it(daemon, receiver, backend):
    """Meta's Groups API: a message written in a group carries `group_id`
    (`from` is the member who wrote it); a send with `recipient_type:
    group` goes to the group, and its statuses name it. pywa parses it."""
    g = httpx.post(daemon.sandbox + "/_sandbox/groups", json={"owner": CONTACT, "subject": "Bakers",
                                                              "participants": [ACCOUNT]})
    assert g.status_code == 201, g.text
    gid = g.json()["id"]
    r = httpx.post(daemon.sandbox + "/_sandbox/messages", json={"from": CONTACT, "group": gid, "text": "team, 6am?"})
    assert r.status_code == 201, r.text
    mid = r.json()["ids"][ACCOUNT]
    at_pywa = eventually("the group's message at pywa", lambda: [x for x in backend.messages if x.id == mid])[0]
    m = [m for b in cloud_posts(receiver) for c in b["entry"][0]["changes"] for m in c["value"].get("messages", [])
         if m["id"] == mid][0]
    assert m["group_id"] == gid and m["from"] == CONTACT, m
    # pywa answers in the chat by its id, which it reads as a group's (not
    # as a phone's: digits alone would go as to a person).
    assert at_pywa.chat.id == gid and at_pywa.chat.type == "GROUP", at_pywa.chat
    sent = backend.wa.send_message(to=at_pywa.chat.id, text="6am it is").id
    # Its bare digits with `recipient_type: group` reach it too.
    r = httpx.post(daemon.url + "/v21.0/shop1/messages", headers={"Authorization": f"Bearer {KEY}"},
                   json={"messaging_product": "whatsapp", "recipient_type": "group", "to": gid.split("@")[0],
                         "type": "text", "text": {"body": "and coffee"}})
    assert r.status_code == 200 and r.json()["contacts"][0]["wa_id"] == gid, r.text
    eventually("the second answer in the group", lambda: [x for x in daemon.sent() if x["id"] == r.json()["messages"][0]["id"]])
    out = eventually("the answer in the group", lambda: [x for x in daemon.sent() if x["id"] == sent])[0]
    assert out["text"] == "6am it is"
    statuses = lambda: [s for b in cloud_posts(receiver) for c in b["entry"][0]["changes"]
                        for s in c["value"].get("statuses", []) if s["id"] == sent]
    s = eventually("its status", statuses)[0]
    # The message's own status, the group its recipient: pywa takes it (a
    # `recipient_type: group` one, Meta's per member, it drops without a member).
    assert (s.get("recipient_type"), s["recipient_id"]) == (None, m["group_id"]), s
    eventually("the status at pywa", lambda: [x for x in backend.statuses if x.id == sent])
    # A member's reaction to it names the group too, as its messages do.
    r = httpx.post(daemon.sandbox + f"/_sandbox/messages/{sent}/react", json={"emoji": "👍", "from": CONTACT})
    assert r.status_code == 200, r.text
    eventually("the reaction at pywa", lambda: [x for x in backend.messages
                                               if x.type == types.MessageType.REACTION and x.reaction.message_id == sent])
    react = [m for b in cloud_posts(receiver) for c in b["entry"][0]["changes"] for m in c["value"].get("messages", [])
             if m["type"] == "reaction" and m["reaction"]["message_id"] == sent][0]
    assert (react["group_id"], react["from"], react["reaction"]["emoji"]) == (m["group_id"], CONTACT, "👍"), react
    assert not backend.rejected


def test_a_contacts_edit_and_delete_reach_pywa_as_metas(daemon, receiver, backend):
    """A contact edits a message, then deletes one for everyone: Meta's
    `type: edit` and `type: revoke` messages, which pywa hands to its
    edited- and deleted-message handlers; our own edits are not told."""
    mid = daemon.inbound(CONTACT, "one coffe", name="Alice")
    eventually("the message at pywa", lambda: [x for x in backend.messages if x.id == mid])
    r = httpx.post(daemon.sandbox + f"/_sandbox/messages/{mid}/edit", json={"text": "one coffee"})
    assert r.status_code == 200, r.text
    edit = eventually("the edit at pywa", lambda: [x for x in backend.edits if x.original_message_id == mid])[0]
    assert (edit.message.text, edit.message.id, edit.from_user.wa_id) == ("one coffee", mid, CONTACT), edit
    assert edit.id != mid and edit.metadata.display_phone_number == ACCOUNT
    r = httpx.post(daemon.sandbox + f"/_sandbox/messages/{mid}/revoke")
    assert r.status_code == 200, r.text
    gone = eventually("the delete at pywa", lambda: [x for x in backend.deletes if x.original_message_id == mid])[0]
    assert (gone.from_user.wa_id, gone.from_user.name) == (CONTACT, "Alice"), gone
    # Our own edit is ours to know.
    ours = backend.wa.send_message(to=CONTACT, text="on its way").id
    assert daemon.native().patch(f"/api/sessions/shop1/messages/{ours}", json={"text": "on its way!"}).status_code == 200
    later = daemon.inbound(CONTACT, "thanks")
    eventually("the message after", lambda: [x for x in backend.messages if x.id == later])
    assert not [x for x in backend.edits if x.original_message_id == ours]
    assert not backend.rejected


def test_the_business_profile_as_pywa_reads_and_changes_it(daemon, receiver):
    """pywa's get_business_profile and update_business_profile on a
    WhatsApp Business number (a session of its own): the about and the
    business details; the profile picture from a media id uploaded here;
    a number that is no business account is refused with Graph's error."""
    from pywa.types import Industry

    phone = "15550009191"
    daemon.link_session("biz1", phone=phone)
    wa = Backend(daemon, receiver, phone_id="biz1").wa
    for no_business in [lambda: wa.update_business_profile(description="Not yet a business"),
                        lambda: wa.update_business_profile(about="Only the about"),
                        lambda: wa.get_business_profile()]:
        with pytest.raises(errors.WhatsAppError) as e:
            no_business()
        assert e.value.code == 100 and "Business" in str(e.value), e.value
    assert httpx.get(daemon.sandbox + f"/_sandbox/accounts/{phone}/profile").json()["about"] != "Only the about"
    httpx.post(daemon.sandbox + f"/_sandbox/accounts/{phone}/business", json={"business": True}).raise_for_status()
    eventually("a business number", lambda: daemon.native().get("/api/sessions/biz1/profile").json()["business"])

    assert wa.update_business_profile(
        about="Fresh bread daily", address="1 Mill Lane", description="Sourdough and rye",
        email="hello@bakery.example", websites=["https://bakery.example"], industry=Industry.RETAIL,
    ).success is True
    # The picture: a media id uploaded here as its handle (pywa's own path,
    # the Resumable Upload API, is the next test's).
    h = {"Authorization": f"Bearer {KEY}"}
    up = wa.upload_media(media=PNG, mime_type="image/png", filename="logo.png")
    r = httpx.post(daemon.url + "/v21.0/biz1/whatsapp_business_profile",
                   json={"messaging_product": "whatsapp", "profile_picture_handle": up.id}, headers=h)
    assert r.json() == {"success": True}, r.text
    p = wa.get_business_profile()
    assert (p.about, p.address, p.description, p.email, p.websites) == (
        "Fresh bread daily", "1 Mill Lane", "Sourdough and rye", "hello@bakery.example", ("https://bakery.example",)), p
    assert p.industry == Industry.UNDEFINED, "WhatsApp Web keeps categories, not the Cloud API's verticals"
    assert p.profile_picture_url, p
    at_wa = httpx.get(daemon.sandbox + f"/_sandbox/accounts/{phone}/profile").json()
    assert (at_wa["has_picture"], at_wa["business"]["email"]) == (True, "hello@bakery.example"), at_wa
    # None clears a field (pywa sends ""); the rest stays.
    assert wa.update_business_profile(address=None).success is True
    p = wa.get_business_profile()
    assert (p.address, p.email) == (None, "hello@bakery.example"), p
    # Graph's checks, before anything changes.
    for bad in [dict(websites=["https://a.example", "https://b.example", "https://c.example"]),
                dict(email="not an address"), dict(about="")]:
        with pytest.raises(errors.WhatsAppError) as e:
            wa.update_business_profile(**bad)
        assert e.value.code == 100, (bad, e.value)
    assert wa.get_business_profile() == p, "nothing refused changed it"
    r = httpx.post(daemon.url + "/v21.0/biz1/whatsapp_business_profile", json={"messaging_product": "whatsapp", "vertical": "BAKERY"}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100, r.text
    r = httpx.post(daemon.url + "/v21.0/biz1/whatsapp_business_profile", json={"messaging_product": "whatsapp", "profile_picture_handle": "4::nope"}, headers=h)
    assert r.status_code == 400 and "profile_picture_handle" in r.text, r.text
    r = httpx.get(daemon.url + "/v21.0/biz1/whatsapp_business_profile?fields=email", headers=h)
    assert r.json() == {"data": [{"email": "hello@bakery.example", "messaging_product": "whatsapp"}]}, r.text
    r = httpx.get(daemon.url + "/v21.0/biz1/whatsapp_business_profile?fields=", headers=h)
    assert {"about", "email", "vertical"} <= set(r.json()["data"][0]), r.text
    r = httpx.get(daemon.url + "/v21.0/biz1/whatsapp_business_profile?fields=email,phone", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == 100 and "phone" in r.text, r.text
    assert wa.get_business_profile().about == "Fresh bread daily"


def test_a_profile_picture_through_the_resumable_upload_api(daemon, receiver, tmp_path):
    """pywa's own path for a business profile's picture: Graph's Resumable
    Upload API (an upload session under the app id, here the session id;
    the bytes with file_offset; the handle as profile_picture_handle).
    Then the API by hand: a file sent in two parts, resumed from the
    offset GET tells, a wrong offset refused, the last part's answer
    repeated."""
    from PIL import Image

    phone = "15550009292"
    daemon.link_session("biz2", phone=phone)
    httpx.post(daemon.sandbox + f"/_sandbox/accounts/{phone}/business", json={"business": True}).raise_for_status()
    eventually("a business number", lambda: daemon.native().get("/api/sessions/biz2/profile").json()["business"])
    wa = Backend(daemon, receiver, phone_id="biz2").wa
    logo = tmp_path / "logo.png"
    Image.new("RGB", (4, 4), (200, 30, 30)).save(logo)
    assert wa.update_business_profile(profile_picture=logo, app_id="biz2").success is True
    url = wa.get_business_profile().profile_picture_url
    assert url, "the picture is set"
    assert httpx.get(url).content == logo.read_bytes(), "WhatsApp has the file uploaded"

    h = {"Authorization": f"OAuth {KEY}"}
    second = tmp_path / "second.png"
    Image.new("RGB", (8, 8), (30, 200, 30)).save(second)
    data = second.read_bytes()
    r = httpx.post(daemon.url + "/v21.0/biz2/uploads",
                   params={"file_name": "second.png", "file_length": len(data), "file_type": "image/png"}, headers=h)
    up = r.json()["id"]
    assert up.startswith("upload:"), r.text
    # A first part, as a connection that dropped midway leaves it.
    half = len(data) // 2
    r = httpx.post(f"{daemon.url}/v21.0/{up}", content=data[:half], headers={**h, "file_offset": "0"})
    assert r.json() == {"id": up, "file_offset": half}, r.text
    assert httpx.get(f"{daemon.url}/v21.0/{up}", headers=h).json() == {"id": up, "file_offset": half}
    # Not from where it stands: refused, nothing taken.
    for offset, part in [("0", data), (str(half + 1), data[half + 1:]), ("x", data[half:])]:
        r = httpx.post(f"{daemon.url}/v21.0/{up}", content=part, headers={**h, "file_offset": offset})
        assert r.status_code == 400 and r.json()["error"]["code"] == 100, (offset, r.text)
    r = httpx.post(f"{daemon.url}/v21.0/{up}", content=data[half:] + b"more", headers={**h, "file_offset": str(half)})
    assert r.status_code == 400 and "file_length" in r.text, r.text
    r = httpx.post(f"{daemon.url}/v21.0/{up}", content=data[half:], headers={**h, "file_offset": str(half)})
    handle = r.json()["h"]
    # The last part's answer, lost: the same part again, or an empty one at
    # the end, or a GET, gives the same handle.
    for offset, part in [(half, data[half:]), (len(data), b"")]:
        r = httpx.post(f"{daemon.url}/v21.0/{up}", content=part, headers={**h, "file_offset": str(offset)})
        assert r.json() == {"h": handle}, r.text
    assert httpx.get(f"{daemon.url}/v21.0/{up}", headers=h).json() == {"id": up, "file_offset": len(data), "h": handle}
    r = httpx.post(f"{daemon.url}/v21.0/{up}", content=b"x", headers={**h, "file_offset": str(len(data))})
    assert r.status_code == 400 and r.json()["error"]["code"] == 100, r.text
    # The handle names the file as a media id does.
    media = httpx.get(f"{daemon.url}/v21.0/{handle}", headers=h).json()
    assert (media["mime_type"], media["file_size"]) == ("image/png", len(data)), media
    r = httpx.post(daemon.url + "/v21.0/biz2/whatsapp_business_profile",
                   json={"messaging_product": "whatsapp", "profile_picture_handle": handle}, headers=h)
    assert r.json() == {"success": True}, r.text
    assert httpx.get(url).content == data

    # Graph's answers to what is wrong.
    for params in [{"file_length": "10", "file_type": "image/gif"}, {"file_type": "image/png"},
                   {"file_length": "0", "file_type": "image/png"}]:
        r = httpx.post(daemon.url + "/v21.0/biz2/uploads", params=params, headers=h)
        assert r.status_code == 400 and r.json()["error"]["code"] == 100, (params, r.text)
    r = httpx.post(daemon.url + "/v21.0/nosuchapp/uploads", params={"file_length": "10", "file_type": "image/png"}, headers=h)
    assert r.status_code == 400 and r.json()["error"].get("error_subcode") == 33, r.text
    gone = "upload:" + "0" * 32 + ".biz2"
    for method in ["GET", "POST"]:
        r = httpx.request(method, f"{daemon.url}/v21.0/{gone}", headers={**h, "file_offset": "0"}, content=b"x" if method == "POST" else None)
        assert r.status_code == 400 and r.json()["error"].get("error_subcode") == 33, (method, r.text)
    r = httpx.post(f"{daemon.url}/v21.0/{up}", content=b"x", headers={"file_offset": "0"})
    assert r.status_code == 401 and r.json()["error"]["code"] == 190, r.text
