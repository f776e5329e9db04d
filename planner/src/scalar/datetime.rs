//! Dates, times, timestamps and intervals: input, output and calendar arithmetic.
//!
//! Representations are PostgreSQL's (see `sledgres_storage::types`): days or microseconds
//! counted from 2000-01-01, with the extreme integers standing for `±infinity`. The calendar
//! is the proleptic Gregorian one PostgreSQL uses; year 0 does not exist on input or output
//! (`0001-01-01 BC` is astronomical year 0), which is handled only at the text boundary.
//!
//! Output follows `DateStyle = ISO, MDY` and `IntervalStyle = postgres`:
//! `2020-01-02`, `12:34:56.5` (fraction without trailing zeros), `2020-01-02 12:34:56+00`
//! (offset as `+HH`, `+HH:MM` when not whole hours), `1 year 2 mons -3 days +04:05:06`.
//!
//! Input accepts ISO dates (`2020-01-02`, optional `BC`), `MM/DD/YYYY` (MDY), times
//! `HH:MM[:SS[.frac]]`, timestamps as date + (`T` or space) + time + optional zone (`Z`,
//! `UTC`, `GMT`, `±HH[:MM]`), the specials `infinity`, `-infinity`, `epoch`, `now`, `today`,
//! and PostgreSQL's verbose interval syntax (`1 year 2 mons`, `@ 1 day ago`, `10:00:00`,
//! unit abbreviations and plurals, fractional units spilling into smaller ones).
//!
//! The session time zone (for `timestamptz` input without a zone, output and conversions)
//! is a per-thread setting, [`set_time_zone`]: scalar functions receive only their arguments,
//! and the session runs each statement on one thread (`Session::execute`/`fetch` set it from
//! the TimeZone setting). It is a fixed UTC offset (`UTC`, `GMT`, POSIX-style `±HH[:MM]`,
//! `UTC±HH`); IANA region names with daylight-saving rules are not supported yet.
//!
//! Errors: 22007 (invalid_datetime_format) for text that is not a date/time at all, 22008
//! (datetime_field_overflow) for a field or result out of range, as PostgreSQL reports them.

use super::timezone::{self as tz, Zone};
use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::{Interval, Value};

pub(crate) const USECS_PER_SEC: i64 = 1_000_000;
pub(crate) const USECS_PER_MIN: i64 = 60 * USECS_PER_SEC;
pub(crate) const USECS_PER_HOUR: i64 = 60 * USECS_PER_MIN;
pub(crate) const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;
/// Days from 1970-01-01 (Unix epoch) to 2000-01-01 (PostgreSQL epoch).
const UNIX_TO_PG_DAYS: i64 = 10_957;

pub(crate) const DATE_NEG_INF: i32 = i32::MIN;
pub(crate) const DATE_POS_INF: i32 = i32::MAX;
pub(crate) const TS_NEG_INF: i64 = i64::MIN;
pub(crate) const TS_POS_INF: i64 = i64::MAX;

/// PostgreSQL's range: 4713-11-24 BC (Julian day 0) to 5874897-12-31 for dates and to
/// 294276-12-31 for timestamps.
const MIN_DAY: i64 = -2_451_545; // 4714-11-24 BC
const MAX_DATE_DAY: i64 = 2_145_031_948; // 5874897-12-31
const MAX_TS_DAY: i64 = 106_741_026; // 294276-12-31 (exclusive end is the next day)

/// Sets this thread's session time zone from a `TimeZone` setting value (see
/// `timezone.rs`). 22023 for a name that is neither a fixed offset nor a known region; the
/// zone then stays UTC.
pub fn set_time_zone(name: &str) -> Result<()> {
    if tz::session_zone_is(name) {
        return Ok(());
    }
    match lookup_zone(name) {
        Some((zone, _)) => {
            tz::set_session_zone(name, zone);
            Ok(())
        }
        None => {
            tz::set_session_zone("", Zone::Fixed(0));
            Err(Error::new(
                ErrorKind::InvalidParameterValue,
                format!("time zone \"{name}\" not recognized"),
            ))
        }
    }
}

