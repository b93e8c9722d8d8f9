//! The middleware in front of every dialect: a request for a session homed
//! on another peer is streamed there and its answer streamed back
//! unchanged; lists are merged from every peer; key and template writes
//! reach every peer. A home that cannot be reached is a 503
//! `session_home_unavailable` with `Retry-After`, in the route's dialect:
//! never a hang, never a second copy of the session here.

use super::route::{Shape, Target, target};
use super::{CLUSTER_KEY, Cluster, FORWARDED_BY, PEER, UNREACHABLE};
use crate::api::limits::refuse;
use crate::core::CoreError;
use crate::domain::SessionId;
use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::StreamExt;
use serde_json::Value;

/// The router with the cluster in front of it, and the peers' own routes.
pub fn install(c: Cluster, app: Router) -> Router {
    let own = Router::new()
        .route(
            "/_cluster/keys",
            get(super::keys::get_keys).post(super::keys::post_keys),
        )
        .route("/_cluster/sessions/{id}", get(super::moves::held))
        .route(
            "/_cluster/sessions/{id}/import",
            axum::routing::post(super::moves::import),
        )
        .with_state(c.clone());
    app.merge(own)
        .layer(middleware::from_fn_with_state(c, place))
}

/// Whether the request presents a valid key (the admin's or a scoped
/// one): in a header, or in the query where some dialect takes one. Only
/// then is a body read here: anyone else is refused by the route before.
fn carries_a_key(c: &Cluster, req: &Request) -> bool {
    let valid = |k: &str| {
        crate::api::auth::same(k, &c.inner.admin)
            || matches!(c.inner.core.scoped_key(k), Ok(Some(_)))
    };
    crate::api::auth::presented(req.headers()).is_some_and(|k| valid(&k))
        || req.uri().query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .any(|(k, v)| (k == "key" || k == "api_key" || k == "access_token") && valid(&v))
        })
}

/// A body read here, in the request's own time; Err: the route's
/// `request_timeout` answer.
async fn read_within<T>(
    c: &Cluster,
    path: &str,
    read: impl std::future::Future<Output = T>,
) -> Result<T, Response> {
    tokio::time::timeout(c.inner.read_within, read)
        .await
        .map_err(|_| {
            let e = CoreError::Overloaded {
                code: "request_timeout",
                message: format!(
                    "the request's body did not come within {} s (--request-timeout-s)",
                    c.inner.read_within.as_secs()
                ),
            };
            tag(refuse(path, e), c.me())
        })
}

/// Whether the request presents the admin key.
fn admin(c: &Cluster, req: &Request) -> bool {
    crate::api::auth::presented(req.headers())
        .is_some_and(|k| crate::api::auth::same(&k, &c.inner.admin))
}

/// Headers of one hop only: never passed on.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "host"
            | "content-length"
    ) || name == FORWARDED_BY
        || name == CLUSTER_KEY
}

pub(super) fn tag(mut res: Response, peer: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(peer) {
        res.headers_mut().insert(PEER, v);
    }
    res
}

