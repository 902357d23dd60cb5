//! What subscribers see, read by readers no one here wrote: Python's feedparser, newsboat and
//! rss2email (mailing through a real SMTP server on loopback), driven by scripts/readers.py
//! against the live server. The README's test command installs all three.

use std::process::Command;

use serde_json::Value;

use super::app::{member, TestApp};

/// Runs `scripts/readers.py READER BASE ARGS...` and returns what it printed.
pub async fn read_with(reader: &str, app: &TestApp, args: &[&str]) -> Value {
    let mut command = Command::new("python3");
    command.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/readers.py")).arg(reader).arg(&app.address).args(args);
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("python3 runs");
    assert!(output.status.success(), "{reader}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{reader} printed no JSON ({e})"))
}

/// feedparser's reading of one output, which must be well-formed.
pub async fn feedparser(app: &TestApp, path: &str) -> Value {
    let read = read_with("feedparser", app, &[path]).await;
    assert_eq!(read["bozo"], false, "{path}: {}", read["bozo_exception"]);
    read
}

/// Every string in a reader's output.
pub fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(fields) => fields.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The text double-encoded: its UTF-8 bytes read one by one as Latin-1 and encoded again,
/// so that bytes 0x80-0x9F become C1 controls.
fn encoded_twice(text: &str) -> String {
    text.bytes().map(char::from).collect()
}

/// Characters that only mojibake puts in these Chinese and ASCII fixtures: C1 controls,
/// Latin-1 letters and the Windows-1252 signs the mangling makes of them (the fixture has
/// real curly quotes and dashes, and planet's titles a middle dot).
fn mojibake_in(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| (('\u{80}'..='\u{ff}').contains(c) && *c != '·') || "ƒ€Ž‚„†‡ˆ‰Š‹Œ•˜™š›œžŸ".contains(*c))
        .collect()
}

#[tokio::test]
async fn a_double_encoded_feed_reaches_every_reader_repaired() {
    let original =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dedupe/cnblogs.atom")).unwrap();
    let app = super::app::spawn_app(vec![member("wang", "王工", encoded_twice(&original))], None).await;
    app.pass().await;
    let expected = ["依赖注入是 ASP.NET Core 的基石", "这个系列记录我们在生产环境里优化 EF Core 查询性能的过程"];
    let mut outputs = Vec::new();
    for path in ["/feed.atom", "/feed.rss", "/feed.atom?member=wang"] {
        let read = feedparser(&app, path).await;
        let summaries = strings(&read["entries"]).join("\n");
        for text in expected {
            assert!(summaries.contains(text), "{path}: {text} not in {summaries}");
        }
        outputs.push((path.to_string(), strings(&read)));
    }
    for path in ["/feed.json", "/api/v1/posts"] {
        outputs.push((path.to_string(), strings(&app.json(path).await.1)));
    }
    let newsboat = read_with("newsboat", &app, &["/feed.atom", "/feed.rss"]).await;
    // newsboat keeps one item per guid, and both outputs give an entry the same id.
    let items = strings(&newsboat["items"]).join("\n");
    assert!(expected.iter().all(|text| items.contains(text)), "{newsboat}");
    outputs.push(("newsboat".into(), strings(&newsboat["items"])));
    let mails = read_with("rss2email", &app, &["/feed.rss"]).await;
    assert_eq!(mails["mails"].as_array().unwrap().len(), 3, "{mails}");
    let bodies = strings(&mails["mails"]).join("\n");
    assert!(bodies.contains("框架从启动的第一行代码开始就通过容器创建对象"), "{bodies}");
    outputs.push(("rss2email".into(), strings(&mails["mails"])));
    for (output, texts) in outputs {
        for text in texts {
            assert!(mojibake_in(&text).is_empty(), "{output}: {:?} in {text}", mojibake_in(&text));
        }
    }
}

