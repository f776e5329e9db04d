//! The key-value engine underneath MVCC: an ordered map of byte strings.
//!
//! MVCC needs very little from its engine, so sled sits behind this narrow trait: point
//! reads, forward range scans, atomic write batches and an explicit flush. That keeps sled's
//! quirks (see docs/architecture.md) in one file and lets unit tests run on an in-memory map.
//!
//! Invariants the MVCC layer relies on:
//! - `apply_batch` is atomic: after a crash either every write of a batch is there or none.
//!   (sled guarantees this for one tree, which is why all versioned data — rows, index entries,
//!   catalog — lives in a single tree. We deliberately avoid `Tree::transaction`: once used,
//!   it serialises every batch in the process behind one lock.)
//! - `flush` makes every batch that was applied before the call durable.
//! - Scans are *not* snapshots: a scan may or may not see a batch applied while it runs.
//!   Visibility comes from version timestamps in the keys, never from the engine.

use crate::error::{Error, Result};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// A streaming scan: key-value pairs in ascending key order.
pub type KvIter = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + Send>;

/// One write of a batch: `None` removes the key.
pub type KvWrite = (Vec<u8>, Option<Vec<u8>>);

pub trait Kv: Send + Sync {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Every pair with a key in `range`, ascending.
    fn scan(&self, range: Range<Vec<u8>>) -> KvIter;
    /// Every pair with a key in `range`, descending (for backward index scans, later).
    fn scan_rev(&self, range: Range<Vec<u8>>) -> KvIter;
    /// Applies the writes atomically (all or nothing, also across a crash).
    fn apply_batch(&self, batch: Vec<KvWrite>) -> Result<()>;
    /// Makes every batch applied so far durable.
    fn flush(&self) -> Result<()>;
}

/// sled, one tree (the default tree) for everything.
pub struct SledKv {
    db: sled::Db,
}

impl SledKv {
    pub fn new(db: sled::Db) -> SledKv {
        SledKv { db }
    }
}

impl Kv for SledKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }

    fn scan(&self, range: Range<Vec<u8>>) -> KvIter {
        if range.start >= range.end {
            return Box::new(std::iter::empty());
        }
        Box::new(self.db.range(range).map(|r| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(Error::from)
        }))
    }

    fn scan_rev(&self, range: Range<Vec<u8>>) -> KvIter {
        if range.start >= range.end {
            return Box::new(std::iter::empty());
        }
        Box::new(self.db.range(range).rev().map(|r| {
            r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(Error::from)
        }))
    }

    fn apply_batch(&self, batch: Vec<KvWrite>) -> Result<()> {
        let mut b = sled::Batch::default();
        for (k, v) in batch {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        Ok(self.db.apply_batch(b)?)
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

/// An in-memory engine for unit tests (durability is trivially "whatever is in the map").
#[derive(Default, Clone)]
pub struct MemoryKv {
    map: Arc<RwLock<BTreeMap<Vec<u8>, Vec<u8>>>>,
}

impl Kv for MemoryKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().get(key).cloned())
    }

    fn scan(&self, range: Range<Vec<u8>>) -> KvIter {
        if range.start >= range.end {
            return Box::new(std::iter::empty());
        }
        Box::new(MemoryScan {
            map: self.map.clone(),
            range,
            reverse: false,
            chunk: Default::default(),
            done: false,
        })
    }

    fn scan_rev(&self, range: Range<Vec<u8>>) -> KvIter {
        if range.start >= range.end {
            return Box::new(std::iter::empty());
        }
        Box::new(MemoryScan {
            map: self.map.clone(),
            range,
            reverse: true,
            chunk: Default::default(),
            done: false,
        })
    }

    fn apply_batch(&self, batch: Vec<KvWrite>) -> Result<()> {
        let mut map = self.map.write();
        for (k, v) in batch {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// Streams a BTreeMap range without holding its lock between calls: fetches a chunk, then
/// narrows the range past the last key returned (like sled, not a snapshot).
struct MemoryScan {
    map: Arc<RwLock<BTreeMap<Vec<u8>, Vec<u8>>>>,
    /// What is left to scan.
    range: Range<Vec<u8>>,
    reverse: bool,
    chunk: std::collections::VecDeque<(Vec<u8>, Vec<u8>)>,
    done: bool,
}

impl Iterator for MemoryScan {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.chunk.is_empty() && !self.done && self.range.start < self.range.end {
            let map = self.map.read();
            let range = map.range(self.range.clone());
            let pair = |(k, v): (&Vec<u8>, &Vec<u8>)| (k.clone(), v.clone());
            if self.reverse {
                self.chunk.extend(range.rev().take(128).map(pair));
            } else {
                self.chunk.extend(range.take(128).map(pair));
            }
            match self.chunk.back() {
                Some((k, _)) if self.reverse => self.range.end = k.clone(),
                Some((k, _)) => {
                    self.range.start = k.clone();
                    self.range.start.push(0);
                }
                None => self.done = true,
            }
        }
        self.chunk.pop_front().map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(kv: &dyn Kv) {
        let batch = (0u16..300)
            .map(|i| (i.to_be_bytes().to_vec(), Some(vec![i as u8])))
            .collect();
        kv.apply_batch(batch).unwrap();
        kv.apply_batch(vec![(5u16.to_be_bytes().to_vec(), None)])
            .unwrap();
        assert_eq!(kv.get(&5u16.to_be_bytes()).unwrap(), None);
        assert_eq!(kv.get(&6u16.to_be_bytes()).unwrap(), Some(vec![6]));
        let keys: Vec<_> = kv
            .scan(2u16.to_be_bytes().to_vec()..290u16.to_be_bytes().to_vec())
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(keys.len(), 287);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(kv.scan(vec![9]..vec![1]).count(), 0);
        let back: Vec<_> = kv
            .scan_rev(2u16.to_be_bytes().to_vec()..290u16.to_be_bytes().to_vec())
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(back, keys.iter().rev().cloned().collect::<Vec<_>>());
        kv.flush().unwrap();
    }

    #[test]
    fn memory_engine() {
        exercise(&MemoryKv::default());
    }

    #[test]
    fn sled_engine() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        exercise(&SledKv::new(db));
    }
}
