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
  PORTER_SANDBOX_SERVER_API_KEYS  comma-separated API keys (like --api-key, but not visible in `ps`)
  PORTER_SANDBOX_SERVER_API_KEY_FILE
                                  a file of API keys, one a line (like --api-key-file)
  PORTER_SANDBOX_DISCOVERY_FILE   where to write the discovery file clients read (`none`: nowhere)
                                  [default: ~/.config/porter-sandbox/local-server.json, of the
                                  user who ran sudo when started with sudo]
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
    /// An API key clients must send as `Authorization: Bearer KEY` (repeatable). Prefer
    /// --api-key-file or PORTER_SANDBOX_SERVER_API_KEYS: arguments are visible in `ps`. With no
    /// key given, one is generated on first start into DATA_DIR/api-key (owner-only) and
    /// clients of the same user find it through the discovery file.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// A file of API keys, one a line (`#` comments allowed).
    #[arg(long, value_name = "PATH")]
    api_key_file: Option<PathBuf>,
    /// Accept requests without any key. Only on a loopback address; every local user and
    /// process (including web pages' requests that get past the Host/Origin checks) can then
    /// run code as this server.
    #[arg(long, conflicts_with_all = ["api_keys", "api_key_file"])]
    insecure_no_auth: bool,
    /// A host name (or HOST:PORT) clients may address the server by, besides its listen
    /// address, IP literals it listens on and loopback names (repeatable). Other `Host` headers
    /// are refused, against DNS rebinding.
    #[arg(long = "allowed-host", value_name = "HOST")]
    allowed_hosts: Vec<String>,
    /// Once listening, write a JSON file here with `url`, `pid`, `data_dir`, `auth` and
    /// `api_key_file` (when the key was generated); removed when the server stops.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
    /// Do not write the discovery file that clients read to find this server.
    #[arg(long)]
    no_discovery: bool,
    /// Close a connection whose request headers take longer than this, or that sits idle
    /// this long between requests, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_idle_timeout)]
    idle_timeout: Duration,
    /// Open connections at most; further ones are closed at once [default: from the file
    /// descriptor limit, at most 65536].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
    /// What runs the sandboxes: `oci` (containers on this machine, with crun or runc) or
    /// `kubernetes` (pods of a cluster: see --kubeconfig and --namespace).
    #[arg(long, value_name = "oci|kubernetes", default_value = "oci")]
    runtime: RuntimeKind,
    /// With --runtime kubernetes: the kubeconfig file [default: the pod's service account in a
    /// cluster, else KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// With --runtime kubernetes: the namespace of the sandboxes' pods.
    #[arg(long, value_name = "NAMESPACE", default_value = "default")]
    namespace: String,
    /// With --runtime kubernetes: the image with this server's binary, from which each pod's
    /// init container installs the exec agent [default: porter-sandbox:VERSION].
    #[arg(long, value_name = "IMAGE")]
    kube_agent_image: Option<String>,
    /// With --runtime kubernetes: how long a pod may take to become ready (scheduling and
    /// image pull included) before its sandbox fails, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_start_timeout)]
    kube_start_timeout: Duration,
    /// Terminate every sandbox when the server stops (by default they keep running and are
    /// re-adopted at the next start). No effect with --runtime kubernetes, where sandboxes
    /// belong to the cluster (and to every server of it).
    #[arg(long)]
    ephemeral: bool,
    /// CPU limit of sandboxes whose `resources.cpu` is unset (Kubernetes quantity: "1", "500m").
    #[arg(long, value_name = "CPU", default_value = "1", value_parser = parse_cpu)]
    default_cpu: u64,
    /// Memory limit of sandboxes whose `resources.memory` is unset (Kubernetes quantity: "2Gi").
    #[arg(long, value_name = "MEMORY", default_value = "2Gi", value_parser = parse_memory)]
    default_memory: u64,
    /// Size limit of each sandbox's writable layer, enforced by its own filesystem (the
    /// workload sees "No space left on device"); `0`: unlimited.
    #[arg(long, value_name = "SIZE", default_value = "10Gi", value_parser = parse_disk)]
    sandbox_disk: u64,
    /// Size limit of each disk volume, enforced by its own filesystem (uploads past it answer
    /// 507); `0`: unlimited.
    #[arg(long, value_name = "SIZE", default_value = "10Gi", value_parser = parse_disk)]
    volume_size: u64,
    /// Log kept per sandbox; older lines are dropped, leaving a marker line (each line counts
    /// its size plus 64 bytes).
    #[arg(long, value_name = "SIZE", default_value = "16Mi", value_parser = parse_log_retention)]
    log_retention: u64,
    /// Output kept per process (`POST /v1/sandbox/{id}/processes`); older output is dropped
    /// and readers start at the oldest byte kept.
    #[arg(long, value_name = "SIZE", default_value = "64Mi", value_parser = parse_log_retention)]
    process_output_retention: u64,
    /// How often the resource usage of running sandboxes is sampled for the metrics
    /// endpoints, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "2", value_parser = parse_interval)]
    metrics_interval: Duration,
    /// What a sandbox gets when its image's registry cannot be reached at all (no DNS, no
    /// route, connection refused — or a misspelt image name on a machine without a route):
    /// `fail` fails it with `launch_failed` and a reason naming the registry; `host` runs it
    /// on the `host` image instead, with a warning in the sandbox's log and `runs_image: host`
    /// in its status (its `image` still shows what was asked for). A registry that answers —
    /// 401, 404, bad digests — always fails the sandbox. Images pulled before are used from
    /// the cache without a registry either way.
    #[arg(long, value_name = "fail|host", default_value_t = OfflineImages::Fail)]
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
    quantity::cpu_millis(text).map_err(|e| e.message.replacen("resources.cpu", "--default-cpu", 1))
}

