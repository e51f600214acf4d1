//! The route table of the OpenAPI document, part 1: health, sandboxes and snapshots. Every
//! operation that `http::router` serves is listed with its parameters, body and every status code
//! it answers; the test `every_documented_operation_reaches_a_handler` (cli/tests/api_openapi.rs)
//! checks that each one reaches a handler.

use porter_sandbox::types::{
    CountResponse, CreateResponse, ExecRequest, ExecResponse, HealthResponse, ListResponse,
    LogsResponse, LookupResult, MetricSummaryResponse, ReadinessResponse, SandboxMetric,
    SandboxMetricsResponse, SandboxSpec, SandboxesPhase, SandboxesSource, Snapshot,
    SnapshotListResponse, SnapshotSpec, StatusResponse,
};
use schemars::SchemaGenerator;
use serde_json::json;

use super::builder::{Op, Operation, nonempty, op, schema, string, time};

const TIME: &str = "An RFC 3339 time (`2026-01-02T15:04:05Z`) or a duration back from now \
                    (`10m`, `24h`).";

/// Health, readiness and this document.
pub fn health(g: &mut SchemaGenerator) -> Vec<Operation> {
    vec![
        op("get", "/healthz", "healthCheck", "health", "The process is up")
            .open()
            .ok(200, "Up.", schema::<HealthResponse>(g))
            .build(),
        op("get", "/openapi.json", "openapiDocument", "health", "This OpenAPI document")
            .open()
            .extension()
            .ok(200, "The OpenAPI 3.1 document of this server.", json!({"type": "object"}))
            .build(),
        op("get", "/readyz", "readinessCheck", "health", "The runtime can start sandboxes")
            .ok(200, "Ready, with the number of active sandboxes.", schema::<ReadinessResponse>(g))
            .errors(&[503])
            .build(),
    ]
}

/// The filters shared by the sandbox listing and counts.
fn sandbox_filters(op: Op, g: &mut SchemaGenerator) -> Op {
    let phase = schema::<SandboxesPhase>(g);
    op.query("start_time", false, time(), &format!("Created at or after. {TIME}"))
        .query("end_time", false, time(), &format!("Created before. {TIME}"))
        .query("search", false, json!({"type": "string", "maxLength": 63}), "Name prefix.")
        .query(
            "tag",
            false,
            json!({"type": "array", "maxItems": 32, "items": {"type": "string", "pattern": "="}}),
            "Exact tag `key=value`, repeatable (every tag must match).",
        )
        .query(
            "phase",
            false,
            json!({"type": "array", "items": phase}),
            "Phase, repeatable (any may match). `SandboxesPhase.RUNNING` is read as `running`.",
        )
        .query("image", false, string(), "Exact image reference.")
        .errors(&[400])
}

/// Listing, counting, lookup, create, status and terminate.
pub fn sandboxes(g: &mut SchemaGenerator) -> Vec<Operation> {
    let list = sandbox_filters(
        op("get", "/v1/sandbox", "listSandboxes", "sandboxes", "List sandboxes"),
        g,
    )
    .query(
        "include_filter_values",
        false,
        json!({"type": "boolean"}),
        "Add `filter_values` (every tag, image and phase).",
    )
    .query(
        "page",
        false,
        json!({"type": "integer", "minimum": 1, "maximum": 1_000_000_000}),
        "1-based page number.",
    )
    .ok(200, "One page of sandboxes, newest first.", schema::<ListResponse>(g))
    .build();
    let counts = sandbox_filters(
        op("get", "/v1/sandbox/counts", "sandboxCounts", "sandboxes", "Count sandboxes"),
        g,
    )
    .ok(200, "Sandboxes created per bucket, oldest first, no gaps.", schema::<CountResponse>(g))
    .build();
    let status = schema::<StatusResponse>(g);
    vec![
        list,
        counts,
        op("post", "/v1/sandbox/run", "createSandbox", "sandboxes", "Create a sandbox")
            .describe("Answers once the sandbox is queued; poll its status for `running`.")
            .header(
                "Idempotency-Key",
                "Our extension: a key (1–255 visible ASCII characters) that makes the create \
                 safe to retry — a repeat within 24 h gets the first response \
                 (`Idempotent-Replayed: true`), the same key with another body a 422.",
            )
            .json_body(schema::<SandboxSpec>(g))
            .ok(202, "Queued.", schema::<CreateResponse>(g))
            .links(
                202,
                &[
                    "getSandbox",
                    "deleteSandbox",
                    "getSandboxLogs",
                    "execSandbox",
                    "getSandboxMetricsSummary",
                    "createSnapshot",
                ],
            )
            .errors(&[404, 409, 422, 507])
            .build(),
        op("get", "/v1/sandbox/lookup", "lookupSandbox", "sandboxes", "Resolve a sandbox name")
            .query("name", true, nonempty(), "The sandbox name.")
            .ok(200, "The sandbox id.", schema::<LookupResult>(g))
            .errors(&[400, 404])
            .build(),
        op("get", "/v1/sandbox/{id}", "getSandbox", "sandboxes", "Sandbox status")
            .ok(200, "The status record, in any phase.", status)
            .build(),
        op("delete", "/v1/sandbox/{id}", "deleteSandbox", "sandboxes", "Terminate a sandbox")
            .describe("Idempotent; the record and logs stay readable.")
            .query(
                "source",
                false,
                schema::<SandboxesSource>(g),
                "Who terminates it, for `termination_reason`; omitted means `sdk` (also \
                 accepted, as a porter-sandbox extension).",
            )
            .no_content("Terminated (or already terminal).")
            .errors(&[400])
            .build(),
    ]
}

