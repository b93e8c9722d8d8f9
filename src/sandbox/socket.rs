//! The push channel between the sandbox's servers and a page, like
//! WhatsApp's own WebSocket. JSON text frames, `t` names the kind.

use super::Sandbox;
use axum::{
    extract::{State, WebSocketUpgrade, ws::Message},
    response::Response,
};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};

pub async fn upgrade(ws: WebSocketUpgrade, State(sb): State<Sandbox>) -> Response {
    if sb.world.lock().await.refuse_sockets {
        use axum::response::IntoResponse;
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.max_message_size(64 << 20)
        .on_upgrade(move |socket| serve(socket, sb))
}

async fn serve(socket: axum::extract::ws::WebSocket, sb: Sandbox) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let conn = {
        let mut w = sb.world.lock().await;
        // Switched on since the upgrade was let through.
        if w.refuse_sockets {
            return;
        }
        w.add_conn(tx)
    };
    let mut rotate = tokio::time::interval(sb.cfg.qr_interval);
    rotate.tick().await;
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(text) => if sink.send(Message::Text(text.into())).await.is_err() { break },
                // The world dropped us (POST /_sandbox/drop).
                None => break,
            },
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&text) {
                        handle(&sb, conn, v).await;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = rotate.tick() => {
                sb.world.lock().await.rotate_qr(conn, sb.cfg.qr_codes, false);
            }
        }
    }
    sb.world.lock().await.remove_conn(conn);
    let _ = sink.close().await;
}

