//! Serving at scale: latency of /feed.atom, /feed.json, /api/v1/posts and / with 1,000,
//! 10,000 and 100,000 generated posts in the store, and the resident memory while serving.
//! Requests are sequential from one client on loopback (latency, not throughput; see
//! scripts/bench_serving.sh for load). `cargo bench --bench scale [-- --sizes 1000,10000]`.

#[path = "support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use planet::config::MemberId;
use planet::model::{DateSource, FeedState, Post};
use planet::serve::{self, Secrets, Service};

const MEMBERS: usize = 100;
const ROUTES: &[&str] = &["/feed.atom", "/feed.json", "/api/v1/posts", "/"];

fn generate(store: &planet::store::Store, posts: usize) {
    let html = planet::sanitize::html(
        "<p>长沙.NET技术社区的文章正文：ASP.NET Core 中间件与依赖注入。</p><pre><code>var x = 1;</code></pre>",
        None,
    );
    let now = Utc::now();
    for member in 0..MEMBERS {
        let id = MemberId::parse(&format!("m{member}")).unwrap();
        let feed_url = format!("https://m{member}.example.cn/feed");
        let batch: Vec<Post> = (0..posts / MEMBERS)
            .map(|i| {
                let published = now - TimeDelta::minutes((i * MEMBERS + member) as i64);
                Post {
                    id: planet::parse::ids::digest(&[id.as_str(), &i.to_string()]),
                    member: id.clone(),
                    feed_url: feed_url.clone(),
                    guid: Some(format!("{member}-{i}")),
                    url: Some(format!("https://m{member}.example.cn/posts/{i}.html")),
                    title: format!("Member {member} post {i} · 依赖注入详解"),
                    author: None,
                    published,
                    updated: None,
                    first_seen: published,
                    date_source: DateSource::Feed,
                    tags: vec!["dotnet".into()],
                    excerpt: "长沙.NET技术社区的文章正文：ASP.NET Core 中间件与依赖注入。".into(),
                    content_html: html.clone(),
                    content_hash: format!("{member}-{i}"),
                }
            })
            .collect();
        let state = FeedState {
            member: Some(id.clone()),
            feed_url: feed_url.clone(),
            current_url: feed_url,
            ..FeedState::default()
        };
        for chunk in batch.chunks(500) {
            store.save_refresh(&id, chunk, &state).unwrap();
        }
    }
    store.flush().unwrap();
}

async fn measure(client: &reqwest::Client, address: &str, route: &str, requests: usize) -> (Duration, Duration) {
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let response = client.get(format!("{address}{route}")).send().await.unwrap();
        assert!(response.status().is_success(), "{route}: {}", response.status());
        response.bytes().await.unwrap();
        latencies.push(started.elapsed());
    }
    latencies.sort();
    (support::percentile(&latencies, 0.5), support::percentile(&latencies, 0.99))
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip_while(|a| a != "--sizes")
        .nth(1)
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    println!("scale: sequential requests on loopback; {MEMBERS} members; sled cache 8 MB");
    println!("{:<8} {:<14} {:>10} {:>10} {:>10}", "posts", "route", "p50 ms", "p99 ms", "RSS MB");
    let mut feed_p50 = Vec::new();
    let mut last_rss = 0.0;
    for posts in sizes.clone() {
        let directory = tempfile::tempdir().unwrap();
        let mut text = format!("[site]\ntitle = \"bench\"\nurl = \"http://127.0.0.1/\"\n[store]\npath = \"{}\"\ncache_mb = 8\n[fetch]\nschedule = \"0 0 0 1 1 *\"\n", directory.path().join("store").display());
        for member in 0..MEMBERS {
            text.push_str(&format!("[[members]]\nid = \"m{member}\"\nname = \"Member {member}\"\nfeed = \"https://m{member}.example.cn/feed\"\n"));
        }
        let config = planet::config::parse(&text, std::path::Path::new("bench.toml")).unwrap();
        let store = planet::store::Store::open(&config.store.path, config.store.cache_bytes).unwrap();
        generate(&store, posts);
        store.set_last_pass(Utc::now()).unwrap();
        let service = Service::new(config, store, Secrets::default()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(serve::run(Arc::clone(&service), listener, async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::new();
        for route in ROUTES {
            measure(&client, &address, route, 5).await;
            let (p50, p99) = measure(&client, &address, route, 200).await;
            let rss = support::rss_mb();
            last_rss = rss;
            println!(
                "{posts:<8} {route:<14} {:>10.2} {:>10.2} {rss:>10.1}",
                p50.as_secs_f64() * 1000.0,
                p99.as_secs_f64() * 1000.0
            );
            if *route == "/feed.atom" || *route == "/feed.json" {
                feed_p50.push((posts, *route, p50));
            }
        }
        let _ = stop.send(());
        running.await.unwrap().unwrap();
    }
    let ratio = |route: &str| {
        let of =
            |size: usize| feed_p50.iter().find(|(p, r, _)| *p == size && *r == route).map(|(_, _, d)| d.as_secs_f64());
        match (of(*sizes.first().unwrap()), of(*sizes.last().unwrap())) {
            (Some(small), Some(large)) if small > 0.0 => large / small,
            _ => f64::NAN,
        }
    };
    println!(
        "summary: p50 ratio largest/smallest store: /feed.atom {:.2}, /feed.json {:.2} (target < 1.2); RSS at the largest {last_rss:.0} MB (target < 40 MB)",
        ratio("/feed.atom"),
        ratio("/feed.json")
    );
}
