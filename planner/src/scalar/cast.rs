//! Casts between types, following pg_cast.
//!
//! Each pair of types has a context in which the cast is allowed (see [`CastContext`]):
//!
//! | from \ to        | ints            | floats          | numeric     | strings      | bool     |
//! |------------------|-----------------|-----------------|-------------|--------------|----------|
//! | ints             | widen: implicit, narrow: assignment | implicit | implicit | assignment | int4 only: explicit |
//! | floats           | assignment      | f4→f8 implicit, f8→f4 assignment | assignment | assignment | — |
//! | numeric          | assignment      | implicit        | implicit    | assignment   | —        |
//! | strings          | explicit (input function)          | explicit | explicit | implicit | explicit |
//! | bool             | int4 explicit   | —               | —           | assignment   | —        |
//!
//! Conversions round as PostgreSQL does: numeric → int half away from zero, float → int
//! half to even (`rint`), float → numeric through 15 (float4: 6) significant digits. A cast
//! to `char(n)` from char(n) text strips the trailing pad first (bpchar → text is `rtrim`).

use super::numeric;
use super::resolve::{implicit, Category, Ty};
use super::text_io::{apply_char_typmod, format_float, parse_text};
use super::CastContext;
use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::{DataType, Numeric, Value};

/// See [`super::can_cast`].
pub fn can_cast(from: &DataType, to: &DataType, context: CastContext) -> bool {
    let (f, t) = (Ty::of(from), Ty::of(to));
    if implicit(f, t) {
        return true;
    }
    let assignment = matches!(
        (f.category(), t.category()),
        (Category::Numeric, Category::Numeric) | (_, Category::String)
    ) || matches!(
        (f, t),
        (Ty::Timestamp, Ty::Date | Ty::Time)
            | (Ty::TimestampTz, Ty::Date | Ty::Time | Ty::Timestamp)
            | (Ty::Interval, Ty::Time)
    );
    match context {
        CastContext::Implicit => false,
        CastContext::Assignment => assignment,
        CastContext::Explicit => {
            assignment
                || f.category() == Category::String
                || matches!((f, t), (Ty::Bool, Ty::Int4) | (Ty::Int4, Ty::Bool))
        }
    }
}

fn cannot_cast(from: &str, to: &DataType) -> Error {
    Error::new(
        ErrorKind::CannotCoerce,
        format!("cannot cast type {from} to {}", Ty::of(to).name()),
    )
}

fn float_to_int(f: f64, min: f64, max_exclusive: f64, name: &str) -> Result<i64> {
    let r = f.round_ties_even();
    if r.is_nan() || r < min || r >= max_exclusive {
        return Err(numeric::out_of_range(name));
    }
    Ok(r as i64)
}

fn overflow() -> Error {
    Error::new(
        ErrorKind::NumericValueOutOfRange,
        "value out of range: overflow",
    )
}

fn underflow() -> Error {
    Error::new(
        ErrorKind::NumericValueOutOfRange,
        "value out of range: underflow",
    )
}

/// f64 → f32 with PostgreSQL's overflow/underflow checks.
pub(crate) fn to_f32(f: f64) -> Result<f32> {
    let r = f as f32;
    if r.is_infinite() && f.is_finite() {
        return Err(overflow());
    }
    if r == 0.0 && f != 0.0 {
        return Err(underflow());
    }
    Ok(r)
}

fn int_value(v: i128, to: &DataType) -> Result<Value> {
    Ok(match to {
        DataType::Int2 => {
            Value::Int2(i16::try_from(v).map_err(|_| numeric::out_of_range("smallint"))?)
        }
        DataType::Int4 => {
            Value::Int4(i32::try_from(v).map_err(|_| numeric::out_of_range("integer"))?)
        }
        _ => Value::Int8(i64::try_from(v).map_err(|_| numeric::out_of_range("bigint"))?),
    })
}

fn int_name(to: &DataType) -> &'static str {
    match to {
        DataType::Int2 => "smallint",
        DataType::Int4 => "integer",
        _ => "bigint",
    }
}

/// The text a value becomes when cast to a string type (bool is `true`/`false` here, not
/// the output function's `t`/`f`; char(n) loses its padding).
pub(crate) fn to_text(value: &Value, from_bpchar: bool) -> String {
    match value {
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Text(s) if from_bpchar => s.trim_end_matches(' ').to_string(),
        Value::Float4(f) => format_float(*f as f64, true, 1),
        Value::Float8(f) => format_float(*f, false, 1),
        other => super::text_io::format_text(other, 1),
    }
}

