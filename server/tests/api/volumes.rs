//! Volumes and their files: records, names, the files API with ranges, moves and streaming,
//! and path attacks. (Mounts into sandboxes need real containers: `cli/tests/api_volumes.rs`.)

use futures_util::StreamExt;
use porter_sandbox::{
    DEFAULT_CHUNK_BYTES, ErrorKind, Porter, Volume,
    types::{VolumeObjectSpec, VolumeSpec},
};
use porter_sandbox_server::runtime::fake::FakeRuntime;

use crate::support;

async fn new_volume(porter: &Porter, name: Option<&str>) -> Volume {
    let spec = name.map_or_else(VolumeSpec::default, VolumeSpec::named);
    porter.volumes().create(spec).await.unwrap().into_disk().unwrap()
}

#[tokio::test]
async fn create_lookup_list_delete_and_reuse_names() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let porter = served.client();
    let name = "vol-name".to_owned();
    let volume = new_volume(&porter, Some(&name)).await;
    let record = volume.record();
    assert_eq!(record.name, name);
    assert!(record.id.starts_with("vol-"));
    assert_eq!(record.phase.as_str(), "ready");
    assert!(record.attached_to.is_empty());
    assert!(record.created_at.ends_with('Z'));

    let unnamed = new_volume(&porter, None).await;
    assert_eq!(unnamed.name(), unnamed.id());

    let err = porter.volumes().create(VolumeSpec::named(&name)).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    let err = porter.volumes().create(VolumeSpec::named("Bad Name")).await.unwrap_err();
    assert_eq!(err.status(), Some(400));
    let err = porter
        .volumes()
        .create(VolumeSpec::object(VolumeObjectSpec::new("bucket")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.message().contains("object"), "{}", err.message());

    let got = porter.volumes().get(&name).await.unwrap();
    assert_eq!(got.id(), volume.id());
    let listed = porter.volumes().list().await.unwrap();
    assert!(listed.iter().any(|v| v.id() == volume.id()));

    porter.volumes().delete(&name).await.unwrap();
    let err = porter.raw().volumes().get_volume(volume.id()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let again = new_volume(&porter, Some(&name)).await;
    assert_ne!(again.id(), volume.id(), "the name is free again after delete");
    again.delete().await.unwrap();
    unnamed.delete().await.unwrap();
}

#[tokio::test]
async fn files_write_read_list_search_move() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let volume = new_volume(&served.client(), None).await;
    volume.write_text("docs/readme.md", "hello\n").await.unwrap();
    volume.write_text("/docs/guide/Config.yaml", "a: 1\n").await.unwrap();
    volume.write_file("data.bin", (0u8..=255).collect::<Vec<_>>()).await.unwrap();

    assert_eq!(volume.read_text("docs/readme.md", None, None).await.unwrap(), "hello\n");
    assert_eq!(
        &volume.read_file("data.bin", Some(10), Some(4)).await.unwrap()[..],
        &[10, 11, 12, 13]
    );
    assert_eq!(volume.read_file("data.bin", Some(250), None).await.unwrap().len(), 6);

    let top = volume.listdir("/").await.unwrap();
    let names: Vec<_> = top.iter().map(|f| (f.name.as_str(), f.is_directory())).collect();
    assert_eq!(names, vec![("docs", true), ("data.bin", false)], "directories first");
    assert_eq!(top[1].size_bytes, 256);
    assert!(top[1].modified_at.is_some());

    let all: Vec<_> = volume.iterdir("/").map(|f| f.unwrap().path).collect().await;
    assert_eq!(
        all,
        vec!["/docs", "/docs/guide", "/docs/guide/Config.yaml", "/docs/readme.md", "/data.bin"]
    );
    let found = volume.search("config", "/").await.unwrap();
    assert_eq!(
        found.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        vec!["/docs/guide/Config.yaml"]
    );

    let raw = volume.raw();
    let ranged =
        raw.read_volume_file(volume.id(), "/data.bin", Some("bytes=0-9"), None).await.unwrap();
    let range = ranged.content_range.unwrap();
    assert_eq!((range.start, range.end, range.size), (0, 9, 256));
    assert!(ranged.last_modified.is_some());
    let err =
        raw.read_volume_file(volume.id(), "/data.bin", Some("bytes=999-"), None).await.unwrap_err();
    assert_eq!(err.status(), Some(416));

    volume.move_file("docs/readme.md", "docs/README.md").await.unwrap();
    let err = volume.move_file("data.bin", "docs/README.md").await.unwrap_err();
    assert_eq!(err.status(), Some(409), "moves never overwrite");
    let err = volume.move_file("data.bin", "nowhere/x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = volume.read_file("docs/readme.md", None, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    volume.delete().await.unwrap();
}

#[tokio::test]
async fn streaming_a_large_file_in_chunks() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let volume = new_volume(&served.client(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let content: Vec<u8> = (0..20_000_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    volume.write_file("big.bin", porter_sandbox::BinaryBody::from_path(&path)).await.unwrap();
    let mut stream = volume.stream("big.bin", DEFAULT_CHUNK_BYTES).unwrap();
    let mut received = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    assert_eq!(chunks, 3);
    assert!(received == content);
    let empty_stream: Vec<_> = {
        volume.write_file("empty", Vec::new()).await.unwrap();
        volume.stream("empty", 4).unwrap().collect().await
    };
    assert!(empty_stream.is_empty());
    volume.delete().await.unwrap();
}

#[tokio::test]
async fn path_attacks_are_rejected() {
    let served = support::serve(&FakeRuntime::new(), |_| {}).await;
    let volume = new_volume(&served.client(), None).await;
    let raw = volume.raw();
    for path in ["/../etc/passwd", "/a/../../x", "/a\0b"] {
        let err = raw.read_volume_file(volume.id(), path, None, None).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{path:?}: {err}");
        let err = raw.write_volume_file(volume.id(), "x".into(), path, None).await.unwrap_err();
        assert_eq!(err.status(), Some(400), "{path:?}: {err}");
    }
    volume.delete().await.unwrap();
}
