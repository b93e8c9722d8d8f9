//! Sessions: create, list, start, stop, restart, logout, delete, webhooks, QR.

use super::{Core, CoreError};
use crate::domain::{CallPolicy, Limits, Scope, SessionId, Status, Webhook};
use crate::session::{SessionView, Trimmed};
use std::time::Duration;

impl Core {
    pub async fn create_session(
        &self,
        id: SessionId,
        mut webhooks: Vec<Webhook>,
        start: bool,
        proxy: Option<String>,
        limits: Option<Limits>,
        calls: Option<CallPolicy>,
    ) -> Result<SessionView, CoreError> {
        self.may(&id, Scope::Manage)?;
        if id.is_reserved() {
            return Err(CoreError::invalid(
                "id",
                format!("'{id}' is reserved (a path of the API)"),
            ));
        }
        self.own_hooks(&id, &mut webhooks, "webhooks")?;
        let proxy = self.own_proxy(proxy).await?;
        check_limits(limits.as_ref())?;
        super::calls::check_policy(calls.as_ref())?;
        let with_policy = calls.is_some();
        let view = self
            .manager
            .create(id, webhooks, start, proxy, limits, calls)
            .await?;
        if with_policy {
            self.call_policies_changed();
        }
        Ok(view)
    }

    /// Sets (or with None clears) the session's own browser ceilings.
    pub async fn set_limits(
        &self,
        id: &SessionId,
        limits: Option<Limits>,
    ) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        check_limits(limits.as_ref())?;
        Ok(self.manager.set_limits(id, limits).await?)
    }

    /// Every session the caller may see (to route to: a key that may
    /// only send finds its session by its number).
    pub async fn sessions(&self) -> Vec<SessionView> {
        let mut all = self.manager.list().await;
        all.retain(|v| self.access.sees(&v.record.id));
        all
    }

    /// Every session the caller may read, as a listing shows them (a key
    /// that may only send reads none, as `session` refuses it each one).
    pub async fn readable_sessions(&self) -> Vec<SessionView> {
        let mut all = self.sessions().await;
        all.retain(|v| self.may(&v.record.id, Scope::Read).is_ok());
        all
    }

    pub async fn session(&self, id: &SessionId) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Read)?;
        Ok(self.manager.get(id).await?)
    }

    /// How many messages the session's WhatsApp Web holds in memory.
    pub async fn page_messages(&self, id: &SessionId) -> Result<u64, CoreError> {
        self.may(id, Scope::Read)?;
        let bridge = self.manager.bridge(id).await?;
        Ok(bridge.loaded_messages().await?)
    }

    /// Drops WhatsApp Web's in-memory copies of every message already
    /// stored (the driver does it on a timer, `--trim-page-messages-every`).
    /// While a catch-up waits nothing is dropped: it may need them.
    pub async fn trim_page_messages(&self, id: &SessionId) -> Result<Trimmed, CoreError> {
        self.may(id, Scope::Manage)?;
        let stored_before = self
            .manager
            .get(id)
            .await?
            .live
            .and_then(|l| l.stored_before);
        let bridge = self.manager.bridge(id).await?;
        match stored_before {
            Some(before) => Ok(bridge.trim_messages(before).await?),
            None => Ok(Trimmed {
                removed: 0,
                left: bridge.loaded_messages().await?,
            }),
        }
    }

    pub async fn start(&self, id: &SessionId) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        self.manager.start(id).await?;
        Ok(self.manager.get(id).await?)
    }

    pub async fn stop(&self, id: &SessionId) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        self.manager.stop(id).await?;
        Ok(self.manager.get(id).await?)
    }

    pub async fn restart(&self, id: &SessionId) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        self.manager.restart(id).await?;
        Ok(self.manager.get(id).await?)
    }

    pub async fn logout(&self, id: &SessionId) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        self.manager.logout(id).await?;
        Ok(self.manager.get(id).await?)
    }

    /// The session goes, and with it its uploaded media.
    pub async fn delete(&self, id: &SessionId) -> Result<(), CoreError> {
        self.may(id, Scope::Manage)?;
        self.manager.delete(id).await?;
        self.forget_uploads(Some(id)).await;
        Ok(())
    }

    /// The session packed in one file (its auth state, history, webhooks
    /// and pending deliveries): a backup, or a move to another daemon.
    /// Admin only: the file is the linked device. A running session is
    /// refused unless `stop`: then it stops and stays stopped, for a copy
    /// imported elsewhere must not answer the same number beside this one.
    pub async fn export_session(&self, id: &SessionId, stop: bool) -> Result<Vec<u8>, CoreError> {
        self.may(id, Scope::Manage)?;
        self.access.check_admin()?;
        if !stop && self.manager.get(id).await?.status().is_running() {
            return Err(CoreError::Conflict {
                code: "session_running",
                message: format!(
                    "session '{id}' is running: stop it first, or ask with ?stop=true (it then stays stopped); a copy imported elsewhere while this one runs would answer the same number twice"
                ),
            });
        }
        let bytes = self.manager.export(id).await?;
        if stop {
            // The file carries "running" to where it is imported; here it
            // stays stopped, across restarts too: durably before the file
            // is handed over, or a crash now would resume it here beside
            // the copy.
            self.manager.stop(id).await?;
            self.store.flush().await?;
        }
        Ok(bytes)
    }

    /// The session packed for its new home (the cluster's moves): stopped
    /// here, still to run there. The copy here goes once the home has it.
    pub async fn pack_for_move(&self, id: &SessionId) -> Result<Vec<u8>, CoreError> {
        self.may(id, Scope::Manage)?;
        self.access.check_admin()?;
        Ok(self.manager.export(id).await?)
    }

    /// Takes in a session packed by `export_session`, under the id its
    /// manifest names. Admin only.
    pub async fn import_any(&self, bytes: Vec<u8>) -> Result<SessionView, CoreError> {
        self.access.check_admin()?;
        let manifest = crate::session::transfer::manifest_of(&bytes)
            .map_err(|e| CoreError::invalid("body", e))?;
        let id = SessionId::parse(&manifest.session).map_err(|e| {
            CoreError::invalid("body", format!("the export names no valid session: {e}"))
        })?;
        self.import_session(&id, bytes).await
    }

    /// Takes in a session packed by `export_session` under this id (here or
    /// on another daemon), and starts it if it was running. Admin only.
    pub async fn import_session(
        &self,
        id: &SessionId,
        bytes: Vec<u8>,
    ) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        self.access.check_admin()?;
        // `import` itself would hide the session; a `v<digits>` made
        // before those were reserved still moves between peers.
        if id.as_str() == "import" {
            return Err(CoreError::invalid(
                "id",
                format!("'{id}' is reserved (a path of the API)"),
            ));
        }
        Ok(self.manager.import(id, bytes).await?)
    }

    /// This daemon's copy of a session that moved elsewhere is removed
    /// (without logging the device out). Admin only.
    pub async fn remove_here(&self, id: &SessionId) -> Result<(), CoreError> {
        self.may(id, Scope::Manage)?;
        self.access.check_admin()?;
        Ok(self.manager.remove_here(id).await?)
    }

    /// Sets (or with None clears) the session's proxy. A running session's
    /// browser restarts on it at once, with no rescan.
    /// Changes what is given (`Some`): the ceilings (None clears them),
    /// what it does with calls, then the proxy (None for the daemon's).
    /// All are checked first, so a bad one changes nothing.
    pub async fn patch_session(
        &self,
        id: &SessionId,
        limits: Option<Option<Limits>>,
        proxy: Option<Option<String>>,
        calls: Option<Option<CallPolicy>>,
    ) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        if let Some(l) = &limits {
            check_limits(l.as_ref())?;
        }
        if let Some(c) = &calls {
            super::calls::check_policy(c.as_ref())?;
        }
        if let Some(p) = &proxy {
            self.own_proxy(p.clone()).await?;
        }
        // Limits first: a proxy change restarts the browser, under them.
        if let Some(l) = limits {
            self.set_limits(id, l).await?;
        }
        if let Some(c) = calls {
            self.manager.set_call_policy(id, c).await?;
            self.call_policies_changed();
        }
        match proxy {
            Some(p) => self.set_proxy(id, p).await,
            None => self.session(id).await,
        }
    }

    pub async fn set_proxy(
        &self,
        id: &SessionId,
        proxy: Option<String>,
    ) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        let proxy = self.own_proxy(proxy).await?;
        let view = self.manager.set_proxy(id, proxy).await?;
        if view.status().is_running() {
            self.manager.restart(id).await?;
        }
        Ok(self.manager.get(id).await?)
    }

    pub async fn set_webhooks(
        &self,
        id: &SessionId,
        mut hooks: Vec<Webhook>,
    ) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        self.own_hooks(id, &mut hooks, "")?;
        // A webhook already there keeps whose it is: an admin saving the
        // list back does not widen a tenant's, nor a tenant's save narrow
        // the admin's.
        let stored = self.manager.get(id).await?.record.webhooks;
        for h in &mut hooks {
            if let Some(was) = stored
                .iter()
                .find(|s| s.url == h.url && s.format == h.format)
            {
                h.scoped = was.scoped;
                h.no_replies = was.no_replies;
            }
        }
        Ok(self.manager.set_webhooks(id, hooks).await?)
    }

    /// Registers a webhook as a dialect's run-time registration does (open-wa's
    /// `registerWebhook`): one with its URL and format takes these events and
    /// headers, keeping its secret, retries and whose it is; else it is
    /// added, up to [`MAX_SESSION_HOOKS`]. `meta`: what the dialect keeps
    /// with it (e.g. the listener names it was registered for). Answers the
    /// webhook as kept.
    pub async fn register_webhook(
        &self,
        id: &SessionId,
        mut hook: Webhook,
        meta: std::collections::BTreeMap<String, String>,
    ) -> Result<Webhook, CoreError> {
        self.may(id, Scope::Manage)?;
        self.own_hooks(id, std::slice::from_mut(&mut hook), "webhook")?;
        hook.meta = meta;
        let kept = self
            .manager
            .edit_webhooks(id, |hooks| {
                if let Some(h) = hooks
                    .iter_mut()
                    .find(|h| h.url == hook.url && h.format == hook.format)
                {
                    h.events = hook.events.clone();
                    h.headers = hook.headers.clone();
                    h.meta = hook.meta.clone();
                    return Some(h.clone());
                }
                if hooks.len() >= MAX_SESSION_HOOKS {
                    return None;
                }
                hooks.push(hook.clone());
                Some(hook.clone())
            })
            .await?;
        kept.ok_or_else(|| {
            CoreError::invalid(
                "webhook",
                format!("the session has {MAX_SESSION_HOOKS} webhooks already: remove one first"),
            )
        })
    }

    /// Changes the events (and the dialect's `meta`) of the webhook
    /// `which` picks, under the same write as the look-up (one removed
    /// meanwhile stays removed): the webhook as it is after, or None where
    /// there is none.
    pub async fn set_webhook_events(
        &self,
        id: &SessionId,
        which: impl Fn(&Webhook) -> bool,
        events: Vec<String>,
        meta: std::collections::BTreeMap<String, String>,
    ) -> Result<Option<Webhook>, CoreError> {
        self.may(id, Scope::Manage)?;
        Ok(self
            .manager
            .edit_webhooks(id, |hooks| {
                let h = hooks.iter_mut().find(|h| which(h))?;
                h.events = events.clone();
                h.meta = meta.clone();
                Some(h.clone())
            })
            .await?)
    }

    /// Removes the webhooks `which` picks; how many went.
    pub async fn remove_webhooks(
        &self,
        id: &SessionId,
        which: impl Fn(&Webhook) -> bool,
    ) -> Result<usize, CoreError> {
        self.may(id, Scope::Manage)?;
        Ok(self
            .manager
            .edit_webhooks(id, |hooks| {
                let before = hooks.len();
                hooks.retain(|h| !which(h));
                before - hooks.len()
            })
            .await?)
    }

    /// The QR string to scan; 409 unless the session waits for a scan.
    /// Links by phone number instead of a QR: the 8-character code to type
    /// into WhatsApp on that phone. Also announced as `session.pairing_code`.
    pub async fn pair(&self, id: &SessionId, phone: &str) -> Result<String, CoreError> {
        self.may(id, Scope::Manage)?;
        let phone =
            crate::domain::parse_phone(phone).map_err(|e| CoreError::invalid("phone", e))?;
        self.qr(id).await?;
        let bridge = self.manager.unlinked_bridge(id).await?;
        let code = bridge
            .pair_code(&phone)
            .await
            .map_err(|e| CoreError::from(crate::session::CallFailure::from(e)))?;
        self.pipeline.emit(crate::domain::Event::new(
            id,
            crate::domain::EventKind::SessionPairingCode,
            serde_json::json!({"code": code, "phone": phone}),
        ));
        Ok(code)
    }

    pub async fn qr(&self, id: &SessionId) -> Result<String, CoreError> {
        self.may(id, Scope::Manage)?;
        let view = self.manager.get(id).await?;
        view.live
            .as_ref()
            .filter(|l| l.status == Status::ScanQr)
            .and_then(|l| l.qr.clone())
            .ok_or_else(|| CoreError::Conflict {
                code: "not_waiting_for_scan",
                message: format!(
                    "session '{id}' is not waiting for a QR scan (status {})",
                    view.status().as_str()
                ),
            })
    }
}

