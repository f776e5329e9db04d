//! `numeric` arithmetic with PostgreSQL's result scales.
//!
//! Values are [`BigDecimal`]s whose scale is PostgreSQL's *display scale* (`dscale`): `1.50`
//! has scale 2 and prints as `1.50`. A BigDecimal may carry a negative scale (`1e3`), which
//! PostgreSQL never does, so every result passes through [`fix_scale`].
//!
//! Scale rules (PostgreSQL's `numeric.c`): addition and subtraction take the larger scale,
//! multiplication the sum, and division `select_div_scale` — at least 16 significant digits,
//! and never fewer fractional digits than either input. That rule is phrased in PostgreSQL's
//! internal base-10000 digits ("weight" of the first non-zero group), which
//! [`nbase_weight_first`] reproduces.
//!
//! Division is computed exactly on scaled integers (remainder is exact in BigDecimal) and
//! rounded half away from zero, as PostgreSQL's `round_var` does; BigDecimal's own `/` stops
//! at 100 significant digits, so quotients longer than that lose exactness.

use crate::error::{Error, ErrorKind, Result};
use bigdecimal::{BigDecimal, RoundingMode, Signed, ToPrimitive, Zero};
use sledgres_storage::Numeric;

pub(crate) const MIN_SIG_DIGITS: i64 = 16;
pub(crate) const MAX_DISPLAY_SCALE: i64 = 1000;

/// PostgreSQL never stores a negative display scale.
pub(crate) fn fix_scale(d: BigDecimal) -> BigDecimal {
    if d.fractional_digit_count() < 0 {
        d.with_scale(0)
    } else {
        d
    }
}

pub(crate) fn dscale(d: &BigDecimal) -> i64 {
    d.fractional_digit_count().max(0)
}

/// Rounds half away from zero to `scale` fractional digits (PostgreSQL's `round_var`).
pub(crate) fn round_to(d: &BigDecimal, scale: i64) -> BigDecimal {
    d.with_scale_round(scale, RoundingMode::HalfUp)
}

pub(crate) fn trunc_to(d: &BigDecimal, scale: i64) -> BigDecimal {
    d.with_scale_round(scale, RoundingMode::Down)
}

/// Decimal exponent of the leading digit (`123.4` → 2, `0.05` → -2); 0 for zero.
pub(crate) fn exponent10(d: &BigDecimal) -> i64 {
    if d.is_zero() {
        return 0;
    }
    let (int, scale) = d.as_bigint_and_exponent();
    let digits = BigDecimal::new(int, 0).digits() as i64;
    digits - 1 - scale
}

/// PostgreSQL's base-10000 weight of the first non-zero digit group and that group's value.
pub(crate) fn nbase_weight_first(d: &BigDecimal) -> (i64, u32) {
    if d.is_zero() {
        return (0, 0);
    }
    let w = exponent10(d).div_euclid(4);
    let (int, scale) = d.abs().into_bigint_and_exponent();
    let shifted = BigDecimal::new(int, scale + 4 * w);
    let first = shifted
        .with_scale_round(0, RoundingMode::Down)
        .to_u32()
        .unwrap_or(0);
    (w, first)
}

/// `select_div_scale`.
pub(crate) fn div_scale(a: &BigDecimal, b: &BigDecimal) -> i64 {
    let (w1, f1) = nbase_weight_first(a);
    let (w2, f2) = nbase_weight_first(b);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = MIN_SIG_DIGITS - qweight * 4;
    rscale
        .max(dscale(a))
        .max(dscale(b))
        .clamp(0, MAX_DISPLAY_SCALE)
}

/// `10^n` as an integer-valued BigDecimal.
fn pow10(n: i64) -> BigDecimal {
    BigDecimal::new(1.into(), -n).with_scale(0)
}

/// Exact truncating division of non-negative integers: (quotient, remainder). BigDecimal's
/// `/` keeps only 100 significant digits, so the quotient is refined until exact.
fn int_div_rem(x: &BigDecimal, y: &BigDecimal) -> (BigDecimal, BigDecimal) {
    let mut q = BigDecimal::zero();
    let mut r = x.clone();
    for _ in 0..1000 {
        let step = (&r / y).with_scale_round(0, RoundingMode::Down);
        if step.is_zero() {
            break;
        }
        r -= &step * y;
        q += step;
    }
    while r.is_negative() {
        r += y;
        q -= BigDecimal::from(1);
    }
    while r >= *y {
        r -= y;
        q += BigDecimal::from(1);
    }
    (q, r)
}

