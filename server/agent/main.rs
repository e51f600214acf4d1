//! The exec agent: started once in each sandbox (with the sandbox's user, limits and seccomp
//! filter, as any exec), it starts the sandbox's commands by a plain fork and exec, so a
//! command costs no `crun exec` (a new engine process that joins every namespace and cgroup).
//!
//! It talks to the server over its standard input and output, a socket pair whose other end
//! only the server holds (see `protocol.rs`): nothing inside the sandbox can connect to it.
//! It is not dumpable, so other processes of the sandbox cannot read its descriptors or trace
//! it either. It can do nothing a command of the sandbox could not do itself, and the server
//! treats what it says as untrusted (bounded frames, bounded output).
//!
//! Built by `server/build.rs` as a static binary with `std` only, so it runs in any image
//! (glibc, musl or none). `unsafe` is limited to the libc calls `std` lacks: `kill` of a
//! process group, `prctl` (not dumpable; commands die with the agent), `poll` and
//! `pidfd_open` (one thread per command watches its output and its exit), and the terminal's
//! `ioctl`s and `setsid` (a command may run in a terminal of its own).

use std::{
    collections::HashMap,
    ffi::OsString,
    fs::File,
    io::{self, Read, Write},
    os::{
        fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
        unix::{
            ffi::OsStringExt,
            process::{CommandExt, ExitStatusExt},
        },
    },
    process::{Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

#[path = "protocol.rs"]
mod protocol;
#[path = "usage.rs"]
mod usage;

use protocol::{Frame, Request};

unsafe extern "C" {
    fn ioctl(fd: i32, request: u64, ...) -> i32;
    fn kill(pid: i32, signal: i32) -> i32;
    fn prctl(option: i32, ...) -> i32;
    fn poll(fds: *mut PollFd, count: u64, timeout: i32) -> i32;
    fn syscall(number: i64, ...) -> i64;
    fn setsid() -> i32;
}

/// `struct pollfd`.
#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

const POLLIN: i16 = 1;
const TIOCGWINSZ: u64 = 0x5413;
const TIOCSWINSZ: u64 = 0x5414;
const TIOCSCTTY: u64 = 0x540E;
const TIOCSPTLCK: u64 = 0x4004_5431;
const TIOCGPTN: u64 = 0x8004_5430;
const TIOCGPTPEER: u64 = 0x5441;
const O_RDWR: i32 = 2;
const O_NOCTTY: i32 = 0o400;
const O_CLOEXEC: i32 = 0o2_000_000;

/// `struct winsize`.
#[repr(C)]
#[derive(Default)]
struct WinSize {
    rows: u16,
    cols: u16,
    x_pixels: u16,
    y_pixels: u16,
}

/// How long a terminal process waits for its terminal's size.
const SIZE_WAIT: Duration = Duration::from_secs(10);
const SYS_PIDFD_OPEN: i64 = 434;

const SIGKILL: i32 = 9;
const PR_SET_DUMPABLE: i32 = 4;
const PR_SET_PDEATHSIG: i32 = 1;

/// After a command ended, how long processes it left in the background may keep its output
/// open before the exit is reported.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// The server's end: frames go out one whole frame per write, under this lock.
type Writer = Arc<Mutex<File>>;

/// What the reader knows of a running command.
struct Running {
    /// Where its standard input goes (`None` closes it); absent without input.
    stdin: Option<mpsc::Sender<Option<Vec<u8>>>>,
    /// Its process group, and what was asked of it before it had one.
    group: Arc<Mutex<Group>>,
    /// Its terminal's master, for resizes.
    terminal: Option<File>,
}

/// A command's process group: 0 until it started; a kill or signals asked for before that are
/// delivered once it has one.
#[derive(Default)]
struct Group {
    pgid: i32,
    killed: bool,
    pending: Vec<i32>,
}

type Registry = Arc<Mutex<HashMap<u64, Running>>>;

/// Commands start from the agent's environment and directory (`--inherit-env`); the request's
/// variables override those, and an empty directory keeps the agent's.
static INHERIT_ENV: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "--pty-gate") && args.get(2).is_some_and(|a| a == "--") {
        pty_gate(&args[3..]);
    }
    if args.get(1).is_some_and(|a| a == "--usage") {
        // The sandbox's counters, for a runtime that cannot read them from the host.
        let line = usage::Counters::read().line();
        let ok = io::stdout().write_all(line.as_bytes()).is_ok();
        std::process::exit(if ok { 0 } else { 1 });
    }
    if args.get(1).is_some_and(|a| a == "--ping") {
        // A readiness probe: the agent can run in this sandbox.
        std::process::exit(0);
    }
    // In a pod the agent is started by the cluster's exec inside the workload's container:
    // its own environment and directory are the workload's, which commands then start from.
    if args.get(1).is_some_and(|a| a == "--inherit-env") {
        INHERIT_ENV.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // Not dumpable: the sandbox's other processes (same user) cannot open /proc/<pid>/fd/*
    // of the agent, take its descriptors or trace it.
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's flag.
    unsafe {
        prctl(PR_SET_DUMPABLE, 0u64, 0u64, 0u64, 0u64);
    }
    let (Ok(input), Ok(output)) =
        (io::stdin().as_fd().try_clone_to_owned(), io::stdout().as_fd().try_clone_to_owned())
    else {
        std::process::exit(2);
    };
    let mut input = io::BufReader::with_capacity(128 * 1024, File::from(input));
    let writer: Writer = Arc::new(Mutex::new(File::from(output)));
    let registry: Registry = Arc::default();
    loop {
        let frame = match Frame::read_from(&mut input, protocol::MAX_REQUEST) {
            Ok(Some(frame)) => frame,
            // The server is gone (or broke the protocol): nobody will read what runs now.
            Ok(None) | Err(_) => break,
        };
        handle(frame, &writer, &registry);
    }
    let running = registry.lock().unwrap_or_else(|e| e.into_inner());
    for entry in running.values() {
        kill_group(&entry.group);
    }
}

/// Acts on one frame from the server.
fn handle(frame: Frame, writer: &Writer, registry: &Registry) {
    let id = frame.id;
    match frame.kind {
        protocol::START => {
            let Some(request) = Request::decode(&frame.payload) else {
                send(writer, id, protocol::FAILED, &failure(126, "malformed request"));
                return;
            };
            let (tx, rx) = mpsc::channel();
            let group = Arc::new(Mutex::new(Group::default()));
            let pty = match request.terminal.map(|(cols, rows)| open_terminal(cols, rows)) {
                None => None,
                Some(Ok(pty)) => Some(pty),
                Some(Err(err)) => {
                    let message = format!("cannot create a terminal in the sandbox: {err}");
                    send(writer, id, protocol::FAILED, &failure(126, &message));
                    return;
                }
            };
            let terminal = pty.as_ref().and_then(|(master, _)| master.try_clone().ok());
            // A terminal always takes input: it is how a shell in it is driven.
            let stdin = (request.stdin || pty.is_some()).then_some(tx);
            let entry = Running { stdin, group: group.clone(), terminal };
            registry.lock().unwrap_or_else(|e| e.into_inner()).insert(id, entry);
            let (thread_writer, thread_registry) = (writer.clone(), registry.clone());
            let spawned = thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || run(id, request, pty, rx, group, &thread_writer, &thread_registry));
            if spawned.is_err() {
                // No thread left (the sandbox's process limit): say so rather than hang.
                registry.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                let message = "cannot start the command: the sandbox's process limit is reached";
                send(writer, id, protocol::FAILED, &failure(126, message));
            }
        }
        protocol::STDIN | protocol::STDIN_END => {
            let running = registry.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(tx) = running.get(&id).and_then(|r| r.stdin.as_ref()) {
                let data = (frame.kind == protocol::STDIN).then_some(frame.payload);
                let _ = tx.send(data);
            }
        }
        protocol::KILL => {
            let running = registry.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = running.get(&id) {
                kill_group(&entry.group);
            }
        }
        protocol::SIGNAL => {
            let Some(number) = frame.payload.first_chunk::<4>().map(|b| i32::from_le_bytes(*b))
            else {
                return;
            };
            let running = registry.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = running.get(&id) {
                signal_group(&entry.group, number);
            }
        }
        protocol::RESIZE => {
            let Some([c0, c1, r0, r1]) = frame.payload.first_chunk::<4>().copied() else { return };
            let running = registry.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(master) = running.get(&id).and_then(|r| r.terminal.as_ref()) {
                set_size(master, u16::from_le_bytes([c0, c1]), u16::from_le_bytes([r0, r1]));
            }
        }
        _ => {}
    }
}

