//! Date/time operators and functions: arithmetic, `date_part`/`extract`, `date_trunc`,
//! `age`, `make_*`, `to_timestamp`, `justify_*` and the current-time functions.
//!
//! Operators and functions get their arguments already cast to the resolved types (see
//! `ops.rs` and `functions.rs` for the signature tables). `timestamptz` arithmetic that
//! depends on the calendar (months, days, truncation, field extraction) happens in the
//! session time zone's wall-clock time, as in PostgreSQL.
//!
//! `now()` and its synonyms read the clock at each call: the session does not hand a
//! transaction start time to scalar functions yet, so `now()` is not fixed per transaction.

use super::datetime::{
    self as dt, age, civil_from_days, days_from_civil, days_in_month, interval_overflow, make_ts,
    neg_interval, split_ts, ts_add_interval, DATE_NEG_INF, DATE_POS_INF, TS_NEG_INF, TS_POS_INF,
    USECS_PER_DAY, USECS_PER_HOUR, USECS_PER_MIN, USECS_PER_SEC,
};
use crate::error::{Error, ErrorKind, Result};
use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;
use sledgres_storage::{Interval, Numeric, Value};

fn bad_args() -> Error {
    Error::internal("date/time function called with unexpected argument values")
}

fn finite(t: i64) -> bool {
    t != TS_NEG_INF && t != TS_POS_INF
}

/// The session zone's wall-clock time at a UTC instant, and back (`timezone.rs`).
fn to_local(utc: i64) -> i64 {
    super::timezone::session_local(utc)
}

fn to_utc(local: i64) -> i64 {
    super::timezone::session_utc(local)
}

// ---- operators -----------------------------------------------------------------------------

pub(crate) fn date_pl_int(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Date(d), Value::Int4(n)] => {
            if *d == DATE_NEG_INF || *d == DATE_POS_INF {
                return Ok(Value::Date(*d));
            }
            dt::check_date(*d as i64 + *n as i64).map(Value::Date)
        }
        [Value::Int4(_), Value::Date(_)] => date_pl_int(&[a[1].clone(), a[0].clone()]),
        _ => Err(bad_args()),
    }
}

pub(crate) fn date_mi_int(a: &[Value]) -> Result<Value> {
    match a {
        [d @ Value::Date(_), Value::Int4(n)] => date_pl_int(&[
            d.clone(),
            Value::Int4(n.checked_neg().ok_or_else(|| {
                Error::new(ErrorKind::DatetimeFieldOverflow, "date out of range")
            })?),
        ]),
        _ => Err(bad_args()),
    }
}

pub(crate) fn date_mi_date(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Date(x), Value::Date(y)] => {
            let inf = |d: i32| d == DATE_NEG_INF || d == DATE_POS_INF;
            if inf(*x) || inf(*y) {
                return Err(Error::new(
                    ErrorKind::DatetimeFieldOverflow,
                    "cannot subtract infinite dates",
                ));
            }
            Ok(Value::Int4(x.wrapping_sub(*y)))
        }
        _ => Err(bad_args()),
    }
}

/// date + time, time + date → timestamp.
pub(crate) fn date_pl_time(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Date(d), Value::Time(t)] | [Value::Time(t), Value::Date(d)] => {
            Ok(Value::Timestamp(match *d {
                DATE_NEG_INF => TS_NEG_INF,
                DATE_POS_INF => TS_POS_INF,
                _ => make_ts(*d as i64, *t)?,
            }))
        }
        _ => Err(bad_args()),
    }
}

fn iv_arg(v: &Value) -> Result<&Interval> {
    match v {
        Value::Interval(iv) => Ok(iv),
        _ => Err(bad_args()),
    }
}

/// timestamp ± interval (either order for +).
pub(crate) fn ts_pl_interval(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Timestamp(t), Value::Interval(iv)] | [Value::Interval(iv), Value::Timestamp(t)] => {
            Ok(Value::Timestamp(ts_add_interval(*t, iv)?))
        }
        [Value::TimestampTz(t), Value::Interval(iv)]
        | [Value::Interval(iv), Value::TimestampTz(t)] => {
            if !finite(*t) {
                return Ok(Value::TimestampTz(*t));
            }
            // As PostgreSQL: months and days move the wall-clock time in the session zone
            // (so `+ 1 day` across a DST change keeps the time of day), the time part moves
            // the instant.
            if iv.months == 0 && iv.days == 0 {
                return Ok(Value::TimestampTz(ts_add_interval(*t, iv)?));
            }
            let calendar = Interval { micros: 0, ..*iv };
            let clock = Interval {
                months: 0,
                days: 0,
                micros: iv.micros,
            };
            let local = ts_add_interval(to_local(*t), &calendar)?;
            Ok(Value::TimestampTz(ts_add_interval(to_utc(local), &clock)?))
        }
        _ => Err(bad_args()),
    }
}

