//! SQL text → statements, with PostgreSQL-style syntax errors.
//!
//! sqlparser parses the whole query string; we also split the text at top-level semicolons
//! (outside quotes, comments and dollar quotes) so each statement keeps its own source
//! text. Parser errors become 42601 `syntax error at or near "X"` with the 1-based character
//! position PostgreSQL reports, converted from sqlparser's line/column.

use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::RowLockMode;
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

/// A parsed statement: sqlparser's AST, or a utility statement `utility.rs` recognised.
#[derive(Clone, Debug)]
pub enum Parsed {
    Sql(Box<ast::Statement>),
    Utility(crate::utility::Utility),
}

/// Parses a query string into (statement text, statement) pairs.
///
/// Utility statements (see `utility.rs`) are recognised per piece; their text is blanked out
/// (spaces, newlines kept) before sqlparser parses the rest, so AST spans still refer to
/// the whole string and sqlparser just sees empty statements there.
pub fn parse(sql: &str) -> Result<Vec<(String, Parsed, Vec<RowLockMode>)>> {
    let (masked, _) = crate::utility::mask_lock_strengths(sql);
    Ok(parse_masked(sql, &masked)?
        .into_iter()
        .map(|(p, s)| {
            let modes = crate::utility::mask_lock_strengths(&p).1;
            (p, s, modes)
        })
        .collect())
}

/// `parse` on the text with lock strengths masked (`sql` is the original, for errors).
fn parse_masked(sql: &str, masked_locks: &str) -> Result<Vec<(String, Parsed)>> {
    let pieces: Vec<String> = split(sql).into_iter().filter(|p| !is_blank(p)).collect();
    let utilities: Vec<Option<crate::utility::Utility>> = pieces
        .iter()
        .map(|p| crate::utility::recognize(p))
        .collect();
    if utilities.iter().all(|u| u.is_none()) {
        let stmts = Parser::parse_sql(&PostgreSqlDialect {}, &copy_booleans(masked_locks))
            .map_err(|e| syntax_error(sql, e))?;
        return Ok(if pieces.len() == stmts.len() {
            pieces
                .into_iter()
                .zip(stmts)
                .map(|(p, s)| (p, Parsed::Sql(Box::new(s))))
                .collect()
        } else {
            stmts
                .into_iter()
                .map(|s| (s.to_string(), Parsed::Sql(Box::new(s))))
                .collect()
        });
    }
    let mut masked = masked_locks.to_string();
    let mut from = 0;
    for (p, u) in pieces.iter().zip(&utilities) {
        // Masking lock strengths keeps byte positions, so the piece's place in `sql` is its
        // place in `masked` too.
        let Some(at) = sql[from..].find(p.as_str()).map(|a| a + from) else {
            continue;
        };
        from = at + p.len();
        if u.is_some() {
            // One space per byte (newlines kept): positions after it stay right.
            let blank: String = p
                .chars()
                .map(|c| {
                    if c == '\n' {
                        "\n".to_string()
                    } else {
                        " ".repeat(c.len_utf8())
                    }
                })
                .collect();
            masked.replace_range(at..at + p.len(), &blank);
        }
    }
    let stmts = Parser::parse_sql(&PostgreSqlDialect {}, &copy_booleans(&masked))
        .map_err(|e| syntax_error(sql, e))?;
    let sql_count = utilities.iter().filter(|u| u.is_none()).count();
    if stmts.len() != sql_count {
        return Err(Error::internal(
            "statement splitting disagrees with the parser",
        ));
    }
    let mut stmts = stmts.into_iter();
    let mut out = vec![];
    for (p, u) in pieces.into_iter().zip(utilities) {
        match u {
            Some(u) => out.push((p, Parsed::Utility(u))),
            None => match stmts.next() {
                Some(s) => out.push((p, Parsed::Sql(Box::new(s)))),
                None => return Err(Error::internal("statement splitting disagrees")),
            },
        }
    }
    Ok(out)
}

/// COPY's boolean options take any of PostgreSQL's boolean spellings (`FREEZE on`, `HEADER 0`,
/// as pgbench sends `copy … with (freeze on)`), sqlparser only TRUE/FALSE or nothing. Within a
/// COPY statement the value after FREEZE or HEADER is rewritten: a true one is blanked (the
/// option alone means true; byte positions stay), a false one becomes `false`.
fn copy_booleans(sql: &str) -> std::borrow::Cow<'_, str> {
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("copy") || !(lower.contains("freeze") || lower.contains("header")) {
        return std::borrow::Cow::Borrowed(sql);
    }
    let bytes = sql.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    // (start, end) of each word outside quotes, with a statement break marked as None.
    let mut words: Vec<Option<(usize, usize)>> = vec![];
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' || b == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b {
                i += 1;
            }
            i += 1;
        } else if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if b == b';' {
            words.push(None);
            i += 1;
        } else if is_word(b) {
            let start = i;
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            words.push(Some((start, i)));
        } else {
            if !b.is_ascii_whitespace() {
                // Punctuation (or a non-ASCII byte) separates an option from what follows.
                words.push(Some((usize::MAX, usize::MAX)));
            }
            i += 1;
        }
    }
    let mut out = sql.to_string();
    let mut replacements: Vec<(usize, usize, String)> = vec![];
    let mut in_copy = false;
    let mut first = true;
    for (k, w) in words.iter().enumerate() {
        let Some((s, e)) = *w else {
            in_copy = false;
            first = true;
            continue;
        };
        let word = lower.get(s..e).unwrap_or("");
        if first {
            in_copy = word == "copy";
            first = false;
            continue;
        }
        if !in_copy || !(word == "freeze" || word == "header") {
            continue;
        }
        let Some(Some((vs, ve))) = words.get(k + 1).copied() else {
            continue;
        };
        match lower.get(vs..ve).unwrap_or("") {
            "on" | "yes" | "1" => replacements.push((vs, ve, " ".repeat(ve - vs))),
            "off" | "no" | "0" => replacements.push((vs, ve, "false".to_string())),
            _ => {}
        }
    }
    for (s, e, r) in replacements.into_iter().rev() {
        out.replace_range(s..e, &r);
    }
    std::borrow::Cow::Owned(out)
}

