//! Joins. The right input is materialised (a hash table on the join keys, or a plain list
//! for a nested loop) and the left input streams past it; the optimizer puts the smaller,
//! newly joined relation on the right. A hash join whose build side outgrows `work_mem`
//! becomes a grace hash join (both sides hash-partitioned to temporary files, then joined
//! partition by partition; see `spill.rs`). A LEFT join emits the left row padded with NULLs
//! when nothing matched; a FULL join also remembers which right rows matched and, once the
//! left input is exhausted, emits the others padded with NULLs on the left.

use super::expr::PExpr;
use super::hashkey::HashKey;
use super::spill::{self, PartitionChain, Partitions, SpillReader};
use super::{open, BoxOp, ExecCtx, Operator, PhysPlan, CANCEL_CHECK_INTERVAL};
use crate::error::{Error, Result};
use crate::plan::JoinKind;
use sledgres_storage::{Row, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Rows of the right side that match the current left row, pending output.
struct Pending {
    left: Row,
    matches: Arc<Vec<Row>>,
    /// Which bucket `matches` is (FULL joins mark matched right rows per bucket).
    bucket: usize,
    pos: usize,
    matched: bool,
}

/// FULL join bookkeeping: a flag per right row of each bucket, and the right rows not yet
/// emitted after the left side ended.
#[derive(Default)]
struct RightMatches {
    flags: Vec<Vec<bool>>,
    buckets: Vec<Arc<Vec<Row>>>,
    tail: Option<std::vec::IntoIter<Row>>,
}

impl RightMatches {
    fn new(buckets: Vec<Arc<Vec<Row>>>) -> Self {
        RightMatches {
            flags: buckets.iter().map(|b| vec![false; b.len()]).collect(),
            buckets,
            tail: None,
        }
    }

    /// The next unmatched right row, NULL-padded on the left.
    fn next_unmatched(&mut self, left_width: usize) -> Option<Row> {
        if self.tail.is_none() {
            let mut rest = vec![];
            for (b, flags) in self.buckets.iter().zip(&self.flags) {
                for (row, m) in b.iter().zip(flags) {
                    if !m {
                        rest.push(row.clone());
                    }
                }
            }
            self.tail = Some(rest.into_iter());
        }
        let r = self.tail.as_mut()?.next()?;
        let mut out: Row = std::iter::repeat_n(Value::Null, left_width).collect();
        out.extend(r);
        Some(out)
    }
}

pub struct HashJoinOp {
    left: BoxOp,
    left_keys: Arc<Vec<PExpr>>,
    residual: Option<Arc<PExpr>>,
    kind: JoinKind,
    right_width: usize,
    table: HashMap<HashKey, (usize, Arc<Vec<Row>>)>,
    pending: Option<Pending>,
    full: Option<RightMatches>,
    left_width: usize,
    ctx: Arc<ExecCtx>,
}

/// Where a hash join's probe (left) rows come from: the plan, opened once the build side
/// is complete (as in-memory joins always did), or a spilled partition.
enum LeftInput {
    Plan(Arc<PhysPlan>),
    Op(BoxOp),
}

impl LeftInput {
    fn open(self, ctx: &Arc<ExecCtx>) -> Result<BoxOp> {
        match self {
            LeftInput::Plan(p) => open(&p, ctx),
            LeftInput::Op(op) => Ok(op),
        }
    }
}

/// A build or probe side with no rows (a partition that received none).
struct Empty;

impl Operator for Empty {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(None)
    }
}

impl HashJoinOp {
    /// Opens a hash join: an in-memory join if the build side fits in `work_mem`, else a
    /// grace hash join over partitions of both sides.
    pub fn open(node: Arc<PhysPlan>, ctx: &Arc<ExecCtx>) -> Result<BoxOp> {
        let PhysPlan::HashJoin { left, right, .. } = &*node else {
            return Err(Error::internal("HashJoinOp on another node"));
        };
        let right = open(right, ctx)?;
        let left = LeftInput::Plan(left.clone());
        Self::build(node, right, left, ctx, 0)
    }

