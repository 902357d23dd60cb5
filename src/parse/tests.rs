//! Pipeline tests on small inline documents; corpus-wide tests live in tests/it.

use super::*;
use crate::config::{MemberId, PostFilter};
use crate::model::DateSource;

fn member() -> Member {
    Member::anonymous(MemberId::parse("alice").unwrap())
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T12:00:00Z").unwrap().with_timezone(&Utc)
}

fn run(document: &str, member: &Member, policy: FutureDates) -> ParsedFeed {
    let base = Url::parse("https://alice.example.cn/blog/feed.xml").unwrap();
    let context = Context {
        member,
        feed_url: base.as_str(),
        base: Some(&base),
        timezone: chrono_tz::Asia::Shanghai,
        future_dates: policy,
        now: now(),
    };
    feed(document.as_bytes(), None, &context).unwrap()
}

const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Alice &amp; Co</title><link>https://alice.example.cn/</link>
<item><title>List&lt;T&gt; tips</title><link>/blog/1.html</link><guid>g1</guid><pubDate>Wed, 25 Nov 2026 10:00:00 CST</pubDate>
<description><![CDATA[<p>See <a href="2.html">more</a><script>x()</script></p>]]></description><category>.NET</category></item>
<item><title>Future</title><link>https://alice.example.cn/blog/3.html</link><pubDate>Wed, 25 Nov 2099 10:00:00 GMT</pubDate></item>
<item><title>Undated</title><link>https://alice.example.cn/blog/4.html</link></item>
</channel></rss>"#;

#[test]
fn an_rss_feed_is_normalized_with_absolute_links_and_plain_titles() {
    let parsed = run(RSS, &member(), FutureDates::Clamp);
    assert_eq!(parsed.title, "Alice & Co");
    let post = &parsed.posts[0];
    assert_eq!(post.title, "List<T> tips");
    assert_eq!(post.url.as_deref(), Some("https://alice.example.cn/blog/1.html"));
    assert!(post.content_html.as_str().contains(r#"href="https://alice.example.cn/blog/2.html""#));
    assert!(!post.content_html.as_str().contains("script"));
    assert_eq!(post.published.to_rfc3339(), "2026-11-25T02:00:00+00:00");
    assert_eq!(post.tags, vec![".NET".to_string()]);
    assert_eq!(post.excerpt, "See more");
}

#[test]
fn future_dates_follow_the_policy() {
    let clamped = run(RSS, &member(), FutureDates::Clamp);
    assert_eq!(clamped.posts[1].published, now());
    assert_eq!(clamped.posts[1].date_source, DateSource::Clamped);
    let dropped = run(RSS, &member(), FutureDates::Drop);
    assert_eq!(dropped.posts.len(), 2);
    let kept = run(RSS, &member(), FutureDates::Keep);
    assert_eq!(kept.posts[1].published.to_rfc3339(), "2099-11-25T10:00:00+00:00");
}

#[test]
fn a_future_updated_date_never_reaches_a_post_unless_the_policy_keeps_it() {
    let clamped = run(RSS, &member(), FutureDates::Clamp);
    assert!(clamped.posts.iter().all(|p| p.updated.is_none_or(|u| u <= now())), "{:?}", clamped.posts);
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>e1</id><title>past published, future updated</title>
        <published>2026-11-01T00:00:00Z</published><updated>2099-01-01T00:00:00Z</updated></entry></feed>"#;
    for policy in [FutureDates::Clamp, FutureDates::Drop] {
        let parsed = run(atom, &member(), policy);
        assert_eq!(parsed.posts[0].updated, None, "{policy:?}");
        assert_eq!(parsed.posts[0].published.to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert!(parsed.warnings.iter().any(|w| w.code == "future_updated"));
    }
    let kept = run(atom, &member(), FutureDates::Keep);
    assert_eq!(kept.posts[0].updated.unwrap().to_rfc3339(), "2099-01-01T00:00:00+00:00");
}

#[test]
fn a_post_without_a_date_is_dated_when_first_seen() {
    let parsed = run(RSS, &member(), FutureDates::Clamp);
    let before = now() - chrono::Duration::seconds(3);
    assert!(parsed.posts[2].published <= now() && parsed.posts[2].published > before, "{}", parsed.posts[2].published);
    assert_eq!(parsed.posts[2].date_source, DateSource::FirstSeen);
    assert!(parsed.warnings.iter().any(|w| w.code == "no_date"));
}

#[test]
fn member_filters_keep_only_matching_posts() {
    let mut filtered = member();
    filtered.include =
        Some(PostFilter { categories: vec![".net".into()], titles: vec![regex::Regex::new("(?i)undated").unwrap()] });
    let parsed = run(RSS, &filtered, FutureDates::Clamp);
    let titles: Vec<&str> = parsed.posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, vec!["List<T> tips", "Undated"]);
    assert_eq!(parsed.filtered_out, 1);
}

#[test]
fn ill_formed_xml_is_repaired_with_a_warning() {
    let broken = "\n\n<rss version=\"2.0\"><channel><title>A & B&nbsp;C</title><item><title>x\u{1}y</title><guid>1</guid></item></channel></rss>";
    let parsed = run(broken, &member(), FutureDates::Clamp);
    assert_eq!(parsed.title, "A & B C");
    assert_eq!(parsed.posts[0].title, "xy");
    assert!(parsed.warnings.iter().any(|w| w.code == "repaired_xml"));
}

#[test]
fn a_tag_that_swallows_the_next_entry_loses_only_its_own_entry_s_remainder() {
    // `<svg/1='` in xhtml content: the reader takes everything up to the next quote (in
    // the next entry) as one tag. The entries before and after it must survive.
    let entry = |id: usize, body: &str| {
        format!("<entry><id>{id}</id><title>post {id}</title><updated>2026-11-20T00:00:00Z</updated><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{body}</div></content></entry>")
    };
    let doc = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>{}{}{}{}</feed>",
        entry(1, "<p>fine</p>"),
        entry(2, "'onload=alert(1)><svg/1='"),
        entry(3, "'>alert(1)</script><script/1='"),
        entry(4, "<p>also fine</p>")
    );
    let parsed = run(&doc, &member(), FutureDates::Clamp);
    let titles: Vec<&str> = parsed.posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, vec!["post 1", "post 2", "post 3", "post 4"]);
    assert!(!parsed.posts[1].content_html.as_str().contains("svg"));
    assert_eq!(parsed.posts[3].content_html.as_str(), "<p>also fine</p>");
    assert!(parsed
        .warnings
        .iter()
        .any(|w| w.code == "repaired_xml" && w.message.contains("skipped to the next entry")));
}

