//! Where a test file runs: an external PostgreSQL-wire server, or sledgres started in-process.
//!
//! Every suite in this crate runs each test file against a *clean* database, because the test
//! files assume none of the tables they create exist yet. How we get a clean database depends
//! on the target:
//!
//! - **In-process sledgres** (the default, used by `cargo test`): a new server per file via
//!   [`sledgres::start`] on port 0 with a temporary data directory (`data_dir: None`), shut down
//!   when the file is done. Nothing can leak from one file into the next.
//! - **External server** (`SLEDGRES_TEST_SERVER=host:port`, or `--server` on the bins): this is
//!   how the harness itself is validated against PostgreSQL 15 before sledgres can answer, and
//!   how one can point the suites at a sledgres running elsewhere. We first try
//!   `CREATE DATABASE` with a unique name and drop it afterwards (PostgreSQL); if the server
//!   refuses, we fall back to the shared database and drop, before the file runs, every table,
//!   view and index the file's text creates ([`created_objects`]).
//!
//! The user and database for an external server come from `SLEDGRES_TEST_USER` and
//! `SLEDGRES_TEST_DB` (both default to `postgres`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use tokio_postgres::{Client, Config, NoTls};

/// Environment variable naming an external server (`host:port`) to test instead of sledgres.
pub const SERVER_ENV: &str = "SLEDGRES_TEST_SERVER";
/// User for the external server (default `postgres`).
pub const USER_ENV: &str = "SLEDGRES_TEST_USER";
/// Database for the external server (default `postgres`).
pub const DB_ENV: &str = "SLEDGRES_TEST_DB";

/// Which server the suites talk to.
#[derive(Clone, Debug)]
pub enum Target {
    /// A server someone else started.
    External {
        host: String,
        port: u16,
        user: String,
        dbname: String,
    },
    /// A fresh sledgres per test file, inside this process.
    InProcess,
}

impl Target {
    /// The external server named by `SLEDGRES_TEST_SERVER`, else in-process sledgres.
    pub fn from_env() -> Result<Target, String> {
        match std::env::var(SERVER_ENV) {
            Ok(addr) if !addr.trim().is_empty() => Target::external(addr.trim()),
            _ => Ok(Target::InProcess),
        }
    }

    /// An external server at `host:port`; user and database from the environment.
    pub fn external(addr: &str) -> Result<Target, String> {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| format!("server address {addr:?} is not host:port"))?;
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("server address {addr:?} has a bad port"))?;
        Ok(Target::External {
            host: host.to_string(),
            port,
            user: std::env::var(USER_ENV).unwrap_or_else(|_| "postgres".into()),
            dbname: std::env::var(DB_ENV).unwrap_or_else(|_| "postgres".into()),
        })
    }

    /// A short description for log lines.
    pub fn describe(&self) -> String {
        match self {
            Target::External {
                host,
                port,
                user,
                dbname,
            } => format!("external server {host}:{port} (user {user}, database {dbname})"),
            Target::InProcess => "in-process sledgres (fresh server per file)".into(),
        }
    }

    /// A clean database for one test file. `file_text` is the file's content: with an external
    /// server that refuses `CREATE DATABASE`, the objects it creates are dropped first.
    pub async fn scratch(&self, file_text: &str) -> Result<Scratch, String> {
        match self {
            Target::InProcess => {
                let config = sledgres::ServerConfig {
                    listen: "127.0.0.1:0".into(),
                    data_dir: None,
                };
                // The server is written concurrently with this harness; turn a panic during
                // startup (e.g. a todo!()) into an error message rather than a test abort.
                let started = std::panic::AssertUnwindSafe(sledgres::start(config))
                    .catch_unwind()
                    .await;
                let server = match started {
                    Ok(Ok(server)) => server,
                    Ok(Err(e)) => return Err(format!("in-process sledgres did not start: {e}")),
                    Err(panic) => {
                        return Err(format!(
                            "in-process sledgres panicked while starting: {}",
                            panic_message(&panic)
                        ))
                    }
                };
                Ok(Scratch {
                    host: server.addr.ip().to_string(),
                    port: server.addr.port(),
                    user: "postgres".into(),
                    dbname: "postgres".into(),
                    cleanup: Cleanup::Server(Box::new(server)),
                })
            }
            Target::External {
                host,
                port,
                user,
                dbname,
            } => {
                let admin = Scratch {
                    host: host.clone(),
                    port: *port,
                    user: user.clone(),
                    dbname: dbname.clone(),
                    cleanup: Cleanup::Nothing,
                };
                let client = admin
                    .connect()
                    .await
                    .map_err(|e| format!("cannot connect to {}: {e}", self.describe()))?;
                let name = unique_db_name();
                if client
                    .simple_query(&format!("CREATE DATABASE {name}"))
                    .await
                    .is_ok()
                {
                    return Ok(Scratch {
                        dbname: name.clone(),
                        cleanup: Cleanup::DropDatabase {
                            admin: client,
                            name,
                        },
                        ..admin
                    });
                }
                // No CREATE DATABASE: clean the shared database of what this file creates.
                // Views first (they depend on tables); CASCADE where the server knows it.
                for (kind, object) in created_objects(file_text).into_iter().rev() {
                    let plain = format!("DROP {} IF EXISTS {object}", kind.keyword());
                    let cascade = format!("{plain} CASCADE");
                    if client.simple_query(&cascade).await.is_err() {
                        let _ = client.simple_query(&plain).await;
                    }
                }
                Ok(admin)
            }
        }
    }
}

