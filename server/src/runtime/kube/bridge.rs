//! Processes on Kubernetes: the engine a process supervisor runs (`crate::process`) is this
//! binary as [`BRIDGE_ARG`] [`BRIDGE_FILE`], which carries the process into its pod.
//!
//! The bridge opens its own `pods/exec` stream to the sandbox's exec agent (with the same
//! cluster credentials' source as the server: its kubeconfig file, else the same inference, so
//! no token is ever on a command line) and runs one command there, relaying:
//!
//! - standard input (its own, from the supervisor) as `STDIN` frames, and the output frames
//!   back to its standard output and error; the command's status is the bridge's exit status;
//! - the signals the supervisor sends through the signal socket (see
//!   `SupervisorSpec::signal_engine`) as `SIGNAL` frames, `SIGKILL` as `KILL`: the status
//!   then comes from the agent once the command really ended. If the bridge itself dies, its
//!   stream's end makes the agent kill the command;
//! - with a terminal: the agent runs the command in a terminal of its own in the pod; the
//!   bridge makes a local terminal too and hands its master to the supervisor over the
//!   console socket, as crun does, then relays between its raw slave end and the agent. The
//!   supervisor's resizes reach the bridge as `SIGWINCH` (the slave is its controlling
//!   terminal) and go on as `RESIZE` frames.

use std::{
    os::fd::{AsFd, OwnedFd},
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::runtime::agent_client::{
    protocol::{self, Frame, Request},
    read_frame,
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use porter_sandbox::types::TerminalSize;
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::Mutex,
};

use crate::process::{CONSOLE_SOCKET, PID_FILE, SIGNAL_SOCKET};

/// The first argument that makes the binary the bridge of one process.
pub const BRIDGE_ARG: &str = "__kube-process";
/// The bridge's settings, in the process's directory (the supervisor's working directory).
pub const BRIDGE_FILE: &str = "kube.json";

/// The exit status when the bridge cannot run the command at all (as an engine's own failure).
const BRIDGE_FAILED: i32 = 125;
/// The status of a command whose agent ended under it (the pod went away): it was killed.
const KILLED: i32 = 128 + 9;
/// The one command of the bridge's agent.
const ID: u64 = 1;

/// `SIGKILL`, sent as a `KILL` frame (the agent then also kills a command not started yet).
const KILL: i32 = 9;

/// What the bridge runs, written by the runtime (`process_command`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BridgeSpec {
    /// The server's kubeconfig; `None`: the same inference as the server (in-cluster, then
    /// `KUBECONFIG` or `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// The pod's namespace.
    pub namespace: String,
    /// The sandbox's pod.
    pub pod: String,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Variables set over the container's environment.
    pub env: Vec<(String, String)>,
    /// Working directory; empty: the container's.
    pub cwd: String,
    /// Whether standard input is relayed.
    pub stdin: bool,
    /// Run in a terminal of this size.
    pub terminal: Option<TerminalSize>,
}

/// Runs the bridge described by `file`; its exit status (the command's).
pub fn main(file: &Path) -> i32 {
    let spec: BridgeSpec = match std::fs::read(file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(err) => return failed(&format!("cannot read {}: {err}", file.display())),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return failed(&format!("cannot start the async runtime: {err}")),
    };
    let code = runtime.block_on(run(spec));
    // Blocked reads of standard input or the terminal would keep the runtime from stopping.
    runtime.shutdown_background();
    code
}

fn failed(message: &str) -> i32 {
    eprintln!("porter-sandbox: {message}");
    BRIDGE_FAILED
}

/// Where the command's input comes from.
type Input = Box<dyn AsyncRead + Send + Unpin>;
/// Where its output goes.
type Output = Box<dyn AsyncWrite + Send + Unpin>;

/// The frames to the agent: one whole frame per write.
type Sink = Arc<Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

async fn send(sink: &Sink, kind: u8, payload: Vec<u8>) -> bool {
    let frame = Frame { kind, id: ID, payload }.encode();
    let mut sink = sink.lock().await;
    sink.write_all(&frame).await.is_ok() && sink.flush().await.is_ok()
}

