//! The combined feed as JSON Feed 1.1 (https://jsonfeed.org/version/1.1). The types are ours:
//! the `jsonfeed` crate is 1.0-era. The member is in an `_planet` extension object.

use serde::Serialize;

use super::FeedInput;
use crate::model::Post;

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: String,
    home_page_url: String,
    feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    language: &'a str,
    /// WebSub hubs (JSON Feed 1.1 `hubs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub>,
    items: Vec<JsonItem<'a>>,
}

#[derive(Serialize)]
struct Hub {
    #[serde(rename = "type")]
    kind: &'static str,
    url: String,
}

#[derive(Serialize)]
struct JsonItem<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    summary: &'a str,
    date_published: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_modified: Option<String>,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    _planet: PlanetExtension<'a>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    avatar: Option<String>,
}

#[derive(Serialize)]
struct PlanetExtension<'a> {
    about: String,
    member: &'a str,
    member_name: &'a str,
    post_id: &'a str,
    /// Where else the member published the same article.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    also_on: &'a [crate::model::AlsoOn],
}

pub fn json_feed(input: &FeedInput) -> String {
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: input.title(),
        home_page_url: input.alternate_url().to_string(),
        feed_url: input.self_url.to_string(),
        description: Some(input.site.description.as_str()).filter(|d| !d.is_empty()),
        language: &input.site.language,
        hubs: input.hubs.iter().map(|hub| Hub { kind: "WebSub", url: hub.to_string() }).collect(),
        items: input.posts.iter().map(|post| item(input, post)).collect(),
    };
    escape_json_for_html(&serde_json::to_string_pretty(&feed).unwrap_or_else(|_| "{}".to_string()))
}

/// `<`, `>` and `&` as `\u` escapes: the same JSON, but inert if a consumer ever inlines it
/// into an HTML page.
pub fn escape_json_for_html(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

fn item<'a>(input: &'a FeedInput, post: &'a Post) -> JsonItem<'a> {
    let member = input.member(post);
    JsonItem {
        id: input.entry_id(post),
        url: post.url.as_deref(),
        title: &post.title,
        content_html: post.content_html.as_str(),
        summary: &post.excerpt,
        date_published: post.published.to_rfc3339(),
        date_modified: post.updated.map(|t| t.to_rfc3339()),
        authors: vec![Author {
            name: input.member_name(post),
            url: member.and_then(|m| m.site.as_ref()).map(|u| u.to_string()),
            avatar: member.and_then(|m| m.avatar.as_ref()).map(|u| u.to_string()),
        }],
        tags: &post.tags,
        _planet: PlanetExtension {
            about: input.site.url.join("about").map(|u| u.to_string()).unwrap_or_default(),
            member: post.member.as_str(),
            member_name: input.member_name(post),
            post_id: &post.id,
            also_on: &post.also_on,
        },
    }
}
