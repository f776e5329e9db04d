//! INSERT, UPDATE and DELETE binding.
//!
//! UPDATE and DELETE read their target rows through a [`Plan::Scan`] whose filter holds the
//! WHERE conjuncts, so the optimizer's index selection applies to them as to queries; the
//! executor needs the rows' keys, which only a scan of the target table can give.
//!
//! RETURNING lists are bound against the target table's columns (the new row for INSERT and
//! UPDATE, the old one for DELETE); `*` expands to the table's columns. INSERT … ON CONFLICT
//! names its arbiter — the primary key or unique index whose columns are exactly the
//! conflict target, or the constraint named — and DO UPDATE's SET and WHERE are bound over
//! the existing row (under the table's name or alias) followed by the proposed one (under
//! `excluded`).

use super::{ident, object_name, unsupported, Binder, OutputColumn, Scope, ScopeColumn};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Access, ColumnId, Expr, Plan};
use sledgres_storage::{TableDef, Value};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct InsertPlan {
    pub table: Arc<TableDef>,
    /// Produces one row per inserted row, already cast to the target columns' types.
    pub source: Plan,
    /// For each source column, the table column it fills.
    pub targets: Vec<usize>,
    /// For each table column not in `targets`: its default (None: NULL).
    pub defaults: Vec<Option<Expr>>,
    pub returning: Option<Returning>,
    pub on_conflict: Option<OnConflict>,
}

/// A RETURNING list.
#[derive(Clone, Debug)]
pub struct Returning {
    /// The ids of the row the expressions read: one per table column.
    pub cols: Vec<ColumnId>,
    pub exprs: Vec<Expr>,
    pub columns: Vec<OutputColumn>,
}

/// INSERT … ON CONFLICT.
#[derive(Clone, Debug)]
pub struct OnConflict {
    /// The arbiter constraint (primary key or unique index name); `None`: any (DO NOTHING
    /// without a target).
    pub arbiter: Option<String>,
    pub action: ConflictAction,
}

