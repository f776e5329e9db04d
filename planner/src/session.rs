//! The SQL session: what one client connection sees.
//!
//! Every method is synchronous and may block (waiting for a row lock, for a commit's flush):
//! the server calls them off the async reactor (e.g. `tokio::task::spawn_blocking`).
//!
//! How the server drives a session, mirroring PostgreSQL's postgres.c:
//! - Simple query: `parse` the text into statements; for each, `prepare` then `execute`, and if
//!   it returned rows, `fetch` until exhausted; stop at the first error. Then `end_batch`.
//! - Extended query: Parse → `parse` (exactly one statement, or none for an empty string) and
//!   `prepare` with the client's parameter types; Describe → the `Prepared`'s parameter types
//!   and columns; Bind → `decode_param_text`/binary decoding by the server, then `execute`
//!   (lazily, at the first Execute); Execute(max_rows) → `fetch`; Sync → `end_batch`.
//! - Outside an explicit transaction block, the statements of one batch (one simple-query
//!   message, or everything up to a Sync) run in one implicit transaction, which `end_batch`
//!   commits (or rolls back after an error). Inside a block, an error puts the session in the
//!   failed state: every statement but ROLLBACK, ROLLBACK TO SAVEPOINT (which recovers the
//!   block) and COMMIT (which then rolls back and reports the tag ROLLBACK) fails with 25P02.
//!   The state machine, savepoints, transaction characteristics, notices and timeouts live in
//!   `session/txn.rs`.
//!
//! The transaction itself is begun lazily, by the first statement that reads or writes, so
//! that `BEGIN ISOLATION LEVEL …` and `SET TRANSACTION` before the first query decide its
//! options (storage then takes the snapshot at the first `begin_statement`).
//!
//! Statement pipeline (`prepare`): parse (sqlparser) → bind (`binder/`) → optimize
//! (`optimizer/`) → compile (`exec/`). `execute` opens the compiled plan into operators: a
//! query returns a [`Cursor`] that streams; DML runs to completion and returns its tag.

use crate::binder::{Binder, Bound};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::dml::{PInsert, PModify};
use crate::exec::rowlock::RowLocks;
use crate::exec::{self, BoxOp, ExecCtx, PhysPlan};
use crate::notice::Notice;
use crate::parse::Parsed;
use crate::settings::Settings;
use crate::utility::TxnMode;
use crate::{optimizer, scalar};
use sledgres_storage::{DataType, IndexDef, Row, Savepoint, Store, TableDef, Transaction, Value};
use sqlparser::ast;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod copy;
mod txn;
pub use copy::{CopyIn, CopyOut};
use txn::{modes_from_ast, utility_action, TxnChars};

/// Rows per `fetch` call when the caller asked for "all" (bounded batches keep memory flat).
const FETCH_BATCH: usize = 1000;

/// The database: one per server process, shared by every session.
#[derive(Clone)]
pub struct Database {
    store: Store,
    /// Table statistics from ANALYZE, in memory (`optimizer/stats.rs`).
    stats: crate::optimizer::stats::Statistics,
}

impl Database {
    /// Opens (creating if needed, recovering after a crash) the data directory.
    pub fn open(dir: &Path) -> Result<Database> {
        Ok(Database {
            store: Store::open(dir)?,
            stats: Default::default(),
        })
    }
    /// A database in a temporary directory, for tests.
    pub fn open_temporary() -> Result<Database> {
        Ok(Database {
            store: Store::open_temporary()?,
            stats: Default::default(),
        })
    }
    /// The storage underneath, for tests and diagnostics (e.g. counting stored versions).
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// A new session for a connection.
    pub fn session(&self, params: SessionParams) -> Result<Session> {
        let mut settings = Settings::new(&params.user, &params.application_name);
        if let Some(opts) = &params.options {
            for (k, v) in parse_options(opts) {
                settings.set(&k, Some(&v))?;
            }
        }
        settings.take_changes();
        Ok(Session {
            db: self.clone(),
            params,
            txn: None,
            block: Block::None,
            chars: None,
            queried: false,
            multi_statement: false,
            savepoints: vec![],
            settings_at_start: None,
            local_settings: vec![],
            notices: vec![],
            statement_timeout_binds: false,
            settings,
            cancel: CancelHandle::default(),
        })
    }
    /// Flushes everything to disk; called once at shutdown after sessions have ended.
    pub fn shutdown(&self) -> Result<()> {
        Ok(self.store.flush()?)
    }
}

/// `-c name=value` / `--name=value` pairs of the `options` startup parameter.
fn parse_options(opts: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut words = opts.split_whitespace();
    while let Some(w) = words.next() {
        let pair = if w == "-c" {
            words.next().map(|s| s.to_string())
        } else if let Some(r) = w.strip_prefix("-c") {
            Some(r.to_string())
        } else {
            w.strip_prefix("--").map(|r| r.to_string())
        };
        if let Some((k, v)) = pair.as_deref().and_then(|p| p.split_once('=')) {
            out.push((k.replace('-', "_"), v.to_string()));
        }
    }
    out
}

/// Startup parameters of a connection.
#[derive(Clone, Debug, Default)]
pub struct SessionParams {
    pub user: String,
    pub database: String,
    pub application_name: String,
    /// The `options` startup parameter (e.g. `-c DateStyle=ISO`), applied as SET commands.
    pub options: Option<String>,
    /// This backend's process id as announced in BackendKeyData.
    pub backend_pid: i32,
}

