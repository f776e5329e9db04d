//! Helpers shared by the server's integration tests: an in-process server on a free port with
//! a temporary data directory, a tokio-postgres client for it, and simple-query rows as text.
//! (Each test file includes this module and uses only part of it.)
#![allow(dead_code)]

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

pub async fn server() -> sledgres::RunningServer {
    sledgres::start(sledgres::ServerConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: None,
    })
    .await
    .expect("server starts")
}

pub async fn connect(server: &sledgres::RunningServer) -> Client {
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            server.addr.port()
        ),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    client
}

/// The data rows of a simple query, as text (`None` for NULL).
pub async fn rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).map(|s| s.to_string()))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

pub fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}
