//! Behaviour of transactions as the planner sees them: visibility, statement semantics,
//! uniqueness, write conflicts per isolation level, deadlocks, durability.
//!
//! Concurrency tests use threads and bound every wait, so a broken build fails instead of
//! hanging.

use crate::*;
use std::ops::Bound;
use std::sync::mpsc;
use std::time::Duration;

fn col(name: &str, data_type: DataType) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type,
        nullable: true,
        default: None,
    }
}

/// `t (id int primary key, v text, n int)` with a unique index on v and a plain one on n.
fn table_def(name: &str) -> TableDef {
    TableDef {
        id: 0,
        schema: "public".into(),
        name: name.into(),
        columns: vec![
            col("id", DataType::Int4),
            col("v", DataType::Text),
            col("n", DataType::Int4),
        ],
        primary_key: vec![0],
        primary_key_name: Some(format!("{name}_pkey")),
        constraints: vec![],
        indexes: vec![
            IndexDef {
                id: 0,
                name: format!("{name}_v_key"),
                columns: vec![1],
                unique: true,
                primary: false,
            },
            IndexDef {
                id: 0,
                name: format!("{name}_n_idx"),
                columns: vec![2],
                unique: false,
                primary: false,
            },
        ],
    }
}

fn row(id: i32, v: &str, n: i32) -> Row {
    vec![Value::Int4(id), Value::Text(v.into()), Value::Int4(n)]
}

fn opts(isolation: IsolationLevel) -> TxnOptions {
    TxnOptions {
        isolation,
        ..TxnOptions::default()
    }
}

fn begin(store: &Store, isolation: IsolationLevel) -> Transaction {
    let txn = store.begin(opts(isolation)).unwrap();
    txn.begin_statement().unwrap();
    txn
}

/// Creates the table and inserts rows, committed. Returns the table id.
fn setup(store: &Store, rows: &[Row]) -> TableId {
    let txn = begin(store, IsolationLevel::ReadCommitted);
    let id = txn.create_table(table_def("t")).unwrap();
    txn.begin_statement().unwrap();
    for r in rows {
        txn.insert(id, r.clone()).unwrap();
    }
    txn.commit().unwrap();
    id
}

fn ids(iter: RowIter) -> Vec<i32> {
    iter.map(|r| match r.unwrap().1[0] {
        Value::Int4(i) => i,
        ref v => panic!("unexpected {v:?}"),
    })
    .collect()
}

fn scan_ids(txn: &Transaction, t: TableId) -> Vec<i32> {
    ids(txn.scan(t).unwrap())
}

fn index_id(txn: &Transaction, t: TableId, name: &str) -> IndexId {
    let def = txn
        .list_tables()
        .unwrap()
        .into_iter()
        .find(|d| d.id == t)
        .unwrap();
    def.indexes.iter().find(|i| i.name == name).unwrap().id
}

#[test]
fn catalog_create_get_list_drop() {
    let store = Store::open_in_memory().unwrap();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    let t = txn.create_table(table_def("t")).unwrap();
    let def = txn.get_table("public", "t").unwrap().unwrap();
    assert_eq!(def.id, t);
    assert_eq!(def.indexes.len(), 2);
    assert_ne!(def.indexes[0].id, def.indexes[1].id);
    assert!(matches!(
        txn.create_table(table_def("t")),
        Err(Error::DuplicateTable(n)) if n == "t"
    ));
    // Not visible to others before commit.
    let other = begin(&store, IsolationLevel::ReadCommitted);
    assert!(other.get_table("public", "t").unwrap().is_none());
    txn.commit().unwrap();
    other.begin_statement().unwrap();
    assert!(other.get_table("public", "t").unwrap().is_some());
    other.drop_table(t).unwrap();
    assert!(other.get_table("public", "t").unwrap().is_none());
    assert_eq!(other.list_tables().unwrap().len(), 0);
    other.rollback().unwrap();
    let again = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(again.list_tables().unwrap().len(), 1);
    // A rolled-back CREATE TABLE never existed.
    let ddl = begin(&store, IsolationLevel::ReadCommitted);
    ddl.create_table(table_def("gone")).unwrap();
    ddl.rollback().unwrap();
    assert!(again.get_table("public", "gone").unwrap().is_none());
}

