//! Data types and values: what a column holds, independent of SQL text.
//!
//! The storage layer stores and orders [`Value`]s; it never parses or prints SQL. Text input and
//! output (PostgreSQL's `typinput`/`typoutput`), casts and arithmetic live in the planner, which
//! owns SQL semantics. What lives here is the *representation*:
//!
//! - [`DataType`]: a column's declared type, including its type modifier (`varchar(10)`,
//!   `numeric(10,2)`), because the catalog stores it.
//! - [`Value`]: one datum. Each SQL type has exactly one variant, so a value carries its own
//!   type and rows need no external schema to be decoded. `char(n)`/`varchar(n)` are stored as
//!   [`Value::Text`] (already padded or checked by the planner).
//! - A total order over values of the same type ([`Value::cmp_same_type`]), matching PostgreSQL's
//!   btree order (NaN above every other float, `-0 = 0`), used by sorting and the key encoding.
//!
//! Date/time values use PostgreSQL's own representations, so binary wire formats are a
//! byte-swap away and arithmetic matches its overflow points: `date` is days since
//! 2000-01-01 (`i32::MIN`/`i32::MAX` are `-infinity`/`infinity`), `time` is microseconds since
//! midnight, `timestamp` is microseconds since 2000-01-01 00:00 and `timestamptz` the same
//! instant in UTC (`i64::MIN`/`i64::MAX` are the infinities); `interval` keeps months, days and
//! microseconds apart because a month has no fixed length. Intervals compare (and are equal)
//! by their span with a month counted as 30 days and a day as 24 hours, as in PostgreSQL.
//!
//! Values are serialised with serde/postcard for row storage (see `transaction.rs`) and with the
//! order-preserving encoding in `keycode.rs` for keys.

use bigdecimal::BigDecimal;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A column's declared type. Type modifiers are `None` when unconstrained.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; both `None` for unconstrained `numeric`.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Text,
    /// `varchar(n)`; `None` for unconstrained `varchar`.
    Varchar(Option<u32>),
    /// `char(n)` (bpchar); `char` alone is `char(1)`.
    Char(u32),
    Date,
    /// `time without time zone`.
    Time,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    TimestampTz,
    Interval,
    Bytea,
    Uuid,
    /// `name`: PostgreSQL's 63-byte identifier type. Its values are text (truncated to 63
    /// bytes on input); it resolves like text in expressions.
    Name,
}

impl DataType {
    /// PostgreSQL's name for the type, as `format_type` prints it.
    pub fn pg_name(&self) -> String {
        match self {
            DataType::Bool => "boolean".into(),
            DataType::Int2 => "smallint".into(),
            DataType::Int4 => "integer".into(),
            DataType::Int8 => "bigint".into(),
            DataType::Float4 => "real".into(),
            DataType::Float8 => "double precision".into(),
            DataType::Numeric {
                precision: Some(p),
                scale,
            } => {
                format!("numeric({},{})", p, scale.unwrap_or(0))
            }
            DataType::Numeric { .. } => "numeric".into(),
            DataType::Text => "text".into(),
            DataType::Varchar(Some(n)) => format!("character varying({n})"),
            DataType::Varchar(None) => "character varying".into(),
            DataType::Char(n) => format!("character({n})"),
            DataType::Date => "date".into(),
            DataType::Time => "time without time zone".into(),
            DataType::Timestamp => "timestamp without time zone".into(),
            DataType::TimestampTz => "timestamp with time zone".into(),
            DataType::Interval => "interval".into(),
            DataType::Bytea => "bytea".into(),
            DataType::Uuid => "uuid".into(),
            DataType::Name => "name".into(),
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pg_name())
    }
}

/// Arbitrary-precision decimal with PostgreSQL's special values.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Numeric {
    Finite(BigDecimal),
    NaN,
    PosInfinity,
    NegInfinity,
}

