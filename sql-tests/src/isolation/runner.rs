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

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, SimpleQueryMessage};

use super::spec::{Blocker, PermutationStep, Spec};
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
    /// Annotations from the permutation that keep the step "waiting" although it finished.
    blockers: Vec<Blocker>,
    /// The session's notice count when the step was issued (for `(step notices N)`).
    notice_base: usize,
    /// It finished at once but an annotation held it: it stays waiting at least until the
    /// next step is issued (isolationtester checks a new step before the older waiting ones).
    held_at_issue: bool,
}

/// Notices a session's connection received: the ones not yet printed, and how many in all.
#[derive(Default)]
struct Notices {
    unprinted: Vec<String>,
    total: usize,
}

struct Session {
    name: String,
    client: Arc<Client>,
    notices: Arc<Mutex<Notices>>,
    pending: Option<Pending>,
}

/// Locks a session's notice buffer; a poisoned lock (a panicked connection task) still holds
/// usable data.
fn lock(n: &Mutex<Notices>) -> std::sync::MutexGuard<'_, Notices> {
    n.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens a connection whose notices (and warnings) are collected into `notices`, as
/// isolationtester's notice processor does.
async fn connect_collecting(
    config: &Config,
    notices: Arc<Mutex<Notices>>,
) -> Result<Client, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        loop {
            match futures::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notice(db))) => {
                    let mut n = lock(&notices);
                    n.unprinted
                        .push(format!("{}:  {}\n", db.severity(), db.message()));
                    n.total += 1;
                }
                Some(Ok(_)) => {}
                // The error, if any, surfaces on the client's next call as "connection closed".
                Some(Err(_)) | None => break,
            }
        }
    });
    Ok(client)
}

/// Prints a session's unprinted notices, prefixed with its name. Like libpq, which hands a
/// notice over when it reads the step's results, they print just before the step is reported.
fn flush_notices(session: &Session, out: &mut String) {
    let mut n = lock(&session.notices);
    for msg in n.unprinted.drain(..) {
        out.push_str(&format!("{}: {msg}", session.name));
    }
}

