//! Row write locks: who may write a key, and waiting for it.
//!
//! Every write (insert, update, delete, `lock_row`) first takes an exclusive lock on the row's
//! user key (and on unique index values and table names, see `keys.rs`). The lock lives only in
//! memory and is held until the transaction ends — after its commit is durable and visible — so
//! a second writer of the same row *waits* for the first, then looks at what it committed.
//! This is PostgreSQL's behaviour (it waits on the holder's transaction id).
//!
//! ```text
//!   shard = hash(key) % 64      Mutex<HashMap<key, LockState { holder, FIFO waiters }>>
//!   release: hand the lock to the first waiter, notify the shard's Condvar
//! ```
//!
//! - Sharded so that writers of different rows never contend on one mutex.
//! - Waiters sleep on the shard's Condvar but wake at least every 50 ms to check the
//!   cancel flag (→ `Error::Cancelled`) and `lock_timeout` (→ `Error::LockNotAvailable`).
//! - Deadlocks: each waiter waits for exactly one key, so the waits-for graph has one outgoing
//!   edge per waiting transaction (waiter → current holder). As in PostgreSQL, a waiter checks
//!   for a cycle once, after waiting [`DEADLOCK_TIMEOUT`]; checks are serialised by one mutex
//!   and the victim leaves the graph before the next check runs, so only one member of a cycle
//!   is chosen.
//!
//! Not yet: shared (FOR SHARE) locks and NOWAIT/SKIP LOCKED; the lock table grows with the
//! number of rows a transaction writes (a bulk load holds one entry per row until commit).

