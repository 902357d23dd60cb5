//! Take-downs: a post hidden by the admin leaves every output at once (feeds, pages, API,
//! search, the digest), answers 410, stays hidden through later fetches, and comes back when
//! unhidden; every action is in the moderation log.

use super::app::{member, spawn_app, TestApp};
use crate::helpers::rss;

const TOKEN: &str = "an-admin-token-of-at-least-32-characters";

/// Every output that lists posts, as text, with where it came from.
async fn outputs(app: &TestApp) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for path in [
        "/feed.atom",
        "/feed.rss",
        "/feed.json",
        "/feed.atom?member=alice",
        "/feed.atom?tag=dotnet",
        "/api/v1/posts?limit=100",
        "/api/v1/posts?q=alice",
        "/",
        "/members/alice",
        "/search?q=alice",
        "/api/v1/digests/2026-W44",
        "/digest/2026-W44",
        "/digest.atom",
    ] {
        let (status, body) = app.text(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        all.push((path.to_string(), body));
    }
    all
}

#[tokio::test]
async fn a_hidden_post_leaves_every_output_at_once_stays_hidden_and_comes_back_when_unhidden() {
    let mut alice = member("alice", "Alice", rss("alice", 3));
    alice.tags = vec!["dotnet"];
    let app = spawn_app(vec![alice], Some(TOKEN)).await;
    app.pass().await;
    let (_, page) = app.posts("?limit=100").await;
    let hidden = page["posts"].as_array().unwrap().iter().find(|p| p["title"] == "alice post 0").unwrap().clone();
    let id = hidden["id"].as_str().unwrap();
    let title = "alice post 0";
    assert!(outputs(&app).await.iter().all(|(_, body)| body.contains(title)), "listed before");

    assert_eq!(app.admin_moderate(None, id, "hide", "").await, 401);
    assert_eq!(app.admin_moderate(Some(TOKEN), "0123abcd", "hide", "").await, 404);
    assert_eq!(app.admin_moderate(Some(TOKEN), id, "hide", "?reason=spam+link").await, 200);
    for (path, body) in outputs(&app).await {
        assert!(!body.contains(title), "{path} still lists the hidden post");
        // Week 44 held only the hidden post (published Sunday 1 November).
        assert!(path.contains("W44") || body.contains("alice post 1"), "{path} lost the other posts");
    }
    let (status, body) = app.post(id).await;
    assert_eq!((status, body["error"]["code"].as_str()), (410, Some("gone")));

    app.pass().await;
    assert_eq!(app.post(id).await.0, 410, "a later fetch of the feed does not bring it back");
    assert!(!app.feed_atom("").await.1.contains(title));

    assert_eq!(app.admin_moderate(Some(TOKEN), id, "unhide", "").await, 200);
    assert!(outputs(&app).await.iter().all(|(_, body)| body.contains(title)), "listed again");
    let log = app.service.store.moderation_log().unwrap();
    let actions: Vec<_> = log.iter().map(|e| (e.action, e.post_id.as_str(), e.reason.as_deref())).collect();
    assert_eq!(
        actions,
        [(planet::store::Action::Hide, id, Some("spam link")), (planet::store::Action::Unhide, id, None)]
    );
}
