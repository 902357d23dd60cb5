//! Repairs the common faults that make real feeds ill-formed XML, the way feedparser's loose
//! mode recovers them: junk before the root element, characters XML forbids, bare `&`, and
//! HTML named entities (`&nbsp;`) used without a DTD. CDATA sections are left untouched.
//! Only called after a strict parse failed; each repair made is reported.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::sanitize;
use crate::text::is_xml_char;

const XML_ENTITIES: &[&str] = &["amp", "lt", "gt", "quot", "apos"];

/// The repaired document and a description of each kind of repair made.
pub fn xml(text: &str) -> (String, Vec<String>) {
    let mut repairs = Vec::new();
    let mut text: &str = text.trim_start_matches('\u{feff}');
    let root = root_start(text);
    if root > 0 {
        repairs.push(format!("removed {} bytes of junk before the root element", root));
        text = &text[root..];
    }
    let retyped = (text.contains("<feed") && text.contains(" type="))
        .then(|| super::legacy::retype_text_constructs(text))
        .filter(|r| r != text);
    if let Some(fixed) = &retyped {
        repairs.push("text constructs with a type feed-rs rejects read as text, html or xhtml".to_string());
        text = fixed;
    }
    let versioned = rss_root_normalized(text);
    if let Some(fixed) = &versioned {
        repairs.push("the <rss> element lacks a version feed-rs knows or a <channel>; read as RSS 2.0".to_string());
        text = fixed;
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
    let out = match balance_tags(&out) {
        Some((balanced, fixes)) => {
            repairs.extend(fixes);
            balanced
        }
        None => out,
    };
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

/// Makes end tags match start tags, like a loose parser: an end tag that closes an outer
/// element also closes the ones left open inside it, a stray end tag is dropped, and
/// whatever is open at the end is closed. After a syntax error, reading goes on from the
/// next entry or item (closing the one it broke), so one broken post does not take the rest
/// of the feed with it; after the last one, the document ends there. `None` when the
/// document was already balanced.
fn balance_tags(text: &str) -> Option<(String, Vec<String>)> {
    let mut reader = loose_reader(text);
    let mut out = String::with_capacity(text.len() + 64);
    let mut stack: Vec<String> = Vec::new();
    let (mut base, mut last, mut closed, mut dropped) = (0usize, 0usize, 0usize, 0usize);
    let (mut cut_at, mut skipped) = (None, Vec::new());
    loop {
        let event = reader.read_event();
        let position = (base + reader.buffer_position() as usize).min(text.len());
        let broken = match &event {
            Err(_) => true,
            // A start tag whose "name" is not a name is markup gone wrong (`<svg/1='...`):
            // the reader took everything to the next quote and `>` as one tag, and no end
            // tag could ever match it. It is a syntax error like any other.
            Ok(Event::Start(element) | Event::Empty(element)) => !is_xml_name(&element_name(element.name())),
            _ => false,
        };
        if broken {
            match next_entry(text, last, &stack) {
                Some((open_entry, next)) => {
                    for open in stack.drain(open_entry..).rev() {
                        out.push_str(&format!("</{open}>"));
                        closed += 1;
                    }
                    skipped.push(last);
                    (base, last) = (next, next);
                    reader = loose_reader(&text[next..]);
                    continue;
                }
                None => {
                    cut_at = Some(last);
                    break;
                }
            }
        }
        match event {
            Ok(Event::Eof) | Err(_) => break,
            Ok(Event::Start(element)) => {
                stack.push(element_name(element.name()));
                out.push_str(&text[last..position]);
            }
            Ok(Event::End(element)) => {
                let name = element_name(element.name());
                match stack.iter().rposition(|open| *open == name) {
                    Some(index) => {
                        for inner in stack.drain(index + 1..).rev() {
                            out.push_str(&format!("</{inner}>"));
                            closed += 1;
                        }
                        stack.pop();
                        out.push_str(&text[last..position]);
                    }
                    None => dropped += 1,
                }
            }
            Ok(_) => out.push_str(&text[last..position]),
        }
        last = position;
    }
    let unclosed_at_end = stack.len();
    for open in stack.drain(..).rev() {
        out.push_str(&format!("</{open}>"));
    }
    let mut fixes = Vec::new();
    if !skipped.is_empty() {
        let at: Vec<String> = skipped.iter().map(usize::to_string).collect();
        fixes.push(format!("the XML is broken at byte {}; skipped to the next entry", at.join(", ")));
    }
    if let Some(at) = cut_at {
        fixes.push(format!("the XML is broken at byte {at}; what follows was dropped"));
    }
    if closed + unclosed_at_end > 0 {
        fixes.push(format!("closed {} unclosed elements", closed + unclosed_at_end));
    }
    if dropped > 0 {
        fixes.push(format!("dropped {dropped} stray end tags"));
    }
    (!fixes.is_empty()).then_some((out, fixes))
}

/// A reader that reports end tags as they are, matched or not: matching them is our job.
fn loose_reader(text: &str) -> Reader<&[u8]> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    reader
}

/// Where to go on after a syntax error at `from`: the index in `stack` of the entry or item
/// it broke (everything from there is closed; the stack's length when none is open), and
/// where the next entry or item starts. `None` after the last one.
fn next_entry(text: &str, from: usize, stack: &[String]) -> Option<(usize, usize)> {
    let is_entry = |name: &str| {
        let local = name.rsplit(':').next().unwrap_or(name);
        local.eq_ignore_ascii_case("entry") || local.eq_ignore_ascii_case("item")
    };
    let (open_entry, tags) = match stack.iter().rposition(|name| is_entry(name)) {
        Some(index) => (index, vec![format!("<{}", stack[index])]),
        None => (stack.len(), vec!["<item".to_string(), "<entry".to_string()]),
    };
    tags.iter().filter_map(|tag| next_start_tag(text, from, tag)).min().map(|next| (open_entry, next))
}

/// Where the next start tag `tag` (`<name`) begins after `from`.
fn next_start_tag(text: &str, from: usize, tag: &str) -> Option<usize> {
    let mut search = from;
    while let Some(found) = text[search..].find(tag) {
        let start = search + found;
        let after = text[start + tag.len()..].chars().next();
        if start > from && after.is_some_and(|c| c == '>' || c == '/' || c.is_whitespace()) {
            return Some(start);
        }
        search = start + tag.len();
    }
    None
}

fn element_name(name: quick_xml::name::QName) -> String {
    let text: &str = name.as_ref();
    text.to_string()
}

/// XML's Name production, simplified to what matters here: no markup, quotes or spaces,
/// and not starting with a digit, `-` or `.`.
fn is_xml_name(name: &str) -> bool {
    let valid = |c: char| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | ':') || !c.is_ascii();
    name.chars().next().is_some_and(|first| !first.is_ascii_digit() && !matches!(first, '-' | '.'))
        && name.chars().all(valid)
}

