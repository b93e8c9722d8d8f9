"""open-wa compatibility, judged by clients shaped like open-wa's users:
a wrapper backend (httpx, the API key in the base URL's userinfo) and EASY
API callers, against the real daemon, real headless Chromium and the
sandbox."""

import base64
import json
import time

import httpx
import pytest
from standardwebhooks import Webhook

from conftest import ACCOUNT, KEY, Daemon, decode_qr, eventually

CONTACT = "15551234567"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(scope="module")
def daemon():
    """EASY API calls that name no session go to shop1."""
    d = Daemon({"WABRIDGE_DEFAULT_SESSION": "shop1"})
    yield d
    d.stop()


@pytest.fixture(scope="module")
def backend(daemon):
    """The wrapper backend's client: OPEN_WA_URL=http://wabridge:KEY@host:port."""
    base = daemon.url.replace("http://", f"http://wabridge:{KEY}@")
    with httpx.Client(base_url=base, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def shop(daemon, backend, receiver):
    """The wrapper flow up to a linked session: create, scan the returned QR, connected."""
    r = backend.post("/session/create", json={"session_id": "shop1",
                                              "webhook_url": receiver.url + "/whatsapp/incoming"})
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["session_id"] == "shop1"
    assert created["status"] == "scan_qr", created
    qr = decode_qr(created["qr_code"])
    assert qr.count(",") == 3, "a WhatsApp QR string: ref,key,key,key"
    daemon.link(qr)
    status = eventually("the session to connect",
                        lambda: (lambda s: s if s["connected"] else None)(backend.get("/session/shop1/status").json()))
    return {"created": created, "status": status}


def test_a_wrapper_backend_links_receives_and_replies(daemon, backend, receiver, shop):
    s = shop["status"]
    assert s["session_id"] == "shop1" and s["status"] == "connected"
    assert s["phone_number"] == "+" + ACCOUNT
    assert s["qr_code"] is None
    assert s["details"] == {"status": "CONNECTED", "battery": None, "plugged": None}

    # Creating it again is not an error: it is connected, no QR.
    again = backend.post("/session/create", json={"sessionId": "shop1"}).json()
    assert (again["status"], again["qr_code"]) == ("connected", None)

    # A contact writes: the backend's /whatsapp/incoming gets the simple body.
    mid = daemon.inbound(CONTACT, "do you deliver?")
    got = eventually("the inbound message at the backend",
                     lambda: [b for b in receiver.bodies("/whatsapp/incoming") if b["message_id"] == mid])
    b = got[0]
    assert b["from_number"] == "+" + CONTACT and b["message"] == "do you deliver?"
    assert b["session_id"] == "shop1" and b["timestamp"].endswith("Z")

    # The backend replies.
    r = backend.post("/message/send", json={"session_id": "shop1", "to_number": "+1 (555) 123-4567",
                                           "message": "yes, every day"})
    assert r.status_code == 200, r.text
    sent = r.json()
    assert sent["success"] is True and sent["error"] is None and sent["message_id"].startswith("true_")
    assert any(m["id"] == sent["message_id"] and m["text"] == "yes, every day" for m in daemon.sent())

    # Its own send never comes back to it (a bot would answer itself).
    later = daemon.inbound(CONTACT, "thanks")
    eventually("the next inbound", lambda: [x for x in receiver.bodies("/whatsapp/incoming") if x["message_id"] == later])
    ids = [x["message_id"] for x in receiver.bodies("/whatsapp/incoming")]
    assert sent["message_id"] not in ids
    assert ids.count(mid) == 1

    listed = backend.get("/sessions").json()
    assert listed["success"] is True, listed
    listed = listed["sessions"]
    assert [x["session_id"] for x in listed] == ["shop1"]


# A 1×1 PNG.
PNG_DATA_URL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def easy(client, path, args=None, **kw):
    body = {} if args is None else {"args": args}
    return client.post(path, json=body, **kw)


def test_easy_api_named_and_positional(daemon, backend, shop):
    r = easy(backend, "/shop1/sendText", {"to": CONTACT + "@c.us", "content": "named"})
    assert r.status_code == 200, r.text
    named = r.json()
    assert named["success"] is True and named["response"].startswith("true_" + CONTACT)
    positional = easy(backend, "/shop1/sendText", [CONTACT + "@c.us", "positional"]).json()
    assert positional["success"] is True
    texts = {m["id"]: m["text"] for m in daemon.sent()}
    assert texts[named["response"]] == "named" and texts[positional["response"]] == "positional"

    # The default session (WABRIDGE_DEFAULT_SESSION) for POST /{method}.
    assert easy(backend, "/getConnectionState").json() == {"success": True, "response": "CONNECTED"}
    assert easy(backend, "/isConnected").json()["response"] is True
    assert easy(backend, "/shop1/getHostNumber").json()["response"] == ACCOUNT
    me = easy(backend, "/getMe").json()["response"]
    assert me["me"]["_serialized"] == ACCOUNT + "@c.us" and me["isMe"] is True

    inbound = daemon.inbound(CONTACT, "quote me")
    eventually("the inbound in the store", lambda: any(
        m["id"] == inbound for m in daemon.native().get("/api/sessions/shop1/messages").json()["messages"]))
    reply = easy(backend, "/shop1/reply", [CONTACT + "@c.us", "quoted", inbound]).json()
    assert reply["success"] is True
    png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    img = easy(backend, "/shop1/sendImage", {"to": CONTACT, "file": png, "filename": "dot.png", "caption": "a dot"}).json()
    assert img["success"] is True
    sent = {m["id"]: m for m in daemon.sent()}
    assert sent[img["response"]]["caption"] == "a dot"
    assert sent[img["response"]]["media"]["mimetype"] == "image/png"
    assert easy(backend, "/shop1/sendSeen", {"chatId": CONTACT + "@c.us"}).json() == {"success": True, "response": True}
    # As open-wa: false for a chat this account does not have.
    assert easy(backend, "/shop1/sendSeen", {"chatId": "15559990000@c.us"}).json() == {"success": True, "response": False}

    chats = easy(backend, "/shop1/getAllChats").json()["response"]
    assert any(c["id"] == CONTACT + "@c.us" and c["isGroup"] is False for c in chats)
    contacts = easy(backend, "/shop1/getAllContacts").json()["response"]
    assert any(c["id"] == CONTACT + "@c.us" for c in contacts)
    health = easy(backend, "/shop1/healthCheck").json()["response"]
    assert health["state"] == "CONNECTED" and health["online"] is True

    yes = easy(backend, "/shop1/checkNumberStatus", [CONTACT + "@c.us"]).json()["response"]
    assert yes["status"] == 200 and yes["numberExists"] is True and yes["id"]["user"] == CONTACT
    httpx.post(daemon.sandbox + "/_sandbox/unregistered", json={"phone": "15559990000"}).raise_for_status()
    no = easy(backend, "/shop1/checkNumberStatus", {"contactId": "15559990000@c.us"}).json()["response"]
    assert no["status"] == 404 and "numberExists" not in no and no["canReceiveMessage"] is False
    assert no["id"] == "15559990000@c.us", no  # as asked, open-wa's string
    # Like open-wa: a send to a number not on WhatsApp answers an error string.
    r = easy(backend, "/shop1/sendText", ["15559990000@c.us", "hello?"])
    assert r.status_code == 200
    assert r.json() == {"success": False, "response": "Error: Number not linked to WhatsApp Account"}

    r = easy(backend, "/shop1/sendSticker", ["x"])
    assert r.status_code == 404
    err = r.json()
    assert err["success"] is False and "sendText" in err["error"]["message"]


def test_the_easy_api_serves_what_open_wa_bots_call(daemon, backend, shop, receiver):
    """Beyond sending text: what bots written for open-wa call, by its
    method names and parameter orders, answered in its shapes."""
    ok = lambda path, args=None: (lambda r: (r.status_code, r.json()))(easy(backend, path, args))

    def call(path, args=None):
        code, body = ok(path, args)
        assert code == 200 and body["success"] is True, (path, body)
        return body.get("response")

    def at_phone(mid):
        return eventually(f"{mid} at the contact's phone", lambda: {m["id"]: m for m in daemon.sent()}.get(mid))

    # Sends, each answering the new message's id.
    loc = at_phone(call("/shop1/sendLocation", [CONTACT + "@c.us", "52.52", "13.405", "Office"]))
    assert loc["type"] == "location" and loc["location"]["lat"] == 52.52 and loc["location"]["name"] == "Office"
    card = at_phone(call("/shop1/sendContact", {"to": CONTACT, "contactId": "15557654321@c.us"}))
    assert card["type"] == "vcard" and "waid=15557654321" in card["vcards"][0]
    ptt = at_phone(call("/shop1/sendPtt", [CONTACT, "data:audio/ogg;base64,T2dnUwACAAAAAAAAAAA="]))
    assert ptt["type"] == "ptt"
    mention = at_phone(call("/shop1/sendTextWithMentions", [CONTACT, "hi @15557654321"]))
    assert mention["mentions"] == ["15557654321"]
    quoting = at_phone(call("/shop1/sendReplyWithMentions", [CONTACT, "see @15557654321", mention["id"]]))
    assert quoting["reply_to"] == mention["id"] and quoting["mentions"] == ["15557654321"]
    audio = at_phone(call("/shop1/sendAudio", [CONTACT, "data:audio/ogg;base64,T2dnUwACAAAAAAAAAAA="]))
    assert audio["type"] == "audio"
    sticker = at_phone(call("/shop1/sendImageAsSticker", [CONTACT, PNG_DATA_URL]))
    assert sticker["type"] == "sticker" and sticker["media"]["mimetype"] == "image/webp"
    # A WebP's own base64 (not a data URL), and stickers as replies.
    webp = base64.b64encode(b"RIFF\x0c\x00\x00\x00WEBPVP8 ").decode()
    raw = at_phone(call("/shop1/sendRawWebpAsSticker", [CONTACT, webp]))
    assert raw["type"] == "sticker" and raw["media"]["mimetype"] == "image/webp", raw
    # As open-wa takes an image: bare base64, or a Node Buffer as JSON has it.
    png = PNG_DATA_URL.split(",", 1)[1]
    for image in (png, {"type": "Buffer", "data": list(base64.b64decode(png))}):
        bare = at_phone(call("/shop1/sendImageAsSticker", [CONTACT, image]))
        assert bare["type"] == "sticker" and bare["media"]["mimetype"] == "image/webp", bare
    # withoutPreview: a picture sent as a file.
    as_file = at_phone(call("/shop1/sendImage", [CONTACT, PNG_DATA_URL, "full.png", "", None, False, False, True]))
    assert as_file["type"] == "document" and as_file["media"]["filename"] == "full.png", as_file
    quoted = at_phone(call("/shop1/sendImageAsStickerAsReply", [CONTACT, PNG_DATA_URL, sticker["id"]]))
    assert (quoted["type"], quoted["reply_to"]) == ("sticker", sticker["id"]), quoted
    quoted = at_phone(call("/shop1/sendRawWebpAsStickerAsReply", {"to": CONTACT, "messageId": raw["id"], "webpBase64": webp}))
    assert (quoted["type"], quoted["reply_to"]) == ("sticker", raw["id"]), quoted
    poll = at_phone(call("/shop1/sendPoll", [CONTACT, "Lunch?", ["pizza", "pasta"]]))
    assert poll["poll"]["options"] == ["pizza", "pasta"]
    # A URL's file, fetched by the daemon (the sandbox serves a picture).
    pic_url = daemon.sandbox + f"/_sandbox/pictures/{CONTACT}"
    httpx.put(daemon.sandbox + f"/_sandbox/contacts/{CONTACT}",
              json={"about": "Baker", "picture": "iVBORw0KGgoAAAANSUhEUg=="}).raise_for_status()
    from_url = at_phone(call("/shop1/sendFileFromUrl", [CONTACT, pic_url, "p.png", "from a url"]))
    assert from_url["caption"] == "from a url" and from_url["media"]["mimetype"] == "image/png"
    # A file server that wants credentials: requestConfig's headers go with
    # the fetch (axios's framing headers are the daemon's own).
    receiver.files["/private/p.png"] = ("image/png", base64.b64decode(PNG_DATA_URL.split(",", 1)[1]))
    config = {"headers": {"Authorization": "Bearer s3cret", "X-Tenant": 7, "Host": "elsewhere"}}
    with_auth = at_phone(call("/shop1/sendFileFromUrl", [CONTACT, receiver.url + "/private/p.png", "p.png", "", None, config]))
    assert with_auth["media"]["mimetype"] == "image/png"
    sticker = at_phone(call("/shop1/sendStickerfromUrl", [CONTACT, receiver.url + "/private/p.png", config]))
    assert sticker["type"] == "sticker", sticker
    fetched = receiver.gets("/private/p.png")
    assert len(fetched) == 2 and all(
        (g["headers"].get("authorization"), g["headers"].get("x-tenant"), g["headers"]["host"])
        == ("Bearer s3cret", "7", receiver.url.removeprefix("http://")) for g in fetched), fetched
    code, bad = ok("/shop1/sendFileFromUrl", [CONTACT, receiver.url + "/private/p.png", "p.png", "", None,
                                              {"headers": {"X-Bad": "a\nb"}}])
    assert code == 200 and bad["success"] is False and "header" in bad["error"]["message"], bad
    # A redirect to another host does not take the caller's headers there:
    # the fetch stops; without headers of the caller's it is followed.
    receiver.get_responders["/private/moved.png"] = lambda q: (302, "text/plain", b"", {"location": pic_url})
    moved = receiver.url + "/private/moved.png"
    code, bad = ok("/shop1/sendFileFromUrl", [CONTACT, moved, "p.png", "", None, {"headers": {"X-Api-Key": "k3y"}}])
    assert code == 200 and bad["success"] is False and "redirect" in bad["error"]["message"], bad
    assert at_phone(call("/shop1/sendFileFromUrl", [CONTACT, moved, "p.png", "moved"]))["caption"] == "moved"
    # viewOnce, sendImage's tenth parameter; a video sent to play as a GIF.
    once = at_phone(call("/shop1/sendImage", [CONTACT, PNG_DATA_URL, "dot.png", "once", None, False, False, False, False, True]))
    assert (once["type"], once["view_once"], once["gif"]) == ("image", True, False), once
    assert at_phone(call("/shop1/sendImage", [CONTACT, PNG_DATA_URL, "dot.png", "twice"]))["view_once"] is False
    gif = at_phone(call("/shop1/sendVideoAsGif", [CONTACT, "data:video/mp4;base64,AAAAGGZ0eXBtcDQy", "loop.mp4", "a loop"]))
    assert (gif["type"], gif["gif"], gif["caption"]) == ("video", True, "a loop"), gif
    # A voice note from a file server that types it generically: named as
    # open-wa names it (ptt.ogg), which types it.
    receiver.files["/private/voice1"] = ("binary/octet-stream", base64.b64decode("T2dnUwACAAAAAAAAAAA="))
    ptt = at_phone(call("/shop1/sendPtt", [CONTACT, receiver.url + "/private/voice1"]))
    assert (ptt["type"], ptt["media"]["mimetype"]) == ("ptt", "audio/ogg"), ptt

    # What was sent: react, edit, read back, delete for everyone.
    text = call("/shop1/sendText", [CONTACT, "tpyo"])
    assert call("/shop1/react", [text, "👍"]) is True
    assert call("/shop1/editMessage", {"messageId": text, "text": "typo"}) is True
    eventually("the edit at the phone", lambda: at_phone(text)["text"] == "typo")
    got = eventually("the edit in the store", lambda: (lambda m: m if m and m["body"] == "typo" else None)(
        call("/shop1/getMessageById", [text])))
    assert (got["id"], got["fromMe"], got["type"], got["chatId"]) == (text, True, "chat", CONTACT + "@c.us")
    assert call("/shop1/getMessageById", ["true_" + CONTACT + "@c.us_3EB0NOSUCH"]) is False
    # As open-wa's reply: a quote WhatsApp Web does not have is left out, not the message.
    unquoted = at_phone(call("/shop1/reply", [CONTACT, "re: what?", "true_" + CONTACT + "@c.us_3EB0NOSUCH"]))
    assert unquoted["text"] == "re: what?" and not unquoted.get("reply_to"), unquoted
    junk = at_phone(call("/shop1/reply", [CONTACT, "re: junk", "not-a-message-id"]))
    assert junk["text"] == "re: junk" and not junk.get("reply_to"), junk
    # Forwarded on: the copies' ids, in order; our own stay back when asked.
    theirs = daemon.inbound(CONTACT, "pass it on", forwarded=2)
    got = eventually("their forward in the store", lambda: call("/shop1/getMessageById", [theirs]) or None)
    assert (got["isForwarded"], got["forwardingScore"]) == (True, 2), got
    copies = call("/shop1/forwardMessages", ["15557654321@c.us", [text, theirs], False])
    assert len(copies) == 2 and all(c.startswith("true_15557654321@c.us_") for c in copies), copies
    # WhatsApp does not mark a forward of our own message as forwarded.
    assert [(at_phone(c)["text"], at_phone(c)["forwarded"]) for c in copies] == [("typo", 0), ("pass it on", 3)]
    # A Message object names its message by its id, as open-wa passes it.
    by_object = call("/shop1/forwardMessages", ["15557654321@c.us", {"id": theirs, "body": "pass it on"}, False])
    assert [at_phone(c)["forwarded"] for c in by_object] == [3]
    only_theirs = call("/shop1/forwardMessages", {"to": "15557654321@c.us", "messages": [text, theirs], "skipMyMessages": True})
    assert [at_phone(c)["text"] for c in only_theirs] == ["pass it on"]
    # One that cannot be forwarded (to be viewed once) holds the others back.
    r = httpx.post(daemon.sandbox + "/_sandbox/messages", json={"from": CONTACT, "to": ACCOUNT, "view_once": True,
                                                               "media": {"data": PNG_DATA_URL.split(",", 1)[1], "mimetype": "image/png"}})
    assert r.status_code == 201, r.text
    once = r.json()["id"]
    eventually("the view-once photo in the store", lambda: call("/shop1/getMessageById", [once]) or None)
    before = len(daemon.sent())
    code, b = ok("/shop1/forwardMessages", ["15557654321@c.us", [theirs, once], False])
    assert b["success"] is False and "viewed once" in b["error"]["message"], b
    assert len(daemon.sent()) == before, "none went"
    history = call("/shop1/getAllMessagesInChat", [CONTACT + "@c.us", True, False])
    ids = [m["id"] for m in history]
    assert text in ids and ids.index(loc["id"]) < ids.index(text), "oldest first"
    assert all(not m["fromMe"] for m in call("/shop1/getAllMessagesInChat", [CONTACT + "@c.us", False, False]))
    # Starred, then deleted for this account only: gone from the phone, and
    # from the daemon's history.
    assert call("/shop1/starMessage", [theirs]) is True
    assert httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/starred").json() == [theirs]
    assert call("/shop1/getMessageById", [theirs])["star"] is True
    assert [m["id"] for m in call("/shop1/getStarredMessages", [CONTACT + "@c.us"])] == [theirs]
    assert [m["id"] for m in call("/shop1/getStarredMessages", [])] == [theirs]
    assert call("/shop1/unstarMessage", {"messageId": theirs}) is True
    assert httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/starred").json() == []
    # Pinned for everyone in the chat, for open-wa's default of 30 days;
    # then unpinned. A duration WhatsApp Web does not know is refused.
    pins = lambda: httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/pins/{CONTACT}@c.us").json()["pins"]
    assert call("/shop1/pinMessage", [theirs, True]) is True
    assert [(p["msg"], p["secs"]) for p in pins()] == [(theirs, 2592000)]
    assert call("/shop1/pinMessage", {"id": theirs, "pin": False}) is True
    assert pins() == []
    assert call("/shop1/pinMessage", [theirs, True, "OneDay"]) is True
    assert [p["secs"] for p in pins()] == [86400]
    code, body = ok("/shop1/pinMessage", [theirs, True, "OneHour"])
    assert body["success"] is False and "pinDuration" in str(body), body
    # Another's message: not for everyone, so for this account, as open-wa.
    assert call("/shop1/deleteMessage", [CONTACT + "@c.us", theirs]) is True
    assert call("/shop1/getMessageById", [theirs]) is False
    everything = httpx.get(daemon.sandbox + "/_sandbox/messages",
                           params={"account": ACCOUNT, "direction": "all"}).json()
    assert theirs not in [m["id"] for m in everything]
    # Who got our message and who read it, as getMessageInfo and
    # getMessageReaders tell.
    info = eventually("delivered", lambda: (lambda i: i if i["delivery"] else None)(
        call("/shop1/getMessageInfo", [text])))
    assert (info["id"], [d["id"] for d in info["delivery"]], info["readRemaining"]) == (text, [CONTACT + "@c.us"], 1)
    assert call("/shop1/getMessageReaders", [text]) == []
    httpx.post(daemon.sandbox + f"/_sandbox/messages/{text}/read").raise_for_status()
    readers = eventually("read", lambda: call("/shop1/getMessageReaders", [text]) or None)
    assert [c["id"] for c in readers] == [CONTACT + "@c.us"] and isinstance(readers[0]["t"], int), readers
    assert call("/shop1/getMessageReaders", ["true_" + CONTACT + "@c.us_3EB0NOSUCH"]) == []
    assert call("/shop1/getMessageInfo", [text])["readRemaining"] == 0
    # One it does not know is passed over, as open-wa's smartDeleteMessages.
    assert call("/shop1/deleteMessage", [CONTACT + "@c.us", [text, "true_" + CONTACT + "@c.us_3EB0NOSUCH"]]) is True
    eventually("the delete at the phone", lambda: at_phone(text)["revoked"])

    # Contacts and chats.
    assert call("/shop1/getChatById", [CONTACT + "@c.us"])["id"] == CONTACT + "@c.us"
    assert call("/shop1/getChatById", ["15550000404@c.us"]) is False
    assert call("/shop1/getContact", [CONTACT + "@c.us"])["id"] == CONTACT + "@c.us"
    # The phone's address book reaches getContact and getAllContacts.
    httpx.put(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/contacts/{CONTACT}",
              json={"first_name": "Dora", "last_name": "Baker"}).raise_for_status()
    saved = eventually("the saved contact", lambda: (lambda c: c if c["isMyContact"] else None)(
        call("/shop1/getContact", [CONTACT + "@c.us"])))
    assert (saved["name"], saved["shortName"], saved["formattedName"], saved["type"]) == (
        "Dora Baker", "Dora", "Dora Baker", "in"), saved
    # What they write next names them as getContact does, by the saved name.
    said = daemon.inbound(CONTACT, "saved now", name=saved["pushname"] or "Alice")
    got = eventually("their message", lambda: call("/shop1/getMessageById", [said]) or None)
    who = ("name", "shortName", "pushname", "formattedName", "isMyContact", "type")
    assert {k: got["sender"][k] for k in who} == {k: saved[k] for k in who}, (got["sender"], saved)
    assert got["chat"]["name"] == "Dora Baker" and got["chat"]["contact"] == got["sender"], got["chat"]
    everyone = call("/shop1/getAllContacts")
    assert [c["name"] for c in everyone if c["isMyContact"]] == ["Dora Baker"], everyone
    assert all(not c["id"].endswith("@g.us") for c in everyone)
    assert call("/shop1/getContact", ["15550000404@c.us"]) is None, "one WhatsApp Web does not know"
    assert call("/shop1/getStatus", [CONTACT + "@c.us"]) == {"id": CONTACT + "@c.us", "status": "Baker"}
    assert call("/shop1/getProfilePicFromServer", [CONTACT + "@c.us"]).startswith("http")
    assert call("/shop1/simulateTyping", [CONTACT + "@c.us", True]) is True
    shown = httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/presence").json()
    assert shown["chats"][CONTACT + "@c.us"] == "composing"
    assert call("/shop1/contactBlock", [CONTACT + "@c.us"]) is True
    assert httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/blocked").json() == [CONTACT]
    assert call("/shop1/getBlockedIds") == [CONTACT + "@c.us"]
    assert call("/shop1/contactUnblock", {"id": CONTACT + "@c.us"}) is True
    assert call("/shop1/getBlockedIds") == []
    assert httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/blocked").json() == []
    # How the chat is kept, and what we show of ourselves.
    assert call("/shop1/archiveChat", [CONTACT + "@c.us", True]) is True
    assert call("/shop1/muteChat", [CONTACT + "@c.us", "FOREVER"]) is True
    kept = httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/chats").json()[CONTACT + "@c.us"]
    assert kept["archived"] is True and kept["mute_until"] > 0, kept
    assert call("/shop1/unmuteChat", [CONTACT + "@c.us"]) is True
    assert call("/shop1/archiveChat", {"id": CONTACT + "@c.us", "archive": False}) is True
    assert call("/shop1/archiveChat", ["15559990001@c.us", True]) is False
    assert call("/shop1/markAsUnread", [CONTACT + "@c.us"]) is True
    assert httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/chats").json()[CONTACT + "@c.us"]["marked_unread"] is True
    assert call("/shop1/sendSeen", [CONTACT + "@c.us"]) is True
    assert "marked_unread" not in httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/chats").json().get(CONTACT + "@c.us", {})
    code, body = ok("/shop1/muteChat", [CONTACT + "@c.us", "A_WHILE"])
    assert (body["success"], body["error"]["name"]) == (False, "INVALID_ARGS"), body
    assert call("/shop1/setMyName", ["Bakers"]) is True
    assert call("/shop1/setMyStatus", ["Open 7 to 7"]) is True
    assert call("/shop1/setProfilePic", [PNG_DATA_URL]) is True
    assert httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/profile").json() == {
        "name": "Bakers", "about": "Open 7 to 7", "has_picture": True}
    assert call("/shop1/simulateTyping", [CONTACT + "@c.us", False]) is True
    shown = httpx.get(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/presence").json()
    assert shown["chats"][CONTACT + "@c.us"] == "paused"

    # Unread: each unread chat's last that many; marked read, none.
    late = "15557000456"
    news = [daemon.inbound(late, f"unread {i}") for i in range(2)]
    eventually("the unread two", lambda: [m["id"] for m in call("/shop1/getAllUnreadMessages")
                                          if m["chatId"] == late + "@c.us"] == news)
    assert late + "@c.us" in call("/shop1/getAllChatIds")
    assert call("/shop1/getChat", [late + "@c.us"])["id"] == late + "@c.us"
    assert call("/shop1/markAllRead") is True
    eventually("none unread", lambda: not call("/shop1/getAllUnreadMessages"))

    # Groups.
    made = call("/shop1/createGroup", ["Bakers", [CONTACT + "@c.us"]])
    gid = made["gid"]["_serialized"]
    assert made["status"] == 200 and gid.endswith("@g.us") and made["participants"] == [{CONTACT + "@c.us": {"code": 200}}]
    assert sorted(call("/shop1/getGroupMembersId", [gid])) == sorted([ACCOUNT + "@c.us", CONTACT + "@c.us"])
    members = {c["id"]: c for c in call("/shop1/getGroupMembers", {"groupId": gid})}
    assert set(members) == {ACCOUNT + "@c.us", CONTACT + "@c.us"}
    # Contacts as getContact gives them, and this account marked.
    assert (members[ACCOUNT + "@c.us"]["isMe"], members[CONTACT + "@c.us"]["isMe"]) == (True, False), members
    known = call("/shop1/getContact", [CONTACT + "@c.us"])
    assert known["pushname"], known
    assert {k: members[CONTACT + "@c.us"][k] for k in ("name", "pushname", "formattedName")} == {
        k: known[k] for k in ("name", "pushname", "formattedName")}, (members, known)
    members_at_wa = lambda: {p["id"].split("@")[0] for p in httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}").json()["participants"]}
    assert call("/shop1/addParticipant", [gid, "15557654321@c.us"]) is True
    assert "15557654321" in members_at_wa()
    # Whom WhatsApp does not add: open-wa's AddParticipantError, its data
    # each one's code (403 their privacy settings, 409 already in).
    private = "15557654329"
    assert httpx.put(daemon.sandbox + f"/_sandbox/contacts/{private}", json={"group_add": "nobody"}).status_code == 200
    code, body = ok("/shop1/addParticipant", [gid, [private + "@c.us", "15557654321@c.us"]])
    assert code == 200 and body["success"] is False, body
    assert body["error"] == {"name": "ADD_PARTICIPANTS_ERROR", "message": "Unable to add some participants",
                             "data": {private + "@c.us": 403, "15557654321@c.us": 409}}, body
    assert private not in members_at_wa()
    assert call("/shop1/removeParticipant", [gid, "15557654321@c.us"]) is True
    assert "15557654321" not in members_at_wa()
    admin_at_wa = lambda: {p["id"].split("@")[0]: p["isAdmin"] for p in httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}").json()["participants"]}[CONTACT]
    assert call("/shop1/getGroupAdmins", [gid]) == [ACCOUNT + "@c.us"], "its maker"
    assert call("/shop1/promoteParticipant", [gid, CONTACT + "@c.us"]) is True
    assert admin_at_wa() is True
    assert sorted(call("/shop1/getGroupAdmins", {"groupId": gid})) == sorted([ACCOUNT + "@c.us", CONTACT + "@c.us"])
    assert call("/shop1/demoteParticipant", {"groupId": gid, "participantId": [CONTACT + "@c.us"]}) is True
    assert admin_at_wa() is False
    assert call("/shop1/setGroupTitle", [gid, "Bakers & co"]) is True
    assert httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}").json()["subject"] == "Bakers & co"
    assert call("/shop1/setGroupDescription", [gid, "Bread at 7"]) is True
    assert call("/shop1/setGroupToAdminsOnly", {"groupId": gid, "onlyAdmins": True}) is True
    assert call("/shop1/setGroupEditToAdminsOnly", [gid, True]) is True
    at_wa = httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}").json()
    assert (at_wa["desc"], at_wa["announce"], at_wa["restrict"]) == ("Bread at 7", True, True), at_wa
    assert call("/shop1/setGroupIcon", [gid, PNG_DATA_URL]) is True
    assert httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}/picture").status_code == 200
    # From a URL the daemon fetches: the group's own picture, served back.
    before = httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}/picture").content
    PNG = base64.b64decode(PNG_DATA_URL.split(",", 1)[1])
    httpx.put(daemon.sandbox + f"/_sandbox/contacts/{CONTACT}", json={"picture": base64.b64encode(PNG + b"\0").decode()}).raise_for_status()
    assert call("/shop1/setGroupIconByUrl", [gid, daemon.sandbox + f"/_sandbox/pictures/{CONTACT}"]) is True
    after = httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}/picture").content
    assert after != before and after.startswith(PNG[:8]), after[:16]
    code, body = ok("/shop1/setGroupIconByUrl", [gid, daemon.sandbox + "/_sandbox/messages?account=" + ACCOUNT])
    assert (body["success"], body["error"]["name"]) == (False, "INVALID_ARGS"), body
    code, body = ok("/shop1/setGroupToAdminsOnly", [gid])
    assert (body["success"], body["error"]["name"]) == (False, "INVALID_ARGS"), body
    first = call("/shop1/getGroupInviteLink", [gid])
    assert call("/shop1/revokeGroupInviteLink", [gid]) is True
    link = call("/shop1/getGroupInviteLink", [gid])
    assert link.startswith("https://chat.whatsapp.com/") and link != first
    info = call("/shop1/inviteInfo", [link])
    assert (info["id"]["_serialized"], info["subject"], info["size"]) == (gid, "Bakers & co", 2), info
    # A link reset since: WhatsApp's status, 404, as open-wa answers it.
    assert call("/shop1/inviteInfo", [first]) == 404
    call("/shop1/sendText", [gid, "welcome"])
    groups = eventually("the group among the chats", lambda: [g for g in call("/shop1/getAllGroups") if g["id"] == gid])
    meta = groups[0]["groupMetadata"]
    assert meta["id"]["_serialized"] == gid and meta["owner"]["_serialized"] == ACCOUNT + "@c.us"
    assert (meta["desc"], meta["announce"], meta["restrict"]) == ("Bread at 7", True, True), meta
    admins = {p["id"]["_serialized"]: p["isSuperAdmin"] for p in meta["participants"]}
    assert admins == {ACCOUNT + "@c.us": True, CONTACT + "@c.us": False}
    assert all(c["isGroup"] for c in call("/shop1/getAllGroups"))
    in_all = [c for c in call("/shop1/getAllChats") if c["id"] == gid]
    assert in_all and in_all[0]["groupMetadata"]["id"]["_serialized"] == gid
    assert call("/shop1/getGroupInviteLink", [CONTACT + "@c.us"]) is False
    assert call("/shop1/leaveGroup", [gid]) is True
    assert ACCOUNT not in members_at_wa()
    # Back through the link, as a bot passes it on: inside a message.
    back = call("/shop1/joinGroupViaLink", [f"come back: {link} (thanks)", True])
    assert back["id"] == gid and back["isGroup"] is True, back
    assert ACCOUNT in members_at_wa()
    assert call("/shop1/joinGroupViaLink", {"link": link}) == gid
    assert call("/shop1/joinGroupViaLink", [first]) == 404
    assert call("/shop1/leaveGroup", [gid]) is True

    # Bad arguments: open-wa's shape, nothing sent.
    code, body = ok("/shop1/sendLocation", [CONTACT, "north", "13.4"])
    assert (code, body["success"], body["error"]["name"]) == (200, False, "INVALID_ARGS"), body
    code, body = ok("/shop1/createGroup", ["Nobody", []])
    assert body["success"] is False and "contacts" in body["error"]["message"]

    # A chat cleared, then deleted: on the phone too; a chat never had is false.
    other = "15557000101"
    first = daemon.inbound(other, "spring sale?")
    eventually("the other chat", lambda: call("/shop1/getMessageById", [first]) or None)
    assert call("/shop1/clearChat", [other + "@c.us"]) is True
    assert call("/shop1/getMessageById", [first]) is False
    assert any(c["id"] == other + "@c.us" for c in call("/shop1/getAllChats")), "a cleared chat stays"
    assert call("/shop1/deleteChat", {"chatId": other + "@c.us"}) is True
    assert not any(c["id"] == other + "@c.us" for c in call("/shop1/getAllChats"))
    assert call("/shop1/deleteChat", ["15557000404@c.us"]) is False


