//! Predicate pushdown and greedy join ordering for inner joins.
//!
//! A tree of inner joins (comma joins, CROSS JOIN, INNER JOIN … ON) and the filters above it
//! is flattened into a set of *relations* (scans, or anything that is not an inner join:
//! LEFT joins, derived tables, aggregates) and a list of *conjuncts* (WHERE and ON
//! predicates split at AND). Then:
//!
//! 1. A conjunct that reads one relation's columns (outer-query columns count as constants)
//!    is pushed into it: into the scan's filter, or as a Filter above anything else.
//! 2. The join order is built greedily: start with the relation with the smallest estimate,
//!    then repeatedly add the cheapest relation connected to the joined set by an equality
//!    conjunct (a hash join key), falling back to any connected conjunct, and only when
//!    nothing is connected to a cross product with the smallest relation. Each conjunct is
//!    attached to the first join where all its relations are present.
//!
//! Estimates: with statistics (ANALYZE, `stats.rs`) on every table of a relation, its
//! estimated rows; otherwise a scan starts at 1000 rows and each pushed conjunct divides it
//! (equality with a constant much more than other predicates) — enough to start from the
//! relation a query pins down and to follow the join graph from there. With statistics on
//! both sides, the bigger input of each join goes left (probe side) and the smaller right
//! (the hash join's build side).

use super::{map_inputs, Rule};
use crate::error::Result;
use crate::plan::{ColumnId, Expr, JoinKind, Plan};
use crate::scalar::BinaryOp;
use std::collections::HashSet;

pub struct JoinOrder;

impl Rule for JoinOrder {
    fn name(&self) -> &'static str {
        "join_order"
    }
    fn apply(&self, plan: Plan) -> Result<Plan> {
        rewrite(plan)
    }
}

fn rewrite(plan: Plan) -> Result<Plan> {
    match plan {
        // A LATERAL right side reads the left side's columns: keep the join as written.
        Plan::Join {
            left,
            right,
            kind,
            on,
        } if super::plan_reads(&right, &left.output_ids()) => Ok(Plan::Join {
            left: Box::new(rewrite(*left)?),
            right: Box::new(rewrite(*right)?),
            kind,
            on,
        }),
        p @ (Plan::Filter { .. }
        | Plan::Join {
            kind: JoinKind::Inner,
            ..
        }) => {
            let mut rels = vec![];
            let mut preds = vec![];
            flatten(p, &mut rels, &mut preds);
            let rels = rels.into_iter().map(rewrite).collect::<Result<Vec<_>>>()?;
            Ok(build(rels, preds))
        }
        Plan::Join {
            left,
            right,
            kind: JoinKind::Left,
            on,
        } => {
            // ON conjuncts over the right side alone filter the right side before the join.
            let right = rewrite(*right)?;
            let rids: HashSet<ColumnId> = right.output_ids().into_iter().collect();
            let (push, keep): (Vec<Expr>, Vec<Expr>) = on.into_iter().partition(|e| {
                let cols = e.column_set();
                !cols.is_empty() && !e.has_subquery() && cols.iter().all(|c| rids.contains(c))
            });
            let right = push_into(right, push);
            Ok(Plan::Join {
                left: Box::new(rewrite(*left)?),
                right: Box::new(right),
                kind: JoinKind::Left,
                on: keep,
            })
        }
        other => map_inputs(other, &mut rewrite),
    }
}

fn flatten(plan: Plan, rels: &mut Vec<Plan>, preds: &mut Vec<Expr>) {
    match plan {
        p @ Plan::Join { .. }
            if matches!(&p, Plan::Join { left, right, .. }
                if super::plan_reads(right, &left.output_ids())) =>
        {
            rels.push(p)
        }
        Plan::Filter { input, predicate } => {
            preds.extend(predicate.conjuncts());
            flatten(*input, rels, preds);
        }
        Plan::Join {
            left,
            right,
            kind: JoinKind::Inner,
            on,
        } => {
            preds.extend(on.into_iter().flat_map(|e| e.conjuncts()));
            flatten(*left, rels, preds);
            flatten(*right, rels, preds);
        }
        Plan::Scan {
            table,
            cols,
            filter,
            access,
        } => {
            // Re-collect a scan's pushed filters so estimates see them all.
            preds.extend(filter);
            rels.push(Plan::Scan {
                table,
                cols,
                filter: vec![],
                access,
            });
        }
        other => rels.push(other),
    }
}

