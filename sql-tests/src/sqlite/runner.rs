//! Runs parsed scripts against a server and counts the outcome of every record.
//!
//! Each file gets a clean database ([`Target::scratch`]) and its own connection, and runs its
//! records in order over the simple query protocol (text results, which is what the value
//! formatting in [`super::format`] expects). Counting, per test record (statement or query):
//!
//! - **skipped**: excluded by `skipif`/`onlyif` for our engine, or after an applicable `halt`;
//! - **passed** / **failed**: ran, and matched or not;
//! - **expected failure**: failed, and listed in the expected-failures file (not a failure);
//!   a listed record that passes counts as passed and is reported as an *unexpected pass*.
//!
//! A statement that takes longer than the timeout fails; the session is then abandoned (a
//! cancel is sent) and the file continues on a new connection, so one runaway query cannot
//! hang a whole corpus run. A lost connection is likewise replaced.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::expected::{ExpectedFailure, ExpectedFailures};
use super::format::{compare, format_result, hash_line};
use super::parser::{parse, Record, RecordKind};
use crate::target::{Scratch, Target};

/// Knobs for a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Engine name for `skipif`/`onlyif`.
    pub engine: String,
    /// Report every failure (otherwise the first few per file).
    pub verbose: bool,
    /// Stop at the first unexpected failure.
    pub fail_fast: bool,
    /// Longest a single statement may take.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            engine: "postgresql".into(),
            verbose: false,
            fail_fast: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A record that did not give the expected outcome.
#[derive(Clone, Debug)]
pub struct Failure {
    pub line: usize,
    pub sql: String,
    pub message: String,
}

/// The outcome of one file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub path: PathBuf,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub expected_failures: usize,
    pub unexpected_passes: Vec<ExpectedFailure>,
    pub failures: Vec<Failure>,
    pub elapsed: Duration,
    /// Set when the file could not run at all (unreadable, no server); counted as one failure.
    pub setup_error: Option<String>,
}

/// Sums over files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub expected_failures: usize,
    pub unexpected_passes: usize,
    pub files: usize,
    pub files_with_failures: usize,
}

impl Totals {
    pub fn add(&mut self, r: &FileReport) {
        self.passed += r.passed;
        self.failed += r.failed;
        self.skipped += r.skipped;
        self.expected_failures += r.expected_failures;
        self.unexpected_passes += r.unexpected_passes.len();
        self.files += 1;
        if r.failed > 0 {
            self.files_with_failures += 1;
        }
    }

    /// The summary line every runner prints last.
    pub fn summary_line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// Expands files and directories (recursively, `*.test`, sorted) into a list of scripts.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "test") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

/// Runs every file, printing a line per file (and its failures), then the totals. Returns
/// the totals; the caller decides the exit status.
pub async fn run_all(
    target: &Target,
    files: &[PathBuf],
    expected: &ExpectedFailures,
    opts: &Options,
) -> Totals {
    let mut totals = Totals::default();
    for file in files {
        let report = run_file(target, file, expected, opts).await;
        print_report(&report, opts);
        totals.add(&report);
        if opts.fail_fast && report.failed > 0 {
            println!("stopping at the first failure (--fail-fast)");
            break;
        }
    }
    if totals.expected_failures > 0 {
        println!("{} expected failures", totals.expected_failures);
    }
    if totals.unexpected_passes > 0 {
        println!(
            "warning: {} expected failures passed (see above)",
            totals.unexpected_passes
        );
    }
    println!("{}", totals.summary_line());
    totals
}

fn print_report(r: &FileReport, opts: &Options) {
    let mut line = format!(
        "{}: {} passed, {} failed, {} skipped",
        r.path.display(),
        r.passed,
        r.failed,
        r.skipped
    );
    if r.expected_failures > 0 {
        line.push_str(&format!(", {} expected failures", r.expected_failures));
    }
    line.push_str(&format!(" ({:.1}s)", r.elapsed.as_secs_f64()));
    println!("{line}");
    if let Some(e) = &r.setup_error {
        println!("  ERROR {e}");
    }
    let shown = if opts.verbose { usize::MAX } else { 10 };
    for f in r.failures.iter().take(shown) {
        println!("  FAIL {}:{}: {}", r.path.display(), f.line, f.message);
        for sql_line in f
            .sql
            .lines()
            .take(if opts.verbose { usize::MAX } else { 5 })
        {
            println!("      {sql_line}");
        }
    }
    if r.failures.len() > shown {
        println!(
            "  … {} more failures (use --verbose)",
            r.failures.len() - shown
        );
    }
    for u in &r.unexpected_passes {
        println!(
            "  warning: {}:{} is listed as an expected failure ({}) but passed",
            r.path.display(),
            u.line,
            u.reason
        );
    }
}

/// Runs one file on a clean database.
pub async fn run_file(
    target: &Target,
    path: &Path,
    expected: &ExpectedFailures,
    opts: &Options,
) -> FileReport {
    let started = Instant::now();
    let mut report = FileReport {
        path: path.to_path_buf(),
        ..FileReport::default()
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            report.setup_error = Some(format!("cannot read: {e}"));
            report.failed = 1;
            return report;
        }
    };
    let records = parse(&text);
    let scratch = match target.scratch(&text).await {
        Ok(s) => s,
        Err(e) => {
            report.setup_error = Some(e);
            report.failed = 1;
            report.elapsed = started.elapsed();
            return report;
        }
    };
    let listed: HashMap<usize, ExpectedFailure> = expected
        .for_file(path)
        .into_iter()
        .map(|e| (e.line, e))
        .collect();
    run_records(&scratch, &records, &listed, opts, &mut report).await;
    scratch.finish().await;
    report.elapsed = started.elapsed();
    report
}

