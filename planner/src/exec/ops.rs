//! The row-at-a-time operators other than scans and joins: VALUES, filter, projection,
//! LIMIT/OFFSET, DISTINCT, hash aggregation, sort and set operations.

use super::expr::{eval_const, PExpr};
use super::hashkey::HashKey;
use super::spill::{self, PartitionChain, Partitions, SpillReader};
use super::{BoxOp, ExecCtx, Operator, PhysPlan, CANCEL_CHECK_INTERVAL};
use crate::error::{Error, ErrorKind, Result};
use crate::plan::SetOpKind;
use crate::scalar::{Accumulator, ResolvedAggregate};
use sledgres_storage::{Row, Value};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub struct ValuesOp {
    rows: std::vec::IntoIter<Row>,
}

impl ValuesOp {
    pub fn new(rows: &[Vec<PExpr>], ctx: &Arc<ExecCtx>) -> Result<Self> {
        let rows = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|e| eval_const(e, ctx))
                    .collect::<Result<Row>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ValuesOp {
            rows: rows.into_iter(),
        })
    }
}

impl Operator for ValuesOp {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.rows.next())
    }
}

/// generate_series(start, stop [, step]) over integers: streams the series without
/// materialising it. A NULL argument gives no rows; a zero step is 22023.
pub struct SeriesOp {
    next: Option<i64>,
    stop: i64,
    step: i64,
    int8: bool,
    ctx: Arc<ExecCtx>,
    produced: usize,
}

impl SeriesOp {
    pub fn new(
        func: crate::plan::TableFunc,
        args: &[PExpr],
        int8: bool,
        ctx: &Arc<ExecCtx>,
    ) -> Result<Self> {
        let crate::plan::TableFunc::GenerateSeries = func;
        let mut vals = vec![];
        for a in args {
            vals.push(match eval_const(a, ctx)? {
                Value::Null => None,
                Value::Int2(v) => Some(i64::from(v)),
                Value::Int4(v) => Some(i64::from(v)),
                Value::Int8(v) => Some(v),
                other => {
                    return Err(Error::internal(format!(
                        "generate_series argument {other:?} is not an integer"
                    )))
                }
            });
        }
        let (start, stop, step) = match vals.as_slice() {
            [a, b] => (*a, *b, Some(1)),
            [a, b, c] => (*a, *b, *c),
            _ => return Err(Error::internal("generate_series takes 2 or 3 arguments")),
        };
        if step == Some(0) {
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                "step size cannot equal zero",
            ));
        }
        let (next, stop, step) = match (start, stop, step) {
            (Some(a), Some(b), Some(c)) => (Some(a), b, c),
            _ => (None, 0, 1),
        };
        Ok(SeriesOp {
            next,
            stop,
            step,
            int8,
            ctx: ctx.clone(),
            produced: 0,
        })
    }
}

impl Operator for SeriesOp {
    fn next(&mut self) -> Result<Option<Row>> {
        let Some(v) = self.next else {
            return Ok(None);
        };
        if (self.step > 0 && v > self.stop) || (self.step < 0 && v < self.stop) {
            self.next = None;
            return Ok(None);
        }
        self.produced += 1;
        if self.produced.is_multiple_of(CANCEL_CHECK_INTERVAL) {
            self.ctx.check_cancel()?;
        }
        self.next = v.checked_add(self.step);
        let value = if self.int8 {
            Value::Int8(v)
        } else {
            // The bounds are int4 values, so the series stays in range.
            Value::Int4(i32::try_from(v).map_err(|_| Error::internal("int4 series overflow"))?)
        };
        Ok(Some(vec![value]))
    }
}

pub struct FilterOp {
    pub node: Arc<PhysPlan>,
    pub input: BoxOp,
    pub ctx: Arc<ExecCtx>,
    pub removed: u64,
}

impl Operator for FilterOp {
    fn next(&mut self) -> Result<Option<Row>> {
        let PhysPlan::Filter { predicate, .. } = &*self.node else {
            return Err(Error::internal("FilterOp on a non-filter node"));
        };
        while let Some(row) = self.input.next()? {
            if predicate.eval_pred(&row, &self.ctx)? {
                return Ok(Some(row));
            }
            self.removed += 1;
        }
        Ok(None)
    }

