//! Push, measured (`cargo bench --bench push [-- --publishes 50 --posts 1000 --targets 20]`).
//! 1. From a member's WebSub publish to the group robot's message, on loopback: the member's
//!    feed and a Feishu robot served here, flask-websub's real hub (scripts/websub_hub.py), the
//!    real server with its delivery loop. p50/p99.
//! 2. 1,000 new posts across 20 targets of every kind, stepped on a simulated clock: every
//!    post delivered, in batches, never faster than each platform's documented rate, and
//!    resident memory after a second round of 1,000 no higher than after the first.

#[path = "support.rs"]
mod support;

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use chrono::{DateTime, TimeDelta, Utc};
use planet::notify::limits::rate_limits;
use planet::refresh::PassOptions;
use planet::service::{Secrets, Service, Variables};
use planet::store::Store;

const KINDS: [&str; 7] = ["wecom", "dingtalk", "feishu", "slack", "discord", "telegram", "webhook"];

/// The feeds and robots this bench serves: documents by path, and each robot message's
/// arrival (path, instant, body).
#[derive(Clone, Default)]
struct Loopback {
    documents: Arc<Mutex<HashMap<String, String>>>,
    hub: Arc<Mutex<String>>,
    /// This server's own address (feeds name themselves in `rel="self"`).
    base: Arc<Mutex<String>>,
    arrivals: Arc<Mutex<Vec<(String, Instant, String)>>>,
}

