//! WhatsApp features beyond text and media, end to end through the real
//! daemon, real Chromium and the sandbox: what the contact's phone shows
//! (the sandbox's view) and what the API and the webhook show.

// `[x.clone()]` reads better than `std::slice::from_ref(&x)` in a test.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const ACCOUNT: &str = "15550003333";
const CONTACT: &str = "15557770077";
/// A second contact (a group's other member, another chat).
const OTHER: &str = "15557770088";
const T: Duration = Duration::from_secs(30);
/// A few bytes of an Ogg/Opus recording (its magic, enough for the type).
/// Bytes said to be an MP4 (the sandbox does not play them).
const MP4_B64: &str = "AAAAGGZ0eXBtcDQyAAAAAG1wNDJpc29t";
const OGG_B64: &str = "T2dnUwACAAAAAAAAAABDb2RlYwAAAAABE09wdXNIZWFk";
/// A 1 × 1 px PNG.
const PNG_1PX: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

async fn setup(tmp: &std::path::Path) -> (Sandbox, Daemon, Receiver) {
    setup_with(tmp, &[]).await
}

/// As `setup`, the daemon started with `args`.
async fn setup_with(tmp: &std::path::Path, args: &[&str]) -> (Sandbox, Daemon, Receiver) {
    let sb = Sandbox::start(tmp, &[]).await;
    let d = Daemon::start(&tmp.join("data"), &format!("{}/", sb.url), args).await;
    let r = Receiver::start().await;
    let (code, body) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "shop", "webhooks": [{"url": r.url, "events": ["*"]}]})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    d.link(&sb, "shop", ACCOUNT).await;
    (sb, d, r)
}

/// What the account sent, as the contact's phone has it.
/// Every message the account has at WhatsApp (the sandbox), both ways.
async fn at_whatsapp(sb: &Sandbox) -> Vec<Value> {
    let (_, all) = sb
        .get(&format!(
            "/_sandbox/messages?account={ACCOUNT}&direction=all"
        ))
        .await;
    all.as_array().cloned().unwrap_or_default()
}

async fn on_phone(sb: &Sandbox, id: &str) -> Value {
    eventually(T, &format!("{id} at the sandbox"), || async {
        at_whatsapp(sb).await.into_iter().find(|m| m["id"] == id)
    })
    .await
}

async fn event(r: &Receiver, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    eventually(T, &format!("a '{name}' event"), || async {
        r.events(name).into_iter().find(|e| pred(&e["payload"]))
    })
    .await["payload"]
        .clone()
}

async fn send(d: &Daemon, body: Value) -> String {
    let (code, sent) = d
        .call("POST", "/api/sessions/shop/messages", Some(body))
        .await;
    assert_eq!(code, 201, "{sent}");
    sent["id"].as_str().unwrap().to_string()
}

/// The message as the API has it (once the page has reported it).
async fn stored(d: &Daemon, id: &str) -> Value {
    eventually(T, &format!("{id} in the store"), || async {
        let (code, m) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/messages/{}", message_path(id)),
                None,
            )
            .await;
        (code == 200).then_some(m)
    })
    .await
}

fn message_path(id: &str) -> String {
    id.replace('@', "%40")
}

/// A group the contact runs, with this account and `other` in it, once
/// the account has heard it was put in: its id.
async fn their_group(sb: &Sandbox, r: &Receiver, other: &str) -> String {
    let (code, fam) = sb
        .post(
            "/_sandbox/groups",
            json!({"owner": CONTACT, "subject": "Family", "participants": [ACCOUNT, other]}),
        )
        .await;
    assert_eq!(code, 201, "{fam}");
    let fid = fam["id"].as_str().unwrap().to_string();
    event(r, "group.join", |p| p["group"] == fid.as_str()).await;
    fid
}

/// A call refused with this status and error code.
#[track_caller]
fn refused(code: u16, e: &Value, status: u16, error: &str) {
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (status, Some(error)),
        "{e}"
    );
}

