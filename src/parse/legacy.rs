//! Rewrites legacy formats into the ones feed-rs reads, before it sees them: Atom 0.3
//! (`http://purl.org/atom/ns#`) into Atom 1.0, RSS 0.90 (`my.netscape.com/rdf/simple/0.9/`)
//! into RSS 1.0, and RSS 2.0 in Userland's namespace into plain RSS 2.0. feedparser reads
//! all of them and old blogs still publish them.

use std::sync::OnceLock;

use regex::Regex;

const ATOM_03: &str = "http://purl.org/atom/ns#";
const ATOM_10: &str = "http://www.w3.org/2005/Atom";

const RSS_090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const RSS_10: &str = "http://purl.org/rss/1.0/";
const USERLAND_NAMESPACES: &[&str] = &[
    "xmlns=\"http://backend.userland.com/rss2\"",
    "xmlns=\"http://backend.userland.com/rss\"",
    "xmlns='http://backend.userland.com/rss2'",
];

/// The document in a format feed-rs reads, and what was done, or `None` if it already was.
pub fn modernize(text: &str) -> Option<(String, &'static str)> {
    // Almost every feed is none of these: one multi-literal search (SIMD) answers that,
    // where five substring searches each read the whole document.
    static ANY_LEGACY: OnceLock<Regex> = OnceLock::new();
    let any_legacy = ANY_LEGACY.get_or_init(|| {
        let literals = [ATOM_03, RSS_090, "backend.userland.com/rss"];
        Regex::new(&literals.map(regex::escape).join("|")).expect("valid pattern")
    });
    if !any_legacy.is_match(text) {
        return None;
    }
    if text.contains(ATOM_03) {
        return Some((upgrade(text), "the feed is Atom 0.3, read as Atom 1.0; consider publishing Atom 1.0"));
    }
    if text.contains(RSS_090) {
        return Some((text.replace(RSS_090, RSS_10), "the feed is RSS 0.90, read as RSS 1.0"));
    }
    if let Some(declaration) = USERLAND_NAMESPACES.iter().find(|d| text.contains(*d)) {
        return Some((text.replacen(declaration, "", 1), "RSS 2.0 in Userland's namespace, read as plain RSS 2.0"));
    }
    None
}

/// The document with Atom 0.3 names and types rewritten to Atom 1.0.
fn upgrade(text: &str) -> String {
    static RENAMES: OnceLock<Regex> = OnceLock::new();
    let renames = RENAMES.get_or_init(|| {
        Regex::new(r"(</?)([A-Za-z0-9_]+:)?(modified|issued|tagline|copyright)\b").expect("valid pattern")
    });
    let text = decode_base64_constructs(&text.replace(ATOM_03, ATOM_10));
    let renamed = renames.replace_all(&text, |caps: &regex::Captures| {
        let new_name = match &caps[3] {
            "modified" => "updated",
            "issued" => "published",
            "tagline" => "subtitle",
            _ => "rights",
        };
        format!("{}{}{}", &caps[1], caps.get(2).map_or("", |m| m.as_str()), new_name)
    });
    retype_text_constructs(&renamed)
}

/// Gives every Atom text construct a type feed-rs accepts (text, html or xhtml): feed-rs
/// rejects the whole feed over one `type=""` or a MIME type on a title.
pub fn retype_text_constructs(text: &str) -> String {
    static TEXT_CONSTRUCT: OnceLock<Regex> = OnceLock::new();
    let text_construct = TEXT_CONSTRUCT.get_or_init(|| {
        Regex::new(r"<([A-Za-z0-9_]+:)?(title|subtitle|summary|content|rights|info)\b[^>]*>").expect("valid pattern")
    });
    text_construct.replace_all(text, |caps: &regex::Captures| retype(&caps[0])).into_owned()
}

