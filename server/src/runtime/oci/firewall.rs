//! Egress enforcement: nftables rules in the sandbox's network namespace, installed by the
//! server before the namespace is even connected. The workload has no `CAP_NET_ADMIN` (and
//! cannot get it: user namespaces are blocked), so it can neither change nor read them.
//!
//! The output hook drops everything (any protocol, IPv4 and IPv6) except loopback, replies
//! on connections that came in (the forwarded port), the allow-list's IP ranges, and the
//! addresses the DNS filter (`dns.rs`) handed out for allowed names, which expire with their
//! answers. Every DNS query, to whatever server, is redirected to that filter at
//! [`DNS_ADDR`]. Refused packets get an ICMP "administratively prohibited", so clients fail at
//! once instead of timing out.

use crate::runtime::RuntimeError;
use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    time::Duration,
};

use super::host;
use crate::runtime::egress::AllowList;

/// The table holding every rule of a sandbox.
const TABLE: &str = "porter_egress";

/// Where the DNS filter listens inside the namespace (a loopback address of its own, so it
/// cannot collide with a workload's listener on 127.0.0.1:53).
pub(super) const DNS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 53);

/// The hint for a missing `nft`.
const NFT_MISSING: &str = "egress allow-lists are enforced with nftables, which is not \
     installed: run `apt-get install -y nftables` (or omit egress)";

/// The ruleset for `allow` (one atomic `nft -f` transaction).
pub(super) fn ruleset(allow: &AllowList) -> String {
    let (v4, v6): (Vec<_>, Vec<_>) = allow.nets().iter().partition(|n| n.addr.is_ipv4());
    let elements = |nets: &[&crate::runtime::egress::IpNet]| {
        if nets.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = nets.iter().map(ToString::to_string).collect();
            format!(" elements = {{ {} }};", list.join(", "))
        }
    };
    format!(
        "table inet {TABLE} {{
  set nets4 {{ type ipv4_addr; flags interval;{e4} }}
  set nets6 {{ type ipv6_addr; flags interval;{e6} }}
  set dns4 {{ type ipv4_addr; flags timeout; }}
  set dns6 {{ type ipv6_addr; flags timeout; }}
  chain dns {{
    type nat hook output priority -100; policy accept;
    ip daddr != 127.0.0.0/8 udp dport 53 dnat ip to {DNS_ADDR}
    ip daddr != 127.0.0.0/8 tcp dport 53 dnat ip to {DNS_ADDR}
  }}
  chain out {{
    type filter hook output priority 0; policy drop;
    oif \"lo\" accept
    ip daddr 127.0.0.0/8 accept
    ip6 daddr ::1 accept
    ct state established,related accept
    ip daddr @nets4 accept
    ip daddr @dns4 accept
    ip6 daddr @nets6 accept
    ip6 daddr @dns6 accept
    reject with icmpx type admin-prohibited
  }}
}}
",
        e4 = elements(&v4),
        e6 = elements(&v6),
    )
}

fn tools() -> Result<(PathBuf, PathBuf), RuntimeError> {
    let nft = host::which("nft").ok_or_else(|| NFT_MISSING.to_owned())?;
    let nsenter = host::which("nsenter").ok_or_else(|| {
        "egress allow-lists need nsenter: run `apt-get install -y util-linux`".to_owned()
    })?;
    Ok((nsenter, nft))
}

/// Runs `nft args…` inside the namespace at `netns`.
async fn nft(netns: &Path, args: &[&str]) -> Result<String, RuntimeError> {
    let (nsenter, nft) = tools()?;
    let net = format!("--net={}", netns.display());
    let nft = nft.to_string_lossy();
    let mut all = vec![net.as_str(), "--", nft.as_ref()];
    all.extend_from_slice(args);
    Ok(host::run(&nsenter, &all).await?)
}

/// Whether egress allow-lists can be enforced here; the error says what to install.
pub(super) fn check() -> Result<(), RuntimeError> {
    tools().map(|_| ())
}

/// Installs the rules for `allow` in the namespace at `netns` (the file is kept in `dir` for
/// whoever debugs it).
pub(super) async fn install(
    netns: &Path,
    dir: &Path,
    allow: &AllowList,
) -> Result<(), RuntimeError> {
    let file = dir.join("egress.nft");
    host::write_atomic(&file, ruleset(allow).as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    nft(netns, &["-f", &file.to_string_lossy()])
        .await
        .map(|_| ())
        .map_err(|e| e.context("cannot install the egress rules"))
}

/// Lets the sandbox reach `addrs` for `timeout` (refreshed when already allowed).
pub(super) async fn allow_resolved(
    netns: &Path,
    addrs: &[IpAddr],
    timeout: Duration,
) -> Result<(), RuntimeError> {
    let secs = timeout.as_secs().max(1);
    let mut commands = Vec::new();
    for addr in addrs {
        let set = if addr.is_ipv4() { "dns4" } else { "dns6" };
        // add, delete, add: one transaction that resets the expiry even on kernels whose
        // `add` keeps the old one, and never leaves a gap.
        commands.push(format!("add element inet {TABLE} {set} {{ {addr} }}"));
        commands.push(format!("delete element inet {TABLE} {set} {{ {addr} }}"));
        commands.push(format!("add element inet {TABLE} {set} {{ {addr} timeout {secs}s }}"));
    }
    if commands.is_empty() {
        return Ok(());
    }
    nft(netns, &[&commands.join("; ")]).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn ruleset_lists_the_ranges_per_family() {
        let entries: Vec<String> =
            ["a.example", "198.18.0.0/24", "198.18.5.1", "2001:db8::/48"].map(String::from).into();
        let rules = ruleset(&AllowList::parse(&entries).unwrap());
        assert!(rules.contains("elements = { 198.18.0.0/24, 198.18.5.1/32 };"), "{rules}");
        assert!(rules.contains("elements = { 2001:db8::/48 };"), "{rules}");
        assert!(rules.contains("policy drop;"));
        assert!(rules.contains("dnat ip to 127.0.0.53"));
        let empty = ruleset(&AllowList::default());
        assert!(!empty.contains("elements"), "{empty}");
    }
}