#[test]
fn insert_scan_get_update_delete() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(3, "c", 30), row(1, "a", 10), row(2, "b", 20)]);
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(scan_ids(&txn, t), vec![1, 2, 3]);
    let (k2, r2) = txn
        .get_by_primary_key(t, &[Value::Int4(2)])
        .unwrap()
        .unwrap();
    assert_eq!(r2, row(2, "b", 20));
    assert!(txn
        .get_by_primary_key(t, &[Value::Int4(9)])
        .unwrap()
        .is_none());
    txn.update(t, &k2, row(2, "bb", 21)).unwrap();
    let (k3, _) = txn
        .get_by_primary_key(t, &[Value::Int4(3)])
        .unwrap()
        .unwrap();
    txn.delete(t, &k3).unwrap();
    txn.begin_statement().unwrap();
    let rows: Vec<Row> = txn.scan(t).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(rows, vec![row(1, "a", 10), row(2, "bb", 21)]);
    // The primary key moves: the row gets a new key.
    let moved = txn.update(t, &k2, row(5, "bb", 21)).unwrap();
    assert_ne!(moved, k2);
    txn.begin_statement().unwrap();
    assert_eq!(scan_ids(&txn, t), vec![1, 5]);
    txn.commit().unwrap();
    let later = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(scan_ids(&later, t), vec![1, 5]);
}

#[test]
fn primary_range_and_index_scans() {
    let store = Store::open_in_memory().unwrap();
    let rows: Vec<Row> = (1..=20)
        .map(|i| row(i, &format!("v{i:02}"), i % 4))
        .collect();
    let t = setup(&store, &rows);
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    let range = |s, e| KeyRange { start: s, end: e };
    let r = range(
        Bound::Excluded(vec![Value::Int4(5)]),
        Bound::Included(vec![Value::Int4(8)]),
    );
    assert_eq!(ids(txn.scan_primary_range(t, r).unwrap()), vec![6, 7, 8]);
    let r = range(Bound::Included(vec![Value::Int8(18)]), Bound::Unbounded);
    assert_eq!(ids(txn.scan_primary_range(t, r).unwrap()), vec![18, 19, 20]);
    let n_idx = index_id(&txn, t, "t_n_idx");
    let eq = |v: i32| {
        range(
            Bound::Included(vec![Value::Int4(v)]),
            Bound::Included(vec![Value::Int4(v)]),
        )
    };
    assert_eq!(
        ids(txn.scan_index(t, n_idx, eq(2)).unwrap()),
        vec![2, 6, 10, 14, 18]
    );
    // Index scans follow updates of the indexed column, at the statement's snapshot.
    let (k6, _) = txn
        .get_by_primary_key(t, &[Value::Int4(6)])
        .unwrap()
        .unwrap();
    txn.update(t, &k6, row(6, "v06", 3)).unwrap();
    assert_eq!(
        ids(txn.scan_index(t, n_idx, eq(2)).unwrap()),
        vec![2, 6, 10, 14, 18]
    );
    txn.begin_statement().unwrap();
    assert_eq!(
        ids(txn.scan_index(t, n_idx, eq(2)).unwrap()),
        vec![2, 10, 14, 18]
    );
    assert_eq!(
        ids(txn.scan_index(t, n_idx, eq(3)).unwrap()),
        vec![3, 6, 7, 11, 15, 19]
    );
    let v_idx = index_id(&txn, t, "t_v_key");
    let r = range(
        Bound::Included(vec![Value::Text("v18".into())]),
        Bound::Unbounded,
    );
    assert_eq!(ids(txn.scan_index(t, v_idx, r).unwrap()), vec![18, 19, 20]);
}

#[test]
fn statements_see_earlier_statements_own_writes_only() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let txn = begin(&store, IsolationLevel::RepeatableRead);
    // INSERT INTO t SELECT id + 10 … FROM t must not see its own output.
    let iter = txn.scan(t).unwrap();
    let mut n = 0;
    for item in iter {
        let (_, r) = item.unwrap();
        let Value::Int4(id) = r[0] else { panic!() };
        txn.insert(t, row(id + 10, &format!("x{id}"), 0)).unwrap();
        n += 1;
    }
    assert_eq!(n, 1);
    assert_eq!(scan_ids(&txn, t), vec![1]);
    txn.begin_statement().unwrap();
    assert_eq!(scan_ids(&txn, t), vec![1, 11]);
    let other = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(
        scan_ids(&other, t),
        vec![1],
        "uncommitted rows are invisible"
    );
}

