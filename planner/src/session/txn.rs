//! The session's transaction state machine: transaction blocks, characteristics, savepoints,
//! notices, timeouts and the maintenance statements that care about blocks.
//!
//! States (PostgreSQL's xact.c, reduced to what a client can observe):
//! - *Idle* (`Block::None`): each batch runs in an implicit transaction, begun lazily by
//!   the first statement that reads or writes and committed by `end_batch` (rolled back at
//!   once on error).
//! - *In block* (`Block::Open`, after BEGIN / START TRANSACTION): statements share one
//!   transaction until COMMIT or ROLLBACK.
//! - *Failed* (`Block::Failed`): a statement failed inside the block; everything but COMMIT
//!   (which then rolls back, tag ROLLBACK), ROLLBACK and ROLLBACK TO SAVEPOINT fails with 25P02.
//!   ROLLBACK TO SAVEPOINT returns to *In block*.
//!
//! Characteristics (isolation level, READ ONLY, DEFERRABLE) are fixed from the
//! `default_transaction_*` settings when the transaction starts (BEGIN, or the first statement
//! of an implicit transaction) and may be changed by BEGIN's modes and SET TRANSACTION until
//! the first query ("first snapshot"), with PostgreSQL's checks and messages. READ UNCOMMITTED
//! is kept by name (SHOW reports it) but runs as READ COMMITTED, exactly as in PostgreSQL.
//! READ ONLY is enforced here, before a write starts, so that an UPDATE that matches no row
//! fails too; storage checks it again per write.
//!
//! Savepoints are a stack of (name, storage position): SAVEPOINT pushes (names may repeat, the
//! newest wins), ROLLBACK TO undoes the writes and releases the locks taken after the newest
//! savepoint of that name and forgets the savepoints above it but keeps it, RELEASE forgets it
//! and everything above it. Storage keeps only positions (`Transaction::savepoint`).
//!
//! Timeouts: storage bounds each lock wait by one duration. We give it the smaller of
//! `lock_timeout` and `statement_timeout`, and when the statement timeout was the bound,
//! report the expired wait as PostgreSQL does: 57014 "canceling statement due to statement
//! timeout" instead of 55P03 "canceling statement due to lock timeout".

use super::{Action, Block, CommandTag, QueryResult, Session};
use crate::error::{Error, ErrorKind, Result};
use crate::notice::Notice;
use crate::utility::{TxnMode, Utility};
use sledgres_storage::{IsolationLevel, Transaction, TxnOptions};
use sqlparser::ast;
use std::time::Duration;

/// A transaction's characteristics as SQL sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TxnChars {
    /// PostgreSQL's name of the level (see [`TxnMode::Isolation`]).
    pub isolation: &'static str,
    pub read_only: bool,
    pub deferrable: bool,
}

