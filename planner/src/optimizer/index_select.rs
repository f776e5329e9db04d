//! Access path selection: a scan whose filter pins a prefix of the primary key or of an
//! index becomes a key-range scan.
//!
//! Usable conjuncts ("sargs") compare a bare column of the scanned table with an expression
//! that is constant for one execution of the scan (literals, parameters, outer-query
//! columns), with both operands of the same type so the key encoding orders them as the
//! comparison does. For each key (the primary key, then each index) we take equalities on
//! its leading columns, then at most one range on the next column; on the first column an
//! IN list gives one point range per value. The key with the most pinned columns wins, the
//! primary key on ties. Every conjunct stays in the scan's filter, so the access path only
//! narrows what is read and never has to be exact (NULL keys, type corner cases).

use super::{map_inputs, Rule};
use crate::error::Result;
use crate::plan::{Access, ColumnId, Expr, JoinKind, Plan};
use crate::scalar::BinaryOp;
use sledgres_storage::{DataType, TableDef};

pub struct IndexSelect;

impl Rule for IndexSelect {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn apply(&self, plan: Plan) -> Result<Plan> {
        rewrite(plan)
    }
}

fn rewrite(plan: Plan) -> Result<Plan> {
    match plan {
        Plan::Scan {
            table,
            cols,
            filter,
            access: Access::Full,
        } => {
            let access = choose(&table, &cols, &filter).unwrap_or(Access::Full);
            Ok(Plan::Scan {
                table,
                cols,
                filter,
                access,
            })
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let left = rewrite(*left)?;
            let right = rewrite(*right)?;
            // A FULL join must see every right row once, not per left row.
            let right = if kind == JoinKind::Full {
                right
            } else {
                lookup_access(&left, right, &on)
            };
            Ok(Plan::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind,
                on,
            })
        }
        other => map_inputs(other, &mut rewrite),
    }
}

/// Index nested-loop joins: when the right input is a full scan whose key prefix the join
/// conditions pin to values of the (much smaller) left input, give it a key-range access
/// whose bounds read the left row. The executor then looks the matching rows up once per
/// left row (`exec/join.rs`, LookupJoinOp) instead of hashing the whole right table.
fn lookup_access(left: &Plan, right: Plan, on: &[Expr]) -> Plan {
    let Plan::Scan {
        table,
        cols,
        filter,
        access: Access::Full,
    } = right
    else {
        return right;
    };
    let left_est = super::join_order::estimate(left);
    let right_est = super::join_order::estimate(&Plan::Scan {
        table: table.clone(),
        cols: cols.clone(),
        filter: filter.clone(),
        access: Access::Full,
    });
    let lids = left.output_ids();
    let reads_left = |e: &Expr| e.column_set().iter().any(|c| lids.contains(c));
    let candidates: Vec<Expr> = on.iter().filter(|e| reads_left(e)).cloned().collect();
    if candidates.is_empty() || left_est * 10.0 > right_est {
        return Plan::Scan {
            table,
            cols,
            filter,
            access: Access::Full,
        };
    }
    let mut all = filter.clone();
    all.extend(candidates);
    let access = match choose(&table, &cols, &all) {
        Some(a) if access_reads(&a, &reads_left) => a,
        _ => Access::Full,
    };
    Plan::Scan {
        table,
        cols,
        filter,
        access,
    }
}

/// Whether any bound of the access path satisfies `pred`.
pub fn access_reads(a: &Access, pred: &dyn Fn(&Expr) -> bool) -> bool {
    match a {
        Access::Full => false,
        Access::Range { start, end, .. } => start
            .iter()
            .chain(end.iter())
            .any(|(v, _)| v.iter().any(pred)),
        Access::InList { values, .. } => values.iter().any(pred),
    }
}

/// One usable comparison: `column op value`.
struct Sarg {
    col: usize,
    op: BinaryOp,
    value: Expr,
}

fn compatible(a: &DataType, b: &DataType) -> bool {
    a == b
        || (matches!(a, DataType::Text | DataType::Varchar(_))
            && matches!(b, DataType::Text | DataType::Varchar(_)))
}

fn is_const(e: &Expr, cols: &[ColumnId]) -> bool {
    !e.has_subquery() && !e.column_set().iter().any(|c| cols.contains(c))
}

