//! Ingest benchmark: decode + parse + normalize + sanitize of real feeds from the test corpus
//! (feed-rs's captures, Miniflux's large feeds, node-feedparser's, a GB2312 feed), in one run
//! against Python's feedparser and a compiled peer (Go's gofeed parsing, bluemonday's UGC
//! policy sanitizing) on the same files. The headline is per core: planet on one thread
//! against each peer on one; planet on every core is printed beside it.
//! `cargo bench --bench ingest [-- --seconds N]`; prints a table and a one-line summary.
//! `-- --planet-rounds N` runs only planet, N rounds on one thread, for a profiler.

#[path = "support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::Utc;
use planet::check;
use planet::config::{self, Config, Member, MemberId};

fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus");
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

/// What one side of the comparison did: bytes and posts through the pipeline in `seconds`.
struct Throughput {
    name: String,
    cores: usize,
    bytes: f64,
    posts: f64,
    seconds: f64,
}

impl Throughput {
    fn megabytes_per_second(&self) -> f64 {
        self.bytes / self.seconds / 1_000_000.0
    }

    fn from_peer_json(name: &str, value: &serde_json::Value) -> Throughput {
        Throughput {
            name: name.to_string(),
            cores: 1,
            bytes: value["bytes"].as_f64().unwrap(),
            posts: value["posts"].as_f64().unwrap(),
            seconds: value["seconds"].as_f64().unwrap(),
        }
    }
}

struct Corpus {
    files: Vec<PathBuf>,
    documents: Vec<(String, Vec<u8>)>,
    config: Config,
    member: Member,
    base: url::Url,
}

impl Corpus {
    fn load() -> Corpus {
        let files = corpus_files();
        assert!(!files.is_empty(), "the test corpus (tests/data/corpus) is missing");
        let documents = files.iter().map(|p| (p.to_string_lossy().into_owned(), std::fs::read(p).unwrap())).collect();
        Corpus {
            files,
            documents,
            config: config::parse(config::CHECK_DEFAULTS, Path::new("(defaults)")).unwrap(),
            member: Member::anonymous(MemberId::parse("bench").unwrap()),
            base: url::Url::parse("https://bench.example.cn/feed").unwrap(),
        }
    }

    /// Posts planet finds in each file, in file order.
    fn planet_posts_per_file(&self) -> Vec<usize> {
        self.documents.iter().map(|(name, document)| self.ingest(name, document)).collect()
    }

    fn ingest(&self, name: &str, document: &[u8]) -> usize {
        check::bytes(&self.config, &self.member, name, document, None, Some(&self.base), Utc::now()).posts.len()
    }

