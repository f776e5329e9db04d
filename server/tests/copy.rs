//! COPY FROM STDIN / TO STDOUT over the wire: tokio-postgres drives the extended protocol
//! (Parse/Bind/Execute, then CopyData…), psql's `\copy` the simple one. Expected bytes,
//! tags, SQLSTATEs, messages and CONTEXT lines are PostgreSQL 15's (checked with `pgref`).

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::pin::pin;
use std::process::Command;
use tokio_postgres::Client;

mod common;
use common::{connect, rows, s, server};

async fn copy_in(
    client: &Client,
    sql: &str,
    chunks: &[&str],
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    let mut sink = pin!(sink);
    for c in chunks {
        sink.send(Bytes::from(c.to_string())).await?;
    }
    sink.as_mut().finish().await
}

async fn copy_out(client: &Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.expect("copy out");
    let mut stream = pin!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("copy data"));
    }
    String::from_utf8(out).expect("utf8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_from_stdin_text_and_csv_through_the_insert_path() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (a int PRIMARY KEY, b text, c text DEFAULT 'dflt')")
        .await
        .unwrap();
    // Records split across CopyData messages; escapes; \N; a \r\n line end.
    let n = copy_in(
        &client,
        "COPY t (a, b) FROM STDIN",
        &[
            "1\thello\\tworld\n2\t\\N\n3\tback",
            "\\\\slash\r\n4\t\\x41\\102\n",
        ],
    )
    .await
    .unwrap();
    assert_eq!(n, 4);
    let n = copy_in(
        &client,
        "COPY t FROM STDIN WITH (FORMAT csv, HEADER, NULL 'NULL')",
        &["a,b,c\n5,\"multi\nline, \"\"quoted\"\"\",NULL\n6,,\"\"\n"],
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        rows(&client, "SELECT a, b, c FROM t ORDER BY a").await,
        vec![
            vec![s("1"), s("hello\tworld"), s("dflt")],
            vec![s("2"), None, s("dflt")],
            vec![s("3"), s("back\\slash"), s("dflt")],
            vec![s("4"), s("AB"), s("dflt")],
            vec![s("5"), s("multi\nline, \"quoted\""), None],
            vec![s("6"), s(""), s("")],
        ]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_fails_the_whole_copy_with_postgres_context() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (a int PRIMARY KEY, b int NOT NULL, c text)")
        .await
        .unwrap();
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "1\t2\tx\n2\tzz\ty\n",
            "22P02",
            "invalid input syntax for type integer: \"zz\"",
            "COPY t, line 2, column b: \"zz\"",
        ),
        (
            "1\t2\n",
            "22P04",
            "missing data for column \"c\"",
            "COPY t, line 1: \"1\t2\"",
        ),
        (
            "1\t2\tx\t4\n",
            "22P04",
            "extra data after last expected column",
            "COPY t, line 1: \"1\t2\tx\t4\"",
        ),
        (
            "1\t\\N\tx\n",
            "23502",
            "null value in column \"b\" of relation \"t\" violates not-null constraint",
            "COPY t, line 1: \"1\t\\N\tx\"",
        ),
        (
            "1\t2\tx\n1\t3\tx\n",
            "23505",
            "duplicate key value violates unique constraint \"t_pkey\"",
            "COPY t, line 2",
        ),
    ];
    for (data, code, message, context) in cases {
        let e = copy_in(&client, "COPY t FROM STDIN", &[data])
            .await
            .expect_err(data);
        let db = e.as_db_error().expect("db error");
        assert_eq!(db.code().code(), *code, "{data}");
        assert_eq!(db.message(), *message, "{data}");
        assert_eq!(db.where_(), Some(*context), "{data}");
    }
    // Nothing of the failed COPYs was loaded, and the connection still works.
    assert_eq!(
        rows(&client, "SELECT count(*) FROM t").await,
        vec![vec![s("0")]]
    );

    // Inside a block the failure aborts the block; ROLLBACK TO SAVEPOINT recovers it.
    client
        .batch_execute("BEGIN; INSERT INTO t VALUES (9, 9, 'kept'); SAVEPOINT s")
        .await
        .unwrap();
    let e = copy_in(&client, "COPY t FROM STDIN", &["10\t10\tz\n11\tx\tz\n"])
        .await
        .unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "22P02");
    let e = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "25P02");
    client
        .batch_execute("ROLLBACK TO SAVEPOINT s; COMMIT")
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "SELECT a, c FROM t").await,
        vec![vec![s("9"), s("kept")]]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_fail_from_the_client_rolls_back() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (a int)")
        .await
        .unwrap();
    {
        let sink = client
            .copy_in::<_, Bytes>("COPY t FROM STDIN")
            .await
            .unwrap();
        let mut sink = pin!(sink);
        sink.send(Bytes::from_static(b"1\n2\n")).await.unwrap();
        // Dropped without finish(): tokio-postgres sends CopyFail.
    }
    assert_eq!(
        rows(&client, "SELECT count(*) FROM t").await,
        vec![vec![s("0")]]
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_to_stdout_formats_match_postgres() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute(
            "CREATE TABLE t (a int, b text, c float8);
             INSERT INTO t VALUES (1, 'x,y', 1.5), (2, NULL, NULL), (3, 'tab\there', 0.1),
                                  (4, 'say \"hi\"', -2), (5, '', 1e100)",
        )
        .await
        .unwrap();
    // Expected output from PostgreSQL 15.
    assert_eq!(
        copy_out(&client, "COPY t TO STDOUT").await,
        "1\tx,y\t1.5\n2\t\\N\t\\N\n3\ttab\\there\t0.1\n4\tsay \"hi\"\t-2\n5\t\t1e+100\n"
    );
    assert_eq!(
        copy_out(&client, "COPY t (b, a) TO STDOUT WITH (FORMAT csv, HEADER)").await,
        "b,a\n\"x,y\",1\n,2\ntab\there,3\n\"say \"\"hi\"\"\",4\n\"\",5\n"
    );
    assert_eq!(
        copy_out(
            &client,
            "COPY (SELECT a, a * 10 AS ten FROM t WHERE a < 3 ORDER BY a DESC) TO STDOUT \
             WITH (FORMAT csv, FORCE_QUOTE (ten), DELIMITER ';')"
        )
        .await,
        "2;\"20\"\n1;\"10\"\n"
    );
    assert_eq!(
        copy_out(
            &client,
            "COPY t TO STDOUT WITH (FORMAT text, HEADER, NULL 'nil', DELIMITER '|')"
        )
        .await
        .lines()
        .take(3)
        .collect::<Vec<_>>(),
        vec!["a|b|c", "1|x,y|1.5", "2|nil|nil"]
    );
    // Errors PostgreSQL gives for bad options.
    for (sql, code, message) in [
        (
            "COPY t TO STDOUT (QUOTE '\"')",
            "0A000",
            "COPY quote available only in CSV mode",
        ),
        (
            "COPY t TO STDOUT (FORMAT csv, DELIMITER ',', QUOTE ',')",
            "22023",
            "COPY delimiter and quote must be different",
        ),
        (
            "COPY nope TO STDOUT",
            "42P01",
            "relation \"nope\" does not exist",
        ),
        (
            "COPY t (zz) FROM STDIN",
            "42703",
            "column \"zz\" of relation \"t\" does not exist",
        ),
    ] {
        let e = client.simple_query(sql).await.expect_err(sql);
        let db = e.as_db_error().expect("db error");
        assert_eq!((db.code().code(), db.message()), (code, message), "{sql}");
    }
    server.shutdown().await;
}

