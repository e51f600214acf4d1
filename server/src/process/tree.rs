//! Signalling a process's whole tree: every process of its session (the engine starts each
//! exec in a new session) that is in its sandbox's cgroup, so a reused pid outside the sandbox
//! is never hit. A process that left the session on purpose (`setsid`) is not part of the tree;
//! it ends with the sandbox.

use std::{path::Path, time::Duration};

use rustix::process::{Pid, Signal, kill_process};

use crate::runtime::oci::{exec::in_cgroup, host};

/// The process's pid, as the engine wrote it to `pid_file`, waiting up to 5 s for it: a
/// signal sent right after the start must reach the process, not be dropped because the engine
/// had not written its pid yet.
pub fn leader(pid_file: &Path) -> Option<u32> {
    for _ in 0..1000 {
        let pid = std::fs::read_to_string(pid_file).ok().and_then(|t| t.trim().parse::<u32>().ok());
        if pid.is_some() {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// The live members of `leader`'s session inside the cgroup whose lines end with `suffix`.
fn members(leader: u32, suffix: &str) -> Vec<u32> {
    // The leader's pid is the session id, even once it has exited and only its children remain.
    let session = host::proc_stat(leader).map_or(leader, |s| s.session);
    host::all_pids()
        .into_iter()
        .filter(|&p| {
            host::proc_stat(p).is_some_and(|s| s.session == session && s.state != 'Z')
                && in_cgroup(p, suffix)
        })
        .collect()
}

/// Sends `signal` to every member of the tree once; the number of processes signalled.
pub fn signal(leader: u32, suffix: &str, signal: i32) -> usize {
    let Some(signal) = Signal::from_named_raw(signal) else { return 0 };
    let victims = members(leader, suffix);
    for pid in &victims {
        if let Some(pid) = i32::try_from(*pid).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, signal);
        }
    }
    victims.len()
}

/// Kills the tree with `SIGKILL` until no member is left (processes forking while they are
/// killed are caught by the next round).
pub fn kill(leader: u32, suffix: &str) {
    for _ in 0..40 {
        if signal(leader, suffix, 9) == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
