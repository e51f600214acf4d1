//! Exec exit codes of programs that cannot run: 127 when the program does not
//! exist, 126 when it exists but is not executable, as shells and Docker answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod support;

use std::time::Duration;

use porter_sandbox::types::{SandboxSpec, StatusResponsePhase};
use support::{shared, wait_started};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_of_a_missing_or_non_executable_program() {
    let porter = shared().client();
    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("host").command(["sleep", "infinity"]))
        .await
        .unwrap();
    assert_eq!(wait_started(&sandbox, Duration::from_secs(30)).await, StatusResponsePhase::Running);

    let missing = sandbox.exec(["no-such-program-xyz", "arg"]).await.unwrap();
    let missing_path = sandbox.exec(["/nonexistent/bin/tool"]).await.unwrap();
    sandbox
        .exec(["sh", "-c", "printf 'echo hi\\n' > /tmp/script; chmod 644 /tmp/script"])
        .await
        .unwrap();
    let not_executable = sandbox.exec(["/tmp/script"]).await.unwrap();
    let directory = sandbox.exec(["/tmp"]).await.unwrap();
    // A program that itself exits 255 keeps its status.
    let own = sandbox.exec(["sh", "-c", "echo 'not found in $PATH' >&2; exit 255"]).await.unwrap();
    let ok = sandbox.exec(["true"]).await.unwrap();
    sandbox.terminate().await.unwrap();

    println!("missing: {missing:?}\nnot executable: {not_executable:?}\ndirectory: {directory:?}");
    assert_eq!(missing.exit_code, 127, "{missing:?}");
    assert!(missing.stderr.contains("no-such-program-xyz"), "{missing:?}");
    assert_eq!(missing_path.exit_code, 127, "{missing_path:?}");
    assert_eq!(not_executable.exit_code, 126, "{not_executable:?}");
    assert_eq!(directory.exit_code, 126, "{directory:?}");
    assert_eq!(own.exit_code, 255, "{own:?}");
    assert_eq!(ok.exit_code, 0);
}