#[test]
fn a_syntax_error_in_one_item_costs_only_that_item() {
    let doc = "<rss version=\"2.0\"><channel><title>t</title>\
<item><title>a</title><guid>a</guid></item>\
<item><title>b</title><guid>b</guid><1broken>x</item>\
<item><title>c</title><guid>c</guid></item></channel></rss>";
    let parsed = run(doc, &member(), FutureDates::Clamp);
    let titles: Vec<&str> = parsed.posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, vec!["a", "b", "c"]);
}

#[test]
fn a_syntax_error_between_items_skips_to_the_next_and_after_the_last_ends_the_document() {
    let doc = "<rss version=\"2.0\"><channel><title>t</title>\
<item><title>a</title><guid>a</guid></item><1broken>\
<item><title>c</title><guid>c</guid></item><2broken></channel></rss>";
    let parsed = run(doc, &member(), FutureDates::Clamp);
    let titles: Vec<&str> = parsed.posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, vec!["a", "c"]);
    assert!(parsed.warnings.iter().any(|w| w.message.contains("what follows was dropped")));
}

#[test]
fn an_xml_declaration_quoted_in_a_post_is_not_taken_for_the_document_s_start() {
    // The bare `&` sends the document to the repair, which removes junk before the root.
    let doc = "<rss version=\"2.0\"><channel><title>A & B</title>\
<item><title>one</title><guid>1</guid></item>\
<item><title>config</title><guid>2</guid><description><![CDATA[<pre>&lt;?xml version=\"1.0\"?&gt;</pre><?xml version=\"1.0\"?>]]></description></item>\
</channel></rss>";
    let parsed = run(doc, &member(), FutureDates::Clamp);
    let titles: Vec<&str> = parsed.posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, vec!["one", "config"]);
    assert_eq!(parsed.title, "A & B");
}

#[test]
fn two_items_with_one_guid_stay_two_posts() {
    let doc = r#"<rss version="2.0"><channel><title>t</title>
<item><title>a</title><guid>same</guid><link>https://x.cn/a</link></item>
<item><title>b</title><guid>same</guid><link>https://x.cn/b</link></item></channel></rss>"#;
    let parsed = run(doc, &member(), FutureDates::Clamp);
    assert_eq!(parsed.posts.len(), 2);
    assert_ne!(parsed.posts[0].id, parsed.posts[1].id);
}