/// `base` with `extra`'s fields added (or replaced).
fn with(mut base: Value, extra: Value) -> Value {
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

async fn inbound(sb: &Sandbox, extra: Value) -> String {
    let body = with(
        json!({"from": CONTACT, "to": ACCOUNT, "name": "Dora"}),
        extra,
    );
    let (code, v) = sb.post("/_sandbox/messages", body).await;
    assert_eq!(code, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// `from` writes in group `gid` at WhatsApp: this account's copy's id.
async fn in_group(sb: &Sandbox, from: &str, gid: &str, extra: Value) -> String {
    let body = with(json!({"from": from, "group": gid}), extra);
    let (code, v) = sb.post("/_sandbox/messages", body).await;
    assert_eq!(code, 201, "{v}");
    v["ids"][ACCOUNT].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_contact_cards_and_voice_notes_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;

    // Out: a named place.
    let id = send(
        &d,
        json!({"to": CONTACT, "location": {"lat": 52.3731, "lng": 4.8922, "name": "Dam Square", "address": "Dam, Amsterdam"}}),
    )
    .await;
    let phone = on_phone(&sb, &id).await;
    assert_eq!(phone["type"], "location", "{phone}");
    assert_eq!(phone["location"]["name"], "Dam Square");
    assert_eq!(phone["location"]["address"], "Dam, Amsterdam");
    assert_eq!(phone["location"]["lat"], 52.3731);
    let m = stored(&d, &id).await;
    assert_eq!(m["type"], "location");
    assert_eq!(m["location"]["name"], "Dam Square");

    // Out: contact cards.
    let id = send(
        &d,
        json!({"to": CONTACT, "contacts": [{"phone": "+1 555 010 2030", "name": "Support Desk"}]}),
    )
    .await;
    let phone = on_phone(&sb, &id).await;
    assert_eq!(phone["type"], "vcard", "{phone}");
    let card = phone["vcards"][0].as_str().unwrap();
    assert!(
        card.contains("FN:Support Desk") && card.contains("waid=15550102030"),
        "{card}"
    );
    let m = stored(&d, &id).await;
    // The contract's types: a card is "other", with its vcards.
    assert_eq!(m["type"], "other");
    assert!(m["vcards"][0].as_str().unwrap().contains("Support Desk"));
    // Cards as vCard text: each card's name and number go.
    let two = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Baker\r\nTEL:+1 555 700 2222\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nN:Cole;Ben;;;\r\nTEL;waid=15557003333:+1 555 700 3333\r\nEND:VCARD";
    let id = send(&d, json!({"to": CONTACT, "vcard": two})).await;
    let phone = on_phone(&sb, &id).await;
    let cards: Vec<&str> = phone["vcards"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        cards.len() == 2
            && cards[0].contains("Anna Baker")
            && cards[0].contains("waid=15557002222")
            && cards[1].contains("Ben Cole")
            && cards[1].contains("waid=15557003333"),
        "{phone}"
    );

    // Out: a voice note.
    let id = send(
        &d,
        json!({"to": CONTACT, "media": {"data": OGG_B64, "mimetype": "audio/ogg; codecs=opus"}, "voice": true}),
    )
    .await;
    let phone = on_phone(&sb, &id).await;
    assert_eq!(phone["type"], "ptt", "{phone}");
    let m = stored(&d, &id).await;
    assert_eq!((&m["type"], &m["voice"]), (&json!("audio"), &json!(true)));

    // Out: a sticker of a PNG: WhatsApp Web makes the WebP.
    let id = send(
        &d,
        json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "sticker": true}),
    )
    .await;
    let phone = on_phone(&sb, &id).await;
    assert_eq!(
        (&phone["type"], &phone["media"]["mimetype"]),
        (&json!("sticker"), &json!("image/webp")),
        "{phone}"
    );
    use base64::Engine as _;
    let webp = base64::engine::general_purpose::STANDARD
        .decode(phone["media"]["data"].as_str().unwrap())
        .unwrap();
    assert!(
        webp.starts_with(b"RIFF") && &webp[8..12] == b"WEBP",
        "a WebP"
    );
    assert_eq!(stored(&d, &id).await["type"], "sticker");

    // Out: a picture as a document, a file kept as it is.
    let id = send(
        &d,
        json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png", "filename": "dot.png"}, "document": true, "caption": "as a file"}),
    )
    .await;
    let phone = on_phone(&sb, &id).await;
    assert_eq!(
        (
            &phone["type"],
            &phone["media"]["mimetype"],
            &phone["caption"]
        ),
        (&json!("document"), &json!("image/png"), &json!("as a file")),
        "{phone}"
    );
    assert_eq!(stored(&d, &id).await["type"], "document");

    // Out: a photo to be viewed once, and a video that plays as a GIF;
    // each flag stored only where it is set.
    for (media, flag, other, kind) in [
        (
            json!({"data": PNG_1PX, "mimetype": "image/png"}),
            "view_once",
            "gif",
            "image",
        ),
        (
            json!({"data": MP4_B64, "mimetype": "video/mp4"}),
            "gif",
            "view_once",
            "video",
        ),
    ] {
        let mut body = json!({"to": CONTACT, "media": media, "caption": "once or looped"});
        body[flag] = json!(true);
        let id = send(&d, body).await;
        let phone = on_phone(&sb, &id).await;
        assert_eq!(
            (&phone["type"], &phone[flag], &phone[other]),
            (&json!(kind), &json!(true), &json!(false)),
            "{phone}"
        );
        let m = stored(&d, &id).await;
        assert_eq!((&m["type"], &m[flag]), (&json!(kind), &json!(true)), "{m}");
        assert!(m.get(other).is_none(), "{m}");
    }
    // What cannot go as asked is refused, naming the field; nothing is sent.
    for (body, field) in [
        (
            json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "sticker": true, "caption": "no"}),
            "sticker",
        ),
        (
            json!({"to": CONTACT, "media": {"data": OGG_B64, "mimetype": "audio/ogg"}, "sticker": true}),
            "sticker",
        ),
        (
            json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "document": true, "sticker": true}),
            "document",
        ),
        (
            json!({"to": CONTACT, "media": {"data": OGG_B64, "mimetype": "audio/ogg"}, "document": true, "voice": true}),
            "document",
        ),
        (
            json!({"to": CONTACT, "text": "no file", "document": true}),
            "document",
        ),
        (
            json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "document": "yes"}),
            "document",
        ),
        (
            json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "view_once": true, "sticker": true}),
            "view_once",
        ),
        (
            json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "view_once": true, "document": true}),
            "view_once",
        ),
        // Audio goes once only as a voice note.
        (
            json!({"to": CONTACT, "media": {"data": OGG_B64, "mimetype": "audio/ogg"}, "view_once": true}),
            "view_once",
        ),
        // A WebP goes as a sticker.
        (
            json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/webp"}, "view_once": true}),
            "view_once",
        ),
        (
            json!({"to": CONTACT, "text": "no file", "view_once": true}),
            "view_once",
        ),
        (
            json!({"to": CONTACT, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "gif": true}),
            "gif",
        ),
        (
            json!({"to": CONTACT, "media": {"data": MP4_B64, "mimetype": "video/mp4"}, "gif": true, "document": true}),
            "gif",
        ),
        (
            json!({"to": CONTACT, "media": {"data": MP4_B64, "mimetype": "video/mp4"}, "gif": 1}),
            "gif",
        ),
        (
            json!({"to": "status@broadcast", "media": {"data": PNG_1PX, "mimetype": "image/png"}, "view_once": true}),
            "view_once",
        ),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/messages", Some(body))
            .await;
        assert_eq!(code, 422, "{e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("'{field}'")),
            "{e}"
        );
    }

    // Bad input: clear errors, nothing sent.
    for (body, field) in [
        (
            json!({"to": CONTACT, "location": {"lat": 123.0, "lng": 0.0}}),
            "location",
        ),
        (
            json!({"to": CONTACT, "location": {"lat": 1.0, "lng": 1.0}, "text": "hi"}),
            "location",
        ),
        (json!({"to": CONTACT, "contacts": []}), "contacts"),
        (json!({"to": CONTACT, "vcard": "hello"}), "vcard"),
        (
            json!({"to": CONTACT, "vcard": "BEGIN:VCARD\nTEL:+15557002222\nEND:VCARD", "text": "hi"}),
            "vcard",
        ),
        (
            json!({"to": CONTACT, "vcard": "BEGIN:VCARD\nFN:No Number\nEND:VCARD"}),
            "vcard",
        ),
        (
            json!({"to": CONTACT, "vcard": "BEGIN:VCARD\nTEL:+15557002222\nEND:VCARD", "contacts": [{"phone": "15557002222", "name": "A"}]}),
            "vcard",
        ),
        (json!({"to": CONTACT, "voice": true, "text": "hi"}), "voice"),
        (
            json!({"to": CONTACT, "voice": true, "media": {"data": "aGk=", "mimetype": "image/png"}}),
            "voice",
        ),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/messages", Some(body.clone()))
            .await;
        assert_eq!(code, 422, "{body} -> {e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(field),
            "{e}"
        );
    }

    // In: a place, a card, a voice note, as the webhook and the API see them.
    let loc = inbound(&sb, json!({"location": {"lat": -33.8568, "lng": 151.2153, "name": "Opera House", "address": "Bennelong Point, Sydney"}})).await;
    let card = "BEGIN:VCARD\nVERSION:3.0\nFN:Eve Example\nTEL;type=CELL;waid=15550009999:+15550009999\nEND:VCARD";
    let vc = inbound(&sb, json!({"vcard": card})).await;
    let ptt = inbound(
        &sb,
        json!({"media": {"data": OGG_B64, "mimetype": "audio/ogg; codecs=opus", "duration": 7}, "ptt": true}),
    )
    .await;
    // A photo to be viewed once: WhatsApp gives a linked device none of
    // its media, so only the receiver's phone opens it.
    let once = inbound(
        &sb,
        json!({"media": {"data": PNG_1PX, "mimetype": "image/png"}, "view_once": true}),
    )
    .await;
    let gif = inbound(
        &sb,
        json!({"media": {"data": MP4_B64, "mimetype": "video/mp4"}, "gif": true}),
    )
    .await;
    let p = event(&r, "message", |p| p["id"] == once).await;
    assert_eq!(
        (&p["type"], &p["view_once"]),
        (&json!("image"), &json!(true)),
        "{p}"
    );
    // Its media is not here, and WhatsApp lets no one pass it on or pin it.
    let at = format!("/api/sessions/shop/messages/{}", message_path(&once));
    for (method, path, body, status, code) in [
        ("GET", format!("{at}/media"), None, 404, "view_once"),
        (
            "POST",
            "/api/sessions/shop/messages".to_string(),
            Some(json!({"to": OTHER, "forward": once})),
            409,
            "not_forwardable",
        ),
        (
            "POST",
            format!("{at}/pin"),
            Some(json!({"pinned": true})),
            409,
            "not_pinnable",
        ),
    ] {
        let (got, e) = d.call(method, &path, body).await;
        refused(got, &e, status, code);
    }
    let p = event(&r, "message", |p| p["id"] == gif).await;
    assert_eq!(
        (&p["type"], &p["gif"]),
        (&json!("video"), &json!(true)),
        "{p}"
    );
    assert!(p.get("view_once").is_none(), "{p}");
    let p = event(&r, "message", |p| p["id"] == loc).await;
    assert_eq!(p["type"], "location");
    assert_eq!(
        p["location"],
        json!({"lat": -33.8568, "lng": 151.2153, "name": "Opera House", "address": "Bennelong Point, Sydney"})
    );
    let p = event(&r, "message", |p| p["id"] == vc).await;
    assert_eq!(p["type"], "other");
    assert_eq!(p["vcards"], json!([card]));
    assert!(p["text"].is_null());
    let p = event(&r, "message", |p| p["id"] == ptt).await;
    assert_eq!((&p["type"], &p["voice"]), (&json!("audio"), &json!(true)));
    // Its seconds, as the sending phone gave them; none where none was.
    assert_eq!(p["media"]["duration"], 7, "{p}");
    let pic = event(&r, "message", |p| p["id"] == once).await;
    assert!(pic["media"].get("duration").is_none(), "{pic}");
    assert!(
        p["media"]["mimetype"]
            .as_str()
            .unwrap()
            .starts_with("audio/ogg")
    );
    let bytes = http()
        .get(format!("{}{}", d.url, p["media"]["url"].as_str().unwrap()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        bytes,
        base64::engine::general_purpose::STANDARD
            .decode(OGG_B64)
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_edits_and_deletes_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let me = format!("{ACCOUNT}@c.us");

    let mine = send(
        &d,
        json!({"to": CONTACT, "text": "Your order ships tomorow"}),
    )
    .await;
    on_phone(&sb, &mine).await;
    let theirs = inbound(&sb, json!({"text": "Where is my order?"})).await;
    event(&r, "message", |p| p["id"] == theirs).await;

    // The contact reacts to our message; then takes it back.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{mine}/react"),
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let p = event(&r, "message.reaction", |p| {
        p["message"] == mine && p["emoji"] == "👍"
    })
    .await;
    assert_eq!(p["from_me"], false);
    assert_eq!(p["sender"], format!("{CONTACT}@c.us"));
    // With the message as stored with it, and what it replaced (none).
    assert_eq!(
        (
            p["target"]["id"].as_str(),
            p["target"]["reactions"][0]["emoji"].as_str(),
            &p["previous_emoji"]
        ),
        (Some(mine.as_str()), Some("👍"), &Value::Null),
        "{p}"
    );
    let m = eventually(T, "the reaction stored", || async {
        let m = stored(&d, &mine).await;
        (m["reactions"][0]["emoji"] == "👍").then_some(m)
    })
    .await;
    assert_eq!(m["reactions"][0]["sender"], format!("{CONTACT}@c.us"));
    sb.post(
        &format!("/_sandbox/messages/{mine}/react"),
        json!({"emoji": ""}),
    )
    .await;
    let p = event(&r, "message.reaction", |p| {
        p["message"] == mine && p["emoji"] == ""
    })
    .await;
    assert_eq!(
        (p["previous_emoji"].as_str(), p["target"].get("reactions")),
        (Some("👍"), None),
        "{p}"
    );
    eventually(T, "the reaction removed", || async {
        stored(&d, &mine)
            .await
            .get("reactions")
            .is_none()
            .then_some(())
    })
    .await;

    // We react to theirs: the contact's phone shows it.
    let (code, v) = d
        .call(
            "POST",
            &format!(
                "/api/sessions/shop/messages/{}/reaction",
                message_path(&theirs)
            ),
            Some(json!({"emoji": "❤️"})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    eventually(T, "our reaction at the contact", || async {
        (on_phone(&sb, &theirs).await["reactions"][ACCOUNT] == "❤️").then_some(())
    })
    .await;
    let p = event(&r, "message.reaction", |p| p["message"] == theirs).await;
    assert_eq!(p["from_me"], true);
    assert_eq!(p["sender"], me);
    for not_one in ["not one emoji", "ok", "👍👍"] {
        let (code, e) = d
            .call(
                "POST",
                &format!(
                    "/api/sessions/shop/messages/{}/reaction",
                    message_path(&theirs)
                ),
                Some(json!({ "emoji": not_one })),
            )
            .await;
        assert_eq!(code, 422, "{not_one}: {e}");
    }

    // We fix our typo: the contact sees the new text, the store keeps both.
    let (code, v) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/messages/{}", message_path(&mine)),
            Some(json!({"text": "Your order ships tomorrow"})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let phone = eventually(T, "the edit at the contact", || async {
        let m = on_phone(&sb, &mine).await;
        (m["text"] == "Your order ships tomorrow").then_some(m)
    })
    .await;
    assert_eq!(phone["edits"], json!(["Your order ships tomorow"]));
    let p = event(&r, "message.edited", |p| p["id"] == mine).await;
    assert_eq!(p["text"], "Your order ships tomorrow");
    assert_eq!(p["chat"], format!("{CONTACT}@c.us"));
    let m = eventually(T, "the edit stored", || async {
        let m = stored(&d, &mine).await;
        (m["text"] == "Your order ships tomorrow").then_some(m)
    })
    .await;
    assert_eq!(m["edits"][0]["text"], "Your order ships tomorow");
    assert!(m["edited_at"].is_i64());
    // An edit reads nothing: their message, unread, stays so.
    assert_ne!(on_phone(&sb, &theirs).await["ack"], "read");

    // Only our own messages can be edited or deleted.
    let (code, e) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/messages/{}", message_path(&theirs)),
            Some(json!({"text": "nope"})),
        )
        .await;
    refused(code, &e, 409, "not_own_message");
    let (code, e) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/messages/{}", message_path(&theirs)),
            None,
        )
        .await;
    refused(code, &e, 409, "not_own_message");
    let (code, e) = d
        .call(
            "PATCH",
            "/api/sessions/shop/messages/true_nobody%40c.us_X",
            Some(json!({"text": "x"})),
        )
        .await;
    refused(code, &e, 404, "message_not_found");
    let (code, e) = d
        .call(
            "PATCH",
            "/api/sessions/nosuch/messages/true_nobody%40c.us_X",
            Some(json!({"text": "x"})),
        )
        .await;
    refused(code, &e, 404, "session_not_found");
    // A voice note has no text to edit, on WhatsApp as here.
    let voice = {
        use base64::Engine as _;
        let ogg = base64::engine::general_purpose::STANDARD.encode(b"OggS voice");
        send(
            &d,
            json!({"to": CONTACT, "media": {"data": ogg, "mimetype": "audio/ogg; codecs=opus"}, "voice": true}),
        )
        .await
    };
    stored(&d, &voice).await;
    let (code, e) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/messages/{}", message_path(&voice)),
            Some(json!({"text": "words"})),
        )
        .await;
    refused(code, &e, 409, "message_not_editable");

    // WhatsApp's windows: 15 minutes to edit, 60 hours to delete for
    // everyone; the sandbox's clock makes messages that old.
    let aged = |offset: i64, text: &'static str| {
        let (sb, d) = (&sb, &d);
        async move {
            sb.post("/_sandbox/clock", json!({"offset": offset})).await;
            // The page hears of the new time over its socket: sent again
            // until a send is stamped with it.
            let id = eventually(
                T,
                &format!("a message stamped {}s ago", -offset),
                || async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let id = send(d, json!({"to": CONTACT, "text": text})).await;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_secs() as i64;
                    let age = now - stored(d, &id).await["timestamp"].as_i64().unwrap();
                    (age >= -offset - 5).then_some(id)
                },
            )
            .await;
            sb.post("/_sandbox/clock", json!({"offset": 0})).await;
            id
        }
    };
    let window = |method: &'static str, id: String| {
        let d = &d;
        async move {
            let path = format!("/api/sessions/shop/messages/{}", message_path(&id));
            let body = (method == "PATCH").then(|| json!({"text": "too late"}));
            let (code, e) = d.call(method, &path, body).await;
            (code, e["error"]["code"].as_str().map(String::from))
        }
    };
    let old_edit = aged(-16 * 60, "sent 16 minutes ago").await;
    assert_eq!(
        window("PATCH", old_edit.clone()).await,
        (409, Some("edit_window_passed".into()))
    );
    assert_eq!(window("DELETE", old_edit).await.0, 200);
    let old_delete = aged(-61 * 3600, "sent 61 hours ago").await;
    assert_eq!(
        window("DELETE", old_delete.clone()).await,
        (409, Some("revoke_window_passed".into()))
    );
    assert!(
        on_phone(&sb, &old_delete).await["revoked"] != true,
        "deleted at the contact after all"
    );
    // The server keeps the same windows for the contact's phone.
    sb.post("/_sandbox/clock", json!({"offset": -16 * 60}))
        .await;
    let their_old = inbound(&sb, json!({"text": "asked 16 minutes ago"})).await;
    sb.post("/_sandbox/clock", json!({"offset": 0})).await;
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{their_old}/edit"),
            json!({"text": "too late"}),
        )
        .await;
    assert_eq!(code, 409, "{v}");

    // The contact edits theirs: the event carries the new text, history kept.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{theirs}/edit"),
            json!({"text": "Where is my order #42?"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let p = event(&r, "message.edited", |p| p["id"] == theirs).await;
    assert_eq!(p["text"], "Where is my order #42?");
    assert_eq!(
        p["chat"],
        format!("{CONTACT}@c.us"),
        "the contact's chat, not this account"
    );
    let m = eventually(T, "their edit stored", || async {
        let m = stored(&d, &theirs).await;
        (m["text"] == "Where is my order #42?").then_some(m)
    })
    .await;
    assert_eq!(m["edits"][0]["text"], "Where is my order?");

    // We delete ours for everyone; the contact deletes theirs.
    let (code, v) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/messages/{}", message_path(&mine)),
            None,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    // Stored by the time the call answers: WhatsApp Web does not report
    // this device's own deletes back.
    let (code, now) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/messages/{}", message_path(&mine)),
            None,
        )
        .await;
    assert_eq!((code, &now["revoked"]), (200, &json!(true)), "{now}");
    eventually(T, "our delete at the contact", || async {
        (on_phone(&sb, &mine).await["revoked"] == true).then_some(())
    })
    .await;
    event(&r, "message.revoked", |p| p["id"] == mine).await;
    let (code, v) = sb
        .post(&format!("/_sandbox/messages/{theirs}/revoke"), json!({}))
        .await;
    assert_eq!(code, 200, "{v}");
    event(&r, "message.revoked", |p| p["id"] == theirs).await;
    for id in [&mine, &theirs] {
        eventually(T, "the delete stored", || async {
            (stored(&d, id).await["revoked"] == true).then_some(())
        })
        .await;
    }
    // A deleted message takes no reaction and no edit.
    let (code, e) = d
        .call(
            "POST",
            &format!(
                "/api/sessions/shop/messages/{}/reaction",
                message_path(&theirs)
            ),
            Some(json!({"emoji": "👍"})),
        )
        .await;
    refused(code, &e, 409, "message_revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_code_links_a_session_without_a_qr() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &format!("{}/", sb.url), &[]).await;
    let r = Receiver::start().await;
    let (code, body) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "bycode", "webhooks": [{"url": r.url, "events": ["session.pairing_code"]}]})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    d.wait_status("bycode", "SCAN_QR", T).await;
    let phone = "15550004444";
    let (code, got) = d
        .call(
            "POST",
            "/api/sessions/bycode/pair",
            Some(json!({"phone": "+1 (555) 000-4444"})),
        )
        .await;
    assert_eq!(code, 200, "{got}");
    let pairing = got["code"].as_str().unwrap().to_string();
    assert_eq!(pairing.len(), 8, "{got}");
    assert!(pairing.chars().all(|c| c.is_ascii_alphanumeric()), "{got}");
    assert_eq!(got["phone"], phone);
    let ev = event(&r, "session.pairing_code", |p| {
        p["code"] == pairing.as_str()
    })
    .await;
    assert_eq!(ev["phone"], phone);

    // Typed on another phone: refused. On the right one: linked, no QR.
    let (code, e) = sb
        .post(
            "/_sandbox/link",
            json!({"code": pairing, "phone": "15550005555"}),
        )
        .await;
    assert_eq!(code, 403, "{e}");
    let dashed = format!("{}-{}", &pairing[..4], &pairing[4..]);
    let (code, e) = sb
        .post(
            "/_sandbox/link",
            json!({"code": dashed, "phone": phone, "name": "Coded Shop"}),
        )
        .await;
    assert_eq!(code, 200, "{e}");
    let s = d.wait_status("bycode", "CONNECTED", T).await;
    assert_eq!(s["me"]["phone"], phone);
    // A linked session has nothing to pair; bad numbers are refused.
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/bycode/pair",
            Some(json!({"phone": phone})),
        )
        .await;
    refused(code, &e, 409, "not_waiting_for_scan");
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/bycode/pair",
            Some(json!({"phone": "not a phone"})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    // The code is spent.
    let (code, _) = sb
        .post("/_sandbox/link", json!({"code": pairing, "phone": phone}))
        .await;
    assert_eq!(code, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    const NEWBIE: &str = "15557770099";

    // We create a group: WhatsApp has it with us as its owner.
    let (code, g) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "Support", "participants": [CONTACT, format!("+{OTHER}")]})),
        )
        .await;
    assert_eq!(code, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    assert!(gid.ends_with("@g.us"), "{g}");
    // WhatsApp's refusals are the caller's mistakes, not a 502.
    sb.post("/_sandbox/unregistered", json!({"phone": "15559990077"}))
        .await;
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "Nope", "participants": [CONTACT, "15559990077"]})),
        )
        .await;
    refused(code, &e, 422, "number_not_on_whatsapp");
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/groups/join",
            Some(json!({"invite": "https://chat.whatsapp.com/NoSuchInviteCode1"})),
        )
        .await;
    refused(code, &e, 404, "invite_not_found");
    assert_eq!(g["subject"], "Support");
    assert_eq!(g["owner"], format!("{ACCOUNT}@c.us"));
    assert_eq!(g["participants"].as_array().unwrap().len(), 3, "{g}");
    let me = g["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phone"] == ACCOUNT)
        .unwrap()
        .clone();
    assert_eq!(
        (me["admin"].clone(), me["super_admin"].clone()),
        (json!(true), json!(true))
    );
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{gid}")).await;
    assert_eq!(at_wa["subject"], "Support");
    let (code, list) = d.call("GET", "/api/sessions/shop/groups", None).await;
    assert_eq!(code, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == gid.as_str()),
        "{list}"
    );

    // We write to it, mentioning someone.
    let sent = send(
        &d,
        json!({"to": gid, "text": format!("@{CONTACT} welcome"), "mentions": [CONTACT]}),
    )
    .await;
    let phone = on_phone(&sb, &sent).await;
    assert_eq!(phone["to"], gid.as_str());
    assert_eq!(phone["mentions"], json!([CONTACT]));
    // In a photo's caption too.
    let sent = send(
        &d,
        json!({"to": gid, "media": {"data": PNG_1PX, "mimetype": "image/png"},
               "caption": format!("for you @{CONTACT}"), "mentions": [CONTACT]}),
    )
    .await;
    let phone = on_phone(&sb, &sent).await;
    assert_eq!(phone["mentions"], json!([CONTACT]), "{phone}");
    // Stored in the group's chat, as the page has it.
    let ours = d.wait_message("shop", &sent).await;
    assert_eq!(ours["chat"], gid.as_str(), "{ours}");

    // A member writes: the group, the author and the author's name arrive.
    let mid = in_group(
        &sb,
        CONTACT,
        &gid,
        json!({"text": "thanks!", "name": "Dora"}),
    )
    .await;
    let p = event(&r, "message", |p| p["id"] == mid.as_str()).await;
    assert_eq!(p["chat"], gid.as_str());
    assert_eq!(p["chat_name"], "Support", "a group's message names it");
    assert_eq!(p["sender"], json!({"phone": CONTACT, "name": "Dora"}));
    assert_eq!(p["text"], "thanks!");

    // A member reacts to ours: the reaction is that member's, not the
    // group's. WhatsApp takes reactions only from the group's members.
    let react = format!("/_sandbox/messages/{sent}/react");
    let (code, v) = sb
        .post(&react, json!({"emoji": "🙏", "from": CONTACT}))
        .await;
    assert_eq!(code, 200, "{v}");
    let p = event(&r, "message.reaction", |p| p["message"] == sent.as_str()).await;
    assert_eq!(p["sender"], format!("{CONTACT}@c.us"), "{p}");
    for who in [
        json!({"emoji": "🙏"}),
        json!({"emoji": "🙏", "from": NEWBIE}),
    ] {
        let (code, v) = sb.post(&react, who).await;
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (422, Some("not_in_chat")),
            "{v}"
        );
    }

    // Someone joins by our invite link; we remove another; a member renames it.
    let (code, inv) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/groups/{gid}/invite"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{inv}");
    assert!(
        inv["link"]
            .as_str()
            .unwrap()
            .starts_with("https://chat.whatsapp.com/")
    );
    let (code, v) = sb
        .post(
            "/_sandbox/groups/join",
            json!({"invite": inv["link"], "phone": NEWBIE}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let j = event(&r, "group.join", |p| {
        p["group"] == gid.as_str() && p["action"] == "join"
    })
    .await;
    assert_eq!(j["participants"], json!([format!("{NEWBIE}@c.us")]));
    // A change to the group's members or admins, as the API takes it.
    let participants = |change: Value| {
        let (d, path) = (&d, format!("/api/sessions/shop/groups/{gid}/participants"));
        async move { d.call("POST", &path, Some(change)).await }
    };
    let (code, g) = participants(json!({"remove": [OTHER]})).await;
    assert_eq!(code, 200, "{g}");
    assert!(
        !g["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["phone"] == OTHER),
        "{g}"
    );
    let l = event(&r, "group.leave", |p| p["group"] == gid.as_str()).await;
    assert_eq!(
        (l["action"].as_str(), l["participants"].clone()),
        (Some("remove"), json!([format!("{OTHER}@c.us")]))
    );
    // Removed again: nothing to do, as asked (wa-js refuses a call that
    // names no one in the group).
    let (code, g) = participants(json!({"remove": [OTHER]})).await;
    assert_eq!(code, 200, "{g}");
    // We make a member an admin, then a member again: WhatsApp has it.
    let admin_at_wa = || async {
        let (_, g) = sb.get(&format!("/_sandbox/groups/{gid}")).await;
        g["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == format!("{CONTACT}@c.us"))
            .map(|p| p["isAdmin"] == true)
    };
    for (change, admin) in [("promote", true), ("demote", false)] {
        let (code, g) = participants(json!({ change: [CONTACT] })).await;
        assert_eq!(code, 200, "{g}");
        let them = g["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["phone"] == CONTACT)
            .cloned()
            .unwrap();
        assert_eq!(them["admin"], admin, "{g}");
        assert_eq!(admin_at_wa().await, Some(admin));
        let u = event(&r, "group.update", |p| {
            p["group"] == gid.as_str() && p["action"] == change
        })
        .await;
        assert_eq!(u["participants"], json!([format!("{CONTACT}@c.us")]), "{u}");
    }
    // The group's creator (us) stays its admin.
    let (code, e) = participants(json!({"demote": [ACCOUNT]})).await;
    refused(code, &e, 409, "group_creator");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/groups/{gid}/subject"),
            json!({"by": CONTACT, "subject": "Support 24/7"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let u = event(&r, "group.update", |p| {
        p["group"] == gid.as_str() && p["subject"].is_string()
    })
    .await;
    assert_eq!(
        (u["subject"].as_str(), u["author"].as_str()),
        (
            Some("Support 24/7"),
            Some(format!("{CONTACT}@c.us").as_str())
        )
    );
    // A message after it goes by the new subject.
    let mid = in_group(&sb, CONTACT, &gid, json!({"text": "renamed"})).await;
    let p = event(&r, "message", |p| p["id"] == mid.as_str()).await;
    assert_eq!(p["chat_name"], "Support 24/7", "{p}");
    // The chat goes by the group's subject, not by whoever wrote last.
    let (_, chats) = d.call("GET", "/api/sessions/shop/chats", None).await;
    let chat = chats
        .as_array()
        .or(chats["chats"].as_array())
        .unwrap()
        .iter()
        .find(|c| c["id"] == gid.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(chat["name"], "Support 24/7", "{chats}");
    assert!(
        chat.get("last_message").is_none(),
        "only when asked: {chat}"
    );
    // Asked for, each chat comes with its newest stored message.
    let (code, chats) = d
        .call("GET", "/api/sessions/shop/chats?last_message=true", None)
        .await;
    assert_eq!(code, 200, "{chats}");
    let chat = chats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == gid.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            chat["name"].as_str(),
            chat["last_message"]["id"].as_str(),
            chat["last_message"]["text"].as_str()
        ),
        (Some("Support 24/7"), Some(mid.as_str()), Some("renamed")),
        "{chat}"
    );
    let (code, bad) = d
        .call("GET", "/api/sessions/shop/chats?last_message=maybe", None)
        .await;
    assert_eq!(code, 400, "{bad}");
    // One chat, as the list shows it, without listing them all.
    let path = format!("/api/sessions/shop/chats/{gid}?last_message=true");
    let (code, one) = d.call("GET", &path, None).await;
    assert_eq!((code, &one), (200, &chat));
    let (code, one) = d
        .call("GET", &format!("/api/sessions/shop/chats/{gid}"), None)
        .await;
    assert_eq!(code, 200, "{one}");
    assert_eq!(one["name"], "Support 24/7", "{one}");
    assert!(one.get("last_message").is_none(), "only when asked: {one}");
    let (code, none) = d
        .call("GET", "/api/sessions/shop/chats/15550000404", None)
        .await;
    refused(code, &none, 404, "chat_not_found");
    // Bad input: a clear error, nothing asked of the page.
    let (code, bad) = d
        .call("GET", "/api/sessions/shop/chats/not%20a%20chat", None)
        .await;
    refused(code, &bad, 422, "invalid_field");
    let (code, bad) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/chats/{gid}?last_message=maybe"),
            None,
        )
        .await;
    assert_eq!(code, 400, "{bad}");

    // Someone puts us in their group: we hear it; we are not an admin there.
    let (code, fam) = sb
        .post(
            "/_sandbox/groups",
            json!({"owner": CONTACT, "subject": "Family", "participants": [ACCOUNT]}),
        )
        .await;
    assert_eq!(code, 201, "{fam}");
    let fid = fam["id"].as_str().unwrap().to_string();
    let j = event(&r, "group.join", |p| p["group"] == fid.as_str()).await;
    assert!(
        j["participants"]
            .as_array()
            .unwrap()
            .contains(&json!(format!("{ACCOUNT}@c.us"))),
        "{j}"
    );
    for change in [json!({"add": [OTHER]}), json!({"promote": [ACCOUNT]})] {
        let (code, e) = d
            .call(
                "POST",
                &format!("/api/sessions/shop/groups/{fid}/participants"),
                Some(change),
            )
            .await;
        refused(code, &e, 409, "not_group_admin");
    }
    // Its owner, the only admin, leaves: WhatsApp makes the longest
    // member an admin (us), and we can add people now.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/groups/{fid}/leave"),
            json!({"phone": CONTACT}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let u = event(&r, "group.update", |p| {
        p["group"] == fid.as_str() && p["action"] == "promote"
    })
    .await;
    assert_eq!(u["participants"], json!([format!("{ACCOUNT}@c.us")]), "{u}");
    let (code, g) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/groups/{fid}/participants"),
            Some(json!({"add": [OTHER]})),
        )
        .await;
    assert_eq!(code, 200, "{g}");
    // We rename ours, and leave theirs.
    let (code, v) = d
        .call(
            "PUT",
            &format!("/api/sessions/shop/groups/{gid}/subject"),
            Some(json!({"subject": "Help desk"})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{gid}")).await.1["subject"],
        "Help desk"
    );
    let (code, v) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/groups/{fid}/leave"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (_, fam) = sb.get(&format!("/_sandbox/groups/{fid}")).await;
    assert!(
        !fam["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == format!("{ACCOUNT}@c.us")),
        "{fam}"
    );
    // Bad input.
    let (code, e) = d
        .call("GET", "/api/sessions/shop/groups/15551234567@c.us", None)
        .await;
    assert_eq!(code, 422, "{e}");
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "  ", "participants": []})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
}

/// Communities, as WhatsApp runs them: one this account creates (its
/// announcement group, groups linked by their admins, members from them,
/// admins made, groups unlinked, deactivated by its creator) and one a
/// contact runs, which this account is in through a linked group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn communities_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let group = |subject: &str, who: &str| {
        let body = json!({"subject": subject, "participants": [who]});
        let d = &d;
        async move {
            let (code, g) = d
                .call("POST", "/api/sessions/shop/groups", Some(body))
                .await;
            assert_eq!(code, 201, "{g}");
            g["id"].as_str().unwrap().to_string()
        }
    };
    let sales = group("Sales", CONTACT).await;
    let stock = group("Stock", OTHER).await;
    let family = their_group(&sb, &r, OTHER).await;

    // Bad input is the caller's, before WhatsApp is asked.
    for bad in [
        json!({"name": " "}),
        json!({"name": "Shop", "groups": ["nope"]}),
        json!({"name": "Shop", "groups": [CONTACT]}),
        json!({"name": "Shop", "colour": "red"}),
        json!({"name": "Shop", "new_groups": [{"subject": "Orders", "ephemeral": 5}]}),
        json!({"name": "Shop", "new_groups": [{"subject": " "}]}),
        json!({"name": "Shop", "picture": "bm90IGFuIGltYWdl"}),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/communities", Some(bad.clone()))
            .await;
        assert!(code == 422 || code == 400, "{bad} -> {code} {e}");
    }

    // We create one, linking a group we run and one we do not: WhatsApp
    // links ours and refuses the other (403: not its admin).
    let (code, c) = d
        .call(
            "POST",
            "/api/sessions/shop/communities",
            Some(json!({"name": "Shop", "description": "Everyone at the shop", "groups": [sales, family]})),
        )
        .await;
    assert_eq!(code, 201, "{c}");
    let cid = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["name"], "Shop");
    assert_eq!(c["description"], "Everyone at the shop");
    assert_eq!(c["owner"], format!("{ACCOUNT}@c.us"));
    assert_eq!(c["failed"], json!([{"id": family, "error": "403"}]), "{c}");
    assert_eq!(
        c["groups"],
        json!([{"id": sales, "subject": "Sales"}]),
        "{c}"
    );
    let ann = c["announcement_group"].as_str().unwrap().to_string();
    let members = |c: &Value| -> Vec<(String, bool)> {
        let mut v: Vec<(String, bool)> = c["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["phone"].as_str().unwrap().to_string(), p["admin"] == true))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        members(&c),
        vec![(ACCOUNT.into(), true), (CONTACT.into(), false)],
        "{c}"
    );
    // As WhatsApp has it.
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{sales}")).await;
    assert_eq!(at_wa["parentGroup"], cid.as_str());
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{ann}")).await;
    assert_eq!(at_wa["defaultSubgroup"], true);
    assert_eq!(at_wa["announce"], true, "only admins write there");

    // A community has no chat: its announcement group is where to write.
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": cid, "text": "hello all"})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains(&ann),
        "{e}"
    );
    send(&d, json!({"to": ann, "text": "hello all"})).await;

    // Listed as a community, not as a group; its groups say whose they are.
    let (code, list) = d.call("GET", "/api/sessions/shop/communities", None).await;
    assert_eq!(code, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], cid.as_str());
    assert!(list[0].get("participants").is_none(), "{list}");
    let (_, groups) = d.call("GET", "/api/sessions/shop/groups", None).await;
    let of = |id: &str| {
        groups
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == id)
            .cloned()
    };
    assert!(of(&cid).is_none(), "{groups}");
    assert_eq!(of(&sales).unwrap()["community"], cid.as_str());
    assert_eq!(of(&ann).unwrap()["community_announcements"], true);
    assert!(of(&stock).unwrap().get("community").is_none());

    // Another group linked: its members join the community.
    let (code, l) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/communities/{cid}/groups"),
            Some(json!({"groups": [stock]})),
        )
        .await;
    assert_eq!(
        (code, l.clone()),
        (200, json!({"linked": [stock], "failed": []}))
    );
    let c = eventually(T, "the new group's members in the community", || async {
        let (_, c) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/communities/{cid}"),
                None,
            )
            .await;
        (members(&c).len() == 3).then_some(c)
    })
    .await;
    assert_eq!(c["groups"].as_array().unwrap().len(), 2, "{c}");

    // Renamed, described anew, given a picture.
    let (code, c) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/communities/{cid}"),
            Some(json!({"name": "Our shop", "description": "", "picture": PNG_1PX})),
        )
        .await;
    assert_eq!(code, 200, "{c}");
    assert_eq!(
        (c["name"].as_str(), c["description"].as_str()),
        (Some("Our shop"), None),
        "{c}"
    );
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{cid}")).await;
    assert_eq!(
        (at_wa["subject"].as_str(), at_wa["has_picture"].as_bool()),
        (Some("Our shop"), Some(true)),
        "{at_wa}"
    );
    let (code, e) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/communities/{cid}"),
            Some(json!({})),
        )
        .await;
    refused(code, &e, 422, "invalid_field");

    // A community and its announcement group are not changed as groups.
    let (code, e) = d
        .call("GET", &format!("/api/sessions/shop/groups/{cid}"), None)
        .await;
    refused(code, &e, 404, "group_not_found");
    let (code, e) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/groups/{ann}/participants"),
            Some(json!({"add": [OTHER]})),
        )
        .await;
    refused(code, &e, 409, "community_group");
    // Only members are made admins; its creator stays one.
    let (code, e) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/communities/{cid}/participants"),
            Some(json!({"promote": ["15557770123"]})),
        )
        .await;
    refused(code, &e, 422, "invalid_field");
    let (code, e) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/communities/{cid}/participants"),
            Some(json!({"demote": [ACCOUNT]})),
        )
        .await;
    refused(code, &e, 409, "community_creator");

    // A member made an admin, of the community and its announcements.
    let (code, c) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/communities/{cid}/participants"),
            Some(json!({"promote": [CONTACT]})),
        )
        .await;
    assert_eq!(code, 200, "{c}");
    assert!(members(&c).contains(&(CONTACT.to_string(), true)), "{c}");
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{ann}")).await;
    assert!(
        at_wa["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == format!("{CONTACT}@c.us") && p["isAdmin"] == true),
        "{at_wa}"
    );

    // Someone new to a linked group is new to the community: an admin may
    // make them one at once.
    const NEWCOMER: &str = "15557770456";
    let (code, g) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/groups/{sales}/participants"),
            Some(json!({"add": [NEWCOMER]})),
        )
        .await;
    assert_eq!(code, 200, "{g}");
    let (code, c) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/communities/{cid}/participants"),
            Some(json!({"promote": [NEWCOMER], "demote": [NEWCOMER]})),
        )
        .await;
    assert_eq!(code, 200, "{c}");
    assert!(members(&c).contains(&(NEWCOMER.to_string(), false)), "{c}");

    // Unlinked, a group stays; who no other linked group holds leaves.
    let (code, u) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/communities/{cid}/groups/{stock}"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{u}");
    let c = eventually(T, "the unlinked group's member out", || async {
        let (_, c) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/communities/{cid}"),
                None,
            )
            .await;
        (!members(&c).iter().any(|(p, _)| p == OTHER)).then_some(c)
    })
    .await;
    assert_eq!(members(&c).len(), 3, "{c}");
    let (code, e) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/communities/{cid}/groups/{stock}"),
            None,
        )
        .await;
    refused(code, &e, 404, "group_not_linked");
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{stock}")).await;
    assert!(at_wa["parentGroup"].is_null(), "{at_wa}");

    // A contact's community, which we are in through their group.
    let (code, theirs) = sb
        .post(
            "/_sandbox/communities",
            json!({"owner": CONTACT, "name": "Neighbours", "groups": [family]}),
        )
        .await;
    assert_eq!(code, 201, "{theirs}");
    let tid = theirs["community"]["id"].as_str().unwrap().to_string();
    // Their group linked, we are in their announcement group, as WhatsApp
    // adds a linked group's members: the webhook hears it.
    let their_ann = theirs["community"]["subgroups"][0]
        .as_str()
        .unwrap()
        .to_string();
    let joined = event(&r, "group.join", |p| p["group"] == their_ann.as_str()).await;
    assert!(joined.to_string().contains(ACCOUNT), "{joined}");
    let t = eventually(T, "their community", || async {
        let (code, t) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/communities/{tid}"),
                None,
            )
            .await;
        (code == 200 && t["groups"].as_array().is_some_and(|g| !g.is_empty())).then_some(t)
    })
    .await;
    assert_eq!(
        t["groups"],
        json!([{"id": family, "subject": "Family"}]),
        "{t}"
    );
    assert!(members(&t).contains(&(ACCOUNT.to_string(), false)), "{t}");
    // Only its admins link groups; only its creator ends it.
    let (code, e) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/communities/{tid}/groups"),
            Some(json!({"groups": [stock]})),
        )
        .await;
    refused(code, &e, 409, "not_community_admin");
    let (code, e) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/communities/{tid}"),
            None,
        )
        .await;
    refused(code, &e, 409, "not_community_creator");
    let (code, e) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/communities/{tid}"),
            Some(json!({"name": "Ours now"})),
        )
        .await;
    refused(code, &e, 409, "not_community_admin");
    // A community never was is a 404.
    let (code, e) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/communities/{stock}"),
            None,
        )
        .await;
    refused(code, &e, 404, "community_not_found");

    // Ours deactivated: its groups stay, on their own.
    let (code, e) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/communities/{cid}"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{e}");
    eventually(T, "the community gone", || async {
        let (code, _) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/communities/{cid}"),
                None,
            )
            .await;
        (code == 404).then_some(())
    })
    .await;
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{sales}")).await;
    assert!(at_wa["parentGroup"].is_null(), "{at_wa}");
    let (code, _) = sb.get(&format!("/_sandbox/groups/{ann}")).await;
    assert_ne!(code, 200, "the announcement group is closed");
    let (_, list) = d.call("GET", "/api/sessions/shop/communities", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], tid.as_str());
    let (_, groups) = d.call("GET", "/api/sessions/shop/groups", None).await;
    let ids: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["id"].as_str())
        .collect();
    assert!(
        ids.contains(&sales.as_str()) && !ids.contains(&ann.as_str()),
        "{groups}"
    );

    // We exit theirs: its groups too; it is no longer ours to see.
    let (code, e) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/communities/{tid}/leave"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{e}");
    eventually(T, "their community gone from ours", || async {
        let (_, list) = d.call("GET", "/api/sessions/shop/communities", None).await;
        list.as_array().unwrap().is_empty().then_some(())
    })
    .await;
    let (code, e) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/communities/{tid}"),
            None,
        )
        .await;
    refused(code, &e, 404, "community_not_found");
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{family}")).await;
    assert!(
        !at_wa["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == format!("{ACCOUNT}@c.us")),
        "{at_wa}"
    );
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{tid}")).await;
    assert_eq!(
        at_wa["participants"].as_array().unwrap().len(),
        2,
        "{at_wa}"
    );

    // None of the refused bodies above made anything; a community made
    // with a group of its own, which keeps its messages a day.
    let (code, c) = d
        .call(
            "POST",
            "/api/sessions/shop/communities",
            Some(json!({"name": "Second", "new_groups": [{"subject": "Orders", "ephemeral": 86400}]})),
        )
        .await;
    assert_eq!(code, 201, "{c}");
    assert_eq!(c["warnings"], json!([]), "{c}");
    let orders = c["groups"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(c["groups"][0]["subject"], "Orders", "{c}");
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{orders}")).await;
    assert_eq!(
        (at_wa["ephemeral"].as_u64(), at_wa["parentGroup"].as_str()),
        (Some(86400), c["id"].as_str()),
        "{at_wa}"
    );
    let (_, groups) = d.call("GET", "/api/sessions/shop/groups", None).await;
    let made = groups
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["subject"] == "Orders")
        .count();
    assert_eq!(made, 1, "{groups}");
}

