//! INSERT, UPDATE and DELETE execution.
//!
//! UPDATE and DELETE scan the target table at the statement's snapshot and, for each row
//! that passes the WHERE clause, take its write lock (`Transaction::lock_row`, which waits
//! for a concurrent writer). Under READ COMMITTED a concurrent commit may have changed the
//! row meanwhile: storage then hands back the newest version and we re-check the WHERE
//! clause on it and compute the new row from it (PostgreSQL's EvalPlanQual), or skip the row
//! if it was deleted.

use super::expr::PExpr;
use super::{open, ExecCtx, PhysPlan, ScanOp, CANCEL_CHECK_INTERVAL};
use crate::error::{Error, ErrorKind, Result};
use crate::scalar;
use sledgres_storage::{Row, RowLockOutcome, TableDef, Value};
use std::sync::Arc;

/// A compiled INSERT.
#[derive(Debug)]
pub struct PInsert {
    pub table: Arc<TableDef>,
    pub source: Arc<PhysPlan>,
    pub targets: Vec<usize>,
    pub defaults: Vec<Option<PExpr>>,
}

/// A compiled UPDATE (or DELETE, with no `sets`).
#[derive(Debug)]
pub struct PModify {
    pub table: Arc<TableDef>,
    pub scan: Arc<PhysPlan>,
    pub sets: Vec<(usize, PExpr)>,
}

pub fn insert(p: &PInsert, ctx: &Arc<ExecCtx>) -> Result<u64> {
    let mut src = open(&p.source, ctx)?;
    let mut n = 0u64;
    while let Some(vals) = src.next()? {
        let mut row: Row = vec![Value::Null; p.table.columns.len()];
        for (i, d) in p.defaults.iter().enumerate() {
            if let Some(d) = d {
                row[i] = d.eval(&[], ctx)?;
            }
        }
        for (v, &t) in vals.into_iter().zip(&p.targets) {
            row[t] = v;
        }
        check_not_null(&p.table, &row)?;
        ctx.txn.insert(p.table.id, row)?;
        n += 1;
        if (n as usize).is_multiple_of(CANCEL_CHECK_INTERVAL) {
            ctx.check_cancel()?;
        }
    }
    Ok(n)
}

pub fn update(p: &PModify, ctx: &Arc<ExecCtx>) -> Result<u64> {
    let mut scan = ScanOp::open(p.scan.clone(), ctx)?;
    let mut n = 0u64;
    while let Some((key, row)) = scan.next_keyed()? {
        let row = match ctx.txn.lock_row(p.table.id, &key)? {
            RowLockOutcome::Unchanged => row,
            RowLockOutcome::Updated(newer) => {
                if !scan.recheck(&newer)? {
                    continue;
                }
                newer
            }
            RowLockOutcome::Deleted => continue,
        };
        let mut new_row = row.clone();
        for (i, e) in &p.sets {
            new_row[*i] = e.eval(&row, ctx)?;
        }
        check_not_null(&p.table, &new_row)?;
        ctx.txn.update(p.table.id, &key, new_row)?;
        n += 1;
    }
    Ok(n)
}

pub fn delete(p: &PModify, ctx: &Arc<ExecCtx>) -> Result<u64> {
    let mut scan = ScanOp::open(p.scan.clone(), ctx)?;
    let mut n = 0u64;
    while let Some((key, _)) = scan.next_keyed()? {
        match ctx.txn.lock_row(p.table.id, &key)? {
            RowLockOutcome::Unchanged => {}
            RowLockOutcome::Updated(newer) => {
                if !scan.recheck(&newer)? {
                    continue;
                }
            }
            RowLockOutcome::Deleted => continue,
        }
        ctx.txn.delete(p.table.id, &key)?;
        n += 1;
    }
    Ok(n)
}

/// 23502 with PostgreSQL's DETAIL listing the whole row.
fn check_not_null(table: &TableDef, row: &Row) -> Result<()> {
    for (c, v) in table.columns.iter().zip(row) {
        if !c.nullable && v.is_null() {
            let vals: Vec<String> = row
                .iter()
                .map(|v| {
                    if v.is_null() {
                        "null".to_string()
                    } else {
                        scalar::format_text(v, 1)
                    }
                })
                .collect();
            return Err(Error::new(
                ErrorKind::NotNullViolation,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, table.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", vals.join(", "))));
        }
    }
    Ok(())
}