impl TxnChars {
    /// What storage runs: READ UNCOMMITTED is READ COMMITTED.
    pub fn options(&self) -> TxnOptions {
        TxnOptions {
            isolation: match self.isolation {
                "repeatable read" => IsolationLevel::RepeatableRead,
                "serializable" => IsolationLevel::Serializable,
                _ => IsolationLevel::ReadCommitted,
            },
            read_only: self.read_only,
            deferrable: self.deferrable,
        }
    }
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

/// sqlparser's transaction modes in our terms (used when sqlparser parsed the statement).
pub(super) fn modes_from_ast(modes: &[ast::TransactionMode]) -> Vec<TxnMode> {
    modes
        .iter()
        .map(|m| match m {
            ast::TransactionMode::IsolationLevel(l) => TxnMode::Isolation(match l {
                ast::TransactionIsolationLevel::ReadUncommitted => "read uncommitted",
                ast::TransactionIsolationLevel::RepeatableRead => "repeatable read",
                ast::TransactionIsolationLevel::Serializable => "serializable",
                _ => "read committed",
            }),
            ast::TransactionMode::AccessMode(a) => {
                TxnMode::ReadOnly(matches!(a, ast::TransactionAccessMode::ReadOnly))
            }
        })
        .collect()
}

/// The action of a statement `utility.rs` recognised.
pub(super) fn utility_action(u: &Utility) -> Action {
    match u {
        Utility::Begin { modes, tag } => Action::Begin {
            modes: modes.clone(),
            tag,
        },
        Utility::SetTransaction(m) => Action::SetTransaction(m.clone()),
        Utility::SetSessionCharacteristics(m) => Action::SetSessionCharacteristics(m.clone()),
        Utility::Vacuum { tables, .. } => Action::Vacuum {
            tables: tables.clone(),
        },
        Utility::Analyze { tables } => Action::Analyze {
            tables: tables.clone(),
        },
        // No table-level locks yet, so NOWAIT cannot matter.
        Utility::Lock { tables, mode, .. } => Action::Lock {
            tables: tables.clone(),
            mode: mode.clone(),
        },
    }
}

fn tag(s: &str) -> Option<Result<QueryResult>> {
    Some(Ok(QueryResult::Command(CommandTag(s.to_string()))))
}

fn active_txn(message: &str) -> Error {
    Error::new(ErrorKind::ActiveSqlTransaction, message)
}

fn no_block(what: &str) -> Error {
    Error::new(
        ErrorKind::NoActiveSqlTransaction,
        format!("{what} can only be used in transaction blocks"),
    )
}

impl Session {
    /// WARNINGs and NOTICEs produced since the last call, oldest first. The server sends them
    /// (NoticeResponse) before the statement's CommandComplete or ErrorResponse.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub(super) fn notice(&mut self, n: Notice) {
        self.notices.push(n);
    }

    /// The characteristics a transaction starting now gets.
    pub(super) fn default_chars(&self) -> TxnChars {
        let iso = self
            .settings
            .get("default_transaction_isolation")
            .unwrap_or_default();
        let flag = |name: &str| self.settings.get(name).map(|v| v == "on").unwrap_or(false);
        TxnChars {
            isolation: match iso.as_str() {
                "read uncommitted" => "read uncommitted",
                "repeatable read" => "repeatable read",
                "serializable" => "serializable",
                _ => "read committed",
            },
            read_only: flag("default_transaction_read_only"),
            deferrable: flag("default_transaction_deferrable"),
        }
    }

    /// The current (or next) transaction's characteristics.
    pub(super) fn current_chars(&self) -> TxnChars {
        self.chars.unwrap_or_else(|| self.default_chars())
    }

    /// SHOW / current_setting of the per-transaction settings.
    pub(super) fn transaction_setting(&self, name: &str) -> Option<String> {
        let c = self.current_chars();
        match name.to_lowercase().as_str() {
            "transaction_isolation" => Some(c.isolation.to_string()),
            "transaction_read_only" => Some(on_off(c.read_only)),
            "transaction_deferrable" => Some(on_off(c.deferrable)),
            _ => None,
        }
    }

    /// The value `current_setting(name)` returns.
    pub fn current_setting(&self, name: &str) -> Result<String> {
        match self.transaction_setting(name) {
            Some(v) => Ok(v),
            None => self.settings.get(name),
        }
    }

    /// What `current_setting()` / `set_config()` see while a statement is bound: the
    /// values right now.
    pub(super) fn settings_reader(&self) -> crate::binder::SettingsReader {
        let txn = [
            "transaction_isolation",
            "transaction_read_only",
            "transaction_deferrable",
        ]
        .into_iter()
        .filter_map(|n| self.transaction_setting(n).map(|v| (n, v)))
        .collect();
        std::sync::Arc::new(SettingsView {
            settings: self.settings.clone(),
            txn,
        })
    }

    /// Applies the `set_config()` calls a statement's binding validated.
    pub(super) fn apply_set_config(&mut self, sets: Vec<(String, String, bool)>) -> Result<()> {
        if !sets.is_empty() && self.settings_at_start.is_none() {
            self.settings_at_start = Some(self.settings.clone());
        }
        for (name, value, local) in sets {
            self.settings.set(&name, Some(&value))?;
            if local {
                self.local_settings.push(name.to_lowercase());
            }
        }
        Ok(())
    }

    /// The open transaction, begun now if needed; marks the transaction as having run a
    /// query (its characteristics are fixed from here on).
    pub(super) fn ensure_txn(&mut self) -> Result<Transaction> {
        self.queried = true;
        self.storage_txn()
    }