/// `a / b` to about `digits` significant digits.
pub(crate) fn div_digits(a: &BigDecimal, b: &BigDecimal, digits: i64) -> BigDecimal {
    if a.is_zero() {
        return BigDecimal::zero();
    }
    let scale = digits - (exponent10(a) - exponent10(b)) + 1;
    div_exact(a, b, scale, true)
}

/// `a / b` rounded (half away from zero) or truncated to `rscale` digits. `b` must not be 0.
pub(crate) fn div_exact(a: &BigDecimal, b: &BigDecimal, rscale: i64, round: bool) -> BigDecimal {
    let sa = a.fractional_digit_count();
    let sb = b.fractional_digit_count();
    // a / b * 10^rscale = (A * 10^-sa) / (B * 10^-sb) * 10^rscale = A * 10^m / B.
    let m = rscale + sb - sa;
    let (ai, _) = a.as_bigint_and_exponent();
    let (bi, _) = b.as_bigint_and_exponent();
    let mut x = BigDecimal::new(ai, 0);
    let mut y = BigDecimal::new(bi, 0);
    if m >= 0 {
        x *= pow10(m);
    } else {
        y *= pow10(-m);
    }
    let negative = x.is_negative() != y.is_negative();
    let (x, y) = (x.abs(), y.abs());
    let (mut q, r) = int_div_rem(&x, &y);
    if round && r.double() >= y {
        q += BigDecimal::from(1);
    }
    if negative {
        q = -q;
    }
    let (qi, _) = q.into_bigint_and_exponent();
    BigDecimal::new(qi, rscale)
}

pub(crate) fn div_by_zero() -> Error {
    Error::new(ErrorKind::DivisionByZero, "division by zero")
}

/// numeric → f64 through its decimal text, as PostgreSQL does (`numeric_float8`).
pub(crate) fn to_f64(n: &Numeric) -> f64 {
    match n {
        Numeric::Finite(d) => d.to_string().parse::<f64>().unwrap_or(f64::NAN),
        Numeric::NaN => f64::NAN,
        Numeric::PosInfinity => f64::INFINITY,
        Numeric::NegInfinity => f64::NEG_INFINITY,
    }
}

/// Sign of a numeric as -1, 0, 1 (NaN reported as 0; callers test NaN first).
pub(crate) fn sign_of(n: &Numeric) -> i32 {
    match n {
        Numeric::Finite(d) => {
            if d.is_zero() {
                0
            } else if d.is_negative() {
                -1
            } else {
                1
            }
        }
        Numeric::PosInfinity => 1,
        Numeric::NegInfinity => -1,
        Numeric::NaN => 0,
    }
}

fn inf(sign: i32) -> Numeric {
    if sign < 0 {
        Numeric::NegInfinity
    } else {
        Numeric::PosInfinity
    }
}

pub(crate) fn add(a: &Numeric, b: &Numeric) -> Numeric {
    use Numeric::*;
    match (a, b) {
        (Finite(x), Finite(y)) => Finite(fix_scale(x + y)),
        (NaN, _) | (_, NaN) => NaN,
        (PosInfinity, NegInfinity) | (NegInfinity, PosInfinity) => NaN,
        (PosInfinity, _) | (_, PosInfinity) => PosInfinity,
        _ => NegInfinity,
    }
}

pub(crate) fn neg(a: &Numeric) -> Numeric {
    use Numeric::*;
    match a {
        Finite(x) => Finite(-x),
        NaN => NaN,
        PosInfinity => NegInfinity,
        NegInfinity => PosInfinity,
    }
}

pub(crate) fn sub(a: &Numeric, b: &Numeric) -> Numeric {
    add(a, &neg(b))
}

pub(crate) fn mul(a: &Numeric, b: &Numeric) -> Numeric {
    use Numeric::*;
    match (a, b) {
        (Finite(x), Finite(y)) => Finite(fix_scale(x * y)),
        (NaN, _) | (_, NaN) => NaN,
        _ => {
            let s = sign_of(a) * sign_of(b);
            if s == 0 {
                NaN
            } else {
                inf(s)
            }
        }
    }
}

