//! The query protocols: what the server answers to Query, Parse, Bind, Describe, Execute,
//! Close, Sync and Flush, mirroring PostgreSQL's postgres.c.
//!
//! pgwire gives us the framing (message types, encoding, decoding); the protocol *semantics*
//! are here, because they depend on the SQL session: transaction status, the failed-block
//! state, portals that suspend and resume, parameter types the planner infers.
//!
//! Work split: everything that touches the session runs in one closure on the blocking pool
//! ([`SessionHandle::run`]) and returns the backend messages it produced; the async side only
//! writes them to the socket. A closure returns after at most [`ROWS_PER_HOP`] rows, leaving
//! its cursor in the connection state, so a huge result streams in bounded memory while the
//! reactor keeps serving other connections. A short simple query — parse, plan, execute,
//! fetch, commit, ReadyForQuery — costs a single hop to the blocking pool.
//!
//! Simple query: the statements of one message run in order in one implicit transaction
//! (unless the text itself has BEGIN/COMMIT), stopping at the first error; `end_batch` then
//! commits or rolls back, and ReadyForQuery reports the session's I/T/E status.
//!
//! Extended query: after an error every message up to Sync is discarded; Sync ends the batch
//! (`end_batch`) and answers ReadyForQuery.
//!
//! COPY: COPY TO STDOUT streams like a query (CopyOutResponse, one CopyData per row, CopyDone,
//! `COPY n`). COPY FROM STDIN answers CopyInResponse and leaves a [`CopyInRun`] in the state;
//! the connection then feeds CopyData/CopyDone/CopyFail to `on_copy_*` (Sync and Flush are
//! ignored meanwhile, as PostgreSQL does). After CopyDone a simple query goes on with its
//! remaining statements; an error ends the simple query (ErrorResponse, ReadyForQuery) or, in
//! the extended protocol, discards messages until Sync. Later CopyData messages are dropped. Messages are buffered and flushed at Sync, Flush,
//! or when the buffer fills — like PostgreSQL, so pipelining clients get one write per batch.

use crate::error::{code, SqlError};
use crate::session_state::{
    CopyInRun, Core, Portal, PortalState, PreparedStatement, SessionHandle,
};
use crate::types;
use bytes::{BufMut, BytesMut};
use futures::SinkExt;
use pgwire::error::ErrorInfo;
use pgwire::messages::copy::{CopyData, CopyDone, CopyInResponse, CopyOutResponse};
use pgwire::messages::data::{
    DataRow, FieldDescription, NoData, ParameterDescription, RowDescription,
};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
    PortalSuspended, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus as WireStatus,
};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::PgWireBackendMessage as Msg;
use sledgres_planner::session::CopyOut;
use sledgres_planner::{
    ColumnInfo, Cursor, Prepared, QueryResult, Row, Session, Statement, StatementEffect,
    TransactionStatus, Value,
};
use std::collections::VecDeque;
use std::sync::Arc;

/// Rows fetched and encoded per trip to the blocking pool.
pub const ROWS_PER_HOP: usize = 1000;

/// A simple-query message in progress (kept in [`Core`] between hops).
/// How a COPY FROM STDIN ended: messages to send, the error if it failed, and whether it
/// ran under the extended protocol.
type CopyEnd = (Vec<Msg>, Option<SqlError>, bool);

pub struct SimpleRun {
    statements: VecDeque<Statement>,
    cursor: Option<(Cursor, Vec<ColumnInfo>)>,
    copy_out: Option<CopyOut>,
}

/// Where a hop of a simple query left it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hop {
    /// More rows to stream: call again.
    More,
    /// ReadyForQuery produced.
    Done,
    /// A COPY FROM STDIN waits for the client's data.
    AwaitCopyIn,
}

/// Per-connection protocol state that lives on the async side.
pub struct Handler {
    pub session: SessionHandle,
    /// Set by an error in extended-query mode: discard messages until Sync.
    skip_until_sync: bool,
    /// A COPY FROM STDIN is receiving data (its state is in `Core::copy_in`).
    copy_in: bool,
}

/// The sink the handler writes to (pgwire's framed socket, or a test double).
pub trait Output: futures::Sink<Msg, Error = std::io::Error> + Unpin + Send {}
impl<T: futures::Sink<Msg, Error = std::io::Error> + Unpin + Send> Output for T {}

impl Handler {
    pub fn new(session: SessionHandle) -> Handler {
        Handler {
            session,
            skip_until_sync: false,
            copy_in: false,
        }
    }

    /// Whether a COPY FROM STDIN is receiving data.
    pub fn in_copy_in(&self) -> bool {
        self.copy_in
    }