async fn place(State(c): State<Cluster>, req: Request, next: Next) -> Response {
    let me = c.me().to_string();
    // A peer sent it: serve it here whatever this peer thinks of its home
    // (no request goes round in circles while two lists disagree).
    if req.headers().contains_key(FORWARDED_BY) && c.from_peer(req.headers()) {
        let (mut parts, body) = req.into_parts();
        parts.headers.remove(CLUSTER_KEY);
        return tag(next.run(Request::from_parts(parts, body)).await, &me);
    }
    let path = req.uri().path().to_string();
    let target = target(req.method(), &path);
    // A body is read here (for the session it names, or to send it to
    // several peers) only for a caller with a key, and an export only for
    // the admin: others are refused by the route here, before their body
    // is read, as on a single daemon.
    let read_body = match &target {
        Target::Import => admin(&c, &req),
        Target::InBody { .. } | Target::Find(_) | Target::Everywhere => carries_a_key(&c, &req),
        _ => true,
    };
    if !read_body {
        return tag(next.run(req).await, &me);
    }
    match target {
        Target::Here => tag(next.run(req).await, &me),
        Target::Session(id) => to_home(&c, &id, req, next).await,
        Target::InBody { fields, generate } => {
            let found = read_within(&c, &path, named_in_body(&c, req, fields, generate)).await;
            let (req, id) = match found {
                Ok(Ok(found)) => found,
                Ok(Err(req)) => return tag(next.run(req).await, &me),
                Err(timed_out) => return timed_out,
            };
            to_home(&c, &id, req, next).await
        }
        Target::Import => {
            // Read whole (the handler would), for the session it holds:
            // taken in by its home, so no second copy starts here.
            let (parts, body) = req.into_parts();
            let read = axum::body::to_bytes(body, crate::api::native::MAX_IMPORT);
            let read = match read_within(&c, &path, read).await {
                Ok(read) => read,
                Err(timed_out) => return timed_out,
            };
            let Ok(bytes) = read else {
                let too_large = crate::api::native::ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the session export is too large, or was cut short",
                );
                return tag(too_large.into_response(), &me);
            };
            let id = crate::session::transfer::manifest_of(&bytes).map(|m| m.session);
            let req = Request::from_parts(parts, Body::from(bytes));
            match id {
                Ok(id) => to_home(&c, &id, req, next).await,
                // Not an export: the route says so in its own words.
                Err(_) => tag(next.run(req).await, &me),
            }
        }
        Target::List(shape) => merged(&c, req, shape, next).await,
        Target::Find(first) => find(&c, req, first.as_deref(), next).await,
        Target::Events => {
            let one = req.uri().query().and_then(|q| {
                q.split('&')
                    .find_map(|p| p.strip_prefix("session="))
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            });
            match one {
                Some(id) => to_home(&c, &id, req, next).await,
                None => super::events::merged(&c, req, next).await,
            }
        }
        Target::KeyWrite => {
            let res = next.run(req).await;
            if res.status().is_success() {
                c.push_keys().await;
            }
            tag(res, &me)
        }
        Target::Everywhere => everywhere(&c, req, next).await,
    }
}

async fn to_home(c: &Cluster, id: &str, req: Request, next: Next) -> Response {
    let home = c.home(id);
    if home == c.me() {
        return tag(next.run(req).await, &home);
    }
    forward(c, &home, req).await
}

/// How long a peer may take to start answering its part of a list, a
/// lookup or the merged event stream: quick reads, where one frozen peer
/// must not hold up the answer of every other.
pub(super) const PART_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Streams the request to `peer` and its answer back.
pub(super) async fn forward(c: &Cluster, peer: &str, req: Request) -> Response {
    forward_within(c, peer, req, c.inner.answer_within).await
}

/// `forward`, the answer to start within `within`.
pub(super) async fn forward_within(
    c: &Cluster,
    peer: &str,
    req: Request,
    within: std::time::Duration,
) -> Response {
    let path = req.uri().path().to_string();
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let (parts, body) = req.into_parts();
    let mut headers = HeaderMap::new();
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            headers.append(k.clone(), v.clone());
        }
    }
    let sending = c
        .inner
        .http
        .request(parts.method, format!("{peer}{pq}"))
        .headers(headers)
        .header(FORWARDED_BY, c.me())
        .header(CLUSTER_KEY, &c.inner.key)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send();
    // A home that takes the call and never answers (frozen, or gone under
    // a pooled connection) is as unavailable as one that refuses it. Only
    // the start of the answer is bounded: an event stream runs on.
    let sent = match tokio::time::timeout(within, sending).await {
        Ok(sent) => sent,
        Err(_) => {
            tracing::warn!(peer = %peer, "cluster: a peer did not answer within {within:?}");
            return tag(unavailable(&path, peer), c.me());
        }
    };
    match sent {
        Ok(r) => {
            let mut res = Response::builder().status(r.status());
            for (k, v) in r.headers() {
                if !hop_by_hop(k) {
                    res = res.header(k, v);
                }
            }
            let res = res
                .body(Body::from_stream(r.bytes_stream()))
                .unwrap_or_else(|_| Response::default());
            tag(res, peer)
        }
        Err(e) => {
            // Not the URL: its query may carry a key (`?access_token=`).
            tracing::warn!(peer = %peer, "cluster: a session's home cannot be reached: {}", e.without_url());
            tag(unavailable(&path, peer), c.me())
        }
    }
}

fn unavailable(path: &str, peer: &str) -> Response {
    refuse(
        path,
        CoreError::Overloaded {
            code: "session_home_unavailable",
            message: format!(
                "this session lives on peer {peer}, which cannot be reached; retry shortly"
            ),
        },
    )
}

