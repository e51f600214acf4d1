//! Moving and renaming (spec/README.md §9): `to` is the full new path, its parent must exist, and
//! nothing is ever overwritten.

use super::{
    FsError, VolumeFs, blocking,
    dir::{Dir, Missing, descend, symlink_error},
    error::io_error,
    mutation_lock,
    paths::VolPath,
};

impl VolumeFs {
    /// Moves the file or directory at `from` to the full path `to`. Missing `from` or a missing
    /// parent of `to` → `NotFound`; anything at `to` → `Conflict`; the root, or a directory into
    /// itself → `InvalidPath`.
    pub async fn move_entry(&self, from: &str, to: &str) -> Result<(), FsError> {
        let from = VolPath::parse(from)?;
        let to = VolPath::parse(to)?;
        let root = self.root.clone();
        blocking(move || {
            let _lock = mutation_lock();
            move_blocking(&root, &from, &to)
        })
        .await
    }
}

fn move_blocking(root: &std::path::Path, from: &VolPath, to: &VolPath) -> Result<(), FsError> {
    let Some(from_name) = from.name() else {
        return Err(FsError::InvalidPath("the volume root \"/\" cannot be moved".to_owned()));
    };
    let Some(to_name) = to.name() else {
        return Err(FsError::Conflict(
            "\"/\" is the volume root and already exists: move never overwrites; give the full \
             new path, such as \"/new-name\""
                .to_owned(),
        ));
    };
    let from_dir = descend(Dir::open_root(root)?, from, from.parts().len() - 1, Missing::Fail)?;
    match from_dir.lstat(from_name).map_err(|e| io_error(e, format_args!("looking up {from}")))? {
        None => return Err(FsError::NotFound(format!("{from} does not exist: nothing to move"))),
        Some(meta) if meta.file_type().is_symlink() => {
            return Err(symlink_error(&from.to_string()));
        }
        Some(_) => {}
    }
    if to.is_strictly_inside(from) {
        return Err(FsError::InvalidPath(format!(
            "cannot move {from} into itself ({to}): choose a path outside it"
        )));
    }
    let to_dir = descend(Dir::open_root(root)?, to, to.parts().len() - 1, Missing::Fail).map_err(
        |e| match e {
            FsError::NotFound(why) => FsError::NotFound(format!(
                "cannot move to {to}: its parent directory {} must exist ({why}); moves do not \
                 create directories — write a file under it first, or choose another path",
                to.prefix(to.parts().len() - 1)
            )),
            other => other,
        },
    )?;
    if to_dir.lstat(to_name).map_err(|e| io_error(e, format_args!("looking up {to}")))?.is_some() {
        return Err(FsError::Conflict(format!(
            "{to} already exists: move never overwrites; delete it or choose another path"
        )));
    }
    match std::fs::rename(from_dir.child(from_name), to_dir.child(to_name)) {
        Ok(()) => {}
        // Something appeared at `to` after the check (a sandbox writing to the volume).
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EEXIST | libc::ENOTEMPTY | libc::EISDIR | libc::ENOTDIR)
            ) =>
        {
            return Err(FsError::Conflict(format!(
                "{to} already exists: move never overwrites; delete it or choose another path"
            )));
        }
        Err(e) => return Err(io_error(e, format_args!("moving {from} to {to}"))),
    }
    to_dir.sync().map_err(|e| io_error(e, format_args!("syncing the directory of {to}")))?;
    from_dir.sync().map_err(|e| io_error(e, format_args!("syncing the directory of {from}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::testutil::{TestVol, assert_invalid};
    use super::*;

    fn read(vol: &TestVol, rel: &str) -> Vec<u8> {
        std::fs::read(vol.fs.root().join(rel)).unwrap()
    }

    fn exists(vol: &TestVol, rel: &str) -> bool {
        std::fs::symlink_metadata(vol.fs.root().join(rel)).is_ok()
    }

    #[tokio::test]
    async fn renames_and_relocates() {
        let vol = TestVol::new();
        vol.put("a.txt", b"a");
        vol.put("dir/sub/deep.txt", b"deep");
        vol.mkdir("other");
        vol.fs.move_entry("/a.txt", "b.txt").await.unwrap();
        assert!(!exists(&vol, "a.txt"));
        assert_eq!(read(&vol, "b.txt"), b"a");
        vol.fs.move_entry("b.txt", "/other/c.txt").await.unwrap();
        assert_eq!(read(&vol, "other/c.txt"), b"a");
        // A directory moves with everything under it.
        vol.fs.move_entry("/dir/", "/other/moved").await.unwrap();
        assert!(!exists(&vol, "dir"));
        assert_eq!(read(&vol, "other/moved/sub/deep.txt"), b"deep");
    }

    #[tokio::test]
    async fn never_overwrites() {
        let vol = TestVol::new();
        vol.put("a", b"a");
        vol.put("b", b"b");
        vol.mkdir("d/empty");
        let err = vol.fs.move_entry("/a", "/b").await.unwrap_err();
        assert!(
            matches!(err, FsError::Conflict(_)) && err.to_string().contains("never overwrites")
        );
        assert_eq!((read(&vol, "a"), read(&vol, "b")), (b"a".to_vec(), b"b".to_vec()));
        // Not even an empty directory, which rename(2) alone would replace.
        vol.mkdir("e");
        let err = vol.fs.move_entry("/e", "/d/empty").await.unwrap_err();
        assert!(matches!(err, FsError::Conflict(_)));
        assert!(exists(&vol, "e"));
        assert!(matches!(vol.fs.move_entry("/a", "/a").await, Err(FsError::Conflict(_))));
        assert!(matches!(vol.fs.move_entry("/a", "/").await, Err(FsError::Conflict(_))));
    }

    #[tokio::test]
    async fn refusals() {
        let vol = TestVol::new();
        vol.put("dir/f", b"f");
        vol.put("file", b"x");
        let err = vol.fs.move_entry("/missing", "/x").await.unwrap_err();
        assert!(matches!(err, FsError::NotFound(_)), "{err:?}");
        let err = vol.fs.move_entry("/file", "/no/such/x").await.unwrap_err();
        assert!(matches!(err, FsError::NotFound(_)) && err.to_string().contains("parent"), "{err}");
        let err = vol.fs.move_entry("/dir", "/file/x").await.unwrap_err();
        assert!(matches!(err, FsError::NotFound(_)), "{err:?}");
        assert!(
            assert_invalid(vol.fs.move_entry("/dir", "/dir/inner").await).contains("into itself")
        );
        assert_invalid(vol.fs.move_entry("/dir", "/dir/f/x").await);
        assert!(assert_invalid(vol.fs.move_entry("/", "/x").await).contains("root"));
        assert_invalid(vol.fs.move_entry("/file", "../outside/file").await);
        assert_invalid(vol.fs.move_entry("../outside/canary", "/stolen").await);

        let root = vol.fs.root();
        std::os::unix::fs::symlink(vol.outside(), root.join("out")).unwrap();
        assert_invalid(vol.fs.move_entry("/file", "/out/file").await);
        assert_invalid(vol.fs.move_entry("/out/canary", "/stolen").await);
        assert_invalid(vol.fs.move_entry("/out", "/renamed-link").await);
        assert!(exists(&vol, "file") && exists(&vol, "dir/f") && !exists(&vol, "stolen"));
        vol.assert_outside_untouched();
    }
}
