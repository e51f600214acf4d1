//! The JSON documents of OCI image layouts and `docker save` archives (only the fields we use).

use std::collections::HashMap;

use serde::Deserialize;

use super::{ImageConfig, ImageError};

/// OCI image index.
pub(crate) const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list (the Docker name for an index).
pub(crate) const MEDIA_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub(crate) const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker image manifest, schema 2.
pub(crate) const MEDIA_DOCKER_MANIFEST: &str =
    "application/vnd.docker.distribution.manifest.v2+json";
/// The annotation carrying a manifest's tag in `index.json`.
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The largest JSON document (index, manifest, config) we read into memory.
pub(crate) const MAX_JSON_BYTES: u64 = 8 << 20;

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    pub(crate) annotations: Option<HashMap<String, String>>,
    #[serde(default)]
    pub(crate) platform: Option<Platform>,
}

impl Descriptor {
    /// The tag annotation, if any.
    pub(crate) fn ref_name(&self) -> Option<&str> {
        self.annotations.as_ref()?.get(ANNOTATION_REF_NAME).map(String::as_str)
    }
}

/// The platform of a manifest inside an index.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Platform {
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) os: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]` for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// An image index (`index.json` or a nested multi-platform index).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Index {
    #[serde(default)]
    pub(crate) manifests: Vec<Descriptor>,
}

/// An image manifest.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) config: Descriptor,
    #[serde(default)]
    pub(crate) layers: Vec<Descriptor>,
}

/// The parts of an image configuration we use.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) config: Option<ContainerConfig>,
    #[serde(default)]
    pub(crate) rootfs: Option<RootFs>,
}

/// The `config` object of an image configuration (Docker's capitalised keys; values may be null).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ContainerConfig {
    #[serde(rename = "Entrypoint", default)]
    pub(crate) entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub(crate) cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    pub(crate) env: Option<Vec<String>>,
    #[serde(rename = "User", default)]
    pub(crate) user: Option<String>,
    #[serde(rename = "WorkingDir", default)]
    pub(crate) working_dir: Option<String>,
}

/// The layer list of an image configuration.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct RootFs {
    #[serde(default)]
    pub(crate) diff_ids: Vec<String>,
}

/// One image in a `docker save` archive's `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DockerArchiveEntry {
    #[serde(rename = "Config")]
    pub(crate) config: String,
    #[serde(rename = "RepoTags", default)]
    pub(crate) repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub(crate) layers: Vec<String>,
}

/// Parses a JSON document; `what` names it in the error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ImageError::Invalid(format!("{what} is not valid JSON of the expected shape: {e}"))
    })
}

impl ConfigFile {
    /// The runtime defaults the image declares.
    pub(crate) fn image_config(&self) -> ImageConfig {
        let c = self.config.clone().unwrap_or_default();
        let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
        ImageConfig {
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            env: c
                .env
                .unwrap_or_default()
                .into_iter()
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (kv, String::new()),
                })
                .collect(),
            user: non_empty(c.user),
            workdir: non_empty(c.working_dir),
        }
    }

    /// The uncompressed digests (hex) of the layers, or `None` when the config lists none.
    /// `count` is the number of layers the manifest names; a different count is corrupt.
    pub(crate) fn diff_ids(
        &self,
        count: usize,
        what: &str,
    ) -> Result<Vec<Option<String>>, ImageError> {
        let ids = self.rootfs.as_ref().map(|r| r.diff_ids.as_slice()).unwrap_or_default();
        if ids.is_empty() {
            return Ok(vec![None; count]);
        }
        if ids.len() != count {
            return Err(ImageError::Invalid(format!(
                "{what} lists {} layer diff_ids but the image has {count} layers; the image is \
                 corrupt, export it again",
                ids.len()
            )));
        }
        ids.iter()
            .map(|id| super::digest::parse_sha256(id, &format!("{what} (a diff_id)")).map(Some))
            .collect()
    }
}
