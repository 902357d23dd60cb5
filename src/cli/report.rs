//! What `planet check`, `planet fetch` and `planet config check` print: a block per checked
//! feed with a summary grouped by reason, a table row per fetched feed, the validated config.

use std::io::Write;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use url::Url;

use crate::check::{self, CheckReport};
use crate::config::{self, Config};
use crate::fetch;
use crate::refresh::{Outcome, PassReport};

/// `check` works without a feeds.toml (a member checking a feed before joining); with one,
/// it uses the site's time zone, the fetch settings and the member's filters.
pub async fn check(
    config_path: &std::path::Path,
    inputs: &[String],
    base_url: Option<&Url>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = match config::load(config_path) {
        Ok(config) => config,
        Err(_) => config::parse(config::CHECK_DEFAULTS, std::path::Path::new("(defaults)"))?,
    };
    let client = fetch::Client::new(&config.fetch)?;
    let now = Utc::now();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut summary = CheckSummary::default();
    for input in inputs {
        let report = check::one(&config, &client, input, base_url, now).await;
        if json {
            serde_json::to_writer(&mut out, &report)?;
            writeln!(out)?;
        } else {
            print_check(&mut out, &report)?;
        }
        summary.add(&report);
    }
    summary.print(&mut out)?;
    out.flush()?;
    Ok(if summary.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

#[derive(Default)]
struct CheckSummary {
    parsed: usize,
    failed: usize,
    panicked: usize,
    posts: usize,
    reasons: std::collections::BTreeMap<String, usize>,
}

impl CheckSummary {
    fn add(&mut self, report: &CheckReport) {
        self.posts += report.posts.len();
        if report.ok {
            self.parsed += 1;
            return;
        }
        self.failed += 1;
        self.panicked += usize::from(report.panicked);
        let reason = report.error.as_deref().unwrap_or("unknown");
        // Group by the reason's first clause, so positions and names do not split groups.
        let kind: String = reason.split([':', '(']).next().unwrap_or(reason).trim().chars().take(80).collect();
        *self.reasons.entry(kind).or_default() += 1;
    }

    fn print(&self, out: &mut impl Write) -> std::io::Result<()> {
        let total = self.parsed + self.failed;
        writeln!(
            out,
            "checked {total} inputs: {} parsed ({} posts), {} failed, {} panicked",
            self.parsed, self.posts, self.failed, self.panicked
        )?;
        for (reason, count) in &self.reasons {
            writeln!(out, "  {count:>5}  {reason}")?;
        }
        Ok(())
    }
}

fn print_check(out: &mut impl Write, report: &CheckReport) -> std::io::Result<()> {
    writeln!(out, "== {}", report.input)?;
    if let Some(http) = &report.http {
        writeln!(
            out,
            "HTTP {} from {} ({})",
            http.status,
            http.final_url,
            http.content_type.as_deref().unwrap_or("no content type")
        )?;
        if let Some(moved) = &http.moved_to {
            writeln!(out, "moved permanently to {moved}: update feeds.toml")?;
        }
    }
    if let Some(error) = &report.error {
        writeln!(out, "FAILED: {error}")?;
    }
    if report.ok {
        writeln!(
            out,
            "feed: {} <{}>  encoding: {}  posts: {}  filtered out: {}",
            report.feed_title.as_deref().unwrap_or(""),
            report.feed_link.as_deref().unwrap_or("no link"),
            report.encoding.as_deref().unwrap_or("?"),
            report.posts.len(),
            report.filtered_out
        )?;
    }
    for warning in &report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    for post in &report.posts {
        writeln!(out, "- {}  {}", post.published.format("%Y-%m-%d %H:%M UTC"), post.title)?;
        writeln!(out, "    id: {}  date: {:?}", post.id, post.date_source)?;
        writeln!(
            out,
            "    url: {}  author: {}",
            post.url.as_deref().unwrap_or("(none)"),
            post.author.as_deref().unwrap_or("(none)")
        )?;
        if !post.tags.is_empty() {
            writeln!(out, "    tags: {}", post.tags.join(", "))?;
        }
        writeln!(out, "    excerpt: {}", post.excerpt)?;
        writeln!(out, "    html: {}", shortened(&post.content_html, 400))?;
    }
    writeln!(out)
}

fn shortened(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}… ({} more bytes; --json shows all)", &text[..cut], text.len() - cut),
        None => text.to_string(),
    }
}

