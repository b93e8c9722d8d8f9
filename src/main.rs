use clap::Parser;
use wabridge::config::{Cli, Command};

/// jemalloc, not glibc's malloc. Under a burst of writes the database
/// replaces tree nodes faster than it frees the old ones (hundreds of MB
/// in flight), and glibc's arenas kept the pages that a few long-lived
/// records pinned among that garbage: after 30,000 inbound messages the
/// daemon held 88–117 MB for ~45 MB in use, peaking at 160–225 MB.
/// jemalloc's size classes keep long- and short-lived records apart and its
/// background thread returns freed pages within a second: 80 MB after the
/// same run, peaks under 100 MB (docs/performance.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Freed pages go back to the system after a second (its background
/// thread); two arenas, as the daemon's allocating threads are few.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2\0";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Reaper = cli.command {
        // No runtime: it only reads a pipe until the daemon is gone.
        wabridge::session::reaper::run(std::io::stdin().lock());
        return std::process::ExitCode::SUCCESS;
    }
    // tokio's defaults: an idle thread retires after 10 s and its allocator
    // cache goes with it (browsers are launched from a thread of their own,
    // `session::browser`, since they end with the thread that launched them).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let res = rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => wabridge::serve(args).await,
            Command::Sandbox(args) => wabridge::run_sandbox(args).await,
            Command::Healthcheck(args) => wabridge::healthcheck(args).await,
            Command::Export(args) => wabridge::daemon::export(args).await,
            Command::Import(args) => wabridge::daemon::import(args).await,
            Command::Reaper => Ok(()),
            Command::Doctor(args) => match wabridge::daemon::doctor(args).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(anyhow::anyhow!("the wa-js file falls short (see above)")),
                Err(e) => Err(e),
            },
        }
    });
    match res {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wabridge: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
