//! API keys, on every route but /health: the admin key (configured) or a
//! scoped key made through `POST /api/keys`. The guard resolves the key to
//! an [`Access`] kept in the request; handlers take the core through
//! [`Caller`], which acts as that access, so every core call checks it. Accepted as `Authorization:
//! Bearer <key>` (or Graph's `OAuth <key>`), `X-Api-Key`, open-wa's `key` / `api_key` headers, or HTTP
//! Basic with the key as the password and any user name, so that a client
//! that cannot add a header can carry it in its base URL
//! (`http://wabridge:KEY@host:8002`; Twilio clients send `AccountSid:token`
//! the same way). Each dialect says how a refusal looks.

use crate::core::Core;
use crate::domain::Access;
use axum::{
    extract::{FromRef, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    middleware::Next,
    response::Response,
};
use base64::Engine as _;
use std::sync::Arc;

/// Why a request was refused, in a sentence for the dialect's error body.
pub enum Denied {
    Missing,
    Invalid,
    /// A valid scoped key on an admin-only route.
    NotAdmin,
}

impl Denied {
    /// 401 for no key or an unknown one; 403 for a key that may not.
    pub fn status(&self) -> StatusCode {
        match self {
            Denied::NotAdmin => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn sentence(&self) -> &'static str {
        match self {
            Denied::NotAdmin => "only the admin key may do this",
            Denied::Missing => {
                "an API key is required: send 'Authorization: Bearer <key>', 'X-Api-Key: <key>', or HTTP Basic auth with the key as the password"
            }
            Denied::Invalid => "the API key is not valid",
        }
    }
}

/// What a presented key is: the admin key, a scoped key, or nothing.
#[derive(Clone)]
pub struct Keys {
    admin: Arc<str>,
    core: Core,
}

impl Keys {
    pub fn new(admin: Arc<str>, core: Core) -> Self {
        Keys { admin, core }
    }

    /// The admin key (Twilio signs status callbacks with it, as Twilio
    /// signs with the account's auth token).
    pub fn admin(&self) -> Arc<str> {
        self.admin.clone()
    }

    fn resolve(&self, presented: &str) -> Option<Access> {
        if same(presented, &self.admin) {
            return Some(Access::Admin);
        }
        match self.core.scoped_key(presented) {
            Ok(k) => k.map(|k| Access::Key(Arc::new(k))),
            Err(e) => {
                tracing::warn!("could not look up an API key: {e}");
                None
            }
        }
    }
}

/// The keys, and how one dialect answers a refusal (in its shape).
#[derive(Clone)]
pub struct Guard {
    keys: Keys,
    deny: fn(Denied) -> Response,
    admin_only: bool,
    /// Graph's `?access_token=`, taken on every method (Graph clients put
    /// the token there).
    access_token: bool,
}

impl Guard {
    pub fn new(keys: Keys, deny: fn(Denied) -> Response) -> Self {
        Guard {
            keys,
            deny,
            admin_only: false,
            access_token: false,
        }
    }

    /// The Cloud API's routes: the key may also come as `?access_token=`,
    /// as Graph takes it.
    pub fn with_access_token(mut self) -> Self {
        self.access_token = true;
        self
    }

    /// Routes about the whole daemon (`/metrics`): the admin key only.
    pub fn admin_only(mut self) -> Self {
        self.admin_only = true;
        self
    }
}

/// A dialect's state, acting as one caller's access.
pub trait ActAs {
    fn act_as(self, access: Access) -> Self;
}

impl ActAs for Core {
    fn act_as(self, access: Access) -> Self {
        self.acting_as(access)
    }
}

/// A handler's state (the core, or a dialect's state holding it) acting
/// as the request's key: what that key may not do fails in the core.
pub struct Caller<S>(pub S);

impl<S, T> FromRequestParts<T> for Caller<S>
where
    S: FromRef<T> + ActAs,
    T: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &T) -> Result<Self, Self::Rejection> {
        // No guard ran: `Access::Nobody`, which may do nothing.
        let access = parts
            .extensions
            .get::<Access>()
            .cloned()
            .unwrap_or_default();
        Ok(Caller(S::from_ref(state).act_as(access)))
    }
}

