//! Which server to talk to (the same resolution as every SDK) and which sandbox or volume a
//! `NAME|ID` argument means.

use std::sync::OnceLock;

use clap::Args;
use porter_sandbox::{
    ErrorKind, Porter, Sandbox, Volume, VolumeHandle,
    config::{ENV_BASE_URL, ENV_CLUSTER_ID},
};

use crate::error::{CliResult, Failure};

/// The address of a local server started with `porter-sandbox serve` and no options.
pub const LOCAL_BASE_URL: &str = "http://127.0.0.1:8080";

/// Connection options, accepted before the command (`porter-sandbox --base-url URL list`).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub struct ConnectionArgs {
    /// Sandbox API address [default: $PORTER_SANDBOX_BASE_URL; else from $PORTER_CLUSTER_ID and
    /// the API key; else the in-cluster address].
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// API key, sent as a bearer token [default: $PORTER_SANDBOX_API_KEY].
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
}

/// The same options, also accepted after the command (`porter-sandbox list --base-url URL`) and
/// after any of its subcommands.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Connection")]
pub struct CommandConnectionArgs {
    /// Sandbox API address [default: $PORTER_SANDBOX_BASE_URL; else from $PORTER_CLUSTER_ID and
    /// the API key; else the in-cluster address].
    #[arg(long = "base-url", value_name = "URL", global = true)]
    pub base_url: Option<String>,
    /// API key, sent as a bearer token [default: $PORTER_SANDBOX_API_KEY].
    #[arg(long = "api-key", value_name = "KEY", global = true)]
    pub api_key: Option<String>,
}

impl ConnectionArgs {
    /// These options, overridden by those given after the command.
    pub fn merge(self, later: CommandConnectionArgs) -> Self {
        Self { base_url: later.base_url.or(self.base_url), api_key: later.api_key.or(self.api_key) }
    }
}

static BASE_URL: OnceLock<String> = OnceLock::new();

/// The base URL of the client, once one was built (for error hints).
pub fn base_url_in_use() -> Option<&'static str> {
    BASE_URL.get().map(String::as_str)
}

/// Builds the client: explicit options first, then the environment, exactly as the SDKs do.
pub fn client(args: ConnectionArgs) -> CliResult<Porter> {
    let explicit_url = args.base_url.as_ref().is_some_and(|u| !u.is_empty());
    let mut builder = Porter::builder().user_agent("cli", env!("CARGO_PKG_VERSION"));
    if let Some(url) = args.base_url {
        builder = builder.base_url(url);
    }
    if let Some(key) = args.api_key {
        builder = builder.api_key(key);
    }
    match builder.build() {
        Ok(porter) => {
            let _ = BASE_URL.set(porter.base_url().to_owned());
            Ok(porter)
        }
        Err(err) if err.kind() == ErrorKind::Config => {
            let env_set = |name| std::env::var(name).is_ok_and(|v| !v.is_empty());
            // The core names the SDK options; here they are flags.
            let message = err
                .message()
                .replace("the `base_url` option", "--base-url")
                .replace("the `api_key` option", "--api-key");
            let mut failure = Failure::new(message);
            if !explicit_url && !env_set(ENV_BASE_URL) && !env_set(ENV_CLUSTER_ID) {
                failure = failure
                    .hint("to use a local server, start one with `porter-sandbox serve` (in another terminal)")
                    .hint(format!(
                        "then `export {ENV_BASE_URL}={LOCAL_BASE_URL}`, or pass --base-url {LOCAL_BASE_URL}"
                    ));
            }
            Err(failure)
        }
        Err(err) => Err(err.into()),
    }
}

/// Whether `target` has the shape of an id with `prefix` (`sb-`, `vol-`).
fn looks_like_id(target: &str, prefix: &str) -> bool {
    target.starts_with(prefix)
}

/// The sandbox `target` names: an id (`sb-…`) is read by id first, anything else is looked up by
/// name first; on a 404 the other way is tried.
pub async fn sandbox(porter: &Porter, target: &str) -> CliResult<Sandbox> {
    let sandboxes = porter.sandboxes();
    let by_id_first = looks_like_id(target, "sb-");
    let first =
        if by_id_first { sandboxes.get_by_id(target).await } else { sandboxes.get(target).await };
    let second = match first {
        Err(err) if err.is_not_found() => {
            if by_id_first {
                sandboxes.get(target).await
            } else {
                sandboxes.get_by_id(target).await
            }
        }
        other => other,
    };
    second.map_err(|err| {
        if err.is_not_found() {
            Failure::new(format!("no sandbox is named {target:?} or has that id"))
                .hint("`porter-sandbox list` shows the sandboxes")
        } else {
            err.into()
        }
    })
}

/// The volume `target` names: an id (`vol-…`) is read by id first, anything else is looked up
/// by name first; on a 404 the other way is tried.
pub async fn volume(porter: &Porter, target: &str) -> CliResult<VolumeHandle> {
    let volumes = porter.volumes();
    let by_id_first = looks_like_id(target, "vol-");
    let first =
        if by_id_first { volumes.get_by_id(target).await } else { volumes.get(target).await };
    let second = match first {
        Err(err) if err.is_not_found() => {
            if by_id_first {
                volumes.get(target).await
            } else {
                volumes.get_by_id(target).await
            }
        }
        other => other,
    };
    second.map_err(|err| {
        if err.is_not_found() {
            Failure::new(format!("no volume is named {target:?} or has that id"))
                .hint("`porter-sandbox volume list` shows the volumes")
        } else {
            err.into()
        }
    })
}

/// The disk volume `target` names (object volumes have no files API).
pub async fn disk_volume(porter: &Porter, target: &str) -> CliResult<Volume> {
    Ok(volume(porter, target).await?.into_disk()?)
}
