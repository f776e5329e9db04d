//! Vacuum: old versions go, what running transactions see never changes, dropped objects'
//! data goes, and a steady update load keeps the number of versions bounded.

use crate::*;
use std::time::{Duration, Instant};

fn col(name: &str) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        data_type: DataType::Int4,
        nullable: true,
        default: None,
    }
}

/// `name (id int primary key, value int)` with an index on value.
fn create(store: &Store, name: &str) -> TableId {
    let txn = begin(store, IsolationLevel::ReadCommitted);
    let t = txn
        .create_table(TableDef {
            id: 0,
            schema: "public".into(),
            name: name.into(),
            columns: vec![col("id"), col("value")],
            primary_key: vec![0],
            primary_key_name: None,
            constraints: vec![],
            indexes: vec![IndexDef {
                id: 0,
                name: format!("{name}_value_idx"),
                columns: vec![1],
                unique: false,
                primary: false,
            }],
        })
        .unwrap();
    txn.commit().unwrap();
    t
}

fn begin(store: &Store, isolation: IsolationLevel) -> Transaction {
    let txn = store
        .begin(TxnOptions {
            isolation,
            ..TxnOptions::default()
        })
        .unwrap();
    txn.begin_statement().unwrap();
    txn
}

fn key(id: i32) -> RowKey {
    let mut k = Vec::new();
    keycode::encode_values(&[Value::Int4(id)], &mut k);
    RowKey(k)
}

/// Sets row `id` to `value` (inserting it the first time), committed.
fn set(store: &Store, t: TableId, id: i32, value: i32) {
    let txn = begin(store, IsolationLevel::ReadCommitted);
    let row = vec![Value::Int4(id), Value::Int4(value)];
    if txn
        .get_by_primary_key(t, &[Value::Int4(id)])
        .unwrap()
        .is_some()
    {
        txn.update(t, &key(id), row).unwrap();
    } else {
        txn.insert(t, row).unwrap();
    }
    txn.commit().unwrap();
}

fn delete(store: &Store, t: TableId, id: i32) {
    let txn = begin(store, IsolationLevel::ReadCommitted);
    txn.delete(t, &key(id)).unwrap();
    txn.commit().unwrap();
}