/// See [`super::cast`]. `from` is needed only to strip char(n) padding; the value's own
/// variant says everything else.
pub fn cast_from(
    value: Value,
    from: Option<&DataType>,
    to: &DataType,
    context: CastContext,
) -> Result<Value> {
    let explicit = context == CastContext::Explicit;
    let from_bpchar = matches!(from, Some(DataType::Char(_)));
    Ok(match (value, to) {
        (Value::Null, _) => Value::Null,
        // → strings
        (v, DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name) => {
            let s = match &v {
                Value::Text(s) if !from_bpchar => s.clone(),
                other => to_text(other, from_bpchar),
            };
            Value::Text(apply_char_typmod(s, to, explicit)?)
        }
        // strings → anything: the input function
        (Value::Text(s), to) => parse_text(to, &s)?,
        // date/time conversions
        (
            v @ (Value::Date(_)
            | Value::Time(_)
            | Value::Timestamp(_)
            | Value::TimestampTz(_)
            | Value::Interval(_)
            | Value::Bytea(_)
            | Value::Uuid(_)),
            to,
        ) => datetime_cast(v, to)?,
        // → bool
        (Value::Bool(b), DataType::Bool) => Value::Bool(b),
        (Value::Int4(i), DataType::Bool) => Value::Bool(i != 0),
        (Value::Bool(b), DataType::Int4) => Value::Int4(b as i32),
        (Value::Bool(_), to) => return Err(cannot_cast("boolean", to)),
        (v, DataType::Bool) => {
            return Err(cannot_cast(
                match v {
                    Value::Int2(_) => "smallint",
                    Value::Int8(_) => "bigint",
                    Value::Float4(_) => "real",
                    Value::Float8(_) => "double precision",
                    Value::Numeric(_) => "numeric",
                    other => super::resolve::Ty::of(&value_type(&other)).name(),
                },
                to,
            ))
        }
        // → integers
        (Value::Int2(i), DataType::Int2 | DataType::Int4 | DataType::Int8) => {
            int_value(i as i128, to)?
        }
        (Value::Int4(i), DataType::Int2 | DataType::Int4 | DataType::Int8) => {
            int_value(i as i128, to)?
        }
        (Value::Int8(i), DataType::Int2 | DataType::Int4 | DataType::Int8) => {
            int_value(i as i128, to)?
        }
        (Value::Float4(f), DataType::Int2 | DataType::Int4 | DataType::Int8) => {
            int_float(f as f64, to)?
        }
        (Value::Float8(f), DataType::Int2 | DataType::Int4 | DataType::Int8) => int_float(f, to)?,
        (Value::Numeric(n), DataType::Int2 | DataType::Int4 | DataType::Int8) => {
            int_value(numeric::to_i64(&n, int_name(to))?, to)?
        }
        // → floats
        (Value::Int2(i), DataType::Float4) => Value::Float4(i as f32),
        (Value::Int4(i), DataType::Float4) => Value::Float4(i as f32),
        (Value::Int8(i), DataType::Float4) => Value::Float4(i as f32),
        (Value::Int2(i), DataType::Float8) => Value::Float8(i as f64),
        (Value::Int4(i), DataType::Float8) => Value::Float8(i as f64),
        (Value::Int8(i), DataType::Float8) => Value::Float8(i as f64),
        (Value::Float4(f), DataType::Float4) => Value::Float4(f),
        (Value::Float4(f), DataType::Float8) => Value::Float8(f as f64),
        (Value::Float8(f), DataType::Float4) => Value::Float4(to_f32(f)?),
        (Value::Float8(f), DataType::Float8) => Value::Float8(f),
        (Value::Numeric(n), DataType::Float8) => {
            let f = numeric::to_f64(&n);
            if f.is_infinite() && matches!(n, Numeric::Finite(_)) {
                return Err(Error::new(
                    ErrorKind::NumericValueOutOfRange,
                    format!(
                        "\"{}\" is out of range for type double precision",
                        numeric::format(&n)
                    ),
                ));
            }
            Value::Float8(f)
        }
        (Value::Numeric(n), DataType::Float4) => {
            let f = numeric::to_f64(&n);
            if matches!(n, Numeric::Finite(_)) && (f as f32).is_infinite() {
                return Err(Error::new(
                    ErrorKind::NumericValueOutOfRange,
                    format!("\"{}\" is out of range for type real", numeric::format(&n)),
                ));
            }
            Value::Float4(f as f32)
        }
        // → numeric
        (v, DataType::Numeric { precision, scale }) => {
            let n = match v {
                Value::Int2(i) => Numeric::Finite(i.into()),
                Value::Int4(i) => Numeric::Finite(i.into()),
                Value::Int8(i) => Numeric::Finite(i.into()),
                Value::Float4(f) => numeric::from_float(f as f64, 6),
                Value::Float8(f) => numeric::from_float(f, 15),
                Value::Numeric(n) => n,
                _ => return Err(Error::internal("unexpected value in numeric cast")),
            };
            Value::Numeric(numeric::apply_typmod(n, *precision, *scale)?)
        }
        (v, to) => {
            return Err(cannot_cast(
                super::resolve::Ty::of(&value_type(&v)).name(),
                to,
            ))
        }
    })
}

