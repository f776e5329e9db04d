//! Transactions: snapshot reads, locked writes, transactional catalog.
//!
//! Semantics the planner relies on:
//! - `Transaction` is a cheap, cloneable handle (`Arc` inside, `Send + Sync`), so operators of
//!   one statement can each hold one while the statement also writes.
//! - Statement boundaries: the planner calls [`Transaction::begin_statement`] before each
//!   statement. READ COMMITTED takes a new snapshot for each statement; REPEATABLE READ /
//!   SERIALIZABLE take theirs in the first statement that reads or writes data and keep it.
//!   (The snapshot is taken at the statement's first storage access, which for a planner that
//!   binds against the catalog first is the statement's start.) Reads see the transaction's own writes from
//!   *earlier* statements, never the current statement's (PostgreSQL's command ids: this is what
//!   keeps `INSERT INTO t SELECT * FROM t` and `UPDATE t SET k = k + 1` from seeing their own
//!   output).
//! - Writes take the row's write lock first. If another transaction holds it, the call waits
//!   until that transaction ends (deadlocks, lock_timeout and cancellation end the wait with an
//!   error). Then, if the newest committed version is newer than our snapshot:
//!   REPEATABLE READ / SERIALIZABLE fail with `Error::Serialization`; READ COMMITTED gets the
//!   newest version back ([`RowLockOutcome`]) to re-check the statement's predicate on it.
//!   Writers lock FOR NO KEY UPDATE (plain updates) or FOR UPDATE (deletes, key changes);
//!   [`Transaction::lock_row_with`] serves `SELECT … FOR <mode> [NOWAIT | SKIP LOCKED]`.
//! - SERIALIZABLE is REPEATABLE READ plus SSI (`ssi.rs`): reads leave markers, writes and
//!   skipped newer versions become rw edges, and a dangerous structure fails one transaction
//!   with `Error::Serialization` at a read, a write or commit. READ ONLY DEFERRABLE waits in
//!   its first read for a safe snapshot.
//! - Uniqueness (primary key and unique indexes) is checked against the newest committed data
//!   and concurrent uncommitted inserts (waiting for them), never just the snapshot.
//! - Commit returns only after the writes are durable; all become visible at once.
//!
//! How it is built (see `mvcc.rs`, `lock.rs`, `commit.rs` for the pieces):
//! - Rows are postcard-serialised `Vec<Value>` under `keys::row_key`; secondary index entries
//!   are empty values under `keys::index_entry_key`, versioned like rows. An update that
//!   changes indexed columns tombstones the old entry and writes the new one.
//! - Uniqueness: insert locks the primary key (and each non-NULL unique index value), then
//!   looks at the newest committed version and the own buffer. A concurrent inserter of the
//!   same key holds that lock until it ends, so the second inserter waits and then fails or
//!   proceeds, as in PostgreSQL. Deletes and updates lock the unique values they remove too,
//!   so an insert of a value being deleted waits for the deleter's outcome.
//! - Catalog reads see committed definitions at the snapshot plus *every* own write (also of
//!   the current statement), so DDL followed by use within one statement works.
//! - DROP TABLE / DROP INDEX only tombstone the definition; the rows and entries stay behind
//!   under an id that is never reused until vacuum (`vacuum.rs`) removes them.
//! - Snapshots are registered store-wide (for the vacuum horizon) until the transaction ends.
//!
//! Savepoints mark a position in the write buffer (by statement number) and in the list of held
//! locks; rolling back drops later statements' writes and releases later locks.
//!
//! Not yet: concurrent DML while CREATE INDEX runs (writers that started before the index was
//! committed do not maintain it), spilling huge write buffers to disk.

use crate::catalog::{IndexDef, IndexId, TableDef, TableId};
use crate::error::{Error, Result};
use crate::keycode::{self, prefix_successor};
use crate::keys;
pub use crate::lock::RowLockMode;
use crate::lock::{Acquired, WaitLimits};
use crate::mvcc::{self, ReadView, WriteBuffer};
use crate::ssi::Ssi;
use crate::store::{IsolationLevel, StoreInner, TxnOptions};
use crate::types::{Row, Value};
use parking_lot::Mutex;
use std::ops::{Bound, Range};
use std::sync::atomic::Ordering;
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

impl KeyRange {
    /// Every key.
    pub fn all() -> KeyRange {
        KeyRange {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
        }
    }

    /// The user-key byte range under `prefix` (see the module docs of `keycode.rs` for why
    /// prefix bounds map onto byte bounds this way).
    fn to_bytes(&self, prefix: &[u8]) -> Result<Range<Vec<u8>>> {
        let encode = |vals: &[Value]| {
            let mut k = prefix.to_vec();
            keycode::encode_values(vals, &mut k);
            k
        };
        let successor = |k: &[u8]| {
            prefix_successor(k).ok_or_else(|| Error::Internal("key range has no end".into()))
        };
        let start = match &self.start {
            Bound::Unbounded => prefix.to_vec(),
            Bound::Included(v) => encode(v),
            Bound::Excluded(v) => successor(&encode(v))?,
        };
        let end = match &self.end {
            Bound::Unbounded => successor(prefix)?,
            Bound::Included(v) => successor(&encode(v))?,
            Bound::Excluded(v) => encode(v),
        };
        Ok(start..end)
    }
}

/// A list of table definitions shared between transactions (see `Transaction::catalog`).
pub(crate) type CatalogList = Arc<Vec<Arc<TableDef>>>;

/// (user key, payload) pairs of a scan, in key order.
type EntryIter = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + Send>;

/// Rows in key order, streaming: memory does not grow with the table.
pub type RowIter = Box<dyn Iterator<Item = Result<(RowKey, Row)>> + Send>;

