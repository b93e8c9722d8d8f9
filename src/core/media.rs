//! Media to send: given as base64 (or a data URL) or fetched from a URL,
//! with a size cap and a timeout.

use super::{Core, CoreError};
use crate::domain::Scope;
use crate::outbound::Reach;
use base64::Engine as _;
use std::time::Duration;

/// Largest media we send, decoded.
/// The default cap on media sent or uploaded (`--max-media-mb`).
pub const MAX_SEND_MEDIA: usize = 64 << 20;
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How long uploaded media is kept (ms): 30 days, as Meta keeps a Cloud
/// API upload; a client that never deletes one does not fill the disk.
pub const UPLOAD_KEEP_MS: i64 = 30 * 24 * 3600 * 1000;

/// The type of a JPEG, PNG, GIF or WebP image, by its first bytes.
pub(super) fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else if bytes.len() > 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The client that fetches media URLs for `reach` (`crate::outbound`);
/// `with_headers`: for fetches that carry a caller's headers, which follow
/// redirects on the same origin only.
pub fn media_client(reach: Reach, with_headers: bool) -> reqwest::Result<reqwest::Client> {
    crate::outbound::guarded(reqwest::Client::builder(), reach)
        .redirect(crate::outbound::redirects_within(reach, with_headers))
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("wabridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub enum MediaSource {
    /// base64, or a `data:` URL.
    Data(String),
    /// http(s), fetched by the daemon with these request headers (a
    /// caller's credentials for its own file server: open-wa's
    /// `requestConfig.headers`).
    Url {
        url: String,
        headers: Vec<(String, String)>,
    },
    /// The id of media uploaded to wabridge (or of a received message's media).
    Upload(String),
}

impl MediaSource {
    /// A URL fetched with no headers of the caller's.
    pub fn url(url: impl Into<String>) -> Self {
        MediaSource::Url {
            url: url.into(),
            headers: Vec::new(),
        }
    }
}

/// The two clients of one reach: for plain fetches, and for those that
/// carry a caller's headers.
pub(super) struct MediaClients {
    pub plain: reqwest::Client,
    pub with_headers: reqwest::Client,
}

impl MediaClients {
    pub fn new(reach: Reach) -> reqwest::Result<Self> {
        Ok(MediaClients {
            plain: media_client(reach, false)?,
            with_headers: media_client(reach, true)?,
        })
    }
}

/// Media kept by wabridge that a client can fetch by id: an upload, or a
/// received message's media.
pub struct StoredMedia {
    pub id: String,
    pub mimetype: String,
    pub sha256: String,
    pub size: u64,
    pub filename: Option<String>,
}

/// Media as a dialect describes it.
pub struct OutgoingMedia {
    pub source: MediaSource,
    pub mimetype: Option<String>,
    pub filename: Option<String>,
    /// An image sent as a sticker (WhatsApp Web makes the WebP).
    pub sticker: bool,
    /// Sent as a document, whatever its type: a file to download, a photo
    /// or video kept as it is instead of recompressed.
    pub document: bool,
    /// A photo, video or voice note its receiver may open once. WhatsApp
    /// keeps it off their linked devices: only their phone opens it.
    pub view_once: bool,
    /// A video (MP4) that plays as a GIF: looped, without sound.
    pub gif: bool,
}

/// Media ready to hand to the page.
pub(super) struct LoadedMedia {
    pub b64: String,
    pub mimetype: String,
    pub filename: Option<String>,
    pub sticker: bool,
    pub document: bool,
    pub view_once: bool,
    pub gif: bool,
}

impl LoadedMedia {
    /// wa-js's file `type` for this media. A WebP image is a sticker, as
    /// WhatsApp shows one.
    pub fn kind(&self) -> &'static str {
        if self.document {
            return "document";
        }
        let m = self.mimetype.as_str();
        match m.split('/').next().unwrap_or("") {
            "image" if self.sticker || m == "image/webp" => "sticker",
            "image" => "image",
            "video" => "video",
            "audio" => "audio",
            _ => "document",
        }
    }
}

/// A type that says only "some bytes": the file's name may say more.
fn is_generic(mime: &str) -> bool {
    let base = mime.split(';').next().unwrap_or("").trim();
    base.eq_ignore_ascii_case("application/octet-stream")
        || base.eq_ignore_ascii_case("binary/octet-stream")
}

