//! Scalar functions: a table of overloads per name, resolved like operators.
//!
//! Each entry is one pg_proc row for our types: argument types, result type, implementation.
//! Resolution runs the same candidate selection as operators ([`super::resolve::select`]), so
//! `round(1)` finds `round(numeric)` through the implicit int → numeric cast exactly as
//! PostgreSQL does. Variadic `concat`/`concat_ws` take any arguments and are special-cased.

use super::numeric::{self, div_by_zero};
use super::ops;
use super::resolve::{arg_name, select, NoMatch, Ty};
use super::{Resolved, ScalarFn};
use crate::error::{Error, ErrorKind, Result};
use bigdecimal::{BigDecimal, One, Signed, ToPrimitive, Zero};
use sledgres_storage::{DataType, Numeric, Value};

struct Overload {
    args: &'static [Ty],
    result: Ty,
    func: ScalarFn,
}

fn bad_args() -> Error {
    Error::internal("function called with unexpected argument values")
}

fn f8(v: &Value) -> Result<f64> {
    match v {
        Value::Float8(f) => Ok(*f),
        _ => Err(bad_args()),
    }
}

fn num(v: &Value) -> Result<&Numeric> {
    match v {
        Value::Numeric(n) => Ok(n),
        _ => Err(bad_args()),
    }
}

fn int4(v: &Value) -> Result<i32> {
    match v {
        Value::Int4(i) => Ok(*i),
        _ => Err(bad_args()),
    }
}

fn text(v: &Value) -> Result<&str> {
    match v {
        Value::Text(s) => Ok(s),
        _ => Err(bad_args()),
    }
}

// ---- numeric functions --------------------------------------------------------------------

fn abs_f4(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Float4(f)] => Ok(Value::Float4(f.abs())),
        _ => Err(bad_args()),
    }
}
fn abs_f8(a: &[Value]) -> Result<Value> {
    Ok(Value::Float8(f8(&a[0])?.abs()))
}
fn abs_n(a: &[Value]) -> Result<Value> {
    Ok(Value::Numeric(match num(&a[0])? {
        Numeric::Finite(d) => Numeric::Finite(d.abs()),
        Numeric::NegInfinity => Numeric::PosInfinity,
        other => other.clone(),
    }))
}

fn f8_fn(a: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    Ok(Value::Float8(f(f8(&a[0])?)))
}

fn round_f8(a: &[Value]) -> Result<Value> {
    f8_fn(a, f64::round_ties_even)
}
fn trunc_f8(a: &[Value]) -> Result<Value> {
    f8_fn(a, f64::trunc)
}
fn ceil_f8(a: &[Value]) -> Result<Value> {
    f8_fn(a, f64::ceil)
}
fn floor_f8(a: &[Value]) -> Result<Value> {
    f8_fn(a, f64::floor)
}
fn sign_f8(a: &[Value]) -> Result<Value> {
    let x = f8(&a[0])?;
    Ok(Value::Float8(if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0 * x.signum().abs()
    }))
}

fn numeric_map(a: &[Value], f: impl Fn(&BigDecimal) -> BigDecimal) -> Result<Value> {
    Ok(Value::Numeric(match num(&a[0])? {
        Numeric::Finite(d) => Numeric::Finite(numeric::fix_scale(f(d))),
        other => other.clone(),
    }))
}

fn round_n(a: &[Value]) -> Result<Value> {
    numeric_map(a, |d| numeric::round_to(d, 0))
}
fn trunc_n(a: &[Value]) -> Result<Value> {
    numeric_map(a, |d| numeric::trunc_to(d, 0))
}
fn ceil_n(a: &[Value]) -> Result<Value> {
    numeric_map(a, |d| {
        d.with_scale_round(0, bigdecimal::RoundingMode::Ceiling)
    })
}
fn floor_n(a: &[Value]) -> Result<Value> {
    numeric_map(a, |d| {
        d.with_scale_round(0, bigdecimal::RoundingMode::Floor)
    })
}
fn sign_n(a: &[Value]) -> Result<Value> {
    let n = num(&a[0])?;
    if matches!(n, Numeric::NaN) {
        return Ok(Value::Numeric(Numeric::NaN));
    }
    Ok(Value::Numeric(Numeric::Finite(numeric::sign_of(n).into())))
}

/// `round(numeric, int)` / `trunc(numeric, int)`: a negative scale rounds left of the
/// point; the result's display scale is max(s, 0).
fn scale_arg(s: i32) -> i64 {
    (s as i64).clamp(-numeric::MAX_DISPLAY_SCALE, numeric::MAX_DISPLAY_SCALE)
}
fn round_n2(a: &[Value]) -> Result<Value> {
    let s = scale_arg(int4(&a[1])?);
    numeric_map(&a[..1], |d| numeric::round_to(d, s).with_scale(s.max(0)))
}
fn trunc_n2(a: &[Value]) -> Result<Value> {
    let s = scale_arg(int4(&a[1])?);
    numeric_map(&a[..1], |d| numeric::trunc_to(d, s).with_scale(s.max(0)))
}

fn int_mod(a: &[Value]) -> Result<Value> {
    match (&a[0], &a[1]) {
        (Value::Int2(_), _) => ops::i2_mod(a),
        (Value::Int4(_), _) => ops::i4_mod(a),
        (Value::Int8(_), _) => ops::i8_mod(a),
        _ => ops::n_mod(a),
    }
}

