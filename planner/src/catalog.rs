//! Virtual system catalogs: `pg_catalog.*` and `information_schema.*` relations computed
//! from the storage catalog when a statement is bound.
//!
//! Drivers and tools (psql, JDBC's DatabaseMetaData, SQLAlchemy's reflection) discover the
//! schema by querying these relations. We do not store them: each is a function from the
//! statement transaction's view of the catalog (`Transaction::list_tables`) to rows, bound
//! as a constant VALUES relation. Because the rows come from the statement's own transaction,
//! they are transactional for free: a table created in an open transaction shows up in that
//! transaction only. (A prepared statement keeps the rows it was planned with, as it keeps
//! its plan.)
//!
//! Names resolve as in PostgreSQL, where `pg_catalog` is implicitly first on the search path:
//! `pg_class` and `pg_catalog.pg_class` are the catalog, `information_schema.tables` needs its
//! schema.
//!
//! **OIDs.** PostgreSQL's catalogs join on OIDs, so every object needs a stable one. Built-in
//! objects use PostgreSQL's real OIDs (types: `int4` = 23 …; namespaces: `pg_catalog` = 11,
//! `public` = 2200). User objects get OIDs derived deterministically from their storage ids,
//! in PostgreSQL's user range (from 16384), so they survive restarts without being stored:
//!
//! ```text
//! table (or view) id t   →  16384 + 3·t
//! secondary index id i   →  16384 + 3·i + 1
//! primary-key index of t →  16384 + 3·t + 2
//! ```
//!
//! (table and index ids come from separate counters; the residues keep them apart). oid
//! columns are `int8` here (we have no unsigned `oid` type); their text output is the same.
//! "char" columns (`relkind`) are text, and array columns (`indkey`, `conkey`) are their text
//! form (`1 2`, `{1,2}`).

use crate::error::Result;
use sledgres_storage::{Constraint, DataType, FkAction, TableDef, Transaction, Value};

/// OID of namespace `pg_catalog`.
pub const PG_CATALOG_OID: i64 = 11;
/// OID of namespace `public`.
pub const PUBLIC_OID: i64 = 2200;
/// OID of namespace `information_schema` (PostgreSQL assigns it at initdb; this is typical).
pub const INFORMATION_SCHEMA_OID: i64 = 13_183;
/// OID of the bootstrap superuser role.
pub const SUPERUSER_OID: i64 = 10;
/// OID of the `postgres` database.
pub const DATABASE_OID: i64 = 5;
/// OID of the plpgsql extension (pg_extension).
const PLPGSQL_OID: i64 = 13_559;
/// pg_class OID of pg_extension (pg_description.classoid of extensions).
const PG_EXTENSION_OID: i64 = 3079;

/// PostgreSQL's OIDs of the system catalogs (what `'pg_catalog.pg_class'::regclass` gives).
const SYSTEM_RELATIONS: &[(i64, &str)] = &[
    (1247, "pg_type"),
    (1249, "pg_attribute"),
    (1255, "pg_proc"),
    (1259, "pg_class"),
    (1260, "pg_authid"),
    (1261, "pg_auth_members"),
    (1262, "pg_database"),
    (1213, "pg_tablespace"),
    (2601, "pg_am"),
    (2604, "pg_attrdef"),
    (2606, "pg_constraint"),
    (2609, "pg_description"),
    (2610, "pg_index"),
    (2615, "pg_namespace"),
    (2620, "pg_trigger"),
    (2611, "pg_inherits"),
    (PG_EXTENSION_OID, "pg_extension"),
    (3256, "pg_policy"),
    (3381, "pg_statistic_ext"),
    (3456, "pg_collation"),
    (6104, "pg_publication"),
    (6106, "pg_publication_rel"),
    (6237, "pg_publication_namespace"),
];

/// The OID of system catalog `name` (in pg_catalog).
pub fn system_relation_oid(name: &str) -> Option<i64> {
    SYSTEM_RELATIONS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(o, _)| *o)
}

/// OID of the `pg_database_owner` role (owner of schema `public`).
pub const DATABASE_OWNER_OID: i64 = 6171;
/// pg_class OID of pg_class / pg_constraint … (for pg_description.classoid).
const FIRST_USER_OID: i64 = 16_384;

/// A relation's columns and rows.
pub struct VirtualRelation {
    pub columns: Vec<(&'static str, DataType)>,
    pub rows: Vec<Vec<Value>>,
}

/// Who is asking (for current_user-dependent rows).
pub struct CatalogContext<'a> {
    pub txn: &'a Transaction,
    pub user: String,
    pub database: String,
    /// Reads a setting's current value (pg_settings).
    pub setting: &'a dyn Fn(&str) -> Option<String>,
}

pub fn table_oid(t: &TableDef) -> i64 {
    FIRST_USER_OID + 3 * t.id as i64
}

fn index_oid(id: u32) -> i64 {
    FIRST_USER_OID + 3 * id as i64 + 1
}

fn pkey_oid(t: &TableDef) -> i64 {
    FIRST_USER_OID + 3 * t.id as i64 + 2
}

fn namespace_oid(schema: &str) -> i64 {
    match schema {
        "pg_catalog" => PG_CATALOG_OID,
        "information_schema" => INFORMATION_SCHEMA_OID,
        _ => PUBLIC_OID,
    }
}

