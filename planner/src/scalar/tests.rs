//! Table-driven tests; every expected value was obtained from PostgreSQL 15.

use super::*;

fn ty(name: &str) -> Option<DataType> {
    Some(match name {
        "int2" => DataType::Int2,
        "int4" => DataType::Int4,
        "int8" => DataType::Int8,
        "float4" => DataType::Float4,
        "float8" => DataType::Float8,
        "numeric" => DataType::Numeric {
            precision: None,
            scale: None,
        },
        "text" => DataType::Text,
        "varchar" => DataType::Varchar(None),
        "bpchar" => DataType::Char(2),
        "bool" => DataType::Bool,
        "unknown" => return None,
        other => panic!("unknown type {other}"),
    })
}

fn op(sym: &str) -> BinaryOp {
    match sym {
        "+" => BinaryOp::Add,
        "-" => BinaryOp::Subtract,
        "*" => BinaryOp::Multiply,
        "/" => BinaryOp::Divide,
        "%" => BinaryOp::Modulo,
        "=" => BinaryOp::Eq,
        "<" => BinaryOp::Lt,
        "||" => BinaryOp::Concat,
        "&" => BinaryOp::BitAnd,
        "<<" => BinaryOp::ShiftLeft,
        "^" => BinaryOp::Power,
        "~~" => BinaryOp::Like,
        other => panic!("unknown operator {other}"),
    }
}

