//! Sandboxes that cannot leak: a scoped guard, waiting, get-or-create and a lease.
//!
//! Run against a local server: `cargo run -p porter-sandbox --example lifecycle` (the base URL
//! and key come from the environment or the local server's discovery file).
#![allow(clippy::print_stdout)]

use std::time::Duration;

use porter_sandbox::{LogsQuery, Porter, types::SandboxSpec};

#[tokio::main]
async fn main() -> porter_sandbox::Result<()> {
    let porter = Porter::new()?;

    // A guard: the sandbox is terminated when it drops (also on `?` or a panic).
    let sandbox = porter
        .sandboxes()
        .create_scoped(SandboxSpec::new("host").command(["sleep", "300"]).tag("workflow", "demo"))
        .await?;
    sandbox.wait_until_running(Some(Duration::from_secs(120))).await?;
    let out = sandbox.exec(["python3", "-c", "print(1 + 1)"]).await?;
    println!("{} {}", out.exit_code, out.stdout);
    for line in sandbox.logs(LogsQuery::new().limit(20)).await? {
        println!("{}", line.line);
    }
    sandbox.terminate().await?; // explicit, reporting errors; dropping it would do too

    // The live sandbox of that name, or a new one; the lease ends it if this program dies.
    let spec = SandboxSpec::new("host").command(["sh", "-c", "sleep 1; exit 3"]).lease_seconds(30);
    let job = porter.sandboxes().get_or_create("lifecycle-example-job", spec).await?;
    println!("exit code {}", job.wait(Some(Duration::from_secs(60))).await?);
    Ok(())
}
