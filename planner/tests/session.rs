//! End-to-end: SQL text through `Session` against a temporary database. Expected results
//! were checked against PostgreSQL 15.

use sledgres_planner::{
    DataType, Database, ErrorKind, QueryResult, Session, SessionParams, TransactionStatus,
};

fn session() -> Session {
    let db = Database::open_temporary().expect("open");
    db.session(SessionParams {
        user: "postgres".into(),
        ..Default::default()
    })
    .expect("session")
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

fn flat(r: Vec<Vec<String>>) -> Vec<String> {
    r.into_iter().map(|r| r.join("|")).collect()
}

#[test]
fn create_insert_select_update_delete() {
    let mut s = session();
    assert_eq!(
        tag(
            &mut s,
            "CREATE TABLE t (a int PRIMARY KEY, b text, c numeric(5,2) DEFAULT 1.5)"
        ),
        "CREATE TABLE"
    );
    assert_eq!(
        tag(
            &mut s,
            "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, NULL)"
        ),
        "INSERT 0 3"
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT * FROM t ORDER BY a")),
        ["1|x|1.50", "2|y|1.50", "3|NULL|1.50"]
    );
    assert_eq!(
        tag(&mut s, "UPDATE t SET b = b || '!' WHERE a >= 2"),
        "UPDATE 2"
    );
    assert_eq!(tag(&mut s, "DELETE FROM t WHERE a = 1"), "DELETE 1");
    let (r, t) = batch(&mut s, "SELECT a, b FROM t ORDER BY a DESC").unwrap();
    assert_eq!(flat(r), ["3|NULL", "2|y!"]);
    assert_eq!(t, "SELECT 2");
    assert_eq!(
        tag(&mut s, "INSERT INTO t SELECT a + 10, b, c FROM t"),
        "INSERT 0 2"
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT count(*), sum(a), max(b) FROM t")),
        ["4|30|y!"]
    );
    assert_eq!(tag(&mut s, "DROP TABLE t"), "DROP TABLE");
    assert_eq!(err(&mut s, "SELECT * FROM t").0, ErrorKind::UndefinedTable);
    assert_eq!(tag(&mut s, "DROP TABLE IF EXISTS t"), "DROP TABLE");
}

#[test]
fn transaction_blocks() {
    let mut s = session();
    tag(&mut s, "CREATE TABLE t (a int)");
    assert_eq!(tag(&mut s, "BEGIN"), "BEGIN");
    assert_eq!(s.transaction_status(), TransactionStatus::InBlock);
    tag(&mut s, "INSERT INTO t VALUES (1)");
    assert_eq!(tag(&mut s, "ROLLBACK"), "ROLLBACK");
    assert_eq!(rows(&mut s, "SELECT count(*) FROM t"), [["0"]]);
    tag(&mut s, "START TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    assert_eq!(
        rows(&mut s, "SHOW transaction_isolation"),
        [["repeatable read"]]
    );
    tag(&mut s, "INSERT INTO t VALUES (1)");
    let e = err(&mut s, "SELECT nosuch FROM t");
    assert_eq!(
        e,
        (
            ErrorKind::UndefinedColumn,
            "column \"nosuch\" does not exist".into()
        )
    );
    assert_eq!(s.transaction_status(), TransactionStatus::Failed);
    assert_eq!(err(&mut s, "SELECT 1").0, ErrorKind::InFailedTransaction);
    assert_eq!(tag(&mut s, "COMMIT"), "ROLLBACK");
    assert_eq!(s.transaction_status(), TransactionStatus::Idle);
    assert_eq!(rows(&mut s, "SELECT count(*) FROM t"), [["0"]]);
    // Several statements in one batch share the implicit transaction; an error rolls it back.
    let e = err(&mut s, "INSERT INTO t VALUES (5); SELECT 1/0");
    assert_eq!(e.0, ErrorKind::DivisionByZero);
    assert_eq!(rows(&mut s, "SELECT count(*) FROM t"), [["0"]]);
    tag(&mut s, "BEGIN; INSERT INTO t VALUES (7); COMMIT");
    assert_eq!(rows(&mut s, "SELECT a FROM t"), [["7"]]);
}

#[test]
fn binder_errors_match_postgres() {
    let mut s = session();
    tag(
        &mut s,
        "CREATE TABLE t (a int, b int); CREATE TABLE u (a int, c int NOT NULL)",
    );
    assert_eq!(
        err(&mut s, "SELECT a FROM t, u"),
        (
            ErrorKind::AmbiguousColumn,
            "column reference \"a\" is ambiguous".into()
        )
    );
    assert_eq!(
        err(&mut s, "SELECT a, count(*) FROM t"),
        (
            ErrorKind::GroupingError,
            "column \"t.a\" must appear in the GROUP BY clause or be used in an aggregate function"
                .into()
        )
    );
    assert_eq!(
        err(&mut s, "SELECT a FROM t ORDER BY 3").0,
        ErrorKind::InvalidColumnReference
    );
    assert_eq!(
        err(&mut s, "SELECT * FROM nope"),
        (
            ErrorKind::UndefinedTable,
            "relation \"nope\" does not exist".into()
        )
    );
    assert_eq!(
        err(&mut s, "SELECT t.x FROM t").1,
        "column t.x does not exist"
    );
    assert_eq!(
        err(&mut s, "SELECT a + 'x' FROM t").0,
        ErrorKind::InvalidTextRepresentation
    );
    let e = err(&mut s, "INSERT INTO u VALUES (1, NULL)");
    assert_eq!(
        e,
        (
            ErrorKind::NotNullViolation,
            "null value in column \"c\" of relation \"u\" violates not-null constraint".into()
        )
    );
    assert_eq!(
        err(&mut s, "SELECT TOP 1 a FROM t").0,
        ErrorKind::SyntaxError
    );
    assert_eq!(err(&mut s, "INSERT t VALUES (1)").0, ErrorKind::SyntaxError);
}

#[test]
fn binding_errors_carry_positions() {
    let mut s = session();
    tag(&mut s, "CREATE TABLE t (a int)");
    for (sql, pos) in [
        ("SELECT nosuch FROM t", 8),
        ("SELECT 1; SELECT * FROM nope", 25),
        ("SELECT a,\n  t.b FROM t", 13),
    ] {
        let st = s.parse(sql).unwrap();
        let e = st
            .iter()
            .map(|st| s.prepare(st, &[]))
            .find_map(|r| r.err())
            .expect("an error");
        assert_eq!(e.position, Some(pos), "{sql}");
        s.end_batch().unwrap();
    }
}

#[test]
fn unique_and_primary_keys() {
    let mut s = session();
    tag(
        &mut s,
        "CREATE TABLE t (a int, b int, c text UNIQUE, PRIMARY KEY (a, b))",
    );
    tag(&mut s, "INSERT INTO t VALUES (1, 1, 'x')");
    let e = err(&mut s, "INSERT INTO t VALUES (1, 1, 'y')");
    assert_eq!(
        e,
        (
            ErrorKind::UniqueViolation,
            "duplicate key value violates unique constraint \"t_pkey\"".into()
        )
    );
    let e = err(&mut s, "INSERT INTO t VALUES (1, 2, 'x')");
    assert_eq!(
        e.1,
        "duplicate key value violates unique constraint \"t_c_key\""
    );
}

#[test]
fn output_column_names() {
    let mut s = session();
    let p = {
        let st = s.parse("SELECT 1 AS x, 'a', 1::int, (SELECT 2 AS y), count(*), CASE WHEN true THEN 1 END, abs(-1)").unwrap();
        s.prepare(&st[0], &[]).unwrap()
    };
    let names: Vec<&str> = p.columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["x", "?column?", "int4", "y", "count", "case", "abs"]
    );
    s.end_batch().unwrap();
}

