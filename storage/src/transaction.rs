//! Transactions: snapshot reads, locked writes, transactional catalog.
//!
//! (Interface stub: the implementation replaces the `todo!()`s; signatures are the contract
//! the planner codes against.)
//!
//! Semantics the planner relies on:
//! - `Transaction` is a cheap, cloneable handle (`Arc` inside, `Send + Sync`), so operators of
//!   one statement can each hold one while the statement also writes.
//! - Statement boundaries: the planner calls [`Transaction::begin_statement`] before each
//!   statement. READ COMMITTED takes a new snapshot there; REPEATABLE READ / SERIALIZABLE take
//!   theirs at the first statement and keep it. Reads see the transaction's own writes from
//!   *earlier* statements, never the current statement's (PostgreSQL's command ids: this is what
//!   keeps `INSERT INTO t SELECT * FROM t` and `UPDATE t SET k = k + 1` from seeing their own
//!   output).
//! - Writes take the row's write lock first. If another transaction holds it, the call waits
//!   until that transaction ends (deadlocks, lock_timeout and cancellation end the wait with an
//!   error). Then, if the newest committed version is newer than our snapshot:
//!   REPEATABLE READ / SERIALIZABLE fail with `Error::Serialization`; READ COMMITTED gets the
//!   newest version back ([`RowLockOutcome`]) to re-check the statement's predicate on it.
//! - Uniqueness (primary key and unique indexes) is checked against the newest committed data
//!   and concurrent uncommitted inserts (waiting for them), never just the snapshot.
//! - Commit returns only after the writes are durable; all become visible at once.

use crate::catalog::{IndexDef, IndexId, TableDef, TableId};
use crate::error::Result;
use crate::store::IsolationLevel;
use crate::types::{Row, Value};
use std::ops::Bound;
use std::sync::Arc;

/// Identifies a row within its table: the encoded primary key, or the hidden row id for a
/// table without one. Opaque to the planner; stable for the row's life unless its primary key
/// is updated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey(pub Vec<u8>);

/// A range over an index's (or the primary key's) leading columns. Each bound is a prefix of
/// the key columns: `Included([5])` on a two-column index means every key starting with 5.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRange {
    pub start: Bound<Vec<Value>>,
    pub end: Bound<Vec<Value>>,
}

/// Rows in key order, streaming: memory does not grow with the table.
pub type RowIter = Box<dyn Iterator<Item = Result<(RowKey, Row)>> + Send>;

/// What `lock_row` found once it held the row's write lock.
#[derive(Clone, Debug, PartialEq)]
pub enum RowLockOutcome {
    /// The version the statement read is still the newest: go ahead.
    Unchanged,
    /// READ COMMITTED only: a concurrent transaction committed a newer version; re-check the
    /// statement's predicate against it (EvalPlanQual) and write relative to it.
    Updated(Row),
    /// READ COMMITTED only: a concurrent transaction deleted the row; skip it.
    Deleted,
}

#[derive(Clone)]
pub struct Transaction {}

impl Transaction {
    /// A number that identifies this transaction while it runs (for logs and pg_locks).
    pub fn id(&self) -> u64 {
        todo!()
    }
    pub fn isolation(&self) -> IsolationLevel {
        todo!()
    }
    pub fn read_only(&self) -> bool {
        todo!()
    }

    /// Marks a statement boundary (see module docs).
    pub fn begin_statement(&self) -> Result<()> {
        todo!()
    }

    /// Makes every write durable and visible, atomically; releases locks.
    pub fn commit(&self) -> Result<()> {
        todo!()
    }
    /// Discards every write; releases locks.
    pub fn rollback(&self) -> Result<()> {
        todo!()
    }

    // --- catalog -------------------------------------------------------------------------

    /// Tables visible to this transaction, in no particular order.
    pub fn list_tables(&self) -> Result<Vec<Arc<TableDef>>> {
        todo!()
    }
    /// The table `schema.name` as this transaction sees it.
    pub fn get_table(&self, _schema: &str, _name: &str) -> Result<Option<Arc<TableDef>>> {
        todo!()
    }
    /// Creates a table (and the indexes listed in `def.indexes`); assigns and returns its id.
    /// `Error::DuplicateTable` if the name is taken.
    pub fn create_table(&self, _def: TableDef) -> Result<TableId> {
        todo!()
    }
    /// Drops a table with its rows and indexes.
    pub fn drop_table(&self, _table: TableId) -> Result<()> {
        todo!()
    }
    /// Creates and fills an index; `Error::UniqueViolation` if `unique` and existing rows clash.
    pub fn create_index(&self, _table: TableId, _def: IndexDef) -> Result<IndexId> {
        todo!()
    }
    pub fn drop_index(&self, _table: TableId, _index: IndexId) -> Result<()> {
        todo!()
    }

    // --- reads (at the statement's snapshot) ------------------------------------------------

    /// Every visible row of the table, in row-key order.
    pub fn scan(&self, _table: TableId) -> Result<RowIter> {
        todo!()
    }
    /// Visible rows whose primary key lies in `range`, in key order.
    pub fn scan_primary_range(&self, _table: TableId, _range: KeyRange) -> Result<RowIter> {
        todo!()
    }
    /// Visible rows whose index key lies in `range`, in index order (ties by row key).
    pub fn scan_index(&self, _table: TableId, _index: IndexId, _range: KeyRange) -> Result<RowIter> {
        todo!()
    }
    /// The visible row with this primary key.
    pub fn get_by_primary_key(&self, _table: TableId, _key: &[Value]) -> Result<Option<(RowKey, Row)>> {
        todo!()
    }

    // --- writes -------------------------------------------------------------------------------

    /// Inserts a row (already complete, typed and constraint-checked by the planner except for
    /// uniqueness, which is checked here). Returns its row key.
    pub fn insert(&self, _table: TableId, _row: Row) -> Result<RowKey> {
        todo!()
    }
    /// Takes the write lock on a row the statement read, waiting for a concurrent writer.
    pub fn lock_row(&self, _table: TableId, _key: &RowKey) -> Result<RowLockOutcome> {
        todo!()
    }
    /// Replaces a row (locking it first if `lock_row` was not called). If the primary key
    /// changes the row moves to a new key, which is returned.
    pub fn update(&self, _table: TableId, _key: &RowKey, _row: Row) -> Result<RowKey> {
        todo!()
    }
    /// Deletes a row (locking it first if `lock_row` was not called).
    pub fn delete(&self, _table: TableId, _key: &RowKey) -> Result<()> {
        todo!()
    }
}

impl Transaction {
    /// Lets lock waits notice a cancel request: while this flag is set, a waiting call returns
    /// `Error::Cancelled`. The planner points it at the session's cancel flag.
    pub fn set_interrupt(&self, _flag: Arc<std::sync::atomic::AtomicBool>) {
        todo!()
    }
    /// `lock_timeout` (None = wait forever): a lock wait longer than this fails with
    /// `Error::LockNotAvailable("canceling statement due to lock timeout")`.
    pub fn set_lock_timeout(&self, _timeout: Option<std::time::Duration>) {
        todo!()
    }
}
