//! WhatsApp Web changes under wa-js: the sandbox serves a "new build" on
//! which wa-js lacks a member bridge.js needs. The session says so
//! (INCOMPATIBLE, with both versions and what is missing) instead of
//! hanging or looping on QR; other sessions carry on; when the build is
//! fixed, the session's retries bring it back CONNECTED with no new scan.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_build_wa_js_cannot_run_on_is_incompatible_and_recovers_without_a_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &format!("{}/", sb.url), &[]).await;
    d.create_linked(&sb, "a", "15550008881").await;
    d.create_linked(&sb, "b", "15550008882").await;
    let b = d.session("b").await;
    assert_eq!(b["versions"]["wa_js"], "3.0.0-sandbox", "{b}");
    assert_eq!(b["versions"]["wa_web"], "2.3000.1000000000-sandbox", "{b}");

    let (code, _) = sb
        .post(
            "/_sandbox/build",
            json!({"version": "2.3000.1099999999", "missing": ["chat.sendTextMessage"]}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, v) = d.call("POST", "/api/sessions/a/restart", None).await;
    assert_eq!(code, 200, "{v}");
    let a = d
        .wait_status("a", "INCOMPATIBLE", Duration::from_secs(60))
        .await;
    assert_eq!(
        a["details"]["missing"],
        json!(["chat.sendTextMessage"]),
        "{a}"
    );
    assert_eq!(a["details"]["wa_web"], "2.3000.1099999999", "{a}");
    assert_eq!(a["details"]["wa_js"], "3.0.0-sandbox", "{a}");
    assert!(a["error"].as_str().unwrap().contains("wa-js"), "{a}");

    // The daemon and the other session are unaffected.
    let b = d.session("b").await;
    assert_eq!(b["status"], "CONNECTED", "{b}");
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions/b/messages",
            Some(json!({"to": "15557770301", "text": "still here"})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let metrics = d.text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("wabridge_session_incompatible_total{session=\"a\"}")),
        "the metric"
    );

    // A fixed build: the next retry comes back, linked, no QR.
    sb.post("/_sandbox/build", json!({})).await;
    let a = d
        .wait_status("a", "CONNECTED", Duration::from_secs(90))
        .await;
    assert_eq!(a["me"]["phone"], "15550008881", "{a}");
    assert!(a.get("details").is_none(), "{a}");
    assert_eq!(a["versions"]["wa_web"], "2.3000.1000000000-sandbox");
}

/// WhatsApp Web updates itself: told its build is out of date, an open page
/// reloads into the new one, keeping its storage. The session stays linked
/// (no QR), its record shows the new build as soon as it is CONNECTED again,
/// and messages flow; an update to a build wa-js lacks members on makes it
/// INCOMPATIBLE like a fresh start would.
#[tokio::test]
async fn whatsapp_web_updating_itself_shows_the_new_build_and_keeps_the_link() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    // The bound for a page to come up, after a start or a reload.
    let d = Daemon::start(
        &tmp.path().join("data"),
        &format!("{}/", sb.url),
        &["--load-timeout", "20"],
    )
    .await;
    d.create_linked(&sb, "a", "15550008891").await;
    let mut sse = http()
        .get(format!("{}/api/events?session=a&key={KEY}", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);

    let (code, v) = sb
        .post(
            "/_sandbox/build",
            json!({"version": "2.3000.1011111111", "reload": true}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["reloaded"], 1, "{v}");
    // The versions move with the reload (the driver reads them at each
    // page's `ready`), and the session comes back linked without a scan.
    let a = eventually(Duration::from_secs(60), "the new build", || async {
        let a = d.session("a").await;
        (a["versions"]["wa_web"] == "2.3000.1011111111").then_some(a)
    })
    .await;
    let a = if a["status"] == "CONNECTED" {
        a
    } else {
        d.wait_status("a", "CONNECTED", Duration::from_secs(30))
            .await
    };
    assert_eq!(a["versions"]["wa_web"], "2.3000.1011111111", "{a}");
    assert!(a.get("details").is_none(), "{a}");
    assert_eq!(a["me"]["phone"], "15550008891", "{a}");

    // Messages flow on the new build, and no QR was ever asked for.
    let (code, m) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": "15557770401", "to": "15550008891", "text": "after the update"}),
        )
        .await;
    assert_eq!(code, 201, "{m}");
    d.wait_message("a", m["id"].as_str().unwrap()).await;
    let events = read_sse(&mut sse, |evs| {
        evs.iter().any(|e| e.2["payload"]["id"] == m["id"])
    })
    .await;
    assert!(
        events.iter().any(|e| e.2["payload"]["id"] == m["id"]),
        "the message on the stream: {events:?}"
    );
    assert!(
        !events.iter().any(|e| e.1 == "session.qr"),
        "a QR after the update: {events:?}"
    );
    drop(sse);

    // An update to a build wa-js cannot run on.
    sb.post(
        "/_sandbox/build",
        json!({"version": "2.3000.1022222222", "missing": ["chat.sendTextMessage"], "reload": true}),
    )
    .await;
    let a = d
        .wait_status("a", "INCOMPATIBLE", Duration::from_secs(60))
        .await;
    assert_eq!(a["details"]["wa_web"], "2.3000.1022222222", "{a}");
    assert_eq!(
        a["details"]["missing"],
        json!(["chat.sendTextMessage"]),
        "{a}"
    );

    // Back on a good build; then an update on which wa-js never comes up
    // at all: INCOMPATIBLE once the load bound has passed, not CONNECTED
    // with the last build's versions.
    sb.post("/_sandbox/build", json!({})).await;
    assert_eq!(d.call("POST", "/api/sessions/a/start", None).await.0, 200);
    d.wait_status("a", "CONNECTED", Duration::from_secs(60))
        .await;
    sb.post(
        "/_sandbox/build",
        json!({"version": "2.3000.1033333333", "missing": ["loader.onReady"], "reload": true}),
    )
    .await;
    let a = d
        .wait_status("a", "INCOMPATIBLE", Duration::from_secs(60))
        .await;
    assert_eq!(a["details"]["wa_web"], "2.3000.1033333333", "{a}");
    assert_eq!(a["versions"]["wa_web"], "2.3000.1033333333", "{a}");
}