fn div_n(a: &[Value]) -> Result<Value> {
    Ok(Value::Numeric(numeric::div_trunc(
        num(&a[0])?,
        num(&a[1])?,
    )?))
}

fn pi(_: &[Value]) -> Result<Value> {
    Ok(Value::Float8(std::f64::consts::PI))
}

fn sqrt_f8(a: &[Value]) -> Result<Value> {
    let x = f8(&a[0])?;
    if x < 0.0 {
        return Err(Error::new(
            ErrorKind::InvalidArgumentForPowerFunction,
            "cannot take square root of a negative number",
        ));
    }
    Ok(Value::Float8(x.sqrt()))
}
fn cbrt_f8(a: &[Value]) -> Result<Value> {
    f8_fn(a, f64::cbrt)
}
fn exp_f8(a: &[Value]) -> Result<Value> {
    let x = f8(&a[0])?;
    let r = x.exp();
    if r.is_infinite() && x.is_finite() {
        return Err(ops::float_overflow());
    }
    if r == 0.0 && x.is_finite() {
        return Err(ops::float_underflow());
    }
    Ok(Value::Float8(r))
}
fn log_arg_check(x: f64) -> Result<()> {
    if x == 0.0 {
        return Err(Error::new(
            ErrorKind::InvalidArgumentForLogarithm,
            "cannot take logarithm of zero",
        ));
    }
    if x < 0.0 {
        return Err(Error::new(
            ErrorKind::InvalidArgumentForLogarithm,
            "cannot take logarithm of a negative number",
        ));
    }
    Ok(())
}
fn ln_f8(a: &[Value]) -> Result<Value> {
    let x = f8(&a[0])?;
    log_arg_check(x)?;
    Ok(Value::Float8(x.ln()))
}
fn log10_f8(a: &[Value]) -> Result<Value> {
    let x = f8(&a[0])?;
    log_arg_check(x)?;
    Ok(Value::Float8(x.log10()))
}

fn numeric_log_check(n: &Numeric) -> Result<()> {
    match n {
        Numeric::Finite(d) if d.is_zero() => Err(Error::new(
            ErrorKind::InvalidArgumentForLogarithm,
            "cannot take logarithm of zero",
        )),
        Numeric::Finite(d) if d.is_negative() => Err(Error::new(
            ErrorKind::InvalidArgumentForLogarithm,
            "cannot take logarithm of a negative number",
        )),
        Numeric::NegInfinity => Err(Error::new(
            ErrorKind::InvalidArgumentForLogarithm,
            "cannot take logarithm of a negative number",
        )),
        _ => Ok(()),
    }
}

/// `sqrt(numeric)`: the result scale gives about 16 significant digits and at least the
/// input's scale (PostgreSQL's `numeric_sqrt`).
fn sqrt_n(a: &[Value]) -> Result<Value> {
    let n = num(&a[0])?;
    match n {
        Numeric::NaN | Numeric::PosInfinity => Ok(Value::Numeric(n.clone())),
        Numeric::Finite(d) if !d.is_negative() => {
            let (w, _) = numeric::nbase_weight_first(d);
            let sweight = (w + 1) * 4 / 2 - 1;
            let rscale = (numeric::MIN_SIG_DIGITS - sweight)
                .max(numeric::dscale(d))
                .clamp(0, numeric::MAX_DISPLAY_SCALE);
            let ctx = bigdecimal::Context::default()
                .with_prec((rscale + sweight.max(0) + 40) as u64)
                .unwrap_or_default();
            let r = d.sqrt_with_context(&ctx).unwrap_or_else(BigDecimal::zero);
            Ok(Value::Numeric(Numeric::Finite(numeric::round_to(
                &r, rscale,
            ))))
        }
        _ => Err(Error::new(
            ErrorKind::InvalidArgumentForPowerFunction,
            "cannot take square root of a negative number",
        )),
    }
}

fn ln_n(a: &[Value]) -> Result<Value> {
    let n = num(&a[0])?;
    numeric_log_check(n)?;
    Ok(Value::Numeric(match n {
        Numeric::Finite(d) => Numeric::Finite(numeric::ln_scaled(d)),
        other => other.clone(),
    }))
}
fn log10_n(a: &[Value]) -> Result<Value> {
    let n = num(&a[0])?;
    numeric_log_check(n)?;
    Ok(Value::Numeric(match n {
        Numeric::Finite(d) => Numeric::Finite(numeric::log_scaled(&BigDecimal::from(10), d)),
        other => other.clone(),
    }))
}
fn exp_n(a: &[Value]) -> Result<Value> {
    let n = num(&a[0])?;
    Ok(Value::Numeric(match n {
        Numeric::Finite(d) => Numeric::Finite(numeric::exp_scaled(d)?),
        Numeric::NegInfinity => Numeric::Finite(BigDecimal::zero()),
        other => other.clone(),
    }))
}
fn log_n2(a: &[Value]) -> Result<Value> {
    let (b, x) = (num(&a[0])?, num(&a[1])?);
    numeric_log_check(b)?;
    numeric_log_check(x)?;
    match (b, x) {
        (Numeric::Finite(bd), Numeric::Finite(xd)) => {
            if bd.is_one() {
                return Err(div_by_zero());
            }
            Ok(Value::Numeric(Numeric::Finite(numeric::log_scaled(bd, xd))))
        }
        (Numeric::NaN, _) | (_, Numeric::NaN) => Ok(Value::Numeric(Numeric::NaN)),
        _ => Ok(Value::Numeric(Numeric::NaN)),
    }
}

