//! Row keys for hash tables (GROUP BY, DISTINCT, set operations, hash joins): hashing and
//! equality follow `scalar::values_equal`, with NULL equal to NULL (grouping semantics; hash
//! joins drop NULL keys before they get here).

use crate::scalar;
use sledgres_storage::Value;
use std::hash::{Hash, Hasher};

#[derive(Clone, Debug)]
pub struct HashKey(pub Vec<Value>);

impl Hash for HashKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for v in &self.0 {
            if v.is_null() {
                0u8.hash(state);
            } else {
                1u8.hash(state);
                scalar::hash_value(v, state);
            }
        }
    }
}

impl PartialEq for HashKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| match (a.is_null(), b.is_null()) {
                    (true, true) => true,
                    (false, false) => scalar::values_equal(a, b),
                    _ => false,
                })
    }
}

impl Eq for HashKey {}
