//! Bound, typed expressions.
//!
//! Columns are referred to by [`ColumnId`], an id unique within one statement, never by
//! position: optimizer rules may move a predicate below a join or reorder the joins without
//! renumbering anything. The executor resolves ids to row positions once, when it compiles a
//! plan into operators (see `exec/expr.rs`). A column of an enclosing query (a correlated
//! reference) is just another id that the subquery's own plan does not produce.

use super::Plan;
use crate::scalar::{BinaryOp, CastContext, Resolved, ResolvedAggregate};
use sledgres_storage::{DataType, Value};

/// Identifies one column produced somewhere in a statement's plan.
pub type ColumnId = u32;

#[derive(Clone, Debug)]
pub enum Expr {
    Column(ColumnId, DataType),
    Literal(Value, DataType),
    /// A quoted literal (or NULL, `None`) whose type is not decided yet (PostgreSQL's
    /// `unknown`). The binder replaces it once context gives it a type; left over, it becomes
    /// text.
    Unknown(Option<String>),
    /// `$n` (0-based index); `None` while its type is not inferred.
    Param(usize, Option<DataType>),
    /// A resolved operator or function call; the operator, for binary operators (the
    /// optimizer looks for equalities and ranges).
    Call(Resolved, Vec<Expr>, Option<BinaryOp>),
    Cast(Box<Expr>, DataType, CastContext),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    IsNotNull(Box<Expr>),
    /// `IS [NOT] DISTINCT FROM`, with the equality operator.
    IsDistinct {
        left: Box<Expr>,
        right: Box<Expr>,
        eq: Resolved,
        negated: bool,
    },
    /// `expr [NOT] IN (list)`; `eq` compares expr with each (already cast) item.
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        eq: Resolved,
        negated: bool,
    },
    /// Searched CASE (the simple form is rewritten to this by the binder).
    Case {
        whens: Vec<(Expr, Expr)>,
        otherwise: Box<Expr>,
        ty: DataType,
    },
    Coalesce(Vec<Expr>, DataType),
    NullIf {
        left: Box<Expr>,
        right: Box<Expr>,
        eq: Resolved,
    },
    /// GREATEST (`greatest = true`) or LEAST, with the comparison `>`.
    MinMax {
        args: Vec<Expr>,
        gt: Resolved,
        greatest: bool,
        ty: DataType,
    },
    Subquery(Box<Subquery>),
    /// Placeholder for an aggregate call while binding a SELECT list (index into the binder's
    /// aggregate list); replaced by a column of the Aggregate node before planning ends.
    AggRef(usize, DataType),
}

#[derive(Clone, Debug)]
pub struct Subquery {
    /// Unique within the statement: the executor caches uncorrelated results under it.
    pub id: usize,
    pub plan: Plan,
    pub kind: SubqueryKind,
    /// Columns of enclosing queries the subquery reads (empty: uncorrelated).
    pub outer_refs: Vec<ColumnId>,
}

#[derive(Clone, Debug)]
pub enum SubqueryKind {
    /// Returns the single column of the single row (NULL for none; 21000 for several).
    Scalar(DataType),
    Exists {
        negated: bool,
    },
    /// `lhs [NOT] IN (subquery)`; `eq` compares lhs with the subquery's column.
    In {
        lhs: Expr,
        eq: Resolved,
        negated: bool,
    },
}

/// One aggregate call of an Aggregate node.
#[derive(Clone)]
pub struct AggCall {
    pub name: String,
    pub func: ResolvedAggregate,
    pub args: Vec<Expr>,
    pub distinct: bool,
    /// `FILTER (WHERE …)`: only rows where it is true are fed.
    pub filter: Option<Expr>,
    /// `agg(x ORDER BY …)`: rows are fed in this order.
    pub order: Vec<super::SortKey>,
}

impl std::fmt::Debug for AggCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AggCall")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("distinct", &self.distinct)
            .field("filter", &self.filter)
            .field("result_type", &self.func.result_type)
            .finish()
    }
}

impl Expr {
    /// The expression's type; `None` for a still-unknown literal or parameter.
    pub fn ty(&self) -> Option<DataType> {
        Some(match self {
            Expr::Column(_, t) | Expr::Literal(_, t) => t.clone(),
            Expr::Unknown(_) => return None,
            Expr::Param(_, t) => return t.clone(),
            Expr::Call(r, _, _) => r.result_type.clone(),
            Expr::Cast(_, t, _) => t.clone(),
            Expr::And(_)
            | Expr::Or(_)
            | Expr::Not(_)
            | Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsDistinct { .. }
            | Expr::InList { .. } => DataType::Bool,
            Expr::Case { ty, .. } | Expr::Coalesce(_, ty) | Expr::MinMax { ty, .. } => ty.clone(),
            Expr::NullIf { left, .. } => return left.ty(),
            Expr::Subquery(s) => match &s.kind {
                SubqueryKind::Scalar(t) => t.clone(),
                _ => DataType::Bool,
            },
            Expr::AggRef(_, t) => t.clone(),
        })
    }

    /// The type, with unknown as text (what an untyped literal ends up as).
    pub fn ty_or_text(&self) -> DataType {
        self.ty().unwrap_or(DataType::Text)
    }

