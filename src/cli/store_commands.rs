//! The store commands: `planet export` (every readable post, even from a damaged store) and
//! `planet store check [--repair]` (find the posts that cannot be read, and drop them) and
//! `planet store compact` (sled's files rewritten without their garbage).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::config;
use crate::store::{self, Store};

/// `planet export`: writes what can be read; damaged posts are named in the log and counted,
/// and fail the command only with `strict`.
pub fn export(config_path: &Path, output: Option<PathBuf>, strict: bool) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path)?;
    // Read only: a backup must not compact, rewrite or index the store it backs up.
    let store = Store::open_read_only(&config.store.path, config.store.cache_bytes)?;
    let counts = match output {
        Some(path) => {
            let file = std::fs::File::create(&path).with_context(|| format!("failed to create {}", path.display()))?;
            store::export(&store, std::io::BufWriter::new(file))?
        }
        None => store::export(&store, std::io::BufWriter::new(std::io::stdout().lock()))?,
    };
    eprintln!(
        "exported {} posts, {} feed states and {} subscribers",
        counts.posts, counts.feed_states, counts.subscribers
    );
    if counts.damaged_posts > 0 {
        eprintln!(
            "{} damaged posts could not be read and were left out (their ids are in the log above); \
             `planet store check --repair` drops them, and their members' next fetch stores them again",
            counts.damaged_posts
        );
        if strict {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `planet store check`: reads every post and lists those that cannot be read; with
/// `repair`, drops them. Exit 1 while damage remains.
pub fn check(config_path: &Path, repair: bool, json: bool) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path)?;
    let store = match repair {
        true => Store::open(&config.store.path, config.store.cache_bytes)?,
        false => Store::open_read_only(&config.store.path, config.store.cache_bytes)?,
    };
    let report = store.check_posts(repair)?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for damaged in &report.damaged {
            let published = damaged.published.map(|t| t.to_rfc3339()).unwrap_or_default();
            println!("damaged\t{}\t{published}\t{}", damaged.id, damaged.reason);
        }
        println!(
            "{} posts checked, {} damaged, {} dropped",
            report.posts_checked,
            report.damaged.len(),
            report.dropped
        );
    }
    let whole = report.damaged.len() == report.dropped;
    Ok(if whole { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `planet store compact`: the closed store's sled files rewritten (`store::rewrite`).
pub fn compact(config_path: &Path) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path)?;
    report_rewrite(store::rewrite_sled_files(&config.store.path, config.store.cache_bytes)?);
    Ok(ExitCode::SUCCESS)
}

pub fn report_rewrite(rewritten: store::Rewritten) {
    let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    eprintln!(
        "rewrote the store's index files: {:.1} MB before, {:.1} MB after",
        mb(rewritten.bytes_before),
        mb(rewritten.bytes_after)
    );
}
