//! Transactions at the SQL level, end to end through `Session`: isolation level selection,
//! READ ONLY, savepoints, notices, row locks (SELECT … FOR UPDATE), timeouts and VACUUM /
//! LOCK TABLE. Expected results, tags, messages and SQLSTATEs come from PostgreSQL 15.
//! Multi-session tests run the second session on a thread; every wait is bounded.

use sledgres_planner::{
    DataType, Database, ErrorKind, Notice, QueryResult, Session, SessionParams, Severity,
    TransactionStatus,
};
use std::sync::mpsc;
use std::time::Duration;

fn session_on(db: &Database) -> Session {
    db.session(SessionParams {
        user: "postgres".into(),
        ..Default::default()
    })
    .expect("session")
}

fn session() -> (Database, Session) {
    let db = Database::open_temporary().expect("open");
    let s = session_on(&db);
    (db, s)
}

type Outcome = Result<(Vec<Vec<String>>, String), (ErrorKind, String)>;

/// Runs a simple-query batch; returns the last statement's rows as text and its tag.
fn batch(s: &mut Session, sql: &str) -> Outcome {
    let r = (|| {
        let mut out = (vec![], String::new());
        for st in s.parse(sql)? {
            let p = s.prepare(&st, &[])?;
            match s.execute(&p, vec![])? {
                QueryResult::CopyIn(_) | QueryResult::CopyOut(_) => {
                    panic!("COPY is not used by these tests")
                }
                QueryResult::Command(t) => out = (vec![], t.0),
                QueryResult::Rows(mut c) => {
                    let types: Vec<DataType> =
                        c.columns().iter().map(|c| c.data_type.clone()).collect();
                    let mut rows = vec![];
                    while let Some(b) = s.fetch(&mut c, 0)? {
                        for r in b {
                            rows.push(
                                r.iter()
                                    .zip(&types)
                                    .map(|(v, t)| {
                                        if v.is_null() {
                                            "NULL".to_string()
                                        } else {
                                            s.format_text(v, t)
                                        }
                                    })
                                    .collect(),
                            );
                        }
                    }
                    out = (rows, c.tag().0);
                }
            }
        }
        Ok(out)
    })();
    let end = s.end_batch();
    let out = r.map_err(|e: sledgres_planner::Error| (e.kind, e.message))?;
    end.map_err(|e| (e.kind, e.message))?;
    Ok(out)
}

fn rows(s: &mut Session, sql: &str) -> Vec<Vec<String>> {
    match batch(s, sql) {
        Ok((r, _)) => r,
        Err(e) => panic!("{sql}: {e:?}"),
    }
}

/// The single value of a one-row, one-column query.
fn one(s: &mut Session, sql: &str) -> String {
    let r = rows(s, sql);
    assert_eq!(r.len(), 1, "{sql}");
    r[0][0].clone()
}

fn tag(s: &mut Session, sql: &str) -> String {
    match batch(s, sql) {
        Ok((_, t)) => t,
        Err(e) => panic!("{sql}: {e:?}"),
    }
}

fn err(s: &mut Session, sql: &str) -> (ErrorKind, String) {
    match batch(s, sql) {
        Ok(r) => panic!("{sql}: expected an error, got {r:?}"),
        Err(e) => e,
    }
}

fn status(s: &Session) -> TransactionStatus {
    s.transaction_status()
}

fn notices(s: &mut Session) -> Vec<(Severity, &'static str, String)> {
    s.take_notices()
        .into_iter()
        .map(
            |Notice {
                 severity,
                 code,
                 message,
             }| (severity, code, message),
        )
        .collect()
}

// --- isolation levels and transaction characteristics ------------------------------------

