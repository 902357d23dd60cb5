//! feedparser's `wellformed/base` cases: relative URLs in content, summaries and links are
//! resolved through `xml:base` and Content-Location to the URLs feedparser expects.

use super::expect::{is_entry_body, Clause};
use super::{corpus, files_under, html, run, Case};

/// Where planet deliberately differs from feedparser, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("http_item_body_base_content_location.xml", "content only in RSS <body> is not read by feed-rs"),
    ("http_item_body_base_docuri.xml", "content only in RSS <body> is not read by feed-rs"),
    ("http_item_xhtml_body_base_content_location.xml", "content only in RSS <xhtml:body> is not read by feed-rs"),
    ("http_item_xhtml_body_base_docuri.xml", "content only in RSS <xhtml:body> is not read by feed-rs"),
    ("http_item_fullitem_base_content_location.xml", "content only in RSS <fullitem> is not read by feed-rs"),
    ("http_item_fullitem_base_docuri.xml", "content only in RSS <fullitem> is not read by feed-rs"),
];

/// URLs compared as URLs: `http://any.test/À` and `http://any.test/%C3%80` are one address.
fn normalized(urls: Vec<String>) -> Vec<String> {
    urls.into_iter().map(|u| url::Url::parse(&u).map(|p| p.to_string()).unwrap_or(u)).collect()
}

#[test]
fn feedparser_base_cases_resolve_links_to_the_expected_urls() {
    let (mut applicable, mut not_applicable, mut known, mut mismatches) = (0, 0, 0, Vec::new());
    for path in files_under(&corpus().join("feedparser/tests/wellformed/base")) {
        let Some(case) = Case::read(&path) else { continue };
        let report = run(&path, Some(&case));
        for clause in case.clauses() {
            let Clause::Equals { lhs, value } = clause else { continue };
            let post = report.posts.first();
            let (expected, ours) = if is_entry_body(&lhs) {
                (html::urls(&value), post.map(|p| html::urls(&p.content_html)).unwrap_or_default())
            } else if ["entries[0]['link']", "entries[0]['links'][0]['href']", "entries[0].link"]
                .contains(&lhs.as_str())
            {
                (vec![value.clone()], post.and_then(|p| p.url.clone()).into_iter().collect())
            } else {
                not_applicable += 1;
                continue;
            };
            applicable += 1;
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if let Some((_, why)) = KNOWN_DIFFERENCES.iter().find(|(file, _)| *file == name) {
                println!("  known difference: {name}: {why}");
                known += 1;
                continue;
            }
            if normalized(expected.clone()) != normalized(ours.clone()) {
                mismatches.push(format!("{}: {lhs}: expected {expected:?}, got {ours:?}", path.display()));
            }
        }
    }
    println!(
        "base: {applicable} expectations on entry links and content checked, {} mismatched, {known} known differences; {not_applicable} on feed-level or base-only values not applicable",
        mismatches.len()
    );
    assert!(applicable > 20);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