/// A build that lacks what only one feature needs (message search, which
/// WhatsApp Web builds before 2.3000.1034162388 lack) is no INCOMPATIBLE
/// session: that feature says so, the rest works.
#[tokio::test(flavor = "multi_thread")]
async fn a_build_without_message_search_stays_connected_and_says_so_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &format!("{}/", sb.url), &[]).await;
    d.create_linked(&sb, "a", "15550008891").await;
    let (code, _) = sb
        .post(
            "/_sandbox/build",
            json!({"version": "2.3000.1020000000", "missing": ["whatsapp.functions.msgFindSearch", "whatsapp.enums.PinExpiryDurationOption"]}),
        )
        .await;
    assert_eq!(code, 200);
    let (code, v) = d.call("POST", "/api/sessions/a/restart", None).await;
    assert_eq!(code, 200, "{v}");
    // Back on the older build, and linked (not INCOMPATIBLE).
    eventually(
        Duration::from_secs(60),
        "the older build, connected",
        || async {
            let a = d.session("a").await;
            assert_ne!(a["status"], "INCOMPATIBLE", "{a}");
            (a["versions"]["wa_web"] == "2.3000.1020000000" && a["status"] == "CONNECTED")
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        d.session("a").await["versions"]["lacking"],
        json!([
            "whatsapp.enums.PinExpiryDurationOption",
            "whatsapp.functions.msgFindSearch"
        ])
    );
    let (code, e) = d
        .call("GET", "/api/sessions/a/messages/search?q=hello", None)
        .await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (409, Some("unsupported_by_whatsapp_web")),
        "{e}"
    );
    let (code, v) = d
        .call("GET", "/api/sessions/a/messages/starred", None)
        .await;
    assert_eq!(code, 200, "the rest works: {v}");
    // Pins too (a build before 2.3000.1029839609 has none).
    let (code, e) = d
        .call("GET", "/api/sessions/a/chats/15557770401/pinned", None)
        .await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (409, Some("unsupported_by_whatsapp_web")),
        "{e}"
    );
    let sent = d
        .call(
            "POST",
            "/api/sessions/a/messages",
            Some(json!({"to": "15557770401", "text": "pin me"})),
        )
        .await;
    assert_eq!(sent.0, 201, "{}", sent.1);
    let mid = sent.1["id"].as_str().unwrap().to_string();
    let (code, e) = d
        .call(
            "POST",
            &format!("/api/sessions/a/messages/{mid}/pin"),
            Some(json!({"pinned": true})),
        )
        .await;
    assert_eq!(
        (code, e["error"]["code"].as_str()),
        (409, Some("unsupported_by_whatsapp_web")),
        "{e}"
    );
    sb.post("/_sandbox/build", json!({})).await;
}