pub(crate) fn div(a: &Numeric, b: &Numeric) -> Result<Numeric> {
    use Numeric::*;
    Ok(match (a, b) {
        (NaN, _) | (_, NaN) => NaN,
        (_, Finite(y)) if y.is_zero() => return Err(div_by_zero()),
        (Finite(x), Finite(y)) => Finite(div_exact(x, y, div_scale(x, y), true)),
        (Finite(_), _) => Finite(BigDecimal::zero()),
        (_, Finite(_)) => inf(sign_of(a) * sign_of(b)),
        _ => NaN,
    })
}

/// Truncating division to an integer (`div(numeric, numeric)`).
pub(crate) fn div_trunc(a: &Numeric, b: &Numeric) -> Result<Numeric> {
    use Numeric::*;
    Ok(match (a, b) {
        (NaN, _) | (_, NaN) => NaN,
        (_, Finite(y)) if y.is_zero() => return Err(div_by_zero()),
        (Finite(x), Finite(y)) => Finite(div_exact(x, y, 0, false)),
        (Finite(_), _) => Finite(BigDecimal::zero()),
        (_, Finite(_)) => inf(sign_of(a) * sign_of(b)),
        _ => NaN,
    })
}

pub(crate) fn modulo(a: &Numeric, b: &Numeric) -> Result<Numeric> {
    use Numeric::*;
    Ok(match (a, b) {
        (NaN, _) | (_, NaN) => NaN,
        (_, Finite(y)) if y.is_zero() => return Err(div_by_zero()),
        (Finite(x), Finite(y)) => Finite(fix_scale(x % y)),
        (Finite(_), _) => a.clone(),
        _ => NaN,
    })
}

/// Applies `numeric(precision, scale)`: round to the scale, then check the integer digits.
pub(crate) fn apply_typmod(
    n: Numeric,
    precision: Option<u32>,
    scale: Option<u32>,
) -> Result<Numeric> {
    let Some(p) = precision else {
        return Ok(n);
    };
    let s = scale.unwrap_or(0);
    match n {
        Numeric::Finite(d) => {
            let r = round_to(&d, s as i64);
            let max_int_digits = p as i64 - s as i64;
            let int_digits = if r.is_zero() { 0 } else { exponent10(&r) + 1 };
            if int_digits > max_int_digits {
                let bound = if max_int_digits > 0 {
                    format!("10^{max_int_digits}")
                } else {
                    "1".to_string()
                };
                return Err(Error::new(ErrorKind::NumericValueOutOfRange, "numeric field overflow")
                    .with_detail(format!(
                        "A field with precision {p}, scale {s} must round to an absolute value less than {bound}."
                    )));
            }
            Ok(Numeric::Finite(r))
        }
        Numeric::NaN => Ok(Numeric::NaN),
        _ => Err(
            Error::new(ErrorKind::NumericValueOutOfRange, "numeric field overflow").with_detail(
                format!("A field with precision {p}, scale {s} cannot hold an infinite value."),
            ),
        ),
    }
}

/// Text output: plain digits with the display scale kept.
pub(crate) fn format(n: &Numeric) -> String {
    match n {
        Numeric::Finite(d) => fix_scale(d.clone()).to_plain_string(),
        Numeric::NaN => "NaN".into(),
        Numeric::PosInfinity => "Infinity".into(),
        Numeric::NegInfinity => "-Infinity".into(),
    }
}

/// `numeric_in`'s grammar: optional sign, digits with an optional point, optional exponent,
/// or NaN / [+-]Infinity / inf, with surrounding whitespace.
pub(crate) fn parse(text: &str) -> Result<Numeric> {
    let invalid = || super::text_io::invalid_syntax("numeric", text);
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Ok(Numeric::NaN),
        "infinity" | "+infinity" | "inf" | "+inf" => return Ok(Numeric::PosInfinity),
        "-infinity" | "-inf" => return Ok(Numeric::NegInfinity),
        _ => {}
    }
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return Err(invalid());
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 9 {
            return Err(invalid());
        }
    }
    if i != b.len() {
        return Err(invalid());
    }
    let (neg, body) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let mut s = String::with_capacity(t.len() + 2);
    if neg {
        s.push('-');
    }
    if body.starts_with('.') {
        s.push('0');
    }
    s.push_str(body);
    if s.ends_with('.') || s.contains(".e") || s.contains(".E") {
        s = s.replacen('.', "", 1);
    }
    let raw = s.parse::<BigDecimal>().map_err(|_| invalid())?;
    // Refuse absurd exponents before materialising their digits.
    if exponent10(&raw) > 131071 || raw.fractional_digit_count() > 16383 {
        return Err(Error::new(
            ErrorKind::NumericValueOutOfRange,
            "value overflows numeric format",
        ));
    }
    Ok(Numeric::Finite(fix_scale(raw)))
}

