//! Round-trip tests of the wire schemas (`components/schemas` of spec/openapi.json) against
//! JSON fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use porter_sandbox::types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Parses `json` into `T`, serializes it back and checks that nothing changed.
fn roundtrip<T: DeserializeOwned + Serialize>(json: &str) -> T {
    let expected: Value = serde_json::from_str(json).expect("valid JSON");
    let parsed: T = serde_json::from_str(json).expect("parses into the schema type");
    let back = serde_json::to_value(&parsed).expect("serializes");
    assert_eq!(back, expected, "round trip changed the JSON");
    parsed
}

/// Reads `tests/fixtures/types/<name>.json`.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/types")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Round-trips the fixture of `name` as `T`.
fn roundtrip_fixture<T: DeserializeOwned + Serialize>(name: &str) -> T {
    roundtrip::<T>(&fixture(name))
}

/// Round-trips the fixture of `name` as `T`, discarding the value.
fn check<T: DeserializeOwned + Serialize>(name: &str) {
    roundtrip_fixture::<T>(name);
}

/// A schema name and the check of its fixture.
type SchemaCheck = (&'static str, fn(&str));

/// Every wire schema name (spec/openapi.json), with the check of its fixture.
const SCHEMAS: &[SchemaCheck] = &[
    ("CountPoint", check::<CountPoint>),
    ("CountResponse", check::<CountResponse>),
    ("CreateResponse", check::<CreateResponse>),
    ("Error", check::<ErrorBody>),
    ("ExecRequest", check::<ExecRequest>),
    ("ExecResponse", check::<ExecResponse>),
    ("ExecTarget", check::<ExecTarget>),
    ("FilterValuesResponse", check::<FilterValuesResponse>),
    ("HealthResponse", check::<HealthResponse>),
    ("ListResponse", check::<ListResponse>),
    ("LogLine", check::<LogLine>),
    ("LogsResponse", check::<LogsResponse>),
    ("LookupResult", check::<LookupResult>),
    ("MetricSummaryResponse", check::<MetricSummaryResponse>),
    ("Pagination", check::<Pagination>),
    ("ReadinessResponse", check::<ReadinessResponse>),
    ("SandboxDomainSpec", check::<SandboxDomainSpec>),
    ("SandboxEgressSpec", check::<SandboxEgressSpec>),
    ("SandboxMetricsPoint", check::<SandboxMetricsPoint>),
    ("SandboxMetricsResponse", check::<SandboxMetricsResponse>),
    ("SandboxMetricsResult", check::<SandboxMetricsResult>),
    ("SandboxMetricsSeries", check::<SandboxMetricsSeries>),
    ("SandboxNetworkingSpec", check::<SandboxNetworkingSpec>),
    ("SandboxResourcesSpec", check::<SandboxResourcesSpec>),
    ("SandboxSpec", check::<SandboxSpec>),
    ("Snapshot", check::<Snapshot>),
    ("SnapshotListResponse", check::<SnapshotListResponse>),
    ("SnapshotSpec", check::<SnapshotSpec>),
    ("StatusResponse", check::<StatusResponse>),
    ("Volume", check::<VolumeRecord>),
    ("VolumeFileEntry", check::<VolumeFileEntry>),
    ("VolumeFileListResponse", check::<VolumeFileListResponse>),
    ("VolumeFileMoveRequest", check::<VolumeFileMoveRequest>),
    ("VolumeListResponse", check::<VolumeListResponse>),
    ("VolumeObjectSpec", check::<VolumeObjectSpec>),
    ("VolumeSpec", check::<VolumeSpec>),
];

#[test]
fn every_fixture_round_trips() {
    assert_eq!(SCHEMAS.len(), 36, "the protocol has 36 schemas (spec/openapi.json)");
    for (name, check) in SCHEMAS {
        check(name);
    }
}

#[test]
fn fixture_directory_matches_the_schema_list() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/types");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let expected: BTreeSet<String> = SCHEMAS.iter().map(|(n, _)| format!("{n}.json")).collect();
    assert_eq!(on_disk, expected);
}

