//! The subordinate id range every sandbox's user namespace maps to.
//!
//! Container uids and gids `0..65536` are host ids `BASE..BASE+65536`: root in a sandbox is host
//! uid `BASE`, never host root, and container uid 1000 is not the host's uid 1000. One range is
//! shared by all sandboxes, so a volume used by two sandboxes has one owner in both.
//!
//! `BASE` comes from the entries of a user named [`RANGE_OWNER`] in `/etc/subuid` and
//! `/etc/subgid` (each must hold at least 65536 ids), for instance
//! `porter-sandbox:100000000:65536`. Without such entries it is [`DEFAULT_BASE`] (100,000,000:
//! far above the usual `useradd` ranges from 100,000, below 2^31 so that tools reading ids as
//! signed numbers still work). If another user's entry overlaps the default range, sandboxes
//! are refused with a message asking for a `porter-sandbox` entry, rather than sharing ids with
//! that user's containers.
//!
//! Image files are shifted into the range when an image is unpacked; the server's own writes
//! into volumes should be given to the sandbox root with [`give_to_sandbox_root`].

use crate::runtime::RuntimeError;
use std::io;
use std::path::Path;
use std::sync::OnceLock;

/// The user whose `/etc/subuid` and `/etc/subgid` entries name the range.
pub const RANGE_OWNER: &str = "porter-sandbox";
/// The first host id of the range when `/etc/subuid` has no entry for [`RANGE_OWNER`].
pub const DEFAULT_BASE: u32 = 100_000_000;
/// How many ids a sandbox sees (container ids `0..SIZE`).
pub const SIZE: u32 = 65_536;
/// The container id that ids outside `0..SIZE` (in image layers) become: `nobody`.
pub const OVERFLOW_ID: u32 = 65_534;

/// Where container ids start on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// Host uid of container uid 0.
    pub uid_base: u32,
    /// Host gid of container gid 0.
    pub gid_base: u32,
}

impl IdRange {
    /// The host uid of container uid `uid` (ids outside the range become `nobody`).
    #[must_use]
    pub fn host_uid(self, uid: u32) -> u32 {
        self.uid_base + if uid < SIZE { uid } else { OVERFLOW_ID }
    }

    /// The host gid of container gid `gid` (ids outside the range become `nogroup`).
    #[must_use]
    pub fn host_gid(self, gid: u32) -> u32 {
        self.gid_base + if gid < SIZE { gid } else { OVERFLOW_ID }
    }

    /// Whether host uid `uid` belongs to the range.
    #[must_use]
    pub fn contains_uid(self, uid: u32) -> bool {
        uid.checked_sub(self.uid_base).is_some_and(|c| c < SIZE)
    }
}

/// The range of this host (read once from `/etc/subuid` and `/etc/subgid`). The error says
/// what to add to those files.
pub fn range() -> Result<IdRange, RuntimeError> {
    static RANGE: OnceLock<Result<IdRange, RuntimeError>> = OnceLock::new();
    RANGE
        .get_or_init(|| {
            let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
            Ok(IdRange {
                uid_base: choose(&read("/etc/subuid"), "/etc/subuid")?,
                gid_base: choose(&read("/etc/subgid"), "/etc/subgid")?,
            })
        })
        .clone()
}

/// Gives `path` (not following a symlink) to root of the sandboxes, so that sandbox processes
/// running as root can change it: the files API calls this for every file or directory it
/// creates in a volume.
///
/// # Errors
/// The `lchown` failed, or the id range is unusable.
pub fn give_to_sandbox_root(path: &Path) -> io::Result<()> {
    let range = range().map_err(io::Error::other)?;
    std::os::unix::fs::lchown(path, Some(range.uid_base), Some(range.gid_base))
}

/// The base from the text of `/etc/subuid` or `/etc/subgid` (`name:start:count` lines).
fn choose(text: &str, file: &str) -> Result<u32, RuntimeError> {
    let entries: Vec<(&str, u64, u64)> = text
        .lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (name, start, count) = (f.next()?, f.next()?, f.next()?);
            Some((name, start.parse().ok()?, count.parse().ok()?))
        })
        .collect();
    if let Some((_, start, count)) = entries.iter().find(|(name, ..)| *name == RANGE_OWNER) {
        let fits = *count >= u64::from(SIZE) && start + u64::from(SIZE) <= u64::from(u32::MAX);
        return match u32::try_from(*start) {
            Ok(start) if fits && start > 0 => Ok(start),
            _ => Err(RuntimeError::Unavailable(format!(
                "the `{RANGE_OWNER}` entry of {file} must start above 0 and hold at least \
                 {SIZE} ids (e.g. `{RANGE_OWNER}:{DEFAULT_BASE}:{SIZE}`); fix it and restart"
            ))),
        };
    }
    let (lo, hi) = (u64::from(DEFAULT_BASE), u64::from(DEFAULT_BASE) + u64::from(SIZE));
    if let Some((name, start, count)) = entries.iter().find(|(_, s, c)| *s < hi && s + c > lo) {
        return Err(RuntimeError::Unavailable(format!(
            "the sandboxes' default id range {lo}-{} overlaps the ids of `{name}` in {file} \
             ({start}+{count}); add a free range for sandboxes to /etc/subuid and /etc/subgid, \
             e.g. `{RANGE_OWNER}:START:{SIZE}`, and restart the server",
            hi - 1
        )));
    }
    Ok(DEFAULT_BASE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_comes_from_the_porter_sandbox_entry_or_the_default() {
        assert_eq!(choose("", "f"), Ok(DEFAULT_BASE));
        assert_eq!(choose("alice:100000:65536\nbob:165536:65536\n", "f"), Ok(DEFAULT_BASE));
        assert_eq!(choose("alice:100000:65536\nporter-sandbox:300000:65536", "f"), Ok(300_000));
        let clash = choose("alice:99999999:10", "f").unwrap_err().to_string();
        assert!(clash.contains("alice") && clash.contains("porter-sandbox:START"), "{clash}");
        assert!(choose("porter-sandbox:300000:100", "f").is_err());
        assert!(choose("porter-sandbox:0:65536", "f").is_err());
    }

    #[test]
    fn ids_outside_the_range_become_nobody() {
        let r = IdRange { uid_base: 1000, gid_base: 2000 };
        assert_eq!(r.host_uid(0), 1000);
        assert_eq!(r.host_gid(5), 2005);
        assert_eq!(r.host_uid(70_000), 1000 + OVERFLOW_ID);
        assert!(r.contains_uid(1000) && r.contains_uid(66_535) && !r.contains_uid(66_536));
        assert!(!r.contains_uid(0));
    }
}
