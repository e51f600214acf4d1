//! The host's devices stay the host's: no way of starting a command in a sandbox (its
//! workload, an exec, a process) gives the sandbox's user the host's `/dev/null`, which the
//! engine would otherwise hand over as the command's standard input — and whose mode a
//! sandbox could then change for every user and sandbox of the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{os::unix::fs::MetadataExt, time::Duration};

use porter_sandbox::{ProcessSpec, types::SandboxSpec};
use support::{shared, wait_started};

fn dev_null() -> (u32, u32, u32) {
    let meta = std::fs::metadata("/dev/null").unwrap();
    (meta.uid(), meta.gid(), meta.mode() & 0o777)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_command_of_a_sandbox_gets_the_hosts_dev_null() {
    // The server repairs what an older server left behind when it starts.
    let porter = shared().client();
    assert_eq!(dev_null(), (0, 0, 0o666), "/dev/null before any sandbox");
    let spec = SandboxSpec::new("host").command(["sh", "-c", "chmod 600 /dev/null; sleep 600"]);
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    wait_started(&sandbox, Duration::from_secs(30)).await;
    let exec = sandbox.exec(["sh", "-c", "chmod 600 /dev/null"]).await.unwrap();
    let process =
        sandbox.start(ProcessSpec::new(["sh", "-c", "chmod 600 /dev/null"])).await.unwrap();
    let status = process.wait(Some(Duration::from_secs(30))).await.unwrap();
    // Writing to it still works for everyone.
    let write = sandbox.exec(["sh", "-c", "echo gone > /dev/null"]).await.unwrap();
    sandbox.terminate().await.unwrap();

    assert_ne!(exec.exit_code, 0, "chmod of /dev/null from an exec succeeded: {exec:?}");
    assert_ne!(
        status.exit_code,
        Some(0),
        "chmod of /dev/null from a process succeeded: {status:?}"
    );
    assert_eq!(write.exit_code, 0, "{write:?}");
    assert_eq!(dev_null(), (0, 0, 0o666), "/dev/null after the sandbox's commands");
}
