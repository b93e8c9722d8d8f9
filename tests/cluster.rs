//! Three peers on 127.0.0.1 serve one API (issue 15): each session runs on
//! exactly its home; any peer serves any route of any session; lists agree;
//! keys work through every peer; a dead home is a clear 503 and its
//! sessions come back with it.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const CLUSTER_KEY: &str = "cluster-secret-0123456789";
const SESSIONS: usize = 12;

fn account(i: usize) -> String {
    format!("155500031{i:02}")
}

/// Three peers' ports and URLs, known before any of them starts.
fn three_peer_addresses() -> ([u16; 3], Vec<String>) {
    let ports = [stable_port(), stable_port(), stable_port()];
    let urls = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    (ports, urls)
}

/// Three peers on 127.0.0.1 over one sandbox; `list` is how each learns
/// the peer list (`WABRIDGE_PEERS` or `WABRIDGE_PEERS_FILE` and its value).
async fn start_peers(
    dir: &std::path::Path,
    sb: &Sandbox,
    ports: &[u16],
    urls: &[String],
    list: (&str, String),
    extra: &[&str],
) -> Vec<Daemon> {
    let mut peers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let envs = vec![
            (list.0.to_string(), list.1.clone()),
            ("WABRIDGE_SELF".to_string(), urls[i].clone()),
            ("WABRIDGE_CLUSTER_KEY".to_string(), CLUSTER_KEY.to_string()),
        ];
        let mut args = vec![
            "serve".to_string(),
            "--wa-url".to_string(),
            format!("{}/", sb.url),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        peers.push(Daemon::start_at(*port, &dir.join(format!("peer{i}")), args, envs).await);
    }
    peers
}

