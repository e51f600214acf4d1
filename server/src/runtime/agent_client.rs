//! The client side of the exec agent's protocol (`server/agent/protocol.rs`), over any byte
//! stream to the agent's standard input and output: a socket pair for the local runtime, a
//! `pods/exec` stream for Kubernetes. Commands are multiplexed by id; output is capped as for
//! any exec.
//!
//! Everything the agent says is untrusted: frames are bounded, output is capped, and a
//! protocol error ends the agent.

#[path = "../../agent/protocol.rs"]
pub(crate) mod protocol;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use protocol::{Frame, Request};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};

use super::{ExecOutput, ExecSpec, RuntimeError, TIMEOUT_EXIT_CODE, oci::exec::Captured};

/// The agent binary of this build (static, runs in any image), or `None` when it was built
/// without one (commands then use the engine's exec).
#[cfg(porter_agent)]
pub(crate) const BINARY: Option<&[u8]> =
    Some(include_bytes!(concat!(env!("OUT_DIR"), "/porter-sandbox-agent")));
/// The agent binary of this build: none (built without it).
#[cfg(not(porter_agent))]
pub(crate) const BINARY: Option<&[u8]> = None;

/// The argument with which this server's binary writes the exec agent into a directory
/// (`porter-sandbox __install-agent DIR`: a pod's init container runs it).
pub const INSTALL_AGENT_ARG: &str = "__install-agent";

/// Writes this build's exec agent to `dir/agent` (mode 0755) and returns its path.
///
/// # Errors
///
/// When this build has no agent or the file cannot be written.
pub fn install_agent(dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let bytes = BINARY.ok_or("this build of porter-sandbox has no exec agent")?;
    let path = dir.join("agent");
    let temp = dir.join(".agent.partial");
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)))
        .and_then(|()| std::fs::rename(&temp, &path))
        .map_err(|e| format!("cannot write the exec agent into {}: {e}", dir.display()))?;
    Ok(path)
}

/// Replies queued per command before the agent's reader waits for it.
const REPLY_QUEUE: usize = 64;

/// Commands one agent runs at once; more wait for a slot. Each holds a few descriptors in the
/// agent, whose limit is the sandbox's (1024): past it a command would fail to start with a
/// 126 that looks like the command's own failure.
const MAX_COMMANDS: usize = 128;

/// Resolves at `deadline` (never without one).
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the agent reports about one command.
#[derive(Debug)]
enum Reply {
    Output(u8, Vec<u8>),
    Exit(i32),
    Failed(i32, String),
}

/// A running agent, reached through a byte stream to its standard input and output.
pub(crate) struct Agent {
    writer: tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>,
    pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Reply>>>>,
    next_id: AtomicU64,
    alive: Arc<AtomicBool>,
    reader: JoinHandle<()>,
    /// One permit per command running ([`MAX_COMMANDS`]).
    slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("alive", &self.is_alive()).finish_non_exhaustive()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Closing the socket ends the agent, which kills what it still runs.
        self.reader.abort();
    }
}

/// Hands the agent's frames to the commands they belong to, until the agent ends.
async fn read_replies(
    mut read: Box<dyn AsyncRead + Send + Unpin>,
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

/// Reads one frame of the agent (bounded: an agent is untrusted).
pub(crate) async fn read_frame(
    read: &mut (dyn AsyncRead + Send + Unpin),
) -> std::io::Result<Frame> {
    let mut len = [0u8; 4];
    read.read_exact(&mut len).await?;
    let len = u32::from_le_bytes(len) as usize;
    Frame::check_len(len, protocol::MAX_PAYLOAD)?;
    let mut body = vec![0u8; len];
    read.read_exact(&mut body).await?;
    Frame::from_body(body)
}

impl Agent {
    /// Talks to an agent whose standard output is `read` and standard input `write`; it ends
    /// (and kills what it runs) when `write` closes, i.e. when this is dropped.
    pub(crate) fn spawn(
        read: impl AsyncRead + Send + Unpin + 'static,
        write: impl AsyncWrite + Send + Unpin + 'static,
    ) -> Self {
        let pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Reply>>>> = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let reader = tokio::spawn(read_replies(Box::new(read), pending.clone(), alive.clone()));
        Self {
            writer: tokio::sync::Mutex::new(Box::new(write)),
            pending,
            next_id: AtomicU64::new(1),
            alive,
            reader,
            slots: tokio::sync::Semaphore::new(MAX_COMMANDS),
        }
    }

    /// Whether the agent still answers (its output has not ended).
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    async fn send(&self, frame: Frame) -> Result<(), RuntimeError> {
        let mut writer = self.writer.lock().await;
        writer
            .write_all(&frame.encode())
            .await
            .map_err(|e| RuntimeError::other(format!("the exec agent: {e}")))
    }

    /// Runs `spec` with `env` (the whole environment) in `cwd`, like `exec::run`.
    pub(crate) async fn run(
        self: &Arc<Self>,
        spec: ExecSpec,
        env: Vec<String>,
        cwd: String,
    ) -> Result<ExecOutput, Failure> {
        let ExecSpec { argv, workdir, stdin, timeout, .. } = spec;
        // Never closed: the permit is always granted, once a running command ends if need be.
        let _slot = self.slots.acquire().await;
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, mut rx) = mpsc::channel(REPLY_QUEUE);
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, tx);
        let mut guard = KillOnDrop { agent: Some(self.clone()), id };
        let request = Request {
            argv: argv.into_iter().map(String::into_bytes).collect(),
            env: env.into_iter().map(String::into_bytes).collect(),
            cwd: workdir.unwrap_or(cwd).into_bytes(),
            stdin: stdin.is_some(),
            terminal: None,
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
                () = until(deadline), if !timed_out => {
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
pub(crate) enum Failure {
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
