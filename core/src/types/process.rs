//! Process schemas: the local server's processes extension (spec/README.md §7), every field in
//! spec/openapi.json marked `x-porter-extension`.
//!
//! A process is a command started in a running sandbox that outlives the request that started
//! it: its output is kept on the server as one byte sequence that any client can read from any
//! offset, its standard input can stay open, it can run in a terminal, and a deadline is
//! enforced by the server.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::ProcessState;

/// Media type of the output stream of `GET /v1/sandbox/{id}/processes/{exec_id}/output`.
///
/// The body is a sequence of frames, each a 13-byte header then a payload:
/// byte 0 the kind (`1` stdout, `2` stderr, `0` end), bytes 1..9 the offset of the payload's
/// first byte in the process's output (u64, big-endian), bytes 9..13 the payload length (u32,
/// big-endian). Data frames carry output bytes; the one end frame, sent only once the process
/// has ended and all its output was sent, carries its final [`ProcessStatus`] as JSON (its
/// offset is the output's total length). A body that stops without an end frame means the
/// process was still running (or the connection broke): read again from the next offset.
pub const PROCESS_OUTPUT_MEDIA_TYPE: &str = "application/vnd.porter.process-output";

/// Length of a frame header of [`PROCESS_OUTPUT_MEDIA_TYPE`].
pub const OUTPUT_FRAME_HEADER: usize = 13;

/// Frame kinds of [`PROCESS_OUTPUT_MEDIA_TYPE`].
pub mod frame_kind {
    /// The process has ended; the payload is its final status (JSON).
    pub const END: u8 = 0;
    /// Standard output (or the terminal of a process with a pty).
    pub const STDOUT: u8 = 1;
    /// Standard error.
    pub const STDERR: u8 = 2;
}

/// Size of a terminal, in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TerminalSize {
    /// Columns (1–1000).
    pub cols: u16,
    /// Rows (1–1000).
    pub rows: u16,
}

/// Request body of `POST /v1/sandbox/{id}/processes` (extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ProcessRequest {
    /// Program and arguments (argv; no shell is implied).
    #[cfg_attr(feature = "openapi", schemars(length(min = 1)))]
    pub command: Vec<String>,
    /// Environment variables merged over the sandbox's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<IndexMap<String, String>>,
    /// Working directory (an absolute path in the sandbox) instead of the sandbox's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// `true`: standard input stays open for the stdin endpoint until closed; otherwise it is
    /// empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<bool>,
    /// Runs the process in a terminal of this size (its output is then one `stdout` stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty: Option<TerminalSize>,
    /// A deadline in seconds (> 0): then the server kills the process's whole tree and its
    /// state becomes `timed_out` (exit code 124); its output stays readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
}

impl ProcessRequest {
    /// Runs the given argv with no options.
    #[must_use]
    pub fn new(command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            env: None,
            workdir: None,
            stdin: None,
            pty: None,
            timeout_seconds: None,
        }
    }
}

/// The status of a process (extension).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ProcessStatus {
    /// The process's id (its log lines and output carry it).
    pub exec_id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// Its argv.
    pub command: Vec<String>,
    /// `running`, `exited`, `killed` or `timed_out`.
    pub state: ProcessState,
    /// Exit status once ended (128 + signal when killed by one, 124 at its deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The signal that ended it (`SIGKILL`…), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Whether its deadline killed it.
    pub timed_out: bool,
    /// Whether it runs in a terminal.
    pub pty: bool,
    /// Whether its standard input is still open for writing.
    pub stdin_open: bool,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// End time (RFC 3339), once ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Bytes it wrote to standard output (or its terminal).
    pub stdout_bytes: u64,
    /// Bytes it wrote to standard error.
    pub stderr_bytes: u64,
    /// Offset of the first byte still kept: older output was dropped at the retention limit.
    pub output_start: u64,
    /// Offset just past the last byte written (`stdout_bytes + stderr_bytes`).
    pub output_end: u64,
}

impl ProcessStatus {
    /// Whether the process has ended.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.state != ProcessState::Running
    }
}

/// Response of `GET /v1/sandbox/{id}/processes` (extension): newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ProcessList {
    /// The sandbox's processes, running and ended.
    pub processes: Vec<ProcessStatus>,
}

/// Request body of `POST /v1/sandbox/{id}/processes/{exec_id}/signal` (extension).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SignalRequest {
    /// Signal name (`SIGTERM`, `TERM`) or number (`15`); it goes to the process's whole tree.
    pub signal: String,
}

/// Response of `GET /v1/extensions` (extension): what this server offers beyond the Porter
/// API. A server without the route has none of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ServerExtensions {
    /// `timeout_seconds`, `workdir`, `env` and `stdin` on `POST /v1/sandbox/{id}/exec`.
    pub exec_options: bool,
    /// The `/v1/sandbox/{id}/processes` endpoints.
    pub processes: bool,
    /// `lease_seconds` and `POST /v1/sandbox/{id}/lease`.
    pub leases: bool,
    /// The `Idempotency-Key` header on create.
    pub idempotency: bool,
    /// Output kept per process, bytes (older output is dropped).
    pub process_output_retention: u64,
}
