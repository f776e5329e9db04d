//! sledgres server: the PostgreSQL wire-protocol frontend (pgwire on tokio).
//!
//! The path of a query, from socket to planner:
//!
//! ```text
//!  TcpListener ──accept──▶ connection task (connection.rs, one tokio task per client)
//!                            │  pgwire Framed codec: bytes ⇄ protocol messages
//!                            │  SSL/GSS refused, startup, BackendKeyData, CancelRequest
//!                            ▼
//!                          Handler (handler.rs): Query / Parse / Bind / Describe / Execute / Sync
//!                            │  SessionHandle::run(closure)  — spawn_blocking + catch_unwind
//!                            ▼
//!                          planner::Session (session_state.rs holds it with the portals)
//!                            │  parse → prepare → execute → fetch (≤ 1000 rows per hop) → end_batch
//!                            ▼
//!                          backend messages (DataRow encoded via types.rs) back to the socket
//! ```
//!
//! Errors become ErrorResponses in `error.rs`, the only place that knows SQLSTATEs.
//!
//! [`start`] opens the database and spawns the accept loop on the current tokio runtime;
//! [`RunningServer::shutdown`] stops it: no new connections, idle connections are told
//! 57P01 and closed, in-flight statements get [`SHUTDOWN_GRACE`] to finish
//! (then they are cancelled), every session is closed (open transactions roll back), and the
//! database is flushed.

pub mod cancel;
pub mod codec;
pub mod connection;
pub mod error;
pub mod handler;
pub mod session_state;
pub mod types;

use connection::Shared;
use futures::FutureExt;
use sledgres_planner::Database;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How to run a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on, e.g. "127.0.0.1:5433"; port 0 picks a free one.
    pub listen: String,
    /// Data directory; `None` runs on a temporary directory removed at shutdown (tests).
    pub data_dir: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:5433".to_string(),
            data_dir: None,
        }
    }
}

/// At shutdown, how long running statements may continue before they are cancelled.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A server accepting connections in the background of the current tokio runtime.
pub struct RunningServer {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept_loop: JoinHandle<()>,
    db: Database,
}

/// Opens the database and starts accepting connections. Returns once listening.
pub async fn start(config: ServerConfig) -> Result<RunningServer, String> {
    let data_dir = config.data_dir.clone();
    let db = tokio::task::spawn_blocking(move || match data_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| {
                format!("could not create data directory \"{}\": {e}", dir.display())
            })?;
            Database::open(&dir).map_err(|e| {
                format!(
                    "could not open data directory \"{}\": {}",
                    dir.display(),
                    e.message
                )
            })
        }
        None => Database::open_temporary()
            .map_err(|e| format!("could not open a temporary database: {}", e.message)),
    })
    .await
    .map_err(|e| format!("could not open the database: {e}"))??;

    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("could not listen on {}: {e}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("could not read the bound address: {e}"))?;
    tracing::info!(%addr, "sledgres listening");

    let shared = Arc::new(Shared {
        db: db.clone(),
        cancel: cancel::CancelRegistry::new(),
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let accept_loop = tokio::spawn(accept_loop(listener, shared, shutdown_rx, SHUTDOWN_GRACE));
    Ok(RunningServer {
        addr,
        shutdown,
        accept_loop,
        db,
    })
}

/// Accepts connections until shutdown, then waits for them to end.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let shared = shared.clone();
                    let rx = shutdown.clone();
                    connections.spawn(async move {
                        // A panic in the connection task (never expected) ends only this
                        // connection; the session's Drop still rolls its transaction back.
                        let served = AssertUnwindSafe(connection::serve(tcp, shared, rx))
                            .catch_unwind()
                            .await;
                        if served.is_err() {
                            tracing::error!("connection task panicked");
                        }
                    });
                }
                Err(e) => {
                    // Running out of file descriptors and similar: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "shutting down: waiting for connections"
    );
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::warn!("grace period over: cancelling running statements");
        shared.cancel.cancel_all();
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(2), drain)
            .await
            .is_err()
        {
            tracing::warn!("aborting connections that did not stop");
            // A statement stuck inside the planner cannot be aborted from outside; do not
            // wait for it forever (dropping the set detaches what is left).
            let _ = tokio::time::timeout(Duration::from_secs(2), connections.shutdown()).await;
        }
    }
}

impl RunningServer {
    /// The database this server serves, for tests that look beneath SQL (e.g. count versions).
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Stops accepting, gives in-flight statements a bounded time, rolls back open
    /// transactions, flushes, and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let Err(e) = self.accept_loop.await {
            tracing::error!(error = %e, "accept loop failed");
        }
        let db = self.db;
        let flushed = tokio::task::spawn_blocking(move || db.shutdown()).await;
        match flushed {
            Ok(Ok(())) => tracing::info!("database flushed; shutdown complete"),
            Ok(Err(e)) => tracing::error!(error = %e.message, "database shutdown failed"),
            Err(e) => tracing::error!(error = %e, "database shutdown panicked"),
        }
    }
}