    /// Runs planet's pipeline over every file on `threads` threads, each going round the whole
    /// corpus until `seconds` have passed.
    fn run_planet(&self, threads: usize, seconds: f64) -> Throughput {
        let deadline = Duration::from_secs_f64(seconds);
        let started = Instant::now();
        let results: Vec<(usize, usize)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let (mut bytes, mut posts) = (0usize, 0usize);
                        while started.elapsed() < deadline {
                            for (name, document) in &self.documents {
                                posts += self.ingest(name, document);
                                bytes += document.len();
                            }
                        }
                        (bytes, posts)
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let (bytes, posts) = results.iter().fold((0, 0), |(b, p), (wb, wp)| (b + wb, p + wp));
        let name = if threads == 1 { "planet, one thread".to_string() } else { format!("planet, {threads} threads") };
        Throughput {
            name,
            cores: threads,
            bytes: bytes as f64,
            posts: posts as f64,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

fn run_feedparser(files: &[PathBuf], seconds: f64) -> Throughput {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench_feedparser.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(seconds.to_string())
        .args(files)
        .output()
        .expect("python3 with feedparser");
    assert!(output.status.success(), "feedparser run failed: {}", String::from_utf8_lossy(&output.stderr));
    Throughput::from_peer_json("python feedparser", &serde_json::from_slice(&output.stdout).unwrap())
}

/// Builds benches/gofeed/main.go against Debian's gofeed and bluemonday (GOPATH mode), or
/// says why it cannot.
fn build_gofeed() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let gopath = std::env::var("PLANET_BENCH_GOPATH").unwrap_or_else(|_| "/usr/share/gocode".to_string());
    for package in ["github.com/mmcdole/gofeed", "github.com/microcosm-cc/bluemonday"] {
        if !Path::new(&gopath).join("src").join(package).is_dir() {
            return Err(format!("{package} is not under {gopath}/src (apt-get install golang-github-mmcdole-gofeed-dev golang-github-microcosm-cc-bluemonday-dev)"));
        }
    }
    let binary = manifest.join("target/gofeed-bench");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(manifest.join("benches/gofeed/main.go"))
        .env("GO111MODULE", "off")
        .env("GOPATH", &gopath)
        .env("GOCACHE", manifest.join("target/gocache"))
        .output()
        .map_err(|e| format!("go is not installed ({e}); apt-get install golang-go"))?;
    if !built.status.success() {
        return Err(format!("go build failed: {}", String::from_utf8_lossy(&built.stderr).trim()));
    }
    Ok(binary)
}

/// gofeed + bluemonday on one core, and the posts it found per file in its first round.
fn run_gofeed(binary: &Path, files: &[PathBuf], seconds: f64) -> (Throughput, serde_json::Value) {
    let output = Command::new(binary).arg(seconds.to_string()).args(files).output().expect("the gofeed bench runs");
    assert!(output.status.success(), "gofeed run failed: {}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    (Throughput::from_peer_json("go gofeed + bluemonday UGC", &value), value)
}

/// Files where the peer found fewer posts than planet, and how many posts it lost there.
fn posts_lost_by_peer(files: &[PathBuf], planet: &[usize], peer: &serde_json::Value) -> (Vec<String>, usize) {
    let peer: Vec<usize> =
        peer["posts_per_file"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap() as usize).collect();
    let mut short = Vec::new();
    let mut lost = 0;
    for ((path, &ours), &theirs) in files.iter().zip(planet).zip(&peer) {
        if theirs < ours {
            lost += ours - theirs;
            short.push(format!("{} ({theirs} of {ours})", path.file_name().unwrap().to_string_lossy()));
        }
    }
    (short, lost)
}

/// `--planet-rounds N`: planet alone, one thread, exactly N rounds of the corpus: fixed work
/// for a profiler (perf record, valgrind --tool=callgrind) to compare two builds with.
fn profile_rounds(corpus: &Corpus, rounds: usize) {
    let started = Instant::now();
    let mut posts = 0;
    for _ in 0..rounds {
        posts += corpus.documents.iter().map(|(name, document)| corpus.ingest(name, document)).sum::<usize>();
    }
    let seconds = started.elapsed().as_secs_f64();
    let bytes: usize = corpus.documents.iter().map(|(_, d)| d.len()).sum::<usize>() * rounds;
    println!(
        "planet alone: {rounds} rounds, {posts} posts, {seconds:.3} s, {:.2} MB/s on one thread",
        bytes as f64 / seconds / 1e6
    );
}

fn main() {
    let default_seconds = if support::smoke_run() { 0.2 } else { 5.0 };
    let seconds: f64 = std::env::args()
        .skip_while(|a| a != "--seconds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seconds);
    let corpus = Corpus::load();
    let corpus_bytes: usize = corpus.documents.iter().map(|(_, d)| d.len()).sum();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    if let Some(rounds) = std::env::args().skip_while(|a| a != "--planet-rounds").nth(1).and_then(|n| n.parse().ok()) {
        profile_rounds(&corpus, rounds);
        return;
    }

    let planet_one = corpus.run_planet(1, seconds);
    let planet_all = corpus.run_planet(cores, seconds);
    let feedparser = run_feedparser(&corpus.files, seconds);
    let gofeed = build_gofeed().map(|binary| run_gofeed(&binary, &corpus.files, seconds));

    println!(
        "ingest: {} files, {:.1} MB per round, {seconds} s per side",
        corpus.documents.len(),
        corpus_bytes as f64 / 1e6
    );
    println!("{:<30} {:>10} {:>12} {:>8}", "parser", "MB/s", "posts/s", "cores");
    let mut rows = vec![&planet_one, &planet_all, &feedparser];
    if let Ok((peer, _)) = &gofeed {
        rows.push(peer);
    }
    for row in rows {
        let posts_per_second = row.posts / row.seconds;
        println!("{:<30} {:>10.2} {:>12.0} {:>8}", row.name, row.megabytes_per_second(), posts_per_second, row.cores);
    }
    let per_core = |peer: &Throughput| planet_one.megabytes_per_second() / peer.megabytes_per_second();
    let mut summary =
        format!("summary: per core, planet ingests {:.1}x feedparser's throughput", per_core(&feedparser));
    match &gofeed {
        Ok((peer, counts)) => {
            let (short, lost) = posts_lost_by_peer(&corpus.files, &corpus.planet_posts_per_file(), counts);
            let failed = counts["failed"].as_u64().unwrap_or(0);
            println!(
                "gofeed found fewer posts than planet in {} files ({lost} posts): {}",
                short.len(),
                short.join(", ")
            );
            println!("gofeed could not parse {failed} of {} files", corpus.files.len());
            summary.push_str(&format!(" and {:.2}x gofeed + bluemonday's", per_core(peer)));
        }
        Err(why) => println!("gofeed + bluemonday skipped: {why}"),
    }
    summary.push_str(&format!(
        "; on {cores} cores, {:.1}x feedparser's one core",
        planet_all.megabytes_per_second() / feedparser.megabytes_per_second()
    ));
    println!("{summary}");
}