#[test]
fn parameters_get_types_from_context() {
    let mut s = session();
    tag(&mut s, "CREATE TABLE t (a int, b text)");
    let st = s.parse("SELECT b FROM t WHERE a = $1 AND b <> $2").unwrap();
    let p = s.prepare(&st[0], &[None, None]).unwrap();
    assert_eq!(p.param_types(), [DataType::Int4, DataType::Text]);
    s.end_batch().unwrap();
    tag(&mut s, "INSERT INTO t VALUES (1, 'one'), (2, 'two')");
    let st = s.parse("SELECT b FROM t WHERE a = $1").unwrap();
    let p = s.prepare(&st[0], &[None]).unwrap();
    let v = s.decode_param_text(&DataType::Int4, "2").unwrap();
    let QueryResult::Rows(mut c) = s.execute(&p, vec![v]).unwrap() else {
        panic!("rows expected")
    };
    let r = s.fetch(&mut c, 0).unwrap().unwrap();
    assert_eq!(r, vec![vec![sledgres_planner::Value::Text("two".into())]]);
    s.end_batch().unwrap();
}

#[test]
fn joins_subqueries_and_set_operations() {
    let mut s = session();
    tag(
        &mut s,
        "CREATE TABLE a (id int PRIMARY KEY, x int); CREATE TABLE b (id int, aid int)",
    );
    tag(&mut s, "INSERT INTO a VALUES (1, 10), (2, 20), (3, 30)");
    tag(
        &mut s,
        "INSERT INTO b VALUES (1, 1), (2, 1), (3, 2), (4, NULL)",
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT a.id, b.id FROM a JOIN b ON a.id = b.aid ORDER BY 2"
        )),
        ["1|1", "1|2", "2|3"]
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT a.id, count(b.id) FROM a LEFT JOIN b ON b.aid = a.id GROUP BY a.id ORDER BY a.id")),
        ["1|2", "2|1", "3|0"]
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT id, (SELECT count(*) FROM b WHERE b.aid = a.id) FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.aid = a.id) ORDER BY id")),
        ["1|2", "2|1"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT id FROM a WHERE id NOT IN (SELECT aid FROM b)"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT id FROM a WHERE id IN (SELECT aid FROM b) ORDER BY 1"
        )),
        ["1", "2"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT aid FROM b UNION SELECT id FROM a ORDER BY 1"
        )),
        ["1", "2", "3", "NULL"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT aid FROM b INTERSECT ALL SELECT 1 FROM a"
        )),
        ["1", "1"]
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT id FROM a EXCEPT SELECT aid FROM b")),
        ["3"]
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT * FROM a JOIN b USING (id) ORDER BY 1")),
        ["1|10|1", "2|20|1", "3|30|2"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT a.id, b.id FROM a RIGHT JOIN b ON a.id = b.aid ORDER BY 2"
        )),
        ["1|1", "1|2", "2|3", "NULL|4"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT x FROM a ORDER BY x DESC LIMIT 1 OFFSET 1"
        )),
        ["20"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT DISTINCT aid FROM b WHERE aid IS NOT NULL ORDER BY aid"
        )),
        ["1", "2"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT x, COALESCE(NULL, x), NULLIF(x, 20), x BETWEEN 15 AND 25 FROM a ORDER BY 1"
        )),
        ["10|10|10|f", "20|20|NULL|t", "30|30|30|f"]
    );
}

