use clap::Parser;
use wabridge::config::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
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
