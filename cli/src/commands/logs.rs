//! `logs`: a sandbox's log lines, once or followed by polling until the sandbox ends.

use std::{collections::HashMap, time::Duration};

use clap::Args;
use porter_sandbox::{
    Porter, Sandbox,
    types::{LogLine, LogLineLevel, LogsResponse},
};

use crate::{
    error::CliResult,
    output::{self, Style},
    resolve,
};

/// How often `--follow` polls.
const FOLLOW_POLL: Duration = Duration::from_millis(500);
/// The limit of each poll after the first (the server returns the most recent lines), and the
/// most lines the server returns at once.
const FOLLOW_LIMIT: i64 = 10_000;

/// Options of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The sandbox's name or id.
    #[arg(value_name = "NAME|ID")]
    target: String,
    /// Only lines from this time on: RFC 3339 (2026-01-02T15:04:05Z) or a duration back from
    /// now (10m, 1h).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only the most recent N lines, at most 10000 (the server's cap) [server default: 1000].
    #[arg(long, value_name = "N", value_parser = parse_limit)]
    limit: Option<i64>,
    /// Keep printing new lines until the sandbox ends (polls the server).
    #[arg(long, short = 'f')]
    follow: bool,
    /// Prefix each line with its time (and the exec id for exec output).
    #[arg(long, short = 't')]
    timestamps: bool,
    /// Print the logs response as JSON (with --follow: one log line object per line).
    #[arg(long)]
    json: bool,
}

/// Parses `--limit`: 1 to [`FOLLOW_LIMIT`], the most the server returns at once; more is refused
/// rather than silently capped.
fn parse_limit(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(n) if (1..=FOLLOW_LIMIT).contains(&n) => Ok(n),
        Ok(n) if n > FOLLOW_LIMIT => Err(format!(
            "the server returns at most {FOLLOW_LIMIT} lines at once; ask for --limit \
             {FOLLOW_LIMIT} or less (with --since to choose where they start)"
        )),
        _ => Err(format!("expected a number of lines from 1 to {FOLLOW_LIMIT}, got {text:?}")),
    }
}

/// `logs`.
pub async fn run(porter: &Porter, args: LogsArgs) -> CliResult {
    let sandbox = resolve::sandbox(porter, &args.target).await?;
    if !args.follow {
        let lines = fetch(&sandbox, args.limit, args.since.as_deref()).await?;
        if args.json {
            output::json(&LogsResponse { sandbox_id: sandbox.id().to_owned(), logs: lines })?;
        } else {
            for line in &lines {
                print_line(line, &args)?;
            }
        }
        return Ok(0);
    }
    follow(&sandbox, &args).await
}

async fn fetch(
    sandbox: &Sandbox,
    limit: Option<i64>,
    since: Option<&str>,
) -> CliResult<Vec<LogLine>> {
    let response = sandbox.raw().get_sandbox_logs(sandbox.id(), limit, since).await?;
    Ok(response.logs)
}

/// Polls with `since` = the newest timestamp printed. The server's `since` is inclusive, so the
/// lines already printed at that timestamp come back and are skipped (counted, so identical lines
/// are neither lost nor repeated).
async fn follow(sandbox: &Sandbox, args: &LogsArgs) -> CliResult {
    let mut since = args.since.clone();
    let mut limit = args.limit;
    let mut printed_at_newest: HashMap<(String, String), usize> = HashMap::new();
    loop {
        // Read the phase first: lines written before the sandbox ended are then in this fetch.
        let finished = sandbox.refresh().await?.phase.is_terminal();
        let lines = fetch(sandbox, limit, since.as_deref()).await?;
        let mut skip = printed_at_newest.clone();
        for line in lines {
            let key = (line.exec_id.clone(), line.line.clone());
            if since.as_deref() == Some(line.timestamp.as_str()) {
                if let Some(count) = skip.get_mut(&key).filter(|c| **c > 0) {
                    *count -= 1;
                    continue;
                }
            } else {
                since = Some(line.timestamp.clone());
                printed_at_newest.clear();
                skip.clear();
            }
            *printed_at_newest.entry(key).or_default() += 1;
            if args.json {
                output::json_line(&line)?;
            } else {
                print_line(&line, args)?;
            }
        }
        if finished {
            return Ok(0);
        }
        limit = Some(FOLLOW_LIMIT);
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

fn print_line(line: &LogLine, args: &LogsArgs) -> std::io::Result<()> {
    let color = output::stdout_color();
    let text = match line.level {
        LogLineLevel::Error => output::paint(&line.line, Style::Red, color),
        LogLineLevel::Warning => output::paint(&line.line, Style::Yellow, color),
        _ => line.line.clone(),
    };
    if !args.timestamps {
        return output::line(text);
    }
    let stamp = output::paint(&line.timestamp, Style::Dim, color);
    if line.exec_id.is_empty() {
        output::line(format!("{stamp} {text}"))
    } else {
        output::line(format!("{stamp} [{}] {text}", line.exec_id))
    }
}
