//! Order-preserving ("memcomparable") encoding of [`Value`]s for keys.
//!
//! Sled orders keys by raw bytes, so every value that takes part in a key (primary key
//! columns, index columns) is encoded such that comparing the encodings byte by byte gives
//! the same answer as [`Value::cmp_same_type`]. Encodings are also *self-delimiting*: no
//! encoded value is a prefix of a different one, so a sequence of encoded columns can be
//! split again without a schema and a key made of several columns sorts column by column.
//!
//! Each value starts with a one-byte type tag. The tag groups values that compare with each
//! other (all integer widths share one tag, both float widths share one), so an `Int4` column
//! probed with an `Int8` bound still orders correctly. Values of different groups never meet
//! in one column; their relative order is arbitrary but fixed.
//!
//! ```text
//! NULL      FF                                  (after every non-null: NULLS LAST)
//! bool      10 00|01
//! integer   20 i64 big-endian, sign bit flipped (Int2/Int4/Int8 alike)
//! float     30 f64 bits: positive → sign bit set; negative → all bits inverted;
//!              -0 encoded as +0, every NaN as the canonical NaN (after +Infinity)
//! numeric   40 class: 00 -Inf | 01 negative | 02 zero | 03 positive | 04 +Inf | 05 NaN
//!              finite ≠ 0: value = ±0.d1d2…dn × 10^e, encoded as
//!              e (i64 big-endian, sign flipped), digits as bytes 01..0A, terminator 00;
//!              for negatives every byte after the class is inverted (bigger magnitude
//!              sorts first, and a longer mantissa sorts first)
//! text      50 UTF-8 bytes with 00 escaped as 00 FF, terminated by 00 01
//! date      60 i32 big-endian, sign bit flipped (infinities are i32::MIN/MAX already)
//! time      61 i64 big-endian, sign bit flipped
//! timestamp 62 i64 big-endian, sign bit flipped (infinities are i64::MIN/MAX already)
//! tstz      63 i64 big-endian, sign bit flipped (UTC instant)
//! interval  64 span (months·30 days + days, in µs) as i128 big-endian, sign bit flipped;
//!              intervals with equal spans ('1 mon' and '30 days') share one encoding, as
//!              they are equal in PostgreSQL; decoding returns them as days + µs
//! bytea     70 bytes with 00 escaped as 00 FF, terminated by 00 01 (like text)
//! uuid      71 16 bytes
//! ```
//!
//! Tags 0x60–0x71 were added with the date/time, bytea and uuid types; data written before
//! them needs no migration since no earlier key used those tags.
//!
//! Numerics are normalised (trailing zeros dropped), so `1.0` and `1.00` have one encoding,
//! as they are equal in a PostgreSQL unique index. Decoding therefore returns the canonical
//! form: integers as `Int8`, floats as `Float8`, numerics without trailing zeros. Rows are
//! stored separately (postcard), so nothing is lost for the client: keys are only decoded
//! for diagnostics and tests.

use crate::error::{Error, Result};
use crate::types::{Interval, Numeric, Value};
use bigdecimal::BigDecimal;
use std::str::FromStr;

const TAG_BOOL: u8 = 0x10;
const TAG_INT: u8 = 0x20;
const TAG_FLOAT: u8 = 0x30;
const TAG_NUMERIC: u8 = 0x40;
const TAG_TEXT: u8 = 0x50;
const TAG_DATE: u8 = 0x60;
const TAG_TIME: u8 = 0x61;
const TAG_TIMESTAMP: u8 = 0x62;
const TAG_TIMESTAMPTZ: u8 = 0x63;
const TAG_INTERVAL: u8 = 0x64;
const TAG_BYTEA: u8 = 0x70;
const TAG_UUID: u8 = 0x71;
const TAG_NULL: u8 = 0xFF;

const NUM_NEG_INF: u8 = 0;
const NUM_NEG: u8 = 1;
const NUM_ZERO: u8 = 2;
const NUM_POS: u8 = 3;
const NUM_POS_INF: u8 = 4;
const NUM_NAN: u8 = 5;