def test_decrypt_media_as_open_wa_bots_read_what_came(daemon, backend, shop):
    """decryptMedia(message): the media as a data URL, by the Message a
    webhook handed on or by its id; NOT_MEDIA for a text."""
    png_b64 = PNG_DATA_URL.split(",", 1)[1]
    mid = daemon.inbound(CONTACT, "", media={"mimetype": "image/png", "filename": "in.png", "data": png_b64})
    msg = eventually("the picture stored", lambda: (lambda r: r.json()["response"] or None)(
        easy(backend, "/shop1/getMessageById", [mid])))
    assert msg["type"] == "image" and msg["sender"]["profilePicThumbObj"] == {}, msg
    for arg in ({"message": mid}, [msg]):
        r = easy(backend, "/shop1/decryptMedia", arg)
        assert r.status_code == 200 and r.json() == {"success": True, "response": PNG_DATA_URL}, r.text
    text = daemon.inbound(CONTACT, "no picture here")
    eventually("the text stored", lambda: easy(backend, "/shop1/getMessageById", [text]).json()["response"])
    r = easy(backend, "/shop1/decryptMedia", [text])
    assert r.status_code == 200 and r.json()["success"] is False and r.json()["error"]["name"] == "NOT_MEDIA", r.text


def test_cards_links_groups_and_the_build_as_open_wa_bots_ask(daemon, backend, shop):
    """sendVCard, sendLinkWithAutoPreview, getMyLastMessage, getGroupInfo,
    iAmAdmin, getCommonGroups and getWAVersion, by open-wa's names and
    parameter orders, answered in its shapes."""
    body = lambda r: (r.status_code, r.json())

    def call(path, args=None):
        code, b = body(easy(backend, path, args))
        assert code == 200 and b["success"] is True, (path, b)
        return b.get("response")

    cards = lambda: [m for m in daemon.sent() if m["type"] == "vcard"]
    # A vCard as bots build it (vcards-js): its name and its number go.
    vcard = "\r\n".join(["BEGIN:VCARD", "VERSION:3.0", "N:Baker;Anna;;;", "FN:Anna Baker",
                           "ORG:Bakers", "TEL;TYPE=WORK,VOICE:+1 555 700 2222", "END:VCARD"])
    before = len(cards())
    assert call("/shop1/sendVCard", [CONTACT + "@c.us", vcard]) is True
    card = eventually("the card at the phone", lambda: cards()[before:] and cards()[-1])
    assert "waid=15557002222" in card["vcards"][0] and "FN:Anna Baker" in card["vcards"][0], card
    # contactName and contactNumber stand in for the card's, as open-wa's.
    assert call("/shop1/sendVCard", {"chatId": CONTACT + "@c.us", "vcard": vcard,
                                     "contactName": "Shop", "contactNumber": "15557003333"}) is True
    card = eventually("the second card", lambda: len(cards()) > before + 1 and cards()[-1])
    assert "waid=15557003333" in card["vcards"][0] and "FN:Shop" in card["vcards"][0], card
    # Blank ones are not given, as open-wa reads them.
    assert call("/shop1/sendVCard", [CONTACT + "@c.us", vcard, "", ""]) is True
    card = eventually("the third card", lambda: len(cards()) > before + 2 and cards()[-1])
    assert "waid=15557002222" in card["vcards"][0] and "FN:Anna Baker" in card["vcards"][0], card
    code, b = body(easy(backend, "/shop1/sendVCard", [CONTACT + "@c.us", "not a vcard"]))
    assert code == 200 and b["success"] is False and b["error"]["name"] == "INVALID_ARGS", b
    code, b = body(easy(backend, "/shop1/sendVCard", [CONTACT + "@c.us", "BEGIN:VCARD\nFN:No number\nEND:VCARD"]))
    assert code == 200 and b["success"] is False and "phone number" in b["error"]["message"], b

    # A link, with the text around it as open-wa builds it.
    link = call("/shop1/sendLinkWithAutoPreview", [CONTACT, "https://example.com/menu", "Our menu"])
    sent = eventually("the link at the phone", lambda: {m["id"]: m for m in daemon.sent()}.get(link))
    assert sent["text"] == "https://example.com/menu\nOur menu", sent
    inline = call("/shop1/sendYoutubeLink", {"to": CONTACT, "url": "https://youtu.be/x", "text": "see https://youtu.be/x"})
    assert eventually("the second link", lambda: {m["id"]: m for m in daemon.sent()}.get(inline))["text"] == "see https://youtu.be/x"

    # Our newest message, in a chat and in any.
    eventually("the link stored", lambda: (call("/shop1/getMyLastMessage", [CONTACT + "@c.us"]) or {}).get("id") == inline)
    assert call("/shop1/getMyLastMessage")["id"] == inline
    assert call("/shop1/getMyLastMessage", [""])["id"] == inline, "a falsy chat: any"
    assert call("/shop1/getMyLastMessage", ["15557000999@c.us"]) is None, "no chat of ours: undefined"

    # Groups: its title and description; where we are admin; in common.
    gid = call("/shop1/createGroup", ["Ovens", [CONTACT + "@c.us"]])["gid"]["_serialized"]
    assert call("/shop1/setGroupDescription", [gid, "Hot at 6"]) is True
    assert call("/shop1/getGroupInfo", [gid]) == {"title": "Ovens", "description": "Hot at 6"}
    assert gid in call("/shop1/iAmAdmin")
    assert {"id": gid, "title": "Ovens"} in call("/shop1/getCommonGroups", [CONTACT + "@c.us"])
    assert all(g["id"] != gid for g in call("/shop1/getCommonGroups", ["15557000999@c.us"]))
    # A group someone else made: in common, but not ours to run.
    r = httpx.post(daemon.sandbox + "/_sandbox/groups", json={"owner": CONTACT, "subject": "Flour", "participants": [ACCOUNT]})
    assert r.status_code == 201, r.text
    theirs = r.json()["id"]
    eventually("their group seen", lambda: {"id": theirs, "title": "Flour"} in call("/shop1/getCommonGroups", [CONTACT + "@c.us"]))
    assert theirs not in call("/shop1/iAmAdmin") and gid in call("/shop1/iAmAdmin")
    # A message in it names the group by its subject, as open-wa's chat does.
    r = httpx.post(daemon.sandbox + "/_sandbox/messages", json={"from": CONTACT, "group": theirs, "text": "flour at 5"})
    assert r.status_code == 201, r.text
    said = eventually("the group's message", lambda: call("/shop1/getMessageById", [r.json()["ids"][ACCOUNT]]))
    assert (said["isGroupMsg"], said["chat"]["name"], said["chat"]["formattedTitle"]) == (True, "Flour", "Flour"), said["chat"]

    # The build WhatsApp Web says it is; what multi-device no longer tells.
    assert call("/shop1/getWAVersion") == "2.3000.1000000000-sandbox"
    assert call("/shop1/getBatteryLevel") == call("/shop1/getIsPlugged") == "DEPRECATED"


