//! The file commands of a volume: `ls`, `cat`, `put`, `get VOLUME PATH LOCAL_FILE`, `mv`.
//! Transfers are streamed: no file is ever held in memory whole.

use std::{
    fs,
    io::{self, Write},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use clap::Args;
use futures_util::StreamExt;
use porter_sandbox::{BinaryBody, BinaryStream, Porter, Volume, VolumeFile, normalize_path};

use crate::{
    error::{CliResult, Failure},
    output::{self, Cell, Style, Table},
    resolve,
};

/// Options of `volume ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
    /// The directory to list.
    #[arg(value_name = "PATH", default_value = "/")]
    path: String,
    /// Walk the subdirectories too, printing full paths.
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Only entries whose name contains this (case-insensitive), at any depth.
    #[arg(long, value_name = "TEXT", conflicts_with = "recursive")]
    search: Option<String>,
    /// Print the server's listing response (a nested tree) as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `volume cat`.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
    /// The file to print.
    #[arg(value_name = "PATH")]
    path: String,
}

/// Options of `volume put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
    /// The local file to upload, or `-` for stdin.
    #[arg(value_name = "LOCAL_FILE")]
    local: String,
    /// Where in the volume (parents are created); ending in `/`: keep the local file's name.
    #[arg(value_name = "PATH")]
    path: String,
}

/// Options of `volume mv`.
#[derive(Debug, Args)]
pub struct MvArgs {
    /// The volume's name or id.
    #[arg(value_name = "VOLUME")]
    target: String,
    /// The file or directory to move.
    #[arg(value_name = "FROM")]
    from: String,
    /// Its full new path (the parent must exist; nothing may be there yet).
    #[arg(value_name = "TO")]
    to: String,
}

/// `volume ls`.
pub async fn ls(porter: &Porter, args: LsArgs) -> CliResult {
    let volume = resolve::disk_volume(porter, &args.target).await?;
    let path = normalize_path(&args.path);
    if args.json {
        let listing = volume
            .raw()
            .list_volume_files(volume.id(), Some(&path), args.search.as_deref())
            .await?;
        output::json(&listing)?;
        return Ok(0);
    }
    let (entries, full_paths) = if let Some(query) = &args.search {
        (volume.search(query, &path).await?, true)
    } else if args.recursive {
        let mut walk = volume.iterdir(&path);
        let mut entries = Vec::new();
        while let Some(entry) = walk.next().await {
            entries.push(entry?);
        }
        (entries, true)
    } else {
        (volume.listdir(&path).await?, false)
    };
    if entries.is_empty() {
        output::note(if args.search.is_some() { "nothing matches" } else { "empty directory" });
        return Ok(0);
    }
    let mut table =
        Table::new(&["TYPE", "SIZE", "MODIFIED", if full_paths { "PATH" } else { "NAME" }]);
    for entry in &entries {
        table.row(file_row(entry, full_paths));
    }
    table.print()?;
    Ok(0)
}

fn file_row(entry: &VolumeFile, full_path: bool) -> Vec<Cell> {
    let shown = if full_path { &entry.path } else { &entry.name };
    if entry.is_directory() {
        let more = if entry.truncated { " (not fully listed)" } else { "" };
        vec![
            Cell::styled("dir", Style::Bold),
            "-".into(),
            entry.modified_at.as_deref().map_or_else(|| "-".to_owned(), output::age).into(),
            Cell::styled(format!("{shown}/{more}"), Style::Bold),
        ]
    } else {
        vec![
            "file".into(),
            output::size(entry.size_bytes).into(),
            entry.modified_at.as_deref().map_or_else(|| "-".to_owned(), output::age).into(),
            shown.as_str().into(),
        ]
    }
}

/// Opens a streamed read of a whole file.
async fn open(volume: &Volume, path: &str) -> CliResult<BinaryStream> {
    let path = normalize_path(path);
    let body = volume.raw().read_volume_file_stream(volume.id(), &path, None, None).await;
    body.map_err(|err| Failure::from(err).context(format!("cannot read {path}")))
}

/// Copies a streamed body to `out`; the number of bytes written.
async fn copy(body: &mut BinaryStream, out: &mut impl Write) -> CliResult<u64> {
    let mut written = 0;
    while let Some(chunk) = body.stream.next().await {
        let chunk = chunk?;
        out.write_all(&chunk)?;
        written += chunk.len() as u64;
    }
    out.flush()?;
    Ok(written)
}

