//! Utility statements sqlparser does not parse the PostgreSQL way, recognised by a small
//! keyword parser of our own: transaction modes with `[NOT] DEFERRABLE` (BEGIN, START
//! TRANSACTION, SET TRANSACTION, SET SESSION CHARACTERISTICS AS TRANSACTION), VACUUM,
//! ANALYZE and LOCK TABLE.
//!
//! Why not sqlparser: its transaction modes lack DEFERRABLE, its VACUUM is Redshift's and its
//! ANALYZE is Hive's. These statements have a tiny, flat grammar, so a word-level parser is
//! simpler than patching the AST. [`recognize`] returns `None` for anything it does not fully
//! understand; sqlparser then parses the text and reports the syntax error, so error wording
//! and positions stay in one place (`parse.rs`).

/// One transaction characteristic, as written in BEGIN / SET TRANSACTION.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnMode {
    /// The PostgreSQL name of the level: "read uncommitted", "read committed",
    /// "repeatable read" or "serializable" (READ UNCOMMITTED is kept so SHOW can say it, as
    /// PostgreSQL does, although it behaves as READ COMMITTED).
    Isolation(&'static str),
    ReadOnly(bool),
    Deferrable(bool),
}

/// A statement recognised here instead of by sqlparser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Utility {
    /// BEGIN (`tag` "BEGIN") or START TRANSACTION (`tag` "START TRANSACTION").
    Begin {
        modes: Vec<TxnMode>,
        tag: &'static str,
    },
    /// SET TRANSACTION …
    SetTransaction(Vec<TxnMode>),
    /// SET SESSION CHARACTERISTICS AS TRANSACTION …
    SetSessionCharacteristics(Vec<TxnMode>),
    /// VACUUM [options] [tables]; `analyze` when ANALYZE is one of the options.
    Vacuum { analyze: bool, tables: Vec<String> },
    /// ANALYZE [VERBOSE] [tables]
    Analyze { tables: Vec<String> },
    /// LOCK [TABLE] [ONLY] name [, …] [IN mode MODE] [NOWAIT]
    Lock {
        tables: Vec<String>,
        mode: String,
        nowait: bool,
    },
}

/// A lexical token: a lower-cased keyword or unquoted identifier, a quoted identifier (case
/// kept), or one punctuation character.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Tok::Word(
                chars[start..i].iter().collect::<String>().to_lowercase(),
            ));
        } else if c == '"' {
            let mut w = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return None,
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        w.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        w.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Quoted(w));
        } else if matches!(c, ',' | '(' | ')' | '.' | ';') {
            if c != ';' {
                out.push(Tok::Punct(c));
            }
            i += 1;
        } else {
            // Anything else (comments of the /* */ kind, literals, operators): not ours.
            return None;
        }
    }
    Some(out)
}

struct Words {
    toks: Vec<Tok>,
    pos: usize,
}

