//! `create`, `list`, `get` and `terminate`.

use std::time::Duration;

use clap::Args;
use futures_util::{StreamExt, stream};
use porter_sandbox::{
    Porter, Sandbox,
    api::{ListSandboxesParams, SandboxFilter},
    types::{
        ListResponse, SandboxEgressSpec, SandboxNetworkingSpec, SandboxResourcesSpec, SandboxSpec,
        SandboxesPhase, SandboxesSource,
    },
};
use porter_sandbox_server::{
    service::quantity,
    time::{format_micros, now_micros, parse_duration},
};
use serde::Serialize;

use super::{parse_key_value, parse_mount, phase_parser};
use crate::{
    error::{CliResult, Failure},
    output::{self, Cell, Style, Table},
    resolve,
};

/// How many sandboxes are resolved or terminated at once.
const CONCURRENCY: usize = 16;

/// Options of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Image to run: `host` (the host's /usr read-only: python3, a shell, the usual tools),
    /// `oci-layout:/path[:tag]`, `docker-archive:/path.tar`, or a registry reference
    /// (`python:3.12-slim`). Leave it out with --snapshot.
    #[arg(value_name = "IMAGE", required_unless_present = "snapshot")]
    image: Option<String>,
    /// Start from this snapshot's filesystem instead of an image.
    #[arg(long, value_name = "SNAPSHOT_ID", conflicts_with = "image")]
    snapshot: Option<String>,
    /// CPU limit as a Kubernetes quantity ("2", "500m"); the server's default size otherwise.
    #[arg(long, value_name = "CPU", value_parser = parse_cpu)]
    cpu: Option<String>,
    /// Memory limit as a Kubernetes quantity ("512Mi", "2Gi"; "2G" is 10^9 bytes).
    #[arg(long, value_name = "MEMORY", value_parser = parse_memory)]
    memory: Option<String>,
    /// Expose this port of the workload (1024-65535); the status then says where it is.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(i64).range(1..=65535))]
    port: Option<i64>,
    /// Allow outbound traffic only to this destination (repeatable): a hostname, `*.domain`,
    /// an IP address or a CIDR range.
    #[arg(long = "allow", value_name = "DESTINATION", conflicts_with = "no_network")]
    allow: Vec<String>,
    /// No outbound network at all (an empty egress allow-list).
    #[arg(long)]
    no_network: bool,
    /// Sandbox name: lowercase letters, digits and hyphens; never reusable.
    #[arg(long)]
    name: Option<String>,
    /// A tag to find it by later (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    tags: Vec<(String, String)>,
    /// An environment variable of the workload (repeatable).
    #[arg(long = "env", short = 'e', value_name = "NAME=VALUE", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// Mount a volume (by name or id) at an absolute path (repeatable).
    #[arg(long = "volume", short = 'v', value_name = "PATH=VOLUME", value_parser = parse_mount)]
    volumes: Vec<(String, String)>,
    /// Terminate it after this many seconds.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(i64).range(1..))]
    ttl: Option<i64>,
    /// Wait until it is running (progress on stderr); fail if it ends instead.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, requires = "wait")]
    wait_timeout: u64,
    /// Print the create response as JSON instead of the id.
    #[arg(long)]
    json: bool,
    /// The command to run instead of the image's entrypoint (after `--`).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// `create`: prints the new id (or the create response with `--json`), then waits if asked.
pub async fn create(porter: &Porter, args: CreateArgs) -> CliResult {
    let mut spec = match args.snapshot {
        Some(snapshot) => SandboxSpec::from_snapshot(snapshot),
        None => SandboxSpec::new(args.image.unwrap_or_default()),
    };
    if args.cpu.is_some() || args.memory.is_some() {
        spec = spec.resources(SandboxResourcesSpec { cpu: args.cpu, memory: args.memory });
    }
    if let Some(port) = args.port {
        spec = spec.networking(SandboxNetworkingSpec::new(port));
    }
    if args.no_network || !args.allow.is_empty() {
        spec = spec.egress(SandboxEgressSpec::new(args.allow));
    }
    if let Some(name) = args.name {
        spec = spec.name(name);
    }
    if !args.tags.is_empty() {
        spec = spec.tags(args.tags);
    }
    for (name, value) in args.env {
        spec = spec.env(name, value);
    }
    for (path, target) in args.volumes {
        let volume = resolve::volume(porter, &target).await?;
        spec = spec.volume_mount(path, volume.id());
    }
    if let Some(ttl) = args.ttl {
        spec = spec.ttl_seconds(ttl);
    }
    if !args.command.is_empty() {
        spec = spec.command(args.command);
    }
    let created = porter.sandboxes().raw().create_sandbox(&spec).await?;
    if args.json {
        output::json(&created)?;
    } else {
        output::line(&created.id)?;
    }
    if args.wait {
        let sandbox = porter.sandboxes().handle(&created.id);
        super::wait::wait_running(&sandbox, Duration::from_secs(args.wait_timeout)).await?;
    }
    Ok(0)
}

