//! The reaper: a small process of its own (this binary, `wabridge reaper`)
//! that ends every browser still running when the daemon dies without
//! ending them (`kill -9`, the OOM killer, an abort).
//!
//! `PR_SET_PDEATHSIG` reaches only a browser's first process. What that
//! process started lives on without it: the real browser behind a wrapper
//! script given as `--chromium`, the zygotes of a Chromium that runs its
//! own sandbox. The daemon tells the reaper each browser's process group
//! over a pipe (`+pgid`, `-pgid` when it ends it itself); the pipe closes
//! when the daemon dies, however it dies, and the reaper then kills what
//! is left and exits.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};

static PIPE: OnceLock<Mutex<Option<ChildStdin>>> = OnceLock::new();

/// Starts the reaper for this daemon (once; later calls do nothing).
/// Without it browsers are still ended on every path the daemon lives
/// through, and leftovers of a `kill -9` at the next start.
pub fn start() -> std::io::Result<()> {
    if PIPE.get().is_some() {
        return Ok(());
    }
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(std::env::current_exe()?)
        .arg("reaper")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        // Not in the daemon's group: a Ctrl-C or a signal to the group
        // must leave it alive to do its work.
        .process_group(0)
        .spawn()?;
    let stdin = child.stdin.take();
    // It exits on its own when the pipe closes; nothing waits for it but
    // the kernel (reaped as a zombie only if the daemon lives on).
    std::thread::Builder::new()
        .name("reaper-wait".into())
        .spawn(move || {
            let _ = child.wait();
        })?;
    let _ = PIPE.set(Mutex::new(stdin));
    Ok(())
}

/// A browser's process group, for the reaper to end if the daemon dies.
pub fn watch(pgid: i32) {
    tell(&format!("+{pgid}\n"));
}

/// The daemon ended that group itself.
pub fn forget(pgid: i32) {
    tell(&format!("-{pgid}\n"));
}

fn tell(line: &str) {
    let Some(pipe) = PIPE.get() else { return };
    let mut pipe = pipe.lock().unwrap_or_else(|e| e.into_inner());
    let Some(w) = pipe.as_mut() else { return };
    // A line is far below PIPE_BUF: written whole, and the reaper reads
    // as fast as lines come.
    if let Err(e) = w.write_all(line.as_bytes()) {
        tracing::warn!(
            "the browser reaper is gone ({e}); leftovers of a crash are ended at the next start"
        );
        *pipe = None;
    }
}

/// The reaper's own life: read groups until the daemon is gone, then end
/// those still listed.
pub fn run(input: impl BufRead) {
    let mut groups = HashSet::new();
    for line in input.lines() {
        let Ok(line) = line else { break };
        match (
            line.get(..1),
            line.get(1..).and_then(|n| n.parse::<i32>().ok()),
        ) {
            (Some("+"), Some(g)) if g > 1 => {
                groups.insert(g);
            }
            (Some("-"), Some(g)) => {
                groups.remove(&g);
            }
            _ => {}
        }
    }
    for g in groups {
        // SAFETY: a signal to a process group the daemon started.
        unsafe { libc::killpg(g, libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_the_groups_still_listed_when_the_pipe_closes() {
        use std::os::unix::process::CommandExt;
        let spawn = || {
            std::process::Command::new("sleep")
                .arg("60")
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let (mut kept, mut ended) = (spawn(), spawn());
        let (k, e) = (kept.id() as i32, ended.id() as i32);
        let input = format!("+{k}\n+{e}\n-{k}\nnonsense\n+1\n");
        run(std::io::Cursor::new(input));
        let status = ended.wait().unwrap();
        assert!(!status.success(), "the listed group was ended");
        assert!(
            kept.try_wait().unwrap().is_none(),
            "a forgotten group lives on"
        );
        kept.kill().unwrap();
        let _ = kept.wait();
    }
}