/// Built-in types: (oid, name, typlen, category, array oid).
const TYPES: &[(i64, &str, i16, &str, i64)] = &[
    (16, "bool", 1, "B", 1000),
    (17, "bytea", -1, "U", 1001),
    (18, "char", 1, "Z", 1002),
    (19, "name", 64, "S", 1003),
    (20, "int8", 8, "N", 1016),
    (21, "int2", 2, "N", 1005),
    (23, "int4", 4, "N", 1007),
    (25, "text", -1, "S", 1009),
    (26, "oid", 4, "N", 1028),
    (700, "float4", 4, "N", 1021),
    (701, "float8", 8, "N", 1022),
    (1042, "bpchar", -1, "S", 1014),
    (1043, "varchar", -1, "S", 1015),
    (1082, "date", 4, "D", 1182),
    (1083, "time", 8, "D", 1183),
    (1114, "timestamp", 8, "D", 1115),
    (1184, "timestamptz", 8, "D", 1185),
    (1186, "interval", 16, "T", 1187),
    (1700, "numeric", -1, "N", 1231),
    (2950, "uuid", 16, "U", 2951),
];

/// The OID of a column type (PostgreSQL's), by its canonical name.
pub fn type_oid(ty: &DataType) -> i64 {
    let name = match ty {
        DataType::Bool => "bool",
        DataType::Int2 => "int2",
        DataType::Int4 => "int4",
        DataType::Int8 => "int8",
        DataType::Float4 => "float4",
        DataType::Float8 => "float8",
        DataType::Numeric { .. } => "numeric",
        DataType::Text => "text",
        DataType::Varchar(_) => "varchar",
        DataType::Char(_) => "bpchar",
        DataType::Date => "date",
        DataType::Time => "time",
        DataType::Timestamp => "timestamp",
        DataType::TimestampTz => "timestamptz",
        DataType::Interval => "interval",
        DataType::Bytea => "bytea",
        DataType::Uuid => "uuid",
        DataType::Name => "name",
        #[allow(unreachable_patterns)]
        _ => "text",
    };
    TYPES.iter().find(|t| t.1 == name).map_or(25, |t| t.0)
}

/// atttypmod: -1, or the length/precision modifier with PostgreSQL's VARHDRSZ (4) added.
pub fn type_modifier(ty: &DataType) -> i32 {
    match ty {
        DataType::Varchar(Some(n)) | DataType::Char(n) => (*n as i32).saturating_add(4),
        DataType::Numeric {
            precision: Some(p),
            scale,
        } => (((*p as i32) << 16) | scale.unwrap_or(0) as i32).saturating_add(4),
        _ => -1,
    }
}

/// `format_type(oid, typmod)`: a type's SQL name as psql shows it.
pub fn format_type(oid: i64, typmod: i32) -> Option<String> {
    let name = TYPES.iter().find(|t| t.0 == oid)?.1;
    let with_len = |base: &str| {
        if typmod >= 4 {
            format!("{base}({})", typmod - 4)
        } else {
            base.to_string()
        }
    };
    Some(match name {
        "bool" => "boolean".into(),
        "int2" => "smallint".into(),
        "int4" => "integer".into(),
        "int8" => "bigint".into(),
        "float4" => "real".into(),
        "float8" => "double precision".into(),
        "varchar" => with_len("character varying"),
        "bpchar" => with_len("character"),
        "char" => "\"char\"".into(),
        "time" => "time without time zone".into(),
        "timestamp" => "timestamp without time zone".into(),
        "timestamptz" => "timestamp with time zone".into(),
        "numeric" if typmod >= 4 => {
            let m = typmod - 4;
            format!("numeric({},{})", (m >> 16) & 0xffff, m & 0xffff)
        }
        other => other.to_string(),
    })
}

fn t(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}
fn i8v(n: i64) -> Value {
    Value::Int8(n)
}
fn i4(n: i32) -> Value {
    Value::Int4(n)
}
fn i2(n: i16) -> Value {
    Value::Int2(n)
}
fn b(v: bool) -> Value {
    Value::Bool(v)
}
const NULL: Value = Value::Null;

use DataType::{Bool as BOOL, Int2 as INT2, Int4 as INT4, Int8 as OID, Text as TEXT};

/// Whether `[schema.]name` is a virtual relation (`schema` None: unqualified).
pub fn is_virtual(schema: Option<&str>, name: &str) -> bool {
    match schema {
        None | Some("pg_catalog") => PG_CATALOG.contains(&name),
        Some("information_schema") => INFORMATION_SCHEMA.contains(&name),
        _ => false,
    }
}

const PG_CATALOG: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_type",
    "pg_index",
    "pg_database",
    "pg_roles",
    "pg_user",
    "pg_authid",
    "pg_settings",
    "pg_am",
    "pg_proc",
    "pg_description",
    "pg_constraint",
    "pg_attrdef",
    "pg_tables",
    "pg_indexes",
    "pg_views",
    "pg_inherits",
    "pg_tablespace",
    "pg_extension",
    "pg_collation",
    "pg_policy",
    "pg_statistic_ext",
    "pg_publication",
    "pg_publication_namespace",
    "pg_publication_rel",
    "pg_trigger",
    "pg_auth_members",
];

const INFORMATION_SCHEMA: &[&str] = &["tables", "columns", "schemata", "views"];

