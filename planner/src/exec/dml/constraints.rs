//! Constraint enforcement for writes: NOT NULL, CHECK and FOREIGN KEY.
//!
//! Storage enforces primary keys and unique indexes itself (it owns their locks); every other
//! constraint is the planner's. One [`Rules`] serves a whole statement: it binds each touched
//! table's CHECK expressions and column defaults once, from the catalog text, and finds the
//! foreign keys that point at it.
//!
//! Order of checks, as in PostgreSQL: NOT NULL and CHECK before the row is written
//! ([`Rules::check_row`], CHECKs in name order); uniqueness while writing (storage); foreign
//! keys after ([`Rules::check_references`]).
//!
//! Foreign keys and concurrency follow PostgreSQL's RI triggers:
//! - A referencing row's write finds the referenced row and locks it FOR KEY SHARE, so a
//!   concurrent DELETE (or key change) of it waits for us, and we wait for one already
//!   running; if that one committed, the lock reports the row deleted and we fail with 23503.
//!   The lookup goes through the primary key or unique index at the snapshot and falls back
//!   to the newest data (our own statement's rows, rows committed since the snapshot).
//! - Removing or re-keying a referenced row looks for referencing rows in the *newest* data
//!   (`Transaction::scan_latest`), not the snapshot: a referencing row committed after our
//!   snapshot — by a transaction we waited for on the row lock — must not be missed. CASCADE,
//!   SET NULL and SET DEFAULT then write those rows (recursively applying their own rules);
//!   RESTRICT fails at once; NO ACTION is checked at the end of the statement
//!   ([`Rules::finish`]), so a statement that also removes the referencing rows, or puts the
//!   key back, succeeds.
//!
//! MATCH SIMPLE: a referencing row with a NULL in any key column is not checked.

use super::super::expr::{compile, Layout, PExpr};
use super::super::ExecCtx;
use crate::binder::ref_table_id;
use crate::error::{Error, ErrorKind, Result};
use crate::scalar::{self, CastContext};
use sledgres_storage::{
    Constraint, FkAction, ForeignKeyDef, KeyRange, Row, RowKey, RowLockMode, RowLockOutcome,
    TableDef, TableId, Value, WaitPolicy,
};
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

/// One table's rules, bound for this statement.
struct TableRules {
    def: Arc<TableDef>,
    checks: Vec<(String, PExpr)>,
    defaults: Vec<PExpr>,
    /// Foreign keys of other tables (or this one) that reference this table.
    referencing: Vec<(Arc<TableDef>, ForeignKeyDef)>,
}

/// A NO ACTION check deferred to the end of the statement.
struct Pending {
    parent: Arc<TableDef>,
    child: Arc<TableDef>,
    fk: ForeignKeyDef,
    values: Vec<Value>,
}

/// The constraint checker of one statement.
pub struct Rules {
    ctx: Arc<ExecCtx>,
    tables: HashMap<TableId, Arc<TableRules>>,
    pending: Vec<Pending>,
    depth: usize,
}

impl Rules {
    pub fn new(ctx: &Arc<ExecCtx>) -> Rules {
        Rules {
            ctx: ctx.clone(),
            tables: HashMap::new(),
            pending: vec![],
            depth: 0,
        }
    }

    fn rules(&mut self, table: TableId) -> Result<Arc<TableRules>> {
        if let Some(r) = self.tables.get(&table) {
            return Ok(r.clone());
        }
        let all = self.ctx.txn.list_tables()?;
        let def = all
            .iter()
            .find(|t| t.id == table)
            .cloned()
            .ok_or_else(|| Error::internal(format!("table {table} vanished")))?;
        let bound = crate::binder::bind_table_rules(&self.ctx.txn, &def)?;
        let layout = Layout::new(bound.cols.clone(), &[]);
        let checks = bound
            .checks
            .iter()
            .map(|(n, e)| Ok((n.clone(), compile(e, &layout)?)))
            .collect::<Result<Vec<_>>>()?;
        let defaults = bound
            .defaults
            .iter()
            .map(|e| compile(e, &layout))
            .collect::<Result<Vec<_>>>()?;
        let mut referencing = vec![];
        // Creation order (table ids, then constraint order), like PostgreSQL's triggers.
        let mut all: Vec<Arc<TableDef>> = all.to_vec();
        all.sort_by_key(|t| t.id);
        for t in all.iter() {
            for c in &t.constraints {
                if let Constraint::ForeignKey(fk) = c {
                    if ref_table_id(t, fk) == table {
                        referencing.push((t.clone(), fk.clone()));
                    }
                }
            }
        }
        let r = Arc::new(TableRules {
            def,
            checks,
            defaults,
            referencing,
        });
        self.tables.insert(table, r.clone());
        Ok(r)
    }

