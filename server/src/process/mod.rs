//! Processes: commands that outlive the request that started them (the processes extension).
//!
//! Each process has a directory (under its sandbox's state, so it ends with the sandbox) and a
//! small supervisor — this binary run as [`SUPERVISOR_ARG`] `<dir>`, in its own session, outside
//! the sandbox — that runs the runtime's exec command, holds its pipes or terminal, writes the
//! output to disk ([`log`]), enforces the deadline, and records the final status. The server
//! only reads files and talks to the supervisor over its control socket ([`control`]), so a
//! process keeps running, and its output keeps being recorded, while the server restarts.
//!
//! | entry | what |
//! |---|---|
//! | `spec.json` | [`SupervisorSpec`], written by the server before the supervisor starts |
//! | `supervisor.pid` | the supervisor's pid and start time |
//! | `control.sock` | the supervisor's control socket (root only) |
//! | `console.sock` | with a terminal: where the engine hands over the terminal's master |
//! | `pid` | the process's pid on the host, written by the engine (a forwarding engine's own, once it takes signals) |
//! | `signal.sock` | a forwarding engine's socket for signals ([`SupervisorSpec::signal_engine`]) |
//! | `out-<offset>` | the output ([`log`]) |
//! | `status.json` | [`FinalStatus`], written atomically when the process has ended |

pub mod control;
pub mod log;
pub mod signals;
pub mod supervisor;
mod tree;

use std::path::{Path, PathBuf};

use porter_sandbox::types::{ProcessState, ProcessStatus, TerminalSize};
use serde::{Deserialize, Serialize};

/// The first argument that makes the binary a process supervisor.
pub const SUPERVISOR_ARG: &str = "__process-supervisor";
/// The control socket's file name.
pub const CONTROL_SOCKET: &str = "control.sock";
/// The console socket's file name (terminal processes).
pub const CONSOLE_SOCKET: &str = "console.sock";
/// The spec's file name.
pub const SPEC_FILE: &str = "spec.json";
/// The final status's file name.
pub const STATUS_FILE: &str = "status.json";
/// The supervisor's pid file name.
pub const SUPERVISOR_PID: &str = "supervisor.pid";
/// The socket of a forwarding engine where the supervisor sends signals (`i32` LE; the answer
/// is one byte, 1 once forwarded).
pub const SIGNAL_SOCKET: &str = "signal.sock";
/// The process's pid file name (written by the engine).
pub const PID_FILE: &str = "pid";
/// Output kept per process unless the server is told otherwise: 64 MiB.
pub const DEFAULT_RETENTION: u64 = 64 << 20;

/// Everything the supervisor needs, written by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisorSpec {
    /// The process's id.
    pub exec_id: String,
    /// Its sandbox.
    pub sandbox_id: String,
    /// The argv the caller asked for (reported in the status).
    pub command: Vec<String>,
    /// The command the supervisor runs (the runtime's exec, terminal flags included).
    pub engine_argv: Vec<String>,
    /// Which cgroup the process tree must be in to be signalled (a `/proc/<pid>/cgroup` line
    /// suffix), so a reused pid outside the sandbox is never hit.
    pub cgroup_suffix: String,
    /// Signals go to the engine, which forwards them (the Kubernetes runtime's bridge: the
    /// process runs on another machine) through its [`SIGNAL_SOCKET`], instead of to the tree
    /// found through the `pid` file and [`SupervisorSpec::cgroup_suffix`]; an engine that does
    /// not end after a forwarded `SIGKILL` is killed itself.
    #[serde(default)]
    pub signal_engine: bool,
    /// Keep standard input open for writes.
    pub stdin: bool,
    /// Run in a terminal of this size.
    pub pty: Option<TerminalSize>,
    /// Deadline in seconds.
    pub timeout_seconds: Option<f64>,
    /// Output bytes kept.
    pub retention: u64,
    /// Start time (RFC 3339).
    pub started_at: String,
}

/// What the supervisor records once the process has ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalStatus {
    /// `exited`, `killed` or `timed_out`.
    pub state: ProcessState,
    /// Exit status (128 + signal when a signal ended it; 124 at the deadline); none when the
    /// engine's status is unknown.
    pub exit_code: Option<i64>,
    /// The signal that ended it.
    pub signal: Option<String>,
    /// End time (RFC 3339).
    pub ended_at: String,
    /// Bytes of standard output (or terminal).
    pub stdout_bytes: u64,
    /// Bytes of standard error.
    pub stderr_bytes: u64,
    /// Offset of the oldest byte kept.
    pub output_start: u64,
}

