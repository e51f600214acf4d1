//! Helpers of the hardening tests that the shared harness does not offer.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, process::Command};

/// The pid of the server serving `data_dir` (the harness keeps its child private).
pub fn server_pid(data_dir: &Path) -> u32 {
    let needle = data_dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<String> =
                raw.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            args.iter().any(|a| a == "serve") && args.contains(&needle)
        })
        .expect("the server process")
}

/// Whether crun knows container `id`.
pub fn container_exists(id: &str) -> bool {
    Command::new("crun").args(["state", id]).output().is_ok_and(|o| o.status.success())
}
