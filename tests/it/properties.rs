//! Property tests: invariants that must hold for any input, not just the examples we thought of.

use planet::sanitize;
use planet::text::{is_xml_char, strip_xml_forbidden};
use proptest::prelude::*;

/// HTML-ish strings: tags, attributes, entities and URLs mixed with arbitrary text.
fn html_fragment() -> impl Strategy<Value = String> {
    let pieces = prop::collection::vec(
        prop_oneof![
            Just("<a href=\"javascript:alert(1)\">".to_string()),
            Just("<img src=x onerror=alert(1) width=1 height=1>".to_string()),
            Just("<script>alert(1)</script>".to_string()),
            Just("<p class=\"x\" style=\"color:red\">".to_string()),
            Just("</p>".to_string()),
            Just("<pre class=\"lang-cs\"><code>".to_string()),
            Just("&nbsp;&amp;&lt;&#0;&#x110000;&#1;&#x1b;".to_string()),
            Just("<a href=\"java&#1;&#9;script:alert(1)\">".to_string()),
            Just("<a href=\"/relative\">".to_string()),
            Just("<svg><g onload=alert(1)>".to_string()),
            Just("<math><mi xlink:href=\"javascript:1\">".to_string()),
            "[^\u{0}]{0,12}",
            any::<String>(),
        ],
        0..12,
    );
    pieces.prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sanitizing_is_idempotent(fragment in html_fragment()) {
        let base = url::Url::parse("https://blog.example.cn/a/").unwrap();
        let once = sanitize::html(&fragment, Some(&base));
        let twice = sanitize::html(once.as_str(), Some(&base));
        prop_assert_eq!(once.as_str(), twice.as_str());
    }

    #[test]
    fn sanitized_html_has_nothing_executable(fragment in html_fragment()) {
        let safe = sanitize::html(&fragment, None);
        let problems = crate::corpus::html_problems(safe.as_str());
        prop_assert!(problems.is_empty(), "{:?} in {:?}", problems, safe.as_str());
    }

    #[test]
    fn stored_strings_hold_no_character_xml_forbids(text in any::<String>()) {
        prop_assert!(strip_xml_forbidden(&text).chars().all(is_xml_char));
        prop_assert!(planet::text::clean_line(&text).chars().all(is_xml_char));
    }

    #[test]
    fn the_date_parser_never_panics(text in any::<String>()) {
        let _ = planet::dates::parse(&text, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn the_date_parser_never_panics_on_date_shaped_text(text in "[A-Za-z]{0,9},? ?[0-9]{0,3} [A-Za-z]{0,9} [0-9]{0,5} [0-9:]{0,9} ?[A-Z+0-9:-]{0,6}") {
        let _ = planet::dates::parse(&text, chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn every_stored_post_field_is_xml_safe(title in any::<String>(), body in html_fragment()) {
        let document = format!(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>{}</title><description>{}</description><guid>1</guid></item></channel></rss>",
            sanitize::escape_text(&title),
            sanitize::escape_text(&body)
        );
        let report = crate::corpus::run_bytes(document.as_bytes());
        for post in &report.posts {
            prop_assert!(post.title.chars().all(is_xml_char));
            prop_assert!(post.excerpt.chars().all(is_xml_char));
            prop_assert!(post.content_html.chars().all(is_xml_char));
        }
    }
}
