//! The spec format: what a multi-session test says, and its parser.
//!
//! A spec is PostgreSQL isolationtester's format (its full grammar, so PostgreSQL's own specs
//! parse unchanged):
//!
//! ```text
//! # a comment, up to the end of the line
//! setup     { CREATE TABLE t (id int PRIMARY KEY, v int); }   # any number, run in order
//! teardown  { DROP TABLE t; }                                 # at most one
//!
//! session s1
//! setup     { SET deadlock_timeout = '100ms'; }               # optional, on s1's connection
//! step s1a  { BEGIN; }                                        # a named step: SQL in braces
//! step s1b  { UPDATE t SET v = 1 WHERE id = 1; }
//! teardown  { ROLLBACK; }                                     # optional
//!
//! session s2
//! step s2a  { ... }
//!
//! permutation s1a s2a s1b                                     # the orders to run
//! permutation "s1a" s2a(*) s1b(s2a) s2b(s1b notices 1)        # with blocker annotations
//! ```
//!
//! Names may be written bare or in double quotes (`""` inside quotes is a `"`). A permutation
//! runs up to the next keyword, so it may span lines. A step in a permutation may carry
//! annotations in parentheses ([`Blocker`]): `(*)` — report the step as waiting once, even if
//! it finished at once; `(other)` — the step counts as waiting until step `other` completes;
//! `(other notices N)` — until `other`'s session has emitted N notices.
//!
//! Step names are unique across the spec. Without any
//! `permutation` line the runner runs every interleaving of the sessions' steps that keeps each
//! session's own order (as isolationtester does) — fine for two short sessions, explosive
//! beyond, so the specs here always list their permutations. SQL inside braces may itself
//! contain balanced braces; it is sent as one simple-protocol query, so a step may hold several
//! statements.

use std::fmt;

/// A parsed spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Run on a separate control connection before each permutation, in order.
    pub setup: Vec<String>,
    /// Run on the control connection after each permutation.
    pub teardown: Option<String>,
    pub sessions: Vec<SessionSpec>,
    /// Orders of steps; empty means "every interleaving".
    pub permutations: Vec<Vec<PermutationStep>>,
}

/// One session: its own connection, optional setup/teardown and its steps in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    pub name: String,
    pub setup: Option<String>,
    pub teardown: Option<String>,
    pub steps: Vec<Step>,
}

/// A named piece of SQL run on its session's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub sql: String,
}

/// One entry of a permutation: a step name and the blocker annotations that follow it in
/// parentheses, as isolationtester defines them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermutationStep {
    pub name: String,
    pub blockers: Vec<Blocker>,
}

/// Why a step counts as blocked even if it has finished (`step(...)` in a permutation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// `(*)`: reported `<waiting ...>` once when issued, its completion reported after the
    /// next step (for output whose position would otherwise depend on timing).
    Once,
    /// `(other)`: blocked until step `other` has completed; `(other notices N)`: until
    /// `other`'s session has emitted N notices while that step runs.
    Step { name: String, notices: Option<u32> },
}

fn parse_blockers(
    tokens: &[(usize, Token)],
    pos: &mut usize,
    line: usize,
) -> Result<Vec<Blocker>, ParseError> {
    let bad = |message: &str| ParseError {
        line,
        message: message.to_string(),
    };
    let mut out = Vec::new();
    loop {
        let Some((_, Token::Word(word))) = tokens.get(*pos).cloned() else {
            return Err(bad("a blocker annotation needs * or a step name"));
        };
        *pos += 1;
        if word == "*" {
            out.push(Blocker::Once);
        } else {
            let mut notices = None;
            if let Some((_, Token::Word(kw))) = tokens.get(*pos) {
                if kw == "notices" {
                    let Some((_, Token::Word(n))) = tokens.get(*pos + 1) else {
                        return Err(bad("notices needs a count"));
                    };
                    let n: u32 = n.parse().map_err(|_| bad("notices needs a count"))?;
                    notices = Some(n);
                    *pos += 2;
                }
            }
            out.push(Blocker::Step {
                name: word,
                notices,
            });
        }
        match tokens.get(*pos).map(|t| &t.1) {
            Some(Token::Punct(',')) => *pos += 1,
            Some(Token::Punct(')')) => {
                *pos += 1;
                return Ok(out);
            }
            _ => return Err(bad("unterminated blocker annotation")),
        }
    }
}

