//! COPY … FROM STDIN and COPY … TO STDOUT: how the session runs them.
//!
//! Both are statements whose data does not travel in DataRow messages, so executing them
//! returns a handle the server drives with the CopyData it receives or sends:
//!
//! - **COPY FROM** (`QueryResult::CopyIn`): the server passes each CopyData's bytes to
//!   [`Session::copy_in_data`], which splits complete records off a small buffer (a record
//!   may span CopyData messages, a CSV record even lines), converts each field with the
//!   column type's input function and inserts the row through the very INSERT executor
//!   (`exec::dml::insert`: defaults, NOT NULL, unique checks), fed from a one-row work table.
//!   [`Session::copy_in_done`] finishes with the tag `COPY n`. The whole COPY is one
//!   statement of the transaction: on any error the statement fails like any other
//!   (outside a block the implicit transaction rolls back), so nothing is half-loaded.
//!   Errors carry PostgreSQL's CONTEXT: `COPY t, line 3, column b: "x"` for a bad value,
//!   `COPY t, line 3: "<line>"` for a malformed line or a NOT NULL violation, `COPY t, line 3`
//!   for a unique violation.
//! - **COPY TO** (`QueryResult::CopyOut`): a cursor over the table's (or query's) rows;
//!   [`Session::copy_out_next`] returns the next lines (the header first, if asked for).
//!
//! The formats themselves are in `crate::copy`.

use super::{Action, ColumnInfo, CommandTag, Cursor, Prepared, QueryResult, Session};
use crate::binder::{Binder, Bound};
use crate::copy::{strip_line_end, CopyOptions, Format};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::dml::PInsert;
use crate::exec::expr::{compile, Layout};
use crate::exec::{self, ExecCtx, PhysPlan};
use crate::{optimizer, scalar};
use sledgres_storage::{DataType, Value};
use sqlparser::ast;
use std::sync::Arc;

/// The work table id COPY FROM feeds its rows through. A COPY's insert plan holds nothing
/// else, so it cannot collide with a query's work tables.
const COPY_WORKTABLE: usize = usize::MAX;

/// Check for cancellation / statement_timeout every this many rows.
const CANCEL_INTERVAL: u64 = 1000;

/// A planned COPY FROM.
#[derive(Debug)]
pub(super) struct CopyFromPlan {
    table: String,
    insert: PInsert,
    /// Name and type of each COPY column, in input order.
    columns: Vec<(String, DataType)>,
    options: CopyOptions,
}

/// A planned COPY TO.
#[derive(Debug)]
pub(super) struct CopyToPlan {
    plan: Arc<PhysPlan>,
    columns: Vec<ColumnInfo>,
    options: CopyOptions,
}

/// A COPY FROM STDIN in progress (see the module doc).
pub struct CopyIn {
    plan: Arc<CopyFromPlan>,
    ctx: Arc<ExecCtx>,
    /// Bytes received but not yet a complete record.
    buf: Vec<u8>,
    /// Input lines consumed so far (records, counting the header).
    line: u64,
    rows: u64,
    /// `\.` seen: the rest of the input is ignored.
    ended: bool,
    header_pending: bool,
}

impl CopyIn {
    /// The number of columns (CopyInResponse).
    pub fn column_count(&self) -> usize {
        self.plan.columns.len()
    }
    pub fn is_binary(&self) -> bool {
        self.plan.options.format == Format::Binary
    }
}

/// A COPY TO STDOUT in progress.
pub struct CopyOut {
    cursor: Cursor,
    options: CopyOptions,
    header_pending: bool,
}

impl CopyOut {
    pub fn column_count(&self) -> usize {
        self.cursor.columns.len()
    }
    pub fn is_binary(&self) -> bool {
        self.options.format == Format::Binary
    }
    /// `COPY n`, n the rows sent so far.
    pub fn tag(&self) -> CommandTag {
        CommandTag(format!("COPY {}", self.cursor.count))
    }
}

