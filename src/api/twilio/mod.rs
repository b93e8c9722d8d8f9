//! The Twilio dialect: backends written for Twilio's Messages API (the
//! `twilio` SDKs, form webhooks, TwiML replies) run against a linked number.
//! * `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (create), `GET`
//!   the same (list, paged, filtered), `GET .../Messages/{sid}.json`;
//!   the session is the one whose number is `From`, else the one named by
//!   the AccountSid; Basic auth `AccountSid:<API key>`;
//! * webhooks (`format: "twilio"`): Twilio's form fields, `X-Twilio-Signature`;
//!   TwiML answers are sent back (`replies`); `StatusCallback` gets
//!   `MessageStatus` posts.
//!
//! Pure conversions in `convert`, handlers in `handlers`, bodies in `webhook`.

pub mod convert;
mod handlers;
pub mod webhook;

use crate::api::auth::{ActAs, Denied, Guard, Keys, require_key};
use crate::core::{Core, SendRequest};
use crate::domain::{SessionId, Wid};
use crate::webhook::Reply;
use axum::{
    Json, Router,
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use handlers as h;
use tokio::sync::mpsc;

#[derive(Clone)]
pub struct Twilio {
    core: Core,
}

/// A refused key, in Twilio's shape (code 20003).
fn deny(_: Denied) -> Response {
    let e = convert::TwilioError::new(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    (e.status, Json(e.body())).into_response()
}

/// Twilio's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(h::create, h::list, h::fetch, h::media_list, h::media))]
pub struct Doc;

impl ActAs for Twilio {
    fn act_as(mut self, access: crate::domain::Access) -> Self {
        self.core = self.core.acting_as(access);
        self
    }
}

pub fn routes(core: Core, keys: Keys) -> Router {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            get(h::list).post(h::create),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{sid}",
            get(h::fetch),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json",
            get(h::media_list),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Messages/{sid}/Media/{media}",
            get(h::media),
        )
        .route_layer(middleware::from_fn_with_state(
            Guard::new(keys, deny),
            require_key,
        ))
        .with_state(Twilio { core })
}

/// Sends what receivers answer to inbound messages in TwiML back to the
/// sender (a `to` attribute names another recipient). `<Response/>` sends
/// nothing.
pub async fn serve_replies(core: Core, mut replies: mpsc::UnboundedReceiver<Reply>) {
    // A delivery answered twice (a retry after a lost acknowledgement)
    // replies once; the last few thousand are remembered.
    let mut seen: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    while let Some(r) = replies.recv().await {
        if r.delivery.hook.format != crate::domain::Format::Twilio || seen.contains(&r.delivery.id)
        {
            continue;
        }
        seen.push_back(r.delivery.id.clone());
        if seen.len() > 4096 {
            seen.pop_front();
        }
        // Each reply on its own: a slow media fetch delays only itself.
        tokio::spawn(reply(core.clone(), r));
    }
}

/// Sends one receiver's TwiML answer: its media URLs reach what the
/// webhook's do (a tenant's, public addresses only).
async fn reply(core: Core, r: Reply) {
    if r.delivery.hook.no_replies {
        tracing::warn!(session = %r.delivery.session, url = %crate::webhook::dispatcher::loggable(&r.delivery.hook.url), "the webhook was set by a key that may not send through this session: its TwiML answer is not sent");
        return;
    }
    let core = if r.delivery.hook.scoped {
        core.for_tenant()
    } else {
        core
    };
    let messages = match convert::twiml(&r.body) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(session = %r.delivery.session, url = %crate::webhook::dispatcher::loggable(&r.delivery.hook.url), "the webhook's answer is not TwiML ({e}); nothing sent");
            return;
        }
    };
    let session: SessionId = r.delivery.session.clone();
    let sender = r.delivery.event.payload["chat"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let mut n = 0;
    for m in messages {
        let to = match m.to.as_deref() {
            Some(t) => convert::address_phone(t)
                .ok()
                .and_then(|p| Wid::parse(&p).ok()),
            None => Wid::parse(&sender).ok(),
        };
        let Some(to) = to else {
            tracing::warn!(session = %session, "a TwiML <Message> names no valid recipient; not sent");
            continue;
        };
        let body = (!m.body.is_empty()).then_some(m.body.clone());
        // (text, media URL, caption): one media per WhatsApp message, the
        // body captioning the first.
        let parts: Vec<(Option<String>, Option<String>, Option<String>)> = if m.media.is_empty() {
            vec![(body, None, None)]
        } else {
            m.media
                .iter()
                .enumerate()
                .map(|(i, url)| (None, Some(url.clone()), body.clone().filter(|_| i == 0)))
                .collect()
        };
        for (text, url, caption) in parts {
            n += 1;
            let key = format!("twiml:{}:{n}", r.delivery.id);
            let make = || SendRequest {
                mentions: vec![],
                style: None,
                special: None,
                voice: false,
                to: to.clone(),
                text: text.clone(),
                media: url.clone().map(|url| crate::core::OutgoingMedia {
                    source: crate::core::MediaSource::url(url),
                    mimetype: None,
                    filename: None,
                    sticker: false,
                    document: false,
                    view_once: false,
                    gif: false,
                }),
                caption: caption.clone(),
                reply_to: None,
                menu: None,
            };
            send_reply(&core, &session, make, &key).await;
        }
    }
}

/// How long a TwiML reply keeps trying through passing failures.
const REPLY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

/// Sends one message of a TwiML reply. The receiver has its 2xx and will
/// not answer again, so a passing failure (the session reconnecting, its
/// send queue full, a send whose outcome was lost) is tried again, under
/// one Idempotency-Key, so that a message that did go out goes once, for
/// up to `REPLY_PATIENCE`; a refusal (no such number, a bad media URL) is
/// final.
async fn send_reply(core: &Core, session: &SessionId, make: impl Fn() -> SendRequest, key: &str) {
    use crate::core::CoreError;
    let until = tokio::time::Instant::now() + REPLY_PATIENCE;
    let mut pause = std::time::Duration::from_secs(2);
    loop {
        match core.send(session, make(), Some(key)).await {
            Ok(_) => return,
            Err(
                e @ (CoreError::NotReady(_)
                | CoreError::Unavailable(_)
                | CoreError::IdempotencyInProgress
                | CoreError::RateLimited { .. }
                | CoreError::Overloaded { .. }
                | CoreError::StorageFull(_)),
            ) if tokio::time::Instant::now() + pause < until => {
                tracing::debug!(session = %session, "a TwiML reply waits to be sent: {e}");
                let wait = e
                    .retry_after_secs()
                    .map(std::time::Duration::from_secs)
                    .unwrap_or(pause)
                    .max(pause);
                tokio::time::sleep(wait).await;
                // Soon after the session is back: at most 15 s late.
                pause = (pause * 2).min(std::time::Duration::from_secs(15));
            }
            Err(e) => {
                tracing::warn!(session = %session, "a TwiML reply could not be sent: {e}");
                return;
            }
        }
    }
}
