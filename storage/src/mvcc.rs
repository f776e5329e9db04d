//! Multi-version concurrency control: the write buffer, snapshots and visibility.
//!
//! Versions of one user key over time (ts = commit timestamp, see `keys.rs` for the layout):
//!
//! ```text
//!   key a:  a@3 "x"          a@7 "y"        a@9 ⌫ (tombstone)
//!   key b:           b@5 "p"
//!   ────────────────────────────────────────────────────────▶ time
//!   snapshot read_ts=6 sees a="x", b="p";  read_ts=8 sees a="y", b="p";  read_ts=9 sees b only
//! ```
//!
//! - **Nothing uncommitted reaches the engine.** A transaction buffers its writes in memory
//!   ([`WriteBuffer`]); commit writes them all as versions at one commit timestamp (`commit.rs`).
//!   Readers never meet uncommitted data, rollback drops the buffer, and recovery has nothing
//!   to undo.
//! - **A snapshot** ([`ReadView`]) is a read timestamp — the visibility watermark when it was
//!   taken — plus the transaction's own buffer. The visible version of a key is the newest with
//!   `ts <= read_ts`, overlaid by the buffer.
//! - **Statement semantics** (PostgreSQL's command ids): each buffered write is tagged with the
//!   statement sequence number that wrote it, and a view sees only writes of *earlier*
//!   statements. The buffer keeps each statement's write of a key, which also lets a savepoint
//!   rollback drop the writes of the statements after it.
//!   Catalog code and uniqueness checks use a view with `seq = u32::MAX` (every own write).
//! - **Scans stream**: the engine's range iterator (resolved to one visible version per key)
//!   is merged lazily with the buffer, which is read in small chunks under its mutex, so memory
//!   does not grow with the table and the statement may write while it scans.
//!
//! - **Skipped versions are reported** on request (for SSI, see `ssi.rs`): a serializable
//!   reader must learn about every committed version newer than its snapshot that it passed
//!   over, since each one is a read-write antidependency.
//!
//! Not yet: spilling a huge buffer to disk.

use crate::error::Result;
use crate::keycode::prefix_successor;
use crate::keys;
use crate::kv::{Kv, KvIter};
use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

/// What a read sees: committed versions up to `read_ts`, own writes of statements `< seq`.
#[derive(Clone, Copy, Debug)]
pub struct ReadView {
    pub read_ts: u64,
    pub seq: u32,
}

impl ReadView {
    /// The newest committed data and every own write: for uniqueness and conflict checks,
    /// which must never go by the snapshot alone.
    pub const LATEST: ReadView = ReadView {
        read_ts: u64::MAX,
        seq: u32::MAX,
    };
}

type Write = (u32, Option<Vec<u8>>);

struct Entry {
    /// Writes by earlier statements, oldest first (one per statement that wrote the key).
    history: Vec<Write>,
    latest: Write,
}

/// A transaction's uncommitted writes: user key → payload or tombstone, tagged by statement.
///
/// Every statement's write of a key is kept (not just the newest), so a reader sees exactly the
/// writes of earlier statements and a savepoint rollback can drop the writes of later ones.
/// Once the transaction has taken a savepoint, an undo log records which keys each statement
/// wrote, so a rollback touches only those keys; without savepoints there is no log (bulk
/// loads pay nothing). The log is kept until the transaction ends: cheaper to reason about
/// than tracking which savepoints are still alive.
#[derive(Default)]
pub struct WriteBuffer {
    entries: BTreeMap<Vec<u8>, Entry>,
    /// Whether a savepoint was taken (then the undo log is kept).
    logging: bool,
    /// (statement, key) for every write of a statement to a key, in order.
    undo: Vec<(u32, Vec<u8>)>,
}

/// A position in the write buffer to roll back to (see [`WriteBuffer::savepoint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferMark {
    /// Writes of statements after this one are undone.
    seq: u32,
    undo_len: usize,
}

impl WriteBuffer {
    pub fn put(&mut self, key: Vec<u8>, seq: u32, value: Option<Vec<u8>>) {
        let logging = self.logging;
        match self.entries.get_mut(&key) {
            Some(e) if e.latest.0 == seq => e.latest.1 = value,
            Some(e) => {
                let old = std::mem::replace(&mut e.latest, (seq, value));
                e.history.push(old);
                if logging {
                    self.undo.push((seq, key));
                }
            }
            None => {
                if logging {
                    self.undo.push((seq, key.clone()));
                }
                self.entries.insert(
                    key,
                    Entry {
                        history: Vec::new(),
                        latest: (seq, value),
                    },
                );
            }
        }
    }