/// `volume cat`.
pub async fn cat(porter: &Porter, args: CatArgs) -> CliResult {
    let volume = resolve::disk_volume(porter, &args.target).await?;
    let mut body = open(&volume, &args.path).await?;
    copy(&mut body, &mut io::stdout()).await?;
    Ok(0)
}

/// `volume get VOLUME PATH LOCAL_FILE`: the file goes to a temporary file next to the
/// destination, renamed into place once complete (`-`: to stdout).
pub async fn download(porter: &Porter, target: &str, path: &str, local: &str) -> CliResult {
    let volume = resolve::disk_volume(porter, target).await?;
    let mut body = open(&volume, path).await?;
    if local == "-" {
        copy(&mut body, &mut io::stdout()).await?;
        return Ok(0);
    }
    let mut destination = PathBuf::from(local);
    if destination.is_dir() {
        destination.push(file_name(path)?);
    }
    let dir = match destination.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".porter-sandbox-download-")
        .tempfile_in(&dir)
        .map_err(|e| Failure::new(format!("cannot write in {}: {e}", dir.display())))?;
    let written = copy(&mut body, &mut io::BufWriter::new(temp.as_file_mut())).await?;
    if let Some(expected) = body.content_length.filter(|&n| n != written) {
        return Err(Failure::new(format!(
            "the download of {path} stopped after {written} of {expected} bytes; {} is unchanged",
            destination.display()
        )));
    }
    let mode = fs::metadata(&destination).map_or(0o644, |m| m.permissions().mode());
    temp.as_file().set_permissions(fs::Permissions::from_mode(mode))?;
    temp.as_file().sync_all()?;
    temp.persist(&destination).map_err(|e| {
        Failure::new(format!("cannot write {}: {}", destination.display(), e.error))
    })?;
    output::line(format!(
        "downloaded {}:{} to {} ({})",
        volume.name(),
        normalize_path(path),
        destination.display(),
        output::size(i64::try_from(written).unwrap_or(i64::MAX))
    ))?;
    Ok(0)
}

fn file_name(path: &str) -> CliResult<&str> {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .ok_or_else(|| Failure::new(format!("{path:?} names no file")))
}

/// `volume put`: streams the file (stdin is first spooled to a temporary file, since the upload
/// may have to be sent twice: the API answers writes with a redirect).
pub async fn put(porter: &Porter, args: PutArgs) -> CliResult {
    let volume = resolve::disk_volume(porter, &args.target).await?;
    let mut spool = None;
    let source: PathBuf = if args.local == "-" {
        if args.path.ends_with('/') {
            return Err(Failure::new("stdin has no file name: give the full PATH in the volume"));
        }
        let mut temp = tempfile::NamedTempFile::new()
            .map_err(|e| Failure::new(format!("cannot create a temporary file: {e}")))?;
        io::copy(&mut io::stdin().lock(), &mut temp)
            .map_err(|e| Failure::new(format!("cannot read stdin: {e}")))?;
        let path = temp.path().to_owned();
        spool = Some(temp);
        path
    } else {
        let source = PathBuf::from(&args.local);
        check_readable_file(&source)?;
        source
    };
    let mut path = args.path.clone();
    if path.ends_with('/') {
        path.push_str(file_name(&args.local)?);
    }
    let path = normalize_path(&path);
    let size = fs::metadata(&source).map(|m| m.len()).unwrap_or(0);
    volume
        .write_file(&path, BinaryBody::from_path(&source))
        .await
        .map_err(|err| Failure::from(err).context(format!("cannot write {path}")))?;
    drop(spool);
    output::line(format!(
        "uploaded {} to {}:{path} ({})",
        if args.local == "-" { "stdin" } else { &args.local },
        volume.name(),
        output::size(i64::try_from(size).unwrap_or(i64::MAX))
    ))?;
    Ok(0)
}

fn check_readable_file(path: &Path) -> CliResult<()> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(Failure::new(format!("{} is not a regular file", path.display()))),
        Err(err) => Err(Failure::new(format!("cannot read {}: {err}", path.display()))),
    }
}

/// `volume mv`.
pub async fn mv(porter: &Porter, args: MvArgs) -> CliResult {
    let volume = resolve::disk_volume(porter, &args.target).await?;
    let (from, to) = (normalize_path(&args.from), normalize_path(&args.to));
    volume.move_file(&from, &to).await?;
    output::line(format!("moved {from} to {to} in {}", volume.name()))?;
    Ok(0)
}
