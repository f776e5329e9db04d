//! SERIALIZABLE (SSI) at the storage API, step by step as the Hermitage tests run them against
//! PostgreSQL 15 (/work/shared/isolation/hermitage-postgres.md): the same statement fails, with
//! PostgreSQL's message and reason code. The planner's statements are emulated by the calls
//! they make: `WHERE id = k` is a point read, `WHERE value % 3 = 0` a full scan, UPDATE is
//! `lock_row` + `update`.

use crate::*;
use std::ops::Bound;
use std::sync::mpsc;
use std::time::Duration;

const SER: IsolationLevel = IsolationLevel::Serializable;
const RR: IsolationLevel = IsolationLevel::RepeatableRead;

/// `test (id int primary key, value int)` with an index on value, rows (1,10), (2,20).
fn setup() -> (Store, TableId, IndexId) {
    let store = Store::open_in_memory().unwrap();
    let txn = store.begin(TxnOptions::default()).unwrap();
    txn.begin_statement().unwrap();
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
            indexes: vec![IndexDef {
                id: 0,
                name: "test_value_idx".into(),
                columns: vec![1],
                unique: false,
                primary: false,
            }],
        })
        .unwrap();
    txn.begin_statement().unwrap();
    txn.insert(t, row(1, 10)).unwrap();
    txn.insert(t, row(2, 20)).unwrap();
    let idx = txn.get_table("public", "test").unwrap().unwrap().indexes[0].id;
    txn.commit().unwrap();
    (store, t, idx)
}

fn row(id: i32, value: i32) -> Row {
    vec![Value::Int4(id), Value::Int4(value)]
}

fn begin_with(store: &Store, isolation: IsolationLevel, read_only: bool) -> Transaction {
    let txn = store
        .begin(TxnOptions {
            isolation,
            read_only,
            deferrable: false,
        })
        .unwrap();
    txn.begin_statement().unwrap();
    txn
}

fn begin(store: &Store, isolation: IsolationLevel) -> Transaction {
    begin_with(store, isolation, false)
}

/// `SELECT * FROM test WHERE id = k`: the value, if the row is visible.
fn get(txn: &Transaction, t: TableId, id: i32) -> Option<i32> {
    txn.begin_statement().unwrap();
    txn.get_by_primary_key(t, &[Value::Int4(id)])
        .unwrap()
        .map(|(_, r)| match r[1] {
            Value::Int4(v) => v,
            ref v => panic!("{v:?}"),
        })
}

/// `SELECT * FROM test` (any predicate evaluated over a full scan): (id, value) pairs.
fn scan(txn: &Transaction, t: TableId) -> Result<Vec<(i32, i32)>> {
    txn.begin_statement()?;
    txn.scan(t)?
        .map(|r| {
            let (_, r) = r?;
            match (&r[0], &r[1]) {
                (Value::Int4(a), Value::Int4(b)) => Ok((*a, *b)),
                _ => panic!("{r:?}"),
            }
        })
        .collect()
}

/// `UPDATE test SET value = v WHERE id = k`.
fn update(txn: &Transaction, t: TableId, id: i32, value: i32) -> Result<()> {
    txn.begin_statement()?;
    let (key, _) = txn
        .get_by_primary_key(t, &[Value::Int4(id)])?
        .expect("row exists");
    txn.lock_row(t, &key)?;
    txn.update(t, &key, row(id, value))?;
    Ok(())
}

fn insert(txn: &Transaction, t: TableId, id: i32, value: i32) -> Result<()> {
    txn.begin_statement()?;
    txn.insert(t, row(id, value)).map(|_| ())
}

/// Asserts PostgreSQL's SSI failure with the given reason code.
fn assert_ssi_failure(r: Result<()>, reason: &str) {
    match r {
        Err(Error::Serialization {
            message,
            detail,
            hint,
        }) => {
            assert_eq!(
                message,
                "could not serialize access due to read/write dependencies among transactions"
            );
            assert_eq!(detail.as_deref(), Some(&*format!("Reason code: {reason}.")));
            assert_eq!(
                hint.as_deref(),
                Some("The transaction might succeed if retried.")
            );
        }
        other => panic!("expected an SSI failure, got {other:?}"),
    }
}

