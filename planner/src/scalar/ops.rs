//! Operators: the candidate signatures PostgreSQL's pg_operator has for our types, and their
//! implementations.
//!
//! Resolution sees PostgreSQL's cross-type signatures (`int2 + int4`, `float4 * float8`,
//! `int4 = int8`, …) because they change which candidate wins (`int4 + float4` is float8 in
//! PostgreSQL only because `float8 + float4` exists). Evaluation does not need them: every
//! cross-type operator equals the same-type operator on the wider type, so a candidate carries
//! the *execution* type its arguments are cast to, and only same-type implementations exist.

use super::cast::to_text;
use super::datetime_fns as dtf;
use super::numeric;
use super::resolve::{arg_name, select, NoMatch, Ty};
use super::{BinaryOp, Resolved, ScalarFn, UnaryOp};
use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::types::float_cmp;
use sledgres_storage::{DataType, Numeric, Value};
use std::cmp::Ordering;

pub(crate) fn int_overflow(ty: Ty) -> Error {
    numeric::out_of_range(match ty {
        Ty::Int2 => "smallint",
        Ty::Int4 => "integer",
        _ => "bigint",
    })
}

pub(crate) fn float_overflow() -> Error {
    Error::new(
        ErrorKind::NumericValueOutOfRange,
        "value out of range: overflow",
    )
}

pub(crate) fn float_underflow() -> Error {
    Error::new(
        ErrorKind::NumericValueOutOfRange,
        "value out of range: underflow",
    )
}

fn bad_args() -> Error {
    Error::internal("operator called with unexpected argument values")
}

// ---- integer arithmetic -------------------------------------------------------------------

macro_rules! int_ops {
    ($variant:ident, $t:ty, $ty:expr, $add:ident, $sub:ident, $mul:ident, $div:ident, $rem:ident,
     $and:ident, $or:ident, $xor:ident, $shl:ident, $shr:ident, $neg:ident, $not:ident, $abs:ident) => {
        fn $add(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::$variant(y)] => x
                    .checked_add(*y)
                    .map(Value::$variant)
                    .ok_or_else(|| int_overflow($ty)),
                _ => Err(bad_args()),
            }
        }
        fn $sub(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::$variant(y)] => x
                    .checked_sub(*y)
                    .map(Value::$variant)
                    .ok_or_else(|| int_overflow($ty)),
                _ => Err(bad_args()),
            }
        }
        fn $mul(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::$variant(y)] => x
                    .checked_mul(*y)
                    .map(Value::$variant)
                    .ok_or_else(|| int_overflow($ty)),
                _ => Err(bad_args()),
            }
        }
        fn $div(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(_), Value::$variant(0)] => Err(numeric::div_by_zero()),
                [Value::$variant(x), Value::$variant(y)] => x
                    .checked_div(*y)
                    .map(Value::$variant)
                    .ok_or_else(|| int_overflow($ty)),
                _ => Err(bad_args()),
            }
        }
        pub(crate) fn $rem(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(_), Value::$variant(0)] => Err(numeric::div_by_zero()),
                // MIN % -1 is 0, not an overflow.
                [Value::$variant(x), Value::$variant(y)] => {
                    Ok(Value::$variant(x.checked_rem(*y).unwrap_or(0)))
                }
                _ => Err(bad_args()),
            }
        }
        fn $and(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::$variant(y)] => Ok(Value::$variant(x & y)),
                _ => Err(bad_args()),
            }
        }
        fn $or(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::$variant(y)] => Ok(Value::$variant(x | y)),
                _ => Err(bad_args()),
            }
        }
        fn $xor(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::$variant(y)] => Ok(Value::$variant(x ^ y)),
                _ => Err(bad_args()),
            }
        }
        // Shifts take an int4 count; like C on PostgreSQL's platforms the count wraps.
        fn $shl(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::Int4(n)] => {
                    Ok(Value::$variant(x.wrapping_shl(*n as u32)))
                }
                _ => Err(bad_args()),
            }
        }
        fn $shr(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x), Value::Int4(n)] => {
                    Ok(Value::$variant(x.wrapping_shr(*n as u32)))
                }
                _ => Err(bad_args()),
            }
        }
        pub(crate) fn $neg(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x)] => x
                    .checked_neg()
                    .map(Value::$variant)
                    .ok_or_else(|| int_overflow($ty)),
                _ => Err(bad_args()),
            }
        }
        fn $not(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x)] => Ok(Value::$variant(!x)),
                _ => Err(bad_args()),
            }
        }
        pub(crate) fn $abs(a: &[Value]) -> Result<Value> {
            match a {
                [Value::$variant(x)] => x
                    .checked_abs()
                    .map(Value::$variant)
                    .ok_or_else(|| int_overflow($ty)),
                _ => Err(bad_args()),
            }
        }
        const _: Option<$t> = None;
    };
}

