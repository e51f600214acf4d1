//! The `porter-sandbox` CLI's configuration, errors, snapshots, help and completions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use porter_sandbox::types::{
    ListResponse, Snapshot, SnapshotListResponse, SnapshotStatus, VolumeListResponse,
};
use support::{
    cli::{cli, run_raw, running_sandbox},
    shared, unique,
};

#[test]
fn without_configuration_the_message_says_what_to_do() {
    let run = run_raw(&["list"], &[], None);
    run.code(1);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("porter-sandbox serve"), "{}", run.stderr);
    assert!(
        run.stderr.contains("export PORTER_SANDBOX_BASE_URL=http://127.0.0.1:8080"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--base-url"), "flags, not SDK option names: {}", run.stderr);
}

#[test]
fn the_connection_comes_from_flags_anywhere_or_the_environment() {
    let url = shared().base_url.as_str();
    let key = [("PORTER_SANDBOX_API_KEY", support::TEST_API_KEY)];
    let from_env = run_raw(
        &["list", "--json"],
        &[("PORTER_SANDBOX_BASE_URL", url), ("PORTER_SANDBOX_API_KEY", support::TEST_API_KEY)],
        None,
    );
    let _: ListResponse = from_env.ok().json();
    let after: ListResponse =
        run_raw(&["list", "--base-url", url, "--json"], &key, None).ok().json();
    drop(after);
    let nested: VolumeListResponse = run_raw(
        &["volume", "list", "--base-url", url, "--api-key", support::TEST_API_KEY, "--json"],
        &[],
        None,
    )
    .ok()
    .json();
    drop(nested);
    let between: VolumeListResponse =
        run_raw(&["volume", "--base-url", url, "list", "--json"], &key, None).ok().json();
    drop(between);

    let unreachable = run_raw(&["--base-url", "http://127.0.0.1:9", "list"], &[], None);
    unreachable.code(1);
    assert!(
        unreachable.stderr.contains("could not reach the Sandbox API"),
        "{}",
        unreachable.stderr
    );
    assert!(unreachable.stderr.contains("porter-sandbox serve"));
}

#[test]
fn unknown_names_say_so() {
    for args in [
        &["get", "no-such-sandbox-anywhere"][..],
        &["logs", "no-such-sandbox-anywhere"],
        &["get", "sb-doesnotexist"],
    ] {
        let run = cli(args);
        run.code(1);
        assert!(run.stderr.contains("no sandbox is named"), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("porter-sandbox list"), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn names_that_look_like_ids_still_resolve() {
    let name = unique("sb-lookalike");
    let id = running_sandbox(&name, &[]);
    let run = cli(&["get", &name, "--json"]);
    let status: porter_sandbox::types::StatusResponse = run.ok().json();
    assert_eq!(status.id, id);
    cli(&["terminate", &id]).ok();
}

#[test]
fn snapshots_report_what_the_server_says() {
    let listed: SnapshotListResponse = cli(&["snapshot", "list", "--json"]).ok().json();
    assert!(listed.snapshots.is_empty());
    assert!(cli(&["snapshot", "list"]).ok().stderr.contains("no snapshots"));

    let name = unique("cli-snap");
    running_sandbox(&name, &[]);
    let full = cli(&["snapshot", "create", &name, "--mode", "full"]);
    full.code(1);
    assert!(full.stderr.contains("\"full\""), "{}", full.stderr);
    cli(&["snapshot", "create", &name, "--mode", "everything"]).code(2);

    let ready: Snapshot = cli(&["snapshot", "create", &name, "--wait", "--json"]).ok().json();
    assert_eq!(ready.status, SnapshotStatus::Ready);
    let listed: SnapshotListResponse =
        cli(&["snapshot", "list", "--sandbox", &name, "--json"]).ok().json();
    assert_eq!(listed.snapshots.len(), 1);
    let table = cli(&["snapshot", "list", "--sandbox", &name]).ok().stdout.clone();
    assert!(table.contains(&ready.id) && table.contains("ready"), "{table}");

    // A sandbox from the snapshot, with limits, through the CLI.
    let copy = unique("cli-from-snap");
    let created = cli(&[
        "create",
        "--snapshot",
        &ready.id,
        "--name",
        &copy,
        "--cpu",
        "500m",
        "--memory",
        "256Mi",
        "--wait",
        "--",
        "sleep",
        "300",
    ]);
    created.ok();
    cli(&["create", "host", "--snapshot", &ready.id]).code(2);
    cli(&["terminate", &copy]).ok();
    cli(&["snapshot", "delete", &ready.id]).ok();

    let get = cli(&["snapshot", "get", "snap-nothing"]);
    get.code(1);
    assert!(get.stderr.contains("snap-nothing does not exist"), "{}", get.stderr);
    cli(&["snapshot", "delete", "snap-nothing"]).code(1);
    cli(&["terminate", &name]).ok();
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = run_raw(&["completions", shell], &[], None);
        run.ok();
        assert!(run.stdout.contains("porter-sandbox"), "{shell}");
        assert!(run.stdout.contains("terminate"), "{shell}: subcommands are completed");
    }
    run_raw(&["completions", "tcsh"], &[], None).code(2);
}

#[test]
fn help_and_version() {
    let help = run_raw(&["--help"], &[], None);
    help.ok();
    for command in [
        "serve",
        "create",
        "list",
        "get",
        "logs",
        "exec",
        "terminate",
        "volume",
        "snapshot",
        "completions",
    ] {
        assert!(help.stdout.contains(command), "{command}");
    }
    assert!(help.stdout.contains("Exit codes"));
    let volume = run_raw(&["volume", "--help"], &[], None);
    for command in ["create", "list", "get", "delete", "ls", "cat", "put", "mv"] {
        assert!(volume.ok().stdout.contains(command), "{command}");
    }
    let version = run_raw(&["--version"], &[], None);
    assert!(version.ok().stdout.starts_with("porter-sandbox "));
}
