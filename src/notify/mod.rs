//! Push to group chats and webhooks (issue 21), its pure core so far: each platform's
//! message for a batch of new posts, escaped so that no member's text becomes markup in a
//! group (`message.rs`: WeCom, DingTalk, Feishu; `international.rs`: Slack, Discord,
//! Telegram), and each platform's signature (`signature.rs`). No I/O here; the
//! targets in feeds.toml, the outbox and the delivery loop are not built yet.

pub mod international;
pub mod limits;
pub mod message;
pub mod request;
pub mod select;
pub mod signature;

/// A new post as a group message shows it. Every field is plain text as planet stores it
/// (titles, names and excerpts are never HTML); `url` is the post's absolute http(s) link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifiedPost {
    pub title: String,
    pub url: String,
    pub member_name: String,
    pub excerpt: String,
    pub tags: Vec<String>,
}
