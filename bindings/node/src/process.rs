//! `NativeProcess`: the core's `Process` handle, and the async iterator of its output.

use bytes::Bytes;
use indexmap::IndexMap;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use porter_sandbox::{OutputChunk, Process, ProcessSpec, types::TerminalSize};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::{
    convert::{buffer, byte_count, timeout, to_json},
    errors::{IntoJs, invalid},
    volume::{Boxed, pull},
};

/// `pty` of the start options: `true` (an 80×24 terminal), `false`, or `{ cols, rows }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum PtyJs {
    On(bool),
    Size { cols: f64, rows: f64 },
}

/// `{ timeoutMs, workdir, env, stdin, pty }` of `sandbox.start`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartOptionsJs {
    timeout_ms: Option<f64>,
    workdir: Option<String>,
    env: Option<IndexMap<String, String>>,
    stdin: Option<bool>,
    pty: Option<PtyJs>,
}

impl StartOptionsJs {
    /// The core's spec for `command`; the core checks the values (empty argv, zero deadline,
    /// terminal size out of range).
    pub fn into_spec(self, command: Vec<String>) -> napi::Result<ProcessSpec> {
        let mut spec = ProcessSpec::new(command);
        spec.timeout = timeout(self.timeout_ms)?;
        spec.workdir = self.workdir;
        spec.env = self.env.unwrap_or_default();
        spec.stdin = self.stdin.unwrap_or(false);
        spec.pty = match self.pty {
            None | Some(PtyJs::On(false)) => None,
            Some(PtyJs::On(true)) => Some(porter_sandbox::DEFAULT_TERMINAL),
            Some(PtyJs::Size { cols, rows }) => Some(TerminalSize {
                cols: cells(cols, "pty.cols")?,
                rows: cells(rows, "pty.rows")?,
            }),
        };
        Ok(spec)
    }
}

/// A terminal dimension given as a JavaScript number: a whole number from 0 to 65535 (the core
/// then checks the allowed range).
fn cells(value: f64, name: &str) -> napi::Result<u16> {
    if value.is_finite() && value.fract() == 0.0 && (0.0..=f64::from(u16::MAX)).contains(&value) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
        Ok(value as u16)
    } else {
        Err(invalid(format!("{name} must be a whole number of cells (1 to 1000), not {value}")))
    }
}

/// A piece of a process's output, as `OutputChunk` is built from.
#[napi(object)]
pub struct OutputChunkJs {
    /// `stdout` (also a terminal's output) or `stderr`.
    pub stream: String,
    /// The bytes, exactly as the process wrote them.
    pub data: Buffer,
    /// Offset of the first byte of `data` in the process's combined output.
    pub offset: f64,
}

impl From<OutputChunk> for OutputChunkJs {
    fn from(chunk: OutputChunk) -> Self {
        Self {
            stream: chunk.stream.as_str().to_owned(),
            data: buffer(chunk.data),
            #[allow(clippy::cast_precision_loss)] // offsets stay far below 2^53
            offset: chunk.offset as f64,
        }
    }
}

/// A process in a sandbox.
#[napi]
pub struct NativeProcess {
    inner: Process,
}

impl From<Process> for NativeProcess {
    fn from(inner: Process) -> Self {
        Self { inner }
    }
}

#[napi]
impl NativeProcess {
    /// The process id (`exec_id`).
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.id().to_owned()
    }

    /// The id of its sandbox.
    #[napi(getter)]
    pub fn sandbox_id(&self) -> String {
        self.inner.sandbox_id().to_owned()
    }

    /// The last status read (by `status`, `wait`, `poll` or the end of an output stream).
    #[napi(getter)]
    pub fn last_status(&self) -> napi::Result<Option<Value>> {
        self.inner.last_status().map(|s| to_json(&s)).transpose()
    }

    /// Reads the status now.
    #[napi]
    pub async fn status(&self) -> napi::Result<Value> {
        to_json(&self.inner.status().await.js()?)
    }

    /// The exit code once ended, `null` while it runs.
    #[napi]
    pub async fn poll(&self) -> napi::Result<Option<i64>> {
        self.inner.poll().await.js()
    }

    /// Waits until it ends and returns the final status; kind `timeout` after `timeoutMs`
    /// (`null`: no limit), the process then keeps running.
    #[napi]
    pub async fn wait(&self, timeout_ms: Option<f64>) -> napi::Result<Value> {
        let limit = timeout(timeout_ms)?;
        to_json(&self.inner.wait(limit).await.js()?)
    }

    /// Its output from byte `offset`, followed live until it ends.
    #[napi]
    pub fn output(&self, offset: Option<f64>) -> napi::Result<NativeOutputStream> {
        let offset = byte_count(offset, "offset")?.unwrap_or(0);
        Ok(NativeOutputStream { stream: Mutex::new(Some(self.inner.output(offset))) })
    }

    /// Writes bytes to its standard input.
    #[napi]
    pub async fn write_stdin(&self, data: Buffer) -> napi::Result<()> {
        self.inner.write_stdin(Bytes::from_owner(data)).await.js()
    }

    /// Closes its standard input.
    #[napi]
    pub async fn close_stdin(&self) -> napi::Result<()> {
        self.inner.close_stdin().await.js()
    }

    /// Sends `signal` to its whole process tree.
    #[napi]
    pub async fn kill(&self, signal: String) -> napi::Result<()> {
        self.inner.kill(&signal).await.js()
    }

    /// Resizes its terminal.
    #[napi]
    pub async fn resize(&self, cols: f64, rows: f64) -> napi::Result<()> {
        let (cols, rows) = (cells(cols, "cols")?, cells(rows, "rows")?);
        self.inner.resize(cols, rows).await.js()
    }
}

/// The chunks of `Process.output`, one `next()` at a time.
#[napi]
pub struct NativeOutputStream {
    stream: Mutex<Option<Boxed<OutputChunk>>>,
}

#[napi]
impl NativeOutputStream {
    /// The next chunk, or `null` once the process ended and all its output was delivered.
    #[napi]
    pub async fn next(&self) -> napi::Result<Option<OutputChunkJs>> {
        Ok(pull(&self.stream).await?.map(OutputChunkJs::from))
    }

    /// Stops reading: drops the stream and its connection.
    #[napi]
    pub async fn close(&self) {
        self.stream.lock().await.take();
    }
}
