//! Runtimes run sandboxes. The server talks to them only through [`Runtime`]; the default
//! backend on Linux is [`oci`] (crun or runc driving OCI bundles on overlayfs).

pub(crate) mod agent_client;
pub mod egress;
mod error;
pub mod fake;
pub mod idmap;
pub use agent_client::{INSTALL_AGENT_ARG, install_agent};
#[cfg(feature = "kubernetes")]
pub mod kube;
pub mod oci;

use std::{path::PathBuf, pin::Pin};

use tokio::sync::mpsc;

pub use self::error::{RuntimeError, RuntimeResult};

/// Events the runtime's log tailers may queue before they wait for the server to catch up:
/// the channel is bounded so a flood of output applies back-pressure instead of memory.
pub const EVENT_CAPACITY: usize = 1024;

/// Where a runtime sends its [`RuntimeEvent`]s.
pub type EventSender = mpsc::Sender<RuntimeEvent>;

/// A bounded event channel of [`EVENT_CAPACITY`].
#[must_use]
pub fn event_channel() -> (EventSender, mpsc::Receiver<RuntimeEvent>) {
    mpsc::channel(EVENT_CAPACITY)
}

/// A boxed future, so [`Runtime`] stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A host directory bind-mounted into a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// Directory on the host.
    pub source: PathBuf,
    /// Absolute path inside the sandbox.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The network of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Loopback only: no network at all.
    None,
    /// A user-mode NAT (the host's loopback stays unreachable), with its egress policy and
    /// the port to expose.
    Nat(Nat),
}

/// Settings of a [`NetworkMode::Nat`] network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nat {
    /// `None`: unrestricted outbound access; otherwise only these destinations (an empty list
    /// denies all outbound traffic, while the exposed port still works).
    pub egress: Option<egress::AllowList>,
    /// The port the workload listens on, forwarded to a free port on the host's loopback.
    pub port: Option<u16>,
}

/// Resource limits applied with cgroups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes.
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes.
    pub pids: Option<u64>,
    /// CPU limit in thousandths of a core.
    pub cpu_millis: Option<u64>,
    /// Size limit of the writable layer in bytes, enforced by its filesystem (none: unlimited).
    pub disk_bytes: Option<u64>,
}

/// Everything a runtime needs to start a sandbox.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The sandbox id (also the container id).
    pub sandbox_id: String,
    /// The image's root filesystem (shared, read-only; the sandbox writes to its own overlay).
    pub rootfs: PathBuf,
    /// Read-only layers stacked on the image, topmost first (a snapshot's captured layers).
    pub layers: Vec<PathBuf>,
    /// Host directories the image itself needs (the `host` image binds /usr and friends).
    pub image_mounts: Vec<BindMount>,
    /// The workload's argv.
    pub argv: Vec<String>,
    /// The workload's environment.
    pub env: Vec<(String, String)>,
    /// Working directory inside the sandbox.
    pub cwd: String,
    /// `uid:gid` to run as.
    pub user: (u32, u32),
    /// Volumes.
    pub mounts: Vec<BindMount>,
    /// Network access.
    pub network: NetworkMode,
    /// Resource limits.
    pub limits: Limits,
    /// The image and command as the caller gave them, for a runtime that pulls images itself
    /// ([`Runtime::pulls_images`]; `rootfs` is then empty); `None` for the others.
    pub workload: Option<Workload>,
}

/// The image and command of a sandbox as the caller gave them (Kubernetes semantics: `command`
/// replaces the image's entrypoint, `args` its cmd).
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The image reference.
    pub image: String,
    /// The command, if given.
    pub command: Option<Vec<String>>,
    /// The arguments, if given.
    pub args: Option<Vec<String>>,
    /// The server's record of the sandbox ([`SharedRecord`]), which a runtime whose state
    /// other servers share keeps with the sandbox, so they can adopt it.
    pub record: Option<SharedRecord>,
}

/// What a server sharing a runtime with others needs to track a sandbox another one created.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SharedRecord {
    /// The sandbox id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image it runs.
    pub image: String,
    /// Its spec, with the limits actually applied.
    pub spec: porter_sandbox::types::SandboxSpec,
    /// When it was created, Unix microseconds.
    pub created_at: i64,
}

/// A sandbox the runtime started.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// What the runtime needs later to re-adopt or clean up the sandbox (stored by the server).
    pub state: serde_json::Value,
    /// Where the exposed port is reachable from the host (`127.0.0.1:43125`), if any.
    pub internal_address: Option<std::net::SocketAddr>,
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    /// Standard output (`info` log lines).
    Stdout,
    /// Standard error (`error` log lines).
    Stderr,
}

