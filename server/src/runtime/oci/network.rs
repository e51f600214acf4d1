//! Networking (`NetworkMode::Nat`): a named network namespace served by slirp4netns, plus
//! the egress rules (`firewall.rs`, `dns.rs`) and the forwarded port (`ports.rs`).
//!
//! The namespace is created first (`ip netns add sbx-<id>`), its egress rules go in while it
//! has nothing but loopback, and slirp4netns attaches to it, so everything is in place before
//! the workload starts, and teardown is by name. slirp4netns runs in its own session (it
//! outlives a server restart, like the sandbox) and in a private mount namespace: its
//! `--enable-sandbox` pivots and unmounts, and iproute2 makes `/run/netns` a shared mount, so
//! in the host namespace it would unmount every other sandbox's netns.
//! `--disable-host-loopback` keeps the host's 127.0.0.1 unreachable (10.0.2.2 is refused).

use crate::runtime::RuntimeError;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::{dns, firewall, host, ports};
use crate::runtime::{Nat, egress::AllowList};

/// How long slirp4netns may take to configure the namespace.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The Debian package and hint named when slirp4netns is missing.
pub(super) const SLIRP_MISSING: &str = "outbound networking needs slirp4netns, which is not \
     installed: run `apt-get install -y slirp4netns` (or create the sandbox with egress disabled)";

/// The netns name of a sandbox. Names are files under `/run/netns`: any length a file name
/// can have is fine (unlike interface names, which stop at 15 bytes).
pub(super) fn netns_name(id: &str) -> String {
    format!("sbx-{id}")
}

/// The bind-mounted namespace file iproute2 creates for `id`.
pub(super) fn netns_path(id: &str) -> PathBuf {
    Path::new("/run/netns").join(netns_name(id))
}

/// A running network of one sandbox.
#[derive(Debug)]
pub(super) struct Network {
    /// The netns name (`sbx-<id>`).
    pub netns: String,
    /// The slirp4netns process.
    pub slirp_pid: u32,
    /// The allow-list in force (`None`: unrestricted).
    pub egress: Option<AllowList>,
    /// The exposed port and where the host reaches it.
    pub forward: Option<(u16, std::net::SocketAddr)>,
    /// The DNS filter enforcing the allow-list's names (it runs in this process).
    pub dns: Option<dns::Filter>,
}

impl Network {
    /// The `network` member of the stored state.
    pub(super) fn to_json(&self) -> Value {
        json!({
            "netns": self.netns,
            "slirp_pid": self.slirp_pid,
            "egress": self.egress.as_ref().map(AllowList::entries),
            "port": self.forward.map(|(port, host)| json!({ "guest": port, "host": host })),
        })
    }
}

/// Script that starts slirp4netns with its ready notification on fd 3 = our pipe, and its own
/// output in the log file. Paths arrive as positional parameters; the API socket (`$5`, when
/// wanted) is relative to the sandbox directory (`$4`): absolute paths can be too long.
const SLIRP_SCRIPT: &str = r#"exec 3>&1 >>"$1" 2>&1
cd "$4" || exit 1
exec "$2" --configure --mtu=65520 --disable-host-loopback --enable-sandbox --enable-seccomp \
  ${5:+--api-socket "$5"} --ready-fd=3 --netns-type=path "$3" tap0"#;

/// Per-namespace sysctls of a sandbox network: any port can be bound and ICMP echo sockets made
/// without a capability (the group range covers every id of the sandboxes' range).
const NETNS_SYSCTLS: [(&str, &str); 2] = [
    ("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"),
    ("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"),
];

