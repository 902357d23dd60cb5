//! The HTTP request that carries a batch to one target: its URL (DingTalk's signature goes
//! in the query), headers (Standard Webhooks' three) and JSON body (Feishu's signature goes
//! in it; Telegram's `chat_id` is moved from the hook URL into it). Pure: `now` is given.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use url::Url;

use super::{international, message, signature, NotifiedPost};
use crate::config::{NotifyKind, NotifySecrets};

/// What one message to one target says.
pub struct Batch<'a> {
    /// Stable per batch: the webhook's `webhook-id`.
    pub id: &'a str,
    pub heading: &'a str,
    pub posts: &'a [NotifiedPost],
    /// The same posts as the API returns them (the webhook's payload).
    pub api_posts: &'a [Value],
    /// Where "还有 N 篇" leads: the planet's river.
    pub more_url: &'a str,
}

/// A POST ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// The request for `batch` to a target of `kind` at `now`; an error says what is wrong with
/// the target's secret (never the secret).
pub fn build(
    kind: NotifyKind,
    secrets: &NotifySecrets,
    batch: &Batch<'_>,
    now: DateTime<Utc>,
) -> Result<Outgoing, String> {
    let (heading, posts, more) = (batch.heading, batch.posts, batch.more_url);
    let mut url = secrets.url.clone();
    let mut headers = Vec::new();
    let body = match kind {
        NotifyKind::WeCom => message::wecom(heading, posts, more),
        NotifyKind::DingTalk => {
            if let Some(secret) = &secrets.secret {
                let timestamp = now.timestamp_millis();
                let sign = signature::dingtalk(secret, timestamp);
                // `sign` is already URL-encoded, as DingTalk's documentation computes it.
                let separator = if url.query().is_some() { '&' } else { '?' };
                url = Url::parse(&format!("{url}{separator}timestamp={timestamp}&sign={sign}"))
                    .map_err(|e| format!("the DingTalk URL cannot be signed: {e}"))?;
            }
            message::dingtalk(heading, posts, more)
        }
        NotifyKind::Feishu => {
            let mut body = message::feishu(heading, posts, more);
            if let Some(secret) = &secrets.secret {
                let timestamp = now.timestamp();
                body["timestamp"] = json!(timestamp.to_string());
                body["sign"] = json!(signature::feishu(secret, timestamp));
            }
            body
        }
        NotifyKind::Slack => international::slack(heading, posts, more),
        NotifyKind::Discord => international::discord(heading, posts, more),
        NotifyKind::Telegram => {
            let mut body = international::telegram(heading, posts, more);
            let chat = url.query_pairs().find(|(k, _)| k == "chat_id").map(|(_, v)| v.into_owned());
            let chat = chat.ok_or("the Telegram URL needs ?chat_id=... (the group's id)")?;
            let rest: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "chat_id")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.set_query(None);
            if !rest.is_empty() {
                url.query_pairs_mut().extend_pairs(rest);
            }
            body["chat_id"] = json!(chat);
            body
        }
        NotifyKind::Webhook => {
            let body = json!({ "type": "posts.new", "timestamp": now.to_rfc3339(), "posts": batch.api_posts });
            let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
            let secret = secrets.secret.as_deref().ok_or("a webhook needs its signing secret")?;
            let signature = signature::standard_webhooks(secret, batch.id, now.timestamp(), &bytes)
                .map_err(|e| format!("the webhook secret: {e}"))?;
            headers.push(("webhook-id", batch.id.to_string()));
            headers.push(("webhook-timestamp", now.timestamp().to_string()));
            headers.push(("webhook-signature", signature));
            return Ok(Outgoing { url, headers, body: bytes });
        }
    };
    Ok(Outgoing { url, headers, body: serde_json::to_vec(&body).map_err(|e| e.to_string())? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn secrets(url: &str, secret: Option<&str>) -> NotifySecrets {
        NotifySecrets { url: Url::parse(url).unwrap(), secret: secret.map(str::to_string) }
    }

    fn batch<'a>(posts: &'a [NotifiedPost]) -> Batch<'a> {
        Batch { id: "msg_t_1", heading: "新文章", posts, api_posts: &[], more_url: "https://planet.example.cn/" }
    }

    #[test]
    fn dingtalk_is_signed_in_the_query_and_feishu_in_the_body() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let ding = build(
            NotifyKind::DingTalk,
            &secrets("https://oapi.dingtalk.com/robot/send?access_token=t", Some("s")),
            &batch(&[]),
            now,
        )
        .unwrap();
        let expected =
            format!("&timestamp={}&sign={}", now.timestamp_millis(), signature::dingtalk("s", now.timestamp_millis()));
        assert!(ding.url.as_str().ends_with(&expected), "{}", ding.url);
        let feishu = build(
            NotifyKind::Feishu,
            &secrets("https://open.feishu.cn/open-apis/bot/v2/hook/x", Some("s")),
            &batch(&[]),
            now,
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&feishu.body).unwrap();
        assert_eq!(body["timestamp"], "1700000000");
        assert_eq!(body["sign"], signature::feishu("s", 1_700_000_000));
    }

    #[test]
    fn telegram_takes_the_chat_from_the_url_into_the_body() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let out = build(
            NotifyKind::Telegram,
            &secrets("https://api.telegram.org/bot1:abc/sendMessage?chat_id=-100123", None),
            &batch(&[]),
            now,
        )
        .unwrap();
        assert_eq!(out.url.as_str(), "https://api.telegram.org/bot1:abc/sendMessage");
        let body: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(body["chat_id"], "-100123");
        let missing = build(
            NotifyKind::Telegram,
            &secrets("https://api.telegram.org/bot1:abc/sendMessage", None),
            &batch(&[]),
            now,
        );
        assert!(missing.unwrap_err().contains("chat_id"));
    }
}
