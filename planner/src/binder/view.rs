//! Views: CREATE VIEW, DROP VIEW, and their expansion at bind time.
//!
//! Storage has no notion of a view, so a view is stored as a catalog table that never holds
//! rows: its columns are the view's output columns (names and types) and its
//! `primary_key_name` is [`VIEW_MARKER`] followed by the defining query's SQL text
//! (sqlparser's rendering of the parsed query). Every reference parses that text again and
//! binds it as a derived table in FROM, so a view sees the tables as they are now; its
//! columns are renamed to the stored names (`CREATE VIEW v (a, b) AS …`). DML and DDL that
//! resolve a name through `Binder::table` refuse a view.
//!
//! CREATE OR REPLACE of an existing view keeps its id and may only add columns at the end
//! (42P16 otherwise); DROP TABLE / DROP VIEW find dependent views (`alter.rs`), refused
//! with 2BP01 unless CASCADE drops them too.

use super::{ident, unsupported, Binder, Bound};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::Plan;
use sledgres_storage::{ColumnDef, TableDef};
use sqlparser::ast;
use std::sync::Arc;

/// Prefix of `TableDef::primary_key_name` that marks a view (see the module doc).
pub const VIEW_MARKER: &str = "\u{1}sledgres-view:";

/// The SQL text of a view, or `None` for a table.
pub fn view_sql(def: &TableDef) -> Option<&str> {
    def.primary_key_name.as_deref()?.strip_prefix(VIEW_MARKER)
}

impl Binder<'_> {
    pub(crate) fn bind_create_view(&mut self, c: &ast::CreateView) -> Result<Bound> {
        if c.materialized {
            return Err(unsupported("CREATE MATERIALIZED VIEW"));
        }
        let parts = super::name_parts(&c.name)?;
        let (schema, name) = match parts.as_slice() {
            [n] => ("public".to_string(), n.clone()),
            [s, n] => (s.clone(), n.clone()),
            _ => return Err(unsupported("cross-database references")),
        };
        let (_, out) = self.bind_query(&c.query)?;
        if c.columns.len() > out.len() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "CREATE VIEW specifies more column names than columns",
            ));
        }
        let mut columns: Vec<ColumnDef> = vec![];
        for (i, o) in out.iter().enumerate() {
            let n = c
                .columns
                .get(i)
                .map(|v| ident(&v.name))
                .unwrap_or(o.name.clone());
            if columns.iter().any(|x| x.name == n) {
                return Err(Error::new(
                    ErrorKind::DuplicateColumn,
                    format!("column \"{n}\" specified more than once"),
                ));
            }
            columns.push(ColumnDef {
                name: n,
                data_type: o.data_type.clone(),
                nullable: true,
                default: None,
            });
        }
        let def = TableDef {
            id: Default::default(),
            schema,
            name,
            columns,
            primary_key: vec![],
            primary_key_name: Some(format!("{VIEW_MARKER}{}", c.query)),
            constraints: vec![],
            indexes: vec![],
        };
        self.bind_view_replace(def, c.or_replace, c.if_not_exists)
    }

    /// DROP VIEW / DROP TABLE: the names must be of the right kind.
    pub(crate) fn check_drop_kind(&self, names: &[ast::ObjectName], view: bool) -> Result<()> {
        for n in names {
            let parts = super::name_parts(n)?;
            let (schema, name) = match parts.as_slice() {
                [t] => ("public".to_string(), t.clone()),
                [s, t] => (s.clone(), t.clone()),
                _ => continue,
            };
            let Some(def) = self.txn.get_table(&schema, &name)? else {
                continue;
            };
            match (view, view_sql(&def).is_some()) {
                (true, false) => {
                    return Err(Error::new(
                        ErrorKind::WrongObjectType,
                        format!("\"{name}\" is not a view"),
                    )
                    .with_hint("Use DROP TABLE to remove a table."))
                }
                (false, true) => {
                    return Err(Error::new(
                        ErrorKind::WrongObjectType,
                        format!("\"{name}\" is not a table"),
                    )
                    .with_hint("Use DROP VIEW to remove a view."))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Expands a view referenced in FROM under `qual`, renamed by `renames`.
    pub(crate) fn bind_view_ref(
        &mut self,
        def: &Arc<TableDef>,
        sql: &str,
        qual: String,
        renames: &[String],
    ) -> Result<Plan> {
        use sqlparser::dialect::PostgreSqlDialect;
        use sqlparser::parser::Parser;
        let stmts = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .map_err(|e| Error::internal(format!("stored view {}: {e}", def.name)))?;
        let Some(ast::Statement::Query(q)) = stmts.into_iter().next() else {
            return Err(Error::internal(format!(
                "stored view {} is not a query",
                def.name
            )));
        };
        if self.depth > 64 {
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                format!(
                    "infinite recursion detected in rules for relation \"{}\"",
                    def.name
                ),
            ));
        }
        // The view's query sees no CTE of the query that references it.
        let ctes = std::mem::take(&mut self.ctes);
        self.depth += 1;
        let r = self.bind_subquery_plan(&q);
        self.depth -= 1;
        self.ctes = ctes;
        let (plan, _, _) = r?;
        for (i, ((id, ty), c)) in plan.output().into_iter().zip(&def.columns).enumerate() {
            self.scope().cols.push(super::ScopeColumn {
                table: Some(qual.clone()),
                name: renames.get(i).cloned().unwrap_or(c.name.clone()),
                id,
                ty,
                hidden: false,
            });
        }
        Ok(plan)
    }
}
