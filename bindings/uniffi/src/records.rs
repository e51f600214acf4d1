//! The wire models as uniffi records (Kotlin data classes), converted to and from the core's
//! `types`: the ordered string map, health, and the sandbox records here; volumes, files and
//! snapshots in `volume_records`. Field names are the core's; Kotlin sees them in camelCase.
//! Optional fields default to `null`, so Kotlin callers name only what they set.

use indexmap::IndexMap;
use porter_sandbox::types;

use crate::{
    enums::{
        LogLineLevel, SandboxDomainSpecVisibility, StatusResponsePhase,
        StatusResponseTerminationReason,
    },
    errors::{NativeError, Result},
};

/// A string map that keeps its key order (tags, environment, volume mounts). Kotlin sees a
/// `Map<String, String>`; it crosses the boundary as a list of [`KeyValue`]s because uniffi's
/// own maps are unordered on the Rust side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StringMap(pub IndexMap<String, String>);

/// One entry of a [`StringMap`] on its way across the boundary.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

uniffi::custom_type!(StringMap, Vec<KeyValue>, {
    lower: |map| map.0.into_iter().map(|(key, value)| KeyValue { key, value }).collect(),
    try_lift: |entries| Ok(StringMap(entries.into_iter().map(|e| (e.key, e.value)).collect())),
});

impl From<IndexMap<String, String>> for StringMap {
    fn from(map: IndexMap<String, String>) -> Self {
        Self(map)
    }
}

/// Converts an optional wire value with `From`.
pub(crate) fn map_opt<A, B: From<A>>(value: Option<A>) -> Option<B> {
    value.map(B::from)
}

/// Converts an optional value with `TryFrom`, keeping the binding's error.
pub(crate) fn try_opt<A, B: TryFrom<A, Error = NativeError>>(
    value: Option<A>,
) -> Result<Option<B>> {
    value.map(B::try_from).transpose()
}

/// Response of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct HealthResponse {
    /// Health status of the service.
    pub status: String,
}

impl From<types::HealthResponse> for HealthResponse {
    fn from(r: types::HealthResponse) -> Self {
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::HealthResponse { status: _ } = &r;
        Self { status: r.status }
    }
}

/// Response of `GET /readyz`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ReadinessResponse {
    /// Readiness status of the service.
    pub status: String,
    /// Number of active sandboxes.
    pub active_sandboxes: i64,
}

impl From<types::ReadinessResponse> for ReadinessResponse {
    fn from(r: types::ReadinessResponse) -> Self {
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::ReadinessResponse { status: _, active_sandboxes: _ } = &r;
        Self { status: r.status, active_sandboxes: r.active_sandboxes }
    }
}

/// What to run and how (`POST /v1/sandbox/run`). Only `image` is required.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SandboxSpec {
    /// Container image to run (`"host"` on the local server); `""` when starting from a snapshot.
    pub image: String,
    /// Start from this snapshot's filesystem instead of an image.
    #[uniffi(default = None)]
    pub snapshot_id: Option<String>,
    /// Sandbox name (a DNS label); defaults to the id.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// Labels for identifying and filtering.
    #[uniffi(default = None)]
    pub tags: Option<StringMap>,
    /// Overrides the image entrypoint.
    #[uniffi(default = None)]
    pub command: Option<Vec<String>>,
    /// Arguments passed to the command.
    #[uniffi(default = None)]
    pub args: Option<Vec<String>>,
    /// Environment variables (name → value); they beat every env group.
    #[uniffi(default = None)]
    pub env: Option<StringMap>,
    /// Cluster environment groups to add (a later group beats an earlier one).
    #[uniffi(default = None)]
    pub env_groups: Option<Vec<String>>,
    /// Absolute mount path inside the sandbox → volume id.
    #[uniffi(default = None)]
    pub volume_mounts: Option<StringMap>,
    /// Network exposure; at most one entry is currently supported.
    #[uniffi(default = None)]
    pub networking: Option<Vec<SandboxNetworkingSpec>>,
    /// Outbound allow-list; `null` means unrestricted internet access.
    #[uniffi(default = None)]
    pub egress: Option<SandboxEgressSpec>,
    /// CPU and memory, as Kubernetes quantities.
    #[uniffi(default = None)]
    pub resources: Option<SandboxResourcesSpec>,
    /// Maximum lifetime in seconds; `null` means no limit.
    #[uniffi(default = None)]
    pub ttl_seconds: Option<i64>,
    /// Lease in seconds (an extension of the local Porter server): the server terminates the
    /// sandbox (`LEASE_EXPIRED`) when nobody renews it for this long; the client that created
    /// it renews it in the background while it lives. `null` means no lease.
    #[uniffi(default = None)]
    pub lease_seconds: Option<i64>,
}

