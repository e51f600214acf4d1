//! `docker-archive:` references end to end.

use std::fs;
use std::path::Path;

use serde_json::json;

use super::*;
use crate::images::{ImageError, ImageStore};

/// Members of a `docker save` tarball: (name, content) or (name, symlink target).
enum Member {
    File(String, Vec<u8>),
    Link(String, String),
}

fn archive(members: &[Member]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for member in members {
        match member {
            Member::File(name, data) => {
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append_data(&mut header, name, data.as_slice()).unwrap();
            }
            Member::Link(name, target) => {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, name, target).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

fn config_bytes(layers: &[&[u8]]) -> Vec<u8> {
    let mut config = config_json();
    config["rootfs"] = json!({
        "type": "layers",
        "diff_ids": layers.iter().map(|l| format!("sha256:{}", sha256_hex(l))).collect::<Vec<_>>(),
    });
    serde_json::to_vec(&config).unwrap()
}

/// The classic format: `<id>/layer.tar` members, the config as `<hex>.json`; the second layer
/// is gzipped and a third entry repeats the first layer through a symlink (as docker does for
/// shared layers).
fn classic_archive(dir: &Path) -> (std::path::PathBuf, String) {
    let layers = two_layers();
    let lower = &layers[0].tar;
    let upper = &layers[1].tar;
    let extra = tar_of(&[file("etc/keep", "overwritten by a third layer")]);
    let config = config_bytes(&[lower, upper, &extra, lower]);
    let config_hex = sha256_hex(&config);
    let manifest = json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": ["test/image:latest"],
        "Layers": ["aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar", "ddd/layer.tar"],
    }]);
    let bytes = archive(&[
        Member::File("aaa/layer.tar".into(), lower.clone()),
        Member::File("aaa/VERSION".into(), b"1.0".to_vec()),
        Member::File("bbb/layer.tar".into(), gzip(upper)),
        Member::File("ccc/layer.tar".into(), extra),
        Member::Link("ddd/layer.tar".into(), "../aaa/layer.tar".into()),
        Member::File(format!("{config_hex}.json"), config),
        Member::File("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()),
        Member::File("repositories".into(), b"{}".to_vec()),
    ]);
    let path = dir.join("image.tar");
    fs::write(&path, bytes).unwrap();
    (path, config_hex)
}

#[tokio::test]
async fn flattens_a_classic_docker_save_archive() {
    let tmp = public_tempdir();
    let (path, config_hex) = classic_archive(tmp.path());
    let store = ImageStore::new(tmp.path().join("images"));
    let reference = format!("docker-archive:{}", path.display());
    let image = store.resolve(&reference).await.unwrap();
    assert_eq!(image.reference, reference);
    assert_eq!(image.rootfs, tmp.path().join("images/rootfs").join(&config_hex));
    // The fourth layer (the first again) restores etc/gone and opt's lower files.
    let root = &image.rootfs;
    assert_eq!(fs::read_to_string(root.join("etc/keep")).unwrap(), "keep");
    assert_eq!(fs::read_to_string(root.join("etc/gone")).unwrap(), "gone");
    assert!(root.join("opt/new").is_file() && root.join("opt/sub/b").is_file());
    assert!(root.join("usr/bin/added").is_file());
    assert_eq!(image.config.entrypoint, ["/usr/bin/tool"]);
    assert_eq!(image.config.workdir.as_deref(), Some("/opt"));
    // Cached: the archive is re-read for its config (the key), the layers are not unpacked again.
    fs::write(root.join("marker"), "m").unwrap();
    let again = store.resolve(&reference).await.unwrap();
    assert_eq!(again.rootfs, image.rootfs);
    assert!(again.rootfs.join("marker").is_file());
}

#[tokio::test]
async fn flattens_a_gzipped_oci_style_docker_archive() {
    let tmp = public_tempdir();
    let layers = two_layers();
    let (lower, upper) = (gzip(&layers[0].tar), layers[1].tar.clone());
    let config = config_bytes(&[&layers[0].tar, &upper]);
    let (config_hex, lower_hex, upper_hex) =
        (sha256_hex(&config), sha256_hex(&lower), sha256_hex(&upper));
    let manifest = json!([{
        "Config": format!("blobs/sha256/{config_hex}"),
        "RepoTags": null,
        "Layers": [format!("blobs/sha256/{lower_hex}"), format!("blobs/sha256/{upper_hex}")],
    }]);
    let bytes = archive(&[
        Member::File("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        Member::File(format!("blobs/sha256/{lower_hex}"), lower),
        Member::File(format!("blobs/sha256/{upper_hex}"), upper),
        Member::File(format!("blobs/sha256/{config_hex}"), config),
        Member::File("manifest.json".into(), serde_json::to_vec(&manifest).unwrap()),
    ]);
    let path = tmp.path().join("image.tar.gz");
    fs::write(&path, gzip(&bytes)).unwrap();
    let store = ImageStore::new(tmp.path().join("images"));
    let image = store.resolve(&format!("docker-archive:{}", path.display())).await.unwrap();
    assert_eq!(image.rootfs.file_name().unwrap().to_str(), Some(config_hex.as_str()));
    assert_eq!(tree(&image.rootfs).len(), 10);
    // The decompressed copy is removed.
    assert_eq!(fs::read_dir(tmp.path().join("images/tmp")).unwrap().count(), 0);
}

#[tokio::test]
async fn broken_docker_archives_are_refused() {
    let tmp = public_tempdir();
    let store = ImageStore::new(tmp.path().join("images"));
    let resolve = |path: &Path| {
        let store = store.clone();
        let reference = format!("docker-archive:{}", path.display());
        async move { store.resolve(&reference).await.unwrap_err() }
    };

    let err = resolve(&tmp.path().join("missing.tar")).await;
    assert!(matches!(&err, ImageError::NotFound(m) if m.contains("docker save")), "{err:?}");

    let no_manifest = tmp.path().join("no-manifest.tar");
    fs::write(&no_manifest, archive(&[Member::File("x".into(), b"x".to_vec())])).unwrap();
    let err = resolve(&no_manifest).await;
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("manifest.json")), "{err:?}");

    let layer = tar_of(&[file("f", "f")]);
    let config = config_bytes(&[&layer]);
    let hex = sha256_hex(&config);
    let two = json!([
        { "Config": format!("{hex}.json"), "RepoTags": ["a:1"], "Layers": ["l/layer.tar"] },
        { "Config": format!("{hex}.json"), "RepoTags": ["b:2"], "Layers": ["l/layer.tar"] },
    ]);
    let several = tmp.path().join("several.tar");
    fs::write(
        &several,
        archive(&[
            Member::File("l/layer.tar".into(), layer.clone()),
            Member::File(format!("{hex}.json"), config.clone()),
            Member::File("manifest.json".into(), serde_json::to_vec(&two).unwrap()),
        ]),
    )
    .unwrap();
    let err = resolve(&several).await;
    assert!(matches!(&err, ImageError::Unsupported(m) if m.contains("a:1, b:2")), "{err:?}");

    // A layer that does not match the config's diff_id.
    let one = json!([{ "Config": format!("{hex}.json"), "Layers": ["l/layer.tar"] }]);
    let tampered = tmp.path().join("tampered.tar");
    fs::write(
        &tampered,
        archive(&[
            Member::File("l/layer.tar".into(), tar_of(&[file("f", "evil")])),
            Member::File(format!("{hex}.json"), config),
            Member::File("manifest.json".into(), serde_json::to_vec(&one).unwrap()),
        ]),
    )
    .unwrap();
    let err = resolve(&tampered).await;
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("image config says")), "{err:?}");
    assert!(!tmp.path().join("images/rootfs").join(&hex).exists());

    // A layer the manifest names but the archive lacks.
    let config = config_bytes(&[&layer]);
    let lacking = tmp.path().join("lacking.tar");
    fs::write(
        &lacking,
        archive(&[
            Member::File(format!("{hex}.json"), config),
            Member::File("manifest.json".into(), serde_json::to_vec(&one).unwrap()),
        ]),
    )
    .unwrap();
    let err = resolve(&lacking).await;
    assert!(matches!(&err, ImageError::NotFound(m) if m.contains("l/layer.tar")), "{err:?}");
}