fn power_overflow() -> Error {
    Error::new(
        ErrorKind::NumericValueOutOfRange,
        "value overflows numeric format",
    )
}

/// `numeric ^ numeric` / `power(numeric, numeric)` with PostgreSQL's result scales: an
/// integer exponent gives at least 16 fractional digits (and the inputs' scales), computed
/// exactly; any other exponent gives 16 significant digits via exp(y·ln x).
pub(crate) fn numeric_power(x: &Numeric, y: &Numeric) -> Result<Numeric> {
    let (Numeric::Finite(b), Numeric::Finite(e)) = (x, y) else {
        if matches!(y, Numeric::Finite(d) if d.is_zero())
            || x == &Numeric::Finite(BigDecimal::one())
        {
            return Ok(Numeric::Finite(BigDecimal::one()));
        }
        if x == &Numeric::NaN || y == &Numeric::NaN {
            return Ok(Numeric::NaN);
        }
        let r = numeric::to_f64(x).powf(numeric::to_f64(y));
        return Ok(numeric::from_float(r, 17));
    };
    if b.is_zero() && e.is_negative() {
        return Err(Error::new(
            ErrorKind::InvalidArgumentForPowerFunction,
            "zero raised to a negative power is undefined",
        ));
    }
    if b.is_negative() && !e.is_integer() {
        return Err(Error::new(
            ErrorKind::InvalidArgumentForPowerFunction,
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let base_scale = numeric::dscale(b).max(numeric::dscale(e));
    if b.is_zero() {
        let r = if e.is_zero() {
            BigDecimal::one()
        } else {
            BigDecimal::zero()
        };
        return Ok(Numeric::Finite(
            r.with_scale(base_scale.max(numeric::MIN_SIG_DIGITS)),
        ));
    }
    // Decimal weight of the result, to refuse absurd sizes before computing them.
    let bf = b.abs();
    let approx = e.to_f64().unwrap_or(0.0) * numeric::estimate_log10(&bf);
    if approx > 131072.0 {
        return Err(power_overflow());
    }
    // Exact integer powers only while the exact result stays small; past that, the
    // logarithmic path gives the same rounded digits without materialising them all.
    let exact_digits = (b.digits() as f64) * e.abs().to_f64().unwrap_or(f64::MAX);
    if e.is_integer() && exact_digits < 20_000.0 {
        if let Some(ei) = e.to_i64() {
            let rscale = base_scale.clamp(numeric::MIN_SIG_DIGITS, numeric::MAX_DISPLAY_SCALE);
            if approx < -(rscale as f64) - 2.0 {
                return Ok(Numeric::Finite(BigDecimal::zero().with_scale(rscale)));
            }
            let p = numeric::exact_powi(b, ei.unsigned_abs());
            let r = if ei >= 0 {
                p
            } else {
                numeric::div_exact(&BigDecimal::one(), &p, rscale + 1, true)
            };
            return Ok(Numeric::Finite(numeric::round_to(&r, rscale)));
        }
    }
    // PostgreSQL truncates the estimated decimal weight toward zero (`(int) val`).
    let weight = approx as i64;
    let rscale = (numeric::MIN_SIG_DIGITS - weight)
        .max(base_scale)
        .clamp(0, numeric::MAX_DISPLAY_SCALE);
    if approx < -(rscale as f64) - 2.0 {
        return Ok(Numeric::Finite(BigDecimal::zero().with_scale(rscale)));
    }
    let digits = rscale + weight.max(0) + 20;
    let l = numeric::ln(&bf, digits + weight.abs().to_string().len() as i64);
    let r = numeric::exp(&(l * e), digits);
    Ok(Numeric::Finite(numeric::round_to(&r, rscale)))
}

fn power_n(a: &[Value]) -> Result<Value> {
    numeric_power(num(&a[0])?, num(&a[1])?).map(Value::Numeric)
}

fn gcd_i64(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        let t = a % b;
        a = b;
        b = t;
    }
    a.abs()
}

fn gcd_int(a: &[Value]) -> Result<Value> {
    match (&a[0], &a[1]) {
        (Value::Int4(x), Value::Int4(y)) => {
            let g = gcd_i64(*x as i128, *y as i128);
            i32::try_from(g)
                .map(Value::Int4)
                .map_err(|_| numeric::out_of_range("integer"))
        }
        (Value::Int8(x), Value::Int8(y)) => {
            let g = gcd_i64(*x as i128, *y as i128);
            i64::try_from(g)
                .map(Value::Int8)
                .map_err(|_| numeric::out_of_range("bigint"))
        }
        _ => Err(bad_args()),
    }
}
/// `gcd(numeric, numeric)` by Euclid on exact remainders; the scale is the larger input's.
fn numeric_gcd(x: &BigDecimal, y: &BigDecimal) -> BigDecimal {
    let (mut a, mut b) = (x.abs(), y.abs());
    while !b.is_zero() {
        let r = &a % &b;
        a = b;
        b = r;
    }
    a.with_scale(numeric::dscale(x).max(numeric::dscale(y)))
}
fn gcd_n(a: &[Value]) -> Result<Value> {
    Ok(Value::Numeric(match (num(&a[0])?, num(&a[1])?) {
        (Numeric::Finite(x), Numeric::Finite(y)) => Numeric::Finite(numeric_gcd(x, y)),
        _ => Numeric::NaN,
    }))
}
fn lcm_n(a: &[Value]) -> Result<Value> {
    Ok(Value::Numeric(match (num(&a[0])?, num(&a[1])?) {
        (Numeric::Finite(x), Numeric::Finite(y)) => {
            let scale = numeric::dscale(x).max(numeric::dscale(y));
            if x.is_zero() || y.is_zero() {
                Numeric::Finite(BigDecimal::zero().with_scale(scale))
            } else {
                let g = numeric_gcd(x, y);
                let r = numeric::div_exact(&(x * y).abs(), &g, scale, false);
                Numeric::Finite(r)
            }
        }
        _ => Numeric::NaN,
    }))
}

fn lcm_int(a: &[Value]) -> Result<Value> {
    let lcm = |x: i128, y: i128| {
        if x == 0 || y == 0 {
            0
        } else {
            (x / gcd_i64(x, y) * y).abs()
        }
    };
    match (&a[0], &a[1]) {
        (Value::Int4(x), Value::Int4(y)) => i32::try_from(lcm(*x as i128, *y as i128))
            .map(Value::Int4)
            .map_err(|_| numeric::out_of_range("integer")),
        (Value::Int8(x), Value::Int8(y)) => i64::try_from(lcm(*x as i128, *y as i128))
            .map(Value::Int8)
            .map_err(|_| numeric::out_of_range("bigint")),
        _ => Err(bad_args()),
    }
}

// ---- string functions ---------------------------------------------------------------------

fn length(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(text(&a[0])?.chars().count() as i32))
}
fn bpchar_length(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(
        text(&a[0])?.trim_end_matches(' ').chars().count() as i32,
    ))
}
fn octet_length(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(text(&a[0])?.len() as i32))
}
fn lower(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(text(&a[0])?.to_lowercase()))
}
fn upper(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(text(&a[0])?.to_uppercase()))
}
fn initcap(a: &[Value]) -> Result<Value> {
    let mut out = String::new();
    let mut prev_alnum = false;
    for c in text(&a[0])?.chars() {
        if prev_alnum {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        prev_alnum = c.is_alphanumeric();
    }
    Ok(Value::Text(out))
}

/// `substr(s, start [, count])` with SQL's 1-based, clamp-at-the-ends semantics.
fn substr_impl(s: &str, start: i64, count: Option<i64>) -> Result<String> {
    let chars: Vec<char> = s.chars().collect();
    let end = match count {
        Some(c) if c < 0 => {
            // PostgreSQL's SQLSTATE is 22011 (substring_error), which ErrorKind lacks.
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                "negative substring length not allowed",
            ));
        }
        Some(c) => start.saturating_add(c),
        None => i64::MAX,
    };
    let from = start.max(1) - 1;
    let to = end.saturating_sub(1).min(chars.len() as i64);
    if to <= from {
        return Ok(String::new());
    }
    Ok(chars[from as usize..to as usize].iter().collect())
}
fn substr2(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(substr_impl(
        text(&a[0])?,
        int4(&a[1])? as i64,
        None,
    )?))
}
fn substr3(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(substr_impl(
        text(&a[0])?,
        int4(&a[1])? as i64,
        Some(int4(&a[2])? as i64),
    )?))
}
fn strpos(a: &[Value]) -> Result<Value> {
    let (s, sub) = (text(&a[0])?, text(&a[1])?);
    Ok(Value::Int4(match s.find(sub) {
        Some(i) => s[..i].chars().count() as i32 + 1,
        None => 0,
    }))
}
fn replace(a: &[Value]) -> Result<Value> {
    let (s, from, to) = (text(&a[0])?, text(&a[1])?, text(&a[2])?);
    if from.is_empty() {
        return Ok(Value::Text(s.to_string()));
    }
    Ok(Value::Text(s.replace(from, to)))
}

