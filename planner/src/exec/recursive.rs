//! WITH RECURSIVE execution.
//!
//! PostgreSQL's iteration: the anchor's rows are both output and the first working table;
//! each round opens the recursive term afresh, whose WorkTable scans read the previous
//! round's rows from [`ExecCtx::worktables`]; the round's new rows (for UNION: those never
//! seen before) are output and become the next working table; an empty round ends it.
//! The result is computed when the operator opens and held in memory.

use super::hashkey::HashKey;
use super::{open, ExecCtx, Operator, PhysPlan, CANCEL_CHECK_INTERVAL};
use crate::error::Result;
use sledgres_storage::Row;
use std::collections::HashSet;
use std::sync::Arc;

pub struct WorkTableOp {
    pub rows: Arc<Vec<Row>>,
    pub pos: usize,
}

impl Operator for WorkTableOp {
    fn next(&mut self) -> Result<Option<Row>> {
        let r = self.rows.get(self.pos).cloned();
        self.pos += 1;
        Ok(r)
    }
}

pub struct RowsOp(std::vec::IntoIter<Row>);

impl Operator for RowsOp {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.0.next())
    }
}

pub fn recursive_union(
    id: usize,
    all: bool,
    anchor: &Arc<PhysPlan>,
    recursive: &Arc<PhysPlan>,
    ctx: &Arc<ExecCtx>,
) -> Result<RowsOp> {
    let mut seen: HashSet<HashKey> = HashSet::new();
    let mut out = vec![];
    let mut round = vec![];
    let mut keep = |row: Row, round: &mut Vec<Row>| {
        if all || seen.insert(HashKey(row.clone())) {
            round.push(row);
        }
    };
    let mut a = open(anchor, ctx)?;
    while let Some(row) = a.next()? {
        keep(row, &mut round);
    }
    let mut n = 0usize;
    while !round.is_empty() {
        let work = Arc::new(std::mem::take(&mut round));
        out.extend(work.iter().cloned());
        ctx.worktables.lock().insert(id, work);
        let mut r = open(recursive, ctx)?;
        while let Some(row) = r.next()? {
            n += 1;
            if n.is_multiple_of(CANCEL_CHECK_INTERVAL) {
                ctx.check_cancel()?;
            }
            keep(row, &mut round);
        }
    }
    ctx.worktables.lock().remove(&id);
    Ok(RowsOp(out.into_iter()))
}
