//! CREATE TABLE and CREATE INDEX binding. Constraint and index names follow PostgreSQL:
//! `t_pkey` for the primary key, `t_a_key` (`t_a_b_key`) for UNIQUE, `t_a_idx` for an
//! unnamed index, `t_a_check` for a CHECK over one column (`t_check` over several or none),
//! `t_a_fkey` (`t_a_b_fkey`) for a FOREIGN KEY; a name already used by the table gets a
//! number appended (`t_a_check1`), as PostgreSQL's `ChooseConstraintName` does.
//!
//! CHECK expressions are validated here (bound against the new table's columns, must be
//! boolean) and stored as SQL text; FOREIGN KEYs must reference the primary key or a unique
//! index of the referenced table (42830 otherwise). A table that references itself is
//! stored with [`SELF_REFERENCE`] as its `ref_table`, because its id is not known yet.

use super::{ident, name_parts, object_name, unsupported, Binder, Bound, Scope, ScopeColumn};
use crate::error::{Error, ErrorKind, Result};
use crate::scalar;
use sledgres_storage::{
    ColumnDef, Constraint, FkAction, ForeignKeyDef, IndexDef, TableDef, TableId,
};
use sqlparser::ast;

/// `ForeignKeyDef::ref_table` of a foreign key that references its own table (see the
/// module doc); [`ref_table_id`] resolves it.
pub const SELF_REFERENCE: TableId = TableId::MAX;

/// The referenced table of a foreign key of `table`.
pub fn ref_table_id(table: &TableDef, fk: &ForeignKeyDef) -> TableId {
    if fk.ref_table == SELF_REFERENCE {
        table.id
    } else {
        fk.ref_table
    }
}

/// A FOREIGN KEY clause before its table exists: (name, columns, referenced table, referenced
/// column names (empty: the primary key), ON DELETE, ON UPDATE).
type PendingFk = (
    Option<String>,
    Vec<usize>,
    ast::ObjectName,
    Vec<String>,
    FkAction,
    FkAction,
);

