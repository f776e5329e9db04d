//! PostgreSQL's type system and function library, for scalar values.
//!
//! What lives here, and nothing else: how a type's values are read from and written as text,
//! how values are cast, how an operator or function call is *resolved* from its argument types
//! (PostgreSQL's rules in "Type Conversion", chapter 10 of its documentation: exact match, then
//! implicit casts, preferred types, unknown literals) and how it is *evaluated*; aggregates'
//! accumulators. The binder decides where casts go by asking this module; the executor only
//! calls the function pointers it was given. Adding a function is a local change here.
//!
//! Types are `Option<DataType>` at resolution time: `None` is PostgreSQL's `unknown`, the type
//! of a quoted literal (`'42'`) or of a parameter nobody has typed yet. Resolution decides what
//! type an unknown argument must take; the binder then converts the literal with
//! [`parse_text`] (or records the parameter's inferred type).
//!
//! The signatures in this file are the contract the binder and executor code against; the
//! work happens in one file per concept:
//!
//! - `resolve.rs`: type categories, preferred types, the implicit-cast table and the
//!   candidate-selection algorithm shared by operators, functions and aggregates, plus
//!   `select_common_type`.
//! - `ops.rs`: operator signatures (as pg_operator has them) and implementations.
//! - `functions.rs`, `aggregates.rs`: the function and aggregate tables.
//! - `cast.rs`: pg_cast's contexts and the conversions themselves.
//! - `text_io.rs`, `float_out.rs`: input/output functions, including PostgreSQL's exact
//!   float output.
//! - `numeric.rs`: numeric arithmetic with PostgreSQL's result scales.
//! - `hash.rs`, `md5.rs`: hashing consistent with equality; `md5()`.
//!
//! Tests compare against files of PostgreSQL 15 answers (`*.expected`, one case a line), so
//! a new case is one line obtained from a real server.

mod aggregates;
mod bytes;
mod cast;
mod datetime;
mod datetime_fns;
mod float_out;
mod functions;
mod hash;
mod md5;
mod numeric;
mod ops;
pub(crate) mod regex;
mod resolve;
#[cfg(test)]
mod tests;
pub(crate) mod text_array;
mod text_io;
mod timezone;

use crate::error::Result;
use sledgres_storage::{DataType, Value};

/// Binary operators whose meaning depends on operand types. AND/OR (three-valued logic),
/// IS [NOT] DISTINCT FROM and IN are the binder's and executor's business, not here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `||`
    Concat,
    Like,
    NotLike,
    ILike,
    NotILike,
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    /// `^`
    Power,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Plus,
    Minus,
    Not,
    BitNot,
}

/// The implementation of a resolved operator or function. Arguments arrive already cast to
/// the resolved argument types. For a strict function (the common case) the executor never
/// calls it with a NULL argument: the result is NULL.
pub type ScalarFn = fn(&[Value]) -> Result<Value>;

/// A resolved operator or function call.
#[derive(Clone)]
pub struct Resolved {
    /// The type each argument must be cast to before the call.
    pub arg_types: Vec<DataType>,
    pub result_type: DataType,
    /// NULL in, NULL out, without calling `func`.
    pub strict: bool,
    pub func: ScalarFn,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("arg_types", &self.arg_types)
            .field("result_type", &self.result_type)
            .field("strict", &self.strict)
            .finish()
    }
}

/// Where a cast happens, which decides whether it is allowed (PostgreSQL's pg_cast contexts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CastContext {
    /// Inserted silently in expressions (int4 → int8, int → numeric, … but not text → int).
    Implicit,
    /// INSERT/UPDATE target columns (also numeric → int, float → int, anything → text).
    Assignment,
    /// `CAST(x AS t)` / `x::t`.
    Explicit,
}

/// The type named by a SQL type in the AST (`int`, `integer`, `int4`, `varchar(10)`,
/// `numeric(10,2)`, `double precision`, `bool`, …). 42704 for an unknown type name.
pub fn type_from_ast(ty: &sqlparser::ast::DataType) -> Result<DataType> {
    text_io::type_from_ast(ty)
}

/// The type's name without modifiers, as `format_type_be` and `pg_typeof` print it.
pub fn type_name(ty: &DataType) -> &'static str {
    resolve::Ty::of(ty).name()
}

/// PostgreSQL's input function: text → value of `ty`, enforcing the type modifier
/// (22P02 invalid input syntax, 22003 out of range, 22001 too long for varchar(n)/char(n)).
pub fn parse_text(ty: &DataType, text: &str) -> Result<Value> {
    text_io::parse_text(ty, text)
}

/// PostgreSQL's output function. `extra_float_digits` > 0 (the default, 1) gives the
/// shortest-round-trip float output PostgreSQL 12+ prints.
pub fn format_text(value: &Value, extra_float_digits: i32) -> String {
    text_io::format_text(value, extra_float_digits)
}

/// Like [`cast`], for when the source type is known: a `char(n)` value cast to text or
/// varchar loses its trailing padding (PostgreSQL's bpchar → text cast is `rtrim`), which the
/// value alone cannot tell. The binder should prefer this wherever it knows the source type.
pub fn cast_typed(
    value: Value,
    from: &DataType,
    to: &DataType,
    context: CastContext,
) -> Result<Value> {
    cast::cast_from(value, Some(from), to, context)
}

