//! `porter-sandbox serve`.

use std::{io::Write, net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::Args;
use porter_sandbox_server::serve::{self, ServeOptions};

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for state, images, sandboxes and volumes [default: ~/.local/share/porter-sandbox].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An API key clients must send as `Authorization: Bearer KEY` (repeatable). Also read,
    /// comma-separated, from PORTER_SANDBOX_SERVER_API_KEYS.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// Terminate every sandbox when the server stops (by default they keep running and are
    /// re-adopted at the next start).
    #[arg(long)]
    ephemeral: bool,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut api_keys = args.api_keys;
    api_keys.extend(serve::api_keys_from_env());
    let options = ServeOptions {
        listen: args.listen,
        data_dir: args.data_dir.unwrap_or_else(serve::default_data_dir),
        api_keys,
        ephemeral: args.ephemeral,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let server = serve::bind(options).await?;
        // The one line on stdout: scripts and test harnesses wait for it.
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "listening on http://{}", server.addr);
        let _ = stdout.flush();
        server.serve(serve::shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
