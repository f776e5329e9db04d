//! The binder: sqlparser AST → bound, typed logical plan.
//!
//! Binding resolves names against the catalog (as the statement's transaction sees it) and
//! against a stack of scopes, one per query level: a column not found in the innermost
//! level's FROM clause is looked up in the enclosing levels, which makes it an outer
//! (correlated) reference. Every level between the reference and the level that owns the
//! column records the column id in its `outer_refs`, which is how a subquery knows whether it
//! must be re-run per outer row.
//!
//! Types follow PostgreSQL: operator and function calls are resolved by `scalar::`, which
//! says which argument types the chosen implementation wants; the binder then *coerces* each
//! argument — an unknown literal is converted right away (so `'42'` compared with an integer
//! column becomes the integer 42, and bad input fails at bind time like PostgreSQL's parse
//! analysis), a parameter gets its inferred type, anything else gets an implicit cast node.
//!
//! Files: `expr.rs` (expressions), `query.rs` (SELECT, joins, set operations, ORDER BY,
//! GROUP BY, DISTINCT ON), `cte.rs` (WITH / WITH RECURSIVE), `view.rs` (views),
//! `window.rs` (window calls), `grouping_sets.rs` (ROLLUP/CUBE/GROUPING SETS, grouping()),
//! `quantified.rs` (ANY/ALL subqueries), `dml.rs` (INSERT/UPDATE/DELETE), `ddl.rs`
//! (CREATE/DROP TABLE/INDEX).

pub mod alter;
pub(crate) mod catalog;
mod cte;
mod ddl;
mod dml;
mod expr;
mod grouping_sets;
mod locking;
mod pg_compat;
mod quantified;
mod query;
mod session_fns;
pub mod view;
mod window;

use crate::error::{Error, ErrorKind, Result};
use crate::plan::{AggCall, ColumnId, Plan};
use sledgres_storage::{DataType, IndexDef, TableDef, Transaction};
use sqlparser::ast;
use std::sync::Arc;

pub use ddl::{ref_table_id, SELF_REFERENCE};
pub use dml::{
    bind_table_rules, ConflictAction, DeletePlan, InsertPlan, OnConflict, Returning,
    TableRulesBound, UpdatePlan,
};

/// A result column's name and type.
#[derive(Clone, Debug)]
pub struct OutputColumn {
    pub name: String,
    pub data_type: DataType,
}

/// A bound statement, ready for the optimizer and the executor.
#[derive(Clone, Debug)]
pub enum Bound {
    Query {
        plan: Plan,
        columns: Vec<OutputColumn>,
    },
    Insert(InsertPlan),
    Update(UpdatePlan),
    Delete(DeletePlan),
    CreateTable {
        def: TableDef,
        if_not_exists: bool,
        /// Unique constraints other than the primary key, created as indexes.
        indexes: Vec<IndexDef>,
    },
    DropTable {
        names: Vec<String>,
        if_exists: bool,
    },
    CreateIndex {
        table: Arc<TableDef>,
        def: IndexDef,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    /// ALTER TABLE, TRUNCATE, DROP TABLE/VIEW, CREATE VIEW (`alter.rs`).
    Ddl(alter::DdlPlan),
}

/// One visible column of a FROM clause.
#[derive(Clone, Debug)]
pub(crate) struct ScopeColumn {
    /// The table name or alias that qualifies it.
    pub table: Option<String>,
    pub name: String,
    pub id: ColumnId,
    pub ty: DataType,
    /// The right-hand copy of a JOIN USING / NATURAL column: reachable only qualified, and
    /// not part of `SELECT *` (the merged column is the left one).
    pub hidden: bool,
}

/// One query level.
#[derive(Default)]
pub(crate) struct Scope {
    pub cols: Vec<ScopeColumn>,
    /// Columns of enclosing levels read from this level or below.
    pub outer_refs: Vec<ColumnId>,
    /// Aggregate calls met while binding this level's SELECT list, HAVING and ORDER BY.
    pub aggs: Vec<AggCall>,
    /// Whether aggregate calls are allowed where we are binding (not in WHERE, ON, GROUP BY).
    pub aggs_allowed: Option<&'static str>,
    /// Window function calls of this level's SELECT list and ORDER BY, with the column
    /// each one's value is read from (see `window.rs`).
    pub windows: Vec<(ColumnId, crate::plan::window::WindowCall)>,
    /// The SELECT's `WINDOW name AS (…)` definitions.
    pub named_windows: Vec<(String, ast::WindowSpec)>,
    /// The clause being bound where that matters to an error message ("WHERE").
    pub clause: Option<&'static str>,
    /// `grouping(…)` calls: the column each is read from, and its arguments.
    pub groupings: Vec<(ColumnId, Vec<crate::plan::Expr>)>,
    /// Binding the arguments of a window call ("window") or of an aggregate ("aggregate"):
    /// a window call there is an error.
    pub inside_call: Option<&'static str>,
}

pub struct Binder<'a> {
    pub(crate) txn: &'a Transaction,
    next_col: ColumnId,
    next_subquery: usize,
    /// `$n` types: given by the client or inferred while binding.
    pub params: Vec<Option<DataType>>,
    pub(crate) scopes: Vec<Scope>,
    /// Collects the outer references of the subquery being bound: (its scope level, refs).
    pub(crate) ref_sinks: Vec<(usize, Vec<ColumnId>)>,
    /// The first column name of the last subquery bound (a scalar subquery's output name).
    pub(crate) last_subquery_name: Option<String>,
    /// The query string the AST came from, to turn AST spans into error positions.
    text: Option<std::sync::Arc<str>>,
    /// Current expression nesting depth (see `expr.rs`).
    pub(crate) depth: usize,
    /// The session's settings for `current_setting()` / `set_config()` (`session_fns.rs`).
    pub(crate) settings: Option<SettingsReader>,
    /// `set_config(name, value, is_local)` calls bound: the session applies them.
    pub(crate) settings_to_set: Vec<(String, String, bool)>,
    /// FOR UPDATE / SHARE clauses: their true strengths in, the tables to lock out.
    pub(crate) locking: locking::Locking,
    /// CTEs visible where we are binding, innermost last (see `cte.rs`).
    pub(crate) ctes: Vec<cte::CteDef>,
    /// The connection's process id (`pg_backend_pid()`).
    pub(crate) backend_pid: i32,
}

