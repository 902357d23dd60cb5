//! The `planet` binary as an admin or a member runs it: config errors that name file, line and
//! key; `check` over the whole corpus; `fetch` against a loopback server; export and import.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::helpers::{members, rss, FixtureServer, Route, LOOPBACK_FIXTURES};

fn planet(args: &[&str], directory: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_planet"))
        .args(args)
        .current_dir(directory)
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_config(directory: &Path, body: &str) -> PathBuf {
    let path = directory.join("feeds.toml");
    let config = format!("[site]\ntitle = \"CLI test\"\nurl = \"http://127.0.0.1/\"\n\n[store]\npath = \"store\"\ncache_mb = 4\n\n{body}");
    std::fs::write(&path, config).unwrap();
    path
}

#[test]
fn an_unknown_key_is_reported_with_file_line_and_key() {
    let directory = tempfile::tempdir().unwrap();
    write_config(
        directory.path(),
        "[[members]]\nid = \"alice\"\nname = \"Alice\"\nfeed = \"https://alice.example.cn/feed\"\ncolour = \"blue\"\n",
    );
    let output = planet(&["config", "check"], directory.path());
    assert_eq!(output.status.code(), Some(2));
    let error = text(&output.stderr);
    assert!(error.contains("feeds.toml:13: members.colour: unknown field `colour`"), "{error}");
}

#[test]
fn a_bad_value_is_reported_with_file_line_and_key() {
    let directory = tempfile::tempdir().unwrap();
    write_config(directory.path(), "[fetch]\nconcurrency = 4\ntimeout = \"soon\"\n");
    let error = text(&planet(&["config", "check"], directory.path()).stderr);
    assert!(error.contains("feeds.toml:11: fetch.timeout: 'soon' is not a duration"), "{error}");

    write_config(directory.path(), "[[members]]\nid = \"Alice Smith\"\nname = \"A\"\nfeed = \"https://a.cn/feed\"\n");
    let error = text(&planet(&["config", "check"], directory.path()).stderr);
    assert!(error.contains("feeds.toml:10: members.id: 'Alice Smith' may hold only a-z"), "{error}");

    write_config(directory.path(), "[fetch]\nschedule = \"0 9 * * 1\"\n");
    let error = text(&planet(&["config", "check"], directory.path()).stderr);
    assert!(error.contains("feeds.toml:10: fetch.schedule: weekday '1' is a number"), "{error}");

    write_config(directory.path(), "[river]\nmax_per_member_per_day = 0\n");
    let error = text(&planet(&["config", "check"], directory.path()).stderr);
    assert!(error.contains("feeds.toml:10: river.max_per_member_per_day: must be at least 1"), "{error}");
}

#[test]
fn config_check_says_which_notify_target_lacks_its_environment_variables_without_showing_them() {
    let directory = tempfile::tempdir().unwrap();
    write_config(
        directory.path(),
        "[[notify]]\nname = \"dotnet-group\"\nkind = \"wecom\"\nurl_env = \"PLANET_TEST_WECOM_URL\"\n\n\
         [[notify]]\nname = \"feishu-group\"\nkind = \"feishu\"\nurl_env = \"PLANET_TEST_FEISHU_URL\"\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_planet"))
        .args(["config", "check"])
        .current_dir(directory.path())
        .env("RUST_LOG", "off")
        .env("PLANET_TEST_WECOM_URL", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=TOKEN123")
        .env_remove("PLANET_TEST_FEISHU_URL")
        .output()
        .unwrap();
    assert!(output.status.success(), "a missing variable is not fatal: {}", text(&output.stderr));
    let printed = text(&output.stdout);
    assert!(printed.contains("dotnet-group") && printed.contains("ready (qyapi.weixin.qq.com)"), "{printed}");
    assert!(printed.contains("skipped: notify target 'feishu-group': $PLANET_TEST_FEISHU_URL is not set"), "{printed}");
    assert!(!printed.contains("TOKEN123"), "the hook's token is never printed: {printed}");
}

#[test]
fn the_bundled_feeds_toml_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = planet(&["config", "check"], root);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let printed = text(&output.stdout);
    assert!(printed.contains("feeds.toml: valid") && printed.contains("members:"), "{printed}");
}

