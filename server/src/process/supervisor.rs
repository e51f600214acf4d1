//! The supervisor of one process: this binary run as `__process-supervisor <dir>`.
//!
//! It leaves the server's session first (`setsid`: no signal aimed at the server reaches it,
//! and the server dying does not end it), runs the runtime's exec command with pipes (or
//! receives the terminal's master from the engine over the console socket), appends every
//! chunk of output to the log, serves the control socket, enforces the deadline by killing the
//! whole tree, and writes the final status atomically before it exits.

use std::{
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use porter_sandbox::types::{ProcessState, frame_kind};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{UnixListener, UnixStream},
    sync::watch,
};

use super::{
    CONSOLE_SOCKET, CONTROL_SOCKET, FinalStatus, PID_FILE, SIGNAL_SOCKET, STATUS_FILE,
    SUPERVISOR_PID, SupervisorSpec,
    control::{self, Live, Op},
    log, signals, tree,
};
use crate::runtime::oci::{exec::launch_failure, host};

/// How long background processes may keep the output open after the process itself ended.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);
/// How long a terminal may still arrive once its command has ended.
const LATE_TERMINAL: Duration = Duration::from_secs(1);

/// How long a forwarding engine may take to end after the deadline's kill was forwarded.
const ENGINE_KILL_GRACE: Duration = Duration::from_secs(5);
/// How long a forwarding engine may take to take a signal.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the engine may take to hand over a terminal.
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the supervisor waits, once the process has ended, for control requests that are
/// being answered.
const ANSWER_GRACE: Duration = Duration::from_secs(1);
/// Standard error kept in memory to recognise the engine's own launch errors.
const STDERR_HEAD: usize = 4096;

/// Runs the supervisor of the process in `dir`; the process exit status of the supervisor.
pub fn main(dir: &Path) -> i32 {
    // Not fatal: a supervisor started from a shell is already a group leader.
    let _ = rustix::process::setsid();
    // Its sockets are bound by relative names (a socket path holds at most 107 bytes, and the
    // data directory may be deep); the engine it runs resolves the console socket here too.
    if let Err(err) = std::env::set_current_dir(dir) {
        return fail(dir, &format!("cannot enter {}: {err}", dir.display()));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(dir, &format!("cannot start the async runtime: {err}")),
    };
    match runtime.block_on(run(dir)) {
        Ok(()) => 0,
        Err(err) => fail(dir, &err),
    }
}

/// Records a supervisor failure as the process's end (like Docker's 125) so no caller waits.
fn fail(dir: &Path, reason: &str) -> i32 {
    let _ = std::fs::write(dir.join("supervisor.log"), format!("{reason}\n"));
    if super::read_final(dir).is_none() {
        let status = FinalStatus {
            state: ProcessState::Exited,
            exit_code: Some(125),
            signal: None,
            ended_at: crate::time::format_micros(crate::time::now_micros()),
            stdout_bytes: 0,
            stderr_bytes: 0,
            output_start: 0,
        };
        if let Ok(text) = serde_json::to_vec(&status) {
            let _ = host::write_atomic(&dir.join(STATUS_FILE), &text);
        }
    }
    let _ = std::fs::remove_file(dir.join(CONTROL_SOCKET));
    1
}

/// What the pumps, the control connections and the main task share.
struct Shared {
    log: log::Writer,
    stdout_bytes: u64,
    stderr_bytes: u64,
    stderr_head: Vec<u8>,
}

/// Where standard input goes, while it is open.
type Input = Box<dyn AsyncWrite + Send + Unpin>;

struct Supervisor {
    spec: SupervisorSpec,
    dir: PathBuf,
    shared: Mutex<Shared>,
    input: tokio::sync::Mutex<Option<Input>>,
    /// The terminal's master, for resizes.
    terminal: Mutex<Option<std::fs::File>>,
    /// The engine process, opened before it could be reaped, so a kill sent through it can
    /// never reach a process that reused its pid (a forwarding engine that is stuck, see
    /// [`SupervisorSpec::signal_engine`]).
    engine: Option<OwnedFd>,
    /// The output's end offset, and whether the process has ended.
    progress: watch::Sender<(u64, bool)>,
    /// Held (read) by each control request until it is answered: a signal that ends the
    /// process must still be answered as sent, not found gone because the supervisor exited.
    answering: tokio::sync::RwLock<()>,
}

