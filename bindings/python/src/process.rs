//! The core's process handle (`NativeProcess`: status, wait, poll, stdin, signals, resize, and
//! its output as a `NativeStream` of `(stream, data, offset)` chunks).

use futures_util::TryStreamExt;
use porter_sandbox::Process;
use pyo3::{prelude::*, pybacked::PyBackedBytes};

use crate::{
    client::endpoints,
    convert::{Out, timeout},
    volume::NativeStream,
};

/// A process in a sandbox (an extension of the local server).
#[pyclass(frozen, module = "porter_sandbox._native")]
pub struct NativeProcess {
    process: Process,
}

impl NativeProcess {
    /// Wraps a core handle.
    pub fn new(process: Process) -> Self {
        Self { process }
    }
}

endpoints! {
    NativeProcess;

    /// Reads its status now.
    fn status / status_async() |this| {
        let process = this.process.clone();
        async move { Out::json(&process.status().await?) }
    }

    /// Its exit code once it has ended, else `None`.
    fn poll / poll_async() |this| {
        let process = this.process.clone();
        async move { Out::json(&process.poll().await?) }
    }

    /// Waits until it has ended (at most `timeout_seconds`; `None`: as long as it runs) and
    /// returns its final status.
    fn wait / wait_async(timeout_seconds: Option<f64>) |this| {
        let process = this.process.clone();
        let limit = timeout(timeout_seconds)?;
        async move { Out::json(&process.wait(limit).await?) }
    }

    /// Writes `data` to its standard input (never retried).
    fn write_stdin / write_stdin_async(data: PyBackedBytes) |this| {
        let process = this.process.clone();
        async move {
            process.write_stdin(bytes::Bytes::from_owner(data)).await?;
            Ok(Out::Unit)
        }
    }

    /// Closes its standard input.
    fn close_stdin / close_stdin_async() |this| {
        let process = this.process.clone();
        async move {
            process.close_stdin().await?;
            Ok(Out::Unit)
        }
    }

    /// Sends `signal` to its whole process tree.
    fn kill / kill_async(signal: String) |this| {
        let process = this.process.clone();
        async move {
            process.kill(&signal).await?;
            Ok(Out::Unit)
        }
    }

    /// Resizes its terminal.
    fn resize / resize_async(cols: u16, rows: u16) |this| {
        let process = this.process.clone();
        async move {
            process.resize(cols, rows).await?;
            Ok(Out::Unit)
        }
    }

    extra {
        /// The process id (`exec_id`).
        #[getter]
        fn id(&self) -> &str {
            self.process.id()
        }

        /// The id of the sandbox it runs in.
        #[getter]
        fn sandbox_id(&self) -> &str {
            self.process.sandbox_id()
        }

        /// The last status read (wire JSON), or `None`.
        fn last_status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
            let out = match self.process.last_status() {
                Some(status) => Out::json(&status)
                    .map_err(|e| crate::errors::to_py(py, &e))?,
                None => Out::Unit,
            };
            Ok(out.into_pyobject(py)?.unbind())
        }

        /// Its output from byte `offset`, followed live until it ends: `(stream, data, offset)`
        /// items.
        fn output(&self, offset: u64) -> NativeStream {
            NativeStream::new(self.process.output(offset).map_ok(Out::Chunk))
        }
    }
}
