//! Expected failures: records whose expectations encode SQLite behaviour that PostgreSQL 15
//! itself does not have (the corpus README lists them). We keep the corpus files untouched and
//! list those records in `sql-tests/sqlite/expected-failures.txt` instead:
//!
//! ```text
//! # comment
//! evidence/in1.test:279 'hello' IN (SELECT * FROM t1) with an INTEGER column: 22P02 in PostgreSQL
//! ```
//!
//! The path is relative to the corpus directory and matches any run file whose path ends with
//! it (component-wise), so the list works whatever directory the runner was started from. An
//! expected failure that fails is counted apart, not as a failure; one that passes is reported
//! as a warning (the entry is stale, or we diverge from PostgreSQL).

use std::path::{Path, PathBuf};

/// One entry of the expected-failures file.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedFailure {
    pub path: PathBuf,
    pub line: usize,
    pub reason: String,
}

/// The expected-failures list.
#[derive(Clone, Debug, Default)]
pub struct ExpectedFailures {
    entries: Vec<ExpectedFailure>,
}

impl ExpectedFailures {
    /// Parses the file format above; malformed lines are errors (a typo must not silently
    /// turn a real failure into an unexpected one or vice versa).
    pub fn parse(text: &str) -> Result<ExpectedFailures, String> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (location, reason) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let parsed = location
                .rsplit_once(':')
                .and_then(|(path, l)| l.parse::<usize>().ok().map(|l| (path, l)));
            let Some((path, record_line)) = parsed else {
                return Err(format!(
                    "expected-failures line {}: {line:?} is not `path:line reason`",
                    n + 1
                ));
            };
            entries.push(ExpectedFailure {
                path: PathBuf::from(path),
                line: record_line,
                reason: reason.trim().to_string(),
            });
        }
        Ok(ExpectedFailures { entries })
    }

    /// Reads the list from a file.
    pub fn load(path: &Path) -> Result<ExpectedFailures, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// The entries that concern `file`.
    pub fn for_file(&self, file: &Path) -> Vec<ExpectedFailure> {
        self.entries
            .iter()
            .filter(|e| file.ends_with(&e.path))
            .cloned()
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_by_path_suffix() {
        let list = ExpectedFailures::parse(
            "# header\n\nevidence/in1.test:279 needs a cast\nselect1.test:10\n",
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        let hits = list.for_file(Path::new("/repo/sql-tests/sqlite/evidence/in1.test"));
        assert_eq!(
            hits,
            vec![ExpectedFailure {
                path: "evidence/in1.test".into(),
                line: 279,
                reason: "needs a cast".into()
            }]
        );
        // Component-wise: "xin1.test" does not match "in1.test".
        assert!(list.for_file(Path::new("evidence/xin1.test")).is_empty());
        assert_eq!(list.for_file(Path::new("select1.test")).len(), 1);
    }

    #[test]
    fn rejects_malformed_lines() {
        assert!(ExpectedFailures::parse("evidence/in1.test reason").is_err());
        assert!(ExpectedFailures::parse("evidence/in1.test:x reason").is_err());
    }
}
