//! Ingest benchmark: decode + parse + normalize + sanitize of real feeds from the shared corpus
//! (feed-rs's captures, Miniflux's large feeds, node-feedparser's, a GB2312 feed), on both
//! cores, against Python's feedparser parsing the same files in the same run.
//! `cargo bench --bench ingest [-- --seconds N]`; prints a table and a one-line summary.

#[path = "support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use planet::check;
use planet::config::{self, Member, MemberId};

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let directories = [
        "feed-rs/feed-rs/fixture/rss2",
        "feed-rs/feed-rs/fixture/atom",
        "feed-rs/feed-rs/fixture/rss1",
        "miniflux/internal/reader/parser/testdata",
        "node-feedparser/test/feeds",
        "rss-parser-unmerged-prs/test/input",
    ];
    let mut files = Vec::new();
    for directory in directories {
        let Ok(entries) = std::fs::read_dir(root.join(directory)) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.to_string_lossy();
            if (name.ends_with(".xml") || name.ends_with(".rss") || name.ends_with(".atom")) && !name.contains("serde")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn main() {
    let default_seconds = if support::smoke_run() { 0.2 } else { 5.0 };
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seconds);
    let files = corpus_files();
    assert!(!files.is_empty(), "the shared corpus is missing");
    let documents: Vec<(String, Vec<u8>)> =
        files.iter().map(|p| (p.to_string_lossy().into_owned(), std::fs::read(p).unwrap())).collect();
    let config = config::parse(config::CHECK_DEFAULTS, Path::new("(defaults)")).unwrap();
    let member = Member::anonymous(MemberId::parse("bench").unwrap());
    let base = url::Url::parse("https://bench.example.cn/feed").unwrap();
    let corpus_bytes: usize = documents.iter().map(|(_, d)| d.len()).sum();

    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let deadline = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let results: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let (mut bytes, mut posts) = (0usize, 0usize);
                    while started.elapsed() < deadline {
                        for (name, document) in &documents {
                            let report = check::bytes(&config, &member, name, document, None, Some(&base), Utc::now());
                            posts += report.posts.len();
                            bytes += document.len();
                        }
                    }
                    (bytes, posts)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let planet_seconds = started.elapsed().as_secs_f64();
    let (planet_bytes, planet_posts) = results.iter().fold((0, 0), |(b, p), (wb, wp)| (b + wb, p + wp));

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_feedparser.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(seconds.to_string())
        .args(&files)
        .output()
        .expect("python3 with feedparser");
    assert!(output.status.success(), "feedparser run failed: {}", String::from_utf8_lossy(&output.stderr));
    let reference: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (fp_bytes, fp_posts, fp_seconds) = (
        reference["bytes"].as_f64().unwrap(),
        reference["posts"].as_f64().unwrap(),
        reference["seconds"].as_f64().unwrap(),
    );

    let mb = |bytes: f64, seconds: f64| bytes / seconds / 1_000_000.0;
    let planet_mbps = mb(planet_bytes as f64, planet_seconds);
    let fp_mbps = mb(fp_bytes, fp_seconds);
    println!("ingest: {} files, {:.1} MB per round", documents.len(), corpus_bytes as f64 / 1_000_000.0);
    println!("{:<28} {:>10} {:>12} {:>8}", "parser", "MB/s", "posts/s", "cores");
    println!(
        "{:<28} {:>10.2} {:>12.0} {:>8}",
        "planet (decode..sanitize)",
        planet_mbps,
        planet_posts as f64 / planet_seconds,
        threads
    );
    println!("{:<28} {:>10.2} {:>12.0} {:>8}", "python feedparser", fp_mbps, fp_posts / fp_seconds, 1);
    println!("summary: planet ingests {:.1}x feedparser's throughput (target: 30x)", planet_mbps / fp_mbps);
}
