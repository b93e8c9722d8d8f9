//! A session as one file, to move it between daemons or keep a backup: a
//! tar of `wabridge-export.json` (which session, its move epoch), the
//! store's records of the session (`store.jsonl`: messages, chats,
//! webhooks, the outbox with its pending deliveries, idempotency keys) and
//! its directory (`session/`: the browser profile with WhatsApp's auth
//! state, and media). A copy restored elsewhere needs no new QR scan.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

pub const FORMAT: u32 = 1;
const MANIFEST: &str = "wabridge-export.json";
const RECORDS: &str = "store.jsonl";
const DIR: &str = "session/";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub session: String,
    pub move_epoch: u64,
    pub exported_at: i64,
}

/// One stored record: (tree, key, value).
pub type Record = (String, Vec<u8>, Vec<u8>);

#[derive(Serialize, Deserialize)]
struct Line {
    tree: String,
    k: String,
    v: String,
}

pub struct Bundle {
    pub manifest: Manifest,
    pub records: Vec<Record>,
    /// Paths relative to the session directory, and their bytes.
    pub files: Vec<(PathBuf, Vec<u8>)>,
}

/// Files of a session directory that belong to one running browser only.
fn skipped(name: &str) -> bool {
    name == "browser.pid" || name.starts_with("Singleton") || name == "DevToolsActivePort"
}

fn append(tar: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o600);
    h.set_cksum();
    tar.append_data(&mut h, path, bytes)
}

/// Packs a stopped session. Blocking (reads the directory).
pub fn pack(manifest: &Manifest, records: &[Record], dir: &Path) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    append(&mut tar, MANIFEST, &serde_json::to_vec(manifest)?)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut lines = Vec::new();
    for (tree, k, v) in records {
        serde_json::to_writer(
            &mut lines,
            &Line {
                tree: tree.clone(),
                k: b64.encode(k),
                v: b64.encode(v),
            },
        )?;
        lines.push(b'\n');
    }
    append(&mut tar, RECORDS, &lines)?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in entries {
            let e = e?;
            let ty = e.file_type()?;
            let name = e.file_name().to_string_lossy().into_owned();
            if skipped(&name) {
                continue;
            }
            if ty.is_dir() {
                stack.push(e.path());
            } else if ty.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .unwrap_or(&e.path())
                    .to_path_buf();
                let bytes = std::fs::read(e.path())?;
                append(&mut tar, &format!("{DIR}{}", rel.to_string_lossy()), &bytes)?;
            }
            // Sockets and symlinks are one browser's: not moved.
        }
    }
    tar.into_inner()
}

/// The manifest alone (which session, which move epoch), read without
/// taking in the rest.
pub fn manifest_of(bytes: &[u8]) -> Result<Manifest, String> {
    let mut ar = tar::Archive::new(bytes);
    for e in entries(&mut ar)? {
        let (path, mut e) = e?;
        if path == MANIFEST {
            let buf = read_whole(&mut e)?;
            return serde_json::from_slice(&buf).map_err(|e| format!("a bad {MANIFEST}: {e}"));
        }
    }
    Err(format!("not a session export: no {MANIFEST}"))
}

/// A file of an export, by its name.
type Named<'a> = Result<(String, tar::Entry<'a, &'a [u8]>), String>;

/// A bundle's entries with their paths; a clear sentence for what is not one.
fn entries<'a>(
    ar: &'a mut tar::Archive<&'a [u8]>,
) -> Result<impl Iterator<Item = Named<'a>>, String> {
    let all = ar
        .entries()
        .map_err(|e| format!("not a session export: {e}"))?;
    // Files only: an export packed again by hand (`tar -cf`, `tar -C dir
    // .`) also lists its directories, and may start each path with `./`.
    Ok(all.filter_map(|e| {
        let e = match e {
            Ok(e) => e,
            Err(e) => return Some(Err(format!("not a session export: {e}"))),
        };
        if !e.header().entry_type().is_file() {
            return None;
        }
        let path = match e.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(e) => return Some(Err(format!("a bad path in the export: {e}"))),
        };
        let path = path.strip_prefix("./").map(String::from).unwrap_or(path);
        Some(Ok((path, e)))
    }))
}

fn read_whole(e: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    e.read_to_end(&mut buf)
        .map_err(|e| format!("the export is cut short: {e}"))?;
    Ok(buf)
}

