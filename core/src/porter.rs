//! [`Porter`], the entry point: configuration, the shared transport, and the namespaces.

use std::{sync::Arc, time::Duration};

use crate::{
    Result,
    api::RawClient,
    config::{ArgNames, Config, ConfigOptions},
    lease::LeaseKeeper,
    sandbox::Sandboxes,
    snapshot::Snapshots,
    transport::{Transport, TransportOptions, retry::DEFAULT_MAX_RETRIES},
    types::{HealthResponse, ReadinessResponse},
    volume::Volumes,
};

/// The Porter Sandbox client. Cheap to clone; clones share one connection pool.
///
/// ```no_run
/// # async fn demo() -> porter_sandbox::Result<()> {
/// use porter_sandbox::{Porter, types::SandboxSpec};
///
/// let porter = Porter::builder().base_url("http://127.0.0.1:8080").build()?;
/// let sandbox = porter.sandboxes().create(SandboxSpec::new("host").name("demo")).await?;
/// let out = sandbox.exec(["python3", "-c", "print(1 + 1)"]).await?;
/// assert_eq!(out.stdout, "2\n");
/// sandbox.terminate().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Porter {
    raw: RawClient,
    transport: Arc<Transport>,
    /// The leases of the sandboxes this client created, renewed while a clone lives.
    leases: Arc<LeaseKeeper>,
}

impl Porter {
    /// A client configured from the environment alone (see [`Config::resolve`]).
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// A builder for explicit settings; anything left unset comes from the environment.
    pub fn builder() -> PorterBuilder {
        PorterBuilder::default()
    }

    /// A client for an already resolved configuration.
    pub fn from_config(config: &Config) -> Result<Self> {
        Self::with_options(config, default_transport_options())
    }

    fn with_options(config: &Config, options: TransportOptions) -> Result<Self> {
        let transport = Transport::new(config, options)?;
        let raw = RawClient::new(transport.clone());
        let leases = LeaseKeeper::new(raw.sandboxes());
        Ok(Self { raw, transport, leases })
    }

    /// Sandboxes: create, get by name, list.
    #[must_use]
    pub fn sandboxes(&self) -> Sandboxes {
        Sandboxes::new(self.raw.sandboxes(), self.leases.clone())
    }

    /// Volumes: create, list, get and delete by name.
    #[must_use]
    pub fn volumes(&self) -> Volumes {
        Volumes::new(self.raw.volumes())
    }

    /// Snapshots: create, list, get, delete.
    #[must_use]
    pub fn snapshots(&self) -> Snapshots {
        Snapshots::new(self.raw.snapshots())
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<HealthResponse> {
        self.raw.healthz().health_check().await
    }

    /// `GET /readyz`.
    pub async fn readyz(&self) -> Result<ReadinessResponse> {
        self.raw.readyz().readiness_check().await
    }

    /// The low-level client: one method per endpoint.
    #[must_use]
    pub fn raw(&self) -> &RawClient {
        &self.raw
    }

    /// The base URL in use.
    #[must_use]
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// The default per-call timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.transport.timeout()
    }

    /// The ids of the sandboxes whose leases this client renews in the background.
    #[must_use]
    pub fn leased_sandboxes(&self) -> Vec<String> {
        self.leases.tracked()
    }

    /// Releases the connection pool and stops renewing leases. Calls made afterwards (on any
    /// clone) fail with an [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// error.
    pub fn close(&self) {
        self.transport.close();
    }

    /// Whether [`Porter::close`] was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.transport.is_closed()
    }
}

fn default_transport_options() -> TransportOptions {
    TransportOptions {
        max_retries: DEFAULT_MAX_RETRIES,
        user_agent: format!("porter-sandbox-rust/{}", env!("CARGO_PKG_VERSION")),
    }
}

/// Explicit settings for a [`Porter`]. Unset settings are resolved from the environment exactly
/// as every Porter SDK does (explicit, `PORTER_SANDBOX_BASE_URL`, `PORTER_CLUSTER_ID` + API key,
/// in-cluster).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct PorterBuilder {
    options: ConfigOptions,
    max_retries: Option<u32>,
    user_agent: Option<String>,
}

impl PorterBuilder {
    /// The API key, sent as `Authorization: Bearer <key>`.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.options.api_key = Some(api_key.into());
        self
    }

    /// The API base URL (trailing slashes are removed).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.options.base_url = Some(base_url.into());
        self
    }

    /// The default per-call timeout (30 s unless set). Exec and file transfers have none.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Retries after a 429, a 5xx or a network error (3 unless set; exec is never retried).
    pub fn max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = Some(max_retries);
        self
    }

    /// Identifies the calling SDK as `porter-sandbox-<language>/<version>` in the User-Agent.
    pub fn user_agent(mut self, language: &str, version: &str) -> Self {
        self.user_agent = Some(format!("porter-sandbox-{language}/{version}"));
        self
    }

    /// How configuration errors name the explicit options (`api_key` or `apiKey`).
    pub fn arg_names(mut self, names: ArgNames) -> Self {
        self.options.arg_names = names;
        self
    }

    /// Resolves the configuration and builds the client.
    pub fn build(self) -> Result<Porter> {
        let config = Config::resolve(self.options.clone())?;
        self.build_with_config(&config)
    }

    /// Builds the client for `config`, keeping this builder's retry and User-Agent settings.
    pub fn build_with_config(self, config: &Config) -> Result<Porter> {
        let mut options = default_transport_options();
        if let Some(max_retries) = self.max_retries {
            options.max_retries = max_retries;
        }
        if let Some(user_agent) = self.user_agent {
            options.user_agent = user_agent;
        }
        Porter::with_options(config, options)
    }
}
