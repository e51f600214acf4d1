//! The domain: sandbox lifecycle, names, TTLs, exec bookkeeping and volumes, over the store,
//! the runtime and the image store.

mod error;
pub mod exec_options;
pub mod idempotency;
mod leases;
mod lifecycle;
pub mod metrics;
pub mod names;
mod networking;
pub mod processes;
pub mod quantity;
mod sandboxes;
mod shared;
mod snapshots;
mod teardown;
pub mod validate;
mod volumes;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

pub use self::error::{ErrorKind, ServiceError, ServiceResult};
pub use crate::store::SandboxQuery;
use crate::{
    images::{ImageOptions, ImageStore},
    runtime::{EventSender, Runtime},
    store::{Store, StoreError},
};
use porter_sandbox::types::ReadinessResponse;

/// Sandboxes per page of a listing.
pub const PAGE_SIZE: i64 = 50;
/// Log lines returned when the caller gives no limit.
pub const DEFAULT_LOG_LIMIT: i64 = 1000;
/// The most log lines one call returns.
pub const MAX_LOG_LIMIT: i64 = 10_000;

/// Settings of the service.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Where the store, images and volumes live.
    pub data_dir: PathBuf,
    /// API keys; empty means no authentication.
    pub api_keys: Vec<String>,
    /// How often TTLs are checked.
    pub reaper_interval: Duration,
    /// How often the resource usage of running sandboxes is sampled.
    pub metrics_interval: Duration,
    /// The CPU limit of a sandbox whose `resources.cpu` is unset, thousandths of a core.
    pub default_cpu_millis: u64,
    /// The memory limit of a sandbox whose `resources.memory` is unset, bytes.
    pub default_memory_bytes: u64,
    /// Registry pulls and image garbage collection.
    pub images: ImageOptions,
    /// Prune unused images this often (none: only `porter-sandbox images prune`).
    pub image_prune_interval: Option<Duration>,
    /// Size limit of each sandbox's writable layer, bytes, enforced by its own filesystem
    /// (none: unlimited, on the data disk).
    pub sandbox_disk_bytes: Option<u64>,
    /// Size of each new disk volume, bytes, enforced by its own filesystem (none: unlimited).
    pub volume_size_bytes: Option<u64>,
    /// Bytes of log lines kept per sandbox; the oldest are dropped beyond it (a marker line
    /// says how many).
    pub log_retention_bytes: u64,
    /// The executable that supervises processes (this binary; it runs as
    /// `<exe> __process-supervisor <dir>`); none: the processes extension is off.
    pub process_supervisor: Option<PathBuf>,
    /// Output bytes kept per process; older output is dropped.
    pub process_output_retention: u64,
}

impl ServiceOptions {
    /// Options with the server's defaults: no API keys, TTLs checked every second, usage
    /// sampled every [`metrics::DEFAULT_INTERVAL`], and the default size
    /// [`DEFAULT_CPU_MILLIS`] / [`DEFAULT_MEMORY_BYTES`].
    #[must_use]
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            api_keys: Vec::new(),
            reaper_interval: Duration::from_secs(1),
            metrics_interval: metrics::DEFAULT_INTERVAL,
            default_cpu_millis: DEFAULT_CPU_MILLIS,
            default_memory_bytes: DEFAULT_MEMORY_BYTES,
            images: ImageOptions::default(),
            image_prune_interval: None,
            sandbox_disk_bytes: Some(DEFAULT_SANDBOX_DISK_BYTES),
            volume_size_bytes: Some(DEFAULT_VOLUME_SIZE_BYTES),
            log_retention_bytes: crate::store::DEFAULT_LOG_RETENTION,
            process_supervisor: None,
            process_output_retention: crate::process::DEFAULT_RETENTION,
        }
    }
}

/// The size limit of a sandbox's writable layer unless the server is told otherwise: 10 GiB.
pub const DEFAULT_SANDBOX_DISK_BYTES: u64 = 10 << 30;
/// The size of a disk volume unless the server is told otherwise: 10 GiB.
pub const DEFAULT_VOLUME_SIZE_BYTES: u64 = 10 << 30;

