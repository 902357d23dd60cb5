//! The index against a real store: posts found by words, phrases and filters; the outbox
//! taken in; a rebuild after the index is lost.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::model::{DateSource, Post};
use crate::store::Store;

fn post(member: &str, id: &str, title: &str, body: &str, tags: &[&str], day: u32) -> Post {
    let published = Utc.with_ymd_and_hms(2026, 10, day, 8, 0, 0).unwrap();
    Post {
        id: id.into(),
        member: MemberId::parse(member).unwrap(),
        feed_url: format!("http://example.com/{member}.xml"),
        guid: Some(id.into()),
        url: Some(format!("http://example.com/{id}")),
        title: title.into(),
        author: None,
        published,
        updated: None,
        first_seen: published,
        date_source: DateSource::Feed,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        excerpt: String::new(),
        content_html: crate::sanitize::html(body, None),
        content_hash: id.into(),
        backlog: false,
        duplicate_of: None,
        also_on: Vec::new(),
        also_by: Vec::new(),
    }
}

struct Fixture {
    _directory: tempfile::TempDir,
    store: Store,
    index: SearchIndex,
    members: Vec<MemberId>,
}

fn names(member: &MemberId) -> String {
    format!("Name of {member}")
}

fn fixture(posts: &[Post]) -> Fixture {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open(&directory.path().join("store"), 8 << 20).unwrap();
    for post in posts {
        let state = crate::model::FeedState { feed_url: post.feed_url.clone(), ..Default::default() };
        store.save_refresh(&post.member, std::slice::from_ref(post), &state).unwrap();
    }
    let index =
        SearchIndex::open(&path_for_store(&directory.path().join("store")), &store.identity().unwrap()).unwrap();
    assert!(!index.is_ready(), "a new index is empty until rebuilt");
    index.rebuild(&store, &names, &|| false).unwrap();
    let members = ["ann", "bob"].map(|m| MemberId::parse(m).unwrap()).to_vec();
    Fixture { _directory: directory, store, index, members }
}

impl Fixture {
    fn find(&self, text: &str) -> Vec<String> {
        self.find_with(text, |_| {})
    }

    fn find_with(&self, text: &str, adjust: impl FnOnce(&mut Request<'_>)) -> Vec<String> {
        let parsed = query::parse(text);
        let mut request = Request {
            query: &parsed,
            visible: &self.members,
            member: None,
            tags: Vec::new(),
            since: None,
            until: None,
            ranking: Ranking::Relevance { offset: 0 },
            limit: 10,
            now: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
            hidden: &[],
        };
        adjust(&mut request);
        self.index.search(&request).unwrap().into_iter().map(|hit| hit.id).collect()
    }
}

fn sample() -> Vec<Post> {
    vec![
        post("ann", "a1", "ASP.NET Core 中间件", "<p>写一个中间件来记录请求。</p>", &["dotnet"], 1),
        post("ann", "a2", "随笔", "<p>今天聊聊依赖注入和控制反转。</p>", &[], 2),
        post("bob", "b1", "Blazor tips", "<p>Components and middlewares in Blazor.</p>", &["Blazor"], 3),
        post("bob", "b2", "EF Core", "<p>Entity Framework Core migrations.</p>", &[], 4),
    ]
}

#[test]
fn chinese_words_inside_a_body_are_found() {
    let fixture = fixture(&sample());
    assert_eq!(fixture.find("依赖注入"), ["a2"]);
    assert_eq!(fixture.find("注入依赖"), Vec::<String>::new(), "a phrase keeps its order");
}

#[test]
fn latin_words_match_stemmed_and_dotted_names_match_as_phrases() {
    let fixture = fixture(&sample());
    assert_eq!(fixture.find("middleware"), ["b1"]);
    assert_eq!(fixture.find("asp.net"), ["a1"]);
    assert_eq!(fixture.find("ASP.NET Core 中间件"), ["a1"]);
}

#[test]
fn member_and_tag_filters_narrow_the_search() {
    let fixture = fixture(&sample());
    assert_eq!(fixture.find("core member:bob"), ["b2"]);
    assert_eq!(fixture.find("tag:blazor"), ["b1"]);
    let dotnet = vec![("dotnet".to_string(), vec![MemberId::parse("bob").unwrap()])];
    let mut found = fixture.find_with("", |r| r.tags = dotnet);
    found.sort();
    assert_eq!(found, ["a1", "b1", "b2"], "a post tagged dotnet, and every post of a member tagged dotnet");
}

#[test]
fn hidden_members_are_not_found() {
    let mut fixture = fixture(&sample());
    assert_eq!(fixture.find("core").len(), 2);
    fixture.members = vec![MemberId::parse("ann").unwrap()];
    assert_eq!(fixture.find("core"), ["a1"]);
}

#[test]
fn newest_first_pages_by_position_and_date_range() {
    let fixture = fixture(&sample());
    let newest = |before: Option<(i64, String)>| Ranking::Newest { before };
    assert_eq!(fixture.find_with("", |r| r.ranking = newest(None)), ["b2", "b1", "a2", "a1"]);
    let b1 = fixture.store.post("b1").unwrap().unwrap();
    let after_b1 = Some((b1.published.timestamp_millis(), "b1".to_string()));
    assert_eq!(fixture.find_with("", |r| r.ranking = newest(after_b1)), ["a2", "a1"]);
    let until: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 10, 2, 23, 0, 0).unwrap();
    assert_eq!(
        fixture.find_with("", |r| {
            r.ranking = newest(None);
            r.until = Some(until)
        }),
        ["a2", "a1"]
    );
}

