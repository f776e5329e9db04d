//! The `sledgres` binary: command line, logging, signals.
//!
//! `sledgres [--listen ADDR] [--data-dir DIR] [--log LEVEL]` opens (creating on first start)
//! the data directory, serves the PostgreSQL protocol, and on SIGINT or SIGTERM shuts down
//! cleanly: no new connections, running statements get a few seconds, open transactions
//! roll back, the store is flushed, exit status 0. Failing to start (a data directory
//! already in use by another server, an address in use) prints the reason and exits 1.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// A PostgreSQL-compatible SQL server with an embedded MVCC store on sled.
#[derive(Parser, Debug)]
#[command(name = "sledgres", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SLEDGRES_LISTEN", default_value = "127.0.0.1:5433")]
    listen: String,
    /// Data directory (created on first start).
    #[arg(long, env = "SLEDGRES_DATA_DIR", default_value = "./sledgres-data")]
    data_dir: PathBuf,
    /// Log level or filter (error, warn, info, debug, trace, or an EnvFilter directive).
    /// Without it, RUST_LOG is used, and then "info".
    #[arg(long, env = "SLEDGRES_LOG")]
    log: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match &args.log {
        Some(level) => EnvFilter::try_new(level),
        None => EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info")),
    };
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sledgres: invalid log level: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sledgres: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let config = sledgres::ServerConfig {
        listen: args.listen,
        data_dir: Some(args.data_dir),
    };
    let server = match sledgres::start(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("sledgres: {e}");
            return ExitCode::FAILURE;
        }
    };
    wait_for_signal().await;
    tracing::info!("received shutdown signal");
    server.shutdown().await;
    ExitCode::SUCCESS
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
