//! Push to group robots and webhooks through the real server: each platform's documented
//! format and signature as a loopback stand-in receives it, their error codes and rate
//! limits, and the rule that a group sees exactly what the river shows.

use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};

use super::app::{member, spawn_app_pushing, TestApp};
use crate::helpers::Route;
use crate::robots::{Answer, RobotServer};

pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// An RSS feed of `items`: (guid, title, published, tags).
pub fn feed(member: &str, items: &[(&str, &str, DateTime<Utc>, &[&str])]) -> String {
    let items: String = items
        .iter()
        .map(|(guid, title, published, tags)| {
            let title = title.replace('&', "&amp;").replace('<', "&lt;");
            let categories: String = tags.iter().map(|t| format!("<category>{t}</category>")).collect();
            format!(
                "<item><title>{title}</title><link>https://{member}.example.cn/p/{guid}.html</link><guid>{guid}</guid>\
                 <pubDate>{}</pubDate>{categories}<description>正文 {guid}：Span&lt;T&gt; 的用法。</description></item>",
                published.to_rfc2822()
            )
        })
        .collect();
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>{member}</title><link>https://{member}.example.cn/</link>{items}</channel></rss>")
}

/// A `[[notify]]` table.
pub fn target(name: &str, kind: &str, extra: &str) -> String {
    let variable = name.to_uppercase().replace('-', "_");
    format!("[[notify]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl_env = \"{variable}_URL\"\n{extra}\n")
}

/// Verifies a Standard Webhooks delivery with the reference implementation.
pub fn verified_webhook(secret: &str, id: &str, timestamp: &str, signature: &str, body: &str) -> Result<(), String> {
    let script = "import sys\nfrom standardwebhooks.webhooks import Webhook\n\
                  secret, id, ts, sig, body = sys.argv[1:6]\n\
                  Webhook(secret).verify(body, {'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig})\n";
    let output = Command::new("python3").args(["-c", script, secret, id, timestamp, signature, body]).output().unwrap();
    output.status.success().then_some(()).ok_or_else(|| String::from_utf8_lossy(&output.stderr).into_owned())
}