/// Runs one command to its end and reports it.
fn run(
    id: u64,
    request: Request,
    pty: Option<(File, File)>,
    stdin: mpsc::Receiver<Option<Vec<u8>>>,
    group: Arc<Mutex<Group>>,
    writer: &Writer,
    registry: &Registry,
) {
    let outcome = start_and_wait(id, request, pty, stdin, &group, writer);
    // Unregistered before the last frame: a kill after the exit must not hit a reused pid.
    registry.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    match outcome {
        Ok(code) => send(writer, id, protocol::EXIT, &code.to_le_bytes()),
        Err((code, message)) => send(writer, id, protocol::FAILED, &failure(code, &message)),
    }
}

/// Starts the command, pumps its input and output, and returns its status (128 + signal
/// when a signal ended it), or the code and message of why it could not start.
fn start_and_wait(
    id: u64,
    request: Request,
    pty: Option<(File, File)>,
    stdin: mpsc::Receiver<Option<Vec<u8>>>,
    group: &Mutex<Group>,
    writer: &Writer,
) -> Result<i32, (i32, String)> {
    let Request { argv, env, cwd, stdin: has_stdin, terminal: _ } = request;
    let inherit = INHERIT_ENV.load(std::sync::atomic::Ordering::Relaxed);
    let cwd = if cwd.is_empty() && inherit {
        std::env::current_dir().map(std::path::PathBuf::into_os_string).unwrap_or_default()
    } else {
        OsString::from_vec(cwd)
    };
    if !std::path::Path::new(&cwd).is_dir() {
        let shown = cwd.to_string_lossy();
        return Err((
            126,
            format!("cannot change to the working directory {shown}: not a directory or missing"),
        ));
    }
    let mut argv = argv.into_iter().map(OsString::from_vec);
    let program = argv.next().unwrap_or_default();
    let mut command = Command::new(&program);
    if !inherit {
        command.env_clear();
    }
    command.args(argv).current_dir(&cwd);
    let master = match pty {
        Some((master, slave)) => {
            let (Ok(input), Ok(output)) = (slave.try_clone(), slave.try_clone()) else {
                return Err((126, "cannot share the terminal with the command".to_owned()));
            };
            command.stdin(Stdio::from(input)).stdout(Stdio::from(output)).stderr(slave);
            Some(master)
        }
        None => {
            command
                // Its own process group, so a kill reaches what it started in the background too.
                .process_group(0)
                .stdin(if has_stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            None
        }
    };
    let in_terminal = master.is_some();
    for pair in env {
        let pair = OsString::from_vec(pair);
        let bytes = pair.as_encoded_bytes();
        if let Some(at) = bytes.iter().position(|&b| b == b'=') {
            let (key, value) = (&bytes[..at], &bytes[at + 1..]);
            command.env(OsString::from_vec(key.to_vec()), OsString::from_vec(value.to_vec()));
        }
    }
    // SAFETY: the hook runs in the forked child before exec and only calls prctl(2), which is
    // async-signal-safe. The command dies with the thread that started it (it lives until the
    // command ends), so a killed agent leaves no command behind whose output nobody reads.
    // With a terminal, the hook also makes the command a session leader (so its own process
    // group) whose controlling terminal is the new one, as a login shell has: setsid(2) and
    // ioctl(2) are async-signal-safe too.
    unsafe {
        command.pre_exec(move || {
            if in_terminal && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0u64) != 0) {
                return Err(io::Error::last_os_error());
            }
            if prctl(PR_SET_PDEATHSIG, SIGKILL as u64, 0u64, 0u64, 0u64) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = command.spawn();
    // The agent's copies of the terminal's slave end go with the command: the master then
    // reads the end of the output once the command's side has closed it.
    drop(command);
    let mut child = spawned.map_err(|e| launch_failure(&program, &e))?;
    {
        let mut group = group.lock().unwrap_or_else(|e| e.into_inner());
        group.pgid = i32::try_from(child.id()).unwrap_or(0);
        if group.killed {
            kill_pid_group(group.pgid);
        }
        for number in std::mem::take(&mut group.pending) {
            signal_pid_group(group.pgid, number);
        }
    }
    let input = match &master {
        Some(master) => master.try_clone().ok().map(|m| Box::new(m) as Box<dyn Write + Send>),
        None => child.stdin.take().map(|p| Box::new(p) as Box<dyn Write + Send>),
    };
    if let Some(mut pipe) = input {
        let _ = thread::Builder::new().stack_size(64 * 1024).spawn(move || {
            while let Ok(Some(data)) = stdin.recv() {
                // The command may stop reading: a broken pipe is its choice.
                if pipe.write_all(&data).is_err() {
                    break;
                }
            }
        });
    }
    let status = pump_until_exit(&mut child, master, id, writer)?;
    Ok(status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(255))
}

/// Sends the command's output as it comes, on this one thread (a sandbox's process limit
/// counts threads: one per command, not three), until it exited and its output ended — or,
/// when processes it left in the background hold the output open, [`OUTPUT_GRACE`] after
/// its exit.
fn pump_until_exit(
    child: &mut std::process::Child,
    terminal: Option<File>,
    id: u64,
    writer: &Writer,
) -> Result<std::process::ExitStatus, (i32, String)> {
    let mut pipes: Vec<(u8, Box<dyn ReadFd>)> = Vec::new();
    if let Some(master) = terminal {
        // EIO once the command's side closed: the end of its output, as for a pipe.
        pipes.push((protocol::STDOUT, Box::new(master)));
    }
    if let Some(out) = child.stdout.take() {
        pipes.push((protocol::STDOUT, Box::new(out)));
    }
    if let Some(err) = child.stderr.take() {
        pipes.push((protocol::STDERR, Box::new(err)));
    }
    // The exit is one more readable descriptor (Linux 5.3+); without it, a tick checks.
    let pidfd = open_pidfd(child.id());
    let mut buf = vec![0u8; protocol::MAX_PAYLOAD];
    let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
    loop {
        if let Some((status, grace_end)) = exited {
            if pipes.is_empty() || Instant::now() >= grace_end {
                return Ok(status);
            }
        }
        let mut fds: Vec<PollFd> = pipes
            .iter()
            .map(|(_, pipe)| PollFd { fd: pipe.raw(), events: POLLIN, revents: 0 })
            .collect();
        if let (None, Some(pidfd)) = (exited, &pidfd) {
            fds.push(PollFd { fd: pidfd.as_raw_fd(), events: POLLIN, revents: 0 });
        }
        let timeout = match exited {
            Some((_, end)) => end.saturating_duration_since(Instant::now()).as_millis() + 1,
            None if pidfd.is_none() => 20,
            None => u128::MAX,
        };
        let timeout = i32::try_from(timeout).unwrap_or(-1);
        // SAFETY: `fds` is a live, exclusively borrowed array of `fds.len()` pollfd records.
        let ready = unsafe { poll(fds.as_mut_ptr(), fds.len() as u64, timeout) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err((126, format!("cannot watch the command: {error}")));
        }
        let mut closed = Vec::new();
        for (index, fd) in fds.iter().enumerate().take(pipes.len()) {
            if fd.revents == 0 {
                continue;
            }
            let (kind, pipe) = &mut pipes[index];
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => closed.push(index),
                Ok(n) => send(writer, id, *kind, &buf[..n]),
            }
        }
        for index in closed.into_iter().rev() {
            pipes.remove(index);
        }
        if exited.is_none() {
            let status = child.try_wait().map_err(|e| (126, format!("cannot wait: {e}")))?;
            if let Some(status) = status {
                exited = Some((status, Instant::now() + OUTPUT_GRACE));
            }
        }
    }
}

/// An output pipe of a command: readable, and pollable by its descriptor.
trait ReadFd: Read {
    fn raw(&self) -> i32;
}

impl<T: Read + AsRawFd> ReadFd for T {
    fn raw(&self) -> i32 {
        self.as_raw_fd()
    }
}

/// A descriptor that becomes readable when process `pid` exits (`pidfd_open(2)`).
fn open_pidfd(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
    let fd = unsafe { syscall(SYS_PIDFD_OPEN, i64::from(pid), 0i64) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the descriptor was just created and nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The code and message for a command that could not start, as shells answer: 127 when the
/// program does not exist, 126 when it cannot be executed.
fn launch_failure(program: &OsString, error: &io::Error) -> (i32, String) {
    let shown = program.to_string_lossy();
    if error.kind() == io::ErrorKind::NotFound {
        let message = if shown.contains('/') {
            format!("{shown}: no such file or directory")
        } else {
            format!("executable file `{shown}` not found in $PATH")
        };
        (127, message)
    } else {
        (126, format!("cannot execute {shown}: {error}"))
    }
}

/// The payload of a [`protocol::FAILED`] frame.
fn failure(code: i32, message: &str) -> Vec<u8> {
    let mut payload = code.to_le_bytes().to_vec();
    payload.extend_from_slice(message.as_bytes());
    payload.truncate(protocol::MAX_PAYLOAD);
    payload
}

/// Sends one frame (a failure means the server is gone; the reader then ends the agent).
fn send(writer: &Writer, id: u64, kind: u8, payload: &[u8]) {
    let frame = Frame { kind, id, payload: payload.to_vec() };
    let mut out = writer.lock().unwrap_or_else(|e| e.into_inner());
    let _ = frame.write_to(&mut *out);
}

/// Kills the process group of a command, or marks it to be killed once it has one.
fn kill_group(group: &Mutex<Group>) {
    let mut group = group.lock().unwrap_or_else(|e| e.into_inner());
    group.killed = true;
    kill_pid_group(group.pgid);
}

/// Sends signal `number` to the process group of a command, or once it has one.
fn signal_group(group: &Mutex<Group>, number: i32) {
    let mut group = group.lock().unwrap_or_else(|e| e.into_inner());
    if group.pgid == 0 {
        group.pending.push(number);
    } else {
        signal_pid_group(group.pgid, number);
    }
}

fn signal_pid_group(pgid: i32, number: i32) {
    // Only a real signal of a real group: never 0 (a probe) or a group id below 2.
    if pgid > 1 && (1..=64).contains(&number) {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            kill(-pgid, number);
        }
    }
}

/// A new terminal of `cols` × `rows`: its master and slave ends.
fn open_terminal(cols: u16, rows: u16) -> io::Result<(File, File)> {
    use std::os::unix::fs::OpenOptionsExt;
    let master = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(O_NOCTTY)
        .open("/dev/ptmx")?;
    let unlock: i32 = 0;
    // SAFETY: TIOCSPTLCK reads one int from the live `unlock`.
    if unsafe { ioctl(master.as_raw_fd(), TIOCSPTLCK, &raw const unlock) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // The peer straight from the master (Linux 4.13+), else by its number under /dev/pts.
    // SAFETY: TIOCGPTPEER takes open flags and returns a new descriptor or -1.
    let peer =
        unsafe { ioctl(master.as_raw_fd(), TIOCGPTPEER, i64::from(O_RDWR | O_NOCTTY | O_CLOEXEC)) };
    let slave = if peer >= 0 {
        // SAFETY: the descriptor was just created and nothing else owns it.
        File::from(unsafe { OwnedFd::from_raw_fd(peer) })
    } else {
        let mut number: u32 = 0;
        // SAFETY: TIOCGPTN writes one unsigned int into the live, exclusive `number`.
        if unsafe { ioctl(master.as_raw_fd(), TIOCGPTN, &raw mut number) } != 0 {
            return Err(io::Error::last_os_error());
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_NOCTTY)
            .open(format!("/dev/pts/{number}"))?
    };
    set_size(&master, cols, rows);
    Ok((master, slave))
}

/// Sets the size of the terminal whose master is `master` (its foreground gets `SIGWINCH`).
fn set_size(master: &File, cols: u16, rows: u16) {
    let size = WinSize { rows, cols, x_pixels: 0, y_pixels: 0 };
    // SAFETY: TIOCSWINSZ reads one `struct winsize` from the live `size`.
    unsafe {
        ioctl(master.as_raw_fd(), TIOCSWINSZ, &raw const size);
    }
}

fn kill_pid_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            kill(-pgid, SIGKILL);
        }
    }
}

/// The gate of a process in a terminal (`--pty-gate -- COMMAND…`): the engine creates the
/// terminal and hands it to the server's supervisor, which then sets its size; the command
/// starts once the size is there (or after [`SIZE_WAIT`]), so it never sees a 0×0 terminal.
fn pty_gate(argv: &[OsString]) -> ! {
    let deadline = Instant::now() + SIZE_WAIT;
    while Instant::now() < deadline {
        let mut size = WinSize::default();
        // SAFETY: TIOCGWINSZ writes one `struct winsize` into the live, exclusive `size`.
        let read = unsafe { ioctl(0, TIOCGWINSZ, &raw mut size) };
        if read != 0 || (size.rows > 0 && size.cols > 0) {
            break;
        }
        thread::sleep(Duration::from_millis(2));
    }
    let Some((program, args)) = argv.split_first() else {
        eprintln!("the terminal process has no command");
        std::process::exit(126);
    };
    let error = Command::new(program).args(args).exec();
    let (code, message) = launch_failure(program, &error);
    eprintln!("{message}");
    std::process::exit(code)
}
