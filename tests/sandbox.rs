//! The sandbox page in real headless Chromium: it must behave like WhatsApp
//! Web where the bridge can tell (design.md §3).

mod common;

use chromiumoxide::cdp::browser_protocol::page::AddScriptToEvaluateOnNewDocumentParams;
use chromiumoxide::page::ScreenshotParams;
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wabridge::config::BrowserKind;
use wabridge::session::bridge::evaluate;
use wabridge::session::browser::{BrowserSpec, RunningBrowser, launch};

const T: Duration = Duration::from_secs(15);

/// Records every WPP event the bridge cares about into `window.__events`.
const RECORDER: &str = r#"
window.__events = [];
// Hooked as the page sets WPP, before any of its events can fire (a
// timer polling for it could come after them on a busy machine).
(function () {
  let wpp;
  Object.defineProperty(window, 'WPP', { configurable: true, get() { return wpp; }, set(w) {
    wpp = w;
    for (const n of ['conn.auth_code_change','conn.authenticated','conn.logout','conn.require_auth','conn.main_ready','conn.online','chat.new_message','chat.msg_ack_change']) {
      w.on(n, (d) => window.__events.push({ name: n, data: d === undefined ? null : JSON.parse(JSON.stringify(d)) }));
    }
  } });
})();
"#;

async fn open(sb: &Sandbox, dir: &Path) -> RunningBrowser {
    let spec = BrowserSpec {
        kind: BrowserKind::Auto,
        executable: None,
        no_sandbox: false,
        // The page as a person sees it: the QR test takes a screenshot.
        frames: true,
        multi_process: false,
        background: false,
    };
    let b = launch(&spec, dir, None, Duration::from_secs(20))
        .await
        .expect("launch chromium");
    b.page
        .execute(AddScriptToEvaluateOnNewDocumentParams::new(RECORDER))
        .await
        .unwrap();
    b.page.goto(format!("{}/", sb.url)).await.unwrap();
    b
}