async fn run(dir: &Path) -> Result<(), String> {
    let spec = super::read_spec(dir).ok_or("cannot read the process spec")?;
    host::write_pid_file(&dir.join(SUPERVISOR_PID), std::process::id())
        .map_err(|e| format!("cannot write the pid file: {e}"))?;
    let writer = log::Writer::create(dir, spec.retention)
        .map_err(|e| format!("cannot create the output log: {e}"))?;
    // Bound and listening under a temporary name, then renamed: the server takes the socket's
    // existence as "ready", and a connect between bind and listen would be refused.
    let pending = format!("{CONTROL_SOCKET}.new");
    let control =
        UnixListener::bind(&pending).map_err(|e| format!("cannot bind the control socket: {e}"))?;
    std::fs::rename(&pending, CONTROL_SOCKET)
        .map_err(|e| format!("cannot publish the control socket: {e}"))?;
    let console = match spec.pty {
        Some(_) => Some(
            UnixListener::bind(CONSOLE_SOCKET)
                .map_err(|e| format!("cannot bind the console socket: {e}"))?,
        ),
        None => None,
    };
    let (program, args) = spec.engine_argv.split_first().ok_or("the engine command is empty")?;
    let stdin = if spec.stdin && spec.pty.is_none() {
        Stdio::piped()
    } else {
        crate::runtime::empty_stdin().map_err(|e| format!("cannot make a pipe: {e}"))?
    };
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;

    let engine = child
        .id()
        .and_then(|pid| rustix::process::Pid::from_raw(i32::try_from(pid).ok()?))
        .and_then(|pid| {
            rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
        });
    let supervisor = Arc::new(Supervisor {
        engine,
        dir: dir.to_owned(),
        shared: Mutex::new(Shared {
            log: writer,
            stdout_bytes: 0,
            stderr_bytes: 0,
            stderr_head: Vec::new(),
        }),
        input: tokio::sync::Mutex::new(child.stdin.take().map(|pipe| Box::new(pipe) as Input)),
        terminal: Mutex::new(None),
        progress: watch::channel((0, false)).0,
        answering: tokio::sync::RwLock::new(()),
        spec,
    });
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(supervisor.clone(), out, frame_kind::STDOUT)));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(supervisor.clone(), err, frame_kind::STDERR)));
    }
    // A terminal's input exists only once crun hands over the master; writes that arrive
    // before (a client writes right after the start answered) wait for it instead of failing.
    let pending_input = match console {
        Some(_) => Some(supervisor.input.lock().await),
        None => None,
    };
    let server = tokio::spawn(serve(supervisor.clone(), control));

    if let Some(console) = console {
        let mut pending_input = pending_input;
        let size = supervisor.spec.pty;
        let receive = receive_terminal(console);
        tokio::pin!(receive);
        let master = tokio::select! {
            biased;
            master = &mut receive => Some(master),
            _ = child.wait() => None,
        };
        // The engine hands the terminal over before the command starts, so a command that has
        // already ended (a quick one) left its output in it: take it all the same.
        let master = match master {
            Some(master) => master,
            None => tokio::time::timeout(LATE_TERMINAL, &mut receive)
                .await
                .unwrap_or_else(|_| Err("the engine handed over no terminal".to_owned())),
        };
        match master {
            Ok(master) => {
                if let Some(size) = size {
                    resize(&master, size.cols, size.rows);
                }
                let reader = master.try_clone().map_err(|e| e.to_string())?;
                let writer = master.try_clone().map_err(|e| e.to_string())?;
                *lock(&supervisor.terminal) = Some(master);
                if let Some(input) = pending_input.as_mut() {
                    **input = Some(Box::new(tokio::fs::File::from_std(writer)));
                }
                pumps.push(tokio::spawn(pump(
                    supervisor.clone(),
                    tokio::fs::File::from_std(reader),
                    frame_kind::STDOUT,
                )));
            }
            Err(err) => tracing::warn!("no terminal: {err}"),
        }
    }

    let deadline =
        supervisor.spec.timeout_seconds.and_then(|s| Duration::try_from_secs_f64(s).ok());
    let mut timed_out = false;
    let status = tokio::select! {
        status = child.wait() => status,
        () = sleep_or_forever(deadline) => {
            timed_out = true;
            kill_tree(&supervisor).await;
            if supervisor.spec.signal_engine {
                // A forwarding engine ends once the process has; one that does not is ended.
                match tokio::time::timeout(ENGINE_KILL_GRACE, child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        kill_engine(&supervisor);
                        child.wait().await
                    }
                }
            } else {
                child.wait().await
            }
        }
    };
    let code = status.ok().map(|s| {
        use std::os::unix::process::ExitStatusExt;
        s.code().or_else(|| s.signal().map(|n| 128 + n)).unwrap_or(-1)
    });
    // Background processes may keep the pipes open: give the output a moment, then stop.
    let drained = futures_util::future::join_all(pumps.iter_mut());
    let _ = tokio::time::timeout(OUTPUT_GRACE, drained).await;
    for pump in &pumps {
        pump.abort();
    }
    finish(&supervisor, code, timed_out)?;
    let _ = tokio::time::timeout(ANSWER_GRACE, supervisor.answering.write()).await;
    server.abort();
    let _ = std::fs::remove_file(dir.join(CONTROL_SOCKET));
    let _ = std::fs::remove_file(dir.join(CONSOLE_SOCKET));
    let _ = std::fs::remove_file(dir.join(SIGNAL_SOCKET));
    Ok(())
}