int_ops!(
    Int2,
    i16,
    Ty::Int2,
    i2_add,
    i2_sub,
    i2_mul,
    i2_div,
    i2_mod,
    i2_and,
    i2_or,
    i2_xor,
    i2_shl,
    i2_shr,
    i2_neg,
    i2_not,
    i2_abs
);
int_ops!(
    Int4,
    i32,
    Ty::Int4,
    i4_add,
    i4_sub,
    i4_mul,
    i4_div,
    i4_mod,
    i4_and,
    i4_or,
    i4_xor,
    i4_shl,
    i4_shr,
    i4_neg,
    i4_not,
    i4_abs
);
int_ops!(
    Int8,
    i64,
    Ty::Int8,
    i8_add,
    i8_sub,
    i8_mul,
    i8_div,
    i8_mod,
    i8_and,
    i8_or,
    i8_xor,
    i8_shl,
    i8_shr,
    i8_neg,
    i8_not,
    i8_abs
);

// ---- float arithmetic ---------------------------------------------------------------------

/// PostgreSQL's float overflow rule: an infinite result from finite inputs is an error,
/// and so is a zero result from non-zero inputs (for * and /).
fn check_f64(r: f64, x: f64, y: f64, zero_check: bool) -> Result<f64> {
    if r.is_infinite() && !x.is_infinite() && !y.is_infinite() {
        return Err(float_overflow());
    }
    if zero_check && r == 0.0 && x != 0.0 && !y.is_infinite() {
        return Err(float_underflow());
    }
    Ok(r)
}

fn f8_args(a: &[Value]) -> Result<(f64, f64)> {
    match a {
        [Value::Float8(x), Value::Float8(y)] => Ok((*x, *y)),
        _ => Err(bad_args()),
    }
}

fn f4_args(a: &[Value]) -> Result<(f32, f32)> {
    match a {
        [Value::Float4(x), Value::Float4(y)] => Ok((*x, *y)),
        _ => Err(bad_args()),
    }
}

fn f8_add(a: &[Value]) -> Result<Value> {
    let (x, y) = f8_args(a)?;
    check_f64(x + y, x, y, false).map(Value::Float8)
}
fn f8_sub(a: &[Value]) -> Result<Value> {
    let (x, y) = f8_args(a)?;
    check_f64(x - y, x, y, false).map(Value::Float8)
}
fn f8_mul(a: &[Value]) -> Result<Value> {
    let (x, y) = f8_args(a)?;
    if x * y == 0.0 && (x == 0.0 || y == 0.0) {
        return Ok(Value::Float8(x * y));
    }
    check_f64(x * y, x, y, true).map(Value::Float8)
}
fn f8_div(a: &[Value]) -> Result<Value> {
    let (x, y) = f8_args(a)?;
    if y == 0.0 && !x.is_nan() {
        return Err(numeric::div_by_zero());
    }
    check_f64(x / y, x, y, true).map(Value::Float8)
}
fn f4_add(a: &[Value]) -> Result<Value> {
    let (x, y) = f4_args(a)?;
    check_f32(x + y, x, y, false)
}
fn f4_sub(a: &[Value]) -> Result<Value> {
    let (x, y) = f4_args(a)?;
    check_f32(x - y, x, y, false)
}
fn f4_mul(a: &[Value]) -> Result<Value> {
    let (x, y) = f4_args(a)?;
    if x == 0.0 || y == 0.0 {
        return Ok(Value::Float4(x * y));
    }
    check_f32(x * y, x, y, true)
}
fn f4_div(a: &[Value]) -> Result<Value> {
    let (x, y) = f4_args(a)?;
    if y == 0.0 && !x.is_nan() {
        return Err(numeric::div_by_zero());
    }
    check_f32(x / y, x, y, true)
}
fn check_f32(r: f32, x: f32, y: f32, zero_check: bool) -> Result<Value> {
    if r.is_infinite() && !x.is_infinite() && !y.is_infinite() {
        return Err(float_overflow());
    }
    if zero_check && r == 0.0 && x != 0.0 && !y.is_infinite() {
        return Err(float_underflow());
    }
    Ok(Value::Float4(r))
}
fn f8_neg(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Float8(x)] => Ok(Value::Float8(-x)),
        _ => Err(bad_args()),
    }
}
fn f4_neg(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Float4(x)] => Ok(Value::Float4(-x)),
        _ => Err(bad_args()),
    }
}

