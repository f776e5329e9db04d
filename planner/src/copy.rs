//! COPY's data formats: options, and how one row becomes a line of text or CSV and back.
//!
//! This module is pure (no session, no storage): `session/copy.rs` drives it. Keeping the
//! formats apart lets them be tested byte for byte against what PostgreSQL writes.
//!
//! **Text format** (PostgreSQL's default): one line per row, columns separated by the
//! delimiter (tab), NULL written as the null string (`\N`). Inside a value a backslash
//! escapes: `\b \f \n \r \t \v` are control characters, `\\` a backslash, `\ddd` octal and
//! `\xhh` hex bytes, and a backslash before any other character stands for that character
//! (so `\<delimiter>` is a literal delimiter). The null string is compared with the *raw*
//! field before de-escaping, as PostgreSQL does. A line holding only `\.` ends the data.
//!
//! **CSV format**: columns separated by `,`; a field may be quoted with `"`, and inside
//! quotes the escape character (by default the quote itself, i.e. `""`) escapes a quote.
//! NULL is an unquoted empty field (the null string, by default empty); a quoted empty
//! field is an empty string. Quoted fields may span lines. On output a value is quoted when
//! it contains the delimiter, the quote, a CR or LF, equals the null string, or starts with
//! `\.` — or when FORCE_QUOTE names its column.
//!
//! Lines end with `\n` (a `\r\n` ending is accepted on input); PostgreSQL writes `\n`.

use crate::error::{Error, ErrorKind, Result};
use sqlparser::ast;

/// COPY's FORMAT option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Binary,
}

/// Which columns FORCE_QUOTE applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForceQuote {
    None,
    All,
    /// Positions in the COPY's column list.
    Columns(Vec<usize>),
}

/// The options of one COPY statement, validated as PostgreSQL does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyOptions {
    pub format: Format,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
    pub escape: char,
    pub force_quote: ForceQuote,
    /// Positions whose empty unquoted input is read as an empty string, not NULL.
    pub force_not_null: Vec<usize>,
    /// Positions whose quoted input equal to the null string is read as NULL.
    pub force_null: Vec<usize>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidParameterValue, message)
}

fn syntax(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::SyntaxError, message)
}

fn not_supported(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::FeatureNotSupported, message)
}

/// Raw, not yet validated options (an option given twice is an error).
#[derive(Default)]
struct Raw {
    format: Option<Format>,
    delimiter: Option<char>,
    null: Option<String>,
    header: Option<bool>,
    quote: Option<char>,
    escape: Option<char>,
    force_quote: Option<Vec<ast::Ident>>,
    force_quote_all: bool,
    force_not_null: Option<Vec<ast::Ident>>,
    force_null: Option<Vec<ast::Ident>>,
}

fn once<T>(slot: &mut Option<T>, value: T) -> Result<()> {
    if slot.is_some() {
        return Err(syntax("conflicting or redundant options"));
    }
    *slot = Some(value);
    Ok(())
}