/// Computes a virtual relation (call only when [`is_virtual`] said yes).
pub fn relation(
    ctx: &CatalogContext<'_>,
    schema: Option<&str>,
    name: &str,
) -> Result<VirtualRelation> {
    let tables = ctx.txn.list_tables()?;
    let is_view = |t: &TableDef| crate::binder::view::view_sql(t).is_some();
    let mut rows = vec![];
    let columns: Vec<(&'static str, DataType)>;
    if schema == Some("information_schema") {
        match name {
            "schemata" => {
                columns = vec![
                    ("catalog_name", TEXT),
                    ("schema_name", TEXT),
                    ("schema_owner", TEXT),
                ];
                for s in ["pg_catalog", "public", "information_schema"] {
                    rows.push(vec![t(&ctx.database), t(s), t(&ctx.user)]);
                }
            }
            "tables" => {
                columns = vec![
                    ("table_catalog", TEXT),
                    ("table_schema", TEXT),
                    ("table_name", TEXT),
                    ("table_type", TEXT),
                    ("is_insertable_into", TEXT),
                    ("is_typed", TEXT),
                ];
                for tb in &tables {
                    let view = is_view(tb);
                    rows.push(vec![
                        t(&ctx.database),
                        t(&tb.schema),
                        t(&tb.name),
                        t(if view { "VIEW" } else { "BASE TABLE" }),
                        t(if view { "NO" } else { "YES" }),
                        t("NO"),
                    ]);
                }
            }
            "views" => {
                columns = vec![
                    ("table_catalog", TEXT),
                    ("table_schema", TEXT),
                    ("table_name", TEXT),
                    ("view_definition", TEXT),
                ];
                for tb in tables.iter().filter(|t| is_view(t)) {
                    rows.push(vec![
                        t(&ctx.database),
                        t(&tb.schema),
                        t(&tb.name),
                        t(crate::binder::view::view_sql(tb).unwrap_or("")),
                    ]);
                }
            }
            _ => {
                columns = vec![
                    ("table_catalog", TEXT),
                    ("table_schema", TEXT),
                    ("table_name", TEXT),
                    ("column_name", TEXT),
                    ("ordinal_position", INT4),
                    ("column_default", TEXT),
                    ("is_nullable", TEXT),
                    ("data_type", TEXT),
                    ("character_maximum_length", INT4),
                    ("numeric_precision", INT4),
                    ("numeric_scale", INT4),
                    ("udt_name", TEXT),
                ];
                for tb in &tables {
                    for (i, c) in tb.columns.iter().enumerate() {
                        let (len, prec, scale) = match &c.data_type {
                            DataType::Varchar(n) => (n.map(|n| i4(n as i32)), NULL, NULL),
                            DataType::Char(n) => (Some(i4(*n as i32)), NULL, NULL),
                            DataType::Int2 => (None, i4(16), i4(0)),
                            DataType::Int4 => (None, i4(32), i4(0)),
                            DataType::Int8 => (None, i4(64), i4(0)),
                            DataType::Float4 => (None, i4(24), NULL),
                            DataType::Float8 => (None, i4(53), NULL),
                            DataType::Numeric { precision, scale } => (
                                None,
                                precision.map_or(NULL, |p| i4(p as i32)),
                                scale.map_or(NULL, |s| i4(s as i32)),
                            ),
                            _ => (None, NULL, NULL),
                        };
                        let oid = type_oid(&c.data_type);
                        let udt = TYPES.iter().find(|x| x.0 == oid).map_or("text", |x| x.1);
                        rows.push(vec![
                            t(&ctx.database),
                            t(&tb.schema),
                            t(&tb.name),
                            t(&c.name),
                            i4(i as i32 + 1),
                            c.default.clone().map_or(NULL, t),
                            t(if c.nullable { "YES" } else { "NO" }),
                            t(info_schema_type(&c.data_type)),
                            len.unwrap_or(NULL),
                            prec,
                            scale,
                            t(udt),
                        ]);
                    }
                }
            }
        }
        return Ok(VirtualRelation { columns, rows });
    }
    match name {
        "pg_namespace" => {
            columns = vec![
                ("oid", OID),
                ("nspname", TEXT),
                ("nspowner", OID),
                ("nspacl", TEXT),
            ];
            for (oid, n) in [
                (PG_CATALOG_OID, "pg_catalog"),
                (PUBLIC_OID, "public"),
                (INFORMATION_SCHEMA_OID, "information_schema"),
            ] {
                // `public` belongs to pg_database_owner, as in PostgreSQL 15.
                let owner = if oid == PUBLIC_OID {
                    DATABASE_OWNER_OID
                } else {
                    SUPERUSER_OID
                };
                rows.push(vec![i8v(oid), t(n), i8v(owner), NULL]);
            }
        }
        "pg_class" => {
            columns = vec![
                ("oid", OID),
                ("relname", TEXT),
                ("relnamespace", OID),
                ("reltype", OID),
                ("reloftype", OID),
                ("relowner", OID),
                ("relam", OID),
                ("relfilenode", OID),
                ("reltablespace", OID),
                ("relpages", INT4),
                ("reltuples", DataType::Float4),
                ("relallvisible", INT4),
                ("reltoastrelid", OID),
                ("relhasindex", BOOL),
                ("relisshared", BOOL),
                ("relpersistence", TEXT),
                ("relkind", TEXT),
                ("relnatts", INT2),
                ("relchecks", INT2),
                ("relhasrules", BOOL),
                ("relhastriggers", BOOL),
                ("relhassubclass", BOOL),
                ("relrowsecurity", BOOL),
                ("relforcerowsecurity", BOOL),
                ("relispopulated", BOOL),
                ("relreplident", TEXT),
                ("relispartition", BOOL),
                ("relacl", TEXT),
                ("reloptions", TEXT),
                ("relpartbound", TEXT),
            ];
            for tb in &tables {
                let view = is_view(tb);
                let has_index = !tb.primary_key.is_empty() || !tb.indexes.is_empty();
                // PostgreSQL enforces foreign keys with (internal) triggers on both tables;
                // psql shows FK constraints only for tables with triggers.
                let is_fk = |c: &Constraint| matches!(c, Constraint::ForeignKey(_));
                let has_triggers = tb.constraints.iter().any(is_fk)
                    || tables.iter().any(|o| {
                        o.constraints
                            .iter()
                            .any(|c| matches!(c, Constraint::ForeignKey(f) if f.ref_table == tb.id))
                    });
                let checks = tb
                    .constraints
                    .iter()
                    .filter(|c| matches!(c, Constraint::Check { .. }))
                    .count();
                let class_row = |oid: i64, name: &str, kind: &str, natts: usize, am: i64| {
                    vec![
                        i8v(oid),
                        t(name),
                        i8v(namespace_oid(&tb.schema)),
                        i8v(0),
                        i8v(0),
                        i8v(SUPERUSER_OID),
                        i8v(am),
                        i8v(if kind == "v" { 0 } else { oid }),
                        i8v(0),
                        i4(0),
                        Value::Float4(-1.0),
                        i4(0),
                        i8v(0),
                        b(kind == "r" && has_index),
                        b(false),
                        t("p"),
                        t(kind),
                        i2(natts as i16),
                        i2(if kind == "r" { checks as i16 } else { 0 }),
                        b(kind == "v"),
                        b(kind == "r" && has_triggers),
                        b(false),
                        b(false),
                        b(false),
                        b(true),
                        t(if kind == "r" { "d" } else { "n" }),
                        b(false),
                        NULL,
                        NULL,
                        NULL,
                    ]
                };
                if view {
                    rows.push(class_row(table_oid(tb), &tb.name, "v", tb.columns.len(), 0));
                    continue;
                }
                rows.push(class_row(table_oid(tb), &tb.name, "r", tb.columns.len(), 2));
                if let Some(pk) = &tb.primary_key_name {
                    rows.push(class_row(pkey_oid(tb), pk, "i", tb.primary_key.len(), 403));
                }
                for ix in tb.indexes.iter().filter(|i| !i.primary) {
                    rows.push(class_row(
                        index_oid(ix.id),
                        &ix.name,
                        "i",
                        ix.columns.len(),
                        403,
                    ));
                }
            }
        }
        "pg_attribute" => {
            columns = vec![
                ("attrelid", OID),
                ("attname", TEXT),
                ("atttypid", OID),
                ("attlen", INT2),
                ("attnum", INT2),
                ("atttypmod", INT4),
                ("attndims", INT2),
                ("attnotnull", BOOL),
                ("atthasdef", BOOL),
                ("attidentity", TEXT),
                ("attgenerated", TEXT),
                ("attisdropped", BOOL),
                ("attislocal", BOOL),
                ("attinhcount", INT2),
                ("attcollation", OID),
                ("attstattarget", INT4),
                ("attstorage", TEXT),
                ("attcompression", TEXT),
                ("attacl", TEXT),
            ];
            let attr =
                |rel: i64, name: &str, ty: &DataType, num: usize, notnull: bool, def: bool| {
                    let oid = type_oid(ty);
                    let len = TYPES.iter().find(|x| x.0 == oid).map_or(-1, |x| x.2);
                    let collatable = matches!(
                        ty,
                        DataType::Text | DataType::Varchar(_) | DataType::Char(_)
                    );
                    vec![
                        i8v(rel),
                        t(name),
                        i8v(oid),
                        i2(len),
                        i2(num as i16),
                        i4(type_modifier(ty)),
                        i2(0),
                        b(notnull),
                        b(def),
                        t(""),
                        t(""),
                        b(false),
                        b(true),
                        i2(0),
                        i8v(if collatable { 100 } else { 0 }),
                        i4(-1),
                        t(storage_of(ty)),
                        t(""),
                        NULL,
                    ]
                };
            for tb in &tables {
                for (i, c) in tb.columns.iter().enumerate() {
                    rows.push(attr(
                        table_oid(tb),
                        &c.name,
                        &c.data_type,
                        i + 1,
                        !c.nullable,
                        c.default.is_some(),
                    ));
                }
                let mut index_cols = |oid: i64, cols: &[usize]| {
                    for (k, &pos) in cols.iter().enumerate() {
                        if let Some(c) = tb.columns.get(pos) {
                            rows.push(attr(oid, &c.name, &c.data_type, k + 1, false, false));
                        }
                    }
                };
                if tb.primary_key_name.is_some() {
                    index_cols(pkey_oid(tb), &tb.primary_key);
                }
                for ix in tb.indexes.iter().filter(|i| !i.primary) {
                    index_cols(index_oid(ix.id), &ix.columns);
                }
            }
        }
        "pg_type" => {
            columns = vec![
                ("oid", OID),
                ("typname", TEXT),
                ("typnamespace", OID),
                ("typowner", OID),
                ("typlen", INT2),
                ("typbyval", BOOL),
                ("typtype", TEXT),
                ("typcategory", TEXT),
                ("typispreferred", BOOL),
                ("typisdefined", BOOL),
                ("typdelim", TEXT),
                ("typrelid", OID),
                ("typelem", OID),
                ("typarray", OID),
                ("typnotnull", BOOL),
                ("typbasetype", OID),
                ("typtypmod", INT4),
                ("typndims", INT4),
                ("typcollation", OID),
            ];
            for &(oid, name, len, cat, array) in TYPES {
                let collation = if cat == "S" && name != "name" && name != "char" {
                    100
                } else {
                    0
                };
                let preferred = matches!(
                    name,
                    "bool" | "float8" | "text" | "timestamptz" | "interval" | "oid"
                );
                let row = |oid: i64,
                           name: String,
                           len: i16,
                           typtype: &str,
                           cat: &str,
                           elem: i64,
                           arr: i64| {
                    vec![
                        i8v(oid),
                        t(name),
                        i8v(PG_CATALOG_OID),
                        i8v(SUPERUSER_OID),
                        i2(len),
                        b(len > 0 && len <= 8),
                        t(typtype),
                        t(cat),
                        b(preferred && typtype == "b" && cat != "A"),
                        b(true),
                        t(","),
                        i8v(0),
                        i8v(elem),
                        i8v(arr),
                        b(false),
                        i8v(0),
                        i4(-1),
                        i4(0),
                        i8v(collation),
                    ]
                };
                rows.push(row(oid, name.to_string(), len, "b", cat, 0, array));
                rows.push(row(array, format!("_{name}"), -1, "b", "A", oid, 0));
            }
        }
        "pg_index" => {
            columns = vec![
                ("indexrelid", OID),
                ("indrelid", OID),
                ("indnatts", INT2),
                ("indnkeyatts", INT2),
                ("indisunique", BOOL),
                ("indisprimary", BOOL),
                ("indisexclusion", BOOL),
                ("indimmediate", BOOL),
                ("indisclustered", BOOL),
                ("indisvalid", BOOL),
                ("indcheckxmin", BOOL),
                ("indisready", BOOL),
                ("indislive", BOOL),
                ("indisreplident", BOOL),
                ("indkey", TEXT),
                ("indexprs", TEXT),
                ("indpred", TEXT),
                ("indnullsnotdistinct", BOOL),
            ];
            for tb in tables.iter().filter(|t| !is_view(t)) {
                let row = |oid: i64, cols: &[usize], unique: bool, primary: bool| {
                    let key: Vec<String> = cols.iter().map(|c| (c + 1).to_string()).collect();
                    vec![
                        i8v(oid),
                        i8v(table_oid(tb)),
                        i2(cols.len() as i16),
                        i2(cols.len() as i16),
                        b(unique),
                        b(primary),
                        b(false),
                        b(true),
                        b(false),
                        b(true),
                        b(false),
                        b(true),
                        b(true),
                        b(false),
                        t(key.join(" ")),
                        NULL,
                        NULL,
                        b(false),
                    ]
                };
                if tb.primary_key_name.is_some() {
                    rows.push(row(pkey_oid(tb), &tb.primary_key, true, true));
                }
                for ix in tb.indexes.iter().filter(|i| !i.primary) {
                    rows.push(row(index_oid(ix.id), &ix.columns, ix.unique, false));
                }
            }
        }
        "pg_constraint" => {
            columns = vec![
                ("oid", OID),
                ("conname", TEXT),
                ("connamespace", OID),
                ("contype", TEXT),
                ("condeferrable", BOOL),
                ("condeferred", BOOL),
                ("convalidated", BOOL),
                ("conrelid", OID),
                ("contypid", OID),
                ("conindid", OID),
                ("conparentid", OID),
                ("confrelid", OID),
                ("conkey", TEXT),
                ("confkey", TEXT),
                ("consrc", TEXT),
            ];
            for c in constraints(&tables) {
                rows.push(vec![
                    i8v(c.oid),
                    t(c.name),
                    i8v(c.namespace),
                    t(c.kind),
                    b(false),
                    b(false),
                    b(true),
                    i8v(c.relid),
                    i8v(0),
                    i8v(c.index),
                    i8v(0),
                    i8v(c.frelid),
                    t(c.key),
                    c.fkey.map_or(NULL, t),
                    c.check.map_or(NULL, t),
                ]);
            }
        }
        "pg_attrdef" => {
            columns = vec![
                ("oid", OID),
                ("adrelid", OID),
                ("adnum", INT2),
                ("adbin", TEXT),
            ];
            for tb in &tables {
                for (i, c) in tb.columns.iter().enumerate() {
                    if let Some(d) = &c.default {
                        rows.push(vec![
                            i8v(table_oid(tb) * 1000 + 500 + i as i64),
                            i8v(table_oid(tb)),
                            i2(i as i16 + 1),
                            t(d),
                        ]);
                    }
                }
            }
        }
        "pg_database" => {
            columns = vec![
                ("oid", OID),
                ("datname", TEXT),
                ("datdba", OID),
                ("encoding", INT4),
                ("datlocprovider", TEXT),
                ("datistemplate", BOOL),
                ("datallowconn", BOOL),
                ("datconnlimit", INT4),
                ("datcollate", TEXT),
                ("datctype", TEXT),
                ("daticulocale", TEXT),
                ("datacl", TEXT),
            ];
            rows.push(vec![
                i8v(DATABASE_OID),
                t(&ctx.database),
                i8v(SUPERUSER_OID),
                i4(6),
                t("c"),
                b(false),
                b(true),
                i4(-1),
                // Text compares byte by byte: the C collation.
                t("C"),
                t("C"),
                NULL,
                NULL,
            ]);
        }
        "pg_roles" | "pg_authid" => {
            columns = vec![
                ("oid", OID),
                ("rolname", TEXT),
                ("rolsuper", BOOL),
                ("rolinherit", BOOL),
                ("rolcreaterole", BOOL),
                ("rolcreatedb", BOOL),
                ("rolcanlogin", BOOL),
                ("rolreplication", BOOL),
                ("rolconnlimit", INT4),
                ("rolpassword", TEXT),
                ("rolvaliduntil", TEXT),
                ("rolbypassrls", BOOL),
                ("rolconfig", TEXT),
            ];
            rows.push(vec![
                i8v(SUPERUSER_OID),
                t(&ctx.user),
                b(true),
                b(true),
                b(true),
                b(true),
                b(true),
                b(true),
                i4(-1),
                t(if name == "pg_roles" { "********" } else { "" }),
                NULL,
                b(true),
                NULL,
            ]);
        }
        "pg_user" => {
            columns = vec![
                ("usename", TEXT),
                ("usesysid", OID),
                ("usecreatedb", BOOL),
                ("usesuper", BOOL),
                ("userepl", BOOL),
                ("usebypassrls", BOOL),
                ("passwd", TEXT),
                ("valuntil", TEXT),
                ("useconfig", TEXT),
            ];
            rows.push(vec![
                t(&ctx.user),
                i8v(SUPERUSER_OID),
                b(true),
                b(true),
                b(true),
                b(true),
                t("********"),
                NULL,
                NULL,
            ]);
        }
        "pg_settings" => {
            columns = vec![
                ("name", TEXT),
                ("setting", TEXT),
                ("unit", TEXT),
                ("category", TEXT),
                ("short_desc", TEXT),
                ("context", TEXT),
                ("vartype", TEXT),
                ("source", TEXT),
                ("boot_val", TEXT),
                ("reset_val", TEXT),
                ("pending_restart", BOOL),
            ];
            for n in SETTINGS {
                if let Some(v) = (ctx.setting)(n) {
                    rows.push(vec![
                        t(*n),
                        t(v.clone()),
                        NULL,
                        t(""),
                        t(""),
                        t("user"),
                        t("string"),
                        t("default"),
                        t(v.clone()),
                        t(v),
                        b(false),
                    ]);
                }
            }
        }
        "pg_am" => {
            columns = vec![
                ("oid", OID),
                ("amname", TEXT),
                ("amhandler", TEXT),
                ("amtype", TEXT),
            ];
            for (oid, n, h, k) in [
                (2, "heap", "heap_tableam_handler", "t"),
                (403, "btree", "bthandler", "i"),
                (405, "hash", "hashhandler", "i"),
            ] {
                rows.push(vec![i8v(oid), t(n), t(h), t(k)]);
            }
        }
        "pg_proc" => {
            columns = vec![
                ("oid", OID),
                ("proname", TEXT),
                ("pronamespace", OID),
                ("proowner", OID),
                ("prokind", TEXT),
                ("prorettype", OID),
                ("pronargs", INT2),
                ("proargtypes", TEXT),
            ];
        }
        "pg_description" => {
            columns = vec![
                ("objoid", OID),
                ("classoid", OID),
                ("objsubid", INT4),
                ("description", TEXT),
            ];
            // The one built-in object with a description psql shows (\\dx).
            rows.push(vec![
                i8v(PLPGSQL_OID),
                i8v(PG_EXTENSION_OID),
                i4(0),
                t("PL/pgSQL procedural language"),
            ]);
        }
        "pg_inherits" => {
            columns = vec![
                ("inhrelid", OID),
                ("inhparent", OID),
                ("inhseqno", INT4),
                ("inhdetachpending", BOOL),
            ];
        }
        // Objects sledgres does not have: the relations exist (psql's \\d joins them), empty.
        "pg_policy" => {
            columns = vec![
                ("oid", OID),
                ("polname", TEXT),
                ("polrelid", OID),
                ("polcmd", TEXT),
                ("polpermissive", BOOL),
                ("polroles", TEXT),
                ("polqual", TEXT),
                ("polwithcheck", TEXT),
            ];
        }
        "pg_statistic_ext" => {
            columns = vec![
                ("oid", OID),
                ("stxrelid", OID),
                ("stxname", TEXT),
                ("stxnamespace", OID),
                ("stxowner", OID),
                ("stxstattarget", INT4),
                ("stxkeys", TEXT),
                ("stxkind", TEXT),
            ];
        }
        "pg_publication" => {
            columns = vec![
                ("oid", OID),
                ("pubname", TEXT),
                ("pubowner", OID),
                ("puballtables", BOOL),
            ];
        }
        "pg_publication_namespace" => {
            columns = vec![("oid", OID), ("pnpubid", OID), ("pnnspid", OID)];
        }
        "pg_publication_rel" => {
            columns = vec![
                ("oid", OID),
                ("prpubid", OID),
                ("prrelid", OID),
                ("prqual", TEXT),
                ("prattrs", TEXT),
            ];
        }
        "pg_trigger" => {
            columns = vec![
                ("oid", OID),
                ("tgrelid", OID),
                ("tgparentid", OID),
                ("tgname", TEXT),
                ("tgenabled", TEXT),
                ("tgisinternal", BOOL),
            ];
        }
        "pg_auth_members" => {
            columns = vec![
                ("roleid", OID),
                ("member", OID),
                ("grantor", OID),
                ("admin_option", BOOL),
            ];
        }
        "pg_tablespace" => {
            columns = vec![("oid", OID), ("spcname", TEXT), ("spcowner", OID)];
            rows.push(vec![i8v(1663), t("pg_default"), i8v(SUPERUSER_OID)]);
            rows.push(vec![i8v(1664), t("pg_global"), i8v(SUPERUSER_OID)]);
        }
        "pg_extension" => {
            columns = vec![
                ("oid", OID),
                ("extname", TEXT),
                ("extowner", OID),
                ("extnamespace", OID),
                ("extversion", TEXT),
            ];
            rows.push(vec![
                i8v(PLPGSQL_OID),
                t("plpgsql"),
                i8v(SUPERUSER_OID),
                i8v(PG_CATALOG_OID),
                t("1.0"),
            ]);
        }
        "pg_collation" => {
            columns = vec![
                ("oid", OID),
                ("collname", TEXT),
                ("collnamespace", OID),
                ("collprovider", TEXT),
            ];
            for (oid, n, p) in [(100, "default", "d"), (950, "C", "c"), (951, "POSIX", "c")] {
                rows.push(vec![i8v(oid), t(n), i8v(PG_CATALOG_OID), t(p)]);
            }
        }
        "pg_tables" => {
            columns = vec![
                ("schemaname", TEXT),
                ("tablename", TEXT),
                ("tableowner", TEXT),
                ("tablespace", TEXT),
                ("hasindexes", BOOL),
                ("hasrules", BOOL),
                ("hastriggers", BOOL),
                ("rowsecurity", BOOL),
            ];
            for tb in tables.iter().filter(|t| !is_view(t)) {
                rows.push(vec![
                    t(&tb.schema),
                    t(&tb.name),
                    t(&ctx.user),
                    NULL,
                    b(!tb.primary_key.is_empty() || !tb.indexes.is_empty()),
                    b(false),
                    b(false),
                    b(false),
                ]);
            }
        }
        "pg_views" => {
            columns = vec![
                ("schemaname", TEXT),
                ("viewname", TEXT),
                ("viewowner", TEXT),
                ("definition", TEXT),
            ];
            for tb in tables.iter().filter(|t| is_view(t)) {
                rows.push(vec![
                    t(&tb.schema),
                    t(&tb.name),
                    t(&ctx.user),
                    t(crate::binder::view::view_sql(tb).unwrap_or("")),
                ]);
            }
        }
        _ => {
            // pg_indexes
            columns = vec![
                ("schemaname", TEXT),
                ("tablename", TEXT),
                ("indexname", TEXT),
                ("tablespace", TEXT),
                ("indexdef", TEXT),
            ];
            for tb in tables.iter().filter(|t| !is_view(t)) {
                let def = |name: &str, cols: &[usize], unique: bool| {
                    let names: Vec<&str> = cols
                        .iter()
                        .filter_map(|c| tb.columns.get(*c).map(|c| c.name.as_str()))
                        .collect();
                    format!(
                        "CREATE {}INDEX {name} ON {}.{} USING btree ({})",
                        if unique { "UNIQUE " } else { "" },
                        tb.schema,
                        tb.name,
                        names.join(", ")
                    )
                };
                if let Some(pk) = &tb.primary_key_name {
                    rows.push(vec![
                        t(&tb.schema),
                        t(&tb.name),
                        t(pk),
                        NULL,
                        t(def(pk, &tb.primary_key, true)),
                    ]);
                }
                for ix in tb.indexes.iter().filter(|i| !i.primary) {
                    rows.push(vec![
                        t(&tb.schema),
                        t(&tb.name),
                        t(&ix.name),
                        NULL,
                        t(def(&ix.name, &ix.columns, ix.unique)),
                    ]);
                }
            }
        }
    }
    Ok(VirtualRelation { columns, rows })
}

/// attstorage: PostgreSQL's typstorage for the column's type.
fn storage_of(ty: &DataType) -> &'static str {
    match ty {
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Bytea => "x",
        DataType::Numeric { .. } => "m",
        _ => "p",
    }
}

