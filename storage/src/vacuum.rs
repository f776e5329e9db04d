//! Vacuum: removing versions no snapshot can see any more.
//!
//! Every write adds a version (`keys.rs`), so without reclaiming, a row updated a million times
//! keeps a million versions and scans slow down. A version is garbage once no running or future
//! snapshot can read it:
//!
//! ```text
//!   horizon h = the oldest read timestamp of a running snapshot (or the watermark if none)
//!
//!   key a:  a@3 "x"   a@5 "y"   a@8 "z"   a@12 "w"          h = 10
//!           remove    remove    KEEP      KEEP (newer than h)
//!           (a@8 is what a snapshot at h sees; a@3 and a@5 are hidden from every snapshot)
//!
//!   key b:  b@2 "p"   b@6 ⌫                               h = 10
//!           remove    remove   (every snapshot sees "no row" either way)
//! ```
//!
//! - Per user key: keep every version newer than h, and the newest one at or below h unless
//!   it is a tombstone; remove the rest. Snapshots at or above h read exactly the same.
//! - Dropped objects: rows and index entries of a table whose catalog entry is gone for every
//!   snapshot (tombstoned at or below h, or already vacuumed), and entries of an index that no
//!   retained version of its table's definition lists, are removed (only versions at or below
//!   h, so a commit still being applied is never touched).
//! - The horizon is exact: transactions register their snapshot's read timestamp in
//!   [`Snapshots`] under the same mutex the horizon is computed under, so no snapshot older than
//!   a computed horizon can appear afterwards (a new snapshot reads the watermark, which never
//!   goes back).
//! - Bounded work: a pass scans at most a budget of versions from a cursor and removes what it
//!   found in one batch; a background thread runs a pass every interval and wraps around at
//!   the end of the keyspace, so writers never wait behind a long sweep. `Store::vacuum` runs
//!   passes until it has covered the whole keyspace once (the planner's VACUUM).

use crate::catalog::{IndexId, TableDef, TableId};
use crate::error::Result;
use crate::keycode::prefix_successor;
use crate::keys;
use crate::kv::Kv;
use crate::lock::TxnId;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};

/// Versions one pass looks at.
pub const PASS_BUDGET: usize = 10_000;

/// The read timestamps of running snapshots, for the vacuum horizon.
#[derive(Default)]
pub struct Snapshots {
    active: Mutex<HashMap<TxnId, u64>>,
}

impl Snapshots {
    /// Takes a snapshot for `txn` (replacing its previous one): `watermark` reads the
    /// visibility watermark, under our mutex.
    pub fn take(&self, txn: TxnId, watermark: impl FnOnce() -> u64) -> u64 {
        let mut active = self.active.lock();
        let ts = watermark();
        active.insert(txn, ts);
        ts
    }

    pub fn release(&self, txn: TxnId) {
        self.active.lock().remove(&txn);
    }

    /// The oldest read timestamp any snapshot has or will have.
    pub fn horizon(&self, watermark: impl FnOnce() -> u64) -> u64 {
        let active = self.active.lock();
        let now = watermark();
        active.values().copied().min().map_or(now, |m| m.min(now))
    }
}

/// What a vacuum run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VacuumStats {
    pub versions_scanned: u64,
    pub versions_removed: u64,
}

impl std::ops::AddAssign for VacuumStats {
    fn add_assign(&mut self, o: Self) {
        self.versions_scanned += o.versions_scanned;
        self.versions_removed += o.versions_removed;
    }
}

/// What the keyspace holds, counted version by version ([`count`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Distinct user keys (rows, index entries, catalog entries), whatever their versions.
    pub user_keys: u64,
    /// Versions of every kind, tombstones included.
    pub versions: u64,
    /// Row versions (kind 0x02), tombstones included.
    pub row_versions: u64,
    /// Secondary-index entry versions (kind 0x03), tombstones included.
    pub index_versions: u64,
    /// Catalog versions (kind 0x01), tombstones included.
    pub catalog_versions: u64,
    /// Versions that say "no row" (deletions).
    pub tombstones: u64,
}

