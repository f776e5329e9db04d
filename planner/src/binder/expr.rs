//! Expression binding: names, literals, operators, functions, CASE, IN, subqueries.

use super::{ident, unsupported, Binder};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{AggCall, Expr, Subquery, SubqueryKind};
use crate::scalar::{self, BinaryOp, CastContext, UnaryOp};
use sledgres_storage::{DataType, Value};
use sqlparser::ast;

/// How deeply expressions may nest (subqueries included).
const MAX_EXPR_DEPTH: usize = 200;

impl Binder<'_> {
    pub(crate) fn bind_expr(&mut self, e: &ast::Expr) -> Result<Expr> {
        // Binding, planning and evaluation all recurse over the expression tree: bound the
        // depth so a pathological expression fails cleanly instead of overflowing the stack.
        if self.depth >= MAX_EXPR_DEPTH {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "expression is too deeply nested",
            )
            .with_hint(format!(
                "Expressions may nest at most {MAX_EXPR_DEPTH} levels deep."
            )));
        }
        self.depth += 1;
        let r = crate::grow_stack(|| self.bind_expr_inner(e));
        self.depth -= 1;
        r
    }

    fn bind_expr_inner(&mut self, e: &ast::Expr) -> Result<Expr> {
        use ast::Expr as A;
        match e {
            A::Identifier(i) => self
                .resolve_column(None, &ident(i))
                .map_err(|e| self.at(e, i.span.start)),
            A::CompoundIdentifier(idents) => {
                let parts: Vec<String> = idents.iter().map(ident).collect();
                let r = match parts.as_slice() {
                    [t, c] => self.resolve_column(Some(t), c),
                    [_, t, c] => self.resolve_column(Some(t), c),
                    _ => Err(unsupported("this column reference")),
                };
                r.map_err(|e| match idents.first() {
                    Some(i) => self.at(e, i.span.start),
                    None => e,
                })
            }
            A::Value(v) => self.bind_value(&v.value),
            A::Nested(e) => self.bind_expr(e),
            A::BinaryOp { left, op, right } => self.bind_binary(left, op, right).map_err(|e| {
                if e.kind == ErrorKind::UndefinedFunction && e.position.is_none() {
                    self.at_operator(e, left)
                } else {
                    e
                }
            }),
            A::UnaryOp { op, expr } => match op {
                ast::UnaryOperator::Not => Ok(Expr::Not(Box::new(self.bind_bool(expr)?))),
                ast::UnaryOperator::Minus => {
                    // Fold `-<number>` so that -2147483648 is an integer, as in PostgreSQL.
                    if let A::Value(v) = &**expr {
                        if let ast::Value::Number(n, _) = &v.value {
                            return number_literal(&format!("-{n}"));
                        }
                    }
                    if let Some(rewritten) = minus_into_power(expr) {
                        return self.bind_expr(&rewritten);
                    }
                    self.bind_unary(UnaryOp::Minus, expr)
                }
                ast::UnaryOperator::Plus => self.bind_unary(UnaryOp::Plus, expr),
                ast::UnaryOperator::BitwiseNot => self.bind_unary(UnaryOp::BitNot, expr),
                other => Err(unsupported(&format!("operator {other}"))),
            },
            A::IsNull(e) => Ok(Expr::IsNull(Box::new(self.bind_expr(e)?))),
            A::IsNotNull(e) => Ok(Expr::IsNotNull(Box::new(self.bind_expr(e)?))),
            A::IsTrue(e) | A::IsNotTrue(e) | A::IsFalse(e) | A::IsNotFalse(e) => {
                let b = self.bind_bool(e)?;
                let (target, negated) = match e_variant(e) {
                    0 => (true, false),
                    1 => (true, true),
                    2 => (false, false),
                    _ => (false, true),
                };
                let eq = scalar::resolve_binary(
                    BinaryOp::Eq,
                    Some(&DataType::Bool),
                    Some(&DataType::Bool),
                )?;
                Ok(Expr::IsDistinct {
                    left: Box::new(b),
                    right: Box::new(Expr::Literal(Value::Bool(target), DataType::Bool)),
                    eq,
                    negated: !negated,
                })
            }
            A::IsDistinctFrom(l, r) | A::IsNotDistinctFrom(l, r) => {
                let negated = matches!(e, A::IsNotDistinctFrom(..));
                let (l, r, eq) = self.bind_comparison(l, r)?;
                Ok(Expr::IsDistinct {
                    left: Box::new(l),
                    right: Box::new(r),
                    eq,
                    negated,
                })
            }
            A::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let (a, l, ge) = self.bind_cmp_op(expr, low, BinaryOp::GtEq)?;
                let (a2, h, le) = self.bind_cmp_op(expr, high, BinaryOp::LtEq)?;
                let lo = Expr::Call(ge, vec![a, l], Some(BinaryOp::GtEq));
                let hi = Expr::Call(le, vec![a2, h], Some(BinaryOp::LtEq));
                if *negated {
                    Ok(Expr::Not(Box::new(Expr::And(vec![lo, hi]))))
                } else {
                    Ok(Expr::And(vec![lo, hi]))
                }
            }
            A::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            }
            | A::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => {
                if escape_char.is_some() {
                    return Err(unsupported("LIKE … ESCAPE"));
                }
                let ilike = matches!(e, A::ILike { .. });
                let op = match (ilike, negated) {
                    (false, false) => BinaryOp::Like,
                    (false, true) => BinaryOp::NotLike,
                    (true, false) => BinaryOp::ILike,
                    (true, true) => BinaryOp::NotILike,
                };
                let l = self.bind_expr(expr)?;
                let r = self.bind_expr(pattern)?;
                self.call_binary(op, l, r)
            }
            A::In {
                expr,
                target: ast::InTarget::List(list),
                negated,
                ..
            } => self.bind_in_list(expr, list, *negated),
            A::AnyOp {
                left,
                compare_op,
                right,
                ..
            } if matches!(&**right, A::Subquery(_)) => self
                .bind_quantified(left, compare_op, right, false)?
                .ok_or_else(|| Error::internal("ANY without subquery")),
            A::AllOp {
                left,
                compare_op,
                right,
            } if matches!(&**right, A::Subquery(_)) => self
                .bind_quantified(left, compare_op, right, true)?
                .ok_or_else(|| Error::internal("ALL without subquery")),
            A::In {
                expr,
                target: ast::InTarget::Subquery(subquery),
                negated,
                ..
            } => {
                let lhs = self.bind_expr(expr)?;
                let sub = self.bind_subquery_plan(subquery)?;
                let (plan, cols, outer_refs) = sub;
                if cols.len() != 1 {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "subquery has too many columns",
                    ));
                }
                let rty = cols[0].data_type.clone();
                let eq = scalar::resolve_binary(BinaryOp::Eq, lhs.ty().as_ref(), Some(&rty))?;
                let lhs = self.coerce(lhs, &arg_type(&eq, 0)?)?;
                // The subquery's column is cast by the executor when its type differs.
                let id = self.new_subquery_id();
                Ok(Expr::Subquery(Box::new(Subquery {
                    id,
                    plan: self.cast_plan_column(plan, &arg_type(&eq, 1)?)?,
                    kind: SubqueryKind::In {
                        lhs,
                        eq,
                        negated: *negated,
                    },
                    outer_refs,
                })))
            }
            A::Exists { subquery, negated } => {
                let (plan, _, outer_refs) = self.bind_subquery_plan(subquery)?;
                let id = self.new_subquery_id();
                Ok(Expr::Subquery(Box::new(Subquery {
                    id,
                    plan,
                    kind: SubqueryKind::Exists { negated: *negated },
                    outer_refs,
                })))
            }
            A::Subquery(q) => {
                let (plan, cols, outer_refs) = self.bind_subquery_plan(q)?;
                if cols.len() != 1 {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "subquery must return only one column",
                    ));
                }
                let id = self.new_subquery_id();
                Ok(Expr::Subquery(Box::new(Subquery {
                    id,
                    plan,
                    kind: SubqueryKind::Scalar(cols[0].data_type.clone()),
                    outer_refs,
                })))
            }
            A::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.bind_case(operand.as_deref(), conditions, else_result.as_deref()),
            A::Cast {
                expr, data_type, ..
            } => {
                // `::regclass`, `::int2[]` …: see binder/pg_compat.rs.
                if let Some(e) = self.bind_pg_cast(expr, data_type)? {
                    return Ok(e);
                }
                let ty = scalar::type_from_ast(data_type)?;
                let inner = self.bind_expr(expr)?;
                self.explicit_cast(inner, &ty)
            }
            A::Function(f) => match self.bind_array_subquery(f)? {
                Some(e) => Ok(e),
                // An unresolvable call points at the function's name, as PostgreSQL's does.
                None => self.bind_function(f).map_err(|e| match f.name.0.first() {
                    Some(part) if e.kind == ErrorKind::UndefinedFunction => {
                        self.at(e, ast::Spanned::span(part).start)
                    }
                    _ => e,
                }),
            },
            A::Collate { expr, collation } => self.bind_collate(expr, collation),
            A::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.bind_array_any(left, compare_op, right),
            A::CompoundFieldAccess { root, access_chain } => {
                self.bind_subscript(root, access_chain)
            }
            A::TypedString(ts) => {
                let ty = scalar::type_from_ast(&ts.data_type)?;
                match &ts.value.value {
                    ast::Value::SingleQuotedString(s) => {
                        Ok(Expr::Literal(scalar::parse_text(&ty, s)?, ty))
                    }
                    _ => Err(unsupported("this typed literal")),
                }
            }
            A::Interval(iv) => self.bind_interval_literal(iv),
            A::Extract { field, expr, .. } => {
                let unit = field.to_string().to_ascii_lowercase();
                let unit = unit.trim_matches('"').to_string();
                let arg = self.bind_expr(expr)?;
                self.call_function(
                    "extract",
                    vec![Expr::Literal(Value::Text(unit), DataType::Text), arg],
                )
            }
            A::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                let ts = self.bind_expr(timestamp)?;
                let zone = self.bind_expr(time_zone)?;
                self.call_function("timezone", vec![zone, ts])
            }
            other => Err(unsupported(&format!("expression {other}"))),
        }
    }

    /// Binds an expression that must be boolean (WHERE, ON, HAVING, AND/OR operands).
    pub(crate) fn bind_bool(&mut self, e: &ast::Expr) -> Result<Expr> {
        let b = self.bind_expr(e)?;
        self.coerce_bool(b, "WHERE")
    }

    pub(crate) fn coerce_bool(&mut self, b: Expr, context: &str) -> Result<Expr> {
        match b.ty() {
            None | Some(DataType::Bool) => self.coerce(b, &DataType::Bool),
            Some(t) => Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!(
                    "argument of {context} must be type boolean, not type {}",
                    t.pg_name()
                ),
            )),
        }
    }

    fn bind_value(&mut self, v: &ast::Value) -> Result<Expr> {
        match v {
            ast::Value::Number(n, _) => number_literal(n),
            ast::Value::SingleQuotedString(s)
            | ast::Value::EscapedStringLiteral(s)
            | ast::Value::DollarQuotedString(ast::DollarQuotedString { value: s, .. }) => {
                Ok(Expr::Unknown(Some(s.clone())))
            }
            ast::Value::Boolean(b) => Ok(Expr::Literal(Value::Bool(*b), DataType::Bool)),
            ast::Value::Null => Ok(Expr::Unknown(None)),
            ast::Value::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix('$')
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::SyntaxError,
                            format!("syntax error at or near \"{p}\""),
                        )
                    })?;
                if n > 65535 {
                    return Err(Error::new(
                        ErrorKind::UndefinedParameter,
                        format!("there is no parameter ${n}"),
                    ));
                }
                if self.params.len() < n {
                    self.params.resize(n, None);
                }
                Ok(Expr::Param(n - 1, self.params[n - 1].clone()))
            }
            other => Err(unsupported(&format!("literal {other}"))),
        }
    }

    /// Finds a column in the scope stack (innermost first).
    fn resolve_column(&mut self, table: Option<&String>, name: &str) -> Result<Expr> {
        let depth = self.scopes.len();
        for level in (0..depth).rev() {
            let mut found = None;
            let mut table_seen = false;
            for c in &self.scopes[level].cols {
                if c.hidden && table.is_none() {
                    continue;
                }
                if let Some(t) = table {
                    if c.table.as_deref() != Some(t.as_str()) {
                        continue;
                    }
                    table_seen = true;
                }
                if c.name == name {
                    if found.is_some() {
                        return Err(Error::new(
                            ErrorKind::AmbiguousColumn,
                            format!("column reference \"{name}\" is ambiguous"),
                        ));
                    }
                    found = Some((c.id, c.ty.clone()));
                }
            }
            if let Some((id, ty)) = found {
                for l in level + 1..depth {
                    if !self.scopes[l].outer_refs.contains(&id) {
                        self.scopes[l].outer_refs.push(id);
                    }
                }
                return Ok(Expr::Column(id, ty));
            }
            if let (Some(t), true) = (table, table_seen) {
                return Err(Error::new(
                    ErrorKind::UndefinedColumn,
                    format!("column {t}.{name} does not exist"),
                ));
            }
        }
        match table {
            Some(t)
                if !self
                    .scopes
                    .iter()
                    .any(|s| s.cols.iter().any(|c| c.table.as_deref() == Some(t))) =>
            {
                Err(Error::new(
                    ErrorKind::UndefinedTable,
                    format!("missing FROM-clause entry for table \"{t}\""),
                ))
            }
            Some(t) => Err(Error::new(
                ErrorKind::UndefinedColumn,
                format!("column {t}.{name} does not exist"),
            )),
            None => Err(Error::new(
                ErrorKind::UndefinedColumn,
                format!("column \"{name}\" does not exist"),
            )),
        }
    }

    /// Gives `e` the type `ty`: converts unknown literals, infers parameter types, inserts
    /// an implicit cast otherwise.
    pub(crate) fn coerce(&mut self, e: Expr, ty: &DataType) -> Result<Expr> {
        self.coerce_ctx(e, ty, CastContext::Implicit)
    }

    pub(crate) fn coerce_ctx(&mut self, e: Expr, ty: &DataType, ctx: CastContext) -> Result<Expr> {
        match e {
            Expr::Unknown(Some(s)) => Ok(Expr::Literal(scalar::parse_text(ty, &s)?, ty.clone())),
            Expr::Unknown(None) => Ok(Expr::Literal(Value::Null, ty.clone())),
            Expr::Param(i, None) => {
                if let Some(p) = self.params.get_mut(i) {
                    *p = Some(ty.clone());
                }
                Ok(Expr::Param(i, Some(ty.clone())))
            }
            e => {
                let from = e.ty_or_text();
                if &from == ty || same_string_type(&from, ty) {
                    return Ok(e);
                }
                if let Expr::Literal(v, _) = &e {
                    return Ok(Expr::Literal(
                        scalar::cast_typed(v.clone(), &from, ty, ctx)?,
                        ty.clone(),
                    ));
                }
                Ok(Expr::Cast(Box::new(e), ty.clone(), ctx))
            }
        }
    }

    /// `CAST(e AS ty)` / `e::ty`.
    pub(crate) fn explicit_cast(&mut self, e: Expr, ty: &DataType) -> Result<Expr> {
        match e {
            Expr::Unknown(_) | Expr::Param(_, None) => self.coerce(e, ty),
            e => {
                let from = e.ty_or_text();
                if !scalar::can_cast(&from, ty, CastContext::Explicit) {
                    return Err(Error::new(
                        ErrorKind::CannotCoerce,
                        format!("cannot cast type {} to {}", from.pg_name(), ty.pg_name()),
                    ));
                }
                if from == *ty {
                    return Ok(e);
                }
                if let Expr::Literal(v, _) = &e {
                    return Ok(Expr::Literal(
                        scalar::cast_typed(v.clone(), &from, ty, CastContext::Explicit)?,
                        ty.clone(),
                    ));
                }
                Ok(Expr::Cast(Box::new(e), ty.clone(), CastContext::Explicit))
            }
        }
    }

    /// Assignment to a column of type `ty` (INSERT/UPDATE): 42804 when no assignment cast.
    pub(crate) fn coerce_assign(&mut self, e: Expr, ty: &DataType, column: &str) -> Result<Expr> {
        // An untyped parameter takes the column's type without its modifier (PostgreSQL
        // infers `numeric`, not `numeric(10,2)`); the assignment cast then applies the
        // modifier, whichever format the client sends the value in.
        if let Expr::Param(_, None) = e {
            let base = without_typmod(ty);
            let param = self.coerce_ctx(e, &base, CastContext::Assignment)?;
            if base == *ty {
                return Ok(param);
            }
            return Ok(Expr::Cast(
                Box::new(param),
                ty.clone(),
                CastContext::Assignment,
            ));
        }
        if let Some(from) = e.ty() {
            if from != *ty && !scalar::can_cast(&from, ty, CastContext::Assignment) {
                return Err(Error::new(
                    ErrorKind::DatatypeMismatch,
                    format!(
                        "column \"{column}\" is of type {} but expression is of type {}",
                        ty.pg_name(),
                        from.pg_name()
                    ),
                )
                .with_hint("You will need to rewrite or cast the expression."));
            }
            if from == *ty {
                return Ok(e);
            }
            if let Expr::Literal(v, _) = &e {
                return Ok(Expr::Literal(
                    scalar::cast(v.clone(), ty, CastContext::Assignment)?,
                    ty.clone(),
                ));
            }
            return Ok(Expr::Cast(Box::new(e), ty.clone(), CastContext::Assignment));
        }
        self.coerce_ctx(e, ty, CastContext::Assignment)
    }

    fn bind_binary(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
    ) -> Result<Expr> {
        use ast::BinaryOperator as B;
        let op = match op {
            B::And | B::Or => {
                // Long AND/OR chains (generated WHERE clauses with dozens of conjuncts) are
                // walked iteratively, not by recursion, to keep the stack shallow.
                let is_and = matches!(op, B::And);
                let mut leaves = vec![right];
                let mut cur = left;
                while let ast::Expr::BinaryOp { left, op, right } = cur {
                    if !matches!((op, is_and), (B::And, true) | (B::Or, false)) {
                        break;
                    }
                    leaves.push(right);
                    cur = left;
                }
                leaves.push(cur);
                leaves.reverse();
                let mut v = vec![];
                for l in leaves {
                    let b = self.bind_bool(l)?;
                    if is_and {
                        v.extend(b.conjuncts());
                    } else {
                        v.push(b);
                    }
                }
                return Ok(if is_and { Expr::And(v) } else { Expr::Or(v) });
            }
            B::Plus => BinaryOp::Add,
            B::Minus => BinaryOp::Subtract,
            B::Multiply => BinaryOp::Multiply,
            B::Divide => BinaryOp::Divide,
            B::Modulo => BinaryOp::Modulo,
            B::Eq => BinaryOp::Eq,
            B::NotEq => BinaryOp::NotEq,
            B::Lt => BinaryOp::Lt,
            B::LtEq => BinaryOp::LtEq,
            B::Gt => BinaryOp::Gt,
            B::GtEq => BinaryOp::GtEq,
            B::StringConcat => BinaryOp::Concat,
            B::BitwiseAnd => BinaryOp::BitAnd,
            B::BitwiseOr => BinaryOp::BitOr,
            B::PGBitwiseXor => BinaryOp::BitXor,
            B::PGBitwiseShiftLeft => BinaryOp::ShiftLeft,
            B::PGBitwiseShiftRight => BinaryOp::ShiftRight,
            B::PGExp => BinaryOp::Power,
            other => {
                // Regular expressions and OPERATOR(pg_catalog.op): binder/pg_compat.rs.
                return match self.bind_pg_operator(left, other, right)? {
                    Some(e) => Ok(e),
                    None => Err(unsupported(&format!("operator {other}"))),
                };
            }
        };
        let l = self.bind_expr(left)?;
        let r = self.bind_expr(right)?;
        self.call_binary(op, l, r)
    }

    pub(crate) fn call_binary(&mut self, op: BinaryOp, l: Expr, r: Expr) -> Result<Expr> {
        let res = scalar::resolve_binary(op, l.ty().as_ref(), r.ty().as_ref())?;
        let l = self.coerce(l, &arg_type(&res, 0)?)?;
        let r = self.coerce(r, &arg_type(&res, 1)?)?;
        Ok(Expr::Call(res, vec![l, r], Some(op)))
    }

    fn bind_unary(&mut self, op: UnaryOp, e: &ast::Expr) -> Result<Expr> {
        let a = self.bind_expr(e)?;
        let res = scalar::resolve_unary(op, a.ty().as_ref())?;
        let a = self.coerce(a, &arg_type(&res, 0)?)?;
        Ok(Expr::Call(res, vec![a], None))
    }

    /// Binds `l op r` for a comparison, returning the coerced operands and the operator.
    fn bind_cmp_op(
        &mut self,
        l: &ast::Expr,
        r: &ast::Expr,
        op: BinaryOp,
    ) -> Result<(Expr, Expr, scalar::Resolved)> {
        let l = self.bind_expr(l)?;
        let r = self.bind_expr(r)?;
        let res = scalar::resolve_binary(op, l.ty().as_ref(), r.ty().as_ref())?;
        let l = self.coerce(l, &arg_type(&res, 0)?)?;
        let r = self.coerce(r, &arg_type(&res, 1)?)?;
        Ok((l, r, res))
    }

    fn bind_comparison(
        &mut self,
        l: &ast::Expr,
        r: &ast::Expr,
    ) -> Result<(Expr, Expr, scalar::Resolved)> {
        self.bind_cmp_op(l, r, BinaryOp::Eq)
    }

    fn bind_in_list(
        &mut self,
        expr: &ast::Expr,
        list: &[ast::Expr],
        negated: bool,
    ) -> Result<Expr> {
        let lhs = self.bind_expr(expr)?;
        let items = list
            .iter()
            .map(|e| self.bind_expr(e))
            .collect::<Result<Vec<_>>>()?;
        let mut types = vec![lhs.ty()];
        types.extend(items.iter().map(|e| e.ty()));
        let common = scalar::common_type(&types, "IN")?;
        let eq = scalar::resolve_binary(BinaryOp::Eq, Some(&common), Some(&common))?;
        let lhs = self.coerce(lhs, &arg_type(&eq, 0)?)?;
        let items = items
            .into_iter()
            .map(|e| self.coerce(e, &arg_type(&eq, 1)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Expr::InList {
            expr: Box::new(lhs),
            list: items,
            eq,
            negated,
        })
    }

    fn bind_case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Result<Expr> {
        let mut whens = vec![];
        for c in conditions {
            let cond = match operand {
                // CASE x WHEN v THEN …: each WHEN is `x = v`.
                Some(op) => {
                    let (l, r, eq) = self.bind_comparison(op, &c.condition)?;
                    Expr::Call(eq, vec![l, r], Some(BinaryOp::Eq))
                }
                None => self.bind_bool(&c.condition)?,
            };
            let result = self.bind_expr(&c.result)?;
            whens.push((cond, result));
        }
        let otherwise = match else_result {
            Some(e) => self.bind_expr(e)?,
            None => Expr::Unknown(None),
        };
        let mut types: Vec<Option<DataType>> = whens.iter().map(|(_, r)| r.ty()).collect();
        types.push(otherwise.ty());
        let ty = scalar::common_type(&types, "CASE")?;
        let whens = whens
            .into_iter()
            .map(|(c, r)| Ok((c, self.coerce(r, &ty)?)))
            .collect::<Result<Vec<_>>>()?;
        let otherwise = Box::new(self.coerce(otherwise, &ty)?);
        Ok(Expr::Case {
            whens,
            otherwise,
            ty,
        })
    }

    fn bind_function(&mut self, f: &ast::Function) -> Result<Expr> {
        if let Some(over) = &f.over {
            return self.bind_window_call(f, over);
        }
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(unsupported("WITHIN GROUP / null treatment"));
        }
        // `agg(x ORDER BY y)`: the only argument clause supported (aggregates only).
        let mut agg_order: &[ast::OrderByExpr] = &[];
        if let ast::FunctionArguments::List(l) = &f.args {
            for c in &l.clauses {
                match c {
                    ast::FunctionArgumentClause::OrderBy(o) => agg_order = o,
                    _ => {
                        return Err(unsupported(
                            "ORDER BY or other clauses in function arguments",
                        ))
                    }
                }
            }
        }
        let name = super::object_name(&f.name)?;
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => (vec![], false, false),
            ast::FunctionArguments::Subquery(_) => return Err(unsupported("this function call")),
            ast::FunctionArguments::List(l) => {
                let distinct = matches!(
                    l.duplicate_treatment,
                    Some(ast::DuplicateTreatment::Distinct)
                );
                let mut args = vec![];
                let mut star = false;
                for a in &l.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        _ => return Err(unsupported("this function argument")),
                    }
                }
                (args, distinct, star)
            }
        };
        if name == "grouping" {
            return self.bind_grouping_call(&args);
        }
        if scalar::is_aggregate(&name) {
            return self.bind_aggregate(
                &name,
                &args,
                distinct,
                star,
                f.filter.as_deref(),
                agg_order,
            );
        }
        if !agg_order.is_empty() {
            return Err(Error::new(
                ErrorKind::WrongObjectType,
                format!("ORDER BY specified, but {name} is not an aggregate function"),
            ));
        }
        if f.filter.is_some() {
            return Err(Error::new(
                ErrorKind::WrongObjectType,
                format!("FILTER specified, but {name} is not an aggregate function"),
            ));
        }
        if star {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"*\"".to_string(),
            ));
        }
        if name == "current_setting" {
            return self.bind_current_setting(&args);
        }
        if name == "set_config" {
            return self.bind_set_config(&args);
        }
        if let Some(e) = self.bind_catalog_function(&name, &args)? {
            return Ok(e);
        }
        let bound = args
            .iter()
            .map(|a| self.bind_expr(a))
            .collect::<Result<Vec<_>>>()?;
        match name.as_str() {
            // The argument's type, known at bind time. PostgreSQL returns `regtype`; we have
            // no reg* types yet, so the name comes back as text (same output text).
            "pg_typeof" if bound.len() == 1 => {
                let name = bound[0].ty().map_or("unknown", |t| scalar::type_name(&t));
                Ok(Expr::Literal(Value::Text(name.to_string()), DataType::Text))
            }
            "coalesce" | "greatest" | "least" => {
                let types: Vec<_> = bound.iter().map(|e| e.ty()).collect();
                let ctx = name.to_uppercase();
                let ty = scalar::common_type(&types, &ctx)?;
                let args = bound
                    .into_iter()
                    .map(|e| self.coerce(e, &ty))
                    .collect::<Result<Vec<_>>>()?;
                if name == "coalesce" {
                    return Ok(Expr::Coalesce(args, ty));
                }
                let gt = scalar::resolve_binary(BinaryOp::Gt, Some(&ty), Some(&ty))?;
                Ok(Expr::MinMax {
                    args,
                    gt,
                    greatest: name == "greatest",
                    ty,
                })
            }
            "nullif" if bound.len() == 2 => {
                let mut it = bound.into_iter();
                let (l, r) = (it.next(), it.next());
                let (Some(l), Some(r)) = (l, r) else {
                    return Err(Error::internal("nullif arity"));
                };
                let eq = scalar::resolve_binary(BinaryOp::Eq, l.ty().as_ref(), r.ty().as_ref())?;
                let l = self.coerce(l, &arg_type(&eq, 0)?)?;
                let r = self.coerce(r, &arg_type(&eq, 1)?)?;
                Ok(Expr::NullIf {
                    left: Box::new(l),
                    right: Box::new(r),
                    eq,
                })
            }
            _ => {
                let types: Vec<_> = bound.iter().map(|e| e.ty()).collect();
                let res = scalar::resolve_function(&name, &types)?;
                let args = bound
                    .into_iter()
                    .zip(res.arg_types.clone())
                    .map(|(e, t)| self.coerce(e, &t))
                    .collect::<Result<Vec<_>>>()?;
                Ok(Expr::Call(res, args, None))
            }
        }
    }

    /// Resolves and binds a call of a scalar function on already-bound arguments.
    fn call_function(&mut self, name: &str, bound: Vec<Expr>) -> Result<Expr> {
        let types: Vec<_> = bound.iter().map(|e| e.ty()).collect();
        let res = scalar::resolve_function(name, &types)?;
        let args = bound
            .into_iter()
            .zip(res.arg_types.clone())
            .map(|(e, t)| self.coerce(e, &t))
            .collect::<Result<Vec<_>>>()?;
        Ok(Expr::Call(res, args, None))
    }

    /// `INTERVAL '1 day'`, `INTERVAL '3' HOUR`: a constant interval. A bare number with a
    /// unit after the string counts in that unit (PostgreSQL's `interval '3' hour`).
    fn bind_interval_literal(&mut self, iv: &ast::Interval) -> Result<Expr> {
        let text = match &*iv.value {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                _ => return Err(unsupported("this interval literal")),
            },
            _ => return Err(unsupported("this interval literal")),
        };
        let text = match &iv.leading_field {
            Some(f) if text.trim().parse::<f64>().is_ok() => {
                format!("{} {}", text.trim(), f.to_string().to_ascii_lowercase())
            }
            _ => text,
        };
        let ty = DataType::Interval;
        Ok(Expr::Literal(scalar::parse_text(&ty, &text)?, ty))
    }

    fn bind_aggregate(
        &mut self,
        name: &str,
        args: &[&ast::Expr],
        distinct: bool,
        star: bool,
        filter: Option<&ast::Expr>,
        order: &[ast::OrderByExpr],
    ) -> Result<Expr> {
        let Some(context) = self.scope().aggs_allowed else {
            return Err(Error::new(
                ErrorKind::GroupingError,
                "aggregate functions are not allowed here",
            ));
        };
        let _ = context;
        // Arguments are evaluated per input row: no nested aggregates.
        let saved = self.scope().aggs_allowed.take();
        let saved_call = self.scope().inside_call.replace("aggregate");
        let bound = args
            .iter()
            .map(|a| self.bind_expr(a))
            .collect::<Result<Vec<_>>>();
        let filter = filter.map(|f| self.bind_bool(f)).transpose();
        let order = order
            .iter()
            .map(|o| {
                let b = self.bind_expr(&o.expr)?;
                let b = match b.ty() {
                    None => self.coerce(b, &DataType::Text)?,
                    Some(_) => b,
                };
                let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
                Ok(crate::plan::SortKey {
                    expr: b,
                    desc,
                    nulls_first: o.options.nulls_first.unwrap_or(desc),
                })
            })
            .collect::<Result<Vec<_>>>();
        self.scope().aggs_allowed = saved;
        self.scope().inside_call = saved_call;
        let bound = bound?;
        let filter = filter?;
        let order = order?;
        if distinct && !order.is_empty() {
            let fps: Vec<String> = bound.iter().map(|e| e.fingerprint()).collect();
            if order.iter().any(|k| !fps.contains(&k.expr.fingerprint())) {
                return Err(Error::new(
                    ErrorKind::InvalidColumnReference,
                    "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list",
                ));
            }
        }
        if star && name != "count" {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"*\"".to_string(),
            ));
        }
        let types: Vec<_> = bound.iter().map(|e| e.ty()).collect();
        let func = scalar::resolve_aggregate(name, &types)?;
        let args = bound
            .into_iter()
            .zip(func.arg_types.clone())
            .map(|(e, t)| self.coerce(e, &t))
            .collect::<Result<Vec<_>>>()?;
        let ty = func.result_type.clone();
        let scope = self.scope();
        scope.aggs.push(AggCall {
            name: name.to_string(),
            func,
            args,
            distinct,
            filter,
            order,
        });
        Ok(Expr::AggRef(scope.aggs.len() - 1, ty))
    }
}