/// Casts among date, time, timestamp, timestamptz and interval (and identity casts of bytea
/// and uuid); timestamptz conversions use the session time zone.
fn datetime_cast(v: Value, to: &DataType) -> Result<Value> {
    use super::datetime as dt;
    let to_local = super::timezone::session_local;
    let to_utc = super::timezone::session_utc;
    let inf_ts = |d: i32| match d {
        dt::DATE_NEG_INF => Some(dt::TS_NEG_INF),
        dt::DATE_POS_INF => Some(dt::TS_POS_INF),
        _ => None,
    };
    let ts_to_date = |t: i64| -> Result<Value> {
        Ok(Value::Date(match t {
            dt::TS_NEG_INF => dt::DATE_NEG_INF,
            dt::TS_POS_INF => dt::DATE_POS_INF,
            _ => dt::check_date(dt::split_ts(t).0)?,
        }))
    };
    let finite = |t: i64| t != dt::TS_NEG_INF && t != dt::TS_POS_INF;
    Ok(match (v, to) {
        (Value::Date(d), DataType::Date) => Value::Date(d),
        (Value::Date(d), DataType::Timestamp) => Value::Timestamp(match inf_ts(d) {
            Some(t) => t,
            None => dt::make_ts(d as i64, 0)?,
        }),
        (Value::Date(d), DataType::TimestampTz) => Value::TimestampTz(match inf_ts(d) {
            Some(t) => t,
            None => to_utc(dt::make_ts(d as i64, 0)?),
        }),
        (Value::Timestamp(t), DataType::Timestamp) => Value::Timestamp(t),
        (Value::Timestamp(t), DataType::Date) => ts_to_date(t)?,
        (Value::Timestamp(t), DataType::Time) if finite(t) => Value::Time(dt::split_ts(t).1),
        (Value::Timestamp(t), DataType::TimestampTz) => {
            Value::TimestampTz(if finite(t) { to_utc(t) } else { t })
        }
        (Value::TimestampTz(t), DataType::TimestampTz) => Value::TimestampTz(t),
        (Value::TimestampTz(t), DataType::Timestamp) => {
            Value::Timestamp(if finite(t) { to_local(t) } else { t })
        }
        (Value::TimestampTz(t), DataType::Date) => {
            ts_to_date(if finite(t) { to_local(t) } else { t })?
        }
        (Value::TimestampTz(t), DataType::Time) if finite(t) => {
            Value::Time(dt::split_ts(to_local(t)).1)
        }
        (Value::Time(t), DataType::Time) => Value::Time(t),
        (Value::Time(t), DataType::Interval) => Value::Interval(sledgres_storage::Interval {
            months: 0,
            days: 0,
            micros: t,
        }),
        (Value::Interval(iv), DataType::Interval) => Value::Interval(iv),
        (Value::Interval(iv), DataType::Time) => {
            Value::Time(iv.micros.rem_euclid(dt::USECS_PER_DAY))
        }
        (Value::Bytea(b), DataType::Bytea) => Value::Bytea(b),
        (Value::Uuid(u), DataType::Uuid) => Value::Uuid(u),
        (Value::Timestamp(_) | Value::TimestampTz(_), DataType::Time) => {
            return Err(Error::new(
                ErrorKind::DatetimeFieldOverflow,
                "cannot convert infinite timestamp to time",
            ))
        }
        (v, to) => {
            let from = super::resolve::Ty::of(&value_type(&v)).name();
            return Err(cannot_cast(from, to));
        }
    })
}

/// The type a non-text, date/time or byte value carries.
fn value_type(v: &Value) -> DataType {
    match v {
        Value::Date(_) => DataType::Date,
        Value::Time(_) => DataType::Time,
        Value::Timestamp(_) => DataType::Timestamp,
        Value::TimestampTz(_) => DataType::TimestampTz,
        Value::Interval(_) => DataType::Interval,
        Value::Bytea(_) => DataType::Bytea,
        Value::Uuid(_) => DataType::Uuid,
        Value::Bool(_) => DataType::Bool,
        Value::Int2(_) => DataType::Int2,
        Value::Int4(_) => DataType::Int4,
        Value::Int8(_) => DataType::Int8,
        Value::Float4(_) => DataType::Float4,
        Value::Float8(_) => DataType::Float8,
        Value::Numeric(_) => DataType::Numeric {
            precision: None,
            scale: None,
        },
        Value::Text(_) | Value::Null => DataType::Text,
    }
}

fn int_float(f: f64, to: &DataType) -> Result<Value> {
    Ok(match to {
        DataType::Int2 => Value::Int2(float_to_int(f, -32768.0, 32768.0, "smallint")? as i16),
        DataType::Int4 => {
            Value::Int4(float_to_int(f, -2147483648.0, 2147483648.0, "integer")? as i32)
        }
        _ => Value::Int8(float_to_int(
            f,
            -9223372036854775808.0,
            9223372036854775808.0,
            "bigint",
        )?),
    })
}

/// See [`super::cast`].
pub fn cast(value: Value, to: &DataType, context: CastContext) -> Result<Value> {
    cast_from(value, None, to, context)
}
