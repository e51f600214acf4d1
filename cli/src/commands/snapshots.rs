//! `snapshot create|list|get|delete`.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use porter_sandbox::{
    Porter,
    types::{Snapshot, SnapshotMode, SnapshotSpec, SnapshotStatus},
};
use time::OffsetDateTime;

use crate::{
    error::{CliResult, Failure},
    output::{self, Cell, Table},
    resolve,
};

/// `snapshot …`.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Capture a running sandbox (it keeps running) and print the snapshot id.
    Create(CreateArgs),
    /// List snapshots, newest first.
    List(ListArgs),
    /// Show a snapshot and its capture status.
    Get(IdArgs),
    /// Delete a snapshot.
    Delete(DeleteArgs),
}

/// Options of `snapshot create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "SANDBOX")]
    sandbox: String,
    /// What to capture.
    #[arg(long, value_parser = ["filesystem", "full"])]
    mode: Option<String>,
    /// Wait until the capture is ready (fail if it fails).
    #[arg(long)]
    wait: bool,
    /// How long --wait waits.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, requires = "wait")]
    wait_timeout: u64,
    /// Print the snapshot record as JSON instead of the id.
    #[arg(long)]
    json: bool,
}

/// Options of `snapshot list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the snapshots of this sandbox (name or id).
    #[arg(long, value_name = "SANDBOX")]
    sandbox: Option<String>,
    /// Print the list response as JSON.
    #[arg(long)]
    json: bool,
}

/// A snapshot id.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// The snapshot id (`snap-…`).
    #[arg(value_name = "ID")]
    id: String,
    /// Print the snapshot record as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `snapshot delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The snapshot id (`snap-…`).
    #[arg(value_name = "ID")]
    id: String,
}

/// How often `--wait` polls the capture.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Polls until the capture settles: the ready snapshot, or a failure with its reason.
async fn wait_ready(
    porter: &Porter,
    mut snapshot: Snapshot,
    timeout: Duration,
) -> CliResult<Snapshot> {
    let started = Instant::now();
    while snapshot.status == SnapshotStatus::Pending {
        if started.elapsed() > timeout {
            return Err(Failure::new(format!(
                "snapshot {} is still pending after {}s",
                snapshot.id,
                timeout.as_secs()
            ))
            .hint(format!("check later with `porter-sandbox snapshot get {}`", snapshot.id)));
        }
        tokio::time::sleep(WAIT_POLL).await;
        snapshot = porter.snapshots().get(&snapshot.id).await?;
    }
    if snapshot.status == SnapshotStatus::Ready {
        output::note(format!("{} is ready ({:.1}s)", snapshot.id, started.elapsed().as_secs_f64()));
        return Ok(snapshot);
    }
    Err(Failure::new(format!(
        "snapshot {} failed: {}",
        snapshot.id,
        snapshot.failure_reason.as_deref().unwrap_or("no reason given")
    )))
}

/// Runs a `snapshot` subcommand.
pub async fn run(porter: &Porter, command: SnapshotCommand) -> CliResult {
    let snapshots = porter.snapshots();
    match command {
        SnapshotCommand::Create(args) => {
            let sandbox = resolve::sandbox(porter, &args.sandbox).await?;
            let spec = SnapshotSpec { mode: args.mode.as_deref().map(SnapshotMode::from_wire) };
            let mut snapshot = snapshots.create(sandbox.id(), spec).await?;
            if args.wait {
                snapshot =
                    wait_ready(porter, snapshot, Duration::from_secs(args.wait_timeout)).await?;
            }
            if args.json {
                output::json(&snapshot)?;
            } else {
                output::line(&snapshot.id)?;
            }
        }
        SnapshotCommand::List(args) => {
            let sandbox_id = match &args.sandbox {
                Some(target) => Some(resolve::sandbox(porter, target).await?.id().to_owned()),
                None => None,
            };
            let response = snapshots.list(sandbox_id.as_deref()).await?;
            if args.json {
                output::json(&response)?;
            } else if response.snapshots.is_empty() {
                output::note("no snapshots");
            } else {
                let mut table = Table::new(&["ID", "SANDBOX", "MODE", "STATUS", "SIZE", "CREATED"]);
                for snapshot in &response.snapshots {
                    table.row(row(snapshot));
                }
                table.print()?;
            }
        }
        SnapshotCommand::Get(args) => {
            let snapshot = snapshots.get(&args.id).await?;
            if args.json {
                output::json(&snapshot)?;
            } else {
                let headers = ["ID", "Sandbox", "Mode", "Status", "Size", "Created"];
                let mut fields: Vec<(&str, Cell)> =
                    headers.into_iter().zip(row(&snapshot)).collect();
                if let Some(reason) = snapshot.failure_reason {
                    fields.push(("Failure", reason.into()));
                }
                output::fields(&fields)?;
            }
        }
        SnapshotCommand::Delete(args) => {
            snapshots.delete(&args.id).await?;
            output::line(format!("deleted {}", args.id))?;
        }
    }
    Ok(0)
}

fn row(snapshot: &Snapshot) -> Vec<Cell> {
    let status = snapshot.status.as_str();
    let created = snapshot
        .t_created_unix_ms
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .map_or_else(|| "-".to_owned(), |t| output::age(&t));
    vec![
        snapshot.id.as_str().into(),
        snapshot.sandbox_id.as_str().into(),
        snapshot.mode.as_str().into(),
        Cell::styled(status, output::phase_style(status)),
        snapshot.size_bytes.map_or_else(|| "-".to_owned(), output::size).into(),
        created.into(),
    ]
}