    /// The default of each column of `table` (for SET DEFAULT and DEFAULT values).
    pub fn default_value(&mut self, table: TableId, col: usize) -> Result<Value> {
        let r = self.rules(table)?;
        match r.defaults.get(col) {
            Some(e) => e.eval(&[], &self.ctx),
            None => Ok(Value::Null),
        }
    }

    /// NOT NULL and CHECK, before a row is written.
    pub fn check_row(&mut self, table: &TableDef, row: &Row) -> Result<()> {
        check_not_null(table, row)?;
        if !table
            .constraints
            .iter()
            .any(|c| matches!(c, Constraint::Check { .. }))
        {
            return Ok(());
        }
        let r = self.rules(table.id)?;
        for (name, e) in &r.checks {
            if e.eval(row, &self.ctx)? == Value::Bool(false) {
                return Err(Error::new(
                    ErrorKind::CheckViolation,
                    format!(
                        "new row for relation \"{}\" violates check constraint \"{name}\"",
                        table.name
                    ),
                )
                .with_detail(failing_row(row)));
            }
        }
        Ok(())
    }

    /// The foreign keys of a row just written (`old`: the row it replaced, whose unchanged
    /// keys need no new check).
    pub fn check_references(
        &mut self,
        table: &TableDef,
        row: &Row,
        old: Option<&Row>,
    ) -> Result<()> {
        for c in &table.constraints {
            let Constraint::ForeignKey(fk) = c else {
                continue;
            };
            let values: Vec<Value> = fk.columns.iter().map(|&c| row[c].clone()).collect();
            if values.iter().any(|v| v.is_null()) {
                continue;
            }
            if let Some(old) = old {
                let unchanged = fk
                    .columns
                    .iter()
                    .all(|&c| !old[c].is_null() && scalar::values_equal(&old[c], &row[c]));
                if unchanged {
                    continue;
                }
            }
            let parent = self.rules(ref_table_id(table, fk))?.def.clone();
            if !self.lock_parent(&parent, &fk.ref_columns, &values)? {
                let names: Vec<&str> = fk
                    .columns
                    .iter()
                    .map(|&c| table.columns[c].name.as_str())
                    .collect();
                return Err(Error::new(
                    ErrorKind::ForeignKeyViolation,
                    format!(
                        "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                        table.name, fk.name
                    ),
                )
                .with_detail(format!(
                    "Key ({})=({}) is not present in table \"{}\".",
                    names.join(", "),
                    format_values(&values),
                    parent.name
                )));
            }
        }
        Ok(())
    }

    /// Finds the row of `parent` whose `cols` equal `values` and locks it FOR KEY SHARE.
    /// False if there is none (or it went away while we waited).
    fn lock_parent(&mut self, parent: &TableDef, cols: &[usize], values: &[Value]) -> Result<bool> {
        let Some(values) = cast_all(values, cols, parent) else {
            return Ok(false);
        };
        let value_of = |c: usize| -> Option<Value> {
            cols.iter().position(|x| *x == c).map(|i| values[i].clone())
        };
        let same_set = |a: &[usize]| a.len() == cols.len() && a.iter().all(|c| cols.contains(c));
        let txn = &self.ctx.txn;
        let mut found: Option<(RowKey, Row)> = None;
        if !parent.primary_key.is_empty() && same_set(&parent.primary_key) {
            let key: Option<Vec<Value>> = parent.primary_key.iter().map(|&c| value_of(c)).collect();
            if let Some(key) = key {
                found = txn.get_by_primary_key(parent.id, &key)?;
            }
        } else if let Some(idx) = parent
            .indexes
            .iter()
            .find(|i| i.unique && same_set(&i.columns))
        {
            let key: Option<Vec<Value>> = idx.columns.iter().map(|&c| value_of(c)).collect();
            if let Some(key) = key {
                let range = KeyRange {
                    start: Bound::Included(key.clone()),
                    end: Bound::Included(key),
                };
                found = txn
                    .scan_index(parent.id, idx.id, range)?
                    .next()
                    .transpose()?;
            }
        }
        if found.is_none() {
            found = find_rows(txn.scan_latest(parent.id)?, cols, &values, true)?
                .into_iter()
                .next();
        }
        let Some((key, _)) = found else {
            return Ok(false);
        };
        match txn.lock_row_with(parent.id, &key, RowLockMode::KeyShare, WaitPolicy::Block)? {
            Some(RowLockOutcome::Unchanged) => Ok(true),
            Some(RowLockOutcome::Updated(newer)) => Ok(cols
                .iter()
                .zip(&values)
                .all(|(&c, v)| scalar::values_equal(&newer[c], v))),
            _ => Ok(false),
        }
    }