fn rows(txn: &Transaction, t: TableId) -> Vec<(i32, i32)> {
    txn.begin_statement().unwrap();
    txn.scan(t)
        .unwrap()
        .map(|r| match &r.unwrap().1[..] {
            [Value::Int4(a), Value::Int4(b)] => (*a, *b),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn by_index(txn: &Transaction, t: TableId) -> Vec<i32> {
    let idx = txn.get_table("public", "t").unwrap().unwrap().indexes[0].id;
    txn.scan_index(t, idx, KeyRange::all())
        .unwrap()
        .map(|r| match r.unwrap().1[0] {
            Value::Int4(i) => i,
            ref v => panic!("{v:?}"),
        })
        .collect()
}

/// Every stored version of rows and index entries (and catalog entries).
fn versions(store: &Store) -> usize {
    store
        .inner
        .kv
        .scan(vec![0x01]..vec![0xFF])
        .filter(|r| r.is_ok())
        .count()
}

fn quiet_store() -> Store {
    let store = Store::open_in_memory().unwrap();
    store.set_autovacuum_interval(Duration::ZERO);
    store
}

#[test]
fn vacuum_never_changes_what_running_transactions_see() {
    let store = quiet_store();
    let t = create(&store, "t");
    for id in 1..=3 {
        set(&store, t, id, id);
        set(&store, t, id, id * 10);
    }
    let old = begin(&store, IsolationLevel::RepeatableRead);
    assert_eq!(rows(&old, t), vec![(1, 10), (2, 20), (3, 30)]);
    for round in 1..=5 {
        set(&store, t, 1, 10 + round);
        set(&store, t, 4, round);
    }
    delete(&store, t, 2);
    let middle = begin(&store, IsolationLevel::RepeatableRead);
    let middle_rows = rows(&middle, t);
    assert_eq!(middle_rows, vec![(1, 15), (3, 30), (4, 5)]);
    set(&store, t, 3, 33);

    let before = versions(&store);
    let stats = store.vacuum().unwrap();
    // The versions older than what `old` sees are gone: each row's and index entry's first
    // version (6), the index entries replaced before `old` began (3). Versions between the
    // two snapshots stay (like PostgreSQL, vacuum only goes by the oldest snapshot).
    assert_eq!(stats.versions_removed, 9, "{stats:?}");
    assert_eq!(versions(&store), before - stats.versions_removed as usize);
    assert_eq!(rows(&old, t), vec![(1, 10), (2, 20), (3, 30)]);
    assert_eq!(by_index(&old, t), vec![1, 2, 3]);
    assert_eq!(rows(&middle, t), middle_rows);
    assert_eq!(by_index(&middle, t), vec![4, 1, 3]);
    let new = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(rows(&new, t), vec![(1, 15), (3, 33), (4, 5)]);

    // Once they end, only the newest versions remain: one per live row and index entry.
    old.commit().unwrap();
    middle.commit().unwrap();
    new.commit().unwrap();
    store.vacuum().unwrap();
    let catalog_versions = 1;
    assert_eq!(versions(&store), 3 + 3 + catalog_versions);
    let check = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(rows(&check, t), vec![(1, 15), (3, 33), (4, 5)]);
    assert_eq!(by_index(&check, t), vec![4, 1, 3]);
    // A second run finds nothing to do.
    assert_eq!(store.vacuum().unwrap().versions_removed, 0);
}

#[test]
fn dropped_tables_and_indexes_are_removed() {
    let store = quiet_store();
    let t = create(&store, "t");
    let gone = create(&store, "gone");
    for id in 1..=50 {
        set(&store, t, id, id);
        set(&store, gone, id, id);
    }
    let reader = begin(&store, IsolationLevel::RepeatableRead);
    assert_eq!(rows(&reader, gone).len(), 50);
    let ddl = begin(&store, IsolationLevel::ReadCommitted);
    ddl.drop_table(gone).unwrap();
    let idx = ddl.get_table("public", "t").unwrap().unwrap().indexes[0].id;
    ddl.drop_index(t, idx).unwrap();
    ddl.commit().unwrap();
    // The reader's snapshot still has both: nothing of theirs may go yet.
    store.vacuum().unwrap();
    assert_eq!(rows(&reader, gone).len(), 50);
    assert_eq!(by_index(&reader, t).len(), 50);
    reader.commit().unwrap();
    store.vacuum().unwrap();
    // Left: t's 50 rows and its one catalog entry.
    assert_eq!(versions(&store), 50 + 1);
    let check = begin(&store, IsolationLevel::ReadCommitted);
    assert_eq!(rows(&check, t).len(), 50);
}

#[test]
fn background_vacuum_bounds_versions_under_steady_updates() {
    let store = Store::open_in_memory().unwrap();
    store.set_autovacuum_interval(Duration::from_millis(5));
    let t = create(&store, "t");
    for id in 1..=10 {
        set(&store, t, id, 0);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut peak = 0;
    for round in 1..=300 {
        set(&store, t, round % 10 + 1, round);
        if round % 50 == 0 {
            std::thread::sleep(Duration::from_millis(30));
            peak = peak.max(versions(&store));
        }
        assert!(Instant::now() < deadline);
    }
    std::thread::sleep(Duration::from_millis(50));
    // 300 updates of 10 rows wrote ~600 row and index versions; vacuum keeps it near the
    // live count (10 rows + 10 entries + catalog) plus what arrived since the last pass.
    assert!(peak < 200, "peak {peak}");
    assert!(versions(&store) < 100, "{}", versions(&store));
}

#[test]
fn passes_have_bounded_work_and_resume() {
    let store = quiet_store();
    let t = create(&store, "t");
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    for id in 0..(crate::vacuum::PASS_BUDGET as i32) {
        txn.insert(t, vec![Value::Int4(id), Value::Int4(0)])
            .unwrap();
    }
    txn.commit().unwrap();
    let txn = begin(&store, IsolationLevel::ReadCommitted);
    txn.delete(t, &key(1)).unwrap();
    txn.commit().unwrap();
    let h = store.inner.horizon();
    let (next, stats) = crate::vacuum::pass(&*store.inner.kv, h, &[], 100).unwrap();
    assert!(next.is_some());
    assert!(stats.versions_scanned <= 102, "{stats:?}");
    // Between them, the bounded pass and a full run remove the deleted row's versions and
    // its index entry's.
    assert_eq!(
        stats.versions_removed + store.vacuum().unwrap().versions_removed,
        4
    );
}

#[test]
fn stats_count_versions_by_kind() {
    let store = quiet_store();
    let t = create(&store, "t");
    set(&store, t, 1, 1);
    set(&store, t, 2, 2);
    set(&store, t, 1, 10);
    delete(&store, t, 2);
    // Rows: 1@1, 1@10, 2@2, 2⌫. Index entries: (1,1) and its tombstone, (10,1), (2,2) and its
    // tombstone. Catalog: one definition.
    let s = store.stats().unwrap();
    assert_eq!(s.row_versions, 4, "{s:?}");
    assert_eq!(s.index_versions, 5, "{s:?}");
    assert_eq!(s.catalog_versions, 1, "{s:?}");
    assert_eq!(s.tombstones, 3, "{s:?}");
    assert_eq!(s.versions, 10);
    assert_eq!(s.user_keys, 2 + 3 + 1);
    assert_eq!(s.versions as usize, versions(&store));
    store.vacuum().unwrap();
    let s = store.stats().unwrap();
    assert_eq!(
        (s.row_versions, s.index_versions, s.tombstones),
        (1, 1, 0),
        "{s:?}"
    );
    assert_eq!(s.user_keys, 3);
}