fn parse_memory(text: &str) -> Result<u64, String> {
    quantity::memory_bytes(text)
        .map_err(|e| e.message.replacen("resources.memory", "--default-memory", 1))
}

fn parse_disk(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    quantity::memory_bytes(text)
        .map_err(|e| e.message.replacen("resources.memory", "the size", 1))
        .and_then(|bytes| {
            if bytes < 64 << 20 {
                Err(format!("{text:?} is too small: give at least 64Mi (or 0 for no limit)"))
            } else {
                Ok(bytes)
            }
        })
}

fn parse_log_retention(text: &str) -> Result<u64, String> {
    let bytes = quantity::byte_size(text)
        .map_err(|e| e.message.replacen("resources.memory", "the size", 1))?;
    if bytes < 64 << 10 {
        return Err(format!("{text:?} is too small: give at least 64Ki"));
    }
    Ok(bytes)
}

fn parse_idle_timeout(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.1..=3600.0).contains(&seconds) => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("{text:?} is not a number of seconds between 0.1 and 3600")),
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(seconds) if (0.05..=3600.0).contains(&seconds) => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("{text:?} is not a number of seconds between 0.05 and 3600")),
    }
}

/// What runs the sandboxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeKind {
    /// Containers on this machine.
    Oci,
    /// Pods of a Kubernetes cluster.
    Kubernetes,
}

fn parse_start_timeout(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(seconds) if (1..=86_400).contains(&seconds) => Ok(Duration::from_secs(seconds)),
        _ => Err(format!("{text:?} is not a whole number of seconds between 1 and 86400")),
    }
}

fn runtime_choice(args: &ServeArgs) -> Result<serve::RuntimeChoice, String> {
    use porter_sandbox_server::runtime::kube::KubeOptions;
    let kube_flags = args.kubeconfig.is_some() || args.kube_agent_image.is_some();
    match args.runtime {
        RuntimeKind::Oci if kube_flags => {
            Err("--kubeconfig and --kube-agent-image only apply with --runtime kubernetes"
                .to_owned())
        }
        RuntimeKind::Oci => Ok(serve::RuntimeChoice::Oci),
        RuntimeKind::Kubernetes => {
            let mut options = KubeOptions::new(args.namespace.clone());
            options.kubeconfig.clone_from(&args.kubeconfig);
            if let Some(image) = &args.kube_agent_image {
                options.agent_image.clone_from(image);
            }
            options.start_timeout = args.kube_start_timeout;
            Ok(serve::RuntimeChoice::Kubernetes(options))
        }
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> ExitCode {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let auth = match auth(&args) {
        Ok(auth) => auth,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime_choice = match runtime_choice(&args) {
        Ok(choice) => choice,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
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
        auth,
        allowed_hosts: args.allowed_hosts,
        ready_file: args.ready_file,
        announce: !args.no_discovery,
        max_connections: args.max_connections.map(|n| n as usize),
        idle_timeout: args.idle_timeout,
        ephemeral: args.ephemeral,
        default_cpu_millis: args.default_cpu,
        default_memory_bytes: args.default_memory,
        sandbox_disk_bytes: (args.sandbox_disk > 0).then_some(args.sandbox_disk),
        log_retention_bytes: args.log_retention,
        process_output_retention: args.process_output_retention,
        volume_size_bytes: (args.volume_size > 0).then_some(args.volume_size),
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
        runtime: runtime_choice,
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
        server
            .serve_with(serve::shutdown_signal(), |url, banner| {
                eprint!("{banner}");
                // The one line on stdout, for people and scripts that read it; the test
                // harnesses wait for --ready-file instead (no output to parse).
                let mut stdout = std::io::stdout();
                let _ = writeln!(stdout, "listening on {url}");
                let _ = stdout.flush();
            })
            .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// How requests will be authenticated, from the flags and the environment.
fn auth(args: &ServeArgs) -> Result<serve::Auth, String> {
    if args.insecure_no_auth {
        if !args.listen.ip().is_loopback() {
            return Err(format!(
                "--insecure-no-auth is only allowed on a loopback address, not {}",
                args.listen
            ));
        }
        return Ok(serve::Auth::InsecureNoAuth);
    }
    let mut keys = args.api_keys.clone();
    serve::validate_api_keys(&keys, "with --api-key")?;
    if !keys.is_empty() {
        eprintln!(
            "warning: --api-key is visible to every local user in `ps`; prefer --api-key-file \
             or {}",
            serve::ENV_SERVER_API_KEYS
        );
    }
    if let Some(file) = &args.api_key_file {
        keys.extend(serve::api_keys_from_file(file)?);
    }
    keys.extend(serve::api_keys_from_env()?);
    Ok(if keys.is_empty() { serve::Auth::Generated } else { serve::Auth::Keys(keys) })
}