/// Adds conjuncts to a relation: into a scan's filter, else as a Filter node.
fn push_into(plan: Plan, preds: Vec<Expr>) -> Plan {
    if preds.is_empty() {
        return plan;
    }
    match plan {
        Plan::Scan {
            table,
            cols,
            mut filter,
            access,
        } => {
            filter.extend(preds);
            Plan::Scan {
                table,
                cols,
                filter,
                access,
            }
        }
        // Conjuncts over the preserved (left) side of a LEFT join filter that side first.
        Plan::Join {
            left,
            right,
            kind: JoinKind::Left,
            on,
        } => {
            let lids: HashSet<ColumnId> = left.output_ids().into_iter().collect();
            let (down, up): (Vec<Expr>, Vec<Expr>) = preds.into_iter().partition(|e| {
                let cols = e.column_set();
                !cols.is_empty() && cols.iter().all(|c| lids.contains(c))
            });
            let join = Plan::Join {
                left: Box::new(push_into(*left, down)),
                right,
                kind: JoinKind::Left,
                on,
            };
            match Expr::and_all(up) {
                Some(p) => Plan::Filter {
                    input: Box::new(join),
                    predicate: p,
                },
                None => join,
            }
        }
        other => match Expr::and_all(preds) {
            Some(p) => Plan::Filter {
                input: Box::new(other),
                predicate: p,
            },
            None => other,
        },
    }
}

/// Whether every table a plan scans has statistics (from ANALYZE).
fn analyzed(plan: &Plan) -> bool {
    let mut all = true;
    let mut any = false;
    fn walk(p: &Plan, all: &mut bool, any: &mut bool) {
        if let Plan::Scan { table, .. } = p {
            *any = true;
            *all &= super::stats::has_stats(table);
        }
        super::for_each_child(p, &mut |c| walk(c, all, any));
    }
    walk(plan, &mut all, &mut any);
    all && any
}

/// Estimated rows of a relation: from statistics when its tables have them, else the
/// fixed selectivities below.
fn estimate_any(plan: &Plan) -> f64 {
    if analyzed(plan) {
        super::stats::estimate(plan)
    } else {
        estimate(plan)
    }
}

/// Estimated output rows of a relation (no statistics: fixed selectivities).
pub(super) fn estimate(plan: &Plan) -> f64 {
    match plan {
        Plan::Scan { table, filter, .. } => {
            let mut est: f64 = 1000.0;
            for f in filter {
                est *= match f {
                    Expr::Call(_, args, Some(BinaryOp::Eq)) => {
                        let pk_eq = args.iter().any(|a| {
                            matches!(a, Expr::Column(id, _) if table.primary_key.len() == 1
                                && plan_col_pos(plan, *id) == Some(table.primary_key[0]))
                        });
                        if pk_eq {
                            0.001
                        } else {
                            0.05
                        }
                    }
                    Expr::InList { .. } => 0.1,
                    _ => 0.4,
                };
            }
            est.max(1.0)
        }
        Plan::Values { rows, .. } => rows.len() as f64,
        Plan::Filter { input, .. } => estimate(input) * 0.4,
        // Joins on an equality are assumed to look up at most one row per left row (foreign
        // key to key), other joins multiply.
        Plan::Join {
            left, right, on, ..
        } => {
            let l = estimate(left);
            if on
                .iter()
                .any(|e| matches!(e, Expr::Call(_, _, Some(BinaryOp::Eq))))
            {
                l
            } else {
                l * estimate(right)
            }
        }
        _ => 1000.0,
    }
}

fn plan_col_pos(plan: &Plan, id: ColumnId) -> Option<usize> {
    match plan {
        Plan::Scan { cols, .. } => cols.iter().position(|c| *c == id),
        _ => None,
    }
}

struct Pred {
    expr: Expr,
    rels: Vec<usize>,
    /// An equality between expressions over two different relations.
    equi: bool,
    placed: bool,
}

