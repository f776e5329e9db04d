//! Parser for SQLite's classic sqllogictest scripts.
//!
//! A script is a sequence of records separated by blank lines; lines starting with `#` are
//! comments and never end a record. A record may be preceded (in the same block) by condition
//! lines `skipif ENGINE` / `onlyif ENGINE`. The record kinds:
//!
//! ```text
//! statement ok|error        query <types> <sort> [label]     hash-threshold N     halt
//! <sql, one or more lines>   <sql, one or more lines>
//!                            ----
//!                            <one value per line, or "N values hashing to MD5">
//! ```
//!
//! A query with an empty result may omit the `----` line. Every record remembers the line of
//! its keyword (1-based), which is how failures and expected failures are named (`file:line`).

use std::fmt;

/// One record of a script.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// 1-based line of the record's keyword (`statement`, `query`, …).
    pub line: usize,
    pub conditions: Vec<Condition>,
    pub kind: RecordKind,
}

/// `skipif` / `onlyif` lines before a record.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    SkipIf(String),
    OnlyIf(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum RecordKind {
    Statement {
        expect_ok: bool,
        sql: String,
    },
    Query {
        /// One letter per result column: `I`, `R` or `T`.
        types: Vec<char>,
        sort: SortMode,
        label: Option<String>,
        sql: String,
        /// The lines after `----`.
        expected: Vec<String>,
    },
    HashThreshold(usize),
    Halt,
    /// A record we could not parse; running it counts as a failure with this message.
    Invalid(String),
}

/// How a query's values are ordered before comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortMode {
    /// As returned.
    NoSort,
    /// Rows sorted by their formatted values, column by column, as byte strings.
    RowSort,
    /// Every value sorted on its own.
    ValueSort,
}

impl fmt::Display for SortMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SortMode::NoSort => "nosort",
            SortMode::RowSort => "rowsort",
            SortMode::ValueSort => "valuesort",
        })
    }
}

impl Record {
    /// Whether the record runs for `engine` (e.g. `postgresql`), given its conditions.
    pub fn applies_to(&self, engine: &str) -> bool {
        self.conditions.iter().all(|c| match c {
            Condition::SkipIf(e) => e != engine,
            Condition::OnlyIf(e) => e == engine,
        })
    }

    /// Whether this record is a test (statement or query), as opposed to a directive.
    pub fn is_test(&self) -> bool {
        matches!(
            self.kind,
            RecordKind::Statement { .. } | RecordKind::Query { .. } | RecordKind::Invalid(_)
        )
    }
}

/// Parses a whole script. Never fails: malformed records become [`RecordKind::Invalid`].
pub fn parse(script: &str) -> Vec<Record> {
    let lines: Vec<&str> = script.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut records = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        // Skip blank lines and comments between records.
        if is_blank(lines[i]) || is_comment(lines[i]) {
            i += 1;
            continue;
        }
        let mut conditions = Vec::new();
        // Condition lines (and comments) up to the record keyword.
        while i < lines.len() && !is_blank(lines[i]) {
            let line = lines[i];
            if is_comment(line) {
                i += 1;
                continue;
            }
            let mut words = line.split_whitespace();
            match words.next() {
                Some("skipif") => conditions.push(Condition::SkipIf(word(words.next()))),
                Some("onlyif") => conditions.push(Condition::OnlyIf(word(words.next()))),
                _ => break,
            }
            i += 1;
        }
        if i >= lines.len() || is_blank(lines[i]) {
            // Conditions with nothing after them: nothing to run.
            continue;
        }
        let line_no = i + 1;
        let header: Vec<&str> = lines[i].split_whitespace().collect();
        i += 1;
        let kind = match header.first().copied() {
            Some("statement") => {
                let (sql, next) = collect_until(&lines, i, is_blank);
                i = next;
                match header.get(1).copied() {
                    Some("ok") => RecordKind::Statement {
                        expect_ok: true,
                        sql,
                    },
                    Some("error") => RecordKind::Statement {
                        expect_ok: false,
                        sql,
                    },
                    other => RecordKind::Invalid(format!("bad statement mode {other:?}")),
                }
            }
            Some("query") => {
                let (sql, next) = collect_until(&lines, i, |l| is_blank(l) || l == "----");
                i = next;
                let mut expected = Vec::new();
                if i < lines.len() && lines[i] == "----" {
                    i += 1;
                    while i < lines.len() && !is_blank(lines[i]) {
                        expected.push(lines[i].to_string());
                        i += 1;
                    }
                }
                parse_query_header(&header, sql, expected)
            }
            Some("hash-threshold") => match header.get(1).and_then(|n| n.parse().ok()) {
                Some(n) => RecordKind::HashThreshold(n),
                None => RecordKind::Invalid("bad hash-threshold".into()),
            },
            Some("halt") => RecordKind::Halt,
            other => {
                // Skip the rest of the block so one bad record does not derail the file.
                while i < lines.len() && !is_blank(lines[i]) {
                    i += 1;
                }
                RecordKind::Invalid(format!("unknown record type {other:?}"))
            }
        };
        records.push(Record {
            line: line_no,
            conditions,
            kind,
        });
    }
    records
}