    /// After a row of `table` was deleted: the referencing rows' actions.
    pub fn after_delete(&mut self, table: &TableDef, old: &Row) -> Result<()> {
        self.referenced_change(table, old, None)
    }

    /// After a row of `table` was updated: if a referenced key changed, the referencing
    /// rows' ON UPDATE actions.
    pub fn after_update(&mut self, table: &TableDef, old: &Row, new: &Row) -> Result<()> {
        self.referenced_change(table, old, Some(new))
    }

    fn referenced_change(&mut self, table: &TableDef, old: &Row, new: Option<&Row>) -> Result<()> {
        let r = self.rules(table.id)?;
        if r.referencing.is_empty() {
            return Ok(());
        }
        self.depth += 1;
        if self.depth > 100 {
            self.depth -= 1;
            return Err(Error::new(
                ErrorKind::Internal,
                "foreign key actions nest too deeply",
            ));
        }
        let res = (|| {
            for (child, fk) in &r.referencing {
                let values: Vec<Value> = fk.ref_columns.iter().map(|&c| old[c].clone()).collect();
                if values.iter().any(|v| v.is_null()) {
                    continue;
                }
                if let Some(new) = new {
                    let same = fk
                        .ref_columns
                        .iter()
                        .all(|&c| scalar::values_equal(&old[c], &new[c]));
                    if same {
                        continue;
                    }
                }
                let action = if new.is_some() {
                    fk.on_update
                } else {
                    fk.on_delete
                };
                let Some(child_values) = cast_all(&values, &fk.columns, child) else {
                    continue;
                };
                match action {
                    FkAction::NoAction => self.pending.push(Pending {
                        parent: r.def.clone(),
                        child: child.clone(),
                        fk: fk.clone(),
                        values,
                    }),
                    FkAction::Restrict => {
                        let rows = find_rows(
                            self.ctx.txn.scan_latest(child.id)?,
                            &fk.columns,
                            &child_values,
                            true,
                        )?;
                        if !rows.is_empty() {
                            return Err(still_referenced(&r.def, child, fk, &values));
                        }
                    }
                    FkAction::Cascade | FkAction::SetNull | FkAction::SetDefault => {
                        let rows = find_rows(
                            self.ctx.txn.scan_latest(child.id)?,
                            &fk.columns,
                            &child_values,
                            false,
                        )?;
                        for (key, row) in rows {
                            self.apply_action(child, fk, action, key, row, new)?;
                        }
                    }
                }
            }
            Ok(())
        })();
        self.depth -= 1;
        res
    }

