//! What one member feed can put in is bounded: a huge title, name and tag list, a huge
//! body, and a flood of items, fetched by the real server from a loopback fixture and read
//! back from the combined feed, the API and the digest.

use chrono::{TimeDelta, Utc};
use planet::digest::Week;
use planet::parse::limits;

use crate::server::app::{member, spawn_app};

/// An RSS feed with `count` items over last week (Shanghai time); the newest has a huge
/// title, author, tag list and body.
fn hostile_feed(count: usize) -> String {
    let week = Week::last_complete(Utc::now(), chrono_tz::Asia::Shanghai);
    let start = week.start(chrono_tz::Asia::Shanghai);
    let minutes = 7 * 24 * 60 / count as i64;
    let mut items = String::new();
    for i in 0..count {
        let date = (start + TimeDelta::minutes(1 + minutes * i as i64)).to_rfc2822();
        let newest = i + 1 == count;
        let title = if newest { "长".repeat(2 << 20) } else { format!("post {i}") };
        let author =
            if newest { format!("<author>x@y.cn ({})</author>", "名".repeat(100_000)) } else { String::new() };
        let tags: String = if newest {
            (0..40).map(|t| format!("<category>tag{t}-{}</category>", "t".repeat(500))).collect()
        } else {
            String::new()
        };
        let body =
            if newest { format!("<![CDATA[<p>{}</p>]]>", "正文 ".repeat(200_000)) } else { format!("body {i}") };
        items.push_str(&format!(
            "<item><title>{title}</title><link>https://flood.example.cn/{i}</link><guid>flood-{i}</guid>\
             <pubDate>{date}</pubDate>{author}{tags}<description>{body}</description></item>"
        ));
    }
    format!("<rss version=\"2.0\"><channel><title>flood</title>{items}</channel></rss>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_feed_is_cut_to_size_in_the_store_the_feeds_and_the_digest() {
    let app = spawn_app(vec![member("flood", "Flood", hostile_feed(400))], None).await;
    let report = app.pass().await;
    let codes: Vec<&str> = report.feeds[0].warnings.iter().map(|w| w.code.as_str()).collect();
    assert!(codes.contains(&"too_many_entries") && codes.contains(&"truncated_body"), "{codes:?}");
    assert_eq!(app.service.store.post_count(), limits::MAX_ENTRIES_PER_FEED, "the newest entries only");

    let newest = &app.service.store.recent_posts(1).unwrap()[0];
    assert_eq!(newest.title.chars().count(), limits::MAX_TITLE_CHARS + 1, "cut, with an ellipsis");
    assert!(newest.author.as_ref().unwrap().chars().count() <= limits::MAX_AUTHOR_CHARS + 1);
    assert_eq!(newest.tags.len(), limits::MAX_TAGS);
    assert!(newest.tags.iter().all(|t| t.chars().count() <= limits::MAX_TAG_CHARS + 1));
    let body = newest.content_html.as_str();
    assert!(body.len() < limits::MAX_BODY_BYTES + 1024, "{} bytes", body.len());
    assert!(body.contains("https://flood.example.cn/399") && body.contains("Read the whole post"), "ends with a link");

    let (status, atom) = app.feed_atom("").await;
    assert_eq!(status, 200);
    assert!(atom.len() < 2 << 20, "the combined feed stays small: {} bytes", atom.len());

    let week = Week::last_complete(Utc::now(), chrono_tz::Asia::Shanghai);
    let digest = planet::digest::load::compose_week(&app.service.config(), &app.service.store, week).unwrap();
    let group = &digest.groups[0];
    assert_eq!(group.posts.len(), planet::digest::MAX_POSTS_PER_MEMBER);
    assert_eq!(digest.post_count, limits::MAX_ENTRIES_PER_FEED, "the headline counts every post");
    assert!(group.more.as_deref().unwrap_or_default().contains("190"), "{:?}", group.more);
    let mail = planet::render::digest::email_html(&app.service.config().site, &digest, None);
    assert!(mail.len() < 64 * 1024, "the mail stays small: {} bytes", mail.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_nested_fifty_thousand_deep_is_flattened_before_it_is_parsed() {
    let depth = 50_000;
    let body = format!("<p>start</p>{}deep text{}", "<div>".repeat(depth), "</div>".repeat(depth));
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>deep</title><item><title>Deep</title><link>https://deep.example.cn/1</link>\
         <description><![CDATA[{body}]]></description></item></channel></rss>"
    );
    let app = spawn_app(vec![member("deep", "Deep", feed)], None).await;
    let report = app.pass().await;
    let codes: Vec<&str> = report.feeds[0].warnings.iter().map(|w| w.code.as_str()).collect();
    assert!(codes.contains(&"deep_nesting"), "{codes:?}");
    let post = &app.service.store.recent_posts(1).unwrap()[0];
    let html = post.content_html.as_str();
    assert!(html.contains("start") && html.contains("deep text"), "the text stays");
    let mut open = 0usize;
    let mut deepest = 0usize;
    for (at, _) in html.match_indices('<') {
        if html[at..].starts_with("<div") {
            open += 1;
            deepest = deepest.max(open);
        } else if html[at..].starts_with("</div") {
            open = open.saturating_sub(1);
        }
    }
    assert!(deepest <= planet::sanitize::MAX_NESTING_DEPTH, "{deepest} deep");
}