    /// Marks the buffer as of the end of statement `seq`: rolling back to the mark removes
    /// every write of later statements.
    pub fn savepoint(&mut self, seq: u32) -> BufferMark {
        self.logging = true;
        BufferMark {
            seq,
            undo_len: self.undo.len(),
        }
    }

    /// Undoes every write made after `mark`; the savepoint stays active.
    pub fn rollback_to(&mut self, mark: BufferMark) {
        for (_, key) in self.undo.drain(mark.undo_len.min(self.undo.len())..).rev() {
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            if e.latest.0 <= mark.seq {
                continue; // already undone (several log entries for one key)
            }
            e.history.retain(|(s, _)| *s <= mark.seq);
            match e.history.pop() {
                Some(w) => e.latest = w,
                None => {
                    self.entries.remove(&key);
                }
            }
        }
    }

    /// The own write `view` sees for `key`: `None` if there is none (fall back to committed
    /// data), `Some(None)` for an own delete.
    pub fn get(&self, key: &[u8], view: ReadView) -> Option<Option<&[u8]>> {
        Self::visible(self.entries.get(key)?, view)
    }

    fn visible(e: &Entry, view: ReadView) -> Option<Option<&[u8]>> {
        if e.latest.0 < view.seq {
            return Some(e.latest.1.as_deref());
        }
        e.history
            .iter()
            .rev()
            .find(|(s, _)| *s < view.seq)
            .map(|(_, v)| v.as_deref())
    }

    /// Up to `limit` writes visible to `view` with keys in `from..end`.
    fn chunk(
        &self,
        from: &[u8],
        end: &[u8],
        view: ReadView,
        limit: usize,
    ) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        if from >= end {
            return Vec::new();
        }
        self.entries
            .range::<[u8], _>((
                std::ops::Bound::Included(from),
                std::ops::Bound::Excluded(end),
            ))
            .filter_map(|(k, e)| Self::visible(e, view).map(|v| (k.clone(), v.map(|v| v.to_vec()))))
            .take(limit)
            .collect()
    }

    /// The final value of every written key, for commit.
    pub fn drain(&mut self) -> impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .map(|(k, e)| (k, e.latest.1))
    }
}

/// The newest committed version of `key` with `ts <= read_ts`: its timestamp and payload
/// (`None` = tombstone).
pub fn read_committed(
    kv: &dyn Kv,
    key: &[u8],
    read_ts: u64,
) -> Result<Option<(u64, Option<Vec<u8>>)>> {
    let Some(end) = prefix_successor(key) else {
        return Ok(None);
    };
    let start = keys::versioned(key, read_ts);
    for item in kv.scan(start..end) {
        let (k, v) = item?;
        if let Some((user, ts)) = keys::split_version(&k) {
            if user == key {
                return Ok(Some((ts, keys::decode_version_value(&v))));
            }
        }
    }
    Ok(None)
}

/// A committed version: its timestamp and payload (`None` = tombstone).
pub type Version = (u64, Option<Vec<u8>>);

/// Like [`read_committed`], also returning the timestamp of the newest version newer than
/// `read_ts` (one the snapshot skips), if any.
pub fn read_committed_tracking(
    kv: &dyn Kv,
    key: &[u8],
    read_ts: u64,
) -> Result<(Option<Version>, Option<u64>)> {
    let Some(end) = prefix_successor(key) else {
        return Ok((None, None));
    };
    let mut newer = None;
    for item in kv.scan(keys::versioned(key, u64::MAX)..end) {
        let (k, v) = item?;
        match keys::split_version(&k) {
            Some((user, ts)) if user == key => {
                if ts > read_ts {
                    newer.get_or_insert(ts);
                    continue;
                }
                return Ok((Some((ts, keys::decode_version_value(&v))), newer));
            }
            _ => break,
        }
    }
    Ok((None, newer))
}

/// The payload of `key` as `view` sees it, `None` if absent or deleted.
pub fn read(
    kv: &dyn Kv,
    buffer: &Mutex<WriteBuffer>,
    key: &[u8],
    view: ReadView,
) -> Result<Option<Vec<u8>>> {
    if let Some(own) = buffer.lock().get(key, view) {
        return Ok(own.map(|v| v.to_vec()));
    }
    Ok(read_committed(kv, key, view.read_ts)?.and_then(|(_, v)| v))
}

