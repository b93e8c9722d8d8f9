//! Outbound webhooks: the dispatcher that delivers the durable outbox, and
//! Standard Webhooks signatures. What a body looks like is each dialect's
//! business: the dispatcher asks a `Render` given to it at start.

pub mod dispatcher;
pub mod signature;

use crate::domain::Delivery;

/// A webhook request as a dialect renders it.
pub struct Rendered {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// Format-specific headers, e.g. signatures.
    pub headers: Vec<(&'static str, String)>,
    /// A GET the receiver must answer before it gets anything (Meta's
    /// subscription handshake): the URL, and the body it must echo.
    pub handshake: Option<Handshake>,
    /// The receiver's answer means something (Twilio's TwiML): hand a 2xx
    /// answer's body to whoever listens on the dispatcher's replies.
    pub wants_reply: bool,
}

impl Rendered {
    pub fn new(
        body: Vec<u8>,
        content_type: &'static str,
        headers: Vec<(&'static str, String)>,
    ) -> Self {
        Rendered {
            body,
            content_type,
            headers,
            handshake: None,
            wants_reply: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Handshake {
    pub url: String,
    pub challenge: String,
}

/// A receiver's 2xx answer to a delivery that wanted one.
pub struct Reply {
    pub delivery: Delivery,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Renders a delivery's event in its webhook's format (body and signature
/// headers). `now_s` is the attempt's time, for timestamped signatures.
pub type Render = std::sync::Arc<dyn Fn(&Delivery, i64) -> Rendered + Send + Sync>;

/// A JSON body with Standard Webhooks headers: what the native, simple and
/// openwa formats send.
pub fn signed_json(d: &Delivery, body: &serde_json::Value, now_s: i64) -> Rendered {
    let body = serde_json::to_vec(body).unwrap_or_default();
    Rendered::new(
        body.clone(),
        "application/json",
        signature::standard_headers(d, &body, now_s),
    )
}
