//! Row locks taken by `SELECT … FOR UPDATE` and friends, at the scan.
//!
//! Each row a scan of a locked table returns (after its pushed-down filter) is locked
//! through `Transaction::lock_row_with` in the clause's strength and wait policy. Storage
//! then says what happened since our snapshot: nothing (return the row), a newer committed
//! version at READ COMMITTED (re-check the scan's filter on it and return it, or skip it —
//! PostgreSQL's EvalPlanQual), a concurrent delete (skip), a row that SKIP LOCKED skips, or
//! at REPEATABLE READ / SERIALIZABLE a 40001. NOWAIT fails with 55P03.
//!
//! PostgreSQL locks in a LockRows node above joins and sorts but below LIMIT, so a sorted
//! query locks only the rows it returns. We do the same for a single table with a primary
//! key under ORDER BY ([`OutputLock`]): the binder carries the key columns up as hidden
//! trailing output columns, and [`LockRowsOp`] above the plan looks each returned row up by
//! key, locks it, and on a newer version re-runs the chain of filters and projections on it
//! (EvalPlanQual). Rows a LIMIT above it never asks for are never locked. Known difference
//! from PostgreSQL: with joins, or a table without a primary key, we lock at the scan, so
//! rows that a join later drops are locked too, and only the scan's own filter is
//! re-checked.

use super::{BoxOp, ExecCtx, Operator, PhysPlan};
use crate::error::{Error, Result};
use sledgres_storage::{Row, RowKey, RowLockMode, RowLockOutcome, TableId, WaitPolicy};
use std::sync::Arc;

/// What a statement locks: per table, the strongest requested mode and its wait policy.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowLocks {
    pub tables: Vec<(TableId, String, RowLockMode, WaitPolicy)>,
    /// The first clause's strength (names the statement in 25006 errors).
    pub first_mode: Option<RowLockMode>,
    /// The table locked at the output instead of at the scan.
    pub output: Option<OutputLock>,
}

/// Locking at the output: the rows carry the table's primary key after `visible` columns.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputLock {
    pub table: TableId,
    pub name: String,
    pub mode: RowLockMode,
    pub wait: WaitPolicy,
    pub visible: usize,
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
        self.tables.is_empty() && self.output.is_none()
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

/// Opens a plan whose rows are locked at the output: below its LIMIT, if it has one (as
/// PostgreSQL's LockRows), so that rows skipped or gone do not count against the limit.
pub fn open_locked(plan: &Arc<PhysPlan>, lock: OutputLock, ctx: &Arc<ExecCtx>) -> Result<BoxOp> {
    if let PhysPlan::Limit {
        input,
        limit,
        offset,
    } = &**plan
    {
        let locked = LockRowsOp::new(super::open(input, ctx)?, input.clone(), lock, ctx.clone());
        return Ok(Box::new(super::ops::LimitOp::new(
            Box::new(locked),
            limit,
            offset,
            ctx,
        )?));
    }
    Ok(Box::new(LockRowsOp::new(
        super::open(plan, ctx)?,
        plan.clone(),
        lock,
        ctx.clone(),
    )))
}

/// Locks each row the plan returns (see the module docs) and strips the hidden key columns.
pub struct LockRowsOp {
    input: BoxOp,
    plan: Arc<PhysPlan>,
    lock: OutputLock,
    ctx: Arc<ExecCtx>,
}

impl LockRowsOp {
    pub fn new(input: BoxOp, plan: Arc<PhysPlan>, lock: OutputLock, ctx: Arc<ExecCtx>) -> Self {
        LockRowsOp {
            input,
            plan,
            lock,
            ctx,
        }
    }
}

impl Operator for LockRowsOp {
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            let Some(mut row) = self.input.next()? else {
                return Ok(None);
            };
            if row.len() < self.lock.visible {
                return Err(Error::internal("locked row lacks its key columns"));
            }
            let key_values = row.split_off(self.lock.visible);
            let Some((key, _)) = self
                .ctx
                .txn
                .get_by_primary_key(self.lock.table, &key_values)?
            else {
                continue;
            };
            let outcome = self.ctx.txn.lock_row_with(
                self.lock.table,
                &key,
                self.lock.mode,
                self.lock.wait,
            )?;
            match outcome {
                None | Some(RowLockOutcome::Deleted) => continue,
                Some(RowLockOutcome::Unchanged) => return Ok(Some(row)),
                Some(RowLockOutcome::Updated(newer)) => {
                    match reproject(&self.plan, newer, &self.ctx)? {
                        Some(mut r) => {
                            r.truncate(self.lock.visible);
                            return Ok(Some(r));
                        }
                        None => continue,
                    }
                }
            }
        }
    }
}

/// Runs a newer version of the locked row through the plan's scan filter, filters and
/// projections (the plan is a chain over one scan: `binder/locking.rs` made sure); `None`
/// if it no longer qualifies.
fn reproject(plan: &PhysPlan, row: Row, ctx: &Arc<ExecCtx>) -> Result<Option<Row>> {
    Ok(match plan {
        PhysPlan::Scan { filter, .. } => match filter {
            Some(f) if !f.eval_pred(&row, ctx)? => None,
            _ => Some(row),
        },
        PhysPlan::Filter { input, predicate } => match reproject(input, row, ctx)? {
            Some(r) if predicate.eval_pred(&r, ctx)? => Some(r),
            _ => None,
        },
        PhysPlan::Project { input, exprs } => match reproject(input, row, ctx)? {
            Some(r) => Some(
                exprs
                    .iter()
                    .map(|e| e.eval(&r, ctx))
                    .collect::<Result<Row>>()?,
            ),
            None => None,
        },
        PhysPlan::Sort { input, .. } | PhysPlan::Limit { input, .. } => reproject(input, row, ctx)?,
        _ => return Err(Error::internal("row locking above an unexpected plan node")),
    })
}