/// Whether a value of type `from` may be cast to `to` in `context`.
pub fn can_cast(from: &DataType, to: &DataType, context: CastContext) -> bool {
    cast::can_cast(from, to, context)
}

/// Casts a value (NULL stays NULL), applying the target's type modifier: numeric(p,s)
/// rounds to s and fails with 22003 past p; varchar(n) fails with 22001 (an explicit cast
/// truncates instead, as PostgreSQL does); char(n) pads.
pub fn cast(value: Value, to: &DataType, context: CastContext) -> Result<Value> {
    cast::cast(value, to, context)
}

/// Resolves `left op right`. 42883 "operator does not exist: integer + text" with the hint
/// PostgreSQL gives when nothing matches.
pub fn resolve_binary(
    op: BinaryOp,
    left: Option<&DataType>,
    right: Option<&DataType>,
) -> Result<Resolved> {
    ops::resolve_binary(op, left, right)
}

/// Resolves a prefix operator.
pub fn resolve_unary(op: UnaryOp, arg: Option<&DataType>) -> Result<Resolved> {
    ops::resolve_unary(op, arg)
}

/// Resolves a scalar function call by name (lower case, unqualified) and argument types.
/// 42883 "function foo(integer) does not exist" when nothing matches.
pub fn resolve_function(name: &str, args: &[Option<DataType>]) -> Result<Resolved> {
    functions::resolve_function(name, args)
}

/// Whether the scalar function `name` is volatile (may return a different value on each call
/// with the same arguments, like `random()`), so must not be folded into a constant or
/// evaluated once per statement. Every operator and every other function here is immutable.
pub fn is_volatile_function(name: &str) -> bool {
    functions::is_volatile(name)
}

/// Sets the session time zone this thread's timestamptz input, output and conversions use
/// (the `TimeZone` setting: `UTC`, `GMT`, or a fixed offset such as `+05:30`). The session
/// should call it whenever it starts work on a thread and when TimeZone changes; the
/// default is UTC. 22023 for a zone that is not recognised.
pub fn set_time_zone(name: &str) -> Result<()> {
    datetime::set_time_zone(name)
}

/// The spelling SHOW reports for a `TimeZone` value, or `None` if it names no zone.
pub fn time_zone_name(name: &str) -> Option<String> {
    datetime::lookup_zone(name).map(|(_, canonical)| canonical)
}

/// Whether `name` is an aggregate function (count, sum, avg, min, max, …).
pub fn is_aggregate(name: &str) -> bool {
    aggregates::is_aggregate(name)
}

/// An aggregate's running state for one group.
pub trait Accumulator: Send {
    /// Feeds one input row's argument values (already cast to the resolved types). NULL
    /// arguments are passed through; the accumulator ignores them as SQL says (count(*) gets
    /// an empty slice).
    fn update(&mut self, args: &[Value]) -> Result<()>;
    /// The aggregate's value for the group (e.g. NULL for sum over no non-null input).
    fn finish(&self) -> Result<Value>;
}

/// A resolved aggregate: argument casts, result type (sum(int4) is int8, avg(int) is numeric,
/// …) and a factory for per-group accumulators. `distinct` is handled by the executor, which
/// feeds each distinct argument tuple once.
#[derive(Clone)]
pub struct ResolvedAggregate {
    pub arg_types: Vec<DataType>,
    pub result_type: DataType,
    pub new_accumulator: fn() -> Box<dyn Accumulator>,
}

/// Resolves `name(args)` as an aggregate; `args` is empty for `count(*)`.
pub fn resolve_aggregate(name: &str, args: &[Option<DataType>]) -> Result<ResolvedAggregate> {
    aggregates::resolve_aggregate(name, args)
}

/// PostgreSQL's `select_common_type`: the type that the branches of CASE, COALESCE, UNION,
/// VALUES columns and IN lists are cast to. All unknown → text. The first known type wins
/// ties, so pass types in PostgreSQL's order: for CASE that is the ELSE branch first, then
/// the THEN branches (PostgreSQL's error reads "CASE types text and integer" for
/// `CASE WHEN … THEN 1 ELSE 'a'::text END`). 42804 "CASE types integer and
/// text cannot be matched" style errors (`context` is e.g. "CASE", "UNION", "COALESCE").
pub fn common_type(types: &[Option<DataType>], context: &str) -> Result<DataType> {
    resolve::common_type(types, context)
}

/// Equality for grouping, DISTINCT, hash join and set operations, between two non-NULL
/// values of the same type (numeric 1.0 = 1.00, float -0 = 0, NaN = NaN).
pub fn values_equal(a: &Value, b: &Value) -> bool {
    a.cmp_same_type(b) == std::cmp::Ordering::Equal
}

/// Hashes a non-NULL value consistently with [`values_equal`].
pub fn hash_value<H: std::hash::Hasher>(value: &Value, state: &mut H) {
    hash::hash_value(value, state)
}