/// What a row lock request does when the row is locked in a conflicting mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WaitPolicy {
    /// Wait for the holders to end (bounded by lock_timeout, cancel and deadlock detection).
    #[default]
    Block,
    /// `NOWAIT`: fail at once with `Error::LockNotAvailable`.
    NoWait,
    /// `SKIP LOCKED`: report the row as skipped.
    SkipLocked,
}

impl RowLockMode {
    /// The SQL spelling (for error messages).
    pub fn sql(self) -> &'static str {
        match self {
            RowLockMode::KeyShare => "FOR KEY SHARE",
            RowLockMode::Share => "FOR SHARE",
            RowLockMode::NoKeyUpdate => "FOR NO KEY UPDATE",
            RowLockMode::Update => "FOR UPDATE",
        }
    }
}

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
pub struct Transaction {
    inner: Arc<TxnInner>,
}

struct TxnInner {
    store: Arc<StoreInner>,
    id: u64,
    opts: TxnOptions,
    buffer: Arc<Mutex<WriteBuffer>>,
    state: Mutex<TxnState>,
    policy: Mutex<WaitLimits>,
}

struct TxnState {
    /// The snapshot's read timestamp, taken at the first read or statement.
    read_ts: Option<u64>,
    /// The current statement's sequence number (PostgreSQL's command id).
    seq: u32,
    /// Keys whose write lock we hold.
    held: Vec<Vec<u8>>,
    /// Whether this transaction changed the catalog (then the shared cache does not apply).
    wrote_catalog: bool,
    /// After it did: the catalog it sees, decoded once for a read timestamp and kept until
    /// its next catalog write or savepoint rollback (a statement that rewrites a table after
    /// changing its definition would otherwise decode the whole catalog per row).
    own_catalog: Option<(u64, CatalogList)>,
    finished: bool,
}

impl Drop for TxnInner {
    /// A transaction dropped without commit (a session that went away) rolls back: its
    /// buffer goes with it, its locks are released here.
    fn drop(&mut self) {
        if !self.state.get_mut().finished && self.opts.isolation == IsolationLevel::Serializable {
            self.store.ssi.aborted(self.id);
        }
        self.store.snapshots.release(self.id);
        let held = std::mem::take(&mut self.state.get_mut().held);
        for key in held {
            self.store.locks.release(&key, self.id);
        }
    }
}

fn decode_row(bytes: &[u8]) -> Result<Row> {
    Ok(postcard::from_bytes(bytes)?)
}

fn encode_row(row: &Row) -> Result<Vec<u8>> {
    postcard::to_stdvec(row).map_err(|e| Error::Internal(format!("encoding row: {e}")))
}

fn serialization_failure(deleted: bool) -> Error {
    Error::Serialization {
        message: format!(
            "could not serialize access due to concurrent {}",
            if deleted { "delete" } else { "update" }
        ),
        detail: None,
        hint: None,
    }
}

impl Transaction {
    pub(crate) fn new(store: Arc<StoreInner>, opts: TxnOptions) -> Transaction {
        let id = store.next_txn_id.fetch_add(1, Ordering::Relaxed);
        Transaction {
            inner: Arc::new(TxnInner {
                store,
                id,
                opts,
                buffer: Arc::new(Mutex::new(WriteBuffer::default())),
                state: Mutex::new(TxnState {
                    read_ts: None,
                    seq: 1,
                    held: Vec::new(),
                    wrote_catalog: false,
                    own_catalog: None,
                    finished: false,
                }),
                policy: Mutex::new(WaitLimits::default()),
            }),
        }
    }

    /// A number that identifies this transaction while it runs (for logs and pg_locks).
    pub fn id(&self) -> u64 {
        self.inner.id
    }
    pub fn isolation(&self) -> IsolationLevel {
        self.inner.opts.isolation
    }
    pub fn read_only(&self) -> bool {
        self.inner.opts.read_only
    }

    /// Marks a statement boundary (see module docs).
    pub fn begin_statement(&self) -> Result<()> {
        let mut st = self.inner.state.lock();
        if st.finished {
            return Err(Error::Internal("transaction already ended".into()));
        }
        st.seq += 1;
        // The snapshot itself is taken by the statement's first read or write (`view`), so a
        // statement that touches no data (SET TRANSACTION, SHOW) does not fix the snapshot of a
        // REPEATABLE READ transaction, as in PostgreSQL.
        if self.isolation() == IsolationLevel::ReadCommitted {
            st.read_ts = None;
        }
        Ok(())
    }

    /// Makes every write durable and visible, atomically; releases locks.
    pub fn commit(&self) -> Result<()> {
        if !self.finish() {
            return Ok(());
        }
        let ssi = self.ssi();
        if let Some(ssi) = ssi {
            if let Err(e) = ssi.pre_commit(self.inner.id) {
                drop(self.inner.buffer.lock().drain());
                ssi.aborted(self.inner.id);
                self.release_locks();
                return Err(e);
            }
        }
        let writes: Vec<_> = self.inner.buffer.lock().drain().collect();
        let ddl = self.inner.state.lock().wrote_catalog;
        let result = if writes.is_empty() {
            Ok(None)
        } else {
            self.inner
                .store
                .committer
                .commit(writes.into_iter(), ddl)
                .map(|ts| {
                    tracing::debug!(txn = self.id(), ts, "committed");
                    Some(ts)
                })
        };
        if let Some(ssi) = ssi {
            match result {
                Ok(ts) => ssi.committed(self.inner.id, ts),
                Err(_) => ssi.aborted(self.inner.id),
            }
        }
        self.release_locks();
        result.map(|_| ())
    }

    /// Discards every write; releases locks.
    pub fn rollback(&self) -> Result<()> {
        if self.finish() {
            drop(self.inner.buffer.lock().drain());
            if let Some(ssi) = self.ssi() {
                ssi.aborted(self.inner.id);
            }
            self.release_locks();
        }
        Ok(())
    }