/// Reads a bundle; a clear sentence for anything that is not one.
pub fn unpack(bytes: &[u8]) -> Result<Bundle, String> {
    let mut manifest = None;
    let mut records = Vec::new();
    let mut files = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut ar = tar::Archive::new(bytes);
    for e in entries(&mut ar)? {
        let (path, mut e) = e?;
        let buf = read_whole(&mut e)?;
        if path == MANIFEST {
            let m: Manifest =
                serde_json::from_slice(&buf).map_err(|e| format!("a bad {MANIFEST}: {e}"))?;
            manifest = Some(m);
        } else if path == RECORDS {
            for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let l: Line =
                    serde_json::from_slice(line).map_err(|e| format!("a bad {RECORDS}: {e}"))?;
                let k = b64
                    .decode(&l.k)
                    .map_err(|e| format!("a bad {RECORDS}: {e}"))?;
                let v = b64
                    .decode(&l.v)
                    .map_err(|e| format!("a bad {RECORDS}: {e}"))?;
                records.push((l.tree, k, v));
            }
        } else if let Some(rel) = path.strip_prefix(DIR) {
            let rel = PathBuf::from(rel);
            // Nothing may land outside the session's directory.
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(format!(
                    "the export names a path outside its session: {path}"
                ));
            }
            files.push((rel, buf));
        }
    }
    let manifest = manifest.ok_or_else(|| format!("not a session export: no {MANIFEST}"))?;
    if manifest.format != FORMAT {
        return Err(format!(
            "an export of format {} (this daemon reads {FORMAT})",
            manifest.format
        ));
    }
    Ok(Bundle {
        manifest,
        records,
        files,
    })
}

/// Writes a bundle's files as `dir` (replacing it). Blocking.
pub fn place(files: &[(PathBuf, Vec<u8>)], dir: &Path) -> std::io::Result<()> {
    let tmp = dir.with_extension("importing");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    super::browser::ensure_private_dir(&tmp)?;
    for (rel, bytes) in files {
        let p = tmp.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, bytes)?;
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::rename(&tmp, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_round_trips_and_keeps_to_its_directory() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("s1");
        std::fs::create_dir_all(dir.join("Default/Local Storage")).unwrap();
        std::fs::write(dir.join("Default/Local Storage/000003.log"), b"auth").unwrap();
        std::fs::write(dir.join("browser.pid"), b"123").unwrap();
        let m = Manifest {
            format: FORMAT,
            session: "s1".into(),
            move_epoch: 2,
            exported_at: 1,
        };
        let recs = vec![("messages".to_string(), b"s1\0k".to_vec(), b"{}".to_vec())];
        let b = unpack(&pack(&m, &recs, &dir).unwrap()).unwrap();
        assert_eq!(
            (b.manifest.session.as_str(), b.manifest.move_epoch),
            ("s1", 2)
        );
        assert_eq!(b.records, recs);
        assert_eq!(
            b.files,
            vec![(
                PathBuf::from("Default/Local Storage/000003.log"),
                b"auth".to_vec()
            )]
        );
        let to = t.path().join("s1-copy");
        place(&b.files, &to).unwrap();
        assert_eq!(
            std::fs::read(to.join("Default/Local Storage/000003.log")).unwrap(),
            b"auth"
        );

        let mut evil = tar::Builder::new(Vec::new());
        append(&mut evil, MANIFEST, &serde_json::to_vec(&m).unwrap()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_cksum();
        // `append_data` refuses `..`; a hostile file would carry it raw.
        h.as_gnu_mut().unwrap().name[..17].copy_from_slice(b"session/../../x\0\0");
        h.set_cksum();
        evil.append(&h, &b"x"[..]).unwrap();
        let err = unpack(&evil.into_inner().unwrap()).err().unwrap();
        assert!(err.contains("outside"), "{err}");
        assert!(unpack(b"not a tar").is_err());
    }

    #[test]
    fn an_export_packed_again_by_hand_reads_the_same() {
        let m = Manifest {
            format: FORMAT,
            session: "s1".into(),
            move_epoch: 2,
            exported_at: 1,
        };
        // As `tar -C unpacked -cf x.tar .` writes it: directories listed,
        // every path under `./`.
        // (tar's own builder drops a `./`: names are written raw.)
        let mut t = tar::Builder::new(Vec::new());
        let mut raw = |name: &str, dir: bool, bytes: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(match dir {
                true => tar::EntryType::Directory,
                false => tar::EntryType::Regular,
            });
            h.set_size(bytes.len() as u64);
            h.set_mode(0o700);
            h.set_cksum();
            t.append(&h, bytes).unwrap();
        };
        for d in ["./", "./session/", "./session/Default/"] {
            raw(d, true, b"");
        }
        raw(
            &format!("./{MANIFEST}"),
            false,
            &serde_json::to_vec(&m).unwrap(),
        );
        raw(&format!("./{RECORDS}"), false, b"");
        raw("./session/Default/Cookies", false, b"c");
        let b = unpack(&t.into_inner().unwrap()).unwrap();
        assert_eq!(b.manifest.session, "s1");
        assert_eq!(
            b.files,
            vec![(PathBuf::from("Default/Cookies"), b"c".to_vec())]
        );
    }
}
