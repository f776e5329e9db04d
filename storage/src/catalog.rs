//! Catalog objects: tables, their columns and indexes.
//!
//! Definitions are stored as versioned keys in the same MVCC keyspace as the rows (see
//! `keys.rs`), so DDL is transactional: a CREATE TABLE inside a rolled-back transaction never
//! existed, and a concurrent transaction does not see a table created after its snapshot.
//!
//! Expressions in the catalog (column defaults, CHECK constraints) are opaque strings written
//! and read by the planner; storage never interprets them. Storage enforces only what needs
//! its locks and keys (primary keys, unique indexes); CHECK and FOREIGN KEY constraints are
//! kept here for the planner, which checks them on every write (see `planner/src/exec/dml.rs`).

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
    /// CHECK and FOREIGN KEY constraints (PRIMARY KEY and UNIQUE are indexes).
    pub constraints: Vec<Constraint>,
}

/// A constraint the planner enforces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Constraint {
    /// `CHECK (expr)`: a row passes unless `expr` is false (NULL passes).
    Check {
        name: String,
        /// The expression's SQL text, over the table's column names.
        expr: String,
    },
    ForeignKey(ForeignKeyDef),
}

impl Constraint {
    pub fn name(&self) -> &str {
        match self {
            Constraint::Check { name, .. } => name,
            Constraint::ForeignKey(f) => &f.name,
        }
    }
}

/// `FOREIGN KEY (columns) REFERENCES ref_table (ref_columns)`. The referenced columns are
/// the primary key or a unique index of `ref_table`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: String,
    pub columns: Vec<usize>,
    pub ref_table: TableId,
    pub ref_columns: Vec<usize>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
}

/// What a referential action does to referencing rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FkAction {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl TableDef {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}
