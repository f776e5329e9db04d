//! GROUP BY GROUPING SETS / ROLLUP / CUBE and `grouping()`.
//!
//! The GROUP BY list is expanded into its grouping sets (each a list of positions in the
//! distinct GROUP BY expressions): a plain item contributes one set of one expression, the
//! items' sets are combined by cross product (PostgreSQL's rule). The plan is a UNION ALL
//! of one Aggregate per set over the same input, each projected to the common shape: the
//! grouping columns (NULL where the set does not group by it), the aggregates, and one
//! column per `grouping(…)` call — a constant per set, bit i set when argument i is not
//! grouped in that set.

use super::{unsupported, Binder};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{AggCall, ColumnId, Expr, Plan, SetOpKind};
use sledgres_storage::{DataType, Value};
use sqlparser::ast;

/// Grouping sets: each a list of positions in the GROUP BY expressions.
pub(crate) type GroupingSets = Vec<Vec<usize>>;

impl Binder<'_> {
    /// Binds GROUP BY; returns the distinct expressions and, when the list used grouping
    /// sets, the sets.
    pub(crate) fn bind_group_by(
        &mut self,
        list: &[ast::Expr],
        exprs: &[Expr],
        names: &[String],
    ) -> Result<(Vec<Expr>, Option<GroupingSets>)> {
        let uses_sets = list.iter().any(|g| {
            matches!(
                g,
                ast::Expr::Rollup(_) | ast::Expr::Cube(_) | ast::Expr::GroupingSets(_)
            )
        });
        let mut group: Vec<Expr> = vec![];
        if !uses_sets {
            for g in list {
                group.push(self.bind_group_item(g, exprs, names)?);
            }
            return Ok((group, None));
        }
        let add = |this: &mut Self, e: &ast::Expr, group: &mut Vec<Expr>| -> Result<usize> {
            let b = this.bind_group_item(e, exprs, names)?;
            let fp = b.fingerprint();
            Ok(match group.iter().position(|g| g.fingerprint() == fp) {
                Some(i) => i,
                None => {
                    group.push(b);
                    group.len() - 1
                }
            })
        };
        let mut sets: Vec<Vec<usize>> = vec![vec![]];
        for item in list {
            let mut item_sets: Vec<Vec<usize>> = vec![];
            match item {
                ast::Expr::Rollup(lists) | ast::Expr::Cube(lists) => {
                    let mut elems: Vec<Vec<usize>> = vec![];
                    for l in lists {
                        let mut v = vec![];
                        for e in l {
                            v.push(add(self, e, &mut group)?);
                        }
                        elems.push(v);
                    }
                    if matches!(item, ast::Expr::Rollup(_)) {
                        for n in (0..=elems.len()).rev() {
                            item_sets.push(elems[..n].concat());
                        }
                    } else {
                        if elems.len() > 12 {
                            return Err(unsupported("CUBE with more than 12 elements"));
                        }
                        let n = elems.len();
                        // Larger sets first, as PostgreSQL lists them.
                        let mut masks: Vec<u32> = (0..(1u32 << n)).collect();
                        masks.sort_by_key(|m| std::cmp::Reverse(m.count_ones()));
                        for m in masks {
                            let mut v = vec![];
                            for (i, e) in elems.iter().enumerate() {
                                if m & (1 << (n - 1 - i)) != 0 {
                                    v.extend(e);
                                }
                            }
                            item_sets.push(v);
                        }
                    }
                }
                ast::Expr::GroupingSets(lists) => {
                    for l in lists {
                        let mut v = vec![];
                        for e in l {
                            if matches!(
                                e,
                                ast::Expr::Rollup(_)
                                    | ast::Expr::Cube(_)
                                    | ast::Expr::GroupingSets(_)
                            ) {
                                return Err(unsupported("nested grouping sets"));
                            }
                            v.push(add(self, e, &mut group)?);
                        }
                        item_sets.push(v);
                    }
                }
                e => item_sets.push(vec![add(self, e, &mut group)?]),
            }
            let mut next = vec![];
            for s in &sets {
                for t in &item_sets {
                    let mut u = s.clone();
                    u.extend(t);
                    next.push(u);
                }
            }
            sets = next;
        }
        Ok((group, Some(sets)))
    }

    /// `grouping(args)`: a column filled per grouping set (see the module doc).
    pub(crate) fn bind_grouping_call(&mut self, args: &[&ast::Expr]) -> Result<Expr> {
        if self.scope().aggs_allowed.is_none() {
            return Err(Error::new(
                ErrorKind::GroupingError,
                "aggregate functions are not allowed here",
            ));
        }
        if args.is_empty() || args.len() > 31 {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "GROUPING must have fewer than 32 arguments",
            ));
        }
        let bound = args
            .iter()
            .map(|a| self.bind_expr(a))
            .collect::<Result<Vec<_>>>()?;
        let id = self.new_col();
        self.scope().groupings.push((id, bound));
        Ok(Expr::Column(id, DataType::Int4))
    }

    /// The UNION ALL of one Aggregate per grouping set (output: `group_cols`, `agg_cols`,
    /// then the grouping() columns).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn grouping_sets_plan(
        &mut self,
        input: Plan,
        group: &[Expr],
        group_cols: &[ColumnId],
        aggs: &[AggCall],
        agg_cols: &[ColumnId],
        sets: &[Vec<usize>],
        groupings: &[(ColumnId, Vec<Expr>)],
    ) -> Result<Plan> {
        let group_fps: Vec<String> = group.iter().map(|g| g.fingerprint()).collect();
        let mut branches = vec![];
        for set in sets {
            let set_cols: Vec<ColumnId> = set.iter().map(|_| self.new_col()).collect();
            let set_aggs: Vec<ColumnId> = aggs.iter().map(|_| self.new_col()).collect();
            let agg = Plan::Aggregate {
                input: Box::new(input.clone()),
                group: set.iter().map(|&i| group[i].clone()).collect(),
                group_cols: set_cols.clone(),
                aggs: aggs.to_vec(),
                agg_cols: set_aggs.clone(),
            };
            let mut exprs = vec![];
            for (i, g) in group.iter().enumerate() {
                let ty = g.ty_or_text();
                exprs.push(match set.iter().position(|&k| k == i) {
                    Some(p) => Expr::Column(set_cols[p], ty),
                    None => Expr::Literal(Value::Null, ty),
                });
            }
            for (id, a) in set_aggs.iter().zip(aggs) {
                exprs.push(Expr::Column(*id, a.func.result_type.clone()));
            }
            for (_, args) in groupings {
                let mut bits = 0i32;
                for a in args {
                    let fp = a.fingerprint();
                    let pos = group_fps.iter().position(|g| *g == fp).ok_or_else(|| {
                        Error::new(
                            ErrorKind::GroupingError,
                            "arguments to GROUPING must be grouping expressions of the associated query level",
                        )
                    })?;
                    bits = (bits << 1) | i32::from(!set.contains(&pos));
                }
                exprs.push(Expr::Literal(Value::Int4(bits), DataType::Int4));
            }
            let cols = exprs.iter().map(|_| self.new_col()).collect();
            branches.push(Plan::Project {
                input: Box::new(agg),
                exprs,
                cols,
            });
        }
        let mut out: Vec<(ColumnId, DataType)> = group_cols
            .iter()
            .zip(group)
            .map(|(id, g)| (*id, g.ty_or_text()))
            .collect();
        out.extend(
            agg_cols
                .iter()
                .zip(aggs)
                .map(|(id, a)| (*id, a.func.result_type.clone())),
        );
        out.extend(groupings.iter().map(|(id, _)| (*id, DataType::Int4)));
        let mut it = branches.into_iter();
        let first = it
            .next()
            .ok_or_else(|| Error::internal("no grouping sets"))?;
        let mut plan = first;
        let mut rest = it.peekable();
        if rest.peek().is_none() {
            // One set: rename its columns to the common ids.
            let o = plan.output();
            return Ok(Plan::Project {
                input: Box::new(plan),
                exprs: o.into_iter().map(|(id, t)| Expr::Column(id, t)).collect(),
                cols: out.iter().map(|(id, _)| *id).collect(),
            });
        }
        while let Some(b) = rest.next() {
            let cols = if rest.peek().is_none() {
                out.clone()
            } else {
                out.iter()
                    .map(|(_, t)| (self.new_col(), t.clone()))
                    .collect()
            };
            plan = Plan::SetOp {
                kind: SetOpKind::Union,
                all: true,
                left: Box::new(plan),
                right: Box::new(b),
                cols,
            };
        }
        Ok(plan)
    }
}
