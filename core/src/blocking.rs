//! The client for synchronous code: the same surface as the async one, each call run to
//! completion on the shared runtime ([`crate::runtime`]). Do not call it from async code.
//!
//! ```no_run
//! use porter_sandbox::{blocking::Porter, types::SandboxSpec};
//!
//! # fn demo() -> porter_sandbox::Result<()> {
//! let porter = Porter::builder().base_url("http://127.0.0.1:8080").build()?;
//! let sandbox = porter.sandboxes().create(SandboxSpec::new("host"))?;
//! println!("{}", sandbox.exec(["echo", "hi"])?.stdout);
//! sandbox.terminate()?;
//! # Ok(()) }
//! ```

mod lifecycle;
mod process;

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use indexmap::IndexMap;

use crate::{
    BinaryBody, LogsQuery, PorterBuilder, Result,
    api::{ListSandboxesParams, RawClient},
    config::Config,
    runtime::block_on,
    types::{
        ExecResponse, HealthResponse, LogLine, ReadinessResponse, SandboxSpec, SandboxesSource,
        Snapshot, SnapshotListResponse, SnapshotSpec, StatusResponse, StatusResponsePhase,
        VolumeObjectSpec, VolumePhase, VolumeRecord, VolumeSpec, VolumeType,
    },
    volume::VolumeFile,
};

pub use lifecycle::SandboxGuard;
pub use process::Process;

/// Runs a fallible future on the shared runtime.
fn run<T>(future: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    block_on(future)?
}

/// A blocking iterator over an async stream. After a failure to run at all (called from
/// inside an async runtime) it yields that error once, then ends.
pub struct BlockingIter<T> {
    stream: Option<Pin<Box<dyn Stream<Item = Result<T>> + Send>>>,
}

impl<T> BlockingIter<T> {
    fn new(stream: Pin<Box<dyn Stream<Item = Result<T>> + Send>>) -> Self {
        Self { stream: Some(stream) }
    }
}

impl<T> Iterator for BlockingIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        match block_on(stream.next()) {
            Ok(item) => item,
            Err(err) => {
                self.stream = None;
                Some(Err(err))
            }
        }
    }
}

/// The blocking Porter Sandbox client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Porter {
    inner: crate::Porter,
}

/// Builds a blocking [`Porter`]; the same settings as [`PorterBuilder`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct BlockingPorterBuilder {
    inner: PorterBuilder,
}

impl BlockingPorterBuilder {
    /// See [`PorterBuilder::api_key`].
    pub fn api_key(self, api_key: impl Into<String>) -> Self {
        Self { inner: self.inner.api_key(api_key) }
    }

    /// See [`PorterBuilder::base_url`].
    pub fn base_url(self, base_url: impl Into<String>) -> Self {
        Self { inner: self.inner.base_url(base_url) }
    }

    /// See [`PorterBuilder::timeout`].
    pub fn timeout(self, timeout: std::time::Duration) -> Self {
        Self { inner: self.inner.timeout(timeout) }
    }

    /// See [`PorterBuilder::max_retries`].
    pub fn max_retries(self, max_retries: u32) -> Self {
        Self { inner: self.inner.max_retries(max_retries) }
    }

    /// See [`PorterBuilder::user_agent`].
    pub fn user_agent(self, language: &str, version: &str) -> Self {
        Self { inner: self.inner.user_agent(language, version) }
    }

    /// Resolves the configuration and builds the client.
    pub fn build(self) -> Result<Porter> {
        Ok(Porter { inner: self.inner.build()? })
    }
}

impl Porter {
    /// A client configured from the environment alone.
    pub fn new() -> Result<Self> {
        Ok(Self { inner: crate::Porter::new()? })
    }

    /// A builder for explicit settings.
    pub fn builder() -> BlockingPorterBuilder {
        BlockingPorterBuilder::default()
    }

    /// A client for an already resolved configuration.
    pub fn from_config(config: &Config) -> Result<Self> {
        Ok(Self { inner: crate::Porter::from_config(config)? })
    }