impl Numeric {
    /// PostgreSQL order: -Infinity < finite < +Infinity < NaN.
    pub fn total_cmp(&self, other: &Self) -> Ordering {
        fn rank(n: &Numeric) -> u8 {
            match n {
                Numeric::NegInfinity => 0,
                Numeric::Finite(_) => 1,
                Numeric::PosInfinity => 2,
                Numeric::NaN => 3,
            }
        }
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => a.cmp(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

/// An `interval`: months, days and microseconds, kept apart as PostgreSQL keeps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    pub const MICROS_PER_DAY: i64 = 86_400_000_000;

    /// The span used for comparison: a month is 30 days, a day 24 hours (PostgreSQL's
    /// `interval_cmp_value`).
    pub fn span(&self) -> i128 {
        (self.months as i128 * 30 + self.days as i128) * Self::MICROS_PER_DAY as i128
            + self.micros as i128
    }
}

/// One datum. `Null` is typeless; everything else carries its type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Numeric),
    /// text, varchar(n) and char(n).
    Text(String),
    /// Days since 2000-01-01; `i32::MIN`/`i32::MAX` are `-infinity`/`infinity`.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 2000-01-01 00:00; `i64::MIN`/`i64::MAX` are the infinities.
    Timestamp(i64),
    /// Microseconds since 2000-01-01 00:00 UTC; `i64::MIN`/`i64::MAX` are the infinities.
    TimestampTz(i64),
    Interval(Interval),
    Bytea(Vec<u8>),
    Uuid([u8; 16]),
}

/// A row: one value per column, in the table's column order.
pub type Row = Vec<Value>;

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Total order between two values of the same type, as PostgreSQL's btree operator class
    /// orders them. `Null` sorts after everything (NULLS LAST, PostgreSQL's default for ASC).
    /// Values of different variants are ordered by variant; callers compare like with like.
    pub fn cmp_same_type(&self, other: &Value) -> Ordering {
        use Value::*;
        match (self, other) {
            (Null, Null) => Ordering::Equal,
            (Null, _) => Ordering::Greater,
            (_, Null) => Ordering::Less,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int2(a), Int2(b)) => a.cmp(b),
            (Int4(a), Int4(b)) => a.cmp(b),
            (Int8(a), Int8(b)) => a.cmp(b),
            (Float4(a), Float4(b)) => float_cmp(*a as f64, *b as f64),
            (Float8(a), Float8(b)) => float_cmp(*a, *b),
            (Numeric(a), Numeric(b)) => a.total_cmp(b),
            (Text(a), Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Date(a), Date(b)) => a.cmp(b),
            (Time(a), Time(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) => a.cmp(b),
            (TimestampTz(a), TimestampTz(b)) => a.cmp(b),
            (Interval(a), Interval(b)) => a.span().cmp(&b.span()),
            (Bytea(a), Bytea(b)) => a.cmp(b),
            (Uuid(a), Uuid(b)) => a.cmp(b),
            _ => self.variant_rank().cmp(&other.variant_rank()),
        }
    }

    fn variant_rank(&self) -> u8 {
        match self {
            Value::Bool(_) => 0,
            Value::Int2(_) => 1,
            Value::Int4(_) => 2,
            Value::Int8(_) => 3,
            Value::Float4(_) => 4,
            Value::Float8(_) => 5,
            Value::Numeric(_) => 6,
            Value::Text(_) => 7,
            Value::Date(_) => 8,
            Value::Time(_) => 9,
            Value::Timestamp(_) => 10,
            Value::TimestampTz(_) => 11,
            Value::Interval(_) => 12,
            Value::Bytea(_) => 13,
            Value::Uuid(_) => 14,
            Value::Null => 255,
        }
    }
}

/// PostgreSQL float order: NaN is equal to itself and greater than everything; -0 = 0.
pub fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_sorts_last_and_negative_zero_equals_zero() {
        assert_eq!(float_cmp(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(float_cmp(-0.0, 0.0), Ordering::Equal);
        assert_eq!(
            Value::Null.cmp_same_type(&Value::Int4(i32::MAX)),
            Ordering::Greater
        );
    }
}
