//! The read path at scale (issue 12's table): stores of 1,000, 10,000 and 100,000 posts (50
//! members, ~2.5 KB of HTML each) brought in with `import` from an export file, then served
//! by a fresh process per size. Reports: import time and disk (store and index against the
//! export's size), the time the index takes to build on first start, p50/p99 of cached
//! routes and of uncached queries (a `q` that matches nothing, a common word, a rare word in
//! one body, a rare tag, the oldest `until`, member + `until`), `/feed.atom` p99 while two
//! clients search without pause, and the server's resident memory after 300 distinct
//! searches that each find 20 posts (asked first, of a server that has answered nothing
//! else; and again after every other row). Requests carry `X-Real-IP` so the per-client search limit sees many clients.
//! `cargo bench --bench scale [-- --sizes 1000,10000] [--crawl-seconds 60]`.

#[path = "support.rs"]
mod support;

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use planet::config::MemberId;
use planet::model::{DateSource, Post};
use planet::serve;
use planet::service::{Secrets, Service};

const MEMBERS: usize = 50;
/// Found in about a third of the posts.
const COMMON_WORD: &str = "中间件";
/// One character of `COMMON_WORD` and of no word in `WORDS`: in about a third of the posts.
const COMMON_CHARACTER: &str = "间";
/// Found in the body of one post only.
const RARE_WORD: &str = "量子纠缠";
const RARE_TAG: &str = "rare-tag";

const WORDS: &[&str] = &[
    "依赖注入",
    "异步编程",
    "性能优化",
    "单元测试",
    "微服务",
    "容器",
    "数据库",
    "缓存",
    "日志",
    "配置",
    "部署",
    "安全",
    "身份认证",
    "消息队列",
    "领域驱动",
    "重构",
    "设计模式",
    "泛型",
    "反射",
    "序列化",
    "Blazor",
    "EF Core",
    "ASP.NET",
    "gRPC",
    "SignalR",
    "Kubernetes",
    "Docker",
    "Redis",
    "LINQ",
    "Span",
    "middleware",
    "dependency",
    "injection",
    "performance",
    "allocation",
    "pipeline",
    "endpoint",
    "routing",
];

/// A small deterministic generator, so every run builds the same stores.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

/// About 2.5 KB of HTML: paragraphs of words from `WORDS`.
fn body(random: &mut Lcg, index: usize) -> String {
    let mut html = String::with_capacity(2600);
    while html.len() < 2400 {
        html.push_str("<p>");
        for _ in 0..12 {
            html.push_str(WORDS[random.next(WORDS.len())]);
            html.push_str(if random.next(3) == 0 { "，" } else { " " });
        }
        if html.len() < 200 && index.is_multiple_of(3) {
            html.push_str(COMMON_WORD);
        }
        html.push_str("。</p>");
    }
    html.push_str("<pre><code>var builder = WebApplication.CreateBuilder(args);</code></pre>");
    html
}

fn oldest(posts: usize) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2016-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
        + TimeDelta::minutes(posts as i64 % 7)
}

