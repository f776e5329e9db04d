//! Row locks: who may write (or pin) a key, and waiting for it.
//!
//! Every write (insert, update, delete, `lock_row`) first locks the row's user key (and
//! unique index values and table names, see `keys.rs`). Locks live only in memory and are held
//! until the transaction ends — after its commit is durable and visible — so a second writer of
//! the same row *waits* for the first, then looks at what it committed. This is PostgreSQL's
//! behaviour (it waits on the holder's transaction id).
//!
//! ```text
//!   shard = hash(key) % 64   Mutex<HashMap<key, LockState { holders: [(txn, mode)], FIFO waiters }>>
//!   release: drop the holder, grant queued requests from the front while compatible
//! ```
//!
//! - Row keys are locked in one of PostgreSQL's four row lock modes ([`RowLockMode`]: FOR KEY
//!   SHARE < FOR SHARE < FOR NO KEY UPDATE < FOR UPDATE) with PostgreSQL's conflict table, so
//!   several readers can share a row (FOR SHARE) and a FOR KEY SHARE (what a foreign key check
//!   takes) does not block updates of non-key columns. Other keys are locked exclusively.
//! - A transaction holds one entry per key with the strongest mode it asked for; asking for a
//!   stronger one upgrades in place, waiting only for the conflicting other holders.
//! - Queueing: a request compatible with every holder is granted at once (as in PostgreSQL,
//!   where a FOR SHARE locker does not wait behind a queued FOR UPDATE while the row is only
//!   share-locked); one that must wait joins a FIFO queue, granted strictly in order on release.
//! - NOWAIT / SKIP LOCKED: a request may refuse to wait (`Acquired::WouldBlock`); the caller
//!   turns that into an error or a skipped row.
//! - Sharded so that writers of different rows never contend on one mutex.
//! - Waiters sleep on the shard's Condvar but wake at least every 50 ms to check the
//!   cancel flag (→ `Error::Cancelled`) and `lock_timeout` (→ `Error::LockNotAvailable`).
//! - Deadlocks: a waiter waits for every holder whose mode conflicts with its request and for
//!   every conflicting request queued ahead of it; those are its edges in the waits-for graph.
//!   As in PostgreSQL, a waiter searches for a cycle through itself once, after waiting its
//!   session's `deadlock_timeout` ([`WaitLimits::deadlock_timeout`], default
//!   [`DEADLOCK_TIMEOUT`]); searches are serialised by one mutex and the victim leaves the graph
//!   before the next search runs, so only one member of a cycle is chosen.
//!
//! Not yet: the lock table grows with the number of rows a transaction writes or locks (a
//! bulk load holds one entry per row until commit; PostgreSQL keeps row locks in the tuple).

use crate::error::{Error, Result};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a waiter waits before checking for a deadlock when its session did not say
/// (PostgreSQL's default `deadlock_timeout`).
pub const DEADLOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a waiter wakes up to check for cancellation and timeouts.
const POLL: Duration = Duration::from_millis(50);
const SHARDS: usize = 64;

pub type TxnId = u64;

/// PostgreSQL's four row lock modes, weakest first. Writers take `Update` (delete, key
/// change) or `NoKeyUpdate` (other updates); `SELECT … FOR <mode>` takes the named one; every
/// other lock key (unique values, table names) is always locked in `Update` mode, i.e.
/// exclusively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowLockMode {
    KeyShare,
    Share,
    NoKeyUpdate,
    Update,
}

impl RowLockMode {
    /// PostgreSQL's conflict table ("Conflicting Row-Level Locks"): which held modes block a
    /// request. It is symmetric, and each mode's conflicts include the weaker modes'
    /// conflicts, which is why holding the stronger of two modes stands for holding both.
    pub fn conflicts(self, other: RowLockMode) -> bool {
        use RowLockMode::*;
        match self {
            KeyShare => other == Update,
            Share => other >= NoKeyUpdate,
            NoKeyUpdate => other >= Share,
            Update => true,
        }
    }
}

struct LockState {
    /// Transactions holding the lock, each with the strongest mode it asked for.
    holders: Vec<(TxnId, RowLockMode)>,
    /// Queued requests, first come first served.
    waiters: VecDeque<(TxnId, RowLockMode)>,
}

