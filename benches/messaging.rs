//! Messaging benchmark (not a test): inbound messages/s from the sandbox to
//! a webhook receiver and their end-to-end latency, latency at a fixed rate,
//! and outbound sends/s through the API; for 1 and 4 sessions. One inbound
//! message in five is written in a group the account is in.
//! `make bench` runs it (release build) and writes bench-results/messaging.json.
//! Written in Rust so that the load generator and receiver take little of
//! the two cores the daemon, the sandbox and the browsers share.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Opts {
    sessions: Vec<usize>,
    /// Webhook formats measured on one session besides `native`.
    formats: Vec<String>,
    inbound: usize,
    rate: f64,
    rate_seconds: f64,
    outbound: usize,
    out: String,
}

fn opts() -> Opts {
    let mut o = Opts {
        sessions: vec![1, 4],
        formats: vec![
            "simple".into(),
            "openwa".into(),
            "cloud".into(),
            "twilio".into(),
        ],
        inbound: 4000,
        rate: 500.0,
        rate_seconds: 10.0,
        outbound: 2000,
        out: "bench-results/messaging.json".into(),
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--sessions" => o.sessions = v.split(',').filter_map(|x| x.parse().ok()).collect(),
            "--formats" => {
                o.formats = v
                    .split(',')
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect()
            }
            "--inbound" => o.inbound = v.parse().unwrap(),
            "--rate" => o.rate = v.parse().unwrap(),
            "--rate-seconds" => o.rate_seconds = v.parse().unwrap(),
            "--outbound" => o.outbound = v.parse().unwrap(),
            "--out" => o.out = v,
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// Arrival time of each message id at the receiver.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receiver() -> (String, Arrivals) {
    use axum::{Router, body::Bytes, extract::State, routing::post};
    let arrivals: Arrivals = Arc::default();
    let app = Router::new()
        .route(
            "/hook",
            post(|State(a): State<Arrivals>, body: Bytes| async move {
                let now = Instant::now();
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    // native, simple, openwa, cloud
                    let id = v["payload"]["id"]
                        .as_str()
                        .or(v["message_id"].as_str())
                        .or(v["data"]["id"].as_str())
                        .or(v["entry"][0]["changes"][0]["value"]["messages"][0]["id"].as_str());
                    if let Some(id) = id {
                        a.lock().unwrap().entry(id.to_string()).or_insert(now);
                    }
                } else if let Some((_, sid)) =
                    url::form_urlencoded::parse(&body).find(|(k, _)| k == "MessageSid")
                {
                    // twilio: keyed by sid (see `twilio_sid`)
                    a.lock().unwrap().entry(sid.into_owned()).or_insert(now);
                }
                // An empty TwiML answer: a Twilio receiver that replies nothing.
                "<Response/>"
            }),
        )
        .with_state(arrivals.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, arrivals)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The Twilio sid of a sandbox message id in session `s` (wabridge's
/// `SM` + 16 bytes of SHA-256 of session and id).
fn twilio_sid(s: &str, id: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{s}\0{id}").as_bytes());
    format!(
        "SM{}",
        d[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Posts contact messages; returns (id, post time) for each.
/// A contact's message to `to`; every fifth one is written in `to`'s group
/// (`group`), as a member of it, so group messages are in the mix.
async fn post_one(
    c: &reqwest::Client,
    sb: &str,
    to: &str,
    group: &str,
    i: usize,
) -> (String, Instant) {
    let t = Instant::now();
    let from = format!("1555777{:04}", i % 50);
    let body = if i.is_multiple_of(5) {
        json!({"from": "15557770000", "group": group, "text": format!("bench {i}")})
    } else {
        json!({"from": from, "to": to, "text": format!("bench {i}")})
    };
    let r = c
        .post(format!("{sb}/_sandbox/messages"))
        .json(&body)
        .send()
        .await
        .expect("post to sandbox");
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let id = v["id"]
        .as_str()
        .or(v["ids"][to].as_str())
        .expect("a message id");
    (id.to_string(), t)
}

async fn wait_all(arrivals: &Arrivals, ids: &[(String, Instant)], limit: Duration) -> Vec<f64> {
    let start = Instant::now();
    loop {
        {
            let a = arrivals.lock().unwrap();
            let missing = ids.iter().filter(|(id, _)| !a.contains_key(id)).count();
            if missing == 0 {
                let mut lat: Vec<f64> = ids
                    .iter()
                    .map(|(id, t)| ms(a[id].duration_since(*t)))
                    .collect();
                lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
                return lat;
            }
            if start.elapsed() > limit {
                panic!(
                    "{missing} of {} messages never reached the receiver",
                    ids.len()
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How the receiver will know each message: Twilio webhooks carry sids.
fn keyed(format: &str, ids: Vec<(String, Instant)>, accounts: &[String]) -> Vec<(String, Instant)> {
    if format != "twilio" {
        return ids;
    }
    // One session in the format runs: m0.
    let _ = accounts;
    ids.into_iter()
        .map(|(id, t)| (twilio_sid("m0", &id), t))
        .collect()
}

/// `format`: the webhook format (signed); native sends through
/// `/api/sessions/{id}/messages`, the open-wa formats through open-wa's
/// `POST /message/send`.
async fn run(n: usize, format: &str, o: &Opts) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(
        &tmp.path().join("data"),
        &format!("{}/", sb.url),
        &["--webhook-retry-base-ms", "100"],
    )
    .await;
    let (hook, arrivals) = receiver().await;
    let accounts: Vec<String> = (0..n).map(|i| format!("1555030{i:04}")).collect();
    for (i, acct) in accounts.iter().enumerate() {
        let (code, body) = d
            .call("POST", "/api/sessions", Some(json!({"id": format!("m{i}"), "webhooks": [{"url": hook, "events": ["message"], "format": format, "secret": SECRET}]})))
            .await;
        assert_eq!(code, 201, "{body}");
        d.link(&sb, &format!("m{i}"), acct).await;
    }
    // Each account is in a group with a few contacts, who write in it.
    let mut groups = std::collections::HashMap::new();
    for acct in &accounts {
        let (code, g) = sb
            .post("/_sandbox/groups", json!({"owner": "15557770000", "subject": "Bench group", "participants": [acct, "15557770001", "15557770002"]}))
            .await;
        assert_eq!(code, 201, "{g}");
        groups.insert(acct.clone(), g["id"].as_str().unwrap().to_string());
    }
    let groups = std::sync::Arc::new(groups);
    let c = reqwest::Client::new();

    // Inbound throughput.
    let t0 = Instant::now();
    let ids: Vec<(String, Instant)> = futures::stream::iter(0..o.inbound)
        .map(|i| {
            let (c, sb, to) = (c.clone(), sb.url.clone(), accounts[i % n].clone());
            let group = groups[&to].clone();
            async move { post_one(&c, &sb, &to, &group, i).await }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let ids = keyed(format, ids, &accounts);
    let lat = wait_all(&arrivals, &ids, Duration::from_secs(120)).await;
    let last = ids
        .iter()
        .map(|(id, _)| arrivals.lock().unwrap()[id])
        .max()
        .unwrap();
    let per_s = o.inbound as f64 / last.duration_since(t0).as_secs_f64();
    let inbound = json!({"messages": o.inbound, "per_s": per_s, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)});
    eprintln!(
        "  {n} session(s): inbound {per_s:.0} msg/s, p50 {:.1} ms, p99 {:.1} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    // Latency at a fixed rate, from a settled state (the burst above is
    // delivered and the browsers are idle).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let total = (o.rate * o.rate_seconds) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / o.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tick.tick().await;
        let (c, sb, to) = (c.clone(), sb.url.clone(), accounts[i % n].clone());
        let group = groups[&to].clone();
        tasks.push(tokio::spawn(async move {
            post_one(&c, &sb, &to, &group, 1_000_000 + i).await
        }));
    }
    let achieved = total as f64 / t0.elapsed().as_secs_f64();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    let ids = keyed(format, ids, &accounts);
    let lat = wait_all(&arrivals, &ids, Duration::from_secs(120)).await;
    let fixed = json!({"target_per_s": o.rate, "achieved_per_s": achieved, "p50_ms": pct(&lat, 0.5),
        "p99_ms": pct(&lat, 0.99), "max_ms": lat.last()});
    eprintln!(
        "  {n} session(s): at {achieved:.0}/s p50 {:.1} ms, p99 {:.1} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );

    // Outbound through the API.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    let mut lat: Vec<f64> = futures::stream::iter(0..o.outbound)
        .map(|i| {
            let c = c.clone();
            let to = format!("1555888{:04}", i % 100);
            let req = match format {
                "native" => c
                    .post(format!("{}/api/sessions/m{}/messages", d.url, i % n))
                    .json(&json!({"to": to, "text": format!("out {i}")})),
                "cloud" => c
                    .post(format!("{}/v21.0/m{}/messages", d.url, i % n))
                    .json(&json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": format!("out {i}")}})),
                "twilio" => c
                    .post(format!("{}/2010-04-01/Accounts/m{}/Messages.json", d.url, i % n))
                    .form(&[("To", format!("whatsapp:+{to}")), ("Body", format!("out {i}"))]),
                _ => c
                    .post(format!("{}/message/send", d.url))
                    .json(&json!({"session_id": format!("m{}", i % n), "to_number": to, "message": format!("out {i}")})),
            };
            async move {
                let t = Instant::now();
                let r = req.header("X-Api-Key", KEY).send().await.unwrap();
                assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
                ms(t.elapsed())
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let per_s = o.outbound as f64 / t0.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let outbound = json!({"messages": o.outbound, "per_s": per_s, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)});
    eprintln!(
        "  {n} session(s): outbound {per_s:.0} msg/s, p50 {:.1} ms, p99 {:.1} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99)
    );
    json!({"sessions": n, "format": format, "inbound": inbound, "fixed_rate": fixed, "outbound": outbound})
}

#[tokio::main]
async fn main() {
    let o = opts();
    let mut runs = vec![];
    for &n in &o.sessions {
        eprintln!("messaging benchmark, {n} session(s), native...");
        runs.push(run(n, "native", &o).await);
    }
    for f in &o.formats {
        eprintln!("messaging benchmark, 1 session, {f} webhooks...");
        runs.push(run(1, f, &o).await);
    }
    println!(
        "\n| sessions | webhook format (send route) | inbound msg/s | inbound p50 / p99 ms | at {} msg/s: p50 / p99 / max ms | outbound msg/s | outbound p50 / p99 ms |",
        o.rate
    );
    println!("|---:|---|---:|---:|---:|---:|---:|");
    for r in &runs {
        let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
        let route = match r["format"].as_str().unwrap_or("") {
            "native" => "/api/.../messages",
            "cloud" => "/v21.0/{id}/messages",
            "twilio" => "Messages.json",
            _ => "/message/send",
        };
        println!(
            "| {} | {} ({route}) | {:.0} | {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.0} | {:.1} / {:.1} |",
            r["sessions"],
            r["format"].as_str().unwrap_or(""),
            f(&r["inbound"]["per_s"]),
            f(&r["inbound"]["p50_ms"]),
            f(&r["inbound"]["p99_ms"]),
            f(&r["fixed_rate"]["p50_ms"]),
            f(&r["fixed_rate"]["p99_ms"]),
            f(&r["fixed_rate"]["max_ms"]),
            f(&r["outbound"]["per_s"]),
            f(&r["outbound"]["p50_ms"]),
            f(&r["outbound"]["p99_ms"]),
        );
    }
    let out = json!({"machine": {"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "options": {"inbound": o.inbound, "rate": o.rate, "rate_seconds": o.rate_seconds, "outbound": o.outbound},
        "messaging": runs});
    if let Some(dir) = std::path::Path::new(&o.out).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&o.out, serde_json::to_vec_pretty(&out).unwrap()).unwrap();
    println!("\nJSON: {}", o.out);
}