/// How the binder sees session settings (see `session_fns.rs`).
pub type SettingsReader = Arc<dyn SessionSettings>;

/// The session's settings as the binder may use them.
pub trait SessionSettings: Send + Sync {
    /// The current value (SHOW's text).
    fn get(&self, name: &str) -> Result<String>;
    /// Validates `value` for `name`: the value SHOW would then report.
    fn check(&self, name: &str, value: &str) -> Result<String>;
}

impl<'a> Binder<'a> {
    pub fn new(txn: &'a Transaction, params: &[Option<DataType>]) -> Self {
        Binder {
            txn,
            next_col: 1,
            next_subquery: 0,
            params: params.to_vec(),
            scopes: vec![],
            ref_sinks: vec![],
            last_subquery_name: None,
            text: None,
            depth: 0,
            settings: None,
            settings_to_set: vec![],
            locking: Default::default(),
            ctes: vec![],
            backend_pid: 0,
        }
    }

    /// Gives errors the character position of the AST node they are about.
    pub fn with_text(mut self, text: std::sync::Arc<str>) -> Self {
        self.text = Some(text);
        self
    }

    /// Adds the position of `loc` to an error that has none.
    pub(crate) fn at(&self, mut e: Error, loc: sqlparser::tokenizer::Location) -> Error {
        if e.position.is_none() && loc.line > 0 {
            if let Some(t) = &self.text {
                e.position = Some(crate::parse::char_offset(
                    t,
                    loc.line as usize,
                    loc.column as usize,
                ));
            }
        }
        e
    }

    /// Positions an error at a binary operator: the first token after the left operand (the
    /// AST keeps no span for the operator itself; closing parentheses of the operand are
    /// skipped).
    pub(crate) fn at_operator(&self, e: Error, left: &sqlparser::ast::Expr) -> Error {
        let end = sqlparser::ast::Spanned::span(left).end;
        let Some(t) = &self.text else { return e };
        if end.line == 0 {
            return e;
        }
        // `char_offset` gives the 1-based position of the column; the operand ends just
        // before `end`, so the text after it starts at 0-based char index `pos - 1`.
        let pos = crate::parse::char_offset(t, end.line as usize, end.column as usize);
        let skipped = t
            .chars()
            .skip(pos.saturating_sub(1))
            .take_while(|c| c.is_whitespace() || *c == ')')
            .count();
        let mut e = e;
        e.position = Some(pos + skipped);
        e
    }

    pub(crate) fn new_col(&mut self) -> ColumnId {
        let id = self.next_col;
        self.next_col += 1;
        id
    }

    pub(crate) fn new_subquery_id(&mut self) -> usize {
        let id = self.next_subquery;
        self.next_subquery += 1;
        id
    }

    pub(crate) fn scope(&mut self) -> &mut Scope {
        if self.scopes.is_empty() {
            self.scopes.push(Scope::default());
        }
        let n = self.scopes.len() - 1;
        &mut self.scopes[n]
    }

