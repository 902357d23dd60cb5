//! `[websub]`: the hubs planet's own feeds advertise and ping, whether planet subscribes to
//! the hubs its members' feeds advertise, and how often a feed pushed to is still polled.

use std::time::Duration;

use toml::Spanned;
use url::Url;

use super::validate::Locator;
use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSubConfig {
    /// Hubs every feed planet serves advertises (`rel="hub"`) and pings after a pass that
    /// changed it.
    pub hubs: Vec<Url>,
    /// Subscribe to the hubs member feeds advertise. Default: on when `[site] url` is a
    /// public name, where a hub can reach the callback.
    pub subscribe: bool,
    /// A feed with a live subscription is still polled, this often, in case the hub misses
    /// a post (default 6 hours).
    pub fallback_poll: Duration,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebSub {
    #[serde(default)]
    pub hubs: Vec<Spanned<String>>,
    pub subscribe: Option<bool>,
    pub fallback_poll_hours: Option<Spanned<u32>>,
}

const DEFAULT_FALLBACK_POLL_HOURS: u32 = 6;

pub(super) fn websub(locator: &Locator, raw: &RawWebSub, site_url: &Url) -> Result<WebSubConfig, ConfigError> {
    let mut hubs = Vec::new();
    for hub in &raw.hubs {
        let url = Url::parse(hub.get_ref().trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| locator.at(hub, "websub.hubs", "must be an http(s) URL"))?;
        hubs.push(url);
    }
    let hours = match &raw.fallback_poll_hours {
        Some(h) if *h.get_ref() == 0 || *h.get_ref() > 168 => {
            return Err(locator.at(h, "websub.fallback_poll_hours", "must be 1-168 (a week)"))
        }
        Some(h) => *h.get_ref(),
        None => DEFAULT_FALLBACK_POLL_HOURS,
    };
    Ok(WebSubConfig {
        hubs,
        subscribe: raw.subscribe.unwrap_or_else(|| is_public_name(site_url)),
        fallback_poll: Duration::from_secs(u64::from(hours) * 3600),
    })
}

/// Whether a hub on the Internet could reach a callback under `url`: a domain name that is
/// not `localhost` or a local-only suffix (an IP address is taken to be a test or a LAN).
fn is_public_name(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.to_ascii_lowercase();
            name.contains('.')
                && ![".localhost", ".local", ".internal", ".lan", ".home.arpa"].iter().any(|s| name.ends_with(s))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribing_is_on_by_default_only_for_a_site_a_hub_can_reach() {
        assert!(is_public_name(&Url::parse("https://planet.dotnet-cs.cn/").unwrap()));
        for local in ["http://127.0.0.1:8080/", "http://localhost/", "http://planet.local/", "http://[::1]/"] {
            assert!(!is_public_name(&Url::parse(local).unwrap()), "{local}");
        }
    }
}