/// A zone by name as the `TimeZone` setting and `AT TIME ZONE` take it, with the spelling
/// SHOW reports: a region of the zone database (`america/new_york` → `America/New_York`;
/// `UTC` and other zones that never change offset become fixed offsets), else one of the
/// offset forms of [`parse_zone`], kept as written.
pub(crate) fn lookup_zone(name: &str) -> Option<(Zone, String)> {
    let t = name.trim();
    if let Some((zone, canonical)) = tz::region(t) {
        let zone = match &zone {
            Zone::Region(r) => match r.to_fixed_offset() {
                Ok(off) => Zone::Fixed(off.seconds()),
                Err(_) => zone,
            },
            Zone::Fixed(_) => zone,
        };
        return Some((zone, canonical));
    }
    parse_zone(t).map(|off| (Zone::Fixed(off), t.to_string()))
}

/// A zone as the `TimeZone` setting and `AT TIME ZONE` take it, as seconds east of UTC.
/// Signed offsets there are POSIX-style, *west* of UTC (`'+05:30'` and `'UTC+3'` are behind
/// UTC, as in PostgreSQL); `<+05>-05` is what `SET TIME ZONE 5` stores. A bare unsigned
/// number of hours is east.
pub(crate) fn parse_zone(name: &str) -> Option<i32> {
    let t = name.trim();
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "utc" | "gmt" | "z" | "zulu" | "etc/utc" | "etc/gmt" | "universal" | "utc0" | "gmt0"
        | "uct" | "greenwich" | "etc/universal" | "etc/zulu" => return Some(0),
        _ => {}
    }
    if let Some(rest) = t.strip_prefix('<') {
        let (_, posix) = rest.split_once('>')?;
        return parse_offset(posix).map(|o| -o);
    }
    for prefix in ["utc", "gmt"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return parse_offset(rest).map(|o| -o);
            }
        }
    }
    if t.starts_with(['+', '-']) {
        return parse_offset(t).map(|o| -o);
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let hours: f64 = t.parse().ok()?;
        if hours <= 15.0 {
            return Some((hours * 3600.0).round() as i32);
        }
    }
    None
}

/// A zone written in a date/time literal: ISO offsets (`+05:30`, east of UTC), a common
/// abbreviation (`EST`, `CEST`: fixed offsets, as PostgreSQL's default abbreviation set
/// defines them) or a zone name.
fn literal_zone(z: &str) -> Option<Zone> {
    if z.starts_with(['+', '-']) {
        return parse_offset(z).map(Zone::Fixed);
    }
    const ABBREVIATIONS: &[(&str, i32)] = &[
        ("est", -5),
        ("edt", -4),
        ("cst", -6),
        ("cdt", -5),
        ("mst", -7),
        ("mdt", -6),
        ("pst", -8),
        ("pdt", -7),
        ("akst", -9),
        ("akdt", -8),
        ("hst", -10),
        ("wet", 0),
        ("west", 1),
        ("cet", 1),
        ("cest", 2),
        ("met", 1),
        ("mest", 2),
        ("eet", 2),
        ("eest", 3),
        ("msk", 3),
        ("jst", 9),
        ("kst", 9),
        ("aest", 10),
        ("aedt", 11),
        ("nzst", 12),
        ("nzdt", 13),
    ];
    let lower = z.to_ascii_lowercase();
    if let Some((_, hours)) = ABBREVIATIONS.iter().find(|(a, _)| *a == lower) {
        return Some(Zone::Fixed(hours * 3600));
    }
    lookup_zone(z).map(|(zone, _)| zone)
}

