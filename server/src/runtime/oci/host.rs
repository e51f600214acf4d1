//! Small host helpers without `unsafe`: finding programs, reading `/proc`, signalling pids
//! (through rustix's safe `kill`, since the crate forbids `unsafe` and therefore `libc::kill`).

use crate::runtime::RuntimeError;
use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

/// Directories searched after `$PATH`: `sudo` and service managers often drop the sbin ones.
const EXTRA_DIRS: [&str; 4] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The shell every helper script runs in (POSIX; dash on Debian).
pub(super) const SH: &str = "/bin/sh";

/// Finds an executable on `$PATH` (then in the standard system directories).
pub(super) fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The effective uid of this process (from `/proc/self/status`; `geteuid` would need `unsafe`).
pub(super) fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The hard `RLIMIT_NOFILE` of this process. crun applies the container's rlimits after it
/// dropped its capabilities, so they must not exceed the limits it inherited from us.
pub(super) fn nofile_hard_limit() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let hard = line.split_whitespace().nth(4)?;
    if hard == "unlimited" { Some(u64::MAX) } else { hard.parse().ok() }
}

/// The size of the host's file table (`/proc/sys/fs/file-max`).
pub(super) fn file_max() -> Option<u64> {
    fs::read_to_string("/proc/sys/fs/file-max").ok()?.trim().parse().ok()
}

/// The fields of `/proc/<pid>/stat` this runtime needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// One-letter state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Session id (in our pid namespace).
    pub session: u32,
    /// Start time in clock ticks after boot: with the pid it identifies a process uniquely.
    pub start_time: u64,
}

/// Parses `/proc/<pid>/stat`; `None` when the process does not exist.
pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name may contain spaces and parentheses: the fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        session: fields.get(3)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// Whether `pid` is a live (non-zombie) process that started at `start_time` (when known).
/// Only a definite answer counts as dead: a read that failed for another reason (out of file
/// descriptors, …) says nothing, and the process is taken as alive.
pub(crate) fn alive(pid: u32, start_time: Option<u64>) -> bool {
    liveness(fs::read_to_string(format!("/proc/{pid}/stat")), start_time)
}

fn liveness(stat: std::io::Result<String>, start_time: Option<u64>) -> bool {
    match stat {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => false,
        Err(e) => {
            tracing::warn!("cannot tell whether a process lives ({e}); assuming it does");
            true
        }
        Ok(text) => parse_stat(&text).is_some_and(|s| {
            s.state != 'Z' && s.state != 'X' && start_time.is_none_or(|t| t == s.start_time)
        }),
    }
}

/// The NUL-separated command line of `pid`, joined with spaces.
pub(super) fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .unwrap_or_default()
}

/// Every pid in our pid namespace.
pub(crate) fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()).collect()
        })
        .unwrap_or_default()
}

/// Sends `SIGKILL` to `pids` (a system call each, no program: it never blocks).
pub(super) fn kill_sync(pids: &[u32]) {
    for &pid in pids {
        let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
            continue;
        };
        // Gone already is fine: the caller waits for the process to be gone anyway.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Sends `SIGKILL` to `pids`.
pub(super) async fn kill(pids: &[u32]) {
    kill_sync(pids);
}

/// Waits (up to a second) until a killed process is gone or a zombie.
pub(super) async fn wait_dead(pid: u32, start_time: Option<u64>) {
    poll_until(Duration::from_secs(1), Duration::from_millis(2), || {
        (!alive(pid, start_time)).then_some(())
    })
    .await;
}

/// Reads `pid start_time` as written by [`write_pid_file`].
pub(crate) fn read_pid_file(path: &Path) -> Option<(u32, Option<u64>)> {
    let text = fs::read_to_string(path).ok()?;
    let mut words = text.split_whitespace();
    let pid = words.next()?.parse().ok()?;
    Some((pid, words.next().and_then(|w| w.parse().ok())))
}

/// Records `pid` and its start time (to recognise it again after a server restart).
pub(crate) fn write_pid_file(path: &Path, pid: u32) -> std::io::Result<()> {
    let start = proc_stat(pid).map(|s| s.start_time.to_string()).unwrap_or_default();
    write_atomic(path, format!("{pid} {start}\n").as_bytes())
}

/// Writes `path` through a temporary file and a rename, so readers never see half of it.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, data)?;
    fs::rename(&tmp, path)
}

/// The last `max` bytes of a file, lossy UTF-8, trimmed.
pub(super) fn tail_of(path: &Path, max: usize) -> String {
    let data = fs::read(path).unwrap_or_default();
    let start = data.len().saturating_sub(max);
    String::from_utf8_lossy(&data[start..]).trim().to_owned()
}

/// Polls `check` every `every` until it returns `Some` or `timeout` passes.
pub(super) async fn poll_until<T>(
    timeout: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// Why a command of [`run`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RunError {
    /// The program could not be started at all (out of file descriptors, not installed): it
    /// told nothing.
    NotStarted(String),
    /// It ran and failed.
    Failed {
        /// The program, its arguments, its status and its stderr.
        message: String,
        /// Its trimmed stderr alone.
        stderr: String,
    },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotStarted(message) | Self::Failed { message, .. } => f.write_str(message),
        }
    }
}

impl From<RunError> for RuntimeError {
    fn from(err: RunError) -> Self {
        Self::Failed(err.to_string())
    }
}

/// Runs a command to completion; `Err` carries its trimmed stderr (or the spawn error).
pub(super) async fn run(program: &Path, args: &[&str]) -> Result<String, RunError> {
    let stdin = crate::runtime::empty_stdin()
        .map_err(|e| RunError::NotStarted(format!("cannot make a pipe: {e}")))?;
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(stdin)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| RunError::NotStarted(format!("cannot run {}: {e}", program.display())))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let message = format!(
            "{} {} failed ({}): {stderr}",
            program.display(),
            args.join(" "),
            output.status
        );
        Err(RunError::Failed { message, stderr })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn only_a_definite_answer_means_dead() {
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!liveness(Err(gone), None));
        assert!(!liveness(Err(std::io::Error::from_raw_os_error(libc::ESRCH)), None));
        // Out of file descriptors: unknown, not dead.
        assert!(liveness(Err(std::io::Error::from_raw_os_error(libc::EMFILE)), None));
        assert!(liveness(Err(std::io::Error::from_raw_os_error(libc::ENFILE)), Some(1)));
        let stat = "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0";
        assert!(liveness(Ok(stat.to_owned()), Some(77)));
        assert!(!liveness(Ok(stat.to_owned()), Some(78)));
        assert!(!liveness(Ok(stat.replace(" S ", " Z ")), None));
    }

    #[test]
    fn parses_stat_with_odd_command_names() {
        let text = "4242 (a) b (c)) S 1 4242 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 \
                    1000 100 18446744073709551615";
        let stat = parse_stat(text).unwrap();
        assert_eq!(stat, ProcStat { state: 'S', session: 4240, start_time: 98765 });
    }

    #[test]
    fn sees_itself() {
        let me = std::process::id();
        assert!(alive(me, None));
        let start = proc_stat(me).map(|s| s.start_time);
        assert!(alive(me, start));
        assert!(!alive(me, start.map(|s| s + 1)));
        assert!(nofile_hard_limit().is_some());
        assert!(effective_uid().is_some());
    }
}
