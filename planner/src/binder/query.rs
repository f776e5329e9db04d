//! SELECT binding: FROM, WHERE, the SELECT list, GROUP BY/HAVING, DISTINCT, ORDER BY,
//! LIMIT/OFFSET, set operations and VALUES.
//!
//! A SELECT becomes, bottom up: the FROM items joined (cross products; the optimizer turns
//! WHERE equalities into join conditions), Filter(WHERE), Aggregate (when there are
//! aggregates or GROUP BY; a UNION ALL of Aggregates for grouping sets), Filter(HAVING),
//! Window (window calls), Project(SELECT list + hidden ORDER BY / DISTINCT ON
//! expressions), Distinct — or, for DISTINCT ON, row_number() over the ON expressions kept
//! where it is 1 — Sort, and a Project dropping the hidden columns.
//!
//! JOIN … USING / NATURAL adds one merged column per name in front of the join's columns
//! (what `SELECT *` shows first, as PostgreSQL does): the left copy for INNER/LEFT, the
//! right one for RIGHT, COALESCE(left, right) for FULL; both original copies stay
//! reachable qualified. A LATERAL derived table binds with the FROM items to its left
//! visible as outer references; the join then runs it once per left row.

use super::{ident, object_name, unsupported, Binder, OutputColumn, Scope, ScopeColumn};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Access, ColumnId, Expr, JoinKind, Plan, SetOpKind, SortKey};
use crate::scalar::{self, CastContext};
use sledgres_storage::DataType;
use sqlparser::ast;

/// The left and right copies of one JOIN … USING column.
type UsingPair = (ScopeColumn, ScopeColumn);

/// What `bind_subquery_plan` returns: the plan, its columns and its outer references.
pub(crate) type BoundSubquery = (Plan, Vec<OutputColumn>, Vec<ColumnId>);

