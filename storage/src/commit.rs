//! Commit: timestamps, atomic application, group commit and the visibility watermark.
//!
//! ```text
//!  committer A ─┬─ [seq mutex] ts=41, apply_batch(versions@41 + meta) ─┐
//!  committer B ─┼─ [seq mutex] ts=42, apply_batch(versions@42 + meta) ─┼─ one flush() ─ watermark=42
//!  committer C ─┘          (arrives during the flush → next group)      └─ A, B return
//! ```
//!
//! 1. Under a short mutex a committer takes the next commit timestamp and applies all its
//!    writes as versions at that timestamp in one atomic batch, together with the metadata
//!    record (last commit timestamp and id counters). Timestamps are therefore applied in
//!    order: every timestamp up to `applied` is in the engine.
//! 2. Group commit: the first committer to find no flush running becomes the flusher; it reads
//!    `applied`, flushes, and marks everything up to that value durable. Committers arriving
//!    meanwhile wait and join the next flush. The mutex of step 1 is not held across a flush,
//!    so writers of different rows never serialise behind the disk.
//! 3. Only then does the visibility watermark (`visible`) advance, in commit order. A snapshot
//!    is a read timestamp taken from it, so nobody ever reads data a crash could still lose.
//!
//! Recovery needs almost nothing: versions are only written by committing batches, so a crash
//! leaves either all of a transaction or none, and the last commit timestamp is read back from
//! the metadata record.
//!
//! Large commits (bulk loads) are the exception: sled handles one batch of a million keys
//! badly (slow to apply, and the oversized nodes make the next scans slow), so a commit with
//! more than [`CHUNK`] writes is applied in several batches. That is safe for readers, since
//! versions above the watermark are invisible anyway, and for writers, since the rows stay
//! locked until the commit is published. For crashes, the first batch records the timestamp as
//! `in_flight` in the metadata record and the last one clears it; recovery finding the marker
//! removes that timestamp's versions (sled recovers its log as a prefix, so a later batch never
//! survives without the earlier ones). A chunked commit that fails half-way poisons the
//! committer until a restart, so its timestamp is never reused while orphans may exist.

use crate::error::{Error, Result};
use crate::keys;
use crate::kv::{Kv, KvWrite};
use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The unversioned metadata record, rewritten by every commit batch. The id counters are
/// non-transactional: a value handed out by an aborted transaction is simply never used.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Meta {
    pub last_commit_ts: u64,
    pub next_table_id: u32,
    pub next_index_id: u32,
    pub next_row_id: u64,
    /// A large commit being applied in several batches (see the module docs).
    pub in_flight: Option<u64>,
}

/// Commits with more writes than this are applied in several batches of this size.
const CHUNK: usize = 4096;

/// Removes every version written at timestamp `ts` by a chunked commit that a crash cut
/// short. One full scan, needed only after such a crash.
fn remove_partial_commit(kv: &dyn Kv, ts: u64) -> Result<()> {
    tracing::warn!(ts, "removing a partly applied commit");
    let mut batch = Vec::new();
    for item in kv.scan(keys::DATA_START.to_vec()..vec![0xFF]) {
        let (key, _) = item?;
        if keys::split_version(&key).map(|(_, v)| v) == Some(ts) {
            batch.push((key, None));
            if batch.len() >= CHUNK {
                kv.apply_batch(std::mem::take(&mut batch))?;
            }
        }
    }
    kv.apply_batch(batch)
}

/// Store-wide id counters.
pub struct Counters {
    pub table_id: AtomicU32,
    pub index_id: AtomicU32,
    pub row_id: AtomicU64,
}

#[derive(Default)]
struct FlushState {
    durable: u64,
    flushing: bool,
}

