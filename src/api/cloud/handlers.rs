//! The Cloud API routes: each a few lines over the core.

use super::Cloud;
use super::convert::{self as cv, GraphError, Request};
use crate::api::auth::Caller;
use crate::api::body::{BodyError, RawBody};
use crate::core::SendRequest;
use crate::domain::SessionId;
use axum::{
    Json,
    extract::{Multipart, Path, multipart::MultipartRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let secs = self.retry_after;
        crate::api::body::with_retry_after((self.status, Json(self.body())).into_response(), secs)
    }
}

type Answer = Result<Json<Value>, GraphError>;

/// A request's JSON body, or Graph's answer to one that is none.
fn json_body(body: Result<RawBody, BodyError>) -> Result<Value, GraphError> {
    let raw = body.map_err(body_error)?;
    serde_json::from_slice(&raw.0)
        .map_err(|e| GraphError::param(format!("The request body is not JSON: {e}")))
}

/// A body that could not be read, as Graph answers it.
fn body_error(e: BodyError) -> GraphError {
    match e {
        BodyError::TooLarge => GraphError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            100,
            "The request body is too large",
        ),
        BodyError::Malformed(m) => GraphError::param(m),
        BodyError::Invalid { field, why } => GraphError::param(format!("{field} {why}")),
    }
}

fn version(v: &str) -> Result<(), GraphError> {
    if cv::is_version(v) {
        Ok(())
    } else {
        Err(GraphError::param(format!("Unknown path components: /{v}")))
    }
}

/// phone_number_id is the session id.
fn phone_number_id(raw: &str) -> Result<SessionId, GraphError> {
    SessionId::parse(raw).map_err(|_| {
        let mut g = GraphError::param(format!(
            "Unsupported post request. Object with ID '{raw}' does not exist"
        ));
        g.subcode = Some(cv::NO_SUCH_OBJECT);
        g
    })
}

#[utoipa::path(post, path = "/{version}/{phone_number_id}/messages", tag = "cloud", summary = "Send a message (text, media by id or link, template, reaction, mark read)", params(("version" = String, Path, description = "Graph API version, e.g. v21.0"), ("phone_number_id" = String, Path, description = "The session id")), request_body(content = Object, content_type = "application/json", description = "The Cloud API message object: {messaging_product, to, type, text|image|document|audio|video|template|..., biz_opaque_callback_data?}"), responses((status = 200, description = "{messaging_product, contacts, messages}", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error {error: {message, type, code, error_subcode?, fbtrace_id}} (also code 100: not found)", body = Object), (status = 403, description = "Graph error 10: the key may not use this phone number", body = Object), (status = 413, description = "Graph error: too large", body = Object), (status = 429, description = "Graph error 130429 (Retry-After)", body = Object), (status = 500, description = "Graph error 131000", body = Object), (status = 503, description = "Graph error 131016: not connected, busy or the disk is full (Retry-After)", body = Object)))]
pub async fn messages(
    Caller(st): Caller<Cloud>,
    Path((v, pnid)): Path<(String, String)>,
    body: Result<RawBody, BodyError>,
) -> Answer {
    version(&v)?;
    let body = json_body(body)?;
    let id = phone_number_id(&pnid)?;
    match cv::request(&body, &id, &st.users)? {
        // With a typing indicator, as Meta's: "typing…" shows in the chat
        // until the reply goes (or WhatsApp lets it lapse).
        Request::Read { message_id, typing } => {
            let chat = st.core.mark_message_read(&id, &message_id).await?;
            if typing {
                st.core.presence(&id, Some(&chat), "typing").await?;
            }
            Ok(Json(json!({"success": true})))
        }
        Request::Send {
            input,
            to,
            send,
            tracker,
        } => send_and_answer(&st, &id, &input, &to, send, tracker).await,
        Request::React {
            input,
            to,
            message_id,
            emoji,
        } => {
            st.core.react(&id, &message_id, &emoji).await?;
            // The id answered is the message reacted to: WhatsApp Web does
            // not tell a reaction's own id when it is sent.
            let phone = cv::chat_id(to.as_str());
            Ok(Json(cv::sent(
                &input,
                phone,
                &st.users.user_id(&id, phone),
                &message_id,
            )))
        }
        Request::Template {
            input,
            to,
            name,
            params,
            reply_to,
            tracker,
        } => {
            let t = st.core.template(&name)?.ok_or_else(|| {
                GraphError::new(StatusCode::NOT_FOUND, 132001, format!("Template name does not exist in the translation: '{name}' (register it with PUT /api/templates/{name})"))
            })?;
            let text = cv::render_template(&t.body, &params)?;
            let send = SendRequest {
                reply_to,
                ..SendRequest::text(to.clone(), text)
            };
            send_and_answer(&st, &id, &input, &to, send, tracker).await
        }
    }
}