/// Reads the body (up to the JSON limit) for the session it names. Err:
/// serve it here as it came (no JSON, no id, too large: the route's own
/// answer says so).
async fn named_in_body(
    c: &Cluster,
    req: Request,
    fields: &[&str],
    generate: bool,
) -> Result<(Request, String), Request> {
    let (mut parts, body) = req.into_parts();
    let mut stream = body.into_data_stream();
    let mut read: Vec<Bytes> = Vec::new();
    let mut size = 0;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(Request::from_parts(parts, Body::empty()));
        };
        size += chunk.len();
        read.push(chunk);
        if size > c.inner.max_json {
            // Too large: the route refuses it in its own words.
            let rest =
                futures::stream::iter(read.into_iter().map(Ok::<_, axum::Error>)).chain(stream);
            return Err(Request::from_parts(parts, Body::from_stream(rest)));
        }
    }
    let bytes: Bytes = read.concat().into();
    let again = |parts, b: Bytes| Request::from_parts(parts, Body::from(b));
    let mut v: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Err(again(parts, bytes)),
    };
    let named = fields
        .iter()
        .find_map(|f| v.get(*f).and_then(Value::as_str))
        .map(str::to_string);
    let (id, bytes) = match named {
        Some(id) => (id, bytes),
        None if generate && v.is_object() => {
            // The id is made here so that its home is known.
            let id = SessionId::generate().as_str().to_string();
            v[fields[0]] = Value::String(id.clone());
            (id, serde_json::to_vec(&v).unwrap_or_default().into())
        }
        None => return Err(again(parts, bytes)),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok((again(parts, bytes), id))
}

/// Asks the home of `first` (if named), then the other peers, until one
/// knows what the request names (an answer other than 404). Requests that
/// find nothing change nothing, so asking again elsewhere is safe.
async fn find(c: &Cluster, req: Request, first: Option<&str>, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match small_body(c, parts.uri.path(), body).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let mut order: Vec<String> = c.peers().to_vec();
    if !order.iter().any(|p| p == c.me()) {
        order.push(c.me().to_string());
    }
    let start = first
        .map(|id| c.home(id))
        .unwrap_or_else(|| c.me().to_string());
    order.sort_by_key(|p| *p != start);
    // A read is quick; a write (a Twilio send) may wait its turn in the
    // send pacing of the peer that has the session (not always the home
    // its account names: `AC…` with `From`, a move), up to the request's
    // own time; a peer without it answers at once. Cut short, its send
    // would go on unseen, and a client's retry send it twice.
    let write = parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD;
    let within = |_: &str| {
        if write {
            c.inner.answer_within
        } else {
            PART_WITHIN
        }
    };
    let mut next = Some(next);
    let (mut last, mut down) = (None, None);
    for peer in order {
        let mut r = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
        r.headers_mut().remove(header::CONTENT_LENGTH);
        let res = if peer == c.me() {
            match next.take() {
                Some(n) => tag(n.run(r).await, &peer),
                None => continue,
            }
        } else {
            forward_within(c, &peer, r, within(&peer)).await
        };
        let served = res.headers().get(PEER).is_some_and(|p| p == peer.as_str());
        if !served {
            // That peer is down: what is asked may be there. Unless another
            // peer has it, the answer is that peer's 503.
            down.get_or_insert(res);
            continue;
        }
        let (res, absent) = names_nothing_here(res).await;
        if !absent {
            return res;
        }
        last = Some(res);
    }
    down.or(last)
        .unwrap_or_else(|| tag(unavailable(parts.uri.path(), c.me()), c.me()))
}

/// Did this peer answer that it has no such thing? A 404, or Twilio's
/// 400 for a `From` that is no session's number here (code 63007).
async fn names_nothing_here(res: Response) -> (Response, bool) {
    match res.status() {
        axum::http::StatusCode::NOT_FOUND => (res, true),
        axum::http::StatusCode::BAD_REQUEST => {
            let (parts, body) = res.into_parts();
            let bytes = axum::body::to_bytes(body, 64 << 10)
                .await
                .unwrap_or_default();
            // Twilio's "no such sender", Graph's "no such object" (a media
            // id another peer holds).
            let absent = serde_json::from_slice::<Value>(&bytes).is_ok_and(|v| {
                v["code"] == crate::api::twilio::convert::NO_SUCH_SENDER
                    || v["error"]["error_subcode"] == crate::api::cloud::convert::NO_SUCH_OBJECT
            });
            (Response::from_parts(parts, Body::from(bytes)), absent)
        }
        _ => (res, false),
    }
}

/// A body read whole, to send to more than one peer (up to the JSON limit).
async fn small_body(c: &Cluster, path: &str, body: Body) -> Result<Bytes, Response> {
    read_within(c, path, axum::body::to_bytes(body, c.inner.max_json))
        .await?
        .map_err(|_| {
            let e = CoreError::invalid("body", "is too large or could not be read");
            tag(refuse(path, e), c.me())
        })
}