/// Checks `--cpu` before anything is sent, so a wrong unit is a usage error (exit 2).
fn parse_cpu(text: &str) -> Result<String, String> {
    quantity::cpu_millis(text)
        .map(|_| text.to_owned())
        .map_err(|e| e.message.replacen("resources.cpu", "--cpu", 1))
}

/// Checks `--memory` before anything is sent; the message explains the units (Kubernetes
/// quantities have no `B`: `2GB` is written `2G` or `2Gi`).
fn parse_memory(text: &str) -> Result<String, String> {
    match quantity::memory_bytes(text) {
        Ok(_) => Ok(text.to_owned()),
        Err(why) => {
            let why = why.message;
            let trimmed = text.trim();
            let number_end = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.'));
            let unit = number_end.map_or("", |i| &trimmed[i..]);
            let number = number_end.map_or(trimmed, |i| &trimmed[..i]);
            if unit.is_ascii()
                && unit.len() > 1
                && unit.to_ascii_lowercase().ends_with('b')
                && !number.is_empty()
            {
                let prefix = &unit[..1].to_ascii_uppercase().replace('K', "k");
                let binary = unit[..1].to_ascii_uppercase();
                Err(format!(
                    "{text:?} is not a memory quantity: the units are Kubernetes', without a B \
                     — write {number}{binary}i ({number} {binary}iB, binary) or {number}{prefix} \
                     (decimal); e.g. 512Mi, 2Gi"
                ))
            } else if why.contains("too small") {
                Err(why.replacen("resources.memory", "--memory", 1))
            } else {
                Err(format!(
                    "{text:?} is not a memory quantity: write bytes with a Kubernetes unit — \
                     512Mi, 2Gi (binary) or 500M, 2G (decimal)"
                ))
            }
        }
    }
}

/// Options of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only sandboxes in this phase (repeatable; any may match).
    #[arg(long = "phase", value_name = "PHASE", value_parser = phase_parser())]
    phases: Vec<SandboxesPhase>,
    /// Only sandboxes with this tag (repeatable; all must match).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    tags: Vec<(String, String)>,
    /// Only sandboxes whose name starts with this (case-insensitive).
    #[arg(long, value_name = "PREFIX")]
    search: Option<String>,
    /// Only sandboxes running this image.
    #[arg(long)]
    image: Option<String>,
    /// Which page of 50 (1-based).
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..), conflicts_with = "all_pages")]
    page: Option<i64>,
    /// Read every page.
    #[arg(long)]
    all_pages: bool,
    /// Print the list response as JSON (with --all-pages: every page's sandboxes in one).
    #[arg(long)]
    json: bool,
}