    fn build(
        node: Arc<PhysPlan>,
        mut r: BoxOp,
        left: LeftInput,
        ctx: &Arc<ExecCtx>,
        depth: u32,
    ) -> Result<BoxOp> {
        let PhysPlan::HashJoin {
            left_keys,
            right_keys,
            residual,
            kind,
            right_width,
            left_width,
            ..
        } = &*node
        else {
            return Err(Error::internal("HashJoinOp on another node"));
        };
        // Right rows with a NULL key match nothing but a FULL join still emits them.
        let mut null_keyed = vec![];
        let mut table: HashMap<HashKey, Vec<Row>> = HashMap::new();
        let mut n = 0usize;
        let mut bytes = 0usize;
        while let Some(row) = r.next()? {
            n += 1;
            if n.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                ctx.check_cancel()?;
            }
            let key = right_keys
                .iter()
                .map(|e| e.eval(&row, ctx))
                .collect::<Result<Row>>()?;
            if key.iter().any(|v| v.is_null()) {
                if *kind == JoinKind::Full {
                    bytes += spill::row_bytes(&row);
                    null_keyed.push(row);
                }
                continue;
            }
            bytes += spill::row_bytes(&row) + spill::row_bytes(&key) + spill::ENTRY_OVERHEAD;
            table.entry(HashKey(key)).or_default().push(row);
            if bytes > ctx.work_mem && depth < spill::MAX_DEPTH {
                return Self::grace(node.clone(), table, null_keyed, r, left, ctx, depth);
            }
        }
        let table: HashMap<HashKey, (usize, Arc<Vec<Row>>)> = table
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| (k, (i, Arc::new(v))))
            .collect();
        let full = (*kind == JoinKind::Full).then(|| {
            let mut buckets: Vec<Arc<Vec<Row>>> =
                (0..table.len()).map(|_| Arc::new(vec![])).collect();
            for (i, b) in table.values() {
                buckets[*i] = b.clone();
            }
            buckets.push(Arc::new(null_keyed));
            RightMatches::new(buckets)
        });
        Ok(Box::new(HashJoinOp {
            left: left.open(ctx)?,
            left_keys: left_keys.clone(),
            residual: residual.clone(),
            kind: *kind,
            right_width: *right_width,
            table,
            pending: None,
            full,
            left_width: *left_width,
            ctx: ctx.clone(),
        }))
    }

    /// Grace hash join: the build side did not fit. Writes what was read so far and the rest
    /// of the build side to partitions by key hash, then the probe side the same way, and
    /// joins each pair of partitions on its own. Rows with a NULL key match nothing: they go
    /// to partition 0 where they still count for LEFT/FULL joins (and are dropped otherwise).
    fn grace(
        node: Arc<PhysPlan>,
        table: HashMap<HashKey, Vec<Row>>,
        null_keyed: Vec<Row>,
        mut r: BoxOp,
        left: LeftInput,
        ctx: &Arc<ExecCtx>,
        depth: u32,
    ) -> Result<BoxOp> {
        let PhysPlan::HashJoin {
            left_keys,
            right_keys,
            kind,
            ..
        } = &*node
        else {
            return Err(Error::internal("HashJoinOp on another node"));
        };
        let mut rparts = Partitions::new(depth);
        for (k, rows) in table {
            let part = rparts.partition_of(&k);
            for row in rows {
                rparts.write(part, &row)?;
            }
        }
        for row in null_keyed {
            rparts.write(0, &row)?;
        }
        let mut n = 0usize;
        while let Some(row) = r.next()? {
            n += 1;
            if n.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                ctx.check_cancel()?;
            }
            let key = right_keys
                .iter()
                .map(|e| e.eval(&row, ctx))
                .collect::<Result<Row>>()?;
            if key.iter().any(|v| v.is_null()) {
                if *kind == JoinKind::Full {
                    rparts.write(0, &row)?;
                }
                continue;
            }
            let part = rparts.partition_of(&HashKey(key));
            rparts.write(part, &row)?;
        }
        drop(r);
        let mut lparts = Partitions::new(depth);
        let mut l = left.open(ctx)?;
        while let Some(row) = l.next()? {
            n += 1;
            if n.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                ctx.check_cancel()?;
            }
            let key = left_keys
                .iter()
                .map(|e| e.eval(&row, ctx))
                .collect::<Result<Row>>()?;
            if key.iter().any(|v| v.is_null()) {
                if *kind != JoinKind::Inner {
                    lparts.write(0, &row)?;
                }
                continue;
            }
            let part = lparts.partition_of(&HashKey(key));
            lparts.write(part, &row)?;
        }
        drop(l);
        let pairs: Vec<_> = rparts.finish()?.into_iter().zip(lparts.finish()?).collect();
        let kind = *kind;
        let ctx = ctx.clone();
        Ok(Box::new(PartitionChain::new(
            Box::new(Empty),
            pairs,
            move |(rp, lp): (Option<SpillReader>, Option<SpillReader>)| {
                // Without probe rows only a FULL join has anything to emit; without build
                // rows an inner join has nothing to emit.
                if (lp.is_none() && kind != JoinKind::Full)
                    || (rp.is_none() && kind == JoinKind::Inner)
                {
                    return Ok(None);
                }
                let right: BoxOp = match rp {
                    Some(r) => Box::new(r),
                    None => Box::new(Empty),
                };
                let left: BoxOp = match lp {
                    Some(l) => Box::new(l),
                    None => Box::new(Empty),
                };
                Self::build(node.clone(), right, LeftInput::Op(left), &ctx, depth + 1).map(Some)
            },
        )))
    }
}

