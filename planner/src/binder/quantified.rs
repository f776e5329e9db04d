//! `x op ANY|SOME (subquery)` and `x op ALL (subquery)`.
//!
//! Both become the IN-subquery form (`SubqueryKind::In`, whose executor compares the
//! operand with each row under three-valued logic: true if any comparison is true, else NULL
//! if any was NULL, else false). ANY uses `op` directly; ALL uses the negated operator under
//! NOT — `x > ALL (s)` is `NOT (x <= ANY (s))`, which has exactly ALL's NULL behaviour.

use super::{unsupported, Binder};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Expr, Subquery, SubqueryKind};
use crate::scalar::{self, BinaryOp};
use sqlparser::ast;

impl Binder<'_> {
    /// `None` when `right` is not a subquery (the caller handles arrays, unsupported).
    pub(crate) fn bind_quantified(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        all: bool,
    ) -> Result<Option<Expr>> {
        let ast::Expr::Subquery(q) = right else {
            return Ok(None);
        };
        use ast::BinaryOperator as B;
        let op = match op {
            B::Eq => BinaryOp::Eq,
            B::NotEq => BinaryOp::NotEq,
            B::Lt => BinaryOp::Lt,
            B::LtEq => BinaryOp::LtEq,
            B::Gt => BinaryOp::Gt,
            B::GtEq => BinaryOp::GtEq,
            other => return Err(unsupported(&format!("operator {other} with ANY/ALL"))),
        };
        let op = if all {
            match op {
                BinaryOp::Eq => BinaryOp::NotEq,
                BinaryOp::NotEq => BinaryOp::Eq,
                BinaryOp::Lt => BinaryOp::GtEq,
                BinaryOp::LtEq => BinaryOp::Gt,
                BinaryOp::Gt => BinaryOp::LtEq,
                _ => BinaryOp::Lt,
            }
        } else {
            op
        };
        let lhs = self.bind_expr(left)?;
        let (plan, cols, outer_refs) = self.bind_subquery_plan(q)?;
        if cols.len() != 1 {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "subquery has too many columns",
            ));
        }
        let rty = cols[0].data_type.clone();
        let cmp = scalar::resolve_binary(op, lhs.ty().as_ref(), Some(&rty))?;
        let lty = cmp
            .arg_types
            .first()
            .cloned()
            .ok_or_else(|| Error::internal("comparison without argument types"))?;
        let rty = cmp
            .arg_types
            .get(1)
            .cloned()
            .ok_or_else(|| Error::internal("comparison without argument types"))?;
        let lhs = self.coerce(lhs, &lty)?;
        let id = self.new_subquery_id();
        Ok(Some(Expr::Subquery(Box::new(Subquery {
            id,
            plan: self.cast_plan_column(plan, &rty)?,
            kind: SubqueryKind::In {
                lhs,
                eq: cmp,
                negated: all,
            },
            outer_refs,
        }))))
    }
}
