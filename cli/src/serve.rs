//! `porter-sandbox serve`.

use std::{io::Write, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::Args;
use porter_sandbox_server::{
    images::{self, ImageOptions, OfflineImages},
    serve::{self, ServeOptions},
    service::quantity,
};

/// The environment variables `serve` reads, shown after its options.
pub const ENVIRONMENT_HELP: &str = "Environment:
  PORTER_SANDBOX_SERVER_API_KEYS  comma-separated API keys (like --api-key)
  PORTER_SANDBOX_REGISTRY_AUTH    registry credentials: REGISTRY=USER:PASSWORD entries, space-separated
  PORTER_SANDBOX_EGRESS_HOSTS     a hosts-format file the egress DNS filter consults before the host's
                                  resolver (name -> address, for allow-listed names)
  RUST_LOG                        log filter (default: info)";

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
    /// What a sandbox gets when its image's registry cannot be reached at all (no DNS, no
    /// route, connection refused): `host` runs it on the `host` image with a warning in the
    /// sandbox's log (its `image` still shows what was asked for); `fail` fails it with
    /// `launch_failed`. A registry that answers — 401, 404, bad digests — always fails the
    /// sandbox. Images pulled before are used from the cache without a registry either way.
    #[arg(long, value_name = "host|fail", default_value_t = OfflineImages::Host)]
    offline_images: OfflineImages,
    /// A registry (`HOST[:PORT]`) mirroring Docker Hub: Docker Hub images (`python:3.12-slim`)
    /// are pulled from it first, then from Docker Hub if it fails. Registries on loopback
    /// (127.0.0.0/8, ::1, localhost) are spoken to over plain HTTP, all others over HTTPS only.
    #[arg(long, value_name = "HOST[:PORT]")]
    registry_mirror: Option<String>,
    /// A Docker-style config.json with registry credentials (`docker login` writes one)
    /// [default: $REGISTRY_AUTH_FILE, else $DOCKER_CONFIG/config.json, else
    /// ~/.docker/config.json]. Credentials can also be given as whitespace-separated
    /// REGISTRY=USER:PASSWORD entries in PORTER_SANDBOX_REGISTRY_AUTH, which win over the file.
    #[arg(long, value_name = "PATH")]
    registry_auth_file: Option<PathBuf>,
    /// Remove unpacked images and layers no live sandbox uses every this many minutes (by
    /// default only `porter-sandbox images prune` does).
    #[arg(long, value_name = "MINUTES", value_parser = clap::value_parser!(u64).range(1..))]
    prune_images_every: Option<u64>,
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
    let credentials = match std::env::var(images::ENV_REGISTRY_AUTH) {
        Ok(text) => match images::parse_credentials(&text) {
            Ok(credentials) => credentials,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        },
        Err(_) => Vec::new(),
    };
    let options = ServeOptions {
        listen: args.listen,
        data_dir: args.data_dir.unwrap_or_else(serve::default_data_dir),
        api_keys,
        ephemeral: args.ephemeral,
        default_cpu_millis: args.default_cpu,
        default_memory_bytes: args.default_memory,
        metrics_interval: args.metrics_interval,
        images: ImageOptions {
            offline: args.offline_images,
            mirror: args.registry_mirror,
            auth_file: args.registry_auth_file,
            credentials,
        },
        image_prune_interval: args
            .prune_images_every
            .map(|minutes| std::time::Duration::from_secs(minutes * 60)),
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
