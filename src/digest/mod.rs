//! The weekly digest (长沙.NET社区周报): ISO weeks in the site's time zone, and `compose`,
//! which turns a week's posts and the upcoming events into a `Digest`. Pure: no I/O, `now`
//! passed in. Reading the store lives in `digest::load`, sending in `digest::send`, rendering
//! in `render::digest`.

pub mod load;
pub mod send;
pub mod tokens;
mod week;

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::config::{DigestConfig, Event, Members, RiverConfig, Site};
use crate::model::{MemberId, Post};
use crate::texts::fill;

pub use week::Week;

/// One week's digest, ready to render as a page, an Atom entry, JSON or an email.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub week: String,
    pub week_label: String,
    pub title: String,
    pub subject: String,
    pub headline: String,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    /// The digest's page on the site (absolute).
    pub url: String,
    pub post_count: usize,
    pub member_count: usize,
    pub groups: Vec<MemberGroup>,
    pub events: Vec<EventView>,
}

impl Digest {
    /// Whether the week is published (mailed, and listed in /digest.atom): a week without
    /// posts only when `[digest] send_empty` asks for it.
    pub fn is_published(&self, send_empty: bool) -> bool {
        self.post_count > 0 || send_empty
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberGroup {
    pub member_id: String,
    pub member_name: String,
    /// The member's page on the planet (absolute).
    pub member_url: String,
    pub posts: Vec<DigestPost>,
    /// "and N more": the member posted more than `MAX_POSTS_PER_MEMBER` this week.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DigestPost {
    pub id: String,
    pub title: String,
    /// Absolute: the original post, else the member's page on the planet.
    pub url: String,
    pub excerpt: String,
    pub published: DateTime<Utc>,
    /// The time as a reader in the site's time zone reads it.
    pub when: String,
    /// Where else the member published the same article (only copies with a link).
    pub also_on: Vec<crate::model::CopyLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventView {
    pub title: String,
    pub when: String,
    pub place: Option<String>,
    pub link: Option<String>,
}

/// How far ahead the digest lists meetups.
const EVENTS_AHEAD_DAYS: i64 = 28;

/// Posts listed per member: a member who posts a hundred in a week (or a feed that floods)
/// gets a line saying how many more, so the mail stays small (at most this many posts per
/// member, each a bounded title and a 200-character excerpt).
pub const MAX_POSTS_PER_MEMBER: usize = 10;

/// Composes the digest of `week` from the posts published in it (any order; others are
/// ignored) and the events in the four weeks after it.
pub fn compose(
    site: &Site,
    config: &DigestConfig,
    river: &RiverConfig,
    members: &Members,
    posts: &[Post],
    events: &[Event],
    week: Week,
) -> Digest {
    compose_counted(site, config, river, members, posts, &HashMap::new(), events, week)
}

/// `compose`, where the store's reading left `unlisted` posts of some members unread (past
/// the daily cap or the posts listed per member): they count in "还有 N 篇" and the totals.
#[allow(clippy::too_many_arguments)] // compose's inputs, each a different part of the config
pub fn compose_counted(
    site: &Site,
    config: &DigestConfig,
    river: &RiverConfig,
    members: &Members,
    posts: &[Post],
    unlisted: &HashMap<MemberId, usize>,
    events: &[Event],
    week: Week,
) -> Digest {
    let zone = site.timezone;
    let (starts, ends) = (week.start(zone), week.end(zone));
    let t = crate::texts::for_site(site);
    let absolute = |path: &str| site.url.join(path).map(|u| u.to_string()).unwrap_or_else(|_| site.url.to_string());
    let mut groups: Vec<MemberGroup> = Vec::new();
    let mut group_of_member: HashMap<&str, usize> = HashMap::new();
    let mut in_week: Vec<&Post> = posts.iter().filter(|p| p.published >= starts && p.published < ends).collect();
    in_week.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| a.id.cmp(&b.id)));
    // A member's posts past the daily cap are counted in "还有 N 篇", like those past the
    // weekly one.
    let (in_week, mut held_back) = crate::river::cap_posts(&in_week, river.max_per_member_per_day, zone);
    for (member, count) in unlisted {
        *held_back.entry(member.clone()).or_insert(0) += count;
    }
    for post in in_week {
        let member_url = absolute(&format!("members/{}", post.member));
        let when = post.published.with_timezone(&zone);
        let view = DigestPost {
            id: post.id.clone(),
            title: post.title.clone(),
            url: post.url.clone().unwrap_or_else(|| member_url.clone()),
            excerpt: post.excerpt.clone(),
            published: post.published,
            when: when.format(t.post_time).to_string(),
            also_on: post.copy_links(),
        };
        // By position, not a search of the groups: a week can have posts of every member.
        match group_of_member.get(post.member.as_str()) {
            Some(&position) => groups[position].posts.push(view),
            None => {
                group_of_member.insert(post.member.as_str(), groups.len());
                groups.push(MemberGroup {
                    member_id: post.member.to_string(),
                    member_name: members
                        .get(post.member.as_str())
                        .map_or_else(|| post.member.to_string(), |m| m.name.clone()),
                    member_url,
                    posts: vec![view],
                    more: None,
                });
            }
        }
    }
    // Members with most posts first; ties by name, so the order is stable.
    groups.sort_by(|a, b| b.posts.len().cmp(&a.posts.len()).then_with(|| a.member_name.cmp(&b.member_name)));
    // Every post of the week counts, shown or not.
    let post_count = groups.iter().map(|g| g.posts.len()).sum::<usize>() + held_back.values().sum::<usize>();
    let member_count = groups.len();
    for group in &mut groups {
        let capped = held_back.iter().find(|(member, _)| member.as_str() == group.member_id).map_or(0, |(_, n)| *n);
        let extra = group.posts.len().saturating_sub(MAX_POSTS_PER_MEMBER) + capped;
        if extra > 0 {
            group.posts.truncate(MAX_POSTS_PER_MEMBER);
            group.more = Some(fill(t.digest_more, &[("count", &extra)]));
        }
    }
    let horizon = ends + TimeDelta::days(EVENTS_AHEAD_DAYS);
    let mut upcoming: Vec<&Event> = events.iter().filter(|e| e.starts >= ends && e.starts < horizon).collect();
    upcoming.sort_by_key(|e| e.starts);
    let events = upcoming
        .into_iter()
        .map(|event| {
            let local = event.starts.with_timezone(&zone);
            EventView {
                title: event.title.clone(),
                when: local.format(t.event_time).to_string(),
                place: event.place.clone(),
                link: event.link.as_ref().map(|l| l.to_string()),
            }
        })
        .collect();
    let week_label = fill(t.week_label, &[("year", &week.year), ("number", &week.number)]);
    let subject = fill(t.digest_subject, &[("title", &config.title), ("week", &week_label), ("count", &post_count)]);
    let headline = match post_count {
        0 => t.headline_empty.to_string(),
        _ => fill(t.headline, &[("members", &member_count), ("posts", &post_count)]),
    };
    Digest {
        week: week.to_string(),
        week_label,
        title: config.title.clone(),
        subject,
        headline,
        starts,
        ends,
        url: absolute(&format!("digest/{week}")),
        post_count,
        member_count,
        groups,
        events,
    }
}

#[cfg(test)]
mod tests;
