//! Query cancellation: the registry CancelRequest looks sessions up in.
//!
//! At startup each connection gets a process id and a random secret (BackendKeyData). A
//! client cancels by opening a *new* connection and sending CancelRequest(pid, secret); the
//! registry finds the session's `CancelHandle` and raises its flag. The running statement
//! notices the flag at its next check and fails with 57014. Nothing is interrupted from the
//! outside: the statement runs on a blocking thread that only cooperative checks can stop.
//!
//! A request with an unknown pid or the wrong secret is ignored silently, as PostgreSQL does:
//! the requester learns nothing.

use crate::session_state::SharedCancel;
use bytes::{BufMut, Bytes, BytesMut};
use pgwire::messages::startup::SecretKey;
use pgwire::messages::ProtocolVersion;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct CancelRegistry {
    sessions: Mutex<HashMap<i32, (Bytes, SharedCancel)>>,
    next_pid: AtomicI32,
}

impl CancelRegistry {
    pub fn new() -> CancelRegistry {
        CancelRegistry {
            sessions: Mutex::new(HashMap::new()),
            // Small, PostgreSQL-looking process ids; unique within this server process.
            next_pid: AtomicI32::new(10_000),
        }
    }

    /// A fresh backend pid and secret for a connection speaking `version`.
    pub fn new_key(&self, version: ProtocolVersion) -> (i32, SecretKey) {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let key = match version {
            ProtocolVersion::PROTOCOL3_0 => SecretKey::I32(random_u64() as i32),
            _ => {
                // Protocol 3.2 allows (and libpq expects) longer keys.
                let mut b = BytesMut::with_capacity(32);
                for _ in 0..4 {
                    b.put_u64(random_u64());
                }
                SecretKey::Bytes(b.freeze())
            }
        };
        (pid, key)
    }

    pub fn register(&self, pid: i32, key: &SecretKey, cancel: SharedCancel) {
        self.lock().insert(pid, (key.to_bytes(), cancel));
    }

    pub fn unregister(&self, pid: i32) {
        self.lock().remove(&pid);
    }

    /// Handles a CancelRequest. Returns whether a session was signalled.
    pub fn cancel(&self, pid: i32, key: &SecretKey) -> bool {
        let target = self
            .lock()
            .get(&pid)
            .filter(|(secret, _)| *secret == key.to_bytes())
            .map(|(_, c)| c.clone());
        match target {
            Some(cancel) => {
                cancel.lock().unwrap_or_else(|p| p.into_inner()).cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every session's running statement (shutdown after the grace period).
    pub fn cancel_all(&self) {
        for (_, cancel) in self.lock().values() {
            cancel.lock().unwrap_or_else(|p| p.into_inner()).cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, (Bytes, SharedCancel)>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Unpredictable 64 bits from the standard library's randomly seeded hasher (no extra
/// dependency; this is a cancel key, not cryptography).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sledgres_planner::CancelHandle;
    use std::sync::Arc;

    #[test]
    fn only_the_right_secret_cancels() {
        let registry = CancelRegistry::new();
        let (pid, key) = registry.new_key(ProtocolVersion::PROTOCOL3_0);
        let handle = CancelHandle::default();
        registry.register(pid, &key, Arc::new(Mutex::new(handle.clone())));
        let SecretKey::I32(secret) = key else {
            panic!("3.0 keys are 4 bytes")
        };
        assert!(!registry.cancel(pid, &SecretKey::I32(secret.wrapping_add(1))));
        assert!(!registry.cancel(pid + 1, &key));
        assert!(!handle.0.load(Ordering::SeqCst));
        assert!(registry.cancel(pid, &key));
        assert!(handle.0.load(Ordering::SeqCst));
        registry.unregister(pid);
        assert!(!registry.cancel(pid, &key));
    }

    #[test]
    fn keys_differ_between_connections() {
        let registry = CancelRegistry::new();
        let (p1, k1) = registry.new_key(ProtocolVersion::PROTOCOL3_0);
        let (p2, k2) = registry.new_key(ProtocolVersion::PROTOCOL3_0);
        assert_ne!(p1, p2);
        assert_ne!(k1, k2);
        let (_, long) = registry.new_key(ProtocolVersion::PROTOCOL3_2);
        assert_eq!(long.to_bytes().len(), 32);
    }
}