pub(crate) fn ts_mi_interval(a: &[Value]) -> Result<Value> {
    let neg = Value::Interval(neg_interval(iv_arg(&a[1])?)?);
    ts_pl_interval(&[a[0].clone(), neg])
}

/// timestamp - timestamp (and timestamptz): the difference as days + time
/// (PostgreSQL's `timestamp_mi` justifies hours into days).
pub(crate) fn ts_mi_ts(a: &[Value]) -> Result<Value> {
    let (x, y) = match a {
        [Value::Timestamp(x), Value::Timestamp(y)] => (*x, *y),
        [Value::TimestampTz(x), Value::TimestampTz(y)] => (*x, *y),
        _ => return Err(bad_args()),
    };
    if !finite(x) || !finite(y) {
        return Err(Error::new(
            ErrorKind::DatetimeFieldOverflow,
            "cannot subtract infinite timestamps",
        ));
    }
    let diff = x.checked_sub(y).ok_or_else(interval_overflow)?;
    Ok(Value::Interval(justify_hours_iv(Interval {
        months: 0,
        days: 0,
        micros: diff,
    })))
}

pub(crate) fn iv_pl_iv(a: &[Value]) -> Result<Value> {
    let (x, y) = (iv_arg(&a[0])?, iv_arg(&a[1])?);
    Ok(Value::Interval(Interval {
        months: x
            .months
            .checked_add(y.months)
            .ok_or_else(interval_overflow)?,
        days: x.days.checked_add(y.days).ok_or_else(interval_overflow)?,
        micros: x
            .micros
            .checked_add(y.micros)
            .ok_or_else(interval_overflow)?,
    }))
}

pub(crate) fn iv_mi_iv(a: &[Value]) -> Result<Value> {
    let neg = Value::Interval(neg_interval(iv_arg(&a[1])?)?);
    iv_pl_iv(&[a[0].clone(), neg])
}

pub(crate) fn iv_neg(a: &[Value]) -> Result<Value> {
    Ok(Value::Interval(neg_interval(iv_arg(&a[0])?)?))
}

/// Rounds to microsecond precision in seconds, as PostgreSQL's TSROUND.
fn tsround(x: f64) -> f64 {
    (x * 1e6).round_ties_even() / 1e6
}

fn interval_mul(iv: &Interval, factor: f64) -> Result<Interval> {
    let months_d = iv.months as f64 * factor;
    let days_d = iv.days as f64 * factor;
    let in_i32 = |v: f64| v.is_finite() && v >= i32::MIN as f64 && v <= i32::MAX as f64;
    if !in_i32(months_d) || !in_i32(days_d) {
        return Err(interval_overflow());
    }
    let months = months_d as i32;
    let mut days = days_d as i32;
    let month_rem_days = tsround((iv.months as f64 * factor - months as f64) * 30.0);
    let mut sec_rem = tsround(
        (iv.days as f64 * factor - days as f64 + month_rem_days - month_rem_days.trunc())
            * 86_400.0,
    );
    if sec_rem.abs() >= 86_400.0 {
        let whole = (sec_rem / 86_400.0).trunc();
        days += whole as i32;
        sec_rem -= whole * 86_400.0;
    }
    days += month_rem_days.trunc() as i32;
    let micros = (iv.micros as f64 * factor + sec_rem * 1e6).round_ties_even();
    if !micros.is_finite() || micros.abs() >= 9.2e18 {
        return Err(interval_overflow());
    }
    Ok(Interval {
        months,
        days,
        micros: micros as i64,
    })
}

pub(crate) fn iv_mul(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Interval(iv), Value::Float8(f)] | [Value::Float8(f), Value::Interval(iv)] => {
            Ok(Value::Interval(interval_mul(iv, *f)?))
        }
        _ => Err(bad_args()),
    }
}

pub(crate) fn iv_div(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Interval(iv), Value::Float8(f)] => {
            if *f == 0.0 {
                return Err(Error::new(ErrorKind::DivisionByZero, "division by zero"));
            }
            Ok(Value::Interval(interval_mul(iv, 1.0 / f)?))
        }
        _ => Err(bad_args()),
    }
}

/// time ± interval wraps around midnight; time - time is an interval.
pub(crate) fn time_pl_interval(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Time(t), Value::Interval(iv)] | [Value::Interval(iv), Value::Time(t)] => Ok(
            Value::Time((*t as i128 + iv.micros as i128).rem_euclid(USECS_PER_DAY as i128) as i64),
        ),
        _ => Err(bad_args()),
    }
}

