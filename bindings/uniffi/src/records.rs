//! The wire models as uniffi records (Kotlin data classes), converted to and from the core's
//! `types`. Field names are the core's; Kotlin sees them in camelCase. Optional fields default
//! to `null`, so Kotlin callers name only what they set.

use indexmap::IndexMap;
use porter_sandbox::types;

use crate::{
    enums::{
        LogLineLevel, SandboxDomainSpecVisibility, SnapshotMode, SnapshotStatus,
        StatusResponsePhase, StatusResponseTerminationReason, VolumeFileEntryType,
        VolumeObjectSpecAccess, VolumeObjectSpecMode, VolumePhase, VolumeSpecType, VolumeType,
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
fn map_opt<A, B: From<A>>(value: Option<A>) -> Option<B> {
    value.map(B::from)
}

/// Converts an optional value with `TryFrom`, keeping the binding's error.
fn try_opt<A, B: TryFrom<A, Error = NativeError>>(value: Option<A>) -> Result<Option<B>> {
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
}

impl From<types::StatusResponse> for StatusResponse {
    fn from(s: types::StatusResponse) -> Self {
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
}

impl From<types::ExecResponse> for ExecResponse {
    fn from(r: types::ExecResponse) -> Self {
        Self { stdout: r.stdout, stderr: r.stderr, exit_code: r.exit_code, exec_id: r.exec_id }
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
        Self { timestamp: l.timestamp, line: l.line, level: l.level.into(), exec_id: l.exec_id }
    }
}

/// A volume record.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VolumeRecord {
    /// Volume id.
    pub id: String,
    /// Volume name.
    pub name: String,
    /// Kind of volume.
    pub r#type: VolumeType,
    /// The bucket it exposes; present on object volumes (wire name `object`).
    pub object_spec: Option<VolumeObjectSpec>,
    /// Data subdirectory under the shared sandbox-volumes mount; `""` for object volumes.
    pub path: String,
    /// Lifecycle phase.
    pub phase: VolumePhase,
    /// Ids of the sandboxes it is attached to.
    pub attached_to: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

impl From<types::VolumeRecord> for VolumeRecord {
    fn from(r: types::VolumeRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            r#type: r.r#type.into(),
            object_spec: map_opt(r.object),
            path: r.path,
            phase: r.phase.into(),
            attached_to: r.attached_to,
            created_at: r.created_at,
        }
    }
}

/// What volume to create; every field is optional (an unnamed disk volume).
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct VolumeSpec {
    /// Volume name (a DNS label); defaults to the id.
    #[uniffi(default = None)]
    pub name: Option<String>,
    /// Kind of volume; `null` means disk.
    #[uniffi(default = None)]
    pub r#type: Option<VolumeSpecType>,
    /// The bucket to expose, for object volumes (wire name `object`).
    #[uniffi(default = None)]
    pub object_spec: Option<VolumeObjectSpec>,
}

impl TryFrom<VolumeSpec> for types::VolumeSpec {
    type Error = NativeError;

    fn try_from(s: VolumeSpec) -> Result<Self> {
        Ok(Self { name: s.name, r#type: map_opt(s.r#type), object: try_opt(s.object_spec)? })
    }
}

/// The bucket an object volume exposes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VolumeObjectSpec {
    /// Bucket to expose; must be registered on the cluster.
    pub bucket: String,
    /// Key prefix the volume is limited to, without leading or trailing `/`.
    #[uniffi(default = None)]
    pub prefix: Option<String>,
    /// Access granted; `null` means read-write.
    #[uniffi(default = None)]
    pub access: Option<VolumeObjectSpecAccess>,
    /// How the bucket is mounted; `null` means object semantics.
    #[uniffi(default = None)]
    pub mode: Option<VolumeObjectSpecMode>,
}

impl From<types::VolumeObjectSpec> for VolumeObjectSpec {
    fn from(o: types::VolumeObjectSpec) -> Self {
        Self {
            bucket: o.bucket,
            prefix: o.prefix,
            access: map_opt(o.access),
            mode: map_opt(o.mode),
        }
    }
}

impl TryFrom<VolumeObjectSpec> for types::VolumeObjectSpec {
    type Error = NativeError;

    fn try_from(o: VolumeObjectSpec) -> Result<Self> {
        Ok(Self {
            bucket: o.bucket,
            prefix: o.prefix,
            access: try_opt(o.access)?,
            mode: try_opt(o.mode)?,
        })
    }
}

/// A file or directory of a volume listing, with its full path.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VolumeFile {
    /// Name within its directory.
    pub name: String,
    /// Full `/`-rooted path, e.g. `/models/config.json`.
    pub path: String,
    /// File or directory.
    pub kind: VolumeFileEntryType,
    /// Size in bytes (0 for directories).
    pub size_bytes: i64,
    /// Modification time, RFC 3339 (always on files).
    pub modified_at: Option<String>,
    /// A directory whose contents the listing did not fully read.
    pub truncated: bool,
}

impl From<porter_sandbox::VolumeFile> for VolumeFile {
    fn from(f: porter_sandbox::VolumeFile) -> Self {
        Self {
            name: f.name,
            path: f.path,
            kind: f.kind.into(),
            size_bytes: f.size_bytes,
            modified_at: f.modified_at,
            truncated: f.truncated,
        }
    }
}

#[uniffi::export]
impl VolumeFile {
    /// Whether this entry is a directory.
    pub fn is_directory(&self) -> bool {
        self.kind == VolumeFileEntryType::Directory
    }

    /// Whether this entry is a regular file.
    pub fn is_file(&self) -> bool {
        self.kind == VolumeFileEntryType::File
    }
}

/// A snapshot record.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Snapshot {
    /// Snapshot id.
    pub id: String,
    /// The sandbox it was captured from.
    pub sandbox_id: String,
    /// What was captured.
    pub mode: SnapshotMode,
    /// Capture state.
    pub status: SnapshotStatus,
    /// Capture start, Unix milliseconds.
    pub t_created_unix_ms: Option<i64>,
    /// Capture completion, Unix milliseconds.
    pub t_ready_unix_ms: Option<i64>,
    /// Why the capture failed.
    pub failure_reason: Option<String>,
    /// Total captured size, bytes.
    pub size_bytes: Option<i64>,
}

impl From<types::Snapshot> for Snapshot {
    fn from(s: types::Snapshot) -> Self {
        Self {
            id: s.id,
            sandbox_id: s.sandbox_id,
            mode: s.mode.into(),
            status: s.status.into(),
            t_created_unix_ms: s.t_created_unix_ms,
            t_ready_unix_ms: s.t_ready_unix_ms,
            failure_reason: s.failure_reason,
            size_bytes: s.size_bytes,
        }
    }
}

/// What a snapshot captures; `mode` `null` means the filesystem.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct SnapshotSpec {
    /// What to capture.
    #[uniffi(default = None)]
    pub mode: Option<SnapshotMode>,
}

