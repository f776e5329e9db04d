//! Serializable snapshot isolation (SSI): how SERIALIZABLE is enforced on top of snapshots.
//!
//! Snapshot isolation (our REPEATABLE READ) already prevents every anomaly except those built
//! from *read-write antidependencies*: T1 reads a version and a concurrent T2 writes a newer
//! one that T1 did not see, so T1 must come before T2 in any serial order (`T1 --rw--> T2`).
//! Fekete et al. showed that every non-serializable history under snapshot isolation contains
//! a *dangerous structure*: two consecutive rw edges between concurrent transactions
//!
//! ```text
//!     T1 --rw--> T2 --rw--> T3        (T2 is the "pivot"; T1 may be T3)
//! ```
//!
//! and Cahill et al. turned that into an algorithm: track rw edges, abort someone when a
//! dangerous structure appears. Ports & Grittner (PostgreSQL) added the refinements used here:
//! the structure only matters if **T3 commits first**; if T1 is read-only it only matters if
//! T3 committed **before T1's snapshot**; and read-only transactions whose snapshot is *safe*
//! stop tracking altogether.
//!
//! # Finding rw edges
//!
//! An rw edge is found from whichever side acts second:
//!
//! - **Write after read.** Reads leave *SIREAD markers* that never block anyone: a point read
//!   marks the key (also when nothing was found: the marker is a predicate "key = k"), a range
//!   scan marks the byte range it asked for (so a later insert into it — a phantom — is seen),
//!   a full scan marks the whole table. Markers live per *space* (one table's rows, or one
//!   index; see `keys::space_len`) in three forms: whole-space, point (a map) and range (a
//!   short list per space). A serializable writer looks up, for every key it writes (rows,
//!   index entries, tombstones, hidden row ids alike), the markers covering it: each concurrent
//!   owner R gives `R --rw--> writer`.
//! - **Read after write.** A reader that meets a *committed* version newer than its snapshot
//!   (the MVCC scan reports each one it skips) learns `reader --rw--> writer` from the
//!   version's commit timestamp. A reader that meets an *uncommitted* write cannot see it
//!   (writes live in the writer's private buffer), so serializable writers also register the
//!   keys they wrote in a shared write set until they commit; reads check it.
//!
//! Markers and write-set entries are coarsened past a per-transaction, per-space limit into a
//! whole-space marker (PostgreSQL promotes tuple locks to page and relation locks the same
//! way), which bounds memory at the price of false conflicts.
//!
//! # Deciding who aborts
//!
//! Every registered transaction ([`Sxact`]) keeps its in- and out-edges. Ordering uses one
//! logical clock: the snapshot records the clock (`snapshot_seq`), the pre-commit check bumps it
//! (`prepare_seq`, taken before the commit becomes visible) and so does the end of commit
//! (`commit_seq`, after it became visible). "T3 committed before X's snapshot" is tested as
//! `T3.prepare_seq <= X.snapshot_seq`, which errs towards seeing a danger, never away.
//!
//! - When an edge `R --rw--> W` is added: danger if W has an out-edge to a T3 that committed
//!   first (before R and W, and before R's snapshot if R is read-only), or if W has committed
//!   and R has an in-edge from a T0 that had not committed when W did (R being the pivot).
//!   The victim is W if it is still running (aborting now if W is us, else it is *doomed* and
//!   fails at its next read, write or commit); a prepared W cannot be aborted, so the reader
//!   (us) fails instead.
//! - At commit (our transaction would be T3, committing first): every running pivot T2 with
//!   `T2 --rw--> us` and a running read-write T1 (or us) with `T1 --rw--> T2` is doomed; if T2
//!   is already committing we abort ourselves instead.
//! - A committed transaction never aborts; doomed ones are skipped when others look for
//!   dangers (they will not commit).
//!
//! # Forgetting
//!
//! A committed transaction's markers and edges are needed while a transaction that was
//! concurrent with it still runs. When the oldest running snapshot is newer than its commit it
//! is dropped; an out-edge it leaves behind on a retained partner is summarised as
//! `summary_out` (the earliest such partner's prepare sequence), which is all the checks need
//! (PostgreSQL's "summary conflict out"). Aborted transactions vanish at once.
//!
//! # Read-only transactions
//!
//! A READ ONLY serializable transaction records, at its snapshot, the read-write serializable
//! transactions still running (`possible_unsafe`). If there are none its snapshot is *safe*: it
//! can never be part of an anomaly, so it is not tracked at all. Otherwise, as each of them
//! commits without an out-edge to a transaction that committed before our snapshot (or
//! aborts), it is crossed off; when the list is empty the transaction becomes safe and its
//! tracking is dropped. One committing *with* such an edge makes the snapshot unsafe for good.
//! READ ONLY DEFERRABLE waits at its snapshot until it is known safe (retrying with a new
//! snapshot when it turns out unsafe), then runs untracked and never fails.
//!
//! A long-running transaction would keep every concurrent committed one alive, so past
//! `MAX_RETAINED` the oldest committed transactions are folded into one [`Summary`]
//! (PostgreSQL's OldCommittedSxact): the spaces they read become whole-space markers of the
//! summary, their commit timestamps a range ("a skipped version at or below `max_ts` of an
//! unknown writer is theirs"), their edges flags on the partners (`summary_in`,
//! `summary_out`). Every check against the summary uses the extreme sequence numbers, so it
//! can only produce more failures, never fewer. The summary is dropped once no running
//! transaction overlaps any of them.
//!
//! Only serializable transactions take part, as in PostgreSQL: a READ COMMITTED writer creates
//! no edges.

