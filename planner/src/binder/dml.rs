//! INSERT, UPDATE and DELETE binding.
//!
//! UPDATE and DELETE read their target rows through a [`Plan::Scan`] whose filter holds the
//! WHERE conjuncts, so the optimizer's index selection applies to them as to queries; the
//! executor needs the rows' keys, which only a scan of the target table can give.

use super::{ident, object_name, unsupported, Binder, Scope, ScopeColumn};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{Access, Expr, Plan};
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
}

#[derive(Clone, Debug)]
pub struct UpdatePlan {
    pub table: Arc<TableDef>,
    /// A `Plan::Scan` of the table with the WHERE conjuncts.
    pub scan: Plan,
    /// (column position, new value over the scan's columns).
    pub sets: Vec<(usize, Expr)>,
}

#[derive(Clone, Debug)]
pub struct DeletePlan {
    pub table: Arc<TableDef>,
    pub scan: Plan,
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
        if i.on.is_some() {
            return Err(unsupported("ON CONFLICT"));
        }
        if i.returning.is_some() {
            return Err(unsupported("RETURNING"));
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
            return Ok(InsertPlan {
                table,
                source: Plan::Values {
                    cols: vec![],
                    rows: vec![vec![]],
                },
                targets: vec![],
                defaults,
            });
        };
        self.scopes.push(Scope::default());
        let mut targets = targets;
        let implicit = i.columns.is_empty();
        let source = self.bind_insert_source(query, &table, &mut targets, implicit);
        self.scopes.pop();
        let source = source?;
        let defaults = self.defaults(&table, &targets)?;
        Ok(InsertPlan {
            table,
            source,
            targets,
            defaults,
        })
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
    fn defaults(&mut self, table: &TableDef, targets: &[usize]) -> Result<Vec<Option<Expr>>> {
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
        if u.from.is_some() || u.returning.is_some() {
            return Err(unsupported("UPDATE … FROM/RETURNING"));
        }
        if u.limit.is_some() || !u.order_by.is_empty() || u.or.is_some() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"UPDATE\"",
            ));
        }
        let (table, alias) = self.target_table(&u.table)?;
        let scan = self.target_scan(&table, alias);
        let r = (|| {
            let mut sets: Vec<(usize, Expr)> = vec![];
            for a in &u.assignments {
                let name = match &a.target {
                    ast::AssignmentTarget::ColumnName(n) => object_name(n)?,
                    ast::AssignmentTarget::Tuple(_) => {
                        return Err(unsupported("multiple-column assignment"))
                    }
                };
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
                let e = if is_default_keyword(&a.value) {
                    self.default_expr(&table, pos)?
                } else {
                    self.bind_expr(&a.value)?
                };
                sets.push((pos, self.coerce_assign(e, &col.data_type, &col.name)?));
            }
            let scan = self.with_where(scan, u.selection.as_ref())?;
            Ok(UpdatePlan {
                table: table.clone(),
                scan,
                sets,
            })
        })();
        self.scopes.pop();
        r
    }

    pub(crate) fn bind_delete(&mut self, d: &ast::Delete) -> Result<DeletePlan> {
        if d.using.is_some() || d.returning.is_some() {
            return Err(unsupported("DELETE … USING/RETURNING"));
        }
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
        let r = self.with_where(scan, d.selection.as_ref());
        self.scopes.pop();
        Ok(DeletePlan { table, scan: r? })
    }
}

fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"))
}