fn trim_set(a: &[Value]) -> Result<Vec<char>> {
    Ok(match a.get(1) {
        Some(v) => text(v)?.chars().collect(),
        None => vec![' '],
    })
}
fn btrim(a: &[Value]) -> Result<Value> {
    let set = trim_set(a)?;
    Ok(Value::Text(
        text(&a[0])?.trim_matches(|c| set.contains(&c)).to_string(),
    ))
}
fn ltrim(a: &[Value]) -> Result<Value> {
    let set = trim_set(a)?;
    Ok(Value::Text(
        text(&a[0])?
            .trim_start_matches(|c| set.contains(&c))
            .to_string(),
    ))
}
fn rtrim(a: &[Value]) -> Result<Value> {
    let set = trim_set(a)?;
    Ok(Value::Text(
        text(&a[0])?
            .trim_end_matches(|c| set.contains(&c))
            .to_string(),
    ))
}

fn pad(a: &[Value], left: bool) -> Result<Value> {
    let s = text(&a[0])?;
    let len = int4(&a[1])?.max(0) as usize;
    let fill: Vec<char> = match a.get(2) {
        Some(v) => text(v)?.chars().collect(),
        None => vec![' '],
    };
    if len > MAX_STRING_BYTES / 4 {
        return Err(too_large());
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= len {
        return Ok(Value::Text(chars[..len].iter().collect()));
    }
    if fill.is_empty() {
        return Ok(Value::Text(s.to_string()));
    }
    let padding: String = fill.iter().cycle().take(len - chars.len()).collect();
    Ok(Value::Text(if left {
        format!("{padding}{s}")
    } else {
        format!("{s}{padding}")
    }))
}
fn lpad(a: &[Value]) -> Result<Value> {
    pad(a, true)
}
fn rpad(a: &[Value]) -> Result<Value> {
    pad(a, false)
}
fn left(a: &[Value]) -> Result<Value> {
    let chars: Vec<char> = text(&a[0])?.chars().collect();
    let n = int4(&a[1])? as i64;
    let take = if n >= 0 {
        (n as usize).min(chars.len())
    } else {
        chars.len().saturating_sub(n.unsigned_abs() as usize)
    };
    Ok(Value::Text(chars[..take].iter().collect()))
}
fn right(a: &[Value]) -> Result<Value> {
    let chars: Vec<char> = text(&a[0])?.chars().collect();
    let n = int4(&a[1])? as i64;
    let take = if n >= 0 {
        (n as usize).min(chars.len())
    } else {
        chars.len().saturating_sub(n.unsigned_abs() as usize)
    };
    Ok(Value::Text(chars[chars.len() - take..].iter().collect()))
}
fn repeat(a: &[Value]) -> Result<Value> {
    let s = text(&a[0])?;
    let n = int4(&a[1])?.max(0) as usize;
    if s.len().saturating_mul(n) > MAX_STRING_BYTES {
        return Err(too_large());
    }
    Ok(Value::Text(s.repeat(n)))
}
fn out_of_range_input() -> Error {
    Error::new(ErrorKind::NumericValueOutOfRange, "input is out of range")
}

/// Trigonometry on float8: NaN in, NaN out; an infinite result from a finite input is an
/// overflow, and inputs outside the function's domain are refused as PostgreSQL does.
fn trig(a: &[Value], f: fn(f64) -> f64, domain: fn(f64) -> bool) -> Result<Value> {
    let x = f8(&a[0])?;
    if x.is_nan() {
        return Ok(Value::Float8(f64::NAN));
    }
    if !domain(x) {
        return Err(out_of_range_input());
    }
    let r = f(x);
    if r.is_infinite() && x.is_finite() {
        return Err(ops::float_overflow());
    }
    Ok(Value::Float8(r))
}
fn finite(x: f64) -> bool {
    x.is_finite()
}
fn unit(x: f64) -> bool {
    (-1.0..=1.0).contains(&x)
}
fn any_f(_: f64) -> bool {
    true
}
fn sin(a: &[Value]) -> Result<Value> {
    trig(a, f64::sin, finite)
}
fn cos(a: &[Value]) -> Result<Value> {
    trig(a, f64::cos, finite)
}
fn tan(a: &[Value]) -> Result<Value> {
    trig(a, f64::tan, finite)
}
fn asin(a: &[Value]) -> Result<Value> {
    trig(a, f64::asin, unit)
}
fn acos(a: &[Value]) -> Result<Value> {
    trig(a, f64::acos, unit)
}
fn atan(a: &[Value]) -> Result<Value> {
    trig(a, f64::atan, any_f)
}
fn atan2(a: &[Value]) -> Result<Value> {
    Ok(Value::Float8(f8(&a[0])?.atan2(f8(&a[1])?)))
}
fn degrees(a: &[Value]) -> Result<Value> {
    trig(a, f64::to_degrees, any_f)
}
fn radians(a: &[Value]) -> Result<Value> {
    trig(a, f64::to_radians, any_f)
}

/// `translate(s, from, to)`: each char of `from` becomes the char at the same position of
/// `to`, or is deleted when `to` is shorter.
fn translate(a: &[Value]) -> Result<Value> {
    let (s, from, to) = (text(&a[0])?, text(&a[1])?, text(&a[2])?);
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match from.iter().position(|f| *f == c) {
            Some(i) => {
                if let Some(t) = to.get(i) {
                    out.push(*t);
                }
            }
            None => out.push(c),
        }
    }
    Ok(Value::Text(out))
}
fn bit_length(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4((text(&a[0])?.len() * 8) as i32))
}