async fn run(spec: BridgeSpec) -> i32 {
    // Caught from the start: a resize before the command runs is not lost.
    let resizes = match spec.terminal {
        Some(_) => {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) {
                Ok(stream) => Some(stream),
                Err(err) => return failed(&format!("cannot catch SIGWINCH: {err}")),
            }
        }
        None => None,
    };
    let terminal = match spec.terminal {
        Some(size) => match local_terminal(size) {
            Ok(slave) => Some(slave),
            Err(err) => return failed(&format!("cannot hand over a terminal: {err}")),
        },
        None => None,
    };
    let pods: Api<Pod> = match super::cluster_config(spec.kubeconfig.as_deref()).await {
        Ok(config) => match kube::Client::try_from(config) {
            Ok(client) => Api::namespaced(client, &spec.namespace),
            Err(err) => return failed(&format!("cannot create a client of the cluster: {err}")),
        },
        Err(err) => return failed(&err),
    };
    let mut stream = match super::exec::start_agent(&pods, &spec.pod).await {
        Ok(stream) => stream,
        Err(err) => {
            return failed(&format!(
                "cannot reach the exec agent of {} through the cluster: {err}",
                spec.pod
            ));
        }
    };
    let (Some(from_agent), Some(to_agent)) = (stream.stdout(), stream.stdin()) else {
        return failed("the cluster's exec stream has no standard input/output");
    };
    // Held until the bridge exits; its end (the pod or the API server went away) ends the
    // output, and the command's end is then reported as a kill.
    let (from_agent, _stream) = super::exec::ending_with(stream, from_agent);
    let sink: Sink = Arc::new(Mutex::new(Box::new(to_agent)));
    let request = Request {
        argv: spec.argv.iter().map(|a| a.clone().into_bytes()).collect(),
        env: spec.env.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect(),
        cwd: spec.cwd.clone().into_bytes(),
        stdin: spec.stdin,
        terminal: spec.terminal.map(|size| (size.cols, size.rows)),
    };
    if !send(&sink, protocol::START, request.encode()).await {
        return failed("the exec agent went away before the command started");
    }
    let signals = match tokio::net::UnixListener::bind(SIGNAL_SOCKET) {
        Ok(listener) => listener,
        Err(err) => return failed(&format!("cannot bind the signal socket: {err}")),
    };
    tokio::spawn(take_signals(signals, sink.clone()));
    // Signals sent from now on reach the command: the supervisor waits for this file.
    let pid = format!("{}\n", std::process::id());
    if let Err(err) = crate::runtime::oci::host::write_atomic(Path::new(PID_FILE), pid.as_bytes()) {
        return failed(&format!("cannot write the pid file: {err}"));
    }
    let (input, mut output, mut errors): (Option<Input>, Output, Output) = match &terminal {
        Some(slave) => {
            let (Ok(reader), Ok(writer)) = (slave.try_clone(), slave.try_clone()) else {
                return failed("cannot share the terminal");
            };
            (
                Some(Box::new(tokio::fs::File::from_std(reader))),
                Box::new(tokio::fs::File::from_std(writer)),
                Box::new(tokio::io::stderr()),
            )
        }
        None => (
            spec.stdin.then(|| Box::new(tokio::io::stdin()) as Box<dyn AsyncRead + Send + Unpin>),
            Box::new(tokio::io::stdout()),
            Box::new(tokio::io::stderr()),
        ),
    };
    if let Some(input) = input {
        tokio::spawn(relay_input(input, sink.clone(), terminal.is_none()));
    }
    if let (Some(mut resizes), Some(slave)) =
        (resizes, terminal.as_ref().and_then(|t| t.try_clone().ok()))
    {
        let sink = sink.clone();
        tokio::spawn(async move {
            while resizes.recv().await.is_some() {
                let Ok(size) = rustix::termios::tcgetwinsize(&slave) else { continue };
                let mut payload = size.ws_col.to_le_bytes().to_vec();
                payload.extend_from_slice(&size.ws_row.to_le_bytes());
                if !send(&sink, protocol::RESIZE, payload).await {
                    return;
                }
            }
        });
    }
    let code = relay_output(from_agent, &mut output, &mut errors).await;
    let _ = output.flush().await;
    let _ = errors.flush().await;
    // The terminal's last output is read by the supervisor from the master once this exits.
    code
}

/// Forwards each signal the supervisor sends (`i32` LE) to the agent; answers 1 once sent.
async fn take_signals(listener: tokio::net::UnixListener, sink: Sink) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let mut number = [0u8; 4];
        if stream.read_exact(&mut number).await.is_err() {
            continue;
        }
        let number = i32::from_le_bytes(number);
        let sent = if number == KILL {
            send(&sink, protocol::KILL, Vec::new()).await
        } else {
            send(&sink, protocol::SIGNAL, number.to_le_bytes().to_vec()).await
        };
        let _ = stream.write_all(&[u8::from(sent)]).await;
    }
}