/// Counts every version in the keyspace. A full scan: for tests and diagnostics only.
pub fn count(kv: &dyn Kv) -> Result<StoreStats> {
    let mut stats = StoreStats::default();
    let mut current: Option<Vec<u8>> = None;
    for item in kv.scan(keys::DATA_START.to_vec()..vec![0xFF]) {
        let (k, v) = item?;
        let Some((user, _)) = keys::split_version(&k) else {
            continue;
        };
        if current.as_deref() != Some(user) {
            current = Some(user.to_vec());
            stats.user_keys += 1;
        }
        stats.versions += 1;
        match user.first() {
            Some(&keys::CATALOG) => stats.catalog_versions += 1,
            Some(&keys::ROW) => stats.row_versions += 1,
            Some(&keys::INDEX) => stats.index_versions += 1,
            _ => {}
        }
        if v.first() != Some(&1) {
            stats.tombstones += 1;
        }
    }
    Ok(stats)
}

/// The catalog as vacuum needs it: which tables are gone and which indexes still exist.
struct CatalogState {
    /// Tables with at least one version that some snapshot may still see as live.
    live_tables: HashSet<TableId>,
    /// Index ids listed by any retained version of each table's definition.
    live_indexes: HashSet<(TableId, IndexId)>,
}

fn load_catalog(kv: &dyn Kv, horizon: u64) -> Result<CatalogState> {
    let prefix = keys::catalog_prefix();
    let end = prefix_successor(&prefix).unwrap_or_else(|| vec![0xFF]);
    let mut state = CatalogState {
        live_tables: HashSet::new(),
        live_indexes: HashSet::new(),
    };
    let mut current: Option<Vec<u8>> = None;
    let mut seen_visible = false;
    for item in kv.scan(prefix..end) {
        let (k, v) = item?;
        let Some((user, ts)) = keys::split_version(&k) else {
            continue;
        };
        if current.as_deref() != Some(user) {
            current = Some(user.to_vec());
            seen_visible = false;
        }
        // Retained: newer than the horizon, or the newest at or below it.
        let retained = ts > horizon || !seen_visible;
        if ts <= horizon {
            seen_visible = true;
        }
        if !retained {
            continue;
        }
        if let Some(bytes) = keys::decode_version_value(&v) {
            let def: TableDef = postcard::from_bytes(&bytes)?;
            state.live_tables.insert(def.id);
            for idx in &def.indexes {
                state.live_indexes.insert((def.id, idx.id));
            }
        }
    }
    Ok(state)
}

/// Whether a row or index user key belongs to a dropped table or index.
fn orphaned(user: &[u8], catalog: &CatalogState) -> bool {
    let id = |from: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            user.get(from..from + 4)?.try_into().ok()?,
        ))
    };
    let Some(len) = keys::space_len(user) else {
        return false;
    };
    let Some(table) = id(1) else { return false };
    if !catalog.live_tables.contains(&table) {
        return true;
    }
    len == 9 && id(5).is_some_and(|index| !catalog.live_indexes.contains(&(table, index)))
}

/// One bounded pass from `from` (a user key; empty = the start). Returns where the next pass
/// should start (`None` = the end of the keyspace was reached) and what it did.
pub fn pass(
    kv: &dyn Kv,
    horizon: u64,
    from: &[u8],
    budget: usize,
) -> Result<(Option<Vec<u8>>, VacuumStats)> {
    let catalog = load_catalog(kv, horizon)?;
    let start = if from < keys::DATA_START {
        keys::DATA_START.to_vec()
    } else {
        from.to_vec()
    };
    let mut stats = VacuumStats::default();
    let mut remove = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut seen_visible = false;
    let mut garbage = false;
    let mut next = None;
    for item in kv.scan(start..vec![0xFF]) {
        let (k, v) = item?;
        let Some((user, ts)) = keys::split_version(&k) else {
            continue;
        };
        if current.as_deref() != Some(user) {
            if stats.versions_scanned as usize >= budget {
                next = Some(user.to_vec());
                break;
            }
            current = Some(user.to_vec());
            seen_visible = false;
            garbage = orphaned(user, &catalog);
        }
        stats.versions_scanned += 1;
        if ts > horizon {
            continue;
        }
        let drop_it = if garbage || seen_visible {
            true
        } else {
            seen_visible = true;
            // The version the oldest snapshot sees: kept unless it says "no row".
            v.first() != Some(&1)
        };
        if drop_it {
            remove.push((k, None));
        }
    }
    stats.versions_removed = remove.len() as u64;
    if !remove.is_empty() {
        kv.apply_batch(remove)?;
    }
    Ok((next, stats))
}
