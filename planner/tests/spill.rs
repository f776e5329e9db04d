//! work_mem spilling end to end: each query runs once with the default work_mem (in memory)
//! and once with 64kB, which forces sorts, hash aggregates, DISTINCT and hash joins over
//! ~20,000 rows to spill to temporary files; both runs must give the same rows (in the same
//! order where the query has ORDER BY, as a multiset otherwise).

use sledgres_planner::exec::spill::files_created;
use sledgres_planner::{Database, QueryResult, Session, SessionParams};

fn session() -> Session {
    let db = Database::open_temporary().expect("open");
    db.session(SessionParams {
        user: "postgres".into(),
        ..Default::default()
    })
    .expect("session")
}

/// The rows of the last statement, each rendered as text.
fn rows(s: &mut Session, sql: &str) -> Vec<String> {
    let mut out = vec![];
    for st in s.parse(sql).expect("parse") {
        let p = s.prepare(&st, &[]).expect("prepare");
        out.clear();
        if let QueryResult::Rows(mut c) = s.execute(&p, vec![]).expect(sql) {
            while let Some(b) = s.fetch(&mut c, 0).expect("fetch") {
                for r in b {
                    out.push(format!("{r:?}"));
                }
            }
        }
    }
    s.end_batch().expect("end");
    out
}

fn setup() -> Session {
    let mut s = session();
    rows(
        &mut s,
        "CREATE TABLE d (i int); \
         INSERT INTO d VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9); \
         CREATE TABLE big (a int, b text, c int); \
         INSERT INTO big SELECT x.i*1000 + y.i*100 + z.i*10 + w.i, \
            'row ' || ((x.i*7 + y.i*3 + z.i) % 50), (x.i + w.i) % 7 \
            FROM d x, d y, d z, d w; \
         INSERT INTO big SELECT a + 10000, b, NULL::int FROM big; \
         CREATE TABLE small (k int, v text); \
         INSERT INTO small SELECT a, 'v' || a FROM big WHERE a % 3 = 0",
    );
    s
}

fn compare(s: &mut Session, sql: &str, ordered: bool) {
    rows(s, "RESET work_mem");
    let mut mem = rows(s, sql);
    rows(s, "SET work_mem = '64kB'");
    let before = files_created();
    let mut spilled = rows(s, sql);
    assert!(
        files_created() > before,
        "expected {sql} to spill with work_mem = 64kB"
    );
    rows(s, "RESET work_mem");
    if !ordered {
        mem.sort();
        spilled.sort();
    }
    assert!(!mem.is_empty());
    assert_eq!(mem.len(), spilled.len(), "{sql}");
    assert!(mem == spilled, "{sql}: results differ");
}

#[test]
fn spilled_operators_give_the_in_memory_results() {
    let mut s = setup();
    assert_eq!(
        rows(&mut s, "SELECT count(*) FROM big"),
        vec!["[Int8(20000)]"]
    );
    // External merge sort, stable on ties (b has many duplicates; a breaks none of them).
    compare(
        &mut s,
        "SELECT b, a, c FROM big ORDER BY b, c DESC NULLS LAST",
        true,
    );
    compare(&mut s, "SELECT a, b FROM big ORDER BY a DESC", true);
    // Hash aggregate with many groups, DISTINCT aggregates and ordered aggregates.
    compare(
        &mut s,
        "SELECT a % 5000, count(*), sum(c), count(DISTINCT b), min(b) FROM big GROUP BY a % 5000",
        false,
    );
    compare(
        &mut s,
        "SELECT b, c, count(*), string_agg(a::text, ',' ORDER BY a) FROM big GROUP BY b, c",
        false,
    );
    // DISTINCT and UNION.
    compare(&mut s, "SELECT DISTINCT a % 7000, c FROM big", false);
    compare(
        &mut s,
        "SELECT a % 6000 FROM big UNION SELECT k + 1 FROM small",
        false,
    );
    // Grace hash joins: inner, left and full, with NULL keys on both sides.
    compare(
        &mut s,
        "SELECT big.a, big.b, small.v FROM big JOIN small ON big.a = small.k",
        false,
    );
    compare(
        &mut s,
        "SELECT x.k, y.a FROM small x LEFT JOIN big y ON x.k = y.c * 3 AND y.a % 2 = 0",
        false,
    );
    compare(
        &mut s,
        "SELECT x.a, y.a FROM big x FULL JOIN big y ON x.c = y.a - 19990",
        false,
    );
    // Everything together, ordered at the end.
    compare(
        &mut s,
        "SELECT b, count(*) FROM (SELECT DISTINCT big.b, small.k FROM big JOIN small \
         ON big.a = small.k) t GROUP BY b ORDER BY 2 DESC, 1",
        true,
    );
}

#[test]
fn work_mem_setting() {
    let mut s = session();
    assert_eq!(rows(&mut s, "SHOW work_mem"), vec![r#"[Text("4MB")]"#]);
    for (set, show) in [
        ("'64kB'", "64kB"),
        ("1024", "1MB"),
        ("'1.5MB'", "1536kB"),
        ("'1024MB'", "1GB"),
        ("'65536B'", "64kB"),
    ] {
        rows(&mut s, &format!("SET work_mem = {set}"));
        assert_eq!(
            rows(&mut s, "SHOW work_mem"),
            vec![format!(r#"[Text("{show}")]"#)]
        );
    }
    for bad in ["'abc'", "'10'", "'10xB'", "'3000000MB'"] {
        let st = s.parse(&format!("SET work_mem = {bad}")).unwrap();
        let err = s
            .prepare(&st[0], &[])
            .and_then(|p| s.execute(&p, vec![]).map(|_| ()));
        assert!(err.is_err(), "{bad}");
        s.end_batch().ok();
    }
}