    fn removed_by_filter(&self) -> u64 {
        self.removed
    }
}

pub struct ProjectOp {
    pub exprs: Arc<Vec<PExpr>>,
    pub input: BoxOp,
    pub ctx: Arc<ExecCtx>,
}

impl Operator for ProjectOp {
    fn next(&mut self) -> Result<Option<Row>> {
        let Some(row) = self.input.next()? else {
            return Ok(None);
        };
        Ok(Some(
            self.exprs
                .iter()
                .map(|e| e.eval(&row, &self.ctx))
                .collect::<Result<Row>>()?,
        ))
    }
}

pub struct LimitOp {
    input: BoxOp,
    skip: u64,
    left: Option<u64>,
}

impl LimitOp {
    pub fn new(
        input: BoxOp,
        limit: &Option<PExpr>,
        offset: &Option<PExpr>,
        ctx: &Arc<ExecCtx>,
    ) -> Result<Self> {
        let eval = |e: &Option<PExpr>, what: &str| -> Result<Option<u64>> {
            let Some(e) = e else { return Ok(None) };
            match eval_const(e, ctx)? {
                Value::Null => Ok(None),
                Value::Int8(n) if n < 0 => Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("{what} must not be negative"),
                )),
                Value::Int8(n) => Ok(Some(n as u64)),
                _ => Err(Error::internal("LIMIT/OFFSET is not bigint")),
            }
        };
        Ok(LimitOp {
            input,
            left: eval(limit, "LIMIT")?,
            skip: eval(offset, "OFFSET")?.unwrap_or(0),
        })
    }
}

impl Operator for LimitOp {
    fn next(&mut self) -> Result<Option<Row>> {
        if self.left == Some(0) {
            return Ok(None);
        }
        while self.skip > 0 {
            if self.input.next()?.is_none() {
                return Ok(None);
            }
            self.skip -= 1;
        }
        let r = self.input.next()?;
        if r.is_some() {
            if let Some(n) = &mut self.left {
                *n -= 1;
            }
        }
        Ok(r)
    }
}

/// DISTINCT: streams each row the first time it is seen. Once the set of seen rows passes
/// `work_mem`, rows not in it go to hash partitions instead (they may repeat each other);
/// after the input ends each partition is de-duplicated on its own.
pub struct DistinctOp {
    input: BoxOp,
    seen: HashSet<HashKey>,
    ctx: Arc<ExecCtx>,
    bytes: usize,
    depth: u32,
    parts: Option<Partitions>,
    tail: Option<BoxOp>,
}

impl DistinctOp {
    pub fn new(input: BoxOp, ctx: &Arc<ExecCtx>) -> Self {
        Self::at_depth(input, ctx, 0)
    }

    fn at_depth(input: BoxOp, ctx: &Arc<ExecCtx>, depth: u32) -> Self {
        DistinctOp {
            input,
            seen: HashSet::new(),
            ctx: ctx.clone(),
            bytes: 0,
            depth,
            parts: None,
            tail: None,
        }
    }
}

impl Operator for DistinctOp {
    fn next(&mut self) -> Result<Option<Row>> {
        if let Some(t) = &mut self.tail {
            return t.next();
        }
        let mut n = 0usize;
        while let Some(row) = self.input.next()? {
            n += 1;
            if n.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                self.ctx.check_cancel()?;
            }
            let key = HashKey(row);
            if self.seen.contains(&key) {
                continue;
            }
            if let Some(p) = &mut self.parts {
                let part = p.partition_of(&key);
                p.write(part, &key.0)?;
                continue;
            }
            self.bytes += 2 * spill::row_bytes(&key.0) + spill::ENTRY_OVERHEAD;
            if self.bytes > self.ctx.work_mem && self.depth < spill::MAX_DEPTH {
                self.parts = Some(Partitions::new(self.depth));
            }
            let row = key.0.clone();
            self.seen.insert(key);
            return Ok(Some(row));
        }
        let Some(parts) = self.parts.take() else {
            return Ok(None);
        };
        self.seen = HashSet::new();
        let ctx = self.ctx.clone();
        let depth = self.depth + 1;
        let mut tail: BoxOp = Box::new(PartitionChain::new(
            Box::new(ValuesOp {
                rows: vec![].into_iter(),
            }),
            parts.finish()?,
            move |p: Option<SpillReader>| {
                Ok(p.map(|r| Box::new(DistinctOp::at_depth(Box::new(r), &ctx, depth)) as BoxOp))
            },
        ));
        let r = tail.next();
        self.tail = Some(tail);
        r
    }
}

