//! Running the `porter-sandbox` binary as a user would, against the shared server.

use std::{
    io::Write,
    process::{Command, Stdio},
};

use serde::de::DeserializeOwned;

use super::shared;

/// Environment variables that would point the CLI somewhere else; removed for every run.
const CONNECTION_ENV: [&str; 4] = [
    "PORTER_SANDBOX_BASE_URL",
    "PORTER_SANDBOX_API_KEY",
    "PORTER_CLUSTER_ID",
    "KUBERNETES_SERVICE_HOST",
];

/// What a run printed, and how it exited.
#[derive(Debug)]
pub struct Run {
    /// The exit code.
    pub code: i32,
    /// Stdout, as text (lossy).
    pub stdout: String,
    /// Stdout, as bytes.
    pub stdout_bytes: Vec<u8>,
    /// Stderr, as text (lossy).
    pub stderr: String,
}

impl Run {
    /// Asserts exit code `code`, showing both streams otherwise.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    /// Asserts success (exit 0).
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    /// Parses stdout as JSON of type `T`.
    #[track_caller]
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not the expected JSON ({e}): {}", self.stdout))
    }

    /// Stdout without the trailing newline.
    pub fn line(&self) -> &str {
        self.stdout.trim_end()
    }
}

/// A run with full control: arguments as given (no `--base-url` added), extra environment and
/// optional stdin.
pub fn run_raw(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_porter-sandbox"));
    for name in CONNECTION_ENV {
        command.env_remove(name);
    }
    // A real user's local server must not answer the tests' commands.
    command.env("PORTER_SANDBOX_DISCOVERY_FILE", "none");
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run porter-sandbox");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stdout_bytes: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `porter-sandbox --base-url <shared server> ARGS…`.
pub fn cli(args: &[&str]) -> Run {
    let base_url = shared().base_url.as_str();
    let mut all = vec!["--base-url", base_url];
    all.extend_from_slice(args);
    run_raw(&all, &[("PORTER_SANDBOX_API_KEY", super::TEST_API_KEY)], None)
}

/// The same, with `stdin` piped in.
pub fn cli_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let base_url = shared().base_url.as_str();
    let mut all = vec!["--base-url", base_url];
    all.extend_from_slice(args);
    run_raw(&all, &[("PORTER_SANDBOX_API_KEY", super::TEST_API_KEY)], Some(stdin))
}

/// Creates an idle `host` sandbox named `name` with extra `create` arguments, waits until it
/// runs, and returns its id.
pub fn running_sandbox(name: &str, extra: &[&str]) -> String {
    let mut args = vec!["create", "host", "--name", name, "--wait"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sleep", "300"]);
    let run = cli(&args);
    run.ok();
    let id = run.line().to_owned();
    assert!(id.starts_with("sb-"), "create prints the id: {id:?}");
    id
}