/// base64(HMAC-SHA256(key, message)) computed by Python's hmac, independent of planet's code.
fn python_hmac(key: &str, message: &str) -> String {
    let script = "import sys, hmac, hashlib, base64\n\
                  print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).digest()).decode())";
    let output = Command::new("python3").args(["-c", script, key, message]).output().unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

const HOSTILE: &str =
    "@all @所有人 <@U123> <!channel> [点我](https://evil.example/x) <a href=\"https://evil.example\">y</a> # 标题";

/// A planet with member `ann` (one old post), `targets` configured, its robots on `robots`;
/// the targets are registered before the first pass (so they were added before any post).
pub async fn pushing_app(robots: &RobotServer, targets: &str, variables: &[(&str, String)]) -> TestApp {
    let now = Utc::now();
    let old = feed("ann", &[("old", "旧文章", now - TimeDelta::days(10), &[])]);
    let app = spawn_app_pushing(vec![member("ann", "张三", old)], targets, variables).await;
    let _ = robots;
    app.service.deliver_notifications(now - TimeDelta::hours(1)).await;
    app.pass().await;
    app
}

/// `ann`'s feed now has these new posts (besides the old one); a pass fetches them.
pub async fn publish(app: &TestApp, items: &[(&str, &str, DateTime<Utc>, &[&str])]) {
    let now = Utc::now();
    let mut all = vec![("old", "旧文章", now - TimeDelta::days(10), &[][..])];
    all.extend_from_slice(items);
    app.fixtures.route("/ann.xml", Route::feed(feed("ann", &all)));
    app.pass().await;
}

pub fn later(seconds: i64) -> DateTime<Utc> {
    Utc::now() + TimeDelta::seconds(seconds)
}

#[tokio::test]
async fn each_platform_receives_new_posts_in_its_documented_format_and_signature() {
    let robots = RobotServer::start().await;
    robots.answer_always("/wecom", Answer::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    robots.answer_always("/robot/send", Answer::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    robots.answer_always("/open-apis/bot/v2/hook/x", Answer::ok(r#"{"code":0,"msg":"success","data":{}}"#));
    robots.answer_always("/slack", Answer::status(200, &[], "ok"));
    robots.answer_always("/discord", Answer::status(204, &[], ""));
    robots.answer_always("/bot1:abc/sendMessage", Answer::ok(r#"{"ok":true,"result":{"message_id":1}}"#));
    robots.answer_always("/hook", Answer::status(204, &[], ""));
    let targets = [
        target("wecom", "wecom", ""),
        target("dingtalk", "dingtalk", "secret_env = \"DING_SECRET\""),
        target("feishu", "feishu", "secret_env = \"FEISHU_SECRET\""),
        target("slack", "slack", ""),
        target("discord", "discord", ""),
        target("telegram", "telegram", ""),
        target("hook", "webhook", "secret_env = \"HOOK_SECRET\""),
    ]
    .concat();
    let variables = [
        ("WECOM_URL", robots.url("/wecom?key=k")),
        ("DINGTALK_URL", robots.url("/robot/send?access_token=t")),
        ("DING_SECRET", "SECdingtalk".to_string()),
        ("FEISHU_URL", robots.url("/open-apis/bot/v2/hook/x")),
        ("FEISHU_SECRET", "feishu-secret".to_string()),
        ("SLACK_URL", robots.url("/slack")),
        ("DISCORD_URL", robots.url("/discord")),
        ("TELEGRAM_URL", robots.url("/bot1:abc/sendMessage?chat_id=-100123")),
        ("HOOK_URL", robots.url("/hook")),
        ("HOOK_SECRET", WEBHOOK_SECRET.to_string()),
    ];
    let app = pushing_app(&robots, &targets, &variables).await;
    let now = Utc::now();
    publish(
        &app,
        &[
            ("a1", "依赖注入入门", now - TimeDelta::minutes(5), &["dotnet"]),
            ("a2", HOSTILE, now - TimeDelta::minutes(2), &[]),
        ],
    )
    .await;
    let report = app.service.deliver_notifications(later(2)).await;
    assert_eq!(report.delivered.len(), 7, "{report:?}");
    assert!(report.delivered.iter().all(|(_, posts)| *posts == 2), "{report:?}");

    let wecom = &robots.received("/wecom")[0];
    assert_eq!(wecom.query("key").as_deref(), Some("k"));
    let content = wecom.json()["markdown"]["content"].as_str().unwrap().to_string();
    assert_eq!(wecom.json()["msgtype"], "markdown");
    assert!(content.len() <= 4096 && content.contains("依赖注入入门") && content.contains("张三"), "{content}");
    for live in ["@all", "@所有人", "<@", "](https://evil", "<a ", "\n#"] {
        assert!(!content.contains(live), "{live} in {content}");
    }

    let ding = &robots.received("/robot/send")[0];
    let timestamp = ding.query("timestamp").unwrap();
    assert_eq!(ding.query("sign").unwrap(), python_hmac("SECdingtalk", &format!("{timestamp}\nSECdingtalk")));
    assert_eq!(ding.json()["msgtype"], "markdown");
    assert!(ding.json()["markdown"]["title"].as_str().unwrap().contains("2 篇新文章"));

    let feishu = robots.received("/open-apis/bot/v2/hook/x")[0].json();
    let timestamp = feishu["timestamp"].as_str().unwrap();
    let expected = {
        let script = "import sys, hmac, hashlib, base64\nk = (sys.argv[1] + '\\n' + sys.argv[2]).encode()\n\
                      print(base64.b64encode(hmac.new(k, b'', hashlib.sha256).digest()).decode())";
        let out = Command::new("python3").args(["-c", script, timestamp, "feishu-secret"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(feishu["sign"], expected);
    assert_eq!(feishu["msg_type"], "post");
    assert!(feishu.to_string().len() <= 20 * 1024);

    let slack = robots.received("/slack")[0].json();
    assert!(slack["text"].as_str().unwrap().contains("依赖注入入门"));
    assert!(!slack.to_string().contains("<!channel>") && !slack.to_string().contains("<@U123>"), "{slack}");

    let discord = robots.received("/discord")[0].json();
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(discord["embeds"].as_array().unwrap().len(), 2);

    let telegram = &robots.received("/bot1:abc/sendMessage")[0];
    assert_eq!(telegram.query("chat_id"), None);
    assert_eq!(telegram.json()["chat_id"], "-100123");
    assert_eq!(telegram.json()["parse_mode"], "HTML");

    let hook = &robots.received("/hook")[0];
    let (id, timestamp, signature) = (
        hook.header("webhook-id").unwrap(),
        hook.header("webhook-timestamp").unwrap(),
        hook.header("webhook-signature").unwrap(),
    );
    verified_webhook(WEBHOOK_SECRET, id, timestamp, signature, &hook.text()).unwrap();
    let payload = hook.json();
    assert_eq!(payload["type"], "posts.new");
    let posts = payload["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2);
    for post in posts {
        let (status, api) = app.post(post["id"].as_str().unwrap()).await;
        assert_eq!((status, post), (200, &api), "a webhook post is the API's post");
    }
}

#[tokio::test]
async fn platform_error_codes_fail_and_rate_limits_wait_as_long_as_the_platform_says() {
    let robots = RobotServer::start().await;
    robots.script("/wecom", vec![Answer::ok(r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#)]);
    robots.answer_always("/wecom", Answer::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    robots.script(
        "/discord",
        vec![Answer::status(
            429,
            &[("Content-Type", "application/json")],
            r#"{"message":"You are being rate limited.","retry_after":90.5,"global":false}"#,
        )],
    );
    robots.answer_always("/discord", Answer::status(204, &[], ""));
    robots.script("/bot1:abc/sendMessage", vec![Answer::status(429, &[], r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#)]);
    robots.answer_always("/bot1:abc/sendMessage", Answer::ok(r#"{"ok":true}"#));
    robots.answer_always("/robot/send", Answer::ok(r#"{"errcode":310000,"errmsg":"sign not match"}"#));
    robots.answer_always(
        "/open-apis/bot/v2/hook/x",
        Answer::ok(r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}"#),
    );
    let targets = [
        target("wecom", "wecom", ""),
        target("discord", "discord", ""),
        target("telegram", "telegram", ""),
        target("dingtalk", "dingtalk", "secret_env = \"DING_SECRET\""),
        target("feishu", "feishu", ""),
    ]
    .concat();
    let variables = [
        ("WECOM_URL", robots.url("/wecom")),
        ("DISCORD_URL", robots.url("/discord")),
        ("TELEGRAM_URL", robots.url("/bot1:abc/sendMessage?chat_id=1")),
        ("DINGTALK_URL", robots.url("/robot/send?access_token=t")),
        ("DING_SECRET", "wrong".to_string()),
        ("FEISHU_URL", robots.url("/open-apis/bot/v2/hook/x")),
    ];
    let app = pushing_app(&robots, &targets, &variables).await;
    publish(&app, &[("a1", "第一篇", Utc::now() - TimeDelta::minutes(1), &[])]).await;
    let first = app.service.deliver_notifications(later(2)).await;
    assert!(first.delivered.is_empty(), "{first:?}");
    assert_eq!(first.failed.len(), 5, "{first:?}");

    // Told to wait: nothing is sent before the time each platform asked for.
    app.service.deliver_notifications(later(6)).await;
    assert_eq!(
        (
            robots.received("/wecom").len(),
            robots.received("/discord").len(),
            robots.received("/bot1:abc/sendMessage").len()
        ),
        (1, 1, 1)
    );
    let report = app.service.deliver_notifications(later(10)).await;
    assert_eq!(report.delivered, vec![("telegram".to_string(), 1)], "Telegram asked for 7 s: {report:?}");
    let report = app.service.deliver_notifications(later(64)).await;
    assert_eq!(report.delivered, vec![("wecom".to_string(), 1)], "WeCom's 45009 waits a minute: {report:?}");
    let report = app.service.deliver_notifications(later(95)).await;
    assert!(report.delivered.contains(&("discord".to_string(), 1)), "Discord asked for 90.5 s: {report:?}");
    assert_eq!(robots.received("/wecom")[0].body, robots.received("/wecom")[1].body, "the same message is sent again");

    // DingTalk and Feishu answered HTTP 200 with an error code: failures, with backoff; the
    // third in a row marks the target failing in the stats, the metrics and `notify status`.
    for at in [700, 1400] {
        app.service.deliver_notifications(later(at)).await;
    }
    // Tried at +2 s, then after 30 s (+64), 60 s (+700) and 120 s (+1400): four failures.
    assert_eq!(robots.received("/robot/send").len(), 4);
    let (_, stats) = app.stats().await;
    let status = |name: &str| stats["notify"].as_array().unwrap().iter().find(|t| t["name"] == name).unwrap().clone();
    assert_eq!(status("dingtalk")["status"], "failing", "{stats}");
    assert!(status("dingtalk")["last_error"]["message"].as_str().unwrap().contains("310000"), "{stats}");
    assert!(status("feishu")["last_error"]["message"].as_str().unwrap().contains("19021"), "{stats}");
    assert_eq!(status("dingtalk")["queued"], 1);
    assert_eq!(
        (status("wecom")["status"].as_str(), status("wecom")["delivered_posts"].as_u64()),
        (Some("ready"), Some(1))
    );
    let (_, metrics) = app.metrics().await;
    assert!(metrics.contains("planet_notify_failing{target=\"dingtalk\"} 1"), "{metrics}");
    assert!(metrics.contains("planet_notify_messages_total{target=\"wecom\",result=\"delivered\"} 1"), "{metrics}");
    assert!(metrics.contains("planet_notify_messages_total{target=\"wecom\",result=\"rate_limited\"} 1"), "{metrics}");
}

#[tokio::test]
async fn the_first_post_goes_at_once_and_what_follows_within_the_window_goes_as_one_message() {
    let robots = RobotServer::start().await;
    robots.answer_always("/wecom", Answer::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    let app =
        pushing_app(&robots, &target("wecom", "wecom", "batch_minutes = 10"), &[("WECOM_URL", robots.url("/wecom"))])
            .await;
    let now = Utc::now();
    publish(&app, &[("a1", "第一篇", now - TimeDelta::minutes(3), &[])]).await;
    assert_eq!(app.service.deliver_notifications(later(2)).await.delivered, vec![("wecom".to_string(), 1)]);
    publish(
        &app,
        &[
            ("a1", "第一篇", now - TimeDelta::minutes(3), &[]),
            ("a2", "第二篇", now - TimeDelta::minutes(2), &[]),
            ("a3", "第三篇", now - TimeDelta::minutes(1), &[]),
        ],
    )
    .await;
    assert!(app.service.deliver_notifications(later(60)).await.delivered.is_empty(), "the window is still open");
    assert_eq!(app.service.deliver_notifications(later(603)).await.delivered, vec![("wecom".to_string(), 2)]);
    let messages = robots.received("/wecom");
    assert_eq!(messages.len(), 2);
    let second = messages[1].json()["markdown"]["content"].as_str().unwrap().to_string();
    assert!(second.contains("第二篇") && second.contains("第三篇") && !second.contains("第一篇"), "{second}");
    assert!(app.service.deliver_notifications(later(1300)).await.delivered.is_empty(), "nothing is sent twice");
}

#[tokio::test]
async fn a_target_whose_variables_are_missing_is_skipped_and_the_others_still_deliver() {
    let robots = RobotServer::start().await;
    robots.answer_always("/slack", Answer::status(200, &[], "ok"));
    let targets = [target("slack", "slack", ""), target("missing", "wecom", "")].concat();
    let app = pushing_app(&robots, &targets, &[("SLACK_URL", robots.url("/slack"))]).await;
    publish(&app, &[("a1", "第一篇", Utc::now() - TimeDelta::minutes(1), &[])]).await;
    let report = app.service.deliver_notifications(later(2)).await;
    assert_eq!(report.delivered, vec![("slack".to_string(), 1)]);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].1.contains("$MISSING_URL is not set"), "{report:?}");
    let (_, stats) = app.stats().await;
    assert!(stats["notify"][1]["status"].as_str().unwrap().starts_with("skipped"), "{stats}");
}

#[tokio::test]
async fn a_robot_that_hangs_delays_only_its_own_target() {
    let robots = RobotServer::start().await;
    robots.hold("/hangs");
    robots.answer_always("/slack", Answer::status(200, &[], "ok"));
    let targets = [target("hangs", "slack", ""), target("slack", "slack", "")].concat();
    let variables = [("HANGS_URL", robots.url("/hangs")), ("SLACK_URL", robots.url("/slack"))];
    let app = pushing_app(&robots, &targets, &variables).await;
    publish(&app, &[("a1", "第一篇", Utc::now() - TimeDelta::minutes(1), &[])]).await;
    // The step returns: the hanging robot's request ends at the fetch timeout (2 s in the
    // test config), and the other target was served meanwhile.
    let report = app.service.deliver_notifications(later(2)).await;
    assert_eq!(report.delivered, vec![("slack".to_string(), 1)]);
    assert!(report.failed[0].1.contains("timed out"), "{report:?}");
}

#[tokio::test]
async fn a_hook_on_a_private_address_is_refused_by_the_ssrf_guard_unless_allowed() {
    let robots = RobotServer::start_on("127.0.0.2").await;
    robots.answer_always("/slack", Answer::status(200, &[], "ok"));
    let app = pushing_app(&robots, &target("slack", "slack", ""), &[("SLACK_URL", robots.url("/slack"))]).await;
    // The fixture feeds (127.0.0.1) stay allowed; the robot (127.0.0.2) is not.
    let text = std::fs::read_to_string(&app.config_path).unwrap();
    let guarded = text.replacen(crate::helpers::LOOPBACK_FIXTURES, "allow_addresses = [\"127.0.0.1\"]\n", 1);
    std::fs::write(&app.config_path, &guarded).unwrap();
    assert!(app.service.reload());
    publish(&app, &[("a1", "第一篇", Utc::now() - TimeDelta::minutes(1), &[])]).await;
    let report = app.service.deliver_notifications(later(2)).await;
    assert!(report.failed[0].1.contains("refused"), "{report:?}");
    assert!(robots.received("/slack").is_empty());
    // `allow_private` covers a receiver on the operator's own network.
    std::fs::write(&app.config_path, text).unwrap();
    assert!(app.service.reload());
    let report = app.service.deliver_notifications(later(100)).await;
    assert_eq!(report.delivered, vec![("slack".to_string(), 1)], "{report:?}");
}
