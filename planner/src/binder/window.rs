//! Window function calls: `f(args) OVER (PARTITION BY … ORDER BY … frame)` or `OVER name`.
//!
//! A call is allowed where aggregates are (the SELECT list and ORDER BY). It binds to a
//! fresh column, read from the [`Plan::Window`](crate::plan::Plan) node the SELECT places
//! between aggregation (and HAVING) and the final projection; the call itself is kept in
//! the scope until then. Its arguments, partition and order expressions are bound over the
//! same rows as the SELECT list, so they may contain aggregates (`sum(sum(x)) OVER ()`).

use super::{ident, unsupported, Binder};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::window::{FrameBound, FrameMode, WinFunc, WindowCall};
use crate::plan::{Expr, SortKey};
use crate::scalar::{self, CastContext};
use sledgres_storage::DataType;
use sqlparser::ast;

impl Binder<'_> {
    pub(crate) fn bind_window_call(
        &mut self,
        f: &ast::Function,
        over: &ast::WindowType,
    ) -> Result<Expr> {
        match self.scope().inside_call {
            Some("window") => {
                return Err(Error::new(
                    ErrorKind::GroupingError,
                    "window function calls cannot be nested",
                ))
            }
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::GroupingError,
                    "aggregate function calls cannot contain window function calls",
                ))
            }
            None => {}
        }
        if self.scope().aggs_allowed.is_none() {
            return Err(Error::new(
                ErrorKind::GroupingError,
                match self.scope().clause {
                    Some(c) => format!("window functions are not allowed in {c}"),
                    None => "window functions are not allowed here".to_string(),
                },
            ));
        }
        let spec = self.resolve_window(over)?;
        let name = super::object_name(&f.name)?;
        let (args, distinct, star) = match &f.args {
            ast::FunctionArguments::None => (vec![], false, false),
            ast::FunctionArguments::List(l) => {
                if !l.clauses.is_empty() {
                    return Err(unsupported("ORDER BY in window function arguments"));
                }
                let mut args = vec![];
                let mut star = false;
                for a in &l.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                        _ => return Err(unsupported("this function argument")),
                    }
                }
                (
                    args,
                    matches!(
                        l.duplicate_treatment,
                        Some(ast::DuplicateTreatment::Distinct)
                    ),
                    star,
                )
            }
            ast::FunctionArguments::Subquery(_) => return Err(unsupported("this function call")),
        };
        if distinct {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "DISTINCT is not implemented for window functions",
            ));
        }
        self.scope().inside_call = Some("window");
        let bound = args
            .iter()
            .map(|a| self.bind_expr(a))
            .collect::<Result<Vec<_>>>();
        self.scope().inside_call = None;
        let bound = bound?;
        let n = bound.len();
        let arity = |ok: bool| -> Result<()> {
            if ok {
                Ok(())
            } else {
                Err(Error::new(
                    ErrorKind::UndefinedFunction,
                    format!("function {name} does not exist"),
                ))
            }
        };
        let (func, args, ty) = match name.as_str() {
            "row_number" | "rank" | "dense_rank" | "percent_rank" | "cume_dist" => {
                arity(n == 0)?;
                let (func, ty) = match name.as_str() {
                    "row_number" => (WinFunc::RowNumber, DataType::Int8),
                    "rank" => (WinFunc::Rank, DataType::Int8),
                    "dense_rank" => (WinFunc::DenseRank, DataType::Int8),
                    "percent_rank" => (WinFunc::PercentRank, DataType::Float8),
                    _ => (WinFunc::CumeDist, DataType::Float8),
                };
                (func, vec![], ty)
            }
            "ntile" => {
                arity(n == 1)?;
                let a = self.coerce_arg(bound, &[DataType::Int4])?;
                (WinFunc::Ntile, a, DataType::Int4)
            }
            "lag" | "lead" => {
                arity((1..=3).contains(&n))?;
                let mut it = bound.into_iter();
                let v = it.next().ok_or_else(|| Error::internal("lag arity"))?;
                let off = it.next();
                let def = it.next();
                let ty = match (v.ty(), def.as_ref().and_then(|d| d.ty())) {
                    (Some(t), _) => t,
                    (None, Some(t)) => t,
                    (None, None) => DataType::Text,
                };
                let mut a = vec![self.coerce(v, &ty)?];
                if let Some(o) = off {
                    a.push(self.coerce(o, &DataType::Int4)?);
                } else if def.is_some() {
                    a.push(Expr::Literal(
                        sledgres_storage::Value::Int4(1),
                        DataType::Int4,
                    ));
                }
                if let Some(d) = def {
                    a.push(self.coerce(d, &ty)?);
                }
                let func = if name == "lag" {
                    WinFunc::Lag
                } else {
                    WinFunc::Lead
                };
                (func, a, ty)
            }
            "first_value" | "last_value" | "nth_value" => {
                arity(if name == "nth_value" { n == 2 } else { n == 1 })?;
                let mut it = bound.into_iter();
                let v = it.next().ok_or_else(|| Error::internal("arity"))?;
                let ty = v.ty().unwrap_or(DataType::Text);
                let mut a = vec![self.coerce(v, &ty)?];
                if let Some(k) = it.next() {
                    a.push(self.coerce(k, &DataType::Int4)?);
                }
                let func = match name.as_str() {
                    "first_value" => WinFunc::FirstValue,
                    "last_value" => WinFunc::LastValue,
                    _ => WinFunc::NthValue,
                };
                (func, a, ty)
            }
            _ if scalar::is_aggregate(&name) => {
                if star && name != "count" {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "syntax error at or near \"*\"",
                    ));
                }
                let types: Vec<_> = bound.iter().map(|e| e.ty()).collect();
                let res = scalar::resolve_aggregate(&name, &types)?;
                let a = self.coerce_arg(bound, &res.arg_types)?;
                let filter = f.filter.as_deref().map(|e| self.bind_bool(e)).transpose()?;
                let ty = res.result_type.clone();
                (WinFunc::Agg(res, filter), a, ty)
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::WrongObjectType,
                    format!(
                    "OVER specified, but {name} is not a window function nor an aggregate function"
                ),
                ))
            }
        };
        let partition = spec
            .partition_by
            .iter()
            .map(|e| {
                let b = self.bind_expr(e)?;
                match b.ty() {
                    None => self.coerce(b, &DataType::Text),
                    Some(_) => Ok(b),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let mut order = vec![];
        for o in &spec.order_by {
            let b = self.bind_expr(&o.expr)?;
            let b = match b.ty() {
                None => self.coerce(b, &DataType::Text)?,
                Some(_) => b,
            };
            let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
            order.push(SortKey {
                expr: b,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
        let (mode, start, end) = match &spec.window_frame {
            None => (
                FrameMode::Range,
                FrameBound::UnboundedPreceding,
                FrameBound::CurrentRow,
            ),
            Some(fr) => {
                let mode = match fr.units {
                    ast::WindowFrameUnits::Rows => FrameMode::Rows,
                    ast::WindowFrameUnits::Range => FrameMode::Range,
                    ast::WindowFrameUnits::Groups => FrameMode::Groups,
                };
                if mode == FrameMode::Groups && order.is_empty() {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "GROUPS mode requires an ORDER BY clause",
                    ));
                }
                let start = self.frame_bound(&fr.start_bound, mode, &order)?;
                let end = match &fr.end_bound {
                    Some(b) => self.frame_bound(b, mode, &order)?,
                    None => FrameBound::CurrentRow,
                };
                if matches!(start, FrameBound::UnboundedFollowing) {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "frame start cannot be UNBOUNDED FOLLOWING",
                    ));
                }
                if matches!(end, FrameBound::UnboundedPreceding) {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "frame end cannot be UNBOUNDED PRECEDING",
                    ));
                }
                (mode, start, end)
            }
        };
        let call = WindowCall {
            func,
            args,
            partition,
            order,
            mode,
            start,
            end,
            ty: ty.clone(),
        };
        let id = self.new_col();
        self.scope().windows.push((id, call));
        Ok(Expr::Column(id, ty))
    }

    fn coerce_arg(&mut self, bound: Vec<Expr>, types: &[DataType]) -> Result<Vec<Expr>> {
        bound
            .into_iter()
            .zip(types)
            .map(|(e, t)| self.coerce(e, t))
            .collect()
    }

    /// A frame bound. ROWS/GROUPS offsets are bigint constants; a RANGE offset becomes the
    /// bound's value for the current row (`key - offset` for PRECEDING in ascending order,
    /// and so on), evaluated per row by the executor.
    fn frame_bound(
        &mut self,
        b: &ast::WindowFrameBound,
        mode: FrameMode,
        order: &[SortKey],
    ) -> Result<FrameBound> {
        let offset = |this: &mut Self, e: &ast::Expr, preceding: bool| -> Result<Expr> {
            let v = this.bind_expr(e)?;
            if mode != FrameMode::Range {
                return this.coerce_ctx(v, &DataType::Int8, CastContext::Implicit);
            }
            let [key] = order else {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column",
                ));
            };
            let kty = key.expr.ty_or_text();
            if !matches!(
                kty,
                DataType::Int2
                    | DataType::Int4
                    | DataType::Int8
                    | DataType::Numeric { .. }
                    | DataType::Float4
                    | DataType::Float8
            ) {
                return Err(Error::new(
                    ErrorKind::FeatureNotSupported,
                    format!(
                        "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {}",
                        kty.pg_name()
                    ),
                ));
            }
            let op = if preceding != key.desc {
                scalar::BinaryOp::Subtract
            } else {
                scalar::BinaryOp::Add
            };
            let e = this.call_binary(op, key.expr.clone(), v)?;
            this.coerce_ctx(e, &kty, CastContext::Assignment)
        };
        Ok(match b {
            ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            ast::WindowFrameBound::Preceding(None) => FrameBound::UnboundedPreceding,
            ast::WindowFrameBound::Following(None) => FrameBound::UnboundedFollowing,
            ast::WindowFrameBound::Preceding(Some(e)) => {
                FrameBound::Preceding(offset(self, e, true)?)
            }
            ast::WindowFrameBound::Following(Some(e)) => {
                FrameBound::Following(offset(self, e, false)?)
            }
        })
    }

    /// The window an OVER clause names or writes, with a referenced named window's
    /// PARTITION BY / ORDER BY / frame merged in (PostgreSQL's copy rules).
    fn resolve_window(&mut self, over: &ast::WindowType) -> Result<ast::WindowSpec> {
        let named = |this: &mut Self, n: &ast::Ident| -> Result<ast::WindowSpec> {
            let name = ident(n);
            this.scope()
                .named_windows
                .iter()
                .find(|(w, _)| *w == name)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedObject,
                        format!("window \"{name}\" does not exist"),
                    )
                })
        };
        match over {
            ast::WindowType::NamedWindow(n) => named(self, n),
            ast::WindowType::WindowSpec(s) => match &s.window_name {
                None => Ok(s.clone()),
                Some(n) => {
                    let base = named(self, n)?;
                    if !s.partition_by.is_empty() {
                        return Err(Error::new(
                            ErrorKind::SyntaxError,
                            format!(
                                "cannot override PARTITION BY clause of window \"{}\"",
                                ident(n)
                            ),
                        ));
                    }
                    if !s.order_by.is_empty() && !base.order_by.is_empty() {
                        return Err(Error::new(
                            ErrorKind::SyntaxError,
                            format!("cannot override ORDER BY clause of window \"{}\"", ident(n)),
                        ));
                    }
                    Ok(ast::WindowSpec {
                        window_name: None,
                        partition_by: base.partition_by,
                        order_by: if s.order_by.is_empty() {
                            base.order_by
                        } else {
                            s.order_by.clone()
                        },
                        window_frame: s.window_frame.clone(),
                    })
                }
            },
        }
    }
}
