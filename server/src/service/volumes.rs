//! Volume operations: disk volumes are directories under `<data-dir>/volumes/<id>`, each with a
//! size-limited filesystem of its own mounted on it (`volumes/storage.rs`).

use porter_sandbox::types::{
    LookupResult, VolumeListResponse, VolumePhase, VolumeRecord, VolumeSpec, VolumeSpecType,
    VolumeType,
};

use super::error::{ServiceError, ServiceResult};
use super::{Service, names, store_error};
use crate::{
    store::{DeleteOutcome, StoreError, VolumeRow},
    time::now_micros,
    volumes::{VolumeFs, image::ImageError, storage},
};

impl Service {
    /// `GET /v1/volume`.
    pub fn list_volumes(&self) -> ServiceResult<VolumeListResponse> {
        Ok(VolumeListResponse { volumes: self.store.volume_records().map_err(store_error)? })
    }

    /// `POST /v1/volume`: a disk volume, ready at once.
    pub async fn create_volume(&self, spec: VolumeSpec) -> ServiceResult<VolumeRecord> {
        match spec.r#type.clone().unwrap_or(VolumeSpecType::Disk) {
            VolumeSpecType::Disk => {}
            VolumeSpecType::Object => {
                return Err(ServiceError::invalid(
                    "object volumes need a registered bucket, and this local server has none: \
                     create a disk volume (omit type, or type \"disk\")",
                ));
            }
            other => {
                return Err(ServiceError::invalid(format!(
                    "unknown volume type {other:?}: use \"disk\""
                )));
            }
        }
        if spec.object.is_some() {
            return Err(ServiceError::invalid(
                "object is only valid with type \"object\": remove it for a disk volume",
            ));
        }
        if let Some(name) = &spec.name {
            names::validate_name("volume", name)?;
        }
        let id = names::new_id("vol");
        let dir = self.volumes_dir().join(&id);
        let size = self.options.volume_size_bytes;
        let made = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || storage::create(&dir, size)).await
        };
        match made {
            Ok(Ok(())) => {}
            Ok(Err(ImageError::NoSpace(detail))) => {
                tracing::error!("creating volume {id}: {detail}");
                return Err(ServiceError::storage_full(
                    "the server's data disk is full, so the volume cannot be created: free \
                     space on the server's host, or delete unused volumes, sandboxes and images",
                ));
            }
            Ok(Err(ImageError::Failed(detail))) => {
                tracing::error!("creating volume {id}: {detail}");
                return Err(ServiceError::internal(
                    "the volume's size-limited filesystem cannot be created or mounted (are \
                     mkfs.ext4 and loop devices available?); the server log says why",
                ));
            }
            Err(err) => {
                return Err(ServiceError::internal(format!("volume creation failed: {err}")));
            }
        }
        let row = VolumeRow {
            name: spec.name.unwrap_or_else(|| id.clone()),
            id: id.clone(),
            r#type: VolumeType::Disk,
            object: None,
            path: id,
            phase: VolumePhase::Ready,
            created_at: now_micros(),
        };
        let inserted = self.store.insert_volume(&row);
        if inserted.is_err() {
            // No record, no storage: a failed create leaves nothing behind.
            let _ = tokio::task::spawn_blocking(move || storage::remove(&dir)).await;
        }
        match inserted {
            Ok(()) => Ok(row.to_record(Vec::new())),
            Err(StoreError::NameTaken(name)) => Err(ServiceError::conflict(format!(
                "a volume named {name:?} already exists: choose another name, or delete that \
                 volume first"
            ))),
            Err(err) => Err(store_error(err)),
        }
    }

    /// `GET /v1/volume/lookup?name=`.
    pub fn lookup_volume(&self, name: &str) -> ServiceResult<LookupResult> {
        let id = self.store.volume_id_by_name(name).map_err(store_error)?;
        id.map(|id| LookupResult { id })
            .ok_or_else(|| ServiceError::not_found(format!("no volume is named {name:?}")))
    }

    /// `GET /v1/volume/{id}`.
    pub fn get_volume(&self, id: &str) -> ServiceResult<VolumeRecord> {
        self.store
            .volume_record(id)
            .map_err(store_error)?
            .ok_or_else(|| ServiceError::not_found(format!("volume {id} does not exist")))
    }

    /// `DELETE /v1/volume/{id}`: refused (409) while attached; the name is free afterwards.
    pub async fn delete_volume(&self, id: &str) -> ServiceResult<()> {
        match self.store.delete_volume(id) {
            Ok(DeleteOutcome::Deleted) => {}
            Ok(DeleteOutcome::NotFound) => {
                return Err(ServiceError::not_found(format!("volume {id} does not exist")));
            }
            Err(StoreError::Attached(sandboxes)) => {
                return Err(ServiceError::conflict(format!(
                    "volume {id} is attached to sandbox {}: terminate it first",
                    sandboxes.join(", ")
                )));
            }
            Err(err) => return Err(store_error(err)),
        }
        // The record is gone: unmount (everywhere) and delete the data.
        let dir = self.volumes_dir().join(id);
        let _ = tokio::task::spawn_blocking(move || storage::remove(&dir)).await;
        Ok(())
    }

    /// Where the volumes' directories (and images) are.
    fn volumes_dir(&self) -> std::path::PathBuf {
        self.options.data_dir.join("volumes")
    }

    /// At start: removes what a crash left of volumes being created or deleted, mounts the
    /// volumes' filesystems that are not mounted (after a reboot), then removes, in the
    /// background, the upload temp files a crash left in them.
    pub(crate) async fn restore_volumes(&self) {
        let dirs: Vec<_> = match self.store.volume_records() {
            Ok(records) => records
                .into_iter()
                .filter(|r| r.r#type == VolumeType::Disk)
                .map(|r| self.volumes_dir().join(&r.path))
                .collect(),
            Err(err) => {
                tracing::error!("cannot list the volumes to mount them: {err}");
                return;
            }
        };
        let started = std::time::SystemTime::now();
        let volumes = self.volumes_dir();
        let mounted = tokio::task::spawn_blocking(move || {
            storage::remove_orphans(&volumes, &dirs);
            for dir in &dirs {
                if let Err(err) = storage::restore(dir) {
                    tracing::error!("cannot mount volume {}: {err}", dir.display());
                }
            }
            dirs
        })
        .await;
        if let Ok(dirs) = mounted {
            tokio::task::spawn_blocking(move || {
                for dir in &dirs {
                    let removed = storage::remove_upload_leftovers(dir, started);
                    if removed > 0 {
                        tracing::info!(
                            "removed {removed} unfinished uploads from {}",
                            dir.display()
                        );
                    }
                }
            });
        }
    }

    /// When the server stops: unmounts the volumes' filesystems from the server.
    pub(crate) async fn release_volumes(&self) {
        let Ok(records) = self.store.volume_records() else { return };
        let dirs: Vec<_> = records.iter().map(|r| self.volumes_dir().join(&r.path)).collect();
        let _ = tokio::task::spawn_blocking(move || dirs.iter().for_each(|d| storage::release(d)))
            .await;
    }

    /// The files API of disk volume `id`.
    pub fn volume_fs(&self, id: &str) -> ServiceResult<VolumeFs> {
        let row = self
            .store
            .get_volume(id)
            .map_err(store_error)?
            .ok_or_else(|| ServiceError::not_found(format!("volume {id} does not exist")))?;
        if row.r#type != VolumeType::Disk {
            return Err(ServiceError::invalid(format!(
                "volume {id} is an object volume: manage its files in its bucket"
            )));
        }
        let dir = self.volumes_dir().join(&row.path);
        // Never the bare directory under a missing mount: it is on the host's disk, unlimited.
        storage::check_mounted(&dir).map_err(ServiceError::internal)?;
        Ok(VolumeFs::new(dir))
    }
}
