//! planet's outputs as real clients read them: Python's feedparser, jing with the RFC 4287
//! RELAX NG schema, a JSON Feed 1.1 JSON Schema and the OpenAPI document, all run by
//! scripts/validate_outputs.py against the live server (the README's test command installs
//! them).

use std::process::Command;

use super::app::{member, spawn_app};
use crate::helpers::rss;

/// Runs scripts/validate_outputs.py against the app; fails with its report.
async fn validate_outputs(app: &super::app::TestApp) {
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/validate_outputs.py"))
            .arg(address)
            .output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("all outputs valid"));
}

#[tokio::test]
async fn feeds_and_api_with_also_on_links_and_reposts_stay_valid() {
    let fixture = |name: &str| {
        std::fs::read_to_string(format!("{}/tests/data/dedupe/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let wang = super::app::member_with_feeds(
        "wang",
        "王工",
        ["cnblogs.atom", "csdn.rss", "juejin.rss", "hexo.atom"].into_iter().map(fixture).collect(),
    );
    let app = spawn_app(vec![wang, member("li", "李四", fixture("repost.rss"))], None).await;
    app.pass().await;
    let (_, atom) = app.feed_atom("").await;
    assert!(atom.contains("rel=\"related\""), "the fixture gives the feeds also_on links");
    validate_outputs(&app).await;
}

#[tokio::test]
async fn real_clients_accept_every_feed_and_the_api_matches_its_openapi_document() {
    let hostile = "<rss version=\"2.0\"><channel><title>t</title><item><title>&amp;lt;b&amp;gt;List&amp;lt;T&amp;gt; 与泛型</title>\
        <link>https://evil.example.cn/1?a=1&amp;b=2</link><guid>x1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 +0800</pubDate>\
        <description>&lt;p&gt;正文 &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=/a.png&gt;&lt;/p&gt;</description></item></channel></rss>";
    let app = spawn_app(
        vec![member("alice", "Alice", rss("alice", 4)), member("evil", "<b>Evil</b> & \"Co\"", hostile.to_string())],
        None,
    )
    .await;
    app.pass().await;
    assert_eq!(app.feed_rss("").await.0, 200);
    assert_eq!(app.openapi().await.0, 200);
    validate_outputs(&app).await;
}