def test_load_earlier_messages_pages_back_as_open_wa_bots_loop(daemon, backend, shop):
    """loadEarlierMessages(chat): the next older batch (50 at most), oldest
    first, which getAllMessagesInChat shows from then on; [] at the start of
    the chat, so `while ((await loadEarlierMessages(id)).length)` ends."""
    who = "15557000123"
    ids = [daemon.inbound(who, f"old {i}") for i in range(130)]
    chat = who + "@c.us"
    body = lambda r: (r.status_code, r.json())
    shown = lambda: body(easy(backend, "/shop1/getAllMessagesInChat", [chat, True]))[1]["response"]
    eventually("all 130 stored", lambda: easy(backend, "/shop1/getMessageById", [ids[-1]]).json()["response"]
               and easy(backend, "/shop1/getMessageById", [ids[0]]).json()["response"])
    assert [m["id"] for m in shown()] == ids[30:], "the newest 100, oldest first"
    code, r = body(easy(backend, "/shop1/loadEarlierMessages", {"contactId": chat}))
    assert code == 200 and [m["id"] for m in r["response"]] == ids[:30], r
    assert [m["id"] for m in shown()] == ids, "shown from then on"
    # ...through the default session's path too.
    assert [m["id"] for m in body(easy(backend, "/getAllMessagesInChat", [chat, True]))[1]["response"]] == ids
    assert body(easy(backend, "/shop1/loadEarlierMessages", [chat]))[1].get("response") == [], body(easy(backend, "/shop1/loadEarlierMessages", [chat]))
    # New ones come after: what was loaded is still shown.
    newer = [daemon.inbound(who, f"new {i}") for i in range(3)]
    eventually("the new ones shown", lambda: [m["id"] for m in shown()] == ids + newer)
    code, r = body(easy(backend, "/shop1/loadAndGetAllMessagesInChat", [chat, True]))
    assert code == 200 and [m["id"] for m in r["response"]] == ids + newer, r


