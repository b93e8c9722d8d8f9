//! The session engine through the real daemon binary, real Chromium and the
//! sandbox (a separate process, so daemons can be restarted and killed).

mod common;

use common::*;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

fn wa_url(sb: &Sandbox) -> String {
    format!("{}/", sb.url)
}

#[tokio::test]
async fn link_with_rotating_qr_then_restart_needs_no_scan() {
    let tmp = tempfile::tempdir().unwrap();
    // WhatsApp offers a device a few codes, then none until the page asks
    // ("Click to reload the QR code"): here after two.
    let sb = Sandbox::start(tmp.path(), &["--qr-interval", "1.5", "--qr-codes", "2"]).await;
    let data = tmp.path().join("data");
    let mut d = Daemon::start(&data, &wa_url(&sb), &[]).await;

    let t0 = Instant::now();
    let (code, body) = d
        .call("POST", "/api/sessions", Some(json!({"id": "shop1"})))
        .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["id"], "shop1");
    assert!(body["me"].is_null());
    d.wait_status("shop1", "SCAN_QR", Duration::from_secs(30))
        .await;
    eprintln!("create -> SCAN_QR in {:?}", t0.elapsed());

    // The QR the API returns follows the page's rotation.
    let first = d.qr("shop1").await;
    let second = eventually(
        Duration::from_secs(10),
        "the API's QR to rotate",
        || async {
            let q = d.qr("shop1").await;
            (q != first).then_some(q)
        },
    )
    .await;
    assert_eq!(first.split(',').count(), 4);
    assert_ne!(first, second);
    // Past the codes WhatsApp offers by itself the page asks for more: the
    // QR stays live however long the scan takes.
    let mut seen = vec![first.clone(), second];
    let t0 = Instant::now();
    while seen.len() < 5 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the QR stopped at {} codes",
            seen.len()
        );
        let q = d.qr("shop1").await;
        if !seen.contains(&q) {
            seen.push(q);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Image forms of the same QR.
    let (_, qr_json) = d.call("GET", "/api/sessions/shop1/qr", None).await;
    assert!(
        qr_json["data_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let png = http()
        .get(format!("{}/api/sessions/shop1/qr", d.url))
        .header("X-Api-Key", KEY)
        .header("Accept", "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));

    // Scan the current QR; one that rotated away meanwhile is refused (410),
    // as a phone would be: scan again.
    d.scan(&sb, "shop1", "15550001111", "Demo Shop").await;
    let s = d
        .wait_status("shop1", "CONNECTED", Duration::from_secs(20))
        .await;
    assert_eq!(s["me"]["phone"], "15550001111");
    assert_eq!(s["me"]["id"], "15550001111@c.us");
    assert_eq!(s["me"]["name"], "Demo Shop");
    assert_eq!(s["platform"], "android");
    let (code, body) = d.call("GET", "/api/sessions/shop1/qr", None).await;
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_waiting_for_scan");

    // Session data is private.
    let mode = std::fs::metadata(data.join("sessions/shop1"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let mode = std::fs::metadata(data.join("sessions/shop1/profile"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    // ...and so is every file under the data dir: the store (webhook
    // secrets, proxy passwords), the browser's profile (WhatsApp's keys).
    fn open_to_others(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_symlink() {
                continue;
            }
            if m.permissions().mode() & 0o077 != 0 {
                out.push(e.path());
            }
            if m.is_dir() {
                open_to_others(&e.path(), out);
            }
        }
    }
    let mut open = vec![];
    open_to_others(&data, &mut open);
    assert!(open.is_empty(), "readable by others: {open:?}");

    // Graceful stop closes the browser; a new daemon comes back linked.
    let pgid = d.browser_pid("shop1").expect("browser pid file");
    assert!(d.proc.terminate().success());
    assert!(!group_alive(pgid), "Chromium outlived the daemon");
    let t0 = Instant::now();
    let d2 = d.restart_same().await;
    let s = d2.wait_status("shop1", "CONNECTED", LONG).await;
    eprintln!("restart -> CONNECTED in {:?}", t0.elapsed());
    assert_eq!(s["me"]["phone"], "15550001111");
    let (_, list) = d2.call("GET", "/api/sessions", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Stop keeps the link; start resumes it without a scan.
    let (code, s) = d2.call("POST", "/api/sessions/shop1/stop", None).await;
    assert_eq!((code, s["status"].as_str()), (200, Some("STOPPED")));
    assert!(d2.browser_pid("shop1").is_none());
    let (code, _) = d2.call("POST", "/api/sessions/shop1/start", None).await;
    assert_eq!(code, 200);
    d2.wait_status("shop1", "CONNECTED", LONG).await;
    let (code, _) = d2.call("POST", "/api/sessions/shop1/restart", None).await;
    assert_eq!(code, 200);
    d2.wait_status("shop1", "CONNECTED", LONG).await;
}

#[tokio::test]
async fn killed_browser_and_killed_daemon_recover_without_a_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let data = tmp.path().join("data");
    let mut d = Daemon::start(&data, &wa_url(&sb), &[]).await;
    d.create_linked(&sb, "s1", "15550002222").await;

    // kill -9 the session's Chromium.
    let pgid = d.browser_pid("s1").unwrap();
    unsafe { libc::kill(pgid, libc::SIGKILL) };
    d.wait_status("s1", "DISCONNECTED", Duration::from_secs(15))
        .await;
    let s = d.wait_status("s1", "CONNECTED", LONG).await;
    assert_eq!(s["me"]["phone"], "15550002222");
    let new_pgid = d.browser_pid("s1").unwrap();
    assert_ne!(new_pgid, pgid);
    eventually(
        Duration::from_secs(10),
        "the killed browser's group to be gone",
        || async { (!group_alive(pgid)).then_some(()) },
    )
    .await;

    // kill -9 the daemon: its browser is left behind (or dies with it)...
    d.proc.kill9();
    // ...and the next daemon ends whatever is left and reconnects.
    let d2 = d.restart_same().await;
    let s = d2.wait_status("s1", "CONNECTED", LONG).await;
    assert_eq!(s["me"]["phone"], "15550002222");
    eventually(
        Duration::from_secs(10),
        "no browser left from the killed daemon",
        || async { (!group_alive(new_pgid)).then_some(()) },
    )
    .await;
    let profile = data.join("sessions/s1/profile");
    let browsers = processes_with(&format!("--user-data-dir={}", profile.display()));
    assert_eq!(
        browsers.len(),
        1,
        "exactly one browser on the profile: {browsers:?}"
    );

    // A daemon killed in the middle of a restart (its frozen browser makes
    // the stop take seconds) brings the session back: a restart is not a
    // stop.
    let mut d2 = d2;
    let pgid = d2.browser_pid("s1").unwrap();
    unsafe { libc::kill(-pgid, libc::SIGSTOP) };
    let restart = tokio::spawn(
        http()
            .post(format!("{}/api/sessions/s1/restart", d2.url))
            .header("X-Api-Key", KEY)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !restart.is_finished(),
        "the restart was over before the kill"
    );
    d2.proc.kill9();
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    let d3 = d2.restart_same().await;
    let s = d3.wait_status("s1", "CONNECTED", LONG).await;
    assert_eq!(s["me"]["phone"], "15550002222");
}

/// Browser launches of a session by this daemon, from `/metrics`.
/// A session's statuses from its first, read from the event stream until
/// `status` has been said `times` times.
async fn statuses_until(d: &Daemon, id: &str, status: &str, times: usize) -> Vec<String> {
    let mut sse = http()
        .get(format!(
            "{}/api/events?session={id}&events=session.status&since=0",
            d.url
        ))
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    let seen = read_sse(&mut sse, |evs| {
        evs.iter()
            .filter(|e| e.2["payload"]["status"] == status)
            .count()
            >= times
    })
    .await;
    seen.iter()
        .filter_map(|e| e.2["payload"]["status"].as_str().map(String::from))
        .collect()
}

async fn launches(d: &Daemon, id: &str) -> u64 {
    let needle = format!("wabridge_browser_launches_total{{session=\"{id}\"}} ");
    d.text("/metrics")
        .await
        .lines()
        .find_map(|l| l.strip_prefix(needle.as_str())?.trim().parse().ok())
        .unwrap_or(0)
}

/// A linked session whose browser comes up while WhatsApp cannot be
/// reached (a host that reboots with its network down) keeps trying,
/// saying why, past its quick tries, and is back with no scan once
/// WhatsApp is: given up as FAILED, it would stay down, and no later
/// start of the daemon would resume it.
#[tokio::test]
async fn a_linked_session_outlasts_whatsapp_being_unreachable_and_never_gives_up() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let mut d = Daemon::start(&tmp.path().join("data"), &wa_url(&sb), &[]).await;
    d.create_linked(&sb, "o1", "15550007777").await;
    let port = sb.port;
    d.proc.terminate();
    // The sandbox saves who is linked every 200 ms.
    tokio::time::sleep(Duration::from_millis(600)).await;
    drop(sb);
    let d = d.restart_same().await;
    // Each try fails at once (connection refused): a sixth launch is one
    // past the quick tries, which used to end in FAILED.
    eventually(
        Duration::from_secs(120),
        "six tries with WhatsApp down",
        || async {
            let s = d.session("o1").await;
            assert_ne!(s["status"], "FAILED", "gave up: {s}");
            (launches(&d, "o1").await >= 6).then_some(s)
        },
    )
    .await;
    let s = d.session("o1").await;
    assert_eq!(s["status"], "DISCONNECTED", "{s}");
    let err = s["error"].as_str().unwrap_or_default();
    assert!(err.contains("could not be loaded"), "says why: {s}");
    let _sb = Sandbox::start_on(tmp.path(), port, &[]).await;
    let s = d
        .wait_status("o1", "CONNECTED", Duration::from_secs(120))
        .await;
    assert_eq!(
        s["me"]["phone"], "15550007777",
        "linked as before, with no scan"
    );
}

/// A linked page that loads but cannot reach WhatsApp (its socket refused
/// from the start, as behind a firewall or from the browser's cache on a
/// network that is down) is DISCONNECTED, never CONNECTED (a send would
/// only wait), and CONNECTED once WhatsApp is back, in the same browser.
#[tokio::test]
async fn a_page_that_cannot_reach_whatsapp_from_its_start_is_disconnected() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &wa_url(&sb), &[]).await;
    d.create_linked(&sb, "u1", "15550006666").await;
    assert_eq!(d.call("POST", "/api/sessions/u1/stop", None).await.0, 200);
    let (code, body) = sb
        .post("/_sandbox/refuse-sockets", json!({"on": true}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(d.call("POST", "/api/sessions/u1/start", None).await.0, 200);
    // bridge.js gives the page 15 s to be able to send, then says what it sees.
    let s = d
        .wait_status("u1", "DISCONNECTED", Duration::from_secs(60))
        .await;
    assert_eq!(s["me"]["phone"], "15550006666", "still linked: {s}");
    let pgid = d.browser_pid("u1").unwrap();
    sb.post("/_sandbox/refuse-sockets", json!({"on": false}))
        .await;
    d.wait_status("u1", "CONNECTED", Duration::from_secs(60))
        .await;
    assert_eq!(d.browser_pid("u1"), Some(pgid), "the same browser");
    let statuses = statuses_until(&d, "u1", "CONNECTED", 2).await;
    let restart = statuses.iter().rposition(|s| *s == "STOPPED").unwrap();
    assert_eq!(
        &statuses[restart..],
        ["STOPPED", "STARTING", "DISCONNECTED", "CONNECTED"],
        "{statuses:?}"
    );
}

/// A browser that stops answering while its process stays up (frozen, as
/// a hung Chromium leaves it) is noticed by the driver's pings to silent
/// pages, and replaced with no rescan. (`--hang-after 12`: silent for 6 s,
/// then two pings of 2 s a tick apart; the default takes a minute.)
#[tokio::test]
async fn a_frozen_page_is_noticed_and_its_browser_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(
        &tmp.path().join("data"),
        &wa_url(&sb),
        &["--hang-after", "12"],
    )
    .await;
    d.create_linked(&sb, "f1", "15550004444").await;
    let pgid = d.browser_pid("f1").unwrap();
    // The whole group: the page may run in the browser process itself.
    unsafe { libc::kill(-pgid, libc::SIGSTOP) };
    let frozen = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(120);
    // When the daemon gave up on the page: it leaves CONNECTED, or (seen
    // late) a new browser is already there.
    let mut noticed = None;
    let s = loop {
        let s = d.session("f1").await;
        let replaced = d.browser_pid("f1").is_some_and(|p| p != pgid);
        if noticed.is_none() && (replaced || s["status"] != "CONNECTED") {
            noticed = Some(frozen.elapsed());
        }
        if replaced && s["status"] == "CONNECTED" {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no new browser CONNECTED after 120 s: {s}\n{}",
            tail(&d.proc.log_text(), 40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        s["me"]["phone"], "15550004444",
        "linked as before, with no scan"
    );
    assert!(
        d.proc
            .log_text()
            .contains("the WhatsApp page stopped responding"),
        "the daemon's log says why: {}",
        tail(&d.proc.log_text(), 20)
    );
    eventually(
        Duration::from_secs(10),
        "the frozen browser's group to be gone",
        || async { (!group_alive(pgid)).then_some(()) },
    )
    .await;
    // Not a speed target: the default (30 s of silence, then two pings 10 s
    // apart) cannot see a hang within 40 s, so this tells that
    // `--hang-after` took effect. (The relaunch after it is not bounded:
    // on a busy machine it may take long.)
    let noticed = noticed.unwrap();
    assert!(
        noticed < Duration::from_secs(35),
        "noticed after {noticed:?}\n{}",
        tail(&d.proc.log_text(), 40)
    );
    eprintln!(
        "frozen page noticed after {noticed:?}, replaced after {:?}",
        frozen.elapsed()
    );
}

#[tokio::test]
async fn unlink_from_phone_logs_out_and_wipes_the_profile() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let data = tmp.path().join("data");
    let mut d = Daemon::start(&data, &wa_url(&sb), &[]).await;
    d.create_linked(&sb, "u1", "15550003333").await;
    let pgid = d.browser_pid("u1").unwrap();
    let say = |text: &str, sent_at: Option<i64>| {
        let body =
            json!({"from": "15557770001", "to": "15550003333", "text": text, "sent_at": sent_at});
        let sb = &sb;
        async move {
            let (code, m) = sb.post("/_sandbox/messages", body).await;
            assert_eq!(code, 201, "{m}");
            m["id"].as_str().unwrap().to_string()
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // (Written a while ago: what came later is newer in its chat.)
    let before = say("before the logout", Some(now - 900)).await;
    d.wait_message("u1", &before).await;

    assert_eq!(
        sb.post("/_sandbox/accounts/15550003333/unlink", json!({}))
            .await
            .0,
        200
    );
    let s = d
        .wait_status("u1", "LOGGED_OUT", Duration::from_secs(20))
        .await;
    assert!(s["me"].is_null());
    assert!(
        !data.join("sessions/u1/profile").exists(),
        "profile not wiped"
    );
    eventually(Duration::from_secs(10), "the browser to close", || async {
        (!group_alive(pgid)).then_some(())
    })
    .await;

    // Logged out is for good: a graceful restart of the daemon does not
    // bring it back to a QR (its ended driver was still listed at the stop).
    assert!(d.proc.terminate().success());
    let d = d.restart_same().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = d.session("u1").await;
    assert_eq!(s["status"], "LOGGED_OUT", "{s}");
    assert!(d.browser_pid("u1").is_none_or(|p| !group_alive(p)));

    // Written while no device of ours was linked: the account's history
    // once linked again, not a new message.
    let meanwhile = say("while logged out", Some(now - 120)).await;

    // start shows a new QR, and linking works again.
    let (code, _) = d.call("POST", "/api/sessions/u1/start", None).await;
    assert_eq!(code, 200);
    d.link(&sb, "u1", "15550003333").await;
    let after = say("after the new link", None).await;
    d.wait_message("u1", &after).await;
    // The new link's catch-up has run (it runs as the link is made).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, _) = d
        .call(
            "GET",
            &format!("/api/sessions/u1/messages/{meanwhile}"),
            None,
        )
        .await;
    assert_eq!(
        code, 404,
        "what the account got while logged out was not replayed as new"
    );

    // Logout through the API: the phone forgets the device too.
    let (code, s) = d.call("POST", "/api/sessions/u1/logout", None).await;
    assert_eq!(code, 200);
    assert_eq!(s["status"], "LOGGED_OUT");
    assert!(!data.join("sessions/u1/profile").exists());

    // Delete of a running session removes its data.
    d.call("POST", "/api/sessions/u1/start", None).await;
    d.wait_status("u1", "SCAN_QR", LONG).await;
    let (code, body) = d.call("DELETE", "/api/sessions/u1", None).await;
    assert_eq!(code, 200, "{body}");
    assert!(!data.join("sessions/u1").exists());
    assert_eq!(d.call("GET", "/api/sessions/u1", None).await.0, 404);
}

#[tokio::test]
async fn bad_input_gets_clear_json_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &wa_url(&sb), &[]).await;
    let c = http();

    let r = c
        .get(format!("{}/api/sessions", d.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let r = c
        .get(format!("{}/api/sessions", d.url))
        .header("X-Api-Key", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .get(format!("{}/api/sessions", d.url))
        .header("X-Api-Key", KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(format!("{}/health", d.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    for bad in ["../x", "a b", &"a".repeat(65), "", "import", "v21"] {
        let (code, body) = d
            .call("POST", "/api/sessions", Some(json!({"id": bad})))
            .await;
        assert_eq!(code, 422, "id {bad:?}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("id"));
    }
    assert_eq!(d.call("GET", "/api/sessions/a%20b", None).await.0, 422);
    assert_eq!(d.call("GET", "/api/sessions/nope", None).await.0, 404);
    // The stream of a session that is not there: a 404, not silence.
    assert_eq!(d.call("GET", "/api/events?session=nope", None).await.0, 404);
    let (code, body) = d.call("PUT", "/api/sessions", Some(json!({}))).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (code, body) = d.call("GET", "/api/nothing-here", None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("route_not_found"))
    );
    assert_eq!(
        d.call("POST", "/api/sessions/nope/start", None).await.0,
        404
    );
    assert_eq!(d.call("DELETE", "/api/sessions/nope", None).await.0, 404);

    let r = c
        .post(format!("{}/api/sessions", d.url))
        .header("X-Api-Key", KEY)
        .header("Content-Type", "application/json")
        .body("{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_request");
    // A path that is not UTF-8 once decoded: each dialect's own 400.
    for (path, code_at, code) in [
        (
            "/api/sessions/%FF",
            "/error/code",
            json!("malformed_request"),
        ),
        (
            "/session/%FF/status",
            "/error/code",
            json!("malformed_request"),
        ),
        (
            "/2010-04-01/Accounts/%FF/Messages.json",
            "/code",
            json!(20001),
        ),
        ("/v21.0/%FF/messages", "/error/code", json!(100)),
    ] {
        let r = c
            .get(format!("{}{path}", d.url))
            .header("X-Api-Key", KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body.pointer(code_at), Some(&code), "{path}: {body}");
    }

    let (code, body) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "w", "webhooks": [{"url": "not a url"}]})),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("webhooks[0].url")
    );

    let (code, body) = d
        .call(
            "POST",
            "/api/sessions",
            Some(json!({"id": "twice", "start": false})),
        )
        .await;
    assert_eq!((code, body["status"].as_str()), (201, Some("STOPPED")));
    let (code, body) = d
        .call("POST", "/api/sessions", Some(json!({"id": "twice"})))
        .await;
    assert_eq!(code, 409);
    assert_eq!(body["error"]["code"], "session_exists");
    let (code, _) = d.call("GET", "/api/sessions/twice/qr", None).await;
    assert_eq!(code, 409);

    // Webhooks are stored, shown with the secret redacted.
    let (code, s) = d
        .call(
            "PUT",
            "/api/sessions/twice/webhooks",
            Some(json!([{"url": "http://127.0.0.1:9/hook", "events": ["message", "session.status"], "secret": "whsec_dGVzdA=="}])),
        )
        .await;
    assert_eq!(code, 200, "{s}");
    assert_eq!(s["webhooks"][0]["secret"], "***");
    assert_eq!(s["webhooks"][0]["format"], "native");
    let (code, _) = d
        .call(
            "PUT",
            "/api/sessions/twice/webhooks",
            Some(json!([{"url": "http://x", "events": ["nope"]}])),
        )
        .await;
    assert_eq!(code, 422);
    // One webhook per url and format: a second would take the first's
    // secret at each attempt.
    let (code, e) = d
        .call(
            "PUT",
            "/api/sessions/twice/webhooks",
            Some(json!([
                {"url": "http://127.0.0.1:9/hook", "events": ["message"]},
                {"url": "http://127.0.0.1:9/hook", "events": ["message.ack"], "secret": "whsec_dGVzdA=="},
            ])),
        )
        .await;
    assert_eq!(code, 422, "{e}");
    assert!(
        e["error"]["message"].as_str().unwrap().contains("[0]"),
        "{e}"
    );
    let (code, _) = d
        .call(
            "PUT",
            "/api/sessions/twice/webhooks",
            Some(json!([
                {"url": "http://127.0.0.1:9/hook", "events": ["message"]},
                {"url": "http://127.0.0.1:9/hook", "format": "simple", "events": ["message"]},
            ])),
        )
        .await;
    assert_eq!(code, 200, "another format is another webhook");

    // A generated id is valid.
    let (code, s) = d
        .call("POST", "/api/sessions", Some(json!({"start": false})))
        .await;
    assert_eq!(code, 201);
    assert!(s["id"].as_str().unwrap().len() > 3);
}

#[tokio::test]
async fn generated_api_key_is_kept_private_and_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = Daemon::start_with(
        &data,
        vec![
            "serve".into(),
            "--wa-url".into(),
            "http://127.0.0.1:9/".into(),
        ],
        vec![("WABRIDGE_API_KEY".into(), "".into())],
    )
    .await;
    let key = std::fs::read_to_string(data.join("api-key")).unwrap();
    let mode = std::fs::metadata(data.join("api-key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Not in the log (stderr is no terminal here): where it is kept is.
    let log = d.proc.log_text();
    assert!(!log.contains(key.trim()), "the key is in the log: {log}");
    assert!(
        log.contains(&data.join("api-key").display().to_string()),
        "{log}"
    );
    let r = http()
        .get(format!("{}/api/sessions", d.url))
        .bearer_auth(key.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(d);
    let d2 = Daemon::start_with(
        &data,
        vec![
            "serve".into(),
            "--wa-url".into(),
            "http://127.0.0.1:9/".into(),
        ],
        vec![("WABRIDGE_API_KEY".into(), "".into())],
    )
    .await;
    assert!(!d2.proc.log_text().contains(key.trim()));
    let r = http()
        .get(format!("{}/api/sessions", d2.url))
        .bearer_auth(key.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The deploy examples' placeholder is refused, not taken as the key.
    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--wa-url",
            "http://127.0.0.1:9/",
        ])
        .arg("--data-dir")
        .arg(tmp.path().join("other"))
        .env("WABRIDGE_API_KEY", "change-me-admin-api-key")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("placeholder"), "{err}");
}

/// Ten sessions linked at once all connect; then, after traffic and a
/// quiet spell longer than an idle thread of tokio's blocking pool lives
/// (10 s), each still runs the browser it was linked with: the kernel ends
/// a browser when the thread that launched it ends (`PR_SET_PDEATHSIG`),
/// and store writes hand workers to that pool (`block_in_place`), where
/// they retire; browsers are launched from a thread that does not.
#[tokio::test]
async fn ten_sessions_at_once_all_connect_and_keep_their_browsers() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &wa_url(&sb), &[]).await;
    // Deliveries leaving the outbox are writes that meet the group flushes.
    let r = Receiver::start().await;
    for i in 0..10 {
        let (code, _) = d
            .call(
                "POST",
                "/api/sessions",
                Some(json!({"id": format!("m{i}"), "webhooks": [{"url": r.url, "events": ["*"]}]})),
            )
            .await;
        assert_eq!(code, 201);
    }
    let links = (0..10).map(|i| {
        let (d, sb) = (&d, &sb);
        async move {
            d.link(sb, &format!("m{i}"), &format!("1555010{i:04}"))
                .await
        }
    });
    let all = futures::future::join_all(links).await;
    for (i, s) in all.iter().enumerate() {
        assert_eq!(s["me"]["phone"], format!("1555010{i:04}"));
    }
    let (_, list) = d.call("GET", "/api/sessions", None).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "CONNECTED")
    );

    let pids: Vec<_> = (0..10).map(|i| d.browser_pid(&format!("m{i}"))).collect();
    assert!(pids.iter().all(Option::is_some), "{pids:?}");
    let phones: Vec<String> = (0..10).map(|i| format!("1555010{i:04}")).collect();
    let bursts = phones
        .iter()
        .map(|p| contact_messages(&sb, p, 50, 5, "burst"));
    let sent = futures::future::join_all(bursts).await;
    let last = &sent[9].last().unwrap().0;
    d.wait_message("m9", last).await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let now: Vec<_> = (0..10).map(|i| d.browser_pid(&format!("m{i}"))).collect();
    let log = d.proc.log_text();
    assert_eq!(now, pids, "browsers replaced: {}", tail(&log, 20));
    assert!(
        !log.contains("relaunching the browser"),
        "{}",
        tail(&log, 20)
    );
}

/// A daemon killed with `kill -9` takes every browser process with it,
/// also those `PR_SET_PDEATHSIG` does not reach: here the browser behind a
/// wrapper script that forks (as Debian's `/usr/bin/chromium-headless-shell`
/// does), left running until the next start before the reaper.
#[tokio::test]
async fn a_killed_daemon_takes_a_wrapped_browser_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let wrapper = tmp.path().join("wrapped-headless-shell");
    // Where Debian keeps the binary its own wrapper runs.
    let real = std::path::Path::new("/usr/lib/chromium/chromium-headless-shell");
    assert!(real.exists(), "chromium-headless-shell is not installed");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\n\"{}\" \"$@\"\n", real.display()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = tmp.path().join("data");
    let wrapper = wrapper.display().to_string();
    let mut d = Daemon::start(&data, &wa_url(&sb), &["--chromium", &wrapper]).await;
    d.create_linked(&sb, "w", "15550004545").await;
    let pgid = d.browser_pid("w").unwrap();
    let profile = format!(
        "--user-data-dir={}",
        data.join("sessions/w/profile").display()
    );
    assert!(!processes_with(&profile).is_empty());
    d.proc.kill9();
    eventually(
        Duration::from_secs(10),
        "no browser process left by the killed daemon",
        || async { (!group_alive(pgid) && processes_with(&profile).is_empty()).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn full_chromium_works_too() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let data = tmp.path().join("data");
    let mut d = Daemon::start(&data, &wa_url(&sb), &["--browser", "chromium"]).await;
    d.create_linked(&sb, "full", "15550004444").await;
    // Its linked page goes to the background too (a minimized window).
    eventually(LONG, "the linked page to be hidden", || async {
        (page_says(&d, "full", "document.visibilityState").await == "hidden").then_some(())
    })
    .await;
    let pgid = d.browser_pid("full").unwrap();
    let cmd = std::fs::read(format!("/proc/{pgid}/cmdline")).unwrap();
    assert!(String::from_utf8_lossy(&cmd).contains("--headless=new"));
    assert!(d.proc.terminate().success());
    assert!(!group_alive(pgid));
    let d2 = d.restart_same().await;
    d2.wait_status("full", "CONNECTED", LONG).await;
}

/// A linked session that is stopped still holds a device slot on the phone:
/// deleting (or logging out) it must tell WhatsApp, not just forget it here.
/// So must one between browsers, its last one crashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_or_logging_out_a_stopped_linked_session_unlinks_the_device() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("data"), &format!("{}/", sb.url), &[]).await;
    for (id, phone, how) in [
        ("gone", "15550007001", "DELETE"),
        ("out", "15550007002", "logout"),
        ("crashed", "15550007003", "logout after a crash"),
    ] {
        d.create_linked(&sb, id, phone).await;
        assert_eq!(sb.linked_devices(phone).await, 1);
        if how == "logout after a crash" {
            // Logged out while its driver waits to launch a new browser.
            let pid = d.browser_pid(id).unwrap();
            unsafe { libc::kill(pid, libc::SIGKILL) };
            d.wait_status(id, "DISCONNECTED", Duration::from_secs(30))
                .await;
        } else {
            let (code, _) = d
                .call("POST", &format!("/api/sessions/{id}/stop"), None)
                .await;
            assert_eq!(code, 200);
            d.wait_status(id, "STOPPED", Duration::from_secs(30)).await;
        }
        if how == "DELETE" {
            keep_uploads(&d, id).await;
        }
        let (code, body) = match how {
            "DELETE" => d.call("DELETE", &format!("/api/sessions/{id}"), None).await,
            _ => {
                d.call("POST", &format!("/api/sessions/{id}/logout"), None)
                    .await
            }
        };
        assert_eq!(code, 200, "{how} {id}: {body}");
        assert_eq!(
            sb.linked_devices(phone).await,
            0,
            "{how} of a stopped session left the device linked"
        );
    }
    assert_eq!(d.session("out").await["status"], "LOGGED_OUT");
    assert_eq!(d.session("crashed").await["status"], "LOGGED_OUT");
    let (code, _) = d.call("GET", "/api/sessions/gone", None).await;
    assert_eq!(code, 404);
    // Its uploads went with it: none is served, none left on disk.
    let (code, e) = d
        .call("GET", &format!("/v21.0/{}", uploaded_handle(&d)), None)
        .await;
    assert_eq!((code, e["error"]["code"].clone()), (400, json!(100)), "{e}");
    let left: Vec<_> = std::fs::read_dir(d.data_dir.join("uploads"))
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "uploads left behind: {left:?}");
}

/// The handle of the media [`keep_uploads`] uploaded, kept in a file of
/// the test's own beside the data dir.
fn uploaded_handle(d: &Daemon) -> String {
    std::fs::read_to_string(d.data_dir.with_extension("handle")).unwrap()
}

/// Uploads media for `id` through Graph's Resumable Upload API (one whole,
/// one left half done) and checks the whole one is served.
async fn keep_uploads(d: &Daemon, id: &str) {
    let c = reqwest::Client::new();
    let begin = |len: u64| {
        c.post(format!(
            "{}/v21.0/{id}/uploads?file_name=a.png&file_length={len}&file_type=image/png",
            d.url
        ))
        .header("Authorization", format!("Bearer {KEY}"))
        .send()
    };
    let part = |up: String, bytes: &'static [u8]| {
        c.post(format!("{}/v21.0/{up}", d.url))
            .header("Authorization", format!("OAuth {KEY}"))
            .header("file_offset", "0")
            .body(bytes)
            .send()
    };
    let whole: Value = begin(4).await.unwrap().json().await.unwrap();
    let done: Value = part(whole["id"].as_str().unwrap().to_string(), b"\x89PNG")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let handle = done["h"].as_str().expect("a handle").to_string();
    let half: Value = begin(8).await.unwrap().json().await.unwrap();
    let r = part(half["id"].as_str().unwrap().to_string(), b"\x89PNG")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, m) = d.call("GET", &format!("/v21.0/{handle}"), None).await;
    assert_eq!(code, 200, "{m}");
    std::fs::write(d.data_dir.with_extension("handle"), handle).unwrap();
}

