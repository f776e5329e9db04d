//! FROM items that name a virtual system catalog (`pg_class`, `information_schema.tables` …):
//! the relation is computed now, from the statement's transaction (see `crate::catalog`), and
//! bound as a constant VALUES relation. Also the functions clients call about the catalog
//! and the session (`bind_catalog_function`).

use super::{name_parts, Binder, ScopeColumn};
use crate::catalog::{self, CatalogContext};
use crate::error::Result;
use crate::plan::{Expr, Plan};
use sledgres_storage::{DataType, Value};
use sqlparser::ast;

impl Binder<'_> {
    /// The plan for `name` if it is a virtual catalog relation, with its columns in scope
    /// under `qual` (renamed by `renames`); `None` for anything else.
    pub(crate) fn bind_virtual_relation(
        &mut self,
        name: &ast::ObjectName,
        qual: &str,
        renames: &[String],
    ) -> Result<Option<Plan>> {
        let parts = name_parts(name)?;
        let (schema, rel) = match parts.as_slice() {
            [r] => (None, r.as_str()),
            [s, r] => (Some(s.as_str()), r.as_str()),
            _ => return Ok(None),
        };
        if !catalog::is_virtual(schema, rel) {
            return Ok(None);
        }
        let user = self
            .settings
            .as_ref()
            .and_then(|s| s.get("session_authorization").ok())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "postgres".into());
        let reader = self.settings.clone();
        let setting = move |n: &str| reader.as_ref().and_then(|r| r.get(n).ok());
        let ctx = CatalogContext {
            txn: self.txn,
            user,
            database: "postgres".into(),
            setting: &setting,
        };
        // `pg_class` unqualified is pg_catalog's: it is first on the search path.
        let relation = catalog::relation(&ctx, schema.or(Some("pg_catalog")), rel)?;
        let mut cols = vec![];
        for (i, (cname, ty)) in relation.columns.iter().enumerate() {
            let id = self.new_col();
            cols.push((id, ty.clone()));
            self.scope().cols.push(ScopeColumn {
                table: Some(qual.to_string()),
                name: renames.get(i).cloned().unwrap_or_else(|| cname.to_string()),
                id,
                ty: ty.clone(),
                hidden: false,
            });
        }
        let rows = relation
            .rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .zip(&relation.columns)
                    .map(|(v, (_, ty))| Expr::Literal(v, ty.clone()))
                    .collect()
            })
            .collect();
        Ok(Some(Plan::Values { cols, rows }))
    }
}

/// `format_type(oid, typmod)`; a NULL typmod means none.
fn format_type_fn(args: &[Value]) -> Result<Value> {
    let Some(oid) = int_arg(args.first()) else {
        return Ok(Value::Null);
    };
    let typmod = int_arg(args.get(1)).unwrap_or(-1) as i32;
    Ok(Value::Text(
        catalog::format_type(oid, typmod).unwrap_or_else(|| "???".into()),
    ))
}

fn pg_encoding_to_char(args: &[Value]) -> Result<Value> {
    Ok(Value::Text(
        match int_arg(args.first()) {
            Some(6) => "UTF8",
            Some(0) => "SQL_ASCII",
            _ => "",
        }
        .into(),
    ))
}

fn always_true(_: &[Value]) -> Result<Value> {
    Ok(Value::Bool(true))
}

fn first_arg(args: &[Value]) -> Result<Value> {
    Ok(args.first().cloned().unwrap_or(Value::Null))
}

/// `quote_ident(text)`: double-quoted unless a plain lower-case identifier.
fn quote_ident_fn(args: &[Value]) -> Result<Value> {
    let Some(Value::Text(s)) = args.first() else {
        return Ok(Value::Null);
    };
    Ok(Value::Text(catalog::quote_ident(s)))
}

/// Whether quote_ident must quote `word` as a reserved keyword.
pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word)
}

fn always_false(_: &[Value]) -> Result<Value> {
    Ok(Value::Bool(false))
}

/// Reserved words quote_ident must quote (PostgreSQL's reserved keywords, most common).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "initially",
    "intersect",
    "into",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