def test_load_earlier_messages_of_a_chat_from_before_the_link(daemon, backend):
    """A chat with no message since the link, whose history WhatsApp Web
    has: loadEarlierMessages brings it, as open-wa loads it from the page
    (it answered [] for ever, the store having nothing to page back from)."""
    phone, sid, who = "15550008383", "hist1", "15557000456"
    # The account's other device had them; the session linked later never saw them.
    daemon.link_session("hist0", phone=phone)
    old = []
    for i in range(3):
        r = httpx.post(daemon.sandbox + "/_sandbox/messages", timeout=10, json={
            "from": who, "to": phone, "text": f"before {i}", "sent_at": int(time.time()) - 3 * 86400 + i * 60})
        r.raise_for_status()
        old.append(r.json()["id"])
    daemon.link_session(sid, phone=phone)
    chat = who + "@c.us"
    # Once the session has caught up (until then WhatsApp Web is not asked,
    # which is no answer: STATE_ERROR, not [] as at the chat's start).
    def earlier():
        r = easy(backend, f"/{sid}/loadEarlierMessages", [chat]).json()
        if not r["success"]:
            assert r["error"]["name"] == "STATE_ERROR", r
            return None
        return [m["id"] for m in r["response"]] or None
    got = eventually("the chat's history from WhatsApp Web", earlier)
    assert got == old, got
    assert easy(backend, f"/{sid}/loadEarlierMessages", [chat]).json()["response"] == [], "the start of the chat"
    assert [m["id"] for m in easy(backend, f"/{sid}/getAllMessagesInChat", [chat, True]).json()["response"]] == old
    # Stopped, with nothing older stored: no answer, not the start.
    assert daemon.native().post(f"/api/sessions/{sid}/stop").status_code == 200
    r = easy(backend, f"/{sid}/loadEarlierMessages", [chat]).json()
    assert (r["success"], r["error"]["name"]) == (False, "STATE_ERROR"), r


def test_open_wa_webhooks_are_signed_and_shaped_like_open_wa(daemon, backend, receiver, shop):
    n = daemon.native()
    hooks = [{"url": receiver.url + "/whatsapp/incoming", "format": "simple"},
             {"url": receiver.url + "/openwa", "format": "openwa", "secret": SECRET,
              "events": ["message", "message.any", "message.ack"]}]
    r = n.put("/api/sessions/shop1/webhooks", json=hooks)
    assert r.status_code == 200, r.text
    mid = daemon.inbound(CONTACT, "open-wa shape", name="Alice")
    got = eventually("onMessage", lambda: [r for r in receiver.raw("/openwa")
                                           if json.loads(r["body"])["event"] == "onMessage"
                                           and json.loads(r["body"])["data"]["id"] == mid])
    req = got[0]
    payload = Webhook(SECRET).verify(req["body"], req["headers"])
    assert payload["sessionId"] == "shop1" and payload["id"].startswith("evt_")
    assert isinstance(payload["ts"], int) and payload["webhook_id"]
    d = payload["data"]
    assert (d["body"], d["type"], d["fromMe"], d["isGroupMsg"]) == ("open-wa shape", "chat", False, False)
    assert d["from"] == CONTACT + "@c.us" and d["chatId"] == CONTACT + "@c.us"
    assert d["sender"]["pushname"] == "Alice" and d["sender"]["id"] == CONTACT + "@c.us"
    assert isinstance(d["t"], int)
    # The chat rides along, as open-wa serializes it with each message: a
    # person's by the name saved for them (an earlier test saves one), else
    # the one they go by.
    assert (d["chat"]["id"], d["chat"]["isGroup"], d["chat"]["name"]) == (
        CONTACT + "@c.us", False, d["sender"]["name"] or "Alice"), d["chat"]
    assert (d["mentionedJidList"], d["quotedMsgObj"], d["isQuotedMsgAvailable"]) == ([], None, False)
    assert d["isViewOnce"] is False
    # A photo to be viewed once, as open-wa flags it.
    r = httpx.post(daemon.sandbox + "/_sandbox/messages",
                   json={"from": CONTACT, "to": ACCOUNT, "name": "Alice", "view_once": True,
                         "media": {"data": PNG_DATA_URL.split(",", 1)[1], "mimetype": "image/png"}})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    d1 = eventually("the view-once photo at onMessage", lambda: [json.loads(x["body"])["data"] for x in receiver.raw("/openwa")
                                                               if json.loads(x["body"])["event"] == "onMessage"
                                                               and json.loads(x["body"])["data"]["id"] == oid])[0]
    assert (d1["type"], d1["isViewOnce"], d1["isMedia"]) == ("image", True, True), d1
    assert "clientUrl" not in d1, "its media is the receiver's phone's only"
    # A scheduled event, with WhatsApp Web's event fields as open-wa hands
    # its messages on.
    r = httpx.post(daemon.sandbox + "/_sandbox/messages",
                   json={"from": CONTACT, "to": ACCOUNT, "name": "Alice",
                         "event": {"name": "Team lunch", "start": 1900000000, "end": 1900003600}})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    e1 = eventually("the event at onMessage", lambda: [json.loads(x["body"])["data"] for x in receiver.raw("/openwa")
                                                      if json.loads(x["body"])["event"] == "onMessage"
                                                      and json.loads(x["body"])["data"]["id"] == eid])[0]
    assert (e1["type"], e1["body"], e1["eventName"], e1["eventStartTime"], e1["eventEndTime"]) == \
        ("event_creation", "Team lunch", "Team lunch", 1900000000, 1900003600), e1
    assert (e1["isEventCanceled"], e1["isMedia"]) == (False, False), e1
    # A reply that mentions someone: what a bot checks.
    r = httpx.post(daemon.sandbox + "/_sandbox/messages",
                   json={"from": CONTACT, "to": ACCOUNT, "text": "@15557770009 see above", "name": "Alice",
                         "reply_to": mid, "mentions": ["15557770009"]})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    d = eventually("the reply at onMessage", lambda: [json.loads(x["body"])["data"] for x in receiver.raw("/openwa")
                                                     if json.loads(x["body"])["event"] == "onMessage"
                                                     and json.loads(x["body"])["data"]["id"] == rid])[0]
    assert d["mentionedJidList"] == ["15557770009@c.us"]
    assert d["quotedMsgObj"]["id"] == mid and d["isQuotedMsgAvailable"] is True
    # What the reply carries of the message it quotes, as open-wa hands it on.
    q = d["quotedMsgObj"]
    assert (q["body"], q["type"], q["fromMe"], q["sender"]["id"]) == ("open-wa shape", "chat", False, CONTACT + "@c.us"), q
    assert (d["quotedMsg"]["body"], d["quotedMsg"]["type"]) == ("open-wa shape", "chat")

    sent = easy(backend, "/shop1/sendText", [CONTACT, "ack me"]).json()["response"]
    acks = eventually("onAck delivered", lambda: [json.loads(r["body"]) for r in receiver.raw("/openwa")
                                                  if json.loads(r["body"])["event"] == "onAck"
                                                  and json.loads(r["body"])["data"]["id"] == sent
                                                  and json.loads(r["body"])["data"]["ack"] >= 2])
    assert acks[0]["data"]["fromMe"] is True
    # open-wa's onAck hands on the whole Message, with its new ack.
    d = acks[0]["data"]
    assert (d["body"], d["type"], d["to"], d["chatId"], d["self"]) == (
        "ack me", "chat", CONTACT + "@c.us", CONTACT + "@c.us", "out"), d
    own = eventually("onAnyMessage of our own send", lambda: [json.loads(r["body"]) for r in receiver.raw("/openwa")
                                                             if json.loads(r["body"])["event"] == "onAnyMessage"
                                                             and json.loads(r["body"])["data"]["id"] == sent])
    assert own[0]["data"]["fromMe"] is True and own[0]["data"]["self"] == "out"
    tampered = dict(req["headers"], **{"webhook-id": "evt_other"})
    with pytest.raises(Exception):
        Webhook(SECRET).verify(req["body"], tampered)


