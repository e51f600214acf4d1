//! Pulling images from registries (the OCI distribution API, through `oci-client`).
//!
//! Manifests (OCI or Docker v2, multi-platform indexes resolved to this machine with the same
//! rules as OCI layouts) and blobs are verified against their sha256 digests and kept under
//! `<root>/blobs/sha256/<hex>`; layers then flatten like any other image, keyed by the platform
//! manifest's digest. Loopback registries are spoken to over plain HTTP, every other one over
//! HTTPS only.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::{Client, Reference};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use super::auth::{self, Lookup};
use super::digest::{parse_sha256, sha256_hex};
use super::flatten::{Compression, LayerSource, Plan, store_io};
use super::spec::{
    ConfigFile, Index, MAX_JSON_BYTES, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX,
    MEDIA_OCI_MANIFEST, Manifest, parse_json,
};
use super::{ImageError, ImageStore, Notice, Notify, oci};

/// How long to wait for a TCP connection: a registry that takes longer counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a download may stall before it fails.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a long layer download reports progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How deep image indexes may nest.
const MAX_INDEX_DEPTH: usize = 4;
/// The manifest kinds we ask for.
const ACCEPTED: [&str; 4] =
    [MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST, MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST];

/// Where to pull an image from.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// The reference, addressed to the registry to contact (a mirror, or the image's own).
    pub(crate) reference: Reference,
    /// The registry to contact, as credentials are looked up (`docker.io` for Docker Hub).
    pub(crate) registry: String,
}

/// A parsed registry reference and where it can be pulled from, in order.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The fully qualified reference (`docker.io/library/python:3.12-slim`).
    pub(crate) normalized: String,
    /// Whether a cached copy must be checked against the registry (`latest`, or no tag).
    pub(crate) mutable: bool,
    /// Mirror first (Docker Hub images, when configured), then the image's own registry.
    pub(crate) sources: Vec<Source>,
}

impl Target {
    /// Parses `name` (already checked by `reference::parse`).
    pub(crate) fn parse(name: &str, mirror: Option<&str>) -> Result<Self, ImageError> {
        let reference = Reference::try_from(name).map_err(|e| {
            ImageError::Invalid(format!("`{name}` is not a valid image reference: {e}"))
        })?;
        let own =
            Source { registry: reference.registry().to_owned(), reference: reference.clone() };
        let mut sources = Vec::new();
        if let Some(mirror) = mirror.filter(|_| reference.registry() == "docker.io") {
            let mirrored = match (reference.digest(), reference.tag()) {
                (Some(digest), _) => Reference::with_digest(
                    mirror.to_owned(),
                    reference.repository().to_owned(),
                    digest.to_owned(),
                ),
                (None, tag) => Reference::with_tag(
                    mirror.to_owned(),
                    reference.repository().to_owned(),
                    tag.unwrap_or("latest").to_owned(),
                ),
            };
            sources.push(Source { reference: mirrored, registry: mirror.to_owned() });
        }
        sources.push(own);
        let mutable = reference.digest().is_none() && reference.tag().is_none_or(|t| t == "latest");
        Ok(Self { normalized: reference.whole(), mutable, sources })
    }
}