#[test]
fn check_over_every_file_in_the_corpus_finishes_without_a_panic_and_summarizes() {
    let files: Vec<String> =
        crate::corpus::files_under(&crate::corpus::corpus()).iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    let output = planet(&args, Path::new(env!("CARGO_MANIFEST_DIR")));
    let printed = text(&output.stdout);
    let summary = printed.lines().find(|l| l.starts_with("checked ")).expect("a summary line");
    println!("planet check over the corpus: {summary}");
    assert!(summary.starts_with(&format!("checked {} inputs", files.len())), "{summary}");
    assert!(summary.ends_with(", 0 panicked"), "{summary}");
}

#[test]
fn check_reports_what_would_be_stored_as_json_lines() {
    let directory = tempfile::tempdir().unwrap();
    let feed = directory.path().join("feed.xml");
    std::fs::write(&feed, rss("alice", 2)).unwrap();
    let output = planet(
        &["check", "--json", "--base-url", "https://alice.example.cn/", feed.to_str().unwrap()],
        directory.path(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let first_line = text(&output.stdout).lines().next().unwrap().to_string();
    let report: serde_json::Value = serde_json::from_str(&first_line).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["posts"].as_array().unwrap().len(), 2);
    assert_eq!(report["posts"][0]["title"], "alice post 0");
    assert_eq!(report["posts"][0]["content_html"], "<p>Body 0 of alice</p>");
}

#[test]
fn check_warns_when_one_fetch_alone_is_past_a_members_daily_budget() {
    let directory = tempfile::tempdir().unwrap();
    write_config(directory.path(), "[fetch]\nmember_posts_per_day = 3\n");
    let feed = directory.path().join("feed.xml");
    std::fs::write(&feed, rss("alice", 5)).unwrap();
    let output =
        planet(&["check", "--base-url", "https://alice.example.cn/", feed.to_str().unwrap()], directory.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("daily_budget: 2 posts were not stored"), "{}", text(&output.stdout));
}

#[tokio::test]
async fn fetch_prints_a_table_and_export_import_round_trips() {
    let server = FixtureServer::start().await;
    server.route("/a.xml", Route::feed_with_etag(rss("alice", 3), "\"a\""));
    server.route("/b.xml", Route::Status { status: 500, headers: vec![] });
    let directory = tempfile::tempdir().unwrap();
    write_config(
        directory.path(),
        &format!(
            "[fetch]\n{LOOPBACK_FIXTURES}\n{}",
            &members(&[("alice", server.url("/a.xml")), ("bob", server.url("/b.xml"))])
        ),
    );
    let dir = directory.path().to_path_buf();

    let run = |args: &'static [&'static str]| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || planet(args, &dir))
    };
    let first = run(&["fetch"]).await.unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let table = text(&first.stdout);
    assert!(table.contains("alice") && table.contains("refreshed"), "{table}");
    assert!(table.contains("bob") && table.contains("HTTP 500"), "{table}");
    assert!(
        table.contains("2 feeds: 1 refreshed, 0 not modified, 0 skipped, 0 gone, 1 failed; posts: 3 new"),
        "{table}"
    );

    let second = text(&run(&["fetch"]).await.unwrap().stdout);
    assert!(second.contains("1 not modified") && second.contains("1 skipped"), "{second}");

    let export = run(&["export", "--output", "backup.jsonl"]).await.unwrap();
    assert!(
        text(&export.stderr).contains("exported 3 posts, 2 feed states and 0 subscribers"),
        "{}",
        text(&export.stderr)
    );
    std::fs::remove_dir_all(dir.join("store")).unwrap();
    let import = run(&["import", "backup.jsonl"]).await.unwrap();
    assert!(
        text(&import.stderr).contains("imported 3 posts, 2 feed states and 0 subscribers"),
        "{}",
        text(&import.stderr)
    );
    assert!(text(&import.stderr).contains("rewrote the store's index files"), "{}", text(&import.stderr));
    let again = run(&["import", "--no-compact", "backup.jsonl"]).await.unwrap();
    assert!(again.status.success() && !text(&again.stderr).contains("rewrote"), "{}", text(&again.stderr));
    let compact = run(&["store", "compact"]).await.unwrap();
    assert!(compact.status.success(), "{}", text(&compact.stderr));
    assert!(text(&compact.stderr).contains("MB after"), "{}", text(&compact.stderr));
    // The index beside the deleted store was built from it: it is rebuilt, not trusted.
    let check = run(&["reindex", "--check"]).await.unwrap();
    assert!(text(&check.stdout).contains("the search index agrees with the store: 3 posts"), "{}", text(&check.stdout));
    let reindex = run(&["reindex"]).await.unwrap();
    assert!(text(&reindex.stdout).starts_with("indexed 3 posts"), "{}", text(&reindex.stdout));
    let if_needed = run(&["reindex", "--if-needed"]).await.unwrap();
    assert!(text(&if_needed.stdout).starts_with("indexed 0 posts"), "nothing to do: {}", text(&if_needed.stdout));
    let again = run(&["export", "--output", "again.jsonl"]).await.unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read(dir.join("backup.jsonl")).unwrap(), std::fs::read(dir.join("again.jsonl")).unwrap());
}

