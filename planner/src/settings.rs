//! Session settings (GUCs): the handful PostgreSQL clients and drivers set or read, with
//! PostgreSQL's names, defaults and SHOW output.

use crate::error::{Error, ErrorKind, Result};
use std::collections::BTreeMap;

/// The server_version we report: a PostgreSQL 15 number first, so drivers parse it.
pub const SERVER_VERSION: &str = "15.0 (sledgres 0.1.0)";

/// (canonical name, default, reported to the client via ParameterStatus)
const KNOWN: &[(&str, &str, bool)] = &[
    ("application_name", "", true),
    ("client_encoding", "UTF8", true),
    ("DateStyle", "ISO, MDY", true),
    ("deadlock_timeout", "1s", false),
    ("default_transaction_deferrable", "off", false),
    ("default_transaction_isolation", "read committed", false),
    ("default_transaction_read_only", "off", true),
    ("extra_float_digits", "1", false),
    ("in_hot_standby", "off", true),
    ("integer_datetimes", "on", true),
    ("IntervalStyle", "postgres", true),
    ("is_superuser", "on", true),
    ("lock_timeout", "0", false),
    ("search_path", "\"$user\", public", false),
    ("server_encoding", "UTF8", true),
    ("server_version", SERVER_VERSION, true),
    ("session_authorization", "", true),
    ("standard_conforming_strings", "on", true),
    ("statement_timeout", "0", false),
    ("client_min_messages", "notice", false),
    ("TimeZone", "UTC", true),
    ("work_mem", "4MB", false),
    // Planner and output settings that scripts (PostgreSQL's regression files among them) set
    // around statements. They are accepted, shown and restored like any other setting; the
    // planner choices they steer do not exist here, so they change no result.
    ("bytea_output", "hex", false),
    ("enable_bitmapscan", "on", false),
    ("enable_hashagg", "on", false),
    ("enable_hashjoin", "on", false),
    ("enable_incremental_sort", "on", false),
    ("enable_indexonlyscan", "on", false),
    ("enable_indexscan", "on", false),
    ("enable_material", "on", false),
    ("enable_memoize", "on", false),
    ("enable_mergejoin", "on", false),
    ("enable_nestloop", "on", false),
    ("enable_parallel_append", "on", false),
    ("enable_parallel_hash", "on", false),
    ("enable_partition_pruning", "on", false),
    ("enable_partitionwise_aggregate", "off", false),
    ("enable_partitionwise_join", "off", false),
    ("enable_seqscan", "on", false),
    ("enable_sort", "on", false),
    ("enable_tidscan", "on", false),
    ("escape_string_warning", "on", false),
    ("jit", "on", false),
    ("jit_above_cost", "100000", false),
    ("max_parallel_workers_per_gather", "2", false),
    ("min_parallel_index_scan_size", "512kB", false),
    ("min_parallel_table_scan_size", "8MB", false),
    ("parallel_leader_participation", "on", false),
    ("parallel_setup_cost", "1000", false),
    ("parallel_tuple_cost", "0.1", false),
    ("random_page_cost", "4", false),
    ("seq_page_cost", "1", false),
];

/// Settings that cannot be changed with SET.
const READ_ONLY: &[&str] = &[
    "server_version",
    "server_encoding",
    "integer_datetimes",
    "in_hot_standby",
    "is_superuser",
];

#[derive(Clone, Debug)]
pub struct Settings {
    values: BTreeMap<String, (String, String)>,
    changed: Vec<String>,
}

impl Settings {
    pub fn new(user: &str, application_name: &str) -> Self {
        let mut values = BTreeMap::new();
        for (name, default, _) in KNOWN {
            values.insert(name.to_lowercase(), (name.to_string(), default.to_string()));
        }
        let mut s = Settings {
            values,
            changed: vec![],
        };
        s.put("session_authorization", user);
        s.put("application_name", application_name);
        s.changed.clear();
        s
    }

    fn put(&mut self, name: &str, value: &str) {
        let key = name.to_lowercase();
        if let Some(e) = self.values.get_mut(&key) {
            e.1 = value.to_string();
        } else {
            self.values
                .insert(key.clone(), (name.to_string(), value.to_string()));
        }
        self.changed.push(key);
    }

