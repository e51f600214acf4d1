//! Health and readiness endpoints.

use std::sync::Arc;

use crate::{
    Result,
    transport::{RequestSpec, Transport},
    types::{HealthResponse, ReadinessResponse},
};

/// `GET /healthz`.
#[derive(Debug, Clone)]
pub struct HealthzApi {
    transport: Arc<Transport>,
}

impl HealthzApi {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// `GET /healthz`: the service's health.
    pub async fn health_check(&self) -> Result<HealthResponse> {
        self.transport.execute(RequestSpec::get("/healthz")).await?.json().await
    }
}

/// `GET /readyz`.
#[derive(Debug, Clone)]
pub struct ReadyzApi {
    transport: Arc<Transport>,
}

impl ReadyzApi {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// `GET /readyz`: readiness and the number of active sandboxes.
    pub async fn readiness_check(&self) -> Result<ReadinessResponse> {
        self.transport.execute(RequestSpec::get("/readyz")).await?.json().await
    }
}
