//! The `porter-sandbox` CLI's sandbox commands end to end: create, list, get, logs, exec and
//! terminate against a real server running real sandboxes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use porter_sandbox::types::{
    CreateResponse, ExecResponse, ListResponse, LogsResponse, StatusResponse, StatusResponsePhase,
    StatusResponseTerminationReason,
};
use serde_json::Value;
use support::{
    cli::{cli, running_sandbox},
    shared, unique,
};

#[test]
fn create_get_list_and_terminate() {
    let name = unique("cli-life");
    let tag = format!("suite={name}");
    let id = running_sandbox(&name, &["--tag", &tag, "--env", "GREETING=hi there"]);

    let status: StatusResponse = cli(&["get", &name, "--json"]).ok().json();
    assert_eq!(status.id, id);
    assert_eq!(status.name, name);
    assert_eq!(status.image, "host");
    assert_eq!(status.phase, StatusResponsePhase::Running);
    assert_eq!(status.tags.unwrap()["suite"], name);

    let by_id = cli(&["get", &id]);
    by_id.ok();
    assert!(by_id.stdout.contains(&format!("Name:       {name}")), "{}", by_id.stdout);
    assert!(by_id.stdout.contains("running"));
    assert!(!by_id.stdout.contains('\x1b'), "no colour when stdout is not a terminal");

    let listed: ListResponse = cli(&["list", "--tag", &tag, "--json"]).ok().json();
    assert_eq!(listed.sandboxes.len(), 1);
    assert_eq!(listed.sandboxes[0].id, id);
    let table = cli(&["list", "--tag", &tag]);
    table.ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", table.stdout);
    assert!(lines[0].starts_with("ID") && lines[0].contains("PHASE"), "{}", lines[0]);
    assert!(lines[1].starts_with(&id) && lines[1].contains("running"), "{}", lines[1]);
    let phase_col = lines[0].find("PHASE").unwrap();
    assert_eq!(&lines[1][phase_col..phase_col + 7], "running", "columns are aligned");

    let running: ListResponse =
        cli(&["list", "--tag", &tag, "--phase", "running", "--phase", "failed", "--json"])
            .ok()
            .json();
    assert_eq!(running.sandboxes.len(), 1);
    let none = cli(&["list", "--tag", &tag, "--phase", "succeeded"]);
    none.ok();
    assert!(none.stdout.is_empty());
    assert!(none.stderr.contains("no sandboxes match"));
    let found: ListResponse =
        cli(&["list", "--search", &name.to_uppercase(), "--json"]).ok().json();
    assert_eq!(found.sandboxes.len(), 1, "search is a case-insensitive name prefix");

    let out = cli(&["exec", &name, "--", "sh", "-c", "echo \"$GREETING\""]);
    assert_eq!(out.ok().stdout, "hi there\n");

    let terminated = cli(&["terminate", &name]);
    terminated.ok();
    assert!(terminated.stdout.starts_with(&format!("terminated {id} ({name})")));
    let status: StatusResponse = cli(&["get", &id, "--json"]).ok().json();
    assert_eq!(status.phase, StatusResponsePhase::Terminated);
    assert_eq!(status.termination_reason, Some(StatusResponseTerminationReason::Cli));
    let again = cli(&["terminate", &id]);
    assert!(again.ok().stdout.starts_with("already finished"), "{}", again.stdout);
}