/// PostgreSQL's largest allocation (1 GB); longer results are refused, not attempted.
const MAX_STRING_BYTES: usize = (1 << 30) - 1;

/// PostgreSQL's SQLSTATE is 54000 (program_limit_exceeded), which ErrorKind lacks.
fn too_large() -> Error {
    Error::new(
        ErrorKind::InvalidParameterValue,
        "requested length too large",
    )
}

/// `like_escape(pattern, escape)`: rewrites a pattern written with a custom ESCAPE character
/// into the backslash form LIKE evaluates. An empty escape disables escaping.
fn like_escape(a: &[Value]) -> Result<Value> {
    let (pattern, escape) = (text(&a[0])?, text(&a[1])?);
    let mut esc = escape.chars();
    let e = match (esc.next(), esc.next()) {
        (None, _) => None,
        (Some(c), None) => Some(c),
        _ => {
            // PostgreSQL's SQLSTATE is 22025 (invalid_escape_sequence), which ErrorKind lacks.
            return Err(
                Error::new(ErrorKind::InvalidParameterValue, "invalid escape string")
                    .with_hint("Escape string must be empty or one character."),
            );
        }
    };
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match e {
            Some(e) if c == e => {
                if let Some(next) = chars.next() {
                    out.push('\\');
                    out.push(next);
                }
            }
            _ if c == '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    Ok(Value::Text(out))
}

/// `random()`: a xorshift generator per thread, seeded from the OS-randomised hasher keys.
fn random(_: &[Value]) -> Result<Value> {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x9e37_79b9_7f4a_7c15);
            h.finish() | 1
        });
    }
    let x = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    Ok(Value::Float8((x >> 11) as f64 / (1u64 << 53) as f64))
}