/// Writes an export file of `posts` posts, oldest first; returns its size.
fn write_export(path: &std::path::Path, posts: usize) -> u64 {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut random = Lcg(42);
    // Spread over ten years, so `until` has old posts to seek to.
    let step = (TimeDelta::days(3650).num_minutes() / posts as i64).max(1);
    for i in 0..posts {
        let member = i % MEMBERS;
        let id = MemberId::parse(&format!("m{member}")).unwrap();
        let published = oldest(posts) + TimeDelta::minutes(i as i64 * step);
        let mut html = body(&mut random, i);
        if i == posts / 2 {
            html.push_str(&format!("<p>这里提到了{RARE_WORD}。</p>"));
        }
        let post = Post {
            id: planet::hashing::digest(&[id.as_str(), &i.to_string()]),
            member: id,
            feed_url: format!("https://m{member}.example.cn/feed"),
            guid: Some(format!("{member}-{i}")),
            url: Some(format!("https://m{member}.example.cn/posts/{i}.html")),
            title: format!("{} 与 {} 实践 {i}", WORDS[random.next(WORDS.len())], WORDS[random.next(WORDS.len())]),
            author: None,
            published,
            updated: None,
            first_seen: published,
            date_source: DateSource::Feed,
            tags: if i == posts / 3 { vec![RARE_TAG.into()] } else { vec!["dotnet".into()] },
            excerpt: "长沙.NET技术社区的文章".into(),
            content_html: planet::sanitize::html(&html, None),
            content_hash: format!("{i}"),
            backlog: false,
            duplicate_of: None,
            also_on: Vec::new(),
            also_by: Vec::new(),
        };
        let line = serde_json::json!({ "kind": "post" });
        let mut value = serde_json::to_value(&post).unwrap();
        value.as_object_mut().unwrap().extend(line.as_object().unwrap().clone());
        serde_json::to_writer(&mut out, &value).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn store_config(directory: &std::path::Path) -> planet::config::Config {
    let mut text = format!(
        "[site]\ntitle = \"bench\"\nurl = \"http://127.0.0.1/\"\n[store]\npath = \"{}\"\ncache_mb = 8\n[fetch]\nallow_private = true\nschedule = \"0 0 0 1 1 *\"\n",
        directory.join("store").display()
    );
    for member in 0..MEMBERS {
        text.push_str(&format!("[[members]]\nid = \"m{member}\"\nname = \"Member {member}\"\nfeed = \"https://m{member}.example.cn/feed\"\n"));
    }
    planet::config::parse(&text, std::path::Path::new("bench.toml")).unwrap()
}

/// The child that imports as `planet import` does: prints the seconds the import took, the
/// seconds grouping and the search index took, the store's size on disk, the seconds the
/// rewrite took and the child's peak resident memory in MB.
fn import_child(directory: &std::path::Path) {
    // `--prepare` wrote the export in this process first.
    support::reset_peak_rss();
    let config = store_config(directory);
    let started = Instant::now();
    let store = planet::store::Store::open(&config.store.path, config.store.cache_bytes).unwrap();
    let input = std::io::BufReader::new(std::fs::File::open(directory.join("export.jsonl")).unwrap());
    planet::store::import(&store, input).unwrap();
    store.set_last_pass(Utc::now()).unwrap();
    let import_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (path, cache_bytes) = (config.store.path.clone(), config.store.cache_bytes);
    let service = Service::new(config, store, Secrets::default()).unwrap();
    // As `planet import` does, in this process that exits: group copies of articles, then
    // index (both read every member's posts, and sled keeps what it reads), then rewrite
    // sled's files without the garbage of the import's many index rewrites.
    service.regroup_if_needed().unwrap();
    service.update_search_index().unwrap();
    let index_seconds = started.elapsed().as_secs_f64();
    drop(service);
    let started = Instant::now();
    planet::store::rewrite_sled_files(&path, cache_bytes).unwrap();
    let rewrite_seconds = started.elapsed().as_secs_f64();
    // The peak of the whole command (issue 22's target: under 256 MB at 1,000,000 posts).
    println!(
        "{import_seconds} {index_seconds} {} {rewrite_seconds} {}",
        directory_bytes(&path),
        support::peak_rss_mb()
    );
}

/// The bytes of the files under `path` (the store after `planet import`).
fn directory_bytes(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .flatten()
        .map(|entry| match entry.file_type().unwrap().is_dir() {
            true => directory_bytes(&entry.path()),
            false => entry.metadata().unwrap().len(),
        })
        .sum()
}

/// The child that serves the store in `directory` until its standard input closes; prints its
/// address first.
async fn serve_child(directory: std::path::PathBuf) {
    let config = store_config(&directory);
    let store = planet::store::Store::open(&config.store.path, config.store.cache_bytes).unwrap();
    let service = Service::new(config, store, Secrets::default()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("http://{}", listener.local_addr().unwrap());
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().lines().count();
    });
    serve::run(service, listener, async move {
        let _ = stdin_closed.await;
    })
    .await
    .unwrap();
}

fn child(args: &[&str]) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(args);
    command
}

static CLIENTS: AtomicU64 = AtomicU64::new(1);

