//! Spilling: how sorts, hash aggregates, hash joins and DISTINCT stay within `work_mem`.
//!
//! Every memory-hungry operator keeps a running *estimate* of the bytes its in-memory state
//! holds ([`row_bytes`]) and, once that passes `work_mem` ([`ExecCtx::work_mem`]), writes
//! rows to temporary files instead of holding them:
//!
//! - **Sort** (`sort.rs`) is an external merge sort: each time the buffered rows reach the
//!   budget they are sorted and written as one *run*; at the end the runs are merged k ways
//!   (at most [`MERGE_FAN_IN`] files at a time, merging in several passes beyond that).
//! - **Hash aggregate** and **DISTINCT** keep the groups they already have in memory and, once
//!   full, route the input rows of *new* groups by hash into [`PARTITIONS`] partition files;
//!   each partition is then processed on its own the same way (with a different hash seed, so
//!   a partition that is still too big splits further).
//! - **Hash join** is a grace hash join: if the build (right) side does not fit, both sides
//!   are partitioned by the hash of their join keys and each pair of partitions is joined
//!   separately (recursively if a build partition is still too big).
//!
//! Results are exactly the in-memory ones, up to the order of rows that SQL leaves
//! unspecified (a sort stays stable: runs are merged with ties going to the earlier run).
//!
//! ## Spill file format
//! A spill file is an anonymous temporary file (`tempfile::tempfile`: already unlinked on
//! Unix, so it disappears when the operator holding it is dropped, even after a crash) in the
//! system temp directory. It holds a sequence of records, each
//!
//! ```text
//! [len: u32 little-endian][postcard(Vec<Value>) — len bytes]
//! ```
//!
//! i.e. the storage crate's row encoding (`Value` is serde-serialisable). Sort runs store
//! the sort key values followed by the row in one record (the key width is fixed per sort),
//! so keys are not re-evaluated during the merge.
//!
//! ## Memory estimate
//! [`row_bytes`] counts the `Vec` header, `size_of::<Value>()` per value, the heap bytes of
//! text values and a flat 32 bytes per numeric; hash tables add [`ENTRY_OVERHEAD`] per entry
//! for the key copy and bucket. It is an approximation — the point is that memory grows with
//! `work_mem`, not with the input.

use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::{Row, Value};
use std::hash::{Hash, Hasher};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};

/// Number of partitions a hash aggregate, DISTINCT or hash join splits into when it spills.
pub const PARTITIONS: usize = 16;
/// Beyond this many levels of re-partitioning an operator gives up spilling (all rows of one
/// partition then share a hash; keeping them in memory is the only way to finish).
pub const MAX_DEPTH: u32 = 6;
/// At most this many runs are merged at once; more runs are merged in several passes.
pub const MERGE_FAN_IN: usize = 32;
/// Estimated bookkeeping bytes per hash-table entry (hash bucket, key copy header).
pub const ENTRY_OVERHEAD: usize = 48;

/// The approximate heap footprint of a row held in memory.
pub fn row_bytes(row: &[Value]) -> usize {
    std::mem::size_of::<Row>()
        + row
            .iter()
            .map(|v| {
                std::mem::size_of::<Value>()
                    + match v {
                        Value::Text(s) => s.len(),
                        Value::Numeric(_) => 32,
                        _ => 0,
                    }
            })
            .sum::<usize>()
}

fn io_err(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::IoError,
        format!("could not write to temporary file: {e}"),
    )
}

/// Spill files created since the process started: tests read it to prove that a query really
/// spilled (EXPLAIN ANALYZE does not report it yet).
static FILES_CREATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn files_created() -> u64 {
    FILES_CREATED.load(std::sync::atomic::Ordering::Relaxed)
}

/// A temporary file being written, one record per row.
pub struct SpillWriter {
    out: BufWriter<std::fs::File>,
    rows: u64,
}

impl SpillWriter {
    pub fn new() -> Result<Self> {
        FILES_CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(SpillWriter {
            out: BufWriter::with_capacity(16 * 1024, tempfile::tempfile().map_err(io_err)?),
            rows: 0,
        })
    }

