//! `exec`: run a command in a running sandbox, its output on the matching streams, its exit code
//! passed through.

use std::io::{self, Write};

use clap::Args;
use porter_sandbox::{Porter, types::StatusResponsePhase};

use crate::{
    error::{CliResult, EXIT_NOT_RUNNING, Failure},
    output, resolve,
};

/// Options of `exec`.
#[derive(Debug, Args)]
#[command(
    override_usage = "porter-sandbox exec [OPTIONS] <NAME|ID> -- <COMMAND>...\n       \
                      porter-sandbox exec [OPTIONS] <NAME|ID> -c <SHELL_COMMAND>",
    group(clap::ArgGroup::new("what").args(["shell", "command"]).required(true)),
    after_help = "Give either a command after `--` or a shell string with -c.\n\
    Examples:\n  \
    porter-sandbox exec my-sandbox -- python3 -c 'print(1)'\n  \
    porter-sandbox exec my-sandbox -c 'ls /tmp | wc -l'"
)]
pub struct ExecArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// Run this string with `sh -c` instead of a command given after `--`.
    #[arg(short = 'c', value_name = "SHELL_COMMAND", conflicts_with = "command")]
    shell: Option<String>,
    /// Print the exec result (stdout, stderr, exit_code, exec_id) as JSON instead.
    #[arg(long)]
    json: bool,
    /// The program and its arguments, after `--` (no shell is implied).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// `exec`: exits with the command's exit code; 3 when the sandbox is not running.
pub async fn run(porter: &Porter, args: ExecArgs) -> CliResult {
    let sandbox = resolve::sandbox(porter, &args.target).await?;
    let status = match sandbox.status() {
        Some(status) => status,
        None => sandbox.refresh().await?,
    };
    if status.phase != StatusResponsePhase::Running {
        return Err(not_running(&args.target, &status.phase));
    }
    let argv = match args.shell {
        Some(script) => vec!["sh".to_owned(), "-c".to_owned(), script],
        None => args.command,
    };
    let result = match sandbox.exec(argv).await {
        Ok(result) => result,
        // The sandbox ended between the status read and the exec.
        Err(err) if err.status() == Some(409) => {
            return Err(Failure::new(err.message()).code(EXIT_NOT_RUNNING));
        }
        Err(err) => return Err(err.into()),
    };
    if args.json {
        output::json(&result)?;
    } else {
        let mut stdout = io::stdout().lock();
        stdout.write_all(result.stdout.as_bytes())?;
        stdout.flush()?;
        let mut stderr = io::stderr().lock();
        stderr.write_all(result.stderr.as_bytes())?;
        stderr.flush()?;
    }
    Ok(exit_code(result.exit_code))
}

/// The process exit code for a command's exit code: itself when it fits, else 1.
fn exit_code(code: i64) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

fn not_running(target: &str, phase: &StatusResponsePhase) -> Failure {
    let failure = Failure::new(format!(
        "sandbox {target} {}: exec needs a running sandbox",
        phase.as_state()
    ))
    .code(EXIT_NOT_RUNNING);
    if phase.is_terminal() {
        failure.hint(format!(
            "it has finished; `porter-sandbox logs {target}` shows its output, and \
             `porter-sandbox create` starts a new one"
        ))
    } else {
        failure.hint(format!(
            "it is starting; retry in a moment (`porter-sandbox get {target}` shows its phase, \
             `create --wait` waits until a new sandbox runs)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::exit_code;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(7), 7);
        assert_eq!(exit_code(255), 255);
        assert_eq!(exit_code(256), 1);
        assert_eq!(exit_code(-1), 1);
    }
}