    /// Calls `f` on each direct child expression (not into subquery plans).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Column(..)
            | Expr::Literal(..)
            | Expr::Unknown(_)
            | Expr::Param(..)
            | Expr::AggRef(..) => vec![],
            Expr::Call(_, args, _) | Expr::And(args) | Expr::Or(args) | Expr::Coalesce(args, _) => {
                args.iter().collect()
            }
            Expr::MinMax { args, .. } => args.iter().collect(),
            Expr::Cast(e, _, _) | Expr::Not(e) | Expr::IsNull(e) | Expr::IsNotNull(e) => vec![e],
            Expr::IsDistinct { left, right, .. } | Expr::NullIf { left, right, .. } => {
                vec![left, right]
            }
            Expr::InList { expr, list, .. } => {
                let mut v = vec![&**expr];
                v.extend(list.iter());
                v
            }
            Expr::Case {
                whens, otherwise, ..
            } => {
                let mut v = vec![];
                for (w, t) in whens {
                    v.push(w);
                    v.push(t);
                }
                v.push(otherwise);
                v
            }
            Expr::Subquery(s) => match &s.kind {
                SubqueryKind::In { lhs, .. } => vec![lhs],
                _ => vec![],
            },
        }
    }

    /// Every column id the expression reads, including a subquery's outer references.
    pub fn columns(&self, out: &mut Vec<ColumnId>) {
        crate::grow_stack(|| self.columns_inner(out))
    }

    fn columns_inner(&self, out: &mut Vec<ColumnId>) {
        match self {
            Expr::Column(id, _) => out.push(*id),
            Expr::Subquery(s) => {
                out.extend(s.outer_refs.iter().copied());
                if let SubqueryKind::In { lhs, .. } = &s.kind {
                    lhs.columns(out);
                }
            }
            _ => {
                for c in self.children() {
                    c.columns(out);
                }
            }
        }
    }

    pub fn column_set(&self) -> Vec<ColumnId> {
        let mut v = vec![];
        self.columns(&mut v);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// True when the expression reads no column and no parameter-free subquery result that
    /// could change per row (constant for the statement).
    pub fn is_row_independent(&self) -> bool {
        let mut cols = vec![];
        self.columns(&mut cols);
        cols.is_empty() && !self.has_subquery()
    }

    pub fn has_subquery(&self) -> bool {
        crate::grow_stack(|| {
            matches!(self, Expr::Subquery(_)) || self.children().iter().any(|c| c.has_subquery())
        })
    }

    /// Splits a conjunction into its conjuncts.
    pub fn conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::And(v) => v.into_iter().flat_map(|e| e.conjuncts()).collect(),
            e => vec![e],
        }
    }

    pub fn and_all(mut v: Vec<Expr>) -> Option<Expr> {
        match v.len() {
            0 => None,
            1 => v.pop(),
            _ => Some(Expr::And(v)),
        }
    }

    /// A structural fingerprint, used to match SELECT-list expressions against GROUP BY ones.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

impl Expr {
    /// Rebuilds the expression with `f` applied to each direct child (not into subquery
    /// plans; an IN subquery's left operand is a child).
    pub fn map_children(
        self,
        f: &mut dyn FnMut(Expr) -> crate::Result<Expr>,
    ) -> crate::Result<Expr> {
        crate::grow_stack(|| self.map_children_inner(f))
    }

    fn map_children_inner(
        self,
        f: &mut dyn FnMut(Expr) -> crate::Result<Expr>,
    ) -> crate::Result<Expr> {
        let bx = |e: Box<Expr>,
                  f: &mut dyn FnMut(Expr) -> crate::Result<Expr>|
         -> crate::Result<Box<Expr>> { Ok(Box::new(f(*e)?)) };
        let vec = |v: Vec<Expr>,
                   f: &mut dyn FnMut(Expr) -> crate::Result<Expr>|
         -> crate::Result<Vec<Expr>> { v.into_iter().map(f).collect() };
        Ok(match self {
            e @ (Expr::Column(..)
            | Expr::Literal(..)
            | Expr::Unknown(_)
            | Expr::Param(..)
            | Expr::AggRef(..)) => e,
            Expr::Call(r, args, op) => Expr::Call(r, vec(args, f)?, op),
            Expr::Cast(e, t, c) => Expr::Cast(bx(e, f)?, t, c),
            Expr::And(v) => Expr::And(vec(v, f)?),
            Expr::Or(v) => Expr::Or(vec(v, f)?),
            Expr::Not(e) => Expr::Not(bx(e, f)?),
            Expr::IsNull(e) => Expr::IsNull(bx(e, f)?),
            Expr::IsNotNull(e) => Expr::IsNotNull(bx(e, f)?),
            Expr::IsDistinct {
                left,
                right,
                eq,
                negated,
            } => Expr::IsDistinct {
                left: bx(left, f)?,
                right: bx(right, f)?,
                eq,
                negated,
            },
            Expr::InList {
                expr,
                list,
                eq,
                negated,
            } => Expr::InList {
                expr: bx(expr, f)?,
                list: vec(list, f)?,
                eq,
                negated,
            },
            Expr::Case {
                whens,
                otherwise,
                ty,
            } => Expr::Case {
                whens: whens
                    .into_iter()
                    .map(|(w, t)| Ok((f(w)?, f(t)?)))
                    .collect::<crate::Result<_>>()?,
                otherwise: bx(otherwise, f)?,
                ty,
            },
            Expr::Coalesce(v, t) => Expr::Coalesce(vec(v, f)?, t),
            Expr::NullIf { left, right, eq } => Expr::NullIf {
                left: bx(left, f)?,
                right: bx(right, f)?,
                eq,
            },
            Expr::MinMax {
                args,
                gt,
                greatest,
                ty,
            } => Expr::MinMax {
                args: vec(args, f)?,
                gt,
                greatest,
                ty,
            },
            Expr::Subquery(mut s) => {
                if let SubqueryKind::In { lhs, eq, negated } = s.kind {
                    s.kind = SubqueryKind::In {
                        lhs: f(lhs)?,
                        eq,
                        negated,
                    };
                }
                Expr::Subquery(s)
            }
        })
    }
}
