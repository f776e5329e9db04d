//! Table scans: full, primary-key range, secondary-index range, and one range per IN-list
//! value. Pushed-down filter conjuncts are evaluated here, so rows that fail them never leave
//! the scan. DML uses [`ScanOp::next_keyed`] to get each row's key as well. For a
//! `SELECT … FOR UPDATE` that locks at the scan, each returned row is locked here first
//! (`rowlock.rs`).

use super::expr::eval_const;
use super::{ExecCtx, Operator, PAccess, PhysPlan, CANCEL_CHECK_INTERVAL};
use crate::error::{Error, Result};
use sledgres_storage::{KeyRange, Row, RowIter, RowKey, Value};
use std::ops::Bound;
use std::sync::Arc;

pub struct ScanOp {
    node: Arc<PhysPlan>,
    ctx: Arc<ExecCtx>,
    /// Pending iterators (one per IN-list value); the current one is the last.
    iters: Vec<RowIter>,
    count: usize,
    /// Rows the filter rejected (EXPLAIN ANALYZE's "Rows Removed by Filter").
    removed: u64,
}

impl ScanOp {
    pub fn open(node: Arc<PhysPlan>, ctx: &Arc<ExecCtx>) -> Result<Self> {
        let PhysPlan::Scan { table, access, .. } = &*node else {
            return Err(Error::internal("ScanOp on a non-scan node"));
        };
        let txn = &ctx.txn;
        let mut iters: Vec<RowIter> = vec![];
        let scan_range = |index: Option<u32>, range: KeyRange| -> Result<RowIter> {
            Ok(match index {
                None => txn.scan_primary_range(table.id, range)?,
                Some(i) => txn.scan_index(table.id, i, range)?,
            })
        };
        match access {
            PAccess::Full => iters.push(txn.scan(table.id)?),
            PAccess::Range { index, start, end } => {
                let bound = |b: &Option<(Vec<super::expr::PExpr>, bool)>| -> Result<Option<Bound<Vec<Value>>>> {
                    Ok(match b {
                        None => Some(Bound::Unbounded),
                        Some((v, inc)) => {
                            let vals = v
                                .iter()
                                .map(|e| eval_const(e, ctx))
                                .collect::<Result<Vec<_>>>()?;
                            // A NULL bound matches nothing (comparisons with NULL are unknown).
                            if vals.iter().any(|v| v.is_null()) {
                                return Ok(None);
                            }
                            Some(if *inc {
                                Bound::Included(vals)
                            } else {
                                Bound::Excluded(vals)
                            })
                        }
                    })
                };
                if let (Some(start), Some(end)) = (bound(start)?, bound(end)?) {
                    iters.push(scan_range(*index, KeyRange { start, end })?);
                }
            }
            PAccess::InList { index, values } => {
                let mut vals = values
                    .iter()
                    .map(|e| eval_const(e, ctx))
                    .collect::<Result<Vec<_>>>()?;
                vals.retain(|v| !v.is_null());
                vals.sort_by(|a, b| b.cmp_same_type(a));
                vals.dedup_by(|a, b| a.cmp_same_type(b) == std::cmp::Ordering::Equal);
                // Reverse order so that popping from the end visits keys ascending.
                for v in vals {
                    let k = vec![v];
                    iters.push(scan_range(
                        *index,
                        KeyRange {
                            start: Bound::Included(k.clone()),
                            end: Bound::Included(k),
                        },
                    )?);
                }
            }
        }
        Ok(ScanOp {
            node,
            ctx: ctx.clone(),
            iters,
            count: 0,
            removed: 0,
        })
    }

    /// The next row that passes the filter, with its key.
    pub fn next_keyed(&mut self) -> Result<Option<(RowKey, Row)>> {
        let PhysPlan::Scan { filter, .. } = &*self.node else {
            return Err(Error::internal("ScanOp on a non-scan node"));
        };
        loop {
            let Some(it) = self.iters.last_mut() else {
                return Ok(None);
            };
            let Some(item) = it.next() else {
                self.iters.pop();
                continue;
            };
            self.count += 1;
            if self.count.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                self.ctx.check_cancel()?;
            }
            let (key, row) = item?;
            if let Some(f) = filter {
                if !f.eval_pred(&row, &self.ctx)? {
                    self.removed += 1;
                    continue;
                }
            }
            if self.ctx.row_locks.is_some() {
                let PhysPlan::Scan { table, .. } = &*self.node else {
                    return Err(Error::internal("ScanOp on a non-scan node"));
                };
                let recheck = |r: &Row| self.recheck(r);
                match super::rowlock::lock_scanned(&self.ctx, table.id, &key, row, recheck)? {
                    Some(row) => return Ok(Some((key, row))),
                    None => continue,
                }
            }
            return Ok(Some((key, row)));
        }
    }

    /// Re-checks the scan's filter on a row (EvalPlanQual after a concurrent update).
    pub fn recheck(&self, row: &Row) -> Result<bool> {
        match &*self.node {
            PhysPlan::Scan {
                filter: Some(f), ..
            } => f.eval_pred(row, &self.ctx),
            _ => Ok(true),
        }
    }
}

impl Operator for ScanOp {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.next_keyed()?.map(|(_, r)| r))
    }

    fn removed_by_filter(&self) -> u64 {
        self.removed
    }
}
