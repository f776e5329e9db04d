//! Physical expressions: bound expressions with column ids resolved to row positions, and
//! their evaluation.
//!
//! A column is either a slot of the operator's input row or a slot of an enclosing query's
//! current row (`Outer(depth, i)`, depth 0 = the nearest enclosing query), which a correlated
//! subquery sees through [`ExecCtx::outer`]. Evaluation follows SQL's three-valued logic:
//! NULL is "unknown", AND/OR short-circuit only on a decisive value.

use super::{open, ExecCtx, PhysPlan};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{ColumnId, Expr, SubqueryKind};
use crate::scalar::{self, CastContext, ScalarFn};
use sledgres_storage::{DataType, Row, Value};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum PExpr {
    Slot(usize),
    Outer(usize, usize),
    Literal(Value),
    Param(usize),
    Call {
        func: FnPtr,
        strict: bool,
        args: Vec<PExpr>,
    },
    /// (input, target type, context, input type: char(n) → text must drop the padding).
    Cast(Box<PExpr>, DataType, CastContext, Option<DataType>),
    And(Vec<PExpr>),
    Or(Vec<PExpr>),
    Not(Box<PExpr>),
    IsNull(Box<PExpr>),
    IsNotNull(Box<PExpr>),
    IsDistinct {
        left: Box<PExpr>,
        right: Box<PExpr>,
        eq: FnPtr,
        negated: bool,
    },
    InList {
        expr: Box<PExpr>,
        list: Vec<PExpr>,
        eq: FnPtr,
        negated: bool,
    },
    Case {
        whens: Vec<(PExpr, PExpr)>,
        otherwise: Box<PExpr>,
    },
    Coalesce(Vec<PExpr>),
    NullIf {
        left: Box<PExpr>,
        right: Box<PExpr>,
        eq: FnPtr,
    },
    MinMax {
        args: Vec<PExpr>,
        gt: FnPtr,
        greatest: bool,
    },
    Subquery(Arc<PSubquery>),
}

/// A function pointer with a Debug that does not print the address.
#[derive(Clone, Copy)]
pub struct FnPtr(pub ScalarFn);

impl std::fmt::Debug for FnPtr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fn")
    }
}

#[derive(Debug)]
pub struct PSubquery {
    pub id: usize,
    pub plan: Arc<PhysPlan>,
    pub kind: PSubKind,
    pub correlated: bool,
}

#[derive(Debug)]
pub enum PSubKind {
    Scalar,
    Exists {
        negated: bool,
    },
    In {
        lhs: PExpr,
        eq: FnPtr,
        negated: bool,
    },
}

/// A cached result of an uncorrelated subquery.
pub enum Cached {
    Value(Value),
    Rows(Vec<Value>),
}

/// Where each column id lives: the operator's input row, then the enclosing queries' rows
/// (innermost last).
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub local: Vec<ColumnId>,
    pub outer: Vec<Vec<ColumnId>>,
}

impl Layout {
    pub fn new(local: Vec<ColumnId>, outer: &[Vec<ColumnId>]) -> Self {
        Layout {
            local,
            outer: outer.to_vec(),
        }
    }

    fn resolve(&self, id: ColumnId) -> Result<PExpr> {
        if let Some(i) = self.local.iter().position(|c| *c == id) {
            return Ok(PExpr::Slot(i));
        }
        for (depth, l) in self.outer.iter().rev().enumerate() {
            if let Some(i) = l.iter().position(|c| *c == id) {
                return Ok(PExpr::Outer(depth, i));
            }
        }
        Err(Error::internal(format!(
            "column #{id} not found in its input"
        )))
    }

    /// The layout a subquery's plan sees: this layout's row becomes the nearest outer row.
    pub fn nested(&self) -> Vec<Vec<ColumnId>> {
        let mut o = self.outer.clone();
        o.push(self.local.clone());
        o
    }
}

pub fn compile(e: &Expr, layout: &Layout) -> Result<PExpr> {
    crate::grow_stack(|| compile_inner(e, layout))
}