#[test]
fn create_json_ttl_and_command_override() {
    let name = unique("cli-json");
    let created: CreateResponse = cli(&[
        "create",
        "host",
        "--name",
        &name,
        "--ttl",
        "600",
        "--json",
        "--wait",
        "--",
        "sh",
        "-c",
        "echo from-the-command; sleep 300",
    ])
    .ok()
    .json();
    assert!(created.id.starts_with("sb-"));
    assert_eq!(created.name, name);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cli(&["logs", &created.id]).ok().stdout.contains("from-the-command") {
        assert!(std::time::Instant::now() < deadline, "the command given after -- runs");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    cli(&["terminate", &name]).ok();
}

#[test]
fn create_wait_fails_clearly_when_the_sandbox_ends() {
    // A sandbox that cannot launch never runs. (A workload that exits at once may still be
    // seen running for a moment, which `--wait` rightly reports as running.)
    let name = unique("cli-ends");
    let run = cli(&["create", "oci-layout:/no/such/layout", "--name", &name, "--wait"]);
    run.code(1);
    assert!(run.stdout.trim().starts_with("sb-"), "the id is printed before waiting");
    assert!(run.stderr.contains("error: sandbox"), "{}", run.stderr);
    assert!(run.stderr.contains("ended failed instead of running"), "{}", run.stderr);
    assert!(run.stderr.contains("termination reason launch_failed"), "{}", run.stderr);
    // The last log lines say why.
    assert!(run.stderr.contains("  | launch failed:"), "{}", run.stderr);

    // A registry that refuses (the server itself answers 404) fails the launch.
    let image = format!("{}/library/python:3.12", shared().base_url.trim_start_matches("http://"));
    let registry = cli(&["create", &image, "--wait"]);
    registry.code(1);
    assert!(registry.stderr.contains("launch_failed"), "{}", registry.stderr);
}

#[test]
fn exec_passes_streams_and_exit_codes_through() {
    let name = unique("cli-exec");
    running_sandbox(&name, &[]);

    let python = cli(&["exec", &name, "--", "python3", "-c", "print(1)"]);
    assert_eq!(python.ok().stdout, "1\n");
    assert_eq!(python.stderr, "");

    let mixed = cli(&["exec", &name, "-c", "echo out; echo err >&2; exit 7"]);
    mixed.code(7);
    assert_eq!(mixed.stdout, "out\n");
    assert_eq!(mixed.stderr, "err\n");

    let json = cli(&["exec", &name, "--json", "-c", "echo x; exit 4"]);
    json.code(4);
    let result: ExecResponse = json.json();
    assert_eq!((result.stdout.as_str(), result.exit_code), ("x\n", 4));
    assert!(result.exec_id.unwrap().starts_with("ex-"));

    // Usage errors exit 2.
    cli(&["exec", &name]).code(2);
    cli(&["exec", &name, "-c", "true", "--", "true"]).code(2);
    cli(&["exec", &name, "ls"]).code(2);
    cli(&["exec"]).code(2);

    let missing = cli(&["exec", "no-such-sandbox-anywhere", "--", "true"]);
    missing.code(1);
    assert!(missing.stderr.contains("no sandbox is named"), "{}", missing.stderr);

    cli(&["terminate", &name]).ok();
    let stopped = cli(&["exec", &name, "--", "true"]);
    stopped.code(3);
    assert!(stopped.stderr.contains("has been terminated: exec needs a running sandbox"));
    assert!(stopped.stderr.contains("hint:"));
}

#[test]
fn logs_once_and_followed_until_the_end() {
    let name = unique("cli-logs");
    cli(&[
        "create",
        "host",
        "--name",
        &name,
        "--",
        "sh",
        "-c",
        "echo one; sleep 1; echo two; sleep 1; echo three",
    ])
    .ok();
    let followed = cli(&["logs", &name, "--follow"]);
    assert_eq!(followed.ok().stdout, "one\ntwo\nthree\n", "every line exactly once");

    let all: LogsResponse = cli(&["logs", &name, "--json"]).ok().json();
    let lines: Vec<&str> = all.logs.iter().map(|l| l.line.as_str()).collect();
    assert_eq!(lines, ["one", "two", "three"]);
    assert_eq!(cli(&["logs", &name, "--limit", "1"]).ok().stdout, "three\n");
    assert_eq!(cli(&["logs", &name, "--since", "1h"]).ok().stdout, "one\ntwo\nthree\n");
    let stamped = cli(&["logs", &name, "-t"]);
    let first = stamped.ok().stdout.lines().next().unwrap().to_owned();
    assert!(first.starts_with(&all.logs[0].timestamp) && first.ends_with(" one"), "{first}");

    let jsonl = cli(&["logs", &name, "--follow", "--json"]);
    let objects: Vec<Value> =
        jsonl.ok().stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(objects.len(), 3);
    assert_eq!(objects[2]["line"], "three");

    cli(&["logs", &name, "--limit", "0"]).code(2);
    cli(&["logs", &name, "--since", "yesterday"]).code(1);
}

#[test]
fn terminate_all_dry_run_lists_then_terminates_concurrently() {
    let batch = unique("cli-batch");
    let tag = format!("batch={batch}");
    for i in 0..3 {
        cli(&[
            "create",
            "host",
            "--name",
            &format!("{batch}-{i}"),
            "--tag",
            &tag,
            "--",
            "sleep",
            "300",
        ])
        .ok();
    }

    let dry: Vec<Value> =
        cli(&["terminate", "--all", "--tag", &tag, "--dry-run", "--json"]).ok().json();
    assert_eq!(dry.len(), 3);
    assert!(dry.iter().all(|o| o["result"] == "would_terminate"), "{dry:?}");
    let dry_text = cli(&["terminate", "--all", "--tag", &tag, "--dry-run"]);
    assert_eq!(
        dry_text.ok().stdout.lines().filter(|l| l.starts_with("would terminate")).count(),
        3
    );
    let listed: ListResponse = cli(&["list", "--tag", &tag, "--json"]).ok().json();
    assert!(
        listed.sandboxes.iter().all(|s| !s.phase.is_terminal()),
        "a dry run terminates nothing"
    );

    let done = cli(&["terminate", "--all", "--tag", &tag]);
    assert_eq!(done.ok().stdout.lines().filter(|l| l.starts_with("terminated sb-")).count(), 3);
    let after: ListResponse =
        cli(&["list", "--tag", &tag, "--phase", "terminated", "--json"]).ok().json();
    assert_eq!(after.sandboxes.len(), 3);
    assert!(
        after
            .sandboxes
            .iter()
            .all(|s| s.termination_reason == Some(StatusResponseTerminationReason::Cli))
    );
    let nothing = cli(&["terminate", "--all", "--tag", &tag]);
    assert!(nothing.ok().stderr.contains("no sandboxes match"));

    // Named targets: each is reported; one unknown makes the command fail.
    let name = unique("cli-one");
    let id = running_sandbox(&name, &[]);
    let mixed = cli(&["terminate", &name, "no-such-sandbox-anywhere"]);
    mixed.code(1);
    assert!(mixed.stdout.contains(&format!("terminated {id}")), "{}", mixed.stdout);
    assert!(mixed.stderr.contains("no-such-sandbox-anywhere"), "{}", mixed.stderr);
}

#[test]
fn list_pages() {
    // Images a loopback registry (the server itself) refuses fail at once (no container
    // starts), which makes 51 sandboxes cheap.
    let batch = unique("cli-pages");
    let tag = format!("pages={batch}");
    let image = format!("{}/none:1", shared().base_url.trim_start_matches("http://"));
    for _ in 0..51 {
        cli(&["create", &image, "--tag", &tag]).ok();
    }
    let first: ListResponse = cli(&["list", "--tag", &tag, "--json"]).ok().json();
    assert_eq!(first.sandboxes.len(), 50);
    assert!(first.pagination.has_next_page);
    let second: ListResponse = cli(&["list", "--tag", &tag, "--page", "2", "--json"]).ok().json();
    assert_eq!(second.sandboxes.len(), 1);
    let all: ListResponse = cli(&["list", "--tag", &tag, "--all-pages", "--json"]).ok().json();
    assert_eq!(all.sandboxes.len(), 51);
    assert!(!all.pagination.has_next_page);
    let table = cli(&["list", "--tag", &tag]);
    assert_eq!(table.ok().stdout.lines().count(), 51, "a header and 50 rows");
    assert!(table.stderr.contains("--page 2"), "{}", table.stderr);
    cli(&["list", "--page", "2", "--all-pages"]).code(2);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["create"][..],
        &["create", "host", "--tag", "novalue"],
        &["create", "host", "--volume", "relative=vol"],
        &["create", "host", "--ttl", "0"],
        &["create", "host", "--wait-timeout", "5"],
        &["list", "--phase", "bogus"],
        &["terminate"],
        &["terminate", "x", "--all"],
        &["terminate", "x", "--tag", "a=b"],
        &["get"],
        &["no-such-command"],
    ] {
        let run = cli(args);
        run.code(2);
        assert!(run.stderr.contains("error:"), "{args:?}: {}", run.stderr);
    }
}