fn sargs(
    table: &TableDef,
    cols: &[ColumnId],
    filter: &[Expr],
) -> (Vec<Sarg>, Vec<(usize, Vec<Expr>)>) {
    let col_pos = |e: &Expr| -> Option<usize> {
        match e {
            Expr::Column(id, ty) => {
                let p = cols.iter().position(|c| c == id)?;
                compatible(ty, &table.columns[p].data_type).then_some(p)
            }
            _ => None,
        }
    };
    let mut out = vec![];
    let mut ins = vec![];
    for f in filter {
        match f {
            Expr::Call(res, args, Some(op)) if args.len() == 2 => {
                let (Some(t0), Some(t1)) = (res.arg_types.first(), res.arg_types.get(1)) else {
                    continue;
                };
                if !compatible(t0, t1) {
                    continue;
                }
                let flipped = match op {
                    BinaryOp::Eq => BinaryOp::Eq,
                    BinaryOp::Lt => BinaryOp::Gt,
                    BinaryOp::LtEq => BinaryOp::GtEq,
                    BinaryOp::Gt => BinaryOp::Lt,
                    BinaryOp::GtEq => BinaryOp::LtEq,
                    _ => continue,
                };
                if let Some(p) = col_pos(&args[0]) {
                    if is_const(&args[1], cols) && compatible(t0, &table.columns[p].data_type) {
                        out.push(Sarg {
                            col: p,
                            op: *op,
                            value: args[1].clone(),
                        });
                        continue;
                    }
                }
                if let Some(p) = col_pos(&args[1]) {
                    if is_const(&args[0], cols) && compatible(t1, &table.columns[p].data_type) {
                        out.push(Sarg {
                            col: p,
                            op: flipped,
                            value: args[0].clone(),
                        });
                    }
                }
            }
            Expr::InList {
                expr,
                list,
                eq,
                negated: false,
            } => {
                if let Some(p) = col_pos(expr) {
                    if eq.arg_types.len() == 2
                        && eq
                            .arg_types
                            .iter()
                            .all(|t| compatible(t, &table.columns[p].data_type))
                        && list.iter().all(|e| is_const(e, cols))
                    {
                        ins.push((p, list.clone()));
                    }
                }
            }
            _ => {}
        }
    }
    (out, ins)
}

fn choose(table: &TableDef, cols: &[ColumnId], filter: &[Expr]) -> Option<Access> {
    let (sargs, ins) = sargs(table, cols, filter);
    if sargs.is_empty() && ins.is_empty() {
        return None;
    }
    let mut keys: Vec<(Option<u32>, &[usize])> = vec![];
    if !table.primary_key.is_empty() {
        keys.push((None, &table.primary_key));
    }
    for i in &table.indexes {
        keys.push((Some(i.id), &i.columns));
    }
    let mut best: Option<(u32, Access)> = None;
    for (index, key) in keys {
        let mut prefix = vec![];
        for &c in key {
            match sargs.iter().find(|s| s.col == c && s.op == BinaryOp::Eq) {
                Some(s) => prefix.push(s.value.clone()),
                None => break,
            }
        }
        let next = key.get(prefix.len()).copied();
        let lower = next.and_then(|c| {
            sargs
                .iter()
                .find(|s| s.col == c && matches!(s.op, BinaryOp::Gt | BinaryOp::GtEq))
        });
        let upper = next.and_then(|c| {
            sargs
                .iter()
                .find(|s| s.col == c && matches!(s.op, BinaryOp::Lt | BinaryOp::LtEq))
        });
        let score = prefix.len() as u32 * 4 + lower.is_some() as u32 + upper.is_some() as u32;
        let access = if score > 0 {
            let start = match lower {
                Some(s) => {
                    let mut v = prefix.clone();
                    v.push(s.value.clone());
                    Some((v, s.op == BinaryOp::GtEq))
                }
                None if prefix.is_empty() => None,
                None => Some((prefix.clone(), true)),
            };
            let end = match upper {
                Some(s) => {
                    let mut v = prefix.clone();
                    v.push(s.value.clone());
                    Some((v, s.op == BinaryOp::LtEq))
                }
                None if prefix.is_empty() => None,
                None => Some((prefix.clone(), true)),
            };
            Access::Range { index, start, end }
        } else if let Some((_, list)) = key.first().and_then(|c| ins.iter().find(|(p, _)| p == c)) {
            // An IN list on the first key column: scored like one pinned column.
            let access = Access::InList {
                index,
                values: list.clone(),
            };
            if best.as_ref().map(|(s, _)| *s < 3).unwrap_or(true) {
                best = Some((3, access));
            }
            continue;
        } else {
            continue;
        };
        if best.as_ref().map(|(s, _)| *s < score).unwrap_or(true) {
            best = Some((score, access));
        }
    }
    best.map(|(_, a)| a)
}
