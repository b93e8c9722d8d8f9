//! The Meta Cloud API dialect: backends written for the WhatsApp Cloud API
//! (requests/httpx, pywa, heyoo) run against a linked number. The
//! phone_number_id is the session id; the token is the API key.
//! * `POST /{version}/{phone_number_id}/messages`: text, media by link or
//!   uploaded id, location, replies, read receipts, interactive button and
//!   list menus (as numbered text; the pick comes back as `interactive`),
//!   templates registered with `PUT /api/templates/{name}`;
//! * the business profile: `GET|POST
//!   /{version}/{phone_number_id}/whatsapp_business_profile`;
//! * media: `POST /{version}/{phone_number_id}/media`, `GET|DELETE
//!   /{version}/{media_id}`, downloads at `/cloud/media/{id}`; resumable
//!   uploads (`POST /{version}/{app_id}/uploads`, then `POST|GET
//!   /{version}/upload:{id}`), whose handle is a media id;
//! * webhooks (`format: "cloud"`): Meta's envelope, `X-Hub-Signature-256`,
//!   the `hub.challenge` handshake.
//!
//! Pure conversions in `convert`, handlers in `handlers`, bodies in `webhook`.

pub mod convert;
mod handlers;
pub mod webhook;

use crate::api::auth::{ActAs, Denied, Guard, Keys, require_key};
use crate::core::Core;
use axum::{
    Json, Router,
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::{MethodRouter, delete, get, post},
};
use convert::{GraphError, UserIds};
use handlers as h;
use std::sync::Arc;

#[derive(Clone)]
pub struct Cloud {
    core: Core,
    users: UserIds,
    public_url: Arc<str>,
}

/// A refused token, as Graph answers it (190).
fn deny(_: Denied) -> Response {
    let e = GraphError::new(
        StatusCode::UNAUTHORIZED,
        190,
        "Invalid OAuth access token - Cannot parse access token",
    );
    (e.status, Json(e.body())).into_response()
}

fn guard(keys: Keys) -> Guard {
    Guard::new(keys, deny).with_access_token()
}

impl ActAs for Cloud {
    fn act_as(mut self, access: crate::domain::Access) -> Self {
        self.core = self.core.acting_as(access);
        self
    }
}

/// The Cloud API's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    h::messages,
    h::upload,
    h::begin_upload,
    h::upload_part,
    h::media_info,
    h::media_delete,
    h::download,
    h::business_profile,
    h::edit_business_profile
))]
pub struct Doc;

/// `media_body`: the body limit of the upload route.
pub fn routes(
    core: Core,
    keys: Keys,
    users: UserIds,
    public_url: &str,
    media_body: axum::extract::DefaultBodyLimit,
) -> Router {
    Router::new()
        .route("/{version}/{phone_number_id}/messages", post(h::messages))
        .route(
            "/{version}/{phone_number_id}/media",
            post(h::upload).layer(media_body),
        )
        .route("/{version}/{app_id}/uploads", post(h::begin_upload))
        .route(
            "/{version}/{phone_number_id}/whatsapp_business_profile",
            get(h::business_profile).post(h::edit_business_profile),
        )
        .route("/cloud/media/{media_id}", get(h::download))
        .route_layer(middleware::from_fn_with_state(guard(keys), require_key))
        .with_state(Cloud {
            core,
            users,
            public_url: public_url.into(),
        })
}

/// `GET|DELETE /{version}/{media_id}`, and `POST|GET
/// /{version}/upload:{id}`: two segments, like the open-wa EASY API's
/// paths; the router shares that path between them.
pub fn media_route(
    core: Core,
    keys: Keys,
    users: UserIds,
    public_url: &str,
    media_body: axum::extract::DefaultBodyLimit,
) -> MethodRouter {
    get(h::media_info)
        .merge(delete(h::media_delete))
        .merge(post(h::upload_part).layer(media_body))
        .route_layer(middleware::from_fn_with_state(guard(keys), require_key))
        .with_state(Cloud {
            core,
            users,
            public_url: public_url.into(),
        })
}