const AT_COMMIT: &str = "Canceled on identification as a pivot, during commit attempt";
const AT_WRITE: &str = "Canceled on identification as a pivot, during write";

#[test]
fn g2_item_write_skew_fails_at_the_second_commit() {
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    assert_eq!((get(&t1, t, 1), get(&t1, t, 2)), (Some(10), Some(20)));
    assert_eq!((get(&t2, t, 1), get(&t2, t, 2)), (Some(10), Some(20)));
    update(&t1, t, 1, 11).unwrap();
    update(&t2, t, 2, 21).unwrap();
    t1.commit().unwrap();
    assert_ssi_failure(t2.commit(), AT_COMMIT);
    let check = begin(&store, RR);
    assert_eq!((get(&check, t, 1), get(&check, t, 2)), (Some(11), Some(20)));
}

#[test]
fn g2_item_write_skew_is_allowed_at_repeatable_read() {
    let (store, t, _) = setup();
    let t1 = begin(&store, RR);
    let t2 = begin(&store, RR);
    assert_eq!((get(&t1, t, 1), get(&t1, t, 2)), (Some(10), Some(20)));
    assert_eq!((get(&t2, t, 1), get(&t2, t, 2)), (Some(10), Some(20)));
    update(&t1, t, 1, 11).unwrap();
    update(&t2, t, 2, 21).unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();
}

#[test]
fn g2_predicate_phantoms_fail_at_the_second_commit() {
    for level in [SER, RR] {
        let (store, t, _) = setup();
        let t1 = begin(&store, level);
        let t2 = begin(&store, level);
        // `WHERE value % 3 = 0`: a full scan, nothing matches.
        scan(&t1, t).unwrap();
        scan(&t2, t).unwrap();
        insert(&t1, t, 3, 30).unwrap();
        insert(&t2, t, 4, 42).unwrap();
        t1.commit().unwrap();
        if level == SER {
            assert_ssi_failure(t2.commit(), AT_COMMIT);
        } else {
            t2.commit().unwrap();
        }
    }
}

#[test]
fn index_range_predicates_catch_phantoms_and_ignore_inserts_elsewhere() {
    let (store, t, idx) = setup();
    let range = || KeyRange {
        start: Bound::Included(vec![Value::Int4(30)]),
        end: Bound::Excluded(vec![Value::Int4(50)]),
    };
    // `WHERE value >= 30 AND value < 50` by index in both; both insert into the range.
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    assert_eq!(t1.scan_index(t, idx, range()).unwrap().count(), 0);
    assert_eq!(t2.scan_index(t, idx, range()).unwrap().count(), 0);
    insert(&t1, t, 3, 30).unwrap();
    insert(&t2, t, 4, 42).unwrap();
    t1.commit().unwrap();
    assert_ssi_failure(t2.commit(), AT_COMMIT);

    // The same with inserts outside the ranges read: no conflict, both commit.
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    let low = || KeyRange {
        start: Bound::Included(vec![Value::Int4(100)]),
        end: Bound::Excluded(vec![Value::Int4(200)]),
    };
    assert_eq!(t1.scan_index(t, idx, low()).unwrap().count(), 0);
    assert_eq!(t2.scan_index(t, idx, low()).unwrap().count(), 0);
    insert(&t1, t, 5, 5).unwrap();
    insert(&t2, t, 6, 6).unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();

    // Primary key ranges likewise.
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    let ids = || KeyRange {
        start: Bound::Included(vec![Value::Int4(10)]),
        end: Bound::Included(vec![Value::Int4(20)]),
    };
    assert_eq!(t1.scan_primary_range(t, ids()).unwrap().count(), 0);
    assert_eq!(t2.scan_primary_range(t, ids()).unwrap().count(), 0);
    insert(&t1, t, 15, 0).unwrap();
    insert(&t2, t, 25, 0).unwrap(); // outside: t1 --rw--> t2 does not exist
    t1.commit().unwrap();
    t2.commit().unwrap();
}