fn compile_inner(e: &Expr, layout: &Layout) -> Result<PExpr> {
    let c = |e: &Expr| compile(e, layout);
    let cv = |v: &[Expr]| {
        v.iter()
            .map(|e| compile(e, layout))
            .collect::<Result<Vec<_>>>()
    };
    let bx = |e: &Expr| Ok::<_, Error>(Box::new(compile(e, layout)?));
    Ok(match e {
        Expr::Column(id, _) => layout.resolve(*id)?,
        Expr::Literal(v, _) => PExpr::Literal(v.clone()),
        Expr::Unknown(Some(s)) => PExpr::Literal(Value::Text(s.clone())),
        Expr::Unknown(None) => PExpr::Literal(Value::Null),
        Expr::Param(i, _) => PExpr::Param(*i),
        Expr::Call(r, args, _) => PExpr::Call {
            func: FnPtr(r.func),
            strict: r.strict,
            args: cv(args)?,
        },
        Expr::Cast(e, t, ctx) => PExpr::Cast(bx(e)?, t.clone(), *ctx, e.ty()),
        Expr::And(v) => PExpr::And(cv(v)?),
        Expr::Or(v) => PExpr::Or(cv(v)?),
        Expr::Not(e) => PExpr::Not(bx(e)?),
        Expr::IsNull(e) => PExpr::IsNull(bx(e)?),
        Expr::IsNotNull(e) => PExpr::IsNotNull(bx(e)?),
        Expr::IsDistinct {
            left,
            right,
            eq,
            negated,
        } => PExpr::IsDistinct {
            left: bx(left)?,
            right: bx(right)?,
            eq: FnPtr(eq.func),
            negated: *negated,
        },
        Expr::InList {
            expr,
            list,
            eq,
            negated,
        } => PExpr::InList {
            expr: bx(expr)?,
            list: cv(list)?,
            eq: FnPtr(eq.func),
            negated: *negated,
        },
        Expr::Case {
            whens, otherwise, ..
        } => PExpr::Case {
            whens: whens
                .iter()
                .map(|(w, t)| Ok((c(w)?, c(t)?)))
                .collect::<Result<_>>()?,
            otherwise: bx(otherwise)?,
        },
        Expr::Coalesce(v, _) => PExpr::Coalesce(cv(v)?),
        Expr::NullIf { left, right, eq } => PExpr::NullIf {
            left: bx(left)?,
            right: bx(right)?,
            eq: FnPtr(eq.func),
        },
        Expr::MinMax {
            args, gt, greatest, ..
        } => PExpr::MinMax {
            args: cv(args)?,
            gt: FnPtr(gt.func),
            greatest: *greatest,
        },
        Expr::Subquery(s) => {
            let plan = Arc::new(super::compile_plan(&s.plan, &layout.nested())?);
            let kind = match &s.kind {
                SubqueryKind::Scalar(_) => PSubKind::Scalar,
                SubqueryKind::Exists { negated } => PSubKind::Exists { negated: *negated },
                SubqueryKind::In { lhs, eq, negated } => PSubKind::In {
                    lhs: c(lhs)?,
                    eq: FnPtr(eq.func),
                    negated: *negated,
                },
            };
            PExpr::Subquery(Arc::new(PSubquery {
                id: s.id,
                plan,
                kind,
                correlated: !s.outer_refs.is_empty(),
            }))
        }
        Expr::AggRef(..) => return Err(Error::internal("aggregate outside an Aggregate node")),
    })
}

fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

fn bool_value(b: Option<bool>) -> Value {
    match b {
        Some(b) => Value::Bool(b),
        None => Value::Null,
    }
}

/// Calls a comparison function, treating NULL operands as unknown.
fn compare(f: FnPtr, a: &Value, b: &Value) -> Result<Option<bool>> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    Ok(truth(&(f.0)(&[a.clone(), b.clone()])?))
}

