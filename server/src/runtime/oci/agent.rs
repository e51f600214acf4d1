//! The exec agent of each sandbox: commands start by a fork inside the sandbox instead of one
//! `crun exec` each (an engine process joining every namespace and cgroup: ~10 ms).
//!
//! The agent (`server/agent/main.rs`, built static by `build.rs` and embedded here) is written
//! once to [`install_dir`] and bind-mounted read-only at [`AGENT_PATH`] into every new sandbox.
//! The first time a sandbox needs it (right after its start, or at its first exec after a
//! server restart), it is started with one `crun exec --detach` under the same process spec as
//! any exec (the sandbox's user, limits, seccomp filter, no capabilities), with a socket pair
//! as its standard input and output: only the server holds the other end. If the agent is
//! missing (a sandbox started by an older server), cannot start, or dies (a workload may kill
//! it), commands fall back to `crun exec`, and the next command starts a new agent.
//!
//! Everything the agent says is untrusted: frames are bounded, output is capped as for any
//! exec, and a protocol error ends the agent.

use crate::runtime::RuntimeError;
#[path = "../../../agent/protocol.rs"]
mod protocol;

use std::{
    collections::HashMap,
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use protocol::{Frame, Request};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::unix::{OwnedReadHalf, OwnedWriteHalf},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};

use super::{Layout, exec::Captured, shim};
use crate::runtime::{ExecOutput, ExecSpec, TIMEOUT_EXIT_CODE};

/// Where the agent is mounted inside every sandbox.
pub(super) const AGENT_PATH: &str = "/dev/porter-sandbox-agent";

/// The agent's first argument when it runs as the gate of a terminal process: it waits until
/// the terminal has a size, then executes the command that follows `--`.
pub(super) const PTY_GATE: &str = "--pty-gate";

/// Whether the sandbox has the agent (sandboxes started by older servers do not).
pub(super) fn present(layout: &Layout) -> bool {
    layout.dir.join(SPEC_FILE).is_file()
}

/// The agent's process spec in a sandbox directory; present only when the agent is mounted.
const SPEC_FILE: &str = "agent.json";

/// The agent's standard error (and the engine's, when it cannot start it).
const LOG_FILE: &str = "agent.log";

/// How long the agent may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Replies queued per command before the agent's reader waits for it.
const REPLY_QUEUE: usize = 64;

#[cfg(porter_agent)]
const BINARY: Option<&[u8]> =
    Some(include_bytes!(concat!(env!("OUT_DIR"), "/porter-sandbox-agent")));
#[cfg(not(porter_agent))]
const BINARY: Option<&[u8]> = None;

/// Where the agent binary is written: under the root mountpoint's parent, which every
/// sandbox's (unprivileged, mapped) root can traverse for the bind mount.
fn install_dir() -> &'static Path {
    Path::new("/run/porter-sandbox/agent")
}

/// The agent binary on the host, written on first use (named by its hash, so servers of
/// different versions on one machine never overwrite each other's); `None` when this build
/// has no agent or it cannot be written (commands then use `crun exec`).
pub(super) fn binary() -> Option<&'static Path> {
    static INSTALLED: OnceLock<Option<PathBuf>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let bytes = BINARY?;
            match install(bytes) {
                Ok(path) => Some(path),
                Err(err) => {
                    tracing::warn!("cannot install the exec agent ({err}); commands use crun exec");
                    None
                }
            }
        })
        .as_deref()
}

fn install(bytes: &[u8]) -> std::io::Result<PathBuf> {
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    let digest = sha2::Sha256::digest(bytes);
    let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = install_dir();
    std::fs::create_dir_all(dir)?;
    for d in [dir, dir.parent().unwrap_or(dir)] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?;
    }
    let path = dir.join(format!("agent-{name}"));
    if std::fs::read(&path).is_ok_and(|existing| existing == bytes) {
        return Ok(path);
    }
    let temp = dir.join(format!(".agent-{name}.{:016x}", rand::random::<u64>()));
    std::fs::write(&temp, bytes)?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&temp, &path)?;
    Ok(path)
}

/// Records the agent's process spec in a new sandbox's directory (it is mounted there).
pub(super) fn record_spec(
    layout: &Layout,
    process: &serde_json::Value,
) -> Result<(), RuntimeError> {
    std::fs::write(layout.dir.join(SPEC_FILE), process.to_string())
        .map_err(|e| RuntimeError::other(format!("cannot write the agent's process spec: {e}")))
}

/// What the agent reports about one command.
#[derive(Debug)]
enum Reply {
    Output(u8, Vec<u8>),
    Exit(i32),
    Failed(i32, String),
}

