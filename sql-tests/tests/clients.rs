//! Real PostgreSQL drivers against sledgres: psycopg 3 and asyncpg (Python), node-postgres,
//! pgjdbc (Java). tokio-postgres is exercised by every other suite in this crate.
//!
//! Each client is a small program in `sql-tests/clients/` that connects to `HOST PORT`, runs its
//! checks (types in both formats, prepared statements, batches, errors and their SQLSTATEs,
//! transactions, savepoints, isolation levels, streamed results) and prints one line per check.
//! The test runs it against an in-process sledgres and compares its output, byte for byte, with
//! the `.expected` file beside it — which was produced by running the same program against
//! PostgreSQL 15:
//!
//! ```sh
//! SLEDGRES_TEST_SERVER=127.0.0.1:55432 CLIENTS_COMPLETE=1 cargo test --release -p sql-tests --test clients
//! ```
//!
//! The drivers must be installed (`.ci/run` does it): `pip install -r
//! sql-tests/clients/python/requirements.txt`, `npm ci` in `sql-tests/clients/node`, and the
//! Debian package `libpostgresql-jdbc-java` (or `PGJDBC_JAR=/path/to/postgresql.jar`). A
//! missing driver fails its test with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sql_tests::target::SERVER_ENV;

/// Rewrite the expected files from the target's output instead of comparing.
const COMPLETE_ENV: &str = "CLIENTS_COMPLETE";
/// Where pgjdbc's jar is, if not the Debian package's path.
const JAR_ENV: &str = "PGJDBC_JAR";
const DEBIAN_JAR: &str = "/usr/share/java/postgresql.jar";
/// A client that takes longer than this has hung.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(180);

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs `body` with the address of the server under test: `SLEDGRES_TEST_SERVER`, or a fresh
/// in-process sledgres.
fn with_server(body: impl FnOnce(&str, u16)) {
    if let Ok(addr) = std::env::var(SERVER_ENV) {
        if !addr.trim().is_empty() {
            let (host, port) = addr.trim().rsplit_once(':').expect("host:port");
            body(host, port.parse().expect("port"));
            return;
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt
        .block_on(sledgres::start(sledgres::ServerConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: None,
        }))
        .expect("start sledgres");
    let port = server.addr.port();
    body("127.0.0.1", port);
    rt.block_on(server.shutdown());
}

/// Runs the client and compares (or, with CLIENTS_COMPLETE, records) its output.
fn check(name: &str, mut cmd: Command, install_hint: &str) {
    let expected_path = clients_dir().join(format!("{name}.expected"));
    with_server(|host, port| {
        cmd.arg(host).arg(port.to_string());
        let output = run_with_timeout(&mut cmd).unwrap_or_else(|e| {
            panic!("{name}: could not run {cmd:?}: {e}\n(install the client: {install_hint})")
        });
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if std::env::var(COMPLETE_ENV).is_ok() {
            assert!(
                output.status.success(),
                "{name} failed:\n{stdout}\n{stderr}"
            );
            std::fs::write(&expected_path, &stdout).expect("write expected file");
            return;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        if stdout != expected {
            panic!(
                "{name}: output differs from PostgreSQL's ({})\n{}\nstderr:\n{stderr}",
                expected_path.display(),
                line_diff(&expected, &stdout)
            );
        }
        assert!(
            output.status.success(),
            "{name} exited with {}",
            output.status
        );
    });
}

fn run_with_timeout(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let started = std::time::Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            return child.wait_with_output();
        }
        if started.elapsed() > CLIENT_TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output()?;
            panic!(
                "client timed out after {CLIENT_TIMEOUT:?}; output so far:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The expected and actual lines, marking the ones that differ.
fn line_diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => out.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    out
}

fn python(script: &str) -> Command {
    let mut cmd = Command::new("python3");
    cmd.arg(clients_dir().join("python").join(script));
    cmd
}

#[test]
fn psycopg() {
    check(
        "python/psycopg_client",
        python("psycopg_client.py"),
        "pip install -r sql-tests/clients/python/requirements.txt",
    );
}

#[test]
fn asyncpg() {
    check(
        "python/asyncpg_client",
        python("asyncpg_client.py"),
        "pip install -r sql-tests/clients/python/requirements.txt",
    );
}

#[test]
fn node_postgres() {
    let dir = clients_dir().join("node");
    assert!(
        dir.join("node_modules").join("pg").exists(),
        "node-postgres is not installed: run `npm ci` in {}",
        dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("pg_client.js"));
    check("node/pg_client", cmd, "npm ci in sql-tests/clients/node");
}

#[test]
fn pgjdbc() {
    let jar = std::env::var(JAR_ENV).unwrap_or_else(|_| DEBIAN_JAR.to_string());
    assert!(
        Path::new(&jar).exists(),
        "pgjdbc not found at {jar}: apt-get install libpostgresql-jdbc-java, or set {JAR_ENV}"
    );
    let classes = tempfile::tempdir().expect("temp dir");
    let status = Command::new("javac")
        .arg("-d")
        .arg(classes.path())
        .arg(clients_dir().join("java").join("JdbcClient.java"))
        .status()
        .expect("javac (a JDK) is needed for the pgjdbc test");
    assert!(status.success(), "javac failed");
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(format!("{jar}:{}", classes.path().display()))
        .arg("JdbcClient");
    check(
        "java/JdbcClient",
        cmd,
        "apt-get install default-jdk-headless libpostgresql-jdbc-java",
    );
}
