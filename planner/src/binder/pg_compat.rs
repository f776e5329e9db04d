//! PostgreSQL syntax that catalog queries (psql's `\d` family, drivers' metadata calls) use
//! and ordinary queries rarely do: regular-expression operators (`~`, `!~*` …, also spelled
//! `OPERATOR(pg_catalog.~)`), `COLLATE`, the OID alias types (`::regclass`, `::regtype`,
//! `::regnamespace`), array casts, `ARRAY(subquery)`, `x = ANY(array)` and subscripts.
//!
//! Arrays are their text form (see `scalar::text_array`): the catalogs hold array columns
//! as text, so `ARRAY(subquery)` is a scalar subquery that aggregates its rows into
//! `{a,b}`, and a cast to `T[]` is a cast to text.
//!
//! The OID alias types follow PostgreSQL's input and output functions without being types:
//! a string literal cast to `regclass` is its input (the relation's OID, looked up now, as
//! PostgreSQL resolves a regclass constant when the query is parsed), and any other value
//! cast to `regclass` is its output (the relation's name, from the statement's catalog as
//! the virtual catalogs see it; an unknown OID prints as its number). Lookups from OIDs to
//! definitions (`pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_userbyid`) are bound the
//! same way, as a CASE over the catalog the statement sees.
//!
//! COLLATE accepts the collations that exist (`default`, `C`, `POSIX`, qualified or not):
//! text compares byte by byte, which is what all three mean here.

use super::{name_parts, unsupported, Binder};
use crate::catalog;
use crate::error::{Error, ErrorKind, Result};
use crate::plan::Expr;
use crate::scalar::{self, regex, text_array, BinaryOp, Resolved, ScalarFn};
use sledgres_storage::{DataType, Value};
use sqlparser::ast;

