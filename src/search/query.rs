//! A reader's search text, parsed: words (every one must match somewhere), quoted phrases,
//! and `member:` and `tag:` filters. Our own small grammar instead of tantivy's query parser,
//! so that nothing a reader types (a `C#:`, a `*`, a `[a TO b]`) changes what the query
//! costs or fails to parse: every input is a valid query of at most `MAX_CLAUSES` clauses.

use super::tokenizer;

/// Clauses at most; words past it are ignored.
pub const MAX_CLAUSES: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Each clause's terms, analyzed: one term is a word, more are a phrase.
    pub clauses: Vec<Vec<String>>,
    /// `member:ID`: any of these members (lowercased ids).
    pub members: Vec<String>,
    /// `tag:T`: every one of these tags (lowercased; quotes allow spaces).
    pub tags: Vec<String>,
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty() && self.members.is_empty() && self.tags.is_empty()
    }
}

/// Parses `text`. Unbalanced quotes end at the end of the text.
pub fn parse(text: &str) -> ParsedQuery {
    let mut parsed = ParsedQuery::default();
    let mut rest = text.trim_start();
    while !rest.is_empty() && parsed.clauses.len() + parsed.members.len() + parsed.tags.len() < MAX_CLAUSES {
        let (piece, after) = next_piece(rest);
        rest = after.trim_start();
        let lower = piece.to_lowercase();
        if let Some(member) = lower.strip_prefix("member:") {
            let member = unquote(member).trim().to_string();
            if !member.is_empty() {
                parsed.members.push(member);
            }
        } else if let Some(tag) = lower.strip_prefix("tag:") {
            let tag = unquote(tag).trim().to_string();
            if !tag.is_empty() {
                parsed.tags.push(tag);
            }
        } else {
            let terms: Vec<String> = tokenizer::terms(unquote(piece)).into_iter().map(|t| t.text).collect();
            if !terms.is_empty() {
                parsed.clauses.push(terms);
            }
        }
    }
    parsed
}

/// The next piece: a quoted phrase, a `key:"quoted value"`, or a run up to whitespace.
fn next_piece(text: &str) -> (&str, &str) {
    let mut in_quotes = false;
    for (at, c) in text.char_indices() {
        if c == '"' {
            in_quotes = !in_quotes;
        } else if c.is_whitespace() && !in_quotes {
            return (&text[..at], &text[at..]);
        }
    }
    (text, "")
}

fn unquote(text: &str) -> &str {
    text.trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clauses(text: &str) -> Vec<Vec<String>> {
        parse(text).clauses
    }

    #[test]
    fn words_phrases_and_filters_are_told_apart() {
        let parsed = parse(r#"Blazor "依赖注入" member:Zhang tag:"C# & .NET""#);
        assert_eq!(parsed.clauses, vec![vec!["blazor".to_string()], vec!["依赖".into(), "赖注".into(), "注入".into()]]);
        assert_eq!(parsed.members, ["zhang"]);
        assert_eq!(parsed.tags, ["c# & .net"]);
    }

    #[test]
    fn a_dotted_name_is_one_clause_whose_parts_form_a_phrase() {
        assert_eq!(clauses("asp.net"), vec![vec!["asp".to_string(), "net".into()]]);
    }

    #[test]
    fn query_syntax_characters_are_only_text() {
        assert_eq!(
            clauses("C#: [a TO b] * -"),
            vec![vec!["c".to_string()], vec!["a".into()], vec!["to".into()], vec!["b".into()]]
        );
        assert!(parse("\"\" *** ::").is_empty());
    }

    #[test]
    fn a_query_has_at_most_sixteen_clauses() {
        let long = (0..100).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(clauses(&long).len(), MAX_CLAUSES);
    }
}