/// WhatsApp adds whom it may and says why not of the rest: someone whose
/// privacy settings ("Who can add me to groups": my contacts) keep us out
/// is not added, and WhatsApp gives an invite to send them instead; one
/// who saved us is added; a number not on WhatsApp is not; one already in
/// is no failure. A new group is made without those it may not add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_whatsapp_refuses_say_who_and_why() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    const PRIVATE: &str = "15557770101";
    const FRIEND: &str = "15557770102";
    const NOBODY: &str = "15559990101";
    for who in [PRIVATE, FRIEND] {
        let (code, v) = sb
            .put(
                &format!("/_sandbox/contacts/{who}"),
                json!({"group_add": "contacts"}),
            )
            .await;
        assert_eq!(code, 200, "{v}");
    }
    let (code, v) = sb
        .put(
            &format!("/_sandbox/contacts/{PRIVATE}"),
            json!({"group_add": "sometimes"}),
        )
        .await;
    assert_eq!(code, 422, "{v}");
    let (code, v) = sb
        .put(
            &format!("/_sandbox/accounts/{FRIEND}/contacts/{ACCOUNT}"),
            json!({"first_name": "Shop"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    sb.post("/_sandbox/unregistered", json!({"phone": NOBODY}))
        .await;

    // A new group: made with those WhatsApp adds.
    let (code, g) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "Club", "participants": [CONTACT, PRIVATE]})),
        )
        .await;
    assert_eq!(code, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let phones = |g: &Value| -> Vec<String> {
        g["participants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phone"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert!(!phones(&g).contains(&PRIVATE.to_string()), "{g}");
    assert!(phones(&g).contains(&CONTACT.to_string()), "{g}");
    let failed = g["failed"].as_array().cloned().unwrap_or_default();
    assert_eq!(failed.len(), 1, "{g}");
    assert_eq!(
        (
            failed[0]["id"].as_str(),
            failed[0]["code"].as_u64(),
            failed[0]["error"].as_str()
        ),
        (
            Some(format!("{PRIVATE}@c.us").as_str()),
            Some(403),
            Some("privacy_settings")
        ),
        "{g}"
    );
    let code16 = failed[0]["invite_code"].as_str().unwrap_or_default();
    assert_eq!(code16.len(), 16, "an invite to send them instead: {g}");
    let expires = failed[0]["invite_expires"].as_i64().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now + 2 * 86_400..now + 4 * 86_400).contains(&expires),
        "{g}"
    );

    // An add: each person as WhatsApp answered.
    let (code, g) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/groups/{gid}/participants"),
            Some(json!({"add": [PRIVATE, FRIEND, NOBODY, CONTACT]})),
        )
        .await;
    assert_eq!(code, 200, "{g}");
    assert!(phones(&g).contains(&FRIEND.to_string()), "saved us: {g}");
    assert!(!phones(&g).contains(&PRIVATE.to_string()), "{g}");
    assert!(!phones(&g).contains(&NOBODY.to_string()), "{g}");
    let failed: Vec<(String, u64, String)> = g["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["code"].as_u64().unwrap(),
                f["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        vec![
            (
                format!("{PRIVATE}@c.us"),
                403,
                "privacy_settings".to_string()
            ),
            (format!("{NOBODY}@c.us"), 404, "not_on_whatsapp".to_string()),
        ],
        "{g}"
    );
    // WhatsApp has it so, and tells the group of the one it added only.
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{gid}")).await;
    let ids: Vec<&str> = at_wa["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(ids.contains(&format!("{FRIEND}@c.us").as_str()), "{at_wa}");
    assert!(
        !ids.contains(&format!("{PRIVATE}@c.us").as_str()),
        "{at_wa}"
    );
    let j = event(&r, "group.join", |p| {
        p["group"] == gid.as_str()
            && p["action"] == "add"
            && p["participants"] != json!([format!("{ACCOUNT}@c.us"), format!("{CONTACT}@c.us")])
    })
    .await;
    assert_eq!(j["participants"], json!([format!("{FRIEND}@c.us")]), "{j}");
    // All in already: nothing failed.
    let (code, g) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/groups/{gid}/participants"),
            Some(json!({"add": [FRIEND]})),
        )
        .await;
    assert_eq!((code, g["failed"].clone()), (200, json!([])), "{g}");

    // The one kept out gets a private invite instead, as WhatsApp's own
    // "Invite to group" sends it, and joins by it, once.
    let (_, again) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/groups/{gid}/participants"),
            Some(json!({"add": [PRIVATE]})),
        )
        .await;
    let f = again["failed"][0].clone();
    let (code16, expires) = (
        f["invite_code"].as_str().unwrap(),
        f["invite_expires"].clone(),
    );
    let invite =
        json!({"group": gid, "code": code16, "expires": expires, "comment": "Join the club"});
    let sent = send(&d, json!({"to": PRIVATE, "group_invite": invite})).await;
    let phone = on_phone(&sb, &sent).await;
    assert_eq!(phone["type"], "groups_v4_invite", "{phone}");
    assert_eq!(
        (
            phone["invite"]["group"].as_str(),
            phone["invite"]["code"].as_str(),
            phone["invite"]["name"].as_str()
        ),
        (Some(gid.as_str()), Some(code16), Some("Club")),
        "{phone}"
    );
    assert_eq!(phone["text"], "Join the club");
    let ours = stored(&d, &sent).await;
    assert_eq!(
        (
            ours["type"].as_str(),
            ours["group_invite"]["code"].as_str(),
            ours["text"].as_str()
        ),
        (Some("other"), Some(code16), Some("Join the club")),
        "{ours}"
    );
    let accept_at = format!("/_sandbox/groups/{gid}/accept");
    let accept = |code: &str| sb.post(&accept_at, json!({"phone": PRIVATE, "code": code}));
    assert_ne!(accept("NotTheirCode").await.0, 200);
    let (code, v) = accept(code16).await;
    assert_eq!(code, 200, "{v}");
    let j = event(&r, "group.join", |p| {
        p["group"] == gid.as_str() && p["participants"] == json!([format!("{PRIVATE}@c.us")])
    })
    .await;
    assert_eq!(j["action"], "join", "{j}");
    assert_ne!(accept(code16).await.0, 200, "an invite is good once");
    // Refused where it cannot go: to a group, or with no code.
    for (bad, field) in [
        (json!({"to": gid, "group_invite": invite}), "to"),
        (
            json!({"to": PRIVATE, "group_invite": {"group": gid, "code": "", "expires": expires}}),
            "group_invite.code",
        ),
        (
            json!({"to": PRIVATE, "text": "hi", "group_invite": invite}),
            "group_invite",
        ),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/messages", Some(bad))
            .await;
        let says = e["error"]["message"].as_str().unwrap_or_default();
        assert!(
            code == 422 && says.starts_with(&format!("field '{field}'")),
            "{code} {e}"
        );
    }

    // One sent to us arrives with what it invites to.
    let mid = inbound(
        &sb,
        json!({"text": "come along", "invite": {"group": "120363000000000001@g.us", "code": "AbCdEf123",
               "expires": 1_900_000_000, "name": "Book club"}}),
    )
    .await;
    let p = event(&r, "message", |p| p["id"] == mid.as_str()).await;
    assert_eq!(
        p["group_invite"],
        json!({"group": "120363000000000001@g.us", "code": "AbCdEf123", "expires": 1_900_000_000, "name": "Book club"}),
        "{p}"
    );
    assert_eq!(
        (p["type"].as_str(), p["text"].as_str()),
        (Some("other"), Some("come along"))
    );
}

/// A group's description and its two settings, as WhatsApp keeps them:
/// `announce` (only admins send) and `restrict` (only admins edit the info).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_descriptions_and_settings_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;

    // Ours: we describe it and close it to admins; WhatsApp has it, and
    // every change is a group.update.
    let (code, g) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "Notices", "participants": [CONTACT, OTHER]})),
        )
        .await;
    assert_eq!(code, 201, "{g}");
    assert_eq!(
        (g["announce"].clone(), g["restrict"].clone()),
        (json!(false), json!(false))
    );
    let gid = g["id"].as_str().unwrap().to_string();
    let ours = format!("/api/sessions/shop/groups/{gid}");
    let (code, g) = d
        .call(
            "PATCH",
            &ours,
            Some(json!({"description": "Opening hours: 9 to 5"})),
        )
        .await;
    assert_eq!(code, 200, "{g}");
    assert_eq!(g["description"], "Opening hours: 9 to 5");
    let (code, g) = d
        .call(
            "PATCH",
            &ours,
            Some(json!({"announce": true, "restrict": true})),
        )
        .await;
    assert_eq!(code, 200, "{g}");
    assert_eq!(
        (g["announce"].clone(), g["restrict"].clone()),
        (json!(true), json!(true))
    );
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{gid}")).await;
    assert_eq!(
        (
            at_wa["desc"].as_str(),
            at_wa["announce"].clone(),
            at_wa["restrict"].clone()
        ),
        (Some("Opening hours: 9 to 5"), json!(true), json!(true)),
        "{at_wa}"
    );
    // Disappearing messages: a week, as WhatsApp offers; then off.
    let (code, g) = d
        .call("PATCH", &ours, Some(json!({"ephemeral": 604800})))
        .await;
    assert_eq!((code, g["ephemeral"].as_u64()), (200, Some(604800)), "{g}");
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{gid}")).await;
    assert_eq!(at_wa["ephemeral"], 604800, "{at_wa}");
    eventually(T, "the group's metadata told", || async {
        let (_, g) = d.call("GET", &ours, None).await;
        (g["ephemeral"] == 604800).then_some(())
    })
    .await;
    let (code, e) = d
        .call("PATCH", &ours, Some(json!({"ephemeral": 3600})))
        .await;
    refused(code, &e, 422, "invalid_field");
    let (code, g) = d.call("PATCH", &ours, Some(json!({"ephemeral": 0}))).await;
    assert_eq!((code, g["ephemeral"].as_u64()), (200, Some(0)), "{g}");
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{gid}")).await.1["ephemeral"],
        0
    );
    let me = format!("{ACCOUNT}@c.us");
    let u = event(&r, "group.update", |p| {
        p["group"] == gid.as_str() && p["description"].is_string()
    })
    .await;
    assert_eq!(
        (u["description"].as_str(), u["author"].as_str()),
        (Some("Opening hours: 9 to 5"), Some(me.as_str()))
    );
    for k in ["announce", "restrict"] {
        let u = event(&r, "group.update", |p| {
            p["group"] == gid.as_str() && p[k].is_boolean()
        })
        .await;
        assert_eq!(
            (u[k].clone(), u["author"].as_str()),
            (json!(true), Some(me.as_str())),
            "{u}"
        );
    }
    // Members may no longer write or edit it; we, its admin, still may.
    let (code, v) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": CONTACT, "group": gid, "text": "hello?"}),
        )
        .await;
    assert_eq!(code, 403, "a member wrote to an admins-only group: {v}");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/groups/{gid}/description"),
            json!({"by": CONTACT, "description": "mine now"}),
        )
        .await;
    assert_eq!(code, 403, "{v}");
    let sent = send(&d, json!({"to": gid, "text": "We open at 9 tomorrow"})).await;
    assert_eq!(on_phone(&sb, &sent).await["to"], gid.as_str());

    // Its picture: WhatsApp shows it, until we remove it.
    let (code, g) = d
        .call("PATCH", &ours, Some(json!({"picture": PNG_1PX})))
        .await;
    assert_eq!(code, 200, "{g}");
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{gid}/picture")).await.0,
        200
    );
    // Every member hears of it as WhatsApp's notice, as a group.update.
    let set = event(&r, "group.update", |p| {
        p["group"] == gid.as_str() && p["picture"] == true
    })
    .await;
    assert_eq!(set["author"], format!("{ACCOUNT}@c.us"), "{set}");
    let (code, e) = d
        .call("PATCH", &ours, Some(json!({"picture": "bm90IGFuIGltYWdl"})))
        .await;
    assert_eq!(code, 422, "not an image: {e}");
    let (code, g) = d.call("PATCH", &ours, Some(json!({"picture": null}))).await;
    assert_eq!(code, 200, "{g}");
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{gid}/picture")).await.0,
        404
    );
    event(&r, "group.update", |p| {
        p["group"] == gid.as_str() && p["picture"] == false
    })
    .await;

    // Its invite: we reset it and the old link opens nothing; a link shows
    // the group before joining.
    let (code, inv) = d.call("GET", &format!("{ours}/invite"), None).await;
    assert_eq!(code, 200, "{inv}");
    let old_code = inv["code"].as_str().unwrap().to_string();
    let (code, fresh) = d.call("POST", &format!("{ours}/invite/revoke"), None).await;
    assert_eq!(code, 200, "{fresh}");
    let new_code = fresh["code"].as_str().unwrap().to_string();
    assert_ne!(new_code, old_code);
    assert_eq!(
        fresh["link"].as_str(),
        Some(format!("https://chat.whatsapp.com/{new_code}").as_str())
    );
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{gid}")).await.1["invite"],
        new_code.as_str()
    );
    // A fourth member: WhatsApp's preview lists some people, and says how many.
    let (code, v) = d
        .call(
            "POST",
            &format!("{ours}/participants"),
            Some(json!({"add": ["15557770099"]})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, e) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/invites/{old_code}"),
            None,
        )
        .await;
    refused(code, &e, 404, "invite_not_found");
    let (code, info) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/invites/{new_code}"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{info}");
    assert_eq!(
        (
            info["id"].as_str(),
            info["subject"].as_str(),
            info["description"].as_str(),
            info["size"].as_u64()
        ),
        (
            Some(gid.as_str()),
            Some("Notices"),
            Some("Opening hours: 9 to 5"),
            Some(4)
        )
    );
    assert!(
        info["participants"].as_array().unwrap().len() <= 3,
        "{info}"
    );
    let (code, e) = d
        .call("GET", "/api/sessions/shop/invites/not-a-code!", None)
        .await;
    assert_eq!(code, 422, "{e}");

    // Theirs: its owner closes it to admins; we hear it, and our sends and
    // edits are refused as the caller's problem, not WhatsApp failing.
    let (code, fam) = sb
        .post(
            "/_sandbox/groups",
            json!({"owner": CONTACT, "subject": "Family", "participants": [ACCOUNT]}),
        )
        .await;
    assert_eq!(code, 201, "{fam}");
    let fid = fam["id"].as_str().unwrap().to_string();
    event(&r, "group.join", |p| p["group"] == fid.as_str()).await;
    let theirs = format!("/api/sessions/shop/groups/{fid}");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/groups/{fid}/settings"),
            json!({"by": CONTACT, "announce": true}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let u = event(&r, "group.update", |p| {
        p["group"] == fid.as_str() && p["announce"].is_boolean()
    })
    .await;
    assert_eq!(
        (u["announce"].clone(), u["author"].as_str()),
        (json!(true), Some(format!("{CONTACT}@c.us").as_str()))
    );
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": fid, "text": "may I?"})),
        )
        .await;
    refused(code, &e, 409, "not_group_admin");
    let (code, e) = d
        .call("PATCH", &theirs, Some(json!({"restrict": true})))
        .await;
    refused(code, &e, 409, "not_group_admin");
    let (code, e) = d
        .call("POST", &format!("{theirs}/invite/revoke"), None)
        .await;
    refused(code, &e, 409, "not_group_admin");
    // A change we may make, asked with one we may not, is not made either.
    let (code, e) = d
        .call(
            "PATCH",
            &theirs,
            Some(json!({"description": "half done", "announce": false})),
        )
        .await;
    refused(code, &e, 409, "not_group_admin");
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{fid}")).await.1["desc"],
        ""
    );
    // While it is not `restrict`, any member edits the description and
    // the picture.
    let (code, g) = d
        .call(
            "PATCH",
            &theirs,
            Some(json!({"description": "Sunday lunch", "picture": PNG_1PX})),
        )
        .await;
    assert_eq!(
        (code, g["description"].as_str()),
        (200, Some("Sunday lunch")),
        "{g}"
    );
    for (k, on) in [("restrict", true), ("announce", false)] {
        let (code, v) = sb
            .post(
                &format!("/_sandbox/groups/{fid}/settings"),
                json!({"by": CONTACT, k: on}),
            )
            .await;
        assert_eq!(code, 200, "{v}");
        event(&r, "group.update", |p| {
            p["group"] == fid.as_str() && p[k] == on
        })
        .await;
    }
    let (code, e) = d
        .call("PATCH", &theirs, Some(json!({"description": "" })))
        .await;
    refused(code, &e, 409, "not_group_admin");
    // Nor the picture: neither a new one nor none (WhatsApp refuses the
    // removal, which wa-js answers as false).
    for picture in [json!(PNG_1PX), Value::Null] {
        let (code, e) = d
            .call("PATCH", &theirs, Some(json!({ "picture": picture })))
            .await;
        refused(code, &e, 409, "not_group_admin");
    }
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{fid}/picture")).await.0,
        200
    );
    assert_eq!(
        sb.get(&format!("/_sandbox/groups/{fid}")).await.1["desc"],
        "Sunday lunch"
    );
    // Open again: our send goes through.
    let sent = send(&d, json!({"to": fid, "text": "see you Sunday"})).await;
    assert_eq!(on_phone(&sb, &sent).await["to"], fid.as_str());
    let (code, v) = sb
        .post(
            &format!("/_sandbox/groups/{fid}/description"),
            json!({"by": CONTACT, "description": "Lunch at 1"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let u = event(&r, "group.update", |p| {
        p["group"] == fid.as_str() && p["description"] == "Lunch at 1"
    })
    .await;
    assert_eq!(u["author"], format!("{CONTACT}@c.us"));

    // Bad input changes nothing.
    for bad in [
        json!({}),
        json!({"description": "x".repeat(2049)}),
        json!({"subject": " "}),
        json!({"announce": "yes"}),
        json!({"colour": "red"}),
    ] {
        let (code, e) = d.call("PATCH", &ours, Some(bad.clone())).await;
        assert!(code == 400 || code == 422, "{bad}: {code} {e}");
    }
    let (_, at_wa) = sb.get(&format!("/_sandbox/groups/{gid}")).await;
    assert_eq!(
        (at_wa["subject"].as_str(), at_wa["desc"].as_str()),
        (Some("Notices"), Some("Opening hours: 9 to 5"))
    );
}

/// A chat's history from before this session's link: loaded from WhatsApp
/// Web when a reader gets to the end of what the store has, page by page,
/// without a webhook for any of it (it is history, not news).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_from_before_the_link_is_loaded_as_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    // Days ago, as far as WhatsApp is concerned: the account's other
    // device ("shop") had them; the session linked later never saw them.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut old = vec![];
    for (i, extra) in [
        json!({"text": "first"}),
        json!({"media": {"data": PNG_1PX, "mimetype": "image/png"}, "caption": "the menu"}),
        json!({"text": "third"}),
        json!({"text": "fourth"}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = extra;
        body["sent_at"] = json!(now - 3 * 86_400 + i as i64 * 60);
        let id = inbound(&sb, body).await;
        event(&r, "message", |p| p["id"] == id.as_str()).await;
        old.push(id);
    }
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "branch", "webhooks": [{"url": r.url, "events": ["*"]}]})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    d.link(&sb, "branch", ACCOUNT).await;
    let chat = format!("{CONTACT}%40c.us");
    // Newest first, two at a time, as the store pages; once the new
    // session has caught up (until then its store's answer is all).
    let p1 = eventually(T, "the history loaded", || async {
        // The page lets go of what it holds in memory: what it loads then
        // comes from WhatsApp Web's history, as scrolling up does.
        let (code, _) = d
            .call("POST", "/branch/cutMsgCache", Some(json!({"args": []})))
            .await;
        assert_eq!(code, 200);
        let (code, p1) = d
            .call(
                "GET",
                &format!("/api/sessions/branch/messages?chat={chat}&limit=2"),
                None,
            )
            .await;
        assert_eq!(code, 200, "{p1}");
        (p1["messages"].as_array()?.len() == 2).then_some(p1)
    })
    .await;
    let ids = |p: &Value| -> Vec<String> {
        p["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&p1), vec![old[3].clone(), old[2].clone()], "{p1}");
    // One at a time from there: a full page whose next WhatsApp Web still
    // holds says so.
    let page = |before: String| {
        let d = &d;
        let chat = chat.clone();
        async move {
            let (code, p) = d
                .call(
                    "GET",
                    &format!("/api/sessions/branch/messages?chat={chat}&limit=1&before={before}"),
                    None,
                )
                .await;
            assert_eq!(code, 200, "{p}");
            p
        }
    };
    let p2 = page(p1["next"].as_str().expect("a next page").to_string()).await;
    assert_eq!(ids(&p2), vec![old[1].clone()], "{p2}");
    let p3 = page(
        p2["next"]
            .as_str()
            .expect("a next page after a full one")
            .to_string(),
    )
    .await;
    assert_eq!(ids(&p3), vec![old[0].clone()], "{p3}");
    assert!(p3["next"].is_null(), "the start of the chat: {p3}");
    // As they were: who wrote them, when, the media (fetched when asked for).
    let m = &p2["messages"][0];
    assert_eq!(
        (
            m["type"].as_str(),
            m["caption"].as_str(),
            m["from_me"].clone()
        ),
        (Some("image"), Some("the menu"), json!(false))
    );
    assert_eq!(m["timestamp"], now - 3 * 86_400 + 60);
    let (code, _) = d
        .call(
            "GET",
            &format!(
                "/api/sessions/branch/messages/{}/media",
                message_path(&old[1])
            ),
            None,
        )
        .await;
    assert_eq!(code, 200);
    // No webhook told of them for the new session: they are not news.
    let branch_told = r
        .events("message")
        .into_iter()
        .filter(|e| {
            e["session"] == "branch" && old.iter().any(|id| e["payload"]["id"] == id.as_str())
        })
        .count();
    assert_eq!(branch_told, 0);
    // A chat with nothing older, read again: the same answer.
    let (_, again) = d
        .call(
            "GET",
            &format!("/api/sessions/branch/messages?chat={chat}&limit=10"),
            None,
        )
        .await;
    assert_eq!(
        ids(&again),
        vec![
            old[3].clone(),
            old[2].clone(),
            old[1].clone(),
            old[0].clone()
        ]
    );
}

/// This account's own profile: its name, about and picture, as its contacts
/// see them on WhatsApp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_name_about_and_picture() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, _r) = setup(tmp.path()).await;
    let (code, p) = d.call("GET", "/api/sessions/shop/profile", None).await;
    assert_eq!(code, 200, "{p}");
    assert_eq!(
        (p["about"].clone(), p["picture_url"].clone()),
        (Value::Null, Value::Null),
        "{p}"
    );
    let (code, p) = d
        .call(
            "PATCH",
            "/api/sessions/shop/profile",
            Some(
                json!({"name": "Dora's Bakery", "about": "Fresh bread daily", "picture": PNG_1PX}),
            ),
        )
        .await;
    assert_eq!(code, 200, "{p}");
    assert_eq!(
        (p["name"].as_str(), p["about"].as_str()),
        (Some("Dora's Bakery"), Some("Fresh bread daily")),
        "{p}"
    );
    assert!(p["picture_url"].is_string(), "{p}");
    // What WhatsApp shows of us.
    let (_, at_wa) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/profile"))
        .await;
    assert_eq!(
        at_wa,
        json!({"name": "Dora's Bakery", "about": "Fresh bread daily", "has_picture": true})
    );
    let (code, _) = sb.get(&format!("/_sandbox/pictures/{ACCOUNT}")).await;
    assert_eq!(code, 200, "our picture is shown");
    // The session knows itself by its new name.
    eventually(T, "the new name on the session", || async {
        let (_, s) = d.call("GET", "/api/sessions/shop", None).await;
        (s["me"]["name"] == "Dora's Bakery").then_some(())
    })
    .await;
    let (code, p) = d
        .call(
            "PATCH",
            "/api/sessions/shop/profile",
            Some(json!({"picture": null})),
        )
        .await;
    assert_eq!((code, p["picture_url"].clone()), (200, Value::Null), "{p}");
    assert_eq!(
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/profile"))
            .await
            .1["has_picture"],
        false
    );

    // Bad input changes nothing.
    for bad in [
        json!({}),
        json!({"name": " "}),
        json!({"name": "x".repeat(26)}),
        json!({"about": "x".repeat(140)}),
        json!({"picture": "bm90IGFuIGltYWdl"}),
        json!({"picture": "!!!"}),
        json!({"colour": "red"}),
    ] {
        let (code, e) = d
            .call("PATCH", "/api/sessions/shop/profile", Some(bad.clone()))
            .await;
        assert!(code == 400 || code == 422, "{bad}: {code} {e}");
    }
    assert_eq!(
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/profile"))
            .await
            .1,
        json!({"name": "Dora's Bakery", "about": "Fresh bread daily", "has_picture": false})
    );
}

/// Chats archived, pinned and muted: as WhatsApp keeps them on the phone
/// and every device, both ways, with WhatsApp's limit of three pins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_are_archived_pinned_and_muted_as_on_the_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let others = ["15557770101", "15557770102", "15557770103"];
    for from in std::iter::once(CONTACT).chain(others) {
        let id = inbound(&sb, json!({"from": from, "text": "hello"})).await;
        event(&r, "message", |p| p["id"] == id.as_str()).await;
    }
    let chat_of = |phone: &str| format!("{phone}@c.us");
    let patch = |chat: String, body: Value| {
        let d = &d;
        async move {
            d.call(
                "PATCH",
                &format!("/api/sessions/shop/chats/{chat}"),
                Some(body),
            )
            .await
        }
    };
    let at_phone = || async {
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/chats"))
            .await
            .1
    };
    let listed = |chat: String| {
        let d = &d;
        async move {
            let (_, all) = d.call("GET", "/api/sessions/shop/chats", None).await;
            all.as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == chat.as_str())
                .cloned()
                .unwrap_or_default()
        }
    };

    // Archived: on the phone too.
    let (code, c) = patch(chat_of(CONTACT), json!({"archived": true})).await;
    assert_eq!(code, 200, "{c}");
    assert_eq!(
        (c["id"].as_str(), c["archived"].clone()),
        (Some(chat_of(CONTACT).as_str()), json!(true))
    );
    assert_eq!(at_phone().await[chat_of(CONTACT)]["archived"], true);
    // Three pinned; a fourth is refused, as WhatsApp refuses it.
    for p in others {
        let (code, c) = patch(chat_of(p), json!({"pinned": true})).await;
        assert_eq!((code, c["pinned"].clone()), (200, json!(true)), "{c}");
    }
    // Refused as a whole: the archive asked with it is not made either.
    let (code, e) = patch(chat_of(CONTACT), json!({"pinned": true, "archived": false})).await;
    refused(code, &e, 409, "pin_limit_reached");
    assert_eq!(at_phone().await[chat_of(CONTACT)]["archived"], true);
    let phone = at_phone().await;
    let pinned: Vec<&String> = phone
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, s)| s["pinned"].is_i64())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(pinned.len(), 3, "{phone}");
    // Muted for eight hours, then always, then not.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 8 * 3600;
    let (code, c) = patch(chat_of(CONTACT), json!({"muted_until": until})).await;
    assert_eq!((code, c["muted_until"].as_i64()), (200, Some(until)), "{c}");
    assert_eq!(at_phone().await[chat_of(CONTACT)]["mute_until"], until);
    let (_, c) = patch(chat_of(CONTACT), json!({"muted_until": -1})).await;
    assert_eq!(c["muted_until"], -1, "{c}");
    assert_eq!(listed(chat_of(CONTACT)).await["muted_until"], -1);
    let (_, c) = patch(chat_of(CONTACT), json!({"muted_until": 0})).await;
    assert!(c["muted_until"].is_null(), "{c}");
    // The phone unpins one and unarchives another: the API shows it.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/chats/{}", chat_of(others[0])),
            json!({"pin": false}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/chats/{}", chat_of(CONTACT)),
            json!({"archive": false}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    eventually(T, "the phone's changes at the API", || async {
        let a = listed(chat_of(others[0])).await;
        let b = listed(chat_of(CONTACT)).await;
        (a["pinned"] == false && b["archived"] == false).then_some(())
    })
    .await;
    // Now there is room for it.
    let (code, c) = patch(chat_of(CONTACT), json!({"pinned": true})).await;
    assert_eq!((code, c["pinned"].clone()), (200, json!(true)), "{c}");
    // Read, then marked unread (on the phone too) until it is read again.
    let read = || async {
        let (code, v) = d
            .call(
                "POST",
                &format!("/api/sessions/shop/chats/{}/read", chat_of(CONTACT)),
                None,
            )
            .await;
        assert_eq!(code, 200, "{v}");
    };
    read().await;
    let (code, c) = patch(chat_of(CONTACT), json!({"unread": true})).await;
    assert_eq!(
        (code, c["marked_unread"].clone()),
        (200, json!(true)),
        "{c}"
    );
    assert_eq!(at_phone().await[chat_of(CONTACT)]["marked_unread"], true);
    assert_eq!(listed(chat_of(CONTACT)).await["marked_unread"], true);
    read().await;
    assert!(
        at_phone().await[chat_of(CONTACT)]
            .get("marked_unread")
            .is_none()
    );
    eventually(T, "read, no longer marked", || async {
        (listed(chat_of(CONTACT)).await["marked_unread"] == false).then_some(())
    })
    .await;

    // Bad input changes nothing.
    let (code, e) = patch("15559998877@c.us".into(), json!({"archived": true})).await;
    refused(code, &e, 404, "chat_not_found");
    for bad in [
        json!({}),
        json!({"muted_until": 1000}),
        json!({"muted_until": -2}),
        json!({"pinned": "yes"}),
        json!({"starred": true}),
    ] {
        let (code, e) = patch(chat_of(CONTACT), bad.clone()).await;
        assert!(code == 400 || code == 422, "{bad}: {code} {e}");
    }
}

/// In a group it runs, this account deletes anyone's message for everyone,
/// as WhatsApp lets an admin; elsewhere only its own; and an admin's delete
/// of ours reaches us.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_delete_anyones_messages_in_their_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let delete = |id: String| {
        let d = &d;
        async move {
            d.call(
                "DELETE",
                &format!("/api/sessions/shop/messages/{}", message_path(&id)),
                None,
            )
            .await
        }
    };
    let ours_at_wa = |id: String| {
        let sb = &sb;
        async move {
            at_whatsapp(sb)
                .await
                .into_iter()
                .find(|m| m["id"] == id.as_str())
                .unwrap_or_default()
        }
    };

    // Ours: a member posts spam; we delete it for everyone.
    let (code, g) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "Shop news", "participants": [CONTACT, OTHER]})),
        )
        .await;
    assert_eq!(code, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let spam = in_group(
        &sb,
        CONTACT,
        &gid,
        json!({"text": "cheap watches at spam.example"}),
    )
    .await;
    event(&r, "message", |p| p["id"] == spam.as_str()).await;
    // A member who is no admin may not delete it for everyone.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{spam}/revoke"),
            json!({"by": OTHER}),
        )
        .await;
    assert_eq!(code, 403, "{v}");
    let (code, v) = delete(spam.clone()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        ours_at_wa(spam.clone()).await["revoked"],
        true,
        "deleted at WhatsApp"
    );
    event(&r, "message.revoked", |p| p["id"] == spam.as_str()).await;
    assert_eq!(stored(&d, &spam).await["revoked"], true);

    // Theirs: we are a member only, and may delete only our own.
    let fid = their_group(&sb, &r, OTHER).await;
    let theirs = in_group(&sb, OTHER, &fid, json!({"text": "photos from Sunday"})).await;
    event(&r, "message", |p| p["id"] == theirs.as_str()).await;
    let (code, e) = delete(theirs.clone()).await;
    refused(code, &e, 409, "not_own_message");
    assert_ne!(ours_at_wa(theirs.clone()).await["revoked"], true);
    // Its admin deletes what we wrote there: we hear it.
    let mine = send(&d, json!({"to": fid, "text": "off-topic, sorry"})).await;
    on_phone(&sb, &mine).await;
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{mine}/revoke"),
            json!({"by": OTHER}),
        )
        .await;
    assert_eq!(code, 403, "a member who is no admin may not: {v}");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{mine}/revoke"),
            json!({"by": CONTACT}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    event(&r, "message.revoked", |p| p["id"] == mine.as_str()).await;
    eventually(T, "the admin's delete stored", || async {
        (stored(&d, &mine).await["revoked"] == true).then_some(())
    })
    .await;
}

