//! `spawn_app()`: the real `planet serve` (`serve::run`) on 127.0.0.1:0 with its own store and
//! feeds.toml, fed by a loopback fixture server. `TestApp` has one method per endpoint, and
//! runs fetch passes and reloads as single steps instead of waiting for the loops.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use planet::refresh::{PassOptions, PassReport};
use planet::serve;
use planet::service::{self, Service};
use planet::store::Store;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{FixtureServer, Route, LOOPBACK_FIXTURES};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub fixtures: FixtureServer,
    pub service: Arc<Service>,
    pub config_path: PathBuf,
    pub store_path: PathBuf,
    /// The feeds.toml text after the members (kept by `rewrite_config`).
    extra_config: String,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<anyhow::Result<()>>>,
    directory: Option<tempfile::TempDir>,
}

/// A member of the test planet: id, display name, and the feed document it serves.
pub struct TestMember {
    pub id: &'static str,
    pub name: String,
    pub document: String,
    /// The member's `tags` in feeds.toml.
    pub tags: Vec<&'static str>,
    /// The documents of the member's second, third... feeds (served as `/{id}-{n}.xml`).
    pub more_documents: Vec<String>,
}

pub fn member(id: &'static str, name: &str, document: String) -> TestMember {
    TestMember { id, name: name.to_string(), document, tags: Vec::new(), more_documents: Vec::new() }
}

/// A member with several feeds, listed in this order.
pub fn member_with_feeds(id: &'static str, name: &str, mut documents: Vec<String>) -> TestMember {
    let first = documents.remove(0);
    TestMember { more_documents: documents, ..member(id, name, first) }
}

impl TestMember {
    /// The fixture paths of the member's feeds, in order, with their documents.
    fn feeds(&self) -> Vec<(String, &String)> {
        let more = self.more_documents.iter().enumerate().map(|(n, d)| (format!("/{}-{}.xml", self.id, n + 1), d));
        std::iter::once((format!("/{}.xml", self.id), &self.document)).chain(more).collect()
    }
}

pub fn config_text(store: &str, fixtures: &FixtureServer, members: &[TestMember]) -> String {
    let mut text = format!(
        "[site]\ntitle = \"测试 Planet\"\nurl = \"http://127.0.0.1/\"\nfeed_size = 50\nabout = \"社区每月在长沙举办活动。\"\n\n\
         [store]\npath = \"{store}\"\ncache_mb = 8\n\n\
         [fetch]\n{LOOPBACK_FIXTURES}schedule = \"0 0 0 1 1 *\"\ntimeout = \"2s\"\nread_timeout = \"1s\"\n\n"
    );
    for member in members {
        let urls: Vec<String> = member.feeds().iter().map(|(path, _)| fixtures.url(path)).collect();
        text.push_str(&format!(
            "[[members]]\nid = \"{}\"\nname = \"{}\"\nsite = \"https://{}.example.cn/\"\nfeeds = {:?}\ntags = {:?}\n\n",
            member.id,
            member.name.replace('\\', "\\\\").replace('"', "\\\""),
            member.id,
            urls,
            member.tags,
        ));
    }
    text
}

/// Starts planet with these members, their feeds served by a fixture server. The store
/// records a recent pass, so the scheduler stays idle and tests run passes themselves.
pub async fn spawn_app(members: Vec<TestMember>, admin_token: Option<&str>) -> TestApp {
    spawn_app_with(members, admin_token, "").await
}

/// `spawn_app` with extra feeds.toml text (a `[digest]` table, `[[events]]`).
pub async fn spawn_app_with(members: Vec<TestMember>, admin_token: Option<&str>, extra_config: &str) -> TestApp {
    spawn(members, Options { admin_token, extra_config, ..Options::default() }).await
}

/// `spawn_app_pushing` whose `[site] url` is its own address, so that a WebSub hub can
/// fetch its feeds and call its callback.
pub async fn spawn_app_at_own_url(
    members: Vec<TestMember>,
    extra_config: &str,
    variables: &[(&str, String)],
) -> TestApp {
    let variables = service::Variables::fixed(variables.iter().map(|(k, v)| (k.to_string(), v.clone())));
    spawn(members, Options { extra_config, variables, own_url: true, ..Options::default() }).await
}

