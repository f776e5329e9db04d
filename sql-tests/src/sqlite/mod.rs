//! A runner for SQLite's classic sqllogictest scripts (the value-wise format).
//!
//! The `sqllogictest` crate speaks a newer dialect of the format; the SQLite corpus needs the
//! original rules (one value per line, type-letter formatting, `hash-threshold` with MD5 over
//! sorted values, `skipif`/`onlyif` by engine name), so this runner implements them itself:
//!
//! - [`parser`]: script text → records;
//! - [`format`]: result values → the reference runner's printed form, sorting and hashing;
//! - [`expected`]: the list of records PostgreSQL itself fails;
//! - [`runner`]: runs files against a [`crate::target::Target`] and counts the outcome.
//!
//! Entry points: the `sqlite-slt` binary (any files, e.g. the whole corpus) and the
//! `sqlite_corpus` test (the whole corpus against in-process sledgres, 100 % required).

pub mod expected;
pub mod format;
pub mod parser;
pub mod runner;

pub use expected::ExpectedFailures;
pub use runner::{collect_files, run_all, run_file, Options, Totals};

use std::path::PathBuf;

/// The corpus directory inside this crate (`sql-tests/sqlite`).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sqlite")
}

/// The expected-failures file of the corpus.
pub fn expected_failures_file() -> PathBuf {
    corpus_dir().join("expected-failures.txt")
}