async fn sleep_or_forever(deadline: Option<Duration>) {
    match deadline {
        Some(after) => tokio::time::sleep(after).await,
        None => std::future::pending().await,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Kills the process's whole tree (at the deadline).
async fn kill_tree(supervisor: &Supervisor) {
    if supervisor.spec.signal_engine {
        if !forward_signal(9).await {
            kill_engine(supervisor);
        }
        return;
    }
    let pid_file = supervisor.dir.join(PID_FILE);
    let suffix = supervisor.spec.cgroup_suffix.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Some(leader) = tree::leader(&pid_file) {
            tree::kill(leader, &suffix);
        }
    })
    .await;
}

/// Writes the final status, then tells the subscribers the process has ended.
fn finish(supervisor: &Supervisor, code: Option<i32>, timed_out: bool) -> Result<(), String> {
    let (stdout_bytes, stderr_bytes, output_start, end, head) = {
        let shared = lock(&supervisor.shared);
        (
            shared.stdout_bytes,
            shared.stderr_bytes,
            shared.log.start(),
            shared.log.end(),
            shared.stderr_head.clone(),
        )
    };
    let code = code.map(|c| launch_failure(c, &head));
    let (state, exit_code, signal) = match code {
        _ if timed_out => (ProcessState::TimedOut, Some(124), Some(signals::name(9))),
        Some(c) if c > 128 && signals::parse(&(c - 128).to_string()).is_ok() => {
            (ProcessState::Killed, Some(i64::from(c)), Some(signals::name(c - 128)))
        }
        Some(c) => (ProcessState::Exited, Some(i64::from(c)), None),
        None => (ProcessState::Killed, None, None),
    };
    let status = FinalStatus {
        state,
        exit_code,
        signal,
        ended_at: crate::time::format_micros(crate::time::now_micros()),
        stdout_bytes,
        stderr_bytes,
        output_start,
    };
    let text = serde_json::to_vec(&status).map_err(|e| e.to_string())?;
    host::write_atomic(&supervisor.dir.join(STATUS_FILE), &text)
        .map_err(|e| format!("cannot write the final status: {e}"))?;
    supervisor.progress.send_replace((end, true));
    Ok(())
}

