//! WebSub (W3C Recommendation) as planet speaks it, the pure part: discovering a feed's hub
//! and topic (the `Link` header first, then the document's own links, as section 4 asks),
//! checking a content distribution's `X-Hub-Signature`, and the random callback token and
//! secret of a subscription. The I/O (subscribing, the callback, pinging) is in `service`
//! and `http`.

use hmac::{Hmac, Mac};
use url::Url;

/// Where a feed's updates are pushed from, and the topic URL to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Links {
    pub hub: Url,
    pub topic: Url,
}

/// The hub and self links of a fetched feed: from its `Link` header when that names both,
/// else from the document (`fetched` resolves relative ones). No hub: `None`.
pub fn discover(link_header: Option<&str>, document: (Option<&str>, Option<&str>), fetched: &Url) -> Option<Links> {
    let resolve = |href: &str| fetched.join(href.trim()).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
    let header = link_header.map(parse_link_header).unwrap_or_default();
    let find =
        |rel: &str| header.iter().find(|(_, rels)| rels.iter().any(|r| r == rel)).and_then(|(url, _)| resolve(url));
    if let (Some(hub), Some(topic)) = (find("hub"), find("self")) {
        return Some(Links { hub, topic });
    }
    let (hub, topic) = document;
    let hub = find("hub").or_else(|| hub.and_then(resolve))?;
    let topic = find("self").or_else(|| topic.and_then(resolve)).unwrap_or_else(|| fetched.clone());
    Some(Links { hub, topic })
}

/// `<url>; rel="a b", <url2>; rel=c` into (url, rels). Hand-written: the grammar planet needs
/// (RFC 8288's target and `rel`) is a few lines, and no maintained crate parses only that.
fn parse_link_header(value: &str) -> Vec<(String, Vec<String>)> {
    let mut links = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else { break };
        let url = rest[start + 1..start + end].to_string();
        rest = &rest[start + end + 1..];
        let parameters = rest.split('<').next().unwrap_or("");
        let rels = parameters
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("rel="))
            .flat_map(|r| {
                r.trim_matches(|c| c == '"' || c == ',' || c == ' ')
                    .split_whitespace()
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>()
            })
            .collect();
        links.push((url, rels));
    }
    links
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Hub-Signature header: planet always subscribes with a secret")]
    Missing,
    #[error("X-Hub-Signature names an algorithm planet does not accept: {0}")]
    Algorithm(String),
    #[error("X-Hub-Signature does not match the body")]
    Mismatch,
}

/// Checks `X-Hub-Signature: method=hex` over `body` with the subscription's secret: sha1,
/// sha256, sha384 and sha512, compared in constant time.
pub fn check_signature(secret: &[u8], header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (method, hex) = header.trim().split_once('=').ok_or(SignatureError::Mismatch)?;
    let expected = decode_hex(hex.trim()).ok_or(SignatureError::Mismatch)?;
    let verified = match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => verify::<Hmac<sha1::Sha1>>(secret, body, &expected),
        "sha256" => verify::<Hmac<sha2::Sha256>>(secret, body, &expected),
        "sha384" => verify::<Hmac<sha2::Sha384>>(secret, body, &expected),
        "sha512" => verify::<Hmac<sha2::Sha512>>(secret, body, &expected),
        other => return Err(SignatureError::Algorithm(other.chars().take(20).collect())),
    };
    verified.then_some(()).ok_or(SignatureError::Mismatch)
}

fn verify<M: Mac + hmac::digest::KeyInit>(secret: &[u8], body: &[u8], expected: &[u8]) -> bool {
    let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || hex.len() > 256 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// `bytes` random bytes from the operating system, as lowercase hex.
pub fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).map_err(|e| anyhow::anyhow!("no randomness from the system: {e}"))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

/// The callback a subscription's hub posts to: `{site}websub/{token}`.
pub fn callback_url(site: &Url, token: &str) -> Option<Url> {
    site.join(&format!("websub/{token}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn the_link_header_wins_over_the_document_and_relative_links_resolve() {
        let fetched = url("https://blog.example.cn/feed.xml");
        let header = r#"<https://hub.example.com/>; rel="hub", </feed.xml?v=2>; rel="self alternate""#;
        let found = discover(Some(header), (Some("https://other-hub.example/"), None), &fetched).unwrap();
        assert_eq!(
            found,
            Links { hub: url("https://hub.example.com/"), topic: url("https://blog.example.cn/feed.xml?v=2") }
        );
        let from_document = discover(None, (Some("/hub"), Some("https://blog.example.cn/atom")), &fetched).unwrap();
        assert_eq!(from_document.hub, url("https://blog.example.cn/hub"));
        assert_eq!(from_document.topic, url("https://blog.example.cn/atom"));
        assert_eq!(discover(Some("<https://x/>; rel=alternate"), (None, None), &fetched), None);
        assert_eq!(discover(None, (Some("javascript:alert(1)"), None), &fetched), None);
    }

    #[test]
    fn signatures_are_checked_for_each_algorithm_the_spec_names() {
        // `printf 'body' | openssl dgst -sha1 -hmac secret` and -sha256.
        let body = b"body";
        assert_eq!(check_signature(b"secret", Some("sha1=a18991ff7e4513a1c2d2ee51e3a8e99ca891d9cd"), body), Ok(()));
        let sha256 = "sha256=dc46983557fea127b43af721467eb9b3fde2338fe3e14f51952aa8478c13d355";
        assert_eq!(check_signature(b"secret", Some(sha256), body), Ok(()));
        assert_eq!(check_signature(b"other", Some(sha256), body), Err(SignatureError::Mismatch));
        assert_eq!(check_signature(b"secret", Some(sha256), b"bodY"), Err(SignatureError::Mismatch));
        assert_eq!(check_signature(b"secret", None, body), Err(SignatureError::Missing));
        assert!(matches!(check_signature(b"secret", Some("md5=00"), body), Err(SignatureError::Algorithm(_))));
    }
}
