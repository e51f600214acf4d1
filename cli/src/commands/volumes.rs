//! `volume create|list|get|delete` (the file commands are in `files.rs`).

use clap::{Args, Subcommand};
use porter_sandbox::{
    Porter,
    types::{VolumeRecord, VolumeSpec},
};

use super::files;
use crate::{
    error::CliResult,
    output::{self, Cell, Table},
    resolve,
};

/// `volume …`. VOLUME is a volume's name or id everywhere.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a (disk) volume and print its id.
    Create(CreateArgs),
    /// List volumes.
    List(JsonArgs),
    /// Show a volume (its record).
    Show(ShowArgs),
    /// Download a file of a volume to a local file, a directory, or stdout (`-`).
    Download(DownloadArgs),
    /// `show` with VOLUME alone, `download` with PATH and LOCAL_FILE (kept for existing
    /// scripts; the two names say which is meant).
    Get(GetArgs),
    /// Delete a volume and its files (refused while a sandbox uses it).
    Delete(TargetArgs),
    /// List the files of a volume directory.
    Ls(files::LsArgs),
    /// Print a file of a volume on stdout.
    Cat(files::CatArgs),
    /// Upload a local file (or stdin, `-`) to a path of a volume, replacing it atomically.
    Put(files::PutArgs),
    /// Move or rename a file or directory of a volume (never overwrites).
    Mv(files::MvArgs),
}

/// Options of `volume create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Volume name (lowercase letters, digits, hyphens); defaults to the id.
    name: Option<String>,
    /// Print the volume record as JSON instead of the id.
    #[arg(long)]
    json: bool,
}

/// Just `--json`.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the wire JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// A volume argument.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
}

/// Options of `volume show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
    /// Print the volume record as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `volume download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
    /// The file of the volume to download.
    #[arg(value_name = "PATH")]
    path: String,
    /// Where to write it: a path (written whole or not at all), a directory, or `-` for stdout.
    #[arg(value_name = "LOCAL_FILE")]
    local: String,
}

/// Options of `volume get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
    /// A file of the volume to download (with LOCAL_FILE).
    #[arg(value_name = "PATH", requires = "local")]
    path: Option<String>,
    /// Where to write the file: a path (written whole or not at all), a directory, or `-` for
    /// stdout.
    #[arg(value_name = "LOCAL_FILE")]
    local: Option<String>,
    /// Print the volume record as JSON.
    #[arg(long, conflicts_with = "path")]
    json: bool,
}

/// Runs a `volume` subcommand.
pub async fn run(porter: &Porter, command: VolumeCommand) -> CliResult {
    match command {
        VolumeCommand::Create(args) => create(porter, args).await,
        VolumeCommand::List(args) => list(porter, args).await,
        VolumeCommand::Show(args) => get(porter, &args.target, args.json).await,
        VolumeCommand::Download(args) => {
            files::download(porter, &args.target, &args.path, &args.local).await
        }
        VolumeCommand::Get(args) => match (args.path, args.local) {
            (Some(path), Some(local)) => files::download(porter, &args.target, &path, &local).await,
            _ => get(porter, &args.target, args.json).await,
        },
        VolumeCommand::Delete(args) => delete(porter, &args.target).await,
        VolumeCommand::Ls(args) => files::ls(porter, args).await,
        VolumeCommand::Cat(args) => files::cat(porter, args).await,
        VolumeCommand::Put(args) => files::put(porter, args).await,
        VolumeCommand::Mv(args) => files::mv(porter, args).await,
    }
}

async fn create(porter: &Porter, args: CreateArgs) -> CliResult {
    let spec = args.name.map(VolumeSpec::named).unwrap_or_default();
    let record = porter.volumes().raw().create_volume(&spec).await?;
    if args.json {
        output::json(&record)?;
    } else {
        output::line(&record.id)?;
    }
    Ok(0)
}

async fn list(porter: &Porter, args: JsonArgs) -> CliResult {
    let response = porter.volumes().raw().list_volumes().await?;
    if args.json {
        output::json(&response)?;
        return Ok(0);
    }
    if response.volumes.is_empty() {
        output::note("no volumes yet: `porter-sandbox volume create NAME` makes one");
        return Ok(0);
    }
    let mut table = Table::new(&["ID", "NAME", "TYPE", "PHASE", "ATTACHED TO", "CREATED"]);
    for volume in &response.volumes {
        let phase = volume.phase.as_str();
        table.row(vec![
            volume.id.as_str().into(),
            volume.name.as_str().into(),
            volume.r#type.as_str().into(),
            Cell::styled(phase, output::phase_style(phase)),
            attached(volume).into(),
            output::age(&volume.created_at).into(),
        ]);
    }
    table.print()?;
    Ok(0)
}

fn attached(volume: &VolumeRecord) -> String {
    if volume.attached_to.is_empty() { "-".to_owned() } else { volume.attached_to.join(",") }
}

async fn get(porter: &Porter, target: &str, json: bool) -> CliResult {
    let record = resolve::volume(porter, target).await?.record();
    if json {
        output::json(&record)?;
        return Ok(0);
    }
    let phase = record.phase.as_str();
    let mut fields: Vec<(&str, Cell)> = vec![
        ("ID", record.id.as_str().into()),
        ("Name", record.name.as_str().into()),
        ("Type", record.r#type.as_str().into()),
        ("Phase", Cell::styled(phase, output::phase_style(phase))),
        ("Attached to", attached(&record).into()),
        ("Created", format!("{} ({})", record.created_at, output::age(&record.created_at)).into()),
    ];
    if !record.path.is_empty() {
        fields.push(("Path", record.path.as_str().into()));
    }
    if let Some(object) = &record.object {
        let prefix = object.prefix.as_deref().map(|p| format!("/{p}")).unwrap_or_default();
        fields.push(("Bucket", format!("{}{prefix}", object.bucket).into()));
    }
    output::fields(&fields)?;
    Ok(0)
}

async fn delete(porter: &Porter, target: &str) -> CliResult {
    let volume = resolve::volume(porter, target).await?;
    let record = volume.record();
    porter.volumes().raw().delete_volume(volume.id()).await?;
    if record.name == record.id {
        output::line(format!("deleted {}", record.id))?;
    } else {
        output::line(format!("deleted {} ({})", record.id, record.name))?;
    }
    Ok(0)
}