/// numeric → integer: round half away from zero, NaN and infinity refused.
pub(crate) fn to_i64(n: &Numeric, type_name: &str) -> Result<i128> {
    match n {
        Numeric::Finite(d) => {
            let r = round_to(d, 0);
            r.to_i128().ok_or_else(|| out_of_range(type_name))
        }
        Numeric::NaN => Err(Error::new(
            ErrorKind::FeatureNotSupported,
            format!("cannot convert NaN to {type_name}"),
        )),
        _ => Err(Error::new(
            ErrorKind::FeatureNotSupported,
            format!("cannot convert infinity to {type_name}"),
        )),
    }
}

pub(crate) fn out_of_range(type_name: &str) -> Error {
    Error::new(
        ErrorKind::NumericValueOutOfRange,
        format!("{type_name} out of range"),
    )
}

/// f64 → numeric as PostgreSQL does: through `%.15g` (or `%.6g` for float4) text.
pub(crate) fn from_float(f: f64, digits: usize) -> Numeric {
    if f.is_nan() {
        return Numeric::NaN;
    }
    if f.is_infinite() {
        return inf(if f < 0.0 { -1 } else { 1 });
    }
    let s = super::text_io::format_g(f, digits);
    parse(&s).unwrap_or(Numeric::NaN)
}

// ---- transcendental functions -------------------------------------------------------------
//
// Computed in BigDecimal at a working precision a few digits beyond what the result scale
// needs, then rounded to PostgreSQL's result scale.

fn ctx(digits: i64) -> bigdecimal::Context {
    let digits = digits.clamp(20, 2000) as u64;
    bigdecimal::Context::default()
        .with_prec(digits)
        .unwrap_or_default()
}

fn with_digits(d: BigDecimal, digits: i64) -> BigDecimal {
    d.with_precision_round(
        std::num::NonZeroU64::new(digits.clamp(20, 2000) as u64)
            .unwrap_or(std::num::NonZeroU64::MIN),
        RoundingMode::HalfEven,
    )
}

/// ln(m) for m > 0 near enough to 1 after repeated square roots.
fn ln_reduced(m: &BigDecimal, work: i64) -> BigDecimal {
    let one = BigDecimal::from(1);
    let threshold = BigDecimal::new(1.into(), 3);
    let c = ctx(work);
    let mut y = m.clone();
    let mut k = 0u32;
    while (&y - &one).abs() > threshold && k < 200 {
        y = y.sqrt_with_context(&c).unwrap_or_else(|| one.clone());
        k += 1;
    }
    let z = div_digits(&(&y - &one), &(&y + &one), work);
    let z2 = with_digits(&z * &z, work);
    let mut term = z.clone();
    let mut sum = z;
    let eps = BigDecimal::new(1.into(), work + 5);
    let mut n = 1i64;
    loop {
        term = with_digits(&term * &z2, work);
        n += 2;
        let t = div_digits(&term, &BigDecimal::from(n), work);
        if t.abs() < eps {
            break;
        }
        sum += t;
    }
    sum * BigDecimal::from(2u64 << k.min(62)) // 2 * 2^k
}

/// Natural logarithm of a positive value to about `digits` significant digits.
pub(crate) fn ln(x: &BigDecimal, digits: i64) -> BigDecimal {
    let work = digits + 20;
    let e = exponent10(x);
    let (int, scale) = x.as_bigint_and_exponent();
    let m = BigDecimal::new(int, scale + e); // in [1, 10)
    let mut r = ln_reduced(&m, work);
    if e != 0 {
        r += ln_reduced(&BigDecimal::from(10), work + 5) * BigDecimal::from(e);
    }
    with_digits(r, work)
}

