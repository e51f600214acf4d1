//! `agent --usage`: the resource counters of the sandbox the agent runs in, read from inside it
//! (its cgroup as the container sees it, and its network namespace), for runtimes whose host
//! the server cannot read — a pod's node. One line of `name=value` pairs; the server parses it
//! with [`Counters::parse`] (it includes this file, so the format is defined once).

#![allow(dead_code)]

use std::fs;

/// The counters, as the server's `Usage` has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// CPU time used, microseconds.
    pub cpu_usec: u64,
    /// Memory in use, page cache included, bytes.
    pub memory_bytes: u64,
    /// Bytes received on the network interfaces, loopback excluded.
    pub rx_bytes: u64,
    /// Bytes sent on the network interfaces, loopback excluded.
    pub tx_bytes: u64,
    /// Processes the OOM killer killed.
    pub oom_kills: u64,
}

const CGROUP: &str = "/sys/fs/cgroup";

impl Counters {
    /// Reads the counters; what cannot be read counts as 0.
    pub fn read() -> Counters {
        let (rx_bytes, tx_bytes) =
            network(&fs::read_to_string("/proc/net/dev").unwrap_or_default());
        let mut counters = Counters { rx_bytes, tx_bytes, ..Counters::default() };
        if fs::metadata(format!("{CGROUP}/cgroup.controllers")).is_ok() {
            // cgroup v2: the container's own group is mounted at the root.
            counters.cpu_usec = field(&read(&format!("{CGROUP}/cpu.stat")), "usage_usec");
            counters.memory_bytes = number(&read(&format!("{CGROUP}/memory.current")));
            counters.oom_kills = field(&read(&format!("{CGROUP}/memory.events")), "oom_kill");
        } else {
            // cgroup v1: one hierarchy per controller, cpuacct sometimes joined with cpu.
            let cpu = ["cpuacct", "cpu,cpuacct", "cpuacct,cpu"]
                .iter()
                .map(|dir| read(&format!("{CGROUP}/{dir}/cpuacct.usage")))
                .find(|text| !text.is_empty())
                .unwrap_or_default();
            counters.cpu_usec = number(&cpu) / 1000;
            counters.memory_bytes =
                number(&read(&format!("{CGROUP}/memory/memory.usage_in_bytes")));
            counters.oom_kills =
                field(&read(&format!("{CGROUP}/memory/memory.oom_control")), "oom_kill");
        }
        counters
    }

    /// The line `agent --usage` prints.
    pub fn line(&self) -> String {
        format!(
            "cpu_usec={} memory_bytes={} rx_bytes={} tx_bytes={} oom_kills={}\n",
            self.cpu_usec, self.memory_bytes, self.rx_bytes, self.tx_bytes, self.oom_kills
        )
    }

    /// Parses [`Counters::line`]; `None` unless every counter is there (the text comes from
    /// inside a sandbox: anything else is refused, not guessed).
    pub fn parse(text: &str) -> Option<Counters> {
        let mut counters = Counters::default();
        let mut seen = 0u8;
        for pair in text.trim().split(' ') {
            let (name, value) = pair.split_once('=')?;
            let value: u64 = value.parse().ok()?;
            let (slot, bit) = match name {
                "cpu_usec" => (&mut counters.cpu_usec, 1),
                "memory_bytes" => (&mut counters.memory_bytes, 2),
                "rx_bytes" => (&mut counters.rx_bytes, 4),
                "tx_bytes" => (&mut counters.tx_bytes, 8),
                "oom_kills" => (&mut counters.oom_kills, 16),
                _ => return None,
            };
            *slot = value;
            seen |= bit;
        }
        (seen == 31).then_some(counters)
    }
}

fn read(path: &str) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn number(text: &str) -> u64 {
    text.trim().parse().unwrap_or(0)
}

/// The value of `name` in a file of `name value` lines (cpu.stat, memory.events, oom_control).
fn field(text: &str, name: &str) -> u64 {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(key, _)| *key == name)
        .map_or(0, |(_, value)| number(value))
}

/// Received and sent bytes of every interface but loopback, from `/proc/net/dev`.
fn network(text: &str) -> (u64, u64) {
    let mut totals = (0u64, 0u64);
    for line in text.lines().skip(2) {
        let Some((name, fields)) = line.split_once(':') else { continue };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = fields.split_whitespace().map(number).collect();
        if let (Some(rx), Some(tx)) = (fields.first(), fields.get(8)) {
            totals.0 = totals.0.saturating_add(*rx);
            totals.1 = totals.1.saturating_add(*tx);
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_round_trips_and_anything_else_is_refused() {
        let counters =
            Counters { cpu_usec: 1, memory_bytes: 2, rx_bytes: 3, tx_bytes: 4, oom_kills: 5 };
        assert_eq!(Counters::parse(&counters.line()), Some(counters));
        assert_eq!(Counters::parse("cpu_usec=1 memory_bytes=2"), None);
        assert_eq!(
            Counters::parse("cpu_usec=1 memory_bytes=2 rx_bytes=3 tx_bytes=4 oom_kills=x"),
            None
        );
        assert_eq!(Counters::parse(""), None);
    }

    #[test]
    fn network_counts_every_interface_but_loopback() {
        let dev = "Inter-|   Receive                                                |  Transmit\n \
                   face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n    \
                   lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n  \
                   eth0: 2000 10 0 0 0 0 0 0 3000 12 0 0 0 0 0 0\n";
        assert_eq!(network(dev), (2000, 3000));
        assert_eq!(field("usage_usec 42\nuser_usec 40\n", "usage_usec"), 42);
    }
}
