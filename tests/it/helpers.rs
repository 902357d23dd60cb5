//! Test harness: a fixture HTTP server on loopback whose routes can misbehave on purpose, and
//! `TestPlanet`, a configured planet with its own store that runs fetch passes on demand.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use planet::config::{self, Config};
use planet::fetch;
use planet::refresh::{self, PassOptions, PassReport};
use planet::store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a fixture route answers.
#[derive(Clone)]
pub enum Route {
    /// 200 with this body; answers 304 when If-None-Match carries the ETag.
    Feed { body: Vec<u8>, content_type: String, etag: Option<String> },
    /// 200 with a Last-Modified header; 304 when If-Modified-Since repeats it verbatim.
    Dated { body: Vec<u8>, last_modified: String },
    /// Any status with extra headers and a short body.
    Status { status: u16, headers: Vec<(String, String)> },
    /// A redirect with this status to this location.
    Redirect { status: u16, location: String },
    /// Headers at once, then one byte every `interval`, for ever.
    Drip { interval: Duration },
    /// Bytes as fast as the client reads them, for ever.
    Endless,
    /// A small gzip body that inflates to far more than it weighs.
    GzipBomb { body: Vec<u8> },
    /// This status, these headers, this body.
    Full { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
}

impl Route {
    pub fn feed(body: impl Into<Vec<u8>>) -> Route {
        Route::Feed { body: body.into(), content_type: "application/rss+xml".into(), etag: None }
    }

    pub fn gzip_bomb(inflated: usize) -> Route {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&vec![b' '; inflated]).unwrap();
        Route::GzipBomb { body: encoder.finish().unwrap() }
    }

    pub fn feed_with_etag(body: impl Into<Vec<u8>>, etag: &str) -> Route {
        Route::Feed { body: body.into(), content_type: "application/rss+xml".into(), etag: Some(etag.into()) }
    }
}

/// (If-Modified-Since, User-Agent) as one request sent them.
pub type SeenHeaders = (Option<String>, Option<String>);

#[derive(Default)]
struct Shared {
    routes: HashMap<String, Route>,
    /// Requests seen per path, with their If-None-Match header.
    requests: HashMap<String, Vec<Option<String>>>,
    /// If-Modified-Since and User-Agent of each request, per path.
    other_headers: HashMap<String, Vec<SeenHeaders>>,
    statuses: HashMap<String, Vec<u16>>,
}

/// A loopback HTTP/1.1 server for fixture feeds. Routes can be changed while it runs.
#[derive(Clone)]
pub struct FixtureServer {
    pub address: SocketAddr,
    /// Woken at every request, for tests that wait until one has arrived.
    arrived: Arc<tokio::sync::Notify>,
    shared: Arc<Mutex<Shared>>,
}

impl FixtureServer {
    pub async fn start() -> FixtureServer {
        FixtureServer::start_on("127.0.0.1").await
    }

    /// A fixture server on another loopback address (all of 127.0.0.0/8 is this machine).
    pub async fn start_on(ip: &str) -> FixtureServer {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let server = FixtureServer { address, shared, arrived: Arc::default() };
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let server = accepting.clone();
                tokio::spawn(async move { server.answer(stream).await });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    pub fn route(&self, path: &str, route: Route) {
        self.shared.lock().unwrap().routes.insert(path.to_string(), route);
    }

    /// Resolves once `path` has been requested (at once if it was).
    pub async fn requested(&self, path: &str) {
        loop {
            let arrival = self.arrived.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            if self.request_count(path) > 0 {
                return;
            }
            arrival.await;
        }
    }

    pub fn request_count(&self, path: &str) -> usize {
        self.shared.lock().unwrap().requests.get(path).map_or(0, Vec::len)
    }

    pub fn if_none_match_sent(&self, path: &str) -> Vec<Option<String>> {
        self.shared.lock().unwrap().requests.get(path).cloned().unwrap_or_default()
    }

    /// (If-Modified-Since, User-Agent) of each request to `path`.
    pub fn modified_since_and_agent(&self, path: &str) -> Vec<SeenHeaders> {
        self.shared.lock().unwrap().other_headers.get(path).cloned().unwrap_or_default()
    }

    pub fn statuses(&self, path: &str) -> Vec<u16> {
        self.shared.lock().unwrap().statuses.get(path).cloned().unwrap_or_default()
    }

    async fn answer(&self, mut stream: TcpStream) {
        let Some(head) = read_request_head(&mut stream).await else { return };
        let (path, if_none_match) = (head.path.clone(), head.header("if-none-match"));
        let if_modified_since = head.header("if-modified-since");
        let route = {
            let mut shared = self.shared.lock().unwrap();
            shared.requests.entry(path.clone()).or_default().push(if_none_match.clone());
            let others = (if_modified_since.clone(), head.header("user-agent"));
            shared.other_headers.entry(path.clone()).or_default().push(others);
            shared.routes.get(&path).cloned()
        };
        self.arrived.notify_waiters();
        let status = match route {
            None => write_simple(&mut stream, 404, &[], b"not found").await,
            Some(Route::Feed { body, content_type, etag }) => match etag {
                Some(etag) if Some(&etag) == if_none_match.as_ref() => {
                    write_simple(&mut stream, 304, &[("ETag".into(), etag)], b"").await
                }
                etag => {
                    let mut headers = vec![("Content-Type".to_string(), content_type)];
                    if let Some(etag) = etag {
                        headers.push(("ETag".into(), etag));
                    }
                    write_simple(&mut stream, 200, &headers, &body).await
                }
            },
            Some(Route::Dated { body, last_modified }) => {
                if if_modified_since.as_deref() == Some(last_modified.as_str()) {
                    write_simple(&mut stream, 304, &[], b"").await
                } else {
                    let headers = [
                        ("Last-Modified".to_string(), last_modified),
                        ("Content-Type".into(), "application/rss+xml".into()),
                    ];
                    write_simple(&mut stream, 200, &headers, &body).await
                }
            }
            Some(Route::Status { status, headers }) => write_simple(&mut stream, status, &headers, b"status").await,
            Some(Route::Redirect { status, location }) => {
                write_simple(&mut stream, status, &[("Location".into(), location)], b"").await
            }
            Some(Route::Drip { interval }) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nTransfer-Encoding: chunked\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                while stream.write_all(b"1\r\n<\r\n").await.is_ok() {
                    tokio::time::sleep(interval).await;
                }
                200
            }
            Some(Route::Endless) => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nTransfer-Encoding: chunked\r\n\r\n";
                let _ = stream.write_all(head.as_bytes()).await;
                let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
                200
            }
            Some(Route::Full { status, headers, body }) => write_simple(&mut stream, status, &headers, &body).await,
            Some(Route::GzipBomb { body }) => {
                let headers = [
                    ("Content-Type".to_string(), "application/rss+xml".to_string()),
                    ("Content-Encoding".into(), "gzip".into()),
                ];
                write_simple(&mut stream, 200, &headers, &body).await
            }
        };
        self.shared.lock().unwrap().statuses.entry(path).or_default().push(status);
    }
}

