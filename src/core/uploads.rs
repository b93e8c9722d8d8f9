//! Resumable uploads (Graph's Resumable Upload API): a file sent in one or
//! more parts, each at the offset where the last one ended, kept across
//! restarts and dropped connections until it is whole. Whole, it becomes an
//! upload like one made with `POST .../media`, and its handle is that
//! upload's id: wherever a media id is taken (a business profile's
//! picture, a send), the handle is too.

use super::{Core, CoreError, StoredMedia};
use crate::domain::{Scope, SessionId, now_ms};
use serde_json::{Value, json};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Upload sessions' ids: `upload:`, 32 hex digits, `.` and the session's
/// id (peers route a part to the session's home by it).
pub const UPLOAD_PREFIX: &str = "upload:";

/// The types Graph's Resumable Upload API takes.
pub const UPLOAD_TYPES: [&str; 5] = [
    "application/pdf",
    "image/jpeg",
    "image/jpg",
    "image/png",
    "video/mp4",
];

/// How long an upload session lives, whole or not (ms): long enough to
/// resume after a night's outage, short enough that abandoned parts do not
/// pile up.
const UPLOAD_TTL_MS: i64 = 24 * 3600 * 1000;

/// Where an upload session stands.
#[derive(Clone, Debug, PartialEq)]
pub struct UploadProgress {
    pub id: String,
    /// Bytes taken so far: where the next part starts.
    pub offset: u64,
    pub length: u64,
    /// Once whole: the handle (the id of the upload it became).
    pub handle: Option<String>,
}

impl UploadProgress {
    fn of(id: &str, meta: &Value) -> Self {
        UploadProgress {
            id: id.to_string(),
            offset: meta["offset"].as_u64().unwrap_or(0),
            length: meta["length"].as_u64().unwrap_or(0),
            handle: meta["handle"].as_str().map(String::from),
        }
    }
}

/// Whether `id` is an upload session's id as this daemon makes them (its
/// token also names a file: nothing else may get that far).
pub fn is_upload_session(id: &str) -> bool {
    upload_owner(id).is_some()
}

/// The session an upload session's id names.
pub fn upload_owner(id: &str) -> Option<&str> {
    let (token, session) = id.strip_prefix(UPLOAD_PREFIX)?.split_once('.')?;
    let token_ok = token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit());
    (token_ok && SessionId::parse(session).is_ok()).then_some(session)
}

impl Core {
    pub(super) fn part_file(&self, id: &str) -> std::path::PathBuf {
        let token = id
            .trim_start_matches(UPLOAD_PREFIX)
            .split('.')
            .next()
            .unwrap_or_default();
        self.uploads_dir().join(format!("part-{token}"))
    }

    /// Starts an upload session for a file of `length` bytes of `mimetype`
    /// (one of [`UPLOAD_TYPES`]) for `session`.
    pub async fn begin_upload(
        &self,
        session: &SessionId,
        filename: Option<String>,
        length: u64,
        mimetype: &str,
    ) -> Result<UploadProgress, CoreError> {
        self.may(session, Scope::Send)?;
        self.manager.get(session).await?;
        if !UPLOAD_TYPES.contains(&mimetype) {
            return Err(CoreError::invalid(
                "file_type",
                format!("must be one of {}", UPLOAD_TYPES.join(", ")),
            ));
        }
        if length == 0 {
            return Err(CoreError::invalid("file_length", "must be above 0"));
        }
        if length > self.max_media as u64 {
            return Err(CoreError::MediaTooLarge(self.max_media));
        }
        self.forget_old_upload_sessions().await;
        let id = format!("{UPLOAD_PREFIX}{:032x}.{session}", rand::random::<u128>());
        // WhatsApp knows a JPEG as image/jpeg.
        let mimetype = if mimetype == "image/jpg" {
            "image/jpeg"
        } else {
            mimetype
        };
        self.store.put_upload(
            &id,
            &json!({"session": session, "mimetype": mimetype, "filename": filename,
                    "length": length, "offset": 0, "at": now_ms()}),
        )?;
        Ok(UploadProgress {
            id,
            offset: 0,
            length,
            handle: None,
        })
    }

    /// An upload session's progress; None if there is no such session.
    pub async fn upload_progress(&self, id: &str) -> Result<Option<UploadProgress>, CoreError> {
        Ok(self
            .upload_session(id, Scope::Read)?
            .map(|meta| UploadProgress::of(id, &meta)))
    }

    fn upload_session(&self, id: &str, scope: Scope) -> Result<Option<Value>, CoreError> {
        if !is_upload_session(id) {
            return Ok(None);
        }
        let Some(meta) = self.store.upload(id)? else {
            return Ok(None);
        };
        if meta["at"].as_i64().unwrap_or(0) + UPLOAD_TTL_MS < now_ms() {
            return Ok(None);
        }
        self.may_use_upload(&meta, scope)?;
        Ok(Some(meta))
    }