pub(crate) fn time_mi_interval(a: &[Value]) -> Result<Value> {
    let neg = Value::Interval(neg_interval(iv_arg(&a[1])?)?);
    time_pl_interval(&[a[0].clone(), neg])
}

pub(crate) fn time_mi_time(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Time(x), Value::Time(y)] => Ok(Value::Interval(Interval {
            months: 0,
            days: 0,
            micros: x - y,
        })),
        _ => Err(bad_args()),
    }
}

/// date ± interval → timestamp.
pub(crate) fn date_pl_interval(a: &[Value]) -> Result<Value> {
    let to_ts = |v: &Value| -> Result<Value> {
        match v {
            Value::Date(d) => Ok(Value::Timestamp(match *d {
                DATE_NEG_INF => TS_NEG_INF,
                DATE_POS_INF => TS_POS_INF,
                _ => make_ts(*d as i64, 0)?,
            })),
            other => Ok(other.clone()),
        }
    };
    ts_pl_interval(&[to_ts(&a[0])?, to_ts(&a[1])?])
}

pub(crate) fn date_mi_interval(a: &[Value]) -> Result<Value> {
    let neg = Value::Interval(neg_interval(iv_arg(&a[1])?)?);
    date_pl_interval(&[a[0].clone(), neg])
}

// ---- justify -------------------------------------------------------------------------------

fn justify_hours_iv(mut iv: Interval) -> Interval {
    let whole = iv.micros / USECS_PER_DAY;
    iv.micros -= whole * USECS_PER_DAY;
    iv.days = iv.days.saturating_add(whole as i32);
    if iv.days > 0 && iv.micros < 0 {
        iv.micros += USECS_PER_DAY;
        iv.days -= 1;
    } else if iv.days < 0 && iv.micros > 0 {
        iv.micros -= USECS_PER_DAY;
        iv.days += 1;
    }
    iv
}

pub(crate) fn justify_hours(a: &[Value]) -> Result<Value> {
    Ok(Value::Interval(justify_hours_iv(*iv_arg(&a[0])?)))
}

pub(crate) fn justify_days(a: &[Value]) -> Result<Value> {
    let mut iv = *iv_arg(&a[0])?;
    let whole = iv.days / 30;
    iv.days -= whole * 30;
    iv.months = iv.months.checked_add(whole).ok_or_else(interval_overflow)?;
    if iv.months > 0 && iv.days < 0 {
        iv.days += 30;
        iv.months -= 1;
    } else if iv.months < 0 && iv.days > 0 {
        iv.days -= 30;
        iv.months += 1;
    }
    Ok(Value::Interval(iv))
}

pub(crate) fn justify_interval(a: &[Value]) -> Result<Value> {
    let mut iv = *iv_arg(&a[0])?;
    if (iv.days > 0 && iv.micros > 0) || (iv.days < 0 && iv.micros < 0) {
        let whole = iv.days / 30;
        iv.days -= whole * 30;
        iv.months = iv.months.checked_add(whole).ok_or_else(interval_overflow)?;
    }
    let wholeday = iv.micros / USECS_PER_DAY;
    iv.micros -= wholeday * USECS_PER_DAY;
    iv.days = iv
        .days
        .checked_add(wholeday as i32)
        .ok_or_else(interval_overflow)?;
    let whole = iv.days / 30;
    iv.days -= whole * 30;
    iv.months = iv.months.checked_add(whole).ok_or_else(interval_overflow)?;
    if iv.months > 0 && (iv.days < 0 || (iv.days == 0 && iv.micros < 0)) {
        iv.days += 30;
        iv.months -= 1;
    } else if iv.months < 0 && (iv.days > 0 || (iv.days == 0 && iv.micros > 0)) {
        iv.days -= 30;
        iv.months += 1;
    }
    if iv.days > 0 && iv.micros < 0 {
        iv.micros += USECS_PER_DAY;
        iv.days -= 1;
    } else if iv.days < 0 && iv.micros > 0 {
        iv.micros -= USECS_PER_DAY;
        iv.days += 1;
    }
    Ok(Value::Interval(iv))
}

// ---- current time --------------------------------------------------------------------------

pub(crate) fn now(_: &[Value]) -> Result<Value> {
    Ok(Value::TimestampTz(dt::now_micros()))
}

pub(crate) fn localtimestamp(_: &[Value]) -> Result<Value> {
    Ok(Value::Timestamp(to_local(dt::now_micros())))
}