/// `±HH[:MM[:SS]]` or `±HHMM` as seconds east of UTC.
fn parse_offset(t: &str) -> Option<i32> {
    let (neg, body) = match t.as_bytes().first()? {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => return None,
    };
    let parts: Vec<&str> = body.split(':').collect();
    let num = |s: &str| -> Option<i32> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (h, m, s) = match parts.as_slice() {
        [hm] if hm.len() == 4 && hm.bytes().all(|b| b.is_ascii_digit()) => {
            (num(&hm[..2])?, num(&hm[2..])?, 0)
        }
        [h] => (num(h)?, 0, 0),
        [h, m] => (num(h)?, num(m)?, 0),
        [h, m, s] => (num(h)?, num(m)?, num(s)?),
        _ => return None,
    };
    if h > 15 || m > 59 || s > 59 {
        return None;
    }
    let off = h * 3600 + m * 60 + s;
    Some(if neg { -off } else { off })
}

// ---- calendar ------------------------------------------------------------------------------

/// Days since 2000-01-01 of a proleptic Gregorian date (astronomical year: 0 = 1 BC).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm, shifted to PostgreSQL's epoch.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 - UNIX_TO_PG_DAYS
}

/// The (astronomical year, month, day) of a day number.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + UNIX_TO_PG_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Splits a finite timestamp into its day number and microseconds into that day.
pub(crate) fn split_ts(ts: i64) -> (i64, i64) {
    (ts.div_euclid(USECS_PER_DAY), ts.rem_euclid(USECS_PER_DAY))
}

fn out_of_range_ts() -> Error {
    Error::new(ErrorKind::DatetimeFieldOverflow, "timestamp out of range")
}

fn out_of_range_date() -> Error {
    Error::new(ErrorKind::DatetimeFieldOverflow, "date out of range")
}

/// A timestamp from a day number and time of day, checked against PostgreSQL's range.
pub(crate) fn make_ts(days: i64, usecs: i64) -> Result<i64> {
    if !(MIN_DAY..MAX_TS_DAY + 1).contains(&days) {
        return Err(out_of_range_ts());
    }
    Ok(days * USECS_PER_DAY + usecs)
}

fn check_ts(ts: i128) -> Result<i64> {
    let min = MIN_DAY as i128 * USECS_PER_DAY as i128;
    let max = (MAX_TS_DAY as i128 + 1) * USECS_PER_DAY as i128;
    if ts < min || ts >= max {
        return Err(out_of_range_ts());
    }
    Ok(ts as i64)
}

pub(crate) fn check_date(days: i64) -> Result<i32> {
    if !(MIN_DAY..=MAX_DATE_DAY).contains(&days) {
        return Err(out_of_range_date());
    }
    Ok(days as i32)
}

pub(crate) fn now_micros() -> i64 {
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    since_unix - UNIX_TO_PG_DAYS * USECS_PER_DAY
}

// ---- input ---------------------------------------------------------------------------------

fn bad_format(type_name: &str, text: &str) -> Error {
    Error::new(
        ErrorKind::InvalidDatetimeFormat,
        format!("invalid input syntax for type {type_name}: \"{text}\""),
    )
}

fn field_overflow(text: &str) -> Error {
    Error::new(
        ErrorKind::DatetimeFieldOverflow,
        format!("date/time field value out of range: \"{text}\""),
    )
}

/// A parsed date or date-time: fields before validation.
struct Parsed {
    date: Option<(i64, u32, u32)>,
    /// Microseconds since midnight; 24:00:00 allowed.
    time: Option<i64>,
    /// Explicit zone.
    zone: Option<Zone>,
}

enum Special {
    NegInf,
    PosInf,
}

fn special(text: &str) -> Option<Special> {
    match text.trim().to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" => Some(Special::PosInf),
        "-infinity" => Some(Special::NegInf),
        _ => None,
    }
}

