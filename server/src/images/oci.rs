//! Reading an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/…`).

use std::fs;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use super::ImageError;
use super::access::{self, Denied, Want};
use super::digest::{parse_sha256, sha256_hex};
use super::flatten::{Compression, LayerSource, Plan};
use super::spec::{
    ConfigFile, Descriptor, Index, MAX_JSON_BYTES, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST,
    MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, parse_json,
};

/// The tag used when the reference names none.
const DEFAULT_TAG: &str = "latest";
/// How deep image indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;

/// Reads the layout at `layout` and plans the image tagged `tag` (default `latest`).
///
/// The layout and every file read from it are opened under the rule of `access.rs` and read only
/// through those descriptors.
pub(crate) fn plan(path: &Path, tag: Option<&str>) -> Result<Plan, ImageError> {
    let shown = path.display();
    let missing = || {
        ImageError::NotFound(format!(
            "there is no OCI image layout at `{shown}`; create one with e.g. `skopeo copy \
             docker://IMAGE oci:{shown}:TAG`"
        ))
    };
    let dir = access::open_public(path, Want::Dir).map_err(|d| d.into_error(missing))?;
    match access::is_dir(&dir) {
        Ok(true) => {}
        Ok(false) => {
            return Err(ImageError::Invalid(format!(
                "`{shown}` is not a directory; `oci-layout:` needs an OCI image layout directory \
                 (for a tarball use `docker-archive:` or unpack it first)"
            )));
        }
        Err(denied) => return Err(denied.into_error(missing)),
    }
    let layout = &Layout { dir, shown: path.to_path_buf() };
    check_layout_version(layout)?;
    let index_bytes = read_small("index.json", layout)?;
    let index: Index = parse_json(&index_bytes, &format!("`{shown}/index.json`"))?;

    let mut desc = select_tagged(&index, tag, path)?.clone();
    let mut depth = 0;
    let (manifest_hex, manifest) = loop {
        let hex = parse_sha256(&desc.digest, "a manifest in the layout")?;
        let bytes = read_blob(layout, &hex, desc.size, "manifest")?;
        match document_kind(desc.media_type.as_deref(), &bytes)? {
            Kind::Manifest => break (hex, bytes),
            Kind::Index => {
                depth += 1;
                if depth > MAX_INDEX_DEPTH {
                    return Err(ImageError::Invalid(format!(
                        "the image indexes in `{shown}` nest more than {MAX_INDEX_DEPTH} deep"
                    )));
                }
                let nested: Index = parse_json(&bytes, &format!("image index sha256:{hex}"))?;
                let candidates: Vec<&Descriptor> = nested.manifests.iter().collect();
                desc =
                    choose_platform(&candidates, &format!("the image index sha256:{hex}"))?.clone();
            }
        }
    };
    let manifest: super::spec::Manifest =
        parse_json(&manifest, &format!("manifest sha256:{manifest_hex}"))?;

    let config_hex = parse_sha256(&manifest.config.digest, "the image config")?;
    let config_bytes = read_blob(layout, &config_hex, manifest.config.size, "image config")?;
    let config: ConfigFile =
        parse_json(&config_bytes, &format!("image config sha256:{config_hex}"))?;
    let diff_ids =
        config.diff_ids(manifest.layers.len(), &format!("image config sha256:{config_hex}"))?;

    let layers = manifest
        .layers
        .iter()
        .zip(diff_ids)
        .map(|(layer, diff_id)| layer_source(layout, layer, diff_id))
        .collect::<Result<Vec<_>, _>>()?;
    let (layers, held): (Vec<_>, Vec<_>) = layers.into_iter().unzip();
    let held = held.into_iter().flatten().collect();
    Ok(Plan { key: manifest_hex, config: config.image_config(), layers, _temp: None, _held: held })
}

/// An opened layout directory.
struct Layout {
    /// Its descriptor.
    dir: OwnedFd,
    /// Its path, for messages.
    shown: PathBuf,
}

impl Layout {
    fn display(&self) -> std::path::Display<'_> {
        self.shown.display()
    }

    /// Opens `relative` inside the layout (`None`: it does not exist).
    fn open(&self, relative: &str) -> Result<Option<OwnedFd>, ImageError> {
        match access::open_beneath(&self.dir, &self.shown, relative, Want::File) {
            Ok(fd) => Ok(Some(fd)),
            Err(Denied::Missing) => Ok(None),
            Err(denied) => Err(denied.into_error(|| ImageError::Io(String::new()))),
        }
    }
}

