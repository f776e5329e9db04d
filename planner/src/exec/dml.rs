//! INSERT, UPDATE and DELETE execution.
//!
//! UPDATE and DELETE scan the target table at the statement's snapshot and, for each row
//! that passes the WHERE clause, take its write lock (`Transaction::lock_row`, which waits
//! for a concurrent writer). Under READ COMMITTED a concurrent commit may have changed the
//! row meanwhile: storage then hands back the newest version and we re-check the WHERE
//! clause on it and compute the new row from it (PostgreSQL's EvalPlanQual), or skip the row
//! if it was deleted.
//!
//! Every write goes through [`constraints::Rules`] (NOT NULL, CHECK, FOREIGN KEY). A
//! statement with RETURNING collects the returned rows while it runs and hands them to the
//! session as a cursor once it has finished — a DML statement always runs to completion
//! before its first row is sent, as in PostgreSQL.
//!
//! INSERT … ON CONFLICT tries the insert; when storage reports a unique violation on the
//! arbiter (storage holds that key's lock by then, having waited for any concurrent inserter
//! of the same key) DO NOTHING skips the row, and DO UPDATE finds the existing row, locks
//! it (READ COMMITTED: the newest version; REPEATABLE READ: 40001 if it changed after the
//! snapshot) and updates it. A row inserted or updated by the same statement cannot be
//! updated again (21000).

mod constraints;
pub mod ddl;

use super::expr::{compile, Layout, PExpr};
use super::{open, ExecCtx, PhysPlan, ScanOp, CANCEL_CHECK_INTERVAL};
use crate::binder::{ConflictAction, DeletePlan, InsertPlan, OutputColumn, Returning, UpdatePlan};
use crate::error::{Error, ErrorKind, Result};
use crate::optimizer;
use constraints::Rules;
use sledgres_storage::{KeyRange, Row, RowKey, RowLockOutcome, TableDef, Value};
use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;

pub use constraints::{check_not_null, failing_row};

/// A compiled RETURNING list, over a row of the target table.
#[derive(Debug)]
pub struct PReturning {
    pub exprs: Vec<PExpr>,
}

/// DO UPDATE's SET assignments and WHERE.
pub type ConflictUpdate = (Vec<(usize, PExpr)>, Option<PExpr>);

/// A compiled ON CONFLICT clause.
#[derive(Debug)]
pub struct POnConflict {
    pub arbiter: Option<String>,
    /// DO UPDATE: SET and WHERE over the existing row followed by the proposed one; `None`
    /// for DO NOTHING.
    pub update: Option<ConflictUpdate>,
}

/// A compiled INSERT.
#[derive(Debug)]
pub struct PInsert {
    pub table: Arc<TableDef>,
    pub source: Arc<PhysPlan>,
    pub targets: Vec<usize>,
    pub defaults: Vec<Option<PExpr>>,
    pub returning: Option<PReturning>,
    pub on_conflict: Option<POnConflict>,
}

/// A compiled UPDATE (or DELETE, with no `sets`).
#[derive(Debug)]
pub struct PModify {
    pub table: Arc<TableDef>,
    pub scan: Arc<PhysPlan>,
    pub sets: Vec<(usize, PExpr)>,
    pub returning: Option<PReturning>,
    /// UPDATE … FROM / DELETE … USING: the query run per target row (its outer row); `sets`
    /// then read its first row.
    pub from: Option<Arc<PhysPlan>>,
}

/// What a DML statement did: its row count and, with RETURNING, the returned rows.
pub struct DmlOutput {
    pub count: u64,
    pub rows: Option<Vec<Row>>,
}

fn compile_returning(r: &Option<Returning>) -> Result<(Option<PReturning>, Vec<OutputColumn>)> {
    match r {
        None => Ok((None, vec![])),
        Some(r) => {
            let layout = Layout::new(r.cols.clone(), &[]);
            let exprs = r
                .exprs
                .iter()
                .map(|e| compile(e, &layout))
                .collect::<Result<Vec<_>>>()?;
            Ok((Some(PReturning { exprs }), r.columns.clone()))
        }
    }
}

/// Optimizes and compiles a bound INSERT; also returns its RETURNING columns.
pub fn compile_insert(i: InsertPlan) -> Result<(PInsert, Vec<OutputColumn>)> {
    let source = optimizer::optimize(i.source)?;
    let defaults = i
        .defaults
        .iter()
        .map(|d| {
            d.as_ref()
                .map(|e| compile(e, &Layout::default()))
                .transpose()
        })
        .collect::<Result<Vec<_>>>()?;
    let (returning, columns) = compile_returning(&i.returning)?;
    let on_conflict = match i.on_conflict {
        None => None,
        Some(oc) => Some(POnConflict {
            arbiter: oc.arbiter,
            update: match oc.action {
                ConflictAction::Nothing => None,
                ConflictAction::Update { cols, sets, filter } => {
                    let layout = Layout::new(cols, &[]);
                    let sets = sets
                        .iter()
                        .map(|(i, e)| Ok((*i, compile(e, &layout)?)))
                        .collect::<Result<Vec<_>>>()?;
                    let filter = filter.as_ref().map(|f| compile(f, &layout)).transpose()?;
                    Some((sets, filter))
                }
            },
        }),
    };
    Ok((
        PInsert {
            table: i.table,
            source: Arc::new(super::compile_plan(&source, &[])?),
            targets: i.targets,
            defaults,
            returning,
            on_conflict,
        },
        columns,
    ))
}

