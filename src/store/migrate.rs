//! The one-time move from sled, the store's first database: the only code
//! that still knows sled. A data dir written by an older wabridge (sled's
//! files in `<data_dir>/db`) is copied, table by table, into the redb file
//! at the first start; sled's files are then kept aside in
//! `db/sled-before-redb/` (delete them once satisfied).

use super::{META, SEQ_KEY, table_named};
use redb::Database;
use std::path::Path;

/// Where sled's files go once copied.
const KEPT_ASIDE: &str = "sled-before-redb";

/// Records per write while copying: bounds the memory of one write.
const CHUNK: usize = 20_000;

/// Copies sled's database in `dir` into a new redb file at `file`, if `dir`
/// holds one and `file` does not exist yet.
pub(super) fn from_sled(dir: &Path, file: &Path, cache_bytes: u64) -> anyhow::Result<()> {
    if file.exists() || !dir.join("conf").exists() || !dir.join("db").exists() {
        return Ok(());
    }
    tracing::info!(dir = %dir.display(), "moving the store from sled to redb (once)");
    let started = std::time::Instant::now();
    let old = sled::Config::new()
        .path(dir)
        .cache_capacity(cache_bytes)
        .open()
        .map_err(|e| anyhow::anyhow!("cannot open the sled database at {}: {e}", dir.display()))?;
    let part = file.with_extension("redb.part");
    let _ = std::fs::remove_file(&part);
    let db = Database::builder()
        .set_cache_size(cache_bytes as usize)
        .create(&part)?;
    let mut copied = 0usize;
    for name in old.tree_names() {
        let name = String::from_utf8_lossy(&name).into_owned();
        // sled's default tree holds nothing of ours.
        let Some(def) = table_named(&name) else {
            continue;
        };
        let tree = old.open_tree(&name)?;
        let mut rows = tree.iter();
        loop {
            let tx = db.begin_write()?;
            let mut n = 0;
            {
                let mut t = tx.open_table(def)?;
                for kv in rows.by_ref().take(CHUNK) {
                    let (k, v) = kv?;
                    t.insert(&k[..], &v[..])?;
                    n += 1;
                }
            }
            tx.commit()?;
            copied += n;
            if n < CHUNK {
                break;
            }
        }
    }
    // sled's id generator ordered messages of one second and the event
    // log: the new sequence goes on above every number it gave.
    let next = old.generate_id()? + 1;
    let tx = db.begin_write()?;
    tx.open_table(META)?
        .insert(SEQ_KEY, &next.to_be_bytes()[..])?;
    tx.commit()?;
    drop(db);
    drop(old);
    std::fs::rename(&part, file)?;
    // The new file is in place for good before sled's files move: a crash
    // in between must find one database or the other.
    std::fs::File::open(dir)?.sync_all()?;
    let aside = dir.join(KEPT_ASIDE);
    std::fs::create_dir_all(&aside)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path == file || path == aside {
            continue;
        }
        std::fs::rename(&path, aside.join(path.file_name().expect("a name")))?;
    }
    std::fs::File::open(dir)?.sync_all()?;
    tracing::info!(
        records = copied,
        took_ms = started.elapsed().as_millis() as u64,
        kept_aside = %aside.display(),
        "store moved to redb; sled's files are kept aside"
    );
    Ok(())
}
