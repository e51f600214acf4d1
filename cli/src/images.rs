//! `porter-sandbox images …`: maintenance of a local server's image store (works on the data
//! directory directly, whether or not the server runs).

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand};
use porter_sandbox_server::{images::ImageStore, serve, store::Store};

use crate::output;

/// `images …`.
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Remove unpacked images, layers and old `host` builds that no live sandbox uses (waits
    /// for pulls in progress). Images are pulled or unpacked again when next needed.
    Prune(PruneArgs),
}

/// Options of `images prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The server's data directory [default: ~/.local/share/porter-sandbox].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs an `images` command.
pub fn run(command: ImagesCommand) -> ExitCode {
    let ImagesCommand::Prune(args) = command;
    let data_dir = args.data_dir.unwrap_or_else(serve::default_data_dir);
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let db = data_dir.join("state.db");
        if !db.is_file() {
            return Err(format!(
                "`{}` holds no server state (no state.db); pass the server's --data-dir",
                data_dir.display()
            ));
        }
        let store = Store::open(&db).map_err(|e| format!("cannot open {}: {e}", db.display()))?;
        let images = ImageStore::new(data_dir.join("images"));
        let report = images.prune_unused(&store, true).await.map_err(|e| e.to_string())?;
        report.ok_or_else(|| "the image store is busy; try again".to_owned())
    });
    match result {
        Ok(report) if args.json => {
            let json = serde_json::json!({
                "removed_images": report.removed_images,
                "removed_blobs": report.removed_blobs,
                "freed_bytes": report.freed_bytes,
                "kept_images": report.kept_images,
                "kept_blobs": report.kept_blobs,
            });
            finish(output::line(json))
        }
        Ok(report) => finish(output::line(format!(
            "removed {} and {} ({:.1} MiB); kept {} and {} in use",
            output::count(report.removed_images, "image", "images"),
            output::count(report.removed_blobs, "layer/blob", "layers/blobs"),
            report.freed_bytes as f64 / (1024.0 * 1024.0),
            output::count(report.kept_images, "image", "images"),
            output::count(report.kept_blobs, "blob", "blobs"),
        ))),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code once the report is printed (a closed stdout is a failure).
fn finish(printed: std::io::Result<()>) -> ExitCode {
    match printed {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            output::note(format!("error: cannot print the report: {err}"));
            ExitCode::FAILURE
        }
    }
}
