//! One entry per article, applied after a feed's posts are saved: the member's recent posts
//! are grouped (`crate::dedupe`, pure) and every post whose `duplicate_of` or `also_on`
//! changes is written again; a changed post that is the same article as another member's
//! (a repost) gets both flagged in `also_by`. Bounded: a member's newest `WINDOW` posts, and
//! at most `OTHERS_SCANNED` posts of other members around the changed posts' dates. The
//! worst case, 200 new posts of 4,000 characters each, groups in 110 ms (release build, this
//! 2-core machine); a pass that changes a few posts costs the fingerprints of the window.

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::TimeDelta;

use crate::config::Member;
use crate::dedupe;
use crate::model::{AlsoBy, Post};
use crate::store::{Position, Store};

/// How many of a member's newest posts are grouped: cross-posts are published within days of
/// each other, not years.
const WINDOW: usize = 200;
/// Other members' posts read to find reposts, at most.
const OTHERS_SCANNED: usize = 2_000;
/// How far apart in time a repost is looked for.
const REPOST_WINDOW: TimeDelta = TimeDelta::days(7);

/// The grouping rules' version: a store grouped under an older one (or none: written before
/// grouping existed, or imported) is grouped again, member by member, on the next start.
pub const GROUPING_VERSION: u32 = 1;

/// Two feeds of one member can finish at once; their groupings must not interleave.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Groups all of `member`'s recent posts again, as if each had just been fetched.
pub fn regroup_member(member: &Member, store: &Store) -> anyhow::Result<()> {
    let ids = store.member_posts(&member.id, WINDOW)?.into_iter().map(|post| post.id).collect();
    after_save(member, store, &ids)
}

/// Groups `member`'s recent posts after the posts in `changed` were saved, and flags reposts.
pub fn after_save(member: &Member, store: &Store, changed: &HashSet<String>) -> anyhow::Result<()> {
    if changed.is_empty() {
        return Ok(());
    }
    let _one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut window = store.member_posts(&member.id, WINDOW)?;
    let rank = |feed: &str| member.feeds.iter().position(|url| url.as_str() == feed).unwrap_or(member.feeds.len());
    let decisions = dedupe::group(&window, changed, &rank);
    let mut own: HashSet<String> = HashSet::new();
    for post in &mut window {
        let Some(decision) = decisions.get(&post.id) else { continue };
        if post.duplicate_of != decision.duplicate_of || post.also_on != decision.also_on {
            post.duplicate_of = decision.duplicate_of.clone();
            post.also_on = decision.also_on.clone();
            own.insert(post.id.clone());
        }
    }
    let fresh: Vec<&mut Post> =
        window.iter_mut().filter(|p| changed.contains(&p.id) && p.duplicate_of.is_none()).collect();
    let (flagged_own, others) = flag_reposts(member, store, fresh)?;
    own.extend(flagged_own);
    let own_posts: Vec<Post> = window.into_iter().filter(|p| own.contains(&p.id)).collect();
    store.save_posts(&member.id, &own_posts)?;
    for other in others {
        store.save_posts(&other.member.clone(), std::slice::from_ref(&other))?;
    }
    Ok(())
}

/// Sets `also_by` on each of `fresh` from other members' posts of the same article within
/// `REPOST_WINDOW`, and adds the reverse flag to those posts. Returns the ids of `fresh`
/// posts it changed and the other members' posts to write. Candidates are found by title
/// first (cheap: a repost under another title is not flagged), then confirmed by
/// `dedupe::same_article`.
fn flag_reposts(member: &Member, store: &Store, fresh: Vec<&mut Post>) -> anyhow::Result<(Vec<String>, Vec<Post>)> {
    let (Some(newest), Some(oldest)) =
        (fresh.iter().map(|p| p.published).max(), fresh.iter().map(|p| p.published).min())
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    let start = Position { published: newest + REPOST_WINDOW + TimeDelta::milliseconds(1), id: String::new() };
    let mut others: Vec<Post> = Vec::new();
    for post in store.posts_newest_first(Some(&start)).take(OTHERS_SCANNED) {
        let post = post?;
        if post.published < oldest - REPOST_WINDOW {
            break;
        }
        if post.member != member.id && post.duplicate_of.is_none() {
            others.push(post);
        }
    }
    // Each title folded once, not once per fresh post.
    let other_keys: Vec<String> = others.iter().map(|o| dedupe::title_key(&o.title)).collect();
    let (mut changed_own, mut to_write): (Vec<String>, Vec<Post>) = (Vec::new(), Vec::new());
    for post in fresh {
        let key = dedupe::title_key(&post.title);
        let candidates: Vec<Post> =
            others.iter().zip(&other_keys).filter(|(_, k)| **k == key).map(|(o, _)| o.clone()).collect();
        let found = dedupe::also_by(post, &candidates);
        for flag in &found {
            let Some(other) = others.iter_mut().find(|o| o.id == flag.id) else { continue };
            let back = AlsoBy { member: post.member.clone(), id: post.id.clone(), url: post.url.clone() };
            if !other.also_by.contains(&back) {
                other.also_by.push(back);
                to_write.retain(|p| p.id != other.id);
                to_write.push(other.clone());
            }
        }
        if post.also_by != found {
            post.also_by = found;
            changed_own.push(post.id.clone());
        }
    }
    Ok((changed_own, to_write))
}
