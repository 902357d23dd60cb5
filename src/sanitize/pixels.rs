//! Finishes images in sanitized HTML: drops tracking pixels (images of 1x1 or 0 pixels and
//! images from known feed-analytics hosts) and writes the two attributes planet adds in one
//! order. It runs on ammonia's output, whose serialization is regular (every attribute
//! double-quoted, `"` escaped), so a quote-aware scan of `<img` tags is exact.

use std::borrow::Cow;

const TRACKER_URL_PARTS: &[&str] = &[
    "feeds.feedburner.com/~r/",
    "feeds.feedburner.com/~ff/",
    "pixel.wp.com/",
    "stats.wordpress.com/",
    "feedproxy.google.com/~r/",
    "pixel.quantserve.com/",
];

/// The attributes the allow-list sets on every image, as ammonia appends them: in the order
/// of its hash map, which is seeded per process. Written in one order, the same post gives
/// the same bytes (and content hash) after a restart.
const ADDED_IN_HASH_ORDER: &str = " loading=\"lazy\" referrerpolicy=\"no-referrer\">";
const ADDED_IN_ONE_ORDER: &str = " referrerpolicy=\"no-referrer\" loading=\"lazy\">";

/// `html` without tracking images, with the added attributes in one order; borrowed when
/// there is no image (most of the time), so the body is not copied.
pub fn finish_images(html: Cow<'_, str>) -> Cow<'_, str> {
    if !html.contains("<img") {
        return html;
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_ref();
    while let Some(start) = rest.find("<img") {
        out.push_str(&rest[..start]);
        let tag_and_after = &rest[start..];
        let tag_length = tag_length(tag_and_after);
        let tag = &tag_and_after[..tag_length];
        if !is_tracking_image(tag) {
            match tag.strip_suffix(ADDED_IN_HASH_ORDER) {
                Some(head) => {
                    out.push_str(head);
                    out.push_str(ADDED_IN_ONE_ORDER);
                }
                None => out.push_str(tag),
            }
        }
        rest = &tag_and_after[tag_length..];
    }
    out.push_str(rest);
    Cow::Owned(out)
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

pub(super) fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
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
