//! Sandbox schemas: the create request, status records, listing, counting and lookup
//! (spec/README.md §4 and §5; every field in spec/openapi.json).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::{
    FilterValuesResponsePhases, SandboxDomainSpecVisibility, StatusResponsePhase,
    StatusResponseTerminationReason,
};

/// The request header that makes a `POST /v1/sandbox/run` safe to retry: attempts with the same
/// key and body create one sandbox (kept 24 h by the local server).
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Request body of `POST /v1/sandbox/run`: what to run and how.
///
/// Build one with [`SandboxSpec::new`] (or [`SandboxSpec::from_snapshot`]) and the chained
/// setters, or with a struct literal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxSpec {
    /// Container image to run; `""` when `snapshot_id` is used.
    pub image: String,
    /// Start from this snapshot's filesystem instead of an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Sandbox name (a DNS label); defaults to the id.
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Arbitrary labels for identifying and filtering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<IndexMap<String, String>>,
    /// Overrides the image entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Arguments passed to the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables (name → value); they beat every env group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<IndexMap<String, String>>,
    /// Cluster environment groups to add (a later group beats an earlier one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_groups: Option<Vec<String>>,
    /// Absolute mount path inside the sandbox → volume id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<IndexMap<String, String>>,
    /// Network exposure; at most one entry is currently supported.
    #[cfg_attr(feature = "openapi", schemars(length(max = 1)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networking: Option<Vec<SandboxNetworkingSpec>>,
    /// Outbound allow-list; omitted means unrestricted internet access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<SandboxEgressSpec>,
    /// CPU and memory, as Kubernetes quantities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<SandboxResourcesSpec>,
    /// Maximum lifetime in seconds; omitted means no limit.
    #[cfg_attr(feature = "openapi", schemars(range(min = 1)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    /// Lease in seconds (an extension of the local Porter server): the server terminates the
    /// sandbox (`termination_reason: lease_expired`) when nobody renews the lease
    /// (`POST /v1/sandbox/{id}/lease`) for this long. The client that creates the sandbox
    /// renews it while it lives. Omitted means no lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<i64>,
}

impl SandboxSpec {
    /// A spec that runs `image`, with every optional field unset.
    #[must_use]
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            snapshot_id: None,
            name: None,
            tags: None,
            command: None,
            args: None,
            env: None,
            env_groups: None,
            volume_mounts: None,
            networking: None,
            egress: None,
            resources: None,
            ttl_seconds: None,
            lease_seconds: None,
        }
    }

    /// A spec that starts from a snapshot (`image` is sent as `""`).
    #[must_use]
    pub fn from_snapshot(snapshot_id: impl Into<String>) -> Self {
        Self::new("").snapshot_id(snapshot_id)
    }

    /// Sets the snapshot to start from.
    #[must_use]
    pub fn snapshot_id(mut self, snapshot_id: impl Into<String>) -> Self {
        self.snapshot_id = Some(snapshot_id.into());
        self
    }

    /// Sets the sandbox name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds one tag (keys keep the order they were first added in).
    #[must_use]
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.get_or_insert_with(IndexMap::new).insert(key.into(), value.into());
        self
    }

    /// Adds several tags, in iteration order.
    #[must_use]
    pub fn tags<K, V>(mut self, tags: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.tags
            .get_or_insert_with(IndexMap::new)
            .extend(tags.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets the command (entrypoint override).
    #[must_use]
    pub fn command(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the command arguments.
    #[must_use]
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args = Some(args.into_iter().map(Into::into).collect());
        self
    }

    /// Adds one environment variable.
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.get_or_insert_with(IndexMap::new).insert(name.into(), value.into());
        self
    }

    /// Appends one environment group (later groups win on a key conflict).
    #[must_use]
    pub fn env_group(mut self, group: impl Into<String>) -> Self {
        self.env_groups.get_or_insert_with(Vec::new).push(group.into());
        self
    }

    /// Mounts the volume `volume_id` at the absolute `path`.
    #[must_use]
    pub fn volume_mount(mut self, path: impl Into<String>, volume_id: impl Into<String>) -> Self {
        self.volume_mounts.get_or_insert_with(IndexMap::new).insert(path.into(), volume_id.into());
        self
    }

    /// Appends a networking entry (the server currently accepts only one).
    #[must_use]
    pub fn networking(mut self, networking: SandboxNetworkingSpec) -> Self {
        self.networking.get_or_insert_with(Vec::new).push(networking);
        self
    }

    /// Sets the outbound allow-list.
    #[must_use]
    pub fn egress(mut self, egress: SandboxEgressSpec) -> Self {
        self.egress = Some(egress);
        self
    }

    /// Sets the CPU and memory resources.
    #[must_use]
    pub fn resources(mut self, resources: SandboxResourcesSpec) -> Self {
        self.resources = Some(resources);
        self
    }

    /// Sets the maximum lifetime, in seconds.
    #[must_use]
    pub fn ttl_seconds(mut self, ttl_seconds: i64) -> Self {
        self.ttl_seconds = Some(ttl_seconds);
        self
    }

    /// Sets the lease, in seconds (see [`SandboxSpec::lease_seconds`](Self#structfield.lease_seconds)).
    #[must_use]
    pub fn lease_seconds(mut self, lease_seconds: i64) -> Self {
        self.lease_seconds = Some(lease_seconds);
        self
    }
}