fn e_variant(e: &ast::Expr) -> u8 {
    match e {
        ast::Expr::IsTrue(_) => 0,
        ast::Expr::IsNotTrue(_) => 1,
        ast::Expr::IsFalse(_) => 2,
        _ => 3,
    }
}

/// varchar/text values share one representation: no cast node between them unless a
/// length must be enforced.
fn same_string_type(from: &DataType, to: &DataType) -> bool {
    matches!(from, DataType::Text | DataType::Varchar(_))
        && matches!(to, DataType::Text | DataType::Varchar(None))
}

/// An integer literal is int4 if it fits, else int8, else numeric; with a point or exponent
/// it is numeric (PostgreSQL's lexer rules).
pub(crate) fn number_literal(n: &str) -> Result<Expr> {
    if !n.contains(['.', 'e', 'E']) {
        if let Ok(v) = n.parse::<i64>() {
            return Ok(match i32::try_from(v) {
                Ok(v) => Expr::Literal(Value::Int4(v), DataType::Int4),
                Err(_) => Expr::Literal(Value::Int8(v), DataType::Int8),
            });
        }
    }
    let ty = DataType::Numeric {
        precision: None,
        scale: None,
    };
    Ok(Expr::Literal(scalar::parse_text(&ty, n)?, ty))
}

