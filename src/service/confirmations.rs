//! Subscription confirmations: the queue the subscribe form fills and the confirmation
//! loop's single step that records each subscriber and mails it.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::Service;
use crate::digest::send as digest_send;
use crate::mail::Outgoing;
use crate::store::{Subscriber, SubscriberStatus};

/// Subscriptions waiting for their confirmation mail. The form answers at once and the same
/// way for every address; whether the address is new, pending or already confirmed is
/// looked up here, off the request, so the answer's timing reveals nothing either.
#[derive(Default)]
pub(super) struct ConfirmationQueue {
    waiting: Mutex<std::collections::VecDeque<(String, DateTime<Utc>)>>,
    ready: tokio::sync::Notify,
    sending: tokio::sync::Mutex<()>,
}

/// Confirmations waiting at most; past it a request is dropped (and logged), not queued.
const MAX_WAITING_CONFIRMATIONS: usize = 10_000;

impl Service {
    /// Queues a subscription's confirmation mail; false when the queue is full.
    pub fn queue_confirmation(&self, address: &str, at: DateTime<Utc>) -> bool {
        let Ok(mut waiting) = self.confirmations.waiting.lock() else { return false };
        if waiting.len() >= MAX_WAITING_CONFIRMATIONS {
            tracing::warn!("the confirmation queue is full; a subscription request was dropped");
            return false;
        }
        waiting.push_back((address.to_string(), at));
        self.confirmations.ready.notify_one();
        true
    }

    /// Waits until a confirmation is queued (the confirmation loop's wake-up).
    pub async fn confirmation_queued(&self) {
        self.confirmations.ready.notified().await;
    }

    /// Records and mails every queued confirmation (the confirmation loop's single step).
    /// Returns how many mails were sent; when it returns, none is still being sent.
    pub async fn send_queued_confirmations(&self) -> usize {
        let _sending = self.confirmations.sending.lock().await;
        let mut sent = 0;
        loop {
            let next = self.confirmations.waiting.lock().ok().and_then(|mut waiting| waiting.pop_front());
            let Some((address, at)) = next else { return sent };
            match self.confirm(&address, at).await {
                Ok(true) => sent += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!("confirmation mail not sent: {error:#}"),
            }
        }
    }

    /// A pending subscriber and a confirmation mail for `address`, unless already confirmed.
    async fn confirm(&self, address: &str, at: DateTime<Utc>) -> anyhow::Result<bool> {
        let (Some(secret), Some(mailer)) = (self.digest_secret(), self.mailer()) else { return Ok(false) };
        let existing = self.store.subscriber(address)?;
        if existing.is_some_and(|s| s.status == SubscriberStatus::Confirmed) {
            return Ok(false);
        }
        self.store.put_subscriber(&Subscriber::new(address, SubscriberStatus::Pending, at))?;
        let mail = digest_send::confirmation_mail(&self.config(), secret, address, at)?;
        let outgoing = Outgoing {
            to: address,
            subject: &mail.subject,
            text: mail.text,
            html: None,
            list_id: None,
            unsubscribe_url: None,
            message_id: mail.message_id,
        };
        mailer.send(&outgoing).await?;
        Ok(true)
    }
}