#[test]
fn a_second_process_on_the_same_store_gets_a_clear_message() {
    let directory = tempfile::tempdir().unwrap();
    write_config(directory.path(), "");
    let _held = planet::store::Store::open(&directory.path().join("store"), 1024 * 1024).unwrap();
    let output = planet(&["export"], directory.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("is in use by another planet process"), "{}", text(&output.stderr));
}

/// Reads the child's stderr line by line until a line contains `wanted`; returns that line.
pub fn read_until(lines: &mut impl Iterator<Item = std::io::Result<String>>, wanted: &str) -> String {
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains(wanted) {
            return line;
        }
    }
    panic!("the server ended before logging {wanted:?}");
}

// Two workers: the test blocks one reading the server's log while the fixture server, on
// the other, answers the server's fetches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_reloads_on_sighup_and_stops_cleanly_on_sigterm() {
    use std::io::BufRead;

    let server = FixtureServer::start().await;
    server.route("/a.xml", Route::feed(rss("alice", 2)));
    server.route("/b.xml", Route::feed(rss("bob", 1)));
    let directory = tempfile::tempdir().unwrap();
    let config = write_config(
        directory.path(),
        &format!("[fetch]\n{LOOPBACK_FIXTURES}\n{}", &members(&[("alice", server.url("/a.xml"))])),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_planet"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(directory.path())
        .env("RUST_LOG", "planet=info")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let stderr = child.stderr.take().unwrap();
    let (lines_sender, lines) = std::sync::mpsc::channel::<std::io::Result<String>>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = lines.into_iter();
    let serving = read_until(&mut lines, "serving");
    let address = serving.rsplit("address=").next().unwrap().trim().to_string();
    read_until(&mut lines, "fetch pass finished");

    // Keep the modification time, so only the signal can trigger the reload.
    let modified = std::fs::metadata(&config).unwrap().modified().unwrap();
    write_config(
        directory.path(),
        &format!(
            "[fetch]\n{LOOPBACK_FIXTURES}\n{}",
            &members(&[("alice", server.url("/a.xml")), ("bob", server.url("/b.xml"))])
        ),
    );
    std::fs::File::options().write(true).open(&config).unwrap().set_modified(modified).unwrap();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    read_until(&mut lines, "configuration reloaded");
    let members: serde_json::Value =
        reqwest::get(format!("http://{address}/api/v1/members")).await.unwrap().json().await.unwrap();
    assert_eq!(members["members"].as_array().unwrap().len(), 2);

    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    read_until(&mut lines, "stopped");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}");
    planet::store::Store::open(&directory.path().join("store"), 1024 * 1024)
        .expect("the store is released and readable");
}