async fn send_and_answer(
    st: &Cloud,
    id: &SessionId,
    input: &str,
    to: &crate::domain::Wid,
    send: SendRequest,
    tracker: Option<String>,
) -> Answer {
    let sent = st
        .core
        .send_with(
            id,
            send,
            None,
            crate::core::SendOptions {
                tracker: tracker.as_deref(),
                ..Default::default()
            },
        )
        .await?;
    let phone = cv::chat_id(to.as_str());
    Ok(Json(cv::sent(
        input,
        phone,
        &st.users.user_id(id, phone),
        &sent.id,
    )))
}

/// The upload's parts, for the API's description.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The file's bytes, with its content type.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Its MIME type, as Meta asks.
    r#type: String,
    /// `whatsapp`
    messaging_product: String,
}

#[utoipa::path(post, path = "/{version}/{phone_number_id}/media", tag = "cloud", summary = "Upload media (multipart: file, type, messaging_product)", params(("version" = String, Path, description = "Graph API version"), ("phone_number_id" = String, Path, description = "The session id")), request_body(content = UploadForm, content_type = "multipart/form-data", description = "file, type, messaging_product=whatsapp"), responses((status = 200, description = "{id}", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error {error: {message, type, code, error_subcode?, fbtrace_id}} (also code 100: not found)", body = Object), (status = 403, description = "Graph error 10: the key may not use this phone number", body = Object), (status = 413, description = "Graph error: too large", body = Object), (status = 429, description = "Graph error 130429 (Retry-After)", body = Object), (status = 500, description = "Graph error 131000", body = Object), (status = 503, description = "Graph error 131016: not connected, busy or the disk is full (Retry-After)", body = Object)))]
pub async fn upload(
    Caller(st): Caller<Cloud>,
    Path((v, pnid)): Path<(String, String)>,
    form: Result<Multipart, MultipartRejection>,
) -> Answer {
    version(&v)?;
    let id = phone_number_id(&pnid)?;
    let mut form = form.map_err(|e| {
        GraphError::param(format!(
            "The upload must be a multipart/form-data body (file, type, messaging_product): {e}"
        ))
    })?;
    let (mut file, mut kind) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| GraphError::param(format!("The multipart body could not be read: {e}")))?
    {
        match field.name() {
            Some("file") => {
                let name = field.file_name().map(String::from);
                let ct = field.content_type().map(String::from);
                let bytes = field.bytes().await.map_err(|e| {
                    GraphError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        131053,
                        format!("Media upload error: {e}"),
                    )
                })?;
                file = Some((bytes.to_vec(), ct, name));
            }
            Some("type") => kind = field.text().await.ok(),
            _ => {}
        }
    }
    let (bytes, ct, name) =
        file.ok_or_else(|| GraphError::param("The parameter file is required."))?;
    let mime = kind
        .or(ct)
        .filter(|m| m.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".into());
    let m = st.core.upload(&id, bytes, mime, name).await?;
    Ok(Json(json!({"id": m.id})))
}

#[derive(serde::Deserialize)]
pub struct ProfileQuery {
    fields: Option<String>,
}