/// The status line a peer answers a `POST /api/sessions` whose body
/// never comes whole (one byte of a thousand).
async fn slow_body_answer(port: u16, key: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut got = vec![0u8; 256];
    let n = s.read(&mut got).await.unwrap_or(0);
    String::from_utf8_lossy(&got[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Waits until the webhook has each of `ids`, then checks each came once.
async fn each_at_the_webhook_once(r: &Receiver, ids: &[String], what: &str) {
    eventually(Duration::from_secs(30), what, || async {
        let got = r.events("message");
        ids.iter()
            .all(|id| got.iter().any(|e| e["payload"]["id"] == id.as_str()))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for id in ids {
        let n = r
            .accepted()
            .iter()
            .filter(|(_, v)| v["event"] == "message" && v["payload"]["id"] == id.as_str())
            .count();
        assert_eq!(n, 1, "message {id} delivered {n} times");
    }
}

/// A peer's own sessions, as it answers another peer.
async fn local_ids(d: &Daemon) -> BTreeSet<String> {
    let r = http()
        .get(format!("{}/api/sessions", d.url))
        .bearer_auth(KEY)
        .header("x-wabridge-forwarded-by", "test")
        .header("x-wabridge-cluster-key", CLUSTER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

async fn ids(d: &Daemon, path: &str, field: Option<&str>) -> Vec<String> {
    let (code, v) = d.call("GET", path, None).await;
    assert_eq!(code, 200, "{v}");
    let list = match field {
        Some(f) => v[f].clone(),
        None => v,
    };
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["id"]
                .as_str()
                .or(s["session_id"].as_str())
                .unwrap_or_else(|| panic!("no id in {s}"))
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn three_peers_serve_one_api_and_a_dead_home_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let r = Receiver::start().await;
    let (ports, urls) = three_peer_addresses();
    let mut peers = start_peers(
        tmp.path(),
        &sb,
        &ports,
        &urls,
        ("WABRIDGE_PEERS", urls.join(",")),
        // Bounds how long a frozen home may hold a forwarded call (below).
        &["--request-timeout-s", "15"],
    )
    .await;
    let home_of = |id: &str| {
        let h = wabridge::cluster::peers::home(&urls, id).unwrap();
        urls.iter().position(|u| u == h).unwrap()
    };
    // A body the cluster reads (for the session it names) is read only for
    // a valid key, and only in the request's time: a client that sends it
    // a byte a minute holds no connection for good.
    let wrong = tokio::spawn(slow_body_answer(ports[0], "not-a-key"));
    let valid = tokio::spawn(slow_body_answer(ports[0], KEY));
    let wrong = tokio::time::timeout(Duration::from_secs(10), wrong)
        .await
        .expect("a wrong key's slow body held the connection")
        .unwrap();
    assert!(wrong.starts_with("HTTP/1.1 401"), "{wrong}");
    // The peers' ports, hence their URLs and the homes, differ per run:
    // ids are picked so that each peer is home to 4 (c0 always among them).
    let mut per_peer = [0; 3];
    let ids_all: Vec<String> = (0..)
        .map(|k| format!("c{k}"))
        .filter(|id| {
            let h = home_of(id);
            per_peer[h] += 1;
            per_peer[h] <= SESSIONS / 3
        })
        .take(SESSIONS)
        .collect();
    let homes: HashMap<&str, usize> = ids_all
        .iter()
        .map(|id| (id.as_str(), home_of(id)))
        .collect();
    assert!(
        (0..3).all(|p| homes.values().any(|&h| h == p)),
        "every peer is home to some of the 12: {homes:?}"
    );

    // Created through peer 0, each on its home, with a webhook.
    let c = http();
    for id in &ids_all {
        let res = c
            .post(format!("{}/api/sessions", peers[0].url))
            .bearer_auth(KEY)
            .json(&json!({"id": id, "webhooks": [{"url": r.url}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        assert_eq!(
            res.headers()["x-wabridge-peer"],
            urls[homes[id.as_str()]].as_str(),
            "{id} served by its home"
        );
    }
    // A valid key's body that never comes whole: answered when the
    // request's time (15 s) is up.
    let valid = tokio::time::timeout(Duration::from_secs(40), valid)
        .await
        .expect("a slow body held the connection past the request's time")
        .unwrap();
    assert!(valid.starts_with("HTTP/1.1 503"), "{valid}");
    // Without an id, the peer that takes the call makes one and its home
    // creates it.
    let (code, made) = peers[1]
        .call("POST", "/api/sessions", Some(json!({"start": false})))
        .await;
    assert_eq!(code, 201, "{made}");
    let made_id = made["id"].as_str().unwrap().to_string();
    for (p, d) in peers.iter().enumerate() {
        let mine: BTreeSet<String> = ids_all
            .iter()
            .filter(|id| homes[id.as_str()] == p)
            .cloned()
            .chain((home_of(&made_id) == p).then(|| made_id.clone()))
            .collect();
        assert_eq!(local_ids(d).await, mine, "peer {p} runs exactly its own");
    }
    let (code, _) = peers[2]
        .call("DELETE", &format!("/api/sessions/{made_id}"), None)
        .await;
    assert_eq!(code, 200);

    // Linked through QRs fetched from peer 1, CONNECTED as peer 2 sees it.
    for (i, id) in ids_all.iter().enumerate() {
        peers[2]
            .wait_status(id, "SCAN_QR", Duration::from_secs(60))
            .await;
        let qr = peers[1].qr(id).await;
        assert_eq!(sb.link(&qr, &account(i), &format!("Shop {i}")).await, 200);
    }
    for id in &ids_all {
        peers[2]
            .wait_status(id, "CONNECTED", Duration::from_secs(30))
            .await;
    }
    // Each browser runs on its home only.
    for (p, d) in peers.iter().enumerate() {
        for id in &ids_all {
            assert_eq!(
                d.browser_pid(id).is_some(),
                homes[id.as_str()] == p,
                "browser of {id} on peer {p}"
            );
        }
    }

    // Lists agree through every peer, in each dialect.
    let native = ids(&peers[0], "/api/sessions", None).await;
    assert_eq!(
        native.iter().cloned().collect::<BTreeSet<_>>(),
        ids_all.iter().cloned().collect()
    );
    for d in &peers[1..] {
        assert_eq!(ids(d, "/api/sessions", None).await, native);
    }
    let openwa = ids(&peers[0], "/sessions", Some("sessions")).await;
    assert_eq!(openwa.len(), SESSIONS);
    assert_eq!(ids(&peers[2], "/sessions", Some("sessions")).await, openwa);
    // In open-wa's shape, as one daemon answers it.
    let (_, v) = peers[1].call("GET", "/sessions", None).await;
    assert_eq!(v["success"], true, "{v}");

    // Sends through peer 2, in three dialects, reach WhatsApp from the
    // right account.
    for (i, id) in ids_all.iter().enumerate() {
        let to = "15557770001";
        let res = match i % 3 {
            0 => c
                .post(format!("{}/api/sessions/{id}/messages", peers[2].url))
                .bearer_auth(KEY)
                .json(&json!({"to": to, "text": format!("out {i}")}))
                .send(),
            1 => c
                .post(format!("{}/v21.0/{id}/messages", peers[2].url))
                .bearer_auth(KEY)
                .json(&json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": format!("out {i}")}}))
                .send(),
            _ => c
                .post(format!("{}/message/send", peers[2].url))
                .bearer_auth(KEY)
                .json(&json!({"session_id": id, "to": to, "message": format!("out {i}")}))
                .send(),
        }
        .await
        .unwrap();
        assert!(res.status().is_success(), "send {i}: {}", res.status());
        assert_eq!(
            res.headers()["x-wabridge-peer"],
            urls[homes[id.as_str()]].as_str()
        );
        let (_, sent) = sb
            .get(&format!("/_sandbox/messages?account={}", account(i)))
            .await;
        assert!(
            sent.as_array()
                .unwrap()
                .iter()
                .any(|m| m["text"] == format!("out {i}")),
            "{sent}"
        );
    }

    // Twilio: an AccountSid that names no session, and a `From` that picks
    // one homed on another peer than the AccountSid's hash.
    let fleet = "ACfleet";
    let (i, id) = ids_all
        .iter()
        .enumerate()
        .find(|(_, id)| homes[id.as_str()] != home_of(fleet))
        .unwrap();
    let res = c
        .post(format!(
            "{}/2010-04-01/Accounts/{fleet}/Messages.json",
            peers[home_of(fleet)].url
        ))
        .bearer_auth(KEY)
        .form(&[
            ("To", "whatsapp:+15557770001"),
            ("From", &format!("whatsapp:+{}", account(i))),
            ("Body", "picked by From"),
        ])
        .send()
        .await
        .unwrap();
    let peer = res.headers().get("x-wabridge-peer").cloned();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    assert_eq!(peer.unwrap(), urls[homes[id.as_str()]].as_str());

    // The event stream through peer 0 merges every peer's.
    let events = |last: Option<String>| {
        let mut rb = http().get(format!(
            "{}/api/events?events=message&key={KEY}",
            peers[0].url
        ));
        if let Some(l) = last {
            rb = rb.header("Last-Event-ID", l);
        }
        rb.send()
    };
    let mut sse = events(None).await.unwrap();
    assert_eq!(sse.status(), 200);

    // Inbound reaches the webhook once per message.
    let mut inbound = Vec::new();
    for i in 0..SESSIONS {
        let (code, v) = sb
            .post(
                "/_sandbox/messages",
                json!({"from": "15557770002", "to": account(i), "text": format!("in {i}")}),
            )
            .await;
        assert_eq!(code, 201);
        inbound.push(v["id"].as_str().unwrap().to_string());
    }
    each_at_the_webhook_once(&r, &inbound, "every inbound message at the webhook").await;

    let seen = read_sse(&mut sse, |got| got.len() >= SESSIONS).await;
    let ids_seen: BTreeSet<&str> = seen
        .iter()
        .filter_map(|(_, _, v)| v["payload"]["id"].as_str())
        .collect();
    assert_eq!(
        ids_seen,
        inbound.iter().map(String::as_str).collect(),
        "every peer's events, once"
    );
    let last = seen.last().unwrap().0.clone();
    assert_eq!(
        last.split(',').count(),
        3,
        "the id holds each peer's place: {last}"
    );
    drop(sse);
    // Resumed from that id: what came after, from every peer, and nothing
    // before it.
    let mut later = Vec::new();
    for i in [0, 5, 11] {
        let (_, v) = sb
            .post(
                "/_sandbox/messages",
                json!({"from": "15557770002", "to": account(i), "text": format!("later {i}")}),
            )
            .await;
        later.push(v["id"].as_str().unwrap().to_string());
    }
    let mut sse = events(Some(last)).await.unwrap();
    let again = read_sse(&mut sse, |got| got.len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: BTreeSet<&str> = again
        .iter()
        .filter_map(|(_, _, v)| v["payload"]["id"].as_str())
        .collect();
    assert_eq!(got, later.iter().map(String::as_str).collect(), "{again:?}");
    drop(sse);

    // A fresh reader hears only from peer 0's sessions; while it is away
    // another peer logs a message: resuming brings it (that peer's place
    // is where its stream began, though it sent nothing).
    let on = |p: usize| {
        (0..SESSIONS)
            .find(|&i| homes[ids_all[i].as_str()] == p)
            .unwrap()
    };
    let mut sse = events(None).await.unwrap();
    let (_, v) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": "15557770002", "to": account(on(0)), "text": "only peer 0"}),
        )
        .await;
    let first = v["id"].as_str().unwrap().to_string();
    let seen = read_sse(&mut sse, |got| {
        got.iter().any(|e| e.2["payload"]["id"] == first.as_str())
    })
    .await;
    let last = seen.last().unwrap().0.clone();
    drop(sse);
    let (_, v) = sb
        .post(
            "/_sandbox/messages",
            json!({"from": "15557770002", "to": account(on(1)), "text": "while away"}),
        )
        .await;
    let away = v["id"].as_str().unwrap().to_string();
    each_at_the_webhook_once(&r, std::slice::from_ref(&away), "the message while away").await;
    let mut sse = events(Some(last.clone())).await.unwrap();
    let again = read_sse(&mut sse, |got| {
        got.iter().any(|e| e.2["payload"]["id"] == away.as_str())
    })
    .await;
    assert!(
        again.iter().any(|e| e.2["payload"]["id"] == away.as_str()),
        "resumed from {last}: {again:?}"
    );
    drop(sse);

    // A key scoped to one session, made on peer 0, works through every
    // peer for that session and no other; revoked on peer 1, it is refused
    // everywhere when the revocation is answered.
    let (code, k) = peers[0]
        .call("POST", "/api/keys", Some(json!({"sessions": ["c0"]})))
        .await;
    assert_eq!(code, 201, "{k}");
    let secret = k["key"].as_str().unwrap().to_string();
    let other = ids_all
        .iter()
        .find(|id| homes[id.as_str()] != homes["c0"])
        .unwrap();
    for d in &peers {
        let (code, v) = d.call_as(&secret, "GET", "/api/sessions/c0", None).await;
        assert_eq!(code, 200, "{v}");
        let (code, v) = d
            .call_as(&secret, "GET", &format!("/api/sessions/{other}"), None)
            .await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(ids(d, "/api/keys", Some("keys")).await.len(), 1);
    }
    let (code, _) = peers[1]
        .call(
            "DELETE",
            &format!("/api/keys/{}", k["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(code, 200);
    for d in &peers {
        let (code, _) = d.call_as(&secret, "GET", "/api/sessions/c0", None).await;
        assert_eq!(code, 401);
    }
    // The cluster key is no user's key, and peers' routes want it.
    for d in &peers {
        let (code, _) = d.call_as(CLUSTER_KEY, "GET", "/api/sessions", None).await;
        assert_eq!(code, 401);
        let (code, _) = d.call("GET", "/_cluster/keys", None).await;
        assert_eq!(code, 401);
        let (code, _) = d.call("GET", "/_cluster/sessions/c0", None).await;
        assert_eq!(code, 401);
    }
    // An export of hundreds of megabytes is not read for a caller without
    // the key it needs: refused at once, as on a single daemon.
    for path in ["/_cluster/sessions/c0/import", "/api/sessions/import"] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = peers[0].url.trim_start_matches("http://").to_string();
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 400000000\r\n\r\n0123456789"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer while the body was held back"))
            .unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(line.starts_with("HTTP/1.1 401"), "{path}: {line}");
    }
    // What a peer asks the home after a hand-over whose answer was lost.
    let held = |at: usize| {
        http()
            .get(format!("{}/_cluster/sessions/c0", peers[at].url))
            .header("x-wabridge-cluster-key", CLUSTER_KEY)
            .send()
    };
    let res = held(homes["c0"]).await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["id"], "c0", "{v}");
    assert!(v["move_epoch"].is_u64(), "{v}");
    let res = held((homes["c0"] + 1) % 3).await.unwrap();
    assert_eq!(res.status(), 404, "only the home holds it");

    // A frozen peer (it takes calls and answers none): its sessions are
    // 503 through the others once the request timeout has passed, and
    // lists leave it out after a few seconds; nothing hangs.
    let dead = homes["c0"];
    let alive = (dead + 1) % 3;
    peers[dead].proc.freeze();
    let t0 = std::time::Instant::now();
    let res = c
        .get(format!("{}/api/sessions/c0", peers[alive].url))
        .bearer_auth(KEY)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("a frozen home hung the call");
    assert_eq!(res.status(), 503, "after {:?}", t0.elapsed());
    let res = c
        .get(format!("{}/api/sessions", peers[alive].url))
        .bearer_auth(KEY)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("a frozen peer hung the list");
    assert_eq!(res.headers()["x-wabridge-unreachable"], urls[dead].as_str());
    peers[dead].proc.thaw();

    // kill -9 of a peer: its sessions are 503 through the others, with
    // Retry-After, and no copy starts elsewhere; back when it restarts.
    peers[dead].proc.kill9();
    let res = c
        .get(format!("{}/api/sessions/c0", peers[alive].url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "session_home_unavailable", "{v}");
    let res = c
        .post(format!(
            "{}/2010-04-01/Accounts/c0/Messages.json",
            peers[alive].url
        ))
        .bearer_auth(KEY)
        .form(&[("To", "whatsapp:+15557770001"), ("Body", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503, "in Twilio's shape too");
    let res = c
        .get(format!("{}/api/sessions", peers[alive].url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-wabridge-unreachable"], urls[dead].as_str());
    // The merged event stream leaves it out, and ends soon after, so its
    // reader comes back and asks it again (else its sessions' events
    // would wait for as long as the reader stays).
    let mut stream = c
        .get(format!("{}/api/events", peers[alive].url))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(
        stream.headers()["x-wabridge-unreachable"],
        urls[dead].as_str()
    );
    let ended = tokio::time::timeout(Duration::from_secs(40), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "a stream that left a peer out stayed open");
    let listed: Vec<Value> = res.json().await.unwrap();
    assert!(
        listed
            .iter()
            .all(|s| homes[s["id"].as_str().unwrap()] != dead)
    );
    for (p, d) in peers.iter().enumerate() {
        if p != dead {
            assert!(local_ids(d).await.iter().all(|id| homes[id.as_str()] == p));
        }
    }
    let back = peers[dead].restart_at_same_port().await;
    peers[dead] = back;
    peers[alive]
        .wait_status("c0", "CONNECTED", Duration::from_secs(60))
        .await;
    let (code, v) = peers[alive]
        .call(
            "POST",
            "/api/sessions/c0/messages",
            Some(json!({"to": "15557770001", "text": "after the restart"})),
        )
        .await;
    assert_eq!(code, 201, "{v}\n{}", tail(&peers[dead].proc.log_text(), 80));
}

/// Each peer's CONNECTED sessions, asked of all three at once.
async fn connected_where(peers: &[Daemon]) -> Vec<BTreeSet<String>> {
    let asks = peers.iter().map(|d| async move {
        let r = http()
            .get(format!("{}/api/sessions", d.url))
            .bearer_auth(KEY)
            .header("x-wabridge-forwarded-by", "test")
            .header("x-wabridge-cluster-key", CLUSTER_KEY)
            .send()
            .await;
        let Ok(r) = r else {
            return BTreeSet::new();
        };
        let v: Value = r.json().await.unwrap_or(Value::Null);
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["status"] == "CONNECTED")
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    });
    futures::future::join_all(asks).await
}

/// Waits until `placed` holds of the peers' CONNECTED sessions, checking
/// at every look that no session is CONNECTED on two peers.
async fn settle(
    peers: &[Daemon],
    ids: &[String],
    what: &str,
    placed: impl Fn(&[BTreeSet<String>]) -> bool,
) {
    eventually(Duration::from_secs(60), what, || async {
        let now = connected_where(peers).await;
        for id in ids {
            let holders = now.iter().filter(|s| s.contains(id)).count();
            assert!(holders <= 1, "{id} CONNECTED on {holders} peers: {now:?}");
        }
        placed(&now).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_peer_leaving_and_joining_moves_its_sessions_without_a_rescan() {
    const N: usize = 9;
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let r = Receiver::start().await;
    let (ports, urls) = three_peer_addresses();
    let file = tmp.path().join("peers");
    std::fs::write(&file, urls.join("\n")).unwrap();
    let peers = start_peers(
        tmp.path(),
        &sb,
        &ports,
        &urls,
        ("WABRIDGE_PEERS_FILE", file.to_string_lossy().into_owned()),
        &[
            "--webhook-retry-base-ms",
            "100",
            "--webhook-retry-max-ms",
            "500",
        ],
    )
    .await;
    let home_among = |list: &[String], id: &str| {
        let h = wabridge::cluster::peers::home(list, id).unwrap();
        urls.iter().position(|u| u == h).unwrap()
    };
    // The homes differ per run (the ports do): 3 of the 9 on peer 2.
    let (mut on2, mut elsewhere) = (0, 0);
    let ids_all: Vec<String> = (0..)
        .map(|k| format!("m{k}"))
        .filter(|id| {
            let n = if home_among(&urls, id) == 2 {
                &mut on2
            } else {
                &mut elsewhere
            };
            *n += 1;
            if home_among(&urls, id) == 2 {
                *n <= 3
            } else {
                *n <= N - 3
            }
        })
        .take(N)
        .collect();
    let leaving: Vec<usize> = (0..N)
        .filter(|i| home_among(&urls, &ids_all[*i]) == 2)
        .collect();
    assert!(!leaving.is_empty(), "peer 2 is home to some");
    for (i, id) in ids_all.iter().enumerate() {
        let (code, v) = peers[0]
            .call(
                "POST",
                "/api/sessions",
                Some(json!({"id": id, "webhooks": [{"url": r.url, "retries": {"attempts": 100}}]})),
            )
            .await;
        assert_eq!(code, 201, "{v}");
        peers[1].link(&sb, id, &account(i)).await;
    }

    // The receiver fails: what arrives now waits in peer 2's outbox.
    r.answer(503);
    let mut inbound = Vec::new();
    for &i in &leaving {
        let (code, v) = sb
            .post(
                "/_sandbox/messages",
                json!({"from": "15557770003", "to": account(i), "text": "before the move"}),
            )
            .await;
        assert_eq!(code, 201);
        inbound.push(v["id"].as_str().unwrap().to_string());
    }
    for &i in &leaving {
        let path = format!("/api/sessions/{}/deliveries?status=pending", ids_all[i]);
        eventually(Duration::from_secs(30), "a pending delivery", || async {
            let (_, v) = peers[2].call("GET", &path, None).await;
            (v["deliveries"].as_array().is_some_and(|d| !d.is_empty())).then_some(())
        })
        .await;
    }

    // Three peers become two: peer 2's sessions move, with their pending
    // deliveries and messages that arrive meanwhile.
    std::fs::write(&file, urls[..2].join("\n")).unwrap();
    for round in 0..2 {
        for &i in &leaving {
            let (code, v) = sb
                .post(
                    "/_sandbox/messages",
                    json!({"from": "15557770003", "to": account(i), "text": format!("moving {round}")}),
                )
                .await;
            assert_eq!(code, 201);
            inbound.push(v["id"].as_str().unwrap().to_string());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let two = &urls[..2];
    settle(
        &peers,
        &ids_all,
        "peer 2's sessions CONNECTED on their new homes",
        |now| {
            leaving
                .iter()
                .all(|&i| now[home_among(two, &ids_all[i])].contains(&ids_all[i]))
        },
    )
    .await;
    assert!(
        local_ids(&peers[2]).await.is_empty(),
        "peer 2 keeps no copy"
    );
    for &i in &leaving {
        let id = &ids_all[i];
        assert!(peers[2].browser_pid(id).is_none());
        let s = peers[2].session(id).await;
        assert_eq!(s["status"], "CONNECTED", "through the peer that left: {s}");
        assert_eq!(s["me"]["phone"], account(i), "still linked, no QR: {s}");
    }
    r.answer(200);
    each_at_the_webhook_once(
        &r,
        &inbound,
        "messages sent before and during the move at the webhook",
    )
    .await;

    // Two become three again: they go back, and history came with them.
    std::fs::write(&file, urls.join("\n")).unwrap();
    settle(&peers, &ids_all, "the sessions back on peer 2", |now| {
        leaving.iter().all(|&i| now[2].contains(&ids_all[i]))
    })
    .await;
    each_at_the_webhook_once(&r, &inbound, "still once each after moving back").await;
    // Every peer reads the new list within its re-read interval (2 s).
    let id = &ids_all[leaving[0]];
    let hist = eventually(
        Duration::from_secs(10),
        "history through peer 0",
        || async {
            let (code, hist) = peers[0]
                .call(
                    "GET",
                    &format!("/api/sessions/{id}/messages?chat=15557770003"),
                    None,
                )
                .await;
            (code == 200).then_some(hist)
        },
    )
    .await;
    assert_eq!(hist["messages"].as_array().map(Vec::len), Some(3), "{hist}");

    // The same export, by hand: `wabridge export` then `wabridge import`
    // of that file where the session is: refused, it is not newer. A
    // running session is not exported unless asked to stop (a copy
    // imported elsewhere would answer the same number beside it).
    let export = |stop: bool| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["export", id, "--url", &peers[1].url]);
        if stop {
            cmd.arg("--stop");
        }
        cmd.env("WABRIDGE_API_KEY", KEY).output().unwrap()
    };
    let out = export(false);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("session_running"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = export(true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 1024);
    let f = tmp.path().join("backup.tar");
    std::fs::write(&f, &out.stdout).unwrap();
    peers[2]
        .wait_status(id, "STOPPED", Duration::from_secs(30))
        .await;
    let (code, v) = peers[0]
        .call("POST", &format!("/api/sessions/{id}/start"), None)
        .await;
    assert_eq!(code, 200, "{v}");
    peers[2]
        .wait_status(id, "CONNECTED", Duration::from_secs(30))
        .await;
    // Not an export, or an export of another session: a clear 422.
    let other = ids_all.iter().find(|s| *s != id).unwrap();
    for (path, body) in [
        (format!("/api/sessions/{id}/import"), b"not a tar".to_vec()),
        ("/api/sessions/import".to_string(), b"not a tar".to_vec()),
        (
            format!("/api/sessions/{other}/import"),
            std::fs::read(&f).unwrap(),
        ),
    ] {
        let res = http()
            .post(format!("{}{path}", peers[0].url))
            .bearer_auth(KEY)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{path}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["code"], "invalid_field", "{v}");
    }
    let out = std::process::Command::new(BIN)
        .args(["import", f.to_str().unwrap(), "--url", &peers[0].url])
        .env("WABRIDGE_API_KEY", KEY)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("move epoch"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A peer whose WABRIDGE_SELF spells its address otherwise than the peer
/// list does (a host name for an IP) does not take itself for another
/// peer: "moved" to itself, its sessions were removed (a new QR for each).
#[tokio::test]
async fn a_peer_named_otherwise_in_the_list_keeps_its_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let port = stable_port();
    let envs = vec![
        (
            "WABRIDGE_PEERS".to_string(),
            format!("http://127.0.0.1:{port}"),
        ),
        (
            "WABRIDGE_SELF".to_string(),
            format!("http://localhost:{port}"),
        ),
        ("WABRIDGE_CLUSTER_KEY".to_string(), CLUSTER_KEY.to_string()),
    ];
    let args = vec![
        "serve".to_string(),
        "--wa-url".to_string(),
        format!("{}/", sb.url),
    ];
    let mut d = Daemon::start_at(port, &tmp.path().join("peer"), args.clone(), envs.clone()).await;
    let (code, v) = d
        .call("POST", "/api/sessions", Some(json!({"id": "kept"})))
        .await;
    assert_eq!(code, 201, "{v}");
    d.link(&sb, "kept", &account(0)).await;
    // A move round runs as the daemon starts, and every 10 s.
    assert!(d.proc.terminate().success());
    drop(d);
    let d = Daemon::start_at(port, &tmp.path().join("peer"), args, envs).await;
    d.wait_status("kept", "CONNECTED", Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (code, v) = d.call("GET", "/api/sessions/kept", None).await;
    assert_eq!(
        (code, v["status"].as_str()),
        (200, Some("CONNECTED")),
        "{v}"
    );
}
