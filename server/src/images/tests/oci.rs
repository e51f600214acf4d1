//! `oci-layout:` references end to end.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Instant;

use serde_json::json;

use super::*;
use crate::images::{ImageError, ImageOptions, ImageStore, OfflineImages};

fn store(tmp: &Path) -> ImageStore {
    ImageStore::new(tmp.join("images"))
}

fn reference(layout: &Layout, tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("oci-layout:{}:{tag}", layout.dir.display()),
        None => format!("oci-layout:{}", layout.dir.display()),
    }
}

/// A layout holding the two-layer image tagged `latest`.
fn standard_layout(tmp: &Path) -> (Layout, String) {
    let layout = Layout::new(&tmp.join("layout"));
    let desc = layout.image(&two_layers(), config_json());
    let hex = desc["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
    layout.write_index(vec![tagged(desc, "latest")]);
    (layout, hex)
}

#[tokio::test]
async fn flattens_layers_with_whiteouts_and_opaque_dirs() {
    let tmp = public_tempdir();
    let (layout, manifest_hex) = standard_layout(tmp.path());
    let image = store(tmp.path()).resolve(&reference(&layout, None)).await.unwrap();

    assert_eq!(image.rootfs, tmp.path().join("images/rootfs").join(&manifest_hex));
    assert!(image.mounts.is_empty());
    let root = &image.rootfs;
    assert_eq!(
        tree(root),
        [
            "bin",
            "etc",
            "etc/keep",
            "opt",
            "opt/new",
            "usr",
            "usr/bin",
            "usr/bin/added",
            "usr/bin/tool",
            "usr/bin/tool2",
        ]
    );
    assert_eq!(fs::read_link(root.join("bin")).unwrap(), Path::new("usr/bin"));
    assert_eq!(fs::read_to_string(root.join("usr/bin/added")).unwrap(), "added");
    let tool = fs::metadata(root.join("usr/bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o755);
    assert_eq!(tool.mtime(), 1_700_000_000);
    assert_eq!(tool.nlink(), 2, "tool2 is a hard link to tool");
    assert_eq!(tool.ino(), fs::metadata(root.join("usr/bin/tool2")).unwrap().ino());
    assert_eq!(fs::metadata(root).unwrap().mode() & 0o777, 0o755);

    let config = &image.config;
    assert_eq!(config.entrypoint, ["/usr/bin/tool"]);
    assert_eq!(config.cmd, ["--serve"]);
    assert_eq!(
        config.env,
        [("PATH".to_owned(), "/usr/bin:/bin".to_owned()), ("A".to_owned(), "b=c".to_owned())]
    );
    assert_eq!(config.user.as_deref(), Some("1000:1000"));
    assert_eq!(config.workdir.as_deref(), Some("/opt"));
    // No staging leftovers.
    assert_eq!(fs::read_dir(tmp.path().join("images/tmp")).unwrap().count(), 0);
}

fn one_file_image(layout: &Layout, name: &str) -> serde_json::Value {
    let layer = Layer { tar: tar_of(&[file(name, name)]), gzip: true };
    layout.image(&[layer], json!({ "config": { "Cmd": [name] } }))
}

#[tokio::test]
async fn selects_images_by_tag() {
    let tmp = public_tempdir();
    let layout = Layout::new(&tmp.path().join("layout"));
    let v1 = one_file_image(&layout, "one");
    let v2 = one_file_image(&layout, "two");
    // Some tools store the full reference as the name.
    let v3 = one_file_image(&layout, "three");
    layout.write_index(vec![
        tagged(v1, "v1"),
        tagged(v2, "v2"),
        tagged(v3, "docker.io/library/thing:3.20"),
    ]);
    let store = store(tmp.path());

    let one = store.resolve(&reference(&layout, Some("v1"))).await.unwrap();
    assert!(one.rootfs.join("one").is_file() && !one.rootfs.join("two").exists());
    assert_eq!(one.config.cmd, ["one"]);
    assert_eq!(one.config.entrypoint, Vec::<String>::new());
    assert_eq!(one.config.user, None);
    let two = store.resolve(&reference(&layout, Some("v2"))).await.unwrap();
    assert!(two.rootfs.join("two").is_file());
    assert_ne!(one.rootfs, two.rootfs);
    let three = store.resolve(&reference(&layout, Some("3.20"))).await.unwrap();
    assert!(three.rootfs.join("three").is_file());

    // No tag means `latest`, which this layout lacks.
    let err = store.resolve(&reference(&layout, None)).await.unwrap_err();
    let ImageError::NotFound(message) = err else { panic!("{err:?}") };
    assert!(message.contains("`latest`") && message.contains("v1, v2"), "{message}");

    let err = store.resolve(&reference(&layout, Some("v9"))).await.unwrap_err();
    let ImageError::NotFound(message) = err else { panic!("{err:?}") };
    assert!(message.contains("`v9`") && message.contains("available tags: v1, v2"), "{message}");
}

#[tokio::test]
async fn a_single_untagged_image_needs_no_tag() {
    let tmp = public_tempdir();
    let layout = Layout::new(&tmp.path().join("layout"));
    let only = one_file_image(&layout, "only");
    layout.write_index(vec![only]);
    let store = store(tmp.path());
    let image = store.resolve(&reference(&layout, None)).await.unwrap();
    assert!(image.rootfs.join("only").is_file());
    // An explicit tag must exist, though.
    let err = store.resolve(&reference(&layout, Some("latest"))).await.unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn picks_this_machines_platform_from_a_nested_index() {
    let tmp = public_tempdir();
    let layout = Layout::new(&tmp.path().join("layout"));
    let ours = super::super::oci::host_architecture();
    let other_arch = if ours == "amd64" { "arm64" } else { "amd64" };
    let mut other = one_file_image(&layout, "other");
    other["platform"] = json!({ "architecture": other_arch, "os": "linux" });
    let mut attestation = one_file_image(&layout, "attestation");
    attestation["platform"] = json!({ "architecture": "unknown", "os": "unknown" });
    let mut native = one_file_image(&layout, "native");
    native["platform"] = json!({ "architecture": ours, "os": "linux" });
    let nested = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [other, attestation, native],
    });
    let nested_desc = with_media(layout.blob(&serde_json::to_vec(&nested).unwrap()), MEDIA_INDEX);
    layout.write_index(vec![tagged(nested_desc, "multi")]);

    let image = store(tmp.path()).resolve(&reference(&layout, Some("multi"))).await.unwrap();
    assert!(image.rootfs.join("native").is_file());
    assert!(!image.rootfs.join("other").exists());
}

#[tokio::test]
async fn a_corrupt_layer_is_refused() {
    let tmp = public_tempdir();
    let (layout, _) = standard_layout(tmp.path());
    // Flip one byte of the plain (second) layer, keeping its size.
    let manifest = newest_manifest(&layout);
    let hex = manifest["layers"][1]["digest"].as_str().unwrap().trim_start_matches("sha256:");
    let path = layout.blob_path(hex);
    let mut bytes = fs::read(&path).unwrap();
    bytes[600] ^= 0x55;
    fs::write(&path, bytes).unwrap();

    let store = store(tmp.path());
    let err = store.resolve(&reference(&layout, None)).await.unwrap_err();
    let ImageError::Invalid(message) = err else { panic!("{err:?}") };
    assert!(message.contains("is corrupt") && message.contains(hex), "{message}");
    // Nothing was published and the staging area is gone.
    assert!(!tmp.path().join("images/rootfs").exists());
    assert_eq!(fs::read_dir(tmp.path().join("images/tmp")).unwrap().count(), 0);
}

fn newest_manifest(layout: &Layout) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.dir.join("index.json")).unwrap()).unwrap();
    let hex = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:");
    serde_json::from_slice(&fs::read(layout.blob_path(hex)).unwrap()).unwrap()
}

