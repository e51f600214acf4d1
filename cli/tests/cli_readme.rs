//! The CLI walkthrough of README.md, run as a user would paste it: every `sh` block of the CLI
//! section (but those marked `<!-- readme-test: skip … -->`), twice in a row against one server,
//! so the README stays correct and its examples can be run again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::{TEST_API_KEY, shared};

/// The marker that keeps the next code block out of the test (with the reason after it).
const SKIP: &str = "<!-- readme-test: skip";

/// The `sh` blocks of the README's `## CLI` section that are not marked to be skipped.
fn cli_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md at the repository root");
    let start = readme.find("\n## CLI\n").expect("a `## CLI` section in README.md");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut lines = section.lines().peekable();
    let mut previous = "";
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("```sh") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            if !previous.trim_start().starts_with(SKIP) {
                blocks.push(body.join("\n") + "\n");
            }
        }
        previous = line;
    }
    blocks
}

#[test]
fn the_cli_walkthrough_runs_twice_in_a_row() {
    let blocks = cli_blocks();
    assert!(!blocks.is_empty(), "README.md's CLI section has no runnable `sh` block");
    let server = shared();
    let binary = Path::new(env!("CARGO_BIN_EXE_porter-sandbox"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for round in 1..=2 {
        for (i, block) in blocks.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let output = Command::new("bash")
                .args(["-euo", "pipefail", "-c", block])
                .current_dir(dir.path())
                .env("PATH", &path)
                .env("PORTER_SANDBOX_BASE_URL", &server.base_url)
                .env("PORTER_SANDBOX_API_KEY", TEST_API_KEY)
                .env("PORTER_SANDBOX_DISCOVERY_FILE", "none")
                .env_remove("PORTER_CLUSTER_ID")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                output.status.success(),
                "round {round}, block {i} failed ({}):\n{block}\nstdout:\n{stdout}\nstderr:\n{stderr}",
                output.status
            );
            if block.contains("volume cat") {
                assert!(stdout.contains("hello\n"), "round {round}: {stdout}");
            }
        }
    }
    // Nothing the walkthrough started is left running.
    let porter = server.client();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let live = rt
        .block_on(async {
            let mut filter = porter_sandbox::api::SandboxFilter::new();
            filter.tag = vec!["workflow=demo".to_owned()];
            filter.phase = vec![
                porter_sandbox::types::SandboxesPhase::Queued,
                porter_sandbox::types::SandboxesPhase::Creating,
                porter_sandbox::types::SandboxesPhase::Running,
            ];
            porter.sandboxes().list_all(filter).await
        })
        .unwrap();
    assert!(
        live.is_empty(),
        "sandboxes left running: {:?}",
        live.iter().map(porter_sandbox::Sandbox::id).collect::<Vec<_>>()
    );
}