#[test]
fn point_reads_of_missing_keys_are_predicates() {
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    // Each checks that the other's key is absent, then inserts its own.
    assert_eq!(get(&t1, t, 8), None);
    assert_eq!(get(&t2, t, 7), None);
    insert(&t1, t, 7, 0).unwrap();
    insert(&t2, t, 8, 0).unwrap();
    t1.commit().unwrap();
    assert_ssi_failure(t2.commit(), AT_COMMIT);
}

#[test]
fn fekete_read_only_anomaly_fails_at_t1s_update() {
    for t3_read_only in [false, true] {
        let (store, t, _) = setup();
        let t1 = begin(&store, SER);
        assert_eq!(scan(&t1, t).unwrap(), vec![(1, 10), (2, 20)]);
        let t2 = begin(&store, SER);
        update(&t2, t, 2, 25).unwrap();
        t2.commit().unwrap();
        let t3 = begin_with(&store, SER, t3_read_only);
        assert_eq!(scan(&t3, t).unwrap(), vec![(1, 10), (2, 25)]);
        t3.commit().unwrap();
        assert_ssi_failure(update(&t1, t, 1, 0), AT_WRITE);
        t1.rollback().unwrap();
    }
    // At REPEATABLE READ everything succeeds.
    let (store, t, _) = setup();
    let t1 = begin(&store, RR);
    scan(&t1, t).unwrap();
    let t2 = begin(&store, RR);
    update(&t2, t, 2, 25).unwrap();
    t2.commit().unwrap();
    let t3 = begin(&store, RR);
    scan(&t3, t).unwrap();
    t3.commit().unwrap();
    update(&t1, t, 1, 0).unwrap();
    t1.commit().unwrap();
}

#[test]
fn without_the_read_only_transaction_there_is_no_anomaly() {
    // Fekete's history minus T3: T1 --rw--> T2 only, T1 may commit.
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    scan(&t1, t).unwrap();
    let t2 = begin(&store, SER);
    update(&t2, t, 2, 25).unwrap();
    t2.commit().unwrap();
    update(&t1, t, 1, 0).unwrap();
    t1.commit().unwrap();
}

#[test]
fn g_single_read_skew_sees_the_snapshot_and_commits() {
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    assert_eq!(get(&t1, t, 1), Some(10));
    assert_eq!((get(&t2, t, 1), get(&t2, t, 2)), (Some(10), Some(20)));
    update(&t2, t, 1, 12).unwrap();
    update(&t2, t, 2, 18).unwrap();
    t2.commit().unwrap();
    assert_eq!(get(&t1, t, 2), Some(20));
    t1.commit().unwrap();
}

#[test]
fn g_single_write_predicate_fails_with_concurrent_update() {
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    assert_eq!(get(&t1, t, 1), Some(10));
    scan(&t2, t).unwrap();
    update(&t2, t, 1, 12).unwrap();
    update(&t2, t, 2, 18).unwrap();
    t2.commit().unwrap();
    // `DELETE FROM test WHERE value = 20`: the scan sees (2, 20), locking it fails.
    assert_eq!(scan(&t1, t).unwrap(), vec![(1, 10), (2, 20)]);
    let key = t1
        .get_by_primary_key(t, &[Value::Int4(2)])
        .unwrap()
        .unwrap()
        .0;
    match t1.lock_row(t, &key) {
        Err(Error::Serialization { message, .. }) => {
            assert_eq!(
                message,
                "could not serialize access due to concurrent update"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_doomed_pivot_fails_at_its_next_read() {
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    get(&t1, t, 1);
    get(&t2, t, 2);
    update(&t1, t, 2, 0).unwrap(); // t2 --rw--> t1
    update(&t2, t, 1, 0).unwrap(); // t1 --rw--> t2
    t1.commit().unwrap(); // t2 is the pivot: doomed
    t2.begin_statement().unwrap();
    assert_ssi_failure(
        t2.get_by_primary_key(t, &[Value::Int4(1)]).map(|_| ()),
        "Canceled on identification as a pivot, during conflict out checking",
    );
}

#[test]
fn disjoint_serializable_transactions_never_abort() {
    let (store, t, _) = setup();
    {
        let setup = begin(&store, RR);
        for id in 100..140 {
            insert(&setup, t, id, id).unwrap();
        }
        setup.commit().unwrap();
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut failures = 0;
                for round in 0..25 {
                    let txn = begin(&store, SER);
                    let mut ok = true;
                    for id in (100 + w * 10)..(110 + w * 10) {
                        ok &= get(&txn, t, id).is_some();
                        ok &= update(&txn, t, id, round).is_ok();
                    }
                    if !ok || txn.commit().is_err() {
                        failures += 1;
                    }
                }
                let _ = tx.send(failures);
            });
            rx
        })
        .collect();
    for rx in workers {
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), 0);
    }
    assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
}