/// What the session's own page says about itself, asked through a second
/// DevTools connection to its browser (the daemon keeps its own).
async fn page_says(d: &Daemon, id: &str, expression: &str) -> String {
    use futures::StreamExt;
    let file = d
        .data_dir
        .join("sessions")
        .join(id)
        .join("profile")
        .join("DevToolsActivePort");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = text.lines();
    let (port, path) = (lines.next().unwrap(), lines.next().unwrap());
    let (mut browser, mut handler) =
        chromiumoxide::Browser::connect(format!("ws://127.0.0.1:{port}{path}"))
            .await
            .unwrap();
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    browser.fetch_targets().await.unwrap();
    let page = eventually(Duration::from_secs(10), "the session's page", || {
        let browser = &browser;
        async move { browser.pages().await.ok()?.into_iter().next() }
    })
    .await;
    let v: String = page
        .evaluate(expression)
        .await
        .unwrap()
        .into_value()
        .unwrap();
    events.abort();
    v
}

/// A linked page is hidden as a background tab (its timers then wake once a
/// second, which at a hundred sessions saves much of the browsers' CPU), and
/// what it receives still reaches the API, in order. That the hand-off waits
/// on no timer is bridge.js's own test (inject/test/background.test.mjs).
/// `--browser-foreground` keeps the page in front.
#[tokio::test]
async fn a_linked_page_runs_in_the_background_and_still_hands_over_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let d = Daemon::start(&tmp.path().join("bg"), &wa_url(&sb), &[]).await;
    d.create_linked(&sb, "bg", "15550006001").await;
    eventually(LONG, "the linked page to be hidden", || async {
        (page_says(&d, "bg", "document.visibilityState").await == "hidden").then_some(())
    })
    .await;
    // Its timers are a background tab's, woken on whole seconds: three
    // 10 ms ones in a row take two seconds or more.
    let slow = page_says(
        &d,
        "bg",
        "(async () => { const t = performance.now(); for (let i = 0; i < 3; i++) await new Promise(r => setTimeout(r, 10)); return String(performance.now() - t > 1500); })()",
    )
    .await;
    assert_eq!(slow, "true", "the page's timers are not throttled");
    // Messages still reach the history, in order.
    for i in 0..10 {
        let (code, body) = sb
            .post(
                "/_sandbox/messages",
                json!({"from": "15551239000", "to": "15550006001", "text": format!("bg {i}")}),
            )
            .await;
        assert_eq!(code, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        d.wait_message("bg", &id).await;
    }
    let (_, list) = d
        .call(
            "GET",
            "/api/sessions/bg/messages?chat=%2B15551239000&limit=10",
            None,
        )
        .await;
    let texts: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    let want: Vec<String> = (0..10).rev().map(|i| format!("bg {i}")).collect();
    assert_eq!(texts, want, "{list}");

    let fg = Daemon::start(
        &tmp.path().join("fg"),
        &wa_url(&sb),
        &["--browser-foreground"],
    )
    .await;
    fg.create_linked(&sb, "fg", "15550006002").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        page_says(&fg, "fg", "document.visibilityState").await,
        "visible"
    );
}

