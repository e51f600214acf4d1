//! OCI `config.json` and exec process specs: the isolation of every sandbox is decided here.
//!
//! - Namespaces: pid, mount, ipc, uts, cgroup, network (a fresh one with only `lo`, or the
//!   pre-made netns that slirp4netns serves).
//! - The workload runs under tini (`/dev/init`, a read-only bind of `tini-static`) so that it
//!   gets signals (a shell at pid 1 ignores SIGTERM) and orphans are reaped.
//! - Capabilities: the `crun spec` default set (AUDIT_WRITE, KILL, NET_BIND_SERVICE), no
//!   ambient ones, so a non-root workload has none effective; `noNewPrivileges`.
//! - A deny-list seccomp profile whose main job is blocking user namespaces (with them, an
//!   unprivileged process could gain CAP_SYS_ADMIN over a new mount namespace) and the
//!   kernel-wide syscalls (mount, kexec, modules, bpf, ptrace, keyrings, io_uring...).
//! - The default masked and read-only `/proc` paths; `/sys` read-only.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runtime::{BindMount, LaunchSpec, Limits};

/// Where tini is bind-mounted inside every sandbox.
pub(super) const INIT_PATH: &str = "/dev/init";

/// The `PATH` a process gets when its environment has none.
pub(super) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Upper bound for `RLIMIT_NOFILE` inside sandboxes (lowered to the server's own hard limit).
const MAX_NOFILE: u64 = 1 << 16;

/// CFS period for CPU limits, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// What an exec needs from the sandbox's launch: its user, working directory and environment
/// (stored as `process.json` in the sandbox directory, so it survives a server restart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ProcessDefaults {
    /// Uid the workload runs as.
    pub uid: u32,
    /// Gid the workload runs as.
    pub gid: u32,
    /// Working directory.
    pub cwd: String,
    /// `KEY=VALUE` environment of the workload.
    pub env: Vec<String>,
}

impl ProcessDefaults {
    /// The defaults of a sandbox launched from `spec` (adds `PATH` and `HOME` when missing).
    pub(super) fn from_spec(spec: &LaunchSpec) -> Self {
        let mut env = merge_env(&[], &spec.env);
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", home_of(&spec.rootfs, spec.user.0)));
        }
        let cwd = if spec.cwd.starts_with('/') { spec.cwd.clone() } else { "/".to_owned() };
        Self { uid: spec.user.0, gid: spec.user.1, cwd, env }
    }
}

/// `base` overridden by `overrides` (same key → replaced in place), with a default `PATH`.
pub(super) fn merge_env(base: &[String], overrides: &[(String, String)]) -> Vec<String> {
    let mut env: Vec<String> = base.to_vec();
    for (key, value) in overrides {
        let entry = format!("{key}={value}");
        let prefix = format!("{key}=");
        match env.iter_mut().find(|e| e.starts_with(&prefix)) {
            Some(slot) => *slot = entry,
            None => env.push(entry),
        }
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    env
}

/// The home directory of `uid` according to the image's `/etc/passwd` (`/` when unknown).
fn home_of(rootfs: &Path, uid: u32) -> String {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(uid))
        .and_then(|f| f.get(5).filter(|h| h.starts_with('/')).map(|h| (*h).to_owned()))
        .unwrap_or_else(|| if uid == 0 { "/root" } else { "/" }.to_owned())
}

/// Checks a mount target: absolute, normalized, not `/`, no NUL.
fn check_target(target: &str) -> Result<(), String> {
    let bad = !target.starts_with('/')
        || target == "/"
        || target.contains('\0')
        || target.split('/').any(|part| part == ".." || part == ".");
    if bad {
        return Err(format!(
            "mount target {target:?} must be an absolute path below / without . or .. parts"
        ));
    }
    Ok(())
}

fn bind(mount: &BindMount) -> Result<Value, String> {
    check_target(&mount.target)?;
    let source = mount
        .source
        .to_str()
        .ok_or_else(|| format!("mount source {} is not UTF-8", mount.source.display()))?;
    let mode = if mount.read_only { "ro" } else { "rw" };
    Ok(json!({
        "destination": mount.target,
        "type": "bind",
        "source": source,
        "options": ["rbind", mode, "nosuid", "nodev"],
    }))
}

/// The capability set of sandbox processes (the `crun spec` default; no `NET_RAW`).
fn capabilities() -> Value {
    let set = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    json!({
        "bounding": set, "effective": set, "permitted": set, "inheritable": [], "ambient": [],
    })
}

