//! Renderer tests: hostile titles and names stay text, and our own parser reads every feed
//! we write back to the same posts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use url::Url;

use super::rss;
use super::*;
use crate::config::{self, FutureDates};
use crate::model::DateSource;
use crate::parse;
use crate::sanitize;

const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(1)> & ]]>";

fn fixture() -> (config::Config, Vec<Post>) {
    let text = format!(
        "[site]\ntitle = \"Planet {t}\"\nurl = \"https://planet.example.cn/\"\n[[members]]\nid = \"alice\"\nname = \"Alice {t}\"\nsite = \"https://alice.example.cn/\"\nfeed = \"https://alice.example.cn/feed\"\n",
        t = HOSTILE.replace('"', "\\\"")
    );
    let config = config::parse(&text, std::path::Path::new("t.toml")).unwrap();
    let published = DateTime::parse_from_rfc3339("2026-11-20T08:00:00Z").unwrap().with_timezone(&Utc);
    let post = Post {
        id: "abc".into(),
        member: config.members[0].id.clone(),
        feed_url: "https://alice.example.cn/feed".into(),
        guid: Some("g".into()),
        url: Some("https://alice.example.cn/p/1?a=1&b=2".into()),
        title: format!("Title {HOSTILE}"),
        author: None,
        published,
        updated: None,
        first_seen: published,
        date_source: DateSource::Feed,
        tags: vec!["C#".into()],
        excerpt: format!("Excerpt {HOSTILE}"),
        content_html: sanitize::html("<p>Body <b>bold</b></p>", None),
        content_hash: "h".into(),
        backlog: false,
        duplicate_of: None,
        also_on: Vec::new(),
        also_by: Vec::new(),
    };
    (config, vec![post])
}

fn input<'a>(
    config: &'a config::Config,
    members: &'a HashMap<crate::config::MemberId, crate::config::Member>,
    posts: &'a [Post],
) -> FeedInput<'a> {
    FeedInput {
        site: &config.site,
        members,
        posts,
        self_url: Url::parse("https://planet.example.cn/feed.atom").unwrap(),
        selection: Selection::All,
        now: Utc::now(),
        hubs: &config.websub.hubs,
    }
}

fn read_back(document: &str) -> parse::ParsedFeed {
    let member = crate::config::Member::anonymous(crate::config::MemberId::parse("reader").unwrap());
    let context = parse::Context {
        member: &member,
        feed_url: "https://planet.example.cn/feed",
        base: None,
        timezone: chrono_tz::UTC,
        future_dates: FutureDates::Keep,
        now: Utc::now(),
    };
    parse::feed(document.as_bytes(), None, &context).unwrap()
}

#[test]
fn every_feed_format_reads_back_to_the_same_post_with_hostile_text_intact() {
    let (config, posts) = fixture();
    let members = config.members.iter().map(|m| (m.id.clone(), m.clone())).collect();
    let input = input(&config, &members, &posts);
    for (format, document) in [("atom", atom(&input)), ("rss", rss(&input)), ("json", json_feed(&input))] {
        assert!(!document.contains("<script>"), "{format}: {document}");
        assert!(!document.contains("<img src=x"), "{format}: {document}");
        let parsed = read_back(&document);
        assert!(parsed.warnings.iter().all(|w| w.code != "repaired_xml"), "{format}: {:?}", parsed.warnings);
        let post = &parsed.posts[0];
        assert_eq!(post.title, format!("Title {HOSTILE}"), "{format}");
        assert_eq!(post.url.as_deref(), Some("https://alice.example.cn/p/1?a=1&b=2"), "{format}");
        assert_eq!(post.published, posts[0].published, "{format}");
        assert!(post.content_html.as_str().contains("<b>bold</b>"), "{format}");
        // Our reader strips markup from names (they are text); what is left must match.
        let expected_author = crate::text::clean_line(&sanitize::plain_text_of_title(&format!("Alice {HOSTILE}")));
        let exact = format!("Alice {HOSTILE}");
        let author = post.author.clone().unwrap_or_default();
        assert!(author == exact || author == expected_author, "{format}: {author}");
        assert!(parsed.title.starts_with("Planet "), "{format}");
    }
}

#[test]
fn the_opml_lists_every_member_feed_escaped() {
    let (config, _) = fixture();
    let document = opml(&config.site, &config.members, Utc::now());
    assert!(document.contains("xmlUrl=\"https://alice.example.cn/feed\""));
    assert!(!document.contains("<script>"));
}

