//! Metric schemas (spec/README.md §6; every field in spec/openapi.json).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Response of `GET /v1/sandbox/{id}/metrics-summary`: percentiles over a window.
///
/// Limits and percentages are `0` when no limit is set; when `has_data` is false the numbers are
/// zeroed and should be shown as "no data yet".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct MetricSummaryResponse {
    /// Window actually used, in seconds.
    pub window_seconds: i64,
    /// False when the metrics backend has no series for the pod yet.
    pub has_data: bool,
    /// p50 CPU usage, cores.
    pub cpu_cores_p50: f64,
    /// p90 CPU usage, cores.
    pub cpu_cores_p90: f64,
    /// CPU limit, cores; 0 when none.
    pub cpu_limit_cores: f64,
    /// p50 CPU as a percentage of the limit; 0 when no limit.
    pub cpu_util_p50_pct: f64,
    /// p90 CPU as a percentage of the limit; 0 when no limit.
    pub cpu_util_p90_pct: f64,
    /// p50 memory, bytes (including page cache).
    pub mem_bytes_p50: i64,
    /// p90 memory, bytes (including page cache).
    pub mem_bytes_p90: i64,
    /// Memory limit, bytes; 0 when none.
    pub mem_limit_bytes: i64,
    /// p50 memory as a percentage of the limit; 0 when no limit.
    pub mem_util_p50_pct: f64,
    /// p90 memory as a percentage of the limit; 0 when no limit.
    pub mem_util_p90_pct: f64,
}

/// One point of a metric series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxMetricsPoint {
    /// Point time, UTC.
    pub timestamp_utc: String,
    /// Value, in the series' unit.
    pub value: f64,
}

/// Response of `GET /v1/sandbox/{id}/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxMetricsResponse {
    /// One entry per query; exactly one for this endpoint.
    pub results: Vec<SandboxMetricsResult>,
}

/// The result of one metric query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxMetricsResult {
    /// One entry per Prometheus series (normally the single sandbox pod).
    pub series: Vec<SandboxMetricsSeries>,
}

/// One metric series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SandboxMetricsSeries {
    /// Series labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<IndexMap<String, String>>,
    /// Unit of the values, e.g. `cores`, `bytes`, `bytes/sec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Points in chronological order.
    pub time_series: Vec<SandboxMetricsPoint>,
}
