//! The allow-list, modelled on Miniflux's sanitizer: what a blog post may keep. Anything not
//! listed is removed (its text stays, except for script, style and the like, which go whole).
//! Deliberately absent: script, style, iframe, object, embed, form, base, meta, every `on*`
//! attribute, `style` attributes, `srcset` (its URLs would escape base resolution).

use std::collections::{HashMap, HashSet};

use std::borrow::Cow;

use ammonia::Builder;

use crate::text::is_xml_char;

/// Elements kept, with the attributes each may carry.
const TAGS: &[(&str, &[&str])] = &[
    ("a", &["href", "title", "id", "name"]),
    ("abbr", &["title"]),
    ("acronym", &["title"]),
    ("address", &[]),
    ("article", &[]),
    ("aside", &[]),
    ("audio", &["src", "controls"]),
    ("b", &[]),
    ("bdi", &[]),
    ("bdo", &["dir"]),
    ("big", &[]),
    ("blockquote", &["cite"]),
    ("br", &[]),
    ("caption", &[]),
    ("center", &[]),
    ("cite", &[]),
    ("code", &["class"]),
    ("col", &["span"]),
    ("colgroup", &["span"]),
    ("dd", &[]),
    ("del", &["datetime"]),
    ("details", &["open"]),
    ("dfn", &[]),
    ("div", &[]),
    ("dl", &[]),
    ("dt", &[]),
    ("em", &[]),
    ("figcaption", &[]),
    ("figure", &[]),
    ("footer", &[]),
    ("h1", &["id"]),
    ("h2", &["id"]),
    ("h3", &["id"]),
    ("h4", &["id"]),
    ("h5", &["id"]),
    ("h6", &["id"]),
    ("header", &[]),
    ("hr", &[]),
    ("i", &[]),
    // The lazy-loading attributes are read, checked and removed by lazy_images.rs.
    (
        "img",
        &["src", "alt", "title", "width", "height", "data-src", "data-actualsrc", "data-original", "data-lazy-src"],
    ),
    ("ins", &["datetime"]),
    ("kbd", &[]),
    ("li", &["value"]),
    ("mark", &[]),
    ("ol", &["start", "reversed", "type"]),
    ("p", &[]),
    ("picture", &[]),
    ("pre", &["class"]),
    ("q", &["cite"]),
    ("rp", &[]),
    ("rt", &[]),
    ("ruby", &[]),
    ("s", &[]),
    ("samp", &[]),
    ("section", &[]),
    ("small", &[]),
    ("source", &["src", "type", "media"]),
    ("span", &[]),
    ("strike", &[]),
    ("strong", &[]),
    ("sub", &[]),
    ("summary", &[]),
    ("sup", &[]),
    ("table", &[]),
    ("tbody", &[]),
    ("td", &["rowspan", "colspan", "align"]),
    ("tfoot", &[]),
    ("th", &["rowspan", "colspan", "align", "scope"]),
    ("thead", &[]),
    ("time", &["datetime"]),
    ("tr", &[]),
    ("tt", &[]),
    ("u", &[]),
    ("ul", &[]),
    ("var", &[]),
    ("video", &["src", "poster", "width", "height", "controls"]),
    ("wbr", &[]),
];

/// Elements removed with everything inside them, not only their tags.
const REMOVED_WITH_CONTENT: &[&str] = &[
    "script", "style", "template", "noscript", "iframe", "object", "embed", "applet", "form", "select", "textarea",
    "button", "title", "head",
];

/// `data:` is allowed for images only, and only for raster types a browser cannot execute
/// (`data:image/svg+xml` can carry script).
const DATA_IMAGE_PREFIXES: &[&str] =
    &["data:image/png", "data:image/gif", "data:image/jpeg", "data:image/jpg", "data:image/webp", "data:image/avif"];

pub fn builder() -> Builder<'static> {
    let mut builder = Builder::empty();
    let tags: HashSet<&str> = TAGS.iter().map(|(tag, _)| *tag).collect();
    let attributes: HashMap<&str, HashSet<&str>> =
        TAGS.iter().map(|(tag, attributes)| (*tag, attributes.iter().copied().collect())).collect();
    builder
        .tags(tags)
        .tag_attributes(attributes)
        .clean_content_tags(REMOVED_WITH_CONTENT.iter().copied().collect())
        .url_schemes(["http", "https", "mailto", "data"].into_iter().collect())
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        .set_tag_attribute_value("img", "referrerpolicy", "no-referrer")
        .set_tag_attribute_value("img", "loading", "lazy")
        .set_tag_attribute_value("video", "preload", "none")
        .set_tag_attribute_value("audio", "preload", "none")
        .attribute_filter(filter_attribute);
    builder
}