async fn handle(sb: &Sandbox, conn: u64, v: Value) {
    let req = v.get("req").cloned().unwrap_or(Value::Null);
    let mut w = sb.world.lock().await;
    let reply = |w: &World, body: Value| {
        if let Some(c) = w.conns.get(&conn) {
            let _ = c.tx.send(body.to_string());
        }
    };
    use super::world::World;
    match v["t"].as_str().unwrap_or("") {
        "hello" => w.hello(conn, v["token"].as_str()),
        "received" => {
            let ids: Vec<String> = v["ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            w.received(conn, &ids);
        }
        "send" if w.lose_sends => {}
        "send" => match w.outbound(conn, &v["msg"]) {
            Ok(msg) => {
                if !w.lose_replies {
                    reply(
                        &w,
                        json!({"t": "result", "req": req, "ok": true, "value": msg}),
                    );
                }
                let id = msg["id"].as_str().unwrap_or_default().to_string();
                let world = sb.world.clone();
                let delay = sb.cfg.ack_delay;
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    world.lock().await.deliver(&id);
                });
            }
            Err(e) => reply(
                &w,
                json!({"t": "result", "req": req, "ok": false, "error": e}),
            ),
        },
        "exists" => {
            let phone = v["phone"].as_str().unwrap_or("");
            let exists = !phone.is_empty() && !w.p.unregistered.contains(phone);
            reply(
                &w,
                json!({"t": "result", "req": req, "ok": true, "value": exists}),
            );
        }
        // A message a send quotes that the page no longer keeps in memory.
        "quoted" => {
            let id = v["id"].as_str().unwrap_or("");
            let held = w.held(conn, id).map(|m| {
                let quote = w
                    .conn_phone(conn)
                    .and_then(|p| w.p.accounts.get(&p)?.quote(id));
                json!({"revoked": m.revoked, "ack": m.ack, "quote": quote})
            });
            reply(
                &w,
                json!({"t": "result", "req": req, "ok": true, "value": held}),
            );
        }
        "history" => {
            let list = w.history(
                conn,
                v["chat"].as_str().unwrap_or(""),
                v["before"].as_str(),
                v["count"].as_u64().unwrap_or(20).min(1000) as usize,
            );
            reply(
                &w,
                json!({"t": "result", "req": req, "ok": true, "value": list}),
            );
        }
        "message" => {
            let held = w
                .held(conn, v["id"].as_str().unwrap_or(""))
                .map(|m| m.wire());
            reply(
                &w,
                json!({"t": "result", "req": req, "ok": true, "value": held}),
            );
        }
        "read" => {
            w.mark_read(conn, v["chat"].as_str().unwrap_or(""));
            reply(
                &w,
                json!({"t": "result", "req": req, "ok": true, "value": true}),
            );
        }
        "logout" => {
            w.device_logout(conn, v["token"].as_str());
            reply(
                &w,
                json!({"t": "result", "req": req, "ok": true, "value": true}),
            );
        }
        t @ ("presence_chat" | "presence_available" | "presence_subscribe" | "profile"
        | "block" | "my_profile" | "my_profile_set" | "my_business_set") => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_people_call(&me, t, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        t @ ("contact_save" | "contact_remove") => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_contact_call(&me, t, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        t @ ("label_add" | "label_edit" | "label_delete" | "label_chats") => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_label_call(&me, t, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        "note_set" => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.set_note(
                    &me,
                    v["chat"].as_str().unwrap_or(""),
                    v["content"].as_str().unwrap_or(""),
                ),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        "call_reject" => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_reject_call(&me, v["id"].as_str().unwrap_or("")),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        t @ ("delete_for_me" | "chat_clear" | "star") => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_forget_call(&me, t, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        "find" => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_find(&me, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        "msg_info" => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.msg_info(&me, v["id"].as_str().unwrap_or("")),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        "pin" => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_pin_call(&me, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        "chat_state" => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_chat_call(&me, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        t if t.starts_with("channel_") => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_channel_call(&me, t, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        t if t.starts_with("community_") => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_community_call(&me, t, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        t if t.starts_with("group") => {
            let res = match w.conn_phone(conn) {
                Some(me) => w.device_group_call(&me, t, &v),
                None => Err("device is not linked".into()),
            };
            reply(&w, answer(&req, res));
        }
        "lid_entry" => {
            let entry = w.lid_entry(v["id"].as_str().unwrap_or(""));
            let body = json!({"t": "result", "req": req, "ok": true, "value": entry});
            match w.conns.get(&conn) {
                Some(c) if w.slow_lookups => {
                    let tx = c.tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        let _ = tx.send(body.to_string());
                    });
                }
                _ => reply(&w, body),
            }
        }
        "pair_code" => {
            let phone = crate::domain::parse_phone(v["phone"].as_str().unwrap_or(""));
            let res = phone
                .map_err(|e| format!("invalid phone number: {e}"))
                .and_then(|p| w.pair_code(conn, &p))
                .map(Value::from);
            reply(&w, answer(&req, res));
        }
        "react" | "edit" | "revoke" => {
            use super::world::{Actor, ChangeError};
            let id = v["id"].as_str().unwrap_or("");
            let res = if !w.device_holds(conn, id) {
                Err(ChangeError::NotFound)
            } else {
                match v["t"].as_str() {
                    Some("react") => {
                        w.react(id, Actor::Account, None, v["emoji"].as_str().unwrap_or(""))
                    }
                    Some("edit") => w.edit(id, Actor::Account, v["text"].as_str().unwrap_or("")),
                    _ => w.revoke(id, Actor::Account, None),
                }
            };
            let body = match res {
                Ok(_) => json!({"t": "result", "req": req, "ok": true, "value": true}),
                Err(e) => {
                    json!({"t": "result", "req": req, "ok": false, "error": super::world::change_error(&e, id)})
                }
            };
            reply(&w, body);
        }
        "refresh_qr" => {
            w.rotate_qr(conn, u32::MAX, true);
            reply(
                &w,
                json!({"t": "result", "req": req, "ok": true, "value": true}),
            );
        }
        _ => {}
    }
}

/// A device call's answer: its value, or why not.
fn answer(req: &Value, res: Result<Value, String>) -> Value {
    match res {
        Ok(value) => json!({"t": "result", "req": req, "ok": true, "value": value}),
        Err(e) => json!({"t": "result", "req": req, "ok": false, "error": e}),
    }
}
