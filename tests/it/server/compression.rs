//! How hard a body is compressed, and where: a body every reader shares thoroughly, once; a
//! page one client chose (a crawler's cursor) quickly; a large body never on an async worker.

use super::app::{member, spawn_app};
use crate::helpers::rss;

/// gzip's XFL header byte: 4 when the compressor used its fastest level, 0 for the middle ones.
fn gzip_level_flag(compressed: &[u8]) -> u8 {
    assert_eq!(&compressed[..2], &[0x1f, 0x8b], "a gzip stream");
    compressed[8]
}

fn gunzip(compressed: &[u8]) -> String {
    let mut inflated = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(compressed), &mut inflated).unwrap();
    inflated
}

#[tokio::test]
async fn a_shared_feed_is_compressed_thoroughly_and_a_page_one_client_chose_quickly() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 100))], None).await;
    app.pass().await;
    for (path, flag, why) in [
        ("/feed.atom", 0, "every reader's feed: gzip 6"),
        ("/api/v1/posts?limit=100&member=alice", 4, "a page keyed by its query: gzip 1"),
    ] {
        let identity = app.text(path).await.1;
        let response = app.get_with(path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        let compressed = response.bytes().await.unwrap();
        assert_eq!(gzip_level_flag(&compressed), flag, "{path}: {why}");
        assert_eq!(gunzip(&compressed), identity, "{path}");
    }
}

#[tokio::test]
async fn a_large_body_goes_out_uncompressed_rather_than_wait_when_every_read_permit_is_held() {
    let app = spawn_app(vec![member("alice", "Alice", rss("alice", 100))], None).await;
    app.pass().await;
    let path = "/api/v1/posts?limit=100";
    let identity = app.text(path).await.1;
    assert!(identity.len() >= 16 * 1024, "large enough to be compressed off the workers: {} bytes", identity.len());
    let held = app.service.reads.take_all();
    let response = app.get_with(path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(response.status(), 200, "a cached page needs no permit, and its compression is optional");
    assert!(response.headers().get("content-encoding").is_none(), "sent as it is, not compressed on the worker");
    assert_eq!(response.text().await.unwrap(), identity);
    drop(held);
    let response = app.get_with(path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(response.headers()["content-encoding"], "gzip", "compressed once a permit is free");
    assert_eq!(gunzip(&response.bytes().await.unwrap()), identity);
}