impl Core {
    /// Adds a webhook unless one with the same URL and format is there.
    pub async fn subscribe(
        &self,
        id: &SessionId,
        mut hook: Webhook,
    ) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Manage)?;
        self.own_hooks(id, std::slice::from_mut(&mut hook), "webhooks")?;
        Ok(self.manager.add_webhook(id, hook).await?)
    }

    /// Waits, at most `limit`, until the session shows a QR or leaves the
    /// states before it (connected, failed, ...). Returns the session then.
    pub async fn settle(&self, id: &SessionId, limit: Duration) -> Result<SessionView, CoreError> {
        self.may(id, Scope::Read)?;
        if let Some(mut rx) = self.manager.watch(id).await {
            let _ = tokio::time::timeout(
                limit,
                rx.wait_for(|l| match l.status {
                    Status::Starting | Status::Disconnected => false,
                    Status::ScanQr => l.qr.is_some(),
                    _ => true,
                }),
            )
            .await;
        }
        self.session(id).await
    }

    /// The session `POST /{method}` means: the configured default, else
    /// the only session there is (that the caller may see).
    pub async fn default_session(&self) -> Result<SessionId, CoreError> {
        if let Some(id) = &self.default_session {
            return Ok(id.clone());
        }
        let all = self.sessions().await;
        match all.as_slice() {
            [one] => Ok(one.record.id.clone()),
            [] => Err(CoreError::NotFound {
                code: "session_not_found",
                message: "there is no session yet; create one first".into(),
            }),
            _ => Err(CoreError::invalid(
                "session",
                "must be named in the path (/{session}/{method}) when there is more than one session, or set WABRIDGE_DEFAULT_SESSION",
            )),
        }
    }
}

