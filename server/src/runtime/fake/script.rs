//! What a [`super::FakeRuntime`] is told to do: how workloads behave and what commands print.

use std::time::Duration;

use crate::runtime::{ExecOutput, OutputStream};

/// How the workload of a sandbox behaves on a [`super::FakeRuntime`], chosen by its argv (see
/// [`super::FakeRuntime::script_workload`]). The default runs until it is killed or told to
/// exit ([`super::FakeRuntime::exit`]), like `sleep infinity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workload {
    /// Lines printed right after the start, in order.
    pub output: Vec<(OutputStream, String)>,
    /// Ends by itself with this exit code after this long; `None`: runs until killed.
    pub exit: Option<(i32, Duration)>,
    /// The start fails with this message instead (nothing runs).
    pub start_failure: Option<String>,
    /// How long the start takes (the sandbox stays `creating` meanwhile).
    pub start_delay: Duration,
}

impl Workload {
    /// Runs until it is killed or told to exit.
    #[must_use]
    pub fn runs() -> Self {
        Self::default()
    }

    /// Exits with `code` once `after` has passed since it started.
    #[must_use]
    pub fn exits(code: i32, after: Duration) -> Self {
        Self { exit: Some((code, after)), ..Self::default() }
    }

    /// Cannot start: the runtime's start fails with `message`.
    #[must_use]
    pub fn fails_to_start(message: impl Into<String>) -> Self {
        Self { start_failure: Some(message.into()), ..Self::default() }
    }

    /// Takes `delay` to start.
    #[must_use]
    pub fn starting_in(mut self, delay: Duration) -> Self {
        self.start_delay = delay;
        self
    }

    /// Also prints `line` on `stream` when it starts.
    #[must_use]
    pub fn printing(mut self, stream: OutputStream, line: impl Into<String>) -> Self {
        self.output.push((stream, line.into()));
        self
    }
}

/// What a command run with exec prints and how it ends, chosen by its exact argv (see
/// [`super::FakeRuntime::script_exec`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecScript {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub exit_code: i32,
    /// How long the command runs; an exec deadline shorter than this kills it (exit code
    /// [`crate::runtime::TIMEOUT_EXIT_CODE`], no output).
    pub takes: Duration,
    /// The runtime fails to run it at all, with this message.
    pub failure: Option<String>,
}

impl ExecScript {
    /// Prints `stdout` and exits with 0.
    #[must_use]
    pub fn prints(stdout: impl Into<String>) -> Self {
        Self { stdout: stdout.into(), ..Self::default() }
    }

    /// Exits with `code`, printing `stderr`.
    #[must_use]
    pub fn exits(code: i32, stderr: impl Into<String>) -> Self {
        Self { exit_code: code, stderr: stderr.into(), ..Self::default() }
    }

    /// Runs for `takes` before it ends.
    #[must_use]
    pub fn taking(mut self, takes: Duration) -> Self {
        self.takes = takes;
        self
    }

    /// The runtime cannot run the command: exec fails with `message`.
    #[must_use]
    pub fn fails(message: impl Into<String>) -> Self {
        Self { failure: Some(message.into()), ..Self::default() }
    }

    pub(super) fn output(&self) -> ExecOutput {
        ExecOutput {
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            stdout_dropped: 0,
            stderr_dropped: 0,
            exit_code: self.exit_code,
            timed_out: false,
        }
    }
}

/// The commands every fake sandbox knows without a script: `echo ARGS…`, `true`, `false`;
/// anything else ends with 127 like a shell's "command not found".
pub(super) fn builtin(argv: &[String]) -> ExecScript {
    match argv.split_first() {
        Some((program, args)) if program == "echo" => ExecScript::prints(args.join(" ") + "\n"),
        Some((program, _)) if program == "true" => ExecScript::default(),
        Some((program, _)) if program == "false" => ExecScript::exits(1, ""),
        Some((program, _)) => ExecScript::exits(127, format!("{program}: command not found\n")),
        None => ExecScript::exits(127, "no command\n"),
    }
}