/// The I/T/E byte of ReadyForQuery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// 'I': not in a transaction block.
    Idle,
    /// 'T': in a transaction block.
    InBlock,
    /// 'E': in a failed transaction block.
    Failed,
}

/// One parsed statement (syntax only), with its source text.
#[derive(Clone, Debug)]
pub struct Statement {
    sql: String,
    parsed: Parsed,
    /// The strengths of its FOR UPDATE/SHARE clauses (see `utility::mask_lock_strengths`).
    lock_modes: Vec<sledgres_storage::RowLockMode>,
    /// The whole query string it came from (AST spans, hence error positions, refer to it).
    text: Arc<str>,
}

impl Statement {
    /// The statement's text as the client sent it.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// A result column as RowDescription describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: DataType,
}

/// What a prepared statement does when executed.
#[derive(Debug)]
enum Action {
    /// A query, and the rows it locks (SELECT … FOR UPDATE).
    Query(Arc<PhysPlan>, Option<Arc<RowLocks>>),
    Insert(PInsert),
    Update(PModify),
    Delete(PModify),
    CreateTable {
        def: TableDef,
        if_not_exists: bool,
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
    /// ALTER TABLE, TRUNCATE, DROP TABLE/VIEW, CREATE VIEW (`exec/dml/ddl.rs`).
    Ddl(Arc<crate::binder::alter::DdlPlan>),
    Begin {
        modes: Vec<TxnMode>,
        tag: &'static str,
    },
    Commit,
    Rollback,
    SetTransaction(Vec<TxnMode>),
    SetSessionCharacteristics(Vec<TxnMode>),
    Savepoint(String),
    RollbackTo(String),
    Release(String),
    /// VACUUM [ANALYZE] (ANALYZE keeps no statistics yet, so the option changes nothing).
    Vacuum {
        tables: Vec<String>,
    },
    Analyze {
        tables: Vec<String>,
    },
    Lock {
        tables: Vec<String>,
        mode: String,
    },
    Set {
        name: String,
        value: Option<String>,
        /// RESET (tag `RESET`) rather than SET … TO DEFAULT.
        reset: bool,
        /// SET LOCAL: until the end of the transaction.
        local: bool,
    },
    ResetAll,
    Show(String),
    /// EXPLAIN: the plan's text lines.
    Explain(Vec<String>),
    /// EXPLAIN ANALYZE: runs the query, then renders the plan with what it measured.
    ExplainAnalyze(Arc<crate::plan::explain::Analyze>),
    /// COPY … FROM STDIN / TO STDOUT (`session/copy.rs`).
    CopyFrom(Arc<copy::CopyFromPlan>),
    CopyTo(Arc<copy::CopyToPlan>),
    /// PREPARE / EXECUTE / DEALLOCATE / DISCARD: acts on state the caller keeps (see
    /// [`StatementEffect`]).
    Effect(StatementEffect),
    /// DISCARD PLANS / SEQUENCES / TEMP: nothing is cached or temporary, so nothing to do.
    NoOp(&'static str),
}

/// What a statement asks of the connection's protocol-level state, which the planner does
/// not own: prepared statements (one namespace shared by Parse and SQL) and portals. The
/// caller applies it after [`Session::execute`] succeeds; `execute` only does the
/// session-level part (DISCARD ALL resets settings) and its checks.
#[derive(Clone, Debug, PartialEq)]
pub enum StatementEffect {
    /// DEALLOCATE name (`Some`) or DEALLOCATE ALL (`None`). A name that does not exist is
    /// the caller's error to raise (26000), since only it knows the names.
    Deallocate(Option<String>),
    /// DISCARD ALL: drop every prepared statement and portal; settings are reset here.
    DiscardAll,
    /// PREPARE name [(types)] AS statement: store `statement` under `name`; a name that is
    /// taken is the caller's 42P05.
    Prepare {
        name: String,
        statement: Box<Prepared>,
    },
    /// EXECUTE name [(args)]: the caller looks `name` up (26000 if missing), has
    /// [`Session::execute_arguments`] evaluate `args` for its parameter types, and executes
    /// it with them: its result and tag are the EXECUTE's.
    Execute { name: String, args: Vec<ast::Expr> },
}

/// A bound, planned statement ready to execute with parameter values. Re-executable.
#[derive(Clone, Debug)]
pub struct Prepared {
    action: Arc<Action>,
    param_types: Vec<DataType>,
    columns: Vec<ColumnInfo>,
}

/// Two prepared statements are equal when they are the same statement (prepared once).
impl PartialEq for Prepared {
    fn eq(&self, other: &Prepared) -> bool {
        Arc::ptr_eq(&self.action, &other.action)
    }
}

impl Prepared {
    /// The type of each `$n` parameter (inferred where the client did not say).
    pub fn param_types(&self) -> &[DataType] {
        &self.param_types
    }

    /// What this statement does to the caller's prepared statements and portals, if anything.
    pub fn statement_effect(&self) -> Option<&StatementEffect> {
        match &*self.action {
            Action::Effect(e) => Some(e),
            _ => None,
        }
    }
    /// The result columns; empty for a statement that returns no rows (NoData).
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }
}

/// The CommandComplete tag, e.g. `INSERT 0 3`, `SELECT 5`, `CREATE TABLE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandTag(pub String);

/// What executing a statement produced.
pub enum QueryResult {
    /// A statement that returns rows; `fetch` them from the cursor. The tag (`SELECT n`) is
    /// known once the cursor is exhausted: [`Cursor::tag`].
    Rows(Cursor),
    /// A statement without rows (DDL, transaction control, INSERT without RETURNING, …).
    Command(CommandTag),
    /// COPY FROM STDIN: feed it the client's CopyData (`Session::copy_in_data`).
    CopyIn(CopyIn),
    /// COPY TO STDOUT: send the lines `Session::copy_out_next` returns as CopyData.
    CopyOut(CopyOut),
}

/// A running statement's remaining rows. Streams: holds operators, not results.
pub struct Cursor {
    columns: Vec<ColumnInfo>,
    op: Option<BoxOp>,
    count: u64,
    tag: &'static str,
}

impl Cursor {
    pub fn columns(&self) -> &[ColumnInfo] {
        &self.columns
    }
    /// The CommandComplete tag for the rows fetched so far (`SELECT n`, `INSERT 0 n` for
    /// INSERT … RETURNING, …).
    pub fn tag(&self) -> CommandTag {
        if self.tag == "SHOW" || self.tag == "EXPLAIN" {
            return CommandTag(self.tag.into());
        }
        CommandTag(format!("{} {}", self.tag, self.count))
    }
}

/// Lets another task cancel whatever the session is running (CancelRequest). The running
/// statement fails with 57014 at its next check.
#[derive(Clone, Debug, Default)]
pub struct CancelHandle(pub Arc<AtomicBool>);

impl CancelHandle {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// No explicit block: statements run in the batch's implicit transaction.
    None,
    Open,
    Failed,
}

/// One connection's SQL session. `Send`, not shared: the server owns it.
pub struct Session {
    db: Database,
    params: SessionParams,
    /// The open transaction (implicit or the block's), begun lazily.
    txn: Option<Transaction>,
    block: Block,
    /// The current transaction's characteristics (BEGIN ISOLATION LEVEL …, SET TRANSACTION),
    /// fixed from the defaults when it starts; `None` outside a transaction.
    chars: Option<TxnChars>,
    /// Whether the current transaction ran a statement that reads or writes (PostgreSQL's
    /// "first snapshot set"): from then on its isolation level cannot change.
    queried: bool,
    /// Whether the current simple query holds several statements: PostgreSQL then runs them
    /// in an implicit transaction *block* (VACUUM refuses to run, LOCK TABLE may).
    multi_statement: bool,
    /// Savepoints of the open block, oldest first (names may repeat: the newest wins).
    savepoints: Vec<(String, Savepoint, Settings)>,
    /// The settings when the current transaction started: a rollback restores them (SET is
    /// transactional in PostgreSQL), a commit restores only the SET LOCAL ones.
    settings_at_start: Option<Settings>,
    /// Names set with SET LOCAL (or set_config(…, true)) in the current transaction.
    local_settings: Vec<String>,
    /// WARNINGs and NOTICEs waiting for the server (see `notice.rs`).
    notices: Vec<Notice>,
    /// Whether the running statement's lock waits are bounded by statement_timeout rather
    /// than lock_timeout (then a lock wait timeout is reported as a statement timeout).
    statement_timeout_binds: bool,
    settings: Settings,
    cancel: CancelHandle,
}

impl Session {
    /// Splits and parses a query string. Syntax errors carry a position.
    pub fn parse(&mut self, sql: &str) -> Result<Vec<Statement>> {
        let text: Arc<str> = Arc::from(sql);
        let parsed = crate::parse::parse(sql)?;
        self.multi_statement = parsed.len() > 1;
        Ok(parsed
            .into_iter()
            .map(|(sql, parsed, lock_modes)| Statement {
                sql,
                parsed,
                lock_modes,
                text: text.clone(),
            })
            .collect())
    }

