//! Image references and their root filesystems.
//!
//! [`ImageStore::resolve`] turns a reference into a read-only rootfs directory that every sandbox
//! of the image shares as its overlay's lower layer:
//! - `host`: a small skeleton (merged-/usr symlinks, a generated /etc) plus a read-only bind of
//!   the host's `/usr` — zero set-up, the host's `python3`. Built once under `<root>/host/`.
//! - `oci-layout:/PATH[:TAG]` and `docker-archive:/PATH`: layers verified against their sha256
//!   digests and flattened (whiteouts honoured) into `<root>/rootfs/<hex>/`, keyed by the
//!   manifest digest (OCI) or config digest (docker archive), unpacked once.
//! - Registry references are recognised but cannot be pulled yet.
//!
//! Layout of the store: `<root>/rootfs/<hex>/`, `<root>/host/<fingerprint>/`, `<root>/tmp/`
//! (staging, same filesystem so publishing is one atomic rename).

mod digest;
mod docker;
mod flatten;
mod host;
mod oci;
mod reference;
mod spec;
mod unpack;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::runtime::BindMount;
use flatten::{Plan, StoreDirs};
use reference::ImageRef;

/// The runtime defaults an image declares (from its config, or fixed for `host`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// `Entrypoint`: prepended to the command.
    pub entrypoint: Vec<String>,
    /// `Cmd`: the default command (or the entrypoint's default arguments).
    pub cmd: Vec<String>,
    /// `Env`, in order.
    pub env: Vec<(String, String)>,
    /// `User` (`name`, `uid`, `uid:gid`…), when set.
    pub user: Option<String>,
    /// `WorkingDir`, when set.
    pub workdir: Option<String>,
}

/// An image ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// The reference it was resolved from.
    pub reference: String,
    /// The read-only root filesystem (the overlay's lower layer; never write to it).
    pub rootfs: PathBuf,
    /// Host directories to bind into the sandbox (the `host` image's `/usr`).
    pub mounts: Vec<BindMount>,
    /// The image's runtime defaults.
    pub config: ImageConfig,
}

/// Why an image could not be resolved. Messages say what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// A valid reference this server cannot serve (registry pulls, zstd layers, schema 1…).
    #[error("{0}")]
    Unsupported(String),
    /// The layout, archive, tag or platform does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A malformed reference, or a corrupt or malicious image.
    #[error("{0}")]
    Invalid(String),
    /// The filesystem failed (permissions, disk full…).
    #[error("{0}")]
    Io(String),
}

impl ImageError {
    /// The same error with `what` prefixed to the message.
    pub(crate) fn context(self, what: &str) -> Self {
        match self {
            Self::Unsupported(m) => Self::Unsupported(format!("{what}: {m}")),
            Self::NotFound(m) => Self::NotFound(format!("{what}: {m}")),
            Self::Invalid(m) => Self::Invalid(format!("{what}: {m}")),
            Self::Io(m) => Self::Io(format!("{what}: {m}")),
        }
    }
}

/// Resolves image references to root filesystems, unpacking each image once.
///
/// Cheap to clone; clones share the store and its locks.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    /// The filesystem the `host` image is taken from (`/`; a fake tree in tests).
    host_root: PathBuf,
    /// One lock per image key, so concurrent resolves of one image unpack it once.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Whether leftovers of crashed builds have been swept yet.
    swept: Arc<AtomicBool>,
}

impl ImageStore {
    /// A store rooted at `root` (normally `<data-dir>/images`); created on first use.
    pub fn new(root: PathBuf) -> Self {
        Self { root, host_root: PathBuf::from("/"), locks: Arc::default(), swept: Arc::default() }
    }

    /// A store whose `host` image comes from the tree at `host_root` instead of `/`.
    #[cfg(test)]
    pub(crate) fn with_host_root(root: PathBuf, host_root: PathBuf) -> Self {
        Self { host_root, ..Self::new(root) }
    }

    /// The directory the store keeps its images in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Cheap syntax check of `reference`, used when a sandbox is created. Registry references
    /// (`python:3.12-slim`, `ghcr.io/x/y@sha256:…`) pass: they fail later, at resolve time,
    /// with [`ImageError::Unsupported`]. The error says what is wrong and what to write instead.
    pub fn check_reference(reference: &str) -> Result<(), String> {
        reference::parse(reference).map(drop)
    }

