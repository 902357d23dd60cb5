//! The store's daily budget per member: how many new posts, and how many bytes of posts
//! written (new or changed), one member may add in a day of the site's time zone. A real
//! blog posts a few a week; a feed that invents new GUIDs every pass (or changes every body
//! every pass) would otherwise grow the store and the search index without end. Posts past
//! the budget are not stored; the feed state says so. Pure: the day's use comes in, what
//! fits goes out.

pub use crate::model::DailyUse as Use;
use crate::model::{Post, Warning};

/// What a post costs in bytes: what the store keeps of it that can be large.
pub fn bytes_of(post: &Post) -> u64 {
    (post.content_html.as_str().len() + post.excerpt.len() + post.title.len()) as u64
}

/// Of `to_write` (in the feed's order; `is_new` tells new posts from changed ones), those
/// that fit in `limit` after `used`; how many did not, and the use after those that fit.
pub fn admit(to_write: Vec<Post>, is_new: impl Fn(&Post) -> bool, used: Use, limit: Use) -> (Vec<Post>, usize, Use) {
    let mut after = used;
    let mut left_out = 0;
    let mut admitted = Vec::with_capacity(to_write.len());
    for post in to_write {
        let new = is_new(&post);
        let bytes = bytes_of(&post);
        let posts_fit = !new || after.posts < limit.posts;
        if posts_fit && after.bytes.saturating_add(bytes) <= limit.bytes {
            after.posts += usize::from(new);
            after.bytes += bytes;
            admitted.push(post);
        } else {
            left_out += 1;
        }
    }
    (admitted, left_out, after)
}

/// What the feed state says when posts were left out.
pub fn warning(left_out: usize, limit: Use) -> Warning {
    Warning::new(
        "daily_budget",
        format!(
            "{left_out} posts were not stored: this member's budget of {} new posts and {} MiB a day is spent (fetch.member_posts_per_day, fetch.member_mb_per_day); the next day's fetches store them if the feed still has them",
            limit.posts,
            limit.bytes / (1024 * 1024)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize;

    fn post(id: &str, body_bytes: usize) -> Post {
        let mut post = Post::for_tests("a", id, chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap());
        post.content_html = sanitize::html(&format!("<p>{}</p>", "x".repeat(body_bytes)), None);
        post
    }

    #[test]
    fn new_posts_past_the_count_are_left_out_in_the_feeds_order() {
        let posts = vec![post("1", 10), post("2", 10), post("3", 10)];
        let limit = Use { posts: 2, bytes: 1 << 20 };
        let (admitted, left_out, after) = admit(posts, |_| true, Use { posts: 1, bytes: 0 }, limit);
        assert_eq!(admitted.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["1"]);
        assert_eq!((left_out, after.posts), (2, 2));
    }

    #[test]
    fn changed_posts_cost_bytes_but_not_a_new_post() {
        let posts = vec![post("old", 100), post("new", 100)];
        let limit = Use { posts: 0, bytes: 1 << 20 };
        let (admitted, left_out, after) = admit(posts, |p| p.id == "new", Use::default(), limit);
        assert_eq!(admitted.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["old"]);
        assert_eq!(left_out, 1);
        assert!(after.bytes >= 100);
    }

    #[test]
    fn a_post_past_the_byte_budget_is_left_out_and_a_smaller_one_after_it_still_fits() {
        let posts = vec![post("big", 5_000), post("small", 10)];
        let limit = Use { posts: 10, bytes: 2_000 };
        let (admitted, left_out, _) = admit(posts, |_| true, Use::default(), limit);
        assert_eq!(admitted.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["small"]);
        assert_eq!(left_out, 1);
    }
}