    /// Binds and plans a statement. `param_types[i]` is `None` where the client sent type 0
    /// (infer it). Fails with 25P02 in a failed transaction block unless the statement is
    /// ROLLBACK/COMMIT.
    pub fn prepare(
        &mut self,
        stmt: &Statement,
        param_types: &[Option<DataType>],
    ) -> Result<Prepared> {
        let is_end = matches!(
            &stmt.parsed,
            Parsed::Sql(s)
                if matches!(**s, ast::Statement::Commit { .. } | ast::Statement::Rollback { .. })
        );
        if self.block == Block::Failed && !is_end {
            return Err(in_failed_block());
        }
        // Literals are parsed while binding: timestamptz input needs the session time zone.
        if let Ok(tz) = self.settings.get("TimeZone") {
            let _ = scalar::set_time_zone(&tz);
        }
        // The optimizer reads the database's statistics while this statement is planned.
        let _stats = crate::optimizer::stats::install(self.db.stats.clone());
        let r = self.prepare_inner(stmt, param_types);
        if let Err(e) = &r {
            self.statement_failed(e);
        }
        r
    }

    fn prepare_inner(
        &mut self,
        stmt: &Statement,
        param_types: &[Option<DataType>],
    ) -> Result<Prepared> {
        let simple = |action: Action| Prepared {
            action: Arc::new(action),
            param_types: param_types
                .iter()
                .map(|t| t.clone().unwrap_or(DataType::Text))
                .collect(),
            columns: vec![],
        };
        let ast = match &stmt.parsed {
            Parsed::Utility(u) => return Ok(simple(utility_action(u))),
            Parsed::Sql(ast) => &**ast,
        };
        match ast {
            ast::Statement::StartTransaction { modes, begin, .. } => {
                return Ok(simple(Action::Begin {
                    modes: modes_from_ast(modes),
                    tag: if *begin { "BEGIN" } else { "START TRANSACTION" },
                }))
            }
            ast::Statement::Commit { chain: false, .. } => return Ok(simple(Action::Commit)),
            ast::Statement::Rollback {
                chain: false,
                savepoint: None,
            } => return Ok(simple(Action::Rollback)),
            ast::Statement::Rollback {
                chain: false,
                savepoint: Some(name),
            } => return Ok(simple(Action::RollbackTo(crate::binder::ident(name)))),
            ast::Statement::Savepoint { name } => {
                return Ok(simple(Action::Savepoint(crate::binder::ident(name))))
            }
            ast::Statement::ReleaseSavepoint { name } => {
                return Ok(simple(Action::Release(crate::binder::ident(name))))
            }
            ast::Statement::Set(set) => return self.prepare_set(set).map(simple),
            ast::Statement::Deallocate { name, .. } => {
                // `DEALLOCATE ALL` parses as a statement named ALL; a quoted "ALL" is a name.
                let all = name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all");
                let target = (!all).then(|| crate::binder::ident(name));
                return Ok(simple(Action::Effect(StatementEffect::Deallocate(target))));
            }
            ast::Statement::Prepare {
                name,
                data_types,
                statement,
            } => {
                // PostgreSQL's grammar allows only these as a PREPARE's statement.
                if !matches!(
                    **statement,
                    ast::Statement::Query(_)
                        | ast::Statement::Insert(_)
                        | ast::Statement::Update(_)
                        | ast::Statement::Delete(_)
                ) {
                    // The word after AS, as written.
                    let mut words = stmt.sql.split_whitespace();
                    let shown = statement.to_string();
                    let word = words
                        .find(|w| w.eq_ignore_ascii_case("as"))
                        .and_then(|_| words.next())
                        .or_else(|| shown.split_whitespace().next())
                        .unwrap_or("")
                        .trim_end_matches(';');
                    return Err(Error::new(
                        ErrorKind::SyntaxError,
                        format!("syntax error at or near \"{word}\""),
                    ));
                }
                let types = data_types
                    .iter()
                    .map(|t| scalar::type_from_ast(t).map(Some))
                    .collect::<Result<Vec<_>>>()?;
                let inner = Statement {
                    sql: statement.to_string(),
                    parsed: Parsed::Sql(statement.clone()),
                    lock_modes: stmt.lock_modes.clone(),
                    text: stmt.text.clone(),
                };
                let prepared = self.prepare_inner(&inner, &types)?;
                return Ok(simple(Action::Effect(StatementEffect::Prepare {
                    name: crate::binder::ident(name),
                    statement: Box::new(prepared),
                })));
            }
            ast::Statement::Execute {
                name: Some(name),
                parameters,
                immediate: false,
                into,
                using,
                output: false,
                default: false,
                ..
            } if into.is_empty() && using.is_empty() => {
                return Ok(simple(Action::Effect(StatementEffect::Execute {
                    name: crate::binder::object_name_pub(name)?,
                    args: parameters.clone(),
                })));
            }
            ast::Statement::Discard { object_type } => {
                return Ok(simple(match object_type {
                    ast::DiscardObject::ALL => Action::Effect(StatementEffect::DiscardAll),
                    ast::DiscardObject::PLANS => Action::NoOp("DISCARD PLANS"),
                    ast::DiscardObject::SEQUENCES => Action::NoOp("DISCARD SEQUENCES"),
                    ast::DiscardObject::TEMP => Action::NoOp("DISCARD TEMP"),
                }))
            }
            ast::Statement::Reset(r) => {
                return Ok(simple(match &r.reset {
                    ast::Reset::ALL => Action::ResetAll,
                    ast::Reset::ConfigurationParameter(n) => Action::Set {
                        name: crate::binder::object_name_pub(n)?,
                        value: None,
                        reset: true,
                        local: false,
                    },
                    ast::Reset::SessionAuthorization => {
                        return Err(Error::new(
                            ErrorKind::FeatureNotSupported,
                            "RESET SESSION AUTHORIZATION is not supported",
                        ))
                    }
                }))
            }
            ast::Statement::ShowVariable { variable } => {
                let name = variable
                    .iter()
                    .map(|i| i.value.clone())
                    .collect::<Vec<_>>()
                    .join(" ");
                let name = match name.to_lowercase().as_str() {
                    "transaction isolation level" => "transaction_isolation".to_string(),
                    "time zone" => "TimeZone".to_string(),
                    _ => name,
                };
                let display = self.show_name(&name)?;
                let mut p = simple(Action::Show(name));
                p.columns = vec![ColumnInfo {
                    name: display,
                    data_type: DataType::Text,
                }];
                return Ok(p);
            }
            ast::Statement::Explain {
                statement,
                analyze,
                verbose,
                options,
                ..
            } => {
                let started = std::time::Instant::now();
                let opts = crate::plan::explain::ExplainOptions::parse(
                    *analyze,
                    *verbose,
                    options.as_deref(),
                )?;
                let txn = self.ensure_txn()?;
                txn.begin_statement()?;
                let mut binder = Binder::new(&txn, param_types).with_text(stmt.text.clone());
                binder.settings = Some(self.settings_reader());
                let bound = binder.bind_statement(statement)?;
                let action = match crate::plan::explain::prepare(bound, opts, started)? {
                    crate::plan::explain::Explained::Lines(lines) => Action::Explain(lines),
                    crate::plan::explain::Explained::Analyze(a) => {
                        Action::ExplainAnalyze(Arc::from(a))
                    }
                };
                let mut p = simple(action);
                p.param_types = binder.param_types();
                p.columns = vec![ColumnInfo {
                    name: "QUERY PLAN".into(),
                    data_type: DataType::Text,
                }];
                return Ok(p);
            }
            ast::Statement::Copy {
                source,
                to,
                target,
                options,
                legacy_options,
                ..
            } => {
                return self.prepare_copy(
                    stmt.text.clone(),
                    param_types,
                    source,
                    *to,
                    target,
                    options,
                    legacy_options,
                )
            }
            _ => {}
        }
        let txn = self.ensure_txn()?;
        txn.begin_statement()?;
        let mut binder = Binder::new(&txn, param_types).with_text(stmt.text.clone());
        binder.settings = Some(self.settings_reader());
        binder.locking.strengths = stmt.lock_modes.iter().copied().collect();
        binder.backend_pid = self.params.backend_pid;
        let bound = binder.bind_statement(ast)?;
        let param_types = binder.param_types();
        let sets = std::mem::take(&mut binder.settings_to_set);
        let row_locks = std::mem::take(&mut binder.locking.locks);
        let row_locks = (!row_locks.is_empty()).then(|| Arc::new(row_locks));
        let (action, columns) = match bound {
            Bound::Query { plan, columns } => {
                let plan = optimizer::optimize(plan)?;
                let phys = exec::compile_plan(&plan, &[])?;
                (
                    Action::Query(Arc::new(phys), row_locks),
                    columns
                        .into_iter()
                        .map(|c| ColumnInfo {
                            name: c.name,
                            data_type: c.data_type,
                        })
                        .collect(),
                )
            }
            Bound::Insert(i) => {
                let (p, cols) = exec::dml::compile_insert(i)?;
                (Action::Insert(p), column_infos(cols))
            }
            Bound::Update(u) => {
                let (p, cols) = exec::dml::compile_update(u)?;
                (Action::Update(p), column_infos(cols))
            }
            Bound::Delete(d) => {
                let (p, cols) = exec::dml::compile_delete(d)?;
                (Action::Delete(p), column_infos(cols))
            }
            Bound::CreateTable {
                def,
                if_not_exists,
                indexes,
            } => (
                Action::CreateTable {
                    def,
                    if_not_exists,
                    indexes,
                },
                vec![],
            ),
            Bound::DropTable { names, if_exists } => {
                (Action::DropTable { names, if_exists }, vec![])
            }
            Bound::CreateIndex {
                table,
                def,
                if_not_exists,
            } => (
                Action::CreateIndex {
                    table,
                    def,
                    if_not_exists,
                },
                vec![],
            ),
            Bound::DropIndex { names, if_exists } => {
                (Action::DropIndex { names, if_exists }, vec![])
            }
            Bound::Ddl(d) => (Action::Ddl(Arc::new(d)), vec![]),
        };
        self.apply_set_config(sets)?;
        Ok(Prepared {
            action: Arc::new(action),
            param_types,
            columns,
        })
    }