    /// A setting's name as PostgreSQL spells it (`TimeZone`, `DateStyle`): SHOW's column
    /// name and the name error messages use.
    pub fn display_name(name: &str) -> String {
        let key = name.to_lowercase();
        KNOWN
            .iter()
            .find(|(n, _, _)| n.to_lowercase() == key)
            .map_or(key, |(n, _, _)| n.to_string())
    }

    fn canonical(name: &str) -> Result<String> {
        let key = name.to_lowercase();
        if KNOWN.iter().any(|(n, _, _)| n.to_lowercase() == key) || key.contains('.') {
            Ok(key)
        } else {
            Err(Error::new(
                ErrorKind::UndefinedObject,
                format!("unrecognized configuration parameter \"{name}\""),
            ))
        }
    }

    /// SET name = value (None: back to the default).
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        let key = Self::canonical(name)?;
        if READ_ONLY.contains(&key.as_str()) {
            return Err(Error::new(
                ErrorKind::InvalidParameterValue,
                format!("parameter \"{key}\" cannot be changed"),
            ));
        }
        let value = match value {
            None => KNOWN
                .iter()
                .find(|(n, _, _)| n.to_lowercase() == key)
                .map(|(_, d, _)| d.to_string())
                .unwrap_or_default(),
            Some(v) => normalize(&key, v)?,
        };
        self.put(&key, &value);
        Ok(())
    }

    /// Puts back the values of `from` (only those named in `only`, if given), recording
    /// each change for ParameterStatus. Used when a transaction or savepoint rolls back, and
    /// when SET LOCAL values expire.
    pub fn restore_from(&mut self, from: &Settings, only: Option<&[String]>) {
        let keys: Vec<String> = match only {
            Some(names) => names.to_vec(),
            None => self
                .values
                .keys()
                .chain(from.values.keys())
                .cloned()
                .collect(),
        };
        for key in keys {
            match (self.values.get(&key), from.values.get(&key)) {
                (Some(now), Some(then)) if now.1 == then.1 => {}
                (_, Some((name, then))) => {
                    let (name, then) = (name.clone(), then.clone());
                    self.values.insert(key.clone(), (name, then));
                    self.changed.push(key);
                }
                (Some(_), None) => {
                    self.values.remove(&key);
                }
                (None, None) => {}
            }
        }
    }

    pub fn get(&self, name: &str) -> Result<String> {
        let key = name.to_lowercase();
        match self.values.get(&key) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(Error::new(
                ErrorKind::UndefinedObject,
                format!("unrecognized configuration parameter \"{name}\""),
            )),
        }
    }

    pub fn extra_float_digits(&self) -> i32 {
        self.get("extra_float_digits")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
    }

    /// The ParameterStatus values sent at startup.
    pub fn reported(&self) -> Vec<(String, String)> {
        KNOWN
            .iter()
            .filter(|(_, _, r)| *r)
            .filter_map(|(n, _, _)| {
                self.values
                    .get(&n.to_lowercase())
                    .map(|(name, v)| (name.clone(), v.clone()))
            })
            .collect()
    }

    /// Reported settings changed since the last call.
    pub fn take_changes(&mut self) -> Vec<(String, String)> {
        let mut out = vec![];
        let changed = std::mem::take(&mut self.changed);
        for key in changed {
            let reported = KNOWN.iter().any(|(n, _, r)| *r && n.to_lowercase() == key);
            if let (true, Some((name, v))) = (reported, self.values.get(&key)) {
                if !out.iter().any(|(n, _): &(String, String)| n == name) {
                    out.push((name.clone(), v.clone()));
                }
            }
        }
        out
    }
}

