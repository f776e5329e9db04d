//! Hashing consistent with [`super::values_equal`]: values that compare equal hash equally.
//!
//! The traps are the values that are equal without being identical: numeric `1.0` and `1.00`
//! (hashed by their normalized digits), float `-0` and `0`, and every NaN bit pattern (hashed
//! as one canonical value). char(n) text keeps its padding, as its equality does.

use bigdecimal::Zero;
use sledgres_storage::{Numeric, Value};
use std::hash::{Hash, Hasher};

fn canonical_f64(f: f64) -> u64 {
    if f.is_nan() {
        f64::NAN.to_bits()
    } else if f == 0.0 {
        0
    } else {
        f.to_bits()
    }
}

/// See [`super::hash_value`].
pub fn hash_value<H: Hasher>(value: &Value, state: &mut H) {
    match value {
        Value::Null => 0u8.hash(state),
        Value::Bool(b) => b.hash(state),
        Value::Int2(i) => i.hash(state),
        Value::Int4(i) => i.hash(state),
        Value::Int8(i) => i.hash(state),
        Value::Float4(f) => canonical_f64(*f as f64).hash(state),
        Value::Float8(f) => canonical_f64(*f).hash(state),
        Value::Numeric(n) => match n {
            Numeric::Finite(d) if d.is_zero() => 1u8.hash(state),
            Numeric::Finite(d) => {
                2u8.hash(state);
                let (digits, scale) = d.normalized().into_bigint_and_exponent();
                digits.to_string().hash(state);
                scale.hash(state);
            }
            Numeric::NaN => 3u8.hash(state),
            Numeric::PosInfinity => 4u8.hash(state),
            Numeric::NegInfinity => 5u8.hash(state),
        },
        Value::Text(s) => s.hash(state),
        Value::Date(d) => d.hash(state),
        Value::Time(t) | Value::Timestamp(t) | Value::TimestampTz(t) => t.hash(state),
        // Equal intervals ('1 mon' = '30 days') must hash alike: hash the span.
        Value::Interval(iv) => iv.span().hash(state),
        Value::Bytea(b) => b.hash(state),
        Value::Uuid(u) => u.hash(state),
    }
}