/// The server's resident memory, (anonymous, file-backed) MB, once it has settled: a server
/// gives back what glibc keeps of freed memory a tick after its last request
/// (`service::settle`), which `planet_memory_trims_total` counts. Waits at most 10 s.
async fn settled_rss(client: &reqwest::Client, address: &str, pid: u32) -> (f64, f64) {
    let trims = || async {
        let text = client.get(format!("{address}/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("planet_memory_trims_total "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let before = trims().await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) && trims().await == before {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    support::rss_split_mb_of(pid)
}

/// One timed request from a client address of its own.
async fn time_one(client: &reqwest::Client, address: &str, route: &str) -> Duration {
    let n = CLIENTS.fetch_add(1, Ordering::Relaxed);
    let real_ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    let started = Instant::now();
    let response = client.get(format!("{address}{route}")).header("x-real-ip", real_ip).send().await.unwrap();
    let status = response.status();
    response.bytes().await.unwrap();
    assert!(status.is_success(), "{route}: {status}");
    started.elapsed()
}

/// Waits until the index is ready (it is built on the first start), then until a search is
/// answered; how long that took, and the server's (anonymous, file-backed) MB when the index
/// was ready and it had answered nothing but `/metrics`: issue 22's idle figure.
async fn wait_for_index(client: &reqwest::Client, address: &str, pid: u32) -> (Duration, (f64, f64)) {
    let started = Instant::now();
    let mut idle = None;
    loop {
        let metrics = client.get(format!("{address}/metrics")).send().await.unwrap().text().await.unwrap();
        if metrics.lines().any(|l| l == "planet_search_ready 1") {
            let idle = *idle.get_or_insert_with(|| support::rss_split_mb_of(pid));
            let probe = client.get(format!("{address}/api/v1/posts?q=warmup&limit=1")).send().await.unwrap();
            if probe.status().is_success() {
                return (started.elapsed(), idle);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The memory line that follows each measure: the server's resident memory once settled.
async fn settled_line(client: &reqwest::Client, server: &Server) -> String {
    let (anonymous, file) = settled_rss(client, &server.address, server.process.id()).await;
    format!(
        "{:<8} RSS a moment later, the server settled: {:.1} MB ({anonymous:.1} anonymous)",
        server.posts,
        anonymous + file
    )
}

/// The uncached queries: each round asks a new URL (a distinct word or limit), so every
/// request reads the index or the store.
type RouteOfRound = Box<dyn Fn(usize) -> String>;

fn uncached_routes(posts: usize) -> Vec<(&'static str, RouteOfRound)> {
    let old = (oldest(posts) + TimeDelta::days(3)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let old_for_member = old.clone();
    vec![
        ("q: no post has it", Box::new(|round| format!("/api/v1/posts?q=zzqx{round}"))),
        ("q: a common word", Box::new(|round| format!("/api/v1/posts?q={COMMON_WORD}&limit={}", 1 + round % 100))),
        (
            "q: one common character",
            Box::new(|round| format!("/api/v1/posts?q={COMMON_CHARACTER}&limit={}", 1 + round % 100)),
        ),
        (
            "q: a rare word in one body",
            Box::new(|round| format!("/api/v1/posts?q={RARE_WORD}&limit={}", 1 + round % 100)),
        ),
        ("tag: a rare tag", Box::new(|round| format!("/api/v1/posts?tag={RARE_TAG}&limit={}", 1 + round % 100))),
        (
            "until: the oldest posts",
            Box::new(move |round| format!("/api/v1/posts?until={old}&limit={}", 1 + round % 100)),
        ),
        (
            "member + until",
            Box::new(move |round| {
                format!(
                    "/api/v1/posts?member=m{}&until={old_for_member}&limit={}",
                    round % MEMBERS,
                    1 + round / MEMBERS
                )
            }),
        ),
    ]
}

const CACHED_ROUTES: &[&str] = &["/feed.atom", "/api/v1/posts", "/"];

struct Server {
    posts: usize,
    address: String,
    process: std::process::Child,
    _directory: tempfile::TempDir,
}

fn main() {
    // As `planet`'s main does, before the runtime's threads exist (inside an async main it
    // came after them). It did not explain why the serving child holds about 11 MB more
    // anonymous memory than the `planet` binary on an equal store (BENCHMARKS.md section 10).
    planet::memory::limit_arenas();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(bench_main());
}

async fn bench_main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--import") {
        return import_child(std::path::Path::new(&args[at + 1]));
    }
    if let Some(at) = args.iter().position(|a| a == "--serve") {
        return serve_child(std::path::PathBuf::from(&args[at + 1])).await;
    }
    // `--prepare DIR N`: an export of N posts imported into DIR, kept for a profiler or for
    // `--serve DIR` by hand.
    if let Some(at) = args.iter().position(|a| a == "--prepare") {
        let directory = std::path::Path::new(&args[at + 1]);
        std::fs::create_dir_all(directory).unwrap();
        write_export(&directory.join("export.jsonl"), args[at + 2].parse().unwrap());
        return import_child(directory);
    }
    let smoke = support::smoke_run();
    let requests: usize = if smoke { 10 } else { 200 };
    let searches_for_memory = if smoke { 20 } else { 300 };
    // Issue 22's crawl is 60 s; `--crawl-seconds` shortens it (CI's short run).
    let crawl_seconds: f64 = args
        .iter()
        .skip_while(|a| *a != "--crawl-seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(if smoke { 2.0 } else { 60.0 });
    let mut memory_before = Vec::new();
    let sizes: Vec<usize> = args
        .iter()
        .skip_while(|a| *a != "--sizes")
        .nth(1)
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| if smoke { vec![200, 400] } else { vec![1_000, 10_000, 100_000] });
    println!("scale: {MEMBERS} members, ~2.5 KB of HTML per post; sled cache 8 MB; one process per store; sequential requests on loopback");
    let client = reqwest::Client::new();
    let mut servers = Vec::new();
    println!(
        "{:<8} {:>10} {:>10} {:>10} {:>8} {:>14} {:>10} {:>12} {:>12}",
        "posts",
        "export MB",
        "import s",
        "store MB",
        "x export",
        "group+index s",
        "rewrite s",
        "peak RSS MB",
        "start-up s"
    );
    for posts in &sizes {
        let directory = tempfile::tempdir().unwrap();
        let export_bytes = write_export(&directory.path().join("export.jsonl"), *posts);
        let path = directory.path().to_str().unwrap().to_string();
        let output = child(&["--import", &path]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let line = String::from_utf8(output.stdout).unwrap();
        let mut fields = line.split_whitespace();
        let import_seconds: f64 = fields.next().unwrap().parse().unwrap();
        let index_build_seconds: f64 = fields.next().unwrap().parse().unwrap();
        let store_bytes: f64 = fields.next().unwrap().parse().unwrap();
        let rewrite_seconds: f64 = fields.next().unwrap().parse().unwrap();
        let peak_mb: f64 = fields.next().unwrap().parse().unwrap();
        let mut process = child(&["--serve", &path]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut address = String::new();
        std::io::BufReader::new(process.stdout.take().unwrap()).read_line(&mut address).unwrap();
        let address = address.trim().to_string();
        let (index_wait, idle) = wait_for_index(&client, &address, process.id()).await;
        let index_seconds = index_wait.as_secs_f64();
        let mb = |bytes: f64| bytes / 1_048_576.0;
        println!(
            "{posts:<8} {:>10.1} {import_seconds:>10.1} {:>10.1} {:>8.2} {index_build_seconds:>14.1} {rewrite_seconds:>10.1} {peak_mb:>12.1} {index_seconds:>12.1}",
            mb(export_bytes as f64),
            mb(store_bytes),
            store_bytes / export_bytes as f64
        );
        let at_start = support::rss_mb_of(process.id());
        let settled = settled_rss(&client, &address, process.id()).await;
        memory_before.push((idle, at_start, settled));
        servers.push(Server { posts: *posts, address, process, _directory: directory });
    }
    // Memory first, on servers that have answered nothing yet: the measure is a fresh
    // server after 300 distinct searches. Distinct searches that each find 20 posts (two words
    // of the bodies' vocabulary): every hit is read from the store and given a snippet, the
    // costly case for memory.
    let mut memory_lines = Vec::new();
    for server in &servers {
        for round in 0..searches_for_memory {
            let (first, second) =
                (WORDS[round % WORDS.len()], WORDS[(round % WORDS.len() + 1 + round / WORDS.len()) % WORDS.len()]);
            time_one(&client, &server.address, &format!("/api/v1/posts?q={first}+{second}&limit=20")).await;
        }
        let metrics = client.get(format!("{}/metrics", server.address)).send().await.unwrap().text().await.unwrap();
        let gauge = |name: &str| {
            metrics.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0)
        };
        let (anonymous, file) = support::rss_split_mb_of(server.process.id());
        memory_lines.push(format!(
            "{:<8} RSS after {searches_for_memory} distinct searches: {:.1} MB ({anonymous:.1} anonymous + {file:.1} file-backed: the program's mapped files; target < 64 at 100,000 posts, < 96 at 1,000,000); store {:.1} MB + index {:.1} MB on disk",
            server.posts,
            support::rss_mb_of(server.process.id()),
            gauge("planet_store_bytes ") / 1_048_576.0,
            gauge("planet_search_index_bytes ") / 1_048_576.0,
        ));
        let after_words = support::rss_split_mb_of(server.process.id());
        memory_lines.push(settled_line(&client, server).await);
        // Then one-character searches (issue 20): each character of the vocabulary, at
        // several page sizes so that no two are the same request; each scores every post
        // that holds the character.
        let mut distinct: Vec<char> = WORDS.iter().flat_map(|w| w.chars()).filter(|c| !c.is_ascii()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        for round in 0..searches_for_memory {
            let character = distinct[round % distinct.len()];
            let limit = 10 + round / distinct.len();
            time_one(&client, &server.address, &format!("/api/v1/posts?q={character}&limit={limit}")).await;
        }
        let after_characters = support::rss_split_mb_of(server.process.id());
        memory_lines.push(format!(
            "{:<8} RSS after the line above: {:.1} MB ({:.1} anonymous); after {searches_for_memory} one-character searches as well: {:.1} MB ({:.1} anonymous)",
            server.posts,
            after_words.0 + after_words.1,
            after_words.0,
            after_characters.0 + after_characters.1,
            after_characters.0,
        ));
        let (mut pages, stopped_at) = crawl_from(&client, &server.address, None, crawl_seconds, None).await;
        let first = time_one(&client, &server.address, "/api/v1/posts?limit=100").await;
        pages.sort();
        let after_crawl = support::rss_split_mb_of(server.process.id());
        let ms = |p: f64| support::percentile(&pages, p).as_secs_f64() * 1000.0;
        memory_lines.push(format!(
            "{:<8} RSS after a {crawl_seconds:.0} s crawl as well ({} pages of 100, p50 {:.2} ms, p99 {:.2} ms; first page {:.2} ms): {:.1} MB ({:.1} anonymous)",
            server.posts,
            pages.len(),
            ms(0.5),
            ms(0.99),
            first.as_secs_f64() * 1000.0,
            after_crawl.0 + after_crawl.1,
            after_crawl.0,
        ));
        memory_lines.push(settled_line(&client, server).await);
        // The crawl goes on from where it stopped, over pages not read yet (on a store it has
        // not gone through): what the first left behind is the caches filled to their budgets
        // if this adds nothing, growth with the pages read if it adds as much again.
        let (again, _) = crawl_from(&client, &server.address, stopped_at, crawl_seconds, None).await;
        let after_again = support::rss_split_mb_of(server.process.id());
        memory_lines.push(format!(
            "{:<8} RSS after the crawl went on as long again ({} pages): {:.1} MB ({:.1} anonymous, {:+.1} MB on the first crawl's)",
            server.posts,
            again.len(),
            after_again.0 + after_again.1,
            after_again.0,
            after_again.0 - after_crawl.0,
        ));
        memory_lines.push(settled_line(&client, server).await);
    }
    println!();
    println!("{:<8} {:<30} {:>10} {:>10}", "posts", "request", "p50 ms", "p99 ms");
    for server in &servers {
        let mut rows: Vec<(String, Vec<Duration>)> = Vec::new();
        for route in CACHED_ROUTES {
            let mut latencies = Vec::new();
            for _ in 0..requests {
                latencies.push(time_one(&client, &server.address, route).await);
            }
            rows.push((format!("{route} (cached)"), latencies));
        }
        for (name, url) in uncached_routes(server.posts) {
            let mut latencies = Vec::new();
            for round in 0..requests {
                latencies.push(time_one(&client, &server.address, &url(round)).await);
            }
            rows.push((name.to_string(), latencies));
        }
        rows.push(("/feed.atom while 2 search".into(), feed_while_searching(&client, &server.address, requests).await));
        rows.push((
            "/feed.atom, 2 search, 1 crawls".into(),
            feed_while_searching_and_crawling(&client, &server.address, requests).await,
        ));
        for (name, mut latencies) in rows {
            latencies.sort();
            let ms = |p: f64| support::percentile(&latencies, p).as_secs_f64() * 1000.0;
            println!("{:<8} {name:<30} {:>10.2} {:>10.2}", server.posts, ms(0.5), ms(0.99));
        }
    }
    println!();
    for (server, (idle, before, settled)) in servers.iter().zip(&memory_before) {
        println!(
            "{:<8} RSS idle, the index ready and nothing answered but /metrics: {:.1} MB ({:.1} anonymous; target < 64)",
            server.posts,
            idle.0 + idle.1,
            idle.0
        );
        println!(
            "{:<8} RSS after one probe search: {before:.1} MB; settled: {:.1} MB ({:.1} anonymous)",
            server.posts,
            settled.0 + settled.1,
            settled.0
        );
    }
    for line in memory_lines {
        println!("{line}");
    }
    for server in &servers {
        let (anonymous, file) = support::rss_split_mb_of(server.process.id());
        println!(
            "{:<8} RSS after every row above as well: {:.1} MB ({anonymous:.1} anonymous + {file:.1} file-backed)",
            server.posts,
            support::rss_mb_of(server.process.id()),
        );
        println!("{}", settled_line(&client, server).await);
    }
    for mut server in servers {
        drop(server.process.stdin.take());
        assert!(server.process.wait().unwrap().success(), "the server shuts down cleanly");
    }
}

/// One crawler paging through every post with the API's cursors, `limit=100`, for
/// `seconds` (from the start again when it reaches the end): each page's latency.
async fn crawl(client: &reqwest::Client, address: &str, seconds: f64, stop: Option<Arc<AtomicBool>>) -> Vec<Duration> {
    crawl_from(client, address, None, seconds, stop).await.0
}

/// `crawl`, starting at `cursor` (the newest post when none); also the cursor it stopped at.
async fn crawl_from(
    client: &reqwest::Client,
    address: &str,
    mut cursor: Option<String>,
    seconds: f64,
    stop: Option<Arc<AtomicBool>>,
) -> (Vec<Duration>, Option<String>) {
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed().as_secs_f64() < seconds && !stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
        let url = match &cursor {
            Some(cursor) => format!("{address}/api/v1/posts?limit=100&cursor={cursor}"),
            None => format!("{address}/api/v1/posts?limit=100"),
        };
        let sent = Instant::now();
        // One client: the crawler's own address, as a crawler has.
        let response = client.get(url).header("x-real-ip", "10.250.0.1").send().await.unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        latencies.push(sent.elapsed());
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            continue;
        }
        assert!(status.is_success(), "crawl: {status}");
        let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    (latencies, cursor)
}

/// `/feed.atom` latencies while two clients search and one crawls.
async fn feed_while_searching_and_crawling(client: &reqwest::Client, address: &str, requests: usize) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let crawler = {
        let (client, address, stop) = (client.clone(), address.to_string(), Arc::clone(&stop));
        tokio::spawn(async move { crawl(&client, &address, f64::MAX, Some(stop)).await })
    };
    let latencies = feed_while_searching(client, address, requests).await;
    stop.store(true, Ordering::Relaxed);
    let _ = crawler.await;
    latencies
}

/// `/feed.atom` latencies while two other clients send distinct searches without pause. A
/// search refused with 503 (every permit busy) counts as sent: that is the server shedding.
async fn feed_while_searching(client: &reqwest::Client, address: &str, requests: usize) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut searchers = Vec::new();
    for searcher in 0..2 {
        let (client, address, stop) = (client.clone(), address.to_string(), Arc::clone(&stop));
        searchers.push(tokio::spawn(async move {
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                let n = CLIENTS.fetch_add(1, Ordering::Relaxed);
                let url = format!("{address}/api/v1/posts?q={}+s{searcher}r{round}", WORDS[round % WORDS.len()]);
                let _ =
                    client.get(url).header("x-real-ip", format!("10.200.{}.{}", (n >> 8) & 255, n & 255)).send().await;
                round += 1;
            }
        }));
    }
    let mut latencies = Vec::new();
    for _ in 0..requests {
        latencies.push(time_one(client, address, "/feed.atom").await);
    }
    stop.store(true, Ordering::Relaxed);
    for searcher in searchers {
        let _ = searcher.await;
    }
    latencies
}
