//! The `host` image: a tiny skeleton rootfs whose `/usr` is the host's, bind-mounted read-only.
//!
//! The skeleton holds merged-/usr symlinks (`bin -> usr/bin`…), empty mount points, a generated
//! `/etc` (users `root`, `sandbox` 1000:1000 and `nobody`; hosts; DNS via the user-mode NAT's
//! forwarder), `python`/`pip` aliases in [`SHIM_BIN`] where the host has only `python3`/`pip3`,
//! and copies of the few non-secret host files under `/etc` that programs in `/usr`
//! rely on. Nothing is ever read from `/root`, `/home`, `/tmp`, `/var` or any data directory:
//! the only sources are the fixed list in [`ETC_COPIES`], confined to the host's `/etc` and `/usr`.
//!
//! Builds are keyed by a fingerprint of the host facts they depend on (layout, the copied files'
//! identities, [`BUILD_VERSION`]), so an upgraded host or a newer server gets a fresh build
//! while running sandboxes keep the one they were started on.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::flatten::store_io;
use super::{ImageConfig, ImageError};
use crate::runtime::BindMount;
use crate::runtime::idmap::IdRange;

/// Bump when the skeleton changes, so existing builds are replaced.
const BUILD_VERSION: u32 = 2;

/// A skeleton directory on `PATH` ahead of `/usr/bin` for command aliases the host lacks.
pub(crate) const SHIM_BIN: &str = "/opt/porter-sandbox/bin";

/// Aliases created in [`SHIM_BIN`] when the host's `/usr/bin` lacks the name but has the target:
/// Debian and Ubuntu ship `python3` without `python`, yet images and examples run `python`.
const ALIASES: &[(&str, &str)] = &[("python", "python3"), ("pip", "pip3")];

/// The sandbox user's home.
pub(crate) const SANDBOX_HOME: &str = "/home/sandbox";
/// The sandbox user's uid and gid.
const SANDBOX_ID: u32 = crate::runtime::DEFAULT_SANDBOX_USER.0;

/// Top-level directories that merged-/usr systems turn into symlinks into `/usr`.
const USR_LINKS: [&str; 5] = ["bin", "sbin", "lib", "lib64", "lib32"];

