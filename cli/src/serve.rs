//! `porter-sandbox serve`.

use std::{io::Write, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::Args;
use porter_sandbox_server::{
    serve::{self, ServeOptions},
    service::quantity,
};

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
    /// CPU limit of sandboxes whose `resources.cpu` is unset (Kubernetes quantity: "1", "500m").
    #[arg(long, value_name = "CPU", default_value = "1", value_parser = parse_cpu)]
    default_cpu: u64,
    /// Memory limit of sandboxes whose `resources.memory` is unset (Kubernetes quantity: "2Gi").
    #[arg(long, value_name = "MEMORY", default_value = "2Gi", value_parser = parse_memory)]
    default_memory: u64,
    /// How often the resource usage of running sandboxes is sampled for the metrics
    /// endpoints, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_interval)]
    metrics_interval: Duration,
}

fn parse_cpu(text: &str) -> Result<u64, String> {
    quantity::cpu_millis(text).map_err(|e| e.replacen("resources.cpu", "--default-cpu", 1))
}

fn parse_memory(text: &str) -> Result<u64, String> {
    quantity::memory_bytes(text).map_err(|e| e.replacen("resources.memory", "--default-memory", 1))
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.05..=3600.0).contains(&seconds) => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("{text:?} is not a number of seconds between 0.05 and 3600")),
    }
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
        default_cpu_millis: args.default_cpu,
        default_memory_bytes: args.default_memory,
        metrics_interval: args.metrics_interval,
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