#[test]
fn secondary_index_is_used_and_maintained() {
    let mut s = session();
    tag(&mut s, "CREATE TABLE t (a int PRIMARY KEY, b int, c text)");
    tag(
        &mut s,
        "INSERT INTO t SELECT x, x % 10, 'v' FROM (VALUES (1),(2),(3),(11),(12),(21)) v(x)",
    );
    assert_eq!(tag(&mut s, "CREATE INDEX ON t (b)"), "CREATE INDEX");
    assert_eq!(
        flat(rows(&mut s, "SELECT a FROM t WHERE b = 1 ORDER BY a")),
        ["1", "11", "21"]
    );
    tag(&mut s, "UPDATE t SET b = 5 WHERE a = 11");
    assert_eq!(
        flat(rows(&mut s, "SELECT a FROM t WHERE b = 1 ORDER BY a")),
        ["1", "21"]
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT a FROM t WHERE b IN (5, 2) ORDER BY a")),
        ["2", "11", "12"]
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT a FROM t WHERE a > 2 AND a <= 12 ORDER BY a"
        )),
        ["3", "11", "12"]
    );
    assert_eq!(tag(&mut s, "DROP INDEX t_b_idx"), "DROP INDEX");
    assert_eq!(
        err(&mut s, "DROP INDEX t_b_idx").0,
        ErrorKind::UndefinedObject
    );
}

#[test]
fn settings() {
    let mut s = session();
    let init = s.initial_parameters();
    assert!(init
        .iter()
        .any(|(k, v)| k == "server_version" && v.starts_with("15.")));
    assert!(init
        .iter()
        .any(|(k, v)| k == "DateStyle" && v == "ISO, MDY"));
    assert_eq!(tag(&mut s, "SET application_name = 'app'"), "SET");
    assert_eq!(
        s.take_parameter_changes(),
        [("application_name".to_string(), "app".to_string())]
    );
    assert_eq!(rows(&mut s, "SHOW application_name"), [["app"]]);
    assert_eq!(err(&mut s, "SET nosuch = 1").0, ErrorKind::UndefinedObject);
    tag(&mut s, "SET extra_float_digits = 0");
    assert_eq!(rows(&mut s, "SHOW extra_float_digits"), [["0"]]);
}

