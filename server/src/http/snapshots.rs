//! Snapshot routes: capture (`POST /v1/sandbox/{id}/snapshot`), list, get, delete.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use porter_sandbox::types::{Snapshot, SnapshotListResponse, SnapshotSpec};

use super::{
    AppState,
    extract::{JsonBody, Params},
};
use crate::http::error::{ApiError, ApiResult};

/// `POST /v1/sandbox/{id}/snapshot` → 202 with the pending snapshot; the capture runs in the
/// background (poll `GET /v1/snapshot/{id}` until `ready` or `failed`).
pub async fn create(
    State(service): State<AppState>,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<SnapshotSpec>,
) -> ApiResult<(StatusCode, Json<Snapshot>)> {
    let snapshot = service.create_snapshot(&id, spec).await?;
    Ok((StatusCode::ACCEPTED, Json(snapshot)))
}

/// `GET /v1/snapshot?sandbox_id=`: newest first.
pub async fn list(
    State(service): State<AppState>,
    params: Params,
) -> ApiResult<Json<SnapshotListResponse>> {
    service.list_snapshots(params.get("sandbox_id")).map(Json).map_err(ApiError::from)
}

/// `GET /v1/snapshot/{id}`.
pub async fn get(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Snapshot>> {
    service.get_snapshot(&id).map(Json).map_err(ApiError::from)
}

/// `DELETE /v1/snapshot/{id}` → 204.
pub async fn delete(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service.delete_snapshot(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