/// Forwarding: what we forward goes on as it was (media and caption too),
/// marked forwarded one time more; what reaches us forwarded says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;

    // Theirs: a photo, and a text that has been forwarded many times.
    let photo = inbound(
        &sb,
        json!({"media": {"data": PNG_1PX, "mimetype": "image/png"}, "caption": "today's menu"}),
    )
    .await;
    let chain = inbound(&sb, json!({"text": "pass it on", "forwarded": 6})).await;
    let p = event(&r, "message", |p| p["id"] == chain.as_str()).await;
    assert_eq!(
        (p["forwarded"].clone(), p["forwarding_score"].clone()),
        (json!(true), json!(6)),
        "{p}"
    );
    let p = event(&r, "message", |p| p["id"] == photo.as_str()).await;
    assert!(p.get("forwarded").is_none(), "not forwarded: {p}");

    // We forward the photo on: the same bytes and caption reach the other
    // person, marked forwarded, and the API has our copy.
    let copy = send(&d, json!({"to": OTHER, "forward": photo})).await;
    assert_ne!(copy, photo);
    let there = on_phone(&sb, &copy).await;
    assert_eq!(there["to"], OTHER, "{there}");
    assert_eq!(
        (
            there["media"]["data"].as_str(),
            there["caption"].as_str(),
            there["forwarded"].clone()
        ),
        (Some(PNG_1PX), Some("today's menu"), json!(1))
    );
    let ours = stored(&d, &copy).await;
    assert_eq!(
        (
            ours["type"].as_str(),
            ours["from_me"].clone(),
            ours["forwarded"].clone()
        ),
        (Some("image"), json!(true), json!(true)),
        "{ours}"
    );
    // Our own message forwarded is not marked so, as WhatsApp does it.
    let hello = send(&d, json!({"to": OTHER, "text": "hello from the shop"})).await;
    let again = send(&d, json!({"to": CONTACT, "forward": hello})).await;
    let there = on_phone(&sb, &again).await;
    assert_eq!(
        (there["text"].as_str(), there["forwarded"].clone()),
        (Some("hello from the shop"), json!(0))
    );
    assert!(stored(&d, &again).await.get("forwarded").is_none());
    // Forwarded on again, the count goes on; into a group too.
    let (code, g) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "Chain", "participants": [CONTACT]})),
        )
        .await;
    assert_eq!(code, 201, "{g}");
    let gid = g["id"].as_str().unwrap();
    let again = send(&d, json!({"to": gid, "forward": chain})).await;
    let there = on_phone(&sb, &again).await;
    assert_eq!(
        (
            there["text"].as_str(),
            there["forwarded"].clone(),
            there["to"].as_str()
        ),
        (Some("pass it on"), json!(7), Some(gid))
    );

    // What cannot be forwarded says why; nothing goes out.
    let (code, v) = sb
        .post(&format!("/_sandbox/messages/{photo}/revoke"), json!({}))
        .await;
    assert_eq!(code, 200, "{v}");
    event(&r, "message.revoked", |p| p["id"] == photo.as_str()).await;
    let tries = [
        (
            json!({"to": OTHER, "forward": photo}),
            409,
            "not_forwardable",
        ),
        (
            json!({"to": OTHER, "forward": "false_15557770077@c.us_NOSUCHMSG"}),
            404,
            "message_not_found",
        ),
        (
            json!({"to": OTHER, "forward": "hello"}),
            422,
            "invalid_field",
        ),
        (
            json!({"to": OTHER, "forward": chain, "text": "and this"}),
            422,
            "invalid_field",
        ),
        (
            json!({"to": OTHER, "forward": chain, "reply_to": chain}),
            422,
            "invalid_field",
        ),
        (
            json!({"to": OTHER, "forward": chain, "location": {"lat": 1.0, "lng": 2.0}}),
            422,
            "invalid_field",
        ),
    ];
    let before = at_whatsapp(&sb).await.len();
    for (body, status, code) in tries {
        let (got, e) = d
            .call("POST", "/api/sessions/shop/messages", Some(body.clone()))
            .await;
        assert_eq!(
            (got, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {e}"
        );
    }
    assert_eq!(before, at_whatsapp(&sb).await.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_profiles_and_the_blocklist() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nnot really");

    // We show typing in a chat, then go offline: the contact's phone sees it.
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions/shop/presence",
            Some(json!({"state": "typing", "chat": CONTACT})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (_, shown) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/presence"))
        .await;
    assert_eq!(
        shown["chats"][format!("{CONTACT}@c.us")],
        "composing",
        "{shown}"
    );
    assert_eq!(shown["online"], true);
    d.call(
        "POST",
        "/api/sessions/shop/presence",
        Some(json!({"state": "recording", "chat": CONTACT})),
    )
    .await;
    assert_eq!(
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/presence"))
            .await
            .1["chats"][format!("{CONTACT}@c.us")],
        "recording"
    );
    let (code, _) = d
        .call(
            "POST",
            "/api/sessions/shop/presence",
            Some(json!({"state": "offline"})),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/presence"))
            .await
            .1["online"],
        false
    );
    for bad in [
        json!({"state": "online", "chat": CONTACT}),
        json!({"state": "typing"}),
        json!({"state": "dancing"}),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/presence", Some(bad.clone()))
            .await;
        assert_eq!(code, 422, "{bad} -> {e}");
    }

    // Their presence comes only once we subscribed, as WhatsApp does.
    let (_, v) = sb
        .post(
            "/_sandbox/presence",
            json!({"from": CONTACT, "to": ACCOUNT, "state": "composing"}),
        )
        .await;
    assert_eq!(v["delivered"], false);
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions/shop/presence/subscribe",
            Some(json!({"contacts": [CONTACT]})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (_, v) = sb
        .post(
            "/_sandbox/presence",
            json!({"from": CONTACT, "to": ACCOUNT, "state": "composing"}),
        )
        .await;
    assert_eq!(v["delivered"], true);
    let p = event(&r, "presence.update", |p| p["state"] == "composing").await;
    assert_eq!(
        (p["id"].as_str(), p["online"].as_bool()),
        (Some(format!("{CONTACT}@c.us").as_str()), Some(true))
    );
    sb.post(
        "/_sandbox/presence",
        json!({"from": CONTACT, "to": ACCOUNT, "state": "unavailable"}),
    )
    .await;
    let p = event(&r, "presence.update", |p| p["state"] == "unavailable").await;
    assert_eq!(p["online"], false);
    // Stamped in seconds, as WhatsApp Web tells the change.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((p["timestamp"].as_i64().unwrap() - now).abs() < 120, "{p}");

    // Asked for: offline, and since when.
    let presence = |who: &'static str| {
        let d = &d;
        async move {
            d.call(
                "GET",
                &format!("/api/sessions/shop/contacts/{who}/presence"),
                None,
            )
            .await
        }
    };
    let (code, p) = presence(CONTACT).await;
    assert_eq!(code, 200, "{p}");
    assert_eq!(
        (p["online"].as_bool(), p["known"].as_bool()),
        (Some(false), Some(true)),
        "{p}"
    );
    let last = p["last_seen"].as_i64().expect("when last seen");
    assert!((last - now).abs() < 120, "{p}");
    // A key that may only read hears what WhatsApp Web has, and
    // subscribes to no one.
    let (code, k) = d
        .call(
            "POST",
            "/api/keys",
            Some(json!({"sessions": ["shop"], "scopes": ["read"]})),
        )
        .await;
    assert_eq!(code, 201, "{k}");
    let unheard = "15557770125";
    let (code, p) = d
        .call_as(
            k["key"].as_str().unwrap(),
            "GET",
            &format!("/api/sessions/shop/contacts/{unheard}/presence"),
            None,
        )
        .await;
    assert_eq!((code, p["known"].as_bool()), (200, Some(false)), "{p}");
    let (_, v) = sb
        .post(
            "/_sandbox/presence",
            json!({"from": unheard, "to": ACCOUNT, "state": "available"}),
        )
        .await;
    assert_eq!(v["delivered"], false, "a read key subscribed");
    // Someone not heard of: asking subscribes to them. Then they come
    // online, and go away hiding when they were last seen.
    let other = "15557770124";
    let (code, p) = presence(other).await;
    assert_eq!(code, 200, "{p}");
    assert_eq!(
        (
            p["online"].as_bool(),
            p["known"].as_bool(),
            p["last_seen"].is_null()
        ),
        (Some(false), Some(false), true),
        "{p}"
    );
    let (_, v) = sb
        .post(
            "/_sandbox/presence",
            json!({"from": other, "to": ACCOUNT, "state": "available"}),
        )
        .await;
    assert_eq!(v["delivered"], true, "asking subscribed");
    eventually(Duration::from_secs(10), "them online", || async {
        let (_, p) = presence(other).await;
        (p["online"] == true && p["last_seen"].is_null()).then_some(())
    })
    .await;
    let (code, _) = sb
        .put(
            &format!("/_sandbox/contacts/{other}"),
            json!({"hides_last_seen": true}),
        )
        .await;
    assert_eq!(code, 200);
    sb.post(
        "/_sandbox/presence",
        json!({"from": other, "to": ACCOUNT, "state": "unavailable"}),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "them offline, last seen hidden",
        || async {
            let (_, p) = presence(other).await;
            (p["online"] == false && p["known"] == true && p["last_seen"].is_null()).then_some(())
        },
    )
    .await;
    let (code, e) = presence("120363000000000001@g.us").await;
    refused(code, &e, 422, "invalid_field");

    // A profile: about, picture, business details.
    let (code, v) = sb
        .put(&format!("/_sandbox/contacts/{CONTACT}"), json!({"about": "Baker since 1999", "picture": png,
            "business": {"description": "Fresh bread", "email": "hi@bakery.test", "website": ["https://bakery.test"], "categories": ["Bakery"]}}))
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, prof) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/contacts/{CONTACT}/profile"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{prof}");
    assert_eq!(prof["about"], "Baker since 1999");
    assert_eq!(prof["business"]["description"], "Fresh bread");
    assert_eq!(prof["business"]["email"], "hi@bakery.test");
    assert_eq!(prof["blocked"], false);
    let pic = http()
        .get(prof["picture_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(pic.status(), 200);
    assert_eq!(
        pic.bytes().await.unwrap(),
        base64::engine::general_purpose::STANDARD
            .decode(&png)
            .unwrap()
    );
    // Someone who shares nothing.
    let (_, prof) = d
        .call(
            "GET",
            "/api/sessions/shop/contacts/15557770123/profile",
            None,
        )
        .await;
    assert_eq!(
        (
            prof["about"].clone(),
            prof["picture_url"].clone(),
            prof["business"].clone()
        ),
        (Value::Null, Value::Null, Value::Null)
    );

    // Blocked: their messages stop arriving, and we cannot write to them.
    let (code, v) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/contacts/{CONTACT}/block"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/blocked"))
            .await
            .1,
        json!([CONTACT])
    );
    assert_eq!(
        d.call(
            "GET",
            &format!("/api/sessions/shop/contacts/{CONTACT}/profile"),
            None
        )
        .await
        .1["blocked"],
        true
    );
    assert_eq!(
        d.call("GET", "/api/sessions/shop/blocklist", None).await.1,
        json!({"blocked": [format!("{CONTACT}@c.us")]})
    );
    let hidden = inbound(&sb, json!({"text": "let me in"})).await;
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": CONTACT, "text": "hi"})),
        )
        .await;
    assert!(code >= 400, "{e}");
    // The page keeps its copy of the refused message, marked failed (ack
    // -1): stored so, never shown as sent.
    let failed = eventually(T, "the refused send stored as failed", || async {
        let (_, v) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/messages?chat={CONTACT}@c.us&limit=50"),
                None,
            )
            .await;
        v["messages"]
            .as_array()?
            .iter()
            .find(|m| m["text"] == "hi" && m["from_me"] == true)
            .filter(|m| m["ack"] == "failed")
            .cloned()
    })
    .await;
    assert_eq!(failed["ack"], "failed", "{failed}");
    d.call(
        "POST",
        &format!("/api/sessions/shop/contacts/{CONTACT}/unblock"),
        None,
    )
    .await;
    let after = inbound(&sb, json!({"text": "hello again"})).await;
    event(&r, "message", |p| p["id"] == after).await;
    assert!(
        r.events("message")
            .iter()
            .all(|e| e["payload"]["id"] != hidden.as_str()),
        "a blocked contact's message arrived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_and_their_votes() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let id = send(
        &d,
        json!({"to": CONTACT, "poll": {"name": "Lunch?", "options": ["Pizza", "Sushi", "Salad"]}}),
    )
    .await;
    let phone = on_phone(&sb, &id).await;
    assert_eq!(phone["type"], "poll_creation", "{phone}");
    assert_eq!(
        phone["poll"],
        json!({"name": "Lunch?", "options": ["Pizza", "Sushi", "Salad"], "selectable": 1})
    );
    let m = stored(&d, &id).await;
    assert_eq!(
        (
            m["type"].as_str(),
            m["poll"]["options"].as_array().unwrap().len()
        ),
        (Some("other"), 3)
    );

    // The contact votes, then changes its mind: each vote is an event; the
    // store keeps the latest per voter.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{id}/vote"),
            json!({"options": ["Sushi"]}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let e = event(&r, "message.poll_vote", |p| {
        p["message"] == id.as_str() && p["selected"] == json!(["Sushi"])
    })
    .await;
    assert_eq!(e["voter"], format!("{CONTACT}@c.us"));
    sb.post(
        &format!("/_sandbox/messages/{id}/vote"),
        json!({"options": ["Pizza"]}),
    )
    .await;
    event(&r, "message.poll_vote", |p| {
        p["message"] == id.as_str() && p["selected"] == json!(["Pizza"])
    })
    .await;
    let m = eventually(T, "the latest vote stored", || async {
        let m = stored(&d, &id).await;
        (m["poll"]["votes"][0]["selected"] == json!(["Pizza"])).then_some(m)
    })
    .await;
    assert_eq!(m["poll"]["votes"].as_array().unwrap().len(), 1);
    // A single-choice poll takes one option.
    let (code, _) = sb
        .post(
            &format!("/_sandbox/messages/{id}/vote"),
            json!({"options": ["Pizza", "Salad"]}),
        )
        .await;
    assert_eq!(code, 422);

    // A poll arriving.
    let theirs = inbound(
        &sb,
        json!({"poll": {"name": "Pick a day", "options": ["Mon", "Tue"], "selectable": 0}}),
    )
    .await;
    let p = event(&r, "message", |p| p["id"] == theirs).await;
    assert_eq!(p["type"], "other");
    assert_eq!(
        p["poll"],
        json!({"name": "Pick a day", "options": ["Mon", "Tue"], "selectable": 0})
    );
    // Bad polls.
    for bad in [
        json!({"to": CONTACT, "poll": {"name": "One?", "options": ["Only"]}}),
        json!({"to": CONTACT, "poll": {"name": "", "options": ["A", "B"]}}),
        json!({"to": CONTACT, "poll": {"name": "Dup", "options": ["A", "A"]}}),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/messages", Some(bad.clone()))
            .await;
        assert_eq!(code, 422, "{bad} -> {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_writing_under_a_privacy_id() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    const HIDDEN: &str = "15557770111";

    // A contact writes as @lid, sharing its phone: both ids arrive.
    let id = inbound(&sb, json!({"text": "hello from a lid", "lid": true})).await;
    let p = event(&r, "message", |p| p["id"] == id).await;
    let lid = p["chat"].as_str().unwrap().to_string();
    assert!(lid.ends_with("@lid"), "{p}");
    assert_eq!(p["sender"]["lid"], lid.as_str());
    assert_eq!(
        p["sender"]["phone"], CONTACT,
        "the phone WhatsApp makes knowable"
    );
    // The same contact keeps its id.
    let again = inbound(&sb, json!({"text": "me again", "lid": true})).await;
    assert_eq!(
        event(&r, "message", |p| p["id"] == again).await["chat"],
        lid.as_str()
    );

    // Replying works to the privacy id, and to the phone.
    let to_lid = send(&d, json!({"to": lid, "text": "hi lid"})).await;
    assert_eq!(on_phone(&sb, &to_lid).await["to"], lid.as_str());
    let to_phone = send(&d, json!({"to": CONTACT, "text": "hi phone"})).await;
    assert_eq!(on_phone(&sb, &to_phone).await["to"], CONTACT);

    // A contact that hides its phone: only the stable privacy id.
    let id = sb
        .post("/_sandbox/messages", json!({"from": HIDDEN, "to": ACCOUNT, "text": "guess who", "lid": true, "share_phone": false}))
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = event(&r, "message", |p| p["id"] == id.as_str()).await;
    assert!(p["sender"]["phone"].is_null(), "{p}");
    assert!(p["sender"]["lid"].as_str().unwrap().ends_with("@lid"));
    let hidden_lid = p["sender"]["lid"].as_str().unwrap().to_string();

    // Each id asked for the other: the pair WhatsApp makes knowable.
    let pair = |who: String| {
        let d = &d;
        async move {
            d.call(
                "GET",
                &format!("/api/sessions/shop/contacts/{who}/lid"),
                None,
            )
            .await
        }
    };
    let (code, v) = pair(CONTACT.into()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        (v["lid"].as_str(), v["phone"].as_str()),
        (Some(lid.as_str()), Some(CONTACT)),
        "{v}"
    );
    let (_, v) = pair(lid.clone()).await;
    assert_eq!(v["phone"], CONTACT, "{v}");
    // A number not on WhatsApp pairs with nothing.
    sb.post("/_sandbox/unregistered", json!({"phone": "15559990066"}))
        .await;
    let (_, v) = pair("15559990066".into()).await;
    assert!(v["lid"].is_null() && v["phone"].is_null(), "{v}");
    let (_, v) = pair(hidden_lid.clone()).await;
    assert_eq!(
        (v["lid"].as_str(), v["phone"].is_null()),
        (Some(hidden_lid.as_str()), true),
        "a hidden phone stays hidden: {v}"
    );
    let (code, e) = pair("120363000000000001@g.us".into()).await;
    assert_eq!(code, 422, "{e}");
    // A privacy id nobody has is refused clearly.
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": "999999999999999@lid", "text": "x"})),
        )
        .await;
    assert!(code >= 400, "{e}");

    // A message that waits for its sender's phone to be looked up keeps its
    // place: what happens to it next (deleted at once) comes after it and
    // is kept, not dropped as a change to a message not yet there.
    sb.post("/_sandbox/slow-lookups", json!({"on": true})).await;
    let oops = sb
        .post("/_sandbox/messages", json!({"from": HIDDEN, "to": ACCOUNT, "text": "oops", "lid": true, "share_phone": false}))
        .await
        .1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, v) = sb
        .post(&format!("/_sandbox/messages/{oops}/revoke"), json!({}))
        .await;
    assert_eq!(code, 200, "{v}");
    event(&r, "message.revoked", |p| p["id"] == oops.as_str()).await;
    sb.post("/_sandbox/slow-lookups", json!({"on": false}))
        .await;
    event(&r, "message", |p| p["id"] == oops.as_str()).await;
    assert_eq!(stored(&d, &oops).await["revoked"], true);
}

