//! Volume routes: list, create (201), lookup, get, delete (204; 409 while attached).

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use porter_sandbox::types::{LookupResult, VolumeListResponse, VolumeRecord, VolumeSpec};

use super::{
    AppState,
    extract::{JsonBody, Params},
};
use crate::http::error::{ApiError, ApiResult};

/// `GET /v1/volume`.
pub async fn list(State(service): State<AppState>) -> ApiResult<Json<VolumeListResponse>> {
    service.list_volumes().map(Json).map_err(ApiError::from)
}

/// `POST /v1/volume` → 201.
pub async fn create(
    State(service): State<AppState>,
    JsonBody(spec): JsonBody<VolumeSpec>,
) -> ApiResult<(StatusCode, Json<VolumeRecord>)> {
    Ok((StatusCode::CREATED, Json(service.create_volume(spec).await?)))
}

/// `GET /v1/volume/lookup?name=`.
pub async fn lookup(
    State(service): State<AppState>,
    params: Params,
) -> ApiResult<Json<LookupResult>> {
    service.lookup_volume(params.required("name")?).map(Json).map_err(ApiError::from)
}

/// `GET /v1/volume/{id}`.
pub async fn get(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<VolumeRecord>> {
    service.get_volume(&id).map(Json).map_err(ApiError::from)
}

/// `DELETE /v1/volume/{id}` → 204.
pub async fn delete(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service.delete_volume(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