/// Copies one stream into the log.
async fn pump<R: AsyncRead + Unpin>(supervisor: Arc<Supervisor>, mut reader: R, stream: u8) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf).await {
            // EIO: the terminal's last holder closed it.
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let end = {
            let mut shared = lock(&supervisor.shared);
            let Ok(end) = shared.log.append(stream, &buf[..n]) else {
                tracing::warn!("cannot append to the output log of {}", supervisor.spec.exec_id);
                return;
            };
            if stream == frame_kind::STDERR {
                shared.stderr_bytes += n as u64;
                let room = STDERR_HEAD.saturating_sub(shared.stderr_head.len()).min(n);
                shared.stderr_head.extend_from_slice(&buf[..room]);
            } else {
                shared.stdout_bytes += n as u64;
            }
            end
        };
        supervisor.progress.send_replace((end, false));
    }
}

/// Accepts the engine's connection on the console socket and takes the terminal's master.
async fn receive_terminal(console: UnixListener) -> Result<std::fs::File, String> {
    let (stream, _) = tokio::time::timeout(CONSOLE_TIMEOUT, console.accept())
        .await
        .map_err(|_| "the engine did not hand over a terminal in time".to_owned())?
        .map_err(|e| e.to_string())?;
    let stream = stream.into_std().map_err(|e| e.to_string())?;
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    let fd = tokio::task::spawn_blocking(move || receive_fd(&stream))
        .await
        .map_err(|e| e.to_string())??;
    Ok(std::fs::File::from(fd))
}

fn receive_fd(stream: &std::os::unix::net::UnixStream) -> Result<OwnedFd, String> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut name)];
    recvmsg(stream, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC)
        .map_err(|e| format!("cannot receive the terminal: {e}"))?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = message {
            if let Some(fd) = fds.next() {
                return Ok(fd);
            }
        }
    }
    Err("the engine sent no terminal".to_owned())
}

fn resize(master: &std::fs::File, cols: u16, rows: u16) {
    let size = rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    if let Err(err) = rustix::termios::tcsetwinsize(master, size) {
        tracing::warn!("cannot resize the terminal: {err}");
    }
}

/// Serves the control socket until the process ends.
async fn serve(supervisor: Arc<Supervisor>, listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(connection(supervisor.clone(), stream));
    }
}

async fn connection(supervisor: Arc<Supervisor>, mut stream: UnixStream) {
    while let Ok(Some((op, payload))) = control::read_message(&mut stream).await {
        if Op::from_byte(op) == Some(Op::Subscribe) {
            subscription(&supervisor, stream).await;
            return;
        }
        let answering = supervisor.answering.read().await;
        let answer = handle(&supervisor, Op::from_byte(op), payload).await;
        let sent = match answer {
            Ok(body) => control::write_message(&mut stream, 0, &body).await,
            Err(text) => control::write_message(&mut stream, 1, text.as_bytes()).await,
        };
        drop(answering);
        if sent.is_err() {
            return;
        }
    }
}