/// A running agent.
#[derive(Debug)]
pub(super) struct Agent {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Reply>>>>,
    next_id: AtomicU64,
    alive: Arc<AtomicBool>,
    reader: JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Closing the socket ends the agent, which kills what it still runs.
        self.reader.abort();
    }
}

/// The agent of one sandbox: started at most once at a time, restarted when it died.
#[derive(Debug, Default)]
pub(super) struct Slot(tokio::sync::Mutex<Option<Arc<Agent>>>);

impl Slot {
    /// The sandbox's running agent, started if needed; `None` when the sandbox has none
    /// (commands then use `crun exec`).
    pub(super) async fn get(&self, layout: &Layout, engine: &Path) -> Option<Arc<Agent>> {
        if !present(layout) {
            return None;
        }
        let spec = layout.dir.join(SPEC_FILE);
        let mut slot = self.0.lock().await;
        if let Some(agent) = slot.as_ref().filter(|a| a.alive.load(Ordering::SeqCst)) {
            return Some(agent.clone());
        }
        *slot = None;
        match tokio::time::timeout(START_TIMEOUT, start(layout, engine, &spec)).await {
            Ok(Ok(agent)) => {
                let agent = Arc::new(agent);
                *slot = Some(agent.clone());
                Some(agent)
            }
            Ok(Err(err)) => {
                tracing::warn!("the exec agent of {} did not start: {err}", layout.id);
                None
            }
            Err(_) => {
                tracing::warn!("the exec agent of {} did not start in time", layout.id);
                None
            }
        }
    }
}

/// Starts the agent with `crun exec --detach`, its standard input and output a socket pair.
async fn start(layout: &Layout, engine: &Path, spec: &Path) -> Result<Agent, RuntimeError> {
    let (ours, theirs) =
        std::os::unix::net::UnixStream::pair().map_err(|e| format!("socket pair: {e}"))?;
    let theirs_out = theirs.try_clone().map_err(|e| format!("socket pair: {e}"))?;
    let log_path = layout.dir.join(LOG_FILE);
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let mut command = tokio::process::Command::new(engine);
    let flag = shim::engine_flag(engine);
    if !flag.is_empty() {
        command.arg(flag);
    }
    command
        .args(["exec", "--detach", "--process"])
        .arg(spec)
        .arg(&layout.id)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::from(OwnedFd::from(theirs_out)))
        // A file, not a pipe: the agent inherits it and lives on, so a pipe would never end.
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("cannot run {}: {e}", engine.display()))?;
    // The command holds the agent's ends until dropped: the agent must be their only owner.
    drop(command);
    let status = child.wait().await.map_err(|e| format!("crun exec: {e}"))?;
    if !status.success() {
        let message = super::host::tail_of(&log_path, 2048);
        return Err(RuntimeError::other(format!(
            "crun exec failed ({status}): {}",
            message.trim()
        )));
    }
    ours.set_nonblocking(true).map_err(|e| format!("socket: {e}"))?;
    let stream = tokio::net::UnixStream::from_std(ours).map_err(|e| format!("socket: {e}"))?;
    let (read, write) = stream.into_split();
    let pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Reply>>>> = Arc::default();
    let alive = Arc::new(AtomicBool::new(true));
    let reader = tokio::spawn(read_replies(read, pending.clone(), alive.clone()));
    Ok(Agent {
        writer: tokio::sync::Mutex::new(write),
        pending,
        next_id: AtomicU64::new(1),
        alive,
        reader,
    })
}

/// Hands the agent's frames to the commands they belong to, until the agent ends.
async fn read_replies(
    mut read: OwnedReadHalf,
    pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Reply>>>>,
    alive: Arc<AtomicBool>,
) {
    loop {
        let Ok(frame) = read_frame(&mut read).await else { break };
        let reply = match frame.kind {
            protocol::STDOUT | protocol::STDERR => Reply::Output(frame.kind, frame.payload),
            protocol::EXIT | protocol::FAILED => {
                let Some((code, rest)) = frame.payload.split_first_chunk::<4>() else { break };
                let code = i32::from_le_bytes(*code);
                if frame.kind == protocol::EXIT {
                    Reply::Exit(code)
                } else {
                    Reply::Failed(code, String::from_utf8_lossy(rest).into_owned())
                }
            }
            _ => break, // not a frame an agent sends
        };
        let last = !matches!(reply, Reply::Output(..));
        let sender = {
            let mut pending = pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last { pending.remove(&frame.id) } else { pending.get(&frame.id).cloned() }
        };
        // A command whose caller left has no sender: its output is dropped.
        if let Some(sender) = sender {
            let _ = sender.send(reply).await;
        }
    }
    alive.store(false, Ordering::SeqCst);
    // Every command still waiting learns that its agent is gone.
    pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
}