/// A clean database for one file; call [`Scratch::finish`] when the file is done.
pub struct Scratch {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Nothing,
    Server(Box<sledgres::RunningServer>),
    DropDatabase { admin: Client, name: String },
}

impl Scratch {
    /// The connection settings for this scratch database.
    pub fn config(&self) -> Config {
        let mut config = Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name("sql-tests")
            .connect_timeout(Duration::from_secs(10));
        config
    }

    /// Opens a connection, driving it on a background task.
    pub async fn connect(&self) -> Result<Client, tokio_postgres::Error> {
        connect(&self.config()).await
    }

    /// Drops the scratch database, or shuts the in-process server down.
    pub async fn finish(self) {
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::Server(server) => {
                let _ = std::panic::AssertUnwindSafe(server.shutdown())
                    .catch_unwind()
                    .await;
            }
            Cleanup::DropDatabase { admin, name } => {
                // FORCE: a timed-out query may still hold a session in it.
                let _ = admin
                    .simple_query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        }
    }
}

/// Opens a connection with `config`, driving it on a background task.
pub async fn connect(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        // The error, if any, surfaces on the client's next call as "connection closed".
        let _ = connection.await;
    });
    Ok(client)
}

fn unique_db_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("sqltest_{}_{n}_{nanos}", std::process::id())
}

/// Text of a caught panic payload.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic)".into()
    }
}

/// The kinds of object a test file may create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Table,
    View,
    Index,
}

impl ObjectKind {
    fn keyword(self) -> &'static str {
        match self {
            ObjectKind::Table => "TABLE",
            ObjectKind::View => "VIEW",
            ObjectKind::Index => "INDEX",
        }
    }
}

/// The tables, views and indexes a script creates, in order of appearance (deduplicated).
///
/// A word-level scan, not a parser: it finds `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name`,
/// `CREATE [OR REPLACE] [TEMP|TEMPORARY] VIEW name` and `CREATE [TEMP|TEMPORARY] TABLE
/// [IF NOT EXISTS] name`. Good enough for test scripts, which is all it is used for.
pub fn created_objects(script: &str) -> Vec<(ObjectKind, String)> {
    let words: Vec<String> = script
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_string())
        .collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let mut found: Vec<(ObjectKind, String)> = Vec::new();
    let mut i = 0;
    while i < upper.len() {
        if upper[i] != "CREATE" {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let skip = ["UNIQUE", "OR", "REPLACE", "TEMP", "TEMPORARY"];
        while j < upper.len() && skip.contains(&upper[j].as_str()) {
            j += 1;
        }
        let kind = match upper.get(j).map(String::as_str) {
            Some("TABLE") => ObjectKind::Table,
            Some("VIEW") => ObjectKind::View,
            Some("INDEX") => ObjectKind::Index,
            _ => {
                i += 1;
                continue;
            }
        };
        j += 1;
        if upper.get(j).map(String::as_str) == Some("IF")
            && upper.get(j + 1).map(String::as_str) == Some("NOT")
        {
            j += 3;
        }
        if let Some(name) = words.get(j) {
            let name = name.trim_end_matches(',').to_string();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '"');
            if valid && !found.iter().any(|(k, n)| *k == kind && *n == name) {
                found.push((kind, name));
            }
        }
        i = j;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_created_objects() {
        let script = "statement ok\nCREATE TABLE t1(a INT)\n\nstatement ok\n\
                      CREATE UNIQUE INDEX t1i1 ON t1(a)\n\nstatement ok\n\
                      create or replace view v1 AS SELECT 1\n\nstatement ok\n\
                      CREATE TABLE IF NOT EXISTS t2 (b INT)\n\nstatement ok\nCREATE TABLE t1(a INT)";
        assert_eq!(
            created_objects(script),
            vec![
                (ObjectKind::Table, "t1".to_string()),
                (ObjectKind::Index, "t1i1".to_string()),
                (ObjectKind::View, "v1".to_string()),
                (ObjectKind::Table, "t2".to_string()),
            ]
        );
    }

    #[test]
    fn parses_external_address() {
        match Target::external("127.0.0.1:5432") {
            Ok(Target::External { host, port, .. }) => {
                assert_eq!(host, "127.0.0.1");
                assert_eq!(port, 5432);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(Target::external("nohost").is_err());
        assert!(Target::external("h:notaport").is_err());
    }
}
