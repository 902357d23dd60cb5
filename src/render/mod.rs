//! Pure renderers of what readers subscribe to: the combined Atom, RSS 2.0 and JSON Feed 1.1
//! feeds and the OPML member list. They take posts and members and return bytes; the HTTP
//! layer caches the bytes. HTML comes only from `SafeHtml`; every other string is text.

pub mod api_post;
mod atom;
pub mod digest;
mod json_feed;
mod opml;
pub(crate) mod rss;
pub mod site;
mod template;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Member, MemberId, Site};
use crate::model::Post;

pub use self::atom::atom;
pub use self::json_feed::{escape_json_for_html, json_feed};
pub use self::opml::opml;
pub use self::rss::rss;

/// Everything a feed renderer needs.
pub struct FeedInput<'a> {
    pub site: &'a Site,
    pub members: &'a HashMap<MemberId, Member>,
    /// Newest first.
    pub posts: &'a [Post],
    /// The feed's own URL, with its query (`?member=...`).
    pub self_url: Url,
    /// Which selection this is, for the title: all, one member, one tag.
    pub selection: Selection,
    /// Used for `updated` when there are no posts.
    pub now: DateTime<Utc>,
    /// WebSub hubs the feed advertises (`rel="hub"`).
    pub hubs: &'a [Url],
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selection {
    All,
    Member(MemberId),
    Tag(String),
    /// A search a reader subscribed to (`?q=`), newest first.
    Search(String),
}

impl FeedInput<'_> {
    pub fn title(&self) -> String {
        match &self.selection {
            Selection::All => self.site.title.clone(),
            Selection::Member(id) => {
                let name = self.members.get(id).map_or(id.as_str(), |m| m.name.as_str());
                format!("{name} · {}", self.site.title)
            }
            Selection::Tag(tag) => format!("#{tag} · {}", self.site.title),
            Selection::Search(query) => format!("“{query}” · {}", self.site.title),
        }
    }

    /// The HTML page this feed mirrors.
    pub fn alternate_url(&self) -> Url {
        match &self.selection {
            Selection::Member(id) => {
                self.site.url.join(&format!("members/{id}")).unwrap_or_else(|_| self.site.url.clone())
            }
            Selection::Search(query) => {
                let mut url = self.site.url.join("search").unwrap_or_else(|_| self.site.url.clone());
                url.query_pairs_mut().append_pair("q", query);
                url
            }
            _ => self.site.url.clone(),
        }
    }

    /// The newest change among the posts, or now for an empty feed.
    pub fn updated(&self) -> DateTime<Utc> {
        self.posts.iter().map(|p| p.updated.unwrap_or(p.published).max(p.published)).max().unwrap_or(self.now)
    }

    pub fn member_name<'m>(&'m self, post: &'m Post) -> &'m str {
        self.members.get(&post.member).map_or(post.member.as_str(), |m| m.name.as_str())
    }

    pub fn member(&self, post: &Post) -> Option<&Member> {
        self.members.get(&post.member)
    }

    /// A stable, globally unique id for a post: a tag URI on the site's host.
    pub fn entry_id(&self, post: &Post) -> String {
        tag_uri(&self.site.url, &format!("post:{}", post.id))
    }

    pub fn feed_id(&self) -> String {
        let suffix = match &self.selection {
            Selection::All => "feed".to_string(),
            Selection::Member(id) => format!("feed:member:{id}"),
            Selection::Tag(tag) => format!("feed:tag:{tag}"),
            Selection::Search(query) => {
                format!("feed:search:{}", url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>())
            }
        };
        tag_uri(&self.site.url, &suffix)
    }
}

/// `tag:host,2026:specific` (RFC 4151): stable across moves of the site's path or scheme.
/// The specific part may hold only URI `pchar`s, `/` and `?`: anything else (a space, `#`,
/// `%`, Chinese) is percent-encoded as UTF-8, so `泛型` and `C# & .NET` give valid ids.
fn tag_uri(site: &Url, specific: &str) -> String {
    let mut encoded = String::with_capacity(specific.len());
    for byte in specific.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&byte);
        if allowed {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("tag:{},2026:{encoded}", site.host_str().unwrap_or("planet"))
}

#[cfg(test)]
mod tests;
