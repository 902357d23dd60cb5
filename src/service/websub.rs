//! WebSub's steps: pinging planet's hubs for the feeds a pass changed, subscribing (and
//! renewing) at the hubs members' feeds advertise, and the callback's two requests: a hub
//! verifying our intent, and a hub pushing content, which is taken in as a fetch would be.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::StreamExt;
use url::Url;

use super::Service;
use crate::digest::Week;
use crate::refresh::{self, PassOptions, PassReport};
use crate::store::{Subscription, SubscriptionState};
use crate::websub;

/// What planet asks a hub for (the spec's suggested default, ten days).
pub const LEASE_SECONDS: i64 = 10 * 86_400;
/// A verified subscription is renewed when less than this is left of its lease.
const RENEW_BEFORE: TimeDelta = TimeDelta::days(1);
/// A request the hub never verified is made again after this.
const ASK_AGAIN_AFTER: TimeDelta = TimeDelta::hours(1);
/// Content a hub may push for one subscription in a minute; more gets 429.
pub const PUSHES_PER_MINUTE: usize = 30;
/// Subscription requests in flight at once.
const SUBSCRIBING_AT_ONCE: usize = 8;

/// What WebSub keeps in memory: recent pushes per subscription, the digest week last pinged.
#[derive(Default)]
pub struct WebSubMemory {
    pushes: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
    digest_week: Mutex<Option<String>>,
}

/// Why a hub's content was not taken.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such subscription")]
    Gone,
    #[error("{0}")]
    Signature(websub::SignatureError),
    #[error("more than {PUSHES_PER_MINUTE} pushes a minute for this subscription")]
    TooMany,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What was done with content a hub pushed.
#[derive(Debug)]
pub enum Taken {
    Stored(refresh::Counts),
    /// A ping without a body: the member's feeds are fetched now.
    FetchStarted,
}

impl Service {
    /// Tells each `[websub] hubs` hub that the feeds `report` changed have new content:
    /// the combined feeds, the changed members' feeds, and the digest feed once a new week
    /// is in it. Returns (topic, error) for each ping that failed.
    pub async fn ping_hubs(&self, report: &PassReport, now: DateTime<Utc>) -> Vec<(String, String)> {
        let config = self.config();
        if config.websub.hubs.is_empty() {
            return Vec::new();
        }
        let site = &config.site.url;
        let mut topics: Vec<String> = Vec::new();
        let changed: Vec<&str> =
            report.feeds.iter().filter(|f| f.counts.new + f.counts.updated > 0).map(|f| f.member.as_str()).collect();
        for path in ["feed.atom", "feed.rss", "feed.json"] {
            let Ok(url) = site.join(path) else { continue };
            if !changed.is_empty() {
                topics.push(url.to_string());
            }
            for member in &changed {
                let mut member_url = url.clone();
                member_url.query_pairs_mut().append_pair("member", member);
                topics.push(member_url.to_string());
            }
        }
        topics.dedup();
        let week = Week::last_complete(now, config.site.timezone).to_string();
        let new_week =
            self.websub.digest_week.lock().map(|mut last| last.replace(week.clone()) != Some(week)).unwrap_or(false);
        if new_week {
            topics.extend(site.join("digest.atom").ok().map(|u| u.to_string()));
        }
        let client = self.fetch_client();
        let pings: Vec<(Url, String)> =
            config.websub.hubs.iter().flat_map(|hub| topics.iter().map(|topic| (hub.clone(), topic.clone()))).collect();
        let results = futures_util::stream::iter(pings)
            .map(|(hub, topic): (Url, String)| {
                let client = client.clone();
                async move {
                    let fields = [("hub.mode", "publish"), ("hub.url", topic.as_str()), ("hub.topic", topic.as_str())];
                    let answer = crate::fetch::post_form(&client, &hub, &fields).await;
                    match answer {
                        Ok(a) if (200..300).contains(&a.status) => None,
                        Ok(a) => Some((topic, format!("{hub} answered HTTP {}", a.status))),
                        Err(error) => Some((topic, format!("{hub}: {}", error.detail()))),
                    }
                }
            })
            .buffer_unordered(SUBSCRIBING_AT_ONCE)
            .filter_map(std::future::ready)
            .collect::<Vec<_>>()
            .await;
        for (topic, error) in &results {
            tracing::warn!(%topic, "WebSub hub not told of the update: {error}");
        }
        results
    }

    /// Subscribes to the hub of every member feed that advertises one and has no live
    /// subscription, and renews those near the end of their lease. Returns how many requests
    /// were made. Off when `[websub] subscribe` is.
    pub async fn maintain_subscriptions(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let config = self.config();
        if !config.websub.subscribe {
            return Ok(0);
        }
        // A read per member feed (its state and subscription): off the async workers.
        let (store, scanned) = (self.store.clone(), Arc::clone(&config));
        let due = tokio::task::spawn_blocking(move || due_requests(&scanned, &store, now)).await??;
        let requests = due.len();
        let client = self.fetch_client();
        let site = config.site.url.clone();
        futures_util::stream::iter(due)
            .map(|subscription| self.request_subscription(&client, &site, subscription))
            .buffer_unordered(SUBSCRIBING_AT_ONCE)
            .collect::<Vec<()>>()
            .await;
        Ok(requests)
    }