impl From<SandboxSpec> for types::SandboxSpec {
    fn from(s: SandboxSpec) -> Self {
        Self {
            image: s.image,
            snapshot_id: s.snapshot_id,
            name: s.name,
            tags: s.tags.map(|m| m.0),
            command: s.command,
            args: s.args,
            env: s.env.map(|m| m.0),
            env_groups: s.env_groups,
            volume_mounts: s.volume_mounts.map(|m| m.0),
            networking: s.networking.map(|n| n.into_iter().map(Into::into).collect()),
            egress: s.egress.map(|e| types::SandboxEgressSpec::new(e.allowed_destinations)),
            resources: s
                .resources
                .map(|r| types::SandboxResourcesSpec { cpu: r.cpu, memory: r.memory }),
            ttl_seconds: s.ttl_seconds,
            lease_seconds: s.lease_seconds,
        }
    }
}

/// Exposure of one workload port.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SandboxNetworkingSpec {
    /// Port the workload listens on; ports 1–1023 are rejected.
    pub port: i64,
    /// Hostnames serving the port; at most one entry currently.
    #[uniffi(default = None)]
    pub domains: Option<Vec<SandboxDomainSpec>>,
    /// Expose the port only within the cluster; cannot be combined with `domains`.
    #[uniffi(default = None)]
    pub internal: Option<bool>,
}

impl From<SandboxNetworkingSpec> for types::SandboxNetworkingSpec {
    fn from(n: SandboxNetworkingSpec) -> Self {
        let domains = n.domains.map(|d| {
            d.into_iter()
                .map(|d| types::SandboxDomainSpec {
                    domain: d.domain,
                    visibility: d.visibility.map(Into::into),
                })
                .collect()
        });
        Self { port: n.port, domains, internal: n.internal }
    }
}

/// A hostname at which a sandbox ingress serves the exposed port.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SandboxDomainSpec {
    /// Fully qualified hostname one label below the ingress domain.
    #[uniffi(default = None)]
    pub domain: Option<String>,
    /// Which ingress serves it.
    #[uniffi(default = None)]
    pub visibility: Option<SandboxDomainSpecVisibility>,
}

/// Outbound allow-list of a sandbox.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SandboxEgressSpec {
    /// The only destinations the sandbox may reach; empty denies all.
    pub allowed_destinations: Vec<String>,
}

/// CPU and memory of a sandbox, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SandboxResourcesSpec {
    /// Kubernetes CPU quantity, e.g. `"500m"`.
    #[uniffi(default = None)]
    pub cpu: Option<String>,
    /// Kubernetes memory quantity, e.g. `"1Gi"`.
    #[uniffi(default = None)]
    pub memory: Option<String>,
}

/// The status record of a sandbox.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StatusResponse {
    /// Sandbox id.
    pub id: String,
    /// Sandbox name (the id when none was given).
    pub name: String,
    /// Image the sandbox runs.
    pub image: String,
    /// Tags given at create.
    pub tags: Option<StringMap>,
    /// Current phase.
    pub phase: StatusResponsePhase,
    /// Exit code once the workload completed.
    pub exit_code: Option<i64>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// When the workload container started.
    pub started_at: Option<String>,
    /// When a terminal phase was reached.
    pub finished_at: Option<String>,
    /// Why the sandbox reached a terminal phase; only on terminal sandboxes.
    pub termination_reason: Option<StatusResponseTerminationReason>,
    /// Public hostname; `""` when none.
    pub host: String,
    /// Cluster-internal `host:port` of the exposed port.
    pub internal_address: Option<String>,
    /// Mount path → volume id.
    pub volume_mounts: Option<StringMap>,
    /// Where an interactive exec goes; absent until the sandbox has a pod.
    pub exec_target: Option<ExecTarget>,
    /// Extension of the local server: the image that actually runs when it differs from
    /// `image` (the server substituted `host` for an unreachable registry image).
    #[uniffi(default = None)]
    pub runs_image: Option<String>,
}