/// What a running sandbox reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeEvent {
    /// The workload printed a line.
    Line {
        /// The sandbox.
        sandbox_id: String,
        /// Which stream.
        stream: OutputStream,
        /// The line without its newline.
        line: String,
        /// When it was read, Unix microseconds.
        at: i64,
    },
    /// Another server sharing the runtime terminated the sandbox.
    Terminated {
        /// The sandbox.
        sandbox_id: String,
        /// Why, as that server recorded it (a `termination_reason` wire value).
        reason: String,
    },
    /// The workload ended.
    Exited {
        /// The sandbox.
        sandbox_id: String,
        /// Its exit code (128 + signal when killed by a signal).
        exit_code: i32,
    },
}

/// Output an exec keeps per stream: 1 MiB (the rest is read and dropped).
pub const EXEC_OUTPUT_LIMIT: usize = 1 << 20;

/// Exit code of an exec killed at its deadline: the one GNU `timeout` uses.
pub const TIMEOUT_EXIT_CODE: i32 = 124;

/// A command to run in a running sandbox, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Environment merged over the sandbox's (the sandbox's own variables come first).
    pub env: Vec<(String, String)>,
    /// Working directory instead of the sandbox's.
    pub workdir: Option<String>,
    /// Bytes fed to standard input, which is then closed; `None`: empty standard input.
    pub stdin: Option<Vec<u8>>,
    /// Deadline: then every process of the command is killed and the output so far returned
    /// with [`ExecOutput::timed_out`] and [`TIMEOUT_EXIT_CODE`].
    pub timeout: Option<std::time::Duration>,
}

/// The result of a command run in a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output (lossy UTF-8), at most [`EXEC_OUTPUT_LIMIT`] bytes of it.
    pub stdout: String,
    /// Standard error (lossy UTF-8), at most [`EXEC_OUTPUT_LIMIT`] bytes of it.
    pub stderr: String,
    /// Bytes of standard output dropped beyond the limit.
    pub stdout_dropped: u64,
    /// Bytes of standard error dropped beyond the limit.
    pub stderr_dropped: u64,
    /// Exit code (128 + signal when killed by a signal; [`TIMEOUT_EXIT_CODE`] at the deadline).
    pub exit_code: i32,
    /// Whether the deadline of [`ExecSpec::timeout`] killed the command.
    pub timed_out: bool,
}

/// How a process supervisor starts a process in a sandbox (see [`crate::process`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessCommand {
    /// The command to run (the engine's exec, terminal flags included).
    pub argv: Vec<String>,
    /// The `/proc/<pid>/cgroup` line suffix of the sandbox: only processes in it are signalled.
    pub cgroup_suffix: String,
    /// The command takes the process's signals on its signal socket and forwards them (the
    /// process runs elsewhere): the supervisor never signals a tree of host processes.
    pub signal_engine: bool,
}

/// Resource counters of a running sandbox, read from its cgroup and network namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used since it started, microseconds.
    pub cpu_usec: u64,
    /// Memory in use, page cache included, bytes.
    pub memory_bytes: u64,
    /// Bytes received on its network interfaces (loopback excluded).
    pub rx_bytes: u64,
    /// Bytes sent on its network interfaces (loopback excluded).
    pub tx_bytes: u64,
    /// Processes the kernel's OOM killer killed in it.
    pub oom_kills: u64,
}

/// What became of a sandbox the previous server process started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// Still running; its events flow again.
    Running,
    /// It ended while nobody watched.
    Exited(i32),
    /// It is gone.
    Lost,
}

/// The user (uid, gid inside the sandbox) commands run as unless the image names another:
/// what the files API gives what it creates to, so that commands can change it.
pub const DEFAULT_SANDBOX_USER: (u32, u32) = (1000, 1000);

/// An empty standard input for a program that hands its standard input on to a sandbox's
/// process (the engine's `run` and `exec`): a pipe whose other end is already closed, so the
/// process reads its end at once. Never the host's `/dev/null`: the engine gives the process's
/// standard streams to the sandbox's user, and that would make the host's `/dev/null` the
/// sandbox's to change (`chmod`) for every user and sandbox of the machine.
pub fn empty_stdin() -> std::io::Result<std::process::Stdio> {
    // A socket pair, one end closed: reads see the end at once (std's pipe needs Rust 1.87).
    let (theirs, ours) = std::os::unix::net::UnixStream::pair()?;
    drop(ours);
    Ok(std::process::Stdio::from(std::os::fd::OwnedFd::from(theirs)))
}