fn parse_query_header(header: &[&str], sql: String, expected: Vec<String>) -> RecordKind {
    let Some(types) = header.get(1) else {
        return RecordKind::Invalid("query without column types".into());
    };
    let sort = match header.get(2).copied() {
        None | Some("nosort") => SortMode::NoSort,
        Some("rowsort") => SortMode::RowSort,
        Some("valuesort") => SortMode::ValueSort,
        Some(other) => return RecordKind::Invalid(format!("unknown sort mode {other:?}")),
    };
    RecordKind::Query {
        types: types.chars().collect(),
        sort,
        label: header.get(3).map(|s| s.to_string()),
        sql,
        expected,
    }
}

/// Joins lines from `start` until `stop` matches (comments dropped); returns the text and the
/// index of the stopping line.
fn collect_until(lines: &[&str], start: usize, stop: impl Fn(&str) -> bool) -> (String, usize) {
    let mut i = start;
    let mut text: Vec<&str> = Vec::new();
    while i < lines.len() && !stop(lines[i]) {
        if !is_comment(lines[i]) {
            text.push(lines[i]);
        }
        i += 1;
    }
    (text.join("\n"), i)
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn is_comment(line: &str) -> bool {
    line.starts_with('#')
}

fn word(w: Option<&str>) -> String {
    w.unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        let script = "hash-threshold 8\n\n# a comment\nstatement ok\nCREATE TABLE t1(a INT,\n b INT)\n\n\
                      skipif mysql\nquery IT rowsort label-1\nSELECT a, b\n# inner comment\nFROM t1\n----\n1\n(empty)\n\n\
                      query I nosort\nSELECT 1 WHERE false\n\n\
                      onlyif sqlite\nhalt\n\nstatement error\nSELECT nope\n";
        let records = parse(script);
        assert_eq!(records.len(), 6);
        assert_eq!(records[0].kind, RecordKind::HashThreshold(8));
        assert_eq!(
            records[1],
            Record {
                line: 4,
                conditions: vec![],
                kind: RecordKind::Statement {
                    expect_ok: true,
                    sql: "CREATE TABLE t1(a INT,\n b INT)".into()
                }
            }
        );
        assert_eq!(records[2].line, 9);
        assert_eq!(
            records[2].conditions,
            vec![Condition::SkipIf("mysql".into())]
        );
        assert_eq!(
            records[2].kind,
            RecordKind::Query {
                types: vec!['I', 'T'],
                sort: SortMode::RowSort,
                label: Some("label-1".into()),
                sql: "SELECT a, b\nFROM t1".into(),
                expected: vec!["1".into(), "(empty)".into()],
            }
        );
        match &records[3].kind {
            RecordKind::Query { expected, sql, .. } => {
                assert!(expected.is_empty());
                assert_eq!(sql, "SELECT 1 WHERE false");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(records[4].kind, RecordKind::Halt);
        assert!(!records[4].applies_to("postgresql"));
        assert!(records[2].applies_to("postgresql"));
        assert_eq!(
            records[5].kind,
            RecordKind::Statement {
                expect_ok: false,
                sql: "SELECT nope".into()
            }
        );
    }

    #[test]
    fn bad_records_become_invalid() {
        let records = parse("frobnicate\nfoo\n\nquery I sideways\nSELECT 1\n----\n1\n");
        assert_eq!(records.len(), 2);
        assert!(matches!(records[0].kind, RecordKind::Invalid(_)));
        assert!(matches!(records[1].kind, RecordKind::Invalid(_)));
    }
}
