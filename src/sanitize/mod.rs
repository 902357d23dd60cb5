//! The one place HTML from feeds is made safe, and the only constructor of `SafeHtml`.
//! Everything a template or a feed writer embeds as HTML went through `html` here; titles and
//! author names become plain text through `plain_text`, also here, because both need a real
//! HTML parser (ammonia's html5ever) and only this module uses it.

mod allow_list;
mod depth;
mod lazy_images;
mod pixels;

use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};
use url::Url;

use crate::decode;
use crate::text::strip_xml_forbidden;

pub use depth::MAX_DEPTH as MAX_NESTING_DEPTH;

/// HTML that went through the sanitizer. Only this module can make one, so unsanitized
/// HTML cannot reach a template, a feed or the store by mistake.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeHtml(String);

impl SafeHtml {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SafeHtml {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The version of what `html` makes of its input: the allow-list, the URL rules, the image
/// and nesting rules, the repairs. Bump it with any change to them (the fingerprint test in
/// `tests.rs` fails until you do); the store then re-sanitizes every post once, on open.
pub const POLICY_VERSION: u32 = 2;

thread_local! {
    /// Set while `reading_trusted` runs on this thread.
    static TRUSTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `read` with `SafeHtml`'s deserializer taking its input as it is. Only for bytes this
/// planet's store wrote after sanitizing them under `POLICY_VERSION` (the store checks the
/// version it recorded with each post): re-sanitizing those would give the same bytes and
/// cost most of a read.
pub fn reading_trusted<T>(read: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            TRUSTED.with(|trusted| trusted.set(false));
        }
    }
    TRUSTED.with(|trusted| trusted.set(true));
    let _reset = Reset;
    read()
}

/// Reading HTML back sanitizes it again (an export file, a store written under an older
/// policy), unless `reading_trusted` vouches for it. Sanitizing is idempotent, so a value we
/// wrote comes back unchanged either way.
impl<'de> serde::Deserialize<'de> for SafeHtml {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        if TRUSTED.with(std::cell::Cell::get) {
            return Ok(SafeHtml(raw));
        }
        Ok(html(&raw, None))
    }
}

thread_local! {
    /// The base URL of the `html` call running on this thread. One static builder serves every
    /// call (building ammonia's allow-list tables per post cost a third of ingest time); its
    /// relative-URL rule reads the base from here.
    static BASE: std::cell::RefCell<Option<Url>> = const { std::cell::RefCell::new(None) };
}

/// Sanitizes feed HTML. Relative URLs are resolved against `base` (the entry's `xml:base`,
/// else the feed's final URL); without a base they are kept as they are.
pub fn html(raw: &str, base: Option<&Url>) -> SafeHtml {
    html_flattening(raw, base).0
}

/// `html`, and whether elements nested past `depth::MAX_DEPTH` were flattened first.
pub fn html_flattening(raw: &str, base: Option<&Url>) -> (SafeHtml, bool) {
    // Text encoded twice is undone before parsing too: the parser writes a no-break space
    // (byte A0 of a mangled sequence such as E7 A0 81, "码") back as `&nbsp;`, which would
    // break the sequence apart in its output.
    let unmangled = decode::repair_mangled(raw);
    let (raw, flattened) = depth::flatten(&unmangled);
    let raw = lazy_images::unwrap_noscript_images(&raw);
    BASE.with(|slot| *slot.borrow_mut() = base.cloned());
    let cleaned = with_base().clean(&raw).to_string();
    let cleaned = match lazy_images::promote(std::borrow::Cow::Borrowed(&cleaned), image_source) {
        std::borrow::Cow::Borrowed(_) => cleaned,
        std::borrow::Cow::Owned(promoted) => promoted,
    };
    BASE.with(|slot| *slot.borrow_mut() = None);
    // Mojibake repair runs on the output: entities are decoded only by the HTML parser, and
    // it maps non-ASCII characters to others, so it cannot introduce markup.
    // Character references (`&#1;`) decode to characters XML forbids; attribute values were
    // cleaned by the allow-list's filter, text is cleaned here.
    // Each step borrows when it changes nothing, so the body is copied only when it must be.
    let html = pixels::finish_images(repaired_text(&cleaned));
    // An HTML parser drops a leading U+FEFF; removing it here keeps sanitizing idempotent
    // when a removed pixel left one at the start.
    let safe = match html.strip_prefix('\u{feff}') {
        Some(_) => SafeHtml(html.trim_start_matches('\u{feff}').to_string()),
        None if matches!(html, std::borrow::Cow::Borrowed(_)) => SafeHtml(cleaned),
        None => SafeHtml(html.into_owned()),
    };
    (safe, flattened)
}

/// Sanitized text with characters XML forbids removed and mojibake repaired; borrowed when
/// neither was there.
fn repaired_text(cleaned: &str) -> std::borrow::Cow<'_, str> {
    match strip_xml_forbidden(cleaned) {
        std::borrow::Cow::Borrowed(text) => decode::repair_mangled(text),
        std::borrow::Cow::Owned(text) => std::borrow::Cow::Owned(decode::repair_mangled(&text).into_owned()),
    }
}

