//! Messages for the platforms outside China that members also use: a Slack incoming webhook
//! (mrkdwn), a Discord webhook (embeds) and Telegram's `sendMessage` (HTML parse mode). Each
//! escapes member text as its own documentation says, and never lets it mention anyone.

use serde_json::{json, Value};

use super::message::{markdown_text, short_excerpt, web_url, without_bare_links};
use super::NotifiedPost;

/// Slack shows up to 40,000 characters but advises 4,000 for `text`.
pub const SLACK_TEXT_BYTES: usize = 3_500;
/// Discord takes at most 10 embeds a message.
pub const DISCORD_EMBEDS: usize = 10;
/// Telegram takes at most 4,096 characters of text after its entities are parsed.
pub const TELEGRAM_TEXT_CHARS: usize = 4_000;

/// Slack mrkdwn escapes `&`, `<` and `>` (and nothing else); `|` would end a link's text and
/// `@` could read as a mention.
fn slack_text(text: &str) -> String {
    without_bare_links(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "｜")
        .replace('@', "＠")
}

/// Telegram's HTML parse mode escapes `&`, `<`, `>` (and `"` inside attributes).
fn telegram_text(text: &str) -> String {
    without_bare_links(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('@', "＠")
}

/// A Slack incoming webhook's message: a line per post (`<url|title>` and the member), the
/// excerpt under it, within `SLACK_TEXT_BYTES`.
pub fn slack(heading: &str, posts: &[NotifiedPost], more_url: &str) -> Value {
    let mut text = format!("*{}*\n", slack_text(heading));
    for (shown, post) in posts.iter().enumerate() {
        let title = slack_text(&post.title);
        let title = web_url(&post.url).map_or(title.clone(), |url| format!("<{url}|{title}>"));
        let block =
            format!("\n{title} · {}\n>{}\n", slack_text(&post.member_name), slack_text(&short_excerpt(&post.excerpt)));
        if text.len() + block.len() + 200 > SLACK_TEXT_BYTES {
            let more = posts.len() - shown;
            text.push_str(
                &web_url(more_url).map_or(format!("\n还有 {more} 篇"), |url| format!("\n<{url}|还有 {more} 篇>")),
            );
            break;
        }
        text.push_str(&block);
    }
    json!({ "text": text })
}

/// A Discord webhook's message: an embed per post (title linked, member as author, excerpt
/// as description), at most `DISCORD_EMBEDS`, the last saying how many more; no mention is
/// ever parsed.
pub fn discord(heading: &str, posts: &[NotifiedPost], more_url: &str) -> Value {
    let fits = posts.len() <= DISCORD_EMBEDS;
    let shown = if fits { posts.len() } else { DISCORD_EMBEDS - 1 };
    let mut embeds: Vec<Value> = posts[..shown]
        .iter()
        .map(|post| {
            let mut embed = json!({
                "title": truncate_chars(&without_bare_links(&post.title), 256),
                "description": markdown_text(&short_excerpt(&post.excerpt)),
                "author": { "name": truncate_chars(&without_bare_links(&post.member_name), 256) },
            });
            if let Some(url) = web_url(&post.url) {
                embed["url"] = json!(url);
            }
            embed
        })
        .collect();
    if !fits {
        let mut more = json!({ "title": format!("还有 {} 篇", posts.len() - shown) });
        if let Some(url) = web_url(more_url) {
            more["url"] = json!(url);
        }
        embeds.push(more);
    }
    json!({ "content": markdown_text(heading), "embeds": embeds, "allowed_mentions": { "parse": [] } })
}

/// A Telegram `sendMessage` body (the chat id is in the hook URL's query): HTML, links
/// without previews, within `TELEGRAM_TEXT_CHARS`.
pub fn telegram(heading: &str, posts: &[NotifiedPost], more_url: &str) -> Value {
    let attribute = |url: &str| url.replace('&', "&amp;").replace('"', "&quot;");
    let mut text = format!("<b>{}</b>\n", telegram_text(heading));
    for (shown, post) in posts.iter().enumerate() {
        let title = telegram_text(&post.title);
        let title =
            web_url(&post.url).map_or(title.clone(), |url| format!("<a href=\"{}\">{title}</a>", attribute(&url)));
        let block = format!(
            "\n{title} · {}\n{}\n",
            telegram_text(&post.member_name),
            telegram_text(&short_excerpt(&post.excerpt))
        );
        if text.chars().count() + block.chars().count() + 100 > TELEGRAM_TEXT_CHARS {
            let more = posts.len() - shown;
            let line = web_url(more_url).map_or(format!("\n还有 {more} 篇"), |url| {
                format!("\n<a href=\"{}\">还有 {more} 篇</a>", attribute(&url))
            });
            text.push_str(&line);
            break;
        }
        text.push_str(&block);
    }
    json!({ "text": text, "parse_mode": "HTML", "disable_web_page_preview": true })
}

fn truncate_chars(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "<!channel> <@U123> @here [x](https://evil.example) <a href=\"https://evil.example\">y</a> | *b* &amp;";

    fn posts(count: usize) -> Vec<NotifiedPost> {
        (0..count)
            .map(|i| NotifiedPost {
                title: format!("{HOSTILE} {i}"),
                url: format!("https://blog.example.cn/{i}"),
                member_name: "@everyone".into(),
                excerpt: format!("{HOSTILE} 摘要"),
                tags: vec![],
            })
            .collect()
    }

    #[test]
    fn slack_text_has_one_link_per_post_and_no_mention() {
        let text = slack("新文章", &posts(2), "https://planet.example.cn/")["text"].as_str().unwrap().to_string();
        assert_eq!(text.matches("<https://").count(), 2, "{text}");
        for live in ["<!", "<@", "@here", "@everyone", "https://evil", "<a "] {
            assert!(!text.contains(live), "{live} in {text}");
        }
        let long = slack("新文章", &posts(200), "https://planet.example.cn/")["text"].as_str().unwrap().to_string();
        assert!(long.len() <= SLACK_TEXT_BYTES && long.contains("还有 "), "{}", long.len());
    }

    #[test]
    fn discord_sends_at_most_ten_embeds_and_parses_no_mention() {
        let message = discord("新文章", &posts(25), "https://planet.example.cn/");
        let embeds = message["embeds"].as_array().unwrap();
        assert_eq!(embeds.len(), DISCORD_EMBEDS);
        assert_eq!(embeds[9]["title"], "还有 16 篇");
        assert_eq!(message["allowed_mentions"]["parse"], json!([]));
        assert!(embeds.iter().all(|e| !e["description"].as_str().unwrap_or("").contains("](")), "{message}");
        assert!(!message.to_string().contains("https://evil"), "{message}");
    }

    #[test]
    fn telegram_html_escapes_member_text_and_links_only_posts() {
        let message = telegram("新文章", &posts(300), "https://planet.example.cn/");
        let text = message["text"].as_str().unwrap();
        assert!(text.chars().count() <= TELEGRAM_TEXT_CHARS, "{}", text.chars().count());
        let links: Vec<&str> = text.split("<a href=\"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
        assert!(
            links.iter().all(|l| l.starts_with("https://blog.example.cn/") || *l == "https://planet.example.cn/"),
            "{links:?}"
        );
        assert!(!text.contains("@") && text.contains("&lt;!channel&gt;"), "{text}");
        assert_eq!(message["parse_mode"], "HTML");
    }
}
