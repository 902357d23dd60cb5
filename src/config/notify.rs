//! `[[notify]]` targets, checked: a known kind, a unique name, environment variable names
//! (never the URL or the secret itself: feeds.toml is public, members edit it in pull
//! requests), members that exist, filters within the API's own limits. Reading the
//! variables is the caller's (`NotifyTarget::secrets`), so a missing one is reported and
//! that target skipped, never fatal to the rest.

use std::time::Duration;

use toml::Spanned;

use super::raw::RawNotify;
use super::validate::Locator;
use super::{ConfigError, Member, MemberId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyKind {
    WeCom,
    DingTalk,
    Feishu,
    Slack,
    Discord,
    Telegram,
    Webhook,
}

impl NotifyKind {
    const NAMES: [(&'static str, NotifyKind); 7] = [
        ("wecom", NotifyKind::WeCom),
        ("dingtalk", NotifyKind::DingTalk),
        ("feishu", NotifyKind::Feishu),
        ("slack", NotifyKind::Slack),
        ("discord", NotifyKind::Discord),
        ("telegram", NotifyKind::Telegram),
        ("webhook", NotifyKind::Webhook),
    ];

    /// The kind named as feeds.toml names it.
    pub fn parse(name: &str) -> Option<NotifyKind> {
        Self::NAMES.iter().find(|(k, _)| *k == name).map(|(_, kind)| *kind)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, kind)| *kind == self).map_or("webhook", |(name, _)| name)
    }

    /// Whether deliveries must be signed: a webhook receiver checks Standard Webhooks
    /// signatures; DingTalk and Feishu robots may be secured by keyword or address instead.
    pub fn needs_secret(self) -> bool {
        self == NotifyKind::Webhook
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    pub name: String,
    pub kind: NotifyKind,
    pub url_env: String,
    pub secret_env: Option<String>,
    /// Any of these members (empty: every member).
    pub members: Vec<MemberId>,
    /// Every one of these tags, as `?tag=` matches them (lowercased).
    pub tags: Vec<String>,
    /// A search, as `?q=` matches it.
    pub q: Option<String>,
    /// What arrives within this window goes out as one message.
    pub batch: Duration,
}

/// A target's hook URL and signing secret, read from the environment.
#[derive(Clone, PartialEq, Eq)]
pub struct NotifySecrets {
    pub url: url::Url,
    pub secret: Option<String>,
}

impl std::fmt::Debug for NotifySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL holds the robot's token: logs get its host only.
        write!(f, "NotifySecrets {{ host: {:?}, secret: {} }}", self.url.host_str(), self.secret.is_some())
    }
}

impl NotifyTarget {
    /// The URL and secret from `env` (the process environment, or a test's map); an error
    /// names the variable that is missing or wrong, never its value.
    pub fn secrets(&self, env: impl Fn(&str) -> Option<String>) -> Result<NotifySecrets, String> {
        let name = &self.name;
        let url = env(&self.url_env).filter(|v| !v.trim().is_empty());
        let url = url.ok_or_else(|| format!("notify target '{name}': ${} is not set", self.url_env))?;
        let url = url::Url::parse(url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| format!("notify target '{name}': ${} is not an http(s) URL", self.url_env))?;
        let secret = match &self.secret_env {
            Some(variable) => Some(
                env(variable)
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| format!("notify target '{name}': ${variable} is not set"))?,
            ),
            None => None,
        };
        Ok(NotifySecrets { url, secret })
    }
}

/// Default `batch_minutes`: a message at most every five minutes per target.
const DEFAULT_BATCH_MINUTES: u32 = 5;

pub(super) fn targets(
    locator: &Locator,
    raw: &[RawNotify],
    members: &[Member],
) -> Result<Vec<NotifyTarget>, ConfigError> {
    let mut targets: Vec<NotifyTarget> = Vec::new();
    for entry in raw {
        let target = target(locator, entry, members)?;
        if targets.iter().any(|t| t.name == target.name) {
            return Err(locator.at(&entry.name, "notify.name", format!("duplicate notify target '{}'", target.name)));
        }
        targets.push(target);
    }
    Ok(targets)
}

