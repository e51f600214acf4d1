//! The domain: sandbox lifecycle, names, TTLs, exec bookkeeping and volumes, over the store,
//! the runtime and the image store.

mod lifecycle;
pub mod names;
mod sandboxes;
mod volumes;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use porter_sandbox::types::ReadinessResponse;
use tokio::sync::mpsc;

pub use crate::store::SandboxQuery;
use crate::{
    error::{ApiError, ApiResult},
    images::{ImageOptions, ImageStore},
    runtime::{Runtime, RuntimeEvent},
    store::{Store, StoreError},
};

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
    /// Registry pulls and image garbage collection.
    pub images: ImageOptions,
    /// Prune unused images this often (none: only `porter-sandbox images prune`).
    pub image_prune_interval: Option<Duration>,
}

/// The server's domain logic; shared by every request handler.
pub struct Service {
    store: Arc<Store>,
    runtime: Arc<dyn Runtime>,
    images: ImageStore,
    options: ServiceOptions,
    events: mpsc::UnboundedSender<RuntimeEvent>,
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
    ) -> Result<Arc<Self>, String> {
        std::fs::create_dir_all(options.data_dir.join("volumes")).map_err(|e| {
            format!("cannot create the data directory {}: {e}", options.data_dir.display())
        })?;
        let store = Store::open(&options.data_dir.join("state.db"))
            .map_err(|e| format!("cannot open the state database: {e}"))?;
        let (events, receiver) = mpsc::unbounded_channel();
        let service = Arc::new(Self {
            store: Arc::new(store),
            runtime,
            images: ImageStore::with_options(
                options.data_dir.join("images"),
                options.images.clone(),
            ),
            options,
            events,
        });
        service.recover().await;
        lifecycle::spawn_event_loop(service.clone(), receiver);
        lifecycle::spawn_reaper(service.clone());
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

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.options.data_dir
    }

    /// `GET /readyz`: 503 with the reason when the runtime cannot start sandboxes.
    pub fn readiness(&self) -> ApiResult<ReadinessResponse> {
        self.runtime.check().map_err(|reason| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("the sandbox runtime is not usable: {reason}"),
            )
        })?;
        let active = self.store.count_active().map_err(store_error)?;
        Ok(ReadinessResponse { status: "ok".to_owned(), active_sandboxes: active })
    }
}

/// A store failure as a 500 that says what failed.
pub(crate) fn store_error(err: StoreError) -> ApiError {
    tracing::error!("store: {err}");
    ApiError::internal(format!("the state database failed: {err}"))
}
