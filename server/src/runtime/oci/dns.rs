//! The DNS filter of a sandbox with an egress allow-list: UDP and TCP on
//! [`firewall::DNS_ADDR`]`:53` inside the sandbox's network namespace (every DNS query the
//! workload sends lands here, see `firewall.rs`). The sockets are created by a short-lived
//! thread that joins the namespace, so the filter runs in the server, not in the sandbox.
//!
//! An A or AAAA query for an allowed name (see [`AllowList::allows_name`]) is resolved on the
//! host and its addresses are added to the sandbox's allowed set *before* the answer goes out,
//! for twice the answer's TTL. Any other name gets NXDOMAIN; any other record type (TXT, MX,
//! ANY…) gets REFUSED without reaching the host's resolver. Addresses that no public name
//! should give a sandbox — private, shared (CGNAT), loopback, link-local, multicast, reserved,
//! and the host's own — are left out of answers and never opened, unless an IP or CIDR entry
//! of the allow-list covers them; a name left without addresses gets NXDOMAIN. Each sandbox
//! may send [`policy::QUERY_RATE`] queries a second (bursts of [`policy::QUERY_BURST`]); more
//! get REFUSED, which bounds what a wildcard entry can carry out in query names. The host
//! resolves with `getaddrinfo` (its `/etc/hosts`, then DNS), after the file named by
//! [`ENV_EGRESS_HOSTS`] when that is set.
//!
//! The filter lives as long as the server process: a restarted server starts it again for the
//! sandboxes it re-adopts (`OciRuntime::adopt`); while no server runs, names do not resolve.

use crate::runtime::RuntimeError;
use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    os::fd::AsFd,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    sync::Semaphore,
    task::JoinHandle,
};

use super::{dns_wire as wire, firewall};
use crate::runtime::egress::AllowList;

mod policy;

/// Environment variable naming a hosts-format file (`IP name…` per line) that the DNS filter
/// consults before the host's resolver. Read at every lookup, so it may change at any time;
/// meant for tests and for pinning names the host cannot resolve.
pub const ENV_EGRESS_HOSTS: &str = "PORTER_SANDBOX_EGRESS_HOSTS";

/// TTL of the answers the filter gives.
const ANSWER_TTL: u32 = 300;
/// How long an address stays allowed after an answer handed it out (2 × TTL: a client that
/// caches for the full TTL still connects).
const ALLOW_FOR: Duration = Duration::from_secs(2 * ANSWER_TTL as u64);
/// An address allowed less than this long ago is not refreshed again (saves an `nft` run).
const REFRESH_AFTER: Duration = Duration::from_secs(60);
/// Queries resolved at once per sandbox (more are dropped; clients retry).
const MAX_IN_FLIGHT: usize = 64;
/// How long the host's resolver may take for one name (clients retry after about 5 s).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(4);
/// How long a TCP client may take to send one query (its length and its bytes), also while
/// idle between queries: an idle or trickling client cannot hold a connection slot longer.
const TCP_READ: Duration = Duration::from_secs(5);
/// TCP connections served at once per sandbox (more wait in the listen queue); separate from
/// [`MAX_IN_FLIGHT`] so that TCP clients cannot starve UDP queries.
const MAX_TCP_CLIENTS: usize = 16;

