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
//! The protocol's client side is [`crate::runtime::agent_client`].

use std::{
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, OnceLock},
    time::Duration,
};

use super::{Layout, shim};
pub(super) use crate::runtime::agent_client::{Agent, Failure};
use crate::runtime::{RuntimeError, agent_client::BINARY};

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
        if let Some(agent) = slot.as_ref().filter(|a| a.is_alive()) {
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
    Ok(Agent::spawn(read, write))
}
