//! The same article on four platforms, a repost, and near-misses (tests/data/dedupe), parsed
//! as the fetcher parses them.

use std::collections::HashSet;

use chrono::Utc;

use super::*;
use crate::config::{FutureDates, Member, MemberId};
use crate::parse;

const FEEDS: &[(&str, &str)] = &[
    ("https://www.cnblogs.com/wang/atom", include_str!("../../tests/data/dedupe/cnblogs.atom")),
    ("https://blog.csdn.net/wang/rss", include_str!("../../tests/data/dedupe/csdn.rss")),
    ("https://juejin.cn/rss/wang", include_str!("../../tests/data/dedupe/juejin.rss")),
    ("https://wang.example.dev/atom.xml", include_str!("../../tests/data/dedupe/hexo.atom")),
];

fn parse_feed(member: &str, feed_url: &str, document: &str) -> Vec<Post> {
    let member = Member::anonymous(MemberId::parse(member).unwrap());
    let context = parse::Context {
        member: &member,
        feed_url,
        base: None,
        timezone: chrono_tz::Asia::Shanghai,
        future_dates: FutureDates::Keep,
        now: Utc::now(),
    };
    parse::feed(document.as_bytes(), None, &context).unwrap().posts
}

fn wang_posts() -> Vec<Post> {
    FEEDS.iter().flat_map(|(url, document)| parse_feed("wang", url, document)).collect()
}

fn by_title<'a>(posts: &'a [Post], start: &str, feed: &str) -> &'a Post {
    posts.iter().find(|p| p.title.starts_with(start) && p.feed_url.contains(feed)).unwrap()
}

fn score(a: &Post, b: &Post) -> f64 {
    containment(&fingerprint(a), &fingerprint(b)).unwrap()
}

#[test]
fn copies_score_above_the_bar_and_near_misses_below_it() {
    let posts = wang_posts();
    let cnblogs = by_title(&posts, "ASP.NET Core 依赖注入", "cnblogs");
    let copies = [
        by_title(&posts, "【原创】", "csdn"),
        by_title(&posts, "ASP.NET Core：", "juejin"),
        by_title(&posts, "深入理解依赖注入", "example.dev"),
    ];
    for copy in copies {
        let shared = score(cnblogs, copy);
        println!("copy {}: {shared:.2}", copy.title);
        assert!(shared >= 0.95, "{}: {shared:.2}", copy.title);
    }
    let part_one = by_title(&posts, "EF Core 性能优化实战（第1篇）", "cnblogs");
    let part_two = by_title(&posts, "EF Core 性能优化实战（第2篇）", "cnblogs");
    let summary_of_two = by_title(&posts, "EF Core 性能优化实战（第2篇）", "csdn");
    let books = by_title(&posts, "我的 2026", "example.dev");
    for (a, b) in [(part_one, part_two), (summary_of_two, part_one), (cnblogs, part_one), (books, cnblogs)] {
        let shared = score(a, b);
        println!("near miss {} / {}: {shared:.2}", a.title, b.title);
        assert!(shared <= 0.6, "{} / {}: {shared:.2}", a.title, b.title);
    }
}

#[test]
fn one_members_copies_become_one_entry_with_the_first_listed_feed_canonical() {
    let posts = wang_posts();
    let changed: HashSet<String> = posts.iter().map(|p| p.id.clone()).collect();
    let rank = |feed: &str| FEEDS.iter().position(|(url, _)| *url == feed).unwrap_or(FEEDS.len());
    let decisions = group(&posts, &changed, &rank);
    let cnblogs = by_title(&posts, "ASP.NET Core 依赖注入", "cnblogs");
    let canonical = &decisions[&cnblogs.id];
    assert_eq!(canonical.duplicate_of, None);
    let platforms: Vec<&str> = canonical.also_on.iter().map(|a| a.platform.as_str()).collect();
    assert_eq!(platforms, ["CSDN", "掘金", "wang.example.dev"], "in the member's feed order");
    for copy in &canonical.also_on {
        assert_eq!(decisions[&copy.id].duplicate_of.as_deref(), Some(cnblogs.id.as_str()));
    }
    // The series stays two entries; CSDN's summary of part 2 joins part 2, not part 1.
    let part_one = by_title(&posts, "EF Core 性能优化实战（第1篇）", "cnblogs");
    let part_two = by_title(&posts, "EF Core 性能优化实战（第2篇）", "cnblogs");
    let csdn_two = by_title(&posts, "EF Core 性能优化实战（第2篇）", "csdn");
    assert!(decisions[&part_one.id].also_on.is_empty() && decisions[&part_one.id].duplicate_of.is_none());
    assert_eq!(decisions[&csdn_two.id].duplicate_of.as_deref(), Some(part_two.id.as_str()));
    let books = by_title(&posts, "我的 2026", "example.dev");
    assert!(decisions[&books.id].duplicate_of.is_none() && decisions[&books.id].also_on.is_empty());
}

