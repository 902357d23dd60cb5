//! Stable post identity, shared by the parser (which names posts) and the store (which finds
//! them again by alias). A post's id is derived from its member and GUID, else from its
//! normalized link (scheme, host case, tracking parameters, fragment and a trailing slash
//! ignored), else from a hash of its content. `refresh` also looks posts up by GUID and by
//! normalized link so that a changed GUID or a changed URL updates a post instead of
//! duplicating it.

use url::Url;

use crate::hashing::digest;

/// Query parameters that only track where a click came from.
const TRACKING_PARAMETERS: &[&str] = &[
    "fbclid",
    "gclid",
    "yclid",
    "mc_cid",
    "mc_eid",
    "spm",
    "from",
    "isappinstalled",
    "share_source",
    "share_token",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "scene",
    "clicktime",
    "enterid",
];

/// A link reduced to what identifies the page, or `None` for something that is not a URL.
pub fn normalize_link(link: &str) -> Option<String> {
    let url = Url::parse(link.trim()).ok()?;
    let host = url.host_str()?.trim_start_matches("www.");
    let path = url.path();
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { "" };
    let mut parameters: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            !name.starts_with("utm_") && !TRACKING_PARAMETERS.contains(&name.as_str())
        })
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    parameters.sort();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let mut key = format!("{host}{port}{path}");
    if !parameters.is_empty() {
        let query: Vec<String> = parameters.iter().map(|(n, v)| format!("{n}={v}")).collect();
        key.push('?');
        key.push_str(&query.join("&"));
    }
    Some(key)
}

/// The id a new post gets: from the GUID, else the normalized link, else the content.
pub fn post_id(member: &str, guid: Option<&str>, link_key: Option<&str>, content_hash: &str) -> String {
    match (guid, link_key) {
        (Some(guid), _) => digest(&[member, "guid", guid]),
        (None, Some(link)) => digest(&[member, "link", link]),
        (None, None) => digest(&[member, "content", content_hash]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_host_case_tracking_and_fragment_do_not_change_the_link_key() {
        let a = normalize_link("https://Blog.Example.cn/post/1/?utm_source=rss&id=3#comments");
        let b = normalize_link("http://www.blog.example.cn/post/1?id=3&spm=a.b.c");
        assert_eq!(a, b);
        assert_eq!(a.unwrap(), "blog.example.cn/post/1?id=3");
    }

    #[test]
    fn different_pages_keep_different_keys() {
        assert_ne!(normalize_link("https://x.cn/a?p=1"), normalize_link("https://x.cn/a?p=2"));
        assert_eq!(normalize_link("not a url"), None);
    }

    #[test]
    fn ids_depend_on_the_member() {
        assert_ne!(post_id("a", Some("g"), None, ""), post_id("b", Some("g"), None, ""));
        assert_eq!(post_id("a", Some("g"), Some("x"), "h"), post_id("a", Some("g"), Some("y"), "z"));
    }
}
