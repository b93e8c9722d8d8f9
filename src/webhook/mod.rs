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
}

/// Renders a delivery's event in its webhook's format (body and signature
/// headers). `now_s` is the attempt's time, for timestamped signatures.
pub type Render = fn(d: &Delivery, now_s: i64) -> Rendered;
