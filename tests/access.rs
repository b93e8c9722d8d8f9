//! Scoped API keys end to end: the real daemon, real Chromium and the
//! sandbox. A key made for one session reaches that session only, with its
//! scopes, through every dialect and the event stream; a revoked or
//! rotated secret is refused from the next request on.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const A_PHONE: &str = "15550004441";
const B_PHONE: &str = "15550004442";
const CONTACT: &str = "15557770041";

fn basic(user: &str, key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}"))
    )
}

async fn make_key(d: &Daemon, body: Value) -> (String, String) {
    let (code, v) = d.call("POST", "/api/keys", Some(body)).await;
    assert_eq!(code, 201, "{v}");
    (
        v["id"].as_str().unwrap().to_string(),
        v["key"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_scoped_key_reaches_its_sessions_only_in_every_dialect() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &format!("{}/", sb.url), &[]).await;
    d.create_linked(&sb, "a", A_PHONE).await;
    d.create_linked(&sb, "b", B_PHONE).await;

    let (a_id, a_key) = make_key(
        &d,
        json!({"name": "tenant a", "sessions": ["a"], "scopes": ["read", "send"]}),
    )
    .await;
    assert!(a_key.starts_with("wabk_"), "{a_key}");

    // The admin sees the key, never its secret.
    let c = http();
    let listed = d.text("/api/keys").await;
    assert!(
        listed.contains(&a_id) && !listed.contains(&a_key),
        "{listed}"
    );
    assert!(
        listed.contains(&a_key[a_key.len() - 4..]),
        "the hint: {listed}"
    );

    // Native: its own session, read and send; not the other one; not manage.
    let (code, list) = d.call_as(&a_key, "GET", "/api/sessions", None).await;
    assert_eq!(code, 200);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a"], "{list}");
    let (code, _) = d.call_as(&a_key, "GET", "/api/sessions/a", None).await;
    assert_eq!(code, 200);
    let (code, v) = d.call_as(&a_key, "GET", "/api/sessions/b", None).await;
    assert_eq!(code, 403, "{v}");
    assert_eq!(v["error"]["code"], "session_forbidden", "{v}");
    let (code, v) = d
        .call_as(
            &a_key,
            "POST",
            "/api/sessions/b/messages",
            Some(json!({"to": CONTACT, "text": "not mine"})),
        )
        .await;
    assert_eq!(
        (code, v["error"]["code"].clone()),
        (403, json!("session_forbidden"))
    );
    let (code, sent) = d
        .call_as(
            &a_key,
            "POST",
            "/api/sessions/a/messages",
            Some(json!({"to": CONTACT, "text": "from tenant a"})),
        )
        .await;
    assert_eq!(code, 201, "{sent}");
    // A tenant's media URL leads to public addresses only: not to the
    // daemon's host (this listener is never asked), by address or by name,
    // nor to a cloud's metadata service, which the admin's never reaches
    // either.
    let host = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = host.local_addr().unwrap().port();
    let media =
        |url: String| json!({"to": CONTACT, "media": {"url": url, "mimetype": "image/png"}});
    for url in [
        format!("http://127.0.0.1:{port}/x.png"),
        format!("http://localhost:{port}/x.png"),
        format!("http://[::ffff:127.0.0.1]:{port}/x.png"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
    ] {
        let (code, v) = d
            .call_as(
                &a_key,
                "POST",
                "/api/sessions/a/messages",
                Some(media(url.clone())),
            )
            .await;
        assert_eq!(code, 422, "{url}: {v}");
        assert!(v.to_string().contains("media.url"), "{url}: {v}");
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), host.accept())
            .await
            .is_err(),
        "the daemon's host was asked for a tenant's media"
    );
    let (code, v) = d
        .call(
            "POST",
            "/api/sessions/a/messages",
            Some(media("http://169.254.169.254/latest/meta-data/".into())),
        )
        .await;
    assert_eq!(code, 422, "{v}");
    // So does a tenant's webhook: an address in its URL is refused at
    // once, and a name is never delivered to at the daemon's host
    // (`scoped` is the daemon's to set, whatever the request says).
    let (_, a_manage) =
        make_key(&d, json!({"sessions": ["a"], "scopes": ["read", "manage"]})).await;
    let hooks = |url: String| json!([{"url": url, "events": ["message"], "scoped": false}]);
    let put = "/api/sessions/a/webhooks";
    let at_host = format!("http://127.0.0.1:{port}/hook");
    let (code, v) = d
        .call_as(&a_manage, "PUT", put, Some(hooks(at_host.clone())))
        .await;
    assert_eq!(code, 422, "{v}");
    let by_name = format!("http://localhost:{port}/hook");
    let (code, v) = d.call_as(&a_manage, "PUT", put, Some(hooks(by_name))).await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["webhooks"][0]["scoped"], true, "{v}");
    let (_, m) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": CONTACT, "to": A_PHONE, "text": "for a's webhook"}),
        )
        .await;
    d.wait_message("a", m["id"].as_str().unwrap()).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(2), host.accept())
            .await
            .is_err(),
        "a tenant's webhook was delivered at the daemon's host"
    );
    // The admin's may (the operator's network).
    let (code, v) = d.call("PUT", put, Some(hooks(at_host))).await;
    assert_eq!(code, 200, "{v}");
    assert!(v["webhooks"][0].get("scoped").is_none(), "{v}");
    let (code, _) = d.call("PUT", put, Some(json!([]))).await;
    assert_eq!(code, 200);
    // Nor its proxy: a tenant's browser would knock on the daemon's
    // networks for it (and the session's error tell what answered there).
    for proxy in [
        "http://10.0.0.5:6379",
        "http://169.254.169.254:80",
        "socks5://127.0.0.1:1080",
        "http://localhost:3128",
    ] {
        let (code, v) = d
            .call_as(
                &a_manage,
                "PATCH",
                "/api/sessions/a",
                Some(json!({ "proxy": proxy })),
            )
            .await;
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (422, Some("invalid_field")),
            "{proxy}: {v}"
        );
    }
    assert!(d.session("a").await["proxy"].is_null(), "no proxy was set");
    let (code, v) = d
        .call_as(&a_key, "POST", "/api/sessions/a/stop", None)
        .await;
    assert_eq!(
        (code, v["error"]["code"].clone()),
        (403, json!("scope_forbidden")),
        "{v}"
    );
    for (method, path) in [
        ("GET", "/api/keys"),
        ("PUT", "/api/templates/hello"),
        ("POST", "/api/sessions"),
    ] {
        let body = match path {
            "/api/templates/hello" => Some(json!({"body": "hi"})),
            "/api/sessions" => Some(json!({"id": "mine"})),
            _ => None,
        };
        let (code, v) = d.call_as(&a_key, method, path, body).await;
        assert_eq!(code, 403, "{method} {path}: {v}");
    }
    let metrics = c
        .get(format!("{}/metrics", d.url))
        .header("X-Api-Key", &a_key)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 403, "metrics are the admin's");
    // Methods no client should send do not each become a series.
    for m in ["FOOBAR", "BAZQUUX"] {
        let _ = c
            .request(
                reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                format!("{}/health", d.url),
            )
            .send()
            .await
            .unwrap();
    }
    let text = d.text("/metrics").await;
    assert!(
        !text.contains("FOOBAR") && !text.contains("BAZQUUX"),
        "a method became a label"
    );
    // An import is the admin's: refused before its body is read.
    let r = c
        .post(format!("{}/api/sessions/a/import", d.url))
        .header("X-Api-Key", &a_key)
        .body(vec![0u8; 64 << 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Twilio: AccountSid:key, the session is the account.
    let twilio = |account: &str| {
        c.post(format!(
            "{}/2010-04-01/Accounts/{account}/Messages.json",
            d.url
        ))
        .header("Authorization", basic(account, &a_key))
        .form(&[
            ("To", format!("whatsapp:+{CONTACT}")),
            ("Body", "twilio".into()),
        ])
    };
    let r = twilio("b").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 20403, "{v}");
    assert_eq!(twilio("a").send().await.unwrap().status(), 201);

    // Cloud API: the phone_number_id is the session, the token the key.
    let cloud = |pnid: &str| {
        c.post(format!("{}/v21.0/{pnid}/messages", d.url))
            .bearer_auth(&a_key)
            .json(&json!({"messaging_product": "whatsapp", "to": CONTACT, "type": "text", "text": {"body": "cloud"}}))
    };
    let r = cloud("b").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 10, "{v}");
    assert_eq!(cloud("a").send().await.unwrap().status(), 200);
    // Graph also takes the token as ?access_token=, on a POST too; the
    // other dialects do not.
    let r = c
        .post(format!("{}/v21.0/a/messages?access_token={a_key}", d.url))
        .json(&json!({"messaging_product": "whatsapp", "to": CONTACT, "type": "text", "text": {"body": "token in the query"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .post(format!(
            "{}/api/sessions/a/messages?access_token={a_key}",
            d.url
        ))
        .json(&json!({"to": CONTACT, "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // open-wa: the EASY API and the wrapper routes.
    let easy = |session: &str| {
        c.post(format!("{}/{session}/sendText", d.url))
            .header("api_key", &a_key)
            .json(&json!({"args": [format!("{CONTACT}@c.us"), "open-wa"]}))
    };
    let r = easy("b").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], false, "{v}");
    let r = easy("a").send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["success"], true, "{v}");
    let r = c
        .get(format!("{}/session/b/status", d.url))
        .header("api_key", &a_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = c
        .get(format!("{}/sessions", d.url))
        .header("api_key", &a_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!v.to_string().contains("\"b\""), "{v}");

    // The event stream carries only the key's sessions.
    let mut sse = c
        .get(format!("{}/api/events?events=message&key={a_key}", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let (_, to_b) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": CONTACT, "to": B_PHONE, "text": "for b"}),
        )
        .await;
    let (_, to_a) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": CONTACT, "to": A_PHONE, "text": "for a"}),
        )
        .await;
    let (b_mid, a_mid) = (to_b["id"].as_str().unwrap(), to_a["id"].as_str().unwrap());
    // b's message is stored before a's is sent: had the stream carried it,
    // it would come first.
    d.wait_message("b", b_mid).await;
    let mut text = String::new();
    let seen = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(chunk)) = sse.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains(a_mid) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(seen, Ok(true), "a's message on the stream: {text}");
    assert!(
        !text.contains(b_mid),
        "b's message leaked to a's key: {text}"
    );
    // The stream is what `read` reads: a key that may only send, or a
    // session the key does not have, is refused, not served.
    let (_, send_only) = make_key(&d, json!({"sessions": ["a"], "scopes": ["send"]})).await;
    for (key, query, code) in [
        (&send_only, "session=a&", "scope_forbidden"),
        (&send_only, "", "scope_forbidden"),
        (&a_key, "session=b&", "session_forbidden"),
    ] {
        let r = c
            .get(format!("{}/api/events?{query}since=0&key={key}", d.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{query}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{query}: {v}");
    }
    // Nor does it list the session it may not read (one by one it is
    // refused: the list says no more).
    let (code, list) = d.call_as(&send_only, "GET", "/api/sessions", None).await;
    assert_eq!((code, list), (200, json!([])));
    // A path under /api/ the native API has not is its 404, whatever the
    // method, not an open-wa method of a session named "api".
    for path in ["/api/session", "/api"] {
        let (code, v) = d.call("POST", path, Some(json!({}))).await;
        assert_eq!(
            (code, v["error"]["code"].as_str()),
            (404, Some("route_not_found")),
            "{path}: {v}"
        );
    }
    // An empty Last-Event-ID is no place: the stream starts at `since`.
    let mut r = c
        .get(format!("{}/api/events?since=0", d.url))
        .header("Authorization", format!("Bearer {KEY}"))
        .header("Last-Event-ID", "")
        .send()
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), r.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&first).starts_with(": from 0"),
        "{first:?}"
    );
    drop(r);

    // What a stream carries within a few seconds, as text.
    let for_a_while = |mut r: reqwest::Response| async move {
        let mut text = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(4), async {
            while let Ok(Some(chunk)) = r.chunk().await {
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        text
    };
    // A QR links a phone: only a key that may manage the session sees it
    // go by, as only it may GET it.
    let (code, v) = d
        .call("POST", "/api/sessions", Some(json!({"id": "qrwait"})))
        .await;
    assert_eq!(code, 201, "{v}");
    d.wait_status("qrwait", "SCAN_QR", Duration::from_secs(60))
        .await;
    let (_, read_c) = make_key(&d, json!({"sessions": ["qrwait"], "scopes": ["read"]})).await;
    let (_, manage_c) = make_key(
        &d,
        json!({"sessions": ["qrwait"], "scopes": ["read", "manage"]}),
    )
    .await;
    let qr_stream = |key: String| {
        c.get(format!(
            "{}/api/events?session=qrwait&events=session.qr&since=0&key={key}",
            d.url
        ))
        .send()
    };
    let seen = for_a_while(qr_stream(read_c).await.unwrap()).await;
    assert!(
        !seen.contains("session.qr"),
        "a read key saw the QR: {seen}"
    );
    let seen = for_a_while(qr_stream(manage_c).await.unwrap()).await;
    assert!(seen.contains("event: session.qr"), "{seen}");

    // A key revoked while its stream is open: nothing more goes down it.
    let (r_id, r_key) = make_key(&d, json!({"sessions": ["a"], "scopes": ["read"]})).await;
    let open = c
        .get(format!(
            "{}/api/events?session=a&events=message&key={r_key}",
            d.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    assert_eq!(
        d.call("DELETE", &format!("/api/keys/{r_id}"), None).await.0,
        200
    );
    let (_, after) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": CONTACT, "to": A_PHONE, "text": "after revocation"}),
        )
        .await;
    d.wait_message("a", after["id"].as_str().unwrap()).await;
    let seen = for_a_while(open).await;
    assert!(!seen.contains("after revocation"), "{seen}");

    // Rotation: the old secret stops at once, the new one works.
    let (code, rotated) = d
        .call("POST", &format!("/api/keys/{a_id}/rotate"), None)
        .await;
    assert_eq!(code, 200, "{rotated}");
    let new_key = rotated["key"].as_str().unwrap().to_string();
    assert_eq!(rotated["id"], a_id.as_str());
    let (code, v) = d.call_as(&a_key, "GET", "/api/sessions/a", None).await;
    assert_eq!(
        (code, v["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    assert_eq!(
        d.call_as(&new_key, "GET", "/api/sessions/a", None).await.0,
        200
    );

    // Revocation: refused from the next request on, in every dialect.
    let (code, _) = d.call("DELETE", &format!("/api/keys/{a_id}"), None).await;
    assert_eq!(code, 200);
    assert_eq!(
        d.call_as(&new_key, "GET", "/api/sessions/a", None).await.0,
        401
    );
    assert_eq!(
        easy("a")
            .header("api_key", &new_key)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let r = c
        .post(format!("{}/v21.0/a/messages", d.url))
        .bearer_auth(&new_key)
        .json(&json!({"messaging_product": "whatsapp", "to": CONTACT, "type": "text", "text": {"body": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (code, v) = d.call("DELETE", &format!("/api/keys/{a_id}"), None).await;
    assert_eq!(
        (code, v["error"]["code"].clone()),
        (404, json!("key_not_found"))
    );

    // A key for a session that does not exist yet may create it (a tenant
    // brings its own number), and only that one.
    let (_, c_key) = make_key(&d, json!({"sessions": ["c"]})).await;
    let (code, v) = d
        .call_as(
            &c_key,
            "POST",
            "/api/sessions",
            Some(json!({"id": "c", "start": false})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let (code, _) = d
        .call_as(
            &c_key,
            "POST",
            "/api/sessions",
            Some(json!({"id": "d", "start": false})),
        )
        .await;
    assert_eq!(code, 403);
    let (code, v) = d.call_as(&c_key, "DELETE", "/api/sessions/c", None).await;
    assert_eq!(code, 200, "{v}");

    // Bad input: a clear 422, never a key.
    for bad in [
        json!({"sessions": []}),
        json!({"sessions": ["no spaces"]}),
        json!({"sessions": ["a"], "scopes": ["root"]}),
        json!({"sessions": ["a"], "scopes": []}),
    ] {
        let (code, v) = d.call("POST", "/api/keys", Some(bad.clone())).await;
        assert!(matches!(code, 400 | 422), "{bad}: {code} {v}");
        assert!(v["error"]["code"].is_string(), "{v}");
    }

    // Keys survive a restart (they are durable before they are shown).
    let (_, e_key) = make_key(&d, json!({"sessions": ["a"], "scopes": ["read"]})).await;
    let mut d = d;
    d.proc.terminate();
    let d2 = d.restart_same().await;
    assert_eq!(
        d2.call_as(&e_key, "GET", "/api/sessions/a", None).await.0,
        200
    );
    assert_eq!(
        d2.call_as(&a_key, "GET", "/api/sessions/a", None).await.0,
        401
    );
}
