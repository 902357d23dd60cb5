//! The command line: argument definitions and one function per subcommand. Output for people
//! goes to stdout as tables; `--json` gives one JSON object per line for programs.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use url::Url;

use crate::check::{self, CheckReport};
use crate::config::{self, Config, MemberId};
use crate::fetch;
use crate::refresh::{self, Outcome, PassOptions, PassReport};
use crate::store::{self, Store};

#[derive(Debug, Parser)]
#[command(
    name = "planet",
    version,
    about = "The Changsha .NET community planet: members' blogs in, one community feed out"
)]
pub struct Args {
    /// The configuration file.
    #[arg(long, global = true, default_value = "feeds.toml", env = "PLANET_CONFIG")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the planet over HTTP and fetch feeds on the schedule in feeds.toml.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "PLANET_LISTEN")]
        listen: String,
    },
    /// Fetch every member feed once now and store what changed.
    Fetch {
        /// Also fetch feeds that are backing off after failures, or gone.
        #[arg(long)]
        all: bool,
        /// Only this member.
        #[arg(long)]
        member: Option<String>,
        /// One JSON object per feed instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the whole pipeline on feeds (URLs or files) without storing anything, and show
    /// what would be stored and why something would not.
    Check {
        #[arg(required = true)]
        inputs: Vec<String>,
        /// Base URL for relative links in files.
        #[arg(long)]
        base_url: Option<Url>,
        /// One JSON object per input, one per line.
        #[arg(long)]
        json: bool,
    },
    /// The weekly digest: preview it, or send it now.
    Digest {
        #[command(subcommand)]
        command: DigestCommand,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Write every post and feed state as JSON lines.
    Export {
        /// Where to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Read JSON lines written by `export` into the store.
    Import {
        /// What to read (default: standard input).
        input: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DigestCommand {
    /// Write a week's digest to standard output.
    Preview {
        /// The week, like 2026-W48 (default: the last complete week).
        #[arg(long)]
        week: Option<String>,
        #[arg(long, value_enum, default_value = "html")]
        format: PreviewFormat,
    },
    /// Mail a week's digest now to every recipient not yet served.
    Send {
        #[arg(long)]
        week: Option<String>,
        /// Show who would receive it; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send a week already sent (recipients already served are still skipped).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PreviewFormat {
    Html,
    Text,
    Eml,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print what was understood.
    Check,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve { listen } => {
            let config = config::load(&args.config)?;
            let store = Store::open(&config.store.path, config.store.cache_bytes)?;
            let secrets = crate::serve::Secrets::from_environment();
            if secrets.admin_token.is_none() {
                tracing::info!("PLANET_ADMIN_TOKEN is not set: POST /admin/refresh is disabled");
            }
            if secrets.digest_secret.is_none() {
                tracing::info!("PLANET_DIGEST_SECRET is not set: readers cannot subscribe to the digest");
            }
            let service = crate::serve::Service::new(config, store, secrets)?;
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("failed to listen on {listen}"))?;
            crate::serve::run(service, listener, crate::serve::shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fetch { all, member, json } => {
            let config = config::load(&args.config)?;
            let member =
                member.map(|m| MemberId::parse(&m).map_err(|e| anyhow::anyhow!("--member {m}: {e}"))).transpose()?;
            if let Some(id) = &member {
                anyhow::ensure!(
                    config.members.iter().any(|m| m.id == *id),
                    "no member '{id}' in {}",
                    config.source.display()
                );
            }
            let store = Store::open(&config.store.path, config.store.cache_bytes)?;
            let client = fetch::Client::new(&config.fetch)?;
            let report =
                refresh::run_pass(&config, &store, &client, Utc::now(), &PassOptions { force: all, member }).await?;
            print_pass(&report, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { inputs, base_url, json } => check(&args.config, &inputs, base_url.as_ref(), json).await,
        Command::Digest { command } => digest(&args.config, command).await,
        Command::Config { command: ConfigCommand::Check } => {
            let config = config::load(&args.config)?;
            print_config(&config);
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { output } => {
            let config = config::load(&args.config)?;
            let store = Store::open(&config.store.path, config.store.cache_bytes)?;
            let counts = match output {
                Some(path) => {
                    let file =
                        std::fs::File::create(&path).with_context(|| format!("failed to create {}", path.display()))?;
                    store::export(&store, std::io::BufWriter::new(file))?
                }
                None => store::export(&store, std::io::BufWriter::new(std::io::stdout().lock()))?,
            };
            eprintln!(
                "exported {} posts, {} feed states and {} subscribers",
                counts.posts, counts.feed_states, counts.subscribers
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { input } => {
            let config = config::load(&args.config)?;
            let store = Store::open(&config.store.path, config.store.cache_bytes)?;
            let counts = match input {
                Some(path) => {
                    let file =
                        std::fs::File::open(&path).with_context(|| format!("failed to open {}", path.display()))?;
                    store::import(&store, std::io::BufReader::new(file))?
                }
                None => store::import(&store, std::io::stdin().lock())?,
            };
            eprintln!(
                "imported {} posts, {} feed states and {} subscribers",
                counts.posts, counts.feed_states, counts.subscribers
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn digest(config_path: &std::path::Path, command: DigestCommand) -> anyhow::Result<ExitCode> {
    use crate::digest::{send, Week};
    let config = config::load(config_path)?;
    let store = Store::open(&config.store.path, config.store.cache_bytes)?;
    let now = Utc::now();
    let week_of = |text: Option<String>| -> anyhow::Result<Week> {
        let week = match text {
            Some(text) => Week::parse(&text).map_err(|e| anyhow::anyhow!("--week: {e}"))?,
            None => Week::last_complete(now, config.site.timezone),
        };
        anyhow::ensure!(week.end(config.site.timezone) <= now, "--week: {week} has not ended yet");
        Ok(week)
    };
    let secret = std::env::var("PLANET_DIGEST_SECRET").ok().filter(|s| !s.is_empty()).map(String::into_bytes);
    match command {
        DigestCommand::Preview { week, format } => {
            let week = week_of(week)?;
            let digest = send::compose_week(&config, &store, week, now)?;
            let mut out = std::io::stdout().lock();
            match format {
                PreviewFormat::Html => {
                    out.write_all(crate::render::digest::email_html(&config.site, &digest, None).as_bytes())?
                }
                PreviewFormat::Text => {
                    out.write_all(crate::render::digest::email_text(&config.site, &digest, None).as_bytes())?
                }
                PreviewFormat::Eml => {
                    let mailer = crate::mail::Mailer::from_config(&config.digest)?
                        .context("set [digest] from to preview the message")?;
                    let to = config
                        .digest
                        .recipients
                        .first()
                        .map(|r| r.address.clone())
                        .unwrap_or_else(|| mailer.from_address());
                    let unsubscribe = send::unsubscribe_url(&config, secret.as_deref(), &to);
                    let outgoing = crate::mail::Outgoing {
                        to: &to,
                        subject: &digest.subject,
                        text: crate::render::digest::email_text(&config.site, &digest, unsubscribe.as_deref()),
                        html: Some(crate::render::digest::email_html(&config.site, &digest, unsubscribe.as_deref())),
                        list_id: Some(format!(
                            "{} <digest.{}>",
                            config.digest.title,
                            config.site.url.host_str().unwrap_or("planet")
                        )),
                        unsubscribe_url: unsubscribe,
                        message_id: format!("<preview.{week}@{}>", config.site.url.host_str().unwrap_or("planet")),
                    };
                    out.write_all(&mailer.eml(&outgoing)?)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DigestCommand::Send { week, dry_run, force } => {
            let week = week_of(week)?;
            let mailer = crate::mail::Mailer::from_config(&config.digest)?
                .context("set [digest] from (and the SMTP settings) to send the digest")?;
            let options = send::SendOptions { force, dry_run };
            let report = send::send_week(&config, &store, &mailer, secret.as_deref(), week, &options, now).await?;
            let verb = if dry_run { "would send to" } else { "sent to" };
            println!("{} · {}", report.week, report.subject);
            if report.empty {
                println!("the week has no posts: no mail (set [digest] send_empty = true, or --force)");
            }
            for address in &report.sent {
                println!("{verb} {address}");
            }
            for address in &report.already_served {
                println!("already served {address}");
            }
            for (address, reason) in &report.rejected {
                println!("rejected {address}: {reason}");
            }
            for (address, reason) in &report.pending {
                println!("not yet delivered {address}: {reason}");
            }
            for address in &report.uncertain {
                println!("uncertain {address}: a crash interrupted its send; not mailed again (--force retries it)");
            }
            println!(
                "{} sent, {} already served, {} rejected, {} pending, {} uncertain{}",
                report.sent.len(),
                report.already_served.len(),
                report.rejected.len(),
                report.pending.len(),
                report.uncertain.len(),
                if report.completed { "; the week is complete" } else { "; run again to retry the pending ones" }
            );
            Ok(if report.pending.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

/// `check` works without a feeds.toml (a member checking a feed before joining); with one,
/// it uses the site's time zone, the fetch settings and the member's filters.
async fn check(
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

fn print_pass(report: &PassReport, json: bool) -> anyhow::Result<()> {
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

fn print_config(config: &Config) {
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
}
