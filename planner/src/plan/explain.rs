//! EXPLAIN: the optimised logical plan as indented text lines, in PostgreSQL's spirit
//! (`->` children, the access path of each scan, join conditions, pushed-down filters), not
//! its exact format.

use super::{Access, ColumnId, Expr, JoinKind, Plan, SetOpKind, SubqueryKind};
use crate::scalar::BinaryOp;
use std::collections::HashMap;

/// The plan as lines of text.
pub fn explain(plan: &Plan) -> Vec<String> {
    let mut names = HashMap::new();
    collect_names(plan, &mut names);
    let mut out = vec![];
    node(plan, 0, &names, &mut out);
    out
}

fn collect_names(plan: &Plan, names: &mut HashMap<ColumnId, String>) {
    if let Plan::Scan { table, cols, .. } = plan {
        for (id, c) in cols.iter().zip(&table.columns) {
            names.insert(*id, format!("{}.{}", table.name, c.name));
        }
    }
    super::super::optimizer::for_each_child(plan, &mut |p| collect_names(p, names));
}

fn line(depth: usize, text: String, out: &mut Vec<String>) {
    if depth == 0 {
        out.push(text);
    } else {
        out.push(format!("{}->  {text}", "  ".repeat(depth * 2 - 1)));
    }
}

fn detail(depth: usize, text: String, out: &mut Vec<String>) {
    out.push(format!("{}{text}", "  ".repeat(depth * 2 + 1)));
}