    /// Parameter types after binding: uninferred ones become text, as PostgreSQL does for a
    /// parameter whose context fixes nothing.
    pub fn param_types(&self) -> Vec<DataType> {
        self.params
            .iter()
            .map(|t| t.clone().unwrap_or(DataType::Text))
            .collect()
    }

    pub fn bind_statement(&mut self, stmt: &ast::Statement) -> Result<Bound> {
        match stmt {
            ast::Statement::Query(q) => {
                if let Some(b) = self.bind_select_into(q) {
                    return b;
                }
                let (plan, columns) = self.bind_query(q)?;
                Ok(Bound::Query { plan, columns })
            }
            ast::Statement::Insert(i) => Ok(Bound::Insert(self.bind_insert(i)?)),
            ast::Statement::Update(u) => Ok(Bound::Update(self.bind_update(u)?)),
            ast::Statement::Delete(d) => Ok(Bound::Delete(self.bind_delete(d)?)),
            ast::Statement::CreateTable(c) => self.bind_create_table(c),
            ast::Statement::CreateIndex(c) => self.bind_create_index(c),
            ast::Statement::CreateView(c) => self.bind_create_view(c),
            ast::Statement::Truncate(t) => self.bind_truncate(t),
            ast::Statement::AlterTable(a) => self.bind_alter_table(a),
            ast::Statement::Drop {
                object_type: object_type @ (ast::ObjectType::Table | ast::ObjectType::View),
                if_exists,
                names,
                cascade,
                ..
            } => self.bind_drop_relations(
                names,
                matches!(object_type, ast::ObjectType::View),
                *if_exists,
                *cascade,
            ),
            ast::Statement::Drop {
                object_type,
                if_exists,
                names: obj_names,
                ..
            } => {
                let names = obj_names
                    .iter()
                    .map(object_name)
                    .collect::<Result<Vec<_>>>()?;
                match object_type {
                    ast::ObjectType::Table | ast::ObjectType::View => {
                        let view = matches!(object_type, ast::ObjectType::View);
                        self.check_drop_kind(obj_names, view)?;
                        Ok(Bound::DropTable {
                            names,
                            if_exists: *if_exists,
                        })
                    }
                    ast::ObjectType::Index => Ok(Bound::DropIndex {
                        names,
                        if_exists: *if_exists,
                    }),
                    other => Err(unsupported(&format!("DROP {other}"))),
                }
            }
            other => Err(unsupported(&first_words(&other.to_string()))),
        }
    }

    /// Looks up a table by (possibly schema-qualified) name: 42P01 if missing.
    pub(crate) fn table(&self, name: &ast::ObjectName) -> Result<Arc<TableDef>> {
        let def = self.relation(name)?;
        if view::view_sql(&def).is_some() {
            return Err(Error::new(
                ErrorKind::WrongObjectType,
                format!("\"{}\" is a view", def.name),
            ));
        }
        Ok(def)
    }

    /// Like `table`, but a view is fine too (FROM items; see `view.rs`).
    pub(crate) fn relation(&self, name: &ast::ObjectName) -> Result<Arc<TableDef>> {
        use sqlparser::ast::Spanned;
        self.table_inner(name)
            .map_err(|e| self.at(e, name.span().start))
    }

    fn table_inner(&self, name: &ast::ObjectName) -> Result<Arc<TableDef>> {
        let parts = name_parts(name)?;
        let (schema, table) = match parts.as_slice() {
            [t] => ("public".to_string(), t.clone()),
            [s, t] => (s.clone(), t.clone()),
            _ => return Err(unsupported("cross-database references")),
        };
        self.txn.get_table(&schema, &table)?.ok_or_else(|| {
            Error::new(
                ErrorKind::UndefinedTable,
                format!("relation \"{}\" does not exist", parts.join(".")),
            )
        })
    }
}

/// PostgreSQL folds unquoted identifiers to lower case.
pub(crate) fn ident(i: &ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_lowercase()
    }
}

pub(crate) fn name_parts(name: &ast::ObjectName) -> Result<Vec<String>> {
    name.0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => Ok(ident(i)),
            other => Err(unsupported(&other.to_string())),
        })
        .collect()
}

/// The last part of an object name (the unqualified name).
pub(crate) fn object_name(name: &ast::ObjectName) -> Result<String> {
    name_parts(name)?
        .pop()
        .ok_or_else(|| Error::internal("empty object name"))
}

pub(crate) fn unsupported(what: &str) -> Error {
    Error::new(
        ErrorKind::FeatureNotSupported,
        format!("{what} is not supported"),
    )
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The unqualified name of an object name (for the session's SET/RESET handling).
pub fn object_name_pub(name: &ast::ObjectName) -> Result<String> {
    Ok(name_parts(name)?.join("."))
}
