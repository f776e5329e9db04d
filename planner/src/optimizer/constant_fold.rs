//! Constant folding: operators over literals, casts of literals, and boolean connectives
//! with literal operands are evaluated at plan time; filters that fold to TRUE disappear.
//!
//! A strict operator or function with a NULL constant argument folds to NULL. Otherwise
//! only binary operators are folded, never function calls: some functions are volatile
//! (`random()`), and the scalar library does not mark volatility yet. An operator that fails
//! on its constants (`1/0`) is left alone, so the error surfaces at run time and only if
//! the expression is actually evaluated, as PostgreSQL's CASE semantics expect.

use super::{for_each_expr_mut, map_inputs, Rule};
use crate::error::Result;
use crate::plan::{Expr, Plan};
use crate::scalar;
use sledgres_storage::{DataType, Value};

pub struct ConstantFold;

impl Rule for ConstantFold {
    fn name(&self) -> &'static str {
        "constant_fold"
    }
    fn apply(&self, mut plan: Plan) -> Result<Plan> {
        for_each_expr_mut(&mut plan, &mut |e| {
            let taken = std::mem::replace(e, Expr::Unknown(None));
            *e = fold(taken)?;
            Ok(())
        })?;
        drop_true_filters(plan)
    }
}

fn is_true(e: &Expr) -> bool {
    matches!(e, Expr::Literal(Value::Bool(true), _))
}

/// FALSE or NULL: a filter that passes nothing.
fn is_never(e: &Expr) -> bool {
    matches!(e, Expr::Literal(Value::Bool(false) | Value::Null, _))
}

/// No rows, with the columns of `plan`.
fn empty_like(plan: &Plan) -> Plan {
    Plan::Values {
        cols: plan.output(),
        rows: vec![],
    }
}

/// Drops filters that always pass; replaces one that never passes, and its input, by an
/// empty relation (PostgreSQL's one-time filter: the input is never evaluated, so e.g. a
/// division by zero in it is never raised).
fn drop_true_filters(plan: Plan) -> Result<Plan> {
    match plan {
        Plan::Filter { input, predicate } if is_true(&predicate) => drop_true_filters(*input),
        Plan::Filter { input, predicate } if is_never(&predicate) => Ok(empty_like(&input)),
        p @ Plan::Scan { .. } if matches!(&p, Plan::Scan { filter, .. } if filter.iter().any(is_never)) => {
            Ok(empty_like(&p))
        }
        Plan::Scan {
            table,
            cols,
            filter,
            access,
        } => Ok(Plan::Scan {
            table,
            cols,
            filter: filter.into_iter().filter(|f| !is_true(f)).collect(),
            access,
        }),
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => Ok(Plan::Join {
            left: Box::new(drop_true_filters(*left)?),
            right: Box::new(drop_true_filters(*right)?),
            kind,
            on: on.into_iter().filter(|f| !is_true(f)).collect(),
        }),
        other => map_inputs(other, &mut drop_true_filters),
    }
}

/// Folds bottom-up.
pub fn fold(e: Expr) -> Result<Expr> {
    crate::grow_stack(|| fold_inner(e))
}