    /// Records the request, then makes it: the hub may verify before its answer arrives.
    async fn request_subscription(&self, client: &crate::fetch::Client, site: &Url, subscription: Subscription) {
        let Some(callback) = websub::callback_url(site, &subscription.token) else { return };
        let store = self.store.clone();
        let recorded = subscription.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || store.put_websub(&recorded))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r)
        {
            tracing::error!("cannot record a WebSub subscription: {error:#}");
            return;
        }
        let lease = LEASE_SECONDS.to_string();
        let fields = [
            ("hub.mode", "subscribe"),
            ("hub.topic", subscription.topic.as_str()),
            ("hub.callback", callback.as_str()),
            ("hub.secret", subscription.secret.as_str()),
            ("hub.lease_seconds", lease.as_str()),
        ];
        let error = match crate::fetch::post_form(client, &subscription.hub, &fields).await {
            Ok(answer) if (200..300).contains(&answer.status) => None,
            Ok(answer) => Some(format!("the hub answered HTTP {}", answer.status)),
            Err(error) => Some(error.to_string()),
        };
        if let Some(error) = error {
            tracing::warn!(member = %subscription.member, hub = %subscription.hub, "WebSub subscription not made: {error}");
            // Read again: the hub may have verified (or denied) meanwhile.
            let store = self.store.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(mut current) = store.websub_subscription(&subscription.token)? {
                    current.last_error = Some(error);
                    store.put_websub(&current)?;
                }
                Ok::<_, anyhow::Error>(())
            })
            .await;
        }
    }

    /// A hub verifies our intent (`GET` on the callback): the challenge to echo when the
    /// subscription is ours and the topic the one we asked for; `None` (404) otherwise.
    /// Blocking (a store write).
    pub fn verify_websub_intent(
        &self,
        token: &str,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let Some(mut subscription) = self.store.websub_subscription(token)? else { return Ok(None) };
        let parameter = |name: &str| query.get(name).map(String::as_str);
        match parameter("hub.mode") {
            Some("subscribe") => {
                let topic_matches =
                    parameter("hub.topic").and_then(|t| Url::parse(t).ok()).is_some_and(|t| t == subscription.topic);
                let Some(challenge) = parameter("hub.challenge").filter(|c| !c.is_empty() && c.len() <= 256) else {
                    return Ok(None);
                };
                if !topic_matches || subscription.state == SubscriptionState::Denied {
                    return Ok(None);
                }
                let seconds =
                    parameter("hub.lease_seconds").and_then(|s| s.parse::<i64>().ok()).unwrap_or(LEASE_SECONDS);
                subscription.state = SubscriptionState::Verified;
                subscription.lease_until = Some(now + TimeDelta::seconds(seconds.clamp(60, 31 * 86_400)));
                subscription.last_error = None;
                self.store.put_websub(&subscription)?;
                tracing::info!(member = %subscription.member, hub = %subscription.hub, seconds, "WebSub subscription verified");
                Ok(Some(challenge.to_string()))
            }
            Some("denied") => {
                subscription.state = SubscriptionState::Denied;
                subscription.last_error =
                    Some(format!("denied by the hub: {}", parameter("hub.reason").unwrap_or("no reason given")));
                self.store.put_websub(&subscription)?;
                Ok(Some(String::new()))
            }
            // planet never unsubscribes (a lease just ends), so no unsubscription is ours.
            _ => Ok(None),
        }
    }

    /// A hub pushes content (`POST` on the callback): checked (the subscription, its member
    /// and feed still configured, the signature, the rate), then taken in as a fetch.
    pub async fn take_websub_content(
        self: &Arc<Self>,
        token: &str,
        signature: Option<&str>,
        content_type: Option<String>,
        body: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<Taken, Refusal> {
        let store = self.store.clone();
        let owned = token.to_string();
        let found = tokio::task::spawn_blocking(move || store.websub_subscription(&owned))
            .await
            .map_err(anyhow::Error::from)??;
        let mut subscription = found.filter(|s| s.state == SubscriptionState::Verified).ok_or(Refusal::Gone)?;
        let config = self.config();
        let member = config.members.get(&subscription.member).ok_or(Refusal::Gone)?;
        let feed = member.feeds.iter().find(|f| f.as_str() == subscription.feed_url).ok_or(Refusal::Gone)?;
        websub::check_signature(subscription.secret.as_bytes(), signature, &body).map_err(Refusal::Signature)?;
        if !self.within_push_rate(token, now) {
            return Err(Refusal::TooMany);
        }
        subscription.last_push = Some(now);
        let store = self.store.clone();
        let recorded = subscription.clone();
        tokio::task::spawn_blocking(move || store.put_websub(&recorded)).await.map_err(anyhow::Error::from)??;
        if body.iter().all(u8::is_ascii_whitespace) {
            self.start_pass(PassOptions { force: true, member: Some(member.id.clone()), stop: None });
            return Ok(Taken::FetchStarted);
        }
        let client = self.fetch_client();
        let pushed = refresh::Pushed { bytes: body, content_type };
        let report = refresh::take_pushed(&config, &self.store, &client, member, feed, pushed, now).await?;
        tracing::info!(member = %member.id, new = report.counts.new, updated = report.counts.updated, "WebSub content taken in");
        self.update_search_index_in_background().await;
        Ok(Taken::Stored(report.counts))
    }

    fn within_push_rate(&self, token: &str, now: DateTime<Utc>) -> bool {
        let Ok(mut pushes) = self.websub.pushes.lock() else { return true };
        let recent = pushes.entry(token.to_string()).or_default();
        while recent.front().is_some_and(|at| now - *at >= TimeDelta::minutes(1)) {
            recent.pop_front();
        }
        if recent.len() >= PUSHES_PER_MINUTE {
            return false;
        }
        recent.push_back(now);
        true
    }
}

