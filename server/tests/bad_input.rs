//! Bad input never hurts the server: malformed SQL, wrong parameters on a prepared statement,
//! garbage and oversized frames on the socket, and clients that vanish mid-transaction. Each
//! gets its error (or its connection closed) and the server keeps serving everyone else.
//!
//! The tests run against in-process sledgres, or against the server named by
//! `SLEDGRES_TEST_SERVER=host:port` (user/database `postgres`) — that is how their expectations
//! were checked against PostgreSQL 15. Protocol-level cases speak the wire format by hand
//! ([`raw`]), because tokio-postgres (rightly) refuses to send malformed messages.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::{Client, NoTls};

/// A server under test: in-process sledgres (kept alive by the handle) or an external one.
struct Server {
    addr: String,
    _running: Option<sledgres::RunningServer>,
}

async fn server() -> Server {
    if let Ok(addr) = std::env::var("SLEDGRES_TEST_SERVER") {
        if !addr.is_empty() {
            return Server {
                addr,
                _running: None,
            };
        }
    }
    let running = sledgres::start(sledgres::ServerConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: None,
    })
    .await
    .expect("start sledgres");
    Server {
        addr: running.addr.to_string(),
        _running: Some(running),
    }
}

async fn client(server: &Server) -> Client {
    let (host, port) = server.addr.rsplit_once(':').expect("host:port");
    let (client, connection) = tokio_postgres::Config::new()
        .host(host)
        .port(port.parse().expect("port"))
        .user("postgres")
        .dbname("postgres")
        .connect(NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

/// A unique table name, so the tests can share an external server.
fn table(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

async fn select_one(client: &Client) -> String {
    let rows = client
        .query("SELECT 1 + 1", &[])
        .await
        .expect("SELECT works");
    let v: i32 = rows[0].get(0);
    v.to_string()
}

/// Hand-written frontend messages and a reader for backend messages.
mod raw {
    use super::*;

    pub struct Conn {
        pub stream: TcpStream,
    }

    /// A backend message: type byte and body.
    pub struct Msg {
        pub tag: u8,
        pub body: Vec<u8>,
    }

    impl Msg {
        /// The SQLSTATE of an ErrorResponse (field 'C').
        pub fn sqlstate(&self) -> Option<String> {
            if self.tag != b'E' {
                return None;
            }
            let mut fields = self.body.split(|b| *b == 0);
            for f in fields.by_ref() {
                if f.first() == Some(&b'C') {
                    return Some(String::from_utf8_lossy(&f[1..]).into_owned());
                }
            }
            None
        }
    }

    pub fn startup_packet(user: &str, db: &str) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&196608u32.to_be_bytes()); // protocol 3.0
        for s in ["user", user, "database", db] {
            body.extend_from_slice(s.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        packet.extend(body);
        packet
    }

    pub fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    pub fn cstr(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    pub fn query(sql: &str) -> Vec<u8> {
        message(b'Q', &cstr(sql))
    }

    /// Parse: unnamed statement, `sql`, the given parameter type oids (0 = infer).
    pub fn parse(sql: &str, types: &[u32]) -> Vec<u8> {
        let mut body = cstr("");
        body.extend(cstr(sql));
        body.extend_from_slice(&(types.len() as u16).to_be_bytes());
        for t in types {
            body.extend_from_slice(&t.to_be_bytes());
        }
        message(b'P', &body)
    }

    /// Bind: unnamed portal and statement, text-format parameters, text results.
    pub fn bind(params: &[&str]) -> Vec<u8> {
        let mut body = cstr("");
        body.extend(cstr(""));
        body.extend_from_slice(&0u16.to_be_bytes()); // all parameters text
        body.extend_from_slice(&(params.len() as u16).to_be_bytes());
        for p in params {
            body.extend_from_slice(&(p.len() as i32).to_be_bytes());
            body.extend_from_slice(p.as_bytes());
        }
        body.extend_from_slice(&0u16.to_be_bytes()); // all results text
        message(b'B', &body)
    }

    pub fn execute() -> Vec<u8> {
        let mut body = cstr("");
        body.extend_from_slice(&0i32.to_be_bytes());
        message(b'E', &body)
    }

    pub fn sync() -> Vec<u8> {
        message(b'S', &[])
    }

    impl Conn {
        pub async fn open(addr: &str) -> Conn {
            let stream = TcpStream::connect(addr).await.expect("tcp connect");
            Conn { stream }
        }

        /// Connects and completes startup (trust auth) up to the first ReadyForQuery.
        pub async fn startup(addr: &str) -> Conn {
            let mut conn = Conn::open(addr).await;
            conn.send(&startup_packet("postgres", "postgres")).await;
            conn.until_ready().await;
            conn
        }

        pub async fn send(&mut self, bytes: &[u8]) {
            self.stream.write_all(bytes).await.expect("write");
        }

        /// The next message, or `None` at end of stream (or a reset connection).
        pub async fn next(&mut self) -> Option<Msg> {
            let mut header = [0u8; 5];
            self.stream.read_exact(&mut header).await.ok()?;
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            let mut body = vec![0u8; len.checked_sub(4)?];
            self.stream.read_exact(&mut body).await.ok()?;
            Some(Msg {
                tag: header[0],
                body,
            })
        }

        /// Reads up to ReadyForQuery; returns the messages before it.
        pub async fn until_ready(&mut self) -> Vec<Msg> {
            let mut seen = Vec::new();
            let deadline = Duration::from_secs(10);
            loop {
                let msg = tokio::time::timeout(deadline, self.next())
                    .await
                    .expect("server answered in time")
                    .expect("connection stayed open");
                if msg.tag == b'Z' {
                    return seen;
                }
                seen.push(msg);
            }
        }

        /// Reads until the server closes the connection; panics if it does not within 10 s.
        /// Returns what it sent before closing.
        pub async fn until_closed(&mut self) -> Vec<Msg> {
            let mut seen = Vec::new();
            let closed = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(msg) = self.next().await {
                    seen.push(msg);
                }
            })
            .await;
            assert!(closed.is_ok(), "the server should close this connection");
            seen
        }
    }
}

#[tokio::test]
async fn malformed_sql_gets_42601_and_the_session_continues() {
    let server = server().await;
    let client = client(&server).await;
    for bad in [
        "SELEC 1",
        "SELECT * FROM",
        "SELECT (1",
        "INSERT INTO VALUES",
    ] {
        let err = client.simple_query(bad).await.expect_err(bad);
        assert_eq!(
            err.code().map(|c| c.code()),
            Some("42601"),
            "{bad}: {err:?}"
        );
    }
    // The same session keeps working, in both protocols.
    assert_eq!(select_one(&client).await, "2");
    let rows = client.simple_query("SELECT 'still here'").await.unwrap();
    assert!(
        matches!(&rows[1], tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("still here"))
    );
}

#[tokio::test]
async fn wrong_parameter_count_and_types_are_errors() {
    let server = server().await;
    let mut conn = raw::Conn::startup(&server.addr).await;

    // Bind with no value for a statement that needs one: protocol violation 08P01.
    let mut batch = raw::parse("SELECT $1::int4 + 1", &[]);
    batch.extend(raw::bind(&[]));
    batch.extend(raw::execute());
    batch.extend(raw::sync());
    conn.send(&batch).await;
    let msgs = conn.until_ready().await;
    let states: Vec<String> = msgs.iter().filter_map(|m| m.sqlstate()).collect();
    assert_eq!(states, vec!["08P01".to_string()]);

    // Two values for one parameter: 08P01 too.
    let mut batch = raw::parse("SELECT $1::int4", &[]);
    batch.extend(raw::bind(&["1", "2"]));
    batch.extend(raw::execute());
    batch.extend(raw::sync());
    conn.send(&batch).await;
    let states: Vec<String> = conn
        .until_ready()
        .await
        .iter()
        .filter_map(|m| m.sqlstate())
        .collect();
    assert_eq!(states, vec!["08P01".to_string()]);

    // A value that is not of the parameter's type: 22P02.
    let mut batch = raw::parse("SELECT $1::int4 + 1", &[]);
    batch.extend(raw::bind(&["not a number"]));
    batch.extend(raw::execute());
    batch.extend(raw::sync());
    conn.send(&batch).await;
    let states: Vec<String> = conn
        .until_ready()
        .await
        .iter()
        .filter_map(|m| m.sqlstate())
        .collect();
    assert_eq!(states, vec!["22P02".to_string()]);

    // The session still works.
    let mut batch = raw::parse("SELECT $1::int4 + 1", &[23]); // 23 = int4
    batch.extend(raw::bind(&["41"]));
    batch.extend(raw::execute());
    batch.extend(raw::sync());
    conn.send(&batch).await;
    let msgs = conn.until_ready().await;
    assert!(msgs.iter().all(|m| m.tag != b'E'));
    let row = msgs.iter().find(|m| m.tag == b'D').expect("a DataRow");
    // DataRow: column count (2 bytes), then length (4) and the text value.
    assert_eq!(&row.body[6..], b"42");

    // And tokio-postgres's own checks: wrong count is refused client-side, right use works.
    let client = client(&server).await;
    let stmt = client.prepare("SELECT $1::int4 + 1").await.unwrap();
    assert!(client.query(&stmt, &[]).await.is_err());
    assert!(client.query(&stmt, &[&"text"]).await.is_err());
    let rows = client.query(&stmt, &[&1i32]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 2);
}

#[tokio::test]
async fn garbage_instead_of_a_startup_packet_closes_only_that_connection() {
    let server = server().await;
    let bystander = client(&server).await;

    let mut conn = raw::Conn::open(&server.addr).await;
    conn.send(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n\x00\xff\xfe garbage")
        .await;
    conn.until_closed().await;

    let mut conn = raw::Conn::open(&server.addr).await;
    conn.send(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1, 2, 3])
        .await;
    conn.until_closed().await;

    assert_eq!(select_one(&bystander).await, "2");
    let fresh = client(&server).await;
    assert_eq!(select_one(&fresh).await, "2");
}

#[tokio::test]
async fn unknown_message_after_startup_is_an_error_and_server_goes_on() {
    let server = server().await;
    let mut conn = raw::Conn::startup(&server.addr).await;
    conn.send(&raw::message(b'!', b"whatever")).await;
    let msgs = conn.until_closed().await;
    let states: Vec<String> = msgs.iter().filter_map(|m| m.sqlstate()).collect();
    assert_eq!(states, vec!["08P01".to_string()]);
    let fresh = client(&server).await;
    assert_eq!(select_one(&fresh).await, "2");
}

#[tokio::test]
async fn oversized_message_lengths_close_the_connection() {
    let server = server().await;
    let bystander = client(&server).await;

    // A startup packet claiming 2 GB.
    let mut conn = raw::Conn::open(&server.addr).await;
    conn.send(&0x7fff_fff0u32.to_be_bytes()).await;
    conn.send(&196608u32.to_be_bytes()).await;
    conn.until_closed().await;

    // A query message claiming 2 GB after a good startup: the server must not wait for (or
    // allocate) it.
    let mut conn = raw::Conn::startup(&server.addr).await;
    let mut frame = vec![b'Q'];
    frame.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
    frame.extend_from_slice(b"SELECT 1");
    conn.send(&frame).await;
    conn.until_closed().await;

    // A length below the 4 bytes of the length field itself.
    let mut conn = raw::Conn::startup(&server.addr).await;
    conn.send(&[b'Q', 0, 0, 0, 2]).await;
    conn.until_closed().await;

    assert_eq!(select_one(&bystander).await, "2");
}

#[tokio::test]
async fn disconnect_mid_transaction_rolls_back_and_releases_locks() {
    let server = server().await;
    let t = table("disc");
    let client = client(&server).await;
    client
        .simple_query(&format!(
            "CREATE TABLE {t} (id integer PRIMARY KEY, v integer); INSERT INTO {t} VALUES (1, 0)"
        ))
        .await
        .unwrap();

    // A raw session updates the row inside a transaction, then its socket just goes away.
    let mut conn = raw::Conn::startup(&server.addr).await;
    conn.send(&raw::query("BEGIN")).await;
    conn.until_ready().await;
    conn.send(&raw::query(&format!("UPDATE {t} SET v = 1 WHERE id = 1")))
        .await;
    let msgs = conn.until_ready().await;
    assert!(msgs.iter().all(|m| m.tag != b'E'), "update failed");
    conn.send(&raw::query(&format!("INSERT INTO {t} VALUES (2, 2)")))
        .await;
    conn.until_ready().await;
    drop(conn);

    // Another session can update the same row: the lock is gone (bounded wait, not forever).
    let updated = tokio::time::timeout(
        Duration::from_secs(10),
        client.execute(&format!("UPDATE {t} SET v = 5 WHERE id = 1"), &[]),
    )
    .await
    .expect("the row lock of the vanished session was released")
    .unwrap();
    assert_eq!(updated, 1);
    // And its writes were rolled back.
    let rows = client
        .query(&format!("SELECT id, v FROM {t} ORDER BY id"), &[])
        .await
        .unwrap();
    let got: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![(1, 5)]);
    client
        .simple_query(&format!("DROP TABLE {t}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn error_inside_a_transaction_block_needs_rollback() {
    let server = server().await;
    let client = client(&server).await;
    client.simple_query("BEGIN").await.unwrap();
    let err = client.simple_query("SELECT 1/0").await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));
    let err = client.simple_query("SELECT 1").await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("25P02"));
    client.simple_query("ROLLBACK").await.unwrap();
    assert_eq!(select_one(&client).await, "2");
}