/// A proxy URL as it is stored (normalized), or a 422 naming `proxy`.
impl Core {
    /// A proxy as this caller gives it: valid, and at an address it may
    /// reach (a scoped key's browser would otherwise knock on the daemon's
    /// networks for it, and the session's error tell what answered).
    async fn own_proxy(&self, proxy: Option<String>) -> Result<Option<String>, CoreError> {
        let Some(raw) = proxy else {
            return Ok(None);
        };
        let url = crate::domain::Proxy::parse(&raw)
            .map(|p| p.to_url())
            .map_err(|e| CoreError::invalid("proxy", e))?;
        let refused = || {
            CoreError::invalid(
                "proxy",
                "is at an address that may not be reached from here (a link-local or reserved address; for a scoped key also the daemon's host and private networks, unless --private-networks-for-keys)",
            )
        };
        let parsed =
            url::Url::parse(&url).map_err(|e| CoreError::invalid("proxy", e.to_string()))?;
        let reach = self.reach();
        if crate::outbound::refused(&parsed, reach) {
            return Err(refused());
        }
        // A name: where it points now (Chromium looks it up itself).
        if let (Some(url::Host::Domain(host)), true) = (parsed.host(), self.is_tenant()) {
            let port = parsed.port_or_known_default().unwrap_or(1080);
            let found = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                tokio::net::lookup_host((host.to_string(), port)),
            )
            .await;
            if let Ok(Ok(addrs)) = found
                && addrs.into_iter().any(|a| !reach.allows(a.ip()))
            {
                return Err(refused());
            }
        }
        Ok(Some(url))
    }
}

