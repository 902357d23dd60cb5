//! The corpus's XSS payload lists at scale, end to end: every payload, in each of the four
//! ways HTML reaches planet, served as members' feeds from loopback, fetched by a real pass
//! into the store, and read back out of every endpoint that shows posts (the three feed
//! formats per member, the API page by page, every member's pages, the digest as a page, a
//! feed, JSON and an email). Every output parses, has no control characters, and nothing in
//! it can run.

use chrono::{DateTime, TimeDelta, Utc};
use planet::digest::Week;
use planet::sanitize::escape_text;
use scraper::{Html, Selector};

use super::html::executable_parts;
use super::{corpus, files_under};
use crate::server::app::{member, spawn_app, TestApp, TestMember};

/// Posts per member feed: the test planet's `feed_size`, so a member's feed shows them all.
const PER_FEED: usize = 50;
const KINDS: [&str; 4] = ["rss description", "rss content:encoded", "atom html", "atom xhtml"];

fn payloads() -> Vec<String> {
    let mut payloads = Vec::new();
    for list in files_under(&corpus().join("payloadsallthethings/xss-injection/Intruders")) {
        let bytes = std::fs::read(&list).unwrap();
        payloads.extend(String::from_utf8_lossy(&bytes).lines().filter(|l| !l.trim().is_empty()).map(String::from));
    }
    payloads
}

fn item(kind: usize, payload: &str, guid: &str, date: DateTime<Utc>) -> String {
    let escaped = escape_text(payload);
    let (rfc2822, rfc3339) = (date.to_rfc2822(), date.to_rfc3339());
    match kind {
        0 => format!("<item><title>{escaped}</title><author>{escaped}</author><guid>{guid}</guid><pubDate>{rfc2822}</pubDate><description>{escaped}</description></item>"),
        1 => {
            let cdata = payload.replace("]]>", "]]]]><![CDATA[>");
            format!("<item><title>{guid}</title><guid>{guid}</guid><pubDate>{rfc2822}</pubDate><content:encoded><![CDATA[{cdata}]]></content:encoded></item>")
        }
        2 => format!("<entry><id>{guid}</id><title type=\"html\">{escaped}</title><author><name>{escaped}</name></author><updated>{rfc3339}</updated><content type=\"html\">{escaped}</content></entry>"),
        _ => format!("<entry><id>{guid}</id><title>{guid}</title><updated>{rfc3339}</updated><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{payload}</div></content></entry>"),
    }
}

fn document(kind: usize, items: &str) -> String {
    if kind < 2 {
        format!("<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>t</title>{items}</channel></rss>")
    } else {
        format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>{items}</feed>")
    }
}

/// Whether `xml` is one well-formed element. An xhtml payload that is not XML itself makes
/// planet's repair cut or rebalance the feed around it, so later entries in the same feed
/// may be lost and the counts below could not be exact; the per-document test in
/// payloads.rs covers those payloads one by one.
fn well_formed(xml: &str) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0i64;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Eof) => return depth == 0,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

/// Members whose feeds carry every payload of each kind, dated in the last complete week;
/// for the xhtml kind, every payload that is well-formed XML.
fn hostile_members(payloads: &[String], start: DateTime<Utc>) -> (Vec<TestMember>, usize) {
    let (mut members, mut posts) = (Vec::new(), 0);
    for (kind, _) in KINDS.iter().enumerate() {
        let accepted: Vec<&String> =
            payloads.iter().filter(|p| kind < 3 || well_formed(&format!("<div>{p}</div>"))).collect();
        for (chunk_number, chunk) in accepted.chunks(PER_FEED).enumerate() {
            let id: &'static str = Box::leak(format!("k{kind}c{chunk_number}").into_boxed_str());
            let items: String = chunk
                .iter()
                .enumerate()
                .map(|(i, p)| item(kind, p, &format!("{id}-{i}"), start + TimeDelta::minutes((posts + i) as i64)))
                .collect();
            posts += chunk.len();
            members.push(member(id, &format!("成员 {id}"), document(kind, &items)));
        }
    }
    (members, posts)
}

/// What in an output is wrong: control characters (never allowed in XML, and a sign of
/// unfiltered input anywhere), or executable parts of an HTML fragment.
fn control_characters(where_: &str, text: &str) -> Vec<String> {
    match text.chars().find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        Some(c) => vec![format!("{where_}: control character U+{:04X}", c as u32)],
        None => Vec::new(),
    }
}