/// Attributes holding a URL (ammonia checks their scheme; we check it again after removing
/// the control characters that `&#1;`-style references smuggle in).
const URL_ATTRIBUTES: &[&str] = &["href", "src", "cite", "poster", "action", "background", "longdesc", "usemap"];

const ALLOWED_SCHEMES: &[&str] = &["http", "https", "mailto"];

/// Characters of a URL read to find its scheme and a data: URL's media type.
const SCHEME_WINDOW: usize = 64;

/// The last word on every kept attribute: characters XML forbids are removed (a feed we
/// publish must stay well-formed), and a URL whose scheme, read the way a browser reads it
/// (controls and whitespace ignored), is not allowed is dropped.
pub fn filter_attribute<'u>(element: &str, attribute: &str, value: &'u str) -> Option<Cow<'u, str>> {
    let value: Cow<str> = if value.chars().all(is_xml_char) {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(value.chars().filter(|c| is_xml_char(*c)).collect())
    };
    if !URL_ATTRIBUTES.contains(&attribute) {
        return Some(value);
    }
    // Only the start decides: the scheme and, for data:, the media type. A URL's whole text
    // (an inline image can be megabytes of base64) is read only when no colon comes early.
    let significant = |c: &char| !c.is_whitespace() && !c.is_control();
    let mut compact: String = value.chars().filter(significant).take(SCHEME_WINDOW).collect();
    if !compact.contains(':') && compact.chars().count() == SCHEME_WINDOW {
        compact = value.chars().filter(significant).collect();
    }
    compact.make_ascii_lowercase();
    let scheme = compact.split_once(':').map(|(scheme, _)| scheme).filter(|scheme| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme {
        None => Some(value),
        Some(scheme) if ALLOWED_SCHEMES.contains(&scheme) => Some(value),
        Some("data") => {
            let image_source = (element == "img" || element == "source") && attribute == "src";
            let raster = DATA_IMAGE_PREFIXES.iter().any(|prefix| compact.starts_with(prefix));
            (image_source && raster).then_some(value)
        }
        Some(_) => None,
    }
}

/// HTML element names; a `<` followed by anything else is text, not a tag.
const HTML_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "applet",
    "area",
    "article",
    "aside",
    "audio",
    "b",
    "base",
    "basefont",
    "bdi",
    "bdo",
    "big",
    "blink",
    "blockquote",
    "body",
    "br",
    "button",
    "canvas",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "datalist",
    "dd",
    "del",
    "details",
    "dfn",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "font",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "i",
    "iframe",
    "img",
    "image",
    "input",
    "ins",
    "kbd",
    "label",
    "legend",
    "li",
    "link",
    "main",
    "map",
    "mark",
    "marquee",
    "math",
    "menu",
    "meta",
    "meter",
    "nav",
    "noscript",
    "object",
    "ol",
    "optgroup",
    "option",
    "output",
    "p",
    "param",
    "picture",
    "pre",
    "progress",
    "q",
    "rp",
    "rt",
    "ruby",
    "s",
    "samp",
    "script",
    "section",
    "select",
    "small",
    "source",
    "span",
    "strike",
    "strong",
    "style",
    "sub",
    "summary",
    "sup",
    "svg",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "time",
    "title",
    "tr",
    "track",
    "tt",
    "u",
    "ul",
    "var",
    "video",
    "wbr",
    "xmp",
];

/// Escapes every `<` that does not start a known HTML tag, a closing tag or a comment.
pub fn escape_unknown_tags(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let mut rest = raw;
    while let Some(position) = rest.find('<') {
        out.push_str(&rest[..position]);
        let after = &rest[position + 1..];
        if starts_known_tag(after) {
            out.push('<');
        } else {
            out.push_str("&lt;");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn starts_known_tag(after_angle: &str) -> bool {
    if after_angle.starts_with("!--") {
        return true;
    }
    let name_part = after_angle.strip_prefix('/').unwrap_or(after_angle);
    let name: String = name_part.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
    if name.is_empty() {
        return false;
    }
    let next = name_part[name.len()..].chars().next();
    let ends_name = matches!(next, None | Some('>') | Some('/') | Some(' ') | Some('\t') | Some('\n') | Some('\r'));
    ends_name && HTML_ELEMENTS.contains(&name.to_ascii_lowercase().as_str())
}