#[test]
fn the_same_feed_gives_the_same_post_bytes_and_ids_in_every_process() {
    // ammonia appends the attributes planet adds to images in the order of a hash map seeded
    // per process; unordered, a restart changed every image post's content hash (an "edit")
    // and the id of posts that have neither GUID nor link (a duplicate).
    let directory = tempfile::tempdir().unwrap();
    let feed = directory.path().join("feed.xml");
    std::fs::write(
        &feed,
        "<rss version=\"2.0\"><channel><title>t</title><item><title>Pictures</title>\
         <description>&lt;p&gt;&lt;img src=\"https://a.example.cn/a.png\"&gt;&lt;img src=\"https://a.example.cn/b.png\"&gt;&lt;/p&gt;</description>\
         <pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate></item></channel></rss>",
    )
    .unwrap();
    let post_of = |output: Output| -> serde_json::Value {
        let line = text(&output.stdout).lines().next().unwrap().to_string();
        let report: serde_json::Value = serde_json::from_str(&line).unwrap();
        let post = &report["posts"][0];
        serde_json::json!({ "id": post["id"], "html": post["content_html"] })
    };
    let first = post_of(planet(&["check", "--json", feed.to_str().unwrap()], directory.path()));
    let html = first["html"].as_str().unwrap();
    assert!(html.contains("referrerpolicy=\"no-referrer\" loading=\"lazy\""), "{html}");
    for _ in 0..7 {
        assert_eq!(post_of(planet(&["check", "--json", feed.to_str().unwrap()], directory.path())), first);
    }
}

#[test]
fn serve_refuses_to_start_with_a_weak_admin_token() {
    let directory = tempfile::tempdir().unwrap();
    write_config(directory.path(), "");
    let regular = ["a".repeat(32), "ab".repeat(20), "0123456789".repeat(4)];
    for weak in ["x", "  short-token-with-spaces-around  ", &"a".repeat(31), &regular[0], &regular[1], &regular[2]] {
        let output = Command::new(env!("CARGO_BIN_EXE_planet"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(directory.path())
            .env("PLANET_ADMIN_TOKEN", weak)
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        assert!(!output.status.success(), "started with {weak:?}");
        let said = text(&output.stderr);
        assert!(said.contains("PLANET_ADMIN_TOKEN has") || said.contains("too regular"), "{said}");
    }
}

#[test]
fn a_random_admin_token_has_the_variety_a_weak_one_lacks() {
    assert!(planet::service::has_variety("3f9c2a7be14d8056c1e9a2b7d4f06e83a5c9b1d2e7f40a6c8b3d5e1f9a2c7b04"));
    assert!(planet::service::has_variety("Xq7-Lp2_Vz9kRw4tNb8mYc3hJd6sGf1a"));
    assert!(!planet::service::has_variety(&"a".repeat(64)));
    assert!(!planet::service::has_variety(&"abcdefghijkl".repeat(4)), "one pattern repeated");
}

#[tokio::test]
async fn hide_unhide_and_the_moderation_log_from_the_command_line_survive_export_and_import() {
    let server = FixtureServer::start().await;
    server.route("/a.xml", Route::feed_with_etag(rss("alice", 2), "\"a\""));
    let directory = tempfile::tempdir().unwrap();
    write_config(
        directory.path(),
        &format!("[fetch]\n{LOOPBACK_FIXTURES}\n{}", &members(&[("alice", server.url("/a.xml"))])),
    );
    let dir = directory.path().to_path_buf();
    let run = |args: Vec<String>| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || planet(&args.iter().map(String::as_str).collect::<Vec<_>>(), &dir))
    };
    let args = |text: &str| text.split(' ').map(str::to_string).collect::<Vec<_>>();
    assert!(run(args("fetch")).await.unwrap().status.success());
    let export = text(&run(args("export")).await.unwrap().stdout);
    let id = export.lines().find(|l| l.contains("alice post 0")).unwrap().split("\"id\":\"").nth(1).unwrap()[..32]
        .to_string();

    let hide = run(vec!["hide".into(), id.clone(), "--reason".into(), "copied from elsewhere".into()]).await.unwrap();
    assert!(text(&hide.stdout).contains("hidden from every output"), "{}", text(&hide.stderr));
    let missing = run(args("hide 0123abcd")).await.unwrap();
    assert!(!missing.status.success() && text(&missing.stderr).contains("no post '0123abcd'"));
    let log = text(&run(args("moderation log")).await.unwrap().stdout);
    assert!(
        log.contains(&id) && log.contains("hide") && log.contains("via cli") && log.contains("copied from elsewhere"),
        "{log}"
    );

    // The export keeps the post and the log; an import into an empty store restores both.
    let backup = run(args("export --output backup.jsonl")).await.unwrap();
    assert!(backup.status.success());
    let exported = std::fs::read_to_string(dir.join("backup.jsonl")).unwrap();
    assert!(exported.contains("alice post 0") && exported.contains("\"kind\":\"moderation\""));
    std::fs::remove_dir_all(dir.join("store")).unwrap();
    assert!(run(args("import backup.jsonl")).await.unwrap().status.success());
    let restored = text(&run(args("moderation log --json")).await.unwrap().stdout);
    assert_eq!(restored.lines().count(), 1, "{restored}");
    assert!(restored.contains(&id) && restored.contains("\"action\":\"hide\""));
    let unhide = run(vec!["unhide".into(), id.clone()]).await.unwrap();
    assert!(text(&unhide.stdout).contains("shown again"));
}