/// Appends the encoding of `value` to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(b) => {
            out.push(TAG_BOOL);
            out.push(*b as u8);
        }
        Value::Int2(i) => encode_int(*i as i64, out),
        Value::Int4(i) => encode_int(*i as i64, out),
        Value::Int8(i) => encode_int(*i, out),
        Value::Float4(f) => encode_float(*f as f64, out),
        Value::Float8(f) => encode_float(*f, out),
        Value::Numeric(n) => encode_numeric(n, out),
        Value::Text(s) => encode_bytes(TAG_TEXT, s.as_bytes(), out),
        Value::Date(d) => {
            out.push(TAG_DATE);
            out.extend_from_slice(&((*d as u32) ^ (1 << 31)).to_be_bytes());
        }
        Value::Time(t) => encode_i64(TAG_TIME, *t, out),
        Value::Timestamp(t) => encode_i64(TAG_TIMESTAMP, *t, out),
        Value::TimestampTz(t) => encode_i64(TAG_TIMESTAMPTZ, *t, out),
        Value::Interval(iv) => {
            out.push(TAG_INTERVAL);
            out.extend_from_slice(&((iv.span() as u128) ^ (1 << 127)).to_be_bytes());
        }
        Value::Bytea(b) => encode_bytes(TAG_BYTEA, b, out),
        Value::Uuid(u) => {
            out.push(TAG_UUID);
            out.extend_from_slice(u);
        }
    }
}

/// Escaped, terminated byte strings (text and bytea): 00 becomes 00 FF, the end is 00 01.
fn encode_bytes(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

fn encode_i64(tag: u8, i: i64, out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(&((i as u64) ^ (1 << 63)).to_be_bytes());
}

/// Encodes several values one after the other (a composite key or key prefix).
pub fn encode_values<'a>(values: impl IntoIterator<Item = &'a Value>, out: &mut Vec<u8>) {
    for v in values {
        encode_value(v, out);
    }
}

fn encode_int(i: i64, out: &mut Vec<u8>) {
    out.push(TAG_INT);
    out.extend_from_slice(&((i as u64) ^ (1 << 63)).to_be_bytes());
}

fn encode_float(f: f64, out: &mut Vec<u8>) {
    out.push(TAG_FLOAT);
    let f = if f.is_nan() {
        f64::NAN
    } else if f == 0.0 {
        0.0
    } else {
        f
    };
    let bits = f.to_bits();
    let bits = if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    };
    out.extend_from_slice(&bits.to_be_bytes());
}

fn encode_numeric(n: &Numeric, out: &mut Vec<u8>) {
    out.push(TAG_NUMERIC);
    let d = match n {
        Numeric::NegInfinity => return out.push(NUM_NEG_INF),
        Numeric::PosInfinity => return out.push(NUM_POS_INF),
        Numeric::NaN => return out.push(NUM_NAN),
        Numeric::Finite(d) => d,
    };
    let (int, scale) = d.as_bigint_and_exponent();
    let text = int.to_string();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let digits = digits.trim_end_matches('0');
    let stripped = text.len() - negative as usize - digits.len();
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return out.push(NUM_ZERO);
    }
    // value = digits × 10^(stripped - scale) = 0.digits × 10^(len + stripped - scale)
    let exp = digits.len() as i64 + stripped as i64 - scale;
    let start = out.len();
    out.push(if negative { NUM_NEG } else { NUM_POS });
    out.extend_from_slice(&((exp as u64) ^ (1 << 63)).to_be_bytes());
    out.extend(digits.bytes().map(|b| b - b'0' + 1));
    out.push(0);
    if negative {
        for b in &mut out[start + 1..] {
            *b = !*b;
        }
    }
}

/// The length of the encoded value at the start of `bytes`.
pub fn skip_value(bytes: &[u8]) -> Result<usize> {
    let corrupt = || Error::Internal("truncated key encoding".into());
    let tag = *bytes.first().ok_or_else(corrupt)?;
    let len = match tag {
        TAG_NULL => 1,
        TAG_BOOL => 2,
        TAG_INT | TAG_FLOAT | TAG_TIME | TAG_TIMESTAMP | TAG_TIMESTAMPTZ => 9,
        TAG_DATE => 5,
        TAG_INTERVAL | TAG_UUID => 17,
        TAG_NUMERIC => match *bytes.get(1).ok_or_else(corrupt)? {
            NUM_NEG | NUM_POS => {
                let term = if bytes[1] == NUM_NEG { 0xFF } else { 0x00 };
                let digits = bytes.get(10..).ok_or_else(corrupt)?;
                10 + digits.iter().position(|&b| b == term).ok_or_else(corrupt)? + 1
            }
            _ => 2,
        },
        TAG_TEXT | TAG_BYTEA => {
            let mut i = 1;
            loop {
                match (bytes.get(i), bytes.get(i + 1)) {
                    (Some(0), Some(0x01)) => break i + 2,
                    (Some(0), Some(0xFF)) => i += 2,
                    (Some(_), _) => i += 1,
                    (None, _) => return Err(corrupt()),
                }
            }
        }
        _ => return Err(Error::Internal(format!("unknown key tag {tag:#x}"))),
    };
    if len > bytes.len() {
        return Err(corrupt());
    }
    Ok(len)
}