/// A compiled aggregate call.
pub struct PAgg {
    pub func: ResolvedAggregate,
    pub args: Vec<PExpr>,
    pub distinct: bool,
    pub filter: Option<PExpr>,
    /// `agg(x ORDER BY …)`: (key, descending, nulls first); such an aggregate's inputs are
    /// buffered per group and fed sorted when the input ends.
    pub order: Vec<(PExpr, bool, bool)>,
}

impl std::fmt::Debug for PAgg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PAgg")
            .field("args", &self.args)
            .field("distinct", &self.distinct)
            .finish()
    }
}

struct Group {
    key: Row,
    accs: Vec<Box<dyn Accumulator>>,
    seen: Vec<HashSet<HashKey>>,
    /// Per aggregate with ORDER BY: buffered (sort key, arguments).
    buffered: Vec<Vec<(Row, Row)>>,
}

/// Hash aggregation: consumes the input, then yields one row per group (group values, then
/// aggregate values). Without GROUP BY, exactly one row, even for empty input.
///
/// Once the groups' estimated size passes `work_mem`, rows of groups already in the table
/// still update them, but rows of new groups are written to hash partitions; each partition
/// is aggregated afterwards on its own (recursively, with a new hash seed), one at a time.
/// Each group's state is estimated at its key plus 64 bytes per aggregate, plus the inputs a
/// DISTINCT or ORDER BY aggregate buffers (those keep growing for groups already in memory).
pub fn aggregate(
    input: BoxOp,
    group: Arc<Vec<PExpr>>,
    aggs: Arc<Vec<PAgg>>,
    ctx: &Arc<ExecCtx>,
) -> Result<BoxOp> {
    aggregate_at(input, group, aggs, ctx, 0)
}

