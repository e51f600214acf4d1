#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Isolation of sandboxes from the host's users: sandboxes run in
//! a user namespace mapped to the sandboxes' id range, so neither their root nor their uid 1000
//! is a host account, and the kernel surface they reach is narrowed. Needs root, crun and tini;
//! skips (with a message) without them.

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::Path,
    process::Command,
};

use porter_sandbox_server::runtime::{BindMount, Runtime, idmap};

#[path = "support/oci.rs"]
mod oci_support;
use oci_support::*;

/// The `Uid:` or `Gid:` line of `/proc/<pid>/status` (real, effective, saved, fs).
fn status_ids(pid: u32, key: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    line[key.len()..].split_whitespace().map(|v| v.parse().unwrap()).collect()
}

/// The pid of the sandbox's init (tini, running as the workload's user), seen from the host.
fn init_pid(h: &Harness, id: &str) -> u32 {
    let text = std::fs::read_to_string(h.state.join(id).join("container.pid")).unwrap();
    text.trim().parse().unwrap()
}

/// A volume directory as the server makes it: owned by host root, 0755.
fn volume(dir: &Path) -> BindMount {
    std::fs::create_dir(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    BindMount { source: dir.to_owned(), target: "/data".into(), read_only: false }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_root_is_an_unprivileged_host_uid_of_the_range() {
    let Some(h) = Harness::new() else { return };
    let ids = idmap::range().unwrap();
    let id = h.id("uidroot");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.user = (0, 0);
    h.start(spec).await;
    assert_eq!(h.exec(&id, &["id", "-u"]).await.0, "0\n", "root inside");
    let pid = init_pid(&h, &id);
    assert_eq!(status_ids(pid, "Uid:"), [ids.uid_base; 4], "sandbox root is host uid BASE");
    assert_eq!(status_ids(pid, "Gid:"), [ids.gid_base; 4]);
    assert_ne!(ids.uid_base, 0);
    // Root's writes to its own filesystem still work (the image and upper layer are its own).
    assert_eq!(
        h.exec(&id, &["sh", "-c", "echo x >/etc/new && cat /etc/passwd >/dev/null"]).await.2,
        0
    );
    assert_eq!(h.exec(&id, &["ls", "-A", "/root"]).await.2, 0);
    h.rt.kill(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_root_writes_into_a_volume_belong_to_the_range_without_set_uid_root() {
    let Some(h) = Harness::new() else { return };
    let ids = idmap::range().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vol");
    let id = h.id("volroot");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.user = (0, 0); // an image with `User: 0`
    spec.mounts = vec![volume(&dir)];
    h.start(spec).await;
    let script = "touch /data/f && mkdir /data/d && cp /bin/true /data/suid && chmod 4755 /data/suid \
                  && stat -c %u:%a /data/suid";
    let (out, err, code) = h.exec(&id, &["sh", "-c", script]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "0:4755\n", "root inside sees its own set-uid file");
    for name in ["f", "d", "suid"] {
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (ids.uid_base, ids.gid_base), "{name}");
    }
    let suid = std::fs::metadata(dir.join("suid")).unwrap();
    assert_ne!(suid.uid(), 0, "a set-uid file owned by host root");
    h.rt.kill(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosts_uid_1000_cannot_reach_a_sandboxs_uid_1000() {
    let Some(h) = Harness::new() else { return };
    let ids = idmap::range().unwrap();
    let id = h.id("uid1000");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.env.push(("API_TOKEN".into(), "s3cret-token".into()));
    h.start(spec).await;
    assert_eq!(h.exec(&id, &["id", "-u"]).await.0, "1000\n");
    let pid = init_pid(&h, &id);
    assert_eq!(status_ids(pid, "Uid:"), [ids.host_uid(1000); 4]);
    let as_1000 = |argv: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=1000", "--regid=1000", "--clear-groups", "--"])
            .args(argv)
            .output()
            .unwrap()
    };
    let environ = format!("/proc/{pid}/environ");
    let read = as_1000(&["cat", &environ]);
    assert!(!read.status.success(), "host uid 1000 read the sandbox's environment");
    assert!(!String::from_utf8_lossy(&read.stdout).contains("s3cret-token"));
    let pid_text = pid.to_string();
    // An attach that worked would trace until the timeout: look for the refusal itself.
    let traced = as_1000(&["timeout", "5", "strace", "-p", &pid_text, "-e", "trace=none"]);
    let said = String::from_utf8_lossy(&traced.stderr);
    assert!(said.contains("Operation not permitted"), "host uid 1000 could ptrace: {said}");
    let root = format!("/proc/{pid}/root/tmp/x");
    assert!(!as_1000(&["touch", &root]).status.success(), "host uid 1000 wrote into its root");
    h.rt.kill(&id).await.unwrap();
}

/// Python inside the sandbox (the host's `/usr` is bound into the test image) creating one
/// socket per `(family, type)`; prints `name:ok` or `name:errno`.
const SOCKETS: &str = r#"
import ctypes, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
def try_(name, family, kind):
    # Through syscall(2) with 64-bit arguments: the filter sees exactly these values.
    fd = libc.syscall(ctypes.c_long(41), ctypes.c_long(family), ctypes.c_long(kind), ctypes.c_long(0))
    print(f"{name}:{'ok' if fd >= 0 else ctypes.get_errno()}")
try_("vsock", 40, socket.SOCK_STREAM)
try_("vsock_high_bits", (1 << 32) | 40, socket.SOCK_STREAM)
try_("packet", 17, socket.SOCK_DGRAM)
try_("alg", 38, socket.SOCK_SEQPACKET)
try_("key", 15, socket.SOCK_RAW)
try_("bluetooth", 31, socket.SOCK_STREAM)
try_("unix", 1, socket.SOCK_STREAM)
try_("inet", 2, socket.SOCK_DGRAM)
try_("inet6", 10, socket.SOCK_DGRAM)
try_("netlink", 16, socket.SOCK_RAW)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vsock_and_other_unneeded_socket_families_are_refused_even_without_egress() {
    use porter_sandbox_server::runtime::{Nat, NetworkMode, egress::AllowList};
    let Some(h) = Harness::new() else { return };
    let no_egress =
        NetworkMode::Nat(Nat { egress: Some(AllowList::parse(&[]).unwrap()), port: None });
    for (name, network) in [("sockn", NetworkMode::None), ("socke", no_egress)] {
        let id = h.id(name);
        let mut spec = h.spec(&id, &["sleep", "1000"]);
        spec.network = network;
        spec.user = (0, 0);
        h.start(spec).await;
        let (out, err, code) = h.exec(&id, &["python3", "-c", SOCKETS]).await;
        assert_eq!(code, 0, "{out}{err}");
        let lines: Vec<&str> = out.lines().collect();
        for refused in ["vsock", "vsock_high_bits", "packet", "alg", "key", "bluetooth"] {
            // 97: EAFNOSUPPORT, as from a kernel without the family.
            assert!(lines.contains(&format!("{refused}:97").as_str()), "{refused} in {out}");
        }
        for allowed in ["unix", "inet", "inet6", "netlink"] {
            assert!(lines.contains(&format!("{allowed}:ok").as_str()), "{allowed} in {out}");
        }
        // Root in the sandbox still cannot configure its network (no CAP_NET_ADMIN, and a
        // pre-made netns belongs to the host's user namespace).
        let (out, err, code) = h.exec(&id, &["ip", "link", "set", "lo", "mtu", "1280"]).await;
        assert_ne!(code, 0, "{out}{err}");
        h.rt.kill(&id).await.unwrap();
    }
}

/// The file-handle bound of one sandbox: `RLIMIT_NOFILE` × its pids limit stays within half
/// the host's file table (`/proc/sys/fs/file-max`), never the 20,000 per process of before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_files_of_a_sandbox_are_bounded_by_half_the_hosts_file_table() {
    let Some(h) = Harness::new() else { return };
    let file_max: u64 =
        std::fs::read_to_string("/proc/sys/fs/file-max").unwrap().trim().parse().unwrap();
    let pids = 1024; // the server's default
    let id = h.id("nofile");
    let mut spec = h.spec(&id, &["sleep", "1000"]);
    spec.limits.pids = Some(pids);
    h.start(spec).await;
    let (out, _, _) = h.exec(&id, &["sh", "-c", "ulimit -Sn; ulimit -Hn"]).await;
    let values: Vec<u64> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(values[0], values[1], "soft and hard");
    let nofile = values[0];
    let documented = (file_max / (2 * pids)).clamp(256, 4096);
    assert_eq!(nofile, documented, "file-max {file_max}");
    assert!(nofile * pids <= file_max / 2 || nofile == 256, "{nofile} × {pids} vs {file_max}");
    eprintln!(
        "file-max {file_max}: RLIMIT_NOFILE {nofile}, at most {} files per sandbox",
        nofile * pids
    );
    // Execs get the same bound.
    let (exec_out, _, _) = h.exec(&id, &["sh", "-c", "ulimit -n"]).await;
    assert_eq!(exec_out.trim(), nofile.to_string());
    h.rt.kill(&id).await.unwrap();
}
