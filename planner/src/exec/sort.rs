//! Sort: in memory while the input fits in `work_mem`, an external merge sort beyond.
//!
//! Rows are buffered with their evaluated sort keys. When the buffer's estimated size
//! ([`spill::row_bytes`]) passes `work_mem`, it is sorted (stably) and written to a temporary
//! file as a sorted *run* (each record is the key values followed by the row, see
//! `spill.rs`), and buffering starts again. At the end the last buffer stays in memory as the
//! final run and the runs are merged: the merge repeatedly takes the smallest head among the
//! runs, ties going to the earlier run, so the whole sort is stable like the in-memory one.
//! More than [`spill::MERGE_FAN_IN`] runs are first merged in groups of consecutive runs
//! (which keeps stability) into longer runs, so the number of open files stays bounded.
//! The merge compares heads linearly: with at most 32 runs that costs less than a heap's
//! bookkeeping would save.

use super::expr::PExpr;
use super::ops::compare_key;
use super::spill::{self, SpillReader, SpillWriter};
use super::{BoxOp, ExecCtx, Operator, CANCEL_CHECK_INTERVAL};
use crate::error::Result;
use sledgres_storage::Row;
use std::cmp::Ordering;
use std::sync::Arc;

/// Directions of the sort keys: (descending, nulls first).
type Dirs = Arc<Vec<(bool, bool)>>;

fn cmp_keys(a: &[sledgres_storage::Value], b: &[sledgres_storage::Value], dirs: &Dirs) -> Ordering {
    for (i, (desc, nf)) in dirs.iter().enumerate() {
        let o = compare_key(&a[i], &b[i], *desc, *nf);
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Sorts `input` by `keys` (expression, descending, nulls first) within `ctx.work_mem`.
pub fn sort(
    mut input: BoxOp,
    keys: Arc<Vec<(PExpr, bool, bool)>>,
    ctx: &Arc<ExecCtx>,
) -> Result<BoxOp> {
    let dirs: Dirs = Arc::new(keys.iter().map(|(_, d, n)| (*d, *n)).collect());
    let mut sorter = Sorter::new(dirs, ctx.work_mem);
    let mut n = 0usize;
    while let Some(row) = input.next()? {
        n += 1;
        if n.is_multiple_of(CANCEL_CHECK_INTERVAL) {
            ctx.check_cancel()?;
        }
        let k = keys
            .iter()
            .map(|(e, _, _)| e.eval(&row, ctx))
            .collect::<Result<Row>>()?;
        sorter.push(k, row)?;
    }
    sorter.finish(ctx)
}

/// Accumulates (key, row) pairs, spilling sorted runs beyond the memory budget.
pub struct Sorter {
    dirs: Dirs,
    budget: usize,
    buf: Vec<(Row, Row)>,
    bytes: usize,
    runs: Vec<SpillReader>,
}

impl Sorter {
    pub fn new(dirs: Dirs, budget: usize) -> Self {
        Sorter {
            dirs,
            budget,
            buf: vec![],
            bytes: 0,
            runs: vec![],
        }
    }

    pub fn push(&mut self, key: Row, row: Row) -> Result<()> {
        self.bytes += spill::row_bytes(&key) + spill::row_bytes(&row);
        self.buf.push((key, row));
        if self.bytes > self.budget && self.buf.len() > 1 {
            self.spill_run()?;
        }
        Ok(())
    }

    fn sort_buf(&mut self) {
        let dirs = self.dirs.clone();
        self.buf.sort_by(|(a, _), (b, _)| cmp_keys(a, b, &dirs));
    }

    fn spill_run(&mut self) -> Result<()> {
        self.sort_buf();
        let mut w = SpillWriter::new()?;
        for (k, r) in self.buf.drain(..) {
            let mut rec = k;
            rec.extend(r);
            w.write(&rec)?;
        }
        self.runs.push(w.finish()?);
        self.bytes = 0;
        Ok(())
    }

    /// Whether any run went to disk.
    #[cfg(test)]
    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// The sorted rows.
    pub fn finish(mut self, ctx: &Arc<ExecCtx>) -> Result<BoxOp> {
        self.sort_buf();
        if self.runs.is_empty() {
            return Ok(Box::new(MemoryRun(self.buf.into_iter())));
        }
        let width = self.dirs.len();
        let mut runs: Vec<Source> = self.runs.into_iter().map(Source::File).collect();
        // Merge passes over groups of consecutive runs until one merge can take them all
        // (plus the in-memory tail).
        while runs.len() >= spill::MERGE_FAN_IN {
            ctx.check_cancel()?;
            let mut next = vec![];
            let mut it = runs.into_iter().peekable();
            while it.peek().is_some() {
                let group: Vec<Source> = it.by_ref().take(spill::MERGE_FAN_IN).collect();
                let mut m = Merge::new(group, self.dirs.clone(), width)?;
                let mut w = SpillWriter::new()?;
                while let Some((k, r)) = m.next_pair()? {
                    let mut rec = k;
                    rec.extend(r);
                    w.write(&rec)?;
                }
                next.push(Source::File(w.finish()?));
            }
            runs = next;
        }
        runs.push(Source::Memory(self.buf.into_iter()));
        Ok(Box::new(Merge::new(runs, self.dirs, width)?))
    }
}

struct MemoryRun(std::vec::IntoIter<(Row, Row)>);

impl Operator for MemoryRun {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.0.next().map(|(_, r)| r))
    }
}

