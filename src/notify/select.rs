//! Which queued posts a target gets: exactly what the river shows, through the target's
//! filters. Pure: the store's facts about a post (hidden, over its member's daily cap, matched
//! by the target's search) are looked up by the caller and passed in.

use chrono::{DateTime, TimeDelta, Utc};

use super::NotifiedPost;
use crate::config::{Config, NotifyTarget};
use crate::model::Post;

/// A post queued more than this long ago, or published this long before it was found, is
/// news no more: a group is not told about it (a feed that suddenly lists last year's posts
/// puts them in the river at their dates, far below the top).
pub const MAX_AGE: TimeDelta = TimeDelta::days(3);
/// Posts in one batch at most: a chat message shows what fits and "还有 N 篇" with a link;
/// a webhook gets them all. More wait for the next window.
pub const MAX_BATCH_POSTS: usize = 50;
/// An outbox entry younger than this is not taken yet: the pass that wrote it is still
/// grouping the member's copies of an article, and a copy must not be pushed.
pub const SETTLE: TimeDelta = TimeDelta::seconds(1);

/// Why a queued post is not pushed to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// No longer stored, or its member left feeds.toml.
    Gone,
    /// A copy of another post of the member (its canonical carries `also_on`), or backlog.
    NotInRiver,
    Hidden,
    OverDailyCap,
    /// Published before the target was added, or too old to be news.
    Old,
    /// The target's members, tags or search do not match it.
    Filtered,
}

/// What the caller looked up about a post.
pub struct Facts {
    pub hidden: bool,
    pub over_daily_cap: bool,
    /// Whether the target's `q` matches it (`None` when the target has no `q`).
    pub matches_query: Option<bool>,
}

/// Whether `post` goes to `target`, added at `added_at`, when its batch is formed at `now`.
pub fn left_out(
    config: &Config,
    target: &NotifyTarget,
    added_at: DateTime<Utc>,
    now: DateTime<Utc>,
    post: &Post,
    facts: &Facts,
) -> Option<Left> {
    if !config.shows_member(post.member.as_str()) {
        return Some(Left::Gone);
    }
    if !crate::store::in_river(post) {
        return Some(Left::NotInRiver);
    }
    if facts.hidden {
        return Some(Left::Hidden);
    }
    if post.published < added_at || post.published < post.first_seen - MAX_AGE || post.first_seen < now - MAX_AGE {
        return Some(Left::Old);
    }
    if facts.over_daily_cap {
        return Some(Left::OverDailyCap);
    }
    let member_ok = target.members.is_empty() || target.members.contains(&post.member);
    let tags_ok = target.tags.iter().all(|tag| config.files_under_tag(post, tag));
    if !member_ok || !tags_ok || facts.matches_query == Some(false) {
        return Some(Left::Filtered);
    }
    None
}

/// A post as a message shows it.
pub fn notified(config: &Config, post: &Post) -> NotifiedPost {
    NotifiedPost {
        title: post.title.clone(),
        url: post.url.clone().unwrap_or_default(),
        member_name: config.member_name(&post.member),
        excerpt: post.excerpt.clone(),
        tags: post.tags.clone(),
    }
}

/// A message's heading: the planet's name and how many new posts.
pub fn heading(config: &Config, posts: usize) -> String {
    if config.site.english() {
        format!("{}: {posts} new post{}", config.site.title, if posts == 1 { "" } else { "s" })
    } else {
        format!("{} · {posts} 篇新文章", config.site.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn config() -> Config {
        let text = "[site]\ntitle = \"T\"\nurl = \"https://planet.example.cn/\"\n\n\
                    [[members]]\nid = \"ann\"\nname = \"Ann\"\nfeeds = [\"https://ann.example.cn/feed\"]\ntags = [\"dotnet\"]\n\n\
                    [[members]]\nid = \"bob\"\nname = \"Bob\"\nfeeds = [\"https://bob.example.cn/feed\"]\n\n\
                    [[notify]]\nname = \"t\"\nkind = \"wecom\"\nurl_env = \"U\"\ntags = [\"Blazor\"]\n";
        crate::config::parse(text, std::path::Path::new("feeds.toml")).unwrap()
    }

    fn post(member: &str, tags: &[&str], hours_ago: i64) -> Post {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let mut post = Post::for_tests(member, "p", now - TimeDelta::hours(hours_ago));
        post.first_seen = now;
        post.tags = tags.iter().map(|t| t.to_string()).collect();
        post
    }

    fn facts() -> Facts {
        Facts { hidden: false, over_daily_cap: false, matches_query: None }
    }

    #[test]
    fn a_target_gets_only_river_posts_after_it_was_added_that_match_its_tags() {
        let config = config();
        let target = &config.notify[0];
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let added = now - TimeDelta::days(1);
        let decide = |post: &Post, facts: &Facts| left_out(&config, target, added, now, post, facts);
        assert_eq!(decide(&post("bob", &["blazor"], 1), &facts()), None);
        assert_eq!(decide(&post("bob", &["wpf"], 1), &facts()), Some(Left::Filtered));
        assert_eq!(decide(&post("bob", &["BLAZOR"], 30), &facts()), Some(Left::Old));
        assert_eq!(decide(&post("gone", &["blazor"], 1), &facts()), Some(Left::Gone));
        let copy = Post { duplicate_of: Some("q".into()), ..post("bob", &["blazor"], 1) };
        assert_eq!(decide(&copy, &facts()), Some(Left::NotInRiver));
        let backlog = Post { backlog: true, ..post("bob", &["blazor"], 1) };
        assert_eq!(decide(&backlog, &facts()), Some(Left::NotInRiver));
        let hidden = Facts { hidden: true, ..facts() };
        assert_eq!(decide(&post("bob", &["blazor"], 1), &hidden), Some(Left::Hidden));
        let capped = Facts { over_daily_cap: true, ..facts() };
        assert_eq!(decide(&post("bob", &["blazor"], 1), &capped), Some(Left::OverDailyCap));
        let unmatched = Facts { matches_query: Some(false), ..facts() };
        assert_eq!(decide(&post("bob", &["blazor"], 1), &unmatched), Some(Left::Filtered));
    }

    #[test]
    fn a_members_tags_in_feeds_toml_count_as_the_posts_own() {
        let mut config = config();
        config.notify[0].tags = vec!["dotnet".into()];
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let target = &config.notify[0];
        assert_eq!(left_out(&config, target, now - TimeDelta::days(1), now, &post("ann", &[], 1), &facts()), None);
        assert_eq!(
            left_out(&config, target, now - TimeDelta::days(1), now, &post("bob", &[], 1), &facts()),
            Some(Left::Filtered)
        );
    }
}
