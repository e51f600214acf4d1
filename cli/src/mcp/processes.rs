//! `read_output`: a process's output from an offset, read as far as it goes now (or after
//! waiting for the process to end), shaped.

use std::time::Duration;

use futures_util::StreamExt;
use porter_sandbox::types::OutputStreamName;
use serde_json::json;

use super::{
    params::ReadOutput,
    shape,
    tools::{Outcome, SandboxTools},
};

/// The most output one call reads (its head and tail are shown).
const READ_CAP: usize = 1024 * 1024;

/// The longest `wait_seconds` honoured.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Reads the output of `input.process_id` from `input.offset`.
pub(super) async fn read_output(tools: &SandboxTools, input: ReadOutput) -> Outcome {
    let process = tools.process(&input.sandbox, &input.process_id).await?;
    if let Some(wait) = input.wait_seconds.filter(|w| w.is_finite() && *w > 0.0) {
        let wait = Duration::try_from_secs_f64(wait).unwrap_or(MAX_WAIT).min(MAX_WAIT);
        // Still running when the wait ends is a normal answer: its state says so.
        let _ = process.wait(Some(wait)).await;
    }
    let offset = input.offset.unwrap_or(0);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut first = None;
    let mut next = offset;
    let mut stream = process.output_now(offset);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| format!("could not read the output: {err}"))?;
        first.get_or_insert(chunk.offset);
        next = chunk.end();
        match chunk.stream {
            OutputStreamName::Stderr => stderr.extend_from_slice(&chunk.data),
            _ => stdout.extend_from_slice(&chunk.data),
        }
        if stdout.len() + stderr.len() >= READ_CAP {
            break;
        }
    }
    drop(stream);
    let status =
        process.status().await.map_err(|err| format!("could not read its state: {err}"))?;
    let more = next < status.output_end;
    Ok(shape::fit(|budget| {
        let mut value = json!({
            "process_id": status.exec_id,
            "state": status.state.to_string(),
            "exit_code": status.exit_code,
            "timed_out": status.timed_out,
            "offset": first.unwrap_or(offset),
            "next_offset": next,
            "output_end": status.output_end,
            "stdout": shape::stream(&stdout, budget),
            "stderr": shape::stream(&stderr, budget),
        });
        if first.is_some_and(|f| f > offset) {
            value["note"] = format!(
                "output before offset {} is no longer kept (the server's retention limit)",
                first.unwrap_or(offset)
            )
            .into();
        } else if more {
            value["note"] = "more output follows: call read_output again from next_offset".into();
        }
        value
    }))
}