fn check_limits(limits: Option<&Limits>) -> Result<(), CoreError> {
    limits
        .map(Limits::validate)
        .transpose()
        .map(drop)
        .map_err(|(field, why)| CoreError::invalid(field, why))
}

/// Checks what serde cannot; fields named from `at` (e.g. `webhooks[0].url`).
impl Core {
    /// Webhooks as this caller gives them: valid, one per url and format,
    /// and a scoped key's marked `scoped` (delivered to public addresses
    /// only) and, if it may not send through `session`, `no_replies`,
    /// whatever the request said; an address they may not reach is
    /// refused now, as at each attempt.
    pub(super) fn own_hooks(
        &self,
        session: &SessionId,
        hooks: &mut [Webhook],
        at: &str,
    ) -> Result<(), CoreError> {
        check_hooks(hooks, at)?;
        let no_replies = self.may(session, Scope::Send).is_err();
        for h in hooks.iter_mut() {
            h.no_replies = no_replies;
        }
        self.reach_hooks(hooks, at)
    }

    /// Marks a scoped key's webhooks `scoped` and refuses an address they
    /// may not reach (for the ones a dialect makes itself, such as a
    /// Twilio StatusCallback).
    pub(super) fn reach_hooks(&self, hooks: &mut [Webhook], at: &str) -> Result<(), CoreError> {
        for (i, h) in hooks.iter_mut().enumerate() {
            // A tenant's, whatever the switch is now: the dispatcher reads
            // it at each attempt.
            h.scoped = self.is_tenant();
            self.may_reach(&format!("{at}[{i}].url"), &h.url)?;
        }
        Ok(())
    }

