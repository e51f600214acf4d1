//! The supervisor ("shim") of one sandbox: a detached shell that outlives the server.
//!
//! It runs in its own session (`setsid`, so no signal aimed at the server's process group
//! reaches it) and in a private mount namespace (`unshare -m --propagation private`), where it
//!
//! 1. hides the empty cgroup v2 mount of hybrid hosts (crun refuses hybrid mode otherwise),
//! 2. binds the sandbox's netns file into the sandbox directory and drops its copy of
//!    `/run/netns` (otherwise this namespace would keep every *other* sandbox's netns alive),
//! 3. mounts the size-limited writable layer when there is one (`quota.rs`), then the overlay
//!    root (crun cannot mount `/` itself) on [`ROOT_MOUNT`]. Living only in this namespace and
//!    the container's, they disappear with them: the host mount table never changes. The fixed
//!    path is one the sandbox's root (an unprivileged host uid, see `idmap.rs`) can reach:
//!    crun looks the root up as that user, and the sandbox directory under the server's
//!    private data directory is out of its reach,
//! 4. runs `crun run` in the foreground (its exit status is the workload's; stdout and stderr
//!    are the log files the server opened), and
//! 5. writes that status atomically to `exit_code`, which is how the server learns it, even
//!    when the server restarted in the meantime.

use crate::runtime::RuntimeError;
use std::{
    fs::{File, OpenOptions},
    os::unix::fs::PermissionsExt,
    path::Path,
    process::Stdio,
    time::Duration,
};

use super::{Layout, host};

/// Status recorded when the shim itself fails before crun runs (like Docker's 125).
const SHIM_FAILED: i32 = 125;

/// Where the shim mounts the sandbox's root, in its own mount namespace (so every sandbox uses
/// the same path). Its parents are searchable by everyone; nothing is ever mounted there on the
/// host.
pub(super) const ROOT_MOUNT: &str = "/run/porter-sandbox/rootfs";

/// The shim. Arguments: `$1` sandbox dir, `$2` lowerdir (`top:…:image`), `$3` container id, `$4` the crun
/// binary, `$5` netns file to join or empty, `$6` crun's global flag or empty, `$7` the root
/// mountpoint, then the mounts to drop from the new namespace (chosen by the server from its own
/// mount table, which the namespace copies; one `umount` for all of them keeps the start fast).
const SCRIPT: &str = r#"dir=$1 lower=$2 id=$3 engine=$4 netns=$5 flag=$6 root=$7
shift 7
fail() { echo "porter-sandbox: $*" >&2; rc=125; }
finish() {
  printf '%s\n' "$rc" >"$dir/exit_code.tmp" && mv -f "$dir/exit_code.tmp" "$dir/exit_code"
  exit 0
}
if [ -n "$netns" ]; then
  mount --bind "$netns" "$dir/netns" || { fail "cannot bind the network namespace $netns"; finish; }
fi
if [ $# -gt 0 ]; then umount -R -l "$@" 2>/dev/null; fi
[ -d "$root" ] || { fail "the root mountpoint $root is missing"; finish; }
rw=$dir
if [ -f "$dir/layer.img" ]; then
  mount -t ext4 -o loop "$dir/layer.img" "$dir/layer" || { fail "cannot loop-mount the size-limited writable layer (are loop devices available?)"; finish; }
  rw=$dir/layer
fi
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$rw/upper,workdir=$rw/work" "$root" \
  || { fail "cannot mount the overlay root on $root"; finish; }
if [ -n "$netns" ]; then
  # The server writes `go` once the namespace's way out works; end of input means it failed.
  read -r go || go=
  [ "$go" = go ] || { fail "the sandbox's network did not come up"; finish; }
fi
"$engine" ${flag:+"$flag"} run --bundle "$dir/bundle" --pid-file "$dir/container.pid" "$id" </dev/null
rc=$?
finish
"#;

/// Mounts the shim drops from its namespace: the empty cgroup v2 mount of hybrid hosts (crun
/// refuses hybrid mode), and `/run/netns` (its copies of other sandboxes' network namespaces
/// would keep those alive until this sandbox ends).
fn mounts_to_drop() -> Vec<&'static str> {
    let mut drop = Vec::new();
    if has_mount("/sys/fs/cgroup/unified", Some("cgroup2")) {
        drop.push("/sys/fs/cgroup/unified");
    }
    if has_mount("/run/netns", None) {
        drop.push("/run/netns");
    }
    drop
}

