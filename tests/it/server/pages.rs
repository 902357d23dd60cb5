//! The HTML site: posts grouped by day in Asia/Shanghai, the members sidebar with health
//! marks, the member page that explains a failing feed, the about page, and the security
//! headers every page carries.

use super::app::{member, spawn_app};
use crate::helpers::{rss, Route};

#[tokio::test]
async fn the_front_page_groups_posts_by_day_in_the_site_time_zone() {
    let document = "<rss version=\"2.0\"><channel><title>c</title>\
        <item><title>Late Sunday post</title><guid>1</guid><link>https://a.cn/1</link><pubDate>Sun, 22 Nov 2026 15:30:00 GMT</pubDate></item>\
        <item><title>Monday post</title><guid>2</guid><link>https://a.cn/2</link><pubDate>Sun, 22 Nov 2026 16:10:00 GMT</pubDate></item>\
        </channel></rss>";
    let app = spawn_app(vec![member("alice", "Alice", document.to_string())], None).await;
    app.pass().await;
    let (status, page) = app.index("").await;
    assert_eq!(status, 200);
    // 15:30 UTC is 23:30 on Sunday in Changsha; 16:10 UTC is 00:10 on Monday.
    let monday = page.find("2026年11月23日 星期一").expect("a Monday heading");
    let sunday = page.find("2026年11月22日 星期日").expect("a Sunday heading");
    assert!(monday < page.find("Monday post").unwrap() && page.find("Monday post").unwrap() < sunday);
    assert!(sunday < page.find("Late Sunday post").unwrap());
    assert!(page.contains("23:30") && page.contains("00:10"));
    assert!(page.contains("rel=\"alternate\" type=\"application/atom+xml\""), "autodiscovery links");
    assert!(page.contains("<html lang=\"zh-CN\">"));
}

#[tokio::test]
async fn a_failing_member_is_marked_and_its_page_says_why() {
    let app =
        spawn_app(vec![member("alice", "Alice", rss("alice", 1)), member("bob", "Bob", rss("bob", 1))], None).await;
    app.fixtures.route("/bob.xml", Route::Status { status: 500, headers: vec![] });
    app.pass().await;
    let (_, page) = app.index("").await;
    assert!(page.contains("抓取失败"), "the sidebar marks bob");
    let (status, bob) = app.member_page("bob").await;
    assert_eq!(status, 200);
    assert!(bob.contains("HTTP 500") && bob.contains("连续 1 次"), "{bob}");
    assert!(bob.contains("下次重试"));
    let (_, alice) = app.member_page("alice").await;
    assert!(alice.contains("正常") && alice.contains("alice post 0"));
    assert_eq!(app.member_page("nobody").await.0, 404);
}

#[tokio::test]
async fn every_page_of_the_river_shows_the_member_list_as_of_the_last_pass() {
    let app =
        spawn_app(vec![member("alice", "Alice", rss("alice", 40)), member("bob", "Bob", rss("bob", 1))], None).await;
    app.pass().await;
    let older_link = |page: &str| {
        let at = page.find("?before=").expect("a link to older posts");
        let start = page[..at].rfind('"').unwrap() + 1;
        page[start..at + page[at..].find('"').unwrap()].replace("&amp;", "&")
    };
    let (_, first) = app.index("").await;
    let older = older_link(&first);
    assert!(!first.contains("抓取失败") && !app.text(&older).await.1.contains("抓取失败"));
    // Bob's feed breaks: the next pass marks him on the first page and on older ones alike.
    app.fixtures.route("/bob.xml", Route::Status { status: 500, headers: vec![] });
    app.pass().await;
    let (_, first) = app.index("").await;
    let (_, second) = app.text(&older).await;
    assert!(first.contains("抓取失败") && second.contains("抓取失败"), "{second}");
    assert!(second.contains(">Alice</a>") && second.contains(">Bob</a>"), "every member is listed: {second}");
}

#[tokio::test]
async fn the_about_page_explains_how_to_join() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    let (status, page) = app.about().await;
    assert_eq!(status, 200);
    assert!(page.contains("如何加入") && page.contains("[[members]]") && page.contains("社区每月在长沙举办活动。"));
}

#[tokio::test]
async fn pages_carry_a_script_free_csp_and_other_security_headers() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    for path in ["/", "/about", "/members/alice", "/api/v1/posts", "/feed.atom"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{path}: {csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    let css = app.get("/static/site.css").await;
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.text().await.unwrap().contains("prefers-color-scheme: dark"));
}

#[tokio::test]
async fn the_front_page_paginates() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 40))], None).await;
    app.pass().await;
    let (_, page) = app.index("").await;
    let older = page
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("before="))
        .expect("an older-posts link");
    let older = older.replace("&amp;", "&");
    let (status, second) = app.index(older.trim_start_matches('/')).await;
    assert_eq!(status, 200);
    assert_eq!(second.matches("class=\"post\"").count(), 10);
}

#[tokio::test]
async fn language_en_switches_the_interface_text_to_english() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    app.pass().await;
    let text =
        std::fs::read_to_string(&app.config_path).unwrap().replacen("[site]\n", "[site]\nlanguage = \"en\"\n", 1);
    std::fs::write(&app.config_path, text).unwrap();
    assert!(app.service.reload());
    let (_, page) = app.index("").await;
    assert!(page.contains("<html lang=\"en\">") && page.contains("Members") && page.contains("Subscribe"), "{page}");
    assert!(!page.contains("订阅"));
    let (_, about) = app.about().await;
    assert!(about.contains("How to join"));
}