/// `HH:MM[:SS[.frac]]` → microseconds (hours ≤ 24, and 24 only as 24:00:00).
fn parse_time_of_day(s: &str) -> Option<std::result::Result<i64, ()>> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let int = |p: &str| -> Option<i64> {
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let h = int(parts[0])?;
    let m = int(parts[1])?;
    let (sec, frac) = match parts.get(2) {
        None => (0, 0),
        Some(p) => {
            let (ip, fp) = p.split_once('.').unwrap_or((p, ""));
            let sec = int(ip)?;
            if !fp.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (sec, frac_micros(fp))
        }
    };
    if m > 59 || sec > 60 || h > 24 {
        return Some(Err(()));
    }
    let total = h * USECS_PER_HOUR + m * USECS_PER_MIN + sec * USECS_PER_SEC + frac;
    if total > USECS_PER_DAY {
        return Some(Err(()));
    }
    Some(Ok(total))
}

/// A fraction's digits as microseconds, rounded half up at the 7th digit.
fn frac_micros(digits: &str) -> i64 {
    let mut v: i64 = 0;
    for (i, b) in digits.bytes().take(7).enumerate() {
        let d = (b - b'0') as i64;
        if i < 6 {
            v = v * 10 + d;
        } else if d >= 5 {
            v += 1;
        }
    }
    for _ in digits.len().min(6)..6 {
        v *= 10;
    }
    v
}

/// Parses the common date/time grammar. `Err(true)` = field out of range (22008),
/// `Err(false)` = not a date/time (22007).
fn parse_datetime(text: &str) -> std::result::Result<Parsed, bool> {
    let t = text.trim();
    let mut rest: Vec<String> = Vec::new();
    // Split "2020-01-02T10:00" and "2020-01-02 10:00+02" into tokens.
    for tok in t.split_ascii_whitespace() {
        match tok.split_once(['T', 't']) {
            Some((d, tm)) if d.contains('-') && tm.contains(':') => {
                rest.push(d.to_string());
                rest.push(tm.to_string());
            }
            _ => rest.push(tok.to_string()),
        }
    }
    let mut out = Parsed {
        date: None,
        time: None,
        zone: None,
    };
    let mut bc = false;
    let mut i = 0;
    while i < rest.len() {
        let tok = rest[i].as_str();
        let lower = tok.to_ascii_lowercase();
        i += 1;
        if lower == "bc" {
            bc = true;
            continue;
        }
        if lower == "ad" {
            continue;
        }
        if out.date.is_none() && out.time.is_none() {
            // Relative to the session zone's wall clock.
            let now = tz::session_local(now_micros());
            let today = civil_from_days(now.div_euclid(USECS_PER_DAY));
            match lower.as_str() {
                "epoch" => {
                    out.date = Some((1970, 1, 1));
                    out.time = Some(0);
                    continue;
                }
                "today" | "now" => {
                    out.date = Some(today);
                    if lower == "now" {
                        out.time = Some(now.rem_euclid(USECS_PER_DAY));
                    }
                    continue;
                }
                "yesterday" | "tomorrow" => {
                    let d =
                        now.div_euclid(USECS_PER_DAY) + if lower == "tomorrow" { 1 } else { -1 };
                    out.date = Some(civil_from_days(d));
                    continue;
                }
                _ => {}
            }
        }
        if out.date.is_none() && out.time.is_none() {
            if let Some(d) = parse_date_token(tok)? {
                out.date = Some(d);
                continue;
            }
        }
        if out.time.is_none() && tok.contains(':') {
            // A zone may be glued on: 10:00:00+02, 10:00Z.
            let (tm, zone) = split_zone(tok);
            match parse_time_of_day(tm) {
                Some(Ok(us)) => out.time = Some(us),
                Some(Err(())) => return Err(true),
                None => return Err(false),
            }
            if let Some(z) = zone {
                out.zone = Some(literal_zone(z).ok_or(false)?);
            }
            continue;
        }
        if out.zone.is_none() && out.date.is_some() {
            if let Some(z) = literal_zone(tok) {
                out.zone = Some(z);
                continue;
            }
        }
        return Err(false);
    }
    if bc {
        match &mut out.date {
            Some((y, _, _)) if *y > 0 => *y = 1 - *y,
            _ => return Err(false),
        }
    }
    Ok(out)
}