#[test]
fn aggregates_with_filters_and_grouped_subqueries() {
    let mut s = session();
    tag(&mut s, "CREATE TABLE t (a int, b int)");
    tag(
        &mut s,
        "INSERT INTO t VALUES (1, 1), (1, 2), (2, 3), (3, NULL)",
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT a, (SELECT count(*) FROM t t2 WHERE t2.a > t.a), sum(b) FILTER (WHERE b > 1) \
             FROM t GROUP BY a ORDER BY a"
        )),
        ["1|2|2", "2|1|3", "3|0|NULL"]
    );
    assert_eq!(
        err(
            &mut s,
            "SELECT a, (SELECT count(*) FROM t t2 WHERE t2.b = t.b) FROM t GROUP BY a"
        ),
        (
            ErrorKind::GroupingError,
            "subquery uses ungrouped column \"t.b\" from outer query".into()
        )
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT a + 1 AS x, count(*) FROM t GROUP BY x ORDER BY x DESC"
        )),
        ["4|1", "3|1", "2|2"]
    );
    // A constant-false HAVING never evaluates its input (no division by zero), and a
    // strict operator with a NULL operand is NULL without evaluating the other one.
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT a FROM t WHERE a / 0 > 1 GROUP BY a HAVING NULL IS NOT NULL"
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        flat(rows(&mut s, "SELECT a FROM t WHERE a / 0 = NULL")),
        Vec::<String>::new()
    );
    assert_eq!(
        flat(rows(
            &mut s,
            "SELECT count(*), count(b), count(DISTINCT a) FROM t WHERE a > 5"
        )),
        ["0|0|0"]
    );
}

/// Prints the results of the statements in $SQL (one batch per line): for comparing with
/// PostgreSQL by hand.
#[test]
#[ignore = "developer tool: prints results of $SQL for comparison by hand"]
fn print_results() {
    let mut s = session();
    for line in std::env::var("SQL").unwrap_or_default().lines() {
        match batch(&mut s, line) {
            Ok((r, t)) => println!("{line}\n  {r:?} {t}"),
            Err(e) => println!("{line}\n  ERROR {e:?}"),
        }
    }
}

#[test]
fn cancel_stops_a_running_statement() {
    let mut s = session();
    let st = s
        .parse(
            "SELECT a.x FROM (VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)) a(x), \
             (VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)) b(x), \
             (VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)) c(x), \
             (VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10)) d(x)",
        )
        .unwrap();
    let p = s.prepare(&st[0], &[]).unwrap();
    let QueryResult::Rows(mut c) = s.execute(&p, vec![]).unwrap() else {
        panic!("rows expected")
    };
    s.cancel_handle().cancel();
    let e = s.fetch(&mut c, 0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::QueryCanceled);
    assert_eq!(e.message, "canceling statement due to user request");
    s.end_batch().unwrap();
    // The next statement runs normally.
    assert_eq!(rows(&mut s, "SELECT 1"), [["1"]]);
}

