//! The wire protocol as a real driver sees it: a sledgres server started in-process on an
//! ephemeral port, driven by tokio-postgres (simple queries, and prepared statements with
//! binary parameters and results) and, for the negotiation details drivers hide, raw bytes.
//! Expected values, tags and SQLSTATEs are PostgreSQL 15's. Most tests use a multi-threaded
//! runtime like the binary (session calls run via `block_in_place`); one uses the
//! current-thread runtime, where they go to the blocking pool instead.

use std::error::Error as _;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::{NoTls, SimpleQueryMessage};

mod common;
use common::{connect, rows, s, server};

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.code().code().to_string())
        .unwrap_or_else(|| format!("not a db error: {e} {:?}", e.source()))
}

/// A numeric column read in binary format and decoded by the server's own decoder, so the
/// test checks what actually crossed the wire.
struct RawNumeric(String);

impl<'a> FromSql<'a> for RawNumeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        match sledgres::types::decode_numeric(raw) {
            Some(sledgres_planner::Numeric::Finite(d)) => Ok(RawNumeric(d.to_string())),
            Some(other) => Ok(RawNumeric(format!("{other:?}"))),
            None => Err("bad numeric".into()),
        }
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_query_create_insert_select() {
    let server = server().await;
    let client = connect(&server).await;
    let msgs = client
        .simple_query(
            "CREATE TABLE t (id int PRIMARY KEY, v varchar(10), n numeric(10,2)); \
             INSERT INTO t VALUES (1, 'a', 1.5), (2, NULL, -2.25), (3, 'c', 3.1)",
        )
        .await
        .unwrap();
    let counts: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(counts, vec![0, 3]);
    assert_eq!(
        rows(&client, "SELECT id, v, n FROM t ORDER BY id").await,
        vec![
            vec![s("1"), s("a"), s("1.50")],
            vec![s("2"), None, s("-2.25")],
            vec![s("3"), s("c"), s("3.10")],
        ]
    );
    // An empty query string answers EmptyQueryResponse, not an error.
    assert!(client.simple_query("").await.is_ok());
    assert!(client.batch_execute(" ; ").await.is_ok());
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_use_binary_formats() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY, b bigint, s smallint, f real, d double precision, \
             ok boolean, v varchar(5), c char(3), x text, n numeric(12,3)); \
             INSERT INTO t VALUES (1, 9000000000, -7, 1.5, 0.1, true, 'héllo', 'ab', 'text', -12345.678)",
        )
        .await
        .unwrap();
    let stmt = client
        .prepare("SELECT id, b, s, f, d, ok, v, c, x, n FROM t WHERE id = $1")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT4]);
    let types: Vec<Type> = stmt.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(
        types,
        vec![
            Type::INT4,
            Type::INT8,
            Type::INT2,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::BOOL,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::TEXT,
            Type::NUMERIC
        ]
    );
    let row = client.query_one(&stmt, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, i64>(1), 9_000_000_000);
    assert_eq!(row.get::<_, i16>(2), -7);
    assert_eq!(row.get::<_, f32>(3), 1.5);
    assert_eq!(row.get::<_, f64>(4), 0.1);
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, String>(6), "héllo");
    assert_eq!(row.get::<_, String>(7), "ab ");
    assert_eq!(row.get::<_, String>(8), "text");
    assert_eq!(row.get::<_, RawNumeric>(9).0, "-12345.678");
    assert!(client.query(&stmt, &[&2i32]).await.unwrap().is_empty());

    // Parameters of every type, sent in binary.
    let n = client
        .execute(
            "INSERT INTO t (id, b, s, f, d, ok, v, x) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &2i32, &-1i64, &3i16, &2.5f32, &-0.5f64, &false, &"hi", &"t2",
            ],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        rows(
            &client,
            "SELECT b, s, f, d, ok, v, x, n FROM t WHERE id = 2"
        )
        .await,
        vec![vec![
            s("-1"),
            s("3"),
            s("2.5"),
            s("-0.5"),
            s("f"),
            s("hi"),
            s("t2"),
            None
        ]]
    );
    // A statement without result columns describes as NoData (tokio-postgres: no columns).
    let insert = client
        .prepare("INSERT INTO t (id) VALUES ($1)")
        .await
        .unwrap();
    assert!(insert.columns().is_empty());
    assert_eq!(insert.params(), &[Type::INT4]);
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_parameter_types_are_honoured() {
    let server = server().await;
    let client = connect(&server).await;
    let stmt = client
        .prepare_typed("SELECT $1 + 1", &[Type::INT8])
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT8]);
    let row = client.query_one(&stmt, &[&41i64]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 42);
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_sqlstate_and_position() {
    let server = server().await;
    let client = connect(&server).await;
    let e = client.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
    let db = e.as_db_error().unwrap();
    assert_eq!(db.message(), "syntax error at or near \"SELEC\"");
    assert_eq!(db.severity(), "ERROR");
    assert!(matches!(
        db.position(),
        Some(tokio_postgres::error::ErrorPosition::Original(1))
    ));
    let e = client
        .simple_query("SELECT * FROM nosuch")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    let e = client.prepare("SELECT * FROM nosuch").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    let e = client.simple_query("SELECT 1/0").await.unwrap_err();
    assert_eq!(sqlstate(&e), "22012");
    client
        .batch_execute("CREATE TABLE u (id int PRIMARY KEY)")
        .await
        .unwrap();
    client
        .batch_execute("INSERT INTO u VALUES (1)")
        .await
        .unwrap();
    let e = client
        .execute("INSERT INTO u VALUES ($1)", &[&1i32])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
    // The connection is still usable after every error.
    assert_eq!(rows(&client, "SELECT 1").await, vec![vec![s("1")]]);
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_transaction_block_until_rollback() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    client.batch_execute("BEGIN").await.unwrap();
    client
        .batch_execute("INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    assert_eq!(
        sqlstate(&client.batch_execute("SELECT 1/0").await.unwrap_err()),
        "22012"
    );
    assert_eq!(
        sqlstate(&client.batch_execute("SELECT 1").await.unwrap_err()),
        "25P02"
    );
    assert_eq!(
        sqlstate(&client.query("SELECT $1::int", &[&1i32]).await.unwrap_err()),
        "25P02"
    );
    // COMMIT of a failed block rolls back.
    client.batch_execute("COMMIT").await.unwrap();
    assert_eq!(
        rows(&client, "SELECT count(*) FROM t").await,
        vec![vec![s("0")]]
    );

    // Statements of one simple-query message share one implicit transaction.
    assert!(client
        .batch_execute("INSERT INTO t VALUES (5); SELECT 1/0; INSERT INTO t VALUES (6)")
        .await
        .is_err());
    assert_eq!(
        rows(&client, "SELECT count(*) FROM t").await,
        vec![vec![s("0")]]
    );
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_suspend_and_resume() {
    let server = server().await;
    let mut client = connect(&server).await;
    client
        .batch_execute(
            "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1),(2),(3),(4),(5)",
        )
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let stmt = tx.prepare("SELECT id FROM t ORDER BY id").await.unwrap();
    let portal = tx.bind(&stmt, &[]).await.unwrap();
    let mut seen = Vec::new();
    for expected in [2usize, 2, 1, 0] {
        let chunk = tx.query_portal(&portal, 2).await.unwrap();
        assert_eq!(chunk.len(), expected);
        seen.extend(chunk.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    tx.commit().await.unwrap();
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_results_stream() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        .await
        .unwrap();
    let values: Vec<String> = (0..3000).map(|i| format!("({i}, 'row {i}')")).collect();
    client
        .batch_execute(&format!("INSERT INTO t VALUES {}", values.join(",")))
        .await
        .unwrap();
    assert_eq!(rows(&client, "SELECT * FROM t").await.len(), 3000);
    let typed = client
        .query("SELECT id, v FROM t ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(typed.len(), 3000);
    assert_eq!(typed[2999].get::<_, String>(1), "row 2999");
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_transaction_rolls_back() {
    let server = server().await;
    let setup = connect(&server).await;
    setup
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    {
        let client = connect(&server).await;
        client
            .batch_execute("BEGIN; INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        // Dropped without COMMIT: the socket closes.
    }
    // The row lock is released and the insert is gone: the same key inserts at once.
    let insert = tokio::time::timeout(
        Duration::from_secs(10),
        setup.batch_execute("INSERT INTO t VALUES (1)"),
    )
    .await
    .expect("no wait on a rolled-back writer");
    insert.unwrap();
    assert_eq!(
        rows(&setup, "SELECT count(*) FROM t").await,
        vec![vec![s("1")]]
    );
    drop(setup);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_reports_parameters() {
    let server = server().await;
    let client = connect(&server).await;
    // server_version is parsed by drivers; it must start with a PostgreSQL 15 number.
    let version = rows(&client, "SHOW server_version").await;
    assert!(
        version[0][0].as_deref().unwrap_or("").starts_with("15"),
        "{version:?}"
    );
    drop(client);
    server.shutdown().await;
}

/// Reads one backend message: (type byte, body).
async fn read_message(sock: &mut TcpStream) -> (u8, Vec<u8>) {
    let tag = sock.read_u8().await.unwrap();
    let len = sock.read_i32().await.unwrap() as usize;
    let mut body = vec![0; len - 4];
    sock.read_exact(&mut body).await.unwrap();
    (tag, body)
}

fn startup_packet() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196608i32.to_be_bytes());
    for (k, v) in [("user", "postgres"), ("database", "postgres")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_and_gss_requests_are_refused_then_startup_proceeds() {
    let server = server().await;
    let mut sock = TcpStream::connect(server.addr).await.unwrap();
    // SSLRequest: length 8, code 80877103.
    sock.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .await
        .unwrap();
    assert_eq!(sock.read_u8().await.unwrap(), b'N');
    // GSSENCRequest: length 8, code 80877104.
    sock.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])
        .await
        .unwrap();
    assert_eq!(sock.read_u8().await.unwrap(), b'N');
    sock.write_all(&startup_packet()).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let (tag, body) = read_message(&mut sock).await;
        seen.push(tag);
        if tag == b'Z' {
            assert_eq!(body, vec![b'I']);
            break;
        }
    }
    assert_eq!(seen[0], b'R'); // AuthenticationOk
    assert!(seen.contains(&b'S')); // ParameterStatus
    assert!(seen.contains(&b'K')); // BackendKeyData
    drop(sock);
    server.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn ready_for_query_reports_transaction_status() {
    let server = server().await;
    let mut sock = TcpStream::connect(server.addr).await.unwrap();
    sock.write_all(&startup_packet()).await.unwrap();
    while read_message(&mut sock).await.0 != b'Z' {}
    async fn query(sock: &mut TcpStream, sql: &str) -> (Vec<u8>, u8) {
        let mut msg = vec![b'Q'];
        msg.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
        msg.extend_from_slice(sql.as_bytes());
        msg.push(0);
        sock.write_all(&msg).await.unwrap();
        let mut tags = Vec::new();
        loop {
            let (tag, body) = read_message(sock).await;
            if tag == b'Z' {
                return (tags, body[0]);
            }
            tags.push(tag);
        }
    }
    assert_eq!(query(&mut sock, "BEGIN").await, (vec![b'C'], b'T'));
    // PostgreSQL may send RowDescription before the error, depending on when it is raised.
    let (tags, status) = query(&mut sock, "SELECT 1/0").await;
    assert_eq!((tags.last(), status), (Some(&b'E'), b'E'));
    assert_eq!(query(&mut sock, "SELECT 1").await, (vec![b'E'], b'E'));
    assert_eq!(query(&mut sock, "ROLLBACK").await, (vec![b'C'], b'I'));
    assert_eq!(query(&mut sock, "").await, (vec![b'I'], b'I'));
    assert_eq!(
        query(&mut sock, "SELECT 1; SELECT 2").await,
        (vec![b'T', b'D', b'C', b'T', b'D', b'C'], b'I')
    );
    drop(sock);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_request_stops_a_running_statement() {
    let server = server().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let values: Vec<String> = (0..1000).map(|i| format!("({i})")).collect();
    client
        .batch_execute(&format!("INSERT INTO t VALUES {}", values.join(",")))
        .await
        .unwrap();
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(NoTls).await
    });
    // 10^9 combinations: far longer than the test if nothing cancels it.
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        client.simple_query("SELECT count(*) FROM t a, t b, t c"),
    )
    .await
    .expect("cancel ends the statement");
    canceller.await.unwrap().unwrap();
    assert_eq!(sqlstate(&result.unwrap_err()), "57014");
    assert_eq!(rows(&client, "SELECT 1").await, vec![vec![s("1")]]);
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_rolls_back_open_transactions_and_keeps_commits() {
    let dir = tempfile::tempdir().unwrap();
    let config = sledgres::ServerConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: Some(dir.path().join("data")),
    };
    let server = sledgres::start(config.clone()).await.unwrap();
    let committed = connect(&server).await;
    committed
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let open = connect(&server).await;
    open.batch_execute("BEGIN; INSERT INTO t VALUES (2)")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), server.shutdown())
        .await
        .expect("shutdown is bounded");
    // The idle connections were told and closed.
    assert!(open.batch_execute("SELECT 1").await.is_err());
    assert!(committed.batch_execute("SELECT 1").await.is_err());

    let server = sledgres::start(config).await.unwrap();
    let client = connect(&server).await;
    assert_eq!(rows(&client, "SELECT id FROM t").await, vec![vec![s("1")]]);
    drop(client);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_serves_one_server_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = sledgres::ServerConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: Some(dir.path().to_path_buf()),
    };
    let server = sledgres::start(config.clone()).await.unwrap();
    let second = sledgres::start(config).await;
    let Err(message) = second else {
        panic!("a second server opened the same data directory")
    };
    assert!(message.contains("in use"), "{message}");
    server.shutdown().await;
}