#[tokio::test]
async fn a_corrupt_config_or_diff_id_is_refused() {
    let tmp = public_tempdir();
    let (layout, _) = standard_layout(tmp.path());
    let manifest = newest_manifest(&layout);
    let config_hex = manifest["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:");
    let config_path = layout.blob_path(config_hex);
    let original = fs::read(&config_path).unwrap();
    fs::write(&config_path, [original.as_slice(), b" "].concat()).unwrap();
    let store = store(tmp.path());
    let err = store.resolve(&reference(&layout, None)).await.unwrap_err();
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("image config")), "{err:?}");

    // A config whose diff_id does not match the (intact) layer.
    let layout2 = Layout::new(&tmp.path().join("layout2"));
    let mut config = config_json();
    config["rootfs"] =
        json!({ "type": "layers", "diff_ids": [format!("sha256:{}", "0".repeat(64))] });
    let desc = layout2.image_raw(&[Layer { tar: tar_of(&[file("f", "x")]), gzip: true }], &config);
    layout2.write_index(vec![tagged(desc, "latest")]);
    let err = store.resolve(&reference(&layout2, None)).await.unwrap_err();
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("image config says")), "{err:?}");
}

#[tokio::test]
async fn missing_layouts_and_blobs_are_not_found() {
    let tmp = public_tempdir();
    let store = store(tmp.path());
    let err = store.resolve("oci-layout:/nonexistent/layout:v1").await.unwrap_err();
    assert!(
        matches!(&err, ImageError::NotFound(m) if m.contains("/nonexistent/layout")),
        "{err:?}"
    );

    let (layout, _) = standard_layout(tmp.path());
    let manifest = newest_manifest(&layout);
    let hex = manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:");
    fs::remove_file(layout.blob_path(hex)).unwrap();
    let err = store.resolve(&reference(&layout, None)).await.unwrap_err();
    assert!(matches!(&err, ImageError::NotFound(m) if m.contains(hex)), "{err:?}");

    // A directory without `oci-layout`.
    fs::create_dir(tmp.path().join("plain")).unwrap();
    let err = store
        .resolve(&format!("oci-layout:{}", tmp.path().join("plain").display()))
        .await
        .unwrap_err();
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("oci-layout")), "{err:?}");
}