impl CopyOptions {
    /// Reads the WITH (…) options and the pre-9.0 ones, for the given column list (names of
    /// the COPY's columns, for FORCE_* lists), and checks them as PostgreSQL's
    /// `ProcessCopyOptions` does. `is_from`: COPY FROM (FORCE_QUOTE is for COPY TO only, the
    /// FORCE_NULL options for COPY FROM only).
    pub fn from_ast(
        options: &[ast::CopyOption],
        legacy: &[ast::CopyLegacyOption],
        columns: &[String],
        is_from: bool,
    ) -> Result<CopyOptions> {
        let mut raw = Raw::default();
        for o in options {
            match o {
                ast::CopyOption::Format(name) => {
                    let f = match name.value.to_lowercase().as_str() {
                        "text" => Format::Text,
                        "csv" => Format::Csv,
                        "binary" => Format::Binary,
                        other => {
                            return Err(invalid(format!("COPY format \"{other}\" not recognized")))
                        }
                    };
                    once(&mut raw.format, f)?;
                }
                ast::CopyOption::Freeze(_) => {}
                ast::CopyOption::Delimiter(c) => once(&mut raw.delimiter, *c)?,
                ast::CopyOption::Null(s) => once(&mut raw.null, s.clone())?,
                ast::CopyOption::Header(h) => once(&mut raw.header, *h)?,
                ast::CopyOption::Quote(c) => once(&mut raw.quote, *c)?,
                ast::CopyOption::Escape(c) => once(&mut raw.escape, *c)?,
                ast::CopyOption::ForceQuote(cols) => once(&mut raw.force_quote, cols.clone())?,
                ast::CopyOption::ForceNotNull(cols) => once(&mut raw.force_not_null, cols.clone())?,
                ast::CopyOption::ForceNull(cols) => once(&mut raw.force_null, cols.clone())?,
                ast::CopyOption::Encoding(e) => {
                    let e = e.to_lowercase().replace(['-', '_'], "");
                    if e != "utf8" && e != "unicode" {
                        return Err(not_supported(
                            "COPY ENCODING other than UTF8 is not supported",
                        ));
                    }
                }
            }
        }
        for o in legacy {
            match o {
                ast::CopyLegacyOption::Binary => once(&mut raw.format, Format::Binary)?,
                ast::CopyLegacyOption::Delimiter(c) => once(&mut raw.delimiter, *c)?,
                ast::CopyLegacyOption::Null(s) => once(&mut raw.null, s.clone())?,
                ast::CopyLegacyOption::Header => once(&mut raw.header, true)?,
                ast::CopyLegacyOption::Csv(csv) => {
                    once(&mut raw.format, Format::Csv)?;
                    for c in csv {
                        match c {
                            ast::CopyLegacyCsvOption::Header => once(&mut raw.header, true)?,
                            ast::CopyLegacyCsvOption::Quote(q) => once(&mut raw.quote, *q)?,
                            ast::CopyLegacyCsvOption::Escape(e) => once(&mut raw.escape, *e)?,
                            ast::CopyLegacyCsvOption::ForceQuote(cols) => {
                                if cols.is_empty() {
                                    raw.force_quote_all = true;
                                } else {
                                    once(&mut raw.force_quote, cols.clone())?
                                }
                            }
                            ast::CopyLegacyCsvOption::ForceNotNull(cols) => {
                                once(&mut raw.force_not_null, cols.clone())?
                            }
                        }
                    }
                }
                other => {
                    return Err(syntax(format!(
                        "syntax error at or near \"{}\"",
                        other.to_string().split_whitespace().next().unwrap_or("")
                    )))
                }
            }
        }
        Self::validate(raw, columns, is_from)
    }

