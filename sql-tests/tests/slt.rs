//! The `.slt` suite: every `sql-tests/slt/**/*.slt` file, run by the `sqllogictest` crate over
//! both the simple and the extended query protocol, each run on a clean database.
//!
//! Against in-process sledgres (a fresh server per file and protocol) unless
//! `SLEDGRES_TEST_SERVER=host:port` names another server — e.g. PostgreSQL 15, where every file
//! must pass too: that is where the expected results come from.
//! Writing a new file: put the queries in with empty results, then run
//! `SLEDGRES_TEST_SERVER=127.0.0.1:PORT SLT_COMPLETE=1 cargo test -p sql-tests --test slt -- NAME`
//! against PostgreSQL 15 (`../shared/tools/pgref`): the results are filled in from PostgreSQL
//! (extended protocol, so column types are written too). Review the diff before committing.
//! Optional filter: `cargo test -p sql-tests --test slt -- NAME` runs the files whose path
//! contains NAME.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use sql_tests::slt::{column_validator, PgEngine, Protocol};
use sql_tests::target::Target;
use sqllogictest::{default_normalizer, default_validator, Runner};

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            slt_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "slt") {
            out.push(p);
        }
    }
}

async fn run_one(target: &Target, path: &Path, protocol: Protocol) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let scratch = target.scratch(&text).await?;
    let config = scratch.config();
    let mut runner = Runner::new(move || {
        let config = config.clone();
        async move { PgEngine::connect(&config, protocol).await }
    });
    runner.with_column_validator(column_validator);
    let result = if std::env::var("SLT_COMPLETE").is_ok_and(|v| v == "1") {
        runner
            .update_test_file(
                path,
                " ",
                default_validator,
                default_normalizer,
                column_validator,
            )
            .await
            .map_err(|e| e.to_string())
    } else {
        runner
            .run_file_async(path)
            .await
            .map_err(|e| e.display(false).to_string())
    };
    runner.shutdown_async().await;
    scratch.finish().await;
    result
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("slt: test");
        return ExitCode::SUCCESS;
    }
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let target = match Target::from_env() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut files = Vec::new();
    slt_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("slt"),
        &mut files,
    );
    if let Some(f) = &filter {
        files.retain(|p| p.to_string_lossy().contains(f.as_str()));
    }
    println!("slt: {} files against {}", files.len(), target.describe());
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let name = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(file)
            .display()
            .to_string();
        let protocols = if std::env::var("SLT_COMPLETE").is_ok_and(|v| v == "1") {
            vec![Protocol::Extended]
        } else {
            vec![Protocol::Simple, Protocol::Extended]
        };
        for protocol in protocols {
            let started = Instant::now();
            match run_one(&target, file, protocol).await {
                Ok(()) => {
                    passed += 1;
                    println!(
                        "ok   {name} [{protocol}] ({:.2}s)",
                        started.elapsed().as_secs_f64()
                    );
                }
                Err(e) => {
                    failed += 1;
                    println!("FAIL {name} [{protocol}]\n{e}");
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || passed == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
