//! Whether this host can run sandboxes, and where the tools are.

use crate::runtime::RuntimeError;
use std::path::{Path, PathBuf};

use super::host;

/// Where Debian's `tini` package puts the static binary (it must run inside any image).
const TINI_STATIC: &str = "/usr/bin/tini-static";

/// The install line every missing-dependency message ends with.
const INSTALL_HINT: &str = "apt-get install -y crun tini slirp4netns nftables";

/// Checks root, crun (or runc), tini-static, util-linux, overlayfs and cgroups; returns the OCI
/// runtime's path, or every problem with what to install.
pub(super) fn detect() -> Result<PathBuf, RuntimeError> {
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
        problems.push(missing_engine().to_string());
    }
    if tini_path().is_none() {
        problems.push(format!(
            "tini-static ({TINI_STATIC}, run as each sandbox's init) is not installed: run \
             `{INSTALL_HINT}`"
        ));
    }
    if let Err(problem) = util_linux() {
        problems.push(problem.to_string());
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
    if let Some(engine) = &engine {
        if let Err(problem) = engine_features(engine) {
            problems.push(problem.to_string());
        }
    }
    if let Err(problem) = user_namespaces() {
        problems.push(problem.to_string());
    }
    match engine {
        Some(engine) if problems.is_empty() => {
            repair_dev_null();
            Ok(engine)
        }
        _ => Err(RuntimeError::Unavailable(problems.join("; "))),
    }
}

/// The oldest crun and runc with everything sandboxes rely on: user namespaces joined to an
/// existing network namespace, seccomp rules with `errnoRet` and argument comparisons,
/// per-namespace sysctls. Tested with crun 1.8.1.
const MIN_CRUN: (u32, u32) = (1, 0);
/// See [`MIN_CRUN`].
const MIN_RUNC: (u32, u32) = (1, 1);

/// Checks the OCI runtime's version and that it was built with seccomp (once per process: it
/// runs `--version`).
fn engine_features(engine: &Path) -> Result<(), RuntimeError> {
    static CHECKED: std::sync::OnceLock<Result<(), RuntimeError>> = std::sync::OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let output = std::process::Command::new(engine).arg("--version").output();
            let text = output.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            let text = text.map_err(|e| {
                RuntimeError::Unavailable(format!("`{} --version` failed: {e}", engine.display()))
            })?;
            check_version(&text, engine)
        })
        .clone()
}

/// Checks the `--version` text of crun or runc.
fn check_version(text: &str, engine: &Path) -> Result<(), RuntimeError> {
    let first = text.lines().next().unwrap_or_default();
    let crun = first.starts_with("crun");
    let version = first.split_whitespace().nth(2).unwrap_or_default();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let found = match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor),
        _ => {
            return Err(RuntimeError::Unavailable(format!(
                "cannot tell the version of {} from `{first}`; install crun with `{INSTALL_HINT}`",
                engine.display()
            )));
        }
    };
    let (name, min) = if crun { ("crun", MIN_CRUN) } else { ("runc", MIN_RUNC) };
    if found < min {
        return Err(RuntimeError::Unavailable(format!(
            "{name} {version} is too old: sandboxes need {name} {}.{} or newer (user \
             namespaces, seccomp argument filters); upgrade it with `{INSTALL_HINT}`",
            min.0, min.1
        )));
    }
    // crun lists its build features (`+SECCOMP`), runc its libseccomp version.
    let seccomp = if crun { text.contains("+SECCOMP") } else { text.contains("libseccomp") };
    if !seccomp {
        return Err(RuntimeError::Unavailable(format!(
            "{name} {version} was built without seccomp, which sandboxes need; install the \
             distribution's package with `{INSTALL_HINT}`"
        )));
    }
    Ok(())
}

/// User namespaces must be available (every sandbox runs in one), and the sandboxes' id range
/// must be usable.
fn user_namespaces() -> Result<(), RuntimeError> {
    let max = std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap_or_default();
    if max.trim() == "0" {
        return Err(RuntimeError::Unavailable(
            "user namespaces are disabled (user.max_user_namespaces = 0), and every sandbox \
             runs in one: run `sysctl -w user.max_user_namespaces=15000`"
                .to_owned(),
        ));
    }
    crate::runtime::idmap::range().map(drop)
}

/// The message for a missing OCI runtime.
pub(super) fn missing_engine() -> RuntimeError {
    RuntimeError::Unavailable(format!("crun is not installed: run `{INSTALL_HINT}`"))
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
pub(super) fn util_linux() -> Result<(PathBuf, PathBuf), RuntimeError> {
    match (host::which("setsid"), host::which("unshare")) {
        (Some(setsid), Some(unshare)) => Ok((setsid, unshare)),
        _ => Err(RuntimeError::Unavailable(
            "setsid and unshare are missing: run `apt-get install -y util-linux`".to_owned(),
        )),
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

/// Gives the host's `/dev/null` back to root with mode 0666 when a sandbox's user owns it —
/// what older servers left behind (the engine gave the sandbox's standard input, then
/// `/dev/null`, to the sandbox's user, who could then `chmod` it for the whole machine).
fn repair_dev_null() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = Path::new("/dev/null");
    let Ok(meta) = std::fs::metadata(path) else { return };
    // Only the real null device (character device 1:3).
    let is_null = (meta.mode() & 0o170_000) == 0o020_000 && meta.rdev() == libc::makedev(1, 3);
    if !is_null || (meta.uid() == 0 && meta.gid() == 0 && meta.mode() & 0o777 == 0o666) {
        return;
    }
    let owner = (meta.uid(), meta.gid(), meta.mode() & 0o777);
    let chowned = std::os::unix::fs::chown(path, Some(0), Some(0));
    let chmodded = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666));
    match (chowned, chmodded) {
        (Ok(()), Ok(())) => tracing::warn!(
            "/dev/null was owned by {}:{} with mode {:o} (a sandbox's user, left by an older \
             server): given back to root:root with mode 666",
            owner.0,
            owner.1,
            owner.2
        ),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(
                "/dev/null is owned by {}:{} and cannot be repaired: {e}",
                owner.0,
                owner.1
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_or_seccomp_less_runtimes_are_refused_with_what_to_do() {
        let crun = Path::new("/usr/bin/crun");
        let ok = "crun version 1.8.1\ncommit: f8a0\nspec: 1.0.0\n+SYSTEMD +SECCOMP +CAP\n";
        assert_eq!(check_version(ok, crun), Ok(()));
        let old = check_version("crun version 0.17\n+SECCOMP\n", crun).unwrap_err().to_string();
        assert!(old.contains("too old") && old.contains("apt-get install"), "{old}");
        let bare = check_version("crun version 1.8.1\n+SYSTEMD\n", crun).unwrap_err().to_string();
        assert!(bare.contains("without seccomp"), "{bare}");
        let runc = Path::new("/usr/bin/runc");
        assert_eq!(check_version("runc version 1.1.12\nlibseccomp: 2.5.4\n", runc), Ok(()));
        assert!(check_version("runc version 1.0.3\nlibseccomp: 2.5.4\n", runc).is_err());
        assert!(
            check_version("something else", crun).unwrap_err().to_string().contains("cannot tell")
        );
    }
}
