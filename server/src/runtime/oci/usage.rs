//! Resource counters of a running sandbox: CPU time, memory and OOM kills from its cgroup
//! (v1 controllers, or the unified v2 tree), network bytes from its network namespace as seen
//! through `/proc/<init pid>/net/dev`.

use std::path::{Path, PathBuf};

use super::{CGROUP_PARENT, Layout};
use crate::runtime::Usage;

/// Where cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Reads the counters of the sandbox in `layout`; `None` once its cgroup is gone.
pub(super) fn read(layout: &Layout) -> Option<Usage> {
    let root = Path::new(CGROUP_ROOT);
    let leaf = Path::new(CGROUP_PARENT).join(&layout.id);
    let mut usage = if root.join("cgroup.controllers").exists() {
        read_v2(&root.join(&leaf))?
    } else {
        read_v1(root, &leaf)?
    };
    if let Some((rx, tx)) = container_pid(layout).and_then(network_bytes) {
        usage.rx_bytes = rx;
        usage.tx_bytes = tx;
    }
    Some(usage)
}

/// cgroup v2: `cpu.stat` (`usage_usec`), `memory.current`, `memory.events` (`oom_kill`).
fn read_v2(dir: &Path) -> Option<Usage> {
    let cpu_stat = std::fs::read_to_string(dir.join("cpu.stat")).ok()?;
    Some(Usage {
        cpu_usec: keyed(&cpu_stat, "usage_usec").unwrap_or(0),
        memory_bytes: number(&dir.join("memory.current")).unwrap_or(0),
        oom_kills: std::fs::read_to_string(dir.join("memory.events"))
            .ok()
            .and_then(|t| keyed(&t, "oom_kill"))
            .unwrap_or(0),
        ..Usage::default()
    })
}

/// cgroup v1: `cpuacct.usage` (nanoseconds; the controller may share a mount with `cpu`),
/// `memory.usage_in_bytes`, `memory.oom_control` (`oom_kill`).
fn read_v1(root: &Path, leaf: &Path) -> Option<Usage> {
    let cpuacct = ["cpuacct", "cpu,cpuacct"]
        .iter()
        .map(|mount| root.join(mount).join(leaf).join("cpuacct.usage"))
        .find_map(|file| number(&file));
    let memory = root.join("memory").join(leaf);
    let memory_bytes = number(&memory.join("memory.usage_in_bytes"));
    if cpuacct.is_none() && memory_bytes.is_none() {
        return None;
    }
    Some(Usage {
        cpu_usec: cpuacct.unwrap_or(0) / 1000,
        memory_bytes: memory_bytes.unwrap_or(0),
        oom_kills: std::fs::read_to_string(memory.join("memory.oom_control"))
            .ok()
            .and_then(|t| keyed(&t, "oom_kill"))
            .unwrap_or(0),
        ..Usage::default()
    })
}

fn container_pid(layout: &Layout) -> Option<u32> {
    std::fs::read_to_string(layout.container_pid()).ok()?.trim().parse().ok()
}

/// Received and sent bytes of every interface but `lo` in the network namespace of `pid`.
fn network_bytes(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(PathBuf::from(format!("/proc/{pid}/net/dev"))).ok()?;
    Some(parse_net_dev(&text))
}

/// Sums `/proc/net/dev` (two header lines, then `iface: rx_bytes … (8 rx fields) tx_bytes …`).
fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut totals = (0u64, 0u64);
    for line in text.lines().skip(2) {
        let Some((iface, counters)) = line.split_once(':') else { continue };
        if iface.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> =
            counters.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
        if fields.len() >= 9 {
            totals.0 = totals.0.saturating_add(fields[0]);
            totals.1 = totals.1.saturating_add(fields[8]);
        }
    }
    totals
}

/// The number in a one-value cgroup file.
fn number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a `key value` per line file.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key { v.trim().parse().ok() } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_dev_sums_all_but_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  tap0:    5000      40    0    0    0     0          0         0     3000      30    0    0    0     0       0          0
  eth1:     100       1    0    0    0     0          0         0       50       1    0    0    0     0       0          0
";
        assert_eq!(parse_net_dev(text), (5100, 3050));
    }

    #[test]
    fn keyed_files() {
        let text = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed(text, "oom_kill"), Some(3));
        assert_eq!(keyed(text, "missing"), None);
        assert_eq!(keyed("usage_usec 1234\nuser_usec 1000\n", "usage_usec"), Some(1234));
    }
}