fn list(v: &[Expr], names: &HashMap<ColumnId, String>) -> String {
    v.iter()
        .map(|e| expr(e, names))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn node(plan: &Plan, depth: usize, names: &HashMap<ColumnId, String>, out: &mut Vec<String>) {
    match plan {
        Plan::Scan {
            table,
            filter,
            access,
            ..
        } => {
            let how = match access {
                Access::Full => format!("Seq Scan on {}", table.name),
                Access::Range { index, start, end } => {
                    let bound = |b: &Option<(Vec<Expr>, bool)>| match b {
                        None => "unbounded".to_string(),
                        Some((v, inc)) => format!(
                            "({}){}",
                            v.iter()
                                .map(|e| expr(e, names))
                                .collect::<Vec<_>>()
                                .join(", "),
                            if *inc { "" } else { " exclusive" }
                        ),
                    };
                    format!(
                        "{} Range Scan on {} from {} to {}",
                        index_name(table, *index),
                        table.name,
                        bound(start),
                        bound(end)
                    )
                }
                Access::InList { index, values } => format!(
                    "{} Scan on {} for each of ({})",
                    index_name(table, *index),
                    table.name,
                    values
                        .iter()
                        .map(|e| expr(e, names))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            line(depth, how, out);
            if !filter.is_empty() {
                detail(depth, format!("Filter: {}", list(filter, names)), out);
            }
        }
        Plan::Values { rows, .. } => line(depth, format!("Values ({} rows)", rows.len()), out),
        Plan::Filter { input, predicate } => {
            line(depth, "Filter".into(), out);
            detail(depth, format!("Filter: {}", expr(predicate, names)), out);
            node(input, depth + 1, names, out);
        }
        Plan::Project { input, exprs, .. } => {
            line(depth, "Project".into(), out);
            detail(
                depth,
                format!(
                    "Output: {}",
                    exprs
                        .iter()
                        .map(|e| expr(e, names))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                out,
            );
            node(input, depth + 1, names, out);
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let equi = on
                .iter()
                .any(|e| matches!(e, Expr::Call(_, _, Some(BinaryOp::Eq))));
            let k = match kind {
                JoinKind::Inner => "",
                JoinKind::Left => " Left",
                JoinKind::Full => " Full",
            };
            let lids = left.output_ids();
            let lookup = matches!(&**right, Plan::Scan { access, .. }
            if crate::optimizer::index_select::access_reads(access, &|e: &Expr| {
                e.column_set().iter().any(|c| lids.contains(c))
            }));
            let name = if lookup {
                "Index Nested Loop"
            } else if equi {
                "Hash"
            } else {
                "Nested Loop"
            };
            line(depth, format!("{name}{k} Join"), out);
            if !on.is_empty() {
                detail(depth, format!("Join Cond: {}", list(on, names)), out);
            }
            node(left, depth + 1, names, out);
            node(right, depth + 1, names, out);
        }
        Plan::Aggregate {
            input, group, aggs, ..
        } => {
            line(depth, "HashAggregate".into(), out);
            if !group.is_empty() {
                detail(
                    depth,
                    format!(
                        "Group Key: {}",
                        group
                            .iter()
                            .map(|e| expr(e, names))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    out,
                );
            }
            detail(
                depth,
                format!(
                    "Aggregates: {}",
                    aggs.iter()
                        .map(|a| a.name.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                out,
            );
            node(input, depth + 1, names, out);
        }
        Plan::Sort { input, keys } => {
            line(depth, "Sort".into(), out);
            detail(
                depth,
                format!(
                    "Sort Key: {}",
                    keys.iter()
                        .map(|k| format!(
                            "{}{}",
                            expr(&k.expr, names),
                            if k.desc { " DESC" } else { "" }
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                out,
            );
            node(input, depth + 1, names, out);
        }
        Plan::Limit { input, .. } => {
            line(depth, "Limit".into(), out);
            node(input, depth + 1, names, out);
        }
        Plan::Distinct { input } => {
            line(depth, "HashAggregate (DISTINCT)".into(), out);
            node(input, depth + 1, names, out);
        }
        Plan::SetOp {
            kind,
            all,
            left,
            right,
            ..
        } => {
            let k = match kind {
                SetOpKind::Union => "Union",
                SetOpKind::Intersect => "Intersect",
                SetOpKind::Except => "Except",
            };
            line(depth, format!("{k}{}", if *all { " All" } else { "" }), out);
            node(left, depth + 1, names, out);
            node(right, depth + 1, names, out);
        }
        Plan::RecursiveUnion {
            anchor, recursive, ..
        } => {
            line(depth, "Recursive Union".into(), out);
            node(anchor, depth + 1, names, out);
            node(recursive, depth + 1, names, out);
        }
        Plan::WorkTable { .. } => line(depth, "WorkTable Scan".into(), out),
        Plan::WithCte { cte, input, .. } => {
            line(depth, "CTE".into(), out);
            node(cte, depth + 1, names, out);
            node(input, depth + 1, names, out);
        }
        Plan::Window { input, .. } => {
            line(depth, "WindowAgg".into(), out);
            node(input, depth + 1, names, out);
        }
    }
}

fn index_name(table: &sledgres_storage::TableDef, index: Option<u32>) -> String {
    match index {
        None => format!(
            "Primary Key {}",
            table.primary_key_name.as_deref().unwrap_or("(pkey)")
        ),
        Some(id) => format!(
            "Index {}",
            table
                .indexes
                .iter()
                .find(|i| i.id == id)
                .map(|i| i.name.as_str())
                .unwrap_or("?")
        ),
    }
}

/// A compact rendering of an expression.
fn expr(e: &Expr, names: &HashMap<ColumnId, String>) -> String {
    match e {
        Expr::Column(id, _) => names.get(id).cloned().unwrap_or_else(|| format!("#{id}")),
        Expr::Literal(v, _) if v.is_null() => "NULL".into(),
        Expr::Literal(v, _) => crate::scalar::format_text(v, 1),
        Expr::Unknown(Some(s)) => format!("'{s}'"),
        Expr::Unknown(None) => "NULL".into(),
        Expr::Param(i, _) => format!("${}", i + 1),
        Expr::Call(_, args, Some(op)) if args.len() == 2 => {
            let o = match op {
                BinaryOp::Add => "+",
                BinaryOp::Subtract => "-",
                BinaryOp::Multiply => "*",
                BinaryOp::Divide => "/",
                BinaryOp::Modulo => "%",
                BinaryOp::Eq => "=",
                BinaryOp::NotEq => "<>",
                BinaryOp::Lt => "<",
                BinaryOp::LtEq => "<=",
                BinaryOp::Gt => ">",
                BinaryOp::GtEq => ">=",
                BinaryOp::Concat => "||",
                BinaryOp::Like => "~~",
                BinaryOp::NotLike => "!~~",
                _ => "op",
            };
            format!("({} {o} {})", expr(&args[0], names), expr(&args[1], names))
        }
        Expr::Call(_, args, _) => format!(
            "f({})",
            args.iter()
                .map(|a| expr(a, names))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Cast(e, t, _) => format!("{}::{}", expr(e, names), t.pg_name()),
        Expr::And(v) => format!("({})", list(v, names)),
        Expr::Or(v) => format!(
            "({})",
            v.iter()
                .map(|e| expr(e, names))
                .collect::<Vec<_>>()
                .join(" OR ")
        ),
        Expr::Not(e) => format!("NOT {}", expr(e, names)),
        Expr::IsNull(e) => format!("{} IS NULL", expr(e, names)),
        Expr::IsNotNull(e) => format!("{} IS NOT NULL", expr(e, names)),
        Expr::InList {
            expr: e,
            list: l,
            negated,
            ..
        } => format!(
            "{} {}IN ({})",
            expr(e, names),
            if *negated { "NOT " } else { "" },
            l.iter()
                .map(|x| expr(x, names))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Expr::Subquery(s) => match &s.kind {
            SubqueryKind::Scalar(_) => format!("(SubPlan {})", s.id + 1),
            SubqueryKind::Exists { negated } => {
                format!(
                    "{}EXISTS(SubPlan {})",
                    if *negated { "NOT " } else { "" },
                    s.id + 1
                )
            }
            SubqueryKind::In { lhs, negated, .. } => format!(
                "{} {}IN (SubPlan {})",
                expr(lhs, names),
                if *negated { "NOT " } else { "" },
                s.id + 1
            ),
        },
        Expr::Case { .. } => "CASE … END".into(),
        Expr::Coalesce(v, _) => format!(
            "COALESCE({})",
            v.iter()
                .map(|e| expr(e, names))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "…".into(),
    }
}
