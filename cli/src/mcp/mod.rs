//! `porter-sandbox mcp`: sandboxes as tools for any Model Context Protocol client, over stdio
//! (what desktop clients launch) or streamable HTTP (`--listen`). It is a client of the
//! Sandbox API like every SDK: it reaches the host only through that API.

mod files;
mod params;
mod processes;
mod sandboxes;
mod session;
mod shape;
mod tools;

use std::{net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use clap::Args;
use porter_sandbox::types::{SandboxEgressSpec, SandboxResourcesSpec};
use rmcp::{
    ServiceExt,
    transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};
use tokio_util::sync::CancellationToken;

use crate::{error::Failure, resolve::ConnectionArgs};
use session::{Registry, Session};
use tools::SandboxTools;

/// The path the streamable HTTP endpoint is served at.
pub const HTTP_PATH: &str = "/mcp";

/// Options of `porter-sandbox mcp`.
#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (e.g. 127.0.0.1:8765; port 0
    /// picks a free one). The address is printed as `listening on URL`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Host names (or host:port) the HTTP endpoint answers to, besides loopback ones (a guard
    /// against DNS rebinding). Repeatable.
    #[arg(long = "allow-host", value_name = "HOST")]
    pub allow_hosts: Vec<String>,
    /// An HTTP session without a message for this long is closed, and its sandboxes
    /// terminated (more than --max-timeout: a running call sends nothing until it ends).
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub idle_seconds: u64,
    /// Image of sandboxes created without one.
    #[arg(long, value_name = "IMAGE", default_value = "python:3.12-slim")]
    pub default_image: String,
    /// An image sandboxes may be created from (repeatable); `*` allows any. [default: only
    /// the default image]
    #[arg(long = "allow-image", value_name = "IMAGE")]
    pub allow_images: Vec<String>,
    /// Lifetime of the sandboxes it creates, in seconds, when the tool call gives none (a call
    /// may ask for any lifetime up to what is left of the session's runtime).
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub ttl_seconds: u64,
    /// CPU of the sandboxes it creates (a Kubernetes quantity such as 500m or 2) [default: the
    /// server's].
    #[arg(long, value_name = "QUANTITY")]
    pub cpu: Option<String>,
    /// Memory of the sandboxes it creates (e.g. 512Mi, 2Gi) [default: the server's].
    #[arg(long, value_name = "QUANTITY")]
    pub memory: Option<String>,
    /// A destination the sandboxes may reach (repeatable); with it, a tool call may only
    /// narrow this list. [default: unrestricted unless --no-network]
    #[arg(long = "egress", value_name = "DESTINATION")]
    pub egress: Vec<String>,
    /// Sandboxes get no network at all.
    #[arg(long, conflicts_with = "egress")]
    pub no_network: bool,
    /// Mount path of the fresh volume each sandbox gets for the file tools (`none`: no
    /// volume; the file tools then need a sandbox with a mounted volume).
    #[arg(long, value_name = "PATH", default_value = "/workspace")]
    pub workspace: String,
    /// Lease of the sandboxes it creates, in seconds: renewed while this server runs, so the
    /// server terminates them this long after it dies.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lease_seconds: u64,
    /// Sandboxes one session may have at once.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_sandboxes: usize,
    /// Total runtime of one session, in seconds: then its sandboxes are terminated and it may
    /// create no more.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub max_session_seconds: u64,
    /// Deadline of a command or code run that gives none, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub default_timeout: u64,
    /// The longest deadline a command or code run may ask for, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub max_timeout: u64,
    /// Let the tools act on sandboxes this session did not create (and list every sandbox).
    #[arg(long)]
    pub allow_foreign_sandboxes: bool,
}

/// The settings every session shares, from [`McpArgs`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Image of sandboxes created without one.
    pub default_image: String,
    /// Allowed images; `None`: any.
    pub allowed_images: Option<Vec<String>>,
    /// Default TTL of created sandboxes.
    pub ttl: Duration,
    /// Resources of created sandboxes.
    pub resources: Option<SandboxResourcesSpec>,
    /// Egress of created sandboxes; `None`: unrestricted.
    pub egress: Option<SandboxEgressSpec>,
    /// Where each sandbox's fresh volume is mounted; `None`: no volume.
    pub workspace: Option<String>,
    /// Lease of created sandboxes.
    pub lease_seconds: i64,
    /// Sandboxes one session may have at once.
    pub max_sandboxes: usize,
    /// Total runtime of one session.
    pub max_session_runtime: Duration,
    /// Deadline of a run that gives none.
    pub default_timeout: Duration,
    /// Longest deadline a run may ask for.
    pub max_timeout: Duration,
    /// Whether tools may act on sandboxes other sessions or programs created.
    pub allow_foreign: bool,
}

