//! Unit tests of the sanitizer's policy; the corpus-wide checks live in tests/it/corpus.rs.

use super::*;

fn base() -> Url {
    Url::parse("https://blog.example.cn/posts/2026/hello/").unwrap()
}

#[test]
fn scripts_and_event_handlers_are_removed() {
    let safe = html(r#"<p onclick="x()">hi<script>alert(1)</script></p><img src=x onerror=alert(1)>"#, Some(&base()));
    assert!(!safe.as_str().contains("script"));
    assert!(!safe.as_str().contains("onclick"));
    assert!(!safe.as_str().contains("onerror"));
    assert!(safe.as_str().contains("<p>hi</p>"));
}

#[test]
fn javascript_and_svg_data_urls_are_dropped_but_raster_data_images_stay() {
    let safe = html(
        r#"<a href="javascript:alert(1)">a</a><img src="data:image/svg+xml;base64,PHN2Zz4="><img src="data:image/png;base64,iVBORw0KGgo=">"#,
        Some(&base()),
    );
    assert!(!safe.as_str().contains("javascript"));
    assert!(!safe.as_str().contains("svg+xml"));
    assert!(safe.as_str().contains("data:image/png"));
}

#[test]
fn relative_links_and_images_are_resolved_against_the_base() {
    let safe = html(r#"<a href="../other/">o</a><img src="/img/a.png">"#, Some(&base()));
    assert!(safe.as_str().contains(r#"href="https://blog.example.cn/posts/2026/other/""#), "{safe}");
    assert!(safe.as_str().contains(r#"src="https://blog.example.cn/img/a.png""#), "{safe}");
}

#[test]
fn links_get_noopener_and_images_get_no_referrer_and_lazy_loading() {
    let safe = html(r#"<a href="https://x.cn/">x</a><img src="https://img.x.cn/a.png">"#, Some(&base()));
    assert!(safe.as_str().contains(r#"rel="noopener noreferrer""#));
    assert!(safe.as_str().contains(r#"referrerpolicy="no-referrer""#));
    assert!(safe.as_str().contains(r#"loading="lazy""#));
}

#[test]
fn code_highlighting_classes_are_kept_on_pre_and_code_only() {
    let safe = html(
        r#"<pre class="lang-csharp"><code class="language-csharp">var x;</code></pre><p class="evil">p</p>"#,
        None,
    );
    assert!(safe.as_str().contains(r#"<pre class="lang-csharp">"#));
    assert!(safe.as_str().contains(r#"<code class="language-csharp">"#));
    assert!(!safe.as_str().contains("evil"));
}

#[test]
fn one_pixel_tracking_images_are_dropped() {
    let safe = html(
        r#"<p>text</p><img src="https://t.example/p.gif" width="1" height="1"><img src="https://feeds.feedburner.com/~r/x/~4/abc"><img src="https://x.cn/real.png" width="640" height="1">"#,
        None,
    );
    assert!(!safe.as_str().contains("p.gif"));
    assert!(!safe.as_str().contains("feedburner"));
    assert!(safe.as_str().contains("real.png"));
}

#[test]
fn forbidden_elements_are_removed_with_their_content() {
    let safe = html("<style>body{}</style><iframe src=https://x>f</iframe><form><input></form><base href=x><meta http-equiv=refresh>ok", None);
    assert_eq!(safe.as_str(), "ok");
}

#[test]
fn deserializing_safe_html_sanitizes_it_again() {
    let safe: SafeHtml = serde_json::from_str(r#""<b>ok</b><script>alert(1)</script>""#).unwrap();
    assert_eq!(safe.as_str(), "<b>ok</b>");
}

#[test]
fn titles_keep_generic_type_parameters_but_lose_real_markup() {
    assert_eq!(plain_text_of_title("List<T> and Dictionary<string, int>"), "List<T> and Dictionary<string, int>");
    assert_eq!(plain_text_of_title("<b>Bold</b> &amp; more"), "Bold & more");
    assert_eq!(plain_text_of_title("<script>alert(1)</script>Title"), "Title");
    assert_eq!(plain_text_of_title("Task&lt;T&gt;"), "Task<T>");
}

#[test]
fn plain_text_decodes_entities() {
    assert_eq!(plain_text("caf&eacute; &lt;tag&gt; &#20013;"), "café <tag> 中");
}

#[test]
fn control_characters_cannot_hide_a_javascript_url() {
    let safe = html(
        "<a href=java&#1&#2&#11&#12script:alert(1)>x</a><a href=\" &#14; javascript:alert(1)\">y</a>text&#1;",
        None,
    );
    assert!(!safe.as_str().contains("javascript"), "{safe}");
    assert!(!safe.as_str().contains("alert"), "{safe}");
    assert!(safe.as_str().chars().all(crate::text::is_xml_char), "{safe:?}");
}

#[test]
fn the_text_of_safe_html_keeps_words_apart_and_decodes_entities() {
    let safe = html("<p>One &amp; two</p><p>三<b>四</b></p><img src=\"https://x.cn/a.png\" alt=\"a > b\">end", None);
    assert_eq!(crate::text::collapse_whitespace(&text_of(&safe)), "One & two 三四 end");
}

#[test]
fn the_start_of_a_long_summary_gives_the_same_excerpt_as_the_whole_summary() {
    let paragraph =
        "<p>依赖注入 &amp; <b>中间件</b> in ASP.NET Core: <a href=\"/x\">List&lt;T&gt;</a> and more words here.</p>\n";
    let markup_heavy =
        format!("<div>{}</div><p>then the text starts here and goes on</p>", "<span class=\"x\"></span>".repeat(400));
    for raw in [
        paragraph.repeat(200),
        markup_heavy.repeat(3),
        format!("<script>{}</script>{}", "x".repeat(5000), paragraph.repeat(50)),
    ] {
        let whole = crate::text::excerpt(&plain_text_of_title(&raw), 200);
        let start = crate::text::excerpt(&plain_text_start_of_title(&raw, 200), 200);
        assert_eq!(start, whole);
        assert!(!whole.is_empty());
    }
}

/// What `html` makes of a spread of inputs, hashed. A change to the policy changes it: then
/// bump `POLICY_VERSION` (stored posts are re-sanitized once) and record the new pair here.
#[test]
fn the_policy_fingerprint_matches_its_version() {
    const RECORDED: (u32, &str) = (2, "3b7be00721d58052");
    let inputs = [
        r#"<p onclick="x()">hi<script>alert(1)</script></p>"#,
        r#"<a href="javascript:alert(1)">a</a><a href="/rel" title="t">r</a><a href="mailto:x@y.cn">m</a>"#,
        r#"<img src="a.png" width="1" height="1"><img src="b.png" alt="b" srcset="b2.png 2x"><img src="data:image/png;base64,iVBORw0KGgo=">"#,
        r#"<table><tr><td colspan="2" style="color:red">c</td></tr></table><pre><code class="language-cs">var x;</code></pre>"#,
        r#"<iframe src="https://www.youtube.com/embed/x"></iframe><video src="v.mp4" controls></video><svg><circle/></svg>"#,
        r#"<div><div><div><blockquote cite="q">q</blockquote></div></div></div><details><summary>s</summary>d</details>"#,
        "<p>Ã©tÃ© &#1; &nbsp; \u{feff}x</p><h1 id=\"a\">h</h1><sup>1</sup><ruby>汉<rt>hàn</rt></ruby>",
        &"<b>".repeat(300),
        r#"<img src="ph.gif" data-src="/real.png"><noscript><img src="/real.png"></noscript><img data-actualsrc="z.jpg">"#,
    ];
    let outputs: Vec<String> = inputs.iter().map(|input| html(input, Some(&base())).as_str().to_string()).collect();
    let fingerprint = &crate::hashing::digest(&outputs.iter().map(String::as_str).collect::<Vec<_>>())[..16];
    assert_eq!(
        (POLICY_VERSION, fingerprint),
        RECORDED,
        "the sanitizer's output changed: bump sanitize::POLICY_VERSION and record ({}, {fingerprint:?})",
        POLICY_VERSION + 1
    );
}