fn split_zone(tok: &str) -> (&str, Option<&str>) {
    if let Some(p) = tok.find(['+', '-']) {
        return (&tok[..p], Some(&tok[p..]));
    }
    if let Some(p) = tok.to_ascii_lowercase().find('z') {
        return (&tok[..p], Some(&tok[p..]));
    }
    (tok, None)
}

/// `YYYY-MM-DD` or `MM/DD/YYYY` (DateStyle MDY); `Ok(None)` when the token is not date-like.
fn parse_date_token(tok: &str) -> std::result::Result<Option<(i64, u32, u32)>, bool> {
    let (parts, ymd): (Vec<&str>, bool) = if tok.contains('-') && !tok.starts_with('-') {
        (tok.split('-').collect(), true)
    } else if tok.contains('/') {
        (tok.split('/').collect(), false)
    } else if tok.len() == 8 && tok.bytes().all(|b| b.is_ascii_digit()) {
        (vec![&tok[..4], &tok[4..6], &tok[6..]], true)
    } else {
        return Ok(None);
    };
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 10)
    {
        return Err(false);
    }
    let n = |s: &str| s.parse::<i64>().map_err(|_| false);
    let (y, m, d) = if ymd {
        (n(parts[0])?, n(parts[1])?, n(parts[2])?)
    } else {
        let mut y = n(parts[2])?;
        if parts[2].len() <= 2 {
            // Two-digit years: 70–99 are 19xx, 00–69 are 20xx.
            y += if y >= 70 { 1900 } else { 2000 };
        }
        (y, n(parts[0])?, n(parts[1])?)
    };
    if y == 0 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m as u32) as i64 {
        return Err(true);
    }
    Ok(Some((y, m as u32, d as u32)))
}

fn map_err(e: bool, type_name: &str, text: &str) -> Error {
    if e {
        let err = field_overflow(text);
        if type_name == "date" || type_name.starts_with("timestamp") {
            return err.with_hint("Perhaps you need a different \"datestyle\" setting.");
        }
        err
    } else {
        bad_format(type_name, text)
    }
}

/// `date_in`.
pub(crate) fn parse_date(text: &str) -> Result<Value> {
    match special(text) {
        Some(Special::PosInf) => return Ok(Value::Date(DATE_POS_INF)),
        Some(Special::NegInf) => return Ok(Value::Date(DATE_NEG_INF)),
        None => {}
    }
    let p = parse_datetime(text).map_err(|e| map_err(e, "date", text))?;
    let Some((y, m, d)) = p.date else {
        return Err(bad_format("date", text));
    };
    let days = days_from_civil(y, m, d);
    if !(MIN_DAY..=MAX_DATE_DAY).contains(&days) {
        return Err(Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("date out of range: \"{text}\""),
        ));
    }
    Ok(Value::Date(days as i32))
}

/// `time_in`: a time of day; a date part is allowed and ignored.
pub(crate) fn parse_time(text: &str) -> Result<Value> {
    let p = parse_datetime(text).map_err(|e| map_err(e, "time without time zone", text))?;
    let Some(t) = p.time else {
        return Err(bad_format("time without time zone", text));
    };
    Ok(Value::Time(t))
}

/// `timestamp_in` / `timestamptz_in`. A timestamp without time zone ignores a given zone.
pub(crate) fn parse_timestamp(text: &str, with_tz: bool) -> Result<Value> {
    let name = if with_tz {
        "timestamp with time zone"
    } else {
        "timestamp without time zone"
    };
    let wrap = |v: i64| {
        if with_tz {
            Value::TimestampTz(v)
        } else {
            Value::Timestamp(v)
        }
    };
    match special(text) {
        Some(Special::PosInf) => return Ok(wrap(TS_POS_INF)),
        Some(Special::NegInf) => return Ok(wrap(TS_NEG_INF)),
        None => {}
    }
    let p = parse_datetime(text).map_err(|e| map_err(e, name, text))?;
    let Some((y, m, d)) = p.date else {
        return Err(bad_format(name, text));
    };
    let local = make_ts(days_from_civil(y, m, d), p.time.unwrap_or(0)).map_err(|_| {
        Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("timestamp out of range: \"{text}\""),
        )
    })?;
    if !with_tz {
        return Ok(Value::Timestamp(local));
    }
    Ok(Value::TimestampTz(match &p.zone {
        Some(zone) => zone.to_utc(local),
        None => tz::session_utc(local),
    }))
}