/// `float8 ^ float8` (`dpow`), with PostgreSQL's error cases.
pub(crate) fn f8_pow(a: &[Value]) -> Result<Value> {
    let (x, y) = f8_args(a)?;
    if x == 0.0 && y < 0.0 {
        return Err(Error::new(
            ErrorKind::InvalidArgumentForPowerFunction,
            "zero raised to a negative power is undefined",
        ));
    }
    if x < 0.0 && y.fract() != 0.0 && y.is_finite() {
        return Err(Error::new(
            ErrorKind::InvalidArgumentForPowerFunction,
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    if x == 1.0 || y == 0.0 {
        return Ok(Value::Float8(1.0));
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(float_overflow());
    }
    if r == 0.0 && x != 0.0 && x.is_finite() && y.is_finite() {
        return Err(float_underflow());
    }
    Ok(Value::Float8(r))
}

// ---- numeric arithmetic -------------------------------------------------------------------

fn num_args(a: &[Value]) -> Result<(&Numeric, &Numeric)> {
    match a {
        [Value::Numeric(x), Value::Numeric(y)] => Ok((x, y)),
        _ => Err(bad_args()),
    }
}
fn n_add(a: &[Value]) -> Result<Value> {
    let (x, y) = num_args(a)?;
    Ok(Value::Numeric(numeric::add(x, y)))
}
fn n_sub(a: &[Value]) -> Result<Value> {
    let (x, y) = num_args(a)?;
    Ok(Value::Numeric(numeric::sub(x, y)))
}
fn n_mul(a: &[Value]) -> Result<Value> {
    let (x, y) = num_args(a)?;
    Ok(Value::Numeric(numeric::mul(x, y)))
}
fn n_div(a: &[Value]) -> Result<Value> {
    let (x, y) = num_args(a)?;
    Ok(Value::Numeric(numeric::div(x, y)?))
}
pub(crate) fn n_mod(a: &[Value]) -> Result<Value> {
    let (x, y) = num_args(a)?;
    Ok(Value::Numeric(numeric::modulo(x, y)?))
}
fn n_neg(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Numeric(x)] => Ok(Value::Numeric(numeric::neg(x))),
        _ => Err(bad_args()),
    }
}
fn identity(a: &[Value]) -> Result<Value> {
    a.first().cloned().ok_or_else(bad_args)
}
fn bool_not(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Bool(b)] => Ok(Value::Bool(!b)),
        _ => Err(bad_args()),
    }
}

// ---- comparison ---------------------------------------------------------------------------

/// Compares two values of the same execution type.
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Float4(x), Value::Float4(y)) => float_cmp(*x as f64, *y as f64),
        (Value::Float8(x), Value::Float8(y)) => float_cmp(*x, *y),
        _ => a.cmp_same_type(b),
    }
}

/// bpchar comparison: trailing spaces are insignificant.
pub(crate) fn compare_bpchar(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => x
            .trim_end_matches(' ')
            .as_bytes()
            .cmp(y.trim_end_matches(' ').as_bytes()),
        _ => compare(a, b),
    }
}