impl PExpr {
    pub fn eval(&self, row: &[Value], ctx: &Arc<ExecCtx>) -> Result<Value> {
        match self {
            // The leaves, without the stack check: they are most of the calls.
            PExpr::Slot(i) => {
                return row
                    .get(*i)
                    .cloned()
                    .ok_or_else(|| Error::internal("slot out of range"))
            }
            PExpr::Literal(v) => return Ok(v.clone()),
            _ => {}
        }
        crate::grow_stack(|| self.eval_inner(row, ctx))
    }

    fn eval_inner(&self, row: &[Value], ctx: &Arc<ExecCtx>) -> Result<Value> {
        Ok(match self {
            PExpr::Slot(i) => row
                .get(*i)
                .cloned()
                .ok_or_else(|| Error::internal("slot out of range"))?,
            PExpr::Outer(depth, i) => {
                let n = ctx.outer.len();
                ctx.outer
                    .get(n.wrapping_sub(1 + depth))
                    .and_then(|r| r.get(*i))
                    .cloned()
                    .ok_or_else(|| Error::internal("outer slot out of range"))?
            }
            PExpr::Literal(v) => v.clone(),
            PExpr::Param(i) => ctx.params.get(*i).cloned().ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedParameter,
                    format!("there is no parameter ${}", i + 1),
                )
            })?,
            PExpr::Call { func, strict, args } => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    let v = a.eval(row, ctx)?;
                    if *strict && v.is_null() {
                        return Ok(Value::Null);
                    }
                    vals.push(v);
                }
                (func.0)(&vals)?
            }
            PExpr::Cast(e, t, c, from) => match from {
                Some(f) => scalar::cast_typed(e.eval(row, ctx)?, f, t, *c)?,
                None => scalar::cast(e.eval(row, ctx)?, t, *c)?,
            },
            PExpr::And(v) => {
                let mut unknown = false;
                for e in v {
                    match truth(&e.eval(row, ctx)?) {
                        Some(false) => return Ok(Value::Bool(false)),
                        Some(true) => {}
                        None => unknown = true,
                    }
                }
                if unknown {
                    Value::Null
                } else {
                    Value::Bool(true)
                }
            }
            PExpr::Or(v) => {
                let mut unknown = false;
                for e in v {
                    match truth(&e.eval(row, ctx)?) {
                        Some(true) => return Ok(Value::Bool(true)),
                        Some(false) => {}
                        None => unknown = true,
                    }
                }
                if unknown {
                    Value::Null
                } else {
                    Value::Bool(false)
                }
            }
            PExpr::Not(e) => bool_value(truth(&e.eval(row, ctx)?).map(|b| !b)),
            PExpr::IsNull(e) => Value::Bool(e.eval(row, ctx)?.is_null()),
            PExpr::IsNotNull(e) => Value::Bool(!e.eval(row, ctx)?.is_null()),
            PExpr::IsDistinct {
                left,
                right,
                eq,
                negated,
            } => {
                let a = left.eval(row, ctx)?;
                let b = right.eval(row, ctx)?;
                let distinct = match (a.is_null(), b.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => compare(*eq, &a, &b)? != Some(true),
                };
                Value::Bool(distinct != *negated)
            }
            PExpr::InList {
                expr,
                list,
                eq,
                negated,
            } => {
                let a = expr.eval(row, ctx)?;
                let mut result = Some(false);
                if a.is_null() {
                    result = None;
                } else {
                    for item in list {
                        match compare(*eq, &a, &item.eval(row, ctx)?)? {
                            Some(true) => {
                                result = Some(true);
                                break;
                            }
                            Some(false) => {}
                            None => result = None,
                        }
                    }
                }
                bool_value(result.map(|b| b != *negated))
            }
            PExpr::Case { whens, otherwise } => {
                for (w, t) in whens {
                    if truth(&w.eval(row, ctx)?) == Some(true) {
                        return t.eval(row, ctx);
                    }
                }
                otherwise.eval(row, ctx)?
            }
            PExpr::Coalesce(v) => {
                for e in v {
                    let x = e.eval(row, ctx)?;
                    if !x.is_null() {
                        return Ok(x);
                    }
                }
                Value::Null
            }
            PExpr::NullIf { left, right, eq } => {
                let a = left.eval(row, ctx)?;
                let b = right.eval(row, ctx)?;
                if compare(*eq, &a, &b)? == Some(true) {
                    Value::Null
                } else {
                    a
                }
            }
            PExpr::MinMax { args, gt, greatest } => {
                let mut best = Value::Null;
                for e in args {
                    let x = e.eval(row, ctx)?;
                    if x.is_null() {
                        continue;
                    }
                    if best.is_null() {
                        best = x;
                        continue;
                    }
                    let x_gt = compare(*gt, &x, &best)? == Some(true);
                    if x_gt == *greatest && (x_gt || compare(*gt, &best, &x)? == Some(true)) {
                        best = x;
                    }
                }
                best
            }
            PExpr::Subquery(s) => eval_subquery(s, row, ctx)?,
        })
    }

    /// Evaluates a predicate: only TRUE passes.
    pub fn eval_pred(&self, row: &[Value], ctx: &Arc<ExecCtx>) -> Result<bool> {
        Ok(truth(&self.eval(row, ctx)?) == Some(true))
    }
}