impl Operator for HashJoinOp {
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(p) = &mut self.pending {
                if let Some(out) = emit(p, &self.residual, &self.ctx, self.full.as_mut())? {
                    return Ok(Some(out));
                }
                let p = self.pending.take();
                if let Some(p) = p {
                    if !p.matched && self.kind != JoinKind::Inner {
                        return Ok(Some(pad(p.left, self.right_width)));
                    }
                }
            }
            let Some(row) = self.left.next()? else {
                return Ok(self
                    .full
                    .as_mut()
                    .and_then(|f| f.next_unmatched(self.left_width)));
            };
            let key = self
                .left_keys
                .iter()
                .map(|e| e.eval(&row, &self.ctx))
                .collect::<Result<Row>>()?;
            let (bucket, matches) = if key.iter().any(|v| v.is_null()) {
                (usize::MAX, Arc::new(vec![]))
            } else {
                self.table
                    .get(&HashKey(key))
                    .cloned()
                    .unwrap_or((usize::MAX, Arc::new(vec![])))
            };
            self.pending = Some(Pending {
                left: row,
                matches,
                bucket,
                pos: 0,
                matched: false,
            });
        }
    }
}

/// The next joined row of `p` that passes the residual predicate.
fn emit(
    p: &mut Pending,
    residual: &Option<Arc<PExpr>>,
    ctx: &Arc<ExecCtx>,
    full: Option<&mut RightMatches>,
) -> Result<Option<Row>> {
    while p.pos < p.matches.len() {
        let mut out = p.left.clone();
        out.extend(p.matches[p.pos].iter().cloned());
        p.pos += 1;
        if let Some(r) = residual {
            if !r.eval_pred(&out, ctx)? {
                continue;
            }
        }
        p.matched = true;
        if let Some(f) = full {
            if let Some(flag) = f.flags.get_mut(p.bucket).and_then(|b| b.get_mut(p.pos - 1)) {
                *flag = true;
            }
        }
        return Ok(Some(out));
    }
    Ok(None)
}

fn pad(mut left: Row, width: usize) -> Row {
    left.extend(std::iter::repeat_n(Value::Null, width));
    left
}

pub struct NestedLoopOp {
    left: BoxOp,
    right_rows: Arc<Vec<Row>>,
    on: Option<Arc<PExpr>>,
    kind: JoinKind,
    right_width: usize,
    left_width: usize,
    pending: Option<Pending>,
    full: Option<RightMatches>,
    ctx: Arc<ExecCtx>,
    count: usize,
}

