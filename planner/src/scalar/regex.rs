//! POSIX regular expressions: the `~`, `~*`, `!~`, `!~*` operators, `regexp_replace` and
//! `regexp_match` (as text), as PostgreSQL's Advanced Regular Expressions behave.
//!
//! Matching uses the `regex` crate (linear time: no pattern can make the server backtrack
//! forever). Its syntax is close to ARE's; [`translate`] rewrites what differs:
//!
//! - `.` and negated brackets match a newline in ARE (no newline-sensitive mode), so every
//!   pattern runs with `(?s)`;
//! - ARE's escapes `\m` / `\M` (start / end of word), `\y` / `\Y` (word boundary / not) and
//!   `\Z` (end of string) become `\b{start}`, `\b{end}`, `\b`, `\B` and `\z`;
//! - `[[:<:]]` / `[[:>:]]` are the old spellings of `\m` / `\M`;
//! - back-references (`\1` … `\9`) have no linear-time implementation: 0A000.
//!
//! A pattern that does not compile is 2201B `invalid regular expression: …`, as PostgreSQL
//! reports it. Compiled patterns are cached per thread (a statement evaluates the same
//! pattern for every row).

use crate::error::{Error, ErrorKind, Result};
use regex::{Regex, RegexBuilder};
use sledgres_storage::Value;
use std::cell::RefCell;
use std::collections::HashMap;

/// How many compiled patterns each thread keeps.
const CACHE_SIZE: usize = 64;

thread_local! {
    static CACHE: RefCell<HashMap<(String, bool), Regex>> = RefCell::new(HashMap::new());
}

/// PostgreSQL ARE syntax → regex crate syntax (see the module comment).
pub fn translate(pattern: &str) -> Result<String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_bracket = false;
    while let Some(c) = chars.next() {
        if in_bracket {
            out.push(c);
            match c {
                ']' => in_bracket = false,
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                '[' if chars.peek() == Some(&':') => {
                    // A character class name `[:alpha:]`: copy through its closing `:]`.
                    for n in chars.by_ref() {
                        out.push(n);
                        if n == ']' && out.ends_with(":]") {
                            break;
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        match c {
            '\\' => match chars.next() {
                Some('m') => out.push_str(r"\b{start}"),
                Some('M') => out.push_str(r"\b{end}"),
                Some('y') => out.push_str(r"\b"),
                Some('Y') => out.push_str(r"\B"),
                Some('Z') => out.push_str(r"\z"),
                Some(d @ '1'..='9') => {
                    return Err(Error::new(
                        ErrorKind::FeatureNotSupported,
                        format!("back-references (\\{d}) in regular expressions are not supported"),
                    ))
                }
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => {
                    return Err(invalid("invalid escape \\ sequence"));
                }
            },
            '[' => {
                let rest: String = chars.clone().take(5).collect();
                if rest.starts_with(":<:]]") {
                    out.push_str(r"\b{start}");
                    chars.nth(4);
                } else if rest.starts_with(":>:]]") {
                    out.push_str(r"\b{end}");
                    chars.nth(4);
                } else {
                    out.push('[');
                    in_bracket = true;
                    // A `]` (after an optional `^`) right after `[` is a literal member.
                    if chars.peek() == Some(&'^') {
                        out.push('^');
                        chars.next();
                    }
                    if chars.peek() == Some(&']') {
                        out.push_str(r"\]");
                        chars.next();
                    }
                }
            }
            _ => out.push(c),
        }
    }
    if in_bracket {
        return Err(invalid("brackets [] not balanced"));
    }
    Ok(out)
}

fn invalid(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidRegularExpression,
        format!("invalid regular expression: {what}"),
    )
}

/// Runs `f` with the compiled `pattern` (case-insensitive when `icase`).
fn with_regex<T>(pattern: &str, icase: bool, f: impl FnOnce(&Regex) -> T) -> Result<T> {
    let key = (pattern.to_string(), icase);
    if let Some(re) = CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(f(&re));
    }
    let translated = translate(pattern)?;
    let re = RegexBuilder::new(&translated)
        .case_insensitive(icase)
        .dot_matches_new_line(true)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(_) => invalid("regular expression is too complex"),
            _ => invalid("invalid regular expression syntax"),
        })?;
    let r = f(&re);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.clear();
        }
        c.insert(key, re);
    });
    Ok(r)
}

fn text_args(args: &[Value]) -> Option<(&str, &str)> {
    match (args.first()?, args.get(1)?) {
        (Value::Text(s), Value::Text(p)) => Some((s, p)),
        _ => None,
    }
}