/// Sets [`NETNS_SYSCTLS`] in the namespace at `netns`, from a thread of this process that joins
/// the namespace and then ends: `/proc/sys/net` shows the network namespace of the thread that
/// opens it. No program runs (`ip netns exec … sh -c` took three).
async fn set_sysctls(netns: &Path) -> Result<(), RuntimeError> {
    let file = std::fs::File::open(netns)
        .map_err(|e| format!("cannot open the network namespace {}: {e}", netns.display()))?;
    let (done, result) = tokio::sync::oneshot::channel();
    // A thread of its own: `setns` moves only the calling thread, which must never serve
    // anything else afterwards (a pooled worker thread would stay in the sandbox's namespace).
    std::thread::Builder::new()
        .name("netns-sysctls".to_owned())
        .spawn(move || {
            let outcome = rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| format!("cannot join the sandbox's network namespace: {e}"))
            .and_then(|()| {
                NETNS_SYSCTLS.iter().try_for_each(|(path, value)| {
                    std::fs::write(path, value).map_err(|e| format!("cannot set {path}: {e}"))
                })
            });
            let _ = done.send(outcome);
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    match result.await {
        Ok(outcome) => outcome.map_err(RuntimeError::other),
        Err(_) => Err(RuntimeError::other("the netns sysctl thread vanished")),
    }
}

/// The first half of a sandbox's network: creates `sbx-<id>` with its sysctls and egress rules. The
/// namespace then exists (a container can be set up to join it) but has no way out yet.
pub(super) async fn create(id: &str, dir: &Path, nat: &Nat) -> Result<(), RuntimeError> {
    if host::which("slirp4netns").is_none() {
        return Err(SLIRP_MISSING.into());
    }
    let ip = ip_path()?;
    if nat.egress.is_some() {
        firewall::check()?;
    }
    let name = netns_name(id);
    let path = netns_path(id);
    if path.exists() {
        // Left over from an earlier attempt with the same id.
        let _ = host::run(&ip, &["netns", "del", &name]).await;
    }
    host::run(&ip, &["netns", "add", &name]).await?;
    // The namespace belongs to the host's user namespace, where the sandbox has no
    // capabilities: what crun would set from inside is set here.
    set_sysctls(&path).await?;
    if let Some(allow) = &nat.egress {
        firewall::install(&path, dir, allow).await?;
    }
    Ok(())
}

/// `ip`, or the error naming the package.
fn ip_path() -> Result<PathBuf, RuntimeError> {
    host::which("ip").ok_or_else(|| {
        "outbound networking needs `ip`, which is not installed: run `apt-get install -y iproute2`"
            .into()
    })
}

/// The second half of a sandbox's network, after [`create`]: attaches slirp4netns to the namespace,
/// forwards the port and starts the DNS filter; resolves once all of it works. On failure,
/// [`down`] cleans up.
pub(super) async fn attach(id: &str, dir: &Path, nat: &Nat) -> Result<Network, RuntimeError> {
    let slirp = host::which("slirp4netns").ok_or_else(|| SLIRP_MISSING.to_owned())?;
    let ip = ip_path()?;
    let (setsid, unshare) = super::check::util_linux()?;
    let name = netns_name(id);
    let path = netns_path(id);

    let log = dir.join("slirp.log");
    let mut child = tokio::process::Command::new(setsid)
        .arg(unshare)
        .args(["-m", "--propagation", "private", host::SH, "-c", SLIRP_SCRIPT, "sh"])
        .arg(&log)
        .arg(&slirp)
        .arg(&path)
        .arg(dir)
        .arg(if nat.port.is_some() { ports::API_SOCKET } else { "" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start slirp4netns: {e}"))?;
    let pid = child.id().unwrap_or(0);
    let ready = match child.stdout.take() {
        Some(mut pipe) => {
            let mut byte = [0u8; 1];
            tokio::time::timeout(READY_TIMEOUT, pipe.read(&mut byte))
                .await
                .is_ok_and(|r| matches!(r, Ok(1)) && byte[0] == b'1')
        }
        None => false,
    };
    // Reap it whenever it ends (while this process lives; afterwards init does).
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    if !ready {
        host::kill(&[pid]).await;
        let _ = host::run(&ip, &["netns", "del", &name]).await;
        return Err(RuntimeError::other(format!(
            "slirp4netns did not come up: {}",
            host::tail_of(&log, 2000)
        )));
    }
    host::write_pid_file(&dir.join("slirp.pid"), pid)
        .map_err(|e| format!("cannot record the slirp4netns pid: {e}"))?;
    let forward = match nat.port {
        Some(port) => Some((port, ports::forward(dir, port).await?)),
        None => None,
    };
    let dns = match &nat.egress {
        Some(allow) => Some(dns::start(&path, allow.clone()).await?),
        None => None,
    };
    Ok(Network { netns: name, slirp_pid: pid, egress: nat.egress.clone(), forward, dns })
}

/// After a server restart: starts the DNS filter of a running sandbox again, from the
/// `network` member of its stored state (`None` when it needs none).
pub(super) async fn resume(id: &str, state: &Value) -> Result<Option<dns::Filter>, RuntimeError> {
    let Some(entries) = state["egress"].as_array() else { return Ok(None) };
    let entries: Vec<String> =
        entries.iter().filter_map(|e| e.as_str().map(str::to_owned)).collect();
    let allow = AllowList::parse(&entries)?;
    dns::start(&netns_path(id), allow).await.map(Some)
}

/// Whether `pid` is the slirp4netns serving the namespace at `netns` (pids get reused).
/// Namespace paths have no spaces: sandbox ids are DNS labels.
fn serves(pid: u32, netns: &Path) -> bool {
    let cmdline = host::cmdline(pid);
    let mut args = cmdline.split(' ');
    let netns = netns.to_string_lossy();
    args.next().is_some_and(|p| p.ends_with("slirp4netns")) && args.any(|a| a == netns)
}

/// Stops slirp4netns and deletes the namespace (idempotent; works after a server restart, and
/// finds slirp4netns by its namespace when the pid file is gone with the sandbox directory).
pub(super) async fn down(id: &str, dir: &Path) {
    let path = netns_path(id);
    let recorded = host::read_pid_file(&dir.join("slirp.pid"));
    let slirps: Vec<(u32, Option<u64>)> = match recorded {
        Some((pid, start)) => {
            if serves(pid, &path) {
                vec![(pid, start)]
            } else {
                Vec::new()
            }
        }
        // No record: a sandbox without network, unless its namespace is still there or its
        // directory was removed by someone else (then look for the process itself).
        None if path.exists() || !dir.exists() => {
            host::all_pids().into_iter().filter(|p| serves(*p, &path)).map(|p| (p, None)).collect()
        }
        None => Vec::new(),
    };
    for (pid, start) in slirps {
        if host::alive(pid, start) {
            host::kill(&[pid]).await;
            host::wait_dead(pid, start).await;
        }
    }
    if path.exists() {
        if let Some(ip) = host::which("ip") {
            let name = netns_name(id);
            if let Err(err) = host::run(&ip, &["netns", "del", &name]).await {
                tracing::warn!("cannot delete netns {name}: {err}");
            }
        }
    }
}