impl Binder<'_> {
    /// `a ~ b` and friends; `None` when `op` is not a regex operator. `OPERATOR(schema.op)`
    /// is bound as the plain operator.
    pub(crate) fn bind_pg_operator(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
    ) -> Result<Option<Expr>> {
        use ast::BinaryOperator as B;
        let func: ScalarFn = match op {
            B::PGRegexMatch => regex::regex_match,
            B::PGRegexIMatch => regex::regex_imatch,
            B::PGRegexNotMatch => regex::regex_not_match,
            B::PGRegexNotIMatch => regex::regex_not_imatch,
            B::PGLikeMatch | B::PGILikeMatch | B::PGNotLikeMatch | B::PGNotILikeMatch => {
                let sym = match op {
                    B::PGLikeMatch => "~~",
                    B::PGILikeMatch => "~~*",
                    B::PGNotLikeMatch => "!~~",
                    _ => "!~~*",
                };
                let custom = B::PGCustomBinaryOperator(vec![sym.to_string()]);
                return self.bind_pg_operator(left, &custom, right);
            }
            B::PGCustomBinaryOperator(parts) => {
                let (schema, sym) = match parts.as_slice() {
                    [sym] => (None, sym.as_str()),
                    [schema, sym] => (Some(schema.as_str()), sym.as_str()),
                    _ => return Err(unsupported(&format!("operator {op}"))),
                };
                if schema.is_some_and(|s| s != "pg_catalog") {
                    return Err(undefined_operator(sym));
                }
                let plain = match sym {
                    "~" => B::PGRegexMatch,
                    "~*" => B::PGRegexIMatch,
                    "!~" => B::PGRegexNotMatch,
                    "!~*" => B::PGRegexNotIMatch,
                    "=" => B::Eq,
                    "<>" | "!=" => B::NotEq,
                    "<" => B::Lt,
                    "<=" => B::LtEq,
                    ">" => B::Gt,
                    ">=" => B::GtEq,
                    "+" => B::Plus,
                    "-" => B::Minus,
                    "*" => B::Multiply,
                    "/" => B::Divide,
                    "%" => B::Modulo,
                    "||" => B::StringConcat,
                    "~~" | "!~~" | "~~*" | "!~~*" => {
                        let e = ast::Expr::Like {
                            negated: sym.starts_with('!'),
                            any: false,
                            expr: Box::new(left.clone()),
                            pattern: Box::new(right.clone()),
                            escape_char: None,
                        };
                        let e = if sym.ends_with('*') {
                            match e {
                                ast::Expr::Like {
                                    negated,
                                    any,
                                    expr,
                                    pattern,
                                    escape_char,
                                } => ast::Expr::ILike {
                                    negated,
                                    any,
                                    expr,
                                    pattern,
                                    escape_char,
                                },
                                other => other,
                            }
                        } else {
                            e
                        };
                        return self.bind_expr(&e).map(Some);
                    }
                    _ => return Err(undefined_operator(sym)),
                };
                let e = ast::Expr::BinaryOp {
                    left: Box::new(left.clone()),
                    op: plain,
                    right: Box::new(right.clone()),
                };
                return self.bind_expr(&e).map(Some);
            }
            _ => return Ok(None),
        };
        let l = self.bind_expr(left)?;
        let r = self.bind_expr(right)?;
        let l = self.coerce_text(l)?;
        let r = self.coerce_text(r)?;
        Ok(Some(call(
            func,
            &[DataType::Text, DataType::Text],
            DataType::Bool,
            vec![l, r],
        )))
    }

    /// An operand of a text operator: unknown literals become text, other types must be a
    /// string type.
    fn coerce_text(&mut self, e: Expr) -> Result<Expr> {
        match e.ty() {
            None | Some(DataType::Text | DataType::Varchar(_)) => self.coerce(e, &DataType::Text),
            Some(DataType::Char(_)) => self.coerce(e, &DataType::Text),
            Some(t) => Err(Error::new(
                ErrorKind::UndefinedFunction,
                format!("operator does not exist: {} ~ text", t.pg_name()),
            )
            .with_hint(
                "No operator matches the given name and argument types. You might need to add explicit type casts.",
            )),
        }
    }

    /// `expr COLLATE name`.
    pub(crate) fn bind_collate(
        &mut self,
        expr: &ast::Expr,
        collation: &ast::ObjectName,
    ) -> Result<Expr> {
        let parts = name_parts(collation)?;
        let (schema, name) = match parts.as_slice() {
            [n] => (None, n.as_str()),
            [s, n] => (Some(s.as_str()), n.as_str()),
            _ => (Some(""), ""),
        };
        let known = matches!(schema, None | Some("pg_catalog"))
            && matches!(
                name,
                "default" | "C" | "POSIX" | "c" | "posix" | "ucs_basic"
            );
        if !known {
            return Err(Error::new(
                ErrorKind::UndefinedObject,
                format!(
                    "collation \"{}\" for encoding \"UTF8\" does not exist",
                    parts.join(".")
                ),
            ));
        }
        self.bind_expr(expr)
    }

    /// Casts to the OID alias types and to array types; `None` for any other cast.
    pub(crate) fn bind_pg_cast(
        &mut self,
        expr: &ast::Expr,
        ty: &ast::DataType,
    ) -> Result<Option<Expr>> {
        let name = match ty {
            ast::DataType::Array(_) => {
                // Arrays are their text form.
                let e = self.bind_expr(expr)?;
                return self.explicit_cast(e, &DataType::Text).map(Some);
            }
            ast::DataType::Custom(name, _) => name_parts(name)?,
            ast::DataType::Regclass => vec!["regclass".to_string()],
            _ => return Ok(None),
        };
        let n = match name.as_slice() {
            [n] => n.as_str(),
            [s, n] if s == "pg_catalog" => n.as_str(),
            _ => return Ok(None),
        };
        if !matches!(
            n,
            "regclass"
                | "regtype"
                | "regnamespace"
                | "regproc"
                | "regprocedure"
                | "regrole"
                | "oid"
        ) {
            return Ok(None);
        }
        let e = self.bind_expr(expr)?;
        // Input: a literal names the object (or is its number).
        if let Expr::Unknown(Some(s)) = &e {
            if let Ok(oid) = s.trim().parse::<i64>() {
                return Ok(Some(Expr::Literal(Value::Int8(oid), DataType::Int8)));
            }
            return self.reg_input(n, s).map(Some);
        }
        let oid = self.coerce(e, &DataType::Int8)?;
        if n == "oid" {
            return Ok(Some(oid));
        }
        // Output: the name.
        let tables = self.txn.list_tables()?;
        let map: Vec<(i64, String)> = match n {
            "regclass" => catalog::relation_names(&tables),
            "regnamespace" => catalog::NAMESPACES
                .iter()
                .map(|(o, n)| (*o, n.to_string()))
                .collect(),
            "regtype" => {
                let f = call(
                    format_type_oid,
                    &[DataType::Int8],
                    DataType::Text,
                    vec![oid],
                );
                return Ok(Some(f));
            }
            "regrole" => vec![(catalog::SUPERUSER_OID, self.session_user())],
            _ => vec![],
        };
        let fallback = self.explicit_cast(oid.clone(), &DataType::Text)?;
        Ok(Some(oid_lookup(oid, map, fallback)?))
    }

    /// A `reg*` type's input: the OID of the named object.
    fn reg_input(&mut self, ty: &str, s: &str) -> Result<Expr> {
        let oid = match ty {
            "regclass" => {
                // `[schema.]name`, each part quoted or folded to lower case.
                let mut parts = s.rsplitn(2, '.');
                let last = parts.next().unwrap_or(s).trim();
                let schema = parts
                    .next()
                    .map(|p| p.trim().trim_matches('"').to_lowercase());
                let name = match last.strip_prefix('"').and_then(|l| l.strip_suffix('"')) {
                    Some(q) => q.replace("\"\"", "\""),
                    None => last.to_lowercase(),
                };
                if matches!(schema.as_deref(), None | Some("pg_catalog")) {
                    if let Some(oid) = catalog::system_relation_oid(&name) {
                        return Ok(Expr::Literal(Value::Int8(oid), DataType::Int8));
                    }
                }
                let tables = self.txn.list_tables()?;
                let found = catalog::relation_names(&tables)
                    .into_iter()
                    .find(|(_, n)| n.trim_matches('"') == name)
                    .map(|(o, _)| o);
                found.ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedTable,
                        format!("relation \"{s}\" does not exist"),
                    )
                })?
            }
            "regnamespace" => catalog::NAMESPACES
                .iter()
                .find(|(_, n)| *n == s)
                .map(|(o, _)| *o)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::UndefinedObject,
                        format!("schema \"{s}\" does not exist"),
                    )
                })?,
            _ => return Err(unsupported(&format!("{ty} input from a name"))),
        };
        Ok(Expr::Literal(Value::Int8(oid), DataType::Int8))
    }

    /// `ARRAY(subquery)`: the subquery's rows as an array's text form; `None` for other
    /// function calls.
    pub(crate) fn bind_array_subquery(&mut self, f: &ast::Function) -> Result<Option<Expr>> {
        let ast::FunctionArguments::Subquery(q) = &f.args else {
            return Ok(None);
        };
        if !matches!(name_parts(&f.name)?.as_slice(), [n] if n == "array") {
            return Ok(None);
        }
        // (SELECT '{' || string_agg(quoted element, ',') || '}' FROM (q) AS a(x)), with the
        // brace-adding and quoting done by two internal functions.
        let sql = format!(
            "SELECT sledgres_array_from_elements(string_agg(\
             sledgres_array_quote_element(__array_sub.__elem::text), ',')) \
             FROM ({q}) AS __array_sub(__elem)"
        );
        let stmts =
            sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
                .map_err(|e| crate::parse::syntax_error(&sql, e))?;
        let Some(ast::Statement::Query(query)) = stmts.into_iter().next() else {
            return Err(Error::internal("ARRAY(subquery) rewrite is not a query"));
        };
        self.bind_expr(&ast::Expr::Subquery(query)).map(Some)
    }

    /// `x op ANY(array)` with a (text-form) array on the right.
    pub(crate) fn bind_array_any(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
    ) -> Result<Expr> {
        if !matches!(op, ast::BinaryOperator::Eq) {
            return Err(unsupported(&format!("{op} ANY (array)")));
        }
        let l = self.bind_expr(left)?;
        let l = self.explicit_cast(l, &DataType::Text)?;
        let r = self.bind_expr(right)?;
        let r = self.coerce(r, &DataType::Text)?;
        Ok(call(
            text_array::any_eq,
            &[DataType::Text, DataType::Text],
            DataType::Bool,
            vec![l, r],
        ))
    }

    /// `array[i]`.
    pub(crate) fn bind_subscript(
        &mut self,
        root: &ast::Expr,
        chain: &[ast::AccessExpr],
    ) -> Result<Expr> {
        // The catalogs' int2vector / oid[] columns hold numbers: their elements are typed so
        // (`attnum = prattrs[s]`); other arrays' elements are text.
        let elem_type = match root {
            ast::Expr::Identifier(i) => Some(i.value.as_str()),
            ast::Expr::CompoundIdentifier(v) => v.last().map(|i| i.value.as_str()),
            _ => None,
        }
        .and_then(|n| match n {
            "indkey" | "conkey" | "confkey" | "prattrs" | "stxkeys" | "indoption" => {
                Some(DataType::Int2)
            }
            "polroles" | "proargtypes" | "indcollation" | "indclass" => Some(DataType::Int8),
            _ => None,
        });
        let mut e = self.bind_expr(root)?;
        for a in chain {
            let ast::AccessExpr::Subscript(ast::Subscript::Index { index }) = a else {
                return Err(unsupported("this field access or array slice"));
            };
            let i = self.bind_expr(index)?;
            let i = self.coerce(i, &DataType::Int8)?;
            let arr = self.coerce(e, &DataType::Text)?;
            e = call(
                text_array::array_element,
                &[DataType::Text, DataType::Int8],
                DataType::Text,
                vec![arr, i],
            );
        }
        match elem_type {
            Some(t) if chain.len() == 1 => self.explicit_cast(e, &t),
            _ => Ok(e),
        }
    }

    pub(crate) fn session_user(&self) -> String {
        self.settings
            .as_ref()
            .and_then(|s| s.get("session_authorization").ok())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "postgres".into())
    }
}