fn int_arg(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Int2(n) => Some(*n as i64),
        Value::Int4(n) => Some(*n as i64),
        Value::Int8(n) => Some(*n),
        _ => None,
    }
}

impl Binder<'_> {
    /// Functions clients call to read the catalog and the session (`version()`,
    /// `current_user`, `format_type` …). `None`: not one of them.
    pub(crate) fn bind_catalog_function(
        &mut self,
        name: &str,
        args: &[&ast::Expr],
    ) -> Result<Option<Expr>> {
        let text = |s: String| Some(Expr::Literal(Value::Text(s), DataType::Text));
        let user = self
            .settings
            .as_ref()
            .and_then(|s| s.get("session_authorization").ok())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "postgres".into());
        if args.is_empty() {
            return Ok(match name {
                "current_user" | "session_user" | "user" | "current_role" => text(user.clone()),
                "current_database" | "current_catalog" => text("postgres".into()),
                "current_schema" => text("public".into()),
                "version" => {
                    let v = self
                        .settings
                        .as_ref()
                        .and_then(|s| s.get("server_version").ok())
                        .unwrap_or_else(|| "15".into());
                    // server_version already names sledgres: "15.0 (sledgres x.y.z)".
                    text(format!("PostgreSQL {v} on x86_64-pc-linux-gnu, 64-bit"))
                }
                "pg_backend_pid" => {
                    Some(Expr::Literal(Value::Int4(self.backend_pid), DataType::Int4))
                }
                _ => None,
            });
        }
        type Sig = (&'static [DataType], DataType, bool, crate::scalar::ScalarFn);
        const OID1: &[DataType] = &[DataType::Int8];
        let sig: Sig = match (name, args.len()) {
            ("format_type", 2) => (
                &[DataType::Int8, DataType::Int4],
                DataType::Text,
                false,
                format_type_fn,
            ),
            ("pg_table_is_visible" | "pg_type_is_visible", 1) => {
                (OID1, DataType::Bool, true, always_true)
            }
            ("pg_encoding_to_char", 1) => {
                (&[DataType::Int4], DataType::Text, true, pg_encoding_to_char)
            }
            ("quote_ident", 1) => (&[DataType::Text], DataType::Text, true, quote_ident_fn),
            ("pg_get_expr", 2) => (
                &[DataType::Text, DataType::Int8],
                DataType::Text,
                true,
                first_arg,
            ),
            ("pg_get_expr", 3) => (
                &[DataType::Text, DataType::Int8, DataType::Bool],
                DataType::Text,
                true,
                first_arg,
            ),
            ("pg_get_userbyid", 1) => {
                // Every object belongs to the one (super)user, but schema public to
                // pg_database_owner.
                let oid = self.bind_expr(args[0])?;
                let oid = self.coerce(oid, &DataType::Int8)?;
                let map = vec![(catalog::DATABASE_OWNER_OID, "pg_database_owner".to_string())];
                let fallback = Expr::Literal(Value::Text(user.clone()), DataType::Text);
                return super::pg_compat::oid_lookup(oid, map, fallback).map(Some);
            }
            ("pg_get_indexdef", 1 | 3) | ("pg_get_constraintdef", 1 | 2) => {
                // Definitions from the catalog the statement sees (binder/pg_compat.rs).
                let oid = self.bind_expr(args[0])?;
                let oid = self.coerce(oid, &DataType::Int8)?;
                let tables = self.txn.list_tables()?;
                let null = Expr::Literal(Value::Null, DataType::Text);
                if name == "pg_get_constraintdef" {
                    if let Some(pretty) = args.get(1) {
                        let p = self.bind_expr(pretty)?;
                        self.coerce(p, &DataType::Bool)?;
                    }
                    let map = catalog::constraints(&tables)
                        .into_iter()
                        .map(|c| (c.oid, c.definition))
                        .collect();
                    return super::pg_compat::oid_lookup(oid, map, null).map(Some);
                }
                // pg_get_indexdef(oid, column, pretty): keyed by oid * 2^16 + column.
                let column = match args.get(1) {
                    Some(c) => {
                        let c = self.bind_expr(c)?;
                        self.coerce(c, &DataType::Int8)?
                    }
                    None => Expr::Literal(Value::Int8(0), DataType::Int8),
                };
                if let Some(pretty) = args.get(2) {
                    let p = self.bind_expr(pretty)?;
                    self.coerce(p, &DataType::Bool)?;
                }
                let scaled = self.call_binary(
                    crate::scalar::BinaryOp::Multiply,
                    oid,
                    Expr::Literal(Value::Int8(1 << 16), DataType::Int8),
                )?;
                let key = self.call_binary(crate::scalar::BinaryOp::Add, scaled, column)?;
                let map = catalog::index_definitions(&tables)
                    .into_iter()
                    .map(|((o, c), d)| ((o << 16) + c, d))
                    .collect();
                return super::pg_compat::oid_lookup(key, map, null).map(Some);
            }
            ("pg_tablespace_location", 1) => {
                // Both tablespaces are built in: no location.
                self.bind_expr(args[0])?;
                return Ok(text(String::new()));
            }
            // No relation is partitioned: its only "ancestor" is itself.
            ("pg_partition_ancestors", 1) => (OID1, DataType::Int8, true, first_arg),
            ("pg_relation_is_publishable", 1) => (OID1, DataType::Bool, true, always_false),
            ("pg_function_is_visible", 1) => (OID1, DataType::Bool, true, always_true),
            (
                "pg_get_statisticsobjdef_columns"
                | "pg_get_triggerdef"
                | "pg_get_function_result"
                | "pg_get_function_arguments"
                | "pg_get_function_identity_arguments",
                1 | 2,
            ) => {
                for a in args {
                    self.bind_expr(a)?;
                }
                return Ok(Some(Expr::Literal(Value::Null, DataType::Text)));
            }
            ("array_to_string", 2 | 3) => (
                &[DataType::Text, DataType::Text, DataType::Text],
                DataType::Text,
                true,
                crate::scalar::text_array::array_to_string,
            ),
            ("array_upper" | "array_length", 2) => (
                &[DataType::Text, DataType::Int4],
                DataType::Int4,
                true,
                crate::scalar::text_array::array_upper,
            ),
            ("regexp_replace", 3 | 4) => (
                &[
                    DataType::Text,
                    DataType::Text,
                    DataType::Text,
                    DataType::Text,
                ],
                DataType::Text,
                true,
                crate::scalar::regex::regexp_replace,
            ),
            ("regexp_match", 2) => (
                &[DataType::Text, DataType::Text],
                DataType::Text,
                true,
                crate::scalar::regex::regexp_match,
            ),
            // Internal helpers of ARRAY(subquery) (binder/pg_compat.rs).
            ("sledgres_array_quote_element", 1) => (
                &[DataType::Text],
                DataType::Text,
                false,
                super::pg_compat::array_quote_element,
            ),
            ("sledgres_array_from_elements", 1) => (
                &[DataType::Text],
                DataType::Text,
                false,
                super::pg_compat::array_from_elements,
            ),
            ("obj_description" | "col_description" | "shobj_description", 1 | 2) => {
                return Ok(Some(Expr::Literal(Value::Null, DataType::Text)));
            }
            (
                "has_table_privilege"
                | "has_schema_privilege"
                | "has_database_privilege"
                | "has_column_privilege"
                | "has_function_privilege"
                | "pg_has_role"
                | "has_sequence_privilege",
                2..=4,
            ) => return Ok(Some(Expr::Literal(Value::Bool(true), DataType::Bool))),
            _ => return Ok(None),
        };
        let (types, result_type, strict, func) = sig;
        let mut bound = vec![];
        for (a, ty) in args.iter().zip(types) {
            let e = self.bind_expr(a)?;
            bound.push(self.coerce(e, ty)?);
        }
        Ok(Some(Expr::Call(
            crate::scalar::Resolved {
                arg_types: types.to_vec(),
                result_type,
                strict,
                func,
            },
            bound,
            None,
        )))
    }
}
