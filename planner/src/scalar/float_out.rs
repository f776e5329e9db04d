//! Shortest round-trip float digits, exactly as PostgreSQL 12+ prints them.
//!
//! PostgreSQL uses Ryu, which yields the shortest decimal that lies *strictly* inside the
//! rounding interval of the binary value (it does not accept the interval's end points) and
//! breaks a tie in the last digit towards an even digit. Rust's `{:e}` also yields shortest
//! digits but accepts end points and breaks ties differently, so in the rare cases where
//! that can matter — the value or an interval end point has a short exact decimal
//! expansion — the digits are recomputed exactly here with BigDecimal. Everywhere else
//! Rust's (fast) answer is already PostgreSQL's.

use bigdecimal::{BigDecimal, RoundingMode};
use std::num::NonZeroU64;

/// Binary decomposition `v = m · 2^e` of a finite, non-zero value (`m` < 2^precision).
struct Parts {
    m: u64,
    e: i32,
    /// The next lower binary value is closer than the next higher one (m at a power of two).
    lower_closer: bool,
}

fn parts_f64(v: f64) -> Parts {
    let bits = v.abs().to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        Parts {
            m: frac,
            e: -1074,
            lower_closer: false,
        }
    } else {
        Parts {
            m: frac | (1u64 << 52),
            e: exp - 1075,
            lower_closer: frac == 0 && exp > 1,
        }
    }
}

fn parts_f32(v: f32) -> Parts {
    let bits = v.abs().to_bits();
    let exp = ((bits >> 23) & 0xff) as i32;
    let frac = (bits & ((1u32 << 23) - 1)) as u64;
    if exp == 0 {
        Parts {
            m: frac,
            e: -149,
            lower_closer: false,
        }
    } else {
        Parts {
            m: frac | (1u64 << 23),
            e: exp - 150,
            lower_closer: frac == 0 && exp > 1,
        }
    }
}

/// Whether Rust's shortest digits might differ from Ryu's: only when the value or an
/// interval end point has a short (≤ 18 digit) exact decimal expansion. For integers that
/// needs the odd part (< 2^54 < 5^24) to supply the factors of 5 of a power of ten, so
/// nothing at or above 10^41 qualifies; fractions qualify only when their binary fraction
/// is short.
fn needs_exact(p: &Parts, v: f64) -> bool {
    if p.e >= -1 {
        return v.abs() < 1e41;
    }
    let tz = p.m.trailing_zeros() as i32;
    let frac_bits = -(p.e + tz);
    frac_bits <= 25
}

/// `m · 2^e` as an exact decimal.
fn exact(m: u128, e: i32) -> BigDecimal {
    if e >= 0 {
        BigDecimal::from(m) * super::numeric::exact_powi(&BigDecimal::from(2), e as u64)
    } else {
        let k = -e as i64;
        let scaled =
            BigDecimal::from(m) * super::numeric::exact_powi(&BigDecimal::from(5), k as u64);
        let (int, scale) = scaled.into_bigint_and_exponent();
        BigDecimal::new(int, scale + k)
    }
}

/// Shortest digits strictly inside the rounding interval, ties to even: (digits, exponent
/// of the first digit).
fn exact_shortest(p: &Parts, min_digits: u64, max_digits: u64) -> Option<(String, i32)> {
    let v = exact(p.m as u128, p.e);
    let hi = exact(2 * p.m as u128 + 1, p.e - 1);
    let lo = if p.lower_closer {
        exact(4 * p.m as u128 - 1, p.e - 2)
    } else {
        exact(2 * p.m as u128 - 1, p.e - 1)
    };
    for n in min_digits.max(1)..=max_digits {
        let c = v.with_precision_round(NonZeroU64::new(n)?, RoundingMode::HalfEven);
        if c > lo && c < hi {
            let exp10 = super::numeric::exponent10(&c) as i32;
            let (int, _) = c.into_bigint_and_exponent();
            let digits = int.to_string();
            let digits = digits.trim_start_matches('-').trim_end_matches('0');
            return Some((digits.to_string(), exp10));
        }
    }
    None
}

/// Splits Rust's `{:e}` output (`1.25e-7`, sign already removed) into digits and exponent.
fn split_sci(sci: &str) -> (String, i32) {
    let (mant, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Shortest digits and decimal exponent of |v| for a finite, non-zero value; `single` for
/// float4.
pub(crate) fn shortest(v: f64, single: bool) -> (String, i32) {
    let p = if single {
        parts_f32(v as f32)
    } else {
        parts_f64(v)
    };
    let sci = if single {
        format!("{:e}", (v as f32).abs())
    } else {
        format!("{:e}", v.abs())
    };
    let (digits, exp) = split_sci(&sci);
    // Ryu's answer is never shorter than Rust's (Rust also accepts the end points).
    if needs_exact(&p, v) {
        let max = if single { 9 } else { 17 };
        if let Some(r) = exact_shortest(&p, digits.len() as u64, max) {
            return r;
        }
    }
    (digits, exp)
}