#[test]
fn rss_plain_text_is_escaped_once_with_hexadecimal_references() {
    let (config, mut posts) = fixture();
    let written = "用 Span<T> 写出零分配的解析器: Berlinale's 说\"编程\" & more a < b &amp; &#39;";
    posts[0].title = written.into();
    posts[0].tags = vec!["C# & .NET".into()];
    posts[0].content_html = crate::sanitize::html("<p>a &amp; <b>b</b></p>", None);
    let members = config.members.iter().map(|m| (m.id.clone(), m.clone())).collect();
    let document = rss(&input(&config, &members, &posts));
    assert!(document.contains("<category>C# &#x26; .NET</category>"), "{document}");
    let raw_title = document.split("<item><title>").nth(1).unwrap().split("</title>").next().unwrap();
    assert!(raw_title.starts_with("用 Span&#x3C;T&#x3E; 写出"), "{raw_title}");
    for entity in ["&lt;", "&gt;", "&amp;", "&quot;", "&apos;"] {
        assert!(!raw_title.contains(entity), "{entity} in {raw_title}");
    }
    let parsed = ::rss::Channel::read_from(document.as_bytes()).unwrap();
    assert_eq!(parsed.items[0].title.as_deref(), Some(written), "an XML parser reads the text as written");
    assert!(document.contains("<![CDATA[<p>a &amp; <b>b</b></p>"), "descriptions stay HTML in CDATA: {document}");
}

#[test]
fn rss_text_that_would_be_live_html_is_escaped_for_html_too() {
    for live in
        ["<script>x</script>", "a <img src=x onerror=alert(1)>", "<svg>", "<img/src=x>", "x <!-- y", "<a href=\"/\">"]
    {
        assert!(rss::live_as_html(live), "{live}");
    }
    for inert in ["Span<T>", "List<string> 与 Dictionary<K,V>", "a < b", "<b>粗体</b>", "<br/>", "x</y>", "a<", "&lt;"]
    {
        assert!(!rss::live_as_html(inert), "{inert}");
    }
    let (config, mut posts) = fixture();
    posts[0].title = "<img src=x onerror=alert(1)> 与 Span<T>".into();
    let members = config.members.iter().map(|m| (m.id.clone(), m.clone())).collect();
    let document = rss(&input(&config, &members, &posts));
    let parsed = ::rss::Channel::read_from(document.as_bytes()).unwrap();
    assert_eq!(parsed.items[0].title.as_deref(), Some("&lt;img src=x onerror=alert(1)> 与 Span&lt;T>"));
}

#[test]
fn markup_inert_escapes_only_what_html_would_read_as_markup() {
    assert_eq!(rss::markup_inert("a < b & c"), "a < b & c");
    assert_eq!(rss::markup_inert("<script> <!-- </p> <?x"), "&lt;script> &lt;!-- &lt;/p> &lt;?x");
    assert_eq!(rss::markup_inert("&amp; &#39; &#x1F; &nope &;"), "&amp;amp; &amp;#39; &amp;#x1F; &nope &;");
}

#[test]
fn hexadecimal_references_leave_cdata_and_bare_markup_alone() {
    assert_eq!(
        rss::hexadecimal_references("<a x=\"&quot;\">&lt;&amp;&gt;&apos;<![CDATA[&lt;]]>&#x41;</a>"),
        "<a x=\"&#x22;\">&#x3C;&#x26;&#x3E;&#x27;<![CDATA[&lt;]]>&#x41;</a>"
    );
}

#[test]
fn feed_ids_are_valid_tag_uris_whatever_the_tag() {
    let site = Url::parse("https://planet.example.cn/").unwrap();
    assert_eq!(tag_uri(&site, "feed:tag:泛型"), "tag:planet.example.cn,2026:feed:tag:%E6%B3%9B%E5%9E%8B");
    assert_eq!(tag_uri(&site, "feed:tag:c# & .net"), "tag:planet.example.cn,2026:feed:tag:c%23%20&%20.net");
    assert_eq!(tag_uri(&site, "feed:tag:100%"), "tag:planet.example.cn,2026:feed:tag:100%25");
}

#[test]
fn every_feed_format_says_the_site_language() {
    let (config, posts) = fixture();
    let members = config.members.iter().map(|m| (m.id.clone(), m.clone())).collect();
    let input = input(&config, &members, &posts);
    assert!(atom(&input).contains(&format!("xml:lang=\"{}\"", config.site.language)), "{}", atom(&input));
    assert!(rss(&input).contains(&format!("<language>{}</language>", config.site.language)));
    let json: serde_json::Value = serde_json::from_str(&json_feed(&input)).unwrap();
    assert_eq!(json["language"], config.site.language.as_str());
}