#[test]
fn begin_modes_and_show() {
    let (_db, mut s) = session();
    assert_eq!(one(&mut s, "SHOW transaction_isolation"), "read committed");
    assert_eq!(
        tag(&mut s, "BEGIN ISOLATION LEVEL READ UNCOMMITTED"),
        "BEGIN"
    );
    assert_eq!(
        one(&mut s, "SHOW transaction_isolation"),
        "read uncommitted"
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT current_setting('transaction_isolation'), current_setting('transaction_read_only'), current_setting('transaction_deferrable')"
        ),
        vec![vec!["read uncommitted", "off", "off"]]
    );
    // After the first query the level cannot change (to another level).
    assert_eq!(
        err(&mut s, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
        (
            ErrorKind::ActiveSqlTransaction,
            "SET TRANSACTION ISOLATION LEVEL must be called before any query".into()
        )
    );
    assert_eq!(status(&s), TransactionStatus::Failed);
    assert_eq!(tag(&mut s, "ROLLBACK"), "ROLLBACK");

    assert_eq!(
        tag(
            &mut s,
            "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE"
        ),
        "START TRANSACTION"
    );
    assert_eq!(one(&mut s, "SHOW transaction_isolation"), "serializable");
    assert_eq!(one(&mut s, "SHOW transaction_read_only"), "on");
    assert_eq!(one(&mut s, "SHOW transaction_deferrable"), "on");
    tag(&mut s, "COMMIT");

    // Before the first query SET TRANSACTION may change everything; setting the same level
    // again after a query is fine; READ ONLY may always be switched on, not off.
    tag(&mut s, "BEGIN");
    tag(&mut s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    assert_eq!(one(&mut s, "SHOW transaction_isolation"), "repeatable read");
    assert_eq!(one(&mut s, "SELECT 1"), "1");
    tag(&mut s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    tag(&mut s, "SET TRANSACTION READ ONLY");
    assert_eq!(
        err(&mut s, "SET TRANSACTION READ WRITE"),
        (
            ErrorKind::ActiveSqlTransaction,
            "transaction read-write mode must be set before any query".into()
        )
    );
    tag(&mut s, "ROLLBACK");
}

#[test]
fn set_transaction_checks_in_subtransactions_and_after_queries() {
    let (_db, mut s) = session();
    let cases: [(&str, &str); 4] = [
        (
            "BEGIN; SELECT 1; SET TRANSACTION NOT DEFERRABLE",
            "SET TRANSACTION [NOT] DEFERRABLE must be called before any query",
        ),
        (
            "BEGIN; SAVEPOINT a; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET TRANSACTION ISOLATION LEVEL must not be called in a subtransaction",
        ),
        (
            "BEGIN READ ONLY; SAVEPOINT a; SET TRANSACTION READ WRITE",
            "cannot set transaction read-write mode inside a read-only transaction",
        ),
        (
            "BEGIN; SAVEPOINT a; SET TRANSACTION DEFERRABLE",
            "SET TRANSACTION [NOT] DEFERRABLE cannot be called within a subtransaction",
        ),
    ];
    for (sql, msg) in cases {
        assert_eq!(
            err(&mut s, sql),
            (ErrorKind::ActiveSqlTransaction, msg.to_string()),
            "{sql}"
        );
        assert_eq!(status(&s), TransactionStatus::Failed);
        tag(&mut s, "ROLLBACK");
    }
    // A savepoint before the first query does not fix the characteristics.
    tag(&mut s, "BEGIN");
    tag(&mut s, "SAVEPOINT a");
    tag(&mut s, "RELEASE a");
    tag(&mut s, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    assert_eq!(one(&mut s, "SHOW transaction_isolation"), "repeatable read");
    tag(&mut s, "COMMIT");
}

#[test]
fn session_characteristics_and_defaults() {
    let (_db, mut s) = session();
    assert_eq!(
        tag(
            &mut s,
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"
        ),
        "SET"
    );
    assert_eq!(
        one(&mut s, "SHOW default_transaction_isolation"),
        "repeatable read"
    );
    assert_eq!(one(&mut s, "SHOW transaction_isolation"), "repeatable read");
    tag(
        &mut s,
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    );
    assert_eq!(one(&mut s, "SHOW transaction_read_only"), "on");
    assert_eq!(tag(&mut s, "RESET ALL"), "RESET");
    assert_eq!(one(&mut s, "SHOW default_transaction_deferrable"), "off");
    assert_eq!(one(&mut s, "SHOW transaction_deferrable"), "off");
    tag(
        &mut s,
        "SET default_transaction_isolation = 'read uncommitted'",
    );
    assert_eq!(
        one(&mut s, "SHOW transaction_isolation"),
        "read uncommitted"
    );
    tag(
        &mut s,
        "SET default_transaction_isolation TO 'serializable'",
    );
    tag(&mut s, "BEGIN");
    assert_eq!(one(&mut s, "SHOW transaction_isolation"), "serializable");
    tag(&mut s, "SET transaction_isolation = 'read committed'");
    assert_eq!(one(&mut s, "SHOW transaction_isolation"), "read committed");
    tag(&mut s, "COMMIT");
    // SET TRANSACTION outside a block: a warning, and no effect.
    notices(&mut s);
    assert_eq!(
        tag(&mut s, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
        "SET"
    );
    assert_eq!(
        notices(&mut s),
        vec![(
            Severity::Warning,
            "25P01",
            "SET TRANSACTION can only be used in transaction blocks".into()
        )]
    );
}

#[test]
fn isolation_levels_behave() {
    let (db, mut a) = session();
    let mut b = session_on(&db);
    tag(&mut a, "CREATE TABLE t (k int PRIMARY KEY, v int)");
    tag(&mut a, "INSERT INTO t VALUES (1, 10)");
    for (level, sees_new) in [
        ("READ UNCOMMITTED", true),
        ("READ COMMITTED", true),
        ("REPEATABLE READ", false),
        ("SERIALIZABLE", false),
    ] {
        tag(&mut a, &format!("BEGIN ISOLATION LEVEL {level}"));
        let before = one(&mut a, "SELECT v FROM t");
        tag(&mut b, "UPDATE t SET v = v + 1");
        let after = one(&mut a, "SELECT v FROM t");
        assert_eq!(before != after, sees_new, "{level}");
        tag(&mut a, "COMMIT");
    }
}

// --- notices ------------------------------------------------------------------------------

#[test]
fn block_warnings_and_if_exists_notices() {
    let (_db, mut s) = session();
    tag(&mut s, "BEGIN");
    assert_eq!(tag(&mut s, "BEGIN"), "BEGIN");
    assert_eq!(
        notices(&mut s),
        vec![(
            Severity::Warning,
            "25001",
            "there is already a transaction in progress".into()
        )]
    );
    assert_eq!(status(&s), TransactionStatus::InBlock);
    tag(&mut s, "COMMIT");
    assert!(notices(&mut s).is_empty());
    assert_eq!(tag(&mut s, "COMMIT"), "COMMIT");
    assert_eq!(tag(&mut s, "ROLLBACK"), "ROLLBACK");
    let warn = (
        Severity::Warning,
        "25P01",
        "there is no transaction in progress".to_string(),
    );
    assert_eq!(notices(&mut s), vec![warn.clone(), warn]);

    tag(&mut s, "CREATE TABLE IF NOT EXISTS tx (a int)");
    assert!(notices(&mut s).is_empty());
    assert_eq!(
        tag(&mut s, "CREATE TABLE IF NOT EXISTS tx (a int)"),
        "CREATE TABLE"
    );
    assert_eq!(
        notices(&mut s),
        vec![(
            Severity::Notice,
            "42P07",
            "relation \"tx\" already exists, skipping".into()
        )]
    );
    assert_eq!(tag(&mut s, "DROP TABLE IF EXISTS nope, tx"), "DROP TABLE");
    assert_eq!(
        notices(&mut s),
        vec![(
            Severity::Notice,
            "00000",
            "table \"nope\" does not exist, skipping".into()
        )]
    );
}

// --- statement_failed ---------------------------------------------------------------------

#[test]
fn statement_failed_from_outside() {
    let (_db, mut s) = session();
    tag(&mut s, "CREATE TABLE t (a int)");
    // In a block: the block fails.
    tag(&mut s, "BEGIN");
    let e = sledgres_planner::Error::new(ErrorKind::ProtocolViolation, "bad bind");
    s.statement_failed(&e);
    assert_eq!(status(&s), TransactionStatus::Failed);
    assert_eq!(err(&mut s, "SELECT 1").0, ErrorKind::InFailedTransaction);
    assert_eq!(tag(&mut s, "COMMIT"), "ROLLBACK");
    // Implicit transaction: what ran before the failure is rolled back.
    let st = s.parse("INSERT INTO t VALUES (1)").unwrap().remove(0);
    let p = s.prepare(&st, &[]).unwrap();
    s.execute(&p, vec![]).unwrap();
    s.statement_failed(&e);
    s.end_batch().unwrap();
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "0");
    assert_eq!(status(&s), TransactionStatus::Idle);
}

// --- READ ONLY ----------------------------------------------------------------------------

#[test]
fn read_only_transactions_refuse_writes() {
    let (_db, mut s) = session();
    tag(&mut s, "CREATE TABLE t (a int)");
    for (sql, what) in [
        ("INSERT INTO t VALUES (1)", "INSERT"),
        ("UPDATE t SET a = 1", "UPDATE"),
        ("DELETE FROM t", "DELETE"),
        ("CREATE TABLE zz (a int)", "CREATE TABLE"),
        ("DROP TABLE t", "DROP TABLE"),
        ("CREATE INDEX ON t (a)", "CREATE INDEX"),
    ] {
        tag(&mut s, "BEGIN READ ONLY");
        assert_eq!(
            err(&mut s, sql),
            (
                ErrorKind::ReadOnlySqlTransaction,
                format!("cannot execute {what} in a read-only transaction")
            ),
            "{sql}"
        );
        tag(&mut s, "ROLLBACK");
    }
    // SET TRANSACTION READ ONLY after a query still applies.
    tag(&mut s, "BEGIN");
    one(&mut s, "SELECT 1");
    tag(&mut s, "SET TRANSACTION READ ONLY");
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES (1)").0,
        ErrorKind::ReadOnlySqlTransaction
    );
    tag(&mut s, "ROLLBACK");
    // default_transaction_read_only applies to implicit transactions too.
    tag(&mut s, "SET default_transaction_read_only = on");
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES (1)").0,
        ErrorKind::ReadOnlySqlTransaction
    );
    tag(&mut s, "SET default_transaction_read_only = off");
    assert_eq!(tag(&mut s, "INSERT INTO t VALUES (1)"), "INSERT 0 1");
}

// --- savepoints ---------------------------------------------------------------------------

#[test]
fn savepoints_roll_back_and_release() {
    let (_db, mut s) = session();
    tag(&mut s, "CREATE TABLE t (a int PRIMARY KEY)");
    assert_eq!(
        err(&mut s, "SAVEPOINT a"),
        (
            ErrorKind::NoActiveSqlTransaction,
            "SAVEPOINT can only be used in transaction blocks".into()
        )
    );
    assert_eq!(
        err(&mut s, "RELEASE SAVEPOINT a"),
        (
            ErrorKind::NoActiveSqlTransaction,
            "RELEASE SAVEPOINT can only be used in transaction blocks".into()
        )
    );
    assert_eq!(
        err(&mut s, "ROLLBACK TO a"),
        (
            ErrorKind::NoActiveSqlTransaction,
            "ROLLBACK TO SAVEPOINT can only be used in transaction blocks".into()
        )
    );

    tag(&mut s, "BEGIN");
    assert_eq!(tag(&mut s, "SAVEPOINT s0"), "SAVEPOINT");
    tag(&mut s, "INSERT INTO t VALUES (1)");
    tag(&mut s, "SAVEPOINT a");
    tag(&mut s, "INSERT INTO t VALUES (2)");
    tag(&mut s, "SAVEPOINT a");
    tag(&mut s, "INSERT INTO t VALUES (3)");
    // The newest "a" wins; it stays after ROLLBACK TO.
    assert_eq!(tag(&mut s, "ROLLBACK TO SAVEPOINT a"), "ROLLBACK");
    assert_eq!(one(&mut s, "SELECT string_agg(a::text, ',') FROM t"), "1,2");
    tag(&mut s, "INSERT INTO t VALUES (4)");
    assert_eq!(tag(&mut s, "ROLLBACK TO a"), "ROLLBACK");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "2");
    // RELEASE forgets the newest "a"; the older one is still there.
    assert_eq!(tag(&mut s, "RELEASE SAVEPOINT a"), "RELEASE");
    tag(&mut s, "ROLLBACK TO a");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "1");
    assert_eq!(
        err(&mut s, "ROLLBACK TO b"),
        (
            ErrorKind::InvalidSavepointSpecification,
            "savepoint \"b\" does not exist".into()
        )
    );
    assert_eq!(status(&s), TransactionStatus::Failed);
    // ROLLBACK TO recovers a failed block.
    tag(&mut s, "ROLLBACK TO s0");
    assert_eq!(status(&s), TransactionStatus::InBlock);
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "0");
    tag(&mut s, "INSERT INTO t VALUES (5)");
    tag(&mut s, "SAVEPOINT x");
    // A failing statement's partial writes roll back with ROLLBACK TO.
    assert_eq!(
        err(&mut s, "INSERT INTO t VALUES (6), (5)").0,
        ErrorKind::UniqueViolation
    );
    assert_eq!(err(&mut s, "RELEASE x").0, ErrorKind::InFailedTransaction);
    tag(&mut s, "ROLLBACK TO x");
    tag(&mut s, "RELEASE x");
    assert_eq!(
        err(&mut s, "ROLLBACK TO x").1,
        "savepoint \"x\" does not exist"
    );
    tag(&mut s, "ROLLBACK TO s0");
    tag(&mut s, "INSERT INTO t VALUES (7)");
    assert_eq!(tag(&mut s, "COMMIT"), "COMMIT");
    assert_eq!(one(&mut s, "SELECT string_agg(a::text, ',') FROM t"), "7");
}

