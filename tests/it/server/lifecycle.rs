//! The running process: reload (a member added is fetched on the next pass, a member removed
//! disappears from every output, an invalid file is ignored), graceful shutdown, the admin
//! token, health and metrics.

use chrono::Utc;

use super::app::{member, spawn_app};
use crate::helpers::rss;

#[tokio::test]
async fn reloading_adds_and_removes_members_and_ignores_an_invalid_file() {
    let app =
        spawn_app(vec![member("alice", "Alice", rss("alice", 2)), member("bob", "Bob", rss("bob", 2))], None).await;
    app.pass().await;
    assert_eq!(app.posts("").await.1["posts"].as_array().unwrap().len(), 4);

    assert!(app.rewrite_config(&[member("alice", "Alice", rss("alice", 2)), member("carol", "Carol", rss("carol", 3))]));
    let (_, page) = app.posts("").await;
    assert!(page["posts"].as_array().unwrap().iter().all(|p| p["member"]["id"] == "alice"), "bob is gone at once");
    let (_, atom) = app.feed_atom("").await;
    assert!(!atom.contains("bob post"));
    assert_eq!(app.member("bob").await.0, 404);
    assert_eq!(app.member_page("bob").await.0, 404);
    let (_, members) = app.members().await;
    assert_eq!(members["members"].as_array().unwrap().len(), 2);

    app.pass().await;
    assert_eq!(
        app.posts("?member=carol").await.1["posts"].as_array().unwrap().len(),
        3,
        "carol is fetched on the next pass"
    );

    std::fs::write(&app.config_path, "[site]\ntitle = \"broken\"\nurl = 12\n").unwrap();
    assert!(!app.service.reload());
    assert_eq!(app.members().await.1["members"].as_array().unwrap().len(), 2, "the old config stays");
}

#[tokio::test]
async fn a_changed_file_on_disk_is_noticed() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    assert!(!app.service.reload_if_modified(), "nothing changed yet");
    let text = std::fs::read_to_string(&app.config_path).unwrap().replace("测试 Planet", "Renamed Planet");
    // A different length and a later mtime: the check compares modification times.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    std::fs::write(&app.config_path, text).unwrap();
    std::fs::File::options().write(true).open(&app.config_path).unwrap().set_modified(later).unwrap();
    assert!(app.service.reload_if_modified());
    assert!(app.index("").await.1.contains("Renamed Planet"));
}

#[tokio::test]
async fn shutdown_finishes_flushes_and_releases_the_store() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 3))], None).await;
    app.pass().await;
    let store_path = app.store_path.clone();
    let (result, _directory) = app.shutdown().await;
    result.expect("run returns Ok after a graceful shutdown");
    let store = planet::store::Store::open(&store_path, 1024 * 1024).expect("the lock is released");
    assert_eq!(store.post_count(), 3);
}

#[tokio::test]
async fn the_admin_refresh_needs_the_token_and_is_off_without_one() {
    let without = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    let (status, body) = without.admin_refresh(Some("anything"), "").await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("admin_disabled")));

    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 2))], Some("s3cret-token")).await;
    assert_eq!(app.admin_refresh(None, "").await.0, 401);
    assert_eq!(app.admin_refresh(Some("s3cret-tokex"), "").await.0, 401);
    assert_eq!(app.admin_refresh(Some("s3cret"), "").await.0, 401);
    assert_eq!(app.admin_refresh(Some("s3cret-token"), "?member=nobody").await.0, 404);
    let (status, body) = app.admin_refresh(Some("s3cret-token"), "?member=alice").await;
    assert_eq!((status, body["member"].as_str()), (202, Some("alice")));
    app.service.wait_for_pass().await;
    assert_eq!(app.posts("").await.1["posts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn health_and_metrics_report_the_last_pass() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 2))], None).await;
    let before = Utc::now();
    app.pass().await;
    let (status, health) = app.healthz().await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    let last = chrono::DateTime::parse_from_rfc3339(health["last_pass"].as_str().unwrap()).unwrap();
    assert!(last >= before);
    app.feed_atom("").await;
    let (_, metrics) = app.metrics().await;
    for line in [
        "planet_fetches_total{result=\"refreshed\"} 1",
        "planet_posts_stored 2",
        "planet_passes_total 1",
        "planet_fetch_duration_seconds_count 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(metrics.contains("planet_http_requests_total{route=\"/feed.atom\",status=\"200\"} 1"), "{metrics}");
}

#[tokio::test]
async fn a_pass_is_due_at_start_only_when_the_last_is_older_than_the_schedule() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 1))], None).await;
    let now = Utc::now();
    assert!(!app.service.pass_is_due(now).unwrap(), "spawn_app recorded a pass just now; the schedule is yearly");
    assert!(app.service.pass_is_due(now + chrono::TimeDelta::days(400)).unwrap());
    let next = app.service.next_pass_after(now);
    assert!(next > now && next <= now + chrono::TimeDelta::days(367));
}