fn frontend(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn parse(name: &str, sql: &str) -> Vec<u8> {
    let body = [name.as_bytes(), b"\0", sql.as_bytes(), b"\0", &[0, 0]].concat();
    frontend(b'P', &body)
}

/// Bind of the unnamed portal with text parameters.
fn bind(stmt: &str, params: &[&str]) -> Vec<u8> {
    let mut body = vec![0];
    body.extend_from_slice(stmt.as_bytes());
    body.extend_from_slice(&[0, 0, 0]);
    body.extend_from_slice(&(params.len() as i16).to_be_bytes());
    for p in params {
        body.extend_from_slice(&(p.len() as i32).to_be_bytes());
        body.extend_from_slice(p.as_bytes());
    }
    body.extend_from_slice(&[0, 0]);
    frontend(b'B', &body)
}

/// Sends messages plus Sync; returns the backend message types up to ReadyForQuery and
/// its status, with the SQLSTATE of each ErrorResponse.
async fn pipeline(sock: &mut TcpStream, msgs: &[Vec<u8>]) -> (String, u8, Vec<String>) {
    let mut bytes = msgs.concat();
    bytes.extend(frontend(b'S', &[]));
    sock.write_all(&bytes).await.unwrap();
    let (mut tags, mut codes) = (String::new(), Vec::new());
    loop {
        let (tag, body) = read_message(sock).await;
        if tag == b'Z' {
            return (tags, body[0], codes);
        }
        if tag == b'E' {
            let code = body
                .split(|b| *b == 0)
                .find(|f| f.first() == Some(&b'C'))
                .map(|f| String::from_utf8_lossy(&f[1..]).to_string())
                .unwrap_or_default();
            codes.push(code);
        }
        tags.push(tag as char);
    }
}

/// Message sequences compared with PostgreSQL 15 answering the same bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_message_flow_matches_postgres() {
    let server = server().await;
    let mut sock = TcpStream::connect(server.addr).await.unwrap();
    sock.write_all(&startup_packet()).await.unwrap();
    while read_message(&mut sock).await.0 != b'Z' {}
    let describe_stmt = frontend(b'D', b"S\0");
    let describe_portal = frontend(b'D', b"P\0");
    let execute = frontend(b'E', &[0, 0, 0, 0, 0]);

    // Empty query: NoData descriptions, EmptyQueryResponse.
    let r = pipeline(
        &mut sock,
        &[
            parse("", ""),
            describe_stmt.clone(),
            bind("", &[]),
            describe_portal.clone(),
            execute.clone(),
        ],
    )
    .await;
    assert_eq!((r.0.as_str(), r.1), ("1tn2nI", b'I'));
    // A statement without result columns: ParameterDescription + NoData, not RowDescription.
    let r = pipeline(
        &mut sock,
        &[
            parse("", "CREATE TABLE e (a int)"),
            bind("", &[]),
            execute.clone(),
        ],
    )
    .await;
    assert_eq!((r.0.as_str(), r.1), ("12C", b'I'));
    let r = pipeline(
        &mut sock,
        &[
            parse("ins", "INSERT INTO e VALUES ($1)"),
            describe_stmt.clone(),
            bind("ins", &["5"]),
            execute.clone(),
            execute.clone(),
        ],
    )
    .await;
    assert_eq!((r.0.as_str(), r.1), ("1tn2CE", b'I'));
    assert_eq!(r.2, vec!["55000"]);
    // Errors: everything up to Sync is skipped, then ReadyForQuery.
    let r = pipeline(
        &mut sock,
        &[
            parse("", "SELECT 1; SELECT 2"),
            bind("", &[]),
            execute.clone(),
        ],
    )
    .await;
    assert_eq!(
        (r.0.as_str(), r.1, r.2),
        ("E", b'I', vec!["42601".to_string()])
    );
    let r = pipeline(&mut sock, &[parse("ins", "SELECT 1")]).await;
    assert_eq!(r.2, vec!["42P05"]);
    let r = pipeline(&mut sock, &[bind("ins", &["1", "2"])]).await;
    assert_eq!(r.2, vec!["08P01"]);
    let r = pipeline(&mut sock, &[bind("nosuch", &[])]).await;
    assert_eq!(r.2, vec!["26000"]);
    let r = pipeline(&mut sock, &[bind("ins", &["abc"]), execute.clone()]).await;
    assert_eq!((r.0.as_str(), r.2), ("E", vec!["22P02".to_string()]));
    let r = pipeline(&mut sock, &[frontend(b'E', b"nope\0\0\0\0\0")]).await;
    assert_eq!(r.2, vec!["34000"]);
    // Inside a block an error leaves status E until ROLLBACK.
    let r = pipeline(
        &mut sock,
        &[
            parse("", "BEGIN"),
            bind("", &[]),
            execute.clone(),
            bind("ins", &["x"]),
        ],
    )
    .await;
    assert_eq!((r.0.as_str(), r.1), ("12CE", b'E'));
    let r = pipeline(
        &mut sock,
        &[parse("", "ROLLBACK"), bind("", &[]), execute.clone()],
    )
    .await;
    assert_eq!((r.0.as_str(), r.1), ("12C", b'I'));
    // Outside a block, an error before Sync rolls back the batch's implicit transaction,
    // including what succeeded before it.
    let r = pipeline(&mut sock, &[bind("ins", &["5"]), execute.clone()]).await;
    assert_eq!((r.0.as_str(), r.1), ("2C", b'I'));
    let r = pipeline(
        &mut sock,
        &[bind("ins", &["7"]), execute.clone(), bind("ins", &["x"])],
    )
    .await;
    assert_eq!((r.0.as_str(), r.1), ("2CE", b'I'));
    sock.write_all(&frontend(b'Q', b"SELECT count(*) FROM e\0"))
        .await
        .unwrap();
    let mut data = Vec::new();
    loop {
        let (tag, body) = read_message(&mut sock).await;
        if tag == b'D' {
            data = body;
        }
        if tag == b'Z' {
            break;
        }
    }
    // One column, length 1, "1": only the row committed by its own Sync.
    assert_eq!(data, vec![0, 1, 0, 0, 0, 1, b'1']);
    drop(sock);
    server.shutdown().await;
}