impl Words {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }
    fn eat(&mut self, w: &str) -> bool {
        if self.peek_word() == Some(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat_all(&mut self, ws: &[&str]) -> bool {
        let save = self.pos;
        for w in ws {
            if !self.eat(w) {
                self.pos = save;
                return false;
            }
        }
        true
    }
    fn eat_punct(&mut self, c: char) -> bool {
        if self.toks.get(self.pos) == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.pos == self.toks.len()
    }
    /// A possibly schema-qualified name; the last part is returned (schemas other than
    /// `public` do not exist yet, so the binder's rules apply later).
    fn name(&mut self) -> Option<String> {
        let mut last = self.part()?;
        while self.eat_punct('.') {
            last = self.part()?;
        }
        Some(last)
    }
    fn part(&mut self) -> Option<String> {
        let t = match self.toks.get(self.pos)? {
            Tok::Word(w) => w.clone(),
            Tok::Quoted(q) => q.clone(),
            Tok::Punct(_) => return None,
        };
        self.pos += 1;
        Some(t)
    }
    /// Transaction modes, separated by optional commas (PostgreSQL allows both).
    fn modes(&mut self) -> Option<Vec<TxnMode>> {
        let mut modes = vec![];
        let mut required = false;
        loop {
            let m = if self.eat_all(&["isolation", "level"]) {
                if self.eat_all(&["read", "uncommitted"]) {
                    TxnMode::Isolation("read uncommitted")
                } else if self.eat_all(&["read", "committed"]) {
                    TxnMode::Isolation("read committed")
                } else if self.eat_all(&["repeatable", "read"]) {
                    TxnMode::Isolation("repeatable read")
                } else if self.eat("serializable") {
                    TxnMode::Isolation("serializable")
                } else {
                    return None;
                }
            } else if self.eat_all(&["read", "only"]) {
                TxnMode::ReadOnly(true)
            } else if self.eat_all(&["read", "write"]) {
                TxnMode::ReadOnly(false)
            } else if self.eat("deferrable") {
                TxnMode::Deferrable(true)
            } else if self.eat_all(&["not", "deferrable"]) {
                TxnMode::Deferrable(false)
            } else if required {
                return None;
            } else {
                break;
            };
            modes.push(m);
            required = self.eat_punct(',');
        }
        Some(modes)
    }
    fn name_list(&mut self) -> Option<Vec<String>> {
        let mut v = vec![self.name()?];
        while self.eat_punct(',') {
            v.push(self.name()?);
        }
        Some(v)
    }
}

/// Recognises one statement's text; `None` leaves it to sqlparser.
pub fn recognize(sql: &str) -> Option<Utility> {
    let mut w = Words {
        toks: tokenize(sql)?,
        pos: 0,
    };
    let u = if w.eat("begin") {
        let _ = w.eat("work") || w.eat("transaction");
        Utility::Begin {
            modes: w.modes()?,
            tag: "BEGIN",
        }
    } else if w.eat_all(&["start", "transaction"]) {
        Utility::Begin {
            modes: w.modes()?,
            tag: "START TRANSACTION",
        }
    } else if w.eat_all(&["set", "transaction"]) {
        let m = w.modes()?;
        if m.is_empty() {
            return None;
        }
        Utility::SetTransaction(m)
    } else if w.eat_all(&["set", "session", "characteristics", "as", "transaction"]) {
        let m = w.modes()?;
        if m.is_empty() {
            return None;
        }
        Utility::SetSessionCharacteristics(m)
    } else if w.eat("vacuum") {
        let mut analyze = false;
        if w.eat_punct('(') {
            loop {
                let opt = w.part()?;
                if opt == "analyze" {
                    analyze = true;
                }
                // An option value (`VERBOSE true`, `PARALLEL 2`) is skipped.
                while !w.eat_punct(',') {
                    if w.eat_punct(')') {
                        return finish_vacuum(w, analyze);
                    }
                    w.part()?;
                }
            }
        }
        loop {
            if w.eat("full") || w.eat("freeze") || w.eat("verbose") {
                continue;
            }
            if w.eat("analyze") || w.eat("analyse") {
                analyze = true;
                continue;
            }
            break;
        }
        return finish_vacuum(w, analyze);
    } else if w.eat("analyze") || w.eat("analyse") {
        let _ = w.eat("verbose");
        let tables = if w.done() { vec![] } else { w.name_list()? };
        Utility::Analyze { tables }
    } else if w.eat("lock") {
        let _ = w.eat("table");
        let _ = w.eat("only");
        let tables = w.name_list()?;
        let mut mode = "access exclusive".to_string();
        if w.eat("in") {
            let mut words = vec![];
            while !w.eat("mode") {
                words.push(w.peek_word()?.to_string());
                w.pos += 1;
            }
            let m = words.join(" ");
            const MODES: &[&str] = &[
                "access share",
                "row share",
                "row exclusive",
                "share update exclusive",
                "share",
                "share row exclusive",
                "exclusive",
                "access exclusive",
            ];
            if !MODES.contains(&m.as_str()) {
                return None;
            }
            mode = m;
        }
        let nowait = w.eat("nowait");
        Utility::Lock {
            tables,
            mode,
            nowait,
        }
    } else {
        return None;
    };
    w.done().then_some(u)
}

fn finish_vacuum(mut w: Words, analyze: bool) -> Option<Utility> {
    let tables = if w.done() { vec![] } else { w.name_list()? };
    w.done().then_some(Utility::Vacuum { analyze, tables })
}

/// Row-lock strengths sqlparser cannot parse: `FOR NO KEY UPDATE` and `FOR KEY SHARE`.
///
/// Returns the text with the words `NO KEY` / `KEY` of those clauses blanked out (same
/// length, so positions stay right) — sqlparser then sees `FOR UPDATE` / `FOR SHARE` — and
/// the true strength of every locking clause in text order. The binder binds subqueries
/// before the clauses of the query around them, which is text order too, so it can take
/// the strengths in turn.
pub fn mask_lock_strengths(sql: &str) -> (String, Vec<sledgres_storage::RowLockMode>) {
    use sledgres_storage::RowLockMode;
    let chars: Vec<char> = sql.chars().collect();
    // (start, end) char ranges of the words outside quotes and comments, lower-cased.
    let mut words: Vec<(usize, usize, String)> = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let w: String = chars[start..i].iter().collect::<String>().to_lowercase();
            words.push((start, i, w));
        } else {
            i += 1;
        }
    }
    let mut out = chars.clone();
    let mut modes = vec![];
    let w = |k: usize| words.get(k).map(|x| x.2.as_str());
    let mut k = 0;
    while k < words.len() {
        if w(k) == Some("for") {
            let (mode, blank) = match (w(k + 1), w(k + 2), w(k + 3)) {
                (Some("no"), Some("key"), Some("update")) => (Some(RowLockMode::NoKeyUpdate), 2),
                (Some("key"), Some("share"), _) => (Some(RowLockMode::KeyShare), 1),
                (Some("update"), ..) => (Some(RowLockMode::Update), 0),
                (Some("share"), ..) => (Some(RowLockMode::Share), 0),
                _ => (None, 0),
            };
            if let Some(m) = mode {
                modes.push(m);
                if blank > 0 {
                    let (from, to) = (words[k + 1].0, words[k + 1 + blank].0);
                    for ch in &mut out[from..to] {
                        if *ch != '\n' {
                            *ch = ' ';
                        }
                    }
                }
                k += 1 + blank;
            }
        }
        k += 1;
    }
    (out.into_iter().collect(), modes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_modes() {
        assert_eq!(
            recognize("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY DEFERRABLE"),
            Some(Utility::Begin {
                modes: vec![
                    TxnMode::Isolation("serializable"),
                    TxnMode::ReadOnly(true),
                    TxnMode::Deferrable(true)
                ],
                tag: "BEGIN"
            })
        );
        assert_eq!(
            recognize("start transaction read write, not deferrable"),
            Some(Utility::Begin {
                modes: vec![TxnMode::ReadOnly(false), TxnMode::Deferrable(false)],
                tag: "START TRANSACTION"
            })
        );
        assert_eq!(
            recognize(
                "set session characteristics as transaction isolation level read uncommitted"
            ),
            Some(Utility::SetSessionCharacteristics(vec![
                TxnMode::Isolation("read uncommitted")
            ]))
        );
        assert_eq!(recognize("BEGIN ISOLATION LEVEL foo"), None);
        assert_eq!(recognize("set transaction"), None);
        assert_eq!(recognize("SELECT 1"), None);
    }

    #[test]
    fn lock_strengths() {
        use sledgres_storage::RowLockMode as M;
        let (masked, modes) = mask_lock_strengths(
            "SELECT 'for key share' FROM (SELECT * FROM t FOR KEY SHARE) s FOR NO KEY UPDATE NOWAIT",
        );
        assert_eq!(
            masked,
            "SELECT 'for key share' FROM (SELECT * FROM t FOR     SHARE) s FOR        UPDATE NOWAIT"
        );
        assert_eq!(modes, vec![M::KeyShare, M::NoKeyUpdate]);
        assert_eq!(
            mask_lock_strengths("select * from t for update").1,
            vec![M::Update]
        );
    }

    #[test]
    fn maintenance_statements() {
        assert_eq!(
            recognize("VACUUM (VERBOSE, ANALYZE) t, \"U\""),
            Some(Utility::Vacuum {
                analyze: true,
                tables: vec!["t".into(), "U".into()]
            })
        );
        assert_eq!(
            recognize("vacuum full"),
            Some(Utility::Vacuum {
                analyze: false,
                tables: vec![]
            })
        );
        assert_eq!(
            recognize("LOCK TABLE public.t IN SHARE ROW EXCLUSIVE MODE NOWAIT"),
            Some(Utility::Lock {
                tables: vec!["t".into()],
                mode: "share row exclusive".into(),
                nowait: true
            })
        );
        assert_eq!(recognize("LOCK t IN SILLY MODE"), None);
        assert_eq!(
            recognize("analyze"),
            Some(Utility::Analyze { tables: vec![] })
        );
    }
}
