//! Reading a `docker save` tarball (`manifest.json`, the config and the layer tars inside it).
//!
//! The archive is indexed once (member name → byte range) and layers are then read straight from
//! their ranges, so nothing is copied out of an uncompressed archive. A gzipped archive is first
//! decompressed into a temporary file next to the store.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::ImageError;
use super::access::{self, Want};
use super::digest::{is_sha256_hex, sha256_hex};
use super::flatten::{Compression, LayerSource, Plan, TempFile, ZSTD_MAGIC, is_gzip, store_io};
use super::spec::{ConfigFile, DockerArchiveEntry, MAX_JSON_BYTES, parse_json};

/// How many symlinks between members we follow (old archives link duplicate layers).
const MAX_MEMBER_LINKS: usize = 8;

/// Reads the archive at `path` and plans its image. `tmp` is where a gzipped archive is
/// decompressed.
/// The archive is opened under the rule of `access.rs` and read only through that descriptor.
pub(crate) fn plan(path: &Path, tmp: &Path) -> Result<Plan, ImageError> {
    let shown = path.display();
    let held = access::open_public(path, Want::File).map_err(|denied| {
        denied.into_error(|| {
            ImageError::NotFound(format!(
                "there is no docker archive at `{shown}`; create one with `docker save IMAGE -o \
                 {shown}`"
            ))
        })
    })?;
    let via = access::fd_path(&held);
    let mut file =
        File::open(&via).map_err(|e| ImageError::Io(format!("cannot read `{shown}`: {e}")))?;
    let read_err = |e: io::Error| ImageError::Io(format!("cannot read `{shown}`: {e}"));
    if file.metadata().map_err(read_err)?.is_dir() {
        return Err(ImageError::Invalid(format!(
            "`{shown}` is a directory; `docker-archive:` needs the tar file written by `docker \
             save` (use `oci-layout:` for an OCI layout directory)"
        )));
    }
    let mut head = [0u8; 4];
    let n = read_up_to(&mut file, &mut head).map_err(read_err)?;
    let head = &head[..n];
    if head.starts_with(ZSTD_MAGIC) {
        return Err(ImageError::Unsupported(format!(
            "`{shown}` is zstd-compressed, which this server cannot read; decompress it (`zstd \
             -d`) or save it uncompressed"
        )));
    }
    let (tar_path, temp) = if is_gzip(head) {
        let temp = decompress(&via, path, tmp)?;
        (temp.0.clone(), Some(temp))
    } else {
        (via, None)
    };
    let index = MemberIndex::build(&tar_path, path)?;

    let manifest_bytes = index.read_small(&tar_path, "manifest.json").map_err(|e| match e {
        ImageError::NotFound(_) => ImageError::Invalid(format!(
            "`{shown}` has no manifest.json, so it is not a `docker save` archive (an OCI layout \
             tarball must be unpacked and used as `oci-layout:DIR`)"
        )),
        other => other,
    })?;
    let entries: Vec<DockerArchiveEntry> =
        parse_json(&manifest_bytes, &format!("manifest.json in `{shown}`"))?;
    let entry = match entries.as_slice() {
        [one] => one,
        [] => return Err(ImageError::Invalid(format!("`{shown}` contains no image"))),
        many => {
            let tags: Vec<String> =
                many.iter().flat_map(|e| e.repo_tags.clone().unwrap_or_default()).collect();
            return Err(ImageError::Unsupported(format!(
                "`{shown}` contains {} images ({}); save a single image per archive (`docker \
                 save IMAGE -o FILE`)",
                many.len(),
                if tags.is_empty() { "untagged".to_owned() } else { tags.join(", ") }
            )));
        }
    };

    let config_bytes = index.read_small(&tar_path, &entry.config)?;
    let key = sha256_hex(&config_bytes);
    // Config members are named after their digest (`<hex>.json` or `blobs/sha256/<hex>`).
    if let Some(named) = digest_in_name(&entry.config).filter(|named| *named != key) {
        return Err(ImageError::Invalid(format!(
            "the config `{}` in `{shown}` is corrupt: its content hashes to sha256:{key}, not \
             sha256:{named}; save the image again",
            entry.config
        )));
    }
    let what = format!("the image config in `{shown}`");
    let config: ConfigFile = parse_json(&config_bytes, &what)?;
    let diff_ids = config.diff_ids(entry.layers.len(), &what)?;

    let mut layers = Vec::with_capacity(entry.layers.len());
    for (name, diff_id) in entry.layers.iter().zip(diff_ids) {
        let (offset, len) = index.locate(name)?;
        layers.push(LayerSource {
            file: tar_path.clone(),
            offset,
            len: Some(len),
            digest: digest_in_name(name).filter(|_| name.starts_with("blobs/")),
            diff_id,
            compression: Compression::Sniff,
            label: format!("`{name}` of `{shown}`"),
        });
    }
    Ok(Plan { key, config: config.image_config(), layers, _temp: temp, _held: vec![held] })
}