pub(crate) fn localtime(_: &[Value]) -> Result<Value> {
    Ok(Value::Time(split_ts(to_local(dt::now_micros())).1))
}

pub(crate) fn current_date(_: &[Value]) -> Result<Value> {
    Ok(Value::Date(split_ts(to_local(dt::now_micros())).0 as i32))
}

// ---- constructors --------------------------------------------------------------------------

fn int4(v: &Value) -> Result<i32> {
    match v {
        Value::Int4(i) => Ok(*i),
        _ => Err(bad_args()),
    }
}

fn f8(v: &Value) -> Result<f64> {
    match v {
        Value::Float8(f) => Ok(*f),
        _ => Err(bad_args()),
    }
}

/// A date from SQL's year (negative = BC), checking every field.
fn make_days(y: i32, m: i32, d: i32) -> Result<i64> {
    let bad = || {
        Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("date field value out of range: {y}-{m:02}-{d:02}"),
        )
    };
    if y == 0 {
        return Err(bad());
    }
    let astro = if y < 0 { y as i64 + 1 } else { y as i64 };
    if !(1..=12).contains(&m) || d < 1 || d as u32 > days_in_month(astro, m as u32) {
        return Err(bad());
    }
    Ok(days_from_civil(astro, m as u32, d as u32))
}

pub(crate) fn make_date(a: &[Value]) -> Result<Value> {
    let days = make_days(int4(&a[0])?, int4(&a[1])?, int4(&a[2])?)?;
    dt::check_date(days).map(Value::Date)
}

fn make_time_us(h: i32, m: i32, s: f64) -> Result<i64> {
    if !(0..=24).contains(&h) || !(0..=59).contains(&m) || !(0.0..=60.0).contains(&s) {
        return Err(Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("time field value out of range: {h}:{m:02}:{s:02}"),
        ));
    }
    let us = h as i64 * USECS_PER_HOUR + m as i64 * USECS_PER_MIN + (s * 1e6).round() as i64;
    if us > USECS_PER_DAY {
        return Err(Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("time field value out of range: {h}:{m:02}:{s:02}"),
        ));
    }
    Ok(us)
}

pub(crate) fn make_time(a: &[Value]) -> Result<Value> {
    Ok(Value::Time(make_time_us(
        int4(&a[0])?,
        int4(&a[1])?,
        f8(&a[2])?,
    )?))
}

pub(crate) fn make_timestamp(a: &[Value]) -> Result<Value> {
    let days = make_days(int4(&a[0])?, int4(&a[1])?, int4(&a[2])?)?;
    let t = make_time_us(int4(&a[3])?, int4(&a[4])?, f8(&a[5])?)?;
    Ok(Value::Timestamp(make_ts(days, t)?))
}

pub(crate) fn make_timestamptz(a: &[Value]) -> Result<Value> {
    match make_timestamp(a)? {
        Value::Timestamp(t) => Ok(Value::TimestampTz(to_utc(t))),
        _ => Err(bad_args()),
    }
}

/// `to_timestamp(double precision)`: Unix seconds → timestamptz.
pub(crate) fn to_timestamp(a: &[Value]) -> Result<Value> {
    let secs = f8(&a[0])?;
    if secs.is_nan() {
        return Err(Error::new(
            ErrorKind::DatetimeFieldOverflow,
            "timestamp cannot be NaN",
        ));
    }
    if secs.is_infinite() {
        return Ok(Value::TimestampTz(if secs > 0.0 {
            TS_POS_INF
        } else {
            TS_NEG_INF
        }));
    }
    let us = (secs * 1e6).round() - 946_684_800.0 * 1e6;
    if us.abs() > 9.2e18 {
        return Err(Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("timestamp out of range: \"{secs}\""),
        ));
    }
    let (days, t) = split_ts(us as i64);
    Ok(Value::TimestampTz(make_ts(days, t).map_err(|_| {
        Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("timestamp out of range: \"{secs}\""),
        )
    })?))
}

pub(crate) fn age2(a: &[Value]) -> Result<Value> {
    let (x, y) = match a {
        [Value::Timestamp(x), Value::Timestamp(y)] => (*x, *y),
        [Value::TimestampTz(x), Value::TimestampTz(y)] if finite(*x) && finite(*y) => {
            (to_local(*x), to_local(*y))
        }
        [Value::TimestampTz(x), Value::TimestampTz(y)] => (*x, *y),
        _ => return Err(bad_args()),
    };
    if !finite(x) || !finite(y) {
        return Err(Error::new(
            ErrorKind::DatetimeFieldOverflow,
            "cannot subtract infinite timestamps",
        ));
    }
    Ok(Value::Interval(age(x, y)?))
}

