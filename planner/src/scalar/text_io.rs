//! Text input and output functions (PostgreSQL's `typinput`/`typoutput`), and SQL type names.
//!
//! Output formats that clients and tests see byte for byte:
//!
//! - bool: `t` / `f`.
//! - float4/float8 with `extra_float_digits > 0` (the default): the shortest digit string that
//!   reads back to the same value, chosen as Ryu chooses it (`float_out.rs`), laid out as
//!   PostgreSQL's Ryu-based output does: fixed notation when the decimal exponent is in
//!   `-4 ..= 14` (float8) or `-4 ..= 5` (float4), otherwise `d.ddde+XX` with a signed exponent
//!   of at least two digits. `NaN`, `Infinity`, `-Infinity`, `-0`.
//! - floats with `extra_float_digits <= 0`: C's `%.*g` with 15 (float8) or 6 (float4) plus
//!   `extra_float_digits` significant digits, see [`format_g`].
//! - numeric: plain digits keeping the display scale (`1.50`), `NaN`, `Infinity`.
//!
//! Input follows each type's input function: integers and floats allow surrounding
//! whitespace; bool takes `t/true/yes/on/1` and `f/false/no/off/0` and unique prefixes.

use super::{bytes, datetime, numeric};
use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::{DataType, Value};

pub(crate) fn invalid_syntax(type_name: &str, text: &str) -> Error {
    Error::new(
        ErrorKind::InvalidTextRepresentation,
        format!("invalid input syntax for type {type_name}: \"{text}\""),
    )
}

fn int_out_of_range(type_name: &str, text: &str) -> Error {
    Error::new(
        ErrorKind::NumericValueOutOfRange,
        format!("value \"{text}\" is out of range for type {type_name}"),
    )
}

/// `pg_strtoint*`: whitespace, optional sign, digits, whitespace.
fn parse_int(text: &str, min: i64, max: i64, type_name: &str) -> Result<i64> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_syntax(type_name, text));
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = v * 10 + (b - b'0') as i128;
        if v > (i64::MAX as i128) + 1 {
            return Err(int_out_of_range(type_name, text));
        }
    }
    if neg {
        v = -v;
    }
    if v < min as i128 || v > max as i128 {
        return Err(int_out_of_range(type_name, text));
    }
    Ok(v as i64)
}

/// `float8in`/`float4in` share this: strtod's grammar plus PostgreSQL's range checks.
fn parse_float(text: &str, type_name: &str, single: bool) -> Result<f64> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let special = matches!(body, "nan" | "inf" | "infinity");
    let ok_grammar = special
        || (!body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
            && body
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'.')
            && lower.len() - body.len() <= 1);
    if !ok_grammar {
        return Err(invalid_syntax(type_name, text));
    }
    let out_of_range = || {
        Error::new(
            ErrorKind::NumericValueOutOfRange,
            format!("\"{t}\" is out of range for type {type_name}"),
        )
    };
    let v = if single {
        t.parse::<f32>().map(|f| f as f64)
    } else {
        t.parse::<f64>()
    }
    .map_err(|_| invalid_syntax(type_name, text))?;
    if !special {
        if v.is_infinite() {
            return Err(out_of_range());
        }
        let mantissa = body.split('e').next().unwrap_or("");
        if v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return Err(out_of_range());
        }
    }
    Ok(v)
}

/// `boolin`.
fn parse_bool(text: &str) -> Result<bool> {
    let t = text
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || t == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Ok(false)
    } else {
        Err(invalid_syntax("boolean", text))
    }
}

/// Applies `varchar(n)` / `char(n)`: an over-long value is an error unless the excess is
/// spaces (or `truncate`, for explicit casts); char(n) is padded with spaces to n.
pub(crate) fn apply_char_typmod(s: String, ty: &DataType, truncate: bool) -> Result<String> {
    let (n, pad) = match ty {
        DataType::Varchar(Some(n)) => (*n as usize, false),
        DataType::Char(n) => (*n as usize, true),
        DataType::Name => return Ok(truncate_name(s)),
        _ => return Ok(s),
    };
    let len = s.chars().count();
    if len > n {
        let cut = s.char_indices().nth(n).map(|(i, _)| i).unwrap_or(s.len());
        if !truncate && !s[cut..].bytes().all(|b| b == b' ') {
            return Err(Error::new(
                ErrorKind::StringDataRightTruncation,
                format!("value too long for type {}", ty.pg_name()),
            ));
        }
        return Ok(s[..cut].to_string());
    }
    if pad && len < n {
        let mut s = s;
        s.extend(std::iter::repeat_n(' ', n - len));
        return Ok(s);
    }
    Ok(s)
}

