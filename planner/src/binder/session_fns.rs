//! Functions that read the session rather than their arguments: `current_setting(name
//! [, missing_ok])`.
//!
//! The setting is read when the statement is bound, and the call becomes a text literal.
//! For a simple query that is exactly PostgreSQL's answer; a prepared statement executed
//! again after a SET keeps the value it was planned with (PostgreSQL would re-read it).
//! The name must be a constant, as it nearly always is.

use super::{unsupported, Binder};
use crate::error::Result;
use crate::plan::Expr;
use sledgres_storage::{DataType, Value};
use sqlparser::ast;

impl Binder<'_> {
    pub(crate) fn bind_current_setting(&mut self, args: &[&ast::Expr]) -> Result<Expr> {
        let text = |e: &ast::Expr| match e {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        };
        let (name, missing_ok) = match args {
            [n] => (text(n), false),
            [n, ast::Expr::Value(v)] => match &v.value {
                ast::Value::Boolean(b) => (text(n), *b),
                _ => (None, false),
            },
            _ => (None, false),
        };
        let (Some(name), Some(read)) = (name, self.settings.clone()) else {
            return Err(unsupported("current_setting() with these arguments"));
        };
        match read(&name) {
            Ok(v) => Ok(Expr::Literal(Value::Text(v), DataType::Text)),
            Err(_) if missing_ok => Ok(Expr::Literal(Value::Null, DataType::Text)),
            Err(e) => Err(e),
        }
    }
}
