//! `NativeSandbox`: the core's `Sandbox` handle (id, cached status, operations).

use std::{sync::Arc, time::Duration};

use porter_sandbox::{ExecOptions, LogsQuery, ProcessSpec, Sandbox};

use crate::{
    client::non_negative,
    enums::{SandboxesSource, StatusResponsePhase},
    errors::{Result, invalid},
    process::NativeProcess,
    records::{ExecResponse, LogLine, StatusResponse, StringMap},
};

/// A sandbox: its id, the last status read, and what can be done with it.
#[derive(uniffi::Object)]
pub struct NativeSandbox {
    inner: Sandbox,
}

impl NativeSandbox {
    pub(crate) fn wrap(inner: Sandbox) -> Arc<Self> {
        Arc::new(Self { inner })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeSandbox {
    /// The sandbox id.
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The phase of the cached status; `null` until a status was read.
    pub fn phase(&self) -> Option<StatusResponsePhase> {
        self.inner.phase().map(Into::into)
    }

    /// The tags of the cached status; `null` until a status was read or when none are set.
    pub fn tags(&self) -> Option<StringMap> {
        self.inner.tags().map(Into::into)
    }

    /// The cached status, if one was read.
    pub fn status(&self) -> Option<StatusResponse> {
        self.inner.status().map(Into::into)
    }

    /// Reads the status, caches it and returns it.
    pub async fn refresh(&self) -> Result<StatusResponse> {
        Ok(self.inner.refresh().await?.into())
    }

    /// Runs `command` (an argv; no shell) and waits for it, however long it takes; never
    /// retried. A non-zero exit code is a normal result. Dropping the call (a cancelled
    /// coroutine) closes the request, and the server then kills the command.
    pub async fn exec(&self, command: Vec<String>) -> Result<ExecResponse> {
        Ok(self.inner.exec(command).await?.into())
    }

    /// Runs `command` with the exec extension options of the local server: a deadline in
    /// seconds (the server kills the process tree; `timed_out`, exit code 124), a working
    /// directory, variables merged over the sandbox's environment, text for standard input.
    pub async fn exec_with(
        &self,
        command: Vec<String>,
        timeout_seconds: Option<f64>,
        workdir: Option<String>,
        env: Option<StringMap>,
        stdin: Option<String>,
    ) -> Result<ExecResponse> {
        let mut options = ExecOptions::new();
        options.timeout = timeout_seconds
            .map(|s| {
                std::time::Duration::try_from_secs_f64(s).map_err(|_| {
                    porter_sandbox::Error::invalid_argument(format!(
                        "exec timeout must be a finite number of seconds > 0, not {s}"
                    ))
                })
            })
            .transpose()?;
        options.workdir = workdir;
        options.env = env.map(|e| e.0).unwrap_or_default();
        options.stdin = stdin;
        Ok(self.inner.exec_with(command, options).await?.into())
    }

    /// Starts a process (an extension of the local server): its id at once, output readable
    /// from any offset, optional open stdin, a terminal of `cols` x `rows` when `pty` is set,
    /// a deadline in seconds enforced by the server.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        &self,
        command: Vec<String>,
        timeout_seconds: Option<f64>,
        workdir: Option<String>,
        env: Option<StringMap>,
        stdin: bool,
        pty_cols: Option<u16>,
        pty_rows: Option<u16>,
    ) -> Result<Arc<NativeProcess>> {
        let mut spec = ProcessSpec::new(command).stdin(stdin);
        if let Some(seconds) = timeout_seconds {
            spec = spec.timeout(std::time::Duration::try_from_secs_f64(seconds).map_err(|_| {
                invalid(format!(
                    "process timeout must be a finite number of seconds > 0, not {seconds}"
                ))
            })?);
        }
        spec.workdir = workdir;
        spec.env = env.map(|e| e.0).unwrap_or_default();
        if pty_cols.is_some() || pty_rows.is_some() {
            let default = porter_sandbox::DEFAULT_TERMINAL;
            spec = spec.pty(pty_cols.unwrap_or(default.cols), pty_rows.unwrap_or(default.rows));
        }
        Ok(NativeProcess::wrap(self.inner.start(spec).await?))
    }

    /// The process `exec_id` of this sandbox, with its status.
    pub async fn process(&self, exec_id: String) -> Result<Arc<NativeProcess>> {
        Ok(NativeProcess::wrap(self.inner.process(&exec_id).await?))
    }

    /// The sandbox's processes, newest first.
    pub async fn processes(&self) -> Result<Vec<Arc<NativeProcess>>> {
        Ok(self.inner.processes().await?.into_iter().map(NativeProcess::wrap).collect())
    }

    /// The log lines: the workload's output and every exec's, oldest first.
    pub async fn logs(&self, since: Option<String>, limit: Option<i64>) -> Result<Vec<LogLine>> {
        let lines = self.inner.logs(LogsQuery { since, limit }).await?;
        Ok(lines.into_iter().map(LogLine::from).collect())
    }

    /// Polls the status (after 50 ms, doubling, at most 1 s apart) until the sandbox runs and
    /// returns that status. Fails with `SandboxTerminal` when it reaches a terminal phase first,
    /// and with `Timeout` when `timeout_ms` elapses first (`null`: no limit).
    pub async fn wait_until_running(&self, timeout_ms: Option<i64>) -> Result<StatusResponse> {
        let limit = timeout(timeout_ms)?;
        Ok(self.inner.wait_until_running(limit).await?.into())
    }

    /// Polls the status (same schedule) until the sandbox is terminal and returns the
    /// workload's exit code (137 for a terminated sandbox without one, 1 for a failed one).
    /// Fails with `Timeout` when `timeout_ms` elapses first (`null`: no limit).
    pub async fn wait(&self, timeout_ms: Option<i64>) -> Result<i32> {
        let limit = timeout(timeout_ms)?;
        Ok(self.inner.wait(limit).await?)
    }

    /// One status read: the exit code once the sandbox is terminal, `null` while it lives.
    pub async fn poll(&self) -> Result<Option<i32>> {
        Ok(self.inner.poll().await?)
    }

    /// Terminates the sandbox, optionally saying who asked; its record and logs stay readable.
    pub async fn terminate(&self, source: Option<SandboxesSource>) -> Result<()> {
        match source {
            Some(source) => self.inner.terminate_from(source.into()).await?,
            None => self.inner.terminate().await?,
        }
        Ok(())
    }
}

/// A wait limit in milliseconds as a `Duration`; `None` waits without limit.
fn timeout(timeout_ms: Option<i64>) -> Result<Option<Duration>> {
    timeout_ms
        .map(|ms| non_negative(ms, "timeout in milliseconds").map(Duration::from_millis))
        .transpose()
}