fn build(rels: Vec<Plan>, preds: Vec<Expr>) -> Plan {
    let ids: Vec<HashSet<ColumnId>> = rels
        .iter()
        .map(|r| r.output_ids().into_iter().collect())
        .collect();
    let mut top = vec![];
    let mut pushed: Vec<Vec<Expr>> = rels.iter().map(|_| vec![]).collect();
    let mut multi: Vec<Pred> = vec![];
    for p in preds {
        let cols = p.column_set();
        let touched: Vec<usize> = (0..rels.len())
            .filter(|&i| cols.iter().any(|c| ids[i].contains(c)))
            .collect();
        match touched.len() {
            0 => top.push(p),
            1 => pushed[touched[0]].push(p),
            _ => {
                let equi = match &p {
                    Expr::Call(_, args, Some(BinaryOp::Eq)) if args.len() == 2 => {
                        let side = |e: &Expr| -> Vec<usize> {
                            let c = e.column_set();
                            touched
                                .iter()
                                .copied()
                                .filter(|&i| c.iter().any(|x| ids[i].contains(x)))
                                .collect()
                        };
                        let (a, b) = (side(&args[0]), side(&args[1]));
                        a.len() == 1 && b.len() == 1 && a != b
                    }
                    _ => false,
                };
                multi.push(Pred {
                    expr: p,
                    rels: touched,
                    equi,
                    placed: false,
                });
            }
        }
    }
    let mut rels: Vec<Option<Plan>> = rels
        .into_iter()
        .zip(pushed)
        .map(|(r, p)| Some(push_into(r, p)))
        .collect();
    let est: Vec<f64> = rels
        .iter()
        .map(|r| r.as_ref().map(estimate_any).unwrap_or(f64::MAX))
        .collect();
    let n = rels.len();
    let Some(start) = (0..n).min_by(|&a, &b| est[a].total_cmp(&est[b])) else {
        return Plan::Values {
            cols: vec![],
            rows: vec![vec![]],
        };
    };
    let mut joined: HashSet<usize> = HashSet::from([start]);
    let mut current = rels[start].take().unwrap_or(Plan::Values {
        cols: vec![],
        rows: vec![],
    });
    while joined.len() < n {
        // Candidates connected to the joined set, best first: equi-connected, then any.
        let connected = |want_equi: bool| -> Option<usize> {
            (0..n)
                .filter(|i| !joined.contains(i))
                .filter(|&i| {
                    multi.iter().any(|p| {
                        !p.placed
                            && (!want_equi || p.equi)
                            && p.rels.contains(&i)
                            && p.rels.iter().all(|r| *r == i || joined.contains(r))
                    })
                })
                .min_by(|&a, &b| est[a].total_cmp(&est[b]))
        };
        let next = connected(true).or_else(|| connected(false)).or_else(|| {
            (0..n)
                .filter(|i| !joined.contains(i))
                .min_by(|&a, &b| est[a].total_cmp(&est[b]))
        });
        let Some(next) = next else { break };
        joined.insert(next);
        let mut on = vec![];
        for p in multi.iter_mut() {
            if !p.placed && p.rels.iter().all(|r| joined.contains(r)) {
                p.placed = true;
                on.push(p.expr.clone());
            }
        }
        let right = rels[next].take().unwrap_or(Plan::Values {
            cols: vec![],
            rows: vec![],
        });
        // The hash join builds its right input: with statistics on both sides, build the
        // smaller one — unless the new relation is a keyed table, which index selection may
        // turn into per-row lookups from the (smaller) left side.
        let swap = analyzed(&current)
            && analyzed(&right)
            && !matches!(&right, Plan::Scan { table, .. }
                if !table.primary_key.is_empty() || !table.indexes.is_empty())
            && super::stats::estimate(&right) > 2.0 * super::stats::estimate(&current);
        let (left, right) = if swap {
            (right, current)
        } else {
            (current, right)
        };
        current = Plan::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind: JoinKind::Inner,
            on,
        };
    }
    top.extend(multi.into_iter().filter(|p| !p.placed).map(|p| p.expr));
    match Expr::and_all(top) {
        Some(p) => Plan::Filter {
            input: Box::new(current),
            predicate: p,
        },
        None => current,
    }
}