/// The total length of `n` encoded values at the start of `bytes`.
pub fn skip_values(bytes: &[u8], n: usize) -> Result<usize> {
    let mut pos = 0;
    for _ in 0..n {
        pos += skip_value(&bytes[pos..])?;
    }
    Ok(pos)
}

/// Decodes the value at the start of `bytes` (in canonical form, see the module docs) and
/// returns it with its length.
pub fn decode_value(bytes: &[u8]) -> Result<(Value, usize)> {
    let len = skip_value(bytes)?;
    let body = &bytes[1..len];
    let value = match bytes[0] {
        TAG_NULL => Value::Null,
        TAG_BOOL => Value::Bool(body[0] != 0),
        TAG_INT => Value::Int8((u64::from_be_bytes(fixed8(body)?) ^ (1 << 63)) as i64),
        TAG_FLOAT => {
            let bits = u64::from_be_bytes(fixed8(body)?);
            let bits = if bits >> 63 == 1 {
                bits & !(1 << 63)
            } else {
                !bits
            };
            Value::Float8(f64::from_bits(bits))
        }
        TAG_NUMERIC => Value::Numeric(match body[0] {
            NUM_NEG_INF => Numeric::NegInfinity,
            NUM_POS_INF => Numeric::PosInfinity,
            NUM_NAN => Numeric::NaN,
            NUM_ZERO => Numeric::Finite(BigDecimal::from(0)),
            class => {
                let negative = class == NUM_NEG;
                let rest: Vec<u8> = body[1..]
                    .iter()
                    .map(|&b| if negative { !b } else { b })
                    .collect();
                let exp = (u64::from_be_bytes(fixed8(&rest)?) ^ (1 << 63)) as i64;
                let digits: String = rest[8..rest.len() - 1]
                    .iter()
                    .map(|&b| (b.wrapping_sub(1).wrapping_add(b'0')) as char)
                    .collect();
                let sign = if negative { "-" } else { "" };
                let d = BigDecimal::from_str(&format!("{sign}0.{digits}E{exp}"))
                    .map_err(|e| Error::Internal(format!("numeric key: {e}")))?;
                Numeric::Finite(d.normalized())
            }
        }),
        TAG_TEXT => Value::Text(
            String::from_utf8(unescape(body))
                .map_err(|e| Error::Internal(format!("text key: {e}")))?,
        ),
        TAG_BYTEA => Value::Bytea(unescape(body)),
        TAG_DATE => {
            let b: [u8; 4] = body
                .try_into()
                .map_err(|_| Error::Internal("truncated key encoding".into()))?;
            Value::Date((u32::from_be_bytes(b) ^ (1 << 31)) as i32)
        }
        TAG_TIME => Value::Time(decode_i64(body)?),
        TAG_TIMESTAMP => Value::Timestamp(decode_i64(body)?),
        TAG_TIMESTAMPTZ => Value::TimestampTz(decode_i64(body)?),
        TAG_INTERVAL => {
            let b: [u8; 16] = body
                .try_into()
                .map_err(|_| Error::Internal("truncated key encoding".into()))?;
            let span = (u128::from_be_bytes(b) ^ (1 << 127)) as i128;
            let per_day = Interval::MICROS_PER_DAY as i128;
            Value::Interval(Interval {
                months: 0,
                days: (span.div_euclid(per_day)) as i32,
                micros: span.rem_euclid(per_day) as i64,
            })
        }
        TAG_UUID => Value::Uuid(
            body.try_into()
                .map_err(|_| Error::Internal("truncated key encoding".into()))?,
        ),
        tag => return Err(Error::Internal(format!("unknown key tag {tag:#x}"))),
    };
    Ok((value, len))
}

