//! SQLite's sqllogictest corpus (all of `sql-tests/sqlite/`: select1–5, evidence/, random/,
//! index/) through our value-wise runner: every record PostgreSQL 15 passes must pass. The
//! whole set takes a few minutes in a release build, so CI runs all of it.
//!
//! Runs against in-process sledgres (a fresh server per file), or against the server named by
//! `SLEDGRES_TEST_SERVER=host:port` (that is how the runner itself is checked on PostgreSQL).
//! `harness = false`: a plain tokio main, so the output is the runner's own report.

use std::process::ExitCode;

use sql_tests::sqlite::{self, run_all, ExpectedFailures, Options};
use sql_tests::target::Target;

#[tokio::main]
async fn main() -> ExitCode {
    // `cargo test -- --list` and friends: this target has no individually named tests.
    if std::env::args().any(|a| a == "--list") {
        println!("sqlite_corpus: test");
        return ExitCode::SUCCESS;
    }
    let target = match Target::from_env() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let files = match sqlite::collect_files(&[sqlite::corpus_dir()]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let expected = match ExpectedFailures::load(&sqlite::expected_failures_file()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "sqlite_corpus: {} files against {}",
        files.len(),
        target.describe()
    );
    let totals = run_all(&target, &files, &expected, &Options::default()).await;
    // 100 % required: any failure, and also a run that ran nothing, fails the test.
    if totals.failed > 0 || totals.passed == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