/// Whether `registry` (`host[:port]`) is on this machine, the only place plain HTTP is used.
pub(crate) fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A client for one registry.
fn client(registry: &str) -> Result<Client, ImageError> {
    // reqwest is built without a default crypto provider (no aws-lc): use ring, like the rest
    // of the workspace. Installing fails harmlessly when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let protocol = if is_loopback(registry) { ClientProtocol::Http } else { ClientProtocol::Https };
    let config = ClientConfig {
        protocol,
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        user_agent: concat!("porter-sandbox-server/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    };
    Client::try_from(config).map_err(|e| {
        ImageError::Io(format!("cannot set up an HTTP client for the registry {registry}: {e}"))
    })
}

/// A human size: `512 B`, `3.4 KiB`, `12.3 MiB`, `1.2 GiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Turns a client error into an [`ImageError`] that says what to do.
fn classify(e: OciDistributionError, shown: &str, source: &Source, creds: &Lookup) -> ImageError {
    let registry = &source.registry;
    let wants_credentials = || match &creds.found {
        Some(found) => format!(
            "the registry {registry} refused the credentials for `{shown}` (from {}); check the \
             user name, password and their access to the repository",
            found.source
        ),
        None => format!(
            "the registry {registry} requires credentials for `{shown}` and none were found \
             (looked in {}); run `docker login {registry}` on the server's machine or set \
             PORTER_SANDBOX_REGISTRY_AUTH={registry}=USER:PASSWORD for the server",
            creds.searched
        ),
    };
    match e {
        OciDistributionError::RequestError(err) if err.is_connect() => ImageError::Unreachable(
            format!("cannot reach the registry {registry}: {}", chain(&err)),
        ),
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => {
            ImageError::Registry(wants_credentials())
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let messages: Vec<String> =
                envelope.errors.iter().map(|e| format!("{:?}: {}", e.code, e.message)).collect();
            let details = messages.join("; ");
            if codes.iter().any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                ImageError::Registry(format!("{} ({details})", wants_credentials()))
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::BlobUnknown
                )
            }) {
                let what = match (source.reference.tag(), source.reference.digest()) {
                    (_, Some(digest)) => format!("the digest {digest}"),
                    (Some(tag), None) => format!("the tag `{tag}`"),
                    (None, None) => "the tag `latest`".to_owned(),
                };
                ImageError::NotFound(format!(
                    "the registry {registry} has no image `{shown}`: the repository `{}` or {what} \
                     does not exist ({details}); check the name and tag",
                    source.reference.repository()
                ))
            } else {
                ImageError::Registry(format!(
                    "the registry {registry} refused to serve `{shown}`: {details}"
                ))
            }
        }
        OciDistributionError::ServerError { code, message, .. } => {
            let message: String = message.chars().take(300).collect();
            let hint = match code {
                404 => "; check the image name and tag".to_owned(),
                429 => "; the registry rate-limits pulls, try again later or use a mirror \
                        (--registry-mirror)"
                    .to_owned(),
                c if c >= 500 => "; the registry is failing, try again later".to_owned(),
                _ => String::new(),
            };
            let kind = if code == 404 { ImageError::NotFound } else { ImageError::Registry };
            kind(format!(
                "the registry {registry} answered HTTP {code} for `{shown}`: {}{hint}",
                message.trim()
            ))
        }
        OciDistributionError::DigestError(err) => ImageError::Invalid(format!(
            "the registry {registry} sent content for `{shown}` that does not match its digest \
             ({err}); the registry or a proxy in between is corrupting data"
        )),
        OciDistributionError::UnsupportedSchemaVersionError(_)
        | OciDistributionError::UnsupportedMediaTypeError(_) => {
            ImageError::Unsupported(format!("`{shown}`: {e}; only OCI and Docker v2 images work"))
        }
        other => ImageError::Registry(format!(
            "pulling `{shown}` from {registry} failed: {}",
            chain(&other)
        )),
    }
}

/// An I/O error while downloading: a digest mismatch found by the client, or a broken transfer.
fn download_error(e: &std::io::Error, label: &str, registry: &str) -> ImageError {
    if let Some(digest) = e.get_ref().and_then(|inner| inner.downcast_ref::<DigestError>()) {
        return ImageError::Invalid(format!(
            "layer {label} from {registry} does not match its digest ({digest}); the registry \
             or a proxy in between is corrupting data"
        ));
    }
    ImageError::Registry(format!(
        "the download of layer {label} from {registry} broke off: {}; try again",
        chain(e)
    ))
}

