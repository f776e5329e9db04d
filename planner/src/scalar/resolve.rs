//! Overload resolution: choosing one candidate signature for an operator or function call.
//!
//! This is PostgreSQL's algorithm from "Type Conversion" (chapter 10), simplified to the types
//! sledgres has. Types are grouped into *categories* (boolean, numeric, string), each with one
//! *preferred* type (float8 for numeric, text for string). Given the argument types — `None`
//! for `unknown`, i.e. an untyped quoted literal or parameter — and the candidate signatures:
//!
//! 1. An exact match wins. For a binary operator with one unknown side, the unknown side is
//!    first assumed to have the other side's type (so `'1' + 1` is `int4 + int4`).
//! 2. Candidates whose every argument can be reached by an implicit cast survive; one survivor
//!    wins.
//! 3. Keep those with the most exact matches, then those with the most matches-or-preferred
//!    types at positions that need a cast.
//! 4. For unknown arguments, pick a category per position: string if any candidate takes a
//!    string there, else the one category all candidates agree on; prefer its preferred type.
//! 5. If known arguments all share one type, assume the unknowns have it too.
//!
//! Anything still ambiguous is an error (42725), nothing at all is 42883; callers phrase the
//! message. [`common_type`] (CASE, UNION, COALESCE …) is `select_common_type`: a separate,
//! simpler rule based on the same categories.
//!
//! `Ty` is the typmod-free type that resolution works with. `varchar` behaves like `text` here
//! (PostgreSQL's varchar has no operators of its own), but stays distinct so that exact-match
//! counting sees the difference, as PostgreSQL's does.

use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::DataType;

/// A type without modifiers, as overload resolution sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Ty {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Varchar,
    Bpchar,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Bytea,
    Uuid,
    /// `anynonarray`/`anyelement`: accepts any type as is.
    Any,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Category {
    Boolean,
    Numeric,
    String,
    /// date, time, timestamp, timestamptz (preferred).
    DateTime,
    /// interval (preferred).
    Timespan,
    /// uuid ('U' in pg_type).
    UserDefined,
    Pseudo,
}

impl Ty {
    pub(crate) fn of(dt: &DataType) -> Ty {
        match dt {
            DataType::Bool => Ty::Bool,
            DataType::Int2 => Ty::Int2,
            DataType::Int4 => Ty::Int4,
            DataType::Int8 => Ty::Int8,
            DataType::Float4 => Ty::Float4,
            DataType::Float8 => Ty::Float8,
            DataType::Numeric { .. } => Ty::Numeric,
            DataType::Text | DataType::Name => Ty::Text,
            DataType::Varchar(_) => Ty::Varchar,
            DataType::Char(_) => Ty::Bpchar,
            DataType::Date => Ty::Date,
            DataType::Time => Ty::Time,
            DataType::Timestamp => Ty::Timestamp,
            DataType::TimestampTz => Ty::TimestampTz,
            DataType::Interval => Ty::Interval,
            DataType::Bytea => Ty::Bytea,
            DataType::Uuid => Ty::Uuid,
        }
    }

    /// The concrete type a value of this `Ty` gets when nothing else says otherwise (an
    /// unconstrained bpchar becomes text: same values, and its comparisons are chosen by the
    /// resolved function, not the value).
    pub(crate) fn data_type(self) -> DataType {
        match self {
            Ty::Bool => DataType::Bool,
            Ty::Int2 => DataType::Int2,
            Ty::Int4 => DataType::Int4,
            Ty::Int8 => DataType::Int8,
            Ty::Float4 => DataType::Float4,
            Ty::Float8 => DataType::Float8,
            Ty::Numeric => DataType::Numeric {
                precision: None,
                scale: None,
            },
            Ty::Text | Ty::Any => DataType::Text,
            Ty::Varchar => DataType::Varchar(None),
            Ty::Bpchar => DataType::Text,
            Ty::Date => DataType::Date,
            Ty::Time => DataType::Time,
            Ty::Timestamp => DataType::Timestamp,
            Ty::TimestampTz => DataType::TimestampTz,
            Ty::Interval => DataType::Interval,
            Ty::Bytea => DataType::Bytea,
            Ty::Uuid => DataType::Uuid,
        }
    }

    pub(crate) fn category(self) -> Category {
        match self {
            Ty::Bool => Category::Boolean,
            Ty::Int2 | Ty::Int4 | Ty::Int8 | Ty::Float4 | Ty::Float8 | Ty::Numeric => {
                Category::Numeric
            }
            Ty::Text | Ty::Varchar | Ty::Bpchar => Category::String,
            Ty::Date | Ty::Time | Ty::Timestamp | Ty::TimestampTz => Category::DateTime,
            Ty::Interval => Category::Timespan,
            Ty::Bytea | Ty::Uuid => Category::UserDefined,
            Ty::Any => Category::Pseudo,
        }
    }

