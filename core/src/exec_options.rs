//! [`ExecOptions`]: the extension fields of a one-shot exec (deadline, working directory,
//! environment, standard input), for [`Sandbox::exec_with`](crate::Sandbox::exec_with).

use std::time::Duration;

use indexmap::IndexMap;

use crate::{Error, Result, types::ExecRequest};

/// How long the HTTP request of an exec with a deadline may outlast that deadline: the server
/// answers at its deadline (with `timed_out`); the margin lets that answer arrive. Against a
/// server without the extension, the request fails with a timeout error after deadline + margin
/// (the command may keep running there).
pub const EXEC_DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// Options of [`Sandbox::exec_with`](crate::Sandbox::exec_with); every one is an extension of
/// the local server, and an unset one is not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// Deadline enforced by the server: the command's process tree is killed, and the result
    /// has `timed_out: Some(true)`, exit code 124 and the output so far.
    pub timeout: Option<Duration>,
    /// Working directory (an absolute path in the sandbox) instead of the sandbox's.
    pub workdir: Option<String>,
    /// Environment variables merged over the sandbox's.
    pub env: IndexMap<String, String>,
    /// UTF-8 text fed to standard input, which is then closed.
    pub stdin: Option<String>,
}

impl ExecOptions {
    /// No options: the plain exec.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Kills the command after `timeout` (which must be more than zero).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the command in `workdir` (absolute).
    #[must_use]
    pub fn workdir(mut self, workdir: impl Into<String>) -> Self {
        self.workdir = Some(workdir.into());
        self
    }

    /// Adds one environment variable.
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(name.into(), value.into());
        self
    }

    /// Feeds `stdin` to the command's standard input.
    #[must_use]
    pub fn stdin(mut self, stdin: impl Into<String>) -> Self {
        self.stdin = Some(stdin.into());
        self
    }

    /// The request body for `command`, and the HTTP timeout (deadline + margin; `None`:
    /// unbounded, as a plain exec).
    pub(crate) fn request(self, command: Vec<String>) -> Result<(ExecRequest, Option<Duration>)> {
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_argument(
                "exec timeout is zero: give a positive duration, or none to wait as long as the \
                 command runs",
            ));
        }
        let request = ExecRequest {
            command,
            timeout_seconds: self.timeout.map(|t| t.as_secs_f64()),
            workdir: self.workdir,
            env: (!self.env.is_empty()).then_some(self.env),
            stdin: self.stdin,
        };
        Ok((request, self.timeout.map(|t| t.saturating_add(EXEC_DEADLINE_MARGIN))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_options_are_the_plain_request_and_the_deadline_bounds_the_call() {
        let (plain, limit) = ExecOptions::new().request(vec!["true".into()]).unwrap();
        assert_eq!((plain, limit), (ExecRequest::new(["true"]), None));

        let options = ExecOptions::new()
            .timeout(Duration::from_millis(1500))
            .workdir("/tmp")
            .env("A", "1")
            .stdin("in");
        let (request, limit) = options.request(vec!["cat".into()]).unwrap();
        assert_eq!(request.timeout_seconds, Some(1.5));
        assert_eq!(request.workdir.as_deref(), Some("/tmp"));
        assert_eq!(request.env.unwrap()["A"], "1");
        assert_eq!(request.stdin.as_deref(), Some("in"));
        assert_eq!(limit, Some(Duration::from_millis(11_500)));

        let zero = ExecOptions::new().timeout(Duration::ZERO).request(vec!["true".into()]);
        assert_eq!(zero.unwrap_err().kind(), crate::ErrorKind::InvalidArgument);
    }
}
