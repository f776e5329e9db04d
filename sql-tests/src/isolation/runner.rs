//! Running a spec: one connection per session, steps issued in permutation order, and the
//! output text that is compared with the `.out` file.
//!
//! **How blocking is detected.** Every step runs as a tokio task on its session's own
//! connection (simple query protocol). After issuing a step the runner waits up to the *grace
//! period* (300 ms by default, `ISOLATION_GRACE_MS`) for it; if it has not completed by then,
//! it is *waiting*: the output says `step s2a: SQL <waiting ...>` and the runner moves on.
//! After every step, the waiting steps get the grace period again: those that completed are
//! printed as `step s2a: <... completed>` plus their result, in the order they were issued
//! (after a first completion the runner lets 30 ms pass, so completions caused by the same step
//! land in one group), and this repeats until a grace period passes with no completion, so
//! chains of wake-ups are followed. At the end of a permutation the runner waits up to 30 s for
//! steps still waiting (a deadlock victim chosen after a long `deadlock_timeout`) and fails the
//! permutation if one never completes.
//!
//! This is timing, not introspection: a step that is merely slow (longer than the grace period)
//! looks blocked, and a step that blocks only briefly looks like it never blocked. PostgreSQL's
//! isolationtester asks the server whether a backend waits on a lock
//! (`pg_isolation_test_session_is_blocked`), which sledgres does not offer and which would not
//! let the same specs check both servers. The specs here only run statements that take a few
//! milliseconds on small tables, so 300 ms leaves two orders of magnitude of margin; deadlock
//! specs use `deadlock_timeout` values well below and well above it (e.g. 10 ms vs 5 s) so the
//! victim is always the same session and is reported within its step's grace period.
//!
//! Issuing a step on a session whose previous step is still waiting is an error in the spec
//! (the connection would just queue it), reported as a failure of the permutation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, SimpleQueryMessage};

use super::spec::Spec;
use crate::target::connect;

/// How long the runner waits for steps before calling them blocked, and related timings.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub grace: Duration,
    /// After a first completion, how long to wait for the completions that came with it.
    pub settle: Duration,
    /// How long steps still waiting at the end of a permutation may take.
    pub final_wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            grace: Duration::from_millis(300),
            settle: Duration::from_millis(30),
            final_wait: Duration::from_secs(30),
        }
    }
}

impl Timing {
    /// Defaults, with the grace period from `ISOLATION_GRACE_MS` if set.
    pub fn from_env() -> Timing {
        let mut t = Timing::default();
        if let Some(ms) = std::env::var("ISOLATION_GRACE_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            t.grace = Duration::from_millis(ms);
        }
        t
    }
}

/// A step that has been issued and not yet reported complete.
struct Pending {
    step: String,
    seq: usize,
    task: JoinHandle<String>,
}

struct Session {
    client: Arc<Client>,
    pending: Option<Pending>,
}

