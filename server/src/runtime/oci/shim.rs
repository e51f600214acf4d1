//! The supervisor ("shim") of one sandbox: a detached shell that outlives the server.
//!
//! It runs in its own session (`setsid`, so no signal aimed at the server's process group
//! reaches it) and in a private mount namespace (`unshare -m --propagation private`), where it
//!
//! 1. mounts, with one `mount --all` of `<dir>/fstab` ([`fstab`]): the sandbox's netns file
//!    bound into the sandbox directory, the size-limited writable layer when there is one
//!    (`quota.rs`), then the overlay root (crun cannot mount `/` itself) on [`ROOT_MOUNT`].
//!    Living only in this namespace and the container's, they disappear with them: the host
//!    mount table never changes. The fixed path is one the sandbox's root (an unprivileged
//!    host uid, see `idmap.rs`) can reach: crun looks the root up as that user, and the
//!    sandbox directory under the server's private data directory is out of its reach,
//! 2. hides the empty cgroup v2 mount of hybrid hosts (crun refuses hybrid mode otherwise) and
//!    drops its copy of `/run/netns` (otherwise this namespace would keep every *other*
//!    sandbox's netns alive),
//! 3. with a network, waits until the server says slirp4netns serves it (`go` on its stdin;
//!    slirp4netns comes up while the shim mounts),
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
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use super::{Layout, host};

/// Status recorded when the shim itself fails before crun runs (like Docker's 125).
const SHIM_FAILED: i32 = 125;

/// Where the shim mounts the sandbox's root, in its own mount namespace (so every sandbox uses
/// the same path). Its parents are searchable by everyone; nothing is ever mounted there on the
/// host.
pub(super) const ROOT_MOUNT: &str = "/run/porter-sandbox/rootfs";

/// The shim. Arguments: `$1` sandbox dir, `$2` container id, `$3` the crun binary, `$4`
/// non-empty when the sandbox joins a network (then crun waits for `go`), `$5` crun's global
/// flag or empty, then the mounts to drop from the new namespace (chosen by the server from its
/// own mount table, which the namespace copies; one `umount` for all of them keeps the start
/// fast). What it mounts is listed in `<dir>/fstab` ([`fstab`]): one `mount` does it all.
const SCRIPT: &str = r#"dir=$1 id=$2 engine=$3 gated=$4 flag=$5
shift 5
fail() { echo "porter-sandbox: $*" >&2; rc=125; }
finish() {
  printf '%s\n' "$rc" >"$dir/exit_code.tmp" && mv -f "$dir/exit_code.tmp" "$dir/exit_code"
  exit 0
}
mount --all --fstab "$dir/fstab" || { fail "cannot mount the sandbox's filesystems (its network \
namespace, its size-limited writable layer on a loop device: are loop devices available?, its \
overlay root)"; finish; }
if [ $# -gt 0 ]; then umount -R -l "$@" 2>/dev/null; fi
if [ -n "$gated" ]; then
  # The server writes `go` once the namespace's way out works; end of input means it failed.
  read -r go || go=
  [ "$go" = go ] || { fail "the sandbox's network did not come up"; finish; }
fi
"$engine" ${flag:+"$flag"} run --bundle "$dir/bundle" --pid-file "$dir/container.pid" "$id"
rc=$?
finish
"#;

/// The mounts of the shim's namespace, in order, as an fstab for `mount --all`: the sandbox's
/// network namespace bound into its directory (`netns`), the size-limited writable layer when
/// there is one (`quota.rs`), and the overlay root on [`ROOT_MOUNT`] (`lower` is
/// `top:…:image`). The bind comes first: the shim then drops `/run/netns` from its namespace.
fn fstab(dir: &Path, lower: &str, netns: Option<&Path>) -> String {
    let field = |text: &str| {
        // fstab's escapes (libmount unmangles them); newlines are refused earlier.
        text.replace('\\', "\\134").replace(' ', "\\040").replace('\t', "\\011")
    };
    let path = |p: &Path| field(&p.to_string_lossy());
    let mut table = String::new();
    if let Some(netns) = netns {
        table += &format!("{} {} none bind 0 0\n", path(netns), path(&dir.join("netns")));
    }
    let mut rw = dir.to_path_buf();
    if dir.join("layer.img").is_file() {
        rw = dir.join("layer");
        table += &format!("{} {} ext4 loop 0 0\n", path(&dir.join("layer.img")), path(&rw));
    }
    let options = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        rw.join("upper").to_string_lossy(),
        rw.join("work").to_string_lossy()
    );
    table += &format!("overlay {} overlay {} 0 0\n", field(ROOT_MOUNT), field(&options));
    table
}

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
    let table = layout.dir.join("fstab");
    std::fs::write(&table, fstab(&layout.dir, &lower, netns))
        .map_err(|e| RuntimeError::other(format!("cannot write {}: {e}", table.display())))?;
    let stdout = open_log(&layout.stdout())?;
    let stderr = open_log(&layout.stderr())?;
    let mut child = tokio::process::Command::new(setsid)
        .arg(unshare)
        .args(["-m", "--propagation", "private", host::SH, "-c", SCRIPT, "shim"])
        .arg(&layout.dir)
        .arg(&layout.id)
        .arg(engine)
        .arg(if netns.is_some() { "1" } else { "" })
        .arg(engine_flag(engine))
        .args(mounts_to_drop())
        // Never the host's /dev/null: crun gives the container's standard input to its user.
        // With a network, the gate (closed after `go`, so the container reads its end);
        // without, an input that has already ended.
        .stdin(if netns.is_some() {
            Stdio::piped()
        } else {
            crate::runtime::empty_stdin().map_err(|e| format!("cannot make a pipe: {e}"))?
        })
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