impl SafeHtml {
    /// Two sanitized fragments one after the other. Each is a serialized DOM fragment, so
    /// every element in it is closed: neither can change how the other is read.
    pub fn followed_by(self, next: SafeHtml) -> SafeHtml {
        SafeHtml(self.0 + &next.0)
    }
}

/// Escapes plain text (an Atom `type="text"` body) into HTML paragraphs.
pub fn text_as_html(text: &str) -> SafeHtml {
    let escaped = escape_text(&decode::repair_mangled(text));
    let paragraphs: Vec<String> = escaped
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", p.replace('\n', "<br>")))
        .collect();
    SafeHtml(paragraphs.join("\n"))
}

fn with_base() -> &'static Builder<'static> {
    static BUILDER: OnceLock<Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut builder = allow_list::builder();
        builder.url_relative(UrlRelative::Custom(Box::new(resolve_relative)));
        builder
    })
}

/// A lazy image's URL as an `img src` would be after ammonia: resolved against this
/// thread's base, and kept only if the allow-list's URL rule keeps it.
fn image_source(url: &str) -> Option<String> {
    let scheme_end =
        url.find(':').filter(|at| url[..*at].chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)));
    let resolved = match scheme_end {
        Some(_) => std::borrow::Cow::Borrowed(url),
        None => resolve_relative(url)?,
    };
    allow_list::filter_attribute("img", "src", &resolved).map(|kept| kept.into_owned())
}

/// Resolves a relative URL against this thread's current base; without one, keeps it.
fn resolve_relative(relative: &str) -> Option<std::borrow::Cow<'_, str>> {
    BASE.with(|slot| match slot.borrow().as_ref() {
        Some(base) => base.join(relative).ok().map(|url| std::borrow::Cow::Owned(url.to_string())),
        None => Some(std::borrow::Cow::Borrowed(relative)),
    })
}

/// The text of sanitized HTML without parsing it again: its serialization is regular (tags
/// end at the first `>` outside double quotes; text escapes only `& < > nbsp`). Block
/// elements become spaces so words from two paragraphs do not run together.
pub fn text_of(safe: &SafeHtml) -> String {
    const BLOCKS: &[&str] = &[
        "p",
        "br",
        "div",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "td",
        "th",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "table",
        "figure",
        "figcaption",
        "hr",
        "section",
        "article",
        "dd",
        "dt",
    ];
    let html = safe.as_str();
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let length = pixels::tag_length(&rest[open..]);
        let tag = &rest[open + 1..open + length];
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if BLOCKS.contains(&name.as_str()) {
            text.push(' ');
        }
        rest = &rest[open + length..];
    }
    text.push_str(rest);
    unescape_serialized_text(&text)
}

fn text_only() -> &'static Builder<'static> {
    static BUILDER: OnceLock<Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut builder = Builder::empty();
        builder.add_clean_content_tags(["script", "style", "template", "noscript", "iframe", "object", "title"]);
        builder
    })
}

/// The text of an HTML fragment: markup removed (with the content of script and style),
/// entities decoded. Whitespace is left as it is; callers collapse it.
pub fn plain_text(raw_html: &str) -> String {
    let serialized = text_only().clean(&depth::flatten(&decode::repair_mangled(raw_html)).0).to_string();
    strip_xml_forbidden(&decode::repair_mangled(&unescape_serialized_text(&serialized))).into_owned()
}

/// The text of a title or name that may hold HTML. A `<` that does not open a known HTML
/// element is text (`List<T>`, `Dictionary<string, int>` in a .NET blog's titles), so it is
/// escaped before parsing instead of being swallowed as an unknown tag.
pub fn plain_text_of_title(raw: &str) -> String {
    if !raw.contains(['<', '&']) {
        return decode::repair_mangled(raw).into_owned();
    }
    plain_text(&allow_list::escape_unknown_tags(raw))
}

/// The text at the start of a title-like fragment, when only its first `at_least`
/// characters will be read (an excerpt from a summary that may hold the whole post): a long
/// fragment is parsed in a 2 KiB prefix first, and in full only when the prefix held too
/// little text (markup-heavy HTML). What a cut spoils (a tag or an entity cut in two) lies
/// at the end, well past `at_least`.
pub fn plain_text_start_of_title(raw: &str, at_least: usize) -> String {
    const PREFIX: usize = 2048;
    if raw.len() > 2 * PREFIX {
        let cut = (0..=PREFIX).rev().find(|at| raw.is_char_boundary(*at)).unwrap_or(0);
        let text = plain_text_of_title(&raw[..cut]);
        let collapsed_chars: usize = text.split_whitespace().map(|word| word.chars().count() + 1).sum();
        if collapsed_chars > at_least + 64 {
            return text;
        }
    }
    plain_text_of_title(raw)
}

/// html5ever's serializer escapes exactly these in text nodes; undo it.
fn unescape_serialized_text(serialized: &str) -> String {
    if !serialized.contains('&') {
        return serialized.to_string();
    }
    serialized.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
