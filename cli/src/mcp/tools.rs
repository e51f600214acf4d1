//! The tools: one method each, thin wrappers over the core client. Every result is one JSON
//! text of at most [`shape::RESULT_LIMIT`] bytes; a failure is a tool error whose text says
//! what went wrong and what to do.

use std::{borrow::Cow, sync::Arc, time::Duration};

use porter_sandbox::{ExecOptions, Process, ProcessSpec, Sandbox, types::ExecResponse};
use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{
        CallToolResult, ContentBlock, DiscoverResult, ErrorCode, Implementation,
        InitializeRequestParams, InitializeResult, ProtocolVersion, ServerCapabilities,
        ServerConfig,
    },
    service::RequestContext,
    tool, tool_handler, tool_router,
};
use serde_json::json;

use super::{
    params::{
        CreateSandbox, KillProcess, Language, ListFiles, ListSandboxes, ReadFile, ReadOutput,
        RunCode, RunCommand, SandboxOnly, StartProcess, WriteFile, WriteStdin,
    },
    session::Session,
    shape,
};

/// A tool's outcome: the JSON result, or a message for the model.
pub(super) type Outcome = Result<String, String>;

/// What the server tells clients about itself and its tools.
const INSTRUCTIONS: &str = "Isolated Linux sandboxes for running code. Call create_sandbox \
    first (it returns the sandbox id), then run_command or run_code in it; start_process, \
    read_output, write_stdin and kill_process handle long-running or interactive jobs; \
    write_file, read_file and list_files reach the sandbox's workspace volume. Results show the \
    head and tail of long output with the number of bytes left out. Terminate sandboxes you no \
    longer need; all of them are terminated when this session ends.";

/// The MCP server of one session: its tools act on the sandboxes this session created.
#[derive(Debug, Clone)]
pub struct SandboxTools {
    pub(super) session: Arc<Session>,
    /// Whether the transport itself bounds the session (stdio: the connection is the session,
    /// whatever the protocol version); else only protocol versions with sessions are offered.
    pub(super) connection_is_session: bool,
    tool_router: ToolRouter<Self>,
}

