//! What a newcomer meets at the terminal: closed pipes, usage slips and the messages that say
//! what to do instead, against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};

use porter_sandbox::types::StatusResponse;
use support::{
    TEST_API_KEY,
    cli::{cli, run_raw, running_sandbox},
    shared, unique,
};

/// Runs the CLI against the shared server with its stdout closed before it writes anything
/// (as `| head` does once it has read enough); returns the exit code and stderr.
fn with_stdout_closed(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
        .args(["--base-url", shared().base_url.as_str()])
        .args(args)
        .env("PORTER_SANDBOX_API_KEY", TEST_API_KEY)
        .env("PORTER_SANDBOX_DISCOVERY_FILE", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command asks the server first, so the read end is gone before its first write.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_the_command_quietly_with_success() {
    let name = unique("usage-pipe");
    running_sandbox(&name, &[]);
    for args in [&["list", "--json"][..], &["get", &name, "--json"], &["list"], &["get", &name]] {
        let (code, stderr) = with_stdout_closed(args);
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
    }
    cli(&["terminate", &name]).ok();
}

#[test]
fn exec_without_the_separator_hints_at_it() {
    let run = cli(&["exec", "some-sandbox", "echo", "hi"]);
    run.code(2);
    assert!(run.stderr.contains("-- echo"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
}

#[test]
fn exec_with_neither_a_command_nor_a_shell_string_asks_for_one_of_them() {
    let run = cli(&["exec", "some-sandbox"]);
    run.code(2);
    assert!(run.stderr.contains("-c <SHELL_COMMAND>|COMMAND"), "either one: {}", run.stderr);
    assert!(run.stderr.contains("give either a command after `--`"), "{}", run.stderr);
    let help = cli(&["exec", "--help"]);
    help.ok();
    assert!(help.stdout.contains("<NAME|ID> -- <COMMAND>..."), "{}", help.stdout);
    assert!(help.stdout.contains("<NAME|ID> -c <SHELL_COMMAND>"), "{}", help.stdout);
}

#[test]
fn exec_on_an_ended_sandbox_says_so_in_plain_words() {
    let name = unique("usage-ended");
    let id = running_sandbox(&name, &[]);
    cli(&["terminate", &id]).ok();
    let run = cli(&["exec", &name, "--", "true"]);
    run.code(3);
    assert!(run.stderr.contains(&format!("sandbox {name} has been terminated")), "{}", run.stderr);
    assert!(!run.stderr.contains("is terminated"), "{}", run.stderr);

    let failed = unique("usage-failed");
    let id = cli(&["create", "host", "--name", &failed, "--", "false"]).ok().line().to_owned();
    cli(&["wait", &id]).code(1);
    let run = cli(&["exec", &failed, "--", "true"]);
    run.code(3);
    assert!(run.stderr.contains(&format!("sandbox {failed} has failed")), "{}", run.stderr);
}

#[test]
fn get_shows_where_the_forwarded_port_answers() {
    let name = unique("usage-port");
    running_sandbox(&name, &["--port", "8080"]);
    let status: StatusResponse = cli(&["get", &name, "--json"]).ok().json();
    let address = status.internal_address.expect("a sandbox with a port has an address");
    let shown = cli(&["get", &name]);
    shown.ok();
    assert!(
        shown.stdout.lines().any(|l| l.starts_with("Address:") && l.ends_with(&address)),
        "{}",
        shown.stdout
    );
    cli(&["terminate", &name]).ok();
}

#[test]
fn terminate_without_arguments_mentions_all() {
    let run = cli(&["terminate"]);
    run.code(2);
    assert!(run.stderr.contains("--all"), "{}", run.stderr);
    assert!(run.stderr.contains("hint: name the sandboxes to terminate"), "{}", run.stderr);
}

#[test]
fn images_prune_counts_in_good_grammar() {
    let name = unique("usage-prune");
    running_sandbox(&name, &[]);
    let data_dir = shared().data_dir.to_str().unwrap();
    let run = run_raw(&["images", "prune", "--data-dir", data_dir], &[], None);
    run.ok();
    assert!(run.stdout.contains("kept 1 image and"), "the host image in use: {}", run.stdout);
    assert!(
        !run.stdout.contains(" 1 images") && !run.stdout.contains(" 1 blobs"),
        "{}",
        run.stdout
    );
    cli(&["terminate", &name]).ok();
}

#[test]
fn a_memory_size_with_a_byte_unit_is_a_usage_error_that_explains_the_units() {
    let run = cli(&["create", "host", "--memory", "2GB", "--", "true"]);
    run.code(2);
    for part in ["2Gi", "2G", "without a B"] {
        assert!(run.stderr.contains(part), "{part:?} missing: {}", run.stderr);
    }
    assert!(!run.stderr.contains("millicores"), "{}", run.stderr);
    let run = cli(&["create", "host", "--memory", "lots", "--", "true"]);
    run.code(2);
    assert!(run.stderr.contains("512Mi") && !run.stderr.contains("millicores"), "{}", run.stderr);
    let run = cli(&["create", "host", "--cpu", "2 cores", "--", "true"]);
    run.code(2);
    assert!(run.stderr.contains("--cpu"), "{}", run.stderr);
}

#[test]
fn a_log_limit_past_the_servers_cap_is_refused_with_the_cap() {
    let run = cli(&["logs", "some-sandbox", "--limit", "20000"]);
    run.code(2);
    assert!(run.stderr.contains("at most 10000"), "{}", run.stderr);
    let run = cli(&["logs", "some-sandbox", "--limit", "0"]);
    run.code(2);
}

#[test]
fn completions_help_has_no_stray_line_continuation() {
    let run = cli(&["completions", "--help"]);
    run.ok();
    assert!(!run.stdout.contains("\\ "), "{}", run.stdout);
    assert!(run.stdout.contains("completions bash > /etc/bash_completion.d/porter-sandbox"));
}

#[test]
fn a_page_past_the_end_says_there_is_no_such_page() {
    let tag = format!("suite={}", unique("usage-page"));
    let name = unique("usage-page");
    running_sandbox(&name, &["--tag", &tag]);
    let run = cli(&["list", "--tag", &tag, "--page", "2"]);
    run.code(1);
    assert!(run.stderr.contains("there is no page 2"), "{}", run.stderr);
    assert!(run.stderr.contains("it has 1 page"), "{}", run.stderr);
    assert!(!run.stderr.contains("no sandboxes match"), "{}", run.stderr);
    let empty = cli(&["list", "--tag", "suite=nothing-has-this-tag"]);
    empty.ok();
    assert!(empty.stderr.contains("no sandboxes match"), "{}", empty.stderr);
    cli(&["terminate", &name]).ok();
}

#[test]
fn the_server_banner_says_where_everything_is_and_its_log_has_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let stderr_path = dir.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_porter-sandbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--ephemeral", "--data-dir"])
        .arg(&data_dir)
        // A discovery file that cannot be written: a warning in the log.
        .env("PORTER_SANDBOX_DISCOVERY_FILE", "/proc/no-such-dir/local-server.json")
        .env_remove("PORTER_SANDBOX_SERVER_API_KEYS")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect(&line).to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line:?}");
    // SAFETY: signalling our own child.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    child.wait().unwrap();
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    let key_file = data_dir.join("api-key");
    for part in [
        format!("porter-sandbox server on {url}"),
        format!("data directory: {}", data_dir.display()),
        format!("API key: in {}", key_file.display()),
        format!("export PORTER_SANDBOX_BASE_URL={url}"),
        format!("export PORTER_SANDBOX_API_KEY=\"$(cat {})\"", key_file.display()),
        "clients will not find this server on their own".to_owned(),
    ] {
        assert!(log.contains(&part), "{part:?} missing from the server's stderr:\n{log}");
    }
    assert!(!log.contains('\x1b'), "colour codes in a log that is not a terminal:\n{log}");
}