macro_rules! cmp_fns {
    ($cmp:ident: $eq:ident, $ne:ident, $lt:ident, $le:ident, $gt:ident, $ge:ident) => {
        fn $eq(a: &[Value]) -> Result<Value> {
            Ok(Value::Bool($cmp(&a[0], &a[1]) == Ordering::Equal))
        }
        fn $ne(a: &[Value]) -> Result<Value> {
            Ok(Value::Bool($cmp(&a[0], &a[1]) != Ordering::Equal))
        }
        fn $lt(a: &[Value]) -> Result<Value> {
            Ok(Value::Bool($cmp(&a[0], &a[1]) == Ordering::Less))
        }
        fn $le(a: &[Value]) -> Result<Value> {
            Ok(Value::Bool($cmp(&a[0], &a[1]) != Ordering::Greater))
        }
        fn $gt(a: &[Value]) -> Result<Value> {
            Ok(Value::Bool($cmp(&a[0], &a[1]) == Ordering::Greater))
        }
        fn $ge(a: &[Value]) -> Result<Value> {
            Ok(Value::Bool($cmp(&a[0], &a[1]) != Ordering::Less))
        }
    };
}
cmp_fns!(compare: eq, ne, lt, le, gt, ge);
cmp_fns!(compare_bpchar: bp_eq, bp_ne, bp_lt, bp_le, bp_gt, bp_ge);

// ---- strings ------------------------------------------------------------------------------

fn text_concat(a: &[Value]) -> Result<Value> {
    match a {
        [Value::Text(x), Value::Text(y)] => Ok(Value::Text(format!("{x}{y}"))),
        _ => Err(bad_args()),
    }
}
/// `anynonarray || text` and `text || anynonarray`: the non-text side goes through its
/// cast to text.
fn any_concat(a: &[Value]) -> Result<Value> {
    match a {
        [x, y] => Ok(Value::Text(format!(
            "{}{}",
            to_text(x, false),
            to_text(y, false)
        ))),
        _ => Err(bad_args()),
    }
}