#[test]
fn tracking_is_forgotten_when_no_concurrent_transaction_remains() {
    let (store, t, _) = setup();
    let long = begin(&store, SER);
    get(&long, t, 1);
    let t2 = begin(&store, SER);
    scan(&t2, t).unwrap();
    t2.commit().unwrap();
    // t2 overlapped `long`, which still runs: t2's markers are kept.
    assert_eq!(store.inner.ssi.footprint().0, 2);
    long.commit().unwrap();
    assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
    // Rollback and drop forget at once.
    let a = begin(&store, SER);
    get(&a, t, 1);
    a.rollback().unwrap();
    let b = begin(&store, SER);
    get(&b, t, 1);
    drop(b);
    assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
}

#[test]
fn many_point_reads_coarsen_into_a_table_marker() {
    let (store, t, _) = setup();
    let other = begin(&store, SER);
    get(&other, t, 1);
    let reader = begin(&store, SER);
    for id in 0..3000 {
        get(&reader, t, id);
    }
    let (_, _, markers) = store.inner.ssi.footprint();
    assert!(markers < 1100, "{markers} markers");
    // The coarse marker still conflicts: reader --rw--> other, other --rw--> reader.
    update(&other, t, 2, 0).unwrap();
    update(&reader, t, 1, 0).unwrap();
    other.commit().unwrap();
    assert_ssi_failure(reader.commit(), AT_COMMIT);
}

#[test]
fn read_only_with_a_safe_snapshot_is_not_tracked() {
    let (store, t, _) = setup();
    let ro = begin_with(&store, SER, true);
    scan(&ro, t).unwrap();
    assert_eq!(store.inner.ssi.footprint().0, 0);
    // With a read-write serializable transaction running, it is tracked until that one ends.
    let rw = begin(&store, SER);
    get(&rw, t, 1);
    let ro = begin_with(&store, SER, true);
    scan(&ro, t).unwrap();
    assert_eq!(store.inner.ssi.footprint().0, 2);
    rw.commit().unwrap(); // no out-edges: `ro` becomes safe and is dropped
    assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
    ro.commit().unwrap();
}

#[test]
fn read_only_deferrable_waits_for_a_safe_snapshot() {
    let (store, t, _) = setup();
    let rw = begin(&store, SER);
    get(&rw, t, 1);
    let waiter = {
        let store = store.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let ro = store
                .begin(TxnOptions {
                    isolation: SER,
                    read_only: true,
                    deferrable: true,
                })
                .unwrap();
            let _ = tx.send(scan(&ro, t).and_then(|rows| ro.commit().map(|_| rows)));
        });
        rx
    };
    assert!(waiter.recv_timeout(Duration::from_millis(200)).is_err());
    update(&rw, t, 1, 11).unwrap();
    rw.commit().unwrap();
    let rows = waiter
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    // As in PostgreSQL, the first snapshot turned out safe (rw committed without an
    // out-edge), so it is kept: it predates rw's commit.
    assert_eq!(rows, vec![(1, 10), (2, 20)]);
    assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
}