#[tokio::test]
async fn zstd_layers_are_unsupported() {
    let tmp = public_tempdir();
    let layout = Layout::new(&tmp.path().join("layout"));
    // A real zstd frame header is enough: the layer is refused before decoding.
    let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
    let layer = with_media(layout.blob(&zstd), "application/vnd.oci.image.layer.v1.tar+zstd");
    let config = with_media(layout.blob(b"{}"), "application/vnd.oci.image.config.v1+json");
    let manifest = json!({
        "schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": config, "layers": [layer],
    });
    let desc = with_media(layout.blob(&serde_json::to_vec(&manifest).unwrap()), MEDIA_MANIFEST);
    layout.write_index(vec![tagged(desc, "latest")]);
    let err = store(tmp.path()).resolve(&reference(&layout, None)).await.unwrap_err();
    assert!(matches!(&err, ImageError::Unsupported(m) if m.contains("zstd")), "{err:?}");
}

#[tokio::test]
async fn a_gzipped_layer_labelled_plain_is_sniffed() {
    let tmp = public_tempdir();
    let layout = Layout::new(&tmp.path().join("layout"));
    let tar = tar_of(&[file("hello", "world")]);
    let layer = with_media(layout.blob(&gzip(&tar)), MEDIA_TAR);
    let config = json!({ "rootfs": { "diff_ids": [format!("sha256:{}", sha256_hex(&tar))] } });
    let config = with_media(
        layout.blob(&serde_json::to_vec(&config).unwrap()),
        "application/vnd.oci.image.config.v1+json",
    );
    let manifest = json!({ "schemaVersion": 2, "config": config, "layers": [layer] });
    // No media types on the descriptor nor in the manifest: recognised by shape.
    let desc = layout.blob(&serde_json::to_vec(&manifest).unwrap());
    layout.write_index(vec![desc]);
    let image = store(tmp.path()).resolve(&reference(&layout, None)).await.unwrap();
    assert_eq!(fs::read_to_string(image.rootfs.join("hello")).unwrap(), "world");
}

#[tokio::test]
async fn a_second_resolve_reuses_the_unpacked_rootfs() {
    let tmp = public_tempdir();
    let (layout, _) = standard_layout(tmp.path());
    let store = store(tmp.path());
    let reference = reference(&layout, None);
    let first = store.resolve(&reference).await.unwrap();
    fs::write(first.rootfs.join("marker"), "still here").unwrap();
    // Without its layers the image could not be unpacked again: reuse is the only way.
    let manifest = newest_manifest(&layout);
    for layer in manifest["layers"].as_array().unwrap() {
        fs::remove_file(
            layout.blob_path(layer["digest"].as_str().unwrap().trim_start_matches("sha256:")),
        )
        .unwrap();
    }
    let started = Instant::now();
    let second = store.resolve(&reference).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(second, first);
    assert_eq!(fs::read_to_string(second.rootfs.join("marker")).unwrap(), "still here");
    assert!(elapsed.as_millis() < 2000, "cached resolve took {elapsed:?}");
    // A fresh store over the same directory (a server restart) reuses it too.
    let third = ImageStore::new(tmp.path().join("images")).resolve(&reference).await.unwrap();
    assert_eq!(third.rootfs, first.rootfs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resolves_unpack_once() {
    let tmp = public_tempdir();
    let (layout, _) = standard_layout(tmp.path());
    let store = store(tmp.path());
    let reference = reference(&layout, None);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (store, reference) = (store.clone(), reference.clone());
            tokio::spawn(async move { store.resolve(&reference).await })
        })
        .collect();
    let mut rootfs = Vec::new();
    for task in tasks {
        rootfs.push(task.await.unwrap().unwrap().rootfs);
    }
    assert!(rootfs.iter().all(|r| *r == rootfs[0]));
    assert_eq!(fs::read_dir(tmp.path().join("images/rootfs")).unwrap().count(), 1);
    assert_eq!(fs::read_dir(tmp.path().join("images/tmp")).unwrap().count(), 0);
    assert!(rootfs[0].join("opt/new").is_file());
}

