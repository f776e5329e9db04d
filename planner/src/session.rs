//! The SQL session: what one client connection sees.
//!
//! (Interface stub: the implementation replaces the `todo!()`s; signatures are the contract
//! the server codes against.)
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
//!   failed state: every statement but ROLLBACK (and COMMIT, which then rolls back and reports
//!   the tag ROLLBACK) fails with 25P02.

use crate::error::Result;
use sledgres_storage::{DataType, Row, Value};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The database: one per server process, shared by every session.
#[derive(Clone)]
pub struct Database {}

impl Database {
    /// Opens (creating if needed, recovering after a crash) the data directory.
    pub fn open(_dir: &Path) -> Result<Database> {
        todo!()
    }
    /// A database in a temporary directory, for tests.
    pub fn open_temporary() -> Result<Database> {
        todo!()
    }
    /// A new session for a connection.
    pub fn session(&self, _params: SessionParams) -> Result<Session> {
        todo!()
    }
    /// Flushes everything to disk; called once at shutdown after sessions have ended.
    pub fn shutdown(&self) -> Result<()> {
        todo!()
    }
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
pub struct Statement {}

impl Statement {
    /// The statement's text as the client sent it.
    pub fn sql(&self) -> &str {
        todo!()
    }
}

/// A result column as RowDescription describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: DataType,
}

/// A bound, planned statement ready to execute with parameter values. Re-executable.
#[derive(Clone, Debug)]
pub struct Prepared {}

impl Prepared {
    /// The type of each `$n` parameter (inferred where the client did not say).
    pub fn param_types(&self) -> &[DataType] {
        todo!()
    }
    /// The result columns; empty for a statement that returns no rows (NoData).
    pub fn columns(&self) -> &[ColumnInfo] {
        todo!()
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
}

/// A running statement's remaining rows. Streams: holds operators, not results.
pub struct Cursor {}

impl Cursor {
    pub fn columns(&self) -> &[ColumnInfo] {
        todo!()
    }
    /// The CommandComplete tag for the rows fetched so far (`SELECT n`, `INSERT 0 n` for
    /// INSERT … RETURNING, …).
    pub fn tag(&self) -> CommandTag {
        todo!()
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

/// One connection's SQL session. `Send`, not shared: the server owns it.
pub struct Session {}

impl Session {
    /// Splits and parses a query string. Syntax errors carry a position.
    pub fn parse(&mut self, _sql: &str) -> Result<Vec<Statement>> {
        todo!()
    }
    /// Binds and plans a statement. `param_types[i]` is `None` where the client sent type 0
    /// (infer it). Fails with 25P02 in a failed transaction block unless the statement is
    /// ROLLBACK/COMMIT.
    pub fn prepare(&mut self, _stmt: &Statement, _param_types: &[Option<DataType>]) -> Result<Prepared> {
        todo!()
    }
    /// Converts a parameter sent in text format to a value of the given type (22P02 etc.).
    pub fn decode_param_text(&self, _ty: &DataType, _text: &str) -> Result<Value> {
        todo!()
    }
    /// Executes a prepared statement with parameter values.
    pub fn execute(&mut self, _prepared: &Prepared, _params: Vec<Value>) -> Result<QueryResult> {
        todo!()
    }
    /// Up to `max_rows` (0 = all remaining, in bounded batches) more rows; `None` when the cursor
    /// is exhausted. An error marks the transaction failed, as any execution error does.
    pub fn fetch(&mut self, _cursor: &mut Cursor, _max_rows: usize) -> Result<Option<Vec<Row>>> {
        todo!()
    }
    /// The value's text output form (PostgreSQL's output function for the column's type,
    /// honouring session settings such as extra_float_digits).
    pub fn format_text(&self, _value: &Value, _ty: &DataType) -> String {
        todo!()
    }
    /// End of a simple-query message or a Sync: commits the implicit transaction if one is open
    /// (or rolls it back after an error). Commit failures are returned.
    pub fn end_batch(&mut self) -> Result<()> {
        todo!()
    }
    /// Transaction state for ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        todo!()
    }
    /// Settings reported to the client (ParameterStatus) that changed since the last call.
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        todo!()
    }
    /// The initial ParameterStatus values to send after authentication.
    pub fn initial_parameters(&self) -> Vec<(String, String)> {
        todo!()
    }
    pub fn cancel_handle(&self) -> CancelHandle {
        todo!()
    }
    /// Rolls back whatever is open; called when the client disconnects.
    pub fn close(&mut self) {
        todo!()
    }
}
