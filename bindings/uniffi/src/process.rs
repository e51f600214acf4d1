//! `NativeProcess`: the core's `Process` handle (an extension of the local server), its status
//! record and its output stream.

use std::{sync::Arc, time::Duration};

use porter_sandbox::{OutputStream, Process, types};
use tokio::sync::Mutex;

use crate::{
    enums::{OutputStreamName, ProcessState},
    errors::{Result, invalid},
};

/// The status of a process.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ProcessStatus {
    /// Its id (`exec_id`).
    pub exec_id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// Its argv.
    pub command: Vec<String>,
    /// Running, exited, killed or timed out.
    pub state: ProcessState,
    /// Exit status once ended (128 + signal when killed, 124 at its deadline).
    pub exit_code: Option<i64>,
    /// The signal that ended it, when one did.
    pub signal: Option<String>,
    /// Whether its deadline killed it.
    pub timed_out: bool,
    /// Whether it runs in a terminal.
    pub pty: bool,
    /// Whether its standard input is still open.
    pub stdin_open: bool,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// End time (RFC 3339), once ended.
    pub ended_at: Option<String>,
    /// Bytes written to standard output (or the terminal).
    pub stdout_bytes: u64,
    /// Bytes written to standard error.
    pub stderr_bytes: u64,
    /// Offset of the first byte still kept (older output was dropped at the retention limit).
    pub output_start: u64,
    /// Offset just past the last byte written.
    pub output_end: u64,
}

impl From<types::ProcessStatus> for ProcessStatus {
    fn from(s: types::ProcessStatus) -> Self {
        // Destructured: a new core field is a compile error here, not a silent gap.
        let types::ProcessStatus {
            exec_id,
            sandbox_id,
            command,
            state,
            exit_code,
            signal,
            timed_out,
            pty,
            stdin_open,
            started_at,
            ended_at,
            stdout_bytes,
            stderr_bytes,
            output_start,
            output_end,
        } = s;
        Self {
            exec_id,
            sandbox_id,
            command,
            state: state.into(),
            exit_code,
            signal,
            timed_out,
            pty,
            stdin_open,
            started_at,
            ended_at,
            stdout_bytes,
            stderr_bytes,
            output_start,
            output_end,
        }
    }
}

/// A piece of a process's output.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct OutputChunk {
    /// Standard output (also a terminal's) or standard error.
    pub stream: OutputStreamName,
    /// The bytes, exactly as written.
    pub data: Vec<u8>,
    /// Offset of the first byte in the process's combined output.
    pub offset: u64,
}

/// A process in a sandbox.
#[derive(uniffi::Object)]
pub struct NativeProcess {
    inner: Process,
}

impl NativeProcess {
    pub(crate) fn wrap(inner: Process) -> Arc<Self> {
        Arc::new(Self { inner })
    }
}

fn seconds(value: Option<f64>, what: &str) -> Result<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s).map_err(|_| {
                invalid(format!("{what} must be a finite number of seconds >= 0, not {s}"))
            })
        })
        .transpose()
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeProcess {
    /// Its id (`exec_id`).
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The id of its sandbox.
    pub fn sandbox_id(&self) -> String {
        self.inner.sandbox_id().to_owned()
    }

    /// The last status read.
    pub fn last_status(&self) -> Option<ProcessStatus> {
        self.inner.last_status().map(Into::into)
    }

    /// Reads its status now.
    pub async fn status(&self) -> Result<ProcessStatus> {
        Ok(self.inner.status().await?.into())
    }

    /// Its exit code once ended, `null` while it runs.
    pub async fn poll(&self) -> Result<Option<i64>> {
        Ok(self.inner.poll().await?)
    }

    /// Waits until it has ended (at most `timeout_seconds`) and returns its final status.
    pub async fn wait(&self, timeout_seconds: Option<f64>) -> Result<ProcessStatus> {
        let timeout = seconds(timeout_seconds, "wait timeout")?;
        Ok(self.inner.wait(timeout).await?.into())
    }

    /// Its output from `offset`, replayed then followed until it ends.
    pub fn output(&self, offset: u64, follow: bool) -> Arc<NativeOutputStream> {
        let stream = if follow { self.inner.output(offset) } else { self.inner.output_now(offset) };
        Arc::new(NativeOutputStream { stream: Mutex::new(Some(stream)) })
    }

    /// Writes bytes to its standard input.
    pub async fn write_stdin(&self, data: Vec<u8>) -> Result<()> {
        Ok(self.inner.write_stdin(data).await?)
    }

    /// Closes its standard input.
    pub async fn close_stdin(&self) -> Result<()> {
        Ok(self.inner.close_stdin().await?)
    }

    /// Sends a signal (`SIGKILL`, `TERM`, `15`…) to its whole process tree.
    pub async fn kill(&self, signal: String) -> Result<()> {
        Ok(self.inner.kill(&signal).await?)
    }

    /// Resizes its terminal.
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        Ok(self.inner.resize(cols, rows).await?)
    }
}

/// The output of a process, one chunk at a time.
#[derive(uniffi::Object)]
pub struct NativeOutputStream {
    stream: Mutex<Option<OutputStream>>,
}

#[uniffi::export(async_runtime = "tokio")]
impl NativeOutputStream {
    /// The next chunk, or `null` once the process has ended and all its output was read.
    pub async fn next(&self) -> Result<Option<OutputChunk>> {
        use futures_util::StreamExt;
        let mut guard = self.stream.lock().await;
        let Some(stream) = guard.as_mut() else { return Ok(None) };
        match stream.next().await {
            Some(Ok(chunk)) => Ok(Some(OutputChunk {
                stream: chunk.stream.into(),
                data: chunk.data.to_vec(),
                offset: chunk.offset,
            })),
            Some(Err(error)) => {
                guard.take();
                Err(error.into())
            }
            None => {
                guard.take();
                Ok(None)
            }
        }
    }

    /// Stops reading: the connection is closed now rather than when the stream is collected.
    pub async fn cancel(&self) {
        self.stream.lock().await.take();
    }
}
