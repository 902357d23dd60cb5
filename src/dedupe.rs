//! One entry per article. Chinese developers publish one article on several platforms
//! (博客园, CSDN, 掘金, their own site) and list several feeds; this decides which posts of
//! one member are the same article, which copy is canonical, and which posts of other
//! members are the same article (flagged, never merged). Pure: `refresh::dedupe` reads the
//! posts and writes the decisions.
//!
//! Two posts are the same article when their normalized titles are equal (NFKC, case,
//! punctuation, whitespace and a leading 【原创】-style tag folded) and they were published
//! within 7 days of each other, or when their bodies are near-duplicates. Near-duplicate is
//! measured as containment of character 5-gram shingles: the share of the smaller text's
//! shingles found in the larger one. Unlike a similarity hash over the whole text, it stays
//! high when one platform's feed carries only a 200-character summary of the other's full
//! text. Measured on tests/data/dedupe: copies score 0.97 to 1.0 (a 200-character CSDN
//! summary, a juejin page with extra markup, a Hexo post under another title); near-misses
//! 0 to 0.57 (the summary of a series' part 2 against part 1: they share an opening
//! paragraph). The bar is 0.8, and titles that differ in their numbers ("第1篇" and "第2篇")
//! are never the same article whatever their bodies.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};

use chrono::TimeDelta;
use unicode_normalization::UnicodeNormalization;

use crate::model::{AlsoBy, AlsoOn, Post};

/// Shingle length in characters (after normalization: no spaces or punctuation).
const SHINGLE_CHARS: usize = 5;
/// Only the opening of a body is compared: enough to recognize a copy, and the cost of a
/// comparison does not grow with the length of the article.
const COMPARED_CHARS: usize = 4_000;
/// The opening compared is at most this many characters of the text, of which the first
/// `COMPARED_CHARS` letters and digits are used (code and punctuation take the rest).
const OPENING_CHARS: usize = 3 * COMPARED_CHARS;
/// A body must give at least this many shingles (about 40 characters) to be compared.
const MIN_SHINGLES: usize = 36;
/// Containment at or above which two bodies are copies of one article.
pub const CONTAINMENT_BAR: f64 = 0.8;
/// Equal titles make one article only when published this close together.
const SAME_TITLE_WINDOW: TimeDelta = TimeDelta::days(7);
/// Equal titles whose bodies share less than this are different posts (a weekly column
/// with a fixed title), when both bodies are long enough to tell.
const UNRELATED_BODIES: f64 = 0.2;

/// What is compared of a post, computed once per post.
#[derive(Debug)]
pub struct Fingerprint {
    title: String,
    numbers: Vec<String>,
    /// Hashes of the body's shingles, sorted, without repeats.
    shingles: Vec<u64>,
}

