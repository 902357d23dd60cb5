//! Drops tracking pixels from sanitized HTML: images of 1x1 (or 0) pixels and images from
//! known feed-analytics hosts. It runs on ammonia's output, whose serialization is regular
//! (every attribute double-quoted, `"` escaped), so a quote-aware scan of `<img` tags is exact.

const TRACKER_URL_PARTS: &[&str] = &[
    "feeds.feedburner.com/~r/",
    "feeds.feedburner.com/~ff/",
    "pixel.wp.com/",
    "stats.wordpress.com/",
    "feedproxy.google.com/~r/",
    "pixel.quantserve.com/",
];

pub fn remove_tracking_images(html: &str) -> String {
    if !html.contains("<img") {
        return html.to_string();
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<img") {
        out.push_str(&rest[..start]);
        let tag_and_after = &rest[start..];
        let tag_length = tag_length(tag_and_after);
        let tag = &tag_and_after[..tag_length];
        if !is_tracking_image(tag) {
            out.push_str(tag);
        }
        rest = &tag_and_after[tag_length..];
    }
    out.push_str(rest);
    out
}

/// The length of the tag at the start of `text`, up to and including its closing `>`.
pub(super) fn tag_length(text: &str) -> usize {
    let mut in_quotes = false;
    for (index, c) in text.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '>' if !in_quotes => return index + 1,
            _ => {}
        }
    }
    text.len()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')?;
    Some(&tag[start..start + end])
}

fn is_tiny(value: Option<&str>) -> bool {
    value.map(|v| v.trim().trim_end_matches("px").trim()).is_some_and(|v| v == "0" || v == "1")
}

fn is_tracking_image(tag: &str) -> bool {
    if is_tiny(attribute(tag, "width")) && is_tiny(attribute(tag, "height")) {
        return true;
    }
    attribute(tag, "src").is_some_and(|src| TRACKER_URL_PARTS.iter().any(|part| src.contains(part)))
}
