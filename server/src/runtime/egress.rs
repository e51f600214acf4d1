//! Egress allow-lists (spec/README.md §5), parsed once so that the API's validation and the
//! runtime's enforcement read the entries the same way.
//!
//! Entry forms: a hostname (`api.example.com`, matched exactly, case-insensitively), a wildcard
//! (`*.example.com`: every name *under* the domain, not the apex itself), an IP literal, or a
//! CIDR range (`203.0.113.0/24`, `2001:db8::/32`). Names are case-folded and a trailing dot is
//! dropped; CIDR host bits are cleared.

use crate::runtime::RuntimeError;
use std::net::IpAddr;

/// An IP range: an address and the number of leading bits that must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    /// The first address of the range (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length: 0–32 for IPv4, 0–128 for IPv6.
    pub prefix: u8,
}

impl IpNet {
    /// The range `addr/prefix` with its host bits cleared; `None` when `prefix` is too long.
    #[must_use]
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Self> {
        let addr = match addr {
            IpAddr::V4(v4) if prefix <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
            _ => return None,
        };
        Some(Self { addr, prefix })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The destinations a sandbox may reach; everything else is denied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Exact hostnames, lowercase, without a trailing dot.
    names: Vec<String>,
    /// Wildcard suffixes with their leading dot (`*.example.com` → `.example.com`).
    suffixes: Vec<String>,
    /// IP literals (as /32 or /128) and CIDR ranges.
    nets: Vec<IpNet>,
}

impl AllowList {
    /// Parses `allowed_destinations`; the error names the first bad entry and the forms that
    /// are accepted.
    pub fn parse(entries: &[String]) -> Result<Self, RuntimeError> {
        let mut list = Self::default();
        for entry in entries {
            list.add(entry)?;
        }
        Ok(list)
    }

    fn add(&mut self, entry: &str) -> Result<(), RuntimeError> {
        let bad = |why: &str| {
            RuntimeError::Invalid(format!(
                "egress destination {entry:?} is invalid: {why}; allowed_destinations takes \
                 hostnames (api.example.com), wildcards (*.example.com), IP addresses \
                 (203.0.113.7) and CIDR ranges (203.0.113.0/24)"
            ))
        };
        if entry.trim() != entry || entry.is_empty() {
            return Err(bad("it is empty or has surrounding spaces"));
        }
        if entry.contains("://") {
            return Err(bad("give the host alone, without a scheme"));
        }
        if let Some((addr, prefix)) = entry.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| bad("the part before / is no IP"))?;
            let prefix: u8 = prefix.parse().map_err(|_| bad("the prefix length is no number"))?;
            let net = IpNet::new(addr, prefix).ok_or_else(|| bad("the prefix is too long"))?;
            self.nets.push(net);
            return Ok(());
        }
        if let Ok(ip) = entry.parse::<IpAddr>() {
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            self.nets.extend(IpNet::new(ip, prefix));
            return Ok(());
        }
        if entry.contains(':') {
            return Err(bad(
                "ports cannot be given (an allowed destination is open on every port)",
            ));
        }
        let (wildcard, name) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        if name.contains('*') {
            return Err(bad("'*' may only stand as the first label, as in *.example.com"));
        }
        let name = normalize(name).ok_or_else(|| {
            bad("it is not a hostname (labels of letters, digits, '-' and '_', 1-63 characters each)")
        })?;
        if wildcard {
            self.suffixes.push(format!(".{name}"));
        } else {
            self.names.push(name);
        }
        Ok(())
    }

    /// Whether a DNS name may be resolved (and then reached): an exact entry, or a name under
    /// a wildcard's domain.
    #[must_use]
    pub fn allows_name(&self, name: &str) -> bool {
        let Some(name) = normalize(name) else { return false };
        self.names.contains(&name)
            || self.suffixes.iter().any(|s| name.len() > s.len() && name.ends_with(s.as_str()))
    }

    /// Whether an IP or CIDR entry covers `ip` (IPv4-mapped IPv6 addresses count as IPv4).
    #[must_use]
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        self.nets.iter().any(|net| IpNet::new(ip, net.prefix).is_some_and(|n| n == *net))
    }

    /// Whether nothing at all is allowed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.suffixes.is_empty() && self.nets.is_empty()
    }

    /// The IP literals and ranges.
    #[must_use]
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether any entry is a hostname or wildcard (which only a DNS-aware runtime enforces).
    #[must_use]
    pub fn has_names(&self) -> bool {
        !self.names.is_empty() || !self.suffixes.is_empty()
    }

    /// The entries in canonical form (what [`AllowList::parse`] reads back unchanged).
    #[must_use]
    pub fn entries(&self) -> Vec<String> {
        let names = self.names.iter().cloned();
        let wildcards = self.suffixes.iter().map(|s| format!("*{s}"));
        names.chain(wildcards).chain(self.nets.iter().map(IpNet::to_string)).collect()
    }
}

/// A DNS name in lowercase without a trailing dot, or `None` when it is no valid hostname.
fn normalize(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (!name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> AllowList {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        AllowList::parse(&entries).unwrap()
    }

    #[test]
    fn wildcards_match_below_the_domain_only() {
        let l = list(&["*.example.com", "API.Test.org."]);
        assert!(l.allows_name("a.example.com"));
        assert!(l.allows_name("A.B.Example.COM."));
        assert!(!l.allows_name("example.com"));
        assert!(!l.allows_name("badexample.com"));
        assert!(!l.allows_name("example.com.evil.net"));
        assert!(l.allows_name("api.test.org"));
        assert!(!l.allows_name("x.api.test.org"));
        assert!(!l.allows_name("test.org"));
        assert_eq!(l.entries(), ["api.test.org", "*.example.com"]);
    }

    #[test]
    fn ips_and_ranges_are_normalized() {
        let l = list(&["198.18.1.7", "198.18.2.9/24", "2001:db8::1/32", "::1"]);
        let nets: Vec<String> = l.nets().iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["198.18.1.7/32", "198.18.2.0/24", "2001:db8::/32", "::1/128"]);
        assert_eq!(AllowList::parse(&l.entries()).unwrap(), l);
        let everything = IpNet::new("9.9.9.9".parse().unwrap(), 0).unwrap();
        assert_eq!(everything.to_string(), "0.0.0.0/0");
        assert!(!l.is_empty() && AllowList::default().is_empty());
        for (ip, covered) in [
            ("198.18.1.7", true),
            ("198.18.1.8", false),
            ("198.18.2.200", true),
            ("::ffff:198.18.2.1", true),
            ("198.18.3.1", false),
            ("2001:db8:ffff::9", true),
            ("2001:db9::", false),
            ("::1", true),
            ("::2", false),
        ] {
            assert_eq!(l.allows_ip(ip.parse().unwrap()), covered, "{ip}");
        }
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (entry, word) in [
            ("", "empty"),
            (" a.com", "spaces"),
            ("https://a.com", "scheme"),
            ("a.com:443", "ports"),
            ("10.0.0.0/33", "too long"),
            ("10.0.0.0/x", "no number"),
            ("host/24", "no IP"),
            ("a.*.com", "first label"),
            ("*", "first label"),
            ("-a.com", "not a hostname"),
            ("a..com", "not a hostname"),
            ("*.", "not a hostname"),
        ] {
            let err = AllowList::parse(&[entry.to_owned()]).unwrap_err().to_string();
            assert!(err.contains(word) && err.contains("CIDR"), "{entry}: {err}");
        }
    }
}