async fn js<T: serde::de::DeserializeOwned>(b: &RunningBrowser, expr: &str) -> T {
    evaluate(&b.page, T, expr)
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

async fn events(b: &RunningBrowser, name: &str) -> Vec<Value> {
    js::<Vec<Value>>(
        b,
        &format!("window.__events.filter(e => e.name === '{name}').map(e => e.data)"),
    )
    .await
}

async fn wait_event(b: &RunningBrowser, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = std::time::Instant::now();
    loop {
        if let Some(d) = events(b, name).await.into_iter().find(|d| pred(d)) {
            return d;
        }
        if start.elapsed() > T {
            // Say what the page did see.
            let seen: Value = js(
                b,
                "window.__events.map(e => e.name + ' ' + JSON.stringify(e.data).slice(0, 80))",
            )
            .await;
            let state: Value = js(b, "JSON.stringify({state: window.__sandboxDevice && window.__sandboxDevice.state().creds, ready: WPP.isReady, url: location.href})").await;
            panic!("timed out waiting for page event {name}; page saw {seen}; {state}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's `chat.new_message` for the message `id`.
async fn new_message(b: &RunningBrowser, id: &str) -> Value {
    wait_event(b, "chat.new_message", |m| m["id"]["_serialized"] == id).await
}

async fn shown_qr(b: &RunningBrowser) -> String {
    eventually(T, "a QR on the page", || async {
        js::<Option<String>>(b, "WPP.conn.getAuthCode().then(c => c ? c.fullCode : null)").await
    })
    .await
}

fn decode_qr(png: &[u8]) -> Vec<String> {
    let img = image::load_from_memory(png).unwrap().to_luma8();
    let mut prep = rqrr::PreparedImage::prepare(img);
    prep.detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, s)| s))
        .collect()
}

async fn link(sb: &Sandbox, b: &RunningBrowser, phone: &str) {
    let qr = shown_qr(b).await;
    assert_eq!(sb.link(&qr, phone, "Demo Shop").await, 200);
    wait_event(b, "conn.authenticated", |_| true).await;
    wait_event(b, "conn.online", |d| d == &json!(true)).await;
}

/// A sandbox, and a browser on its page linked as `phone`, with the
/// profile at `tmp/dev` for tests that open it again.
async fn linked(phone: &str) -> (tempfile::TempDir, Sandbox, PathBuf, RunningBrowser) {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let dir = tmp.path().join("dev");
    let b = open(&sb, &dir).await;
    link(&sb, &b, phone).await;
    (tmp, sb, dir, b)
}

#[tokio::test]
async fn qr_on_screen_is_the_reported_string_and_rotates() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &["--qr-interval", "2"]).await;
    let b = open(&sb, &tmp.path().join("dev")).await;

    let first = shown_qr(&b).await;
    // WhatsApp's shape: ref,staticKey,identityKey,advSecret
    let parts: Vec<&str> = first.split(',').collect();
    assert_eq!(parts.len(), 4, "{first}");
    assert!(parts[0].starts_with("2@"));
    use base64::Engine as _;
    for p in &parts[1..] {
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(p)
                .unwrap()
                .len(),
            32
        );
    }

    // The image a person would scan decodes to the same string.
    let seen = eventually(T, "the QR image to show the current code", || async {
        let code = js::<Option<String>>(
            &b,
            "WPP.conn.getAuthCode().then(c => c ? c.fullCode : null)",
        )
        .await?;
        let png = b
            .page
            .screenshot(ScreenshotParams::builder().build())
            .await
            .ok()?;
        decode_qr(&png).into_iter().find(|s| *s == code)
    })
    .await;
    assert!(seen.starts_with("2@"));

    // It rotates: new ref, same keys, announced as conn.auth_code_change.
    let second = eventually(Duration::from_secs(10), "the QR to rotate", || async {
        let now = shown_qr(&b).await;
        (now != first).then_some(now)
    })
    .await;
    assert_ne!(second.split(',').next(), first.split(',').next());
    assert_eq!(
        second.split(',').skip(1).collect::<Vec<_>>(),
        parts[1..].to_vec()
    );
    let codes = events(&b, "conn.auth_code_change").await;
    assert!(codes.iter().any(|c| c["fullCode"] == second.as_str()));
    assert!(
        codes
            .iter()
            .all(|c| c.is_null() || c["type"] == "multidevice")
    );

    // A rotated-away QR can no longer be scanned; an unknown one was never shown.
    assert_eq!(sb.link(&first, "15550001111", "x").await, 410);
    assert_eq!(sb.link("2@nope,a,b,c", "15550001111", "x").await, 404);
    b.shutdown().await;
}

#[tokio::test]
async fn link_survives_reopening_the_profile_and_a_fresh_profile_needs_a_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let dir = tmp.path().join("dev");
    let b = open(&sb, &dir).await;
    assert!(!js::<bool>(&b, "WPP.conn.isAuthenticated()").await);
    link(&sb, &b, "15550001111").await;
    assert!(js::<bool>(&b, "WPP.conn.isAuthenticated()").await);
    assert_eq!(
        js::<String>(&b, "WPP.conn.getMyUserId()._serialized").await,
        "15550001111@c.us"
    );
    assert_eq!(js::<String>(&b, "WPP.conn.getPlatform()").await, "android");
    assert_eq!(
        js::<String>(&b, "WPP.profile.getMyProfileName()").await,
        "Demo Shop"
    );
    b.shutdown().await;

    // Same profile: linked at once, no QR.
    let b = open(&sb, &dir).await;
    wait_event(&b, "conn.online", |d| d == &json!(true)).await;
    assert!(js::<bool>(&b, "WPP.conn.isAuthenticated()").await);
    assert!(js::<Value>(&b, "WPP.conn.getAuthCode()").await.is_null());
    assert!(events(&b, "conn.auth_code_change").await.is_empty());
    b.shutdown().await;

    // A fresh profile shows a QR.
    let b = open(&sb, &tmp.path().join("other")).await;
    shown_qr(&b).await;
    assert!(!js::<bool>(&b, "WPP.conn.isAuthenticated()").await);
    b.shutdown().await;
}