/// What the page took in while the daemon could not hear it (frozen, then
/// killed with `kill -9`: the page's reports never arrived) is caught up
/// once the session is back, from the page's messages as they now are: the
/// contact's read receipts (one for a message older than catch-up's
/// watermark), their edit and their delete, their reaction and their vote
/// in a poll, each stored and announced once.
#[tokio::test]
async fn changes_the_daemon_never_heard_of_are_caught_up_after_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, mut d, r) = setup(tmp.path()).await;
    // One of ours from half an hour ago: older than catch-up's watermark,
    // read only now (a read receipt may come long after the send).
    sb.post("/_sandbox/clock", json!({"offset": -30 * 60}))
        .await;
    let now_s = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    // The page hears of the new time over its socket: sent again until a
    // send is stamped with it.
    let older = eventually(T, "a message stamped half an hour ago", || async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let id = send(&d, json!({"to": CONTACT, "text": "Sent a while ago"})).await;
        let age = now_s() - stored(&d, &id).await["timestamp"].as_i64().unwrap();
        (age > 25 * 60).then_some(id)
    })
    .await;
    sb.post("/_sandbox/clock", json!({"offset": 0})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mine = send(&d, json!({"to": CONTACT, "text": "Shipped today"})).await;
    on_phone(&sb, &mine).await;
    let edited = inbound(&sb, json!({"text": "Where is it?"})).await;
    let deleted = inbound(&sb, json!({"text": "oops, wrong chat"})).await;
    let poll = send(
        &d,
        json!({"to": CONTACT, "poll": {"name": "Deliver when?", "options": ["Morning", "Evening"]}}),
    )
    .await;
    on_phone(&sb, &poll).await;
    stored(&d, &edited).await;
    stored(&d, &deleted).await;
    eventually(T, "our messages delivered", || async {
        let (a, b) = (stored(&d, &mine).await, stored(&d, &older).await);
        (a["ack"] == "delivered" && b["ack"] == "delivered").then_some(())
    })
    .await;

    d.proc.freeze();
    let read_older = sb
        .post(&format!("/_sandbox/messages/{older}/read"), json!({}))
        .await;
    let read = sb
        .post(&format!("/_sandbox/messages/{mine}/read"), json!({}))
        .await;
    let edit = sb
        .post(
            &format!("/_sandbox/messages/{edited}/edit"),
            json!({"text": "Where is my parcel?"}),
        )
        .await;
    let revoke = sb
        .post(&format!("/_sandbox/messages/{deleted}/revoke"), json!({}))
        .await;
    let react = sb
        .post(
            &format!("/_sandbox/messages/{mine}/react"),
            json!({"emoji": "🎉"}),
        )
        .await;
    // And ours, from the phone, on theirs.
    let ours = sb
        .post(
            &format!("/_sandbox/messages/{edited}/react"),
            json!({"emoji": "👀", "mine": true}),
        )
        .await;
    assert_eq!(ours.0, 200, "{}", ours.1);
    let vote = sb
        .post(
            &format!("/_sandbox/messages/{poll}/vote"),
            json!({"options": ["Evening"]}),
        )
        .await;
    assert_eq!(
        (read_older.0, read.0, edit.0, revoke.0, react.0, vote.0),
        (200, 200, 200, 200, 200, 200)
    );
    // The page takes them in at once; its reports wait on the frozen daemon.
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.proc.kill9();
    let d = d.restart_same().await;
    d.wait_status("shop", "CONNECTED", T).await;

    eventually(T, "the changes stored", || async {
        let (m, o, e, x) = (
            stored(&d, &mine).await,
            stored(&d, &older).await,
            stored(&d, &edited).await,
            stored(&d, &deleted).await,
        );
        let p = stored(&d, &poll).await;
        (m["ack"] == "read"
            && o["ack"] == "read"
            && e["text"] == "Where is my parcel?"
            && x["revoked"] == true
            && m["reactions"][0]["emoji"] == "🎉"
            && p["poll"]["votes"][0]["selected"] == json!(["Evening"]))
        .then_some(())
    })
    .await;
    event(&r, "message.ack", |p| p["id"] == mine && p["ack"] == "read").await;
    event(&r, "message.ack", |p| {
        p["id"] == older && p["ack"] == "read"
    })
    .await;
    event(&r, "message.edited", |p| {
        p["id"] == edited && p["text"] == "Where is my parcel?"
    })
    .await;
    event(&r, "message.revoked", |p| p["id"] == deleted).await;
    let reaction = event(&r, "message.reaction", |p| p["message"] == mine).await;
    assert_eq!(
        (
            reaction["emoji"].as_str(),
            reaction["sender"].as_str(),
            reaction["from_me"].as_bool()
        ),
        (
            Some("🎉"),
            Some(format!("{CONTACT}@c.us").as_str()),
            Some(false)
        ),
        "{reaction}"
    );
    assert!(
        reaction["timestamp"].as_i64().unwrap() > 1_700_000_000
            && reaction["timestamp"].as_i64().unwrap() < 1 << 33,
        "in seconds: {reaction}"
    );
    let ours = event(&r, "message.reaction", |p| p["message"] == edited).await;
    assert_eq!(
        (
            ours["emoji"].as_str(),
            ours["from_me"].as_bool(),
            ours["sender"].as_str()
        ),
        (
            Some("👀"),
            Some(true),
            Some(format!("{ACCOUNT}@c.us").as_str())
        ),
        "{ours}"
    );
    let voted = event(&r, "message.poll_vote", |p| p["message"] == poll).await;
    assert_eq!(voted["selected"], json!(["Evening"]), "{voted}");
    // Each once, though catch-up reads them again at every connect.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.events("message.reaction").len(), 2);
    assert_eq!(r.events("message.poll_vote").len(), 1);

    // A reaction taken back while no one listened: WhatsApp Web then says
    // the message has none, and the stored one goes, announced once.
    let mut d = d;
    d.proc.freeze();
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{mine}/react"),
            json!({"emoji": ""}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.proc.kill9();
    let d = d.restart_same().await;
    d.wait_status("shop", "CONNECTED", T).await;
    // Announced once the second look (20 s after the catch-up) misses it too.
    let gone = eventually(
        Duration::from_secs(90),
        "the reaction taken back",
        || async {
            r.events("message.reaction")
                .into_iter()
                .find(|e| e["payload"]["message"] == mine && e["payload"]["emoji"] == "")
        },
    )
    .await["payload"]
        .clone();
    assert_eq!(gone["sender"], format!("{CONTACT}@c.us"), "{gone}");
    eventually(T, "the reaction gone from the store", || async {
        let m = stored(&d, &mine).await;
        m["reactions"]
            .as_array()
            .is_none_or(|a| a.is_empty())
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(r.events("message.reaction").len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_carry_what_they_quote() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let quoted_of = |name: &'static str, id: String| {
        let r = &r;
        async move { event(r, name, |p| p["id"] == id.as_str()).await["quoted"].clone() }
    };

    // The contact answers our message: it quotes us.
    let ours = send(&d, json!({"to": CONTACT, "text": "the price list"})).await;
    d.wait_message("shop", &ours).await;
    let answer = inbound(&sb, json!({"text": "how much?", "reply_to": ours})).await;
    assert_eq!(
        quoted_of("message", answer.clone()).await,
        json!({"from": format!("{ACCOUNT}@c.us"), "type": "text", "text": "the price list"})
    );
    let m = stored(&d, &answer).await;
    assert_eq!(m["reply_to"], ours.as_str());
    assert_eq!(m["quoted"]["text"], "the price list", "{m}");

    // The contact answers their own photo: it quotes them, by its caption.
    let photo = inbound(
        &sb,
        json!({"media": {"mimetype": "image/png", "data": "iVBORw0KGgo="}, "caption": "this one"}),
    )
    .await;
    d.wait_message("shop", &photo).await;
    let again = inbound(&sb, json!({"text": "or the blue", "reply_to": photo})).await;
    assert_eq!(
        quoted_of("message", again).await,
        json!({"from": format!("{CONTACT}@c.us"), "type": "image", "text": "this one"})
    );

    // We answer the photo: our message carries the quote too.
    let reply = send(
        &d,
        json!({"to": CONTACT, "text": "blue it is", "reply_to": photo}),
    )
    .await;
    assert_eq!(
        quoted_of("message.any", reply.clone()).await,
        json!({"from": format!("{CONTACT}@c.us"), "type": "image", "text": "this one"})
    );
    // A quote of a message this account never had (written before it was
    // linked): WhatsApp carries it with the reply, thumbnail and all.
    let older = inbound(
        &sb,
        json!({"text": "still on?", "reply_to": format!("false_{CONTACT}@c.us_3AOLDER"),
               "quoted": {"type": "image", "body": "/9j/4AAQ", "caption": "last year's", "from": CONTACT}}),
    )
    .await;
    assert_eq!(
        quoted_of("message", older).await,
        json!({"from": format!("{CONTACT}@c.us"), "type": "image", "text": "last year's"})
    );
    // A message that quotes nothing says so by leaving the field out.
    assert!(stored(&d, &ours).await.get("quoted").is_none());
}

/// Calls: a contact's call rings here as `call.received` (voice or video,
/// by phone or privacy id); the API declines one that rings, and a
/// session's call policy declines every call itself and tells the caller
/// why, once per call. A call the phone took cannot be declined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_ring_here_and_are_declined_by_hand_or_by_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let ring = |extra: Value| {
        let sb = &sb;
        async move {
            let body = with(json!({"from": CONTACT, "to": ACCOUNT}), extra);
            let (code, c) = sb.post("/_sandbox/calls", body).await;
            assert_eq!(code, 201, "{c}");
            c["id"].as_str().unwrap().to_string()
        }
    };
    let state = |id: String| {
        let sb = &sb;
        async move { sb.get(&format!("/_sandbox/calls/{id}")).await.1 }
    };
    let reject = |id: String| {
        let d = &d;
        async move {
            d.call(
                "POST",
                &format!("/api/sessions/shop/calls/{id}/reject"),
                None,
            )
            .await
        }
    };

    // A voice call rings here; declined through the API, the caller hears
    // it declined and it stops ringing on the phone.
    let id = ring(json!({})).await;
    let call = event(&r, "call.received", |p| p["id"] == id.as_str()).await;
    assert_eq!(call["from"], format!("{CONTACT}@c.us"), "{call}");
    assert_eq!(
        (call["is_video"].clone(), call["is_group"].clone()),
        (json!(false), json!(false))
    );
    assert_eq!(call["sender"]["phone"], CONTACT);
    assert!(call["timestamp"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(state(id.clone()).await["state"], "ringing");
    let (code, body) = reject(id.clone()).await;
    assert_eq!(
        (code, body["rejected"].clone()),
        (200, json!(true)),
        "{body}"
    );
    let c = state(id.clone()).await;
    assert_eq!(
        (c["state"].as_str(), c["ended_by"].as_str()),
        (Some("rejected"), Some("device"))
    );
    // Once declined it rings no more: WhatsApp Web lets go of it, as of
    // an id that never rang.
    let (code, e) = eventually(T, "the declined call gone from the page", || async {
        let (code, e) = reject(id.clone()).await;
        (code != 200).then_some((code, e))
    })
    .await;
    refused(code, &e, 404, "call_not_found");
    let (code, e) = reject("0123456789ABCDEF0123456789ABCDEF".into()).await;
    refused(code, &e, 404, "call_not_found");

    // A video call the phone answers: this device cannot decline it then.
    let id = ring(json!({"video": true})).await;
    let call = event(&r, "call.received", |p| p["id"] == id.as_str()).await;
    assert_eq!(call["is_video"], true);
    let (code, _) = sb
        .post(&format!("/_sandbox/calls/{id}/answer"), json!({}))
        .await;
    assert_eq!(code, 200);
    let (code, e) = eventually(T, "the answered call to stop ringing here", || async {
        let (code, e) = reject(id.clone()).await;
        (code != 200 || e["rejected"] != true).then_some((code, e))
    })
    .await;
    // Gone from the page, or (on its way) no longer ringing there.
    assert!(
        [Some("call_not_found"), Some("call_not_ringing")].contains(&e["error"]["code"].as_str())
            && [404, 409].contains(&code),
        "{code} {e}"
    );
    assert_eq!(state(id.clone()).await["state"], "accepted");

    // A group call is named by its own id: declined all the same.
    let id = ring(json!({"group": true})).await;
    let call = event(&r, "call.received", |p| p["id"] == id.as_str()).await;
    assert_eq!(call["is_group"], true);
    assert!(call["from"].as_str().unwrap().ends_with("@call"), "{call}");
    let (code, body) = reject(id.clone()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(state(id.clone()).await["state"], "rejected");

    // A caller WhatsApp shows by a privacy id: the phone behind it when
    // it is shared, else the privacy id to answer.
    let id = ring(json!({"lid": true, "share_phone": true})).await;
    let call = event(&r, "call.received", |p| p["id"] == id.as_str()).await;
    assert_eq!(call["from"], format!("{CONTACT}@c.us"), "{call}");
    assert!(call["sender"]["lid"].as_str().unwrap().ends_with("@lid"));
    let hidden = "15557770199";
    let id = ring(json!({"from": hidden, "lid": true, "share_phone": false})).await;
    let call = event(&r, "call.received", |p| p["id"] == id.as_str()).await;
    assert!(call["from"].as_str().unwrap().ends_with("@lid"), "{call}");
    assert_eq!(call["sender"]["phone"], Value::Null);

    // A policy that cannot be kept changes nothing.
    let (code, e) = d
        .call(
            "PATCH",
            "/api/sessions/shop",
            Some(json!({"calls": {"message": "Text us"}})),
        )
        .await;
    refused(code, &e, 422, "invalid_field");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("calls.message"),
        "{e}"
    );
    let (code, e) = d
        .call(
            "PATCH",
            "/api/sessions/shop",
            Some(json!({"calls": {"reject": "yes"}})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("calls.reject"),
        "{e}"
    );
    let (_, s) = d.call("GET", "/api/sessions/shop", None).await;
    assert_eq!(s["calls"], Value::Null, "{s}");

    // The policy: every call declined as it rings, and the caller told
    // why, once.
    let say = "We cannot take calls here. Please write to us.";
    let (code, s) = d
        .call(
            "PATCH",
            "/api/sessions/shop",
            Some(json!({"calls": {"reject": true, "message": say}})),
        )
        .await;
    assert_eq!(
        (code, s["calls"]["reject"].clone()),
        (200, json!(true)),
        "{s}"
    );
    let told = || async {
        at_whatsapp(&sb)
            .await
            .iter()
            .filter(|m| m["from_me"] == true && m["text"] == say)
            .count()
    };
    for n in 1..=2 {
        let id = ring(json!({})).await;
        let c = eventually(T, "the policy to decline the call", || async {
            let c = state(id.clone()).await;
            (c["state"] != "ringing").then_some(c)
        })
        .await;
        assert_eq!(
            (c["state"].as_str(), c["ended_by"].as_str()),
            (Some("rejected"), Some("device")),
            "{c}"
        );
        eventually(T, "the caller to be told why", || async {
            (told().await >= n).then_some(())
        })
        .await;
    }
    // A group call is declined too; there is no one to write to.
    let id = ring(json!({"group": true})).await;
    eventually(T, "the policy to decline the group call", || async {
        (state(id.clone()).await["state"] == "rejected").then_some(())
    })
    .await;
    // Once per call, whatever else goes by.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(told().await, 2);
    // Each call announced once.
    let mut ids: Vec<String> = r
        .accepted()
        .into_iter()
        .filter(|(_, v)| v["event"] == "call.received")
        .map(|(_, v)| v["payload"]["id"].as_str().unwrap().to_string())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a call announced twice");
    // Cleared: calls ring again until someone takes them.
    let (code, s) = d
        .call("PATCH", "/api/sessions/shop", Some(json!({"calls": null})))
        .await;
    assert_eq!((code, s["calls"].clone()), (200, Value::Null), "{s}");
    let id = ring(json!({})).await;
    event(&r, "call.received", |p| p["id"] == id.as_str()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state(id.clone()).await["state"], "ringing");

    // The browser dies while it rings: the new page is offered the call
    // again, and it is not announced twice.
    let pgid = d.browser_pid("shop").unwrap();
    unsafe { libc::kill(pgid, libc::SIGKILL) };
    d.wait_status("shop", "DISCONNECTED", T).await;
    d.wait_status("shop", "CONNECTED", T).await;
    let later = ring(json!({})).await;
    event(&r, "call.received", |p| p["id"] == later.as_str()).await;
    let heard = r
        .accepted()
        .into_iter()
        .filter(|(_, v)| v["event"] == "call.received" && v["payload"]["id"] == id.as_str())
        .count();
    assert_eq!(heard, 1, "the call rang on and was announced again");
}

/// Requests to join a group whose admins approve who joins: the admins
/// hear of each (`group.membership_request`), list them, approve some (who
/// join as if added) and reject others. Only admins may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_join_are_heard_listed_and_answered_by_admins() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let (code, g) = d
        .call(
            "POST",
            "/api/sessions/shop/groups",
            Some(json!({"subject": "Buyers club", "participants": [CONTACT]})),
        )
        .await;
    assert_eq!(code, 201, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    let requests = format!("/api/sessions/shop/groups/{gid}/requests");
    // Approval is turned on from our phone (wa-js has no call for it).
    let (code, v) = sb
        .post(
            &format!("/_sandbox/groups/{gid}/settings"),
            json!({"by": ACCOUNT, "approval": true}),
        )
        .await;
    assert_eq!((code, v["approval"].clone()), (200, json!(true)), "{v}");
    let (_, ours) = d
        .call("GET", &format!("/api/sessions/shop/groups/{gid}"), None)
        .await;
    assert_eq!(ours["approval"], true, "{ours}");
    let (code, inv) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/groups/{gid}/invite"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{inv}");
    let (yes, no) = ("15557770301", "15557770302");
    for who in [yes, no] {
        let (code, j) = sb
            .post(
                "/_sandbox/groups/join",
                json!({"phone": who, "invite": inv["link"]}),
            )
            .await;
        assert_eq!((code, j["requested"].clone()), (200, json!(true)), "{j}");
        let heard = event(&r, "group.membership_request", |p| {
            p["requester"] == format!("{who}@c.us").as_str()
        })
        .await;
        assert_eq!(heard["group"], gid.as_str(), "{heard}");
        assert!(heard["timestamp"].as_i64().unwrap() > 1_700_000_000);
    }
    let (code, list) = d.call("GET", &requests, None).await;
    assert_eq!(code, 200, "{list}");
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [format!("{yes}@c.us"), format!("{no}@c.us")]);
    assert_eq!(list[0]["method"], "InviteLink");
    // Nothing to answer, or both ways at once: the caller's mistake.
    for bad in [
        json!({}),
        json!({"approve": [yes], "reject": [yes]}),
        json!({"approve": ["nope"]}),
        json!({"approve": [gid]}),
    ] {
        let (code, e) = d.call("POST", &requests, Some(bad.clone())).await;
        assert_eq!(code, 422, "{bad}: {e}");
    }
    let (code, done) = d
        .call(
            "POST",
            &requests,
            Some(json!({"approve": [yes, yes], "reject": [format!("+{no}")]})),
        )
        .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(
        (
            done["approved"].clone(),
            done["rejected"].clone(),
            done["failed"].clone()
        ),
        (
            json!([format!("{yes}@c.us")]),
            json!([format!("{no}@c.us")]),
            json!([])
        )
    );
    // The approved one is in, as if added; the other is not.
    let joined = event(&r, "group.join", |p| {
        p["group"] == gid.as_str() && p["participants"] == json!([format!("{yes}@c.us")])
    })
    .await;
    assert_eq!(joined["author"], format!("{ACCOUNT}@c.us"), "{joined}");
    let members: Vec<String> = sb.get(&format!("/_sandbox/groups/{gid}")).await.1["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        members.contains(&format!("{yes}@c.us")) && !members.contains(&format!("{no}@c.us")),
        "{members:?}"
    );
    let (_, list) = d.call("GET", &requests, None).await;
    assert_eq!(list, json!([]));
    // A request no longer there: WhatsApp says so, for that one.
    let (code, done) = d
        .call("POST", &requests, Some(json!({"reject": [no]})))
        .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["failed"][0]["id"], format!("{no}@c.us"), "{done}");

    // Not ours to run: listed and answered by its admins only.
    let (code, fam) = sb
        .post(
            "/_sandbox/groups",
            json!({"owner": CONTACT, "subject": "Family", "participants": [ACCOUNT]}),
        )
        .await;
    assert_eq!(code, 201, "{fam}");
    let fid = fam["id"].as_str().unwrap().to_string();
    event(&r, "group.join", |p| p["group"] == fid.as_str()).await;
    // Asking to join theirs, where its admins approve who joins: a
    // request, not a join.
    let (code, club) = sb
        .post(
            "/_sandbox/groups",
            json!({"owner": CONTACT, "subject": "Their club", "participants": []}),
        )
        .await;
    assert_eq!(code, 201, "{club}");
    let cid = club["id"].as_str().unwrap().to_string();
    sb.post(
        &format!("/_sandbox/groups/{cid}/settings"),
        json!({"by": CONTACT, "approval": true}),
    )
    .await;
    let (code, j) = d
        .call(
            "POST",
            "/api/sessions/shop/groups/join",
            Some(json!({"invite": club["invite"]})),
        )
        .await;
    assert_eq!(code, 200, "{j}");
    assert_eq!(
        (j["id"].as_str(), j["pending_approval"].clone()),
        (Some(cid.as_str()), json!(true))
    );
    let (_, club) = sb.get(&format!("/_sandbox/groups/{cid}")).await;
    assert!(
        !club["participants"].to_string().contains(ACCOUNT),
        "{club}"
    );
    let theirs = format!("/api/sessions/shop/groups/{fid}/requests");
    let (code, e) = d.call("GET", &theirs, None).await;
    refused(code, &e, 409, "not_group_admin");
    let (code, e) = d
        .call("POST", &theirs, Some(json!({"approve": [yes]})))
        .await;
    refused(code, &e, 409, "not_group_admin");
}

/// WhatsApp Business labels: a business account's, made, renamed and
/// deleted, put on chats and taken off them, both ways with its phone,
/// each change to a chat's labels a `chat.labels` event. A personal
/// account has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_a_business_accounts_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let id = inbound(&sb, json!({"text": "Do you deliver?"})).await;
    event(&r, "message", |p| p["id"] == id.as_str()).await;
    let chat = format!("{CONTACT}@c.us");
    let (code, e) = d.call("GET", "/api/sessions/shop/labels", None).await;
    refused(code, &e, 409, "not_business");

    // A business account: WhatsApp's five labels, and its palette.
    let (code, _) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/business"),
            json!({"business": true}),
        )
        .await;
    assert_eq!(code, 200);
    let all = eventually(T, "the labels", || async {
        // WhatsApp syncs the labels a moment after the account changes.
        let (code, all) = d.call("GET", "/api/sessions/shop/labels", None).await;
        (code == 200 && all["labels"].as_array().is_some_and(|l| !l.is_empty())).then_some(all)
    })
    .await;
    let names: Vec<&str> = all["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "New customer",
            "New order",
            "Pending payment",
            "Paid",
            "Order complete"
        ]
    );
    let palette: Vec<String> = all["palette"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(palette.len(), 20);

    // Made: a bad name or colour is refused before WhatsApp is asked, a
    // colour outside WhatsApp's palette by WhatsApp.
    for bad in [
        json!({"name": " "}),
        json!({"name": "VIP", "color": "red"}),
        json!({"name": "VIP", "color": "#123456"}),
        json!({}),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/labels", Some(bad.clone()))
            .await;
        assert_eq!(code, 422, "{bad}: {e}");
    }
    let (code, vip) = d
        .call(
            "POST",
            "/api/sessions/shop/labels",
            Some(json!({"name": "VIP", "color": palette[3]})),
        )
        .await;
    assert_eq!(code, 201, "{vip}");
    assert_eq!(
        (vip["name"].as_str(), vip["color"].as_str()),
        (Some("VIP"), Some(palette[3].as_str()))
    );
    let lid = vip["id"].as_str().unwrap().to_string();
    let on_phone = || async {
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/labels"))
            .await
            .1
    };
    let phone_label = |all: &Value, id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .cloned()
    };
    assert_eq!(phone_label(&on_phone().await, &lid).unwrap()["name"], "VIP");

    // On a chat: on the phone too, and heard.
    let (code, l) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/labels/{lid}/chats"),
            Some(json!({"add": [chat]})),
        )
        .await;
    assert_eq!((code, l["count"].clone()), (200, json!(1)), "{l}");
    let added = event(&r, "chat.labels", |p| {
        p["chat"] == chat.as_str() && p["labels"][0]["id"] == lid.as_str()
    })
    .await;
    assert_eq!(
        (
            added["action"].as_str(),
            added["labels"][0]["name"].as_str()
        ),
        (Some("add"), Some("VIP")),
        "{added}"
    );
    assert_eq!(
        phone_label(&on_phone().await, &lid).unwrap()["chats"],
        json!([chat])
    );
    // The phone puts one on too: it reaches the API and the webhook.
    let (code, _) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/labels/1/chats"),
            json!({"add": [chat]}),
        )
        .await;
    assert_eq!(code, 200);
    event(&r, "chat.labels", |p| {
        p["chat"] == chat.as_str() && p["labels"][0]["id"] == "1" && p["action"] == "add"
    })
    .await;
    let (_, listed) = d
        .call("GET", "/api/sessions/shop/chats?label=1", None)
        .await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let mut labels: Vec<&str> = listed[0]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    labels.sort();
    assert_eq!(labels, ["1", lid.as_str()]);
    let (_, none) = d
        .call("GET", "/api/sessions/shop/chats?label=4", None)
        .await;
    assert_eq!(none, json!([]));

    // Renamed, taken off, deleted.
    let (code, l) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/labels/{lid}"),
            Some(json!({"name": "Very important"})),
        )
        .await;
    assert_eq!(
        (code, l["name"].as_str()),
        (200, Some("Very important")),
        "{l}"
    );
    assert_eq!(
        phone_label(&on_phone().await, &lid).unwrap()["name"],
        "Very important"
    );
    let (code, l) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/labels/{lid}/chats"),
            Some(json!({"remove": [chat]})),
        )
        .await;
    assert_eq!((code, l["count"].clone()), (200, json!(0)), "{l}");
    event(&r, "chat.labels", |p| {
        p["chat"] == chat.as_str() && p["action"] == "remove"
    })
    .await;
    // WhatsApp Web keeps the old colour where the new one is the palette's
    // first: refused, not silently ignored.
    let (code, e) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/labels/{lid}"),
            Some(json!({"color": palette[0]})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    let (code, _) = d
        .call("DELETE", &format!("/api/sessions/shop/labels/{lid}"), None)
        .await;
    assert_eq!(code, 200);
    assert!(phone_label(&on_phone().await, &lid).is_none());
    // A label deleted while on a chat comes off it, and that is told.
    let (code, _) = d.call("DELETE", "/api/sessions/shop/labels/1", None).await;
    assert_eq!(code, 200);
    event(&r, "chat.labels", |p| {
        p["chat"] == chat.as_str() && p["action"] == "remove" && p["labels"][0]["id"] == "1"
    })
    .await;
    let (_, listed) = d.call("GET", "/api/sessions/shop/chats", None).await;
    let ours = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat.as_str())
        .unwrap()
        .clone();
    assert_eq!(ours["labels"], json!([]), "{ours}");
    // What is not there is a 404.
    let (code, e) = d
        .call("DELETE", &format!("/api/sessions/shop/labels/{lid}"), None)
        .await;
    refused(code, &e, 404, "label_not_found");
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/labels/2/chats",
            Some(json!({"add": ["15550000001@c.us"]})),
        )
        .await;
    refused(code, &e, 404, "chat_not_found");
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/labels/99/chats",
            Some(json!({"add": [chat]})),
        )
        .await;
    refused(code, &e, 404, "label_not_found");
}