    pub fn write(&mut self, row: &[Value]) -> Result<()> {
        let bytes = postcard::to_stdvec(row).map_err(io_err)?;
        let len = u32::try_from(bytes.len()).map_err(io_err)?;
        self.out.write_all(&len.to_le_bytes()).map_err(io_err)?;
        self.out.write_all(&bytes).map_err(io_err)?;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes writing and rewinds the file for reading.
    pub fn finish(self) -> Result<SpillReader> {
        let mut f = self.out.into_inner().map_err(io_err)?;
        f.seek(SeekFrom::Start(0)).map_err(io_err)?;
        Ok(SpillReader {
            input: BufReader::with_capacity(8 * 1024, f),
            left: self.rows,
        })
    }
}

/// Reads back the rows of a finished [`SpillWriter`], in the order they were written.
pub struct SpillReader {
    input: BufReader<std::fs::File>,
    left: u64,
}

impl SpillReader {
    pub fn read(&mut self) -> Result<Option<Row>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len).map_err(io_err)?;
        let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
        self.input.read_exact(&mut buf).map_err(io_err)?;
        self.left -= 1;
        postcard::from_bytes(&buf).map(Some).map_err(io_err)
    }
}

impl super::Operator for SpillReader {
    fn next(&mut self) -> Result<Option<Row>> {
        self.read()
    }
}

/// Partition files for hash spilling: rows routed by the hash of a key, seeded with the
/// recursion depth so that a partition re-partitions differently from its parent.
pub struct Partitions {
    files: Vec<Option<SpillWriter>>,
    depth: u32,
}

impl Partitions {
    pub fn new(depth: u32) -> Self {
        Partitions {
            files: (0..PARTITIONS).map(|_| None).collect(),
            depth,
        }
    }

    /// The partition of a key (NULL-aware: a NULL hashes like any other value).
    pub fn partition_of(&self, key: &super::hashkey::HashKey) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.depth.hash(&mut h);
        key.hash(&mut h);
        (h.finish() % PARTITIONS as u64) as usize
    }

    pub fn write(&mut self, part: usize, row: &[Value]) -> Result<()> {
        let slot = &mut self.files[part];
        if slot.is_none() {
            *slot = Some(SpillWriter::new()?);
        }
        match slot {
            Some(w) => w.write(row),
            None => Err(Error::internal("spill partition missing")),
        }
    }

    /// The finished partitions (None where nothing was written), in partition order.
    pub fn finish(self) -> Result<Vec<Option<SpillReader>>> {
        self.files
            .into_iter()
            .map(|f| f.map(|w| w.finish()).transpose())
            .collect()
    }
}

/// The output of an operator that spilled: first its in-memory result, then, one partition
/// at a time, the result of processing each partition again (`reopen`), so only one
/// partition's state is in memory at once.
pub struct PartitionChain<T, F> {
    current: super::BoxOp,
    rest: std::vec::IntoIter<T>,
    reopen: F,
}

impl<T, F> PartitionChain<T, F>
where
    F: FnMut(T) -> Result<Option<super::BoxOp>>,
{
    pub fn new(first: super::BoxOp, rest: Vec<T>, reopen: F) -> Self {
        PartitionChain {
            current: first,
            rest: rest.into_iter(),
            reopen,
        }
    }
}

impl<T: Send, F> super::Operator for PartitionChain<T, F>
where
    F: FnMut(T) -> Result<Option<super::BoxOp>> + Send,
{
    fn next(&mut self) -> Result<Option<Row>> {
        loop {
            if let Some(r) = self.current.next()? {
                return Ok(Some(r));
            }
            let Some(part) = self.rest.next() else {
                return Ok(None);
            };
            if let Some(op) = (self.reopen)(part)? {
                self.current = op;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sledgres_storage::Numeric;

    #[test]
    fn records_round_trip_in_order() {
        let mut w = SpillWriter::new().unwrap();
        let rows: Vec<Row> = (0..1000)
            .map(|i| {
                vec![
                    Value::Int4(i),
                    if i % 3 == 0 {
                        Value::Null
                    } else {
                        Value::Text(format!("row {i}"))
                    },
                    Value::Numeric(Numeric::Finite(bigdecimal::BigDecimal::from(i))),
                    Value::Float8(i as f64 / 7.0),
                ]
            })
            .collect();
        for r in &rows {
            w.write(r).unwrap();
        }
        assert_eq!(w.rows(), 1000);
        let mut r = w.finish().unwrap();
        for expected in &rows {
            assert_eq!(r.read().unwrap().as_ref(), Some(expected));
        }
        assert_eq!(r.read().unwrap(), None);
    }

    #[test]
    fn row_bytes_grows_with_text() {
        let small = row_bytes(&[Value::Text("a".into())]);
        let big = row_bytes(&[Value::Text("a".repeat(1000))]);
        assert_eq!(big - small, 999);
    }
}
