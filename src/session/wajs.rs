//! Checking a wa-js file before sessions depend on it: loaded into a blank
//! page of a headless browser, it must define `WPP` with every member
//! bridge.js calls (`bridge::needs`); what only one feature needs
//! (`bridge::wants`) is reported as lacking. `wabridge doctor` and the
//! daemon's start (for a file an operator chose) use this.

use super::bridge::{self, Compat};
use super::browser::{self, BrowserSpec};
use std::path::Path;
use std::time::Duration;

const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn check_file(spec: &BrowserSpec, path: &Path) -> anyhow::Result<Compat> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the wa-js file {}: {e}", path.display()))?;
    if src.trim().is_empty() {
        anyhow::bail!("the wa-js file {} is empty", path.display());
    }
    let dir = tempfile::tempdir()?;
    let b = browser::launch(spec, dir.path(), None, CHECK_TIMEOUT).await?;
    let res = check_in(&b.page, &src).await;
    b.shutdown().await;
    res.map_err(|e| anyhow::anyhow!("the wa-js file {} does not load: {e}", path.display()))
}

async fn check_in(page: &chromiumoxide::Page, src: &str) -> Result<Compat, String> {
    bridge::inject_wajs_if_missing(page, CHECK_TIMEOUT, src)
        .await
        .map_err(|e| e.to_string())?;
    let needs = serde_json::to_string(&bridge::needs()).unwrap_or_default();
    let wants = serde_json::to_string(&bridge::wants()).unwrap_or_default();
    // wa-js's `whatsapp.*` members look WhatsApp Web's modules up when
    // read: in this blank page they throw, which still says wa-js has them
    // (null, not undefined). In a session's page a throw means missing.
    let script = format!(
        r#"(() => {{
            const W = window.WPP;
            if (!W) return {{ wa_js: null, wa_web: null, missing: ['WPP'] }};
            const lookup = (p) => {{
                try {{ return p.split('.').reduce((o, k) => (o == null ? undefined : o[k]), W); }}
                catch (e) {{ return null; }}
            }};
            return {{ wa_js: W.version || null, wa_web: null, missing: {needs}.filter((p) => lookup(p) === undefined),
                      lacking: {wants}.filter((p) => lookup(p) === undefined) }};
        }})()"#
    );
    bridge::evaluate::<Compat>(page, CHECK_TIMEOUT, &script)
        .await
        .map_err(|e| e.to_string())
}
