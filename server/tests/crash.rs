//! Crash safety: kill -9 the real `sledgres` binary under load, restart it on the same data
//! directory, and check that every acknowledged commit survived and nothing uncommitted did.
//!
//! Load: several writer sessions each commit small two-row transactions in a loop and record
//! the transaction ids whose COMMIT was acknowledged. Other sessions hold transactions open
//! (inserts and an update of a committed row) that are never committed. Mid-load the server
//! gets SIGKILL. After a restart:
//!
//! - every acknowledged transaction's rows are present (durability);
//! - every transaction's two rows are both present or both absent (atomicity) — a COMMIT that
//!   was in flight at the kill may go either way, but never halfway;
//! - no row or update from a never-committed transaction is visible.
//!
//! Two kill/restart rounds run on the same directory, so recovery of a recovered store is
//! exercised too. The whole test is bounded in time.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_postgres::{Client, NoTls};

const WRITERS: i64 = 4;
const OPEN_TXNS: i64 = 2;
const LOAD_TIME: Duration = Duration::from_millis(2500);
/// Row ids of never-committed transactions are negative; the poisoned payload marks their update.
const UNCOMMITTED: &str = "uncommitted";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

fn spawn_server(port: u16, data_dir: &Path, log: &Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open server log");
    Command::new(env!("CARGO_BIN_EXE_sledgres"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("clone log"))
        .stderr(log_file)
        .spawn()
        .expect("spawn sledgres")
}

async fn connect(port: u16) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user("postgres")
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(2))
        .connect(NoTls)
        .await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Waits until the server accepts a query (recovery included), or panics with its log.
async fn wait_ready(port: u16, child: &mut Child, log: &Path) -> Client {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(client) = connect(port).await {
            if client.simple_query("SELECT 1").await.is_ok() {
                return client;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "sledgres exited with {status} before accepting connections; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "sledgres did not accept connections within 20 s; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Commits two-row transactions until the connection dies; records acknowledged txn numbers.
async fn writer(port: u16, worker: i64, round: i64, acked: Arc<Mutex<Vec<i64>>>) {
    let Ok(client) = connect(port).await else {
        return;
    };
    // Transaction numbers are unique across workers and rounds: round, worker, sequence.
    for seq in 0.. {
        let txn = (round * 1_000 + worker) * 1_000_000 + seq;
        let sql = format!(
            "BEGIN; INSERT INTO acked VALUES ({a}, {txn}, 'committed'), ({b}, {txn}, 'committed'); COMMIT",
            a = txn * 2,
            b = txn * 2 + 1
        );
        match client.simple_query(&sql).await {
            Ok(_) => acked.lock().expect("acked list").push(txn),
            Err(_) => return, // the server died
        }
    }
}

/// Opens a transaction with uncommitted writes and keeps it open until the connection dies.
async fn open_transaction(port: u16, n: i64, victim_id: i64, ready: tokio::sync::mpsc::Sender<()>) {
    let Ok(client) = connect(port).await else {
        return;
    };
    let sql = format!(
        "BEGIN; INSERT INTO acked VALUES ({a}, -1, '{UNCOMMITTED}'), ({b}, -1, '{UNCOMMITTED}')",
        a = -(n * 2 + 1),
        b = -(n * 2 + 2)
    );
    if client.simple_query(&sql).await.is_err() {
        return;
    }
    // Also overwrite a committed row without committing (one session only: the other would
    // wait for the row lock, which is fine too but proves less).
    if n == 0 {
        let update = format!("UPDATE acked SET payload = '{UNCOMMITTED}' WHERE id = {victim_id}");
        if client.simple_query(&update).await.is_err() {
            return;
        }
    }
    let _ = ready.send(()).await;
    // Hold the transaction open until the kill closes the connection.
    while !client.is_closed() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_commits_survive_kill_9() {
    tokio::time::timeout(Duration::from_secs(90), crash_rounds())
        .await
        .expect("crash test finished in time");
}

async fn crash_rounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let log = dir.path().join("server.log");
    let port = free_port();

    let mut child = spawn_server(port, &data_dir, &log);
    let client = wait_ready(port, &mut child, &log).await;
    client
        .simple_query(
            "CREATE TABLE acked (id bigint PRIMARY KEY, txn bigint NOT NULL, payload text NOT NULL);
             INSERT INTO acked VALUES (0, 0, 'committed')",
        )
        .await
        .expect("create table");
    drop(client);

    let mut all_acked: HashSet<i64> = HashSet::new();
    for round in 1..=2 {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(OPEN_TXNS as usize);
        let mut tasks = Vec::new();
        for n in 0..OPEN_TXNS {
            tasks.push(tokio::spawn(open_transaction(port, n, 0, ready_tx.clone())));
        }
        for w in 0..WRITERS {
            tasks.push(tokio::spawn(writer(port, w, round, acked.clone())));
        }
        // Both open transactions have written before the kill.
        for _ in 0..OPEN_TXNS {
            tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
                .await
                .expect("open transactions started in time");
        }
        tokio::time::sleep(LOAD_TIME).await;

        child.kill().expect("kill -9 sledgres"); // SIGKILL on Unix
        let _ = child.wait();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        let acked_now: Vec<i64> = acked.lock().expect("acked list").clone();
        assert!(
            !acked_now.is_empty(),
            "round {round}: no commit was acknowledged under load; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        all_acked.extend(acked_now);

        child = spawn_server(port, &data_dir, &log);
        let client = wait_ready(port, &mut child, &log).await;
        check(&client, &all_acked, round).await;
    }
    child.kill().expect("stop sledgres");
    let _ = child.wait();
}

async fn check(client: &Client, acked: &HashSet<i64>, round: i64) {
    let rows = client
        .query("SELECT id, txn, payload FROM acked", &[])
        .await
        .expect("read back after restart");
    let mut per_txn: std::collections::HashMap<i64, usize> = Default::default();
    for row in &rows {
        let id: i64 = row.get(0);
        let txn: i64 = row.get(1);
        let payload: &str = row.get(2);
        assert!(
            id >= 0 && payload != UNCOMMITTED,
            "round {round}: uncommitted write visible after restart: id {id}, payload {payload}"
        );
        if id > 0 {
            *per_txn.entry(txn).or_default() += 1;
        }
    }
    assert!(
        rows.iter().any(|r| r.get::<_, i64>(0) == 0),
        "round {round}: the initial row is gone"
    );
    for (txn, count) in &per_txn {
        assert_eq!(*count, 2, "round {round}: transaction {txn} is half there");
    }
    let missing: Vec<&i64> = acked.iter().filter(|t| !per_txn.contains_key(t)).collect();
    assert!(
        missing.is_empty(),
        "round {round}: {} acknowledged commits lost after kill -9 (of {}), e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
}
