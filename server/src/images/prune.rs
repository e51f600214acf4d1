//! Garbage collection: images (unpacked root filesystems) no live holder pins, the layers and
//! records only they used, and old `host` builds.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::flatten::{self, store_io};
use super::spec::{Manifest, parse_json};
use super::{ImageError, ImageStore, blocking, host, records};
use crate::store::Store;

/// What a prune removed and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Unpacked images (and old `host` builds) removed.
    pub removed_images: usize,
    /// Blobs (layers, manifests, configs) removed.
    pub removed_blobs: usize,
    /// Bytes freed.
    pub freed_bytes: u64,
    /// Unpacked images kept because something uses them.
    pub kept_images: usize,
    /// Blobs kept because a kept image is made of them.
    pub kept_blobs: usize,
}

impl ImageStore {
    /// Removes what no live holder uses; `live` holds the holders (sandbox ids) whose pins
    /// count. With `wait: false` it returns `Ok(None)` at once while images are being resolved
    /// (in this process or another); otherwise it waits for them.
    pub async fn prune(
        &self,
        live: HashSet<String>,
        wait: bool,
    ) -> Result<Option<PruneReport>, ImageError> {
        let Some(lock) = self.lock_exclusive(wait).await? else { return Ok(None) };
        self.prune_holding(lock, live).await.map(Some)
    }

    /// [`ImageStore::prune`] with the live sandboxes and the kept snapshots of `store` as the
    /// holders in use. They are listed once the store is locked, so a sandbox that pinned its
    /// image just before is seen.
    pub async fn prune_unused(
        &self,
        store: &Store,
        wait: bool,
    ) -> Result<Option<PruneReport>, ImageError> {
        let Some(lock) = self.lock_exclusive(wait).await? else { return Ok(None) };
        let mut live: HashSet<String> = store
            .live_sandboxes()
            .map_err(|e| ImageError::Io(format!("cannot list the live sandboxes: {e}")))?
            .into_iter()
            .map(|row| row.id)
            .collect();
        // Snapshots hold their base image: sandboxes started from them run on it.
        let snapshots = store
            .list_snapshots(None)
            .map_err(|e| ImageError::Io(format!("cannot list the snapshots: {e}")))?;
        live.extend(
            snapshots
                .into_iter()
                .filter(|s| s.status != porter_sandbox::types::SnapshotStatus::Failed)
                .map(|s| s.id),
        );
        self.prune_holding(lock, live).await.map(Some)
    }

    async fn lock_exclusive(&self, wait: bool) -> Result<Option<records::StoreLock>, ImageError> {
        let root = self.root.clone();
        blocking(move || records::lock_store(&root, true, wait)).await
    }

    async fn prune_holding(
        &self,
        lock: records::StoreLock,
        live: HashSet<String>,
    ) -> Result<PruneReport, ImageError> {
        let (root, host_root, tmp) = (self.root.clone(), self.host_root.clone(), self.dirs().tmp);
        blocking(move || {
            let report = prune_locked(&root, &host_root, &tmp, &live);
            drop(lock);
            Ok(report)
        })
        .await
    }

    /// Prunes every `every` in the background (skipping a round while images are resolved).
    pub fn spawn_pruner(&self, store: Arc<Store>, every: Duration) {
        let images = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await; // the first tick is immediate: let start-up settle first
            loop {
                tick.tick().await;
                match images.prune_unused(&store, false).await {
                    Ok(Some(report)) if report.removed_images + report.removed_blobs > 0 => {
                        tracing::info!(?report, "pruned the image store");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "pruning the image store failed"),
                }
            }
        });
    }
}

fn prune_locked(root: &Path, host_root: &Path, tmp: &Path, live: &HashSet<String>) -> PruneReport {
    let mut report = PruneReport::default();
    let mut keep: HashSet<PathBuf> = HashSet::new();
    for (file, holder, rootfs) in records::all_pins(root) {
        if live.contains(&holder) {
            keep.insert(rootfs);
        } else if let Err(e) = fs::remove_file(&file) {
            tracing::warn!(path = %file.display(), error = %e, "could not remove a stale pin");
        }
    }
    // The current host build costs milliseconds, but every sandbox start would redo it.
    if let Ok(ids) = super::flatten::sandbox_ids() {
        keep.insert(Path::new("host").join(host::build_name(host_root, ids)));
    }

    for kind in ["rootfs", "host"] {
        let Ok(entries) = fs::read_dir(root.join(kind)) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let relative = Path::new(kind).join(entry.file_name());
            if keep.contains(&relative) {
                report.kept_images += 1;
                continue;
            }
            match remove_tree(&entry.path(), tmp) {
                Ok(bytes) => {
                    report.removed_images += 1;
                    report.freed_bytes += bytes;
                }
                Err(e) => tracing::warn!(error = %e, "could not remove an unused image"),
            }
        }
    }

    // Blobs of the images that remain: their manifest, config and layers.
    let mut used: HashSet<String> = HashSet::new();
    if let Ok(entries) = fs::read_dir(root.join("rootfs")) {
        for entry in entries.filter_map(Result::ok) {
            let key = entry.file_name().to_string_lossy().into_owned();
            let Ok(bytes) = fs::read(root.join("blobs/sha256").join(&key)) else { continue };
            let Ok(manifest) = parse_json::<Manifest>(&bytes, "a stored manifest") else {
                continue;
            };
            let digests = std::iter::once(&manifest.config).chain(&manifest.layers);
            used.extend(
                digests.filter_map(|d| d.digest.strip_prefix("sha256:")).map(str::to_owned),
            );
            used.insert(key);
        }
    }
    if let Ok(entries) = fs::read_dir(root.join("blobs/sha256")) {
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if used.contains(&name) {
                report.kept_blobs += 1;
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(entry.path()) {
                Ok(()) => {
                    report.removed_blobs += 1;
                    report.freed_bytes += size;
                }
                Err(e) => tracing::warn!(error = %e, "could not remove an unused blob"),
            }
        }
    }
    for (file, record) in records::all_refs(root) {
        let gone = record.is_none_or(|r| !root.join("rootfs").join(&r.manifest).is_dir());
        if gone {
            let _ = fs::remove_file(file);
        }
    }
    report
}

/// Moves `dir` out of the way (one rename, so it disappears at once), then deletes it.
/// Returns the bytes its files took.
fn remove_tree(dir: &Path, tmp: &Path) -> Result<u64, ImageError> {
    let bytes = tree_size(dir);
    let staging = flatten::new_staging_dir(tmp, "prune")?;
    let doomed = staging.join("tree");
    fs::rename(dir, &doomed).map_err(|e| store_io("moving away", dir, &e))?;
    flatten::discard(&staging);
    Ok(bytes)
}

fn tree_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(entries) = fs::read_dir(&path) else { continue };
        for entry in entries.filter_map(Result::ok) {
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(entry.path()),
                Ok(kind) if kind.is_file() => {
                    total += entry.metadata().map(|m| m.len()).unwrap_or(0);
                }
                _ => {}
            }
        }
    }
    total
}
