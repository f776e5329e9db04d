//! Physical execution: the optimised logical plan compiled into a tree of pull-based
//! operators that stream rows.
//!
//! Compilation ([`compile_plan`]) happens once per prepared statement: column ids become row
//! positions, join conditions are split into hash keys and residual predicates, and the
//! result ([`PhysPlan`]) is immutable and shareable. Each execution [`open`]s it into fresh
//! operators; a correlated subquery opens its plan again for every outer row, with that
//! row pushed on [`ExecCtx::outer`]. Uncorrelated subquery results are cached per execution.
//!
//! Operators implement [`Operator::next`], one row at a time. Scans, filters, projections,
//! limits, hash-join probes and UNION ALL stream. Sorts (`sort.rs`), hash-join build sides,
//! hash aggregates and DISTINCT/UNION keep their state in memory up to `work_mem`
//! ([`ExecCtx::work_mem`]) and spill to temporary files beyond it (`spill.rs`: external
//! merge sort, hash partitioning, grace hash join). Still memory-only: the right sides of
//! INTERSECT/EXCEPT, nested-loop inner sides, window partitions and CTE work tables. Long
//! loops check the cancel flag every [`CANCEL_CHECK_INTERVAL`] rows. With
//! [`ExecCtx::instrument`] set (EXPLAIN ANALYZE) every operator is wrapped to count its rows,
//! loops and time (`instrument.rs`).
//!
//! FULL joins (hash or nested loop) flag the right rows that matched and emit the others
//! NULL-padded once the left input ends. A join whose right plan reads the left side's
//! columns (LATERAL) becomes an index-nested-loop-style [`PhysPlan::LookupJoin`]: the right
//! plan is opened per left row with that row as its outer row. `recursive.rs` runs WITH
//! RECURSIVE (work tables in [`ExecCtx::worktables`]), `window.rs` window functions.

pub mod dml;
pub mod expr;
pub(crate) mod hashkey;
pub mod instrument;
mod join;
mod ops;
mod recursive;
pub mod rowlock;
mod scan;
mod sort;
pub mod spill;
mod window;

use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Access, ColumnId, JoinKind, Plan, SetOpKind};
use crate::scalar::{self, BinaryOp};
use expr::{compile, Cached, Layout, PExpr};
use parking_lot::Mutex;
use sledgres_storage::{DataType, Row, TableDef, Transaction};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use scan::ScanOp;

pub const CANCEL_CHECK_INTERVAL: usize = 1024;

/// What one execution of a statement shares among its operators.
pub struct ExecCtx {
    pub txn: Transaction,
    pub params: Arc<Vec<sledgres_storage::Value>>,
    /// Current rows of the enclosing queries, innermost last.
    pub outer: Vec<Row>,
    pub cancel: Arc<AtomicBool>,
    pub cache: Arc<Mutex<HashMap<usize, Arc<Cached>>>>,
    /// `statement_timeout`: past this instant the statement fails with 57014.
    pub deadline: Option<std::time::Instant>,
    /// SELECT … FOR UPDATE: the tables whose scanned rows are locked (see `rowlock.rs`).
    pub row_locks: Option<Arc<rowlock::RowLocks>>,
    /// The current round's rows of each running WITH RECURSIVE (by RecursiveUnion id).
    pub worktables: Arc<Mutex<HashMap<usize, Arc<Vec<Row>>>>>,
    /// `work_mem` in bytes: the memory budget of each sort, hash table and DISTINCT before
    /// it spills to temporary files (`spill.rs`).
    pub work_mem: usize,
    /// EXPLAIN ANALYZE: where every opened operator reports its rows, loops and time.
    pub instrument: Option<Arc<instrument::Instrument>>,
}

/// PostgreSQL's default `work_mem`, 4MB.
pub const DEFAULT_WORK_MEM: usize = 4 << 20;

impl ExecCtx {
    pub fn new(
        txn: Transaction,
        params: Vec<sledgres_storage::Value>,
        cancel: Arc<AtomicBool>,
    ) -> Self {
        ExecCtx {
            txn,
            params: Arc::new(params),
            outer: vec![],
            cancel,
            cache: Arc::new(Mutex::new(HashMap::new())),
            deadline: None,
            row_locks: None,
            worktables: Default::default(),
            work_mem: DEFAULT_WORK_MEM,
            instrument: None,
        }
    }

