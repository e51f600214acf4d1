//! `GET /healthz` and `GET /readyz`.

use axum::{Json, extract::State};
use porter_sandbox::types::{HealthResponse, ReadinessResponse};

use super::AppState;
use crate::http::error::{ApiError, ApiResult};

/// The process is up.
pub async fn healthz() -> Json<HealthResponse> {
    Json(HealthResponse { status: "ok".to_owned() })
}

/// The runtime can start sandboxes (503 with the reason when it cannot).
pub async fn readyz(State(service): State<AppState>) -> ApiResult<Json<ReadinessResponse>> {
    service.readiness().map(Json).map_err(ApiError::from)
}