impl NestedLoopOp {
    pub fn open(node: Arc<PhysPlan>, ctx: &Arc<ExecCtx>) -> Result<Self> {
        let PhysPlan::NestedLoop {
            left,
            right,
            on,
            kind,
            right_width,
            left_width,
        } = &*node
        else {
            return Err(Error::internal("NestedLoopOp on another node"));
        };
        let mut rows = vec![];
        let mut r = open(right, ctx)?;
        while let Some(row) = r.next()? {
            if rows.len().is_multiple_of(CANCEL_CHECK_INTERVAL) {
                ctx.check_cancel()?;
            }
            rows.push(row);
        }
        let right_rows = Arc::new(rows);
        let full = (*kind == JoinKind::Full).then(|| RightMatches::new(vec![right_rows.clone()]));
        Ok(NestedLoopOp {
            left: open(left, ctx)?,
            right_rows,
            on: on.clone(),
            kind: *kind,
            right_width: *right_width,
            left_width: *left_width,
            pending: None,
            full,
            ctx: ctx.clone(),
            count: 0,
        })
    }
}

impl Operator for NestedLoopOp {
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(p) = &mut self.pending {
                self.count += 1;
                if self.count.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                    self.ctx.check_cancel()?;
                }
                if let Some(out) = emit(p, &self.on, &self.ctx, self.full.as_mut())? {
                    return Ok(Some(out));
                }
                if let Some(p) = self.pending.take() {
                    if !p.matched && self.kind != JoinKind::Inner {
                        return Ok(Some(pad(p.left, self.right_width)));
                    }
                }
            }
            let Some(row) = self.left.next()? else {
                return Ok(self
                    .full
                    .as_mut()
                    .and_then(|f| f.next_unmatched(self.left_width)));
            };
            self.pending = Some(Pending {
                left: row,
                matches: self.right_rows.clone(),
                bucket: 0,
                pos: 0,
                matched: false,
            });
        }
    }
}

/// Index nested loop: for each left row, opens the right plan (a key-range scan whose bounds
/// read the left row) and joins the rows it returns.
pub struct LookupJoinOp {
    left: BoxOp,
    right: Arc<PhysPlan>,
    on: Option<Arc<PExpr>>,
    kind: JoinKind,
    right_width: usize,
    pending: Option<Pending>,
    ctx: Arc<ExecCtx>,
    count: usize,
}

impl LookupJoinOp {
    pub fn open(node: Arc<PhysPlan>, ctx: &Arc<ExecCtx>) -> Result<Self> {
        let PhysPlan::LookupJoin {
            left,
            right,
            on,
            kind,
            right_width,
        } = &*node
        else {
            return Err(Error::internal("LookupJoinOp on another node"));
        };
        Ok(LookupJoinOp {
            left: open(left, ctx)?,
            right: right.clone(),
            on: on.clone(),
            kind: *kind,
            right_width: *right_width,
            pending: None,
            ctx: ctx.clone(),
            count: 0,
        })
    }
}

impl Operator for LookupJoinOp {
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(p) = &mut self.pending {
                if let Some(out) = emit(p, &self.on, &self.ctx, None)? {
                    return Ok(Some(out));
                }
                if let Some(p) = self.pending.take() {
                    if !p.matched && self.kind != JoinKind::Inner {
                        return Ok(Some(pad(p.left, self.right_width)));
                    }
                }
            }
            let Some(row) = self.left.next()? else {
                return Ok(None);
            };
            self.count += 1;
            if self.count.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                self.ctx.check_cancel()?;
            }
            let inner = Arc::new(self.ctx.with_outer(row.clone()));
            let mut r = open(&self.right, &inner)?;
            let mut matches = vec![];
            while let Some(m) = r.next()? {
                matches.push(m);
            }
            self.pending = Some(Pending {
                left: row,
                matches: Arc::new(matches),
                bucket: 0,
                pos: 0,
                matched: false,
            });
        }
    }
}