/// `mode="base64"` text constructs are decoded and XML-escaped in place, mode removed.
fn decode_base64_constructs(text: &str) -> String {
    static BASE64_ELEMENT: OnceLock<Regex> = OnceLock::new();
    let pattern = BASE64_ELEMENT.get_or_init(|| {
        Regex::new(r#"<((?:[A-Za-z0-9_]+:)?(?:title|subtitle|tagline|summary|content|rights|copyright|info))\b([^>]*?)\s+mode=["']base64["']([^>]*)>([^<]*)</"#).expect("valid pattern")
    });
    pattern
        .replace_all(text, |caps: &regex::Captures| {
            match base64_decode(&caps[4]).and_then(|bytes| String::from_utf8(bytes).ok()) {
                Some(decoded) => {
                    format!("<{}{}{}>{}</", &caps[1], &caps[2], &caps[3], crate::sanitize::escape_text(&decoded))
                }
                None => caps[0].to_string(),
            }
        })
        .into_owned()
}

/// Standard base64 (RFC 4648), whitespace ignored; `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let symbols: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let symbols = symbols.strip_suffix(b"==").or_else(|| symbols.strip_suffix(b"=")).unwrap_or(&symbols);
    let mut out = Vec::with_capacity(symbols.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for symbol in symbols {
        buffer = (buffer << 6) | u32::from(value(*symbol)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// Atom 0.3 gives a MIME type plus a `mode`; Atom 1.0 wants text, html or xhtml.
fn retype(tag: &str) -> String {
    let attribute = |name: &str| {
        let at = tag.find(&format!(" {name}="))? + name.len() + 2;
        let quote = tag[at..].chars().next()?;
        let end = tag[at + 1..].find(quote)?;
        Some((at - name.len() - 2, at + 1 + end + 1, tag[at + 1..at + 1 + end].to_string()))
    };
    let mode = attribute("mode");
    let kind = attribute("type");
    let mime = kind.as_ref().map(|(_, _, v)| v.to_ascii_lowercase()).unwrap_or_default();
    let mode_value = mode.as_ref().map(|(_, _, v)| v.as_str()).unwrap_or("");
    let new_type = match (mime.as_str(), mode_value) {
        (_, "base64") => return tag.to_string(),
        ("text" | "html" | "xhtml", "") => return tag.to_string(),
        // A content element may carry any MIME type with a src; leave it to feed-rs.
        (_, "") if tag.contains(" src=") => return tag.to_string(),
        (_, "xml") | ("application/xhtml+xml", _) => "xhtml",
        ("text/html", _) | (_, "escaped") => "html",
        _ => "text",
    };
    let mut rewritten = tag.to_string();
    // Remove from the end first so earlier offsets stay valid.
    let mut ranges: Vec<(usize, usize)> =
        [mode.map(|(s, e, _)| (s, e)), kind.map(|(s, e, _)| (s, e))].into_iter().flatten().collect();
    ranges.sort_by_key(|range| std::cmp::Reverse(range.0));
    for (start, end) in ranges {
        rewritten.replace_range(start..end, "");
    }
    let name_end = rewritten.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rewritten.len());
    rewritten.insert_str(name_end, &format!(" type=\"{new_type}\""));
    rewritten
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atom_03_names_and_content_types_become_atom_10() {
        let upgraded = upgrade(
            r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><tagline>t</tagline><entry><modified>2004-01-01T00:00:00Z</modified><content type="text/html" mode="escaped">&lt;b&gt;x&lt;/b&gt;</content><title type="application/xhtml+xml" mode="xml">A</title></entry></feed>"#,
        );
        assert_eq!(
            upgrade(
                r#"<feed xmlns="http://purl.org/atom/ns#"><content type="text/html" mode="base64">PGI+aGk8L2I+</content></feed>"#
            ),
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><content type="html">&lt;b&gt;hi&lt;/b&gt;</content></feed>"#
        );
        assert_eq!(
            upgraded,
            r#"<feed version="0.3" xmlns="http://www.w3.org/2005/Atom"><subtitle type="text">t</subtitle><entry><updated>2004-01-01T00:00:00Z</updated><content type="html">&lt;b&gt;x&lt;/b&gt;</content><title type="xhtml">A</title></entry></feed>"#
        );
    }
}
