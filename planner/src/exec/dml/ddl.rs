//! Applies a bound schema change ([`DdlPlan`], see `binder/alter.rs`) inside the statement's
//! transaction.
//!
//! Rows are stored as plain value lists in column order, so adding a column rewrites every
//! row with its default (evaluated per row, as PostgreSQL does for a volatile default) or
//! NULL. Constraints added to a table with rows are validated against those rows first
//! (CHECK: 23514 "is violated by some row"; FOREIGN KEY: each row is checked like an
//! insert, locking the referenced rows; SET NOT NULL: 23502 "contains null values").
//! ADD PRIMARY KEY moves every row from its hidden row id to a key made of the key columns
//! (23502 for a NULL key, 23505 `could not create unique index` for a duplicate).

use super::super::expr::{compile, Layout};
use super::super::ExecCtx;
use super::constraints::Rules;
use crate::binder::alter::{current_def, AlterOp, DdlPlan};
use crate::error::{Error, ErrorKind, Result};
use crate::notice::Notice;
use sledgres_storage::{Constraint, TableDef, Value};
use std::sync::Arc;

/// Runs `plan`; returns the command tag and the notices to send.
pub fn run(plan: &DdlPlan, ctx: &Arc<ExecCtx>) -> Result<(String, Vec<Notice>)> {
    let txn = &ctx.txn;
    let mut notices = vec![];
    let tag = match plan {
        DdlPlan::Truncate { tables } => {
            for t in tables {
                let rows: Vec<_> = txn.scan(t.id)?.collect::<std::result::Result<_, _>>()?;
                for (key, _) in rows {
                    txn.delete(t.id, &key)?;
                }
                ctx.check_cancel()?;
            }
            "TRUNCATE TABLE"
        }
        DdlPlan::Drop {
            tables,
            view,
            drop_fks,
            missing,
            named,
        } => {
            let what = if *view { "view" } else { "table" };
            for m in missing {
                notices.push(Notice::note(
                    "00000",
                    format!("{what} \"{m}\" does not exist, skipping"),
                ));
            }
            for (tid, name) in drop_fks {
                let mut def: TableDef = (*current_def(txn, *tid)?).clone();
                def.constraints.retain(|c| c.name() != name);
                txn.alter_table(&def)?;
                notices.push(Notice::note(
                    "00000",
                    format!("drop cascades to constraint {name} on table {}", def.name),
                ));
            }
            for (i, t) in tables.iter().enumerate() {
                if i >= *named {
                    let k = if crate::binder::view::view_sql(t).is_some() {
                        "view"
                    } else {
                        "table"
                    };
                    notices.push(Notice::note(
                        "00000",
                        format!("drop cascades to {k} {}", t.name),
                    ));
                }
                txn.drop_table(t.id)?;
            }
            if *view {
                "DROP VIEW"
            } else {
                "DROP TABLE"
            }
        }
        DdlPlan::CreateView {
            def,
            replaces,
            if_not_exists,
        } => {
            match replaces {
                Some(id) => {
                    let mut d = def.clone();
                    d.id = *id;
                    txn.alter_table(&d)?;
                }
                None => {
                    if txn.get_table(&def.schema, &def.name)?.is_some() {
                        if *if_not_exists {
                            notices.push(Notice::note(
                                "42P07",
                                format!("relation \"{}\" already exists, skipping", def.name),
                            ));
                            return Ok(("CREATE VIEW".into(), notices));
                        }
                        return Err(Error::new(
                            ErrorKind::DuplicateTable,
                            format!("relation \"{}\" already exists", def.name),
                        ));
                    }
                    txn.create_table(def.clone())?;
                }
            }
            "CREATE VIEW"
        }
        DdlPlan::CreateTableAs {
            def,
            query,
            if_not_exists,
        } => {
            if txn.get_table(&def.schema, &def.name)?.is_some() {
                if *if_not_exists {
                    notices.push(Notice::note(
                        "42P07",
                        format!("relation \"{}\" already exists, skipping", def.name),
                    ));
                    return Ok(("CREATE TABLE AS".into(), notices));
                }
                return Err(Error::new(
                    ErrorKind::DuplicateTable,
                    format!("relation \"{}\" already exists", def.name),
                ));
            }
            let plan = crate::optimizer::optimize(query.clone())?;
            let phys = Arc::new(super::super::compile_plan(&plan, &[])?);
            let id = txn.create_table(def.clone())?;
            let mut src = super::super::open(&phys, ctx)?;
            let mut n = 0u64;
            while let Some(row) = src.next()? {
                txn.insert(id, row)?;
                n += 1;
                if n.is_multiple_of(1024) {
                    ctx.check_cancel()?;
                }
            }
            return Ok((format!("SELECT {n}"), notices));
        }
        DdlPlan::AlterTable { table, ops } => {
            let mut def: TableDef = (*current_def(txn, table.id)?).clone();
            for op in ops {
                alter(&mut def, op, ctx, &mut notices)?;
            }
            "ALTER TABLE"
        }
    };
    Ok((tag.to_string(), notices))
}