/// Reads the spec of the process in `dir`.
pub fn read_spec(dir: &Path) -> Option<SupervisorSpec> {
    serde_json::from_slice(&std::fs::read(dir.join(SPEC_FILE)).ok()?).ok()
}

/// Reads the final status of the process in `dir`, once written.
pub fn read_final(dir: &Path) -> Option<FinalStatus> {
    serde_json::from_slice(&std::fs::read(dir.join(STATUS_FILE)).ok()?).ok()
}

/// Whether the supervisor of `dir` still runs.
#[must_use]
pub fn supervisor_alive(dir: &Path) -> bool {
    let Some((pid, start)) = crate::runtime::oci::host::read_pid_file(&dir.join(SUPERVISOR_PID))
    else {
        return false;
    };
    crate::runtime::oci::host::alive(pid, start)
}

/// The status of the process in `dir`: final from disk, live from its supervisor, or — when the
/// supervisor died without a record (the host rebooted, it was killed) — `killed` with no exit
/// code.
pub async fn status(dir: &Path) -> Option<ProcessStatus> {
    let spec = read_spec(dir)?;
    if let Some(done) = read_final(dir) {
        return Some(finished(spec, done));
    }
    match control::call(dir, control::Op::Status, &[]).await {
        Ok(answer) => {
            let live: control::Live = serde_json::from_slice(&answer).unwrap_or_default();
            Some(ProcessStatus {
                exec_id: spec.exec_id,
                sandbox_id: spec.sandbox_id,
                command: spec.command,
                state: ProcessState::Running,
                exit_code: None,
                signal: None,
                timed_out: false,
                pty: spec.pty.is_some(),
                stdin_open: live.stdin_open,
                started_at: spec.started_at,
                ended_at: None,
                stdout_bytes: live.stdout_bytes,
                stderr_bytes: live.stderr_bytes,
                output_start: live.output_start,
                output_end: live.stdout_bytes + live.stderr_bytes,
            })
        }
        Err(_) => {
            // It may have ended between the two reads.
            if let Some(done) = read_final(dir) {
                return Some(finished(spec, done));
            }
            if supervisor_alive(dir) {
                // Starting up: its socket is not bound yet.
                return Some(finished_or_starting(spec));
            }
            let end: u64 = lost_output_end(dir);
            let start = log::segments(dir).first().map_or(0, |(s, _)| *s);
            Some(ProcessStatus {
                exec_id: spec.exec_id,
                sandbox_id: spec.sandbox_id,
                command: spec.command,
                state: ProcessState::Killed,
                exit_code: None,
                signal: None,
                timed_out: false,
                pty: spec.pty.is_some(),
                stdin_open: false,
                started_at: spec.started_at,
                ended_at: None,
                stdout_bytes: end,
                stderr_bytes: 0,
                output_start: start,
                output_end: end,
            })
        }
    }
}

fn finished_or_starting(spec: SupervisorSpec) -> ProcessStatus {
    ProcessStatus {
        exec_id: spec.exec_id,
        sandbox_id: spec.sandbox_id,
        command: spec.command,
        state: ProcessState::Running,
        exit_code: None,
        signal: None,
        timed_out: false,
        pty: spec.pty.is_some(),
        stdin_open: spec.stdin,
        started_at: spec.started_at,
        ended_at: None,
        stdout_bytes: 0,
        stderr_bytes: 0,
        output_start: 0,
        output_end: 0,
    }
}

/// The end of the output a dead supervisor left (every frame read once).
fn lost_output_end(dir: &Path) -> u64 {
    let mut reader = log::Reader::new(dir, 0);
    while reader.read(16 << 20).is_ok_and(|chunks| !chunks.is_empty()) {}
    reader.offset()
}

fn finished(spec: SupervisorSpec, done: FinalStatus) -> ProcessStatus {
    ProcessStatus {
        exec_id: spec.exec_id,
        sandbox_id: spec.sandbox_id,
        command: spec.command,
        timed_out: done.state == ProcessState::TimedOut,
        state: done.state,
        exit_code: done.exit_code,
        signal: done.signal,
        pty: spec.pty.is_some(),
        stdin_open: false,
        started_at: spec.started_at,
        ended_at: Some(done.ended_at),
        stdout_bytes: done.stdout_bytes,
        stderr_bytes: done.stderr_bytes,
        output_start: done.output_start,
        output_end: done.stdout_bytes + done.stderr_bytes,
    }
}

/// The directories of the processes under `root` (a sandbox's `processes/`), newest first.
#[must_use]
pub fn dirs(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join(SPEC_FILE).is_file())
                .map(|e| {
                    let at = std::fs::metadata(e.path().join(SPEC_FILE))
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH);
                    (at, e.path())
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    found.into_iter().map(|(_, p)| p).collect()
}
