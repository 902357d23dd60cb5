//! No floods: on a feed's first fetch, at most `[river] first_fetch_posts` undated or
//! same-dated posts reach the river (combined feeds, home page, digest); the rest are
//! backlog, shown on the member's page, in the API and in search.

use chrono::Utc;

use super::app::{member, spawn_app, TestApp};
use crate::helpers::rss;

/// An RSS feed of `count` items without dates (or all with `date`), newest first.
fn feed(prefix: &str, count: usize, date: Option<&str>) -> String {
    let items: String = (0..count)
        .map(|i| {
            let date = date.map(|d| format!("<pubDate>{d}</pubDate>")).unwrap_or_default();
            format!("<item><title>{prefix} item {i}</title><guid>{prefix}-{i}</guid><link>https://{prefix}.example.cn/{i}</link>{date}</item>")
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>{prefix}</title>{items}</channel></rss>")
}

async fn river_titles(app: &TestApp, prefix: &str) -> usize {
    let (_, atom) = app.feed_atom("").await;
    atom.matches(&format!("<title>{prefix} item ")).count()
}

#[tokio::test]
async fn a_new_members_undated_or_same_dated_feed_does_not_flood_the_river() {
    let build_time = Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let app = spawn_app(
        vec![
            member("undated", "Undated", feed("undated", 20, None)),
            member("stamped", "Stamped", feed("stamped", 12, Some(&build_time))),
            member("alice", "Alice", rss("alice", 8)),
        ],
        None,
    )
    .await;
    app.pass().await;
    assert_eq!(river_titles(&app, "undated").await, 5, "the first five, in the feed's order");
    assert_eq!(river_titles(&app, "stamped").await, 5);
    let (_, atom) = app.feed_atom("").await;
    assert!(atom.contains("undated item 0") && !atom.contains("undated item 5<"));
    assert_eq!(atom.matches("<title>alice post ").count(), 8, "dated posts keep their dates, all of them");
    let (_, home) = app.index("").await;
    assert!(home.contains("undated item 4") && !home.contains("undated item 5<"));
    let config = app.service.config();
    let week = planet::digest::Week::containing(Utc::now(), config.site.timezone);
    let digest_posts = planet::digest::load::week_posts(&config, &app.service.store, week).unwrap();
    assert_eq!(digest_posts.iter().filter(|p| p.member.as_str() == "undated").count(), 5);

    // The backlog is the member's: their page, their feed, the API and search list it all.
    let (_, page) = app.posts("?member=undated&limit=100").await;
    assert_eq!(page["posts"].as_array().unwrap().len(), 20);
    let (_, member_feed) = app.feed_atom("?member=undated").await;
    assert_eq!(member_feed.matches("<entry>").count(), 20);
    let (_, found) = app.search("\"undated item 17\"", "").await;
    assert_eq!(found["posts"][0]["title"], "undated item 17");

    // Later fetches are not first fetches: a new undated post reaches the river.
    app.rewrite_config(&[
        member("undated", "Undated", feed("undated", 21, None).replace("undated item 20", "undated item new")),
        member("stamped", "Stamped", feed("stamped", 12, Some(&build_time))),
        member("alice", "Alice", rss("alice", 8)),
    ]);
    app.pass().await;
    let (_, atom) = app.feed_atom("").await;
    assert!(atom.contains("undated item new"), "a post after the first fetch is news");
    assert_eq!(river_titles(&app, "undated").await, 6);
}
