//! Wire types: how sledgres' SQL types look on the PostgreSQL protocol.
//!
//! Three things a client learns about a type, all fixed by PostgreSQL's catalog:
//!
//! - its **OID** (pg_type.oid), in RowDescription and ParameterDescription, and what the
//!   client sends in Parse to fix a parameter's type (0 = "you infer it");
//! - its **size** (pg_type.typlen: 1/2/4/8 for fixed-width types, -1 for varlena) and the
//!   column's **type modifier** (atttypmod: `varchar(n)` and `char(n)` send n+4, `numeric(p,s)`
//!   sends `((p << 16) | s) + 4`, everything else -1) — drivers use these for display widths
//!   and metadata;
//! - its **binary format** (typsend/typreceive), used whenever a client asks for format code 1
//!   (tokio-postgres always does for results, and sends parameters in binary).
//!
//! Text format is the planner's business (`Session::format_text`, `decode_param_text`): it
//! depends on session settings such as extra_float_digits.
//!
//! Binary formats, all big-endian:
//!
//! | type             | bytes                                                        |
//! |------------------|--------------------------------------------------------------|
//! | bool             | 1 byte, 0 or 1                                               |
//! | int2/int4/int8   | two's complement, 2/4/8 bytes                                |
//! | float4/float8    | IEEE 754, 4/8 bytes                                          |
//! | text/varchar/bpchar | the UTF-8 bytes, no terminator                            |
//! | numeric          | see [`encode_numeric`]                                       |
//! | date             | i32 days since 2000-01-01 (i32::MIN/MAX = ∓infinity)          |
//! | time             | i64 microseconds since midnight                              |
//! | timestamp[tz]    | i64 microseconds since 2000-01-01 00:00 (UTC for tz)         |
//! | interval         | i64 microseconds, i32 days, i32 months                       |
//! | bytea            | the bytes                                                    |
//! | uuid             | the 16 bytes                                                 |

use crate::error::{code, SqlError};
use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::BigDecimal;
use bytes::{BufMut, BytesMut};
use sledgres_planner::{DataType, Numeric, Value};

pub const OID_BOOL: u32 = 16;
pub const OID_INT8: u32 = 20;
pub const OID_INT2: u32 = 21;
pub const OID_INT4: u32 = 23;
pub const OID_TEXT: u32 = 25;
pub const OID_FLOAT4: u32 = 700;
pub const OID_FLOAT8: u32 = 701;
pub const OID_UNKNOWN: u32 = 705;
pub const OID_BPCHAR: u32 = 1042;
pub const OID_VARCHAR: u32 = 1043;
pub const OID_NUMERIC: u32 = 1700;
pub const OID_BYTEA: u32 = 17;
pub const OID_DATE: u32 = 1082;
pub const OID_TIME: u32 = 1083;
pub const OID_TIMESTAMP: u32 = 1114;
pub const OID_TIMESTAMPTZ: u32 = 1184;
pub const OID_INTERVAL: u32 = 1186;
pub const OID_UUID: u32 = 2950;
pub const OID_NAME: u32 = 19;

/// pg_type.oid of a column's type.
pub fn type_oid(ty: &DataType) -> u32 {
    match ty {
        DataType::Bool => OID_BOOL,
        DataType::Int2 => OID_INT2,
        DataType::Int4 => OID_INT4,
        DataType::Int8 => OID_INT8,
        DataType::Float4 => OID_FLOAT4,
        DataType::Float8 => OID_FLOAT8,
        DataType::Numeric { .. } => OID_NUMERIC,
        DataType::Text => OID_TEXT,
        DataType::Varchar(_) => OID_VARCHAR,
        DataType::Char(_) => OID_BPCHAR,
        DataType::Date => OID_DATE,
        DataType::Time => OID_TIME,
        DataType::Timestamp => OID_TIMESTAMP,
        DataType::TimestampTz => OID_TIMESTAMPTZ,
        DataType::Interval => OID_INTERVAL,
        DataType::Bytea => OID_BYTEA,
        DataType::Uuid => OID_UUID,
        DataType::Name => OID_NAME,
    }
}

/// pg_type.typlen: the width of fixed-size types, -1 for variable-length ones.
pub fn type_size(ty: &DataType) -> i16 {
    match ty {
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Date => 4,
        DataType::Int8
        | DataType::Float8
        | DataType::Time
        | DataType::Timestamp
        | DataType::TimestampTz => 8,
        DataType::Interval | DataType::Uuid => 16,
        DataType::Name => 64,
        DataType::Numeric { .. }
        | DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Bytea => -1,
    }
}