use crate::error::{Error, Result};
use crate::keycode::prefix_successor;
use crate::keys;
use crate::lock::{TxnId, WaitLimits};
use parking_lot::{Condvar, Mutex};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Point markers one transaction keeps in one space before they become a whole-space marker.
const POINT_LIMIT: usize = 1024;
/// Range markers one transaction keeps in one space before they become a whole-space marker.
const RANGE_LIMIT: usize = 32;
/// Write-set keys one transaction keeps in one space before they become a whole-space entry.
const WRITE_LIMIT: usize = 4096;
/// Committed transactions kept individually; older ones are folded into the summary.
const MAX_RETAINED: usize = 2048;

/// Markers and uncommitted writes in one space (one table's rows or one index).
#[derive(Default)]
struct Space {
    whole: HashSet<TxnId>,
    points: HashMap<Vec<u8>, Vec<TxnId>>,
    ranges: Vec<(Range<Vec<u8>>, TxnId)>,
    writes: BTreeMap<Vec<u8>, Vec<TxnId>>,
    whole_writes: HashSet<TxnId>,
}

/// What one transaction has put into one space (so it can be taken out again).
#[derive(Default)]
struct SpaceUse {
    whole: bool,
    points: Vec<Vec<u8>>,
    ranges: usize,
    whole_write: bool,
    writes: Vec<Vec<u8>>,
}

/// A serializable transaction as SSI sees it.
struct Sxact {
    snapshot_seq: u64,
    /// Declared READ ONLY.
    read_only: bool,
    wrote: bool,
    prepare_seq: Option<u64>,
    commit_seq: Option<u64>,
    /// The engine's commit timestamp, if it committed writes.
    commit_ts: Option<u64>,
    doomed: bool,
    /// Transactions with an edge to us (`them --rw--> us`).
    ins: HashSet<TxnId>,
    /// Transactions we have an edge to (`us --rw--> them`).
    outs: HashSet<TxnId>,
    /// The earliest prepare sequence among forgotten out-edge partners.
    summary_out: Option<u64>,
    /// An in-edge from a summarised (forgotten) committed transaction.
    summary_in: bool,
    spaces: HashMap<Vec<u8>, SpaceUse>,
    /// Read-only only, while its safety is undecided: read-write transactions that could still
    /// make its snapshot unsafe. `None` once decided unsafe (or for read-write ones).
    possible_unsafe: Option<HashSet<TxnId>>,
}

impl Sxact {
    /// Declared read-only, or committed without writing (PostgreSQL counts both).
    fn is_read_only(&self) -> bool {
        self.read_only || (self.commit_seq.is_some() && !self.wrote)
    }
}

struct State {
    clock: u64,
    sxacts: HashMap<TxnId, Sxact>,
    spaces: HashMap<Vec<u8>, Space>,
    /// Registered, not yet committed: (snapshot_seq, id).
    running: BTreeSet<(u64, TxnId)>,
    /// Committed and retained, in commit order: (commit_seq, id).
    committed: VecDeque<(u64, TxnId)>,
    by_commit_ts: HashMap<u64, TxnId>,
    /// Committed transactions folded together to bound memory (see [`Summary`]).
    summary: Option<Summary>,
    max_retained: usize,
}