/// `spawn_app_with` whose push targets read their `url_env` and `secret_env` from `variables`.
pub async fn spawn_app_pushing(members: Vec<TestMember>, extra_config: &str, variables: &[(&str, String)]) -> TestApp {
    let variables = service::Variables::fixed(variables.iter().map(|(k, v)| (k.to_string(), v.clone())));
    spawn(members, Options { extra_config, variables, ..Options::default() }).await
}

/// `spawn_app` with the store at `store_path` (on a file system the test made).
pub async fn spawn_app_storing_at(members: Vec<TestMember>, store_path: std::path::PathBuf) -> TestApp {
    spawn(members, Options { store_path: Some(store_path), ..Options::default() }).await
}

/// `spawn_app` with the SSRF guard as a default config has it: the fixture feeds, on
/// loopback, are refused.
pub async fn spawn_app_guarded(members: Vec<TestMember>) -> TestApp {
    spawn(members, Options { guarded: true, ..Options::default() }).await
}

/// How a test planet differs from the plain one.
#[derive(Default)]
struct Options<'a> {
    admin_token: Option<&'a str>,
    /// feeds.toml text after the members.
    extra_config: &'a str,
    /// The SSRF guard as a default config has it (loopback refused).
    guarded: bool,
    store_path: Option<std::path::PathBuf>,
    variables: service::Variables,
    /// `[site] url` is the server's own address.
    own_url: bool,
}

