//! Processes from the terminal: `exec` streaming live (with `-i`, `-t`, `--detach`), `attach`,
//! `ps` and `kill`.

use std::{
    io::{self, Write},
    time::Duration,
};

use clap::Args;
use futures_util::StreamExt;
use porter_sandbox::{
    Porter, Process, ProcessSpec,
    types::{OutputStreamName, ProcessState, ProcessStatus},
};
use serde::Serialize;
use tokio::io::AsyncReadExt;

use crate::{
    error::{CliResult, Failure},
    output::{self, Cell, Table},
    resolve, terminal,
};

/// Bytes read from the local standard input per stdin write.
const STDIN_CHUNK: usize = 64 * 1024;

/// How the streaming `exec` runs its process.
pub struct Streamed {
    /// What to start.
    pub spec: ProcessSpec,
    /// Forward the local standard input.
    pub interactive: bool,
    /// A terminal: raw mode and resizes.
    pub tty: bool,
    /// Print the id and return at once.
    pub detach: bool,
}

/// Starts the process and follows it to its end: output on the matching local streams, local
/// input forwarded, Ctrl-C passed on; the exit code is the process's.
pub async fn run_streamed(sandbox: &porter_sandbox::Sandbox, how: Streamed) -> CliResult {
    let mut spec = how.spec;
    if how.tty {
        let (cols, rows) = terminal::size().unwrap_or((80, 24));
        spec = spec.pty(cols, rows);
    }
    let process = sandbox.start(spec.stdin(how.interactive || how.tty)).await?;
    if how.detach {
        output::line(process.id())?;
        return Ok(0);
    }
    let raw = if how.tty { terminal::RawMode::enable() } else { None };
    let input = (how.interactive || how.tty).then(|| tokio::spawn(forward_stdin(process.clone())));
    let resizes = how.tty.then(|| tokio::spawn(forward_resizes(process.clone())));
    let interrupts = (!how.tty).then(|| tokio::spawn(forward_interrupts(process.clone())));
    let outcome = follow(&process, 0).await;
    for task in [input, resizes, interrupts].into_iter().flatten() {
        task.abort();
    }
    drop(raw);
    let status = outcome?;
    Ok(report_end(&status))
}

/// Writes the output from `offset` to the local streams until the process ends; its final
/// status.
async fn follow(process: &Process, offset: u64) -> CliResult<ProcessStatus> {
    let mut stream = process.output(offset);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let written = match chunk.stream {
            OutputStreamName::Stderr => {
                let mut err = io::stderr().lock();
                err.write_all(&chunk.data).and_then(|()| err.flush())
            }
            _ => {
                let mut out = io::stdout().lock();
                out.write_all(&chunk.data).and_then(|()| out.flush())
            }
        };
        written?;
    }
    match process.last_status() {
        Some(status) if status.is_finished() => Ok(status),
        _ => Ok(process.wait(None).await?),
    }
}

/// The exit code for a final status, with a note when the deadline or a signal ended it.
fn report_end(status: &ProcessStatus) -> u8 {
    if status.timed_out {
        output::note("the command reached its --timeout and was killed (exit code 124)");
    } else if status.state == ProcessState::Killed {
        if let Some(signal) = &status.signal {
            output::note(format!("the command was killed by {signal}"));
        }
    }
    status.exit_code.and_then(|c| u8::try_from(c).ok()).unwrap_or(1)
}

async fn forward_stdin(process: Process) {
    let mut stdin = tokio::io::stdin();
    let mut buffer = vec![0u8; STDIN_CHUNK];
    loop {
        match stdin.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if process.write_stdin(buffer[..n].to_vec()).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = process.close_stdin().await;
}

async fn forward_resizes(process: Process) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut changes) = signal(SignalKind::window_change()) else { return };
    while changes.recv().await.is_some() {
        if let Some((cols, rows)) = terminal::size() {
            let _ = process.resize(cols, rows).await;
        }
    }
}