#[tokio::test]
async fn inbound_messages_reach_the_page_and_are_queued_while_it_is_offline() {
    let (_tmp, sb, dir, b) = linked("15550001111").await;

    let (code, body) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": "15551234567", "to": "15550001111", "text": "hi", "name": "Alice"}),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let m = new_message(&b, &id).await;
    assert_eq!(m["body"], "hi");
    assert_eq!(m["type"], "chat");
    assert_eq!(m["from"]["_serialized"], "15551234567@c.us");
    assert_eq!(m["to"]["_serialized"], "15550001111@c.us");
    assert_eq!(m["id"]["fromMe"], false);
    assert_eq!(m["notifyName"], "Alice");

    // Media arrives with its mimetype and is downloadable.
    let (code, body) = sb
        .post("/_sandbox/messages", json!({"from": "15551234567", "to": "15550001111",
            "media": {"mimetype": "image/png", "filename": "a.png", "data": "iVBORw0KGgo="}, "caption": "look"}))
        .await;
    assert_eq!(code, 201);
    let mid = body["id"].as_str().unwrap().to_string();
    let m = new_message(&b, &mid).await;
    assert_eq!(
        (
            m["type"].as_str(),
            m["caption"].as_str(),
            m["mimetype"].as_str()
        ),
        (Some("image"), Some("look"), Some("image/png"))
    );
    let size: u64 = js(
        &b,
        &format!("WPP.chat.downloadMedia('{mid}').then(b => b.size)"),
    )
    .await;
    assert_eq!(size, 8);
    b.shutdown().await;

    // Offline: the server queues; the device gets them when it connects.
    let mut queued = vec![];
    for i in 0..3 {
        let (code, body) = sb
            .post("/_sandbox/messages", json!({"from": "15557654321", "to": "15550001111", "text": format!("while away {i}")}))
            .await;
        assert_eq!(code, 201);
        queued.push(body["id"].as_str().unwrap().to_string());
    }
    let b = open(&sb, &dir).await;
    for id in &queued {
        new_message(&b, id).await;
    }
    // Delivered ones are not delivered again on the next connect, but stay
    // in history. (The page confirms each once it has stored it.)
    eventually(Duration::from_secs(30), "the page's receipts", || async {
        let (_, all) = sb
            .get("/_sandbox/messages?account=15550001111&direction=all")
            .await;
        let confirmed = all
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| queued.iter().any(|q| m["id"] == q.as_str()) && m["delivered"] == true)
            .count();
        (confirmed == queued.len()).then_some(())
    })
    .await;
    b.shutdown().await;
    let b = open(&sb, &dir).await;
    wait_event(&b, "conn.online", |d| d == &json!(true)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(events(&b, "chat.new_message").await.is_empty());
    let hist: Vec<Value> = js(&b, "WPP.chat.getMessages('15557654321@c.us', {count: 10})").await;
    assert_eq!(hist.len(), 3);
    b.shutdown().await;
}

/// The keys the page holds in IndexedDB under `prefix`, without it.
async fn stored_keys(b: &RunningBrowser, prefix: &str) -> Vec<String> {
    js(
        b,
        &format!(
            "new Promise((ok, fail) => {{ const o = indexedDB.open('wabridge-sandbox'); o.onerror = () => fail(o.error); \
             o.onsuccess = () => {{ const r = o.result.transaction('kv').objectStore('kv').getAllKeys(IDBKeyRange.bound('{prefix}', '{prefix}\\uffff')); \
             r.onsuccess = () => {{ o.result.close(); ok(r.result.map(k => k.slice({n}))); }}; r.onerror = () => fail(r.error); }}; }})",
            n = prefix.len()
        ),
    )
    .await
}