#[test]
fn tables_without_primary_key_get_hidden_row_ids() {
    let store = Store::open_in_memory().unwrap();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    let mut def = table_def("h");
    def.primary_key.clear();
    def.primary_key_name = None;
    def.indexes.clear();
    let t = txn.create_table(def).unwrap();
    let k1 = txn.insert(t, row(1, "a", 0)).unwrap();
    let k2 = txn.insert(t, row(1, "a", 0)).unwrap();
    assert_ne!(k1, k2);
    txn.begin_statement().unwrap();
    assert_eq!(scan_ids(&txn, t), vec![1, 1]);
    txn.delete(t, &k1).unwrap();
    txn.commit().unwrap();
    assert_eq!(
        scan_ids(&begin(&store, IsolationLevel::ReadCommitted), t),
        vec![1]
    );
}

#[test]
fn unique_violations() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(
        txn.insert(t, row(1, "z", 1)),
        Err(Error::UniqueViolation {
            constraint: "t_pkey".into(),
            columns: vec!["id".into()],
            values: vec![Value::Int4(1)],
        })
    );
    assert_eq!(
        txn.insert(t, row(2, "a", 1)),
        Err(Error::UniqueViolation {
            constraint: "t_v_key".into(),
            columns: vec!["v".into()],
            values: vec![Value::Text("a".into())],
        })
    );
    // Within one statement, too.
    txn.insert(t, row(7, "q", 1)).unwrap();
    assert!(matches!(
        txn.insert(t, row(7, "r", 1)),
        Err(Error::UniqueViolation { .. })
    ));
    // NULLs never clash.
    let mut r1 = row(8, "", 1);
    r1[1] = Value::Null;
    let mut r2 = row(9, "", 1);
    r2[1] = Value::Null;
    txn.insert(t, r1).unwrap();
    txn.insert(t, r2).unwrap();
    // Delete then re-insert the same keys in one transaction.
    let (k1, _) = txn
        .get_by_primary_key(t, &[Value::Int4(1)])
        .unwrap()
        .unwrap();
    txn.delete(t, &k1).unwrap();
    txn.insert(t, row(1, "a", 2)).unwrap();
    txn.commit().unwrap();
    // CREATE UNIQUE INDEX over clashing rows fails.
    let ddl = begin(&store, IsolationLevel::ReadCommitted);
    let idx = IndexDef {
        id: 0,
        name: "t_n_key".into(),
        columns: vec![2],
        unique: true,
        primary: false,
    };
    assert!(
        matches!(ddl.create_index(t, idx.clone()), Err(Error::UniqueViolation { constraint, .. }) if constraint == "t_n_key")
    );
    let ok = IndexDef {
        columns: vec![0, 1],
        ..idx
    };
    let i = ddl.create_index(t, ok).unwrap();
    ddl.begin_statement().unwrap();
    let all = ddl.scan_index(t, i, KeyRange::all()).unwrap();
    assert_eq!(ids(all), vec![1, 7, 8, 9]);
    ddl.drop_index(t, i).unwrap();
    assert_eq!(
        ddl.get_table("public", "t").unwrap().unwrap().indexes.len(),
        2
    );
}

