//! Per-connection state, and how the async connection task reaches the blocking SQL session.
//!
//! Every `planner::Session` call may block (a row lock wait, a commit's flush, a long scan),
//! so it never runs as ordinary async code. The connection's state — the session, its
//! prepared statements and portals — lives in a [`Core`] behind an `Arc<std::sync::Mutex<_>>`,
//! and [`SessionHandle::run`] executes a closure over it:
//!
//! - on a multi-threaded runtime (the server binary) with `tokio::task::block_in_place`: the
//!   closure runs on the connection's own worker thread, and tokio moves that worker's other
//!   tasks to a fresh thread for as long as it runs, so a blocked session never stalls other
//!   connections. This avoids the two cross-thread wake-ups of a `spawn_blocking` round trip,
//!   which dominated short queries (measured: `SELECT 1` over pgbench went from ~2.8k to
//!   ~10.8k tps for one client, prepared from ~1.4k to ~19k);
//! - on a current-thread runtime (where `block_in_place` is not allowed) on the blocking pool
//!   with `spawn_blocking`.
//!
//! A connection
//! handles one protocol message at a time, so the mutex is never contended in normal
//! operation; it exists so the blocking task can own the state while it runs, and so that a
//! statement still running when its connection is dropped keeps the state alive until it is
//! done (the final [`Core::close`] then waits for it).
//!
//! Panics: the closure runs under `catch_unwind`. A panic inside the planner becomes an
//! `XX000` error for that client; the session is closed (its transaction rolled back) and
//! replaced by a fresh one, since its internal state can no longer be trusted. The server and
//! every other connection carry on.
//!
//! Cleanup: [`Core`]'s `Drop` closes the session, so a transaction is rolled back however the
//! connection ends — Terminate, a dropped socket, garbage bytes, or a panic in the connection
//! task itself.

use crate::error::SqlError;
use sledgres_planner::session::{CopyIn, CopyOut};
use sledgres_planner::{
    CancelHandle, ColumnInfo, Cursor, DataType, Database, Prepared, Session, SessionParams, Value,
};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

/// A statement created by Parse or PREPARE.
pub struct PreparedStatement {
    /// `None` for an empty query string (it binds and executes as EmptyQueryResponse).
    pub prepared: Option<Prepared>,
    /// For an `EXECUTE name` made by Parse: the result columns of the statement it named
    /// when it was parsed (PostgreSQL describes an EXECUTE by what it runs).
    pub execute_columns: Option<Vec<ColumnInfo>>,
}

impl PreparedStatement {
    pub fn param_types(&self) -> &[DataType] {
        self.prepared
            .as_ref()
            .map(|p| p.param_types())
            .unwrap_or(&[])
    }
    pub fn columns(&self) -> &[ColumnInfo] {
        if let Some(cols) = &self.execute_columns {
            return cols;
        }
        self.prepared.as_ref().map(|p| p.columns()).unwrap_or(&[])
    }
}

/// Where a portal's execution stands.
pub enum PortalState {
    /// Bound, not yet executed: the first Execute runs it.
    Ready,
    /// Returned rows and has more: the next Execute resumes the cursor.
    Suspended(Cursor),
    /// Ran to completion; executing it again returns no rows.
    Done,
    /// A COPY TO STDOUT still sending rows.
    CopyOut(CopyOut),
}

/// A COPY FROM STDIN waiting for CopyData (between messages).
pub struct CopyInRun {
    pub copy: CopyIn,
    /// Started by Execute (extended protocol): an error then discards messages until Sync,
    /// and CopyDone only completes the Execute. Otherwise by a simple Query, whose remaining
    /// statements run after CopyDone.
    pub extended: bool,
}

/// A portal created by Bind: a statement, its parameter values and its result formats.
pub struct Portal {
    pub statement: Arc<PreparedStatement>,
    pub params: Vec<Value>,
    /// One format code per result column (0 text, 1 binary), already expanded.
    pub result_formats: Vec<i16>,
    pub state: PortalState,
}

/// Everything a connection owns. Only touched from blocking tasks via [`SessionHandle::run`].
pub struct Core {
    db: Database,
    params: SessionParams,
    session: Option<Session>,
    pub statements: HashMap<String, Arc<PreparedStatement>>,
    pub portals: HashMap<String, Portal>,
    /// The simple-query message being streamed, between hops.
    pub simple: Option<crate::handler::SimpleRun>,
    /// The COPY FROM STDIN in progress, if any.
    pub copy_in: Option<CopyInRun>,
    /// Where CancelRequest finds this connection's current session.
    cancel: SharedCancel,
}

/// The cancel handle of the connection's *current* session (it changes if a panic forces a
/// fresh session), shared with the cancel registry.
pub type SharedCancel = Arc<Mutex<CancelHandle>>;

impl Core {
    /// The session; always present except transiently during panic recovery.
    pub fn session(&mut self) -> Result<&mut Session, SqlError> {
        if self.session.is_none() {
            let fresh = self.db.session(self.params.clone())?;
            *self.cancel.lock().unwrap_or_else(|p| p.into_inner()) = fresh.cancel_handle();
            self.session = Some(fresh);
        }
        self.session
            .as_mut()
            .ok_or_else(|| SqlError::new(crate::error::code::INTERNAL, "no session"))
    }