fn copy_file_unsupported() -> Error {
    Error::new(
        ErrorKind::FeatureNotSupported,
        "COPY to or from a file or program is not supported",
    )
    .with_hint("Use COPY … FROM STDIN / TO STDOUT, e.g. psql's \\copy.")
}

impl Session {
    /// Plans `COPY …` (called by `prepare` with the statement's parts).
    #[allow(clippy::too_many_arguments)] // the parts of `ast::Statement::Copy`
    pub(super) fn prepare_copy(
        &mut self,
        text: Arc<str>,
        param_types: &[Option<DataType>],
        source: &ast::CopySource,
        to: bool,
        target: &ast::CopyTarget,
        options: &[ast::CopyOption],
        legacy: &[ast::CopyLegacyOption],
    ) -> Result<Prepared> {
        match (to, target) {
            (false, ast::CopyTarget::Stdin) | (true, ast::CopyTarget::Stdout) => {}
            _ => return Err(copy_file_unsupported()),
        }
        let txn = self.ensure_txn()?;
        txn.begin_statement()?;
        let mut binder = Binder::new(&txn, param_types).with_text(text);
        binder.settings = Some(self.settings_reader());
        let action = if to {
            let query: ast::Statement = match source {
                ast::CopySource::Query(q) => ast::Statement::Query(q.clone()),
                ast::CopySource::Table {
                    table_name,
                    columns,
                } => {
                    let def = binder.relation(table_name)?;
                    if crate::binder::view::view_sql(&def).is_some() {
                        return Err(Error::new(
                            ErrorKind::WrongObjectType,
                            format!("cannot copy from view \"{}\"", def.name),
                        )
                        .with_hint("Try the COPY (SELECT ...) TO variant."));
                    }
                    let cols = if columns.is_empty() {
                        "*".to_string()
                    } else {
                        for c in columns {
                            let n = crate::binder::ident(c);
                            if def.column_index(&n).is_none() {
                                return Err(undefined_column(&n, &def.name));
                            }
                        }
                        columns
                            .iter()
                            .map(|c| quote_ident(&crate::binder::ident(c)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    let sql = format!(
                        "SELECT {cols} FROM {}.{}",
                        quote_ident(&def.schema),
                        quote_ident(&def.name)
                    );
                    crate::parse::parse(&sql)?
                        .into_iter()
                        .next()
                        .and_then(|(_, p, _)| match p {
                            crate::parse::Parsed::Sql(s) => Some(*s),
                            _ => None,
                        })
                        .ok_or_else(|| Error::internal("COPY TO query did not parse"))?
                }
            };
            let Bound::Query { plan, columns } = binder.bind_statement(&query)? else {
                return Err(Error::internal("COPY TO source is not a query"));
            };
            let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
            let options = CopyOptions::from_ast(options, legacy, &names, false)?;
            let plan = optimizer::optimize(plan)?;
            Action::CopyTo(Arc::new(CopyToPlan {
                plan: Arc::new(exec::compile_plan(&plan, &[])?),
                columns: columns
                    .into_iter()
                    .map(|c| ColumnInfo {
                        name: c.name,
                        data_type: c.data_type,
                    })
                    .collect(),
                options,
            }))
        } else {
            let ast::CopySource::Table {
                table_name,
                columns,
            } = source
            else {
                return Err(Error::new(
                    ErrorKind::SyntaxError,
                    "syntax error at or near \"FROM\"",
                ));
            };
            let table = binder.table(table_name)?;
            let mut targets = vec![];
            if columns.is_empty() {
                targets.extend(0..table.columns.len());
            } else {
                for c in columns {
                    let n = crate::binder::ident(c);
                    let pos = table
                        .column_index(&n)
                        .ok_or_else(|| undefined_column(&n, &table.name))?;
                    if targets.contains(&pos) {
                        return Err(Error::new(
                            ErrorKind::DuplicateColumn,
                            format!("column \"{n}\" specified more than once"),
                        ));
                    }
                    targets.push(pos);
                }
            }
            let cols: Vec<(String, DataType)> = targets
                .iter()
                .map(|&i| {
                    let c = &table.columns[i];
                    (c.name.clone(), c.data_type.clone())
                })
                .collect();
            let names: Vec<String> = cols.iter().map(|c| c.0.clone()).collect();
            let options = CopyOptions::from_ast(options, legacy, &names, true)?;
            let defaults = binder
                .defaults(&table, &targets)?
                .iter()
                .map(|d| {
                    d.as_ref()
                        .map(|e| compile(e, &Layout::default()))
                        .transpose()
                })
                .collect::<Result<Vec<_>>>()?;
            Action::CopyFrom(Arc::new(CopyFromPlan {
                table: table.name.clone(),
                insert: PInsert {
                    table: table.clone(),
                    source: Arc::new(PhysPlan::WorkTable { id: COPY_WORKTABLE }),
                    targets,
                    defaults,
                    returning: None,
                    on_conflict: None,
                },
                columns: cols,
                options,
            }))
        };
        Ok(Prepared {
            action: Arc::new(action),
            param_types: binder.param_types(),
            columns: vec![],
        })
    }

    /// Starts a planned COPY (from `execute`, with the statement's context).
    pub(super) fn start_copy(&mut self, action: &Action, ctx: Arc<ExecCtx>) -> Result<QueryResult> {
        match action {
            Action::CopyFrom(plan) => {
                if self.current_chars().read_only {
                    return Err(Error::new(
                        ErrorKind::ReadOnlySqlTransaction,
                        "cannot execute COPY FROM in a read-only transaction",
                    ));
                }
                if plan.options.format == Format::Binary {
                    return Err(binary_unsupported());
                }
                Ok(QueryResult::CopyIn(CopyIn {
                    plan: plan.clone(),
                    ctx,
                    buf: vec![],
                    line: 0,
                    rows: 0,
                    ended: false,
                    header_pending: plan.options.header,
                }))
            }
            Action::CopyTo(plan) => {
                if plan.options.format == Format::Binary {
                    return Err(binary_unsupported());
                }
                Ok(QueryResult::CopyOut(CopyOut {
                    cursor: Cursor {
                        columns: plan.columns.clone(),
                        op: Some(exec::open(&plan.plan, &ctx)?),
                        count: 0,
                        tag: "COPY",
                    },
                    options: plan.options.clone(),
                    header_pending: plan.options.header,
                }))
            }
            _ => Err(Error::internal("not a COPY")),
        }
    }

    /// COPY FROM: the bytes of one CopyData message. An error fails the statement.
    pub fn copy_in_data(&mut self, copy: &mut CopyIn, data: &[u8]) -> Result<()> {
        let r = self.copy_in_feed(copy, data, false);
        self.copy_result(r)
    }

    /// COPY FROM: CopyDone. The last record may lack its line end.
    pub fn copy_in_done(&mut self, mut copy: CopyIn) -> Result<CommandTag> {
        let r = self
            .copy_in_feed(&mut copy, &[], true)
            .map(|()| CommandTag(format!("COPY {}", copy.rows)));
        self.copy_result(r)
    }

    /// COPY FROM: CopyFail from the client. Fails the statement; returns the error to send.
    pub fn copy_in_fail(&mut self, copy: CopyIn, message: &str) -> Error {
        let e = Error::new(
            ErrorKind::QueryCanceled,
            format!("COPY from stdin failed: {message}"),
        )
        .with_context(format!(
            "COPY {}, line {}",
            copy.plan.table,
            copy.line.max(1)
        ));
        self.statement_failed(&e);
        e
    }

    /// COPY TO: up to `max_rows` more output lines; `None` once every row was sent.
    pub fn copy_out_next(
        &mut self,
        copy: &mut CopyOut,
        max_rows: usize,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let mut lines = vec![];
        if copy.header_pending {
            copy.header_pending = false;
            let names: Vec<String> = copy.cursor.columns.iter().map(|c| c.name.clone()).collect();
            lines.push(copy.options.encode_header(&names));
        }
        match self.fetch(&mut copy.cursor, max_rows)? {
            Some(rows) => {
                for row in rows {
                    let values: Vec<Option<String>> = row
                        .iter()
                        .zip(&copy.cursor.columns)
                        .map(|(v, c)| (!v.is_null()).then(|| self.format_text(v, &c.data_type)))
                        .collect();
                    lines.push(copy.options.encode_line(&values));
                }
            }
            None if lines.is_empty() => return Ok(None),
            None => {}
        }
        Ok(Some(lines))
    }

    fn copy_result<T>(&mut self, r: Result<T>) -> Result<T> {
        r.map_err(|e| {
            let e = self.map_timeout(e);
            self.statement_failed(&e);
            e
        })
    }

    fn copy_in_feed(&mut self, copy: &mut CopyIn, data: &[u8], last: bool) -> Result<()> {
        if copy.ended {
            return Ok(());
        }
        copy.buf.extend_from_slice(data);
        let mut start = 0;
        while !copy.ended {
            let rest = &copy.buf[start..];
            let len = match copy.plan.options.record_end(rest) {
                Some(len) => len,
                None if last && !rest.is_empty() => rest.len(),
                None => break,
            };
            let record = copy.buf[start..start + len].to_vec();
            start += len;
            if let Err(e) = copy_record(copy, &record) {
                copy.buf.clear();
                return Err(e);
            }
        }
        copy.buf.drain(..start);
        Ok(())
    }
}

/// One input record: decode, convert, insert.
fn copy_record(copy: &mut CopyIn, record: &[u8]) -> Result<()> {
    copy.line += 1;
    let line = strip_line_end(record);
    let plan = copy.plan.clone();
    let opts = &plan.options;
    if opts.is_end_marker(line) {
        copy.ended = true;
        return Ok(());
    }
    if copy.header_pending {
        copy.header_pending = false;
        return Ok(());
    }
    let with_line = |e: Error| {
        e.with_context(format!(
            "COPY {}, line {}: \"{}\"",
            plan.table,
            copy.line,
            String::from_utf8_lossy(line)
        ))
    };
    let fields = opts.decode_record(line).map_err(with_line)?;
    let ncols = plan.columns.len();
    if fields.len() < ncols {
        return Err(with_line(Error::new(
            ErrorKind::BadCopyFileFormat,
            format!(
                "missing data for column \"{}\"",
                plan.columns[fields.len()].0
            ),
        )));
    }
    if fields.len() > ncols && !(ncols == 0 && line.is_empty()) {
        return Err(with_line(Error::new(
            ErrorKind::BadCopyFileFormat,
            "extra data after last expected column",
        )));
    }
    let mut row = Vec::with_capacity(ncols);
    for (field, (name, ty)) in fields.into_iter().zip(&plan.columns) {
        row.push(match field {
            None => Value::Null,
            Some(text) => scalar::parse_text(ty, &text).map_err(|e| {
                e.with_context(format!(
                    "COPY {}, line {}, column {name}: \"{text}\"",
                    plan.table, copy.line
                ))
            })?,
        });
    }
    copy.ctx
        .worktables
        .lock()
        .insert(COPY_WORKTABLE, Arc::new(vec![row]));
    exec::dml::insert(&plan.insert, &copy.ctx).map_err(|e| {
        if e.kind == ErrorKind::NotNullViolation {
            with_line(e)
        } else {
            let context = format!("COPY {}, line {}", plan.table, copy.line);
            e.with_context(context)
        }
    })?;
    copy.rows += 1;
    if copy.rows.is_multiple_of(CANCEL_INTERVAL) {
        copy.ctx.check_cancel()?;
    }
    Ok(())
}

fn undefined_column(name: &str, table: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedColumn,
        format!("column \"{name}\" of relation \"{table}\" does not exist"),
    )
}

fn binary_unsupported() -> Error {
    Error::new(
        ErrorKind::FeatureNotSupported,
        "COPY BINARY is not supported",
    )
}

/// An identifier as SQL text (always quoted: a column may be named like a keyword).
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
