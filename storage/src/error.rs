//! The storage layer's error type. The server maps each variant to a SQLSTATE once, at the
//! protocol edge (via the planner's error kinds); nothing here knows about SQLSTATEs.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum Error {
    /// A write met a row changed by a transaction that committed after our snapshot
    /// (REPEATABLE READ / SERIALIZABLE), or SSI found a dangerous structure.
    /// The message is PostgreSQL's, e.g. "could not serialize access due to concurrent update".
    #[error("{message}")]
    Serialization {
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    /// This transaction was chosen as a deadlock victim.
    #[error("deadlock detected")]
    Deadlock { detail: String },
    /// A lock could not be had in time (`lock_timeout`) or at once (`NOWAIT`).
    #[error("{0}")]
    LockNotAvailable(String),
    /// The statement was cancelled (cancel request or `statement_timeout`) while waiting.
    #[error("canceling statement due to {0}")]
    Cancelled(String),
    /// A unique or primary key constraint would be violated. The planner formats PostgreSQL's
    /// DETAIL ("Key (a, b)=(1, x) already exists.") from the columns and values.
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation {
        constraint: String,
        columns: Vec<String>,
        values: Vec<crate::types::Value>,
    },
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    /// A write in a READ ONLY transaction.
    #[error("cannot execute {0} in a read-only transaction")]
    ReadOnly(String),
    /// The data directory is in use by another server process.
    #[error("data directory {0} is in use by another sledgres process")]
    DataDirLocked(String),
    /// Disk or sled failure.
    #[error("storage I/O error: {0}")]
    Io(String),
    /// A broken invariant or corrupt data: a bug, never the client's fault.
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Io(e.to_string())
    }
}

impl From<postcard::Error> for Error {
    fn from(e: postcard::Error) -> Self {
        Error::Internal(format!("decoding: {e}"))
    }
}
