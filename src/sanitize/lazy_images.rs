//! Lazy-loaded images: Hexo and Hugo themes, CSDN, WeChat articles (through RSSHub) and Zhihu
//! put the real image in `data-src`, `data-original`, `data-lazy-src` or `data-actualsrc`,
//! with a placeholder or no `src`, for a script that no reader runs. The real URL becomes
//! `src`, resolved and checked by the same rules as every `src`; a `<noscript>` holding only
//! images is unwrapped, and an image right after another naming the same URL is dropped
//! (Zhihu and lazysizes give both).
//!
//! The lazy attributes pass ammonia on `img` (allow_list.rs) and are finished here, on
//! ammonia's output, whose serialization is regular (every attribute double-quoted, `&` and
//! `"` escaped), so a quote-aware scan of `<img` tags is exact (as in pixels.rs).

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

use super::pixels::{attribute, tag_length};

/// The attributes lazy-loading scripts read, most specific first: Zhihu's `data-actualsrc`
/// is the image shown (its `data-original` the full-size file).
pub const LAZY_ATTRIBUTES: &[&str] = &["data-src", "data-actualsrc", "data-original", "data-lazy-src"];

/// `raw` with each `<noscript>` that holds nothing but images replaced by the images: the
/// fallback for readers without script, which all feed readers are. Other `<noscript>`
/// content is still removed by the allow-list.
pub fn unwrap_noscript_images(raw: &str) -> Cow<'_, str> {
    static NOSCRIPT: OnceLock<Regex> = OnceLock::new();
    if !raw.contains("noscript") && !raw.contains("NOSCRIPT") {
        return Cow::Borrowed(raw);
    }
    let noscript = NOSCRIPT
        .get_or_init(|| Regex::new(r"(?is)<noscript\b[^>]*>((?:\s*<img\b[^>]*>\s*)+)</noscript\s*>").expect("valid"));
    noscript.replace_all(raw, "$1")
}

/// Sanitized HTML with lazy images given their real `src` (through `accept`, which resolves
/// and checks a URL as ammonia's rules do for `src`), the lazy attributes removed, and an
/// image naming a URL of the one just before it dropped. Borrowed when there is no image.
pub fn promote<'a>(html: Cow<'a, str>, accept: impl Fn(&str) -> Option<String>) -> Cow<'a, str> {
    if !html.contains("<img") {
        return html;
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_ref();
    let mut previous: Vec<String> = Vec::new();
    while let Some(start) = rest.find("<img") {
        let between = &rest[..start];
        out.push_str(between);
        if !between.trim().is_empty() {
            previous.clear();
        }
        let length = tag_length(&rest[start..]);
        let tag = &rest[start..start + length];
        let urls = image_urls(tag, &accept);
        if urls.is_empty() || !urls.iter().any(|url| previous.contains(url)) {
            out.push_str(&finished_tag(tag, &accept));
        }
        previous = urls;
        rest = &rest[start + length..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The URLs an image tag names (its `src` and lazy attributes, placeholders aside,
/// resolved): two
/// images in a row that share one are the same image (a `<noscript>` fallback and its
/// lazy twin).
fn image_urls(tag: &str, accept: &impl Fn(&str) -> Option<String>) -> Vec<String> {
    std::iter::once("src")
        .chain(LAZY_ATTRIBUTES.iter().copied())
        .filter_map(|name| attribute(tag, name))
        .map(|value| unescape_attribute(value).trim().to_string())
        .filter(|url| !url.is_empty() && !url.starts_with("data:"))
        .filter_map(|url| accept(&url))
        .collect()
}

/// One `<img ...>` tag with its lazy URL (if any passes `accept`) as `src` and no lazy
/// attributes.
fn finished_tag(tag: &str, accept: &impl Fn(&str) -> Option<String>) -> String {
    let lazy = LAZY_ATTRIBUTES
        .iter()
        .filter_map(|name| attribute(tag, name))
        .map(unescape_attribute)
        .filter(|url| !url.trim().is_empty() && !url.trim_start().starts_with("data:"))
        .find_map(|url| accept(url.trim()));
    let mut tag = LAZY_ATTRIBUTES.iter().fold(tag.to_string(), |tag, name| without_attribute(&tag, name));
    if let Some(url) = lazy {
        tag = without_attribute(&tag, "src");
        tag = tag.replacen("<img", &format!("<img src=\"{}\"", escape_attribute(&url)), 1);
    }
    tag
}

fn without_attribute(tag: &str, name: &str) -> String {
    let needle = format!(" {name}=\"");
    let Some(start) = tag.find(&needle) else { return tag.to_string() };
    let value_start = start + needle.len();
    let Some(end) = tag[value_start..].find('"') else { return tag.to_string() };
    format!("{}{}", &tag[..start], &tag[value_start + end + 1..])
}

fn unescape_attribute(value: &str) -> String {
    value.replace("&quot;", "\"").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

fn escape_attribute(value: &str) -> String {
    value.replace('&', "&amp;").replace('"', "&quot;").replace('\u{a0}', "&nbsp;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(url: &str) -> Option<String> {
        let url = url::Url::parse("https://blog.example.cn/posts/1/").unwrap().join(url).ok()?;
        matches!(url.scheme(), "http" | "https").then(|| url.to_string())
    }

    #[test]
    fn the_lazy_url_replaces_the_placeholder_and_leaves_no_lazy_attribute() {
        let html = r#"<p><img src="/img/loading.gif" data-original="a.png?w=1&amp;h=2" alt="图"></p>"#;
        let promoted = promote(Cow::Borrowed(html), accept);
        assert_eq!(promoted, r#"<p><img src="https://blog.example.cn/posts/1/a.png?w=1&amp;h=2" alt="图"></p>"#);
    }

    #[test]
    fn a_lazy_url_the_policy_refuses_leaves_the_image_as_it_was() {
        let html = r#"<img src="ph.gif" data-src="javascript:alert(1)">"#;
        assert_eq!(promote(Cow::Borrowed(html), accept), r#"<img src="ph.gif">"#);
    }

    #[test]
    fn the_same_image_twice_in_a_row_is_shown_once() {
        let html = r#"<img src="https://a.cn/x.jpg"> <img src="data:image/svg+xml;utf8,x" data-actualsrc="https://a.cn/x.jpg">"#;
        assert_eq!(promote(Cow::Borrowed(html), accept), r#"<img src="https://a.cn/x.jpg"> "#);
    }

    #[test]
    fn only_a_noscript_of_images_is_unwrapped() {
        assert_eq!(unwrap_noscript_images(r#"<noscript><img src="a.png"></noscript>"#), r#"<img src="a.png">"#);
        let other = "<noscript><p>需要 JavaScript</p></noscript>";
        assert_eq!(unwrap_noscript_images(other), other);
    }
}
