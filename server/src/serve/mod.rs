//! Running the server: settle its keys and state, bind, announce, serve until SIGINT/SIGTERM,
//! shut down gracefully.

mod announce;
mod connections;
mod keys;
mod listener;
mod stall;

use std::{
    net::SocketAddr,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

pub use keys::{Auth, ENV_SERVER_API_KEY_FILE, ENV_SERVER_API_KEYS, GENERATED_KEY_FILE};
pub use listener::{ConnectionLimits, HEADER_READ_TIMEOUT};

use crate::{
    http::{self, RequestGuard},
    images::ImageOptions,
    runtime::{Runtime, oci::OciRuntime},
    service::{Service, ServiceOptions},
};

/// How long a stopping server waits for requests in flight.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a stopping server waits for sandbox teardowns in flight.
pub const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of `porter-sandbox serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where state, images, sandboxes and volumes live.
    pub data_dir: PathBuf,
    /// How requests are authenticated (by default with a key generated on first start).
    pub auth: Auth,
    /// Host names (or `host:port`) requests may address besides the listen address and the
    /// loopback names (a guard against DNS rebinding).
    pub allowed_hosts: Vec<String>,
    /// Write a JSON file with the URL, pid and key location here once listening.
    pub ready_file: Option<PathBuf>,
    /// Write the discovery file that clients of the same user read (see
    /// [`porter_sandbox::discovery`]).
    pub announce: bool,
    /// Open connections at most (default: from the descriptor limit, at most 65,536).
    pub max_connections: Option<usize>,
    /// How long request headers may take, and a kept-alive connection may sit idle.
    pub idle_timeout: Duration,
    /// Terminate every sandbox when the server stops (otherwise they keep running and are
    /// re-adopted at the next start).
    pub ephemeral: bool,
    /// CPU limit of sandboxes that set no `resources.cpu`, thousandths of a core.
    pub default_cpu_millis: u64,
    /// Memory limit of sandboxes that set no `resources.memory`, bytes.
    pub default_memory_bytes: u64,
    /// Size limit of each sandbox's writable layer, bytes (`None`: unlimited).
    pub sandbox_disk_bytes: Option<u64>,
    /// Size limit of each disk volume, bytes (`None`: unlimited).
    pub volume_size_bytes: Option<u64>,
    /// Log bytes kept per sandbox (older lines are dropped, with a marker line).
    pub log_retention_bytes: u64,
    /// Output kept per process (the processes extension).
    pub process_output_retention: u64,
    /// How often resource usage is sampled for the metrics endpoints.
    pub metrics_interval: Duration,
    /// Registry pulls: offline policy, mirror, credentials.
    pub images: ImageOptions,
    /// Prune unused images this often (none: only by `porter-sandbox images prune`).
    pub image_prune_interval: Option<Duration>,
    /// What runs the sandboxes.
    pub runtime: RuntimeChoice,
}

/// What runs the sandboxes of a server.
#[derive(Debug, Clone, Default)]
pub enum RuntimeChoice {
    /// Containers on this machine (crun or runc).
    #[default]
    Oci,
    /// Pods of a Kubernetes cluster.
    #[cfg(feature = "kubernetes")]
    Kubernetes(crate::runtime::kube::KubeOptions),
}

impl ServeOptions {
    /// Options with every default: a generated API key, no discovery file, sandboxes kept when
    /// the server stops, the default sandbox size and metrics interval.
    #[must_use]
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            listen,
            data_dir,
            auth: Auth::Generated,
            allowed_hosts: Vec::new(),
            ready_file: None,
            announce: false,
            max_connections: None,
            idle_timeout: HEADER_READ_TIMEOUT,
            ephemeral: false,
            default_cpu_millis: crate::service::DEFAULT_CPU_MILLIS,
            default_memory_bytes: crate::service::DEFAULT_MEMORY_BYTES,
            sandbox_disk_bytes: Some(crate::service::DEFAULT_SANDBOX_DISK_BYTES),
            volume_size_bytes: Some(crate::service::DEFAULT_VOLUME_SIZE_BYTES),
            log_retention_bytes: crate::store::DEFAULT_LOG_RETENTION,
            process_output_retention: crate::process::DEFAULT_RETENTION,
            metrics_interval: crate::service::metrics::DEFAULT_INTERVAL,
            images: ImageOptions::default(),
            image_prune_interval: None,
            runtime: RuntimeChoice::Oci,
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

/// API keys from [`ENV_SERVER_API_KEYS`] and the file named by [`ENV_SERVER_API_KEY_FILE`].
///
/// # Errors
///
/// When either is set but holds no usable key.
pub fn api_keys_from_env() -> Result<Vec<String>, String> {
    let mut keys = keys::from_env()?;
    if let Some(file) = std::env::var_os(ENV_SERVER_API_KEY_FILE).filter(|f| !f.is_empty()) {
        keys.extend(keys::from_file(Path::new(&file))?);
    }
    Ok(keys)
}

/// API keys from a file, one a line.
///
/// # Errors
///
/// When the file cannot be read or holds no key.
pub fn api_keys_from_file(path: &Path) -> Result<Vec<String>, String> {
    keys::from_file(path)
}

/// Checks keys given on the command line (none may be empty).
///
/// # Errors
///
/// A message naming the problem.
pub fn validate_api_keys(keys: &[String], source: &str) -> Result<(), String> {
    keys::validate(keys, source)
}

/// A started server.
pub struct RunningServer {
    /// The address actually bound.
    pub addr: SocketAddr,
    /// The service behind the routes.
    pub service: Arc<Service>,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
    keys: keys::ResolvedKeys,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Makes the data directory owner-only (0700) and the state database's files 0600: they hold
/// sandboxes' environment, which may carry secrets.
fn secure_data_dir(data_dir: &Path) -> Result<(), String> {
    let fail = |e: std::io::Error| {
        format!("cannot prepare the data directory {}: {e}", data_dir.display())
    };
    std::fs::create_dir_all(data_dir).map_err(fail)?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
    // SQLite gives its -wal and -shm files the database file's mode: create it owner-only.
    let db = data_dir.join("state.db");
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&db).map_err(fail)?;
    for name in ["state.db", "state.db-wal", "state.db-shm"] {
        let path = data_dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
    }
    Ok(())
}

/// Connections the kernel queues before the server accepts them. A deep queue absorbs bursts
/// (a dropped SYN costs a client a one-second retransmit); the kernel caps it at somaxconn.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Validates the options, opens the state and binds the listener.
pub async fn bind(options: ServeOptions) -> Result<RunningServer, String> {
    if !options.listen.ip().is_loopback() && options.auth == Auth::InsecureNoAuth {
        return Err(format!(
            "refusing to listen on {} without authentication: anyone who can reach it could run \
             code on this machine. Drop --insecure-no-auth (a key is generated), or listen on \
             127.0.0.1",
            options.listen
        ));
    }
    listener::raise_nofile_limit();
    secure_data_dir(&options.data_dir)?;
    let keys = keys::resolve(&options.auth, &options.data_dir)?;
    let runtime: Arc<dyn Runtime> = match &options.runtime {
        RuntimeChoice::Oci => Arc::new(OciRuntime::new(options.data_dir.join("sandboxes"))),
        #[cfg(feature = "kubernetes")]
        RuntimeChoice::Kubernetes(kube) => {
            let mut kube = kube.clone();
            kube.state_dir.get_or_insert_with(|| options.data_dir.join("kubernetes"));
            crate::runtime::kube::KubeRuntime::connect(kube).await?
        }
    };
    if let Err(reason) = runtime.check() {
        tracing::warn!("sandboxes cannot start until this is fixed: {reason}");
    }
    let service = Service::start(
        ServiceOptions {
            api_keys: keys.keys.clone(),
            reaper_interval: Duration::from_millis(250),
            images: options.images.clone(),
            image_prune_interval: options.image_prune_interval,
            metrics_interval: options.metrics_interval,
            default_cpu_millis: options.default_cpu_millis,
            default_memory_bytes: options.default_memory_bytes,
            sandbox_disk_bytes: options.sandbox_disk_bytes,
            volume_size_bytes: options.volume_size_bytes,
            log_retention_bytes: options.log_retention_bytes,
            // This executable supervises processes (`__process-supervisor`).
            process_supervisor: std::env::current_exe().ok(),
            process_output_retention: options.process_output_retention,
            ..ServiceOptions::new(options.data_dir.clone())
        },
        runtime,
    )
    .await
    .map_err(|e| e.to_string())?;
    let listener =
        listen(options.listen).map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let addr = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    Ok(RunningServer { addr, service, listener, options, keys })
}

impl RunningServer {
    /// The base URL clients use.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A key requests may present (`None` with `--insecure-no-auth`).
    #[must_use]
    pub fn api_key(&self) -> Option<&str> {
        self.keys.keys.first().map(String::as_str)
    }

    /// The file holding the generated key, when the key was generated.
    #[must_use]
    pub fn api_key_file(&self) -> Option<&Path> {
        self.keys.generated_file.as_deref()
    }

    /// Writes the ready file and the discovery file; returns the discovery file's path and the
    /// start banner for stderr.
    fn announce(&self) -> (Option<PathBuf>, String) {
        let url = self.url();
        let auth = !self.keys.keys.is_empty();
        let mut discovery = None;
        if self.options.announce {
            if let Some((path, owner)) = announce::discovery_target() {
                let local = porter_sandbox::discovery::LocalServer {
                    url: url.clone(),
                    api_key: self.api_key().map(str::to_owned),
                    pid: std::process::id(),
                    data_dir: self.options.data_dir.clone(),
                };
                match announce::write_discovery(&path, owner, &local) {
                    Ok(()) => discovery = Some(path),
                    Err(err) => {
                        tracing::warn!("clients will not find this server on their own: {err}");
                    }
                }
            }
        }
        // Last: the ready file tells that everything else is in place.
        if let Some(path) = &self.options.ready_file {
            let ready = announce::ReadyFile {
                url: &url,
                pid: std::process::id(),
                data_dir: &self.options.data_dir,
                api_key_file: self.api_key_file(),
                auth,
            };
            let json = serde_json::to_vec_pretty(&ready).unwrap_or_default();
            if let Err(err) = announce::write_private(path, &json, None) {
                tracing::warn!("{err}");
            }
        }
        let banner = announce::banner(
            &url,
            &self.options.data_dir,
            self.api_key_file(),
            auth,
            discovery.as_deref(),
        );
        (discovery, banner)
    }

    /// Serves until `shutdown` resolves, then lets the requests in flight finish — for at most
    /// [`DRAIN_TIMEOUT`], since an exec may run for ever. `on_ready` receives the URL and the
    /// start banner once the ready and discovery files are written.
    pub async fn serve_with(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        on_ready: impl FnOnce(&str, &str),
    ) -> Result<(), String> {
        let (discovery, banner) = self.announce();
        on_ready(&self.url(), &banner);
        let guard = RequestGuard::new(self.addr, self.options.allowed_hosts.clone());
        let router = http::router_with(self.service.clone(), guard);
        let mut limits = ConnectionLimits::for_this_process();
        limits.header_read_timeout = self.options.idle_timeout;
        if let Some(max) = self.options.max_connections {
            limits.max_connections = max;
        }
        listener::serve(self.listener, router, limits, shutdown, DRAIN_TIMEOUT).await;
        if let Some(path) = &discovery {
            announce::remove_discovery(path);
        }
        if let Some(path) = &self.options.ready_file {
            let _ = std::fs::remove_file(path);
        }
        if self.options.ephemeral {
            if self.service.runtime_is_shared() {
                // The cluster's sandboxes are also other servers': one stopping ends none.
                tracing::warn!("--ephemeral ends no sandbox on a shared (kubernetes) runtime");
            } else {
                self.service.terminate_all().await;
            }
        }
        // A sandbox marked terminated whose teardown is cut short would keep running unseen.
        self.service.wait_teardowns(TEARDOWN_TIMEOUT).await;
        self.service.stop_runtime().await;
        Ok(())
    }

    /// [`RunningServer::serve_with`] without a banner.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        self.serve_with(shutdown, |_, _| {}).await
    }
}

/// Resolves on SIGINT or SIGTERM.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered now, not at the first poll: a signal that arrives while the server announces
    // itself must still stop it cleanly (and remove its discovery file). Needs the runtime.
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async move {
        let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
            match stream {
                Some(mut stream) => {
                    stream.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(interrupt) => {}
            () = wait(terminate) => {}
        }
    }
}
