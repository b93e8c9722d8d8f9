//! What can go wrong in the core, with a stable code per case. Each dialect
//! maps these to its own status and body.

use crate::domain::SessionId;
use crate::session::{CallFailure, ManagerError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("session '{0}' does not exist")]
    SessionNotFound(SessionId),
    #[error("session '{0}' already exists")]
    SessionExists(SessionId),
    /// The session is in the wrong state for this (not running, not connected).
    #[error("{0}")]
    NotReady(String),
    /// A field of the request is invalid; `field` uses the native names.
    #[error("field '{field}' {why}")]
    Invalid { field: String, why: String },
    #[error("{0} is not on WhatsApp")]
    NotOnWhatsApp(String),
    #[error("media larger than {} MB", .0 >> 20)]
    MediaTooLarge(usize),
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyInProgress,
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// WhatsApp Web refused or failed the call.
    #[error("{0}")]
    WhatsApp(String),
    /// The page did not answer in time or the browser is gone: the outcome
    /// of a send is unknown.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    /// The caller's API key may not do this (another session, a missing
    /// scope, an admin-only call).
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The store cannot take writes (the disk is full or failing): nothing
    /// was done and nothing was acknowledged; retry when space returns.
    #[error("{0}")]
    StorageFull(String),
    /// The daemon is at a configured limit (concurrent requests, event
    /// streams) or a request ran out of time: try again shortly.
    #[error("{message}")]
    Overloaded { code: &'static str, message: String },
    /// Send pacing: the session's queue is full; retry after this long.
    #[error("{message}")]
    RateLimited {
        retry_after: std::time::Duration,
        message: String,
    },
}

impl CoreError {
    pub fn invalid(field: &str, why: impl std::fmt::Display) -> Self {
        CoreError::Invalid {
            field: field.to_string(),
            why: why.to_string(),
        }
    }

    /// For `Retry-After`: whole seconds, rounded up.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            CoreError::RateLimited { retry_after, .. } => {
                Some(retry_after.as_secs_f64().ceil().max(1.0) as u64)
            }
            CoreError::StorageFull(_) => Some(30),
            CoreError::Overloaded { .. } => Some(1),
            _ => None,
        }
    }

    /// The stable code, as the native API shows it.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::SessionNotFound(_) => "session_not_found",
            CoreError::SessionExists(_) => "session_exists",
            CoreError::NotReady(_) => "session_not_ready",
            CoreError::Invalid { .. } => "invalid_field",
            CoreError::NotOnWhatsApp(_) => "number_not_on_whatsapp",
            CoreError::MediaTooLarge(_) => "media_too_large",
            CoreError::IdempotencyInProgress => "idempotency_in_progress",
            CoreError::NotFound { code, .. }
            | CoreError::Conflict { code, .. }
            | CoreError::Forbidden { code, .. }
            | CoreError::Overloaded { code, .. } => code,
            CoreError::WhatsApp(_) => "whatsapp_error",
            CoreError::Unavailable(_) => "browser_unavailable",
            CoreError::Internal(_) => "internal_error",
            CoreError::RateLimited { .. } => "rate_limited",
            CoreError::StorageFull(_) => "storage_full",
        }
    }
}

impl From<crate::domain::Refusal> for CoreError {
    fn from(r: crate::domain::Refusal) -> Self {
        CoreError::Forbidden {
            code: r.code,
            message: r.message,
        }
    }
}

impl From<ManagerError> for CoreError {
    fn from(e: ManagerError) -> Self {
        match e {
            ManagerError::NotFound(id) => CoreError::SessionNotFound(id),
            ManagerError::Exists(id) => CoreError::SessionExists(id),
            ManagerError::WrongState(m) => CoreError::NotReady(m),
            // Nothing was sent: a retry, even under the same key, may go.
            ManagerError::Recycling(m) => CoreError::Overloaded {
                code: "session_recycling",
                message: m,
            },
            ManagerError::BadExport(m) => CoreError::invalid("body", m),
            ManagerError::Internal(m) => CoreError::Internal(m),
            ManagerError::Store(e) => e.into(),
        }
    }
}

impl From<CallFailure> for CoreError {
    fn from(e: CallFailure) -> Self {
        match e {
            CallFailure::Session(e) => e.into(),
            CallFailure::NotOnWhatsApp(who) => CoreError::NotOnWhatsApp(who),
            CallFailure::Page(m) => CoreError::WhatsApp(m),
            CallFailure::Unavailable(m) => CoreError::Unavailable(m),
        }
    }
}

impl From<crate::session::CallError> for CoreError {
    fn from(e: crate::session::CallError) -> Self {
        CallFailure::from(e).into()
    }
}

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full(m) => CoreError::StorageFull(m),
            e => CoreError::Internal(e.to_string()),
        }
    }
}

/// What one of bridge.js's refusals (`PREFIX: why`) means to a caller.
pub(super) enum Refusal {
    NotFound(&'static str),
    Conflict(&'static str),
    /// A field of the request was wrong after all.
    Invalid(&'static str),
}

/// A page's failure: a refusal `table` names by its prefix, with the
/// page's own words; any other as `CallFailure` has it.
pub(super) fn refusal(e: crate::session::CallError, table: &[(&str, Refusal)]) -> CoreError {
    if let crate::session::CallError::Page(m) = &e {
        for (prefix, r) in table {
            // The code whole: `X` is not `X_OTHER: …`.
            if let Some(why) = m
                .strip_prefix(prefix)
                .filter(|r| r.is_empty() || r.starts_with(':'))
            {
                let message = why.trim_start_matches(':').trim_start().to_string();
                return match *r {
                    Refusal::NotFound(code) => CoreError::NotFound { code, message },
                    Refusal::Conflict(code) => CoreError::Conflict { code, message },
                    Refusal::Invalid(field) => CoreError::invalid(field, message),
                };
            }
        }
    }
    CoreError::from(CallFailure::from(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::CallError;

    #[test]
    fn a_refusal_is_named_by_its_prefix_with_the_pages_words() {
        let table = [
            ("NOT_X", Refusal::Conflict("not_x")),
            ("X", Refusal::NotFound("x_not_found")),
            ("BAD", Refusal::Invalid("field")),
        ];
        let page = |m: &str| refusal(CallError::Page(m.into()), &table);
        assert!(
            matches!(page("NOT_X: only admins"), CoreError::Conflict { code: "not_x", ref message } if message == "only admins")
        );
        assert!(
            matches!(page("X: no such x"), CoreError::NotFound { code: "x_not_found", ref message } if message == "no such x")
        );
        assert!(
            matches!(page("BAD: not so"), CoreError::Invalid { ref field, ref why } if field == "field" && why == "not so")
        );
        assert!(matches!(page("something else"), CoreError::WhatsApp(_)));
        assert!(matches!(page("X_OTHER: not ours"), CoreError::WhatsApp(_)));
    }
}