/// The global flag crun needs (cgroupfs: the systemd manager would need a systemd scope).
pub(super) fn engine_flag(engine: &Path) -> &'static str {
    if engine.file_name().is_some_and(|n| n == "crun") { "--cgroup-manager=cgroupfs" } else { "" }
}

/// A started shim.
pub(super) struct Shim {
    /// Its pid (recorded in `shim.pid`).
    pub pid: u32,
    /// With a network: where [`Shim::go`] tells it that the network works. The shim prepares
    /// the container's filesystems meanwhile, and runs crun only after `go`; closing this
    /// without it makes the shim fail.
    gate: Option<tokio::process::ChildStdin>,
}

impl Shim {
    /// Lets the shim run the container (it waits for this when it joins a network).
    pub(super) async fn go(&mut self) -> Result<(), RuntimeError> {
        use tokio::io::AsyncWriteExt;
        let Some(mut gate) = self.gate.take() else { return Ok(()) };
        gate.write_all(b"go\n")
            .await
            .map_err(|e| RuntimeError::other(format!("the sandbox supervisor ended early: {e}")))
    }
}

/// Starts the shim. With `netns`, it runs crun only after [`Shim::go`].
pub(super) fn spawn(
    layout: &Layout,
    engine: &Path,
    lowers: &[&Path],
    netns: Option<&Path>,
) -> Result<Shim, RuntimeError> {
    let (setsid, unshare) = super::check::util_linux()?;
    let mut lower = String::new();
    for layer in lowers {
        let text = layer.to_str().unwrap_or_default();
        // overlayfs splits its options at ',' (and lowerdir at ':'): such paths cannot be
        // expressed.
        if text.is_empty() || text.contains([',', ':', '\n']) {
            return Err(RuntimeError::other(format!("unusable image layer {}", layer.display())));
        }
        if !lower.is_empty() {
            lower.push(':');
        }
        lower.push_str(text);
    }
    if lower.is_empty() {
        return Err(RuntimeError::Invalid("the sandbox has no image layers".to_owned()));
    }
    if layout.dir.to_string_lossy().contains([',', ':', '\n']) {
        return Err(RuntimeError::other(format!(
            "unusable state directory {}",
            layout.dir.display()
        )));
    }
    let open_log = |path: &Path| -> Result<File, RuntimeError> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| RuntimeError::other(format!("cannot open {}: {e}", path.display())))
    };
    make_root_mount()?;
    let stdout = open_log(&layout.stdout())?;
    let stderr = open_log(&layout.stderr())?;
    let mut child = tokio::process::Command::new(setsid)
        .arg(unshare)
        .args(["-m", "--propagation", "private", host::SH, "-c", SCRIPT, "shim"])
        .arg(&layout.dir)
        .arg(&lower)
        .arg(&layout.id)
        .arg(engine)
        .arg(netns.map(Path::as_os_str).unwrap_or_default())
        .arg(engine_flag(engine))
        .arg(ROOT_MOUNT)
        .args(mounts_to_drop())
        .stdin(if netns.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .map_err(|e| format!("cannot start the sandbox supervisor: {e}"))?;
    let pid = child.id().ok_or("the sandbox supervisor vanished at once")?;
    let gate = child.stdin.take();
    // Reap it whenever it ends (while this process lives; after a restart init does).
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    host::write_pid_file(&layout.shim_pid(), pid)
        .map_err(|e| format!("cannot record the supervisor pid: {e}"))?;
    Ok(Shim { pid, gate })
}