#[test]
fn snapshots_per_isolation_level() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let rc = begin(&store, IsolationLevel::ReadCommitted);
    let rr = begin(&store, IsolationLevel::RepeatableRead);
    assert_eq!(scan_ids(&rc, t), vec![1]);
    assert_eq!(scan_ids(&rr, t), vec![1]);
    let w = begin(&store, IsolationLevel::ReadCommitted);
    w.insert(t, row(2, "b", 2)).unwrap();
    rc.begin_statement().unwrap();
    assert_eq!(scan_ids(&rc, t), vec![1], "uncommitted");
    w.commit().unwrap();
    assert_eq!(scan_ids(&rc, t), vec![1], "same statement, same snapshot");
    rc.begin_statement().unwrap();
    rr.begin_statement().unwrap();
    assert_eq!(
        scan_ids(&rc, t),
        vec![1, 2],
        "READ COMMITTED sees it next statement"
    );
    assert_eq!(
        scan_ids(&rr, t),
        vec![1],
        "REPEATABLE READ keeps its snapshot"
    );
    // The snapshot is taken at the first statement, not at begin.
    let lazy = store.begin(opts(IsolationLevel::RepeatableRead)).unwrap();
    let w = begin(&store, IsolationLevel::ReadCommitted);
    w.insert(t, row(3, "c", 3)).unwrap();
    w.commit().unwrap();
    lazy.begin_statement().unwrap();
    // A statement that reads nothing (SET TRANSACTION …) does not fix the snapshot either.
    let w = begin(&store, IsolationLevel::ReadCommitted);
    w.insert(t, row(4, "d", 4)).unwrap();
    w.commit().unwrap();
    lazy.begin_statement().unwrap();
    assert_eq!(scan_ids(&lazy, t), vec![1, 2, 3, 4]);
    let w = begin(&store, IsolationLevel::ReadCommitted);
    w.insert(t, row(5, "e", 5)).unwrap();
    w.commit().unwrap();
    lazy.begin_statement().unwrap();
    assert_eq!(scan_ids(&lazy, t), vec![1, 2, 3, 4]);
}

#[test]
fn updates_move_unique_index_entries() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1), row(2, "b", 2)]);
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    let (k1, _) = txn
        .get_by_primary_key(t, &[Value::Int4(1)])
        .unwrap()
        .unwrap();
    let (k2, _) = txn
        .get_by_primary_key(t, &[Value::Int4(2)])
        .unwrap()
        .unwrap();
    assert!(matches!(
        txn.update(t, &k1, row(1, "b", 1)),
        Err(Error::UniqueViolation { constraint, .. }) if constraint == "t_v_key"
    ));
    // Free "b" first, then take it: allowed, as the old entry is gone.
    txn.update(t, &k2, row(2, "c", 2)).unwrap();
    txn.update(t, &k1, row(1, "b", 1)).unwrap();
    // Moving the primary key keeps the unique value without clashing with itself.
    txn.update(t, &k1, row(10, "b", 1)).unwrap();
    txn.commit().unwrap();
    let r = begin(&store, IsolationLevel::ReadCommitted);
    let v_idx = index_id(&r, t, "t_v_key");
    assert_eq!(
        ids(r.scan_index(t, v_idx, KeyRange::all()).unwrap()),
        vec![10, 2]
    );
    // A concurrent inserter of a value being deleted waits for the deleter.
    let d = begin(&store, IsolationLevel::ReadCommitted);
    let (k10, _) = d
        .get_by_primary_key(t, &[Value::Int4(10)])
        .unwrap()
        .unwrap();
    d.delete(t, &k10).unwrap();
    let i = begin(&store, IsolationLevel::ReadCommitted);
    let ii = i.clone();
    let rx = spawn(move || ii.insert(t, row(20, "b", 0)));
    assert!(rx.recv_timeout(BLOCKED).is_err(), "still blocked");
    d.commit().unwrap();
    assert!(rx.recv_timeout(UNBLOCKED).unwrap().is_ok());
}

#[test]
fn read_only_transactions_reject_writes() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let txn = store
        .begin(TxnOptions {
            read_only: true,
            ..TxnOptions::default()
        })
        .unwrap();
    txn.begin_statement().unwrap();
    assert_eq!(
        txn.insert(t, row(2, "b", 2)),
        Err(Error::ReadOnly("INSERT".into()))
    );
    assert_eq!(
        txn.create_table(table_def("x")),
        Err(Error::ReadOnly("CREATE TABLE".into()))
    );
    assert_eq!(scan_ids(&txn, t), vec![1]);
    txn.commit().unwrap();
}

/// Runs `f` on a thread; the receiver yields its result.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

const BLOCKED: Duration = Duration::from_millis(200);
const UNBLOCKED: Duration = Duration::from_secs(5);