    fn validate(raw: Raw, columns: &[String], is_from: bool) -> Result<CopyOptions> {
        let format = raw.format.unwrap_or(Format::Text);
        let csv = format == Format::Csv;
        if format == Format::Binary {
            if raw.delimiter.is_some() {
                return Err(syntax("cannot specify DELIMITER in BINARY mode"));
            }
            if raw.null.is_some() {
                return Err(syntax("cannot specify NULL in BINARY mode"));
            }
            if raw.header == Some(true) {
                return Err(not_supported("cannot specify HEADER in BINARY mode"));
            }
        }
        let delimiter = raw.delimiter.unwrap_or(if csv { ',' } else { '\t' });
        let null = raw
            .null
            .unwrap_or_else(|| if csv { String::new() } else { "\\N".into() });
        if !delimiter.is_ascii() {
            return Err(not_supported(
                "COPY delimiter must be a single one-byte character",
            ));
        }
        if delimiter == '\r' || delimiter == '\n' {
            return Err(invalid(
                "COPY delimiter cannot be newline or carriage return",
            ));
        }
        if null.contains(['\r', '\n']) {
            return Err(invalid(
                "COPY null representation cannot use newline or carriage return",
            ));
        }
        if !csv && "\\.abcdefghijklmnopqrstuvwxyz0123456789".contains(delimiter) {
            return Err(invalid(format!("COPY delimiter cannot be \"{delimiter}\"")));
        }
        if !csv && raw.quote.is_some() {
            return Err(not_supported("COPY quote available only in CSV mode"));
        }
        if !csv && raw.escape.is_some() {
            return Err(not_supported("COPY escape available only in CSV mode"));
        }
        let any_force_quote = raw.force_quote.is_some() || raw.force_quote_all;
        if !csv && any_force_quote {
            return Err(not_supported("COPY force quote available only in CSV mode"));
        }
        if any_force_quote && is_from {
            return Err(not_supported(
                "COPY force quote only available using COPY TO",
            ));
        }
        if !csv && raw.force_not_null.is_some() {
            return Err(not_supported(
                "COPY force not null available only in CSV mode",
            ));
        }
        if raw.force_not_null.is_some() && !is_from {
            return Err(not_supported(
                "COPY force not null only available using COPY FROM",
            ));
        }
        if !csv && raw.force_null.is_some() {
            return Err(not_supported("COPY force null available only in CSV mode"));
        }
        if raw.force_null.is_some() && !is_from {
            return Err(not_supported(
                "COPY force null only available using COPY FROM",
            ));
        }
        let quote = raw.quote.unwrap_or('"');
        let escape = raw.escape.unwrap_or(quote);
        if csv {
            if !quote.is_ascii() {
                return Err(not_supported(
                    "COPY quote must be a single one-byte character",
                ));
            }
            if !escape.is_ascii() {
                return Err(not_supported(
                    "COPY escape must be a single one-byte character",
                ));
            }
            if delimiter == quote {
                return Err(invalid("COPY delimiter and quote must be different"));
            }
            if null.contains(delimiter) {
                return Err(invalid(
                    "COPY delimiter must not appear in the NULL specification",
                ));
            }
            if null.contains(quote) {
                return Err(invalid(
                    "CSV quote character must not appear in the NULL specification",
                ));
            }
        } else if null.contains(delimiter) {
            return Err(invalid(
                "COPY delimiter must not appear in the NULL specification",
            ));
        }
        let positions = |list: Option<Vec<ast::Ident>>, what: &str| -> Result<Vec<usize>> {
            let mut out = vec![];
            for i in list.unwrap_or_default() {
                let name = crate::binder::ident(&i);
                match columns.iter().position(|c| *c == name) {
                    Some(p) => out.push(p),
                    None => {
                        return Err(Error::new(
                            ErrorKind::InvalidColumnReference,
                            format!("{what} column \"{name}\" not referenced by COPY"),
                        ))
                    }
                }
            }
            Ok(out)
        };
        let force_quote = if raw.force_quote_all {
            ForceQuote::All
        } else if let Some(list) = raw.force_quote {
            // sqlparser reads `FORCE_QUOTE *` as a column named `*`.
            if list.len() == 1 && list[0].value == "*" {
                ForceQuote::All
            } else {
                ForceQuote::Columns(positions(Some(list), "FORCE_QUOTE")?)
            }
        } else {
            ForceQuote::None
        };
        Ok(CopyOptions {
            format,
            delimiter,
            null,
            header: raw.header.unwrap_or(false),
            quote,
            escape,
            force_quote,
            force_not_null: positions(raw.force_not_null, "FORCE_NOT_NULL")?,
            force_null: positions(raw.force_null, "FORCE_NULL")?,
        })
    }

    fn quoted_forced(&self, column: usize) -> bool {
        match &self.force_quote {
            ForceQuote::None => false,
            ForceQuote::All => true,
            ForceQuote::Columns(c) => c.contains(&column),
        }
    }

    // ------------------------------------------------------------------ output