/// The CPU limit of a sandbox that asks for none, unless the server is told otherwise: 1 core.
pub const DEFAULT_CPU_MILLIS: u64 = 1000;
/// The memory limit of a sandbox that asks for none, unless the server is told otherwise: 2 GiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 2 << 30;

fn store_options(store: &Store, options: &ServiceOptions) {
    store.set_log_retention(options.log_retention_bytes);
}

/// The server's domain logic; shared by every request handler.
pub struct Service {
    store: Arc<Store>,
    runtime: Arc<dyn Runtime>,
    images: ImageStore,
    options: ServiceOptions,
    events: EventSender,
    /// OOM kills per running sandbox, as last sampled (to explain a workload killed by it).
    oom_kills: Mutex<HashMap<String, u64>>,
    /// Teardowns in flight, which a stopping server waits for.
    teardowns: Arc<teardown::Teardowns>,
    /// Lease renewal times.
    leases: leases::Leases,
    /// Serializes creates that carry an idempotency key.
    idempotent_creates: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("runtime", &self.runtime.name())
            .field("data_dir", &self.options.data_dir)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Opens the store under `options.data_dir`, re-adopts or settles the sandboxes a previous
    /// process left, and starts the background tasks (event consumer, TTL reaper). Must run
    /// inside a tokio runtime.
    pub async fn start(
        options: ServiceOptions,
        runtime: Arc<dyn Runtime>,
    ) -> ServiceResult<Arc<Self>> {
        std::fs::create_dir_all(options.data_dir.join("volumes")).map_err(|e| {
            ServiceError::internal(format!(
                "cannot create the data directory {}: {e}",
                options.data_dir.display()
            ))
        })?;
        let store = Store::open(&options.data_dir.join("state.db"))
            .map_err(|e| ServiceError::internal(format!("cannot open the state database: {e}")))?;
        let (events, receiver) = crate::runtime::event_channel();
        let service = Arc::new(Self {
            store: Arc::new(store),
            runtime,
            images: ImageStore::with_options(
                options.data_dir.join("images"),
                options.images.clone(),
            ),
            options,
            events,
            oom_kills: Mutex::new(HashMap::new()),
            teardowns: Arc::default(),
            leases: leases::Leases::default(),
            idempotent_creates: tokio::sync::Mutex::new(()),
        });
        store_options(&service.store, &service.options);
        // Before recovery: adopted sandboxes send their output through the bounded channel.
        lifecycle::spawn_event_loop(service.clone(), receiver);
        // Volumes first: a sandbox started by the recovery must find them mounted.
        service.restore_volumes().await;
        service.recover().await;
        service.reconcile().await;
        service.recover_snapshots();
        lifecycle::spawn_reaper(service.clone());
        metrics::spawn_sampler(service.clone());
        if let Some(every) = service.options.image_prune_interval {
            service.images.spawn_pruner(service.store.clone(), every);
        }
        Ok(service)
    }

    /// The API keys requests must present (none: open).
    #[must_use]
    pub fn api_keys(&self) -> &[String] {
        &self.options.api_keys
    }

    /// Whether other servers share the runtime's sandboxes (several replicas on a cluster).
    #[must_use]
    pub fn runtime_is_shared(&self) -> bool {
        self.runtime.shared()
    }

    /// The server stops: the runtime gives up what only this server holds.
    pub async fn stop_runtime(&self) {
        self.runtime.stop().await;
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    /// `GET /readyz`: 503 with the reason when the runtime cannot start sandboxes.
    pub fn readiness(&self) -> ServiceResult<ReadinessResponse> {
        self.runtime.check().map_err(|reason| {
            ServiceError::new(
                ErrorKind::Unavailable,
                format!("the sandbox runtime is not usable: {reason}"),
            )
        })?;
        let active = self.store.count_active().map_err(store_error)?;
        Ok(ReadinessResponse { status: "ok".to_owned(), active_sandboxes: active })
    }
}

/// A store failure: the server's own ([`ErrorKind::Internal`]), saying what failed.
pub(crate) fn store_error(err: StoreError) -> ServiceError {
    tracing::error!("store: {err}");
    ServiceError::internal(format!("the state database failed: {err}"))
}
