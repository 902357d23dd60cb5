//! `planet digest preview` and `planet digest send`: the week's digest composed from the
//! store, shown as HTML, text or a complete message, or mailed with a line per recipient.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::Utc;

use super::{DigestCommand, PreviewFormat};
use crate::config;
use crate::store::Store;

pub async fn run(config_path: &std::path::Path, command: DigestCommand) -> anyhow::Result<ExitCode> {
    use crate::digest::{load, send, Week};
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
            let digest = load::compose_week(&config, &store, week)?;
            let mut out = std::io::stdout().lock();
            match format {
                PreviewFormat::Html => {
                    out.write_all(crate::render::digest::email_html(&config.site, &digest, None).as_bytes())?
                }
                PreviewFormat::Text => {
                    out.write_all(crate::render::digest::email_text(&config.site, &digest, None).as_bytes())?
                }
                PreviewFormat::Eml => out.write_all(&preview_message(&config, secret.as_deref(), &digest)?)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        DigestCommand::Send { week, dry_run, force } => {
            let week = week_of(week)?;
            let mailer = crate::mail::Mailer::from_config(&config.digest)?
                .context("set [digest] from (and the SMTP settings) to send the digest")?;
            let options = send::SendOptions { force, dry_run };
            let report = send::send_week(&config, &store, &mailer, secret.as_deref(), week, &options, now).await?;
            print_send_report(&report, dry_run);
            Ok(if report.pending.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

/// The message as it would be mailed to the first recipient (or to the sender when there is
/// none), with its headers and unsubscribe link, in .eml form.
fn preview_message(
    config: &config::Config,
    secret: Option<&[u8]>,
    digest: &crate::digest::Digest,
) -> anyhow::Result<Vec<u8>> {
    let mailer =
        crate::mail::Mailer::from_config(&config.digest)?.context("set [digest] from to preview the message")?;
    let to = config.digest.recipients.first().map(|r| r.address.clone()).unwrap_or_else(|| mailer.from_address());
    mailer.eml(&crate::digest::send::message(config, digest, secret, &to))
}

/// A line per recipient (sent, already served, rejected, pending or uncertain), then totals.
fn print_send_report(report: &crate::digest::send::SendReport, dry_run: bool) {
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
}