def test_the_middleware_forms_and_what_open_wa_hands_on(daemon, backend, receiver, shop):
    """open-wa's middleware takes the session from the path when the body
    names the method, and `POST /` on the default session; sendText and
    reply(sendSeen) mark the chat read; a file sent as octet-stream is typed
    by its name; webhooks carry fetchable media URLs, a deleted message as a
    Message, and a sender known only by a privacy id."""
    other = "15550002222"
    daemon.link_session("shop2", phone=other)
    assert backend.post("/shop2", json={"method": "getHostNumber"}).json() == {"success": True, "response": other}
    assert backend.post("/", json={"method": "getHostNumber"}).json() == {"success": True, "response": ACCOUNT}
    r = backend.post("/shop2", json={"method": "sendText", "args": [CONTACT + "@c.us", "from the second number"]}).json()
    assert r["success"] is True
    assert any(m["id"] == r["response"] for m in daemon.sent(account=other))
    assert not any(m["id"] == r["response"] for m in daemon.sent())

    unread = lambda: next(c["unreadCount"] for c in easy(backend, "/shop1/getAllChats").json()["response"]
                          if c["id"] == CONTACT + "@c.us")
    inbound = daemon.inbound(CONTACT, "are you there?")
    eventually("the message unread", lambda: unread() >= 1)
    assert easy(backend, "/shop1/reply", [CONTACT + "@c.us", "yes", inbound, True]).json()["success"] is True
    assert unread() == 0
    httpx.post(daemon.sandbox + "/_sandbox/unregistered", json={"phone": "15559990001"}).raise_for_status()
    assert easy(backend, "/shop1/reply", ["15559990001@c.us", "x", inbound]).json() == {"success": True, "response": False}

    pdf = "data:application/octet-stream;base64,JVBERi0xLjQKJcOkw7zDtsOfCg=="
    f = easy(backend, "/shop1/sendFile", [CONTACT + "@c.us", pdf, "report.pdf", "the report"]).json()
    assert {m["id"]: m for m in daemon.sent()}[f["response"]]["media"]["mimetype"] == "application/pdf"

    n = daemon.native()
    hooks = [{"url": receiver.url + "/openwa2", "format": "openwa", "events": ["message", "message.revoked"]},
             {"url": receiver.url + "/simple2", "format": "simple"}]
    assert n.put("/api/sessions/shop1/webhooks", json=hooks).status_code == 200
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    img = daemon.inbound(CONTACT, "", media={"mimetype": "image/png", "filename": "p.png", "data": png})
    bodies = lambda path: [json.loads(r["body"]) for r in receiver.raw(path)]
    m = eventually("the image at the open-wa hook", lambda: [b for b in bodies("/openwa2") if b["data"]["id"] == img])[0]["data"]
    assert m["clientUrl"].startswith(daemon.url + "/")
    assert httpx.get(m["clientUrl"], headers={"X-Api-Key": KEY}).status_code == 200
    r = httpx.post(f"{daemon.sandbox}/_sandbox/messages/{img}/revoke")
    assert r.status_code == 200, r.text
    gone = eventually("onMessageDeleted", lambda: [b for b in bodies("/openwa2") if b["event"] == "onMessageDeleted"])[0]["data"]
    assert (gone["id"], gone["type"], gone["from"], gone["chatId"]) == (img, "revoked", CONTACT + "@c.us", CONTACT + "@c.us")

    r = httpx.post(daemon.sandbox + "/_sandbox/messages", json={"from": "15557654321", "to": ACCOUNT, "text": "hidden number",
                                                                 "lid": True, "share_phone": False})
    assert r.status_code == 201, r.text
    simple = eventually("the simple body", lambda: [b for b in bodies("/simple2") if b["message"] == "hidden number"])[0]
    assert simple["from_number"].endswith("@lid"), simple


def test_group_changes_and_poll_votes_reach_open_wa_webhooks(daemon, receiver, shop):
    """What `--webhook` hands a v4 open-wa bot: onAddedToGroup when this
    account is put in a group, onGlobalParticipantsChanged for everyone
    else (`by` the admin, no `by` for one who left), a promotion, and
    onPollVote with the whole tally."""
    n = daemon.native()
    hooks = [{"url": receiver.url + "/openwa3", "format": "openwa",
              "events": ["group.join", "group.leave", "group.update", "message.poll_vote"]}]
    assert n.put("/api/sessions/shop1/webhooks", json=hooks).status_code == 200
    bodies = lambda: [json.loads(r["body"]) for r in receiver.raw("/openwa3")]
    sb = lambda path, body: httpx.post(daemon.sandbox + path, json=body)

    r = sb("/_sandbox/groups", {"owner": CONTACT, "subject": "Team", "participants": [ACCOUNT]})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    added = eventually("onAddedToGroup", lambda: [b for b in bodies() if b["event"] == "onAddedToGroup"])[0]["data"]
    assert (added["id"], added["isGroup"]) == (gid, True)
    # The whole group, as open-wa's Chat: its name and every member (bots
    # leave a group that is too small for them).
    assert (added["name"], added["formattedTitle"]) == ("Team", "Team"), added
    members = {p["id"]["_serialized"] for p in added["groupMetadata"]["participants"]}
    assert members == {CONTACT + "@c.us", ACCOUNT + "@c.us"}, added["groupMetadata"]

    newbie = "15557770123"
    assert sb(f"/_sandbox/groups/{gid}/participants", {"by": CONTACT, "add": [newbie]}).status_code == 200
    changed = lambda action: [b["data"] for b in bodies()
                              if b["event"] == "onGlobalParticipantsChanged" and b["data"]["action"] == action]
    add = eventually("a participant added", lambda: changed("add"))[0]
    assert add == {"action": "add", "who": newbie + "@c.us", "by": CONTACT + "@c.us", "chat": gid}
    assert sb(f"/_sandbox/groups/{gid}/leave", {"phone": newbie}).status_code == 200
    left = eventually("a participant left", lambda: changed("remove"))[0]
    assert left == {"action": "remove", "who": newbie + "@c.us", "chat": gid}
    # The owner, its only admin, leaves: this account is made one.
    assert sb(f"/_sandbox/groups/{gid}/leave", {"phone": CONTACT}).status_code == 200
    promoted = eventually("a promotion", lambda: changed("promote"))[0]
    assert promoted["who"] == ACCOUNT + "@c.us" and promoted["chat"] == gid

    r = n.post("/api/sessions/shop1/messages",
               json={"to": CONTACT, "poll": {"name": "Lunch?", "options": ["Yes", "No"]}})
    assert r.status_code == 201, r.text
    poll = r.json()["id"]
    assert sb(f"/_sandbox/messages/{poll}/vote", {"options": ["No"]}).status_code == 200
    vote = eventually("onPollVote", lambda: [b["data"] for b in bodies() if b["event"] == "onPollVote"])[0]
    assert vote["totalVotes"] == 1
    assert vote["pollOptions"] == [{"name": "Yes", "localId": 0, "count": 0}, {"name": "No", "localId": 1, "count": 1}]
    assert vote["votes"][0]["sender"] == CONTACT + "@c.us"
    assert (vote["votes"][0]["selectedOptionValues"], vote["votes"][0]["selectedOptionLocalIds"]) == (["No"], [1])
    assert vote["pollMessage"]["id"] == poll


def test_presence_polls_and_the_session_as_open_wa_bots_drive_them(daemon, backend, shop):
    """setPresence, simulateRecording and setChatState show on the phone;
    getPollData is the poll's tally as it stands; forceRefocus, refresh
    and kill do what open-wa's do to the session (on its own number, so
    the other tests' session keeps running)."""
    phone = "15550003333"
    daemon.link_session("shop3", phone=phone)
    call = lambda path, args=None: easy(backend, path, args).json()["response"]
    shown = lambda: httpx.get(daemon.sandbox + f"/_sandbox/accounts/{phone}/presence").json()
    assert call("/shop3/setPresence", [False]) is True
    assert shown()["online"] is False
    assert call("/shop3/setPresence", {"available": True}) is True
    assert shown()["online"] is True
    assert call("/shop3/simulateRecording", [CONTACT + "@c.us", True]) is True
    assert shown()["chats"][CONTACT + "@c.us"] == "recording"
    assert call("/shop3/setChatState", [0, CONTACT + "@c.us"]) is True
    assert shown()["chats"][CONTACT + "@c.us"] == "composing"
    assert call("/shop3/setChatState", {"chatState": 2, "chatId": CONTACT + "@c.us"}) is True
    assert shown()["chats"][CONTACT + "@c.us"] == "paused"
    body = easy(backend, "/shop3/setChatState", [7, CONTACT + "@c.us"]).json()
    assert (body["success"], body["error"]["name"]) == (False, "INVALID_ARGS"), body

    poll = call("/shop3/sendPoll", [CONTACT, "Lunch?", ["pizza", "pasta"]])
    assert httpx.post(daemon.sandbox + f"/_sandbox/messages/{poll}/vote", json={"options": ["pasta"]}).status_code == 200
    data = eventually("the vote in getPollData", lambda: (lambda d: d if d["totalVotes"] == 1 else None)(
        call("/shop3/getPollData", [poll])))
    assert data["pollOptions"] == [{"name": "pizza", "localId": 0, "count": 0}, {"name": "pasta", "localId": 1, "count": 1}]
    assert data["votes"][0]["sender"] == CONTACT + "@c.us" and data["pollMessage"]["id"] == poll
    text = call("/shop3/sendText", [CONTACT, "not a poll"])
    body = easy(backend, "/shop3/getPollData", [text]).json()
    assert (body["success"], body["error"]["name"]) == (False, "INVALID_ARGS"), body

    assert call("/shop3/forceRefocus") is True
    assert call("/shop3/refresh") is True
    eventually("connected again, no scan", lambda: call("/shop3/isConnected") is True)
    assert call("/shop3/kill") is True
    assert call("/shop3/getConnectionState") == "UNLAUNCHED"
    assert call("/shop3/forceRefocus") is False


