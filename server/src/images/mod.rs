//! Image references and their root filesystems.
//!
//! [`ImageStore::resolve`] turns a reference into a read-only rootfs directory that every sandbox
//! of the image shares as its overlay's lower layer:
//! - `host`: a small skeleton (merged-/usr symlinks, a generated /etc) plus a read-only bind of
//!   the host's `/usr` — zero set-up, the host's `python3`. Built once under `<root>/host/`.
//! - `oci-layout:/PATH[:TAG]` and `docker-archive:/PATH`: layers verified against their sha256
//!   digests and flattened (whiteouts honoured) into `<root>/rootfs/<hex>/`, keyed by the
//!   manifest digest (OCI) or config digest (docker archive), unpacked once.
//! - registry references (`python:3.12-slim`, `127.0.0.1:5000/x:1`, `ghcr.io/a/b@sha256:…`):
//!   pulled (see `registry.rs`) during the sandbox's `creating` phase, with progress lines in its
//!   log, then flattened like the above and keyed by the platform manifest's digest. A pulled
//!   tag is reused without asking the registry again, except `latest`, which is checked on every
//!   start (the cached copy is used when the registry cannot be reached). A registry that
//!   cannot be reached at all fails the sandbox, or, when the server was told to, puts it on
//!   the `host` image (see [`OfflineImages`] and [`ResolvedImage::substitute`]).
//!
//! Layout of the store: `<root>/rootfs/<hex>/`, `<root>/host/<fingerprint>/`,
//! `<root>/blobs/sha256/<hex>` (pulled manifests, configs and layers), `<root>/refs/` and
//! `<root>/pins/` (see `records.rs`), `<root>/tmp/` (staging, same filesystem so publishing is one
//! atomic rename). [`ImageStore::prune`] removes what no live sandbox uses.

mod access;
mod auth;
mod digest;
mod docker;
mod flatten;
mod host;
mod oci;
mod options;
mod prune;
mod records;
mod reference;
mod registry;
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
pub use options::{Credential, ENV_REGISTRY_AUTH, ImageOptions, OfflineImages, parse_credentials};
pub use prune::PruneReport;
use reference::ImageRef;
use registry::Target;

/// A line for the log of the sandbox whose image is being prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// A warning (the sandbox runs, but not quite as asked) rather than progress.
    pub warning: bool,
    /// The line.
    pub line: String,
}

impl Notice {
    fn info(line: String) -> Self {
        Self { warning: false, line }
    }

    fn warning(line: String) -> Self {
        Self { warning: true, line }
    }
}

/// Where [`Notice`]s go.
pub type Notify<'a> = &'a (dyn Fn(Notice) + Send + Sync);

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
    /// The image that runs instead of `reference` (`host`, under `--offline-images host` with
    /// the registry unreachable); `None` when the image runs as asked.
    pub substitute: Option<String>,
}

/// Why an image could not be resolved. Messages say what was wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// A valid reference this server cannot serve (zstd layers, schema 1 manifests…).
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
    /// The registry could not be reached at all (name resolution or connection failed).
    #[error("{0}")]
    Unreachable(String),
    /// The registry refused (credentials, rate limits, server errors).
    #[error("{0}")]
    Registry(String),
}

