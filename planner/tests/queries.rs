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
    exec(
        &mut s,
        r#"CREATE TABLE ao (g int, s text, n int); INSERT INTO ao VALUES (1,'b',2),(1,'a',3),(1,'c',1),(2,'z',NULL),(2,'y',5);"#,
    );
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
    exec(
        &mut s,
        r#"CREATE TABLE sa (x int); CREATE TABLE sb (y int); INSERT INTO sa VALUES (1),(2),(3),(NULL); INSERT INTO sb VALUES (2),(3),(4);"#,
    );
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
    exec(
        &mut s,
        r#"CREATE TABLE la (id int, n int); CREATE TABLE lb (aid int, v int); INSERT INTO la VALUES (1,2),(2,1),(3,0); INSERT INTO lb VALUES (1,10),(1,20),(1,30),(2,5);"#,
    );
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

#[test]
fn grouping_sets() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE gs (a text, b int, v int); INSERT INTO gs VALUES ('x',1,10),('x',2,20),('y',1,5),('y',NULL,7);"#,
    );
    check(
        &mut s,
        r#"SELECT a, b, sum(v), grouping(a, b) FROM gs GROUP BY ROLLUP (a, b) ORDER BY a, b, 4"#,
        r#"a|b|sum|grouping
x|1|10|0
x|2|20|0
x|NULL|30|1
y|1|5|0
y|NULL|7|0
y|NULL|12|1
NULL|NULL|42|3"#,
    );
    check(
        &mut s,
        r#"SELECT a, b, count(*) FROM gs GROUP BY CUBE (a, b) ORDER BY a NULLS FIRST, b NULLS FIRST, 3"#,
        r#"a|b|count
NULL|NULL|1
NULL|NULL|4
NULL|1|2
NULL|2|1
x|NULL|2
x|1|1
x|2|1
y|NULL|1
y|NULL|2
y|1|1"#,
    );
    check(
        &mut s,
        r#"SELECT a, b, sum(v) FROM gs GROUP BY GROUPING SETS ((a), (b), ()) ORDER BY 1, 2, 3"#,
        r#"a|b|sum
x|NULL|30
y|NULL|12
NULL|1|15
NULL|2|20
NULL|NULL|7
NULL|NULL|42"#,
    );
    check(
        &mut s,
        r#"SELECT a, grouping(a), sum(v) FROM gs GROUP BY a ORDER BY a"#,
        r#"a|grouping|sum
x|0|30
y|0|12"#,
    );
    check(
        &mut s,
        r#"SELECT a, b, sum(v) FROM gs GROUP BY a, ROLLUP (b) ORDER BY 1, 2"#,
        r#"a|b|sum
x|1|10
x|2|20
x|NULL|30
y|1|5
y|NULL|7
y|NULL|12"#,
    );
    check(
        &mut s,
        r#"SELECT a, sum(v) FROM gs GROUP BY ROLLUP (a) HAVING sum(v) > 20 ORDER BY 1"#,
        r#"a|sum
x|30
NULL|42"#,
    );
    check(
        &mut s,
        r#"SELECT grouping(v) FROM gs GROUP BY a"#,
        r#"ERROR: arguments to GROUPING must be grouping expressions of the associated query level"#,
    );
}