/// Live entries (user key, payload) with user keys in `range`, as `view` sees them, in key
/// order.
pub struct Scan {
    committed: std::iter::Peekable<Committed>,
    buffer: Arc<Mutex<WriteBuffer>>,
    buffered: VecDeque<(Vec<u8>, Option<Vec<u8>>)>,
    buffer_next: Vec<u8>,
    buffer_done: bool,
    end: Vec<u8>,
    view: ReadView,
}

/// Commit timestamps of versions a tracking scan skipped because they are newer than its
/// snapshot (drained by the reader, see [`Scan::new_tracking`]).
pub type Skipped = Arc<Mutex<Vec<u64>>>;

impl Scan {
    /// A scan that also records the commit timestamp of every version it skips for being
    /// newer than the snapshot (SSI needs them).
    pub fn new_tracking(
        kv: &dyn Kv,
        buffer: Arc<Mutex<WriteBuffer>>,
        range: Range<Vec<u8>>,
        view: ReadView,
    ) -> (Scan, Skipped) {
        let skipped = Skipped::default();
        let scan = Scan::build(kv, buffer, range, view, Some(skipped.clone()));
        (scan, skipped)
    }

    pub fn new(
        kv: &dyn Kv,
        buffer: Arc<Mutex<WriteBuffer>>,
        range: Range<Vec<u8>>,
        view: ReadView,
    ) -> Scan {
        Scan::build(kv, buffer, range, view, None)
    }

    fn build(
        kv: &dyn Kv,
        buffer: Arc<Mutex<WriteBuffer>>,
        range: Range<Vec<u8>>,
        view: ReadView,
        skipped: Option<Skipped>,
    ) -> Scan {
        Scan {
            committed: Committed {
                inner: kv.scan(range.clone()),
                read_ts: view.read_ts,
                last: None,
                skipped,
            }
            .peekable(),
            buffer,
            buffered: VecDeque::new(),
            buffer_next: range.start,
            buffer_done: false,
            end: range.end,
            view,
        }
    }

    fn peek_buffer(&mut self) -> Option<&(Vec<u8>, Option<Vec<u8>>)> {
        if self.buffered.is_empty() && !self.buffer_done {
            let chunk = self
                .buffer
                .lock()
                .chunk(&self.buffer_next, &self.end, self.view, 64);
            match chunk.last() {
                Some((k, _)) => {
                    self.buffer_next = k.clone();
                    self.buffer_next.push(0);
                }
                None => self.buffer_done = true,
            }
            self.buffered.extend(chunk);
        }
        self.buffered.front()
    }
}

impl Iterator for Scan {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(Err(_)) = self.committed.peek() {
                if let Some(Err(e)) = self.committed.next() {
                    return Some(Err(e));
                }
            }
            let buf_key = self.peek_buffer().map(|(k, _)| k.clone());
            let take_buffer = match (self.committed.peek(), &buf_key) {
                (Some(Err(_)), _) => false,
                (Some(Ok((ck, _))), Some(bk)) => {
                    if ck == bk {
                        self.committed.next(); // shadowed by the own write
                        true
                    } else {
                        bk < ck
                    }
                }
                (Some(Ok(_)), None) => false,
                (None, Some(_)) => true,
                (None, None) => return None,
            };
            let (key, value) = if take_buffer {
                self.buffered.pop_front()?
            } else {
                match self.committed.next()? {
                    Ok(kv) => kv,
                    Err(e) => return Some(Err(e)),
                }
            };
            if let Some(v) = value {
                return Some(Ok((key, v)));
            }
        }
    }
}

/// Committed versions resolved to the one visible at `read_ts` per user key (tombstones
/// included, so an own write can be merged over them).
struct Committed {
    inner: KvIter,
    read_ts: u64,
    /// The user key whose visible version was already produced (older ones are skipped).
    last: Option<Vec<u8>>,
    /// Where to record versions skipped for being newer than `read_ts`, if wanted.
    skipped: Option<Skipped>,
}

