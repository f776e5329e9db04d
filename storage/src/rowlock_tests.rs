//! Row lock modes (SELECT … FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE) with NOWAIT and
//! SKIP LOCKED, as PostgreSQL 15 behaves (checked against it with two psql sessions).

use crate::lock::RowLockMode::*;
use crate::*;
use std::sync::mpsc;
use std::time::Duration;

const BLOCKED: Duration = Duration::from_millis(200);
const UNBLOCKED: Duration = Duration::from_secs(5);

fn setup() -> (Store, TableId) {
    let store = Store::open_in_memory().unwrap();
    let txn = begin(&store);
    let col = |name: &str| ColumnDef {
        name: name.into(),
        data_type: DataType::Int4,
        nullable: true,
        default: None,
    };
    let t = txn
        .create_table(TableDef {
            id: 0,
            schema: "public".into(),
            name: "test".into(),
            columns: vec![col("id"), col("value")],
            primary_key: vec![0],
            primary_key_name: Some("test_pkey".into()),
            constraints: vec![],
            indexes: vec![],
        })
        .unwrap();
    txn.begin_statement().unwrap();
    txn.insert(t, vec![Value::Int4(1), Value::Int4(10)])
        .unwrap();
    txn.insert(t, vec![Value::Int4(2), Value::Int4(20)])
        .unwrap();
    txn.commit().unwrap();
    (store, t)
}

fn begin(store: &Store) -> Transaction {
    let txn = store.begin(TxnOptions::default()).unwrap();
    txn.begin_statement().unwrap();
    txn
}

fn key(id: i32) -> RowKey {
    let mut k = Vec::new();
    keycode::encode_values(&[Value::Int4(id)], &mut k);
    RowKey(k)
}

fn lock(txn: &Transaction, t: TableId, mode: RowLockMode, wait: WaitPolicy) -> Result<bool> {
    txn.lock_row_with(t, &key(1), mode, wait)
        .map(|o| o.is_some())
}

fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

#[test]
fn conflict_table_matches_postgresql() {
    // Rows: requested; columns: held (KEY SHARE, SHARE, NO KEY UPDATE, UPDATE).
    let modes = [KeyShare, Share, NoKeyUpdate, Update];
    let expected = [
        [false, false, false, true],
        [false, false, true, true],
        [false, true, true, true],
        [true, true, true, true],
    ];
    for (i, req) in modes.iter().enumerate() {
        for (j, held) in modes.iter().enumerate() {
            assert_eq!(req.conflicts(*held), expected[i][j], "{req:?} vs {held:?}");
        }
    }
}

#[test]
fn nowait_and_skip_locked_against_every_mode() {
    let modes = [KeyShare, Share, NoKeyUpdate, Update];
    for held in modes {
        for req in modes {
            let (store, t) = setup();
            let a = begin(&store);
            assert!(lock(&a, t, held, WaitPolicy::Block).unwrap());
            let b = begin(&store);
            let conflict = req.conflicts(held);
            match lock(&b, t, req, WaitPolicy::NoWait) {
                Ok(true) => assert!(!conflict, "{req:?} after {held:?}"),
                Err(Error::LockNotAvailable(msg)) => {
                    assert!(conflict, "{req:?} after {held:?}");
                    assert_eq!(msg, "could not obtain lock on row in relation \"test\"");
                }
                other => panic!("{other:?}"),
            }
            b.rollback().unwrap();
            let c = begin(&store);
            assert_eq!(
                lock(&c, t, req, WaitPolicy::SkipLocked).unwrap(),
                !conflict,
                "{req:?} after {held:?}"
            );
        }
    }
}

#[test]
fn shared_lockers_coexist_and_a_writer_waits_for_all_of_them() {
    let (store, t) = setup();
    let a = begin(&store);
    let b = begin(&store);
    assert!(lock(&a, t, Share, WaitPolicy::Block).unwrap());
    assert!(lock(&b, t, Share, WaitPolicy::Block).unwrap());
    let w = begin(&store);
    let writer = {
        let w = w.clone();
        spawn(move || {
            w.lock_row(t, &key(1))?;
            w.update(t, &key(1), vec![Value::Int4(1), Value::Int4(11)])
        })
    };
    assert!(writer.recv_timeout(BLOCKED).is_err());
    a.commit().unwrap();
    assert!(writer.recv_timeout(BLOCKED).is_err());
    b.rollback().unwrap();
    writer.recv_timeout(UNBLOCKED).unwrap().unwrap();
    w.commit().unwrap();
}