/// atttypmod as PostgreSQL reports it (VARHDRSZ = 4 is added to length-like modifiers).
pub fn type_modifier(ty: &DataType) -> i32 {
    match ty {
        DataType::Varchar(Some(n)) | DataType::Char(n) => (*n as i32).saturating_add(4),
        DataType::Numeric {
            precision: Some(p),
            scale,
        } => ((((*p as i64) << 16) | scale.unwrap_or(0) as i64) + 4) as i32,
        _ => -1,
    }
}

/// The parameter type a client asked for in Parse; `None` = infer (OID 0, or `unknown`).
///
/// `bpchar` without a length has no `DataType`: it is taken as `text`, which differs only in
/// how trailing blanks compare.
pub fn param_type_from_oid(oid: u32) -> Result<Option<DataType>, SqlError> {
    Ok(Some(match oid {
        0 | OID_UNKNOWN => return Ok(None),
        OID_BOOL => DataType::Bool,
        OID_INT2 => DataType::Int2,
        OID_INT4 => DataType::Int4,
        OID_INT8 => DataType::Int8,
        OID_FLOAT4 => DataType::Float4,
        OID_FLOAT8 => DataType::Float8,
        OID_NUMERIC => DataType::Numeric {
            precision: None,
            scale: None,
        },
        OID_TEXT | OID_BPCHAR => DataType::Text,
        OID_VARCHAR => DataType::Varchar(None),
        OID_DATE => DataType::Date,
        OID_TIME => DataType::Time,
        OID_TIMESTAMP => DataType::Timestamp,
        OID_TIMESTAMPTZ => DataType::TimestampTz,
        OID_INTERVAL => DataType::Interval,
        OID_BYTEA => DataType::Bytea,
        OID_UUID => DataType::Uuid,
        OID_NAME => DataType::Name,
        other => {
            return Err(SqlError::new(
                code::FEATURE_NOT_SUPPORTED,
                format!("parameter type with OID {other} is not supported"),
            ))
        }
    }))
}

fn mismatch(value: &Value, ty: &DataType) -> SqlError {
    SqlError::new(
        code::INTERNAL,
        format!("cannot send value {value:?} as type {ty}"),
    )
}

fn out_of_range(ty: &DataType) -> SqlError {
    SqlError::new("22003", format!("value out of range for type {ty}"))
}

/// Appends the binary form of a non-null `value` as a column of type `ty`. Integer values of
/// a narrower or wider type than the column are converted (the client decodes by the
/// column's OID, so the byte width must be the column's).
pub fn encode_binary(value: &Value, ty: &DataType, buf: &mut BytesMut) -> Result<(), SqlError> {
    let as_i64 = |v: &Value| -> Option<i64> {
        match v {
            Value::Int2(x) => Some(*x as i64),
            Value::Int4(x) => Some(*x as i64),
            Value::Int8(x) => Some(*x),
            _ => None,
        }
    };
    match ty {
        DataType::Bool => match value {
            Value::Bool(b) => buf.put_u8(*b as u8),
            _ => return Err(mismatch(value, ty)),
        },
        DataType::Int2 => {
            let v = as_i64(value).ok_or_else(|| mismatch(value, ty))?;
            buf.put_i16(i16::try_from(v).map_err(|_| out_of_range(ty))?);
        }
        DataType::Int4 => {
            let v = as_i64(value).ok_or_else(|| mismatch(value, ty))?;
            buf.put_i32(i32::try_from(v).map_err(|_| out_of_range(ty))?);
        }
        DataType::Int8 => buf.put_i64(as_i64(value).ok_or_else(|| mismatch(value, ty))?),
        DataType::Float4 => match value {
            Value::Float4(f) => buf.put_f32(*f),
            Value::Float8(f) => buf.put_f32(*f as f32),
            other => buf.put_f32(as_i64(other).ok_or_else(|| mismatch(value, ty))? as f32),
        },
        DataType::Float8 => match value {
            Value::Float8(f) => buf.put_f64(*f),
            Value::Float4(f) => buf.put_f64(*f as f64),
            other => buf.put_f64(as_i64(other).ok_or_else(|| mismatch(value, ty))? as f64),
        },
        DataType::Numeric { .. } => match value {
            Value::Numeric(n) => encode_numeric(n, buf),
            other => {
                let v = as_i64(other).ok_or_else(|| mismatch(value, ty))?;
                encode_numeric(&Numeric::Finite(BigDecimal::from(v)), buf)
            }
        },
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name => match value {
            Value::Text(s) => buf.put_slice(s.as_bytes()),
            _ => return Err(mismatch(value, ty)),
        },
        DataType::Date => match value {
            Value::Date(d) => buf.put_i32(*d),
            _ => return Err(mismatch(value, ty)),
        },
        DataType::Time | DataType::Timestamp | DataType::TimestampTz => match value {
            Value::Time(t) | Value::Timestamp(t) | Value::TimestampTz(t) => buf.put_i64(*t),
            _ => return Err(mismatch(value, ty)),
        },
        DataType::Interval => match value {
            Value::Interval(iv) => {
                buf.put_i64(iv.micros);
                buf.put_i32(iv.days);
                buf.put_i32(iv.months);
            }
            _ => return Err(mismatch(value, ty)),
        },
        DataType::Bytea => match value {
            Value::Bytea(b) => buf.put_slice(b),
            _ => return Err(mismatch(value, ty)),
        },
        DataType::Uuid => match value {
            Value::Uuid(u) => buf.put_slice(u),
            _ => return Err(mismatch(value, ty)),
        },
    }
    Ok(())
}