/// `RLIMIT_NOFILE` for sandbox processes: at most the server's hard limit (see
/// [`super::host::nofile_hard_limit`]).
fn rlimits() -> Value {
    let nofile = super::host::nofile_hard_limit().unwrap_or(1024).min(MAX_NOFILE);
    json!([{ "type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile }])
}

/// Syscalls that fail with `EPERM` inside sandboxes.
const DENIED_SYSCALLS: &[&str] = &[
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "add_key",
    "request_key",
    "keyctl",
    "unshare",
    "setns",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "syslog",
    "vhangup",
    "nfsservctl",
    "uselib",
    "_sysctl",
    "sethostname",
    "setdomainname",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fanotify_init",
    "vm86",
    "vm86old",
    "get_kernel_syms",
    "query_module",
];

/// `CLONE_NEWUSER`: `clone` with this flag is refused (user namespaces, see the module docs).
const CLONE_NEWUSER: u64 = 0x1000_0000;

/// The seccomp profile: allow by default, deny the list above. `clone3` gets `ENOSYS` so that
/// libc falls back to `clone`, whose flags (unlike `clone3`'s struct) a filter can inspect.
fn seccomp() -> Value {
    let eperm = 1;
    let enosys = 38;
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            { "action": "SCMP_ACT_ERRNO", "errnoRet": eperm, "names": DENIED_SYSCALLS },
            { "action": "SCMP_ACT_ERRNO", "errnoRet": enosys, "names": ["clone3"] },
            {
                "action": "SCMP_ACT_ERRNO", "errnoRet": eperm, "names": ["clone"],
                "args": [{ "index": 0, "value": CLONE_NEWUSER, "valueTwo": CLONE_NEWUSER,
                           "op": "SCMP_CMP_MASKED_EQ" }],
            },
        ],
    })
}

fn resources(limits: &Limits) -> Value {
    let mut resources = json!({ "devices": [{ "allow": false, "access": "rwm" }] });
    if let Some(bytes) = limits.memory_bytes {
        // swap = limit: no swap on top of the memory limit.
        resources["memory"] = json!({ "limit": bytes, "swap": bytes });
    }
    if let Some(pids) = limits.pids {
        resources["pids"] = json!({ "limit": pids });
    }
    if let Some(millis) = limits.cpu_millis {
        // millis/1000 of a core per period; the kernel's minimum quota is 1 ms.
        let quota = (millis.saturating_mul(CPU_PERIOD_US) / 1000).max(1000);
        resources["cpu"] = json!({ "quota": quota, "period": CPU_PERIOD_US });
    }
    resources
}

/// A process spec (the `process` object of `config.json`, or `crun exec --process`).
fn process(defaults: &ProcessDefaults, args: Vec<String>, env: Vec<String>) -> Value {
    json!({
        "terminal": false,
        "user": { "uid": defaults.uid, "gid": defaults.gid, "additionalGids": [defaults.gid] },
        "args": args,
        "env": env,
        "cwd": defaults.cwd,
        "capabilities": capabilities(),
        "rlimits": rlimits(),
        "noNewPrivileges": true,
        // The kernel's OOM killer should pick a sandbox before the server.
        "oomScoreAdj": 500,
    })
}

/// The process spec of one exec: the sandbox's user and cwd, its environment overridden by `env`.
pub(super) fn exec_process(
    defaults: &ProcessDefaults,
    argv: Vec<String>,
    env: &[(String, String)],
) -> Value {
    process(defaults, argv, merge_env(&defaults.env, env))
}

