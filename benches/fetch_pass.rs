//! A fetch pass over 1,000 feeds (about 30 KB and 20 posts each) served from loopback by a
//! child process: wall time, CPU time and peak memory, cold (every feed new) and warm (every
//! feed answers 304). `cargo bench --bench fetch_pass [-- --feeds N]`.

#[path = "support.rs"]
mod support;

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Instant;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use planet::refresh::{self, Outcome, PassOptions};

fn feed(index: usize) -> String {
    let body = "<p>长沙.NET技术社区的文章正文，包含代码示例与说明。ASP.NET Core 中间件、依赖注入和配置系统的实践。</p>"
        .repeat(8);
    let items: String = (0..20)
        .map(|i| {
            format!(
                "<item><title>Member {index} post {i} · 依赖注入</title><link>https://m{index}.example.cn/posts/{i}.html</link><guid>m{index}-{i}</guid>\
                 <pubDate>Mon, {:02} Nov 2026 08:00:00 +0800</pubDate><category>dotnet</category><description><![CDATA[{body}]]></description></item>",
                1 + i % 25
            )
        })
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Member {index}</title><link>https://m{index}.example.cn/</link>{items}</channel></rss>")
}

/// The child: serves /N.xml with ETags until its standard input closes.
async fn serve_fixtures() {
    let app = axum::Router::new().route(
        "/{name}",
        axum::routing::get(|Path(name): Path<String>, headers: HeaderMap| async move {
            let index: usize = name.trim_end_matches(".xml").parse().unwrap_or(0);
            let etag = format!("\"{index}\"");
            if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
                return (StatusCode::NOT_MODIFIED, [("etag", etag)], String::new()).into_response();
            }
            (StatusCode::OK, [("etag", etag), ("content-type", "application/rss+xml".to_string())], feed(index))
                .into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("listening {}", listener.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
    })
    .await
    .unwrap();
}

fn main() {
    // As `planet`'s main does, before any thread: the pass's memory is what the service's is.
    planet::memory::limit_arenas();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(bench_main());
}

async fn bench_main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve-fixtures") {
        return serve_fixtures().await;
    }
    let default_feeds = if support::smoke_run() { 20 } else { 1000 };
    let feeds: usize =
        args.iter().skip_while(|a| *a != "--feeds").nth(1).and_then(|n| n.parse().ok()).unwrap_or(default_feeds);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--serve-fixtures")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().trim_start_matches("listening ").parse().unwrap();

    let directory = tempfile::tempdir().unwrap();
    let mut text = format!(
        "[site]\ntitle = \"bench\"\nurl = \"http://127.0.0.1/\"\n[store]\npath = \"{}\"\ncache_mb = 8\n[fetch]\nallow_private = true\nconcurrency = 32\nper_host_concurrency = 32\n",
        directory.path().join("store").display()
    );
    for index in 0..feeds {
        text.push_str(&format!("[[members]]\nid = \"m{index}\"\nname = \"Member {index}\"\nfeed = \"http://127.0.0.1:{port}/{index}.xml\"\n"));
    }
    let config = planet::config::parse(&text, std::path::Path::new("bench.toml")).unwrap();
    let store = planet::store::Store::open(&config.store.path, config.store.cache_bytes).unwrap();
    let client = planet::fetch::Client::new(&config.fetch).unwrap();
    let feed_kb = feed(0).len() as f64 / 1024.0;

    println!(
        "fetch pass: {feeds} feeds of {feed_kb:.0} KB and 20 posts each, from loopback (server in a child process)"
    );
    println!("{:<6} {:>10} {:>10} {:>12} {:>10} {:>12}", "pass", "wall s", "cpu s", "peak RSS MB", "posts", "outcome");
    let mut summary = Vec::new();
    // The 1,000-feed targets, and issue 22's for 10,000 feeds.
    let (cold_target, warm_target, rss_target) = if feeds >= 10_000 { (60.0, 5.0, 128) } else { (5.0, 1.0, 64) };
    for (name, target_seconds) in [("cold", cold_target), ("warm", warm_target)] {
        support::reset_peak_rss();
        let (cpu_before, started) = (support::cpu_time(), Instant::now());
        let report = refresh::run_pass(&config, &store, &client, Utc::now(), &PassOptions::default()).await.unwrap();
        let wall = started.elapsed().as_secs_f64();
        let cpu = (support::cpu_time() - cpu_before).as_secs_f64();
        let peak = support::peak_rss_mb();
        let ok = report.count(|o| matches!(o, Outcome::Refreshed | Outcome::NotModified));
        let totals = report.totals();
        println!(
            "{name:<6} {wall:>10.2} {cpu:>10.2} {peak:>12.1} {:>10} {:>12}",
            totals.new,
            format!("{ok}/{feeds} ok")
        );
        summary.push(format!("{name} {wall:.2} s (target < {target_seconds} s)"));
        summary.push(format!("peak {peak:.0} MB"));
    }
    drop(child.stdin.take());
    let _ = child.wait();
    println!("summary: {} (RSS target < {rss_target} MB)", summary.join(", "));
}
