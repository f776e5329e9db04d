//! Catalog objects: tables, their columns and indexes.
//!
//! Definitions are stored as versioned keys in the same MVCC keyspace as the rows (see
//! `keys.rs`), so DDL is transactional: a CREATE TABLE inside a rolled-back transaction never
//! existed, and a concurrent transaction does not see a table created after its snapshot.
//!
//! Expressions in the catalog (column defaults) are opaque strings written and read by the
//! planner; storage never interprets them.

use crate::types::DataType;
use serde::{Deserialize, Serialize};

/// Identifies a table; never reused.
pub type TableId = u32;
/// Identifies an index within the whole store; never reused.
pub type IndexId = u32;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The default expression, as the planner serialised it (opaque to storage).
    pub default: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexDef {
    /// Assigned by `Transaction::create_index`/`create_table`; any value on input.
    pub id: IndexId,
    pub name: String,
    /// Positions of the indexed columns in the table's column list, in key order.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// True for the index that backs the PRIMARY KEY constraint (its entries are the rows'
    /// own keys, so no separate entries are stored).
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    /// Assigned by `Transaction::create_table`; any value on input.
    pub id: TableId,
    /// Schema (namespace) name, e.g. "public".
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Positions of the primary key columns; empty for a table without a primary key, whose
    /// rows are keyed by a hidden, store-generated row id.
    pub primary_key: Vec<usize>,
    /// Name of the primary key constraint (e.g. "t_pkey"), if any.
    pub primary_key_name: Option<String>,
    /// Secondary indexes (unique or not). The primary key is not listed here.
    pub indexes: Vec<IndexDef>,
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}