    pub fn with_outer(&self, row: Row) -> Self {
        let mut outer = self.outer.clone();
        outer.push(row);
        ExecCtx {
            txn: self.txn.clone(),
            params: self.params.clone(),
            outer,
            cancel: self.cancel.clone(),
            cache: self.cache.clone(),
            deadline: self.deadline,
            row_locks: self.row_locks.clone(),
            worktables: self.worktables.clone(),
            work_mem: self.work_mem,
            instrument: self.instrument.clone(),
        }
    }

    pub fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::new(
                ErrorKind::QueryCanceled,
                "canceling statement due to user request",
            ));
        }
        if self.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(Error::new(
                ErrorKind::QueryCanceled,
                "canceling statement due to statement timeout",
            ));
        }
        Ok(())
    }
}

/// A pull-based operator.
pub trait Operator: Send {
    /// The next row, or `None` when exhausted.
    fn next(&mut self) -> Result<Option<Row>>;

    /// Rows read but rejected by the operator's own filter so far (EXPLAIN ANALYZE).
    fn removed_by_filter(&self) -> u64 {
        0
    }
}

pub type BoxOp = Box<dyn Operator>;

/// Compiled key bounds of an index or primary-key access.
#[derive(Debug, Clone)]
pub enum PAccess {
    Full,
    Range {
        index: Option<u32>,
        start: Option<(Vec<PExpr>, bool)>,
        end: Option<(Vec<PExpr>, bool)>,
    },
    InList {
        index: Option<u32>,
        values: Vec<PExpr>,
    },
}

/// A compiled plan node.
#[derive(Debug)]
pub enum PhysPlan {
    Scan {
        table: Arc<TableDef>,
        access: PAccess,
        filter: Option<PExpr>,
    },
    Values {
        rows: Vec<Vec<PExpr>>,
    },
    Filter {
        input: Arc<PhysPlan>,
        predicate: PExpr,
    },
    Project {
        input: Arc<PhysPlan>,
        exprs: Arc<Vec<PExpr>>,
    },
    /// Hash join: builds a table on the right input's keys, probes with the left's.
    HashJoin {
        left: Arc<PhysPlan>,
        right: Arc<PhysPlan>,
        left_keys: Arc<Vec<PExpr>>,
        right_keys: Arc<Vec<PExpr>>,
        /// Over the concatenated row.
        residual: Option<Arc<PExpr>>,
        kind: JoinKind,
        right_width: usize,
        left_width: usize,
    },
    /// Index nested loop: the right plan is opened once per left row, with that row as its
    /// nearest outer row (its key bounds read the left row's columns).
    LookupJoin {
        left: Arc<PhysPlan>,
        right: Arc<PhysPlan>,
        on: Option<Arc<PExpr>>,
        kind: JoinKind,
        right_width: usize,
    },
    NestedLoop {
        left: Arc<PhysPlan>,
        right: Arc<PhysPlan>,
        on: Option<Arc<PExpr>>,
        kind: JoinKind,
        right_width: usize,
        left_width: usize,
    },
    Aggregate {
        input: Arc<PhysPlan>,
        group: Arc<Vec<PExpr>>,
        aggs: Arc<Vec<ops::PAgg>>,
    },
    Sort {
        input: Arc<PhysPlan>,
        keys: Arc<Vec<(PExpr, bool, bool)>>,
    },
    Limit {
        input: Arc<PhysPlan>,
        limit: Option<PExpr>,
        offset: Option<PExpr>,
    },
    Distinct {
        input: Arc<PhysPlan>,
    },
    SetOp {
        kind: SetOpKind,
        all: bool,
        left: Arc<PhysPlan>,
        right: Arc<PhysPlan>,
    },
    RecursiveUnion {
        id: usize,
        all: bool,
        anchor: Arc<PhysPlan>,
        recursive: Arc<PhysPlan>,
    },
    WorkTable {
        id: usize,
    },
    /// A set-returning function in FROM; `int8` chooses the output type of generate_series.
    FunctionScan {
        func: crate::plan::TableFunc,
        args: Vec<PExpr>,
        int8: bool,
    },
    Window {
        input: Arc<PhysPlan>,
        calls: Arc<Vec<window::PWindow>>,
    },
    WithCte {
        id: usize,
        cte: Arc<PhysPlan>,
        input: Arc<PhysPlan>,
    },
}