/// Lifecycle calls on one session take turns. A start racing a DELETE
/// never brings a browser back for a session that is gone; two DELETEs of
/// a linked session log the device out once, cleanly; a session whose
/// phone dropped the device while it was stopped shows a QR, not the old
/// account, and is deleted without waiting out the load timeout; a start
/// is announced as STARTING.
#[tokio::test]
async fn lifecycle_calls_on_one_session_take_turns() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let data = tmp.path().join("data");
    // A long load timeout, so a delete that waited for it (the bug) is
    // told apart from a slow launch on a busy machine.
    let d = Daemon::start(&data, &wa_url(&sb), &["--load-timeout", "150"]).await;

    for round in 0..4 {
        let id = format!("race{round}");
        let (code, body) = d
            .call("POST", "/api/sessions", Some(json!({"id": id})))
            .await;
        assert_eq!(code, 201, "{body}");
        d.wait_status(&id, "SCAN_QR", LONG).await;
        assert_eq!(
            d.call("POST", &format!("/api/sessions/{id}/stop"), None)
                .await
                .0,
            200
        );
        let path = format!("/api/sessions/{id}");
        let start = format!("/api/sessions/{id}/start");
        let (deleted, started) = tokio::join!(
            d.call("DELETE", &path, None),
            futures::future::join_all((0..3).map(|_| d.call("POST", &start, None)))
        );
        assert_eq!(deleted.0, 200, "{}", deleted.1);
        for (code, body) in started {
            assert!(
                code == 200 || code == 404,
                "start racing a delete: {code} {body}"
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(d.call("GET", &path, None).await.0, 404);
        let profile = data.join("sessions").join(&id);
        assert!(
            processes_with(&profile.to_string_lossy()).is_empty(),
            "a browser outlived its deleted session {id}"
        );
        assert!(!profile.exists(), "{} is back", profile.display());
    }

    // Two DELETEs of a linked session at once: one logs it out.
    d.create_linked(&sb, "twice", "15550008001").await;
    let (a, b) = tokio::join!(
        d.call("DELETE", "/api/sessions/twice", None),
        d.call("DELETE", "/api/sessions/twice", None)
    );
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [200, 404], "{a:?} {b:?}");
    assert_eq!(
        sb.linked_devices("15550008001").await,
        0,
        "the device is still linked"
    );

    // Dropped by the phone while stopped: deleted at once, not after the
    // load timeout...
    d.create_linked(&sb, "dropped", "15550008002").await;
    assert_eq!(
        d.call("POST", "/api/sessions/dropped/stop", None).await.0,
        200
    );
    sb.post("/_sandbox/accounts/15550008002/unlink", json!({}))
        .await;
    let t0 = Instant::now();
    assert_eq!(d.call("DELETE", "/api/sessions/dropped", None).await.0, 200);
    assert!(
        t0.elapsed() < Duration::from_secs(75),
        "took {:?}",
        t0.elapsed()
    );

    // ...and, started again, it shows a QR and no longer the old account.
    d.create_linked(&sb, "relink", "15550008003").await;
    assert_eq!(
        d.call("POST", "/api/sessions/relink/stop", None).await.0,
        200
    );
    sb.post("/_sandbox/accounts/15550008003/unlink", json!({}))
        .await;
    assert_eq!(
        d.call("POST", "/api/sessions/relink/start", None).await.0,
        200
    );
    let s = d.wait_status("relink", "SCAN_QR", LONG).await;
    assert!(s["me"].is_null(), "{s}");
    let statuses = statuses_until(&d, "relink", "SCAN_QR", 2).await;
    assert!(
        statuses.windows(2).any(|w| w == ["STOPPED", "STARTING"]),
        "the start is announced: {statuses:?}"
    );
    // The link's end is said, whichever of WhatsApp's logout and its QR the
    // page heard first, and the session runs on to its QR.
    let restart = statuses.iter().rposition(|s| *s == "STOPPED").unwrap();
    let after = &statuses[restart..];
    let gone = after.iter().position(|s| *s == "LOGGED_OUT");
    let qr = after.iter().position(|s| *s == "SCAN_QR");
    assert!(
        gone.is_some() && gone < qr,
        "LOGGED_OUT, then SCAN_QR: {statuses:?}"
    );
    assert_eq!(d.session("relink").await["status"], "SCAN_QR");

    // A client that hangs up (or times out) mid-call does not cut the
    // change short. A frozen page makes the delete take a while (its
    // logout times out): the session is still removed, with its browser.
    d.create_linked(&sb, "hangup", "15550008004").await;
    let pgid = d.browser_pid("hangup").unwrap();
    unsafe { libc::kill(-pgid, libc::SIGSTOP) };
    let gone = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .delete(format!("{}/api/sessions/hangup", d.url))
        .header("X-Api-Key", KEY)
        .send()
        .await;
    assert!(gone.is_err(), "the delete answered within 300 ms: {gone:?}");
    let t0 = Instant::now();
    while d.call("GET", "/api/sessions/hangup", None).await.0 != 404 {
        assert!(
            t0.elapsed() < LONG,
            "the delete stopped with its client: {}",
            d.session("hangup").await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Killed before the session went; the kernel ends a stopped process
    // group a moment later (the daemon waits for it, boundedly).
    eventually(
        Duration::from_secs(10),
        "the frozen browser to end with its session",
        || async { (!group_alive(pgid)).then_some(()) },
    )
    .await;
    assert!(!data.join("sessions").join("hangup").exists());
}

/// CONNECTED means the page can send: a device that has authenticated but
/// that WhatsApp is still syncing (seconds on a real account, after a link
/// and after a restart) is not reported connected before it is online, so
/// a client that sends on CONNECTED is not refused.
#[tokio::test]
async fn connected_means_a_send_goes_through_even_while_whatsapp_syncs() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let (code, v) = sb.post("/_sandbox/slow-sync", json!({"ms": 1500})).await;
    assert_eq!(code, 200, "{v}");
    let data = tmp.path().join("data");
    let mut d = Daemon::start(&data, &wa_url(&sb), &[]).await;
    let send = |d: &Daemon, text: &'static str| {
        let url = d.url.clone();
        async move {
            let r = http()
                .post(format!("{url}/api/sessions/s1/messages"))
                .header("X-Api-Key", KEY)
                .json(&json!({"to": "15557770101", "text": text}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    d.create_linked(&sb, "s1", "15550002299").await;
    let (code, body) = send(&d, "right after the link").await;
    assert_eq!(code, 201, "{body}");
    d.proc.kill9();
    let d2 = d.restart_same().await;
    d2.wait_status("s1", "CONNECTED", LONG).await;
    let (code, body) = send(&d2, "right after the restart").await;
    assert_eq!(code, 201, "{body}");
}

/// `POST .../logout`, its answer not waited for (the daemon is to be
/// killed while it runs).
fn logout_unanswered(d: &Daemon, id: &str) -> tokio::task::JoinHandle<()> {
    let url = format!("{}/api/sessions/{id}/logout", d.url);
    tokio::spawn(async move {
        let _ = http()
            .post(url)
            .header("Authorization", format!("Bearer {KEY}"))
            .send()
            .await;
    })
}

/// A few seconds after a restart, the session is stopped, with no browser.
async fn stays_stopped(d: Daemon, id: &str) {
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = d.session(id).await;
    assert_eq!(s["status"], "STOPPED", "{s}");
    assert!(d.browser_pid(id).is_none_or(|p| !group_alive(p)));
}

/// A running session logged out while WhatsApp cannot hear it (its page
/// cannot say it, and a page brought up to say it waits): a daemon killed
/// meanwhile does not bring it back running (it was still marked to run).
#[tokio::test]
async fn a_daemon_killed_while_logging_out_a_running_session_does_not_bring_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let mut d = Daemon::start(&tmp.path().join("data"), &wa_url(&sb), &[]).await;
    d.create_linked(&sb, "k2", "15550007005").await;
    // WhatsApp out of reach: the page cannot say the logout, and a page
    // brought up to say it waits to connect.
    drop(sb);
    let logout = logout_unanswered(&d, "k2");
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.proc.kill9();
    logout.abort();
    stays_stopped(d.restart_same().await, "k2").await;
}

/// A stopped, linked session is brought up only to tell WhatsApp of its
/// logout: a daemon killed meanwhile does not bring it back running (it
/// was marked to run, and came back linked after the user had asked it
/// logged out).
#[tokio::test]
async fn a_daemon_killed_while_logging_out_a_stopped_session_does_not_bring_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(tmp.path(), &[]).await;
    let mut d = Daemon::start(&tmp.path().join("data"), &wa_url(&sb), &[]).await;
    d.create_linked(&sb, "k1", "15550007004").await;
    let (code, _) = d.call("POST", "/api/sessions/k1/stop", None).await;
    assert_eq!(code, 200);
    d.wait_status("k1", "STOPPED", Duration::from_secs(30))
        .await;
    // WhatsApp out of reach: the page brought up for the logout waits.
    tokio::time::sleep(Duration::from_millis(600)).await;
    drop(sb);
    let logout = logout_unanswered(&d, "k1");
    eventually(Duration::from_secs(30), "the logout's browser", || async {
        d.browser_pid("k1").filter(|p| group_alive(*p))
    })
    .await;
    d.proc.kill9();
    logout.abort();
    stays_stopped(d.restart_same().await, "k1").await;
}