#[derive(Clone, Debug)]
pub enum ConflictAction {
    Nothing,
    /// SET and WHERE over the existing row's columns then the proposed row's (`cols`).
    Update {
        cols: Vec<ColumnId>,
        sets: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

#[derive(Clone, Debug)]
pub struct UpdatePlan {
    pub table: Arc<TableDef>,
    /// A `Plan::Scan` of the table with the WHERE conjuncts.
    pub scan: Plan,
    /// (column position, new value over the scan's columns).
    pub sets: Vec<(usize, Expr)>,
    /// Over the scan's columns (which are the table's), evaluated on the new row.
    pub returning: Option<Returning>,
    /// UPDATE … FROM: a query correlated with the target row (its one enclosing row) that
    /// yields the SET values for it (no row: the target row is not updated); `sets` then
    /// read this query's output.
    pub from: Option<Plan>,
}

#[derive(Clone, Debug)]
pub struct DeletePlan {
    pub table: Arc<TableDef>,
    pub scan: Plan,
    /// Over the scan's columns, evaluated on the deleted row.
    pub returning: Option<Returning>,
    /// DELETE … USING: a query correlated with the target row; the row is deleted if it
    /// yields a row.
    pub using: Option<Plan>,
}

impl Binder<'_> {
    pub(crate) fn bind_insert(&mut self, i: &ast::Insert) -> Result<InsertPlan> {
        if !i.into {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"VALUES\"",
            ));
        }
        if i.or.is_some() || i.replace_into || i.ignore || !i.assignments.is_empty() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"INSERT\"",
            ));
        }
        let name = match &i.table {
            ast::TableObject::TableName(n) => n,
            _ => return Err(unsupported("INSERT into a table function")),
        };
        let table = self.table(name)?;
        let targets: Vec<usize> = if i.columns.is_empty() {
            (0..table.columns.len()).collect()
        } else {
            let mut v = vec![];
            for c in &i.columns {
                let n = object_name(c)?;
                let pos = table.column_index(&n).ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedColumn,
                        format!(
                            "column \"{n}\" of relation \"{}\" does not exist",
                            table.name
                        ),
                    )
                })?;
                if v.contains(&pos) {
                    return Err(Error::new(
                        ErrorKind::DuplicateColumn,
                        format!("column \"{n}\" specified more than once"),
                    ));
                }
                v.push(pos);
            }
            v
        };
        let Some(query) = &i.source else {
            // INSERT … DEFAULT VALUES
            let defaults = self.defaults(&table, &[])?;
            let (returning, on_conflict) = self.insert_clauses(i, &table)?;
            return Ok(InsertPlan {
                table,
                source: Plan::Values {
                    cols: vec![],
                    rows: vec![vec![]],
                },
                targets: vec![],
                defaults,
                returning,
                on_conflict,
            });
        };
        self.scopes.push(Scope::default());
        let mut targets = targets;
        let implicit = i.columns.is_empty();
        let source = self.bind_insert_source(query, &table, &mut targets, implicit);
        self.scopes.pop();
        let source = source?;
        let defaults = self.defaults(&table, &targets)?;
        let (returning, on_conflict) = self.insert_clauses(i, &table)?;
        Ok(InsertPlan {
            table,
            source,
            targets,
            defaults,
            returning,
            on_conflict,
        })
    }

    /// An INSERT's RETURNING and ON CONFLICT clauses.
    fn insert_clauses(
        &mut self,
        i: &ast::Insert,
        table: &Arc<TableDef>,
    ) -> Result<(Option<Returning>, Option<OnConflict>)> {
        let alias = i.table_alias.as_ref().map(|a| ident(&a.alias));
        let returning = match &i.returning {
            Some(items) => {
                let Plan::Scan { cols, .. } = self.target_scan(table, alias.clone()) else {
                    return Err(Error::internal("target is not a scan"));
                };
                let r = self.bind_returning(items, cols);
                self.scopes.pop();
                Some(r?)
            }
            None => None,
        };
        let on_conflict = match &i.on {
            None => None,
            Some(ast::OnInsert::OnConflict(oc)) => Some(self.bind_on_conflict(oc, table, alias)?),
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    "syntax error at or near \"ON\"",
                ))
            }
        };
        Ok((returning, on_conflict))
    }

    fn bind_on_conflict(
        &mut self,
        oc: &ast::OnConflict,
        table: &Arc<TableDef>,
        alias: Option<String>,
    ) -> Result<OnConflict> {
        let no_match = || {
            Error::new(
                ErrorKind::InvalidColumnReference,
                "there is no unique or exclusion constraint matching the ON CONFLICT specification",
            )
        };
        let arbiter = match &oc.conflict_target {
            None => None,
            Some(ast::ConflictTarget::Columns { columns, .. }) => {
                let mut cols = vec![];
                for c in columns {
                    let n = ident(c);
                    let pos = table.column_index(&n).ok_or_else(|| {
                        Error::new(
                            ErrorKind::UndefinedColumn,
                            format!("column \"{n}\" does not exist"),
                        )
                    })?;
                    if !cols.contains(&pos) {
                        cols.push(pos);
                    }
                }
                let same =
                    |a: &[usize]| a.len() == cols.len() && a.iter().all(|c| cols.contains(c));
                if !table.primary_key.is_empty() && same(&table.primary_key) {
                    Some(
                        table
                            .primary_key_name
                            .clone()
                            .unwrap_or_else(|| format!("{}_pkey", table.name)),
                    )
                } else {
                    match table.indexes.iter().find(|i| i.unique && same(&i.columns)) {
                        Some(i) => Some(i.name.clone()),
                        None => return Err(no_match()),
                    }
                }
            }
            Some(ast::ConflictTarget::OnConstraint(name)) => {
                let n = object_name(name)?;
                let known = table.primary_key_name.as_deref() == Some(n.as_str())
                    || table.indexes.iter().any(|i| i.unique && i.name == n);
                if !known {
                    if table.constraints.iter().any(|c| c.name() == n) {
                        return Err(no_match());
                    }
                    return Err(Error::new(
                        ErrorKind::UndefinedObject,
                        format!(
                            "constraint \"{n}\" for table \"{}\" does not exist",
                            table.name
                        ),
                    ));
                }
                Some(n)
            }
        };
        let action = match &oc.action {
            ast::OnConflictAction::DoNothing => ConflictAction::Nothing,
            ast::OnConflictAction::DoUpdate(du) => {
                if arbiter.is_none() {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    )
                    .with_hint("For example, ON CONFLICT (column_name)."));
                }
                let Plan::Scan { cols: mut ids, .. } = self.target_scan(table, alias) else {
                    return Err(Error::internal("target is not a scan"));
                };
                for c in &table.columns {
                    let id = self.new_col();
                    ids.push(id);
                    self.scope().cols.push(ScopeColumn {
                        table: Some("excluded".into()),
                        name: c.name.clone(),
                        id,
                        ty: c.data_type.clone(),
                        hidden: false,
                    });
                }
                let r = (|| -> Result<_> {
                    let sets = self.bind_assignments(&du.assignments, table)?;
                    let filter = du
                        .selection
                        .as_ref()
                        .map(|w| self.bind_bool(w))
                        .transpose()?;
                    Ok((sets, filter))
                })();
                self.scopes.pop();
                let (sets, filter) = r?;
                ConflictAction::Update {
                    cols: ids,
                    sets,
                    filter,
                }
            }
        };
        Ok(OnConflict { arbiter, action })
    }

    /// Binds a RETURNING list in the current scope, which holds the target's columns.
    fn bind_returning(
        &mut self,
        items: &[ast::SelectItem],
        cols: Vec<ColumnId>,
    ) -> Result<Returning> {
        let (exprs, names) = self.bind_output_list(items)?;
        let columns = exprs
            .iter()
            .zip(names)
            .map(|(e, name)| OutputColumn {
                name,
                data_type: e.ty_or_text(),
            })
            .collect();
        Ok(Returning {
            cols,
            exprs,
            columns,
        })
    }

    /// SET assignments of UPDATE / ON CONFLICT DO UPDATE, in the current scope.
    fn bind_assignments(
        &mut self,
        assignments: &[ast::Assignment],
        table: &TableDef,
    ) -> Result<Vec<(usize, Expr)>> {
        let mut sets: Vec<(usize, Expr)> = vec![];
        for a in assignments {
            let names: Vec<String> = match &a.target {
                ast::AssignmentTarget::ColumnName(n) => vec![object_name(n)?],
                ast::AssignmentTarget::Tuple(v) => {
                    v.iter().map(object_name).collect::<Result<Vec<_>>>()?
                }
            };
            let values: Vec<&ast::Expr> = match (&a.target, &a.value) {
                (ast::AssignmentTarget::ColumnName(_), v) => vec![v],
                (ast::AssignmentTarget::Tuple(_), ast::Expr::Tuple(vs)) => vs.iter().collect(),
                (ast::AssignmentTarget::Tuple(_), ast::Expr::Nested(v)) if names.len() == 1 => {
                    vec![&**v]
                }
                _ => return Err(unsupported("this multiple-column assignment")),
            };
            if values.len() != names.len() {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    "number of columns does not match number of values",
                ));
            }
            for (name, value) in names.into_iter().zip(values) {
                let pos = table.column_index(&name).ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedColumn,
                        format!(
                            "column \"{name}\" of relation \"{}\" does not exist",
                            table.name
                        ),
                    )
                })?;
                if sets.iter().any(|(p, _)| *p == pos) {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        format!("multiple assignments to same column \"{name}\""),
                    ));
                }
                let col = &table.columns[pos];
                let e = if is_default_keyword(value) {
                    self.default_expr(table, pos)?
                } else {
                    self.bind_expr(value)?
                };
                sets.push((pos, self.coerce_assign(e, &col.data_type, &col.name)?));
            }
        }
        Ok(sets)
    }

    /// Binds the rows to insert. Without a column list (`implicit`), a source with fewer
    /// columns than the table fills the leading columns and the rest get their defaults, as
    /// in PostgreSQL; `targets` is cut down to match.
    fn bind_insert_source(
        &mut self,
        query: &ast::Query,
        table: &TableDef,
        targets: &mut Vec<usize>,
        implicit: bool,
    ) -> Result<Plan> {
        let too_many = || {
            Error::new(
                ErrorKind::SyntaxError,
                "INSERT has more expressions than target columns",
            )
        };
        let too_few = || {
            Error::new(
                ErrorKind::SyntaxError,
                "INSERT has more target columns than expressions",
            )
        };
        // VALUES directly: each value is coerced to its column (unknown literals are read as
        // the column's type), and DEFAULT is allowed.
        if let (ast::SetExpr::Values(v), None, None) =
            (&*query.body, &query.order_by, &query.limit_clause)
        {
            let width = v.rows.first().map_or(0, |r| r.content.len());
            if v.rows.iter().any(|r| r.content.len() != width) {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    "VALUES lists must all be the same length",
                ));
            }
            if implicit && width < targets.len() {
                targets.truncate(width);
            }
            let mut rows = vec![];
            for r in &v.rows {
                if r.content.len() > targets.len() {
                    return Err(too_many());
                }
                if r.content.len() < targets.len() {
                    return Err(too_few());
                }
                let mut row = vec![];
                for (e, &pos) in r.content.iter().zip(targets.iter()) {
                    let col = &table.columns[pos];
                    let b = if is_default_keyword(e) {
                        self.default_expr(table, pos)?
                    } else {
                        self.bind_expr(e)?
                    };
                    row.push(self.coerce_assign(b, &col.data_type, &col.name)?);
                }
                rows.push(row);
            }
            let cols = targets
                .iter()
                .map(|&p| (self.new_col(), table.columns[p].data_type.clone()))
                .collect();
            return Ok(Plan::Values { cols, rows });
        }
        let (plan, out) = self.bind_query(query)?;
        if implicit && out.len() < targets.len() {
            targets.truncate(out.len());
        }
        if out.len() > targets.len() {
            return Err(too_many());
        }
        if out.len() < targets.len() {
            return Err(too_few());
        }
        let mut exprs = vec![];
        let mut cols = vec![];
        for ((id, ty), &pos) in plan.output().into_iter().zip(targets.iter()) {
            let col = &table.columns[pos];
            exprs.push(self.coerce_assign(Expr::Column(id, ty), &col.data_type, &col.name)?);
            cols.push(self.new_col());
        }
        Ok(Plan::Project {
            input: Box::new(plan),
            exprs,
            cols,
        })
    }

    /// Default expressions for the columns not in `targets`.
    pub(crate) fn defaults(
        &mut self,
        table: &TableDef,
        targets: &[usize],
    ) -> Result<Vec<Option<Expr>>> {
        let mut v = vec![];
        for (i, c) in table.columns.iter().enumerate() {
            if targets.contains(&i) || c.default.is_none() {
                v.push(None);
            } else {
                let e = self.default_expr(table, i)?;
                v.push(Some(self.coerce_assign(e, &c.data_type, &c.name)?));
            }
        }
        Ok(v)
    }

    /// A column's default, re-bound from the text the catalog keeps (NULL if none).
    fn default_expr(&mut self, table: &TableDef, pos: usize) -> Result<Expr> {
        let col = &table.columns[pos];
        let Some(text) = &col.default else {
            return Ok(Expr::Literal(Value::Null, col.data_type.clone()));
        };
        let ast = sqlparser::parser::Parser::new(&PostgreSqlDialect {})
            .try_with_sql(text)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| Error::internal(format!("stored default does not parse: {e}")))?;
        self.scopes.push(Scope::default());
        let r = self.bind_expr(&ast);
        self.scopes.pop();
        let e = r?;
        self.coerce_assign(e, &col.data_type, &col.name)
    }

    /// Pushes a scope holding the target table's columns; returns the scan.
    fn target_scan(&mut self, table: &Arc<TableDef>, alias: Option<String>) -> Plan {
        let qual = alias.unwrap_or_else(|| table.name.clone());
        let mut scope = Scope::default();
        let mut cols = vec![];
        for c in &table.columns {
            let id = self.new_col();
            cols.push(id);
            scope.cols.push(ScopeColumn {
                table: Some(qual.clone()),
                name: c.name.clone(),
                id,
                ty: c.data_type.clone(),
                hidden: false,
            });
        }
        self.scopes.push(scope);
        Plan::Scan {
            table: table.clone(),
            cols,
            filter: vec![],
            access: Access::Full,
        }
    }

    fn target_table(&self, t: &ast::TableWithJoins) -> Result<(Arc<TableDef>, Option<String>)> {
        if !t.joins.is_empty() {
            return Err(unsupported("joins in UPDATE/DELETE"));
        }
        match &t.relation {
            ast::TableFactor::Table { name, alias, .. } => {
                Ok((self.table(name)?, alias.as_ref().map(|a| ident(&a.name))))
            }
            _ => Err(unsupported("this UPDATE/DELETE target")),
        }
    }

    fn with_where(&mut self, scan: Plan, selection: Option<&ast::Expr>) -> Result<Plan> {
        let Plan::Scan {
            table,
            cols,
            access,
            ..
        } = scan
        else {
            return Err(Error::internal("target is not a scan"));
        };
        let filter = match selection {
            Some(w) => self.bind_bool(w)?.conjuncts(),
            None => vec![],
        };
        Ok(Plan::Scan {
            table,
            cols,
            filter,
            access,
        })
    }

    pub(crate) fn bind_update(&mut self, u: &ast::Update) -> Result<UpdatePlan> {
        if u.limit.is_some() || !u.order_by.is_empty() || u.or.is_some() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"UPDATE\"",
            ));
        }
        let (table, alias) = self.target_table(&u.table)?;
        let scan = self.target_scan(&table, alias);
        if let Some(from) = &u.from {
            let from = match from {
                ast::UpdateTableFromKind::BeforeSet(v) | ast::UpdateTableFromKind::AfterSet(v) => v,
            };
            let r = self.bind_update_from(u, &table, scan, from);
            self.scopes.pop();
            return r;
        }
        let r = (|| {
            let sets = self.bind_assignments(&u.assignments, &table)?;
            let cols = scan.output_ids();
            let scan = self.with_where(scan, u.selection.as_ref())?;
            let returning = match &u.returning {
                Some(items) => Some(self.bind_returning(items, cols)?),
                None => None,
            };
            Ok(UpdatePlan {
                table: table.clone(),
                scan,
                sets,
                returning,
                from: None,
            })
        })();
        self.scopes.pop();
        r
    }

    pub(crate) fn bind_delete(&mut self, d: &ast::Delete) -> Result<DeletePlan> {
        if d.limit.is_some() || !d.order_by.is_empty() || !d.tables.is_empty() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"DELETE\"",
            ));
        }
        let from = match &d.from {
            ast::FromTable::WithFromKeyword(v) => v,
            ast::FromTable::WithoutKeyword(_) => {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    "syntax error at or near DELETE target",
                ))
            }
        };
        let [t] = from.as_slice() else {
            return Err(unsupported("DELETE from several tables"));
        };
        let (table, alias) = self.target_table(t)?;
        let scan = self.target_scan(&table, alias);
        let cols = scan.output_ids();
        let r = (|| {
            let (scan, using) = match &d.using {
                None => (self.with_where(scan, d.selection.as_ref())?, None),
                Some(using) => {
                    let sql = format!(
                        "SELECT 1 FROM {}{}",
                        join_display(using),
                        d.selection
                            .as_ref()
                            .map(|w| format!(" WHERE {w}"))
                            .unwrap_or_default()
                    );
                    let q = parse_query(&sql)?;
                    let (plan, _, _) = self.bind_subquery_plan(&q)?;
                    (scan, Some(plan))
                }
            };
            let returning = match &d.returning {
                Some(items) => Some(self.bind_returning(items, cols)?),
                None => None,
            };
            Ok(DeletePlan {
                table: table.clone(),
                scan,
                returning,
                using,
            })
        })();
        self.scopes.pop();
        r
    }
}

