//! The native webhook body: the event envelope itself, Standard Webhooks
//! signed.

use crate::domain::Delivery;
use crate::webhook::{Rendered, signed_json};

pub fn render(d: &Delivery, now_s: i64) -> Rendered {
    signed_json(
        d,
        &serde_json::to_value(&d.event).unwrap_or_default(),
        now_s,
    )
}
