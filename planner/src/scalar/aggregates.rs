//! Aggregate functions: resolution (argument casts and result type per input type) and the
//! per-group accumulators.
//!
//! Result types are PostgreSQL's: `count` is bigint; `sum` of smallint/integer is bigint, of
//! bigint and numeric is numeric, of floats the float itself; `avg` of any integer or numeric
//! is numeric (computed as numeric `sum / count`, so `avg(1, 2)` prints `1.5000000000000000`),
//! of floats double precision; `min`/`max` keep the argument type. Integer sums accumulate in
//! i128, so `sum(bigint)` cannot overflow. Float variance uses the Youngs–Cramer update
//! PostgreSQL uses, so results agree to the last bit; numeric variance uses PostgreSQL's
//! `(N·Σx² − (Σx)²) / (N·(N−1))` with its division scale.

use super::numeric;
use super::ops::compare;
use super::resolve::{arg_name, select, NoMatch, Ty};
use super::{Accumulator, ResolvedAggregate};
use crate::error::{Error, ErrorKind, Result};
use bigdecimal::{BigDecimal, Zero};
use sledgres_storage::{DataType, Numeric, Value};
use std::cmp::Ordering;

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "stddev",
    "stddev_samp",
    "stddev_pop",
    "variance",
    "var_samp",
    "var_pop",
];

/// See [`super::is_aggregate`].
pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

// ---- accumulators -------------------------------------------------------------------------

#[derive(Default)]
struct Count(i64);
impl Accumulator for Count {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if args.first().is_none_or(|v| !v.is_null()) {
            self.0 += 1;
        }
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        Ok(Value::Int8(self.0))
    }
}

/// Integer sum in i128; `as_numeric` for sum(int8) (numeric result).
struct IntSum {
    sum: i128,
    seen: bool,
    as_numeric: bool,
}
impl Accumulator for IntSum {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let v = match args.first() {
            Some(Value::Int2(i)) => *i as i128,
            Some(Value::Int4(i)) => *i as i128,
            Some(Value::Int8(i)) => *i as i128,
            _ => return Ok(()),
        };
        self.sum += v;
        self.seen = true;
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        if !self.seen {
            return Ok(Value::Null);
        }
        if self.as_numeric {
            return Ok(Value::Numeric(Numeric::Finite(BigDecimal::from(self.sum))));
        }
        i64::try_from(self.sum)
            .map(Value::Int8)
            .map_err(|_| numeric::out_of_range("bigint"))
    }
}

#[derive(Default)]
struct NumericSum {
    sum: Option<Numeric>,
}
impl Accumulator for NumericSum {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if let Some(Value::Numeric(n)) = args.first() {
            self.sum = Some(match &self.sum {
                None => n.clone(),
                Some(s) => numeric::add(s, n),
            });
        }
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        Ok(self.sum.clone().map(Value::Numeric).unwrap_or(Value::Null))
    }
}

#[derive(Default)]
struct Float4Sum(Option<f32>);
impl Accumulator for Float4Sum {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if let Some(Value::Float4(f)) = args.first() {
            let s = self.0.unwrap_or(0.0);
            let r = s + f;
            if r.is_infinite() && s.is_finite() && f.is_finite() {
                return Err(super::ops::float_overflow());
            }
            self.0 = Some(r);
        }
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        Ok(self.0.map(Value::Float4).unwrap_or(Value::Null))
    }
}

