//! Each platform's message for a batch of new posts, in Chinese: the title as a link, the
//! member and the tags, a short excerpt; a batch that does not fit ends with how many more
//! there are and a link to see them. Member text can never become markup in a group: in
//! markdown (WeCom, DingTalk) every character markdown, WeCom's `<font>`/`<@id>` tags or a
//! mention would read is replaced by its full-width form (natural in Chinese text), and
//! Feishu's rich text carries it in `text` elements, which are never parsed.

use serde_json::{json, Value};

use super::NotifiedPost;

/// WeCom's group robot takes at most 4,096 bytes of markdown. DingTalk documents no limit
/// for its markdown; the same bound keeps its messages readable on a phone.
pub const MARKDOWN_BYTES: usize = 4096;
/// Feishu's custom bot takes a request body of at most 20 KB; room is left for `timestamp`
/// and `sign`.
pub const FEISHU_BODY_BYTES: usize = 20 * 1024 - 256;
/// Characters of a post's excerpt in a message.
const EXCERPT_CHARS: usize = 60;
/// Bytes kept free in a markdown message for its closing "还有 N 篇" line.
const CLOSING_BYTES: usize = 300;

/// A WeCom group robot's `markdown` message.
pub fn wecom(heading: &str, posts: &[NotifiedPost], more_url: &str) -> Value {
    json!({ "msgtype": "markdown", "markdown": { "content": markdown(heading, posts, more_url) } })
}

/// A DingTalk custom robot's `markdown` message (its title is what the notification shows).
pub fn dingtalk(heading: &str, posts: &[NotifiedPost], more_url: &str) -> Value {
    json!({
        "msgtype": "markdown",
        "markdown": { "title": markdown_text(heading), "text": markdown(heading, posts, more_url) }
    })
}

/// A Feishu custom bot's `post` (rich text) message, without `timestamp` and `sign`.
pub fn feishu(heading: &str, posts: &[NotifiedPost], more_url: &str) -> Value {
    let message = |content: &Vec<Value>| json!({ "msg_type": "post", "content": { "post": { "zh_cn": { "title": heading, "content": content } } } });
    let mut content: Vec<Value> = Vec::new();
    for (shown, post) in posts.iter().enumerate() {
        let mut with_post = content.clone();
        with_post.extend(feishu_lines(post));
        let closing = more_line_feishu(posts.len() - shown - 1, more_url);
        let mut candidate = with_post.clone();
        candidate.extend(closing);
        if message(&candidate).to_string().len() > FEISHU_BODY_BYTES {
            content.extend(more_line_feishu(posts.len() - shown, more_url));
            return message(&content);
        }
        content = with_post;
    }
    message(&content)
}

fn feishu_lines(post: &NotifiedPost) -> Vec<Value> {
    let title = match web_url(&post.url) {
        Some(url) => json!({ "tag": "a", "text": without_bare_links(&post.title), "href": url }),
        None => json!({ "tag": "text", "text": without_bare_links(&post.title) }),
    };
    let byline = format!(" · {}", without_bare_links(&byline(post)));
    let mut lines = vec![json!([title, { "tag": "text", "text": byline }])];
    if !post.excerpt.is_empty() {
        lines.push(json!([{ "tag": "text", "text": without_bare_links(&short_excerpt(&post.excerpt)) }]));
    }
    lines
}

fn more_line_feishu(more: usize, more_url: &str) -> Vec<Value> {
    match (more, web_url(more_url)) {
        (0, _) => Vec::new(),
        (more, Some(url)) => vec![json!([{ "tag": "a", "text": format!("还有 {more} 篇，查看全部"), "href": url }])],
        (more, None) => vec![json!([{ "tag": "text", "text": format!("还有 {more} 篇") }])],
    }
}

/// The heading, then a block per post while the message stays within `MARKDOWN_BYTES`,
/// then how many more there are.
pub fn markdown(heading: &str, posts: &[NotifiedPost], more_url: &str) -> String {
    let mut out = format!("**{}**\n", markdown_text(heading));
    for (shown, post) in posts.iter().enumerate() {
        let block = markdown_block(post);
        if out.len() + block.len() + CLOSING_BYTES > MARKDOWN_BYTES {
            let more = posts.len() - shown;
            match web_url(more_url) {
                Some(url) => out.push_str(&format!("\n还有 {more} 篇：[查看全部]({url})")),
                None => out.push_str(&format!("\n还有 {more} 篇")),
            }
            break;
        }
        out.push_str(&block);
    }
    out
}

fn markdown_block(post: &NotifiedPost) -> String {
    let title = markdown_text(&post.title);
    let title = match web_url(&post.url) {
        Some(url) => format!("[{title}]({url})"),
        None => title,
    };
    let mut block = format!("\n{title}\n{}\n", markdown_text(&byline(post)));
    if !post.excerpt.is_empty() {
        block.push_str(&format!("> {}\n", markdown_text(&short_excerpt(&post.excerpt))));
    }
    block
}

/// The member, then the tags: `张三 · 标签：Blazor、EF Core`.
fn byline(post: &NotifiedPost) -> String {
    match post.tags.is_empty() {
        true => post.member_name.clone(),
        false => format!("{} · 标签：{}", post.member_name, post.tags.join("、")),
    }
}

