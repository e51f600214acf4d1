//! The client commands, one module per area, and the argument parsers they share.

pub mod exec;
pub mod files;
pub mod logs;
pub mod process;
pub mod sandboxes;
pub mod snapshots;
pub mod volumes;
pub mod wait;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use porter_sandbox::{Porter, types::SandboxesPhase};

use crate::error::CliResult;

/// A client command with its arguments.
#[derive(Debug)]
pub enum Action {
    /// `create`.
    Create(sandboxes::CreateArgs),
    /// `list`.
    List(sandboxes::ListArgs),
    /// `get`.
    Get(sandboxes::GetArgs),
    /// `logs`.
    Logs(logs::LogsArgs),
    /// `exec`.
    Exec(exec::ExecArgs),
    /// `terminate`.
    Terminate(sandboxes::TerminateArgs),
    /// `wait`.
    Wait(wait::WaitArgs),
    /// `attach`.
    Attach(process::AttachArgs),
    /// `ps`.
    Ps(process::PsArgs),
    /// `kill`.
    Kill(process::KillArgs),
    /// `volume …`.
    Volume(volumes::VolumeCommand),
    /// `snapshot …`.
    Snapshot(snapshots::SnapshotCommand),
}

/// Runs `action`; the exit code on success.
pub async fn run(porter: &Porter, action: Action) -> CliResult {
    match action {
        Action::Create(args) => sandboxes::create(porter, args).await,
        Action::List(args) => sandboxes::list(porter, args).await,
        Action::Get(args) => sandboxes::get(porter, args).await,
        Action::Logs(args) => logs::run(porter, args).await,
        Action::Exec(args) => exec::run(porter, args).await,
        Action::Terminate(args) => sandboxes::terminate(porter, args).await,
        Action::Wait(args) => wait::wait(porter, args).await,
        Action::Attach(args) => process::attach(porter, args).await,
        Action::Ps(args) => process::ps(porter, args).await,
        Action::Kill(args) => process::kill(porter, args).await,
        Action::Volume(command) => volumes::run(porter, command).await,
        Action::Snapshot(command) => snapshots::run(porter, command).await,
    }
}

/// The sandbox phases, as accepted by `--phase`.
pub const PHASES: [&str; 6] =
    ["queued", "creating", "running", "succeeded", "failed", "terminated"];

/// The value parser of `--phase`: one of [`PHASES`], shown in the help and completions.
pub fn phase_parser() -> impl TypedValueParser<Value = SandboxesPhase> {
    PossibleValuesParser::new(PHASES).map(|p| SandboxesPhase::from_wire(&p))
}

/// Parses `KEY=VALUE` (the value may contain `=`; the key must not be empty).
pub fn parse_key_value(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, rest)) if !key.is_empty() => Ok((key.to_owned(), rest.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {value:?}")),
    }
}

/// Parses a `--volume PATH=VOLUME` mount: an absolute path inside the sandbox and a volume name
/// or id.
pub fn parse_mount(value: &str) -> Result<(String, String), String> {
    let (path, volume) = parse_key_value(value)
        .map_err(|_| format!("expected PATH=VOLUME (e.g. /data=my-volume), got {value:?}"))?;
    if !path.starts_with('/') {
        return Err(format!("the mount path must be absolute (start with /), got {path:?}"));
    }
    if volume.is_empty() {
        return Err(format!("name the volume to mount at {path} (a name or an id)"));
    }
    Ok((path, volume))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values() {
        assert_eq!(parse_key_value("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_key_value("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }

    #[test]
    fn mounts() {
        assert_eq!(parse_mount("/data=v").unwrap(), ("/data".into(), "v".into()));
        assert!(parse_mount("data=v").is_err());
        assert!(parse_mount("/data=").is_err());
    }
}