/// The running filter of one sandbox; dropping it stops it.
#[derive(Debug)]
pub(super) struct Filter {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Filter {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What the filter needs for every query.
#[derive(Debug)]
struct Resolver {
    allow: AllowList,
    netns: PathBuf,
    /// When each address was last allowed.
    allowed: Mutex<HashMap<IpAddr, Instant>>,
    slots: Arc<Semaphore>,
    tcp_clients: Arc<Semaphore>,
    rate: policy::RateLimit,
    host_addrs: policy::HostAddrs,
}

/// Binds the filter's sockets inside the namespace at `netns` and starts serving.
pub(super) async fn start(netns: &Path, allow: AllowList) -> Result<Filter, RuntimeError> {
    let path = netns.to_path_buf();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    // setns changes the calling thread only: a thread of its own, gone right after.
    std::thread::spawn(move || {
        let _ = sender.send(bind_in(&path));
    });
    let (udp, tcp) = receiver.await.map_err(|_| "the DNS filter thread died".to_owned())??;
    let udp = UdpSocket::from_std(udp).map_err(|e| format!("DNS filter socket: {e}"))?;
    let tcp = TcpListener::from_std(tcp).map_err(|e| format!("DNS filter socket: {e}"))?;
    let resolver = Arc::new(Resolver {
        allow,
        netns: netns.to_path_buf(),
        allowed: Mutex::new(HashMap::new()),
        slots: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        tcp_clients: Arc::new(Semaphore::new(MAX_TCP_CLIENTS)),
        rate: policy::RateLimit::new(policy::QUERY_RATE, policy::QUERY_BURST),
        host_addrs: policy::HostAddrs::default(),
    });
    let tasks = vec![
        tokio::spawn(serve_udp(udp, resolver.clone())),
        tokio::spawn(serve_tcp(tcp, resolver)),
    ];
    Ok(Filter { tasks })
}

/// Joins the namespace (this thread only) and binds UDP and TCP on the filter's address.
fn bind_in(netns: &Path) -> Result<(std::net::UdpSocket, std::net::TcpListener), RuntimeError> {
    let file = std::fs::File::open(netns)
        .map_err(|e| format!("cannot open the network namespace {}: {e}", netns.display()))?;
    rustix::thread::move_into_link_name_space(
        file.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| format!("cannot enter the network namespace {}: {e}", netns.display()))?;
    let addr = SocketAddr::from((firewall::DNS_ADDR, 53));
    let bind_error = |e: std::io::Error| format!("cannot bind the DNS filter on {addr}: {e}");
    let udp = std::net::UdpSocket::bind(addr).map_err(bind_error)?;
    let tcp = std::net::TcpListener::bind(addr).map_err(bind_error)?;
    udp.set_nonblocking(true).map_err(bind_error)?;
    tcp.set_nonblocking(true).map_err(bind_error)?;
    Ok((udp, tcp))
}

async fn serve_udp(socket: UdpSocket, resolver: Arc<Resolver>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 4096];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(err) => {
                tracing::debug!("DNS filter: {err}");
                continue;
            }
        };
        let Ok(permit) = resolver.slots.clone().try_acquire_owned() else { continue };
        let query = buf[..len].to_vec();
        let (socket, resolver) = (socket.clone(), resolver.clone());
        tokio::spawn(async move {
            if let Some(reply) = resolver.answer(&query, wire::UDP_LIMIT).await {
                let _ = socket.send_to(&reply, peer).await;
            }
            drop(permit);
        });
    }
}

async fn serve_tcp(listener: TcpListener, resolver: Arc<Resolver>) {
    loop {
        // Waiting for a slot before accepting leaves further clients in the listen queue.
        let Ok(permit) = resolver.tcp_clients.clone().acquire_owned().await else { return };
        let Ok((stream, _)) = listener.accept().await else { continue };
        let resolver = resolver.clone();
        tokio::spawn(async move {
            let _ = serve_tcp_client(stream, &resolver).await;
            drop(permit);
        });
    }
}

/// Queries over TCP are prefixed with their length (RFC 1035 §4.2.2).
async fn serve_tcp_client(mut stream: TcpStream, resolver: &Resolver) -> std::io::Result<()> {
    loop {
        let read = async {
            let len = stream.read_u16().await?;
            let mut query = vec![0u8; usize::from(len)];
            stream.read_exact(&mut query).await.map(|_| query)
        };
        let Ok(query) = tokio::time::timeout(TCP_READ, read).await else { return Ok(()) };
        let query = query?;
        let Some(reply) = resolver.answer(&query, usize::from(u16::MAX)).await else {
            return Ok(());
        };
        let len = u16::try_from(reply.len()).unwrap_or(u16::MAX);
        stream.write_u16(len).await?;
        stream.write_all(&reply).await?;
    }
}

impl Resolver {
    /// The reply to one query (`None`: not even a header to answer to).
    async fn answer(&self, query: &[u8], limit: usize) -> Option<Vec<u8>> {
        let question = match wire::parse(query) {
            Ok(question) => question,
            Err(Some(header)) => return Some(wire::reply(query, &header, wire::FORMERR, &[], 0)),
            Err(None) => return None,
        };
        let header = &question.header;
        if !self.rate.take(Instant::now()) {
            tracing::debug!("DNS filter: {} refused: over the query rate", question.name);
            return Some(wire::reply(query, header, wire::REFUSED, &[], 0));
        }
        if header.opcode != 0 {
            return Some(wire::reply(query, header, wire::NOTIMP, &[], 0));
        }
        if !self.allow.allows_name(&question.name) {
            tracing::debug!("DNS filter: {} denied", question.name);
            return Some(wire::reply(query, header, wire::NXDOMAIN, &[], 0));
        }
        if !policy::resolvable(question.qtype) {
            tracing::debug!("DNS filter: {} type {} refused", question.name, question.qtype);
            return Some(wire::reply(query, header, wire::REFUSED, &[], 0));
        }
        let addrs = match resolve(&question.name).await {
            Ok(addrs) if addrs.is_empty() => {
                return Some(wire::reply(query, header, wire::NXDOMAIN, &[], 0));
            }
            Ok(addrs) => addrs,
            Err(err) => {
                tracing::debug!("DNS filter: {}: {err}", question.name);
                return Some(wire::reply(query, header, wire::SERVFAIL, &[], 0));
            }
        };
        let addrs = self.usable(&question.name, addrs);
        if addrs.is_empty() {
            return Some(wire::reply(query, header, wire::NXDOMAIN, &[], 0));
        }
        let wanted: Vec<IpAddr> = addrs
            .into_iter()
            .filter(|a| match question.qtype {
                wire::TYPE_A => a.is_ipv4(),
                wire::TYPE_AAAA => a.is_ipv6(),
                _ => false,
            })
            .take(wire::max_answers(limit, question.qtype))
            .collect();
        if let Err(err) = self.allow_addresses(&wanted).await {
            tracing::warn!("DNS filter: cannot allow {wanted:?}: {err}");
            return Some(wire::reply(query, header, wire::SERVFAIL, &[], 0));
        }
        Some(wire::reply(query, header, wire::NOERROR, &wanted, ANSWER_TTL))
    }