impl Binder<'_> {
    pub(crate) fn bind_query(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutputColumn>)> {
        let Some(with) = &q.with else {
            return self.bind_query_body(q);
        };
        let before = self.push_with(with)?;
        let r = self.bind_query_body(q);
        let declared = self.ctes.split_off(before);
        let (mut plan, cols) = r?;
        // Materialised CTEs are computed before the query, in declaration order (a later
        // CTE's plan may read an earlier one's work table).
        for c in declared.into_iter().rev() {
            if let Some((id, cte, _, _)) = c.materialized {
                plan = Plan::WithCte {
                    id,
                    cte: Box::new(cte),
                    input: Box::new(plan),
                };
            }
        }
        Ok((plan, cols))
    }

    pub(crate) fn cast_plan_pub(&mut self, plan: Plan, types: &[DataType]) -> Result<Plan> {
        self.cast_plan(plan, types)
    }

    fn bind_query_body(&mut self, q: &ast::Query) -> Result<(Plan, Vec<OutputColumn>)> {
        if q.fetch.is_some() {
            return Err(unsupported("FETCH"));
        }
        let order: &[ast::OrderByExpr] = match &q.order_by {
            None => &[],
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v,
                ast::OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL")),
            },
        };
        let (mut plan, cols) = match &*q.body {
            ast::SetExpr::Select(s) => self.bind_select(s, order)?,
            body => {
                let (plan, cols) = self.bind_set_expr(body)?;
                if order.is_empty() {
                    (plan, cols)
                } else {
                    let out = plan.output();
                    let mut keys = vec![];
                    for o in order {
                        let i = self.output_position(&o.expr, &cols)?.ok_or_else(|| {
                            Error::new(
                                ErrorKind::FeatureNotSupported,
                                "ORDER BY on a UNION/INTERSECT/EXCEPT result must be on one of the result columns",
                            )
                        })?;
                        keys.push(sort_key(Expr::Column(out[i].0, out[i].1.clone()), o));
                    }
                    (
                        Plan::Sort {
                            input: Box::new(plan),
                            keys,
                        },
                        cols,
                    )
                }
            }
        };
        self.bind_row_locks(q, &mut plan)?;
        if let Some(lc) = &q.limit_clause {
            let (limit, offset) = match lc {
                ast::LimitClause::LimitOffset { limit, offset, .. } => {
                    (limit.as_ref(), offset.as_ref().map(|o| &o.value))
                }
                ast::LimitClause::OffsetCommaLimit { .. } => {
                    return Err(Error::new(
                        ErrorKind::FeatureNotSupported,
                        "LIMIT #,# syntax is not supported",
                    )
                    .with_hint("Use separate LIMIT and OFFSET clauses."))
                }
            };
            let limit = match limit {
                Some(e) => self.bind_limit_expr(e, "LIMIT")?,
                None => None,
            };
            let offset = match offset {
                Some(e) => self.bind_limit_expr(e, "OFFSET")?,
                None => None,
            };
            if limit.is_some() || offset.is_some() {
                plan = Plan::Limit {
                    input: Box::new(plan),
                    limit,
                    offset,
                };
            }
        }
        Ok((plan, cols))
    }

    fn bind_limit_expr(&mut self, e: &ast::Expr, what: &str) -> Result<Option<Expr>> {
        // LIMIT ALL / LIMIT NULL mean no limit.
        if let ast::Expr::Value(v) = e {
            if matches!(v.value, ast::Value::Null) {
                return Ok(None);
            }
        }
        self.scopes.push(Scope::default());
        let b = self.bind_expr(e);
        self.scopes.pop();
        let b = b?;
        if b.ty().is_some()
            && !matches!(
                b.ty(),
                Some(
                    DataType::Int2
                        | DataType::Int4
                        | DataType::Int8
                        | DataType::Numeric { .. }
                        | DataType::Float4
                        | DataType::Float8
                )
            )
        {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!(
                    "argument of {what} must be type bigint, not type {}",
                    b.ty_or_text().pg_name()
                ),
            ));
        }
        Ok(Some(self.coerce_ctx(
            b,
            &DataType::Int8,
            CastContext::Assignment,
        )?))
    }

    /// Binds a subquery one level down; returns its plan, columns and outer references.
    pub(crate) fn bind_subquery_plan(&mut self, q: &ast::Query) -> Result<BoundSubquery> {
        let level = self.scopes.len();
        self.ref_sinks.push((level, vec![]));
        let r = self.bind_query(q);
        let (_, mut refs) = self.ref_sinks.pop().unwrap_or_default();
        let (plan, cols) = r?;
        refs.sort_unstable();
        refs.dedup();
        if let Some(c) = cols.first() {
            self.last_subquery_name = Some(c.name.clone());
        }
        Ok((plan, cols, refs))
    }

    /// Wraps a one-column plan in a cast of that column to `ty` when needed.
    pub(crate) fn cast_plan_column(&mut self, plan: Plan, ty: &DataType) -> Result<Plan> {
        let out = plan.output();
        if out.len() != 1 || &out[0].1 == ty {
            return Ok(plan);
        }
        let e = self.coerce(Expr::Column(out[0].0, out[0].1.clone()), ty)?;
        let id = self.new_col();
        Ok(Plan::Project {
            input: Box::new(plan),
            exprs: vec![e],
            cols: vec![id],
        })
    }

    fn bind_set_expr(&mut self, body: &ast::SetExpr) -> Result<(Plan, Vec<OutputColumn>)> {
        match body {
            ast::SetExpr::Select(s) => self.bind_select(s, &[]),
            ast::SetExpr::Query(q) => self.bind_query(q),
            ast::SetExpr::Values(v) => self.bind_values(v),
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let (kind, name) = match op {
                    ast::SetOperator::Union => (SetOpKind::Union, "UNION"),
                    ast::SetOperator::Intersect => (SetOpKind::Intersect, "INTERSECT"),
                    ast::SetOperator::Except | ast::SetOperator::Minus => {
                        (SetOpKind::Except, "EXCEPT")
                    }
                };
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    _ => return Err(unsupported("BY NAME")),
                };
                let (lp, lcols) = self.bind_set_expr(left)?;
                let (rp, rcols) = self.bind_set_expr(right)?;
                if lcols.len() != rcols.len() {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        format!("each {name} query must have the same number of columns"),
                    ));
                }
                let mut types = vec![];
                for (l, r) in lcols.iter().zip(&rcols) {
                    types.push(scalar::common_type(
                        &[Some(l.data_type.clone()), Some(r.data_type.clone())],
                        name,
                    )?);
                }
                let lp = self.cast_plan(lp, &types)?;
                let rp = self.cast_plan(rp, &types)?;
                let cols: Vec<(ColumnId, DataType)> =
                    types.iter().map(|t| (self.new_col(), t.clone())).collect();
                let out = lcols
                    .iter()
                    .zip(&types)
                    .map(|(c, t)| OutputColumn {
                        name: c.name.clone(),
                        data_type: t.clone(),
                    })
                    .collect();
                Ok((
                    Plan::SetOp {
                        kind,
                        all,
                        left: Box::new(lp),
                        right: Box::new(rp),
                        cols,
                    },
                    out,
                ))
            }
            _ => Err(unsupported("this query form")),
        }
    }

    /// Casts each output column of `plan` to `types` (adding a Project only when needed).
    fn cast_plan(&mut self, plan: Plan, types: &[DataType]) -> Result<Plan> {
        let out = plan.output();
        if out.iter().zip(types).all(|(o, t)| &o.1 == t) {
            return Ok(plan);
        }
        let mut exprs = vec![];
        let mut cols = vec![];
        for ((id, ty), t) in out.into_iter().zip(types) {
            exprs.push(self.coerce(Expr::Column(id, ty), t)?);
            cols.push(self.new_col());
        }
        Ok(Plan::Project {
            input: Box::new(plan),
            exprs,
            cols,
        })
    }

    pub(crate) fn bind_values(&mut self, v: &ast::Values) -> Result<(Plan, Vec<OutputColumn>)> {
        let mut rows = vec![];
        for r in &v.rows {
            let row = r
                .content
                .iter()
                .map(|e| self.bind_expr(e))
                .collect::<Result<Vec<_>>>()?;
            if let Some(first) = rows.first() {
                let first: &Vec<Expr> = first;
                if first.len() != row.len() {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "VALUES lists must all be the same length",
                    ));
                }
            }
            rows.push(row);
        }
        let width = rows.first().map(|r| r.len()).unwrap_or(0);
        let mut types = vec![];
        for c in 0..width {
            let t: Vec<_> = rows.iter().map(|r| r[c].ty()).collect();
            types.push(scalar::common_type(&t, "VALUES")?);
        }
        let rows = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .zip(&types)
                    .map(|(e, t)| self.coerce(e, t))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let cols: Vec<(ColumnId, DataType)> =
            types.iter().map(|t| (self.new_col(), t.clone())).collect();
        let out = types
            .iter()
            .enumerate()
            .map(|(i, t)| OutputColumn {
                name: format!("column{}", i + 1),
                data_type: t.clone(),
            })
            .collect();
        Ok((Plan::Values { cols, rows }, out))
    }

    /// Position of an ORDER BY item among the output columns: an integer ordinal or an
    /// output column name. `None` when it is neither.
    fn output_position(&self, e: &ast::Expr, cols: &[OutputColumn]) -> Result<Option<usize>> {
        match e {
            ast::Expr::Value(v) => {
                if let ast::Value::Number(n, _) = &v.value {
                    let i: i64 = n.parse().unwrap_or(0);
                    if i < 1 || i as usize > cols.len() {
                        return Err(Error::new(
                            ErrorKind::InvalidColumnReference,
                            format!("ORDER BY position {n} is not in select list"),
                        ));
                    }
                    return Ok(Some(i as usize - 1));
                }
                Ok(None)
            }
            ast::Expr::Identifier(i) => {
                let name = ident(i);
                let matches: Vec<usize> = cols
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.name == name)
                    .map(|(i, _)| i)
                    .collect();
                match matches.len() {
                    0 => Ok(None),
                    1 => Ok(Some(matches[0])),
                    _ => Err(Error::new(
                        ErrorKind::AmbiguousColumn,
                        format!("ORDER BY \"{name}\" is ambiguous"),
                    )),
                }
            }
            _ => Ok(None),
        }
    }

    pub(crate) fn bind_select(
        &mut self,
        s: &ast::Select,
        order: &[ast::OrderByExpr],
    ) -> Result<(Plan, Vec<OutputColumn>)> {
        self.scopes.push(Scope::default());
        let r = self.bind_select_inner(s, order);
        let scope = self.scopes.pop().unwrap_or_default();
        let idx = self.scopes.len();
        if let Some((level, sink)) = self.ref_sinks.last_mut() {
            if *level == idx {
                sink.extend(scope.outer_refs.iter().copied());
            }
        }
        r
    }

    fn bind_select_inner(
        &mut self,
        s: &ast::Select,
        order: &[ast::OrderByExpr],
    ) -> Result<(Plan, Vec<OutputColumn>)> {
        if s.top.is_some() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"TOP\"",
            ));
        }
        if s.into.is_some() {
            return Err(unsupported("SELECT INTO"));
        }
        // FROM
        let mut plan: Option<Plan> = None;
        for twj in &s.from {
            let p = self.bind_table_with_joins(twj)?;
            plan = Some(match plan {
                None => p,
                Some(l) => Plan::Join {
                    left: Box::new(l),
                    right: Box::new(p),
                    kind: JoinKind::Inner,
                    on: vec![],
                },
            });
        }
        let mut plan = plan.unwrap_or(Plan::Values {
            cols: vec![],
            rows: vec![vec![]],
        });
        // WHERE
        if let Some(w) = &s.selection {
            self.scope().clause = Some("WHERE");
            let pred = self.bind_bool(w);
            self.scope().clause = None;
            let pred = pred?;
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: pred,
            };
        }
        // WINDOW definitions, for the OVER clauses of the SELECT list and ORDER BY.
        for w in &s.named_window {
            let spec = match &w.1 {
                ast::NamedWindowExpr::WindowSpec(spec) => spec.clone(),
                ast::NamedWindowExpr::NamedWindow(n) => ast::WindowSpec {
                    window_name: Some(n.clone()),
                    partition_by: vec![],
                    order_by: vec![],
                    window_frame: None,
                },
            };
            self.scope().named_windows.push((ident(&w.0), spec));
        }
        // SELECT list
        self.scope().aggs_allowed = Some("SELECT");
        let (exprs, names) = self.bind_output_list(&s.projection)?;
        self.scope().aggs_allowed = None;

        // GROUP BY
        let (group, sets) = match &s.group_by {
            ast::GroupByExpr::Expressions(list, mods) => {
                if !mods.is_empty() {
                    return Err(unsupported("GROUP BY modifiers"));
                }
                self.bind_group_by(list, &exprs, &names)?
            }
            ast::GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
        };
        // HAVING
        self.scope().aggs_allowed = Some("HAVING");
        let having = match &s.having {
            Some(h) => {
                let b = self.bind_expr(h)?;
                Some(self.coerce_bool(b, "HAVING")?)
            }
            None => None,
        };
        // ORDER BY: output position, or an expression over the input.
        let distinct = match &s.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => false,
        };
        let cols_out: Vec<OutputColumn> = names
            .iter()
            .zip(&exprs)
            .map(|(n, e)| OutputColumn {
                name: n.clone(),
                data_type: e.ty_or_text(),
            })
            .collect();
        self.scope().aggs_allowed = Some("ORDER BY");
        // Each key: Ok(position in exprs) — hidden ones are appended to `exprs`.
        let mut exprs = exprs;
        let visible = exprs.len();
        let mut key_pos = vec![];
        for o in order {
            let pos = match self.output_position(&o.expr, &cols_out)? {
                Some(i) => i,
                None => {
                    let b = self.bind_expr(&o.expr)?;
                    let b = match b.ty() {
                        None => self.coerce(b, &DataType::Text)?,
                        Some(_) => b,
                    };
                    let fp = b.fingerprint();
                    match exprs.iter().position(|e| e.fingerprint() == fp) {
                        Some(i) => i,
                        None if distinct => return Err(Error::new(
                            ErrorKind::InvalidColumnReference,
                            "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                        )),
                        None => {
                            exprs.push(b);
                            exprs.len() - 1
                        }
                    }
                }
            };
            key_pos.push(pos);
        }
        // DISTINCT ON (…): positions of its expressions among `exprs` (hidden if needed).
        let mut on_pos: Option<Vec<usize>> = None;
        if let Some(ast::Distinct::On(list)) = &s.distinct {
            let mut v = vec![];
            for e in list {
                let pos = match self.output_position(e, &cols_out)? {
                    Some(i) => i,
                    None => {
                        let b = self.bind_expr(e)?;
                        let b = match b.ty() {
                            None => self.coerce(b, &DataType::Text)?,
                            Some(_) => b,
                        };
                        let fp = b.fingerprint();
                        match exprs.iter().position(|e| e.fingerprint() == fp) {
                            Some(i) => i,
                            None => {
                                exprs.push(b);
                                exprs.len() - 1
                            }
                        }
                    }
                };
                v.push(pos);
            }
            let fps: Vec<String> = v.iter().map(|&p| exprs[p].fingerprint()).collect();
            for &k in key_pos.iter().take(v.len()) {
                if !fps.contains(&exprs[k].fingerprint()) {
                    return Err(Error::new(
                        ErrorKind::InvalidColumnReference,
                        "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                    ));
                }
            }
            on_pos = Some(v);
        }
        self.scope().aggs_allowed = None;

        // Aggregation
        let aggs = std::mem::take(&mut self.scope().aggs);
        let mut having = having;
        if !aggs.is_empty() || !group.is_empty() || having.is_some() {
            let group_cols: Vec<ColumnId> = group.iter().map(|_| self.new_col()).collect();
            let agg_cols: Vec<ColumnId> = aggs.iter().map(|_| self.new_col()).collect();
            let groups: Vec<(String, ColumnId, DataType)> = group
                .iter()
                .zip(&group_cols)
                .map(|(g, id)| (g.fingerprint(), *id, g.ty_or_text()))
                .collect();
            let local = self.scope().cols.clone();
            let post = |e: Expr| post_agg(e, &groups, &agg_cols, &local);
            exprs = exprs.into_iter().map(post).collect::<Result<Vec<_>>>()?;
            having = having.map(post).transpose()?;
            // Window calls run after aggregation: their expressions read its output.
            let mut windows = std::mem::take(&mut self.scope().windows);
            for (_, w) in windows.iter_mut() {
                for e in w.exprs_mut() {
                    let taken = std::mem::replace(e, Expr::Unknown(None));
                    *e = post(taken)?;
                }
            }
            self.scope().windows = windows;
            let groupings = std::mem::take(&mut self.scope().groupings);
            plan = match &sets {
                Some(sets) => self.grouping_sets_plan(
                    plan,
                    &group,
                    &group_cols,
                    &aggs,
                    &agg_cols,
                    sets,
                    &groupings,
                )?,
                None if !groupings.is_empty() => {
                    // grouping() without grouping sets: every argument is grouped.
                    let sets = vec![(0..group.len()).collect::<Vec<_>>()];
                    self.grouping_sets_plan(
                        plan,
                        &group,
                        &group_cols,
                        &aggs,
                        &agg_cols,
                        &sets,
                        &groupings,
                    )?
                }
                None => Plan::Aggregate {
                    input: Box::new(plan),
                    group,
                    group_cols,
                    aggs,
                    agg_cols,
                },
            };
        }
        if let Some(h) = having {
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: h,
            };
        }
        let windows = std::mem::take(&mut self.scope().windows);
        if !windows.is_empty() {
            let (cols, calls) = windows.into_iter().unzip();
            plan = Plan::Window {
                input: Box::new(plan),
                calls,
                cols,
            };
        }
        let cols: Vec<ColumnId> = exprs.iter().map(|_| self.new_col()).collect();
        let types: Vec<DataType> = exprs.iter().map(|e| e.ty_or_text()).collect();
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
            cols: cols.clone(),
        };
        if distinct {
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        if let Some(on) = &on_pos {
            // The first row of each DISTINCT ON group in ORDER BY order: row_number() over
            // the group, ordered like the query, kept where it is 1.
            let order_keys: Vec<SortKey> = order
                .iter()
                .zip(&key_pos)
                .map(|(o, &p)| sort_key(Expr::Column(cols[p], types[p].clone()), o))
                .collect();
            let rn = self.new_col();
            plan = Plan::Window {
                input: Box::new(plan),
                calls: vec![crate::plan::window::WindowCall {
                    func: crate::plan::window::WinFunc::RowNumber,
                    args: vec![],
                    partition: on
                        .iter()
                        .map(|&p| Expr::Column(cols[p], types[p].clone()))
                        .collect(),
                    order: order_keys,
                    mode: crate::plan::window::FrameMode::Rows,
                    start: crate::plan::window::FrameBound::UnboundedPreceding,
                    end: crate::plan::window::FrameBound::CurrentRow,
                    ty: DataType::Int8,
                }],
                cols: vec![rn],
            };
            let first = self.call_binary(
                crate::scalar::BinaryOp::Eq,
                Expr::Column(rn, DataType::Int8),
                Expr::Literal(sledgres_storage::Value::Int8(1), DataType::Int8),
            )?;
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: first,
            };
        }
        if !order.is_empty() {
            let keys = order
                .iter()
                .zip(&key_pos)
                .map(|(o, &p)| sort_key(Expr::Column(cols[p], types[p].clone()), o))
                .collect();
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        if cols.len() > visible || on_pos.is_some() {
            plan = Plan::Project {
                input: Box::new(plan),
                exprs: (0..visible)
                    .map(|i| Expr::Column(cols[i], types[i].clone()))
                    .collect(),
                cols: cols[..visible].to_vec(),
            };
        }
        Ok((plan, cols_out))
    }

    /// A GROUP BY item: an ordinal or output alias refers to the SELECT list, anything
    /// else is an expression over the input (input column names win over aliases).
    pub(crate) fn bind_group_item(
        &mut self,
        g: &ast::Expr,
        exprs: &[Expr],
        names: &[String],
    ) -> Result<Expr> {
        if let ast::Expr::Value(v) = g {
            if let ast::Value::Number(n, _) = &v.value {
                let i: i64 = n.parse().unwrap_or(0);
                if i < 1 || i as usize > exprs.len() {
                    return Err(Error::new(
                        ErrorKind::InvalidColumnReference,
                        format!("GROUP BY position {n} is not in select list"),
                    ));
                }
                return Ok(exprs[i as usize - 1].clone());
            }
        }
        if let ast::Expr::Identifier(i) = g {
            let name = ident(i);
            if !self.scope().cols.iter().any(|c| c.name == name) {
                if let Some(p) = names.iter().position(|n| *n == name) {
                    return Ok(exprs[p].clone());
                }
            }
        }
        let b = self.bind_expr(g)?;
        match b.ty() {
            None => self.coerce(b, &DataType::Text),
            Some(_) => Ok(b),
        }
    }

    fn bind_table_with_joins(&mut self, twj: &ast::TableWithJoins) -> Result<Plan> {
        let start = self.scope().cols.len();
        let mut plan = self.bind_table_factor(&twj.relation)?;
        for j in &twj.joins {
            let mid = self.scope().cols.len();
            let right = self.bind_table_factor(&j.relation)?;
            let (kind, right_join, constraint) = match &j.join_operator {
                ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => {
                    (JoinKind::Inner, false, c)
                }
                ast::JoinOperator::CrossJoin(c) => (JoinKind::Inner, false, c),
                ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => {
                    (JoinKind::Left, false, c)
                }
                ast::JoinOperator::Right(c) | ast::JoinOperator::RightOuter(c) => {
                    (JoinKind::Left, true, c)
                }
                ast::JoinOperator::FullOuter(c) => (JoinKind::Full, false, c),
                _ => return Err(unsupported("this join type")),
            };
            let using: Option<Vec<String>> = match constraint {
                ast::JoinConstraint::Using(names) => {
                    Some(names.iter().map(object_name).collect::<Result<Vec<_>>>()?)
                }
                ast::JoinConstraint::Natural => {
                    let cols = &self.scope().cols;
                    let left: Vec<String> = cols[start..mid]
                        .iter()
                        .filter(|c| !c.hidden)
                        .map(|c| c.name.clone())
                        .collect();
                    Some(
                        cols[mid..]
                            .iter()
                            .filter(|c| !c.hidden && left.contains(&c.name))
                            .map(|c| c.name.clone())
                            .collect(),
                    )
                }
                _ => None,
            };
            let mut merged = vec![];
            let on = match (constraint, using) {
                (ast::JoinConstraint::On(e), _) => {
                    let b = self.bind_expr(e)?;
                    self.coerce_bool(b, "JOIN/ON")?.conjuncts()
                }
                (_, Some(names)) => {
                    let (on, m) = self.bind_using(start, mid, &names)?;
                    merged = m;
                    on
                }
                _ => vec![],
            };
            let left_out = plan.output();
            let right_out = right.output();
            plan = if right_join {
                // A RIGHT join is a LEFT join with the inputs swapped, projected back into
                // the written column order.
                let exprs = left_out
                    .iter()
                    .chain(&right_out)
                    .map(|(id, ty)| Expr::Column(*id, ty.clone()))
                    .collect();
                let cols = left_out
                    .iter()
                    .chain(&right_out)
                    .map(|(id, _)| *id)
                    .collect();
                Plan::Project {
                    input: Box::new(Plan::Join {
                        left: Box::new(right),
                        right: Box::new(plan),
                        kind,
                        on,
                    }),
                    exprs,
                    cols,
                }
            } else {
                Plan::Join {
                    left: Box::new(plan),
                    right: Box::new(right),
                    kind,
                    on,
                }
            };
            // USING / NATURAL: one merged column per name, placed before the join's other
            // columns (that is where `SELECT *` shows it). It is the left copy for INNER and
            // LEFT joins, the right copy for RIGHT, and COALESCE(left, right) for FULL.
            let mut extra = vec![];
            let mut scope_merged = vec![];
            for (l, r) in merged {
                let (id, ty) = match (kind, right_join) {
                    (JoinKind::Full, _) => {
                        let ty = scalar::common_type(
                            &[Some(l.ty.clone()), Some(r.ty.clone())],
                            "JOIN/USING",
                        )?;
                        let a = self.coerce(Expr::Column(l.id, l.ty.clone()), &ty)?;
                        let b = self.coerce(Expr::Column(r.id, r.ty.clone()), &ty)?;
                        let id = self.new_col();
                        extra.push((id, Expr::Coalesce(vec![a, b], ty.clone())));
                        (id, ty)
                    }
                    (_, true) => (r.id, r.ty.clone()),
                    _ => (l.id, l.ty.clone()),
                };
                scope_merged.push(ScopeColumn {
                    table: None,
                    name: l.name.clone(),
                    id,
                    ty,
                    hidden: false,
                });
            }
            if !extra.is_empty() {
                let out = plan.output();
                let mut exprs: Vec<Expr> = out
                    .iter()
                    .map(|(id, ty)| Expr::Column(*id, ty.clone()))
                    .collect();
                let mut cols: Vec<ColumnId> = out.iter().map(|(id, _)| *id).collect();
                for (id, e) in extra {
                    exprs.push(e);
                    cols.push(id);
                }
                plan = Plan::Project {
                    input: Box::new(plan),
                    exprs,
                    cols,
                };
            }
            let scope = self.scope();
            for (i, c) in scope_merged.into_iter().enumerate() {
                scope.cols.insert(start + i, c);
            }
        }
        Ok(plan)
    }

    /// JOIN … USING (cols) / NATURAL JOIN: equalities between the same-named columns of the
    /// two sides. Both copies become reachable only qualified; the caller adds the merged
    /// column.
    fn bind_using(
        &mut self,
        start: usize,
        mid: usize,
        names: &[String],
    ) -> Result<(Vec<Expr>, Vec<UsingPair>)> {
        let mut on = vec![];
        let mut merged = vec![];
        for name in names {
            let find = |cols: &[ScopeColumn], side: &str| -> Result<usize> {
                let found: Vec<usize> = cols
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.hidden && c.name == *name)
                    .map(|(i, _)| i)
                    .collect();
                match found.as_slice() {
                    [i] => Ok(*i),
                    [] => Err(Error::new(
                        ErrorKind::UndefinedColumn,
                        format!("column \"{name}\" specified in USING clause does not exist in {side} table"),
                    )),
                    _ => Err(Error::new(
                        ErrorKind::AmbiguousColumn,
                        format!("common column name \"{name}\" appears more than once in {side} table"),
                    )),
                }
            };
            let cols = self.scope().cols.clone();
            let l = start + find(&cols[start..mid], "left")?;
            let r = mid + find(&cols[mid..], "right")?;
            let (lc, rc) = (&cols[l], &cols[r]);
            let eq = self.call_binary(
                crate::scalar::BinaryOp::Eq,
                Expr::Column(lc.id, lc.ty.clone()),
                Expr::Column(rc.id, rc.ty.clone()),
            )?;
            on.push(eq);
            merged.push((lc.clone(), rc.clone()));
            self.scope().cols[l].hidden = true;
            self.scope().cols[r].hidden = true;
        }
        Ok((on, merged))
    }

    fn bind_table_factor(&mut self, tf: &ast::TableFactor) -> Result<Plan> {
        match tf {
            ast::TableFactor::Table {
                name,
                alias,
                args,
                with_ordinality,
                ..
            } => {
                if let Some(args) = args {
                    // unnest and pg_partition_ancestors: binder/pg_compat.rs.
                    if let Some(tf) =
                        self.pg_table_function(name, alias.as_ref(), args, *with_ordinality)?
                    {
                        return self.bind_table_factor(&tf);
                    }
                    if *with_ordinality {
                        return Err(unsupported("WITH ORDINALITY"));
                    }
                    return self.bind_table_function(name, alias.as_ref(), args);
                }
                if let Some(i) = self.find_cte(name) {
                    let qual = match alias {
                        Some(a) => ident(&a.name),
                        None => object_name(name)?,
                    };
                    let renames: Vec<String> = alias
                        .as_ref()
                        .map(|a| a.columns.iter().map(|c| ident(&c.name)).collect())
                        .unwrap_or_default();
                    return self.bind_cte_ref(i, qual, &renames);
                }
                let qual = match alias {
                    Some(a) => ident(&a.name),
                    None => object_name(name)?,
                };
                let renames: Vec<String> = alias
                    .as_ref()
                    .map(|a| a.columns.iter().map(|c| ident(&c.name)).collect())
                    .unwrap_or_default();
                // System catalogs (pg_class, information_schema.tables …): see binder/catalog.rs.
                if let Some(plan) = self.bind_virtual_relation(name, &qual, &renames)? {
                    return Ok(plan);
                }
                let table = self.relation(name)?;
                if let Some(sql) = super::view::view_sql(&table) {
                    let sql = sql.to_string();
                    return self.bind_view_ref(&table, &sql, qual, &renames);
                }
                let mut cols = vec![];
                for (i, c) in table.columns.iter().enumerate() {
                    let id = self.new_col();
                    cols.push(id);
                    let name = renames.get(i).cloned().unwrap_or_else(|| c.name.clone());
                    self.scope().cols.push(ScopeColumn {
                        table: Some(qual.clone()),
                        name,
                        id,
                        ty: c.data_type.clone(),
                        hidden: false,
                    });
                }
                Ok(Plan::Scan {
                    table,
                    cols,
                    filter: vec![],
                    access: Access::Full,
                })
            }
            ast::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                // A LATERAL subquery may read the columns of FROM items to its left: they
                // are outer references, and the join runs it once per left row.
                let (plan, out) = if *lateral {
                    let (p, o, _) = self.bind_subquery_plan(subquery)?;
                    (p, o)
                } else {
                    self.bind_query(subquery)?
                };
                let qual = alias.as_ref().map(|a| ident(&a.name));
                let renames: Vec<String> = alias
                    .as_ref()
                    .map(|a| a.columns.iter().map(|c| ident(&c.name)).collect())
                    .unwrap_or_default();
                for (i, ((id, ty), c)) in plan.output().into_iter().zip(&out).enumerate() {
                    self.scope().cols.push(ScopeColumn {
                        table: qual.clone(),
                        name: renames.get(i).cloned().unwrap_or_else(|| c.name.clone()),
                        id,
                        ty,
                        hidden: false,
                    });
                }
                Ok(plan)
            }
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let start = self.scope().cols.len();
                let plan = self.bind_table_with_joins(table_with_joins)?;
                // `(a JOIN b …) AS j (c1, …)`: the join's visible columns are known only as
                // j's (renamed in order); the names inside are no longer reachable.
                if let Some(a) = alias {
                    let qual = ident(&a.name);
                    let renames: Vec<String> = a.columns.iter().map(|c| ident(&c.name)).collect();
                    let mut k = 0;
                    for c in self.scope().cols[start..].iter_mut() {
                        if c.hidden {
                            c.table = None;
                            continue;
                        }
                        c.table = Some(qual.clone());
                        if let Some(n) = renames.get(k) {
                            c.name = n.clone();
                        }
                        k += 1;
                    }
                }
                Ok(plan)
            }
            _ => Err(unsupported("this FROM item")),
        }
    }

    /// A set-returning function in FROM: generate_series over int4 or int8 (int8 when any
    /// argument is). Like PostgreSQL, a function returning a scalar gives one column named
    /// after the alias (`generate_series(1, 3) AS g` has column g) or the function.
    fn bind_table_function(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
        args: &ast::TableFunctionArgs,
    ) -> Result<Plan> {
        let parts = super::name_parts(name)?;
        let fname = match parts.as_slice() {
            [f] => f.clone(),
            [s, f] if s == "pg_catalog" => f.clone(),
            _ => object_name(name)?,
        };
        let mut bound = vec![];
        for a in &args.args {
            match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                    bound.push(self.bind_expr(e)?)
                }
                _ => return Err(unsupported("this table function argument")),
            }
        }
        let types: Vec<Option<DataType>> = bound.iter().map(|e| e.ty()).collect();
        let integral = types.iter().all(|t| {
            matches!(
                t,
                None | Some(DataType::Int2 | DataType::Int4 | DataType::Int8)
            )
        });
        if fname != "generate_series" || !(2..=3).contains(&bound.len()) || !integral {
            let shown: Vec<String> = types
                .iter()
                .map(|t| t.as_ref().map_or("unknown".to_string(), |t| t.pg_name()))
                .collect();
            return Err(Error::new(
                ErrorKind::UndefinedFunction,
                format!("function {fname}({}) does not exist", shown.join(", ")),
            )
            .with_hint(
                "No function matches the given name and argument types. You might need to add explicit type casts.",
            ));
        }
        let ty = if types.iter().any(|t| matches!(t, Some(DataType::Int8))) {
            DataType::Int8
        } else {
            DataType::Int4
        };
        let args = bound
            .into_iter()
            .map(|e| self.coerce(e, &ty))
            .collect::<Result<Vec<_>>>()?;
        let qual = alias
            .map(|a| ident(&a.name))
            .unwrap_or_else(|| fname.clone());
        let col_name = alias
            .and_then(|a| a.columns.first().map(|c| ident(&c.name)))
            .unwrap_or_else(|| qual.clone());
        let id = self.new_col();
        self.scope().cols.push(ScopeColumn {
            table: Some(qual),
            name: col_name,
            id,
            ty: ty.clone(),
            hidden: false,
        });
        Ok(Plan::FunctionScan {
            func: crate::plan::TableFunc::GenerateSeries,
            args,
            cols: vec![(id, ty)],
        })
    }

    /// Binds a SELECT or RETURNING list in the current scope: `*` and `t.*` expand to the
    /// visible columns, other items are bound and named as PostgreSQL names them, and
    /// untyped literals become text. Returns the expressions and their output names.
    pub(crate) fn bind_output_list(
        &mut self,
        items: &[ast::SelectItem],
    ) -> Result<(Vec<Expr>, Vec<String>)> {
        let mut exprs = vec![];
        let mut names = vec![];
        for item in items {
            match item {
                ast::SelectItem::Wildcard(_) => {
                    if self.scope().cols.is_empty() {
                        return Err(Error::new(
                            ErrorKind::SyntaxError,
                            "SELECT * with no tables specified is not valid",
                        ));
                    }
                    for c in self.scope().cols.clone() {
                        if c.hidden {
                            continue;
                        }
                        exprs.push(Expr::Column(c.id, c.ty.clone()));
                        names.push(c.name.clone());
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let t = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => object_name(n)?,
                        _ => return Err(unsupported("this wildcard")),
                    };
                    let cols: Vec<ScopeColumn> = self
                        .scope()
                        .cols
                        .iter()
                        .filter(|c| c.table.as_deref() == Some(t.as_str()))
                        .cloned()
                        .collect();
                    if cols.is_empty() {
                        return Err(Error::new(
                            ErrorKind::UndefinedTable,
                            format!("missing FROM-clause entry for table \"{t}\""),
                        ));
                    }
                    for c in cols {
                        exprs.push(Expr::Column(c.id, c.ty.clone()));
                        names.push(c.name.clone());
                    }
                }
                ast::SelectItem::UnnamedExpr(e) => {
                    self.last_subquery_name = None;
                    let b = self.bind_expr(e)?;
                    names.push(self.figure_name(e));
                    exprs.push(b);
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    exprs.push(self.bind_expr(expr)?);
                    names.push(ident(alias));
                }
                ast::SelectItem::ExprWithAliases { .. } => return Err(unsupported("this alias")),
            }
        }
        // Untyped literals in the output become text.
        let exprs = exprs
            .into_iter()
            .map(|e| match e.ty() {
                None => self.coerce(e, &DataType::Text),
                Some(_) => Ok(e),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((exprs, names))
    }

    /// PostgreSQL's FigureColname: the output name of an unaliased SELECT item.
    pub(crate) fn figure_name(&self, e: &ast::Expr) -> String {
        self.figure_name_strength(e).0
    }

    /// The name and how strongly it holds (PostgreSQL's FigureColnameInternal): 2 for a
    /// column or function name, 1 for a type name from a cast or "case" (an outer cast's type
    /// replaces them), 0 for none (`?column?`).
    fn figure_name_strength(&self, e: &ast::Expr) -> (String, u8) {
        use ast::Expr as A;
        let strong = |s: String| (s, 2);
        match e {
            A::Identifier(i) => strong(ident(i)),
            A::CompoundIdentifier(v) => strong(v.last().map(ident).unwrap_or_default()),
            A::Nested(e) => self.figure_name_strength(e),
            A::Function(f) => match object_name(&f.name) {
                Ok(n) => strong(n),
                Err(_) => ("?column?".into(), 0),
            },
            A::Case { .. } => ("case".into(), 1),
            A::Exists { .. } => strong("exists".into()),
            A::Subquery(_) => match &self.last_subquery_name {
                Some(n) => strong(n.clone()),
                None => ("?column?".into(), 0),
            },
            A::Cast {
                expr, data_type, ..
            } => {
                let inner = self.figure_name_strength(expr);
                if inner.1 > 1 {
                    return inner;
                }
                match scalar::type_from_ast(data_type) {
                    Ok(t) => (type_short_name(&t).into(), 1),
                    Err(_) => inner,
                }
            }
            A::Value(v) if matches!(v.value, ast::Value::Boolean(_)) => ("bool".into(), 1),
            A::TypedString(ts) => match scalar::type_from_ast(&ts.data_type) {
                Ok(t) => (type_short_name(&t).into(), 1),
                Err(_) => ("?column?".into(), 0),
            },
            A::Interval(_) => ("interval".into(), 1),
            A::Extract { .. } => strong("extract".into()),
            A::AtTimeZone { .. } => strong("timezone".into()),
            _ => ("?column?".into(), 0),
        }
    }
}

fn type_short_name(t: &DataType) -> &'static str {
    match t {
        DataType::Bool => "bool",
        DataType::Int2 => "int2",
        DataType::Int4 => "int4",
        DataType::Int8 => "int8",
        DataType::Float4 => "float4",
        DataType::Float8 => "float8",
        DataType::Numeric { .. } => "numeric",
        DataType::Text => "text",
        DataType::Varchar(_) => "varchar",
        DataType::Char(_) => "bpchar",
        DataType::Date => "date",
        DataType::Time => "time",
        DataType::Timestamp => "timestamp",
        DataType::TimestampTz => "timestamptz",
        DataType::Interval => "interval",
        DataType::Bytea => "bytea",
        DataType::Uuid => "uuid",
        DataType::Name => "name",
    }
}