#[test]
fn second_writer_waits_then_fails_at_repeatable_read() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let first = begin(&store, IsolationLevel::ReadCommitted);
    let second = begin(&store, IsolationLevel::RepeatableRead);
    let (k, _) = second
        .get_by_primary_key(t, &[Value::Int4(1)])
        .unwrap()
        .unwrap();
    first.update(t, &k, row(1, "a", 2)).unwrap();
    let s = second.clone();
    let k2 = k.clone();
    let rx = spawn(move || s.update(t, &k2, row(1, "a", 3)));
    assert!(rx.recv_timeout(BLOCKED).is_err(), "still blocked");
    first.commit().unwrap();
    assert_eq!(
        rx.recv_timeout(UNBLOCKED).unwrap(),
        Err(Error::Serialization {
            message: "could not serialize access due to concurrent update".into(),
            detail: None,
            hint: None,
        })
    );
    second.rollback().unwrap();
    // A concurrent delete is reported as such.
    let rr = begin(&store, IsolationLevel::RepeatableRead);
    assert_eq!(scan_ids(&rr, t), vec![1]);
    let d = begin(&store, IsolationLevel::ReadCommitted);
    d.delete(t, &k).unwrap();
    d.commit().unwrap();
    assert!(matches!(
        rr.lock_row(t, &k),
        Err(Error::Serialization { message, .. }) if message.ends_with("concurrent delete")
    ));
}

#[test]
fn second_writer_proceeds_after_rollback() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let first = begin(&store, IsolationLevel::RepeatableRead);
    let second = begin(&store, IsolationLevel::RepeatableRead);
    let (k, _) = second
        .get_by_primary_key(t, &[Value::Int4(1)])
        .unwrap()
        .unwrap();
    first.delete(t, &k).unwrap();
    let s = second.clone();
    let k2 = k.clone();
    let rx = spawn(move || s.update(t, &k2, row(1, "a", 3)));
    assert!(rx.recv_timeout(BLOCKED).is_err(), "still blocked");
    first.rollback().unwrap();
    assert_eq!(rx.recv_timeout(UNBLOCKED).unwrap(), Ok(k.clone()));
    second.commit().unwrap();
    let r = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(
        r.get_by_primary_key(t, &[Value::Int4(1)])
            .unwrap()
            .unwrap()
            .1,
        row(1, "a", 3)
    );
}

#[test]
fn read_committed_lock_row_returns_the_newest_version() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1), row(2, "b", 2)]);
    let first = begin(&store, IsolationLevel::ReadCommitted);
    let second = begin(&store, IsolationLevel::ReadCommitted);
    let (k1, _) = second
        .get_by_primary_key(t, &[Value::Int4(1)])
        .unwrap()
        .unwrap();
    let (k2, _) = second
        .get_by_primary_key(t, &[Value::Int4(2)])
        .unwrap()
        .unwrap();
    first.update(t, &k1, row(1, "a", 100)).unwrap();
    first.delete(t, &k2).unwrap();
    let s = second.clone();
    let k = k1.clone();
    let rx = spawn(move || s.lock_row(t, &k));
    assert!(rx.recv_timeout(BLOCKED).is_err(), "still blocked");
    first.commit().unwrap();
    assert_eq!(
        rx.recv_timeout(UNBLOCKED).unwrap(),
        Ok(RowLockOutcome::Updated(row(1, "a", 100)))
    );
    assert_eq!(second.lock_row(t, &k2), Ok(RowLockOutcome::Deleted));
    second.begin_statement().unwrap();
    assert_eq!(second.lock_row(t, &k1), Ok(RowLockOutcome::Unchanged));
}

#[test]
fn concurrent_inserter_of_the_same_key_waits() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[]);
    // The first inserter commits: the second fails.
    let a = begin(&store, IsolationLevel::ReadCommitted);
    let b = begin(&store, IsolationLevel::ReadCommitted);
    a.insert(t, row(1, "a", 1)).unwrap();
    let bb = b.clone();
    let rx = spawn(move || bb.insert(t, row(1, "other", 1)));
    assert!(rx.recv_timeout(BLOCKED).is_err(), "still blocked");
    a.commit().unwrap();
    assert!(matches!(
        rx.recv_timeout(UNBLOCKED).unwrap(),
        Err(Error::UniqueViolation { constraint, .. }) if constraint == "t_pkey"
    ));
    b.rollback().unwrap();
    // On a unique index, the first inserter rolls back: the second succeeds.
    let a = begin(&store, IsolationLevel::ReadCommitted);
    let b = begin(&store, IsolationLevel::ReadCommitted);
    a.insert(t, row(2, "u", 1)).unwrap();
    let bb = b.clone();
    let rx = spawn(move || bb.insert(t, row(3, "u", 1)));
    assert!(rx.recv_timeout(BLOCKED).is_err(), "still blocked");
    a.rollback().unwrap();
    assert!(rx.recv_timeout(UNBLOCKED).unwrap().is_ok());
    b.commit().unwrap();
}

