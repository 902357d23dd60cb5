//! `planet notify test NAME` (one sample message to a target, now) and `planet notify status`
//! (each target's queue, last success and last error, from a store no server holds open).

use std::process::ExitCode;

use anyhow::Context as _;
use chrono::Utc;

use super::NotifyCommand;
use crate::config;
use crate::notify::limits::{read_answer, Answer};
use crate::notify::{request, NotifiedPost};
use crate::service::{target_statuses, Variables};
use crate::store::Store;

pub async fn run(config_path: &std::path::Path, command: NotifyCommand) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path)?;
    match command {
        NotifyCommand::Test { name } => test(&config, &name).await,
        NotifyCommand::Status { json } => {
            let store = Store::open_read_only(&config.store.path, config.store.cache_bytes).context(
                "cannot open the store (a running `planet serve` holds it: its /api/v1/stats shows the same under \"notify\")",
            )?;
            let statuses = target_statuses(&config, &store, &Variables::default())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&statuses)?);
                return Ok(ExitCode::SUCCESS);
            }
            if statuses.is_empty() {
                println!("no [[notify]] targets in {}", config.source.display());
            }
            for status in statuses {
                println!("{} ({}): {}", status.name, status.kind, status.status);
                println!(
                    "  queued: {} post(s); delivered: {} message(s), {} post(s)",
                    status.queued, status.delivered_batches, status.delivered_posts
                );
                let never = || "never".to_string();
                println!("  last success: {}", status.last_success.map_or_else(never, |t| t.to_rfc3339()));
                if let Some(error) = status.last_error {
                    println!("  last error: {} {}", error.at.to_rfc3339(), error.message);
                }
                if let Some(at) = status.next_attempt {
                    println!("  next attempt: {}", at.to_rfc3339());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Sends one sample message to the target named `name` and says what it answered.
async fn test(config: &config::Config, name: &str) -> anyhow::Result<ExitCode> {
    let target = config.notify.iter().find(|t| t.name == name);
    let names: Vec<&str> = config.notify.iter().map(|t| t.name.as_str()).collect();
    let target = target.with_context(|| format!("no notify target '{name}' (there are: {})", names.join(", ")))?;
    let secrets = target.secrets(|variable| std::env::var(variable).ok()).map_err(|why| anyhow::anyhow!(why))?;
    let now = Utc::now();
    let sample = NotifiedPost {
        title: "planet 推送测试".into(),
        url: config.site.url.to_string(),
        member_name: config.site.title.clone(),
        excerpt: format!("这是一条测试消息：{} 的新文章会这样推送到这里。", config.site.title),
        tags: vec!["test".into()],
    };
    let api_sample = serde_json::json!({
        "id": "test", "title": sample.title, "url": sample.url,
        "member": { "id": "planet", "name": sample.member_name },
        "published": now, "updated": null, "tags": sample.tags, "excerpt": sample.excerpt,
        "content_html": "", "also_on": [], "also_by": []
    });
    let id = format!("msg_{name}_test_{}", now.timestamp());
    let heading = crate::notify::select::heading(config, 1);
    let batch = request::Batch {
        id: &id,
        heading: &heading,
        posts: std::slice::from_ref(&sample),
        api_posts: std::slice::from_ref(&api_sample),
        more_url: config.site.url.as_str(),
    };
    let outgoing = request::build(target.kind, &secrets, &batch, now).map_err(|why| anyhow::anyhow!(why))?;
    let client = crate::fetch::Client::new(&config.fetch)?;
    let answered = crate::fetch::post_json(&client, &outgoing.url, &outgoing.headers, outgoing.body)
        .await
        .map_err(|error| anyhow::anyhow!("{name}: {}", error.detail()))?;
    match read_answer(target.kind, answered.status, answered.retry_after, &answered.body) {
        Answer::Accepted => {
            println!("{name}: the {} target accepted the test message (HTTP {})", target.kind.name(), answered.status);
            Ok(ExitCode::SUCCESS)
        }
        Answer::RateLimited(wait) => {
            println!("{name}: rate limited by the platform; try again in {:?}", wait.unwrap_or_default());
            Ok(ExitCode::from(1))
        }
        Answer::Failed(why) => {
            println!("{name}: refused: {why}");
            Ok(ExitCode::from(1))
        }
    }
}
