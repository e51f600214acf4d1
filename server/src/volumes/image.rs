//! Size-limited storage enforced by the filesystem: a sparse ext4 image file, loop-mounted.
//!
//! A disk volume (and a sandbox's writable layer) lives in its own ext4 filesystem of a fixed
//! size, so a writer that fills it gets `ENOSPC` from the kernel while the host's disk keeps
//! its free space. The image file is sparse: it takes only the blocks actually written.
//! `mount -o loop` attaches the loop device with auto-clear, so the device is released as soon
//! as the last mount of the filesystem (in any mount namespace) is gone.
//!
//! Everything here blocks (it runs `mkfs.ext4`, `mount`, `umount`): call it off the async
//! runtime's worker threads.

use std::{
    fs::OpenOptions,
    io,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// Mount options of volume filesystems on the host: files a sandbox leaves in a volume can
/// never act as setuid programs or device nodes there.
pub const VOLUME_MOUNT_OPTIONS: &str = "nosuid,nodev";

/// Why an image could not be made or mounted.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The disk holding the data directory is full.
    #[error("{0}")]
    NoSpace(String),
    /// Anything else (a missing tool, no loop device, …); the message says what.
    #[error("{0}")]
    Failed(String),
}

/// Directories searched after `$PATH`: service managers often drop the sbin ones.
const EXTRA_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

fn which(name: &str) -> Result<PathBuf, ImageError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            ImageError::Failed(format!(
                "`{name}` is not installed; disk size limits need it: run `apt-get install -y \
                 e2fsprogs util-linux mount`"
            ))
        })
}

/// Runs `program args…`; a failure carries its stderr.
fn run(program: &str, args: &[&std::ffi::OsStr]) -> Result<(), ImageError> {
    let output = Command::new(which(program)?)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ImageError::Failed(format!("cannot run {program}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let message = format!("{program} failed ({}): {stderr}", output.status);
    if stderr.contains("No space left on device") {
        Err(ImageError::NoSpace(message))
    } else {
        Err(ImageError::Failed(message))
    }
}

/// Creates the sparse image `image` of `size` bytes holding an empty ext4 filesystem — or, with
/// `populate`, a copy of that directory (owners and modes included). Nothing is left behind on
/// failure. About 20–40 ms for 10 GiB: the inode tables and journal are initialised lazily.
pub fn create(image: &Path, size: u64, populate: Option<&Path>) -> Result<(), ImageError> {
    let made = make(image, size, populate);
    if made.is_err() {
        let _ = std::fs::remove_file(image);
    }
    made
}

fn make(image: &Path, size: u64, populate: Option<&Path>) -> Result<(), ImageError> {
    let file = OpenOptions::new().write(true).create_new(true).open(image).map_err(|e| {
        classify(&e, format_args!("cannot create the disk image {}", image.display()))
    })?;
    file.set_len(size).map_err(|e| {
        classify(&e, format_args!("cannot size the disk image {}", image.display()))
    })?;
    drop(file);
    let mut args: Vec<&std::ffi::OsStr> = [
        "-q",
        "-F",
        // No blocks reserved for root: the whole size is the sandbox's.
        "-m",
        "0",
        // Never grown online, so the reserved GDT blocks are waste (and cost mkfs time).
        "-O",
        "^resize_inode",
        "-E",
        "lazy_itable_init=1,lazy_journal_init=1",
    ]
    .iter()
    .map(std::ffi::OsStr::new)
    .collect();
    if let Some(dir) = populate {
        args.extend([std::ffi::OsStr::new("-d"), dir.as_os_str()]);
    }
    args.push(image.as_os_str());
    run("mkfs.ext4", &args)
}

/// Loop-mounts `image` on the directory `at` with `options` (comma-separated, may be empty).
pub fn mount(image: &Path, at: &Path, options: &str) -> Result<(), ImageError> {
    let options = if options.is_empty() { "loop".to_owned() } else { format!("loop,{options}") };
    run(
        "mount",
        &[
            "-t".as_ref(),
            "ext4".as_ref(),
            "-o".as_ref(),
            options.as_ref(),
            image.as_ref(),
            at.as_ref(),
        ],
    )
}

/// Unmounts `at` in this mount namespace, lazily when it is busy (an open file keeps the
/// filesystem alive until closed; the loop device goes with it).
pub fn unmount(at: &Path) -> Result<(), ImageError> {
    if run("umount", &[at.as_os_str()]).is_ok() {
        return Ok(());
    }
    run("umount", &["-l".as_ref(), at.as_os_str()])
}

/// The device (`major:minor`) mounted at `at` in this mount namespace, if anything is.
pub fn mounted_device(at: &Path) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    device_in(&text, at)
}

fn device_in(mountinfo: &str, at: &Path) -> Option<String> {
    // The last mount at a point is the one visible there.
    mountinfo.lines().rev().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let point = unescape(fields.get(4)?);
        let device = fields.get(2)?;
        (Path::new(&point) == at).then(|| (*device).to_owned())
    })
}

/// Unmounts the copies of the mount at `at` (device `device`) that other mount namespaces took
/// when they were created — sandbox supervisors and helpers unshare the mount namespace, which
/// copies every mount of the host. Without this, a deleted volume's filesystem (and its loop
/// device and disk space) would live on until those processes end.
pub fn evict_copies(at: &Path, device: &str) {
    let own = std::fs::read_link("/proc/self/ns/mnt").ok();
    let mut seen = std::collections::HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return };
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else {
            continue;
        };
        let proc_dir = entry.path();
        let Ok(ns) = std::fs::read_link(proc_dir.join("ns/mnt")) else { continue };
        if Some(&ns) == own.as_ref() || !seen.insert(ns) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(proc_dir.join("mountinfo")) else { continue };
        if device_in(&text, at).as_deref() != Some(device) {
            continue;
        }
        let ns_path = proc_dir.join("ns/mnt");
        let mut target = std::ffi::OsString::from("--mount=");
        target.push(&ns_path);
        if let Err(err) =
            run("nsenter", &[&target, "umount".as_ref(), "-l".as_ref(), at.as_os_str()])
        {
            tracing::warn!(
                "cannot release {} in the mount namespace of pid {pid}: {err}",
                at.display()
            );
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn classify(err: &io::Error, doing: std::fmt::Arguments<'_>) -> ImageError {
    let message = format!("{doing}: {err}");
    if matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) {
        ImageError::NoSpace(message)
    } else {
        ImageError::Failed(message)
    }
}

/// Loop devices whose backing file is `image` (from sysfs); for checks and tests.
#[must_use]
pub fn loop_devices_of(image: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let backing = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            let backing = backing.trim().trim_end_matches(" (deleted)");
            (Path::new(backing) == image).then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn finds_the_device_of_a_mount_point() {
        let info = "36 35 98:0 /mnt1 /mnt/a\\040b rw - ext3 /dev/root rw\n\
                    37 36 7:3 / /data/volumes/vol-1 rw - ext4 /dev/loop3 rw\n";
        assert_eq!(device_in(info, Path::new("/data/volumes/vol-1")).as_deref(), Some("7:3"));
        assert_eq!(device_in(info, Path::new("/mnt/a b")).as_deref(), Some("98:0"));
        assert_eq!(device_in(info, Path::new("/data/volumes")), None);
    }
}
