//! Which peer serves a request: the URL shapes of every dialect, read for
//! the one thing the cluster needs, the session a request is for. Pure.

use axum::http::Method;

/// Where a request is served.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// Where it arrives: probes, metrics, docs, the dashboard, key reads,
    /// the event stream of this peer, open-wa's default session.
    Here,
    /// A session's route: served by the session's home.
    Session(String),
    /// The session is named in the JSON body, by the first of `fields`
    /// present; `generate`: if none is, a new id is made here.
    InBody {
        fields: &'static [&'static str],
        generate: bool,
    },
    /// A session export: its home is named in the export's manifest.
    Import,
    /// Every peer answers for its own sessions; the answers are merged.
    List(Shape),
    /// Found by asking: the home of `first` (if named), then every peer,
    /// until one does not answer 404 (Cloud media by id alone; Twilio,
    /// whose `From` may pick a session the `AccountSid` does not name).
    Find(Option<String>),
    /// The event stream: one session's from its home, else every peer's
    /// merged.
    Events,
    /// A key is made, rotated or revoked: here, then every peer is told.
    KeyWrite,
    /// A template is written: here and on every peer (sends use them).
    Everywhere,
}

/// How a list answer holds its items.
#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Shape {
    /// A JSON array (native).
    Array,
    /// An object with the items in this field (open-wa's `{"sessions"}`).
    Field(&'static str),
}

const OPENWA_IDS: &[&str] = &["session_id", "sessionId"];

/// A Graph API version segment (`v21.0`).
fn is_version(s: &str) -> bool {
    s.strip_prefix('v')
        .is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

pub fn target(method: &Method, path: &str) -> Target {
    // As the routes read them: `%78` names the session `x`, whose home is
    // `x`'s (hashed raw, it would be served where `%78` is at home).
    let decoded: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let get = method == Method::GET;
    let post = method == Method::POST;
    match segs.as_slice() {
        ["api", "sessions"] if post => Target::InBody {
            fields: &["id"],
            generate: true,
        },
        ["api", "sessions"] if get => Target::List(Shape::Array),
        ["api", "sessions", "import"] if post => Target::Import,
        ["api", "sessions", id, ..] if !id.is_empty() => Target::Session(id.to_string()),
        ["api", "events"] if get => Target::Events,
        ["api", "keys", ..] if !get => Target::KeyWrite,
        ["api", "templates", _, ..] if !get => Target::Everywhere,
        ["session", "create"] if post => Target::InBody {
            fields: OPENWA_IDS,
            generate: false,
        },
        // `POST /session/{method}`: the EASY API of the session named
        // "session" (open-wa's default sessionId), not of one named after
        // the method.
        ["session", method] if post && *method != "create" => {
            Target::Session("session".to_string())
        }
        ["session", id, ..] if !id.is_empty() => Target::Session(id.to_string()),
        ["sessions"] if get => Target::List(Shape::Field("sessions")),
        ["message", "send"] if post => Target::InBody {
            fields: OPENWA_IDS,
            generate: false,
        },
        ["2010-04-01", "Accounts", account, ..] if !account.is_empty() => {
            Target::Find(Some(account.to_string()))
        }
        ["cloud", "media", _] if get => Target::Find(None),
        // A resumable upload's parts and progress: where its session is.
        [v, id] if is_version(v) && (get || post) && crate::core::upload_owner(id).is_some() => {
            Target::Session(
                crate::core::upload_owner(id)
                    .unwrap_or_default()
                    .to_string(),
            )
        }
        [v, _] if is_version(v) && (get || method == Method::DELETE) => Target::Find(None),
        [v, id, _, ..] if is_version(v) && !id.is_empty() => Target::Session(id.to_string()),
        // open-wa's EASY API: `POST /{session}/{method}`, and `POST
        // /{session}` with the method in the body (a method's own name in
        // that place is the default session's call).
        [first, method] if post && !first.is_empty() && !method.is_empty() && !reserved(first) => {
            Target::Session(first.to_string())
        }
        [first]
            if post
                && !first.is_empty()
                && !reserved(first)
                && !crate::api::openwa::easy::is_method(first) =>
        {
            Target::Session(first.to_string())
        }
        _ => Target::Here,
    }
}

/// First segments of routes that are not a session's EASY API.
fn reserved(first: &str) -> bool {
    matches!(
        first,
        "api" | "session" | "message" | "cloud" | "dashboard" | "docs" | "_cluster" | "2010-04-01"
    ) || is_version(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_names_its_session() {
        let s = |id: &str| Target::Session(id.into());
        let (g, p, d) = (Method::GET, Method::POST, Method::DELETE);
        assert_eq!(target(&g, "/api/sessions/shop/messages"), s("shop"));
        assert_eq!(target(&g, "/api/sessions/shop"), s("shop"));
        assert_eq!(target(&p, "/api/sessions/%73hop/start"), s("shop"));
        assert_eq!(target(&g, "/api/sessions"), Target::List(Shape::Array));
        assert!(matches!(
            target(&p, "/api/sessions"),
            Target::InBody { generate: true, .. }
        ));
        assert_eq!(target(&g, "/session/shop/status"), s("shop"));
        assert_eq!(target(&p, "/session/sendText"), s("session"));
        assert_eq!(target(&p, "/session/shop/logout"), s("shop"));
        // `POST /{session}` with the method in the body; `POST /{method}`.
        assert_eq!(target(&p, "/shop"), s("shop"));
        assert_eq!(target(&p, "/sendText"), Target::Here);
        assert_eq!(target(&p, "/"), Target::Here);
        assert_eq!(target(&d, "/session/shop"), s("shop"));
        assert!(matches!(
            target(&p, "/session/create"),
            Target::InBody {
                generate: false,
                ..
            }
        ));
        assert!(matches!(target(&p, "/message/send"), Target::InBody { .. }));
        assert_eq!(
            target(&g, "/sessions"),
            Target::List(Shape::Field("sessions"))
        );
        assert_eq!(
            target(&p, "/2010-04-01/Accounts/shop/Messages.json"),
            Target::Find(Some("shop".into()))
        );
        assert_eq!(target(&p, "/v21.0/shop/messages"), s("shop"));
        assert_eq!(target(&p, "/v21.0/shop/media"), s("shop"));
        assert_eq!(target(&g, "/v21.0/123456"), Target::Find(None));
        let up = "/v21.0/upload:0123456789abcdef0123456789abcdef.shop";
        assert_eq!(target(&p, up), s("shop"));
        assert_eq!(target(&g, up), s("shop"));
        assert_eq!(target(&g, "/cloud/media/123456"), Target::Find(None));
        assert_eq!(target(&p, "/shop/sendText"), s("shop"));
        assert_eq!(target(&p, "/sendText"), Target::Here);
        assert_eq!(target(&p, "/api/keys"), Target::KeyWrite);
        assert_eq!(target(&d, "/api/keys/key_1"), Target::KeyWrite);
        assert_eq!(target(&g, "/api/keys"), Target::Here);
        assert_eq!(
            target(&Method::PUT, "/api/templates/hello"),
            Target::Everywhere
        );
        for here in [
            "/health",
            "/ready",
            "/metrics",
            "/openapi.json",
            "/docs",
            "/",
        ] {
            assert_eq!(target(&g, here), Target::Here, "{here}");
        }
        assert_eq!(target(&g, "/dashboard/assets/app.js"), Target::Here);
        assert_eq!(target(&g, "/api/events"), Target::Events);
    }
}
