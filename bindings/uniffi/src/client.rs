//! `NativePorter` and its namespaces: the core's `Porter`, `Sandboxes`, `Volumes` and
//! `Snapshots`, one export per ergonomic call.

use std::{sync::Arc, time::Duration};

use porter_sandbox::{
    Porter, Snapshots, Volumes,
    api::{ListSandboxesParams as CoreListParams, SandboxFilter},
    config::ArgNames,
    types,
};

use crate::{
    enums::SandboxesPhase,
    errors::{Result, invalid},
    records::{HealthResponse, ReadinessResponse, SandboxSpec, StringMap},
    sandbox::NativeSandbox,
    volume::NativeVolume,
    volume_records::{Snapshot, SnapshotSpec, VolumeSpec},
};

/// The client's explicit settings; anything `null` is resolved from the environment
/// (`PORTER_SANDBOX_BASE_URL`, `PORTER_CLUSTER_ID` + `PORTER_SANDBOX_API_KEY`, in-cluster).
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct PorterOptions {
    /// The API base URL.
    #[uniffi(default = None)]
    pub base_url: Option<String>,
    /// The API key, sent as `Authorization: Bearer <key>`.
    #[uniffi(default = None)]
    pub api_key: Option<String>,
    /// The default per-call timeout in milliseconds (30000 unless set). Exec and file transfers
    /// have none.
    #[uniffi(default = None)]
    pub timeout_ms: Option<i64>,
    /// Retries after a 429, a 5xx or a network error (3 unless set; exec is never retried).
    #[uniffi(default = None)]
    pub max_retries: Option<i32>,
}

/// Filters and page of a sandbox listing; every field is optional.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct ListSandboxesParams {
    /// Only sandboxes carrying every one of these tags.
    #[uniffi(default = None)]
    pub tags: Option<StringMap>,
    /// Only sandboxes in one of these phases.
    #[uniffi(default = None)]
    pub phase: Option<Vec<SandboxesPhase>>,
    /// Only sandboxes whose name starts with this prefix.
    #[uniffi(default = None)]
    pub search: Option<String>,
    /// Only sandboxes running this image.
    #[uniffi(default = None)]
    pub image: Option<String>,
    /// Only sandboxes created at or after this time (RFC 3339).
    #[uniffi(default = None)]
    pub start_time: Option<String>,
    /// Only sandboxes created at or before this time (RFC 3339).
    #[uniffi(default = None)]
    pub end_time: Option<String>,
    /// The 1-based page (the first one when `null`).
    #[uniffi(default = None)]
    pub page: Option<i64>,
}

impl From<ListSandboxesParams> for CoreListParams {
    fn from(p: ListSandboxesParams) -> Self {
        let mut filter = SandboxFilter {
            start_time: p.start_time,
            end_time: p.end_time,
            search: p.search,
            image: p.image,
            ..SandboxFilter::default()
        };
        for (key, value) in p.tags.unwrap_or_default().0 {
            filter = filter.tag(key, value);
        }
        filter.phase = p.phase.unwrap_or_default().into_iter().map(Into::into).collect();
        Self { filter, include_filter_values: None, page: p.page }
    }
}

/// A count the caller passed as a signed Kotlin number, checked to be non-negative.
pub fn non_negative(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| invalid(format!("{what} must not be negative, got {value}")))
}

/// The Porter Sandbox client: configuration and one connection pool shared by every handle.
#[derive(uniffi::Object)]
pub struct NativePorter {
    porter: Porter,
}

#[uniffi::export(async_runtime = "tokio")]
impl NativePorter {
    /// Resolves the configuration (a `Config` error says what to set when it cannot) and builds
    /// the client, which identifies itself as `porter-sandbox-kotlin/<version>`.
    #[uniffi::constructor]
    pub fn new(options: PorterOptions) -> Result<Arc<Self>> {
        let mut builder = Porter::builder()
            .arg_names(ArgNames::Camel)
            .user_agent("kotlin", env!("CARGO_PKG_VERSION"));
        if let Some(key) = options.api_key {
            builder = builder.api_key(key);
        }
        if let Some(url) = options.base_url {
            builder = builder.base_url(url);
        }
        if let Some(ms) = options.timeout_ms {
            builder = builder.timeout(Duration::from_millis(non_negative(ms, "timeoutMs")?));
        }
        if let Some(retries) = options.max_retries {
            let retries = u32::try_from(retries)
                .map_err(|_| invalid(format!("maxRetries must not be negative, got {retries}")))?;
            builder = builder.max_retries(retries);
        }
        Ok(Arc::new(Self { porter: builder.build()? }))
    }

    /// The base URL in use.
    pub fn base_url(&self) -> String {
        self.porter.base_url().to_owned()
    }

    /// The default per-call timeout, in milliseconds.
    pub fn timeout_ms(&self) -> i64 {
        i64::try_from(self.porter.timeout().as_millis()).unwrap_or(i64::MAX)
    }

    /// Releases the connection pool; later calls on any handle fail with `InvalidArgument`.
    pub fn close_pool(&self) {
        self.porter.close();
    }

    /// Whether `close_pool` was called.
    pub fn is_closed(&self) -> bool {
        self.porter.is_closed()
    }

    /// The sandbox namespace.
    pub fn sandboxes(&self) -> Arc<NativeSandboxes> {
        Arc::new(NativeSandboxes { inner: self.porter.sandboxes() })
    }