#[tokio::test]
async fn rss_plain_text_reads_as_written_in_feedparser_newsboat_and_rss2email() {
    let written = "用 Span<T> 写出零分配的解析器 & 比较 a<b";
    let atom = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>urn:t</id><updated>2026-11-20T10:00:00Z</updated>\
         <entry><id>urn:1</id><title type=\"text\">{}</title><updated>2026-11-20T10:00:00Z</updated>\
         <link href=\"https://alice.example.cn/1\"/><author><name>A&amp;B &lt;dev&gt;</name></author>\
         <category term=\"C# &amp; .NET\"/><category term=\"List&lt;T&gt;\"/><content type=\"html\">&lt;p&gt;正文&lt;/p&gt;</content></entry></feed>",
        written.replace('&', "&amp;").replace('<', "&lt;")
    );
    let app = super::app::spawn_app(vec![member("alice", "A & B's <blog>", atom)], None).await;
    app.pass().await;
    let (_, raw) = app.feed_rss("").await;
    assert!(raw.contains("Span&#x3C;T&#x3E;") && !raw.contains("&amp;lt;"), "{raw}");
    let read = feedparser(&app, "/feed.rss").await;
    let entry = &read["entries"][0];
    assert_eq!(entry["title"], written);
    assert_eq!(entry["title_type"], "text/plain");
    assert_eq!(entry["tags"], serde_json::json!(["C# & .NET", "List<T>"]));
    assert_eq!(entry["author"], "A & B's <blog>");
    let newsboat = read_with("newsboat", &app, &["/feed.rss"]).await;
    let items: Vec<&Value> =
        newsboat["items"].as_object().unwrap().values().flat_map(|v| v.as_array().unwrap()).collect();
    assert_eq!(items.len(), 1, "{newsboat}");
    assert_eq!(items[0]["title"], written);
    let mails = read_with("rss2email", &app, &["/feed.rss"]).await;
    assert_eq!(mails["mails"][0]["subject"], written, "{mails}");
}

/// A date as readers show it: to the second (RFC 3339 in Atom, RFC 822 in RSS).
fn second_of(date: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(date)
        .or_else(|_| chrono::DateTime::parse_from_rfc2822(date))
        .unwrap_or_else(|e| panic!("{date}: {e}"))
        .timestamp()
}

#[tokio::test]
async fn undated_posts_of_many_members_never_share_a_second_but_the_sources_own_ties_stay() {
    let undated = |id: &str| {
        let items: String = (0..3)
            .map(|i| format!("<item><title>{id} 无日期 {i}</title><guid>{id}-{i}</guid><link>https://{id}.example.cn/{i}</link></item>"))
            .collect();
        format!("<rss version=\"2.0\"><channel><title>{id}</title>{items}</channel></rss>")
    };
    let ids = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"];
    let mut members: Vec<_> = ids.iter().map(|id| member(id, id, undated(id))).collect();
    let tied: String = (0..3)
        .map(|i| format!("<item><title>同一时刻 {i}</title><guid>t-{i}</guid><link>https://tied.example.cn/{i}</link><pubDate>Mon, 30 Nov 2026 08:00:00 +0800</pubDate></item>"))
        .collect();
    members.push(member(
        "tied",
        "tied",
        format!("<rss version=\"2.0\"><channel><title>t</title>{tied}</channel></rss>"),
    ));
    let app = super::app::spawn_app(members, None).await;
    app.pass().await;
    for (path, field) in [("/feed.atom", "updated"), ("/feed.rss", "published")] {
        let read = feedparser(&app, path).await;
        let entries = read["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 27, "{path}");
        let seconds = |source: bool| -> Vec<i64> {
            entries
                .iter()
                .filter(|e| e["title"].as_str().unwrap().starts_with("同一时刻") == source)
                .map(|e| second_of(e[field].as_str().unwrap()))
                .collect()
        };
        let mut undated_seconds = seconds(false);
        undated_seconds.sort();
        undated_seconds.dedup();
        assert_eq!(undated_seconds.len(), 24, "{path}: 24 undated entries, each its own second");
        let tied_seconds = seconds(true);
        assert!(tied_seconds.windows(2).all(|pair| pair[0] == pair[1]), "{path}: the source's tie stays");
    }
    let (_, json) = app.feed_json("").await;
    let mut seconds: Vec<i64> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| second_of(item["date_published"].as_str().unwrap()))
        .collect();
    seconds.sort();
    seconds.dedup();
    assert_eq!(seconds.len(), 24 + 1, "JSON Feed: 24 undated seconds and the source's one");
}

