//! Repairs the common faults that make real feeds ill-formed XML, the way feedparser's loose
//! mode recovers them: junk before the root element, characters XML forbids, bare `&`, and
//! HTML named entities (`&nbsp;`) used without a DTD. CDATA sections are left untouched.
//! Only called after a strict parse failed; each repair made is reported.

use crate::sanitize;
use crate::text::is_xml_char;

const XML_ENTITIES: &[&str] = &["amp", "lt", "gt", "quot", "apos"];

/// The repaired document and a description of each kind of repair made.
pub fn xml(text: &str) -> (String, Vec<String>) {
    let mut repairs = Vec::new();
    let mut text = text.trim_start_matches('\u{feff}');
    let root = root_start(text);
    if root > 0 {
        repairs.push(format!("removed {} bytes of junk before the root element", root));
        text = &text[root..];
    }
    let mut out = String::with_capacity(text.len() + 64);
    let (mut forbidden, mut ampersands, mut entities) = (0usize, 0usize, 0usize);
    let mut rest = text;
    while !rest.is_empty() {
        if rest.starts_with("<![CDATA[") {
            let end = rest.find("]]>").map(|i| i + 3).unwrap_or(rest.len());
            let section = &rest[..end];
            forbidden += section.chars().filter(|c| !is_xml_char(*c)).count();
            out.extend(section.chars().filter(|c| is_xml_char(*c)));
            if end == rest.len() && !section.ends_with("]]>") {
                out.push_str("]]>");
                repairs.push("closed an unterminated CDATA section".to_string());
            }
            rest = &rest[end..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '&' {
            let (replacement, consumed, kind) = ampersand(rest);
            match kind {
                Fix::Bare => ampersands += 1,
                Fix::Entity => entities += 1,
                Fix::None => {}
            }
            out.push_str(&replacement);
            rest = &rest[consumed..];
            continue;
        }
        if is_xml_char(c) {
            out.push(c);
        } else {
            forbidden += 1;
        }
        rest = &rest[c.len_utf8()..];
    }
    if forbidden > 0 {
        repairs.push(format!("removed {forbidden} characters that XML forbids"));
    }
    if ampersands > 0 {
        repairs.push(format!("escaped {ampersands} bare '&'"));
    }
    if entities > 0 {
        repairs.push(format!("replaced {entities} HTML entities that XML does not define"));
    }
    (out, repairs)
}

/// Where the XML declaration or the root element starts.
fn root_start(text: &str) -> usize {
    if let Some(position) = text.find("<?xml") {
        return position;
    }
    text.char_indices()
        .find(|(i, c)| *c == '<' && text[i + 1..].starts_with(|n: char| n.is_ascii_alphabetic() || n == '!'))
        .map(|(i, _)| i)
        .unwrap_or(0)
}

enum Fix {
    None,
    Bare,
    Entity,
}

/// Handles one `&` at the start of `text`: returns what to write, how much was read.
fn ampersand(text: &str) -> (String, usize, Fix) {
    let reference: String = text[1..].chars().take(32).take_while(|c| *c != ';' && *c != '&' && *c != '<' && !c.is_whitespace()).collect();
    let terminated = text[1 + reference.len()..].starts_with(';');
    if !terminated || reference.is_empty() {
        return ("&amp;".to_string(), 1, Fix::Bare);
    }
    let consumed = reference.len() + 2;
    if let Some(number) = reference.strip_prefix('#') {
        let value = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        return match value.and_then(char::from_u32) {
            Some(c) if is_xml_char(c) => (text[..consumed].to_string(), consumed, Fix::None),
            // A reference to a forbidden character (&#0;) breaks strict parsers: drop it.
            Some(_) | None => (String::new(), consumed, Fix::Entity),
        };
    }
    if XML_ENTITIES.contains(&reference.as_str()) {
        return (text[..consumed].to_string(), consumed, Fix::None);
    }
    let decoded = sanitize::plain_text(&text[..consumed]);
    if decoded != text[..consumed] {
        let numeric: String = decoded.chars().map(|c| format!("&#{};", c as u32)).collect();
        (numeric, consumed, Fix::Entity)
    } else {
        (format!("&amp;{reference};"), consumed, Fix::Bare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_ampersands_and_html_entities_are_repaired() {
        let (fixed, repairs) = xml("<rss><title>Tom & Jerry&nbsp;&copy; &amp; &#20013; &bogus;</title></rss>");
        assert_eq!(fixed, "<rss><title>Tom &amp; Jerry&#160;&#169; &amp; &#20013; &amp;bogus;</title></rss>");
        assert_eq!(repairs.len(), 2);
    }

    #[test]
    fn junk_before_the_root_and_control_characters_are_removed() {
        let (fixed, _) = xml("Warning: PHP notice\n<?xml version=\"1.0\"?><rss>a\u{1}b</rss>");
        assert_eq!(fixed, "<?xml version=\"1.0\"?><rss>ab</rss>");
    }

    #[test]
    fn cdata_sections_are_not_rewritten() {
        let (fixed, _) = xml("<rss><d><![CDATA[a & b &nbsp;]]></d></rss>");
        assert_eq!(fixed, "<rss><d><![CDATA[a & b &nbsp;]]></d></rss>");
    }
}
