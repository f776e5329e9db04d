//! The store: one sled database per data directory, shared by every session.
//!
//! A `Store` owns the key-value engine (`kv.rs`), the commit sequencer with its visibility
//! watermark (`commit.rs`) and the lock manager (`lock.rs`); transactions borrow all three.
//!
//! Opening a directory: it is created if needed, then an exclusive `flock` is taken on
//! `DIR/sledgres.lock` so a second server on the same directory fails with
//! `Error::DataDirLocked` (sled takes its own lock on its files too; we map that error the
//! same way, but our own lock gives the clear message first). Recovery is reading the metadata
//! record: commits are single atomic batches, so there is nothing to redo or undo.

use crate::commit::Committer;
use crate::error::{Error, Result};
use crate::kv::{Kv, MemoryKv, SledKv};
use crate::lock::LockManager;
use crate::sequence::{SeqNext, SequenceId, SequenceParams, SequenceState, Sequences};
use crate::ssi::Ssi;
use crate::transaction::{CatalogList, Transaction};
pub use crate::vacuum::StoreStats;
use crate::vacuum::{self, Snapshots, VacuumStats};
use parking_lot::Mutex;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
pub struct Store {
    pub(crate) inner: Arc<StoreInner>,
}

pub(crate) struct StoreInner {
    pub kv: Arc<dyn Kv>,
    pub committer: Committer,
    pub locks: LockManager,
    /// Serializable snapshot isolation's read markers and conflict graph.
    pub ssi: Ssi,
    /// Running snapshots, for the vacuum horizon.
    pub snapshots: Snapshots,
    /// Where the next background vacuum pass starts.
    vacuum_cursor: Mutex<Vec<u8>>,
    /// Milliseconds between background vacuum passes (0 = paused).
    vacuum_interval_ms: AtomicU64,
    vacuum_last: Mutex<Instant>,
    pub next_txn_id: AtomicU64,
    /// The committed catalog as of the newest DDL commit: (that commit's ts, tables).
    pub catalog_cache: Mutex<Option<(u64, CatalogList)>>,
    /// Sequence counters (non-transactional, see `sequence.rs`).
    pub sequences: Sequences,
    /// Holds the data directory's flock for the store's lifetime.
    _dir_lock: Option<File>,
}

/// Sled's own lock failure, mapped to the same error as ours.
fn map_open_error(dir: &Path, e: sled::Error) -> Error {
    let text = e.to_string();
    if text.contains("could not acquire lock") {
        Error::DataDirLocked(dir.display().to_string())
    } else {
        Error::Io(format!("opening {}: {text}", dir.display()))
    }
}

/// The default pause between background vacuum passes.
pub const DEFAULT_VACUUM_INTERVAL: Duration = Duration::from_secs(1);

impl StoreInner {
    /// The oldest read timestamp a snapshot has or can still get.
    pub fn horizon(&self) -> u64 {
        self.snapshots.horizon(|| self.committer.visible_ts())
    }

    /// Takes a snapshot for `txn`, registered for the vacuum horizon.
    pub fn take_snapshot(&self, txn: u64) -> u64 {
        self.snapshots.take(txn, || self.committer.visible_ts())
    }

    /// Whether the background vacuum's interval has elapsed since its last pass.
    fn vacuum_due(&self) -> bool {
        let interval = self.vacuum_interval_ms.load(Ordering::Relaxed);
        let mut last = self.vacuum_last.lock();
        if last.elapsed() >= Duration::from_millis(interval) {
            *last = Instant::now();
            true
        } else {
            false
        }
    }

    /// One bounded background pass, continuing where the last one stopped.
    fn vacuum_pass(&self) -> Result<()> {
        let mut cursor = self.vacuum_cursor.lock();
        let (next, stats) = vacuum::pass(&*self.kv, self.horizon(), &cursor, vacuum::PASS_BUDGET)?;
        if stats.versions_removed > 0 {
            tracing::debug!(?stats, "background vacuum pass");
        }
        *cursor = next.unwrap_or_default();
        Ok(())
    }
}