/// `interval_in` for the postgres/verbose syntax and plain `HH:MM:SS`.
pub(crate) fn parse_interval(text: &str) -> Result<Value> {
    let bad = || bad_format("interval", text);
    let t = text.trim().to_ascii_lowercase();
    let mut tokens: Vec<&str> = t.split_ascii_whitespace().collect();
    if tokens.first() == Some(&"@") {
        tokens.remove(0);
    }
    let ago = tokens.last() == Some(&"ago");
    if ago {
        tokens.pop();
    }
    if tokens.is_empty() {
        return Err(bad());
    }
    // Accumulate as months, days and microseconds with fractions spilled PostgreSQL's way.
    let (mut months, mut days, mut micros): (f64, f64, f64) = (0.0, 0.0, 0.0);
    let mut months_i: i64 = 0;
    let mut days_i: i64 = 0;
    let mut micros_i: i128 = 0;
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        i += 1;
        if tok.contains(':') {
            let (neg, body) = match tok.as_bytes()[0] {
                b'-' => (true, &tok[1..]),
                b'+' => (false, &tok[1..]),
                _ => (false, tok),
            };
            let parts: Vec<&str> = body.split(':').collect();
            if parts.len() > 3 {
                return Err(bad());
            }
            let h: i64 = parts[0].parse().map_err(|_| bad())?;
            let m: i64 = parts[1].parse().map_err(|_| bad())?;
            let (s, f) = match parts.get(2) {
                None => (0, 0),
                Some(p) => {
                    let (ip, fp) = p.split_once('.').unwrap_or((p, ""));
                    if !fp.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad());
                    }
                    (ip.parse::<i64>().map_err(|_| bad())?, frac_micros(fp))
                }
            };
            if m > 59 || s > 59 {
                return Err(field_overflow(text));
            }
            let v = h as i128 * USECS_PER_HOUR as i128
                + (m * USECS_PER_MIN + s * USECS_PER_SEC + f) as i128;
            micros_i += if neg { -v } else { v };
            continue;
        }
        // A number, then a unit (possibly glued on: "1day", "2h").
        let split = tok
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
            .unwrap_or(tok.len());
        let (num_s, unit_glued) = tok.split_at(split);
        if num_s.is_empty() {
            return Err(bad());
        }
        let num: f64 = num_s.parse().map_err(|_| bad())?;
        let unit = if !unit_glued.is_empty() {
            unit_glued
        } else if i < tokens.len() {
            i += 1;
            tokens[i - 1]
        } else {
            // A bare number is seconds.
            "second"
        };
        let unit = unit.trim_end_matches(',');
        let whole = num.trunc();
        let frac = num - whole;
        match unit_kind(unit).ok_or_else(bad)? {
            Unit::Micro(per) => micros += num * per as f64,
            Unit::Day(per) => {
                days_i += (whole as i64) * per;
                days += frac * per as f64;
            }
            Unit::Month(per) => {
                months_i += (whole as i64) * per;
                months += frac * per as f64;
            }
        }
    }
    // Fractional months spill into days (30 per month), fractional days into time.
    let m_whole = months.trunc();
    days += (months - m_whole) * 30.0;
    let d_whole = days.trunc();
    micros += (days - d_whole) * USECS_PER_DAY as f64;
    let total_months = months_i + m_whole as i64;
    let total_days = days_i + d_whole as i64;
    let total_micros = micros_i + micros.round() as i128;
    let sign = if ago { -1 } else { 1 };
    let overflow = || {
        Error::new(
            ErrorKind::DatetimeFieldOverflow,
            format!("interval field value out of range: \"{text}\""),
        )
    };
    Ok(Value::Interval(Interval {
        months: i32::try_from(total_months * sign).map_err(|_| overflow())?,
        days: i32::try_from(total_days * sign).map_err(|_| overflow())?,
        micros: i64::try_from(total_micros * sign as i128).map_err(|_| overflow())?,
    }))
}