    /// Sandboxes: create, get by name, list.
    #[must_use]
    pub fn sandboxes(&self) -> Sandboxes {
        Sandboxes { inner: self.inner.sandboxes() }
    }

    /// Volumes: create, list, get and delete by name.
    #[must_use]
    pub fn volumes(&self) -> Volumes {
        Volumes { inner: self.inner.volumes() }
    }

    /// Snapshots: create, list, get, delete.
    #[must_use]
    pub fn snapshots(&self) -> Snapshots {
        Snapshots { inner: self.inner.snapshots() }
    }

    /// `GET /healthz`.
    pub fn healthz(&self) -> Result<HealthResponse> {
        run(self.inner.healthz())
    }

    /// `GET /readyz`.
    pub fn readyz(&self) -> Result<ReadinessResponse> {
        run(self.inner.readyz())
    }

    /// The async low-level client; run its calls with [`crate::runtime::block_on`].
    #[must_use]
    pub fn raw(&self) -> &RawClient {
        self.inner.raw()
    }

    /// The async client this one wraps.
    #[must_use]
    pub fn as_async(&self) -> &crate::Porter {
        &self.inner
    }

    /// Releases the connection pool; later calls fail.
    pub fn close(&self) {
        self.inner.close();
    }
}

/// Blocking [`crate::Sandboxes`].
#[derive(Debug, Clone)]
pub struct Sandboxes {
    inner: crate::Sandboxes,
}

impl Sandboxes {
    /// See [`crate::Sandboxes::create`].
    pub fn create(&self, spec: impl Into<SandboxSpec>) -> Result<Sandbox> {
        run(self.inner.create(spec)).map(Sandbox::from)
    }

    /// See [`crate::Sandboxes::get`].
    pub fn get(&self, name: &str) -> Result<Sandbox> {
        run(self.inner.get(name)).map(Sandbox::from)
    }

    /// See [`crate::Sandboxes::get_by_id`].
    pub fn get_by_id(&self, id: &str) -> Result<Sandbox> {
        run(self.inner.get_by_id(id)).map(Sandbox::from)
    }

    /// See [`crate::Sandboxes::list`].
    pub fn list(&self, params: impl Into<ListSandboxesParams>) -> Result<Vec<Sandbox>> {
        Ok(run(self.inner.list(params))?.into_iter().map(Sandbox::from).collect())
    }

    /// See [`crate::Sandboxes::list_all`].
    pub fn list_all(&self, params: impl Into<ListSandboxesParams>) -> Result<Vec<Sandbox>> {
        Ok(run(self.inner.list_all(params))?.into_iter().map(Sandbox::from).collect())
    }

    /// See [`crate::Sandboxes::handle`].
    #[must_use]
    pub fn handle(&self, id: impl Into<String>) -> Sandbox {
        Sandbox::from(self.inner.handle(id))
    }
}

/// Blocking [`crate::Sandbox`].
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: crate::Sandbox,
}

impl From<crate::Sandbox> for Sandbox {
    fn from(inner: crate::Sandbox) -> Self {
        Self { inner }
    }
}

impl Sandbox {
    /// The sandbox id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// The phase of the cached status.
    #[must_use]
    pub fn phase(&self) -> Option<StatusResponsePhase> {
        self.inner.phase()
    }

    /// The tags of the cached status.
    #[must_use]
    pub fn tags(&self) -> Option<IndexMap<String, String>> {
        self.inner.tags()
    }

    /// The cached status.
    #[must_use]
    pub fn status(&self) -> Option<StatusResponse> {
        self.inner.status()
    }

    /// See [`crate::Sandbox::refresh`].
    pub fn refresh(&self) -> Result<StatusResponse> {
        run(self.inner.refresh())
    }

