//! The logical plan: what a statement computes, as a tree of relational operators over
//! bound expressions ([`expr`]). The binder builds it from the AST, the optimizer rewrites it
//! (`optimizer/`), and the executor compiles it into streaming operators (`exec/`).
//!
//! Every node produces rows whose columns are identified by [`ColumnId`]s ([`Plan::output`]),
//! so rules can move nodes around without renumbering column references.

pub mod explain;
pub mod expr;
pub mod window;

pub use expr::{AggCall, ColumnId, Expr, Subquery, SubqueryKind};

use sledgres_storage::{DataType, IndexId, TableDef};
use std::sync::Arc;

/// How a scan reaches its rows.
#[derive(Clone, Debug)]
pub enum Access {
    /// Every row of the table.
    Full,
    /// Rows whose primary key (or index key, with `index`) lies between the bounds. Each
    /// bound is a prefix of key values (row-independent expressions); `None` is unbounded.
    Range {
        index: Option<IndexId>,
        start: Option<(Vec<Expr>, bool)>,
        end: Option<(Vec<Expr>, bool)>,
    },
    /// One range scan per IN-list value on the leading key column (equality each).
    InList {
        index: Option<IndexId>,
        values: Vec<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    /// FULL OUTER: unmatched rows of either side, padded with NULLs. (RIGHT joins are LEFT
    /// joins with the inputs swapped.)
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

#[derive(Clone, Debug)]
pub struct SortKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Clone, Debug)]
pub enum Plan {
    /// A table scan with pushed-down filter conjuncts.
    Scan {
        table: Arc<TableDef>,
        /// One id per table column.
        cols: Vec<ColumnId>,
        filter: Vec<Expr>,
        access: Access,
    },
    /// Literal rows (VALUES, or SELECT without FROM as one empty row).
    Values {
        cols: Vec<(ColumnId, DataType)>,
        rows: Vec<Vec<Expr>>,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
        cols: Vec<ColumnId>,
    },
    /// Join; `on` conjuncts. Inner joins with an empty `on` are cross products.
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Vec<Expr>,
    },
    /// Group rows by `group` and compute `aggs`; output is the group columns then the
    /// aggregate columns.
    Aggregate {
        input: Box<Plan>,
        group: Vec<Expr>,
        group_cols: Vec<ColumnId>,
        aggs: Vec<AggCall>,
        agg_cols: Vec<ColumnId>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    Distinct {
        input: Box<Plan>,
    },
    SetOp {
        kind: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
        cols: Vec<(ColumnId, DataType)>,
    },
    /// WITH RECURSIVE: the anchor's rows, then the recursive term run again and again over
    /// the rows the previous round produced (its [`Plan::WorkTable`] with the same `id`),
    /// until a round produces nothing new. `all` is UNION ALL (else duplicates are dropped).
    RecursiveUnion {
        id: usize,
        all: bool,
        anchor: Box<Plan>,
        recursive: Box<Plan>,
        cols: Vec<(ColumnId, DataType)>,
    },
    /// Window functions: the input's columns, then one column per call.
    Window {
        input: Box<Plan>,
        calls: Vec<window::WindowCall>,
        cols: Vec<ColumnId>,
    },
    /// Computes `cte` once, as work table `id`, then runs `input` (whose WorkTable scans
    /// with that id read it): a CTE referenced in a query, materialised once per execution.
    WithCte {
        id: usize,
        cte: Box<Plan>,
        input: Box<Plan>,
    },
    /// The rows of work table `id`: the previous round of the enclosing RecursiveUnion, or
    /// a materialised CTE (WithCte).
    WorkTable {
        id: usize,
        cols: Vec<(ColumnId, DataType)>,
    },
    /// A set-returning function in FROM (`generate_series(1, n) AS g`), its arguments
    /// evaluated once per execution (they may read outer rows, like VALUES).
    FunctionScan {
        func: TableFunc,
        args: Vec<Expr>,
        cols: Vec<(ColumnId, DataType)>,
    },
}

/// The set-returning functions FROM accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFunc {
    /// generate_series(start, stop [, step]) over int4 or int8.
    GenerateSeries,
}

impl TableFunc {
    pub fn name(self) -> &'static str {
        match self {
            TableFunc::GenerateSeries => "generate_series",
        }
    }
}

impl Plan {
    /// The plan's output columns, in row order.
    pub fn output(&self) -> Vec<(ColumnId, DataType)> {
        match self {
            Plan::Scan { table, cols, .. } => cols
                .iter()
                .zip(&table.columns)
                .map(|(id, c)| (*id, c.data_type.clone()))
                .collect(),
            Plan::Values { cols, .. }
            | Plan::SetOp { cols, .. }
            | Plan::RecursiveUnion { cols, .. }
            | Plan::WorkTable { cols, .. }
            | Plan::FunctionScan { cols, .. } => cols.clone(),
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input } => input.output(),
            Plan::Project { exprs, cols, .. } => cols
                .iter()
                .zip(exprs)
                .map(|(id, e)| (*id, e.ty_or_text()))
                .collect(),
            Plan::WithCte { input, .. } => input.output(),
            Plan::Window { input, calls, cols } => {
                let mut v = input.output();
                v.extend(cols.iter().zip(calls).map(|(id, c)| (*id, c.ty.clone())));
                v
            }
            Plan::Join { left, right, .. } => {
                let mut v = left.output();
                v.extend(right.output());
                v
            }
            Plan::Aggregate {
                group,
                group_cols,
                aggs,
                agg_cols,
                ..
            } => group_cols
                .iter()
                .zip(group)
                .map(|(id, e)| (*id, e.ty_or_text()))
                .chain(
                    agg_cols
                        .iter()
                        .zip(aggs)
                        .map(|(id, a)| (*id, a.func.result_type.clone())),
                )
                .collect(),
        }
    }

    pub fn output_ids(&self) -> Vec<ColumnId> {
        self.output().into_iter().map(|(id, _)| id).collect()
    }
}

/// Renames column ids throughout a plan, including inside subqueries (their plans and their
/// outer references). Used when a correlated subquery of an aggregated query must read the
/// Aggregate node's group column instead of the input column it was bound to.
pub fn remap_columns(
    plan: &mut Plan,
    map: &std::collections::HashMap<ColumnId, ColumnId>,
) -> crate::Result<()> {
    crate::optimizer::for_each_expr_mut(plan, &mut |e| {
        let taken = std::mem::replace(e, Expr::Unknown(None));
        *e = remap_expr(taken, map)?;
        Ok(())
    })
}

pub fn remap_expr(
    e: Expr,
    map: &std::collections::HashMap<ColumnId, ColumnId>,
) -> crate::Result<Expr> {
    match e {
        Expr::Column(id, ty) => Ok(Expr::Column(*map.get(&id).unwrap_or(&id), ty)),
        Expr::Subquery(mut s) => {
            for r in s.outer_refs.iter_mut() {
                if let Some(n) = map.get(r) {
                    *r = *n;
                }
            }
            remap_columns(&mut s.plan, map)?;
            Expr::Subquery(s).map_children(&mut |c| remap_expr(c, map))
        }
        e => e.map_children(&mut |c| remap_expr(c, map)),
    }
}