/// Relays standard input (or the terminal's) to the agent; its end ends a pipe's input.
async fn relay_input(mut input: Box<dyn AsyncRead + Send + Unpin>, sink: Sink, pipe: bool) {
    let mut buf = vec![0u8; protocol::MAX_PAYLOAD];
    loop {
        match input.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !send(&sink, protocol::STDIN, buf[..n].to_vec()).await {
                    return;
                }
            }
        }
    }
    if pipe {
        send(&sink, protocol::STDIN_END, Vec::new()).await;
    }
}

/// Writes the command's output where it belongs until it ends; its status.
async fn relay_output(
    mut from_agent: impl AsyncRead + Send + Unpin,
    output: &mut (dyn AsyncWrite + Send + Unpin),
    errors: &mut (dyn AsyncWrite + Send + Unpin),
) -> i32 {
    loop {
        let Ok(frame) = read_frame(&mut from_agent).await else {
            let ended =
                b"porter-sandbox: the process was killed: its exec stream to the sandbox ended\n";
            let _ = errors.write_all(ended).await;
            return KILLED;
        };
        match frame.kind {
            protocol::STDOUT | protocol::STDERR => {
                let written = if frame.kind == protocol::STDOUT {
                    write_flushed(output, &frame.payload).await
                } else {
                    write_flushed(errors, &frame.payload).await
                };
                if written.is_err() {
                    // The supervisor is gone, and nobody records the output any more: the
                    // stream's end kills the command (as a broken pipe would end it locally).
                    return KILLED;
                }
            }
            protocol::EXIT | protocol::FAILED => {
                let Some((code, message)) = frame.payload.split_first_chunk::<4>() else {
                    return BRIDGE_FAILED;
                };
                if frame.kind == protocol::FAILED {
                    let _ = errors.write_all(message).await;
                    let _ = errors.write_all(b"\n").await;
                }
                return i32::from_le_bytes(*code);
            }
            _ => {}
        }
    }
}

async fn write_flushed(
    to: &mut (dyn AsyncWrite + Send + Unpin),
    data: &[u8],
) -> std::io::Result<()> {
    to.write_all(data).await?;
    to.flush().await
}

/// Makes a terminal of `size` whose slave (returned) becomes the bridge's controlling
/// terminal, in raw mode (the pod's terminal does the line discipline), and hands its master
/// to the supervisor over the console socket.
fn local_terminal(size: TerminalSize) -> Result<std::fs::File, String> {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    use std::os::unix::fs::OpenOptionsExt;
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .map_err(|e| format!("openpt: {e}"))?;
    grantpt(&master).and_then(|()| unlockpt(&master)).map_err(|e| format!("unlockpt: {e}"))?;
    let name = ptsname(&master, Vec::new()).map_err(|e| format!("ptsname: {e}"))?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc_o_noctty())
        .open(std::ffi::OsStr::new(&*name.to_string_lossy()))
        .map_err(|e| format!("cannot open {}: {e}", name.to_string_lossy()))?;
    let mut mode = rustix::termios::tcgetattr(&slave).map_err(|e| format!("tcgetattr: {e}"))?;
    mode.make_raw();
    rustix::termios::tcsetattr(&slave, rustix::termios::OptionalActions::Now, &mode)
        .map_err(|e| format!("tcsetattr: {e}"))?;
    let winsize = rustix::termios::Winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&master, winsize).map_err(|e| format!("resize: {e}"))?;
    // A session of its own with the slave as controlling terminal: the supervisor's resizes
    // of the master then signal the bridge (SIGWINCH).
    rustix::process::setsid().map_err(|e| format!("setsid: {e}"))?;
    rustix::process::ioctl_tiocsctty(&slave).map_err(|e| format!("TIOCSCTTY: {e}"))?;
    hand_over(&master)?;
    Ok(slave)
}

/// `O_NOCTTY`: the slave becomes the controlling terminal only by `TIOCSCTTY`, below.
fn libc_o_noctty() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOCTTY.bits()).unwrap_or(0)
}

/// Sends `master` to the supervisor over the console socket (as crun's `--console-socket`).
fn hand_over(master: &OwnedFd) -> Result<(), String> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let socket = std::os::unix::net::UnixStream::connect(CONSOLE_SOCKET)
        .map_err(|e| format!("cannot reach the console socket: {e}"))?;
    let fds = [master.as_fd()];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err("cannot attach the terminal".to_owned());
    }
    let name = b"terminal";
    sendmsg(&socket, &[std::io::IoSlice::new(name)], &mut control, SendFlags::empty())
        .map_err(|e| format!("cannot send the terminal: {e}"))?;
    Ok(())
}