/// float8 running state shared by sum, avg and the variance family (PostgreSQL's
/// `float8_accum` Youngs–Cramer transition).
#[derive(Default)]
struct FloatStats {
    n: f64,
    sx: f64,
    sxx: f64,
    kind: FloatAgg,
}
#[derive(Default, Clone, Copy, PartialEq)]
enum FloatAgg {
    #[default]
    Sum,
    Avg,
    VarSamp,
    VarPop,
    StddevSamp,
    StddevPop,
}
impl Accumulator for FloatStats {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let x = match args.first() {
            Some(Value::Float8(f)) => *f,
            Some(Value::Float4(f)) => *f as f64,
            _ => return Ok(()),
        };
        let prev_sx = self.sx;
        self.n += 1.0;
        self.sx += x;
        if self.sx.is_infinite() && prev_sx.is_finite() && x.is_finite() {
            return Err(super::ops::float_overflow());
        }
        if self.kind != FloatAgg::Sum && self.kind != FloatAgg::Avg {
            if self.n > 1.0 {
                let tmp = x * self.n - self.sx;
                self.sxx += tmp * tmp / (self.n * (self.n - 1.0));
            } else if !x.is_finite() {
                self.sxx = f64::NAN;
            }
        }
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        let n = self.n;
        let v = match self.kind {
            _ if n == 0.0 => return Ok(Value::Null),
            FloatAgg::Sum => self.sx,
            FloatAgg::Avg => self.sx / n,
            FloatAgg::VarPop => self.sxx / n,
            FloatAgg::StddevPop => (self.sxx / n).sqrt(),
            _ if n == 1.0 => return Ok(Value::Null),
            FloatAgg::VarSamp => self.sxx / (n - 1.0),
            FloatAgg::StddevSamp => (self.sxx / (n - 1.0)).sqrt(),
        };
        Ok(Value::Float8(v))
    }
}

/// Numeric running sums for avg and the variance family over integers and numerics.
struct NumericStats {
    n: i64,
    sum: Numeric,
    sum_sq: BigDecimal,
    kind: FloatAgg,
}
impl NumericStats {
    fn new(kind: FloatAgg) -> Self {
        NumericStats {
            n: 0,
            sum: Numeric::Finite(BigDecimal::zero()),
            sum_sq: BigDecimal::zero(),
            kind,
        }
    }
}
impl Accumulator for NumericStats {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        let x = match args.first() {
            Some(Value::Int2(i)) => Numeric::Finite((*i).into()),
            Some(Value::Int4(i)) => Numeric::Finite((*i).into()),
            Some(Value::Int8(i)) => Numeric::Finite((*i).into()),
            Some(Value::Numeric(n)) => n.clone(),
            _ => return Ok(()),
        };
        self.n += 1;
        if self.kind != FloatAgg::Avg {
            if let Numeric::Finite(d) = &x {
                self.sum_sq += d * d;
            }
        }
        self.sum = numeric::add(&self.sum, &x);
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        if self.n == 0 {
            return Ok(Value::Null);
        }
        let count = Numeric::Finite(self.n.into());
        if self.kind == FloatAgg::Avg {
            return Ok(Value::Numeric(numeric::div(&self.sum, &count)?));
        }
        let sample = matches!(self.kind, FloatAgg::VarSamp | FloatAgg::StddevSamp);
        if sample && self.n == 1 {
            return Ok(Value::Null);
        }
        let Numeric::Finite(sum) = &self.sum else {
            return Ok(Value::Numeric(Numeric::NaN));
        };
        let n = BigDecimal::from(self.n);
        let sq_sum = (sum * sum).with_scale(numeric::dscale(sum) * 2);
        let numer = (&n * &self.sum_sq) - sq_sum;
        if numer <= BigDecimal::zero() {
            return Ok(Value::Numeric(Numeric::Finite(BigDecimal::zero())));
        }
        let denom = if sample {
            &n * BigDecimal::from(self.n - 1)
        } else {
            &n * &n
        };
        let rscale = numeric::div_scale(&numer, &denom);
        let var = numeric::div_exact(&numer, &denom, rscale, true);
        if matches!(self.kind, FloatAgg::VarSamp | FloatAgg::VarPop) {
            return Ok(Value::Numeric(Numeric::Finite(var)));
        }
        let ctx = bigdecimal::Context::default()
            .with_prec((rscale + 40) as u64)
            .unwrap_or_default();
        let root = var.sqrt_with_context(&ctx).unwrap_or_else(BigDecimal::zero);
        Ok(Value::Numeric(Numeric::Finite(numeric::round_to(
            &root, rscale,
        ))))
    }
}

struct MinMax {
    cur: Option<Value>,
    want: Ordering,
}
impl Accumulator for MinMax {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if let Some(v) = args.first() {
            if v.is_null() {
                return Ok(());
            }
            let replace = match &self.cur {
                None => true,
                Some(c) => compare(v, c) == self.want,
            };
            if replace {
                self.cur = Some(v.clone());
            }
        }
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        Ok(self.cur.clone().unwrap_or(Value::Null))
    }
}