impl ImageStore {
    /// `blobs/sha256/<hex>`.
    pub(crate) fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs").join("sha256").join(hex)
    }

    /// Pulls the image from `source`: manifest, config and missing layers into the blob store.
    /// Returns the plan to flatten it and the platform manifest's config digest (hex).
    pub(crate) async fn pull(
        &self,
        shown: &str,
        source: &Source,
        notify: Notify<'_>,
    ) -> Result<(Plan, String), ImageError> {
        let started = Instant::now();
        let registry = source.registry.as_str();
        let creds = {
            let options = self.options.clone();
            let registry = registry.to_owned();
            super::blocking(move || auth::lookup(&options, &registry)).await?
        };
        let auth = creds
            .found
            .as_ref()
            .map_or(oci_client::secrets::RegistryAuth::Anonymous, |f| f.auth.clone());
        let client = client(source.reference.resolve_registry())?;
        let fail = |e| classify(e, shown, source, &creds);

        notify(Notice::info(format!("pulling {shown} from {registry}…")));
        let mut reference = source.reference.clone();
        let (mut bytes, mut digest) =
            client.pull_manifest_raw(&reference, &auth, &ACCEPTED).await.map_err(fail)?;
        let mut depth = 0;
        let manifest_hex = loop {
            let hex = parse_sha256(&digest, &format!("the manifest of `{shown}`"))?;
            if sha256_hex(&bytes) != hex {
                return Err(ImageError::Invalid(format!(
                    "the manifest of `{shown}` from {registry} does not match its digest {digest}"
                )));
            }
            match oci::document_kind(None, &bytes)? {
                oci::Kind::Manifest => break hex,
                oci::Kind::Index => {
                    depth += 1;
                    if depth > MAX_INDEX_DEPTH {
                        return Err(ImageError::Invalid(format!(
                            "the image indexes of `{shown}` nest more than {MAX_INDEX_DEPTH} deep"
                        )));
                    }
                    let index: Index = parse_json(&bytes, &format!("the image index of {shown}"))?;
                    let candidates: Vec<_> = index.manifests.iter().collect();
                    let chosen = oci::choose_platform(&candidates, &format!("`{shown}`"))?;
                    reference = reference.clone_with_digest(chosen.digest.clone());
                    (bytes, digest) = client
                        .pull_manifest_raw(&reference, &auth, &ACCEPTED)
                        .await
                        .map_err(fail)?;
                }
            }
        };
        let manifest: Manifest = parse_json(&bytes, &format!("the manifest of {shown}"))?;
        let config_hex = parse_sha256(&manifest.config.digest, "the image config")?;
        if manifest.config.size.is_some_and(|s| s > MAX_JSON_BYTES) {
            return Err(ImageError::Invalid(format!(
                "the config of `{shown}` is larger than {MAX_JSON_BYTES} bytes; it is not a \
                 plausible image config"
            )));
        }
        let mut config_bytes = Vec::new();
        client
            .pull_blob(&reference, manifest.config.digest.as_str(), &mut config_bytes)
            .await
            .map_err(fail)?;
        if sha256_hex(&config_bytes) != config_hex {
            return Err(ImageError::Invalid(format!(
                "the config of `{shown}` from {registry} does not match its digest"
            )));
        }
        let config: ConfigFile = parse_json(&config_bytes, &format!("the config of {shown}"))?;
        let diff_ids = config.diff_ids(manifest.layers.len(), &format!("the config of {shown}"))?;

        let total: u64 = manifest.layers.iter().filter_map(|l| l.size).sum();
        let count = manifest.layers.len();
        let mut layers = Vec::with_capacity(count);
        let mut downloaded = 0;
        for (i, (layer, diff_id)) in manifest.layers.iter().zip(diff_ids).enumerate() {
            let hex = parse_sha256(&layer.digest, &format!("layer {} of `{shown}`", i + 1))?;
            let compression = Compression::from_media_type(layer.media_type.as_deref());
            if compression == Compression::Zstd {
                return Err(ImageError::Unsupported(format!(
                    "`{shown}` has zstd-compressed layers, which this server cannot unpack yet; \
                     use a gzip variant of the image"
                )));
            }
            let label = format!("{}/{count}", i + 1);
            let size = layer.size.map_or_else(|| "size unknown".to_owned(), human_size);
            let path = self.blob_path(&hex);
            if path.is_file() {
                notify(Notice::info(format!(
                    "pulling {shown}: layer {label} ({size}) already present"
                )));
            } else {
                notify(Notice::info(format!("pulling {shown}: layer {label} ({size})…")));
                let line = |done: u64| {
                    notify(Notice::info(format!(
                        "pulling {shown}: layer {label}: {} of {size}",
                        human_size(done)
                    )));
                };
                downloaded += self
                    .fetch_blob(&client, &reference, &hex, layer.size, registry, &line)
                    .await
                    .map_err(|e| match e {
                        BlobError::Client(e) => fail(e),
                        BlobError::Image(e) => e,
                    })?;
            }
            layers.push(LayerSource {
                file: path,
                offset: 0,
                len: layer.size,
                digest: Some(hex.clone()),
                diff_id,
                compression,
                label: format!("sha256:{hex}"),
            });
        }
        // Kept for warm starts without the registry and to know which blobs an image uses.
        self.write_blob(&config_hex, config_bytes).await?;
        self.write_blob(&manifest_hex, bytes.to_vec()).await?;
        notify(Notice::info(format!(
            "pulled {shown}: {count} layers, {} in total, {} downloaded in {:.1} s",
            human_size(total),
            human_size(downloaded),
            started.elapsed().as_secs_f64()
        )));
        let plan = Plan {
            key: manifest_hex,
            config: config.image_config(),
            layers,
            _temp: None,
            _held: Vec::new(),
        };
        Ok((plan, config_hex))
    }

    /// Downloads blob `hex` into the store unless it is there; one download per blob at a
    /// time. Returns the bytes downloaded.
    async fn fetch_blob(
        &self,
        client: &Client,
        reference: &Reference,
        hex: &str,
        size: Option<u64>,
        registry: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, BlobError> {
        let dest = self.blob_path(hex);
        let _guard = self.lock(&format!("blob:{hex}")).await;
        if dest.is_file() {
            return Ok(0);
        }
        let tmp = self.dirs().tmp;
        let staging =
            tmp.join(format!("blob.{}.{:016x}", std::process::id(), rand::random::<u64>()));
        let result = async {
            tokio::fs::create_dir_all(&tmp).await.map_err(|e| store_io("creating", &tmp, &e))?;
            let mut file = tokio::fs::File::create(&staging)
                .await
                .map_err(|e| store_io("creating", &staging, &e))?;
            let mut stream = client
                .pull_blob_stream(reference, format!("sha256:{hex}").as_str())
                .await
                .map_err(BlobError::Client)?;
            let (mut hasher, mut done, mut last) = (Sha256::new(), 0u64, Instant::now());
            let label = format!("sha256:{hex}");
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| download_error(&e, &label, registry))?;
                done += chunk.len() as u64;
                if size.is_some_and(|size| done > size) {
                    return Err(ImageError::Invalid(format!(
                        "layer {label} from {registry} is larger than its manifest says"
                    ))
                    .into());
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(|e| store_io("writing", &staging, &e))?;
                if last.elapsed() >= PROGRESS_EVERY {
                    progress(done);
                    last = Instant::now();
                }
            }
            let actual = format!("{:x}", hasher.finalize());
            if actual != hex || size.is_some_and(|size| size != done) {
                return Err(ImageError::Invalid(format!(
                    "layer {label} from {registry} is corrupt or truncated ({done} bytes hashing \
                     to sha256:{actual}); try again"
                ))
                .into());
            }
            file.sync_all().await.map_err(|e| store_io("syncing", &staging, &e))?;
            let parent = self.root.join("blobs").join("sha256");
            tokio::fs::create_dir_all(&parent)
                .await
                .map_err(|e| store_io("creating", &parent, &e))?;
            tokio::fs::rename(&staging, &dest)
                .await
                .map_err(|e| store_io("moving a downloaded layer to", &dest, &e))?;
            Ok(done)
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        result
    }

    /// Stores a small verified blob (atomically: staged, synced, renamed).
    async fn write_blob(&self, hex: &str, bytes: Vec<u8>) -> Result<(), ImageError> {
        let dest = self.blob_path(hex);
        let tmp = self.dirs().tmp;
        super::blocking(move || super::records::write_atomic(&tmp, &dest, &bytes)).await
    }
}