impl Store {
    /// Opens the data directory, creating it if needed, and recovers after a crash.
    /// Fails with `Error::DataDirLocked` if another process has it open.
    pub fn open(dir: &Path) -> Result<Store> {
        let io = |e: std::io::Error| Error::Io(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("sledgres.lock"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::DataDirLocked(dir.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let db = sled::Config::new()
            .path(dir.join("db"))
            .open()
            .map_err(|e| map_open_error(dir, e))?;
        tracing::info!(dir = %dir.display(), "opened data directory");
        Store::with_kv(Arc::new(SledKv::new(db)), Some(lock))
    }

    fn with_kv(kv: Arc<dyn Kv>, dir_lock: Option<File>) -> Result<Store> {
        let committer = Committer::open(kv.clone())?;
        let store = Store {
            inner: Arc::new(StoreInner {
                kv,
                committer,
                locks: LockManager::default(),
                ssi: Ssi::default(),
                snapshots: Snapshots::default(),
                vacuum_cursor: Mutex::new(Vec::new()),
                vacuum_interval_ms: AtomicU64::new(DEFAULT_VACUUM_INTERVAL.as_millis() as u64),
                vacuum_last: Mutex::new(Instant::now()),
                next_txn_id: AtomicU64::new(1),
                catalog_cache: Mutex::new(None),
                sequences: Sequences::default(),
                _dir_lock: dir_lock,
            }),
        };
        store.spawn_autovacuum();
        Ok(store)
    }

    /// The background vacuum: one bounded pass per interval, for as long as the store lives
    /// (the thread holds only a weak reference between passes).
    fn spawn_autovacuum(&self) {
        let weak = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("sledgres-vacuum".into())
            .spawn(move || loop {
                let interval = match weak.upgrade() {
                    Some(inner) => inner.vacuum_interval_ms.load(Ordering::Relaxed),
                    None => return,
                };
                std::thread::sleep(Duration::from_millis(interval.clamp(1, 1000)));
                let Some(inner) = weak.upgrade() else { return };
                let due = inner.vacuum_interval_ms.load(Ordering::Relaxed);
                if due == 0 || !inner.vacuum_due() {
                    continue;
                }
                if let Err(e) = inner.vacuum_pass() {
                    tracing::warn!(error = %e, "background vacuum pass failed");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start the background vacuum");
        }
    }

    /// Runs vacuum over the whole keyspace now (the planner's VACUUM): removes every version
    /// no running or future snapshot can see, and the data of dropped tables and indexes.
    pub fn vacuum(&self) -> Result<VacuumStats> {
        let inner = &self.inner;
        let mut total = VacuumStats::default();
        let mut from = Vec::new();
        loop {
            let horizon = inner.horizon();
            let (next, stats) = vacuum::pass(&*inner.kv, horizon, &from, vacuum::PASS_BUDGET)?;
            total += stats;
            match next {
                Some(n) => from = n,
                None => break,
            }
        }
        tracing::debug!(?total, "vacuum");
        Ok(total)
    }

    /// Sets the pause between background vacuum passes (`Duration::ZERO` pauses it).
    pub fn set_autovacuum_interval(&self, interval: Duration) {
        self.inner
            .vacuum_interval_ms
            .store(interval.as_millis() as u64, Ordering::Relaxed);
    }

    /// A store that lives in memory only (no sled): fast, for unit tests.
    pub fn open_in_memory() -> Result<Store> {
        Store::with_kv(Arc::new(MemoryKv::default()), None)
    }

    /// A store in a fresh temporary directory, removed when the last handle is dropped.
    /// For tests.
    pub fn open_temporary() -> Result<Store> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::with_kv(Arc::new(SledKv::new(db)), None)
    }

    /// Begins a transaction. Its snapshot is taken lazily, at the first read (so that
    /// `BEGIN; SET TRANSACTION …; SELECT` works as in PostgreSQL); see
    /// [`Transaction::begin_statement`].
    pub fn begin(&self, opts: TxnOptions) -> Result<Transaction> {
        Ok(Transaction::new(self.inner.clone(), opts))
    }

    /// Counts what is stored, version by version: a full scan of the keyspace, for tests and
    /// diagnostics (the bounded-space stress test asserts vacuum keeps these bounded).
    pub fn stats(&self) -> Result<StoreStats> {
        vacuum::count(&*self.inner.kv)
    }

    /// `nextval` on sequence `id`: the next value, durable before it is returned and never
    /// rolled back. `params` come from the sequence's (transactional) definition.
    pub fn sequence_next(&self, id: SequenceId, params: &SequenceParams) -> Result<SeqNext> {
        self.inner.sequences.next(&*self.inner.kv, id, params)
    }

    /// `setval(id, value, is_called)` / `ALTER SEQUENCE … RESTART`: sets the counter durably.
    pub fn sequence_set(&self, id: SequenceId, value: i64, is_called: bool) -> Result<()> {
        self.inner
            .sequences
            .set(&*self.inner.kv, id, value, is_called)
    }

    /// The counter's `last_value`, `log_cnt` and `is_called` (`SELECT * FROM seq`).
    pub fn sequence_state(&self, id: SequenceId, params: &SequenceParams) -> Result<SequenceState> {
        self.inner.sequences.state(&*self.inner.kv, id, params)
    }

    /// Removes the counter of a sequence whose DROP has committed.
    pub fn sequence_remove(&self, id: SequenceId) -> Result<()> {
        self.inner.sequences.remove(&*self.inner.kv, id)
    }

    /// Flushes everything to disk (used at shutdown).
    pub fn flush(&self) -> Result<()> {
        self.inner.committer.flush()
    }
}