/// A malformed spec, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Block(String),
    /// `(`, `)` or `,` of a permutation step's blocker annotation.
    Punct(char),
    /// End of a line outside a block: it ends a permutation.
    Newline,
}

const KEYWORDS: [&str; 5] = ["setup", "teardown", "session", "step", "permutation"];

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            tokens.push((line, Token::Newline));
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '{' {
            let start_line = line;
            let mut depth = 1;
            let mut j = i + 1;
            while j < chars.len() && depth > 0 {
                match chars[j] {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    '\n' => line += 1,
                    _ => {}
                }
                j += 1;
            }
            if depth > 0 {
                return Err(ParseError {
                    line: start_line,
                    message: "unterminated { block".into(),
                });
            }
            let sql: String = chars[i + 1..j - 1].iter().collect();
            tokens.push((start_line, Token::Block(sql.trim().to_string())));
            i = j;
        } else if c == '"' {
            // A quoted name: `""` inside stands for one `"`.
            let mut j = i + 1;
            let mut name = String::new();
            loop {
                match chars.get(j) {
                    None | Some('\n') => {
                        return Err(ParseError {
                            line,
                            message: "unterminated quoted name".into(),
                        })
                    }
                    Some('"') if chars.get(j + 1) == Some(&'"') => {
                        name.push('"');
                        j += 2;
                    }
                    Some('"') => break,
                    Some(ch) => {
                        name.push(*ch);
                        j += 1;
                    }
                }
            }
            tokens.push((line, Token::Word(name)));
            i = j + 1;
        } else if c == '(' || c == ')' || c == ',' {
            tokens.push((line, Token::Punct(c)));
            i += 1;
        } else if c == '}' {
            return Err(ParseError {
                line,
                message: "unexpected }".into(),
            });
        } else {
            let mut j = i;
            while j < chars.len() && !chars[j].is_whitespace() && !"{}#\"(),".contains(chars[j]) {
                j += 1;
            }
            tokens.push((line, Token::Word(chars[i..j].iter().collect())));
            i = j;
        }
    }
    Ok(tokens)
}

