//! `NativeSandbox`: the core's `Sandbox` handle (id, cached status, operations).

use napi_derive::napi;
use porter_sandbox::{Sandbox, types::SandboxesSource};
use serde_json::Value;

use crate::{
    convert::{from_js, timeout, to_json},
    errors::IntoJs,
    options::{ExecOptionsJs, LogsOptions},
    process::{NativeProcess, StartOptionsJs},
};

/// A sandbox handle: its id and the last status read.
#[napi]
pub struct NativeSandbox {
    inner: Sandbox,
}

impl From<Sandbox> for NativeSandbox {
    fn from(inner: Sandbox) -> Self {
        Self { inner }
    }
}

#[napi]
impl NativeSandbox {
    /// The sandbox id.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The phase of the cached status; `null` until a status was read.
    #[napi(getter)]
    pub fn phase(&self) -> Option<String> {
        self.inner.phase().map(|p| p.as_str().to_owned())
    }

    /// The tags of the cached status; `null` until a status was read or when none are set.
    #[napi(getter)]
    pub fn tags(&self) -> napi::Result<Option<Value>> {
        self.inner.tags().map(|t| to_json(&t)).transpose()
    }

    /// The cached status, if one was read.
    #[napi(getter)]
    pub fn status(&self) -> napi::Result<Option<Value>> {
        self.inner.status().map(|s| to_json(&s)).transpose()
    }

    /// `GET /v1/sandbox/{id}`: read, cache and return the status.
    #[napi]
    pub async fn refresh(&self) -> napi::Result<Value> {
        to_json(&self.inner.refresh().await.js()?)
    }

    /// Runs `command` (an argv) with no retry, and with the options `{ timeoutMs, workdir,
    /// env, stdin }` (no timeout unless given); the result's `timed_out` is always a boolean.
    #[napi]
    pub async fn exec(&self, command: Vec<String>, options: Option<Value>) -> napi::Result<Value> {
        let options = from_js::<ExecOptionsJs>(options, "exec options")?.into_options()?;
        let mut result = self.inner.exec_with(command, options).await.js()?;
        result.timed_out = Some(result.timed_out.unwrap_or(false));
        to_json(&result)
    }

    /// Starts `command` (an argv) as a process with the options `{ timeoutMs, workdir, env,
    /// stdin, pty }`; fails at once with kind `unsupported` on a server without processes.
    #[napi]
    pub async fn start(
        &self,
        command: Vec<String>,
        options: Option<Value>,
    ) -> napi::Result<NativeProcess> {
        let spec = from_js::<StartOptionsJs>(options, "start options")?.into_spec(command)?;
        Ok(self.inner.start(spec).await.js()?.into())
    }

    /// The process `id` of this sandbox, started by any client.
    #[napi]
    pub async fn process(&self, id: String) -> napi::Result<NativeProcess> {
        Ok(self.inner.process(&id).await.js()?.into())
    }

    /// The sandbox's processes, running and ended, newest first.
    #[napi]
    pub async fn processes(&self) -> napi::Result<Vec<NativeProcess>> {
        let processes = self.inner.processes().await.js()?;
        Ok(processes.into_iter().map(NativeProcess::from).collect())
    }

    /// The sandbox's log lines.
    #[napi]
    pub async fn logs(&self, options: Option<Value>) -> napi::Result<Value> {
        let query = from_js::<LogsOptions>(options, "logs options")?.into();
        to_json(&self.inner.logs(query).await.js()?)
    }

    /// Polls the status (50 ms, doubling up to 1 s) until the sandbox runs and returns that
    /// status. Fails with kind `sandbox_terminal` (message: phase, termination reason, exit
    /// code, last log lines; body: the status) when it ends first, and `timeout` when
    /// `timeoutMs` elapses first (`null`: no limit).
    #[napi]
    pub async fn wait_until_running(&self, timeout_ms: Option<f64>) -> napi::Result<Value> {
        let limit = timeout(timeout_ms)?;
        to_json(&self.inner.wait_until_running(limit).await.js()?)
    }

    /// Polls the status (same schedule) until the sandbox is terminal and returns the
    /// workload's exit code (137 for a terminated sandbox without one, 1 for a failed one).
    /// Fails with kind `timeout` when `timeoutMs` elapses first (`null`: no limit).
    #[napi]
    pub async fn wait(&self, timeout_ms: Option<f64>) -> napi::Result<i32> {
        let limit = timeout(timeout_ms)?;
        self.inner.wait(limit).await.js()
    }

    /// One status read: the exit code once the sandbox is terminal, `null` while it lives.
    #[napi]
    pub async fn poll(&self) -> napi::Result<Option<i32>> {
        self.inner.poll().await.js()
    }

    /// Terminates the sandbox, optionally saying who asked (`dashboard`, `cli`).
    #[napi]
    pub async fn terminate(&self, source: Option<String>) -> napi::Result<()> {
        match source {
            Some(source) => self.inner.terminate_from(SandboxesSource::from_wire(&source)).await,
            None => self.inner.terminate().await,
        }
        .js()
    }
}
