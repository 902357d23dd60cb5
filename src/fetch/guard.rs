//! The SSRF guard: which addresses a member's feed may be fetched from. Every hop of a fetch
//! is checked on the address actually connected to: an IP literal (however it is spelled;
//! the URL parser reads `2130706433` and `0177.0.0.1` as 127.0.0.1) before the request, and a
//! host name inside the resolver reqwest connects through, so a name cannot resolve to a
//! public address for a check and to a private one for the connection.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Which addresses may be fetched from.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Private, loopback and other non-public addresses are allowed (a planet inside a
    /// company network): `[fetch] allow_private`, or a member's `allow_private`.
    pub allow_private: bool,
    /// Non-public addresses allowed one by one (`[fetch] allow_addresses`).
    pub exceptions: Arc<Vec<IpAddr>>,
}

/// A fetch refused because the host is at an address the policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host} is at a {class} address ({address}), which planet does not fetch from")]
pub struct Refused {
    pub host: String,
    pub address: IpAddr,
    pub class: &'static str,
}

impl AddressPolicy {
    /// `None` when `address` may be fetched from, else what kind of address it is.
    pub fn refusal(&self, address: IpAddr) -> Option<&'static str> {
        if self.allow_private || self.exceptions.contains(&address) {
            return None;
        }
        non_public_class(address)
    }

    /// Checks a URL whose host is an IP literal; a host name is checked when it resolves.
    pub fn check_literal(&self, url: &Url) -> Result<(), Refused> {
        let address = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        match self.refusal(address) {
            Some(class) => Err(Refused { host: url.host_str().unwrap_or("").to_string(), address, class }),
            None => Ok(()),
        }
    }
}

/// What kind of non-public address this is, or `None` for a public one.
pub fn non_public_class(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, _, _] = v4.octets();
    Some(match () {
        _ if v4.is_loopback() => "loopback",
        _ if v4.is_unspecified() || a == 0 => "unspecified",
        _ if v4.is_private() => "private",
        _ if v4.is_link_local() => "link-local",
        _ if a == 100 && (64..128).contains(&b) => "shared (CGNAT)",
        _ if v4.is_multicast() => "multicast",
        _ if v4.is_broadcast() || a >= 240 => "reserved",
        _ if v4.is_documentation() || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0) => "reserved",
        _ => return None,
    })
}

fn v6_class(v6: Ipv6Addr) -> Option<&'static str> {
    // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96)
    // addresses reach the IPv4 address inside them.
    let segments = v6.segments();
    let embedded = match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(v4_tail(&v6)),
        [0, 0, 0, 0, 0, 0, high, _] if high != 0 => Some(v4_tail(&v6)),
        _ => None,
    };
    if let Some(v4) = embedded {
        return v4_class(v4);
    }
    Some(match segments[0] {
        _ if v6.is_loopback() => "loopback",
        _ if v6.is_unspecified() => "unspecified",
        first if first & 0xfe00 == 0xfc00 => "private",
        first if first & 0xffc0 == 0xfe80 => "link-local",
        first if first & 0xffc0 == 0xfec0 => "private",
        first if first & 0xff00 == 0xff00 => "multicast",
        0x2001 if segments[1] == 0x0db8 => "reserved",
        _ => return None,
    })
}

fn v4_tail(v6: &Ipv6Addr) -> Ipv4Addr {
    let octets = v6.octets();
    Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
}

/// The resolver reqwest connects through: the system's lookup, keeping only the addresses
/// the policy allows. A name with none left fails with `Refused`.
pub struct GuardedResolver {
    pub policy: AddressPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|address| match policy.refusal(address.ip()) {
                    Some(class) => {
                        refused = Some(Refused { host: host.clone(), address: address.ip(), class });
                        false
                    }
                    None => true,
                })
                .collect();
            match (allowed.is_empty(), refused) {
                (true, Some(refused)) => Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Option<&'static str> {
        let url = Url::parse(text).unwrap();
        AddressPolicy::default().check_literal(&url).err().map(|r| r.class)
    }

    #[test]
    fn every_non_public_form_and_spelling_is_refused_by_default() {
        for (url, class) in [
            ("http://127.0.0.1/", "loopback"),
            ("http://2130706433/", "loopback"),
            ("http://0177.0.0.1/", "loopback"),
            ("http://0x7f.1/", "loopback"),
            ("http://[::1]/", "loopback"),
            ("http://[::ffff:127.0.0.1]/", "loopback"),
            ("http://[::ffff:10.0.0.1]/", "private"),
            ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
            ("http://10.1.2.3/", "private"),
            ("http://172.16.0.1/", "private"),
            ("http://192.168.1.1/", "private"),
            ("http://[fd00::1]/", "private"),
            ("http://169.254.169.254/", "link-local"),
            ("http://[fe80::1]/", "link-local"),
            ("http://100.64.0.1/", "shared (CGNAT)"),
            ("http://224.0.0.1/", "multicast"),
            ("http://[ff02::1]/", "multicast"),
            ("http://0.0.0.0/", "unspecified"),
            ("http://[::]/", "unspecified"),
            ("http://255.255.255.255/", "reserved"),
        ] {
            assert_eq!(refused(url), Some(class), "{url}");
        }
        for public in ["http://93.184.216.34/", "http://[2606:4700::1111]/", "http://blog.example.cn/"] {
            assert_eq!(refused(public), None, "{public}");
        }
    }

    #[test]
    fn the_operator_can_allow_private_addresses_all_at_once_or_one_by_one() {
        let url = Url::parse("http://10.0.0.7/feed").unwrap();
        assert!(AddressPolicy { allow_private: true, ..Default::default() }.check_literal(&url).is_ok());
        let one = AddressPolicy { allow_private: false, exceptions: Arc::new(vec!["10.0.0.7".parse().unwrap()]) };
        assert!(one.check_literal(&url).is_ok());
        assert!(one.check_literal(&Url::parse("http://10.0.0.8/feed").unwrap()).is_err());
    }
}