fn check_layout_version(layout: &Layout) -> Result<(), ImageError> {
    #[derive(serde::Deserialize)]
    struct LayoutFile {
        #[serde(rename = "imageLayoutVersion")]
        version: String,
    }
    let bytes = read_small("oci-layout", layout)?;
    let file: LayoutFile = parse_json(&bytes, &format!("`{}/oci-layout`", layout.display()))?;
    if !file.version.starts_with("1.") {
        return Err(ImageError::Unsupported(format!(
            "`{}` is an OCI image layout version {}; only version 1.x is supported",
            layout.display(),
            file.version
        )));
    }
    Ok(())
}

/// Picks the `index.json` entry for `tag`.
fn select_tagged<'a>(
    index: &'a Index,
    tag: Option<&str>,
    layout: &Path,
) -> Result<&'a Descriptor, ImageError> {
    let wanted = tag.unwrap_or(DEFAULT_TAG);
    let exact: Vec<&Descriptor> =
        index.manifests.iter().filter(|d| d.ref_name() == Some(wanted)).collect();
    // Some tools store the full reference (`docker.io/library/alpine:3.20`) as the name.
    let suffix = format!(":{wanted}");
    let matching = if exact.is_empty() {
        index
            .manifests
            .iter()
            .filter(|d| d.ref_name().is_some_and(|n| n.ends_with(&suffix)))
            .collect()
    } else {
        exact
    };
    match matching.as_slice() {
        [one] => return Ok(one),
        [] => {}
        // One tag listed per platform: choose ours.
        many => return choose_platform(many, &format!("tag `{wanted}`")),
    }
    if tag.is_none() {
        if let [only] = index.manifests.as_slice() {
            return Ok(only);
        }
    }
    let tags: Vec<&str> = index.manifests.iter().filter_map(Descriptor::ref_name).collect();
    let shown = layout.display();
    let available = if tags.is_empty() {
        format!("its {} images carry no tags", index.manifests.len())
    } else {
        format!("available tags: {}; use `oci-layout:{shown}:TAG`", tags.join(", "))
    };
    Err(ImageError::NotFound(format!(
        "the OCI layout `{shown}` has no image tagged `{wanted}`; {available}"
    )))
}

/// The Go name of the architecture this server runs on (what `platform.architecture` uses).
pub(crate) fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Chooses the linux image for this machine's architecture among `manifests`.
pub(crate) fn choose_platform<'a>(
    manifests: &[&'a Descriptor],
    what: &str,
) -> Result<&'a Descriptor, ImageError> {
    let arch = host_architecture();
    let ours = manifests
        .iter()
        .find(|d| d.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == arch));
    if let Some(found) = ours {
        return Ok(*found);
    }
    if let [only] = manifests {
        if only.platform.is_none() {
            return Ok(*only);
        }
    }
    let offered: Vec<String> = manifests
        .iter()
        .filter_map(|d| d.platform.as_ref().map(super::spec::Platform::describe))
        .collect();
    Err(ImageError::NotFound(format!(
        "{what} has no image for linux/{arch} (it offers: {}); use an image built for this \
         machine",
        if offered.is_empty() { "no platforms".to_owned() } else { offered.join(", ") }
    )))
}

/// What a manifest-like document is.
pub(crate) enum Kind {
    /// An image index or Docker manifest list.
    Index,
    /// An image manifest.
    Manifest,
}

/// Whether a document is an index or a manifest: by media type, else by shape.
pub(crate) fn document_kind(media_type: Option<&str>, bytes: &[u8]) -> Result<Kind, ImageError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        schema_version: Option<u32>,
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
        #[serde(default)]
        config: Option<serde_json::Value>,
    }
    let probe: Probe = parse_json(bytes, "a manifest")?;
    if probe.schema_version == Some(1) {
        return Err(ImageError::Unsupported(
            "the image uses the Docker schema 1 manifest format, which is not supported; \
             re-export it with a current tool (skopeo, docker, buildah)"
                .to_owned(),
        ));
    }
    match media_type.or(probe.media_type.as_deref()) {
        Some(MEDIA_OCI_INDEX | MEDIA_DOCKER_LIST) => Ok(Kind::Index),
        Some(MEDIA_OCI_MANIFEST | MEDIA_DOCKER_MANIFEST) => Ok(Kind::Manifest),
        _ if probe.manifests.is_some() => Ok(Kind::Index),
        _ if probe.config.is_some() => Ok(Kind::Manifest),
        other => Err(ImageError::Unsupported(format!(
            "the manifest has the unsupported media type {}; only OCI and Docker v2 images can be \
             used",
            other.unwrap_or("(none)")
        ))),
    }
}

