//! The store's daily budget per member: a feed that invents new posts every pass stops
//! growing the store at `[fetch] member_posts_per_day` (or `member_mb_per_day`); the member's
//! status says why, other members are untouched, and the next day takes the rest.

use chrono::{TimeDelta, Utc};
use planet::refresh::PassOptions;

use super::app::{member, spawn_app_with, TestApp};
use crate::helpers::rss;

/// A feed of `count` posts whose GUIDs start at `first`, as a feed that makes up new ones.
fn fresh_guids(first: usize, count: usize) -> String {
    let items: String = (first..first + count)
        .map(|i| {
            format!(
                "<item><title>flood {i}</title><guid>flood-{i}</guid><link>https://flood.example.cn/{i}</link>\
                 <pubDate>Mon, 02 Nov 2026 08:{:02}:00 +0800</pubDate><description>token {i:x}{i:o}</description></item>",
                i % 60
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>flood</title>{items}</channel></rss>")
}

async fn stored(app: &TestApp, member: &str) -> usize {
    let (_, page) = app.posts(&format!("?member={member}&limit=100")).await;
    page["posts"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_member_past_its_daily_budget_gets_no_more_posts_stored_until_the_next_day() {
    let members = |first: usize| {
        vec![member("flood", "Flood", fresh_guids(first, 20)), member("alice", "Alice", rss("alice", 4))]
    };
    let app = spawn_app_with(members(0), None, "").await;
    std::fs::write(
        &app.config_path,
        std::fs::read_to_string(&app.config_path).unwrap().replace("[fetch]\n", "[fetch]\nmember_posts_per_day = 30\n"),
    )
    .unwrap();
    assert!(app.service.reload());
    app.pass().await;
    assert_eq!(stored(&app, "flood").await, 20);

    app.fixtures.route("/flood.xml", crate::helpers::Route::feed(fresh_guids(20, 20)));
    let report = app.pass().await;
    assert_eq!(stored(&app, "flood").await, 30, "ten of the twenty new posts fit in the day's thirty");
    let flood = report.feeds.iter().find(|f| f.member.as_str() == "flood").unwrap();
    assert_eq!(flood.counts.new, 10, "{flood:?}");
    assert_eq!(stored(&app, "alice").await, 4, "another member is untouched");
    let (_, status) = app.member("flood").await;
    let warnings = status["feeds"][0]["warnings"].to_string();
    assert!(warnings.contains("daily_budget") && warnings.contains("10 posts were not stored"), "{status}");

    // The next day the rest is stored (the feed is read whole, not answered 304).
    let tomorrow = Utc::now() + TimeDelta::days(1);
    app.service.try_run_pass(tomorrow, &PassOptions { force: true, ..PassOptions::default() }).await.unwrap();
    assert_eq!(stored(&app, "flood").await, 40);
}
