//! Arrays in their text form (`{a,b,"c d"}`), enough for the catalog queries clients send.
//!
//! sledgres has no array types. The system catalogs expose PostgreSQL's array columns
//! (`indkey`, `conkey`, `datacl`, `stxkind` …) as text holding the array's text
//! representation, and the binder types `ARRAY(subquery)` and casts to `T[]` as text of that
//! form too. The functions here read and write that form: `array_to_string`, `array_upper`,
//! `array_length`, subscripts (`a[i]`, 1-based) and `x = ANY(array)`. Elements are strings;
//! comparisons with `ANY` compare text, which is exact for the names and numbers the catalogs
//! hold.

use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::Value;

/// Parses `{a,b,"c d",NULL}` into its elements (`None` for NULL). Only one dimension.
pub fn parse(s: &str) -> Result<Vec<Option<String>>> {
    let malformed = || {
        Error::new(
            ErrorKind::InvalidTextRepresentation,
            format!("malformed array literal: \"{s}\""),
        )
    };
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(malformed)?;
    let mut out = vec![];
    if inner.trim().is_empty() {
        return Ok(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => item.push(chars.next().ok_or_else(malformed)?),
                    Some(c) => item.push(c),
                    None => return Err(malformed()),
                }
            }
        }
        while let Some(&c) = chars.peek() {
            if c == ',' {
                break;
            }
            chars.next();
            if c == '\\' {
                item.push(chars.next().ok_or_else(malformed)?);
            } else if quoted {
                if !c.is_whitespace() {
                    return Err(malformed());
                }
            } else {
                item.push(c);
            }
        }
        let item = if quoted {
            item
        } else {
            item.trim_end().to_string()
        };
        out.push(if !quoted && item.eq_ignore_ascii_case("null") {
            None
        } else {
            Some(item)
        });
        match chars.next() {
            Some(',') => continue,
            None => break,
            Some(_) => return Err(malformed()),
        }
    }
    Ok(out)
}

/// Formats elements as an array's text form, quoting as PostgreSQL's array_out does.
pub fn format(items: &[Option<String>]) -> String {
    let mut out = String::from("{");
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match it {
            None => out.push_str("NULL"),
            Some(s) => {
                let needs_quotes = s.is_empty()
                    || s.eq_ignore_ascii_case("null")
                    || s.chars()
                        .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
                if needs_quotes {
                    out.push('"');
                    for c in s.chars() {
                        if c == '"' || c == '\\' {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                    out.push('"');
                } else {
                    out.push_str(s);
                }
            }
        }
    }
    out.push('}');
    out
}

fn array_arg(v: Option<&Value>) -> Result<Option<Vec<Option<String>>>> {
    match v {
        Some(Value::Text(s)) => parse(s).map(Some),
        _ => Ok(None),
    }
}

fn int_arg(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Int2(n) => Some(*n as i64),
        Value::Int4(n) => Some(*n as i64),
        Value::Int8(n) => Some(*n),
        _ => None,
    }
}

/// `array_to_string(array, delimiter [, null_string])`
pub fn array_to_string(args: &[Value]) -> Result<Value> {
    let (Some(items), Some(Value::Text(sep))) = (array_arg(args.first())?, args.get(1)) else {
        return Ok(Value::Null);
    };
    let null = match args.get(2) {
        Some(Value::Text(n)) => Some(n.as_str()),
        _ => None,
    };
    let parts: Vec<&str> = items.iter().filter_map(|i| i.as_deref().or(null)).collect();
    Ok(Value::Text(parts.join(sep)))
}

/// `array_upper(array, dim)` / `array_length(array, dim)`: NULL for an empty array or a
/// dimension other than 1.
pub fn array_upper(args: &[Value]) -> Result<Value> {
    let Some(items) = array_arg(args.first())? else {
        return Ok(Value::Null);
    };
    if int_arg(args.get(1)) != Some(1) || items.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::Int4(items.len() as i32))
}

/// `array[i]` (1-based; NULL out of range).
pub fn array_element(args: &[Value]) -> Result<Value> {
    let (Some(items), Some(i)) = (array_arg(args.first())?, int_arg(args.get(1))) else {
        return Ok(Value::Null);
    };
    let item = usize::try_from(i)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| items.get(i).cloned().flatten());
    Ok(item.map_or(Value::Null, Value::Text))
}

/// `x = ANY(array)` over text: true if an element equals `x`; NULL if none does but one is
/// NULL; false otherwise.
pub fn any_eq(args: &[Value]) -> Result<Value> {
    let (Some(Value::Text(x)), Some(items)) = (args.first(), array_arg(args.get(1))?) else {
        return Ok(Value::Null);
    };
    if items.iter().any(|i| i.as_deref() == Some(x.as_str())) {
        return Ok(Value::Bool(true));
    }
    Ok(if items.iter().any(Option::is_none) {
        Value::Null
    } else {
        Value::Bool(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let items = parse(r#"{a, "b c" ,NULL,"x\"y"}"#).ok();
        assert_eq!(
            items,
            Some(vec![
                Some("a".into()),
                Some("b c".into()),
                None,
                Some("x\"y".into())
            ])
        );
        assert_eq!(
            items.map(|i| format(&i)).as_deref(),
            Some(r#"{a,"b c",NULL,"x\"y"}"#)
        );
        assert_eq!(parse("{}").ok(), Some(vec![]));
        assert!(parse("a,b").is_err());
    }

    #[test]
    fn functions() {
        let a = Value::Text("{x,y}".into());
        assert!(matches!(
            array_to_string(&[a.clone(), Value::Text(", ".into())]),
            Ok(Value::Text(s)) if s == "x, y"
        ));
        assert!(matches!(
            array_upper(&[a.clone(), Value::Int4(1)]),
            Ok(Value::Int4(2))
        ));
        assert!(matches!(
            array_element(&[a.clone(), Value::Int4(2)]),
            Ok(Value::Text(s)) if s == "y"
        ));
        assert!(matches!(
            array_element(&[a.clone(), Value::Int4(0)]),
            Ok(Value::Null)
        ));
        assert!(matches!(
            any_eq(&[Value::Text("y".into()), a]),
            Ok(Value::Bool(true))
        ));
    }
}