    pub(crate) fn is_preferred(self) -> bool {
        matches!(
            self,
            Ty::Bool | Ty::Float8 | Ty::Text | Ty::TimestampTz | Ty::Interval
        )
    }

    /// `format_type_be`'s name (no modifiers), as error messages print it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Bool => "boolean",
            Ty::Int2 => "smallint",
            Ty::Int4 => "integer",
            Ty::Int8 => "bigint",
            Ty::Float4 => "real",
            Ty::Float8 => "double precision",
            Ty::Numeric => "numeric",
            Ty::Text => "text",
            Ty::Varchar => "character varying",
            Ty::Bpchar => "character",
            Ty::Date => "date",
            Ty::Time => "time without time zone",
            Ty::Timestamp => "timestamp without time zone",
            Ty::TimestampTz => "timestamp with time zone",
            Ty::Interval => "interval",
            Ty::Bytea => "bytea",
            Ty::Uuid => "uuid",
            Ty::Any => "anynonarray",
        }
    }
}

/// The name of a possibly-unknown argument type in an error message.
pub(crate) fn arg_name(t: Option<Ty>) -> &'static str {
    t.map(Ty::name).unwrap_or("unknown")
}

/// pg_cast's implicit casts between our types (plus `Any`, which takes everything).
pub(crate) fn implicit(from: Ty, to: Ty) -> bool {
    use Ty::*;
    if from == to || to == Any {
        return true;
    }
    matches!(
        (from, to),
        (Int2, Int4 | Int8 | Float4 | Float8 | Numeric)
            | (Int4, Int8 | Float4 | Float8 | Numeric)
            | (Int8, Float4 | Float8 | Numeric)
            | (Float4, Float8)
            | (Numeric, Float4 | Float8)
            | (Text, Varchar | Bpchar)
            | (Varchar, Text | Bpchar)
            | (Bpchar, Text | Varchar)
            | (Date, Timestamp | TimestampTz)
            | (Timestamp, TimestampTz)
            | (Time, Interval)
    )
}

/// Why resolution failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoMatch {
    /// No candidate accepts the arguments.
    None,
    /// Several candidates remain and nothing prefers one.
    Ambiguous,
}