/// `list`.
pub async fn list(porter: &Porter, args: ListArgs) -> CliResult {
    let mut filter = SandboxFilter::new();
    filter.phase = args.phases;
    filter.tag = args.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    filter.search = args.search;
    filter.image = args.image;
    let api = porter.sandboxes().raw().clone();
    let mut params = ListSandboxesParams::from(filter).page(args.page.unwrap_or(1));
    let mut response = api.list_sandboxes(&params).await?;
    while args.all_pages && response.pagination.has_next_page && !response.sandboxes.is_empty() {
        params.page = Some(response.pagination.current_page + 1);
        let next = api.list_sandboxes(&params).await?;
        let mut sandboxes = std::mem::take(&mut response.sandboxes);
        sandboxes.extend(next.sandboxes);
        response = ListResponse { sandboxes, ..next };
    }
    if args.json {
        output::json(&response)?;
        return Ok(0);
    }
    if response.sandboxes.is_empty() {
        let page = &response.pagination;
        if page.current_page > 1 && page.current_page > page.total_pages {
            return Err(Failure::new(format!(
                "there is no page {} of this listing: it has {}",
                page.current_page,
                output::count(usize::try_from(page.total_pages).unwrap_or(0), "page", "pages")
            ))
            .hint("leave out --page for the first page, or use --all-pages"));
        }
        output::note("no sandboxes match");
        return Ok(0);
    }
    let mut table = Table::new(&["ID", "NAME", "IMAGE", "PHASE", "CREATED", "TAGS"]);
    for sandbox in &response.sandboxes {
        let phase = sandbox.phase.as_str();
        table.row(vec![
            sandbox.id.as_str().into(),
            sandbox.name.as_str().into(),
            sandbox.image.as_str().into(),
            Cell::styled(phase, output::phase_style(phase)),
            output::age(&sandbox.created_at).into(),
            output::key_values(sandbox.tags.iter().flatten()).into(),
        ]);
    }
    table.print()?;
    let page = &response.pagination;
    if page.has_next_page && !args.all_pages {
        output::note(format!(
            "page {} of {}: --page {} shows the next, --all-pages shows every one",
            page.current_page,
            page.total_pages,
            page.current_page + 1
        ));
    }
    Ok(0)
}

/// Options of `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

/// `get`.
pub async fn get(porter: &Porter, args: GetArgs) -> CliResult {
    let sandbox = resolve::sandbox(porter, &args.target).await?;
    let status = match sandbox.status() {
        Some(status) => status,
        None => sandbox.refresh().await?,
    };
    if args.json {
        output::json(&status)?;
        return Ok(0);
    }
    let substitution = super::wait::substitution(&status);
    let phase = status.phase.as_str();
    let optional = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    let image = match &status.runs_image {
        Some(runs) => Cell::styled(
            format!("{} (runs `{runs}` instead: its registry was unreachable)", status.image),
            Style::Yellow,
        ),
        None => status.image.as_str().into(),
    };
    let mut fields: Vec<(&str, Cell)> = vec![
        ("ID", status.id.as_str().into()),
        ("Name", status.name.as_str().into()),
        ("Image", image),
        ("Phase", Cell::styled(phase, output::phase_style(phase))),
        ("Exit code", optional(status.exit_code.map(|c| c.to_string())).into()),
        ("Reason", optional(status.termination_reason.map(|r| r.to_string())).into()),
        ("Tags", output::key_values(status.tags.iter().flatten()).into()),
        ("Created", format!("{} ({})", status.created_at, output::age(&status.created_at)).into()),
        ("Started", optional(status.started_at).into()),
        ("Finished", optional(status.finished_at).into()),
        ("Volumes", output::key_values(status.volume_mounts.iter().flatten()).into()),
    ];
    if !status.host.is_empty() {
        fields.push(("Host", status.host.as_str().into()));
    }
    if let Some(address) = status.internal_address.as_deref().filter(|a| !a.is_empty()) {
        // Where the forwarded port answers (from this machine, for a local server).
        fields.push(("Address", address.into()));
    }
    output::fields(&fields)?;
    if let Some(note) = substitution {
        output::note(format!(
            "{} {note}",
            output::paint("warning:", Style::Yellow, output::stderr_color())
        ));
    }
    Ok(0)
}

/// Options of `terminate`.
#[derive(Debug, Args)]
#[command(override_usage = "porter-sandbox terminate [OPTIONS] <NAME|ID>...\n       \
    porter-sandbox terminate --all [--tag KEY=VALUE] [--phase PHASE] [--older-than DURATION]")]
pub struct TerminateArgs {
    /// Names or ids of the sandboxes to terminate.
    #[arg(value_name = "NAME|ID", required_unless_present = "all", conflicts_with = "all")]
    targets: Vec<String>,
    /// Terminate every sandbox matching --tag and --phase (default phases: queued, creating,
    /// running).
    #[arg(long)]
    all: bool,
    /// With --all: only sandboxes with this tag (repeatable; all must match).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = parse_key_value, requires = "all",
          conflicts_with = "targets")]
    tags: Vec<(String, String)>,
    /// With --all: only sandboxes in this phase (repeatable; any may match).
    #[arg(long = "phase", value_name = "PHASE", value_parser = phase_parser(), requires = "all",
          conflicts_with = "targets")]
    phases: Vec<SandboxesPhase>,
    /// With --all: only sandboxes created at least this long ago (`90s`, `10m`, `2h`, `1d`),
    /// to sweep leftovers.
    #[arg(long, value_name = "DURATION", value_parser = parse_age, requires = "all",
          conflicts_with = "targets")]
    older_than: Option<i64>,
    /// List what would be terminated, and terminate nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the outcome of each sandbox as JSON.
    #[arg(long)]
    json: bool,
}

