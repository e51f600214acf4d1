//! Exec and log schemas (spec/README.md §6; every field in spec/openapi.json).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::LogLineLevel;

/// Request body of `POST /v1/sandbox/{id}/exec`.
///
/// Every field but `command` is an extension of the local server (`x-porter-extension`): unset,
/// it is omitted, so the request is exactly the Porter API's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ExecRequest {
    /// Program and arguments (argv; no shell is implied).
    #[cfg_attr(feature = "openapi", schemars(length(min = 1)))]
    pub command: Vec<String>,
    /// Extension: a deadline in seconds (> 0) enforced by the server, which then kills the
    /// command's whole process tree and answers with the output so far, `timed_out: true` and
    /// exit code 124.
    #[cfg_attr(feature = "openapi", schemars(extend("x-porter-extension" = true)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Extension: the working directory (an absolute path in the sandbox) instead of the
    /// sandbox's.
    #[cfg_attr(feature = "openapi", schemars(extend("x-porter-extension" = true)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Extension: environment variables merged over the sandbox's.
    #[cfg_attr(feature = "openapi", schemars(extend("x-porter-extension" = true)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<IndexMap<String, String>>,
    /// Extension: UTF-8 text fed to the command's standard input, which is then closed
    /// (without it, standard input is empty).
    #[cfg_attr(feature = "openapi", schemars(extend("x-porter-extension" = true)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
}

impl ExecRequest {
    /// Runs the given argv.
    #[must_use]
    pub fn new(command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            timeout_seconds: None,
            workdir: None,
            env: None,
            stdin: None,
        }
    }
}

/// Result of an exec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ExecResponse {
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error.
    pub stderr: String,
    /// Exit status; non-zero is a normal result.
    pub exit_code: i64,
    /// Id stamped on the log lines this exec produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
    /// `true` when the server cut `stdout` or `stderr` at its per-stream output limit (the
    /// beginning is kept); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// Extension: `true` when the request's `timeout_seconds` ran out and the command was
    /// killed (exit code 124); absent otherwise.
    #[cfg_attr(feature = "openapi", schemars(extend("x-porter-extension" = true)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
}

/// One log line of a sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct LogLine {
    /// Emission time.
    pub timestamp: String,
    /// Content.
    pub line: String,
    /// Severity: `error`, `warning` or `info`.
    pub level: LogLineLevel,
    /// Id of the exec that produced the line; `""` for the workload's own output.
    pub exec_id: String,
}

/// Response of `GET /v1/sandbox/{id}/logs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct LogsResponse {
    /// Sandbox id.
    pub sandbox_id: String,
    /// The log lines.
    pub logs: Vec<LogLine>,
}
