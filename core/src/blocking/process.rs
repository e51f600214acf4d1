//! The blocking mirror of [`crate::Process`] and of the sandbox's process calls.

use std::time::Duration;

use bytes::Bytes;

use super::{BlockingIter, Sandbox, run};
use crate::{OutputChunk, ProcessSpec, Result, types::ProcessStatus};

impl Sandbox {
    /// See [`crate::Sandbox::start`].
    pub fn start(&self, spec: impl Into<ProcessSpec>) -> Result<Process> {
        run(self.inner.start(spec)).map(Process::from)
    }

    /// See [`crate::Sandbox::process`].
    pub fn process(&self, exec_id: &str) -> Result<Process> {
        run(self.inner.process(exec_id)).map(Process::from)
    }

    /// See [`crate::Sandbox::processes`].
    pub fn processes(&self) -> Result<Vec<Process>> {
        Ok(run(self.inner.processes())?.into_iter().map(Process::from).collect())
    }
}

/// A process in a sandbox, for synchronous code; see [`crate::Process`].
#[derive(Debug, Clone)]
pub struct Process {
    inner: crate::Process,
}

impl From<crate::Process> for Process {
    fn from(inner: crate::Process) -> Self {
        Self { inner }
    }
}

impl Process {
    /// See [`crate::Process::id`].
    #[must_use]
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    /// See [`crate::Process::sandbox_id`].
    #[must_use]
    pub fn sandbox_id(&self) -> &str {
        self.inner.sandbox_id()
    }

    /// See [`crate::Process::last_status`].
    #[must_use]
    pub fn last_status(&self) -> Option<ProcessStatus> {
        self.inner.last_status()
    }

    /// See [`crate::Process::status`].
    pub fn status(&self) -> Result<ProcessStatus> {
        run(self.inner.status())
    }

    /// See [`crate::Process::poll`].
    pub fn poll(&self) -> Result<Option<i64>> {
        run(self.inner.poll())
    }

    /// See [`crate::Process::wait`].
    pub fn wait(&self, timeout: Option<Duration>) -> Result<ProcessStatus> {
        run(self.inner.wait(timeout))
    }

    /// See [`crate::Process::output`].
    #[must_use]
    pub fn output(&self, offset: u64) -> BlockingIter<OutputChunk> {
        BlockingIter::new(self.inner.output(offset))
    }

    /// See [`crate::Process::output_now`].
    #[must_use]
    pub fn output_now(&self, offset: u64) -> BlockingIter<OutputChunk> {
        BlockingIter::new(self.inner.output_now(offset))
    }

    /// See [`crate::Process::write_stdin`].
    pub fn write_stdin(&self, data: impl Into<Bytes>) -> Result<()> {
        run(self.inner.write_stdin(data))
    }

    /// See [`crate::Process::close_stdin`].
    pub fn close_stdin(&self) -> Result<()> {
        run(self.inner.close_stdin())
    }

    /// See [`crate::Process::kill`].
    pub fn kill(&self, signal: &str) -> Result<()> {
        run(self.inner.kill(signal))
    }

    /// See [`crate::Process::resize`].
    pub fn resize(&self, cols: u16, rows: u16) -> Result<()> {
        run(self.inner.resize(cols, rows))
    }

    /// The async handle, for code that mixes both.
    #[must_use]
    pub fn into_async(self) -> crate::Process {
        self.inner
    }
}