    fn prepare_set(&mut self, set: &ast::Set) -> Result<Action> {
        match set {
            ast::Set::SingleAssignment {
                variable,
                values,
                scope,
                ..
            } => {
                let name = crate::binder::object_name_pub(variable)?;
                let is_default = matches!(values.as_slice(), [ast::Expr::Identifier(i)]
                    if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
                let value = if is_default {
                    None
                } else {
                    Some(
                        values
                            .iter()
                            .map(set_value_text)
                            .collect::<Result<Vec<_>>>()?
                            .join(", "),
                    )
                };
                Ok(Action::Set {
                    name,
                    value,
                    reset: false,
                    local: matches!(scope, Some(ast::ContextModifier::Local)),
                })
            }
            ast::Set::SetTimeZone { value, .. } => Ok(Action::Set {
                name: "TimeZone".into(),
                value: Some(set_value_text(value)?),
                reset: false,
                local: false,
            }),
            ast::Set::SetNames { charset_name, .. } => Ok(Action::Set {
                name: "client_encoding".into(),
                value: Some(charset_name.value.clone()),
                reset: false,
                local: false,
            }),
            ast::Set::SetTransaction {
                modes,
                snapshot: None,
                session,
            } => {
                let modes = modes_from_ast(modes);
                Ok(if *session {
                    Action::SetSessionCharacteristics(modes)
                } else {
                    Action::SetTransaction(modes)
                })
            }
            _ => Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "this SET form is not supported",
            )),
        }
    }

