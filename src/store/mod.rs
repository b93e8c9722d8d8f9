//! The only code that knows sled. One database under `<data_dir>/db`;
//! one tree per kind of record; values are JSON, keys sort as they should.

use crate::model::SessionId;
use serde::{Serialize, de::DeserializeOwned};
use std::path::Path;

#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    sessions: sled::Tree,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sled::Error),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl Store {
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| anyhow::anyhow!("cannot open the database at {}: {e}", dir.display()))?;
        Ok(Store {
            sessions: db.open_tree("sessions")?,
            db,
        })
    }

    pub fn put_session<T: Serialize>(&self, id: &SessionId, rec: &T) -> Result<()> {
        self.sessions
            .insert(id.as_str(), serde_json::to_vec(rec)?)?;
        Ok(())
    }

    /// Inserts only if absent; false if the id is taken.
    pub fn create_session<T: Serialize>(&self, id: &SessionId, rec: &T) -> Result<bool> {
        let res = self.sessions.compare_and_swap(
            id.as_str(),
            None as Option<&[u8]>,
            Some(serde_json::to_vec(rec)?),
        )?;
        Ok(res.is_ok())
    }

    pub fn get_session<T: DeserializeOwned>(&self, id: &SessionId) -> Result<Option<T>> {
        match self.sessions.get(id.as_str())? {
            Some(v) => Ok(Some(serde_json::from_slice(&v)?)),
            None => Ok(None),
        }
    }

    pub fn sessions<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.sessions
            .iter()
            .values()
            .map(|v| Ok(serde_json::from_slice(&v?)?))
            .collect()
    }

    pub fn delete_session(&self, id: &SessionId) -> Result<()> {
        self.sessions.remove(id.as_str())?;
        Ok(())
    }

    /// Durably writes what is pending (sled syncs every 500 ms otherwise).
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }
}
