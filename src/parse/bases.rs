//! Finds the `xml:base` in force for each entry's content and summary. feed-rs resolves entry
//! links against `xml:base` but not the HTML inside content, so this scan walks the document
//! once, keeping the stack of bases, and records the base at each entry's text elements, in
//! document order (the order feed-rs returns entries in).

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use url::Url;

/// The bases seen inside one entry: for its content and for its summary.
#[derive(Debug, Default, Clone)]
pub struct EntryBases {
    pub content: Option<Url>,
    pub summary: Option<Url>,
}

const ENTRY_ELEMENTS: &[&str] = &["entry", "item"];
const CONTENT_ELEMENTS: &[&str] = &["content", "encoded", "body"];
const SUMMARY_ELEMENTS: &[&str] = &["summary", "description"];

/// One `EntryBases` per entry (`entries` of them), or an empty list when the document has no
/// `xml:base` (the common case: then every entry uses the document base) or cannot be
/// scanned. When the root element holds the only `xml:base` (the next commonest case),
/// every entry inherits it and the document is not read a second time.
pub fn per_entry(text: &str, document_base: Option<&Url>, entries: usize) -> Vec<EntryBases> {
    let mut occurrences = text.match_indices("xml:base").map(|(at, _)| at);
    let Some(first) = occurrences.next() else { return Vec::new() };
    if let Some(root) = root_start_tag(text).filter(|root| root.contains(&first)) {
        if occurrences.all(|at| root.contains(&at)) {
            let base = root_base(&text[root], document_base);
            return vec![EntryBases { content: base.clone(), summary: base }; entries];
        }
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Option<Url>> = Vec::new();
    let mut entries = Vec::new();
    let mut in_entry_depth: Option<usize> = None;
    loop {
        let (element, is_empty) = match reader.read_event() {
            Ok(Event::Start(element)) => (element, false),
            Ok(Event::Empty(element)) => (element, true),
            Ok(Event::End(_)) => {
                stack.pop();
                if in_entry_depth.is_some_and(|depth| stack.len() < depth) {
                    in_entry_depth = None;
                }
                continue;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => continue,
        };
        let inherited = stack.iter().rev().find_map(|b| b.clone()).or_else(|| document_base.cloned());
        let base = own_base(&element, inherited.as_ref()).or(inherited);
        let local_name = element.local_name();
        let name: &str = local_name.as_ref();
        if in_entry_depth.is_none() && ENTRY_ELEMENTS.contains(&name) {
            entries.push(EntryBases::default());
            in_entry_depth = Some(stack.len() + 1);
        } else if in_entry_depth.is_some() {
            if let Some(entry) = entries.last_mut() {
                if CONTENT_ELEMENTS.contains(&name) && entry.content.is_none() {
                    entry.content = base.clone();
                } else if SUMMARY_ELEMENTS.contains(&name) && entry.summary.is_none() {
                    entry.summary = base.clone();
                }
            }
        }
        if !is_empty {
            stack.push(base);
        } else if in_entry_depth.is_some_and(|depth| stack.len() + 1 == depth) {
            in_entry_depth = None;
        }
    }
    entries
}

/// Where the root element's start tag lies: the first tag after the prolog's declarations,
/// processing instructions and comments, to its closing `>` outside quotes.
fn root_start_tag(text: &str) -> Option<std::ops::Range<usize>> {
    let mut at = 0;
    loop {
        let start = at + text[at..].find('<')?;
        let rest = &text[start..];
        let skip_to = if rest.starts_with("<?") {
            rest.find("?>").map(|end| end + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|end| end + 3)
        } else if rest.starts_with("<!") {
            rest.find('>').map(|end| end + 1)
        } else {
            let mut quote = None;
            let end = rest.char_indices().find_map(|(i, c)| match (quote, c) {
                (None, '"' | '\'') => {
                    quote = Some(c);
                    None
                }
                (Some(open), c) if c == open => {
                    quote = None;
                    None
                }
                (None, '>') => Some(i),
                _ => None,
            })?;
            return Some(start..start + end + 1);
        };
        at = start + skip_to?;
    }
}

/// The base the root element sets, resolved against the document's.
fn root_base(root_tag: &str, document_base: Option<&Url>) -> Option<Url> {
    let mut reader = Reader::from_str(root_tag);
    match reader.read_event() {
        Ok(Event::Start(element) | Event::Empty(element)) => {
            own_base(&element, document_base).or_else(|| document_base.cloned())
        }
        _ => document_base.cloned(),
    }
}

fn own_base(element: &BytesStart, inherited: Option<&Url>) -> Option<Url> {
    let attribute = element.attributes().flatten().find(|a| {
        let key: &str = a.key.as_ref();
        key == "xml:base"
    })?;
    let value = attribute.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok()?;
    match inherited {
        Some(parent) => parent.join(value.trim()).ok(),
        None => Url::parse(value.trim()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_and_content_bases_nest() {
        let text = r#"<feed xml:base="http://a.cn/x/"><entry xml:base="e/"><content xml:base="c/">x</content></entry>
            <entry><summary>y</summary></entry></feed>"#;
        let bases = per_entry(text, None, 2);
        assert_eq!(bases.len(), 2);
        assert_eq!(bases[0].content.as_ref().unwrap().as_str(), "http://a.cn/x/e/c/");
        assert_eq!(bases[1].summary.as_ref().unwrap().as_str(), "http://a.cn/x/");
    }

    #[test]
    fn a_base_on_the_root_alone_is_every_entrys_base_and_matches_the_full_scan() {
        let text = r#"<?xml version="1.0"?><!-- a > in a comment --><feed xmlns="http://www.w3.org/2005/Atom" title='a>b' xml:base="blog/"><entry><content>x</content><summary>s</summary></entry><entry><content>y</content></entry></feed>"#;
        let document = Url::parse("http://a.cn/x/feed").unwrap();
        let bases = per_entry(text, Some(&document), 2);
        assert_eq!(bases.len(), 2);
        assert_eq!(bases[1].content.as_ref().unwrap().as_str(), "http://a.cn/x/blog/");
        // The same as the full scan, which a second xml:base anywhere forces.
        let full = per_entry(&text.replace("<entry>", "<entry xml:base=\"\">"), Some(&document), 2);
        assert_eq!(full[0].content, bases[0].content);
        assert_eq!(full[0].summary, bases[0].summary);
    }
}
