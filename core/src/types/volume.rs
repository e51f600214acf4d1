//! Volume and volume-file schemas (spec/README.md §8 and §9; every field in spec/openapi.json).

use serde::{Deserialize, Serialize};

use super::{
    VolumeFileEntryType, VolumeObjectSpecAccess, VolumeObjectSpecMode, VolumePhase, VolumeSpecType,
    VolumeType,
};

/// A volume record (wire schema `Volume`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema), schemars(rename = "Volume"))]
pub struct VolumeRecord {
    /// Volume id.
    pub id: String,
    /// Volume name.
    pub name: String,
    /// Kind of volume: `disk` or `object` (wire name `type`).
    pub r#type: VolumeType,
    /// The bucket it exposes; present on object volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<VolumeObjectSpec>,
    /// Data subdirectory under the shared sandbox-volumes mount; `""` for object volumes.
    pub path: String,
    /// Lifecycle phase.
    pub phase: VolumePhase,
    /// Ids of the sandboxes it is attached to (`[]` when none).
    pub attached_to: Vec<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// Request body of `POST /v1/volume`; the default sends `{}` (a disk volume).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VolumeSpec {
    /// Volume name (a DNS label); defaults to the id.
    #[cfg_attr(
        feature = "openapi",
        schemars(length(min = 1, max = 63), pattern(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Kind of volume; omitted means `disk` (wire name `type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<VolumeSpecType>,
    /// The bucket to expose; needed for `object` volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<VolumeObjectSpec>,
}

impl VolumeSpec {
    /// A disk volume (`{"type":"disk"}`).
    #[must_use]
    pub fn disk() -> Self {
        Self { r#type: Some(VolumeSpecType::Disk), ..Self::default() }
    }

    /// A volume of the default type (disk) with the given name (`{"name":..}`).
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self::default().name(name)
    }

    /// An object volume exposing a registered bucket.
    #[must_use]
    pub fn object(object: VolumeObjectSpec) -> Self {
        Self { name: None, r#type: Some(VolumeSpecType::Object), object: Some(object) }
    }

    /// Sets the volume name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// The bucket an object volume exposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VolumeObjectSpec {
    /// Bucket to expose; must be registered on the cluster.
    pub bucket: String,
    /// Key prefix the volume is limited to, without leading or trailing `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Access granted; omitted means `read_write`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<VolumeObjectSpecAccess>,
    /// How the bucket is mounted; omitted means `object`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<VolumeObjectSpecMode>,
}

impl VolumeObjectSpec {
    /// Exposes the whole `bucket` with default access and mode.
    #[must_use]
    pub fn new(bucket: impl Into<String>) -> Self {
        Self { bucket: bucket.into(), prefix: None, access: None, mode: None }
    }

    /// Limits the volume to a key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Sets the access granted.
    #[must_use]
    pub fn access(mut self, access: VolumeObjectSpecAccess) -> Self {
        self.access = Some(access);
        self
    }

    /// Sets how the bucket is mounted.
    #[must_use]
    pub fn mode(mut self, mode: VolumeObjectSpecMode) -> Self {
        self.mode = Some(mode);
        self
    }
}

/// Response of `GET /v1/volume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VolumeListResponse {
    /// All volumes in the cluster.
    pub volumes: Vec<VolumeRecord>,
}

/// One entry of a volume file listing; directories nest their children.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VolumeFileEntry {
    /// Name within its parent (never contains a separator).
    pub name: String,
    /// `file` or `directory` (wire name `type`).
    pub r#type: VolumeFileEntryType,
    /// Size in bytes; 0 for directories.
    pub size_bytes: i64,
    /// Modification time (RFC 3339); always on files, maybe absent on directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    /// Set on a directory whose contents were not fully read; never on files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<bool>,
    /// Children (directories first, then files, by name); absent on files and unread directories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<VolumeFileEntry>>,
}

/// Response of `GET /v1/volume/{id}/files`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VolumeFileListResponse {
    /// The directory that was walked, `/`-rooted.
    pub path: String,
    /// Entries directly inside it, with nested children.
    pub entries: Vec<VolumeFileEntry>,
    /// Whether the walk stopped at its budget before reading everything.
    pub truncated: bool,
}

/// Request body of `POST /v1/volume/{id}/files/move`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct VolumeFileMoveRequest {
    /// Path of the entry to move.
    pub from: String,
    /// Full new path; its parent must exist and nothing may be there yet.
    pub to: String,
}

impl VolumeFileMoveRequest {
    /// Moves the entry at `from` to the full path `to`.
    #[must_use]
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Self { from: from.into(), to: to.into() }
    }
}