    fn show_name(&self, name: &str) -> Result<String> {
        let lower = name.to_lowercase();
        if matches!(
            lower.as_str(),
            "transaction_isolation" | "transaction_read_only" | "transaction_deferrable"
        ) {
            return Ok(lower);
        }
        if lower == "all" {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                "SHOW ALL is not supported",
            ));
        }
        self.settings.get(&lower)?;
        Ok(Settings::display_name(&lower))
    }

    /// Converts a parameter sent in text format to a value of the given type (22P02 etc.).
    pub fn decode_param_text(&self, ty: &DataType, text: &str) -> Result<Value> {
        scalar::parse_text(ty, text)
    }

    /// Executes a prepared statement with parameter values.
    pub fn execute(&mut self, prepared: &Prepared, params: Vec<Value>) -> Result<QueryResult> {
        self.cancel.0.store(false, Ordering::SeqCst);
        // timestamptz I/O reads the session time zone from a per-thread slot in `scalar`.
        if let Ok(tz) = self.settings.get("TimeZone") {
            let _ = scalar::set_time_zone(&tz);
        }
        let is_end = matches!(
            *prepared.action,
            Action::Commit | Action::Rollback | Action::RollbackTo(_)
        );
        if self.block == Block::Failed && !is_end {
            return Err(in_failed_block());
        }
        let r = self
            .execute_inner(prepared, params)
            .map_err(|e| self.map_timeout(e));
        if let Err(e) = &r {
            self.statement_failed(e);
        }
        r
    }

    fn execute_inner(&mut self, prepared: &Prepared, params: Vec<Value>) -> Result<QueryResult> {
        let tag = |s: &str| Ok(QueryResult::Command(CommandTag(s.to_string())));
        if self.settings_at_start.is_none() {
            self.settings_at_start = Some(self.settings.clone());
        }
        if let Some(r) = self.execute_control(&prepared.action) {
            return r;
        }
        match &*prepared.action {
            Action::Set {
                name,
                value,
                reset,
                local,
            } => {
                if *local && self.block == Block::None {
                    self.notice(Notice::warning(
                        "25P01",
                        "SET LOCAL can only be used in transaction blocks",
                    ));
                }
                self.settings.set(name, value.as_deref())?;
                if *local {
                    self.local_settings.push(name.to_lowercase());
                }
                return tag(if *reset { "RESET" } else { "SET" });
            }
            Action::ResetAll => {
                let fresh = Settings::new(&self.params.user, &self.params.application_name);
                self.settings.restore_from(&fresh, None);
                return tag("RESET");
            }
            Action::Effect(StatementEffect::Deallocate(name)) => {
                return tag(if name.is_some() {
                    "DEALLOCATE"
                } else {
                    "DEALLOCATE ALL"
                });
            }
            Action::Effect(StatementEffect::Prepare { .. }) => return tag("PREPARE"),
            Action::Effect(StatementEffect::Execute { .. }) => {
                return Err(Error::internal(
                    "EXECUTE runs the statement it names (see execute_arguments)",
                ))
            }
            Action::Effect(StatementEffect::DiscardAll) => {
                if self.block != Block::None {
                    return Err(Error::new(
                        ErrorKind::ActiveSqlTransaction,
                        "DISCARD ALL cannot run inside a transaction block",
                    ));
                }
                let fresh = Settings::new(&self.params.user, &self.params.application_name);
                self.settings.restore_from(&fresh, None);
                return tag("DISCARD ALL");
            }
            Action::NoOp(what) => return tag(what),
            Action::Explain(lines) => {
                return Ok(QueryResult::Rows(Cursor {
                    columns: prepared.columns.clone(),
                    op: Some(Box::new(Lines(
                        lines.iter().rev().map(|l| Value::Text(l.clone())).collect(),
                    ))),
                    count: 0,
                    tag: "EXPLAIN",
                }));
            }
            Action::Show(name) => {
                let value = if let Some(v) = self.transaction_setting(name) {
                    v
                } else {
                    self.settings.get(name)?
                };
                return Ok(QueryResult::Rows(Cursor {
                    columns: prepared.columns.clone(),
                    op: Some(Box::new(OneRow(Some(vec![Value::Text(value)])))),
                    count: 0,
                    tag: "SHOW",
                }));
            }
            _ => {}
        }
        self.check_writable(&prepared.action)?;
        let txn = self.ensure_txn()?;
        txn.begin_statement()?;
        self.arm_timeouts(&txn);
        let mut ctx = ExecCtx::new(txn.clone(), params, self.cancel.0.clone());
        ctx.work_mem = crate::settings::work_mem_bytes(&self.settings);
        ctx.deadline = self
            .settings
            .get("statement_timeout")
            .ok()
            .and_then(|v| crate::settings::parse_duration_ms(&v))
            .filter(|ms| *ms > 0)
            .map(|ms| std::time::Instant::now() + std::time::Duration::from_millis(ms));
        if let Action::Query(_, locks) = &*prepared.action {
            ctx.row_locks = locks.clone();
        }
        let ctx = Arc::new(ctx);
        match &*prepared.action {
            Action::Query(plan, locks) => Ok(QueryResult::Rows(Cursor {
                columns: prepared.columns.clone(),
                op: Some(match locks.as_ref().and_then(|l| l.output.clone()) {
                    None => exec::open(plan, &ctx)?,
                    Some(lock) => exec::rowlock::open_locked(plan, lock, &ctx)?,
                }),
                count: 0,
                tag: "SELECT",
            })),
            Action::CopyFrom(_) | Action::CopyTo(_) => self.start_copy(&prepared.action, ctx),
            Action::Insert(p) => Ok(dml_result(
                prepared,
                "INSERT 0",
                exec::dml::insert(p, &ctx)?,
            )),
            Action::Update(p) => Ok(dml_result(prepared, "UPDATE", exec::dml::update(p, &ctx)?)),
            Action::Delete(p) => Ok(dml_result(prepared, "DELETE", exec::dml::delete(p, &ctx)?)),
            Action::ExplainAnalyze(a) => {
                let lines = crate::plan::explain::run_analyze(a, &ctx)?;
                Ok(QueryResult::Rows(Cursor {
                    columns: prepared.columns.clone(),
                    op: Some(Box::new(Lines(
                        lines.into_iter().rev().map(Value::Text).collect(),
                    ))),
                    count: 0,
                    tag: "EXPLAIN",
                }))
            }
            Action::Ddl(d) => {
                let (t, notices) = exec::dml::ddl::run(d, &ctx)?;
                for n in notices {
                    self.notice(n);
                }
                tag(&t)
            }
            Action::CreateTable {
                def,
                if_not_exists,
                indexes,
            } => {
                if txn.get_table(&def.schema, &def.name)?.is_some() {
                    if *if_not_exists {
                        self.notice(Notice::note(
                            "42P07",
                            format!("relation \"{}\" already exists, skipping", def.name),
                        ));
                        return tag("CREATE TABLE");
                    }
                    return Err(Error::new(
                        ErrorKind::DuplicateTable,
                        format!("relation \"{}\" already exists", def.name),
                    ));
                }
                let id = txn.create_table(def.clone())?;
                for i in indexes {
                    txn.create_index(id, i.clone())?;
                }
                tag("CREATE TABLE")
            }
            Action::DropTable { names, if_exists } => {
                let mut ids = vec![];
                for n in names {
                    match txn.get_table("public", n)? {
                        Some(t) => ids.push(t.id),
                        None if *if_exists => self.notice(Notice::note(
                            "00000",
                            format!("table \"{n}\" does not exist, skipping"),
                        )),
                        None => {
                            return Err(Error::new(
                                ErrorKind::UndefinedTable,
                                format!("table \"{n}\" does not exist"),
                            ))
                        }
                    }
                }
                for id in ids {
                    txn.drop_table(id)?;
                }
                tag("DROP TABLE")
            }
            Action::CreateIndex {
                table,
                def,
                if_not_exists,
            } => {
                if find_index(&txn, &def.name)?.is_some()
                    || txn.get_table(&table.schema, &def.name)?.is_some()
                {
                    if *if_not_exists {
                        self.notice(Notice::note(
                            "42P07",
                            format!("relation \"{}\" already exists, skipping", def.name),
                        ));
                        return tag("CREATE INDEX");
                    }
                    return Err(Error::new(
                        ErrorKind::DuplicateTable,
                        format!("relation \"{}\" already exists", def.name),
                    ));
                }
                txn.create_index(table.id, def.clone())?;
                tag("CREATE INDEX")
            }
            Action::DropIndex { names, if_exists } => {
                let mut found = vec![];
                for n in names {
                    match find_index(&txn, n)? {
                        Some(x) => found.push(x),
                        None if *if_exists => self.notice(Notice::note(
                            "00000",
                            format!("index \"{n}\" does not exist, skipping"),
                        )),
                        None => {
                            return Err(Error::new(
                                ErrorKind::UndefinedObject,
                                format!("index \"{n}\" does not exist"),
                            ))
                        }
                    }
                }
                for (t, i) in found {
                    txn.drop_index(t, i)?;
                }
                tag("DROP INDEX")
            }
            _ => Err(Error::internal("unhandled statement kind")),
        }
    }

    /// EXECUTE's arguments as parameter values for `target`, the statement it names: each
    /// is bound with no columns in scope, coerced to the parameter's type as an assignment
    /// (42804 when it cannot be) and evaluated. A different count is 42601 — unless the
    /// statement has no parameters: PostgreSQL then ignores the arguments. `execute` must be
    /// an EXECUTE (its [`StatementEffect::Execute`]).
    pub fn execute_arguments(
        &mut self,
        execute: &Prepared,
        target: &Prepared,
    ) -> Result<Vec<Value>> {
        if self.block == Block::Failed {
            return Err(in_failed_block());
        }
        let r = self.execute_arguments_inner(execute, target);
        if let Err(e) = &r {
            self.statement_failed(e);
        }
        r
    }

    fn execute_arguments_inner(
        &mut self,
        execute: &Prepared,
        target: &Prepared,
    ) -> Result<Vec<Value>> {
        let Action::Effect(StatementEffect::Execute { name, args }) = &*execute.action else {
            return Err(Error::internal("execute_arguments needs an EXECUTE"));
        };
        let types = target.param_types();
        if types.is_empty() {
            return Ok(vec![]);
        }
        if args.len() != types.len() {
            return Err(Error::new(
                ErrorKind::SyntaxError,
                format!("wrong number of parameters for prepared statement \"{name}\""),
            )
            .with_detail(format!(
                "Expected {} parameters but got {}.",
                types.len(),
                args.len()
            )));
        }
        if let Ok(tz) = self.settings.get("TimeZone") {
            let _ = scalar::set_time_zone(&tz);
        }
        let txn = self.ensure_txn()?;
        txn.begin_statement()?;
        let mut binder = Binder::new(&txn, &[]);
        binder.settings = Some(self.settings_reader());
        binder.scopes.push(crate::binder::Scope::default());
        let mut exprs = vec![];
        for (i, (arg, ty)) in args.iter().zip(types).enumerate() {
            let e = binder.bind_expr(arg)?;
            if let Some(from) = e.ty() {
                if &from != ty && !scalar::can_cast(&from, ty, scalar::CastContext::Assignment) {
                    return Err(Error::new(
                        ErrorKind::DatatypeMismatch,
                        format!(
                            "parameter ${} of type {} cannot be coerced to the expected type {}",
                            i + 1,
                            from.pg_name(),
                            ty.pg_name()
                        ),
                    )
                    .with_hint("You will need to rewrite or cast the expression."));
                }
            }
            exprs.push(binder.coerce_ctx(e, ty, scalar::CastContext::Assignment)?);
        }
        let ctx = Arc::new(ExecCtx::new(txn.clone(), vec![], self.cancel.0.clone()));
        exprs
            .iter()
            .map(|e| {
                let c = exec::expr::compile(e, &exec::expr::Layout::default())?;
                exec::expr::eval_const(&c, &ctx)
            })
            .collect()
    }

    /// Up to `max_rows` (0 = all remaining, in bounded batches) more rows; `None` when the cursor
    /// is exhausted. An error marks the transaction failed, as any execution error does.
    pub fn fetch(&mut self, cursor: &mut Cursor, max_rows: usize) -> Result<Option<Vec<Row>>> {
        // timestamptz I/O reads the session time zone from a per-thread slot in `scalar`.
        if let Ok(tz) = self.settings.get("TimeZone") {
            let _ = scalar::set_time_zone(&tz);
        }
        let limit = if max_rows == 0 { FETCH_BATCH } else { max_rows };
        let Some(op) = cursor.op.as_mut() else {
            return Ok(None);
        };
        let mut rows = vec![];
        while rows.len() < limit {
            match op.next() {
                Ok(Some(r)) => rows.push(r),
                Ok(None) => {
                    cursor.op = None;
                    break;
                }
                Err(e) => {
                    cursor.op = None;
                    let e = self.map_timeout(e);
                    self.statement_failed(&e);
                    return Err(e);
                }
            }
        }
        cursor.count += rows.len() as u64;
        if rows.is_empty() && cursor.op.is_none() {
            return Ok(None);
        }
        Ok(Some(rows))
    }

    /// The value's text output form (PostgreSQL's output function for the column's type,
    /// honouring session settings such as extra_float_digits).
    pub fn format_text(&self, value: &Value, _ty: &DataType) -> String {
        scalar::format_text(value, self.settings.extra_float_digits())
    }

    /// End of a simple-query message or a Sync: commits the implicit transaction if one is open
    /// (or rolls it back after an error). Commit failures are returned.
    pub fn end_batch(&mut self) -> Result<()> {
        self.multi_statement = false;
        if self.block == Block::None {
            self.end_transaction(true);
            if let Some(txn) = self.txn.take() {
                txn.commit()?;
            }
        }
        Ok(())
    }

    /// Transaction state for ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        match self.block {
            Block::None => TransactionStatus::Idle,
            Block::Open => TransactionStatus::InBlock,
            Block::Failed => TransactionStatus::Failed,
        }
    }

    /// Settings reported to the client (ParameterStatus) that changed since the last call.
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        self.settings.take_changes()
    }

    /// The initial ParameterStatus values to send after authentication.
    pub fn initial_parameters(&self) -> Vec<(String, String)> {
        self.settings.reported()
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Rolls back whatever is open; called when the client disconnects.
    pub fn close(&mut self) {
        if let Some(txn) = self.txn.take() {
            if let Err(e) = txn.rollback() {
                tracing::warn!(error = %e, "rollback at disconnect failed");
            }
        }
        self.block = Block::None;
        self.end_transaction(false);
    }

    // --- transaction state -----------------------------------------------------------------
}

