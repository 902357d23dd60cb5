//! No floods: on a feed's first fetch, at most `[river] first_fetch_posts` undated or
//! same-dated posts reach the river (combined feeds, home page, digest); the rest are
//! backlog, shown on the member's page, in the API and in search.

use chrono::Utc;

use super::app::{member, member_with_feeds, spawn_app, spawn_app_with, TestApp};
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
    // The daily cap is another test's: here it must not hide what the first-fetch rule lets through.
    let app = spawn_app_with(
        vec![
            member("undated", "Undated", feed("undated", 20, None)),
            member("stamped", "Stamped", feed("stamped", 12, Some(&build_time))),
            member("alice", "Alice", rss("alice", 8)),
        ],
        None,
        "[river]\nmax_per_member_per_day = 50\n",
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
    let digest_posts = planet::digest::load::week_posts(&config, &app.service.store, week).unwrap().posts;
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

/// An RSS feed of posts on Monday 2 November 2026 (+08:00), one per "HH:MM" in `times`.
fn day_feed(prefix: &str, times: &[&str]) -> String {
    let items: String = times
        .iter()
        .enumerate()
        .map(|(i, time)| {
            format!(
                "<item><title>{prefix} item {i}</title><guid>{prefix}-{i}</guid><link>https://{prefix}.example.cn/{i}</link>\
                 <pubDate>Mon, 02 Nov 2026 {time}:00 +0800</pubDate></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>{prefix}</title>{items}</channel></rss>")
}

#[tokio::test]
async fn a_member_who_posts_nine_times_in_a_day_gets_five_places_in_the_river_and_a_note() {
    let busy = ["23:50", "23:40", "23:30", "23:20", "23:10", "12:00", "11:00", "10:00", "09:00"];
    let app = spawn_app(
        vec![member("busy", "Busy", day_feed("busy", &busy)), member("calm", "Calm", day_feed("calm", &["15:00"]))],
        None,
    )
    .await;
    app.pass().await;
    let (_, atom) = app.feed_atom("").await;
    assert_eq!(atom.matches("<title>busy item ").count(), 5, "the combined feed is capped");
    assert!(atom.contains("busy item 4<") && !atom.contains("busy item 5<"), "the newest five of the day");
    assert!(atom.contains("calm item 0<"), "another member's post is not held back");

    let (_, home) = app.index("").await;
    assert_eq!(home.matches("busy item ").count(), 5);
    assert!(home.contains("还有 4 篇"), "the home page says how many it held back");
    assert!(home.contains("href=\"/members/busy\">还有 4 篇"), "and links to the member's page");

    // Member feeds, member pages and the API are not capped.
    let (_, member_feed) = app.feed_atom("?member=busy").await;
    assert_eq!(member_feed.matches("<entry>").count(), 9);
    let (_, page) = app.member_page("busy").await;
    assert_eq!(page.matches("busy item ").count(), 9);
    let (_, api) = app.posts("?limit=100").await;
    assert_eq!(api["posts"].as_array().unwrap().iter().filter(|p| p["member"]["id"] == "busy").count(), 9);

    // The digest shows five and counts the other four in its "还有 N 篇".
    let (_, digest) = app.digest_json("2026-W45").await;
    let group = digest["groups"].as_array().unwrap().iter().find(|g| g["member_id"] == "busy").unwrap().clone();
    assert_eq!(group["posts"].as_array().unwrap().len(), 5);
    assert!(group["more"].as_str().unwrap().contains('4'), "{group}");
}

#[tokio::test]
async fn the_next_home_page_does_not_show_what_the_daily_cap_held_back_on_the_page_before() {
    // busy's newest five open the day; its last four close it, on the second page.
    let busy = ["23:59", "23:58", "23:57", "23:56", "23:55", "00:04", "00:03", "00:02", "00:01"];
    let mut members = vec![member("busy", "Busy", day_feed("busy", &busy))];
    for (m, id) in ["m1", "m2", "m3", "m4", "m5", "m6"].into_iter().enumerate() {
        let times: Vec<String> = (0..5).map(|i| format!("{:02}:{:02}", 2 + m * 3, 10 + i)).collect();
        let times: Vec<&str> = times.iter().map(String::as_str).collect();
        members.push(member(id, id, day_feed(id, &times)));
    }
    let app = spawn_app(members, None).await;
    app.pass().await;
    let (first, second) = home_and_older_page(&app).await;
    assert_eq!(first.matches("busy item ").count(), 5);
    assert!(second.contains("m1 item "), "the second page holds the rest of the day");
    assert_eq!(second.matches("busy item ").count(), 0, "busy had its five on the first page: {second}");
}

/// A feed of `count` posts of one flooder's feed `feed`, dated Monday 2 November 2026
/// (+08:00) a second apart from 23:00:00 down, each with its own title and body.
fn flood_feed(feed: usize, count: usize) -> String {
    let items: String = (0..count)
        .map(|i| {
            let second = feed * count + i;
            let (minute, second) = (59 - second / 60, 59 - second % 60);
            let body = format!("{:x}", (second as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (feed as u64) << 40);
            format!(
                "<item><title>flood {feed}-{i}</title><guid>flood-{feed}-{i}</guid><link>https://flood.example.cn/{feed}/{i}</link>\
                 <pubDate>Mon, 02 Nov 2026 22:{minute:02}:{second:02} +0800</pubDate><description>{body} {body}</description></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>flood {feed}</title>{items}</channel></rss>")
}

#[tokio::test]
async fn a_member_flooding_one_day_with_thousands_of_posts_takes_no_place_from_the_others() {
    // Ten members with four posts each (1-4 November), and a flooder with eleven feeds: one
    // post each on the first fetch, then 200 each (2,200 in one day) on the next.
    let others: Vec<&'static str> = vec!["o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8", "o9"];
    let members = |per_feed: usize| {
        let mut members: Vec<_> = others.iter().map(|id| member(id, id, rss(id, 4))).collect();
        members.push(member_with_feeds("flood", "Flood", (0..11).map(|feed| flood_feed(feed, per_feed)).collect()));
        members
    };
    let app = spawn_app(members(1), None).await;
    app.pass().await;
    app.rewrite_config(&members(200));
    // The store's own daily budget (100 new posts) would stop this flood first; the river
    // must hold without it.
    let config = std::fs::read_to_string(&app.config_path).unwrap();
    std::fs::write(&app.config_path, config.replace("[fetch]\n", "[fetch]\nmember_posts_per_day = 5000\n")).unwrap();
    assert!(app.service.reload());
    app.pass().await;
    let (_, api) = app.posts("?member=flood&limit=1").await;
    assert!(api["posts"].as_array().unwrap().len() == 1);

    let (_, atom) = app.feed_atom("").await;
    assert_eq!(atom.matches("<title>flood ").count(), 5, "the flooder's day shows five");
    for id in &others {
        assert_eq!(atom.matches(&format!("<title>{id} post ")).count(), 4, "{id} keeps every post in /feed.atom");
    }
    let (_, json) = app.feed_json("").await;
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 45, "ten members' forty posts and the flooder's five");
    let (_, rss_feed) = app.feed_rss("").await;
    assert_eq!(rss_feed.matches("<item>").count(), 45);

    let (_, home) = app.index("").await;
    assert_eq!(home.matches(">flood ").count(), 5, "{home}");
    assert!(
        home.contains("还有 1000 篇") || home.contains("还有 2195 篇"),
        "the note counts (at most 1,000) held back"
    );
    for id in &others {
        assert!(home.contains(&format!("{id} post 3")), "{id} is on the home page");
    }
    // No later page shows more of the flooder's day.
    let mut next =
        home.split("href=\"").find_map(|s| s.split('"').next().filter(|h| h.contains("?before="))).map(str::to_string);
    while let Some(link) = next {
        let (status, page) = app.index(link.trim_start_matches('/')).await;
        assert_eq!(status, 200);
        assert_eq!(page.matches(">flood ").count(), 0, "{link}");
        next = page
            .split("href=\"")
            .find_map(|s| s.split('"').next().filter(|h| h.contains("?before=")))
            .map(str::to_string);
    }
}

#[tokio::test]
async fn the_digest_reads_at_most_ten_posts_of_a_member_without_their_html_and_counts_the_rest() {
    // Thirty posts of 40 KB in one week: the page lists ten and counts twenty.
    let big = "<p>".to_string() + &"长沙.NET 社区 ".repeat(4_000) + "</p>";
    let items: String = (0..30)
        .map(|i| {
            let (day, hour) = (2 + i / 10, 8 + i % 10);
            format!(
                "<item><title>heavy item {i}</title><guid>heavy-{i}</guid><link>https://heavy.example.cn/{i}</link>\
                 <pubDate>{} Nov 2026 {hour:02}:00:00 +0800</pubDate><description><![CDATA[{big} {i}]]></description></item>",
                ["Mon, 02", "Tue, 03", "Wed, 04"][(day - 2) as usize]
            )
        })
        .collect();
    let heavy = format!("<rss version=\"2.0\"><channel><title>heavy</title>{items}</channel></rss>");
    let app = spawn_app_with(
        vec![member("heavy", "Heavy", heavy), member("calm", "Calm", day_feed("calm", &["15:00"]))],
        None,
        "[river]\nmax_per_member_per_day = 50\n",
    )
    .await;
    app.pass().await;
    let config = app.service.config();
    let week = planet::digest::Week::parse("2026-W45").unwrap();
    let read = planet::digest::load::week_posts(&config, &app.service.store, week).unwrap();
    let heavy_read: Vec<_> = read.posts.iter().filter(|p| p.member.as_str() == "heavy").collect();
    assert_eq!(heavy_read.len(), planet::digest::MAX_POSTS_PER_MEMBER, "only what the digest lists is read");
    assert!(read.posts.iter().all(|p| p.content_html.as_str().is_empty()), "and without its HTML");
    assert_eq!(read.unlisted.get(&planet::config::MemberId::parse("heavy").unwrap()), Some(&20));

    let (status, digest) = app.digest_json("2026-W45").await;
    assert_eq!(status, 200);
    let group = digest["groups"].as_array().unwrap().iter().find(|g| g["member_id"] == "heavy").unwrap().clone();
    assert_eq!(group["posts"].as_array().unwrap().len(), 10);
    assert!(group["more"].as_str().unwrap().contains("20"), "{group}");
    assert_eq!(digest["post_count"], 31, "every post of the week counts, listed or not");
    assert_eq!(group["posts"][0]["title"], "heavy item 29", "the newest first");
}

#[tokio::test]
async fn a_home_page_that_ends_on_a_members_fifth_post_of_the_day_counts_it_on_the_next_page() {
    // busy: nine posts on Monday evening. Five others: five posts each on Tuesday, so the
    // first page (30 posts) is their 25 and busy's newest five, ending on busy's fifth.
    let busy = ["23:58", "23:57", "23:56", "23:55", "23:54", "23:53", "23:52", "23:51", "23:50"];
    let mut members = vec![member("busy", "Busy", day_feed("busy", &busy))];
    for id in ["t1", "t2", "t3", "t4", "t5"] {
        let items: String = (0..5)
            .map(|i| {
                format!(
                    "<item><title>{id} item {i}</title><guid>{id}-{i}</guid><link>https://{id}.example.cn/{i}</link>\
                     <pubDate>Tue, 03 Nov 2026 1{i}:00:00 +0800</pubDate></item>"
                )
            })
            .collect();
        members.push(member(
            id,
            id,
            format!("<rss version=\"2.0\"><channel><title>{id}</title>{items}</channel></rss>"),
        ));
    }
    // And one post on Monday morning, for a second page to exist.
    members.push(member("early", "Early", day_feed("early", &["08:00"])));
    let app = spawn_app(members, None).await;
    app.pass().await;
    let (first, second) = home_and_older_page(&app).await;
    assert_eq!(first.matches("busy item ").count(), 5);
    assert!(second.contains("early item 0"), "{second}");
    assert_eq!(second.matches("busy item ").count(), 0, "the cursor's own post counts: {second}");
}

/// The home page and the page its "older" link leads to (which must answer 200).
async fn home_and_older_page(app: &super::app::TestApp) -> (String, String) {
    let (_, first) = app.index("").await;
    let older =
        first.split("href=\"").find_map(|s| s.split('"').next().filter(|href| href.contains("?before="))).unwrap();
    let (status, second) = app.index(older.trim_start_matches('/')).await;
    assert_eq!(status, 200);
    (first, second)
}