/// The `config.json` of a sandbox. `root` is the mounted overlay, `netns` the network namespace
/// to join (`None`: a new one with only loopback), `tini` the host's `tini-static`.
pub(super) fn config(
    spec: &LaunchSpec,
    defaults: &ProcessDefaults,
    root: &Path,
    netns: Option<&Path>,
    tini: &Path,
) -> Result<Value, String> {
    if spec.argv.is_empty() {
        return Err("the sandbox has no command to run".to_owned());
    }
    let utf8 = |p: &Path| {
        p.to_str().map(str::to_owned).ok_or_else(|| format!("path {} is not UTF-8", p.display()))
    };
    let mut args = vec![INIT_PATH.to_owned(), "--".to_owned()];
    args.extend(spec.argv.iter().cloned());

    let mut mounts = vec![
        json!({ "destination": "/proc", "type": "proc", "source": "proc" }),
        json!({ "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] }),
        json!({ "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] }),
        json!({ "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] }),
        json!({ "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"] }),
        json!({ "destination": "/sys", "type": "sysfs", "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"] }),
    ];
    for mount in &spec.image_mounts {
        mounts.push(bind(mount)?);
    }
    mounts.push(json!({
        "destination": INIT_PATH, "type": "bind", "source": utf8(tini)?,
        "options": ["bind", "ro", "nosuid", "nodev"],
    }));
    for mount in &spec.mounts {
        mounts.push(bind(mount)?);
    }

    let mut network = json!({ "type": "network" });
    if let Some(path) = netns {
        network["path"] = Value::String(utf8(path)?);
    }
    // Hostnames are at most 64 bytes; sandbox ids are DNS labels (≤ 63).
    let hostname: String = spec.sandbox_id.chars().take(63).collect();
    Ok(json!({
        "ociVersion": "1.0.2",
        "process": process(defaults, args, defaults.env.clone()),
        "root": { "path": utf8(root)?, "readonly": false },
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "cgroupsPath": format!("/{}/{}", super::CGROUP_PARENT, spec.sandbox_id),
            "namespaces": [
                { "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" },
                { "type": "cgroup" }, network,
            ],
            // Per network namespace: binding low ports and ICMP sockets need no capability.
            "sysctl": {
                "net.ipv4.ip_unprivileged_port_start": "0",
                "net.ipv4.ping_group_range": "0 2147483647",
            },
            "resources": resources(&spec.limits),
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
            "seccomp": seccomp(),
        },
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::path::PathBuf;

    use super::*;
    use crate::runtime::NetworkMode;

    fn spec() -> LaunchSpec {
        LaunchSpec {
            sandbox_id: "sb-abc".into(),
            rootfs: PathBuf::from("/nonexistent"),
            layers: Vec::new(),
            image_mounts: vec![BindMount {
                source: "/usr".into(),
                target: "/usr".into(),
                read_only: true,
            }],
            argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
            env: vec![("A".into(), "1".into())],
            cwd: "/tmp".into(),
            user: (1000, 1000),
            mounts: vec![BindMount {
                source: "/data/v1".into(),
                target: "/data".into(),
                read_only: false,
            }],
            network: NetworkMode::None,
            limits: Limits {
                memory_bytes: Some(64 << 20),
                pids: Some(64),
                cpu_millis: Some(500),
                disk_bytes: None,
            },
        }
    }

    #[test]
    fn config_has_isolation_and_limits() {
        let spec = spec();
        let defaults = ProcessDefaults::from_spec(&spec);
        assert_eq!(
            defaults.env,
            ["PATH=".to_owned() + DEFAULT_PATH, "A=1".into(), "HOME=/".into()]
        );
        let c = config(&spec, &defaults, Path::new("/s/merged"), None, Path::new("/t")).unwrap();
        assert_eq!(c["process"]["args"][0], "/dev/init");
        assert_eq!(c["process"]["args"][2], "sh");
        assert_eq!(c["process"]["user"]["uid"], 1000);
        assert_eq!(c["process"]["noNewPrivileges"], true);
        assert_eq!(c["hostname"], "sb-abc");
        assert_eq!(c["linux"]["cgroupsPath"], "/porter-sandbox/sb-abc");
        assert_eq!(c["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(c["linux"]["resources"]["pids"]["limit"], 64);
        assert_eq!(c["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert!(c["linux"]["namespaces"][5].get("path").is_none());
        let mounts = c["mounts"].as_array().unwrap();
        let usr = mounts.iter().find(|m| m["destination"] == "/usr").unwrap();
        assert_eq!(usr["options"][1], "ro");
        let data = mounts.iter().find(|m| m["destination"] == "/data").unwrap();
        assert_eq!(data["options"][1], "rw");
        let with_net =
            config(&spec, &defaults, Path::new("/s"), Some(Path::new("/s/netns")), Path::new("/t"))
                .unwrap();
        assert_eq!(with_net["linux"]["namespaces"][5]["path"], "/s/netns");
    }

    #[test]
    fn rejects_bad_targets() {
        for bad in ["data", "/", "/a/../b", "/a/./b"] {
            let mut spec = spec();
            spec.mounts[0].target = bad.into();
            let defaults = ProcessDefaults::from_spec(&spec);
            assert!(
                config(&spec, &defaults, Path::new("/r"), None, Path::new("/t")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn exec_env_overrides_the_workload_env() {
        let defaults = ProcessDefaults {
            uid: 0,
            gid: 0,
            cwd: "/".into(),
            env: vec!["PATH=/bin".into(), "A=1".into()],
        };
        let p = exec_process(
            &defaults,
            vec!["env".into()],
            &[("A".into(), "2".into()), ("B".into(), "3".into())],
        );
        assert_eq!(p["env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(p["user"]["uid"], 0);
    }
}
