//! The tools' inputs: their JSON schemas and the descriptions a model reads.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// Input of `create_sandbox`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateSandbox {
    /// Container image to run, e.g. "python:3.12-slim". Omit it for the default image. Only
    /// the images this server allows are accepted (the error lists them).
    pub image: Option<String>,
    /// A name for the sandbox (lowercase letters, digits and '-', at most 63 characters); it
    /// can be used instead of the id. Omit it to use the id.
    pub name: Option<String>,
    /// Environment variables every command in the sandbox sees.
    pub env: Option<BTreeMap<String, String>>,
    /// The only network destinations the sandbox may reach (host names, IP addresses or CIDR
    /// ranges); [] for no network at all. Omit it for the server's default.
    pub egress: Option<Vec<String>>,
    /// Lifetime in seconds: the sandbox is terminated after it. Omit it for the default; it is
    /// never longer than what is left of this session's runtime.
    pub ttl_seconds: Option<u64>,
    /// Start from this snapshot (an id returned by the snapshot tool) instead of an image.
    pub snapshot_id: Option<String>,
}

/// Input of `run_command`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunCommand {
    /// The sandbox's id or name (from create_sandbox).
    pub sandbox: String,
    /// Program and arguments, run without a shell, e.g. ["ls", "-la", "/"]. Give this or
    /// `shell`, not both.
    pub command: Option<Vec<String>>,
    /// A shell command line, run with `sh -c`, e.g. "cd /tmp && ls | head". Give this or
    /// `command`, not both.
    pub shell: Option<String>,
    /// Deadline in seconds (default 60). When it passes, the command and its children are
    /// killed and the result has timed_out: true and exit code 124.
    pub timeout_seconds: Option<f64>,
    /// Absolute working directory in the sandbox.
    pub workdir: Option<String>,
    /// Extra environment variables for this command.
    pub env: Option<BTreeMap<String, String>>,
    /// Text fed to the command's standard input (then closed).
    pub stdin: Option<String>,
}

/// A language `run_code` runs.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Python 3 (`python3 -c CODE`).
    Python,
    /// JavaScript on Node.js (`node -e CODE`).
    Node,
}

/// Input of `run_code`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunCode {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// "python" or "node".
    pub language: Language,
    /// The program's source code. Print what you want to see.
    pub code: String,
    /// Deadline in seconds (default 60); the result then has timed_out: true.
    pub timeout_seconds: Option<f64>,
    /// Text fed to the program's standard input.
    pub stdin: Option<String>,
}

/// Input of `start_process`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct StartProcess {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// Program and arguments, run without a shell. Give this or `shell`.
    pub command: Option<Vec<String>>,
    /// A shell command line, run with `sh -c`. Give this or `command`.
    pub shell: Option<String>,
    /// Deadline in seconds: the process is killed then. Omit it to let it run (at most for
    /// what is left of this session's runtime).
    pub timeout_seconds: Option<f64>,
    /// Absolute working directory in the sandbox.
    pub workdir: Option<String>,
    /// Extra environment variables for this process.
    pub env: Option<BTreeMap<String, String>>,
    /// Keep standard input open so that write_stdin can feed it (default false: empty input).
    #[serde(default)]
    pub stdin_open: bool,
}

/// Input of `read_output`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadOutput {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// The process id from start_process.
    pub process_id: String,
    /// Read from this byte offset of the process's combined output (default 0). Pass the
    /// previous result's next_offset to read only what is new.
    pub offset: Option<u64>,
    /// Wait up to this many seconds (at most 60) for the process to end before reading
    /// (default 0: read what is there now).
    pub wait_seconds: Option<f64>,
}

/// Input of `write_stdin`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteStdin {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// The process id (started with stdin_open: true).
    pub process_id: String,
    /// Text to write to its standard input (include "\n" to end a line).
    #[serde(default)]
    pub data: String,
    /// Close standard input after writing, so the process reads end-of-file.
    #[serde(default)]
    pub close: bool,
}

/// Input of `kill_process`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct KillProcess {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// The process id.
    pub process_id: String,
    /// Signal sent to the process and its children: "SIGKILL" (default), "SIGTERM", "SIGINT"…
    pub signal: Option<String>,
}

/// Input of `write_file`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct WriteFile {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// Where to write: a path relative to the sandbox's workspace (e.g. "src/main.py"), or an
    /// absolute path under one of its mounted volumes (e.g. "/workspace/src/main.py").
    /// Parent directories are created.
    pub path: String,
    /// The file's content.
    pub content: String,
    /// "text" (default) or "base64" (content is base64-encoded bytes).
    pub encoding: Option<String>,
}

/// Input of `read_file`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReadFile {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// A path relative to the workspace, or absolute under a mounted volume.
    pub path: String,
    /// First byte to read (default 0).
    pub offset: Option<u64>,
    /// Bytes to read (default and at most 1 MiB; only about 16 KiB are shown, as head and
    /// tail).
    pub length: Option<u64>,
}

/// Input of `list_files`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListFiles {
    /// The sandbox's id or name.
    pub sandbox: String,
    /// A directory relative to the workspace, or absolute under a mounted volume (default: the
    /// workspace's root).
    pub path: Option<String>,
}

/// Which sandboxes `list_sandboxes` lists.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Only those this session created (the default).
    #[default]
    Session,
    /// Every sandbox on the server (only when the server allows foreign sandboxes).
    All,
}

/// Input of `list_sandboxes`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListSandboxes {
    /// "session" (default): the sandboxes this session created; "all": every sandbox the API
    /// shows (only if this server allows it).
    #[serde(default)]
    pub scope: Scope,
}

/// Input of the tools that take only a sandbox (`terminate_sandbox`, `snapshot`).
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SandboxOnly {
    /// The sandbox's id or name.
    pub sandbox: String,
}