fn blob_path(hex: &str) -> String {
    format!("blobs/sha256/{hex}")
}

fn missing_blob(layout: &Layout, what: &str, hex: &str) -> ImageError {
    ImageError::NotFound(format!(
        "the {what} blob sha256:{hex} is missing from the OCI layout `{}`; the layout is \
         incomplete, copy the image into it again",
        layout.display()
    ))
}

/// Reads and verifies a small (JSON) blob.
fn read_blob(
    layout: &Layout,
    hex: &str,
    size: Option<u64>,
    what: &str,
) -> Result<Vec<u8>, ImageError> {
    let path = blob_path(hex);
    let bytes = match read_limited(layout.open(&path)?) {
        Err(ReadError::NotFound) => return Err(missing_blob(layout, what, hex)),
        Err(ReadError::TooBig) => {
            return Err(ImageError::Invalid(format!(
                "the {what} blob sha256:{hex} is larger than {MAX_JSON_BYTES} bytes; it is not a \
                 plausible {what}"
            )));
        }
        Err(ReadError::Io(e)) => {
            return Err(ImageError::Io(format!("cannot read `{}/{path}`: {e}", layout.display())));
        }
        Ok(bytes) => bytes,
    };
    let actual = sha256_hex(&bytes);
    if actual != hex {
        return Err(ImageError::Invalid(format!(
            "the {what} blob sha256:{hex} in `{}` is corrupt: its content hashes to \
             sha256:{actual}; copy the image into the layout again",
            layout.display()
        )));
    }
    if let Some(size) = size.filter(|&s| s != bytes.len() as u64) {
        return Err(ImageError::Invalid(format!(
            "the {what} blob sha256:{hex} is {} bytes but its descriptor says {size}; the \
             layout is corrupt",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Reads a small file of the layout (not a blob).
fn read_small(name: &str, layout: &Layout) -> Result<Vec<u8>, ImageError> {
    match read_limited(layout.open(name)?) {
        Ok(bytes) => Ok(bytes),
        Err(ReadError::NotFound) => Err(ImageError::Invalid(format!(
            "`{}` is not an OCI image layout: it has no `{name}` file",
            layout.display()
        ))),
        Err(ReadError::TooBig) => Err(ImageError::Invalid(format!(
            "`{}/{name}` is larger than {MAX_JSON_BYTES} bytes",
            layout.display()
        ))),
        Err(ReadError::Io(e)) => {
            Err(ImageError::Io(format!("cannot read `{}/{name}`: {e}", layout.display())))
        }
    }
}

enum ReadError {
    NotFound,
    TooBig,
    Io(io::Error),
}

fn read_limited(fd: Option<OwnedFd>) -> Result<Vec<u8>, ReadError> {
    let fd = fd.ok_or(ReadError::NotFound)?;
    let file = fs::File::open(access::fd_path(&fd)).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON_BYTES + 1).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(ReadError::TooBig);
    }
    Ok(bytes)
}

/// A layer blob, checked and held open (as `O_PATH`: cheap) but not read yet (a cached image
/// needs none of them).
fn layer_source(
    layout: &Layout,
    layer: &Descriptor,
    diff_id: Option<String>,
) -> Result<(LayerSource, Option<OwnedFd>), ImageError> {
    let hex = parse_sha256(&layer.digest, "a layer")?;
    // A missing blob fails only if the image must be unpacked: an empty path is never found.
    let fd = layout.open(&blob_path(&hex))?;
    let source = LayerSource {
        file: fd.as_ref().map(access::fd_path).unwrap_or_default(),
        offset: 0,
        len: layer.size,
        digest: Some(hex.clone()),
        diff_id,
        compression: Compression::from_media_type(layer.media_type.as_deref()),
        label: format!("sha256:{hex}"),
    };
    Ok((source, fd))
}