/// Whether the text holds only whitespace and comments.
fn is_blank(s: &str) -> bool {
    let mut rest = s.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map(|x| x.1).unwrap_or("").trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map(|x| x.1).unwrap_or("").trim_start();
        } else {
            return rest.is_empty();
        }
    }
}

/// Splits at semicolons outside quotes, comments and dollar-quoted strings.
fn split(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = vec![];
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                cur.push(c);
                i += 1;
                while i < chars.len() {
                    cur.push(chars[i]);
                    if chars[i] == c {
                        if i + 1 < chars.len() && chars[i + 1] == c {
                            cur.push(chars[i + 1]);
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    cur.push(chars[i]);
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        cur.push_str("/*");
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        cur.push_str("*/");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        cur.push(chars[i]);
                        i += 1;
                    }
                }
            }
            '$' => {
                // $tag$ … $tag$ (but not $1 parameters)
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let is_tag = j < chars.len()
                    && chars[j] == '$'
                    && !chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
                if is_tag {
                    let tag: String = chars[i..=j].iter().collect();
                    cur.push_str(&tag);
                    i = j + 1;
                    let rest: String = chars[i..].iter().collect();
                    match rest.find(&tag) {
                        Some(p) => {
                            let body = &rest[..p + tag.len()];
                            cur.push_str(body);
                            i += body.chars().count();
                        }
                        None => {
                            cur.push_str(&rest);
                            i = chars.len();
                        }
                    }
                } else {
                    cur.push(c);
                    i += 1;
                }
            }
            ';' => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                i += 1;
            }
            _ => {
                cur.push(c);
                i += 1;
            }
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// Maps a sqlparser error to PostgreSQL's wording and position.
pub fn syntax_error(sql: &str, e: ParserError) -> Error {
    let msg = match &e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => {
            return Error::new(ErrorKind::SyntaxError, "statement is too deeply nested")
        }
    };
    let (text, pos) = match msg.rsplit_once(" at Line: ") {
        Some((t, loc)) => {
            let mut it = loc.split(", Column: ");
            let line: usize = it.next().and_then(|l| l.trim().parse().ok()).unwrap_or(1);
            let col: usize = it.next().and_then(|c| c.trim().parse().ok()).unwrap_or(1);
            (t.to_string(), Some(char_offset(sql, line, col)))
        }
        None => (msg.clone(), None),
    };
    if text.starts_with("Unterminated string literal") {
        let p = pos.unwrap_or(1);
        let tail: String = sql.chars().skip(p.saturating_sub(1)).collect();
        let mut err = Error::new(
            ErrorKind::SyntaxError,
            format!("unterminated quoted string at or near \"{tail}\""),
        );
        err.position = Some(p);
        return err;
    }
    let found = text.rsplit_once("found: ").map(|x| x.1.trim().to_string());
    match found.as_deref() {
        Some("EOF") | None if pos.is_none() => {
            let mut err = Error::new(ErrorKind::SyntaxError, "syntax error at end of input");
            err.position = Some(sql.chars().count() + 1);
            err
        }
        Some(tok) => {
            let mut err = Error::new(
                ErrorKind::SyntaxError,
                format!("syntax error at or near \"{}\"", tok.trim_matches('\'')),
            );
            err.position = pos;
            err
        }
        None => {
            let mut err = Error::new(ErrorKind::SyntaxError, format!("syntax error: {text}"));
            err.position = pos;
            err
        }
    }
}

/// 1-based character offset of a 1-based line/column.
pub(crate) fn char_offset(sql: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for (i, l) in sql.split('\n').enumerate() {
        if i + 1 == line {
            return offset + col;
        }
        offset += l.chars().count() + 1;
    }
    offset.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_keeping_text() {
        let v = parse("SELECT 1; SELECT 'a;b' ; -- c;\n SELECT 2").unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].0, "SELECT 'a;b'");
    }

    #[test]
    fn copy_takes_postgres_boolean_spellings() {
        assert_eq!(
            copy_booleans("copy t from stdin with (freeze on, HEADER off)"),
            "copy t from stdin with (freeze   , HEADER false)"
        );
        assert_eq!(copy_booleans("select 'freeze on'"), "select 'freeze on'");
        assert!(parse("copy pgbench_accounts from stdin with (freeze on)").is_ok());
    }

    #[test]
    fn syntax_errors_have_pg_wording_and_position() {
        let e = parse("SELECT 1,,2").unwrap_err();
        assert_eq!(e.kind, ErrorKind::SyntaxError);
        assert_eq!(e.message, "syntax error at or near \",\"");
        assert_eq!(e.position, Some(10));
        let e = parse("SELEC 1").unwrap_err();
        assert_eq!(e.message, "syntax error at or near \"SELEC\"");
        let e = parse("SELECT 1 +").unwrap_err();
        assert_eq!(e.message, "syntax error at end of input");
    }
}
