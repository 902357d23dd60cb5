//! The digest's records: subscribers, one delivery record per (week, recipient) written the
//! moment the SMTP server accepted the message, and the weeks whose sending is complete.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{decode, encode, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriberStatus {
    /// Asked to subscribe; the confirmation link was not followed yet.
    Pending,
    Confirmed,
    Unsubscribed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub address: String,
    pub status: SubscriberStatus,
    pub requested_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

impl Subscriber {
    /// A record first seen at `now` in `status`, with no confirmation or unsubscription yet.
    pub fn new(address: &str, status: SubscriberStatus, now: DateTime<Utc>) -> Subscriber {
        Subscriber {
            address: address.to_string(),
            status,
            requested_at: now,
            confirmed_at: None,
            unsubscribed_at: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Written, and made durable, just before the message is handed to the SMTP server. A
    /// record still in this state after a crash means the outcome is unknown: the message
    /// may have been accepted. Such a recipient is not mailed again (never twice) unless the
    /// admin forces it.
    Sending,
    /// The SMTP server accepted the message.
    Sent,
    /// The SMTP server refused it for good (5xx); not tried again.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub status: DeliveryStatus,
    pub at: DateTime<Utc>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekSent {
    pub completed_at: DateTime<Utc>,
    pub sent: usize,
    pub rejected: usize,
    /// Set when the week had no posts and empty digests are not mailed.
    pub empty: bool,
}

fn delivery_key(week: &str, address: &str) -> Vec<u8> {
    let mut key = week.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(address.as_bytes());
    key
}

impl Store {
    pub fn subscriber(&self, address: &str) -> anyhow::Result<Option<Subscriber>> {
        self.subscribers.get(address)?.map(|bytes| decode(&bytes)).transpose()
    }

    pub fn put_subscriber(&self, subscriber: &Subscriber) -> anyhow::Result<()> {
        self.subscribers.insert(subscriber.address.as_bytes(), encode(subscriber)?)?;
        self.subscribers.flush().context("failed to flush subscribers")?;
        Ok(())
    }

    pub fn subscribers(&self) -> anyhow::Result<Vec<Subscriber>> {
        self.subscribers.iter().values().map(|value| decode(&value?)).collect()
    }

    pub fn delivery(&self, week: &str, address: &str) -> anyhow::Result<Option<Delivery>> {
        self.deliveries.get(delivery_key(week, address))?.map(|bytes| decode(&bytes)).transpose()
    }

    /// Records a delivery and makes it durable before returning: this record is what keeps
    /// a resumed send from mailing the recipient twice.
    pub fn record_delivery(&self, week: &str, address: &str, delivery: &Delivery) -> anyhow::Result<()> {
        self.deliveries.insert(delivery_key(week, address), encode(delivery)?)?;
        self.deliveries.flush().context("failed to flush the delivery record")?;
        Ok(())
    }

    pub fn forget_delivery(&self, week: &str, address: &str) -> anyhow::Result<()> {
        self.deliveries.remove(delivery_key(week, address))?;
        self.deliveries.flush().context("failed to flush the delivery record")?;
        Ok(())
    }

    pub fn week_sent(&self, week: &str) -> anyhow::Result<Option<WeekSent>> {
        self.digests_sent.get(week)?.map(|bytes| decode(&bytes)).transpose()
    }

    pub fn mark_week_sent(&self, week: &str, sent: &WeekSent) -> anyhow::Result<()> {
        self.digests_sent.insert(week.as_bytes(), encode(sent)?)?;
        self.digests_sent.flush().context("failed to flush the digest record")?;
        Ok(())
    }
}
