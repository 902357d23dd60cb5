//! Post identity across passes: edits update in place, a changed GUID or URL is not a new
//! post, undated posts keep their first-seen date; and a 200-feed pass followed by a pass of
//! 304s.

use chrono::{TimeDelta, Utc};
use planet::model::DateSource;
use planet::refresh::Outcome;

use crate::helpers::{members, rss, FixtureServer, Route, TestPlanet};

fn item(guid: &str, link: &str, title: &str, body: &str, date: Option<&str>) -> String {
    let date = date.map(|d| format!("<pubDate>{d}</pubDate>")).unwrap_or_default();
    format!("<rss version=\"2.0\"><channel><title>c</title><item><title>{title}</title><link>{link}</link><guid>{guid}</guid>{date}<description>{body}</description></item></channel></rss>")
}

async fn planet_with(document: String) -> (FixtureServer, TestPlanet) {
    let server = FixtureServer::start().await;
    server.route("/feed", Route::feed(document));
    let planet = TestPlanet::new(&members(&[("alice", server.url("/feed"))]), "");
    (server, planet)
}

#[tokio::test]
async fn an_edited_title_and_body_update_the_post_in_place() {
    let (server, planet) =
        planet_with(item("g1", "https://a.cn/1", "Draft", "v1", Some("Mon, 02 Nov 2026 08:00:00 GMT"))).await;
    planet.pass().await;
    server.route(
        "/feed",
        Route::feed(item("g1", "https://a.cn/1", "Final", "v2", Some("Mon, 02 Nov 2026 08:00:00 GMT"))),
    );
    let report = planet.pass().await;
    assert_eq!((report.feeds[0].counts.new, report.feeds[0].counts.updated), (0, 1));
    let posts = planet.store.recent_posts(10).unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].title, "Final");
    assert_eq!(planet.pass().await.feeds[0].counts.unchanged, 1);
}

#[tokio::test]
async fn a_changed_guid_with_the_same_link_is_the_same_post() {
    let (server, planet) = planet_with(item("http://a.cn/?p=1", "http://a.cn/2026/hello/", "Hello", "b", None)).await;
    planet.pass().await;
    // The blog moved to https and its GUIDs changed with it; the link is the same page.
    server.route(
        "/feed",
        Route::feed(item("https://a.cn/2026/hello/", "https://a.cn/2026/hello/?utm_source=rss", "Hello", "b", None)),
    );
    let report = planet.pass().await;
    assert_eq!(report.feeds[0].counts.new, 0, "{report:?}");
    assert_eq!(planet.store.post_count(), 1);
}

#[tokio::test]
async fn a_changed_url_with_the_same_guid_is_the_same_post() {
    let (server, planet) = planet_with(item("post-7", "https://a.cn/old-slug", "T", "b", None)).await;
    planet.pass().await;
    server.route("/feed", Route::feed(item("post-7", "https://a.cn/new-slug", "T", "b", None)));
    planet.pass().await;
    let posts = planet.store.recent_posts(10).unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].url.as_deref(), Some("https://a.cn/new-slug"));
}

#[tokio::test]
async fn an_undated_post_keeps_the_date_it_was_first_seen() {
    let (_server, planet) = planet_with(item("g", "https://a.cn/x", "Undated", "b", None)).await;
    let first = Utc::now() - TimeDelta::days(3);
    planet.pass_at(first).await;
    let dated = planet.store.recent_posts(1).unwrap()[0].published;
    // The first sighting, less a fraction of a second fixed per feed (undated posts of
    // different feeds do not share an instant).
    assert!(dated <= first && dated > first - TimeDelta::seconds(1), "{dated} vs {first}");
    planet.pass_at(first + TimeDelta::days(1)).await;
    let post = &planet.store.recent_posts(1).unwrap()[0];
    assert_eq!(post.published, dated, "the next pass keeps it");
    assert_eq!(post.date_source, DateSource::FirstSeen);
}

#[tokio::test]
async fn a_future_dated_post_is_clamped_to_its_first_sighting_and_stays_there() {
    let (_server, planet) =
        planet_with(item("g", "https://a.cn/x", "Soon", "b", Some("Fri, 01 Jan 2100 00:00:00 GMT"))).await;
    let first = Utc::now();
    planet.pass_at(first).await;
    planet.pass_at(first + TimeDelta::hours(5)).await;
    let post = &planet.store.recent_posts(1).unwrap()[0];
    assert_eq!((post.published, post.date_source), (first, DateSource::Clamped));
}

#[tokio::test]
async fn two_items_sharing_a_guid_stay_two_posts_across_passes() {
    let document = "<rss version=\"2.0\"><channel><title>c</title>\
        <item><title>A</title><guid>same</guid><link>https://a.cn/a</link></item>\
        <item><title>B</title><guid>same</guid><link>https://a.cn/b</link></item></channel></rss>";
    let (_server, planet) = planet_with(document.to_string()).await;
    assert_eq!(planet.pass().await.feeds[0].counts.new, 2);
    let second = planet.pass().await;
    assert_eq!((second.feeds[0].counts.new, second.feeds[0].counts.unchanged), (0, 2));
    assert_eq!(planet.store.post_count(), 2);
}

#[tokio::test]
async fn a_pass_over_200_feeds_stores_everything_and_the_next_pass_is_all_304s() {
    let server = FixtureServer::start().await;
    let mut feeds = Vec::new();
    let ids: Vec<String> = (0..200).map(|i| format!("member-{i}")).collect();
    for id in &ids {
        let path = format!("/{id}.xml");
        server.route(&path, Route::feed_with_etag(rss(id, 5), &format!("\"{id}\"")));
        feeds.push((id.as_str(), server.url(&path)));
    }
    let planet = TestPlanet::new(&members(&feeds), "");
    let first = planet.pass().await;
    assert_eq!(first.count(|o| *o == Outcome::Refreshed), 200);
    assert_eq!(first.totals().new, 1000);
    assert_eq!(planet.store.post_count(), 1000);

    let second = planet.pass().await;
    assert_eq!(second.count(|o| *o == Outcome::NotModified), 200);
    assert_eq!(second.totals().new + second.totals().updated + second.totals().unchanged, 0, "a 304 is never parsed");
    for id in &ids {
        assert_eq!(server.statuses(&format!("/{id}.xml")), vec![200, 304]);
    }
}
