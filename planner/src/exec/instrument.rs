//! EXPLAIN ANALYZE instrumentation: per plan node, how often it was opened (loops), how many
//! rows it returned and how long it took.
//!
//! When an execution context carries an [`Instrument`], [`super::open`] wraps every operator
//! it opens in an [`Instrumented`] operator keyed by the address of its [`super::PhysPlan`]
//! node (plans are shared `Arc`s, so the address identifies the node for the whole
//! execution). Opening counts as part of the node's time — blocking operators (sort, hash
//! build, aggregation) do their work there. Times are inclusive of children, like
//! PostgreSQL's. Each wrapper adds its totals to the shared map when dropped, so a node
//! opened once per outer row (the inner side of a lookup join, a correlated subquery)
//! accumulates all its loops. Without an [`Instrument`] nothing is wrapped and nothing costs.

use super::{BoxOp, Operator, PhysPlan};
use crate::error::Result;
use parking_lot::Mutex;
use sledgres_storage::Row;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What one node did over the whole execution.
#[derive(Clone, Debug, Default)]
pub struct NodeStats {
    pub loops: u64,
    pub rows: u64,
    /// Summed over loops: time until the first row, and until the last.
    pub startup: Duration,
    pub total: Duration,
    /// Rows the node's own filter rejected.
    pub removed: u64,
}

/// The statistics of every node of one execution.
#[derive(Default)]
pub struct Instrument {
    nodes: Mutex<HashMap<usize, NodeStats>>,
}

impl Instrument {
    pub fn key(node: &PhysPlan) -> usize {
        node as *const PhysPlan as usize
    }

    pub fn get(&self, node: &PhysPlan) -> Option<NodeStats> {
        self.nodes.lock().get(&Self::key(node)).cloned()
    }

    fn add(&self, key: usize, s: &NodeStats) {
        let mut nodes = self.nodes.lock();
        let e = nodes.entry(key).or_default();
        e.loops += s.loops;
        e.rows += s.rows;
        e.startup += s.startup;
        e.total += s.total;
        e.removed += s.removed;
    }
}

/// An operator with its counters.
pub struct Instrumented {
    inner: BoxOp,
    key: usize,
    into: std::sync::Arc<Instrument>,
    stats: NodeStats,
    started: bool,
}

impl Instrumented {
    /// Wraps an operator whose opening took `open_time`.
    pub fn new(
        inner: BoxOp,
        node: &PhysPlan,
        into: std::sync::Arc<Instrument>,
        open_time: Duration,
    ) -> Self {
        Instrumented {
            inner,
            key: Instrument::key(node),
            into,
            stats: NodeStats {
                loops: 1,
                rows: 0,
                startup: open_time,
                total: open_time,
                removed: 0,
            },
            started: false,
        }
    }
}

impl Operator for Instrumented {
    fn next(&mut self) -> Result<Option<Row>> {
        let t = Instant::now();
        let r = self.inner.next();
        let spent = t.elapsed();
        self.stats.total += spent;
        if !self.started {
            self.started = true;
            self.stats.startup += spent;
        }
        if let Ok(Some(_)) = &r {
            self.stats.rows += 1;
        }
        r
    }
}

impl Drop for Instrumented {
    fn drop(&mut self) {
        self.stats.removed = self.inner.removed_by_filter();
        self.into.add(self.key, &self.stats);
    }
}
