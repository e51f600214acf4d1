//! `snapshot create|list|get|delete`.

use clap::{Args, Subcommand};
use porter_sandbox::{
    Porter,
    types::{Snapshot, SnapshotMode, SnapshotSpec},
};
use time::OffsetDateTime;

use crate::{
    error::CliResult,
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

/// Runs a `snapshot` subcommand.
pub async fn run(porter: &Porter, command: SnapshotCommand) -> CliResult {
    let snapshots = porter.snapshots();
    match command {
        SnapshotCommand::Create(args) => {
            let sandbox = resolve::sandbox(porter, &args.sandbox).await?;
            let spec = SnapshotSpec { mode: args.mode.as_deref().map(SnapshotMode::from_wire) };
            let snapshot = snapshots.create(sandbox.id(), spec).await?;
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