fn reverse(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(text(&a[0])?.chars().rev().collect()))
}
fn split_part(a: &[Value]) -> Result<Value> {
    let (s, delim, n) = (text(&a[0])?, text(&a[1])?, int4(&a[2])?);
    if n == 0 {
        return Err(Error::new(
            ErrorKind::InvalidParameterValue,
            "field position must not be zero",
        ));
    }
    let parts: Vec<&str> = if delim.is_empty() {
        vec![s]
    } else {
        s.split(delim).collect()
    };
    let idx = if n > 0 {
        n as i64 - 1
    } else {
        parts.len() as i64 + n as i64
    };
    Ok(Value::Text(if idx >= 0 {
        parts.get(idx as usize).copied().unwrap_or("").to_string()
    } else {
        String::new()
    }))
}
fn starts_with(a: &[Value]) -> Result<Value> {
    Ok(Value::Bool(text(&a[0])?.starts_with(text(&a[1])?)))
}
fn md5_fn(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(super::md5::hex_digest(text(&a[0])?.as_bytes())))
}
fn to_hex(a: &[Value]) -> Result<Value> {
    Ok(Value::Text(match &a[0] {
        Value::Int4(i) => format!("{:x}", *i as u32),
        Value::Int8(i) => format!("{:x}", *i as u64),
        _ => return Err(bad_args()),
    }))
}
fn chr(a: &[Value]) -> Result<Value> {
    let c = int4(&a[0])?;
    if c == 0 {
        return Err(Error::new(
            ErrorKind::InvalidParameterValue,
            "null character not permitted",
        ));
    }
    match u32::try_from(c).ok().and_then(char::from_u32) {
        Some(ch) => Ok(Value::Text(ch.to_string())),
        None => Err(Error::new(
            ErrorKind::InvalidParameterValue,
            "requested character too large for encoding: ".to_string() + &c.to_string(),
        )),
    }
}
fn ascii(a: &[Value]) -> Result<Value> {
    Ok(Value::Int4(
        text(&a[0])?.chars().next().map(|c| c as i32).unwrap_or(0),
    ))
}

/// `concat(any...)`: NULLs are skipped (not strict); values print through their output
/// functions (`concat(true)` is `t`, unlike `true || ''`).
fn concat(a: &[Value]) -> Result<Value> {
    let mut out = String::new();
    for v in a {
        if !v.is_null() {
            out.push_str(&super::text_io::format_text(v, 1));
        }
    }
    Ok(Value::Text(out))
}
/// `concat_ws(sep, any...)`: NULL separator gives NULL; NULL values are skipped.
fn concat_ws(a: &[Value]) -> Result<Value> {
    let sep = match a.first() {
        Some(Value::Null) | None => return Ok(Value::Null),
        Some(v) => super::text_io::format_text(v, 1),
    };
    let parts: Vec<String> = a[1..]
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| super::text_io::format_text(v, 1))
        .collect();
    Ok(Value::Text(parts.join(&sep)))
}

// ---- the table ----------------------------------------------------------------------------

use super::datetime_fns as dtf;
use Ty::{
    Float4 as F4, Float8 as F8, Int2 as I2, Int4 as I4, Int8 as I8, Interval as IV, Numeric as N,
    Text as T, Timestamp as TS, TimestampTz as TZ,
};

