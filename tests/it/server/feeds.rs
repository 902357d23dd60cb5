//! The combined feeds: content types, filters, conditional requests, compression, the
//! render cache, and hostile text escaped in every format.

use super::app::{member, spawn_app};
use crate::helpers::rss;

const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>";

fn hostile_feed() -> String {
    let escaped = planet::sanitize::escape_text(HOSTILE);
    // Escaped twice: RSS titles are HTML, so this is the literal text HOSTILE.
    let title = planet::sanitize::escape_text(&escaped);
    format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><title>{title} title</title><link>https://evil.example.cn/1</link>\
         <guid>evil-1</guid><author>{escaped}</author><pubDate>Tue, 24 Nov 2026 10:00:00 +0800</pubDate>\
         <category>dotnet</category><description>&lt;p onclick=x()&gt;body&lt;/p&gt;</description></item></channel></rss>"
    )
}

#[tokio::test]
async fn the_feeds_have_the_right_content_types_and_narrow_by_member_and_tag() {
    let app =
        spawn_app(vec![member("alice", "Alice", rss("alice", 3)), member("bob", "Bob", rss("bob", 2))], None).await;
    app.pass().await;
    for (path, content_type) in [
        ("/feed.atom", "application/atom+xml"),
        ("/feed.rss", "application/rss+xml"),
        ("/feed.json", "application/feed+json"),
        ("/opml.xml", "text/x-opml"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let header = response.headers()["content-type"].to_str().unwrap().to_string();
        assert!(header.starts_with(content_type), "{path}: {header}");
    }
    let (_, all) = app.feed_atom("").await;
    assert_eq!(all.matches("<entry>").count(), 5);
    let (_, alice) = app.feed_atom("?member=alice").await;
    assert_eq!(alice.matches("<entry>").count(), 3);
    assert!(alice.contains("rel=\"self\"") && alice.contains("/feed.atom?member=alice"));
    let (_, json) = app.feed_json("?member=bob").await;
    assert_eq!(json["items"].as_array().unwrap().len(), 2);
    assert_eq!(json["items"][0]["_planet"]["member"], "bob");
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    let (_, opml) = app.opml().await;
    assert!(opml.contains("/alice.xml") && opml.contains("/bob.xml"));
}

#[tokio::test]
async fn bad_feed_queries_get_json_errors() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    let response = app.get("/feed.atom?member=nobody").await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = app.json("/feed.rss?colour=red").await;
    assert_eq!((status, body["error"]["parameter"].as_str()), (400, Some("query")));
    let (status, _) = app.json("/feed.json?member=alice&tag=x").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn conditional_requests_get_304_and_a_change_gets_a_new_etag() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 2))], None).await;
    app.pass().await;
    let first = app.get("/feed.atom").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let modified = first.headers()["last-modified"].to_str().unwrap().to_string();
    assert!(first.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    assert_eq!(app.get_with("/feed.atom", &[("if-none-match", &etag)]).await.status(), 304);
    assert_eq!(app.get_with("/feed.atom", &[("if-modified-since", &modified)]).await.status(), 304);

    app.fixtures.route("/alice.xml", crate::helpers::Route::feed(rss("alice", 3)));
    app.pass().await;
    let changed = app.get_with("/feed.atom", &[("if-none-match", &etag)]).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn an_unchanged_feed_is_rendered_once_however_often_it_is_asked_for() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 2))], None).await;
    app.pass().await;
    for _ in 0..5 {
        assert_eq!(app.feed_atom("").await.0, 200);
    }
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_renders_total{output=\"feed.atom\"} 1"), "{metrics}");
    assert!(metrics.contains("planet_render_cache_entries 1\n"), "{metrics}");
    app.fixtures.route("/alice.xml", crate::helpers::Route::feed(rss("alice", 3)));
    app.pass().await;
    app.feed_atom("").await;
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_renders_total{output=\"feed.atom\"} 2"), "{metrics}");
}