/// Runs every permutation of `spec` against the database `config` points at and returns the
/// output text. `Err` is for failures that make the output meaningless (cannot connect).
pub async fn run_spec(spec: &Spec, config: &Config, timing: Timing) -> Result<String, String> {
    let mut out = String::new();
    for name in spec.unused_steps() {
        out.push_str(&format!("unused step name: {name}\n"));
    }
    out.push_str(&format!(
        "Parsed test spec with {} sessions\n",
        spec.sessions.len()
    ));
    let control = connect(config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    for perm in spec.all_permutations() {
        let names: Vec<&str> = perm.iter().map(|p| p.name.as_str()).collect();
        out.push_str(&format!("\nstarting permutation: {}\n", names.join(" ")));
        run_permutation(spec, &perm, config, &control, timing, &mut out).await?;
    }
    Ok(out)
}

/// Whether a finished step still counts as waiting because of its annotations, when the step
/// at position `current` of the permutation is the last one issued.
fn held_by_annotation(p: &Pending, sessions: &[Session], current: usize) -> bool {
    if p.held_at_issue && p.seq == current {
        return true;
    }
    p.blockers.iter().any(|b| match b {
        Blocker::Once => p.seq == current,
        Blocker::Step { name, notices } => sessions.iter().any(|s| {
            s.pending.as_ref().is_some_and(|other| {
                other.step == *name
                    && match notices {
                        None => true,
                        Some(n) => lock(&s.notices).total - other.notice_base < *n as usize,
                    }
            })
        }),
    })
}

async fn run_permutation(
    spec: &Spec,
    perm: &[PermutationStep],
    config: &Config,
    control: &Client,
    timing: Timing,
    out: &mut String,
) -> Result<(), String> {
    for sql in &spec.setup {
        let result = run_sql(control, sql).await;
        if result.contains("ERROR:") {
            out.push_str(&format!("setup failed: {result}"));
        } else {
            out.push_str(&result);
        }
    }
    let mut sessions = Vec::new();
    for s in &spec.sessions {
        let notices = Arc::new(Mutex::new(Notices::default()));
        let client = Arc::new(
            connect_collecting(config, notices.clone())
                .await
                .map_err(|e| format!("session {}: cannot connect: {e}", s.name))?,
        );
        if let Some(sql) = &s.setup {
            let result = run_sql(&client, sql).await;
            if result.contains("ERROR:") {
                out.push_str(&format!("setup of session {} failed: {result}", s.name));
            } else {
                out.push_str(&result);
            }
        }
        sessions.push(Session {
            name: s.name.clone(),
            client,
            notices,
            pending: None,
        });
    }

    for (seq, pstep) in perm.iter().enumerate() {
        let name = &pstep.name;
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
        let notice_base = lock(&sessions[index].notices).total;
        let mut task = tokio::spawn(async move { run_sql(&client, &sql).await });
        let finished = tokio::time::timeout(timing.grace, &mut task).await;
        let pending = Pending {
            step: name.clone(),
            seq,
            task,
            blockers: pstep.blockers.clone(),
            notice_base,
            held_at_issue: false,
        };
        let held = held_by_annotation(&pending, &sessions, seq);
        if !held || finished.is_err() {
            flush_notices(&sessions[index], out);
        }
        match finished {
            Ok(result) if !held => {
                out.push_str(&format!("step {name}: {}\n", step.sql));
                out.push_str(&join_text(result));
            }
            Ok(result) => {
                // Finished, but its annotation says to report it later: keep the text.
                out.push_str(&format!("step {name}: {} <waiting ...>\n", step.sql));
                let text = join_text(result);
                sessions[index].pending = Some(Pending {
                    task: tokio::spawn(async move { text }),
                    held_at_issue: true,
                    ..pending
                });
            }
            Err(_) => {
                out.push_str(&format!("step {name}: {} <waiting ...>\n", step.sql));
                sessions[index].pending = Some(pending);
            }
        }
        drain(&mut sessions, seq, timing.grace, timing.settle, out).await;
    }
    drain(
        &mut sessions,
        perm.len(),
        timing.final_wait,
        timing.settle,
        out,
    )
    .await;
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
        flush_notices(s, out);
        if let Some(sql) = &spec_s.teardown {
            let result = run_sql(&s.client, sql).await;
            flush_notices(s, out);
            if result.contains("ERROR:") {
                out.push_str(&format!(
                    "teardown of session {} failed: {result}",
                    spec_s.name
                ));
            } else {
                out.push_str(&result);
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
                out.push_str(&result);
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

/// Whether a waiting step may now be reported complete: it finished and no annotation holds it.
fn completable(sessions: &[Session], i: usize, current: usize) -> bool {
    sessions[i]
        .pending
        .as_ref()
        .is_some_and(|p| p.task.is_finished() && !held_by_annotation(p, sessions, current))
}

/// Reports waiting steps that complete within `grace`, repeatedly, in issue order; `current`
/// is the position of the step issued last.
async fn drain(
    sessions: &mut [Session],
    current: usize,
    grace: Duration,
    settle: Duration,
    out: &mut String,
) {
    loop {
        if sessions.iter().all(|s| s.pending.is_none()) {
            return;
        }
        let start = Instant::now();
        let any =
            |sessions: &[Session]| (0..sessions.len()).any(|i| completable(sessions, i, current));
        while !any(sessions) && start.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !any(sessions) {
            return;
        }
        tokio::time::sleep(settle).await;
        let ready: Vec<usize> = (0..sessions.len())
            .filter(|&i| completable(sessions, i, current))
            .collect();
        let mut done: Vec<(usize, Pending)> = ready
            .into_iter()
            .filter_map(|i| sessions[i].pending.take().map(|p| (i, p)))
            .collect();
        done.sort_by_key(|(_, p)| p.seq);
        for (i, p) in done {
            flush_notices(&sessions[i], out);
            out.push_str(&format!("step {}: <... completed>\n", p.step));
            out.push_str(&join_text(p.task.await));
        }
    }
}

fn join_text(result: Result<String, tokio::task::JoinError>) -> String {
    result.unwrap_or_else(|e| format!("runner error: step task failed: {e}\n"))
}

/// Runs `sql` as one simple query and renders what came back as isolationtester does: a table
/// per result set, and `ERROR:  message` if a statement failed (results before it are kept).
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

/// An error as libpq prints it with terse verbosity: severity and message, no SQLSTATE,
/// detail or hint (deadlock details name process ids).
fn format_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}:  {}\n", db.severity(), db.message()),
        None => format!("ERROR:  (client) {e}\n"),
    }
}

/// Whether libpq's `PQprint` takes a value for a number (and so right-aligns its column):
/// only digits, `.`, `e`/`E`, spaces and `-`, not starting with `e`/`E`, ending in a digit.
/// The empty string (and NULL) counts as a number.
fn looks_numeric(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    v.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | ' ' | '-'))
        && !v.starts_with(['e', 'E'])
        && v.ends_with(|c: char| c.is_ascii_digit())
}

/// A result set as isolationtester prints one (libpq's `PQprint`, aligned, `|` separated):
/// columns whose every value looks numeric are right-aligned, header included, the others
/// left-aligned and padded to the column width; NULL prints as empty; then the row count.
fn format_table(columns: &[String], rows: &[Vec<Option<String>>]) -> String {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    let mut numeric = vec![true; columns.len()];
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            let v = v.as_deref().unwrap_or("");
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(v.chars().count());
            }
            if let Some(n) = numeric.get_mut(i) {
                *n = *n && looks_numeric(v);
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if numeric.get(i).copied().unwrap_or(false) {
                    format!("{c:>w$}")
                } else {
                    format!("{c:<w$}")
                }
            })
            .collect();
        format!("{}\n", padded.join("|"))
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
            " id|value\n---+-----\n  1|   10\n200|     \n(2 rows)\n\n"
        );
        assert_eq!(format_table(&cols, &[]), "id|value\n--+-----\n(0 rows)\n\n");
        let text = vec![vec![Some("x".to_string()), Some("1e5".to_string())]];
        assert_eq!(
            format_table(&["name".to_string(), "s".to_string()], &text),
            "name|  s\n----+---\nx   |1e5\n(1 row)\n\n"
        );
    }
}