/// Statuses (stories): a text one with its background and font, an image
/// one with its caption, posted by a send to `status@broadcast`; a
/// contact's view comes back as its ack, and a status is taken down as a
/// message is deleted. What a status cannot be is refused before it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_are_posted_seen_and_taken_down() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let text = send(
        &d,
        json!({"to": "status@broadcast", "text": "Open till 9 today", "background": "#25D366", "font": 2}),
    )
    .await;
    let phone = on_phone(&sb, &text).await;
    assert_eq!(
        (phone["to"].as_str(), phone["text"].as_str()),
        (Some("status@broadcast"), Some("Open till 9 today")),
        "{phone}"
    );
    assert_eq!(
        phone["status"],
        json!({"background": "#25d366", "font": 2}),
        "{phone}"
    );
    assert_eq!(stored(&d, &text).await["chat"], "status@broadcast");
    let image = send(
        &d,
        json!({"to": "status@broadcast", "media": {"data": PNG_1PX, "mimetype": "image/png"}, "caption": "New stock"}),
    )
    .await;
    let phone = on_phone(&sb, &image).await;
    assert_eq!(
        (
            phone["type"].as_str(),
            phone["caption"].as_str(),
            phone["media"]["mimetype"].as_str()
        ),
        (Some("image"), Some("New stock"), Some("image/png")),
        "{phone}"
    );

    // What no status is: refused, and nothing goes.
    let before = at_whatsapp(&sb).await.len();
    for bad in [
        json!({"to": "status@broadcast", "text": "hi", "reply_to": text}),
        json!({"to": "status@broadcast", "text": "hi @15557770077", "mentions": [CONTACT]}),
        json!({"to": "status@broadcast", "location": {"lat": 1.0, "lng": 2.0}}),
        json!({"to": "status@broadcast", "media": {"data": OGG_B64, "mimetype": "audio/ogg"}}),
        json!({"to": "status@broadcast", "media": {"data": PNG_1PX, "mimetype": "image/png"}, "sticker": true}),
        json!({"to": "status@broadcast", "media": {"data": PNG_1PX, "mimetype": "image/png"}, "background": "#000000"}),
        json!({"to": "status@broadcast", "text": "hi", "background": "green"}),
        json!({"to": "status@broadcast", "text": "hi", "font": 9}),
        json!({"to": CONTACT, "text": "hi", "background": "#000000"}),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/messages", Some(bad.clone()))
            .await;
        assert_eq!(code, 422, "{bad}: {e}");
    }
    assert_eq!(before, at_whatsapp(&sb).await.len());

    // Listed as the status's messages.
    let (code, listed) = d
        .call(
            "GET",
            "/api/sessions/shop/messages?chat=status@broadcast",
            None,
        )
        .await;
    assert_eq!(code, 200, "{listed}");
    let ids: Vec<&str> = listed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&text.as_str()) && ids.contains(&image.as_str()),
        "{listed}"
    );
    // A status is not edited; and no route but a send or a listing takes
    // the status as a chat.
    let (code, e) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/messages/{}", message_path(&text)),
            Some(json!({"text": "Open till 10"})),
        )
        .await;
    refused(code, &e, 409, "message_not_editable");
    let (code, e) = d
        .call(
            "PATCH",
            "/api/sessions/shop/chats/status@broadcast",
            Some(json!({"pinned": true})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    // A contact views it: its ack says so.
    let (code, _) = sb
        .post(&format!("/_sandbox/messages/{text}/read"), json!({}))
        .await;
    assert_eq!(code, 200);
    event(&r, "message.ack", |p| {
        p["id"] == text.as_str() && p["ack"] == "read"
    })
    .await;
    // Taken down: gone from the contacts' phones.
    let (code, gone) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/messages/{}", message_path(&image)),
            None,
        )
        .await;
    assert_eq!(code, 200, "{gone}");
    eventually(T, "the status taken down", || async {
        (on_phone(&sb, &image).await["revoked"] == true).then_some(())
    })
    .await;
}

/// WhatsApp Web names a status's image itself. One whose answer was lost
/// (the connection dropped before it came back) is a 503 that keeps its
/// Idempotency-Key; the retry finds the status by what it is, rather than
/// posting it twice, and not the same status posted under another key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_whose_answer_was_lost_is_found_not_posted_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(
        &tmp.path().join("data"),
        &format!("{}/", sb.url),
        // Short, for the lost answer's wait; not so short that a busy
        // machine's ordinary call runs past it.
        &["--page-timeout", "6"],
    )
    .await;
    let (code, body) = d
        .call("POST", "/api/sessions", Some(json!({"id": "shop"})))
        .await;
    assert_eq!(code, 201, "{body}");
    d.link(&sb, "shop", ACCOUNT).await;
    let post_as = |key: &'static str| {
        let d = &d;
        async move {
            http()
            .post(format!("{}/api/sessions/shop/messages", d.url))
            .bearer_auth(KEY)
            .header("Idempotency-Key", key)
            .json(&json!({"to": "status@broadcast", "media": {"data": PNG_1PX, "mimetype": "image/png"}, "caption": "Sale today"}))
            .send()
            .await
            .unwrap()
        }
    };
    let post = || post_as("story-1");
    let stories = || async {
        at_whatsapp(&sb)
            .await
            .into_iter()
            .filter(|m| m["caption"] == "Sale today")
            .collect::<Vec<Value>>()
    };
    // The same status, posted a moment before under a key of its own.
    let earlier = post_as("story-0").await;
    assert_eq!(earlier.status(), 201);
    let earlier: Value = earlier.json().await.unwrap();
    // A second apart, so the earlier one is the first found by time.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sb.post("/_sandbox/lose-replies", json!({"on": true})).await;
    let first = post().await;
    assert_eq!(first.status(), 503, "its outcome is unknown");
    sb.post("/_sandbox/lose-replies", json!({"on": false}))
        .await;
    assert_eq!(stories().await.len(), 2, "it went out");
    // The retry is answered with the status that went out.
    let again: Value = eventually(T, "the retry answered", || async {
        let r = post().await;
        (r.status() == 201).then_some(r)
    })
    .await
    .json()
    .await
    .unwrap();
    let posted = stories().await;
    assert_eq!(posted.len(), 2, "posted once: {posted:?}");
    assert_ne!(
        again["id"], earlier["id"],
        "the other key's status: {again}"
    );
    assert!(posted.iter().any(|m| m["id"] == again["id"]), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_book_is_the_phones_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    const EVE: &str = "15557770099";
    let dora = format!("{CONTACT}@c.us");
    let id = inbound(&sb, json!({"text": "Hello"})).await;
    event(&r, "message", |p| p["id"] == id.as_str()).await;
    let contacts = |q: &'static str| {
        let d = &d;
        async move {
            let (code, all) = d
                .call("GET", &format!("/api/sessions/shop/contacts{q}"), None)
                .await;
            assert_eq!(code, 200, "{all}");
            all.as_array().unwrap().clone()
        }
    };
    let find = |all: &[Value], id: &str| all.iter().find(|c| c["id"] == id).cloned();

    // Someone who wrote is known by the name they go by, not saved; this
    // account is not among its contacts.
    let all = contacts("").await;
    let c = find(&all, &dora).expect("the contact who wrote");
    assert_eq!(
        (
            c["pushname"].as_str(),
            c["saved"].as_bool(),
            &c["name"],
            c["phone"].as_str()
        ),
        (Some("Dora"), Some(false), &Value::Null, Some(CONTACT)),
        "{c}"
    );
    assert!(find(&all, &format!("{ACCOUNT}@c.us")).is_none(), "{all:?}");
    assert!(contacts("?saved=true").await.is_empty());

    // The phone saves a contact: it reaches the device.
    let (code, _) = sb
        .put(
            &format!("/_sandbox/accounts/{ACCOUNT}/contacts/{EVE}"),
            json!({"first_name": "Eve", "last_name": "Adams"}),
        )
        .await;
    assert_eq!(code, 200);
    let eve = eventually(T, "the phone's contact", || async {
        find(&contacts("?saved=true").await, &format!("{EVE}@c.us"))
    })
    .await;
    assert_eq!(
        (eve["name"].as_str(), eve["short_name"].as_str()),
        (Some("Eve Adams"), Some("Eve")),
        "{eve}"
    );

    // Bad input is refused before WhatsApp is asked.
    let path = format!("/api/sessions/shop/contacts/{CONTACT}");
    for (bad, want) in [
        (json!({}), 422),
        (json!({"first_name": "  "}), 422),
        (json!({"first_name": "x".repeat(101)}), 422),
        (json!({"first_name": "Dora", "nick": "D"}), 422),
    ] {
        let (code, e) = d.call("PUT", &path, Some(bad.clone())).await;
        assert_eq!(code, want, "{bad}: {e}");
    }
    let (code, e) = d
        .call(
            "PUT",
            "/api/sessions/shop/contacts/120363000000000001@g.us",
            Some(json!({"first_name": "A group"})),
        )
        .await;
    assert_eq!(code, 422, "{e}");

    // Saved here: the phone has it, and the chat takes the saved name.
    let (code, c) = d
        .call(
            "PUT",
            &path,
            Some(json!({"first_name": " Dora ", "last_name": "Shop"})),
        )
        .await;
    assert_eq!(code, 200, "{c}");
    assert_eq!(
        (
            c["name"].as_str(),
            c["short_name"].as_str(),
            c["saved"].as_bool()
        ),
        (Some("Dora Shop"), Some("Dora"), Some(true)),
        "{c}"
    );
    let (_, book) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/contacts"))
        .await;
    assert_eq!(
        (
            book[CONTACT]["first"].as_str(),
            book[CONTACT]["last"].as_str(),
            book[CONTACT]["phone_book"].as_bool()
        ),
        (Some("Dora"), Some("Shop"), Some(true)),
        "{book}"
    );
    // WhatsApp Web may apply the address book's change a moment later.
    eventually(T, "saved ones by name", || async {
        let saved = contacts("?saved=true").await;
        let names: Vec<&str> = saved.iter().filter_map(|c| c["name"].as_str()).collect();
        (names == ["Dora Shop", "Eve Adams"]).then_some(())
    })
    .await;
    eventually(T, "the chat named as saved", || async {
        let (_, chats) = d.call("GET", "/api/sessions/shop/chats", None).await;
        chats
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == dora.as_str() && c["name"] == "Dora Shop")
            .then_some(())
    })
    .await;
    let (code, one) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/contacts?id={CONTACT}"),
            None,
        )
        .await;
    assert_eq!(
        (code, one[0]["name"].as_str()),
        (200, Some("Dora Shop")),
        "{one}"
    );
    let (code, none) = d
        .call("GET", "/api/sessions/shop/contacts?id=15550000404", None)
        .await;
    assert_eq!((code, none), (200, json!([])));

    // A saved person who writes under a privacy id is one contact, by
    // phone, though WhatsApp Web keeps a model under each id.
    let id = inbound(&sb, json!({"text": "from my other id", "lid": true})).await;
    event(&r, "message", |p| p["id"] == id.as_str()).await;
    sb.put(
        &format!("/_sandbox/accounts/{ACCOUNT}/contacts/{CONTACT}"),
        json!({"first_name": "Dora", "last_name": "Shop"}),
    )
    .await;
    let all = eventually(T, "the privacy id's twin", || async {
        let all = contacts("").await;
        all.iter()
            .any(|c| c["id"] == dora.as_str() && c["lid"].is_string())
            .then_some(all)
    })
    .await;
    let dora_lid = find(&all, &dora).unwrap()["lid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        find(&all, &dora_lid).is_none(),
        "listed once, by phone: {all:?}"
    );
    let c = find(&all, &dora).unwrap();
    assert_eq!(
        (c["name"].as_str(), c["saved"].as_bool()),
        (Some("Dora Shop"), Some(true)),
        "{c}"
    );
    // Its privacy id names it too.
    let (code, one) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/contacts?id={dora_lid}"),
            None,
        )
        .await;
    assert_eq!(
        (code, one[0]["id"].as_str()),
        (200, Some(dora.as_str())),
        "{one}"
    );

    // Only in WhatsApp's address book, not the phone's own.
    let (code, c) = d
        .call(
            "PUT",
            &path,
            Some(json!({"first_name": "Dora", "sync_to_phone": false})),
        )
        .await;
    assert_eq!((code, c["name"].as_str()), (200, Some("Dora")), "{c}");
    let (_, book) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/contacts"))
        .await;
    assert_eq!(book[CONTACT]["phone_book"], false, "{book}");

    // Renamed and removed on the phone: the device follows.
    sb.put(
        &format!("/_sandbox/accounts/{ACCOUNT}/contacts/{EVE}"),
        json!({"first_name": "Evelyn", "last_name": "Adams"}),
    )
    .await;
    eventually(T, "the phone's rename", || async {
        find(&contacts("").await, &format!("{EVE}@c.us")).filter(|c| c["name"] == "Evelyn Adams")
    })
    .await;
    let (code, _) = sb
        .request(
            "DELETE",
            &format!("/_sandbox/accounts/{ACCOUNT}/contacts/{CONTACT}"),
            None,
        )
        .await;
    assert_eq!(code, 204);
    eventually(T, "the phone's removal", || async {
        find(&contacts("").await, &dora).filter(|c| c["saved"] == false && c["name"].is_null())
    })
    .await;

    // Removed here: the phone's address book loses it; a second time is 404.
    let eve_path = format!("/api/sessions/shop/contacts/{EVE}");
    let (code, v) = d.call("DELETE", &eve_path, None).await;
    assert_eq!((code, v["removed"].as_bool()), (200, Some(true)), "{v}");
    let (_, book) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/contacts"))
        .await;
    assert_eq!(book, json!({}));
    let (code, e) = d.call("DELETE", &eve_path, None).await;
    refused(code, &e, 404, "contact_not_found");
    assert!(contacts("?saved=true").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_starred_deleted_for_me_and_chats_cleared_and_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let dora = format!("{CONTACT}@c.us");
    let mut theirs = vec![];
    for text in ["one", "two", "three"] {
        let id = inbound(&sb, json!({"text": text})).await;
        event(&r, "message", |p| p["id"] == id.as_str()).await;
        theirs.push(id);
    }
    let mine = send(&d, json!({"to": CONTACT, "text": "four"})).await;
    let (a, b) = (&theirs[0], &theirs[1]);
    let msg = |id: &str| {
        let d = &d;
        let path = format!("/api/sessions/shop/messages/{id}");
        async move { d.call("GET", &path, None).await }
    };
    let on_phone = || async {
        let ids: Vec<String> = at_whatsapp(&sb)
            .await
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids
    };
    let stored_in_chat = || async {
        let (code, page) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/messages?chat={CONTACT}"),
                None,
            )
            .await;
        assert_eq!(code, 200, "{page}");
        let ids: Vec<String> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect();
        ids
    };

    // Starred: the phone has it, and so does the stored message.
    let star = format!("/api/sessions/shop/messages/{b}/star");
    for bad in [json!({}), json!({"starred": "yes"})] {
        let (code, e) = d.call("POST", &star, Some(bad.clone())).await;
        assert_eq!(code, 422, "{bad}: {e}");
    }
    let (code, v) = d.call("POST", &star, Some(json!({"starred": true}))).await;
    assert_eq!((code, v["starred"].as_bool()), (200, Some(true)), "{v}");
    let (_, stars) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/starred"))
        .await;
    assert_eq!(stars, json!([b]));
    assert_eq!(msg(b).await.1["starred"], true);
    assert!(
        msg(a).await.1.get("starred").is_none(),
        "not starred: no field"
    );
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages/false_1@c.us_NOSUCH/star",
            Some(json!({"starred": true})),
        )
        .await;
    refused(code, &e, 404, "message_not_found");

    // Deleted for me: gone from the phone and the stored history; the
    // others are untouched.
    let path = format!("/api/sessions/shop/messages/{a}");
    let (code, e) = d.call("DELETE", &format!("{path}?for=someone"), None).await;
    assert_eq!(code, 422, "{e}");
    let (code, v) = d.call("DELETE", &format!("{path}?for=me"), None).await;
    assert_eq!(
        (code, v["deleted_for_me"].as_bool()),
        (200, Some(true)),
        "{v}"
    );
    assert!(!on_phone().await.contains(a));
    assert_eq!(msg(a).await.0, 404);
    assert!(!stored_in_chat().await.contains(a));
    let (code, _) = d.call("DELETE", &format!("{path}?for=me"), None).await;
    assert_eq!(code, 404, "a second time: the history no longer has it");

    // Cleared: the starred ones stay (WhatsApp's default), starred here or
    // on the phone; the rest go.
    let c = &theirs[2];
    sb.post(
        &format!("/_sandbox/accounts/{ACCOUNT}/starred"),
        json!({"ids": [c]}),
    )
    .await;
    let clear = format!("/api/sessions/shop/chats/{CONTACT}/clear");
    let (code, v) = d.call("POST", &clear, None).await;
    assert_eq!((code, v["cleared"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(stored_in_chat().await, [c.clone(), b.clone()]);
    let phone = on_phone().await;
    assert!(
        phone.contains(b) && phone.contains(c) && !phone.contains(&mine),
        "{phone:?}"
    );
    // The chat stays.
    let (_, chats) = d.call("GET", "/api/sessions/shop/chats", None).await;
    assert!(
        chats
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == dora.as_str())
    );
    // With its starred ones too.
    let (code, v) = d
        .call("POST", &clear, Some(json!({"keep_starred": false})))
        .await;
    assert_eq!((code, v["cleared"].as_u64()), (200, Some(2)), "{v}");
    assert!(stored_in_chat().await.is_empty());
    assert!(!on_phone().await.contains(b));

    // A restart's catch-up brings none of them back.
    let later = inbound(&sb, json!({"text": "five"})).await;
    event(&r, "message", |p| p["id"] == later.as_str()).await;
    let (code, _) = d.call("POST", "/api/sessions/shop/restart", None).await;
    assert_eq!(code, 200);
    d.wait_status("shop", "CONNECTED", T).await;
    // Once the catch-up after connect had its time.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stored_in_chat().await, std::slice::from_ref(&later));

    // Deleted: the chat goes with its messages, on the phone too.
    let chat_path = format!("/api/sessions/shop/chats/{CONTACT}");
    let (code, v) = d.call("DELETE", &chat_path, None).await;
    assert_eq!((code, v["deleted"].as_bool()), (200, Some(true)), "{v}");
    assert!(stored_in_chat().await.is_empty());
    assert!(on_phone().await.is_empty());
    let (_, chats) = d.call("GET", "/api/sessions/shop/chats", None).await;
    assert!(
        !chats
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == dora.as_str()),
        "{chats}"
    );
    let (code, e) = d.call("DELETE", &chat_path, None).await;
    refused(code, &e, 404, "chat_not_found");
    // Dora writes again: a new chat.
    let again = inbound(&sb, json!({"text": "hello again"})).await;
    event(&r, "message", |p| p["id"] == again.as_str()).await;
    assert_eq!(stored_in_chat().await, [again]);
}

/// How many media files the daemon keeps on disk, in every session.
fn kept_media(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            match (p.is_dir(), p.file_name().and_then(|n| n.to_str())) {
                (true, Some("media")) => std::fs::read_dir(&p).map_or(0, |d| d.count()),
                (true, _) => kept_media(&p),
                _ => 0,
            }
        })
        .sum()
}