impl LockState {
    fn held_by(&self, txn: TxnId) -> Option<RowLockMode> {
        self.holders
            .iter()
            .find(|(t, _)| *t == txn)
            .map(|(_, m)| *m)
    }

    /// Whether `txn` could hold `mode` alongside the other holders.
    fn compatible(&self, txn: TxnId, mode: RowLockMode) -> bool {
        self.holders
            .iter()
            .all(|(t, m)| *t == txn || !mode.conflicts(*m))
    }

    fn grant(&mut self, txn: TxnId, mode: RowLockMode) {
        match self.holders.iter_mut().find(|(t, _)| *t == txn) {
            Some((_, m)) => *m = (*m).max(mode),
            None => self.holders.push((txn, mode)),
        }
    }

    /// Grants queued requests from the front while they are compatible (FIFO: a request
    /// never overtakes an earlier one that still has to wait).
    fn grant_waiters(&mut self) -> bool {
        let mut granted = false;
        while let Some(&(txn, mode)) = self.waiters.front() {
            if !self.compatible(txn, mode) {
                break;
            }
            self.waiters.pop_front();
            self.grant(txn, mode);
            granted = true;
        }
        granted
    }
}

#[derive(Default)]
struct Shard {
    locks: Mutex<HashMap<Vec<u8>, LockState>>,
    cond: Condvar,
}

/// What may end a wait early.
#[derive(Default, Clone)]
pub struct WaitLimits {
    pub interrupt: Option<Arc<AtomicBool>>,
    pub timeout: Option<Duration>,
    /// How long to wait before searching for a deadlock (the session's `deadlock_timeout`);
    /// `None` means [`DEADLOCK_TIMEOUT`]. Sessions in a cycle with different values make the
    /// one with the shorter delay the victim, as in PostgreSQL: it searches first.
    pub deadlock_timeout: Option<Duration>,
}

/// The result of a lock request.
#[derive(Debug, PartialEq, Eq)]
pub enum Acquired {
    /// Newly taken: the caller must release it when the transaction ends.
    New,
    /// Already held in this mode or a stronger one (or upgraded in place).
    Held,
    /// Not free and the caller asked not to wait (NOWAIT / SKIP LOCKED).
    WouldBlock,
}

pub struct LockManager {
    shards: Vec<Shard>,
    hasher: std::collections::hash_map::RandomState,
    /// The waits-for graph's nodes: waiting transaction → the key and mode it waits for.
    waiting: Mutex<HashMap<TxnId, (Vec<u8>, RowLockMode)>>,
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

    #[cfg(test)]
    /// Takes the lock on `key` exclusively for `txn`, waiting if another transaction holds
    /// it. Returns true if newly acquired, false if `txn` already held it.
    pub fn acquire(&self, key: &[u8], txn: TxnId, limits: &WaitLimits) -> Result<bool> {
        Ok(self.acquire_mode(key, txn, RowLockMode::Update, limits, true)? == Acquired::New)
    }