#[tokio::test]
async fn malicious_layers_never_escape_the_rootfs() {
    let tmp = public_tempdir();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("canary"), "untouched").unwrap();
    let layout = Layout::new(&tmp.path().join("layout"));
    let escape = outside.to_str().unwrap();
    // A symlink to the outside, then writes through it; then `..`.
    let layer = tar_of(&[
        symlink("esc", escape),
        file("esc/canary", "pwned"),
        file("esc/new", "pwned"),
        file("../evil", "pwned"),
    ]);
    let desc = layout.image(&[Layer { tar: layer, gzip: true }], json!({}));
    layout.write_index(vec![tagged(desc, "latest")]);
    let err = store(tmp.path()).resolve(&reference(&layout, None)).await.unwrap_err();
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("../evil")), "{err:?}");
    assert_eq!(fs::read_to_string(outside.join("canary")).unwrap(), "untouched");
    assert!(!outside.join("new").exists());
    assert!(!tmp.path().join("evil").exists() && !tmp.path().join("images/evil").exists());
    assert!(!tmp.path().join("images/rootfs").exists());
}

#[tokio::test]
async fn unreachable_registries_fall_back_to_host_or_fail_and_bad_references_are_invalid() {
    let tmp = public_tempdir();
    // A loopback port nothing listens on: connection refused, like a machine without a route.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let reference = format!("127.0.0.1:{port}/library/python:3.12-slim");
    // Failing is the default: the reason names the registry and the setting to change.
    let strict = ImageStore::new(tmp.path().join("strict"));
    let err = strict.resolve(&reference).await.unwrap_err();
    let ImageError::Unreachable(message) = err else { panic!("{err:?}") };
    for part in [
        format!("cannot reach the registry 127.0.0.1:{port}"),
        "--offline-images host".to_owned(),
        format!("check the image name `{reference}`"),
    ] {
        assert!(message.contains(&part), "{part:?} missing from {message}");
    }

    let lenient = ImageStore::with_options(
        tmp.path().join("images"),
        ImageOptions { offline: OfflineImages::Host, ..ImageOptions::default() },
    );
    let notices = std::sync::Mutex::new(Vec::new());
    let image = lenient
        .resolve_for(&reference, Some("sbx-1"), &|n| notices.lock().unwrap().push(n))
        .await
        .unwrap();
    assert_eq!(image.reference, reference);
    assert_eq!(image.substitute.as_deref(), Some("host"), "the substitution is reported");
    assert!(image.rootfs.starts_with(tmp.path().join("images/host")), "{image:?}");
    let notices = notices.into_inner().unwrap();
    assert!(
        notices.iter().any(|n| n.warning
            && n.line.contains(&reference)
            && n.line.contains("--offline-images fail")),
        "{notices:?}"
    );
    // The sandbox's use of the image is recorded for prunes.
    assert!(tmp.path().join("images/pins/sbx-1").is_file());

    let err = lenient.resolve("").await.unwrap_err();
    assert!(matches!(err, ImageError::Invalid(_)), "{err:?}");
    let err = lenient.resolve("oci-layout:relative/dir").await.unwrap_err();
    assert!(matches!(err, ImageError::Invalid(_)), "{err:?}");
}

/// Files of a layout are read under the rule of `access.rs` too: a private layout, or a blob
/// that is a symlink to a file the caller cannot read, is refused.
#[tokio::test]
async fn layouts_other_users_cannot_read_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = public_tempdir();
    let (layout, _) = standard_layout(tmp.path());
    let store = store(tmp.path());
    let reference = reference(&layout, None);
    fs::set_permissions(&layout.dir, fs::Permissions::from_mode(0o700)).unwrap();
    let why = ImageStore::check_reference(&reference).unwrap_err();
    assert!(why.contains("chmod o+rx"), "{why}");
    assert!(store.resolve(&reference).await.is_err());
    fs::set_permissions(&layout.dir, fs::Permissions::from_mode(0o755)).unwrap();
    let index = layout.dir.join("index.json");
    let secret = tmp.path().join("secret.json");
    fs::rename(&index, &secret).unwrap();
    std::os::unix::fs::symlink(&secret, &index).unwrap();
    let err = store.resolve(&reference).await.unwrap_err();
    assert!(matches!(&err, ImageError::Invalid(m) if m.contains("symbolic link")), "{err:?}");
}
