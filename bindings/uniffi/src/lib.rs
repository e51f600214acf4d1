//! The native library of the Kotlin/JVM package: the Rust core of the Porter Sandbox client,
//! exported through uniffi proc-macros (no UDL).
//!
//! This crate is deliberately thin: it converts between uniffi records/enums and the core's
//! types, and core errors into [`NativeError`]. Every request, retry, redirect, timeout,
//! configuration rule and path rule lives in the `porter-sandbox` crate.
//!
//! Every exported object impl names `async_runtime = "tokio"` (a test below checks it): the
//! core's futures need a tokio reactor, which uniffi then provides while polling them. Dropping a
//! future — what a cancelled Kotlin coroutine does — drops the request with it.
//!
//! `uniffi-bindgen generate --library libporter_sandbox_uniffi.so -l kotlin` renders the
//! package `run.porter.sandbox.ffi` (see `uniffi.toml`), which `kotlin/` wraps.

mod client;
mod enums;
mod errors;
mod process;
mod records;
mod sandbox;
mod volume;
mod volume_records;

pub use client::{
    ListSandboxesParams, NativePorter, NativeSandboxes, NativeSnapshots, NativeVolumes,
    PorterOptions,
};
pub use enums::*;
pub use errors::NativeError;
pub use process::{NativeOutputStream, NativeProcess, OutputChunk, ProcessStatus};
pub use records::*;
pub use sandbox::NativeSandbox;
pub use volume::{NativeChunkStream, NativeFileIterator, NativeVolume};
pub use volume_records::*;

uniffi::setup_scaffolding!();

/// The version of this library (and of the Kotlin package built from it).
#[uniffi::export]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// A sandbox status from its JSON text (the `body` of a `SandboxTerminal` error); `None` when
/// the text is not a status.
#[uniffi::export]
pub fn sandbox_status_from_json(json: String) -> Option<StatusResponse> {
    serde_json::from_str::<porter_sandbox::types::StatusResponse>(&json).ok().map(Into::into)
}

/// The form every volume handle sends a path in (`a/b/` → `/a/b`).
#[uniffi::export]
pub fn normalize_path(path: String) -> String {
    porter_sandbox::normalize_path(&path)
}

#[cfg(test)]
mod tests {
    /// Every export of an impl block names the tokio runtime: without it the first request
    /// fails at run time with "there is no reactor running".
    use super::*;

    #[test]
    fn the_body_of_a_terminal_error_reads_back_as_a_status() {
        let terminal = porter_sandbox::Error::new(
            porter_sandbox::ErrorKind::SandboxTerminal,
            "sandbox sb-1 ended failed",
        )
        .with_body(Some(porter_sandbox::DecodedBody::Json(serde_json::json!({
            "id": "sb-1", "name": "sb-1", "image": "host", "phase": "failed", "host": "",
            "created_at": "2026-01-01T00:00:00Z", "exit_code": 3,
            "termination_reason": "workload_exited",
        }))));
        let NativeError::SandboxTerminal { detail, body: Some(body), .. } =
            NativeError::from(terminal)
        else {
            panic!("a terminal sandbox must map to SandboxTerminal with its status as the body");
        };
        assert_eq!(detail, "sandbox sb-1 ended failed");
        let status = sandbox_status_from_json(body);
        assert_eq!(status.as_ref().map(|s| (s.id.as_str(), s.exit_code)), Some(("sb-1", Some(3))));
        assert_eq!(status.map(|s| s.phase), Some(StatusResponsePhase::Failed));
        assert!(sandbox_status_from_json("{\"error\":\"x\"}".to_owned()).is_none());
    }

    #[test]
    fn every_impl_export_names_the_tokio_runtime() {
        let sources = [
            include_str!("client.rs"),
            include_str!("sandbox.rs"),
            include_str!("volume.rs"),
            include_str!("process.rs"),
        ];
        let mut impls = 0;
        for source in sources {
            let lines: Vec<&str> = source.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim_start().starts_with("#[uniffi::export") {
                    impls += 1;
                    assert_eq!(line.trim(), r#"#[uniffi::export(async_runtime = "tokio")]"#);
                    let next = lines.get(i + 1).map_or("", |l| l.trim_start());
                    assert!(next.starts_with("impl "), "export on a non-impl item: {next}");
                }
            }
        }
        assert_eq!(impls, 10, "every exported impl block is checked");
    }
}
