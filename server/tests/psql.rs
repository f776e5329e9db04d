//! psql's meta-commands (`\d`, `\d+ t`, `\dt`, `\di`, `\dv`, `\ds`, `\dn`, `\df`, `\l`,
//! `\du`, `\x`, `\timing`, `\set ON_ERROR_STOP`, a failed transaction block) against an
//! in-process server, compared byte for byte with PostgreSQL 15's output for the same
//! script (`tests/psql/meta.sql` → `tests/psql/meta.expected`).
//!
//! psql sends its own catalog queries (regular expressions, `OPERATOR(pg_catalog.~)`,
//! `::regclass`, `ARRAY(…)`, `pg_get_indexdef` …), so this checks those end to end. The script
//! avoids what legitimately differs between servers (OIDs, sizes); `\timing`'s `Time:` lines
//! are dropped before comparing.
//!
//! The expected file holds psql's stdout, then its stderr and its exit status. To regenerate
//! it from a PostgreSQL 15 server (the script runs in a fresh database
//! `sledgres_psql_meta` there, created and dropped by the test):
//!
//! ```text
//! SLT_COMPLETE=1 SLEDGRES_TEST_SERVER=127.0.0.1:55432 cargo test -p sledgres --test psql
//! ```
//!
//! The test is skipped (with a message) when `psql` is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

const DB: &str = "sledgres_psql_meta";

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/psql")
}

fn psql_installed() -> bool {
    Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs psql with `args` (plus connection options) in the script directory; returns its
/// stdout (without `\timing` lines), stderr and exit status as one text.
fn run_psql(host: &str, port: &str, db: &str, args: &[&str]) -> String {
    let out = Command::new("psql")
        .current_dir(dir())
        .args(["-X", "-h", host, "-p", port, "-U", "postgres", "-d", db])
        .args(args)
        // Untranslated messages and a fixed client encoding, whatever the machine's locale.
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env("PGCLIENTENCODING", "UTF8")
        .env_remove("PGOPTIONS")
        .env_remove("PSQLRC")
        .output()
        .expect("psql runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stdout: Vec<&str> = stdout
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("Time: "))
        .collect();
    format!(
        "{}-- stderr --\n{}-- exit status: {} --\n",
        stdout.concat(),
        String::from_utf8_lossy(&out.stderr),
        out.status
            .code()
            .map_or("signal".to_string(), |c| c.to_string())
    )
}

fn regenerate(addr: &str) -> String {
    let (host, port) = addr
        .rsplit_once(':')
        .expect("SLEDGRES_TEST_SERVER is host:port");
    let admin = |sql: &str| {
        let out = run_psql(host, port, "postgres", &["-c", sql]);
        assert!(out.ends_with("-- exit status: 0 --\n"), "{sql}: {out}");
    };
    admin(&format!("DROP DATABASE IF EXISTS {DB}"));
    admin(&format!("CREATE DATABASE {DB}"));
    let out = run_psql(host, port, DB, &["-f", "meta.sql"]);
    admin(&format!("DROP DATABASE {DB}"));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_meta_commands_match_postgres() {
    if !psql_installed() {
        eprintln!("skipping psql_meta_commands_match_postgres: psql is not installed");
        return;
    }
    let expected_path = dir().join("meta.expected");
    if std::env::var("SLT_COMPLETE").is_ok() {
        if let Ok(addr) = std::env::var("SLEDGRES_TEST_SERVER") {
            let out = tokio::task::spawn_blocking(move || regenerate(&addr))
                .await
                .expect("psql runs");
            std::fs::write(&expected_path, out).expect("write meta.expected");
        }
    }
    let expected = std::fs::read_to_string(&expected_path).expect("read meta.expected");
    let server = common::server().await;
    let port = server.addr.port().to_string();
    let actual = tokio::task::spawn_blocking(move || {
        run_psql("127.0.0.1", &port, "postgres", &["-f", "meta.sql"])
    })
    .await
    .expect("psql runs");
    if actual != expected {
        let actual_path = std::env::temp_dir().join("sledgres-psql-meta.actual");
        let _ = std::fs::write(&actual_path, &actual);
        panic!(
            "psql output differs from PostgreSQL's (tests/psql/meta.expected); \
             got (also in {}):\n{actual}",
            actual_path.display()
        );
    }
}