/// The 64-hex digest a member is named after, if it is.
fn digest_in_name(name: &str) -> Option<String> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    is_sha256_hex(hex).then(|| hex.to_owned())
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            m => n += m,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(n)
}

/// Decompresses a gzipped archive into `tmp`.
fn decompress(via: &Path, path: &Path, tmp: &Path) -> Result<TempFile, ImageError> {
    fs::create_dir_all(tmp).map_err(|e| store_io("creating", tmp, &e))?;
    let out =
        tmp.join(format!("archive.{}.{:016x}.tar", std::process::id(), rand::random::<u64>()));
    let temp = TempFile(out.clone());
    let input = File::open(via)
        .map_err(|e| ImageError::Io(format!("cannot read `{}`: {e}", path.display())))?;
    let mut output = File::create(&out).map_err(|e| store_io("creating", &out, &e))?;
    io::copy(&mut MultiGzDecoder::new(input), &mut output).map_err(|e| {
        ImageError::Invalid(format!(
            "`{}` could not be decompressed (corrupt gzip?): {e}",
            path.display()
        ))
    })?;
    Ok(temp)
}

enum Member {
    File { offset: u64, len: u64 },
    Link(String),
}

/// Where each member of an uncompressed tar lies.
struct MemberIndex {
    members: HashMap<String, Member>,
    shown: PathBuf,
}

impl MemberIndex {
    fn build(tar_path: &Path, shown: &Path) -> Result<Self, ImageError> {
        let not_tar = |e: io::Error| {
            ImageError::Invalid(format!(
                "`{}` is not a readable tar archive: {e}; `docker-archive:` needs the file written \
                 by `docker save`",
                shown.display()
            ))
        };
        let file = File::open(tar_path)
            .map_err(|e| ImageError::Io(format!("cannot read `{}`: {e}", tar_path.display())))?;
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        for entry in archive.entries_with_seek().map_err(not_tar)? {
            let entry = entry.map_err(not_tar)?;
            let name = resolve_dots(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            let member = if kind.is_symlink() || kind.is_hard_link() {
                let Some(target) = entry.link_name_bytes() else { continue };
                let target = String::from_utf8_lossy(&target).into_owned();
                // Symlinks are relative to their directory; hard links name a member.
                let target = match (kind.is_symlink(), name.rsplit_once('/')) {
                    (true, Some((dir, _))) if !target.starts_with('/') => format!("{dir}/{target}"),
                    _ => target,
                };
                Member::Link(target)
            } else if kind.is_file() {
                Member::File { offset: entry.raw_file_position(), len: entry.size() }
            } else {
                continue;
            };
            members.insert(name, member);
        }
        Ok(Self { members, shown: shown.to_path_buf() })
    }

    /// The byte range of `name`, following links between members.
    fn locate(&self, name: &str) -> Result<(u64, u64), ImageError> {
        let mut current = resolve_dots(name);
        for _ in 0..=MAX_MEMBER_LINKS {
            match self.members.get(&current) {
                Some(Member::File { offset, len }) => return Ok((*offset, *len)),
                Some(Member::Link(target)) => current = resolve_dots(target),
                None => break,
            }
        }
        Err(ImageError::NotFound(format!(
            "`{}` names `{name}` but the archive has no such file; the archive is incomplete, \
             save the image again",
            self.shown.display()
        )))
    }

    /// Reads a small member (manifest, config).
    fn read_small(&self, tar_path: &Path, name: &str) -> Result<Vec<u8>, ImageError> {
        let (offset, len) = self.locate(name)?;
        if len > MAX_JSON_BYTES {
            return Err(ImageError::Invalid(format!(
                "`{name}` in `{}` is {len} bytes, too large for a JSON document",
                self.shown.display()
            )));
        }
        let read_err =
            |e: io::Error| ImageError::Io(format!("cannot read `{}`: {e}", tar_path.display()));
        let mut file = File::open(tar_path).map_err(read_err)?;
        file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
        let mut bytes = Vec::new();
        file.take(len).read_to_end(&mut bytes).map_err(read_err)?;
        Ok(bytes)
    }
}

/// Normalises `a/./b/../c` to `a/c` (member names only; nothing here touches the filesystem).
fn resolve_dots(name: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(part),
        }
    }
    out.join("/")
}
