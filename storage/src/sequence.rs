//! Sequence counters: non-transactional, durable, safe under concurrent `nextval`.
//!
//! A sequence's *definition* (increment, bounds, cycle, owner) is a catalog object and obeys
//! transactions like any other; its *counter* does not: a value handed out by `nextval` is
//! gone even if the transaction that asked for it rolls back, as in PostgreSQL. So the counter
//! lives outside the MVCC versions, in one unversioned key per sequence:
//!
//! ```text
//!  seq counter   00 "seq" seq_id:u32be   → postcard(Persisted { last_value: i64, is_called: bool })
//! ```
//!
//! (`00`-prefixed keys sort below `keys::DATA_START`, so recovery and vacuum never see them.)
//!
//! Durability follows PostgreSQL's `SEQ_LOG_VALS` scheme: the stored `last_value` is a mark
//! *ahead* of the values handed out. When `nextval` needs a value beyond the mark, it first
//! writes a new mark [`LOG_VALS`] increments further and flushes it, then hands out values up
//! to the mark from memory. After a restart the counter resumes after the mark, so no value
//! that was ever returned is returned again (a crash skips at most `LOG_VALS` values, exactly
//! PostgreSQL's behaviour). `setval` and `ALTER SEQUENCE … RESTART` write and flush at once.
//!
//! Concurrency: each sequence has its own mutex (found through a briefly locked map), held for
//! the in-memory arithmetic and, once per `LOG_VALS` values, one flush.

use crate::error::{Error, Result};
use crate::kv::Kv;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Identifies a sequence's counter (the planner uses the sequence's catalog id); never reused.
pub type SequenceId = u32;

/// How many values past the one handed out each durable mark covers (PostgreSQL's
/// `SEQ_LOG_VALS`).
pub const LOG_VALS: i64 = 32;

/// The parameters `nextval` needs; they come from the transactional catalog definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceParams {
    /// Non-zero.
    pub increment: i64,
    pub min_value: i64,
    pub max_value: i64,
    /// The first value (and the state a fresh counter starts in, not yet called).
    pub start: i64,
    pub cycle: bool,
}

/// The outcome of `nextval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqNext {
    Value(i64),
    /// The sequence is at its bound and does not cycle: PostgreSQL's 2200H
    /// "nextval: reached maximum (or minimum) value of sequence".
    Exhausted {
        /// True for an ascending sequence (the maximum was reached).
        ascending: bool,
        limit: i64,
    },
}

/// What `SELECT * FROM seq` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceState {
    pub last_value: i64,
    /// Values still covered by the durable mark (PostgreSQL's `log_cnt`).
    pub log_cnt: i64,
    pub is_called: bool,
}

/// The stored record.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Persisted {
    last_value: i64,
    is_called: bool,
}

/// In-memory state of one counter.
#[derive(Debug)]
struct Counter {
    last_value: i64,
    is_called: bool,
    /// How many values after `last_value` the durable mark already covers.
    covered: i64,
}

/// All counters of a store, loaded lazily from their keys.
#[derive(Default)]
pub(crate) struct Sequences {
    counters: Mutex<HashMap<SequenceId, Arc<Mutex<Option<Counter>>>>>,
}