/// A copy of a bodiless request, for asking several peers.
pub(super) fn copy(req: &Request) -> Request {
    let mut r = Request::new(Body::empty());
    *r.method_mut() = req.method().clone();
    *r.uri_mut() = req.uri().clone();
    *r.headers_mut() = req.headers().clone();
    r
}

/// Every peer's list, merged in a stable order (the same answer through
/// any peer). A peer that cannot answer is named in `X-Wabridge-Unreachable`.
async fn merged(c: &Cluster, req: Request, shape: Shape, next: Next) -> Response {
    let asks: Vec<_> = c
        .others()
        .into_iter()
        .map(|peer| {
            let r = copy(&req);
            async move {
                let res = forward_within(c, &peer, r, PART_WITHIN).await;
                (peer, res)
            }
        })
        .collect();
    let here = next.run(req);
    let (here, theirs) = futures::join!(here, futures::future::join_all(asks));
    if !here.status().is_success() {
        return tag(here, c.me());
    }
    let (parts, body) = here.into_parts();
    let Some((envelope, mine)) = items(body, shape).await else {
        return tag(Response::from_parts(parts, Body::empty()), c.me());
    };
    let mut all: Vec<(String, Value)> = mine.into_iter().map(|v| (c.me().to_string(), v)).collect();
    let mut missing = Vec::new();
    for (peer, res) in theirs {
        let ok = res.status().is_success()
            && res.headers().get(PEER).is_some_and(|p| p == peer.as_str());
        match ok {
            true => match items(res.into_body(), shape).await {
                Some((_, more)) => all.extend(more.into_iter().map(|v| (peer.clone(), v))),
                None => missing.push(peer),
            },
            false => missing.push(peer),
        }
    }
    let id_of = |v: &Value| {
        ["id", "sessionId", "session_id"]
            .iter()
            .find_map(|f| v.get(*f).and_then(Value::as_str))
            .unwrap_or("")
            .to_string()
    };
    // While a session moves, the peer it leaves may still list it: the
    // home's entry is the one shown.
    let mut by_id: std::collections::BTreeMap<String, (bool, Value)> = Default::default();
    for (peer, v) in all {
        let id = id_of(&v);
        let at_home = c.home(&id) == peer;
        match by_id.get(&id) {
            Some((true, _)) => {}
            Some((false, _)) if !at_home => {}
            _ => {
                by_id.insert(id, (at_home, v));
            }
        }
    }
    let all: Vec<Value> = by_id.into_values().map(|(_, v)| v).collect();
    // The answer as this peer gave it (open-wa's `success` beside the
    // list), with every peer's items.
    let body = match shape {
        Shape::Array => Value::Array(all),
        Shape::Field(f) => {
            let mut v = envelope;
            v[f] = Value::Array(all);
            v
        }
    };
    let mut res = axum::Json(body).into_response();
    if !missing.is_empty()
        && let Ok(v) = HeaderValue::from_str(&missing.join(", "))
    {
        res.headers_mut().insert(UNREACHABLE, v);
    }
    tag(res, c.me())
}

/// A list answer: the whole of it, and its items.
async fn items(body: Body, shape: Shape) -> Option<(Value, Vec<Value>)> {
    let bytes = axum::body::to_bytes(body, 64 << 20).await.ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let list = match shape {
        Shape::Array => v.as_array().cloned(),
        Shape::Field(f) => v.get(f)?.as_array().cloned(),
    }?;
    Some((v, list))
}

/// A template write: here, then the same request to every other peer
/// (sends on any peer use templates). A peer that misses it is logged.
async fn everywhere(c: &Cluster, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = match small_body(c, parts.uri.path(), body).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let template = {
        let mut r = Request::new(Body::empty());
        *r.method_mut() = parts.method.clone();
        *r.uri_mut() = parts.uri.clone();
        *r.headers_mut() = parts.headers.clone();
        r
    };
    let res = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if res.status().is_success() {
        for peer in c.others() {
            let mut r = copy(&template);
            *r.body_mut() = Body::from(bytes.clone());
            let c = c.clone();
            tokio::spawn(async move {
                let res = forward(&c, &peer, r).await;
                if !res.status().is_success() {
                    tracing::warn!(peer = %peer, status = %res.status(), "cluster: a template write did not reach this peer");
                }
            });
        }
    }
    tag(res, c.me())
}
