//! Volumes: the [`Volumes`] namespace and the volume handles.

mod disk;
mod files;

use std::sync::{Arc, Mutex, PoisonError};

pub use disk::{DEFAULT_CHUNK_BYTES, Volume};
pub use files::{VolumeFile, join_path, normalize_path};

use crate::{
    Error, Result,
    api::VolumesApi,
    types::{VolumeObjectSpec, VolumePhase, VolumeRecord, VolumeSpec, VolumeType},
};

/// The volume namespace of a [`Porter`](crate::Porter).
#[derive(Debug, Clone)]
pub struct Volumes {
    api: VolumesApi,
}

impl Volumes {
    pub(crate) fn new(api: VolumesApi) -> Self {
        Self { api }
    }

    /// Creates a volume (`VolumeSpec::default()` for an unnamed disk volume).
    pub async fn create(&self, spec: impl Into<VolumeSpec>) -> Result<VolumeHandle> {
        let record = self.api.create_volume(&spec.into()).await?;
        Ok(VolumeHandle::wrap(self.api.clone(), record))
    }

    /// Every volume.
    pub async fn list(&self) -> Result<Vec<VolumeHandle>> {
        let list = self.api.list_volumes().await?;
        Ok(list.volumes.into_iter().map(|r| VolumeHandle::wrap(self.api.clone(), r)).collect())
    }

    /// The volume named `name`: a lookup, then a read by id.
    pub async fn get(&self, name: &str) -> Result<VolumeHandle> {
        let id = self.api.lookup_volume(name).await?.id;
        self.get_by_id(&id).await
    }

    /// The volume with id `id`.
    pub async fn get_by_id(&self, id: &str) -> Result<VolumeHandle> {
        let record = self.api.get_volume(id).await?;
        Ok(VolumeHandle::wrap(self.api.clone(), record))
    }

    /// A handle for a record read earlier (or received from elsewhere), without any request.
    #[must_use]
    pub fn handle(&self, record: VolumeRecord) -> VolumeHandle {
        VolumeHandle::wrap(self.api.clone(), record)
    }

    /// Deletes the volume named `name`: a lookup, then a delete by id.
    pub async fn delete(&self, name: &str) -> Result<()> {
        let id = self.api.lookup_volume(name).await?.id;
        self.api.delete_volume(&id).await
    }

    /// The low-level volume endpoints.
    #[must_use]
    pub fn raw(&self) -> &VolumesApi {
        &self.api
    }
}

/// A volume of either kind, as returned by the namespace: records whose type is `object` become
/// [`ObjectVolume`], every other type the disk handle [`Volume`].
#[derive(Debug, Clone)]
pub enum VolumeHandle {
    /// A disk volume, with file operations.
    Disk(Volume),
    /// An object (bucket) volume.
    Object(ObjectVolume),
}

impl VolumeHandle {
    pub(crate) fn wrap(api: VolumesApi, record: VolumeRecord) -> Self {
        let state = VolumeState::new(api, record);
        if state.record().r#type == VolumeType::Object {
            Self::Object(ObjectVolume { state })
        } else {
            Self::Disk(Volume { state })
        }
    }

    fn state(&self) -> &VolumeState {
        match self {
            Self::Disk(v) => &v.state,
            Self::Object(v) => &v.state,
        }
    }

    /// The volume id.
    #[must_use]
    pub fn id(&self) -> &str {
        self.state().id()
    }

    /// The cached record.
    #[must_use]
    pub fn record(&self) -> VolumeRecord {
        self.state().record()
    }

    /// The disk handle, if this is a disk volume.
    #[must_use]
    pub fn as_disk(&self) -> Option<&Volume> {
        match self {
            Self::Disk(v) => Some(v),
            Self::Object(_) => None,
        }
    }

    /// The disk handle, or an error naming the volume when it is an object volume.
    pub fn into_disk(self) -> Result<Volume> {
        match self {
            Self::Disk(v) => Ok(v),
            Self::Object(v) => Err(Error::invalid_argument(format!(
                "volume {} is an object volume: its files are managed in its bucket, not through \
                 the files API",
                v.id()
            ))),
        }
    }

    /// The object handle, if this is an object volume.
    #[must_use]
    pub fn as_object(&self) -> Option<&ObjectVolume> {
        match self {
            Self::Object(v) => Some(v),
            Self::Disk(_) => None,
        }
    }
}

/// The state every handle shares: the api and the cached record (shared by clones).
#[derive(Debug, Clone)]
pub(crate) struct VolumeState {
    id: String,
    api: VolumesApi,
    record: Arc<Mutex<VolumeRecord>>,
}

impl VolumeState {
    fn new(api: VolumesApi, record: VolumeRecord) -> Self {
        Self { id: record.id.clone(), api, record: Arc::new(Mutex::new(record)) }
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn record(&self) -> VolumeRecord {
        self.record.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn read<T>(&self, f: impl FnOnce(&VolumeRecord) -> T) -> T {
        f(&self.record.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn refresh(&self) -> Result<VolumeRecord> {
        let record = self.api.get_volume(&self.id).await?;
        *self.record.lock().unwrap_or_else(PoisonError::into_inner) = record.clone();
        Ok(record)
    }

    async fn delete(&self) -> Result<()> {
        self.api.delete_volume(&self.id).await
    }
}

/// Accessors every handle class shares, read from the cached record.
macro_rules! volume_accessors {
    ($handle:ty) => {
        impl $handle {
            /// The volume id.
            #[must_use]
            pub fn id(&self) -> &str {
                self.state.id()
            }

            /// The volume name.
            #[must_use]
            pub fn name(&self) -> String {
                self.state.read(|r| r.name.clone())
            }

            /// The volume type.
            #[must_use]
            pub fn volume_type(&self) -> VolumeType {
                self.state.read(|r| r.r#type.clone())
            }

            /// The lifecycle phase.
            #[must_use]
            pub fn phase(&self) -> VolumePhase {
                self.state.read(|r| r.phase.clone())
            }

            /// Ids of the sandboxes the volume is attached to.
            #[must_use]
            pub fn attached_to(&self) -> Vec<String> {
                self.state.read(|r| r.attached_to.clone())
            }

            /// Creation time, RFC 3339.
            #[must_use]
            pub fn created_at(&self) -> String {
                self.state.read(|r| r.created_at.clone())
            }

            /// The cached record.
            #[must_use]
            pub fn record(&self) -> VolumeRecord {
                self.state.record()
            }

            /// Reads the record again and caches it (the handle's kind never changes).
            pub async fn refresh(&self) -> Result<VolumeRecord> {
                self.state.refresh().await
            }

            /// Deletes the volume (refused while it is attached to a sandbox).
            pub async fn delete(&self) -> Result<()> {
                self.state.delete().await
            }

            /// The low-level volume endpoints.
            #[must_use]
            pub fn raw(&self) -> &VolumesApi {
                &self.state.api
            }
        }
    };
}

volume_accessors!(Volume);
volume_accessors!(ObjectVolume);

/// An object volume: a registered bucket (or a prefix of one). Its files are managed in the
/// bucket, so it has no file operations.
#[derive(Debug, Clone)]
pub struct ObjectVolume {
    state: VolumeState,
}

impl ObjectVolume {
    /// The bucket description; an error when the server's record lacks it.
    pub fn object(&self) -> Result<VolumeObjectSpec> {
        self.state
            .read(|r| r.object.clone())
            .ok_or_else(|| Error::decode("volume record is missing its object spec"))
    }
}
