//! Reads feedparser's header comments (`Header:`, `Expect:`) and the common forms of their
//! Python expectations: `lhs == 'literal'`, `ord(lhs) == N`, `encoding == '...'`, joined by
//! `and`. Forms it does not know are left out of the comparison, and counted as such.

use std::path::Path;

pub struct Case {
    pub headers: Vec<(String, String)>,
    pub expect: String,
}

/// One comparison from an `Expect:` line.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    Equals { lhs: String, value: String },
    Ord { lhs: String, value: u32 },
    Other(String),
}

impl Case {
    /// The header comment of a feedparser file; files of other corpora have none.
    pub fn read(path: &Path) -> Option<Case> {
        let bytes = std::fs::read(path).ok()?;
        let text = planet::decode::to_utf8(&bytes, None).text;
        let start = text.find("<!--")?;
        let end = start + 4 + text[start + 4..].find("-->")?;
        let comment = &text[start + 4..end];
        let mut headers = Vec::new();
        let mut expect = None;
        for line in comment.lines() {
            let line = line.trim();
            if let Some(header) = line.strip_prefix("Header:") {
                if let Some((name, value)) = header.split_once(':') {
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                }
            } else if let Some(expression) = line.strip_prefix("Expect:") {
                expect = Some(expression.trim().to_string());
            }
        }
        Some(Case { headers, expect: expect? })
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    pub fn clauses(&self) -> Vec<Clause> {
        split_and(&self.expect).into_iter().map(|clause| parse_clause(&clause)).collect()
    }

    /// The expected HTML of the first entry's content, description or summary, if stated.
    pub fn expected_entry_html(&self) -> Option<String> {
        self.clauses().into_iter().find_map(|clause| match clause {
            Clause::Equals { lhs, value } if is_entry_body(&lhs) => Some(value),
            _ => None,
        })
    }
}

pub fn is_entry_body(lhs: &str) -> bool {
    let compact: String = lhs.chars().filter(|c| !c.is_whitespace()).collect();
    [
        "entries[0]['content'][0]['value']",
        "entries[0]['description']",
        "entries[0]['summary']",
        "entries[0].summary",
        "entries[0].description",
    ]
    .contains(&compact.as_str())
}

/// Splits on ` and ` outside string literals.
fn split_and(expression: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = expression.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                current.push(c);
                if current.ends_with(" and ") {
                    parts.push(current[..current.len() - 5].trim().to_string());
                    current.clear();
                }
            }
        }
    }
    parts.push(current.trim().to_string());
    parts
}

fn parse_clause(clause: &str) -> Clause {
    let Some((lhs, rhs)) = clause.split_once("==") else { return Clause::Other(clause.to_string()) };
    let (lhs, rhs) = (lhs.trim(), rhs.trim());
    if let Some(inner) = lhs.strip_prefix("ord(").and_then(|l| l.strip_suffix(')')) {
        if let Ok(value) = rhs.parse() {
            return Clause::Ord { lhs: inner.to_string(), value };
        }
    }
    match python_string(rhs) {
        Some(value) => Clause::Equals { lhs: lhs.to_string(), value },
        None => Clause::Other(clause.to_string()),
    }
}

/// Decodes a Python string literal: optional u/b prefix, either quote, the usual escapes.
pub fn python_string(literal: &str) -> Option<String> {
    let literal = literal.strip_prefix(['u', 'b']).unwrap_or(literal);
    let quote = literal.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = literal.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = chars.next()?;
        let hex = |chars: &mut std::str::Chars, n: usize| -> Option<char> {
            let digits: String = chars.take(n).collect();
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        match escaped {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'x' => out.push(hex(&mut chars, 2)?),
            'u' => out.push(hex(&mut chars, 4)?),
            'U' => out.push(hex(&mut chars, 8)?),
            other => out.push(other),
        }
    }
    Some(out)
}

#[test]
fn expectations_split_into_clauses_and_literals_decode() {
    let case = Case {
        headers: vec![],
        expect: r#"not bozo and entries[0]['description'] == u'a \'and\' b\u2019 \xa3' and encoding == 'utf-8'"#.into(),
    };
    assert_eq!(
        case.clauses(),
        vec![
            Clause::Other("not bozo".into()),
            Clause::Equals { lhs: "entries[0]['description']".into(), value: "a 'and' b\u{2019} \u{a3}".into() },
            Clause::Equals { lhs: "encoding".into(), value: "utf-8".into() },
        ]
    );
}