/// The type a file name's extension stands for (`report.pdf`), as open-wa
/// types a file sent without one; WhatsApp shows a document by its type.
fn type_of_name(name: &str) -> Option<String> {
    mime_guess::from_path(name)
        .first()
        .map(|m| m.essence_str().to_string())
}

pub(super) fn hex_sha256(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

impl Core {
    pub(super) fn uploads_dir(&self) -> std::path::PathBuf {
        self.manager.env().config.data_dir.join("uploads")
    }

    /// Keeps uploaded media; returns its id (digits, as clients expect).
    pub async fn upload(
        &self,
        session: &crate::domain::SessionId,
        bytes: Vec<u8>,
        mimetype: String,
        filename: Option<String>,
    ) -> Result<StoredMedia, CoreError> {
        self.may(session, Scope::Send)?;
        self.manager.get(session).await?;
        if bytes.is_empty() {
            return Err(CoreError::invalid("file", "is empty"));
        }
        if bytes.len() > self.max_media {
            return Err(CoreError::MediaTooLarge(self.max_media));
        }
        let id =
            (rand::random::<u64>() % 9_000_000_000_000_000 + 1_000_000_000_000_000).to_string();
        let dir = self.uploads_dir();
        crate::session::browser::ensure_private_dir(&dir)
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        tokio::fs::write(dir.join(&id), &bytes)
            .await
            .map_err(|e| CoreError::Internal(format!("could not keep the upload: {e}")))?;
        let m = StoredMedia {
            id: id.clone(),
            sha256: hex_sha256(&bytes),
            size: bytes.len() as u64,
            mimetype,
            filename,
        };
        let kept = self.store.put_upload(
            &id,
            &serde_json::json!({"session": session, "mimetype": m.mimetype, "sha256": m.sha256,
                                "size": m.size, "filename": m.filename, "at": crate::domain::now_ms()}),
        );
        if let Err(e) = kept {
            // No record, no file: nothing would ever remove it.
            let _ = tokio::fs::remove_file(dir.join(&id)).await;
            return Err(e.into());
        }
        Ok(m)
    }

    /// Drops uploads with their files: those past [`UPLOAD_KEEP_MS`], or
    /// (`of`) every upload of a deleted session, its unfinished resumable
    /// uploads too.
    pub(super) async fn forget_uploads(&self, of: Option<&crate::domain::SessionId>) {
        let _one = self.upload_parts.lock().await;
        let Ok(all) = self.store.uploads_starting("") else {
            return;
        };
        let old = crate::domain::now_ms() - UPLOAD_KEEP_MS;
        for (id, meta) in all {
            let session = super::uploads::upload_owner(&id).or(meta["session"].as_str());
            let doomed = match of {
                Some(s) => session == Some(s.as_str()),
                // An upload from before their time was recorded stays.
                None => {
                    !super::uploads::is_upload_session(&id)
                        && meta["at"].as_i64().is_some_and(|at| at < old)
                }
            };
            if doomed && self.store.delete_upload(&id).is_ok() {
                let file = if super::uploads::is_upload_session(&id) {
                    self.part_file(&id)
                } else {
                    self.uploads_dir().join(&id)
                };
                let _ = tokio::fs::remove_file(file).await;
            }
        }
    }

    /// An upload belongs to the session it was uploaded for.
    pub(super) fn may_use_upload(
        &self,
        meta: &serde_json::Value,
        scope: Scope,
    ) -> Result<(), CoreError> {
        match meta["session"]
            .as_str()
            .map(crate::domain::SessionId::parse)
        {
            Some(Ok(s)) => self.may(&s, scope),
            // Uploads from before sessions were recorded: the admin's only.
            _ => Ok(self.access.check_admin()?),
        }
    }

    /// Media by id: an upload, else a received message's media (by the
    /// decimal of its short id).
    pub async fn stored_media(
        &self,
        id: &str,
    ) -> Result<Option<(StoredMedia, Vec<u8>)>, CoreError> {
        // An upload session is no media until it is whole (its handle is).
        if id.starts_with(super::uploads::UPLOAD_PREFIX) {
            return Ok(None);
        }
        if let Some(meta) = self.store.upload(id)? {
            self.may_use_upload(&meta, Scope::Read)?;
            let Ok(bytes) = tokio::fs::read(self.uploads_dir().join(id)).await else {
                return Ok(None);
            };
            let m = StoredMedia {
                id: id.to_string(),
                mimetype: meta["mimetype"]
                    .as_str()
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                sha256: meta["sha256"].as_str().unwrap_or("").to_string(),
                size: bytes.len() as u64,
                filename: meta["filename"].as_str().map(String::from),
            };
            return Ok(Some((m, bytes)));
        }
        let Some(short) = id.parse::<u128>().ok().map(u128::to_be_bytes) else {
            return Ok(None);
        };
        let Some(msg) = self.store.message_by_short_id(&short)? else {
            return Ok(None);
        };
        let (info, bytes) = match self.media(&msg.session, &msg.id).await {
            Ok(found) => found,
            // Gone since, or never had media: there is no such object.
            Err(CoreError::NotFound { .. } | CoreError::SessionNotFound(_)) => return Ok(None),
            // Not kept here and the page cannot hand it over now: a
            // passing failure, not a missing object (Cloud clients give
            // up for good on "does not exist").
            Err(e) => return Err(e),
        };
        Ok(Some((
            StoredMedia {
                id: id.to_string(),
                mimetype: info
                    .mimetype
                    .unwrap_or_else(|| "application/octet-stream".into()),
                sha256: info.sha256.unwrap_or_else(|| hex_sha256(&bytes)),
                size: bytes.len() as u64,
                filename: info.filename,
            },
            bytes,
        )))
    }

    /// Forgets an upload. False if there was none.
    pub async fn delete_upload(&self, id: &str) -> Result<bool, CoreError> {
        if id.starts_with(super::uploads::UPLOAD_PREFIX) {
            return Ok(false);
        }
        match self.store.upload(id)? {
            Some(meta) => self.may_use_upload(&meta, Scope::Send)?,
            None => return Ok(false),
        }
        let had = self.store.delete_upload(id)?;
        if had {
            let _ = tokio::fs::remove_file(self.uploads_dir().join(id)).await;
        }
        Ok(had)
    }

    pub(super) async fn load_media(&self, m: OutgoingMedia) -> Result<LoadedMedia, CoreError> {
        // Bare base64 says no type of its own (a data URL, a fetch and an
        // upload do).
        let mut bare = false;
        let (bytes, sniffed) = match m.source {
            MediaSource::Data(data) => {
                // Accept a data URL too.
                let (mime, b64) = match data
                    .strip_prefix("data:")
                    .and_then(|r| r.split_once(";base64,"))
                {
                    Some((mime, b64)) => (Some(mime.to_string()), b64.to_string()),
                    None => (None, data),
                };
                // Line breaks are not data (wrapped base64 is taken).
                let chars = b64.bytes().filter(|b| !b.is_ascii_whitespace()).count();
                if chars / 4 * 3 > self.max_media + 3 {
                    return Err(CoreError::MediaTooLarge(self.max_media));
                }
                let bytes = crate::domain::base64_bytes(&b64)
                    .map_err(|_| CoreError::invalid("media.data", "is not valid base64"))?;
                bare = mime.is_none();
                (bytes, mime)
            }
            MediaSource::Url { url, headers } => self.fetch(&url, &headers).await?,
            MediaSource::Upload(id) => {
                let (info, bytes) = self.stored_media(&id).await?.ok_or_else(|| {
                    CoreError::invalid("media.id", format!("'{id}' is no uploaded media"))
                })?;
                (bytes, Some(info.mimetype))
            }
        };
        if bytes.is_empty() {
            return Err(CoreError::invalid("media", "is empty"));
        }
        if bytes.len() > self.max_media {
            return Err(CoreError::MediaTooLarge(self.max_media));
        }
        let known = |s: &String| s.contains('/') && !is_generic(s);
        let mimetype = m
            .mimetype
            .filter(known)
            .or(sniffed.filter(known))
            .or_else(|| type_of_name(m.filename.as_deref()?))
            // Bare base64 with nothing else to go by: an image says its own.
            .or_else(|| image_type(&bytes).filter(|_| bare).map(String::from))
            .unwrap_or_else(|| "application/octet-stream".into());
        Ok(LoadedMedia {
            b64: base64::engine::general_purpose::STANDARD.encode(&bytes),
            mimetype,
            filename: m.filename,
            sticker: m.sticker,
            document: m.document,
            view_once: m.view_once,
            gif: m.gif,
        })
    }

    /// An image at a URL, fetched as a send's media is (the caller's reach,
    /// the size cap, the timeout): a picture to set (open-wa's
    /// `setGroupIconByUrl`).
    pub async fn fetch_image(
        &self,
        session: &crate::domain::SessionId,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<Vec<u8>, CoreError> {
        self.may(session, Scope::Send)?;
        let (bytes, mime) = self.fetch(url, headers).await?;
        if let Some(m) =
            mime.filter(|m| !is_generic(m) && !m.to_ascii_lowercase().starts_with("image/"))
        {
            return Err(CoreError::invalid(
                "url",
                format!("is not an image (its server says {m})"),
            ));
        }
        if bytes.is_empty() {
            return Err(CoreError::invalid("url", "gave no image"));
        }
        Ok(bytes)
    }

    /// Downloads a media URL with a size cap and a timeout, sending the
    /// caller's headers (then following redirects on the same origin only).
    async fn fetch(
        &self,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<(Vec<u8>, Option<String>), CoreError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| CoreError::invalid("media.url", format!("is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CoreError::invalid("media.url", "must be http or https"));
        }
        let headers = fetch_headers(headers)?;
        let reach = self.reach();
        let client = match (reach, headers.is_empty()) {
            (Reach::Private, true) => &self.http.plain,
            (Reach::Public, true) => &self.http_public.plain,
            (Reach::Private, false) => &self.http.with_headers,
            (Reach::Public, false) => &self.http_public.with_headers,
        };
        if crate::outbound::refused(&parsed, reach) {
            return Err(CoreError::invalid(
                "media.url",
                "is at an address media may not come from (a link-local or reserved address; for a scoped key also the daemon's host and private networks, unless --private-networks-for-keys)",
            ));
        }
        let fail =
            |why: String| CoreError::invalid("media.url", format!("could not be fetched: {why}"));
        let mut resp = client
            .get(parsed)
            .headers(headers)
            .send()
            .await
            // Not the URL, which may be signed (TwiML's media is logged).
            .map_err(|e| fail(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("the server answered {}", resp.status())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n as usize > self.max_media)
        {
            return Err(CoreError::MediaTooLarge(self.max_media));
        }
        let mime = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > self.max_media {
                return Err(CoreError::MediaTooLarge(self.max_media));
            }
        }
        Ok((bytes, mime))
    }
}

/// A caller's headers for a media fetch. Those that frame the request or
/// its encoding are the client's to set (an `Accept-Encoding` would leave a
/// compressed body undecoded): left out, as an axios config often carries
/// them.
fn fetch_headers(headers: &[(String, String)]) -> Result<reqwest::header::HeaderMap, CoreError> {
    use reqwest::header::{HeaderName, HeaderValue};
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let Ok(n) = HeaderName::from_bytes(name.as_bytes()) else {
            return Err(CoreError::invalid(
                "media.headers",
                format!("'{name}' is not a header name"),
            ));
        };
        if matches!(
            n.as_str(),
            "host"
                | "content-length"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
                | "upgrade"
                | "te"
                | "trailer"
                | "accept-encoding"
        ) {
            continue;
        }
        let Ok(mut v) = HeaderValue::from_str(value) else {
            return Err(CoreError::invalid(
                format!("media.headers.{name}").as_str(),
                "is not a header value (no line breaks or control characters)",
            ));
        };
        v.set_sensitive(true);
        // One value a name (`Authorization` and `authorization` given
        // both: the last).
        map.insert(n, v);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_fetch_headers_are_checked_and_framing_left_out() {
        let h = |v: &[(&str, &str)]| {
            fetch_headers(
                &v.iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let map = h(&[
            ("Authorization", "Bearer t0ken"),
            ("Host", "elsewhere"),
            ("Accept-Encoding", "gzip"),
            ("X-Api-Key", "k"),
        ])
        .unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map["authorization"], "Bearer t0ken");
        assert_eq!(map["x-api-key"], "k");
        assert!(matches!(
            h(&[("bad name", "v")]),
            Err(CoreError::Invalid { field, .. }) if field == "media.headers"
        ));
        assert!(matches!(
            h(&[("X-A", "line\nbreak")]),
            Err(CoreError::Invalid { field, .. }) if field == "media.headers.X-A"
        ));
    }

    #[test]
    fn a_file_without_a_type_is_typed_by_its_name() {
        assert!(is_generic("application/octet-stream") && is_generic("Binary/Octet-Stream; x=1"));
        assert!(!is_generic("application/pdf"));
        assert_eq!(
            type_of_name("report.pdf").as_deref(),
            Some("application/pdf")
        );
        assert_eq!(type_of_name("Photo.JPG").as_deref(), Some("image/jpeg"));
        assert_eq!(type_of_name("notes"), None);
    }
}
