//! The `porter-sandbox volume` commands end to end: volumes, their files (streamed both ways),
//! and mounting them into sandboxes by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use porter_sandbox::types::{VolumeFileListResponse, VolumeListResponse, VolumeRecord};
use support::{
    cli::{cli, cli_with_stdin, running_sandbox},
    unique,
};

/// Deterministic bytes that do not compress or repeat in any short period.
fn pseudo_random(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn create_list_get_delete() {
    let name = unique("cli-vol");
    let id = cli(&["volume", "create", &name]).ok().line().to_owned();
    assert!(id.starts_with("vol-"), "{id}");

    let listed: VolumeListResponse = cli(&["volume", "list", "--json"]).ok().json();
    assert!(listed.volumes.iter().any(|v| v.id == id && v.name == name));
    let table = cli(&["volume", "list"]);
    assert!(table.ok().stdout.lines().any(|l| l.starts_with(&id) && l.contains(&name)));

    let record: VolumeRecord = cli(&["volume", "get", &name, "--json"]).ok().json();
    assert_eq!((record.id.as_str(), record.name.as_str()), (id.as_str(), name.as_str()));
    let by_id = cli(&["volume", "get", &id]);
    assert!(by_id.ok().stdout.contains(&format!("Name:         {name}")), "{}", by_id.stdout);
    let shown: VolumeRecord = cli(&["volume", "show", &name, "--json"]).ok().json();
    assert_eq!(shown.id, id, "`show` is the unambiguous name of `get VOLUME`");

    let unnamed: VolumeRecord = cli(&["volume", "create", "--json"]).ok().json();
    assert_eq!(unnamed.name, unnamed.id);
    cli(&["volume", "delete", &unnamed.id]).ok();

    let deleted = cli(&["volume", "delete", &name]);
    assert_eq!(deleted.ok().stdout, format!("deleted {id} ({name})\n"));
    let gone = cli(&["volume", "get", &name]);
    gone.code(1);
    assert!(gone.stderr.contains("no volume is named"), "{}", gone.stderr);
    assert!(gone.stderr.contains("volume list"), "the hint says where to look");
    cli(&["volume", "create", "Not_A_Label"]).code(1);
}

#[test]
fn files_put_cat_ls_mv() {
    let name = unique("cli-files");
    cli(&["volume", "create", &name]).ok();
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("notes.txt");
    std::fs::write(&local, "hello volume\n").unwrap();
    let local = local.to_str().unwrap();

    let put = cli(&["volume", "put", &name, local, "/docs/notes.txt"]);
    assert!(put.ok().stdout.contains("/docs/notes.txt"), "{}", put.stdout);
    assert_eq!(cli(&["volume", "cat", &name, "/docs/notes.txt"]).ok().stdout, "hello volume\n");
    cli(&["volume", "put", &name, local, "/docs/"]).ok();
    assert_eq!(cli(&["volume", "cat", &name, "docs/notes.txt"]).ok().stdout, "hello volume\n");
    cli_with_stdin(&["volume", "put", &name, "-", "/from-stdin.txt"], b"piped\n").ok();
    assert_eq!(cli(&["volume", "cat", &name, "/from-stdin.txt"]).ok().stdout, "piped\n");
    cli(&["volume", "put", &name, "-", "/dir/"]).code(1);

    let root = cli(&["volume", "ls", &name]);
    let lines: Vec<&str> = root.ok().stdout.lines().collect();
    assert!(lines[0].starts_with("TYPE") && lines[0].ends_with("NAME"), "{root:?}");
    assert!(lines[1].starts_with("dir") && lines[1].ends_with("docs/"), "{root:?}");
    assert!(lines[2].starts_with("file") && lines[2].ends_with("from-stdin.txt"), "{root:?}");
    let listing: VolumeFileListResponse =
        cli(&["volume", "ls", &name, "/docs", "--json"]).ok().json();
    assert_eq!(listing.path, "/docs");
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.entries[0].size_bytes, 13);
    let walk = cli(&["volume", "ls", &name, "-r"]);
    assert!(walk.ok().stdout.contains("/docs/notes.txt"), "{}", walk.stdout);
    let search = cli(&["volume", "ls", &name, "--search", "NOTES"]);
    assert_eq!(search.ok().stdout.lines().count(), 2, "{}", search.stdout);

    cli(&["volume", "mv", &name, "/docs/notes.txt", "/notes.txt"]).ok();
    assert_eq!(cli(&["volume", "cat", &name, "/notes.txt"]).ok().stdout, "hello volume\n");
    let old = cli(&["volume", "cat", &name, "/docs/notes.txt"]);
    old.code(1);
    assert!(old.stderr.contains("error: cannot read /docs/notes.txt"), "{}", old.stderr);
    cli(&["volume", "mv", &name, "/notes.txt", "/from-stdin.txt"]).code(1);

    let missing = cli(&["volume", "put", &name, "/no/such/local/file", "/x"]);
    missing.code(1);
    assert!(missing.stderr.contains("/no/such/local/file"), "{}", missing.stderr);
    cli(&["volume", "ls", "no-such-volume-anywhere"]).code(1);
}