/// Empty directories of the skeleton (mount points and writable places) and their modes.
const SKELETON_DIRS: &[(&str, u32)] = &[
    ("usr", 0o755),
    ("etc", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("tmp", 0o1777),
    ("run", 0o755),
    ("var", 0o755),
    ("var/tmp", 0o1777),
    ("home", 0o755),
    ("home/sandbox", 0o755),
    ("root", 0o700),
    ("data", 0o755),
    ("mnt", 0o755),
    ("opt", 0o755),
];

/// Host files under `/etc` that `/usr` depends on, and whether a symlink is followed (copying
/// the file it points at) rather than kept.
const ETC_COPIES: &[(&str, bool)] = &[
    ("alternatives", false), // /usr/bin/awk -> /etc/alternatives/awk -> /usr/bin/mawk
    ("ld.so.cache", true),
    ("ssl/certs", false), // CA bundle; hash links point into /usr/share
    ("localtime", true),
    ("protocols", true),
    ("services", true),
    ("mime.types", true),
];

/// The search path of the `host` image ([`SHIM_BIN`] after the host's own `/usr/local`).
pub(crate) const HOST_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/opt/porter-sandbox/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the host has at one of [`USR_LINKS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TopLevel {
    /// A real directory (not merged into /usr): bind-mounted.
    Directory,
    /// A symlink into /usr, or absent while /usr has it: recreated as a symlink.
    UsrLink,
    /// Neither.
    Absent,
}

fn top_level(host: &Path, name: &str) -> TopLevel {
    match fs::symlink_metadata(host.join(name)) {
        Ok(meta) if meta.is_dir() => TopLevel::Directory,
        _ if host.join("usr").join(name).is_dir() => TopLevel::UsrLink,
        _ => TopLevel::Absent,
    }
}

/// The runtime defaults: an idle sandbox to exec into, as the sandbox user.
pub(crate) fn config() -> ImageConfig {
    ImageConfig {
        entrypoint: Vec::new(),
        cmd: vec!["sleep".to_owned(), "infinity".to_owned()],
        env: vec![
            ("PATH".to_owned(), HOST_PATH.to_owned()),
            ("HOME".to_owned(), SANDBOX_HOME.to_owned()),
        ],
        user: Some(format!("{SANDBOX_ID}:{SANDBOX_ID}")),
        workdir: Some(SANDBOX_HOME.to_owned()),
    }
}

/// The host directories the image needs: `/usr`, plus `/bin`… on hosts without merged /usr.
pub(crate) fn mounts(host: &Path) -> Vec<BindMount> {
    let mut mounts =
        vec![BindMount { source: host.join("usr"), target: "/usr".to_owned(), read_only: true }];
    for name in USR_LINKS {
        if top_level(host, name) == TopLevel::Directory {
            mounts.push(BindMount {
                source: host.join(name),
                target: format!("/{name}"),
                read_only: true,
            });
        }
    }
    mounts
}

/// A short hex fingerprint of everything a build depends on (a few `stat`s: cheap enough to
/// compute on every resolve).
pub(crate) fn fingerprint(host: &Path) -> String {
    let mut facts = format!("porter-sandbox host image v{BUILD_VERSION}\nshell={}\n", shell(host));
    for (alias, target) in aliases(host) {
        facts.push_str(&format!("alias {alias}={target}\n"));
    }
    for name in USR_LINKS {
        facts.push_str(&format!("{name}={:?}\n", top_level(host, name)));
    }
    let etc = host.join("etc");
    for (rel, follow) in ETC_COPIES {
        let path = etc.join(rel);
        facts.push_str(&format!("{rel}: {}\n", identity(&path, *follow)));
        // Files directly inside copied directories (the CA bundle) may be rewritten in place.
        if let Ok(children) = fs::read_dir(&path) {
            let mut lines: Vec<String> = children
                .filter_map(Result::ok)
                .filter(|c| c.file_type().is_ok_and(|t| t.is_file()))
                .map(|c| {
                    format!(
                        "  {}: {}\n",
                        c.file_name().to_string_lossy(),
                        identity(&c.path(), false)
                    )
                })
                .collect();
            lines.sort();
            facts.extend(lines);
        }
    }
    super::digest::sha256_hex(facts.as_bytes())[..16].to_owned()
}

fn identity(path: &Path, follow: bool) -> String {
    let meta = if follow { fs::metadata(path) } else { fs::symlink_metadata(path) };
    match meta {
        Ok(m) => format!(
            "{} {} {} {}.{} {}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime()
        ),
        Err(_) => "absent".to_owned(),
    }
}

/// The sandbox user's login shell.
fn shell(host: &Path) -> &'static str {
    if host.join("usr/bin/bash").exists() { "/bin/bash" } else { "/bin/sh" }
}

/// The [`ALIASES`] this host needs: the name is missing from its `/usr/bin` (and `/usr/local/bin`)
/// while the target is there.
fn aliases(host: &Path) -> Vec<(&'static str, &'static str)> {
    let present = |dir: &str, name: &str| fs::metadata(host.join(dir).join(name)).is_ok();
    ALIASES
        .iter()
        .copied()
        .filter(|(alias, target)| {
            !present("usr/bin", alias)
                && !present("usr/local/bin", alias)
                && present("usr/bin", target)
        })
        .collect()
}

/// The directory name of the build for `host` and the id range `ids`: builds for another range
/// are other builds (their owners differ).
pub(crate) fn build_name(host: &Path, ids: IdRange) -> String {
    format!("{}.{}", fingerprint(host), ids.uid_base)
}

/// Builds the skeleton into the empty directory `dest`, owned by the sandboxes' ids `ids`.
pub(crate) fn build(host: &Path, dest: &Path, ids: IdRange) -> Result<(), ImageError> {
    build_skeleton(host, dest)?;
    shift_owners(dest, ids)
}

/// Shifts the owner of everything under `dir` (host root, uid 1000) into the id range: the
/// skeleton is the sandbox's own `/`, `/root` and `/home/sandbox`. Tolerates not being root.
fn shift_owners(dir: &Path, ids: IdRange) -> Result<(), ImageError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| store_io("inspecting", dir, &e))?;
    let shifted = std::os::unix::fs::lchown(
        dir,
        Some(ids.host_uid(meta.uid())),
        Some(ids.host_gid(meta.gid())),
    );
    match shifted {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Ok(()),
        other => other.map_err(|e| store_io("changing the owner of", dir, &e))?,
    }
    if meta.is_dir() {
        for entry in fs::read_dir(dir).map_err(|e| store_io("listing", dir, &e))? {
            shift_owners(&entry.map_err(|e| store_io("listing", dir, &e))?.path(), ids)?;
        }
    }
    Ok(())
}

/// Builds the skeleton (owned by host ids) into the empty directory `dest`.
fn build_skeleton(host: &Path, dest: &Path) -> Result<(), ImageError> {
    for (dir, mode) in SKELETON_DIRS {
        let path = dest.join(dir);
        fs::create_dir_all(&path).map_err(|e| store_io("creating", &path, &e))?;
        set_mode(&path, *mode)?;
    }
    let shims = dest.join(SHIM_BIN.trim_start_matches('/'));
    fs::create_dir_all(&shims).map_err(|e| store_io("creating", &shims, &e))?;
    for dir in [shims.as_path(), shims.parent().unwrap_or(&shims)] {
        set_mode(dir, 0o755)?;
    }
    for (alias, target) in aliases(host) {
        let link = shims.join(alias);
        std::os::unix::fs::symlink(format!("/usr/bin/{target}"), &link)
            .map_err(|e| store_io("creating the symlink", &link, &e))?;
    }
    let home = dest.join("home/sandbox");
    match std::os::unix::fs::chown(&home, Some(SANDBOX_ID), Some(SANDBOX_ID)) {
        // Not root (a test run): the home just stays ours.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            tracing::warn!(error = %e, "could not give the host image's /home/sandbox to uid 1000");
        }
        other => other.map_err(|e| store_io("changing the owner of", &home, &e))?,
    }
    for name in USR_LINKS {
        let path = dest.join(name);
        match top_level(host, name) {
            TopLevel::UsrLink => std::os::unix::fs::symlink(format!("usr/{name}"), &path)
                .map_err(|e| store_io("creating the symlink", &path, &e))?,
            TopLevel::Directory => {
                fs::create_dir(&path).map_err(|e| store_io("creating", &path, &e))?;
                set_mode(&path, 0o755)?;
            }
            TopLevel::Absent => {}
        }
    }
    let etc = dest.join("etc");
    let files = [
        (
            "passwd",
            format!(
                "root:x:0:0:root:/root:/bin/sh\n\
                 sandbox:x:{SANDBOX_ID}:{SANDBOX_ID}:sandbox:{SANDBOX_HOME}:{}\n\
                 nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
                shell(host)
            ),
        ),
        ("group", format!("root:x:0:\nsandbox:x:{SANDBOX_ID}:\nnogroup:x:65534:\n")),
        (
            "hosts",
            "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n".to_owned(),
        ),
        // 10.0.2.3: the DNS forwarder of the user-mode NAT (harmless without a network).
        ("resolv.conf", "nameserver 10.0.2.3\n".to_owned()),
        (
            "nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n\
             protocols: files\nservices: files\n"
                .to_owned(),
        ),
        ("hostname", "sandbox\n".to_owned()),
    ];
    for (name, content) in files {
        let path = etc.join(name);
        fs::write(&path, content).map_err(|e| store_io("writing", &path, &e))?;
        set_mode(&path, 0o644)?;
    }
    let sources =
        Sources { host, etc: canonical(&host.join("etc")), usr: canonical(&host.join("usr")) };
    for (rel, follow) in ETC_COPIES {
        copy_etc_entry(&sources, rel, *follow, &etc.join(rel))?;
    }
    Ok(())
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), ImageError> {
    fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|e| store_io("setting the mode of", path, &e))
}

/// Where host files may be copied from.
struct Sources<'a> {
    /// The host's root (`/`).
    host: &'a Path,
    /// Its /etc, symlinks resolved.
    etc: PathBuf,
    /// Its /usr, symlinks resolved.
    usr: PathBuf,
}

/// Copies `/etc/<rel>` (absent is fine) to `dst`, provided it really lives in the host's /etc
/// or /usr once symlinks are resolved.
fn copy_etc_entry(
    sources: &Sources<'_>,
    rel: &str,
    follow: bool,
    dst: &Path,
) -> Result<(), ImageError> {
    let src = sources.host.join("etc").join(rel);
    let Ok(real) = fs::canonicalize(&src) else {
        return Ok(()); // absent (or dangling): nothing to copy
    };
    if !real.starts_with(&sources.etc) && !real.starts_with(&sources.usr) {
        tracing::warn!(
            path = %src.display(),
            resolved = %real.display(),
            "not copying a host file that resolves outside /etc and /usr into the host image"
        );
        return Ok(());
    }
    if let Some(parent) = dst.parent() {
        fs::create_dir_all(parent).map_err(|e| store_io("creating", parent, &e))?;
    }
    let meta = fs::symlink_metadata(&src).map_err(|e| host_io(&src, &e))?;
    if meta.file_type().is_symlink() && !follow && !real.is_dir() {
        return copy_symlink(&src, dst);
    }
    if real.is_dir() { copy_tree(&real, dst, sources) } else { copy_file(&real, dst) }
}

fn host_io(path: &Path, e: &io::Error) -> ImageError {
    ImageError::Io(format!(
        "reading the host's `{}` for the host image failed: {e}",
        path.display()
    ))
}

/// Copies a directory like `cp -a`: symlinks are kept, except absolute ones to regular files
/// elsewhere in the host's /etc (which the container's generated /etc would not have): those
/// become copies.
fn copy_tree(src: &Path, dst: &Path, sources: &Sources<'_>) -> Result<(), ImageError> {
    let meta = fs::metadata(src).map_err(|e| host_io(src, &e))?;
    fs::create_dir(dst).map_err(|e| store_io("creating", dst, &e))?;
    set_mode(dst, meta.mode() & 0o7777)?;
    let entries = fs::read_dir(src).map_err(|e| host_io(src, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| host_io(src, &e))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| host_io(&from, &e))?;
        if kind.is_dir() {
            copy_tree(&from, &to, sources)?;
        } else if kind.is_file() {
            copy_file(&from, &to)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from).map_err(|e| host_io(&from, &e))?;
            let in_etc = target
                .strip_prefix("/etc")
                .ok()
                .and_then(|rest| fs::canonicalize(sources.host.join("etc").join(rest)).ok())
                .filter(|real| real.starts_with(&sources.etc) && real.is_file());
            match in_etc {
                Some(real) => copy_file(&real, &to)?,
                None => copy_symlink(&from, &to)?,
            }
        }
        // Sockets, FIFOs and devices have no place in an image.
    }
    Ok(())
}

fn copy_symlink(src: &Path, dst: &Path) -> Result<(), ImageError> {
    let target = fs::read_link(src).map_err(|e| host_io(src, &e))?;
    std::os::unix::fs::symlink(&target, dst).map_err(|e| store_io("creating the symlink", dst, &e))
}

/// Copies a regular file with its mode and time; the copy is owned by root.
fn copy_file(src: &Path, dst: &Path) -> Result<(), ImageError> {
    fs::copy(src, dst)
        .map_err(|e| store_io(&format!("copying `{}` to", src.display()), dst, &e))?;
    let modified = fs::metadata(src).and_then(|m| m.modified());
    if let Ok(modified) = modified {
        let file = fs::File::open(dst).map_err(|e| store_io("opening", dst, &e))?;
        file.set_modified(modified).map_err(|e| store_io("setting the time of", dst, &e))?;
    }
    Ok(())
}
