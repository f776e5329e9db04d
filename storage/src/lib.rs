//! sledgres storage: an MVCC row store on sled.
//!
//! This crate knows nothing of SQL text. It offers tables of typed rows with primary keys and
//! secondary indexes, a transactional catalog, and transactions at PostgreSQL's isolation levels.
//! The planner is its only client; the server never sees it.
//!
//! The public surface is small on purpose:
//! - [`Store`]: one per data directory; opens (and recovers) it, begins transactions.
//! - [`Transaction`]: snapshot reads (scan, index scan, point get), writes (insert, update,
//!   delete, each taking the row's write lock and waiting for a concurrent writer), row locks
//!   (`SELECT … FOR UPDATE/SHARE`, NOWAIT, SKIP LOCKED), catalog changes, commit (durable on
//!   return) and rollback.
//! - [`Store::vacuum`]: reclaims old versions on demand (a background thread also does).
//! - [`types`]: [`DataType`] and [`Value`], the representation of data.
//! - [`catalog`]: table and index definitions.
//!
//! Inside, the layers are (bottom up): `kv` (sled behind a narrow trait), `keycode`
//! (order-preserving value encoding), `keys` (the key layout), `lock` (row locks in
//! PostgreSQL's four modes, waits, deadlock detection), `mvcc` (write buffer, snapshot reads,
//! merged scans), `commit` (commit timestamps, group commit, the visibility watermark), `ssi`
//! (serializable snapshot isolation: read markers, rw edges, dangerous structures), `vacuum`
//! (reclaiming versions no snapshot can see), and `transaction` (the API).
//!
//! See docs/architecture.md for the key layout, the versioning scheme and how each isolation
//! level is enforced; each module opens with the part of that story it implements.

pub mod catalog;
mod commit;
pub mod error;
pub mod keycode;
mod keys;
pub mod kv;
mod lock;
mod mvcc;
pub mod sequence;
mod ssi;
pub mod store;
pub mod transaction;
pub mod types;
mod vacuum;

#[cfg(test)]
mod rowlock_tests;
#[cfg(test)]
mod ssi_tests;
#[cfg(test)]
mod txn_tests;
#[cfg(test)]
mod vacuum_tests;

pub use catalog::{
    ColumnDef, Constraint, FkAction, ForeignKeyDef, IndexDef, IndexId, TableDef, TableId,
};
pub use error::{Error, Result};
pub use sequence::{SeqNext, SequenceId, SequenceParams, SequenceState};
pub use store::{IsolationLevel, Store, TxnOptions};
pub use transaction::{
    KeyRange, RowIter, RowKey, RowLockMode, RowLockOutcome, Savepoint, Transaction, WaitPolicy,
};
pub use types::{DataType, Interval, Numeric, Row, Value};
pub use vacuum::VacuumStats;