    /// Takes `bytes` at `offset`, which must be where the session stands.
    /// The part that makes the file whole turns it into an upload. None if
    /// there is no such session.
    pub async fn upload_part(
        &self,
        id: &str,
        offset: u64,
        bytes: &[u8],
    ) -> Result<Option<UploadProgress>, CoreError> {
        // One part at a time: two at once would both start at the same
        // offset.
        let _one = self.upload_parts.lock().await;
        let Some(mut meta) = self.upload_session(id, Scope::Send)? else {
            return Ok(None);
        };
        let at = UploadProgress::of(id, &meta);
        if at.handle.is_some() {
            // A repeat of the last part, whose answer was lost (or an empty
            // part at the end): the same answer.
            if offset + bytes.len() as u64 == at.length {
                return Ok(Some(at));
            }
            return Err(CoreError::invalid(
                "file_offset",
                format!(
                    "the upload is whole ({} bytes): nothing more is taken",
                    at.length
                ),
            ));
        }
        if offset != at.offset {
            return Err(CoreError::invalid(
                "file_offset",
                format!(
                    "is {offset}, but the upload stands at {}: send from there (GET the session to learn it)",
                    at.offset
                ),
            ));
        }
        let end = at.offset + bytes.len() as u64;
        if end > at.length {
            return Err(CoreError::invalid(
                "file",
                format!(
                    "runs {} bytes past file_length ({})",
                    end - at.length,
                    at.length
                ),
            ));
        }
        // What the file holds is what counts: a part whose record a crash
        // lost is sent again from there.
        let on_disk = tokio::fs::metadata(self.part_file(id))
            .await
            .map_or(0, |m| m.len());
        if on_disk < at.offset {
            meta["offset"] = json!(on_disk);
            self.store.put_upload(id, &meta)?;
            self.store.flush().await?;
            return Err(CoreError::invalid(
                "file_offset",
                format!("is {offset}, but the upload stands at {on_disk}: send from there"),
            ));
        }
        if !bytes.is_empty() {
            self.store.room()?;
            self.write_part(id, at.offset, bytes)
                .await
                .map_err(|e| CoreError::Internal(format!("could not keep the part: {e}")))?;
        }
        meta["offset"] = json!(end);
        if end == at.length {
            let whole = tokio::fs::read(self.part_file(id))
                .await
                .map_err(|e| CoreError::Internal(format!("could not read the upload: {e}")))?;
            let session = meta["session"]
                .as_str()
                .map(SessionId::parse)
                .and_then(Result::ok)
                .ok_or_else(|| {
                    CoreError::Internal("an upload session without its session".into())
                })?;
            let m: StoredMedia = self
                .upload(
                    &session,
                    whole,
                    meta["mimetype"].as_str().unwrap_or_default().to_string(),
                    meta["filename"].as_str().map(String::from),
                )
                .await?;
            meta["handle"] = json!(m.id);
        }
        // Durable before it is answered: a crash must not take back a part
        // (or a handle) the client was told of.
        self.store.put_upload(id, &meta)?;
        self.store.flush().await?;
        if end == at.length {
            let _ = tokio::fs::remove_file(self.part_file(id)).await;
        }
        Ok(Some(UploadProgress::of(id, &meta)))
    }

    /// Writes a part where the session stands, cutting off whatever a
    /// crash left past it; on disk before the session says it is taken.
    async fn write_part(&self, id: &str, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        crate::session::browser::ensure_private_dir(&self.uploads_dir())?;
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.part_file(id))
            .await?;
        f.set_len(offset).await?;
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        f.write_all(bytes).await?;
        f.sync_data().await
    }

    /// Every hour: upload sessions past their day go, with their parts,
    /// whether or not another one is started; uploads past their 30 days.
    pub(super) async fn sweep_upload_sessions(self) {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            self.forget_old_upload_sessions().await;
            self.forget_uploads(None).await;
        }
    }

    /// Drops upload sessions past their day, and their parts.
    async fn forget_old_upload_sessions(&self) {
        let _one = self.upload_parts.lock().await;
        let Ok(all) = self.store.uploads_starting(UPLOAD_PREFIX) else {
            return;
        };
        let old = now_ms() - UPLOAD_TTL_MS;
        for (id, meta) in all {
            if meta["at"].as_i64().unwrap_or(0) < old && is_upload_session(&id) {
                let _ = self.store.delete_upload(&id);
                let _ = tokio::fs::remove_file(self.part_file(&id)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ids_made_here_name_a_session() {
        assert_eq!(
            upload_owner("upload:0123456789abcdef0123456789abcdef.shop1"),
            Some("shop1")
        );
        for bad in [
            "upload:",
            "upload:0123456789abcdef0123456789abcdef",
            "upload:0123456789abcdef0123456789abcdef.",
            "upload:0123456789abcdef0123456789abcdef./etc",
            "upload:0123456789abcdef0123456789abcdef.a/../b",
            "upload:../../etc/passwd",
            "upload:0123456789abcdef0123456789abcde",
            "upload:0123456789abcdef0123456789abcdeg",
            "1234567890123456789",
            "upload:0123456789abcdef0123456789abcdef/..",
        ] {
            assert!(!is_upload_session(bad), "{bad}");
        }
    }
}
