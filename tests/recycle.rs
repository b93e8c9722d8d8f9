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
    // ...and sends go out across it: each one answered as sent goes once,
    // and none answered as failed goes at all (a recycle refuses new calls
    // while those in flight end, never cutting one).
    let sending = {
        let url = d.url.clone();
        tokio::spawn(async move {
            let c = http();
            let mut out = vec![];
            for i in 0..150 {
                let text = format!("out {i}");
                let r = c
                    .post(format!("{url}/api/sessions/shop/messages"))
                    .header("X-Api-Key", KEY)
                    .json(&json!({"to": "15558880000", "text": text}))
                    .send()
                    .await
                    .unwrap();
                out.push((text, r.status().as_u16()));
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            out
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
    let sends = sending.await.unwrap();
    assert!(sends.iter().any(|(_, c)| *c < 300), "{sends:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, at_phone) = sb
        .get(&format!(
            "/_sandbox/messages?account={ACCOUNT}&direction=all"
        ))
        .await;
    for (text, code) in &sends {
        let n = at_phone
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["text"] == text.as_str())
            .count();
        match code {
            200..=299 => assert_eq!(n, 1, "'{text}' answered {code}, went {n} times"),
            409 | 503 => assert_eq!(n, 0, "'{text}' answered {code} but went out"),
            _ => panic!("'{text}' answered {code}"),
        }
    }

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

/// A session's own ceilings (`limits`) stand in for the daemon's: `0`
/// is none at all, a field left out is the daemon's, and a PATCH takes
/// effect on the running browser.
#[tokio::test]
async fn a_sessions_own_limits_stand_in_for_the_daemons() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(
        &tmp.path().join("data"),
        &format!("{}/", sb.url),
        &["--session-max-pss-mb", "1"],
    )
    .await;
    let r = Receiver::start().await;
    let hook = json!([{"url": r.url, "events": ["session.status"]}]);
    for (id, phone, limits) in [
        (
            "free",
            "15550009992",
            json!({"max_pss_mb": 0, "browser_max_age": "30d"}),
        ),
        ("held", "15550009993", Value::Null),
    ] {
        let (code, v) = d
            .call(
                "POST",
                "/api/sessions",
                Some(json!({"id": id, "webhooks": hook, "limits": limits})),
            )
            .await;
        assert_eq!(code, 201, "{v}");
        d.link(&sb, id, phone).await;
    }
    assert_eq!(
        d.session("free").await["limits"],
        json!({"max_pss_mb": 0, "browser_max_age": "30d"})
    );
    let recycled = |id: &'static str| {
        let r = &r;
        move || async move {
            r.events("session.status")
                .into_iter()
                .find(|e| e["session"] == id && e["payload"]["reason"] == "recycled_memory")
        }
    };
    // The daemon's ceiling holds the session that sets none...
    eventually(
        Duration::from_secs(60),
        "the daemon's ceiling",
        recycled("held"),
    )
    .await;
    // ...and not the one whose own is none, until a PATCH gives it one.
    assert!(
        recycled("free")().await.is_none(),
        "recycled under no ceiling"
    );
    let (code, v) = d
        .call(
            "PATCH",
            "/api/sessions/free",
            Some(json!({"limits": {"max_pss_mb": 2}})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["limits"], json!({"max_pss_mb": 2}));
    eventually(Duration::from_secs(60), "its own ceiling", recycled("free")).await;
    d.wait_status("free", "CONNECTED", Duration::from_secs(60))
        .await;

    // Bad limits are the caller's mistake, named.
    for bad in [
        json!({"limits": {"browser_max_age": "soon"}}),
        json!({"limits": {"max_rss": 1}}),
    ] {
        let (code, e) = d.call("PATCH", "/api/sessions/free", Some(bad)).await;
        assert_eq!(code, 422, "{e}");
    }
    // A bad proxy beside good limits changes nothing.
    let (code, e) = d
        .call(
            "PATCH",
            "/api/sessions/free",
            Some(json!({"limits": {"max_pss_mb": 900}, "proxy": "ftp://x"})),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    let (_, v) = d.call("GET", "/api/sessions/free", None).await;
    assert_eq!(v["limits"], json!({"max_pss_mb": 2}), "{v}");
}