/// As WhatsApp Web does, the page writes a message it receives to
/// IndexedDB and only then sends the receipt; until then the server keeps
/// it queued, so a browser that dies before the write gets it again.
#[tokio::test]
async fn a_message_is_acknowledged_only_once_the_page_has_stored_it() {
    let (_tmp, sb, dir, b) = linked("15550001122").await;
    let send = |tag: &'static str| {
        let sb = &sb;
        async move {
            contact_messages(sb, "15550001122", 1, 1, tag)
                .await
                .remove(0)
                .0
        }
    };
    let first = send("stored").await;
    new_message(&b, &first).await;
    eventually(T, "the first message in IndexedDB", || async {
        stored_keys(&b, "sandbox.msg/")
            .await
            .contains(&first)
            .then_some(())
    })
    .await;

    // Hold the store with a transaction that never ends: the page's next
    // write waits behind it, as behind a slow disk.
    let _: bool = js(
        &b,
        "new Promise((ok) => { const o = indexedDB.open('wabridge-sandbox'); o.onsuccess = () => { \
         const s = o.result.transaction('kv', 'readwrite').objectStore('kv'); \
         const spin = () => { s.get('none').onsuccess = spin; }; spin(); ok(true); }; })",
    )
    .await;
    let second = send("not yet stored").await;
    new_message(&b, &second).await;
    // Time for a receipt, had one been sent before the write.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    b.shutdown().await;

    // The next page life: the unstored one comes again as new, the stored
    // one only in the history.
    let b = open(&sb, &dir).await;
    let again = new_message(&b, &second).await;
    assert_eq!(again["body"], "not yet stored 0");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let news: Vec<String> = events(&b, "chat.new_message")
        .await
        .iter()
        .filter_map(|m| m["id"]["_serialized"].as_str().map(String::from))
        .collect();
    assert_eq!(
        news,
        vec![second.clone()],
        "only the unacknowledged message is new"
    );
    eventually(T, "both messages in IndexedDB", || async {
        let keys = stored_keys(&b, "sandbox.msg/").await;
        (keys.contains(&first) && keys.contains(&second)).then_some(())
    })
    .await;

    // Logging out wipes them.
    let _: bool = js(&b, "WPP.conn.logout()").await;
    assert!(stored_keys(&b, "sandbox.msg/").await.is_empty());
    b.shutdown().await;
}

#[tokio::test]
async fn outbound_messages_reach_the_server_and_acks_come_back() {
    let (_tmp, sb, _, b) = linked("15550001111").await;

    let sent: Value = js(
        &b,
        "WPP.chat.sendTextMessage('15551234567@c.us', 'hello there', {createChat: true})",
    )
    .await;
    let id = sent["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("true_15551234567@c.us_"), "{id}");
    assert_eq!(sent["ack"], 1);
    let own = new_message(&b, &id).await;
    assert_eq!(own["id"]["fromMe"], true);

    let (code, list) = sb.get("/_sandbox/messages?account=15550001111").await;
    assert_eq!(code, 200);
    let m = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("in the sandbox")
        .clone();
    assert_eq!(
        (m["to"].as_str(), m["text"].as_str()),
        (Some("15551234567"), Some("hello there"))
    );

    // delivered after --ack-delay-ms, read when the contact reads it
    wait_event(&b, "chat.msg_ack_change", |e| {
        e["ack"] == 2 && e["ids"][0]["_serialized"] == id.as_str()
    })
    .await;
    assert_eq!(
        sb.post(&format!("/_sandbox/messages/{id}/read"), json!({}))
            .await
            .0,
        200
    );
    wait_event(&b, "chat.msg_ack_change", |e| {
        e["ack"] == 3 && e["ids"][0]["_serialized"] == id.as_str()
    })
    .await;
    let acks: Vec<i64> = events(&b, "chat.msg_ack_change")
        .await
        .iter()
        .map(|e| e["ack"].as_i64().unwrap())
        .collect();
    assert_eq!(acks, vec![1, 2, 3], "sent, delivered, read");
    assert_eq!(
        sb.get("/_sandbox/messages?account=15550001111").await.1[0]["ack"],
        "read"
    );

    // A file with a caption, replying to the first message.
    let sent: Value = js(&b, &format!(
        "WPP.chat.sendFileMessage('15551234567@c.us', 'data:image/png;base64,iVBORw0KGgo=', {{type: 'image', caption: 'pic', filename: 'p.png', quotedMsg: '{id}'}})"
    )).await;
    let (_, list) = sb.get("/_sandbox/messages?account=15550001111").await;
    let m = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == sent["id"])
        .unwrap()
        .clone();
    assert_eq!(m["caption"], "pic");
    assert_eq!(m["media"]["mimetype"], "image/png");
    assert_eq!(m["media"]["data"], "iVBORw0KGgo=");
    assert_eq!(m["reply_to"], id.as_str());

    // Numbers that are not on WhatsApp.
    assert_eq!(
        sb.post("/_sandbox/unregistered", json!({"phone": "15550009999"}))
            .await
            .0,
        200
    );
    assert!(
        js::<Value>(&b, "WPP.contact.queryWidExists('15550009999@c.us')")
            .await
            .is_null()
    );
    let ok: Value = js(&b, "WPP.contact.queryWidExists('15551234567@c.us')").await;
    assert_eq!(ok["wid"]["_serialized"], "15551234567@c.us");
    let err = evaluate::<Value>(
        &b.page,
        T,
        "WPP.chat.sendTextMessage('15550009999@c.us', 'x')",
    )
    .await;
    assert!(err.unwrap_err().to_string().contains("not on WhatsApp"));
    b.shutdown().await;
}