impl From<types::StatusResponse> for StatusResponse {
    fn from(s: types::StatusResponse) -> Self {
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::StatusResponse {
            id: _,
            name: _,
            image: _,
            tags: _,
            phase: _,
            exit_code: _,
            created_at: _,
            started_at: _,
            finished_at: _,
            termination_reason: _,
            host: _,
            internal_address: _,
            volume_mounts: _,
            exec_target: _,
            runs_image: _,
        } = &s;
        Self {
            id: s.id,
            name: s.name,
            image: s.image,
            tags: map_opt(s.tags),
            phase: s.phase.into(),
            exit_code: s.exit_code,
            created_at: s.created_at,
            started_at: s.started_at,
            finished_at: s.finished_at,
            termination_reason: map_opt(s.termination_reason),
            host: s.host,
            internal_address: s.internal_address,
            volume_mounts: map_opt(s.volume_mounts),
            exec_target: s.exec_target.map(|t| ExecTarget {
                namespace: t.namespace,
                pod_name: t.pod_name,
                container_name: t.container_name,
            }),
            runs_image: s.runs_image,
        }
    }
}

/// The pod and container that an interactive exec addresses.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExecTarget {
    /// Namespace of the sandbox pod.
    pub namespace: String,
    /// Pod name.
    pub pod_name: String,
    /// Container to address.
    pub container_name: String,
}

/// The result of an exec; a non-zero `exit_code` is a normal result.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExecResponse {
    /// Captured standard output.
    pub stdout: String,
    /// Captured standard error.
    pub stderr: String,
    /// Exit status (128 + signal when killed by a signal).
    pub exit_code: i64,
    /// Id stamped on the log lines this exec produced.
    pub exec_id: Option<String>,
    /// Whether the exec's deadline killed it (exit code 124); `false` when the server did not
    /// say.
    pub timed_out: bool,
}

impl From<types::ExecResponse> for ExecResponse {
    fn from(r: types::ExecResponse) -> Self {
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::ExecResponse {
            stdout: _,
            stderr: _,
            exit_code: _,
            exec_id: _,
            truncated: _,
            timed_out: _,
        } = &r;
        Self {
            stdout: r.stdout,
            stderr: r.stderr,
            exit_code: r.exit_code,
            exec_id: r.exec_id,
            timed_out: r.timed_out.unwrap_or(false),
        }
    }
}

/// One log line of a sandbox.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LogLine {
    /// Emission time (RFC 3339).
    pub timestamp: String,
    /// Content.
    pub line: String,
    /// Severity.
    pub level: LogLineLevel,
    /// Id of the exec that produced the line; `""` for the workload's own output.
    pub exec_id: String,
}

impl From<types::LogLine> for LogLine {
    fn from(l: types::LogLine) -> Self {
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::LogLine { timestamp: _, line: _, level: _, exec_id: _ } = &l;
        Self { timestamp: l.timestamp, line: l.line, level: l.level.into(), exec_id: l.exec_id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_spec_keeps_every_field_and_the_map_order() {
        let tags: IndexMap<String, String> =
            [("z", "1"), ("a", "2")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
        let spec = SandboxSpec {
            image: "host".into(),
            snapshot_id: None,
            name: Some("n".into()),
            tags: Some(tags.clone().into()),
            command: Some(vec!["sleep".into(), "1".into()]),
            args: Some(vec!["x".into()]),
            env: Some(tags.clone().into()),
            env_groups: Some(vec!["g".into()]),
            volume_mounts: Some(tags.into()),
            networking: Some(vec![SandboxNetworkingSpec {
                port: 8080,
                domains: Some(vec![SandboxDomainSpec {
                    domain: Some("d.example".into()),
                    visibility: Some(SandboxDomainSpecVisibility::Private),
                }]),
                internal: None,
            }]),
            egress: Some(SandboxEgressSpec { allowed_destinations: vec!["1.1.1.1".into()] }),
            resources: Some(SandboxResourcesSpec { cpu: Some("500m".into()), memory: None }),
            ttl_seconds: Some(60),
            lease_seconds: Some(30),
        };
        let json = serde_json::to_string(&types::SandboxSpec::from(spec)).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"image":"host","name":"n","tags":{"z":"1","a":"2"},"command":["sleep","1"],"args":["x"],"env":{"z":"1","a":"2"},"env_groups":["g"],"volume_mounts":{"z":"1","a":"2"},"networking":[{"port":8080,"domains":[{"domain":"d.example","visibility":"private"}]}],"egress":{"allowed_destinations":["1.1.1.1"]},"resources":{"cpu":"500m"},"ttl_seconds":60,"lease_seconds":30}"#
        );
    }
}