impl Binder<'_> {
    /// UPDATE … SET … FROM … WHERE …: the SET values, FROM and WHERE become one query
    /// correlated with the target row (bound as a subquery of the target's scope, which is
    /// pushed), so the executor can run it per target row it holds the key of.
    fn bind_update_from(
        &mut self,
        u: &ast::Update,
        table: &Arc<TableDef>,
        scan: Plan,
        from: &[ast::TableWithJoins],
    ) -> Result<UpdatePlan> {
        let mut positions: Vec<usize> = vec![];
        let mut values: Vec<String> = vec![];
        for a in &u.assignments {
            let pairs: Vec<(String, &ast::Expr)> = match (&a.target, &a.value) {
                (ast::AssignmentTarget::ColumnName(n), v) => vec![(object_name(n)?, v)],
                (ast::AssignmentTarget::Tuple(ns), ast::Expr::Tuple(vs))
                    if ns.len() == vs.len() =>
                {
                    ns.iter()
                        .zip(vs)
                        .map(|(n, v)| Ok((object_name(n)?, v)))
                        .collect::<Result<Vec<_>>>()?
                }
                _ => return Err(unsupported("this assignment with FROM")),
            };
            for (name, v) in pairs {
                let pos = table.column_index(&name).ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedColumn,
                        format!(
                            "column \"{name}\" of relation \"{}\" does not exist",
                            table.name
                        ),
                    )
                })?;
                if positions.contains(&pos) {
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        format!("multiple assignments to same column \"{name}\""),
                    ));
                }
                positions.push(pos);
                values.push(if is_default_keyword(v) {
                    table.columns[pos]
                        .default
                        .clone()
                        .unwrap_or_else(|| "NULL".into())
                } else {
                    v.to_string()
                });
            }
        }
        let sql = format!(
            "SELECT {} FROM {}{}",
            values.join(", "),
            join_display(from),
            u.selection
                .as_ref()
                .map(|w| format!(" WHERE {w}"))
                .unwrap_or_default()
        );
        let q = parse_query(&sql)?;
        let (plan, _, _) = self.bind_subquery_plan(&q)?;
        let mut sets = vec![];
        for (&pos, (id, ty)) in positions.iter().zip(plan.output()) {
            let col = &table.columns[pos];
            sets.push((
                pos,
                self.coerce_assign(Expr::Column(id, ty), &col.data_type, &col.name)?,
            ));
        }
        let cols = scan.output_ids();
        let returning = match &u.returning {
            Some(items) => Some(self.bind_returning(items, cols)?),
            None => None,
        };
        Ok(UpdatePlan {
            table: table.clone(),
            scan,
            sets,
            returning,
            from: Some(plan),
        })
    }
}

