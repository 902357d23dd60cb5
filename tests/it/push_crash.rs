//! A SIGKILL in the middle of a push delivery loses nothing and repeats nothing but the one
//! message the receiver held when planet died: the real `planet serve` binary, a webhook
//! receiver on loopback that stops answering at its second message, a kill, a restart.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, TimeDelta, Utc};

use crate::cli::read_until;
use crate::helpers::{FixtureServer, Route, LOOPBACK_FIXTURES};
use crate::robots::{Answer, Received, RobotServer};
use crate::server::push::{feed, verified_webhook, WEBHOOK_SECRET};

const TOKEN: &str = "crash-test-admin-token-7f3a9c2e5b1d8f4a6c0e";
const MEMBERS: [&str; 3] = ["ann", "bob", "cat"];
const POSTS_EACH: usize = 40;

struct Planet {
    child: Child,
    lines: std::sync::mpsc::IntoIter<std::io::Result<String>>,
    address: String,
}

impl Planet {
    fn start(directory: &std::path::Path, robots: &RobotServer) -> Planet {
        let mut child = Command::new(env!("CARGO_BIN_EXE_planet"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(directory)
            .env("RUST_LOG", "planet=info")
            .env("PLANET_ADMIN_TOKEN", TOKEN)
            .env("HOOK_URL", robots.url("/hook"))
            .env("HOOK_SECRET", WEBHOOK_SECRET)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = lines.into_iter();
        let serving = read_until(&mut lines, "serving");
        let address = serving.rsplit("address=").next().unwrap().trim().to_string();
        Planet { child, lines, address }
    }
}

impl Drop for Planet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The guid of each post each webhook message carried (from its link), with the message's
/// `webhook-id`, in the order received; every signature verified by the reference.
fn messages(received: &[Received]) -> Vec<(String, Vec<String>)> {
    received
        .iter()
        .map(|request| {
            let id = request.header("webhook-id").unwrap().to_string();
            let (timestamp, signature) =
                (request.header("webhook-timestamp").unwrap(), request.header("webhook-signature").unwrap());
            verified_webhook(WEBHOOK_SECRET, &id, timestamp, signature, &request.text()).unwrap();
            let link = |p: &serde_json::Value| {
                p["url"].as_str().unwrap().rsplit('/').next().unwrap().trim_end_matches(".html").to_string()
            };
            let posts = request.json()["posts"].as_array().unwrap().iter().map(link).collect();
            (id, posts)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_delivery_loses_no_post_and_repeats_only_the_message_in_flight() {
    let fixtures = FixtureServer::start().await;
    let robots = RobotServer::start().await;
    robots.answer_always("/hook", Answer::status(204, &[], ""));
    robots.hold_from("/hook", 1);
    let now = Utc::now();
    for member in MEMBERS {
        fixtures.route(
            &format!("/{member}.xml"),
            Route::feed(feed(member, &[("old", "旧文章", now - TimeDelta::days(9), &[])])),
        );
    }
    let directory = tempfile::tempdir().unwrap();
    let members: String = MEMBERS
        .iter()
        .map(|m| {
            format!("[[members]]\nid = \"{m}\"\nname = \"{m}\"\nfeed = \"{}\"\n\n", fixtures.url(&format!("/{m}.xml")))
        })
        .collect();
    let config = format!(
        "[site]\ntitle = \"Crash\"\nurl = \"http://127.0.0.1/\"\n\n[store]\npath = \"store\"\ncache_mb = 4\n\n\
         [fetch]\n{LOOPBACK_FIXTURES}schedule = \"0 0 0 1 1 *\"\n\n[river]\nmax_per_member_per_day = 1000\n\n\
         [[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl_env = \"HOOK_URL\"\nsecret_env = \"HOOK_SECRET\"\nbatch_minutes = 0\n\n{members}"
    );
    std::fs::write(directory.path().join("feeds.toml"), config).unwrap();

    let mut planet = Planet::start(directory.path(), &robots);
    let registered = read_until(&mut planet.lines, "push target registered");
    let added_at: DateTime<Utc> =
        registered.split("added_at=").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    // Posts published after the target was added (a few seconds ahead is within the future
    // grace planet allows a feed's clock).
    let mut expected = BTreeSet::new();
    for member in MEMBERS {
        let titles: Vec<String> = (0..POSTS_EACH).map(|i| format!("{member} 的第 {i} 篇")).collect();
        let guids: Vec<String> = (0..POSTS_EACH).map(|i| format!("{member}-{i}")).collect();
        let items: Vec<(&str, &str, DateTime<Utc>, &[&str])> = (0..POSTS_EACH)
            .map(|i| (guids[i].as_str(), titles[i].as_str(), added_at + TimeDelta::seconds(2 + i as i64), &[][..]))
            .collect();
        fixtures.route(&format!("/{member}.xml"), Route::feed(feed(member, &items)));
        expected.extend(guids);
    }
    let client = reqwest::Client::new();
    let refresh =
        client.post(format!("http://{}/admin/refresh", planet.address)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(refresh.status().as_u16(), 202);
    // The first message is accepted; the second reaches the receiver, which never answers.
    robots.wait_for("/hook", 2).await;
    planet.child.kill().unwrap();
    planet.child.wait().unwrap();
    drop(planet);

    robots.release("/hook");
    let _planet = Planet::start(directory.path(), &robots);
    let delivered = |messages: &[(String, Vec<String>)]| -> BTreeSet<String> {
        messages.iter().flat_map(|(_, posts)| posts.iter().cloned()).collect()
    };
    // One snapshot per round: counting and reading the messages separately could miss the
    // last arrival between the two and then wait for one more that never comes.
    let mut received = robots.received("/hook");
    while delivered(&messages(&received)) != expected {
        let next = robots.wait_for("/hook", received.len() + 1);
        if tokio::time::timeout(std::time::Duration::from_secs(120), next).await.is_err() {
            let got = delivered(&messages(&received));
            let missing: Vec<&String> = expected.difference(&got).collect();
            panic!("no further message in 120 s; missing {missing:?}; received {:?}", messages(&received));
        }
        received = robots.received("/hook");
    }
    let messages = messages(&received);
    let mut by_id: BTreeMap<&str, Vec<&Vec<String>>> = BTreeMap::new();
    for (id, posts) in &messages {
        by_id.entry(id.as_str()).or_default().push(posts);
    }
    let held = messages[1].0.as_str();
    let repeated: Vec<&str> = by_id.iter().filter(|(_, sent)| sent.len() > 1).map(|(id, _)| *id).collect();
    assert_eq!(repeated, vec![held], "only the message in flight is sent again");
    assert_eq!(by_id[held][0], by_id[held][1], "with the same posts under the same id");
    let once: Vec<&String> = by_id.values().flat_map(|sent| sent[0].iter()).collect();
    assert_eq!(once.len(), expected.len(), "no post in two messages, every post in one");
}