pub fn print_pass(report: &PassReport, json: bool) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        for feed in &report.feeds {
            serde_json::to_writer(&mut out, feed)?;
            writeln!(out)?;
        }
    } else {
        writeln!(
            out,
            "{:<20} {:>4} {:>4} {:>4} {:>4}  {:<14} feed / detail",
            "member", "new", "upd", "same", "filt", "result"
        )?;
        for feed in &report.feeds {
            let c = feed.counts;
            let (result, detail) = describe(&feed.outcome);
            writeln!(
                out,
                "{:<20} {:>4} {:>4} {:>4} {:>4}  {:<14} {}",
                feed.member.as_str(),
                c.new,
                c.updated,
                c.unchanged,
                c.filtered,
                result,
                feed.feed_url
            )?;
            if let Some(detail) = detail {
                writeln!(out, "{:<20} {detail}", "")?;
            }
            if let Some(moved) = &feed.moved_to {
                writeln!(out, "{:<20} moved permanently to {moved}: please update feeds.toml", "")?;
            }
            if !feed.warnings.is_empty() {
                writeln!(
                    out,
                    "{:<20} {} warnings (planet check {} shows them)",
                    "",
                    feed.warnings.len(),
                    feed.feed_url
                )?;
            }
        }
    }
    let total = report.totals();
    let failed = report.count(|o| matches!(o, Outcome::Failed { .. } | Outcome::RetryLater { .. }));
    writeln!(
        out,
        "{} feeds: {} refreshed, {} not modified, {} skipped, {} gone, {} failed; posts: {} new, {} updated, {} unchanged, {} filtered",
        report.feeds.len(),
        report.count(|o| *o == Outcome::Refreshed),
        report.count(|o| *o == Outcome::NotModified),
        report.count(|o| matches!(o, Outcome::Skipped { .. })),
        report.count(|o| *o == Outcome::Gone),
        failed,
        total.new,
        total.updated,
        total.unchanged,
        total.filtered
    )?;
    out.flush()?;
    Ok(())
}

fn describe(outcome: &Outcome) -> (&'static str, Option<String>) {
    let at = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    match outcome {
        Outcome::Refreshed => ("refreshed", None),
        Outcome::NotModified => ("not modified", None),
        Outcome::Skipped { until } => ("skipped", Some(format!("backing off until {}", at(until)))),
        Outcome::Gone => ("gone", Some("410 Gone: no longer fetched; remove it from feeds.toml".into())),
        Outcome::RetryLater { status, until } => {
            ("retry later", Some(format!("HTTP {status}; next try after {}", at(until))))
        }
        Outcome::Failed { error } => ("error", Some(error.clone())),
    }
}

pub fn print_config(config: &Config) {
    let site = &config.site;
    println!("{}: valid", config.source.display());
    println!("site: {} <{}> language {} time zone {}", site.title, site.url, site.language, site.timezone);
    println!("store: {} (cache {} MB)", config.store.path.display(), config.store.cache_bytes / 1024 / 1024);
    let fetch = &config.fetch;
    println!(
        "fetch: schedule '{}', concurrency {} ({} per host), timeouts connect {:?} read {:?} total {:?}, body cap {} bytes, future dates {:?}",
        fetch.schedule_text, fetch.concurrency, fetch.per_host_concurrency, fetch.connect_timeout, fetch.read_timeout, fetch.timeout, fetch.max_body_bytes, fetch.future_dates
    );
    println!("user agent: {}", fetch.user_agent);
    println!("{} members:", config.members.len());
    for member in &config.members {
        let feeds: Vec<&str> = member.feeds.iter().map(Url::as_str).collect();
        let filters = match (&member.include, &member.exclude) {
            (None, None) => String::new(),
            _ => " (filtered)".to_string(),
        };
        println!("  {:<20} {}{}  {}", member.id.as_str(), member.name, filters, feeds.join(" "));
    }
    print_notify_targets(config, |variable| std::env::var(variable).ok());
    let websub = &config.websub;
    let hubs: Vec<&str> = websub.hubs.iter().map(Url::as_str).collect();
    println!(
        "websub: hubs [{}]; subscribe to members' hubs: {}; a pushed feed is polled every {} h",
        hubs.join(" "),
        if websub.subscribe { "yes" } else { "no" },
        websub.fallback_poll.as_secs() / 3600
    );
}

/// Each `[[notify]]` target, its filters, and whether its environment variables are set
/// (never their values: the URL holds the robot's token).
fn print_notify_targets(config: &Config, env: impl Fn(&str) -> Option<String>) {
    if config.notify.is_empty() {
        return;
    }
    println!("{} notify targets:", config.notify.len());
    for target in &config.notify {
        let mut filters = Vec::new();
        if !target.members.is_empty() {
            let ids: Vec<&str> = target.members.iter().map(|m| m.as_str()).collect();
            filters.push(format!("members {}", ids.join(",")));
        }
        if !target.tags.is_empty() {
            filters.push(format!("tags {}", target.tags.join(",")));
        }
        if let Some(q) = &target.q {
            filters.push(format!("q {q:?}"));
        }
        let state = match target.secrets(&env) {
            Ok(secrets) => format!("ready ({})", secrets.url.host_str().unwrap_or("?")),
            Err(problem) => format!("skipped: {problem}"),
        };
        let filters = if filters.is_empty() { "every post".to_string() } else { filters.join("; ") };
        println!(
            "  {:<20} {:<9} {filters}, batches of {} min: {state}",
            target.name,
            target.kind.name(),
            target.batch.as_secs() / 60
        );
    }
}