/// The `i`th argument type of a resolved operator (an error, not a panic, if the scalar
/// library broke its arity contract).
fn arg_type(r: &scalar::Resolved, i: usize) -> Result<DataType> {
    r.arg_types
        .get(i)
        .cloned()
        .ok_or_else(|| Error::internal("resolved operator has too few argument types"))
}

/// sqlparser gives `^` a higher precedence than unary minus, reading `-2 ^ 2` as `-(2 ^ 2)`;
/// in PostgreSQL's grammar unary minus binds tighter: `(-2) ^ 2`. For `-` applied to an
/// unparenthesised `^` chain (left-associative), this moves the minus onto the chain's
/// leftmost operand: `-a ^ b ^ c` becomes `((-a) ^ b) ^ c`.
fn minus_into_power(operand: &ast::Expr) -> Option<ast::Expr> {
    let ast::Expr::BinaryOp {
        left,
        op: ast::BinaryOperator::PGExp,
        right,
    } = operand
    else {
        return None;
    };
    let left = minus_into_power(left).unwrap_or_else(|| ast::Expr::UnaryOp {
        op: ast::UnaryOperator::Minus,
        expr: left.clone(),
    });
    Some(ast::Expr::BinaryOp {
        left: Box::new(left),
        op: ast::BinaryOperator::PGExp,
        right: right.clone(),
    })
}

/// `ty` without its type modifier: the type PostgreSQL gives a parameter or expression that
/// is assigned to a column of type `ty`.
fn without_typmod(ty: &DataType) -> DataType {
    match ty {
        DataType::Numeric { .. } => DataType::Numeric {
            precision: None,
            scale: None,
        },
        DataType::Varchar(_) => DataType::Varchar(None),
        other => other.clone(),
    }
}
