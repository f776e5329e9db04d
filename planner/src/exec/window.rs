//! Window functions (`Plan::Window`).
//!
//! The operator materialises its input, then computes each call in turn: it sorts the row
//! indexes by (PARTITION BY, ORDER BY) — stable, so ties keep input order — splits them into
//! partitions and, within a partition, into peer groups (rows equal on ORDER BY). A row's
//! frame is a range of positions in its partition derived from the frame mode:
//! ROWS counts rows, GROUPS counts peer groups, RANGE without an offset is bounded by peer
//! groups (so the default frame, RANGE UNBOUNDED PRECEDING .. CURRENT ROW, includes the
//! current row's peers). Aggregates whose frame starts at UNBOUNDED PRECEDING are computed
//! incrementally (the frame end never moves back); other frames re-aggregate per row.
//! Rows come out in the order of the last call's sort, as PostgreSQL's do.

use super::expr::{eval_const, PExpr};
use super::ops::compare_key;
use super::{BoxOp, ExecCtx, Operator, CANCEL_CHECK_INTERVAL};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::window::{FrameMode, WinFunc};
use sledgres_storage::{Row, Value};
use std::cmp::Ordering;
use std::sync::Arc;

/// A compiled window call.
#[derive(Debug)]
pub struct PWindow {
    pub func: WinFunc,
    pub filter: Option<PExpr>,
    pub args: Vec<PExpr>,
    pub partition: Vec<PExpr>,
    pub order: Vec<(PExpr, bool, bool)>,
    pub mode: FrameMode,
    pub start: PBound,
    pub end: PBound,
}

#[derive(Debug)]
pub enum PBound {
    UnboundedPreceding,
    Preceding(PExpr),
    CurrentRow,
    Following(PExpr),
    UnboundedFollowing,
}

pub struct RowsOp(std::vec::IntoIter<Row>);

impl Operator for RowsOp {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.0.next())
    }
}

/// A bound resolved for one execution: offsets evaluated.
#[derive(Clone, Copy)]
enum Bound {
    UnboundedPreceding,
    Preceding(usize),
    CurrentRow,
    Following(usize),
    UnboundedFollowing,
}

fn offset(e: &PExpr, ctx: &Arc<ExecCtx>, which: &str) -> Result<usize> {
    match eval_const(e, ctx)? {
        Value::Null => Err(Error::new(
            ErrorKind::NullValueNotAllowed,
            format!("frame {which} offset must not be null"),
        )),
        v => {
            let n = int_of(&v);
            if n < 0 {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("frame {which} offset must not be negative"),
                ));
            }
            Ok(n as usize)
        }
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int2(i) => *i as i64,
        Value::Int4(i) => *i as i64,
        Value::Int8(i) => *i,
        _ => 0,
    }
}

fn resolve(b: &PBound, ctx: &Arc<ExecCtx>, which: &str) -> Result<Bound> {
    Ok(match b {
        PBound::UnboundedPreceding => Bound::UnboundedPreceding,
        PBound::Preceding(e) => Bound::Preceding(offset(e, ctx, which)?),
        PBound::CurrentRow => Bound::CurrentRow,
        PBound::Following(e) => Bound::Following(offset(e, ctx, which)?),
        PBound::UnboundedFollowing => Bound::UnboundedFollowing,
    })
}

