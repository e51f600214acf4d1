//! `exec`: run a command in a running sandbox, its output on the matching streams, its exit code
//! passed through.

use std::{
    io::{self, Read, Write},
    time::Duration,
};

use clap::Args;
use porter_sandbox::{ExecOptions, Porter, ProcessSpec, types::StatusResponsePhase};
use porter_sandbox_server::time::parse_duration;

use super::{
    parse_key_value,
    process::{self, Streamed},
};
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
    porter-sandbox exec my-sandbox -c 'ls /tmp | wc -l'\n  \
    porter-sandbox exec --timeout 30s -w /work -e DEBUG=1 my-sandbox -- make test\n  \
    porter-sandbox exec -it my-sandbox -- bash\n  \
    porter-sandbox exec --detach my-sandbox -- ./long-job.sh   # prints the exec id for `attach`\n\n\
    Output is streamed as the command writes it (on a server with processes; the local server \
    has them). The exit code is the command's; 124 when --timeout killed it."
)]
pub struct ExecArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// Run this string with `sh -c` instead of a command given after `--`.
    #[arg(short = 'c', value_name = "SHELL_COMMAND", conflicts_with = "command")]
    shell: Option<String>,
    /// Kill the command (and its children) after this long: `30s`, `5m`, `1h`, or seconds.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Run the command in this directory (absolute).
    #[arg(short = 'w', long, value_name = "DIR")]
    workdir: Option<String>,
    /// Set an environment variable for the command (repeatable).
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// Forward standard input to the command.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Run the command in a terminal (raw mode, resized with yours); `-it` for a shell.
    #[arg(short = 't', long)]
    tty: bool,
    /// Start the command and print its exec id at once (`attach`, `ps`, `kill` take it).
    #[arg(short = 'd', long, conflicts_with_all = ["json", "interactive", "tty"])]
    detach: bool,
    /// Wait for the end and print the result (stdout, stderr, exit_code, exec_id) as JSON.
    #[arg(long, conflicts_with = "tty")]
    json: bool,
    /// The program and its arguments, after `--` (no shell is implied).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn parse_timeout(value: &str) -> Result<Duration, String> {
    let micros = value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1e6) as i64)
        .or_else(|| parse_duration(value))
        .ok_or_else(|| format!("expected a duration such as 30s, 5m or 1h, got {value:?}"))?;
    match u64::try_from(micros) {
        Ok(micros) if micros > 0 => Ok(Duration::from_micros(micros)),
        _ => Err(format!("the timeout must be more than zero, got {value:?}")),
    }
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
    let streaming = !args.json
        && match sandbox.raw().server_extensions().await {
            Ok(extensions) => extensions.processes,
            Err(err) => return Err(err.into()),
        };
    if !streaming && (args.tty || args.detach) {
        return Err(Failure::new(
            "this Sandbox API has no processes (an extension of the local porter-sandbox \
             server): -t and --detach need them",
        )
        .hint("run the command without -t/--detach; its output then arrives when it ends"));
    }
    if streaming {
        let mut spec = ProcessSpec::new(argv);
        spec.timeout = args.timeout;
        spec.workdir = args.workdir;
        spec.env = args.env.into_iter().collect();
        let how =
            Streamed { spec, interactive: args.interactive, tty: args.tty, detach: args.detach };
        return match process::run_streamed(&sandbox, how).await {
            Err(failure) if failure.message().contains("is not running") => {
                Err(failure.code(EXIT_NOT_RUNNING))
            }
            other => other,
        };
    }
    let mut options = ExecOptions::new();
    options.timeout = args.timeout;
    options.workdir = args.workdir;
    options.env = args.env.into_iter().collect();
    if args.interactive {
        let mut input = String::new();
        io::stdin().read_to_string(&mut input)?;
        options.stdin = Some(input);
    }
    let result = match sandbox.exec_with(argv, options).await {
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
