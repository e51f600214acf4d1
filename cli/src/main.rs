//! `porter-sandbox`: run the local Sandbox API server, and operate sandboxes and volumes.
//!
//! Exit codes: 0 success; 1 an API or runtime error; 2 a usage error; 3 `exec` on a sandbox that
//! is not running. `exec` otherwise exits with the command's own exit code.

mod commands;
mod error;
mod images;
mod mcp;
mod output;
mod resolve;
mod serve;
mod terminal;

use std::process::ExitCode;

use clap::{
    CommandFactory, Parser, Subcommand,
    error::{ContextKind, ContextValue, ErrorKind},
};
use commands::{
    Action, exec::ExecArgs, logs::LogsArgs, sandboxes, snapshots::SnapshotCommand,
    volumes::VolumeCommand,
};
use resolve::{CommandConnectionArgs, ConnectionArgs};

/// Porter Sandbox: isolated sandboxes on demand, locally or on a Porter cluster.
#[derive(Debug, Parser)]
#[command(
    name = "porter-sandbox",
    version,
    about,
    propagate_version = true,
    after_help = "Start a local server with `porter-sandbox serve`, then \
                  `export PORTER_SANDBOX_BASE_URL=http://127.0.0.1:8080`.\n\
                  Exit codes: 0 ok, 1 error, 2 usage error, 3 exec on a sandbox that is not \
                  running; exec otherwise passes the command's exit code through."
)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local Sandbox API server (real isolated sandboxes on this machine).
    #[command(after_help = serve::ENVIRONMENT_HELP)]
    Serve(serve::ServeArgs),
    /// Create a sandbox from an image and print its id.
    Create {
        #[command(flatten)]
        args: sandboxes::CreateArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// List sandboxes, newest first.
    List {
        #[command(flatten)]
        args: sandboxes::ListArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Show one sandbox.
    Get {
        #[command(flatten)]
        args: sandboxes::GetArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Print a sandbox's log lines (its workload's output and every exec's), oldest first.
    Logs {
        #[command(flatten)]
        args: LogsArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Run a command in a running sandbox; exits with the command's exit code.
    Exec {
        #[command(flatten)]
        args: ExecArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Terminate sandboxes: the ones named, or every one matching filters (--all).
    Terminate {
        #[command(flatten)]
        args: sandboxes::TerminateArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Wait until a sandbox ends; prints and exits with its workload's exit code.
    Wait {
        #[command(flatten)]
        args: commands::wait::WaitArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Follow a process's output (replayed from an offset) until it ends; exits with its exit
    /// code.
    Attach {
        #[command(flatten)]
        args: commands::process::AttachArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// List a sandbox's processes (started with `exec`), newest first.
    Ps {
        #[command(flatten)]
        args: commands::process::PsArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Send a signal (SIGKILL by default) to a process and its children.
    Kill {
        #[command(flatten)]
        args: commands::process::KillArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Manage volumes and their files.
    Volume {
        #[command(subcommand)]
        command: VolumeCommand,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Manage snapshots of sandboxes.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Maintain a local server's image store (`images prune`).
    Images {
        #[command(subcommand)]
        command: images::ImagesCommand,
    },
    /// Serve sandboxes as tools to LLM clients over the Model Context Protocol (stdio, or
    /// streamable HTTP with --listen).
    Mcp {
        #[command(flatten)]
        args: mcp::McpArgs,
        #[command(flatten)]
        connection: CommandConnectionArgs,
    },
    /// Print a shell completion script, e.g. `porter-sandbox completions bash >
    /// /etc/bash_completion.d/porter-sandbox`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    // The server runs this binary as the supervisor of each process it starts.
    let mut args = std::env::args_os();
    let first = args.nth(1);
    if first.as_ref().is_some_and(|a| a == porter_sandbox_server::process::SUPERVISOR_ARG) {
        let Some(dir) = args.next() else { return ExitCode::from(2) };
        let code = porter_sandbox_server::process::supervisor::main(std::path::Path::new(&dir));
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // Each process of a sandbox on Kubernetes runs through this binary's bridge.
    if first.as_ref().is_some_and(|a| a == porter_sandbox_server::runtime::kube::bridge::BRIDGE_ARG)
    {
        let Some(file) = args.next() else { return ExitCode::from(2) };
        let code = porter_sandbox_server::runtime::kube::bridge::main(std::path::Path::new(&file));
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // A pod's init container installs the exec agent with this binary.
    if first.is_some_and(|a| a == porter_sandbox_server::runtime::INSTALL_AGENT_ARG) {
        let Some(dir) = args.next() else { return ExitCode::from(2) };
        return match porter_sandbox_server::runtime::install_agent(std::path::Path::new(&dir)) {
            Ok(_) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let (connection, action) = match cli.command {
        Command::Serve(args) => return serve::run(args),
        Command::Completions { shell } => return completions(shell),
        Command::Images { command } => return images::run(command),
        Command::Mcp { connection, args } => {
            return mcp::run(cli.connection.merge(connection), args);
        }
        Command::Create { connection, args } => (connection, Action::Create(args)),
        Command::List { connection, args } => (connection, Action::List(args)),
        Command::Get { connection, args } => (connection, Action::Get(args)),
        Command::Logs { connection, args } => (connection, Action::Logs(args)),
        Command::Exec { connection, args } => (connection, Action::Exec(args)),
        Command::Terminate { connection, args } => (connection, Action::Terminate(args)),
        Command::Wait { connection, args } => (connection, Action::Wait(args)),
        Command::Attach { connection, args } => (connection, Action::Attach(args)),
        Command::Ps { connection, args } => (connection, Action::Ps(args)),
        Command::Kill { connection, args } => (connection, Action::Kill(args)),
        Command::Volume { connection, command } => (connection, Action::Volume(command)),
        Command::Snapshot { connection, command } => (connection, Action::Snapshot(command)),
    };
    let code = run(cli.connection.merge(connection), action);
    ExitCode::from(code)
}

/// Runs a client command on a single-threaded runtime and turns its outcome into an exit code.
fn run(connection: ConnectionArgs, action: Action) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            error::Failure::new(format!("cannot start the async runtime: {err}")).report();
            return error::EXIT_FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let porter = resolve::client(connection)?;
        commands::run(&porter, action).await
    });
    // A read of the local stdin (exec -i) may still block a thread: do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(50));
    match result {
        Ok(code) => code,
        Err(failure) => {
            failure.report();
            failure.exit_code()
        }
    }
}

/// Prints a parse error (or the help or version asked for) with a hint for the usual slips,
/// and returns its exit code (2 for a usage error).
fn usage_error(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(hint) = usage_hint(err, &args) {
        error::Failure::new(String::new()).hint(hint).report_hints();
    }
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

/// The hint for a parse error of `args` (the command line without the program), if any.
fn usage_hint(err: &clap::Error, args: &[String]) -> Option<String> {
    let subcommand = args.iter().find_map(|a| match a.as_str() {
        "exec" | "create" | "terminate" => Some(a.as_str()),
        _ => None,
    })?;
    let invalid = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.as_str(),
        _ => "",
    };
    match (err.kind(), subcommand) {
        (ErrorKind::UnknownArgument, "exec") if !invalid.starts_with('-') => Some(format!(
            "put the command after `--`: `porter-sandbox exec NAME -- {invalid} …` (or give a \
             shell string: `porter-sandbox exec NAME -c '{invalid} …'`)"
        )),
        (ErrorKind::UnknownArgument, "create") if !invalid.starts_with('-') => Some(format!(
            "put the command after `--`: `porter-sandbox create IMAGE -- {invalid} …`"
        )),
        (ErrorKind::MissingRequiredArgument, "exec") => Some(
            "give either a command after `--` (`exec NAME -- ls /tmp`) or a shell string with -c \
             (`exec NAME -c 'ls /tmp | wc -l'`)"
                .to_owned(),
        ),
        (ErrorKind::MissingRequiredArgument, "terminate") => Some(
            "name the sandboxes to terminate, or pass --all to terminate every running one \
             (narrowed by --tag, --phase and --older-than; --dry-run lists them first)"
                .to_owned(),
        ),
        _ => None,
    }
}

fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "porter-sandbox", &mut std::io::stdout());
    ExitCode::SUCCESS
}