    /// One output line (with its `\n`) from the text forms of a row's values (`None`: NULL).
    pub fn encode_line(&self, values: &[Option<String>]) -> Vec<u8> {
        let mut out = String::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            match (v, self.format) {
                (None, _) => out.push_str(&self.null),
                (Some(s), Format::Csv) => self.csv_field(&mut out, s, self.quoted_forced(i)),
                (Some(s), _) => self.text_field(&mut out, s),
            }
        }
        out.push('\n');
        out.into_bytes()
    }

    /// The header line: the column names, written like text values.
    pub fn encode_header(&self, names: &[String]) -> Vec<u8> {
        let values: Vec<Option<String>> = names.iter().map(|n| Some(n.clone())).collect();
        if self.format == Format::Csv {
            // Names are quoted only where needed, never forced.
            let plain = CopyOptions {
                force_quote: ForceQuote::None,
                ..self.clone()
            };
            return plain.encode_line(&values);
        }
        self.encode_line(&values)
    }

    fn text_field(&self, out: &mut String, s: &str) {
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' if self.delimiter == '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if c == self.delimiter => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }

    fn csv_field(&self, out: &mut String, s: &str, force: bool) {
        let needs_quote = force
            || s == self.null
            || s.starts_with("\\.")
            || s.contains([self.delimiter, self.quote, '\r', '\n']);
        if !needs_quote {
            out.push_str(s);
            return;
        }
        out.push(self.quote);
        for c in s.chars() {
            if c == self.quote || c == self.escape {
                out.push(self.escape);
            }
            out.push(c);
        }
        out.push(self.quote);
    }

    // ------------------------------------------------------------------ input

    /// The length of the first complete record in `buf` (including its line end), or `None`
    /// when `buf` holds no complete record yet. CSV records may contain quoted newlines.
    pub fn record_end(&self, buf: &[u8]) -> Option<usize> {
        if self.format != Format::Csv {
            return buf.iter().position(|b| *b == b'\n').map(|p| p + 1);
        }
        let (quote, escape) = (self.quote as u8, self.escape as u8);
        let mut in_quote = false;
        let mut i = 0;
        while i < buf.len() {
            let b = buf[i];
            if in_quote {
                if b == escape && escape != quote && i + 1 < buf.len() {
                    let next = buf[i + 1];
                    if next == quote || next == escape {
                        i += 2;
                        continue;
                    }
                }
                if b == quote {
                    in_quote = false;
                }
            } else if b == quote {
                in_quote = true;
            } else if b == b'\n' {
                return Some(i + 1);
            }
            i += 1;
        }
        None
    }

    /// Splits one record (without its line end) into fields: `None` is NULL. Errors carry no
    /// context; the caller adds the line.
    pub fn decode_record(&self, line: &[u8]) -> Result<Vec<Option<String>>> {
        let raw = match self.format {
            Format::Csv => self.csv_fields(line)?,
            _ => self.text_fields(line)?,
        };
        raw.into_iter()
            .map(|f| {
                f.map(|bytes| {
                    String::from_utf8(bytes).map_err(|e| {
                        let bad = e.as_bytes()[e.utf8_error().valid_up_to()];
                        Error::new(
                            ErrorKind::CharacterNotInRepertoire,
                            format!("invalid byte sequence for encoding \"UTF8\": 0x{bad:02x}"),
                        )
                    })
                })
                .transpose()
            })
            .collect()
    }

    fn text_fields(&self, line: &[u8]) -> Result<Vec<Option<Vec<u8>>>> {
        let delim = self.delimiter as u8;
        let null = self.null.as_bytes();
        let mut fields = vec![];
        let mut start = 0;
        let mut value = vec![];
        let mut i = 0;
        loop {
            let at_end = i >= line.len();
            if at_end || line[i] == delim {
                let raw = &line[start..i.min(line.len())];
                fields.push(if raw == null {
                    None
                } else {
                    Some(std::mem::take(&mut value))
                });
                value.clear();
                if at_end {
                    break;
                }
                i += 1;
                start = i;
                continue;
            }
            let b = line[i];
            if b != b'\\' || i + 1 >= line.len() {
                value.push(b);
                i += 1;
                continue;
            }
            let c = line[i + 1];
            i += 2;
            match c {
                b'b' => value.push(8),
                b'f' => value.push(12),
                b'n' => value.push(b'\n'),
                b'r' => value.push(b'\r'),
                b't' => value.push(b'\t'),
                b'v' => value.push(11),
                b'0'..=b'7' => {
                    let mut n = (c - b'0') as u32;
                    for _ in 0..2 {
                        match line.get(i) {
                            Some(d @ b'0'..=b'7') => {
                                n = n * 8 + (d - b'0') as u32;
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    value.push((n & 0xff) as u8);
                }
                b'x' if line.get(i).is_some_and(|d| d.is_ascii_hexdigit()) => {
                    let mut n = 0u32;
                    for _ in 0..2 {
                        match line.get(i) {
                            Some(d) if d.is_ascii_hexdigit() => {
                                n = n * 16 + (*d as char).to_digit(16).unwrap_or(0);
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    value.push(n as u8);
                }
                other => value.push(other),
            }
        }
        Ok(fields)
    }

    fn csv_fields(&self, line: &[u8]) -> Result<Vec<Option<Vec<u8>>>> {
        let (delim, quote, escape) = (self.delimiter as u8, self.quote as u8, self.escape as u8);
        let null = self.null.as_bytes();
        let mut fields = vec![];
        let mut i = 0;
        loop {
            let start = i;
            let mut value = vec![];
            let mut quoted = false;
            let mut in_quote = false;
            while i < line.len() {
                let b = line[i];
                if in_quote {
                    // An escaped quote (or escaped escape) inside quotes is literal.
                    if b == escape
                        && i + 1 < line.len()
                        && (line[i + 1] == quote || line[i + 1] == escape)
                    {
                        value.push(line[i + 1]);
                        i += 2;
                        continue;
                    }
                    if b == quote {
                        in_quote = false;
                        i += 1;
                        continue;
                    }
                    value.push(b);
                    i += 1;
                    continue;
                }
                if b == delim {
                    break;
                }
                if b == quote {
                    in_quote = true;
                    quoted = true;
                    i += 1;
                    continue;
                }
                value.push(b);
                i += 1;
            }
            if in_quote {
                return Err(Error::new(
                    ErrorKind::BadCopyFileFormat,
                    "unterminated CSV quoted field",
                ));
            }
            let raw = &line[start..i];
            let col = fields.len();
            let is_null = if quoted {
                self.force_null.contains(&col) && value == null
            } else {
                raw == null && !self.force_not_null.contains(&col)
            };
            fields.push(if is_null { None } else { Some(value) });
            if i >= line.len() {
                break;
            }
            i += 1; // the delimiter
        }
        Ok(fields)
    }

    /// Whether a record (without line end) is the end-of-data marker `\.`.
    pub fn is_end_marker(&self, line: &[u8]) -> bool {
        line == b"\\."
    }
}

/// The line end stripped from a record: `\n` or `\r\n`.
pub fn strip_line_end(record: &[u8]) -> &[u8] {
    let r = record.strip_suffix(b"\n").unwrap_or(record);
    r.strip_suffix(b"\r").unwrap_or(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> CopyOptions {
        CopyOptions::validate(Raw::default(), &[], true).unwrap()
    }

    fn csv() -> CopyOptions {
        CopyOptions::validate(
            Raw {
                format: Some(Format::Csv),
                ..Raw::default()
            },
            &[],
            true,
        )
        .unwrap()
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn text_round_trip_escapes() {
        let o = text();
        let line = o.encode_line(&[s("a\tb\\c\nd"), None, s("")]);
        assert_eq!(line, b"a\\tb\\\\c\\nd\t\\N\t\n");
        let back = o.decode_record(strip_line_end(&line)).unwrap();
        assert_eq!(back, vec![s("a\tb\\c\nd"), None, s("")]);
    }

    #[test]
    fn text_octal_hex_and_other_escapes() {
        let o = text();
        let f = o.decode_record(b"\\101\\x42\\q\\\t").unwrap();
        // `\<tab>` is a literal tab, not a delimiter.
        assert_eq!(f, vec![s("ABq\t")]);
    }

    #[test]
    fn csv_quoting_and_nulls() {
        let o = csv();
        assert_eq!(
            o.encode_line(&[s("a,b"), s("say \"hi\""), None, s(""), s("x")]),
            b"\"a,b\",\"say \"\"hi\"\"\",,\"\",x\n"
        );
        let f = o
            .decode_record(b"\"a,b\",\"say \"\"hi\"\"\",,\"\",x")
            .unwrap();
        assert_eq!(f, vec![s("a,b"), s("say \"hi\""), None, s(""), s("x")]);
    }

    #[test]
    fn csv_record_spans_lines_inside_quotes() {
        let o = csv();
        assert_eq!(o.record_end(b"1,\"a\nb\"\n2,c\n"), Some(8));
        assert_eq!(o.record_end(b"1,\"a\nb"), None);
        assert!(o.decode_record(b"1,\"abc").is_err());
    }

    #[test]
    fn options_are_checked_like_postgres() {
        let e = CopyOptions::validate(
            Raw {
                quote: Some('x'),
                ..Raw::default()
            },
            &[],
            false,
        )
        .unwrap_err();
        assert_eq!(e.message, "COPY quote available only in CSV mode");
        let e = CopyOptions::validate(
            Raw {
                format: Some(Format::Csv),
                delimiter: Some('"'),
                ..Raw::default()
            },
            &[],
            false,
        )
        .unwrap_err();
        assert_eq!(e.message, "COPY delimiter and quote must be different");
    }
}