    /// The storage transaction, begun if needed, without counting as a query (SAVEPOINT).
    fn storage_txn(&mut self) -> Result<Transaction> {
        if let Some(t) = &self.txn {
            return Ok(t.clone());
        }
        let chars = self.current_chars();
        self.chars = Some(chars);
        let txn = self.db.store.begin(chars.options())?;
        txn.set_interrupt(self.cancel.0.clone());
        self.txn = Some(txn.clone());
        self.arm_timeouts(&txn);
        Ok(txn)
    }

    /// Forgets the per-transaction state once the transaction is over.
    /// `committed`: SET LOCAL values revert; otherwise every SET of the transaction does.
    pub(super) fn end_transaction(&mut self, committed: bool) {
        self.chars = None;
        self.queried = false;
        self.savepoints.clear();
        let locals = std::mem::take(&mut self.local_settings);
        if let Some(start) = self.settings_at_start.take() {
            if committed {
                self.settings.restore_from(&start, Some(&locals));
            } else {
                self.settings.restore_from(&start, None);
            }
        }
    }

    /// Bounds the transaction's lock waits for the statement about to run (see module docs).
    pub(super) fn arm_timeouts(&mut self, txn: &Transaction) {
        let ms = |name: &str| {
            self.settings
                .get(name)
                .ok()
                .and_then(|v| crate::settings::parse_duration_ms(&v))
                .unwrap_or(0)
        };
        let (lock, stmt) = (ms("lock_timeout"), ms("statement_timeout"));
        self.statement_timeout_binds = stmt > 0 && (lock == 0 || stmt <= lock);
        let bound = match (lock, stmt) {
            (0, 0) => None,
            (0, s) => Some(s),
            (l, 0) => Some(l),
            (l, s) => Some(l.min(s)),
        };
        txn.set_lock_timeout(bound.map(Duration::from_millis));
        // PostgreSQL clamps deadlock_timeout to at least 1 ms; the session's value decides
        // when this statement's lock waits look for a cycle.
        let deadlock = ms("deadlock_timeout").max(1);
        txn.set_deadlock_timeout(Some(Duration::from_millis(deadlock)));
    }

    /// A lock wait that ran into the statement timeout is reported as one.
    pub(super) fn map_timeout(&self, e: Error) -> Error {
        if self.statement_timeout_binds
            && e.kind == ErrorKind::LockNotAvailable
            && e.message == "canceling statement due to lock timeout"
        {
            return Error::new(
                ErrorKind::QueryCanceled,
                "canceling statement due to statement timeout",
            );
        }
        e
    }

    /// After a failed statement — in the planner or in the protocol layer (a bad Bind, an
    /// unknown portal): a block becomes failed; an implicit transaction is rolled back at
    /// once, so that the end of the batch does not commit what ran before the error.
    ///
    /// A failed block is already aborted, as in PostgreSQL: what the failed (sub)transaction
    /// wrote is undone and its locks are released *now*, not at the client's ROLLBACK — a
    /// deadlock victim's locks go at once, so the survivor proceeds. Inside a savepoint only
    /// the work since the newest savepoint is undone (PostgreSQL aborts the subtransaction;
    /// ROLLBACK TO then resumes); outside one the whole storage transaction rolls back and the
    /// block waits, empty, for COMMIT/ROLLBACK.
    pub fn statement_failed(&mut self, e: &Error) {
        tracing::debug!(error = %e, "statement failed");
        match self.block {
            Block::Open | Block::Failed => {
                self.block = Block::Failed;
                if let Some((_, sp, _)) = self.savepoints.last() {
                    if let Some(txn) = &self.txn {
                        if let Err(e) = txn.rollback_to_savepoint(*sp) {
                            tracing::warn!(error = %e, "subtransaction abort after error failed");
                        }
                    }
                } else if let Some(txn) = self.txn.take() {
                    if let Err(e) = txn.rollback() {
                        tracing::warn!(error = %e, "rollback after error failed");
                    }
                }
            }
            Block::None => {
                self.end_transaction(false);
                if let Some(txn) = self.txn.take() {
                    if let Err(e) = txn.rollback() {
                        tracing::warn!(error = %e, "rollback after error failed");
                    }
                }
            }
        }
    }

