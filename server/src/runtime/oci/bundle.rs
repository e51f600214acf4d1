//! OCI `config.json` and exec process specs: the isolation of every sandbox is decided here.
//!
//! - Namespaces: user, pid, mount, ipc, uts, cgroup, network (a fresh one with only `lo`, or
//!   the pre-made netns that slirp4netns serves).
//! - The user namespace maps container ids `0..65536` to the sandboxes' host id range
//!   ([`crate::runtime::idmap`]): root in a sandbox is not host root, container uid 1000 is not
//!   the host's uid 1000. A pre-made netns belongs to the host's user namespace, so even a
//!   sandbox's root has no capability over it (its sysctls are set when it is made, see
//!   `network.rs`).
//! - The workload runs under tini (`/dev/init`, a read-only bind of `tini-static`) so that it
//!   gets signals (a shell at pid 1 ignores SIGTERM) and orphans are reaped.
//! - Capabilities: the `crun spec` default set (AUDIT_WRITE, KILL, NET_BIND_SERVICE), no
//!   ambient ones, so a non-root workload has none effective; `noNewPrivileges`.
//! - A deny-list seccomp profile (`seccomp.rs`): nested user namespaces, kernel-wide syscalls,
//!   socket families other than unix, inet, inet6 and netlink (no `AF_VSOCK`).
//! - A per-sandbox bound on open files: `RLIMIT_NOFILE` × the pids limit (see [`nofile_limit`]).
//! - The default masked and read-only `/proc` paths; `/sys` read-only.

use crate::runtime::RuntimeError;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runtime::idmap::{self, IdRange};
use crate::runtime::{BindMount, LaunchSpec, Limits};

/// Where tini is bind-mounted inside every sandbox.
pub(super) const INIT_PATH: &str = "/dev/init";

/// The `PATH` a process gets when its environment has none.
pub(super) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Upper bound for `RLIMIT_NOFILE` inside sandboxes.
pub(super) const MAX_NOFILE: u64 = 4096;
/// Lower bound for `RLIMIT_NOFILE` inside sandboxes (shells and package managers need a few
/// hundred).
pub(super) const MIN_NOFILE: u64 = 256;

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
    /// `RLIMIT_NOFILE` of its processes (absent in records of older servers: computed again).
    #[serde(default)]
    pub nofile: Option<u64>,
}