#[test]
fn concurrent_update_rechecks_the_newest_row_version() {
    let db = Database::open_temporary().expect("open");
    let params = SessionParams {
        user: "postgres".into(),
        ..Default::default()
    };
    let mut a = db.session(params.clone()).unwrap();
    let b = db.session(params).unwrap();
    tag(&mut a, "CREATE TABLE t (id int PRIMARY KEY, n int)");
    tag(&mut a, "INSERT INTO t VALUES (1, 0), (2, 0)");
    let mut b = Some(b);
    // B waits for A's row lock; after A commits, B re-checks its WHERE clause on A's version
    // and applies its SET to it (EvalPlanQual).
    for (b_sql, b_tag, after) in [
        (
            "UPDATE t SET n = n + 10 WHERE id = 1",
            "UPDATE 1",
            ["1|11", "2|0"],
        ),
        (
            "UPDATE t SET n = n + 100 WHERE id = 1 AND n = 11",
            "UPDATE 0",
            ["1|12", "2|0"],
        ),
    ] {
        tag(&mut a, "BEGIN");
        assert_eq!(
            tag(&mut a, "UPDATE t SET n = n + 1 WHERE id = 1"),
            "UPDATE 1"
        );
        let mut bs = b.take().unwrap();
        let waiter = std::thread::spawn(move || {
            let t = tag(&mut bs, b_sql);
            (bs, t)
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(tag(&mut a, "COMMIT"), "COMMIT");
        let (bs, t) = waiter.join().unwrap();
        b = Some(bs);
        assert_eq!(t, b_tag, "{b_sql}");
        assert_eq!(flat(rows(&mut a, "SELECT id, n FROM t ORDER BY id")), after);
    }
}

#[test]
fn deep_expressions_are_handled_or_refused_without_crashing() {
    let mut s = session();
    tag(&mut s, "CREATE TABLE t (a int)");
    tag(&mut s, "INSERT INTO t VALUES (1)");
    let e = vec!["a"; 190].join(" + ");
    let c = vec!["count(*)"; 190].join(" + ");
    assert_eq!(
        rows(
            &mut s,
            &format!("SELECT {e} FROM t WHERE {e} > 0 GROUP BY a HAVING {c} > 0 ORDER BY {e}")
        ),
        [["190"]]
    );
    let deeper = vec!["a"; 1000].join(" + ");
    let (kind, _) = err(&mut s, &format!("SELECT {deeper} FROM t"));
    assert_eq!(kind, ErrorKind::FeatureNotSupported);
}

#[test]
fn explain_shows_index_lookups_along_the_join_graph() {
    let mut s = session();
    tag(
        &mut s,
        "CREATE TABLE t1 (a1 int PRIMARY KEY, b1 int, x1 text); \
         CREATE TABLE t2 (a2 int PRIMARY KEY, b2 int, x2 text); \
         CREATE TABLE t3 (a3 int PRIMARY KEY, b3 int, x3 text)",
    );
    tag(
        &mut s,
        "INSERT INTO t1 VALUES (1, 2, 'one'), (2, 3, 'two'), (3, 1, 'three'); \
         INSERT INTO t2 VALUES (5, 2, 'five'), (6, 9, 'six'); \
         INSERT INTO t3 VALUES (3, 0, 'x3'), (1, 0, 'y1')",
    );
    let q = "SELECT x1, x2, x3 FROM t3, t1, t2 WHERE a2 = 5 AND b2 = a1 AND b1 = a3";
    assert_eq!(flat(rows(&mut s, q)), ["two|five|x3"]);
    let plan: Vec<String> = flat(rows(&mut s, &format!("EXPLAIN {q}")));
    // Each scan is an index scan whose condition comes from the table joined before it.
    let scans: Vec<String> = plan
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("Scan"))
        .map(|(i, l)| format!("{} {}", l.trim(), plan.get(i + 1).map_or("", |c| c.trim())))
        .collect();
    assert_eq!(scans.len(), 3, "{plan:#?}");
    assert!(
        scans[0].starts_with("->  Index Scan using t2_pkey on t2")
            && scans[0].ends_with("Index Cond: (a2 = 5)"),
        "{plan:#?}"
    );
    assert!(
        scans[1].starts_with("->  Index Scan using t1_pkey on t1")
            && scans[1].ends_with("Index Cond: (a1 = t2.b2)"),
        "{plan:#?}"
    );
    assert!(
        scans[2].starts_with("->  Index Scan using t3_pkey on t3")
            && scans[2].ends_with("Index Cond: (a3 = t1.b1)"),
        "{plan:#?}"
    );
    // WHERE conditions on the preserved side of a LEFT JOIN filter it before the join.
    let q = "SELECT x2, x1 FROM t2 LEFT JOIN t1 ON a1 = b2 WHERE a2 = 6";
    assert_eq!(flat(rows(&mut s, q)), ["six|NULL"]);
    let plan = flat(rows(&mut s, &format!("EXPLAIN {q}")));
    assert!(plan[0].starts_with("Nested Loop Left Join"), "{plan:#?}");
    assert!(
        plan.iter().any(|l| l.trim() == "Index Cond: (a2 = 6)"),
        "{plan:#?}"
    );
    assert!(
        plan.iter().any(|l| l.trim() == "Index Cond: (a1 = t2.b2)"),
        "{plan:#?}"
    );
}