/// Logs, exec and metrics of one sandbox.
pub fn sandbox_activity(g: &mut SchemaGenerator) -> Vec<Operation> {
    vec![
        op("get", "/v1/sandbox/{id}/logs", "getSandboxLogs", "sandboxes", "Sandbox logs")
            .query(
                "limit",
                false,
                json!({"type": "integer", "minimum": 1, "maximum": i64::MAX}),
                "At most this many (larger values read as the server's maximum).",
            )
            .query("since", false, time(), &format!("Lines emitted at or after. {TIME}"))
            .ok(200, "The log lines, oldest first.", schema::<LogsResponse>(g))
            .errors(&[400])
            .build(),
        op("post", "/v1/sandbox/{id}/exec", "execSandbox", "sandboxes", "Run a command")
            .describe("Held open until the command ends; a non-zero exit code is a 200.")
            .json_body(schema::<ExecRequest>(g))
            .ok(200, "The command ended.", schema::<ExecResponse>(g))
            .errors(&[409])
            .build(),
        op("post", "/v1/sandbox/{id}/lease", "renewSandboxLease", "sandboxes", "Renew a lease")
            .extension()
            .describe(
                "Restarts the lease of a sandbox created with `lease_seconds`; a sandbox whose \
                 lease runs out is terminated with `lease_expired`.",
            )
            .no_content("Renewed.")
            .errors(&[409])
            .build(),
        op(
            "get",
            "/v1/sandbox/{id}/metrics-summary",
            "getSandboxMetricsSummary",
            "sandboxes",
            "Usage summary",
        )
        .query("since", false, time(), &format!("Start of the window. {TIME}"))
        .ok(200, "p50/p90 CPU and memory.", schema::<MetricSummaryResponse>(g))
        .errors(&[400])
        .build(),
        op("get", "/v1/sandbox/{id}/metrics", "getSandboxMetrics", "sandboxes", "One metric")
            .query("metric", true, schema::<SandboxMetric>(g), "The series.")
            .query("start_time_utc", true, time(), &format!("Start. {TIME}"))
            .query("end_time_utc", true, time(), &format!("End. {TIME}"))
            .ok(200, "Exactly one result.", schema::<SandboxMetricsResponse>(g))
            .errors(&[400])
            .build(),
    ]
}

/// Capture, list, get and delete snapshots.
pub fn snapshots(g: &mut SchemaGenerator) -> Vec<Operation> {
    let snapshot = schema::<Snapshot>(g);
    vec![
        op("post", "/v1/sandbox/{id}/snapshot", "createSnapshot", "snapshots", "Capture")
            .describe("Answers at once; poll the snapshot until `ready` or `failed`.")
            .json_body(schema::<SnapshotSpec>(g))
            .ok(202, "The pending snapshot.", snapshot.clone())
            .links(202, &["getSnapshot", "deleteSnapshot"])
            .errors(&[409])
            .build(),
        op("get", "/v1/snapshot", "listSnapshots", "snapshots", "List snapshots")
            .query("sandbox_id", false, string(), "Only the snapshots of this sandbox.")
            .ok(200, "Snapshots, newest first.", schema::<SnapshotListResponse>(g))
            .build(),
        op("get", "/v1/snapshot/{id}", "getSnapshot", "snapshots", "One snapshot")
            .ok(200, "The snapshot.", snapshot)
            .build(),
        op("delete", "/v1/snapshot/{id}", "deleteSnapshot", "snapshots", "Delete a snapshot")
            .no_content("Deleted with its captured data.")
            .errors(&[409])
            .build(),
    ]
}