enum Unit {
    Micro(i64),
    Day(i64),
    Month(i64),
}

fn unit_kind(unit: &str) -> Option<Unit> {
    Some(match unit {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => Unit::Micro(1),
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => Unit::Micro(1000),
        "second" | "seconds" | "s" | "sec" | "secs" => Unit::Micro(USECS_PER_SEC),
        "minute" | "minutes" | "m" | "min" | "mins" => Unit::Micro(USECS_PER_MIN),
        "hour" | "hours" | "h" | "hr" | "hrs" => Unit::Micro(USECS_PER_HOUR),
        "day" | "days" | "d" => Unit::Day(1),
        "week" | "weeks" | "w" => Unit::Day(7),
        "month" | "months" | "mon" | "mons" => Unit::Month(1),
        "year" | "years" | "y" | "yr" | "yrs" => Unit::Month(12),
        "decade" | "decades" | "dec" | "decs" => Unit::Month(120),
        "century" | "centuries" | "c" | "cent" => Unit::Month(1200),
        "millennium" | "millennia" | "mil" | "mils" => Unit::Month(12000),
        _ => return None,
    })
}

// ---- output --------------------------------------------------------------------------------

fn push_year(out: &mut String, y: i64) {
    let y = if y <= 0 { 1 - y } else { y };
    out.push_str(&format!("{y:04}"));
}

/// `.ffffff` without trailing zeros (nothing for whole seconds).
fn push_frac(out: &mut String, usecs: i64) {
    if usecs != 0 {
        let s = format!("{usecs:06}");
        out.push('.');
        out.push_str(s.trim_end_matches('0'));
    }
}

fn push_time(out: &mut String, t: i64) {
    let h = t / USECS_PER_HOUR;
    let m = (t / USECS_PER_MIN) % 60;
    let s = (t / USECS_PER_SEC) % 60;
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    push_frac(out, t % USECS_PER_SEC);
}

fn push_date(out: &mut String, days: i64) -> bool {
    let (y, m, d) = civil_from_days(days);
    push_year(out, y);
    out.push_str(&format!("-{m:02}-{d:02}"));
    y <= 0
}

pub(crate) fn format_date(d: i32) -> String {
    match d {
        DATE_POS_INF => "infinity".into(),
        DATE_NEG_INF => "-infinity".into(),
        _ => {
            let mut out = String::new();
            if push_date(&mut out, d as i64) {
                out.push_str(" BC");
            }
            out
        }
    }
}

pub(crate) fn format_time(t: i64) -> String {
    let mut out = String::new();
    push_time(&mut out, t);
    out
}

/// `timestamp_out` (`offset` = None) and `timestamptz_out` (offset in seconds east of UTC).
pub(crate) fn format_timestamp(ts: i64, offset: Option<i32>) -> String {
    match ts {
        TS_POS_INF => return "infinity".into(),
        TS_NEG_INF => return "-infinity".into(),
        _ => {}
    }
    let local = ts + offset.unwrap_or(0) as i64 * USECS_PER_SEC;
    let (days, t) = split_ts(local);
    let mut out = String::new();
    let bc = push_date(&mut out, days);
    out.push(' ');
    push_time(&mut out, t);
    if let Some(off) = offset {
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.abs();
        out.push_str(&format!("{sign}{:02}", a / 3600));
        if a % 3600 != 0 {
            out.push_str(&format!(":{:02}", (a / 60) % 60));
            if a % 60 != 0 {
                out.push_str(&format!(":{:02}", a % 60));
            }
        }
    }
    if bc {
        out.push_str(" BC");
    }
    out
}