struct RequestHead {
    path: String,
    lines: Vec<String>,
}

impl RequestHead {
    fn header(&self, name: &str) -> Option<String> {
        self.lines.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_string())
        })
    }
}

async fn read_request_head(stream: &mut TcpStream) -> Option<RequestHead> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split_whitespace().nth(1)?.to_string();
    Some(RequestHead { path, lines: text.lines().map(str::to_string).collect() })
}

async fn write_simple(stream: &mut TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) -> u16 {
    let mut head = format!("HTTP/1.1 {status} Fixture\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
    status
}

/// A planet with its own store in a temporary directory.
pub struct TestPlanet {
    pub config: Config,
    pub store: Store,
    pub client: fetch::Client,
    _directory: tempfile::TempDir,
}

/// The `[fetch]` line every test config carries: fixture feeds are served on loopback, which
/// the SSRF guard refuses by default (the guard's own tests use the default).
pub const LOOPBACK_FIXTURES: &str = "allow_private = true\n";

impl TestPlanet {
    /// `members` is the `[[members]]` part of feeds.toml; `fetch` extra lines for `[fetch]`.
    /// Loopback fixtures are allowed past the SSRF guard.
    pub fn new(members: &str, fetch_settings: &str) -> TestPlanet {
        TestPlanet::with_fetch(members, &format!("{LOOPBACK_FIXTURES}{fetch_settings}"))
    }

    /// `new` with the SSRF guard as a default config has it: loopback refused.
    pub fn guarded(members: &str, fetch_settings: &str) -> TestPlanet {
        TestPlanet::with_fetch(members, fetch_settings)
    }

    fn with_fetch(members: &str, fetch_settings: &str) -> TestPlanet {
        let directory = tempfile::tempdir().unwrap();
        let store_path = directory.path().join("store");
        let text = format!(
            "[site]\ntitle = \"Test planet\"\nurl = \"http://127.0.0.1/\"\n\n[store]\npath = \"{}\"\ncache_mb = 8\n\n[fetch]\ntimeout = \"2s\"\nread_timeout = \"1s\"\nconnect_timeout = \"1s\"\n{fetch_settings}\n\n{members}",
            store_path.display().to_string().replace('\\', "/")
        );
        let config = config::parse(&text, Path::new("test-feeds.toml")).expect("test config is valid");
        let store = Store::open(&config.store.path, config.store.cache_bytes).unwrap();
        let client = fetch::Client::new(&config.fetch).unwrap();
        TestPlanet { config, store, client, _directory: directory }
    }

    pub async fn pass_at(&self, now: DateTime<Utc>) -> PassReport {
        refresh::run_pass(&self.config, &self.store, &self.client, now, &PassOptions::default()).await.unwrap()
    }

    pub async fn pass(&self) -> PassReport {
        self.pass_at(Utc::now()).await
    }

    pub fn state(&self, member: &str) -> planet::model::FeedState {
        let member_config = self.config.members.iter().find(|m| m.id.as_str() == member).unwrap();
        self.store.feed_state(&member_config.id, member_config.feeds[0].as_str()).unwrap().expect("a recorded state")
    }
}

/// `[[members]]` entries, one per (id, url).
pub fn members(feeds: &[(&str, String)]) -> String {
    feeds.iter().map(|(id, url)| format!("[[members]]\nid = \"{id}\"\nname = \"{id}\"\nfeed = \"{url}\"\n\n")).collect()
}

/// An RSS 2.0 document with `count` items named after `prefix`.
pub fn rss(prefix: &str, count: usize) -> String {
    let items: String = (0..count)
        .map(|i| {
            format!(
                "<item><title>{prefix} post {i}</title><link>https://{prefix}.example.cn/posts/{i}.html</link><guid>{prefix}-{i}</guid>\
                 <pubDate>Mon, {:02} Nov 2026 08:00:00 +0800</pubDate><description>&lt;p&gt;Body {i} of {prefix}&lt;/p&gt;</description></item>",
                1 + i % 25
            )
        })
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>{prefix}</title><link>https://{prefix}.example.cn/</link>{items}</channel></rss>")
}