/// feed-rs recognizes `<rss>` only with version 2.0, 0.91 or 0.92, and only with a
/// `<channel>`; feedparser reads any `<rss>` (no version, 0.93, 3.0 ...) and items straight
/// under it, and so do we. `None` when the root needs neither change.
fn rss_root_normalized(text: &str) -> Option<String> {
    let start = text.find("<rss")?;
    let after = &text[start + 4..];
    if !after.starts_with(|c: char| c == '>' || c.is_whitespace()) {
        return None;
    }
    let end = start + 4 + after.find('>')?;
    let tag = &text[start..end];
    let known = ["\"2.0\"", "'2.0'", "\"0.91\"", "'0.91'", "\"0.92\"", "'0.92'"];
    let fixed_tag = if known.iter().any(|v| tag.contains(&format!("version={v}"))) {
        tag.to_string()
    } else {
        let without_version = match tag.find("version=") {
            Some(at) => {
                let value = &tag[at + 8..];
                let quote = value.chars().next()?;
                let length = value[1..].find(quote)? + 2;
                format!("{}{}", tag[..at].trim_end(), &tag[at + 8 + length..])
            }
            None => tag.to_string(),
        };
        format!("<rss version=\"2.0\"{}", &without_version[4..])
    };
    let rest = with_channel(&text[end..]);
    let fixed = format!("{}{}{}", &text[..start], fixed_tag, rest);
    (fixed != text).then_some(fixed)
}

