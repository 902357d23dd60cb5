//! Plain-text helpers for stored strings: removing characters XML forbids, collapsing
//! whitespace, and cutting excerpts on character boundaries (CJK aware). Pure functions.

/// Whether XML 1.0 allows this character in a document.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Removes characters that XML 1.0 forbids (C0 controls, U+FFFE, U+FFFF), so nothing stored
/// can break a feed we publish.
/// Borrows when there is nothing to remove, as there almost never is.
pub fn strip_xml_forbidden(text: &str) -> std::borrow::Cow<'_, str> {
    if !has_xml_forbidden(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.chars().filter(|c| is_xml_char(*c)).collect())
}

/// A byte scan, as this runs on every text ingested: in a `str` (no surrogates) the
/// forbidden characters are the C0 controls but tab, newline and return (one byte each),
/// and U+FFFE and U+FFFF (EF BF BE, EF BF BF).
fn has_xml_forbidden(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Chunks of 32 bytes are tested without branching (the compiler vectorizes it); only a
    // chunk holding a control or an 0xEF lead byte (common: CJK punctuation) is looked at
    // byte by byte.
    bytes.chunks(32).enumerate().any(|(chunk_index, chunk)| {
        let suspect = chunk.iter().fold(false, |seen, &byte| seen | (byte < 0x20) | (byte == 0xef));
        suspect && {
            let start = chunk_index * 32;
            (start..start + chunk.len()).any(|at| match bytes[at] {
                0x09 | 0x0a | 0x0d => false,
                0x00..=0x1f => true,
                0xef => bytes.get(at + 1) == Some(&0xbf) && matches!(bytes.get(at + 2), Some(0xbe | 0xbf)),
                _ => false,
            })
        }
    })
}

/// One line of text: every run of whitespace (no-break spaces included) becomes one space.
pub fn collapse_whitespace(text: &str) -> String {
    collapsed_prefix(text, usize::MAX)
}

/// `collapse_whitespace` of the text's start: at least `min_chars` characters of it (whole
/// words; all of it when shorter), without reading the rest of a long text.
fn collapsed_prefix(text: &str, min_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(min_chars.saturating_mul(4)));
    let mut chars = 0usize;
    for word in text.split(|c: char| c.is_whitespace() || c == '\u{a0}' || c == '\u{3000}') {
        if word.is_empty() {
            continue;
        }
        if chars >= min_chars {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += word.chars().count();
    }
    out
}

/// Plain text for a stored single-line field (title, author): forbidden characters removed,
/// whitespace collapsed.
pub fn clean_line(text: &str) -> String {
    collapse_whitespace(&strip_xml_forbidden(text))
}

/// Characters written without spaces between words (CJK scripts, fullwidth forms).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}' | '\u{20000}'..='\u{3FFFF}')
}

const CJK_BREAKS: &[char] = &['。', '！', '？', '；', '，', '、', '：'];

/// An excerpt of at most `limit` characters. Latin text is cut at a space, CJK text after a
/// punctuation mark when one is near the end, never inside a character; an ellipsis marks a cut.
pub fn excerpt(text: &str, limit: usize) -> String {
    // One character past the limit is all the cut looks at (a post's whole body is often
    // the source, so collapsing all of it was most of an excerpt's cost).
    cut_excerpt(collapsed_prefix(text, limit.saturating_add(1)), limit)
}

/// Cuts collapsed text at `limit` characters, at a word boundary or after CJK punctuation.
fn cut_excerpt(text: String, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return text;
    }
    let cut_at = text.char_indices().nth(limit).map(|(i, _)| i).unwrap_or(text.len());
    let head = &text[..cut_at];
    let window_start = head.char_indices().rev().nth(limit / 3).map(|(i, _)| i).unwrap_or(0);
    let last_char = head.chars().last().unwrap_or(' ');
    let next_char = text[cut_at..].chars().next().unwrap_or(' ');
    let cut = if is_cjk(last_char) || is_cjk(next_char) {
        head[window_start..].rfind(CJK_BREAKS).map(|i| {
            let mark_length = head[window_start + i..].chars().next().map_or(0, char::len_utf8);
            window_start + i + mark_length
        })
    } else if next_char == ' ' {
        Some(head.len())
    } else {
        head[window_start..].rfind(' ').map(|i| window_start + i)
    };
    let cut = cut.filter(|c| *c > 0).unwrap_or(head.len());
    format!("{}…", head[..cut].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_control_characters_are_removed() {
        assert_eq!(strip_xml_forbidden("a\u{0}b\u{1b}c\u{FFFE}d\te"), "abcd\te");
    }

    #[test]
    fn whitespace_collapses_to_single_spaces() {
        assert_eq!(collapse_whitespace("  a\n\t b\u{a0}\u{3000}c  "), "a b c");
    }

    #[test]
    fn short_text_is_not_cut() {
        assert_eq!(excerpt("short text", 200), "short text");
    }

    #[test]
    fn latin_excerpts_end_at_a_word_boundary() {
        let text = "word ".repeat(100);
        let cut = excerpt(&text, 22);
        assert_eq!(cut, "word word word word…");
    }

    #[test]
    fn chinese_excerpts_end_after_punctuation_and_never_split_a_character() {
        let text =
            "长沙.NET技术社区是一个开发者分享知识的地方。我们每周举办活动，欢迎加入我们一起学习和交流技术。".repeat(5);
        let cut = excerpt(&text, 30);
        assert!(cut.chars().count() <= 31, "{cut}");
        assert!(cut.ends_with("。…") || cut.ends_with("，…"), "{cut}");
    }

    proptest::proptest! {
        #[test]
        fn an_excerpt_of_the_start_equals_the_excerpt_of_the_whole_collapsed_text(
            text in "[ a-z\u{a0}\u{3000}\n，。长沙技术]{0,400}",
            limit in 1usize..60,
        ) {
            let whole = collapse_whitespace(&text);
            proptest::prop_assert_eq!(excerpt(&text, limit), excerpt_of_collapsed(&whole, limit));
        }

        #[test]
        fn the_chunked_scan_finds_exactly_what_a_byte_by_byte_scan_finds(
            text in "[a-z\u{0}-\u{1f}\u{fffe}\u{ffff}\u{ff0c}\u{f000}]{0,100}",
        ) {
            let simple = text.chars().any(|c| !is_xml_char(c));
            proptest::prop_assert_eq!(has_xml_forbidden(&text), simple);
        }
    }

    /// The excerpt as it was computed before it stopped reading early: collapse it all first.
    fn excerpt_of_collapsed(collapsed: &str, limit: usize) -> String {
        cut_excerpt(collapsed.to_string(), limit)
    }
}