/// `name` input: silently cut to NAMEDATALEN - 1 (63) bytes, at a character boundary.
pub(crate) fn truncate_name(mut s: String) -> String {
    if s.len() > 63 {
        let mut cut = 63;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// See [`super::parse_text`].
pub fn parse_text(ty: &DataType, text: &str) -> Result<Value> {
    Ok(match ty {
        DataType::Bool => Value::Bool(parse_bool(text)?),
        DataType::Int2 => {
            Value::Int2(parse_int(text, i16::MIN as i64, i16::MAX as i64, "smallint")? as i16)
        }
        DataType::Int4 => {
            Value::Int4(parse_int(text, i32::MIN as i64, i32::MAX as i64, "integer")? as i32)
        }
        DataType::Int8 => Value::Int8(parse_int(text, i64::MIN, i64::MAX, "bigint")?),
        DataType::Float4 => Value::Float4(parse_float(text, "real", true)? as f32),
        DataType::Float8 => Value::Float8(parse_float(text, "double precision", false)?),
        DataType::Numeric { precision, scale } => {
            let n = numeric::parse(text)?;
            Value::Numeric(numeric::apply_typmod(n, *precision, *scale)?)
        }
        DataType::Text => Value::Text(text.to_string()),
        DataType::Name => Value::Text(truncate_name(text.to_string())),
        DataType::Varchar(_) | DataType::Char(_) => {
            Value::Text(apply_char_typmod(text.to_string(), ty, false)?)
        }
        DataType::Date => datetime::parse_date(text)?,
        DataType::Time => datetime::parse_time(text)?,
        DataType::Timestamp => datetime::parse_timestamp(text, false)?,
        DataType::TimestampTz => datetime::parse_timestamp(text, true)?,
        DataType::Interval => datetime::parse_interval(text)?,
        DataType::Bytea => Value::Bytea(bytes::parse_bytea(text)?),
        DataType::Uuid => Value::Uuid(bytes::parse_uuid(text)?),
    })
}

/// See [`super::format_text`].
pub fn format_text(value: &Value, extra_float_digits: i32) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "t" } else { "f" }.into(),
        Value::Int2(v) => v.to_string(),
        Value::Int4(v) => v.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Float4(v) => format_float(*v as f64, true, extra_float_digits),
        Value::Float8(v) => format_float(*v, false, extra_float_digits),
        Value::Numeric(n) => numeric::format(n),
        Value::Text(s) => s.clone(),
        Value::Date(d) => datetime::format_date(*d),
        Value::Time(t) => datetime::format_time(*t),
        Value::Timestamp(t) => datetime::format_timestamp(*t, None),
        Value::TimestampTz(t) => {
            datetime::format_timestamp(*t, Some(super::timezone::session_offset_at(*t)))
        }
        Value::Interval(iv) => datetime::format_interval(iv),
        Value::Bytea(b) => bytes::format_bytea(b),
        Value::Uuid(u) => bytes::format_uuid(u),
    }
}

pub(crate) fn format_float(v: f64, single: bool, extra_float_digits: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if extra_float_digits > 0 {
        if v == 0.0 {
            return if v.is_sign_negative() { "-0" } else { "0" }.into();
        }
        let (digits, exp) = super::float_out::shortest(v, single);
        shortest_layout(v < 0.0, &digits, exp, if single { 6 } else { 15 })
    } else {
        let base = if single { 6 } else { 15 };
        let digits = (base + extra_float_digits).max(1) as usize;
        format_g(v, digits)
    }
}

/// Splits Rust's `{:e}` output (`-1.25e-7`) into sign, digit string and exponent.
fn split_sci(sci: &str) -> (bool, String, i32) {
    let (neg, rest) = match sci.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, sci),
    };
    let (mant, exp) = rest.split_once('e').unwrap_or((rest, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (neg, digits, exp.parse().unwrap_or(0))
}

fn exp_suffix(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("e{sign}{:02}", exp.abs())
}

/// PostgreSQL's layout of shortest digits: fixed for `-4 <= exp < fixed_limit`.
fn shortest_layout(neg: bool, digits: &str, exp: i32, fixed_limit: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= fixed_limit {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&exp_suffix(exp));
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(digits);
    }
    out
}