pub struct Committer {
    kv: Arc<dyn Kv>,
    pub counters: Counters,
    /// Last assigned (and applied) commit timestamp; held while applying a batch.
    seq: Mutex<u64>,
    applied: AtomicU64,
    flush: Mutex<FlushState>,
    flushed: Condvar,
    visible: AtomicU64,
    /// Timestamp of the newest commit that changed the catalog (for the catalog cache).
    last_ddl: AtomicU64,
    /// Set when a chunked commit failed half-way: its versions may be in the engine, so no
    /// later commit may reuse its timestamp. Only a restart (recovery) clears it.
    poisoned: AtomicBool,
}

impl Committer {
    /// Recovers the state from the metadata record.
    pub fn open(kv: Arc<dyn Kv>) -> Result<Committer> {
        let meta: Meta = match kv.get(keys::META)? {
            Some(bytes) => postcard::from_bytes(&bytes)?,
            None => Meta {
                next_table_id: 1,
                next_index_id: 1,
                ..Meta::default()
            },
        };
        if let Some(partial) = meta.in_flight {
            remove_partial_commit(&*kv, partial)?;
            // Rewrite the record without the marker, durably, before anything else commits.
            let mut clean = meta;
            clean.in_flight = None;
            kv.apply_batch(vec![(
                keys::META.to_vec(),
                Some(postcard::to_stdvec(&clean)?),
            )])?;
            kv.flush()?;
            return Committer::open(kv);
        }
        let ts = meta.last_commit_ts;
        Ok(Committer {
            kv,
            counters: Counters {
                table_id: AtomicU32::new(meta.next_table_id),
                index_id: AtomicU32::new(meta.next_index_id),
                row_id: AtomicU64::new(meta.next_row_id),
            },
            seq: Mutex::new(ts),
            applied: AtomicU64::new(ts),
            flush: Mutex::new(FlushState {
                durable: ts,
                flushing: false,
            }),
            flushed: Condvar::new(),
            visible: AtomicU64::new(ts),
            last_ddl: AtomicU64::new(ts),
            poisoned: AtomicBool::new(false),
        })
    }