    /// Marks the transaction finished; false if it already was.
    fn finish(&self) -> bool {
        let mut st = self.inner.state.lock();
        !std::mem::replace(&mut st.finished, true)
    }

    fn release_locks(&self) {
        self.inner.store.snapshots.release(self.inner.id);
        let held = std::mem::take(&mut self.inner.state.lock().held);
        for key in held {
            self.inner.store.locks.release(&key, self.inner.id);
        }
    }

    // --- internals ---------------------------------------------------------------------------

    /// The current statement's view, taking the snapshot if this is the first read.
    fn view(&self) -> Result<ReadView> {
        let mut st = self.inner.state.lock();
        if st.finished {
            return Err(Error::Internal("transaction already ended".into()));
        }
        let read_ts = match st.read_ts {
            Some(ts) => ts,
            None if self.isolation() == IsolationLevel::Serializable => {
                // Registering with SSI (and, for READ ONLY DEFERRABLE, waiting for a safe
                // snapshot) happens without our state lock held.
                drop(st);
                let ts = self.serializable_snapshot()?;
                st = self.inner.state.lock();
                let won = *st.read_ts.get_or_insert(ts);
                if won != ts {
                    // Another handle of this transaction took the snapshot meanwhile: keep
                    // the vacuum horizon at the one we use.
                    self.inner.store.snapshots.take(self.inner.id, || won);
                }
                won
            }
            None => {
                let ts = self.inner.store.take_snapshot(self.inner.id);
                st.read_ts = Some(ts);
                ts
            }
        };
        Ok(ReadView {
            read_ts,
            seq: st.seq,
        })
    }

    /// Takes a SERIALIZABLE snapshot, registered with SSI.
    fn serializable_snapshot(&self) -> Result<u64> {
        let store = &self.inner.store;
        let take = || store.take_snapshot(self.inner.id);
        let opts = self.inner.opts;
        if opts.read_only && opts.deferrable {
            let policy = self.inner.policy.lock().clone();
            store.ssi.begin_deferrable(self.inner.id, take, &policy)
        } else {
            Ok(store.ssi.begin(self.inner.id, opts.read_only, take))
        }
    }

    /// The view used for catalog reads: the snapshot plus every own write.
    fn catalog_view(&self) -> Result<ReadView> {
        Ok(ReadView {
            seq: u32::MAX,
            ..self.view()?
        })
    }

    fn check_writable(&self, what: &str) -> Result<()> {
        if self.read_only() {
            return Err(Error::ReadOnly(what.into()));
        }
        Ok(())
    }

    fn kv(&self) -> &dyn crate::kv::Kv {
        &*self.inner.store.kv
    }

    /// Buffers a write. At SERIALIZABLE the write is first checked against other
    /// transactions' read markers (see `ssi.rs`).
    fn put(&self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        if let Some(ssi) = self.ssi() {
            ssi.write(self.inner.id, &key)?;
        }
        let seq = self.inner.state.lock().seq;
        self.inner.buffer.lock().put(key, seq, value);
        Ok(())
    }

    /// At SERIALIZABLE, an insert that is about to fail on a duplicate key first runs the
    /// write's SSI check: if we had read that the key was absent and a concurrent transaction
    /// inserted it, PostgreSQL reports the serialization failure (40001), which a retry can
    /// fix, rather than the unique violation.
    fn ssi_check_before_unique_violation(&self, key: &[u8]) -> Result<()> {
        match self.ssi() {
            Some(ssi) => ssi.write(self.inner.id, key),
            None => Ok(()),
        }
    }

    /// The SSI tracker, if this transaction is SERIALIZABLE.
    fn ssi(&self) -> Option<&Ssi> {
        (self.isolation() == IsolationLevel::Serializable).then_some(&self.inner.store.ssi)
    }

    /// A point read at the snapshot; at SERIALIZABLE also leaves a read marker on the key and
    /// reports skipped newer versions.
    fn read_point(&self, key: &[u8], view: ReadView) -> Result<Option<Vec<u8>>> {
        let Some(ssi) = self.ssi() else {
            return mvcc::read(self.kv(), &self.inner.buffer, key, view);
        };
        ssi.read_key(self.inner.id, key)?;
        if let Some(own) = self.inner.buffer.lock().get(key, view) {
            return Ok(own.map(|v| v.to_vec()));
        }
        let (found, newer) = mvcc::read_committed_tracking(self.kv(), key, view.read_ts)?;
        if let Some(ts) = newer {
            ssi.read_newer(self.inner.id, ts)?;
        }
        Ok(found.and_then(|(_, v)| v))
    }

    /// A scan of `range` at the current view; at SERIALIZABLE it marks the range and reports
    /// every skipped newer version as it goes.
    fn scan_tracked(&self, range: Range<Vec<u8>>, view: ReadView) -> Result<EntryIter> {
        if self.ssi().is_none() {
            return Ok(Box::new(mvcc::Scan::new(
                self.kv(),
                self.inner.buffer.clone(),
                range,
                view,
            )));
        }
        self.inner.store.ssi.read_range(self.inner.id, &range)?;
        let (mut scan, skipped) =
            mvcc::Scan::new_tracking(self.kv(), self.inner.buffer.clone(), range, view);
        let store = self.inner.store.clone();
        let id = self.inner.id;
        Ok(Box::new(std::iter::from_fn(move || {
            let item = scan.next();
            let newer = std::mem::take(&mut *skipped.lock());
            for ts in newer {
                if let Err(e) = store.ssi.read_newer(id, ts) {
                    return Some(Err(e));
                }
            }
            item
        })))
    }