#[test]
fn key_share_blocks_delete_but_not_a_non_key_update() {
    let (store, t) = setup();
    let fk = begin(&store);
    assert!(lock(&fk, t, KeyShare, WaitPolicy::Block).unwrap());
    // UPDATE … SET value: FOR NO KEY UPDATE strength, compatible.
    let u = begin(&store);
    u.lock_row(t, &key(1)).unwrap();
    u.update(t, &key(1), vec![Value::Int4(1), Value::Int4(5)])
        .unwrap();
    u.commit().unwrap();
    // DELETE and a primary key change: FOR UPDATE strength, they wait.
    let d = begin(&store);
    let deleter = {
        let d = d.clone();
        spawn(move || d.delete(t, &key(2)).and_then(|_| d.delete(t, &key(1))))
    };
    assert!(deleter.recv_timeout(BLOCKED).is_err());
    fk.commit().unwrap();
    deleter.recv_timeout(UNBLOCKED).unwrap().unwrap();
    d.commit().unwrap();
}

#[test]
fn a_compatible_request_does_not_queue_behind_a_waiting_writer() {
    let (store, t) = setup();
    let a = begin(&store);
    assert!(lock(&a, t, Share, WaitPolicy::Block).unwrap());
    let w = begin(&store);
    let writer = {
        let w = w.clone();
        spawn(move || lock(&w, t, Update, WaitPolicy::Block))
    };
    assert!(writer.recv_timeout(BLOCKED).is_err());
    // As in PostgreSQL, a FOR SHARE locker is let in while the row is only share-locked.
    let c = begin(&store);
    assert!(lock(&c, t, Share, WaitPolicy::NoWait).unwrap());
    a.commit().unwrap();
    assert!(writer.recv_timeout(BLOCKED).is_err());
    c.commit().unwrap();
    assert!(writer.recv_timeout(UNBLOCKED).unwrap().unwrap());
}

#[test]
fn upgrading_shared_locks_deadlock_is_detected() {
    let (store, t) = setup();
    let a = begin(&store);
    let b = begin(&store);
    assert!(lock(&a, t, Share, WaitPolicy::Block).unwrap());
    assert!(lock(&b, t, Share, WaitPolicy::Block).unwrap());
    let results: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|txn| {
            spawn(move || {
                let r = lock(&txn, t, Update, WaitPolicy::Block);
                if r.is_err() {
                    txn.rollback().unwrap();
                } else {
                    txn.commit().unwrap();
                }
                r
            })
        })
        .collect();
    let outcomes: Vec<_> = results
        .iter()
        .map(|rx| rx.recv_timeout(Duration::from_secs(10)).unwrap())
        .collect();
    let deadlocks = outcomes
        .iter()
        .filter(|r| matches!(r, Err(Error::Deadlock { .. })))
        .count();
    assert_eq!(deadlocks, 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1);
}

#[test]
fn locking_a_row_changed_after_the_snapshot() {
    for isolation in [
        IsolationLevel::RepeatableRead,
        IsolationLevel::ReadCommitted,
    ] {
        let (store, t) = setup();
        let r = store
            .begin(TxnOptions {
                isolation,
                ..TxnOptions::default()
            })
            .unwrap();
        r.begin_statement().unwrap();
        r.scan(t).unwrap().count();
        let w = begin(&store);
        w.lock_row(t, &key(1)).unwrap();
        w.update(t, &key(1), vec![Value::Int4(1), Value::Int4(11)])
            .unwrap();
        let locker = {
            let r = r.clone();
            spawn(move || r.lock_row_with(t, &key(1), Share, WaitPolicy::Block))
        };
        assert!(locker.recv_timeout(BLOCKED).is_err());
        w.commit().unwrap();
        let got = locker.recv_timeout(UNBLOCKED).unwrap();
        if isolation == IsolationLevel::ReadCommitted {
            assert_eq!(
                got.unwrap(),
                Some(RowLockOutcome::Updated(vec![
                    Value::Int4(1),
                    Value::Int4(11)
                ]))
            );
        } else {
            assert!(matches!(got, Err(Error::Serialization { .. })), "{got:?}");
        }
    }
}

#[test]
fn read_only_transactions_cannot_lock_rows() {
    let (store, t) = setup();
    let ro = store
        .begin(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })
        .unwrap();
    ro.begin_statement().unwrap();
    assert_eq!(
        ro.lock_row_with(t, &key(1), KeyShare, WaitPolicy::Block),
        Err(Error::ReadOnly("SELECT FOR KEY SHARE".into()))
    );
}
