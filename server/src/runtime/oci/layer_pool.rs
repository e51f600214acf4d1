//! Size-limited writable layers made ahead: `mkfs.ext4` off the start path.
//!
//! Every writable layer of a server is the same empty ext4 filesystem (`quota.rs`): the same
//! size, holding `upper/` and `work/` with the same owners and modes. A few such images are
//! kept ready in a directory of this process under the state directory,
//! `.layer-pool-<pid>-<start time>` (sandbox ids never start with a dot, so nothing takes it
//! for a sandbox). A start takes one with a `rename` into its sandbox directory and a
//! background thread makes the next, so a pooled image is exactly what the start would have
//! made itself, made a moment earlier: never mounted, never seen by any sandbox, and taken by
//! one start only. A start whose layer differs from the pool's (another size or owner) makes
//! its own, and the pool switches to that layer.
//!
//! The pool holds at most [`CAPACITY`] images (sparse: a few hundred KiB of disk each). It is
//! removed when the runtime is dropped, and the pools of processes that are gone (a crash) by
//! the next runtime on the same state directory.

use std::{
    fs::DirBuilder,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
};

use super::host;
use crate::volumes::image;

/// Images kept ready.
const CAPACITY: usize = 4;
/// Prefix of the pool directories in the state directory.
const PREFIX: &str = ".layer-pool-";

/// What a writable layer image holds: its size and the mode, uid and gid of `upper/` and
/// `work/`. Two layers with the same shape are the same empty filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    size: u64,
    upper: (u32, u32, u32),
    work: (u32, u32, u32),
}

impl Shape {
    /// The shape of the layer made from the staging directory `staging` (its `upper/` and
    /// `work/`).
    pub(super) fn of(staging: &Path, size: u64) -> std::io::Result<Shape> {
        let meta =
            |sub: &str| std::fs::metadata(staging.join(sub)).map(|m| (m.mode(), m.uid(), m.gid()));
        Ok(Shape { size, upper: meta("upper")?, work: meta("work")? })
    }
}

#[derive(Debug, Default)]
struct State {
    /// The shape the pool makes (the last one asked for).
    shape: Option<Shape>,
    /// Ready images of that shape.
    ready: Vec<PathBuf>,
    /// Whether a thread is making images.
    filling: bool,
    /// Numbers the images' file names.
    made: u64,
    /// Set when the runtime goes: no more images are made.
    closed: bool,
}

/// The pool of one runtime (see the module docs).
#[derive(Debug)]
pub(super) struct LayerPool {
    dir: PathBuf,
    state: Mutex<State>,
}

impl LayerPool {
    /// The pool of this process under `state_dir`; removes the pools of processes that are gone.
    /// Nothing is made until the first start asks for a layer.
    pub(super) fn new(state_dir: &Path) -> Arc<LayerPool> {
        remove_orphans(state_dir);
        let me = std::process::id();
        let start = host::proc_stat(me).map_or(0, |s| s.start_time);
        Arc::new(LayerPool {
            dir: state_dir.join(format!("{PREFIX}{me}-{start}")),
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves a ready image of `shape` to `dest` (a new file on the same filesystem): `true`
    /// when one was there. Either way, the pool then makes images of `shape` in the background.
    pub(super) fn take(self: &Arc<Self>, shape: Shape, dest: &Path) -> bool {
        let taken = {
            let mut state = self.state();
            if state.shape != Some(shape) {
                state.shape = Some(shape);
                let stale = std::mem::take(&mut state.ready);
                for image in stale {
                    let _ = std::fs::remove_file(image);
                }
            }
            state.ready.pop()
        };
        let moved = taken.is_some_and(|image| match std::fs::rename(&image, dest) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!("cannot use the pooled layer {}: {err}", image.display());
                let _ = std::fs::remove_file(&image);
                false
            }
        });
        self.refill();
        moved
    }

    /// Starts the thread that makes images until the pool is full, unless one runs.
    fn refill(self: &Arc<Self>) {
        {
            let mut state = self.state();
            if state.filling || state.closed || state.ready.len() >= CAPACITY {
                return;
            }
            state.filling = true;
        }
        let pool = self.clone();
        let spawned =
            std::thread::Builder::new().name("layer-pool".to_owned()).spawn(move || pool.fill());
        if let Err(err) = spawned {
            tracing::warn!("cannot start the writable layer pool's thread: {err}");
            self.state().filling = false;
        }
    }

    fn fill(&self) {
        loop {
            let (shape, number) = {
                let mut state = self.state();
                match state.shape {
                    Some(shape) if !state.closed && state.ready.len() < CAPACITY => {
                        state.made += 1;
                        (shape, state.made)
                    }
                    _ => {
                        state.filling = false;
                        return;
                    }
                }
            };
            let made = self.make(shape, number);
            let mut state = self.state();
            if state.closed {
                // `close` may have run before this thread re-created the directory.
                let _ = std::fs::remove_dir_all(&self.dir);
                state.filling = false;
                return;
            }
            match made {
                Ok(image) if state.shape == Some(shape) => state.ready.push(image),
                Ok(image) => {
                    let _ = std::fs::remove_file(image);
                }
                Err(err) => {
                    // Starts make their own layers meanwhile (and report what fails there).
                    tracing::warn!("cannot make a writable layer ahead: {err}");
                    state.filling = false;
                    return;
                }
            }
        }
    }

    /// Makes image number `number` of `shape` in the pool directory.
    fn make(&self, shape: Shape, number: u64) -> Result<PathBuf, String> {
        let fail = |what: &str| {
            let what = what.to_owned();
            move |e: std::io::Error| format!("{what}: {e}")
        };
        DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&self.dir)
            .map_err(fail("cannot create the pool directory"))?;
        let staging = self.dir.join(format!("{number}.staging"));
        let image = self.dir.join(format!("{number}.img"));
        let made = (|| {
            DirBuilder::new().mode(0o700).create(&staging).map_err(fail("staging directory"))?;
            for (sub, (mode, uid, gid)) in [("upper", shape.upper), ("work", shape.work)] {
                let path = staging.join(sub);
                std::fs::create_dir(&path)
                    .and_then(|()| {
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                    })
                    .and_then(|()| std::os::unix::fs::chown(&path, Some(uid), Some(gid)))
                    .map_err(fail("staging directory"))?;
            }
            // Made under a temporary name: a half-made image is never taken.
            let partial = self.dir.join(format!("{number}.partial"));
            image::create(&partial, shape.size, Some(&staging)).map_err(|e| e.to_string())?;
            std::fs::rename(&partial, &image).map_err(fail("cannot name the image"))
        })();
        let _ = std::fs::remove_dir_all(&staging);
        made.map(|()| image)
    }