/// `interval_out` with IntervalStyle `postgres`.
pub(crate) fn format_interval(iv: &Interval) -> String {
    let mut out = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    let mut part = |value: i64, unit: &str, out: &mut String| {
        if value == 0 {
            return;
        }
        if !is_zero {
            out.push(' ');
        }
        if is_before && value > 0 {
            out.push('+');
        }
        out.push_str(&format!(
            "{value} {unit}{}",
            if value != 1 { "s" } else { "" }
        ));
        is_before = value < 0;
        is_zero = false;
    };
    let years = iv.months / 12;
    let mons = iv.months % 12;
    part(years as i64, "year", &mut out);
    part(mons as i64, "mon", &mut out);
    part(iv.days as i64, "day", &mut out);
    if is_zero || iv.micros != 0 {
        let neg = iv.micros < 0;
        let a = iv.micros.unsigned_abs();
        if !is_zero {
            out.push(' ');
        }
        if neg {
            out.push('-');
        } else if is_before {
            out.push('+');
        }
        let h = a / USECS_PER_HOUR as u64;
        let m = (a / USECS_PER_MIN as u64) % 60;
        let s = (a / USECS_PER_SEC as u64) % 60;
        out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
        push_frac(&mut out, (a % USECS_PER_SEC as u64) as i64);
    }
    out
}

// ---- arithmetic ----------------------------------------------------------------------------

/// `timestamp + interval` on a local (wall-clock) timestamp: months first (clamping the day
/// to the month's end), then days, then time, as PostgreSQL's `timestamp_pl_interval`.
pub(crate) fn ts_add_interval(ts: i64, iv: &Interval) -> Result<i64> {
    if ts == TS_POS_INF || ts == TS_NEG_INF {
        return Ok(ts);
    }
    let (mut days, t) = split_ts(ts);
    if iv.months != 0 {
        let (y, m, d) = civil_from_days(days);
        let total = y * 12 + (m as i64 - 1) + iv.months as i64;
        let (ny, nm) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
        let nd = d.min(days_in_month(ny, nm));
        days = days_from_civil(ny, nm, nd);
    }
    days += iv.days as i64;
    check_ts(days as i128 * USECS_PER_DAY as i128 + t as i128 + iv.micros as i128)
}

pub(crate) fn neg_interval(iv: &Interval) -> Result<Interval> {
    let overflow = || Error::new(ErrorKind::DatetimeFieldOverflow, "interval out of range");
    Ok(Interval {
        months: iv.months.checked_neg().ok_or_else(overflow)?,
        days: iv.days.checked_neg().ok_or_else(overflow)?,
        micros: iv.micros.checked_neg().ok_or_else(overflow)?,
    })
}

pub(crate) fn interval_overflow() -> Error {
    Error::new(ErrorKind::DatetimeFieldOverflow, "interval out of range")
}

/// `age(a, b)`: a symbolic difference in years, months, days and time, each field
/// non-negative relative to the sign of the whole (PostgreSQL's `timestamp_age`).
pub(crate) fn age(a: i64, b: i64) -> Result<Interval> {
    if a < b {
        return neg_interval(&age(b, a)?);
    }
    let (da, ta) = split_ts(a);
    let (db, tb) = split_ts(b);
    let (ya, ma, dda) = civil_from_days(da);
    let (yb, mb, ddb) = civil_from_days(db);
    let mut micros = ta - tb;
    let mut day = dda as i64 - ddb as i64;
    let mut mon = ma as i64 - mb as i64;
    let mut year = ya - yb;
    if micros < 0 {
        micros += USECS_PER_DAY;
        day -= 1;
    }
    if day < 0 {
        // Borrow the length of the month before `a`'s month (PostgreSQL uses b's month).
        day += days_in_month(yb, mb) as i64;
        mon -= 1;
    }
    if mon < 0 {
        mon += 12;
        year -= 1;
    }
    let months = year * 12 + mon;
    Ok(Interval {
        months: i32::try_from(months).map_err(|_| interval_overflow())?,
        days: day as i32,
        micros,
    })
}
