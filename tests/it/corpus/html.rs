//! HTML checks with an independent parser (scraper, on html5ever): what in a fragment could
//! run script, the URLs it links to, and a canonical form for comparing two sanitizers' output.

use scraper::{Html, Node};

const FORBIDDEN_ELEMENTS: &[&str] =
    &["script", "iframe", "object", "embed", "base", "meta", "form", "style", "link", "frame", "frameset", "applet"];
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "poster",
    "background",
    "srcset",
    "lowsrc",
    "dynsrc",
    "cite",
    "data",
];
const SAFE_DATA: &[&str] =
    &["data:image/png", "data:image/gif", "data:image/jpeg", "data:image/jpg", "data:image/webp", "data:image/avif"];

/// Everything in `fragment` that could execute, described; empty when it is safe.
pub fn executable_parts(fragment: &str) -> Vec<String> {
    let document = Html::parse_fragment(fragment);
    let mut problems = Vec::new();
    for node in document.tree.nodes() {
        let Node::Element(element) = node.value() else { continue };
        let name = element.name().to_ascii_lowercase();
        if FORBIDDEN_ELEMENTS.contains(&name.as_str()) {
            problems.push(format!("<{name}> element"));
        }
        for (attribute, value) in element.attrs() {
            let attribute = attribute.to_ascii_lowercase();
            if attribute.starts_with("on") {
                problems.push(format!("{attribute} attribute on <{name}>"));
            }
            if URL_ATTRIBUTES.contains(&attribute.as_str()) {
                let cleaned: String = value
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect::<String>()
                    .to_ascii_lowercase();
                let dangerous = cleaned.starts_with("javascript:")
                    || cleaned.starts_with("vbscript:")
                    || (cleaned.starts_with("data:") && !SAFE_DATA.iter().any(|safe| cleaned.starts_with(safe)));
                if dangerous {
                    problems.push(format!("{attribute}={value:?} on <{name}>"));
                }
            }
            if attribute == "style" {
                let lowered = value.to_ascii_lowercase();
                if lowered.contains("expression(") || lowered.contains("url(") {
                    problems.push(format!("style {value:?} on <{name}>"));
                }
            }
        }
    }
    problems
}

/// Every URL the fragment links or embeds (href and src), in document order.
pub fn urls(fragment: &str) -> Vec<String> {
    let document = Html::parse_fragment(fragment);
    let mut found = Vec::new();
    for node in document.tree.nodes() {
        if let Node::Element(element) = node.value() {
            for name in ["href", "src"] {
                if let Some(value) = element.attr(name) {
                    found.push(value.to_string());
                }
            }
        }
    }
    found
}

/// Attributes planet adds on purpose, left out of comparisons with feedparser's output.
const ADDED_BY_PLANET: &[&str] = &["rel", "referrerpolicy", "loading", "preload"];

fn canonical(fragment: &str) -> Vec<String> {
    let document = Html::parse_fragment(fragment);
    let mut parts = Vec::new();
    for node in document.tree.nodes() {
        match node.value() {
            Node::Element(element) if element.name() != "html" => {
                let mut attributes: Vec<String> = element
                    .attrs()
                    .filter(|(name, _)| !ADDED_BY_PLANET.contains(name))
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                attributes.sort();
                parts.push(format!("<{} {}>", element.name(), attributes.join(" ")));
            }
            Node::Text(text) if !text.trim().is_empty() => parts.push(text.trim().to_string()),
            _ => {}
        }
    }
    parts
}

/// Whether two fragments hold the same elements, attributes and text.
pub fn same_meaning(expected: &str, ours: &str) -> bool {
    canonical(expected) == canonical(ours)
}

#[test]
fn the_checker_itself_finds_script_handlers_and_javascript_urls() {
    assert_eq!(executable_parts("<p>ok</p><a href='https://x'>x</a>"), Vec::<String>::new());
    assert_eq!(executable_parts("<script>x</script>").len(), 1);
    assert_eq!(executable_parts("<img src=x onerror=alert(1)>").len(), 1);
    assert_eq!(executable_parts("<a href=' jav&#x09;ascript:alert(1)'>x</a>").len(), 1);
    assert_eq!(executable_parts("<img src='data:image/svg+xml,<svg>'>").len(), 1);
}