/// What happened to one sandbox of `terminate`.
#[derive(Debug, Serialize)]
struct Outcome {
    /// The argument (or the id, with --all).
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// `terminated`, `already_finished`, `would_terminate` or `failed`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `terminate`: resolves and terminates concurrently, reporting each sandbox; exit 1 when any
/// failed.
pub async fn terminate(porter: &Porter, args: TerminateArgs) -> CliResult {
    let found: Vec<(String, CliResult<Sandbox>)> = if args.all {
        let mut filter = SandboxFilter::new();
        filter.tag = args.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        filter.phase = if args.phases.is_empty() {
            vec![SandboxesPhase::Queued, SandboxesPhase::Creating, SandboxesPhase::Running]
        } else {
            args.phases
        };
        if let Some(age) = args.older_than {
            filter.end_time = Some(format_micros(now_micros().saturating_sub(age)));
        }
        let all = porter.sandboxes().list_all(filter).await?;
        if all.is_empty() {
            output::note("no sandboxes match");
        }
        all.into_iter().map(|s| (s.id().to_owned(), Ok(s))).collect()
    } else {
        stream::iter(args.targets)
            .map(|target| async move {
                let sandbox = resolve::sandbox(porter, &target).await;
                (target, sandbox)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await
    };
    let dry_run = args.dry_run;
    let color = output::stdout_color();
    let mut outcomes = stream::iter(found)
        .map(|(target, sandbox)| async move { settle(target, sandbox, dry_run).await })
        .buffered(CONCURRENCY);
    let mut reports = Vec::new();
    let mut failed = false;
    while let Some(outcome) = outcomes.next().await {
        failed |= outcome.error.is_some();
        if !args.json {
            print_outcome(&outcome, color)?;
        }
        reports.push(outcome);
    }
    if args.json {
        output::json(&reports)?;
    }
    Ok(u8::from(failed))
}

/// Parses `--older-than`: a duration such as `90s`, `10m`, `1h30m` or `2d`, in microseconds.
fn parse_age(value: &str) -> Result<i64, String> {
    parse_duration(value)
        .ok_or_else(|| format!("expected a duration such as 90s, 10m, 2h or 1d, got {value:?}"))
}

async fn settle(target: String, sandbox: CliResult<Sandbox>, dry_run: bool) -> Outcome {
    let sandbox = match sandbox {
        Ok(sandbox) => sandbox,
        Err(failure) => {
            let error = Some(failure.message().to_owned());
            return Outcome { target, id: None, name: None, result: "failed", error };
        }
    };
    let id = Some(sandbox.id().to_owned());
    let status = sandbox.status();
    let name = status.as_ref().map(|s| s.name.clone());
    let finished = status.is_some_and(|s| s.phase.is_terminal());
    let (result, error) = if finished {
        ("already_finished", None)
    } else if dry_run {
        ("would_terminate", None)
    } else {
        match sandbox.terminate_from(SandboxesSource::Cli).await {
            Ok(()) => ("terminated", None),
            Err(err) => ("failed", Some(err.message().to_owned())),
        }
    };
    Outcome { target, id, name, result, error }
}

fn print_outcome(outcome: &Outcome, color: bool) -> std::io::Result<()> {
    let who = match (&outcome.id, &outcome.name) {
        (Some(id), Some(name)) if name != id => format!("{id} ({name})"),
        (Some(id), _) => id.clone(),
        _ => outcome.target.clone(),
    };
    let (word, style) = match outcome.result {
        "terminated" => ("terminated", Style::Green),
        "already_finished" => ("already finished", Style::Dim),
        "would_terminate" => ("would terminate", Style::Yellow),
        _ => {
            let error = outcome.error.as_deref().unwrap_or("failed");
            Failure::new(format!("cannot terminate {who}: {error}")).report();
            return Ok(());
        }
    };
    output::line(format!("{} {who}", output::paint(word, style, color)))
}
