//! A quick runner for SQLite's sqllogictest files select1–5 straight through `Session` (no
//! network), to iterate on the planner fast. The real runner lives in sql-tests/.
//!
//! `cargo test -p sledgres-planner --release --test sqlite_select -- --ignored --nocapture`
//! (set SLT_FILES to a comma-separated list of paths to run other files).

use md5::{Digest, Md5};
use sledgres_planner::{DataType, Database, QueryResult, Session, SessionParams, Value};

const DEFAULT_FILES: &[&str] = &[
    "/work/shared/slt/sqlite/select1.test",
    "/work/shared/slt/sqlite/select2.test",
    "/work/shared/slt/sqlite/select3.test",
    "/work/shared/slt/sqlite/select4.test",
    "/work/shared/slt/sqlite/select5.test",
];

/// Runs every statement of `sql`; returns the rows of the last one (with column types).
fn run(s: &mut Session, sql: &str) -> Result<(Vec<DataType>, Vec<Vec<Value>>), String> {
    type Out = (Vec<DataType>, Vec<Vec<Value>>);
    let r: Result<Out, String> = (|| {
        let stmts = s.parse(sql).map_err(|e| e.message)?;
        let mut out = (vec![], vec![]);
        for st in &stmts {
            let p = s.prepare(st, &[]).map_err(|e| e.message)?;
            match s.execute(&p, vec![]).map_err(|e| e.message)? {
                QueryResult::CopyIn(_) | QueryResult::CopyOut(_) => {
                    panic!("COPY is not used by these tests")
                }
                QueryResult::Command(_) => {}
                QueryResult::Rows(mut c) => {
                    let types = c.columns().iter().map(|c| c.data_type.clone()).collect();
                    let mut rows = vec![];
                    while let Some(batch) = s.fetch(&mut c, 0).map_err(|e| e.message)? {
                        rows.extend(batch);
                    }
                    out = (types, rows);
                }
            }
        }
        Ok(out)
    })();
    let end = s.end_batch().map_err(|e| e.message);
    let out = r?;
    end?;
    Ok(out)
}

fn format(s: &Session, v: &Value, ty: &DataType, kind: char) -> String {
    if v.is_null() {
        return "NULL".into();
    }
    if let Value::Bool(b) = v {
        return if *b { "1" } else { "0" }.into();
    }
    let text = s.format_text(v, ty);
    match kind {
        'I' => {
            let t = text.trim();
            let mut end = 0;
            for (i, c) in t.char_indices() {
                if c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+')) {
                    end = i + c.len_utf8();
                } else {
                    break;
                }
            }
            let n = &t[..end];
            if n.is_empty() || n == "-" || n == "+" {
                "0".into()
            } else {
                // "-0.5" reads as the integer -0, printed 0.
                n.parse::<i128>()
                    .map(|i| i.to_string())
                    .unwrap_or_else(|_| n.to_string())
            }
        }
        'R' => match text.trim().parse::<f64>() {
            Ok(f) => format!("{f:.3}"),
            Err(_) => text,
        },
        _ => {
            if text.is_empty() {
                "(empty)".into()
            } else {
                text.chars()
                    .map(|c| if (' '..='~').contains(&c) { c } else { '@' })
                    .collect()
            }
        }
    }
}

struct Stats {
    passed: usize,
    failed: usize,
    skipped: usize,
}