    /// Takes the lock on `key` in `mode`. If it conflicts with a holder (or an earlier
    /// queued request), waits when `wait` is true, else returns `Acquired::WouldBlock`.
    /// A holder asking for a stronger mode upgrades (waiting for the other holders only).
    pub fn acquire_mode(
        &self,
        key: &[u8],
        txn: TxnId,
        mode: RowLockMode,
        limits: &WaitLimits,
        wait: bool,
    ) -> Result<Acquired> {
        let shard = self.shard(key);
        let mut locks = shard.locks.lock();
        let had = match locks.get_mut(key) {
            None => {
                locks.insert(
                    key.to_vec(),
                    LockState {
                        holders: vec![(txn, mode)],
                        waiters: VecDeque::new(),
                    },
                );
                return Ok(Acquired::New);
            }
            Some(s) => {
                let had = s.held_by(txn);
                if had.is_some_and(|m| m >= mode) {
                    return Ok(Acquired::Held);
                }
                // Compatible with every holder: granted at once, even past queued requests
                // (PostgreSQL only queues a row locker that has to wait).
                if s.compatible(txn, mode) {
                    s.grant(txn, mode);
                    return Ok(if had.is_some() {
                        Acquired::Held
                    } else {
                        Acquired::New
                    });
                }
                if !wait {
                    return Ok(Acquired::WouldBlock);
                }
                if had.is_some() {
                    s.waiters.push_front((txn, mode));
                } else {
                    s.waiters.push_back((txn, mode));
                }
                had
            }
        };
        MutexGuard::unlocked(&mut locks, || {
            self.waiting.lock().insert(txn, (key.to_vec(), mode));
        });
        let granted = |locks: &HashMap<Vec<u8>, LockState>| {
            locks
                .get(key)
                .and_then(|s| s.held_by(txn))
                .is_some_and(|m| m >= mode)
        };
        let start = Instant::now();
        let deadlock_after = limits.deadlock_timeout.unwrap_or(DEADLOCK_TIMEOUT);
        let mut checked = false;
        let outcome = loop {
            // Checked under the shard mutex, which `wait_for` releases atomically: a release
            // (which notifies under the same mutex) cannot slip in between.
            if granted(&locks) {
                break Ok(if had.is_some() {
                    Acquired::Held
                } else {
                    Acquired::New
                });
            }
            if let Some(flag) = &limits.interrupt {
                if flag.load(Ordering::Relaxed) {
                    break Err(Error::Cancelled("user request".into()));
                }
            }
            if let Some(t) = limits.timeout {
                if start.elapsed() >= t {
                    break Err(Error::LockNotAvailable(
                        "canceling statement due to lock timeout".into(),
                    ));
                }
            }
            if !checked && start.elapsed() >= deadlock_after {
                checked = true;
                if let Some(detail) = MutexGuard::unlocked(&mut locks, || self.detect(txn)) {
                    // The lock may have been granted while we looked.
                    if granted(&locks) {
                        break Ok(if had.is_some() {
                            Acquired::Held
                        } else {
                            Acquired::New
                        });
                    }
                    break Err(Error::Deadlock { detail });
                }
            }
            let mut nap = POLL;
            if let Some(t) = limits.timeout {
                nap = nap.min(t.saturating_sub(start.elapsed()));
            }
            if !checked {
                nap = nap.min(deadlock_after.saturating_sub(start.elapsed()));
            }
            shard.cond.wait_for(&mut locks, nap);
        };
        if outcome.is_err() {
            if let Some(s) = locks.get_mut(key) {
                s.waiters.retain(|&(w, _)| w != txn);
                // Requests queued behind ours may be grantable now.
                if s.grant_waiters() {
                    shard.cond.notify_all();
                }
            }
        }
        drop(locks);
        self.waiting.lock().remove(&txn);
        if matches!(outcome, Err(Error::Deadlock { .. })) {
            tracing::info!(txn, "deadlock victim");
        }
        outcome
    }

    /// The transactions `txn` waits for: holders of its key in a conflicting mode, and
    /// conflicting requests queued ahead of it.
    fn waits_for(&self, txn: TxnId) -> Vec<TxnId> {
        let Some((key, mode)) = self.waiting.lock().get(&txn).cloned() else {
            return Vec::new();
        };
        let locks = self.shard(&key).locks.lock();
        let Some(s) = locks.get(&key) else {
            return Vec::new();
        };
        let mut out: Vec<TxnId> = s
            .holders
            .iter()
            .filter(|(t, m)| *t != txn && mode.conflicts(*m))
            .map(|(t, _)| *t)
            .collect();
        for &(t, m) in &s.waiters {
            if t == txn {
                break;
            }
            if mode.conflicts(m) {
                out.push(t);
            }
        }
        out
    }

