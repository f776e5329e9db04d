//! The store: one sled database per data directory, shared by every session.
//!
//! (Interface stub: the implementation replaces the `todo!()`s; signatures are the contract
//! the planner codes against.)

use crate::error::Result;
use crate::transaction::Transaction;
use std::path::Path;

/// PostgreSQL's isolation levels. READ UNCOMMITTED is parsed by the planner and mapped to
/// `ReadCommitted`, as PostgreSQL does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOptions {
    pub isolation: IsolationLevel,
    pub read_only: bool,
    pub deferrable: bool,
}

impl Default for TxnOptions {
    fn default() -> Self {
        TxnOptions {
            isolation: IsolationLevel::ReadCommitted,
            read_only: false,
            deferrable: false,
        }
    }
}

/// Shared by all sessions (`Send + Sync`); cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Store {}

impl Store {
    /// Opens the data directory, creating it if needed, and recovers after a crash.
    /// Fails with `Error::DataDirLocked` if another process has it open.
    pub fn open(_dir: &Path) -> Result<Store> {
        todo!()
    }

    /// A store in a fresh temporary directory, removed when the last handle is dropped.
    /// For tests.
    pub fn open_temporary() -> Result<Store> {
        todo!()
    }

    /// Begins a transaction. Its snapshot is taken lazily, at the first read (so that
    /// `BEGIN; SET TRANSACTION …; SELECT` works as in PostgreSQL); see
    /// [`Transaction::begin_statement`].
    pub fn begin(&self, _opts: TxnOptions) -> Result<Transaction> {
        todo!()
    }

    /// Flushes everything to disk (used at shutdown).
    pub fn flush(&self) -> Result<()> {
        todo!()
    }
}