/// Optimizes and compiles a bound UPDATE.
pub fn compile_update(u: UpdatePlan) -> Result<(PModify, Vec<OutputColumn>)> {
    let scan = optimizer::optimize(u.scan)?;
    let target = scan.output_ids();
    let from = match u.from {
        Some(f) => {
            let f = optimizer::optimize(f)?;
            let layout = Layout::new(f.output_ids(), &[]);
            let sets = u
                .sets
                .iter()
                .map(|(i, e)| Ok((*i, compile(e, &layout)?)))
                .collect::<Result<Vec<_>>>()?;
            let (returning, columns) = compile_returning(&u.returning)?;
            return Ok((
                PModify {
                    table: u.table,
                    scan: Arc::new(super::compile_plan(&scan, &[])?),
                    sets,
                    returning,
                    from: Some(Arc::new(super::compile_plan(&f, &[target])?)),
                },
                columns,
            ));
        }
        None => None,
    };
    let layout = Layout::new(scan.output_ids(), &[]);
    let sets = u
        .sets
        .iter()
        .map(|(i, e)| Ok((*i, compile(e, &layout)?)))
        .collect::<Result<Vec<_>>>()?;
    let (returning, columns) = compile_returning(&u.returning)?;
    Ok((
        PModify {
            table: u.table,
            scan: Arc::new(super::compile_plan(&scan, &[])?),
            sets,
            returning,
            from,
        },
        columns,
    ))
}

/// Optimizes and compiles a bound DELETE.
pub fn compile_delete(d: DeletePlan) -> Result<(PModify, Vec<OutputColumn>)> {
    let scan = optimizer::optimize(d.scan)?;
    let (returning, columns) = compile_returning(&d.returning)?;
    let using = match d.using {
        Some(u) => {
            let u = optimizer::optimize(u)?;
            Some(Arc::new(super::compile_plan(&u, &[scan.output_ids()])?))
        }
        None => None,
    };
    Ok((
        PModify {
            table: d.table,
            scan: Arc::new(super::compile_plan(&scan, &[])?),
            sets: vec![],
            returning,
            from: using,
        },
        columns,
    ))
}

/// Collects RETURNING rows.
struct Output<'a> {
    returning: Option<&'a PReturning>,
    rows: Vec<Row>,
    count: u64,
}

impl<'a> Output<'a> {
    fn new(returning: Option<&'a PReturning>) -> Self {
        Output {
            returning,
            rows: vec![],
            count: 0,
        }
    }
    fn emit(&mut self, row: &Row, ctx: &Arc<ExecCtx>) -> Result<()> {
        self.count += 1;
        if let Some(r) = self.returning {
            let out = r
                .exprs
                .iter()
                .map(|e| e.eval(row, ctx))
                .collect::<Result<Vec<_>>>()?;
            self.rows.push(out);
        }
        if (self.count as usize).is_multiple_of(CANCEL_CHECK_INTERVAL) {
            ctx.check_cancel()?;
        }
        Ok(())
    }
    fn finish(self) -> DmlOutput {
        DmlOutput {
            count: self.count,
            rows: self.returning.map(|_| self.rows),
        }
    }
}