def test_last_seen_business_profiles_unread_and_tags_as_open_wa_bots_ask(daemon, backend, shop):
    """getLastSeen and isChatOnline as a contact comes and goes,
    getBusinessProfile of a business and of a person, getUnreadMessages as
    the chats with their messages, and tagEveryone's message, which
    mentions every other member of a group."""
    call = lambda path, args=None: easy(backend, path, args).json()["response"]
    sb = lambda path, body: httpx.post(daemon.sandbox + path, json=body)
    who = "15557770301"
    chat = who + "@c.us"
    assert call("/shop1/getLastSeen", [chat]) is False, "never heard of"
    assert sb("/_sandbox/presence", {"from": who, "to": ACCOUNT, "state": "available"}).json()["delivered"] is True
    eventually("online", lambda: call("/shop1/isChatOnline", [chat]) is True)
    assert call("/shop1/getLastSeen", {"chatId": chat}) is False, "online: no time last seen"
    sb("/_sandbox/presence", {"from": who, "to": ACCOUNT, "state": "unavailable"})
    last = eventually("a time last seen", lambda: (lambda t: t if t is not False else None)(call("/shop1/getLastSeen", [chat])))
    assert isinstance(last, int) and abs(last - time.time()) < 120, last
    assert call("/shop1/isChatOnline", [chat]) is False
    assert call("/shop1/isChatOnline", ["120363000000000001@g.us"]) is False

    business = {"description": "Fresh bread", "email": "hi@bakery.test", "website": ["https://bakery.test"],
                "categories": ["Bakery"], "address": "1 Main St"}
    assert httpx.put(daemon.sandbox + f"/_sandbox/contacts/{who}", json={"business": business}).status_code == 200
    assert call("/shop1/getBusinessProfile", [chat]) == {
        "id": chat, "description": "Fresh bread", "email": "hi@bakery.test", "website": ["https://bakery.test"],
        "address": "1 Main St", "categories": [{"localized_display_name": "Bakery"}]}
    assert call("/shop1/getBusinessProfile", {"id": "15557770302@c.us"}) is None

    first, second = daemon.inbound(who, "one", name="Bea"), daemon.inbound(who, "two", name="Bea")
    unread = lambda: [c for c in call("/shop1/getUnreadMessages", [False, False, True]) if c["id"] == chat]
    got = eventually("the chat with both unread", lambda: [c for c in unread() if len(c["messages"]) == 2])[0]
    assert [m["id"] for m in got["messages"]] == [first, second]
    assert (got["isGroup"], got["messages"][0]["body"]) == (False, "one")
    assert call("/shop1/sendSeen", [chat]) is True
    eventually("read: no longer unread", lambda: unread() == [])

    gid = sb("/_sandbox/groups", {"owner": CONTACT, "subject": "Everyone", "participants": [ACCOUNT, who]}).json()["id"]
    eventually("the group", lambda: len(call("/shop1/getGroupMembersId", [gid]) or []) == 3)
    sent = lambda mid: eventually("the message at WhatsApp", lambda: [m for m in daemon.sent() if m["id"] == mid])[0]
    tags = {"@" + CONTACT, "@" + who}
    m = sent(call("/shop1/tagEveryone", [gid, "Meeting at 5"]))
    head, body = m["text"].split("\n")
    assert (set(head.split(" ")), body) == (tags, "Meeting at 5"), m["text"]
    assert sorted(m["mentions"]) == sorted([CONTACT, who])
    m = sent(call("/shop1/tagEveryone", {"groupId": gid, "content": "Agenda", "messageBeforeTags": True,
                                          "formatting": "- @mention\n"}))
    lines = m["text"].split("\n")
    assert (lines[0], set(lines[1:])) == ("Agenda", {"- " + t for t in tags}), m["text"]
    # Disappearing messages (a group's): an admin's to set; true is a day,
    # as open-wa's.
    body = easy(backend, "/shop1/setChatEphemeral", [gid, True]).json()
    assert (body["success"], body["error"]["name"]) == (False, "ERROR") and "admins" in body["error"]["message"], body
    assert sb(f"/_sandbox/groups/{gid}/admins", {"by": CONTACT, "promote": [ACCOUNT]}).status_code == 200
    eventually("made an admin", lambda: gid in call("/shop1/iAmAdmin"))
    assert call("/shop1/setChatEphemeral", [gid, True]) is True
    at_wa = lambda: httpx.get(daemon.sandbox + f"/_sandbox/groups/{gid}").json()
    assert at_wa()["ephemeral"] == 86400
    eventually("its metadata", lambda: call("/shop1/getChatById", [gid])["groupMetadata"]["ephemeralDuration"] == 86400)
    assert call("/shop1/setChatEphemeral", {"chatId": gid, "ephemeral": 7776000}) is True
    assert at_wa()["ephemeral"] == 7776000
    assert call("/shop1/setChatEphemeral", [gid, False]) is True
    assert at_wa()["ephemeral"] == 0
    for bad in ([gid, 3600], [chat, True]):
        body = easy(backend, "/shop1/setChatEphemeral", bad).json()
        assert (body["success"], body["error"]["name"]) == (False, "INVALID_ARGS"), body
    m = sent(call("/shop1/tagEveryone", [gid, "Quietly", True]))
    assert (m["text"], sorted(m["mentions"])) == ("Quietly", sorted([CONTACT, who]))
    body = easy(backend, "/shop1/tagEveryone", [chat, "not a group"]).json()
    assert (body["success"], body["error"]["name"]) == (False, "INVALID_ARGS"), body


def test_chats_cards_and_stories_as_open_wa_bots_tidy_up(daemon, backend, shop):
    """getIndicatedNewMessages, getLastMsgTimestamps, isChatMuted,
    sendMultipleContacts and getVCards, loadEarlierMessagesTillDate,
    getMyStatusArray and deleteAllStories, then clearAllChats (on a
    session of its own: it clears every chat)."""
    phone = "15550005656"
    daemon.link_session("shop5", phone=phone)
    call = lambda path, args=None: easy(backend, path, args).json()["response"]
    who = "15557770401"
    chat = who + "@c.us"
    first = daemon.inbound(who, "hello there", name="Cy", to=phone)
    new = eventually("the unread chat", lambda: [c for c in call("/shop5/getIndicatedNewMessages")
                                                 if c["id"] == chat and c["indicatedNewMessages"]])[0]
    assert [m["id"] for m in new["indicatedNewMessages"]] == [first]
    stamps = {t["id"]: t["t"] for t in call("/shop5/getLastMsgTimestamps")}
    assert abs(stamps[chat] / 1000 - time.time()) < 120, stamps
    # The deprecated and the Insiders ways of asking the same.
    assert [m["id"] for m in call("/shop5/getAllNewMessages") if m["chatId"] == chat] == [first]
    assert chat in [c["id"] for c in call("/shop5/getAllChatsWithMessages", [True])]
    strangers = call("/shop5/getChatWithNonContacts")
    assert chat in [c["id"] for c in strangers] and all(c["isMyContact"] is False for c in strangers), strangers

    assert call("/shop5/isChatMuted", [chat]) is False
    assert call("/shop5/muteChat", [chat, "EIGHT_HOURS"]) is True
    eventually("muted", lambda: call("/shop5/isChatMuted", {"chatId": chat}) is True)
    assert call("/shop5/isChatMuted", ["15550000001@c.us"]) is False, "no such chat"

    # A saved contact's card has the address book's name, as WhatsApp
    # Web's card of that contact; one not saved, their number.
    httpx.put(daemon.sandbox + f"/_sandbox/accounts/{phone}/contacts/15557770402",
              json={"first_name": "Eve", "last_name": "Stone"}).raise_for_status()
    eventually("the saved contact", lambda: (call("/shop5/getContact", ["15557770402@c.us"]) or {}).get("isMyContact"))
    cards = call("/shop5/sendMultipleContacts", [chat, [CONTACT + "@c.us", "15557770402@c.us"]])
    got = eventually("the cards stored", lambda: call("/shop5/getVCards", [cards]) or None)
    assert [c["displayName"] for c in got] == ["+" + CONTACT, "Eve Stone"], got
    assert all("waid=" in c["vcard"] for c in got), got
    assert call("/shop5/getVCards", [first]) is False, "no card in a text"
    bad = easy(backend, "/shop5/sendMultipleContacts", [chat, ["120363000000000001@g.us"]]).json()
    assert (bad["success"], bad["error"]["name"]) == (False, "INVALID_ARGS"), bad

    assert call("/shop5/loadEarlierMessagesTillDate", [chat, int(time.time()) - 3600]) is True
    bad = easy(backend, "/shop5/loadEarlierMessagesTillDate", [chat, "yesterday"]).json()
    assert (bad["success"], bad["error"]["name"]) == (False, "INVALID_ARGS"), bad

    story = call("/shop5/postTextStatus", ["Open today", "#FFFFFFFF", "#4FF31FF2", 0])
    assert [m["id"] for m in eventually("our story", lambda: call("/shop5/getMyStatusArray") or None)] == [story]
    assert call("/shop5/deleteAllStories") is True
    assert call("/shop5/getMyStoryArray") == []

    assert call("/shop5/clearAllChats", [1]) is True, "nothing as old as 1970: nothing cleared"
    assert [m["id"] for m in call("/shop5/getAllMessagesInChat", [chat, True])] == [first, cards]
    assert call("/shop5/clearAllChats") is True
    eventually("the chat cleared", lambda: call("/shop5/getAllMessagesInChat", [chat, True]) == [])


def test_webhooks_registered_through_the_easy_api(daemon, backend, receiver, shop):
    """registerWebhook, listWebhooks, updateWebhook and removeWebhook as an
    open-wa bot calls them at run time: the webhook posts open-wa's bodies
    for the listeners asked for, with the requestConfig's headers, under
    the id registerWebhook answered."""
    call = lambda path, args=None: easy(backend, path, args).json()
    url = receiver.url + "/registered"
    # (An axios config's Content-Type is the post's own: left out.)
    r = call("/shop1/registerWebhook", [url, ["onMessage", "onBattery"],
                                        {"headers": {"X-Bot": "b1", "Content-Type": "application/json"}}])
    assert r["success"] is True, r
    hook = r["response"]
    assert (hook["url"], hook["events"], hook["requestConfig"]["headers"]) == (url, ["onMessage"], {"X-Bot": "***"}), hook
    assert hook["id"] and hook["ts"] > 0
    # Registered again at the next start, by a bare name: the same webhook.
    again = call("/shop1/registerWebhook", {"url": url, "events": "message", "requestConfig": {"headers": {"X-Bot": "b1"}}})["response"]
    assert (again["id"], again["events"]) == (hook["id"], ["onMessage"]), again
    ours = lambda: [h["id"] for h in call("/shop1/listWebhooks")["response"] if h["url"] == url]
    assert ours() == [hook["id"]]
    # A secret given to it (the native API) outlasts its next registration
    # (on a session of its own: the list is set whole).
    daemon.link_session("shop4", phone="15550004545")
    n = daemon.native()
    assert n.put("/api/sessions/shop4/webhooks", json=[{"url": url, "format": "openwa", "events": ["message"],
                                                        "secret": SECRET}]).status_code == 200
    assert call("/shop4/registerWebhook", [url, ["onMessage", "onAck"]])["success"] is True
    kept = n.get("/api/sessions/shop4").json()["webhooks"]
    assert [(h["url"], h.get("secret"), sorted(h["events"])) for h in kept] == [(url, "***", ["message", "message.ack"])], kept
    mid = daemon.inbound(CONTACT, "to the registered hook")
    got = eventually("the registered webhook's post", lambda: [r for r in receiver.raw("/registered")
                                                               if json.loads(r["body"])["data"].get("id") == mid])[0]
    body = json.loads(got["body"])
    assert (body["event"], body["webhook_id"], body["data"]["body"]) == ("onMessage", hook["id"], "to the registered hook"), body
    assert {k.lower(): v for k, v in got["headers"].items()}["x-bot"] == "b1"
    # Every listener; then one the daemon does not serve is refused.
    updated = call("/shop1/updateWebhook", [hook["id"], "all"])["response"]
    assert "onAck" in updated["events"] and "onMessage" in updated["events"], updated
    bad = call("/shop1/updateWebhook", [hook["id"], ["onBattery"]])
    assert (bad["success"], bad["error"]["name"]) == (False, "INVALID_ARGS"), bad
    assert call("/shop1/updateWebhook", ["nosuchid", ["onMessage"]])["response"] is False
    assert call("/shop1/removeWebhook", [hook["id"]])["response"] is True
    assert call("/shop1/removeWebhook", [hook["id"]])["response"] is False
    assert ours() == []


def test_reactions_chat_states_and_removal_reach_open_wa_listeners(daemon, backend, receiver, shop):
    """onReaction with open-wa's ReactionEvent (the message, its reactions
    by emoji, ours among them, add or change), onChatState as a contact
    types, and onRemovedFromGroup when an admin puts this account out."""
    call = lambda path, args=None: easy(backend, path, args).json()["response"]
    sb = lambda path, body: httpx.post(daemon.sandbox + path, json=body)
    url = receiver.url + "/listeners"
    # (The group listeners asked for hear what onGlobalParticipantsChanged
    # hears: what is posted is named by what was asked for.)
    asked = ["onReaction", "onChatState", "onRemovedFromGroup", "onAddedToGroup", "onGroupChange"]
    hook = call("/shop1/registerWebhook", [url, asked])
    assert sorted(hook["events"]) == sorted(asked), hook
    assert [sorted(h["events"]) for h in call("/shop1/listWebhooks") if h["id"] == hook["id"]] == [sorted(asked)]
    posted = lambda event: [json.loads(r["body"])["data"] for r in receiver.raw("/listeners")
                            if json.loads(r["body"])["event"] == event]

    mid = call("/shop1/sendText", [CONTACT + "@c.us", "react to this"])
    assert call("/shop1/react", [mid, "👍"]) is True
    mine = eventually("our reaction", lambda: [d for d in posted("onReaction") if d["reactions"]])[0]
    assert (mine["type"], mine["message"]["id"], mine["message"]["body"]) == ("add", mid, "react to this"), mine
    assert mine["reactionByMe"]["aggregateEmoji"] == "👍" and mine["reactionByMe"]["hasReactionByMe"] is True
    assert sb(f"/_sandbox/messages/{mid}/react", {"emoji": "👍", "from": CONTACT}).status_code == 200
    both = eventually("theirs too", lambda: [d for d in posted("onReaction")
                                             if any(len(g["senders"]) == 2 for g in d["reactions"])])[0]
    [thumbs] = both["reactions"]
    assert {s["senderUserJid"] for s in thumbs["senders"]} == {ACCOUNT + "@c.us", CONTACT + "@c.us"}, both
    assert all(s["parentMsgKey"] == mid and s["reactionText"] == "👍" for s in thumbs["senders"])
    assert sb(f"/_sandbox/messages/{mid}/react", {"emoji": "❤️", "from": CONTACT}).status_code == 200
    changed = eventually("their change", lambda: [d for d in posted("onReaction") if d["type"] == "change"])[0]
    assert sorted(g["aggregateEmoji"] for g in changed["reactions"]) == sorted(["👍", "❤️"]), changed

    call("/shop1/isChatOnline", [CONTACT + "@c.us"])  # asking subscribes to their presence
    assert sb("/_sandbox/presence", {"from": CONTACT, "to": ACCOUNT, "state": "composing"}).json()["delivered"] is True
    typing = eventually("onChatState", lambda: [d for d in posted("onChatState") if d["state"] == "composing"])[0]
    assert typing == {"chat": CONTACT + "@c.us", "user": CONTACT + "@c.us", "state": "composing"}

    gid = sb("/_sandbox/groups", {"owner": CONTACT, "subject": "Soon without us", "participants": [ACCOUNT]}).json()["id"]
    eventually("the group", lambda: call("/shop1/getGroupMembersId", [gid]))
    # open-wa's GenericGroupChangeEvent: the notice's MessageId, its author a Contact.
    assert sb(f"/_sandbox/groups/{gid}/subject", {"by": CONTACT, "subject": "Renamed"}).status_code == 200
    renamed = eventually("onGroupChange", lambda: posted("onGroupChange"))[0]
    assert (renamed["type"], renamed["body"], renamed["groupMetadata"]["id"]) == ("subject", "Renamed", gid), renamed
    assert (renamed["author"]["id"], renamed["author"]["isMe"]) == (CONTACT + "@c.us", False), renamed
    assert renamed["id"].startswith(f"false_{gid}_"), renamed
    # This account's own change: its author is me.
    assert call("/shop1/setGroupTitle", [gid, "Ours now"]) is True
    ours = eventually("our own onGroupChange", lambda: [d for d in posted("onGroupChange") if d["body"] == "Ours now"])[0]
    assert (ours["author"]["id"], ours["author"]["isMe"]) == (ACCOUNT + "@c.us", True), ours
    assert sb(f"/_sandbox/groups/{gid}/participants", {"by": CONTACT, "remove": [ACCOUNT]}).status_code == 200
    out = eventually("onRemovedFromGroup", lambda: posted("onRemovedFromGroup"))[0]
    assert (out["id"], out["isGroup"]) == (gid, True), out
    assert posted("onGlobalParticipantsChanged") == [], "not asked for"
    assert call("/shop1/removeWebhook", [hook["id"]]) is True