#[test]
fn written_posts_are_taken_in_from_the_outbox_once() {
    let fixture = fixture(&sample());
    assert_eq!(fixture.index.catch_up(&fixture.store, &names).unwrap(), 0, "the rebuild took in the first saves");
    let mut edited = fixture.store.post("a2").unwrap().unwrap();
    edited.content_html = crate::sanitize::html("<p>改写成讲中间件。</p>", None);
    let state = crate::model::FeedState { feed_url: edited.feed_url.clone(), ..Default::default() };
    fixture.store.save_refresh(&edited.member, &[edited.clone()], &state).unwrap();
    assert_eq!(fixture.find("依赖注入"), ["a2"], "not yet taken in");
    assert_eq!(fixture.index.catch_up(&fixture.store, &names).unwrap(), 1);
    assert!(fixture.find("依赖注入").is_empty());
    assert_eq!(fixture.find("中间件").len(), 2);
    assert_eq!(fixture.index.catch_up(&fixture.store, &names).unwrap(), 0);
}

#[test]
fn an_index_of_another_schema_is_emptied_and_rebuilt() {
    let fixture = fixture(&sample());
    let path = path_for_store(&fixture._directory.path().join("store"));
    drop(fixture.index);
    std::fs::write(path.join(VERSION_FILE), "0").unwrap();
    let index = SearchIndex::open(&path, &fixture.store.identity().unwrap()).unwrap();
    assert!(!index.is_ready());
    assert_eq!(index.rebuild(&fixture.store, &names, &|| true).unwrap(), None, "stopped");
    assert!(!index.is_ready());
    assert_eq!(index.rebuild(&fixture.store, &names, &|| false).unwrap(), Some(4));
    assert!(index.is_ready());
    drop(index);
    assert!(SearchIndex::open(&path, &fixture.store.identity().unwrap()).unwrap().is_ready(), "whole, and kept");
    assert!(!SearchIndex::open(&path, "another store").unwrap().is_ready(), "built from another store: rebuilt");
}

#[test]
fn a_store_of_the_previous_schema_is_migrated_and_searchable() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("store");
    crate::store::write_version_1_store(&path, &sample());
    let store = Store::open(&path, 8 << 20).unwrap();
    let index = SearchIndex::open(&path_for_store(&path), &store.identity().unwrap()).unwrap();
    assert_eq!(index.rebuild(&store, &names, &|| false).unwrap(), Some(4));
    let members = ["ann", "bob"].map(|m| MemberId::parse(m).unwrap()).to_vec();
    let fixture = Fixture { _directory: directory, store, index, members };
    assert_eq!(fixture.find("依赖注入"), ["a2"]);
}

