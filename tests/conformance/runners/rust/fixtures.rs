//! The core's JSON fixtures (`core/tests/fixtures/types/`) through the core types and back.

use std::path::{Path, PathBuf};

use porter_sandbox::types;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::Output;

/// Parses `json` as `T` and serializes it back: the fixture's round trip through the core type.
fn roundtrip<T: DeserializeOwned + Serialize>(json: &Value) -> Result<Value, String> {
    let parsed: T = serde_json::from_value(json.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&parsed).map_err(|e| e.to_string())
}

fn fixture_roundtrip(name: &str, json: &Value) -> Result<Value, String> {
    use types::*;
    match name {
        "CountPoint" => roundtrip::<CountPoint>(json),
        "CountResponse" => roundtrip::<CountResponse>(json),
        "CreateResponse" => roundtrip::<CreateResponse>(json),
        "Error" => roundtrip::<ErrorBody>(json),
        "ExecRequest" => roundtrip::<ExecRequest>(json),
        "ExecResponse" => roundtrip::<ExecResponse>(json),
        "ExecTarget" => roundtrip::<ExecTarget>(json),
        "FilterValuesResponse" => roundtrip::<FilterValuesResponse>(json),
        "HealthResponse" => roundtrip::<HealthResponse>(json),
        "ListResponse" => roundtrip::<ListResponse>(json),
        "LogLine" => roundtrip::<LogLine>(json),
        "LogsResponse" => roundtrip::<LogsResponse>(json),
        "LookupResult" => roundtrip::<LookupResult>(json),
        "MetricSummaryResponse" => roundtrip::<MetricSummaryResponse>(json),
        "Pagination" => roundtrip::<Pagination>(json),
        "ReadinessResponse" => roundtrip::<ReadinessResponse>(json),
        "SandboxDomainSpec" => roundtrip::<SandboxDomainSpec>(json),
        "SandboxEgressSpec" => roundtrip::<SandboxEgressSpec>(json),
        "SandboxMetricsPoint" => roundtrip::<SandboxMetricsPoint>(json),
        "SandboxMetricsResponse" => roundtrip::<SandboxMetricsResponse>(json),
        "SandboxMetricsResult" => roundtrip::<SandboxMetricsResult>(json),
        "SandboxMetricsSeries" => roundtrip::<SandboxMetricsSeries>(json),
        "SandboxNetworkingSpec" => roundtrip::<SandboxNetworkingSpec>(json),
        "SandboxResourcesSpec" => roundtrip::<SandboxResourcesSpec>(json),
        "SandboxSpec" => roundtrip::<SandboxSpec>(json),
        "Snapshot" => roundtrip::<Snapshot>(json),
        "SnapshotListResponse" => roundtrip::<SnapshotListResponse>(json),
        "SnapshotSpec" => roundtrip::<SnapshotSpec>(json),
        "StatusResponse" => roundtrip::<StatusResponse>(json),
        "Volume" => roundtrip::<VolumeRecord>(json),
        "VolumeFileEntry" => roundtrip::<VolumeFileEntry>(json),
        "VolumeFileListResponse" => roundtrip::<VolumeFileListResponse>(json),
        "VolumeFileMoveRequest" => roundtrip::<VolumeFileMoveRequest>(json),
        "VolumeListResponse" => roundtrip::<VolumeListResponse>(json),
        "VolumeObjectSpec" => roundtrip::<VolumeObjectSpec>(json),
        "VolumeSpec" => roundtrip::<VolumeSpec>(json),
        other => Err(format!("no core type is mapped to the fixture {other}")),
    }
}

pub(crate) fn fixtures(dir: &Path, out: &mut Output) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    for path in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let outcome = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()))
            .and_then(|json| {
                let back = fixture_roundtrip(name, &json)?;
                if back == json { Ok(()) } else { Err(format!("round trip gave {back}")) }
            });
        let detail = outcome.as_ref().err().cloned().unwrap_or_default();
        out.emit(
            &json!({"type": "fixture", "name": name, "ok": outcome.is_ok(), "detail": detail}),
        );
    }
}