impl ProcessDefaults {
    /// The defaults of a sandbox launched from `spec` (adds `PATH` and `HOME` when missing).
    pub(super) fn from_spec(spec: &LaunchSpec) -> Self {
        let mut env = merge_env(&[], &spec.env);
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", home_of(&spec.rootfs, spec.user.0)));
        }
        let cwd = if spec.cwd.starts_with('/') { spec.cwd.clone() } else { "/".to_owned() };
        let nofile = Some(nofile_limit(spec.limits.pids, super::host::file_max()));
        Self { uid: spec.user.0, gid: spec.user.1, cwd, env, nofile }
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
fn check_target(target: &str) -> Result<(), RuntimeError> {
    let bad = !target.starts_with('/')
        || target == "/"
        || target.contains('\0')
        || target.split('/').any(|part| part == ".." || part == ".");
    if bad {
        return Err(RuntimeError::other(format!(
            "mount target {target:?} must be an absolute path below / without . or .. parts"
        )));
    }
    Ok(())
}

fn bind(mount: &BindMount) -> Result<Value, RuntimeError> {
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

/// `RLIMIT_NOFILE` of the processes of a sandbox with at most `pids` processes on a host whose
/// file table holds `file_max` files: one sandbox may hold at most `nofile × pids` open files,
/// and that is kept to half the host's table (`file_max / (2 × pids)`), within
/// [`MIN_NOFILE`]..=[`MAX_NOFILE`] and the server's own hard limit. With the server's default
/// 1024 pids, a host needs a `fs.file-max` of 8 M for the full 4096 (2.4 M gives 1204); the
/// worst case of one sandbox is then `nofile × 1024` files, at most half the table. Without a
/// pids limit, or with a tiny table, the bound is [`MIN_NOFILE`] per process.
pub(super) fn nofile_limit(pids: Option<u64>, file_max: Option<u64>) -> u64 {
    let share = match (pids, file_max) {
        (Some(pids), Some(max)) if pids > 0 => max / (2 * pids),
        _ => MIN_NOFILE,
    };
    let server = super::host::nofile_hard_limit().unwrap_or(1024);
    share.clamp(MIN_NOFILE, MAX_NOFILE).min(server)
}

/// `RLIMIT_NOFILE` of sandbox processes (see [`nofile_limit`]).
fn rlimits(nofile: u64) -> Value {
    json!([{ "type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile }])
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
        "rlimits": rlimits(
            defaults.nofile.unwrap_or_else(|| nofile_limit(None, super::host::file_max()))
        ),
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

/// The `uidMappings` or `gidMappings` of a sandbox: container ids `0..SIZE` from `base` on.
fn id_mapping(base: u32) -> Value {
    json!([{ "containerID": 0, "hostID": base, "size": idmap::SIZE }])
}

/// The `config.json` of a sandbox. `root` is the mounted overlay, `netns` the network namespace
/// to join (`None`: a new one with only loopback), `tini` the host's `tini-static`, `agent`
/// the exec agent to mount (see `agent.rs`), `ids` the host id range of the user namespace.
pub(super) fn config(
    spec: &LaunchSpec,
    defaults: &ProcessDefaults,
    root: &Path,
    netns: Option<&Path>,
    (tini, agent): (&Path, Option<&Path>),
    ids: IdRange,
) -> Result<Value, RuntimeError> {
    if spec.argv.is_empty() {
        return Err(RuntimeError::Invalid("the sandbox has no command to run".to_owned()));
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
    if let Some(agent) = agent {
        mounts.push(json!({
            "destination": super::agent::AGENT_PATH, "type": "bind", "source": utf8(agent)?,
            "options": ["bind", "ro", "nosuid", "nodev"],
        }));
    }
    for mount in &spec.mounts {
        mounts.push(bind(mount)?);
    }

    let mut network = json!({ "type": "network" });
    // Per network namespace: binding low ports and ICMP sockets need no capability. A fresh
    // netns belongs to the sandbox's user namespace, so crun can set these (ids as seen inside);
    // a pre-made one is the host's and was set up when it was made.
    let mut sysctl = json!({
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.ping_group_range": format!("0 {}", idmap::SIZE - 1),
    });
    if let Some(path) = netns {
        network["path"] = Value::String(utf8(path)?);
        sysctl = json!({});
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
                { "type": "cgroup" }, network, { "type": "user" },
            ],
            "uidMappings": id_mapping(ids.uid_base),
            "gidMappings": id_mapping(ids.gid_base),
            "sysctl": sysctl,
            "resources": resources(&spec.limits),
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi",
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
            ],
            "seccomp": super::seccomp::profile(),
        },
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::path::PathBuf;

    use super::*;
    use crate::runtime::NetworkMode;

    const IDS: IdRange = IdRange { uid_base: 100_000, gid_base: 200_000 };

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
            workload: None,
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
        let c =
            config(&spec, &defaults, Path::new("/s/merged"), None, (Path::new("/t"), None), IDS)
                .unwrap();
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
        let with_net = config(
            &spec,
            &defaults,
            Path::new("/s"),
            Some(Path::new("/s/netns")),
            (Path::new("/t"), Some(Path::new("/a"))),
            IDS,
        )
        .unwrap();
        // The exec agent is mounted read-only when there is one.
        let mounted = with_net["mounts"].as_array().unwrap();
        let agent = mounted.iter().find(|m| m["destination"] == super::super::agent::AGENT_PATH);
        assert_eq!(agent.unwrap()["options"][1], "ro");
        assert!(!c["mounts"].to_string().contains("agent"));
        assert_eq!(with_net["linux"]["namespaces"][5]["path"], "/s/netns");
        // The host's netns cannot be configured from the sandbox's user namespace.
        assert_eq!(with_net["linux"]["sysctl"], json!({}));
        assert_eq!(c["linux"]["sysctl"]["net.ipv4.ping_group_range"], "0 65535");
        // Root and uid 1000 of the sandbox are ids of the range on the host.
        assert_eq!(c["linux"]["namespaces"][6]["type"], "user");
        assert_eq!(
            c["linux"]["uidMappings"],
            json!([{ "containerID": 0, "hostID": 100_000, "size": 65_536 }])
        );
        assert_eq!(c["linux"]["gidMappings"][0]["hostID"], 200_000);
    }

    #[test]
    fn rejects_bad_targets() {
        for bad in ["data", "/", "/a/../b", "/a/./b"] {
            let mut spec = spec();
            spec.mounts[0].target = bad.into();
            let defaults = ProcessDefaults::from_spec(&spec);
            assert!(
                config(&spec, &defaults, Path::new("/r"), None, (Path::new("/t"), None), IDS)
                    .is_err(),
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
            nofile: Some(300),
        };
        let p = exec_process(
            &defaults,
            vec!["env".into()],
            &[("A".into(), "2".into()), ("B".into(), "3".into())],
        );
        assert_eq!(p["env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(p["user"]["uid"], 0);
        assert_eq!(p["rlimits"][0], json!({ "type": "RLIMIT_NOFILE", "hard": 300, "soft": 300 }));
    }

    #[test]
    fn open_files_of_one_sandbox_stay_within_half_the_hosts_table() {
        let server = super::super::host::nofile_hard_limit().unwrap();
        let expect = |n: u64| n.min(server);
        assert_eq!(nofile_limit(Some(1024), Some(2_466_116)), expect(1204));
        assert_eq!(nofile_limit(Some(1024), Some(100_000_000)), expect(MAX_NOFILE));
        assert_eq!(nofile_limit(Some(1024), Some(100_000)), expect(MIN_NOFILE));
        assert_eq!(nofile_limit(None, Some(2_466_116)), expect(MIN_NOFILE));
        assert_eq!(nofile_limit(Some(0), None), expect(MIN_NOFILE));
        for max in [300_000, 2_466_116, 9_000_000] {
            let nofile = nofile_limit(Some(1024), Some(max));
            assert!(nofile * 1024 <= max / 2 || nofile == MIN_NOFILE, "{max}: {nofile}");
        }
    }
}