impl Config {
    fn from_args(args: &McpArgs) -> Result<Self, Failure> {
        let positive = |value: u64, flag: &str| {
            if value == 0 {
                Err(Failure::new(format!("--{flag} must be more than 0")))
            } else {
                Ok(Duration::from_secs(value))
            }
        };
        let allowed_images = if args.allow_images.iter().any(|i| i == "*") {
            None
        } else {
            let mut images = args.allow_images.clone();
            if !images.contains(&args.default_image) {
                images.insert(0, args.default_image.clone());
            }
            Some(images)
        };
        let resources = (args.cpu.is_some() || args.memory.is_some())
            .then(|| SandboxResourcesSpec { cpu: args.cpu.clone(), memory: args.memory.clone() });
        let egress = if args.no_network {
            Some(SandboxEgressSpec::new(Vec::<String>::new()))
        } else if args.egress.is_empty() {
            None
        } else {
            Some(SandboxEgressSpec::new(args.egress.clone()))
        };
        let workspace = match args.workspace.as_str() {
            "none" | "" => None,
            path if path.starts_with('/') => Some(path.trim_end_matches('/').to_owned()),
            path => {
                return Err(Failure::new(format!(
                    "--workspace {path:?} is not an absolute path (or `none`)"
                )));
            }
        };
        if args.max_sandboxes == 0 {
            return Err(Failure::new("--max-sandboxes must be at least 1"));
        }
        Ok(Self {
            default_image: args.default_image.clone(),
            allowed_images,
            ttl: positive(args.ttl_seconds, "ttl-seconds")?,
            resources,
            egress,
            workspace,
            lease_seconds: i64::try_from(positive(args.lease_seconds, "lease-seconds")?.as_secs())
                .unwrap_or(i64::MAX),
            max_sandboxes: args.max_sandboxes,
            max_session_runtime: positive(args.max_session_seconds, "max-session-seconds")?,
            default_timeout: positive(args.default_timeout, "default-timeout")?,
            max_timeout: positive(args.max_timeout, "max-timeout")?,
            allow_foreign: args.allow_foreign_sandboxes,
        })
    }
}

/// Runs the MCP server until the client goes away (stdio) or SIGTERM/SIGINT (both); every
/// sandbox a session created is terminated when that session ends.
pub fn run(connection: ConnectionArgs, args: McpArgs) -> ExitCode {
    // Logs go to stderr: on stdio, stdout is the protocol.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(runtime) => runtime,
            Err(err) => {
                Failure::new(format!("cannot start the async runtime: {err}")).report();
                return ExitCode::FAILURE;
            }
        };
    let result = runtime.block_on(async move {
        let config = Arc::new(Config::from_args(&args)?);
        let porter = crate::resolve::client(connection)?;
        match args.listen {
            None => serve_stdio(porter, config).await,
            Some(addr) => {
                if args.idle_seconds <= args.max_timeout {
                    return Err(Failure::new(format!(
                        "--idle-seconds ({}) must be more than --max-timeout ({}): a session \
                         is idle while a call runs",
                        args.idle_seconds, args.max_timeout
                    ))
                    .code(2));
                }
                let idle = Duration::from_secs(args.idle_seconds);
                serve_http(porter, config, addr, args.allow_hosts, idle).await
            }
        }
    });
    // A read of stdin may still block a thread: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// One session on stdin/stdout; ends at end of input or on a signal.
async fn serve_stdio(porter: porter_sandbox::Porter, config: Arc<Config>) -> Result<(), Failure> {
    let session = Session::new(porter, config);
    tracing::info!(session = %session.id, "MCP session on stdio");
    let handler = SandboxTools::new(session.clone(), true);
    let outcome = tokio::select! {
        served = async {
            let running = handler
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|err| Failure::new(format!("MCP handshake failed: {err}")))?;
            running.waiting().await.map(|_| ()).map_err(|err| Failure::new(format!("MCP session failed: {err}")))
        } => served,
        () = shutdown_signal() => Ok(()),
    };
    session.close().await;
    outcome
}

/// Streamable HTTP at `addr`: one session per MCP HTTP session, closed when the client ends it
/// (DELETE), when it stays `idle`, or on a signal.
async fn serve_http(
    porter: porter_sandbox::Porter,
    config: Arc<Config>,
    addr: SocketAddr,
    allow_hosts: Vec<String>,
    idle: Duration,
) -> Result<(), Failure> {
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "the MCP endpoint on {addr} has no authentication of its own: anyone who reaches it \
             acts with this server's API key; prefer a loopback address"
        );
    }
    let registry = Arc::new(Registry::default());
    let cancel = CancellationToken::new();
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    hosts.extend(allow_hosts);
    let http_config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_cancellation_token(cancel.child_token());
    let factory = {
        let registry = registry.clone();
        move || {
            let session = Session::new(porter.clone(), config.clone());
            registry.add(&session);
            tracing::info!(session = %session.id, "MCP session over HTTP");
            Ok(SandboxTools::new(session, false))
        }
    };
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(idle);
    let service: StreamableHttpService<SandboxTools, LocalSessionManager> =
        StreamableHttpService::new(factory, Arc::new(sessions), http_config);
    let router = axum::Router::new().nest_service(HTTP_PATH, service);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| Failure::new(format!("cannot listen on {addr}: {err}")))?;
    let local = listener
        .local_addr()
        .map_err(|err| Failure::new(format!("cannot read the listening address: {err}")))?;
    #[allow(clippy::print_stdout)]
    {
        // The first line of stdout: what scripts and tests wait for.
        println!("listening on http://{local}{HTTP_PATH}");
    }
    let stop = cancel.clone();
    let closing = registry.clone();
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Sessions first, while they are alive; then the HTTP sessions and streams.
            closing.close_all().await;
            stop.cancel();
        })
        .await;
    registry.close_all().await;
    session::finish_cleanups().await;
    served.map_err(|err| Failure::new(format!("the HTTP server failed: {err}")))
}