fn join_display(v: &[ast::TableWithJoins]) -> String {
    v.iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_query(sql: &str) -> Result<ast::Query> {
    let stmts = sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .map_err(|e| Error::new(ErrorKind::SyntaxError, e.to_string()))?;
    match stmts.into_iter().next() {
        Some(ast::Statement::Query(q)) => Ok(*q),
        _ => Err(Error::internal("FROM/USING did not form a query")),
    }
}

fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}

/// A table's CHECK constraints (in name order, the order PostgreSQL evaluates them) and
/// column defaults, bound over one row of the table whose column ids are `cols`.
#[derive(Debug)]
pub struct TableRulesBound {
    pub cols: Vec<ColumnId>,
    pub checks: Vec<(String, Expr)>,
    /// One per column (NULL where there is no default).
    pub defaults: Vec<Expr>,
}

/// Binds `table`'s stored CHECK constraints and defaults (see `exec/constraints.rs`, which
/// does this once per statement for every table a write touches).
pub fn bind_table_rules(
    txn: &sledgres_storage::Transaction,
    table: &TableDef,
) -> Result<TableRulesBound> {
    let mut b = Binder::new(txn, &[]);
    let Plan::Scan { cols, .. } = b.target_scan(&Arc::new(table.clone()), None) else {
        return Err(Error::internal("target is not a scan"));
    };
    let mut checks = vec![];
    for c in &table.constraints {
        if let sledgres_storage::Constraint::Check { name, expr } = c {
            let ast = sqlparser::parser::Parser::new(&PostgreSqlDialect {})
                .try_with_sql(expr)
                .and_then(|mut p| p.parse_expr())
                .map_err(|e| Error::internal(format!("stored check does not parse: {e}")))?;
            checks.push((name.clone(), b.bind_bool(&ast)?));
        }
    }
    checks.sort_by(|a, b| a.0.cmp(&b.0));
    let defaults = (0..table.columns.len())
        .map(|i| b.default_expr(table, i))
        .collect::<Result<Vec<_>>>()?;
    b.scopes.pop();
    Ok(TableRulesBound {
        cols,
        checks,
        defaults,
    })
}