/// e^x to about `digits` significant digits.
pub(crate) fn exp(x: &BigDecimal, digits: i64) -> BigDecimal {
    let mut k = 0u32;
    let mut r = x.clone();
    let limit = BigDecimal::new(1.into(), 2);
    while r.abs() > limit && k < 64 {
        r = r.half();
        k += 1;
    }
    let work = digits + 10 + (k as i64 * 3) / 10 + 1;
    let eps = BigDecimal::new(1.into(), work + 5);
    let mut sum = BigDecimal::from(1);
    let mut term = BigDecimal::from(1);
    let mut n = 0i64;
    loop {
        n += 1;
        term = div_digits(&(&term * &r), &BigDecimal::from(n), work);
        if term.abs() < eps {
            break;
        }
        sum += &term;
    }
    for _ in 0..k {
        sum = with_digits(&sum * &sum, work);
    }
    sum
}

/// PostgreSQL's `estimate_ln_dweight`: the decimal weight of ln(x).
pub(crate) fn estimate_ln_dweight(x: &BigDecimal) -> i64 {
    let lo = BigDecimal::new(9.into(), 1);
    let hi = BigDecimal::new(11.into(), 1);
    if *x >= lo && *x <= hi {
        let d = x - BigDecimal::from(1);
        if d.is_zero() {
            0
        } else {
            exponent10(&d)
        }
    } else {
        let e = exponent10(x);
        let (int, scale) = x.as_bigint_and_exponent();
        let mant = BigDecimal::new(int, scale + e).to_f64().unwrap_or(1.0);
        let ln = mant.ln() + e as f64 * std::f64::consts::LN_10;
        if ln == 0.0 {
            0
        } else {
            ln.abs().log10() as i64
        }
    }
}

fn clamp_scale(s: i64) -> i64 {
    s.clamp(0, MAX_DISPLAY_SCALE)
}

/// `ln(numeric)` for a positive finite value.
pub(crate) fn ln_scaled(x: &BigDecimal) -> BigDecimal {
    let rscale = clamp_scale((MIN_SIG_DIGITS - estimate_ln_dweight(x)).max(dscale(x)));
    let digits = rscale + 25 + exponent10(x).abs().to_string().len() as i64;
    round_to(&ln(x, digits), rscale)
}

/// `log(base, x)` for positive finite values, base ≠ 1.
pub(crate) fn log_scaled(base: &BigDecimal, x: &BigDecimal) -> BigDecimal {
    let dw = estimate_ln_dweight(x) - estimate_ln_dweight(base);
    let rscale = clamp_scale((MIN_SIG_DIGITS - dw).max(dscale(base)).max(dscale(x)));
    let digits = rscale + 25 + dw.abs();
    let r = div_digits(&ln(x, digits), &ln(base, digits), digits);
    round_to(&r, rscale)
}

/// `exp(numeric)`, with PostgreSQL's scale rule.
pub(crate) fn exp_scaled(x: &BigDecimal) -> Result<BigDecimal> {
    let val = x.to_f64().unwrap_or(0.0) * std::f64::consts::LOG10_E;
    if val > 131072.0 {
        return Err(Error::new(
            ErrorKind::NumericValueOutOfRange,
            "value overflows numeric format",
        ));
    }
    let val = val.clamp(-2000.0, 2000.0);
    let rscale = clamp_scale((MIN_SIG_DIGITS - val as i64).max(dscale(x)));
    let digits = rscale + val.max(0.0) as i64 + 10;
    Ok(round_to(&exp(x, digits), rscale))
}

/// log10(x) of a positive value, approximately, for any magnitude.
pub(crate) fn estimate_log10(x: &BigDecimal) -> f64 {
    let e = exponent10(x);
    let (int, scale) = x.as_bigint_and_exponent();
    let mant = BigDecimal::new(int, scale + e).to_f64().unwrap_or(1.0);
    e as f64 + mant.log10()
}

/// `b^n` exactly (BigDecimal's `powi` rounds to 100 digits).
pub(crate) fn exact_powi(b: &BigDecimal, mut n: u64) -> BigDecimal {
    let mut result = BigDecimal::from(1);
    let mut base = b.clone();
    while n > 0 {
        if n & 1 == 1 {
            result = &result * &base;
        }
        n >>= 1;
        if n > 0 {
            base = &base * &base;
        }
    }
    result
}