fn sort_key(expr: Expr, o: &ast::OrderByExpr) -> SortKey {
    let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
    SortKey {
        expr,
        desc,
        // PostgreSQL: NULLs sort as larger than everything, so first for DESC.
        nulls_first: o.options.nulls_first.unwrap_or(desc),
    }
}

/// Rewrites an expression over the input rows into one over the Aggregate node's output:
/// GROUP BY expressions and aggregate calls become its columns; any other column of this
/// query level is an error (42803).
fn post_agg(
    e: Expr,
    groups: &[(String, ColumnId, DataType)],
    agg_cols: &[ColumnId],
    local: &[ScopeColumn],
) -> Result<Expr> {
    let fp = e.fingerprint();
    if let Some((_, id, ty)) = groups.iter().find(|g| g.0 == fp) {
        return Ok(Expr::Column(*id, ty.clone()));
    }
    match e {
        Expr::AggRef(i, ty) => Ok(Expr::Column(
            *agg_cols
                .get(i)
                .ok_or_else(|| Error::internal("aggregate index out of range"))?,
            ty,
        )),
        Expr::Column(id, ty) => match local.iter().find(|c| c.id == id) {
            Some(c) => Err(Error::new(
                ErrorKind::GroupingError,
                format!(
                    "column \"{}.{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                    c.table.as_deref().unwrap_or(""),
                    c.name
                ),
            )),
            None => Ok(Expr::Column(id, ty)),
        },
        Expr::Subquery(s) if s.outer_refs.iter().any(|r| local.iter().any(|c| c.id == *r)) => {
            // The subquery reads columns of this level: each must be a GROUP BY column, which
            // it then reads from the Aggregate node's output.
            let mut map = std::collections::HashMap::new();
            for r in &s.outer_refs {
                let Some(c) = local.iter().find(|c| c.id == *r) else {
                    continue;
                };
                let fp = Expr::Column(c.id, c.ty.clone()).fingerprint();
                match groups.iter().find(|g| g.0 == fp) {
                    Some((_, gid, _)) => {
                        map.insert(*r, *gid);
                    }
                    None => {
                        return Err(Error::new(
                            ErrorKind::GroupingError,
                            format!(
                                "subquery uses ungrouped column \"{}.{}\" from outer query",
                                c.table.as_deref().unwrap_or(""),
                                c.name
                            ),
                        ))
                    }
                }
            }
            let e = crate::plan::remap_expr(Expr::Subquery(s), &map)?;
            // The IN operand (if any) is evaluated in this query: rewrite it too.
            match e {
                Expr::Subquery(mut s) => {
                    if let crate::plan::SubqueryKind::In { lhs, eq, negated } = s.kind {
                        s.kind = crate::plan::SubqueryKind::In {
                            lhs: post_agg(lhs, groups, agg_cols, local)?,
                            eq,
                            negated,
                        };
                    }
                    Ok(Expr::Subquery(s))
                }
                e => Ok(e),
            }
        }
        e => e.map_children(&mut |c| post_agg(c, groups, agg_cols, local)),
    }
}