    /// 25006 for a write in a READ ONLY transaction (checked before the write starts).
    pub(super) fn check_writable(&self, action: &Action) -> Result<()> {
        if !self.current_chars().read_only {
            return Ok(());
        }
        let what = match action {
            Action::Insert(_) => "INSERT",
            Action::Update(_) => "UPDATE",
            Action::Delete(_) => "DELETE",
            Action::CreateTable { .. } => "CREATE TABLE",
            Action::DropTable { .. } => "DROP TABLE",
            Action::CreateIndex { .. } => "CREATE INDEX",
            Action::DropIndex { .. } => "DROP INDEX",
            Action::Query(_, Some(locks)) => {
                let mode = locks
                    .first_mode
                    .unwrap_or(sledgres_storage::RowLockMode::Update);
                return Err(Error::new(
                    ErrorKind::ReadOnlySqlTransaction,
                    format!(
                        "cannot execute SELECT {} in a read-only transaction",
                        mode.sql()
                    ),
                ));
            }
            _ => return Ok(()),
        };
        Err(Error::new(
            ErrorKind::ReadOnlySqlTransaction,
            format!("cannot execute {what} in a read-only transaction"),
        ))
    }

    /// Applies SET TRANSACTION modes to the current transaction, with PostgreSQL's checks
    /// (guc.c's check hooks for transaction_isolation, transaction_read_only and
    /// transaction_deferrable).
    fn set_transaction(&mut self, modes: &[TxnMode]) -> Result<()> {
        let mut chars = self.current_chars();
        let sub = !self.savepoints.is_empty();
        for m in modes {
            match *m {
                TxnMode::Isolation(l) => {
                    if l != chars.isolation {
                        if self.queried {
                            return Err(active_txn(
                                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                            ));
                        }
                        if sub {
                            return Err(active_txn(
                                "SET TRANSACTION ISOLATION LEVEL must not be called in a subtransaction",
                            ));
                        }
                    }
                    chars.isolation = l;
                }
                TxnMode::ReadOnly(ro) => {
                    if !ro && chars.read_only {
                        if sub {
                            return Err(active_txn(
                                "cannot set transaction read-write mode inside a read-only transaction",
                            ));
                        }
                        if self.queried {
                            return Err(active_txn(
                                "transaction read-write mode must be set before any query",
                            ));
                        }
                    }
                    chars.read_only = ro;
                }
                TxnMode::Deferrable(d) => {
                    // Unlike the other two, checked even when nothing changes.
                    if sub {
                        return Err(active_txn(
                            "SET TRANSACTION [NOT] DEFERRABLE cannot be called within a subtransaction",
                        ));
                    }
                    if self.queried {
                        return Err(active_txn(
                            "SET TRANSACTION [NOT] DEFERRABLE must be called before any query",
                        ));
                    }
                    chars.deferrable = d;
                }
            }
        }
        let changes_storage = chars.options() != self.current_chars().options();
        self.chars = Some(chars);
        if changes_storage && !self.queried && self.savepoints.is_empty() {
            // Only SAVEPOINT can have begun the storage transaction before a query (and its
            // savepoints are gone): it has done nothing, so begin it afresh with the new
            // options. Inside a savepoint only READ ONLY can change, which the session
            // enforces itself.
            if let Some(t) = self.txn.take() {
                let _ = t.rollback();
            }
        }
        Ok(())
    }

