//! The weekly digest end to end: composed from stored posts, on the web, and mailed exactly
//! once per recipient. What only an SMTP conversation shows (the message as a real server
//! parses it, the subscribe → confirm → receive → one-click unsubscribe flow, the commands
//! as separate processes) goes through a real server on loopback (aiosmtpd,
//! scripts/smtp_sink.py); the rest delivers into planet's stub mailbox.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use planet::digest::send::{self, SendOptions};
use planet::digest::Week;
use planet::mail::StubMailbox;
use planet::store::SubscriberStatus;

use crate::server::app::{member, spawn_app_with, TestApp};

/// aiosmtpd on 127.0.0.1, writing each accepted message to a directory as JSON.
pub struct SmtpSink {
    pub port: u16,
    pub directory: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let directory = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/smtp_sink.py"))
            .arg(directory.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/test.sh installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening ").expect("the sink says where it listens").parse().unwrap();
        SmtpSink { port, directory, child }
    }

    pub fn messages(&self) -> Vec<serde_json::Value> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.directory.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "json") && p.file_name().is_some_and(|n| n != "control.json")
            })
            .collect();
        paths.sort();
        paths.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
    }

    pub fn messages_to(&self, address: &str) -> Vec<serde_json::Value> {
        self.messages().into_iter().filter(|m| m["rcpt_tos"].as_array().unwrap().iter().any(|r| r == address)).collect()
    }

    pub fn config(&self, recipients: &[&str]) -> String {
        digest_config(recipients, self.port)
    }
}

/// A `[digest]` table mailing `recipients` through 127.0.0.1:`smtp_port`, and a meetup.
fn digest_config(recipients: &[&str], smtp_port: u16) -> String {
    let recipients: Vec<String> = recipients.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        // A schedule that is never due in a test run: tests send with send_week themselves.
        "[digest]\ntitle = \"测试社区周报\"\nschedule = \"0 0 9 1 1 *\"\nfrom = \"测试社区周报 <digest@planet.example.cn>\"\nreply_to = \"team@planet.example.cn\"\n\
         recipients = [{}]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_security = \"none\"\n\n\
         [[events]]\ntitle = \"长沙 .NET 线下聚会\"\ndate = \"{}\"\nplace = \"长沙\"\nlink = \"https://meetup.example.cn/1\"\n",
        recipients.join(", "),
        smtp_port,
        (Utc::now() + TimeDelta::days(10)).format("%Y-%m-%d 14:00")
    )
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(b"");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn last_week() -> Week {
    Week::last_complete(Utc::now(), chrono_tz::Asia::Shanghai)
}