    /// Refuses a URL this caller gives (a webhook, a status callback) whose
    /// address it may not reach (`crate::outbound`): before anything is
    /// done with it.
    pub fn may_reach(&self, field: &str, url: &str) -> Result<(), CoreError> {
        match url::Url::parse(url) {
            Ok(u) if crate::outbound::refused(&u, self.reach()) => Err(CoreError::invalid(
                field,
                "is at an address that may not be reached from here (a link-local or reserved address; for a scoped key also the daemon's host and private networks, unless --private-networks-for-keys)",
            )),
            _ => Ok(()),
        }
    }
}

/// The most webhooks a session takes from run-time registrations (a bot
/// that registers a new tunnel URL at each start would pile them up).
pub const MAX_SESSION_HOOKS: usize = 32;

fn check_hooks(hooks: &[Webhook], at: &str) -> Result<(), CoreError> {
    for (i, h) in hooks.iter().enumerate() {
        h.validate(&format!("{at}[{i}]"))
            .map_err(|(field, why)| CoreError::Invalid { field, why })?;
        // A webhook is known by its URL and format (each attempt takes its
        // secret and headers from it as it is then): two would be one.
        if let Some(j) = hooks[..i]
            .iter()
            .position(|o| o.url == h.url && o.format == h.format)
        {
            return Err(CoreError::invalid(
                &format!("{at}[{i}]"),
                format!(
                    "has the url and format of {at}[{j}]: one webhook per url and format (list its events together)"
                ),
            ));
        }
    }
    Ok(())
}
