//! `sqllogictest` engines over tokio-postgres: one for each query protocol.
//!
//! Every `.slt` file runs twice, once per [`Protocol`], because a server can get one protocol
//! right and the other wrong (statement splitting, parameter and result descriptions, binary
//! encodings):
//!
//! - [`Protocol::Simple`]: `simple_query`; values arrive as the server's text output.
//! - [`Protocol::Extended`]: Parse/Describe/Bind/Execute via `prepare` + `query`; tokio-postgres
//!   asks for **binary** results, so each value is decoded from its type's binary form and
//!   re-rendered as PostgreSQL's text output ([`render_binary`]). A mismatch between the two
//!   runs therefore points at the server's binary encoding or its row description.
//!
//! Value conventions (shared by both): SQL NULL prints `NULL`, the empty string `(empty)`.
//! Column types: integers `I`, float/numeric `R`, everything else `T`. The simple protocol has
//! no column types (tokio-postgres does not expose them there), so it reports `?` and the
//! column validator ([`column_validator`]) accepts `?` for anything.

use std::fmt;

use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{Client, Config, SimpleQueryMessage};

/// Which query protocol an engine uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Simple,
    Extended,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Simple => "simple",
            Protocol::Extended => "extended",
        })
    }
}

/// An error from the server or the connection, with the SQLSTATE kept for
/// `statement error (XXXXX)` checks.
#[derive(Debug)]
pub struct EngineError {
    pub sqlstate: Option<String>,
    pub message: String,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sqlstate {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<tokio_postgres::Error> for EngineError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => EngineError {
                sqlstate: Some(db.code().code().to_string()),
                message: db.message().to_string(),
            },
            None => EngineError {
                sqlstate: None,
                message: e.to_string(),
            },
        }
    }
}

/// A connection under test.
pub struct PgEngine {
    client: Client,
    protocol: Protocol,
}

impl PgEngine {
    /// Connects with `config` and speaks `protocol`.
    pub async fn connect(config: &Config, protocol: Protocol) -> Result<PgEngine, EngineError> {
        let client = crate::target::connect(config).await?;
        Ok(PgEngine { client, protocol })
    }

    async fn run_simple(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let messages = self.client.simple_query(sql).await?;
        let mut columns: Option<usize> = None;
        let mut rows = Vec::new();
        let mut affected = 0;
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(cols) => columns = Some(cols.len()),
                SimpleQueryMessage::Row(row) => {
                    columns = Some(row.len());
                    rows.push((0..row.len()).map(|i| render_text(row.get(i))).collect());
                }
                SimpleQueryMessage::CommandComplete(n) => affected = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(affected),
        })
    }

    async fn run_extended(
        &mut self,
        sql: &str,
    ) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        let statement = self.client.prepare(sql).await?;
        if statement.columns().is_empty() {
            let n = self.client.execute(&statement, &[]).await?;
            return Ok(DBOutput::StatementComplete(n));
        }
        let types: Vec<DefaultColumnType> = statement
            .columns()
            .iter()
            .map(|c| column_type(c.type_()))
            .collect();
        let rows = self.client.query(&statement, &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(row.len());
            for (i, column) in row.columns().iter().enumerate() {
                let raw: Option<Raw> = row.try_get(i)?;
                let text =
                    match raw {
                        None => None,
                        Some(raw) => Some(render_binary(column.type_(), &raw.0).map_err(|e| {
                            EngineError {
                                sqlstate: None,
                                message: format!(
                                    "cannot decode binary {} value in column {:?}: {e}",
                                    column.type_(),
                                    column.name()
                                ),
                            }
                        })?),
                    };
                values.push(render_text(text.as_deref()));
            }
            out.push(values);
        }
        Ok(DBOutput::Rows { types, rows: out })
    }
}

