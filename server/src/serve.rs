//! Running the server: bind, announce, serve until SIGINT/SIGTERM, shut down gracefully.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use crate::{
    http,
    images::ImageOptions,
    runtime::{Runtime, oci::OciRuntime},
    service::{Service, ServiceOptions},
};

/// How long a stopping server waits for requests in flight.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopping server waits for sandbox teardowns in flight.
pub const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable with comma-separated API keys the server accepts.
pub const ENV_SERVER_API_KEYS: &str = "PORTER_SANDBOX_SERVER_API_KEYS";

/// Settings of `porter-sandbox serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where state, images, sandboxes and volumes live.
    pub data_dir: PathBuf,
    /// API keys; with none, requests need no credentials (loopback only).
    pub api_keys: Vec<String>,
    /// Terminate every sandbox when the server stops (otherwise they keep running and are
    /// re-adopted at the next start).
    pub ephemeral: bool,
    /// CPU limit of sandboxes that set no `resources.cpu`, thousandths of a core.
    pub default_cpu_millis: u64,
    /// Memory limit of sandboxes that set no `resources.memory`, bytes.
    pub default_memory_bytes: u64,
    /// How often resource usage is sampled for the metrics endpoints.
    pub metrics_interval: Duration,
    /// Registry pulls: offline policy, mirror, credentials.
    pub images: ImageOptions,
    /// Prune unused images this often (none: only by `porter-sandbox images prune`).
    pub image_prune_interval: Option<Duration>,
}

impl ServeOptions {
    /// Options with every default: no API keys, sandboxes kept when the server stops, the
    /// default sandbox size and metrics interval.
    #[must_use]
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            api_keys: Vec::new(),
            ephemeral: false,
            default_cpu_millis: crate::service::DEFAULT_CPU_MILLIS,
            default_memory_bytes: crate::service::DEFAULT_MEMORY_BYTES,
            metrics_interval: crate::service::metrics::DEFAULT_INTERVAL,
            images: ImageOptions::default(),
            image_prune_interval: None,
        }
    }
}

/// The default data directory: `$XDG_DATA_HOME/porter-sandbox`, else
/// `~/.local/share/porter-sandbox`, else `/var/lib/porter-sandbox`.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("porter-sandbox");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".local/share/porter-sandbox"),
        None => PathBuf::from("/var/lib/porter-sandbox"),
    }
}

/// API keys from [`ENV_SERVER_API_KEYS`].
#[must_use]
pub fn api_keys_from_env() -> Vec<String> {
    std::env::var(ENV_SERVER_API_KEYS)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A started server.
pub struct RunningServer {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// The service behind the routes.
    pub service: Arc<Service>,
    listener: tokio::net::TcpListener,
    ephemeral: bool,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Validates the options, opens the state and binds the listener.
pub async fn bind(options: ServeOptions) -> Result<RunningServer, String> {
    if !options.listen.ip().is_loopback() && options.api_keys.is_empty() {
        return Err(format!(
            "refusing to listen on {} without an API key: anyone who can reach it could run \
             code on this machine. Pass --api-key KEY (or set {ENV_SERVER_API_KEYS}), or listen \
             on 127.0.0.1",
            options.listen
        ));
    }
    let runtime: Arc<dyn Runtime> = Arc::new(OciRuntime::new(options.data_dir.join("sandboxes")));
    if let Err(reason) = runtime.check() {
        tracing::warn!("sandboxes cannot start until this is fixed: {reason}");
    }
    let service = Service::start(
        ServiceOptions {
            api_keys: options.api_keys.clone(),
            reaper_interval: Duration::from_millis(250),
            images: options.images.clone(),
            image_prune_interval: options.image_prune_interval,
            metrics_interval: options.metrics_interval,
            default_cpu_millis: options.default_cpu_millis,
            default_memory_bytes: options.default_memory_bytes,
            ..ServiceOptions::new(options.data_dir.clone())
        },
        runtime,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let addr = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    Ok(RunningServer { addr, service, listener, ephemeral: options.ephemeral })
}

impl RunningServer {
    /// Serves until `shutdown` resolves, then lets the requests in flight finish — for at most
    /// [`DRAIN_TIMEOUT`], since an exec may run for ever.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let mut graceful_signal = stopped.clone();
        let mut deadline_signal = stopped;
        let graceful = axum::serve(self.listener, http::router(self.service.clone()))
            .with_graceful_shutdown(async move {
                let _ = graceful_signal.wait_for(|stopped| *stopped).await;
            });
        let deadline = async move {
            let _ = deadline_signal.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        };
        let result = tokio::select! {
            result = graceful => result.map_err(|e| format!("the server failed: {e}")),
            () = deadline => {
                tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
                Ok(())
            }
        };
        if self.ephemeral {
            self.service.terminate_all().await;
        }
        // A sandbox marked terminated whose teardown is cut short would keep running unseen.
        self.service.wait_teardowns(TEARDOWN_TIMEOUT).await;
        result
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