impl ImageError {
    /// The same error with `what` prefixed to the message.
    pub(crate) fn context(self, what: &str) -> Self {
        match self {
            Self::Unsupported(m) => Self::Unsupported(format!("{what}: {m}")),
            Self::NotFound(m) => Self::NotFound(format!("{what}: {m}")),
            Self::Invalid(m) => Self::Invalid(format!("{what}: {m}")),
            Self::Io(m) => Self::Io(format!("{what}: {m}")),
            Self::Unreachable(m) => Self::Unreachable(format!("{what}: {m}")),
            Self::Registry(m) => Self::Registry(format!("{what}: {m}")),
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
    /// Registry settings.
    options: Arc<ImageOptions>,
}

impl ImageStore {
    /// A store rooted at `root` (normally `<data-dir>/images`); created on first use.
    pub fn new(root: PathBuf) -> Self {
        Self::with_options(root, ImageOptions::default())
    }

    /// A store with registry settings.
    pub fn with_options(root: PathBuf, options: ImageOptions) -> Self {
        Self {
            root,
            host_root: PathBuf::from("/"),
            locks: Arc::default(),
            swept: Arc::default(),
            options: Arc::new(options),
        }
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

    /// Cheap check of `reference`, used when a sandbox is created (registries are only
    /// contacted at resolve time): its syntax, and for a local path the rule of `access.rs`
    /// (only images every local user could read). The error says what is wrong and what to do.
    pub fn check_reference(reference: &str) -> Result<(), String> {
        let (path, want) = match reference::parse(reference)? {
            ImageRef::OciLayout { path, .. } => (path, access::Want::Dir),
            ImageRef::DockerArchive { path } => (path, access::Want::File),
            ImageRef::Host | ImageRef::Registry(_) => return Ok(()),
        };
        match access::open_public(&path, want) {
            Err(access::Denied::Refused(why)) => Err(why),
            // A missing image is reported by the resolve, in the sandbox's log.
            _ => Ok(()),
        }
    }

    /// Resolves `reference` to a rootfs, building, unpacking or pulling the image the first
    /// time (concurrent calls for one image wait for a single unpack or pull; later calls are a
    /// few `stat`s and small JSON reads).
    pub async fn resolve(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        self.resolve_for(reference, None, &|_| {}).await
    }

    /// [`ImageStore::resolve`] for `holder` (a sandbox id), whose use of the image is recorded
    /// so a prune keeps it; progress and warnings go to `notify`.
    pub async fn resolve_for(
        &self,
        reference: &str,
        holder: Option<&str>,
        notify: Notify<'_>,
    ) -> Result<ResolvedImage, ImageError> {
        let parsed = reference::parse(reference).map_err(ImageError::Invalid)?;
        self.sweep_once().await;
        // Shared: any number of resolves, but no prune, until the image is pinned.
        let root = self.root.clone();
        let _store_lock = blocking(move || records::lock_store(&root, false, true)).await?;
        let image = match parsed {
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
            ImageRef::Registry(name) => {
                match self.resolve_registry(reference, &name, notify).await {
                    Err(ImageError::Unreachable(why))
                        if self.options.offline == OfflineImages::Host =>
                    {
                        notify(Notice::warning(format!(
                            "warning: {why}; running this sandbox on the `host` image instead \
                             of `{reference}` (the server runs with --offline-images host; \
                             start it with --offline-images fail to fail such sandboxes instead)"
                        )));
                        let image = self.resolve_host(reference).await?;
                        Ok(ResolvedImage { substitute: Some("host".to_owned()), ..image })
                    }
                    Err(ImageError::Unreachable(why)) => Err(ImageError::Unreachable(format!(
                        "{why}; check the image name `{reference}` and the server's network (the \
                         server runs with --offline-images fail, the default; start it with \
                         --offline-images host to run such sandboxes on the `host` image instead)"
                    ))),
                    other => other,
                }
            }
        }?;
        if let Some(holder) = holder {
            let (root, tmp, holder) = (self.root.clone(), self.dirs().tmp, holder.to_owned());
            let rootfs = image.rootfs.clone();
            blocking(move || records::pin(&root, &tmp, &holder, &rootfs)).await?;
        }
        Ok(image)
    }

    /// A registry image: the cached copy of a fixed tag or digest, else a pull.
    async fn resolve_registry(
        &self,
        reference: &str,
        name: &str,
        notify: Notify<'_>,
    ) -> Result<ResolvedImage, ImageError> {
        let target = Target::parse(name, self.options.mirror.as_deref())?;
        let _guard = match self.try_lock(&format!("ref:{}", target.normalized)) {
            Ok(guard) => guard,
            Err(lock) => {
                notify(Notice::info(format!("waiting for another pull of {reference}…")));
                lock.lock_owned().await
            }
        };
        let cached = self.cached(&target.normalized).await?;
        if let Some(image) = cached.as_ref().filter(|_| !target.mutable) {
            return Ok(ResolvedImage { reference: reference.to_owned(), ..image.clone() });
        }
        let mut failures = Vec::new();
        for (i, source) in target.sources.iter().enumerate() {
            let error = match self.pull(reference, source, notify).await {
                Ok((plan, config)) => {
                    let manifest = plan.key.clone();
                    notify(Notice::info(format!("unpacking {reference}…")));
                    let image = self.materialize(reference, plan).await?;
                    let record = records::RefRecord {
                        reference: target.normalized.clone(),
                        manifest,
                        config,
                        pulled_at: std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs()),
                    };
                    let (root, tmp) = (self.root.clone(), self.dirs().tmp);
                    blocking(move || records::write_ref(&root, &tmp, &record)).await?;
                    return Ok(image);
                }
                Err(error) => error,
            };
            if let Some(next) = target.sources.get(i + 1) {
                notify(Notice::warning(format!(
                    "warning: the mirror {} failed ({error}); trying {}",
                    source.registry, next.registry
                )));
            }
            failures.push(error);
        }
        let error = failures.pop().unwrap_or_else(|| {
            ImageError::Invalid(format!("`{reference}` names no registry to pull from"))
        });
        match (error, cached) {
            (ImageError::Unreachable(why), Some(image)) => {
                notify(Notice::warning(format!(
                    "warning: {why}; using the copy of {reference} pulled earlier"
                )));
                Ok(ResolvedImage { reference: reference.to_owned(), ..image })
            }
            (error, _) => Err(error),
        }
    }

    /// The unpacked image `normalized` resolved to before, if it is still complete.
    async fn cached(&self, normalized: &str) -> Result<Option<ResolvedImage>, ImageError> {
        let root = self.root.clone();
        let normalized = normalized.to_owned();
        let config_of = |root: &Path, record: &records::RefRecord| {
            let bytes = fs::read(root.join("blobs/sha256").join(&record.config)).ok()?;
            spec::parse_json::<spec::ConfigFile>(&bytes, "a stored image config").ok()
        };
        blocking(move || {
            let Some(record) = records::read_ref(&root, &normalized) else { return Ok(None) };
            let rootfs = root.join("rootfs").join(&record.manifest);
            let current = flatten::sandbox_ids().is_ok_and(|ids| flatten::is_current(&rootfs, ids));
            let Some(config) = config_of(&root, &record).filter(|_| current) else {
                return Ok(None);
            };
            Ok(Some(ResolvedImage {
                reference: normalized,
                rootfs,
                mounts: Vec::new(),
                config: config.image_config(),
                substitute: None,
            }))
        })
        .await
    }

    fn dirs(&self) -> StoreDirs {
        StoreDirs { rootfs: self.root.join("rootfs"), tmp: self.root.join("tmp") }
    }

    /// Waits for the lock of image `key`.
    async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        match self.try_lock(key) {
            Ok(guard) => guard,
            Err(lock) => lock.lock_owned().await,
        }
    }

    /// The lock of `key` if it is free, else the lock to wait for.
    fn try_lock(
        &self,
        key: &str,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, Arc<tokio::sync::Mutex<()>>> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(locks.entry(key.to_owned()).or_default())
        };
        Arc::clone(&lock).try_lock_owned().map_err(|_| lock)
    }

    async fn materialize(&self, reference: &str, plan: Plan) -> Result<ResolvedImage, ImageError> {
        let _guard = self.lock(&plan.key).await;
        let dirs = self.dirs();
        let config = plan.config.clone();
        let rootfs = blocking(move || flatten::materialize(&dirs, &plan)).await?;
        Ok(ResolvedImage {
            reference: reference.to_owned(),
            rootfs,
            mounts: Vec::new(),
            config,
            substitute: None,
        })
    }

    async fn resolve_host(&self, reference: &str) -> Result<ResolvedImage, ImageError> {
        let host = self.host_root.clone();
        let ids = flatten::sandbox_ids()?;
        let fingerprint = {
            let host = host.clone();
            blocking(move || Ok(host::build_name(&host, ids))).await?
        };
        let parent = self.root.join("host");
        let dest = parent.join(&fingerprint);
        let _guard = self.lock("host").await;
        let tmp = self.dirs().tmp;
        let (rootfs, host) = blocking(move || {
            if !dest.is_dir() {
                let staging = flatten::new_staging_dir(&tmp, "host")?;
                if let Err(e) = host::build(&host, &staging, ids) {
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
            substitute: None,
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
