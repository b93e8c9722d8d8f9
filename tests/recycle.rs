//! Memory ceilings: a session whose browser passes its PSS ceiling is
//! recycled in place (once: a ceiling below what a session needs must not
//! restart it over and over), stays linked with no QR, and every message
//! that arrives around the recycle is stored and delivered once.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const ACCOUNT: &str = "15550009991";

#[tokio::test]
async fn a_browser_over_its_memory_ceiling_is_recycled_once_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(
        &tmp.path().join("data"),
        &format!("{}/", sb.url),
        &[
            "--session-max-pss-mb",
            "1",
            "--webhook-retry-base-ms",
            "100",
            "--webhook-retry-max-ms",
            "1000",
        ],
    )
    .await;
    let r = Receiver::start().await;
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "shop", "webhooks": [{"url": r.url, "events": ["message", "session.status"]}]})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    d.link(&sb, "shop", ACCOUNT).await;
    let first_pid = d.browser_pid("shop");

    // Messages keep coming across the recycle.
    let posting = {
        let sb_url = sb.url.clone();
        tokio::spawn(async move {
            let c = http();
            let mut ids = vec![];
            for i in 0..120 {
                let v: Value = c
                    .post(format!("{sb_url}/_sandbox/messages"))
                    .json(&json!({"from": format!("1555888{:04}", i % 4), "to": ACCOUNT, "text": format!("around {i}")}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(v["id"].as_str().unwrap().to_string());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            ids
        })
    };
    let recycled = eventually(Duration::from_secs(60), "a recycle for memory", || async {
        r.events("session.status")
            .into_iter()
            .find(|e| e["payload"]["reason"] == "recycled_memory")
    })
    .await;
    assert!(
        recycled["payload"]["detail"]
            .as_str()
            .unwrap()
            .contains("ceiling"),
        "{recycled}"
    );
    let s = d
        .wait_status("shop", "CONNECTED", Duration::from_secs(60))
        .await;
    assert_eq!(s["me"]["phone"], ACCOUNT, "linked still: {s}");
    assert_ne!(d.browser_pid("shop"), first_pid, "a new browser");
    let ids = posting.await.unwrap();

    // Every message stored and delivered once.
    let got = eventually(
        Duration::from_secs(60),
        "120 messages delivered",
        || async {
            let got = r.events("message");
            (got.len() >= 120).then_some(got)
        },
    )
    .await;
    let seen: HashSet<&str> = got
        .iter()
        .map(|e| e["payload"]["id"].as_str().unwrap())
        .collect();
    for id in &ids {
        assert!(seen.contains(id.as_str()), "{id} lost");
    }
    let accepted = r.accepted();
    let mut delivery_ids: Vec<&str> = accepted
        .iter()
        .filter(|(_, b)| b["event"] == "message")
        .map(|(h, _)| h.get("webhook-id").map(String::as_str).unwrap_or(""))
        .collect();
    let n = delivery_ids.len();
    delivery_ids.sort();
    delivery_ids.dedup();
    assert_eq!(n, delivery_ids.len(), "a message event delivered twice");

    // Once: the next ticks find it over the ceiling again, and leave it.
    tokio::time::sleep(Duration::from_secs(22)).await;
    let recycles = r
        .events("session.status")
        .into_iter()
        .filter(|e| e["payload"]["reason"] == "recycled_memory")
        .count();
    assert_eq!(recycles, 1);
    let s = d.session("shop").await;
    assert_eq!(s["status"], "CONNECTED");
    assert!(s["memory"]["pss_mb"].as_f64().unwrap() > 1.0, "{s}");
    let metrics = d.text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("wabridge_session_browser_pss_bytes{session=\"shop\"}")),
        "the PSS gauge"
    );
}