    /// Transaction control and the statements whose meaning depends on the block state.
    /// `None`: not one of these.
    pub(super) fn execute_control(&mut self, action: &Action) -> Option<Result<QueryResult>> {
        match action {
            Action::Begin { modes, tag: t } => {
                if self.block != Block::None {
                    self.notice(Notice::warning(
                        "25001",
                        "there is already a transaction in progress",
                    ));
                    return tag(t);
                }
                self.block = Block::Open;
                if !modes.is_empty() {
                    if let Err(e) = self.set_transaction(modes) {
                        return Some(Err(e));
                    }
                } else if self.chars.is_none() {
                    self.chars = Some(self.default_chars());
                }
                tag(t)
            }
            Action::Commit => {
                let failed = self.block == Block::Failed;
                if self.block == Block::None {
                    self.notice(Notice::warning(
                        "25P01",
                        "there is no transaction in progress",
                    ));
                }
                self.block = Block::None;
                self.end_transaction(!failed);
                if let Some(txn) = self.txn.take() {
                    let r = if failed { txn.rollback() } else { txn.commit() };
                    if let Err(e) = r {
                        return Some(Err(e.into()));
                    }
                }
                tag(if failed { "ROLLBACK" } else { "COMMIT" })
            }
            Action::Rollback => {
                if self.block == Block::None {
                    self.notice(Notice::warning(
                        "25P01",
                        "there is no transaction in progress",
                    ));
                }
                self.block = Block::None;
                self.end_transaction(false);
                if let Some(txn) = self.txn.take() {
                    if let Err(e) = txn.rollback() {
                        return Some(Err(e.into()));
                    }
                }
                tag("ROLLBACK")
            }
            Action::SetTransaction(modes) => {
                if self.block == Block::None {
                    self.notice(Notice::warning(
                        "25P01",
                        "SET TRANSACTION can only be used in transaction blocks",
                    ));
                    return tag("SET");
                }
                Some(
                    self.set_transaction(modes)
                        .map(|_| QueryResult::Command(CommandTag("SET".into()))),
                )
            }
            Action::SetSessionCharacteristics(modes) => {
                for m in modes {
                    let (name, value) = match *m {
                        TxnMode::Isolation(l) => ("default_transaction_isolation", l.to_string()),
                        TxnMode::ReadOnly(b) => ("default_transaction_read_only", on_off(b)),
                        TxnMode::Deferrable(b) => ("default_transaction_deferrable", on_off(b)),
                    };
                    if let Err(e) = self.settings.set(name, Some(&value)) {
                        return Some(Err(e));
                    }
                }
                tag("SET")
            }
            Action::Set {
                name, value, reset, ..
            } if self.transaction_setting(name).is_some() => {
                // SET transaction_isolation = … is SET TRANSACTION ISOLATION LEVEL ….
                let t = if *reset { "RESET" } else { "SET" };
                let Some(v) = value else {
                    return tag(t);
                };
                let mode = match parse_mode(name, v) {
                    Ok(m) => m,
                    Err(e) => return Some(Err(e)),
                };
                if self.block == Block::None {
                    self.notice(Notice::warning(
                        "25P01",
                        "SET TRANSACTION can only be used in transaction blocks",
                    ));
                    return tag(t);
                }
                Some(
                    self.set_transaction(&[mode])
                        .map(|_| QueryResult::Command(CommandTag(t.into()))),
                )
            }
            Action::Savepoint(name) => {
                if self.block == Block::None {
                    return Some(Err(no_block("SAVEPOINT")));
                }
                let r = self.storage_txn().and_then(|t| Ok(t.savepoint()?));
                match r {
                    Ok(sp) => {
                        self.savepoints
                            .push((name.clone(), sp, self.settings.clone()));
                        tag("SAVEPOINT")
                    }
                    Err(e) => Some(Err(e)),
                }
            }
            Action::RollbackTo(name) => {
                if self.block == Block::None {
                    return Some(Err(no_block("ROLLBACK TO SAVEPOINT")));
                }
                let Some(i) = self.savepoints.iter().rposition(|(n, ..)| n == name) else {
                    return Some(Err(no_savepoint(name)));
                };
                let sp = self.savepoints[i].1;
                let before = self.savepoints[i].2.clone();
                self.settings.restore_from(&before, None);
                self.savepoints.truncate(i + 1);
                if let Some(t) = &self.txn {
                    if let Err(e) = t.rollback_to_savepoint(sp) {
                        return Some(Err(e.into()));
                    }
                }
                self.block = Block::Open;
                tag("ROLLBACK")
            }
            Action::Release(name) => {
                if self.block == Block::None {
                    return Some(Err(no_block("RELEASE SAVEPOINT")));
                }
                let Some(i) = self.savepoints.iter().rposition(|(n, ..)| n == name) else {
                    return Some(Err(no_savepoint(name)));
                };
                let sp = self.savepoints[i].1;
                self.savepoints.truncate(i);
                if let Some(t) = &self.txn {
                    if let Err(e) = t.release_savepoint(sp) {
                        return Some(Err(e.into()));
                    }
                }
                tag("RELEASE")
            }
            Action::Vacuum { tables } => {
                if self.block != Block::None || self.multi_statement {
                    return Some(Err(active_txn(
                        "VACUUM cannot run inside a transaction block",
                    )));
                }
                if let Err(e) = self.check_tables(tables) {
                    return Some(Err(e));
                }
                // Storage vacuums the whole keyspace in one go; per-table vacuum is the same
                // work (and ANALYZE keeps no statistics yet).
                if let Err(e) = self.db.store.vacuum() {
                    return Some(Err(e.into()));
                }
                tag("VACUUM")
            }
            Action::Analyze { tables } => {
                if let Err(e) = self.check_tables(tables).and_then(|()| {
                    let txn = self.ensure_txn()?;
                    txn.begin_statement()?;
                    crate::optimizer::stats::analyze_into(&txn, tables, &self.db.stats)
                }) {
                    return Some(Err(e));
                }
                tag("ANALYZE")
            }
            Action::Lock { tables, mode } => {
                if self.block == Block::None && !self.multi_statement {
                    return Some(Err(no_block("LOCK TABLE")));
                }
                let weak = matches!(
                    mode.as_str(),
                    "access share" | "row share" | "row exclusive"
                );
                if !weak && self.current_chars().read_only {
                    return Some(Err(Error::new(
                        ErrorKind::ReadOnlySqlTransaction,
                        "cannot execute LOCK TABLE in a read-only transaction",
                    )));
                }
                // Storage has no table-level locks yet: LOCK TABLE checks the tables exist
                // and otherwise does nothing.
                if let Err(e) = self.check_tables(tables) {
                    return Some(Err(e));
                }
                tag("LOCK TABLE")
            }
            _ => None,
        }
    }

