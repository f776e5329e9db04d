//! The key layout: how rows, index entries and the catalog map onto one sled tree.
//!
//! ```text
//!  meta      00 "meta"                                            → postcard(Meta), unversioned
//!  catalog   01 table_id:u32be                       !ts:u64be   → TableDef
//!  row       02 table_id:u32be row_key               !ts:u64be   → Vec<Value>
//!  index     03 table_id:u32be index_id:u32be idx_cols row_key  !ts:u64be   → ()
//!           \______________ user key ____________________________/ \_version_/
//! ```
//!
//! - Every versioned key is a *user key* followed by the 8-byte version: the bitwise NOT of the
//!   commit timestamp, big-endian, so a forward scan meets a user key's newest version first
//!   and "newest version with ts <= read_ts" is one seek to `user_key ++ !read_ts`.
//! - Each row version is its own key (a write never rewrites older versions); a delete writes
//!   a tombstone version. Values of versioned keys start with one byte: 00 tombstone,
//!   01 followed by the payload.
//! - User keys are prefix-free (ids are fixed width, key columns use the self-delimiting
//!   encoding of `keycode.rs`, hidden row ids are 8 bytes), so all versions of one user key are
//!   contiguous and a range over user keys is the same range over versioned keys.
//! - `row_key` is the keycode encoding of the primary key columns, or for a table without a
//!   primary key a hidden row id: the keycode encoding of an Int8 taken from a store-wide
//!   counter. Secondary index entries carry the row key as suffix, which makes them unique
//!   and lets an index scan find the row.
//! - The catalog lives in the same versioned keyspace as the data, so DDL commits atomically
//!   with everything else and obeys snapshots.
//! - Lock keys (in memory only, see `lock.rs`) reuse user keys: a row is locked by its row user
//!   key, a unique index value by `03 table index idx_cols` (without row key), a table name
//!   by `04 schema name`.

use crate::catalog::{IndexId, TableId};
use crate::keycode;
use crate::types::Value;

pub const META: &[u8] = &[0x00, b'm', b'e', b't', b'a'];
/// Every versioned key is at or above this.
pub const DATA_START: &[u8] = &[CATALOG];
pub const CATALOG: u8 = 0x01;
pub const ROW: u8 = 0x02;
pub const INDEX: u8 = 0x03;
const TABLE_NAME_LOCK: u8 = 0x04;

/// Length of the version suffix.
pub const VERSION_LEN: usize = 8;

pub fn catalog_prefix() -> Vec<u8> {
    vec![CATALOG]
}

pub fn catalog_key(table: TableId) -> Vec<u8> {
    let mut k = vec![CATALOG];
    k.extend_from_slice(&table.to_be_bytes());
    k
}

pub fn table_prefix(table: TableId) -> Vec<u8> {
    let mut k = vec![ROW];
    k.extend_from_slice(&table.to_be_bytes());
    k
}

pub fn row_key(table: TableId, row_key: &[u8]) -> Vec<u8> {
    let mut k = table_prefix(table);
    k.extend_from_slice(row_key);
    k
}

pub fn index_prefix(table: TableId, index: IndexId) -> Vec<u8> {
    let mut k = vec![INDEX];
    k.extend_from_slice(&table.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The index key without the row key: the lock key for a unique value, and the prefix of
/// every entry with these index values.
pub fn index_value_key(table: TableId, index: IndexId, values: &[&Value]) -> Vec<u8> {
    let mut k = index_prefix(table, index);
    keycode::encode_values(values.iter().copied(), &mut k);
    k
}

pub fn index_entry_key(
    table: TableId,
    index: IndexId,
    values: &[&Value],
    row_key: &[u8],
) -> Vec<u8> {
    let mut k = index_value_key(table, index, values);
    k.extend_from_slice(row_key);
    k
}

/// The length of the *space* prefix of a row or index user key: `02 table` for rows,
/// `03 table index` for index entries (SSI keeps its read markers per space, see `ssi.rs`).
/// `None` for other keys (catalog, locks), which SSI ignores.
pub fn space_len(key: &[u8]) -> Option<usize> {
    let len = match *key.first()? {
        ROW => 5,
        INDEX => 9,
        _ => return None,
    };
    (key.len() >= len).then_some(len)
}

pub fn table_name_lock(schema: &str, name: &str) -> Vec<u8> {
    let mut k = vec![TABLE_NAME_LOCK];
    keycode::encode_values(
        &[Value::Text(schema.into()), Value::Text(name.into())],
        &mut k,
    );
    k
}

/// A user key with the version suffix for commit timestamp `ts`.
pub fn versioned(user_key: &[u8], ts: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + VERSION_LEN);
    k.extend_from_slice(user_key);
    k.extend_from_slice(&(!ts).to_be_bytes());
    k
}

/// Splits a versioned key into user key and commit timestamp.
pub fn split_version(key: &[u8]) -> Option<(&[u8], u64)> {
    let at = key.len().checked_sub(VERSION_LEN)?;
    let (user, v) = key.split_at(at);
    Some((user, !u64::from_be_bytes(v.try_into().ok()?)))
}

/// The value stored for a version: a tombstone (`None`) or a payload.
pub fn encode_version_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![0],
        Some(p) => {
            let mut v = Vec::with_capacity(p.len() + 1);
            v.push(1);
            v.extend_from_slice(p);
            v
        }
    }
}

/// Like [`decode_version_value`], reusing the buffer.
pub fn into_version_value(mut v: Vec<u8>) -> Option<Vec<u8>> {
    match v.first() {
        Some(1) => {
            v.remove(0);
            Some(v)
        }
        _ => None,
    }
}

pub fn decode_version_value(v: &[u8]) -> Option<Vec<u8>> {
    match v.split_first() {
        Some((1, rest)) => Some(rest.to_vec()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_sort_first_and_keys_split() {
        let k = row_key(7, &[1, 2]);
        let old = versioned(&k, 5);
        let new = versioned(&k, 9);
        assert!(new < old);
        assert_eq!(split_version(&old), Some((&k[..], 5)));
        // Different tables never interleave.
        assert!(versioned(&row_key(7, &[0xFF; 3]), 1) < table_prefix(8));
    }
}
