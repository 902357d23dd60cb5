//! Mailing a week's digest exactly once per recipient. Each (week, recipient) delivery is
//! recorded and flushed the moment the SMTP server accepts the message, so a send that was
//! interrupted resumes with the recipients not yet served. A marker written just before each
//! message makes a crash in the instant between the server's acceptance and our record
//! visible: that recipient is reported as uncertain, not mailed a second time. A permanent rejection is recorded
//! too; a temporary failure leaves the recipient pending for the next attempt, and the week is
//! complete only when nobody is pending.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::load::compose_week;
use super::tokens::{self, Purpose};
use super::{Digest, Week};
use crate::config::Config;
use crate::mail::{MailError, Mailer, Outgoing};
use crate::render;
use crate::store::{Delivery, DeliveryStatus, Store, SubscriberStatus, WeekSent};

#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Send a week already marked sent (recipients already served are still skipped).
    pub force: bool,
    /// Compose and list the recipients, but send and record nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    pub week: String,
    pub subject: String,
    pub sent: Vec<String>,
    /// Served by an earlier (interrupted or forced) send: skipped.
    pub already_served: Vec<String>,
    pub rejected: Vec<(String, String)>,
    /// Temporary failures: tried again at the next attempt.
    pub pending: Vec<(String, String)>,
    /// A crash interrupted their send: the server may or may not have accepted the message.
    /// Not mailed again, so nobody gets it twice; `--force` retries them.
    pub uncertain: Vec<String>,
    pub completed: bool,
    /// The week had no posts and empty digests are not mailed.
    pub empty: bool,
    pub dry_run: bool,
}

/// Static recipients and confirmed subscribers, without anyone who unsubscribed, once each.
pub fn recipients(config: &Config, store: &Store) -> anyhow::Result<Vec<String>> {
    let mut addresses = BTreeSet::new();
    for mailbox in &config.digest.recipients {
        addresses.insert(mailbox.address.clone());
    }
    for subscriber in store.subscribers()? {
        if subscriber.status == SubscriberStatus::Confirmed {
            addresses.insert(subscriber.address);
        }
    }
    let mut kept = Vec::with_capacity(addresses.len());
    for address in addresses {
        let unsubscribed = store.subscriber(&address)?.is_some_and(|s| s.status == SubscriberStatus::Unsubscribed);
        if !unsubscribed {
            kept.push(address);
        }
    }
    Ok(kept)
}

/// The week whose digest should go out now: the last complete week, once its scheduled time
/// has passed, if it has not gone out yet. A process that was down at that time sends it
/// when it comes back.
pub fn due_week(config: &Config, store: &Store, now: DateTime<Utc>) -> anyhow::Result<Option<Week>> {
    let zone = config.site.timezone;
    let week = Week::last_complete(now, zone);
    let week_end = week.end(zone).with_timezone(&zone) - chrono::TimeDelta::seconds(1);
    let Some(scheduled) = config.digest.schedule.after(&week_end).next() else { return Ok(None) };
    if now < scheduled.with_timezone(&Utc) || store.week_sent(&week.to_string())?.is_some() {
        return Ok(None);
    }
    Ok(Some(week))
}

pub fn unsubscribe_url(config: &Config, secret: Option<&[u8]>, address: &str) -> Option<String> {
    let token = tokens::sign(secret?, Purpose::Unsubscribe, address, None);
    let mut url = config.site.url.join("unsubscribe").ok()?;
    url.query_pairs_mut().append_pair("token", &token);
    Some(url.to_string())
}

fn message_id(config: &Config, week: &str, address: &str) -> String {
    let host = config.site.url.host_str().unwrap_or("planet.invalid");
    format!("<digest.{week}.{}@{host}>", &crate::hashing::digest(&[address])[..16])
}

/// The digest's message to one recipient: both parts, list headers and a one-click
/// unsubscribe link of its own (when a digest secret is set). Preview shows exactly this.
pub fn message<'a>(config: &Config, digest: &'a Digest, secret: Option<&[u8]>, address: &'a str) -> Outgoing<'a> {
    let unsubscribe = unsubscribe_url(config, secret, address);
    let host = config.site.url.host_str().unwrap_or("planet");
    Outgoing {
        to: address,
        subject: &digest.subject,
        text: render::digest::email_text(&config.site, digest, unsubscribe.as_deref()),
        html: Some(render::digest::email_html(&config.site, digest, unsubscribe.as_deref())),
        list_id: Some(format!("{} <digest.{host}>", config.digest.title)),
        unsubscribe_url: unsubscribe,
        message_id: message_id(config, &digest.week, address),
    }
}