    /// Searches the waits-for graph from `txn`; on a cycle back to `txn`, removes `txn` from
    /// the graph (it is the victim) and describes the cycle as PostgreSQL's DETAIL does.
    fn detect(&self, txn: TxnId) -> Option<String> {
        let _serial = self.detector.lock();
        // Depth-first, remembering each node's parent to print the cycle.
        let mut parent: HashMap<TxnId, TxnId> = HashMap::new();
        let mut stack = vec![txn];
        let mut seen = std::collections::HashSet::from([txn]);
        let mut steps = 0;
        while let Some(cur) = stack.pop() {
            steps += 1;
            if steps > 10_000 {
                return None;
            }
            for next in self.waits_for(cur) {
                if next == txn {
                    self.waiting.lock().remove(&txn);
                    let mut path = vec![(cur, txn)];
                    let mut at = cur;
                    while at != txn {
                        let p = parent[&at];
                        path.push((p, at));
                        at = p;
                    }
                    path.reverse();
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
                if seen.insert(next) {
                    parent.insert(next, cur);
                    stack.push(next);
                }
            }
        }
        None
    }

    /// Releases `txn`'s lock on `key`, granting queued requests that became compatible.
    pub fn release(&self, key: &[u8], txn: TxnId) {
        let shard = self.shard(key);
        let mut locks = shard.locks.lock();
        let Some(s) = locks.get_mut(key) else { return };
        let before = s.holders.len();
        s.holders.retain(|(t, _)| *t != txn);
        if s.holders.len() == before {
            return;
        }
        if s.grant_waiters() {
            shard.cond.notify_all();
        }
        if s.holders.is_empty() && s.waiters.is_empty() {
            locks.remove(key);
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
        assert!(lm.acquire(b"k", 1, &WaitLimits::default()).unwrap());
        assert!(!lm.acquire(b"k", 1, &WaitLimits::default()).unwrap());
        let (tx, rx) = mpsc::channel();
        let lm2 = lm.clone();
        std::thread::spawn(move || {
            tx.send(lm2.acquire(b"k", 2, &WaitLimits::default()))
                .unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        lm.release(b"k", 1);
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), Ok(true));
    }

    #[test]
    fn timeout_and_cancel_end_a_wait() {
        let lm = LockManager::default();
        lm.acquire(b"k", 1, &WaitLimits::default()).unwrap();
        let policy = WaitLimits {
            timeout: Some(Duration::from_millis(100)),
            ..Default::default()
        };
        assert!(matches!(
            lm.acquire(b"k", 2, &policy),
            Err(Error::LockNotAvailable(_))
        ));
        let policy = WaitLimits {
            interrupt: Some(Arc::new(AtomicBool::new(true))),
            ..Default::default()
        };
        assert!(matches!(
            lm.acquire(b"k", 3, &policy),
            Err(Error::Cancelled(_))
        ));
        // Neither left a waiter behind: release frees the key entirely.
        lm.release(b"k", 1);
        assert!(lm.acquire(b"k", 4, &WaitLimits::default()).unwrap());
    }

    #[test]
    fn deadlock_fails_exactly_one_waiter() {
        let lm = Arc::new(LockManager::default());
        lm.acquire(b"a", 1, &WaitLimits::default()).unwrap();
        lm.acquire(b"b", 2, &WaitLimits::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        for (txn, key) in [(1u64, b"b"), (2u64, b"a")] {
            let lm = lm.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let r = lm.acquire(key, txn, &WaitLimits::default());
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

    #[test]
    fn shorter_deadlock_timeout_picks_the_victim() {
        // Txn 1 searches after 5 s, txn 2 after 50 ms: txn 2 must be the victim, and quickly.
        let lm = Arc::new(LockManager::default());
        lm.acquire(b"a", 1, &WaitLimits::default()).unwrap();
        lm.acquire(b"b", 2, &WaitLimits::default()).unwrap();
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        for (txn, key, delay) in [(1u64, b"b", 5000u64), (2u64, b"a", 50u64)] {
            let lm = lm.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let limits = WaitLimits {
                    deadlock_timeout: Some(Duration::from_millis(delay)),
                    ..Default::default()
                };
                let r = lm.acquire(key, txn, &limits);
                if r.is_err() {
                    lm.release(if txn == 1 { b"a" } else { b"b" }, txn);
                }
                tx.send((txn, r)).unwrap();
            });
        }
        let (victim, r) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(victim, 2);
        assert!(matches!(r, Err(Error::Deadlock { .. })), "{r:?}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let (survivor, r) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(survivor, 1);
        assert!(r.unwrap());
    }
}