    /// The visibility watermark: every commit with a timestamp up to it is durable and visible.
    pub fn visible_ts(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    /// Timestamp of the newest commit that changed the catalog (it may not be visible yet).
    pub fn last_ddl_ts(&self) -> u64 {
        self.last_ddl.load(Ordering::SeqCst)
    }

    /// Commits `writes` (user key → payload, `None` = tombstone) at a new timestamp; returns
    /// once durable and visible. `ddl` says whether the writes touch the catalog.
    pub fn commit(
        &self,
        writes: impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
        ddl: bool,
    ) -> Result<u64> {
        let ts = {
            let mut seq = self.seq.lock();
            if self.poisoned.load(Ordering::SeqCst) {
                return Err(Error::Io(
                    "an earlier commit failed half-way; restart the server to recover".into(),
                ));
            }
            let ts = *seq + 1;
            if ddl {
                // Before the batch lands, so no cached catalog outlives it (see transaction.rs).
                self.last_ddl.store(ts, Ordering::SeqCst);
            }
            let mut batch: Vec<KvWrite> = Vec::new();
            let mut chunked = false;
            for (key, value) in writes {
                batch.push((
                    keys::versioned(&key, ts),
                    Some(keys::encode_version_value(value.as_deref())),
                ));
                if batch.len() >= CHUNK {
                    if !chunked {
                        // Announce the large commit first, so recovery can remove a partly
                        // applied one (see the module docs).
                        batch.push((keys::META.to_vec(), Some(self.meta(*seq, Some(ts))?)));
                        chunked = true;
                    }
                    if let Err(e) = self.kv.apply_batch(std::mem::take(&mut batch)) {
                        self.poisoned.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                }
            }
            batch.push((keys::META.to_vec(), Some(self.meta(ts, None)?)));
            if let Err(e) = self.kv.apply_batch(batch) {
                if chunked {
                    self.poisoned.store(true, Ordering::SeqCst);
                }
                return Err(e);
            }
            *seq = ts;
            self.applied.store(ts, Ordering::SeqCst);
            ts
        };
        self.wait_durable(ts)?;
        Ok(ts)
    }

    fn meta(&self, last_commit_ts: u64, in_flight: Option<u64>) -> Result<Vec<u8>> {
        let meta = Meta {
            last_commit_ts,
            next_table_id: self.counters.table_id.load(Ordering::SeqCst),
            next_index_id: self.counters.index_id.load(Ordering::SeqCst),
            next_row_id: self.counters.row_id.load(Ordering::SeqCst),
            in_flight,
        };
        postcard::to_stdvec(&meta).map_err(|e| Error::Internal(format!("encoding meta: {e}")))
    }

    fn wait_durable(&self, ts: u64) -> Result<()> {
        let mut st = self.flush.lock();
        loop {
            if st.durable >= ts {
                return Ok(());
            }
            if !st.flushing {
                st.flushing = true;
                let target = self.applied.load(Ordering::SeqCst);
                drop(st);
                let result = self.kv.flush();
                st = self.flush.lock();
                st.flushing = false;
                if result.is_ok() && target > st.durable {
                    st.durable = target;
                    self.visible.store(target, Ordering::Release);
                }
                self.flushed.notify_all();
                if let Err(e) = result {
                    tracing::error!(error = %e, "flush failed");
                    return Err(Error::Io(format!("could not flush: {e}")));
                }
                continue;
            }
            self.flushed.wait_for(&mut st, Duration::from_millis(100));
        }
    }

    pub fn flush(&self) -> Result<()> {
        self.kv.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;
    use crate::mvcc::read_committed;

    fn key(i: usize) -> Vec<u8> {
        let mut k = vec![0x02];
        k.extend_from_slice(&(i as u64).to_be_bytes());
        k
    }

    #[test]
    fn large_commits_are_chunked_and_published_together() {
        let kv = MemoryKv::default();
        let c = Committer::open(Arc::new(kv.clone())).unwrap();
        let n = CHUNK * 2 + 7;
        let ts = c
            .commit((0..n).map(|i| (key(i), Some(vec![1]))), false)
            .unwrap();
        assert_eq!(c.visible_ts(), ts);
        for i in [0, CHUNK, n - 1] {
            assert_eq!(
                read_committed(&kv, &key(i), ts).unwrap(),
                Some((ts, Some(vec![1])))
            );
        }
        let meta: Meta = postcard::from_bytes(&kv.get(keys::META).unwrap().unwrap()).unwrap();
        assert_eq!((meta.last_commit_ts, meta.in_flight), (ts, None));
    }

    #[test]
    fn recovery_removes_a_partly_applied_commit() {
        let kv = MemoryKv::default();
        let c = Committer::open(Arc::new(kv.clone())).unwrap();
        let done = c
            .commit([(key(1), Some(vec![1]))].into_iter(), false)
            .unwrap();
        // Simulate a crash after the first chunk of the next commit.
        let partial = done + 1;
        let meta = c.meta(done, Some(partial)).unwrap();
        kv.apply_batch(vec![
            (
                keys::versioned(&key(1), partial),
                Some(keys::encode_version_value(None)),
            ),
            (
                keys::versioned(&key(2), partial),
                Some(keys::encode_version_value(Some(&[2]))),
            ),
            (keys::META.to_vec(), Some(meta)),
        ])
        .unwrap();
        drop(c);
        let c = Committer::open(Arc::new(kv.clone())).unwrap();
        assert_eq!(c.visible_ts(), done);
        assert_eq!(
            read_committed(&kv, &key(1), u64::MAX).unwrap(),
            Some((done, Some(vec![1])))
        );
        assert_eq!(read_committed(&kv, &key(2), u64::MAX).unwrap(), None);
        // The timestamp is free again and the next commit works normally.
        let next = c
            .commit([(key(2), Some(vec![3]))].into_iter(), false)
            .unwrap();
        assert_eq!(next, partial);
    }
}
