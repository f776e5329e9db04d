//! Table statistics and row estimates.
//!
//! `ANALYZE [table, …]` scans each table once and records its row count and, per column, the
//! number of distinct values and the fraction of NULLs ([`TableStats`]). The distinct count
//! is exact over the first [`SAMPLE_ROWS`] rows; beyond that it is scaled up when the sample
//! looks unique-ish (more than 90 % distinct), otherwise kept (a column with few values shows
//! all of them early) — a crude version of what PostgreSQL's sampling estimator does.
//!
//! Where the statistics live: in memory, per [`crate::Database`] ([`Statistics`], keyed by
//! table id, so a dropped and re-created table starts without), not persisted: after a restart
//! the planner falls back to its heuristics until the next ANALYZE. The optimizer reads them
//! through a thread-local that the session installs while it plans a statement
//! ([`install`]); code that plans without one (unit tests, DML helpers) gets the heuristics.
//!
//! Freshness: statistics are a snapshot of the table at ANALYZE time, as in PostgreSQL
//! without autovacuum; run ANALYZE after bulk changes.
//!
//! [`estimate`] gives the rows a logical plan node is expected to produce: a scan starts from
//! the table's row count (1000 without statistics) and each filter conjunct multiplies it by
//! a selectivity — `col = const` is 1/distinct (0.005 without statistics, PostgreSQL's
//! default), `IS NULL` the null fraction, ranges 1/3, other predicates 1/2; an equi-join is
//! |L|·|R| / max(distinct(l), distinct(r)); a GROUP BY yields the product of its columns'
//! distinct counts (200 each when unknown), capped by its input.