    fn apply_action(
        &mut self,
        child: &Arc<TableDef>,
        fk: &ForeignKeyDef,
        action: FkAction,
        key: RowKey,
        row: Row,
        parent_new: Option<&Row>,
    ) -> Result<()> {
        let txn = self.ctx.txn.clone();
        let row = match txn.lock_row(child.id, &key)? {
            RowLockOutcome::Unchanged => row,
            RowLockOutcome::Updated(newer) => newer,
            RowLockOutcome::Deleted => return Ok(()),
        };
        match (action, parent_new) {
            (FkAction::Cascade, None) => {
                txn.delete(child.id, &key)?;
                self.after_delete(child, &row)?;
            }
            _ => {
                let mut new_row = row.clone();
                for (i, &c) in fk.columns.iter().enumerate() {
                    new_row[c] = match (action, parent_new) {
                        (FkAction::Cascade, Some(pn)) => scalar::cast(
                            pn[fk.ref_columns[i]].clone(),
                            &child.columns[c].data_type,
                            CastContext::Assignment,
                        )?,
                        (FkAction::SetNull, _) => Value::Null,
                        _ => self.default_value(child.id, c)?,
                    };
                }
                self.check_row(child, &new_row)?;
                txn.update(child.id, &key, new_row.clone())?;
                self.after_update(child, &row, &new_row)?;
                if action == FkAction::SetDefault {
                    self.check_references(child, &new_row, Some(&row))?;
                }
            }
        }
        Ok(())
    }

    /// End of statement: the deferred NO ACTION checks.
    pub fn finish(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            // The key may have been put back by the same statement.
            let again = find_rows(
                self.ctx.txn.scan_latest(p.parent.id)?,
                &p.fk.ref_columns,
                &p.values,
                true,
            )?;
            if !again.is_empty() {
                continue;
            }
            let Some(child_values) = cast_all(&p.values, &p.fk.columns, &p.child) else {
                continue;
            };
            let rows = find_rows(
                self.ctx.txn.scan_latest(p.child.id)?,
                &p.fk.columns,
                &child_values,
                true,
            )?;
            if !rows.is_empty() {
                return Err(still_referenced(&p.parent, &p.child, &p.fk, &p.values));
            }
        }
        Ok(())
    }
}

/// Casts `values` to the types of `table`'s columns `cols`; `None` if one does not fit (then
/// no row can match).
fn cast_all(values: &[Value], cols: &[usize], table: &TableDef) -> Option<Vec<Value>> {
    values
        .iter()
        .zip(cols)
        .map(|(v, &c)| {
            scalar::cast(
                v.clone(),
                &table.columns[c].data_type,
                CastContext::Assignment,
            )
            .ok()
        })
        .collect()
}

/// The rows of `rows` whose `cols` equal `values` (just the first if `first`).
fn find_rows(
    rows: sledgres_storage::RowIter,
    cols: &[usize],
    values: &[Value],
    first: bool,
) -> Result<Vec<(RowKey, Row)>> {
    let mut out = vec![];
    for item in rows {
        let (k, r) = item?;
        let hit = cols
            .iter()
            .zip(values)
            .all(|(&c, v)| !r[c].is_null() && scalar::values_equal(&r[c], v));
        if hit {
            out.push((k, r));
            if first {
                break;
            }
        }
    }
    Ok(out)
}

fn still_referenced(
    parent: &TableDef,
    child: &TableDef,
    fk: &ForeignKeyDef,
    values: &[Value],
) -> Error {
    let names: Vec<&str> = fk
        .ref_columns
        .iter()
        .map(|&c| parent.columns[c].name.as_str())
        .collect();
    Error::new(
        ErrorKind::ForeignKeyViolation,
        format!(
            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
            parent.name, fk.name, child.name
        ),
    )
    .with_detail(format!(
        "Key ({})=({}) is still referenced from table \"{}\".",
        names.join(", "),
        format_values(values),
        child.name
    ))
}

fn format_values(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| scalar::format_text(v, 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL's DETAIL for a rejected row.
pub fn failing_row(row: &Row) -> String {
    let vals: Vec<String> = row
        .iter()
        .map(|v| {
            if v.is_null() {
                "null".to_string()
            } else {
                scalar::format_text(v, 1)
            }
        })
        .collect();
    format!("Failing row contains ({}).", vals.join(", "))
}

/// 23502 with PostgreSQL's DETAIL listing the whole row.
pub fn check_not_null(table: &TableDef, row: &Row) -> Result<()> {
    for (c, v) in table.columns.iter().zip(row) {
        if !c.nullable && v.is_null() {
            return Err(Error::new(
                ErrorKind::NotNullViolation,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, table.name
                ),
            )
            .with_detail(failing_row(row)));
        }
    }
    Ok(())
}