/// Chooses among `candidates` (argument type lists) for `inputs`; returns the index.
/// `binary_op` turns on the operator rule "an unknown side takes the other side's type".
pub(crate) fn select(
    inputs: &[Option<Ty>],
    candidates: &[&[Ty]],
    binary_op: bool,
) -> std::result::Result<usize, NoMatch> {
    let fits_len = |c: &&[Ty]| c.len() == inputs.len();
    // 1. Exact match.
    let mut exact_inputs: Vec<Option<Ty>> = inputs.to_vec();
    if binary_op && inputs.len() == 2 {
        match (inputs[0], inputs[1]) {
            (None, Some(t)) => exact_inputs[0] = Some(t),
            (Some(t), None) => exact_inputs[1] = Some(t),
            _ => {}
        }
    }
    for (i, c) in candidates.iter().enumerate() {
        if fits_len(c) && c.iter().zip(&exact_inputs).all(|(ct, it)| Some(*ct) == *it) {
            return Ok(i);
        }
    }
    // 2. Implicitly coercible candidates.
    let mut live: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let c = candidates[i];
            fits_len(&c)
                && c.iter().zip(inputs).all(|(ct, it)| match it {
                    None => true,
                    Some(t) => implicit(*t, *ct),
                })
        })
        .collect();
    match live.len() {
        0 => return Err(NoMatch::None),
        1 => return Ok(live[0]),
        _ => {}
    }
    // 3a. Most exact matches.
    let keep_best = |live: &mut Vec<usize>, score: &dyn Fn(&[Ty]) -> usize| {
        let best = live
            .iter()
            .map(|&i| score(candidates[i]))
            .max()
            .unwrap_or(0);
        live.retain(|&i| score(candidates[i]) == best);
    };
    keep_best(&mut live, &|c: &[Ty]| {
        c.iter()
            .zip(inputs)
            .filter(|(ct, it)| Some(**ct) == **it)
            .count()
    });
    if live.len() == 1 {
        return Ok(live[0]);
    }
    // 3b. Most exact-or-preferred matches (preferred within the input's category).
    keep_best(&mut live, &|c: &[Ty]| {
        c.iter()
            .zip(inputs)
            .filter(|(ct, it)| match it {
                Some(t) => *t == **ct || (ct.is_preferred() && ct.category() == t.category()),
                None => false,
            })
            .count()
    });
    if live.len() == 1 {
        return Ok(live[0]);
    }
    if inputs.iter().all(Option::is_some) {
        return Err(NoMatch::Ambiguous);
    }
    // 4. Resolve unknown positions by category.
    let mut resolved_any = false;
    let mut wanted: Vec<Option<(Category, bool)>> = vec![None; inputs.len()];
    for (pos, input) in inputs.iter().enumerate() {
        if input.is_some() {
            continue;
        }
        let mut cat: Option<Category> = None;
        let mut conflict = false;
        let mut has_preferred = false;
        for &i in &live {
            let ct = candidates[i][pos];
            let c = ct.category();
            match cat {
                None => {
                    cat = Some(c);
                    has_preferred = ct.is_preferred();
                }
                Some(Category::String) => {
                    if c == Category::String && ct.is_preferred() {
                        has_preferred = true;
                    }
                }
                Some(prev) if c == Category::String => {
                    let _ = prev;
                    cat = Some(c);
                    has_preferred = ct.is_preferred();
                    conflict = false;
                }
                Some(prev) if prev == c => {
                    if ct.is_preferred() {
                        has_preferred = true;
                    }
                }
                Some(_) => conflict = true,
            }
        }
        if conflict {
            continue;
        }
        if let Some(c) = cat {
            wanted[pos] = Some((c, has_preferred));
            resolved_any = true;
        }
    }
    if resolved_any {
        let kept: Vec<usize> = live
            .iter()
            .copied()
            .filter(|&i| {
                wanted.iter().enumerate().all(|(pos, w)| match w {
                    None => true,
                    Some((cat, pref)) => {
                        let ct = candidates[i][pos];
                        ct.category() == *cat && (!pref || ct.is_preferred())
                    }
                })
            })
            .collect();
        if !kept.is_empty() {
            live = kept;
        }
        if live.len() == 1 {
            return Ok(live[0]);
        }
    }
    // 5. Unknowns take the type shared by all known arguments.
    let known: Vec<Ty> = inputs.iter().flatten().copied().collect();
    if let Some(&first) = known.first() {
        if known.iter().all(|t| *t == first) {
            let fit: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&i| {
                    candidates[i]
                        .iter()
                        .zip(inputs)
                        .all(|(ct, it)| it.is_some() || implicit(first, *ct))
                })
                .collect();
            if fit.len() == 1 {
                return Ok(fit[0]);
            }
        }
    }
    Err(NoMatch::Ambiguous)
}

/// PostgreSQL's `select_common_type`.
pub fn common_type(types: &[Option<DataType>], context: &str) -> Result<DataType> {
    let mut chosen: Option<&DataType> = None;
    for t in types.iter().flatten() {
        let Some(cur) = chosen else {
            chosen = Some(t);
            continue;
        };
        let (pt, nt) = (Ty::of(cur), Ty::of(t));
        if pt == nt {
            // Same base type: differing modifiers widen to the unconstrained type.
            if cur != t {
                chosen_unconstrained(&mut chosen, t);
            }
            continue;
        }
        if pt.category() != nt.category() {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!(
                    "{context} types {} and {} cannot be matched",
                    pt.name(),
                    nt.name()
                ),
            ));
        }
        if !(pt.is_preferred()) && implicit(pt, nt) && !implicit(nt, pt) {
            chosen = Some(t);
        }
    }
    let Some(result) = chosen else {
        return Ok(DataType::Text);
    };
    // Every input must be implicitly castable to the result.
    let rt = Ty::of(result);
    for t in types.iter().flatten() {
        if !implicit(Ty::of(t), rt) {
            return Err(Error::new(
                ErrorKind::CannotCoerce,
                format!(
                    "{context} could not convert type {} to {}",
                    Ty::of(t).name(),
                    rt.name()
                ),
            ));
        }
    }
    Ok(result.clone())
}

/// When branches share a base type but not a modifier, PostgreSQL keeps the first branch's
/// full type only if all agree; otherwise the modifier is dropped.
fn chosen_unconstrained<'a>(chosen: &mut Option<&'a DataType>, _other: &'a DataType) {
    static NUMERIC: DataType = DataType::Numeric {
        precision: None,
        scale: None,
    };
    static VARCHAR: DataType = DataType::Varchar(None);
    static TEXT: DataType = DataType::Text;
    let widened: Option<&'a DataType> = match *chosen {
        Some(DataType::Numeric { .. }) => Some(&NUMERIC),
        Some(DataType::Varchar(_)) => Some(&VARCHAR),
        // bpchar without a length: text holds the same values.
        Some(DataType::Char(_)) => Some(&TEXT),
        other => other,
    };
    *chosen = widened;
}
