//! How a command fails: a message that says what went wrong, hints that say what to do, and the
//! process exit code.

use std::io::{self, IsTerminal, Write};

use porter_sandbox::ErrorKind;

use crate::{output, resolve};

/// Exit code of a failed API call or any other runtime error.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of `exec` when the sandbox is not running.
pub const EXIT_NOT_RUNNING: u8 = 3;

/// The result of a command: the process exit code, or a failure.
pub type CliResult<T = u8> = Result<T, Failure>;

/// A failed command: printed as `error: <message>` (and `hint: …` lines) on stderr.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hints: Vec<String>,
    code: u8,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hints: Vec::new(), code: EXIT_FAILURE }
    }

    /// A failure that prints nothing (e.g. stdout closed by `| head`).
    fn quiet(code: u8) -> Self {
        Self { message: String::new(), hints: Vec::new(), code }
    }

    /// Adds a line telling the user what to do.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Sets the exit code.
    #[must_use]
    pub fn code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// Prefixes the message with what was being done (`cannot read x: <message>`).
    #[must_use]
    pub fn context(mut self, what: impl std::fmt::Display) -> Self {
        if !self.message.is_empty() {
            self.message = format!("{what}: {}", self.message);
        }
        self
    }

    /// The message (without hints).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// Prints only the hint lines on stderr (after a message printed elsewhere, e.g. by clap).
    pub fn report_hints(&self) {
        let color = output::color_enabled(io::stderr().is_terminal());
        let mut stderr = io::stderr().lock();
        for hint in &self.hints {
            let _ =
                writeln!(stderr, "{} {hint}", output::paint("hint:", output::Style::Dim, color));
        }
    }

    /// Prints the failure on stderr (nothing for a quiet failure).
    pub fn report(&self) {
        if self.message.is_empty() {
            return;
        }
        let color = output::color_enabled(io::stderr().is_terminal());
        let mut stderr = io::stderr().lock();
        let _ = writeln!(
            stderr,
            "{} {}",
            output::paint("error:", output::Style::Red, color),
            self.message
        );
        for hint in &self.hints {
            let _ =
                writeln!(stderr, "{} {hint}", output::paint("hint:", output::Style::Dim, color));
        }
    }
}

impl From<porter_sandbox::Error> for Failure {
    fn from(err: porter_sandbox::Error) -> Self {
        let failure = Self::new(err.message());
        let base_url = resolve::base_url_in_use().unwrap_or("the configured address");
        match err.kind() {
            ErrorKind::Network => failure.hint(format!(
                "could not reach the Sandbox API at {base_url}: is the server running? Start a local \
                 one with `porter-sandbox serve`, or point --base-url / PORTER_SANDBOX_BASE_URL at \
                 the right address"
            )),
            ErrorKind::Authentication => failure.hint(
                "the server wants an API key: pass --api-key or set PORTER_SANDBOX_API_KEY",
            ),
            ErrorKind::Timeout => failure.hint(format!(
                "the Sandbox API at {base_url} did not answer in time; try again, or check the server"
            )),
            ErrorKind::RateLimit => failure.hint("the server is rate limiting; retry in a moment"),
            ErrorKind::Server => failure.hint("the server failed; its log may say more"),
            _ => failure,
        }
    }
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`| head`): stop quietly, as other command-line tools do.
            return Self::quiet(0);
        }
        Self::new(err.to_string())
    }
}