    /// Resolves `reference` to a rootfs, building or unpacking the image the first time
    /// (concurrent calls for one image wait for a single unpack; later calls are a few `stat`s
    /// and small JSON reads).
    pub async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let parsed = reference::parse(reference).map_err(ImageError::Invalid)?;
        self.sweep_once().await;
        match parsed {
            ImageRef::Host => self.resolve_host(reference).await,
            ImageRef::OciLayout { path, tag } => {
                let plan = blocking(move || oci::plan(&path, tag.as_deref())).await?;
                self.materialize(reference, plan).await
            }
            ImageRef::DockerArchive { path } => {
                let tmp = self.dirs().tmp;
                let plan = blocking(move || docker::plan(&path, &tmp)).await?;
                self.materialize(reference, plan).await
            }
            ImageRef::Registry(name) => Err(ImageError::Unsupported(format!(
                "pulling `{name}` from a registry is not available in this server yet; use the \
                 `host` image, `oci-layout:/path[:tag]` or `docker-archive:/path.tar` (e.g. \
                 `skopeo copy docker://{name} oci:/srv/images/NAME:TAG`)"
            ))),
        }
    }

    fn dirs(&self) -> StoreDirs {
        StoreDirs { rootfs: self.root.join("rootfs"), tmp: self.root.join("tmp") }
    }

    /// Waits for the lock of image `key`.
    async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(locks.entry(key.to_owned()).or_default())
        };
        lock.lock_owned().await
    }

    async fn materialize(&self, reference: &str, plan: Plan) -> Result<ResolvedImage, ImageError> {
        let _guard = self.lock(&plan.key).await;
        let dirs = self.dirs();
        let config = plan.config.clone();
        let rootfs = blocking(move || flatten::materialize(&dirs, &plan)).await?;
        Ok(ResolvedImage { reference: reference.to_owned(), rootfs, mounts: Vec::new(), config })
    }

    async fn resolve_host(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let host = self.host_root.clone();
        let fingerprint = {
            let host = host.clone();
            blocking(move || Ok(host::fingerprint(&host))).await?
        };
        let parent = self.root.join("host");
        let dest = parent.join(&fingerprint);
        let _guard = self.lock("host").await;
        let tmp = self.dirs().tmp;
        let (rootfs, host) = blocking(move || {
            if !dest.is_dir() {
                let staging = flatten::new_staging_dir(&tmp, "host")?;
                if let Err(e) = host::build(&host, &staging) {
                    flatten::discard(&staging);
                    return Err(e);
                }
                flatten::publish(&staging, &dest, &parent)?;
                tracing::info!(rootfs = %dest.display(), "built the host image");
            }
            Ok((dest, host))
        })
        .await?;
        Ok(ResolvedImage {
            reference: reference.to_owned(),
            rootfs,
            mounts: host::mounts(&host),
            config: host::config(),
        })
    }

    /// Removes staging leftovers of server processes that are gone (a crash mid-unpack).
    async fn sweep_once(&self) {
        if self.swept.swap(true, Ordering::SeqCst) {
            return;
        }
        let tmp = self.dirs().tmp;
        let swept = blocking(move || {
            sweep_stale(&tmp);
            Ok(())
        })
        .await;
        if let Err(e) = swept {
            tracing::warn!(error = %e, "could not sweep the image staging directory");
        }
    }
}

/// Staging names are `<label>.<pid>.<random>[.tar]`: anything whose process is gone is stale.
fn sweep_stale(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else { return };
    let me = std::process::id().to_string();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('.').nth(1) else { continue };
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        let path = entry.path();
        let removed =
            if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        match removed {
            Ok(()) => tracing::info!(path = %path.display(), "removed an abandoned staging area"),
            Err(e) => {
                tracing::warn!(
                    path = %path.display(), error = %e, "could not remove a staging area"
                );
            }
        }
    }
}

/// Runs blocking filesystem work off the async threads.
async fn blocking<T, F>(work: F) -> Result<T, ImageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ImageError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ImageError::Io(format!("the image worker stopped unexpectedly ({e}); try again"))
    })?
}