fn aggregate_at(
    mut input: BoxOp,
    group: Arc<Vec<PExpr>>,
    aggs: Arc<Vec<PAgg>>,
    ctx: &Arc<ExecCtx>,
    depth: u32,
) -> Result<BoxOp> {
    let can_spill = !group.is_empty() && depth < spill::MAX_DEPTH;
    let mut bytes = 0usize;
    let mut parts: Option<Partitions> = None;
    let new_group = |key: Row| Group {
        key,
        accs: aggs.iter().map(|a| (a.func.new_accumulator)()).collect(),
        seen: aggs.iter().map(|_| HashSet::new()).collect(),
        buffered: aggs.iter().map(|_| vec![]).collect(),
    };
    let mut groups: Vec<Group> = vec![];
    let mut index: HashMap<HashKey, usize> = HashMap::new();
    if group.is_empty() {
        groups.push(new_group(vec![]));
    }
    let mut n = 0usize;
    while let Some(row) = input.next()? {
        n += 1;
        if n.is_multiple_of(CANCEL_CHECK_INTERVAL) {
            ctx.check_cancel()?;
        }
        let gi = if group.is_empty() {
            0
        } else {
            let key = group
                .iter()
                .map(|e| e.eval(&row, ctx))
                .collect::<Result<Row>>()?;
            let key = HashKey(key);
            match index.get(&key) {
                Some(&i) => i,
                None => {
                    if let Some(p) = &mut parts {
                        let part = p.partition_of(&key);
                        p.write(part, &row)?;
                        continue;
                    }
                    bytes += 2 * spill::row_bytes(&key.0) + spill::ENTRY_OVERHEAD + 64 * aggs.len();
                    if can_spill && bytes > ctx.work_mem {
                        parts = Some(Partitions::new(depth));
                    }
                    groups.push(new_group(key.0.clone()));
                    index.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            }
        };
        let g = &mut groups[gi];
        for (i, a) in aggs.iter().enumerate() {
            if let Some(f) = &a.filter {
                if !f.eval_pred(&row, ctx)? {
                    continue;
                }
            }
            let args = a
                .args
                .iter()
                .map(|e| e.eval(&row, ctx))
                .collect::<Result<Row>>()?;
            if a.distinct {
                // DISTINCT aggregates ignore NULL inputs and feed each value once.
                if args.iter().any(|v| v.is_null()) || !g.seen[i].insert(HashKey(args.clone())) {
                    continue;
                }
                bytes += spill::row_bytes(&args) + spill::ENTRY_OVERHEAD;
            }
            if !a.order.is_empty() {
                let key = a
                    .order
                    .iter()
                    .map(|(e, _, _)| e.eval(&row, ctx))
                    .collect::<Result<Row>>()?;
                bytes += spill::row_bytes(&key) + spill::row_bytes(&args);
                g.buffered[i].push((key, args));
                continue;
            }
            g.accs[i].update(&args)?;
        }
    }
    let mut rows = vec![];
    for mut g in groups {
        for (i, a) in aggs.iter().enumerate() {
            if a.order.is_empty() {
                continue;
            }
            let mut buf = std::mem::take(&mut g.buffered[i]);
            buf.sort_by(|(x, _), (y, _)| {
                for (k, (_, desc, nf)) in a.order.iter().enumerate() {
                    let o = compare_key(&x[k], &y[k], *desc, *nf);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
            for (_, args) in buf {
                g.accs[i].update(&args)?;
            }
        }
        let mut r = g.key;
        for a in &g.accs {
            r.push(a.finish()?);
        }
        rows.push(r);
    }
    let done: BoxOp = Box::new(ValuesOp {
        rows: rows.into_iter(),
    });
    let Some(parts) = parts else {
        return Ok(done);
    };
    drop(index);
    let ctx = ctx.clone();
    Ok(Box::new(PartitionChain::new(
        done,
        parts.finish()?,
        move |p: Option<SpillReader>| {
            p.map(|r| aggregate_at(Box::new(r), group.clone(), aggs.clone(), &ctx, depth + 1))
                .transpose()
        },
    )))
}

/// Compares two values for ORDER BY with the key's direction and NULL placement.
pub fn compare_key(a: &Value, b: &Value, desc: bool, nulls_first: bool) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => {
            if nulls_first {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (false, true) => {
            if nulls_first {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        _ => {
            let o = a.cmp_same_type(b);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    }
}

/// UNION [ALL] streams; INTERSECT and EXCEPT count the right side's rows first.
pub fn set_op(
    kind: SetOpKind,
    all: bool,
    left: BoxOp,
    mut right: BoxOp,
    ctx: &Arc<ExecCtx>,
) -> Result<BoxOp> {
    if kind == SetOpKind::Union {
        let chain = ChainOp {
            inputs: vec![right, left],
        };
        if all {
            return Ok(Box::new(chain));
        }
        return Ok(Box::new(DistinctOp::new(Box::new(chain), ctx)));
    }
    let mut counts: HashMap<HashKey, usize> = HashMap::new();
    while let Some(r) = right.next()? {
        *counts.entry(HashKey(r)).or_default() += 1;
    }
    Ok(Box::new(CountedSetOp {
        left,
        counts,
        emitted: HashSet::new(),
        intersect: kind == SetOpKind::Intersect,
        all,
    }))
}

struct ChainOp {
    /// Remaining inputs, the current one last.
    inputs: Vec<BoxOp>,
}

impl Operator for ChainOp {
    fn next(&mut self) -> Result<Option<Row>> {
        while let Some(op) = self.inputs.last_mut() {
            if let Some(r) = op.next()? {
                return Ok(Some(r));
            }
            self.inputs.pop();
        }
        Ok(None)
    }
}

struct CountedSetOp {
    left: BoxOp,
    counts: HashMap<HashKey, usize>,
    emitted: HashSet<HashKey>,
    intersect: bool,
    all: bool,
}

impl Operator for CountedSetOp {
    fn next(&mut self) -> Result<Option<Row>> {
        while let Some(row) = self.left.next()? {
            let key = HashKey(row.clone());
            let in_right = match self.counts.get_mut(&key) {
                Some(n) if *n > 0 => {
                    if self.all {
                        *n -= 1;
                    }
                    true
                }
                _ => false,
            };
            let keep = if self.intersect { in_right } else { !in_right };
            if !keep {
                continue;
            }
            if !self.all && !self.emitted.insert(key) {
                continue;
            }
            return Ok(Some(row));
        }
        Ok(None)
    }
}
