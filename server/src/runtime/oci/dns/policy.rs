//! What the DNS filter refuses to pass on: query types other than A / AAAA (they would carry
//! data to the upstream resolver and back), answers pointing at addresses no public name
//! should give a sandbox (private, loopback, link-local, multicast and the host's own), and
//! queries beyond a per-sandbox rate.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::Mutex,
    time::{Duration, Instant},
};

use super::wire;

/// Queries per second a sandbox may send on average…
pub(super) const QUERY_RATE: f64 = 50.0;
/// …and at once after a quiet spell; beyond that the filter answers REFUSED.
pub(super) const QUERY_BURST: f64 = 100.0;

/// How long a read of the host's addresses is reused.
const HOST_ADDRS_FOR: Duration = Duration::from_secs(5);

/// Whether a query of `qtype` is resolved at all: only addresses (every other type, TXT in
/// particular, would be a channel through the host's resolver).
pub(super) fn resolvable(qtype: u16) -> bool {
    qtype == wire::TYPE_A || qtype == wire::TYPE_AAAA
}

/// Why `ip` may not be handed out for a name, or `None` for an ordinary public address.
/// IPv4-mapped IPv6 addresses and those of the well-known NAT64 prefix (64:ff9b::/96, which a
/// NAT64 gateway turns into the IPv4 address) are judged by their IPv4 address.
pub(super) fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => special_v4(v4),
            None if v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
                let [.., a, b, c, d] = v6.octets();
                special_v4(Ipv4Addr::new(a, b, c, d))
            }
            None => special_v6(v6),
        },
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_unspecified() || a == 0 {
        "unspecified (0.0.0.0/8)"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private (RFC 1918)"
    } else if a == 100 && (64..128).contains(&b) {
        "shared address space (100.64.0.0/10)"
    } else if ip.is_link_local() {
        "link-local (169.254.0.0/16)"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast() || a >= 240 {
        "reserved or broadcast (240.0.0.0/4)"
    } else {
        return None;
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if first & 0xfe00 == 0xfc00 {
        "unique local (fc00::/7)"
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        "link- or site-local"
    } else if ip.is_multicast() {
        "multicast"
    } else {
        return None;
    })
}

/// The host's own addresses (every interface, every family), read from `/proc` since the
/// crate has no `getifaddrs` without `unsafe`; reread at most every [`HOST_ADDRS_FOR`].
#[derive(Debug, Default)]
pub(super) struct HostAddrs {
    cached: Mutex<Option<(Instant, Vec<IpAddr>)>>,
}

impl HostAddrs {
    /// Whether `ip` is one of the host's addresses.
    pub(super) fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let mut cached = self.cached.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = cached.as_ref().is_some_and(|(at, _)| at.elapsed() < HOST_ADDRS_FOR);
        if !fresh {
            let v4 = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
            let v6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
            let mut all = local_v4(&v4);
            all.extend(local_v6(&v6));
            *cached = Some((Instant::now(), all));
        }
        cached.as_ref().is_some_and(|(_, all)| all.contains(&ip))
    }
}

/// The addresses of the `LOCAL` routes in `/proc/net/fib_trie` (an address line `|-- a.b.c.d`
/// followed by `/32 host LOCAL`).
fn local_v4(fib_trie: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in fib_trie.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ").or_else(|| line.strip_prefix("+-- ")) {
            last = addr.split('/').next().and_then(|a| a.parse().ok());
        } else if line == "/32 host LOCAL" {
            if let Some(addr) = last.map(IpAddr::V4).filter(|a| !found.contains(a)) {
                found.push(addr);
            }
        }
    }
    found
}

/// The addresses in `/proc/net/if_inet6` (32 hex digits first on each line).
fn local_v6(if_inet6: &str) -> Vec<IpAddr> {
    if_inet6
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|hex| u128::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 32))
        .map(|bits| IpAddr::V6(bits.into()))
        .collect()
}

/// A token bucket: [`QUERY_RATE`] a second, up to [`QUERY_BURST`] saved.
#[derive(Debug)]
pub(super) struct RateLimit {
    state: Mutex<(f64, Instant)>,
    rate: f64,
    burst: f64,
}

impl RateLimit {
    /// A full bucket.
    pub(super) fn new(rate: f64, burst: f64) -> Self {
        Self { state: Mutex::new((burst, Instant::now())), rate, burst }
    }

    /// Takes a token at `now`; `false` when there is none left.
    pub(super) fn take(&self, now: Instant) -> bool {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (tokens, at) = &mut *state;
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *at = now.max(*at);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn special_addresses_are_told_from_public_ones() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
        ] {
            assert!(special(ip.parse().unwrap()).is_some(), "{ip} is special");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "198.18.0.2",
            "198.19.255.1",
            "192.0.2.7",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "172.15.255.255",
            "11.0.0.1",
            "2001:db8::1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert_eq!(special(ip.parse().unwrap()), None, "{ip} is public");
        }
    }

    #[test]
    fn only_address_queries_are_resolved() {
        assert!(resolvable(wire::TYPE_A) && resolvable(wire::TYPE_AAAA));
        // TXT, MX, CNAME, NS, ANY, HTTPS, NULL.
        for qtype in [16, 15, 5, 2, 255, 65, 10] {
            assert!(!resolvable(qtype), "{qtype}");
        }
    }

    #[test]
    fn the_host_addresses_are_read_from_proc() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
                   |-- 192.0.2.2\n        /32 host LOCAL\n     |-- 192.0.2.255\n\
                           /32 link BROADCAST\n  |-- 127.0.0.1\n     /32 host LOCAL\n\
                   Local:\n |-- 192.0.2.2\n        /32 host LOCAL\n";
        let got: Vec<String> = local_v4(fib).iter().map(ToString::to_string).collect();
        assert_eq!(got, ["192.0.2.2", "127.0.0.1"]);
        let inet6 = "fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
                     00000000000000000000000000000001 01 80 10 80       lo\nshort 1 2\n";
        let got: Vec<String> = local_v6(inet6).iter().map(ToString::to_string).collect();
        assert_eq!(got, ["fe80::fc:ff:fe00:1", "::1"]);
        // The live reading sees at least the loopback address.
        assert!(HostAddrs::default().contains("127.0.0.1".parse().unwrap()));
        assert!(!HostAddrs::default().contains("198.51.100.254".parse().unwrap()));
    }

    #[test]
    fn the_rate_limit_allows_a_burst_then_the_rate() {
        let limit = RateLimit::new(QUERY_RATE, QUERY_BURST);
        let t0 = Instant::now();
        let burst = (0..1000).filter(|_| limit.take(t0)).count();
        assert_eq!(burst, 100);
        // One second later: 50 more, not 100.
        let later = t0 + Duration::from_secs(1);
        assert_eq!((0..1000).filter(|_| limit.take(later)).count(), 50);
        // A long quiet spell refills up to the burst, no more.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!((0..1000).filter(|_| limit.take(much_later)).count(), 100);
        // A clock reading from before the last one takes nothing and gives nothing.
        assert!(!limit.take(t0));
    }
}