/// Ctrl-C sends SIGINT to the remote command (which decides what to do); a second one in a
/// row kills it.
async fn forward_interrupts(process: Process) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut interrupts) = signal(SignalKind::interrupt()) else { return };
    let mut count = 0;
    while interrupts.recv().await.is_some() {
        count += 1;
        let signal = if count == 1 { "SIGINT" } else { "SIGKILL" };
        let _ = process.kill(signal).await;
    }
}

/// Options of `attach`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    porter-sandbox exec --detach my-sandbox -- make build   # prints the exec id\n  \
    porter-sandbox attach my-sandbox ex-1a2b3c\n  \
    porter-sandbox attach my-sandbox ex-1a2b3c --from 1048576")]
pub struct AttachArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// The process's exec id (`ps` lists them).
    #[arg(value_name = "EXEC_ID")]
    exec_id: String,
    /// Replay from this byte offset of its output (0: everything kept).
    #[arg(long = "from", value_name = "OFFSET", default_value_t = 0)]
    from: u64,
    /// Forward standard input to the process (it must have been started with stdin open).
    #[arg(short = 'i', long)]
    interactive: bool,
}

/// `attach`: replays and follows a process's output; exits with its exit code.
pub async fn attach(porter: &Porter, args: AttachArgs) -> CliResult {
    let sandbox = resolve::sandbox(porter, &args.target).await?;
    let process = sandbox.process(&args.exec_id).await?;
    let input = args.interactive.then(|| tokio::spawn(forward_stdin(process.clone())));
    let outcome = follow(&process, args.from).await;
    if let Some(task) = input {
        task.abort();
    }
    Ok(report_end(&outcome?))
}

/// Options of `ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// Print the processes as JSON.
    #[arg(long)]
    json: bool,
}

/// `ps`: a sandbox's processes, newest first.
pub async fn ps(porter: &Porter, args: PsArgs) -> CliResult {
    let sandbox = resolve::sandbox(porter, &args.target).await?;
    let statuses: Vec<ProcessStatus> =
        sandbox.processes().await?.iter().filter_map(Process::last_status).collect();
    if args.json {
        output::json(&statuses)?;
        return Ok(0);
    }
    if statuses.is_empty() {
        output::note(format!("no processes in {}", args.target));
        return Ok(0);
    }
    let mut table = Table::new(&["EXEC ID", "STATE", "EXIT", "STARTED", "OUTPUT", "COMMAND"]);
    for status in &statuses {
        let exit = status.exit_code.map(|c| c.to_string()).unwrap_or_default();
        table.row(vec![
            Cell::from(status.exec_id.clone()),
            Cell::from(status.state.to_string()),
            Cell::from(exit),
            Cell::from(output::age(&status.started_at)),
            Cell::from(output::size(i64::try_from(status.output_end).unwrap_or(i64::MAX))),
            Cell::from(status.command.join(" ")),
        ]);
    }
    table.print()?;
    Ok(0)
}

/// Options of `kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// The process's exec id (`ps` lists them).
    #[arg(value_name = "EXEC_ID")]
    exec_id: String,
    /// The signal: a name (`SIGTERM`, `TERM`) or a number.
    #[arg(short = 's', long, value_name = "SIGNAL", default_value = "SIGKILL")]
    signal: String,
    /// Wait until the process has ended, then print its final status as JSON.
    #[arg(long)]
    wait: bool,
}

#[derive(Serialize)]
struct Sent<'a> {
    exec_id: &'a str,
    signal: &'a str,
}

/// `kill`: sends a signal to a process's whole tree.
pub async fn kill(porter: &Porter, args: KillArgs) -> CliResult {
    let sandbox = resolve::sandbox(porter, &args.target).await?;
    let process = sandbox.process(&args.exec_id).await?;
    if process.last_status().is_some_and(|s| s.is_finished()) {
        return Err(Failure::new(format!("process {} has already ended", args.exec_id)).hint(
            format!("`porter-sandbox attach {} {}` shows its output", args.target, args.exec_id),
        ));
    }
    process.kill(&args.signal).await?;
    if args.wait {
        let status = process.wait(Some(Duration::from_secs(60))).await?;
        output::json(&status)?;
    } else {
        output::json(&Sent { exec_id: &args.exec_id, signal: &args.signal })?;
    }
    Ok(0)
}