/// The result type (or error message) of every operator over every pair of types, against
/// `pg_typeof(a op b)` on PostgreSQL.
#[test]
fn operator_resolution_matches_postgres() {
    let mut failures = Vec::new();
    for line in include_str!("operators.expected").lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (case, expected) = line.split_once(" => ").unwrap();
        let parts: Vec<&str> = case.split(' ').collect();
        let (l, o, r) = (ty(parts[0]), op(parts[1]), ty(parts[2]));
        let got = match resolve_binary(o, l.as_ref(), r.as_ref()) {
            Ok(res) => res.result_type.pg_name(),
            Err(e) => format!("ERROR {}", e.message),
        };
        if got != expected {
            failures.push(format!("{case}: expected {expected}, got {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn sql_type(name: &str) -> DataType {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let stmt = sqlparser::parser::Parser::parse_sql(&dialect, &format!("SELECT CAST(1 AS {name})"))
        .unwrap()
        .remove(0);
    let sqlparser::ast::Statement::Query(q) = stmt else {
        panic!("not a query")
    };
    let sqlparser::ast::SetExpr::Select(s) = *q.body else {
        panic!("not a select")
    };
    let sqlparser::ast::SelectItem::UnnamedExpr(sqlparser::ast::Expr::Cast { data_type, .. }) =
        &s.projection[0]
    else {
        panic!("not a cast")
    };
    type_from_ast(data_type).unwrap()
}

/// `('input'::type)::text`: the input function (through an explicit cast, so varchar(n)
/// truncates) and then the cast back to text.
#[test]
fn text_round_trips_match_postgres() {
    let mut failures = Vec::new();
    for line in include_str!("text_io.expected").lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut parts = line.split('\t');
        let (t, input, expected) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let dt = sql_type(t);
        let got = cast(Value::Text(input.into()), &dt, CastContext::Explicit)
            .and_then(|v| cast_typed(v, &dt, &DataType::Text, CastContext::Explicit));
        let got = match got {
            Ok(Value::Text(s)) => s,
            Ok(other) => format!("non-text {other:?}"),
            Err(e) => format!("ERROR {}", e.message),
        };
        if got != expected {
            failures.push(format!("{t} {input:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn op_by_symbol(sym: &str) -> BinaryOp {
    match sym {
        "|" => BinaryOp::BitOr,
        "#" => BinaryOp::BitXor,
        ">>" => BinaryOp::ShiftRight,
        "~~*" => BinaryOp::ILike,
        "!~~" => BinaryOp::NotLike,
        ">" => BinaryOp::Gt,
        other => op(other),
    }
}

fn typed(t: &str, v: &str) -> (DataType, Value) {
    let dt = if t == "bpchar" {
        DataType::Char(3)
    } else {
        sql_type(t)
    };
    let val = parse_text(&dt, v).unwrap();
    (dt, val)
}

/// Evaluates `left op right` the way the executor will: resolve, cast each argument to the
/// resolved type, call.
fn eval_binary(
    o: BinaryOp,
    l: (DataType, Value),
    r: (DataType, Value),
) -> Result<(DataType, Value)> {
    let res = resolve_binary(o, Some(&l.0), Some(&r.0))?;
    let a = cast_typed(l.1, &l.0, &res.arg_types[0], CastContext::Implicit)?;
    let b = cast_typed(r.1, &r.0, &res.arg_types[1], CastContext::Implicit)?;
    Ok((res.result_type.clone(), (res.func)(&[a, b])?))
}

fn as_text(r: Result<(DataType, Value)>) -> String {
    match r.and_then(|(t, v)| cast_typed(v, &t, &DataType::Text, CastContext::Explicit)) {
        Ok(Value::Text(s)) => s,
        Ok(other) => format!("non-text {other:?}"),
        Err(e) => format!("ERROR {}", e.message),
    }
}

/// Operator results and casts, against `(a op b)::text` and `(v::from)::to::text`.
#[test]
fn evaluation_matches_postgres() {
    let mut failures = Vec::new();
    for line in include_str!("eval.expected").lines() {
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (case, expected, got) = match f[0] {
            "op" => {
                let got = as_text(eval_binary(
                    op_by_symbol(f[3]),
                    typed(f[1], f[2]),
                    typed(f[4], f[5]),
                ));
                (f[1..6].join(" "), f[6], got)
            }
            _ => {
                let (from, v) = typed(f[1], f[2]);
                let to = sql_type(f[3]);
                let got = as_text(
                    cast_typed(v, &from, &to, CastContext::Explicit).map(|v| (to.clone(), v)),
                );
                (f[1..4].join(" "), f[4], got)
            }
        };
        if got != expected {
            failures.push(format!("{case}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Function results and result types, against `pg_typeof(f(args))` and `f(args)::text`.
#[test]
fn functions_match_postgres() {
    let mut failures = Vec::new();
    for line in include_str!("functions.expected").lines() {
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (name, expected) = (f[0], f[1]);
        let args: Vec<(&str, &str)> = f[2..].iter().map(|a| a.split_once(':').unwrap()).collect();
        let types: Vec<Option<DataType>> = args
            .iter()
            .map(|(t, _)| match *t {
                "unknown" => None,
                "bpchar" => Some(DataType::Char(3)),
                t => Some(sql_type(t)),
            })
            .collect();
        let got = resolve_function(name, &types).and_then(|r| {
            let mut vals = Vec::new();
            for ((t, v), (arg_t, dt)) in args.iter().zip(r.arg_types.iter().zip(&types)) {
                let val = match dt {
                    None => parse_text(arg_t, v)?,
                    Some(dt) => cast_typed(parse_text(dt, v)?, dt, arg_t, CastContext::Implicit)?,
                };
                let _ = t;
                vals.push(val);
            }
            let out = (r.func)(&vals)?;
            let text = cast_typed(out, &r.result_type, &DataType::Text, CastContext::Explicit)?;
            Ok(format!(
                "{}|{}",
                r.result_type.pg_name(),
                format_text(&text, 1)
            ))
        });
        let got = match got {
            Ok(s) => s,
            Err(e) => format!("ERROR {}", e.message),
        };
        if got != expected {
            failures.push(format!(
                "{name}{args:?}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Aggregate result types and values, against `pg_typeof(agg(x))` and `agg(x)::text`.
#[test]
fn aggregates_match_postgres() {
    let mut failures = Vec::new();
    for line in include_str!("aggregates.expected").lines() {
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (name, t, expected, values) = (f[0], f[1], f[2], &f[3..]);
        let dt = sql_type(t);
        let (name, arg_types) = match name {
            "count*" => ("count", vec![]),
            "string_agg" => ("string_agg", vec![Some(dt.clone()), Some(DataType::Text)]),
            other => (other, vec![Some(dt.clone())]),
        };
        let got = resolve_aggregate(name, &arg_types).and_then(|agg| {
            let mut acc = (agg.new_accumulator)();
            for v in values {
                let val = if *v == "NULL" || arg_types.is_empty() {
                    Value::Null
                } else {
                    cast(
                        parse_text(&dt, v)?,
                        &agg.arg_types[0],
                        CastContext::Implicit,
                    )?
                };
                match (arg_types.is_empty(), name) {
                    (true, _) => acc.update(&[])?,
                    (false, "string_agg") => acc.update(&[val, Value::Text(",".into())])?,
                    (false, _) => acc.update(&[val])?,
                }
            }
            let out = acc.finish()?;
            let text = match out {
                Value::Null => "NULL".to_string(),
                v => format_text(&cast(v, &DataType::Text, CastContext::Explicit)?, 1),
            };
            Ok(format!("{}|{}", agg.result_type.pg_name(), text))
        });
        let got = match got {
            Ok(s) => s,
            Err(e) => format!("ERROR {}", e.message),
        };
        if got != expected {
            failures.push(format!(
                "{name}({t}) over {values:?}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn t(name: &str) -> Option<DataType> {
    ty(name)
}

/// Prefix operators, against PostgreSQL 15.
#[test]
fn unary_operators_match_postgres() {
    let int2 = DataType::Int2;
    let cases: Vec<(UnaryOp, Option<DataType>, &str, &str)> = vec![
        (
            UnaryOp::Minus,
            None,
            "",
            "ERROR operator is not unique: - unknown",
        ),
        (
            UnaryOp::Minus,
            t("text"),
            "",
            "ERROR operator does not exist: - text",
        ),
        (
            UnaryOp::Minus,
            t("bool"),
            "",
            "ERROR operator does not exist: - boolean",
        ),
        (
            UnaryOp::Plus,
            t("text"),
            "",
            "ERROR operator does not exist: + text",
        ),
        (UnaryOp::BitNot, t("int4"), "5", "integer|-6"),
        (
            UnaryOp::BitNot,
            None,
            "",
            "ERROR operator is not unique: ~ unknown",
        ),
        (
            UnaryOp::BitNot,
            t("numeric"),
            "",
            "ERROR operator does not exist: ~ numeric",
        ),
        (UnaryOp::Plus, None, "1", "double precision|1"),
        (UnaryOp::Minus, Some(int2.clone()), "1", "smallint|-1"),
        (
            UnaryOp::Minus,
            Some(int2),
            "-32768",
            "ERROR smallint out of range",
        ),
        (
            UnaryOp::Minus,
            t("int4"),
            "-2147483648",
            "ERROR integer out of range",
        ),
        (
            UnaryOp::Minus,
            t("int8"),
            "-9223372036854775808",
            "ERROR bigint out of range",
        ),
        (UnaryOp::Minus, t("numeric"), "1.50", "numeric|-1.50"),
        (UnaryOp::Minus, t("float8"), "0", "double precision|-0"),
        (
            UnaryOp::Not,
            t("int4"),
            "",
            "ERROR argument of NOT must be type boolean, not type integer",
        ),
        (UnaryOp::Not, t("bool"), "true", "boolean|f"),
    ];
    for (o, arg, input, expected) in cases {
        let got = resolve_unary(o, arg.as_ref()).and_then(|r| {
            let v = parse_text(&r.arg_types[0], input)?;
            let out = (r.func)(&[v])?;
            Ok(format!(
                "{}|{}",
                r.result_type.pg_name(),
                format_text(&out, 1)
            ))
        });
        let got = got.unwrap_or_else(|e| format!("ERROR {}", e.message));
        assert_eq!(got, expected, "{o:?} {arg:?} {input}");
    }
}

/// `select_common_type`, against `pg_typeof(CASE … THEN a ELSE b END)` (types listed ELSE
/// first, as PostgreSQL considers them).
#[test]
fn common_type_matches_postgres() {
    let cases: Vec<(Vec<Option<DataType>>, &str)> = vec![
        (vec![t("numeric"), t("int4")], "numeric"),
        (vec![t("float8"), t("int4")], "double precision"),
        (vec![t("int8"), t("int2")], "bigint"),
        (vec![t("varchar"), t("text")], "character varying"),
        (vec![None, t("varchar")], "character varying"),
        (vec![None, None], "text"),
        (
            vec![t("text"), t("int4")],
            "ERROR CASE types text and integer cannot be matched",
        ),
        (vec![t("float4"), t("numeric")], "real"),
        (
            vec![t("varchar"), Some(DataType::Char(2))],
            "character varying",
        ),
        (
            vec![t("int4"), t("bool")],
            "ERROR CASE types integer and boolean cannot be matched",
        ),
        (vec![t("int4"), None], "integer"),
        (vec![t("int2"), None], "smallint"),
        (
            vec![
                Some(DataType::Varchar(Some(4))),
                Some(DataType::Varchar(Some(2))),
            ],
            "character varying",
        ),
    ];
    for (types, expected) in cases {
        let got = match common_type(&types, "CASE") {
            Ok(t) => t.pg_name(),
            Err(e) => format!("ERROR {}", e.message),
        };
        assert_eq!(got, expected, "{types:?}");
    }
    let e = common_type(&[t("text"), t("int4")], "CASE").unwrap_err();
    assert_eq!(e.kind, crate::error::ErrorKind::DatatypeMismatch);
}

/// Cast contexts: pg_cast's rows for our types, plus PostgreSQL's I/O conversion casts
/// (anything → string types by assignment, string types → anything explicitly).
#[test]
fn cast_contexts_match_pg_cast() {
    let pg_cast =
        "bool|bpchar|a bool|int4|e bool|text|a bool|varchar|a bpchar|text|i bpchar|varchar|i \
        float4|float8|i float4|int2|a float4|int4|a float4|int8|a float4|numeric|a float8|float4|a \
        float8|int2|a float8|int4|a float8|int8|a float8|numeric|a int2|float4|i int2|float8|i \
        int2|int4|i int2|int8|i int2|numeric|i int4|bool|e int4|float4|i int4|float8|i int4|int2|a \
        int4|int8|i int4|numeric|i int8|float4|i int8|float8|i int8|int2|a int8|int4|a \
        int8|numeric|i numeric|float4|i numeric|float8|i numeric|int2|a numeric|int4|a \
        numeric|int8|a text|bpchar|i text|varchar|i varchar|bpchar|i varchar|text|i";
    let names = [
        "bool", "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bpchar",
    ];
    let strings = ["text", "varchar", "bpchar"];
    for from in names {
        for to in names {
            let key = format!("{from}|{to}|");
            let ctx = if from == to {
                'i'
            } else if let Some(row) = pg_cast.split(' ').find(|r| r.starts_with(&key)) {
                row.chars().last().unwrap()
            } else if strings.contains(&to) {
                'a'
            } else if strings.contains(&from) {
                'e'
            } else {
                'n'
            };
            let (f, tt) = (ty(from).unwrap(), ty(to).unwrap());
            let got = if can_cast(&f, &tt, CastContext::Implicit) {
                'i'
            } else if can_cast(&f, &tt, CastContext::Assignment) {
                'a'
            } else if can_cast(&f, &tt, CastContext::Explicit) {
                'e'
            } else {
                'n'
            };
            assert_eq!(got, ctx, "{from} -> {to}");
        }
    }
}

fn hash_of(v: &Value) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hash_value(v, &mut h);
    h.finish()
}

#[test]
fn equal_values_hash_equally() {
    let num = |s: &str| parse_text(&ty("numeric").unwrap(), s).unwrap();
    let pairs = [
        (num("1.0"), num("1.00")),
        (num("0"), num("0.000")),
        (num("-12.5"), num("-12.50")),
        (Value::Float8(-0.0), Value::Float8(0.0)),
        (Value::Float8(f64::NAN), Value::Float8(-f64::NAN)),
        (Value::Float4(-0.0), Value::Float4(0.0)),
    ];
    for (a, b) in pairs {
        assert!(values_equal(&a, &b), "{a:?} = {b:?}");
        assert_eq!(hash_of(&a), hash_of(&b), "{a:?} vs {b:?}");
    }
    assert_ne!(hash_of(&num("1.5")), hash_of(&num("15")));
    assert!(!values_equal(&num("1.5"), &num("15")));
}

/// Output functions (not casts): bool prints t/f; floats with extra_float_digits ≤ 0 use
/// %g with 15 (6 for real) + extra_float_digits digits. Expected values from PostgreSQL 15.
#[test]
fn output_functions_match_postgres() {
    assert_eq!(format_text(&Value::Bool(true), 1), "t");
    assert_eq!(format_text(&Value::Bool(false), 1), "f");
    let cases: [(f64, &str, &str, &str, &str); 7] = [
        // value, float8 efd=0, float4 efd=0, float8 efd=-3, float4 efd=-3
        (0.1, "0.1", "0.1", "0.1", "0.1"),
        (1e15, "1e+15", "1e+15", "1e+15", "1e+15"),
        (
            123456789012345.6,
            "123456789012346",
            "1.23457e+14",
            "1.23456789012e+14",
            "1.23e+14",
        ),
        (1e-5, "1e-05", "1e-05", "1e-05", "1e-05"),
        (0.30000000000000004, "0.3", "0.3", "0.3", "0.3"),
        (1e14, "100000000000000", "1e+14", "1e+14", "1e+14"),
        (1234567.0, "1234567", "1.23457e+06", "1234567", "1.23e+06"),
    ];
    for (v, f8_0, f4_0, f8_m3, f4_m3) in cases {
        assert_eq!(format_text(&Value::Float8(v), 0), f8_0, "{v}");
        assert_eq!(format_text(&Value::Float4(v as f32), 0), f4_0, "{v}");
        assert_eq!(format_text(&Value::Float8(v), -3), f8_m3, "{v}");
        assert_eq!(format_text(&Value::Float4(v as f32), -3), f4_m3, "{v}");
    }
    assert_eq!(
        format_text(&Value::Float8(f64::NEG_INFINITY), 0),
        "-Infinity"
    );
    assert_eq!(format_text(&Value::Float8(-0.0), 0), "-0");
}

#[test]
fn error_kinds_are_postgres_sqlstates() {
    use crate::error::ErrorKind as K;
    let kind = |r: Result<Value>| r.unwrap_err().kind;
    assert_eq!(
        kind(parse_text(&DataType::Int4, "abc")),
        K::InvalidTextRepresentation
    );
    assert_eq!(
        kind(parse_text(&DataType::Int4, "99999999999")),
        K::NumericValueOutOfRange
    );
    assert_eq!(
        kind(parse_text(&DataType::Varchar(Some(2)), "abc")),
        K::StringDataRightTruncation
    );
    let div = resolve_binary(BinaryOp::Divide, t("int4").as_ref(), t("int4").as_ref()).unwrap();
    assert_eq!(
        kind((div.func)(&[Value::Int4(1), Value::Int4(0)])),
        K::DivisionByZero
    );
    let e = resolve_binary(BinaryOp::Add, t("int4").as_ref(), t("bool").as_ref()).unwrap_err();
    assert_eq!(e.kind, K::UndefinedFunction);
    assert_eq!(
        e.hint.as_deref(),
        Some("No operator matches the given name and argument types. You might need to add explicit type casts.")
    );
    let e = parse_text(
        &DataType::Numeric {
            precision: Some(5),
            scale: Some(2),
        },
        "12345.678",
    )
    .unwrap_err();
    assert_eq!(e.kind, K::NumericValueOutOfRange);
    assert_eq!(
        e.detail.as_deref(),
        Some("A field with precision 5, scale 2 must round to an absolute value less than 10^3.")
    );
}

/// varchar(n) on assignment: too long is an error unless the excess is spaces; an explicit
/// cast truncates. char(n) pads.
#[test]
fn character_type_modifiers() {
    let v3 = DataType::Varchar(Some(3));
    let text = |s: &str| Value::Text(s.into());
    assert_eq!(
        cast(text("abcd"), &v3, CastContext::Assignment)
            .unwrap_err()
            .message,
        "value too long for type character varying(3)"
    );
    assert_eq!(
        cast(text("abc  "), &v3, CastContext::Assignment).unwrap(),
        text("abc")
    );
    assert_eq!(
        cast(text("abcd"), &v3, CastContext::Explicit).unwrap(),
        text("abc")
    );
    assert_eq!(
        cast(text("a"), &DataType::Char(3), CastContext::Assignment).unwrap(),
        text("a  ")
    );
    assert_eq!(
        cast(text("abcd"), &DataType::Char(3), CastContext::Assignment)
            .unwrap_err()
            .message,
        "value too long for type character(3)"
    );
    assert_eq!(format_text(&text("a  "), 1), "a  ");
}

fn call(name: &str, args: &[Value]) -> Result<Value> {
    let types: Vec<Option<DataType>> = args
        .iter()
        .map(|v| match v {
            Value::Int4(_) => Some(DataType::Int4),
            Value::Text(_) => Some(DataType::Text),
            Value::Numeric(_) => t("numeric"),
            _ => None,
        })
        .collect();
    let r = resolve_function(name, &types)?;
    (r.func)(args)
}

#[test]
fn like_escape_and_random() {
    let text = |s: &str| Value::Text(s.into());
    // like_escape('a!%b\c', '!') is 'a\%b\\c' on PostgreSQL.
    assert_eq!(
        call("like_escape", &[text("a!%b\\c"), text("!")]).unwrap(),
        text("a\\%b\\\\c")
    );
    assert_eq!(
        call("like_escape", &[text("x"), text("ab")])
            .unwrap_err()
            .message,
        "invalid escape string"
    );
    for _ in 0..100 {
        let Value::Float8(f) = call("random", &[]).unwrap() else {
            panic!("random() is float8")
        };
        assert!((0.0..1.0).contains(&f));
    }
    assert!(resolve_function("concat", &[]).is_err());
    assert!(is_volatile_function("random"));
    assert!(!is_volatile_function("abs"));
}

#[test]
fn huge_numeric_exponents_are_refused_not_materialised() {
    let n = ty("numeric").unwrap();
    assert_eq!(
        parse_text(&n, "1e999999999").unwrap_err().message,
        "value overflows numeric format"
    );
    let big = parse_text(&n, "1.0000001").unwrap();
    let exp = parse_text(&n, "100000").unwrap();
    let r = resolve_binary(
        BinaryOp::Power,
        t("numeric").as_ref(),
        t("numeric").as_ref(),
    )
    .unwrap();
    // PostgreSQL prints 1.0100501665791430 (16 digits: the integer-exponent scale).
    assert_eq!(
        format_text(&(r.func)(&[big, exp]).unwrap(), 1),
        "1.0100501665791430"
    );
}

/// Which overload a function call resolves to, for every pair of argument types, against
/// `pg_typeof(f(args))`.
#[test]
fn function_resolution_matches_postgres() {
    let mut failures = Vec::new();
    for line in include_str!("function_resolution.expected").lines() {
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (name, expected) = (f[0], f[1]);
        let args: Vec<Option<DataType>> = f[2..].iter().map(|a| ty(a)).collect();
        let got = match resolve_function(name, &args) {
            Ok(r) => r.result_type.pg_name(),
            Err(e) => format!("ERROR {}", e.message),
        };
        if got != expected {
            failures.push(format!(
                "{name}{:?}: expected {expected:?}, got {got:?}",
                &f[2..]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Aggregate overload choice and result type for every argument type, against
/// `pg_typeof(agg(x))`.
#[test]
fn aggregate_resolution_matches_postgres() {
    let mut failures = Vec::new();
    for line in include_str!("aggregate_resolution.expected").lines() {
        if line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let (name, expected) = (f[0], f[1]);
        let args: Vec<Option<DataType>> = f[2..].iter().map(|a| ty(a)).collect();
        let got = match resolve_aggregate(name, &args) {
            Ok(r) => match r.result_type {
                // PostgreSQL's pg_typeof prints bpchar without its length.
                DataType::Char(_) => "character".to_string(),
                t => t.pg_name(),
            },
            Err(e) => format!("ERROR {}", e.message),
        };
        if got != expected {
            failures.push(format!(
                "{name}{:?}: expected {expected:?}, got {got:?}",
                &f[2..]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
