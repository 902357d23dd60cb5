//! A damaged body log: a truncated file or flipped bytes lose the posts they hold, and only
//! those. Every page still answers, `/healthz` says degraded with the count, the next fetch
//! writes the damaged posts again, and `planet store check --repair` makes the store whole.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::app::{member, spawn_app, TestApp};
use crate::helpers::rss;

/// The body log files of a store, in order.
fn body_logs(store: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(store)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("bodies-"))
        .collect();
    logs.sort();
    logs
}

/// Every page and feed that lists posts, with its status.
async fn statuses(app: &TestApp) -> Vec<(String, u16)> {
    let week = planet::digest::Week::containing(
        chrono::DateTime::parse_from_rfc3339("2026-11-04T12:00:00+08:00").unwrap().to_utc(),
        app.service.config().site.timezone,
    );
    let paths = [
        "/".to_string(),
        "/feed.atom".into(),
        "/feed.rss".into(),
        "/feed.json".into(),
        "/api/v1/posts?limit=100".into(),
        "/members/alice".into(),
        "/feed.atom?member=alice".into(),
        "/api/v1/posts?q=alice".into(),
        "/feed.atom?q=alice".into(),
        "/search?q=alice".into(),
        format!("/digest/{week}"),
        "/digest.atom".into(),
    ];
    let mut answered = Vec::new();
    for path in paths {
        answered.push((path.clone(), app.get(&path).await.status().as_u16()));
    }
    answered
}

#[tokio::test]
async fn a_truncated_and_corrupted_body_log_loses_only_its_posts_and_the_next_fetch_heals_them() {
    let members = || vec![member("alice", "Alice", rss("alice", 10)), member("bob", "Bob", rss("bob", 10))];
    let app = spawn_app(members(), None).await;
    app.pass().await;
    let logs = body_logs(&app.store_path);
    assert_eq!(logs.len(), 1, "{logs:?}");
    let length = std::fs::metadata(&logs[0]).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&logs[0]).unwrap();
    // The second half gone, and ten bytes flipped in the first.
    file.set_len(length / 2).unwrap();
    let mut file = file;
    file.seek(SeekFrom::Start(length / 8)).unwrap();
    file.write_all(&[0xff; 10]).unwrap();
    drop(file);

    for (path, status) in statuses(&app).await {
        assert_eq!(status, 200, "{path} answers despite the damage");
    }
    let (_, listed) = app.posts("?limit=100").await;
    let listed = listed["posts"].as_array().unwrap().len();
    assert!(listed > 0 && listed < 20, "readable posts are listed, damaged ones are not: {listed}");
    let (_, health) = app.healthz().await;
    assert_eq!(health["status"], "degraded", "{health}");
    let damaged = health["damaged_posts"].as_u64().unwrap();
    assert_eq!(damaged as usize, 20 - listed, "{health}");
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains(&format!("planet_posts_damaged {damaged}")), "{metrics}");

    // The next fetch writes the damaged posts again: the feeds answer with the same ETag as
    // before, and are fetched whole all the same while the store knows of damage.
    let report = app.pass().await;
    assert!(report.totals().updated >= damaged as usize, "{:?}", report.totals());
    let (_, listed) = app.posts("?limit=100").await;
    assert_eq!(listed["posts"].as_array().unwrap().len(), 20);
    let (_, health) = app.healthz().await;
    assert_eq!(health["status"], "ok", "{health}");
    let (_, atom) = app.feed_atom("").await;
    assert_eq!(atom.matches("<entry>").count(), 20);
}
