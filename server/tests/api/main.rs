#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The API end to end through the core client: a service on the fake runtime
//! ([`porter_sandbox_server::runtime::fake`]), served on a loopback port inside the test
//! process. No root, no containers. What only real containers can prove (isolation, limits,
//! captured files, mounts) stays in `cli/tests/api_*.rs`.

#[path = "../support/fake.rs"]
mod support;

mod openapi;
mod resources;
mod sandboxes;
mod snapshots;
mod volumes;

use std::time::{Duration, Instant};

use porter_sandbox::{Sandbox, types::StatusResponsePhase};

/// How long a sandbox may take to start or end before a test fails.
const PATIENCE: Duration = support::PATIENCE;

/// Polls until the sandbox leaves queued/creating; returns its phase.
async fn wait_started(sandbox: &Sandbox) -> StatusResponsePhase {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = sandbox.refresh().await.unwrap();
        if !matches!(status.phase, StatusResponsePhase::Queued | StatusResponsePhase::Creating)
            || Instant::now() > deadline
        {
            return status.phase;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls until the sandbox is in a terminal phase; returns it.
async fn wait_finished(sandbox: &Sandbox) -> StatusResponsePhase {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = sandbox.refresh().await.unwrap();
        if status.phase.is_terminal() || Instant::now() > deadline {
            return status.phase;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
