//! The plain-text passage shown under a search hit: a window of the post's text around the
//! first place a query term occurs, with the matching spans marked. Matching goes through
//! the same analyzer as indexing, so `middlewares` in a post is marked for `middleware`.

use std::collections::HashSet;

use serde::Serialize;

use super::tokenizer;

/// Characters of text around a hit.
const WINDOW_CHARS: usize = 160;
/// Characters kept before the first match, for context.
const LEAD_CHARS: usize = 40;
/// Bytes of a post's text searched for a match; a longer post's snippet comes from its start.
const SCAN_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// Plain text; `…` marks text left out at either end.
    pub text: String,
    /// Matching spans as [start, end) in Unicode characters of `text`.
    pub highlights: Vec<[usize; 2]>,
}

impl Snippet {
    /// `text` cut into (part, highlighted) runs, for a template to escape and mark.
    pub fn parts(&self) -> Vec<(String, bool)> {
        let chars: Vec<char> = self.text.chars().collect();
        let mut parts = Vec::new();
        let mut at = 0;
        for [start, end] in &self.highlights {
            if *start > at {
                parts.push((chars[at..*start].iter().collect(), false));
            }
            parts.push((chars[*start..*end].iter().collect(), true));
            at = *end;
        }
        if at < chars.len() {
            parts.push((chars[at..].iter().collect(), false));
        }
        parts
    }
}

/// The snippet of `text` for a query's clauses (each a word, or a phrase of several terms:
/// a phrase is marked only where all of it occurs, in order).
pub fn make(text: &str, clauses: &[Vec<String>]) -> Snippet {
    let scanned = &text[..floor_char_boundary(text, SCAN_BYTES)];
    let tokens = tokenizer::terms(scanned);
    let firsts: HashSet<&str> = clauses.iter().filter_map(|c| c.first()).map(String::as_str).collect();
    let mut matches: Vec<(usize, usize)> = Vec::new();
    for (at, token) in tokens.iter().enumerate() {
        if !firsts.contains(token.text.as_str()) {
            continue;
        }
        let phrase_here = |clause: &&Vec<String>| {
            clause.iter().enumerate().all(|(i, term)| {
                tokens.get(at + i).is_some_and(|t| &t.text == term && t.position == token.position + i)
            })
        };
        if let Some(clause) = clauses.iter().find(phrase_here) {
            matches.push((token.offset_from, tokens[at + clause.len() - 1].offset_to));
        }
    }
    // A one-character query (锁) is a term inside the post's bigrams (锁的), not one of them.
    let characters: Vec<char> = clauses
        .iter()
        .filter_map(|clause| match clause.as_slice() {
            [term] => term.chars().next().filter(|c| term.chars().count() == 1 && tokenizer::is_cjk(*c)),
            _ => None,
        })
        .collect();
    if !characters.is_empty() {
        let singles = scanned.char_indices().filter(|(_, c)| characters.contains(c));
        matches.extend(singles.map(|(at, c)| (at, at + c.len_utf8())));
        matches.sort_unstable();
    }
    let first = matches.first().map_or(0, |(from, _)| *from);
    let lead = text[..first].chars().count().saturating_sub(LEAD_CHARS);
    let start = text.char_indices().nth(lead).map_or(0, |(at, _)| at);
    let end = text[start..].char_indices().nth(WINDOW_CHARS).map_or(text.len(), |(at, _)| start + at);
    let prefix = if start > 0 { "…" } else { "" };
    let suffix = if end < text.len() { "…" } else { "" };
    let chars_before = |byte: usize| prefix.chars().count() + text[start..byte].chars().count();
    let mut highlights: Vec<[usize; 2]> = Vec::new();
    for (from, to) in matches.into_iter().filter(|(from, to)| *from >= start && *to <= end) {
        let span = [chars_before(from), chars_before(to)];
        match highlights.last_mut() {
            // Overlapping bigrams (依赖, 赖注) mark one span.
            Some(last) if span[0] <= last[1] => last[1] = last[1].max(span[1]),
            _ => highlights.push(span),
        }
    }
    Snippet { text: format!("{prefix}{}{suffix}", &text[start..end]), highlights }
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clauses(terms: &[&[&str]]) -> Vec<Vec<String>> {
        terms.iter().map(|clause| clause.iter().map(|t| t.to_string()).collect()).collect()
    }

    fn marked(snippet: &Snippet) -> String {
        snippet.parts().into_iter().map(|(text, hit)| if hit { format!("[{text}]") } else { text }).collect()
    }

    #[test]
    fn chinese_matches_are_marked_as_one_span() {
        let snippet = make("本文介绍依赖注入的用法。", &clauses(&[&["依赖", "赖注", "注入"]]));
        assert_eq!(marked(&snippet), "本文介绍[依赖注入]的用法。");
    }

    #[test]
    fn part_of_a_phrase_alone_is_not_marked() {
        let snippet = make("缓存穿透与缓存雪崩", &clauses(&[&["缓存", "存雪", "雪崩"]]));
        assert_eq!(marked(&snippet), "缓存穿透与[缓存雪崩]");
    }

    #[test]
    fn stemmed_words_mark_their_source_text() {
        let snippet = make("Writing ASP.NET Core middlewares", &clauses(&[&["middlewar"]]));
        assert_eq!(marked(&snippet), "Writing ASP.NET Core [middlewares]");
    }

    #[test]
    fn a_late_match_is_shown_with_some_text_before_it() {
        let text = format!("{} Blazor rocks", "开头的文字。".repeat(100));
        let snippet = make(&text, &clauses(&[&["blazor"]]));
        assert!(snippet.text.starts_with('…'), "{}", snippet.text);
        assert!(marked(&snippet).contains("[Blazor]"));
        assert!(snippet.text.chars().count() <= WINDOW_CHARS + 2);
    }

    #[test]
    fn one_character_is_marked_inside_longer_words() {
        let snippet = make("读写锁与自旋锁的区别", &clauses(&[&["锁"]]));
        assert_eq!(marked(&snippet), "读写[锁]与自旋[锁]的区别");
    }

    #[test]
    fn text_without_a_match_gives_its_start() {
        let snippet = make("没有匹配的内容", &clauses(&[&["blazor"]]));
        assert_eq!(snippet, Snippet { text: "没有匹配的内容".into(), highlights: vec![] });
    }
}