pub fn insert(p: &PInsert, ctx: &Arc<ExecCtx>) -> Result<DmlOutput> {
    let mut src = open(&p.source, ctx)?;
    let mut rules = Rules::new(ctx);
    let mut out = Output::new(p.returning.as_ref());
    // Rows this statement inserted or updated (ON CONFLICT DO UPDATE may not touch them).
    let mut touched: HashSet<RowKey> = HashSet::new();
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
        rules.check_row(&p.table, &row)?;
        let Some(oc) = &p.on_conflict else {
            ctx.txn.insert(p.table.id, row.clone())?;
            rules.check_references(&p.table, &row, None)?;
            out.emit(&row, ctx)?;
            continue;
        };
        // ON CONFLICT: retried when the conflicting row disappears while we wait for it.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let constraint = match ctx.txn.insert(p.table.id, row.clone()) {
                Ok(key) => {
                    touched.insert(key);
                    rules.check_references(&p.table, &row, None)?;
                    out.emit(&row, ctx)?;
                    break;
                }
                Err(sledgres_storage::Error::UniqueViolation { constraint, .. })
                    if oc.arbiter.as_deref().is_none_or(|a| a == constraint) =>
                {
                    constraint
                }
                Err(e) => return Err(e.into()),
            };
            let Some((sets, filter)) = &oc.update else {
                break; // DO NOTHING
            };
            let Some((key, existing)) = conflicting_row(&p.table, &constraint, &row, ctx)? else {
                if attempts > 100 {
                    return Err(Error::internal("ON CONFLICT could not settle"));
                }
                continue;
            };
            if touched.contains(&key) {
                return Err(Error::new(
                    ErrorKind::CardinalityViolation,
                    "ON CONFLICT DO UPDATE command cannot affect row a second time",
                )
                .with_hint(
                    "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.",
                ));
            }
            let existing = match ctx.txn.lock_row(p.table.id, &key)? {
                RowLockOutcome::Unchanged => existing,
                RowLockOutcome::Updated(newer) => newer,
                RowLockOutcome::Deleted => continue,
            };
            let mut both = existing.clone();
            both.extend(row.iter().cloned());
            if let Some(f) = filter {
                if !f.eval_pred(&both, ctx)? {
                    break;
                }
            }
            let mut new_row = existing.clone();
            for (i, e) in sets {
                new_row[*i] = e.eval(&both, ctx)?;
            }
            rules.check_row(&p.table, &new_row)?;
            let new_key = ctx.txn.update(p.table.id, &key, new_row.clone())?;
            touched.insert(new_key);
            rules.after_update(&p.table, &existing, &new_row)?;
            rules.check_references(&p.table, &new_row, Some(&existing))?;
            out.emit(&new_row, ctx)?;
            break;
        }
    }
    rules.finish()?;
    Ok(out.finish())
}

/// The row that holds `row`'s values of unique constraint `constraint`: at the snapshot,
/// else in the newest data (a row committed since, or written by this statement).
fn conflicting_row(
    table: &TableDef,
    constraint: &str,
    row: &Row,
    ctx: &Arc<ExecCtx>,
) -> Result<Option<(RowKey, Row)>> {
    let cols: Vec<usize> = if table.primary_key_name.as_deref() == Some(constraint) {
        let key: Vec<Value> = table.primary_key.iter().map(|&c| row[c].clone()).collect();
        if let Some(found) = ctx.txn.get_by_primary_key(table.id, &key)? {
            return Ok(Some(found));
        }
        table.primary_key.clone()
    } else {
        let Some(idx) = table.indexes.iter().find(|i| i.name == constraint) else {
            return Err(Error::internal(format!("no index {constraint}")));
        };
        let key: Vec<Value> = idx.columns.iter().map(|&c| row[c].clone()).collect();
        let range = KeyRange {
            start: Bound::Included(key.clone()),
            end: Bound::Included(key),
        };
        if let Some(found) = ctx.txn.scan_index(table.id, idx.id, range)?.next() {
            return Ok(Some(found?));
        }
        idx.columns.clone()
    };
    for item in ctx.txn.scan_latest(table.id)? {
        let (k, r) = item?;
        if cols
            .iter()
            .all(|&c| !r[c].is_null() && crate::scalar::values_equal(&r[c], &row[c]))
        {
            return Ok(Some((k, r)));
        }
    }
    Ok(None)
}

pub fn update(p: &PModify, ctx: &Arc<ExecCtx>) -> Result<DmlOutput> {
    let mut scan = ScanOp::open(p.scan.clone(), ctx)?;
    let mut rules = Rules::new(ctx);
    let mut out = Output::new(p.returning.as_ref());
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
        // With FROM, the SET values come from the correlated query's first row.
        let source = match &p.from {
            None => row.clone(),
            Some(f) => match first_row(f, &row, ctx)? {
                Some(r) => r,
                None => continue,
            },
        };
        let mut new_row = row.clone();
        for (i, e) in &p.sets {
            new_row[*i] = e.eval(&source, ctx)?;
        }
        rules.check_row(&p.table, &new_row)?;
        ctx.txn.update(p.table.id, &key, new_row.clone())?;
        rules.after_update(&p.table, &row, &new_row)?;
        rules.check_references(&p.table, &new_row, Some(&row))?;
        out.emit(&new_row, ctx)?;
    }
    rules.finish()?;
    Ok(out.finish())
}

pub fn delete(p: &PModify, ctx: &Arc<ExecCtx>) -> Result<DmlOutput> {
    let mut scan = ScanOp::open(p.scan.clone(), ctx)?;
    let mut rules = Rules::new(ctx);
    let mut out = Output::new(p.returning.as_ref());
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
        if let Some(u) = &p.from {
            if first_row(u, &row, ctx)?.is_none() {
                continue;
            }
        }
        ctx.txn.delete(p.table.id, &key)?;
        rules.after_delete(&p.table, &row)?;
        out.emit(&row, ctx)?;
    }
    rules.finish()?;
    Ok(out.finish())
}

/// The first row of a query correlated with `outer` (UPDATE … FROM, DELETE … USING).
fn first_row(plan: &Arc<PhysPlan>, outer: &Row, ctx: &Arc<ExecCtx>) -> Result<Option<Row>> {
    let inner = Arc::new(ctx.with_outer(outer.clone()));
    let mut op = open(plan, &inner)?;
    op.next()
}