/// Committed transactions summarised into one pseudo-transaction when too many are retained
/// (PostgreSQL's OldCommittedSxact): their read markers become whole-space markers, and the
/// sequence numbers kept are the extremes that make every check err towards a conflict.
struct Summary {
    /// Spaces any of them read.
    read_spaces: HashSet<Vec<u8>>,
    min_prepare: u64,
    max_commit: u64,
    /// The newest commit timestamp among them: a skipped version at or below it whose writer
    /// is not known individually is taken to be theirs.
    max_ts: u64,
    /// The earliest prepare sequence of a transaction any of them had an out-edge to.
    min_out: Option<u64>,
}

/// The SSI bookkeeping of one store (one mutex: every call is short and does no I/O).
#[derive(Default)]
pub struct Ssi {
    state: Mutex<State>,
    changed: Condvar,
}

fn failure(reason: String) -> Error {
    Error::Serialization {
        message: "could not serialize access due to read/write dependencies among transactions"
            .into(),
        detail: Some(format!("Reason code: {reason}.")),
        hint: Some("The transaction might succeed if retried.".into()),
    }
}

fn space_of(key: &[u8]) -> Option<&[u8]> {
    keys::space_len(key).map(|n| &key[..n])
}

impl Default for State {
    fn default() -> Self {
        State {
            clock: 0,
            sxacts: HashMap::new(),
            spaces: HashMap::new(),
            running: BTreeSet::new(),
            committed: VecDeque::new(),
            by_commit_ts: HashMap::new(),
            summary: None,
            max_retained: MAX_RETAINED,
        }
    }
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn check_doomed(&self, id: TxnId, place: &str) -> Result<bool> {
        match self.sxacts.get(&id) {
            None => Ok(false),
            Some(sx) if sx.doomed => Err(failure(format!(
                "Canceled on identification as a pivot, during {place}"
            ))),
            Some(_) => Ok(true),
        }
    }

