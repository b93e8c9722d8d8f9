//! Scoped API keys: made, listed, rotated and revoked by the admin key;
//! each reaches only its sessions, with its scopes. The secret is shown
//! once, at creation or rotation; only its digest is kept.

use super::{Core, CoreError};
use crate::domain::{Access, ApiKey, KEY_PREFIX, KeySet, Scope, SessionId, now_ms};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new secret: the prefix and 32 random bytes.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn hint(secret: &str) -> String {
    secret[secret.len().saturating_sub(4)..].to_string()
}

impl Core {
    /// The scoped key a presented secret is, if it is one (revoked keys
    /// are gone from the store, so they stop working at once).
    pub fn scoped_key(&self, presented: &str) -> Result<Option<ApiKey>, CoreError> {
        if !presented.starts_with(KEY_PREFIX) {
            return Ok(None);
        }
        Ok(self.store.key_by_hash(&digest(presented))?)
    }

    /// Makes a key for `sessions` (which need not exist yet: a tenant may
    /// create its own session) with `scopes` (all three when None).
    /// Returns the record and the secret, which is not kept.
    pub async fn create_key(
        &self,
        name: Option<String>,
        sessions: Vec<SessionId>,
        scopes: Option<Vec<Scope>>,
    ) -> Result<(ApiKey, String), CoreError> {
        self.access.check_admin()?;
        if sessions.is_empty() {
            return Err(CoreError::invalid(
                "sessions",
                "must name at least one session",
            ));
        }
        let scopes: BTreeSet<Scope> = match scopes {
            Some(s) if s.is_empty() => {
                return Err(CoreError::invalid("scopes", "must name at least one scope"));
            }
            Some(s) => s.into_iter().collect(),
            None => Scope::ALL.into_iter().collect(),
        };
        if let Some(n) = &name
            && n.chars().count() > 100
        {
            return Err(CoreError::invalid("name", "must be at most 100 characters"));
        }
        let secret = new_secret();
        let key = ApiKey {
            id: format!("key_{}", ulid::Ulid::new().to_string().to_lowercase()),
            name,
            sessions: sessions.into_iter().collect(),
            scopes,
            hash: digest(&secret),
            hint: hint(&secret),
            created_at: now_ms(),
            rotated_at: None,
        };
        self.store.put_key(&key)?;
        // Durable before the secret is shown: it is shown once.
        self.store.flush().await?;
        tracing::info!(key = %key.id, sessions = key.sessions.len(), "API key created");
        Ok((key, secret))
    }

    pub fn keys(&self) -> Result<Vec<ApiKey>, CoreError> {
        self.access.check_admin()?;
        Ok(self.store.keys()?)
    }

    pub fn key(&self, id: &str) -> Result<ApiKey, CoreError> {
        self.access.check_admin()?;
        self.store
            .keys()?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or_else(|| key_not_found(id))
    }

    /// Revokes a key: the next request with it is refused.
    pub async fn revoke_key(&self, id: &str) -> Result<(), CoreError> {
        self.access.check_admin()?;
        match self.store.delete_key(id)? {
            Some(_) => {
                self.store.flush().await?;
                tracing::info!(key = %id, "API key revoked");
                Ok(())
            }
            None => Err(key_not_found(id)),
        }
    }

    /// A new secret for the same key (id, sessions and scopes kept); the
    /// old secret stops working in the same write.
    pub async fn rotate_key(&self, id: &str) -> Result<(ApiKey, String), CoreError> {
        let old = self.key(id)?;
        let secret = new_secret();
        let new = ApiKey {
            hash: digest(&secret),
            hint: hint(&secret),
            rotated_at: Some(now_ms()),
            ..old.clone()
        };
        if !self.store.replace_key(&old.hash, &new)? {
            return Err(key_not_found(id));
        }
        self.store.flush().await?;
        tracing::info!(key = %id, "API key rotated");
        Ok((new, secret))
    }

    /// Every key and revocation, as peers exchange them.
    pub fn key_set(&self) -> Result<KeySet, CoreError> {
        self.access.check_admin()?;
        Ok(self.store.key_set()?)
    }

    /// Takes in a peer's keys and revocations (see `Store::merge_keys`);
    /// durable before it answers. Returns how many records changed.
    pub async fn merge_keys(&self, theirs: &KeySet) -> Result<usize, CoreError> {
        self.access.check_admin()?;
        let n = self.store.merge_keys(theirs)?;
        if n > 0 {
            self.store.flush().await?;
            tracing::info!(changed = n, "API keys taken in from a peer");
        }
        Ok(n)
    }

    /// This core as a caller with `access` sees it: every call checks it.
    pub fn acting_as(&self, access: Access) -> Core {
        Core {
            access,
            ..self.clone()
        }
    }

    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Refuses the call unless the caller may do `scope` on `session`.
    pub(super) fn may(&self, session: &SessionId, scope: Scope) -> Result<(), CoreError> {
        Ok(self.access.check(session, scope)?)
    }
}

fn key_not_found(id: &str) -> CoreError {
    CoreError::NotFound {
        code: "key_not_found",
        message: format!("no API key '{id}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_hinted() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 43);
        assert_ne!(a, b);
        assert_eq!(hint(&a), &a[a.len() - 4..]);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }
}