    /// See [`crate::Sandbox::exec`].
    pub fn exec<I, S>(&self, command: I) -> Result<ExecResponse>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        run(self.inner.exec(command))
    }

    /// See [`crate::Sandbox::exec_with`].
    pub fn exec_with<I, S>(&self, command: I, options: crate::ExecOptions) -> Result<ExecResponse>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        run(self.inner.exec_with(command, options))
    }

    /// See [`crate::Sandbox::logs`].
    pub fn logs(&self, query: LogsQuery) -> Result<Vec<LogLine>> {
        run(self.inner.logs(query))
    }

    /// See [`crate::Sandbox::terminate`].
    pub fn terminate(&self) -> Result<()> {
        run(self.inner.terminate())
    }

    /// See [`crate::Sandbox::terminate_from`].
    pub fn terminate_from(&self, source: SandboxesSource) -> Result<()> {
        run(self.inner.terminate_from(source))
    }
}

/// Blocking [`crate::Volumes`].
#[derive(Debug, Clone)]
pub struct Volumes {
    inner: crate::Volumes,
}

impl Volumes {
    /// See [`crate::Volumes::create`].
    pub fn create(&self, spec: impl Into<VolumeSpec>) -> Result<VolumeHandle> {
        run(self.inner.create(spec)).map(VolumeHandle::from)
    }

    /// See [`crate::Volumes::list`].
    pub fn list(&self) -> Result<Vec<VolumeHandle>> {
        Ok(run(self.inner.list())?.into_iter().map(VolumeHandle::from).collect())
    }

    /// See [`crate::Volumes::get`].
    pub fn get(&self, name: &str) -> Result<VolumeHandle> {
        run(self.inner.get(name)).map(VolumeHandle::from)
    }

    /// See [`crate::Volumes::get_by_id`].
    pub fn get_by_id(&self, id: &str) -> Result<VolumeHandle> {
        run(self.inner.get_by_id(id)).map(VolumeHandle::from)
    }

    /// See [`crate::Volumes::delete`].
    pub fn delete(&self, name: &str) -> Result<()> {
        run(self.inner.delete(name))
    }
}

/// Blocking [`crate::VolumeHandle`].
#[derive(Debug, Clone)]
pub enum VolumeHandle {
    /// A disk volume, with file operations.
    Disk(Volume),
    /// An object (bucket) volume.
    Object(ObjectVolume),
}

impl From<crate::VolumeHandle> for VolumeHandle {
    fn from(handle: crate::VolumeHandle) -> Self {
        match handle {
            crate::VolumeHandle::Disk(inner) => Self::Disk(Volume { inner }),
            crate::VolumeHandle::Object(inner) => Self::Object(ObjectVolume { inner }),
        }
    }
}

impl VolumeHandle {
    /// The volume id.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Self::Disk(v) => v.inner.id(),
            Self::Object(v) => v.inner.id(),
        }
    }

    /// The disk handle, or an error when this is an object volume.
    pub fn into_disk(self) -> Result<Volume> {
        match self {
            Self::Disk(v) => Ok(v),
            Self::Object(v) => {
                crate::VolumeHandle::Object(v.inner).into_disk().map(|inner| Volume { inner })
            }
        }
    }
}

/// Blocking [`crate::Volume`].
#[derive(Debug, Clone)]
pub struct Volume {
    inner: crate::Volume,
}

/// Blocking [`crate::ObjectVolume`].
#[derive(Debug, Clone)]
pub struct ObjectVolume {
    inner: crate::ObjectVolume,
}