#[test]
fn deadlock_is_detected() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1), row(2, "b", 2)]);
    let a = begin(&store, IsolationLevel::ReadCommitted);
    let b = begin(&store, IsolationLevel::ReadCommitted);
    let (k1, _) = a.get_by_primary_key(t, &[Value::Int4(1)]).unwrap().unwrap();
    let (k2, _) = a.get_by_primary_key(t, &[Value::Int4(2)]).unwrap().unwrap();
    a.lock_row(t, &k1).unwrap();
    b.lock_row(t, &k2).unwrap();
    let run = |txn: Transaction, key: RowKey| {
        spawn(move || {
            let r = txn.lock_row(t, &key);
            if r.is_err() {
                txn.rollback().unwrap();
            }
            r
        })
    };
    let ra = run(a.clone(), k2);
    let rb = run(b.clone(), k1);
    let (x, y) = (
        ra.recv_timeout(Duration::from_secs(10)).unwrap(),
        rb.recv_timeout(Duration::from_secs(10)).unwrap(),
    );
    let deadlocks = [&x, &y]
        .iter()
        .filter(|r| matches!(r, Err(Error::Deadlock { .. })))
        .count();
    assert_eq!(deadlocks, 1, "{x:?} {y:?}");
}

#[test]
fn lock_timeout_and_cancel() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let a = begin(&store, IsolationLevel::ReadCommitted);
    let b = begin(&store, IsolationLevel::ReadCommitted);
    let (k, _) = a.get_by_primary_key(t, &[Value::Int4(1)]).unwrap().unwrap();
    a.lock_row(t, &k).unwrap();
    b.set_lock_timeout(Some(Duration::from_millis(100)));
    assert_eq!(
        b.lock_row(t, &k),
        Err(Error::LockNotAvailable(
            "canceling statement due to lock timeout".into()
        ))
    );
    b.set_lock_timeout(None);
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    b.set_interrupt(flag.clone());
    let bb = b.clone();
    let kk = k.clone();
    let rx = spawn(move || bb.lock_row(t, &kk));
    assert!(rx.recv_timeout(BLOCKED).is_err(), "still blocked");
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        rx.recv_timeout(UNBLOCKED).unwrap(),
        Err(Error::Cancelled("user request".into()))
    );
}

#[test]
fn dropped_transaction_releases_its_locks() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let a = begin(&store, IsolationLevel::ReadCommitted);
    a.insert(t, row(2, "b", 2)).unwrap();
    drop(a);
    let b = begin(&store, IsolationLevel::ReadCommitted);
    b.set_lock_timeout(Some(Duration::from_secs(2)));
    b.insert(t, row(2, "b", 2)).unwrap();
}

#[test]
fn commits_are_durable_and_uncommitted_data_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let t;
    {
        let store = Store::open(&path).unwrap();
        assert!(matches!(Store::open(&path), Err(Error::DataDirLocked(_))));
        t = setup(&store, &[row(1, "a", 1), row(2, "b", 2)]);
        let pending = begin(&store, IsolationLevel::ReadCommitted);
        pending.insert(t, row(3, "c", 3)).unwrap();
        // Dropped without commit, store closed.
    }
    let store = Store::open(&path).unwrap();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(scan_ids(&txn, t), vec![1, 2]);
    // Counters survive too: a new table gets a new id, new rows commit after old ones.
    let u = txn.create_table(table_def("u")).unwrap();
    assert_ne!(u, t);
    txn.insert(t, row(3, "c", 3)).unwrap();
    txn.commit().unwrap();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(scan_ids(&txn, t), vec![1, 2, 3]);
}

#[test]
fn concurrent_committers_on_sled() {
    let store = Store::open_temporary().unwrap();
    let t = setup(&store, &[]);
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let txn = begin(&store, IsolationLevel::ReadCommitted);
                    let id = w * 100 + i;
                    txn.insert(t, row(id, &format!("v{id}"), id)).unwrap();
                    txn.commit().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(scan_ids(&txn, t).len(), 100);
}

