//! [`ProcessSpec`]: what [`Sandbox::start`](crate::Sandbox::start) runs, and how.

use std::time::Duration;

use indexmap::IndexMap;

use crate::{
    Error, Result,
    types::{ProcessRequest, TerminalSize},
};

/// Terminal size of a process started with [`ProcessSpec::pty`] when none is given.
pub const DEFAULT_TERMINAL: TerminalSize = TerminalSize { cols: 80, rows: 24 };

/// A process to start: its argv and options. Every option left unset is not sent.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct ProcessSpec {
    /// Program and arguments (no shell is implied).
    pub command: Vec<String>,
    /// Deadline enforced by the server: the process's whole tree is killed and its state
    /// becomes `timed_out`.
    pub timeout: Option<Duration>,
    /// Working directory (absolute, in the sandbox).
    pub workdir: Option<String>,
    /// Environment variables merged over the sandbox's.
    pub env: IndexMap<String, String>,
    /// Keeps standard input open for [`Process::write_stdin`](crate::Process::write_stdin)
    /// until [`Process::close_stdin`](crate::Process::close_stdin).
    pub stdin: bool,
    /// Runs the process in a terminal of this size.
    pub pty: Option<TerminalSize>,
}

impl ProcessSpec {
    /// Runs `command` (an argv).
    pub fn new(command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { command: command.into_iter().map(Into::into).collect(), ..Self::default() }
    }

    /// Kills the process's tree after `timeout` (more than zero).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs it in `workdir` (absolute).
    pub fn workdir(mut self, workdir: impl Into<String>) -> Self {
        self.workdir = Some(workdir.into());
        self
    }

    /// Adds one environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Keeps standard input open (`true`) or gives the process an empty one (`false`, the
    /// default).
    pub fn stdin(mut self, open: bool) -> Self {
        self.stdin = open;
        self
    }

    /// Runs the process in a terminal of `cols` × `rows` cells (its output is then one stream).
    pub fn pty(mut self, cols: u16, rows: u16) -> Self {
        self.pty = Some(TerminalSize { cols, rows });
        self
    }

    /// The request body, after the checks a client can make on its own.
    pub(crate) fn request(&self) -> Result<ProcessRequest> {
        if self.command.is_empty() || self.command[0].is_empty() {
            return Err(Error::invalid_argument(
                "a process needs a command: an argv such as [\"sh\", \"-c\", \"echo hi\"]",
            ));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_argument(
                "process timeout is zero: give a positive duration, or none to let it run",
            ));
        }
        if let Some(size) = self.pty {
            if !(1..=1000).contains(&size.cols) || !(1..=1000).contains(&size.rows) {
                return Err(Error::invalid_argument(format!(
                    "terminal size {}x{} is out of range: cols and rows are 1 to 1000",
                    size.cols, size.rows
                )));
            }
        }
        Ok(ProcessRequest {
            command: self.command.clone(),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            workdir: self.workdir.clone(),
            stdin: self.stdin.then_some(true),
            pty: self.pty,
            timeout_seconds: self.timeout.map(|t| t.as_secs_f64()),
        })
    }
}

impl<S: Into<String>> From<Vec<S>> for ProcessSpec {
    fn from(command: Vec<S>) -> Self {
        Self::new(command)
    }
}

impl<S: Into<String> + Clone> From<&[S]> for ProcessSpec {
    fn from(command: &[S]) -> Self {
        Self::new(command.iter().cloned())
    }
}
