//! Group-robot and webhook messages checked by what their receivers run (the Standard
//! Webhooks reference implementation, PyPI `standardwebhooks`, which the README's test
//! command installs, verifies planet's signatures), and the `planet notify` commands.

use std::process::Command;

use planet::notify::signature;

/// Asks the reference implementation to verify a delivery; returns its error, if any.
fn verified_by_the_reference(
    secret: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> Result<(), String> {
    let script = "import sys, json\n\
                  from standardwebhooks.webhooks import Webhook\n\
                  secret, id, ts, sig, body = sys.argv[1:6]\n\
                  Webhook(secret).verify(body, {'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig})\n";
    let output = Command::new("python3")
        .args(["-c", script, secret, id, &timestamp.to_string(), signature, body])
        .output()
        .expect("python3 runs");
    output.status.success().then_some(()).ok_or_else(|| String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn standard_webhooks_signatures_are_accepted_by_the_reference_verifier_and_tampering_is_not() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = r#"{"type":"posts.new","posts":[{"title":"依赖注入 & Span<T>"}]}"#;
    let now = chrono::Utc::now().timestamp();
    let signed = signature::standard_webhooks(secret, "msg_2026120201", now, body.as_bytes()).unwrap();
    verified_by_the_reference(secret, "msg_2026120201", now, &signed, body).unwrap();
    let tampered = body.replace("依赖注入", "依赖注入!");
    assert!(verified_by_the_reference(secret, "msg_2026120201", now, &signed, &tampered).is_err());
    assert!(verified_by_the_reference(secret, "msg_other", now, &signed, body).is_err(), "the id is signed too");
}

/// `planet notify test NAME` and `planet notify status`, as an admin runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_sends_one_sample_message_and_status_lists_every_target() {
    use crate::robots::{Answer, RobotServer};
    let robots = RobotServer::start().await;
    robots.answer_always("/wecom", Answer::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    robots.answer_always("/ding", Answer::ok(r#"{"errcode":300001,"errmsg":"token is not exist"}"#));
    let directory = tempfile::tempdir().unwrap();
    let config = format!(
        "[site]\ntitle = \"长沙.NET技术社区\"\nurl = \"https://planet.example.cn/\"\n\n[store]\npath = \"store\"\ncache_mb = 4\n\n\
         [fetch]\n{}\n\
         [[notify]]\nname = \"dotnet-group\"\nkind = \"wecom\"\nurl_env = \"T_WECOM\"\n\n\
         [[notify]]\nname = \"ding\"\nkind = \"dingtalk\"\nurl_env = \"T_DING\"\n\n\
         [[notify]]\nname = \"unset\"\nkind = \"slack\"\nurl_env = \"T_UNSET\"\n",
        crate::helpers::LOOPBACK_FIXTURES
    );
    std::fs::write(directory.path().join("feeds.toml"), config).unwrap();
    let dir = directory.path().to_path_buf();
    let (wecom, ding) = (robots.url("/wecom"), robots.url("/ding?access_token=t"));
    let run = move |args: &'static [&'static str]| {
        let (dir, wecom, ding) = (dir.clone(), wecom.clone(), ding.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_planet"))
                .args(args)
                .current_dir(&dir)
                .env("RUST_LOG", "off")
                .env("T_WECOM", wecom)
                .env("T_DING", ding)
                .env_remove("T_UNSET")
                .output()
                .unwrap()
        })
    };
    let sent = run(&["notify", "test", "dotnet-group"]).await.unwrap();
    let printed = String::from_utf8_lossy(&sent.stdout).into_owned();
    assert!(sent.status.success() && printed.contains("accepted the test message"), "{printed}");
    let content = robots.received("/wecom")[0].json()["markdown"]["content"].as_str().unwrap().to_string();
    assert!(content.contains("planet 推送测试") && content.contains("长沙.NET技术社区"), "{content}");

    let refused = run(&["notify", "test", "ding"]).await.unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("errcode 300001"), "the platform's own code is shown");
    let unknown = run(&["notify", "test", "nobody"]).await.unwrap();
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no notify target 'nobody'"));

    let status = run(&["notify", "status"]).await.unwrap();
    let printed = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(printed.contains("dotnet-group (wecom): ready") && printed.contains("last success: never"), "{printed}");
    assert!(printed.contains("unset (slack): skipped: notify target 'unset': $T_UNSET is not set"), "{printed}");
}