/// Exposure of one workload port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxNetworkingSpec {
    /// Port the workload listens on; ports 1–1023 are rejected.
    #[cfg_attr(feature = "openapi", schemars(range(min = 1024, max = 65535)))]
    pub port: i64,
    /// Hostnames serving the port; at most one entry currently.
    #[cfg_attr(feature = "openapi", schemars(length(max = 1)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<SandboxDomainSpec>>,
    /// Expose the port only within the cluster; cannot be combined with `domains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<bool>,
}

impl SandboxNetworkingSpec {
    /// Exposes `port` with the default hostname and ingress.
    #[must_use]
    pub fn new(port: i64) -> Self {
        Self { port, domains: None, internal: None }
    }
}

/// A hostname at which a sandbox ingress serves the exposed port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxDomainSpec {
    /// Fully qualified hostname one label below the ingress domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Which ingress serves it: `public` or `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<SandboxDomainSpecVisibility>,
}

/// Outbound allow-list of a sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxEgressSpec {
    /// The only destinations the sandbox may reach; `[]` denies all.
    pub allowed_destinations: Vec<String>,
}

impl SandboxEgressSpec {
    /// Allows exactly the given destinations.
    #[must_use]
    pub fn new(allowed_destinations: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self { allowed_destinations: allowed_destinations.into_iter().map(Into::into).collect() }
    }
}

/// CPU and memory of a sandbox, as Kubernetes quantities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxResourcesSpec {
    /// Kubernetes CPU quantity, e.g. `"500m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Kubernetes memory quantity, e.g. `"1Gi"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// Response of `POST /v1/sandbox/run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CreateResponse {
    /// Sandbox id.
    pub id: String,
    /// Sandbox name (the id when none was given).
    pub name: String,
    /// Mounted volumes keyed by mount path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<IndexMap<String, String>>,
}

/// Status record of a sandbox (`GET /v1/sandbox/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct StatusResponse {
    /// Sandbox id.
    pub id: String,
    /// Sandbox name (the id when none was given).
    pub name: String,
    /// Image the sandbox runs.
    pub image: String,
    /// Tags given at create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<IndexMap<String, String>>,
    /// Current phase.
    pub phase: StatusResponsePhase,
    /// Exit code once the workload completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Creation time.
    pub created_at: String,
    /// When the workload container started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When a terminal phase was reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Why the sandbox reached a terminal phase; only on terminal sandboxes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_reason: Option<StatusResponseTerminationReason>,
    /// Public hostname; `""` when none.
    pub host: String,
    /// Cluster-internal `host:port` of the exposed port; empty when no port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_address: Option<String>,
    /// Mount path → volume id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<IndexMap<String, String>>,
    /// Where an interactive exec goes; absent until the sandbox has a pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_target: Option<ExecTarget>,
    /// Extension (ours; the official SDKs lack it): the image that actually runs when it is not
    /// `image` — e.g. `host`, when the local server could not reach the registry and was started
    /// with `--offline-images host`. Absent when the sandbox runs the image it was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_image: Option<String>,
}

/// The pod and container that an interactive exec addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ExecTarget {
    /// Namespace of the sandbox pod.
    pub namespace: String,
    /// Pod name.
    pub pod_name: String,
    /// Container to address (the placeholder container for warm sandboxes).
    pub container_name: String,
}

/// Response of `GET /v1/sandbox`: one page of sandboxes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ListResponse {
    /// Matching sandboxes on this page.
    pub sandboxes: Vec<StatusResponse>,
    /// Paging info.
    pub pagination: Pagination,
    /// Cluster-wide filter options; only with `include_filter_values=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_values: Option<FilterValuesResponse>,
}

/// Paging info of a sandbox listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Pagination {
    /// Current page, 1-based.
    pub current_page: i64,
    /// Number of pages.
    pub total_pages: i64,
    /// Whether more items follow this page.
    pub has_next_page: bool,
}

/// Cluster-wide filter options of a sandbox listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct FilterValuesResponse {
    /// Distinct tags cluster-wide, each `key=value`.
    pub tags: Vec<String>,
    /// Distinct images.
    pub images: Vec<String>,
    /// Supported phases.
    pub phases: Vec<FilterValuesResponsePhases>,
}

/// One bucket of `GET /v1/sandbox/counts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CountPoint {
    /// Start of the bucket.
    pub timestamp: String,
    /// Sandboxes created in the bucket.
    pub count: i64,
}

/// Response of `GET /v1/sandbox/counts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CountResponse {
    /// One point per bucket, oldest first, no gaps.
    pub points: Vec<CountPoint>,
    /// Bucket width in milliseconds.
    pub granularity_ms: i64,
}

/// Response of a name lookup (sandbox or volume).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct LookupResult {
    /// The resolved id.
    pub id: String,
}
