//! End-to-end query features through `Session`: outer joins, USING/NATURAL, CTEs, window
//! functions, … Every expected output was produced by PostgreSQL 15 (`psql -A`, NULL shown
//! as `NULL`, errors as `ERROR: message`).

use sledgres_planner::{DataType, Database, QueryResult, Session, SessionParams};

fn session() -> Session {
    let db = Database::open_temporary().expect("open");
    db.session(SessionParams {
        user: "postgres".into(),
        ..Default::default()
    })
    .expect("session")
}

/// Runs statements whose results do not matter (setup).
fn exec(s: &mut Session, sql: &str) {
    let r = run(s, sql);
    assert!(!r.starts_with("ERROR"), "{sql}: {r}");
}

/// The last statement's result as `psql -A` prints it: a header line, then one line per
/// row, fields separated by `|`.
fn run(s: &mut Session, sql: &str) -> String {
    let r = (|| -> Result<String, sledgres_planner::Error> {
        let mut out = String::new();
        for st in s.parse(sql)? {
            let p = s.prepare(&st, &[])?;
            out.clear();
            if let QueryResult::Rows(mut c) = s.execute(&p, vec![])? {
                let types: Vec<DataType> =
                    c.columns().iter().map(|c| c.data_type.clone()).collect();
                let names: Vec<String> = c.columns().iter().map(|c| c.name.clone()).collect();
                out.push_str(&names.join("|"));
                while let Some(b) = s.fetch(&mut c, 0)? {
                    for r in b {
                        let line: Vec<String> = r
                            .iter()
                            .zip(&types)
                            .map(|(v, t)| {
                                if v.is_null() {
                                    "NULL".to_string()
                                } else {
                                    s.format_text(v, t)
                                }
                            })
                            .collect();
                        out.push('\n');
                        out.push_str(&line.join("|"));
                    }
                }
            }
        }
        Ok(out)
    })();
    let end = s.end_batch();
    match (r, end) {
        (Err(e), _) | (Ok(_), Err(e)) => format!("ERROR: {}", e.message),
        (Ok(o), Ok(())) => o,
    }
}

fn check(s: &mut Session, sql: &str, expected: &str) {
    assert_eq!(run(s, sql), expected, "query: {sql}");
}

#[test]
fn joins() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE t1 (a int, b text); CREATE TABLE t2 (a int, c text); INSERT INTO t1 VALUES (1,'x'),(2,'y'),(NULL,'n'); INSERT INTO t2 VALUES (2,'p'),(3,'q'),(NULL,'m');"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM t1 FULL JOIN t2 ON t1.a = t2.a ORDER BY 1,2,3,4"#,
        r#"a|b|a|c
1|x|NULL|NULL
2|y|2|p
NULL|n|NULL|NULL
NULL|NULL|3|q
NULL|NULL|NULL|m"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM t1 FULL OUTER JOIN t2 USING (a) ORDER BY 1,2,3"#,
        r#"a|b|c
1|x|NULL
2|y|p
3|NULL|q
NULL|n|NULL
NULL|NULL|m"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM t1 RIGHT JOIN t2 USING (a) ORDER BY 1,2,3"#,
        r#"a|b|c
