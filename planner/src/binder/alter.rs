//! Schema changes beyond CREATE: ALTER TABLE, TRUNCATE, DROP TABLE / DROP VIEW with their
//! dependencies, CREATE [OR REPLACE] VIEW. The binder resolves names and validates what it
//! can see in the catalog; `exec/dml/ddl.rs` applies a [`DdlPlan`] inside the transaction
//! (the catalog is versioned like rows, so every step is transactional).
//!
//! Dependencies PostgreSQL tracks in `pg_depend` are found from the catalog itself: a
//! foreign key names the table it references; a view depends on every table or view whose
//! name appears as a word in its SQL text (a view can only reach relations by name, so this
//! may see a dependency too many — a column named like a table — never one too few).

use super::ddl::{choose_name, SELF_REFERENCE};
use super::{ident, name_parts, object_name, unsupported, view, Binder, Bound};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::{ColumnId, Expr};
use crate::scalar;
use sledgres_storage::{ColumnDef, Constraint, IndexDef, TableDef, Transaction};
use sqlparser::ast;
use std::sync::Arc;

/// A bound schema change.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DdlPlan {
    /// TRUNCATE: `tables` includes those CASCADE added.
    Truncate { tables: Vec<Arc<TableDef>> },
    /// DROP TABLE / DROP VIEW: the named relations plus, with CASCADE, dependent views; and
    /// the foreign keys of surviving tables to drop with them.
    Drop {
        tables: Vec<Arc<TableDef>>,
        view: bool,
        /// (table id, constraint name) of foreign keys that reference a dropped table.
        drop_fks: Vec<(u32, String)>,
        /// Names that did not exist (IF EXISTS): a notice each.
        missing: Vec<String>,
        /// How many of `tables` (the first ones) were named; the rest are CASCADE's.
        named: usize,
    },
    /// CREATE [OR REPLACE] VIEW; `replaces` is the existing view's id.
    CreateView {
        def: TableDef,
        replaces: Option<u32>,
        if_not_exists: bool,
    },
    AlterTable {
        table: Arc<TableDef>,
        ops: Vec<AlterOp>,
    },
    /// CREATE TABLE … AS / SELECT … INTO: create `def`, fill it with `query`'s rows.
    CreateTableAs {
        def: TableDef,
        query: crate::plan::Plan,
        if_not_exists: bool,
    },
}

/// One ALTER TABLE action, applied in order.
#[derive(Clone, Debug)]
pub enum AlterOp {
    /// The new column and its default for existing rows, bound with no columns in scope.
    AddColumn(ColumnDef, Option<Expr>),
    /// ADD PRIMARY KEY: the key columns (made NOT NULL) and the constraint's name; existing
    /// rows move to keys made of those columns.
    AddPrimaryKey {
        columns: Vec<usize>,
        name: String,
    },
    /// A CHECK, with its expression bound over the table's columns (`cols`) to validate
    /// existing rows.
    AddCheck {
        name: String,
        text: String,
        cols: Vec<ColumnId>,
        expr: Expr,
    },
    AddForeignKey(sledgres_storage::ForeignKeyDef),
    AddUnique(IndexDef),
    DropConstraint {
        name: String,
        if_exists: bool,
    },
    RenameTable(String),
    RenameColumn(usize, String),
    SetDefault(usize, Option<String>),
    SetNotNull(usize),
    DropNotNull(usize),
}

