//! Rate limits of the subscription form: per client and per mailbox, each a bounded table of
//! fixed-window counters. A request costs O(1) (amortized): expired counters leave from the
//! front of an arrival queue, and when the table is full the oldest counter leaves, so a
//! flood of distinct keys can neither grow memory past the bound nor slow other requests.
//! The keys are what an attacker cannot vary for free: the client's IP (an IPv6 client by
//! its /64) as the trusted proxy saw it, and the mailbox with the spellings that reach the
//! same inbox folded together.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// At most `limit` attempts per key in a window that starts at the key's first attempt.
pub struct WindowLimiter {
    limit: u32,
    window: Duration,
    max_keys: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    counters: HashMap<String, Counter>,
    /// Keys in the order their windows started, with that start.
    arrivals: VecDeque<(String, Instant)>,
}

struct Counter {
    started: Instant,
    attempts: u32,
}

impl WindowLimiter {
    pub fn new(limit: u32, window: Duration, max_keys: usize) -> WindowLimiter {
        WindowLimiter { limit, window, max_keys, table: Mutex::default() }
    }

    /// Counts an attempt for `key` at `now`; whether it is within the limit.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let Ok(mut table) = self.table.lock() else { return false };
        let table = &mut *table;
        while let Some((front, started)) = table.arrivals.front() {
            let expired = now.duration_since(*started) >= self.window;
            if !expired && table.counters.len() < self.max_keys {
                break;
            }
            // A key whose window restarted has a newer entry further back; only the entry
            // that matches its counter's start removes it.
            if table.counters.get(front).is_some_and(|c| c.started == *started) {
                table.counters.remove(front);
            }
            table.arrivals.pop_front();
        }
        match table.counters.get_mut(key) {
            Some(counter) if now.duration_since(counter.started) < self.window => {
                if counter.attempts >= self.limit {
                    return false;
                }
                counter.attempts += 1;
                true
            }
            _ => {
                table.counters.insert(key.to_string(), Counter { started: now, attempts: 1 });
                table.arrivals.push_back((key.to_string(), now));
                true
            }
        }
    }

    /// Counters held (the bound's proof, in tests).
    #[cfg(test)]
    fn keys(&self) -> usize {
        self.table.lock().map(|t| t.counters.len()).unwrap_or(0)
    }
}

/// The client's address: the TCP peer, or, when the peer is the reverse proxy on this host,
/// the address that proxy saw: its `X-Real-IP`, else the last `X-Forwarded-For` entry (the
/// one it appended; entries to its left are whatever the client sent).
pub fn client_address(peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if !peer.ip().is_loopback() {
        return peer.ip();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let real_ip = header("x-real-ip").and_then(|v| v.trim().parse().ok());
    let forwarded = header("x-forwarded-for").and_then(|v| v.rsplit(',').next()).and_then(|v| v.trim().parse().ok());
    real_ip.or(forwarded).unwrap_or(peer.ip())
}

/// The limiter's key for a client: an IPv4 address, or an IPv6 client's /64 (one host gets
/// a whole /64, so single addresses would be free to vary).
pub fn client_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The limiter's key for a mailbox: lowercase, `+tag` dropped, and for Gmail (which ignores
/// dots and answers to googlemail.com too) dots dropped: `Victim+1@` and `v.ictim@` are one
/// inbox and one key.
///
/// The domain is folded to its ASCII (IDNA) form: `例子.中国` and `xn--fsqu00a.xn--fiqs8s` are
/// one domain and one key.
pub fn mailbox_key(address: &str) -> String {
    let lowered = address.trim().to_lowercase();
    let Some((local, domain)) = lowered.rsplit_once('@') else { return lowered };
    let ascii = match url::Host::parse(domain) {
        Ok(url::Host::Domain(ascii)) => ascii,
        _ => domain.to_string(),
    };
    let domain = ascii.as_str();
    let local = local.split('+').next().unwrap_or(local);
    match domain {
        "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
        _ => format!("{local}@{domain}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_window_and_then_a_new_window() {
        let limiter = WindowLimiter::new(3, Duration::from_secs(60), 100);
        let start = Instant::now();
        assert_eq!((0..4).map(|_| limiter.allow("a", start)).collect::<Vec<_>>(), vec![true, true, true, false]);
        assert!(limiter.allow("b", start), "keys are counted apart");
        assert!(limiter.allow("a", start + Duration::from_secs(61)), "a new window");
    }

    #[test]
    fn a_flood_of_distinct_keys_never_holds_more_than_the_bound() {
        let limiter = WindowLimiter::new(3, Duration::from_secs(3600), 1000);
        let start = Instant::now();
        for i in 0..100_000 {
            assert!(limiter.allow(&format!("flood-{i}"), start));
        }
        assert_eq!(limiter.keys(), 1000);
        let table = limiter.table.lock().unwrap();
        assert!(table.arrivals.len() <= 1000, "the arrival queue is bounded too: {}", table.arrivals.len());
    }

    #[test]
    fn expired_windows_leave_the_table() {
        let limiter = WindowLimiter::new(1, Duration::from_secs(10), 1000);
        let start = Instant::now();
        for i in 0..500 {
            limiter.allow(&format!("k{i}"), start);
        }
        limiter.allow("late", start + Duration::from_secs(11));
        assert_eq!(limiter.keys(), 1);
    }

    #[test]
    fn only_the_proxys_own_entry_is_trusted() {
        let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
        assert_eq!(client_address(proxy, &headers), "203.0.113.9".parse::<IpAddr>().unwrap());
        headers.insert("x-real-ip", "198.51.100.4".parse().unwrap());
        assert_eq!(client_address(proxy, &headers), "198.51.100.4".parse::<IpAddr>().unwrap());
        let direct: SocketAddr = "198.51.100.77:5000".parse().unwrap();
        assert_eq!(client_address(direct, &headers), direct.ip(), "headers from a client that is not the proxy");
    }

    #[test]
    fn an_ipv6_client_is_its_64_and_spellings_of_one_inbox_are_one_key() {
        let a = client_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        assert_eq!(a, client_key("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(mailbox_key("Vic.Tim+9@GoogleMail.com"), "victim@gmail.com");
        assert_eq!(mailbox_key("victim+1@mail.example.cn"), "victim@mail.example.cn");
        assert_ne!(mailbox_key("vic.tim@mail.example.cn"), mailbox_key("victim@mail.example.cn"));
        assert_eq!(mailbox_key("target@例子.中国"), mailbox_key("target@xn--fsqu00a.xn--fiqs8s"));
        assert_eq!(mailbox_key("target@例子.中国"), "target@xn--fsqu00a.xn--fiqs8s");
    }
}