/// One sorted run.
enum Source {
    File(SpillReader),
    Memory(std::vec::IntoIter<(Row, Row)>),
}

impl Source {
    fn next_pair(&mut self, width: usize) -> Result<Option<(Row, Row)>> {
        match self {
            Source::Memory(it) => Ok(it.next()),
            Source::File(f) => Ok(f.read()?.map(|mut rec| {
                let row = rec.split_off(width.min(rec.len()));
                (rec, row)
            })),
        }
    }
}

/// K-way merge of sorted runs; ties go to the earlier run.
struct Merge {
    sources: Vec<Source>,
    heads: Vec<Option<(Row, Row)>>,
    dirs: Dirs,
    width: usize,
}

impl Merge {
    fn new(mut sources: Vec<Source>, dirs: Dirs, width: usize) -> Result<Self> {
        let heads = sources
            .iter_mut()
            .map(|s| s.next_pair(width))
            .collect::<Result<_>>()?;
        Ok(Merge {
            sources,
            heads,
            dirs,
            width,
        })
    }

    fn next_pair(&mut self) -> Result<Option<(Row, Row)>> {
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            let Some((k, _)) = h else { continue };
            match best {
                Some(b) => {
                    if let Some((bk, _)) = &self.heads[b] {
                        if cmp_keys(k, bk, &self.dirs) == Ordering::Less {
                            best = Some(i);
                        }
                    }
                }
                None => best = Some(i),
            }
        }
        let Some(b) = best else { return Ok(None) };
        let next = self.sources[b].next_pair(self.width)?;
        Ok(std::mem::replace(&mut self.heads[b], next))
    }
}

impl Operator for Merge {
    fn next(&mut self) -> Result<Option<Row>> {
        Ok(self.next_pair()?.map(|(_, r)| r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sledgres_storage::Value;

    fn collect(mut op: BoxOp) -> Vec<Row> {
        let mut v = vec![];
        while let Some(r) = op.next().unwrap() {
            v.push(r);
        }
        v
    }

    /// Sorts (key, seq) pairs by key with the given budget; returns rows and whether it spilled.
    fn run(n: i64, budget: usize, dirs: Vec<(bool, bool)>) -> (Vec<Row>, bool) {
        let ctx = super::super::tests::ctx();
        let mut s = Sorter::new(Arc::new(dirs), budget);
        for i in 0..n {
            // Many duplicates and some NULLs, to check stability and NULL placement.
            let k = if i % 17 == 0 {
                Value::Null
            } else {
                Value::Int8((i * 7919) % 101)
            };
            s.push(vec![k.clone()], vec![k, Value::Int8(i)]).unwrap();
        }
        let spilled = s.spilled();
        (collect(s.finish(&ctx).unwrap()), spilled)
    }

    #[test]
    fn external_sort_equals_in_memory_sort() {
        for dirs in [
            vec![(false, false)],
            vec![(true, true)],
            vec![(false, true)],
        ] {
            let (mem, spilled) = run(20_000, usize::MAX, dirs.clone());
            assert!(!spilled);
            // A tiny budget: hundreds of runs, several merge passes.
            let (ext, spilled) = run(20_000, 2_000, dirs.clone());
            assert!(spilled);
            assert_eq!(mem, ext);
            let (ext, _) = run(20_000, 200_000, dirs);
            assert_eq!(mem, ext);
        }
    }

    #[test]
    fn in_memory_sort_is_stable() {
        let (rows, _) = run(1000, usize::MAX, vec![(false, false)]);
        for w in rows.windows(2) {
            if w[0][0] == w[1][0] {
                assert!(w[0][1].cmp_same_type(&w[1][1]) == Ordering::Less);
            }
        }
    }
}
