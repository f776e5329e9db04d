//! `bytea` and `uuid`: the two byte-string types, their text forms and small functions.
//!
//! bytea prints as `\x` + lower-case hex (PostgreSQL's default `bytea_output = hex`) and reads
//! both that and the older escape format (`\\` for a backslash, `\ooo` octal for any byte,
//! everything else literally). uuid reads 32 hex digits, optionally in braces and with a
//! hyphen after any group of four digits, and prints the canonical `8-4-4-4-12` lower case.

use crate::error::{Error, ErrorKind, Result};
use sledgres_storage::Value;

fn invalid(msg: String) -> Error {
    Error::new(ErrorKind::InvalidTextRepresentation, msg)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `byteain`.
pub(crate) fn parse_bytea(text: &str) -> Result<Vec<u8>> {
    if let Some(hex) = text
        .strip_prefix("\\x")
        .or_else(|| text.strip_prefix("\\X"))
    {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut bytes = hex.bytes().filter(|b| !b.is_ascii_whitespace());
        while let Some(hi) = bytes.next() {
            let h = hex_val(hi).ok_or_else(|| bad_hex_digit(hi, hex))?;
            let lo = bytes.next().ok_or_else(|| {
                invalid("invalid hexadecimal data: odd number of digits".to_string())
            })?;
            let l = hex_val(lo).ok_or_else(|| bad_hex_digit(lo, hex))?;
            out.push(h << 4 | l);
        }
        return Ok(out);
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && (b'0'..=b'7').contains(&b[i + 2])
            && (b'0'..=b'7').contains(&b[i + 3])
        {
            out.push((b[i + 1] - b'0') << 6 | (b[i + 2] - b'0') << 3 | (b[i + 3] - b'0'));
            i += 4;
        } else {
            return Err(invalid("invalid input syntax for type bytea".to_string()));
        }
    }
    Ok(out)
}

fn bad_hex_digit(c: u8, text: &str) -> Error {
    // PostgreSQL quotes the offending character (the whole multibyte character if any).
    let ch = text
        .chars()
        .find(|ch| ch.is_ascii() && *ch as u8 == c)
        .map(String::from)
        .unwrap_or_else(|| {
            text.chars()
                .find(|ch| !ch.is_ascii())
                .map(String::from)
                .unwrap_or_default()
        });
    invalid(format!("invalid hexadecimal digit: \"{ch}\""))
}

/// `byteaout` with `bytea_output = hex`.
pub(crate) fn format_bytea(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 + b.len() * 2);
    out.push_str("\\x");
    for &x in b {
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 15) as usize] as char);
    }
    out
}

/// `uuid_in`.
pub(crate) fn parse_uuid(text: &str) -> Result<[u8; 16]> {
    let bad = || invalid(format!("invalid input syntax for type uuid: \"{text}\""));
    let mut s = text.as_bytes();
    let braced = s.first() == Some(&b'{');
    if braced {
        if s.last() != Some(&b'}') || s.len() < 2 {
            return Err(bad());
        }
        s = &s[1..s.len() - 1];
    }
    let mut out = [0u8; 16];
    let mut digits = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'-' {
            // A hyphen may follow any group of four digits, never lead or repeat.
            if digits == 0 || digits % 4 != 0 || digits == 32 || s.get(i + 1) == Some(&b'-') {
                return Err(bad());
            }
            i += 1;
            continue;
        }
        let v = hex_val(s[i]).ok_or_else(bad)?;
        if digits >= 32 {
            return Err(bad());
        }
        out[digits / 2] |= if digits % 2 == 0 { v << 4 } else { v };
        digits += 1;
        i += 1;
    }
    if digits != 32 || s.last() == Some(&b'-') {
        return Err(bad());
    }
    Ok(out)
}

/// `uuid_out`.
pub(crate) fn format_uuid(u: &[u8; 16]) -> String {
    let hex = format_bytea(u);
    let h = &hex[2..];
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `gen_random_uuid()`: version 4 (random) with the RFC 4122 variant bits.
pub(crate) fn gen_random_uuid(_: &[Value]) -> Result<Value> {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; 16];
    // RandomState is seeded from the OS once per process and perturbed per instance; mixing
    // in the clock keeps two calls within one instance apart.
    for half in out.chunks_mut(8) {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out[6] = (out[6] & 0x0F) | 0x40;
    out[8] = (out[8] & 0x3F) | 0x80;
    Ok(Value::Uuid(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytea_round_trips_and_escape_input() {
        assert_eq!(
            format_bytea(&parse_bytea("abc\\000").unwrap()),
            "\\x61626300"
        );
        assert_eq!(format_bytea(&parse_bytea("a\\\\b").unwrap()), "\\x615c62");
        assert_eq!(parse_bytea("\\x4142").unwrap(), b"AB");
        assert!(parse_bytea("\\x4").is_err());
        assert!(parse_bytea("abc\\").is_err());
    }

    #[test]
    fn uuid_forms() {
        let a = parse_uuid("{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}").unwrap();
        let b = parse_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a11").unwrap();
        assert_eq!(a, b);
        assert_eq!(format_uuid(&a), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assert!(parse_uuid("xyz").is_err());
        assert!(parse_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1").is_err());
    }
}