#[tokio::test]
async fn unlink_logs_the_page_out_and_drop_makes_it_reconnect() {
    let (_tmp, sb, _, b) = linked("15550001111").await;

    assert_eq!(sb.post("/_sandbox/drop", json!({})).await.0, 200);
    wait_event(&b, "conn.online", |d| d == &json!(false)).await;
    eventually(T, "the page to come back online", || async {
        let n = events(&b, "conn.online")
            .await
            .iter()
            .filter(|d| **d == json!(true))
            .count();
        (n >= 2).then_some(())
    })
    .await;
    assert!(js::<bool>(&b, "WPP.conn.isAuthenticated()").await);

    assert_eq!(
        sb.post("/_sandbox/accounts/15550001111/unlink", json!({}))
            .await
            .0,
        200
    );
    wait_event(&b, "conn.logout", |_| true).await;
    assert!(!js::<bool>(&b, "WPP.conn.isAuthenticated()").await);
    shown_qr(&b).await;
    b.shutdown().await;
}

#[tokio::test]
async fn control_api_rejects_bad_input_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    // A body that is not JSON at all.
    let status = |path: &'static str, body: &'static str| {
        let url = format!("{}{path}", sb.url);
        async move {
            http()
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/_sandbox/link", "{not json").await, 400);
    let (code, body) = sb
        .post("/_sandbox/link", json!({"phone": "15550001111"}))
        .await;
    assert_eq!(code, 422);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("'qr'"),
        "{body}"
    );
    // A failure switch takes a boolean, not a word that reads like one.
    let (code, body) = sb
        .post("/_sandbox/lose-sends", json!({"on": "false"}))
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("'on'"),
        "{body}"
    );
    assert_eq!(status("/_sandbox/lose-replies", "on").await, 400);
    let (code, body) = sb
        .post("/_sandbox/link", json!({"qr": "x", "phone": "abc"}))
        .await;
    assert_eq!(code, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'phone'")
    );
    let (code, body) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": "15551234567", "to": "15550001111"}),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    let (code, _) = sb.post("/_sandbox/messages", json!({"from": "15551234567", "to": "15550001111", "text": "x", "media": {"data": "!!"}})).await;
    assert_eq!(code, 422);
    let (code, body) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": "15551234567", "to": "15550002222", "text": "x"}),
        )
        .await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(sb.get("/_sandbox/messages").await.0, 422);
    assert_eq!(
        sb.post("/_sandbox/messages/nope/read", json!({})).await.0,
        404
    );
    assert_eq!(
        sb.post("/_sandbox/accounts/15550002222/unlink", json!({}))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn state_file_keeps_links_across_sandbox_restarts() {
    let (tmp, mut sb, dir, b) = linked("15550001111").await;
    b.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await; // state is saved every 200 ms
    sb.proc.kill9();
    let sb2 = Sandbox::start_on(tmp.path(), sb.port, &[]).await;
    let b = open(&sb2, &dir).await;
    // On failure, say what the page saw: this once failed only under CI load.
    let start = std::time::Instant::now();
    while !events(&b, "conn.online")
        .await
        .iter()
        .any(|d| d == &json!(true))
    {
        if start.elapsed() > T {
            let all: Value = js(&b, "window.__events").await;
            panic!(
                "page never came back online; its events: {all}\nsandbox log:\n{}",
                sb2.proc.log_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(js::<bool>(&b, "WPP.conn.isAuthenticated()").await);
    b.shutdown().await;
}
