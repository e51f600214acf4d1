//! Writing files atomically (spec/README.md §9): stream into a temp file beside the target, sync
//! it, rename it over the target, sync the directory. A failed or abandoned upload removes its temp
//! file and leaves the previous content (or absence) in place.

use std::fmt::Display;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use rand::Rng;
use tokio::io::AsyncWriteExt;

use super::{
    FsError, VolumeFs, blocking,
    dir::{Dir, Missing, descend, symlink_error},
    error::io_error,
    mutation_lock,
    paths::{UPLOAD_PREFIX, VolPath},
};

impl VolumeFs {
    /// Replaces the file at `path` with the bytes of `body`, creating missing parent
    /// directories; returns the number of bytes written. Onto a directory → `Conflict`.
    pub async fn write<S, E>(&self, path: &str, mut body: S) -> Result<u64, FsError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        let path = VolPath::parse(path)?;
        let root = self.root.clone();
        let target = path.clone();
        let (mut upload, file) = blocking(move || start_upload(&root, &target)).await?;

        let mut file = tokio::fs::File::from_std(file);
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                FsError::Io(std::io::Error::other(format!(
                    "the upload of {path} failed after {written} bytes ({e}); nothing was \
                     written and the previous content is unchanged: send the file again"
                )))
            })?;
            file.write_all(&chunk)
                .await
                .map_err(|e| io_error(e, format_args!("writing {path}")))?;
            written += chunk.len() as u64;
        }
        file.flush().await.map_err(|e| io_error(e, format_args!("writing {path}")))?;
        file.sync_all().await.map_err(|e| io_error(e, format_args!("syncing {path}")))?;
        drop(file);

        blocking(move || {
            let _lock = mutation_lock();
            upload.commit(&path)
        })
        .await?;
        Ok(written)
    }
}

/// A temp file being written; removed on drop unless committed (covers errors and a request
/// future dropped mid-upload).
struct Upload {
    dir: Dir,
    name: String,
    temp: String,
    committed: bool,
}

fn start_upload(
    root: &std::path::Path,
    path: &VolPath,
) -> Result<(Upload, std::fs::File), FsError> {
    let Some(name) = path.name() else {
        return Err(FsError::InvalidPath(
            "\"/\" is the volume root, a directory: give the path of a file to write".to_owned(),
        ));
    };
    let dir = descend(Dir::open_root(root)?, path, path.parts().len() - 1, Missing::Create)?;
    check_target(&dir, name, path)?;
    // Retry on the (astronomically unlikely) name collision with another upload.
    for _ in 0..8 {
        let temp = format!("{UPLOAD_PREFIX}{:016x}", rand::rng().random::<u64>());
        match dir.create_new(&temp) {
            Ok(file) => {
                let upload = Upload { dir, name: name.to_owned(), temp, committed: false };
                return Ok((upload, file));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(e, format_args!("creating a temp file for {path}"))),
        }
    }
    Err(FsError::Io(std::io::Error::other(format!("no free temp file name for {path}"))))
}

/// Refuses a target that is a directory or a symlink; anything else may be replaced.
fn check_target(dir: &Dir, name: &str, path: &VolPath) -> Result<(), FsError> {
    match dir.lstat(name).map_err(|e| io_error(e, format_args!("looking up {path}")))? {
        Some(meta) if meta.file_type().is_symlink() => Err(symlink_error(&path.to_string())),
        Some(meta) if meta.is_dir() => Err(FsError::Conflict(format!(
            "{path} is a directory: a file cannot replace it; choose another path or move the \
             directory away first"
        ))),
        _ => Ok(()),
    }
}

impl Upload {
    fn commit(&mut self, path: &VolPath) -> Result<(), FsError> {
        // Checked again: the target may have changed while the body was streaming.
        check_target(&self.dir, &self.name, path)?;
        match std::fs::rename(self.dir.child(&self.temp), self.dir.child(&self.name)) {
            Ok(()) => self.committed = true,
            Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
                return Err(FsError::Conflict(format!("{path} became a directory meanwhile")));
            }
            Err(e) => return Err(io_error(e, format_args!("renaming the upload to {path}"))),
        }
        self.dir.sync().map_err(|e| io_error(e, format_args!("syncing the directory of {path}")))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover temp file is hidden from listings either way.
            let _ = std::fs::remove_file(self.dir.child(&self.temp));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use futures_util::stream;

