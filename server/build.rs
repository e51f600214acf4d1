//! Builds the exec agent (`agent/main.rs`) as a static binary that the server embeds and
//! mounts into every sandbox (see `src/runtime/oci/agent.rs`).
//!
//! It is compiled with `rustc` directly: one file, `std` only, `+crt-static` — a flag that
//! cannot be set for one binary of a Cargo workspace. When it cannot be built (a target
//! without a static C library), the server is built without it and runs every command with
//! `crun exec`, as before; `cargo:warning` says so.

use std::{env, path::PathBuf, process::Command};

fn main() {
    println!("cargo:rerun-if-changed=agent/main.rs");
    println!("cargo:rerun-if-changed=agent/protocol.rs");
    println!("cargo:rerun-if-changed=agent/usage.rs");
    println!("cargo::rustc-check-cfg=cfg(porter_agent)");
    let (Some(out), Ok(target)) = (env::var_os("OUT_DIR"), env::var("TARGET")) else {
        println!("cargo:warning=no OUT_DIR or TARGET: the exec agent is not built");
        return;
    };
    let out = PathBuf::from(out);
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let binary = out.join("porter-sandbox-agent");
    if !target.contains("linux") {
        return;
    }
    let status = Command::new(rustc)
        .args(["--edition", "2024", "--crate-type", "bin", "--crate-name", "porter_sandbox_agent"])
        .args(["--target", &target])
        .args(["-C", "target-feature=+crt-static", "-C", "opt-level=2", "-C", "panic=abort"])
        .args(["-C", "strip=symbols", "-C", "codegen-units=1"])
        .arg("-o")
        .arg(&binary)
        .arg("agent/main.rs")
        .status();
    match status {
        Ok(status) if status.success() => println!("cargo:rustc-cfg=porter_agent"),
        Ok(status) => println!(
            "cargo:warning=the exec agent could not be built ({status}): commands will use crun exec"
        ),
        Err(err) => println!(
            "cargo:warning=cannot run rustc for the exec agent ({err}): commands will use crun exec"
        ),
    }
}
