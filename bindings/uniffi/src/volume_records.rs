//! The volume, volume-file and snapshot records (Kotlin data classes), converted to and from the
//! core's `types` (see `records` for the conventions).

use porter_sandbox::types;

use crate::{
    enums::{
        SnapshotMode, SnapshotStatus, VolumeFileEntryType, VolumeObjectSpecAccess,
        VolumeObjectSpecMode, VolumePhase, VolumeSpecType, VolumeType,
    },
    errors::{NativeError, Result},
    records::{map_opt, try_opt},
};

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
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::VolumeRecord {
            id: _,
            name: _,
            r#type: _,
            object: _,
            path: _,
            phase: _,
            attached_to: _,
            created_at: _,
        } = &r;
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
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::VolumeObjectSpec { bucket: _, prefix: _, access: _, mode: _ } = &o;
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
        // Every field named: a new core field is a compile error here, not a silent gap.
        let types::Snapshot {
            id: _,
            sandbox_id: _,
            mode: _,
            status: _,
            t_created_unix_ms: _,
            t_ready_unix_ms: _,
            failure_reason: _,
            size_bytes: _,
        } = &s;
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