    /// Takes the write lock on `key`, waiting for a concurrent holder.
    fn lock(&self, key: &[u8]) -> Result<()> {
        self.lock_mode(key, RowLockMode::Update, true).map(|_| ())
    }

    /// Takes the lock on `key` in `mode`; with `wait` false returns false instead of waiting.
    fn lock_mode(&self, key: &[u8], mode: RowLockMode, wait: bool) -> Result<bool> {
        let policy = self.inner.policy.lock().clone();
        match self
            .inner
            .store
            .locks
            .acquire_mode(key, self.inner.id, mode, &policy, wait)?
        {
            Acquired::New => self.inner.state.lock().held.push(key.to_vec()),
            Acquired::Held => {}
            Acquired::WouldBlock => return Ok(false),
        }
        Ok(true)
    }

    /// The newest version of a locked key we may write relative to: an own write, else the
    /// newest committed version. REPEATABLE READ / SERIALIZABLE fail if that committed
    /// version is newer than the snapshot.
    fn current_version(&self, key: &[u8], view: ReadView) -> Result<Option<Vec<u8>>> {
        if let Some(own) = self.inner.buffer.lock().get(key, ReadView::LATEST) {
            return Ok(own.map(|v| v.to_vec()));
        }
        match mvcc::read_committed(self.kv(), key, u64::MAX)? {
            Some((ts, v))
                if ts > view.read_ts && self.isolation() != IsolationLevel::ReadCommitted =>
            {
                Err(serialization_failure(v.is_none()))
            }
            Some((_, v)) => Ok(v),
            None => Ok(None),
        }
    }

    /// Whether `key` is live in the newest committed data overlaid by every own write.
    fn live_latest(&self, key: &[u8]) -> Result<bool> {
        Ok(mvcc::read(self.kv(), &self.inner.buffer, key, ReadView::LATEST)?.is_some())
    }

    /// The catalog as this transaction sees it. Decoding every definition per statement
    /// would dominate point queries, so the committed catalog is cached store-wide, tagged
    /// with the timestamp of the newest DDL commit. The cache serves a transaction whose
    /// snapshot includes that commit and which has no catalog writes of its own; the tag is
    /// advanced *before* a DDL batch is applied, so a stale list is never served.
    fn catalog(&self) -> Result<CatalogList> {
        let view = self.catalog_view()?;
        let store = &self.inner.store;
        let last_ddl = store.committer.last_ddl_ts();
        let wrote_catalog = {
            let st = self.inner.state.lock();
            if let Some((ts, list)) = &st.own_catalog {
                if *ts == view.read_ts {
                    return Ok(list.clone());
                }
            }
            st.wrote_catalog
        };
        let cacheable = view.read_ts >= last_ddl && !wrote_catalog;
        if cacheable {
            if let Some((ts, list)) = &*store.catalog_cache.lock() {
                if *ts == last_ddl {
                    return Ok(list.clone());
                }
            }
        }
        let prefix = keys::catalog_prefix();
        let end =
            prefix_successor(&prefix).ok_or_else(|| Error::Internal("catalog prefix".into()))?;
        let list: Vec<Arc<TableDef>> =
            mvcc::Scan::new(self.kv(), self.inner.buffer.clone(), prefix..end, view)
                .map(|item| Ok(Arc::new(postcard::from_bytes(&item?.1)?)))
                .collect::<Result<_>>()?;
        let list = Arc::new(list);
        if cacheable {
            *store.catalog_cache.lock() = Some((last_ddl, list.clone()));
        } else if wrote_catalog {
            self.inner.state.lock().own_catalog = Some((view.read_ts, list.clone()));
        }
        Ok(list)
    }

    fn table(&self, table: TableId) -> Result<Arc<TableDef>> {
        self.catalog()?
            .iter()
            .find(|t| t.id == table)
            .cloned()
            .ok_or_else(|| self.undefined_table(table))
    }

    /// The error for a table id this transaction cannot see: PostgreSQL's `relation "t" does
    /// not exist` with the name the table last had (it was dropped, or created after our
    /// snapshot), or — for an id that never existed, a caller's bug — its internal
    /// `could not open relation with OID n`.
    fn undefined_table(&self, table: TableId) -> Error {
        let key = keys::catalog_key(table);
        let Some(end) = prefix_successor(&key) else {
            return Error::Internal(format!("could not open relation with OID {table}"));
        };
        let newest_def = self.kv().scan(key.clone()..end).find_map(|item| {
            let (k, v) = item.ok()?;
            let (user, _) = keys::split_version(&k)?;
            if user != key.as_slice() {
                return None;
            }
            let bytes = keys::decode_version_value(&v)?;
            postcard::from_bytes::<TableDef>(&bytes).ok()
        });
        match newest_def {
            Some(def) => Error::UndefinedTable(def.name),
            None => Error::Internal(format!("could not open relation with OID {table}")),
        }
    }

    fn put_catalog(&self, key: Vec<u8>, value: Option<Vec<u8>>) -> Result<()> {
        {
            let mut st = self.inner.state.lock();
            st.wrote_catalog = true;
            st.own_catalog = None;
        }
        self.put(key, value)
    }

    fn write_table_def(&self, def: &TableDef) -> Result<()> {
        let bytes = postcard::to_stdvec(def)
            .map_err(|e| Error::Internal(format!("encoding table: {e}")))?;
        self.put_catalog(keys::catalog_key(def.id), Some(bytes))
    }

    fn primary_key_bytes(def: &TableDef, row: &Row) -> Result<Vec<u8>> {
        let mut k = Vec::new();
        for &c in &def.primary_key {
            let v = row
                .get(c)
                .ok_or_else(|| Error::Internal("primary key column out of range".into()))?;
            keycode::encode_value(v, &mut k);
        }
        Ok(k)
    }