impl TryFrom<SnapshotSpec> for types::SnapshotSpec {
    type Error = NativeError;

    fn try_from(s: SnapshotSpec) -> Result<Self> {
        Ok(Self { mode: try_opt(s.mode)? })
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
        };
        let json = serde_json::to_string(&types::SandboxSpec::from(spec)).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"image":"host","name":"n","tags":{"z":"1","a":"2"},"command":["sleep","1"],"args":["x"],"env":{"z":"1","a":"2"},"env_groups":["g"],"volume_mounts":{"z":"1","a":"2"},"networking":[{"port":8080,"domains":[{"domain":"d.example","visibility":"private"}]}],"egress":{"allowed_destinations":["1.1.1.1"]},"resources":{"cpu":"500m"},"ttl_seconds":60}"#
        );
    }

    #[test]
    fn unknown_enum_values_are_refused_on_the_way_out() {
        let spec = VolumeSpec {
            object_spec: Some(VolumeObjectSpec {
                bucket: "b".into(),
                prefix: None,
                access: Some(VolumeObjectSpecAccess::Unknown),
                mode: None,
            }),
            ..VolumeSpec::default()
        };
        assert!(matches!(
            types::VolumeSpec::try_from(spec),
            Err(NativeError::InvalidArgument { .. })
        ));
        let ok = types::SnapshotSpec::try_from(SnapshotSpec { mode: Some(SnapshotMode::Full) });
        assert_eq!(ok.ok(), Some(types::SnapshotSpec::full()));
    }
}
