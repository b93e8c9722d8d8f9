//! Proxy credentials through the DevTools protocol: Chromium takes none in
//! `--proxy-server`, so the page's requests are intercepted (Fetch domain,
//! chromiumoxide's `authenticate`) and each proxy challenge is answered
//! with the session's user and password; a second challenge for the same
//! request is cancelled. Seeing that second challenge means the proxy
//! refused them: it is reported, never answered in a loop.

use crate::domain::Proxy;
use chromiumoxide::Page;
use chromiumoxide::auth::Credentials;
use chromiumoxide::cdp::browser_protocol::fetch::{AuthChallengeSource, EventAuthRequired};
use futures::StreamExt;
use std::collections::HashSet;
use tokio::sync::watch;

/// Starts answering the proxy's challenges on `page`; the receiver turns
/// true when the proxy refuses the credentials, or, for a proxy given
/// without any, at its first challenge (it wants some). Ends with the page.
pub async fn answer(page: &Page, proxy: &Proxy) -> Result<watch::Receiver<bool>, String> {
    let mut challenges = page
        .event_listener::<EventAuthRequired>()
        .await
        .map_err(|e| e.to_string())?;
    page.authenticate(Credentials {
        username: proxy.user.clone().unwrap_or_default(),
        password: proxy.password.clone().unwrap_or_default(),
    })
    .await
    .map_err(|e| e.to_string())?;
    let (refused_tx, refused) = watch::channel(false);
    let has_credentials = proxy.user.is_some();
    tokio::spawn(async move {
        let mut answered: HashSet<String> = HashSet::new();
        while let Some(ev) = challenges.next().await {
            let from_proxy = ev.auth_challenge.source == Some(AuthChallengeSource::Proxy);
            if from_proxy && (!has_credentials || !answered.insert(ev.request_id.inner().clone())) {
                let _ = refused_tx.send(true);
            }
        }
    });
    Ok(refused)
}

/// Chromium's network errors that name the proxy.
pub fn is_proxy_error(err: &str) -> bool {
    ["PROXY", "TUNNEL", "SOCKS"].iter().any(|k| err.contains(k))
}
