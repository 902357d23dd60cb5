//! One entry per article: a member's article published on 博客园, CSDN (a 200-character
//! summary), 掘金 (extra markup) and their own Hexo site is one entry everywhere, with
//! `also_on` links; a series sharing its opening stays apart; another member's repost is
//! flagged, not merged. Fixtures: tests/data/dedupe.

use super::app::{member, member_with_feeds, spawn_app, TestApp};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/dedupe/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

async fn spawn_wang_and_li() -> TestApp {
    let wang = member_with_feeds(
        "wang",
        "王工",
        ["cnblogs.atom", "csdn.rss", "juejin.rss", "hexo.atom"].into_iter().map(fixture).collect(),
    );
    let app = spawn_app(vec![wang, member("li", "李四", fixture("repost.rss"))], None).await;
    app.pass().await;
    app
}

fn titles(posts: &serde_json::Value) -> Vec<String> {
    posts.as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn an_article_on_four_platforms_is_one_entry_with_links_to_the_other_three() {
    let app = spawn_wang_and_li().await;
    let (_, page) = app.posts("?member=wang&limit=100").await;
    let listed = titles(&page["posts"]);
    assert_eq!(
        listed,
        [
            "EF Core 性能优化实战（第2篇）",
            "EF Core 性能优化实战（第1篇）",
            "ASP.NET Core 依赖注入深入理解",
            "我的 2026 年读书清单"
        ],
        "eight posts in four feeds are four articles; the series stays two"
    );
    let article =
        page["posts"].as_array().unwrap().iter().find(|p| p["title"] == "ASP.NET Core 依赖注入深入理解").unwrap();
    assert!(article["url"].as_str().unwrap().contains("cnblogs.com"), "the first listed feed's copy is canonical");
    let platforms: Vec<&str> =
        article["also_on"].as_array().unwrap().iter().map(|a| a["platform"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["CSDN", "掘金", "wang.example.dev"]);
    let part_two =
        page["posts"].as_array().unwrap().iter().find(|p| p["title"] == "EF Core 性能优化实战（第2篇）").unwrap();
    assert_eq!(part_two["also_on"][0]["platform"], "CSDN", "CSDN's summary of part 2 is part 2");

    // A copy fetched by id says what it is a copy of.
    let copy_id = article["also_on"][0]["id"].as_str().unwrap();
    let (status, copy) = app.post(copy_id).await;
    assert_eq!(status, 200);
    assert_eq!(copy["duplicate_of"], article["id"]);

    // One entry on the site, in the feeds and in search, with the links.
    let (_, home) = app.index("").await;
    assert_eq!(home.matches(">ASP.NET Core 依赖注入深入理解</a>").count(), 1, "{home}");
    assert!(home.contains("也发布于 <a href=\"https://blog.csdn.net/wang/article/details/134000001\">CSDN</a>"));
    let (_, atom) = app.feed_atom("").await;
    assert_eq!(atom.matches("<title>ASP.NET Core 依赖注入深入理解</title>").count(), 1);
    assert!(atom.contains("rel=\"related\"") && atom.contains("https://juejin.cn/post/7300000000000000001"), "{atom}");
    let (_, rss) = app.text("/feed.rss").await;
    assert!(rss.contains("也发布于") && rss.contains("blog.csdn.net/wang/article/details/134000001"));
    let (_, json) = app.text("/feed.json").await;
    assert!(json.contains("\"also_on\""));
    let (_, found) = app.search("依赖注入", "").await;
    let found_titles = titles(&found["posts"]);
    assert_eq!(
        found_titles.iter().filter(|t| t.contains("依赖注入") && !t.starts_with("[转载]")).count(),
        1,
        "{found_titles:?}"
    );

    // The digest lists it once, with the links.
    let (_, digest) = app.digest_json("2026-W45").await;
    let wang = digest["groups"].as_array().unwrap().iter().find(|g| g["member_id"] == "wang").unwrap().clone();
    let in_digest: Vec<&serde_json::Value> =
        wang["posts"].as_array().unwrap().iter().filter(|p| p["title"] == "ASP.NET Core 依赖注入深入理解").collect();
    assert_eq!(in_digest.len(), 1);
    assert_eq!(in_digest[0]["also_on"].as_array().unwrap().len(), 3);
    assert!(!wang["posts"].as_array().unwrap().iter().any(|p| p["title"].as_str().unwrap().starts_with("【原创】")));
}

#[tokio::test]
async fn another_members_repost_is_flagged_on_both_posts_and_not_merged() {
    let app = spawn_wang_and_li().await;
    let (_, li) = app.posts("?member=li&limit=100").await;
    assert_eq!(li["posts"].as_array().unwrap().len(), 2, "li's posts are all listed");
    let repost =
        li["posts"].as_array().unwrap().iter().find(|p| p["title"].as_str().unwrap().starts_with("[转载]")).unwrap();
    assert_eq!(repost["also_by"][0]["member"], "wang");
    let original_id = repost["also_by"][0]["id"].as_str().unwrap();
    let (_, original) = app.post(original_id).await;
    assert_eq!(original["title"], "ASP.NET Core 依赖注入深入理解");
    assert_eq!(original["also_by"][0]["member"], "li");
    let blazor =
        li["posts"].as_array().unwrap().iter().find(|p| p["title"].as_str().unwrap().starts_with("Blazor")).unwrap();
    assert!(blazor["also_by"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_later_pass_keeps_the_grouping_and_the_index_agrees() {
    let app = spawn_wang_and_li().await;
    let (_, before) = app.posts("?member=wang&limit=100").await;
    app.fixtures.route("/wang.xml", crate::helpers::Route::feed(fixture("cnblogs.atom")));
    app.pass().await;
    let (_, after) = app.posts("?member=wang&limit=100").await;
    assert_eq!(before, after, "unchanged feeds change nothing");
    let (missing, extra) = app.service.search_index_differences().unwrap();
    assert!(missing.is_empty() && extra.is_empty(), "index and store agree: {missing:?} {extra:?}");
}

#[tokio::test]
async fn a_store_from_before_grouping_is_grouped_on_the_next_start() {
    let app = spawn_wang_and_li().await;
    // As a store written before grouping existed (or just imported) holds them: ungrouped.
    let store = &app.service.store;
    let wang = planet::config::MemberId::parse("wang").unwrap();
    let mut posts = store.member_posts(&wang, 100).unwrap();
    for post in &mut posts {
        post.duplicate_of = None;
        post.also_on.clear();
    }
    store.save_posts(&wang, &posts).unwrap();
    store.set_grouping_version(0).unwrap();
    app.service.update_search_index().unwrap();
    let (_, ungrouped) = app.posts("?member=wang&limit=100").await;
    assert_eq!(ungrouped["posts"].as_array().unwrap().len(), 8);

    // The start-up step `serve::run` takes before the index catches up.
    assert_eq!(app.service.regroup_if_needed().unwrap(), 2, "both members grouped");
    assert_eq!(app.service.regroup_if_needed().unwrap(), 0, "once");
    app.service.update_search_index().unwrap();
    let (_, grouped) = app.posts("?member=wang&limit=100").await;
    assert_eq!(grouped["posts"].as_array().unwrap().len(), 4);
    let (missing, extra) = app.service.search_index_differences().unwrap();
    assert!(missing.is_empty() && extra.is_empty(), "{missing:?} {extra:?}");
}

/// Every output that lists wang's article, as one text.
async fn every_output(app: &TestApp) -> String {
    let mut all = String::new();
    for path in [
        "/",
        "/feed.atom",
        "/feed.rss",
        "/feed.json",
        "/feed.atom?member=wang",
        "/api/v1/posts?limit=100",
        "/members/wang",
        "/api/v1/digests/2026-W45",
        "/digest/2026-W45",
    ] {
        let (status, body) = app.text(path).await;
        assert_eq!(status, 200, "{path}");
        all.push_str(&body);
    }
    all
}

#[tokio::test]
async fn a_hidden_copy_or_repost_is_linked_from_no_output_until_it_is_shown_again() {
    const TOKEN: &str = "an-admin-token-of-at-least-32-characters";
    let wang = member_with_feeds(
        "wang",
        "王工",
        ["cnblogs.atom", "csdn.rss", "juejin.rss", "hexo.atom"].into_iter().map(fixture).collect(),
    );
    let app = spawn_app(vec![wang, member("li", "李四", fixture("repost.rss"))], Some(TOKEN)).await;
    app.pass().await;
    let (_, page) = app.posts("?member=wang&limit=100").await;
    let article = page["posts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "ASP.NET Core 依赖注入深入理解")
        .unwrap()
        .clone();
    let csdn = article["also_on"].as_array().unwrap().iter().find(|a| a["platform"] == "CSDN").unwrap().clone();
    let (csdn_id, csdn_url) = (csdn["id"].as_str().unwrap(), csdn["url"].as_str().unwrap());
    let repost_id = article["also_by"][0]["id"].as_str().unwrap();
    let before = every_output(&app).await;
    assert!(before.contains(csdn_url) && before.contains(repost_id));

    assert_eq!(app.admin_moderate(Some(TOKEN), csdn_id, "hide", "").await, 200);
    assert_eq!(app.admin_moderate(Some(TOKEN), repost_id, "hide", "").await, 200);
    let hidden = every_output(&app).await;
    assert!(!hidden.contains(csdn_url), "the hidden copy's link is listed nowhere");
    assert!(!hidden.contains(repost_id), "nor is the hidden repost");
    let (_, article_now) = app.post(article["id"].as_str().unwrap()).await;
    assert_eq!(article_now["also_on"].as_array().unwrap().len(), 2, "{article_now}");
    assert!(article_now["also_by"].as_array().unwrap().is_empty(), "{article_now}");
    let (_, found) = app.search("依赖注入", "").await;
    assert!(!found.to_string().contains(csdn_url));

    assert_eq!(app.admin_moderate(Some(TOKEN), csdn_id, "unhide", "").await, 200);
    assert!(every_output(&app).await.contains(csdn_url), "shown again, linked again");
}