/// Decodes a parameter sent in binary format (`index` is 0-based, for the message).
pub fn decode_binary(bytes: &[u8], ty: &DataType, index: usize) -> Result<Value, SqlError> {
    let bad = || {
        SqlError::new(
            code::INVALID_BINARY_REPRESENTATION,
            format!(
                "incorrect binary data format in bind parameter {}",
                index + 1
            ),
        )
    };
    let fixed = |n: usize| -> Result<&[u8], SqlError> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(bad())
        }
    };
    Ok(match ty {
        DataType::Bool => match fixed(1)?[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return Err(bad()),
        },
        DataType::Int2 => Value::Int2(i16::from_be_bytes(fixed(2)?.try_into().map_err(|_| bad())?)),
        DataType::Int4 => Value::Int4(i32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?)),
        DataType::Int8 => Value::Int8(i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?)),
        DataType::Float4 => {
            Value::Float4(f32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?))
        }
        DataType::Float8 => {
            Value::Float8(f64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?))
        }
        DataType::Numeric { .. } => Value::Numeric(decode_numeric(bytes).ok_or_else(bad)?),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name => {
            Value::Text(utf8(bytes)?.to_string())
        }
        DataType::Date => Value::Date(i32::from_be_bytes(fixed(4)?.try_into().map_err(|_| bad())?)),
        DataType::Time => Value::Time(i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?)),
        DataType::Timestamp => {
            Value::Timestamp(i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?))
        }
        DataType::TimestampTz => {
            Value::TimestampTz(i64::from_be_bytes(fixed(8)?.try_into().map_err(|_| bad())?))
        }
        DataType::Interval => {
            let b = fixed(16)?;
            let micros = i64::from_be_bytes(b[..8].try_into().map_err(|_| bad())?);
            let days = i32::from_be_bytes(b[8..12].try_into().map_err(|_| bad())?);
            let months = i32::from_be_bytes(b[12..].try_into().map_err(|_| bad())?);
            Value::Interval(sledgres_planner::Interval {
                months,
                days,
                micros,
            })
        }
        DataType::Bytea => Value::Bytea(bytes.to_vec()),
        DataType::Uuid => Value::Uuid(fixed(16)?.try_into().map_err(|_| bad())?),
    })
}