fn overloads(name: &str) -> Option<Vec<Overload>> {
    macro_rules! o {
        ($args:expr, $result:expr, $func:expr) => {
            Overload {
                args: $args,
                result: $result,
                func: $func,
            }
        };
    }
    Some(match name {
        "abs" => vec![
            o!(&[I2], I2, ops::i2_abs),
            o!(&[I4], I4, ops::i4_abs),
            o!(&[I8], I8, ops::i8_abs),
            o!(&[F4], F4, abs_f4),
            o!(&[F8], F8, abs_f8),
            o!(&[N], N, abs_n),
        ],
        "round" => vec![
            o!(&[F8], F8, round_f8),
            o!(&[N], N, round_n),
            o!(&[N, I4], N, round_n2),
        ],
        "trunc" => vec![
            o!(&[F8], F8, trunc_f8),
            o!(&[N], N, trunc_n),
            o!(&[N, I4], N, trunc_n2),
        ],
        "ceil" | "ceiling" => vec![o!(&[F8], F8, ceil_f8), o!(&[N], N, ceil_n)],
        "floor" => vec![o!(&[F8], F8, floor_f8), o!(&[N], N, floor_n)],
        "sign" => vec![o!(&[F8], F8, sign_f8), o!(&[N], N, sign_n)],
        "mod" => vec![
            o!(&[I2, I2], I2, int_mod),
            o!(&[I4, I4], I4, int_mod),
            o!(&[I8, I8], I8, int_mod),
            o!(&[N, N], N, int_mod),
        ],
        "div" => vec![o!(&[N, N], N, div_n)],
        "power" | "pow" => vec![o!(&[F8, F8], F8, ops::f8_pow), o!(&[N, N], N, power_n)],
        "sqrt" => vec![o!(&[F8], F8, sqrt_f8), o!(&[N], N, sqrt_n)],
        "cbrt" => vec![o!(&[F8], F8, cbrt_f8)],
        "exp" => vec![o!(&[F8], F8, exp_f8), o!(&[N], N, exp_n)],
        "ln" => vec![o!(&[F8], F8, ln_f8), o!(&[N], N, ln_n)],
        "log" | "log10" if name == "log10" => {
            vec![o!(&[F8], F8, log10_f8), o!(&[N], N, log10_n)]
        }
        "log" => vec![
            o!(&[F8], F8, log10_f8),
            o!(&[N], N, log10_n),
            o!(&[N, N], N, log_n2),
        ],
        "pi" => vec![o!(&[], F8, pi)],
        "gcd" => vec![
            o!(&[I4, I4], I4, gcd_int),
            o!(&[I8, I8], I8, gcd_int),
            o!(&[N, N], N, gcd_n),
        ],
        "lcm" => vec![
            o!(&[I4, I4], I4, lcm_int),
            o!(&[I8, I8], I8, lcm_int),
            o!(&[N, N], N, lcm_n),
        ],
        "length" | "char_length" | "character_length" => {
            vec![
                o!(&[T], I4, length),
                o!(&[Ty::Bpchar], I4, bpchar_length),
                o!(&[Ty::Bytea], I4, dtf::bytea_length),
            ]
        }
        "octet_length" => vec![
            o!(&[T], I4, octet_length),
            o!(&[Ty::Bpchar], I4, octet_length),
            o!(&[Ty::Bytea], I4, dtf::bytea_length),
        ],
        "lower" => vec![o!(&[T], T, lower)],
        "upper" => vec![o!(&[T], T, upper)],
        "initcap" => vec![o!(&[T], T, initcap)],
        "substr" | "substring" => vec![o!(&[T, I4], T, substr2), o!(&[T, I4, I4], T, substr3)],
        "strpos" => vec![o!(&[T, T], I4, strpos)],
        "replace" => vec![o!(&[T, T, T], T, replace)],
        "btrim" => vec![o!(&[T], T, btrim), o!(&[T, T], T, btrim)],
        "ltrim" => vec![o!(&[T], T, ltrim), o!(&[T, T], T, ltrim)],
        "rtrim" => vec![o!(&[T], T, rtrim), o!(&[T, T], T, rtrim)],
        "lpad" => vec![o!(&[T, I4], T, lpad), o!(&[T, I4, T], T, lpad)],
        "rpad" => vec![o!(&[T, I4], T, rpad), o!(&[T, I4, T], T, rpad)],
        "left" => vec![o!(&[T, I4], T, left)],
        "right" => vec![o!(&[T, I4], T, right)],
        "repeat" => vec![o!(&[T, I4], T, repeat)],
        "reverse" => vec![o!(&[T], T, reverse)],
        "split_part" => vec![o!(&[T, T, I4], T, split_part)],
        "md5" => vec![o!(&[T], T, md5_fn)],
        "starts_with" => vec![o!(&[T, T], Ty::Bool, starts_with)],
        "to_hex" => vec![o!(&[I4], T, to_hex), o!(&[I8], T, to_hex)],
        "chr" => vec![o!(&[I4], T, chr)],
        "ascii" => vec![o!(&[T], I4, ascii)],
        "like_escape" => vec![o!(&[T, T], T, like_escape)],
        "sin" => vec![o!(&[F8], F8, sin)],
        "cos" => vec![o!(&[F8], F8, cos)],
        "tan" => vec![o!(&[F8], F8, tan)],
        "asin" => vec![o!(&[F8], F8, asin)],
        "acos" => vec![o!(&[F8], F8, acos)],
        "atan" => vec![o!(&[F8], F8, atan)],
        "atan2" => vec![o!(&[F8, F8], F8, atan2)],
        "degrees" => vec![o!(&[F8], F8, degrees)],
        "radians" => vec![o!(&[F8], F8, radians)],
        "translate" => vec![o!(&[T, T, T], T, translate)],
        "bit_length" => vec![o!(&[T], I4, bit_length)],
        "random" => vec![o!(&[], F8, random)],
        // date/time
        "now"
        | "transaction_timestamp"
        | "statement_timestamp"
        | "clock_timestamp"
        | "current_timestamp" => vec![o!(&[], TZ, dtf::now)],
        "localtimestamp" => vec![o!(&[], TS, dtf::localtimestamp)],
        "localtime" => vec![o!(&[], Ty::Time, dtf::localtime)],
        "current_date" => vec![o!(&[], Ty::Date, dtf::current_date)],
        "date_part" => vec![
            o!(&[T, TZ], F8, dtf::date_part),
            o!(&[T, IV], F8, dtf::date_part),
            o!(&[T, Ty::Time], F8, dtf::date_part),
            o!(&[T, TS], F8, dtf::date_part),
            o!(&[T, Ty::Date], F8, dtf::date_part),
        ],
        "extract" => vec![
            o!(&[T, TZ], N, dtf::extract),
            o!(&[T, IV], N, dtf::extract),
            o!(&[T, Ty::Time], N, dtf::extract),
            o!(&[T, TS], N, dtf::extract),
            o!(&[T, Ty::Date], N, dtf::extract),
        ],
        "date_trunc" => vec![
            o!(&[T, TS], TS, dtf::date_trunc),
            o!(&[T, TZ], TZ, dtf::date_trunc),
            o!(&[T, IV], IV, dtf::date_trunc),
        ],
        "age" => vec![
            o!(&[TS, TS], IV, dtf::age2),
            o!(&[TZ, TZ], IV, dtf::age2),
            o!(&[TS], IV, dtf::age1),
            o!(&[TZ], IV, dtf::age1),
        ],
        "make_date" => vec![o!(&[I4, I4, I4], Ty::Date, dtf::make_date)],
        "make_time" => vec![o!(&[I4, I4, F8], Ty::Time, dtf::make_time)],
        "make_timestamp" => vec![o!(&[I4, I4, I4, I4, I4, F8], TS, dtf::make_timestamp)],
        "make_timestamptz" => vec![o!(&[I4, I4, I4, I4, I4, F8], TZ, dtf::make_timestamptz)],
        "to_timestamp" => vec![o!(&[F8], TZ, dtf::to_timestamp)],
        "justify_days" => vec![o!(&[IV], IV, dtf::justify_days)],
        "justify_hours" => vec![o!(&[IV], IV, dtf::justify_hours)],
        "justify_interval" => vec![o!(&[IV], IV, dtf::justify_interval)],
        "isfinite" => vec![
            o!(&[Ty::Date], Ty::Bool, dtf::isfinite),
            o!(&[TS], Ty::Bool, dtf::isfinite),
            o!(&[TZ], Ty::Bool, dtf::isfinite),
            o!(&[IV], Ty::Bool, dtf::isfinite),
        ],
        "timezone" => vec![
            o!(&[T, TS], TZ, dtf::at_time_zone),
            o!(&[T, TZ], TS, dtf::at_time_zone),
        ],
        "gen_random_uuid" => vec![o!(&[], Ty::Uuid, super::bytes::gen_random_uuid)],
        _ => return None,
    })
}

