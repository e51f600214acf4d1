//! Processes (an extension of the local server): commands that outlive the request that
//! started them, with output readable from any offset, standard input, a terminal, and a
//! deadline enforced by the server. See spec/README.md, "Processes".

mod frames;
mod output;
mod spec;

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use bytes::Bytes;

pub use frames::OutputChunk;
pub use output::OutputStream;
pub use spec::{DEFAULT_TERMINAL, ProcessSpec};

use crate::{
    Error, ErrorKind, Result,
    api::{MAX_STATUS_WAIT_SECONDS, MAX_STDIN_CHUNK, SandboxesApi},
    types::{ProcessStatus, SignalRequest, TerminalSize},
};

/// A process in a sandbox. Clones share the last status read.
#[derive(Debug, Clone)]
pub struct Process {
    api: SandboxesApi,
    sandbox_id: String,
    id: String,
    last: Arc<Mutex<Option<ProcessStatus>>>,
}

impl Process {
    pub(crate) fn new(api: SandboxesApi, status: ProcessStatus) -> Self {
        Self {
            api,
            sandbox_id: status.sandbox_id.clone(),
            id: status.exec_id.clone(),
            last: Arc::new(Mutex::new(Some(status))),
        }
    }

    fn remember(&self, status: &ProcessStatus) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(status.clone());
    }

    /// The process's id (`exec_id`): give it to [`crate::Sandbox::process`] to reach the
    /// process again, from any client.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id of the sandbox it runs in.
    #[must_use]
    pub fn sandbox_id(&self) -> &str {
        &self.sandbox_id
    }

    /// The last status read (by a status call, a wait, or the end of an output stream).
    #[must_use]
    pub fn last_status(&self) -> Option<ProcessStatus> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Reads its status now.
    pub async fn status(&self) -> Result<ProcessStatus> {
        let status = self.api.get_process(&self.sandbox_id, &self.id, None).await?;
        self.remember(&status);
        Ok(status)
    }

    /// Its exit code once it has ended (128 + the signal when killed, 124 at its deadline),
    /// `None` while it runs.
    pub async fn poll(&self) -> Result<Option<i64>> {
        let status = self.status().await?;
        Ok(if status.is_finished() { status.exit_code } else { None })
    }

    /// Waits until it has ended and returns its final status; `timeout` `None` waits as long
    /// as it runs. The server answers as soon as it ends (one request per minute at most while
    /// it runs). When `timeout` passes first the error is [`ErrorKind::Timeout`] and the
    /// process keeps running.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<ProcessStatus> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let wait = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()).as_secs_f64(),
                None => MAX_STATUS_WAIT_SECONDS,
            }
            .min(MAX_STATUS_WAIT_SECONDS);
            let status = self.api.get_process(&self.sandbox_id, &self.id, Some(wait)).await?;
            self.remember(&status);
            if status.is_finished() {
                return Ok(status);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let waited = timeout.unwrap_or_default();
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "process {} is still running after {:.1} s; it keeps running: wait \
                         again, or kill() it",
                        self.id,
                        waited.as_secs_f64()
                    ),
                ));
            }
        }
    }

    /// Its output from byte `offset` (0: from the start): what was written so far, then live
    /// output until it ends. A broken connection is resumed from the next byte; the stream
    /// ends once the process has ended and all its output was delivered, and the final status
    /// is then in [`Process::last_status`]. Output older than the server's retention limit
    /// is skipped (the first chunk's offset says where it starts).
    #[must_use]
    pub fn output(&self, offset: u64) -> OutputStream {
        output::stream(
            self.api.clone(),
            self.sandbox_id.clone(),
            self.id.clone(),
            offset,
            true,
            self.last.clone(),
        )
    }

    /// Its output from `offset` as far as it was written now, without waiting for more.
    #[must_use]
    pub fn output_now(&self, offset: u64) -> OutputStream {
        output::stream(
            self.api.clone(),
            self.sandbox_id.clone(),
            self.id.clone(),
            offset,
            false,
            self.last.clone(),
        )
    }

    /// Writes `data` to its standard input (started with `stdin` open), in requests of at
    /// most 1 MiB. Writes are never retried: a retry after a lost answer would repeat bytes.
    pub async fn write_stdin(&self, data: impl Into<Bytes>) -> Result<()> {
        let data = data.into();
        let mut start = 0;
        while start < data.len() {
            let end = (start + MAX_STDIN_CHUNK).min(data.len());
            self.api
                .write_process_stdin(&self.sandbox_id, &self.id, data.slice(start..end))
                .await?;
            start = end;
        }
        Ok(())
    }

    /// Closes its standard input: it reads end-of-file.
    pub async fn close_stdin(&self) -> Result<()> {
        self.api.close_process_stdin(&self.sandbox_id, &self.id).await
    }

    /// Sends `signal` (`SIGKILL`, `TERM`, `15`…) to its whole process tree.
    pub async fn kill(&self, signal: &str) -> Result<()> {
        let body = SignalRequest { signal: signal.to_string() };
        self.api.signal_process(&self.sandbox_id, &self.id, &body).await
    }

    /// Resizes its terminal (a process started with a pty).
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        self.api.resize_process(&self.sandbox_id, &self.id, TerminalSize { cols, rows }).await
    }
}