use crate::error::Result;
use crate::exec::hashkey::HashKey;
use crate::plan::{ColumnId, Expr, JoinKind, Plan, SetOpKind};
use crate::scalar::BinaryOp;
use parking_lot::RwLock;
use sledgres_storage::{TableDef, TableId, Transaction, Value};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Rows over which distinct values are counted exactly.
pub const SAMPLE_ROWS: usize = 30_000;
/// Rows assumed for a table never analysed.
pub const DEFAULT_ROWS: f64 = 1000.0;
const DEFAULT_EQ_SEL: f64 = 0.005;
const DEFAULT_RANGE_SEL: f64 = 1.0 / 3.0;
const DEFAULT_GROUPS_PER_COLUMN: f64 = 200.0;

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStats {
    pub distinct: f64,
    pub null_frac: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableStats {
    pub rows: f64,
    pub columns: Vec<ColumnStats>,
}

/// The statistics of one database, shared by its sessions.
#[derive(Clone, Default)]
pub struct Statistics(Arc<RwLock<HashMap<TableId, Arc<TableStats>>>>);

impl Statistics {
    pub fn get(&self, table: TableId) -> Option<Arc<TableStats>> {
        self.0.read().get(&table).cloned()
    }

    pub fn put(&self, table: TableId, stats: TableStats) {
        self.0.write().insert(table, Arc::new(stats));
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Statistics>> = const { RefCell::new(None) };
}

/// Makes `stats` the statistics the optimizer sees on this thread until the guard drops.
pub fn install(stats: Statistics) -> InstallGuard {
    let previous = CURRENT.with(|c| c.replace(Some(stats)));
    InstallGuard { previous }
}

pub struct InstallGuard {
    previous: Option<Statistics>,
}

impl Drop for InstallGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The installed statistics of a table, if any.
pub fn table_stats(table: TableId) -> Option<Arc<TableStats>> {
    CURRENT.with(|c| c.borrow().as_ref().and_then(|s| s.get(table)))
}

/// Whether any statistics are installed and known for this table.
pub fn has_stats(table: &TableDef) -> bool {
    table_stats(table.id).is_some()
}

/// ANALYZE: computes and stores the statistics of the named tables (every table when none
/// is named) in the `public` schema.
pub fn analyze_into(txn: &Transaction, names: &[String], into: &Statistics) -> Result<()> {
    let tables: Vec<Arc<TableDef>> = if names.is_empty() {
        txn.list_tables()?
    } else {
        let mut v = vec![];
        for n in names {
            if let Some(t) = txn.get_table("public", n)? {
                v.push(t);
            }
        }
        v
    };
    for t in tables {
        let s = analyze(txn, &t)?;
        tracing::debug!(table = %t.name, rows = s.rows, "analyzed");
        into.put(t.id, s);
    }
    Ok(())
}

/// Scans a table and computes its statistics.
pub fn analyze(txn: &Transaction, table: &TableDef) -> Result<TableStats> {
    let width = table.columns.len();
    let mut seen: Vec<HashSet<HashKey>> = (0..width).map(|_| HashSet::new()).collect();
    let mut nulls = vec![0u64; width];
    let mut rows = 0u64;
    for item in txn.scan(table.id)? {
        let (_, row) = item?;
        rows += 1;
        for (i, v) in row.iter().enumerate().take(width) {
            if v.is_null() {
                nulls[i] += 1;
            } else if (rows as usize) <= SAMPLE_ROWS {
                seen[i].insert(HashKey(vec![v.clone()]));
            }
        }
    }
    let sampled = (rows as usize).min(SAMPLE_ROWS) as f64;
    let columns = (0..width)
        .map(|i| {
            let d = seen[i].len() as f64;
            let non_null_sampled = sampled * (1.0 - nulls[i] as f64 / rows.max(1) as f64);
            let distinct = if rows as f64 > sampled && d > 0.9 * non_null_sampled {
                d * rows as f64 / sampled
            } else {
                d
            };
            ColumnStats {
                distinct: distinct.max(1.0),
                null_frac: if rows == 0 {
                    0.0
                } else {
                    nulls[i] as f64 / rows as f64
                },
            }
        })
        .collect();
    Ok(TableStats {
        rows: rows as f64,
        columns,
    })
}

/// What is known about the columns a plan's scans produce.
struct ColumnInfo {
    distinct: f64,
    null_frac: f64,
    /// The table's row count, to turn a unique-ish column into a distinct count.
    table_rows: f64,
}

fn column_info(plan: &Plan, out: &mut HashMap<ColumnId, ColumnInfo>) {
    if let Plan::Scan { table, cols, .. } = plan {
        if let Some(s) = table_stats(table.id) {
            for (i, id) in cols.iter().enumerate() {
                if let Some(c) = s.columns.get(i) {
                    out.insert(
                        *id,
                        ColumnInfo {
                            distinct: c.distinct,
                            null_frac: c.null_frac,
                            table_rows: s.rows,
                        },
                    );
                }
            }
        }
    }
    super::for_each_child(plan, &mut |c| column_info(c, out));
}

/// Estimated rows the plan produces.
pub fn estimate(plan: &Plan) -> f64 {
    let mut cols = HashMap::new();
    column_info(plan, &mut cols);
    est(plan, &cols).max(1.0).round()
}

fn distinct_of(e: &Expr, cols: &HashMap<ColumnId, ColumnInfo>) -> Option<f64> {
    match e {
        Expr::Column(id, _) => cols.get(id).map(|c| c.distinct.min(c.table_rows).max(1.0)),
        Expr::Cast(inner, _, _) => distinct_of(inner, cols),
        _ => None,
    }
}

fn is_const(e: &Expr) -> bool {
    e.column_set().is_empty() && !e.has_subquery()
}

/// The fraction of rows a predicate keeps.
fn selectivity(p: &Expr, cols: &HashMap<ColumnId, ColumnInfo>) -> f64 {
    match p {
        Expr::Call(_, args, Some(op)) if args.len() == 2 => {
            let (a, b) = (&args[0], &args[1]);
            let col_side = if is_const(b) {
                Some(a)
            } else if is_const(a) {
                Some(b)
            } else {
                None
            };
            match op {
                BinaryOp::Eq => match col_side {
                    Some(c) => distinct_of(c, cols).map_or(DEFAULT_EQ_SEL, |d| 1.0 / d),
                    None => match (distinct_of(a, cols), distinct_of(b, cols)) {
                        (Some(x), Some(y)) => 1.0 / x.max(y),
                        (Some(x), None) | (None, Some(x)) => 1.0 / x,
                        _ => DEFAULT_EQ_SEL,
                    },
                },
                BinaryOp::NotEq => match col_side.and_then(|c| distinct_of(c, cols)) {
                    Some(d) => 1.0 - 1.0 / d,
                    None => 1.0 - DEFAULT_EQ_SEL,
                },
                BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => DEFAULT_RANGE_SEL,
                _ => 0.5,
            }
        }
        Expr::IsNull(e) => match e.as_ref() {
            Expr::Column(id, _) => cols.get(id).map_or(DEFAULT_EQ_SEL, |c| c.null_frac),
            _ => DEFAULT_EQ_SEL,
        },
        Expr::IsNotNull(e) => match e.as_ref() {
            Expr::Column(id, _) => cols.get(id).map_or(1.0, |c| 1.0 - c.null_frac),
            _ => 1.0,
        },
        Expr::InList {
            expr,
            list,
            negated,
            ..
        } => {
            let one = distinct_of(expr, cols).map_or(DEFAULT_EQ_SEL, |d| 1.0 / d);
            let s = (one * list.len() as f64).min(1.0);
            if *negated {
                1.0 - s
            } else {
                s
            }
        }
        Expr::And(v) => v.iter().map(|e| selectivity(e, cols)).product(),
        Expr::Or(v) => {
            let keep_none: f64 = v.iter().map(|e| 1.0 - selectivity(e, cols)).product();
            1.0 - keep_none
        }
        Expr::Not(e) => 1.0 - selectivity(e, cols),
        Expr::Literal(Value::Bool(true), _) => 1.0,
        Expr::Literal(Value::Bool(false), _) | Expr::Literal(Value::Null, _) => 0.0,
        _ => 0.5,
    }
}

fn est(plan: &Plan, cols: &HashMap<ColumnId, ColumnInfo>) -> f64 {
    match plan {
        // Index selection keeps every conjunct in the filter, so the access path needs no
        // estimate of its own.
        Plan::Scan { table, filter, .. } => {
            let base = table_stats(table.id).map_or(DEFAULT_ROWS, |s| s.rows);
            let sel: f64 = filter.iter().map(|f| selectivity(f, cols)).product();
            base * sel
        }
        Plan::Values { rows, .. } => rows.len() as f64,
        Plan::Filter { input, predicate } => est(input, cols) * selectivity(predicate, cols),
        Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Window { input, .. }
        | Plan::WithCte { input, .. } => est(input, cols),
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let l = est(left, cols);
            let r = est(right, cols);
            let sel: f64 = on.iter().map(|p| selectivity(p, cols)).product();
            let inner = l * r * sel;
            match kind {
                JoinKind::Inner => inner,
                JoinKind::Left => inner.max(l),
                JoinKind::Full => inner.max(l + r),
            }
        }
        Plan::Aggregate { input, group, .. } => {
            if group.is_empty() {
                return 1.0;
            }
            let input = est(input, cols);
            let groups: f64 = group
                .iter()
                .map(|g| distinct_of(g, cols).unwrap_or(DEFAULT_GROUPS_PER_COLUMN))
                .product();
            groups.min(input)
        }
        Plan::Distinct { input } => {
            let input_rows = est(input, cols);
            (input_rows / 2.0).max(1.0).min(input_rows)
        }
        Plan::Limit { input, limit, .. } => {
            let n = est(input, cols);
            match limit {
                Some(Expr::Literal(Value::Int8(k), _)) => n.min(*k as f64),
                _ => n,
            }
        }
        Plan::SetOp {
            kind,
            all,
            left,
            right,
            ..
        } => {
            let (l, r) = (est(left, cols), est(right, cols));
            match (kind, all) {
                (SetOpKind::Union, true) => l + r,
                (SetOpKind::Union, false) => (l + r) / 2.0,
                (SetOpKind::Intersect, _) => l.min(r) / 2.0,
                (SetOpKind::Except, _) => l / 2.0,
            }
        }
        Plan::RecursiveUnion {
            anchor, recursive, ..
        } => est(anchor, cols) + 10.0 * est(recursive, cols),
        Plan::WorkTable { .. } => 10.0,
        Plan::FunctionScan { .. } => 1000.0,
    }
}

/// Estimated bytes per output row (for EXPLAIN's `width`), from the column types.
pub fn width(plan: &Plan) -> usize {
    plan.output()
        .iter()
        .map(|(_, t)| match t {
            sledgres_storage::DataType::Bool => 1,
            sledgres_storage::DataType::Int2 => 2,
            sledgres_storage::DataType::Int4 | sledgres_storage::DataType::Float4 => 4,
            sledgres_storage::DataType::Int8 | sledgres_storage::DataType::Float8 => 8,
            _ => 32,
        })
        .sum()
}
