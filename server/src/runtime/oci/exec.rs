//! Commands run in a running sandbox (`crun exec --process`).
//!
//! A full process spec is always passed: plain `crun exec` would run as root, in `/`, without
//! `noNewPrivileges`, and `--env` would replace `PATH`. The process gets the sandbox's user,
//! working directory and environment (overridden by the exec's own variables).
//!
//! Killing the `crun exec` client with SIGKILL leaves the process running, so the future holds
//! an [`ExecGuard`]: when dropped before the command finished, it kills every process of the
//! command's session (crun starts each exec in a new session) that is in this sandbox's cgroup.
//! A deadline ([`ExecSpec::timeout`]) kills that same process tree, then the client, and the
//! output read so far is returned with exit code [`TIMEOUT_EXIT_CODE`]. A process that left the
//! session on purpose (`setsid`) is not part of the tree; it ends with the sandbox.

use crate::runtime::RuntimeError;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    time::Instant,
};

use super::{Layout, bundle, host, shim};
use crate::runtime::{EXEC_OUTPUT_LIMIT, ExecOutput, ExecSpec, TIMEOUT_EXIT_CODE};

/// Output kept per stream; the rest is read and dropped (the process must not block).
const MAX_OUTPUT: usize = EXEC_OUTPUT_LIMIT;

/// After the command ended, how long background processes it left may hold its output open.
const OUTPUT_GRACE: Duration = Duration::from_millis(100);

/// Runs `spec` in sandbox `layout.id` and collects its output.
pub(super) async fn run(
    layout: &Layout,
    engine: &Path,
    spec: ExecSpec,
) -> Result<ExecOutput, RuntimeError> {
    let defaults = check_runnable(layout, &spec)?;
    let ExecSpec { argv, env, workdir, stdin, timeout } = spec;
    let token = format!("{:016x}", rand::random::<u64>());
    let mut guard = ExecGuard {
        id: layout.id.clone(),
        process_file: layout.dir.join(format!("exec-{token}.json")),
        pid_file: layout.dir.join(format!("exec-{token}.pid")),
        armed: true,
    };
    let mut process = bundle::exec_process(&defaults, argv, &env);
    if let Some(dir) = workdir {
        process["cwd"] = dir.into();
    }
    std::fs::write(&guard.process_file, process.to_string())
        .map_err(|e| format!("cannot write the exec process spec: {e}"))?;

    let mut command = tokio::process::Command::new(engine);
    let flag = shim::engine_flag(engine);
    if !flag.is_empty() {
        command.arg(flag);
    }
    // Declared after the guard, so it is dropped (and the client killed) first.
    let empty = crate::runtime::empty_stdin().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let mut child = command
        .arg("exec")
        .arg("--process")
        .arg(&guard.process_file)
        .arg("--pid-file")
        .arg(&guard.pid_file)
        .arg(&layout.id)
        .stdin(if stdin.is_some() { Stdio::piped() } else { empty })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", engine.display()))?;

    // crun hands its standard input to the process: what is written here is the command's.
    let input = child.stdin.take();
    let feed = async move {
        if let (Some(mut pipe), Some(bytes)) = (input, stdin) {
            // The command may end without reading it all: a broken pipe is its choice.
            let _ = pipe.write_all(&bytes).await;
        } // The pipe is dropped here: the command sees the end of its input.
    };
    tokio::pin!(feed);
    let mut fed = false;
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut timed_out = false;

    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let (mut out, mut err) = (Captured::default(), Captured::default());
    let mut status = None;
    let mut grace_end = Instant::now();
    while status.is_none() || stdout.is_some() || stderr.is_some() {
        tokio::select! {
            () = read_some(&mut stdout, &mut out) => {}
            () = read_some(&mut stderr, &mut err) => {}
            () = &mut feed, if !fed => fed = true,
            () = until(deadline), if !timed_out && status.is_none() => {
                timed_out = true;
                let (id, pid_file) = (guard.id.clone(), guard.pid_file.clone());
                let killed = tokio::task::spawn_blocking(move || kill_session(&id, &pid_file));
                // Without a pid file the process may still appear: the guard stays armed.
                if killed.await.unwrap_or(false) {
                    guard.armed = false;
                }
                let _ = child.start_kill();
            }
            waited = child.wait(), if status.is_none() => {
                let waited = waited.map_err(|e| format!("waiting for crun exec: {e}"))?;
                status = Some(waited);
                grace_end = Instant::now() + OUTPUT_GRACE;
            }
            () = tokio::time::sleep_until(grace_end), if status.is_some() => break,
        }
    }
    if !timed_out {
        guard.armed = false;
    }
    let exit_code = if timed_out {
        TIMEOUT_EXIT_CODE
    } else {
        launch_failure(status.map_or(-1, exit_code_of), &err.kept)
    };
    Ok(ExecOutput {
        stdout: String::from_utf8_lossy(&out.kept).into_owned(),
        stderr: String::from_utf8_lossy(&err.kept).into_owned(),
        stdout_dropped: out.dropped,
        stderr_dropped: err.dropped,
        exit_code,
        timed_out,
    })
}

/// Checks that `spec` can run in the sandbox now; returns the sandbox's process defaults.
pub(super) fn check_runnable(
    layout: &Layout,
    spec: &ExecSpec,
) -> Result<bundle::ProcessDefaults, RuntimeError> {
    if spec.argv.is_empty() {
        return Err(RuntimeError::Invalid("the command is empty".to_owned()));
    }
    if !layout.dir.is_dir() {
        return Err(RuntimeError::NotFound(format!("sandbox {} is not running here", layout.id)));
    }
    if let Some(code) = layout.exit_code() {
        return Err(RuntimeError::NotRunning(format!(
            "sandbox {} has exited (status {code})",
            layout.id
        )));
    }
    layout.read_defaults()
}