/// One row of pg_constraint, with its definition as `pg_get_constraintdef` prints it.
pub struct ConstraintInfo {
    pub oid: i64,
    pub name: String,
    pub namespace: i64,
    /// `p`, `u`, `c` or `f`.
    pub kind: &'static str,
    pub relid: i64,
    pub index: i64,
    pub frelid: i64,
    pub key: String,
    pub fkey: Option<String>,
    pub check: Option<String>,
    pub definition: String,
}

/// Every table's constraints, in a stable order (their OIDs derive from it).
pub fn constraints(tables: &[std::sync::Arc<TableDef>]) -> Vec<ConstraintInfo> {
    let mut out = vec![];
    for tb in tables
        .iter()
        .filter(|t| crate::binder::view::view_sql(t).is_none())
    {
        let key = |cols: &[usize]| {
            let v: Vec<String> = cols.iter().map(|c| (c + 1).to_string()).collect();
            format!("{{{}}}", v.join(","))
        };
        let names = |t: &TableDef, cols: &[usize]| -> String {
            cols.iter()
                .filter_map(|c| t.columns.get(*c).map(|c| quote_ident(&c.name)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut next = 0i64;
        let mut add = |out: &mut Vec<ConstraintInfo>, mut c: ConstraintInfo| {
            next += 1;
            // Constraint OIDs: after the table's, in the user range.
            c.oid = table_oid(tb) * 1000 + next;
            out.push(c);
        };
        let base = |name: &str, kind, index, key: String, definition: String| ConstraintInfo {
            oid: 0,
            name: name.to_string(),
            namespace: namespace_oid(&tb.schema),
            kind,
            relid: table_oid(tb),
            index,
            frelid: 0,
            key,
            fkey: None,
            check: None,
            definition,
        };
        if let Some(pk) = &tb.primary_key_name {
            let def = format!("PRIMARY KEY ({})", names(tb, &tb.primary_key));
            add(
                &mut out,
                base(pk, "p", pkey_oid(tb), key(&tb.primary_key), def),
            );
        }
        for ix in tb.indexes.iter().filter(|i| i.unique && !i.primary) {
            let def = format!("UNIQUE ({})", names(tb, &ix.columns));
            add(
                &mut out,
                base(&ix.name, "u", index_oid(ix.id), key(&ix.columns), def),
            );
        }
        for c in &tb.constraints {
            match c {
                Constraint::Check { name, expr, .. } => {
                    let mut row = base(name, "c", 0, "{}".into(), format!("CHECK ({expr})"));
                    row.check = Some(expr.clone());
                    add(&mut out, row);
                }
                Constraint::ForeignKey(fk) => {
                    let Some(rt) = tables.iter().find(|t| t.id == fk.ref_table) else {
                        continue;
                    };
                    let mut def = format!(
                        "FOREIGN KEY ({}) REFERENCES {}({})",
                        names(tb, &fk.columns),
                        quote_ident(&rt.name),
                        names(rt, &fk.ref_columns)
                    );
                    for (what, action) in [("UPDATE", fk.on_update), ("DELETE", fk.on_delete)] {
                        let a = match action {
                            FkAction::NoAction => continue,
                            FkAction::Restrict => "RESTRICT",
                            FkAction::Cascade => "CASCADE",
                            FkAction::SetNull => "SET NULL",
                            FkAction::SetDefault => "SET DEFAULT",
                        };
                        def.push_str(&format!(" ON {what} {a}"));
                    }
                    let mut row = base(&fk.name, "f", 0, key(&fk.columns), def);
                    row.frelid = table_oid(rt);
                    row.fkey = Some(key(&fk.ref_columns));
                    add(&mut out, row);
                }
            }
        }
    }
    out
}

/// `pg_get_indexdef(oid, column)` for every index: ((index OID, column number), text); column
/// 0 is the whole `CREATE INDEX` statement, column k the k-th key column.
pub fn index_definitions(tables: &[std::sync::Arc<TableDef>]) -> Vec<((i64, i64), String)> {
    let mut out = vec![];
    for tb in tables
        .iter()
        .filter(|t| crate::binder::view::view_sql(t).is_none())
    {
        let def = |name: &str, cols: &[usize], unique: bool| {
            let names: Vec<String> = cols
                .iter()
                .filter_map(|c| tb.columns.get(*c).map(|c| quote_ident(&c.name)))
                .collect();
            format!(
                "CREATE {}INDEX {} ON {}.{} USING btree ({})",
                if unique { "UNIQUE " } else { "" },
                quote_ident(name),
                quote_ident(&tb.schema),
                quote_ident(&tb.name),
                names.join(", ")
            )
        };
        let mut push = |oid: i64, name: &str, cols: &[usize], unique: bool| {
            out.push(((oid, 0), def(name, cols, unique)));
            for (k, c) in cols.iter().enumerate() {
                if let Some(c) = tb.columns.get(*c) {
                    out.push(((oid, k as i64 + 1), quote_ident(&c.name)));
                }
            }
        };
        if let Some(pk) = &tb.primary_key_name {
            push(pkey_oid(tb), pk, &tb.primary_key, true);
        }
        for ix in tb.indexes.iter().filter(|i| !i.primary) {
            push(index_oid(ix.id), &ix.name, &ix.columns, ix.unique);
        }
    }
    out
}

/// Every relation's OID and name (the output of `::regclass`), tables, views and indexes.
pub fn relation_names(tables: &[std::sync::Arc<TableDef>]) -> Vec<(i64, String)> {
    let mut out: Vec<(i64, String)> = SYSTEM_RELATIONS
        .iter()
        .map(|(o, n)| (*o, n.to_string()))
        .collect();
    for tb in tables {
        out.push((table_oid(tb), quote_ident(&tb.name)));
        if let Some(pk) = &tb.primary_key_name {
            out.push((pkey_oid(tb), quote_ident(pk)));
        }
        for ix in tb.indexes.iter().filter(|i| !i.primary) {
            out.push((index_oid(ix.id), quote_ident(&ix.name)));
        }
    }
    out
}

/// The OIDs and names of the schemas.
pub const NAMESPACES: &[(i64, &str)] = &[
    (PG_CATALOG_OID, "pg_catalog"),
    (PUBLIC_OID, "public"),
    (INFORMATION_SCHEMA_OID, "information_schema"),
];

/// `quote_ident`: double-quoted unless a plain lower-case identifier that is not reserved.
pub fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !crate::binder::catalog::is_reserved(s);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// information_schema.columns.data_type: the SQL-standard spelling.
fn info_schema_type(ty: &DataType) -> String {
    match ty {
        DataType::Varchar(_) => "character varying".into(),
        DataType::Char(_) => "character".into(),
        DataType::Numeric { .. } => "numeric".into(),
        other => format_type(type_oid(other), -1).unwrap_or_else(|| "text".into()),
    }
}

/// Settings listed by pg_settings (those the session knows).
const SETTINGS: &[&str] = &[
    "application_name",
    "client_encoding",
    "client_min_messages",
    "DateStyle",
    "deadlock_timeout",
    "default_transaction_deferrable",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "extra_float_digits",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "lock_timeout",
    "search_path",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "statement_timeout",
    "TimeZone",
    "work_mem",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_type_matches_postgres() {
        assert_eq!(format_type(23, -1).as_deref(), Some("integer"));
        assert_eq!(
            format_type(1043, 14).as_deref(),
            Some("character varying(10)")
        );
        assert_eq!(
            format_type(1700, ((10 << 16) | 2) + 4).as_deref(),
            Some("numeric(10,2)")
        );
        assert_eq!(
            format_type(1114, -1).as_deref(),
            Some("timestamp without time zone")
        );
        assert_eq!(format_type(424242, -1), None);
    }

    #[test]
    fn user_oids_never_collide() {
        let mut seen = std::collections::HashSet::new();
        for id in 0..1000u32 {
            assert!(seen.insert(FIRST_USER_OID + 3 * id as i64));
            assert!(seen.insert(index_oid(id)));
            assert!(seen.insert(FIRST_USER_OID + 3 * id as i64 + 2));
        }
    }
}