#[tokio::test]
async fn feeds_are_compressed_with_gzip_or_brotli_on_request_and_inflate_to_the_same_bytes() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 20))], None).await;
    app.pass().await;
    let (_, identity) = app.feed_atom("").await;
    for (accept, encoding) in [("gzip", "gzip"), ("br", "br"), ("gzip, deflate, br", "br"), ("br;q=0, gzip", "gzip")] {
        let response = app.get_with("/feed.atom", &[("accept-encoding", accept)]).await;
        assert_eq!(response.headers()["content-encoding"], encoding, "{accept}");
        assert_eq!(response.headers()["vary"], "Accept-Encoding");
        let compressed = response.bytes().await.unwrap();
        assert!(compressed.len() < identity.len() / 3, "{accept}: {} bytes", compressed.len());
        let mut inflated = Vec::new();
        match encoding {
            "gzip" => {
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut inflated).unwrap();
            }
            _ => {
                brotli::BrotliDecompress(&mut &compressed[..], &mut inflated).unwrap();
            }
        }
        assert_eq!(String::from_utf8(inflated).unwrap(), identity, "{accept}");
    }
    let response = app.get_with("/feed.atom", &[("accept-encoding", "gzip;q=0, br;q=0")]).await;
    assert!(response.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn a_feed_is_compressed_once_per_change_not_once_per_request() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 20))], None).await;
    app.pass().await;
    for _ in 0..3 {
        app.get_with("/feed.atom", &[("accept-encoding", "gzip")]).await.bytes().await.unwrap();
        app.get_with("/feed.atom", &[("accept-encoding", "br")]).await.bytes().await.unwrap();
    }
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_compressions_total{encoding=\"gzip\"} 1"), "{metrics}");
    assert!(metrics.contains("planet_compressions_total{encoding=\"br\"} 1"), "{metrics}");
    app.fixtures.route("/alice.xml", crate::helpers::Route::feed(rss("alice", 21)));
    app.pass().await;
    let response = app.get_with("/feed.atom", &[("accept-encoding", "gzip")]).await;
    let mut inflated = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&response.bytes().await.unwrap()[..]),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated.matches("<entry>").count(), 21, "the new post is in the recompressed body");
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_compressions_total{encoding=\"gzip\"} 2"), "{metrics}");
}

#[tokio::test]
async fn a_cached_body_too_small_to_compress_goes_out_as_it_is_on_every_request() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    app.pass().await;
    let (_, identity) = app.text("/api/v1/posts?limit=1").await;
    assert!((32..512).contains(&identity.len()), "a body the compression layer would take: {} bytes", identity.len());
    for _ in 0..2 {
        let response = app.get_with("/api/v1/posts?limit=1", &[("accept-encoding", "gzip")]).await;
        assert!(response.headers().get("content-encoding").is_none(), "not compressed by the layer either");
        assert_eq!(response.text().await.unwrap(), identity);
    }
}

#[tokio::test]
async fn a_conditional_request_with_gzip_gets_a_304_with_the_same_etag() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 5))], None).await;
    app.pass().await;
    let response = app.get_with("/feed.atom", &[("accept-encoding", "gzip")]).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(
        app.get("/feed.atom").await.headers()["etag"].to_str().unwrap(),
        etag,
        "one weak ETag for every encoding"
    );
    let response = app.get_with("/feed.atom", &[("accept-encoding", "gzip"), ("if-none-match", &etag)]).await;
    assert_eq!(response.status(), 304);
    assert!(response.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn hostile_titles_and_names_come_out_escaped_in_every_output() {
    let app = spawn_app(vec![member("evil", HOSTILE, hostile_feed())], None).await;
    app.pass().await;
    for path in
        ["/feed.atom", "/feed.rss", "/feed.json", "/opml.xml", "/", "/members/evil", "/api/v1/posts", "/api/v1/members"]
    {
        let (status, body) = app.text(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains("<script>"), "{path}: {body}");
        assert!(!body.contains("<img src=x"), "{path}: {body}");
        assert!(!body.contains("onclick"), "{path}");
    }
    let (_, json) = app.feed_json("").await;
    assert!(json["items"][0]["title"].as_str().unwrap().starts_with(HOSTILE), "the text itself survives, as text");
}

/// RFC 4151's tagURI: `tag:` authority `,` date `:` then only URI pchars, `/` and `?`.
fn is_valid_tag_uri(id: &str) -> bool {
    let Some((head, specific)) = id.strip_prefix("tag:").and_then(|rest| rest.split_once(":")) else { return false };
    let specific_ok = specific.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/?".contains(&b)
            || (b == b'%' && specific.get(i + 1..i + 3).is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())))
    });
    head.contains(',') && specific_ok
}