#[test]
fn rollback_to_savepoint_releases_row_locks() {
    let (db, mut a) = session();
    tag(&mut a, "CREATE TABLE t (k int PRIMARY KEY, v int)");
    tag(&mut a, "INSERT INTO t VALUES (1, 0)");
    tag(&mut a, "BEGIN");
    tag(&mut a, "SAVEPOINT s");
    tag(&mut a, "UPDATE t SET v = 1 WHERE k = 1");
    tag(&mut a, "ROLLBACK TO s");
    // The lock is gone: another session updates without waiting.
    let mut b = session_on(&db);
    tag(&mut b, "SET lock_timeout = '2s'");
    assert_eq!(tag(&mut b, "UPDATE t SET v = 2 WHERE k = 1"), "UPDATE 1");
    tag(&mut a, "COMMIT");
    assert_eq!(one(&mut a, "SELECT v FROM t"), "2");
}

// --- VACUUM, ANALYZE, LOCK TABLE ------------------------------------------------------------

#[test]
fn maintenance_statements() {
    let (_db, mut s) = session();
    tag(&mut s, "CREATE TABLE t (a int)");
    tag(&mut s, "INSERT INTO t VALUES (1)");
    tag(&mut s, "DELETE FROM t");
    assert_eq!(tag(&mut s, "VACUUM"), "VACUUM");
    assert_eq!(tag(&mut s, "VACUUM ANALYZE t"), "VACUUM");
    assert_eq!(tag(&mut s, "VACUUM (VERBOSE, ANALYZE) t"), "VACUUM");
    assert_eq!(tag(&mut s, "ANALYZE"), "ANALYZE");
    assert_eq!(tag(&mut s, "ANALYZE t"), "ANALYZE");
    assert_eq!(
        err(&mut s, "VACUUM nope"),
        (
            ErrorKind::UndefinedTable,
            "relation \"nope\" does not exist".into()
        )
    );
    tag(&mut s, "BEGIN");
    assert_eq!(
        err(&mut s, "VACUUM"),
        (
            ErrorKind::ActiveSqlTransaction,
            "VACUUM cannot run inside a transaction block".into()
        )
    );
    tag(&mut s, "ROLLBACK");
    assert_eq!(
        err(&mut s, "LOCK TABLE t"),
        (
            ErrorKind::NoActiveSqlTransaction,
            "LOCK TABLE can only be used in transaction blocks".into()
        )
    );
    tag(&mut s, "BEGIN");
    assert_eq!(
        tag(&mut s, "LOCK TABLE t IN SHARE MODE NOWAIT"),
        "LOCK TABLE"
    );
    assert_eq!(tag(&mut s, "LOCK t"), "LOCK TABLE");
    tag(&mut s, "COMMIT");
    // Several statements in one query string run in an implicit block: VACUUM refuses it,
    // LOCK TABLE accepts it, SAVEPOINT does not.
    assert_eq!(
        err(&mut s, "SELECT 1; VACUUM").1,
        "VACUUM cannot run inside a transaction block"
    );
    assert_eq!(tag(&mut s, "SELECT 1; LOCK TABLE t"), "LOCK TABLE");
    assert_eq!(
        err(&mut s, "SELECT 1; SAVEPOINT a").1,
        "SAVEPOINT can only be used in transaction blocks"
    );
    // Utility statements mix with ordinary ones in one query string.
    assert_eq!(
        rows(
            &mut s,
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 7; COMMIT; SELECT 8"
        ),
        vec![vec!["8"]]
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "0");
}