fn undefined_operator(sym: &str) -> Error {
    Error::new(
        ErrorKind::UndefinedFunction,
        format!("operator does not exist: {sym}"),
    )
}

/// A call of `func` on already-coerced arguments (strict).
pub(crate) fn call(func: ScalarFn, args: &[DataType], result: DataType, bound: Vec<Expr>) -> Expr {
    Expr::Call(
        Resolved {
            arg_types: args.to_vec(),
            result_type: result,
            strict: true,
            func,
        },
        bound,
        None,
    )
}

/// `CASE oid WHEN k THEN v … ELSE fallback END` over a map computed from the catalog.
pub(crate) fn oid_lookup(oid: Expr, map: Vec<(i64, String)>, fallback: Expr) -> Result<Expr> {
    let eq = scalar::resolve_binary(BinaryOp::Eq, Some(&DataType::Int8), Some(&DataType::Int8))?;
    let whens = map
        .into_iter()
        .map(|(k, v)| {
            (
                Expr::Call(
                    eq.clone(),
                    vec![oid.clone(), Expr::Literal(Value::Int8(k), DataType::Int8)],
                    Some(BinaryOp::Eq),
                ),
                Expr::Literal(Value::Text(v), DataType::Text),
            )
        })
        .collect();
    Ok(Expr::Case {
        whens,
        otherwise: Box::new(fallback),
        ty: DataType::Text,
    })
}

