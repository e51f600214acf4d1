//! Waiting on a sandbox: until it runs ([`Sandbox::wait_until_running`]), until it ends
//! ([`Sandbox::wait`]), or a single look ([`Sandbox::poll`]).
//!
//! Every wait polls `GET /v1/sandbox/{id}`: first after [`POLL_INITIAL`] (50 ms), then twice as
//! long after each poll, up to [`POLL_MAX`] (1 s) between polls. A short-lived sandbox is
//! therefore seen within tens of milliseconds, and a long wait costs about one request a second.

use std::time::Duration;

use tokio::time::Instant;

use crate::{
    DecodedBody, Error, ErrorKind, LogsQuery, Result, Sandbox,
    types::{StatusResponse, StatusResponsePhase},
};

/// The first pause between two status polls.
pub const POLL_INITIAL: Duration = Duration::from_millis(50);
/// The longest pause between two status polls.
pub const POLL_MAX: Duration = Duration::from_secs(1);
/// How many of the last log lines the error of [`Sandbox::wait_until_running`] carries.
pub const FAILURE_LOG_LINES: i64 = 20;

/// The exit code [`Sandbox::wait`] reports for a `terminated` sandbox whose workload has no
/// exit code of its own (terminated by a caller, its TTL or its lease): 137, what a shell
/// reports for a process killed by SIGKILL.
pub const TERMINATED_EXIT_CODE: i32 = 137;
/// The exit code [`Sandbox::wait`] reports for a `failed` sandbox without an exit code (it
/// could not be launched, or its runtime was lost): 1.
pub const FAILED_EXIT_CODE: i32 = 1;

/// The pause schedule of a wait: [`POLL_INITIAL`], doubling, capped at [`POLL_MAX`].
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { next: POLL_INITIAL }
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let current = self.next;
        self.next = self.next.saturating_mul(2).min(POLL_MAX);
        Some(current)
    }
}

/// The workload's exit code for a terminal status, `None` for a live one. When the server
/// gives no `exit_code`: `succeeded` → 0, `terminated` → [`TERMINATED_EXIT_CODE`], `failed` →
/// [`FAILED_EXIT_CODE`].
#[must_use]
pub fn exit_code_of(status: &StatusResponse) -> Option<i32> {
    if !status.phase.is_terminal() {
        return None;
    }
    if let Some(code) = status.exit_code {
        return Some(i32::try_from(code).unwrap_or(FAILED_EXIT_CODE));
    }
    Some(match status.phase {
        StatusResponsePhase::Succeeded => 0,
        StatusResponsePhase::Terminated => TERMINATED_EXIT_CODE,
        _ => FAILED_EXIT_CODE,
    })
}

impl Sandbox {
    /// Waits until the sandbox is `running` and returns that status (also cached). Polls as
    /// the [module documentation](crate::wait) describes; `timeout` `None` waits for ever.
    ///
    /// # Errors
    /// [`ErrorKind::SandboxTerminal`] when the sandbox reaches a terminal phase first: the
    /// message carries the phase, the termination reason, the exit code and the last
    /// [`FAILURE_LOG_LINES`] log lines, and [`Error::body`] the status as JSON.
    /// [`ErrorKind::Timeout`] when `timeout` elapses first. Any error of the status read.
    pub async fn wait_until_running(&self, timeout: Option<Duration>) -> Result<StatusResponse> {
        self.wait_until_running_with(timeout, |_| {}).await
    }

    /// [`Sandbox::wait_until_running`], calling `observe` with every status read (to show
    /// progress).
    pub async fn wait_until_running_with(
        &self,
        timeout: Option<Duration>,
        mut observe: impl FnMut(&StatusResponse) + Send,
    ) -> Result<StatusResponse> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut pauses = Backoff::default();
        loop {
            let status = self.refresh().await?;
            observe(&status);
            if status.phase == StatusResponsePhase::Running {
                return Ok(status);
            }
            if status.phase.is_terminal() {
                return Err(self.ended_error(&status).await);
            }
            pause(&mut pauses, deadline, || {
                format!(
                    "sandbox {} is still {} after {:.1}s; wait longer, or read its logs",
                    self.id(),
                    status.phase,
                    timeout.unwrap_or_default().as_secs_f64()
                )
            })
            .await?;
        }
    }

    /// Waits until the sandbox is terminal and returns the workload's exit code (see
    /// [`exit_code_of`] for sandboxes that have none). `timeout` `None` waits for ever.
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`] when `timeout` elapses first; any error of the status read.
    pub async fn wait(&self, timeout: Option<Duration>) -> Result<i32> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut pauses = Backoff::default();
        loop {
            let status = self.refresh().await?;
            if let Some(code) = exit_code_of(&status) {
                return Ok(code);
            }
            pause(&mut pauses, deadline, || {
                format!(
                    "sandbox {} is still {} after {:.1}s; wait longer, or terminate it",
                    self.id(),
                    status.phase,
                    timeout.unwrap_or_default().as_secs_f64()
                )
            })
            .await?;
        }
    }

    /// One status read: the exit code once the sandbox is terminal (see [`exit_code_of`]),
    /// `None` while it lives.
    pub async fn poll(&self) -> Result<Option<i32>> {
        Ok(exit_code_of(&self.refresh().await?))
    }

    /// The error for a sandbox that ended while a running one was awaited.
    async fn ended_error(&self, status: &StatusResponse) -> Error {
        let mut message =
            format!("sandbox {} ended {} instead of running", self.id(), status.phase);
        let mut why = Vec::new();
        if let Some(reason) = &status.termination_reason {
            why.push(format!("termination reason {reason}"));
        }
        if let Some(code) = status.exit_code {
            why.push(format!("exit code {code}"));
        }
        if !why.is_empty() {
            message.push_str(&format!(" ({})", why.join(", ")));
        }
        // The logs are a courtesy: the phase alone is the error when they cannot be read.
        match self.logs(LogsQuery::new().limit(FAILURE_LOG_LINES)).await {
            Ok(lines) if !lines.is_empty() => {
                message.push_str("; last log lines:");
                for line in lines {
                    message.push_str("\n  | ");
                    message.push_str(&line.line);
                }
            }
            Ok(_) => message.push_str("; it wrote no log lines"),
            Err(err) => message.push_str(&format!("; its logs could not be read: {err}")),
        }
        let body = serde_json::to_value(status).ok().map(DecodedBody::Json);
        Error::new(ErrorKind::SandboxTerminal, message).with_body(body)
    }
}

/// Sleeps for the next pause, or fails with a timeout when the deadline would pass first.
async fn pause(
    pauses: &mut Backoff,
    deadline: Option<Instant>,
    message: impl FnOnce() -> String,
) -> Result<()> {
    let wait = pauses.next().unwrap_or(POLL_MAX);
    match deadline {
        Some(deadline) => {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(ErrorKind::Timeout, message()));
            }
            // The last pause is cut short so that the final poll happens at the deadline.
            tokio::time::sleep(wait.min(deadline - now)).await;
        }
        None => tokio::time::sleep(wait).await,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_50ms_and_cap_at_1s() {
        let ms: Vec<u128> = Backoff::default().take(7).map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![50, 100, 200, 400, 800, 1000, 1000]);
    }
}
