//! Sandbox routes: list, counts, create, lookup, get, terminate, logs, exec and metrics.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use porter_sandbox::types::{
    CountResponse, ExecResponse, IDEMPOTENCY_KEY_HEADER, ListResponse, LogsResponse, LookupResult,
    MetricSummaryResponse, SandboxMetricsResponse, SandboxSpec,
};

use super::{
    AppState,
    extract::{JsonBody, Params, enum_value},
};
use crate::{
    http::error::{ApiError, ApiResult},
    service::{SandboxQuery, metrics::Metric, validate::MAX_TAGS},
};

/// The last page a listing may ask for (so that `page × PAGE_SIZE` stays far from overflow).
const MAX_PAGE: i64 = 1_000_000_000;

fn query_from(params: &Params) -> ApiResult<SandboxQuery> {
    let mut tags = Vec::new();
    let tag_filters = params.all("tag");
    // Each filter is a condition of its own in one SQL statement (whose depth SQLite bounds);
    // a sandbox has at most MAX_TAGS tags, so more filters could not narrow anything further.
    if tag_filters.len() > MAX_TAGS {
        return Err(ApiError::bad_request(format!(
            "query parameter tag is given {} times: at most {MAX_TAGS} tag filters",
            tag_filters.len()
        )));
    }
    for tag in tag_filters {
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
        if !phases.contains(&phase) {
            phases.push(phase);
        }
    }
    let search = params.get("search");
    if search.is_some_and(|s| s.chars().count() > 63) {
        return Err(ApiError::bad_request(
            "query parameter search is longer than 63 characters: it matches the start of \
             sandbox names, which are at most 63 characters",
        ));
    }
    Ok(SandboxQuery {
        start_time: params.time("start_time")?,
        end_time: params.time("end_time")?,
        search: search.map(str::to_owned),
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
    let page = params.int_in("page", 1, MAX_PAGE)?.unwrap_or(1);
    let include = params.bool("include_filter_values")?.unwrap_or(false);
    service.list_sandboxes(&query, page, include).map(Json).map_err(ApiError::from)
}

/// `GET /v1/sandbox/counts`.
pub async fn counts(
    State(service): State<AppState>,
    params: Params,
) -> ApiResult<Json<CountResponse>> {
    service.sandbox_counts(&query_from(&params)?).map(Json).map_err(ApiError::from)
}

/// `POST /v1/sandbox/run` → 202. With an `Idempotency-Key` header a repeated request (same
/// key, same body, within 24 h) gets the first response, marked `Idempotent-Replayed: true`,
/// instead of a second sandbox; the same key with another body is a 422.
pub async fn create(
    State(service): State<AppState>,
    headers: HeaderMap,
    JsonBody(spec): JsonBody<SandboxSpec>,
) -> ApiResult<Response> {
    let Some(key) = headers.get(IDEMPOTENCY_KEY_HEADER) else {
        let created = service.create_sandbox(spec).await?;
        return Ok((StatusCode::ACCEPTED, Json(created)).into_response());
    };
    let key = key.to_str().map_err(|_| {
        ApiError::bad_request("the Idempotency-Key header must be visible ASCII, such as a UUID")
    })?;
    let outcome = service.create_sandbox_idempotent(key, spec).await?;
    let replayed = if outcome.replayed { "true" } else { "false" };
    Ok((StatusCode::ACCEPTED, [("idempotent-replayed", replayed)], Json(outcome.response))
        .into_response())
}

/// `POST /v1/sandbox/{id}/lease` → 204: renews the sandbox's lease (see `lease_seconds`).
/// An extension of the local Porter server, not part of the Porter API.
pub async fn renew_lease(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service.renew_lease(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/sandbox/lookup?name=`.
pub async fn lookup(
    State(service): State<AppState>,
    params: Params,
) -> ApiResult<Json<LookupResult>> {
    service.lookup_sandbox(params.required("name")?).map(Json).map_err(ApiError::from)
}

/// `GET /v1/sandbox/{id}`: the status's JSON as the store encoded it (what `Json` would
/// write, without encoding it again on every poll).
pub async fn get(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let json = service.get_sandbox_json(&id)?;
    let content_type = axum::http::HeaderValue::from_static("application/json");
    Ok(([(axum::http::header::CONTENT_TYPE, content_type)], json).into_response())
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
    // Larger limits are read as the largest (MAX_LOG_LIMIT), as they always were.
    let limit = params.int_in("limit", 1, i64::MAX)?;
    let since = params.time("since")?;
    service.sandbox_logs(&id, limit, since).map(Json).map_err(ApiError::from)
}

/// `POST /v1/sandbox/{id}/exec`: held open until the command ends; if the client goes away the
/// future is dropped and the command is killed.
pub async fn exec(
    State(service): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<Json<ExecResponse>> {
    let request = crate::service::exec_options::decode_request(body)?;
    service.exec(&id, request).await.map(Json).map_err(ApiError::from)
}

/// `GET /v1/sandbox/{id}/metrics-summary?since=`.
pub async fn metrics_summary(
    State(service): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<MetricSummaryResponse>> {
    let since = params.time("since")?;
    service.metrics_summary(&id, since).map(Json).map_err(ApiError::from)
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
    let start = params.time("start_time_utc")?.unwrap_or_default();
    let end = params.time("end_time_utc")?.unwrap_or_default();
    service.metrics_series(&id, metric, start, end).map(Json).map_err(ApiError::from)
}