/// A tool result from an outcome: the JSON text, or a tool error (never a protocol error: the
/// model must see what went wrong).
fn respond(outcome: Outcome) -> Result<CallToolResult, ErrorData> {
    Ok(match outcome {
        Ok(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
        Err(message) => {
            let text = shape::fit(
                |budget| json!({ "error": shape::stream(message.as_bytes(), budget.max(512))["text"] }),
            );
            CallToolResult::error(vec![ContentBlock::text(text)])
        }
    })
}

/// The argv of a `command` or `shell` input, exactly one of which must be given.
pub(super) fn argv(
    command: Option<Vec<String>>,
    shell: Option<String>,
) -> Result<Vec<String>, String> {
    match (command, shell) {
        (Some(command), None) if command.first().is_some_and(|p| !p.is_empty()) => Ok(command),
        (None, Some(shell)) if !shell.trim().is_empty() => {
            Ok(vec!["sh".into(), "-c".into(), shell])
        }
        (Some(_), Some(_)) => Err("give either `command` (an argv) or `shell` (a command line), \
                                   not both"
            .into()),
        _ => Err("give `command` (an argv such as [\"ls\", \"-la\"]) or `shell` (a command \
                  line such as \"ls -la | head\")"
            .into()),
    }
}

/// The exec result, shaped.
fn exec_result(result: &ExecResponse) -> String {
    shape::fit(|budget| {
        let mut value = json!({
            "exit_code": result.exit_code,
            "timed_out": result.timed_out.unwrap_or(false),
            "stdout": shape::text_stream(&result.stdout, budget),
            "stderr": shape::text_stream(&result.stderr, budget),
        });
        if result.truncated == Some(true) {
            value["note"] =
                "the server kept only the beginning of this output (its per-stream limit)".into();
        }
        value
    })
}

impl SandboxTools {
    /// The tools of `session`; `connection_is_session` when the transport's connection is the
    /// session (stdio).
    pub fn new(session: Arc<Session>, connection_is_session: bool) -> Self {
        Self { session, connection_is_session, tool_router: Self::tool_router() }
    }

    /// The sandbox `reference` (an id or a name) names, if this session may use it.
    pub(super) async fn sandbox(&self, reference: &str) -> Result<Sandbox, String> {
        let sandboxes = self.session.porter.sandboxes();
        if self.session.owned(reference).is_some() {
            return Ok(sandboxes.handle(reference));
        }
        if let Some(id) = self.session.owned_by_name(reference) {
            return Ok(sandboxes.handle(id));
        }
        if !self.session.config.allow_foreign {
            return Err(format!(
                "sandbox {reference:?} is not one this session created (or it was terminated); \
                 the tools act only on this session's sandboxes: list_sandboxes shows them, \
                 create_sandbox makes a new one"
            ));
        }
        crate::resolve::sandbox(&self.session.porter, reference)
            .await
            .map_err(|failure| failure.message().to_owned())
    }

    /// The deadline of a run: the one asked for (or the default), within the limits.
    fn deadline(&self, asked: Option<f64>) -> Result<Duration, String> {
        let config = &self.session.config;
        let asked = match asked {
            None => config.default_timeout,
            Some(s) if s.is_finite() && s > 0.0 => {
                Duration::try_from_secs_f64(s).unwrap_or(config.max_timeout)
            }
            Some(s) => return Err(format!("timeout_seconds {s} must be more than 0")),
        };
        let remaining = self.session.remaining();
        if remaining.is_zero() {
            return Err("this session's runtime budget is spent; start a new session".into());
        }
        Ok(asked.min(config.max_timeout).min(remaining))
    }

    async fn run(&self, sandbox: &str, argv: Vec<String>, options: ExecOptions) -> Outcome {
        let sandbox = self.sandbox(sandbox).await?;
        let result =
            sandbox.exec_with(argv, options).await.map_err(|err| format!("exec failed: {err}"))?;
        Ok(exec_result(&result))
    }

    pub(super) async fn process(&self, sandbox: &str, process_id: &str) -> Result<Process, String> {
        let sandbox = self.sandbox(sandbox).await?;
        sandbox.process(process_id).await.map_err(|err| format!("no such process: {err}"))
    }
}

#[tool_router]
impl SandboxTools {
    /// Creates a sandbox.
    #[tool(description = "Create a fresh isolated Linux sandbox (a container) and wait until \
        it runs. Returns its id, used as `sandbox` by every other tool, and the path of its \
        workspace volume (for write_file/read_file/list_files). Sandboxes are terminated after \
        their ttl, and all of them when this session ends; at most a few may exist at once.")]
    pub async fn create_sandbox(
        &self,
        Parameters(input): Parameters<CreateSandbox>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(self.create(input).await)
    }

    /// Runs a command and waits for it.
    #[tool(description = "Run a command in a sandbox and wait for it (up to its deadline, \
        default 60 s). Give `command` (an argv, no shell) or `shell` (a line for sh -c). \
        Returns exit_code, timed_out, and stdout/stderr, each with its size in bytes; long \
        output shows its head and tail with omitted_bytes, binary output only a summary. For \
        jobs that run long or need input later, use start_process.")]
    pub async fn run_command(
        &self,
        Parameters(input): Parameters<RunCommand>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = async {
            let argv = argv(input.command, input.shell)?;
            let mut options = ExecOptions::new().timeout(self.deadline(input.timeout_seconds)?);
            if let Some(workdir) = input.workdir {
                options = options.workdir(workdir);
            }
            for (key, value) in input.env.unwrap_or_default() {
                options = options.env(key, value);
            }
            if let Some(stdin) = input.stdin {
                options = options.stdin(stdin);
            }
            self.run(&input.sandbox, argv, options).await
        };
        respond(outcome.await)
    }

    /// Runs a Python or Node.js snippet.
    #[tool(description = "Run a Python (python3 -c) or JavaScript (node -e) snippet in a \
        sandbox and wait for it (default deadline 60 s). Returns exit_code, timed_out, stdout \
        and stderr shaped like run_command's. Print what you want to see.")]
    pub async fn run_code(
        &self,
        Parameters(input): Parameters<RunCode>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = async {
            let argv = match input.language {
                Language::Python => vec!["python3".to_owned(), "-c".to_owned(), input.code],
                Language::Node => vec!["node".to_owned(), "-e".to_owned(), input.code],
            };
            let mut options = ExecOptions::new().timeout(self.deadline(input.timeout_seconds)?);
            if let Some(stdin) = input.stdin {
                options = options.stdin(stdin);
            }
            self.run(&input.sandbox, argv, options).await
        };
        respond(outcome.await)
    }

    /// Starts a process.
    #[tool(description = "Start a long-running or interactive process in a sandbox without \
        waiting for it. Returns its process_id; then read_output (from an offset, optionally \
        waiting for it to end), write_stdin (when started with stdin_open) and kill_process.")]
    pub async fn start_process(
        &self,
        Parameters(input): Parameters<StartProcess>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = async {
            let argv = argv(input.command, input.shell)?;
            let remaining = self.session.remaining();
            let timeout = match input.timeout_seconds {
                None => remaining,
                Some(s) if s.is_finite() && s > 0.0 => {
                    Duration::try_from_secs_f64(s).unwrap_or(remaining).min(remaining)
                }
                Some(s) => return Err(format!("timeout_seconds {s} must be more than 0")),
            };
            if timeout.is_zero() {
                return Err("this session's runtime budget is spent".into());
            }
            let mut spec = ProcessSpec::new(argv).timeout(timeout).stdin(input.stdin_open);
            if let Some(workdir) = input.workdir {
                spec = spec.workdir(workdir);
            }
            for (key, value) in input.env.unwrap_or_default() {
                spec = spec.env(key, value);
            }
            let sandbox = self.sandbox(&input.sandbox).await?;
            let process =
                sandbox.start(spec).await.map_err(|err| format!("could not start: {err}"))?;
            Ok(shape::fit(|_| {
                json!({
                    "process_id": process.id(),
                    "sandbox": process.sandbox_id(),
                    "state": "running",
                    "timeout_seconds": timeout.as_secs(),
                    "note": "read_output with this process_id shows its output",
                })
            }))
        };
        respond(outcome.await)
    }

    /// Reads a process's output.
    #[tool(description = "Read a process's output from a byte offset (default 0): what it \
        has written so far, without waiting unless wait_seconds is given (then up to that long \
        for it to end). Returns state (running, exited, killed, timed_out), exit_code once \
        ended, stdout and stderr shaped (head and tail with omitted_bytes; at most 1 MiB is read \
        per call), next_offset to read on from next time, and output_end (its total output \
        so far).")]
    pub async fn read_output(
        &self,
        Parameters(input): Parameters<ReadOutput>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(super::processes::read_output(self, input).await)
    }

    /// Writes to a process's standard input.
    #[tool(description = "Write text to the standard input of a process started with \
        stdin_open: true; close: true then closes it (the process reads end-of-file).")]
    pub async fn write_stdin(
        &self,
        Parameters(input): Parameters<WriteStdin>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = async {
            let process = self.process(&input.sandbox, &input.process_id).await?;
            if !input.data.is_empty() {
                process
                    .write_stdin(input.data.clone().into_bytes())
                    .await
                    .map_err(|err| format!("could not write: {err}"))?;
            }
            if input.close {
                process.close_stdin().await.map_err(|err| format!("could not close: {err}"))?;
            }
            Ok(json!({"written_bytes": input.data.len(), "stdin_closed": input.close}).to_string())
        };
        respond(outcome.await)
    }

    /// Signals a process.
    #[tool(description = "Send a signal (default SIGKILL) to a process and its children, and \
        return its state afterwards.")]
    pub async fn kill_process(
        &self,
        Parameters(input): Parameters<KillProcess>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = async {
            let process = self.process(&input.sandbox, &input.process_id).await?;
            let signal = input.signal.unwrap_or_else(|| "SIGKILL".into());
            process.kill(&signal).await.map_err(|err| format!("could not signal: {err}"))?;
            let status = match process.wait(Some(Duration::from_secs(5))).await {
                Ok(status) => status,
                // Still running (a signal it handles): report its state now.
                Err(_) => process
                    .status()
                    .await
                    .map_err(|err| format!("could not read its state: {err}"))?,
            };
            Ok(json!({
                "process_id": status.exec_id,
                "signal": signal,
                "state": status.state.to_string(),
                "exit_code": status.exit_code,
            })
            .to_string())
        };
        respond(outcome.await)
    }

    /// Writes a file to a volume.
    #[tool(description = "Write a file into a sandbox's workspace volume (parents are \
        created, an existing file is replaced). The path is relative to the workspace or \
        absolute under a mounted volume. Commands in the sandbox see it at once.")]
    pub async fn write_file(
        &self,
        Parameters(input): Parameters<WriteFile>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(super::files::write_file(self, input).await)
    }

    /// Reads a file from a volume.
    #[tool(description = "Read a file from a sandbox's workspace volume (relative to the \
        workspace, or absolute under a mounted volume); offset and length select a range. \
        Returns its content shaped: head and tail with omitted_bytes for long files, a summary \
        for binary ones.")]
    pub async fn read_file(
        &self,
        Parameters(input): Parameters<ReadFile>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(super::files::read_file(self, input).await)
    }

    /// Lists a directory of a volume.
    #[tool(description = "List a directory of a sandbox's workspace volume (default its \
        root): names, types and sizes.")]
    pub async fn list_files(
        &self,
        Parameters(input): Parameters<ListFiles>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(super::files::list_files(self, input).await)
    }

    /// Lists sandboxes.
    #[tool(description = "List sandboxes: by default (scope \"session\") the ones this \
        session created and has not terminated, with their phase; scope \"all\" lists every \
        sandbox on the server, if this server allows it. Also shows this session's limits.")]
    pub async fn list_sandboxes(
        &self,
        Parameters(input): Parameters<ListSandboxes>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(self.list(input.scope).await)
    }

    /// Terminates a sandbox.
    #[tool(description = "Terminate a sandbox now (its processes end, its workspace volume \
        is deleted). Do this when you are done with one.")]
    pub async fn terminate_sandbox(
        &self,
        Parameters(input): Parameters<SandboxOnly>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = async {
            let sandbox = self.sandbox(&input.sandbox).await?;
            self.session
                .terminate(sandbox.id())
                .await
                .map_err(|err| format!("could not terminate: {err}"))?;
            Ok(json!({"terminated": sandbox.id()}).to_string())
        };
        respond(outcome.await)
    }

    /// Snapshots a sandbox.
    #[tool(description = "Capture a snapshot of a running sandbox's filesystem (it keeps \
        running) and wait for it to be ready. create_sandbox with the returned snapshot_id \
        starts new sandboxes from it.")]
    pub async fn snapshot(
        &self,
        Parameters(input): Parameters<SandboxOnly>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(self.snapshot_of(&input.sandbox).await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SandboxTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("porter-sandbox", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        let result = self.negotiate_initialize(&request)?;
        self.session.mark_initialized();
        Ok(result)
    }

    /// Over HTTP, discovery is refused so that clients fall back to `initialize`, which opens
    /// the session that owns their sandboxes (a discovered client sends every request on its
    /// own, each served by a handler of its own).
    async fn discover(
        &self,
        _context: RequestContext<RoleServer>,
    ) -> Result<DiscoverResult, ErrorData> {
        if self.connection_is_session {
            Ok(DiscoverResult::from_server_info(
                self.supported_protocol_versions().into_owned(),
                self.get_info(),
            ))
        } else {
            Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                "server/discover is not offered over HTTP: use the initialize handshake (an MCP \
                 session owns the sandboxes it creates)",
                None,
            ))
        }
    }

    /// Over HTTP, versions with sessions only: a session is what owns (and cleans up)
    /// sandboxes, and the later stateless versions would make each request a session of its
    /// own.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        if self.connection_is_session {
            Cow::Borrowed(ProtocolVersion::KNOWN_VERSIONS)
        } else {
            Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
        }
    }
}
