//! Logical plan rewrites. Each rule is one file implementing [`Rule`]; [`optimize`] runs
//! them in order on a plan and, recursively, on the plans of its subqueries.
//!
//! - [`constant_fold::ConstantFold`]: evaluates operators over literals, simplifies
//!   AND/OR/NOT with constant operands, drops filters that are always true.
//! - [`join_order::JoinOrder`]: splits WHERE/ON conjunctions, pushes single-relation
//!   predicates into scans, and orders inner joins greedily along equality predicates so
//!   that no cross product is built while a connected relation remains.
//! - [`index_select::IndexSelect`]: turns equality / range / IN predicates on a primary key
//!   or index prefix into a key-range access path.
//!
//! - [`stats`]: not a rule — the statistics ANALYZE collects and the row estimates that join
//!   ordering (and EXPLAIN) use; without statistics, fixed selectivities per predicate shape.
//!
//! Not done yet: folding of immutable function calls (needs volatility in `scalar::`).

mod constant_fold;
pub(crate) mod index_select;
mod join_order;
pub mod stats;
#[cfg(test)]
mod tests;

use crate::error::Result;
use crate::plan::{Expr, Plan};

/// One rewrite of the logical plan.
pub trait Rule {
    fn name(&self) -> &'static str;
    fn apply(&self, plan: Plan) -> Result<Plan>;
}

/// Runs every rule, then optimises the plans of subqueries found in expressions.
pub fn optimize(plan: Plan) -> Result<Plan> {
    let rules: [&dyn Rule; 3] = [
        &constant_fold::ConstantFold,
        &join_order::JoinOrder,
        &index_select::IndexSelect,
    ];
    let mut plan = plan;
    for r in rules {
        plan = r.apply(plan)?;
        tracing::trace!(rule = r.name(), "applied");
    }
    for_each_expr_mut(&mut plan, &mut |e| optimize_subqueries(e))?;
    Ok(plan)
}

fn optimize_subqueries(e: &mut Expr) -> Result<()> {
    let taken = std::mem::replace(e, Expr::Unknown(None));
    *e = rewrite_subqueries(taken)?;
    Ok(())
}

fn rewrite_subqueries(e: Expr) -> Result<Expr> {
    match e {
        Expr::Subquery(mut s) => {
            let plan = std::mem::replace(
                &mut s.plan,
                Plan::Values {
                    cols: vec![],
                    rows: vec![],
                },
            );
            s.plan = optimize(plan)?;
            Expr::Subquery(s).map_children(&mut rewrite_subqueries)
        }
        e => e.map_children(&mut rewrite_subqueries),
    }
}

/// Calls `f` on every expression held by the plan's nodes (not inside subquery plans).
pub fn for_each_expr_mut(
    plan: &mut Plan,
    f: &mut dyn FnMut(&mut Expr) -> Result<()>,
) -> Result<()> {
    match plan {
        Plan::Scan { filter, access, .. } => {
            for e in filter {
                f(e)?;
            }
            match access {
                crate::plan::Access::Full => {}
                crate::plan::Access::Range { start, end, .. } => {
                    for (v, _) in start.iter_mut().chain(end.iter_mut()) {
                        for e in v {
                            f(e)?;
                        }
                    }
                }
                crate::plan::Access::InList { values, .. } => {
                    for e in values {
                        f(e)?;
                    }
                }
            }
        }
        Plan::Values { rows, .. } => {
            for r in rows {
                for e in r {
                    f(e)?;
                }
            }
        }
        Plan::FunctionScan { args, .. } => {
            for e in args {
                f(e)?;
            }
        }
        Plan::Filter { input, predicate } => {
            f(predicate)?;
            for_each_expr_mut(input, f)?;
        }
        Plan::Project { input, exprs, .. } => {
            for e in exprs {
                f(e)?;
            }
            for_each_expr_mut(input, f)?;
        }
        Plan::Join {
            left, right, on, ..
        } => {
            for e in on {
                f(e)?;
            }
            for_each_expr_mut(left, f)?;
            for_each_expr_mut(right, f)?;
        }
        Plan::Aggregate {
            input, group, aggs, ..
        } => {
            for e in group {
                f(e)?;
            }
            for a in aggs {
                for e in a
                    .args
                    .iter_mut()
                    .chain(a.filter.iter_mut())
                    .chain(a.order.iter_mut().map(|k| &mut k.expr))
                {
                    f(e)?;
                }
            }
            for_each_expr_mut(input, f)?;
        }
        Plan::Sort { input, keys } => {
            for k in keys {
                f(&mut k.expr)?;
            }
            for_each_expr_mut(input, f)?;
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            for e in limit.iter_mut().chain(offset.iter_mut()) {
                f(e)?;
            }
            for_each_expr_mut(input, f)?;
        }
        Plan::Distinct { input } => for_each_expr_mut(input, f)?,
        Plan::SetOp { left, right, .. }
        | Plan::RecursiveUnion {
            anchor: left,
            recursive: right,
            ..
        } => {
            for_each_expr_mut(left, f)?;
            for_each_expr_mut(right, f)?;
        }
        Plan::WorkTable { .. } => {}
        Plan::WithCte { cte, input, .. } => {
            for_each_expr_mut(cte, f)?;
            for_each_expr_mut(input, f)?;
        }
        Plan::Window { input, calls, .. } => {
            for c in calls {
                for e in c.exprs_mut() {
                    f(e)?;
                }
            }
            for_each_expr_mut(input, f)?;
        }
    }
    Ok(())
}