def test_calls_reach_on_incoming_call_and_auto_reject_declines_them(daemon, backend, receiver, shop):
    """A v4 bot's `onIncomingCall` gets open-wa's Call, signed; its
    `autoReject(message)` declines every call from then on and tells the
    caller why, once per call."""
    n = daemon.native()
    hooks = [{"url": receiver.url + "/openwa4", "format": "openwa", "secret": SECRET, "events": ["call.received"]}]
    assert n.put("/api/sessions/shop1/webhooks", json=hooks).status_code == 200
    sb = lambda path, body=None: httpx.post(daemon.sandbox + path, json=body or {})
    state = lambda call: httpx.get(daemon.sandbox + f"/_sandbox/calls/{call}").json()

    r = sb("/_sandbox/calls", {"from": CONTACT, "to": ACCOUNT, "video": True})
    assert r.status_code == 201, r.text
    call = r.json()["id"]
    got = eventually("onIncomingCall", lambda: [x for x in receiver.raw("/openwa4")
                                                if json.loads(x["body"])["data"]["id"] == call])[0]
    body = Webhook(SECRET).verify(got["body"], got["headers"])
    assert body["event"] == "onIncomingCall" and body["sessionId"] == "shop1"
    c = body["data"]
    assert (c["peerJid"], c["isVideo"], c["isGroup"], c["outgoing"]) == (CONTACT + "@c.us", True, False, False)
    assert c["State"] == "INCOMING_RING" and isinstance(c["offerTime"], int) and c["participants"] == []
    assert sb(f"/_sandbox/calls/{call}/hangup").status_code == 200

    say = "Calls are not answered here: please write."
    r = easy(backend, "/shop1/autoReject", [say])
    assert r.status_code == 200 and r.json()["response"] is True, r.text
    told = lambda: [m for m in httpx.get(daemon.sandbox + f"/_sandbox/messages?account={ACCOUNT}&direction=all").json()
                    if m["from_me"] and m["text"] == say]
    call = sb("/_sandbox/calls", {"from": CONTACT, "to": ACCOUNT}).json()["id"]
    declined = eventually("the call declined", lambda: (lambda c: c if c["state"] != "ringing" else None)(state(call)))
    assert (declined["state"], declined["ended_by"]) == ("rejected", "device")
    assert len(eventually("the caller told why", told)) == 1
    # Off again, for the tests after this one.
    assert n.patch("/api/sessions/shop1", json={"calls": None}).json().get("calls") is None


def test_requests_to_join_reach_open_wa_and_are_answered(daemon, backend, receiver, shop):
    """A group whose admins approve who joins: onGroupApprovalRequest for
    each request (a gp2 Message whose author asks), getGroupApprovalRequests,
    approveGroupJoinRequest and rejectGroupJoinRequest."""
    n = daemon.native()
    hooks = [{"url": receiver.url + "/openwa5", "format": "openwa", "events": ["group.membership_request"]}]
    assert n.put("/api/sessions/shop1/webhooks", json=hooks).status_code == 200
    r = n.post("/api/sessions/shop1/groups", json={"subject": "Club", "participants": [CONTACT]})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    sb = lambda path, body: httpx.post(daemon.sandbox + path, json=body)
    assert sb(f"/_sandbox/groups/{gid}/settings", {"by": ACCOUNT, "approval": True}).status_code == 200
    link = n.get(f"/api/sessions/shop1/groups/{gid}/invite").json()["link"]
    a, b = "15557770401", "15557770402"
    for who in (a, b):
        assert sb("/_sandbox/groups/join", {"phone": who, "invite": link}).json()["requested"] is True
    asked = eventually("onGroupApprovalRequest", lambda: (lambda got: got if len(got) == 2 else None)(
        [json.loads(x["body"]) for x in receiver.raw("/openwa5")]))
    for body, who in zip(sorted(asked, key=lambda x: x["data"]["author"]), (a, b)):
        assert body["event"] == "onGroupApprovalRequest"
        m = body["data"]
        assert (m["type"], m["subtype"], m["chatId"], m["author"]) == ("gp2", "membership_approval_request", gid, who + "@c.us")
    got = easy(backend, "/shop1/getGroupApprovalRequests", [gid]).json()["response"]
    assert got == [a + "@c.us", b + "@c.us"]
    assert easy(backend, "/shop1/approveGroupJoinRequest", [gid, a + "@c.us"]).json()["response"] is True
    assert easy(backend, "/shop1/rejectGroupJoinRequest", {"groupChatId": gid, "contactId": b + "@c.us"}).json()["response"] is True
    assert easy(backend, "/shop1/getGroupApprovalRequests", [gid]).json()["response"] == []
    # Nothing left to answer: false, as open-wa answers.
    assert easy(backend, "/shop1/approveGroupJoinRequest", [gid, b + "@c.us"]).json()["response"] is False


def test_labels_as_open_wa_business_bots_use_them(daemon, backend, shop):
    """A business account's labels through open-wa's calls: createLabel,
    addLabel and removeLabel by id or name, getAllLabels with the chats
    each is on, getChatsByLabel by name in any case."""
    call = lambda path, args=None: easy(backend, path, args).json()["response"]
    daemon.inbound(CONTACT, "labels, please")
    chat = CONTACT + "@c.us"
    assert call("/shop1/createLabel", ["VIP"]) is False, "a personal account has no labels"
    assert httpx.post(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/business", json={"business": True}).status_code == 200
    lid = eventually("a business account", lambda: (lambda r: r if r is not False else None)(call("/shop1/createLabel", ["VIP"])))
    assert isinstance(lid, str) and lid.isdigit()
    assert call("/shop1/addLabel", ["vip", chat]) is False, "a name is matched exactly, as open-wa matches it"
    assert call("/shop1/addLabel", ["VIP", chat]) is True
    assert call("/shop1/addLabel", ["1", chat]) is True
    labels = {l["name"]: l for l in call("/shop1/getAllLabels")}
    assert labels["VIP"]["items"] == [{"type": "Chat", "id": chat}]
    assert labels["New customer"]["items"] == [{"type": "Chat", "id": chat}]
    assert [c["id"] for c in call("/shop1/getChatsByLabel", ["new CUSTOMER"])] == [chat]
    assert call("/shop1/removeLabel", [lid, chat]) is True
    assert call("/shop1/getChatsByLabel", ["VIP"]) == []
    assert call("/shop1/addLabel", ["No such label", chat]) is False
    assert httpx.post(daemon.sandbox + f"/_sandbox/accounts/{ACCOUNT}/business", json={"business": False}).status_code == 200


def test_stories_as_open_wa_posts_them(daemon, backend, shop):
    """postTextStatus (open-wa's #RRGGBBAA colours), postImageStatus and
    deleteStatus, as a v4 bot calls them; the contacts' phones see them."""
    call = lambda path, args=None: easy(backend, path, args).json()["response"]
    sent = lambda: httpx.get(daemon.sandbox + f"/_sandbox/messages?account={ACCOUNT}&direction=all").json()
    sid = call("/shop1/postTextStatus", ["Back at 3", "#FFFFFFFF", "#4FF31FF2", 1])
    assert isinstance(sid, str) and "status@broadcast" in sid, sid
    story = eventually("the story", lambda: [m for m in sent() if m["id"] == sid])[0]
    assert (story["to"], story["text"], story["status"]) == ("status@broadcast", "Back at 3", {"background": "#4ff31f", "font": 1})
    png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    pid = call("/shop1/postImageStatus", {"data": png, "caption": "New stock"})
    shot = eventually("the image story", lambda: [m for m in sent() if m["id"] == pid])[0]
    assert (shot["type"], shot["caption"]) == ("image", "New stock")
    chat_msg = daemon.native().post("/api/sessions/shop1/messages", json={"to": CONTACT, "text": "not a story"}).json()["id"]
    assert call("/shop1/deleteStatus", [chat_msg]) is False, "only a status is taken down"
    assert not [m for m in sent() if m["id"] == chat_msg and m["revoked"]]
    assert call("/shop1/deleteStatus", [[sid, pid]]) is True
    eventually("both taken down", lambda: all(m["revoked"] for m in sent() if m["id"] in (sid, pid)) or None)


OPEN_WA_ROUTES = [("POST", "/session/create"), ("POST", "/message/send"), ("GET", "/session/shop1/status"),
                  ("GET", "/sessions"), ("POST", "/session/shop1/logout"), ("DELETE", "/session/shop1"),
                  ("POST", "/shop1/sendText"), ("POST", "/getConnectionState")]


def test_every_open_wa_route_wants_the_key(daemon, shop):
    for method, path in OPEN_WA_ROUTES:
        r = httpx.request(method, daemon.url + path, json={})
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["success"] is False
        challenges = r.headers.get_list("www-authenticate")
        assert any(c.startswith("Basic") for c in challenges), challenges
        wrong = httpx.request(method, daemon.url + path, json={}, auth=("wabridge", "nope"))
        assert wrong.status_code == 401, (method, path)
    for header in ["key", "api_key", "x-api-key"]:
        r = httpx.post(daemon.url + "/shop1/isConnected", json={}, headers={header: KEY})
        assert r.json() == {"success": True, "response": True}, header
    native = httpx.get(daemon.url + "/api/sessions", auth=("any-user", KEY))
    assert native.status_code == 200


def test_a_session_named_session_takes_easy_calls_at_its_path(daemon, backend):
    """open-wa's default sessionId is "session": POST /session/{method}
    is the EASY API on it, though the wrapper owns /session/{id}."""
    r = daemon.native().post("/api/sessions", json={"id": "session", "start": False})
    assert r.status_code == 201, r.text
    r = easy(backend, "/session/getConnectionState")
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "response": "UNLAUNCHED"}
    r = easy(backend, "/session/sendText", {"to": CONTACT})
    assert r.status_code == 200 and r.json()["error"]["name"] == "INVALID_ARGS", r.text
    assert daemon.native().delete("/api/sessions/session").status_code == 200