impl Iterator for Committed {
    type Item = Result<(Vec<u8>, Option<Vec<u8>>)>;
    fn next(&mut self) -> Option<Self::Item> {
        for item in self.inner.by_ref() {
            let (mut k, v) = match item {
                Ok(kv) => kv,
                Err(e) => return Some(Err(e)),
            };
            let Some((user, ts)) = keys::split_version(&k) else {
                continue;
            };
            if ts > self.read_ts {
                if let Some(s) = &self.skipped {
                    s.lock().push(ts);
                }
                continue;
            }
            if self.last.as_deref() == Some(user) {
                continue;
            }
            // Reuse the buffers: this runs once per row of every scan.
            let last = self.last.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(user);
            k.truncate(k.len() - keys::VERSION_LEN);
            return Some(Ok((k, keys::into_version_value(v))));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::MemoryKv;

    fn commit(kv: &MemoryKv, ts: u64, writes: &[(&str, Option<&str>)]) {
        use crate::kv::Kv;
        kv.apply_batch(
            writes
                .iter()
                .map(|(k, v)| {
                    (
                        keys::versioned(k.as_bytes(), ts),
                        Some(keys::encode_version_value(v.map(|v| v.as_bytes()))),
                    )
                })
                .collect(),
        )
        .unwrap();
    }

    fn scan(kv: &MemoryKv, buf: &Arc<Mutex<WriteBuffer>>, view: ReadView) -> Vec<(String, String)> {
        Scan::new(kv, buf.clone(), b"a".to_vec()..b"z".to_vec(), view)
            .map(|r| {
                let (k, v) = r.unwrap();
                (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
            })
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn snapshots_see_versions_up_to_their_timestamp() {
        let kv = MemoryKv::default();
        commit(&kv, 3, &[("a", Some("x"))]);
        commit(&kv, 5, &[("b", Some("p"))]);
        commit(&kv, 7, &[("a", Some("y"))]);
        commit(&kv, 9, &[("a", None)]);
        let buf = Arc::new(Mutex::new(WriteBuffer::default()));
        let at = |ts| ReadView {
            read_ts: ts,
            seq: 1,
        };
        assert_eq!(scan(&kv, &buf, at(2)), pairs(&[]));
        assert_eq!(scan(&kv, &buf, at(6)), pairs(&[("a", "x"), ("b", "p")]));
        assert_eq!(scan(&kv, &buf, at(8)), pairs(&[("a", "y"), ("b", "p")]));
        assert_eq!(scan(&kv, &buf, at(9)), pairs(&[("b", "p")]));
        assert_eq!(
            read_committed(&kv, b"a", 8).unwrap(),
            Some((7, Some(b"y".to_vec())))
        );
        assert_eq!(read_committed(&kv, b"a", 100).unwrap(), Some((9, None)));
        assert_eq!(read_committed(&kv, b"c", 100).unwrap(), None);
    }

    #[test]
    fn own_writes_overlay_from_the_next_statement_on() {
        let kv = MemoryKv::default();
        commit(&kv, 1, &[("a", Some("x")), ("b", Some("p"))]);
        let buf = Arc::new(Mutex::new(WriteBuffer::default()));
        buf.lock().put(b"c".to_vec(), 1, Some(b"new".to_vec()));
        buf.lock().put(b"a".to_vec(), 1, None);
        let view = |seq| ReadView { read_ts: 1, seq };
        // Statement 1 does not see its own writes; statement 2 does.
        assert_eq!(scan(&kv, &buf, view(1)), pairs(&[("a", "x"), ("b", "p")]));
        assert_eq!(scan(&kv, &buf, view(2)), pairs(&[("b", "p"), ("c", "new")]));
        // Statement 2 rewrites c: it still reads statement 1's value, statement 3 the new one.
        buf.lock().put(b"c".to_vec(), 2, Some(b"newer".to_vec()));
        assert_eq!(scan(&kv, &buf, view(2)), pairs(&[("b", "p"), ("c", "new")]));
        assert_eq!(
            scan(&kv, &buf, view(3)),
            pairs(&[("b", "p"), ("c", "newer")])
        );
    }

    #[test]
    fn long_scans_stream_across_chunks() {
        let kv = MemoryKv::default();
        let keys: Vec<String> = (0..500).map(|i| format!("k{i:04}")).collect();
        let writes: Vec<(&str, Option<&str>)> = keys
            .iter()
            .step_by(2)
            .map(|k| (k.as_str(), Some("c")))
            .collect();
        commit(&kv, 1, &writes);
        let buf = Arc::new(Mutex::new(WriteBuffer::default()));
        for k in keys.iter().skip(1).step_by(2) {
            buf.lock()
                .put(k.as_bytes().to_vec(), 1, Some(b"b".to_vec()));
        }
        let got = scan(&kv, &buf, ReadView { read_ts: 1, seq: 2 });
        assert_eq!(got.len(), 500);
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
