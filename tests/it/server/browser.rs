//! The pages in a real browser: Debian's Chromium, headless, at 375 px and 1280 px, driven by
//! scripts/browser_check.cjs. Screenshots land in target/screenshots/; a console error, a
//! resource blocked by the CSP, or a horizontal scrollbar on the phone fails the test.

use std::process::Command;

use super::app::{member, spawn_app};
use crate::helpers::rss;

#[tokio::test]
async fn the_pages_render_in_chromium_on_a_phone_and_a_desktop_without_errors() {
    let long_title = "一个非常非常长的标题，用来检查手机上不会出现横向滚动条：ASP.NET Core 中间件管道与依赖注入的生命周期https://example.cn/a/very/long/url/without/any/spaces/at/all/to/break";
    let document = format!(
        "<rss version=\"2.0\"><channel><title>c</title><item><title>{long_title}</title><guid>long</guid>\
         <link>https://carol.example.cn/long</link><pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate>\
         <description>一段摘要，包含很长的单词 Supercalifragilisticexpialidocious_and_a_very_long_identifier_name_in_csharp_code</description></item></channel></rss>"
    );
    let app =
        spawn_app(vec![member("alice", "Alice", rss("alice", 12)), member("carol", "Carol 张", document)], None).await;
    app.pass().await;
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&out).unwrap();
    let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-tools");
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/browser_check.cjs"))
            .args([address.as_str(), out.to_str().unwrap(), "/", "/members/carol", "/about", "/digest"])
            .env("PLAYWRIGHT_DIR", tools)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs (scripts/test.sh installs playwright-core and chromium)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("browser: no problems"));
}