/// What an agent does to a chat on the phone (archive, pin, mute, read,
/// delete) reaches the session as `chat.update` and `chat.removed`; a
/// message coming is no `chat.update`; a chat deleted on the phone leaves
/// the stored history, its kept media too, and a restart does not bring
/// it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_changed_on_the_phone_are_events_and_a_deleted_one_leaves_the_history() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let chat = format!("{CONTACT}@c.us");
    let text = inbound(&sb, json!({"text": "hello"})).await;
    let photo = inbound(
        &sb,
        json!({"media": {"data": PNG_1PX, "mimetype": "image/png"}, "caption": "a dot"}),
    )
    .await;
    event(&r, "message", |p| p["id"] == photo.as_str()).await;
    let media = format!("/api/sessions/shop/messages/{}/media", message_path(&photo));
    let (code, _) = d.call("GET", &media, None).await;
    assert_eq!(code, 200, "the photo's media is kept");
    assert_eq!(kept_media(&tmp.path().join("data")), 1);
    let phone = |change: Value| {
        let (sb, chat) = (&sb, &chat);
        async move {
            let (code, v) = sb
                .post(
                    &format!("/_sandbox/accounts/{ACCOUNT}/chats/{chat}"),
                    change,
                )
                .await;
            assert_eq!(code, 200, "{v}");
        }
    };
    let updated = |field: &'static str| {
        let (r, chat) = (&r, &chat);
        async move {
            event(r, "chat.update", |p| {
                p["chat"] == chat.as_str() && p["changed"] == field
            })
            .await
        }
    };

    phone(json!({"archive": true})).await;
    let u = updated("archived").await;
    assert_eq!(
        (u["archived"].clone(), u["pinned"].clone()),
        (json!(true), json!(false)),
        "{u}"
    );
    assert_eq!(u["unread"], 2, "two messages came: {u}");
    phone(json!({"pin": true})).await;
    assert_eq!(updated("pinned").await["pinned"], true);
    phone(json!({"mute_until": -1})).await;
    assert_eq!(updated("muted_until").await["muted_until"], -1);
    // Read on the phone: WhatsApp syncs it to the device.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/chats/{chat}/read"),
            json!({}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let u = updated("unread").await;
    assert_eq!(
        (u["unread"].clone(), u["marked_unread"].clone()),
        (json!(0), json!(false)),
        "{u}"
    );
    // Marked unread on the phone.
    phone(json!({"unread": true})).await;
    eventually(T, "marked unread", || async {
        r.events("chat.update")
            .into_iter()
            .any(|e| e["payload"]["changed"] == "unread" && e["payload"]["marked_unread"] == true)
            .then_some(())
    })
    .await;
    // A message that comes is a message, not a chat.update; nor is anything
    // this account did not change.
    let third = inbound(&sb, json!({"text": "still there?"})).await;
    event(&r, "message", |p| p["id"] == third.as_str()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let updates: Vec<String> = r
        .events("chat.update")
        .iter()
        .map(|e| e["payload"]["changed"].as_str().unwrap_or("?").to_string())
        .collect();
    assert_eq!(
        updates,
        ["archived", "pinned", "muted_until", "unread", "unread"],
        "{updates:?}"
    );
    // The API shows it as the phone left it.
    let (_, chats) = d.call("GET", "/api/sessions/shop/chats", None).await;
    let c = chats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == chat.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (c["archived"].clone(), c["pinned"].clone()),
        (json!(true), json!(true)),
        "{c}"
    );

    // Deleted on the phone: an event, and the history no longer has it.
    let (code, v) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/chats/{chat}/clear"),
            json!({"delete": true}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let gone = event(&r, "chat.removed", |p| p["chat"] == chat.as_str()).await;
    assert_eq!(gone["name"], "Dora", "{gone}");
    assert_eq!(
        r.events("chat.update").len(),
        5,
        "a deletion is no chat.update"
    );
    let in_chat = || async {
        let (code, v) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/messages?chat={chat}"),
                None,
            )
            .await;
        assert_eq!(code, 200, "{v}");
        v["messages"].as_array().cloned().unwrap_or_default()
    };
    eventually(
        T,
        "the deleted chat's messages out of the history",
        || async { in_chat().await.is_empty().then_some(()) },
    )
    .await;
    for id in [&text, &photo, &third] {
        let (code, _) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/messages/{}", message_path(id)),
                None,
            )
            .await;
        assert_eq!(code, 404, "{id} is gone");
    }
    let (code, _) = d.call("GET", &media, None).await;
    assert_eq!(code, 404, "its media went with it");
    assert_eq!(kept_media(&tmp.path().join("data")), 0);
    let (_, chats) = d.call("GET", "/api/sessions/shop/chats", None).await;
    assert!(
        !chats
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == chat.as_str()),
        "{chats}"
    );
    // A restart's catch-up brings none of it back.
    let (code, _) = d.call("POST", "/api/sessions/shop/restart", None).await;
    assert_eq!(code, 200);
    d.wait_status("shop", "CONNECTED", T).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(in_chat().await.is_empty());
    // Dora writes again: a new chat, whose messages are kept.
    let again = inbound(&sb, json!({"text": "hello again"})).await;
    event(&r, "message", |p| p["id"] == again.as_str()).await;
    let kept: Vec<Value> = in_chat().await.iter().map(|m| m["id"].clone()).collect();
    assert_eq!(kept, [json!(again)]);
    assert_eq!(r.events("chat.removed").len(), 1);
}

/// `--keep-deleted-chats`: an operator's archive keeps what an agent
/// deletes on the phone; the deletion is still told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_keeps_a_chat_deleted_on_the_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup_with(tmp.path(), &["--keep-deleted-chats"]).await;
    let id = inbound(&sb, json!({"text": "keep me"})).await;
    event(&r, "message", |p| p["id"] == id.as_str()).await;
    let chat = format!("{CONTACT}@c.us");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/chats/{chat}/clear"),
            json!({"delete": true}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    event(&r, "chat.removed", |p| p["chat"] == chat.as_str()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, m) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/messages/{}", message_path(&id)),
            None,
        )
        .await;
    assert_eq!((code, m["text"].clone()), (200, json!("keep me")), "{m}");
}

