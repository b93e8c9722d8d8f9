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
    let metrics = http()
        .get(format!("{}/metrics", d.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("wabridge_session_incompatible_total{session=\"a\"}")),
        "the metric"
    );

    // A fixed build: the next retry comes back, linked, no QR.
    sb.post("/_sandbox/build", json!({})).await;
    d.wait_status("a", "CONNECTED", Duration::from_secs(90))
        .await;
    // The restored page reports CONNECTED a moment before the driver has
    // read its versions (and cleared the old build's details).
    let a = eventually(
        Duration::from_secs(15),
        "the new build's versions",
        || async {
            let a = d.session("a").await;
            (a["status"] == "CONNECTED" && a.get("details").is_none()).then_some(a)
        },
    )
    .await;
    assert_eq!(a["me"]["phone"], "15550008881", "{a}");
    assert!(a.get("details").is_none(), "{a}");
    assert_eq!(a["versions"]["wa_web"], "2.3000.1000000000-sandbox");
}