fn fold_inner(e: Expr) -> Result<Expr> {
    let e = e.map_children(&mut fold)?;
    Ok(match e {
        // A strict call with a NULL constant argument is NULL, whatever the other arguments
        // are (PostgreSQL's eval_const_expressions does the same, so `x / 0 = NULL` is
        // NULL, not a division by zero).
        Expr::Call(res, args, _)
            if res.strict
                && args
                    .iter()
                    .any(|a| matches!(a, Expr::Literal(Value::Null, _))) =>
        {
            Expr::Literal(Value::Null, res.result_type.clone())
        }
        Expr::Call(res, args, Some(op)) if args.iter().all(|a| matches!(a, Expr::Literal(..))) => {
            let vals: Vec<Value> = args
                .iter()
                .map(|a| match a {
                    Expr::Literal(v, _) => v.clone(),
                    _ => Value::Null,
                })
                .collect();
            if res.strict && vals.iter().any(|v| v.is_null()) {
                return Ok(Expr::Literal(Value::Null, res.result_type.clone()));
            }
            match (res.func)(&vals) {
                Ok(v) => Expr::Literal(v, res.result_type.clone()),
                Err(_) => Expr::Call(res, args, Some(op)),
            }
        }
        Expr::Cast(inner, ty, ctx) => match *inner {
            Expr::Literal(v, from) => match scalar::cast_typed(v.clone(), &from, &ty, ctx) {
                Ok(v) => Expr::Literal(v, ty),
                Err(_) => Expr::Cast(Box::new(Expr::Literal(v, from)), ty, ctx),
            },
            inner => Expr::Cast(Box::new(inner), ty, ctx),
        },
        Expr::Not(inner) => match *inner {
            Expr::Literal(Value::Bool(b), t) => Expr::Literal(Value::Bool(!b), t),
            inner => Expr::Not(Box::new(inner)),
        },
        Expr::And(v) => {
            if v.iter()
                .any(|e| matches!(e, Expr::Literal(Value::Bool(false), _)))
            {
                return Ok(Expr::Literal(Value::Bool(false), DataType::Bool));
            }
            let v: Vec<Expr> = v.into_iter().filter(|e| !is_true(e)).collect();
            match v.len() {
                0 => Expr::Literal(Value::Bool(true), DataType::Bool),
                1 => v.into_iter().next().unwrap_or(Expr::Unknown(None)),
                _ => Expr::And(v),
            }
        }
        Expr::Or(v) => {
            if v.iter().any(is_true) {
                return Ok(Expr::Literal(Value::Bool(true), DataType::Bool));
            }
            let v: Vec<Expr> = v
                .into_iter()
                .filter(|e| !matches!(e, Expr::Literal(Value::Bool(false), _)))
                .collect();
            match v.len() {
                0 => Expr::Literal(Value::Bool(false), DataType::Bool),
                1 => v.into_iter().next().unwrap_or(Expr::Unknown(None)),
                _ => Expr::Or(v),
            }
        }
        Expr::IsNull(inner) => match *inner {
            Expr::Literal(v, _) => Expr::Literal(Value::Bool(v.is_null()), DataType::Bool),
            Expr::Unknown(v) => Expr::Literal(Value::Bool(v.is_none()), DataType::Bool),
            inner => Expr::IsNull(Box::new(inner)),
        },
        Expr::IsNotNull(inner) => match *inner {
            Expr::Literal(v, _) => Expr::Literal(Value::Bool(!v.is_null()), DataType::Bool),
            Expr::Unknown(v) => Expr::Literal(Value::Bool(v.is_some()), DataType::Bool),
            inner => Expr::IsNotNull(Box::new(inner)),
        },
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::BinaryOp;

    fn int(i: i32) -> Expr {
        Expr::Literal(Value::Int4(i), DataType::Int4)
    }

    fn op(o: BinaryOp, a: Expr, b: Expr) -> Expr {
        let res = scalar::resolve_binary(o, Some(&DataType::Int4), Some(&DataType::Int4)).unwrap();
        Expr::Call(res, vec![a, b], Some(o))
    }

    #[test]
    fn folds_operators_and_connectives() {
        let e = fold(op(
            BinaryOp::Add,
            int(1),
            op(BinaryOp::Multiply, int(2), int(3)),
        ))
        .unwrap();
        assert!(matches!(e, Expr::Literal(Value::Int4(7), _)));
        let col = Expr::Column(1, DataType::Bool);
        let e = fold(Expr::And(vec![
            op(BinaryOp::Eq, int(1), int(1)),
            col.clone(),
        ]))
        .unwrap();
        assert!(matches!(e, Expr::Column(1, _)));
        let e = fold(Expr::Or(vec![col, op(BinaryOp::Lt, int(1), int(2))])).unwrap();
        assert!(is_true(&e));
    }

    #[test]
    fn strict_calls_with_a_null_argument_are_null() {
        let col = Expr::Column(1, DataType::Int4);
        let null = Expr::Literal(Value::Null, DataType::Int4);
        let e = fold(op(BinaryOp::Eq, op(BinaryOp::Divide, col, int(0)), null)).unwrap();
        assert!(matches!(e, Expr::Literal(Value::Null, DataType::Bool)));
    }

    #[test]
    fn leaves_failing_operators_for_run_time() {
        let e = fold(op(BinaryOp::Divide, int(1), int(0))).unwrap();
        assert!(matches!(e, Expr::Call(..)));
    }
}