    /// 42P01 for the first table that does not exist.
    fn check_tables(&mut self, tables: &[String]) -> Result<()> {
        if tables.is_empty() {
            return Ok(());
        }
        let txn = self.ensure_txn()?;
        txn.begin_statement()?;
        for t in tables {
            if txn.get_table("public", t)?.is_none() {
                return Err(Error::new(
                    ErrorKind::UndefinedTable,
                    format!("relation \"{t}\" does not exist"),
                ));
            }
        }
        Ok(())
    }
}

/// A snapshot of the session's settings for the binder.
struct SettingsView {
    settings: crate::settings::Settings,
    txn: Vec<(&'static str, String)>,
}

impl crate::binder::SessionSettings for SettingsView {
    fn get(&self, name: &str) -> Result<String> {
        let lower = name.to_lowercase();
        match self.txn.iter().find(|(n, _)| *n == lower) {
            Some((_, v)) => Ok(v.clone()),
            None => self.settings.get(name),
        }
    }
    fn check(&self, name: &str, value: &str) -> Result<String> {
        let mut s = self.settings.clone();
        s.set(name, Some(value))?;
        s.get(name)
    }
}

fn no_savepoint(name: &str) -> Error {
    Error::new(
        ErrorKind::InvalidSavepointSpecification,
        format!("savepoint \"{name}\" does not exist"),
    )
}

/// `SET transaction_isolation = 'serializable'` and friends as a transaction mode.
fn parse_mode(name: &str, v: &str) -> Result<TxnMode> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("invalid value for parameter \"{name}\": \"{v}\""),
        )
    };
    let bool_of = |v: &str| match v.to_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(invalid()),
    };
    Ok(match name.to_lowercase().as_str() {
        "transaction_isolation" => TxnMode::Isolation(match v.to_lowercase().as_str() {
            "read uncommitted" => "read uncommitted",
            "read committed" => "read committed",
            "repeatable read" => "repeatable read",
            "serializable" => "serializable",
            _ => return Err(invalid()),
        }),
        "transaction_read_only" => TxnMode::ReadOnly(bool_of(v)?),
        _ => TxnMode::Deferrable(bool_of(v)?),
    })
}
