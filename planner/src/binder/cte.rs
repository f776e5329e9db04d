//! WITH: common table expressions.
//!
//! A CTE is kept as its AST until it is referenced. The first reference binds it; if the
//! body reads no column of an enclosing query and is not recursive, it is *materialised*:
//! every reference becomes a [`Plan::WorkTable`] scan of one work table, and the query
//! that declared the WITH is wrapped in [`Plan::WithCte`], which computes the CTE once per
//! execution before running the query (so `random()` in a CTE gives every reference the
//! same rows, as in PostgreSQL). A correlated CTE is instead bound anew at each reference,
//! like a derived table.
//!
//! WITH RECURSIVE whose body is `anchor UNION [ALL] recursive-term` and names itself binds
//! to [`Plan::RecursiveUnion`]: the anchor first (where a self-reference is an error), then
//! the recursive term, in which the self-reference is a [`Plan::WorkTable`] with the
//! anchor's column types. A WITH RECURSIVE query that never names itself is an ordinary CTE.

use super::{ident, Binder, OutputColumn, ScopeColumn};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{ColumnId, Plan};
use crate::scalar;
use sledgres_storage::DataType;
use sqlparser::ast;

#[derive(Clone, Debug)]
pub(crate) enum CteState {
    /// Not being bound: references expand the definition.
    Defined,
    /// Binding the anchor of a recursive CTE.
    Anchor,
    /// Binding the recursive term: references scan the work table `id`.
    Recursive { id: usize, types: Vec<DataType> },
    /// Binding a WITH RECURSIVE body that is not a UNION: a self-reference is an error.
    NotUnion,
}

#[derive(Clone, Debug)]
pub(crate) struct CteDef {
    pub name: String,
    pub query: ast::Query,
    pub columns: Vec<String>,
    pub recursive: bool,
    pub state: CteState,
    /// Work-table references bound while in `Recursive` state.
    pub self_refs: usize,
    /// Once bound, an uncorrelated non-recursive CTE is materialised: its work table id,
    /// plan, column names and types (the WITH's query wraps itself in `Plan::WithCte`).
    pub materialized: Option<(usize, Plan, Vec<String>, Vec<DataType>)>,
}

