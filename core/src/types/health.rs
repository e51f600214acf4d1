//! Health, readiness and error-body schemas (spec/README.md §2 and §4; every field in
//! spec/openapi.json).

use serde::{Deserialize, Serialize};

/// Response of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct HealthResponse {
    /// Health status of the service.
    pub status: String,
}

/// Response of `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct ReadinessResponse {
    /// Readiness status of the service.
    pub status: String,
    /// Number of active sandboxes.
    pub active_sandboxes: i64,
}

/// Body of an error response (wire schema `Error`): `{"error": "<message>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema), schemars(rename = "Error"))]
pub struct ErrorBody {
    /// Human-readable error message.
    pub error: String,
}
