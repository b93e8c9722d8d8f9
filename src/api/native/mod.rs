//! The native dialect (design.md §2): `/api/...`. Pure conversions in
//! `convert`, thin handlers in `handlers`, the webhook body in `webhook`.

pub mod convert;
mod handlers;
pub mod webhook;

pub use convert::ApiError;

use crate::api::auth::{Denied, Guard, Keys, require_key};
use crate::core::Core;
use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    response::{IntoResponse, Response},
    routing::{delete, get, patch, post, put},
};
use handlers as h;

/// The native routes' part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    h::create,
    h::list,
    h::get,
    h::delete,
    h::export,
    h::import,
    h::import_any,
    h::patch,
    h::start,
    h::stop,
    h::restart,
    h::logout,
    h::put_webhooks,
    h::qr,
    h::pair,
    h::send,
    h::messages,
    h::message,
    h::react,
    h::edit,
    h::revoke,
    h::media,
    h::chats,
    h::chat,
    h::read,
    h::edit_chat,
    h::contact,
    h::contacts,
    h::star,
    h::pin,
    h::receipts,
    h::search,
    h::starred,
    h::pinned,
    h::clear_chat,
    h::delete_chat,
    h::save_contact,
    h::remove_contact,
    h::presence,
    h::subscribe_presence,
    h::profile,
    h::presence_of,
    h::lid,
    h::my_profile,
    h::blocklist,
    h::reject_call,
    h::channels,
    h::create_channel,
    h::search_channels,
    h::channel,
    h::edit_channel,
    h::delete_channel,
    h::follow_channel,
    h::unfollow_channel,
    h::mute_channel,
    h::unmute_channel,
    h::note,
    h::set_note,
    h::labels,
    h::create_label,
    h::edit_label,
    h::delete_label,
    h::label_chats,
    h::edit_my_profile,
    h::block,
    h::unblock,
    h::groups,
    h::create_group,
    h::group,
    h::group_participants,
    h::group_invite,
    h::revoke_group_invite,
    h::join_requests,
    h::answer_join_requests,
    h::invite_info,
    h::join_group,
    h::group_subject,
    h::edit_group,
    h::leave_group,
    h::communities,
    h::create_community,
    h::community,
    h::deactivate_community,
    h::link_groups,
    h::unlink_group,
    h::community_participants,
    h::leave_community,
    h::edit_community,
    h::deliveries,
    h::retry,
    h::events,
    h::create_key,
    h::keys,
    h::key,
    h::revoke_key,
    h::rotate_key,
    h::templates,
    h::put_template,
    h::template,
    h::delete_template,
))]
pub struct Doc;

/// A refused key, in the native error shape.
pub fn deny(d: Denied) -> Response {
    let code = match d {
        Denied::NotAdmin => "admin_only",
        _ => "unauthorized",
    };
    ApiError::new(d.status(), code, d.sentence()).into_response()
}

/// The largest session export taken in (a browser profile and history).
pub const MAX_IMPORT: usize = 512 << 20;

