//! A post as the JSON API returns it (`/api/v1/posts`), shared with the webhook's
//! `posts.new` payload so that a receiver reads one shape whichever way a post reached it.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Members;
use crate::model::Post;

#[derive(Serialize)]
pub struct PostDto {
    id: String,
    title: String,
    url: Option<String>,
    member: MemberRef,
    published: DateTime<Utc>,
    updated: Option<DateTime<Utc>>,
    tags: Vec<String>,
    excerpt: String,
    content_html: String,
    /// Where else the member published the same article (copies are not listed themselves).
    also_on: Vec<crate::model::AlsoOn>,
    /// Other members' posts of the same article (reposts): flagged, not merged.
    also_by: Vec<crate::model::AlsoBy>,
    /// On a copy (fetched by id): the canonical post it is listed through.
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicate_of: Option<String>,
    /// For a search with words: the passage that matched, with the matching spans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<crate::search::snippet::Snippet>,
}

#[derive(Serialize)]
struct MemberRef {
    id: String,
    name: String,
}

/// The API's shape of `post`, its member named as `members` (the configuration) names it.
pub fn post_dto(post: Post, members: &Members) -> PostDto {
    let name = members.get(post.member.as_str()).map_or_else(|| post.member.to_string(), |m| m.name.clone());
    PostDto {
        id: post.id,
        title: post.title,
        url: post.url,
        member: MemberRef { id: post.member.to_string(), name },
        published: post.published,
        updated: post.updated,
        tags: post.tags,
        excerpt: post.excerpt,
        content_html: post.content_html.as_str().to_string(),
        also_on: post.also_on,
        also_by: post.also_by,
        duplicate_of: post.duplicate_of,
        snippet: None,
    }
}