def test_bad_bodies_get_the_documented_shapes(daemon, backend, shop):
    def check(r, status):
        assert r.status_code == status, (r.status_code, r.text)
        body = r.json()
        assert body["success"] is False and isinstance(body["error"], str) and body["error"], body
        # /message/send's shape, whatever the outcome.
        assert "message_id" in body and body["message_id"] is None, body

    check(backend.post("/session/create", json={}), 422)
    check(backend.post("/session/create", json={"session_id": "../x"}), 422)
    check(backend.post("/session/create", content=b"{not json", headers={"content-type": "application/json"}), 400)
    check(backend.post("/message/send", json={"to_number": CONTACT, "message": "x"}), 422)
    check(backend.post("/message/send", json={"session_id": "shop1", "to_number": "abc", "message": "x"}), 422)
    check(backend.post("/message/send", json={"session_id": "shop1", "to_number": CONTACT}), 422)
    check(backend.post("/message/send", json={"session_id": "nope", "to_number": CONTACT, "message": "x"}), 404)
    check(backend.post("/message/send", content=b"[1,2", headers={"content-type": "application/json"}), 400)
    big = json.dumps({"session_id": "shop1", "to_number": CONTACT, "message": "x" * (10 << 20)})
    check(backend.post("/message/send", content=big, headers={"content-type": "application/json"}), 413)
    check(backend.get("/session/nope/status"), 404)

    # A session that exists but is not running.
    r = daemon.native().post("/api/sessions", json={"id": "idle", "start": False})
    assert r.status_code == 201, r.text
    check(backend.post("/message/send", json={"session_id": "idle", "to_number": CONTACT, "message": "x"}), 409)
    r = easy(backend, "/idle/sendText", [CONTACT, "x"])
    assert r.status_code == 200 and r.json()["success"] is False
    assert r.json()["error"]["name"] == "STATE_ERROR"
    assert easy(backend, "/idle/getConnectionState").json()["response"] == "UNLAUNCHED"

    # EASY API: bad args fail the method, as in open-wa (200, success
    # false: what an axios or requests client checks); an unknown session
    # 404; never a 5xx.
    for args in [{"to": CONTACT}, [], "text", {"to": "abc", "content": "x"}]:
        r = easy(backend, "/shop1/sendText", args)
        assert r.status_code == 200 and r.json()["success"] is False, (args, r.text)
        assert r.json()["error"]["name"] == "INVALID_ARGS"
    r = easy(backend, "/shop1/sendFile", {"to": CONTACT, "file": "/etc/passwd", "filename": "p"})
    assert r.status_code == 200 and "data URL" in r.json()["error"]["message"]
    r = easy(backend, "/nope/sendText", [CONTACT, "x"])
    assert r.status_code == 404 and r.json()["success"] is False
    r = backend.post("/shop1/sendText", content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["success"] is False
    # What the router answers itself on the EASY API's paths is in its shape
    # too: a client reads error.message.
    for r, status in [(backend.get("/shop1/sendText"), (404, 405)), (backend.post("/shop1/sendText/more"), (404,)),
                      (backend.post("/shop1/sendText", content=b"\xff", headers={"content-type": "application/json"}), (400,))]:
        assert r.status_code in status, r.text
        body = r.json()
        assert body["success"] is False and body["error"]["name"] and body["error"]["message"], body

    # Native 404s and 405s are unchanged by the EASY API's catch-all paths.
    n = daemon.native()
    assert n.get("/api/nothing-here").json()["error"]["code"] == "route_not_found"
    assert n.put("/api/sessions", json={}).status_code == 405


def test_logout_and_delete_through_the_wrapper(daemon, backend, shop):
    r = daemon.native().post("/api/sessions", json={"id": "gone", "start": False})
    assert r.status_code == 201
    r = backend.post("/session/gone/logout")
    assert r.status_code == 200 and r.json()["success"] is True
    r = backend.delete("/session/gone")
    assert r.status_code == 200 and r.json() == {"success": True, "session_id": "gone"}
    assert backend.get("/session/gone/status").status_code == 404


def test_communities_as_open_wa_bots_read_them(daemon, backend, shop):
    """getAllCommunities, getCommunityInfo and getCommunityParticipant(Id)s
    and getCommunityAdmin(Id)s, on a community a contact runs, which this
    account is in through one of its groups (on a session of its own)."""
    phone = "15550006767"
    daemon.link_session("shop6", phone=phone)
    call = lambda path, args=None: easy(backend, path, args).json()["response"]
    sb = lambda path, body: httpx.post(daemon.sandbox + path, json=body)
    neighbour = "15557770606"
    r = sb("/_sandbox/groups", {"owner": CONTACT, "subject": "Street", "participants": [phone, neighbour]})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    r = sb("/_sandbox/communities", {"owner": CONTACT, "name": "Town", "description": "All streets", "groups": [gid]})
    assert r.status_code == 201, r.text
    cid = r.json()["community"]["id"]
    ann = r.json()["community"]["subgroups"][0]

    assert eventually("the community", lambda: call("/shop6/getAllCommunities") == [cid] or None)
    info = call("/shop6/getCommunityInfo", [cid])
    assert (info["id"]["_serialized"], info["subject"], info["desc"]) == (cid, "Town", "All streets"), info
    assert (info["isParentGroup"], info["groupType"], info["owner"]["_serialized"]) == (True, "COMMUNITY", CONTACT + "@c.us")
    assert info["joinedSubgroups"] == [ann, gid], info
    subs = {s["id"]["_serialized"]: s for s in info["subGroups"]}
    assert subs[gid]["groupType"] == "LINKED_SUBGROUP" and subs[gid]["parentGroup"]["_serialized"] == cid
    assert subs[ann]["groupType"] == "LINKED_ANNOUNCEMENT_GROUP" and subs[ann]["announce"] is True
    everyone = sorted([phone + "@c.us", CONTACT + "@c.us", neighbour + "@c.us"])
    ids = call("/shop6/getCommunityParticipantIds", {"communityId": cid})
    assert [(x["id"], sorted(x["participants"]), x["subgroup"]) for x in ids] == [
        (cid, everyone, False), (gid, everyone, True)], ids
    admins = call("/shop6/getCommunityAdminIds", [cid])
    assert [(x["id"], x["admins"], x["subgroup"]) for x in admins] == [
        (cid, [CONTACT + "@c.us"], False), (gid, [CONTACT + "@c.us"], True)], admins
    people = call("/shop6/getCommunityParticipants", [cid])
    assert sorted(c["id"] for c in people[0]["participants"]) == everyone, people
    assert [c["id"] for c in call("/shop6/getCommunityAdmins", [cid])[1]["admins"]] == [CONTACT + "@c.us"]
    # A plain group is no community.
    body = easy(backend, "/shop6/getCommunityInfo", [gid]).json()
    assert body["success"] is False, body

    # Its own, as open-wa's createCommunity makes one: an existing group
    # and a new one (with its disappearing messages) linked, an icon.
    mine = call("/shop6/createGroup", ["Bakery", [neighbour + "@c.us"]])["gid"]["_serialized"]
    made = call("/shop6/createCommunity", ["Bakers", "Bread talk", PNG_DATA_URL, [mine],
                                           [{"subject": "Orders", "ephemeralDuration": 86400}]])
    assert made.endswith("@g.us") and made != cid, made
    at_wa = httpx.get(daemon.sandbox + f"/_sandbox/groups/{made}").json()
    assert (at_wa["subject"], at_wa["desc"], at_wa["has_picture"]) == ("Bakers", "Bread talk", True), at_wa
    info = call("/shop6/getCommunityInfo", [made])
    titles = {s["subject"]: s for s in info["subGroups"]}
    assert set(titles) == {"Bakers", "Bakery", "Orders"}, titles
    assert titles["Orders"]["ephemeralDuration"] == 86400 and titles["Bakery"]["parentGroup"]["_serialized"] == made
    assert sorted(call("/shop6/getAllCommunities")) == sorted([cid, made])
    bad = easy(backend, "/shop6/createCommunity", ["Nope", "", None, [], [{"subject": "x", "ephemeralDuration": 5}]]).json()
    assert (bad["success"], bad["error"]["name"]) == (False, "INVALID_ARGS"), bad


def test_a_chat_deleted_on_the_phone_reaches_on_chat_deleted(daemon, backend, receiver, shop):
    """An open-wa bot's `onChatDeleted` gets the Chat its agent deleted on
    the phone; its messages leave the session's history (on a
    session of its own)."""
    phone = "15550007878"
    daemon.link_session("shop7", phone=phone)
    call = lambda path, args=None: easy(backend, path, args).json()
    url = receiver.url + "/deleted"
    hook = call("/shop7/registerWebhook", [url, ["onChatDeleted"]])["response"]
    assert hook["events"] == ["onChatDeleted"], hook
    n = daemon.native()
    mid = daemon.inbound(CONTACT, "delete this chat", name="Alice", to=phone)
    chat = CONTACT + "@c.us"
    eventually("the message stored", lambda: n.get(f"/api/sessions/shop7/messages?chat={chat}").json()["messages"])
    r = httpx.post(daemon.sandbox + f"/_sandbox/accounts/{phone}/chats/{chat}/clear", json={"delete": True})
    assert r.status_code == 200, r.text
    got = eventually("onChatDeleted", lambda: receiver.raw("/deleted"))
    body = json.loads(got[0]["body"])
    assert (body["event"], body["sessionId"], body["webhook_id"]) == ("onChatDeleted", "shop7", hook["id"]), body
    assert (body["data"]["id"], body["data"]["isGroup"], body["data"]["name"]) == (chat, False, "Alice"), body
    eventually("the history without it", lambda: n.get(f"/api/sessions/shop7/messages?chat={chat}").json()["messages"] == [])
    assert n.get(f"/api/sessions/shop7/messages/{mid}").status_code == 404
    assert [json.loads(x["body"])["event"] for x in receiver.raw("/deleted")] == ["onChatDeleted"], "nothing else was asked for"


def test_unsent_messages_read_receipts_and_queues_as_open_wa_asks(daemon, backend, receiver, shop):
    """getUnsentMessages (ours WhatsApp's server has not taken),
    checkReadReceipts (from the acks of our messages), waitWhQIdle once the
    webhook's posts are made, and what open-wa answers for syncContacts,
    isPhoneDisconnected and cutChatCache (on a session of its own)."""
    phone, friend = "15550008989", "15557770808"
    chat = friend + "@c.us"
    hooks = [{"url": receiver.url + "/idle", "format": "openwa", "events": ["message"]}]
    daemon.link_session("shop8", phone=phone, hooks=hooks)
    call = lambda path, args=None, **kw: easy(backend, path, args, **kw).json()["response"]
    n = daemon.native()
    stored = lambda mid: (lambda r: r.json() if r.status_code == 200 else None)(n.get(f"/api/sessions/shop8/messages/{mid}"))

    assert isinstance(call("/shop8/checkReadReceipts", [chat]), str), "nothing to tell from yet"
    theirs = daemon.inbound(friend, "hello", to=phone)
    eventually("theirs stored", lambda: stored(theirs))
    ours = call("/shop8/sendText", [chat, "hi, how can we help?"])
    eventually("ours delivered", lambda: (stored(ours) or {}).get("ack") == "delivered")
    why = call("/shop8/checkReadReceipts", [chat])
    assert isinstance(why, str), "ours came after their last: " + str(why)
    again = daemon.inbound(friend, "still there?", to=phone)
    eventually("theirs stored", lambda: stored(again))
    assert call("/shop8/checkReadReceipts", [chat]) is False, "they wrote after ours reached them, unread"
    httpx.post(daemon.sandbox + f"/_sandbox/messages/{ours}/read").raise_for_status()
    eventually("ours read", lambda: (stored(ours) or {}).get("ack") == "read")
    assert call("/shop8/checkReadReceipts", [chat]) is True
    bad = easy(backend, "/shop8/checkReadReceipts", []).json()
    assert (bad["success"], bad["error"]["name"]) == (False, "INVALID_ARGS"), bad

    # The webhook's posts made: idle.
    assert call("/shop8/waitWhQIdle") is True and call("/shop8/waitAllQEmpty") is True
    assert {json.loads(r["body"])["data"]["id"] for r in receiver.raw("/idle")} >= {theirs, again}
    assert call("/shop8/syncContacts") is True and call("/shop8/isPhoneDisconnected") is False
    cut = call("/shop8/cutChatCache")
    assert set(cut) == {"before", "after"} and cut["after"]["msgs"] <= cut["before"]["msgs"], cut
    assert cut["after"]["chats"] >= 1, cut

    # Sent into a connection that carries nothing: no tick yet.
    assert call("/shop8/getUnsentMessages") == []
    httpx.post(daemon.sandbox + "/_sandbox/lose-sends", json={"on": True}).raise_for_status()
    try:
        try:
            easy(backend, "/shop8/sendText", [chat, "into the void"], timeout=2)
        except httpx.TimeoutException:
            pass  # the send waits for WhatsApp, which never answers
        unsent = eventually("the unsent message", lambda: call("/shop8/getUnsentMessages"))
    finally:
        httpx.post(daemon.sandbox + "/_sandbox/lose-sends", json={"on": False}).raise_for_status()
    assert [(m["body"], m["ack"], m["fromMe"], m["chatId"]) for m in unsent] == [("into the void", 0, True, chat)], unsent
