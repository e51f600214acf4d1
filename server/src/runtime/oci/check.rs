//! Whether this host can run sandboxes, and where the tools are.

use std::path::{Path, PathBuf};

use super::host;

/// Where Debian's `tini` package puts the static binary (it must run inside any image).
const TINI_STATIC: &str = "/usr/bin/tini-static";

/// The install line every missing-dependency message ends with.
const INSTALL_HINT: &str = "apt-get install -y crun tini slirp4netns nftables";

/// Checks root, crun (or runc), tini-static, util-linux, overlayfs and cgroups; returns the OCI
/// runtime's path, or every problem with what to install.
pub(super) fn detect() -> Result<PathBuf, String> {
    let mut problems = Vec::new();
    if host::effective_uid() != Some(0) {
        problems.push(
            "the local sandbox runtime needs root (it creates namespaces, overlay mounts and \
             cgroups): run `sudo porter-sandbox serve`"
                .to_owned(),
        );
    }
    let engine = engine_path();
    if engine.is_none() {
        problems.push(missing_engine());
    }
    if tini_path().is_none() {
        problems.push(format!(
            "tini-static ({TINI_STATIC}, run as each sandbox's init) is not installed: run \
             `{INSTALL_HINT}`"
        ));
    }
    if let Err(problem) = util_linux() {
        problems.push(problem);
    }
    if !overlay_supported() {
        problems.push(
            "the kernel has no overlayfs (not in /proc/filesystems, no overlay module): \
             load it with `modprobe overlay`"
                .to_owned(),
        );
    }
    if !Path::new("/sys/fs/cgroup").is_dir() {
        problems.push("cgroups are not mounted at /sys/fs/cgroup".to_owned());
    }
    match engine {
        Some(engine) if problems.is_empty() => Ok(engine),
        _ => Err(problems.join("; ")),
    }
}

/// The message for a missing OCI runtime.
pub(super) fn missing_engine() -> String {
    format!("crun is not installed: run `{INSTALL_HINT}`")
}

/// crun, else runc.
pub(super) fn engine_path() -> Option<PathBuf> {
    host::which("crun").or_else(|| host::which("runc"))
}

/// The static tini that becomes every sandbox's init.
pub(super) fn tini_path() -> Option<PathBuf> {
    let fixed = PathBuf::from(TINI_STATIC);
    if fixed.is_file() { Some(fixed) } else { host::which("tini-static") }
}

/// `setsid` and `unshare` (util-linux, present on every Debian).
pub(super) fn util_linux() -> Result<(PathBuf, PathBuf), String> {
    match (host::which("setsid"), host::which("unshare")) {
        (Some(setsid), Some(unshare)) => Ok((setsid, unshare)),
        _ => Err("setsid and unshare are missing: run `apt-get install -y util-linux`".to_owned()),
    }
}

fn overlay_supported() -> bool {
    let listed = std::fs::read_to_string("/proc/filesystems")
        .is_ok_and(|t| t.lines().any(|l| l.split_whitespace().last() == Some("overlay")));
    // Not loaded yet: mount(2) loads the module on demand.
    listed || Path::new("/sys/module/overlay").exists() || overlay_module_available()
}

fn overlay_module_available() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let deps = Path::new("/lib/modules").join(release.trim()).join("modules.dep");
    std::fs::read_to_string(deps).is_ok_and(|t| t.contains("/overlay.ko"))
}