/// Validates and canonicalises a value the way PostgreSQL's GUC hooks do for these settings.
fn normalize(key: &str, v: &str) -> Result<String> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!(
                "invalid value for parameter \"{}\": \"{v}\"",
                Settings::display_name(key)
            ),
        )
    };
    Ok(match key {
        "extra_float_digits" => {
            let n: i32 = v.trim().parse().map_err(|_| invalid())?;
            if !(-15..=3).contains(&n) {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("{n} is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)"),
                ));
            }
            n.to_string()
        }
        "client_encoding" => {
            let u = v.to_uppercase().replace(['-', '_'], "");
            if u == "UTF8" || u == "UNICODE" {
                "UTF8".into()
            } else {
                return Err(Error::new(
                    ErrorKind::InvalidParameterValue,
                    format!("invalid value for parameter \"client_encoding\": \"{v}\""),
                ));
            }
        }
        "datestyle" => {
            let u = v.to_uppercase();
            let style = if u.contains("ISO") {
                "ISO"
            } else if u.contains("SQL") {
                "SQL"
            } else if u.contains("GERMAN") {
                "German"
            } else if u.contains("POSTGRES") {
                "Postgres"
            } else {
                "ISO"
            };
            let order = if u.contains("DMY") || u.contains("EURO") {
                "DMY"
            } else if u.contains("YMD") {
                "YMD"
            } else {
                "MDY"
            };
            format!("{style}, {order}")
        }
        "default_transaction_isolation" => {
            let l = v.to_lowercase();
            match l.as_str() {
                "read committed" | "read uncommitted" | "repeatable read" | "serializable" => l,
                _ => return Err(invalid()),
            }
        }
        "standard_conforming_strings"
        | "escape_string_warning"
        | "jit"
        | "parallel_leader_participation"
        | "default_transaction_read_only"
        | "default_transaction_deferrable" => match v.to_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => "on".into(),
            "off" | "false" | "no" | "0" => "off".into(),
            _ => return Err(invalid()),
        },
        "work_mem" => format_kb(parse_work_mem_kb(v)?),
        k if k.starts_with("enable_") => match v.to_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => "on".into(),
            "off" | "false" | "no" | "0" => "off".into(),
            _ => return Err(invalid()),
        },
        "bytea_output" => match v.to_lowercase().as_str() {
            l @ ("hex" | "escape") => l.to_string(),
            _ => return Err(invalid()),
        },
        // A region of the zone database (reported with its canonical spelling) or an offset.
        "timezone" => crate::scalar::time_zone_name(v).ok_or_else(invalid)?,
        "statement_timeout" | "lock_timeout" | "deadlock_timeout" => {
            let ms = parse_duration_ms(v).ok_or_else(invalid)?;
            format_duration_ms(ms)
        }
        _ => v.to_string(),
    })
}

/// `work_mem` in bytes (the setting is stored canonicalised, so parsing cannot fail; the
/// default is the fallback anyway).
pub fn work_mem_bytes(settings: &Settings) -> usize {
    settings
        .get("work_mem")
        .ok()
        .and_then(|v| parse_work_mem_kb(&v).ok())
        .map(|kb| (kb as usize).saturating_mul(1024))
        .unwrap_or(4 << 20)
}

/// A memory setting as PostgreSQL's GUC parser reads it: a number (fractions allowed,
/// rounded) with an optional, case-sensitive unit among B, kB, MB, GB and TB; kilobytes
/// without one. The result must lie in 64 .. 2147483647 kB.
pub fn parse_work_mem_kb(v: &str) -> Result<i64> {
    let invalid = || {
        Error::new(
            ErrorKind::InvalidParameterValue,
            format!("invalid value for parameter \"work_mem\": \"{v}\""),
        )
    };
    let t = v.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| invalid())?;
    let factor = match unit.trim() {
        "" | "kB" => 1.0,
        "B" => 1.0 / 1024.0,
        "MB" => 1024.0,
        "GB" => 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(invalid().with_hint(
                "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".",
            ))
        }
    };
    let kb = (n * factor).round();
    if !(i32::MIN as f64..=i32::MAX as f64).contains(&kb) {
        return Err(invalid().with_hint("Value exceeds integer range."));
    }
    let kb = kb as i64;
    if !(64..=i32::MAX as i64).contains(&kb) {
        return Err(Error::new(
            ErrorKind::InvalidParameterValue,
            format!(
                "{kb} kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)"
            ),
        ));
    }
    Ok(kb)
}

/// Kilobytes in the largest unit that divides them, as SHOW prints memory settings.
fn format_kb(kb: i64) -> String {
    for (unit, size) in [("TB", 1i64 << 30), ("GB", 1 << 20), ("MB", 1 << 10)] {
        if kb % size == 0 {
            return format!("{}{unit}", kb / size);
        }
    }
    format!("{kb}kB")
}

/// `1000`, `5s`, `100ms`, `1min` → milliseconds.
pub fn parse_duration_ms(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit.trim() {
        "" | "ms" => n,
        "s" => n * 1000,
        "min" => n * 60_000,
        "h" => n * 3_600_000,
        "d" => n * 86_400_000,
        _ => return None,
    })
}

fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        "0".into()
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