#[test]
fn javascript_links_and_markup_in_titles_and_authors_do_not_survive() {
    let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><id>1</id><title type="html">&lt;img src=x onerror=alert(1)&gt;Hi</title><link href="javascript:alert(1)"/>
<author><name>&lt;script&gt;alert(1)&lt;/script&gt;Bob</name></author><updated>2026-11-20T00:00:00Z</updated></entry></feed>"#;
    let parsed = run(doc, &member(), FutureDates::Clamp);
    let post = &parsed.posts[0];
    assert_eq!(post.title, "Hi");
    assert_eq!(post.url, None);
    assert_eq!(post.author.as_deref(), Some("Bob"));
}

#[test]
fn an_html_page_is_reported_with_the_feeds_it_advertises() {
    let page = r#"<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head><body></body></html>"#;
    let base = Url::parse("https://x.cn/").unwrap();
    let m = member();
    let context = Context {
        member: &m,
        feed_url: "https://x.cn/",
        base: Some(&base),
        timezone: chrono_tz::Asia::Shanghai,
        future_dates: FutureDates::Clamp,
        now: now(),
    };
    let error = feed(page.as_bytes(), Some("text/html"), &context).unwrap_err();
    assert!(error.to_string().contains("/rss.xml"), "{error}");
}

#[test]
fn an_rss_1_description_is_html_so_its_entities_do_not_reach_excerpts() {
    let rdf = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
        <channel rdf:about="http://example.com/"><title>t</title><link>http://example.com/</link><description>d</description></channel>
        <item rdf:about="http://example.com/1"><title>x</title><link>http://example.com/1</link>
        <description>Germany&amp;apos;s plan &amp;amp; more &lt;b&gt;bold&lt;/b&gt;</description></item></rdf:RDF>"#;
    let parsed = run(rdf, &member(), FutureDates::Clamp);
    assert_eq!(parsed.posts[0].excerpt, "Germany's plan & more bold");
    assert_eq!(parsed.posts[0].content_html.as_str(), "Germany's plan &amp; more <b>bold</b>");
}

#[test]
fn an_excerpt_does_not_repeat_a_title_the_body_starts_with() {
    let rss = r#"<rss version="2.0"><channel><title>t</title>
        <item><title>ASP.NET Core 中间件</title><guid>1</guid><description>&lt;h1&gt;ASP.NET  Core 中间件&lt;/h1&gt;&lt;p&gt;本文介绍中间件。&lt;/p&gt;</description></item>
        <item><title>Only a title</title><guid>2</guid><description>&lt;h2&gt;Only a title&lt;/h2&gt;</description></item>
        <item><title>Series, part 1</title><guid>3</guid><description>&lt;p&gt;Series, part 10 is elsewhere.&lt;/p&gt;</description></item>
        <item><title>中间件</title><guid>4</guid><description>&lt;p&gt;中间件是管道的一环。&lt;/p&gt;</description></item>
        </channel></rss>"#;
    let parsed = run(rss, &member(), FutureDates::Clamp);
    let excerpts: Vec<&str> = parsed.posts.iter().map(|p| p.excerpt.as_str()).collect();
    assert_eq!(excerpts, ["本文介绍中间件。", "Only a title", "Series, part 10 is elsewhere.", "中间件是管道的一环。"]);
}

#[test]
fn a_body_encoded_twice_is_repaired_like_its_title_and_the_member_is_warned() {
    // UTF-8 read as Windows-1252 (C1 controls for its undefined bytes) and encoded again.
    let twice = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                0x80..=0x9f => encoding_rs::WINDOWS_1252.decode_without_bom_handling(&[b]).0.chars().next().unwrap(),
                _ => char::from(b),
            })
            .collect()
    };
    let feed = format!(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id><title>{}</title>
        <summary type="html"><![CDATA[{}]]></summary><content type="html"><![CDATA[{}]]></content></entry></feed>"#,
        twice("全面解析中间件"),
        twice("<p>摘要：执行顺序</p>"),
        twice("<p>本文全面解析中间件的执行顺序。</p>")
    );
    let parsed = run(&feed, &member(), FutureDates::Clamp);
    let post = &parsed.posts[0];
    assert_eq!(post.title, "全面解析中间件");
    assert_eq!(post.excerpt, "摘要：执行顺序");
    assert_eq!(post.content_html.as_str(), "<p>本文全面解析中间件的执行顺序。</p>");
    assert!(parsed.warnings.iter().any(|w| w.code == "double_encoded"), "{:?}", parsed.warnings);
    let clean = run(&feed.replace(&twice("全面解析中间件"), "全面解析中间件"), &member(), FutureDates::Clamp);
    assert!(clean.warnings.iter().any(|w| w.code == "double_encoded"), "the body alone is still reported");
    assert!(!run(RSS, &member(), FutureDates::Clamp).warnings.iter().any(|w| w.code == "double_encoded"));
}