#[test]
fn fixtures_parse_into_the_expected_values() {
    let status: StatusResponse = roundtrip_fixture("StatusResponse");
    assert_eq!(status.phase, StatusResponsePhase::Terminated);
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::TtlExpired));
    assert_eq!(status.exit_code, Some(137));
    assert_eq!(status.exec_target.unwrap().container_name, "placeholder");
    assert_eq!(status.runs_image.as_deref(), Some("host"), "the extension field is kept");

    let volume: VolumeRecord = roundtrip_fixture("Volume");
    assert_eq!(volume.r#type, VolumeType::Object);
    let object = volume.object.unwrap();
    assert_eq!(object.access, Some(VolumeObjectSpecAccess::ReadOnly));
    assert_eq!(object.mode, Some(VolumeObjectSpecMode::Filesystem));

    let entry: VolumeFileEntry = roundtrip_fixture("VolumeFileEntry");
    let children = entry.entries.unwrap();
    assert_eq!(children.len(), 3);
    assert_eq!(children[0].r#type, VolumeFileEntryType::Directory);
    assert_eq!(children[0].entries, None);
    assert_eq!(children[0].truncated, Some(true));
    assert_eq!(children[1].r#type, VolumeFileEntryType::File);

    let summary: MetricSummaryResponse = roundtrip_fixture("MetricSummaryResponse");
    assert!(summary.has_data);
    assert!((summary.cpu_cores_p50 - 0.125).abs() < f64::EPSILON);
    assert_eq!(summary.mem_limit_bytes, 1_073_741_824);
}

#[test]
fn minimal_objects_round_trip_without_extra_keys() {
    roundtrip::<CreateResponse>(r#"{"id":"sb_123","name":"sb_123"}"#);
    roundtrip::<ExecResponse>(r#"{"stdout":"","stderr":"","exit_code":1}"#);
    roundtrip::<ListResponse>(
        r#"{"sandboxes":[],"pagination":{"current_page":1,"total_pages":1,"has_next_page":false}}"#,
    );
    roundtrip::<SandboxDomainSpec>("{}");
    roundtrip::<SandboxMetricsSeries>(r#"{"time_series":[]}"#);
    roundtrip::<SandboxNetworkingSpec>(r#"{"port":8080}"#);
    roundtrip::<SandboxResourcesSpec>("{}");
    roundtrip::<SandboxSpec>(r#"{"image":"python:3.12"}"#);
    roundtrip::<Snapshot>(r#"{"id":"s","sandbox_id":"sb","mode":"filesystem","status":"pending"}"#);
    roundtrip::<SnapshotSpec>("{}");
    roundtrip::<StatusResponse>(
        r#"{"id":"sb_1","name":"sb_1","image":"alpine","phase":"queued","created_at":"2025-06-01T12:00:00Z","host":""}"#,
    );
    roundtrip::<VolumeRecord>(
        r#"{"id":"v","name":"v","type":"disk","path":"volumes/v","phase":"pending","attached_to":[],"created_at":"2025-06-01T12:00:00Z"}"#,
    );
    roundtrip::<VolumeFileEntry>(r#"{"name":"d","type":"directory","size_bytes":0}"#);
    roundtrip::<VolumeObjectSpec>(r#"{"bucket":"b"}"#);
    roundtrip::<VolumeSpec>("{}");

    // Exact bytes: nothing but the required fields, in declaration order.
    let spec: SandboxSpec = serde_json::from_str(r#"{"image":"alpine"}"#).unwrap();
    assert_eq!(serde_json::to_string(&spec).unwrap(), r#"{"image":"alpine"}"#);
    assert_eq!(
        serde_json::to_string(&SandboxSpec::new("alpine")).unwrap(),
        r#"{"image":"alpine"}"#
    );
    assert_eq!(serde_json::to_string(&VolumeSpec::default()).unwrap(), "{}");
    assert_eq!(serde_json::to_string(&SnapshotSpec::default()).unwrap(), "{}");
}

#[test]
fn unknown_enum_values_are_kept_verbatim() {
    let status: StatusResponse = roundtrip(
        r#"{"id":"sb_1","name":"sb_1","image":"alpine","phase":"hibernating","termination_reason":"evicted","created_at":"2025-06-01T12:00:00Z","host":""}"#,
    );
    assert_eq!(status.phase, StatusResponsePhase::Unknown("hibernating".into()));
    assert_eq!(
        status.termination_reason,
        Some(StatusResponseTerminationReason::Unknown("evicted".into()))
    );

    let line: LogLine = roundtrip(
        r#"{"timestamp":"2025-06-01T12:00:00Z","line":"x","level":"debug","exec_id":""}"#,
    );
    assert_eq!(line.level, LogLineLevel::Unknown("debug".into()));
    assert_eq!(serde_json::to_value(&line).unwrap()["level"], json!("debug"));

    let filters: FilterValuesResponse =
        roundtrip(r#"{"tags":[],"images":[],"phases":["running","paused"]}"#);
    assert_eq!(
        filters.phases,
        vec![
            FilterValuesResponsePhases::Running,
            FilterValuesResponsePhases::Unknown("paused".into())
        ]
    );

    let volume: VolumeRecord = roundtrip(
        r#"{"id":"v","name":"v","type":"block","path":"","phase":"resizing","attached_to":[],"created_at":"2025-06-01T12:00:00Z"}"#,
    );
    assert_eq!(volume.r#type, VolumeType::Unknown("block".into()));
    assert_eq!(volume.phase, VolumePhase::Unknown("resizing".into()));
}

#[test]
fn unknown_fields_are_ignored() {
    let json = r#"{"id":"sb_1","name":"n","image":"alpine","phase":"running","created_at":"t","host":"","gpu":{"count":1},"future_field":[1,2]}"#;
    let status: StatusResponse = serde_json::from_str(json).unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Running);
    let back = serde_json::to_value(&status).unwrap();
    assert!(back.get("gpu").is_none());
    assert!(back.get("future_field").is_none());

    let entry: VolumeFileEntry = serde_json::from_str(
        r#"{"name":"f","type":"file","size_bytes":1,"mode":"0644","entries":[{"name":"x","type":"file","size_bytes":2,"owner":"root"}]}"#,
    )
    .unwrap();
    assert_eq!(entry.entries.unwrap()[0].size_bytes, 2);

    let error: ErrorBody = serde_json::from_str(r#"{"error":"boom","code":"E42"}"#).unwrap();
    assert_eq!(error.error, "boom");
}

#[test]
fn null_optional_fields_read_as_none_and_are_omitted() {
    let status: StatusResponse = serde_json::from_str(
        r#"{"id":"sb_1","name":"n","image":"alpine","phase":"creating","exit_code":null,"created_at":"t","started_at":null,"finished_at":null,"tags":null,"exec_target":null,"host":""}"#,
    )
    .unwrap();
    assert_eq!(status.exit_code, None);
    assert_eq!(status.started_at, None);
    assert_eq!(status.finished_at, None);
    assert_eq!(status.tags, None);
    assert_eq!(status.exec_target, None);
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        json!({"id":"sb_1","name":"n","image":"alpine","phase":"creating","created_at":"t","host":""})
    );

    let spec: SandboxSpec = serde_json::from_str(
        r#"{"image":"alpine","tags":null,"networking":[{"port":8080,"domains":null,"internal":null}],"ttl_seconds":null}"#,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&spec).unwrap(),
        r#"{"image":"alpine","networking":[{"port":8080}]}"#
    );
}

#[test]
fn missing_or_null_required_fields_fail() {
    // `host` is required on StatusResponse.
    assert!(
        serde_json::from_str::<StatusResponse>(
            r#"{"id":"sb_1","name":"n","image":"alpine","phase":"running","created_at":"t"}"#
        )
        .is_err()
    );
    assert!(
        serde_json::from_str::<StatusResponse>(
            r#"{"id":"sb_1","name":"n","image":"alpine","phase":"running","created_at":"t","host":null}"#
        )
        .is_err()
    );
    assert!(serde_json::from_str::<ExecResponse>(r#"{"stdout":"","stderr":""}"#).is_err());
    assert!(serde_json::from_str::<SandboxSpec>(r#"{"name":"x"}"#).is_err());
    assert!(
        serde_json::from_str::<LogLine>(r#"{"timestamp":"t","line":"l","level":"info"}"#).is_err()
    );
    assert!(serde_json::from_str::<VolumeFileMoveRequest>(r#"{"from":"/a"}"#).is_err());
    assert!(serde_json::from_str::<ErrorBody>("{}").is_err());
    // Wrong types fail too.
    assert!(
        serde_json::from_str::<ExecResponse>(r#"{"stdout":"","stderr":"","exit_code":"0"}"#)
            .is_err()
    );
}

#[test]
fn integer_json_numbers_parse_into_float_fields() {
    let point: SandboxMetricsPoint =
        serde_json::from_str(r#"{"timestamp_utc":"t","value":104857600}"#).unwrap();
    assert!((point.value - 104_857_600.0).abs() < f64::EPSILON);
    let summary: MetricSummaryResponse = serde_json::from_str(
        r#"{"window_seconds":180,"has_data":false,"cpu_cores_p50":0,"cpu_cores_p90":0,"cpu_limit_cores":0,"cpu_util_p50_pct":0,"cpu_util_p90_pct":0,"mem_bytes_p50":0,"mem_bytes_p90":0,"mem_limit_bytes":0,"mem_util_p50_pct":0,"mem_util_p90_pct":0}"#,
    )
    .unwrap();
    assert!(!summary.has_data);
}

#[test]
fn sandbox_spec_tag_order_is_preserved() {
    let spec = SandboxSpec::new("alpine")
        .tag("zeta", "1")
        .tag("alpha", "2")
        .tags([("mid", "3"), ("beta", "4")])
        .env("Z_VAR", "z")
        .env("A_VAR", "a");
    assert_eq!(
        serde_json::to_string(&spec).unwrap(),
        r#"{"image":"alpine","tags":{"zeta":"1","alpha":"2","mid":"3","beta":"4"},"env":{"Z_VAR":"z","A_VAR":"a"}}"#
    );

    // Parsed maps keep the input order as well.
    let json = r#"{"image":"alpine","tags":{"z":"1","a":"2","m":"3"}}"#;
    let parsed: SandboxSpec = serde_json::from_str(json).unwrap();
    assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
    let keys: Vec<&str> = parsed.tags.as_ref().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["z", "a", "m"]);
}

#[test]
fn sandbox_spec_builder_matches_the_fixture() {
    let built = SandboxSpec::new("python:3.12-slim")
        .snapshot_id("snap_42")
        .name("build-runner")
        .tag("workflow", "demo")
        .tags([("team", "ml"), ("attempt", "3")])
        .command(["python", "-m", "http.server"])
        .args(["8080", "--bind", "0.0.0.0"])
        .env("LOG_LEVEL", "debug")
        .env("PYTHONUNBUFFERED", "1")
        .env_group("shared-secrets")
        .env_group("ml-overrides")
        .volume_mount("/data", "vol_abc")
        .networking(SandboxNetworkingSpec {
            domains: Some(vec![SandboxDomainSpec {
                domain: Some("build-runner.sandbox.example.com".into()),
                visibility: Some(SandboxDomainSpecVisibility::Public),
            }]),
            ..SandboxNetworkingSpec::new(8080)
        })
        .egress(SandboxEgressSpec::new(["pypi.org", "*.pythonhosted.org"]))
        .resources(SandboxResourcesSpec { cpu: Some("1".into()), memory: Some("2Gi".into()) })
        .ttl_seconds(3600);
    let fixture_spec: SandboxSpec = serde_json::from_str(&fixture("SandboxSpec")).unwrap();
    assert_eq!(built, fixture_spec);
    let expected: Value = serde_json::from_str(&fixture("SandboxSpec")).unwrap();
    assert_eq!(
        serde_json::to_string(&built).unwrap(),
        serde_json::to_string(&expected).unwrap(),
        "same bytes, same key order"
    );
}

#[test]
fn convenience_constructors_serialize_as_documented() {
    assert_eq!(
        serde_json::to_string(&SandboxSpec::from_snapshot("snap_1")).unwrap(),
        r#"{"image":"","snapshot_id":"snap_1"}"#
    );
    assert_eq!(
        serde_json::to_string(&ExecRequest::new(["ls", "-la"])).unwrap(),
        r#"{"command":["ls","-la"]}"#
    );
    assert_eq!(serde_json::to_string(&VolumeSpec::disk()).unwrap(), r#"{"type":"disk"}"#);
    assert_eq!(
        serde_json::to_string(&VolumeSpec::named("scratch")).unwrap(),
        r#"{"name":"scratch"}"#
    );
    assert_eq!(
        serde_json::to_string(
            &VolumeSpec::object(
                VolumeObjectSpec::new("ml-datasets")
                    .prefix("imagenet")
                    .access(VolumeObjectSpecAccess::ReadOnly)
                    .mode(VolumeObjectSpecMode::Filesystem)
            )
            .name("training-data")
        )
        .unwrap(),
        r#"{"name":"training-data","type":"object","object":{"bucket":"ml-datasets","prefix":"imagenet","access":"read_only","mode":"filesystem"}}"#
    );
    assert_eq!(
        serde_json::to_string(&SnapshotSpec::filesystem()).unwrap(),
        r#"{"mode":"filesystem"}"#
    );
    assert_eq!(serde_json::to_string(&SnapshotSpec::full()).unwrap(), r#"{"mode":"full"}"#);
    assert_eq!(
        serde_json::to_string(&SandboxEgressSpec::new(Vec::<String>::new())).unwrap(),
        r#"{"allowed_destinations":[]}"#
    );
}

#[test]
fn volume_file_move_request_uses_from_and_to() {
    let request = VolumeFileMoveRequest::new("/checkpoints/a.pt", "/checkpoints/b.pt");
    assert_eq!(
        serde_json::to_string(&request).unwrap(),
        r#"{"from":"/checkpoints/a.pt","to":"/checkpoints/b.pt"}"#
    );
    let parsed: VolumeFileMoveRequest = serde_json::from_str(r#"{"to":"/b","from":"/a"}"#).unwrap();
    assert_eq!(parsed, VolumeFileMoveRequest::new("/a", "/b"));
}

#[test]
fn metric_summary_uses_wire_percentile_names() {
    let summary: MetricSummaryResponse =
        serde_json::from_str(&fixture("MetricSummaryResponse")).unwrap();
    let value = serde_json::to_value(&summary).unwrap();
    let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "window_seconds",
            "has_data",
            "cpu_cores_p50",
            "cpu_cores_p90",
            "cpu_limit_cores",
            "cpu_util_p50_pct",
            "cpu_util_p90_pct",
            "mem_bytes_p50",
            "mem_bytes_p90",
            "mem_limit_bytes",
            "mem_util_p50_pct",
            "mem_util_p90_pct",
        ]
    );
    // The Python attribute spelling is not a wire name.
    assert!(
        serde_json::from_str::<MetricSummaryResponse>(
            &fixture("MetricSummaryResponse").replace("cpu_cores_p50", "cpu_cores_p_50")
        )
        .is_err()
    );
}

#[test]
fn type_fields_use_the_wire_name_type() {
    let spec = VolumeSpec::disk();
    assert_eq!(serde_json::to_value(&spec).unwrap(), json!({"type": "disk"}));
    let entry: VolumeFileEntry =
        serde_json::from_str(r#"{"name":"f","type":"file","size_bytes":3}"#).unwrap();
    assert_eq!(entry.r#type, VolumeFileEntryType::File);
}