/// Failures of a blob download: the client's (classified by the caller) or ours.
enum BlobError {
    Client(OciDistributionError),
    Image(ImageError),
}

impl From<ImageError> for BlobError {
    fn from(e: ImageError) -> Self {
        Self::Image(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_only() {
        for yes in ["127.0.0.1:5000", "localhost", "LOCALHOST:80", "127.8.9.1", "[::1]:5000"] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in ["10.0.0.1:5000", "docker.io", "ghcr.io", "localhost.example.com", "[::2]:1"] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3482), "3.4 KiB");
        assert_eq!(human_size(12_900_000), "12.3 MiB");
        assert_eq!(human_size(3 << 30), "3.00 GiB");
    }

    #[test]
    fn docker_hub_names_and_mirrors() {
        let target = Target::parse("python:3.12-slim", Some("mirror.local:5000")).unwrap();
        assert_eq!(target.normalized, "docker.io/library/python:3.12-slim");
        assert!(!target.mutable);
        assert_eq!(target.sources.len(), 2);
        assert_eq!(target.sources[0].registry, "mirror.local:5000");
        assert_eq!(
            target.sources[0].reference.whole(),
            "mirror.local:5000/library/python:3.12-slim"
        );
        assert_eq!(target.sources[1].registry, "docker.io");
        assert_eq!(target.sources[1].reference.resolve_registry(), "index.docker.io");

        let local = Target::parse("127.0.0.1:5000/tools/bb", Some("mirror.local")).unwrap();
        assert!(local.mutable, "no tag means latest, which moves");
        assert_eq!(local.sources.len(), 1, "mirrors only stand in for Docker Hub");
        let pinned = format!("ghcr.io/a/b@sha256:{}", "a".repeat(64));
        assert!(!Target::parse(&pinned, None).unwrap().mutable);
        assert!(Target::parse("busybox:latest", None).unwrap().mutable);
    }
}