/// The key of a sequence's counter: `00 "seq" id:u32be`.
pub(crate) fn counter_key(id: SequenceId) -> Vec<u8> {
    let mut k = vec![0x00, b's', b'e', b'q'];
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// One step from `v`, or `None` past the bounds (wrapping when the sequence cycles).
fn step(v: i64, p: &SequenceParams) -> Option<i64> {
    match v.checked_add(p.increment) {
        Some(n) if n >= p.min_value && n <= p.max_value => Some(n),
        _ if p.cycle => Some(if p.increment > 0 {
            p.min_value
        } else {
            p.max_value
        }),
        _ => None,
    }
}

impl Sequences {
    fn slot(&self, id: SequenceId) -> Arc<Mutex<Option<Counter>>> {
        self.counters.lock().entry(id).or_default().clone()
    }

    fn load(kv: &dyn Kv, id: SequenceId, p: &SequenceParams) -> Result<Counter> {
        Ok(match kv.get(&counter_key(id))? {
            Some(bytes) => {
                let stored: Persisted = postcard::from_bytes(&bytes)?;
                Counter {
                    last_value: stored.last_value,
                    is_called: stored.is_called,
                    covered: 0,
                }
            }
            None => Counter {
                last_value: p.start,
                is_called: false,
                covered: 0,
            },
        })
    }

    fn persist(kv: &dyn Kv, id: SequenceId, last_value: i64, is_called: bool) -> Result<()> {
        let value = postcard::to_stdvec(&Persisted {
            last_value,
            is_called,
        })?;
        kv.apply_batch(vec![(counter_key(id), Some(value))])?;
        kv.flush()
    }

    /// `nextval`: the next value, durable before it is returned.
    pub fn next(&self, kv: &dyn Kv, id: SequenceId, p: &SequenceParams) -> Result<SeqNext> {
        let slot = self.slot(id);
        let mut guard = slot.lock();
        if guard.is_none() {
            *guard = Some(Self::load(kv, id, p)?);
        }
        let Some(c) = guard.as_mut() else {
            return Err(Error::Internal("sequence counter not loaded".into()));
        };
        let value = if c.is_called {
            match step(c.last_value, p) {
                Some(v) => v,
                None => {
                    return Ok(SeqNext::Exhausted {
                        ascending: p.increment > 0,
                        limit: if p.increment > 0 {
                            p.max_value
                        } else {
                            p.min_value
                        },
                    })
                }
            }
        } else {
            c.last_value
        };
        if c.covered > 0 && c.is_called {
            c.covered -= 1;
        } else {
            // Write a mark LOG_VALS steps ahead (or up to the bound) before handing out.
            let mut mark = value;
            let mut covered = 0;
            while covered < LOG_VALS {
                match step(mark, p) {
                    // Stop at a wrap-around: the mark stays within one pass.
                    Some(n) if (p.increment > 0) == (n > mark) => {
                        mark = n;
                        covered += 1;
                    }
                    _ => break,
                }
            }
            Self::persist(kv, id, mark, true)?;
            c.covered = covered;
        }
        c.last_value = value;
        c.is_called = true;
        Ok(SeqNext::Value(value))
    }

    /// `setval` / `ALTER SEQUENCE … RESTART`: sets the counter, durably.
    pub fn set(&self, kv: &dyn Kv, id: SequenceId, value: i64, is_called: bool) -> Result<()> {
        let slot = self.slot(id);
        let mut guard = slot.lock();
        Self::persist(kv, id, value, is_called)?;
        *guard = Some(Counter {
            last_value: value,
            is_called,
            covered: 0,
        });
        Ok(())
    }

    /// The counter's state, for `SELECT * FROM seq`.
    pub fn state(&self, kv: &dyn Kv, id: SequenceId, p: &SequenceParams) -> Result<SequenceState> {
        let slot = self.slot(id);
        let mut guard = slot.lock();
        if guard.is_none() {
            *guard = Some(Self::load(kv, id, p)?);
        }
        Ok(match guard.as_ref() {
            Some(c) => SequenceState {
                last_value: c.last_value,
                log_cnt: c.covered,
                is_called: c.is_called,
            },
            None => SequenceState {
                last_value: p.start,
                log_cnt: 0,
                is_called: false,
            },
        })
    }

    /// Removes a dropped sequence's counter (call after the DROP committed).
    pub fn remove(&self, kv: &dyn Kv, id: SequenceId) -> Result<()> {
        let slot = self.slot(id);
        let mut guard = slot.lock();
        kv.apply_batch(vec![(counter_key(id), None)])?;
        *guard = None;
        self.counters.lock().remove(&id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn params() -> SequenceParams {
        SequenceParams {
            increment: 1,
            min_value: 1,
            max_value: i64::MAX,
            start: 1,
            cycle: false,
        }
    }

    fn val(n: SeqNext) -> i64 {
        match n {
            SeqNext::Value(v) => v,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn counts_and_stops_at_bound() {
        let store = Store::open_in_memory().unwrap();
        let mut p = params();
        p.max_value = 3;
        let got: Vec<_> = (0..3)
            .map(|_| val(store.sequence_next(7, &p).unwrap()))
            .collect();
        assert_eq!(got, vec![1, 2, 3]);
        assert_eq!(
            store.sequence_next(7, &p).unwrap(),
            SeqNext::Exhausted {
                ascending: true,
                limit: 3
            }
        );
        p.cycle = true;
        assert_eq!(val(store.sequence_next(7, &p).unwrap()), 1);
        store.sequence_set(7, 10, false).unwrap();
        assert_eq!(val(store.sequence_next(7, &params()).unwrap()), 10);
        let st = store.sequence_state(7, &params()).unwrap();
        assert!(st.is_called && st.last_value == 10);
    }

    #[test]
    fn descending_with_cycle() {
        let store = Store::open_in_memory().unwrap();
        let p = SequenceParams {
            increment: -2,
            min_value: -5,
            max_value: -1,
            start: -1,
            cycle: true,
        };
        let got: Vec<_> = (0..5)
            .map(|_| val(store.sequence_next(1, &p).unwrap()))
            .collect();
        assert_eq!(got, vec![-1, -3, -5, -1, -3]);
    }

    /// Values handed out before a close are never handed out again after reopening.
    #[test]
    fn durable_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = params();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let store = Store::open(dir.path()).unwrap();
            for _ in 0..45 {
                seen.push(val(store.sequence_next(3, &p).unwrap()));
            }
            // No flush/close of our own: the mark was flushed before each value was returned.
            drop(store);
        }
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "a value was handed out twice");
        assert!(seen.windows(2).all(|w| w[0] < w[1]));
        // setval survives too.
        {
            let store = Store::open(dir.path()).unwrap();
            store.sequence_set(3, 1000, true).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(val(store.sequence_next(3, &p).unwrap()), 1001);
    }

    /// Many threads calling nextval get distinct values, with no gaps in memory.
    #[test]
    fn concurrent_nextval_distinct() {
        let store = Store::open_temporary().unwrap();
        let p = params();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    (0..500)
                        .map(|_| val(store.sequence_next(9, &p).unwrap()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<i64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (1..=4000).collect::<Vec<_>>());
    }
}