/// See [`super::is_volatile_function`].
pub fn is_volatile(name: &str) -> bool {
    // now() and friends are only stable in PostgreSQL, but are not fixed per transaction
    // here yet (see datetime_fns.rs), so they must not be folded either.
    matches!(
        name,
        "random"
            | "gen_random_uuid"
            | "now"
            | "transaction_timestamp"
            | "statement_timestamp"
            | "clock_timestamp"
            | "current_timestamp"
            | "localtimestamp"
            | "localtime"
            | "current_date"
            | "age"
            | "timeofday"
    )
}

fn not_found(name: &str, inputs: &[Option<Ty>]) -> Error {
    let args: Vec<&str> = inputs.iter().map(|t| arg_name(*t)).collect();
    Error::new(
        ErrorKind::UndefinedFunction,
        format!("function {name}({}) does not exist", args.join(", ")),
    )
    .with_hint(
        "No function matches the given name and argument types. You might need to add explicit type casts.",
    )
}

/// See [`super::resolve_function`].
pub fn resolve_function(name: &str, args: &[Option<DataType>]) -> Result<Resolved> {
    let inputs: Vec<Option<Ty>> = args.iter().map(|a| a.as_ref().map(Ty::of)).collect();
    // Variadic "any": unknown arguments become text, everything else stays as it is.
    if (name == "concat" || name == "concat_ws") && !args.is_empty() {
        let arg_types = args
            .iter()
            .map(|a| a.clone().unwrap_or(DataType::Text))
            .collect();
        return Ok(Resolved {
            arg_types,
            result_type: DataType::Text,
            strict: false,
            func: if name == "concat" { concat } else { concat_ws },
        });
    }
    let Some(cands) = overloads(name) else {
        return Err(not_found(name, &inputs));
    };
    let sigs: Vec<&[Ty]> = cands.iter().map(|c| c.args).collect();
    // PostgreSQL also has trunc(macaddr), so trunc('…') has candidates in two categories.
    let selected = if name == "trunc" && inputs == [None] {
        Err(NoMatch::Ambiguous)
    } else {
        select(&inputs, &sigs, false)
    };
    match selected {
        Ok(i) => {
            let c = &cands[i];
            Ok(Resolved {
                arg_types: c
                    .args
                    .iter()
                    .zip(args)
                    .map(|(t, a)| ops::concrete(*t, a.as_ref()))
                    .collect(),
                result_type: c.result.data_type(),
                strict: true,
                func: c.func,
            })
        }
        Err(NoMatch::None) => Err(not_found(name, &inputs)),
        Err(NoMatch::Ambiguous) => {
            let names: Vec<&str> = inputs.iter().map(|t| arg_name(*t)).collect();
            Err(Error::new(
                ErrorKind::AmbiguousFunction,
                format!("function {name}({}) is not unique", names.join(", ")),
            )
            .with_hint(
                "Could not choose a best candidate function. You might need to add explicit type casts.",
            ))
        }
    }
}
