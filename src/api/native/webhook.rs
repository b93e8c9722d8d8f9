//! The native webhook body: the event envelope itself, Standard Webhooks
//! signed.

use crate::domain::Delivery;
use crate::webhook::{Rendered, signed_json};

pub fn render(d: &Delivery, now_s: i64) -> Rendered {
    signed_json(d, &super::convert::event(&d.event), now_s)
}
