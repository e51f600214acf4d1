//! `NativeClient`: one `porter_sandbox::Porter` with every low-level endpoint and the ergonomic
//! namespace calls. Every method returns a Promise that runs on the shared tokio runtime.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use porter_sandbox::{
    BinaryBody, Porter,
    config::ArgNames,
    types::{
        ExecRequest, SandboxMetric, SandboxSpec, SandboxesSource, SnapshotSpec,
        VolumeFileMoveRequest, VolumeSpec,
    },
};
use serde_json::Value;

use crate::{
    convert::{Content, from_js, from_js_strict, timeout, to_json},
    errors::{IntoJs, invalid},
    options::{
        ListFilesOptions, LogsOptions, MetricsOptions, NameOptions, PathOptions, ReadFileOptions,
        SandboxListOptions, SinceOptions, SnapshotListOptions,
    },
    sandbox::NativeSandbox,
    volume::NativeVolume,
};

/// `new Porter({ apiKey, baseUrl, timeoutMs, maxRetries })`.
#[napi(object)]
#[derive(Default)]
pub struct ClientOptions {
    /// API key; else `PORTER_SANDBOX_API_KEY`.
    pub api_key: Option<String>,
    /// Base URL; else `PORTER_SANDBOX_BASE_URL`, the cluster gateway or the in-cluster URL.
    pub base_url: Option<String>,
    /// Default per-call timeout in milliseconds (30000 unless set).
    pub timeout_ms: Option<f64>,
    /// Retries after a 429, a 5xx or a network error (3 unless set).
    pub max_retries: Option<u32>,
}

/// An upload body: bytes, or the path of a local file streamed from disk (and again on the
/// API's redirect or a retry).
pub fn upload(bytes: Option<Buffer>, file: Option<String>) -> napi::Result<BinaryBody> {
    match (bytes, file) {
        (Some(bytes), None) => Ok(BinaryBody::from_bytes(bytes::Bytes::from_owner(bytes))),
        (None, Some(path)) => Ok(BinaryBody::from_path(path)),
        _ => Err(invalid("pass exactly one of bytes and a file path")),
    }
}

/// The Porter Sandbox client: configuration, one connection pool, every endpoint.
#[napi]
pub struct NativeClient {
    porter: Porter,
}

#[napi]
impl NativeClient {
    /// Resolves the configuration (throws a plain `Error` when it cannot) and builds the client,
    /// which identifies itself as `porter-sandbox-node/<version>`.
    #[napi(constructor)]
    pub fn new(options: Option<ClientOptions>, version: String) -> napi::Result<Self> {
        let options = options.unwrap_or_default();
        let mut builder = Porter::builder().arg_names(ArgNames::Camel).user_agent("node", &version);
        if let Some(key) = options.api_key {
            builder = builder.api_key(key);
        }
        if let Some(url) = options.base_url {
            builder = builder.base_url(url);
        }
        if let Some(t) = timeout(options.timeout_ms)? {
            builder = builder.timeout(t);
        }
        if let Some(retries) = options.max_retries {
            builder = builder.max_retries(retries);
        }
        Ok(Self { porter: builder.build().js()? })
    }