fn eval_subquery(s: &Arc<PSubquery>, row: &[Value], ctx: &Arc<ExecCtx>) -> Result<Value> {
    let lhs = match &s.kind {
        PSubKind::In { lhs, .. } => Some(lhs.eval(row, ctx)?),
        _ => None,
    };
    let cached = if s.correlated {
        None
    } else {
        ctx.cache.lock().get(&s.id).cloned()
    };
    let result = match cached {
        Some(c) => c,
        None => {
            let sub_ctx = if s.correlated {
                Arc::new(ctx.with_outer(row.to_vec()))
            } else {
                ctx.clone()
            };
            let mut op = open(&s.plan, &sub_ctx)?;
            let r = match &s.kind {
                PSubKind::Scalar => {
                    let first = op.next()?;
                    if first.is_some() && op.next()?.is_some() {
                        return Err(Error::new(
                            ErrorKind::CardinalityViolation,
                            "more than one row returned by a subquery used as an expression",
                        ));
                    }
                    Cached::Value(
                        first
                            .and_then(|r| r.into_iter().next())
                            .unwrap_or(Value::Null),
                    )
                }
                PSubKind::Exists { .. } => Cached::Value(Value::Bool(op.next()?.is_some())),
                PSubKind::In { .. } => {
                    let mut v = vec![];
                    while let Some(r) = op.next()? {
                        v.push(r.into_iter().next().unwrap_or(Value::Null));
                        ctx.check_cancel()?;
                    }
                    Cached::Rows(v)
                }
            };
            let r = Arc::new(r);
            if !s.correlated {
                ctx.cache.lock().insert(s.id, r.clone());
            }
            r
        }
    };
    Ok(match (&s.kind, &*result) {
        (PSubKind::Scalar, Cached::Value(v)) => v.clone(),
        (PSubKind::Exists { negated }, Cached::Value(v)) => {
            Value::Bool((truth(v) == Some(true)) != *negated)
        }
        (PSubKind::In { eq, negated, .. }, Cached::Rows(rows)) => {
            let a = lhs.unwrap_or(Value::Null);
            let mut res = Some(false);
            if rows.is_empty() {
                res = Some(false);
            } else if a.is_null() {
                res = None;
            } else {
                for v in rows {
                    match compare(*eq, &a, v)? {
                        Some(true) => {
                            res = Some(true);
                            break;
                        }
                        Some(false) => {}
                        None => res = None,
                    }
                }
            }
            bool_value(res.map(|b| b != *negated))
        }
        _ => return Err(Error::internal("subquery cache kind mismatch")),
    })
}

/// Evaluates a row-independent expression (LIMIT, key bounds, VALUES).
pub fn eval_const(e: &PExpr, ctx: &Arc<ExecCtx>) -> Result<Value> {
    e.eval(&[] as &[Value], ctx)
}

pub type RowRef<'a> = &'a Row;