/// Checks that client bytes are valid UTF-8 (the only encoding sledgres speaks).
pub fn utf8(bytes: &[u8]) -> Result<&str, SqlError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let shown: Vec<String> = bytes[at..bytes.len().min(at + 2)]
            .iter()
            .map(|b| format!("0x{b:02x}"))
            .collect();
        SqlError::new(
            code::CHARACTER_NOT_IN_REPERTOIRE,
            format!(
                "invalid byte sequence for encoding \"UTF8\": {}",
                shown.join(" ")
            ),
        )
    })
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// PostgreSQL's binary numeric (numeric_send):
///
/// ```text
/// i16 ndigits | i16 weight | u16 sign | u16 dscale | ndigits × i16 digit
/// ```
///
/// The value is `Σ digit[i] × 10000^(weight − i)`: base-10000 digits ("NBASE"), aligned on the
/// decimal point, with leading and trailing zero digits stripped. `sign` is 0x0000 (+),
/// 0x4000 (−), 0xC000 (NaN), 0xD000 (+Infinity), 0xF000 (−Infinity). `dscale` is the number
/// of decimal digits after the point to display (so 1.50 keeps its trailing zero). Zero has
/// no digits and weight 0. Example: 1.5 → `0002 0000 0000 0001 | 0001 1388` (digits 1, 5000).
pub fn encode_numeric(n: &Numeric, buf: &mut BytesMut) {
    let special = |buf: &mut BytesMut, sign: u16| {
        buf.put_i16(0);
        buf.put_i16(0);
        buf.put_u16(sign);
        buf.put_u16(0);
    };
    let d = match n {
        Numeric::NaN => return special(buf, NUMERIC_NAN),
        Numeric::PosInfinity => return special(buf, NUMERIC_PINF),
        Numeric::NegInfinity => return special(buf, NUMERIC_NINF),
        Numeric::Finite(d) => d,
    };
    let (int, scale) = d.as_bigint_and_exponent();
    let negative = int.sign() == Sign::Minus;
    let mut digits = int.magnitude().to_string();
    // A negative scale means trailing zeros of the integer: write them out.
    let scale = if scale < 0 {
        digits.push_str(&"0".repeat((-scale) as usize));
        0usize
    } else {
        scale as usize
    };
    let dscale = scale;
    if digits.len() <= scale {
        digits = format!("{}{}", "0".repeat(scale - digits.len() + 1), digits);
    }
    let (int_part, frac_part) = digits.split_at(digits.len() - scale);
    let int_part = int_part.trim_start_matches('0');
    // Pad the integer part on the left and the fraction on the right to whole NBASE digits.
    let int_padded = format!("{}{}", "0".repeat((4 - int_part.len() % 4) % 4), int_part);
    let frac_padded = format!("{}{}", frac_part, "0".repeat((4 - frac_part.len() % 4) % 4));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0i16, |acc, b| acc * 10 + (b - b'0') as i16))
            .collect()
    };
    let mut groups = group(&int_padded);
    let int_groups = groups.len() as i32;
    groups.extend(group(&frac_padded));
    let mut weight = int_groups - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    buf.put_i16(groups.len() as i16);
    buf.put_i16(weight as i16);
    buf.put_u16(if negative && !groups.is_empty() {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    });
    buf.put_u16(dscale.min(u16::MAX as usize) as u16);
    for g in groups {
        buf.put_i16(g);
    }
}

