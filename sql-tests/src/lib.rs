//! SQL test suites for sledgres, and the harness that runs them against a real server.
//!
//! Everything here talks to a server over the PostgreSQL wire protocol, exactly as a client
//! would, so the same suites validate sledgres and — pointed at a real PostgreSQL 15 through
//! `SLEDGRES_TEST_SERVER=host:port` — validate themselves: an expected result is only trusted
//! once PostgreSQL produces it.
//!
//! - [`target`]: which server a file runs against, and a clean database per file;
//! - [`sqlite`]: our runner for SQLite's classic sqllogictest corpus (`sql-tests/sqlite/`);
//! - [`slt`]: engines for the `sqllogictest` crate over the simple and the extended query
//!   protocol, used by the `.slt` suite (`sql-tests/slt/`, `tests/slt.rs`);
//! - [`isolation`]: multi-session specs with blocking steps (`sql-tests/isolation/`,
//!   `tests/isolation.rs`).

pub mod isolation;
pub mod slt;
pub mod sqlite;
pub mod target;