/// A WhatsApp Business account's business profile: read and changed
/// through the API, as anyone who looks the account up then sees it;
/// refused for an account that is no business; WhatsApp's limits checked
/// before anything changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_account_edits_its_business_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, _r) = setup(tmp.path()).await;
    let patch = |body: Value| {
        let d = &d;
        async move {
            d.call("PATCH", "/api/sessions/shop/profile", Some(body))
                .await
        }
    };
    let (code, me) = d.call("GET", "/api/sessions/shop/profile", None).await;
    assert_eq!((code, me["business"].clone()), (200, Value::Null), "{me}");
    let (code, e) = patch(json!({"business": {"description": "Bread"}})).await;
    refused(code, &e, 409, "not_business");
    assert!(
        sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/profile"))
            .await
            .1
            .get("business")
            .is_none()
    );

    let (code, v) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/business"),
            json!({"business": true}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    eventually(T, "the device a business one", || async {
        let (_, me) = d.call("GET", "/api/sessions/shop/profile", None).await;
        me["business"].is_object().then_some(())
    })
    .await;
    let (code, me) = patch(json!({"about": "Fresh every morning", "business": {
        "description": "Sourdough and rye", "address": "1 Mill Lane", "email": "hello@bakery.example",
        "websites": ["https://bakery.example", "https://shop.bakery.example"]}}))
    .await;
    assert_eq!(code, 200, "{me}");
    assert_eq!(
        me["business"],
        json!({"description": "Sourdough and rye", "address": "1 Mill Lane", "email": "hello@bakery.example",
               "website": ["https://bakery.example", "https://shop.bakery.example"], "categories": []}),
        "{me}"
    );
    assert_eq!(me["about"], "Fresh every morning");
    // What anyone looking the account up sees: WhatsApp's copy.
    let at_wa = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/profile"))
        .await
        .1;
    assert_eq!(
        (
            at_wa["business"]["description"].clone(),
            at_wa["business"]["website"][1].clone()
        ),
        (
            json!("Sourdough and rye"),
            json!("https://shop.bakery.example")
        ),
        "{at_wa}"
    );
    // WhatsApp's limits, checked before anything changes.
    for (bad, field) in [
        (
            json!({"websites": ["https://a.example", "https://b.example", "https://c.example"]}),
            "websites",
        ),
        (json!({"websites": ["bakery.example"]}), "websites"),
        (json!({"email": "not an address"}), "email"),
        (json!({"description": "x".repeat(513)}), "description"),
        (json!({"address": "x".repeat(257)}), "address"),
    ] {
        let (code, e) = patch(json!({"about": "changed?", "business": bad})).await;
        assert_eq!(code, 422, "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap_or("").contains(field),
            "{e}"
        );
    }
    let (code, e) = patch(json!({"business": {"phone": "1"}})).await;
    assert!(code == 400 || code == 422, "{code} {e}");
    // An empty text clears its field; the rest stays.
    let (code, me) = patch(json!({"business": {"description": "", "websites": []}})).await;
    assert_eq!(code, 200, "{me}");
    assert_eq!(
        (
            me["business"]["description"].clone(),
            me["business"]["website"].clone(),
            me["business"]["email"].clone()
        ),
        (Value::Null, json!([]), json!("hello@bakery.example")),
        "{me}"
    );
    assert_eq!(
        me["about"], "Fresh every morning",
        "nothing refused changed it"
    );
    // A profile of websites alone (as the profile names them) shows them.
    let (code, me) = patch(
        json!({"business": {"email": "", "address": "", "website": ["https://only.example"]}}),
    )
    .await;
    assert_eq!(code, 200, "{me}");
    assert_eq!(
        me["business"],
        json!({"description": null, "address": null, "email": null, "website": ["https://only.example"], "categories": []}),
        "{me}"
    );
    // No longer a business: no business profile, and none to change.
    sb.post(
        &format!("/_sandbox/accounts/{ACCOUNT}/business"),
        json!({"business": false}),
    )
    .await;
    eventually(T, "the device no business one", || async {
        let (_, me) = d.call("GET", "/api/sessions/shop/profile", None).await;
        me["business"].is_null().then_some(())
    })
    .await;
    let (code, e) = patch(json!({"business": {}})).await;
    refused(code, &e, 409, "not_business");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_changed_on_the_phone_reaches_the_session() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let (code, v) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/profile"),
            json!({"name": "Corner Bakery"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    // WhatsApp Web tells of it in no event: the page looks at the name as
    // events flow, every 10 s at most.
    eventually(T, "the phone's new name", || async {
        let id = inbound(&sb, json!({"text": "still open?"})).await;
        event(&r, "message", |p| p["id"] == id.as_str()).await;
        let (_, s) = d.call("GET", "/api/sessions/shop", None).await;
        if s["me"]["name"] == "Corner Bakery" {
            return Some(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        None
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_statuses_arrive_in_the_status_chat_and_stay_out_of_cloud_and_twilio() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let cloud = Receiver::start().await;
    let twilio = Receiver::start().await;
    let (code, v) = d
        .call(
            "PUT",
            "/api/sessions/shop/webhooks",
            Some(json!([
                {"url": r.url, "events": ["*"]},
                {"url": cloud.url, "format": "cloud"},
                {"url": twilio.url, "format": "twilio"},
            ])),
        )
        .await;
    assert_eq!(code, 200, "{v}");

    // A contact's status: in the status chat, by its author.
    let (code, v) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": CONTACT, "to": ACCOUNT, "name": "Dora", "text": "Fresh bread at 7", "status": true}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let story = v["id"].as_str().unwrap().to_string();
    let got = event(&r, "message", |p| p["id"] == story.as_str()).await;
    assert_eq!(
        (
            got["chat"].as_str(),
            got["sender"]["phone"].as_str(),
            got["text"].as_str()
        ),
        (
            Some("status@broadcast"),
            Some(CONTACT),
            Some("Fresh bread at 7")
        ),
        "{got}"
    );
    let (_, page) = d
        .call(
            "GET",
            "/api/sessions/shop/messages?chat=status@broadcast",
            None,
        )
        .await;
    assert_eq!(page["messages"][0]["id"], story.as_str(), "{page}");

    // A message to the account reaches every webhook; the status only the
    // native one: a Cloud or Twilio bot would take it for a chat's.
    let id = inbound(&sb, json!({"text": "Do you have rye?"})).await;
    event(&r, "message", |p| p["id"] == id.as_str()).await;
    eventually(
        T,
        "the message at the Cloud and Twilio webhooks",
        || async { (cloud.requests() >= 1 && twilio.requests() >= 1).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cloud_bodies = serde_json::to_string(&cloud.accepted()).unwrap();
    assert!(cloud_bodies.contains("Do you have rye?"));
    assert!(!cloud_bodies.contains("Fresh bread"), "{cloud_bodies}");
    let twilio_bodies: Vec<String> = twilio
        .state
        .lock()
        .unwrap()
        .got
        .iter()
        .map(|(_, b, _)| b.clone())
        .collect();
    assert!(
        twilio_bodies.iter().any(|b| b.contains("rye")),
        "{twilio_bodies:?}"
    );
    assert!(
        !twilio_bodies.iter().any(|b| b.contains("Fresh")),
        "{twilio_bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_deleted_for_me_leave_catch_up_where_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, mut d, r) = setup(tmp.path()).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // A bot that deletes each message for this account once handled: the
    // history is empty again, but catch-up still knows where it was.
    let a = inbound(&sb, json!({"text": "first", "sent_at": now - 600})).await;
    event(&r, "message", |p| p["id"] == a.as_str()).await;
    let (code, v) = d
        .call(
            "DELETE",
            &format!("/api/sessions/shop/messages/{a}?for=me"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    // Written five minutes ago, it reaches the page while the daemon is
    // frozen; then the daemon dies.
    d.proc.freeze();
    let b = inbound(&sb, json!({"text": "second", "sent_at": now - 300})).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.proc.kill9();
    let d = d.restart_same().await;
    d.wait_status("shop", "CONNECTED", T).await;
    let got = event(&r, "message", |p| p["id"] == b.as_str()).await;
    assert_eq!(got["text"], "second", "{got}");
}

/// Pins: everyone in the chat sees them (the phone, the contact), three
/// at most, each for its time; read back from WhatsApp Web whoever pinned
/// them; refused where WhatsApp Web refuses them.
#[tokio::test(flavor = "multi_thread")]
async fn messages_are_pinned_for_everyone_in_the_chat_and_expire() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let dora = format!("{CONTACT}@c.us");
    let mut theirs = vec![];
    for text in ["one", "two", "three"] {
        let id = inbound(&sb, json!({"text": text})).await;
        event(&r, "message", |p| p["id"] == id.as_str()).await;
        theirs.push(id);
    }
    let mine = send(&d, json!({"to": CONTACT, "text": "four"})).await;
    let (a, b, c) = (&theirs[0], &theirs[1], &theirs[2]);
    let pin = |id: &str, body: Value| {
        let d = &d;
        let path = format!("/api/sessions/shop/messages/{id}/pin");
        async move { d.call("POST", &path, Some(body)).await }
    };
    let listed = || async {
        let (code, v) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/chats/{CONTACT}/pinned"),
                None,
            )
            .await;
        assert_eq!(code, 200, "{v}");
        v["pinned"].as_array().unwrap().clone()
    };
    let ids = |pins: &[Value]| -> Vec<String> {
        let mut ids: Vec<String> = pins
            .iter()
            .map(|p| p["message"]["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let on_phone = || async {
        let (code, v) = sb
            .get(&format!("/_sandbox/accounts/{ACCOUNT}/pins/{dora}"))
            .await;
        assert_eq!(code, 200, "{v}");
        let mut ids: Vec<String> = v["pins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["msg"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<&String>| -> Vec<String> {
        v.sort();
        v.into_iter().cloned().collect()
    };

    // Bad input.
    for bad in [
        json!({}),
        json!({"pinned": "yes"}),
        json!({"pinned": true, "duration": 3600}),
        json!({"pinned": true, "for": 5}),
    ] {
        let (code, e) = pin(a, bad.clone()).await;
        assert_eq!(code, 422, "{bad}: {e}");
    }
    let (code, e) = pin("false_1@c.us_NOSUCH", json!({"pinned": true})).await;
    refused(code, &e, 404, "message_not_found");

    // Pinned for a week by default: the phone shows it, and so does the chat.
    let (code, v) = pin(a, json!({"pinned": true})).await;
    assert_eq!((code, v["pinned"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(v["pinned_by"], format!("{ACCOUNT}@c.us"), "{v}");
    let at = v["pinned_at"].as_i64().unwrap();
    assert_eq!(v["expires_at"].as_i64().unwrap() - at, 604_800, "{v}");
    assert_eq!(on_phone().await, [a.clone()]);
    let pins = listed().await;
    assert_eq!(ids(&pins), [a.clone()]);
    assert_eq!(
        pins[0]["message"]["text"], "one",
        "the stored message: {pins:?}"
    );
    // Again for as long: nothing changes.
    let (code, v) = pin(a, json!({"pinned": true})).await;
    assert_eq!((code, v["pinned_at"].as_i64()), (200, Some(at)), "{v}");
    assert_eq!(v["expires_at"].as_i64().unwrap() - at, 604_800, "{v}");
    // For another time: pinned anew, for that time.
    let (code, v) = pin(a, json!({"pinned": true, "duration": 2592000})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["expires_at"].as_i64().unwrap() - v["pinned_at"].as_i64().unwrap(),
        2_592_000,
        "{v}"
    );
    let (_, phone) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/pins/{dora}"))
        .await;
    assert_eq!(phone["pins"][0]["secs"], 2_592_000, "{phone}");

    // The contact pins one for a day, a second later: newest pin first.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{b}/pin"),
            json!({"pinned": true, "secs": 86400}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let pins = eventually(T, "the contact's pin", || async {
        let pins = listed().await;
        (pins.len() == 2).then_some(pins)
    })
    .await;
    assert_eq!(pins[0]["message"]["id"], b.as_str(), "{pins:?}");
    assert_eq!(pins[0]["pinned_by"], dora.as_str(), "{pins:?}");
    assert_eq!(
        pins[0]["expires_at"].as_i64().unwrap() - pins[0]["pinned_at"].as_i64().unwrap(),
        86_400
    );

    // Three at most: a fourth takes the oldest one's place, for everyone.
    for id in [&mine, c] {
        let (code, v) = pin(id, json!({"pinned": true, "duration": 2592000})).await;
        assert_eq!(code, 200, "{v}");
    }
    assert_eq!(ids(&listed().await), sorted(vec![b, c, &mine]));
    assert_eq!(on_phone().await, sorted(vec![b, c, &mine]));

    // Unpinned, here and by the phone.
    let (code, v) = pin(b, json!({"pinned": false})).await;
    assert_eq!((code, v["pinned"].as_bool()), (200, Some(false)), "{v}");
    assert!(v.get("expires_at").is_none(), "{v}");
    let (code, _) = sb
        .post(
            &format!("/_sandbox/messages/{mine}/pin"),
            json!({"pinned": false, "mine": true}),
        )
        .await;
    assert_eq!(code, 200);
    eventually(T, "the phone's unpin", || async {
        (ids(&listed().await) == [c.clone()]).then_some(())
    })
    .await;
    assert_eq!(on_phone().await, [c.clone()]);
    let (code, v) = pin(b, json!({"pinned": false})).await;
    assert_eq!(
        (code, v["pinned"].as_bool()),
        (200, Some(false)),
        "again: {v}"
    );

    // A pin's time runs out: gone from the chat (WhatsApp Web's short
    // durations make it testable).
    pin(c, json!({"pinned": false})).await;
    let pinned_at = std::time::Instant::now();
    let (code, v) = pin(c, json!({"pinned": true, "duration": 5})).await;
    assert_eq!(
        (
            code,
            v["expires_at"].as_i64().unwrap() - v["pinned_at"].as_i64().unwrap()
        ),
        (200, 5),
        "{v}"
    );
    let now = listed().await;
    // (Unless a busy machine took most of its five seconds to ask.)
    if pinned_at.elapsed() < Duration::from_secs(3) {
        assert_eq!(ids(&now), [c.clone()]);
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(listed().await.is_empty(), "expired");
    assert!(on_phone().await.is_empty(), "expired at the phone too");
    // Pinned again once its time ran out (WhatsApp Web keeps the old row).
    let (code, v) = pin(c, json!({"pinned": true})).await;
    assert_eq!((code, v["pinned"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(ids(&listed().await), [c.clone()]);

    // A message deleted for everyone is unpinned, for everyone, and
    // cannot be pinned.
    let (code, v) = pin(a, json!({"pinned": true})).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(on_phone().await, sorted(vec![a, c]));
    sb.post(&format!("/_sandbox/messages/{a}/revoke"), json!({}))
        .await;
    event(&r, "message.revoked", |p| p["id"] == a.as_str()).await;
    assert_eq!(on_phone().await, [c.clone()]);
    eventually(T, "the deleted message's pin gone", || async {
        (ids(&listed().await) == [c.clone()]).then_some(())
    })
    .await;
    let (code, e) = pin(a, json!({"pinned": true})).await;
    refused(code, &e, 409, "message_revoked");

    // A group whose settings only admins change: only admins pin, and we
    // are none.
    let fid = their_group(&sb, &r, OTHER).await;
    let gm = in_group(&sb, OTHER, &fid, json!({"text": "photos from Sunday"})).await;
    event(&r, "message", |p| p["id"] == gm.as_str()).await;
    let (code, v) = pin(&gm, json!({"pinned": true})).await;
    assert_eq!(
        (code, v["pinned"].as_bool()),
        (200, Some(true)),
        "anyone pins in an open group: {v}"
    );
    let (code, _) = sb
        .post(
            &format!("/_sandbox/groups/{fid}/settings"),
            json!({"by": CONTACT, "restrict": true}),
        )
        .await;
    assert_eq!(code, 200);
    event(&r, "group.update", |p| {
        p["group"] == fid.as_str() && p["restrict"] == true
    })
    .await;
    let (code, e) = pin(&gm, json!({"pinned": false})).await;
    refused(code, &e, 409, "not_group_admin");
    // A member pins it, and an admin: only the admin may.
    let (code, e) = sb
        .post(
            &format!("/_sandbox/messages/{gm}/pin"),
            json!({"pinned": false, "from": OTHER}),
        )
        .await;
    refused(code, &e, 403, "admins_only");
    let (code, _) = sb
        .post(
            &format!("/_sandbox/messages/{gm}/pin"),
            json!({"pinned": false, "from": CONTACT}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, v) = d
        .call(
            "GET",
            &format!("/api/sessions/shop/chats/{fid}/pinned"),
            None,
        )
        .await;
    assert_eq!(code, 200, "{v}");
    eventually(T, "the admin's unpin", || async {
        let (_, v) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/chats/{fid}/pinned"),
                None,
            )
            .await;
        v["pinned"]
            .as_array()
            .is_some_and(|p| p.is_empty())
            .then_some(())
    })
    .await;
    // Out of the group: not a member's to pin.
    let (code, _) = sb
        .post(
            &format!("/_sandbox/groups/{fid}/participants"),
            json!({"by": CONTACT, "remove": [ACCOUNT]}),
        )
        .await;
    assert_eq!(code, 200);
    event(&r, "group.leave", |p| p["group"] == fid.as_str()).await;
    let (code, e) = pin(&gm, json!({"pinned": true})).await;
    refused(code, &e, 404, "group_not_found");
}

/// Receipts: who got, read and played one of our messages, as WhatsApp
/// Web's message info has it; in a group, each member, and the ack only
/// once all of them have.
#[tokio::test(flavor = "multi_thread")]
async fn receipts_tell_who_got_read_and_played_each_of_our_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let receipts = |id: &str| {
        let d = &d;
        let path = format!("/api/sessions/shop/messages/{id}/receipts");
        async move { d.call("GET", &path, None).await }
    };
    let read = |id: &str, body: Value| {
        let sb = &sb;
        let path = format!("/_sandbox/messages/{id}/read");
        async move {
            let (code, v) = sb.post(&path, body).await;
            assert_eq!(code, 200, "{v}");
        }
    };

    // One contact: delivered, then read.
    let mine = send(&d, json!({"to": CONTACT, "text": "your order shipped"})).await;
    event(&r, "message.ack", |p| {
        p["id"] == mine.as_str() && p["ack"] == "delivered"
    })
    .await;
    let (code, v) = receipts(&mine).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["ack"], "delivered", "{v}");
    let them = &v["recipients"][0];
    assert_eq!(them["id"], format!("{CONTACT}@c.us"), "{v}");
    assert!(
        them["delivered_at"].as_i64().is_some() && them["read_at"].is_null(),
        "{v}"
    );
    assert_eq!(
        v["pending"],
        json!({"delivery": 0, "read": 1, "played": 0}),
        "{v}"
    );
    read(&mine, json!({})).await;
    event(&r, "message.ack", |p| {
        p["id"] == mine.as_str() && p["ack"] == "read"
    })
    .await;
    let (_, v) = receipts(&mine).await;
    assert!(v["recipients"][0]["read_at"].as_i64().is_some(), "{v}");
    assert_eq!(v["pending"]["read"], 0, "{v}");

    // A voice note: played.
    let note = send(
        &d,
        json!({"to": CONTACT, "media": {"data": OGG_B64, "mimetype": "audio/ogg; codecs=opus"}, "voice": true}),
    )
    .await;
    event(&r, "message.ack", |p| {
        p["id"] == note.as_str() && p["ack"] == "delivered"
    })
    .await;
    assert_eq!(receipts(&note).await.1["pending"]["played"], 1);
    read(&note, json!({"played": true})).await;
    event(&r, "message.ack", |p| {
        p["id"] == note.as_str() && p["ack"] == "played"
    })
    .await;
    let (_, v) = receipts(&note).await;
    assert!(v["recipients"][0]["played_at"].as_i64().is_some(), "{v}");
    assert_eq!(
        v["pending"],
        json!({"delivery": 0, "read": 0, "played": 0}),
        "{v}"
    );

    // A group: each member; read by all only once the last one reads.
    let fid = their_group(&sb, &r, OTHER).await;
    let g = send(&d, json!({"to": fid, "text": "dinner at 8"})).await;
    event(&r, "message.ack", |p| {
        p["id"] == g.as_str() && p["ack"] == "delivered"
    })
    .await;
    read(&g, json!({"by": OTHER})).await;
    // Time for a wrong ack to arrive, before looking for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, v) = receipts(&g).await;
    assert_eq!(v["ack"], "delivered", "one of two read it: {v}");
    assert!(
        !r.events("message.ack")
            .iter()
            .any(|e| e["payload"]["id"] == g.as_str() && e["payload"]["ack"] == "read"),
        "no read ack while a member has not read it"
    );
    assert_eq!(v["pending"]["read"], 1, "{v}");
    let by = |v: &Value, who: &str| {
        v["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == format!("{who}@c.us"))
            .cloned()
            .unwrap_or_else(|| panic!("{who} not among {v}"))
    };
    assert!(by(&v, OTHER)["read_at"].as_i64().is_some(), "{v}");
    assert!(by(&v, CONTACT)["read_at"].is_null(), "{v}");
    assert!(by(&v, CONTACT)["delivered_at"].as_i64().is_some(), "{v}");
    read(&g, json!({"by": CONTACT})).await;
    event(&r, "message.ack", |p| {
        p["id"] == g.as_str() && p["ack"] == "read"
    })
    .await;
    assert_eq!(receipts(&g).await.1["pending"]["read"], 0);

    // Nothing but a voice note or audio is played (WhatsApp tells of no
    // other); a status's viewers are not kept.
    let (code, e) = sb
        .post(
            &format!("/_sandbox/messages/{g}/read"),
            json!({"played": true}),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    let story = send(&d, json!({"to": "status@broadcast", "text": "open late"})).await;
    let (code, e) = receipts(&story).await;
    refused(code, &e, 409, "status_receipts");

    // Only our own messages; an unknown one is 404.
    let theirs = inbound(&sb, json!({"text": "thanks"})).await;
    event(&r, "message", |p| p["id"] == theirs.as_str()).await;
    let (code, e) = receipts(&theirs).await;
    refused(code, &e, 409, "not_own_message");
    let (code, e) = receipts("true_1@c.us_NOSUCH").await;
    refused(code, &e, 404, "message_not_found");
}

/// WhatsApp Web's own search of what it holds, and the starred messages,
/// stars put on the phone included.
#[tokio::test(flavor = "multi_thread")]
async fn messages_are_found_by_search_and_the_starred_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let mut ids = vec![];
    for (from, text) in [
        (CONTACT, "Order #1234 shipped"),
        (CONTACT, "hello there"),
        (OTHER, "an order from Ben"),
    ] {
        let id = inbound(&sb, json!({"from": from, "text": text})).await;
        event(&r, "message", |p| p["id"] == id.as_str()).await;
        ids.push(id);
    }
    let mine = send(&d, json!({"to": CONTACT, "text": "ORDER confirmed"})).await;
    let get = |path: String| {
        let d = &d;
        async move {
            d.call("GET", &format!("/api/sessions/shop/messages/{path}"), None)
                .await
        }
    };
    let found = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };

    // Any case, newest first; in one chat; paged.
    let (code, v) = get("search?q=order".into()).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        found(&v),
        [mine.clone(), ids[2].clone(), ids[0].clone()],
        "{v}"
    );
    assert_eq!(
        (v["page"].as_u64(), v["more"].as_bool()),
        (Some(1), Some(false)),
        "{v}"
    );
    assert_eq!(v["messages"][0]["text"], "ORDER confirmed", "{v}");
    let (_, v) = get(format!("search?q=ORDER&chat={CONTACT}")).await;
    assert_eq!(found(&v), [mine.clone(), ids[0].clone()], "{v}");
    let (_, v) = get("search?q=order&limit=1&page=2".into()).await;
    assert_eq!(
        (found(&v), v["more"].as_bool()),
        (vec![ids[2].clone()], Some(true)),
        "{v}"
    );
    let (_, v) = get("search?q=nothing-like-this".into()).await;
    assert_eq!(found(&v), Vec::<String>::new());
    // The starts of words, as a word index finds them.
    let (_, v) = get("search?q=rder".into()).await;
    assert_eq!(found(&v), Vec::<String>::new(), "not inside a word: {v}");
    let (_, v) = get("search?q=%231234".into()).await;
    assert_eq!(found(&v), [ids[0].clone()], "{v}");
    let (code, e) = get("search?q=order&chat=15550009999".into()).await;
    refused(code, &e, 404, "chat_not_found");
    for bad in [
        "search",
        "search?q=%20",
        "search?q=x&page=0",
        "search?q=x&limit=101",
    ] {
        let (code, e) = get(bad.into()).await;
        assert_eq!(code, 422, "{bad}: {e}");
    }
    // Deleted for everyone: no longer found.
    sb.post(&format!("/_sandbox/messages/{}/revoke", ids[0]), json!({}))
        .await;
    event(&r, "message.revoked", |p| p["id"] == ids[0].as_str()).await;
    let (_, v) = get(format!("search?q=order&chat={CONTACT}")).await;
    assert_eq!(found(&v), std::slice::from_ref(&mine), "{v}");

    // Starred here and on the phone: both listed, newest first; paged.
    let (code, _) = d
        .call(
            "POST",
            &format!("/api/sessions/shop/messages/{}/star", ids[1]),
            Some(json!({"starred": true})),
        )
        .await;
    assert_eq!(code, 200);
    let (_, phone) = sb
        .get(&format!("/_sandbox/accounts/{ACCOUNT}/starred"))
        .await;
    let mut stars: Vec<Value> = phone.as_array().unwrap().clone();
    stars.push(json!(ids[2]));
    sb.post(
        &format!("/_sandbox/accounts/{ACCOUNT}/starred"),
        json!({"ids": stars}),
    )
    .await;
    let v = eventually(T, "the phone's star", || async {
        let (_, v) = get("starred".into()).await;
        (v["messages"].as_array().map(Vec::len) == Some(2)).then_some(v)
    })
    .await;
    assert_eq!(found(&v), [ids[2].clone(), ids[1].clone()], "{v}");
    assert!(v["next"].is_null(), "{v}");
    // Starred on the phone: the listing says so, though the daemon never
    // starred it.
    assert!(
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["starred"] == true),
        "{v}"
    );
    let (_, v) = get(format!("starred?chat={CONTACT}")).await;
    assert_eq!(found(&v), [ids[1].clone()], "{v}");
    let (_, v) = get("starred?limit=1".into()).await;
    assert_eq!(
        (found(&v), v["next"].as_str()),
        (vec![ids[2].clone()], Some(ids[2].as_str())),
        "{v}"
    );
    let (_, v) = get(format!("starred?limit=1&before={}", ids[2])).await;
    assert_eq!(
        (found(&v), v["next"].is_null()),
        (vec![ids[1].clone()], true),
        "{v}"
    );
    let (code, e) = get("starred?before=false_1@c.us_NOSUCH".into()).await;
    refused(code, &e, 404, "message_not_found");
    let (code, e) = get(format!("starred?before={mine}")).await;
    assert_eq!(code, 422, "not a starred message: {e}");
    let (code, e) = get("starred?chat=15550009999".into()).await;
    refused(code, &e, 404, "chat_not_found");
}

/// WhatsApp Channels: one the account makes, edits, posts to and deletes;
/// one a contact runs, found in the directory, followed (its posts arrive
/// as messages in its chat), muted and unfollowed. What a channel does not
/// take is refused before WhatsApp is asked, in the native dialect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_are_made_posted_to_followed_and_muted() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let (code, none) = d.call("GET", "/api/sessions/shop/channels", None).await;
    assert_eq!((code, none["channels"].clone()), (200, json!([])), "{none}");

    // Bad input, in the native dialect.
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": " "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"name": "News", "description": "  "}), "description"),
        (json!({"name": "News", "picture": "not base64!"}), "picture"),
        (json!({"name": "News", "picture": null}), "picture"),
    ] {
        let (code, e) = d
            .call("POST", "/api/sessions/shop/channels", Some(body.clone()))
            .await;
        refused(code, &e, 422, "invalid_field");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(field),
            "{body}: {e}"
        );
    }
    let (code, e) = d
        .call(
            "GET",
            "/api/sessions/shop/channels/15551234567%40c.us",
            None,
        )
        .await;
    refused(code, &e, 422, "invalid_field");

    // Ours: made, then seen at WhatsApp as made.
    let (code, mine) = d
        .call(
            "POST",
            "/api/sessions/shop/channels",
            Some(json!({"name": " Shop news ", "description": "Offers\nand news", "picture": PNG_1PX})),
        )
        .await;
    assert_eq!(code, 201, "{mine}");
    let cid = mine["id"].as_str().unwrap().to_string();
    assert!(cid.ends_with("@newsletter"), "{mine}");
    assert_eq!(
        (
            &mine["name"],
            &mine["description"],
            &mine["role"],
            &mine["muted"]
        ),
        (
            &json!("Shop news"),
            &json!("Offers\nand news"),
            &json!("owner"),
            &json!(false)
        ),
        "{mine}"
    );
    assert!(
        mine["invite"].as_str().is_some_and(|i| !i.is_empty()),
        "{mine}"
    );
    let path = format!("/api/sessions/shop/channels/{}", message_path(&cid));
    let (_, at) = sb.get(&format!("/_sandbox/channels/{cid}")).await;
    assert_eq!(at["owner"], ACCOUNT, "{at}");
    assert!(at["picture"].is_string(), "{at}");

    // Posts: a text and a photo go; what a channel does not take does not.
    let post = send(&d, json!({"to": cid, "text": "Big sale today"})).await;
    assert_eq!(on_phone(&sb, &post).await["text"], "Big sale today");
    let photo = send(
        &d,
        json!({"to": cid, "media": {"data": PNG_1PX, "mimetype": "image/png"}, "caption": "New in"}),
    )
    .await;
    assert_eq!(on_phone(&sb, &photo).await["caption"], "New in");
    assert_eq!(stored(&d, &post).await["chat"], cid.as_str());
    let poll = send(
        &d,
        json!({"to": cid, "poll": {"name": "Next sale?", "options": ["Shoes", "Hats"]}}),
    )
    .await;
    assert_eq!(on_phone(&sb, &poll).await["poll"]["name"], "Next sale?");
    for (extra, field) in [
        (json!({"text": "hi", "reply_to": post}), "reply_to"),
        (json!({"location": {"lat": 1.0, "lng": 2.0}}), "location"),
        (
            json!({"media": {"data": OGG_B64, "mimetype": "audio/ogg"}, "voice": true}),
            "voice",
        ),
        (
            json!({"media": {"data": OGG_B64, "mimetype": "audio/ogg"}}),
            "media",
        ),
        (
            json!({"media": {"data": PNG_1PX, "mimetype": "image/png"}, "document": true}),
            "document",
        ),
    ] {
        let (code, e) = d
            .call(
                "POST",
                "/api/sessions/shop/messages",
                Some(with(json!({"to": cid}), extra.clone())),
            )
            .await;
        refused(code, &e, 422, "invalid_field");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(field),
            "{extra}: {e}"
        );
    }

    // Edited by its owner.
    let (code, e) = d.call("PATCH", &path, Some(json!({}))).await;
    refused(code, &e, 422, "invalid_field");
    // (A post is not edited: wa-js sends no edit to a channel.)
    let (code, e) = d
        .call(
            "PATCH",
            &format!("/api/sessions/shop/messages/{}", message_path(&post)),
            Some(json!({"text": "Bigger sale"})),
        )
        .await;
    refused(code, &e, 409, "message_not_editable");
    let (code, edited) = d
        .call(
            "PATCH",
            &path,
            Some(json!({"name": "Shop news 2", "description": "New offers"})),
        )
        .await;
    assert_eq!(code, 200, "{edited}");
    assert_eq!(
        (&edited["name"], &edited["description"]),
        (&json!("Shop news 2"), &json!("New offers"))
    );
    let (_, at) = sb.get(&format!("/_sandbox/channels/{cid}")).await;
    assert_eq!(
        (&at["name"], &at["description"]),
        (&json!("Shop news 2"), &json!("New offers"))
    );
    // wa-js takes the picture away with any edit that does not give one:
    // the daemon gives the one it has again.
    assert_eq!(
        at["picture"], PNG_1PX,
        "the picture survives a change of name"
    );
    let (code, gone) = d.call("PATCH", &path, Some(json!({"picture": null}))).await;
    assert_eq!((code, &gone["has_picture"]), (200, &json!(false)), "{gone}");
    let (_, at) = sb.get(&format!("/_sandbox/channels/{cid}")).await;
    assert!(at["picture"].is_null(), "{at}");
    assert_eq!(at["name"], "Shop news 2");
    let (code, e) = d.call("POST", &format!("{path}/mute"), None).await;
    refused(code, &e, 409, "channel_admin");

    // A post WhatsApp refuses (it suspended the channel) is not answered
    // as sent, and is stored as failed.
    let (code, _) = sb
        .post(
            &format!("/_sandbox/channels/{cid}/suspend"),
            json!({"on": true}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": cid, "text": "While suspended"})),
        )
        .await;
    assert_eq!(code, 502, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not take the post")),
        "{e}"
    );
    let failed = eventually(T, "the refused post, failed", || async {
        let (_, page) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/messages?chat={}", message_path(&cid)),
                None,
            )
            .await;
        page["messages"].as_array().and_then(|l| {
            l.iter()
                .find(|m| m["text"] == "While suspended" && m["ack"] == "failed")
                .cloned()
        })
    })
    .await;
    assert_eq!(failed["from_me"], true);
    // The owner's phone cannot post to it either.
    let (code, e) = sb
        .post(
            &format!("/_sandbox/channels/{cid}/posts"),
            json!({"text": "From the phone"}),
        )
        .await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (409, Some("channel_suspended")),
        "{e}"
    );
    sb.post(
        &format!("/_sandbox/channels/{cid}/suspend"),
        json!({"on": false}),
    )
    .await;
    let (code, e) = d.call("POST", &format!("{path}/follow"), None).await;
    refused(code, &e, 409, "channel_admin");

    // A contact's channel: found in the directory, not ours yet.
    let (code, theirs) = sb
        .post(
            "/_sandbox/channels",
            json!({"owner": CONTACT, "name": "Daily deals", "description": "A deal every day"}),
        )
        .await;
    assert_eq!(code, 201, "{theirs}");
    let tid = theirs["id"].as_str().unwrap().to_string();
    let tpath = format!("/api/sessions/shop/channels/{}", message_path(&tid));
    let (code, found) = d
        .call(
            "GET",
            "/api/sessions/shop/channels/search?q=DEALS&limit=5",
            None,
        )
        .await;
    assert_eq!(code, 200, "{found}");
    let hit = found["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == tid.as_str())
        .cloned();
    let hit = hit.unwrap_or_else(|| panic!("{found}"));
    assert_eq!(
        (&hit["name"], &hit["role"]),
        (&json!("Daily deals"), &json!("guest")),
        "{hit}"
    );
    // The directory a page at a time: each page's `next` is the cursor of
    // the one after, and no channel comes twice.
    for n in 1..=3 {
        let (code, v) = sb
            .post(
                "/_sandbox/channels",
                json!({"owner": OTHER, "name": format!("Weekly deals {n}")}),
            )
            .await;
        assert_eq!(code, 201, "{v}");
    }
    let (mut seen, mut cursor) = (vec![], String::new());
    for _ in 0..3 {
        let (code, page) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/channels/search?q=deals&limit=2{cursor}"),
                None,
            )
            .await;
        assert_eq!(code, 200, "{page}");
        for c in page["channels"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={}", message_path(next)),
            None => break,
        }
    }
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (4, 4), "{seen:?}");
    for q in ["", "?q=", "?q=deals&limit=0", "?q=deals&limit=101"] {
        let (code, e) = d
            .call(
                "GET",
                &format!("/api/sessions/shop/channels/search{q}"),
                None,
            )
            .await;
        refused(code, &e, 422, "invalid_field");
    }
    let (code, e) = d.call("GET", &tpath, None).await;
    refused(code, &e, 404, "channel_not_found");
    let (code, e) = d.call("POST", &format!("{tpath}/mute"), None).await;
    refused(code, &e, 404, "channel_not_found");

    // Followed: its posts come as messages in its chat.
    let (code, followed) = d.call("POST", &format!("{tpath}/follow"), None).await;
    assert_eq!(code, 200, "{followed}");
    assert_eq!(
        (&followed["role"], &followed["subscribers"]),
        (&json!("subscriber"), &json!(1)),
        "{followed}"
    );
    let (_, at) = sb.get(&format!("/_sandbox/channels/{tid}")).await;
    assert_eq!(at["followers"], json!([ACCOUNT]), "{at}");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/channels/{tid}/posts"),
            json!({"text": "Deal of the day"}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let m = event(&r, "message", |p| p["chat"] == tid.as_str()).await;
    assert_eq!(
        (&m["text"], &m["from_me"]),
        (&json!("Deal of the day"), &json!(false)),
        "{m}"
    );
    assert_eq!(
        (&m["chat_name"], &m["sender"]["phone"]),
        (&json!("Daily deals"), &Value::Null),
        "{m}"
    );
    // Followers do not post.
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": tid, "text": "me too"})),
        )
        .await;
    refused(code, &e, 409, "not_channel_admin");
    let (code, e) = d
        .call("PATCH", &tpath, Some(json!({"name": "Mine now"})))
        .await;
    refused(code, &e, 409, "not_channel_admin");
    let (code, e) = d.call("DELETE", &tpath, None).await;
    refused(code, &e, 409, "not_channel_admin");

    // Muted and unmuted, at WhatsApp too.
    let (code, muted) = d.call("POST", &format!("{tpath}/mute"), None).await;
    assert_eq!((code, &muted["muted"]), (200, &json!(true)), "{muted}");
    let (_, at) = sb.get(&format!("/_sandbox/channels/{tid}")).await;
    assert_eq!(at["muted"], json!([ACCOUNT]), "{at}");
    let (code, unmuted) = d.call("DELETE", &format!("{tpath}/mute"), None).await;
    assert_eq!((code, &unmuted["muted"]), (200, &json!(false)), "{unmuted}");

    // Both listed; then unfollowed.
    let (_, both) = d.call("GET", "/api/sessions/shop/channels", None).await;
    let mut ids: Vec<&str> = both["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    ids.sort();
    let mut want = [tid.as_str(), cid.as_str()];
    want.sort();
    assert_eq!(ids, want, "{both}");
    let (code, v) = d.call("DELETE", &format!("{tpath}/follow"), None).await;
    assert_eq!(code, 200, "{v}");
    let (_, at) = sb.get(&format!("/_sandbox/channels/{tid}")).await;
    assert_eq!(at["followers"], json!([]), "{at}");
    let (code, e) = d.call("GET", &tpath, None).await;
    refused(code, &e, 404, "channel_not_found");

    // Ours deleted, at WhatsApp too.
    let (code, v) = d.call("DELETE", &path, None).await;
    assert_eq!(code, 200, "{v}");
    let (code, _) = sb.get(&format!("/_sandbox/channels/{cid}")).await;
    assert_eq!(code, 404);
    let (_, none) = d.call("GET", "/api/sessions/shop/channels", None).await;
    assert_eq!(none["channels"], json!([]), "{none}");
    // One that never was.
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/channels/120363999999999999%40newsletter/follow",
            None,
        )
        .await;
    refused(code, &e, 404, "channel_not_found");
}

/// Scheduled events (WhatsApp's event messages) both ways: one sent goes
/// as wa-js sends it (its end two hours after the start where none is
/// given, a call link for a video call), one received arrives with what it
/// carries; what is not an event is refused before WhatsApp is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_events_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let start = 1_900_000_000_i64;
    let id = send(
        &d,
        json!({"to": CONTACT, "event": {
            "name": "Launch party", "description": "Drinks", "start": start,
            "location": {"name": "The shop", "lat": 52.37, "lng": 4.89}, "call": "video"}}),
    )
    .await;
    let at = on_phone(&sb, &id).await;
    assert_eq!(at["type"], "event_creation", "{at}");
    let e = &at["event"];
    assert_eq!(
        (&e["name"], &e["description"], &e["start"], &e["end"]),
        (
            &json!("Launch party"),
            &json!("Drinks"),
            &json!(start),
            &json!(start + 7200)
        ),
        "{at}"
    );
    assert_eq!(e["location"]["name"], "The shop");
    assert!(
        e["join_link"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://call.whatsapp.com/video/")),
        "{at}"
    );
    let m = stored(&d, &id).await;
    assert_eq!(m["type"], "other", "{m}");
    assert_eq!(
        (
            &m["event"]["name"],
            &m["event"]["end"],
            &m["event"]["location"]["lat"]
        ),
        (&json!("Launch party"), &json!(start + 7200), &json!(52.37)),
        "{m}"
    );
    assert!(m["event"]["join_link"].is_string(), "{m}");

    // Received: wa-js's description of one space is none.
    let got = inbound(
        &sb,
        json!({"event": {"name": "Team lunch", "description": " ", "start": start, "end": start + 3600}}),
    )
    .await;
    let ev = event(&r, "message", |p| p["id"] == got.as_str()).await;
    assert_eq!(ev["type"], "other", "{ev}");
    assert_eq!(
        (
            &ev["event"]["name"],
            &ev["event"]["end"],
            &ev["event"]["description"]
        ),
        (&json!("Team lunch"), &json!(start + 3600), &Value::Null),
        "{ev}"
    );
    assert!(
        ev["event"].get("description").is_none(),
        "none, not an empty one: {ev}"
    );

    // A place by its name only goes without coordinates (not 0, 0).
    let named = send(
        &d,
        json!({"to": CONTACT, "event": {"name": "Picnic", "start": start, "location": {"name": "The park"}}}),
    )
    .await;
    let at = on_phone(&sb, &named).await;
    assert_eq!(at["event"]["location"], json!({"name": "The park"}), "{at}");
    // An event is not forwarded: WhatsApp Web's forward of it carries no
    // event.
    let (code, e) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": OTHER, "forward": id})),
        )
        .await;
    refused(code, &e, 409, "not_forwardable");

    // Refused, in the native dialect, naming the field.
    let ok = json!({"name": "Lunch", "start": start});
    for (ev, extra, field) in [
        (
            json!({"name": " ", "start": start}),
            json!({}),
            "event.name",
        ),
        (
            json!({"name": "Lunch", "start": start * 1000}),
            json!({}),
            "event.start",
        ),
        (
            json!({"name": "Lunch", "start": start, "end": start}),
            json!({}),
            "event.end",
        ),
        (
            json!({"name": "Lunch", "start": start, "call": "phone"}),
            json!({}),
            "event.call",
        ),
        (
            json!({"name": "Lunch", "start": start, "location": {"name": "Park", "lat": 1.0}}),
            json!({}),
            "event.location",
        ),
        (
            json!({"name": "Lunch", "start": start, "location": {"name": "Park", "lat": 91.0, "lng": 1.0}}),
            json!({}),
            "event.location.lat",
        ),
        (
            ok.clone(),
            json!({"poll": {"name": "Q?", "options": ["a", "b"]}}),
            "event",
        ),
        (ok.clone(), json!({"text": "and text"}), "event"),
    ] {
        let body = with(json!({"to": CONTACT, "event": ev}), extra);
        let (code, e) = d
            .call("POST", "/api/sessions/shop/messages", Some(body.clone()))
            .await;
        refused(code, &e, 422, "invalid_field");
        let named = format!("'{field}'");
        assert!(
            e["error"]["message"].as_str().unwrap().contains(&named),
            "{body}: {e}"
        );
    }
}

/// WhatsApp Business customer notes: a business account's note on a
/// person's chat, written and rewritten here and on the phone (WhatsApp's
/// app state, both ways); none on a group; any other account is 409
/// `not_business`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_notes_are_a_business_accounts_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let (sb, d, r) = setup(tmp.path()).await;
    let id = inbound(&sb, json!({"text": "Can you deliver tonight?"})).await;
    event(&r, "message", |p| p["id"] == id.as_str()).await;
    let path = format!("/api/sessions/shop/chats/{CONTACT}/note");
    let (code, e) = d.call("GET", &path, None).await;
    refused(code, &e, 409, "not_business");

    let (code, _) = sb
        .post(
            &format!("/_sandbox/accounts/{ACCOUNT}/business"),
            json!({"business": true}),
        )
        .await;
    assert_eq!(code, 200);
    eventually(T, "the account a business", || async {
        let (code, e) = d.call("GET", &path, None).await;
        (code == 404 && e["error"]["code"] == "note_not_found").then_some(())
    })
    .await;
    for body in [
        json!({}),
        json!({"content": "  "}),
        json!({"content": "x".repeat(4097)}),
    ] {
        let (code, e) = d.call("PUT", &path, Some(body)).await;
        refused(code, &e, 422, "invalid_field");
    }
    let (code, n) = d
        .call(
            "PUT",
            &path,
            Some(json!({"content": "Prefers delivery after 6pm"})),
        )
        .await;
    assert_eq!(code, 200, "{n}");
    assert_eq!(
        (&n["chat"], &n["content"]),
        (
            &json!(format!("{CONTACT}@c.us")),
            &json!("Prefers delivery after 6pm")
        ),
        "{n}"
    );
    assert!(n["id"].is_string() && n["created"].is_i64(), "{n}");
    let (_, at) = sb.get(&format!("/_sandbox/accounts/{ACCOUNT}/notes")).await;
    assert_eq!(at[0]["content"], "Prefers delivery after 6pm", "{at}");

    // Rewritten on the phone: read here.
    let (code, v) = sb
        .put(
            &format!("/_sandbox/accounts/{ACCOUNT}/notes/{CONTACT}"),
            json!({"content": "VIP: always deliver"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let now = eventually(T, "the phone's note", || async {
        let (code, n) = d.call("GET", &path, None).await;
        (code == 200 && n["content"] == "VIP: always deliver").then_some(n)
    })
    .await;
    assert_eq!(now["id"], n["id"], "the same note, rewritten");
    assert_eq!(now["created"], n["created"], "{now}");
    assert!(now["modified"].as_i64() >= now["created"].as_i64(), "{now}");

    // None on a group, nor on a chat the account does not have.
    let gid = their_group(&sb, &r, OTHER).await;
    let (code, e) = d
        .call("GET", &format!("/api/sessions/shop/chats/{gid}/note"), None)
        .await;
    refused(code, &e, 422, "invalid_field");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("'chat'"),
        "{e}"
    );
    let (code, e) = d
        .call("GET", "/api/sessions/shop/chats/15559990000/note", None)
        .await;
    refused(code, &e, 404, "chat_not_found");
    let (code, e) = d
        .call(
            "PUT",
            "/api/sessions/shop/chats/15559990000/note",
            Some(json!({"content": "who?"})),
        )
        .await;
    refused(code, &e, 404, "chat_not_found");
}