/// Runs every permutation of `spec` against the database `config` points at and returns the
/// output text. `Err` is for failures that make the output meaningless (cannot connect).
pub async fn run_spec(spec: &Spec, config: &Config, timing: Timing) -> Result<String, String> {
    let mut out = format!("Parsed test spec with {} sessions\n", spec.sessions.len());
    let control = connect(config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    for perm in spec.all_permutations() {
        out.push_str(&format!("\nstarting permutation: {}\n", perm.join(" ")));
        run_permutation(spec, &perm, config, &control, timing, &mut out).await?;
    }
    Ok(out)
}

async fn run_permutation(
    spec: &Spec,
    perm: &[String],
    config: &Config,
    control: &Client,
    timing: Timing,
    out: &mut String,
) -> Result<(), String> {
    for sql in &spec.setup {
        let result = run_sql(control, sql).await;
        if !result.is_empty() && result.contains("ERROR:") {
            out.push_str(&format!("setup failed: {result}"));
        }
    }
    let mut sessions = Vec::new();
    for s in &spec.sessions {
        let client = Arc::new(
            connect(config)
                .await
                .map_err(|e| format!("session {}: cannot connect: {e}", s.name))?,
        );
        if let Some(sql) = &s.setup {
            let result = run_sql(&client, sql).await;
            if result.contains("ERROR:") {
                out.push_str(&format!("setup of session {} failed: {result}", s.name));
            }
        }
        sessions.push(Session {
            client,
            pending: None,
        });
    }

    for (seq, name) in perm.iter().enumerate() {
        let Some((index, step)) = spec.find_step(name) else {
            return Err(format!("unknown step {name}"));
        };
        if let Some(p) = &sessions[index].pending {
            out.push_str(&format!(
                "spec error: step {name} issued while step {} of the same session is waiting\n",
                p.step
            ));
            break;
        }
        let client = sessions[index].client.clone();
        let sql = step.sql.clone();
        let mut task = tokio::spawn(async move { run_sql(&client, &sql).await });
        match tokio::time::timeout(timing.grace, &mut task).await {
            Ok(result) => {
                out.push_str(&format!("step {name}: {}\n", step.sql));
                out.push_str(&join_text(result));
            }
            Err(_) => {
                out.push_str(&format!("step {name}: {} <waiting ...>\n", step.sql));
                sessions[index].pending = Some(Pending {
                    step: name.clone(),
                    seq,
                    task,
                });
            }
        }
        drain(&mut sessions, timing.grace, timing.settle, out).await;
    }
    drain(&mut sessions, timing.final_wait, timing.settle, out).await;
    for (s, spec_s) in sessions.iter_mut().zip(&spec.sessions) {
        if let Some(p) = s.pending.take() {
            out.push_str(&format!(
                "step {} still waiting at the end of the permutation; cancelled\n",
                p.step
            ));
            let _ = s
                .client
                .cancel_token()
                .cancel_query(tokio_postgres::NoTls)
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(5), p.task).await;
        }
        if let Some(sql) = &spec_s.teardown {
            let result = run_sql(&s.client, sql).await;
            if result.contains("ERROR:") {
                out.push_str(&format!(
                    "teardown of session {} failed: {result}",
                    spec_s.name
                ));
            }
        }
    }
    // Close the sessions (rolling back whatever they left open) before the teardown.
    drop(sessions);
    if let Some(sql) = &spec.teardown {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let result = run_sql(control, sql).await;
            if !result.contains("ERROR:") {
                break;
            }
            // A closed session's rollback may still hold a lock for a moment.
            if Instant::now() > deadline {
                out.push_str(&format!("teardown failed: {result}"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Reports waiting steps that complete within `grace`, repeatedly, in issue order.
async fn drain(sessions: &mut [Session], grace: Duration, settle: Duration, out: &mut String) {
    loop {
        if sessions.iter().all(|s| s.pending.is_none()) {
            return;
        }
        let start = Instant::now();
        let finished = |sessions: &[Session]| {
            sessions
                .iter()
                .any(|s| s.pending.as_ref().is_some_and(|p| p.task.is_finished()))
        };
        while !finished(sessions) && start.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !finished(sessions) {
            return;
        }
        tokio::time::sleep(settle).await;
        let mut done: Vec<Pending> = Vec::new();
        for s in sessions.iter_mut() {
            if s.pending.as_ref().is_some_and(|p| p.task.is_finished()) {
                done.extend(s.pending.take());
            }
        }
        done.sort_by_key(|p| p.seq);
        for p in done {
            out.push_str(&format!("step {}: <... completed>\n", p.step));
            out.push_str(&join_text(p.task.await));
        }
    }
}

fn join_text(result: Result<String, tokio::task::JoinError>) -> String {
    result.unwrap_or_else(|e| format!("runner error: step task failed: {e}\n"))
}

/// Runs `sql` as one simple query and renders what came back: a table per result set, and
/// `ERROR:  SQLSTATE: message` if a statement failed (results before it are kept).
pub async fn run_sql(client: &Client, sql: &str) -> String {
    let mut out = String::new();
    let stream = match client.simple_query_raw(sql).await {
        Ok(s) => s,
        Err(e) => return format_error(&e),
    };
    futures::pin_mut!(stream);
    let mut columns: Option<Vec<String>> = None;
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(SimpleQueryMessage::RowDescription(cols)) => {
                columns = Some(cols.iter().map(|c| c.name().to_string()).collect());
                rows.clear();
            }
            Ok(SimpleQueryMessage::Row(row)) => {
                rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                );
            }
            Ok(SimpleQueryMessage::CommandComplete(_)) => {
                if let Some(cols) = columns.take() {
                    out.push_str(&format_table(&cols, &rows));
                }
                rows.clear();
            }
            Ok(_) => {}
            Err(e) => {
                out.push_str(&format_error(&e));
                break;
            }
        }
    }
    out
}

fn format_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("ERROR:  {}: {}\n", db.code().code(), db.message()),
        None => format!("ERROR:  (client) {e}\n"),
    }
}

/// A result set as isolationtester prints one, left-aligned (the simple protocol carries no
/// types to align by): header, dashes, rows (NULL as empty), row count.
fn format_table(columns: &[String], rows: &[Vec<Option<String>>]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(v.as_deref().unwrap_or("").chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        format!("{}\n", padded.join("|").trim_end())
    };
    let mut out = line(columns.iter().map(String::as_str).collect());
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("{}\n", dashes.join("+")));
    for row in rows {
        out.push_str(&line(
            row.iter().map(|v| v.as_deref().unwrap_or("")).collect(),
        ));
    }
    let n = rows.len();
    out.push_str(&format!("({n} row{})\n\n", if n == 1 { "" } else { "s" }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_tables() {
        let cols = vec!["id".to_string(), "value".to_string()];
        let rows = vec![
            vec![Some("1".to_string()), Some("10".to_string())],
            vec![Some("200".to_string()), None],
        ];
        assert_eq!(
            format_table(&cols, &rows),
            "id |value\n---+-----\n1  |10\n200|\n(2 rows)\n\n"
        );
        assert_eq!(format_table(&cols, &[]), "id|value\n--+-----\n(0 rows)\n\n");
    }
}
