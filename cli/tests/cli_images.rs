//! `porter-sandbox images prune`, and `serve`'s registry credentials from the environment.
//! Needs what the server needs, plus `docker-registry umoci skopeo busybox-static
//! apache2-utils` for the registry test (a missing tool fails it, saying what to install).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "../../server/tests/support/registry.rs"]
mod registry_fixture;

use std::time::Duration;

use porter_sandbox::types::{SandboxSpec, StatusResponsePhase};
use support::{cli::run_raw, start_server, start_server_in, wait_started};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn images_prune_removes_what_no_live_sandbox_uses() {
    let server = start_server(&[]);
    let porter = server.client();
    let rt = runtime();
    let sandbox = rt.block_on(async {
        let sandbox = porter
            .sandboxes()
            .create(SandboxSpec::new("host").command(["sleep", "300"]))
            .await
            .unwrap();
        assert_eq!(
            wait_started(&sandbox, Duration::from_secs(30)).await,
            StatusResponsePhase::Running
        );
        sandbox
    });
    // An unpacked image and a layer nothing uses (as an earlier, finished sandbox leaves them).
    let images = server.data_dir.join("images");
    let unused = images.join("rootfs").join("ab".repeat(32));
    std::fs::create_dir_all(unused.join("etc")).unwrap();
    std::fs::write(unused.join("etc/hostname"), "old\n").unwrap();
    let blob = images.join("blobs/sha256").join("cd".repeat(32));
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, vec![7; 4096]).unwrap();

    let data_dir = server.data_dir.to_str().unwrap();
    let run = run_raw(&["images", "prune", "--data-dir", data_dir, "--json"], &[], None);
    let report: serde_json::Value = run.ok().json();
    assert_eq!(report["removed_images"], 1, "{report}");
    assert_eq!(report["removed_blobs"], 1, "{report}");
    assert!(report["freed_bytes"].as_u64().unwrap() >= 4096, "{report}");
    assert_eq!(report["kept_images"], 1, "the running sandbox's host build stays: {report}");
    assert!(!unused.exists() && !blob.exists());
    rt.block_on(async {
        let out = sandbox.exec(["cat", "/etc/hostname"]).await.unwrap();
        assert_eq!(out.stdout, "sandbox\n", "the sandbox still runs on its image");
    });

    let again = run_raw(&["images", "prune", "--data-dir", data_dir], &[], None);
    assert!(
        again.ok().line().starts_with("removed 0 images and 0 layers/blobs"),
        "{}",
        again.stdout
    );

    let nowhere = tempfile::tempdir().unwrap();
    let missing =
        run_raw(&["images", "prune", "--data-dir", nowhere.path().to_str().unwrap()], &[], None);
    missing.code(1);
    assert!(
        missing.stderr.contains("no state.db") && missing.stderr.contains("--data-dir"),
        "{}",
        missing.stderr
    );
}

#[test]
fn serve_takes_registry_credentials_from_the_environment() {
    use registry_fixture::{PASSWORD, Registry, USER, build_images, need, push, run};
    for (tool, package) in [
        ("docker-registry", "docker-registry"),
        ("umoci", "umoci"),
        ("skopeo", "skopeo"),
        ("htpasswd", "apache2-utils"),
    ] {
        need(tool, package);
    }
    let dir = tempfile::tempdir().unwrap();
    let images = build_images(dir.path());
    let storage = dir.path().join("registry");
    std::fs::create_dir_all(&storage).unwrap();
    let htpasswd = storage.join("htpasswd");
    run(std::process::Command::new("htpasswd").arg("-Bbc").arg(&htpasswd).args([USER, PASSWORD]));
    let registry = Registry::start(&storage, Some(&htpasswd));
    let image = format!("{}/private/busybox:1", registry.addr);
    push(&images, "base", &image, false, true);

    // A malformed variable stops the server at once, without echoing the secret.
    let bad = run_raw(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().join("d0").to_str().unwrap(),
        ],
        &[("PORTER_SANDBOX_REGISTRY_AUTH", "127.0.0.1:5000=nocolonsecret")],
        None,
    );
    bad.code(2);
    assert!(bad.stderr.contains("PORTER_SANDBOX_REGISTRY_AUTH"), "{}", bad.stderr);
    assert!(!bad.stderr.contains("nocolonsecret"), "{}", bad.stderr);

    // The real thing: a server whose only credentials are in the environment pulls the image.
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let server_dir = tempfile::tempdir().unwrap();
    let data_dir = server_dir.path().join("data");
    let auth = format!("{}={USER}:{PASSWORD}", registry.addr);
    let server = start_server_in(
        server_dir,
        data_dir,
        &["--registry-auth-file", empty.to_str().unwrap()],
        &[("PORTER_SANDBOX_REGISTRY_AUTH", auth.as_str())],
    );
    let porter = server.client();
    runtime().block_on(async {
        let sandbox = porter.sandboxes().create(SandboxSpec::new(&image)).await.unwrap();
        let phase = wait_started(&sandbox, Duration::from_secs(60)).await;
        let logs = sandbox.logs(porter_sandbox::LogsQuery::new()).await.unwrap();
        assert_eq!(phase, StatusResponsePhase::Running, "{logs:#?}");
        let out = sandbox.exec(["cat", "/etc/added"]).await.unwrap();
        assert_eq!(out.stdout, "layer two\n");
    });
}