fn format_type_oid(args: &[Value]) -> Result<Value> {
    Ok(match args.first() {
        Some(Value::Int8(o)) => {
            Value::Text(catalog::format_type(*o, -1).unwrap_or_else(|| o.to_string()))
        }
        _ => Value::Null,
    })
}

/// `array_quote_element(text)`: one element as it appears inside an array's text form.
pub(crate) fn array_quote_element(args: &[Value]) -> Result<Value> {
    Ok(match args.first() {
        Some(Value::Text(s)) => {
            let f = text_array::format(&[Some(s.clone())]);
            Value::Text(f[1..f.len() - 1].to_string())
        }
        _ => Value::Text("NULL".into()),
    })
}

/// `array_from_elements(text)`: `{` elements `}`; `{}` for NULL (no rows).
pub(crate) fn array_from_elements(args: &[Value]) -> Result<Value> {
    Ok(Value::Text(match args.first() {
        Some(Value::Text(s)) => format!("{{{s}}}"),
        _ => "{}".into(),
    }))
}

impl Binder<'_> {
    /// `unnest(array)` and `pg_partition_ancestors(rel)` in FROM, `[WITH ORDINALITY]`, as the
    /// FROM item to bind instead; `None` for other functions. Each becomes a LATERAL subquery (its argument may read columns
    /// of the FROM items to its left or of enclosing queries):
    ///
    /// - `unnest(a)` → `SELECT a[i] FROM generate_series(1, array_length(a, 1)) AS i`
    ///   (the ordinality is `i`);
    /// - `pg_partition_ancestors(r)` → `SELECT r` (no relation is partitioned, so a
    ///   relation's only ancestor is itself; ordinality 1).
    pub(crate) fn pg_table_function(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
        args: &ast::TableFunctionArgs,
        with_ordinality: bool,
    ) -> Result<Option<ast::TableFactor>> {
        let fname = match name_parts(name)?.as_slice() {
            [f] => f.clone(),
            [s, f] if s == "pg_catalog" => f.clone(),
            _ => return Ok(None),
        };
        if !matches!(fname.as_str(), "unnest" | "pg_partition_ancestors") {
            return Ok(None);
        }
        let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] = args.args.as_slice()
        else {
            return Err(Error::new(
                ErrorKind::UndefinedFunction,
                format!("function {fname} with these arguments does not exist"),
            ));
        };
        let qual = alias.map_or(fname.clone(), |a| super::ident(&a.name));
        let col_names: Vec<String> = alias
            .map(|a| a.columns.iter().map(|c| super::ident(&c.name)).collect())
            .unwrap_or_default();
        let value_name = col_names.first().cloned().unwrap_or_else(|| match alias {
            // A function returning a scalar: its column is named after the alias.
            Some(_) => qual.clone(),
            None => fname.clone(),
        });
        let ord_name = col_names
            .get(1)
            .cloned()
            .unwrap_or_else(|| "ordinality".into());
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let sql = if fname == "unnest" {
            format!(
                "SELECT ({arg})[__unnest_i] AS {}{} \
                 FROM generate_series(1, array_length(({arg})::text[], 1)) AS __unnest_i",
                q(&value_name),
                if with_ordinality {
                    format!(", __unnest_i::int8 AS {}", q(&ord_name))
                } else {
                    String::new()
                }
            )
        } else {
            format!(
                "SELECT pg_partition_ancestors({arg}) AS {}{}",
                q(&value_name),
                if with_ordinality {
                    format!(", 1::int8 AS {}", q(&ord_name))
                } else {
                    String::new()
                }
            )
        };
        let stmts =
            sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
                .map_err(|e| crate::parse::syntax_error(&sql, e))?;
        let Some(ast::Statement::Query(query)) = stmts.into_iter().next() else {
            return Err(Error::internal("table function rewrite is not a query"));
        };
        Ok(Some(ast::TableFactor::Derived {
            lateral: true,
            subquery: query,
            alias: Some(ast::TableAlias {
                explicit: true,
                name: ast::Ident::new(qual),
                columns: vec![],
                at: None,
            }),
            sample: None,
        }))
    }
}