async fn handle(
    supervisor: &Supervisor,
    op: Option<Op>,
    payload: Vec<u8>,
) -> Result<Vec<u8>, String> {
    match op {
        Some(Op::Status) => {
            let stdin_open = supervisor.input.lock().await.is_some();
            let shared = lock(&supervisor.shared);
            let live = Live {
                stdout_bytes: shared.stdout_bytes,
                stderr_bytes: shared.stderr_bytes,
                output_start: shared.log.start(),
                stdin_open,
            };
            serde_json::to_vec(&live).map_err(|e| e.to_string())
        }
        Some(Op::Stdin) => {
            let mut input = supervisor.input.lock().await;
            let Some(pipe) = input.as_mut() else {
                return Err(closed_input(&supervisor.spec));
            };
            if let Err(err) = write_input(pipe, &payload).await {
                *input = None;
                return Err(format!("the process no longer reads its standard input ({err})"));
            }
            Ok(Vec::new())
        }
        Some(Op::CloseStdin) => {
            let mut input = supervisor.input.lock().await;
            if supervisor.spec.pty.is_some() {
                // A terminal has no end of input: end-of-transmission is what a shell reads as one.
                if let Some(pipe) = input.as_mut() {
                    let _ = write_input(pipe, &[4]).await;
                }
            } else {
                *input = None;
            }
            Ok(Vec::new())
        }
        Some(Op::Signal) => {
            let number = payload
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_le_bytes)
                .ok_or("a signal request needs a signal number")?;
            let pid_file = supervisor.dir.join(PID_FILE);
            if supervisor.spec.signal_engine {
                // The engine writes its pid file once it takes signals.
                let ready = tokio::task::spawn_blocking(move || tree::leader(&pid_file)).await;
                let mut sent = ready.ok().flatten().is_some() && forward_signal(number).await;
                if number == 9 {
                    // An engine that cannot forward a kill, or does not end after it (stuck),
                    // is ended itself, which ends the process too.
                    if !sent {
                        sent = kill_engine(supervisor);
                    } else if let Some(engine) = supervisor.engine.as_ref() {
                        let engine = engine.try_clone().ok();
                        tokio::spawn(async move {
                            tokio::time::sleep(ENGINE_KILL_GRACE).await;
                            if let Some(engine) = engine {
                                let kill = rustix::process::Signal::KILL;
                                let _ = rustix::process::pidfd_send_signal(&engine, kill);
                            }
                        });
                    }
                }
                return Ok(u32::from(sent).to_le_bytes().to_vec());
            }
            let suffix = supervisor.spec.cgroup_suffix.clone();
            let sent = tokio::task::spawn_blocking(move || {
                tree::leader(&pid_file).map_or(0, |leader| tree::signal(leader, &suffix, number))
            })
            .await
            .unwrap_or(0);
            Ok((sent as u32).to_le_bytes().to_vec())
        }
        Some(Op::Resize) => {
            let [c0, c1, r0, r1] = payload
                .get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .ok_or("a resize needs cols and rows")?;
            let terminal = lock(&supervisor.terminal);
            let master = terminal
                .as_ref()
                .ok_or("the process has no terminal: start it with a pty to resize it")?;
            resize(master, u16::from_le_bytes([c0, c1]), u16::from_le_bytes([r0, r1]));
            Ok(Vec::new())
        }
        Some(Op::Subscribe) | None => Err("unknown request".to_owned()),
    }
}

/// Asks a forwarding engine to send signal `number` to the process; whether it did.
async fn forward_signal(number: i32) -> bool {
    let ask = async {
        let mut stream = UnixStream::connect(SIGNAL_SOCKET).await.ok()?;
        stream.write_all(&number.to_le_bytes()).await.ok()?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).await.ok()?;
        Some(answer[0] == 1)
    };
    tokio::time::timeout(FORWARD_TIMEOUT, ask).await.ok().flatten().unwrap_or(false)
}

/// Kills the engine process through its pidfd (never a process that reused its pid); whether
/// the signal was delivered.
fn kill_engine(supervisor: &Supervisor) -> bool {
    supervisor.engine.as_ref().is_some_and(|fd| {
        rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL).is_ok()
    })
}

fn closed_input(spec: &SupervisorSpec) -> String {
    if spec.stdin || spec.pty.is_some() {
        "standard input of the process is closed".to_owned()
    } else {
        "the process was started without stdin: start it with stdin enabled to write to it"
            .to_owned()
    }
}

async fn write_input(pipe: &mut Input, data: &[u8]) -> std::io::Result<()> {
    pipe.write_all(data).await?;
    pipe.flush().await
}

/// Sends the end offset each time it grows; closes once the process has ended.
async fn subscription(supervisor: &Supervisor, mut stream: UnixStream) {
    let mut progress = supervisor.progress.subscribe();
    loop {
        let (end, ended) = *progress.borrow_and_update();
        if ended || stream.write_all(&end.to_le_bytes()).await.is_err() {
            return;
        }
        if progress.changed().await.is_err() {
            return;
        }
    }
}
