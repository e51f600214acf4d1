//! Helpers of the hardening tests that the shared harness does not offer.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

/// Whether crun knows container `id`.
pub fn container_exists(id: &str) -> bool {
    Command::new("crun").args(["state", id]).output().is_ok_and(|o| o.status.success())
}