#[tokio::test]
async fn a_video_post_reaches_readers_with_its_media_rss_description_and_thumbnail() {
    let youtube = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/corpus/feed-rs/feed-rs/fixture/atom/atom_mediarss_youtube_1.xml"
    ))
    .unwrap();
    let app = super::app::spawn_app(vec![member("video", "视频", youtube)], None).await;
    app.pass().await;
    let thumbnail = "https://i1.ytimg.com/vi/0A1ouV7iD8o/hqdefault.jpg";
    for path in ["/feed.atom", "/feed.rss"] {
        let entry = &feedparser(&app, path).await["entries"][0];
        let summary = entry["summary"].as_str().unwrap_or_default();
        assert!(summary.contains("Check Out Weathered on PBS Terra"), "{path}: {entry}");
        let bodies = strings(&entry["content"]).join("") + summary;
        assert!(bodies.contains(thumbnail), "{path}: {entry}");
    }
    let (_, json) = app.feed_json("").await;
    let item = &json["items"][0];
    assert!(item["content_html"].as_str().unwrap().contains(thumbnail), "{item}");
    assert!(item["summary"].as_str().unwrap().starts_with("Check Out Weathered"), "{item}");
    let mails = read_with("rss2email", &app, &["/feed.atom"]).await;
    assert!(strings(&mails).join("").contains("Check Out Weathered on PBS Terra"), "{mails}");
}

#[tokio::test]
async fn lazy_loaded_images_from_five_platforms_reach_readers_with_their_real_src() {
    let platforms =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/lazy/platforms.rss")).unwrap();
    let app = super::app::spawn_app(vec![member("lazy", "懒加载", platforms)], None).await;
    app.pass().await;
    let expected = [
        // Relative URLs resolve against the feed's own URL, as every `src` does.
        ("hexo", vec![app.fixtures.url("/2026/11/hexo/pipeline.png")]),
        ("hugo", vec![app.fixtures.url("/cover.webp")]),
        ("csdn", vec!["https://img-blog.csdnimg.cn/direct/5f3c2e1a9b.png".to_string()]),
        ("wechat", vec!["https://mmbiz.qpic.cn/mmbiz_png/AbC/640?wx_fmt=png&from=appmsg".to_string()]),
        ("zhihu", vec!["https://pic1.zhimg.com/v2-4a1b_r.jpg".to_string()]),
    ];
    let image_sources = |html: &str| -> Vec<String> {
        let fragment = scraper::Html::parse_fragment(html);
        let images = scraper::Selector::parse("img").unwrap();
        fragment.select(&images).map(|img| img.value().attr("src").unwrap_or("(none)").to_string()).collect()
    };
    for path in ["/feed.atom", "/feed.rss"] {
        let read = feedparser(&app, path).await;
        for (platform, sources) in &expected {
            let entry = read["entries"].as_array().unwrap().iter().find(|e| {
                e["link"].as_str().unwrap().contains(match *platform {
                    "hexo" => "/hexo/",
                    "hugo" => "/hugo/",
                    "csdn" => "csdn.net",
                    "wechat" => "weixin",
                    _ => "zhihu",
                })
            });
            let entry = entry.unwrap_or_else(|| panic!("{path}: no {platform} entry"));
            let html = entry["content"][0].as_str().or(entry["summary"].as_str()).unwrap();
            assert_eq!(&image_sources(html), sources, "{path} {platform}: {html}");
            assert!(!html.contains("data-src") && !html.contains("data-original"), "{path} {platform}: {html}");
        }
    }
    let mails = read_with("rss2email", &app, &["/feed.rss"]).await;
    let bodies = strings(&mails).join("\n");
    assert!(bodies.contains("https://pic1.zhimg.com/v2-4a1b_r.jpg"), "{bodies}");
}

#[tokio::test]
async fn newsboat_imports_the_opml_and_reads_every_member_feed_in_it() {
    let members = ["alice", "bob", "carol"].map(|id| member(id, id, crate::helpers::rss(id, 3)));
    let app = super::app::spawn_app(members.into(), None).await;
    app.pass().await;
    let read = read_with("newsboat", &app, &["--opml"]).await;
    let mut subscribed: Vec<&str> =
        read["subscribed"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    subscribed.sort();
    let expected: Vec<String> =
        ["alice", "bob", "carol"].iter().map(|id| app.fixtures.url(&format!("/{id}.xml"))).collect();
    assert_eq!(subscribed, expected, "{read}");
    for url in &expected {
        assert_eq!(read["items"][url].as_array().map(Vec::len), Some(3), "{url}: {read}");
    }
}
