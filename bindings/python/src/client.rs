//! `NativeClient`: one `porter_sandbox::Porter`, with every low-level endpoint (blocking and
//! async) and the few ergonomic calls the Python handles need.

use std::time::Duration;

use porter_sandbox::{
    ExecOptions, Porter, ProcessSpec,
    api::{ListSandboxesParams, SandboxFilter},
    config::{Config, ConfigOptions},
    types::{
        ExecRequest, SandboxMetric, SandboxSpec, SandboxesPhase, SandboxesSource, SnapshotSpec,
        VolumeFileMoveRequest, VolumeRecord, VolumeSpec,
    },
};
use pyo3::{exceptions::PyValueError, prelude::*};

use crate::{
    body::binary_body,
    convert::{Out, body, timeout},
    errors,
    volume::{NativeStream, NativeVolume},
};

/// Defines a `#[pymethods]` block in which every endpoint exists twice: `name` (blocking, GIL
/// released, interruptible) and `name_async` (an awaitable). Each endpoint's block runs with the
/// GIL held (to convert arguments) and evaluates to the `'static` future of the call.
macro_rules! endpoints {
    (
        $class:ty;
        $(
            $(#[$doc:meta])*
            fn $name:ident / $aname:ident ( $($arg:ident : $ty:ty),* $(,)? ) |$this:ident| $prep:block
        )*
        extra { $($extra:tt)* }
    ) => {
        #[pymethods]
        impl $class {
            $(
                $(#[$doc])*
                #[allow(clippy::too_many_arguments)] // one argument per query parameter
                fn $name(&self, py: Python<'_>, $($arg: $ty),*) -> PyResult<Py<PyAny>> {
                    let $this = self;
                    let future = $prep;
                    crate::run::call(py, future)
                }

                $(#[$doc])*
                ///
                /// Returns an awaitable; call from a coroutine.
                #[allow(clippy::too_many_arguments)] // one argument per query parameter
                fn $aname<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
                    let $this = self;
                    let future = $prep;
                    crate::aio::awaitable(py, future)
                }
            )*
            $($extra)*
        }
    };
}

pub(crate) use endpoints;

/// Resolved settings, as `(api_key, base_url, timeout_seconds)`.
type ResolvedConfig = (Option<String>, String, f64);

/// Environment values the Python layer read from `os.environ`, by variable name.
type Environment = std::collections::HashMap<String, String>;

fn resolve(
    api_key: Option<String>,
    base_url: Option<String>,
    timeout_seconds: Option<f64>,
    env: &Environment,
) -> PyResult<Config> {
    let options = ConfigOptions {
        api_key,
        base_url,
        timeout: timeout(timeout_seconds)?,
        ..ConfigOptions::default()
    };
    Config::resolve_with_env(options, |name| env.get(name).cloned())
        .map_err(|e| PyValueError::new_err(e.message().to_owned()))
}

/// Resolves the client configuration exactly as every Porter SDK does (explicit values, then
/// the environment `env`); raises `ValueError` with the reason when it cannot.
#[pyfunction]
pub fn resolve_config(
    api_key: Option<String>,
    base_url: Option<String>,
    timeout: Option<f64>,
    env: Environment,
) -> PyResult<ResolvedConfig> {
    let config = resolve(api_key, base_url, timeout, &env)?;
    Ok((config.api_key, config.base_url, config.timeout.as_secs_f64()))
}

/// A Porter Sandbox client: configuration, one connection pool, every endpoint.
#[pyclass(frozen, module = "porter_sandbox._native")]
pub struct NativeClient {
    porter: Porter,
}

fn phases(values: Option<Vec<String>>) -> Vec<SandboxesPhase> {
    values.unwrap_or_default().iter().map(|p| SandboxesPhase::from_wire(p)).collect()
}

fn filter(
    start_time: Option<String>,
    end_time: Option<String>,
    search: Option<String>,
    tag: Option<Vec<String>>,
    phase: Option<Vec<String>>,
    image: Option<String>,
) -> SandboxFilter {
    SandboxFilter {
        start_time,
        end_time,
        search,
        tag: tag.unwrap_or_default(),
        phase: phases(phase),
        image,
    }
}

endpoints! {
    NativeClient;

    /// `GET /healthz`.
    fn health_check / health_check_async() |this| {
        let api = this.porter.raw().healthz();
        async move { Out::json(&api.health_check().await?) }
    }

    /// `GET /readyz`.
    fn readiness_check / readiness_check_async() |this| {
        let api = this.porter.raw().readyz();
        async move { Out::json(&api.readiness_check().await?) }
    }

    /// `GET /v1/sandbox`.
    fn list_sandboxes / list_sandboxes_async(
        start_time: Option<String>,
        end_time: Option<String>,
        search: Option<String>,
        tag: Option<Vec<String>>,
        phase: Option<Vec<String>>,
        image: Option<String>,
        include_filter_values: Option<bool>,
        page: Option<i64>,
    ) |this| {
        let api = this.porter.raw().sandboxes();
        let params = ListSandboxesParams {
            filter: filter(start_time, end_time, search, tag, phase, image),
            include_filter_values,
            page,
        };
        async move { Out::json(&api.list_sandboxes(&params).await?) }
    }

    /// `GET /v1/sandbox/counts`.
    fn sandbox_counts / sandbox_counts_async(
        start_time: Option<String>,
        end_time: Option<String>,
        search: Option<String>,
        tag: Option<Vec<String>>,
        phase: Option<Vec<String>>,
        image: Option<String>,
    ) |this| {
        let api = this.porter.raw().sandboxes();
        let filter = filter(start_time, end_time, search, tag, phase, image);
        async move { Out::json(&api.sandbox_counts(&filter).await?) }
    }

    /// `POST /v1/sandbox/run` with a `SandboxSpec` dict (and an `Idempotency-Key`); a
    /// `lease_seconds` lease is renewed while this client lives.
    fn create_sandbox / create_sandbox_async(spec: &Bound<'_, PyAny>) |this| {
        let sandboxes = this.porter.sandboxes();
        let spec: SandboxSpec = body(spec, "SandboxSpec")?;
        async move { Out::json(&sandboxes.create_response(spec).await?) }
    }

    /// The live sandbox named `name` or a new one from `spec`: `{"id", "status"}` (the status
    /// `None` when it was just created).
    fn get_or_create_sandbox / get_or_create_sandbox_async(name: String, spec: &Bound<'_, PyAny>) |this| {
        let sandboxes = this.porter.sandboxes();
        let spec: SandboxSpec = body(spec, "SandboxSpec")?;
        async move {
            let sandbox = sandboxes.get_or_create(&name, spec).await?;
            Out::json(&serde_json::json!({"id": sandbox.id(), "status": sandbox.status()}))
        }
    }

    /// Polls until the sandbox runs; its status. Raises when it ends first or on timeout.
    fn wait_until_running / wait_until_running_async(id: String, timeout_seconds: Option<f64>) |this| {
        let sandbox = this.porter.sandboxes().handle(id);
        let limit = timeout(timeout_seconds)?;
        async move { Out::json(&sandbox.wait_until_running(limit).await?) }
    }

    /// Polls until the sandbox ends; the workload's exit code.
    fn wait_sandbox / wait_sandbox_async(id: String, timeout_seconds: Option<f64>) |this| {
        let sandbox = this.porter.sandboxes().handle(id);
        let limit = timeout(timeout_seconds)?;
        async move { Out::json(&sandbox.wait(limit).await?) }
    }

    /// One status read: the exit code once the sandbox ended, else `None`.
    fn poll_sandbox / poll_sandbox_async(id: String) |this| {
        let sandbox = this.porter.sandboxes().handle(id);
        async move { Out::json(&sandbox.poll().await?) }
    }

    /// `GET /v1/sandbox/lookup?name=`.
    fn lookup_sandbox / lookup_sandbox_async(name: String) |this| {
        let api = this.porter.raw().sandboxes();
        async move { Out::json(&api.lookup_sandbox(&name).await?) }
    }

    /// `GET /v1/sandbox/{id}`.
    fn get_sandbox / get_sandbox_async(id: String) |this| {
        let api = this.porter.raw().sandboxes();
        async move { Out::json(&api.get_sandbox(&id).await?) }
    }

    /// `GET /v1/sandbox/lookup?name=` then `GET /v1/sandbox/{id}`: the status of the sandbox
    /// named `name`.
    fn get_sandbox_by_name / get_sandbox_by_name_async(name: String) |this| {
        let sandboxes = this.porter.sandboxes();
        async move {
            let sandbox = sandboxes.get(&name).await?;
            match sandbox.status() {
                Some(status) => Out::json(&status),
                None => Out::json(&sandbox.refresh().await?),
            }
        }
    }

    /// `DELETE /v1/sandbox/{id}`, with the optional `source` wire value.
    fn delete_sandbox / delete_sandbox_async(id: String, source: Option<String>) |this| {
        let api = this.porter.raw().sandboxes();
        let source = source.as_deref().map(SandboxesSource::from_wire);
        async move {
            api.delete_sandbox(&id, source.as_ref()).await?;
            Ok(Out::Unit)
        }
    }

    /// `GET /v1/sandbox/{id}/logs`.
    fn get_sandbox_logs / get_sandbox_logs_async(id: String, limit: Option<i64>, since: Option<String>) |this| {
        let api = this.porter.raw().sandboxes();
        async move { Out::json(&api.get_sandbox_logs(&id, limit, since.as_deref()).await?) }
    }

    /// `POST /v1/sandbox/{id}/exec` with an `ExecRequest` dict; `timeout` `None` waits as long
    /// as the command runs. Never retried.
    fn exec_sandbox / exec_sandbox_async(id: String, request: &Bound<'_, PyAny>, timeout_seconds: Option<f64>) |this| {
        let api = this.porter.raw().sandboxes();
        let request: ExecRequest = body(request, "ExecRequest")?;
        let limit = timeout(timeout_seconds)?;
        async move { Out::json(&api.exec_sandbox(&id, &request, limit).await?) }
    }

    /// `POST /v1/sandbox/{id}/exec` of the argv `command` with the extension options (what
    /// `Sandbox.exec` does): `Sandbox::exec_with`; without a deadline it waits as long as the
    /// command runs.
    fn exec_command / exec_command_async(
        id: String,
        command: Vec<String>,
        timeout_seconds: Option<f64>,
        workdir: Option<String>,
        env: Option<std::collections::HashMap<String, String>>,
        stdin: Option<String>,
    ) |this| {
        let sandbox = this.porter.sandboxes().handle(id);
        let mut options = ExecOptions::new();
        options.timeout = timeout(timeout_seconds)?;
        options.workdir = workdir;
        options.env = env.into_iter().flatten().collect();
        options.stdin = stdin;
        async move { Out::json(&sandbox.exec_with(command, options).await?) }
    }

    /// Starts the argv `command` as a process (`Sandbox::start`): a `NativeProcess`. `pty`
    /// is the terminal's `(cols, rows)`, `None` for none. Never retried.
    fn start_process / start_process_async(
        id: String,
        command: Vec<String>,
        timeout_seconds: Option<f64>,
        workdir: Option<String>,
        env: Option<std::collections::HashMap<String, String>>,
        stdin: bool,
        pty: Option<(u16, u16)>,
    ) |this| {
        let sandbox = this.porter.sandboxes().handle(id);
        let mut spec = ProcessSpec::new(command).stdin(stdin);
        spec.timeout = timeout(timeout_seconds)?;
        spec.workdir = workdir;
        spec.env = env.into_iter().flatten().collect();
        if let Some((cols, rows)) = pty {
            spec = spec.pty(cols, rows);
        }
        async move { Ok(Out::Process(sandbox.start(spec).await?)) }
    }

    /// The process `exec_id` of the sandbox `id` (`Sandbox::process`): a `NativeProcess`.
    fn get_process / get_process_async(id: String, exec_id: String) |this| {
        let sandbox = this.porter.sandboxes().handle(id);
        async move { Ok(Out::Process(sandbox.process(&exec_id).await?)) }
    }

    /// The processes of the sandbox `id`, newest first (`Sandbox::processes`).
    fn list_processes / list_processes_async(id: String) |this| {
        let sandbox = this.porter.sandboxes().handle(id);
        async move { Ok(Out::Processes(sandbox.processes().await?)) }
    }

    /// `GET /v1/sandbox/{id}/metrics-summary`.
    fn get_sandbox_metrics_summary / get_sandbox_metrics_summary_async(id: String, since: Option<String>) |this| {
        let api = this.porter.raw().sandboxes();
        async move { Out::json(&api.get_sandbox_metrics_summary(&id, since.as_deref()).await?) }
    }

    /// `GET /v1/sandbox/{id}/metrics`.
    fn get_sandbox_metrics / get_sandbox_metrics_async(id: String, metric: String, start_time_utc: String, end_time_utc: String) |this| {
        let api = this.porter.raw().sandboxes();
        let metric = SandboxMetric::from_wire(&metric);
        async move {
            Out::json(&api.get_sandbox_metrics(&id, &metric, &start_time_utc, &end_time_utc).await?)
        }
    }

    /// `POST /v1/sandbox/{id}/snapshot` with a `SnapshotSpec` dict.
    fn create_snapshot / create_snapshot_async(id: String, spec: &Bound<'_, PyAny>) |this| {
        let api = this.porter.raw().snapshots();
        let spec: SnapshotSpec = body(spec, "SnapshotSpec")?;
        async move { Out::json(&api.create_snapshot(&id, &spec).await?) }
    }

    /// `GET /v1/snapshot`.
    fn list_snapshots / list_snapshots_async(sandbox_id: Option<String>) |this| {
        let api = this.porter.raw().snapshots();
        async move { Out::json(&api.list_snapshots(sandbox_id.as_deref()).await?) }
    }

    /// `GET /v1/snapshot/{id}`.
    fn get_snapshot / get_snapshot_async(id: String) |this| {
        let api = this.porter.raw().snapshots();
        async move { Out::json(&api.get_snapshot(&id).await?) }
    }

    /// `DELETE /v1/snapshot/{id}`.
    fn delete_snapshot / delete_snapshot_async(id: String) |this| {
        let api = this.porter.raw().snapshots();
        async move {
            api.delete_snapshot(&id).await?;
            Ok(Out::Unit)
        }
    }

    /// `GET /v1/volume`.
    fn list_volumes / list_volumes_async() |this| {
        let api = this.porter.raw().volumes();
        async move { Out::json(&api.list_volumes().await?) }
    }

    /// `POST /v1/volume` with a `VolumeSpec` dict.
    fn create_volume / create_volume_async(spec: &Bound<'_, PyAny>) |this| {
        let api = this.porter.raw().volumes();
        let spec: VolumeSpec = body(spec, "VolumeSpec")?;
        async move { Out::json(&api.create_volume(&spec).await?) }
    }

    /// `GET /v1/volume/lookup?name=`.
    fn lookup_volume / lookup_volume_async(name: String) |this| {
        let api = this.porter.raw().volumes();
        async move { Out::json(&api.lookup_volume(&name).await?) }
    }

    /// `GET /v1/volume/{id}`.
    fn get_volume / get_volume_async(id: String) |this| {
        let api = this.porter.raw().volumes();
        async move { Out::json(&api.get_volume(&id).await?) }
    }

    /// `GET /v1/volume/lookup?name=` then `GET /v1/volume/{id}`: the record of the volume named
    /// `name`.
    fn get_volume_by_name / get_volume_by_name_async(name: String) |this| {
        let volumes = this.porter.volumes();
        async move { Out::json(&volumes.get(&name).await?.record()) }
    }

    /// `DELETE /v1/volume/{id}`.
    fn delete_volume / delete_volume_async(id: String) |this| {
        let api = this.porter.raw().volumes();
        async move {
            api.delete_volume(&id).await?;
            Ok(Out::Unit)
        }
    }

    /// `GET /v1/volume/lookup?name=` then `DELETE /v1/volume/{id}`.
    fn delete_volume_by_name / delete_volume_by_name_async(name: String) |this| {
        let volumes = this.porter.volumes();
        async move {
            volumes.delete(&name).await?;
            Ok(Out::Unit)
        }
    }

    /// `GET /v1/volume/{id}/files` (paths sent as given).
    fn list_volume_files / list_volume_files_async(id: String, path: Option<String>, search: Option<String>) |this| {
        let api = this.porter.raw().volumes();
        async move {
            Out::json(&api.list_volume_files(&id, path.as_deref(), search.as_deref()).await?)
        }
    }

    /// `GET /v1/volume/{id}/files/content`: `(data, (start, end, size) | None, last_modified)`.
    fn read_volume_file / read_volume_file_async(id: String, path: String, range: Option<String>, timeout_seconds: Option<f64>) |this| {
        let api = this.porter.raw().volumes();
        let limit = timeout(timeout_seconds)?;
        async move {
            Ok(Out::Content(api.read_volume_file(&id, &path, range.as_deref(), limit).await?))
        }
    }

    /// `PUT /v1/volume/{id}/files/content` from `bytes` or a binary file object (streamed in
    /// 1 MiB reads, rewound before every send).
    fn write_volume_file / write_volume_file_async(id: String, content: &Bound<'_, PyAny>, path: String, timeout_seconds: Option<f64>) |this| {
        let api = this.porter.raw().volumes();
        let content = binary_body(content)?;
        let limit = timeout(timeout_seconds)?;
        async move {
            api.write_volume_file(&id, content, &path, limit).await?;
            Ok(Out::Unit)
        }
    }

    /// `POST /v1/volume/{id}/files/move` with a `{"from", "to"}` dict.
    fn move_volume_file / move_volume_file_async(id: String, request: &Bound<'_, PyAny>) |this| {
        let api = this.porter.raw().volumes();
        let request: VolumeFileMoveRequest = body(request, "VolumeFileMoveRequest")?;
        async move {
            api.move_volume_file(&id, &request).await?;
            Ok(Out::Unit)
        }
    }

    extra {
        /// A client for `api_key`, `base_url` and `timeout` (seconds), with anything unset
        /// resolved from `env`; raises `ValueError` when the configuration cannot be resolved.
        #[new]
        #[pyo3(signature = (api_key, base_url, timeout, env, version = crate::VERSION))]
        fn new(
            api_key: Option<String>,
            base_url: Option<String>,
            timeout: Option<f64>,
            env: Environment,
            version: &str,
        ) -> PyResult<Self> {
            let config = resolve(api_key, base_url, timeout, &env)?;
            let porter = Porter::builder()
                .user_agent("python", version)
                .build_with_config(&config)
                .map_err(|e| Python::attach(|py| errors::to_py(py, &e)))?;
            Ok(Self { porter })
        }

        /// The base URL in use.
        #[getter]
        fn base_url(&self) -> &str {
            self.porter.base_url()
        }

        /// The default timeout, in seconds.
        #[getter]
        fn timeout(&self) -> f64 {
            self.porter.timeout().as_secs_f64()
        }

        /// Whether `close()` was called.
        #[getter]
        fn closed(&self) -> bool {
            self.porter.is_closed()
        }

        /// Releases the connection pool; later calls raise `SandboxError`.
        fn close(&self) {
            self.porter.close();
        }

        /// The disk-volume handle of the core for `record` (a `VolumeRecord` dict), without any
        /// request.
        fn volume(&self, record: &Bound<'_, PyAny>) -> PyResult<NativeVolume> {
            let record: VolumeRecord = body(record, "VolumeRecord")?;
            Ok(NativeVolume::new(self.porter.volumes().handle(record)))
        }

        /// `GET /v1/volume/{id}/files/content` as a stream of chunks (bounded memory).
        #[pyo3(signature = (id, path, range = None, timeout_seconds = None))]
        fn read_volume_file_stream(
            &self,
            id: String,
            path: String,
            range: Option<String>,
            timeout_seconds: Option<f64>,
        ) -> PyResult<NativeStream> {
            let api = self.porter.raw().volumes();
            let limit: Option<Duration> = timeout(timeout_seconds)?;
            Ok(NativeStream::bytes_from_response(async move {
                api.read_volume_file_stream(&id, &path, range.as_deref(), limit).await
            }))
        }
    }
}
