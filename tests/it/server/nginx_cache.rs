//! planet behind a real nginx (Debian's package) running the shipped cache rules
//! (`deploy/nginx-planet.conf`): public reads are served from nginx's cache, one copy per
//! encoding, and still while planet is stopped; nothing private is ever cached.

use std::process::{Command, Stdio};

use super::app::{member, spawn_app, TestApp};
use crate::helpers::rss;

struct Nginx {
    /// nginx's prefix, holding its nginx.conf (and the pid file `nginx -s stop` reads).
    configuration: std::path::PathBuf,
    address: String,
    _directory: tempfile::TempDir,
}

impl Nginx {
    /// nginx on a free loopback port, proxying to planet at `upstream` (host:port).
    fn start(upstream: &str) -> Nginx {
        let directory = tempfile::tempdir().unwrap();
        let root = directory.path();
        for sub in ["cache", "temp"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        // nginx's workers run as an unprivileged user when the test runs as root.
        let _ = Command::new("chmod").args(["-R", "777", root.to_str().unwrap()]).status();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx-planet.conf");
        let root_text = root.display();
        let config = format!(
            "worker_processes 1;\npid {root_text}/nginx.pid;\nerror_log {root_text}/error.log;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {root_text}/temp/body;\n  proxy_temp_path {root_text}/temp/proxy;\n\
             proxy_cache_path {root_text}/cache keys_zone=planet_cache:1m max_size=20m inactive=1h use_temp_path=off;\n\
             upstream planet {{ server {upstream}; }}\n\
             server {{\n    listen 127.0.0.1:{port};\n    include {rules};\n  }}\n}}\n"
        );
        std::fs::write(root.join("nginx.conf"), config).unwrap();
        // Daemonized, nginx returns once its sockets are bound (it binds, then forks): ready,
        // without polling.
        let started = Command::new("nginx")
            .args(["-c", root.join("nginx.conf").to_str().unwrap(), "-p", root.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("nginx is installed (scripts/test.sh installs nginx-light)");
        assert!(started.success(), "nginx: {}", std::fs::read_to_string(root.join("error.log")).unwrap_or_default());
        let address = format!("http://127.0.0.1:{port}");
        Nginx { configuration: root.to_path_buf(), address, _directory: directory }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let (prefix, conf) = (self.configuration.to_str().unwrap(), self.configuration.join("nginx.conf"));
        let _ = Command::new("nginx")
            .args(["-c", conf.to_str().unwrap(), "-p", prefix, "-s", "stop"])
            .stderr(Stdio::null())
            .status();
    }
}

/// (status, X-Cache-Status, Content-Encoding, body) of a GET through nginx.
async fn get(client: &reqwest::Client, url: &str, gzip: bool) -> (u16, String, String, Vec<u8>) {
    let mut request = client.get(url);
    if gzip {
        request = request.header("accept-encoding", "gzip");
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (status, cache, encoding) = (response.status().as_u16(), header("x-cache-status"), header("content-encoding"));
    (status, cache, encoding, response.bytes().await.unwrap().to_vec())
}

/// How many requests planet itself answered on `route`, from its own metrics.
async fn answered_by_planet(app: &TestApp, route: &str) -> u64 {
    let (_, metrics) = app.metrics().await;
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("planet_http_requests_total{{route=\"{route}\"")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_serves_public_reads_from_its_cache_even_with_planet_stopped_and_never_caches_private_answers() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 3))], None).await;
    app.pass().await;
    let nginx = Nginx::start(app.address.trim_start_matches("http://"));
    let client = reqwest::Client::builder().no_gzip().no_brotli().no_deflate().build().unwrap();
    let url = |path: &str| format!("{}{path}", nginx.address);

    let public = ["/feed.atom", "/feed.rss", "/", "/members/alice", "/api/v1/posts?limit=5", "/digest.atom"];
    let mut kept = Vec::new();
    for path in public {
        let (status, first, _, body) = get(&client, &url(path), false).await;
        assert_eq!((status, first.as_str()), (200, "MISS"), "{path}");
        let (_, second, _, again) = get(&client, &url(path), false).await;
        assert_eq!(second, "HIT", "{path} is served from nginx's cache");
        assert_eq!(body, again);
        kept.push((path, body));
    }
    assert_eq!(answered_by_planet(&app, "/feed.atom").await, 1, "the HIT never reached planet");

    // One copy per encoding (Vary: Accept-Encoding): a gzip client gets gzip, the others not.
    let (_, cache, encoding, _) = get(&client, &url("/feed.atom"), true).await;
    assert_eq!((cache.as_str(), encoding.as_str()), ("MISS", "gzip"), "the gzip variant is its own entry");
    let (_, cache, encoding, _) = get(&client, &url("/feed.atom"), true).await;
    assert_eq!((cache.as_str(), encoding.as_str()), ("HIT", "gzip"));
    let (_, cache, encoding, body) = get(&client, &url("/feed.atom"), false).await;
    assert_eq!((cache.as_str(), encoding.as_str()), ("HIT", ""), "a client without gzip never gets the gzip copy");
    assert_eq!(body, kept[0].1);

    // Private answers: never from the cache, every time from planet.
    let private = [
        "/subscribe/confirm?token=personal-token",
        "/unsubscribe?token=personal-token",
        "/api/v1/posts?limit=5&token=x",
        "/websub/0123456789abcdef?hub.mode=subscribe&hub.challenge=c",
        "/healthz",
        "/metrics",
    ];
    for path in private {
        for _ in 0..2 {
            let (_, cache, _, _) = get(&client, &url(path), false).await;
            assert!(cache.is_empty() || cache == "BYPASS", "{path} must not be cached: {cache}");
        }
    }
    let refresh = client.post(url("/admin/refresh")).bearer_auth("t").send().await.unwrap();
    assert!(refresh.headers().get("x-cache-status").is_none_or(|v| v != "HIT"));

    // planet stops: the public reads are still there; nothing private is.
    let (stopped, _directory) = app.shutdown().await;
    stopped.unwrap();
    for (path, body) in &kept {
        let (status, cache, _, served) = get(&client, &url(path), false).await;
        assert_eq!(status, 200, "{path} while planet is stopped");
        assert!(cache == "HIT" || cache == "STALE", "{path}: {cache}");
        assert_eq!(&served, body);
    }
    for path in ["/subscribe/confirm?token=personal-token", "/healthz"] {
        let (status, _, _, _) = get(&client, &url(path), false).await;
        assert_eq!(status, 502, "{path} is never answered from the cache");
    }
}
