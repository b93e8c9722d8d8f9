//! A full disk, for real: the data dir on a small tmpfs that the test fills.
//! The daemon refuses new data with 507 (nothing is sent that could not be
//! recorded), `/ready` says why, and when space returns every message that
//! arrived meanwhile is stored and delivered once. Needs root to mount a
//! tmpfs; elsewhere it says so and skips.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const ACCOUNT: &str = "15550006661";

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, mb: u32) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={mb}m,mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    fn free_bytes(&self) -> u64 {
        let out = std::process::Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

async fn stored(d: &Daemon) -> Vec<Value> {
    let (code, v) = d
        .call("GET", "/api/sessions/shop/messages?limit=500", None)
        .await;
    assert_eq!(code, 200, "{v}");
    v["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_full_disk_answers_507_and_loses_nothing_when_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("disk"), 192) else {
        eprintln!(
            "SKIPPED: mounting a tmpfs needs root (CI runs as root); the store's reserve is unit-tested in store::tests"
        );
        return;
    };
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(
        &fs.0.join("data"),
        &format!("{}/", sb.url),
        &["--min-free-disk-mb", "48"],
    )
    .await;
    let r = Receiver::start().await;
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "shop", "webhooks": [{"url": r.url, "events": ["message"]}]})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    d.link(&sb, "shop", ACCOUNT).await;

    let before = contact_messages(&sb, ACCOUNT, 20, 4, "before").await;
    eventually(Duration::from_secs(30), "20 messages stored", || async {
        (stored(&d).await.len() >= 20).then_some(())
    })
    .await;

    // Fill the disk to 16 MB free: below the 48 MB reserve.
    let filler = fs.0.join("filler");
    let size = fs.free_bytes().saturating_sub(16 << 20);
    let ok = std::process::Command::new("fallocate")
        .args(["-l", &size.to_string()])
        .arg(&filler)
        .status()
        .unwrap();
    assert!(ok.success(), "fallocate");

    // The daemon notices (it reads the free space at most every 100 ms).
    let c = http();
    eventually(
        Duration::from_secs(10),
        "/ready to say the disk is full",
        || async {
            let r = c.get(format!("{}/ready", d.url)).send().await.unwrap();
            (r.status() == 503).then_some(())
        },
    )
    .await;
    // Said by its code: /ready answers anyone, and the error names paths.
    let (_, ready) = d.call("GET", "/ready", None).await;
    assert_eq!(ready["store"], "storage_full", "{ready}");
    // A send is refused before it goes out, in the native shape, with a retry hint.
    let res = c
        .post(format!("{}/api/sessions/shop/messages", d.url))
        .bearer_auth(KEY)
        .json(&json!({"to": "15557770099", "text": "while full"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 507);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "storage_full", "{v}");
    let (_, phone) = sb
        .get(&format!(
            "/_sandbox/messages?account={ACCOUNT}&direction=all"
        ))
        .await;
    assert!(
        !phone.to_string().contains("while full"),
        "a refused send reached WhatsApp: {phone}"
    );
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "more", "start": false})),
        )
        .await;
    assert_eq!(
        (code, v["error"]["code"].clone()),
        (507, json!("storage_full"))
    );

    // Messages that arrive meanwhile are not stored yet, nor what contacts
    // do to messages already stored (a reaction, an edit)...
    let during = contact_messages(&sb, ACCOUNT, 30, 5, "during").await;
    let (reacted, edited) = (&before[0].0, &before[1].0);
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{reacted}/react"),
            json!({"emoji": "👍"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let (code, v) = sb
        .post(
            &format!("/_sandbox/messages/{edited}/edit"),
            json!({"text": "edited while the disk was full"}),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stored(&d).await.len(), 20, "stored while below the reserve");

    // ...and all are once space returns (the catch-up on the next health
    // tick); what arrives now, before that tick, is stored after them.
    std::fs::remove_file(&filler).unwrap();
    let after = contact_messages(&sb, ACCOUNT, 5, 5, "after").await;
    let all = eventually(Duration::from_secs(60), "55 messages stored", || async {
        let m = stored(&d).await;
        (m.len() >= 55).then_some(m)
    })
    .await;
    let mut ids: Vec<&str> = all.iter().map(|m| m["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 55, "each message stored once");
    for (id, _, _) in before.iter().chain(during.iter()).chain(after.iter()) {
        assert!(ids.contains(&id.as_str()), "{id} was lost");
    }
    // The reaction and the edit were kept for the store, not dropped.
    eventually(
        Duration::from_secs(30),
        "the reaction and the edit stored",
        || async {
            let m = stored(&d).await;
            let find = |id: &str| m.iter().find(|m| m["id"] == id).cloned().unwrap();
            (find(reacted)["reactions"][0]["emoji"] == "👍"
                && find(edited)["text"] == "edited while the disk was full")
                .then_some(())
        },
    )
    .await;

    // Delivered: each message's event acknowledged, none twice.
    let delivered = eventually(Duration::from_secs(60), "55 deliveries", || async {
        let got = r.accepted();
        (got.len() >= 55).then_some(got)
    })
    .await;
    let mut event_ids: Vec<String> = delivered
        .iter()
        .map(|(h, _)| h.get("webhook-id").cloned().unwrap_or_default())
        .collect();
    let n = event_ids.len();
    event_ids.sort();
    event_ids.dedup();
    assert_eq!((n, event_ids.len()), (55, 55), "deliveries, distinct ids");

    // In the order they came, chat by chat: a contact's messages from
    // while the disk was full are in the event log before its later one.
    let mut sse = c
        .get(format!(
            "{}/api/events?session=shop&events=message&since=0",
            d.url
        ))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let log = read_sse(&mut sse, |got| got.len() >= 55).await;
    let texts: Vec<(&str, &str)> = log
        .iter()
        .filter_map(|(_, _, v)| {
            Some((
                v["payload"]["chat"].as_str()?,
                v["payload"]["text"].as_str()?,
            ))
        })
        .collect();
    assert_eq!(texts.len(), 55, "{log:?}");
    for (chat, text) in texts.iter().filter(|(_, t)| t.starts_with("during")) {
        let at = texts.iter().position(|t| t == &(*chat, *text)).unwrap();
        let later = texts
            .iter()
            .position(|(c, t)| c == chat && t.starts_with("after"))
            .unwrap();
        assert!(
            at < later,
            "{text} of {chat} was stored after a later message: {texts:?}"
        );
    }

    // And the API takes new data again.
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions/shop/messages",
            Some(json!({"to": "15557770099", "text": "space is back"})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        c.get(format!("{}/ready", d.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(d);
}