/// Parses a spec's text.
pub fn parse(text: &str) -> Result<Spec, ParseError> {
    let tokens = tokenize(text)?;
    let mut spec = Spec {
        setup: Vec::new(),
        teardown: None,
        sessions: Vec::new(),
        permutations: Vec::new(),
    };
    let mut pos = 0;
    let err = |line: usize, message: String| ParseError { line, message };
    // The next non-newline token.
    let next = |pos: &mut usize| -> Option<(usize, Token)> {
        while *pos < tokens.len() {
            let t = tokens[*pos].clone();
            *pos += 1;
            if t.1 != Token::Newline {
                return Some(t);
            }
        }
        None
    };
    let block = |pos: &mut usize, what: &str, line: usize| -> Result<String, ParseError> {
        match next(pos) {
            Some((_, Token::Block(sql))) => Ok(sql),
            _ => Err(err(line, format!("{what} needs a {{ SQL }} block"))),
        }
    };
    while let Some((line, token)) = next(&mut pos) {
        let Token::Word(word) = token else {
            return Err(err(line, "expected a keyword, found a block".into()));
        };
        match word.as_str() {
            "setup" => {
                let sql = block(&mut pos, "setup", line)?;
                match spec.sessions.last_mut() {
                    None => spec.setup.push(sql),
                    Some(s) if s.setup.is_none() && s.steps.is_empty() => s.setup = Some(sql),
                    Some(s) => {
                        return Err(err(
                            line,
                            format!("session {}: setup must come first, and once", s.name),
                        ))
                    }
                }
            }
            "teardown" => {
                let sql = block(&mut pos, "teardown", line)?;
                let slot = match spec.sessions.last_mut() {
                    None => &mut spec.teardown,
                    Some(s) => &mut s.teardown,
                };
                if slot.replace(sql).is_some() {
                    return Err(err(line, "a second teardown".into()));
                }
            }
            "session" => {
                let Some((_, Token::Word(name))) = next(&mut pos) else {
                    return Err(err(line, "session needs a name".into()));
                };
                if spec.sessions.iter().any(|s| s.name == name) {
                    return Err(err(line, format!("session {name} defined twice")));
                }
                if !spec.permutations.is_empty() {
                    return Err(err(line, "sessions must come before permutations".into()));
                }
                spec.sessions.push(SessionSpec {
                    name,
                    setup: None,
                    teardown: None,
                    steps: Vec::new(),
                });
            }
            "step" => {
                let Some((_, Token::Word(name))) = next(&mut pos) else {
                    return Err(err(line, "step needs a name".into()));
                };
                if KEYWORDS.contains(&name.as_str()) {
                    return Err(err(line, format!("step name {name} is a keyword")));
                }
                let sql = block(&mut pos, "step", line)?;
                if spec
                    .sessions
                    .iter()
                    .flat_map(|s| &s.steps)
                    .any(|s| s.name == name)
                {
                    return Err(err(line, format!("step {name} defined twice")));
                }
                let Some(session) = spec.sessions.last_mut() else {
                    return Err(err(line, format!("step {name} outside a session")));
                };
                if session.teardown.is_some() {
                    return Err(err(
                        line,
                        format!("step {name} after its session's teardown"),
                    ));
                }
                session.steps.push(Step { name, sql });
            }
            "permutation" => {
                // Steps up to the next keyword (newlines are only whitespace, as in
                // isolationtester's grammar), each optionally `name(blocker, ...)`.
                let mut steps = Vec::new();
                loop {
                    while tokens.get(pos).is_some_and(|t| t.1 == Token::Newline) {
                        pos += 1;
                    }
                    let Some((l, Token::Word(name))) = tokens.get(pos).cloned() else {
                        break;
                    };
                    if KEYWORDS.contains(&name.as_str()) {
                        break;
                    }
                    pos += 1;
                    if spec.find_step(&name).is_none() {
                        return Err(err(l, format!("permutation names unknown step {name}")));
                    }
                    let mut blockers = Vec::new();
                    if tokens.get(pos).is_some_and(|t| t.1 == Token::Punct('(')) {
                        pos += 1;
                        blockers = parse_blockers(&tokens, &mut pos, l)?;
                        for b in &blockers {
                            if let Blocker::Step { name: other, .. } = b {
                                if spec.find_step(other).is_none() {
                                    return Err(err(
                                        l,
                                        format!("step {name} waits for unknown step {other}"),
                                    ));
                                }
                            }
                        }
                    }
                    steps.push(PermutationStep { name, blockers });
                }
                if steps.is_empty() {
                    return Err(err(line, "empty permutation".into()));
                }
                spec.permutations.push(steps);
            }
            other => return Err(err(line, format!("unexpected {other:?}"))),
        }
    }
    if spec.sessions.is_empty() {
        return Err(err(1, "a spec needs at least one session".into()));
    }
    Ok(spec)
}

impl Spec {
    /// Steps that no permutation names (isolationtester reports them as "unused step name").
    pub fn unused_steps(&self) -> Vec<&str> {
        if self.permutations.is_empty() {
            return Vec::new();
        }
        let mut used = std::collections::HashSet::new();
        for p in &self.permutations {
            for st in p {
                used.insert(st.name.as_str());
                for b in &st.blockers {
                    if let Blocker::Step { name, .. } = b {
                        used.insert(name.as_str());
                    }
                }
            }
        }
        self.sessions
            .iter()
            .flat_map(|s| &s.steps)
            .map(|s| s.name.as_str())
            .filter(|n| !used.contains(n))
            .collect()
    }

    /// The session index and step for a step name.
    pub fn find_step(&self, name: &str) -> Option<(usize, &Step)> {
        self.sessions
            .iter()
            .enumerate()
            .find_map(|(i, s)| s.steps.iter().find(|st| st.name == name).map(|st| (i, st)))
    }