    /// The addresses of `name` that may be handed out: public ones, and special ones (see
    /// [`policy::special`], and the host's own) only when an IP or CIDR entry covers them.
    fn usable(&self, name: &str, addrs: Vec<IpAddr>) -> Vec<IpAddr> {
        addrs
            .into_iter()
            .filter(|&ip| {
                if self.allow.allows_ip(ip) {
                    return true;
                }
                let why = policy::special(ip)
                    .or_else(|| self.host_addrs.contains(ip).then_some("the host's own"));
                if let Some(why) = why {
                    // Debug, like denied names: a sandbox could otherwise flood the log.
                    tracing::debug!("DNS filter: {name} → {ip} left out: a {why} address");
                }
                why.is_none()
            })
            .collect()
    }

    /// Adds the addresses not allowed (or refreshed) recently to the sandbox's allowed set.
    async fn allow_addresses(&self, addrs: &[IpAddr]) -> Result<(), RuntimeError> {
        let now = Instant::now();
        let stale: Vec<IpAddr> = {
            let allowed = self.allowed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            addrs
                .iter()
                .copied()
                .filter(|a| allowed.get(a).is_none_or(|at| now.duration_since(*at) > REFRESH_AFTER))
                .collect()
        };
        if stale.is_empty() {
            return Ok(());
        }
        firewall::allow_resolved(&self.netns, &stale, ALLOW_FOR).await?;
        let mut allowed = self.allowed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        allowed.retain(|_, at| now.duration_since(*at) < ALLOW_FOR);
        for addr in stale {
            allowed.insert(addr, now);
        }
        Ok(())
    }
}

/// The addresses of `name`: from the [`ENV_EGRESS_HOSTS`] file when it lists the name, else
/// from the host's resolver.
async fn resolve(name: &str) -> Result<Vec<IpAddr>, RuntimeError> {
    if let Some(path) = std::env::var_os(ENV_EGRESS_HOSTS).filter(|p| !p.is_empty()) {
        let text = tokio::fs::read_to_string(&path).await.unwrap_or_default();
        let pinned = hosts_lookup(&text, name);
        if !pinned.is_empty() {
            return Ok(pinned);
        }
    }
    let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, 0)));
    let lookup =
        lookup.await.map_err(|_| format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs()))?;
    let mut addrs: Vec<IpAddr> = match lookup {
        Ok(found) => found.map(|a| a.ip()).collect(),
        // getaddrinfo's EAI_NONAME / EAI_NODATA, which std only reports as text: the name
        // has no address (NXDOMAIN), as opposed to a resolver that failed (SERVFAIL).
        Err(err)
            if ["not known", "No address associated"]
                .iter()
                .any(|m| err.to_string().contains(m)) =>
        {
            Vec::new()
        }
        Err(err) => return Err(RuntimeError::other(err.to_string())),
    };
    // One entry per socket type: keep the first of each address, in the resolver's order.
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(*a));
    Ok(addrs)
}

/// The addresses a hosts-format text gives `name` (case-insensitive; `#` starts a comment).
fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else { continue };
        if fields.any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(name))
            && !found.contains(&ip)
        {
            found.push(ip);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_files_are_read_like_etc_hosts() {
        let text = "# test hosts\n198.18.1.2 Alpha.test alias.test\n\n198.18.1.3 alpha.test # two\n\
                    bogus line\n2001:db8::5 six.test\n";
        let ips = |n: &str| -> Vec<String> {
            hosts_lookup(text, n).iter().map(ToString::to_string).collect()
        };
        assert_eq!(ips("alpha.test"), ["198.18.1.2", "198.18.1.3"]);
        assert_eq!(ips("ALIAS.test"), ["198.18.1.2"]);
        assert_eq!(ips("six.test"), ["2001:db8::5"]);
        assert!(ips("line").is_empty());
        assert!(ips("test").is_empty());
    }
}
