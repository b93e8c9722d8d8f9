//! Calls: declining one that rings, and a session's policy for the calls
//! no one is there to take (decline each, and say why in a message).

use super::{Core, CoreError, SendRequest};
use crate::domain::{CallPolicy, EventKind, Scope, SessionId, Wid, now_ms};
use crate::session::{CallError, CallFailure};
use futures::StreamExt;

/// A call offered longer ago than this has stopped ringing (WhatsApp rings
/// for about 45 s): the policy leaves it be.
const RINGS_FOR_S: i64 = 60;

pub(super) fn check_policy(p: Option<&CallPolicy>) -> Result<(), CoreError> {
    p.map(CallPolicy::validate)
        .transpose()
        .map(drop)
        .map_err(|(field, why)| CoreError::invalid(field, why))
}

fn page(call: &str, e: CallError) -> CoreError {
    match e {
        CallError::Page(m) if m.starts_with("CALL_NOT_FOUND") => CoreError::NotFound {
            code: "call_not_found",
            message: format!("no call {call} rings on this account"),
        },
        // Answered on the phone, declined elsewhere, hung up or missed.
        CallError::Page(m) if m.starts_with("CALL_NOT_RINGING") => CoreError::Conflict {
            code: "call_not_ringing",
            message: format!("call {call} no longer rings"),
        },
        e => CoreError::from(CallFailure::from(e)),
    }
}

impl Core {
    /// Declines a call that rings on this account: the caller hears it
    /// declined, and it stops ringing on the phone too.
    pub async fn reject_call(&self, session: &SessionId, call: &str) -> Result<(), CoreError> {
        self.may(session, Scope::Send)?;
        if call.is_empty() || call.len() > 128 || !call.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CoreError::invalid("call", "is not a call id"));
        }
        let bridge = self.manager.bridge(session).await?;
        bridge.reject_call(call).await.map_err(|e| page(call, e))
    }

    /// Sets (or with None clears) what the session does with calls.
    pub async fn set_call_policy(
        &self,
        session: &SessionId,
        policy: Option<CallPolicy>,
    ) -> Result<crate::session::SessionView, CoreError> {
        self.may(session, Scope::Manage)?;
        check_policy(policy.as_ref())?;
        let view = self.manager.set_call_policy(session, policy).await?;
        self.call_policies_changed();
        Ok(view)
    }

    pub(super) fn call_policies_changed(&self) {
        self.call_policies.send_modify(|n| *n += 1);
    }

    /// Whether any session here declines calls by policy.
    async fn any_call_policy(&self) -> bool {
        self.manager
            .list()
            .await
            .iter()
            .any(|v| v.record.calls.as_ref().is_some_and(|p| p.reject))
    }

    /// Applies each session's call policy to the calls that ring, for the
    /// life of the daemon. While some session has one, it reads the event
    /// log as a stream does, so no call is passed over under load, and
    /// picks up where it was should the stream end; its message goes under
    /// an Idempotency-Key made from the call, so the caller gets it once.
    pub(super) async fn answer_calls(self) {
        let mut changed = self.call_policies.subscribe();
        let mut stopping = self.stopping.clone();
        let mut after = None;
        loop {
            changed.borrow_and_update();
            if !self.any_call_policy().await {
                // Nothing to do: no reading of the log (every event would
                // be read for calls). A session moved in with a policy is
                // seen within a minute.
                after = None;
                tokio::select! {
                    _ = changed.changed() => {}
                    _ = stopping.wait_for(|s| *s) => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                }
                continue;
            }
            match self.live(None, Some(vec![EventKind::CallReceived]), after) {
                Ok(calls) => {
                    let mut calls = std::pin::pin!(calls);
                    loop {
                        tokio::select! {
                            item = calls.next() => match item {
                                Some(super::Live::From { after: at }) => after = Some(at),
                                Some(super::Live::Event(logged)) => {
                                    after = Some(logged.seq);
                                    let core = self.clone();
                                    tokio::spawn(async move { core.apply_policy(&logged.event).await });
                                }
                                Some(_) => {}
                                None => break,
                            },
                            _ = changed.changed() => {
                                changed.borrow_and_update();
                                if !self.any_call_policy().await {
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::error!("calls cannot be declined by policy now: {e}"),
            }
            if *self.stopping.borrow() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    async fn apply_policy(&self, ev: &crate::domain::Event) {
        let session = &ev.session;
        let (Some(call), Some(from)) = (ev.payload["id"].as_str(), ev.payload["from"].as_str())
        else {
            return;
        };
        let offered = ev.payload["timestamp"].as_i64().unwrap_or(0);
        let Some(policy) = self
            .manager
            .get(session)
            .await
            .ok()
            .and_then(|v| v.record.calls)
            .filter(|p| p.reject)
        else {
            return;
        };
        // A page that is reconnecting cannot decline yet: tried again for
        // as long as the call may ring.
        loop {
            if now_ms() / 1000 - offered > RINGS_FOR_S {
                tracing::warn!(
                    "session {session}: call {call} rang out before its call policy could decline it"
                );
                return;
            }
            match self.reject_call(session, call).await {
                Ok(()) => break,
                // Taken on the phone, hung up or missed: nothing to say.
                Err(CoreError::NotFound {
                    code: "call_not_found",
                    ..
                })
                | Err(CoreError::Conflict {
                    code: "call_not_ringing",
                    ..
                }) => return,
                Err(e) => {
                    tracing::debug!("session {session}: call {call} not declined yet: {e}");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
            }
        }
        tracing::info!("session {session}: declined call {call} (its call policy)");
        let Some(text) = policy.message else {
            return;
        };
        // A group call is named by its own id: there is no one to write to.
        let Ok(to) = Wid::parse(from) else {
            tracing::debug!("session {session}: call {call} has no caller to write to ({from})");
            return;
        };
        let key = format!("call-declined:{call}");
        if let Err(e) = self
            .send(session, SendRequest::text(to, text), Some(&key))
            .await
        {
            tracing::warn!(
                "session {session}: the message after declined call {call} was not sent: {e}"
            );
        }
    }
}