/// Items straight under `<rss>`, or no channel at all, get the `<channel>` feed-rs needs.
fn with_channel(after_root_tag: &str) -> String {
    if after_root_tag.contains("<channel") {
        return after_root_tag.to_string();
    }
    match after_root_tag.rfind("</rss") {
        Some(end) => format!("><channel>{}</channel>{}", &after_root_tag[1..end], &after_root_tag[end..]),
        None => format!("><channel>{}", &after_root_tag[1..]),
    }
}

/// Where the XML declaration or the root element starts.
/// An `<?xml` after the first element is a post's text (a .NET blog quoting a config file
/// in CDATA), not a declaration.
fn root_start(text: &str) -> usize {
    let element = text
        .char_indices()
        .find(|(i, c)| *c == '<' && text[i + 1..].starts_with(|n: char| n.is_ascii_alphabetic() || n == '!'))
        .map(|(i, _)| i);
    let declaration = text.find("<?xml").filter(|at| element.is_none_or(|element| *at < element));
    declaration.or(element).unwrap_or(0)
}

enum Fix {
    None,
    Bare,
    Entity,
}

/// Handles one `&` at the start of `text`: returns what to write, how much was read.
fn ampersand(text: &str) -> (String, usize, Fix) {
    let reference: String =
        text[1..].chars().take(32).take_while(|c| *c != ';' && *c != '&' && *c != '<' && !c.is_whitespace()).collect();
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
            // `&#X41;` (capital X) is not XML; write every reference the way XML accepts.
            Some(c) if is_xml_char(c) => {
                (format!("&#{};", c as u32), consumed, if number.starts_with('X') { Fix::Entity } else { Fix::None })
            }
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
        let (fixed, repairs) = xml("<rss version=\"2.0\"><channel><title>Tom & Jerry&nbsp;&copy; &amp; &#20013; &bogus;</title></channel></rss>");
        assert_eq!(fixed, "<rss version=\"2.0\"><channel><title>Tom &amp; Jerry&#160;&#169; &amp; &#20013; &amp;bogus;</title></channel></rss>");
        assert_eq!(repairs.len(), 2, "{repairs:?}");
    }

    #[test]
    fn junk_before_the_root_and_control_characters_are_removed() {
        let (fixed, _) =
            xml("Warning: PHP notice\n<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>a\u{1}b</channel></rss>");
        assert_eq!(fixed, "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>ab</channel></rss>");
    }

    #[test]
    fn an_rss_root_without_a_known_version_reads_as_rss_2() {
        let (fixed, _) = xml("<rss><channel/></rss>");
        assert_eq!(fixed, "<rss version=\"2.0\"><channel/></rss>");
        let (fixed, _) = xml("<rss version='0.94' xmlns:x=\"u\"><channel/></rss>");
        assert_eq!(fixed, "<rss version=\"2.0\" xmlns:x=\"u\"><channel/></rss>");
    }

    #[test]
    fn truncated_and_mis_nested_documents_are_balanced() {
        let (fixed, repairs) = xml("<rss version=\"2.0\"><channel><item><title>a<b>b</title></item></channel></rss");
        assert_eq!(fixed, "<rss version=\"2.0\"><channel><item><title>a<b>b</b></title></item></channel></rss>");
        assert!(repairs.iter().any(|r| r.contains("closed")), "{repairs:?}");
        let (fixed, _) = xml("<rss version=\"2.0\"><channel></b><title>t</title>");
        assert_eq!(fixed, "<rss version=\"2.0\"><channel><title>t</title></channel></rss>");
    }

    #[test]
    fn items_without_a_channel_get_one() {
        let (fixed, _) = xml("<rss><item><title>t</title></item></rss>");
        assert_eq!(fixed, "<rss version=\"2.0\"><channel><item><title>t</title></item></channel></rss>");
    }

    #[test]
    fn cdata_sections_are_not_rewritten() {
        let (fixed, _) = xml("<rss version=\"2.0\"><channel><d><![CDATA[a & b &nbsp;]]></d></channel></rss>");
        assert_eq!(fixed, "<rss version=\"2.0\"><channel><d><![CDATA[a & b &nbsp;]]></d></channel></rss>");
    }
}