// --- timeouts -------------------------------------------------------------------------------

/// Runs `sql` in a second session on a thread; the result arrives on the channel.
fn spawn(db: &Database, setup: &'static str, sql: &'static str) -> mpsc::Receiver<Outcome> {
    let mut b = session_on(db);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if !setup.is_empty() {
            let _ = batch(&mut b, setup);
        }
        let _ = tx.send(batch(&mut b, sql));
    });
    rx
}

#[test]
fn lock_timeout_and_statement_timeout_end_lock_waits() {
    let (db, mut a) = session();
    tag(&mut a, "CREATE TABLE t (k int PRIMARY KEY, v int)");
    tag(&mut a, "INSERT INTO t VALUES (1, 0)");
    tag(&mut a, "BEGIN");
    tag(&mut a, "UPDATE t SET v = 1 WHERE k = 1");
    let rx = spawn(
        &db,
        "SET lock_timeout = '100ms'",
        "UPDATE t SET v = 2 WHERE k = 1",
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).expect("bounded"),
        Err((
            ErrorKind::LockNotAvailable,
            "canceling statement due to lock timeout".into()
        ))
    );
    let rx = spawn(
        &db,
        "SET statement_timeout = '100ms'",
        "UPDATE t SET v = 2 WHERE k = 1",
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).expect("bounded"),
        Err((
            ErrorKind::QueryCanceled,
            "canceling statement due to statement timeout".into()
        ))
    );
    tag(&mut a, "ROLLBACK");
}