/// Every member feed's subscription request due at `now`.
fn due_requests(
    config: &crate::config::Config,
    store: &crate::store::Store,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Subscription>> {
    let mut due = Vec::new();
    for member in &config.members {
        for feed in &member.feeds {
            let Some(state) = store.feed_state(&member.id, feed.as_str())? else { continue };
            let Some(links) = state.websub else { continue };
            let existing = store.websub_for_feed(member.id.as_str(), feed.as_str())?;
            if let Some(subscription) = next_request(existing, &links, member.id.as_str(), feed.as_str(), now)? {
                due.push(subscription);
            }
        }
    }
    Ok(due)
}

/// The subscription request a member feed needs at `now`, if any: a first one (or one for a
/// new hub or topic), a renewal near the lease's end, or a request the hub never verified.
fn next_request(
    existing: Option<Subscription>,
    links: &websub::Links,
    member: &str,
    feed: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Subscription>> {
    let fresh = || -> anyhow::Result<Subscription> {
        Ok(Subscription {
            token: websub::random_hex(24)?,
            member: member.to_string(),
            feed_url: feed.to_string(),
            hub: links.hub.clone(),
            topic: links.topic.clone(),
            secret: websub::random_hex(32)?,
            state: SubscriptionState::Requested,
            requested_at: now,
            lease_until: None,
            last_error: None,
            last_push: None,
        })
    };
    let Some(existing) = existing.filter(|s| s.hub == links.hub && s.topic == links.topic) else {
        return Ok(Some(fresh()?));
    };
    let due = match existing.state {
        SubscriptionState::Verified => existing.lease_until.is_none_or(|until| until - now < RENEW_BEFORE),
        SubscriptionState::Requested => now - existing.requested_at >= ASK_AGAIN_AFTER,
        SubscriptionState::Denied => now - existing.requested_at >= TimeDelta::days(1),
    };
    let state = match existing.state {
        SubscriptionState::Denied => SubscriptionState::Requested,
        other => other,
    };
    Ok(due.then_some(Subscription { requested_at: now, state, ..existing }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(hub: &str) -> websub::Links {
        websub::Links { hub: Url::parse(hub).unwrap(), topic: Url::parse("https://blog.example.cn/feed").unwrap() }
    }

    #[test]
    fn a_subscription_is_asked_for_renewed_near_its_lease_end_and_asked_again_when_unanswered() {
        let now = Utc::now();
        let first = next_request(None, &links("https://hub.example/"), "ann", "https://blog.example.cn/feed", now)
            .unwrap()
            .unwrap();
        assert_eq!((first.state, first.token.len(), first.secret.len()), (SubscriptionState::Requested, 48, 64));
        let verified = Subscription {
            state: SubscriptionState::Verified,
            lease_until: Some(now + TimeDelta::days(5)),
            ..first.clone()
        };
        let ask = |existing: &Subscription, at| {
            next_request(Some(existing.clone()), &links("https://hub.example/"), "ann", "x", at).unwrap()
        };
        assert_eq!(ask(&verified, now), None, "five days of lease left");
        let renewal =
            ask(&verified, now + TimeDelta::days(4) + TimeDelta::hours(1)).expect("renewed within a day of its end");
        assert_eq!(
            (renewal.token.as_str(), renewal.secret.as_str(), renewal.state),
            (first.token.as_str(), first.secret.as_str(), SubscriptionState::Verified)
        );
        assert_eq!(ask(&first, now + TimeDelta::minutes(30)), None, "the hub has an hour to verify");
        assert!(ask(&first, now + TimeDelta::hours(2)).is_some());
        let denied = Subscription { state: SubscriptionState::Denied, ..first.clone() };
        assert_eq!(ask(&denied, now + TimeDelta::days(2)).unwrap().state, SubscriptionState::Requested);
        let moved = next_request(Some(verified), &links("https://new-hub.example/"), "ann", "x", now).unwrap().unwrap();
        assert_ne!(moved.token, first.token, "a new hub gets a new subscription");
    }
}