/// C's `%.{precision}g` for a finite value.
pub(crate) fn format_g(v: f64, precision: usize) -> String {
    let p = precision.max(1);
    let sci = format!("{:.*e}", p - 1, v);
    let (neg, digits, exp) = split_sci(&sci);
    if exp < -4 || exp >= p as i32 {
        let trimmed = digits.trim_end_matches('0');
        let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
        let mut out = String::new();
        if neg {
            out.push('-');
        }
        out.push_str(&trimmed[..1]);
        if trimmed.len() > 1 {
            out.push('.');
            out.push_str(&trimmed[1..]);
        }
        out.push_str(&exp_suffix(exp));
        out
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
}

/// See [`super::type_from_ast`].
pub fn type_from_ast(ty: &sqlparser::ast::DataType) -> Result<DataType> {
    use sqlparser::ast::{CharacterLength, DataType as A, ExactNumberInfo, TimezoneInfo};
    let char_len = |l: &Option<CharacterLength>, name: &str| -> Result<Option<u32>> {
        match l {
            None => Ok(None),
            Some(CharacterLength::IntegerLength { length, .. }) => {
                if *length < 1 {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        format!("length for type {name} must be at least 1"),
                    ));
                }
                if *length > 10_485_760 {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        format!("length for type {name} cannot exceed 10485760"),
                    ));
                }
                Ok(Some(*length as u32))
            }
            Some(CharacterLength::Max) => Err(Error::new(
                ErrorKind::SyntaxError,
                "syntax error at or near \"max\"",
            )),
        }
    };
    let numeric = |info: &ExactNumberInfo| -> Result<DataType> {
        let (p, s) = match info {
            ExactNumberInfo::None => {
                return Ok(DataType::Numeric {
                    precision: None,
                    scale: None,
                })
            }
            ExactNumberInfo::Precision(p) => (*p, 0),
            ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
        };
        if !(1..=1000).contains(&p) {
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                format!("NUMERIC precision {p} must be between 1 and 1000"),
            ));
        }
        if !(0..=1000).contains(&s) {
            return Err(Error::new(
                ErrorKind::FeatureNotSupported,
                format!("NUMERIC scale {s} is not supported"),
            ));
        }
        Ok(DataType::Numeric {
            precision: Some(p as u32),
            scale: Some(s as u32),
        })
    };
    Ok(match ty {
        A::Bool | A::Boolean => DataType::Bool,
        A::SmallInt(_) | A::Int2(_) => DataType::Int2,
        A::Int(_) | A::Integer(_) | A::Int4(_) => DataType::Int4,
        A::BigInt(_) | A::Int8(_) => DataType::Int8,
        A::Real | A::Float4 => DataType::Float4,
        A::Float8 | A::DoublePrecision | A::Double(ExactNumberInfo::None) => DataType::Float8,
        A::Float(info) => match info {
            ExactNumberInfo::None => DataType::Float8,
            ExactNumberInfo::Precision(p) | ExactNumberInfo::PrecisionAndScale(p, _) => match *p {
                0 => {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        "precision for type float must be at least 1 bit",
                    ))
                }
                1..=24 => DataType::Float4,
                25..=53 => DataType::Float8,
                _ => {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        "precision for type float must be less than 54 bits",
                    ))
                }
            },
        },
        A::Numeric(info) | A::Decimal(info) | A::Dec(info) => numeric(info)?,
        A::Text => DataType::Text,
        A::Varchar(l) | A::CharacterVarying(l) | A::CharVarying(l) => {
            DataType::Varchar(char_len(l, "varchar")?)
        }
        A::Char(l) | A::Character(l) => DataType::Char(char_len(l, "char")?.unwrap_or(1)),
        A::Date => DataType::Date,
        A::Time(_, tz) => match tz {
            TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => {
                return Err(Error::new(
                    ErrorKind::FeatureNotSupported,
                    "type time with time zone is not supported",
                ))
            }
            _ => DataType::Time,
        },
        A::Timestamp(_, tz) => match tz {
            TimezoneInfo::WithTimeZone | TimezoneInfo::Tz => DataType::TimestampTz,
            _ => DataType::Timestamp,
        },
        A::Interval { .. } => DataType::Interval,
        A::Bytea => DataType::Bytea,
        A::Uuid => DataType::Uuid,
        A::Custom(name, mods) => {
            let n = name.to_string().to_ascii_lowercase();
            let n = n.trim_matches('"');
            let n = n.strip_prefix("pg_catalog.").unwrap_or(n);
            let first_mod = mods.first().and_then(|m| m.to_string().parse::<u64>().ok());
            match n {
                "bool" | "boolean" => DataType::Bool,
                "int2" | "smallint" => DataType::Int2,
                "int4" | "int" | "integer" => DataType::Int4,
                "int8" | "bigint" => DataType::Int8,
                "float4" | "real" => DataType::Float4,
                "float8" => DataType::Float8,
                "numeric" | "decimal" => {
                    let second = mods.get(1).and_then(|m| m.to_string().parse::<i64>().ok());
                    numeric(&match (first_mod, second) {
                        (None, _) => ExactNumberInfo::None,
                        (Some(p), None) => ExactNumberInfo::Precision(p),
                        (Some(p), Some(s)) => ExactNumberInfo::PrecisionAndScale(p, s),
                    })?
                }
                "text" => DataType::Text,
                "varchar" => DataType::Varchar(first_mod.map(|n| n as u32)),
                "bpchar" => DataType::Char(first_mod.unwrap_or(1) as u32),
                "char" => DataType::Char(first_mod.unwrap_or(1) as u32),
                "date" => DataType::Date,
                "time" => DataType::Time,
                "timestamp" => DataType::Timestamp,
                "timestamptz" => DataType::TimestampTz,
                "interval" => DataType::Interval,
                "bytea" => DataType::Bytea,
                "uuid" => DataType::Uuid,
                "name" => DataType::Name,
                _ => return Err(undefined_type(n)),
            }
        }
        other => return Err(undefined_type(&other.to_string().to_ascii_lowercase())),
    })
}

fn undefined_type(name: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedObject,
        format!("type \"{name}\" does not exist"),
    )
}