    fn index_values<'r>(idx: &IndexDef, row: &'r Row) -> Result<Vec<&'r Value>> {
        idx.columns
            .iter()
            .map(|&c| {
                row.get(c)
                    .ok_or_else(|| Error::Internal("index column out of range".into()))
            })
            .collect()
    }

    fn unique_violation(def: &TableDef, constraint: String, cols: &[usize], row: &Row) -> Error {
        Error::UniqueViolation {
            constraint,
            columns: cols
                .iter()
                .map(|&c| {
                    def.columns
                        .get(c)
                        .map(|c| c.name.clone())
                        .unwrap_or_default()
                })
                .collect(),
            values: cols
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
                .collect(),
        }
    }

    /// Locks a unique index value and fails if another live row has it. NULLs never clash.
    fn check_unique(&self, def: &TableDef, idx: &IndexDef, row: &Row) -> Result<()> {
        let values = Self::index_values(idx, row)?;
        if values.iter().any(|v| v.is_null()) {
            return Ok(());
        }
        let value_key = keys::index_value_key(def.id, idx.id, &values);
        self.lock(&value_key)?;
        let end = prefix_successor(&value_key)
            .ok_or_else(|| Error::Internal("index key has no successor".into()))?;
        let mut clash = mvcc::Scan::new(
            self.kv(),
            self.inner.buffer.clone(),
            value_key..end,
            ReadView::LATEST,
        );
        if let Some(entry) = clash.next() {
            entry?;
            self.ssi_check_before_unique_violation(&keys::index_value_key(
                def.id, idx.id, &values,
            ))?;
            return Err(Self::unique_violation(
                def,
                idx.name.clone(),
                &idx.columns,
                row,
            ));
        }
        Ok(())
    }

    /// Locks the unique values an index entry removal gives up, so that an insert of the same
    /// value waits for our outcome.
    fn lock_unique_value(&self, def: &TableDef, idx: &IndexDef, row: &Row) -> Result<()> {
        let values = Self::index_values(idx, row)?;
        if idx.unique && !values.iter().any(|v| v.is_null()) {
            self.lock(&keys::index_value_key(def.id, idx.id, &values))?;
        }
        Ok(())
    }

    fn index_entry(def: &TableDef, idx: &IndexDef, row: &Row, row_key: &[u8]) -> Result<Vec<u8>> {
        Ok(keys::index_entry_key(
            def.id,
            idx.id,
            &Self::index_values(idx, row)?,
            row_key,
        ))
    }

    fn rows(&self, table: TableId, range: Range<Vec<u8>>) -> Result<RowIter> {
        let view = self.view()?;
        let prefix_len = keys::table_prefix(table).len();
        let scan = self.scan_tracked(range, view)?;
        Ok(Box::new(scan.map(move |item| {
            let (key, bytes) = item?;
            Ok((RowKey(key[prefix_len..].to_vec()), decode_row(&bytes)?))
        })))
    }

    // --- catalog -------------------------------------------------------------------------

    /// Tables visible to this transaction, in no particular order.
    pub fn list_tables(&self) -> Result<Vec<Arc<TableDef>>> {
        Ok(self.catalog()?.to_vec())
    }
    /// The table `schema.name` as this transaction sees it.
    pub fn get_table(&self, schema: &str, name: &str) -> Result<Option<Arc<TableDef>>> {
        Ok(self
            .catalog()?
            .iter()
            .find(|t| t.schema == schema && t.name == name)
            .cloned())
    }
    /// Creates a table (and the indexes listed in `def.indexes`); assigns and returns its id.
    /// `Error::DuplicateTable` if the name is taken.
    pub fn create_table(&self, mut def: TableDef) -> Result<TableId> {
        self.check_writable("CREATE TABLE")?;
        self.view()?;
        // The name lock makes a concurrent CREATE of the same name wait for our outcome.
        self.lock(&keys::table_name_lock(&def.schema, &def.name))?;
        let prefix = keys::catalog_prefix();
        let end =
            prefix_successor(&prefix).ok_or_else(|| Error::Internal("catalog prefix".into()))?;
        for item in mvcc::Scan::new(
            self.kv(),
            self.inner.buffer.clone(),
            prefix..end,
            ReadView::LATEST,
        ) {
            let existing: TableDef = postcard::from_bytes(&item?.1)?;
            if existing.schema == def.schema && existing.name == def.name {
                return Err(Error::DuplicateTable(def.name));
            }
        }
        let counters = &self.inner.store.committer.counters;
        def.id = counters.table_id.fetch_add(1, Ordering::SeqCst);
        for idx in &mut def.indexes {
            idx.id = counters.index_id.fetch_add(1, Ordering::SeqCst);
        }
        self.lock(&keys::catalog_key(def.id))?;
        self.write_table_def(&def)?;
        Ok(def.id)
    }
    /// Drops a table with its rows and indexes.
    pub fn drop_table(&self, table: TableId) -> Result<()> {
        self.check_writable("DROP TABLE")?;
        let def = self.table(table)?;
        let key = keys::catalog_key(table);
        self.lock(&key)?;
        self.lock(&keys::table_name_lock(&def.schema, &def.name))?;
        if self.current_version(&key, self.view()?)?.is_none() {
            return Err(Error::UndefinedTable(def.name.clone()));
        }
        self.put_catalog(key, None)
    }
    /// Creates and fills an index; `Error::UniqueViolation` if `unique` and existing rows clash.
    pub fn create_index(&self, table: TableId, mut idx: IndexDef) -> Result<IndexId> {
        self.check_writable("CREATE INDEX")?;
        if idx.primary {
            return Err(Error::Internal(
                "adding a primary key to an existing table is not supported".into(),
            ));
        }
        let key = keys::catalog_key(table);
        self.lock(&key)?;
        let view = self.view()?;
        let mut def: TableDef = match self.current_version(&key, view)? {
            Some(bytes) => postcard::from_bytes(&bytes)?,
            None => return Err(self.undefined_table(table)),
        };
        idx.id = self
            .inner
            .store
            .committer
            .counters
            .index_id
            .fetch_add(1, Ordering::SeqCst);
        // Fill from every row this transaction can see, including its own writes.
        let prefix = keys::table_prefix(table);
        let end =
            prefix_successor(&prefix).ok_or_else(|| Error::Internal("table prefix".into()))?;
        let fill_view = ReadView {
            seq: u32::MAX,
            ..view
        };
        let rows = mvcc::Scan::new(
            self.kv(),
            self.inner.buffer.clone(),
            prefix.clone()..end,
            fill_view,
        );
        for item in rows {
            let (key, bytes) = item?;
            let row = decode_row(&bytes)?;
            if idx.unique {
                self.check_unique(&def, &idx, &row)?;
            }
            self.put(
                Self::index_entry(&def, &idx, &row, &key[prefix.len()..])?,
                Some(Vec::new()),
            )?;
        }
        let id = idx.id;
        def.indexes.push(idx);
        self.write_table_def(&def)?;
        Ok(id)
    }
    pub fn drop_index(&self, table: TableId, index: IndexId) -> Result<()> {
        self.check_writable("DROP INDEX")?;
        let key = keys::catalog_key(table);
        self.lock(&key)?;
        let view = self.view()?;
        let mut def: TableDef = match self.current_version(&key, view)? {
            Some(bytes) => postcard::from_bytes(&bytes)?,
            None => return Err(self.undefined_table(table)),
        };
        let before = def.indexes.len();
        def.indexes.retain(|i| i.id != index);
        if def.indexes.len() == before {
            return Err(Error::Internal(format!("index {index} not found")));
        }
        self.write_table_def(&def)
    }

    /// Replaces a table's definition (ALTER TABLE, ADD/DROP CONSTRAINT). The caller keeps
    /// `id`, the indexes and the rows consistent with it.
    pub fn alter_table(&self, def: &TableDef) -> Result<()> {
        self.check_writable("ALTER TABLE")?;
        let key = keys::catalog_key(def.id);
        self.lock(&key)?;
        if self.current_version(&key, self.view()?)?.is_none() {
            return Err(self.undefined_table(def.id));
        }
        self.write_table_def(def)
    }

    /// Every row of the table in the newest committed data overlaid by all own writes,
    /// ignoring the snapshot: what a foreign key check on a referenced row's removal must
    /// see (PostgreSQL runs those checks with a fresh snapshot), so that a referencing row
    /// committed after our snapshot is not missed.
    pub fn scan_latest(&self, table: TableId) -> Result<RowIter> {
        self.table(table)?;
        let prefix = keys::table_prefix(table);
        let end =
            prefix_successor(&prefix).ok_or_else(|| Error::Internal("table prefix".into()))?;
        let prefix_len = prefix.len();
        let scan = mvcc::Scan::new(
            self.kv(),
            self.inner.buffer.clone(),
            prefix..end,
            ReadView::LATEST,
        );
        Ok(Box::new(scan.map(move |item| {
            let (key, bytes) = item?;
            Ok((RowKey(key[prefix_len..].to_vec()), decode_row(&bytes)?))
        })))
    }

    // --- reads (at the statement's snapshot) ------------------------------------------------

    /// Every visible row of the table, in row-key order.
    pub fn scan(&self, table: TableId) -> Result<RowIter> {
        self.table(table)?;
        let prefix = keys::table_prefix(table);
        let end =
            prefix_successor(&prefix).ok_or_else(|| Error::Internal("table prefix".into()))?;
        self.rows(table, prefix..end)
    }
    /// Visible rows whose primary key lies in `range`, in key order.
    pub fn scan_primary_range(&self, table: TableId, range: KeyRange) -> Result<RowIter> {
        let def = self.table(table)?;
        if def.primary_key.is_empty() && range != KeyRange::all() {
            return Err(Error::Internal(format!(
                "table \"{}\" has no primary key to range over",
                def.name
            )));
        }
        let bytes = range.to_bytes(&keys::table_prefix(table))?;
        self.rows(table, bytes)
    }
    /// Visible rows whose index key lies in `range`, in index order (ties by row key).
    pub fn scan_index(&self, table: TableId, index: IndexId, range: KeyRange) -> Result<RowIter> {
        let def = self.table(table)?;
        let idx = def
            .indexes
            .iter()
            .find(|i| i.id == index)
            .ok_or_else(|| Error::Internal(format!("index {index} not found")))?;
        let ncols = idx.columns.len();
        let prefix = keys::index_prefix(table, index);
        let bytes = range.to_bytes(&prefix)?;
        let view = self.view()?;
        let entries = self.scan_tracked(bytes, view)?;
        let txn = self.clone();
        Ok(Box::new(entries.filter_map(move |item| {
            let read = || -> Result<Option<(RowKey, Row)>> {
                let (entry, _) = item?;
                let cols = keycode::skip_values(&entry[prefix.len()..], ncols)?;
                let row_key = entry[prefix.len() + cols..].to_vec();
                let row = txn.read_point(&keys::row_key(table, &row_key), view)?;
                // An entry without its row would be a bug; skip rather than fail the query.
                row.map(|r| Ok((RowKey(row_key), decode_row(&r)?)))
                    .transpose()
            };
            read().transpose()
        })))
    }
    /// The visible row with this primary key.
    pub fn get_by_primary_key(
        &self,
        table: TableId,
        key: &[Value],
    ) -> Result<Option<(RowKey, Row)>> {
        let view = self.view()?;
        let mut rk = Vec::new();
        keycode::encode_values(key, &mut rk);
        let row = self.read_point(&keys::row_key(table, &rk), view)?;
        row.map(|r| Ok((RowKey(rk), decode_row(&r)?))).transpose()
    }

    // --- writes -------------------------------------------------------------------------------

    /// Inserts a row (already complete, typed and constraint-checked by the planner except for
    /// uniqueness, which is checked here). Returns its row key.
    pub fn insert(&self, table: TableId, row: Row) -> Result<RowKey> {
        self.check_writable("INSERT")?;
        self.view()?;
        let def = self.table(table)?;
        if row.len() != def.columns.len() {
            return Err(Error::Internal(format!(
                "row has {} values, table \"{}\" has {} columns",
                row.len(),
                def.name,
                def.columns.len()
            )));
        }
        let rk = if def.primary_key.is_empty() {
            // A fresh hidden row id: nobody else can know it, so no lock or check is needed.
            let id = self
                .inner
                .store
                .committer
                .counters
                .row_id
                .fetch_add(1, Ordering::SeqCst);
            let mut k = Vec::new();
            keycode::encode_value(&Value::Int8(id as i64), &mut k);
            k
        } else {
            let rk = Self::primary_key_bytes(&def, &row)?;
            let key = keys::row_key(table, &rk);
            self.lock(&key)?;
            if self.live_latest(&key)? {
                self.ssi_check_before_unique_violation(&key)?;
                let name = def
                    .primary_key_name
                    .clone()
                    .unwrap_or_else(|| format!("{}_pkey", def.name));
                return Err(Self::unique_violation(&def, name, &def.primary_key, &row));
            }
            rk
        };
        for idx in def.indexes.iter().filter(|i| i.unique) {
            self.check_unique(&def, idx, &row)?;
        }
        for idx in &def.indexes {
            self.put(Self::index_entry(&def, idx, &row, &rk)?, Some(Vec::new()))?;
        }
        self.put(keys::row_key(table, &rk), Some(encode_row(&row)?))?;
        Ok(RowKey(rk))
    }
    /// Takes the write lock on a row the statement read (FOR NO KEY UPDATE strength; a
    /// delete or key change upgrades it), waiting for a concurrent writer.
    pub fn lock_row(&self, table: TableId, key: &RowKey) -> Result<RowLockOutcome> {
        let view = self.view()?;
        let ukey = keys::row_key(table, &key.0);
        self.lock_mode(&ukey, RowLockMode::NoKeyUpdate, true)?;
        self.locked_row_outcome(&ukey, view)
    }

    /// `SELECT … FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE` on a row the statement read.
    /// `WaitPolicy::NoWait` fails at once with `Error::LockNotAvailable` if the lock is not
    /// free; `WaitPolicy::SkipLocked` returns `None` (skip the row). Once locked, the same
    /// rules as [`Transaction::lock_row`] apply (40001 at REPEATABLE READ / SERIALIZABLE if
    /// the row changed after the snapshot; the newer version or `Deleted` at READ COMMITTED).
    pub fn lock_row_with(
        &self,
        table: TableId,
        key: &RowKey,
        mode: RowLockMode,
        wait: WaitPolicy,
    ) -> Result<Option<RowLockOutcome>> {
        self.check_writable(&format!("SELECT {}", mode.sql()))?;
        let view = self.view()?;
        let ukey = keys::row_key(table, &key.0);
        if !self.lock_mode(&ukey, mode, wait == WaitPolicy::Block)? {
            return match wait {
                WaitPolicy::SkipLocked => Ok(None),
                _ => Err(Error::LockNotAvailable(format!(
                    "could not obtain lock on row in relation \"{}\"",
                    self.table(table)?.name
                ))),
            };
        }
        // PostgreSQL's LockRows reports a concurrent delete as a concurrent *update*.
        self.locked_row_outcome(&ukey, view)
            .map_err(|e| match e {
                Error::Serialization { .. } => serialization_failure(false),
                e => e,
            })
            .map(Some)
    }

    /// What a transaction that just locked `ukey` must do with it (see [`RowLockOutcome`]).
    fn locked_row_outcome(&self, ukey: &[u8], view: ReadView) -> Result<RowLockOutcome> {
        if let Some(own) = self.inner.buffer.lock().get(ukey, ReadView::LATEST) {
            return Ok(match own {
                Some(_) => RowLockOutcome::Unchanged,
                None => RowLockOutcome::Deleted,
            });
        }
        match mvcc::read_committed(self.kv(), ukey, u64::MAX)? {
            Some((ts, v)) if ts > view.read_ts => {
                if self.isolation() != IsolationLevel::ReadCommitted {
                    return Err(serialization_failure(v.is_none()));
                }
                match v {
                    Some(bytes) => Ok(RowLockOutcome::Updated(decode_row(&bytes)?)),
                    None => Ok(RowLockOutcome::Deleted),
                }
            }
            Some((_, Some(_))) => Ok(RowLockOutcome::Unchanged),
            _ => Ok(RowLockOutcome::Deleted),
        }
    }
    /// Replaces a row (locking it first if `lock_row` was not called). If the primary key
    /// changes the row moves to a new key, which is returned.
    pub fn update(&self, table: TableId, key: &RowKey, row: Row) -> Result<RowKey> {
        self.check_writable("UPDATE")?;
        let view = self.view()?;
        let def = self.table(table)?;
        if row.len() != def.columns.len() {
            return Err(Error::Internal("row width does not match the table".into()));
        }
        let old_key = keys::row_key(table, &key.0);
        let new_rk = if def.primary_key.is_empty() {
            key.0.clone()
        } else {
            Self::primary_key_bytes(&def, &row)?
        };
        let moved = new_rk != key.0;
        // A key change locks FOR UPDATE, any other update FOR NO KEY UPDATE (as PostgreSQL
        // does: FOR KEY SHARE holders, e.g. foreign key checks, only block key changes).
        let mode = if moved {
            RowLockMode::Update
        } else {
            RowLockMode::NoKeyUpdate
        };
        self.lock_mode(&old_key, mode, true)?;
        let Some(old_bytes) = self.current_version(&old_key, view)? else {
            // Deleted concurrently (READ COMMITTED): nothing left to update.
            return Ok(key.clone());
        };
        let old = decode_row(&old_bytes)?;
        let unique_change = def.indexes.iter().any(|idx| {
            idx.unique
                && idx.columns.iter().any(|&c| match (old.get(c), row.get(c)) {
                    (Some(a), Some(b)) => a.cmp_same_type(b) != std::cmp::Ordering::Equal,
                    _ => true,
                })
        });
        if unique_change {
            self.lock_mode(&old_key, RowLockMode::Update, true)?;
        }
        if moved {
            let new_key = keys::row_key(table, &new_rk);
            self.lock(&new_key)?;
            if self.live_latest(&new_key)? {
                let name = def
                    .primary_key_name
                    .clone()
                    .unwrap_or_else(|| format!("{}_pkey", def.name));
                return Err(Self::unique_violation(&def, name, &def.primary_key, &row));
            }
        }
        // Old entries go first, so a moved row does not clash with its own old entry.
        let mut changed = Vec::new();
        for idx in &def.indexes {
            let old_entry = Self::index_entry(&def, idx, &old, &key.0)?;
            let new_entry = Self::index_entry(&def, idx, &row, &new_rk)?;
            if old_entry != new_entry {
                self.lock_unique_value(&def, idx, &old)?;
                self.put(old_entry, None)?;
                changed.push((idx, new_entry));
            }
        }
        for (idx, new_entry) in changed {
            if idx.unique {
                self.check_unique(&def, idx, &row)?;
            }
            self.put(new_entry, Some(Vec::new()))?;
        }
        if moved {
            self.put(old_key, None)?;
        }
        self.put(keys::row_key(table, &new_rk), Some(encode_row(&row)?))?;
        Ok(RowKey(new_rk))
    }
    /// Deletes a row (locking it FOR UPDATE first, upgrading a `lock_row` lock).
    pub fn delete(&self, table: TableId, key: &RowKey) -> Result<()> {
        self.check_writable("DELETE")?;
        let view = self.view()?;
        let def = self.table(table)?;
        let ukey = keys::row_key(table, &key.0);
        self.lock(&ukey)?;
        let Some(old_bytes) = self.current_version(&ukey, view)? else {
            return Ok(());
        };
        let old = decode_row(&old_bytes)?;
        for idx in &def.indexes {
            self.lock_unique_value(&def, idx, &old)?;
            self.put(Self::index_entry(&def, idx, &old, &key.0)?, None)?;
        }
        self.put(ukey, None)?;
        Ok(())
    }
}

