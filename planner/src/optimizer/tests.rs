//! Optimizer rules on bound plans of real statements.

use crate::binder::{Binder, Bound};
use crate::plan::{Access, JoinKind, Plan};
use sledgres_storage::{ColumnDef, DataType, IndexDef, Store, TableDef, TxnOptions};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

fn table(name: &str, cols: &[&str], pk: bool) -> TableDef {
    TableDef {
        id: 0,
        schema: "public".into(),
        name: name.into(),
        columns: cols
            .iter()
            .map(|c| ColumnDef {
                name: c.to_string(),
                data_type: DataType::Int4,
                nullable: true,
                default: None,
            })
            .collect(),
        primary_key: if pk { vec![0] } else { vec![] },
        primary_key_name: pk.then(|| format!("{name}_pkey")),
        constraints: vec![],
        indexes: vec![],
    }
}

fn plan(store: &Store, sql: &str) -> Plan {
    let txn = store.begin(TxnOptions::default()).unwrap();
    txn.begin_statement().unwrap();
    let ast = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
    let Bound::Query { plan, .. } = Binder::new(&txn, &[]).bind_statement(&ast[0]).unwrap() else {
        panic!("not a query")
    };
    super::optimize(plan).unwrap()
}

/// Joins in the plan, as (left relations, right relation's table, number of ON conjuncts).
fn joins(p: &Plan, out: &mut Vec<(String, usize)>) {
    match p {
        Plan::Join {
            left,
            right,
            on,
            kind,
            ..
        } => {
            assert_eq!(*kind, JoinKind::Inner);
            joins(left, out);
            if let Plan::Scan { table, .. } = &**right {
                out.push((table.name.clone(), on.len()));
            }
        }
        Plan::Project { input, .. } | Plan::Filter { input, .. } | Plan::Sort { input, .. } => {
            joins(input, out)
        }
        _ => {}
    }
}

fn first_scan(p: &Plan) -> &Plan {
    match p {
        Plan::Scan { .. } => p,
        Plan::Join { left, .. } => first_scan(left),
        Plan::Project { input, .. } | Plan::Filter { input, .. } | Plan::Sort { input, .. } => {
            first_scan(input)
        }
        other => panic!("unexpected node {other:?}"),
    }
}

#[test]
fn joins_follow_equalities_from_the_pinned_relation() {
    let store = Store::open_temporary().unwrap();
    let txn = store.begin(TxnOptions::default()).unwrap();
    for n in ["t1", "t2", "t3", "t4"] {
        txn.create_table(table(
            n,
            &[&format!("a{}", &n[1..]), &format!("b{}", &n[1..])],
            true,
        ))
        .unwrap();
    }
    txn.commit().unwrap();
    // The FROM order is the worst one; WHERE pins t3 and chains t3 → t1 → t4 → t2.
    let p = plan(
        &store,
        "SELECT * FROM t2, t4, t1, t3 WHERE a3 = 5 AND b3 = a1 AND b1 = a4 AND b4 = a2",
    );
    let Plan::Scan {
        table,
        access,
        filter,
        ..
    } = first_scan(&p)
    else {
        unreachable!()
    };
    assert_eq!(table.name, "t3");
    assert_eq!(filter.len(), 1);
    assert!(matches!(access, Access::Range { index: None, .. }));
    let mut js = vec![];
    joins(&p, &mut js);
    // Every join has its equality: no cross product.
    assert_eq!(
        js,
        [
            ("t1".to_string(), 1),
            ("t4".to_string(), 1),
            ("t2".to_string(), 1)
        ]
    );
}

#[test]
fn index_prefix_and_ranges_become_access_paths() {
    let store = Store::open_temporary().unwrap();
    let txn = store.begin(TxnOptions::default()).unwrap();
    let id = txn
        .create_table(table("t", &["a", "b", "c"], true))
        .unwrap();
    txn.create_index(
        id,
        IndexDef {
            id: 0,
            name: "t_b_c_idx".into(),
            columns: vec![1, 2],
            unique: false,
            primary: false,
        },
    )
    .unwrap();
    txn.commit().unwrap();
    let access = |sql: &str| match first_scan(&plan(&store, sql)) {
        Plan::Scan { access, .. } => access.clone(),
        _ => unreachable!(),
    };
    assert!(matches!(
        access("SELECT * FROM t WHERE c = 1"),
        Access::Full
    ));
    assert!(matches!(
        access("SELECT * FROM t WHERE b = 1 AND c > 2"),
        Access::Range { index: Some(_), start: Some((ref v, false)), end: Some((ref e, true)) } if v.len() == 2 && e.len() == 1
    ));
    assert!(matches!(
        access("SELECT * FROM t WHERE a IN (1, 2)"),
        Access::InList { index: None, .. }
    ));
    assert!(matches!(
        access("SELECT * FROM t WHERE 3 >= a"),
        Access::Range {
            index: None,
            start: None,
            end: Some((_, true))
        }
    ));
}