async fn serve_loopback(shared: Loopback) -> String {
    let document = |State(shared): State<Loopback>, Path(name): Path<String>| async move {
        let body = shared.documents.lock().unwrap().get(&name).cloned().unwrap_or_default();
        let (hub, base) = (shared.hub.lock().unwrap().clone(), shared.base.lock().unwrap().clone());
        let link = format!("<{hub}>; rel=\"hub\", <{base}/feeds/{name}>; rel=\"self\"");
        ([("content-type", "application/rss+xml".to_string()), ("link", link)], body).into_response()
    };
    let robot = |State(shared): State<Loopback>, Path(name): Path<String>, _: HeaderMap, body: String| async move {
        // Part 1 matches one-post messages by title; part 2's 50-post ones are only counted
        // (kept whole, 800 of them would be the bench's memory, not planet's).
        let body = if body.len() < 4096 { body } else { String::new() };
        shared.arrivals.lock().unwrap().push((name.clone(), Instant::now(), body));
        let kind = name.split('-').next().unwrap_or("");
        match kind {
            "wecom" | "dingtalk" => r#"{"errcode":0,"errmsg":"ok"}"#.to_string().into_response(),
            "feishu" => r#"{"code":0,"msg":"success"}"#.to_string().into_response(),
            "telegram" => r#"{"ok":true}"#.to_string().into_response(),
            _ => axum::http::StatusCode::NO_CONTENT.into_response(),
        }
    };
    let app = axum::Router::new()
        .route("/feeds/{name}", axum::routing::get(document))
        .route("/robots/{name}", axum::routing::post(robot))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    *shared.base.lock().unwrap() = address.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

fn rss(member: &str, posts: &[(String, DateTime<Utc>)]) -> String {
    let items: String = posts
        .iter()
        .map(|(guid, at)| format!("<item><title>{member} 的文章 {guid}</title><link>https://{member}.example.cn/{guid}</link><guid>{guid}</guid><pubDate>{}</pubDate><description>正文 {guid}</description></item>", at.to_rfc2822()))
        .collect();
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{member}</title>{items}</channel></rss>")
}

fn config_text(directory: &std::path::Path, site: &str, loopback: &str, members: usize, targets: &str) -> String {
    let members: String = (0..members)
        .map(|i| format!("[[members]]\nid = \"m{i}\"\nname = \"成员 {i}\"\nfeed = \"{loopback}/feeds/m{i}\"\n\n"))
        .collect();
    format!(
        "[site]\ntitle = \"推送测试\"\nurl = \"{site}/\"\n\n[store]\npath = \"{}\"\ncache_mb = 16\n\n\
         [fetch]\nallow_private = true\nschedule = \"0 0 0 1 1 *\"\n\n[river]\nmax_per_member_per_day = 1000\n\n\
         [websub]\nsubscribe = true\n\n{targets}\n{members}",
        directory.join("store").display()
    )
}

async fn planet_at(
    directory: &std::path::Path,
    text: String,
    variables: Variables,
    listener: tokio::net::TcpListener,
) -> Arc<Service> {
    std::fs::write(directory.join("feeds.toml"), text).unwrap();
    let config = planet::config::load(&directory.join("feeds.toml")).unwrap();
    let store = Store::open(&config.store.path, config.store.cache_bytes).unwrap();
    store.set_last_pass(Utc::now()).unwrap();
    let secrets = Secrets { variables, ..Secrets::default() };
    let service = Service::new(config, store, secrets).unwrap();
    service.update_search_index().unwrap();
    let running = Arc::clone(&service);
    tokio::spawn(async move { planet::serve::run(running, listener, std::future::pending()).await });
    service
}

/// Part 1: publish → robot message, `publishes` times.
async fn publish_to_robot(publishes: usize) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/websub_hub.py");
    // The hub is killed at the end; its storage goes with this directory.
    let hub_storage = tempfile::tempdir().unwrap();
    let mut hub = Command::new("python3")
        .args([script, "sha256"])
        .arg(hub_storage.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 and flask-websub (requirements-test.txt)");
    let mut line = String::new();
    std::io::BufReader::new(hub.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let hub_url = format!("http://127.0.0.1:{}/hub", line.trim().trim_start_matches("listening "));
    let shared = Loopback::default();
    *shared.hub.lock().unwrap() = hub_url.clone();
    let loopback = serve_loopback(shared.clone()).await;
    let directory = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let target = "[[notify]]\nname = \"feishu\"\nkind = \"feishu\"\nurl_env = \"FEISHU\"\nbatch_minutes = 0\n";
    let feed_url = format!("{loopback}/feeds/m0");
    let mut posts = vec![("old".to_string(), Utc::now() - TimeDelta::days(9))];
    shared.documents.lock().unwrap().insert("m0".into(), rss("m0", &posts));
    let variables = Variables::fixed([("FEISHU".to_string(), format!("{loopback}/robots/feishu-0"))]);
    let service =
        planet_at(directory.path(), config_text(directory.path(), &site, &loopback, 1, target), variables, listener)
            .await;
    service.try_run_pass(Utc::now(), &PassOptions::default()).await.unwrap();
    while service.notify_status().unwrap()[0].added_at.is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    for i in 0..publishes {
        // Within the callback's limit of 30 pushes a minute per subscription.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let guid = format!("p{i}");
        posts.push((guid.clone(), Utc::now()));
        shared.documents.lock().unwrap().insert("m0".into(), rss("m0", &posts));
        let started = Instant::now();
        let form = [("hub.mode", "publish"), ("hub.topic", feed_url.as_str())];
        client.post(&hub_url).form(&form).send().await.unwrap();
        let wanted = format!("文章 {guid}");
        let arrived = loop {
            let found = shared
                .arrivals
                .lock()
                .unwrap()
                .iter()
                .find(|(_, _, body)| body.contains(&wanted))
                .map(|(_, at, _)| *at);
            if let Some(at) = found {
                break at;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "post {guid} never reached the robot");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        latencies.push(arrived - started);
    }
    let _ = hub.kill();
    let _ = hub.wait();
    latencies.sort();
    println!("\n## WebSub publish → Feishu robot message ({publishes} publishes, loopback, delivery loop tick 500 ms, settle 1 s)\n");
    println!("| p50 | p99 | max |\n| ---: | ---: | ---: |");
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "| {} | {} | {} |",
        ms(support::percentile(&latencies, 0.5)),
        ms(support::percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap())
    );
}

/// Part 2: `posts` posts from 50 members to `targets` targets, a round at a time.
async fn many_targets(posts: usize, targets: usize, rounds: usize) {
    let shared = Loopback::default();
    let loopback = serve_loopback(shared.clone()).await;
    let directory = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let site = format!("http://{}", listener.local_addr().unwrap());
    let mut text = String::new();
    let mut variables = Vec::new();
    for t in 0..targets {
        let kind = KINDS[t % KINDS.len()];
        let secret = match kind {
            "webhook" => "secret_env = \"HOOK_SECRET\"\n",
            _ => "",
        };
        text.push_str(&format!(
            "[[notify]]\nname = \"{kind}-{t}\"\nkind = \"{kind}\"\nurl_env = \"T{t}\"\n{secret}batch_minutes = 0\n\n"
        ));
        let query = if kind == "telegram" { "?chat_id=-1" } else { "" };
        variables.push((format!("T{t}"), format!("{loopback}/robots/{kind}-{t}{query}")));
    }
    variables.push(("HOOK_SECRET".into(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()));
    let members = 50;
    let service = planet_at(
        directory.path(),
        config_text(directory.path(), &site, &loopback, members, &text),
        Variables::fixed(variables),
        listener,
    )
    .await;
    service.deliver_notifications_by_hand();
    let start = Utc::now();
    service.deliver_notifications(start - TimeDelta::hours(1)).await;
    println!("\n## {posts} new posts from {members} members to {targets} targets, per round (simulated clock, steps 100 ms apart)\n");
    println!("| round | steps | simulated time to deliver all | messages | fewest / most posts a message | real time | RSS after |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut clock = start;
    for round in 0..rounds {
        for m in 0..members {
            let each = posts / members;
            let list: Vec<(String, DateTime<Utc>)> =
                (0..each).map(|i| (format!("r{round}-{i}"), Utc::now() - TimeDelta::seconds(i as i64))).collect();
            shared.documents.lock().unwrap().insert(format!("m{m}"), rss(&format!("m{m}"), &list));
        }
        service.try_run_pass(Utc::now(), &PassOptions::default()).await.unwrap();
        let real = Instant::now();
        clock = clock.max(Utc::now()) + TimeDelta::seconds(2);
        let mut delivered: HashMap<String, usize> = HashMap::new();
        let mut sends: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
        let mut sizes = Vec::new();
        let mut steps = 0;
        let started = clock;
        while delivered.values().sum::<usize>() < posts * targets {
            let report = service.deliver_notifications(clock).await;
            assert!(report.failed.is_empty(), "{report:?}");
            for (name, count) in report.delivered {
                *delivered.entry(name.clone()).or_default() += count;
                sends.entry(name).or_default().push(clock);
                sizes.push(count);
            }
            clock += TimeDelta::milliseconds(100);
            steps += 1;
            assert!(steps < 200_000, "not all delivered: {delivered:?}");
        }
        for (name, times) in &sends {
            let kind = KINDS.iter().find(|k| name.starts_with(**k)).copied().unwrap_or("webhook");
            let kind = planet::config::NotifyKind::parse(kind).unwrap();
            for &(count, window) in rate_limits(kind) {
                let window = TimeDelta::from_std(window).unwrap();
                for (i, at) in times.iter().enumerate() {
                    let within = times[i..].iter().take_while(|t| **t - *at < window).count();
                    assert!(within <= count, "{name}: {within} messages within {window} (limit {count})");
                }
            }
        }
        println!(
            "| {} | {steps} | {:.1} s | {} | {} / {} | {:.1} s | {:.1} MB |",
            round + 1,
            (clock - started).num_milliseconds() as f64 / 1000.0,
            sizes.len(),
            sizes.iter().min().unwrap(),
            sizes.iter().max().unwrap(),
            real.elapsed().as_secs_f64(),
            support::rss_mb()
        );
    }
    println!("\nevery target got every post, and no target got more messages in any window than its platform allows");
}

#[tokio::main]
async fn main() {
    let smoke = support::smoke_run();
    let number = |flag: &str, default: usize| {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (publishes, posts, targets) =
        if smoke { (3, 100, 7) } else { (number("--publishes", 50), number("--posts", 1000), number("--targets", 20)) };
    publish_to_robot(publishes).await;
    many_targets(posts, targets, 3).await;
}