#[test]
fn catalog_cache_respects_snapshots() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[]);
    let rr = begin(&store, IsolationLevel::RepeatableRead);
    assert_eq!(rr.list_tables().unwrap().len(), 1);
    let rc = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(rc.list_tables().unwrap().len(), 1); // now cached
    let ddl = begin(&store, IsolationLevel::ReadCommitted);
    ddl.create_table(table_def("u")).unwrap();
    ddl.drop_table(t).unwrap();
    assert_eq!(rc.list_tables().unwrap().len(), 1, "uncommitted DDL");
    ddl.commit().unwrap();
    rc.begin_statement().unwrap();
    rr.begin_statement().unwrap();
    let names = |txn: &Transaction| -> Vec<String> {
        txn.list_tables()
            .unwrap()
            .iter()
            .map(|t| t.name.clone())
            .collect()
    };
    assert_eq!(names(&rc), vec!["u".to_string()]);
    assert_eq!(names(&rr), vec!["t".to_string()]);
    assert_eq!(names(&rc), vec!["u".to_string()]);
    assert_eq!(scan_ids(&rr, t), Vec::<i32>::new());
    assert!(matches!(rc.scan(t), Err(Error::UndefinedTable(_))));
}

/// A rough throughput check, not run by default:
/// `cargo test -p sledgres-storage --release -- --ignored --nocapture bulk`.
#[test]
#[ignore = "throughput check for humans; no timing assertions in CI"]
fn bulk_load_and_point_reads() {
    let store = Store::open_temporary().unwrap();
    let t = setup(&store, &[]);
    let n = 200_000;
    let start = std::time::Instant::now();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    for i in 0..n {
        txn.insert(t, row(i, &format!("v{i}"), i % 100)).unwrap();
    }
    eprintln!("insert {n} rows in one transaction: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    txn.commit().unwrap();
    eprintln!("commit: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(txn.scan(t).unwrap().count(), n as usize);
    eprintln!("scan: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    assert_eq!(txn.scan(t).unwrap().count(), n as usize);
    eprintln!("second scan: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    for i in 0..20_000 {
        let txn = begin(&store, IsolationLevel::ReadCommitted);
        assert!(txn
            .get_by_primary_key(t, &[Value::Int4(i * 7 % n)])
            .unwrap()
            .is_some());
        txn.commit().unwrap();
    }
    eprintln!("20000 point-select transactions: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    let txn = begin(&store, IsolationLevel::ReadCommitted);
                    let id = (w * 1000 + i) % n;
                    let (k, mut r) = txn
                        .get_by_primary_key(t, &[Value::Int4(id)])
                        .unwrap()
                        .unwrap();
                    r[2] = Value::Int4(-1);
                    txn.update(t, &k, r).unwrap();
                    txn.commit().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    eprintln!(
        "2000 update transactions on 4 threads: {:?}",
        start.elapsed()
    );
}

/// The child side of `kill_9_keeps_every_acknowledged_commit`: commits groups of rows (every
/// tenth group large enough to be applied in chunks) and prints each acknowledged group.
#[test]
#[ignore = "child process of kill_9_keeps_every_acknowledged_commit, not a test on its own"]
fn crash_child() {
    let Ok(dir) = std::env::var("SLEDGRES_CRASH_DIR") else {
        return;
    };
    let store = Store::open(std::path::Path::new(&dir)).unwrap();
    let t = setup(&store, &[]);
    let mut id = 0;
    for group in 0.. {
        let size = if group % 10 == 9 { 6000 } else { 3 };
        let txn = begin(&store, IsolationLevel::ReadCommitted);
        for _ in 0..size {
            txn.insert(t, row(id, &id.to_string(), group)).unwrap();
            id += 1;
        }
        txn.commit().unwrap();
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "ack {group} {size}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn kill_9_keeps_every_acknowledged_commit() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "txn_tests::crash_child",
            "--ignored",
            "--nocapture",
        ])
        .env("SLEDGRES_CRASH_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("ack ") {
                let mut parts = rest.split(' ').map(|p| p.parse::<i32>().unwrap());
                if tx
                    .send((parts.next().unwrap(), parts.next().unwrap()))
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    // Let it get past a few large (chunked) commits, then kill it mid-flight.
    let mut acked = std::collections::BTreeMap::new();
    while acked.len() < 25 {
        let (group, size) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child stopped acknowledging");
        acked.insert(group, size);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    while let Ok((group, size)) = rx.try_recv() {
        acked.insert(group, size);
    }
    let store = Store::open(dir.path()).unwrap();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    let t = txn.get_table("public", "t").unwrap().unwrap().id;
    let mut found = std::collections::BTreeMap::new();
    for item in txn.scan(t).unwrap() {
        let Value::Int4(group) = item.unwrap().1[2] else {
            panic!()
        };
        *found.entry(group).or_insert(0) += 1;
    }
    for (group, size) in &acked {
        assert_eq!(found.get(group), Some(size), "acknowledged group {group}");
    }
    for (group, count) in &found {
        let size = if group % 10 == 9 { 6000 } else { 3 };
        assert_eq!(*count, size, "group {group} is all or nothing");
    }
    // The store keeps working after recovery.
    let w = begin(&store, IsolationLevel::ReadCommitted);
    w.insert(t, row(-1, "after", -1)).unwrap();
    w.commit().unwrap();
}

#[test]
fn handles_are_shareable_between_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Store>();
    shareable::<Transaction>();
    fn sendable<T: Send + 'static>() {}
    sendable::<RowIter>();
}

#[test]
fn savepoints_undo_later_writes_and_locks() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1), row(2, "b", 2)]);
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    let (k1, _) = txn
        .get_by_primary_key(t, &[Value::Int4(1)])
        .unwrap()
        .unwrap();
    let (k2, _) = txn
        .get_by_primary_key(t, &[Value::Int4(2)])
        .unwrap()
        .unwrap();
    txn.update(t, &k1, row(1, "a", 10)).unwrap();
    txn.begin_statement().unwrap();
    let sp = txn.savepoint().unwrap();
    txn.begin_statement().unwrap();
    txn.update(t, &k1, row(1, "a", 100)).unwrap();
    txn.update(t, &k2, row(2, "b", 200)).unwrap();
    txn.insert(t, row(3, "c", 3)).unwrap();
    txn.begin_statement().unwrap();
    txn.delete(t, &k1).unwrap();
    // A failed statement's partial writes go too.
    assert!(txn.update(t, &k2, row(2, "c", 2)).is_err());
    txn.begin_statement().unwrap();
    txn.rollback_to_savepoint(sp).unwrap();
    txn.begin_statement().unwrap();
    let rows: Vec<Row> = txn.scan(t).unwrap().map(|r| r.unwrap().1).collect();
    assert_eq!(rows, vec![row(1, "a", 10), row(2, "b", 2)]);
    // The lock on row 2, taken after the savepoint, is free again; row 1's is still ours.
    let other = begin(&store, IsolationLevel::ReadCommitted);
    other.set_lock_timeout(Some(Duration::from_millis(100)));
    assert_eq!(other.lock_row(t, &k2), Ok(RowLockOutcome::Unchanged));
    assert!(matches!(
        other.lock_row(t, &k1),
        Err(Error::LockNotAvailable(_))
    ));
    other.rollback().unwrap();
    // The savepoint stays usable, and the index follows the rollback.
    txn.insert(t, row(4, "c", 4)).unwrap();
    txn.begin_statement().unwrap();
    txn.rollback_to_savepoint(sp).unwrap();
    txn.release_savepoint(sp).unwrap();
    txn.insert(t, row(5, "c", 5)).unwrap();
    txn.commit().unwrap();
    let r = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(scan_ids(&r, t), vec![1, 2, 5]);
    let v_idx = index_id(&r, t, "t_v_key");
    assert_eq!(
        ids(r.scan_index(t, v_idx, KeyRange::all()).unwrap()),
        vec![1, 2, 5]
    );
}

#[test]
fn unknown_tables_are_reported_by_name() {
    let store = Store::open_in_memory().unwrap();
    let t = setup(&store, &[row(1, "a", 1)]);
    let old = begin(&store, IsolationLevel::RepeatableRead);
    assert_eq!(scan_ids(&old, t), vec![1]);
    let dropper = begin(&store, IsolationLevel::ReadCommitted);
    dropper.drop_table(t).unwrap();
    dropper.commit().unwrap();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(txn.scan(t).err(), Some(Error::UndefinedTable("t".into())));
    assert_eq!(
        txn.scan(9999).err().map(|e| e.to_string()),
        Some("internal storage error: could not open relation with OID 9999".into())
    );
    // The older snapshot still sees the table and its rows.
    assert_eq!(scan_ids(&old, t), vec![1]);
}
