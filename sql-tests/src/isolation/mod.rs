//! Multi-session isolation specs, in the spirit of PostgreSQL's isolationtester.
//!
//! A spec (`sql-tests/isolation/NAME.spec`, format in [`spec`]) names sessions, each with its
//! own connection and named SQL steps, and permutations: orders in which to issue the steps.
//! The runner ([`runner`]) issues them over real connections and writes what happened as text;
//! the sibling `NAME.out` holds what PostgreSQL 15 printed for the same spec. Output:
//!
//! ```text
//! starting permutation: s1u s2u s1c s2c
//! step s1u: UPDATE test SET value = 11 WHERE id = 1;
//! step s2u: UPDATE test SET value = 12 WHERE id = 1; <waiting ...>
//! step s1c: COMMIT;
//! step s2u: <... completed>
//! ERROR:  40001: could not serialize access due to concurrent update
//! ```
//!
//! Result sets print as a small table; errors carry their SQLSTATE so codes are compared
//! exactly (details and hints are left out: deadlock details name process ids). The output
//! contains no timings and no ids, so it is the same on every run and on both servers.

pub mod runner;
pub mod spec;

pub use runner::{run_spec, Timing};
pub use spec::{parse, Spec};