macro_rules! blocking_volume_accessors {
    ($handle:ty) => {
        impl $handle {
            /// The volume id.
            #[must_use]
            pub fn id(&self) -> &str {
                self.inner.id()
            }

            /// The volume name.
            #[must_use]
            pub fn name(&self) -> String {
                self.inner.name()
            }

            /// The volume type.
            #[must_use]
            pub fn volume_type(&self) -> VolumeType {
                self.inner.volume_type()
            }

            /// The lifecycle phase.
            #[must_use]
            pub fn phase(&self) -> VolumePhase {
                self.inner.phase()
            }

            /// Ids of the sandboxes the volume is attached to.
            #[must_use]
            pub fn attached_to(&self) -> Vec<String> {
                self.inner.attached_to()
            }

            /// Creation time, RFC 3339.
            #[must_use]
            pub fn created_at(&self) -> String {
                self.inner.created_at()
            }

            /// The cached record.
            #[must_use]
            pub fn record(&self) -> VolumeRecord {
                self.inner.record()
            }

            /// Reads the record again and caches it.
            pub fn refresh(&self) -> Result<VolumeRecord> {
                run(self.inner.refresh())
            }

            /// Deletes the volume.
            pub fn delete(&self) -> Result<()> {
                run(self.inner.delete())
            }
        }
    };
}

blocking_volume_accessors!(Volume);
blocking_volume_accessors!(ObjectVolume);

impl ObjectVolume {
    /// See [`crate::ObjectVolume::object`].
    pub fn object(&self) -> Result<VolumeObjectSpec> {
        self.inner.object()
    }
}

impl Volume {
    /// The data subdirectory under the shared volumes mount.
    #[must_use]
    pub fn path(&self) -> String {
        self.inner.path()
    }

    /// See [`crate::Volume::listdir`].
    pub fn listdir(&self, path: &str) -> Result<Vec<VolumeFile>> {
        run(self.inner.listdir(path))
    }

    /// See [`crate::Volume::iterdir`].
    #[must_use]
    pub fn iterdir(&self, path: &str) -> BlockingIter<VolumeFile> {
        BlockingIter::new(self.inner.iterdir(path))
    }

    /// See [`crate::Volume::search`].
    pub fn search(&self, query: &str, path: &str) -> Result<Vec<VolumeFile>> {
        run(self.inner.search(query, path))
    }

    /// See [`crate::Volume::read_file`].
    pub fn read_file(&self, path: &str, offset: Option<u64>, length: Option<u64>) -> Result<Bytes> {
        run(self.inner.read_file(path, offset, length))
    }

    /// See [`crate::Volume::read_text`].
    pub fn read_text(
        &self,
        path: &str,
        offset: Option<u64>,
        length: Option<u64>,
    ) -> Result<String> {
        run(self.inner.read_text(path, offset, length))
    }

    /// See [`crate::Volume::write_file`].
    pub fn write_file(&self, path: &str, content: impl Into<BinaryBody>) -> Result<()> {
        run(self.inner.write_file(path, content))
    }

    /// See [`crate::Volume::write_text`].
    pub fn write_text(&self, path: &str, content: impl Into<String>) -> Result<()> {
        run(self.inner.write_text(path, content))
    }

    /// See [`crate::Volume::move_file`].
    pub fn move_file(&self, from_path: &str, to_path: &str) -> Result<()> {
        run(self.inner.move_file(from_path, to_path))
    }

    /// See [`crate::Volume::stream`].
    pub fn stream(&self, path: &str, chunk_size: u64) -> Result<BlockingIter<Bytes>> {
        Ok(BlockingIter::new(self.inner.stream(path, chunk_size)?))
    }
}

/// Blocking [`crate::Snapshots`].
#[derive(Debug, Clone)]
pub struct Snapshots {
    inner: crate::Snapshots,
}

impl Snapshots {
    /// See [`crate::Snapshots::create`].
    pub fn create(&self, sandbox_id: &str, spec: SnapshotSpec) -> Result<Snapshot> {
        run(self.inner.create(sandbox_id, spec))
    }

    /// See [`crate::Snapshots::list`].
    pub fn list(&self, sandbox_id: Option<&str>) -> Result<SnapshotListResponse> {
        run(self.inner.list(sandbox_id))
    }

    /// See [`crate::Snapshots::get`].
    pub fn get(&self, id: &str) -> Result<Snapshot> {
        run(self.inner.get(id))
    }

    /// See [`crate::Snapshots::delete`].
    pub fn delete(&self, id: &str) -> Result<()> {
        run(self.inner.delete(id))
    }
}