fn fragment_problems(where_: &str, fragment: &str) -> Vec<String> {
    executable_parts(fragment).into_iter().map(|p| format!("{where_}: {p}")).collect()
}

/// A page's `<body>` (its head holds the site's own `<meta>` and `<link>` elements).
fn page_problems(where_: &str, page: &str) -> Vec<String> {
    let document = Html::parse_document(page);
    let mut problems = control_characters(where_, page);
    // The site's own search form is in every header; any other form is a problem.
    for form in document.select(&Selector::parse("form").unwrap()) {
        let action = form.value().attr("action").unwrap_or_default();
        if !action.ends_with("/search") {
            problems.push(format!("{where_}: a <form> posting to {action:?}"));
        }
    }
    for part in document.select(&Selector::parse("main, aside, header > a, title").unwrap()) {
        problems.extend(fragment_problems(where_, &part.inner_html()));
    }
    problems
}

fn atom_problems(where_: &str, body: &str) -> (usize, Vec<String>) {
    let mut problems = control_characters(where_, body);
    let feed = match feed_rs::parser::parse(body.as_bytes()) {
        Ok(feed) => feed,
        Err(error) => return (0, vec![format!("{where_}: does not parse: {error}")]),
    };
    for entry in &feed.entries {
        // Titles and summaries are text, which every reader escapes; only content is HTML.
        for text in [&entry.title, &entry.summary].into_iter().flatten() {
            if text.content_type.essence().to_string() != "text/plain" {
                problems.push(format!("{where_}: a title or summary of type {}", text.content_type));
            }
        }
        let html = entry.content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
        problems.extend(fragment_problems(where_, &html));
    }
    (feed.entries.len(), problems)
}

fn rss_problems(where_: &str, body: &str) -> (usize, Vec<String>) {
    let mut problems = control_characters(where_, body);
    let channel = match rss::Channel::read_from(body.as_bytes()) {
        Ok(channel) => channel,
        Err(error) => return (0, vec![format!("{where_}: does not parse: {error}")]),
    };
    for item in channel.items() {
        // RSS readers differ on whether a title is HTML: it must be harmless either way.
        let creators = item.dublin_core_ext().map(|dc| dc.creators().join(" ")).unwrap_or_default();
        for html in [item.title(), item.description(), item.content(), item.author(), Some(creators.as_str())] {
            problems.extend(fragment_problems(where_, html.unwrap_or_default()));
        }
    }
    (channel.items().len(), problems)
}