// --- char(n) casts ----------------------------------------------------------------------------

#[test]
fn char_padding_is_dropped_when_cast_to_text() {
    let (_db, mut s) = session();
    assert_eq!(one(&mut s, "SELECT 'a'::char(3) || 'b'"), "ab");
    assert_eq!(one(&mut s, "SELECT length('a '::char(3)::text)"), "1");
}

// --- SELECT … FOR UPDATE and row lock strengths ---------------------------------------------

fn two_rows(db: &Database) -> Session {
    let mut a = session_on(db);
    tag(&mut a, "CREATE TABLE t (k int PRIMARY KEY, v int)");
    tag(&mut a, "INSERT INTO t VALUES (1, 10), (2, 20)");
    a
}

fn wait(rx: mpsc::Receiver<Outcome>) -> Outcome {
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the other session finished in time")
}

#[test]
fn for_update_nowait_skip_locked_and_strengths() {
    let db = Database::open_temporary().unwrap();
    let mut a = two_rows(&db);
    let mut b = session_on(&db);
    tag(&mut a, "BEGIN");
    assert_eq!(
        batch(&mut a, "SELECT k, v FROM t WHERE k = 1 FOR UPDATE"),
        Ok((
            vec![vec!["1".to_string(), "10".to_string()]],
            "SELECT 1".into()
        ))
    );
    assert_eq!(
        err(&mut b, "SELECT * FROM t WHERE k = 1 FOR UPDATE NOWAIT"),
        (
            ErrorKind::LockNotAvailable,
            "could not obtain lock on row in relation \"t\"".into()
        )
    );
    assert_eq!(
        err(&mut b, "SELECT * FROM t FOR KEY SHARE NOWAIT").0,
        ErrorKind::LockNotAvailable
    );
    assert_eq!(
        rows(&mut b, "SELECT k FROM t FOR SHARE SKIP LOCKED"),
        vec![vec!["2"]]
    );
    tag(&mut b, "SET lock_timeout = '100ms'");
    assert_eq!(
        err(&mut b, "UPDATE t SET v = 0 WHERE k = 1"),
        (
            ErrorKind::LockNotAvailable,
            "canceling statement due to lock timeout".into()
        )
    );
    tag(&mut a, "COMMIT");

    // FOR NO KEY UPDATE (and a plain UPDATE) leave FOR KEY SHARE free, not FOR SHARE.
    tag(&mut a, "BEGIN");
    rows(&mut a, "SELECT * FROM t WHERE k = 1 FOR NO KEY UPDATE");
    assert_eq!(
        rows(&mut b, "SELECT k FROM t WHERE k = 1 FOR KEY SHARE NOWAIT"),
        vec![vec!["1"]]
    );
    assert_eq!(
        err(&mut b, "SELECT k FROM t WHERE k = 1 FOR SHARE NOWAIT").0,
        ErrorKind::LockNotAvailable
    );
    tag(&mut a, "ROLLBACK");
    tag(&mut a, "BEGIN");
    tag(&mut a, "UPDATE t SET v = 11 WHERE k = 1");
    assert_eq!(
        rows(&mut b, "SELECT k FROM t WHERE k = 1 FOR KEY SHARE NOWAIT"),
        vec![vec!["1"]]
    );
    tag(&mut a, "ROLLBACK");
    // DELETE (and a key change) take FOR UPDATE: FOR KEY SHARE conflicts.
    tag(&mut a, "BEGIN");
    tag(&mut a, "DELETE FROM t WHERE k = 1");
    assert_eq!(
        err(&mut b, "SELECT k FROM t WHERE k = 1 FOR KEY SHARE NOWAIT").0,
        ErrorKind::LockNotAvailable
    );
    tag(&mut a, "ROLLBACK");
    tag(&mut a, "BEGIN");
    tag(&mut a, "UPDATE t SET k = 3 WHERE k = 2");
    assert_eq!(
        err(&mut b, "SELECT k FROM t WHERE k = 2 FOR KEY SHARE NOWAIT").0,
        ErrorKind::LockNotAvailable
    );
    tag(&mut a, "ROLLBACK");
    // OF names the locked table: rows of the other one stay free.
    tag(&mut a, "CREATE TABLE u (k int PRIMARY KEY)");
    tag(&mut a, "INSERT INTO u VALUES (1)");
    tag(&mut a, "BEGIN");
    rows(
        &mut a,
        "SELECT * FROM t x, u WHERE x.k = u.k FOR UPDATE OF x",
    );
    assert_eq!(
        rows(&mut b, "SELECT k FROM u FOR UPDATE NOWAIT"),
        vec![vec!["1"]]
    );
    assert_eq!(
        err(&mut b, "SELECT k FROM t WHERE k = 1 FOR UPDATE NOWAIT").0,
        ErrorKind::LockNotAvailable
    );
    tag(&mut a, "COMMIT");
}

