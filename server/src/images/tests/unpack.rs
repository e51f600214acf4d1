//! Layer application on its own: confinement, metadata, whiteouts.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::*;
use crate::images::ImageError;
use crate::images::unpack::apply_layer;
use crate::runtime::idmap::IdRange;

/// The id range layers are unpacked into here.
const IDS: IdRange = IdRange { uid_base: 100_000, gid_base: 200_000 };

/// A root to unpack into and a canary directory beside it.
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("canary"), "untouched").unwrap();
    (tmp, root, outside)
}

fn apply(root: &Path, entries: &[Entry]) -> Result<(), ImageError> {
    apply_layer(root, tar_of(entries).as_slice(), IDS)
}

fn assert_canary(outside: &Path) {
    assert_eq!(fs::read_to_string(outside.join("canary")).unwrap(), "untouched");
    assert_eq!(fs::metadata(outside.join("canary")).unwrap().nlink(), 1);
    assert_eq!(fs::read_dir(outside).unwrap().count(), 1, "nothing new appeared outside");
}

#[test]
fn dot_dot_entries_are_refused() {
    let (_tmp, root, outside) = setup();
    for path in ["../evil", "a/../../evil", "./../outside/canary"] {
        let err = apply(&root, &[file(path, "pwned")]).unwrap_err();
        assert!(matches!(&err, ImageError::Invalid(m) if m.contains(path)), "{err:?}");
    }
    assert_canary(&outside);
}

#[test]
fn absolute_paths_stay_inside_the_root() {
    let (_tmp, root, outside) = setup();
    let canary = outside.join("canary");
    apply(&root, &[file("/etc/x", "inside"), file(canary.to_str().unwrap(), "inside too")])
        .unwrap();
    assert_eq!(fs::read_to_string(root.join("etc/x")).unwrap(), "inside");
    let relative = canary.strip_prefix("/").unwrap();
    assert_eq!(fs::read_to_string(root.join(relative)).unwrap(), "inside too");
    assert_canary(&outside);
}

#[test]
fn writes_through_symlinks_are_confined() {
    let (_tmp, root, outside) = setup();
    let abs = outside.to_str().unwrap();
    apply(
        &root,
        &[
            symlink("abs", abs),
            symlink("rel", "../../../../../../.."),
            symlink("loop", "loop"),
            file("abs/canary", "through an absolute link"),
            file(&format!("rel{abs}/canary"), "through a relative link"),
            dir("rel/made"),
        ],
    )
    .unwrap();
    assert_canary(&outside);
    // Both landed on the same in-root path, as they would inside a container.
    let landed = root.join(outside.strip_prefix("/").unwrap()).join("canary");
    assert_eq!(fs::read_to_string(landed).unwrap(), "through a relative link");
    assert!(root.join("made").is_dir());

    let err = apply(&root, &[file("loop/x", "x")]).unwrap_err();
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("symbolic links")), "{err:?}");
}

#[test]
fn a_file_replaces_a_symlink_instead_of_writing_through_it() {
    let (_tmp, root, outside) = setup();
    let canary = outside.join("canary");
    apply(&root, &[symlink("f", canary.to_str().unwrap())]).unwrap();
    apply(&root, &[file("f", "replaced")]).unwrap();
    assert!(fs::symlink_metadata(root.join("f")).unwrap().is_file());
    assert_eq!(fs::read_to_string(root.join("f")).unwrap(), "replaced");
    // A directory entry over a symlink to a directory replaces the link too.
    apply(&root, &[symlink("d", outside.to_str().unwrap()), dir("d")]).unwrap();
    assert!(fs::symlink_metadata(root.join("d")).unwrap().is_dir());
    assert_canary(&outside);
}

#[test]
fn hard_links_must_point_inside_the_image() {
    let (_tmp, root, outside) = setup();
    let canary = outside.join("canary");
    for target in [canary.to_str().unwrap(), "../outside/canary", "missing"] {
        let err = apply(&root, &[hardlink("h", target)]).unwrap_err();
        assert!(matches!(err, ImageError::Invalid(_)), "{target}: {err:?}");
    }
    // Through a symlink to the outside: resolved inside the root, where nothing exists.
    let err =
        apply(&root, &[symlink("out", outside.to_str().unwrap()), hardlink("h", "out/canary")])
            .unwrap_err();
    assert!(matches!(err, ImageError::Invalid(_)), "{err:?}");
    assert_canary(&outside);
    apply(&root, &[file("a", "data"), hardlink("b", "./a")]).unwrap();
    assert_eq!(
        fs::metadata(root.join("a")).unwrap().ino(),
        fs::metadata(root.join("b")).unwrap().ino()
    );
}