/// `media_body`: the body limit of the routes that carry media (sends, a
/// profile picture).
pub fn routes(core: Core, keys: Keys, media_body: DefaultBodyLimit) -> Router {
    Router::new()
        .route("/api/sessions", post(h::create).get(h::list))
        .route(
            "/api/sessions/{id}",
            get(h::get).delete(h::delete).patch(h::patch),
        )
        .route("/api/sessions/{id}/export", get(h::export))
        .route(
            "/api/sessions/import",
            post(h::import_any).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/sessions/{id}/import",
            post(h::import).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/sessions/{id}/start", post(h::start))
        .route("/api/sessions/{id}/stop", post(h::stop))
        .route("/api/sessions/{id}/restart", post(h::restart))
        .route("/api/sessions/{id}/logout", post(h::logout))
        .route("/api/sessions/{id}/webhooks", put(h::put_webhooks))
        .route("/api/sessions/{id}/qr", get(h::qr))
        .route("/api/sessions/{id}/pair", post(h::pair))
        .route(
            "/api/sessions/{id}/messages",
            post(h::send).layer(media_body).get(h::messages),
        )
        .route(
            "/api/sessions/{id}/messages/{mid}",
            get(h::message).patch(h::edit).delete(h::revoke),
        )
        .route("/api/sessions/{id}/messages/{mid}/reaction", post(h::react))
        .route("/api/sessions/{id}/messages/{mid}/star", post(h::star))
        .route("/api/sessions/{id}/messages/{mid}/pin", post(h::pin))
        .route(
            "/api/sessions/{id}/messages/{mid}/receipts",
            get(h::receipts),
        )
        .route("/api/sessions/{id}/messages/search", get(h::search))
        .route("/api/sessions/{id}/messages/starred", get(h::starred))
        .route("/api/sessions/{id}/chats/{chat}/pinned", get(h::pinned))
        .route("/api/sessions/{id}/messages/{mid}/media", get(h::media))
        .route("/api/sessions/{id}/chats", get(h::chats))
        .route(
            "/api/sessions/{id}/chats/{chat}",
            get(h::chat).patch(h::edit_chat).delete(h::delete_chat),
        )
        .route("/api/sessions/{id}/chats/{chat}/clear", post(h::clear_chat))
        .route("/api/sessions/{id}/chats/{chat}/read", post(h::read))
        .route(
            "/api/sessions/{id}/chats/{chat}/note",
            get(h::note).put(h::set_note),
        )
        .route("/api/sessions/{id}/contacts", get(h::contacts))
        .route(
            "/api/sessions/{id}/contacts/{phone}",
            get(h::contact)
                .put(h::save_contact)
                .delete(h::remove_contact),
        )
        .route(
            "/api/sessions/{id}/contacts/{phone}/profile",
            get(h::profile),
        )
        .route("/api/sessions/{id}/contacts/{phone}/lid", get(h::lid))
        .route(
            "/api/sessions/{id}/contacts/{phone}/presence",
            get(h::presence_of),
        )
        .route("/api/sessions/{id}/contacts/{phone}/block", post(h::block))
        .route(
            "/api/sessions/{id}/contacts/{phone}/unblock",
            post(h::unblock),
        )
        .route("/api/sessions/{id}/blocklist", get(h::blocklist))
        .route(
            "/api/sessions/{id}/channels",
            get(h::channels).post(h::create_channel).layer(media_body),
        )
        .route(
            "/api/sessions/{id}/channels/search",
            get(h::search_channels),
        )
        .route(
            "/api/sessions/{id}/channels/{channel}",
            get(h::channel)
                .patch(h::edit_channel)
                .delete(h::delete_channel)
                .layer(media_body),
        )
        .route(
            "/api/sessions/{id}/channels/{channel}/follow",
            post(h::follow_channel).delete(h::unfollow_channel),
        )
        .route(
            "/api/sessions/{id}/channels/{channel}/mute",
            post(h::mute_channel).delete(h::unmute_channel),
        )
        .route(
            "/api/sessions/{id}/labels",
            get(h::labels).post(h::create_label),
        )
        .route(
            "/api/sessions/{id}/labels/{label}",
            patch(h::edit_label).delete(h::delete_label),
        )
        .route(
            "/api/sessions/{id}/labels/{label}/chats",
            post(h::label_chats),
        )
        .route(
            "/api/sessions/{id}/calls/{call}/reject",
            post(h::reject_call),
        )
        .route(
            "/api/sessions/{id}/profile",
            get(h::my_profile)
                .patch(h::edit_my_profile)
                .layer(media_body),
        )
        .route("/api/sessions/{id}/presence", post(h::presence))
        .route(
            "/api/sessions/{id}/presence/subscribe",
            post(h::subscribe_presence),
        )
        .route(
            "/api/sessions/{id}/groups",
            get(h::groups).post(h::create_group),
        )
        .route("/api/sessions/{id}/groups/join", post(h::join_group))
        .route(
            "/api/sessions/{id}/groups/{gid}",
            get(h::group).patch(h::edit_group).layer(media_body),
        )
        .route(
            "/api/sessions/{id}/groups/{gid}/participants",
            post(h::group_participants),
        )
        .route(
            "/api/sessions/{id}/groups/{gid}/invite",
            get(h::group_invite),
        )
        .route(
            "/api/sessions/{id}/groups/{gid}/invite/revoke",
            post(h::revoke_group_invite),
        )
        .route(
            "/api/sessions/{id}/groups/{gid}/requests",
            get(h::join_requests).post(h::answer_join_requests),
        )
        .route("/api/sessions/{id}/invites/{code}", get(h::invite_info))
        .route(
            "/api/sessions/{id}/groups/{gid}/subject",
            put(h::group_subject),
        )
        .route(
            "/api/sessions/{id}/groups/{gid}/leave",
            post(h::leave_group),
        )
        .route(
            "/api/sessions/{id}/communities",
            get(h::communities)
                .post(h::create_community)
                .layer(media_body),
        )
        .route(
            "/api/sessions/{id}/communities/{cid}",
            get(h::community)
                .delete(h::deactivate_community)
                .patch(h::edit_community)
                .layer(media_body),
        )
        .route(
            "/api/sessions/{id}/communities/{cid}/groups",
            post(h::link_groups),
        )
        .route(
            "/api/sessions/{id}/communities/{cid}/groups/{gid}",
            delete(h::unlink_group),
        )
        .route(
            "/api/sessions/{id}/communities/{cid}/participants",
            post(h::community_participants),
        )
        .route(
            "/api/sessions/{id}/communities/{cid}/leave",
            post(h::leave_community),
        )
        .route("/api/sessions/{id}/deliveries", get(h::deliveries))
        .route("/api/sessions/{id}/deliveries/{did}/retry", post(h::retry))
        .route("/api/events", get(h::events))
        .route("/api/keys", post(h::create_key).get(h::keys))
        .route("/api/keys/{key_id}", get(h::key).delete(h::revoke_key))
        .route("/api/keys/{key_id}/rotate", post(h::rotate_key))
        .route("/api/templates", get(h::templates))
        .route(
            "/api/templates/{name}",
            put(h::put_template)
                .get(h::template)
                .delete(h::delete_template),
        )
        .route_layer(middleware::from_fn_with_state(
            Guard::new(keys, deny),
            require_key,
        ))
        .with_state(core)
}
