//! WebSub subscriptions planet holds at members' hubs: by callback token (what a hub's
//! request names) and by member feed (what a pass asks about).

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{decode, encode, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    /// Asked for; the hub has not verified our intent yet.
    Requested,
    /// The hub verified it: content arrives until `lease_until`.
    Verified,
    /// The hub refused it (`hub.mode=denied`).
    Denied,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The unguessable last part of the callback URL.
    pub token: String,
    pub member: String,
    /// The feed as feeds.toml lists it.
    pub feed_url: String,
    pub hub: Url,
    pub topic: Url,
    /// `hub.secret`: the hub signs what it pushes with it.
    pub secret: String,
    pub state: SubscriptionState,
    pub requested_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_push: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Verified and within its lease at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.state == SubscriptionState::Verified && self.lease_until.is_some_and(|until| until > now)
    }
}

fn token_key(token: &str) -> Vec<u8> {
    format!("sub:{token}").into_bytes()
}

fn feed_key(member: &str, feed_url: &str) -> Vec<u8> {
    format!("feed:{member}\0{feed_url}").into_bytes()
}

impl Store {
    pub fn websub_subscription(&self, token: &str) -> anyhow::Result<Option<Subscription>> {
        self.websub.get(token_key(token))?.map(|bytes| decode(&bytes)).transpose()
    }

    /// The subscription for this member feed, if there is one.
    pub fn websub_for_feed(&self, member: &str, feed_url: &str) -> anyhow::Result<Option<Subscription>> {
        let Some(token) = self.websub.get(feed_key(member, feed_url))? else { return Ok(None) };
        self.websub_subscription(&String::from_utf8_lossy(&token))
    }

    /// Writes a subscription and makes it the member feed's (a new token replaces the old,
    /// whose callback then answers 410 Gone).
    pub fn put_websub(&self, subscription: &Subscription) -> anyhow::Result<()> {
        let feed = feed_key(&subscription.member, &subscription.feed_url);
        if let Some(previous) = self.websub.get(&feed)? {
            if previous.as_ref() != subscription.token.as_bytes() {
                self.websub.remove(token_key(&String::from_utf8_lossy(&previous)))?;
            }
        }
        self.websub.insert(token_key(&subscription.token), encode(subscription)?)?;
        self.websub.insert(feed, subscription.token.as_bytes())?;
        self.websub.flush().context("failed to flush the WebSub subscriptions")?;
        Ok(())
    }

    pub fn websub_subscriptions(&self) -> anyhow::Result<Vec<Subscription>> {
        self.websub.scan_prefix(b"sub:").values().map(|value| decode(&value?)).collect()
    }
}