#[test]
fn undated_posts_get_distinct_instants_in_their_feeds_order_and_across_feeds() {
    let items: String = (0..4).map(|i| format!("<item><title>u{i}</title><guid>u{i}</guid></item>")).collect();
    let rss = format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>");
    let parsed = run(&rss, &member(), FutureDates::Clamp);
    let dates: Vec<_> = parsed.posts.iter().map(|p| p.published).collect();
    assert!(dates.windows(2).all(|pair| pair[0] > pair[1]), "newest first, as listed: {dates:?}");
    let mut other = member();
    other.id = crate::config::MemberId::parse("other").unwrap();
    let elsewhere = run(&rss, &other, FutureDates::Clamp);
    assert!(elsewhere.posts.iter().all(|p| !dates.contains(&p.published)), "another feed's undated posts differ");
}

/// The bytes of `text` read one by one as Latin-1 (C1 controls for 0x80-0x9F) or as
/// Windows-1252 (C1 controls only where it has no character), then encoded again as UTF-8.
fn encoded_twice(text: &str, windows_1252: bool) -> String {
    text.bytes()
        .map(|b| match b {
            0x80..=0x9f if windows_1252 => {
                encoding_rs::WINDOWS_1252.decode_without_bom_handling(&[b]).0.chars().next().unwrap()
            }
            _ => char::from(b),
        })
        .collect()
}

#[test]
fn a_whole_cnblogs_feed_encoded_twice_parses_to_the_same_posts_as_the_original() {
    let original = std::fs::read_to_string("tests/data/dedupe/cnblogs.atom").unwrap();
    let clean = run(&original, &member(), FutureDates::Clamp);
    for windows_1252 in [false, true] {
        let mangled = run(&encoded_twice(&original, windows_1252), &member(), FutureDates::Clamp);
        assert_eq!(mangled.title, clean.title);
        assert_eq!(mangled.posts.len(), clean.posts.len());
        for (repaired, expected) in mangled.posts.iter().zip(&clean.posts) {
            assert_eq!(repaired.title, expected.title);
            assert_eq!(repaired.excerpt, expected.excerpt, "Windows-1252: {windows_1252}");
            assert_eq!(repaired.content_html.as_str(), expected.content_html.as_str());
            assert_eq!(repaired.author, expected.author);
            assert_eq!(repaired.tags, expected.tags);
        }
        assert!(mangled.warnings.iter().any(|w| w.code == "double_encoded"));
    }
}

#[test]
fn a_youtube_entry_gets_its_body_from_media_rss_sanitized() {
    let youtube =
        std::fs::read_to_string("tests/data/corpus/feed-rs/feed-rs/fixture/atom/atom_mediarss_youtube_1.xml").unwrap();
    let post = &run(&youtube, &member(), FutureDates::Clamp).posts[0];
    let html = post.content_html.as_str();
    assert!(
        html.starts_with("<p><a href=\"https://www.youtube.com/watch?v=0A1ouV7iD8o\"")
            && html.contains("<img src=\"https://i1.ytimg.com/vi/0A1ouV7iD8o/hqdefault.jpg\""),
        "{html}"
    );
    assert!(html.contains(
        "Check Out Weathered on PBS Terra https://www.youtube.com/watch?v=znSN7ZFIaOg&amp;ab_channel=PBSTerra"
    ));
    assert!(post.excerpt.starts_with("Check Out Weathered on PBS Terra"), "{}", post.excerpt);
    let hostile = r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>b</title>
        <item><title>【视频】Span 讲解</title><link>https://www.bilibili.com/video/BV1xx</link><guid>BV1xx</guid><description></description>
        <media:thumbnail url="javascript:alert(1)"/><media:content url="//i0.hdslb.com/cover.jpg" type="image/jpeg"/>
        <media:description type="html">&lt;p onclick="x()"&gt;第一集&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</media:description></item></channel></rss>"#;
    let post = &run(hostile, &member(), FutureDates::Clamp).posts[0];
    let html = post.content_html.as_str();
    assert!(!html.contains("javascript") && !html.contains("script") && !html.contains("onclick"), "{html}");
    assert!(html.contains("第一集"), "{html}");
    assert!(html.contains("<img src=\"https://i0.hdslb.com/cover.jpg\""), "the image content stands in: {html}");
    assert_eq!(post.excerpt, "第一集");
}
