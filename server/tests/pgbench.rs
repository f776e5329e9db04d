//! pgbench, unmodified, against an in-process server: initialisation both ways (`-i`:
//! client-side COPY … WITH (FREEZE ON), VACUUM, ALTER TABLE … ADD PRIMARY KEY; `-I dtGvp`:
//! INSERT … SELECT … FROM generate_series), the built-in TPC-B script under each query mode
//! (`-M simple|extended|prepared`, which also runs PREPARE-level Parse/Bind), the select-only
//! script (`-S`), and TPC-B at SERIALIZABLE with `--max-tries` retrying 40001. Every run must
//! end with 0 failed transactions, and afterwards the balances must add up: the history's
//! deltas equal each of the account, teller and branch totals.
//!
//! Needs the real `pgbench` (Debian's postgresql-client; `.ci/run` installs it). Without it
//! the test says so and passes. Runs are 2–3 s each; the whole test takes about 40 s.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

mod common;
use common::{connect, rows, server};

/// pgbench on PATH, or from an installed PostgreSQL's bin directory.
fn pgbench() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("pgbench"))
            .collect::<Vec<_>>()
    });
    let installed = ["/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"]
        .into_iter()
        .map(|d| PathBuf::from(d).join("pgbench"));
    on_path.chain(installed).find(|p| p.is_file())
}

/// Runs pgbench with `args` against the server on `port`; returns its combined output, or
/// fails the test with that output if pgbench exits with an error.
async fn run(bin: &PathBuf, port: u16, args: &[&str], options: Option<&str>) -> String {
    let mut cmd = Command::new(bin);
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .arg("postgres")
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE")
        .env_remove("PGDATABASE");
    match options {
        Some(o) => cmd.env("PGOPTIONS", o),
        None => cmd.env_remove("PGOPTIONS"),
    };
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("pgbench task")
        .expect("pgbench runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "pgbench {args:?} failed ({:?}):\n{text}",
        out.status
    );
    eprintln!(
        "pgbench {args:?}: {:.1} s\n{}",
        started.elapsed().as_secs_f64(),
        text.lines()
            .filter(|l| l.starts_with("number of") || l.starts_with("tps") || l.contains("done in"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    text
}

/// Checks a benchmark run's summary: transactions were processed and none failed.
fn assert_no_failures(out: &str) {
    let processed = out
        .lines()
        .find_map(|l| l.strip_prefix("number of transactions actually processed: "))
        .and_then(|n| n.split('/').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no transaction count in:\n{out}"));
    assert!(processed > 0, "no transactions processed:\n{out}");
    assert!(
        out.contains("number of failed transactions: 0 "),
        "failed transactions:\n{out}"
    );
    assert!(!out.contains("aborted"), "a client aborted:\n{out}");
}

/// sum(history.delta) = sum(abalance) = sum(bbalance) = sum(tbalance), and one history row
/// per TPC-B transaction.
async fn assert_balances(client: &tokio_postgres::Client) {
    let sums = rows(
        client,
        "SELECT (SELECT coalesce(sum(delta), 0) FROM pgbench_history), \
                (SELECT sum(abalance) FROM pgbench_accounts), \
                (SELECT sum(bbalance) FROM pgbench_branches), \
                (SELECT sum(tbalance) FROM pgbench_tellers), \
                (SELECT count(*) FROM pgbench_history)",
    )
    .await;
    let r = &sums[0];
    assert_eq!(r[0], r[1], "history vs accounts: {r:?}");
    assert_eq!(r[0], r[2], "history vs branches: {r:?}");
    assert_eq!(r[0], r[3], "history vs tellers: {r:?}");
    assert_ne!(r[4].as_deref(), Some("0"), "no history rows: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pgbench_initialises_and_runs_tpcb_in_every_mode() {
    let Some(bin) = pgbench() else {
        eprintln!(
            "SKIPPED pgbench_initialises_and_runs_tpcb_in_every_mode: pgbench is not installed \
             (apt-get install postgresql-client)"
        );
        return;
    };
    let srv = server().await;
    // The runs use -n (no VACUUM): without it pgbench truncates pgbench_history before each
    // run, and the balances would no longer match the history's deltas.
    let port = srv.addr.port();
    let client = connect(&srv).await;

    // Server-side generation first (scale 1 keeps it short), then the default client-side
    // one, which the runs use.
    let out = run(&bin, port, &["-i", "-I", "dtGvp", "-s", "1"], None).await;
    assert!(out.contains("generating data (server-side)"), "{out}");
    assert_eq!(
        rows(&client, "SELECT count(*), sum(bid) FROM pgbench_accounts").await,
        vec![vec![common::s("100000"), common::s("100000")]]
    );
    let out = run(&bin, port, &["-i", "-s", "2"], None).await;
    assert!(out.contains("generating data (client-side)"), "{out}");
    assert!(out.contains("creating primary keys"), "{out}");
    assert_eq!(
        rows(
            &client,
            "SELECT (SELECT count(*) FROM pgbench_accounts), \
                    (SELECT count(*) FROM pgbench_tellers), \
                    (SELECT count(*) FROM pgbench_branches)"
        )
        .await,
        vec![vec![common::s("200000"), common::s("20"), common::s("2")]]
    );

    for mode in ["simple", "extended", "prepared"] {
        let out = run(
            &bin,
            port,
            &["-n", "-M", mode, "-c", "4", "-j", "2", "-T", "2"],
            None,
        )
        .await;
        assert!(out.contains(&format!("query mode: {mode}")), "{out}");
        assert_no_failures(&out);
        assert_balances(&client).await;
    }

    let out = run(
        &bin,
        port,
        &[
            "-n", "-S", "-M", "prepared", "-c", "4", "-j", "2", "-T", "2",
        ],
        None,
    )
    .await;
    assert!(out.contains("select only"), "{out}");
    assert_no_failures(&out);

    // SERIALIZABLE: conflicting updates fail with 40001 and pgbench retries them. Four
    // clients on two branches conflict often (PostgreSQL itself fails a quarter of these
    // transactions after 10 tries), so allow more tries than the 10 that suffice at scale 10.
    let out = run(
        &bin,
        port,
        &[
            "-n",
            "-M",
            "prepared",
            "-c",
            "4",
            "-j",
            "2",
            "-T",
            "3",
            "--max-tries=100",
        ],
        Some("-c default_transaction_isolation=serializable"),
    )
    .await;
    assert_no_failures(&out);
    assert_balances(&client).await;
}
