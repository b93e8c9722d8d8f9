//! Media to send: given as base64 (or a data URL) or fetched from a URL,
//! with a size cap and a timeout.

use super::{Core, CoreError};
use base64::Engine as _;
use std::time::Duration;

/// Largest media we send, decoded.
pub const MAX_SEND_MEDIA: usize = 64 << 20;
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

pub enum MediaSource {
    /// base64, or a `data:` URL.
    Data(String),
    /// http(s), fetched by the daemon.
    Url(String),
}

/// Media as a dialect describes it.
pub struct OutgoingMedia {
    pub source: MediaSource,
    pub mimetype: Option<String>,
    pub filename: Option<String>,
}

/// Media ready to hand to the page.
pub(super) struct LoadedMedia {
    pub b64: String,
    pub mimetype: String,
    pub filename: Option<String>,
}

impl LoadedMedia {
    /// wa-js's file `type` for this media.
    pub fn kind(&self) -> &'static str {
        let m = self.mimetype.as_str();
        match m.split('/').next().unwrap_or("") {
            "image" if m != "image/webp" => "image",
            "video" => "video",
            "audio" => "audio",
            _ => "document",
        }
    }
}

impl Core {
    pub(super) async fn load_media(&self, m: OutgoingMedia) -> Result<LoadedMedia, CoreError> {
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
                if b64.len() / 4 * 3 > MAX_SEND_MEDIA + 3 {
                    return Err(CoreError::MediaTooLarge(MAX_SEND_MEDIA));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| CoreError::invalid("media.data", "is not valid base64"))?;
                (bytes, mime)
            }
            MediaSource::Url(url) => self.fetch(&url).await?,
        };
        if bytes.is_empty() {
            return Err(CoreError::invalid("media", "is empty"));
        }
        if bytes.len() > MAX_SEND_MEDIA {
            return Err(CoreError::MediaTooLarge(MAX_SEND_MEDIA));
        }
        let mimetype = m
            .mimetype
            .or(sniffed)
            .filter(|s| s.contains('/'))
            .unwrap_or_else(|| "application/octet-stream".into());
        Ok(LoadedMedia {
            b64: base64::engine::general_purpose::STANDARD.encode(&bytes),
            mimetype,
            filename: m.filename,
        })
    }

    /// Downloads a media URL with a size cap and a timeout.
    async fn fetch(&self, url: &str) -> Result<(Vec<u8>, Option<String>), CoreError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| CoreError::invalid("media.url", format!("is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(CoreError::invalid("media.url", "must be http or https"));
        }
        let fail =
            |why: String| CoreError::invalid("media.url", format!("could not be fetched: {why}"));
        let mut resp = self
            .http
            .get(parsed)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("the server answered {}", resp.status())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n as usize > MAX_SEND_MEDIA)
        {
            return Err(CoreError::MediaTooLarge(MAX_SEND_MEDIA));
        }
        let mime = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_SEND_MEDIA {
                return Err(CoreError::MediaTooLarge(MAX_SEND_MEDIA));
            }
        }
        Ok((bytes, mime))
    }
}