/// `age(timestamp)`: from the timestamp to today's midnight.
pub(crate) fn age1(a: &[Value]) -> Result<Value> {
    let today = split_ts(to_local(dt::now_micros())).0 * USECS_PER_DAY;
    match a {
        [Value::Timestamp(_)] => age2(&[Value::Timestamp(today), a[0].clone()]),
        [Value::TimestampTz(_)] => age2(&[Value::TimestampTz(to_utc(today)), a[0].clone()]),
        _ => Err(bad_args()),
    }
}

pub(crate) fn isfinite(a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(match &a[0] {
        Value::Date(d) => *d != DATE_NEG_INF && *d != DATE_POS_INF,
        Value::Timestamp(t) | Value::TimestampTz(t) => finite(*t),
        _ => true,
    }))
}

// ---- date_part / extract / date_trunc -------------------------------------------------------

fn text(v: &Value) -> Result<&str> {
    match v {
        Value::Text(s) => Ok(s),
        _ => Err(bad_args()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Microseconds,
    Milliseconds,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Dow,
    IsoDow,
    Doy,
    Epoch,
    Julian,
    IsoYear,
}

fn field(unit: &str) -> Option<Field> {
    use Field::*;
    Some(match unit.trim().to_ascii_lowercase().as_str() {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => Microseconds,
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => Milliseconds,
        "second" | "seconds" | "s" | "sec" | "secs" => Second,
        "minute" | "minutes" | "m" | "min" | "mins" => Minute,
        "hour" | "hours" | "h" | "hr" | "hrs" => Hour,
        "day" | "days" | "d" => Day,
        "week" | "weeks" | "w" => Week,
        "month" | "months" | "mon" | "mons" => Month,
        "quarter" | "qtr" => Quarter,
        "year" | "years" | "y" | "yr" | "yrs" => Year,
        "decade" | "decades" | "dec" | "decs" => Decade,
        "century" | "centuries" | "c" | "cent" => Century,
        "millennium" | "millennia" | "mil" | "mils" => Millennium,
        "dow" => Dow,
        "isodow" => IsoDow,
        "doy" => Doy,
        "epoch" => Epoch,
        "julian" | "j" => Julian,
        "isoyear" => IsoYear,
        _ => return None,
    })
}

fn not_recognized(unit: &str, ty: &str) -> Error {
    Error::new(
        ErrorKind::InvalidParameterValue,
        format!("unit \"{unit}\" not recognized for type {ty}"),
    )
}

fn not_supported(unit: &str, ty: &str) -> Error {
    Error::new(
        ErrorKind::FeatureNotSupported,
        format!("unit \"{unit}\" not supported for type {ty}"),
    )
}

/// A field's value as an exact decimal: `mantissa / 10^scale`.
type Fixed = (i128, i64);

/// SQL's year number: astronomical year ≤ 0 counts back from 1 BC = -1.
fn sql_year(y: i64) -> i64 {
    if y > 0 {
        y
    } else {
        y - 1
    }
}

fn iso_week(days: i64) -> (i64, i64) {
    let isodow = (days + 5).rem_euclid(7) + 1; // Monday = 1; 2000-01-01 was a Saturday
    let thursday = days - (isodow - 1) + 3;
    let (iy, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(iy, 1, 1)) / 7 + 1;
    (iy, week)
}

/// Fields of a day number shared by date and timestamp.
fn date_field(f: Field, days: i64) -> Option<i128> {
    let (y, m, d) = civil_from_days(days);
    let year = sql_year(y);
    Some(match f {
        Field::Day => d as i128,
        Field::Month => m as i128,
        Field::Quarter => ((m - 1) / 3 + 1) as i128,
        Field::Year => year as i128,
        Field::Decade => {
            (if y >= 0 {
                y / 10
            } else {
                -((8 - (y - 1)) / 10)
            }) as i128
        }
        Field::Century => {
            (if y > 0 {
                (y + 99) / 100
            } else {
                -((99 - (y - 1)) / 100)
            }) as i128
        }
        Field::Millennium => {
            (if y > 0 {
                (y + 999) / 1000
            } else {
                -((999 - (y - 1)) / 1000)
            }) as i128
        }
        Field::Dow => (days + 6).rem_euclid(7) as i128,
        Field::IsoDow => ((days + 5).rem_euclid(7) + 1) as i128,
        Field::Doy => (days - days_from_civil(y, 1, 1) + 1) as i128,
        Field::Week => iso_week(days).1 as i128,
        Field::IsoYear => {
            let iy = iso_week(days).0;
            sql_year(iy) as i128
        }
        _ => return None,
    })
}

fn time_field(f: Field, t: i64) -> Option<Fixed> {
    Some(match f {
        Field::Microseconds => ((t % USECS_PER_MIN) as i128, 0),
        Field::Milliseconds => ((t % USECS_PER_MIN) as i128, 3),
        Field::Second => ((t % USECS_PER_MIN) as i128, 6),
        Field::Minute => (((t / USECS_PER_MIN) % 60) as i128, 0),
        Field::Hour => ((t / USECS_PER_HOUR) as i128, 0),
        _ => return None,
    })
}

const UNIX_EPOCH_PG_US: i128 = 946_684_800_000_000;

/// The field of a value as an exact decimal, `Ok(None)` for an infinite input whose field
/// has no value (NULL), or the infinity as `Err(sign)` for fields that grow without bound.
fn extract_fixed(unit: &str, v: &Value) -> Result<std::result::Result<Option<Fixed>, bool>> {
    let ty_name = match v {
        Value::Date(_) => "date",
        Value::Time(_) => "time without time zone",
        Value::Timestamp(_) => "timestamp without time zone",
        Value::TimestampTz(_) => "timestamp with time zone",
        _ => "interval",
    };
    let f = field(unit).ok_or_else(|| not_recognized(unit, ty_name))?;
    let monotonic = matches!(
        f,
        Field::Year
            | Field::Decade
            | Field::Century
            | Field::Millennium
            | Field::Epoch
            | Field::Julian
            | Field::IsoYear
    );
    let infinite = |pos: bool| -> Result<std::result::Result<Option<Fixed>, bool>> {
        Ok(if monotonic { Err(pos) } else { Ok(None) })
    };
    match v {
        Value::Date(d) => {
            if *d == DATE_POS_INF || *d == DATE_NEG_INF {
                if matches!(
                    f,
                    Field::Microseconds
                        | Field::Milliseconds
                        | Field::Second
                        | Field::Minute
                        | Field::Hour
                ) {
                    return Err(not_supported(unit, ty_name));
                }
                return infinite(*d == DATE_POS_INF);
            }
            let days = *d as i64;
            let val = match f {
                Field::Epoch => (days as i128 * 86_400 + 946_684_800, 0),
                Field::Julian => (days as i128 + 2_451_545, 0),
                _ => match date_field(f, days) {
                    Some(x) => (x, 0),
                    None => return Err(not_supported(unit, ty_name)),
                },
            };
            Ok(Ok(Some(val)))
        }
        Value::Timestamp(t) | Value::TimestampTz(t) => {
            if !finite(*t) {
                return infinite(*t == TS_POS_INF);
            }
            let utc = *t;
            let local = if matches!(v, Value::TimestampTz(_)) {
                to_local(utc)
            } else {
                utc
            };
            let (days, tod) = split_ts(local);
            let val = match f {
                Field::Epoch => ((utc as i128) + UNIX_EPOCH_PG_US, 6),
                // Days with the time of day as a fraction, to the microsecond.
                Field::Julian => (
                    (days as i128 + 2_451_545) * 1_000_000
                        + tod as i128 * 1_000_000 / USECS_PER_DAY as i128,
                    6,
                ),
                _ => match time_field(f, tod) {
                    Some(x) => x,
                    None => match date_field(f, days) {
                        Some(x) => (x, 0),
                        None => return Err(not_supported(unit, ty_name)),
                    },
                },
            };
            Ok(Ok(Some(val)))
        }
        Value::Time(t) => {
            let val = match f {
                Field::Epoch => (*t as i128, 6),
                _ => match time_field(f, *t) {
                    Some(x) => x,
                    None => return Err(not_supported(unit, ty_name)),
                },
            };
            Ok(Ok(Some(val)))
        }
        Value::Interval(iv) => {
            let years = (iv.months / 12) as i128;
            let val = match f {
                Field::Epoch => {
                    // A year is 365.25 days here (PostgreSQL's DAYS_PER_YEAR).
                    let day_secs = (31_557_600.0 * years as f64) as i128
                        + (30 * (iv.months % 12) as i128 + iv.days as i128) * 86_400;
                    (day_secs * 1_000_000 + iv.micros as i128, 6)
                }
                Field::Year => (years, 0),
                Field::Month => ((iv.months % 12) as i128, 0),
                Field::Quarter => (((iv.months % 12) / 3 + 1) as i128, 0),
                Field::Decade => (years / 10, 0),
                Field::Century => (years / 100, 0),
                Field::Millennium => (years / 1000, 0),
                Field::Day => (iv.days as i128, 0),
                Field::Microseconds => ((iv.micros % USECS_PER_MIN) as i128, 0),
                Field::Milliseconds => ((iv.micros % USECS_PER_MIN) as i128, 3),
                Field::Second => ((iv.micros % USECS_PER_MIN) as i128, 6),
                Field::Minute => (((iv.micros / USECS_PER_MIN) % 60) as i128, 0),
                Field::Hour => ((iv.micros / USECS_PER_HOUR) as i128, 0),
                _ => return Err(not_supported(unit, ty_name)),
            };
            Ok(Ok(Some(val)))
        }
        _ => Err(bad_args()),
    }
}

/// `date_part(text, …)` → double precision.
pub(crate) fn date_part(a: &[Value]) -> Result<Value> {
    Ok(match extract_fixed(text(&a[0])?, &a[1])? {
        Ok(Some((m, scale))) => Value::Float8(m as f64 / 10f64.powi(scale as i32)),
        Ok(None) => Value::Null,
        Err(pos) => Value::Float8(if pos {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        }),
    })
}

/// `extract(field from …)` → numeric, with PostgreSQL's scales (seconds and epoch of
/// timestamps carry 6 decimals, milliseconds 3).
pub(crate) fn extract(a: &[Value]) -> Result<Value> {
    Ok(match extract_fixed(text(&a[0])?, &a[1])? {
        Ok(Some((m, scale))) => {
            Value::Numeric(Numeric::Finite(BigDecimal::new(BigInt::from(m), scale)))
        }
        Ok(None) => Value::Null,
        Err(pos) => Value::Numeric(if pos {
            Numeric::PosInfinity
        } else {
            Numeric::NegInfinity
        }),
    })
}

/// Truncates a local timestamp to `f`.
fn trunc_local(f: Field, ts: i64) -> Option<i64> {
    let (days, t) = split_ts(ts);
    let (y, m, _) = civil_from_days(days);
    let day_start = |d: i64| d * USECS_PER_DAY;
    let year_start = |y: i64| day_start(days_from_civil(y, 1, 1));
    Some(match f {
        Field::Microseconds => ts,
        Field::Milliseconds => ts - ts.rem_euclid(1000),
        Field::Second => ts - ts.rem_euclid(USECS_PER_SEC),
        Field::Minute => ts - ts.rem_euclid(USECS_PER_MIN),
        Field::Hour => ts - ts.rem_euclid(USECS_PER_HOUR),
        Field::Day => ts - t,
        Field::Week => day_start(days - (days + 5).rem_euclid(7)),
        Field::Month => day_start(days_from_civil(y, m, 1)),
        Field::Quarter => day_start(days_from_civil(y, (m - 1) / 3 * 3 + 1, 1)),
        Field::Year => year_start(y),
        Field::Decade => year_start(if y > 0 {
            y - y % 10
        } else {
            y - y.rem_euclid(10)
        }),
        Field::Century => {
            let c = if y > 0 {
                (y - 1) / 100 * 100 + 1
            } else {
                -((99 - y) / 100) * 100 + 1
            };
            year_start(c)
        }
        Field::Millennium => {
            let c = if y > 0 {
                (y - 1) / 1000 * 1000 + 1
            } else {
                -((999 - y) / 1000) * 1000 + 1
            };
            year_start(c)
        }
        _ => return None,
    })
}

/// `date_trunc(text, timestamp | timestamptz | interval)`.
pub(crate) fn date_trunc(a: &[Value]) -> Result<Value> {
    let unit = text(&a[0])?;
    match &a[1] {
        Value::Timestamp(t) | Value::TimestampTz(t) => {
            let tz = matches!(a[1], Value::TimestampTz(_));
            let ty = if tz {
                "timestamp with time zone"
            } else {
                "timestamp without time zone"
            };
            let f = field(unit).ok_or_else(|| not_recognized(unit, ty))?;
            if !finite(*t) {
                return Ok(a[1].clone());
            }
            let local = if tz { to_local(*t) } else { *t };
            let r = trunc_local(f, local).ok_or_else(|| not_supported(unit, ty))?;
            let r = if tz { to_utc(r) } else { r };
            Ok(if tz {
                Value::TimestampTz(r)
            } else {
                Value::Timestamp(r)
            })
        }
        Value::Interval(iv) => {
            let f = field(unit).ok_or_else(|| not_recognized(unit, "interval"))?;
            let mut r = *iv;
            let keep_months = |r: &mut Interval, per: i32| {
                r.months -= r.months % per;
                r.days = 0;
                r.micros = 0;
            };
            match f {
                Field::Millennium => keep_months(&mut r, 12000),
                Field::Century => keep_months(&mut r, 1200),
                Field::Decade => keep_months(&mut r, 120),
                Field::Year => keep_months(&mut r, 12),
                Field::Quarter => keep_months(&mut r, 3),
                Field::Month => keep_months(&mut r, 1),
                Field::Day => r.micros = 0,
                Field::Hour => r.micros -= r.micros % USECS_PER_HOUR,
                Field::Minute => r.micros -= r.micros % USECS_PER_MIN,
                Field::Second => r.micros -= r.micros % USECS_PER_SEC,
                Field::Milliseconds => r.micros -= r.micros % 1000,
                Field::Microseconds => {}
                _ => return Err(not_supported(unit, "interval")),
            }
            Ok(Value::Interval(r))
        }
        _ => Err(bad_args()),
    }
}

/// `AT TIME ZONE`: timestamp → timestamptz (the wall-clock time read in `zone`) and
/// timestamptz → timestamp (the wall-clock time in `zone`).
pub(crate) fn at_time_zone(a: &[Value]) -> Result<Value> {
    let name = text(&a[0])?;
    let (zone, _) = dt::lookup_zone(name).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("time zone \"{name}\" not recognized"),
        )
    })?;
    Ok(match &a[1] {
        Value::Timestamp(t) => Value::TimestampTz(if finite(*t) { zone.to_utc(*t) } else { *t }),
        Value::TimestampTz(t) => Value::Timestamp(if finite(*t) { zone.to_local(*t) } else { *t }),
        _ => return Err(bad_args()),
    })
}