2|y|p
3|NULL|q
NULL|NULL|m"#,
    );
    check(
        &mut s,
        r#"SELECT *, t1.a, t2.a FROM t1 NATURAL LEFT JOIN t2 ORDER BY 1"#,
        r#"a|b|c|a|a
1|x|NULL|1|NULL
2|y|p|2|2
NULL|n|NULL|NULL|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT a FROM t1 JOIN t2 USING (a)"#,
        r#"a
2"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM t1 CROSS JOIN t2 WHERE t1.a = 2 ORDER BY 3"#,
        r#"a|b|a|c
2|y|2|p
2|y|3|q
2|y|NULL|m"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM t1 LEFT JOIN t2 ON t1.a = t2.a AND t2.c <> 'p' ORDER BY 2"#,
        r#"a|b|a|c
NULL|n|NULL|NULL
1|x|NULL|NULL
2|y|NULL|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM t1 FULL JOIN t2 ON t1.a = t2.a WHERE t1.b IS NULL OR t2.c IS NULL ORDER BY 2,4"#,
        r#"a|b|a|c
NULL|n|NULL|NULL
1|x|NULL|NULL
NULL|NULL|NULL|m
NULL|NULL|3|q"#,
    );
    check(
        &mut s,
        r#"SELECT x.a, y.c FROM (SELECT a FROM t1 WHERE a > 1) x FULL JOIN (SELECT a, c FROM t2) y ON x.a = y.a ORDER BY 2"#,
        r#"a|c
NULL|m
2|p
NULL|q"#,
    );
    check(
        &mut s,
        r#"SELECT count(*) FROM t1 FULL JOIN t2 ON true"#,
        r#"count
9"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM t1 JOIN t2 USING (b)"#,
        r#"ERROR: column "b" specified in USING clause does not exist in right table"#,
    );
}
#[test]
fn ctes() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE e (id int, boss int, name text); INSERT INTO e VALUES (1,NULL,'ann'),(2,1,'bob'),(3,1,'cy'),(4,2,'di'),(5,4,'ed');"#,
    );
    check(
        &mut s,
        r#"WITH x AS (SELECT id, name FROM e WHERE id < 3) SELECT a.name, b.name FROM x a JOIN x b ON a.id < b.id"#,
        r#"name|name
ann|bob"#,
    );
    check(
        &mut s,
        r#"WITH x(k) AS (SELECT id FROM e), y AS (SELECT k * 10 AS z FROM x) SELECT sum(z) FROM y"#,
        r#"sum
150"#,
    );
    check(
        &mut s,
        r#"WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT * FROM t"#,
        r#"n
1
2
3
4
5"#,
    );
    check(
        &mut s,
        r#"WITH RECURSIVE sub AS (SELECT id, name, 0 AS depth FROM e WHERE id = 1 UNION ALL SELECT e.id, e.name, sub.depth + 1 FROM e JOIN sub ON e.boss = sub.id) SELECT * FROM sub ORDER BY depth, id"#,
        r#"id|name|depth
1|ann|0
2|bob|1
3|cy|1
4|di|2
5|ed|3"#,
    );
    check(
        &mut s,
        r#"WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT (n + 1) % 3 FROM t) SELECT * FROM t ORDER BY n"#,
        r#"n
0
1
2"#,
    );
    check(
        &mut s,
        r#"WITH RECURSIVE t(n) AS (SELECT 1::int UNION ALL SELECT n + 1::bigint FROM t WHERE n < 3) SELECT * FROM t"#,
        r#"ERROR: recursive query "t" column 1 has type integer in non-recursive term but type bigint overall"#,
    );
    check(
        &mut s,
        r#"WITH RECURSIVE t(n) AS (SELECT n FROM t) SELECT * FROM t"#,
        r#"ERROR: recursive query "t" does not have the form non-recursive-term UNION [ALL] recursive-term"#,
    );
    check(
        &mut s,
        r#"WITH x AS (SELECT 1 AS a), x AS (SELECT 2) SELECT * FROM x"#,
        r#"ERROR: WITH query name "x" specified more than once"#,
    );
    check(
        &mut s,
        r#"WITH x AS (SELECT * FROM x) SELECT * FROM x"#,
        r#"ERROR: relation "x" does not exist"#,
    );
    check(
        &mut s,
        r#"SELECT (WITH q AS (SELECT max(id) AS m FROM e) SELECT m FROM q)"#,
        r#"m
5"#,
    );
    check(
        &mut s,
        r#"WITH RECURSIVE t AS (SELECT 1 AS a) SELECT a FROM t"#,
        r#"a
1"#,
    );
}