    /// The volume namespace.
    pub fn volumes(&self) -> Arc<NativeVolumes> {
        Arc::new(NativeVolumes { inner: self.porter.volumes() })
    }

    /// The snapshot namespace.
    pub fn snapshots(&self) -> Arc<NativeSnapshots> {
        Arc::new(NativeSnapshots { inner: self.porter.snapshots() })
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<HealthResponse> {
        Ok(self.porter.healthz().await?.into())
    }

    /// `GET /readyz`.
    pub async fn readyz(&self) -> Result<ReadinessResponse> {
        Ok(self.porter.readyz().await?.into())
    }
}

/// The sandbox namespace: create, get by name or id, list.
#[derive(uniffi::Object)]
pub struct NativeSandboxes {
    inner: porter_sandbox::Sandboxes,
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeSandboxes {
    /// Creates a sandbox; the handle holds only the id until `refresh`. The request carries an
    /// `Idempotency-Key` reused by its retries; a spec with `lease_seconds` has its lease renewed
    /// by this client while it lives.
    pub async fn create(&self, spec: SandboxSpec) -> Result<Arc<NativeSandbox>> {
        let spec = types::SandboxSpec::from(spec);
        Ok(NativeSandbox::wrap(self.inner.create(spec).await?))
    }

    /// The live sandbox named `name`, or a new one created from `spec` with that name;
    /// concurrent callers get the same sandbox.
    pub async fn get_or_create(
        &self,
        name: String,
        spec: SandboxSpec,
    ) -> Result<Arc<NativeSandbox>> {
        let spec = types::SandboxSpec::from(spec);
        Ok(NativeSandbox::wrap(self.inner.get_or_create(&name, spec).await?))
    }

    /// The sandbox named `name`, with its status.
    pub async fn get(&self, name: String) -> Result<Arc<NativeSandbox>> {
        Ok(NativeSandbox::wrap(self.inner.get(&name).await?))
    }

    /// The sandbox with id `id`, with its status.
    pub async fn get_by_id(&self, id: String) -> Result<Arc<NativeSandbox>> {
        Ok(NativeSandbox::wrap(self.inner.get_by_id(&id).await?))
    }

    /// One page of matching sandboxes, each with its status.
    pub async fn list(&self, params: ListSandboxesParams) -> Result<Vec<Arc<NativeSandbox>>> {
        let sandboxes = self.inner.list(CoreListParams::from(params)).await?;
        Ok(sandboxes.into_iter().map(NativeSandbox::wrap).collect())
    }

    /// Every matching sandbox, following pages from `params.page` to the last.
    pub async fn list_all(&self, params: ListSandboxesParams) -> Result<Vec<Arc<NativeSandbox>>> {
        let sandboxes = self.inner.list_all(CoreListParams::from(params)).await?;
        Ok(sandboxes.into_iter().map(NativeSandbox::wrap).collect())
    }

    /// A handle for the sandbox `id`, without any request.
    pub fn handle(&self, id: String) -> Arc<NativeSandbox> {
        NativeSandbox::wrap(self.inner.handle(id))
    }
}

/// The volume namespace: create, list, get and delete by name.
#[derive(uniffi::Object)]
pub struct NativeVolumes {
    inner: Volumes,
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeVolumes {
    /// Creates a volume (an unnamed disk volume when `spec` is all `null`).
    pub async fn create(&self, spec: VolumeSpec) -> Result<Arc<NativeVolume>> {
        let spec = types::VolumeSpec::try_from(spec)?;
        Ok(NativeVolume::wrap(self.inner.create(spec).await?))
    }

    /// Every volume.
    pub async fn list(&self) -> Result<Vec<Arc<NativeVolume>>> {
        Ok(self.inner.list().await?.into_iter().map(NativeVolume::wrap).collect())
    }

    /// The volume named `name`.
    pub async fn get(&self, name: String) -> Result<Arc<NativeVolume>> {
        Ok(NativeVolume::wrap(self.inner.get(&name).await?))
    }

    /// The volume with id `id`.
    pub async fn get_by_id(&self, id: String) -> Result<Arc<NativeVolume>> {
        Ok(NativeVolume::wrap(self.inner.get_by_id(&id).await?))
    }

    /// Deletes the volume named `name` (refused while it is attached to a sandbox).
    pub async fn delete(&self, name: String) -> Result<()> {
        Ok(self.inner.delete(&name).await?)
    }
}

/// The snapshot namespace: create, list, get, delete.
#[derive(uniffi::Object)]
pub struct NativeSnapshots {
    inner: Snapshots,
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeSnapshots {
    /// Captures the running sandbox `sandbox_id`; poll `get` until the status is final.
    pub async fn create(&self, sandbox_id: String, spec: SnapshotSpec) -> Result<Snapshot> {
        let spec = types::SnapshotSpec::try_from(spec)?;
        Ok(self.inner.create(&sandbox_id, spec).await?.into())
    }

    /// Snapshots, newest first, optionally only those of one sandbox.
    pub async fn list(&self, sandbox_id: Option<String>) -> Result<Vec<Snapshot>> {
        let list = self.inner.list(sandbox_id.as_deref()).await?;
        Ok(list.snapshots.into_iter().map(Snapshot::from).collect())
    }

    /// One snapshot and its capture status.
    pub async fn get(&self, id: String) -> Result<Snapshot> {
        Ok(self.inner.get(&id).await?.into())
    }

    /// Deletes a snapshot.
    pub async fn delete(&self, id: String) -> Result<()> {
        Ok(self.inner.delete(&id).await?)
    }
}