fn json_posts_problems(where_: &str, posts: &[serde_json::Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for post in posts {
        problems.extend(fragment_problems(where_, post["content_html"].as_str().unwrap_or_default()));
        problems.extend(control_characters(where_, &post.to_string()));
    }
    problems
}

/// Every page of a member's posts, following the "older" link.
async fn member_pages(app: &TestApp, id: &str) -> Vec<String> {
    let (mut pages, mut path) = (Vec::new(), Some(format!("/members/{id}")));
    while let Some(next) = path.take() {
        let (status, page) = app.text(&next).await;
        assert_eq!(status, 200, "{next}");
        let older = Html::parse_document(&page)
            .select(&Selector::parse("p.pager a").unwrap())
            .next()
            .and_then(|a| a.value().attr("href").map(String::from));
        path = older.map(|href| href.trim_start_matches(app.address.as_str()).to_string());
        pages.push(page);
    }
    pages
}

/// What was read back, and everything wrong found in it.
#[derive(Default)]
struct Readback {
    atom_entries: usize,
    rss_items: usize,
    json_items: usize,
    member_pages: usize,
    api_posts: usize,
    problems: Vec<String>,
}

impl Readback {
    /// Each member's feed in the three formats, and every page of the member's posts.
    async fn members(&mut self, app: &TestApp, ids: &[&str]) {
        for id in ids {
            let (_, atom) = app.feed_atom(&format!("?member={id}")).await;
            let (count, found) = atom_problems(&format!("/feed.atom?member={id}"), &atom);
            self.atom_entries += count;
            self.problems.extend(found);
            let (_, rss) = app.feed_rss(&format!("?member={id}")).await;
            let (count, found) = rss_problems(&format!("/feed.rss?member={id}"), &rss);
            self.rss_items += count;
            self.problems.extend(found);
            let (_, json) = app.feed_json(&format!("?member={id}")).await;
            let items = json["items"].as_array().cloned().unwrap_or_default();
            self.json_items += items.len();
            self.problems.extend(json_posts_problems(&format!("/feed.json?member={id}"), &items));
            for page in member_pages(app, id).await {
                self.member_pages += 1;
                self.problems.extend(page_problems(&format!("/members/{id}"), &page));
            }
        }
    }

    /// Every post through the API, page by page, and the home page.
    async fn api_and_home(&mut self, app: &TestApp) {
        let mut cursor = String::new();
        loop {
            let (status, page) = app.posts(&format!("?limit=100{cursor}")).await;
            assert_eq!(status, 200);
            let posts = page["posts"].as_array().cloned().unwrap_or_default();
            self.api_posts += posts.len();
            self.problems.extend(json_posts_problems("/api/v1/posts", &posts));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => break,
            }
        }
        let (_, index) = app.index("").await;
        self.problems.extend(page_problems("/", &index));
    }

    /// The week's digest as a page, JSON, a feed and both parts of the email; its post count.
    async fn digest(&mut self, app: &TestApp, week: Week) -> usize {
        let (status, page) = app.digest_page(&week.to_string()).await;
        assert_eq!(status, 200);
        self.problems.extend(page_problems("/digest/{week}", &page));
        let (status, json) = app.digest_json(&week.to_string()).await;
        assert_eq!(status, 200);
        self.problems.extend(control_characters("/api/v1/digests/{week}", &json.to_string()));
        let (_, feed) = app.text("/digest.atom").await;
        self.problems.extend(atom_problems("/digest.atom", &feed).1);
        let config = app.service.config();
        let digest = planet::digest::load::compose_week(&config, &app.service.store, week).unwrap();
        let (html, text) = (
            planet::render::digest::email_html(&config.site, &digest, None),
            planet::render::digest::email_text(&config.site, &digest, None),
        );
        self.problems.extend(page_problems("digest email", &html));
        self.problems.extend(control_characters("digest text email", &text));
        digest.post_count
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_xss_payload_fetched_into_the_store_comes_out_of_every_endpoint_harmless() {
    let payloads = payloads();
    assert!(payloads.len() > 2000, "the payload lists look incomplete");
    let week = Week::last_complete(Utc::now(), chrono_tz::Asia::Shanghai);
    let (members, expected) = hostile_members(&payloads, week.start(chrono_tz::Asia::Shanghai));
    let ids: Vec<&'static str> = members.iter().map(|m| m.id).collect();
    let app = spawn_app(members, None).await;
    let report = app.pass().await;
    let failed: Vec<String> = report
        .feeds
        .iter()
        .filter(|f| f.outcome != planet::refresh::Outcome::Refreshed)
        .map(|f| format!("{} {:?}", f.member, f.outcome))
        .collect();
    assert!(failed.is_empty(), "every hostile feed is fetched: {failed:?}");
    assert_eq!(report.totals().new, expected);
    // Payloads that differ only in punctuation are one article to the grouping of copies
    // (same title, same text): each copy is listed through its canonical post's `also_on`.
    let stored: Vec<planet::model::Post> = app.service.store.all_posts().map(Result::unwrap).collect();
    let listed = stored.iter().filter(|p| p.duplicate_of.is_none()).count();
    let linked: std::collections::HashSet<&str> =
        stored.iter().flat_map(|p| p.also_on.iter().map(|copy| copy.id.as_str())).collect();
    assert!(
        stored.iter().filter(|p| p.duplicate_of.is_some()).all(|copy| linked.contains(copy.id.as_str())),
        "no copy is lost: each is in its canonical post's also_on"
    );

    let mut read = Readback::default();
    read.members(&app, &ids).await;
    read.api_and_home(&app).await;
    let in_digest = read.digest(&app, week).await;
    println!(
        "hostile feeds at scale: {} payloads, {expected} posts in {} feeds; read back as {} Atom entries, {} RSS items, \
         {} JSON Feed items, {} API posts, {} member pages and the digest ({in_digest} posts): {} problems",
        payloads.len(),
        ids.len(),
        read.atom_entries,
        read.rss_items,
        read.json_items,
        read.api_posts,
        read.member_pages,
        read.problems.len()
    );
    assert_eq!(
        [read.atom_entries, read.rss_items, read.json_items, read.api_posts, in_digest],
        [listed; 5],
        "every listed post comes out of every endpoint"
    );
    assert!(read.problems.is_empty(), "{:#?}", &read.problems[..read.problems.len().min(20)]);
}