#[test]
fn for_update_waits_then_rechecks_at_read_committed() {
    let db = Database::open_temporary().unwrap();
    let mut a = two_rows(&db);
    tag(&mut a, "BEGIN");
    tag(&mut a, "UPDATE t SET v = 100 WHERE k = 1");
    let rx = spawn(&db, "", "SELECT k, v FROM t WHERE v < 50 FOR UPDATE");
    std::thread::sleep(Duration::from_millis(200));
    tag(&mut a, "COMMIT");
    assert_eq!(
        wait(rx),
        Ok((
            vec![vec!["2".to_string(), "20".to_string()]],
            "SELECT 1".into()
        ))
    );
    // A newer version that still qualifies is returned as it is now.
    tag(&mut a, "BEGIN");
    tag(&mut a, "UPDATE t SET v = 21 WHERE k = 2");
    let rx = spawn(&db, "", "SELECT k, v FROM t WHERE v < 50 FOR SHARE");
    std::thread::sleep(Duration::from_millis(200));
    tag(&mut a, "COMMIT");
    assert_eq!(
        wait(rx),
        Ok((
            vec![vec!["2".to_string(), "21".to_string()]],
            "SELECT 1".into()
        ))
    );
}

#[test]
fn for_update_fails_at_repeatable_read_after_concurrent_update() {
    let db = Database::open_temporary().unwrap();
    let mut a = two_rows(&db);
    let mut b = session_on(&db);
    tag(&mut b, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    rows(&mut b, "SELECT * FROM t");
    tag(&mut a, "UPDATE t SET v = 12 WHERE k = 1");
    assert_eq!(
        err(&mut b, "SELECT * FROM t WHERE k = 1 FOR UPDATE"),
        (
            ErrorKind::SerializationFailure,
            "could not serialize access due to concurrent update".into()
        )
    );
    tag(&mut b, "ROLLBACK");
}

#[test]
fn for_update_restrictions() {
    let db = Database::open_temporary().unwrap();
    let mut s = two_rows(&db);
    tag(&mut s, "CREATE TABLE u (k int PRIMARY KEY)");
    for (sql, msg) in [
        (
            "SELECT count(*) FROM t FOR UPDATE",
            "FOR UPDATE is not allowed with aggregate functions",
        ),
        (
            "SELECT count(*) FROM t FOR KEY SHARE",
            "FOR KEY SHARE is not allowed with aggregate functions",
        ),
        (
            "SELECT v FROM t GROUP BY v FOR NO KEY UPDATE",
            "FOR NO KEY UPDATE is not allowed with GROUP BY clause",
        ),
        (
            "SELECT DISTINCT v FROM t FOR SHARE",
            "FOR SHARE is not allowed with DISTINCT clause",
        ),
        (
            "SELECT count(*) FROM t HAVING true FOR UPDATE",
            "FOR UPDATE is not allowed with HAVING clause",
        ),
        (
            "SELECT k FROM t UNION SELECT k FROM u FOR UPDATE",
            "FOR UPDATE is not allowed with UNION/INTERSECT/EXCEPT",
        ),
        (
            "SELECT sum(v) OVER () FROM t FOR UPDATE",
            "FOR UPDATE is not allowed with window functions",
        ),
    ] {
        assert_eq!(
            err(&mut s, sql),
            (ErrorKind::FeatureNotSupported, msg.to_string()),
            "{sql}"
        );
    }
    assert_eq!(
        err(&mut s, "SELECT * FROM t, u FOR UPDATE OF x"),
        (
            ErrorKind::UndefinedTable,
            "relation \"x\" in FOR UPDATE clause not found in FROM clause".into()
        )
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT * FROM (SELECT k, v FROM t ORDER BY k DESC FOR UPDATE) s ORDER BY k"
        ),
        vec![vec!["1", "10"], vec!["2", "20"]]
    );
    assert_eq!(
        rows(
            &mut s,
            "SELECT v FROM t ORDER BY k DESC LIMIT 1 OFFSET 1 FOR SHARE"
        ),
        vec![vec!["10"]]
    );
    assert_eq!(
        err(&mut s, "SELECT * FROM t x FOR UPDATE OF t").1,
        "relation \"t\" in FOR UPDATE clause not found in FROM clause"
    );
    for (clause, what) in [
        ("FOR SHARE", "SELECT FOR SHARE"),
        ("FOR KEY SHARE", "SELECT FOR KEY SHARE"),
        ("FOR NO KEY UPDATE", "SELECT FOR NO KEY UPDATE"),
        ("FOR UPDATE", "SELECT FOR UPDATE"),
    ] {
        tag(&mut s, "BEGIN READ ONLY");
        assert_eq!(
            err(&mut s, &format!("SELECT * FROM t {clause}")),
            (
                ErrorKind::ReadOnlySqlTransaction,
                format!("cannot execute {what} in a read-only transaction")
            )
        );
        tag(&mut s, "ROLLBACK");
    }
}