/// An RSS document with posts in the last complete week (Shanghai time).
fn last_week_feed(prefix: &str, count: usize) -> String {
    let start = last_week().start(chrono_tz::Asia::Shanghai);
    let items: String = (0..count)
        .map(|i| {
            let date = (start + TimeDelta::hours(30 + 20 * i as i64)).to_rfc2822();
            format!("<item><title>{prefix} 第 {i} 篇</title><link>https://{prefix}.example.cn/{i}</link><guid>{prefix}-{i}</guid><pubDate>{date}</pubDate><description>{prefix} 的摘要 {i}</description></item>")
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>{prefix}</title>{items}</channel></rss>")
}

/// Planet with two members who posted last week, delivering into a stub mailbox.
async fn app_with_stub(recipients: &[&str]) -> (TestApp, Arc<StubMailbox>) {
    // No server listens on port 9: a test that reached SMTP would fail, not pass.
    let app = spawn_app_with(
        vec![member("alice", "Alice", last_week_feed("alice", 2)), member("bob", "Bob", last_week_feed("bob", 3))],
        None,
        &digest_config(recipients, 9),
    )
    .await;
    let mailbox = Arc::new(StubMailbox::default());
    app.service.use_stub_mailbox(Arc::clone(&mailbox)).unwrap();
    app.pass().await;
    (app, mailbox)
}

async fn send(app: &TestApp, week: Week, options: SendOptions) -> anyhow::Result<send::SendReport> {
    let config = app.service.config();
    let mailer = app.service.mailer().expect("[digest] is configured");
    send::send_week(&config, &app.service.store, &mailer, app.service.digest_secret(), week, &options, Utc::now()).await
}

async fn app_with_sink(sink: &SmtpSink, recipients: &[&str]) -> TestApp {
    let app = spawn_app_with(
        vec![member("alice", "Alice", last_week_feed("alice", 2)), member("bob", "Bob", last_week_feed("bob", 3))],
        None,
        &sink.config(recipients),
    )
    .await;
    app.pass().await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_arrives_with_both_parts_the_right_headers_and_a_chinese_subject() {
    let sink = SmtpSink::start();
    let app = app_with_sink(&sink, &["list@lists.example.cn"]).await;
    let report = send(&app, last_week(), SendOptions::default()).await.unwrap();
    assert_eq!((report.sent.len(), report.completed), (1, true));
    let messages = sink.messages_to("list@lists.example.cn");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let week = last_week();
    let subject = format!("测试社区周报 · {} 第 {} 周 · 5 篇", week.year, week.number);
    assert_eq!(message["headers"]["Subject"], subject);
    assert_eq!(message["content_type"], "multipart/alternative");
    let types: Vec<&str> =
        message["parts"].as_array().unwrap().iter().map(|p| p["content_type"].as_str().unwrap()).collect();
    assert_eq!(types, vec!["text/plain", "text/html"]);
    let headers = &message["headers"];
    for header in ["Message-ID", "Date", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Reply-To"] {
        assert!(headers.get(header).is_some(), "{header} in {headers}");
    }
    assert_eq!(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    assert!(headers["List-Unsubscribe"]
        .as_str()
        .unwrap()
        .starts_with("<http://127.0.0.1/unsubscribe?token=unsubscribe."));
    let html = message["parts"][1]["body"].as_str().unwrap();
    assert!(html.contains("本周 2 位成员发表了 5 篇文章"));
    assert!(html.contains("href=\"https://bob.example.cn/0\""), "links are absolute");
    assert!(html.contains("http://127.0.0.1/digest/"), "a link to the page on the site");
    assert!(html.contains("长沙 .NET 线下聚会"), "upcoming events");
    assert!(!html.contains("<script") && !html.contains("<link rel=\"stylesheet\""), "no script, no external CSS");
    let text = message["parts"][0]["body"].as_str().unwrap();
    assert!(
        text.contains("== Bob ==") && text.find("== Bob ==") < text.find("== Alice =="),
        "most posts first: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_interrupted_after_two_of_five_resumes_and_mails_everyone_exactly_once() {
    let recipients = ["a@x.example.cn", "b@x.example.cn", "c@x.example.cn", "d@x.example.cn", "e@x.example.cn"];
    let (app, mailbox) = app_with_stub(&recipients).await;
    mailbox.refuse(&[], Some(2));
    let first = send(&app, last_week(), SendOptions::default()).await.unwrap();
    assert_eq!((first.sent.len(), first.pending.len(), first.completed), (2, 3, false));
    assert!(app.service.store.week_sent(&last_week().to_string()).unwrap().is_none(), "not complete yet");

    mailbox.refuse(&[], None);
    let second = send(&app, last_week(), SendOptions::default()).await.unwrap();
    assert_eq!((second.sent.len(), second.already_served.len(), second.completed), (3, 2, true));
    for recipient in recipients {
        assert_eq!(mailbox.messages_to(recipient).await.len(), 1, "{recipient} gets exactly one message");
    }
    let refused = send(&app, last_week(), SendOptions::default()).await.unwrap_err();
    assert!(refused.to_string().contains("already sent"), "{refused}");
    let forced = send(&app, last_week(), SendOptions { force: true, dry_run: false }).await.unwrap();
    assert_eq!((forced.sent.len(), forced.already_served.len()), (0, 5), "--force still skips those served");
    assert_eq!(mailbox.messages().await.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_rejection_is_recorded_and_reported_once() {
    let (app, mailbox) = app_with_stub(&["good@x.example.cn", "gone@x.example.cn"]).await;
    mailbox.refuse(&["gone@x.example.cn"], None);
    let report = send(&app, last_week(), SendOptions::default()).await.unwrap();
    assert_eq!(report.sent, vec!["good@x.example.cn".to_string()]);
    assert_eq!(report.rejected.len(), 1);
    assert!(report.rejected[0].1.contains("550"), "{:?}", report.rejected);
    assert!(report.completed);
    let delivery = app.service.store.delivery(&last_week().to_string(), "gone@x.example.cn").unwrap().unwrap();
    assert_eq!(delivery.status, planet::store::DeliveryStatus::Rejected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_week_has_a_page_that_says_so_and_sends_no_mail() {
    let app = spawn_app_with(
        vec![member("alice", "Alice", crate::helpers::rss("alice", 1))],
        None,
        &digest_config(&["l@x.example.cn"], 9),
    )
    .await;
    let mailbox = Arc::new(StubMailbox::default());
    app.service.use_stub_mailbox(Arc::clone(&mailbox)).unwrap();
    let week = last_week().previous().previous();
    let report = send(&app, week, SendOptions::default()).await.unwrap();
    assert!(report.empty && report.completed);
    assert!(mailbox.messages().await.is_empty());
    let (status, page) = app.digest_page(&week.to_string()).await;
    assert_eq!(status, 200);
    assert!(page.contains("本周没有成员发表文章。"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_confirm_receive_and_unsubscribe_in_one_click() {
    let sink = SmtpSink::start();
    let app = app_with_sink(&sink, &[]).await;
    let reader = "reader@mail.example.cn";
    let (status, page) = app.post_form("/subscribe", &[("email", reader)]).await;
    assert_eq!(status, 202, "{page}");
    app.service.send_queued_confirmations().await;
    let confirmation = &sink.messages_to(reader)[0];
    assert_eq!(confirmation["headers"]["MIME-Version"], "1.0", "{confirmation}");
    let content_type = confirmation["headers"]["Content-Type"].as_str().unwrap_or_default().to_ascii_lowercase();
    assert!(content_type.starts_with("text/plain") && content_type.contains("utf-8"), "{content_type}");
    let body = confirmation["parts"][0]["body"].as_str().unwrap();
    let link = body.split_whitespace().find(|w| w.contains("/subscribe/confirm?token=")).expect("a confirmation link");
    assert_eq!(app.service.store.subscriber(reader).unwrap().unwrap().status, SubscriberStatus::Pending);
    let path = link.trim_start_matches("http://127.0.0.1");
    let (status, page) = app.text(path).await;
    assert!(status == 200 && page.contains("<form method=\"post\""), "a page with one button: {page}");
    assert_eq!(
        app.service.store.subscriber(reader).unwrap().unwrap().status,
        SubscriberStatus::Pending,
        "following the link (as a mail scanner does) confirms nothing"
    );
    let token = path.split("token=").nth(1).unwrap().to_string();
    let token = url::form_urlencoded::parse(format!("token={token}").as_bytes()).next().unwrap().1.into_owned();
    let (status, page) = app.post_form("/subscribe/confirm", &[("token", &token)]).await;
    assert_eq!(status, 200, "{page}");
    let confirmed = app.service.store.subscriber(reader).unwrap().unwrap();
    assert_eq!(confirmed.status, SubscriberStatus::Confirmed);
    assert_eq!(app.post_form("/subscribe/confirm", &[("token", &token)]).await.0, 200, "a second press is harmless");
    assert_eq!(app.service.store.subscriber(reader).unwrap().unwrap(), confirmed, "and keeps the first confirmation");

    send(&app, last_week(), SendOptions::default()).await.unwrap();
    let digests: Vec<serde_json::Value> =
        sink.messages_to(reader).into_iter().filter(|m| m["headers"].get("List-Id").is_some()).collect();
    assert_eq!(digests.len(), 1);
    let unsubscribe = digests[0]["headers"]["List-Unsubscribe"].as_str().unwrap().trim_matches(['<', '>']).to_string();
    let (status, page) = app.text(unsubscribe.trim_start_matches("http://127.0.0.1")).await;
    assert!(status == 200 && page.contains("<form method=\"post\""), "a page with one button: {page}");
    // RFC 8058 lets the mail client send multipart/form-data; both encodings work.
    let one_click = app
        .client
        .post(format!("{}{}", app.address, unsubscribe.trim_start_matches("http://127.0.0.1")))
        .header("content-type", "multipart/form-data; boundary=planet")
        .body(
            "--planet\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--planet--\r\n",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(one_click.status(), 200);
    assert_eq!(app.service.store.subscriber(reader).unwrap().unwrap().status, SubscriberStatus::Unsubscribed);
    assert!(send::recipients(&app.service.config(), &app.service.store).unwrap().is_empty());
    let (status, page) = app.post_form("/subscribe/confirm", &[("token", &token)]).await;
    assert_eq!(status, 400, "an old confirmation link does not subscribe again: {page}");
    assert_eq!(app.service.store.subscriber(reader).unwrap().unwrap().status, SubscriberStatus::Unsubscribed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_rejects_bad_addresses_limits_repeats_and_reveals_nothing() {
    let (app, mailbox) = app_with_stub(&[]).await;
    let (status, page) = app.post_form("/subscribe", &[("email", "not an address")]).await;
    assert_eq!(status, 400);
    assert!(page.contains("not an address"));
    let (status, _) = app.post_form("/subscribe", &[("email", "x@y.example.cn\r\nBcc: victim@z.cn")]).await;
    assert_eq!(status, 400, "no header injection");

    let (new_status, new_page) = app.post_form("/subscribe", &[("email", "fresh@mail.example.cn")]).await;
    app.service
        .store
        .put_subscriber(&planet::store::Subscriber {
            address: "old@mail.example.cn".into(),
            status: SubscriberStatus::Confirmed,
            requested_at: Utc::now(),
            confirmed_at: Some(Utc::now()),
            unsubscribed_at: None,
        })
        .unwrap();
    let (old_status, old_page) = app.post_form("/subscribe", &[("email", "old@mail.example.cn")]).await;
    assert_eq!((new_status, new_page), (old_status, old_page), "the answer does not tell them apart");

    for _ in 0..2 {
        assert_eq!(app.post_form("/subscribe", &[("email", "target@mail.example.cn")]).await.0, 202);
    }
    assert_eq!(app.post_form("/subscribe", &[("email", "target@mail.example.cn")]).await.0, 202);
    assert_eq!(
        app.post_form("/subscribe", &[("email", "target@mail.example.cn")]).await.0,
        429,
        "three a day per address"
    );
    app.service.send_queued_confirmations().await;
    assert_eq!(mailbox.messages_to("target@mail.example.cn").await.len(), 3);

    // Ten requests an hour per client (refused addresses do not count): this client has made
    // six; four more pass, then 429.
    let statuses: Vec<u16> = subscribe_others(&app, 6).await;
    assert_eq!(statuses, vec![202, 202, 202, 202, 429, 429]);
    let page = app.index("").await.1;
    assert!(page.contains("action=\"/subscribe\""), "the site shows the subscription form");
}

async fn subscribe_others(app: &TestApp, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..count {
        statuses.push(app.post_form("/subscribe", &[("email", &format!("other{i}@mail.example.cn"))]).await.0);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_is_on_the_web_as_a_page_a_feed_and_json() {
    let (app, _mailbox) = app_with_stub(&[]).await;
    let week = last_week().to_string();
    let (status, page) = app.digest_page(&week).await;
    assert_eq!(status, 200);
    assert!(page.contains("本周 2 位成员发表了 5 篇文章") && page.contains("bob 第 0 篇"));
    let (status, latest) = app.text("/digest").await;
    let label = format!("{} 第 {} 周", last_week().year, last_week().number);
    assert_eq!((status, latest.contains(&label)), (200, true));
    let (status, json) = app.digest_json(&week).await;
    assert_eq!(status, 200);
    assert_eq!(json["post_count"], 5);
    assert_eq!(json["groups"][0]["member_name"], "Bob");
    assert_eq!(app.digest_json(&week).await.1, json, "the same JSON from the render cache");
    // `/digest/{week}` and `/digest` name the same week: one composition serves both, and
    // the JSON's second request too, until the store or the config changes.
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_renders_total{output=\"digest-page\"} 1\n"), "{metrics}");
    assert!(metrics.contains("planet_renders_total{output=\"digest-json\"} 1\n"), "{metrics}");
    let (status, atom) = app.text("/digest.atom").await;
    assert_eq!(status, 200);
    let parsed = crate::corpus::run_bytes(atom.as_bytes());
    assert!(parsed.ok, "{:?}", parsed.error);
    // Empty weeks are left out, as the mail leaves them out; each week names its author.
    let read = crate::server::readers::feedparser(&app, "/digest.atom").await;
    let entries = read["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "only last week had posts: {read}");
    assert_eq!(parsed.posts.len(), 1);
    assert!(entries[0]["title"].as_str().unwrap().contains("5 篇"), "{read}");
    assert_eq!(entries[0]["author"], "测试 Planet", "{read}");
    let newsboat = crate::server::readers::read_with("newsboat", &app, &["/digest.atom"]).await;
    let items: Vec<_> = newsboat["items"].as_object().unwrap().values().flat_map(|v| v.as_array().unwrap()).collect();
    assert_eq!(items.len(), 1, "{newsboat}");
    assert_eq!(items[0]["author"], "测试 Planet", "newsboat shows the week's author: {newsboat}");
    assert!(!atom.contains("&lt;!doctype") && !atom.contains("&lt;head"), "an entry's content is a fragment");
    assert!(!atom.contains("style=") && !atom.contains("max-width"), "without the mail's inline styles");
    assert!(atom.contains("xml:lang=\"zh-CN\""), "the feed says its language: {atom}");
    assert_eq!(app.digest_page("2999-W01").await.0, 404);
    let (status, body) = app.digest_json("2026-W99").await;
    assert_eq!((status, body["error"]["parameter"].as_str()), (400, Some("week")));
    assert_eq!(app.digest_page("banana").await.0, 400);
}

#[test]
fn a_digest_is_due_after_monday_nine_in_shanghai_and_only_until_it_is_sent() {
    let text = "[site]\ntitle = \"t\"\nurl = \"http://127.0.0.1/\"\n[digest]\nfrom = \"d@x.example.cn\"\n";
    let directory = tempfile::tempdir().unwrap();
    let config = planet::config::parse(text, Path::new("t.toml")).unwrap();
    let store = planet::store::Store::open(&directory.path().join("store"), 1 << 20).unwrap();
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    // Monday 30 November 2026, 08:59 and 09:01 in Shanghai.
    assert_eq!(send::due_week(&config, &store, at("2026-11-30T00:59:00Z")).unwrap(), None);
    let due = send::due_week(&config, &store, at("2026-11-30T01:01:00Z")).unwrap();
    assert_eq!(due.map(|w| w.to_string()).as_deref(), Some("2026-W48"));
    // Down all Monday, back on Wednesday: the finished week still goes out.
    assert_eq!(
        send::due_week(&config, &store, at("2026-12-02T03:00:00Z")).unwrap().map(|w| w.to_string()).as_deref(),
        Some("2026-W48")
    );
    let sent = planet::store::WeekSent { completed_at: Utc::now(), sent: 1, rejected: 0, empty: false };
    store.mark_week_sent("2026-W48", &sent).unwrap();
    assert_eq!(send::due_week(&config, &store, at("2026-12-02T03:00:00Z")).unwrap(), None, "once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_digest_commands_preview_and_send_once_unless_forced() {
    let sink = SmtpSink::start();
    let fixtures = crate::helpers::FixtureServer::start().await;
    fixtures.route("/a.xml", crate::helpers::Route::feed(last_week_feed("alice", 2)));
    let directory = tempfile::tempdir().unwrap();
    let config = format!(
        "[site]\ntitle = \"CLI\"\nurl = \"http://127.0.0.1/\"\n[store]\npath = \"store\"\n[fetch]\n{}\n{}\n{}",
        crate::helpers::LOOPBACK_FIXTURES,
        sink.config(&["list@lists.example.cn"]),
        crate::helpers::members(&[("alice", fixtures.url("/a.xml"))])
    );
    std::fs::write(directory.path().join("feeds.toml"), config).unwrap();
    let dir = directory.path().to_path_buf();
    let week = last_week().to_string();
    let run = move |args: Vec<String>| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_planet"))
                .args(&args)
                .current_dir(&dir)
                .env("RUST_LOG", "off")
                .env("PLANET_DIGEST_SECRET", "s")
                .output()
                .unwrap()
        })
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(run(args(&["fetch"])).await.unwrap().status.success());

    let text = run(args(&["digest", "preview", "--week", &week, "--format", "text"])).await.unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("本周 1 位成员发表了 2 篇文章"));
    let eml = String::from_utf8_lossy(
        &run(args(&["digest", "preview", "--week", &week, "--format", "eml"])).await.unwrap().stdout,
    )
    .into_owned();
    assert!(eml.contains("Subject: =?utf-8?"), "an encoded subject: {eml}");
    assert!(eml.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click") && eml.contains("multipart/alternative"));

    let dry =
        String::from_utf8_lossy(&run(args(&["digest", "send", "--week", &week, "--dry-run"])).await.unwrap().stdout)
            .into_owned();
    assert!(dry.contains("would send to list@lists.example.cn"), "{dry}");
    assert!(sink.messages().is_empty(), "a dry run sends nothing");
    let sent = run(args(&["digest", "send", "--week", &week])).await.unwrap();
    assert!(sent.status.success() && String::from_utf8_lossy(&sent.stdout).contains("1 sent"));
    let sent_id = sink.messages()[0]["headers"]["Message-ID"].as_str().unwrap().to_string();
    assert!(eml.contains(&format!("Message-ID: {sent_id}")), "the preview is the message sent: {sent_id}");
    let again = run(args(&["digest", "send", "--week", &week])).await.unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already sent"));
    let forced =
        String::from_utf8_lossy(&run(args(&["digest", "send", "--week", &week, "--force"])).await.unwrap().stdout)
            .into_owned();
    assert!(forced.contains("0 sent, 1 already served, 0 rejected, 0 pending, 0 uncertain"), "{forced}");
    assert_eq!(sink.messages().len(), 1);
    let future = run(args(&["digest", "send", "--week", "2999-W01"])).await.unwrap();
    assert!(String::from_utf8_lossy(&future.stderr).contains("has not ended yet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_address_the_proxy_appended_counts_and_a_flood_of_forged_headers_adds_no_client() {
    let (app, _mailbox) = app_with_stub(&[]).await;
    // Behind nginx ($proxy_add_x_forwarded_for) the leftmost entries are the client's own.
    let mut statuses = Vec::new();
    for i in 0..25 {
        let forged = format!("10.9.{}.{}, 203.0.113.5", i / 200, i % 200);
        statuses.push(subscribe_with(&app, &format!("reader{i}@mail.example.cn"), "x-forwarded-for", &forged).await);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 10, "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Unique 8 KB values that are no address: keyed by the peer, one client, not thousands.
    let mut flood = Vec::new();
    for i in 0..12 {
        let junk = format!("{i}-{}", "x".repeat(8 * 1024));
        flood.push(subscribe_with(&app, &format!("flood{i}@mail.example.cn"), "x-forwarded-for", &junk).await);
    }
    assert_eq!(&flood[10..], &[429, 429], "{flood:?}");
    let real_ip = subscribe_with(&app, "another@mail.example.cn", "x-real-ip", "198.51.100.8").await;
    assert_eq!(real_ip, 202, "X-Real-IP from the proxy is a client of its own");
}

async fn subscribe_with(app: &TestApp, address: &str, header: &str, value: &str) -> u16 {
    let response = app
        .client
        .post(format!("{}/subscribe", app.address))
        .header(header, value)
        .form(&[("email", address)])
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spellings_of_one_gmail_inbox_share_one_limit() {
    let (app, mailbox) = app_with_stub(&[]).await;
    let mut statuses = Vec::new();
    for spelling in ["victim+1@gmail.com", "Vic.Tim+2@gmail.com", "victim+3@googlemail.com", "v.i.c.t.i.m+4@gmail.com"]
    {
        statuses.push(subscribe_with(&app, spelling, "x-real-ip", "198.51.100.9").await);
    }
    assert_eq!(statuses, vec![202, 202, 202, 429]);
    app.service.send_queued_confirmations().await;
    assert_eq!(mailbox.messages().await.len(), 3, "one inbox, three mails a day at most");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_answer_does_not_wait_for_the_mail_server() {
    // An SMTP server that accepts the connection and never says a word: a send waits for
    // lettre's 30-second timeout. The form must answer long before.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _silent = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::park();
        drop(held);
    });
    let app =
        spawn_app_with(vec![member("alice", "Alice", last_week_feed("alice", 1))], None, &digest_config(&[], port))
            .await;
    let started = std::time::Instant::now();
    let response = app
        .client
        .post(format!("{}/subscribe", app.address))
        .timeout(std::time::Duration::from_secs(10))
        .form(&[("email", "patient@mail.example.cn")])
        .send()
        .await
        .expect("answered without waiting for the silent mail server");
    assert_eq!(response.status().as_u16(), 202);
    println!("answered in {:?} while the mail server is silent", started.elapsed());
}