use crate::error::{Error, Result};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a waiter waits before checking for a deadlock (PostgreSQL's deadlock_timeout).
pub const DEADLOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a waiter wakes up to check for cancellation and timeouts.
const POLL: Duration = Duration::from_millis(50);
const SHARDS: usize = 64;

pub type TxnId = u64;

struct LockState {
    holder: TxnId,
    waiters: VecDeque<TxnId>,
}

#[derive(Default)]
struct Shard {
    locks: Mutex<HashMap<Vec<u8>, LockState>>,
    cond: Condvar,
}

/// What may end a wait early.
#[derive(Default, Clone)]
pub struct WaitPolicy {
    pub interrupt: Option<Arc<AtomicBool>>,
    pub timeout: Option<Duration>,
}

pub struct LockManager {
    shards: Vec<Shard>,
    hasher: std::collections::hash_map::RandomState,
    /// The waits-for graph's nodes: waiting transaction → the key it waits for.
    waiting: Mutex<HashMap<TxnId, Vec<u8>>>,
    /// Serialises deadlock checks.
    detector: Mutex<()>,
}

impl Default for LockManager {
    fn default() -> Self {
        LockManager {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            hasher: Default::default(),
            waiting: Mutex::new(HashMap::new()),
            detector: Mutex::new(()),
        }
    }
}

impl LockManager {
    fn shard(&self, key: &[u8]) -> &Shard {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// Takes the lock on `key` for `txn`, waiting if another transaction holds it. Returns
    /// true if newly acquired, false if `txn` already held it.
    pub fn acquire(&self, key: &[u8], txn: TxnId, policy: &WaitPolicy) -> Result<bool> {
        let shard = self.shard(key);
        let mut locks = shard.locks.lock();
        match locks.get_mut(key) {
            None => {
                locks.insert(
                    key.to_vec(),
                    LockState {
                        holder: txn,
                        waiters: VecDeque::new(),
                    },
                );
                return Ok(true);
            }
            Some(s) if s.holder == txn => return Ok(false),
            Some(s) => s.waiters.push_back(txn),
        }
        MutexGuard::unlocked(&mut locks, || {
            self.waiting.lock().insert(txn, key.to_vec());
        });
        let start = Instant::now();
        let mut checked = false;
        let outcome = loop {
            // Checked under the shard mutex, which `wait_for` releases atomically: a release
            // (which notifies under the same mutex) cannot slip in between.
            if locks.get(key).map(|s| s.holder) == Some(txn) {
                break Ok(true);
            }
            if let Some(flag) = &policy.interrupt {
                if flag.load(Ordering::Relaxed) {
                    break Err(Error::Cancelled("user request".into()));
                }
            }
            if let Some(t) = policy.timeout {
                if start.elapsed() >= t {
                    break Err(Error::LockNotAvailable(
                        "canceling statement due to lock timeout".into(),
                    ));
                }
            }
            if !checked && start.elapsed() >= DEADLOCK_TIMEOUT {
                checked = true;
                if let Some(detail) = MutexGuard::unlocked(&mut locks, || self.detect(txn)) {
                    // The lock may have been granted while we looked.
                    if locks.get(key).map(|s| s.holder) == Some(txn) {
                        break Ok(true);
                    }
                    break Err(Error::Deadlock { detail });
                }
            }
            let mut nap = POLL;
            if let Some(t) = policy.timeout {
                nap = nap.min(t.saturating_sub(start.elapsed()));
            }
            shard.cond.wait_for(&mut locks, nap);
        };
        if outcome.is_err() {
            if let Some(s) = locks.get_mut(key) {
                s.waiters.retain(|&w| w != txn);
            }
        }
        drop(locks);
        self.waiting.lock().remove(&txn);
        if matches!(outcome, Err(Error::Deadlock { .. })) {
            tracing::info!(txn, "deadlock victim");
        }
        outcome
    }

    /// Follows the waits-for chain from `txn`; on a cycle back to `txn`, removes `txn` from the
    /// graph (it is the victim) and describes the cycle as PostgreSQL's DETAIL does.
    fn detect(&self, txn: TxnId) -> Option<String> {
        let _serial = self.detector.lock();
        let mut path = Vec::new();
        let mut cur = txn;
        for _ in 0..1000 {
            let key = self.waiting.lock().get(&cur).cloned()?;
            let holder = self.shard(&key).locks.lock().get(&key).map(|s| s.holder)?;
            path.push((cur, holder));
            if holder == txn {
                self.waiting.lock().remove(&txn);
                let lines: Vec<String> = path
                    .iter()
                    .map(|(w, h)| {
                        format!(
                            "Process {w} waits for ShareLock on transaction {h}; blocked by process {h}."
                        )
                    })
                    .collect();
                return Some(lines.join("\n"));
            }
            if path.iter().any(|(w, _)| *w == holder) {
                return None; // a cycle not involving us: another member will find it
            }
            cur = holder;
        }
        None
    }

    /// Releases `txn`'s lock on `key`, handing it to the first waiter.
    pub fn release(&self, key: &[u8], txn: TxnId) {
        let shard = self.shard(key);
        let mut locks = shard.locks.lock();
        let Some(s) = locks.get_mut(key) else { return };
        if s.holder != txn {
            return;
        }
        match s.waiters.pop_front() {
            Some(next) => {
                s.holder = next;
                shard.cond.notify_all();
            }
            None => {
                locks.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn second_locker_waits_until_release() {
        let lm = Arc::new(LockManager::default());
        assert!(lm.acquire(b"k", 1, &WaitPolicy::default()).unwrap());
        assert!(!lm.acquire(b"k", 1, &WaitPolicy::default()).unwrap());
        let (tx, rx) = mpsc::channel();
        let lm2 = lm.clone();
        std::thread::spawn(move || {
            tx.send(lm2.acquire(b"k", 2, &WaitPolicy::default()))
                .unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        lm.release(b"k", 1);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(true));
    }

    #[test]
    fn timeout_and_cancel_end_a_wait() {
        let lm = LockManager::default();
        lm.acquire(b"k", 1, &WaitPolicy::default()).unwrap();
        let policy = WaitPolicy {
            timeout: Some(Duration::from_millis(100)),
            ..Default::default()
        };
        assert!(matches!(
            lm.acquire(b"k", 2, &policy),
            Err(Error::LockNotAvailable(_))
        ));
        let policy = WaitPolicy {
            interrupt: Some(Arc::new(AtomicBool::new(true))),
            ..Default::default()
        };
        assert!(matches!(
            lm.acquire(b"k", 3, &policy),
            Err(Error::Cancelled(_))
        ));
        // Neither left a waiter behind: release frees the key entirely.
        lm.release(b"k", 1);
        assert!(lm.acquire(b"k", 4, &WaitPolicy::default()).unwrap());
    }

    #[test]
    fn deadlock_fails_exactly_one_waiter() {
        let lm = Arc::new(LockManager::default());
        lm.acquire(b"a", 1, &WaitPolicy::default()).unwrap();
        lm.acquire(b"b", 2, &WaitPolicy::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        for (txn, key) in [(1u64, b"b"), (2u64, b"a")] {
            let lm = lm.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let r = lm.acquire(key, txn, &WaitPolicy::default());
                if r.is_err() {
                    // The victim's transaction ends: its locks go.
                    lm.release(if txn == 1 { b"a" } else { b"b" }, txn);
                }
                tx.send((txn, r)).unwrap();
            });
        }
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let errors = [&first, &second]
            .iter()
            .filter(|(_, r)| matches!(r, Err(Error::Deadlock { .. })))
            .count();
        assert_eq!(errors, 1, "{first:?} {second:?}");
    }
}
