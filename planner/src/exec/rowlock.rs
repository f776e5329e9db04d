//! Row locks taken by `SELECT … FOR UPDATE` and friends, at the scan.
//!
//! Each row a scan of a locked table returns (after its pushed-down filter) is locked
//! through `Transaction::lock_row_with` in the clause's strength and wait policy. Storage
//! then says what happened since our snapshot: nothing (return the row), a newer committed
//! version at READ COMMITTED (re-check the scan's filter on it and return it, or skip it —
//! PostgreSQL's EvalPlanQual), a concurrent delete (skip), a row that SKIP LOCKED skips, or
//! at REPEATABLE READ / SERIALIZABLE a 40001. NOWAIT fails with 55P03.
//!
//! Known difference from PostgreSQL: PostgreSQL locks in a LockRows node above joins and
//! sorts but below LIMIT, and re-checks the whole query on a newer version; we lock at the
//! scan, so rows that a join or a LIMIT above a sort later drops are locked too, and only
//! the scan's own filter is re-checked.

use super::ExecCtx;
use crate::error::Result;
use sledgres_storage::{Row, RowKey, RowLockMode, RowLockOutcome, TableId, WaitPolicy};

/// What a statement locks: per table, the strongest requested mode and its wait policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowLocks {
    pub tables: Vec<(TableId, String, RowLockMode, WaitPolicy)>,
    /// The first clause's strength (names the statement in 25006 errors).
    pub first_mode: Option<RowLockMode>,
}

impl RowLocks {
    pub fn add(&mut self, id: TableId, name: &str, mode: RowLockMode, wait: WaitPolicy) {
        match self.tables.iter_mut().find(|t| t.0 == id) {
            Some(t) => {
                t.2 = t.2.max(mode);
                // The stricter policy wins when one table is named twice (PostgreSQL: NOWAIT
                // over SKIP LOCKED over waiting).
                t.3 = match (t.3, wait) {
                    (WaitPolicy::NoWait, _) | (_, WaitPolicy::NoWait) => WaitPolicy::NoWait,
                    (WaitPolicy::SkipLocked, _) | (_, WaitPolicy::SkipLocked) => {
                        WaitPolicy::SkipLocked
                    }
                    _ => WaitPolicy::Block,
                };
            }
            None => self.tables.push((id, name.to_string(), mode, wait)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// Locks a row a scan of `table` is about to return, if the statement locks that table.
/// Returns the row to return (maybe a newer version), or `None` to skip it.
pub(super) fn lock_scanned(
    ctx: &ExecCtx,
    table: TableId,
    key: &RowKey,
    row: Row,
    recheck: impl Fn(&Row) -> Result<bool>,
) -> Result<Option<Row>> {
    let Some(locks) = &ctx.row_locks else {
        return Ok(Some(row));
    };
    let Some(&(_, _, mode, wait)) = locks.tables.iter().find(|t| t.0 == table) else {
        return Ok(Some(row));
    };
    Ok(match ctx.txn.lock_row_with(table, key, mode, wait)? {
        None | Some(RowLockOutcome::Deleted) => None,
        Some(RowLockOutcome::Unchanged) => Some(row),
        Some(RowLockOutcome::Updated(newer)) => recheck(&newer)?.then_some(newer),
    })
}