    /// The permutations to run: the listed ones, or every interleaving of the sessions'
    /// steps that keeps each session's order.
    pub fn all_permutations(&self) -> Vec<Vec<PermutationStep>> {
        if !self.permutations.is_empty() {
            return self.permutations.clone();
        }
        let mut out = Vec::new();
        let mut next = vec![0usize; self.sessions.len()];
        let mut current = Vec::new();
        self.interleave(&mut next, &mut current, &mut out);
        out
    }

    fn interleave(
        &self,
        next: &mut [usize],
        current: &mut Vec<String>,
        out: &mut Vec<Vec<PermutationStep>>,
    ) {
        let mut any = false;
        for (i, s) in self.sessions.iter().enumerate() {
            if next[i] < s.steps.len() {
                any = true;
                current.push(s.steps[next[i]].name.clone());
                next[i] += 1;
                self.interleave(next, current, out);
                next[i] -= 1;
                current.pop();
            }
        }
        if !any {
            out.push(
                current
                    .iter()
                    .map(|name| PermutationStep {
                        name: name.clone(),
                        blockers: Vec::new(),
                    })
                    .collect(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_spec() {
        let text = "# comment\nsetup { CREATE TABLE t (a int); }\nsetup { INSERT INTO t VALUES (1); }\n\
                    teardown { DROP TABLE t; }\n\nsession s1\nsetup { SET x = '{}'; }\n\
                    step s1a { BEGIN; }\nstep s1b {\n  SELECT * FROM t;\n}\nteardown { ROLLBACK; }\n\
                    session s2\nstep s2a { SELECT 1; }\n\npermutation s1a s2a s1b\npermutation s2a s1a s1b\n";
        let spec = parse(text).unwrap();
        assert_eq!(spec.setup.len(), 2);
        assert_eq!(spec.teardown.as_deref(), Some("DROP TABLE t;"));
        assert_eq!(spec.sessions[0].setup.as_deref(), Some("SET x = '{}';"));
        assert_eq!(spec.sessions[0].steps[1].sql, "SELECT * FROM t;");
        assert_eq!(spec.sessions[0].teardown.as_deref(), Some("ROLLBACK;"));
        let names = |p: &[PermutationStep]| p.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&spec.permutations[0]), vec!["s1a", "s2a", "s1b"]);
        assert_eq!(names(&spec.permutations[1]), vec!["s2a", "s1a", "s1b"]);
        // A permutation may continue on the next line.
        let spec2 = parse(&text.replace("s2a s1b\n", "s2a\n s1b\n")).unwrap();
        assert_eq!(names(&spec2.permutations[0]), vec!["s1a", "s2a", "s1b"]);
    }

    #[test]
    fn parses_quoted_names_and_blockers() {
        let text = "session \"s 1\"\nstep \"a\" { x }\nstep b { y }\nsession s2\nstep c { z }\n\
                    permutation \"a\"(*) b(c notices 2, a) c\n";
        let spec = parse(text).unwrap();
        assert_eq!(spec.sessions[0].name, "s 1");
        let p = &spec.permutations[0];
        assert_eq!(p[0].blockers, vec![Blocker::Once]);
        assert_eq!(
            p[1].blockers,
            vec![
                Blocker::Step {
                    name: "c".into(),
                    notices: Some(2)
                },
                Blocker::Step {
                    name: "a".into(),
                    notices: None
                }
            ]
        );
        assert!(p[2].blockers.is_empty());
        assert!(parse("session s\nstep a { x }\npermutation a(zz)\n").is_err());
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(parse("session s1\nstep a { x }\npermutation a b\n").is_err());
        assert!(parse("session s1\nstep a { x \n").is_err());
        assert!(parse("step a { x }\n").is_err());
        assert!(parse("session s1\nstep a { x }\nsession s2\nstep a { y }\n").is_err());
        assert!(parse("setup { x }\n").is_err());
    }

    #[test]
    fn interleaves_when_no_permutation_is_given() {
        let spec = parse("session s1\nstep a { }\nstep b { }\nsession s2\nstep c { }\n").unwrap();
        let perms = spec.all_permutations();
        let as_str: Vec<String> = perms
            .iter()
            .map(|p| {
                p.iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(as_str, vec!["a b c", "a c b", "c a b"]);
    }
}