#[derive(Default)]
struct StringAgg(Option<String>);
impl Accumulator for StringAgg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if let Some(Value::Text(s)) = args.first() {
            match &mut self.0 {
                None => self.0 = Some(s.clone()),
                Some(acc) => {
                    if let Some(Value::Text(d)) = args.get(1) {
                        acc.push_str(d);
                    }
                    acc.push_str(s);
                }
            }
        }
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        Ok(self.0.clone().map(Value::Text).unwrap_or(Value::Null))
    }
}

struct BoolAgg {
    cur: Option<bool>,
    and: bool,
}
impl Accumulator for BoolAgg {
    fn update(&mut self, args: &[Value]) -> Result<()> {
        if let Some(Value::Bool(b)) = args.first() {
            self.cur = Some(match self.cur {
                None => *b,
                Some(c) if self.and => c && *b,
                Some(c) => c || *b,
            });
        }
        Ok(())
    }
    fn finish(&self) -> Result<Value> {
        Ok(self.cur.map(Value::Bool).unwrap_or(Value::Null))
    }
}

// Factories: `new_accumulator` is a plain fn pointer, so each variant gets its own.
fn new_count() -> Box<dyn Accumulator> {
    Box::new(Count::default())
}
fn new_sum_int() -> Box<dyn Accumulator> {
    Box::new(IntSum {
        sum: 0,
        seen: false,
        as_numeric: false,
    })
}
fn new_sum_int8() -> Box<dyn Accumulator> {
    Box::new(IntSum {
        sum: 0,
        seen: false,
        as_numeric: true,
    })
}
fn new_sum_numeric() -> Box<dyn Accumulator> {
    Box::new(NumericSum::default())
}
fn new_sum_f4() -> Box<dyn Accumulator> {
    Box::new(Float4Sum::default())
}
fn float_stats(kind: FloatAgg) -> Box<dyn Accumulator> {
    Box::new(FloatStats {
        kind,
        ..Default::default()
    })
}
fn new_sum_f8() -> Box<dyn Accumulator> {
    float_stats(FloatAgg::Sum)
}
fn new_avg_f() -> Box<dyn Accumulator> {
    float_stats(FloatAgg::Avg)
}
fn new_var_samp_f() -> Box<dyn Accumulator> {
    float_stats(FloatAgg::VarSamp)
}
fn new_var_pop_f() -> Box<dyn Accumulator> {
    float_stats(FloatAgg::VarPop)
}
fn new_stddev_samp_f() -> Box<dyn Accumulator> {
    float_stats(FloatAgg::StddevSamp)
}
fn new_stddev_pop_f() -> Box<dyn Accumulator> {
    float_stats(FloatAgg::StddevPop)
}
fn new_avg_n() -> Box<dyn Accumulator> {
    Box::new(NumericStats::new(FloatAgg::Avg))
}
fn new_var_samp_n() -> Box<dyn Accumulator> {
    Box::new(NumericStats::new(FloatAgg::VarSamp))
}
fn new_var_pop_n() -> Box<dyn Accumulator> {
    Box::new(NumericStats::new(FloatAgg::VarPop))
}
fn new_stddev_samp_n() -> Box<dyn Accumulator> {
    Box::new(NumericStats::new(FloatAgg::StddevSamp))
}
fn new_stddev_pop_n() -> Box<dyn Accumulator> {
    Box::new(NumericStats::new(FloatAgg::StddevPop))
}
fn new_min() -> Box<dyn Accumulator> {
    Box::new(MinMax {
        cur: None,
        want: Ordering::Less,
    })
}
fn new_max() -> Box<dyn Accumulator> {
    Box::new(MinMax {
        cur: None,
        want: Ordering::Greater,
    })
}
fn new_string_agg() -> Box<dyn Accumulator> {
    Box::new(StringAgg::default())
}
fn new_bool_and() -> Box<dyn Accumulator> {
    Box::new(BoolAgg {
        cur: None,
        and: true,
    })
}
fn new_bool_or() -> Box<dyn Accumulator> {
    Box::new(BoolAgg {
        cur: None,
        and: false,
    })
}