    /// Rolls back whatever is open and forgets the session (connection end).
    pub fn close(&mut self) {
        self.simple = None;
        self.copy_in = None;
        self.portals.clear();
        self.statements.clear();
        if let Some(mut session) = self.session.take() {
            if catch_unwind(AssertUnwindSafe(|| session.close())).is_err() {
                tracing::error!("session close panicked");
            }
        }
    }

    /// After a panic: discard the session's state (rolling back its transaction) so the
    /// next call starts from a fresh session.
    fn recover_from_panic(&mut self) {
        // Portals hold cursors into the dead session's transaction.
        self.portals.clear();
        self.statements.clear();
        self.close();
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.close();
    }
}

/// The async side's handle on a connection's [`Core`].
#[derive(Clone)]
pub struct SessionHandle {
    core: Arc<Mutex<Core>>,
    cancel: SharedCancel,
}

impl SessionHandle {
    /// Opens the connection's session (blocking: it may touch the store).
    pub async fn open(db: Database, params: SessionParams) -> Result<SessionHandle, SqlError> {
        let joined = tokio::task::spawn_blocking(move || {
            catch_unwind(AssertUnwindSafe(|| -> Result<SessionHandle, SqlError> {
                let session = db.session(params.clone())?;
                let cancel = Arc::new(Mutex::new(session.cancel_handle()));
                let core = Core {
                    db,
                    params,
                    session: Some(session),
                    statements: HashMap::new(),
                    portals: HashMap::new(),
                    simple: None,
                    copy_in: None,
                    cancel: cancel.clone(),
                };
                Ok(SessionHandle {
                    core: Arc::new(Mutex::new(core)),
                    cancel,
                })
            }))
            .unwrap_or_else(|p| Err(SqlError::from_panic(p.as_ref())))
        })
        .await;
        joined.unwrap_or_else(|e| Err(SqlError::new(crate::error::code::INTERNAL, e.to_string())))
    }

    pub fn cancel_handle(&self) -> SharedCancel {
        self.cancel.clone()
    }

    /// Runs `f` over the connection state on the blocking pool. A panic in `f` becomes an
    /// XX000 error and resets the session (see the module doc).
    pub async fn run<R, F>(&self, f: F) -> Result<R, SqlError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Core) -> Result<R, SqlError> + Send + 'static,
    {
        let core = self.core.clone();
        let work = move || {
            // A poisoned lock only means an earlier panic escaped catch_unwind, which cannot
            // happen here; the state is still recovered by `recover_from_panic` below.
            let mut guard = core.lock().unwrap_or_else(|p| p.into_inner());
            match catch_unwind(AssertUnwindSafe(|| f(&mut guard))) {
                Ok(result) => result,
                Err(payload) => {
                    let err = SqlError::from_panic(payload.as_ref());
                    tracing::error!(error = %err, "panic in session; rolling back and resetting it");
                    guard.recover_from_panic();
                    Err(err)
                }
            }
        };
        if tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
        {
            return tokio::task::block_in_place(work);
        }
        match tokio::task::spawn_blocking(work).await {
            Ok(result) => result,
            Err(e) => Err(SqlError::new(
                crate::error::code::INTERNAL,
                format!("internal error: {e}"),
            )),
        }
    }

    /// Closes the session (rolling back an open transaction), waiting for any statement
    /// still running on it.
    pub async fn close(&self) {
        let _ = self
            .run(|core| {
                core.close();
                Ok(())
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_xx000_and_rolls_the_session_back() {
        let db = Database::open_temporary().unwrap();
        let handle = SessionHandle::open(db, SessionParams::default())
            .await
            .unwrap();
        let sql = |text: &'static str| {
            move |core: &mut Core| -> Result<(), SqlError> {
                let session = core.session()?;
                for stmt in session.parse(text)? {
                    let prepared = session.prepare(&stmt, &[])?;
                    session.execute(&prepared, Vec::new())?;
                }
                session.end_batch()?;
                Ok(())
            }
        };
        handle.run(sql("CREATE TABLE t (id int)")).await.unwrap();
        handle
            .run(sql("BEGIN; INSERT INTO t VALUES (1)"))
            .await
            .unwrap();
        let before = handle.cancel_handle().lock().unwrap().0.clone();
        let err = handle
            .run(|_core| -> Result<(), SqlError> { panic!("operator bug") })
            .await
            .unwrap_err();
        assert_eq!(err.code, "XX000");
        assert!(err.message.contains("operator bug"));
        // A fresh session: not in the old block, and the insert was rolled back.
        let status = handle
            .run(|core| Ok(core.session()?.transaction_status()))
            .await
            .unwrap();
        assert_eq!(status, sledgres_planner::TransactionStatus::Idle);
        let count = handle
            .run(|core| {
                let session = core.session()?;
                let stmt = session.parse("SELECT count(*) FROM t")?.remove(0);
                let prepared = session.prepare(&stmt, &[])?;
                let sledgres_planner::QueryResult::Rows(mut cursor) =
                    session.execute(&prepared, Vec::new())?
                else {
                    return Err(SqlError::new("XX000", "expected rows"));
                };
                let rows = session.fetch(&mut cursor, 0)?.unwrap_or_default();
                session.end_batch()?;
                Ok(rows)
            })
            .await
            .unwrap();
        assert_eq!(count, vec![vec![Value::Int8(0)]]);
        // CancelRequest now reaches the new session's handle.
        let after = handle.cancel_handle().lock().unwrap().0.clone();
        assert!(!Arc::ptr_eq(&before, &after));
    }
}
