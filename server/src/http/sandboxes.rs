//! Sandbox routes: list, counts, create, lookup, get, terminate, logs, exec and metrics.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use porter_sandbox::types::{
    CountResponse, CreateResponse, ExecRequest, ExecResponse, ListResponse, LogsResponse,
    LookupResult, MetricSummaryResponse, SandboxMetricsResponse, SandboxSpec, StatusResponse,
};

use super::{
    AppState,
    extract::{JsonBody, Params, enum_value},
};
use crate::{
    error::{ApiError, ApiResult},
    service::{SandboxQuery, metrics::Metric},
};

fn query_from(params: &Params) -> ApiResult<SandboxQuery> {
    let time = |key: &str| {
        params
            .get(key)
            .map(|v| {
                crate::time::parse_since(v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "query parameter {key} must be an RFC 3339 time (2026-01-02T15:04:05Z) \
                         or a duration back from now (10m, 24h), not {v:?}"
                    ))
                })
            })
            .transpose()
    };
    let mut tags = Vec::new();
    for tag in params.all("tag") {
        let (key, value) = tag.split_once('=').ok_or_else(|| {
            ApiError::bad_request(format!("tag filter {tag:?} must have the form key=value"))
        })?;
        tags.push((key.to_owned(), value.to_owned()));
    }
    let mut phases = Vec::new();
    for phase in params.all("phase") {
        let phase = enum_value(phase);
        if !matches!(
            phase.as_str(),
            "queued" | "creating" | "running" | "succeeded" | "failed" | "terminated"
        ) {
            return Err(ApiError::bad_request(format!(
                "unknown phase {phase:?}: use queued, creating, running, succeeded, failed or \
                 terminated"
            )));
        }
        phases.push(phase);
    }
    Ok(SandboxQuery {
        start_time: time("start_time")?,
        end_time: time("end_time")?,
        search: params.get("search").map(str::to_owned),
        tags,
        phases,
        image: params.get("image").map(str::to_owned),
    })
}

/// `GET /v1/sandbox`.
pub async fn list(
    State(service): State<AppState>,
    params: Params,
) -> ApiResult<Json<ListResponse>> {
    let query = query_from(&params)?;
    let page = params.int("page")?.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_request("query parameter page must be 1 or more"));
    }
    let include = params.bool("include_filter_values")?.unwrap_or(false);
    service.list_sandboxes(&query, page, include).map(Json)
}

/// `GET /v1/sandbox/counts`.
pub async fn counts(
    State(service): State<AppState>,
    params: Params,
) -> ApiResult<Json<CountResponse>> {
    service.sandbox_counts(&query_from(&params)?).map(Json)
}

/// `POST /v1/sandbox/run` → 202.
pub async fn create(
    State(service): State<AppState>,
    JsonBody(spec): JsonBody<SandboxSpec>,
) -> ApiResult<(StatusCode, Json<CreateResponse>)> {
    let created = service.create_sandbox(spec).await?;
    Ok((StatusCode::ACCEPTED, Json(created)))
}

/// `GET /v1/sandbox/lookup?name=`.
pub async fn lookup(
    State(service): State<AppState>,
    params: Params,
) -> ApiResult<Json<LookupResult>> {
    service.lookup_sandbox(params.required("name")?).map(Json)
}

/// `GET /v1/sandbox/{id}`.
pub async fn get(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusResponse>> {
    service.get_sandbox(&id).map(Json)
}

/// `DELETE /v1/sandbox/{id}` → 204; idempotent.
pub async fn terminate(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<StatusCode> {
    let source = params.get("source").map(enum_value);
    if let Some(source) = &source {
        if !matches!(source.as_str(), "dashboard" | "cli" | "sdk") {
            return Err(ApiError::bad_request(format!(
                "unknown source {source:?}: use dashboard or cli (omit it from SDKs)"
            )));
        }
    }
    service.terminate_sandbox(&id, source.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/sandbox/{id}/logs`.
pub async fn logs(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<LogsResponse>> {
    let limit = params.int("limit")?;
    if limit.is_some_and(|l| l < 1) {
        return Err(ApiError::bad_request("query parameter limit must be 1 or more"));
    }
    let since = params
        .get("since")
        .map(|v| {
            crate::time::parse_since(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "since must be an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back \
                     from now (10m, 1h), not {v:?}"
                ))
            })
        })
        .transpose()?;
    service.sandbox_logs(&id, limit, since).map(Json)
}

/// `POST /v1/sandbox/{id}/exec`: held open until the command ends; if the client goes away the
/// future is dropped and the command is killed.
pub async fn exec(
    State(service): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ExecRequest>,
) -> ApiResult<Json<ExecResponse>> {
    service.exec(&id, request).await.map(Json)
}

/// `GET /v1/sandbox/{id}/metrics-summary?since=`.
pub async fn metrics_summary(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<MetricSummaryResponse>> {
    let since = time_param(&params, "since")?;
    service.metrics_summary(&id, since).map(Json)
}

/// `GET /v1/sandbox/{id}/metrics?metric=&start_time_utc=&end_time_utc=`.
pub async fn metrics(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<SandboxMetricsResponse>> {
    let name = enum_value(params.required("metric")?);
    let metric = Metric::from_wire(&name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown metric {name:?}: use cpu_usage, cpu_reserved, memory_usage, \
             memory_reserved, network_rx or network_tx"
        ))
    })?;
    params.required("start_time_utc")?;
    params.required("end_time_utc")?;
    let start = time_param(&params, "start_time_utc")?.unwrap_or_default();
    let end = time_param(&params, "end_time_utc")?.unwrap_or_default();
    service.metrics_series(&id, metric, start, end).map(Json)
}

/// An optional time query parameter: RFC 3339, or a duration back from now.
fn time_param(params: &Params, key: &str) -> ApiResult<Option<i64>> {
    params
        .get(key)
        .map(|v| {
            crate::time::parse_since(v).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "query parameter {key} must be an RFC 3339 time (2026-01-02T15:04:05Z) or a \
                     duration back from now (10m, 24h), not {v:?}"
                ))
            })
        })
        .transpose()
}
