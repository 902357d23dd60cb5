//! The command line: argument definitions and one function per subcommand. Output for people
//! goes to stdout as tables; `--json` gives one JSON object per line for programs.

mod digest;
mod notify;
mod report;
mod store_commands;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Parser, Subcommand};
use url::Url;

use crate::config::{self, MemberId};
use crate::fetch;
use crate::refresh::{self, PassOptions};
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
    /// Write every post and feed state as JSON lines. Posts that cannot be read (a damaged
    /// body log) are left out and counted.
    Export {
        /// Where to write (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Exit 1 when any post could not be read.
        #[arg(long)]
        strict: bool,
    },
    /// Store tools.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Read JSON lines written by `export` into the store.
    Import {
        /// What to read (default: standard input).
        input: Option<PathBuf>,
        /// Skip the `store compact` at the end (it copies every index key into fresh files:
        /// ~20 s at 1,000,000 posts, the whole command peaking at ~244 MB with it).
        #[arg(long)]
        no_compact: bool,
    },
    /// Take a post down from every output (it stays in the store and the export). While
    /// `serve` runs, use `POST /admin/posts/{id}/hide` instead (the store is its alone).
    Hide {
        post_id: String,
        /// Why, for the moderation log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Put a hidden post back.
    Unhide {
        post_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The moderation log.
    Moderation {
        #[command(subcommand)]
        command: ModerationCommand,
    },
    /// Push targets (`[[notify]]`): send a test message, or show each one's status.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Rebuild the full-text search index from the store (`serve` also does this by itself
    /// when the index is missing or of an older schema).
    Reindex {
        /// Rebuild nothing: take in the posts the index is missing (as a start does), then
        /// check that the index holds exactly the store's posts; exit 1 if it does not.
        #[arg(long, conflicts_with = "if_needed")]
        check: bool,
        /// Only what a start would do: group copies of articles if the store's grouping is
        /// outdated, rebuild an index that is missing, outdated or from another store, and
        /// take in the posts it lacks (for systemd's ExecStartPre).
        #[arg(long)]
        if_needed: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Read every post and list those that cannot be read (exit 1 while any remain).
    Check {
        /// Drop the damaged posts from the store (their members' next fetch stores them
        /// again if their feeds still have them).
        #[arg(long)]
        repair: bool,
        /// One JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Rewrite sled's files without the space of replaced values, which sled gives back
    /// slowly and which costs memory on every open (stop the server first).
    Compact,
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

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send one sample message to the target NAME now, and say what it answered.
    Test { name: String },
    /// Each target's queue, deliveries, last success and last error (the server must be
    /// stopped: it holds the store; /api/v1/stats shows the same while it runs).
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModerationCommand {
    /// Every hide and unhide, oldest first: when, how, which post, why.
    Log {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
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
            let secrets = crate::service::Secrets::from_environment()?;
            if secrets.admin_token.is_none() {
                tracing::info!("PLANET_ADMIN_TOKEN is not set: POST /admin/refresh is disabled");
            }
            if secrets.digest_secret.is_none() {
                tracing::info!("PLANET_DIGEST_SECRET is not set: readers cannot subscribe to the digest");
            }
            let service = crate::service::Service::new(config, store, secrets)?;
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
                    config.members.get(id.as_str()).is_some(),
                    "no member '{id}' in {}",
                    config.source.display()
                );
            }
            let store = Store::open(&config.store.path, config.store.cache_bytes)?;
            let client = fetch::Client::new(&config.fetch)?;
            let report = refresh::run_pass(
                &config,
                &store,
                &client,
                Utc::now(),
                &PassOptions { force: all, member, stop: None },
            )
            .await?;
            report::print_pass(&report, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { inputs, base_url, json } => {
            report::check(&args.config, &inputs, base_url.as_ref(), json).await
        }
        Command::Digest { command } => digest::run(&args.config, command).await,
        Command::Notify { command } => notify::run(&args.config, command).await,
        Command::Config { command: ConfigCommand::Check } => {
            let config = config::load(&args.config)?;
            report::print_config(&config);
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { output, strict } => store_commands::export(&args.config, output, strict),
        Command::Store { command: StoreCommand::Check { repair, json } } => {
            store_commands::check(&args.config, repair, json)
        }
        Command::Store { command: StoreCommand::Compact } => store_commands::compact(&args.config),
        Command::Import { input, no_compact } => {
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
            // Grouped and indexed here, in a process that ends, rather than by the next `serve`:
            // both read every post, and sled keeps most pages it reads resident (posts are in
            // the body log, but their references and indexes pass through sled's cache).
            let (path, cache_bytes) = (config.store.path.clone(), config.store.cache_bytes);
            let service = crate::service::Service::new(config, store, crate::service::Secrets::default())?;
            service.regroup_if_needed()?;
            let indexed = service.update_search_index()?;
            eprintln!("indexed {indexed} posts for search");
            drop(service);
            // An import rewrites index values many times over; the server would open all that.
            if counts.posts > 0 && !no_compact {
                store_commands::report_rewrite(store::rewrite_sled_files(&path, cache_bytes)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex { check, if_needed } => reindex(&args.config, check, if_needed),
        Command::Hide { post_id, reason } => moderate(&args.config, post_id, reason, store::Action::Hide),
        Command::Unhide { post_id, reason } => moderate(&args.config, post_id, reason, store::Action::Unhide),
        Command::Moderation { command: ModerationCommand::Log { json } } => {
            let config = config::load(&args.config)?;
            let store = Store::open_read_only(&config.store.path, config.store.cache_bytes)?;
            for event in store.moderation_log()? {
                if json {
                    println!("{}", serde_json::to_string(&event)?);
                } else {
                    let action = if event.action == store::Action::Hide { "hide" } else { "unhide" };
                    let via = serde_json::to_string(&event.via)?.trim_matches('"').to_string();
                    let reason = event.reason.as_deref().unwrap_or("-");
                    println!("{}  {action:<6}  {}  via {via}  {reason}", event.at.to_rfc3339(), event.post_id);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn reindex(config_path: &std::path::Path, check: bool, if_needed: bool) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path)?;
    let store = Store::open(&config.store.path, config.store.cache_bytes)?;
    let service = crate::service::Service::new(config, store, crate::service::Secrets::default())?;
    // What a start does first: group copies of articles in a store from older rules.
    if if_needed || check {
        service.regroup_if_needed()?;
    }
    if if_needed {
        let count = service.update_search_index()?;
        println!("indexed {count} posts; the search index is up to date");
        return Ok(ExitCode::SUCCESS);
    }
    if !check {
        let started = std::time::Instant::now();
        let count = service.rebuild_search_index()?;
        println!("indexed {count} posts in {:.1} s", started.elapsed().as_secs_f64());
        return Ok(ExitCode::SUCCESS);
    }
    let taken = service.update_search_index()?;
    let (missing, extra) = service.search_index_differences()?;
    println!(
        "took in {taken} posts; the index lacks {} stored posts and has {} not stored",
        missing.len(),
        extra.len()
    );
    for id in missing.iter().take(20) {
        println!("missing {id}");
    }
    for id in extra.iter().take(20) {
        println!("extra {id}");
    }
    match missing.is_empty() && extra.is_empty() {
        true => {
            println!("the search index agrees with the store: {} posts", service.store.post_count());
            Ok(ExitCode::SUCCESS)
        }
        false => Ok(ExitCode::FAILURE),
    }
}

fn moderate(
    config_path: &std::path::Path,
    post_id: String,
    reason: Option<String>,
    action: store::Action,
) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path)?;
    let store = Store::open(&config.store.path, config.store.cache_bytes)?;
    let reason = reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    let event =
        store::ModerationEvent { at: Utc::now(), action, post_id: post_id.clone(), via: store::Via::Cli, reason };
    anyhow::ensure!(store.moderate(&event)?, "no post '{post_id}' in the store");
    let done = if action == store::Action::Hide { "hidden from every output" } else { "shown again" };
    println!("post {post_id}: {done}; the moderation log has it");
    Ok(ExitCode::SUCCESS)
}
