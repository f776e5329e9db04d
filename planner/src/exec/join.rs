//! Joins. The right input is materialised (a hash table on the join keys, or a plain list
//! for a nested loop) and the left input streams past it; the optimizer puts the smaller,
//! newly joined relation on the right. A LEFT join emits the left row padded with NULLs
//! when nothing matched.

use super::expr::PExpr;
use super::hashkey::HashKey;
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
    pos: usize,
    matched: bool,
}

pub struct HashJoinOp {
    left: BoxOp,
    left_keys: Arc<Vec<PExpr>>,
    residual: Option<Arc<PExpr>>,
    kind: JoinKind,
    right_width: usize,
    table: HashMap<HashKey, Arc<Vec<Row>>>,
    pending: Option<Pending>,
    ctx: Arc<ExecCtx>,
}

impl HashJoinOp {
    pub fn open(node: Arc<PhysPlan>, ctx: &Arc<ExecCtx>) -> Result<Self> {
        let PhysPlan::HashJoin {
            left,
            right,
            left_keys,
            right_keys,
            residual,
            kind,
            right_width,
        } = &*node
        else {
            return Err(Error::internal("HashJoinOp on another node"));
        };
        let mut table: HashMap<HashKey, Vec<Row>> = HashMap::new();
        let mut r = open(right, ctx)?;
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
                continue;
            }
            table.entry(HashKey(key)).or_default().push(row);
        }
        Ok(HashJoinOp {
            left: open(left, ctx)?,
            left_keys: left_keys.clone(),
            residual: residual.clone(),
            kind: *kind,
            right_width: *right_width,
            table: table.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
            pending: None,
            ctx: ctx.clone(),
        })
    }
}

impl Operator for HashJoinOp {
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(p) = &mut self.pending {
                if let Some(out) = emit(p, &self.residual, &self.ctx)? {
                    return Ok(Some(out));
                }
                let p = self.pending.take();
                if let Some(p) = p {
                    if !p.matched && self.kind == JoinKind::Left {
                        return Ok(Some(pad(p.left, self.right_width)));
                    }
                }
            }
            let Some(row) = self.left.next()? else {
                return Ok(None);
            };
            let key = self
                .left_keys
                .iter()
                .map(|e| e.eval(&row, &self.ctx))
                .collect::<Result<Row>>()?;
            let matches = if key.iter().any(|v| v.is_null()) {
                Arc::new(vec![])
            } else {
                self.table.get(&HashKey(key)).cloned().unwrap_or_default()
            };
            self.pending = Some(Pending {
                left: row,
                matches,
                pos: 0,
                matched: false,
            });
        }
    }
}

/// The next joined row of `p` that passes the residual predicate.
fn emit(p: &mut Pending, residual: &Option<Arc<PExpr>>, ctx: &Arc<ExecCtx>) -> Result<Option<Row>> {
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
    pending: Option<Pending>,
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
        Ok(NestedLoopOp {
            left: open(left, ctx)?,
            right_rows: Arc::new(rows),
            on: on.clone(),
            kind: *kind,
            right_width: *right_width,
            pending: None,
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
                if let Some(out) = emit(p, &self.on, &self.ctx)? {
                    return Ok(Some(out));
                }
                if let Some(p) = self.pending.take() {
                    if !p.matched && self.kind == JoinKind::Left {
                        return Ok(Some(pad(p.left, self.right_width)));
                    }
                }
            }
            let Some(row) = self.left.next()? else {
                return Ok(None);
            };
            self.pending = Some(Pending {
                left: row,
                matches: self.right_rows.clone(),
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
                if let Some(out) = emit(p, &self.on, &self.ctx)? {
                    return Ok(Some(out));
                }
                if let Some(p) = self.pending.take() {
                    if !p.matched && self.kind == JoinKind::Left {
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
                pos: 0,
                matched: false,
            });
        }
    }
}