#[test]
fn views() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE vt (a int, b text); INSERT INTO vt VALUES (1,'x'),(2,'y'),(3,'z');"#,
    );
    check(
        &mut s,
        r#"CREATE VIEW v1 AS SELECT a, b FROM vt WHERE a > 1"#,
        r#""#,
    );
    check(
        &mut s,
        r#"SELECT * FROM v1 ORDER BY a"#,
        r#"a|b
2|y
3|z"#,
    );
    check(
        &mut s,
        r#"CREATE VIEW v2 (k, label) AS SELECT a * 10, upper(b) FROM vt"#,
        r#""#,
    );
    check(
        &mut s,
        r#"SELECT v2.label, v1.b FROM v2 JOIN v1 ON v2.k = v1.a * 10 ORDER BY 1"#,
        r#"label|b
Y|y
Z|z"#,
    );
    check(
        &mut s,
        r#"SELECT x.k FROM v2 AS x WHERE x.k > 15 ORDER BY 1"#,
        r#"k
20
30"#,
    );
    check(
        &mut s,
        r#"SELECT count(*) FROM v1, v2"#,
        r#"count
6"#,
    );
    check(
        &mut s,
        r#"CREATE VIEW v1 AS SELECT 1"#,
        r#"ERROR: relation "v1" already exists"#,
    );
    check(&mut s, r#"DROP TABLE v1"#, r#"ERROR: "v1" is not a table"#);
    check(&mut s, r#"DROP VIEW vt"#, r#"ERROR: "vt" is not a view"#);
    check(&mut s, r#"INSERT INTO vt VALUES (4, 'w')"#, r#""#);
    check(
        &mut s,
        r#"SELECT * FROM v1 ORDER BY a"#,
        r#"a|b
2|y
3|z
4|w"#,
    );
    check(&mut s, r#"DROP VIEW v1"#, r#""#);
    check(
        &mut s,
        r#"SELECT * FROM v1"#,
        r#"ERROR: relation "v1" does not exist"#,
    );
    check(&mut s, r#"DROP VIEW IF EXISTS v1"#, r#""#);
}
#[test]
fn range_frames() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE rg (a int, f float8); INSERT INTO rg VALUES (1, 0.5),(2, 1.0),(2, 1.5),(4, 3.0),(NULL, NULL),(7, 7.25);"#,
    );
    check(
        &mut s,
        r#"SELECT a, sum(a) OVER (ORDER BY a RANGE BETWEEN 1 PRECEDING AND 2 FOLLOWING), count(*) OVER (ORDER BY a DESC RANGE 1 PRECEDING) FROM rg ORDER BY a"#,
        r#"a|sum|count
1|5|3
2|9|2
2|9|2
4|4|1
7|7|1
NULL|NULL|1"#,
    );
    check(
        &mut s,
        r#"SELECT f, count(*) OVER (ORDER BY f RANGE BETWEEN 0.5 PRECEDING AND 0.5 FOLLOWING), first_value(f) OVER (ORDER BY f RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM rg ORDER BY f"#,
        r#"f|count|first_value
0.5|2|0.5
1|3|0.5
1.5|2|0.5
3|1|3
7.25|1|7.25
NULL|1|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT sum(a) OVER (ORDER BY a, f RANGE 1 PRECEDING) FROM rg"#,
        r#"ERROR: RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column"#,
    );
}

#[test]
fn window_errors() {
    let mut s = session();
    exec(&mut s, "CREATE TABLE we (a int)");
    check(
        &mut s,
        "SELECT sum(row_number() OVER ()) OVER () FROM we",
        "ERROR: window function calls cannot be nested",
    );
    check(
        &mut s,
        "SELECT sum(row_number() OVER ()) FROM we",
        "ERROR: aggregate function calls cannot contain window function calls",
    );
}
#[test]
fn more_joins() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE m1 (a int, x int); CREATE TABLE m2 (a int, y int); CREATE TABLE m3 (a int, z int); INSERT INTO m1 VALUES (1,10),(2,20); INSERT INTO m2 VALUES (1,100),(3,300); INSERT INTO m3 VALUES (1,7),(3,9),(4,1);"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM m1 FULL JOIN m2 USING (a) FULL JOIN m3 USING (a) ORDER BY a"#,
        r#"a|x|y|z
1|10|100|7
2|20|NULL|NULL
3|NULL|300|9
4|NULL|NULL|1"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM m1 NATURAL JOIN m2 NATURAL JOIN m3"#,
        r#"a|x|y|z
1|10|100|7"#,
    );
    check(
        &mut s,
        r#"WITH c AS (SELECT a FROM m3 WHERE z > 5) SELECT x FROM m1 WHERE a IN (SELECT a FROM c) ORDER BY x"#,
        r#"x
10"#,
    );
    check(
        &mut s,
        r#"WITH c AS (SELECT a, y FROM m2) SELECT m1.a, (SELECT max(y) FROM c WHERE c.a >= m1.a) FROM m1 ORDER BY 1"#,
        r#"a|max
1|300
2|300"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM (m1 LEFT JOIN m2 ON m1.a = m2.a) RIGHT JOIN m3 ON m3.a = m2.a ORDER BY m3.a"#,
        r#"a|x|a|y|a|z
1|10|1|100|1|7
NULL|NULL|NULL|NULL|3|9
NULL|NULL|NULL|NULL|4|1"#,
    );
    check(
        &mut s,
        r#"SELECT m1.a, m2.a FROM m1 FULL JOIN m2 ON m1.a = m2.a AND m1.x > 10 ORDER BY 1, 2"#,
        r#"a|a
1|NULL
2|NULL
NULL|1
NULL|3"#,
    );
}
#[test]
fn cte_is_materialised_once() {
    let mut s = session();
    // PostgreSQL: t (both references read the same materialised row).
    check(
        &mut s,
        "WITH r AS (SELECT random() AS x) SELECT a.x = b.x AS same FROM r a, r b",
        "same\nt",
    );
    check(
        &mut s,
        "WITH a AS (SELECT 1 AS v), b AS (SELECT v + 1 AS w FROM a) SELECT * FROM a, b, (WITH c AS (SELECT w * 2 AS z FROM b) SELECT z FROM c) q",
        "v|w|z\n1|2|4",
    );
}
#[test]
fn correlated_ctes() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE cc (x int); INSERT INTO cc VALUES (1),(2),(3);"#,
    );
    check(
        &mut s,
        r#"SELECT x, (WITH c AS (SELECT cc.x * 10 AS y) SELECT y FROM c) FROM cc ORDER BY x"#,
        r#"x|y
1|10
2|20
3|30"#,
    );
    check(
        &mut s,
        r#"SELECT x FROM cc WHERE EXISTS (WITH c AS (SELECT x FROM cc i WHERE i.x > cc.x) SELECT 1 FROM c, c c2) ORDER BY x"#,
        r#"x
1
2"#,
    );
    check(
        &mut s,
        r#"WITH t AS (SELECT x FROM cc) SELECT (SELECT count(*) FROM t WHERE t.x <= o.x) FROM t o ORDER BY 1"#,
        r#"count
1
2
3"#,
    );
}
#[test]
fn aliased_joins() {
    let mut s = session();
    exec(
        &mut s,
        r#"CREATE TABLE n1 (a int, b int); CREATE TABLE n2 (a int, c int); INSERT INTO n1 VALUES (1,2),(3,4); INSERT INTO n2 VALUES (1,5),(6,7);"#,
    );
    check(
        &mut s,
        r#"SELECT * FROM (n1 JOIN n2 USING (a)) AS j"#,
        r#"a|b|c
1|2|5"#,
    );
    check(
        &mut s,
        r#"SELECT j.a, j.c FROM (n1 LEFT JOIN n2 USING (a)) AS j ORDER BY 1"#,
        r#"a|c
1|5
3|NULL"#,
    );
    check(
        &mut s,
        r#"SELECT j.q FROM (n1 CROSS JOIN n2) AS j (p, q) ORDER BY 1"#,
        r#"q
2
2
4
4"#,
    );
}
