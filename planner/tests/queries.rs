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
#[test]
fn windows() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE w (dept text, name text, sal int); INSERT INTO w VALUES ('a','x',10),('a','y',20),('a','z',20),('b','p',5),('b','q',NULL),('c','r',7);"#,
    );
    check(
        &mut s,
        r#"SELECT name, row_number() OVER (ORDER BY name), rank() OVER (PARTITION BY dept ORDER BY sal), dense_rank() OVER (PARTITION BY dept ORDER BY sal) FROM w ORDER BY name"#,
        r#"name|row_number|rank|dense_rank
p|1|1|1
q|2|2|2
r|3|1|1
x|4|1|1
y|5|2|2
z|6|2|2"#,
    );
    check(
        &mut s,
        r#"SELECT name, sum(sal) OVER (PARTITION BY dept ORDER BY sal), count(*) OVER (PARTITION BY dept), avg(sal) OVER () FROM w ORDER BY name"#,
        r#"name|sum|count|avg
p|5|2|12.4000000000000000
q|5|2|12.4000000000000000
r|7|1|12.4000000000000000
x|10|3|12.4000000000000000
y|50|3|12.4000000000000000
z|50|3|12.4000000000000000"#,
    );
    check(
        &mut s,
        r#"SELECT name, percent_rank() OVER (ORDER BY sal), cume_dist() OVER (ORDER BY sal), ntile(4) OVER (ORDER BY name) FROM w ORDER BY name"#,
        r#"name|percent_rank|cume_dist|ntile
p|0|0.16666666666666666|1
q|1|1|1
r|0.2|0.3333333333333333|2
x|0.4|0.5|2
y|0.6|0.8333333333333334|3
z|0.6|0.8333333333333334|4"#,
    );
    check(
        &mut s,
        r#"SELECT name, lag(sal) OVER (ORDER BY name), lead(sal, 2, -1) OVER (ORDER BY name), lag(name, 1, 'none') OVER (PARTITION BY dept ORDER BY name) FROM w ORDER BY name"#,
        r#"name|lag|lead|lag
p|NULL|7|none
q|5|10|p
r|NULL|20|none
x|7|20|none
y|10|-1|x
z|20|-1|y"#,
    );
    check(
        &mut s,
        r#"SELECT name, first_value(name) OVER w, last_value(name) OVER w, nth_value(name, 2) OVER w FROM w WINDOW w AS (PARTITION BY dept ORDER BY sal) ORDER BY name"#,
        r#"name|first_value|last_value|nth_value
p|p|p|NULL
q|p|q|q
r|r|r|NULL
x|x|x|NULL
y|x|z|y
z|x|z|y"#,
    );
    check(
        &mut s,
        r#"SELECT name, sum(sal) OVER (ORDER BY name ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), last_value(name) OVER (ORDER BY name ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM w ORDER BY name"#,
        r#"name|sum|last_value
p|5|z
q|12|z
r|17|z
x|37|z
y|50|z
z|40|z"#,
    );
    check(
        &mut s,
        r#"SELECT name, sal, sum(sal) OVER (ORDER BY sal GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW), count(*) OVER (ORDER BY sal RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM w ORDER BY name"#,
        r#"name|sal|sum|count
p|5|5|6
q|NULL|40|1
r|7|12|5
x|10|17|4
y|20|50|3
z|20|50|3"#,
    );
    check(
        &mut s,
        r#"SELECT dept, sum(sal), rank() OVER (ORDER BY sum(sal) DESC), sum(sum(sal)) OVER () FROM w GROUP BY dept ORDER BY dept"#,
        r#"dept|sum|rank|sum
a|50|1|62
b|5|3|62
c|7|2|62"#,
    );
    check(
        &mut s,
        r#"SELECT name, sum(sal) FILTER (WHERE sal > 10) OVER (PARTITION BY dept) FROM w ORDER BY name"#,
        r#"name|sum
p|NULL
q|NULL
r|NULL
x|40
y|40
z|40"#,
    );
    check(
        &mut s,
        r#"SELECT name FROM w WHERE row_number() OVER () > 1"#,
        r#"ERROR: window functions are not allowed in WHERE"#,
    );
    check(
        &mut s,
        r#"SELECT count(DISTINCT sal) OVER () FROM w"#,
        r#"ERROR: DISTINCT is not implemented for window functions"#,
    );
    check(
        &mut s,
        r#"SELECT name, min(sal) OVER (w ORDER BY name) FROM w WINDOW w AS (PARTITION BY dept) ORDER BY name"#,
        r#"name|min
p|5
q|5
r|7
x|10
y|10
z|10"#,
    );
    check(
        &mut s,
        r#"SELECT name, row_number() OVER (ORDER BY sal DESC, name) AS rn FROM w ORDER BY rn"#,
        r#"name|rn
q|1
y|2
z|3
x|4
r|5
p|6"#,
    );
}
#[test]
fn distinct_on() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE d (g int, v int, s text); INSERT INTO d VALUES (1,5,'a'),(1,3,'b'),(2,9,'c'),(2,9,'d'),(3,NULL,'e'),(1,7,'f');"#,
    );
    check(
        &mut s,
        r#"SELECT DISTINCT ON (g) g, v, s FROM d ORDER BY g, v DESC"#,
        r#"g|v|s
1|7|f
2|9|c
3|NULL|e"#,
    );
    check(
        &mut s,
        r#"SELECT DISTINCT ON (g) s FROM d ORDER BY g, s"#,
        r#"s
a
c
e"#,
    );
    check(
        &mut s,
        r#"SELECT DISTINCT ON (g % 2) g, v FROM d ORDER BY g % 2, v NULLS FIRST"#,
        r#"g|v
2|9
3|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT DISTINCT ON (g) g, v FROM d ORDER BY v"#,
        r#"ERROR: SELECT DISTINCT ON expressions must match initial ORDER BY expressions"#,
    );
    check(
        &mut s,
        r#"SELECT count(DISTINCT g), count(DISTINCT v), count(*) FROM d"#,
        r#"count|count|count
3|4|6"#,
    );
    check(
        &mut s,
        r#"SELECT g, count(DISTINCT v) FROM d GROUP BY g ORDER BY g"#,
        r#"g|count
1|3
2|1
3|0"#,
    );
}
#[test]
fn aggregate_order_by() {
    let mut s = session();
    exec(&mut s, r#"CREATE TABLE ao (g int, s text, n int); INSERT INTO ao VALUES (1,'b',2),(1,'a',3),(1,'c',1),(2,'z',NULL),(2,'y',5);"#);
    check(
        &mut s,
        r#"SELECT g, string_agg(s, ',' ORDER BY s), string_agg(s, ',' ORDER BY n DESC) FROM ao GROUP BY g ORDER BY g"#,
        r#"g|string_agg|string_agg
1|a,b,c|a,b,c
2|y,z|z,y"#,
    );
    check(
        &mut s,
        r#"SELECT string_agg(DISTINCT s, '-' ORDER BY s DESC) FROM ao"#,
        r#"string_agg
z-y-c-b-a"#,
    );
    check(
        &mut s,
        r#"SELECT string_agg(DISTINCT s, '-' ORDER BY n) FROM ao"#,
        r#"ERROR: in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list"#,
    );
    check(
        &mut s,
        r#"SELECT lower('A' ORDER BY 1)"#,
        r#"ERROR: ORDER BY specified, but lower is not an aggregate function"#,
    );
}

#[test]
fn subqueries() {
    let mut s = session();
    exec(&mut s, r#"CREATE TABLE sa (x int); CREATE TABLE sb (y int); INSERT INTO sa VALUES (1),(2),(3),(NULL); INSERT INTO sb VALUES (2),(3),(4);"#);
    check(
        &mut s,
        r#"SELECT (SELECT y FROM sb)"#,
        r#"ERROR: more than one row returned by a subquery used as an expression"#,
    );
    check(
        &mut s,
        r#"SELECT x, x = ANY (SELECT y FROM sb), x > ALL (SELECT y FROM sb), x < SOME (SELECT y FROM sb) FROM sa ORDER BY x"#,
        r#"x|?column?|?column?|?column?
1|f|f|t
2|t|f|t
3|t|f|t
NULL|NULL|NULL|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT x FROM sa WHERE x <> ALL (SELECT y FROM sb WHERE y > 10) ORDER BY x"#,
        r#"x
1
2
3
NULL"#,
    );
    check(
        &mut s,
        r#"(SELECT x FROM sa UNION SELECT y FROM sb ORDER BY 1 DESC LIMIT 3) EXCEPT SELECT 3 ORDER BY 1"#,
        r#"x
4
NULL"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM (SELECT x FROM sa INTERSECT ALL (SELECT y FROM sb ORDER BY y LIMIT 1)) t"#,
        r#"x
2"#,
    );
    check(
        &mut s,
        r#"SELECT x FROM sa UNION ALL SELECT y FROM sb ORDER BY x LIMIT 2 OFFSET 1"#,
        r#"x
2
2"#,
    );
}

#[test]
fn lateral() {
    let mut s = session();
    exec(&mut s, r#"CREATE TABLE la (id int, n int); CREATE TABLE lb (aid int, v int); INSERT INTO la VALUES (1,2),(2,1),(3,0); INSERT INTO lb VALUES (1,10),(1,20),(1,30),(2,5);"#);
    check(
        &mut s,
        r#"SELECT la.id, x.v FROM la, LATERAL (SELECT v FROM lb WHERE lb.aid = la.id ORDER BY v DESC LIMIT la.n) x ORDER BY 1, 2"#,
        r#"id|v
1|20
1|30
2|5"#,
    );
    check(
        &mut s,
        r#"SELECT la.id, x.s FROM la LEFT JOIN LATERAL (SELECT sum(v) AS s FROM lb WHERE aid = la.id) x ON true ORDER BY 1"#,
        r#"id|s
1|60
2|5
3|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT la.id, x.v FROM la LEFT JOIN LATERAL (SELECT v FROM lb WHERE aid = la.id AND v > 15) x ON true ORDER BY 1, 2"#,
        r#"id|v
1|20
1|30
2|NULL
3|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM la JOIN LATERAL (SELECT la.n * 10 AS t) y ON y.t > 5 ORDER BY id"#,
        r#"id|n|t
1|2|20
2|1|10"#,
    );
}