/// Write skew under load: doctors go off call only if the other is on call. At SERIALIZABLE
/// (retrying on 40001) at least one stays on call in every committed state.
#[test]
fn write_skew_workload_keeps_its_invariant_at_serializable() {
    let (store, t, _) = setup();
    {
        let txn = begin(&store, RR);
        update(&txn, t, 1, 1).unwrap();
        update(&txn, t, 2, 1).unwrap();
        txn.commit().unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let me = 1 + (w % 2);
                let (mut commits, mut retries) = (0, 0);
                while commits < 30 && std::time::Instant::now() < deadline {
                    let txn = begin(&store, SER);
                    let attempt = (|| -> Result<()> {
                        let rows = scan(&txn, t)?;
                        let on_call = rows.iter().filter(|(_, v)| *v == 1).count();
                        // Let the others read the same state before we write.
                        std::thread::sleep(Duration::from_millis(2));
                        if w >= 2 {
                            // Two workers put everyone back on call now and then.
                            update(&txn, t, me, 1)?;
                        } else if on_call == 2 {
                            update(&txn, t, me, 0)?;
                        }
                        txn.commit()
                    })();
                    match attempt {
                        Ok(()) => commits += 1,
                        Err(Error::Serialization { .. }) | Err(Error::Deadlock { .. }) => {
                            txn.rollback().unwrap();
                            retries += 1;
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                    let check = begin(&store, RR);
                    let on_call = scan(&check, t)
                        .unwrap()
                        .iter()
                        .filter(|(_, v)| *v == 1)
                        .count();
                    assert!(on_call >= 1, "nobody on call");
                    check.commit().unwrap();
                }
                let _ = tx.send((commits, retries));
            });
            rx
        })
        .collect();
    for rx in workers {
        let (commits, _) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(commits > 0);
    }
    assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
}

/// A second table `other (id int primary key, value int)`.
fn other_table(store: &Store) -> TableId {
    let txn = begin(store, RR);
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
            name: "other".into(),
            columns: vec![col("id"), col("value")],
            primary_key: vec![0],
            primary_key_name: None,
            constraints: vec![],
            indexes: vec![],
        })
        .unwrap();
    txn.commit().unwrap();
    t
}

#[test]
fn summarised_transactions_bound_memory_and_still_conflict() {
    let (store, t, _) = setup();
    let other = other_table(&store);
    store.inner.ssi.set_max_retained(2);
    // Fekete's history again, with T2 and T3 summarised before T1 writes.
    let t1 = begin(&store, SER);
    assert_eq!(scan(&t1, t).unwrap().len(), 2);
    let t2 = begin(&store, SER);
    update(&t2, t, 2, 25).unwrap();
    t2.commit().unwrap();
    let t3 = begin(&store, SER);
    scan(&t3, t).unwrap();
    t3.commit().unwrap();
    for i in 0..20 {
        let filler = begin(&store, SER);
        get(&filler, other, i);
        insert(&filler, other, i, i).unwrap();
        filler.commit().unwrap();
    }
    // Only the running T1 and two committed transactions are kept individually.
    assert!(
        store.inner.ssi.footprint().0 <= 3,
        "{:?}",
        store.inner.ssi.footprint()
    );
    assert_ssi_failure(update(&t1, t, 1, 0), AT_WRITE);
    t1.rollback().unwrap();
    assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
}

#[test]
fn skipping_a_summarised_writers_version_is_a_conflict() {
    let (store, t, _) = setup();
    let other = other_table(&store);
    store.inner.ssi.set_max_retained(1);
    // T2 reads row 2 and writes row 1 after T1's snapshot; T2 is then summarised. T1 skips
    // T2's version of row 1 (T1 --rw--> T2) and writes row 2 (T2 --rw--> T1): a cycle.
    let t1 = begin(&store, SER);
    assert_eq!(get(&t1, other, 999), None); // takes T1's snapshot
    let t2 = begin(&store, SER);
    get(&t2, t, 2);
    update(&t2, t, 1, 11).unwrap();
    t2.commit().unwrap();
    for i in 0..5 {
        let filler = begin(&store, SER);
        insert(&filler, other, i, i).unwrap();
        filler.commit().unwrap();
    }
    assert_eq!(get(&t1, t, 1), Some(10));
    // PostgreSQL fails T1's write as the pivot; so do we, through the summary.
    assert_ssi_failure(update(&t1, t, 2, 21), AT_WRITE);
}

