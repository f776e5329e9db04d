//! The isolation suite: every `sql-tests/isolation/*.spec`, each against a clean database
//! (a fresh in-process sledgres per spec, or `SLEDGRES_TEST_SERVER=host:port`), its output
//! compared with the sibling `.out` file (see `sql_tests::isolation` for the format and how
//! blocking is detected).
//!
//! Writing a spec: create `NAME.spec`, then generate `NAME.out` from PostgreSQL 15 —
//! `../shared/tools/pgref start PORT`, then
//! `SLEDGRES_TEST_SERVER=127.0.0.1:PORT ISOLATION_COMPLETE=1 cargo test --release -p sql-tests
//! --test isolation -- NAME` — review it, and run the suite against sledgres.
//! Optional filter argument: run the specs whose name contains it. `ISOLATION_GRACE_MS`
//! changes the grace period after which a step counts as waiting (default 300);
//! `ISOLATION_DIR=/some/dir` runs the specs of another directory (e.g. PostgreSQL's own, kept
//! outside the repository) instead of `sql-tests/isolation/`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use sql_tests::isolation::{parse, run_spec, Timing};
use sql_tests::target::Target;

fn spec_files() -> Vec<PathBuf> {
    let dir = match std::env::var_os("ISOLATION_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("isolation"),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "spec"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The first lines where `expected` and `actual` differ, with context.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let first = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let from = first.saturating_sub(6);
    let mut out = format!("first difference at line {}\n--- expected\n", first + 1);
    for l in e.iter().skip(from).take(16) {
        out.push_str(&format!("  {l}\n"));
    }
    out.push_str("--- actual\n");
    for l in a.iter().skip(from).take(16) {
        out.push_str(&format!("  {l}\n"));
    }
    out
}

async fn run_one(
    target: &Target,
    path: &Path,
    timing: Timing,
    complete: bool,
) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let spec = parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let scratch = target.scratch(&text).await?;
    let result = run_spec(&spec, &scratch.config(), timing).await;
    scratch.finish().await;
    let actual = result?;
    let out_path = path.with_extension("out");
    if complete {
        return std::fs::write(&out_path, actual).map_err(|e| e.to_string());
    }
    let expected = std::fs::read_to_string(&out_path).map_err(|e| {
        format!(
            "{}: {e} (generate it with ISOLATION_COMPLETE=1)",
            out_path.display()
        )
    })?;
    if expected == actual {
        Ok(())
    } else {
        let dump = std::env::temp_dir().join(format!(
            "isolation-{}.out",
            path.file_stem().unwrap_or_default().to_string_lossy()
        ));
        let _ = std::fs::write(&dump, &actual);
        Err(format!(
            "{}(whole output in {})",
            diff(&expected, &actual),
            dump.display()
        ))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("isolation: test");
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
    let complete = std::env::var("ISOLATION_COMPLETE").is_ok_and(|v| v == "1");
    let timing = Timing::from_env();
    let mut files = spec_files();
    if let Some(f) = &filter {
        files.retain(|p| {
            p.file_stem()
                .is_some_and(|s| s.to_string_lossy().contains(f.as_str()))
        });
    }
    println!(
        "isolation: {} specs against {}",
        files.len(),
        target.describe()
    );
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let name = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let started = Instant::now();
        match run_one(&target, file, timing, complete).await {
            Ok(()) => {
                passed += 1;
                let verb = if complete { "wrote" } else { "ok  " };
                println!("{verb} {name} ({:.2}s)", started.elapsed().as_secs_f64());
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}\n{e}");
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