    async fn feed_all<O: Output>(out: &mut O, msgs: Vec<Msg>) -> std::io::Result<()> {
        for m in msgs {
            out.feed(m).await?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- simple query

    /// Query: runs every statement of the text, then sends ReadyForQuery.
    pub async fn on_query<O: Output>(&mut self, out: &mut O, sql: String) -> std::io::Result<()> {
        // After an extended-protocol error PostgreSQL discards *every* message until Sync.
        if self.skip_until_sync {
            return Ok(());
        }
        self.run_simple(out, Some(sql)).await
    }

    /// Runs (or, with `None`, resumes after a COPY FROM) the simple query in progress.
    async fn run_simple<O: Output>(
        &mut self,
        out: &mut O,
        sql: Option<String>,
    ) -> std::io::Result<()> {
        let mut first = sql;
        loop {
            let sql = first.take();
            let step = self
                .session
                .run(move |core| {
                    let mut msgs = Vec::new();
                    let hop = simple_step(core, sql, &mut msgs);
                    Ok((msgs, hop))
                })
                .await;
            match step {
                Ok((msgs, hop)) => {
                    Self::feed_all(out, msgs).await?;
                    match hop {
                        Hop::More => {}
                        Hop::Done => break,
                        Hop::AwaitCopyIn => {
                            self.copy_in = true;
                            break;
                        }
                    }
                }
                Err(e) => {
                    // Only a panic or a lost blocking task gets here; the session was reset.
                    out.feed(error_message(&e)).await?;
                    let msgs = self.session.run(|core| Ok(finish_batch(core, None))).await;
                    Self::feed_all(out, msgs.unwrap_or_else(|_| vec![ready(WireStatus::Idle)]))
                        .await?;
                    break;
                }
            }
        }
        out.flush().await
    }

    // ---------------------------------------------------------------- extended query

    pub async fn on_parse<O: Output>(&mut self, out: &mut O, parse: Parse) -> std::io::Result<()> {
        if self.skip_until_sync {
            return Ok(());
        }
        let result = self
            .session
            .run(move |core| {
                let name = parse.name.unwrap_or_default();
                if !name.is_empty() && core.statements.contains_key(&name) {
                    return Err(SqlError::new(
                        code::DUPLICATE_PREPARED_STATEMENT,
                        format!("prepared statement \"{name}\" already exists"),
                    ));
                }
                let param_types = parse
                    .type_oids
                    .iter()
                    .map(|oid| types::param_type_from_oid(*oid))
                    .collect::<Result<Vec<_>, _>>()?;
                let session = core.session()?;
                let mut statements = session.parse(&parse.query)?;
                if statements.len() > 1 {
                    return Err(SqlError::new(
                        code::SYNTAX_ERROR,
                        "cannot insert multiple commands into a prepared statement",
                    ));
                }
                let prepared = match statements.pop() {
                    Some(stmt) => Some(session.prepare(&stmt, &param_types)?),
                    None => None,
                };
                let execute_columns = match prepared.as_ref().and_then(|p| p.statement_effect()) {
                    Some(StatementEffect::Execute { name: target, .. }) => {
                        core.statements.get(target).map(|t| t.columns().to_vec())
                    }
                    _ => None,
                };
                core.statements.insert(
                    name,
                    Arc::new(PreparedStatement {
                        prepared,
                        execute_columns,
                    }),
                );
                Ok(vec![Msg::ParseComplete(ParseComplete::new())])
            })
            .await;
        self.reply(out, result).await
    }

    pub async fn on_bind<O: Output>(&mut self, out: &mut O, bind: Bind) -> std::io::Result<()> {
        if self.skip_until_sync {
            return Ok(());
        }
        let result = self
            .session
            .run(move |core| {
                bind_portal(core, bind)?;
                Ok(vec![Msg::BindComplete(BindComplete::new())])
            })
            .await;
        self.reply(out, result).await
    }

    pub async fn on_describe<O: Output>(
        &mut self,
        out: &mut O,
        describe: Describe,
    ) -> std::io::Result<()> {
        if self.skip_until_sync {
            return Ok(());
        }
        let result = self
            .session
            .run(move |core| {
                let name = describe.name.unwrap_or_default();
                match describe.target_type {
                    TARGET_TYPE_BYTE_STATEMENT => {
                        let stmt = lookup_statement(core, &name)?;
                        let oids = stmt.param_types().iter().map(types::type_oid).collect();
                        Ok(vec![
                            Msg::ParameterDescription(ParameterDescription::new(oids)),
                            row_description_or_no_data(stmt.columns(), &[]),
                        ])
                    }
                    TARGET_TYPE_BYTE_PORTAL => {
                        let portal = lookup_portal(core, &name)?;
                        Ok(vec![row_description_or_no_data(
                            portal.statement.columns(),
                            &portal.result_formats,
                        )])
                    }
                    other => Err(SqlError::protocol(format!(
                        "invalid DESCRIBE message subtype {other}"
                    ))),
                }
            })
            .await;
        self.reply(out, result).await
    }

    pub async fn on_execute<O: Output>(
        &mut self,
        out: &mut O,
        execute: Execute,
    ) -> std::io::Result<()> {
        if self.skip_until_sync {
            return Ok(());
        }
        let name = execute.name.unwrap_or_default();
        // A negative or zero row limit means "all rows".
        let max_rows = if execute.max_rows > 0 {
            execute.max_rows as usize
        } else {
            0
        };
        let mut sent = 0usize;
        loop {
            let portal = name.clone();
            let result = self
                .session
                .run(move |core| execute_step(core, &portal, max_rows, sent))
                .await;
            match result {
                Ok((msgs, rows, finished)) => {
                    sent += rows;
                    let copy_in = msgs.iter().any(|m| matches!(m, Msg::CopyInResponse(_)));
                    Self::feed_all(out, msgs).await?;
                    if copy_in {
                        // The client waits for CopyInResponse before sending data, and the
                        // Sync it may have sent already is ignored during COPY: flush now.
                        self.copy_in = true;
                        return out.flush().await;
                    }
                    if finished {
                        return Ok(());
                    }
                }
                Err(e) => {
                    let portal_name = name.clone();
                    // An error ends the portal, as in PostgreSQL.
                    let _ = self
                        .session
                        .run(move |core| {
                            core.portals.remove(&portal_name);
                            Ok(())
                        })
                        .await;
                    return self.fail(out, e).await;
                }
            }
        }
    }

    pub async fn on_close<O: Output>(&mut self, out: &mut O, close: Close) -> std::io::Result<()> {
        if self.skip_until_sync {
            return Ok(());
        }
        let result = self
            .session
            .run(move |core| {
                let name = close.name.unwrap_or_default();
                match close.target_type {
                    TARGET_TYPE_BYTE_STATEMENT => {
                        core.statements.remove(&name);
                    }
                    TARGET_TYPE_BYTE_PORTAL => {
                        core.portals.remove(&name);
                    }
                    other => {
                        return Err(SqlError::protocol(format!(
                            "invalid CLOSE message subtype {other}"
                        )))
                    }
                }
                Ok(vec![Msg::CloseComplete(CloseComplete::new())])
            })
            .await;
        self.reply(out, result).await
    }

    /// Sync: ends the batch (commit of an implicit transaction) and answers ReadyForQuery.
    pub async fn on_sync<O: Output>(&mut self, out: &mut O) -> std::io::Result<()> {
        self.skip_until_sync = false;
        let msgs = self
            .session
            .run(|core| Ok(finish_batch(core, None)))
            .await
            .unwrap_or_else(|e| vec![error_message(&e), ready(WireStatus::Idle)]);
        Self::feed_all(out, msgs).await?;
        out.flush().await
    }

    pub async fn on_flush<O: Output>(&mut self, out: &mut O) -> std::io::Result<()> {
        out.flush().await
    }

    // ---------------------------------------------------------------- COPY FROM STDIN

    /// CopyData during COPY FROM STDIN (dropped otherwise).
    pub async fn on_copy_data<O: Output>(
        &mut self,
        out: &mut O,
        data: bytes::Bytes,
    ) -> std::io::Result<()> {
        if !self.copy_in {
            return Ok(());
        }
        let result = self
            .session
            .run(move |core| {
                let Some(mut run) = core.copy_in.take() else {
                    return Ok(None);
                };
                let session = core.session()?;
                match session.copy_in_data(&mut run.copy, &data) {
                    Ok(()) => {
                        core.copy_in = Some(run);
                        Ok(None)
                    }
                    Err(e) => Ok(Some((e.into(), run.extended))),
                }
            })
            .await;
        self.copy_outcome(out, result.map(|r| r.map(|(e, x)| (vec![], Some(e), x))))
            .await
    }

    /// CopyDone: the rest of the input is processed and the COPY completes.
    pub async fn on_copy_done<O: Output>(&mut self, out: &mut O) -> std::io::Result<()> {
        if !self.copy_in {
            return Ok(());
        }
        let result = self
            .session
            .run(move |core| {
                let Some(run) = core.copy_in.take() else {
                    return Ok(None);
                };
                let session = core.session()?;
                let (msgs, error) = match session.copy_in_done(run.copy) {
                    Ok(tag) => (vec![command_complete(tag.0)], None),
                    Err(e) => (vec![], Some(e.into())),
                };
                Ok(Some((msgs, error, run.extended)))
            })
            .await;
        self.copy_outcome(out, result).await
    }

    /// CopyFail: the client gave up; the COPY fails with its message.
    pub async fn on_copy_fail<O: Output>(
        &mut self,
        out: &mut O,
        message: String,
    ) -> std::io::Result<()> {
        if !self.copy_in {
            return Ok(());
        }
        let result = self
            .session
            .run(move |core| {
                let Some(run) = core.copy_in.take() else {
                    return Ok(None);
                };
                let session = core.session()?;
                let e = session.copy_in_fail(run.copy, &message);
                Ok(Some((vec![], Some(e.into()), run.extended)))
            })
            .await;
        self.copy_outcome(out, result).await
    }

    /// A message other than CopyData/CopyDone/CopyFail/Sync/Flush during COPY FROM STDIN.
    pub async fn on_unexpected_during_copy<O: Output>(
        &mut self,
        out: &mut O,
        what: &str,
    ) -> std::io::Result<()> {
        let message = format!("unexpected message type {what} during COPY from stdin");
        let result = self
            .session
            .run(move |core| {
                let Some(run) = core.copy_in.take() else {
                    return Ok(None);
                };
                let session = core.session()?;
                let _ = session.copy_in_fail(run.copy, "");
                Ok(Some((
                    vec![],
                    Some(SqlError::protocol(message)),
                    run.extended,
                )))
            })
            .await;
        self.copy_outcome(out, result).await
    }

    /// Sends what a COPY FROM step produced (see [`CopyEnd`]): `None` means the COPY goes on. When it ended —
    /// well (messages, no error) or not — a simple query continues or ends, an extended one
    /// waits for Sync (after an error, discarding messages until then).
    async fn copy_outcome<O: Output>(
        &mut self,
        out: &mut O,
        result: Result<Option<CopyEnd>, SqlError>,
    ) -> std::io::Result<()> {
        let (msgs, error, extended) = match result {
            Ok(None) => return Ok(()),
            Ok(Some(step)) => step,
            // A panic (the session was reset): end the query.
            Err(e) => (vec![], Some(e), false),
        };
        self.copy_in = false;
        Self::feed_all(out, msgs).await?;
        match (error, extended) {
            (None, true) => out.flush().await,
            (None, false) => self.run_simple(out, None).await,
            (Some(e), true) => {
                self.fail(out, e).await?;
                out.flush().await
            }
            (Some(e), false) => {
                let msgs = self
                    .session
                    .run(move |core| {
                        core.simple = None;
                        Ok(finish_batch(core, Some(e)))
                    })
                    .await
                    .unwrap_or_else(|e| vec![error_message(&e), ready(WireStatus::Idle)]);
                Self::feed_all(out, msgs).await?;
                out.flush().await
            }
        }
    }

    async fn reply<O: Output>(
        &mut self,
        out: &mut O,
        result: Result<Vec<Msg>, SqlError>,
    ) -> std::io::Result<()> {
        match result {
            Ok(msgs) => Self::feed_all(out, msgs).await,
            Err(e) => self.fail(out, e).await,
        }
    }

    /// An error in extended-query mode: report it and discard messages until Sync. Like
    /// any error, it aborts the transaction (errors the planner raised already did that;
    /// protocol-level ones — a bad Bind, an unknown portal — are marked here).
    async fn fail<O: Output>(&mut self, out: &mut O, e: SqlError) -> std::io::Result<()> {
        self.skip_until_sync = true;
        let failed = e.clone();
        let _ = self
            .session
            .run(move |core| {
                mark_statement_failed(core, &failed);
                Ok(())
            })
            .await;
        out.feed(error_message(&e)).await
    }
}

// -------------------------------------------------------------------- blocking-side steps

/// Puts the session in the state a failed statement leaves: inside a block, the failed
/// state (25P02 until ROLLBACK); outside, the implicit transaction rolled back, so that Sync
/// does not commit what ran before the error.
fn mark_statement_failed(core: &mut Core, e: &SqlError) {
    let Ok(session) = core.session() else {
        return;
    };
    if session.transaction_status() == TransactionStatus::Failed {
        return;
    }
    session.statement_failed(&sledgres_planner::Error::new(
        sledgres_planner::ErrorKind::ProtocolViolation,
        e.message.clone(),
    ));
}

/// Moves the session's queued WARNINGs and NOTICEs into `msgs` (PostgreSQL sends them
/// before the statement's CommandComplete or ErrorResponse).
fn push_notices(session: &mut Session, msgs: &mut Vec<Msg>) {
    for n in session.take_notices() {
        let severity = n.severity.as_str().to_string();
        let mut info = ErrorInfo::new(severity.clone(), n.code.to_string(), n.message);
        info.severity_nonlocalized = Some(severity);
        msgs.push(Msg::NoticeResponse(info.into()));
    }
}

/// One hop of a simple query. `sql` is `Some` on the first hop.
fn simple_step(core: &mut Core, sql: Option<String>, msgs: &mut Vec<Msg>) -> Hop {
    if let Some(sql) = sql {
        // A simple Query destroys the unnamed statement and portal.
        core.statements.remove("");
        core.portals.remove("");
        core.simple = None;
        let parsed = core
            .session()
            .and_then(|s| s.parse(&sql).map_err(SqlError::from));
        match parsed {
            Ok(statements) if statements.is_empty() => {
                msgs.push(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
                msgs.extend(finish_batch(core, None));
                return Hop::Done;
            }
            Ok(statements) => {
                core.simple = Some(SimpleRun {
                    statements: statements.into(),
                    cursor: None,
                    copy_out: None,
                });
            }
            Err(e) => {
                msgs.extend(finish_batch(core, Some(e)));
                return Hop::Done;
            }
        }
    }
    match simple_run(core, msgs) {
        Ok(Hop::Done) => {
            core.simple = None;
            msgs.extend(finish_batch(core, None));
            Hop::Done
        }
        Ok(hop) => hop,
        Err(e) => {
            core.simple = None;
            msgs.extend(finish_batch(core, Some(e)));
            Hop::Done
        }
    }
}

/// CopyOutResponse / CopyInResponse: overall format and one format code per column.
fn copy_response(columns: usize, binary: bool, input: bool) -> Msg {
    let format = i16::from(binary);
    let formats = vec![format; columns];
    let n = columns as i16;
    if input {
        Msg::CopyInResponse(CopyInResponse::new(format as i8, n, formats))
    } else {
        Msg::CopyOutResponse(CopyOutResponse::new(format as i8, n, formats))
    }
}

/// Sends up to a hop's rows of a COPY TO as CopyData; at the end CopyDone and `COPY n`.
/// Returns whether the COPY is finished.
fn copy_out_hop(
    session: &mut Session,
    copy: &mut CopyOut,
    msgs: &mut Vec<Msg>,
) -> Result<bool, SqlError> {
    match session.copy_out_next(copy, ROWS_PER_HOP)? {
        Some(lines) => {
            msgs.extend(
                lines
                    .into_iter()
                    .map(|l| Msg::CopyData(CopyData::new(l.into()))),
            );
            Ok(false)
        }
        None => {
            msgs.push(Msg::CopyDone(CopyDone::new()));
            msgs.push(command_complete(copy.tag().0));
            Ok(true)
        }
    }
}

/// Runs statements and streams rows until the hop's row budget is used (More), every
/// statement is done (Done), or a COPY FROM waits for data (AwaitCopyIn).
fn simple_run(core: &mut Core, msgs: &mut Vec<Msg>) -> Result<Hop, SqlError> {
    let mut budget = ROWS_PER_HOP;
    loop {
        let Some(mut run) = core.simple.take() else {
            return Ok(Hop::Done);
        };
        let session = core.session()?;
        if let Some(mut copy) = run.copy_out.take() {
            let finished = copy_out_hop(session, &mut copy, msgs)?;
            if !finished {
                run.copy_out = Some(copy);
                core.simple = Some(run);
                return Ok(Hop::More);
            }
            core.simple = Some(run);
            continue;
        }
        if let Some((mut cursor, columns)) = run.cursor.take() {
            let formats = vec![0i16; columns.len()];
            match session.fetch(&mut cursor, budget)? {
                Some(rows) => {
                    budget = budget.saturating_sub(rows.len());
                    for row in rows {
                        msgs.push(data_row(session, &row, &columns, &formats)?);
                    }
                    run.cursor = Some((cursor, columns));
                    core.simple = Some(run);
                    if budget == 0 {
                        return Ok(Hop::More);
                    }
                }
                None => {
                    msgs.push(command_complete(cursor.tag().0));
                    core.simple = Some(run);
                }
            }
            continue;
        }
        let Some(stmt) = run.statements.pop_front() else {
            return Ok(Hop::Done);
        };
        let prepared = session.prepare(&stmt, &[]);
        push_notices(session, msgs);
        let prepared = prepared?;
        let (prepared, params) = match prepared.statement_effect().cloned() {
            Some(StatementEffect::Execute { name, .. }) => {
                match execute_target(core, &prepared, &name)? {
                    Some(target) => target,
                    None => {
                        msgs.push(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
                        core.simple = Some(run);
                        continue;
                    }
                }
            }
            Some(effect) => {
                let tag = run_statement_effect(core, &prepared, effect, None)?;
                msgs.push(command_complete(tag));
                core.simple = Some(run);
                continue;
            }
            None => (prepared, Vec::new()),
        };
        if let Some(effect) = prepared.statement_effect().cloned() {
            // EXECUTE of a statement that is itself DEALLOCATE, DISCARD … (made by Parse).
            let tag = run_statement_effect(core, &prepared, effect, None)?;
            msgs.push(command_complete(tag));
            core.simple = Some(run);
            continue;
        }
        let session = core.session()?;
        let result = session.execute(&prepared, params);
        push_notices(session, msgs);
        match result? {
            QueryResult::Command(tag) => msgs.push(command_complete(tag.0)),
            QueryResult::Rows(cursor) => {
                let columns = cursor.columns().to_vec();
                msgs.push(row_description(&columns, &vec![0; columns.len()]));
                run.cursor = Some((cursor, columns));
            }
            QueryResult::CopyOut(copy) => {
                msgs.push(copy_response(copy.column_count(), copy.is_binary(), false));
                run.copy_out = Some(copy);
            }
            QueryResult::CopyIn(copy) => {
                msgs.push(copy_response(copy.column_count(), copy.is_binary(), true));
                core.simple = Some(run);
                core.copy_in = Some(CopyInRun {
                    copy,
                    extended: false,
                });
                return Ok(Hop::AwaitCopyIn);
            }
        }
        core.simple = Some(run);
    }
}

/// End of a simple query or Sync: report `error` (if any), commit or roll back the implicit
/// transaction, send changed settings, and ReadyForQuery with the resulting status.
fn finish_batch(core: &mut Core, error: Option<SqlError>) -> Vec<Msg> {
    let mut msgs = Vec::new();
    if let Some(e) = error {
        msgs.push(error_message(&e));
    }
    let session = match core.session() {
        Ok(s) => s,
        Err(e) => {
            msgs.push(error_message(&e));
            msgs.push(ready(WireStatus::Idle));
            return msgs;
        }
    };
    if let Err(e) = session.end_batch() {
        msgs.push(error_message(&e.into()));
    }
    for (name, value) in session.take_parameter_changes() {
        msgs.push(Msg::ParameterStatus(ParameterStatus::new(name, value)));
    }
    let status = session.transaction_status();
    if status == TransactionStatus::Idle {
        // Portals do not outlive their transaction.
        core.portals.clear();
    }
    msgs.push(ready(wire_status(status)));
    msgs
}

/// EXECUTE name (args): the statement `name` (26000 if there is none) and the arguments
/// evaluated for its parameters. `None` for a statement made from an empty query string.
fn execute_target(
    core: &mut Core,
    execute: &Prepared,
    name: &str,
) -> Result<Option<(Prepared, Vec<Value>)>, SqlError> {
    let Some(stmt) = core.statements.get(name).cloned() else {
        let e = sledgres_planner::Error::new(
            sledgres_planner::ErrorKind::InvalidSqlStatementName,
            format!("prepared statement \"{name}\" does not exist"),
        );
        core.session()?.statement_failed(&e);
        return Err(e.into());
    };
    let Some(target) = stmt.prepared.clone() else {
        return Ok(None);
    };
    let params = core.session()?.execute_arguments(execute, &target)?;
    Ok(Some((target, params)))
}

/// PREPARE, DEALLOCATE and DISCARD ALL: the planner checks and does the session's part, then
/// this stores the statement PREPARE made (42P05 if the name is taken: Parse and PREPARE share
/// the namespace) or drops prepared statements (never the unnamed one, as in PostgreSQL) and,
/// for DISCARD ALL, the portals other than the one running it. Returns the command tag.
fn run_statement_effect(
    core: &mut Core,
    prepared: &Prepared,
    effect: StatementEffect,
    running_portal: Option<&str>,
) -> Result<String, SqlError> {
    if let StatementEffect::Prepare { name, .. } = &effect {
        if core.statements.contains_key(name) {
            let e = SqlError::new(
                code::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            );
            mark_statement_failed(core, &e);
            return Err(e);
        }
    }
    if let StatementEffect::Deallocate(Some(name)) = &effect {
        if !core.statements.contains_key(name) {
            let e = sledgres_planner::Error::new(
                sledgres_planner::ErrorKind::InvalidSqlStatementName,
                format!("prepared statement \"{name}\" does not exist"),
            );
            core.session()?.statement_failed(&e);
            return Err(e.into());
        }
    }
    let session = core.session()?;
    let tag = match session.execute(prepared, Vec::new())? {
        QueryResult::Command(tag) => tag.0,
        _ => return Err(SqlError::new(code::INTERNAL, "unexpected statement result")),
    };
    match effect {
        StatementEffect::Deallocate(Some(name)) => {
            core.statements.remove(&name);
        }
        StatementEffect::Deallocate(None) => core.statements.retain(|name, _| name.is_empty()),
        StatementEffect::DiscardAll => {
            core.statements.retain(|name, _| name.is_empty());
            core.portals
                .retain(|name, _| Some(name.as_str()) == running_portal);
        }
        StatementEffect::Prepare { name, statement } => {
            core.statements.insert(
                name,
                Arc::new(PreparedStatement {
                    prepared: Some(*statement),
                    execute_columns: None,
                }),
            );
        }
        StatementEffect::Execute { .. } => {
            return Err(SqlError::new(code::INTERNAL, "EXECUTE is not an effect"))
        }
    }
    Ok(tag)
}

fn lookup_statement(core: &Core, name: &str) -> Result<Arc<PreparedStatement>, SqlError> {
    core.statements.get(name).cloned().ok_or_else(|| {
        let message = if name.is_empty() {
            "unnamed prepared statement does not exist".to_string()
        } else {
            format!("prepared statement \"{name}\" does not exist")
        };
        SqlError::new(code::INVALID_SQL_STATEMENT_NAME, message)
    })
}

fn lookup_portal<'a>(core: &'a mut Core, name: &str) -> Result<&'a mut Portal, SqlError> {
    core.portals.get_mut(name).ok_or_else(|| {
        SqlError::new(
            code::INVALID_CURSOR_NAME,
            format!("portal \"{name}\" does not exist"),
        )
    })
}

/// Bind: decodes the parameters (text via the planner, binary here) and creates the portal.
fn bind_portal(core: &mut Core, bind: Bind) -> Result<(), SqlError> {
    let stmt_name = bind.statement_name.unwrap_or_default();
    let portal_name = bind.portal_name.unwrap_or_default();
    let stmt = lookup_statement(core, &stmt_name)?;
    if !portal_name.is_empty() && core.portals.contains_key(&portal_name) {
        return Err(SqlError::new(
            code::DUPLICATE_CURSOR,
            format!("cursor \"{portal_name}\" already exists"),
        ));
    }
    let param_types = stmt.param_types();
    let nparams = bind.parameters.len();
    let nformats = bind.parameter_format_codes.len();
    if nformats > 1 && nformats != nparams {
        return Err(SqlError::protocol(format!(
            "bind message has {nformats} parameter formats but {nparams} parameters"
        )));
    }
    if nparams != param_types.len() {
        return Err(SqlError::protocol(format!(
            "bind message supplies {nparams} parameters, but prepared statement \"{stmt_name}\" requires {}",
            param_types.len()
        )));
    }
    let session = core.session()?;
    let mut params = Vec::with_capacity(nparams);
    for (i, (raw, ty)) in bind.parameters.iter().zip(param_types).enumerate() {
        let format = match nformats {
            0 => 0,
            1 => bind.parameter_format_codes[0],
            _ => bind.parameter_format_codes[i],
        };
        let value = match raw {
            None => Value::Null,
            Some(bytes) => match format {
                0 => session.decode_param_text(ty, types::utf8(bytes)?)?,
                1 => types::decode_binary(bytes, ty, i)?,
                other => {
                    return Err(SqlError::protocol(format!(
                        "unsupported format code: {other}"
                    )))
                }
            },
        };
        params.push(value);
    }
    let ncols = stmt.columns().len();
    let codes = &bind.result_column_format_codes;
    let result_formats = match codes.len() {
        0 => vec![0; ncols],
        1 => vec![codes[0]; ncols],
        n if n == ncols => codes.clone(),
        n => {
            return Err(SqlError::protocol(format!(
                "bind message has {n} result formats but query has {ncols} columns"
            )))
        }
    };
    if let Some(bad) = result_formats.iter().find(|f| **f != 0 && **f != 1) {
        return Err(SqlError::protocol(format!(
            "unsupported format code: {bad}"
        )));
    }
    core.portals.insert(
        portal_name,
        Portal {
            statement: stmt,
            params,
            result_formats,
            state: PortalState::Ready,
        },
    );
    Ok(())
}

/// One hop of Execute: runs the portal if it is new, then fetches up to the hop's budget.
/// Returns the messages, the rows sent, and whether this Execute is finished.
fn execute_step(
    core: &mut Core,
    name: &str,
    max_rows: usize,
    sent: usize,
) -> Result<(Vec<Msg>, usize, bool), SqlError> {
    let portal = lookup_portal(core, name)?;
    let state = std::mem::replace(&mut portal.state, PortalState::Done);
    let statement = portal.statement.clone();
    let params = std::mem::take(&mut portal.params);
    let mut formats = portal.result_formats.clone();
    let session = core.session()?;
    let mut msgs = Vec::new();
    let mut cursor = match state {
        PortalState::Done => {
            // A row-returning portal at its end yields no more rows; a command cannot run
            // twice (PostgreSQL's wording and code for both).
            if statement.columns().is_empty() {
                return Err(SqlError::new(
                    code::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("portal \"{name}\" cannot be run"),
                ));
            }
            msgs.push(command_complete("SELECT 0".to_string()));
            return Ok((msgs, 0, true));
        }
        PortalState::Suspended(cursor) => cursor,
        PortalState::CopyOut(mut copy) => {
            let finished = copy_out_hop(session, &mut copy, &mut msgs)?;
            if !finished {
                if let Ok(portal) = lookup_portal(core, name) {
                    portal.state = PortalState::CopyOut(copy);
                }
            }
            return Ok((msgs, 0, finished));
        }
        PortalState::Ready => {
            let Some(prepared) = statement.prepared.as_ref() else {
                msgs.push(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
                return Ok((msgs, 0, true));
            };
            let (prepared, params) = match prepared.statement_effect().cloned() {
                Some(StatementEffect::Execute { name: target, .. }) => {
                    match execute_target(core, prepared, &target)? {
                        Some((target, params)) => {
                            // Bind chose formats for the columns Parse described; if the
                            // statement changed since (or was unknown), rows go as text.
                            if formats.len() != target.columns().len() {
                                formats = vec![0; target.columns().len()];
                            }
                            (target, params)
                        }
                        None => {
                            msgs.push(Msg::EmptyQueryResponse(EmptyQueryResponse::new()));
                            return Ok((msgs, 0, true));
                        }
                    }
                }
                _ => (prepared.clone(), params),
            };
            if let Some(effect) = prepared.statement_effect().cloned() {
                let tag = run_statement_effect(core, &prepared, effect, Some(name))?;
                msgs.push(command_complete(tag));
                return Ok((msgs, 0, true));
            }
            let session = core.session()?;
            let result = session.execute(&prepared, params);
            push_notices(session, &mut msgs);
            match result? {
                QueryResult::Command(tag) => {
                    msgs.push(command_complete(tag.0));
                    return Ok((msgs, 0, true));
                }
                QueryResult::Rows(cursor) => cursor,
                QueryResult::CopyOut(mut copy) => {
                    msgs.push(copy_response(copy.column_count(), copy.is_binary(), false));
                    let finished = copy_out_hop(session, &mut copy, &mut msgs)?;
                    if !finished {
                        if let Ok(portal) = lookup_portal(core, name) {
                            portal.state = PortalState::CopyOut(copy);
                        }
                    }
                    return Ok((msgs, 0, finished));
                }
                QueryResult::CopyIn(copy) => {
                    msgs.push(copy_response(copy.column_count(), copy.is_binary(), true));
                    core.copy_in = Some(CopyInRun {
                        copy,
                        extended: true,
                    });
                    return Ok((msgs, 0, true));
                }
            }
        }
    };
    let session = core.session()?;
    let columns = cursor.columns().to_vec();
    let want = if max_rows == 0 {
        ROWS_PER_HOP
    } else {
        (max_rows - sent).min(ROWS_PER_HOP)
    };
    let mut got = 0;
    let mut exhausted = false;
    while got < want {
        match session.fetch(&mut cursor, want - got)? {
            Some(rows) => {
                got += rows.len();
                for row in rows {
                    msgs.push(data_row(session, &row, &columns, &formats)?);
                }
            }
            None => {
                exhausted = true;
                break;
            }
        }
    }
    let finished = if exhausted {
        // PostgreSQL counts a SELECT's rows per Execute: after suspensions, the final
        // Execute reports only the rows it sent itself.
        let tag = cursor.tag().0;
        let tag = if tag.starts_with("SELECT ") {
            format!("SELECT {}", sent + got)
        } else {
            tag
        };
        msgs.push(command_complete(tag));
        true
    } else if max_rows != 0 && sent + got >= max_rows {
        msgs.push(Msg::PortalSuspended(PortalSuspended::new()));
        true
    } else {
        false
    };
    if !exhausted {
        if let Ok(portal) = lookup_portal(core, name) {
            portal.state = PortalState::Suspended(cursor);
        }
    }
    Ok((msgs, got, finished))
}

// -------------------------------------------------------------------- message builders

pub fn wire_status(status: TransactionStatus) -> WireStatus {
    match status {
        TransactionStatus::Idle => WireStatus::Idle,
        TransactionStatus::InBlock => WireStatus::Transaction,
        TransactionStatus::Failed => WireStatus::Error,
    }
}

pub fn ready(status: WireStatus) -> Msg {
    Msg::ReadyForQuery(ReadyForQuery::new(status))
}

pub fn error_message(e: &SqlError) -> Msg {
    Msg::ErrorResponse(e.to_error_info().into())
}

fn command_complete(tag: String) -> Msg {
    Msg::CommandComplete(CommandComplete::new(tag))
}

/// RowDescription for result columns; `formats` empty means "not yet known" (Describe of a
/// statement), sent as text.
pub fn row_description(columns: &[ColumnInfo], formats: &[i16]) -> Msg {
    let fields = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldDescription::new(
                c.name.clone(),
                0,
                0,
                types::type_oid(&c.data_type),
                types::type_size(&c.data_type),
                types::type_modifier(&c.data_type),
                formats.get(i).copied().unwrap_or(0),
            )
        })
        .collect();
    Msg::RowDescription(RowDescription::new(fields))
}

/// PostgreSQL answers Describe of a statement without result columns with NoData, not an
/// empty RowDescription (pgwire's default handlers send the latter for some statements).
fn row_description_or_no_data(columns: &[ColumnInfo], formats: &[i16]) -> Msg {
    if columns.is_empty() {
        Msg::NoData(NoData::new())
    } else {
        row_description(columns, formats)
    }
}

/// DataRow: per column an i32 length (-1 for NULL) and the value in its column's format.
fn data_row(
    session: &Session,
    row: &Row,
    columns: &[ColumnInfo],
    formats: &[i16],
) -> Result<Msg, SqlError> {
    let mut buf = BytesMut::with_capacity(row.len() * 12);
    for (i, value) in row.iter().enumerate() {
        if value.is_null() {
            buf.put_i32(-1);
            continue;
        }
        let Some(column) = columns.get(i) else {
            return Err(SqlError::new(
                code::INTERNAL,
                "row has more values than columns",
            ));
        };
        let len_at = buf.len();
        buf.put_i32(0);
        if formats.get(i).copied().unwrap_or(0) == 1 {
            types::encode_binary(value, &column.data_type, &mut buf)?;
        } else {
            buf.put_slice(session.format_text(value, &column.data_type).as_bytes());
        }
        let len = (buf.len() - len_at - 4) as i32;
        buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(Msg::DataRow(DataRow::new(buf, row.len() as i16)))
}