type Factory = fn() -> Box<dyn Accumulator>;

/// (argument types, result type, factory) overloads of one aggregate.
fn overloads(name: &str) -> Option<Vec<(Vec<Ty>, Ty, Factory)>> {
    use Ty::*;
    let numeric_family = |f4: Factory, n: Factory| {
        vec![
            (vec![Int2], Numeric, n),
            (vec![Int4], Numeric, n),
            (vec![Int8], Numeric, n),
            (vec![Float4], Float8, f4),
            (vec![Float8], Float8, f4),
            (vec![Numeric], Numeric, n),
        ]
    };
    Some(match name {
        "sum" => vec![
            (vec![Int2], Int8, new_sum_int as Factory),
            (vec![Int4], Int8, new_sum_int),
            (vec![Int8], Numeric, new_sum_int8),
            (vec![Float4], Float4, new_sum_f4),
            (vec![Float8], Float8, new_sum_f8),
            (vec![Numeric], Numeric, new_sum_numeric),
        ],
        "avg" => numeric_family(new_avg_f, new_avg_n),
        "stddev" | "stddev_samp" => numeric_family(new_stddev_samp_f, new_stddev_samp_n),
        "stddev_pop" => numeric_family(new_stddev_pop_f, new_stddev_pop_n),
        "variance" | "var_samp" => numeric_family(new_var_samp_f, new_var_samp_n),
        "var_pop" => numeric_family(new_var_pop_f, new_var_pop_n),
        "string_agg" => vec![(vec![Text, Text], Text, new_string_agg as Factory)],
        "bool_and" | "every" => vec![(vec![Bool], Bool, new_bool_and as Factory)],
        "bool_or" => vec![(vec![Bool], Bool, new_bool_or as Factory)],
        _ => return None,
    })
}

fn not_found(name: &str, args: &[Option<Ty>]) -> Error {
    let names: Vec<&str> = args.iter().map(|t| arg_name(*t)).collect();
    Error::new(
        ErrorKind::UndefinedFunction,
        format!("function {name}({}) does not exist", names.join(", ")),
    )
    .with_hint(
        "No function matches the given name and argument types. You might need to add explicit type casts.",
    )
}

/// See [`super::resolve_aggregate`].
pub fn resolve_aggregate(name: &str, args: &[Option<DataType>]) -> Result<ResolvedAggregate> {
    let inputs: Vec<Option<Ty>> = args.iter().map(|a| a.as_ref().map(Ty::of)).collect();
    match name {
        "count" if args.len() <= 1 => {
            return Ok(ResolvedAggregate {
                arg_types: args
                    .iter()
                    .map(|a| a.clone().unwrap_or(DataType::Text))
                    .collect(),
                result_type: DataType::Int8,
                new_accumulator: new_count,
            })
        }
        "min" | "max" if args.len() == 1 && !matches!(args[0], Some(DataType::Bool)) => {
            // Every type we have but boolean has min/max; an unknown argument is text.
            // varchar has no min/max of its own: it goes through min(text).
            let t = match &args[0] {
                None | Some(DataType::Varchar(_)) => DataType::Text,
                Some(t) => t.clone(),
            };
            return Ok(ResolvedAggregate {
                arg_types: vec![t.clone()],
                result_type: t,
                new_accumulator: if name == "min" { new_min } else { new_max },
            });
        }
        _ => {}
    }
    let Some(cands) = overloads(name) else {
        return Err(not_found(name, &inputs));
    };
    let sigs: Vec<&[Ty]> = cands.iter().map(|c| &c.0[..]).collect();
    match select(&inputs, &sigs, false) {
        Ok(i) => {
            let (arg_tys, result, factory) = &cands[i];
            Ok(ResolvedAggregate {
                arg_types: arg_tys
                    .iter()
                    .zip(args)
                    .map(|(t, a)| super::ops::concrete(*t, a.as_ref()))
                    .collect(),
                result_type: result.data_type(),
                new_accumulator: *factory,
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