    /// Stops making images and removes the pool directory.
    pub(super) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.ready.clear();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the pool directories under `state_dir` whose process is gone.
fn remove_orphans(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else { continue };
        let alive = owner.split_once('-').is_some_and(|(pid, start)| {
            match (pid.parse::<u32>(), start.parse::<u64>()) {
                (Ok(pid), Ok(start)) => host::alive(pid, Some(start)),
                _ => false,
            }
        });
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn staging(root: &Path, work_mode: u32) -> PathBuf {
        let staging = root.join("staging");
        std::fs::create_dir_all(staging.join("upper")).unwrap();
        std::fs::create_dir_all(staging.join("work")).unwrap();
        std::fs::set_permissions(staging.join("work"), std::fs::Permissions::from_mode(work_mode))
            .unwrap();
        staging
    }

    #[test]
    fn shapes_differ_by_size_and_owner_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = Shape::of(&staging(dir.path(), 0o700), 1 << 20).unwrap();
        assert_eq!(a, Shape::of(&dir.path().join("staging"), 1 << 20).unwrap());
        assert_ne!(a, Shape::of(&dir.path().join("staging"), 2 << 20).unwrap());
        let b = Shape::of(&staging(dir.path(), 0o755), 1 << 20).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn orphaned_pools_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(format!("{PREFIX}999999999-1"));
        std::fs::create_dir(&dead).unwrap();
        let pool = LayerPool::new(dir.path());
        assert!(!dead.exists());
        std::fs::create_dir(&pool.dir).unwrap();
        // A second runtime of the same process keeps it: its owner lives.
        let _other = LayerPool::new(dir.path());
        assert!(pool.dir.exists());
        pool.close();
        assert!(!pool.dir.exists());
    }

    /// Whether `path` holds an ext4 filesystem (its superblock magic).
    fn is_ext4(path: &Path) -> bool {
        let bytes = std::fs::read(path).unwrap();
        bytes.get(1080..1082) == Some(&[0x53, 0xef][..])
    }

    #[test]
    fn a_start_takes_a_ready_image_and_the_pool_refills() {
        let dir = tempfile::tempdir().unwrap();
        let pool = LayerPool::new(dir.path());
        let shape = Shape::of(&staging(dir.path(), 0o755), 4 << 20).unwrap();
        // Empty at first: the start makes its own, and the pool starts filling.
        assert!(!pool.take(shape, &dir.path().join("first.img")));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while pool.state().ready.len() < CAPACITY {
            assert!(std::time::Instant::now() < deadline, "the pool did not fill");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let taken = dir.path().join("taken.img");
        assert!(pool.take(shape, &taken));
        assert!(is_ext4(&taken));
        assert_eq!(std::fs::metadata(&taken).unwrap().len(), 4 << 20);
        // Another shape empties the pool of the old one.
        let other = Shape { size: 8 << 20, ..shape };
        assert!(!pool.take(other, &dir.path().join("other.img")));
        assert!(pool.state().ready.iter().all(|image| image.exists()));
        pool.close();
        assert!(!pool.dir.exists());
    }

    #[test]
    fn an_empty_pool_gives_nothing_and_a_closed_one_makes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pool = LayerPool::new(dir.path());
        pool.close();
        let shape = Shape::of(&staging(dir.path(), 0o755), 1 << 20).unwrap();
        assert!(!pool.take(shape, &dir.path().join("taken.img")));
        assert!(!pool.dir.exists());
    }
}