fn target(locator: &Locator, raw: &RawNotify, members: &[Member]) -> Result<NotifyTarget, ConfigError> {
    let name = raw.name.get_ref().trim().to_string();
    let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if name.is_empty() || name.len() > 64 || !name.chars().all(plain) {
        return Err(locator.at(&raw.name, "notify.name", "must be 1-64 of a-z, 0-9, '-' and '_'"));
    }
    let kind = NotifyKind::NAMES.iter().find(|(k, _)| *k == raw.kind.get_ref().trim()).map(|(_, kind)| *kind);
    let names: Vec<&str> = NotifyKind::NAMES.iter().map(|(name, _)| *name).collect();
    let kind =
        kind.ok_or_else(|| locator.at(&raw.kind, "notify.kind", format!("must be one of {}", names.join(", "))))?;
    let url_env = variable_name(locator, &raw.url_env, "notify.url_env")?;
    let secret_env = raw.secret_env.as_ref().map(|v| variable_name(locator, v, "notify.secret_env")).transpose()?;
    if kind.needs_secret() && secret_env.is_none() {
        return Err(locator.at(
            &raw.kind,
            "notify.secret_env",
            "a webhook's deliveries are signed: name the variable holding its whsec_ secret",
        ));
    }
    let mut ids = Vec::new();
    for id in &raw.members {
        let known = members.iter().find(|m| m.id.as_str() == id.get_ref().trim());
        let known = known.ok_or_else(|| locator.at(id, "notify.members", format!("no member '{}'", id.get_ref())))?;
        ids.push(known.id.clone());
    }
    let mut tags = Vec::new();
    for tag in &raw.tags {
        let text = tag.get_ref().trim().to_lowercase();
        if text.is_empty() || text.chars().count() > 50 {
            return Err(locator.at(tag, "notify.tags", "a tag is 1-50 characters"));
        }
        tags.push(text);
    }
    let q = match &raw.q {
        Some(q) if q.get_ref().trim().is_empty() || q.get_ref().chars().count() > 256 => {
            return Err(locator.at(q, "notify.q", "a search is 1-256 characters"))
        }
        Some(q) => Some(q.get_ref().trim().to_string()),
        None => None,
    };
    let minutes = match &raw.batch_minutes {
        Some(m) if *m.get_ref() > 1440 => {
            return Err(locator.at(m, "notify.batch_minutes", "must be at most 1440 (a day)"))
        }
        Some(m) => *m.get_ref(),
        None => DEFAULT_BATCH_MINUTES,
    };
    Ok(NotifyTarget {
        name,
        kind,
        url_env,
        secret_env,
        members: ids,
        tags,
        q,
        batch: Duration::from_secs(u64::from(minutes) * 60),
    })
}

