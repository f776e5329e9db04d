//! `SELECT … FOR UPDATE | NO KEY UPDATE | SHARE | KEY SHARE [OF t] [NOWAIT | SKIP LOCKED]`.
//!
//! Binding checks what PostgreSQL forbids (set operations, DISTINCT, GROUP BY, HAVING,
//! aggregates, window functions: the locked rows must be rows of tables) and records which
//! base tables of the FROM clause to lock, in which strength and with which wait policy
//! ([`RowLocks`]). The executor's scans then lock every row of those tables they return
//! (`exec/rowlock.rs`).
//!
//! sqlparser knows only `FOR UPDATE` / `FOR SHARE`; `parse.rs` blanks out the `NO KEY` /
//! `KEY` words and hands us the true strength of each clause in text order
//! ([`Locking::strengths`]).

use super::{ident, object_name, Binder};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::rowlock::RowLocks;
use crate::plan::Plan;
use sledgres_storage::{RowLockMode, WaitPolicy};
use sqlparser::ast;

/// The binder's row-locking state for one statement.
#[derive(Default, Debug)]
pub struct Locking {
    /// True strengths of the statement's locking clauses, in text order, not yet bound.
    pub strengths: std::collections::VecDeque<RowLockMode>,
    /// What the bound statement locks.
    pub locks: RowLocks,
}

/// Whether the query level's own chain of nodes (down to its FROM items) holds a node
/// `pred` accepts. Nodes below a join or inside a FROM subquery belong to other levels.
fn level_has(p: &Plan, pred: &dyn Fn(&Plan) -> bool) -> bool {
    if pred(p) {
        return true;
    }
    match p {
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. }
        | Plan::Distinct { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Window { input, .. } => level_has(input, pred),
        _ => false,
    }
}

/// Whether `p` is Project/Filter/Sort/Limit nodes over a scan of `table`, with a Sort among
/// them (`sorted` says whether one was seen above).
fn chain_to_scan(p: &Plan, table: sledgres_storage::TableId, sorted: bool) -> bool {
    match p {
        Plan::Scan { table: t, .. } => sorted && t.id == table && !t.primary_key.is_empty(),
        Plan::Sort { input, .. } => chain_to_scan(input, table, true),
        Plan::Filter { input, .. } | Plan::Project { input, .. } | Plan::Limit { input, .. } => {
            chain_to_scan(input, table, sorted)
        }
        _ => false,
    }
}