#[tokio::test]
async fn export_salvages_a_damaged_store_and_store_check_repair_makes_it_whole() {
    let server = FixtureServer::start().await;
    server.route("/a.xml", Route::feed_with_etag(rss("alice", 12), "\"a\""));
    let directory = tempfile::tempdir().unwrap();
    write_config(
        directory.path(),
        &format!("[fetch]\n{LOOPBACK_FIXTURES}\n{}", &members(&[("alice", server.url("/a.xml"))])),
    );
    let dir = directory.path().to_path_buf();
    let run = |args: &'static [&'static str]| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || planet(args, &dir))
    };
    assert!(run(&["fetch"]).await.unwrap().status.success());
    let log = std::fs::read_dir(dir.join("store"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("bodies-"))
        .unwrap();
    let length = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(length / 2).unwrap();

    let export = run(&["export", "--output", "salvage.jsonl"]).await.unwrap();
    assert!(export.status.success(), "a damaged store is exported as far as it reads: {}", text(&export.stderr));
    let salvaged = std::fs::read_to_string(dir.join("salvage.jsonl")).unwrap();
    let posts = salvaged.lines().filter(|line| line.contains("\"post\"")).count();
    assert!(posts > 0 && posts < 12, "{posts} posts salvaged");
    assert!(text(&export.stderr).contains(&format!("{} damaged posts", 12 - posts)), "{}", text(&export.stderr));
    let strict = run(&["export", "--strict", "--output", "strict.jsonl"]).await.unwrap();
    assert_eq!(strict.status.code(), Some(1), "--strict fails on damage");

    let check = run(&["store", "check"]).await.unwrap();
    assert_eq!(check.status.code(), Some(1));
    let report = text(&check.stdout);
    assert_eq!(report.lines().filter(|line| line.starts_with("damaged\t")).count(), 12 - posts, "{report}");
    assert!(report.contains(&format!("12 posts checked, {} damaged, 0 dropped", 12 - posts)), "{report}");
    let repair = run(&["store", "check", "--repair"]).await.unwrap();
    assert!(repair.status.success(), "{}", text(&repair.stdout));
    let whole = run(&["store", "check"]).await.unwrap();
    assert!(whole.status.success());
    assert!(text(&whole.stdout).contains(&format!("{posts} posts checked, 0 damaged")), "{}", text(&whole.stdout));

    // The dropped posts come back with the next fetch, and the store exports whole.
    assert!(run(&["fetch"]).await.unwrap().status.success());
    let again = run(&["export", "--strict", "--output", "whole.jsonl"]).await.unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("exported 12 posts"), "{}", text(&again.stderr));

    // A deleted body log loses every post in it, and still nothing refuses to run.
    std::fs::remove_file(&log).ok();
    for log in std::fs::read_dir(dir.join("store")).unwrap().map(|e| e.unwrap().path()) {
        if log.file_name().unwrap().to_string_lossy().starts_with("bodies-") {
            std::fs::remove_file(log).unwrap();
        }
    }
    let export = run(&["export", "--output", "empty.jsonl"]).await.unwrap();
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert!(text(&export.stderr).contains("12 damaged posts"), "{}", text(&export.stderr));
}
