//! Snapshot schemas (spec/README.md §7; every field in spec/openapi.json).

use serde::{Deserialize, Serialize};

use super::{SnapshotMode, SnapshotStatus};

/// A snapshot record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Snapshot {
    /// Snapshot id.
    pub id: String,
    /// The sandbox it was captured from.
    pub sandbox_id: String,
    /// What was captured.
    pub mode: SnapshotMode,
    /// Capture state: `pending`, `ready` or `failed`.
    pub status: SnapshotStatus,
    /// Capture start, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_created_unix_ms: Option<i64>,
    /// Capture completion, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_ready_unix_ms: Option<i64>,
    /// Why the capture failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// Total captured size, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
}

/// Request body of `POST /v1/sandbox/{id}/snapshot`; the default sends `{}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SnapshotSpec {
    /// What to capture; omitted means `filesystem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<SnapshotMode>,
}

impl SnapshotSpec {
    /// Captures the filesystem (`{"mode":"filesystem"}`).
    #[must_use]
    pub fn filesystem() -> Self {
        Self { mode: Some(SnapshotMode::Filesystem) }
    }

    /// Captures filesystem and process state (`{"mode":"full"}`).
    #[must_use]
    pub fn full() -> Self {
        Self { mode: Some(SnapshotMode::Full) }
    }
}

/// Response of `GET /v1/snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SnapshotListResponse {
    /// Snapshots, most recent first.
    pub snapshots: Vec<Snapshot>,
}