pub(crate) fn bytea_length(a: &[Value]) -> Result<Value> {
    match &a[0] {
        Value::Bytea(b) => Ok(Value::Int4(b.len() as i32)),
        _ => Err(bad_args()),
    }
}

pub(crate) fn bytea_concat(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Bytea(x), Value::Bytea(y)] => {
            let mut out = x.clone();
            out.extend_from_slice(y);
            Ok(Value::Bytea(out))
        }
        _ => Err(bad_args()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::datetime::{format_interval, format_timestamp, parse_interval};
    use super::*;

    fn iv(s: &str) -> Interval {
        match parse_interval(s).unwrap() {
            Value::Interval(i) => i,
            _ => unreachable!(),
        }
    }

    #[test]
    fn interval_output_matches_postgres() {
        // Expected strings from PostgreSQL 15.
        for (input, out) in [
            (
                "1 year 2 mons -3 days 04:05:06.5",
                "1 year 2 mons -3 days +04:05:06.5",
            ),
            ("-1 day +02:00", "-1 days +02:00:00"),
            ("-02:00:00", "-02:00:00"),
            ("0", "00:00:00"),
            ("1.5 years", "1 year 6 mons"),
            ("@ 1 day 2 hours ago", "-1 days -02:00:00"),
            ("100 hours", "100:00:00"),
            ("1 day -1 second", "1 day -00:00:01"),
        ] {
            assert_eq!(format_interval(&iv(input)), out, "{input}");
        }
    }

    #[test]
    fn interval_arithmetic_matches_postgres() {
        let mul = interval_mul(&iv("1 mon"), 1.5).unwrap();
        assert_eq!(format_interval(&mul), "1 mon 15 days");
        let div = interval_mul(&iv("1 day"), 1.0 / 3.0).unwrap();
        assert_eq!(format_interval(&div), "08:00:00");
        let Value::Interval(j) = justify_interval(&[Value::Interval(iv("1 mon -1 hour"))]).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(format_interval(&j), "29 days 23:00:00");
    }

    #[test]
    fn month_arithmetic_clamps_to_month_end() {
        let ts = make_ts(days_from_civil(2020, 1, 31), 0).unwrap();
        let r = ts_add_interval(ts, &iv("1 month")).unwrap();
        assert_eq!(format_timestamp(r, None), "2020-02-29 00:00:00");
    }

    #[test]
    fn extract_fields() {
        let ts = Value::Timestamp(make_ts(days_from_civil(2020, 5, 6), 0).unwrap());
        assert_eq!(
            date_part(&[Value::Text("year".into()), ts.clone()]).unwrap(),
            Value::Float8(2020.0)
        );
        let d = Value::Date(days_from_civil(2020, 1, 5) as i32);
        assert_eq!(
            date_part(&[Value::Text("dow".into()), d]).unwrap(),
            Value::Float8(0.0)
        );
        let age = age2(&[
            ts,
            Value::Timestamp(make_ts(days_from_civil(2019, 1, 31), 10 * USECS_PER_HOUR).unwrap()),
        ])
        .unwrap();
        let Value::Interval(a) = age else {
            unreachable!()
        };
        assert_eq!(format_interval(&a), "1 year 3 mons 5 days 14:00:00");
    }
}