fn matches(args: &[Value], icase: bool, negated: bool) -> Result<Value> {
    let Some((s, p)) = text_args(args) else {
        return Ok(Value::Null);
    };
    let m = with_regex(p, icase, |re| re.is_match(s))?;
    Ok(Value::Bool(m != negated))
}

/// `text ~ pattern`
pub fn regex_match(args: &[Value]) -> Result<Value> {
    matches(args, false, false)
}
/// `text ~* pattern`
pub fn regex_imatch(args: &[Value]) -> Result<Value> {
    matches(args, true, false)
}
/// `text !~ pattern`
pub fn regex_not_match(args: &[Value]) -> Result<Value> {
    matches(args, false, true)
}
/// `text !~* pattern`
pub fn regex_not_imatch(args: &[Value]) -> Result<Value> {
    matches(args, true, true)
}

/// PostgreSQL's replacement string → the regex crate's: `\1`…`\9` are groups, `\&` the whole
/// match, `\\` a backslash; `$` is literal.
fn replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len());
    let mut chars = r.chars();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.next() {
                Some(d @ '1'..='9') => {
                    out.push_str("${");
                    out.push(d);
                    out.push('}');
                }
                Some('&') => out.push_str("${0}"),
                Some('$') => out.push_str("$$"),
                Some(n) => out.push(n),
                None => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

/// `regexp_replace(text, pattern, replacement [, flags])`: flags `g` (all matches) and `i`.
pub fn regexp_replace(args: &[Value]) -> Result<Value> {
    let (Some((s, p)), Some(Value::Text(r))) = (text_args(args), args.get(2)) else {
        return Ok(Value::Null);
    };
    let flags = match args.get(3) {
        Some(Value::Text(f)) => f.as_str(),
        Some(_) => return Ok(Value::Null),
        None => "",
    };
    let mut global = false;
    let mut icase = false;
    for f in flags.chars() {
        match f {
            'g' => global = true,
            'i' => icase = true,
            'c' => icase = false,
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("invalid regular expression option: \"{f}\""),
                ))
            }
        }
    }
    let rep = replacement(r);
    let out = with_regex(p, icase, |re| {
        if global {
            re.replace_all(s, rep.as_str()).into_owned()
        } else {
            re.replace(s, rep.as_str()).into_owned()
        }
    })?;
    Ok(Value::Text(out))
}

/// `regexp_match(text, pattern)` as the text form of its `text[]` result: the capture groups
/// (or the whole match) as `{a,b}`; NULL without a match.
pub fn regexp_match(args: &[Value]) -> Result<Value> {
    let Some((s, p)) = text_args(args) else {
        return Ok(Value::Null);
    };
    let found = with_regex(p, false, |re| {
        re.captures(s).map(|c| {
            let groups: Vec<Option<String>> = if c.len() == 1 {
                vec![c.get(0).map(|m| m.as_str().to_string())]
            } else {
                (1..c.len())
                    .map(|i| c.get(i).map(|m| m.as_str().to_string()))
                    .collect()
            };
            groups
        })
    })?;
    Ok(match found {
        Some(groups) => Value::Text(super::text_array::format(&groups)),
        None => Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str, p: &str) -> bool {
        matches!(
            regex_match(&[Value::Text(s.into()), Value::Text(p.into())]),
            Ok(Value::Bool(true))
        )
    }

    #[test]
    fn psql_patterns() {
        assert!(m("books", "^(books)$"));
        assert!(!m("books2", "^(books)$"));
        assert!(m("pg_toast_1", "^pg_toast"));
        assert!(m("a.b", "^(a[.]b)$"));
        assert!(m("x\ny", "x.y"));
        assert!(m("hello world", r"\mworld"));
        assert!(m("a]b", "a[]]b"));
    }

    #[test]
    fn errors() {
        let e = regex_match(&[Value::Text("a".into()), Value::Text("(".into())]);
        assert!(matches!(e, Err(e) if e.kind == ErrorKind::InvalidRegularExpression));
        let e = regex_match(&[Value::Text("aa".into()), Value::Text(r"(a)\1".into())]);
        assert!(matches!(e, Err(e) if e.kind == ErrorKind::FeatureNotSupported));
    }

    #[test]
    fn replace() {
        let r = regexp_replace(&[
            Value::Text("abcabc".into()),
            Value::Text("(b)".into()),
            Value::Text(r"[\1]".into()),
            Value::Text("g".into()),
        ]);
        assert!(matches!(r, Ok(Value::Text(s)) if s == "a[b]ca[b]c"));
    }
}