    /// The base URL in use.
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.porter.base_url().to_owned()
    }

    /// The default per-call timeout, in milliseconds.
    #[napi(getter)]
    pub fn timeout_ms(&self) -> f64 {
        self.porter.timeout().as_secs_f64() * 1000.0
    }

    /// Whether `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.porter.is_closed()
    }

    /// Releases the connection pool; later calls fail with a `SandboxError`.
    #[napi]
    pub fn close(&self) {
        self.porter.close();
    }

    // ---- sandboxes (low level) ----

    /// `GET /v1/sandbox`.
    #[napi]
    pub async fn list_sandboxes(&self, options: Option<Value>) -> napi::Result<Value> {
        let params = from_js::<SandboxListOptions>(options, "list options")?.params();
        to_json(&self.porter.raw().sandboxes().list_sandboxes(&params).await.js()?)
    }

    /// `GET /v1/sandbox/counts`.
    #[napi]
    pub async fn sandbox_counts(&self, options: Option<Value>) -> napi::Result<Value> {
        let mut options = from_js::<SandboxListOptions>(options, "counts options")?;
        let filter = options.filter();
        to_json(&self.porter.raw().sandboxes().sandbox_counts(&filter).await.js()?)
    }

    /// `POST /v1/sandbox/run`.
    #[napi]
    pub async fn create_sandbox(&self, body: Value) -> napi::Result<Value> {
        let spec: SandboxSpec = from_js_strict(Some(body), "sandbox spec")?;
        to_json(&self.porter.raw().sandboxes().create_sandbox(&spec).await.js()?)
    }

    /// `GET /v1/sandbox/lookup`.
    #[napi]
    pub async fn lookup_sandbox(&self, options: Value) -> napi::Result<Value> {
        let options: NameOptions = from_js(Some(options), "lookup options")?;
        to_json(&self.porter.raw().sandboxes().lookup_sandbox(&options.name).await.js()?)
    }

    /// `GET /v1/sandbox/{id}`.
    #[napi]
    pub async fn get_sandbox(&self, id: String) -> napi::Result<Value> {
        to_json(&self.porter.raw().sandboxes().get_sandbox(&id).await.js()?)
    }

    /// `DELETE /v1/sandbox/{id}`, optionally saying who asked.
    #[napi]
    pub async fn delete_sandbox(&self, id: String, source: Option<String>) -> napi::Result<()> {
        let source = source.as_deref().map(SandboxesSource::from_wire);
        self.porter.raw().sandboxes().delete_sandbox(&id, source.as_ref()).await.js()
    }

    /// `GET /v1/sandbox/{id}/logs`.
    #[napi]
    pub async fn get_sandbox_logs(
        &self,
        id: String,
        options: Option<Value>,
    ) -> napi::Result<Value> {
        let query: porter_sandbox::LogsQuery =
            from_js::<LogsOptions>(options, "logs options")?.into();
        let api = self.porter.raw().sandboxes();
        to_json(&api.get_sandbox_logs(&id, query.limit, query.since.as_deref()).await.js()?)
    }

    /// `POST /v1/sandbox/{id}/exec`: no timeout unless `timeoutMs`; never retried.
    #[napi]
    pub async fn exec_sandbox(
        &self,
        id: String,
        body: Value,
        timeout_ms: Option<f64>,
    ) -> napi::Result<Value> {
        let body: ExecRequest = from_js(Some(body), "exec request")?;
        let timeout = timeout(timeout_ms)?;
        to_json(&self.porter.raw().sandboxes().exec_sandbox(&id, &body, timeout).await.js()?)
    }

    /// `GET /v1/sandbox/{id}/metrics-summary`.
    #[napi]
    pub async fn get_sandbox_metrics_summary(
        &self,
        id: String,
        options: Option<Value>,
    ) -> napi::Result<Value> {
        let options: SinceOptions = from_js(options, "metrics summary options")?;
        let api = self.porter.raw().sandboxes();
        to_json(&api.get_sandbox_metrics_summary(&id, options.since.as_deref()).await.js()?)
    }

    /// `GET /v1/sandbox/{id}/metrics`.
    #[napi]
    pub async fn get_sandbox_metrics(&self, id: String, options: Value) -> napi::Result<Value> {
        let o: MetricsOptions = from_js(Some(options), "metrics options")?;
        let metric = SandboxMetric::from_wire(&o.metric);
        let api = self.porter.raw().sandboxes();
        let result = api.get_sandbox_metrics(&id, &metric, &o.start_time_utc, &o.end_time_utc);
        to_json(&result.await.js()?)
    }

    // ---- snapshots ----

    /// `POST /v1/sandbox/{id}/snapshot`.
    #[napi]
    pub async fn create_snapshot(&self, id: String, body: Option<Value>) -> napi::Result<Value> {
        let spec: SnapshotSpec = from_js(body, "snapshot spec")?;
        to_json(&self.porter.raw().snapshots().create_snapshot(&id, &spec).await.js()?)
    }

    /// `GET /v1/snapshot`.
    #[napi]
    pub async fn list_snapshots(&self, options: Option<Value>) -> napi::Result<Value> {
        let options: SnapshotListOptions = from_js(options, "snapshot list options")?;
        let api = self.porter.raw().snapshots();
        to_json(&api.list_snapshots(options.sandbox_id.as_deref()).await.js()?)
    }

    /// `GET /v1/snapshot/{id}`.
    #[napi]
    pub async fn get_snapshot(&self, id: String) -> napi::Result<Value> {
        to_json(&self.porter.raw().snapshots().get_snapshot(&id).await.js()?)
    }

    /// `DELETE /v1/snapshot/{id}`.
    #[napi]
    pub async fn delete_snapshot(&self, id: String) -> napi::Result<()> {
        self.porter.raw().snapshots().delete_snapshot(&id).await.js()
    }

    // ---- volumes (low level) ----

    /// `GET /v1/volume`.
    #[napi]
    pub async fn list_volumes(&self) -> napi::Result<Value> {
        to_json(&self.porter.raw().volumes().list_volumes().await.js()?)
    }

    /// `POST /v1/volume`.
    #[napi]
    pub async fn create_volume(&self, body: Option<Value>) -> napi::Result<Value> {
        let spec: VolumeSpec = from_js(body, "volume spec")?;
        to_json(&self.porter.raw().volumes().create_volume(&spec).await.js()?)
    }

    /// `GET /v1/volume/lookup`.
    #[napi]
    pub async fn lookup_volume(&self, options: Value) -> napi::Result<Value> {
        let options: NameOptions = from_js(Some(options), "lookup options")?;
        to_json(&self.porter.raw().volumes().lookup_volume(&options.name).await.js()?)
    }

    /// `GET /v1/volume/{id}`.
    #[napi]
    pub async fn get_volume(&self, id: String) -> napi::Result<Value> {
        to_json(&self.porter.raw().volumes().get_volume(&id).await.js()?)
    }

    /// `DELETE /v1/volume/{id}`.
    #[napi]
    pub async fn delete_volume(&self, id: String) -> napi::Result<()> {
        self.porter.raw().volumes().delete_volume(&id).await.js()
    }

    /// `GET /v1/volume/{id}/files`.
    #[napi]
    pub async fn list_volume_files(
        &self,
        id: String,
        options: Option<Value>,
    ) -> napi::Result<Value> {
        let o: ListFilesOptions = from_js(options, "list files options")?;
        let api = self.porter.raw().volumes();
        to_json(&api.list_volume_files(&id, o.path.as_deref(), o.search.as_deref()).await.js()?)
    }

    /// `GET /v1/volume/{id}/files/content`: no timeout unless `timeoutMs`.
    #[napi]
    pub async fn read_volume_file(
        &self,
        id: String,
        options: Value,
        timeout_ms: Option<f64>,
    ) -> napi::Result<Content> {
        let o: ReadFileOptions = from_js(Some(options), "read options")?;
        let timeout = timeout(timeout_ms)?;
        let api = self.porter.raw().volumes();
        let content = api.read_volume_file(&id, &o.path, o.range.as_deref(), timeout).await.js()?;
        Ok(content.into())
    }

    /// `PUT /v1/volume/{id}/files/content` with `bytes` or the file at `file`: no timeout
    /// unless `timeoutMs`.
    #[napi]
    pub async fn write_volume_file(
        &self,
        id: String,
        bytes: Option<Buffer>,
        file: Option<String>,
        options: Value,
        timeout_ms: Option<f64>,
    ) -> napi::Result<()> {
        let body = upload(bytes, file)?;
        let o: PathOptions = from_js(Some(options), "write options")?;
        let timeout = timeout(timeout_ms)?;
        self.porter.raw().volumes().write_volume_file(&id, body, &o.path, timeout).await.js()
    }

    /// `POST /v1/volume/{id}/files/move`.
    #[napi]
    pub async fn move_volume_file(&self, id: String, body: Value) -> napi::Result<()> {
        let body: VolumeFileMoveRequest = from_js(Some(body), "move request")?;
        self.porter.raw().volumes().move_volume_file(&id, &body).await.js()
    }

    // ---- health ----

    /// `GET /healthz`.
    #[napi]
    pub async fn health_check(&self) -> napi::Result<Value> {
        to_json(&self.porter.healthz().await.js()?)
    }

    /// `GET /readyz`.
    #[napi]
    pub async fn readiness_check(&self) -> napi::Result<Value> {
        to_json(&self.porter.readyz().await.js()?)
    }

    // ---- ergonomic namespaces ----

    /// `sandboxes.create(spec)`: a handle holding only the id.
    #[napi]
    pub async fn create_sandbox_handle(&self, spec: Value) -> napi::Result<NativeSandbox> {
        let spec: SandboxSpec = from_js_strict(Some(spec), "sandbox spec")?;
        Ok(self.porter.sandboxes().create(spec).await.js()?.into())
    }

    /// `sandboxes.getOrCreate(name, spec)`: the live sandbox named `name`, or a new one from
    /// `spec` with that name; concurrent callers get the same sandbox.
    #[napi]
    pub async fn get_or_create_sandbox_handle(
        &self,
        name: String,
        spec: Value,
    ) -> napi::Result<NativeSandbox> {
        let spec: SandboxSpec = from_js_strict(Some(spec), "sandbox spec")?;
        Ok(self.porter.sandboxes().get_or_create(&name, spec).await.js()?.into())
    }

    /// `sandboxes.get(name)`: lookup, then status.
    #[napi]
    pub async fn get_sandbox_handle(&self, name: String) -> napi::Result<NativeSandbox> {
        Ok(self.porter.sandboxes().get(&name).await.js()?.into())
    }

    /// `sandboxes.list(options)`: one handle per listed sandbox, each with its status.
    #[napi]
    pub async fn list_sandbox_handles(
        &self,
        options: Option<Value>,
    ) -> napi::Result<Vec<NativeSandbox>> {
        let params = from_js::<SandboxListOptions>(options, "list options")?.params();
        let sandboxes = self.porter.sandboxes().list(params).await.js()?;
        Ok(sandboxes.into_iter().map(NativeSandbox::from).collect())
    }

    /// A handle for the sandbox `id`, without any request.
    #[napi]
    pub fn sandbox_handle(&self, id: String) -> NativeSandbox {
        self.porter.sandboxes().handle(id).into()
    }

    /// `volumes.create(spec)`.
    #[napi]
    pub async fn create_volume_handle(&self, spec: Option<Value>) -> napi::Result<NativeVolume> {
        let spec: VolumeSpec = from_js(spec, "volume spec")?;
        Ok(self.porter.volumes().create(spec).await.js()?.into())
    }

    /// `volumes.list()`.
    #[napi]
    pub async fn list_volume_handles(&self) -> napi::Result<Vec<NativeVolume>> {
        let volumes = self.porter.volumes().list().await.js()?;
        Ok(volumes.into_iter().map(NativeVolume::from).collect())
    }

    /// `volumes.get(name)`: lookup, then read.
    #[napi]
    pub async fn get_volume_handle(&self, name: String) -> napi::Result<NativeVolume> {
        Ok(self.porter.volumes().get(&name).await.js()?.into())
    }

    /// `volumes.delete(name)`: lookup, then delete.
    #[napi]
    pub async fn delete_volume_by_name(&self, name: String) -> napi::Result<()> {
        self.porter.volumes().delete(&name).await.js()
    }
}
