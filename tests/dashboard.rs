//! The dashboard in real headless Chromium against the real daemon and the
//! sandbox: log in (a wrong key refused), create a session, watch its QR
//! rotate, link it and see CONNECTED without a reload, send a message that
//! reaches the sandbox, retry a dead webhook delivery; on a desktop window
//! and a phone-sized one. Screenshots go to target/test-artifacts/dashboard/.

mod common;

use chromiumoxide::Page;
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::page::ScreenshotParams;
use common::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wabridge::config::BrowserKind;
use wabridge::session::bridge::evaluate;
use wabridge::session::browser::{BrowserSpec, launch};

const T: Duration = Duration::from_secs(30);
const ACCOUNT: &str = "15550002222";
const CONTACT: &str = "15557770042";

async fn js(page: &Page, expr: &str) -> Value {
    evaluate::<Value>(page, Duration::from_secs(10), expr)
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// Waits until `expr` (a JavaScript expression) is truthy; returns its value.
async fn until(page: &Page, what: &str, expr: &str) -> Value {
    let start = Instant::now();
    loop {
        let v = js(page, expr).await;
        if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
            return v;
        }
        if start.elapsed() > T {
            let body = js(page, "document.body.innerText.slice(0, 1500)").await;
            panic!("timed out waiting for {what} ({expr}); the page shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A real mouse click (CDP input events), as a person would.
async fn click(page: &Page, selector: &str) {
    page.find_element(selector)
        .await
        .unwrap_or_else(|e| panic!("no {selector}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

/// Clears a field and types into it with key events.
async fn type_into(page: &Page, selector: &str, text: &str) {
    js(
        page,
        &format!("document.querySelector('{selector}').value = ''"),
    )
    .await;
    page.find_element(selector)
        .await
        .unwrap_or_else(|e| panic!("no {selector}: {e}"))
        .click()
        .await
        .unwrap()
        .type_str(text)
        .await
        .unwrap();
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(page: &Page, name: &str) {
    let path = artifacts().join(format!("{name}.png"));
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), &path)
        .await
        .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
}

async fn viewport(page: &Page, width: i64, height: i64, mobile: bool) {
    page.execute(SetDeviceMetricsOverrideParams::new(
        width, height, 1.0, mobile,
    ))
    .await
    .unwrap();
}

fn status_of(session: &str) -> String {
    format!("(document.querySelector('[data-session=\"{session}\"] .status') || {{}}).textContent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_links_a_session_sends_and_retries_a_dead_delivery() {
    let tmp = tempfile::tempdir().unwrap();
    // A QR that rotates every second, so the test sees it change.
    let sb = Sandbox::start(tmp.path(), &["--qr-interval", "1"]).await;
    let d = Daemon::start(
        &tmp.path().join("data"),
        &format!("{}/", sb.url),
        &[
            "--webhook-retry-base-ms",
            "100",
            "--webhook-retry-max-ms",
            "500",
        ],
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(500);

    let spec = BrowserSpec {
        kind: BrowserKind::Auto,
        executable: None,
        no_sandbox: false,
        // A person's view of the dashboard: clicks need drawn frames.
        frames: true,
        multi_process: false,
        background: false,
    };
    let b = launch(&spec, &tmp.path().join("browser"), None, T)
        .await
        .expect("launch chromium");
    let page = &b.page;
    viewport(page, 1280, 900, false).await;
    page.goto(format!("{}/", d.url)).await.unwrap();
    until(
        page,
        "the login form",
        "!!document.querySelector('#login-form')",
    )
    .await;

    // A wrong key is refused, and the app stays hidden.
    type_into(page, "#key", "not-the-key").await;
    click(page, "#login").await;
    let err = until(
        page,
        "the login error",
        "document.querySelector('#login-error').textContent",
    )
    .await;
    assert!(err.as_str().unwrap().contains("not valid"), "{err}");
    assert_eq!(
        js(page, "document.querySelector('#app-view').hidden").await,
        json!(true)
    );
    shot(page, "01-wrong-key").await;

    type_into(page, "#key", KEY).await;
    click(page, "#login").await;
    until(
        page,
        "the app",
        "!document.querySelector('#app-view').hidden",
    )
    .await;
    // Marks this document: if the page reloads, the mark is gone.
    js(
        page,
        "window.__noReload = true; window.WABRIDGE_NO_CONFIRM = true",
    )
    .await;

    // Create a session: its QR appears, then rotates.
    type_into(page, "#new-session-id", "dash").await;
    click(page, "#create-session").await;
    until(
        page,
        "SCAN_QR",
        &format!("{} === 'SCAN_QR'", status_of("dash")),
    )
    .await;
    let v1 = until(page, "a QR", "Number(document.querySelector('#qr').dataset.version) >= 1 && !document.querySelector('#qr').hidden && document.querySelector('#qr').dataset.version").await;
    let qr1 = js(page, "document.querySelector('#qr').dataset.qr").await;
    // The image is the QR: a data URL PNG, drawn.
    assert_eq!(
        js(page, "document.querySelector('#qr').src.startsWith('data:image/png') && document.querySelector('#qr').naturalWidth > 100").await,
        json!(true)
    );
    shot(page, "02-qr").await;
    until(
        page,
        "the QR to rotate",
        &format!("Number(document.querySelector('#qr').dataset.version) > {v1} && document.querySelector('#qr').dataset.qr !== {qr1}"),
    )
    .await;

    // Scan the QR the page shows now (what the API says it is).
    d.scan(&sb, "dash", ACCOUNT, "Dash Shop").await;
    until(
        page,
        "CONNECTED without a reload",
        &format!(
            "{} === 'CONNECTED' && window.__noReload === true",
            status_of("dash")
        ),
    )
    .await;
    until(
        page,
        "the QR hidden",
        "document.querySelector('#qr').hidden",
    )
    .await;
    shot(page, "03-connected").await;

    // Send a test message: it reaches the contact in the sandbox.
    type_into(page, "#send-to", CONTACT).await;
    type_into(page, "#send-text", "hello from the dashboard").await;
    click(page, "#send").await;
    let sent = until(page, "the send result", "document.querySelector('#send-result.ok') && document.querySelector('#send-result').dataset.messageId").await;
    let got = eventually(T, "the message at the sandbox", || async {
        let (_, list) = sb
            .get(&format!("/_sandbox/messages?account={ACCOUNT}"))
            .await;
        list.as_array()?
            .iter()
            .find(|m| m["text"] == "hello from the dashboard")
            .cloned()
    })
    .await;
    assert_eq!(
        got["id"], sent,
        "the id the dashboard shows is the one WhatsApp got"
    );
    assert_eq!(
        got["to"].as_str().unwrap().trim_end_matches("@c.us"),
        CONTACT
    );
    // The chat appears in the list; opening it shows the message.
    let chat = format!("#chats [data-chat=\"{CONTACT}@c.us\"]");
    until(
        page,
        "the chat",
        &format!("!!document.querySelector('{chat}')"),
    )
    .await;
    click(page, &chat).await;
    until(page, "the sent message in the chat", "[...document.querySelectorAll('#messages .message')].some(m => m.textContent.includes('hello from the dashboard'))").await;

    // A webhook whose receiver fails: one attempt, then dead.
    let (code, body) = d
        .call(
            "PUT",
            "/api/sessions/dash/webhooks",
            Some(json!([{"url": receiver.url, "events": ["message"], "retries": {"attempts": 1}}])),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": CONTACT, "to": ACCOUNT, "text": "are you there?", "name": "Carol"}),
        )
        .await;
    assert_eq!(code, 201);
    until(page, "the inbound message, live", "[...document.querySelectorAll('#messages .message')].some(m => m.textContent.includes('are you there?'))").await;
    let dead = until(page, "a dead delivery", "(() => { const r = [...document.querySelectorAll('#deliveries [data-delivery]')].find(r => r.querySelector('.state').textContent === 'dead'); return r && r.dataset.delivery })()").await;
    shot(page, "04-dead-delivery").await;

    // The receiver recovers; Retry delivers it.
    receiver.answer(200);
    click(
        page,
        &format!(
            "[data-delivery=\"{}\"] button[data-action=\"retry\"]",
            dead.as_str().unwrap()
        ),
    )
    .await;
    until(page, "the delivery delivered", &format!("(document.querySelector('[data-delivery=\"{}\"] .state') || {{}}).textContent === 'delivered'", dead.as_str().unwrap())).await;
    assert!(
        receiver
            .events("message")
            .iter()
            .any(|e| e["payload"]["text"] == "are you there?"),
        "the retried delivery reached the receiver"
    );
    shot(page, "05-retried").await;

    // On a phone-sized screen: everything fits the width.
    viewport(page, 360, 780, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        js(
            page,
            "document.documentElement.scrollWidth <= window.innerWidth"
        )
        .await,
        json!(true),
        "horizontal scroll at 360px"
    );
    assert_eq!(js(page, &status_of("dash")).await, json!("CONNECTED"));
    shot(page, "06-phone").await;

    // The API reference renders every dialect's routes from /openapi.json.
    page.goto(format!("{}/docs", d.url)).await.unwrap();
    for route in [
        "/api/sessions/{id}/groups",
        "/session/create",
        "/{version}/{phone_number_id}/messages",
        "/2010-04-01/Accounts/{account}/Messages.json",
    ] {
        until(
            page,
            route,
            &format!("document.body.innerText.includes({})", json!(route)),
        )
        .await;
    }
    shot(page, "07-docs").await;
    page.goto(format!("{}/", d.url)).await.unwrap();
    until(
        page,
        "the app again (the key is kept)",
        "!document.querySelector('#app-view').hidden",
    )
    .await;
    js(page, "window.WABRIDGE_NO_CONFIRM = true").await;
    until(
        page,
        "the session row",
        &format!("{} === 'CONNECTED'", status_of("dash")),
    )
    .await;

    // Stop from the dashboard: the API agrees.
    click(page, "[data-session=\"dash\"] button[data-action=\"stop\"]").await;
    until(
        page,
        "STOPPED",
        &format!("{} === 'STOPPED'", status_of("dash")),
    )
    .await;
    assert_eq!(d.session("dash").await["status"], "STOPPED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_need_no_key_but_the_api_behind_them_does() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &format!("{}/", sb.url), &[]).await;
    let c = http();
    for (path, ctype) in [
        ("/", "text/html"),
        ("/docs", "text/html"),
        ("/dashboard/assets/app.js", "text/javascript"),
        ("/dashboard/assets/app.css", "text/css"),
        ("/dashboard/assets/docs.js", "text/javascript"),
        ("/dashboard/assets/dom.js", "text/javascript"),
        ("/openapi.json", "application/json"),
    ] {
        let r = c.get(format!("{}{path}", d.url)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let got = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(got.starts_with(ctype), "{path}: {got}");
    }
    let r = c
        .get(format!("{}/dashboard/assets/nope.js", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .get(format!("{}/api/sessions", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The EASY API's two-segment paths are not shadowed by the pages.
    let r = c
        .post(format!("{}/dashboard/getConnectionState", d.url))
        .bearer_auth(KEY)
        .json(&json!({"args": {}}))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 405);
}