fn alter(
    def: &mut TableDef,
    op: &AlterOp,
    ctx: &Arc<ExecCtx>,
    notices: &mut Vec<Notice>,
) -> Result<()> {
    let txn = &ctx.txn;
    let rows =
        |id| -> Result<Vec<_>> { Ok(txn.scan(id)?.collect::<std::result::Result<Vec<_>, _>>()?) };
    match op {
        AlterOp::AddColumn(col, default) => {
            def.columns.push(col.clone());
            txn.alter_table(def)?;
            let default = default
                .as_ref()
                .map(|e| compile(e, &Layout::default()))
                .transpose()?;
            for (key, mut row) in rows(def.id)? {
                let v = match &default {
                    Some(e) => e.eval(&[], ctx)?,
                    None => Value::Null,
                };
                if v.is_null() && !col.nullable {
                    return Err(contains_nulls(def, &col.name));
                }
                row.push(v);
                txn.update(def.id, &key, row)?;
            }
        }
        AlterOp::AddPrimaryKey { columns, name } => {
            // Rows of a table without a primary key live under hidden row ids: each moves to
            // the key made of its key columns (deleted, then inserted once the definition
            // says so, which also checks uniqueness).
            let old = rows(def.id)?;
            for (_, row) in &old {
                for &c in columns {
                    if row.get(c).is_none_or(|v| v.is_null()) {
                        return Err(contains_nulls(def, &def.columns[c].name));
                    }
                }
            }
            for (n, (key, _)) in old.iter().enumerate() {
                txn.delete(def.id, key)?;
                if n % 1024 == 0 {
                    ctx.check_cancel()?;
                }
            }
            for &c in columns {
                def.columns[c].nullable = false;
            }
            def.primary_key = columns.clone();
            def.primary_key_name = Some(name.clone());
            txn.alter_table(def)?;
            for (n, (_, row)) in old.into_iter().enumerate() {
                if let Err(e) = txn.insert(def.id, row) {
                    let e = Error::from(e);
                    if e.kind != ErrorKind::UniqueViolation {
                        return Err(e);
                    }
                    // PostgreSQL reports it as the index build failing.
                    let mut err = Error::new(
                        ErrorKind::UniqueViolation,
                        format!("could not create unique index \"{name}\""),
                    );
                    if let Some(d) = e.detail {
                        err = err.with_detail(d.replace("already exists.", "is duplicated."));
                    }
                    return Err(err);
                }
                if n % 1024 == 0 {
                    ctx.check_cancel()?;
                }
            }
        }
        AlterOp::AddCheck {
            name,
            text,
            cols,
            expr,
        } => {
            let e = compile(expr, &Layout::new(cols.clone(), &[]))?;
            for (_, row) in rows(def.id)? {
                if e.eval(&row, ctx)? == Value::Bool(false) {
                    return Err(Error::new(
                        ErrorKind::CheckViolation,
                        format!(
                            "check constraint \"{name}\" of relation \"{}\" is violated by some row",
                            def.name
                        ),
                    ));
                }
            }
            def.constraints.push(Constraint::Check {
                name: name.clone(),
                expr: text.clone(),
            });
            txn.alter_table(def)?;
        }
        AlterOp::AddForeignKey(fk) => {
            def.constraints.push(Constraint::ForeignKey(fk.clone()));
            txn.alter_table(def)?;
            let mut rules = Rules::new(ctx);
            let only: TableDef = TableDef {
                constraints: vec![Constraint::ForeignKey(fk.clone())],
                ..def.clone()
            };
            for (_, row) in rows(def.id)? {
                rules.check_references(&only, &row, None)?;
            }
        }
        AlterOp::AddUnique(idx) => {
            txn.create_index(def.id, idx.clone())?;
            *def = (*current_def(txn, def.id)?).clone();
        }
        AlterOp::DropConstraint { name, if_exists } => {
            if def.constraints.iter().any(|c| c.name() == name) {
                def.constraints.retain(|c| c.name() != name);
                txn.alter_table(def)?;
            } else if let Some(idx) = def.indexes.iter().find(|i| &i.name == name) {
                txn.drop_index(def.id, idx.id)?;
                *def = (*current_def(txn, def.id)?).clone();
            } else if def.primary_key_name.as_deref() == Some(name.as_str()) {
                return Err(Error::new(
                    ErrorKind::FeatureNotSupported,
                    "dropping a primary key is not supported",
                ));
            } else if *if_exists {
                notices.push(Notice::note(
                    "00000",
                    format!(
                        "constraint \"{name}\" of relation \"{}\" does not exist, skipping",
                        def.name
                    ),
                ));
            } else {
                return Err(Error::new(
                    ErrorKind::UndefinedObject,
                    format!(
                        "constraint \"{name}\" of relation \"{}\" does not exist",
                        def.name
                    ),
                ));
            }
        }
        AlterOp::RenameTable(n) => {
            def.name = n.clone();
            txn.alter_table(def)?;
        }
        AlterOp::RenameColumn(pos, n) => {
            def.columns[*pos].name = n.clone();
            txn.alter_table(def)?;
        }
        AlterOp::SetDefault(pos, text) => {
            def.columns[*pos].default = text.clone();
            txn.alter_table(def)?;
        }
        AlterOp::SetNotNull(pos) => {
            for (_, row) in rows(def.id)? {
                if row.get(*pos).is_none_or(|v| v.is_null()) {
                    return Err(contains_nulls(def, &def.columns[*pos].name));
                }
            }
            def.columns[*pos].nullable = false;
            txn.alter_table(def)?;
        }
        AlterOp::DropNotNull(pos) => {
            def.columns[*pos].nullable = true;
            txn.alter_table(def)?;
        }
    }
    Ok(())
}

fn contains_nulls(def: &TableDef, col: &str) -> Error {
    Error::new(
        ErrorKind::NotNullViolation,
        format!(
            "column \"{col}\" of relation \"{}\" contains null values",
            def.name
        ),
    )
}
