//! Caps how deeply elements nest before the HTML parser sees a fragment. html5ever's tree
//! building is quadratic in nesting depth for the elements a post can open without closing
//! (`<div>` 100,000 deep took 35 s; two million, hours), and no real post nests deeper than
//! a few dozen. Start and end tags past `MAX_DEPTH` are dropped; their text stays. Elements
//! that close themselves implicitly (`<p>`, `<li>`, table cells ...) and void elements do
//! not count, so long old-style HTML keeps its paragraphs.

use std::borrow::Cow;

/// Open elements kept at most.
pub const MAX_DEPTH: usize = 256;

/// Elements that never hold content, or whose end tag HTML lets the next sibling imply.
const NOT_COUNTED: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "p", "li",
    "dt", "dd", "tr", "td", "th", "option", "optgroup", "tbody", "thead", "tfoot", "rb", "rt", "rtc", "rp",
];

/// Elements whose content is text up to their end tag: `<` inside them opens nothing.
const RAW_TEXT: &[&str] =
    &["script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "plaintext"];

/// `raw` with tags past `MAX_DEPTH` removed, and whether any were; borrowed when none were.
pub fn flatten(raw: &str) -> (Cow<'_, str>, bool) {
    flatten_at(raw, MAX_DEPTH)
}

fn flatten_at(raw: &str, max_depth: usize) -> (Cow<'_, str>, bool) {
    // Fewer tags than the cap cannot nest past it: the common case costs one byte count.
    if bytecount_lt(raw, max_depth) {
        return (Cow::Borrowed(raw), false);
    }
    let mut out = String::new();
    let mut copied_to = 0;
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(offset) = raw[at..].find('<') {
        let start = at + offset;
        let rest = &raw[start..];
        let Some(tag) = parse_tag(rest) else {
            at = start + 1;
            continue;
        };
        let end = start + tag.length;
        let counted = !tag.self_closing && !NOT_COUNTED.contains(&tag.name.as_str());
        let mut drop = false;
        if tag.closing {
            if counted && depth > 0 {
                drop = depth > max_depth;
                depth -= 1;
            }
        } else if counted {
            depth += 1;
            drop = depth > max_depth;
        }
        if drop {
            out.push_str(&raw[copied_to..start]);
            copied_to = end;
        }
        at = end;
        if !tag.closing && RAW_TEXT.contains(&tag.name.as_str()) {
            // Skip to the end tag; what is inside is text to the parser.
            at = find_end_tag(&raw[at..], &tag.name).map_or(raw.len(), |i| at + i);
            if counted {
                depth = depth.saturating_sub(1);
            }
        }
    }
    if copied_to == 0 {
        return (Cow::Borrowed(raw), false);
    }
    out.push_str(&raw[copied_to..]);
    (Cow::Owned(out), true)
}

/// Where `</name` starts in `text`, the name's case ignored.
fn find_end_tag(text: &str, name: &str) -> Option<usize> {
    text.match_indices("</").map(|(at, _)| at).find(|at| {
        text.as_bytes()
            .get(at + 2..at + 2 + name.len())
            .is_some_and(|candidate| candidate.eq_ignore_ascii_case(name.as_bytes()))
    })
}

/// Whether `raw` holds fewer than `count` `<` characters.
fn bytecount_lt(raw: &str, count: usize) -> bool {
    raw.bytes().filter(|b| *b == b'<').take(count).count() < count
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    length: usize,
}

/// A start or end tag at the start of `text` (`<name ...>` or `</name>`), quote-aware;
/// `None` for anything else (text, a comment, a declaration).
fn parse_tag(text: &str) -> Option<Tag> {
    let after = &text[1..];
    let (closing, name_start) = match after.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    if !name_start.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let name: String = name_start
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut quote = None;
    for (index, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            (None, '>') => {
                let self_closing = text[..index].ends_with('/');
                return Some(Tag { name, closing, self_closing, length: index + 1 });
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_html_is_borrowed_untouched() {
        let html = "<div><p>one<p>two<ul><li>a<li>b</ul></div>";
        let (out, flattened) = flatten(html);
        assert!(matches!(out, Cow::Borrowed(_)) && !flattened);
    }

    #[test]
    fn tags_past_the_cap_go_and_their_text_stays() {
        let html = format!("{}deep{}", "<div>".repeat(5), "</div>".repeat(5));
        let (out, flattened) = flatten_at(&html, 3);
        assert!(flattened);
        assert_eq!(out, format!("{}deep{}", "<div>".repeat(3), "</div>".repeat(3)));
    }

    #[test]
    fn paragraphs_and_void_elements_do_not_count_and_script_text_is_not_read_as_tags() {
        let html = format!("{}<script>{}</script><b>x</b>", "<p>a<br>".repeat(10), "<div>".repeat(10));
        let (out, flattened) = flatten_at(&html, 3);
        assert!(!flattened, "{out}");
    }
}