impl Binder<'_> {
    /// Binds `q`'s locking clauses (after its body, whose plan is `plan`).
    pub(crate) fn bind_row_locks(&mut self, q: &ast::Query, plan: &mut Plan) -> Result<()> {
        if q.locks.is_empty() {
            return Ok(());
        }
        let mut clauses = vec![];
        for l in &q.locks {
            let parsed = match l.lock_type {
                ast::LockType::Update => RowLockMode::Update,
                ast::LockType::Share => RowLockMode::Share,
            };
            // The true strength, if parse.rs saw this clause (same family).
            let mode = match self.locking.strengths.front() {
                Some(&m) if family(m) == family(parsed) => {
                    self.locking.strengths.pop_front();
                    m
                }
                _ => parsed,
            };
            let wait = match l.nonblock {
                None => WaitPolicy::Block,
                Some(ast::NonBlock::Nowait) => WaitPolicy::NoWait,
                Some(ast::NonBlock::SkipLocked) => WaitPolicy::SkipLocked,
            };
            clauses.push((mode, wait, l.of.as_ref()));
        }
        let first = clauses[0].0;
        let what = first.sql();
        let not_allowed = |with: &str| {
            Error::new(
                ErrorKind::FeatureNotSupported,
                format!("{what} is not allowed with {with}"),
            )
        };
        let select = match &*q.body {
            ast::SetExpr::Select(s) => s,
            ast::SetExpr::SetOperation { .. } => return Err(not_allowed("UNION/INTERSECT/EXCEPT")),
            _ => return Ok(()),
        };
        if select.distinct.is_some() {
            return Err(not_allowed("DISTINCT clause"));
        }
        let grouped = match &select.group_by {
            ast::GroupByExpr::All(_) => true,
            ast::GroupByExpr::Expressions(v, _) => !v.is_empty(),
        };
        if grouped {
            return Err(not_allowed("GROUP BY clause"));
        }
        if select.having.is_some() {
            return Err(not_allowed("HAVING clause"));
        }
        if level_has(plan, &|p| matches!(p, Plan::Aggregate { .. })) {
            return Err(not_allowed("aggregate functions"));
        }
        if level_has(plan, &|p| matches!(p, Plan::Window { .. })) {
            return Err(not_allowed("window functions"));
        }
        // The base tables of FROM, by the name they are visible under.
        let mut from = vec![];
        for twj in &select.from {
            let factors =
                std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation));
            for f in factors {
                if let ast::TableFactor::Table { name, alias, .. } = f {
                    let def = self.table(name)?;
                    let visible = match alias {
                        Some(a) => ident(&a.name),
                        None => object_name(name)?,
                    };
                    from.push((visible, def.id, def.name.clone()));
                }
            }
        }
        for (mode, wait, of) in clauses {
            match of {
                None => {
                    for (_, id, name) in &from {
                        self.locking.locks.add(*id, name, mode, wait);
                    }
                }
                Some(of) => {
                    let n = object_name(of)?;
                    let Some((_, id, name)) = from.iter().find(|(v, _, _)| *v == n) else {
                        return Err(Error::new(
                            ErrorKind::UndefinedTable,
                            format!(
                                "relation \"{n}\" in {} clause not found in FROM clause",
                                mode.sql()
                            ),
                        ));
                    };
                    self.locking.locks.add(*id, name, mode, wait);
                }
            }
        }
        self.locking.locks.first_mode.get_or_insert(first);
        self.lock_at_output(plan, &from);
        Ok(())
    }

    /// A single-table query with ORDER BY (`SELECT … ORDER BY … LIMIT 1 FOR UPDATE SKIP
    /// LOCKED`, the work-queue pattern) must lock only the rows it returns, not every row
    /// the sort reads. For a table with a primary key we carry its key columns up to the
    /// output as hidden trailing columns and lock there instead of at the scan (see
    /// `exec/rowlock.rs`, [`RowLocks::output`]).
    fn lock_at_output(
        &mut self,
        plan: &mut Plan,
        from: &[(String, sledgres_storage::TableId, String)],
    ) {
        // Only the statement's own query: a subquery's output is not the cursor's.
        let [(_, id, _)] = from else {
            return;
        };
        if !self.scopes.is_empty() || !self.ref_sinks.is_empty() {
            return;
        }
        let Some(pos) = self.locking.locks.tables.iter().position(|t| t.0 == *id) else {
            return;
        };
        if !chain_to_scan(plan, *id, false) {
            return;
        }
        let Some(hidden) = self.thread_key(plan, *id) else {
            return;
        };
        let visible = plan.output().len() - hidden.len();
        let (id, name, mode, wait) = self.locking.locks.tables.remove(pos);
        self.locking.locks.output = Some(crate::exec::rowlock::OutputLock {
            table: id,
            name,
            mode,
            wait,
            visible,
        });
    }

    /// Adds the scanned table's primary key columns to every projection from the scan up;
    /// returns their ids at the top (call only when [`chain_to_scan`] holds).
    fn thread_key(
        &mut self,
        plan: &mut Plan,
        table: sledgres_storage::TableId,
    ) -> Option<Vec<(crate::plan::ColumnId, sledgres_storage::DataType)>> {
        match plan {
            Plan::Scan { table: t, cols, .. } => {
                if t.id != table || t.primary_key.is_empty() || cols.len() != t.columns.len() {
                    return None;
                }
                Some(
                    t.primary_key
                        .iter()
                        .map(|&i| (cols[i], t.columns[i].data_type.clone()))
                        .collect(),
                )
            }
            Plan::Filter { input, .. } | Plan::Sort { input, .. } | Plan::Limit { input, .. } => {
                self.thread_key(input, table)
            }
            Plan::Project { input, exprs, cols } => {
                let inner = self.thread_key(input, table)?;
                let mut out = vec![];
                for (id, ty) in inner {
                    exprs.push(crate::plan::Expr::Column(id, ty.clone()));
                    let n = self.new_col();
                    cols.push(n);
                    out.push((n, ty));
                }
                Some(out)
            }
            _ => None,
        }
    }
}

/// Exclusive-ish (UPDATE, NO KEY UPDATE) or shared (SHARE, KEY SHARE): what sqlparser can tell.
fn family(m: RowLockMode) -> bool {
    matches!(m, RowLockMode::Update | RowLockMode::NoKeyUpdate)
}