    /// Would the new edge `r --rw--> w` complete a dangerous structure?
    fn dangerous(&self, r_id: TxnId, w_id: TxnId) -> bool {
        let (Some(r), Some(w)) = (self.sxacts.get(&r_id), self.sxacts.get(&w_id)) else {
            return false;
        };
        // r --rw--> w --rw--> t3, t3 committed first.
        let t3_prepared = w
            .outs
            .iter()
            .filter_map(|t| self.sxacts.get(t))
            .filter(|t| !t.doomed)
            .filter_map(|t| t.prepare_seq)
            .chain(w.summary_out);
        for p in t3_prepared {
            if r.commit_seq.is_none_or(|c| p <= c)
                && w.commit_seq.is_none_or(|c| p <= c)
                && (!r.is_read_only() || p <= r.snapshot_seq)
            {
                return true;
            }
        }
        // t0 --rw--> r --rw--> w, w committed first.
        if let Some(wp) = w.prepare_seq {
            if !r.is_read_only() {
                if r.summary_in {
                    return true;
                }
                for t0 in r.ins.iter().filter_map(|t| self.sxacts.get(t)) {
                    if !t0.doomed
                        && t0.commit_seq.is_none_or(|c| c >= wp)
                        && (!t0.is_read_only() || t0.snapshot_seq >= wp)
                    {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Records `r --rw--> w`, first checking for a dangerous structure. `me` is the caller.
    fn flag(&mut self, r: TxnId, w: TxnId, me: TxnId) -> Result<()> {
        if r == w {
            return Ok(());
        }
        match (self.sxacts.get(&r), self.sxacts.get(&w)) {
            (Some(rs), Some(ws)) if !rs.doomed && !ws.doomed => {
                if rs.outs.contains(&w) {
                    return Ok(());
                }
            }
            _ => return Ok(()),
        }
        if self.dangerous(r, w) {
            let w_prepared = self.sxacts.get(&w).is_some_and(|s| s.prepare_seq.is_some());
            if w == me {
                return Err(failure(
                    "Canceled on identification as a pivot, during write".into(),
                ));
            } else if w_prepared {
                return Err(failure(format!(
                    "Canceled on conflict out to pivot {w}, during read"
                )));
            }
            if let Some(ws) = self.sxacts.get_mut(&w) {
                ws.doomed = true;
                tracing::debug!(txn = w, "doomed by SSI");
            }
        }
        if let Some(rs) = self.sxacts.get_mut(&r) {
            rs.outs.insert(w);
        }
        if let Some(ws) = self.sxacts.get_mut(&w) {
            ws.ins.insert(r);
        }
        Ok(())
    }

    /// Turns `id`'s point and range markers in `space` into one whole-space marker.
    fn promote_reads(&mut self, id: TxnId, space: &[u8]) {
        let Some(sx) = self.sxacts.get_mut(&id) else {
            return;
        };
        let Some(u) = sx.spaces.get_mut(space) else {
            return;
        };
        let points = std::mem::take(&mut u.points);
        u.ranges = 0;
        u.whole = true;
        let sp = self.spaces.entry(space.to_vec()).or_default();
        for p in points {
            if let Some(ids) = sp.points.get_mut(&p) {
                ids.retain(|&t| t != id);
                if ids.is_empty() {
                    sp.points.remove(&p);
                }
            }
        }
        sp.ranges.retain(|(_, t)| *t != id);
        sp.whole.insert(id);
    }

    /// Removes every marker and write-set entry of `id`.
    fn remove_markers(&mut self, id: TxnId, uses: HashMap<Vec<u8>, SpaceUse>) {
        for (space, u) in uses {
            let Some(sp) = self.spaces.get_mut(&space) else {
                continue;
            };
            if u.whole {
                sp.whole.remove(&id);
            }
            for p in u.points {
                if let Some(ids) = sp.points.get_mut(&p) {
                    ids.retain(|&t| t != id);
                    if ids.is_empty() {
                        sp.points.remove(&p);
                    }
                }
            }
            if u.ranges > 0 {
                sp.ranges.retain(|(_, t)| *t != id);
            }
            Self::remove_writes(sp, id, u.whole_write, u.writes);
            if sp.whole.is_empty()
                && sp.points.is_empty()
                && sp.ranges.is_empty()
                && sp.writes.is_empty()
                && sp.whole_writes.is_empty()
            {
                self.spaces.remove(&space);
            }
        }
    }

    fn remove_writes(sp: &mut Space, id: TxnId, whole: bool, writes: Vec<Vec<u8>>) {
        if whole {
            sp.whole_writes.remove(&id);
        }
        for k in writes {
            if let Some(ids) = sp.writes.get_mut(&k) {
                ids.retain(|&t| t != id);
                if ids.is_empty() {
                    sp.writes.remove(&k);
                }
            }
        }
    }

    /// Forgets `id` entirely (abort, or a read-only transaction that became safe, or a
    /// committed one nobody concurrent remains for). Out-edges of retained partners to a
    /// committed `id` are summarised.
    fn remove(&mut self, id: TxnId) {
        let Some(mut sx) = self.sxacts.remove(&id) else {
            return;
        };
        self.running.remove(&(sx.snapshot_seq, id));
        let uses = std::mem::take(&mut sx.spaces);
        self.remove_markers(id, uses);
        for p in &sx.ins {
            if let Some(ps) = self.sxacts.get_mut(p) {
                ps.outs.remove(&id);
                if sx.commit_seq.is_some() {
                    if let Some(prep) = sx.prepare_seq {
                        ps.summary_out = Some(ps.summary_out.map_or(prep, |s| s.min(prep)));
                    }
                }
            }
        }
        for p in &sx.outs {
            if let Some(ps) = self.sxacts.get_mut(p) {
                ps.ins.remove(&id);
            }
        }
        if let Some(ts) = sx.commit_ts {
            self.by_commit_ts.remove(&ts);
        }
        // Read-only transactions waiting on us: an abort (or our removal) crosses us off.
        self.resolve_read_only(id, None);
    }

    /// `writer` committed (with `earliest_out` = the earliest commit/prepare sequence of a
    /// transaction it has an out-edge to) or went away (`None`): update the read-only
    /// transactions whose safety depended on it.
    fn resolve_read_only(&mut self, writer: TxnId, earliest_out: Option<u64>) {
        let waiting: Vec<TxnId> = self
            .sxacts
            .iter()
            .filter(|(_, s)| {
                s.possible_unsafe
                    .as_ref()
                    .is_some_and(|p| p.contains(&writer))
            })
            .map(|(&id, _)| id)
            .collect();
        for ro in waiting {
            let Some(sx) = self.sxacts.get_mut(&ro) else {
                continue;
            };
            if earliest_out.is_some_and(|e| e <= sx.snapshot_seq) {
                sx.possible_unsafe = None;
                tracing::debug!(txn = ro, "read-only snapshot is unsafe");
                continue;
            }
            let now_safe = sx.possible_unsafe.as_mut().is_some_and(|p| {
                p.remove(&writer);
                p.is_empty()
            });
            if now_safe {
                tracing::debug!(txn = ro, "read-only snapshot became safe");
                self.remove(ro);
            }
        }
    }

    /// Drops committed transactions that no running transaction overlaps.
    fn cleanup(&mut self) {
        let oldest = self.running.first().map_or(u64::MAX, |(s, _)| *s);
        while let Some(&(seq, id)) = self.committed.front() {
            if seq > oldest {
                break;
            }
            self.committed.pop_front();
            self.remove(id);
        }
        while self.committed.len() > self.max_retained {
            let Some((_, id)) = self.committed.pop_front() else {
                break;
            };
            self.summarise(id);
        }
        if self
            .summary
            .as_ref()
            .is_some_and(|s| s.max_commit <= oldest)
        {
            self.summary = None;
        }
    }

    /// Folds the committed transaction `id` into the summary and forgets it.
    fn summarise(&mut self, id: TxnId) {
        let Some(sx) = self.sxacts.get(&id) else {
            return;
        };
        let (Some(prepare), Some(commit)) = (sx.prepare_seq, sx.commit_seq) else {
            return;
        };
        let read_spaces: Vec<Vec<u8>> = sx
            .spaces
            .iter()
            .filter(|(_, u)| u.whole || !u.points.is_empty() || u.ranges > 0)
            .map(|(space, _)| space.clone())
            .collect();
        let out = sx
            .outs
            .iter()
            .filter_map(|t| self.sxacts.get(t))
            .filter_map(|t| t.prepare_seq)
            .chain(sx.summary_out)
            .min();
        let outs: Vec<TxnId> = sx.outs.iter().copied().collect();
        let ts = sx.commit_ts.unwrap_or(0);
        let summary = self.summary.get_or_insert_with(|| Summary {
            read_spaces: HashSet::new(),
            min_prepare: prepare,
            max_commit: commit,
            max_ts: ts,
            min_out: None,
        });
        summary.read_spaces.extend(read_spaces);
        summary.min_prepare = summary.min_prepare.min(prepare);
        summary.max_commit = summary.max_commit.max(commit);
        summary.max_ts = summary.max_ts.max(ts);
        summary.min_out = match (summary.min_out, out) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for t in outs {
            if let Some(ts) = self.sxacts.get_mut(&t) {
                ts.summary_in = true;
            }
        }
        // Partners with an edge to `id` get their summary_out here.
        self.remove(id);
    }

    /// `r` skipped a version written by a summarised transaction: `r --rw--> summary`.
    fn flag_summary_out(&mut self, r_id: TxnId) -> Result<()> {
        let (Some(sum), Some(r)) = (&self.summary, self.sxacts.get(&r_id)) else {
            return Ok(());
        };
        // The summary as pivot (r --rw--> S --rw--> T3), or r as pivot (T0 --rw--> r --rw--> S),
        // both with the extremes that favour a conflict.
        let mut danger = sum
            .min_out
            .is_some_and(|p| !r.is_read_only() || p <= r.snapshot_seq);
        if !danger && !r.is_read_only() {
            danger = r.summary_in
                || r.ins.iter().filter_map(|t| self.sxacts.get(t)).any(|t0| {
                    !t0.doomed
                        && t0.commit_seq.is_none_or(|c| c >= sum.min_prepare)
                        && (!t0.is_read_only() || t0.snapshot_seq >= sum.min_prepare)
                });
        }
        if danger {
            return Err(failure(
                "Canceled on conflict out to old pivot, during read".into(),
            ));
        }
        let p = sum.min_prepare;
        if let Some(r) = self.sxacts.get_mut(&r_id) {
            r.summary_out = Some(r.summary_out.map_or(p, |s| s.min(p)));
        }
        Ok(())
    }

    /// `w` wrote into a space a summarised transaction read: `summary --rw--> w`.
    fn flag_summary_in(&mut self, w_id: TxnId) -> Result<()> {
        let (Some(sum), Some(w)) = (&self.summary, self.sxacts.get(&w_id)) else {
            return Ok(());
        };
        if w.snapshot_seq >= sum.max_commit {
            return Ok(()); // none of them was concurrent with w
        }
        let max_commit = sum.max_commit;
        let t3_first = w
            .outs
            .iter()
            .filter_map(|t| self.sxacts.get(t))
            .filter(|t| !t.doomed)
            .filter_map(|t| t.prepare_seq)
            .chain(w.summary_out)
            .any(|p| p <= max_commit);
        if t3_first {
            return Err(failure(
                "Canceled on identification as a pivot, during write".into(),
            ));
        }
        if let Some(w) = self.sxacts.get_mut(&w_id) {
            w.summary_in = true;
        }
        Ok(())
    }
}

impl Ssi {
    /// Registers a serializable transaction at its snapshot; `take_ts` takes the snapshot's
    /// read timestamp (under our mutex, so the clock and the snapshot agree). Returns the read
    /// timestamp. A read-only transaction with a safe snapshot is not registered.
    pub fn begin(&self, id: TxnId, read_only: bool, take_ts: impl FnOnce() -> u64) -> u64 {
        let mut st = self.state.lock();
        Self::register(&mut st, id, read_only, take_ts)
    }

    fn register(st: &mut State, id: TxnId, read_only: bool, take_ts: impl FnOnce() -> u64) -> u64 {
        let ts = take_ts();
        if st.sxacts.contains_key(&id) {
            return ts; // registered already (by another handle of the same transaction)
        }
        let possible_unsafe = if read_only {
            let others: HashSet<TxnId> = st
                .sxacts
                .iter()
                .filter(|(_, s)| s.commit_seq.is_none() && !s.doomed && !s.read_only)
                .map(|(&t, _)| t)
                .collect();
            if others.is_empty() {
                return ts; // safe from the start: never tracked
            }
            Some(others)
        } else {
            None
        };
        let snapshot_seq = st.clock;
        st.sxacts.insert(
            id,
            Sxact {
                snapshot_seq,
                read_only,
                wrote: false,
                prepare_seq: None,
                commit_seq: None,
                commit_ts: None,
                doomed: false,
                ins: HashSet::new(),
                outs: HashSet::new(),
                summary_out: None,
                summary_in: false,
                spaces: HashMap::new(),
                possible_unsafe,
            },
        );
        st.running.insert((snapshot_seq, id));
        ts
    }

    /// READ ONLY DEFERRABLE: takes snapshots until one is safe, waiting for the concurrent
    /// read-write transactions to finish. The transaction is then untracked.
    pub fn begin_deferrable(
        &self,
        id: TxnId,
        take_ts: impl Fn() -> u64,
        policy: &WaitLimits,
    ) -> Result<u64> {
        let mut st = self.state.lock();
        loop {
            let ts = Self::register(&mut st, id, true, &take_ts);
            loop {
                match st.sxacts.get(&id) {
                    None => return Ok(ts),                             // safe
                    Some(sx) if sx.possible_unsafe.is_none() => break, // unsafe: retry
                    Some(_) => {}
                }
                let interrupted = policy
                    .interrupt
                    .as_ref()
                    .is_some_and(|f| f.load(Ordering::Relaxed));
                // Like PostgreSQL, lock_timeout does not apply to this wait; a cancel request
                // (or statement_timeout, which the planner turns into one) does.
                if interrupted {
                    st.remove(id);
                    st.cleanup();
                    return Err(Error::Cancelled("user request".into()));
                }
                self.changed.wait_for(&mut st, Duration::from_millis(50));
            }
            st.remove(id);
            st.cleanup();
        }
    }

    /// A read of one key (found or not).
    pub fn read_key(&self, id: TxnId, key: &[u8]) -> Result<()> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if !st.check_doomed(id, "conflict out checking")? {
            return Ok(());
        }
        let Some(space) = space_of(key) else {
            return Ok(());
        };
        let space = space.to_vec();
        let mut promote = false;
        if let Some(sx) = st.sxacts.get_mut(&id) {
            let u = sx.spaces.entry(space.clone()).or_default();
            if !u.whole {
                let sp = st.spaces.entry(space.clone()).or_default();
                let ids = sp.points.entry(key.to_vec()).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                    u.points.push(key.to_vec());
                    promote = u.points.len() > POINT_LIMIT;
                }
            }
        }
        if promote {
            st.promote_reads(id, &space);
        }
        let writers: Vec<TxnId> = match st.spaces.get(&space) {
            Some(sp) => sp
                .whole_writes
                .iter()
                .chain(sp.writes.get(key).into_iter().flatten())
                .copied()
                .collect(),
            None => Vec::new(),
        };
        for w in writers {
            st.flag(id, w, id)?;
        }
        Ok(())
    }

    /// A scan of the user keys in `range` (all within one space).
    pub fn read_range(&self, id: TxnId, range: &Range<Vec<u8>>) -> Result<()> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if !st.check_doomed(id, "conflict out checking")? {
            return Ok(());
        }
        let Some(space) = space_of(&range.start) else {
            return Ok(());
        };
        let space = space.to_vec();
        let whole =
            range.start == space && prefix_successor(&space).is_some_and(|end| range.end >= end);
        let mut promote = whole;
        if let Some(sx) = st.sxacts.get_mut(&id) {
            let u = sx.spaces.entry(space.clone()).or_default();
            if !u.whole && !whole {
                u.ranges += 1;
                promote = u.ranges > RANGE_LIMIT;
                st.spaces
                    .entry(space.clone())
                    .or_default()
                    .ranges
                    .push((range.clone(), id));
            }
        }
        if promote {
            st.promote_reads(id, &space);
        }
        let writers: Vec<TxnId> = match st.spaces.get(&space) {
            Some(sp) => sp
                .whole_writes
                .iter()
                .copied()
                .chain(
                    sp.writes
                        .range(range.clone())
                        .flat_map(|(_, ids)| ids.iter().copied()),
                )
                .collect(),
            None => Vec::new(),
        };
        for w in writers {
            st.flag(id, w, id)?;
        }
        Ok(())
    }

    /// A read skipped a committed version with commit timestamp `ts` (newer than its snapshot).
    pub fn read_newer(&self, id: TxnId, ts: u64) -> Result<()> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if !st.check_doomed(id, "conflict out checking")? {
            return Ok(());
        }
        if let Some(&w) = st.by_commit_ts.get(&ts) {
            st.flag(id, w, id)?;
        } else if st.summary.as_ref().is_some_and(|s| ts <= s.max_ts) {
            st.flag_summary_out(id)?;
        }
        Ok(())
    }

    /// A write of `key` (row, index entry or tombstone) by `id`.
    pub fn write(&self, id: TxnId, key: &[u8]) -> Result<()> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if !st.check_doomed(id, "conflict in checking")? {
            return Ok(());
        }
        let Some(space) = space_of(key) else {
            return Ok(());
        };
        let space = space.to_vec();
        let mut snapshot_seq = 0;
        if let Some(sx) = st.sxacts.get_mut(&id) {
            sx.wrote = true;
            snapshot_seq = sx.snapshot_seq;
            let u = sx.spaces.entry(space.clone()).or_default();
            let sp = st.spaces.entry(space.clone()).or_default();
            if !u.whole_write {
                let ids = sp.writes.entry(key.to_vec()).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                    u.writes.push(key.to_vec());
                }
                if u.writes.len() > WRITE_LIMIT {
                    u.whole_write = true;
                    let writes = std::mem::take(&mut u.writes);
                    State::remove_writes(sp, id, false, writes);
                    sp.whole_writes.insert(id);
                }
            }
        }
        let readers: Vec<TxnId> = match st.spaces.get(&space) {
            Some(sp) => {
                let mut r: Vec<TxnId> = sp.whole.iter().copied().collect();
                r.extend(sp.points.get(key).into_iter().flatten());
                r.extend(
                    sp.ranges
                        .iter()
                        .filter(|(rg, _)| rg.start.as_slice() <= key && key < rg.end.as_slice())
                        .map(|(_, t)| *t),
                );
                r.sort_unstable();
                r.dedup();
                r
            }
            None => Vec::new(),
        };
        if st
            .summary
            .as_ref()
            .is_some_and(|s| s.read_spaces.contains(&space))
        {
            st.flag_summary_in(id)?;
        }
        for r in readers {
            // Only readers concurrent with us: still running, or committed after our snapshot.
            let concurrent = st
                .sxacts
                .get(&r)
                .is_some_and(|s| s.commit_seq.is_none_or(|c| c > snapshot_seq));
            if concurrent {
                st.flag(r, id, id)?;
            }
        }
        Ok(())
    }

    /// The pre-commit check: fails if we are doomed, dooms pivots we would leave behind.
    /// On success the transaction is *prepared* (it will not be chosen as a victim again).
    pub fn pre_commit(&self, id: TxnId) -> Result<()> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if !st.check_doomed(id, "commit attempt")? {
            return Ok(());
        }
        let ins: Vec<TxnId> = st.sxacts[&id].ins.iter().copied().collect();
        for t2 in ins {
            let Some(t2s) = st.sxacts.get(&t2) else {
                continue;
            };
            if t2s.commit_seq.is_some() || t2s.doomed {
                continue;
            }
            let pivot = t2s.ins.iter().any(|t1| {
                *t1 == id
                    || st
                        .sxacts
                        .get(t1)
                        .is_some_and(|s| s.commit_seq.is_none() && !s.read_only && !s.doomed)
            });
            if pivot {
                if t2s.prepare_seq.is_some() {
                    return Err(failure(
                        "Canceled on commit attempt with conflict in from prepared pivot".into(),
                    ));
                }
                if let Some(s) = st.sxacts.get_mut(&t2) {
                    s.doomed = true;
                    tracing::debug!(txn = t2, "doomed by SSI at a concurrent commit");
                }
            }
        }
        let seq = st.tick();
        if let Some(sx) = st.sxacts.get_mut(&id) {
            sx.prepare_seq = Some(seq);
        }
        Ok(())
    }

    /// The transaction committed (at `commit_ts` if it wrote anything).
    pub fn committed(&self, id: TxnId, commit_ts: Option<u64>) {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if !st.sxacts.contains_key(&id) {
            return;
        }
        let seq = st.tick();
        let Some(sx) = st.sxacts.get_mut(&id) else {
            return;
        };
        sx.commit_seq = Some(seq);
        sx.commit_ts = commit_ts;
        let snapshot_seq = sx.snapshot_seq;
        let writes: Vec<(Vec<u8>, bool, Vec<u8>)> = sx
            .spaces
            .iter_mut()
            .flat_map(|(space, u)| {
                let whole = std::mem::take(&mut u.whole_write);
                let keys = std::mem::take(&mut u.writes);
                let mut v: Vec<(Vec<u8>, bool, Vec<u8>)> = keys
                    .into_iter()
                    .map(|k| (space.clone(), false, k))
                    .collect();
                if whole {
                    v.push((space.clone(), true, Vec::new()));
                }
                v
            })
            .collect();
        let outs: Vec<TxnId> = sx.outs.iter().copied().collect();
        let summary_out = sx.summary_out;
        st.running.remove(&(snapshot_seq, id));
        st.committed.push_back((seq, id));
        if let Some(ts) = commit_ts {
            st.by_commit_ts.insert(ts, id);
        }
        for (space, whole, key) in writes {
            if let Some(sp) = st.spaces.get_mut(&space) {
                if whole {
                    State::remove_writes(sp, id, true, Vec::new());
                } else {
                    State::remove_writes(sp, id, false, vec![key]);
                }
            }
        }
        // The earliest commit among transactions we have an out-edge to (for read-only safety).
        let earliest_out = outs
            .iter()
            .filter_map(|t| st.sxacts.get(t))
            .filter(|s| s.commit_seq.is_some())
            .filter_map(|s| s.prepare_seq)
            .chain(summary_out)
            .min();
        st.resolve_read_only(id, earliest_out);
        st.cleanup();
        self.changed.notify_all();
    }

    /// The transaction rolled back (or failed to commit): it is forgotten at once.
    pub fn aborted(&self, id: TxnId) {
        let mut st = self.state.lock();
        st.remove(id);
        st.cleanup();
        self.changed.notify_all();
    }

    /// Lowers the number of committed transactions kept individually (tests).
    #[cfg(test)]
    pub fn set_max_retained(&self, n: usize) {
        self.state.lock().max_retained = n;
    }

    /// (registered transactions, spaces in use, point and range markers) — for tests of
    /// bounded memory.
    #[cfg(test)]
    pub fn footprint(&self) -> (usize, usize, usize) {
        let st = self.state.lock();
        let markers = st
            .spaces
            .values()
            .map(|s| s.points.len() + s.ranges.len())
            .sum();
        (st.sxacts.len(), st.spaces.len(), markers)
    }
}