impl Binder<'_> {
    pub(crate) fn bind_create_table(&mut self, c: &ast::CreateTable) -> Result<Bound> {
        if let Some(q) = &c.query {
            let names: Vec<String> = c.columns.iter().map(|col| ident(&col.name)).collect();
            return self.bind_create_table_as(&c.name, &names, q, c.if_not_exists);
        }
        if c.like.is_some() || c.clone.is_some() {
            return Err(unsupported("CREATE TABLE LIKE"));
        }
        let parts = name_parts(&c.name)?;
        let (schema, name) = match parts.as_slice() {
            [t] => ("public".to_string(), t.clone()),
            [s, t] => (s.clone(), t.clone()),
            _ => return Err(unsupported("this table name")),
        };
        let mut columns: Vec<ColumnDef> = vec![];
        let mut primary_key: Vec<usize> = vec![];
        let mut uniques: Vec<(Option<String>, Vec<usize>)> = vec![];
        // (name, expression, the column it was written on)
        let mut checks: Vec<(Option<String>, ast::Expr, Option<usize>)> = vec![];
        let mut fks: Vec<PendingFk> = vec![];
        for (i, col) in c.columns.iter().enumerate() {
            let cname = ident(&col.name);
            if columns.iter().any(|c| c.name == cname) {
                return Err(Error::new(
                    ErrorKind::DuplicateColumn,
                    format!("column \"{cname}\" specified more than once"),
                ));
            }
            let data_type = scalar::type_from_ast(&col.data_type)?;
            let mut def = ColumnDef {
                name: cname,
                data_type,
                nullable: true,
                default: None,
            };
            for opt in &col.options {
                match &opt.option {
                    ast::ColumnOption::Null => def.nullable = true,
                    ast::ColumnOption::NotNull => def.nullable = false,
                    ast::ColumnOption::Default(e) => def.default = Some(e.to_string()),
                    ast::ColumnOption::PrimaryKey(_) => {
                        if !primary_key.is_empty() {
                            return Err(multiple_pk(&name));
                        }
                        primary_key.push(i);
                    }
                    ast::ColumnOption::Unique(_) => {
                        uniques.push((opt.name.as_ref().map(ident), vec![i]))
                    }
                    ast::ColumnOption::Check(ck) => checks.push((
                        opt.name.as_ref().or(ck.name.as_ref()).map(ident),
                        (*ck.expr).clone(),
                        Some(i),
                    )),
                    ast::ColumnOption::ForeignKey(fk) => fks.push((
                        opt.name.as_ref().or(fk.name.as_ref()).map(ident),
                        vec![i],
                        fk.foreign_table.clone(),
                        fk.referred_columns.iter().map(ident).collect(),
                        fk_action(fk.on_delete.as_ref()),
                        fk_action(fk.on_update.as_ref()),
                    )),
                    _ => return Err(unsupported("this column constraint")),
                }
            }
            columns.push(def);
        }
        let position = |cols: &[ColumnDef], n: &ast::IndexColumn| -> Result<usize> {
            let name = match &n.column.expr {
                ast::Expr::Identifier(i) => ident(i),
                _ => return Err(unsupported("expressions in constraints")),
            };
            cols.iter().position(|c| c.name == name).ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedColumn,
                    format!("column \"{name}\" named in key does not exist"),
                )
            })
        };
        for tc in &c.constraints {
            match tc {
                ast::TableConstraint::PrimaryKey(pk) => {
                    if !primary_key.is_empty() {
                        return Err(multiple_pk(&name));
                    }
                    for col in &pk.columns {
                        primary_key.push(position(&columns, col)?);
                    }
                }
                ast::TableConstraint::Unique(u) => {
                    let cols = u
                        .columns
                        .iter()
                        .map(|col| position(&columns, col))
                        .collect::<Result<Vec<_>>>()?;
                    uniques.push((u.name.as_ref().map(ident), cols));
                }
                ast::TableConstraint::Check(ck) => {
                    checks.push((ck.name.as_ref().map(ident), (*ck.expr).clone(), None))
                }
                ast::TableConstraint::ForeignKey(fk) => {
                    let cols = fk
                        .columns
                        .iter()
                        .map(|c| {
                            let n = ident(c);
                            columns.iter().position(|x| x.name == n).ok_or_else(|| {
                                Error::new(
                                    ErrorKind::UndefinedColumn,
                                    format!(
                                        "column \"{n}\" referenced in foreign key constraint does not exist"
                                    ),
                                )
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    fks.push((
                        fk.name.as_ref().map(ident),
                        cols,
                        fk.foreign_table.clone(),
                        fk.referred_columns.iter().map(ident).collect(),
                        fk_action(fk.on_delete.as_ref()),
                        fk_action(fk.on_update.as_ref()),
                    ));
                }
                _ => return Err(unsupported("this table constraint")),
            }
        }
        for &p in &primary_key {
            columns[p].nullable = false;
        }
        let primary_key_name = (!primary_key.is_empty()).then(|| format!("{name}_pkey"));
        let mut used: Vec<String> = primary_key_name.iter().cloned().collect();
        let mut indexes = vec![];
        for (n, cols) in uniques {
            let names: Vec<&str> = cols.iter().map(|&c| columns[c].name.as_str()).collect();
            let n = n.unwrap_or_else(|| choose_name(&used, &name, &names, "key"));
            used.push(n.clone());
            indexes.push(IndexDef {
                id: 0,
                name: n,
                columns: cols,
                unique: true,
                primary: false,
            });
        }
        let mut def = TableDef {
            id: 0,
            schema,
            name: name.clone(),
            columns,
            primary_key,
            primary_key_name,
            indexes: vec![],
            constraints: vec![],
        };
        let mut constraints = vec![];
        for (n, expr, col) in checks {
            let cname = match n {
                Some(n) => n,
                None => {
                    let cols = self.check_columns(&def, &expr, col)?;
                    let names: Vec<&str> = cols.iter().map(|s| s.as_str()).collect();
                    choose_name(&used, &name, &names, "check")
                }
            };
            self.bind_check(&def, &expr)?;
            used.push(cname.clone());
            constraints.push(Constraint::Check {
                name: cname,
                expr: expr.to_string(),
            });
        }
        def.indexes = indexes.clone();
        for (n, cols, ref_name, ref_cols, on_delete, on_update) in fks {
            let names: Vec<&str> = cols.iter().map(|&c| def.columns[c].name.as_str()).collect();
            let cname = n.unwrap_or_else(|| choose_name(&used, &name, &names, "fkey"));
            used.push(cname.clone());
            let fk = self.bind_foreign_key(
                &def, cname, cols, &ref_name, &ref_cols, on_delete, on_update,
            )?;
            constraints.push(Constraint::ForeignKey(fk));
        }
        def.indexes = vec![];
        def.constraints = constraints;
        Ok(Bound::CreateTable {
            def,
            if_not_exists: c.if_not_exists,
            indexes,
        })
    }

    /// The columns a CHECK constraint is named after: the one it was written on, else the
    /// columns its expression mentions (PostgreSQL names it after a single one only).
    pub(crate) fn check_columns(
        &mut self,
        def: &TableDef,
        expr: &ast::Expr,
        col: Option<usize>,
    ) -> Result<Vec<String>> {
        if let Some(c) = col {
            return Ok(vec![def.columns[c].name.clone()]);
        }
        // The words of the expression's text that name columns (sqlparser has no AST
        // visitor in our build; the tokenizer tells words from string literals).
        let mut found: Vec<String> = vec![];
        let text = expr.to_string();
        let toks =
            sqlparser::tokenizer::Tokenizer::new(&sqlparser::dialect::PostgreSqlDialect {}, &text)
                .tokenize()
                .unwrap_or_default();
        for t in toks {
            if let sqlparser::tokenizer::Token::Word(w) = t {
                let n = if w.quote_style.is_some() {
                    w.value
                } else {
                    w.value.to_lowercase()
                };
                if def.column_index(&n).is_some() && !found.contains(&n) {
                    found.push(n);
                }
            }
        }
        Ok(if found.len() == 1 { found } else { vec![] })
    }

    /// Binds a CHECK expression over `def`'s columns (which must make it boolean).
    pub(crate) fn bind_check(
        &mut self,
        def: &TableDef,
        expr: &ast::Expr,
    ) -> Result<crate::plan::Expr> {
        let mut scope = Scope::default();
        let mut ids = vec![];
        for c in &def.columns {
            let id = self.new_col();
            ids.push(id);
            scope.cols.push(ScopeColumn {
                table: Some(def.name.clone()),
                name: c.name.clone(),
                id,
                ty: c.data_type.clone(),
                hidden: false,
            });
        }
        self.scopes.push(scope);
        let r = self.bind_bool(expr);
        self.scopes.pop();
        r
    }

    /// Resolves a FOREIGN KEY's referenced table and columns (42830 unless they are its
    /// primary key or a unique index).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn bind_foreign_key(
        &mut self,
        def: &TableDef,
        name: String,
        columns: Vec<usize>,
        ref_name: &ast::ObjectName,
        ref_cols: &[String],
        on_delete: FkAction,
        on_update: FkAction,
    ) -> Result<ForeignKeyDef> {
        let target = object_name(ref_name)?;
        let parent: std::sync::Arc<TableDef> = if target == def.name && def.id == 0 {
            std::sync::Arc::new(def.clone())
        } else {
            self.table(ref_name)?
        };
        let ref_columns: Vec<usize> = if ref_cols.is_empty() {
            if parent.primary_key.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidForeignKey,
                    format!(
                        "there is no primary key for referenced table \"{}\"",
                        parent.name
                    ),
                ));
            }
            parent.primary_key.clone()
        } else {
            ref_cols
                .iter()
                .map(|n| {
                    parent.column_index(n).ok_or_else(|| {
                        Error::new(
                            ErrorKind::UndefinedColumn,
                            format!(
                                "column \"{n}\" referenced in foreign key constraint does not exist"
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        if ref_columns.len() != columns.len() {
            return Err(Error::new(
                ErrorKind::InvalidForeignKey,
                "number of referencing and referenced columns for foreign key disagree",
            ));
        }
        let same_set =
            |a: &[usize]| a.len() == ref_columns.len() && a.iter().all(|c| ref_columns.contains(c));
        if !same_set(&parent.primary_key)
            && !parent
                .indexes
                .iter()
                .any(|i| i.unique && same_set(&i.columns))
        {
            return Err(Error::new(
                ErrorKind::InvalidForeignKey,
                format!(
                    "there is no unique constraint matching given keys for referenced table \"{}\"",
                    parent.name
                ),
            ));
        }
        Ok(ForeignKeyDef {
            name,
            columns,
            ref_table: if def.id == 0 && parent.name == def.name {
                SELF_REFERENCE
            } else {
                parent.id
            },
            ref_columns,
            on_delete,
            on_update,
        })
    }

    pub(crate) fn bind_create_index(&mut self, c: &ast::CreateIndex) -> Result<Bound> {
        if c.predicate.is_some() || !c.include.is_empty() {
            return Err(unsupported("partial or covering indexes"));
        }
        let table = self.table(&c.table_name)?;
        let mut columns = vec![];
        for col in &c.columns {
            let name = match &col.column.expr {
                ast::Expr::Identifier(i) => ident(i),
                _ => return Err(unsupported("expression indexes")),
            };
            columns.push(table.column_index(&name).ok_or_else(|| {
                Error::new(
                    ErrorKind::UndefinedColumn,
                    format!("column \"{name}\" does not exist"),
                )
            })?);
        }
        let name = match &c.name {
            Some(n) => object_name(n)?,
            None => {
                let names: Vec<&str> = columns
                    .iter()
                    .map(|&c| table.columns[c].name.as_str())
                    .collect();
                format!("{}_{}_idx", table.name, names.join("_"))
            }
        };
        Ok(Bound::CreateIndex {
            table,
            def: IndexDef {
                id: 0,
                name,
                columns,
                unique: c.unique,
                primary: false,
            },
            if_not_exists: c.if_not_exists,
        })
    }
}

fn multiple_pk(table: &str) -> Error {
    Error::new(
        ErrorKind::InvalidColumnReference,
        format!("multiple primary keys for table \"{table}\" are not allowed"),
    )
}

pub(crate) fn fk_action(a: Option<&ast::ReferentialAction>) -> FkAction {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => FkAction::NoAction,
        Some(ast::ReferentialAction::Restrict) => FkAction::Restrict,
        Some(ast::ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => FkAction::SetDefault,
    }
}

/// PostgreSQL's ChooseConstraintName: `table_col1_col2_label`, with a number appended while
/// the name is taken.
pub(crate) fn choose_name(used: &[String], table: &str, cols: &[&str], label: &str) -> String {
    let mut base = table.to_string();
    for c in cols {
        base.push('_');
        base.push_str(c);
    }
    base.push('_');
    base.push_str(label);
    let mut n = base.clone();
    let mut i = 0;
    while used.contains(&n) {
        i += 1;
        n = format!("{base}{i}");
    }
    n
}