async fn spawn(members: Vec<TestMember>, options: Options<'_>) -> TestApp {
    let Options { admin_token, extra_config, guarded, store_path, variables, own_url } = options;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let fixtures = FixtureServer::start().await;
    for member in &members {
        for (path, document) in member.feeds() {
            fixtures.route(&path, Route::feed_with_etag(document.clone(), &format!("\"{}-1\"", member.id)));
        }
    }
    let directory = tempfile::tempdir().unwrap();
    let store_path = store_path.unwrap_or_else(|| directory.path().join("store"));
    let config_path = directory.path().join("feeds.toml");
    let mut text = format!("{}\n{extra_config}", config_text(&store_path.display().to_string(), &fixtures, &members));
    if guarded {
        text = text.replacen(LOOPBACK_FIXTURES, "", 1);
    }
    if own_url {
        text = text.replacen("url = \"http://127.0.0.1/\"", &format!("url = \"{address}/\""), 1);
    }
    std::fs::write(&config_path, text).unwrap();
    let config = planet::config::load(&config_path).unwrap();
    let store = Store::open(&store_path, config.store.cache_bytes).unwrap();
    store.set_last_pass(Utc::now()).unwrap();
    let secrets = service::Secrets {
        admin_token: admin_token.map(str::to_string),
        digest_secret: Some("test-digest-secret".into()),
        variables,
    };
    let service = Service::new(config, store, secrets).unwrap();
    // Tests step push delivery themselves, with their own clock.
    service.deliver_notifications_by_hand();
    // The new, empty index made ready here, so that `run`'s start-up rebuild has nothing to
    // do and cannot land in the middle of a test.
    service.update_search_index().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(serve::run(Arc::clone(&service), listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().no_gzip().no_brotli().no_deflate().build().unwrap();
    TestApp {
        address,
        client,
        fixtures,
        service,
        config_path,
        store_path,
        extra_config: extra_config.to_string(),
        stop: Some(stop),
        running: Some(running),
        directory: Some(directory),
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{}", self.address, path)).send().await.unwrap()
    }

    /// A form POST, as a browser sends it.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self.client.post(format!("{}{}", self.address, path)).form(form).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn digest_page(&self, week: &str) -> (u16, String) {
        self.text(&format!("/digest/{week}")).await
    }

    pub async fn digest_json(&self, week: &str) -> (u16, serde_json::Value) {
        self.json(&format!("/api/v1/digests/{week}")).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{}", self.address, path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    pub async fn text(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn feed_atom(&self, query: &str) -> (u16, String) {
        self.text(&format!("/feed.atom{query}")).await
    }

    pub async fn feed_rss(&self, query: &str) -> (u16, String) {
        self.text(&format!("/feed.rss{query}")).await
    }

    pub async fn feed_json(&self, query: &str) -> (u16, serde_json::Value) {
        self.json(&format!("/feed.json{query}")).await
    }

    pub async fn opml(&self) -> (u16, String) {
        self.text("/opml.xml").await
    }

    pub async fn posts(&self, query: &str) -> (u16, serde_json::Value) {
        self.json(&format!("/api/v1/posts{query}")).await
    }

    pub async fn post(&self, id: &str) -> (u16, serde_json::Value) {
        self.json(&format!("/api/v1/posts/{id}")).await
    }

    /// `/api/v1/posts?q=...` with the query encoded, plus `extra` parameters (`&sort=date`).
    pub async fn search(&self, q: &str, extra: &str) -> (u16, serde_json::Value) {
        let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        self.posts(&format!("?q={encoded}{extra}")).await
    }

    /// The `/search` page for `q`.
    pub async fn search_page(&self, q: &str) -> (u16, String) {
        let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
        self.text(&format!("/search?q={encoded}")).await
    }

    pub async fn members(&self) -> (u16, serde_json::Value) {
        self.json("/api/v1/members").await
    }

    pub async fn member(&self, id: &str) -> (u16, serde_json::Value) {
        self.json(&format!("/api/v1/members/{id}")).await
    }

    pub async fn stats(&self) -> (u16, serde_json::Value) {
        self.json("/api/v1/stats").await
    }

    pub async fn openapi(&self) -> (u16, serde_json::Value) {
        self.json("/api/openapi.json").await
    }

    pub async fn index(&self, query: &str) -> (u16, String) {
        self.text(&format!("/{query}")).await
    }

    pub async fn member_page(&self, id: &str) -> (u16, String) {
        self.text(&format!("/members/{id}")).await
    }

    pub async fn about(&self) -> (u16, String) {
        self.text("/about").await
    }

    pub async fn healthz(&self) -> (u16, serde_json::Value) {
        self.json("/healthz").await
    }

    pub async fn metrics(&self) -> (u16, String) {
        self.text("/metrics").await
    }

    pub async fn admin_refresh(&self, token: Option<&str>, query: &str) -> (u16, serde_json::Value) {
        let mut request = self.client.post(format!("{}/admin/refresh{query}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or_default())
    }

    /// `POST /admin/posts/{id}/{action}` (`hide` or `unhide`) with `query` (`?reason=...`).
    pub async fn admin_moderate(&self, token: Option<&str>, id: &str, action: &str, query: &str) -> u16 {
        let mut request = self.client.post(format!("{}/admin/posts/{id}/{action}{query}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// One fetch pass now, as the scheduler would run it.
    pub async fn pass(&self) -> PassReport {
        self.service.try_run_pass(Utc::now(), &PassOptions::default()).await.unwrap().expect("no other pass is running")
    }

    /// Rewrites feeds.toml with these members and reloads it, as SIGHUP would.
    pub fn rewrite_config(&self, members: &[TestMember]) -> bool {
        for member in members {
            for (path, document) in member.feeds() {
                self.fixtures.route(&path, Route::feed(document.clone()));
            }
        }
        let text = config_text(&self.store_path.display().to_string(), &self.fixtures, members);
        std::fs::write(&self.config_path, format!("{text}\n{}", self.extra_config)).unwrap();
        self.service.reload()
    }

    /// Stops the server as SIGTERM would; returns what `run` returned and the directory
    /// holding the store, kept so the test can reopen it.
    pub async fn shutdown(mut self) -> (anyhow::Result<()>, tempfile::TempDir) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = self.running.take().unwrap().await.unwrap();
        (result, self.directory.take().unwrap())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
