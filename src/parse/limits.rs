//! What one member feed may put into the planet: every field is bounded, so one hostile or
//! broken feed (a 9 MiB title, 100,000 items, a body of megabytes) cannot make every
//! combined feed huge or every pass slow. Bodies keep their post: they are cut, end with a
//! link to the original, and the member is warned.

use feed_rs::model::Entry;

/// Entries taken from one feed per pass: the newest.
pub const MAX_ENTRIES_PER_FEED: usize = 200;
/// Characters of a title, an author's name and a tag.
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_AUTHOR_CHARS: usize = 100;
pub const MAX_TAG_CHARS: usize = 50;
/// Tags kept per post.
pub const MAX_TAGS: usize = 20;
/// Bytes of a post's body (or summary) that are sanitized and stored.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Bytes of HTML sanitized per feed per pass: the feed's work budget. With each body cut at
/// `MAX_BODY_BYTES` and nesting flattened, it bounds one feed's parse to a fraction of a
/// second of CPU; entries past it wait (a later pass, or never if the feed stays this big).
pub const MAX_FEED_HTML_BYTES: usize = 8 << 20;
/// Bytes of a one-line field's source that are read: more could only be cut.
pub const MAX_LINE_SOURCE_BYTES: usize = 16 * 1024;

/// The longest start of `text` that is at most `max_bytes` long and ends on a character.
pub fn head(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let cut = (0..=max_bytes).rev().find(|at| text.is_char_boundary(*at)).unwrap_or(0);
    &text[..cut]
}

/// `text` cut to `max_chars` characters, with an ellipsis when it was cut.
pub fn at_most_chars(text: String, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text,
        Some((cut, _)) => format!("{}…", text[..cut].trim_end()),
    }
}

/// The HTML an entry will have sanitized: its body (else summary), as far as it is kept.
pub fn html_bytes(entry: &Entry) -> usize {
    let body = entry.content.as_ref().and_then(|c| c.body.as_ref()).map_or(0, String::len);
    let summary = entry.summary.as_ref().map_or(0, |s| s.content.len());
    body.max(summary).min(MAX_BODY_BYTES)
}

/// The indices of the newest `MAX_ENTRIES_PER_FEED` entries, in document order; all of them
/// when there are no more. Undated entries count as the oldest.
pub fn newest_entries(entries: &[Entry]) -> Vec<usize> {
    if entries.len() <= MAX_ENTRIES_PER_FEED {
        return (0..entries.len()).collect();
    }
    let mut by_date: Vec<usize> = (0..entries.len()).collect();
    by_date.sort_by_key(|&index| std::cmp::Reverse(entries[index].published.or(entries[index].updated)));
    let mut kept: Vec<usize> = by_date.into_iter().take(MAX_ENTRIES_PER_FEED).collect();
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_end_on_a_character_and_long_lines_end_with_an_ellipsis() {
        assert_eq!(head("长沙长沙", 4), "长");
        assert_eq!(head("abc", 10), "abc");
        assert_eq!(at_most_chars("依赖注入详解".to_string(), 4), "依赖注入…");
        assert_eq!(at_most_chars("short".to_string(), 10), "short");
    }
}