impl Binder<'_> {
    /// CREATE TABLE name [(column names)] AS query; SELECT … INTO name.
    pub(crate) fn bind_create_table_as(
        &mut self,
        name: &ast::ObjectName,
        names: &[String],
        query: &ast::Query,
        if_not_exists: bool,
    ) -> Result<Bound> {
        let parts = name_parts(name)?;
        let (schema, tname) = match parts.as_slice() {
            [t] => ("public".to_string(), t.clone()),
            [s, t] => (s.clone(), t.clone()),
            _ => return Err(unsupported("this table name")),
        };
        let (plan, out) = self.bind_query(query)?;
        if names.len() > out.len() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                "too many column names were specified",
            ));
        }
        let mut columns: Vec<ColumnDef> = vec![];
        for (i, o) in out.iter().enumerate() {
            let n = names.get(i).cloned().unwrap_or(o.name.clone());
            if columns.iter().any(|c| c.name == n) {
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
        Ok(Bound::Ddl(DdlPlan::CreateTableAs {
            def: TableDef {
                id: 0,
                schema,
                name: tname,
                columns,
                primary_key: vec![],
                primary_key_name: None,
                indexes: vec![],
                constraints: vec![],
            },
            query: plan,
            if_not_exists,
        }))
    }

    /// SELECT … INTO name …: CREATE TABLE name AS the query without INTO; `None` for any
    /// other query.
    pub(crate) fn bind_select_into(&mut self, q: &ast::Query) -> Option<Result<Bound>> {
        let ast::SetExpr::Select(sel) = &*q.body else {
            return None;
        };
        let into = sel.into.as_ref()?;
        let name = match into.targets.as_slice() {
            [ast::Expr::Identifier(i)] => ast::ObjectName::from(vec![i.clone()]),
            [ast::Expr::CompoundIdentifier(v)] => ast::ObjectName::from(v.clone()),
            _ => return Some(Err(unsupported("this INTO target"))),
        };
        let mut q = q.clone();
        if let ast::SetExpr::Select(sel) = &mut *q.body {
            sel.into = None;
        }
        Some(self.bind_create_table_as(&name, &[], &q, false))
    }

    pub(crate) fn bind_truncate(&mut self, t: &ast::Truncate) -> Result<Bound> {
        let mut tables: Vec<Arc<TableDef>> = vec![];
        for target in &t.table_names {
            let def = self.table(&target.name)?;
            if !tables.iter().any(|x| x.id == def.id) {
                tables.push(def);
            }
        }
        let cascade = matches!(t.cascade, Some(ast::CascadeOption::Cascade));
        let all = self.txn.list_tables()?;
        // Referencing tables: added with CASCADE, else an error.
        let mut i = 0;
        while i < tables.len() {
            let parent = tables[i].clone();
            for child in all.iter() {
                let refs = child.constraints.iter().any(|c| match c {
                    Constraint::ForeignKey(fk) => super::ref_table_id(child, fk) == parent.id,
                    _ => false,
                });
                if refs && !tables.iter().any(|x| x.id == child.id) {
                    if !cascade {
                        return Err(Error::new(
                            ErrorKind::FeatureNotSupported,
                            "cannot truncate a table referenced in a foreign key constraint",
                        )
                        .with_detail(format!(
                            "Table \"{}\" references \"{}\".",
                            child.name, parent.name
                        ))
                        .with_hint(format!(
                            "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                            child.name
                        )));
                    }
                    tables.push(child.clone());
                }
            }
            i += 1;
        }
        Ok(Bound::Ddl(DdlPlan::Truncate { tables }))
    }

    /// DROP TABLE / DROP VIEW.
    pub(crate) fn bind_drop_relations(
        &mut self,
        names: &[ast::ObjectName],
        view: bool,
        if_exists: bool,
        cascade: bool,
    ) -> Result<Bound> {
        self.check_drop_kind(names, view)?;
        let mut tables: Vec<Arc<TableDef>> = vec![];
        let mut missing = vec![];
        for n in names {
            let parts = name_parts(n)?;
            let (schema, name) = match parts.as_slice() {
                [t] => ("public".to_string(), t.clone()),
                [s, t] => (s.clone(), t.clone()),
                _ => return Err(unsupported("cross-database references")),
            };
            match self.txn.get_table(&schema, &name)? {
                Some(d) => {
                    if !tables.iter().any(|x| x.id == d.id) {
                        tables.push(d)
                    }
                }
                None if if_exists => missing.push(name),
                None => {
                    return Err(Error::new(
                        ErrorKind::UndefinedTable,
                        format!(
                            "{} \"{name}\" does not exist",
                            if view { "view" } else { "table" }
                        ),
                    ))
                }
            }
        }
        let named = tables.len();
        let all = self.txn.list_tables()?;
        let mut drop_fks = vec![];
        // Dependent views (transitively) and foreign keys of other tables.
        let mut i = 0;
        let mut deps: Vec<String> = vec![];
        while i < tables.len() {
            let dropped = tables[i].clone();
            for other in all.iter() {
                if tables.iter().any(|x| x.id == other.id) {
                    continue;
                }
                if let Some(sql) = view::view_sql(other) {
                    if mentions(sql, &dropped.name) {
                        deps.push(format!(
                            "view {} depends on {} {}",
                            other.name,
                            kind(&dropped),
                            dropped.name
                        ));
                        tables.push(other.clone());
                    }
                    continue;
                }
                for c in &other.constraints {
                    if let Constraint::ForeignKey(fk) = c {
                        if fk.ref_table == dropped.id && fk.ref_table != SELF_REFERENCE {
                            deps.push(format!(
                                "constraint {} on table {} depends on table {}",
                                fk.name, other.name, dropped.name
                            ));
                            drop_fks.push((other.id, fk.name.clone()));
                        }
                    }
                }
            }
            i += 1;
        }
        if !deps.is_empty() && !cascade {
            let first = &tables[0];
            return Err(Error::new(
                ErrorKind::DependentObjectsStillExist,
                format!(
                    "cannot drop {} {} because other objects depend on it",
                    kind(first),
                    first.name
                ),
            )
            .with_detail(deps.join("\n"))
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        Ok(Bound::Ddl(DdlPlan::Drop {
            tables,
            view,
            drop_fks,
            missing,
            named,
        }))
    }

    pub(crate) fn bind_alter_table(&mut self, a: &ast::AlterTable) -> Result<Bound> {
        let table = match self.table(&a.name) {
            Ok(t) => t,
            Err(e) if a.if_exists && e.kind == ErrorKind::UndefinedTable => {
                return Err(unsupported("ALTER TABLE IF EXISTS of a missing table"))
            }
            Err(e) => return Err(e),
        };
        // Later actions see the effect of earlier ones on this working copy.
        let mut def: TableDef = (*table).clone();
        let mut ops = vec![];
        for op in &a.operations {
            let o = self.bind_alter_op(&mut def, op)?;
            ops.push(o);
        }
        Ok(Bound::Ddl(DdlPlan::AlterTable { table, ops }))
    }

    fn column_pos(def: &TableDef, i: &ast::Ident) -> Result<usize> {
        let n = ident(i);
        def.column_index(&n).ok_or_else(|| {
            Error::new(
                ErrorKind::UndefinedColumn,
                format!("column \"{n}\" of relation \"{}\" does not exist", def.name),
            )
        })
    }

    fn constraint_names(def: &TableDef) -> Vec<String> {
        let mut used: Vec<String> = def.primary_key_name.iter().cloned().collect();
        used.extend(def.indexes.iter().map(|i| i.name.clone()));
        used.extend(def.constraints.iter().map(|c| c.name().to_string()));
        used
    }

    fn bind_alter_op(
        &mut self,
        def: &mut TableDef,
        op: &ast::AlterTableOperation,
    ) -> Result<AlterOp> {
        use ast::AlterTableOperation as A;
        Ok(match op {
            A::AddColumn {
                column_def,
                if_not_exists: _,
                ..
            } => {
                let name = ident(&column_def.name);
                if def.column_index(&name).is_some() {
                    return Err(Error::new(
                        ErrorKind::DuplicateColumn,
                        format!(
                            "column \"{name}\" of relation \"{}\" already exists",
                            def.name
                        ),
                    ));
                }
                let data_type = scalar::type_from_ast(&column_def.data_type)?;
                let mut col = ColumnDef {
                    name,
                    data_type,
                    nullable: true,
                    default: None,
                };
                for o in &column_def.options {
                    match &o.option {
                        ast::ColumnOption::Null => col.nullable = true,
                        ast::ColumnOption::NotNull => col.nullable = false,
                        ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
                        _ => return Err(unsupported("this constraint in ADD COLUMN")),
                    }
                }
                let default = match &col.default {
                    Some(text) => {
                        let e = parse_expr(text)?;
                        self.scopes.push(super::Scope::default());
                        let b = self.bind_expr(&e);
                        self.scopes.pop();
                        Some(self.coerce_assign(b?, &col.data_type, &col.name)?)
                    }
                    None => None,
                };
                def.columns.push(col.clone());
                AlterOp::AddColumn(col, default)
            }
            A::AddConstraint { constraint, .. } => {
                let used = Self::constraint_names(def);
                match constraint {
                    ast::TableConstraint::Check(ck) => {
                        let name = match &ck.name {
                            Some(n) => ident(n),
                            None => {
                                let cols = self.check_columns(def, &ck.expr, None)?;
                                let names: Vec<&str> = cols.iter().map(|s| s.as_str()).collect();
                                choose_name(&used, &def.name, &names, "check")
                            }
                        };
                        let (cols, expr) = self.bind_check_ids(def, &ck.expr)?;
                        def.constraints.push(Constraint::Check {
                            name: name.clone(),
                            expr: ck.expr.to_string(),
                        });
                        AlterOp::AddCheck {
                            name,
                            text: ck.expr.to_string(),
                            cols,
                            expr,
                        }
                    }
                    ast::TableConstraint::ForeignKey(fk) => {
                        let cols = fk
                            .columns
                            .iter()
                            .map(|c| Self::column_pos(def, c))
                            .collect::<Result<Vec<_>>>()?;
                        let names: Vec<&str> =
                            cols.iter().map(|&c| def.columns[c].name.as_str()).collect();
                        let name = fk
                            .name
                            .as_ref()
                            .map(ident)
                            .unwrap_or_else(|| choose_name(&used, &def.name, &names, "fkey"));
                        let refs: Vec<String> = fk.referred_columns.iter().map(ident).collect();
                        let f = self.bind_foreign_key(
                            def,
                            name,
                            cols,
                            &fk.foreign_table,
                            &refs,
                            super::ddl::fk_action(fk.on_delete.as_ref()),
                            super::ddl::fk_action(fk.on_update.as_ref()),
                        )?;
                        def.constraints.push(Constraint::ForeignKey(f.clone()));
                        AlterOp::AddForeignKey(f)
                    }
                    ast::TableConstraint::Unique(u) => {
                        let cols = u
                            .columns
                            .iter()
                            .map(|c| match &c.column.expr {
                                ast::Expr::Identifier(i) => Self::column_pos(def, i),
                                _ => Err(unsupported("expressions in constraints")),
                            })
                            .collect::<Result<Vec<_>>>()?;
                        let names: Vec<&str> =
                            cols.iter().map(|&c| def.columns[c].name.as_str()).collect();
                        let name = u
                            .name
                            .as_ref()
                            .map(ident)
                            .unwrap_or_else(|| choose_name(&used, &def.name, &names, "key"));
                        let idx = IndexDef {
                            id: 0,
                            name,
                            columns: cols,
                            unique: true,
                            primary: false,
                        };
                        def.indexes.push(idx.clone());
                        AlterOp::AddUnique(idx)
                    }
                    ast::TableConstraint::PrimaryKey(pk) => {
                        if !def.primary_key.is_empty() {
                            return Err(Error::new(
                                ErrorKind::InvalidTableDefinition,
                                format!(
                                    "multiple primary keys for table \"{}\" are not allowed",
                                    def.name
                                ),
                            ));
                        }
                        let columns = pk
                            .columns
                            .iter()
                            .map(|c| match &c.column.expr {
                                ast::Expr::Identifier(i) => Self::column_pos(def, i),
                                _ => Err(unsupported("expressions in constraints")),
                            })
                            .collect::<Result<Vec<_>>>()?;
                        let name = pk
                            .name
                            .as_ref()
                            .map(ident)
                            .unwrap_or_else(|| choose_name(&used, &def.name, &[], "pkey"));
                        for &c in &columns {
                            def.columns[c].nullable = false;
                        }
                        def.primary_key = columns.clone();
                        def.primary_key_name = Some(name.clone());
                        AlterOp::AddPrimaryKey { columns, name }
                    }
                    _ => return Err(unsupported("adding this constraint")),
                }
            }
            A::DropConstraint {
                if_exists, name, ..
            } => {
                let n = ident(name);
                def.constraints.retain(|c| c.name() != n);
                def.indexes.retain(|i| i.name != n);
                AlterOp::DropConstraint {
                    name: n,
                    if_exists: *if_exists,
                }
            }
            A::RenameTable { table_name } => {
                let n = match table_name {
                    ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => {
                        object_name(n)?
                    }
                };
                if self.txn.get_table(&def.schema, &n)?.is_some() {
                    return Err(Error::new(
                        ErrorKind::DuplicateTable,
                        format!("relation \"{n}\" already exists"),
                    ));
                }
                def.name = n.clone();
                AlterOp::RenameTable(n)
            }
            A::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let old = ident(old_column_name);
                let pos = def.column_index(&old).ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedColumn,
                        format!("column \"{old}\" does not exist"),
                    )
                })?;
                let new = ident(new_column_name);
                if def.column_index(&new).is_some() {
                    return Err(Error::new(
                        ErrorKind::DuplicateColumn,
                        format!(
                            "column \"{new}\" of relation \"{}\" already exists",
                            def.name
                        ),
                    ));
                }
                def.columns[pos].name = new.clone();
                AlterOp::RenameColumn(pos, new)
            }
            A::AlterColumn { column_name, op } => {
                let pos = Self::column_pos(def, column_name)?;
                match op {
                    ast::AlterColumnOperation::SetNotNull => {
                        def.columns[pos].nullable = false;
                        AlterOp::SetNotNull(pos)
                    }
                    ast::AlterColumnOperation::DropNotNull => {
                        if def.primary_key.contains(&pos) {
                            return Err(Error::new(
                                ErrorKind::InvalidTableDefinition,
                                format!("column \"{}\" is in a primary key", def.columns[pos].name),
                            ));
                        }
                        def.columns[pos].nullable = true;
                        AlterOp::DropNotNull(pos)
                    }
                    ast::AlterColumnOperation::SetDefault { value } => {
                        // Validate it now (type and names), as PostgreSQL does.
                        self.scopes.push(super::Scope::default());
                        let b = self.bind_expr(value);
                        self.scopes.pop();
                        let col = def.columns[pos].clone();
                        self.coerce_assign(b?, &col.data_type, &col.name)?;
                        def.columns[pos].default = Some(value.to_string());
                        AlterOp::SetDefault(pos, Some(value.to_string()))
                    }
                    ast::AlterColumnOperation::DropDefault => {
                        def.columns[pos].default = None;
                        AlterOp::SetDefault(pos, None)
                    }
                    _ => return Err(unsupported("this ALTER COLUMN action")),
                }
            }
            _ => return Err(unsupported("this ALTER TABLE action")),
        })
    }

    /// Binds a CHECK over `def`'s columns; returns the column ids with the expression.
    fn bind_check_ids(&mut self, def: &TableDef, e: &ast::Expr) -> Result<(Vec<ColumnId>, Expr)> {
        let first = self.next_col;
        let expr = self.bind_check(def, e)?;
        let cols = (first..first + def.columns.len() as ColumnId).collect();
        Ok((cols, expr))
    }

    /// CREATE [OR REPLACE] VIEW of a name that may exist.
    pub(crate) fn bind_view_replace(
        &mut self,
        def: TableDef,
        or_replace: bool,
        if_not_exists: bool,
    ) -> Result<Bound> {
        let existing = self.txn.get_table(&def.schema, &def.name)?;
        let replaces = match existing {
            Some(old) if or_replace => {
                if view::view_sql(&old).is_none() {
                    return Err(Error::new(
                        ErrorKind::WrongObjectType,
                        format!("\"{}\" is not a view", old.name),
                    ));
                }
                if def.columns.len() < old.columns.len() {
                    return Err(Error::new(
                        ErrorKind::InvalidTableDefinition,
                        "cannot drop columns from view",
                    ));
                }
                for (o, n) in old.columns.iter().zip(&def.columns) {
                    if o.name != n.name {
                        return Err(Error::new(
                            ErrorKind::InvalidTableDefinition,
                            format!(
                                "cannot change name of view column \"{}\" to \"{}\"",
                                o.name, n.name
                            ),
                        )
                        .with_hint(
                            "Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.",
                        ));
                    }
                    if o.data_type != n.data_type {
                        return Err(Error::new(
                            ErrorKind::InvalidTableDefinition,
                            format!(
                                "cannot change data type of view column \"{}\" from {} to {}",
                                o.name,
                                o.data_type.pg_name(),
                                n.data_type.pg_name()
                            ),
                        ));
                    }
                }
                Some(old.id)
            }
            _ => None,
        };
        Ok(Bound::Ddl(DdlPlan::CreateView {
            def,
            replaces,
            if_not_exists,
        }))
    }
}

fn kind(def: &TableDef) -> &'static str {
    if view::view_sql(def).is_some() {
        "view"
    } else {
        "table"
    }
}

/// Whether `name` appears as an identifier in `sql`.
pub(crate) fn mentions(sql: &str, name: &str) -> bool {
    use sqlparser::tokenizer::{Token, Tokenizer};
    Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, sql)
        .tokenize()
        .unwrap_or_default()
        .into_iter()
        .any(|t| match t {
            Token::Word(w) => {
                if w.quote_style.is_some() {
                    w.value == name
                } else {
                    w.value.to_lowercase() == name
                }
            }
            _ => false,
        })
}

fn parse_expr(text: &str) -> Result<ast::Expr> {
    sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::internal(format!("stored expression does not parse: {e}")))
}

/// Used by `exec/dml/ddl.rs` to check a transaction sees a table (for re-reads).
pub fn current_def(txn: &Transaction, id: u32) -> Result<Arc<TableDef>> {
    txn.list_tables()?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Error::internal(format!("table {id} vanished")))
}