/// A local user must not get an image the server can read but they cannot: a private archive
/// (or one behind a symlink) is refused at create (`check_reference`) and at resolve.
#[tokio::test]
async fn archives_other_users_cannot_read_are_refused() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = public_tempdir();
    let (path, _) = classic_archive(tmp.path());
    let store = ImageStore::new(tmp.path().join("images"));
    let reference = format!("docker-archive:{}", path.display());
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    let why = ImageStore::check_reference(&reference).unwrap_err();
    assert!(why.contains("not readable by other users") && why.contains("chmod o+r"), "{why}");
    let err = store.resolve(&reference).await.unwrap_err();
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("other users")), "{err:?}");

    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let link = tmp.path().join("link.tar");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let linked = format!("docker-archive:{}", link.display());
    assert!(ImageStore::check_reference(&linked).unwrap_err().contains("symbolic link"));
    assert!(store.resolve(&linked).await.is_err());
    assert_eq!(ImageStore::check_reference(&reference), Ok(()));
    let image = store.resolve(&reference).await.unwrap();
    if fs::metadata("/proc/self").unwrap().uid() == 0 {
        // Unpacked into the sandboxes' id range, not as host root.
        let ids = crate::runtime::idmap::range().unwrap();
        assert_eq!(fs::metadata(image.rootfs.join("etc/keep")).unwrap().uid(), ids.uid_base);
    }
}

/// A rootfs unpacked by an older server (owned by host root, not shifted into the id range) is
/// unpacked again rather than run as it is.
#[tokio::test]
async fn a_rootfs_unpacked_before_the_id_shift_is_replaced() {
    use std::os::unix::fs::MetadataExt;
    if fs::metadata("/proc/self").unwrap().uid() != 0 {
        return; // only root can shift owners
    }
    let tmp = public_tempdir();
    let (path, _) = classic_archive(tmp.path());
    let store = ImageStore::new(tmp.path().join("images"));
    let reference = format!("docker-archive:{}", path.display());
    let image = store.resolve(&reference).await.unwrap();
    let ids = crate::runtime::idmap::range().unwrap();
    assert_eq!(fs::metadata(&image.rootfs).unwrap().uid(), ids.uid_base);
    // What an older server left: everything owned by host root.
    std::os::unix::fs::chown(&image.rootfs, Some(0), Some(0)).unwrap();
    std::os::unix::fs::chown(image.rootfs.join("etc/keep"), Some(0), Some(0)).unwrap();
    let again = store.resolve(&reference).await.unwrap();
    assert_eq!(again.rootfs, image.rootfs);
    assert_eq!(fs::metadata(&again.rootfs).unwrap().uid(), ids.uid_base);
    assert_eq!(fs::metadata(again.rootfs.join("etc/keep")).unwrap().uid(), ids.uid_base);
}