/// A way to run sandboxes.
pub trait Runtime: Send + Sync + 'static {
    /// A short name for logs (`oci/crun`).
    fn name(&self) -> String;

    /// Whether the runtime can start sandboxes; the error says why not and what to install.
    fn check(&self) -> Result<(), RuntimeError>;

    /// Whether the runtime pulls images itself: the server then resolves no image and passes
    /// [`LaunchSpec::workload`] instead of a root filesystem.
    fn pulls_images(&self) -> bool {
        false
    }

    /// Why this runtime cannot run a sandbox of `spec` (checked before the sandbox is accepted,
    /// answered as a 400), or `None`.
    fn refuse(&self, _spec: &porter_sandbox::types::SandboxSpec) -> Option<String> {
        None
    }

    /// Whether other servers share this runtime's sandboxes (several replicas on one cluster):
    /// a sandbox this server does not track is then adopted from its [`SharedRecord`]
    /// ([`Runtime::records`]), never ended.
    fn shared(&self) -> bool {
        false
    }

    /// Tells the other servers of a [`Runtime::shared`] runtime why sandbox `id` is about to
    /// be stopped (`reason`: a `termination_reason` wire value); they report it as
    /// [`RuntimeEvent::Terminated`].
    fn record_end(&self, _sandbox_id: &str, _reason: &str) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// The ids of every sandbox present (in any state), or `None` when the runtime cannot tell
    /// right now; [`Runtime::found`] with the failure told apart from an empty host.
    fn present(&self) -> BoxFuture<'_, Option<std::collections::HashSet<String>>> {
        Box::pin(async { Some(self.found().await.into_iter().collect()) })
    }

    /// The records of every sandbox of a [`Runtime::shared`] runtime.
    fn records(&self) -> BoxFuture<'_, Vec<SharedRecord>> {
        Box::pin(async { Vec::new() })
    }

    /// Whether this server ends the sandboxes whose TTL or lease ran out (of several servers
    /// sharing a runtime, only the elected one does).
    fn leads(&self) -> bool {
        true
    }

    /// The server stops: gives up what only this server holds (e.g. the reaper's election);
    /// its sandboxes keep running.
    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Why this runtime cannot take snapshots (answered as a 400), or `None` when it can.
    fn refuse_snapshots(&self) -> Option<String> {
        None
    }

    /// Starts the workload. Resolves once it runs (see [`Started`]). Output and the exit
    /// arrive as [`RuntimeEvent`]s on `events`.
    fn start(
        &self,
        spec: LaunchSpec,
        events: EventSender,
    ) -> BoxFuture<'_, Result<Started, RuntimeError>>;

    /// Runs `spec` inside the running sandbox and waits for it (or its deadline). Dropping the
    /// future kills the command.
    fn exec_with(
        &self,
        sandbox_id: &str,
        spec: ExecSpec,
    ) -> BoxFuture<'_, Result<ExecOutput, RuntimeError>>;

    /// Runs `argv` with `env` merged over the sandbox's: [`Runtime::exec_with`] without a
    /// deadline, working directory or input.
    fn exec(
        &self,
        sandbox_id: &str,
        argv: Vec<String>,
        env: Vec<(String, String)>,
    ) -> BoxFuture<'_, Result<ExecOutput, RuntimeError>> {
        self.exec_with(sandbox_id, ExecSpec { argv, env, ..ExecSpec::default() })
    }

    /// Whether this runtime runs processes (the processes extension); see
    /// [`Runtime::processes_dir`].
    fn supports_processes(&self) -> bool {
        true
    }

    /// Where the processes of a sandbox keep their state (removed with the sandbox); `None`
    /// when this runtime cannot run processes.
    fn processes_dir(&self, _sandbox_id: &str) -> Option<PathBuf> {
        None
    }

    /// Prepares `spec` to run as a process of the running sandbox, with its state in `dir`
    /// (one of [`Runtime::processes_dir`]), and returns the command its supervisor runs; with
    /// `terminal`, the process gets a terminal of that size.
    fn process_command(
        &self,
        _sandbox_id: &str,
        _spec: &ExecSpec,
        _terminal: Option<porter_sandbox::types::TerminalSize>,
        _dir: &std::path::Path,
    ) -> Result<ProcessCommand, RuntimeError> {
        Err(RuntimeError::Unsupported("this runtime cannot run processes".to_owned()))
    }

    /// Current resource counters of a running sandbox; `None` when it is not running (or the
    /// host does not expose them).
    fn usage(&self, sandbox_id: &str) -> Option<Usage>;

    /// Copies the sandbox's writable layer into the new directory `dest` (which must not
    /// exist) while the sandbox keeps running; the copy is consistent (the sandbox is paused
    /// for it) and appears at `dest` only once complete. Resolves to the bytes captured.
    fn snapshot(&self, sandbox_id: &str, dest: PathBuf)
    -> BoxFuture<'_, Result<u64, RuntimeError>>;

    /// Stops the sandbox and removes everything it used on the host (idempotent).
    fn kill(&self, sandbox_id: &str) -> BoxFuture<'_, Result<(), RuntimeError>>;

    /// After a server restart: finds the sandbox again from its stored state.
    fn adopt(
        &self,
        sandbox_id: &str,
        state: serde_json::Value,
        events: EventSender,
    ) -> BoxFuture<'_, Adoption>;

    /// The ids of every sandbox of this runtime present on the host (running or not), so the
    /// server can end those it does not track.
    fn found(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}
