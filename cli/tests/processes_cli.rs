//! The CLI's process commands against the real server: `exec` streaming with a deadline,
//! working directory, environment, forwarded stdin and a terminal; `exec --detach`, `attach
//! --from`, `ps`, `kill`; and the streaming itself (output before the command ends).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use support::{
    TEST_API_KEY,
    cli::{cli, cli_with_stdin, running_sandbox},
    shared, unique,
};

#[test]
fn exec_passes_options_stdin_and_exit_codes_through() {
    let name = unique("pexec");
    running_sandbox(&name, &[]);
    let run = cli(&["exec", &name, "-c", "echo out; echo err >&2; exit 7"]);
    run.code(7);
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("out\n", "err\n"));
    let run =
        cli(&["exec", "-w", "/tmp", "-e", "GREETING=hi there", &name, "-c", "pwd; echo $GREETING"]);
    assert_eq!(run.ok().stdout, "/tmp\nhi there\n");
    let started = Instant::now();
    let run =
        cli(&["exec", "--timeout", "1s", &name, "--", "sh", "-c", "echo a; sleep 100 & sleep 100"]);
    run.code(124);
    assert_eq!(run.stdout, "a\n");
    assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    let input: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let run = cli_with_stdin(&["exec", "-i", &name, "--", "cat"], &input);
    run.ok();
    assert!(
        run.stdout_bytes == input,
        "stdin came back changed ({} bytes)",
        run.stdout_bytes.len()
    );
    let run = cli(&["exec", "-t", &name, "--", "sh", "-c", "tty; stty size"]);
    assert!(run.ok().stdout.contains("/dev/pts/"), "{}", run.stdout);
    cli(&["terminate", &name]).ok();
}

#[test]
fn detach_attach_ps_and_kill() {
    let name = unique("pdetach");
    running_sandbox(&name, &[]);
    let run = cli(&[
        "exec",
        "--detach",
        &name,
        "--",
        "sh",
        "-c",
        "printf 'one\\ntwo\\n'; sleep 1; echo three",
    ]);
    let exec_id = run.ok().line().to_owned();
    assert!(exec_id.starts_with("ex-"), "{exec_id}");
    let run = cli(&["ps", &name]);
    assert!(run.ok().stdout.contains(&exec_id), "{}", run.stdout);
    let run = cli(&["attach", &name, &exec_id, "--from", "4"]);
    assert_eq!(run.ok().stdout, "two\nthree\n");
    let listed: Vec<Value> = cli(&["ps", &name, "--json"]).json();
    let entry = listed.iter().find(|p| p["exec_id"] == exec_id.as_str()).unwrap();
    assert_eq!((entry["state"].as_str(), entry["exit_code"].as_i64()), (Some("exited"), Some(0)));

    let sleeper = cli(&["exec", "-d", &name, "--", "sleep", "1000"]).line().to_owned();
    let status: Value = cli(&["kill", &name, &sleeper, "--signal", "TERM", "--wait"]).json();
    assert_eq!(
        (status["state"].as_str(), status["exit_code"].as_i64()),
        (Some("killed"), Some(143))
    );
    let again = cli(&["kill", &name, &sleeper]);
    again.code(1);
    assert!(again.stderr.contains("already ended"), "{}", again.stderr);
    let missing = cli(&["attach", &name, "ex-nosuchprocess"]);
    assert_ne!(missing.code, 0);
    cli(&["terminate", &name]).ok();
}

#[test]
fn exec_output_arrives_while_the_command_runs() {
    let name = unique("plive");
    running_sandbox(&name, &[]);
    // The command holds after its first line until this file exists.
    let go = format!("/tmp/go-{name}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
        .args([
            "--base-url",
            &shared().base_url,
            "exec",
            &name,
            "-c",
            &format!("echo early; while [ ! -e {go} ]; do sleep 0.02; done; echo late"),
        ])
        .env("PORTER_SANDBOX_API_KEY", TEST_API_KEY)
        .env("PORTER_SANDBOX_DISCOVERY_FILE", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 6];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"early\n");
    // The command is held until now: its first line arrived while it ran.
    cli(&["exec", &name, "--", "touch", &go]).ok();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "late\n");
    assert!(child.wait().unwrap().success());
    cli(&["terminate", &name]).ok();
}
