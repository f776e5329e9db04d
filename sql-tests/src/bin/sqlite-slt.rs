//! `sqlite-slt`: runs SQLite-style sqllogictest scripts (the classic value-wise format) against
//! sledgres or any PostgreSQL-wire server and prints `N passed, N failed, N skipped`.
//!
//! ```text
//! cargo run --release -p sql-tests --bin sqlite-slt -- sql-tests/sqlite            # whole corpus
//! cargo run --release -p sql-tests --bin sqlite-slt -- --server 127.0.0.1:5432 sql-tests/sqlite/select1.test
//! ```
//!
//! Without `--server` (or `SLEDGRES_TEST_SERVER`) each file gets a fresh in-process sledgres.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sql_tests::sqlite::parser::parse;
use sql_tests::sqlite::{self, collect_files, run_all, ExpectedFailures, Options};
use sql_tests::target::{Target, SERVER_ENV};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Run SQLite-style sqllogictest scripts against sledgres"
)]
struct Args {
    /// External server (host:port) instead of in-process sledgres; user/database from
    /// SLEDGRES_TEST_USER / SLEDGRES_TEST_DB (default postgres).
    #[arg(long, env = SERVER_ENV)]
    server: Option<String>,
    /// Print every failure in full.
    #[arg(long)]
    verbose: bool,
    /// Stop at the first failure.
    #[arg(long)]
    fail_fast: bool,
    /// Longest one statement may run, in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Expected-failures list (`path:line reason`).
    #[arg(long, default_value_os_t = sqlite::expected_failures_file())]
    expected_failures: PathBuf,
    /// Engine name for skipif/onlyif.
    #[arg(long, default_value = "postgresql")]
    engine: String,
    /// Only parse and count the records (no server).
    #[arg(long)]
    dry_run: bool,
    /// Script files or directories (searched for *.test).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let files = match collect_files(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.dry_run {
        return dry_run(&files, &args.engine);
    }
    let expected = if args.expected_failures.exists() {
        match ExpectedFailures::load(&args.expected_failures) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        ExpectedFailures::default()
    };
    let target = match args.server.as_deref().filter(|s| !s.is_empty()) {
        Some(addr) => match Target::external(addr) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => Target::InProcess,
    };
    println!(
        "running {} files against {}",
        files.len(),
        target.describe()
    );
    let opts = Options {
        engine: args.engine,
        verbose: args.verbose,
        fail_fast: args.fail_fast,
        timeout: Duration::from_secs(args.timeout),
    };
    let totals = run_all(&target, &files, &expected, &opts).await;
    if totals.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Counts records without running them: a check of the parser against the corpus README.
fn dry_run(files: &[PathBuf], engine: &str) -> ExitCode {
    let (mut total, mut skipped) = (0usize, 0usize);
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            eprintln!("error: cannot read {}", f.display());
            return ExitCode::from(2);
        };
        let mut halted = false;
        for r in parse(&text) {
            if !r.is_test() {
                if r.applies_to(engine) && r.kind == sqlite::parser::RecordKind::Halt {
                    halted = true;
                }
                continue;
            }
            total += 1;
            if halted || !r.applies_to(engine) {
                skipped += 1;
            }
        }
    }
    println!(
        "{} files, {total} records: {skipped} skipped, {} run",
        files.len(),
        total - skipped
    );
    ExitCode::SUCCESS
}
