//! The body of a video or image post that says what it is only in Media RSS: a YouTube
//! channel feed, Bilibili through RSSHub. Used when an entry has no content and no summary:
//! its `media:thumbnail` (or an image `media:content`) linked to the post, then its
//! `media:description`, both through the sanitizer like every body.

use feed_rs::model::Entry;
use url::Url;

use super::limits;
use crate::sanitize::{self, SafeHtml};

/// The entry's Media RSS as a body; empty when it has none.
pub fn body(entry: &Entry, link: Option<&str>, base: Option<&Url>) -> SafeHtml {
    let mut html = match image(entry, base) {
        Some(src) => {
            let alt = entry.media.iter().find_map(|m| m.title.as_ref()).map(|t| t.content.as_str()).unwrap_or("");
            let image = format!(
                "<img src=\"{}\" alt=\"{}\">",
                sanitize::escape_text(src),
                sanitize::escape_text(limits::head(alt, 300))
            );
            let markup = match link {
                Some(link) => format!("<p><a href=\"{}\">{image}</a></p>", sanitize::escape_text(link)),
                None => format!("<p>{image}</p>"),
            };
            sanitize::html(&markup, base)
        }
        None => SafeHtml::default(),
    };
    let description = entry.media.iter().filter_map(|m| m.description.as_ref()).find(|d| !d.content.trim().is_empty());
    if let Some(description) = description {
        let text = limits::head(&description.content, limits::MAX_BODY_BYTES);
        let part = match description.content_type.essence().to_string().as_str() {
            "text/html" => sanitize::html(text, base),
            _ => sanitize::text_as_html(text),
        };
        html = html.followed_by(part);
    }
    html
}

/// The first thumbnail, else the first `media:content` that is an image, whose URL is
/// http(s) (relative ones against `base`): an image the sanitizer would drop is no image.
fn image<'a>(entry: &'a Entry, base: Option<&Url>) -> Option<&'a str> {
    let web = |uri: &&str| {
        let resolved = Url::parse(uri).or_else(|_| base.ok_or(url::ParseError::RelativeUrlWithoutBase)?.join(uri));
        resolved.is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
    };
    let thumbnails = entry.media.iter().flat_map(|m| &m.thumbnails).map(|t| t.image.uri.trim());
    let pictures = entry
        .media
        .iter()
        .flat_map(|m| &m.content)
        .filter(|c| c.content_type.as_ref().is_some_and(|t| t.essence().to_string().starts_with("image/")))
        .filter_map(|c| c.url.as_ref().map(Url::as_str));
    thumbnails.chain(pictures).find(web)
}
