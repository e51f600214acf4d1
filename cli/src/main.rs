//! `porter-sandbox`: run the local Sandbox API server, and operate sandboxes and volumes.

mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Porter Sandbox: isolated sandboxes on demand, locally or on a Porter cluster.
#[derive(Debug, Parser)]
#[command(name = "porter-sandbox", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local Sandbox API server (real isolated sandboxes on this machine).
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
    }
}
