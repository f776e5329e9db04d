//! sledgres planner: SQL text → parsed statement (sqlparser, PostgreSQL dialect) → bound, typed
//! logical plan → optimised plan → physical operators that stream rows, plus the SQL session
//! (transaction state machine, settings) that drives them.
//!
//! The server talks to this crate only through [`Database`], [`Session`] and the types they
//! return; it never sees the storage crate.

pub mod binder;
pub mod catalog;
pub mod copy;
pub mod error;
pub mod exec;
pub mod notice;
pub mod optimizer;
mod parse;
pub mod plan;
pub mod scalar;
pub mod session;
pub mod settings;
pub mod utility;

pub use error::{Error, ErrorKind, Result};

/// Runs a step of a recursive walk (binding, compiling, evaluating, folding expressions) on
/// a stack that grows on demand: expression depth is bounded by the binder, but debug builds
/// use large frames and the server runs statements on threads with ordinary stacks.
pub(crate) fn grow_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(128 * 1024, 2 * 1024 * 1024, f)
}
pub use notice::{Notice, Severity};
pub use session::{
    CancelHandle, ColumnInfo, CommandTag, Cursor, Database, Prepared, QueryResult, Session,
    SessionParams, Statement, StatementEffect, TransactionStatus,
};
pub use sledgres_storage::{DataType, Interval, Numeric, Row, Value};
