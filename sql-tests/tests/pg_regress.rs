//! PostgreSQL's regression files (`sql-tests/pg-regress/`, scored per statement by its
//! `score.py` against PostgreSQL 15's expected output) as a ratchet: `run.sh` builds and starts
//! a temporary sledgres and scores the whole set; this test fails when fewer statements pass
//! than the floor recorded in `sql-tests/pg-regress/floor.txt`.
//!
//! The floor is the score last measured, not a target: raise it when a change makes more
//! statements pass, so that no later change can silently lose them. It needs `python3` and
//! `psql` (PostgreSQL 15's client; CI installs postgresql-client); without them the test says
//! so and is skipped.

use std::path::Path;
use std::process::{Command, ExitCode};

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn main() -> ExitCode {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pg-regress");
    if !have("psql") || !have("python3") {
        eprintln!("pg_regress: skipped, psql or python3 is not on PATH");
        return ExitCode::SUCCESS;
    }
    let floor: usize = match std::fs::read_to_string(dir.join("floor.txt")).map(|s| {
        s.lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .and_then(|l| l.trim().parse().ok())
    }) {
        Ok(Some(n)) => n,
        _ => {
            eprintln!("pg_regress: pg-regress/floor.txt has no floor");
            return ExitCode::FAILURE;
        }
    };
    let out = match Command::new(dir.join("run.sh")).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pg_regress: cannot run run.sh: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    // score.py's last summary line: "N passed, M failed".
    let passed = stdout.lines().rev().find_map(|l| {
        let (n, rest) = l.split_once(" passed, ")?;
        rest.ends_with(" failed")
            .then(|| n.trim().parse::<usize>().ok())?
    });
    match passed {
        Some(n) if n >= floor => {
            println!("pg_regress: {n} statements passed (floor {floor})");
            if n > floor {
                println!("pg_regress: raise pg-regress/floor.txt to {n}");
            }
            ExitCode::SUCCESS
        }
        Some(n) => {
            eprintln!("pg_regress: {n} statements passed, below the floor of {floor}");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("pg_regress: run.sh printed no score");
            ExitCode::FAILURE
        }
    }
}
