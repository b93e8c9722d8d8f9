//! What one client may take of the daemon, end to end: body limits per
//! route in each dialect's shape, requests at once and their time, event
//! streams at once, and clients too slow to send their headers.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "15550007771";

#[tokio::test]
async fn each_limit_answers_clearly_in_the_dialect_of_the_route() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(
        &tmp.path().join("data"),
        &format!("{}/", sb.url),
        &[
            "--max-json-kb",
            "4",
            "--max-media-mb",
            "1",
            "--max-requests",
            "2",
            "--request-timeout-s",
            "8",
            "--max-streams",
            "2",
            "--header-timeout-s",
            "1",
        ],
    )
    .await;
    d.create_linked(&sb, "shop", ACCOUNT).await;
    // A fresh connection per request: the daemon closes a keep-alive
    // connection idle for the header timeout (1 s here), and a request
    // written on one just as it closes fails in the client, which would
    // leave a hanging send below never sent.
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let big = "x".repeat(8 << 10);

    // Bodies without media: 4 KB, in each dialect's shape.
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "s2", "pad": big})),
        )
        .await;
    assert_eq!(
        (code, v["error"]["code"].clone()),
        (413, json!("payload_too_large")),
        "{v}"
    );
    let r = c
        .post(format!("{}/2010-04-01/Accounts/shop/Messages.json", d.url))
        .bearer_auth(KEY)
        .form(&[("To", "whatsapp:+15557770001"), ("Body", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 21617, "{v}");
    let r = c
        .post(format!("{}/v21.0/shop/messages", d.url))
        .bearer_auth(KEY)
        .json(&json!({"messaging_product": "whatsapp", "to": "15557770001", "type": "text", "text": {"body": big}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].is_string(), "{v}");
    let r = c
        .post(format!("{}/message/send", d.url))
        .bearer_auth(KEY)
        .json(&json!({"session_id": "shop", "to": "15557770001", "message": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], false, "{v}");

    // The send route carries media: its body may be larger, its media no
    // more than 1 MB.
    let b64 = |n: usize| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(vec![7u8; n])
    };
    let send_media = |n: usize| {
        c.post(format!("{}/api/sessions/shop/messages", d.url))
            .bearer_auth(KEY)
            .json(&json!({"to": "15557770001", "media": {"mimetype": "application/pdf", "filename": "a.pdf", "data": b64(n)}}))
            .send()
    };
    let r = send_media(300 << 10).await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = send_media((1 << 20) + 4096).await.unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "media_too_large", "{v}");
    // Past the body limit the daemon answers before reading the rest of
    // the body and closes the connection: a client still writing may see
    // its write fail instead of the 413 (as with any HTTP server that
    // refuses early).
    match send_media(3 << 20).await {
        Ok(r) => assert_eq!(r.status(), 413, "past the body limit of the media route"),
        Err(e) => assert!(e.is_request(), "{e}"),
    }

    // Event streams: two at once, the third is refused; closing one frees it.
    let stream = || {
        c.get(format!("{}/api/events", d.url))
            .bearer_auth(KEY)
            .send()
    };
    let s1 = stream().await.unwrap();
    let s2 = stream().await.unwrap();
    assert_eq!((s1.status().as_u16(), s2.status().as_u16()), (200, 200));
    let r = stream().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_many_streams", "{v}");
    drop(s1);
    eventually(Duration::from_secs(10), "a stream slot freed", || async {
        (stream().await.unwrap().status() == 200).then_some(())
    })
    .await;
    drop(s2);

    // Requests at once, and their time: two sends WhatsApp never answers
    // hold both places; the next request is refused at once, probes still
    // answer, and the hanging sends end at the request timeout.
    sb.post("/_sandbox/lose-replies", json!({"on": true})).await;
    let hang = || {
        let (c, url) = (c.clone(), d.url.clone());
        tokio::spawn(async move {
            c.post(format!("{url}/api/sessions/shop/messages"))
                .bearer_auth(KEY)
                .json(&json!({"to": "15557770001", "text": "no answer"}))
                .send()
                .await
                .unwrap()
        })
    };
    let (h1, h2) = (hang(), hang());
    // Both hold their place once WhatsApp has both messages; asking before
    // that could take a place from the second send instead.
    eventually(Duration::from_secs(8), "both sends at WhatsApp", || async {
        let (_, sent) = sb
            .request(
                "GET",
                &format!("/_sandbox/messages?account={ACCOUNT}"),
                None,
            )
            .await;
        let n = sent
            .as_array()?
            .iter()
            .filter(|m| m["text"] == "no answer")
            .count();
        (n == 2).then_some(())
    })
    .await;
    let busy = c
        .get(format!("{}/api/sessions", d.url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(busy.status(), 503);
    let v: Value = busy.json().await.unwrap();
    assert_eq!(v["error"]["code"], "server_busy", "{v}");
    let h = c.get(format!("{}/health", d.url)).send().await.unwrap();
    assert_eq!(h.status(), 200, "probes answer at the limit");
    for h in [h1, h2] {
        let r = h.await.unwrap();
        assert_eq!(r.status(), 503);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "request_timeout", "{v}");
    }
    sb.post("/_sandbox/lose-replies", json!({"on": false}))
        .await;

    // A client that stops part-way is dropped within the header timeout
    // (1 s here): one that does not finish its headers, one that sends
    // nothing at all, one that sends a byte (it could be the start of
    // HTTP/2's preface, which the server waits for to tell the versions
    // apart), and one that sends that whole preface and nothing after.
    let addr = d.url.trim_start_matches("http://").to_string();
    for start in [
        &b"GET /health HTTP/1.1\r\nHost: x\r\n"[..],
        b"",
        b"P",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ] {
        let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stalled.write_all(start).await.unwrap();
        let mut buf = [0u8; 512];
        let closed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match stalled.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert_eq!(
            closed,
            Ok(true),
            "a client that sent {:?} was not dropped",
            String::from_utf8_lossy(start)
        );
    }
    // The daemon still serves everyone else.
    let (code, _) = d.call("GET", "/api/sessions/shop", None).await;
    assert_eq!(code, 200);
}