    use super::super::testutil::{TestVol, assert_invalid};
    use super::*;

    type Chunk = Result<Bytes, String>;

    fn chunks(parts: &[&'static [u8]]) -> impl Stream<Item = Chunk> + Unpin {
        stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<Chunk>>())
    }

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn writes_and_creates_parents() {
        let vol = TestVol::new();
        let n = vol.fs.write("/a/b/c.txt", chunks(&[b"hello ", b"world"])).await.unwrap();
        assert_eq!(n, 11);
        assert_eq!(std::fs::read(vol.fs.root().join("a/b/c.txt")).unwrap(), b"hello world");
        // Replacing keeps no temp file behind.
        assert_eq!(vol.fs.write("a/b/c.txt", chunks(&[b"new"])).await.unwrap(), 3);
        assert_eq!(std::fs::read(vol.fs.root().join("a/b/c.txt")).unwrap(), b"new");
        assert_eq!(names(&vol.fs.root().join("a/b")), ["c.txt"]);
        assert_eq!(vol.fs.write("/empty", chunks(&[])).await.unwrap(), 0);
        assert_eq!(std::fs::read(vol.fs.root().join("empty")).unwrap(), b"");
    }

    #[tokio::test]
    async fn failed_stream_leaves_old_content() {
        let vol = TestVol::new();
        vol.put("d/f.txt", b"old");
        let body = stream::iter(vec![
            Ok(Bytes::from_static(b"partial")),
            Err("connection reset".to_owned()),
        ]);
        let err = vol.fs.write("/d/f.txt", body).await.unwrap_err();
        assert!(matches!(err, FsError::Io(_)), "{err}");
        assert!(err.to_string().contains("connection reset"), "{err}");
        assert_eq!(std::fs::read(vol.fs.root().join("d/f.txt")).unwrap(), b"old");
        assert_eq!(names(&vol.fs.root().join("d")), ["f.txt"]);

        // A request dropped mid-upload cleans up too.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Chunk>();
        tx.send(Ok(Bytes::from_static(b"half"))).unwrap();
        let body =
            Box::pin(stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }));
        let fs = vol.fs.clone();
        let task = tokio::spawn(async move { fs.write("/d/new.txt", body).await });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let during = names(&vol.fs.root().join("d"));
        assert!(during.len() == 2 && during[0].starts_with(UPLOAD_PREFIX), "{during:?}");
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(names(&vol.fs.root().join("d")), ["f.txt"]);
        drop(tx);
    }

    #[tokio::test]
    async fn refusals() {
        let vol = TestVol::new();
        vol.put("dir/f", b"x");
        vol.put("file", b"x");
        let err = vol.fs.write("/dir", chunks(&[b"y"])).await.unwrap_err();
        assert!(matches!(err, FsError::Conflict(_)), "{err:?}");
        let err = vol.fs.write("/file/child", chunks(&[b"y"])).await.unwrap_err();
        assert!(matches!(err, FsError::Conflict(_)), "{err:?}");
        assert_invalid(vol.fs.write("/", chunks(&[b"y"])).await);
        assert_invalid(vol.fs.write("../outside/canary", chunks(&[b"pwned"])).await);
        assert_invalid(vol.fs.write("/a/../../outside/canary", chunks(&[b"pwned"])).await);
        assert_invalid(vol.fs.write("/x\0", chunks(&[b"pwned"])).await);

        let root = vol.fs.root();
        std::os::unix::fs::symlink(vol.outside(), root.join("out")).unwrap();
        std::os::unix::fs::symlink(vol.outside().join("canary"), root.join("canary-link")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        assert_invalid(vol.fs.write("/out/canary", chunks(&[b"pwned"])).await);
        assert_invalid(vol.fs.write("/out/new/file", chunks(&[b"pwned"])).await);
        assert_invalid(vol.fs.write("/canary-link", chunks(&[b"pwned"])).await);
        assert_invalid(vol.fs.write("/etc/passwd", chunks(&[b"pwned"])).await);
        vol.assert_outside_untouched();
        assert!(
            std::fs::symlink_metadata(root.join("canary-link")).unwrap().file_type().is_symlink()
        );
    }
}
