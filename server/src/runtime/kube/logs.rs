//! The workload's output, followed through `pods/log` and sent as [`RuntimeEvent::Line`]s.
//!
//! The cluster merges standard output and error, so every line is reported as output. A broken
//! stream is followed again from the timestamp of the last line delivered, so a line is never
//! repeated; lines longer than [`MAX_LINE`] are split.

use futures_util::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use std::time::Duration;

use super::objects::CONTAINER;
use crate::runtime::{EventSender, OutputStream, RuntimeEvent};

/// The longest line delivered as one; longer ones are split.
pub const MAX_LINE: usize = 64 * 1024;

/// The first wait before following a stream again (and every wait while the workload's
/// container has not started).
const FIRST_RETRY: Duration = Duration::from_millis(200);

/// The longest wait before following a stream again.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// Follows the output of sandbox `id` until its pod is gone or its workload has ended and every
/// line is delivered; with `since`, only the lines after it (a re-adopted sandbox).
pub async fn follow(pods: Api<Pod>, id: String, events: EventSender, since: Option<Timestamp>) {
    let mut last = since;
    let mut retry = FIRST_RETRY;
    // The follower starts before the pod is created (an early end is never missed): until the
    // pod is seen, "not found" means "not created yet" (a failed create aborts this task).
    // An adopted pod existed.
    let mut seen = since.is_some();
    loop {
        let params = LogParams {
            container: Some(CONTAINER.to_owned()),
            follow: true,
            timestamps: true,
            since_time: last,
            ..LogParams::default()
        };
        match pods.log_stream(&id, &params).await {
            Ok(stream) => {
                seen = true;
                retry = FIRST_RETRY;
                if deliver(stream, &id, &events, &mut last).await.is_err() {
                    return; // the server stopped listening
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 && seen => return,
            Err(kube::Error::Api(status)) if status.code == 404 => {
                retry = FIRST_RETRY;
            }
            // The container has not started yet (400): it may run and end within a second, and
            // the end waits for these lines only a few seconds, so the retries stay short.
            Err(kube::Error::Api(status)) if status.code == 400 => {
                seen = true;
                retry = FIRST_RETRY;
                tracing::debug!("logs of {id}: {}", status.message);
            }
            Err(err) => tracing::debug!("logs of {id}: {err}"),
        }
        match pods.get_opt(&id).await {
            Ok(None) if seen => return,
            Ok(None) => {}
            Ok(Some(pod))
                if matches!(super::state::of(&pod), super::state::PodState::Exited(_)) =>
            {
                // Ended: one more read delivers what the broken stream may have missed.
                let params = LogParams {
                    container: Some(CONTAINER.to_owned()),
                    timestamps: true,
                    since_time: last,
                    ..LogParams::default()
                };
                if let Ok(stream) = pods.log_stream(&id, &params).await {
                    let _ = deliver(stream, &id, &events, &mut last).await;
                }
                return;
            }
            Ok(Some(_)) => seen = true,
            Err(_) => {}
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// Sends the stream's lines; `Err` when nobody receives events any more.
async fn deliver(
    stream: impl AsyncBufRead,
    id: &str,
    events: &EventSender,
    last: &mut Option<Timestamp>,
) -> Result<(), ()> {
    let mut stream = std::pin::pin!(stream);
    let mut line = Vec::new();
    // The rest of a line longer than one read has no timestamp of its own.
    let mut continued: Option<i64> = None;
    loop {
        line.clear();
        // Bounded: a line without an end is delivered in pieces, never buffered whole.
        let mut bounded = (&mut stream).take(MAX_LINE as u64);
        match bounded.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
        let complete = line.ends_with(b"\n");
        let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line));
        let (at, content) = match continued {
            Some(at) => (at, &*text),
            None => {
                let (stamp, content) = text.split_once(' ').unwrap_or((&text, ""));
                let stamp = stamp.parse::<Timestamp>().ok();
                if let (Some(stamp), Some(seen)) = (stamp, *last) {
                    if stamp <= seen {
                        // Delivered before the stream broke.
                        if !complete {
                            skip_rest(&mut stream).await;
                        }
                        continue;
                    }
                }
                if stamp.is_some() {
                    *last = stamp;
                }
                (stamp.map_or_else(crate::time::now_micros, Timestamp::as_microsecond), content)
            }
        };
        continued = (!complete).then_some(at);
        for piece in split(content) {
            let event = RuntimeEvent::Line {
                sandbox_id: id.to_owned(),
                stream: OutputStream::Stdout,
                line: piece.to_owned(),
                at,
            };
            events.send(event).await.map_err(|_| ())?;
        }
    }
}

/// Reads past the rest of the current line.
async fn skip_rest(stream: &mut (impl AsyncBufRead + Unpin)) {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        let mut bounded = (&mut *stream).take(MAX_LINE as u64);
        match bounded.read_until(b'\n', &mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(_) if sink.ends_with(b"\n") => return,
            Ok(_) => {}
        }
    }
}

/// `text` in pieces of at most [`MAX_LINE`] bytes, cut at character boundaries.
fn split(mut text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    while text.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&text[..cut]);
        text = &text[cut..];
    }
    pieces.push(text);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_split_at_character_boundaries() {
        let text = "é".repeat(MAX_LINE);
        let pieces = split(&text);
        assert!(pieces.iter().all(|p| p.len() <= MAX_LINE));
        assert_eq!(pieces.concat(), text);
        assert_eq!(split("short"), ["short"]);
    }
}