pub(crate) fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.trim().split_once(' ').unwrap_or((v, ""));
        // Graph's upload guide sends `OAuth <token>`.
        if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth") {
            return Some(rest.trim().to_string());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            // user:password; the key is the password, the user is anything.
            let password = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|d| d.split_once(':').map(|(_, p)| p.to_string()));
            if password.is_some() {
                return password;
            }
        }
    }
    ["x-api-key", "key", "api_key"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(|k| k.trim().to_string())
}

/// Constant-time in the key's content and length: digests are compared.
/// Compares two secrets in constant time.
pub fn same(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (da, db) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `?key=` (or `?api_key=`): for clients that can send neither a header
/// nor credentials in the URL, like a browser's `EventSource` or an
/// `<img>`. Reads only: a key in a URL ends up in access logs, and a
/// change (a DELETE, a send) is never made from a bare link. Nor is an
/// export, a GET that stops the session (`?stop=true`) and hands over
/// the linked device's credentials: a link preview or prefetch of a
/// pasted URL would do both.
fn in_query(method: &axum::http::Method, path: &str, query: Option<&str>) -> Option<String> {
    if !matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD)
        || path.ends_with("/export")
    {
        return None;
    }
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "key" || k == "api_key")
        .map(|(_, v)| v.into_owned())
}

/// Graph's `?access_token=`, where the routes take it.
fn access_token(taken: bool, query: Option<&str>) -> Option<String> {
    if !taken {
        return None;
    }
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

pub async fn require_key(State(g): State<Guard>, mut req: Request, next: Next) -> Response {
    let key = presented(req.headers())
        .or_else(|| in_query(req.method(), req.uri().path(), req.uri().query()))
        .or_else(|| access_token(g.access_token, req.uri().query()));
    let denied = match key {
        Some(k) => match g.keys.resolve(&k) {
            Some(a) if g.admin_only && !a.is_admin() => Denied::NotAdmin,
            Some(a) => {
                req.extensions_mut().insert(a);
                return next.run(req).await;
            }
            None => Denied::Invalid,
        },
        None => Denied::Missing,
    };
    if matches!(denied, Denied::NotAdmin) {
        return (g.deny)(denied);
    }
    let mut resp = (g.deny)(denied);
    for challenge in [
        "Bearer realm=\"wabridge\"",
        "Basic realm=\"wabridge\", charset=\"UTF-8\"",
    ] {
        resp.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_presenting_the_key() {
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        for (h, v) in [
            ("authorization", "Bearer k1".to_string()),
            ("authorization", "bearer k1".to_string()),
            ("authorization", basic("wabridge:k1")),
            ("authorization", basic(":k1")),
            ("x-api-key", "k1".to_string()),
            ("key", "k1".to_string()),
            ("api_key", "k1".to_string()),
        ] {
            let mut m = HeaderMap::new();
            m.insert(h, v.parse().unwrap());
            assert_eq!(presented(&m).as_deref(), Some("k1"), "{h}: {v}");
        }
        let mut m = HeaderMap::new();
        m.insert("authorization", basic("no-colon").parse().unwrap());
        assert_eq!(presented(&m), None);
        // A malformed Basic header does not hide a key sent another way.
        m.insert("x-api-key", "k1".parse().unwrap());
        assert_eq!(presented(&m).as_deref(), Some("k1"));
        use axum::http::Method;
        let events = "/api/sessions/s/events";
        assert_eq!(
            in_query(&Method::GET, events, Some("a=1&key=k%2F1")).as_deref(),
            Some("k/1")
        );
        assert_eq!(in_query(&Method::GET, events, Some("a=1")), None);
        // Never for a change: a link must not delete or send.
        assert_eq!(in_query(&Method::DELETE, events, Some("api_key=k")), None);
        assert_eq!(in_query(&Method::POST, events, Some("key=k")), None);
        // Nor stop a session and hand its credentials over.
        let export = "/api/sessions/s/export";
        assert_eq!(
            in_query(&Method::GET, export, Some("stop=true&key=k")),
            None
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "abcd"));
    }
}