#[test]
fn a_long_outbox_is_taken_in_by_a_rebuild_that_clears_what_it_covered() {
    let fixture = fixture(&sample());
    let many: Vec<Post> =
        (0..10_050).map(|i| post("ann", &format!("n{i}"), "批量", "<p>导入</p>", &[], 1 + (i % 28) as u32)).collect();
    fixture.store.save_posts(&MemberId::parse("ann").unwrap(), &many).unwrap();
    assert!(fixture.index.rebuild_beats_catch_up(&fixture.store));
    assert_eq!(fixture.index.rebuild(&fixture.store, &names, &|| false).unwrap(), Some(10_054));
    assert!(!fixture.index.rebuild_beats_catch_up(&fixture.store));
    assert_eq!(fixture.index.catch_up(&fixture.store, &names).unwrap(), 0);
}

#[test]
fn a_post_adds_at_most_its_first_32_kb_of_text_to_the_index() {
    let filler = "填充 ".repeat(super::indexing::MAX_INDEXED_TEXT_BYTES / "填充 ".len() + 10);
    let long = format!("<p>开头的词 opening</p><p>{filler}</p><p>结尾的词 closing</p>");
    let fixture = fixture(&[post("ann", "long", "长文", &long, &[], 1)]);
    assert_eq!(fixture.find("opening"), ["long"], "the opening is indexed");
    assert!(fixture.find("closing").is_empty(), "text past the bound is not");
    let cut = super::indexing::indexed_text(&filler);
    assert!(
        cut.len() <= super::indexing::MAX_INDEXED_TEXT_BYTES && cut.len() > super::indexing::MAX_INDEXED_TEXT_BYTES - 4
    );
}

/// `count` posts with `word` in the body, one a minute, oldest first; the oldest three also
/// have `rare`, and `word` in their title (more relevant, were it not for their age).
fn posts_a_minute_apart(count: usize, word: &str, rare: &str) -> Vec<Post> {
    (0..count)
        .map(|i| {
            let body = if i < 3 { format!("<p>{word} {rare}</p>") } else { format!("<p>{word}</p>") };
            let title = if i < 3 { format!("{word} {i}") } else { format!("Post {i}") };
            let mut post = post(["ann", "bob"][i % 2], &format!("p{i:04}"), &title, &body, &[], 1);
            post.published += chrono::TimeDelta::minutes(i as i64);
            post.first_seen = post.published;
            post
        })
        .collect()
}

#[test]
fn a_common_word_is_searched_in_the_newest_tier_first_and_pages_still_cover_every_post_once() {
    let count = 5 * tiers::FIRST_TIER_POSTS;
    let fixture = fixture(&posts_a_minute_apart(count, "依赖注入", "冷门词"));
    let newest_first: Vec<String> = (0..count).rev().map(|i| format!("p{i:04}")).collect();
    // Newest first, page by page with the cursor: exactly the store's order.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = fixture.find_with("依赖注入", |r| {
            r.ranking = Ranking::Newest { before: before.clone() };
            r.limit = 25;
        });
        let Some(last) = page.last() else { break };
        let last_post = fixture.store.post(last).unwrap().unwrap();
        before = Some((last_post.published.timestamp_millis(), last.clone()));
        seen.extend(page);
    }
    assert_eq!(seen, newest_first);
    // By relevance: every post once over the pages, the newest tier's before any older one.
    let mut ranked = Vec::new();
    for offset in (0..count).step_by(30) {
        ranked.extend(fixture.find_with("依赖注入", |r| {
            r.ranking = Ranking::Relevance { offset };
            r.limit = 30;
        }));
    }
    let mut sorted = ranked.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), count, "each post once");
    let newest_tier: std::collections::HashSet<&String> = newest_first[..tiers::FIRST_TIER_POSTS].iter().collect();
    assert!(ranked[..tiers::FIRST_TIER_POSTS].iter().all(|id| newest_tier.contains(id)), "{ranked:?}");
    // A word only the oldest posts have is found through every tier.
    let rare = fixture.find_with("冷门词", |r| r.limit = 10);
    assert_eq!(rare.len(), 3, "{rare:?}");
}