fn run_file(path: &str, stats: &mut Stats) {
    let text = std::fs::read_to_string(path).expect("read test file");
    let db = Database::open_temporary().expect("open db");
    let mut s = db
        .session(SessionParams {
            user: "postgres".into(),
            ..Default::default()
        })
        .expect("session");
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    let mut threshold = 0usize;
    let mut shown = 0;
    let started = std::time::Instant::now();
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() || line.starts_with('#') {
            i += 1;
            continue;
        }
        let start_line = i + 1;
        // Conditions
        let mut skip = false;
        let mut l = line;
        while l.starts_with("skipif") || l.starts_with("onlyif") {
            let engine = l.split_whitespace().nth(1).unwrap_or("");
            if l.starts_with("skipif") && engine == "postgresql" {
                skip = true;
            }
            if l.starts_with("onlyif") && engine != "postgresql" {
                skip = true;
            }
            i += 1;
            l = lines.get(i).map(|x| x.trim_end()).unwrap_or("");
        }
        if l == "halt" {
            if skip {
                i += 1;
                continue;
            }
            break;
        }
        if let Some(n) = l.strip_prefix("hash-threshold ") {
            threshold = n.trim().parse().unwrap_or(0);
            i += 1;
            continue;
        }
        let header: Vec<&str> = l.split_whitespace().collect();
        i += 1;
        let mut sql = vec![];
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        let sql = sql.join("\n");
        let mut expected = vec![];
        if i < lines.len() && lines[i].trim() == "----" {
            i += 1;
            while i < lines.len() && !lines[i].trim().is_empty() {
                expected.push(lines[i].trim_end().to_string());
                i += 1;
            }
        }
        if skip {
            stats.skipped += 1;
            continue;
        }
        let record_start = std::time::Instant::now();
        let slow = |sql: &str| {
            let t = record_start.elapsed();
            if t > std::time::Duration::from_millis(200) {
                eprintln!("SLOW {path}:{start_line} {t:?}: {}", sql.replace('\n', " "));
            }
        };
        let mut report = |msg: String| {
            stats.failed += 1;
            if shown < 15 {
                shown += 1;
                eprintln!("FAIL {path}:{start_line}: {msg}\n  {sql}");
            }
        };
        match header.first().copied() {
            Some("statement") => {
                let want_ok = header.get(1) == Some(&"ok");
                let r = run(&mut s, &sql);
                slow(&sql);
                match r {
                    Ok(_) if want_ok => stats.passed += 1,
                    Err(_) if !want_ok => stats.passed += 1,
                    Ok(_) => report("expected an error".into()),
                    Err(e) => report(format!("error: {e}")),
                }
            }
            Some("query") => {
                let kinds: Vec<char> = header.get(1).unwrap_or(&"").chars().collect();
                let sort = header.get(2).copied().unwrap_or("nosort");
                let r = run(&mut s, &sql);
                slow(&sql);
                match r {
                    Err(e) => report(format!("error: {e}")),
                    Ok((types, rows)) => {
                        let mut frows: Vec<Vec<String>> = rows
                            .iter()
                            .map(|r| {
                                r.iter()
                                    .enumerate()
                                    .map(|(c, v)| {
                                        format(
                                            &s,
                                            v,
                                            types.get(c).unwrap_or(&DataType::Text),
                                            *kinds.get(c).unwrap_or(&'T'),
                                        )
                                    })
                                    .collect()
                            })
                            .collect();
                        let mut values: Vec<String> = match sort {
                            "rowsort" => {
                                frows.sort();
                                frows.into_iter().flatten().collect()
                            }
                            "valuesort" => {
                                let mut v: Vec<String> = frows.into_iter().flatten().collect();
                                v.sort();
                                v
                            }
                            _ => frows.into_iter().flatten().collect(),
                        };
                        let got =
                            if expected.len() == 1 && expected[0].contains("values hashing to") {
                                let mut h = Md5::new();
                                for v in &values {
                                    h.update(v.as_bytes());
                                    h.update(b"\n");
                                }
                                let hex: String =
                                    h.finalize().iter().map(|b| format!("{b:02x}")).collect();
                                vec![format!("{} values hashing to {hex}", values.len())]
                            } else {
                                if threshold > 0 && values.len() > threshold {
                                    values.truncate(values.len());
                                }
                                values
                            };
                        if got == expected {
                            stats.passed += 1;
                        } else {
                            report(format!(
                                "expected {:?}, got {:?}",
                                &expected[..expected.len().min(6)],
                                &got[..got.len().min(6)]
                            ));
                        }
                    }
                }
            }
            _ => {
                eprintln!("unknown record at {path}:{start_line}: {l}");
            }
        }
    }
    eprintln!("{path}: done in {:?}", started.elapsed());
}

#[test]
#[ignore = "developer tool: CI runs these files over the wire (sql-tests/tests/sqlite_corpus.rs)"]
fn sqlite_select_files() {
    let files: Vec<String> = match std::env::var("SLT_FILES") {
        Ok(v) => v.split(',').map(|s| s.to_string()).collect(),
        Err(_) => DEFAULT_FILES.iter().map(|s| s.to_string()).collect(),
    };
    let mut stats = Stats {
        passed: 0,
        failed: 0,
        skipped: 0,
    };
    for f in &files {
        let before = (stats.passed, stats.failed);
        run_file(f, &mut stats);
        eprintln!(
            "{f}: {} passed, {} failed",
            stats.passed - before.0,
            stats.failed - before.1
        );
    }
    println!(
        "{} passed, {} failed, {} skipped",
        stats.passed, stats.failed, stats.skipped
    );
    assert_eq!(stats.failed, 0);
}
