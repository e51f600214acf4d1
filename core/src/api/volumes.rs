//! Volume endpoints (the file endpoints are in `volume_files.rs`).

use std::sync::Arc;

use crate::{
    Result,
    transport::{RequestSpec, Transport, segment},
    types::{LookupResult, VolumeListResponse, VolumeRecord, VolumeSpec},
};

/// The volume and volume-file endpoints.
#[derive(Debug, Clone)]
pub struct VolumesApi {
    pub(super) transport: Arc<Transport>,
}

impl VolumesApi {
    pub(crate) fn new(transport: Arc<Transport>) -> Self {
        Self { transport }
    }

    /// `GET /v1/volume`: every volume.
    pub async fn list_volumes(&self) -> Result<VolumeListResponse> {
        self.transport.execute(RequestSpec::get("/v1/volume")).await?.json().await
    }

    /// `POST /v1/volume`: create a volume (`{}` for an unnamed disk volume).
    pub async fn create_volume(&self, body: &VolumeSpec) -> Result<VolumeRecord> {
        let spec = RequestSpec::post("/v1/volume").json(body)?;
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/volume/lookup?name=`: resolve a volume name to its id.
    pub async fn lookup_volume(&self, name: &str) -> Result<LookupResult> {
        let spec = RequestSpec::get("/v1/volume/lookup").query("name", name);
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/volume/{id}`: the volume record.
    pub async fn get_volume(&self, id: &str) -> Result<VolumeRecord> {
        let spec = RequestSpec::get(format!("/v1/volume/{}", segment(id)));
        self.transport.execute(spec).await?.json().await
    }

    /// `DELETE /v1/volume/{id}`: delete the volume (refused while attached to a sandbox).
    pub async fn delete_volume(&self, id: &str) -> Result<()> {
        let spec = RequestSpec::delete(format!("/v1/volume/{}", segment(id)));
        self.transport.execute(spec).await.map(drop)
    }
}
