//! Functions that read or change the session rather than compute from their arguments:
//! `current_setting(name [, missing_ok])` and `set_config(name, value, is_local)`.
//!
//! Both act when the statement is bound, and the call becomes a text literal (the value).
//! For a simple query that is exactly PostgreSQL's behaviour; a prepared statement keeps
//! the value it was planned with, and its set_config takes effect at Parse rather than at
//! each Execute. Arguments must be constants, as they nearly always are (pg_dump's
//! `SELECT pg_catalog.set_config('search_path', '', false)`). `is_local = true` lasts until
//! the end of the transaction, like SET LOCAL.

use super::{unsupported, Binder};
use crate::error::Result;
use crate::plan::Expr;
use sledgres_storage::{DataType, Value};
use sqlparser::ast;

fn text(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn boolean(e: &ast::Expr) -> Option<bool> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Boolean(b) => Some(*b),
            _ => None,
        },
        _ => None,
    }
}

impl Binder<'_> {
    pub(crate) fn bind_current_setting(&mut self, args: &[&ast::Expr]) -> Result<Expr> {
        let (name, missing_ok) = match args {
            [n] => (text(n), false),
            [n, m] => match boolean(m) {
                Some(b) => (text(n), b),
                None => (None, false),
            },
            _ => (None, false),
        };
        let (Some(name), Some(read)) = (name, self.settings.clone()) else {
            return Err(unsupported("current_setting() with these arguments"));
        };
        match read.get(&name) {
            Ok(v) => Ok(Expr::Literal(Value::Text(v), DataType::Text)),
            Err(_) if missing_ok => Ok(Expr::Literal(Value::Null, DataType::Text)),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn bind_set_config(&mut self, args: &[&ast::Expr]) -> Result<Expr> {
        let (Some(name), Some(value), Some(local)) = (
            args.first().and_then(|e| text(e)),
            args.get(1).and_then(|e| text(e)),
            args.get(2).and_then(|e| boolean(e)),
        ) else {
            return Err(unsupported("set_config() with these arguments"));
        };
        if args.len() != 3 {
            return Err(unsupported("set_config() with these arguments"));
        }
        let Some(settings) = self.settings.clone() else {
            return Err(unsupported("set_config() here"));
        };
        let shown = settings.check(&name, &value)?;
        self.settings_to_set.push((name, value, local));
        Ok(Expr::Literal(Value::Text(shown), DataType::Text))
    }
}