/// The content of an escaped, terminated byte string (without its tag).
fn unescape(body: &[u8]) -> Vec<u8> {
    let content = &body[..body.len() - 2];
    let mut out = Vec::with_capacity(content.len());
    let mut i = 0;
    while i < content.len() {
        out.push(content[i]);
        i += if content[i] == 0 { 2 } else { 1 };
    }
    out
}

fn decode_i64(body: &[u8]) -> Result<i64> {
    Ok((u64::from_be_bytes(fixed8(body)?) ^ (1 << 63)) as i64)
}

/// Decodes every value in `bytes`.
pub fn decode_values(mut bytes: &[u8]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (v, len) = decode_value(bytes)?;
        out.push(v);
        bytes = &bytes[len..];
    }
    Ok(out)
}

fn fixed8(b: &[u8]) -> Result<[u8; 8]> {
    b.get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Internal("truncated key encoding".into()))
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None`
/// if there is none (the prefix is all 0xFF). Used to turn "every key starting with p" into
/// an exclusive upper bound.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut out = prefix[..=last].to_vec();
    out[last] += 1;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    fn enc(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(v, &mut out);
        out
    }

    fn num(s: &str) -> Value {
        Value::Numeric(Numeric::Finite(BigDecimal::from_str(s).unwrap()))
    }

    /// A small deterministic generator, so the property loops need no extra crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn samples(rng: &mut Rng) -> Vec<Vec<Value>> {
        let mut ints = vec![Value::Null];
        let mut floats = vec![
            Value::Null,
            Value::Float8(f64::NAN),
            Value::Float8(f64::INFINITY),
            Value::Float8(f64::NEG_INFINITY),
            Value::Float8(-0.0),
            Value::Float8(0.0),
            Value::Float8(f64::MIN_POSITIVE),
            Value::Float8(-f64::MIN_POSITIVE),
        ];
        let mut nums = vec![
            Value::Null,
            Value::Numeric(Numeric::NaN),
            Value::Numeric(Numeric::PosInfinity),
            Value::Numeric(Numeric::NegInfinity),
            num("0"),
            num("0.000"),
            num("-0.5"),
            num("-0.05"),
            num("-0.055"),
            num("12.5"),
            num("125"),
            num("100"),
            num("-100"),
            num("-99.99"),
            num("1e40"),
            num("-1e-40"),
        ];
        let mut texts = vec![
            Value::Null,
            Value::Text(String::new()),
            Value::Text("\0".into()),
            Value::Text("\0\0".into()),
            Value::Text("a\0b".into()),
            Value::Text("a".into()),
            Value::Text("ab".into()),
            Value::Text("é".into()),
        ];
        for v in [i64::MIN, i64::MAX, 0, -1, 1] {
            ints.push(Value::Int8(v));
        }
        for _ in 0..300 {
            let r = rng.next();
            ints.push(match r % 3 {
                0 => Value::Int8(r as i64),
                1 => Value::Int4((r >> 7) as i32),
                _ => Value::Int2((r >> 3) as i16 % 300),
            });
            let f = f64::from_bits(rng.next());
            floats.push(if r.is_multiple_of(2) {
                Value::Float8(f)
            } else {
                Value::Float4((r as i32 % 1000) as f32 / 7.0)
            });
            let digits = rng.next() % 100_000;
            let scale = (rng.next() % 9) as i64 - 3;
            let sign = if rng.next().is_multiple_of(2) { -1 } else { 1 };
            nums.push(Value::Numeric(Numeric::Finite(BigDecimal::new(
                (sign * digits as i64).into(),
                scale,
            ))));
            let len = rng.next() % 5;
            let s: String = (0..len)
                .map(|_| ['\0', 'a', 'b', '\u{ff}', 'z'][(rng.next() % 5) as usize])
                .collect();
            texts.push(Value::Text(s));
        }
        let mut dates = vec![Value::Null, Value::Date(i32::MIN), Value::Date(i32::MAX)];
        let mut stamps = vec![Value::Null, Value::Timestamp(i64::MIN), Value::Timestamp(0)];
        let mut stamptzs = vec![Value::Null, Value::TimestampTz(i64::MAX)];
        let mut times = vec![Value::Null, Value::Time(0), Value::Time(86_400_000_000)];
        let mut intervals = vec![Value::Null];
        let mut byteas = vec![
            Value::Null,
            Value::Bytea(vec![]),
            Value::Bytea(vec![0]),
            Value::Bytea(vec![0, 0]),
            Value::Bytea(vec![0xFF]),
        ];
        let mut uuids = vec![Value::Null, Value::Uuid([0; 16]), Value::Uuid([0xFF; 16])];
        for _ in 0..200 {
            let r = rng.next();
            dates.push(Value::Date(r as i32));
            stamps.push(Value::Timestamp(rng.next() as i64));
            stamptzs.push(Value::TimestampTz((r >> 3) as i64 - (1 << 59)));
            times.push(Value::Time((r % 86_400_000_001) as i64));
            intervals.push(Value::Interval(Interval {
                months: (rng.next() % 200) as i32 - 100,
                days: (rng.next() % 7000) as i32 - 3500,
                micros: rng.next() as i64 >> 20,
            }));
            let len = rng.next() % 4;
            byteas.push(Value::Bytea(
                (0..len)
                    .map(|_| [0u8, 1, 0xFF][(rng.next() % 3) as usize])
                    .collect(),
            ));
            let mut u = [0u8; 16];
            u[..8].copy_from_slice(&rng.next().to_be_bytes());
            uuids.push(Value::Uuid(u));
        }
        vec![
            ints,
            floats,
            nums,
            texts,
            vec![Value::Bool(false), Value::Bool(true)],
            dates,
            stamps,
            stamptzs,
            times,
            intervals,
            byteas,
            uuids,
        ]
    }

    fn same(a: &Value, b: &Value) -> bool {
        // Canonical forms: compare through cmp_same_type after widening.
        let widen = |v: &Value| match v {
            Value::Int2(i) => Value::Int8(*i as i64),
            Value::Int4(i) => Value::Int8(*i as i64),
            Value::Float4(f) => Value::Float8(*f as f64),
            v => v.clone(),
        };
        widen(a).cmp_same_type(&widen(b)) == Ordering::Equal
    }

    #[test]
    fn encoding_preserves_order_and_round_trips() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for group in samples(&mut rng) {
            for a in &group {
                let ea = enc(a);
                let (back, len) = decode_value(&ea).unwrap();
                assert_eq!(len, ea.len(), "{a:?}");
                assert!(same(a, &back), "{a:?} decoded as {back:?}");
                for b in &group {
                    let eb = enc(b);
                    let wa = match a {
                        Value::Int2(_) | Value::Int4(_) | Value::Float4(_) => back.clone(),
                        _ => a.clone(),
                    };
                    let wb = decode_value(&eb).unwrap().0;
                    assert_eq!(
                        ea.cmp(&eb),
                        wa.cmp_same_type(&wb),
                        "{a:?} vs {b:?}: {ea:?} {eb:?}"
                    );
                    if ea != eb {
                        assert!(!eb.starts_with(&ea), "{a:?} is a prefix of {b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn composite_keys_sort_column_by_column() {
        let k = |a: &str, b: i64| {
            let mut out = Vec::new();
            encode_values(&[Value::Text(a.into()), Value::Int8(b)], &mut out);
            out
        };
        assert!(k("a", 100) < k("ab", 1));
        assert!(k("a\0", 1) > k("a", 100));
        let key = k("x\0y", -4);
        assert_eq!(skip_values(&key, 2).unwrap(), key.len());
        assert_eq!(
            decode_values(&key).unwrap(),
            vec![Value::Text("x\0y".into()), Value::Int8(-4)]
        );
    }

    #[test]
    fn special_values_order_as_postgres() {
        assert!(enc(&Value::Float8(f64::NAN)) > enc(&Value::Float8(f64::INFINITY)));
        assert_eq!(enc(&Value::Float8(-0.0)), enc(&Value::Float8(0.0)));
        assert_eq!(enc(&num("1.0")), enc(&num("1.00")));
        assert!(enc(&Value::Numeric(Numeric::NaN)) > enc(&Value::Numeric(Numeric::PosInfinity)));
        assert!(enc(&Value::Null) > enc(&Value::Text("\u{10ffff}".into())));
        assert!(enc(&Value::Int4(-1)) < enc(&Value::Int8(0)));
    }

    #[test]
    fn prefix_successor_skips_all_extensions() {
        assert_eq!(prefix_successor(&[1, 2, 0xFF]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[0xFF]), None);
        let p = enc(&Value::Int8(5));
        let mut longer = p.clone();
        longer.extend_from_slice(&[0xFF, 0xFF]);
        assert!(prefix_successor(&p).unwrap() > longer);
    }
}