fn in_failed_block() -> Error {
    Error::new(
        ErrorKind::InFailedTransaction,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

fn find_index(txn: &Transaction, name: &str) -> Result<Option<(u32, u32)>> {
    for t in txn.list_tables()? {
        if let Some(i) = t.indexes.iter().find(|i| i.name == name) {
            return Ok(Some((t.id, i.id)));
        }
    }
    Ok(None)
}

/// The text of a SET value: identifiers and literals as written (strings unquoted).
fn set_value_text(e: &ast::Expr) -> Result<String> {
    Ok(match e {
        ast::Expr::Identifier(i) => i.value.clone(),
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            ast::Value::Number(n, _) => n.clone(),
            ast::Value::Boolean(b) => if *b { "on" } else { "off" }.into(),
            other => other.to_string(),
        },
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => format!("-{}", set_value_text(expr)?),
        other => other.to_string(),
    })
}

/// RowDescription columns from the binder's output columns.
fn column_infos(cols: Vec<crate::binder::OutputColumn>) -> Vec<ColumnInfo> {
    cols.into_iter()
        .map(|c| ColumnInfo {
            name: c.name,
            data_type: c.data_type,
        })
        .collect()
}

/// A finished DML statement's result: its tag, or with RETURNING a cursor over the returned
/// rows whose tag counts them (`INSERT 0 n`, `UPDATE n`, `DELETE n`).
fn dml_result(prepared: &Prepared, tag: &'static str, out: exec::dml::DmlOutput) -> QueryResult {
    match out.rows {
        None => QueryResult::Command(CommandTag(format!("{tag} {}", out.count))),
        Some(mut rows) => {
            rows.reverse();
            QueryResult::Rows(Cursor {
                columns: prepared.columns.clone(),
                op: Some(Box::new(RowsOp(rows))),
                count: 0,
                tag,
            })
        }
    }
}

/// Rows computed in advance (RETURNING); popped from the end.
struct RowsOp(Vec<Row>);

impl exec::Operator for RowsOp {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.0.pop())
    }
}

/// A one-row operator (SHOW).
struct OneRow(Option<Row>);

impl exec::Operator for OneRow {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.0.take())
    }
}

/// One text column, one row per value (EXPLAIN); values are popped from the end.
struct Lines(Vec<Value>);

impl exec::Operator for Lines {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.0.pop().map(|v| vec![v]))
    }
}