#[test]
fn without_a_listed_feed_the_earliest_copy_is_canonical() {
    let posts = wang_posts();
    let changed: HashSet<String> = posts.iter().map(|p| p.id.clone()).collect();
    let decisions = group(&posts, &changed, &|_| 0);
    let hexo = by_title(&posts, "深入理解依赖注入", "example.dev");
    assert_eq!(decisions[&hexo.id].duplicate_of, None, "published first, on 1 November");
    assert_eq!(decisions[&hexo.id].also_on.len(), 3);
}

#[test]
fn stored_links_hold_until_one_side_changes() {
    let mut posts = wang_posts();
    let changed: HashSet<String> = posts.iter().map(|p| p.id.clone()).collect();
    let rank = |feed: &str| FEEDS.iter().position(|(url, _)| *url == feed).unwrap_or(FEEDS.len());
    for (id, decision) in group(&posts, &changed, &rank) {
        let post = posts.iter_mut().find(|p| p.id == id).unwrap();
        post.duplicate_of = decision.duplicate_of;
    }
    let again = group(&posts, &HashSet::new(), &rank);
    let cnblogs = by_title(&posts, "ASP.NET Core 依赖注入", "cnblogs");
    assert_eq!(again[&cnblogs.id].also_on.len(), 3, "nothing compared, the stored links kept");
}

#[test]
fn another_members_repost_is_flagged_not_merged() {
    let posts = wang_posts();
    let repost = parse_feed("li", "https://li.example.cn/rss", include_str!("../../tests/data/dedupe/repost.rss"));
    let cnblogs = by_title(&posts, "ASP.NET Core 依赖注入", "cnblogs");
    let flagged = also_by(&repost[0], std::slice::from_ref(cnblogs));
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].member.as_str(), "wang");
    assert!(also_by(&repost[1], &posts).is_empty(), "another article of li's is nobody's copy");
}

#[test]
fn titles_fold_case_width_punctuation_and_a_leading_tag() {
    assert_eq!(title_key("【原创】ASP.NET Core：依赖注入！"), title_key("asp.net core 依赖注入"));
    assert_eq!(title_key("[转载] Ｂｌａｚｏｒ 入门"), title_key("Blazor入门"));
    assert_ne!(title_key("EF Core（第1篇）"), title_key("EF Core（第2篇）"));
    assert_eq!(title_numbers("EF Core 性能优化（第１篇）"), ["1"]);
}

#[test]
fn platforms_are_named_from_the_host() {
    assert_eq!(platform_of(Some("https://www.cnblogs.com/wang/p/1.html")), "博客园");
    assert_eq!(platform_of(Some("https://blog.csdn.net/wang/article/details/1")), "CSDN");
    assert_eq!(platform_of(Some("https://juejin.cn/post/1")), "掘金");
    assert_eq!(platform_of(Some("https://www.example.dev/a")), "example.dev");
    assert_eq!(platform_of(Some("https://notcsdn.net/a")), "notcsdn.net");
    assert_eq!(platform_of(None), "");
}

#[test]
fn a_weekly_column_under_one_title_is_not_one_article() {
    let posts = wang_posts();
    let first = by_title(&posts, "我的 2026", "example.dev").clone();
    let mut next_week = first.clone();
    next_week.id = "next-week".into();
    // The column's template (its opening) again, then this week's own text.
    let template: String = crate::sanitize::text_of(&first.content_html).chars().take(40).collect();
    let this_week = "这一周读完了《代码整洁之道》和《程序员修炼之道》，两本书都强调了小步前进、持续重构的重要性，也让我重新审视了团队的代码评审流程。";
    next_week.content_html = crate::sanitize::html(&format!("<p>{template}</p><p>{this_week}</p>"), None);
    next_week.published = first.published + chrono::TimeDelta::days(7);
    let (a, b) = (fingerprint(&first), fingerprint(&next_week));
    assert!(!same_article((&first, &a), (&next_week, &b)), "seven days apart");
    next_week.published = first.published + chrono::TimeDelta::days(2);
    assert!(same_article((&first, &a), (&next_week, &b)), "two days apart under one title: a copy");
}

#[test]
fn text_already_in_nfkc_is_used_as_it_is_and_other_text_is_normalized() {
    let mut texts: Vec<String> = wang_posts().iter().map(|post| crate::sanitize::text_of(&post.content_html)).collect();
    texts.extend(
        ["ＡＳＰ．ＮＥＴ Ｃｏｒｅ ①②", "ﬁle ㎏ ｶﾀｶﾅ", "e\u{301} and é", "依赖注入 plain ASCII"].map(String::from),
    );
    for text in &texts {
        let expected: String = text.nfkc().collect();
        assert_eq!(nfkc(text).collect::<String>(), expected, "{text}");
    }
}

#[test]
fn a_body_in_full_width_letters_is_the_same_article_as_its_ascii_copy() {
    let ascii = "Dependency injection in ASP.NET Core registers services with a lifetime: singleton, scoped or transient, and resolves them per request.";
    let full_width: String = ascii
        .chars()
        .map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c })
        .collect();
    let shared = containment(&fingerprint_of_text(ascii), &fingerprint_of_text(&full_width));
    assert_eq!(shared, Some(1.0));
}

fn fingerprint_of_text(text: &str) -> Fingerprint {
    Fingerprint { title: String::new(), numbers: Vec::new(), shingles: shingles(text) }
}
