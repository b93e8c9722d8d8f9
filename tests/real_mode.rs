//! Real mode up to the network's edge: WhatsApp itself cannot be reached
//! here, so these check that a page that is not WhatsApp fails clearly, and
//! that wa-js really is injected into a real page.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain web page on 127.0.0.1 that is not WhatsApp Web.
async fn not_whatsapp() -> String {
    page_with("<!doctype html><title>Not WhatsApp</title><p>hello</p>").await
}

/// A page on 127.0.0.1 serving `body`.
async fn page_with(body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/")
}

fn wajs_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("inject/node_modules/@wppconnect/wa-js/dist/wppconnect-wa.js")
}

#[tokio::test]
async fn a_page_that_is_not_whatsapp_fails_clearly_instead_of_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let url = not_whatsapp().await;
    let wajs = wajs_path().to_string_lossy().to_string();
    let d = Daemon::start(
        &tmp.path().join("data"),
        &url,
        &["--load-timeout", "5", "--wajs-path", &wajs],
    )
    .await;
    d.call("POST", "/api/sessions", Some(json!({"id": "real"})))
        .await;
    let s = d
        .wait_status("real", "FAILED", Duration::from_secs(40))
        .await;
    let err = s["error"].as_str().unwrap();
    assert!(err.contains("WhatsApp Web did not start"), "{err}");
    assert!(err.contains("wa-js was injected"), "{err}");
    assert!(err.contains("Not WhatsApp"), "{err}");
    assert!(
        d.browser_pid("real").is_none(),
        "browser closed after failing"
    );

    // Nothing listening: the page cannot load at all.
    let port = free_port();
    let d2 = Daemon::start(
        &tmp.path().join("data2"),
        &format!("http://127.0.0.1:{port}/"),
        &["--load-timeout", "5"],
    )
    .await;
    d2.call("POST", "/api/sessions", Some(json!({"id": "gone"})))
        .await;
    let s = d2
        .wait_status("gone", "FAILED", Duration::from_secs(40))
        .await;
    let err = s["error"].as_str().unwrap();
    assert!(
        err.contains("could not be loaded") && err.contains("ERR_CONNECTION_REFUSED"),
        "{err}"
    );
}

#[tokio::test]
async fn wajs_is_injected_into_a_real_page() {
    use wabridge::session::{bridge, browser};
    let tmp = tempfile::tempdir().unwrap();
    let url = not_whatsapp().await;
    let src =
        std::fs::read_to_string(wajs_path()).expect("wa-js installed: run `npm ci` in inject/");
    let spec = browser::BrowserSpec {
        kind: wabridge::config::BrowserKind::Auto,
        executable: None,
        no_sandbox: false,
        frames: false,
        multi_process: false,
        background: false,
    };
    let b = browser::launch(&spec, tmp.path(), None, Duration::from_secs(20))
        .await
        .unwrap();
    b.page.goto(url).await.unwrap();
    let t = Duration::from_secs(20);
    assert!(
        bridge::inject_wajs_if_missing(&b.page, t, &src)
            .await
            .unwrap()
    );
    let kind: String = bridge::evaluate(&b.page, t, "typeof window.WPP")
        .await
        .unwrap();
    assert_eq!(kind, "object");
    let version: String = bridge::evaluate(&b.page, t, "WPP.version").await.unwrap();
    assert_eq!(version, "4.6.0");
    // Not twice: the second call sees WPP and leaves it.
    assert!(
        !bridge::inject_wajs_if_missing(&b.page, t, &src)
            .await
            .unwrap()
    );
    b.shutdown().await;
}

fn wabridge() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_wabridge"))
}

/// A wa-js file whose `WPP` lacks most of what bridge.js calls.
fn broken_wajs(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("broken-wa.js");
    std::fs::write(&p, "window.WPP = { version: '9.9.9', chat: {}, conn: {} };").unwrap();
    p
}

#[tokio::test]
async fn doctor_checks_a_wajs_file_and_a_broken_one_stops_the_daemon_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let out = wabridge()
        .arg("doctor")
        .arg("--wajs")
        .arg(wajs_path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("4.6.0") && text.contains("ok"), "{text}");
    assert!(
        !text.contains("lacking:"),
        "wa-js 4.6.0 has what single features need: {text}"
    );

    let broken = broken_wajs(tmp.path());
    let out = wabridge()
        .arg("doctor")
        .arg("--wajs")
        .arg(&broken)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("9.9.9") && text.contains("WPP.chat.sendTextMessage"),
        "{text}"
    );
    // What single features need is told apart from what every session needs.
    assert!(
        text.contains("lacking:      WPP.whatsapp.functions.msgFindSearch"),
        "{text}"
    );

    // The daemon refuses to start on it, saying what is missing.
    let port = free_port();
    let out = wabridge()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(tmp.path().join("data"))
        .env("WABRIDGE_WAJS", &broken)
        .env("WABRIDGE_API_KEY", KEY)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("lacks what wabridge needs") && err.contains("chat.sendTextMessage"),
        "{err}"
    );
}

/// An operator's newer wa-js is the one injected (its version shows), and
/// WhatsApp Web that wa-js cannot come up on is INCOMPATIBLE, not FAILED.
#[tokio::test]
async fn the_operators_wajs_is_used_and_a_build_it_cannot_run_on_is_incompatible() {
    let tmp = tempfile::tempdir().unwrap();
    let src =
        std::fs::read_to_string(wajs_path()).expect("wa-js installed: run `npm ci` in inject/");
    assert!(
        src.contains("t.version=\"4.6.0\""),
        "the bundle's version literal moved"
    );
    let newer = tmp.path().join("wppconnect-wa.js");
    std::fs::write(
        &newer,
        src.replace("t.version=\"4.6.0\"", "t.version=\"4.6.0-ops\""),
    )
    .unwrap();
    // WhatsApp Web of a build no wa-js knows: it has a build number, and
    // none of the internals wa-js looks for.
    let url = page_with(
        "<!doctype html><title>WhatsApp</title><script>window.Debug = { VERSION: '2.3000.1999999999' };</script>",
    )
    .await;
    let d = Daemon::start_with(
        &tmp.path().join("data"),
        vec![
            "serve".into(),
            "--wa-url".into(),
            url,
            "--load-timeout".into(),
            "5".into(),
        ],
        vec![("WABRIDGE_WAJS".into(), newer.to_string_lossy().into())],
    )
    .await;
    d.call("POST", "/api/sessions", Some(json!({"id": "real"})))
        .await;
    let s = d
        .wait_status("real", "INCOMPATIBLE", Duration::from_secs(40))
        .await;
    assert_eq!(s["details"]["wa_js"], "4.6.0-ops", "{s}");
    assert_eq!(s["details"]["wa_web"], "2.3000.1999999999", "{s}");
    assert!(
        s["error"].as_str().unwrap().contains("did not come up"),
        "{s}"
    );
}