pub fn window(mut input: BoxOp, calls: &[PWindow], ctx: &Arc<ExecCtx>) -> Result<RowsOp> {
    let mut rows: Vec<Row> = vec![];
    while let Some(r) = input.next()? {
        if rows.len().is_multiple_of(CANCEL_CHECK_INTERVAL) {
            ctx.check_cancel()?;
        }
        rows.push(r);
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut results: Vec<Vec<Value>> = vec![];
    for call in calls {
        let (vals, sorted) = compute(call, &rows, ctx)?;
        results.push(vals);
        order = sorted;
    }
    let out: Vec<Row> = order
        .into_iter()
        .map(|i| {
            let mut r = rows[i].clone();
            r.extend(results.iter().map(|v| v[i].clone()));
            r
        })
        .collect();
    Ok(RowsOp(out.into_iter()))
}

fn cmp_keys(a: &[Value], b: &[Value], dirs: &[(bool, bool)]) -> Ordering {
    for (i, (desc, nf)) in dirs.iter().enumerate() {
        let o = compare_key(&a[i], &b[i], *desc, *nf);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// One call's value for every row (by input index), and the sorted index order.
fn compute(call: &PWindow, rows: &[Row], ctx: &Arc<ExecCtx>) -> Result<(Vec<Value>, Vec<usize>)> {
    let eval_all =
        |es: &[&PExpr], r: &Row| -> Result<Row> { es.iter().map(|e| e.eval(r, ctx)).collect() };
    let pexprs: Vec<&PExpr> = call.partition.iter().collect();
    let oexprs: Vec<&PExpr> = call.order.iter().map(|(e, _, _)| e).collect();
    let mut keyed: Vec<(Row, Row, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| Ok((eval_all(&pexprs, r)?, eval_all(&oexprs, r)?, i)))
        .collect::<Result<_>>()?;
    let pdirs: Vec<(bool, bool)> = vec![(false, false); pexprs.len()];
    let odirs: Vec<(bool, bool)> = call.order.iter().map(|(_, d, n)| (*d, *n)).collect();
    keyed.sort_by(|a, b| cmp_keys(&a.0, &b.0, &pdirs).then_with(|| cmp_keys(&a.1, &b.1, &odirs)));
    // RANGE offsets are per-row values (see `partition_values`), not constants.
    let per_row = |b: &PBound| {
        call.mode == FrameMode::Range && matches!(b, PBound::Preceding(_) | PBound::Following(_))
    };
    let start = if per_row(&call.start) {
        Bound::UnboundedPreceding
    } else {
        resolve(&call.start, ctx, "starting")?
    };
    let end = if per_row(&call.end) {
        Bound::UnboundedFollowing
    } else {
        resolve(&call.end, ctx, "ending")?
    };
    let mut out = vec![Value::Null; rows.len()];
    let mut p0 = 0;
    while p0 < keyed.len() {
        let mut p1 = p0 + 1;
        while p1 < keyed.len() && cmp_keys(&keyed[p0].0, &keyed[p1].0, &pdirs) == Ordering::Equal {
            p1 += 1;
        }
        let part = &keyed[p0..p1];
        // Peer groups: group[i] is the group number of position i; bounds[g] its range.
        let mut group = vec![0usize; part.len()];
        let mut bounds: Vec<(usize, usize)> = vec![];
        let mut g0 = 0;
        for i in 1..=part.len() {
            if i == part.len() || cmp_keys(&part[g0].1, &part[i].1, &odirs) != Ordering::Equal {
                for slot in group.iter_mut().take(i).skip(g0) {
                    *slot = bounds.len();
                }
                bounds.push((g0, i));
                g0 = i;
            }
        }
        let vals = partition_values(call, part, &group, &bounds, start, end, rows, ctx)?;
        for (k, v) in vals.into_iter().enumerate() {
            out[part[k].2] = v;
        }
        p0 = p1;
    }
    Ok((out, keyed.into_iter().map(|k| k.2).collect()))
}

/// The frame [start, end) of position `i` in a partition of `n` rows.
fn frame(
    mode: FrameMode,
    start: Bound,
    end: Bound,
    i: usize,
    n: usize,
    group: &[usize],
    bounds: &[(usize, usize)],
) -> (usize, usize) {
    let g = group[i];
    let s = match (start, mode) {
        (Bound::UnboundedPreceding, _) => 0,
        (Bound::CurrentRow, FrameMode::Rows) => i,
        (Bound::CurrentRow, _) => bounds[g].0,
        (Bound::Preceding(k), FrameMode::Rows) => i.saturating_sub(k),
        (Bound::Preceding(k), _) => bounds[g.saturating_sub(k)].0,
        (Bound::Following(k), FrameMode::Rows) => (i + k).min(n),
        (Bound::Following(k), _) => bounds.get(g + k).map_or(n, |b| b.0),
        (Bound::UnboundedFollowing, _) => n,
    };
    let e = match (end, mode) {
        (Bound::UnboundedFollowing, _) => n,
        (Bound::CurrentRow, FrameMode::Rows) => i + 1,
        (Bound::CurrentRow, _) => bounds[g].1,
        (Bound::Following(k), FrameMode::Rows) => (i + k + 1).min(n),
        (Bound::Following(k), _) => bounds.get(g + k).map_or(n, |b| b.1),
        (Bound::Preceding(k), FrameMode::Rows) => (i + 1).saturating_sub(k),
        (Bound::Preceding(k), _) => {
            if g < k {
                0
            } else {
                bounds[g - k].1
            }
        }
        (Bound::UnboundedPreceding, _) => 0,
    };
    (s, e.max(s))
}

#[allow(clippy::too_many_arguments)]
fn partition_values(
    call: &PWindow,
    part: &[(Row, Row, usize)],
    group: &[usize],
    bounds: &[(usize, usize)],
    start: Bound,
    end: Bound,
    rows: &[Row],
    ctx: &Arc<ExecCtx>,
) -> Result<Vec<Value>> {
    let n = part.len();
    let row = |k: usize| &rows[part[k].2];
    let arg = |a: usize, k: usize| -> Result<Value> {
        match call.args.get(a) {
            Some(e) => e.eval(row(k), ctx),
            None => Ok(Value::Null),
        }
    };
    // A row's frame; RANGE offset bounds are found by binary search on the sorted keys
    // (rows before the bound value compare Less; NULL keys sort where ORDER BY puts them).
    let (desc, nulls_first) = call.order.first().map_or((false, false), |o| (o.1, o.2));
    let range_pos = |i: usize, b: &PBound, is_start: bool| -> Result<Option<usize>> {
        let (PBound::Preceding(e) | PBound::Following(e)) = b else {
            return Ok(None);
        };
        if call.mode != FrameMode::Range {
            return Ok(None);
        }
        let key = &part[i].1[0];
        if key.is_null() {
            // A NULL key's frame is its peers (the other NULLs).
            let g = bounds[group[i]];
            return Ok(Some(if is_start { g.0 } else { g.1 }));
        }
        let v = e.eval(row(i), ctx)?;
        Ok(Some(if is_start {
            part.partition_point(|p| compare_key(&p.1[0], &v, desc, nulls_first) == Ordering::Less)
        } else {
            part.partition_point(|p| {
                compare_key(&p.1[0], &v, desc, nulls_first) != Ordering::Greater
            })
        }))
    };
    let fr = |i: usize| -> Result<(usize, usize)> {
        let (mut s, mut e) = frame(call.mode, start, end, i, n, group, bounds);
        if let Some(p) = range_pos(i, &call.start, true)? {
            s = p;
        }
        if let Some(p) = range_pos(i, &call.end, false)? {
            e = p;
        }
        Ok((s, e.max(s)))
    };
    let mut out = Vec::with_capacity(n);
    match &call.func {
        WinFunc::RowNumber => out.extend((0..n).map(|i| Value::Int8(i as i64 + 1))),
        WinFunc::Rank => out.extend((0..n).map(|i| Value::Int8(bounds[group[i]].0 as i64 + 1))),
        WinFunc::DenseRank => out.extend((0..n).map(|i| Value::Int8(group[i] as i64 + 1))),
        WinFunc::PercentRank => out.extend((0..n).map(|i| {
            Value::Float8(if n > 1 {
                bounds[group[i]].0 as f64 / (n - 1) as f64
            } else {
                0.0
            })
        })),
        WinFunc::CumeDist => {
            out.extend((0..n).map(|i| Value::Float8(bounds[group[i]].1 as f64 / n as f64)))
        }
        WinFunc::Ntile => {
            for i in 0..n {
                let v = arg(0, i)?;
                if v.is_null() {
                    out.push(Value::Null);
                    continue;
                }
                let k = int_of(&v);
                if k <= 0 {
                    return Err(Error::new(
                        ErrorKind::InvalidParameterValue,
                        "argument of ntile must be greater than zero",
                    ));
                }
                let k = k as usize;
                // The first n % k buckets get one row more.
                let (per, extra) = (n / k, n % k);
                let big = (per + 1) * extra;
                let b = if per == 0 || i < big {
                    i / (per + 1)
                } else {
                    extra + (i - big) / per
                };
                out.push(Value::Int4(b as i32 + 1));
            }
        }
        WinFunc::Lag | WinFunc::Lead => {
            for i in 0..n {
                let off = if call.args.len() > 1 {
                    let v = arg(1, i)?;
                    if v.is_null() {
                        out.push(Value::Null);
                        continue;
                    }
                    int_of(&v)
                } else {
                    1
                };
                let target = if matches!(call.func, WinFunc::Lag) {
                    i as i64 - off
                } else {
                    i as i64 + off
                };
                if target >= 0 && (target as usize) < n {
                    out.push(arg(0, target as usize)?);
                } else {
                    out.push(arg(2, i)?);
                }
            }
        }
        WinFunc::FirstValue | WinFunc::LastValue | WinFunc::NthValue => {
            for i in 0..n {
                let (s, e) = fr(i)?;
                let pos = match call.func {
                    WinFunc::FirstValue => (s < e).then_some(s),
                    WinFunc::LastValue => (s < e).then(|| e - 1),
                    _ => {
                        let v = arg(1, i)?;
                        if v.is_null() {
                            out.push(Value::Null);
                            continue;
                        }
                        let k = int_of(&v);
                        if k <= 0 {
                            return Err(Error::new(
                                ErrorKind::InvalidParameterValue,
                                "argument of nth_value must be greater than zero",
                            ));
                        }
                        let p = s + k as usize - 1;
                        (p < e).then_some(p)
                    }
                };
                out.push(match pos {
                    Some(p) => arg(0, p)?,
                    None => Value::Null,
                });
            }
        }
        WinFunc::Agg(func, _) => {
            let feed = |acc: &mut Box<dyn crate::scalar::Accumulator>, k: usize| -> Result<()> {
                if let Some(f) = &call.filter {
                    if !f.eval_pred(row(k), ctx)? {
                        return Ok(());
                    }
                }
                let a = call
                    .args
                    .iter()
                    .map(|e| e.eval(row(k), ctx))
                    .collect::<Result<Row>>()?;
                acc.update(&a)
            };
            if matches!(call.start, PBound::UnboundedPreceding) {
                let mut acc = (func.new_accumulator)();
                let mut fed = 0;
                for i in 0..n {
                    let (_, e) = fr(i)?;
                    while fed < e {
                        feed(&mut acc, fed)?;
                        fed += 1;
                    }
                    out.push(acc.finish()?);
                }
            } else {
                for i in 0..n {
                    if i % CANCEL_CHECK_INTERVAL == 0 {
                        ctx.check_cancel()?;
                    }
                    let (s, e) = fr(i)?;
                    let mut acc = (func.new_accumulator)();
                    for k in s..e {
                        feed(&mut acc, k)?;
                    }
                    out.push(acc.finish()?);
                }
            }
        }
    }
    Ok(out)
}