async fn read_frame(read: &mut OwnedReadHalf) -> std::io::Result<Frame> {
    let mut len = [0u8; 4];
    read.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    Frame::check_len(len, protocol::MAX_PAYLOAD)?;
    let mut body = vec![0u8; len];
    read.read_exact(&mut body).await?;
    Frame::from_body(body)
}

impl Agent {
    async fn send(&self, frame: Frame) -> Result<(), RuntimeError> {
        let mut writer = self.writer.lock().await;
        writer
            .write_all(&frame.encode())
            .await
            .map_err(|e| RuntimeError::other(format!("the exec agent: {e}")))
    }

    /// Runs `spec` with `env` (the whole environment) in `cwd`, like `exec::run`.
    pub(super) async fn run(
        self: &Arc<Self>,
        spec: ExecSpec,
        env: Vec<String>,
        cwd: String,
    ) -> Result<ExecOutput, Failure> {
        let ExecSpec { argv, workdir, stdin, timeout, .. } = spec;
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, mut rx) = mpsc::channel(REPLY_QUEUE);
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, tx);
        let mut guard = KillOnDrop { agent: Some(self.clone()), id };
        let request = Request {
            argv: argv.into_iter().map(String::into_bytes).collect(),
            env: env.into_iter().map(String::into_bytes).collect(),
            cwd: workdir.unwrap_or(cwd).into_bytes(),
            stdin: stdin.is_some(),
        };
        if let Err(err) =
            self.send(Frame { kind: protocol::START, id, payload: request.encode() }).await
        {
            guard.agent = None;
            return Err(Failure::NotStarted(err));
        }
        if let Some(bytes) = stdin {
            // A failed write means the agent is gone: the replies then end below.
            let frames = bytes.chunks(protocol::MAX_PAYLOAD).map(|chunk| Frame {
                kind: protocol::STDIN,
                id,
                payload: chunk.to_vec(),
            });
            for frame in frames.chain([Frame { kind: protocol::STDIN_END, id, payload: vec![] }]) {
                if self.send(frame).await.is_err() {
                    break;
                }
            }
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let (mut out, mut err) = (Captured::default(), Captured::default());
        let mut timed_out = false;
        let exit_code = loop {
            let reply = tokio::select! {
                reply = rx.recv() => reply,
                () = super::exec::until(deadline), if !timed_out => {
                    timed_out = true;
                    // Unsent: the agent is gone, and its end killed the command (see below).
                    let _ = self.send(Frame { kind: protocol::KILL, id, payload: vec![] }).await;
                    continue;
                }
            };
            match reply {
                Some(Reply::Output(protocol::STDOUT, data)) => out.push(&data),
                Some(Reply::Output(_, data)) => err.push(&data),
                Some(Reply::Exit(code)) => break code,
                Some(Reply::Failed(code, message)) => {
                    err.push(message.as_bytes());
                    err.push(b"\n");
                    break code;
                }
                None => {
                    // The agent ended (its sandbox stopped, or a workload killed it): the
                    // command was killed with it (the agent starts each with a parent-death
                    // signal), as `crun exec` reports a command killed by its sandbox's end.
                    err.push(
                        b"porter-sandbox: the command was killed: the sandbox's exec agent ended\n",
                    );
                    break KILLED;
                }
            }
        };
        guard.agent = None;
        Ok(ExecOutput {
            stdout: String::from_utf8_lossy(&out.kept).into_owned(),
            stderr: String::from_utf8_lossy(&err.kept).into_owned(),
            stdout_dropped: out.dropped,
            stderr_dropped: err.dropped,
            exit_code: if timed_out { TIMEOUT_EXIT_CODE } else { exit_code },
            timed_out,
        })
    }
}

/// Why a command run by the agent has no result.
#[derive(Debug)]
pub(super) enum Failure {
    /// The agent could not be told to start it: it never ran (`crun exec` may run it).
    NotStarted(RuntimeError),
}

/// Status of a command killed by SIGKILL.
const KILLED: i32 = 128 + 9;

/// Kills a command whose caller went away before it ended (a dropped request).
struct KillOnDrop {
    agent: Option<Arc<Agent>>,
    id: u64,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Some(agent) = self.agent.take() else { return };
        let id = self.id;
        agent.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = agent.send(Frame { kind: protocol::KILL, id, payload: Vec::new() }).await;
            });
        }
    }
}
