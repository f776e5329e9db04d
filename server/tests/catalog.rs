//! The virtual system catalogs as clients query them (pg_class, pg_attribute, pg_namespace,
//! information_schema …) and the session functions clients call. Expected rows are
//! PostgreSQL 15's for the same schema (OID values differ by design and are only joined on).

use tokio_postgres::{Client, SimpleQueryMessage};

mod common;
use common::connect;

async fn rows(client: &Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn v(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogs_reflect_the_schema_transactionally() {
    let server = sledgres::start(sledgres::ServerConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: None,
    })
    .await
    .expect("server starts");
    let c = connect(&server).await;
    c.batch_execute(
        "CREATE TABLE t (a int PRIMARY KEY, b varchar(10) NOT NULL, c numeric(10,2) DEFAULT 1);
         CREATE INDEX t_b ON t (b)",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(
            &c,
            "SELECT c.relname, c.relkind, n.nspname FROM pg_catalog.pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' ORDER BY 1"
        )
        .await,
        v(&[
            &["t", "r", "public"],
            &["t_b", "i", "public"],
            &["t_pkey", "i", "public"]
        ])
    );
    assert_eq!(
        rows(
            &c,
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             WHERE c.relname = 't' AND a.attnum > 0 ORDER BY a.attnum"
        )
        .await,
        v(&[
            &["a", "integer", "t", "f"],
            &["b", "character varying(10)", "t", "f"],
            &["c", "numeric(10,2)", "f", "t"],
        ])
    );
    assert_eq!(
        rows(
            &c,
            "SELECT column_name, data_type, is_nullable, character_maximum_length, \
             numeric_precision FROM information_schema.columns WHERE table_name = 't' \
             ORDER BY ordinal_position"
        )
        .await,
        v(&[
            &["a", "integer", "NO", "NULL", "32"],
            &["b", "character varying", "NO", "10", "NULL"],
            &["c", "numeric", "YES", "NULL", "10"],
        ])
    );
    assert_eq!(
        rows(
            &c,
            "SELECT i.indisunique, i.indisprimary, ic.relname FROM pg_index i \
             JOIN pg_class ic ON ic.oid = i.indexrelid ORDER BY 3"
        )
        .await,
        v(&[&["f", "f", "t_b"], &["t", "t", "t_pkey"]])
    );
    // A table created in an open transaction is visible there only, and gone after ROLLBACK.
    c.batch_execute("BEGIN; CREATE TABLE u (x int)")
        .await
        .unwrap();
    let q = "SELECT table_name, table_type FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1";
    assert_eq!(
        rows(&c, q).await,
        v(&[&["t", "BASE TABLE"], &["u", "BASE TABLE"]])
    );
    let other = connect(&server).await;
    assert_eq!(rows(&other, q).await, v(&[&["t", "BASE TABLE"]]));
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(rows(&c, q).await, v(&[&["t", "BASE TABLE"]]));
    // Session functions.
    assert_eq!(
        rows(
            &c,
            "SELECT current_user, session_user, current_database(), current_schema(), \
             quote_ident('Foo'), quote_ident('foo'), pg_encoding_to_char(6), \
             pg_backend_pid() > 0, version() LIKE 'PostgreSQL 15%'"
        )
        .await,
        v(
            &[
                &[
                    "postgres", "postgres", "postgres", "public", "\"Foo\"", "foo", "UTF8", "t",
                    "t"
                ]
            ]
        )
    );
    server.shutdown().await;
}
