//! Tests of the image store. Every layout and archive is built here, byte by byte, with the
//! same crates the store reads them with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod docker;
mod host;
mod oci;
mod reference;
mod unpack;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression as GzLevel, write::GzEncoder};
use serde_json::{Value, json};
use tar::{EntryType, Header};

use super::digest::sha256_hex;

/// One entry of a test layer. Paths and link names are written verbatim (no validation), so
/// malicious entries can be built too.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) path: String,
    pub(super) kind: EntryType,
    pub(super) data: Vec<u8>,
    pub(super) link: String,
    pub(super) mode: u32,
    pub(super) uid: u64,
    pub(super) gid: u64,
    pub(super) mtime: u64,
}

const MTIME: u64 = 1_700_000_000;

fn entry(path: &str, kind: EntryType, mode: u32) -> Entry {
    Entry {
        path: path.to_owned(),
        kind,
        data: Vec::new(),
        link: String::new(),
        mode,
        uid: 0,
        gid: 0,
        mtime: MTIME,
    }
}

pub(super) fn dir(path: &str) -> Entry {
    entry(path, EntryType::Directory, 0o755)
}

pub(super) fn file(path: &str, data: &str) -> Entry {
    Entry { data: data.as_bytes().to_vec(), ..entry(path, EntryType::Regular, 0o644) }
}

pub(super) fn exec(path: &str, data: &str) -> Entry {
    Entry { mode: 0o755, ..file(path, data) }
}

pub(super) fn symlink(path: &str, target: &str) -> Entry {
    Entry { link: target.to_owned(), ..entry(path, EntryType::Symlink, 0o777) }
}

pub(super) fn hardlink(path: &str, target: &str) -> Entry {
    Entry { link: target.to_owned(), ..entry(path, EntryType::Link, 0o644) }
}

/// A whiteout deleting `dir/name` from lower layers.
pub(super) fn whiteout(path: &str) -> Entry {
    let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
    let wh = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
    file(&wh, "")
}

/// The opaque marker of `dir`.
pub(super) fn opaque(dir: &str) -> Entry {
    file(&format!("{dir}/.wh..wh..opq"), "")
}

/// A layer tar of `entries`.
pub(super) fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..e.path.len()].copy_from_slice(e.path.as_bytes());
        gnu.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        header.set_entry_type(e.kind);
        header.set_size(e.data.len() as u64);
        header.set_mode(e.mode);
        header.set_uid(e.uid);
        header.set_gid(e.gid);
        header.set_mtime(e.mtime);
        header.set_cksum();
        builder.append(&header, e.data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), GzLevel::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub(super) const MEDIA_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub(super) const MEDIA_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub(super) const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(super) const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A test layer: its uncompressed tar and how to store it.
pub(super) struct Layer {
    pub(super) tar: Vec<u8>,
    pub(super) gzip: bool,
}

/// An OCI image layout under construction.
pub(super) struct Layout {
    pub(super) dir: PathBuf,
}

impl Layout {
    pub(super) fn new(dir: &Path) -> Self {
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Self { dir: dir.to_path_buf() }
    }

    /// Stores `bytes`; returns its descriptor (without media type).
    pub(super) fn blob(&self, bytes: &[u8]) -> Value {
        let hex = sha256_hex(bytes);
        fs::write(self.blob_path(&hex), bytes).unwrap();
        json!({ "digest": format!("sha256:{hex}"), "size": bytes.len() })
    }

    pub(super) fn blob_path(&self, hex: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(hex)
    }

    /// Stores an image; returns the manifest's descriptor.
    pub(super) fn image(&self, layers: &[Layer], config: Value) -> Value {
        let mut config = config;
        let diff_ids: Vec<String> =
            layers.iter().map(|l| format!("sha256:{}", sha256_hex(&l.tar))).collect();
        config["rootfs"] = json!({ "type": "layers", "diff_ids": diff_ids });
        self.image_raw(layers, &config)
    }

    /// Stores an image with `config` exactly as given.
    pub(super) fn image_raw(&self, layers: &[Layer], config: &Value) -> Value {
        let layer_descs: Vec<Value> = layers
            .iter()
            .map(|l| {
                let (bytes, media) = if l.gzip {
                    (gzip(&l.tar), MEDIA_TAR_GZIP)
                } else {
                    (l.tar.clone(), MEDIA_TAR)
                };
                with_media(self.blob(&bytes), media)
            })
            .collect();
        let config_desc = with_media(
            self.blob(&serde_json::to_vec(config).unwrap()),
            "application/vnd.oci.image.config.v1+json",
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": config_desc,
            "layers": layer_descs,
        });
        with_media(self.blob(&serde_json::to_vec(&manifest).unwrap()), MEDIA_MANIFEST)
    }

    pub(super) fn write_index(&self, manifests: Vec<Value>) {
        let index = json!({ "schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests });
        fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }
}

pub(super) fn with_media(mut desc: Value, media: &str) -> Value {
    desc["mediaType"] = json!(media);
    desc
}

pub(super) fn tagged(mut desc: Value, tag: &str) -> Value {
    desc["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
    desc
}

pub(super) fn config_json() -> Value {
    json!({
        "architecture": super::oci::host_architecture(),
        "os": "linux",
        "config": {
            "Entrypoint": ["/usr/bin/tool"],
            "Cmd": ["--serve"],
            "Env": ["PATH=/usr/bin:/bin", "A=b=c"],
            "User": "1000:1000",
            "WorkingDir": "/opt",
        },
    })
}

/// A two-layer image: the second layer whites out `etc/gone`, makes `opt` opaque (the marker
/// comes after `opt/new`, which must survive) and writes through the `bin -> usr/bin` symlink.
pub(super) fn two_layers() -> Vec<Layer> {
    let lower = tar_of(&[
        dir("etc"),
        file("etc/keep", "keep"),
        file("etc/gone", "gone"),
        dir("opt"),
        file("opt/a", "a"),
        dir("opt/sub"),
        file("opt/sub/b", "b"),
        dir("usr"),
        dir("usr/bin"),
        exec("usr/bin/tool", "#!/bin/sh\n"),
        hardlink("usr/bin/tool2", "usr/bin/tool"),
        symlink("bin", "usr/bin"),
    ]);
    let upper = tar_of(&[
        whiteout("etc/gone"),
        file("opt/new", "new"),
        opaque("opt"),
        file("bin/added", "added"),
    ]);
    vec![Layer { tar: lower, gzip: true }, Layer { tar: upper, gzip: false }]
}

/// Every path under `root`, relative, sorted (symlinks not followed).
pub(super) fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// A temporary directory other users can search (`tempdir()` is 0700), so that local images
/// in it pass the rule of `access.rs`.
pub(super) fn public_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    tmp
}