/// The confirmation mail's parts for `address`, asked for at `now`: subject, text with the
/// signed link (valid 48 hours), and a message id.
pub struct ConfirmationMail {
    pub subject: String,
    pub text: String,
    pub message_id: String,
}

pub fn confirmation_mail(
    config: &Config,
    secret: &[u8],
    address: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<ConfirmationMail> {
    let t = crate::texts::for_site(&config.site);
    let token = tokens::sign(secret, Purpose::Confirm, address, Some(now + tokens::CONFIRM_VALID_FOR));
    let mut link = config.site.url.join("subscribe/confirm")?;
    link.query_pairs_mut().append_pair("token", &token);
    let host = config.site.url.host_str().unwrap_or("planet");
    Ok(ConfirmationMail {
        subject: crate::texts::fill(t.confirm_subject, &[("title", &config.digest.title)]),
        text: crate::texts::fill(t.confirm_mail, &[("link", &link)]),
        message_id: format!("<confirm.{}.{}@{host}>", now.timestamp(), &crate::hashing::digest(&[address])[..12]),
    })
}

/// Sends the digest of `week` to every recipient not yet served.
pub async fn send_week(
    config: &Config,
    store: &Store,
    mailer: &Mailer,
    secret: Option<&[u8]>,
    week: Week,
    options: &SendOptions,
    now: DateTime<Utc>,
) -> anyhow::Result<SendReport> {
    let week_text = week.to_string();
    if let Some(done) = store.week_sent(&week_text)? {
        anyhow::ensure!(
            options.force,
            "the digest of {week_text} was already sent on {} to {} recipients; --force sends it to recipients not yet served",
            done.completed_at.format("%Y-%m-%d %H:%M UTC"),
            done.sent
        );
    }
    let digest = compose_week(config, store, week)?;
    let mut report = SendReport {
        week: week_text.clone(),
        subject: digest.subject.clone(),
        dry_run: options.dry_run,
        ..SendReport::default()
    };
    if !digest.is_published(config.digest.send_empty) && !options.force {
        report.empty = true;
        report.completed = true;
        if !options.dry_run {
            store.mark_week_sent(&week_text, &WeekSent { completed_at: now, sent: 0, rejected: 0, empty: true })?;
        }
        return Ok(report);
    }
    for address in recipients(config, store)? {
        match store.delivery(&week_text, &address)?.map(|d| d.status) {
            Some(DeliveryStatus::Sending) if !options.force => {
                report.uncertain.push(address);
                continue;
            }
            Some(DeliveryStatus::Sent | DeliveryStatus::Rejected) => {
                report.already_served.push(address);
                continue;
            }
            Some(DeliveryStatus::Sending) | None => {}
        }
        if options.dry_run {
            report.sent.push(address);
            continue;
        }
        // Durable before the SMTP server sees the message: a crash between its acceptance and
        // our record cannot lead to a second copy.
        let marker = Delivery { status: DeliveryStatus::Sending, at: Utc::now(), detail: None };
        store.record_delivery(&week_text, &address, &marker)?;
        let outgoing = message(config, &digest, secret, &address);
        match mailer.send(&outgoing).await {
            Ok(()) => {
                store.record_delivery(
                    &week_text,
                    &address,
                    &Delivery { status: DeliveryStatus::Sent, at: Utc::now(), detail: None },
                )?;
                report.sent.push(address);
            }
            Err(MailError::Permanent(reason)) => {
                tracing::warn!(recipient = %address, week = %week_text, "digest rejected: {reason}");
                let delivery =
                    Delivery { status: DeliveryStatus::Rejected, at: Utc::now(), detail: Some(reason.clone()) };
                store.record_delivery(&week_text, &address, &delivery)?;
                report.rejected.push((address, reason));
            }
            Err(MailError::Transient(reason)) => {
                tracing::warn!(recipient = %address, week = %week_text, "digest not delivered yet: {reason}");
                // Known not to be accepted: clear the marker so the next attempt sends it.
                store.forget_delivery(&week_text, &address)?;
                report.pending.push((address, reason));
            }
        }
    }
    report.completed = report.pending.is_empty();
    if report.completed && !options.dry_run {
        let previously = store.week_sent(&week_text)?.map_or(0, |w| w.sent);
        let summary = WeekSent {
            completed_at: now,
            sent: previously + report.sent.len(),
            rejected: report.rejected.len(),
            empty: false,
        };
        store.mark_week_sent(&week_text, &summary)?;
    }
    tracing::info!(
        week = %week_text,
        sent = report.sent.len(),
        already = report.already_served.len(),
        rejected = report.rejected.len(),
        pending = report.pending.len(),
        uncertain = report.uncertain.len(),
        "digest send finished"
    );
    Ok(report)
}
