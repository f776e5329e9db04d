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
//! ERROR:  could not serialize access due to concurrent update
//! ```
//!
//! The text is byte-for-byte what PostgreSQL's isolationtester prints for the same events:
//! `unused step name:` lines, result sets as libpq's `PQprint` aligns them (numeric-looking
//! columns right-aligned), errors with terse verbosity (severity and message; details and
//! hints are left out: deadlock details name process ids), notices as `s1: NOTICE:  ...`.
//! Blocking is detected by timing rather than `pg_locks` (see [`runner`]), so a wait shorter
//! than the grace period (a quick deadlock victim) is not reported as `<waiting ...>`.
//! The output contains no timings and no ids, so it is the same on every run and on both
//! servers.

pub mod runner;
pub mod spec;

pub use runner::{run_spec, Timing};
pub use spec::{parse, Spec};