/// A savepoint: what [`Transaction::rollback_to_savepoint`] returns to. The planner keeps the
/// SQL names and the stack semantics (ROLLBACK TO keeps the savepoint, RELEASE and ROLLBACK TO
/// an earlier one forget the later ones); storage only needs the position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Savepoint {
    buffer: mvcc::BufferMark,
    /// How many locks the transaction held.
    locks: usize,
}

impl Transaction {
    /// Takes a savepoint at the end of the current statement's writes: statements after it
    /// can be rolled back (their writes and the locks they took) without ending the
    /// transaction.
    pub fn savepoint(&self) -> Result<Savepoint> {
        let st = self.inner.state.lock();
        if st.finished {
            return Err(Error::Internal("transaction already ended".into()));
        }
        let buffer = self.inner.buffer.lock().savepoint(st.seq);
        Ok(Savepoint {
            buffer,
            locks: st.held.len(),
        })
    }

    /// Undoes every write made after `sp` and releases the locks taken after it (as
    /// PostgreSQL's ROLLBACK TO SAVEPOINT does). The savepoint stays usable.
    pub fn rollback_to_savepoint(&self, sp: Savepoint) -> Result<()> {
        let released = {
            let mut st = self.inner.state.lock();
            if st.finished {
                return Err(Error::Internal("transaction already ended".into()));
            }
            let keep = sp.locks.min(st.held.len());
            st.own_catalog = None;
            st.held.split_off(keep)
        };
        self.inner.buffer.lock().rollback_to(sp.buffer);
        for key in released {
            self.inner.store.locks.release(&key, self.inner.id);
        }
        Ok(())
    }

    /// Forgets a savepoint (RELEASE SAVEPOINT): its writes stay part of the transaction.
    pub fn release_savepoint(&self, _sp: Savepoint) -> Result<()> {
        Ok(())
    }
}

impl Transaction {
    /// Lets lock waits notice a cancel request: while this flag is set, a waiting call returns
    /// `Error::Cancelled`. The planner points it at the session's cancel flag.
    pub fn set_interrupt(&self, flag: Arc<std::sync::atomic::AtomicBool>) {
        self.inner.policy.lock().interrupt = Some(flag);
    }
    /// `lock_timeout` (None = wait forever): a lock wait longer than this fails with
    /// `Error::LockNotAvailable("canceling statement due to lock timeout")`.
    pub fn set_lock_timeout(&self, timeout: Option<std::time::Duration>) {
        self.inner.policy.lock().timeout = timeout;
    }
    /// `deadlock_timeout`: how long a lock wait lasts before it searches for a deadlock
    /// (None = the default, one second).
    pub fn set_deadlock_timeout(&self, delay: Option<std::time::Duration>) {
        self.inner.policy.lock().deadlock_timeout = delay;
    }
}
