//! Waiting on sandboxes, with the core's wait logic: `create --wait` (until running) and
//! `wait` (until it ends, exiting with the workload's exit code).

use std::time::{Duration, Instant};

use clap::Args;
use porter_sandbox::{ErrorKind, Porter, Sandbox};

use crate::{
    error::{CliResult, Failure},
    output, resolve,
};

/// Exit code of `wait` when `--timeout` passes first (as `timeout(1)` uses).
pub const EXIT_WAIT_TIMEOUT: u8 = 124;

/// Polls until the sandbox runs (the core's backoff), printing each new phase on stderr. A
/// sandbox that ends instead is a failure that carries its last log lines.
pub async fn wait_running(sandbox: &Sandbox, timeout: Duration) -> CliResult<()> {
    let color = output::stderr_color();
    let started = Instant::now();
    let id = sandbox.id().to_owned();
    let mut last_phase = None;
    let observe = |status: &porter_sandbox::types::StatusResponse| {
        if last_phase.as_ref() != Some(&status.phase) {
            let phase = status.phase.as_str();
            output::note(format!(
                "{id}: {}",
                output::paint(phase, output::phase_style(phase), color)
            ));
            last_phase = Some(status.phase.clone());
        }
    };
    match sandbox.wait_until_running_with(Some(timeout), observe).await {
        Ok(status) => {
            output::note(format!(
                "{} is running ({:.1}s)",
                sandbox.id(),
                started.elapsed().as_secs_f64()
            ));
            if let Some(note) = substitution(&status) {
                output::note(format!(
                    "{} {note}",
                    output::paint("warning:", output::Style::Yellow, color)
                ));
            }
            Ok(())
        }
        Err(err) if err.kind() == ErrorKind::SandboxTerminal => Err(Failure::new(err.message())
            .hint(format!("`porter-sandbox logs {}` shows all its output", sandbox.id()))),
        Err(err) if err.kind() == ErrorKind::Timeout => {
            Err(Failure::new(err.message()).hint(format!(
                "wait longer with --wait-timeout, or see `porter-sandbox logs {}`",
                sandbox.id()
            )))
        }
        Err(err) => Err(err.into()),
    }
}

/// What to tell the user when the sandbox runs another image than it was asked for.
pub fn substitution(status: &porter_sandbox::types::StatusResponse) -> Option<String> {
    let runs = status.runs_image.as_deref()?;
    Some(format!(
        "it runs the `{runs}` image instead of `{}`: the server could not reach the image's \
         registry and was started with --offline-images host (`porter-sandbox logs {}` says why)",
        status.image, status.id
    ))
}

/// Options of `wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Name or id of the sandbox.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// Give up after this many seconds (exit code 124); waits for ever by default.
    #[arg(long, value_name = "SECONDS")]
    timeout: Option<f64>,
}

/// `wait`: waits until the sandbox ends, prints the workload's exit code and exits with it
/// (137 for a sandbox terminated without one, 1 for one that failed without one).
pub async fn wait(porter: &Porter, args: WaitArgs) -> CliResult {
    let timeout = match args.timeout {
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Some(Duration::from_secs_f64(seconds))
        }
        Some(seconds) => {
            return Err(Failure::new(format!(
                "--timeout must be a non-negative number of seconds, not {seconds}"
            )));
        }
        None => None,
    };
    let sandbox = resolve::sandbox(porter, &args.target).await?;
    match sandbox.wait(timeout).await {
        Ok(code) => {
            output::line(code.to_string())?;
            // A process exit code is one byte; codes outside it (negative ones) read as failure.
            Ok(u8::try_from(code).unwrap_or(1))
        }
        Err(err) if err.kind() == ErrorKind::Timeout => Err(Failure::new(err.message())
            .hint("wait longer with --timeout, or end it with `porter-sandbox terminate`")
            .code(EXIT_WAIT_TIMEOUT)),
        Err(err) => Err(err.into()),
    }
}
