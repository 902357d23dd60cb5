//! Reading a week's posts from the store and composing its digest: the digest's one read of
//! the store, shared by the web pages, the feed, the JSON API, preview and sending.

use super::{compose, Digest, Week};
use crate::config::Config;
use crate::model::Post;
use crate::store::{Position, Store};

/// The posts published in `week` by configured members, less any taken down, a first
/// fetch's backlog, and copies of an article (listed through their canonical post).
pub fn week_posts(config: &Config, store: &Store, week: Week) -> anyhow::Result<Vec<Post>> {
    let zone = config.site.timezone;
    let (starts, ends) = (week.start(zone), week.end(zone));
    let after = Position { published: ends, id: String::new() };
    let mut posts = Vec::new();
    for post in store.posts_newest_first(Some(&after)) {
        let post = post?;
        if post.published < starts {
            break;
        }
        let listed = !post.backlog && post.duplicate_of.is_none();
        if listed && config.shows_member(post.member.as_str()) && !store.is_hidden(&post.id) {
            posts.push(post);
        }
    }
    Ok(posts)
}

/// The digest of `week` as the store holds it now.
pub fn compose_week(config: &Config, store: &Store, week: Week) -> anyhow::Result<Digest> {
    let posts = week_posts(config, store, week)?;
    Ok(compose(&config.site, &config.digest, &config.river, &config.members, &posts, &config.events, week))
}