async fn run_records(
    scratch: &Scratch,
    records: &[Record],
    listed: &HashMap<usize, ExpectedFailure>,
    opts: &Options,
    report: &mut FileReport,
) {
    let mut session = match Session::open(scratch).await {
        Ok(s) => s,
        Err(e) => {
            report.setup_error = Some(e);
            report.failed = 1;
            return;
        }
    };
    let mut hash_threshold = 0usize;
    let mut labels: HashMap<String, String> = HashMap::new();
    let mut halted = false;
    for record in records {
        if halted || !record.applies_to(&opts.engine) {
            if record.is_test() {
                report.skipped += 1;
            }
            continue;
        }
        let outcome = match &record.kind {
            RecordKind::HashThreshold(n) => {
                hash_threshold = *n;
                continue;
            }
            RecordKind::Halt => {
                halted = true;
                continue;
            }
            RecordKind::Invalid(msg) => Err(format!("cannot parse record: {msg}")),
            RecordKind::Statement { expect_ok, sql } => {
                match (session.run(sql, opts.timeout).await, expect_ok) {
                    (Ok(_), true) | (Err(_), false) => Ok(()),
                    (Ok(_), false) => Err("statement succeeded; expected an error".to_string()),
                    (Err(e), true) => Err(format!("statement failed: {e}")),
                }
            }
            RecordKind::Query {
                types,
                sort,
                label,
                sql,
                expected,
            } => match session.run(sql, opts.timeout).await {
                Err(e) => Err(format!("query failed: {e}")),
                Ok(result) => {
                    let values = format_result(&result.rows, types, *sort);
                    let ncols = result.columns;
                    if ncols != types.len() && !(result.rows.is_empty() && ncols == 0) {
                        Err(format!(
                            "query returned {ncols} columns; the record declares {}",
                            types.len()
                        ))
                    } else if let Some(diff) = compare(&values, expected, hash_threshold, ncols) {
                        Err(diff)
                    } else {
                        check_label(&mut labels, label.as_deref(), &values)
                    }
                }
            },
        };
        let sql = match &record.kind {
            RecordKind::Statement { sql, .. } | RecordKind::Query { sql, .. } => sql.clone(),
            _ => String::new(),
        };
        match (outcome, listed.get(&record.line)) {
            (Ok(()), None) => report.passed += 1,
            (Ok(()), Some(entry)) => {
                report.passed += 1;
                report.unexpected_passes.push(entry.clone());
            }
            (Err(_), Some(_)) => report.expected_failures += 1,
            (Err(message), None) => {
                report.failed += 1;
                report.failures.push(Failure {
                    line: record.line,
                    sql,
                    message,
                });
                if opts.fail_fast {
                    break;
                }
            }
        }
        if session.is_closed() {
            match Session::open(scratch).await {
                Ok(s) => session = s,
                Err(e) => {
                    report.setup_error = Some(format!("connection lost and not regained: {e}"));
                    report.failed += 1;
                    return;
                }
            }
        }
    }
    session.close().await;
}

/// Queries sharing a label must give the same values.
fn check_label(
    labels: &mut HashMap<String, String>,
    label: Option<&str>,
    values: &[String],
) -> Result<(), String> {
    let Some(label) = label else {
        return Ok(());
    };
    let hash = hash_line(values);
    match labels.get(label) {
        Some(previous) if *previous != hash => Err(format!(
            "result differs from the earlier query labelled {label}: {hash} vs {previous}"
        )),
        Some(_) => Ok(()),
        None => {
            labels.insert(label.to_string(), hash);
            Ok(())
        }
    }
}

/// Rows of text values from one statement.
struct QueryResult {
    columns: usize,
    rows: Vec<Vec<Option<String>>>,
}

/// One connection, replaced when it times out or dies.
struct Session {
    /// `None` once abandoned after a timeout.
    client: Option<Client>,
}

impl Session {
    async fn open(scratch: &Scratch) -> Result<Session, String> {
        scratch
            .connect()
            .await
            .map(|client| Session {
                client: Some(client),
            })
            .map_err(|e| format!("cannot connect: {e}"))
    }

    fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(Client::is_closed)
    }

    async fn close(self) {
        drop(self.client);
    }

    /// Runs `sql` over the simple protocol. On timeout the query is cancelled and the session
    /// abandoned; the caller sees `is_closed` and opens a new one.
    async fn run(&mut self, sql: &str, timeout: Duration) -> Result<QueryResult, String> {
        let Some(client) = self.client.as_ref() else {
            return Err("no connection".into());
        };
        match tokio::time::timeout(timeout, client.simple_query(sql)).await {
            Ok(Ok(messages)) => {
                let mut columns = 0;
                let mut rows = Vec::new();
                for m in messages {
                    match m {
                        SimpleQueryMessage::RowDescription(cols) => columns = cols.len(),
                        SimpleQueryMessage::Row(row) => {
                            columns = row.len();
                            rows.push(
                                (0..row.len())
                                    .map(|i| row.get(i).map(str::to_string))
                                    .collect(),
                            );
                        }
                        _ => {}
                    }
                }
                Ok(QueryResult { columns, rows })
            }
            Ok(Err(e)) => Err(describe_error(&e)),
            Err(_) => {
                let token = client.cancel_token();
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), token.cancel_query(NoTls)).await;
                self.client = None;
                Err(format!("timed out after {}s", timeout.as_secs()))
            }
        }
    }
}

/// `SQLSTATE: message` for server errors, the error text otherwise.
pub fn describe_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