#[tokio::test]
async fn a_tag_feed_has_one_valid_tag_uri_and_self_link_however_the_tag_is_spelled() {
    let mut alice = member("alice", "Alice", rss("alice", 2));
    alice.tags = vec!["C# & .NET"];
    let app = spawn_app(vec![alice], None).await;
    app.pass().await;
    let mut bodies = Vec::new();
    for query in ["?tag=C%23+%26+.NET", "?tag=c%23%20%26%20.net", "?tag=%E6%B3%9B%E5%9E%8B", "?tag=100%25"] {
        let (status, body) = app.feed_atom(query).await;
        assert_eq!(status, 200, "{query}");
        let id = body.split("<id>").nth(1).unwrap().split("</id>").next().unwrap().to_string();
        assert!(is_valid_tag_uri(&id), "{query}: {id}");
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1], "+ and %20, and any case, name the same feed");
    assert!(bodies[0].contains("feed.atom?tag=c%23+%26+.net"), "one canonical self link: {}", bodies[0]);
    assert_eq!(bodies[0].matches("<entry>").count(), 2);
}

/// Text a reader would show literally: an entity that should have been decoded.
fn has_entity_text(text: &str) -> bool {
    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"].iter().any(|entity| text.contains(entity))
}

/// The W3C feed validator's checks that apply to planet, over all three formats: no date in
/// the future, no entity text in plain-text fields, no two entries of a feed updated at the
/// same instant; and every feed says its language.
#[tokio::test]
async fn the_feeds_pass_the_validators_checks_on_dates_entities_and_duplicate_instants() {
    let future = "Tue, 01 Jun 2099 00:00:00 +0000";
    let rss_items: String = (0..3)
        .map(|i| {
            format!(
                "<item><title>Undated &amp;amp; {i}</title><guid>u{i}</guid><category>C# &amp; .NET</category></item>"
            )
        })
        .chain([format!("<item><title>Soon</title><guid>f</guid><pubDate>{future}</pubDate></item>")])
        .collect();
    let undated = format!("<rss version=\"2.0\"><channel><title>u</title>{rss_items}</channel></rss>");
    let rdf = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
        <channel rdf:about="http://example.com/"><title>t</title><link>http://example.com/</link><description>d</description></channel>
        <item rdf:about="http://example.com/1"><title>Germany's plan</title><link>http://example.com/1</link>
        <description>Germany&amp;apos;s plan &amp;amp; more</description></item></rdf:RDF>"#;
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>a</title><entry><id>e1</id><title>Past, updated later</title>
        <published>2026-11-01T00:00:00Z</published><updated>2099-01-01T00:00:00Z</updated><author><name>Tom &amp;amp; Jerry</name></author></entry></feed>"#;
    let app = spawn_app(
        vec![
            member("alice", "Alice", undated),
            member("bob", "Bob", rdf.to_string()),
            member("carol", "Carol", atom.to_string()),
        ],
        None,
    )
    .await;
    app.pass().await;
    let now = chrono::Utc::now() + chrono::TimeDelta::minutes(1);
    let mut problems = Vec::new();
    for (format, body) in [("atom", app.feed_atom("").await.1), ("rss", app.feed_rss("").await.1)] {
        let feed = feed_rs::parser::parse(body.as_bytes()).unwrap();
        let mut instants = std::collections::HashSet::new();
        for entry in &feed.entries {
            let dates = [entry.published, entry.updated];
            if dates.iter().flatten().any(|d| *d > now) {
                problems.push(format!("{format}: a future date in {dates:?}"));
            }
            if format == "atom" && !instants.insert(entry.updated) {
                problems.push(format!("{format}: two entries updated at {:?}", entry.updated));
            }
            let summary = entry.summary.as_ref().map(|s| s.content.clone()).unwrap_or_default();
            let names = entry.authors.iter().filter_map(|a| a.name.clone());
            let categories = entry.categories.iter().map(|c| c.term.clone());
            for text in names.chain(categories).chain([summary]).filter(|_| format == "atom") {
                if has_entity_text(&text) {
                    problems.push(format!("{format}: entity text in {text:?}"));
                }
            }
        }
        if feed.updated.is_some_and(|d| d > now) {
            problems.push(format!("{format}: the feed's own date is in the future"));
        }
        assert!(feed.language.is_some(), "{format} says its language");
    }
    let (_, json) = app.feed_json("").await;
    for item in json["items"].as_array().unwrap() {
        for field in ["date_published", "date_modified"] {
            if let Some(date) = item[field].as_str() {
                if chrono::DateTime::parse_from_rfc3339(date).unwrap() > now {
                    problems.push(format!("json: {field} {date} is in the future"));
                }
            }
        }
        for field in ["title", "summary"] {
            if has_entity_text(item[field].as_str().unwrap_or_default()) {
                problems.push(format!("json: entity text in {field} {}", item[field]));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