/// Creates [`ROOT_MOUNT`] (a directory on the host's `/run`; the shim's namespace shares the
/// filesystem, only its mounts are private) with parents everyone can search, here rather
/// than with two more programs in every shim.
fn make_root_mount() -> Result<(), RuntimeError> {
    let root = Path::new(ROOT_MOUNT);
    let made = std::fs::create_dir_all(root).and_then(|()| match root.parent() {
        Some(parent) => std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)),
        None => Ok(()),
    });
    made.map_err(|e| {
        RuntimeError::other(format!("cannot create the root mountpoint {ROOT_MOUNT}: {e}"))
    })
}

/// Whether our mount table has a mount at `point` (of type `fstype`, when given).
fn has_mount(point: &str, fstype: Option<&str>) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts.lines().any(|line| {
        let mut fields = line.split(' ').skip(1);
        fields.next() == Some(point) && fstype.is_none_or(|t| fields.next() == Some(t))
    })
}

/// One look at a starting sandbox: `Ok(pid)` once crun has created the container, `Err(status)`
/// when the shim ended without creating it, `None` while neither is known.
///
/// The exit status is read *before* the pid file: a workload that exits within milliseconds can
/// run its whole life between two reads, and crun keeps its pid file after the container ends,
/// so a pid file seen after the status proves the container was created (it then simply
/// exited). Reading the pid file first reported such a workload as a launch failure, without
/// its output.
fn start_outcome(
    exit_code: impl FnOnce() -> Option<i32>,
    container_pid: impl FnOnce() -> Option<u32>,
) -> Option<Result<u32, i32>> {
    let exited = exit_code();
    match container_pid() {
        Some(pid) => Some(Ok(pid)),
        None => exited.map(Err),
    }
}

/// Waits until crun has created the container (its pid file exists). `Err` when the shim
/// finished first or `timeout` passed, with the end of `stderr.log`, where crun's and the
/// shim's own complaints land.
pub(super) async fn wait_started(layout: &Layout, timeout: Duration) -> Result<u32, RuntimeError> {
    let outcome = host::poll_until(timeout, Duration::from_millis(1), || {
        start_outcome(
            || layout.exit_code(),
            || {
                std::fs::read_to_string(layout.container_pid())
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
            },
        )
    })
    .await;
    let reason = match outcome {
        Some(Ok(pid)) => return Ok(pid),
        Some(Err(code)) if code == SHIM_FAILED => "its setup failed".to_owned(),
        Some(Err(code)) => format!("the runtime exited with status {code}"),
        None => format!("it was not running after {} s", timeout.as_secs()),
    };
    // One line: the message becomes a single log line of the sandbox.
    let tail = host::tail_of(&layout.stderr(), 2000);
    let detail =
        tail.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ");
    Err(RuntimeError::other(if detail.is_empty() {
        format!("the sandbox did not start: {reason}")
    } else {
        format!("the sandbox did not start: {reason}: {detail}")
    }))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::start_outcome;

    /// The files of a sandbox whose workload starts and exits at `tick` 1: each read of either
    /// file moves time on by one tick, as a busy machine can between two reads.
    struct QuickWorkload {
        tick: Cell<u32>,
    }

    impl QuickWorkload {
        fn read<T>(&self, value: T) -> Option<T> {
            let now = self.tick.get();
            self.tick.set(now + 1);
            (now >= 1).then_some(value)
        }
    }

    #[test]
    fn a_workload_that_exits_between_two_reads_counts_as_started() {
        let files = QuickWorkload { tick: Cell::new(0) };
        let outcome = start_outcome(|| files.read(7), || files.read(4242));
        assert_eq!(outcome, Some(Ok(4242)));
    }

    #[test]
    fn an_exit_without_a_pid_file_is_a_launch_failure() {
        assert_eq!(start_outcome(|| Some(125), || None), Some(Err(125)));
        assert_eq!(start_outcome(|| None, || None), None);
        assert_eq!(start_outcome(|| None, || Some(9)), Some(Ok(9)));
    }
}