#[async_trait]
impl AsyncDB for PgEngine {
    type Error = EngineError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, EngineError> {
        match self.protocol {
            Protocol::Simple => self.run_simple(sql).await,
            Protocol::Extended => self.run_extended(sql).await,
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        match self.protocol {
            Protocol::Simple => "postgres",
            Protocol::Extended => "postgres-extended",
        }
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await
    }

    fn error_sql_state(err: &EngineError) -> Option<String> {
        err.sqlstate.clone()
    }
}

/// Column types must match, except that `?` (unknown, the simple protocol) matches anything.
#[allow(clippy::ptr_arg)] // the signature is sqllogictest's ColumnTypeValidator
pub fn column_validator(
    actual: &Vec<DefaultColumnType>,
    expected: &Vec<DefaultColumnType>,
) -> bool {
    actual.len() == expected.len()
        && actual
            .iter()
            .zip(expected)
            .all(|(a, e)| *a == DefaultColumnType::Any || *e == DefaultColumnType::Any || a == e)
}

fn column_type(ty: &Type) -> DefaultColumnType {
    match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => DefaultColumnType::Integer,
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

fn render_text(value: Option<&str>) -> String {
    match value {
        None => "NULL".into(),
        Some("") => "(empty)".into(),
        Some(s) => s.to_string(),
    }
}

/// The raw bytes of any value.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

type DecodeError = Box<dyn std::error::Error + Sync + Send>;

/// PostgreSQL's text output for a value received in binary format.
pub fn render_binary(ty: &Type, raw: &[u8]) -> Result<String, DecodeError> {
    Ok(match *ty {
        Type::BOOL => if bool::from_sql(ty, raw)? { "t" } else { "f" }.to_string(),
        Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
        Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
        Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
        Type::OID => u32::from_sql(ty, raw)?.to_string(),
        Type::FLOAT4 => format_float(f32::from_sql(ty, raw)? as f64, true),
        Type::FLOAT8 => format_float(f64::from_sql(ty, raw)?, false),
        Type::NUMERIC => decode_numeric(raw)?,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            String::from_utf8(raw.to_vec())?
        }
        // Rendering other binary formats is not implemented: fail loudly rather than print
        // garbage (cast the column to text in the test instead).
        _ => return Err(format!("no text rendering for binary {ty}; cast it to text").into()),
    })
}

/// PostgreSQL's float output (shortest round-trip digits, `extra_float_digits` = 1): plain
/// notation for decimal exponents in [-4, P), scientific with a signed two-digit exponent
/// otherwise, where P is 6 for real and 15 for double precision.
pub fn format_float(value: f64, single: bool) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Shortest digits for the value's own width, as "d.ddde±x".
    let sci = if single {
        format!("{:e}", value as f32)
    } else {
        format!("{value:e}")
    };
    let Some((mantissa, exponent)) = sci.split_once('e') else {
        return sci;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let limit = if single { 6 } else { 15 };
    if exponent < -4 || exponent >= limit {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let point = exponent + 1; // digits before the decimal point
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        format!(
            "{}.{}",
            &digits[..point as usize],
            &digits[point as usize..]
        )
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

/// Decodes PostgreSQL's binary numeric: `ndigits i16, weight i16, sign u16, dscale u16`, then
/// `ndigits` base-10000 digits (i16), the first one worth 10000^weight.
pub fn decode_numeric(raw: &[u8]) -> Result<String, DecodeError> {
    let word = |i: usize| -> Result<u16, DecodeError> {
        raw.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "numeric value too short".into())
    };
    let ndigits = word(0)? as usize;
    let weight = word(2)? as i16 as i32;
    let sign = word(4)?;
    let dscale = word(6)? as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        0x0000 | 0x4000 => {}
        other => return Err(format!("bad numeric sign {other:#x}").into()),
    }
    let mut digits = Vec::with_capacity(ndigits);
    for i in 0..ndigits {
        digits.push(word(8 + 2 * i)?);
    }
    let group = |i: i32| -> u16 {
        // Digit group worth 10000^(weight - i); outside the stored range it is zero.
        if i >= 0 && (i as usize) < digits.len() {
            digits[i as usize]
        } else {
            0
        }
    };
    let mut int_part = String::new();
    for i in 0..=weight.max(-1) {
        if i > weight {
            break;
        }
        let g = group(i);
        if int_part.is_empty() {
            if g != 0 {
                int_part = g.to_string();
            }
        } else {
            int_part.push_str(&format!("{g:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", group(i)));
        i += 1;
    }
    frac.truncate(dscale);
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    out.push_str(&int_part);
    if dscale > 0 {
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_postgres() {
        // Expected values from PostgreSQL 15.
        assert_eq!(format_float(1e6, true), "1e+06");
        assert_eq!(format_float(1e5, true), "100000");
        assert_eq!(format_float(1234567.0, true), "1.234567e+06");
        assert_eq!(format_float(1e15, false), "1e+15");
        assert_eq!(format_float(1e14, false), "100000000000000");
        assert_eq!(format_float(0.0001, false), "0.0001");
        assert_eq!(format_float(0.00001, false), "1e-05");
        assert_eq!(format_float(1.5e-7_f32 as f64, true), "1.5e-07");
        assert_eq!(format_float(0.1_f32 as f64, true), "0.1");
        assert_eq!(format_float(-0.0, false), "-0");
        assert_eq!(format_float(1e100, false), "1e+100");
        assert_eq!(format_float(-2.5, false), "-2.5");
        assert_eq!(format_float(f64::NEG_INFINITY, false), "-Infinity");
    }

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn decodes_binary_numeric() {
        // 12345.678 = [1][2345].[6780], weight 1, dscale 3
        assert_eq!(
            decode_numeric(&numeric(3, 1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        // -0.0012 = [0012] at weight -1, dscale 4
        assert_eq!(
            decode_numeric(&numeric(1, -1, 0x4000, 4, &[12])).unwrap(),
            "-0.0012"
        );
        // 0.00 (no digits, dscale 2)
        assert_eq!(decode_numeric(&numeric(0, 0, 0, 2, &[])).unwrap(), "0.00");
        // 1000000 = [100][0000] with trailing zero group dropped: weight 1, one digit
        assert_eq!(
            decode_numeric(&numeric(1, 1, 0, 0, &[100])).unwrap(),
            "1000000"
        );
        // 0.00001 = weight -2, digit 1000 (0.0000|1000), dscale 5
        assert_eq!(
            decode_numeric(&numeric(1, -2, 0, 5, &[1000])).unwrap(),
            "0.00001"
        );
        assert_eq!(
            decode_numeric(&numeric(0, 0, 0xC000, 0, &[])).unwrap(),
            "NaN"
        );
        assert!(decode_numeric(&[0, 1]).is_err());
    }

    #[test]
    fn validator_accepts_unknown_types() {
        use DefaultColumnType::*;
        assert!(column_validator(&vec![Any, Any], &vec![Integer, Text]));
        assert!(column_validator(&vec![Integer, Text], &vec![Integer, Text]));
        assert!(!column_validator(&vec![FloatingPoint], &vec![Integer]));
        assert!(!column_validator(&vec![Any], &vec![Integer, Text]));
    }
}
