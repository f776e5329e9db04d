//! EXPLAIN and statistics through `Session`: the planner's own decisions (which PostgreSQL
//! cannot provide expected output for) — estimates from ANALYZE, the hash join's build side,
//! EXPLAIN ANALYZE's counts.

use sledgres_planner::{Database, QueryResult, Session, SessionParams};

fn session() -> Session {
    let db = Database::open_temporary().expect("open");
    db.session(SessionParams {
        user: "postgres".into(),
        ..Default::default()
    })
    .expect("session")
}

/// The last statement's rows, first column as text.
fn lines(s: &mut Session, sql: &str) -> Vec<String> {
    let mut out = vec![];
    for st in s.parse(sql).expect("parse") {
        let p = s.prepare(&st, &[]).expect(sql);
        out.clear();
        if let QueryResult::Rows(mut c) = s.execute(&p, vec![]).expect(sql) {
            while let Some(b) = s.fetch(&mut c, 0).expect("fetch") {
                for r in b {
                    out.push(match &r[0] {
                        sledgres_planner::Value::Text(t) => t.clone(),
                        v => format!("{v:?}"),
                    });
                }
            }
        }
    }
    s.end_batch().expect("end");
    out
}

fn setup() -> Session {
    let mut s = session();
    lines(
        &mut s,
        "CREATE TABLE d (i int); \
         INSERT INTO d VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9); \
         CREATE TABLE big (a int, g int); \
         INSERT INTO big SELECT x.i*100 + y.i*10 + z.i, x.i FROM d x, d y, d z; \
         CREATE TABLE small (k int, v text); \
         INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    );
    s
}

#[test]
fn analyze_feeds_estimates() {
    let mut s = setup();
    let before = lines(&mut s, "EXPLAIN SELECT * FROM big");
    assert!(
        before[0].starts_with("Seq Scan on big  (cost="),
        "{before:?}"
    );
    assert!(before[0].contains("rows=1000 "), "{before:?}");
    lines(&mut s, "ANALYZE big");
    let after = lines(&mut s, "EXPLAIN SELECT * FROM big WHERE g = 3");
    // 1000 rows, 10 distinct values of g: 100 expected.
    assert!(after[0].contains("rows=100 "), "{after:?}");
    assert_eq!(after[1], "  Filter: (g = 3)");
    let agg = lines(&mut s, "EXPLAIN SELECT g, count(*) FROM big GROUP BY g");
    assert!(
        agg[0].starts_with("HashAggregate") && agg[0].contains("rows=10 "),
        "{agg:?}"
    );
}

#[test]
fn analyzed_join_builds_the_smaller_side() {
    let mut s = setup();
    lines(&mut s, "ANALYZE");
    let plan = lines(
        &mut s,
        "EXPLAIN (COSTS OFF) SELECT * FROM small JOIN big ON big.a = small.k",
    );
    assert_eq!(
        plan,
        vec![
            "Hash Join",
            "  Hash Cond: (big.a = small.k)",
            "  ->  Seq Scan on big",
            "  ->  Hash",
            "        ->  Seq Scan on small",
        ],
        "{plan:#?}"
    );
}

#[test]
fn explain_analyze_counts_rows_and_loops() {
    let mut s = setup();
    let plan = lines(
        &mut s,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) \
         SELECT g, count(*) FROM big WHERE a % 2 = 0 GROUP BY g",
    );
    assert_eq!(
        plan,
        vec![
            "HashAggregate (actual rows=10 loops=1)",
            "  Group Key: g",
            "  ->  Seq Scan on big (actual rows=500 loops=1)",
            "        Filter: ((a % 2) = 0)",
            "        Rows Removed by Filter: 500",
        ],
        "{plan:#?}"
    );
    let timed = lines(&mut s, "EXPLAIN ANALYZE SELECT count(*) FROM small");
    assert!(timed[0].contains(") (actual time="), "{timed:?}");
    assert!(timed.iter().any(|l| l.starts_with("Planning Time: ")));
    assert!(timed.iter().any(|l| l.starts_with("Execution Time: ")));
}