/// Inverse of [`encode_numeric`] (numeric_recv); `None` for malformed input.
pub fn decode_numeric(bytes: &[u8]) -> Option<Numeric> {
    let word = |i: usize| -> Option<u16> {
        let b = bytes.get(i * 2..i * 2 + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    };
    let ndigits = word(0)? as i16;
    let weight = word(1)? as i16;
    let sign = word(2)?;
    let dscale = word(3)?;
    if ndigits < 0 || bytes.len() != 8 + 2 * ndigits as usize || dscale > 0x3FFF {
        return None;
    }
    match sign {
        NUMERIC_NAN => return Some(Numeric::NaN),
        NUMERIC_PINF => return Some(Numeric::PosInfinity),
        NUMERIC_NINF => return Some(Numeric::NegInfinity),
        NUMERIC_POS | NUMERIC_NEG => {}
        _ => return None,
    }
    let mut text = String::with_capacity(ndigits as usize * 4 + 1);
    for i in 0..ndigits as usize {
        let g = word(4 + i)?;
        if g > 9999 {
            return None;
        }
        text.push_str(&format!("{g:04}"));
    }
    let mut int = if text.is_empty() {
        BigInt::from(0)
    } else {
        text.parse::<BigInt>().ok()?
    };
    if sign == NUMERIC_NEG {
        int = -int;
    }
    // Value = int × 10000^(weight − ndigits + 1) = int × 10^(−scale).
    let scale = -4 * (weight as i64 - ndigits as i64 + 1);
    let d = BigDecimal::new(int, scale).with_scale(dscale as i64);
    Some(Numeric::Finite(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn num(s: &str) -> Numeric {
        Numeric::Finite(BigDecimal::from_str(s).unwrap())
    }

    fn words(n: &Numeric) -> Vec<u16> {
        let mut buf = BytesMut::new();
        encode_numeric(n, &mut buf);
        buf.chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    fn hex(value: &Value, ty: &DataType) -> String {
        let mut buf = BytesMut::new();
        encode_binary(value, ty, &mut buf).unwrap();
        let back = decode_binary(&buf, ty, 0).unwrap();
        assert_eq!(&back, value, "binary round trip of {ty}");
        buf.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Expected bytes are date_send / time_send / timestamp_send / interval_send / uuid_send
    /// output from PostgreSQL 15.
    #[test]
    fn datetime_and_uuid_binary_match_postgres() {
        // date_send('2020-01-02')
        assert_eq!(hex(&Value::Date(7306), &DataType::Date), "00001c8a");
        // time_send('01:02:03.5')
        assert_eq!(
            hex(&Value::Time(3_723_500_000), &DataType::Time),
            "00000000ddf019e0"
        );
        // timestamp_send('2020-01-02 03:04:05')
        assert_eq!(
            hex(&Value::Timestamp(631_249_445_000_000), &DataType::Timestamp),
            "00023e1e36ef1340"
        );
        // interval_send('1 year 2 days 00:00:01')
        let iv = sledgres_planner::Interval {
            months: 12,
            days: 2,
            micros: 1_000_000,
        };
        assert_eq!(
            hex(&Value::Interval(iv), &DataType::Interval),
            "00000000000f4240000000020000000c"
        );
        let u = [
            0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
            0x0a, 0x11,
        ];
        assert_eq!(
            hex(&Value::Uuid(u), &DataType::Uuid),
            "a0eebc999c0b4ef8bb6d6bb9bd380a11"
        );
    }

    /// Expected words are numeric_send's output in PostgreSQL 15
    /// (`SELECT numeric_send(x)`), split into 16-bit words.
    #[test]
    fn numeric_binary_matches_postgres() {
        // numeric_send(1.5) = \x000200000000000100011388
        assert_eq!(words(&num("1.5")), vec![2, 0, 0, 1, 1, 5000]);
        // numeric_send(0) = \x0000000000000000
        assert_eq!(words(&num("0")), vec![0, 0, 0, 0]);
        // numeric_send(0.00) = \x0000000000000002
        assert_eq!(words(&num("0.00")), vec![0, 0, 0, 2]);
        // numeric_send(-12345.678) = \x0003000140000003000109291a7c
        assert_eq!(
            words(&num("-12345.678")),
            vec![3, 1, 0x4000, 3, 1, 2345, 6780]
        );
        // numeric_send(100000) = \x0001000100000000000a
        assert_eq!(words(&num("100000")), vec![1, 1, 0, 0, 10]);
        // numeric_send(0.0001) = \x0001ffff000000040001
        assert_eq!(words(&num("0.0001")), vec![1, 0xFFFF, 0, 4, 1]);
        // numeric_send(1e20::numeric) = \x00010005000000000001
        assert_eq!(words(&num("1E+20")), vec![1, 5, 0, 0, 1]);
        // numeric_send(10.50) = \x0002000000000002000a1388
        assert_eq!(words(&num("10.50")), vec![2, 0, 0, 2, 10, 5000]);
        assert_eq!(words(&Numeric::NaN), vec![0, 0, 0xC000, 0]);
        assert_eq!(words(&Numeric::PosInfinity), vec![0, 0, 0xD000, 0]);
        assert_eq!(words(&Numeric::NegInfinity), vec![0, 0, 0xF000, 0]);
    }

    #[test]
    fn numeric_binary_round_trips_keeping_scale() {
        for s in [
            "0",
            "1",
            "-1",
            "1.5",
            "10.50",
            "0.0001",
            "-0.000123",
            "123456789012345678901234567890.123456789",
            "9999",
            "10000",
            "0.00",
            "-99999.99990",
        ] {
            let mut buf = BytesMut::new();
            encode_numeric(&num(s), &mut buf);
            let back = decode_numeric(&buf).unwrap();
            match (&back, num(s)) {
                (Numeric::Finite(a), Numeric::Finite(b)) => {
                    assert_eq!(a, &b, "{s}");
                    assert_eq!(a.to_string(), b.to_string(), "{s}");
                }
                _ => panic!("{s}"),
            }
        }
        let mut buf = BytesMut::new();
        encode_numeric(&Numeric::NaN, &mut buf);
        assert_eq!(decode_numeric(&buf), Some(Numeric::NaN));
    }

    #[test]
    fn malformed_numeric_is_refused() {
        assert_eq!(decode_numeric(&[0, 1, 0, 0, 0, 0, 0, 0]), None); // digit missing
        assert_eq!(decode_numeric(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]), None); // 10000
        assert_eq!(decode_numeric(&[0, 0, 0, 0, 0x12, 0x34, 0, 0]), None); // bad sign
        assert_eq!(decode_numeric(&[0, 0]), None);
    }

    #[test]
    fn oids_sizes_and_typmods_match_postgres() {
        assert_eq!(type_oid(&DataType::Bool), 16);
        assert_eq!(type_oid(&DataType::Int2), 21);
        assert_eq!(type_oid(&DataType::Int4), 23);
        assert_eq!(type_oid(&DataType::Int8), 20);
        assert_eq!(type_oid(&DataType::Float4), 700);
        assert_eq!(type_oid(&DataType::Float8), 701);
        assert_eq!(
            type_oid(&DataType::Numeric {
                precision: None,
                scale: None
            }),
            1700
        );
        assert_eq!(type_oid(&DataType::Text), 25);
        assert_eq!(type_oid(&DataType::Varchar(Some(3))), 1043);
        assert_eq!(type_oid(&DataType::Char(3)), 1042);
        assert_eq!(type_size(&DataType::Int8), 8);
        assert_eq!(type_size(&DataType::Bool), 1);
        assert_eq!(type_size(&DataType::Text), -1);
        assert_eq!(type_modifier(&DataType::Varchar(Some(10))), 14);
        assert_eq!(type_modifier(&DataType::Varchar(None)), -1);
        assert_eq!(type_modifier(&DataType::Char(1)), 5);
        // numeric(10,2): (10 << 16 | 2) + 4 = 655366
        assert_eq!(
            type_modifier(&DataType::Numeric {
                precision: Some(10),
                scale: Some(2)
            }),
            655366
        );
        assert_eq!(type_modifier(&DataType::Int4), -1);
    }

    #[test]
    fn parameter_oids_map_back_to_types() {
        assert_eq!(param_type_from_oid(0).unwrap(), None);
        assert_eq!(param_type_from_oid(705).unwrap(), None);
        assert_eq!(param_type_from_oid(20).unwrap(), Some(DataType::Int8));
        assert_eq!(
            param_type_from_oid(1043).unwrap(),
            Some(DataType::Varchar(None))
        );
        assert_eq!(param_type_from_oid(1007).unwrap_err().code, "0A000");
        for ty in [
            DataType::Bool,
            DataType::Int2,
            DataType::Int4,
            DataType::Int8,
            DataType::Float4,
            DataType::Float8,
            DataType::Text,
        ] {
            assert_eq!(param_type_from_oid(type_oid(&ty)).unwrap(), Some(ty));
        }
    }

    #[test]
    fn binary_scalars_round_trip() {
        let cases = [
            (Value::Bool(true), DataType::Bool, vec![1u8]),
            (Value::Int2(-2), DataType::Int2, vec![0xff, 0xfe]),
            (Value::Int4(258), DataType::Int4, vec![0, 0, 1, 2]),
            (Value::Int8(-1), DataType::Int8, vec![0xff; 8]),
            (Value::Float4(1.5), DataType::Float4, vec![0x3f, 0xc0, 0, 0]),
            (
                Value::Float8(-2.0),
                DataType::Float8,
                vec![0xc0, 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                Value::Text("hé".into()),
                DataType::Varchar(Some(5)),
                "hé".as_bytes().to_vec(),
            ),
        ];
        for (value, ty, bytes) in cases {
            let mut buf = BytesMut::new();
            encode_binary(&value, &ty, &mut buf).unwrap();
            assert_eq!(&buf[..], &bytes[..], "{value:?}");
            assert_eq!(decode_binary(&bytes, &ty, 0).unwrap(), value);
        }
    }

    #[test]
    fn integers_are_sent_at_the_column_width() {
        let mut buf = BytesMut::new();
        encode_binary(&Value::Int4(7), &DataType::Int8, &mut buf).unwrap();
        assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 0, 0, 7]);
        let mut buf = BytesMut::new();
        assert!(encode_binary(&Value::Text("x".into()), &DataType::Int4, &mut buf).is_err());
    }

    #[test]
    fn malformed_binary_parameters_are_22p03() {
        let e = decode_binary(&[0, 0, 1], &DataType::Int4, 1).unwrap_err();
        assert_eq!(e.code, "22P03");
        assert_eq!(
            e.message,
            "incorrect binary data format in bind parameter 2"
        );
        assert_eq!(
            decode_binary(&[2], &DataType::Bool, 0).unwrap_err().code,
            "22P03"
        );
        assert_eq!(
            decode_binary(&[0xff, 0xfe], &DataType::Text, 0)
                .unwrap_err()
                .code,
            "22021"
        );
    }
}