pub(super) fn short_excerpt(excerpt: &str) -> String {
    let mut chars = excerpt.chars();
    let head: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// Member text with its web addresses made inert: chat clients turn `https://...` and
/// `www....` in plain text into links by themselves, so `://` becomes `:／／` and `www.`
/// becomes `www．` (still readable, never a link).
pub fn without_bare_links(text: &str) -> String {
    let mut out = text.replace("://", ":／／");
    for www in ["www.", "WWW.", "Www."] {
        out = out.replace(www, &format!("{}．", &www[..3]));
    }
    out
}

/// Member text in a markdown message: what markdown, WeCom's tags, an HTML entity or a
/// mention would read becomes its full-width form, line breaks become spaces (a title stays
/// one line of text), and web addresses are made inert.
pub fn markdown_text(text: &str) -> String {
    without_bare_links(text)
        .chars()
        .map(|c| match c {
            '[' => '［',
            ']' => '］',
            '(' => '（',
            ')' => '）',
            '<' => '＜',
            '>' => '＞',
            '*' => '＊',
            '_' => '＿',
            '`' => '｀',
            '#' => '＃',
            '!' => '！',
            '~' => '～',
            '|' => '｜',
            '@' => '＠',
            '&' => '＆',
            '\\' => '＼',
            '\n' | '\r' | '\t' => ' ',
            c => c,
        })
        .collect()
}

/// An http(s) URL as a markdown link target: characters that would end the target or the
/// line percent-encoded. `None` for anything else (no `javascript:` link in a group).
pub(super) fn web_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "http" | "https"))?;
    Some(parsed.as_str().replace('(', "%28").replace(')', "%29").replace(' ', "%20"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "[点我](https://evil.example/x) @所有人 <@all> <font color=\"warning\">红</font>\n# 标题 ![图](https://evil.example/i.png) **粗** &lt; www.evil.example";

    fn post(i: usize, title: &str) -> NotifiedPost {
        NotifiedPost {
            title: title.to_string(),
            url: format!("https://blog.example.cn/posts/{i}.html?a=(1)"),
            member_name: "张三 @all".to_string(),
            excerpt: format!("{HOSTILE} 摘要 {i}"),
            tags: vec!["Blazor".into(), "[tag](https://evil.example)".into()],
        }
    }

    #[test]
    fn hostile_text_never_becomes_a_link_mention_heading_or_image_in_markdown() {
        let text = markdown("长沙.NET 新文章 · 1 篇", &[post(1, HOSTILE)], "https://planet.example.cn/");
        assert_eq!(text.matches("](").count(), 1, "one link, the post's: {text}");
        assert!(text.contains("](https://blog.example.cn/posts/1.html?a=%281%29)"), "{text}");
        for live in ["@", "<", "![", "](https://evil", "&lt;", "https://evil", "www.evil"] {
            assert!(!text.contains(live), "{live} in {text}");
        }
        assert!(text.lines().all(|line| !line.starts_with('#')), "{text}");
        assert!(text.contains("＠所有人") && text.contains("［点我］"), "readable as text: {text}");
    }

    #[test]
    fn a_wecom_message_stays_within_4096_bytes_and_says_how_many_more() {
        let posts: Vec<NotifiedPost> = (0..200).map(|i| post(i, &format!("第 {i} 篇：依赖注入与中间件"))).collect();
        let message = wecom("新文章", &posts, "https://planet.example.cn/");
        let content = message["markdown"]["content"].as_str().unwrap();
        assert!(content.len() <= MARKDOWN_BYTES, "{}", content.len());
        let shown = content.matches("第 ").count();
        assert!(shown > 5 && content.contains(&format!("还有 {} 篇", 200 - shown)), "{content}");
        assert_eq!(message["msgtype"], "markdown");
    }

    #[test]
    fn dingtalk_markdown_has_a_plain_title() {
        let message = dingtalk("新文章 [1]", &[post(1, "标题")], "https://planet.example.cn/");
        assert_eq!(message["markdown"]["title"], "新文章 ［1］");
        assert!(message["markdown"]["text"].as_str().unwrap().starts_with("**新文章 ［1］**"));
    }

    #[test]
    fn feishu_rich_text_carries_member_text_only_in_text_elements_and_fits_its_limit() {
        let posts: Vec<NotifiedPost> = (0..300).map(|i| post(i, HOSTILE)).collect();
        let message = feishu("新文章", &posts, "https://planet.example.cn/");
        let body = message.to_string();
        assert!(body.len() <= FEISHU_BODY_BYTES, "{}", body.len());
        let lines = message["content"]["post"]["zh_cn"]["content"].as_array().unwrap();
        let elements: Vec<&Value> = lines.iter().flat_map(|line| line.as_array().unwrap()).collect();
        assert!(elements.iter().all(|e| e["tag"] == "text" || e["tag"] == "a"), "no `at`, no `img`");
        let links: Vec<&str> =
            elements.iter().filter(|e| e["tag"] == "a").map(|e| e["href"].as_str().unwrap()).collect();
        assert!(links
            .iter()
            .all(|href| href.starts_with("https://blog.example.cn/") || *href == "https://planet.example.cn/"));
        assert!(elements.last().unwrap()["text"].as_str().unwrap().starts_with("还有 "), "{body}");
    }

    #[test]
    fn a_post_whose_link_is_not_web_gets_no_link() {
        let mut bad = post(1, "标题");
        bad.url = "javascript:alert(1)".into();
        assert!(!markdown("h", &[bad.clone()], "").contains("]("));
        assert_eq!(feishu("h", &[bad], "")["content"]["post"]["zh_cn"]["content"][0][0]["tag"], "text");
    }
}