impl Binder<'_> {
    /// Makes the WITH clause's CTEs visible; returns how many were visible before (pass it
    /// to `truncate` when the query is bound).
    pub(crate) fn push_with(&mut self, with: &ast::With) -> Result<usize> {
        let before = self.ctes.len();
        let mut names: Vec<String> = vec![];
        for c in &with.cte_tables {
            let name = ident(&c.alias.name);
            if names.contains(&name) {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    format!("WITH query name \"{name}\" specified more than once"),
                ));
            }
            names.push(name.clone());
            self.ctes.push(CteDef {
                name,
                query: (*c.query).clone(),
                columns: c.alias.columns.iter().map(|c| ident(&c.name)).collect(),
                recursive: with.recursive,
                state: CteState::Defined,
                self_refs: 0,
                materialized: None,
            });
        }
        Ok(before)
    }

    /// The innermost visible CTE called `name`.
    pub(crate) fn find_cte(&self, name: &ast::ObjectName) -> Option<usize> {
        let parts = super::name_parts(name).ok()?;
        let [n] = parts.as_slice() else {
            return None;
        };
        self.ctes.iter().rposition(|c| &c.name == n)
    }

    /// Binds a reference to CTE `i`, adding its columns to the current scope under `qual`
    /// (renamed by the reference's alias columns, `renames`).
    pub(crate) fn bind_cte_ref(
        &mut self,
        i: usize,
        qual: String,
        renames: &[String],
    ) -> Result<Plan> {
        let cte = self.ctes[i].clone();
        let (plan, names) = match &cte.state {
            CteState::Anchor => {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    format!(
                        "recursive reference to query \"{}\" must not appear within its non-recursive term",
                        cte.name
                    ),
                ))
            }
            CteState::NotUnion => {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    format!(
                        "recursive query \"{}\" does not have the form non-recursive-term UNION [ALL] recursive-term",
                        cte.name
                    ),
                ))
            }
            CteState::Recursive { id, types } => {
                let id = *id;
                self.ctes[i].self_refs += 1;
                let cols: Vec<(ColumnId, DataType)> =
                    types.iter().map(|t| (self.new_col(), t.clone())).collect();
                let names = self.cte_names(&cte, cte_output_names(&cte.query).len().max(cols.len()));
                (Plan::WorkTable { id, cols }, names)
            }
            CteState::Defined if cte.materialized.is_some() => {
                let (id, _, names, types) = cte
                    .materialized
                    .clone()
                    .ok_or_else(|| Error::internal("CTE not materialised"))?;
                let cols = types.into_iter().map(|t| (self.new_col(), t)).collect();
                (Plan::WorkTable { id, cols }, names)
            }
            CteState::Defined => {
                // The body sees the CTEs defined before it (and itself, if recursive). Its
                // outer references are collected to tell whether it can be materialised.
                let level = self.scopes.len();
                self.ref_sinks.push((level, vec![]));
                let saved = self.ctes.split_off(i + 1);
                let r = self.bind_cte_body(i);
                self.ctes.extend(saved);
                let (_, refs) = self.ref_sinks.pop().unwrap_or_default();
                let correlated = !refs.is_empty();
                if let Some((l, sink)) = self.ref_sinks.last_mut() {
                    if *l == level {
                        sink.extend(refs);
                    }
                }
                let (plan, out) = r?;
                if !cte.columns.is_empty() && cte.columns.len() > out.len() {
                    return Err(Error::new(
                        ErrorKind::InvalidColumnReference,
                        format!(
                            "WITH query \"{}\" has {} columns available but {} columns specified",
                            cte.name,
                            out.len(),
                            cte.columns.len()
                        ),
                    ));
                }
                let names: Vec<String> = out
                    .iter()
                    .enumerate()
                    .map(|(k, c)| cte.columns.get(k).cloned().unwrap_or(c.name.clone()))
                    .collect();
                let recursive = matches!(plan, Plan::RecursiveUnion { .. });
                if correlated || recursive {
                    (plan, names)
                } else {
                    let id = self.new_subquery_id();
                    let types: Vec<DataType> = out.iter().map(|c| c.data_type.clone()).collect();
                    let cols = types.iter().map(|t| (self.new_col(), t.clone())).collect();
                    self.ctes[i].materialized = Some((id, plan, names.clone(), types));
                    (Plan::WorkTable { id, cols }, names)
                }
            }
        };
        for (k, ((id, ty), name)) in plan.output().into_iter().zip(names).enumerate() {
            self.scope().cols.push(ScopeColumn {
                table: Some(qual.clone()),
                name: renames.get(k).cloned().unwrap_or(name),
                id,
                ty,
                hidden: false,
            });
        }
        Ok(plan)
    }

    fn cte_names(&self, cte: &CteDef, n: usize) -> Vec<String> {
        let from_query = cte_output_names(&cte.query);
        (0..n)
            .map(|k| {
                cte.columns
                    .get(k)
                    .or(from_query.get(k))
                    .cloned()
                    .unwrap_or_else(|| "?column?".into())
            })
            .collect()
    }

    /// Binds CTE `i`'s definition (the CTE list is truncated after `i`).
    fn bind_cte_body(&mut self, i: usize) -> Result<(Plan, Vec<OutputColumn>)> {
        let cte = self.ctes[i].clone();
        if !cte.recursive {
            let saved = self.ctes.split_off(i);
            let r = self.bind_query(&cte.query);
            self.ctes.extend(saved);
            return r;
        }
        let (left, right, all) = match &*cte.query.body {
            ast::SetExpr::SetOperation {
                left,
                op: ast::SetOperator::Union,
                set_quantifier,
                right,
            } if cte.query.with.is_none() => (
                left.clone(),
                right.clone(),
                matches!(set_quantifier, ast::SetQuantifier::All),
            ),
            _ => {
                self.ctes[i].state = CteState::NotUnion;
                let r = self.bind_query(&cte.query);
                self.ctes[i].state = CteState::Defined;
                return r;
            }
        };
        self.ctes[i].state = CteState::Anchor;
        let anchor = self.bind_query(&ast::Query {
            body: left,
            ..plain_query(&cte.query)
        });
        self.ctes[i].state = CteState::Defined;
        let (anchor, acols) = anchor?;
        let types: Vec<DataType> = acols.iter().map(|c| c.data_type.clone()).collect();
        let id = self.new_subquery_id();
        self.ctes[i].state = CteState::Recursive {
            id,
            types: types.clone(),
        };
        self.ctes[i].self_refs = 0;
        let rec = self.bind_query(&ast::Query {
            body: right,
            ..plain_query(&cte.query)
        });
        let refs = self.ctes[i].self_refs;
        self.ctes[i].state = CteState::Defined;
        let (rec, rcols) = rec?;
        if refs == 0 {
            // Never names itself: an ordinary CTE.
            let saved = self.ctes.split_off(i);
            let r = self.bind_query(&cte.query);
            self.ctes.extend(saved);
            return r;
        }
        if rcols.len() != acols.len() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "each UNION query must have the same number of columns",
            ));
        }
        let mut rec_types = vec![];
        for (k, (a, r)) in acols.iter().zip(&rcols).enumerate() {
            let common = scalar::common_type(
                &[Some(a.data_type.clone()), Some(r.data_type.clone())],
                "UNION",
            )?;
            if common != a.data_type {
                return Err(Error::new(
                    ErrorKind::DatatypeMismatch,
                    format!(
                        "recursive query \"{}\" column {} has type {} in non-recursive term but type {} overall",
                        cte.name,
                        k + 1,
                        a.data_type.pg_name(),
                        common.pg_name()
                    ),
                )
                .with_hint("Cast the output of the non-recursive term to the correct type."));
            }
            rec_types.push(common);
        }
        let rec = self.cast_plan_pub(rec, &rec_types)?;
        let cols: Vec<(ColumnId, DataType)> =
            types.iter().map(|t| (self.new_col(), t.clone())).collect();
        Ok((
            Plan::RecursiveUnion {
                id,
                all,
                anchor: Box::new(anchor),
                recursive: Box::new(rec),
                cols,
            },
            acols,
        ))
    }
}

/// A query with `query`'s shape but no WITH, ORDER BY or LIMIT (the terms of a recursive
/// UNION).
fn plain_query(q: &ast::Query) -> ast::Query {
    ast::Query {
        with: None,
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: vec![],
        ..q.clone()
    }
}

/// Best-effort output names of a query's first SELECT (for a work table's columns before
/// the CTE is bound): aliases and plain column names.
fn cte_output_names(q: &ast::Query) -> Vec<String> {
    let mut body = &*q.body;
    loop {
        match body {
            ast::SetExpr::SetOperation { left, .. } => body = left,
            ast::SetExpr::Query(q) => body = &q.body,
            _ => break,
        }
    }
    let ast::SetExpr::Select(s) = body else {
        return vec![];
    };
    s.projection
        .iter()
        .map(|item| match item {
            ast::SelectItem::ExprWithAlias { alias, .. } => ident(alias),
            ast::SelectItem::UnnamedExpr(ast::Expr::Identifier(i)) => ident(i),
            ast::SelectItem::UnnamedExpr(ast::Expr::CompoundIdentifier(v)) => {
                v.last().map(ident).unwrap_or_default()
            }
            _ => "?column?".into(),
        })
        .collect()
}
