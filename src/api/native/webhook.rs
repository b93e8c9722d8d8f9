//! The native webhook body: the event envelope itself, Standard Webhooks
//! signed.

use crate::domain::Delivery;
use crate::webhook::{Rendered, signature};

pub fn render(d: &Delivery, now_s: i64) -> Rendered {
    let body = serde_json::to_vec(&d.event).unwrap_or_default();
    Rendered {
        headers: signature::standard_headers(d, &body, now_s),
        body,
        content_type: "application/json",
    }
}