// --- current_setting / set_config -----------------------------------------------------------

#[test]
fn current_setting_and_set_config() {
    let (_db, mut s) = session();
    assert_eq!(
        one(
            &mut s,
            "SELECT set_config('statement_timeout', '1000', false)"
        ),
        "1s"
    );
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "1s");
    assert_eq!(
        one(
            &mut s,
            "SELECT pg_catalog.set_config('search_path', '', false)"
        ),
        ""
    );
    assert_eq!(one(&mut s, "SHOW search_path"), "");
    assert_eq!(
        one(&mut s, "SELECT current_setting('nope', true) IS NULL"),
        "t"
    );
    assert_eq!(
        err(&mut s, "SELECT current_setting('nope')"),
        (
            ErrorKind::UndefinedObject,
            "unrecognized configuration parameter \"nope\"".into()
        )
    );
    assert_eq!(
        one(&mut s, "SELECT current_setting('statement_timeout')"),
        "1s"
    );
}

#[test]
fn deadlock_between_row_locks_fails_one_session() {
    let db = Database::open_temporary().unwrap();
    let mut a = two_rows(&db);
    let mut b = session_on(&db);
    tag(&mut a, "BEGIN");
    rows(&mut a, "SELECT * FROM t WHERE k = 1 FOR UPDATE");
    tag(&mut b, "BEGIN");
    rows(&mut b, "SELECT * FROM t WHERE k = 2 FOR UPDATE");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = batch(&mut b, "UPDATE t SET v = 0 WHERE k = 1");
        let _ = batch(&mut b, "ROLLBACK");
        let _ = tx.send(r);
    });
    std::thread::sleep(Duration::from_millis(100));
    let ra = batch(&mut a, "UPDATE t SET v = 0 WHERE k = 2");
    tag(&mut a, "ROLLBACK");
    let rb = wait(rx);
    let deadlocked: Vec<_> = [&ra, &rb]
        .into_iter()
        .filter(|r| matches!(r, Err((ErrorKind::DeadlockDetected, m)) if m == "deadlock detected"))
        .collect();
    assert_eq!(deadlocked.len(), 1, "{ra:?} {rb:?}");
}

