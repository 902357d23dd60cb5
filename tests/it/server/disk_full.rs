//! A full disk, for real: the store lives on a small tmpfs that the test fills. `serve`
//! starts on it (giving up the store's reserve so sled can open) and serves what it has;
//! `/healthz` says degraded while the store refuses writes; when space returns, the next
//! pass stores what it could not and the reserve is taken back. Mounting needs root, as CI
//! and the machines here have; without it the test says so and fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Utc;
use planet::refresh::PassOptions;

use super::app::{member, spawn_app_storing_at, TestApp};
use crate::helpers::rss;

/// A tmpfs of `megabytes` mounted on a new directory, unmounted when dropped.
struct SmallDisk {
    directory: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let directory = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(directory.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "this test mounts a tmpfs to fill it: run the tests as root (CI does)");
        SmallDisk { directory }
    }

    fn path(&self) -> &Path {
        self.directory.path()
    }

    /// Writes a file until the disk is full.
    fn fill(&self, name: &str) -> PathBuf {
        let path = self.path().join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        // Large writes until one fails, then smaller ones down to a byte: no room is left.
        for size in [64 << 10, 4 << 10, 512, 1] {
            let chunk = vec![0u8; size];
            while file.write_all(&chunk).is_ok() {}
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.directory.path()).status();
    }
}

async fn listed(app: &TestApp) -> usize {
    let (status, page) = app.posts("?limit=100").await;
    assert_eq!(status, 200);
    page["posts"].as_array().unwrap().len()
}

#[tokio::test]
async fn serve_starts_on_a_full_disk_reports_refused_writes_and_recovers_when_space_returns() {
    let disk = SmallDisk::mount(64);
    let store_path = disk.path().join("store");
    let first = spawn_app_storing_at(vec![member("alice", "Alice", rss("alice", 5))], store_path.clone()).await;
    first.pass().await;
    assert!(store_path.join("disk-reserve").exists(), "the store keeps a reserve while there is room");
    drop(first.shutdown().await);

    let filler = disk.fill("filler");
    let app = spawn_app_storing_at(vec![member("alice", "Alice", rss("alice", 5))], store_path.clone()).await;
    assert!(!store_path.join("disk-reserve").exists(), "the reserve was given up to open");
    for path in ["/", "/feed.atom", "/members/alice", "/api/v1/posts"] {
        assert_eq!(app.get(path).await.status().as_u16(), 200, "{path} is served from a full disk");
    }
    assert_eq!(listed(&app).await, 5);

    // The reserve's room taken too: the next pass cannot store alice's new posts.
    let second_filler = disk.fill("filler-2");
    // Four new posts of 20 KB: more than a page the body log may still have room in.
    // Text that does not compress: the body log stores posts LZ4-compressed.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let words: String = (0..3_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            format!("{seed:x} ")
        })
        .collect();
    let big = words;
    let with_big_posts = rss("alice", 9)
        .replace("Body 8 of alice", &big)
        .replace("Body 7 of alice", &big)
        .replace("Body 6 of alice", &big)
        .replace("Body 5 of alice", &big);
    app.rewrite_config(&[member("alice", "Alice", with_big_posts)]);
    let refused = app.service.try_run_pass(Utc::now(), &PassOptions::default()).await;
    assert!(refused.is_err() || refused.as_ref().is_ok_and(|r| r.is_some()), "the pass ran");
    let (_, health) = app.healthz().await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["store_writes"].as_str().unwrap().starts_with("refused"), "{health}");
    assert_eq!(listed(&app).await, 5, "what was stored is still served");

    std::fs::remove_file(filler).unwrap();
    std::fs::remove_file(second_filler).unwrap();
    app.pass().await;
    assert_eq!(listed(&app).await, 9, "the next pass stores what it could not");
    let (_, health) = app.healthz().await;
    assert_eq!(health["status"], "ok", "{health}");
    assert!(store_path.join("disk-reserve").exists(), "and the reserve is taken back");
    drop(app.shutdown().await);
}

#[tokio::test]
async fn export_of_a_store_on_a_full_disk_writes_nothing_to_the_store() {
    let disk = SmallDisk::mount(64);
    let store_path = disk.path().join("store");
    let app = spawn_app_storing_at(vec![member("alice", "Alice", rss("alice", 5))], store_path.clone()).await;
    app.pass().await;
    let config_path = app.config_path.clone();
    let (_, _kept) = app.shutdown().await;
    disk.fill("filler");
    let before = files_and_sizes(&store_path);
    let out = tempfile::tempdir().unwrap();
    let export = Command::new(env!("CARGO_BIN_EXE_planet"))
        .arg("--config")
        .arg(&config_path)
        .args(["export", "--output"])
        .arg(out.path().join("backup.jsonl"))
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    assert!(String::from_utf8_lossy(&export.stderr).contains("exported 5 posts"));
    let after = files_and_sizes(&store_path);
    let changed: Vec<_> = after
        .iter()
        .filter(|(name, _)| !name.starts_with("snap.") && name != "db" && name != "disk-reserve")
        .filter(|entry| !before.contains(entry))
        .collect();
    assert!(changed.is_empty(), "export changed {changed:?}");
}

/// (name, size) of every file in a store's directory.
fn files_and_sizes(path: &Path) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_file())
        .map(|entry| (entry.file_name().to_string_lossy().into_owned(), entry.metadata().unwrap().len()))
        .collect();
    files.sort();
    files
}