/// SQL LIKE matching on chars: `%` any run, `_` one char, `\` escapes the next char.
pub(crate) fn like_match(s: &[char], p: &[char]) -> bool {
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                '_' if si < s.len() => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && si < s.len() && s[si] == p[pi + 1] => {
                    si += 1;
                    pi += 2;
                    continue;
                }
                '\\' => {
                    // An escaped char that does not match, or a trailing backslash, which
                    // matches nothing (PostgreSQL 15 returns false rather than failing).
                }
                c if c != '_' && si < s.len() && s[si] == c => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: backtrack to the last %, letting it swallow one more char.
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp + 1;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

fn like_impl(a: &[Value], fold: bool) -> Result<bool> {
    match a {
        [Value::Text(s), Value::Text(p)] => {
            let (s, p) = if fold {
                (s.to_lowercase(), p.to_lowercase())
            } else {
                (s.clone(), p.clone())
            };
            let s: Vec<char> = s.chars().collect();
            let p: Vec<char> = p.chars().collect();
            Ok(like_match(&s, &p))
        }
        _ => Err(bad_args()),
    }
}
fn like(a: &[Value]) -> Result<Value> {
    like_impl(a, false).map(Value::Bool)
}
fn not_like(a: &[Value]) -> Result<Value> {
    like_impl(a, false).map(|b| Value::Bool(!b))
}
fn ilike(a: &[Value]) -> Result<Value> {
    like_impl(a, true).map(Value::Bool)
}
fn not_ilike(a: &[Value]) -> Result<Value> {
    like_impl(a, true).map(|b| Value::Bool(!b))
}

fn n_pow(a: &[Value]) -> Result<Value> {
    let (x, y) = num_args(a)?;
    super::functions::numeric_power(x, y).map(Value::Numeric)
}

// ---- candidate tables ---------------------------------------------------------------------

/// One operator signature: declared argument types (for resolution), execution argument
/// types (what arguments are cast to), result type and implementation.
pub(crate) struct Cand {
    pub args: [Ty; 2],
    pub exec: [Ty; 2],
    pub result: Ty,
    pub func: ScalarFn,
}

const INTS: [Ty; 3] = [Ty::Int2, Ty::Int4, Ty::Int8];

fn wider_int(a: Ty, b: Ty) -> Ty {
    let rank = |t: Ty| INTS.iter().position(|x| *x == t).unwrap_or(2);
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

fn int_fn(op: BinaryOp, t: Ty) -> Option<ScalarFn> {
    use BinaryOp::*;
    let f: ScalarFn = match (op, t) {
        (Add, Ty::Int2) => i2_add,
        (Add, Ty::Int4) => i4_add,
        (Add, Ty::Int8) => i8_add,
        (Subtract, Ty::Int2) => i2_sub,
        (Subtract, Ty::Int4) => i4_sub,
        (Subtract, Ty::Int8) => i8_sub,
        (Multiply, Ty::Int2) => i2_mul,
        (Multiply, Ty::Int4) => i4_mul,
        (Multiply, Ty::Int8) => i8_mul,
        (Divide, Ty::Int2) => i2_div,
        (Divide, Ty::Int4) => i4_div,
        (Divide, Ty::Int8) => i8_div,
        (Modulo, Ty::Int2) => i2_mod,
        (Modulo, Ty::Int4) => i4_mod,
        (Modulo, Ty::Int8) => i8_mod,
        (BitAnd, Ty::Int2) => i2_and,
        (BitAnd, Ty::Int4) => i4_and,
        (BitAnd, Ty::Int8) => i8_and,
        (BitOr, Ty::Int2) => i2_or,
        (BitOr, Ty::Int4) => i4_or,
        (BitOr, Ty::Int8) => i8_or,
        (BitXor, Ty::Int2) => i2_xor,
        (BitXor, Ty::Int4) => i4_xor,
        (BitXor, Ty::Int8) => i8_xor,
        (ShiftLeft, Ty::Int2) => i2_shl,
        (ShiftLeft, Ty::Int4) => i4_shl,
        (ShiftLeft, Ty::Int8) => i8_shl,
        (ShiftRight, Ty::Int2) => i2_shr,
        (ShiftRight, Ty::Int4) => i4_shr,
        (ShiftRight, Ty::Int8) => i8_shr,
        _ => return None,
    };
    Some(f)
}

fn cmp_fn(op: BinaryOp, bpchar: bool) -> ScalarFn {
    use BinaryOp::*;
    match (op, bpchar) {
        (Eq, false) => eq,
        (NotEq, false) => ne,
        (Lt, false) => lt,
        (LtEq, false) => le,
        (Gt, false) => gt,
        (GtEq, false) => ge,
        (Eq, true) => bp_eq,
        (NotEq, true) => bp_ne,
        (Lt, true) => bp_lt,
        (LtEq, true) => bp_le,
        (Gt, true) => bp_gt,
        _ => bp_ge,
    }
}

fn candidates(op: BinaryOp) -> Vec<Cand> {
    use BinaryOp::*;
    let mut out = Vec::new();
    let same = |t: Ty, result: Ty, func: ScalarFn| Cand {
        args: [t, t],
        exec: [t, t],
        result,
        func,
    };
    match op {
        Add | Subtract | Multiply | Divide => {
            for a in INTS {
                for b in INTS {
                    if a == Ty::Int8 && b == Ty::Int2 || a == Ty::Int2 && b == Ty::Int8 {
                        // int28/int82 exist in pg_operator too; same outcome as int8.
                    }
                    let w = wider_int(a, b);
                    if let Some(f) = int_fn(op, w) {
                        out.push(Cand {
                            args: [a, b],
                            exec: [w, w],
                            result: w,
                            func: f,
                        });
                    }
                }
            }
            let (f4, f8, n): (ScalarFn, ScalarFn, ScalarFn) = match op {
                Add => (f4_add, f8_add, n_add),
                Subtract => (f4_sub, f8_sub, n_sub),
                Multiply => (f4_mul, f8_mul, n_mul),
                _ => (f4_div, f8_div, n_div),
            };
            out.push(same(Ty::Float4, Ty::Float4, f4));
            out.push(same(Ty::Float8, Ty::Float8, f8));
            for args in [[Ty::Float4, Ty::Float8], [Ty::Float8, Ty::Float4]] {
                out.push(Cand {
                    args,
                    exec: [Ty::Float8, Ty::Float8],
                    result: Ty::Float8,
                    func: f8,
                });
            }
            out.push(same(Ty::Numeric, Ty::Numeric, n));
            datetime_candidates(op, &mut out);
        }
        Modulo => {
            for t in INTS {
                if let Some(f) = int_fn(op, t) {
                    out.push(same(t, t, f));
                }
            }
            out.push(same(Ty::Numeric, Ty::Numeric, n_mod));
        }
        BitAnd | BitOr | BitXor => {
            for t in INTS {
                if let Some(f) = int_fn(op, t) {
                    out.push(same(t, t, f));
                }
            }
        }
        ShiftLeft | ShiftRight => {
            for t in INTS {
                if let Some(f) = int_fn(op, t) {
                    out.push(Cand {
                        args: [t, Ty::Int4],
                        exec: [t, Ty::Int4],
                        result: t,
                        func: f,
                    });
                }
            }
        }
        Power => {
            out.push(same(Ty::Float8, Ty::Float8, f8_pow));
            out.push(same(Ty::Numeric, Ty::Numeric, n_pow));
        }
        Eq | NotEq | Lt | LtEq | Gt | GtEq => {
            let f = cmp_fn(op, false);
            for a in INTS {
                for b in INTS {
                    let w = wider_int(a, b);
                    out.push(Cand {
                        args: [a, b],
                        exec: [w, w],
                        result: Ty::Bool,
                        func: f,
                    });
                }
            }
            out.push(same(Ty::Float4, Ty::Bool, f));
            out.push(same(Ty::Float8, Ty::Bool, f));
            for args in [[Ty::Float4, Ty::Float8], [Ty::Float8, Ty::Float4]] {
                out.push(Cand {
                    args,
                    exec: [Ty::Float8, Ty::Float8],
                    result: Ty::Bool,
                    func: f,
                });
            }
            out.push(same(Ty::Numeric, Ty::Bool, f));
            out.push(same(Ty::Bool, Ty::Bool, f));
            out.push(same(Ty::Text, Ty::Bool, f));
            out.push(same(Ty::Bpchar, Ty::Bool, cmp_fn(op, true)));
            for t in [
                Ty::Date,
                Ty::Time,
                Ty::Timestamp,
                Ty::TimestampTz,
                Ty::Interval,
                Ty::Bytea,
                Ty::Uuid,
            ] {
                out.push(same(t, Ty::Bool, f));
            }
        }
        Concat => {
            out.push(same(Ty::Text, Ty::Text, text_concat));
            out.push(same(Ty::Bytea, Ty::Bytea, dtf::bytea_concat));
            out.push(Cand {
                args: [Ty::Text, Ty::Any],
                exec: [Ty::Text, Ty::Any],
                result: Ty::Text,
                func: any_concat,
            });
            out.push(Cand {
                args: [Ty::Any, Ty::Text],
                exec: [Ty::Any, Ty::Text],
                result: Ty::Text,
                func: any_concat,
            });
        }
        Like | NotLike | ILike | NotILike => {
            let f: ScalarFn = match op {
                Like => like,
                NotLike => not_like,
                ILike => ilike,
                _ => not_ilike,
            };
            out.push(same(Ty::Text, Ty::Bool, f));
            out.push(Cand {
                args: [Ty::Bpchar, Ty::Text],
                exec: [Ty::Bpchar, Ty::Text],
                result: Ty::Bool,
                func: f,
            });
        }
    }
    out
}

/// pg_operator's date/time arithmetic.
fn datetime_candidates(op: BinaryOp, out: &mut Vec<Cand>) {
    use BinaryOp::*;
    use Ty::{Date, Float8, Int4, Interval as Iv, Time, Timestamp as Ts, TimestampTz as Tz};
    let mut c = |a: Ty, b: Ty, result: Ty, func: ScalarFn| {
        out.push(Cand {
            args: [a, b],
            exec: [a, b],
            result,
            func,
        })
    };
    match op {
        Add => {
            c(Date, Int4, Date, dtf::date_pl_int);
            c(Int4, Date, Date, dtf::date_pl_int);
            c(Date, Iv, Ts, dtf::date_pl_interval);
            c(Iv, Date, Ts, dtf::date_pl_interval);
            c(Date, Time, Ts, dtf::date_pl_time);
            c(Time, Date, Ts, dtf::date_pl_time);
            c(Ts, Iv, Ts, dtf::ts_pl_interval);
            c(Iv, Ts, Ts, dtf::ts_pl_interval);
            c(Tz, Iv, Tz, dtf::ts_pl_interval);
            c(Iv, Tz, Tz, dtf::ts_pl_interval);
            c(Time, Iv, Time, dtf::time_pl_interval);
            c(Iv, Time, Time, dtf::time_pl_interval);
            c(Iv, Iv, Iv, dtf::iv_pl_iv);
        }
        Subtract => {
            c(Date, Int4, Date, dtf::date_mi_int);
            c(Date, Date, Int4, dtf::date_mi_date);
            c(Date, Iv, Ts, dtf::date_mi_interval);
            c(Ts, Ts, Iv, dtf::ts_mi_ts);
            c(Tz, Tz, Iv, dtf::ts_mi_ts);
            c(Ts, Iv, Ts, dtf::ts_mi_interval);
            c(Tz, Iv, Tz, dtf::ts_mi_interval);
            c(Time, Time, Iv, dtf::time_mi_time);
            c(Time, Iv, Time, dtf::time_mi_interval);
            c(Iv, Iv, Iv, dtf::iv_mi_iv);
        }
        Multiply => {
            c(Iv, Float8, Iv, dtf::iv_mul);
            c(Float8, Iv, Iv, dtf::iv_mul);
        }
        Divide => c(Iv, Float8, Iv, dtf::iv_div),
        _ => {}
    }
}

pub(crate) fn op_symbol(op: BinaryOp) -> &'static str {
    use BinaryOp::*;
    match op {
        Add => "+",
        Subtract => "-",
        Multiply => "*",
        Divide => "/",
        Modulo => "%",
        Eq => "=",
        NotEq => "<>",
        Lt => "<",
        LtEq => "<=",
        Gt => ">",
        GtEq => ">=",
        Concat => "||",
        Like => "~~",
        NotLike => "!~~",
        ILike => "~~*",
        NotILike => "!~~*",
        BitAnd => "&",
        BitOr => "|",
        BitXor => "#",
        ShiftLeft => "<<",
        ShiftRight => ">>",
        Power => "^",
    }
}

/// The concrete type an argument is cast to: the execution type, except that a known
/// argument already of that base type keeps its modifiers (no-op cast; char(n) keeps its
/// padding for bpchar operators), and `Any` keeps the argument's own type.
pub(crate) fn concrete(exec: Ty, input: Option<&DataType>) -> DataType {
    match input {
        Some(dt) if Ty::of(dt) == exec || exec == Ty::Any => dt.clone(),
        _ => exec.data_type(),
    }
}

/// See [`super::resolve_binary`].
pub fn resolve_binary(
    op: BinaryOp,
    left: Option<&DataType>,
    right: Option<&DataType>,
) -> Result<Resolved> {
    let inputs = [left.map(Ty::of), right.map(Ty::of)];
    let mut cands = candidates(op);
    // `text || anynonarray` must not swallow unknown || unknown or two non-strings: PostgreSQL
    // resolves `anynonarray` only against a known non-unknown type.
    if op == BinaryOp::Concat {
        cands.retain(|c| {
            c.args
                .iter()
                .zip(&inputs)
                .all(|(ct, it)| *ct != Ty::Any || it.is_some())
        });
    }
    let sigs: Vec<&[Ty]> = cands.iter().map(|c| &c.args[..]).collect();
    // PostgreSQL also has date, interval, timestamp, money … arithmetic, so `'1' + '1'` has
    // candidates in several categories there and is ambiguous; keep that answer.
    let both_unknown_arith = inputs == [None, None]
        && matches!(
            op,
            BinaryOp::Add | BinaryOp::Subtract | BinaryOp::Multiply | BinaryOp::Divide
        );
    let selected = if both_unknown_arith {
        Err(NoMatch::Ambiguous)
    } else {
        select(&inputs, &sigs, true)
    };
    match selected {
        Ok(i) => {
            let c = &cands[i];
            let arg_types = vec![concrete(c.exec[0], left), concrete(c.exec[1], right)];
            Ok(Resolved {
                arg_types,
                result_type: c.result.data_type(),
                strict: true,
                func: c.func,
            })
        }
        Err(NoMatch::None) => Err(Error::new(
            ErrorKind::UndefinedFunction,
            format!(
                "operator does not exist: {} {} {}",
                arg_name(inputs[0]),
                op_symbol(op),
                arg_name(inputs[1])
            ),
        )
        .with_hint(
            "No operator matches the given name and argument types. You might need to add explicit type casts.",
        )),
        Err(NoMatch::Ambiguous) => Err(Error::new(
            ErrorKind::AmbiguousFunction,
            format!(
                "operator is not unique: {} {} {}",
                arg_name(inputs[0]),
                op_symbol(op),
                arg_name(inputs[1])
            ),
        )
        .with_hint(
            "Could not choose a best candidate operator. You might need to add explicit type casts.",
        )),
    }
}

/// See [`super::resolve_unary`].
pub fn resolve_unary(op: UnaryOp, arg: Option<&DataType>) -> Result<Resolved> {
    let numeric_types = [
        Ty::Int2,
        Ty::Int4,
        Ty::Int8,
        Ty::Float4,
        Ty::Float8,
        Ty::Numeric,
    ];
    let (types, symbol): (Vec<(Ty, ScalarFn)>, &str) = match op {
        UnaryOp::Plus => (
            numeric_types
                .iter()
                .map(|t| (*t, identity as ScalarFn))
                .collect(),
            "+",
        ),
        UnaryOp::Minus => (
            vec![
                (Ty::Int2, i2_neg as ScalarFn),
                (Ty::Int4, i4_neg),
                (Ty::Int8, i8_neg),
                (Ty::Float4, f4_neg),
                (Ty::Float8, f8_neg),
                (Ty::Numeric, n_neg),
                (Ty::Interval, dtf::iv_neg),
            ],
            "-",
        ),
        UnaryOp::BitNot => (
            vec![
                (Ty::Int2, i2_not as ScalarFn),
                (Ty::Int4, i4_not),
                (Ty::Int8, i8_not),
            ],
            "~",
        ),
        UnaryOp::Not => (vec![(Ty::Bool, bool_not as ScalarFn)], "NOT"),
    };
    let input = [arg.map(Ty::of)];
    let sigs: Vec<[Ty; 1]> = types.iter().map(|(t, _)| [*t]).collect();
    let sig_refs: Vec<&[Ty]> = sigs.iter().map(|s| &s[..]).collect();
    // PostgreSQL's prefix - and ~ also exist for interval, inet, bit …, so an unknown
    // argument is ambiguous there; prefix + exists only for numbers and picks float8.
    let selected = if arg.is_none() && matches!(op, UnaryOp::Minus | UnaryOp::BitNot) {
        Err(NoMatch::Ambiguous)
    } else {
        select(&input, &sig_refs, false)
    };
    match selected {
        Ok(i) => {
            let (t, f) = types[i];
            Ok(Resolved {
                arg_types: vec![concrete(t, arg)],
                result_type: t.data_type(),
                strict: true,
                func: f,
            })
        }
        Err(NoMatch::None) if op == UnaryOp::Not => Err(Error::new(
            ErrorKind::DatatypeMismatch,
            format!(
                "argument of NOT must be type boolean, not type {}",
                arg_name(input[0])
            ),
        )),
        Err(NoMatch::None) => Err(Error::new(
            ErrorKind::UndefinedFunction,
            format!("operator does not exist: {symbol} {}", arg_name(input[0])),
        )
        .with_hint(
            "No operator matches the given name and argument type. You might need to add an explicit type cast.",
        )),
        Err(NoMatch::Ambiguous) => Err(Error::new(
            ErrorKind::AmbiguousFunction,
            format!("operator is not unique: {symbol} {}", arg_name(input[0])),
        )
        .with_hint(
            "Could not choose a best candidate operator. You might need to add an explicit type cast.",
        )),
    }
}