#[test]
fn malformed_whiteouts_are_refused() {
    let (_tmp, root, outside) = setup();
    for path in ["a/.wh..", "a/.wh...", ".wh."] {
        fs::create_dir_all(root.join("a")).unwrap();
        let err = apply(&root, &[file(path, "")]).unwrap_err();
        assert!(matches!(err, ImageError::Invalid(_)), "{path}: {err:?}");
    }
    assert!(root.join("a").is_dir());
    // A whiteout under a symlink to the outside deletes nothing there.
    apply(&root, &[symlink("out", outside.to_str().unwrap()), whiteout("out/canary")]).unwrap();
    assert_canary(&outside);
}

#[test]
fn whiteouts_remove_files_and_whole_directories() {
    let (_tmp, root, _outside) = setup();
    apply(
        &root,
        &[dir("d"), dir("d/sub"), file("d/sub/f", "f"), file("d/g", "g"), file("keep", "k")],
    )
    .unwrap();
    apply(&root, &[whiteout("d/sub"), whiteout("d/missing"), whiteout("keep")]).unwrap();
    assert_eq!(tree(&root), ["d", "d/g"]);
    // Opaque: lower content goes, this layer's content (before or after the marker) stays.
    apply(&root, &[file("d/before", "b"), opaque("d"), dir("d/after"), file("d/after/x", "x")])
        .unwrap();
    assert_eq!(tree(&root), ["d", "d/after", "d/after/x", "d/before"]);
    // An opaque marker for a directory that does not exist yet is harmless.
    apply(&root, &[opaque("new")]).unwrap();
}

#[test]
fn modes_owners_and_times_are_kept_shifted_without_set_id_bits() {
    let (_tmp, root, _outside) = setup();
    let owned =
        Entry { uid: 1234, gid: 5678, mode: 0o4755, mtime: 1_600_000_000, ..file("bin/su", "x") };
    let sgid = Entry { mode: 0o2711, ..file("bin/wall", "x") };
    let sticky = Entry { mode: 0o3777, ..dir("shared") };
    let private =
        Entry { mode: 0o700, uid: 1000, gid: 1000, mtime: 1_500_000_000, ..dir("home/u") };
    let link = Entry { uid: 42, gid: 43, ..symlink("l", "bin/su") };
    let hard = Entry { kind: EntryType::Link, ..symlink("bin/su2", "bin/su") };
    apply(&root, &[private, file("home/u/f", "f"), owned, sgid, sticky, link, hard]).unwrap();
    let su = fs::metadata(root.join("bin/su")).unwrap();
    assert_eq!(su.mode() & 0o7777, 0o755, "set-uid is dropped");
    assert_eq!(fs::metadata(root.join("bin/su2")).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(fs::metadata(root.join("bin/wall")).unwrap().mode() & 0o7777, 0o711);
    // Directories keep set-gid (group inheritance) and sticky.
    assert_eq!(fs::metadata(root.join("shared")).unwrap().mode() & 0o7777, 0o3777);
    assert_eq!(su.mtime(), 1_600_000_000);
    let home = fs::metadata(root.join("home/u")).unwrap();
    assert_eq!(home.mode() & 0o7777, 0o700);
    assert_eq!(home.mtime(), 1_500_000_000, "directory times are set after their children");
    // Implicitly created parents get 0755.
    assert_eq!(fs::metadata(root.join("bin")).unwrap().mode() & 0o7777, 0o755);
    if fs::metadata("/proc/self").unwrap().uid() == 0 {
        assert_eq!((su.uid(), su.gid()), (101_234, 205_678));
        assert_eq!((home.uid(), home.gid()), (101_000, 201_000));
        let l = fs::symlink_metadata(root.join("l")).unwrap();
        assert_eq!((l.uid(), l.gid()), (100_042, 200_043));
    }
}

#[test]
fn device_nodes_are_skipped() {
    let (_tmp, root, _outside) = setup();
    let null = Entry { mode: 0o666, ..entry_of("dev/null", EntryType::Char) };
    let fifo = entry_of("run/fifo", EntryType::Fifo);
    apply(&root, &[null, fifo, file("ok", "ok")]).unwrap();
    assert!(!root.join("dev/null").exists() && !root.join("run/fifo").exists());
    assert!(root.join("ok").is_file());
}

fn entry_of(path: &str, kind: EntryType) -> Entry {
    Entry { kind, ..file(path, "") }
}

#[test]
fn garbage_is_not_a_tar() {
    let (_tmp, root, _outside) = setup();
    let err = apply_layer(&root, &b"this is not a tar archive at all, not even close"[..], IDS)
        .unwrap_err();
    assert!(matches!(err, ImageError::Invalid(_)), "{err:?}");
}
