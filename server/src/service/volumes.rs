//! Volume operations: disk volumes are directories under `<data-dir>/volumes/<id>`.

use porter_sandbox::types::{
    LookupResult, VolumeListResponse, VolumePhase, VolumeRecord, VolumeSpec, VolumeSpecType,
    VolumeType,
};

use super::{Service, names, store_error};
use crate::{
    error::{ApiError, ApiResult},
    store::{DeleteOutcome, StoreError, VolumeRow},
    time::now_micros,
    volumes::VolumeFs,
};

impl Service {
    /// `GET /v1/volume`.
    pub fn list_volumes(&self) -> ApiResult<VolumeListResponse> {
        Ok(VolumeListResponse { volumes: self.store.volume_records().map_err(store_error)? })
    }

    /// `POST /v1/volume`: a disk volume, ready at once.
    pub fn create_volume(&self, spec: VolumeSpec) -> ApiResult<VolumeRecord> {
        match spec.r#type.clone().unwrap_or(VolumeSpecType::Disk) {
            VolumeSpecType::Disk => {}
            VolumeSpecType::Object => {
                return Err(ApiError::bad_request(
                    "object volumes need a registered bucket, and this local server has none: \
                     create a disk volume (omit type, or type \"disk\")",
                ));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown volume type {other:?}: use \"disk\""
                )));
            }
        }
        if spec.object.is_some() {
            return Err(ApiError::bad_request(
                "object is only valid with type \"object\": remove it for a disk volume",
            ));
        }
        if let Some(name) = &spec.name {
            names::validate_name("volume", name).map_err(ApiError::bad_request)?;
        }
        let id = names::new_id("vol");
        let dir = self.options.data_dir.join("volumes").join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| {
            ApiError::internal(format!("cannot create the volume directory {}: {e}", dir.display()))
        })?;
        let row = VolumeRow {
            name: spec.name.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            r#type: VolumeType::Disk,
            object: None,
            path: id,
            phase: VolumePhase::Ready,
            created_at: now_micros(),
        };
        match self.store.insert_volume(&row) {
            Ok(()) => Ok(row.to_record(Vec::new())),
            Err(StoreError::NameTaken(name)) => {
                let _ = std::fs::remove_dir(&dir);
                Err(ApiError::conflict(format!(
                    "a volume named {name:?} already exists: choose another name, or delete that \
                     volume first"
                )))
            }
            Err(err) => Err(store_error(err)),
        }
    }

    /// `GET /v1/volume/lookup?name=`.
    pub fn lookup_volume(&self, name: &str) -> ApiResult<LookupResult> {
        let id = self.store.volume_id_by_name(name).map_err(store_error)?;
        id.map(|id| LookupResult { id })
            .ok_or_else(|| ApiError::not_found(format!("no volume is named {name:?}")))
    }

    /// `GET /v1/volume/{id}`.
    pub fn get_volume(&self, id: &str) -> ApiResult<VolumeRecord> {
        self.store
            .volume_record(id)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("volume {id} does not exist")))
    }

    /// `DELETE /v1/volume/{id}`: refused (409) while attached; the name is free afterwards.
    pub fn delete_volume(&self, id: &str) -> ApiResult<()> {
        match self.store.delete_volume(id) {
            Ok(DeleteOutcome::Deleted) => {}
            Ok(DeleteOutcome::NotFound) => {
                return Err(ApiError::not_found(format!("volume {id} does not exist")));
            }
            Err(StoreError::Attached(sandboxes)) => {
                return Err(ApiError::conflict(format!(
                    "volume {id} is attached to sandbox {}: terminate it first",
                    sandboxes.join(", ")
                )));
            }
            Err(err) => return Err(store_error(err)),
        }
        // The record is gone; remove the data out of the way first so a crash leaves no
        // half-deleted volume directory behind under its old name.
        let dir = self.options.data_dir.join("volumes").join(id);
        let trash = self.options.data_dir.join("volumes").join(format!(".deleted-{id}"));
        if std::fs::rename(&dir, &trash).is_ok() {
            std::thread::spawn(move || {
                let _ = std::fs::remove_dir_all(trash);
            });
        }
        Ok(())
    }

    /// The files API of disk volume `id`.
    pub fn volume_fs(&self, id: &str) -> ApiResult<VolumeFs> {
        let row = self
            .store
            .get_volume(id)
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("volume {id} does not exist")))?;
        if row.r#type != VolumeType::Disk {
            return Err(ApiError::bad_request(format!(
                "volume {id} is an object volume: manage its files in its bucket"
            )));
        }
        Ok(VolumeFs::new(self.options.data_dir.join("volumes").join(&row.path)))
    }
}