/// Starts waiting in [`wait_started`] right now, in this process.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// One start's share of [`WAITING`] while it waits.
struct Waiting;

impl Waiting {
    fn begin() -> Self {
        WAITING.fetch_add(1, Ordering::Relaxed);
        Waiting
    }

    /// How often this start looks at its files: every millisecond when it is alone, less often
    /// the more starts wait (a millisecond each, up to [`MAX_POLL`]), so that a burst of
    /// starts does not spend the cores on reading pid files instead of starting containers.
    fn interval(&self) -> Duration {
        let waiting = u32::try_from(WAITING.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        (Duration::from_millis(1) * waiting.max(1)).min(MAX_POLL)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The longest pause between two looks at a starting sandbox.
const MAX_POLL: Duration = Duration::from_millis(20);

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
    let waiting = Waiting::begin();
    let deadline = tokio::time::Instant::now() + timeout;
    let outcome = loop {
        let outcome = start_outcome(
            || layout.exit_code(),
            || {
                std::fs::read_to_string(layout.container_pid())
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
            },
        );
        if outcome.is_some() || tokio::time::Instant::now() >= deadline {
            break outcome;
        }
        tokio::time::sleep(waiting.interval()).await;
    };
    drop(waiting);
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
    #![allow(clippy::unwrap_used)]
    use std::{cell::Cell, path::Path};

    use super::{ROOT_MOUNT, start_outcome};

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
    fn the_fstab_binds_the_netns_first_then_the_layer_then_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("my sandbox");
        std::fs::create_dir(&sandbox).unwrap();
        let d = sandbox.to_string_lossy().replace(' ', "\\040");
        let plain = super::fstab(&sandbox, "/img", None);
        assert_eq!(
            plain,
            format!(
                "overlay {ROOT_MOUNT} overlay lowerdir=/img,upperdir={d}/upper,workdir={d}/work 0 0\n"
            )
        );
        std::fs::write(sandbox.join("layer.img"), b"").unwrap();
        let full = super::fstab(&sandbox, "/top:/img", Some(Path::new("/run/netns/sbx-a")));
        let lines: Vec<&str> = full.lines().collect();
        assert_eq!(lines[0], format!("/run/netns/sbx-a {d}/netns none bind 0 0"));
        assert_eq!(lines[1], format!("{d}/layer.img {d}/layer ext4 loop 0 0"));
        assert!(lines[2].contains(&format!("lowerdir=/top:/img,upperdir={d}/layer/upper,")));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn an_exit_without_a_pid_file_is_a_launch_failure() {
        assert_eq!(start_outcome(|| Some(125), || None), Some(Err(125)));
        assert_eq!(start_outcome(|| None, || None), None);
        assert_eq!(start_outcome(|| None, || Some(9)), Some(Ok(9)));
    }
}