/// psql's `\copy` (simple query protocol) both ways, and its rendering of a failed COPY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_backslash_copy_both_ways() {
    if Command::new("psql").arg("--version").output().is_err() {
        eprintln!("psql not installed; skipping");
        return;
    }
    let server = server().await;
    let port = server.addr.port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.csv");
    let data: String = (1..=2500).map(|i| format!("{i}\tname {i}\n")).collect();
    std::fs::write(&input, &data).unwrap();
    let psql = |script: String| {
        let port = port.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let out = Command::new("psql")
                    .args(["-X", "-q", "-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
                    .args(["-v", "ON_ERROR_STOP=0", "-c", &script])
                    .env("PGCONNECT_TIMEOUT", "10")
                    .output()
                    .expect("psql runs");
                (
                    String::from_utf8_lossy(&out.stdout).to_string(),
                    String::from_utf8_lossy(&out.stderr).to_string(),
                )
            })
            .await
            .unwrap()
        }
    };
    psql("CREATE TABLE p (id int PRIMARY KEY, name text)".into()).await;
    let (_, err) = psql(format!("\\copy p from '{}'", input.display())).await;
    assert_eq!(err, "");
    let (out, _) = psql("SELECT count(*), max(name) FROM p".into()).await;
    assert!(out.contains("  2500 | name 999"), "{out}");
    let (_, err) = psql(format!(
        "\\copy (SELECT * FROM p WHERE id <= 3 ORDER BY id) to '{}' with (format csv, header)",
        output.display()
    ))
    .await;
    assert_eq!(err, "");
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "id,name\n1,name 1\n2,name 2\n3,name 3\n"
    );
    // A failing \copy: psql prints PostgreSQL's error and CONTEXT.
    std::fs::write(&input, "3000\tok\n3001\tok\nbad\tno\n").unwrap();
    let (_, err) = psql(format!("\\copy p from '{}'", input.display())).await;
    assert_eq!(
        err,
        "ERROR:  invalid input syntax for type integer: \"bad\"\n\
         CONTEXT:  COPY p, line 3, column id: \"bad\"\n"
    );
    let (out, _) = psql("SELECT count(*) FROM p".into()).await;
    assert!(out.contains("  2500"), "{out}");
    server.shutdown().await;
}