/// An environment variable's name. A URL or a token written here instead would be public.
fn variable_name(locator: &Locator, value: &Spanned<String>, key: &str) -> Result<String, ConfigError> {
    let text = value.get_ref().trim();
    let shaped = !text.is_empty()
        && text.len() <= 128
        && text.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit());
    match shaped {
        true => Ok(text.to_string()),
        false => Err(locator.at(
            value,
            key,
            "must name an environment variable (A-Z, 0-9, _) that holds the value: feeds.toml is public, so a hook URL or secret never goes in it",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const HEAD: &str = "[site]\ntitle = \"t\"\nurl = \"https://planet.example.cn/\"\n\n\
                        [[members]]\nid = \"zhang-san\"\nname = \"张三\"\nfeed = \"https://zhang.example.cn/feed\"\n\n";

    fn parse(notify: &str) -> Result<Vec<NotifyTarget>, ConfigError> {
        crate::config::parse(&format!("{HEAD}{notify}"), Path::new("feeds.toml")).map(|config| config.notify)
    }

    #[test]
    fn targets_are_read_with_their_filters_and_a_default_batch() {
        let targets = parse(
            "[[notify]]\nname = \"dotnet-group\"\nkind = \"wecom\"\nurl_env = \"PLANET_NOTIFY_WECOM\"\n\
             members = [\"zhang-san\"]\ntags = [\"Blazor\"]\nq = \"依赖注入\"\nbatch_minutes = 10\n\n\
             [[notify]]\nname = \"hooks\"\nkind = \"webhook\"\nurl_env = \"HOOK_URL\"\nsecret_env = \"HOOK_SECRET\"\n",
        )
        .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(
            (targets[0].kind, targets[0].tags.as_slice(), targets[0].batch),
            (NotifyKind::WeCom, &["blazor".to_string()][..], Duration::from_secs(600))
        );
        assert_eq!(targets[0].members[0].as_str(), "zhang-san");
        assert_eq!(targets[1].batch, Duration::from_secs(300));
    }

    #[test]
    fn a_bad_target_is_named_by_file_line_and_key() {
        // The [[notify]] table starts on line 10: name 11, kind 12, then the lines below.
        let cases = [
            (
                "url_env = \"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET\"",
                13,
                "notify.url_env",
                "environment variable",
            ),
            ("url_env = \"U\"\nkind2 = 1", 14, "notify", "unknown field"),
            ("url_env = \"U\"\nmembers = [\"nobody\"]", 14, "notify.members", "no member 'nobody'"),
            ("url_env = \"U\"\nbatch_minutes = 5000", 14, "notify.batch_minutes", "at most 1440"),
        ];
        for (lines, line, key, message) in cases {
            let error = parse(&format!("[[notify]]\nname = \"g\"\nkind = \"wecom\"\n{lines}\n")).unwrap_err();
            assert_eq!((error.file.as_str(), error.line), ("feeds.toml", line), "{lines}: {error}");
            assert!(error.key.starts_with(key) && error.message.contains(message), "{lines}: {error}");
        }
        let error = parse("[[notify]]\nname = \"g\"\nkind = \"qq\"\nurl_env = \"U\"\n").unwrap_err();
        assert_eq!((error.line, error.key.as_str()), (12, "notify.kind"), "{error}");
        assert!(error.message.contains("wecom, dingtalk, feishu"), "{error}");
        let error = parse("[[notify]]\nname = \"g\"\nkind = \"webhook\"\nurl_env = \"U\"\n").unwrap_err();
        assert_eq!(error.key, "notify.secret_env", "a webhook is always signed: {error}");
    }

    #[test]
    fn secrets_come_from_the_environment_and_errors_never_show_them() {
        let target = &parse(
            "[[notify]]\nname = \"g\"\nkind = \"dingtalk\"\nurl_env = \"DING_URL\"\nsecret_env = \"DING_SECRET\"\n",
        )
        .unwrap()[0];
        let url = "https://oapi.dingtalk.com/robot/send?access_token=TOKEN123";
        let env = |name: &str| match name {
            "DING_URL" => Some(url.to_string()),
            "DING_SECRET" => Some("SECabc".to_string()),
            _ => None,
        };
        let secrets = target.secrets(env).unwrap();
        assert_eq!((secrets.url.as_str(), secrets.secret.as_deref()), (url, Some("SECabc")));
        assert!(!format!("{secrets:?}").contains("TOKEN123"), "a debug print hides the token");
        let missing = target.secrets(|name| (name == "DING_URL").then(|| url.to_string())).unwrap_err();
        assert!(missing.contains("$DING_SECRET is not set"), "{missing}");
        let wrong = target.secrets(|_| Some("not a url TOKEN123".to_string())).unwrap_err();
        assert!(wrong.contains("$DING_URL is not an http(s) URL") && !wrong.contains("TOKEN123"), "{wrong}");
    }
}