/// Money moves between accounts under contention, retried on 40001/40P01, while readers sum
/// the balances: at SERIALIZABLE and REPEATABLE READ every snapshot sees the same total.
#[test]
fn bank_transfers_keep_the_total() {
    for level in [SER, RR] {
        let (store, t, _) = setup();
        {
            let txn = begin(&store, RR);
            for id in 3..=6 {
                insert(&txn, t, id, 100).unwrap();
            }
            update(&txn, t, 1, 100).unwrap();
            update(&txn, t, 2, 100).unwrap();
            txn.commit().unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let store = store.clone();
                let (tx, rx) = mpsc::channel();
                std::thread::spawn(move || {
                    let mut done = 0;
                    let mut n = w;
                    while done < 25 && std::time::Instant::now() < deadline {
                        n = (n * 7 + 3) % 1000;
                        let (from, to) = (1 + n % 6, 1 + (n / 6) % 6);
                        let txn = begin(&store, level);
                        let attempt = (|| -> Result<()> {
                            let a = get(&txn, t, from).unwrap_or(0);
                            let b = get(&txn, t, to).unwrap_or(0);
                            if from != to {
                                update(&txn, t, from, a - 5)?;
                                update(&txn, t, to, b + 5)?;
                            }
                            txn.commit()
                        })();
                        match attempt {
                            Ok(()) => done += 1,
                            Err(Error::Serialization { .. }) | Err(Error::Deadlock { .. }) => {
                                txn.rollback().unwrap()
                            }
                            Err(e) => panic!("{e:?}"),
                        }
                        let reader = begin_with(&store, level, true);
                        let total: i32 = scan(&reader, t).unwrap().iter().map(|(_, v)| v).sum();
                        assert_eq!(total, 600);
                        reader.commit().unwrap();
                    }
                    let _ = tx.send(done);
                });
                rx
            })
            .collect();
        for rx in workers {
            assert!(rx.recv_timeout(Duration::from_secs(30)).unwrap() > 0);
        }
        assert_eq!(store.inner.ssi.footprint(), (0, 0, 0));
    }
}

#[test]
fn concurrent_insert_of_a_key_read_as_absent_is_a_serialization_failure() {
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    assert_eq!(get(&t1, t, 5), None);
    assert_eq!(get(&t2, t, 5), None);
    insert(&t1, t, 5, 1).unwrap();
    let waiter = {
        let t2 = t2.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(insert(&t2, t, 5, 2));
        });
        rx
    };
    assert!(waiter.recv_timeout(Duration::from_millis(200)).is_err());
    t1.commit().unwrap();
    // PostgreSQL 15: 40001 (not 23505) once t1 commits.
    assert_ssi_failure(
        waiter.recv_timeout(Duration::from_secs(5)).unwrap(),
        AT_WRITE,
    );
    // At REPEATABLE READ it is the duplicate key.
    let t1 = begin(&store, RR);
    let t2 = begin(&store, RR);
    assert_eq!(get(&t1, t, 7), None);
    assert_eq!(get(&t2, t, 7), None);
    insert(&t1, t, 7, 1).unwrap();
    t1.commit().unwrap();
    assert!(matches!(
        insert(&t2, t, 7, 2),
        Err(Error::UniqueViolation { .. })
    ));
}

#[test]
fn g_single_with_predicate_reads_commits_at_serializable() {
    let (store, t, _) = setup();
    let t1 = begin(&store, SER);
    let t2 = begin(&store, SER);
    // `WHERE value % 5 = 0`
    assert_eq!(scan(&t1, t).unwrap(), vec![(1, 10), (2, 20)]);
    // `UPDATE test SET value = 12 WHERE value = 10`
    scan(&t2, t).unwrap();
    update(&t2, t, 1, 12).unwrap();
    t2.commit().unwrap();
    // `WHERE value % 3 = 0` still reads the snapshot: nothing matches; only one rw edge.
    assert_eq!(scan(&t1, t).unwrap(), vec![(1, 10), (2, 20)]);
    t1.commit().unwrap();
}