/// Compiles a logical plan; `outer` are the layouts of the enclosing queries' rows.
pub fn compile_plan(plan: &Plan, outer: &[Vec<ColumnId>]) -> Result<PhysPlan> {
    crate::grow_stack(|| compile_plan_inner(plan, outer))
}

fn compile_plan_inner(plan: &Plan, outer: &[Vec<ColumnId>]) -> Result<PhysPlan> {
    let layout_of = |p: &Plan| Layout::new(p.output_ids(), outer);
    Ok(match plan {
        Plan::Scan {
            table,
            cols,
            filter,
            access,
        } => {
            let layout = Layout::new(cols.clone(), outer);
            let konst = Layout::new(vec![], outer);
            let bound = |b: &Option<(Vec<crate::plan::Expr>, bool)>| -> Result<_> {
                b.as_ref()
                    .map(|(v, inc)| {
                        Ok::<_, Error>((
                            v.iter()
                                .map(|e| compile(e, &konst))
                                .collect::<Result<Vec<_>>>()?,
                            *inc,
                        ))
                    })
                    .transpose()
            };
            let access = match access {
                Access::Full => PAccess::Full,
                Access::Range { index, start, end } => PAccess::Range {
                    index: *index,
                    start: bound(start)?,
                    end: bound(end)?,
                },
                Access::InList { index, values } => PAccess::InList {
                    index: *index,
                    values: values
                        .iter()
                        .map(|e| compile(e, &konst))
                        .collect::<Result<_>>()?,
                },
            };
            let filter = crate::plan::Expr::and_all(filter.clone())
                .map(|f| compile(&f, &layout))
                .transpose()?;
            PhysPlan::Scan {
                table: table.clone(),
                access,
                filter,
            }
        }
        Plan::Values { rows, .. } => {
            let konst = Layout::new(vec![], outer);
            PhysPlan::Values {
                rows: rows
                    .iter()
                    .map(|r| r.iter().map(|e| compile(e, &konst)).collect())
                    .collect::<Result<_>>()?,
            }
        }
        Plan::Filter { input, predicate } => PhysPlan::Filter {
            predicate: compile(predicate, &layout_of(input))?,
            input: Arc::new(compile_plan(input, outer)?),
        },
        Plan::Project { input, exprs, .. } => {
            let l = layout_of(input);
            PhysPlan::Project {
                exprs: Arc::new(
                    exprs
                        .iter()
                        .map(|e| compile(e, &l))
                        .collect::<Result<_>>()?,
                ),
                input: Arc::new(compile_plan(input, outer)?),
            }
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => compile_join(left, right, *kind, on, outer)?,
        Plan::Aggregate {
            input, group, aggs, ..
        } => {
            let l = layout_of(input);
            PhysPlan::Aggregate {
                group: Arc::new(
                    group
                        .iter()
                        .map(|e| compile(e, &l))
                        .collect::<Result<_>>()?,
                ),
                aggs: Arc::new(
                    aggs.iter()
                        .map(|a| {
                            Ok(ops::PAgg {
                                func: a.func.clone(),
                                args: a
                                    .args
                                    .iter()
                                    .map(|e| compile(e, &l))
                                    .collect::<Result<_>>()?,
                                distinct: a.distinct,
                                filter: a.filter.as_ref().map(|f| compile(f, &l)).transpose()?,
                                order: a
                                    .order
                                    .iter()
                                    .map(|k| Ok((compile(&k.expr, &l)?, k.desc, k.nulls_first)))
                                    .collect::<Result<_>>()?,
                            })
                        })
                        .collect::<Result<_>>()?,
                ),
                input: Arc::new(compile_plan(input, outer)?),
            }
        }
        Plan::Sort { input, keys } => {
            let l = layout_of(input);
            PhysPlan::Sort {
                keys: Arc::new(
                    keys.iter()
                        .map(|k| Ok((compile(&k.expr, &l)?, k.desc, k.nulls_first)))
                        .collect::<Result<_>>()?,
                ),
                input: Arc::new(compile_plan(input, outer)?),
            }
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            let konst = Layout::new(vec![], outer);
            PhysPlan::Limit {
                limit: limit.as_ref().map(|e| compile(e, &konst)).transpose()?,
                offset: offset.as_ref().map(|e| compile(e, &konst)).transpose()?,
                input: Arc::new(compile_plan(input, outer)?),
            }
        }
        Plan::Distinct { input } => PhysPlan::Distinct {
            input: Arc::new(compile_plan(input, outer)?),
        },
        Plan::SetOp {
            kind,
            all,
            left,
            right,
            ..
        } => PhysPlan::SetOp {
            kind: *kind,
            all: *all,
            left: Arc::new(compile_plan(left, outer)?),
            right: Arc::new(compile_plan(right, outer)?),
        },
        Plan::RecursiveUnion {
            id,
            all,
            anchor,
            recursive,
            ..
        } => PhysPlan::RecursiveUnion {
            id: *id,
            all: *all,
            anchor: Arc::new(compile_plan(anchor, outer)?),
            recursive: Arc::new(compile_plan(recursive, outer)?),
        },
        Plan::WorkTable { id, .. } => PhysPlan::WorkTable { id: *id },
        Plan::FunctionScan { func, args, cols } => {
            let konst = Layout::new(vec![], outer);
            PhysPlan::FunctionScan {
                func: *func,
                args: args
                    .iter()
                    .map(|e| compile(e, &konst))
                    .collect::<Result<_>>()?,
                int8: matches!(cols.first(), Some((_, DataType::Int8))),
            }
        }
        Plan::WithCte { id, cte, input } => PhysPlan::WithCte {
            id: *id,
            cte: Arc::new(compile_plan(cte, outer)?),
            input: Arc::new(compile_plan(input, outer)?),
        },
        Plan::Window { input, calls, .. } => {
            use crate::plan::window::{FrameBound, WinFunc};
            let l = layout_of(input);
            let bound = |b: &FrameBound| -> Result<window::PBound> {
                Ok(match b {
                    FrameBound::UnboundedPreceding => window::PBound::UnboundedPreceding,
                    FrameBound::Preceding(e) => window::PBound::Preceding(compile(e, &l)?),
                    FrameBound::CurrentRow => window::PBound::CurrentRow,
                    FrameBound::Following(e) => window::PBound::Following(compile(e, &l)?),
                    FrameBound::UnboundedFollowing => window::PBound::UnboundedFollowing,
                })
            };
            let many = |es: &[crate::plan::Expr]| -> Result<Vec<PExpr>> {
                es.iter().map(|e| compile(e, &l)).collect()
            };
            let calls = calls
                .iter()
                .map(|c| {
                    Ok(window::PWindow {
                        filter: match &c.func {
                            WinFunc::Agg(_, Some(f)) => Some(compile(f, &l)?),
                            _ => None,
                        },
                        func: c.func.clone(),
                        args: many(&c.args)?,
                        partition: many(&c.partition)?,
                        order: c
                            .order
                            .iter()
                            .map(|k| Ok((compile(&k.expr, &l)?, k.desc, k.nulls_first)))
                            .collect::<Result<_>>()?,
                        mode: c.mode,
                        start: bound(&c.start)?,
                        end: bound(&c.end)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            PhysPlan::Window {
                input: Arc::new(compile_plan(input, outer)?),
                calls: Arc::new(calls),
            }
        }
    })
}

/// Splits join conditions into hash keys (`l = r` with one side over each input and equal
/// types, so hashing agrees with equality) and a residual predicate.
fn compile_join(
    left: &Plan,
    right: &Plan,
    kind: JoinKind,
    on: &[crate::plan::Expr],
    outer: &[Vec<ColumnId>],
) -> Result<PhysPlan> {
    use crate::plan::Expr;
    let lids = left.output_ids();
    let rids = right.output_ids();
    let right_width = rids.len();
    let left_width = lids.len();
    let mut both = lids.clone();
    both.extend(rids.iter().copied());
    let local_only = |e: &Expr, ids: &[ColumnId], other: &[ColumnId]| {
        let cols = e.column_set();
        cols.iter().any(|c| ids.contains(c))
            && !cols.iter().any(|c| other.contains(c))
            && !e.has_subquery()
    };
    let mut lkeys = vec![];
    let mut rkeys = vec![];
    let mut residual = vec![];
    for p in on {
        if let Expr::Call(res, args, Some(BinaryOp::Eq)) = p {
            if args.len() == 2 && res.arg_types.first() == res.arg_types.get(1) {
                let (a, b) = (&args[0], &args[1]);
                if local_only(a, &lids, &rids) && local_only(b, &rids, &lids) {
                    lkeys.push(a.clone());
                    rkeys.push(b.clone());
                    continue;
                }
                if local_only(b, &lids, &rids) && local_only(a, &rids, &lids) {
                    lkeys.push(b.clone());
                    rkeys.push(a.clone());
                    continue;
                }
            }
        }
        residual.push(p.clone());
    }
    let both_layout = Layout::new(both, outer);
    if crate::optimizer::plan_reads(right, &lids) {
        // LATERAL: the right plan runs once per left row, reading it as its outer row.
        let on = Expr::and_all(on.to_vec())
            .map(|e| compile(&e, &both_layout).map(Arc::new))
            .transpose()?;
        let mut right_outer = outer.to_vec();
        right_outer.push(lids.clone());
        if kind == JoinKind::Full {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "FULL JOIN is only supported with merge-joinable or hash-joinable join conditions",
            ));
        }
        return Ok(PhysPlan::LookupJoin {
            left: Arc::new(compile_plan(left, outer)?),
            right: Arc::new(compile_plan(right, &right_outer)?),
            on,
            kind,
            right_width,
        });
    }
    if let (Plan::Scan { access, .. }, false) = (right, kind == JoinKind::Full) {
        let reads_left = |e: &Expr| e.column_set().iter().any(|c| lids.contains(c));
        if crate::optimizer::index_select::access_reads(access, &reads_left) {
            let on = Expr::and_all(on.to_vec())
                .map(|e| compile(&e, &both_layout).map(Arc::new))
                .transpose()?;
            let mut right_outer = outer.to_vec();
            right_outer.push(lids.clone());
            return Ok(PhysPlan::LookupJoin {
                left: Arc::new(compile_plan(left, outer)?),
                right: Arc::new(compile_plan(right, &right_outer)?),
                on,
                kind,
                right_width,
            });
        }
    }
    let residual = Expr::and_all(residual)
        .map(|e| compile(&e, &both_layout).map(Arc::new))
        .transpose()?;
    let lp = Arc::new(compile_plan(left, outer)?);
    let rp = Arc::new(compile_plan(right, outer)?);
    if lkeys.is_empty() {
        return Ok(PhysPlan::NestedLoop {
            left: lp,
            right: rp,
            on: residual,
            kind,
            right_width,
            left_width,
        });
    }
    let ll = Layout::new(lids, outer);
    let rl = Layout::new(rids, outer);
    Ok(PhysPlan::HashJoin {
        left: lp,
        right: rp,
        left_keys: Arc::new(
            lkeys
                .iter()
                .map(|e| compile(e, &ll))
                .collect::<Result<_>>()?,
        ),
        right_keys: Arc::new(
            rkeys
                .iter()
                .map(|e| compile(e, &rl))
                .collect::<Result<_>>()?,
        ),
        residual,
        kind,
        right_width,
        left_width,
    })
}

/// Opens a compiled plan for one execution (instrumented for EXPLAIN ANALYZE when the
/// context asks for it).
pub fn open(plan: &Arc<PhysPlan>, ctx: &Arc<ExecCtx>) -> Result<BoxOp> {
    ctx.check_cancel()?;
    let Some(instrument) = &ctx.instrument else {
        return open_node(plan, ctx);
    };
    let t = std::time::Instant::now();
    let op = open_node(plan, ctx)?;
    Ok(Box::new(instrument::Instrumented::new(
        op,
        plan,
        instrument.clone(),
        t.elapsed(),
    )))
}

fn open_node(plan: &Arc<PhysPlan>, ctx: &Arc<ExecCtx>) -> Result<BoxOp> {
    Ok(match &**plan {
        PhysPlan::Scan { .. } => Box::new(ScanOp::open(plan.clone(), ctx)?),
        PhysPlan::Values { rows } => Box::new(ops::ValuesOp::new(rows, ctx)?),
        PhysPlan::Filter { input, .. } => Box::new(ops::FilterOp {
            node: plan.clone(),
            input: open(input, ctx)?,
            ctx: ctx.clone(),
            removed: 0,
        }),
        PhysPlan::Project { input, exprs } => Box::new(ops::ProjectOp {
            exprs: exprs.clone(),
            input: open(input, ctx)?,
            ctx: ctx.clone(),
        }),
        PhysPlan::HashJoin { .. } => join::HashJoinOp::open(plan.clone(), ctx)?,
        PhysPlan::NestedLoop { .. } => Box::new(join::NestedLoopOp::open(plan.clone(), ctx)?),
        PhysPlan::LookupJoin { .. } => Box::new(join::LookupJoinOp::open(plan.clone(), ctx)?),
        PhysPlan::Aggregate { input, group, aggs } => {
            ops::aggregate(open(input, ctx)?, group.clone(), aggs.clone(), ctx)?
        }
        PhysPlan::Sort { input, keys } => sort::sort(open(input, ctx)?, keys.clone(), ctx)?,
        PhysPlan::Limit {
            input,
            limit,
            offset,
        } => Box::new(ops::LimitOp::new(open(input, ctx)?, limit, offset, ctx)?),
        PhysPlan::Distinct { input } => Box::new(ops::DistinctOp::new(open(input, ctx)?, ctx)),
        PhysPlan::SetOp {
            kind,
            all,
            left,
            right,
        } => ops::set_op(*kind, *all, open(left, ctx)?, open(right, ctx)?, ctx)?,
        PhysPlan::RecursiveUnion {
            id,
            all,
            anchor,
            recursive,
        } => Box::new(recursive::recursive_union(
            *id, *all, anchor, recursive, ctx,
        )?),
        PhysPlan::Window { input, calls } => {
            Box::new(window::window(open(input, ctx)?, calls, ctx)?)
        }
        PhysPlan::WithCte { id, cte, input } => {
            let mut rows = vec![];
            let mut c = open(cte, ctx)?;
            while let Some(r) = c.next()? {
                if rows.len().is_multiple_of(CANCEL_CHECK_INTERVAL) {
                    ctx.check_cancel()?;
                }
                rows.push(r);
            }
            ctx.worktables.lock().insert(*id, Arc::new(rows));
            open(input, ctx)?
        }
        PhysPlan::FunctionScan { func, args, int8 } => {
            Box::new(ops::SeriesOp::new(*func, args, *int8, ctx)?)
        }
        PhysPlan::WorkTable { id } => {
            let rows = ctx.worktables.lock().get(id).cloned().unwrap_or_default();
            Box::new(recursive::WorkTableOp { rows, pos: 0 })
        }
    })
}

/// The result type of each column, as the logical plan says (kept for callers that need it).
pub fn output_types(plan: &Plan) -> Vec<DataType> {
    plan.output().into_iter().map(|(_, t)| t).collect()
}

#[allow(dead_code)]
fn unused(_: &scalar::CastContext) {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An execution context over an empty in-memory store, for operator tests.
    pub fn ctx() -> Arc<ExecCtx> {
        let store = sledgres_storage::Store::open_in_memory().unwrap();
        let txn = store.begin(Default::default()).unwrap();
        Arc::new(ExecCtx::new(txn, vec![], Arc::new(AtomicBool::new(false))))
    }
}