/// Rebuilds a plan with `f` applied to each direct child plan.
pub fn map_inputs(plan: Plan, f: &mut dyn FnMut(Plan) -> Result<Plan>) -> Result<Plan> {
    let b = |p: Box<Plan>, f: &mut dyn FnMut(Plan) -> Result<Plan>| -> Result<Box<Plan>> {
        Ok(Box::new(f(*p)?))
    };
    Ok(match plan {
        p @ (Plan::Scan { .. }
        | Plan::Values { .. }
        | Plan::WorkTable { .. }
        | Plan::FunctionScan { .. }) => p,
        Plan::Window { input, calls, cols } => Plan::Window {
            input: b(input, f)?,
            calls,
            cols,
        },
        Plan::WithCte { id, cte, input } => Plan::WithCte {
            id,
            cte: b(cte, f)?,
            input: b(input, f)?,
        },
        Plan::RecursiveUnion {
            id,
            all,
            anchor,
            recursive,
            cols,
        } => Plan::RecursiveUnion {
            id,
            all,
            anchor: b(anchor, f)?,
            recursive: b(recursive, f)?,
            cols,
        },
        Plan::Filter { input, predicate } => Plan::Filter {
            input: b(input, f)?,
            predicate,
        },
        Plan::Project { input, exprs, cols } => Plan::Project {
            input: b(input, f)?,
            exprs,
            cols,
        },
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => Plan::Join {
            left: b(left, f)?,
            right: b(right, f)?,
            kind,
            on,
        },
        Plan::Aggregate {
            input,
            group,
            group_cols,
            aggs,
            agg_cols,
        } => Plan::Aggregate {
            input: b(input, f)?,
            group,
            group_cols,
            aggs,
            agg_cols,
        },
        Plan::Sort { input, keys } => Plan::Sort {
            input: b(input, f)?,
            keys,
        },
        Plan::Limit {
            input,
            limit,
            offset,
        } => Plan::Limit {
            input: b(input, f)?,
            limit,
            offset,
        },
        Plan::Distinct { input } => Plan::Distinct {
            input: b(input, f)?,
        },
        Plan::SetOp {
            kind,
            all,
            left,
            right,
            cols,
        } => Plan::SetOp {
            kind,
            all,
            left: b(left, f)?,
            right: b(right, f)?,
            cols,
        },
    })
}

/// Calls `f` on each direct child plan.
pub fn for_each_child(plan: &Plan, f: &mut dyn FnMut(&Plan)) {
    match plan {
        Plan::Scan { .. }
        | Plan::Values { .. }
        | Plan::WorkTable { .. }
        | Plan::FunctionScan { .. } => {}
        Plan::RecursiveUnion {
            anchor, recursive, ..
        } => {
            f(anchor);
            f(recursive);
        }
        Plan::WithCte { cte, input, .. } => {
            f(cte);
            f(input);
        }
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input }
        | Plan::Window { input, .. } => f(input),
        Plan::Join { left, right, .. } | Plan::SetOp { left, right, .. } => {
            f(left);
            f(right);
        }
    }
}

/// Whether any expression in `plan` reads one of `ids` — for a join's right input, that it
/// is LATERAL: it must be evaluated once per left row, with that row as its outer row.
pub fn plan_reads(plan: &Plan, ids: &[crate::plan::ColumnId]) -> bool {
    let mut copy = plan.clone();
    let mut found = false;
    let _ = for_each_expr_mut(&mut copy, &mut |e| {
        if e.column_set().iter().any(|c| ids.contains(c)) {
            found = true;
        }
        Ok(())
    });
    found
}
