//! sledgres server: the PostgreSQL wire-protocol frontend (pgwire on tokio).
//!
//! (Interface stub: the implementation replaces the `todo!()`s; `ServerConfig`, `start` and
//! `RunningServer` are the contract the test harness codes against.)

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run a server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to listen on, e.g. "127.0.0.1:5433"; port 0 picks a free one.
    pub listen: String,
    /// Data directory; `None` runs on a temporary directory removed at shutdown (tests).
    pub data_dir: Option<PathBuf>,
}

/// A server accepting connections in the background of the current tokio runtime.
pub struct RunningServer {
    /// The address actually bound (useful with port 0).
    pub addr: SocketAddr,
}

/// Opens the database and starts accepting connections. Returns once listening.
pub async fn start(_config: ServerConfig) -> Result<RunningServer, String> {
    todo!()
}

impl RunningServer {
    /// Stops accepting, gives in-flight statements a bounded time, rolls back open
    /// transactions, flushes, and returns.
    pub async fn shutdown(self) {
        todo!()
    }
}
