//! Create a sandbox, run a command in it, read its logs, terminate it.
//!
//! Run against a local server: `porter-sandbox serve` in one terminal, then
//! `PORTER_SANDBOX_BASE_URL=http://127.0.0.1:8080 cargo run -p porter-sandbox --example quickstart`.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use porter_sandbox::{LogsQuery, Porter, types::SandboxSpec};

#[tokio::main]
async fn main() -> porter_sandbox::Result<()> {
    let porter = Porter::new()?;
    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("host").tag("example", "quickstart").command(["sleep", "300"]))
        .await?;
    println!("created {}", sandbox.id());

    // Creation returns at once; poll until the sandbox leaves queued/creating.
    loop {
        let status = sandbox.refresh().await?;
        if !matches!(status.phase.as_str(), "queued" | "creating") {
            println!("phase {}", status.phase);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let result = sandbox.exec(["python3", "-c", "print(6 * 7)"]).await?;
    println!("exit {} stdout {:?}", result.exit_code, result.stdout);

    for line in sandbox.logs(LogsQuery::new().limit(20)).await? {
        println!("[{}] {}", line.level, line.line);
    }
    sandbox.terminate().await?;
    println!("terminated");
    Ok(())
}