#[test]
fn a_multi_megabyte_file_round_trips_byte_identical() {
    let name = unique("cli-big");
    cli(&["volume", "create", &name]).ok();
    let dir = tempfile::tempdir().unwrap();
    let content = pseudo_random(24 * 1024 * 1024 + 7);
    let upload = dir.path().join("upload.bin");
    std::fs::write(&upload, &content).unwrap();

    cli(&["volume", "put", &name, upload.to_str().unwrap(), "/blobs/big.bin"]).ok();
    let download = dir.path().join("download.bin");
    let get = cli(&["volume", "get", &name, "/blobs/big.bin", download.to_str().unwrap()]);
    assert!(get.ok().stdout.contains("24.0 MiB"), "{}", get.stdout);
    assert!(std::fs::read(&download).unwrap() == content, "byte-identical after the round trip");

    // Into a directory: the volume file's name is kept.
    let into = dir.path().join("into");
    std::fs::create_dir(&into).unwrap();
    cli(&["volume", "get", &name, "/blobs/big.bin", into.to_str().unwrap()]).ok();
    assert!(std::fs::read(into.join("big.bin")).unwrap() == content);

    // To stdout, with `download` (the unambiguous name of `get VOLUME PATH FILE`) and `get`.
    let piped = cli(&["volume", "get", &name, "/blobs/big.bin", "-"]);
    assert!(piped.ok().stdout_bytes == content);
    let downloaded = cli(&["volume", "download", &name, "/blobs/big.bin", "-"]);
    assert!(downloaded.ok().stdout_bytes == content);
    assert!(cli(&["volume", "cat", &name, "/blobs/big.bin"]).ok().stdout_bytes == content);

    // A failed download leaves the destination as it was and no temporary file behind.
    std::fs::write(&download, b"keep me").unwrap();
    cli(&["volume", "get", &name, "/blobs/missing.bin", download.to_str().unwrap()]).code(1);
    assert_eq!(std::fs::read(&download).unwrap(), b"keep me");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".porter-sandbox"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn volumes_mount_by_name_and_stay_while_attached() {
    let volume = unique("cli-mount");
    cli(&["volume", "create", &volume]).ok();
    cli_with_stdin(&["volume", "put", &volume, "-", "/greeting.txt"], b"mounted\n").ok();

    let name = unique("cli-mounted");
    let id = running_sandbox(&name, &["--volume", &format!("/data={volume}")]);
    let out = cli(&["exec", &name, "--", "cat", "/data/greeting.txt"]);
    assert_eq!(out.ok().stdout, "mounted\n");
    let record: VolumeRecord = cli(&["volume", "get", &volume, "--json"]).ok().json();
    assert_eq!(record.attached_to, [id]);

    let refused = cli(&["volume", "delete", &volume]);
    refused.code(1);
    assert!(refused.stderr.contains("attached"), "{}", refused.stderr);

    let unknown = cli(&["create", "host", "--volume", "/data=no-such-volume-anywhere"]);
    unknown.code(1);
    assert!(unknown.stderr.contains("no volume is named"), "{}", unknown.stderr);

    cli(&["terminate", &name]).ok();
    cli(&["volume", "delete", &volume]).ok();
}