/// Resolves at `deadline`; never without one.
pub(super) async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The engine's own exit status when it could not start the program.
const ENGINE_FAILED: i32 = 255;

/// Maps the engine failing to start the program to the codes shells and Docker use: 127 for a
/// program that does not exist, 126 for one that cannot be executed. The engine's message is
/// then the only stderr line (the program never ran); anything else keeps its status.
pub(crate) fn launch_failure(code: i32, stderr: &[u8]) -> i32 {
    if code != ENGINE_FAILED {
        return code;
    }
    let text = String::from_utf8_lossy(stderr);
    let mut lines = text.lines();
    let (Some(line), None) = (lines.next(), lines.next()) else { return code };
    // crun: "executable file `x` not found in $PATH: …" or "open executable: <errno text>".
    if line.starts_with("executable file `") && line.contains("` not found in $PATH") {
        return 127;
    }
    match line.strip_prefix("open executable: ") {
        Some(reason) if reason.contains("No such file or directory") => 127,
        Some(_) => 126,
        None => code,
    }
}

/// Exit code, or 128 + signal when the client was killed by one.
fn exit_code_of(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(-1)
}

/// The output of one stream: the first [`MAX_OUTPUT`] bytes and how many more were dropped.
#[derive(Debug, Default)]
pub(crate) struct Captured {
    /// What is kept.
    pub(crate) kept: Vec<u8>,
    /// How many bytes were dropped.
    pub(crate) dropped: u64,
}

impl Captured {
    /// Keeps what fits of `data`, counts the rest.
    pub(crate) fn push(&mut self, data: &[u8]) {
        let room = MAX_OUTPUT.saturating_sub(self.kept.len()).min(data.len());
        self.kept.extend_from_slice(&data[..room]);
        self.dropped += (data.len() - room) as u64;
    }
}

/// Reads one chunk into `buf` (dropping what exceeds [`MAX_OUTPUT`]); at EOF the pipe becomes
/// `None`. Never resolves for a closed pipe.
async fn read_some<R: AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut Captured) {
    let Some(reader) = pipe.as_mut() else {
        return std::future::pending().await;
    };
    let mut chunk = [0u8; 16 * 1024];
    match reader.read(&mut chunk).await {
        Ok(0) | Err(_) => *pipe = None,
        Ok(n) => buf.push(&chunk[..n]),
    }
}

/// Kills an exec's processes if its future is dropped before the command finished, and removes
/// its temporary files either way.
#[derive(Debug)]
pub(super) struct ExecGuard {
    id: String,
    process_file: PathBuf,
    pid_file: PathBuf,
    armed: bool,
}

impl Drop for ExecGuard {
    fn drop(&mut self) {
        let (id, process_file, pid_file) =
            (self.id.clone(), self.process_file.clone(), self.pid_file.clone());
        if !self.armed {
            let _ = std::fs::remove_file(&process_file);
            let _ = std::fs::remove_file(&pid_file);
            return;
        }
        // A thread, not a task: drops may happen outside the runtime, and this blocks briefly.
        let spawned = std::thread::Builder::new().name("exec-kill".into()).spawn(move || {
            let _ = kill_session(&id, &pid_file);
            let _ = std::fs::remove_file(&process_file);
            let _ = std::fs::remove_file(&pid_file);
        });
        if let Err(err) = spawned {
            tracing::warn!("cannot stop an abandoned exec in {}: {err}", self.id);
        }
    }
}

/// Kills the session of the exec'd process recorded in `pid_file`, limited to processes in the
/// sandbox's cgroup (so a reused pid outside the sandbox is never hit). `false` when no pid file
/// appeared (the process may not exist yet).
fn kill_session(id: &str, pid_file: &Path) -> bool {
    // crun writes the pid file once the process exists; the client may have died just before.
    let mut pid = None;
    for _ in 0..100 {
        pid = std::fs::read_to_string(pid_file).ok().and_then(|t| t.trim().parse::<u32>().ok());
        if pid.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let Some(pid) = pid else { return false };
    // crun makes the exec'd process a session leader; its pid is the session id even once it
    // has exited and only its children remain.
    let session = host::proc_stat(pid).map_or(pid, |s| s.session);
    let cgroup = format!(":/{}/{id}", super::CGROUP_PARENT);
    for _ in 0..20 {
        let victims: Vec<u32> = host::all_pids()
            .into_iter()
            .filter(|&p| {
                host::proc_stat(p).is_some_and(|s| s.session == session && s.state != 'Z')
                    && in_cgroup(p, &cgroup)
            })
            .collect();
        if victims.is_empty() {
            return true;
        }
        host::kill_sync(&victims);
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Whether `pid` is in the cgroup whose `/proc/<pid>/cgroup` lines end with `suffix`.
pub(crate) fn in_cgroup(pid: u32, suffix: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .is_ok_and(|text| text.lines().any(|line| line.ends_with(suffix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_launch_failures_become_shell_codes() {
        let missing = b"executable file `nope` not found in $PATH: No such file or directory\n";
        assert_eq!(launch_failure(255, missing), 127);
        assert_eq!(launch_failure(255, b"open executable: No such file or directory\n"), 127);
        assert_eq!(launch_failure(255, b"open executable: Permission denied\n"), 126);
        assert_eq!(launch_failure(255, b"open executable: Operation not permitted\n"), 126);
        // The program's own 255, or the engine's message among the program's output.
        assert_eq!(launch_failure(255, b"something else\n"), 255);
        assert_eq!(launch_failure(255, b"x\nopen executable: Permission denied\n"), 255);
        assert_eq!(launch_failure(1, missing), 1);
    }
}