/// The title as compared: NFKC, lowercase, a leading bracketed tag (【原创】, [转载]) dropped,
/// only letters and digits kept.
pub fn title_key(title: &str) -> String {
    let folded: String = nfkc(title).collect::<String>().to_lowercase();
    let trimmed = folded.trim_start();
    let untagged = match (trimmed.chars().next(), trimmed.find(['】', ']'])) {
        (Some('【' | '['), Some(end)) if end < 40 => {
            &trimmed[end + trimmed[end..].chars().next().map_or(1, char::len_utf8)..]
        }
        _ => trimmed,
    };
    untagged.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The numbers in a title, in order: a series' parts differ in them.
fn title_numbers(title: &str) -> Vec<String> {
    const CHINESE_DIGITS: &str = "零一二三四五六七八九十百";
    let folded: String = nfkc(title).collect();
    let mut numbers = Vec::new();
    let mut current = String::new();
    for c in folded.chars() {
        if c.is_ascii_digit() || CHINESE_DIGITS.contains(c) {
            current.push(c);
        } else if !current.is_empty() {
            numbers.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        numbers.push(current);
    }
    numbers
}

/// `text` in NFKC. Most text is NFKC already (CJK and ASCII are): Unicode's quick check
/// says so from each character's properties, and the text is then used as it is instead
/// of decomposed and recomposed, which was most of a fingerprint's cost.
fn nfkc(text: &str) -> impl Iterator<Item = char> + '_ {
    let normalized = unicode_normalization::is_nfkc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes;
    let (as_is, recomposed) = if normalized { (Some(text.chars()), None) } else { (None, Some(text.nfkc())) };
    as_is.into_iter().flatten().chain(recomposed.into_iter().flatten())
}

/// FxHash (rustc-hash) rather than std's SipHash, and a sorted vector rather than a hash
/// set: grouping fingerprints every post of a member's window after each save, and SipHash
/// per shingle plus a second hash per set insert were a quarter of a fetch pass's CPU.
fn shingles(text: &str) -> Vec<u64> {
    // The opening is its first characters: the quick check reads all it is given.
    let opening = text.char_indices().nth(OPENING_CHARS).map_or(text, |(end, _)| &text[..end]);
    let chars: Vec<char> =
        nfkc(opening).flat_map(char::to_lowercase).filter(|c| c.is_alphanumeric()).take(COMPARED_CHARS).collect();
    let mut hashes: Vec<u64> = chars
        .windows(SHINGLE_CHARS)
        .map(|window| {
            let mut hasher = rustc_hash::FxHasher::default();
            window.hash(&mut hasher);
            hasher.finish()
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

pub fn fingerprint(post: &Post) -> Fingerprint {
    let body = crate::sanitize::text_of(&post.content_html);
    let body = if body.trim().is_empty() { post.excerpt.clone() } else { body };
    Fingerprint { title: title_key(&post.title), numbers: title_numbers(&post.title), shingles: shingles(&body) }
}

/// The share of the smaller body's shingles found in the larger one; `None` when either is
/// too short to judge.
pub fn containment(a: &Fingerprint, b: &Fingerprint) -> Option<f64> {
    let (small, large) = if a.shingles.len() <= b.shingles.len() { (a, b) } else { (b, a) };
    if small.shingles.len() < MIN_SHINGLES {
        return None;
    }
    let shared = small.shingles.iter().filter(|s| large.shingles.binary_search(s).is_ok()).count();
    Some(shared as f64 / small.shingles.len() as f64)
}

/// Whether two posts are the same article.
pub fn same_article(a: (&Post, &Fingerprint), b: (&Post, &Fingerprint)) -> bool {
    let ((post_a, a), (post_b, b)) = (a, b);
    if a.numbers != b.numbers && !a.numbers.is_empty() && !b.numbers.is_empty() {
        return false;
    }
    let bodies = containment(a, b);
    // Strictly within: a weekly column published at the same hour each week is 7 days apart.
    let close = (post_a.published - post_b.published).abs() < SAME_TITLE_WINDOW;
    if !a.title.is_empty() && a.title == b.title && close {
        return bodies.is_none_or(|shared| shared >= UNRELATED_BODIES);
    }
    bodies.is_some_and(|shared| shared >= CONTAINMENT_BAR)
}

/// A reader's name for the site at `url`: the platforms Chinese developers use by name, any
/// other by its host.
pub fn platform_of(url: Option<&str>) -> String {
    const PLATFORMS: &[(&str, &str)] = &[
        ("cnblogs.com", "博客园"),
        ("csdn.net", "CSDN"),
        ("juejin.cn", "掘金"),
        ("juejin.im", "掘金"),
        ("segmentfault.com", "思否"),
        ("zhihu.com", "知乎"),
        ("jianshu.com", "简书"),
        ("oschina.net", "开源中国"),
        ("infoq.cn", "InfoQ"),
        ("weixin.qq.com", "微信公众号"),
        ("medium.com", "Medium"),
        ("dev.to", "DEV"),
    ];
    let host = url.and_then(|u| url::Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_lowercase));
    let Some(host) = host else { return String::new() };
    let matches = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
    match PLATFORMS.iter().find(|(domain, _)| matches(domain)) {
        Some((_, name)) => name.to_string(),
        None => host.strip_prefix("www.").unwrap_or(&host).to_string(),
    }
}

/// What one post of a member's window should say about its copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub duplicate_of: Option<String>,
    pub also_on: Vec<AlsoOn>,
}

/// Groups one member's `posts` into articles. Pairs already linked (a stored
/// `duplicate_of`) stay linked unless one of them is in `changed`; every post in `changed`
/// is compared with every post of the window. The canonical copy of a group is the one from
/// the member's earliest listed feed (`feed_rank`), then the earliest published. Returns the
/// decision for every post in a group of two or more, and for every post that was in one.
pub fn group(
    posts: &[Post],
    changed: &HashSet<String>,
    feed_rank: &dyn Fn(&str) -> usize,
) -> HashMap<String, Decision> {
    let prints: Vec<Fingerprint> = posts.iter().map(fingerprint).collect();
    let index: HashMap<&str, usize> = posts.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let mut parent: Vec<usize> = (0..posts.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let join = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (root(parent, a), root(parent, b));
        parent[ra] = rb;
    };
    for (i, post) in posts.iter().enumerate() {
        let linked = post.duplicate_of.as_deref().and_then(|id| index.get(id).copied());
        if let Some(j) = linked.filter(|&j| !changed.contains(&post.id) && !changed.contains(&posts[j].id)) {
            join(&mut parent, i, j);
        }
        if changed.contains(&post.id) {
            for j in (0..posts.len()).filter(|&j| j != i) {
                if same_article((post, &prints[i]), (&posts[j], &prints[j])) {
                    join(&mut parent, i, j);
                }
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..posts.len() {
        groups.entry(root(&mut parent, i)).or_default().push(i);
    }
    let mut decisions = HashMap::new();
    for members in groups.into_values() {
        let rank = |&i: &usize| (feed_rank(&posts[i].feed_url), posts[i].published, posts[i].id.clone());
        let canonical = *members.iter().min_by_key(|i| rank(i)).unwrap_or(&members[0]);
        let mut copies: Vec<usize> = members.iter().copied().filter(|&i| i != canonical).collect();
        copies.sort_by_key(rank);
        let also_on = copies
            .iter()
            .map(|&i| AlsoOn {
                id: posts[i].id.clone(),
                url: posts[i].url.clone(),
                platform: platform_of(posts[i].url.as_deref()),
            })
            .collect();
        decisions.insert(posts[canonical].id.clone(), Decision { duplicate_of: None, also_on });
        for &i in &copies {
            decisions.insert(
                posts[i].id.clone(),
                Decision { duplicate_of: Some(posts[canonical].id.clone()), also_on: Vec::new() },
            );
        }
    }
    decisions
}

/// The posts of other members among `others` that are the same article as `post`.
pub fn also_by(post: &Post, others: &[Post]) -> Vec<AlsoBy> {
    let print = fingerprint(post);
    others
        .iter()
        .filter(|other| other.member != post.member && other.duplicate_of.is_none())
        .filter(|other| same_article((post, &print), (other, &fingerprint(other))))
        .map(|other| AlsoBy { member: other.member.clone(), id: other.id.clone(), url: other.url.clone() })
        .collect()
}

#[cfg(test)]
mod tests;