#[test]
fn skip_locked_work_queue() {
    let db = Database::open_temporary().unwrap();
    let mut a = session_on(&db);
    tag(&mut a, "CREATE TABLE q (id int PRIMARY KEY, done bool)");
    tag(
        &mut a,
        "INSERT INTO q VALUES (1, false), (2, false), (3, false)",
    );
    let mut b = session_on(&db);
    // Only the row returned is locked, also under ORDER BY (the sort reads them all).
    let take = "SELECT id FROM q WHERE NOT done ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED";
    tag(&mut a, "BEGIN");
    assert_eq!(one(&mut a, take), "1");
    tag(&mut b, "BEGIN");
    assert_eq!(one(&mut b, take), "2");
    tag(&mut a, "UPDATE q SET done = true WHERE id = 1");
    tag(&mut a, "COMMIT");
    tag(&mut b, "COMMIT");
    assert_eq!(one(&mut a, take), "2");
    // Without ORDER BY the scan locks as it goes and LIMIT stops it.
    tag(&mut a, "BEGIN");
    assert_eq!(
        one(
            &mut a,
            "SELECT id FROM q WHERE NOT done LIMIT 1 FOR UPDATE SKIP LOCKED"
        ),
        "2"
    );
    assert_eq!(
        one(
            &mut b,
            "SELECT id FROM q WHERE NOT done LIMIT 1 FOR UPDATE SKIP LOCKED"
        ),
        "3"
    );
    tag(&mut a, "ROLLBACK");
}

#[test]
fn sorted_for_update_rechecks_the_newest_version() {
    let db = Database::open_temporary().unwrap();
    let mut a = two_rows(&db);
    tag(&mut a, "BEGIN");
    tag(&mut a, "UPDATE t SET v = 100 WHERE k = 1");
    tag(&mut a, "UPDATE t SET v = 22 WHERE k = 2");
    let rx = spawn(
        &db,
        "",
        "SELECT k, v * 2 FROM t WHERE v < 50 ORDER BY v DESC FOR UPDATE",
    );
    std::thread::sleep(Duration::from_millis(200));
    tag(&mut a, "COMMIT");
    // Sorted on the old versions (20, 10); row 1 no longer qualifies, row 2 shows its new v.
    assert_eq!(
        wait(rx),
        Ok((
            vec![vec!["2".to_string(), "44".to_string()]],
            "SELECT 1".into()
        ))
    );
}

// --- SET is transactional -------------------------------------------------------------------

#[test]
fn settings_roll_back_with_the_transaction() {
    let (_db, mut s) = session();
    assert_eq!(tag(&mut s, "SET LOCAL statement_timeout = '5s'"), "SET");
    assert_eq!(
        notices(&mut s),
        vec![(
            Severity::Warning,
            "25P01",
            "SET LOCAL can only be used in transaction blocks".into()
        )]
    );
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "0");
    tag(&mut s, "BEGIN; SET statement_timeout = '7s'; ROLLBACK");
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "0");
    tag(&mut s, "BEGIN");
    tag(&mut s, "SET LOCAL statement_timeout = '8s'");
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "8s");
    tag(&mut s, "COMMIT");
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "0");
    tag(&mut s, "BEGIN");
    tag(&mut s, "SET statement_timeout = '9s'");
    tag(&mut s, "SAVEPOINT a");
    tag(&mut s, "SET statement_timeout = '10s'");
    tag(&mut s, "ROLLBACK TO a");
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "9s");
    tag(&mut s, "COMMIT");
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "9s");
    assert_eq!(
        one(
            &mut s,
            "SELECT set_config('statement_timeout', '11s', true)"
        ),
        "11s"
    );
    assert_eq!(one(&mut s, "SHOW statement_timeout"), "9s");
    // A failed implicit transaction takes its SETs with it; reported settings are re-sent.
    s.take_parameter_changes();
    assert!(batch(&mut s, "SET application_name = 'x'; SELECT 1/0").is_err());
    assert_eq!(one(&mut s, "SHOW application_name"), "");
    assert_eq!(
        s.take_parameter_changes(),
        vec![("application_name".to_string(), "".to_string())]
    );
}
