//! CREATE TABLE and CREATE INDEX binding. Constraint and index names follow PostgreSQL:
//! `t_pkey` for the primary key, `t_a_key` (`t_a_b_key`) for UNIQUE, `t_a_idx` for an
//! unnamed index.

use super::{ident, name_parts, object_name, unsupported, Binder, Bound};
use crate::error::{Error, ErrorKind, Result};
use crate::scalar;
use sledgres_storage::{ColumnDef, IndexDef, TableDef};
use sqlparser::ast;

impl Binder<'_> {
    pub(crate) fn bind_create_table(&mut self, c: &ast::CreateTable) -> Result<Bound> {
        if c.query.is_some() || c.like.is_some() || c.clone.is_some() {
            return Err(unsupported("CREATE TABLE AS/LIKE"));
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
                _ => return Err(unsupported("this table constraint")),
            }
        }
        for &p in &primary_key {
            columns[p].nullable = false;
        }
        let indexes = uniques
            .into_iter()
            .map(|(n, cols)| {
                let names: Vec<&str> = cols.iter().map(|&c| columns[c].name.as_str()).collect();
                IndexDef {
                    id: 0,
                    name: n.unwrap_or_else(|| format!("{name}_{}_key", names.join("_"))),
                    columns: cols,
                    unique: true,
                    primary: false,
                }
            })
            .collect();
        let primary_key_name = (!primary_key.is_empty()).then(|| format!("{name}_pkey"));
        Ok(Bound::CreateTable {
            def: TableDef {
                id: 0,
                schema,
                name,
                columns,
                primary_key,
                primary_key_name,
                indexes: vec![],
            },
            if_not_exists: c.if_not_exists,
            indexes,
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