#[utoipa::path(get, path = "/{version}/{phone_number_id}/whatsapp_business_profile", tag = "cloud", summary = "The number's business profile: about, address, description, email, profile picture, websites", params(("version" = String, Path, description = "Graph API version, e.g. v21.0"), ("phone_number_id" = String, Path, description = "The session id"), ("fields" = Option<String>, Query, description = "The fields wanted, comma-separated (all when left out)")), responses((status = 200, description = "{data: [{about, address, description, email, profile_picture_url, websites, vertical, messaging_product}]}", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error 100: no such number, a number that is no WhatsApp Business account, or a field Graph has not", body = Object), (status = 403, description = "Graph error 10: the key may not use this phone number", body = Object), (status = 500, description = "Graph error 131000", body = Object), (status = 503, description = "Graph error 131016: not connected (Retry-After)", body = Object)))]
pub async fn business_profile(
    Caller(st): Caller<Cloud>,
    Path((v, pnid)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<ProfileQuery>,
) -> Answer {
    version(&v)?;
    let profile = st.core.my_profile(&phone_number_id(&pnid)?).await?;
    if profile["business"].is_null() {
        return Err(GraphError::param(format!(
            "(#100) The business profile is a WhatsApp Business account's: {pnid} is no business number"
        )));
    }
    Ok(Json(cv::business_profile(&profile, q.fields.as_deref())?))
}

#[utoipa::path(post, path = "/{version}/{phone_number_id}/whatsapp_business_profile", tag = "cloud", summary = "Change the number's business profile (a WhatsApp Business account's; `profile_picture_handle` is a media id uploaded here or a resumable upload's handle; `vertical` is taken and left as it is)", params(("version" = String, Path, description = "Graph API version, e.g. v21.0"), ("phone_number_id" = String, Path, description = "The session id")), request_body(content = Object, content_type = "application/json", description = "{messaging_product, about?, address?, description?, email?, websites?, vertical?, profile_picture_handle?}"), responses((status = 200, description = "{success: true}", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error 100: an invalid parameter, or a number that is no WhatsApp Business account", body = Object), (status = 403, description = "Graph error 10: the key may not use this phone number, or lacks the manage scope", body = Object), (status = 413, description = "Graph error 100: the body is too large", body = Object), (status = 500, description = "Graph error 131000: WhatsApp did not take the change", body = Object), (status = 503, description = "Graph error 131016: not connected (Retry-After)", body = Object)))]
pub async fn edit_business_profile(
    Caller(st): Caller<Cloud>,
    Path((v, pnid)): Path<(String, String)>,
    body: Result<RawBody, BodyError>,
) -> Answer {
    version(&v)?;
    let session = phone_number_id(&pnid)?;
    let body = json_body(body)?;
    let u = cv::business_update(&body)?;
    let picture = match &u.picture_handle {
        Some(handle) => {
            let (_, bytes) = st.core.stored_media(handle).await?.ok_or_else(|| {
                GraphError::param(format!(
                    "(#100) Param profile_picture_handle must be the id of media uploaded to this number or a resumable upload's handle, not '{handle}'"
                ))
            })?;
            Some(Some(bytes))
        }
        None => None,
    };
    // The business profile always goes, empty or not: the page refuses a
    // number that is no business account, whatever else is asked.
    let edit = crate::core::ProfileEdit {
        about: u.about,
        picture,
        business: Some(u.business),
        ..Default::default()
    };
    match st.core.edit_my_profile(&session, &edit).await {
        Ok(_) => Ok(Json(json!({"success": true}))),
        Err(crate::core::CoreError::Conflict {
            code: "not_business",
            message,
        }) => Err(GraphError::param(format!(
            "(#100) The business profile is a WhatsApp Business account's: {message}"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Graph's answer for an object that is not there, naming the method.
fn no_media(method: &str, id: &str) -> GraphError {
    let mut g = GraphError::param(format!(
        "Unsupported {method} request. Object with ID '{id}' does not exist"
    ));
    g.subcode = Some(cv::NO_SUCH_OBJECT);
    g
}

#[derive(serde::Deserialize)]
pub struct NewUpload {
    file_name: Option<String>,
    file_length: Option<String>,
    file_type: Option<String>,
}

#[utoipa::path(post, path = "/{version}/{app_id}/uploads", tag = "cloud", summary = "Start a resumable upload (Graph's Resumable Upload API); the app id is the session id", params(("version" = String, Path, description = "Graph API version, e.g. v21.0"), ("app_id" = String, Path, description = "The session id (as a phone_number_id is)"), ("file_name" = Option<String>, Query, description = "The file's name"), ("file_length" = u64, Query, description = "Its size in bytes"), ("file_type" = String, Query, description = "application/pdf, image/jpeg, image/jpg, image/png or video/mp4")), responses((status = 200, description = "{id: \"upload:...\"}: the upload session, which takes the bytes at POST /{version}/{id}", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error 100: a parameter missing or invalid, or no such session (subcode 33)", body = Object), (status = 403, description = "Graph error 10: the key may not send for this session", body = Object), (status = 413, description = "Graph error 131053: larger than this server takes", body = Object)))]
pub async fn begin_upload(
    Caller(st): Caller<Cloud>,
    Path((v, app)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<NewUpload>,
) -> Answer {
    version(&v)?;
    let session = phone_number_id(&app)?;
    let length = q
        .file_length
        .as_deref()
        .ok_or_else(|| GraphError::param("(#100) The parameter file_length is required"))?
        .parse::<u64>()
        .map_err(|_| GraphError::param("(#100) Param file_length must be a number of bytes"))?;
    let kind = q
        .file_type
        .ok_or_else(|| GraphError::param("(#100) The parameter file_type is required"))?;
    let name = q.file_name.filter(|n| !n.is_empty());
    let up = st.core.begin_upload(&session, name, length, &kind).await?;
    Ok(Json(json!({"id": up.id})))
}

#[utoipa::path(post, path = "/{first}/{second}", tag = "cloud", summary = "A resumable upload's bytes: `POST /{version}/upload:{id}` with the header file_offset", params(("first" = String, Path, description = "Graph API version"), ("second" = String, Path, description = "The upload session's id, upload:..."), ("file_offset" = u64, Header, description = "Where these bytes start: 0, or the session's file_offset to resume")), request_body(content = crate::api::body::Binary, content_type = "application/octet-stream", description = "The file's bytes from file_offset: all the rest, or a part"), responses((status = 200, description = "{h}: the file's handle (the id of the upload it became, taken as profile_picture_handle and as a media id) once the file is whole; {id, file_offset} after a part", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error 100: file_offset not where the upload stands, more bytes than file_length, or no such upload session (subcode 33)", body = Object), (status = 403, description = "Graph error 10: the key may not send for this session", body = Object), (status = 413, description = "Graph error 100: the body is too large", body = Object)))]
pub async fn upload_part(
    Caller(st): Caller<Cloud>,
    Path((v, id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Result<RawBody, BodyError>,
) -> Answer {
    version(&v)?;
    if !crate::core::is_upload_session(&id) {
        return Err(no_media("post", &id));
    }
    let offset = match headers.get("file_offset").map(|h| h.to_str()) {
        None => 0,
        Some(Ok(o)) => o.trim().parse::<u64>().map_err(|_| {
            GraphError::param(format!(
                "(#100) The header file_offset must be a number of bytes, not '{o}'"
            ))
        })?,
        Some(Err(_)) => {
            return Err(GraphError::param(
                "(#100) The header file_offset must be a number of bytes",
            ));
        }
    };
    let bytes = body.map_err(body_error)?.0;
    let at = st
        .core
        .upload_part(&id, offset, &bytes)
        .await?
        .ok_or_else(|| no_media("post", &id))?;
    Ok(Json(match at.handle {
        Some(h) => json!({"h": h}),
        None => json!({"id": at.id, "file_offset": at.offset}),
    }))
}

#[utoipa::path(get, path = "/{first}/{second}", tag = "cloud", summary = "A media object's URL and details: `GET /{version}/{media_id}`; a resumable upload's progress: `GET /{version}/upload:{id}` ({id, file_offset}, and h once whole)", params(("first" = String, Path, description = "Graph API version"), ("second" = String, Path, description = "The media id")), responses((status = 200, description = "{messaging_product, url, mime_type, sha256, file_size, id}", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error {error: {message, type, code, error_subcode?, fbtrace_id}} (also code 100: not found)", body = Object), (status = 403, description = "Graph error 10: the key may not use this phone number", body = Object), (status = 413, description = "Graph error: too large", body = Object), (status = 429, description = "Graph error 130429 (Retry-After)", body = Object), (status = 500, description = "Graph error 131000", body = Object), (status = 503, description = "Graph error 131016: not connected, busy or the disk is full (Retry-After)", body = Object)))]
pub async fn media_info(
    Caller(st): Caller<Cloud>,
    Path((v, media_id)): Path<(String, String)>,
) -> Answer {
    version(&v)?;
    if crate::core::is_upload_session(&media_id) {
        let at = st
            .core
            .upload_progress(&media_id)
            .await?
            .ok_or_else(|| no_media("get", &media_id))?;
        let mut answer = json!({"id": at.id, "file_offset": at.offset});
        // Whole: its handle too, for a client whose last answer was lost.
        if let Some(h) = at.handle {
            answer["h"] = json!(h);
        }
        return Ok(Json(answer));
    }
    let (m, _) = st
        .core
        .stored_media(&media_id)
        .await?
        .ok_or_else(|| no_media("get", &media_id))?;
    Ok(Json(
        json!({"messaging_product": "whatsapp", "url": format!("{}/cloud/media/{}", st.public_url, m.id),
                   "mime_type": m.mimetype, "sha256": m.sha256, "file_size": m.size, "id": m.id}),
    ))
}

#[utoipa::path(delete, path = "/{first}/{second}", tag = "cloud", summary = "Delete uploaded media: `DELETE /{version}/{media_id}`", params(("first" = String, Path, description = "Graph API version"), ("second" = String, Path, description = "The media id")), responses((status = 200, description = "{success: true}", body = Object), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error {error: {message, type, code, error_subcode?, fbtrace_id}} (also code 100: not found)", body = Object), (status = 403, description = "Graph error 10: the key may not use this phone number", body = Object), (status = 413, description = "Graph error: too large", body = Object), (status = 429, description = "Graph error 130429 (Retry-After)", body = Object), (status = 500, description = "Graph error 131000", body = Object), (status = 503, description = "Graph error 131016: not connected, busy or the disk is full (Retry-After)", body = Object)))]
pub async fn media_delete(
    Caller(st): Caller<Cloud>,
    Path((v, media_id)): Path<(String, String)>,
) -> Answer {
    version(&v)?;
    if st.core.delete_upload(&media_id).await? {
        Ok(Json(json!({"success": true})))
    } else {
        Err(no_media("delete", &media_id))
    }
}

#[utoipa::path(get, path = "/cloud/media/{media_id}", tag = "cloud", summary = "A media object's bytes (the `url` of its details)", params(("media_id" = String, Path, description = "The media id")), responses((status = 200, description = "The media, in its own type", body = crate::api::body::Binary, content_type = "*/*"), (status = 401, description = "Graph error 190", body = Object), (status = 400, description = "Graph error {error: {message, type, code, error_subcode?, fbtrace_id}} (also code 100: not found)", body = Object), (status = 403, description = "Graph error 10: the key may not use this phone number", body = Object), (status = 413, description = "Graph error: too large", body = Object), (status = 429, description = "Graph error 130429 (Retry-After)", body = Object), (status = 500, description = "Graph error 131000", body = Object), (status = 503, description = "Graph error 131016: not connected, busy or the disk is full (Retry-After)", body = Object)))]
pub async fn download(
    Caller(st): Caller<Cloud>,
    Path(media_id): Path<String>,
) -> Result<Response, GraphError> {
    let (m, bytes) = st
        .core
        .stored_media(&media_id)
        .await?
        .ok_or_else(|| no_media("get", &media_id))?;
    Ok(crate::api::body::media_response(
        &m.mimetype,
        m.filename.as_deref(),
        bytes,
    ))
}
