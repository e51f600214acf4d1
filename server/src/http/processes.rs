//! `/v1/extensions` and `/v1/sandbox/{id}/processes…` (the processes extension).

use std::path::PathBuf;

use axum::{
    Json,
    body::{Body, Bytes},
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use porter_sandbox::types::{
    OUTPUT_FRAME_HEADER, PROCESS_OUTPUT_MEDIA_TYPE, ProcessList, ProcessRequest, ProcessStatus,
    ServerExtensions, SignalRequest, TerminalSize, frame_kind,
};
use tokio::{io::AsyncReadExt, net::UnixStream};

use super::{
    AppState,
    extract::{JsonBody, Params},
};
use crate::{
    http::error::{ApiError, ApiResult},
    process::{self, control, log},
};

/// Output bytes sent per body chunk at most.
const CHUNK_BYTES: usize = 256 * 1024;

/// `GET /v1/extensions`.
pub async fn extensions(State(service): State<AppState>) -> Json<ServerExtensions> {
    Json(service.extensions())
}

/// `POST /v1/sandbox/{id}/processes`: 201 with the new process's status.
pub async fn start(
    State(service): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ProcessRequest>,
) -> ApiResult<(StatusCode, Json<ProcessStatus>)> {
    service
        .start_process(&id, request)
        .await
        .map(|s| (StatusCode::CREATED, Json(s)))
        .map_err(ApiError::from)
}

/// `GET /v1/sandbox/{id}/processes`.
pub async fn list(
    State(service): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ProcessList>> {
    service.list_processes(&id).await.map(Json).map_err(ApiError::from)
}

/// `GET /v1/sandbox/{id}/processes/{exec_id}?wait_seconds=`.
pub async fn status(
    State(service): State<AppState>,
    Path((id, exec_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<ProcessStatus>> {
    let wait = params
        .get("wait_seconds")
        .map(|v| {
            v.parse::<f64>().map_err(|_| {
                crate::http::error::ApiError::bad_request(format!(
                    "query parameter wait_seconds must be a number of seconds, not {v:?}"
                ))
            })
        })
        .transpose()?;
    service.process_status(&id, &exec_id, wait).await.map(Json).map_err(ApiError::from)
}

/// `POST …/stdin`: the raw body is appended to standard input.
pub async fn stdin(
    State(service): State<AppState>,
    Path((id, exec_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    service
        .write_process_stdin(&id, &exec_id, &body)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .map_err(ApiError::from)
}

/// `POST …/stdin/close`.
pub async fn close_stdin(
    State(service): State<AppState>,
    Path((id, exec_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    service
        .close_process_stdin(&id, &exec_id)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .map_err(ApiError::from)
}

/// `POST …/signal`.
pub async fn signal(
    State(service): State<AppState>,
    Path((id, exec_id)): Path<(String, String)>,
    JsonBody(request): JsonBody<SignalRequest>,
) -> ApiResult<StatusCode> {
    service
        .signal_process(&id, &exec_id, request)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .map_err(ApiError::from)
}

/// `POST …/resize`.
pub async fn resize(
    State(service): State<AppState>,
    Path((id, exec_id)): Path<(String, String)>,
    JsonBody(size): JsonBody<TerminalSize>,
) -> ApiResult<StatusCode> {
    service
        .resize_process(&id, &exec_id, size)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .map_err(ApiError::from)
}

/// `GET …/output?offset=&follow=`: frames from `offset`, then (with `follow`) live output until
/// the end frame.
pub async fn output(
    State(service): State<AppState>,
    Path((id, exec_id)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Response> {
    let offset = params.int_in("offset", 0, i64::MAX)?.unwrap_or(0);
    let follow = params.bool("follow")?.unwrap_or(false);
    let dir = service.process_output_dir(&id, &exec_id)?;
    let state = Follower {
        reader: log::Reader::new(&dir, u64::try_from(offset).unwrap_or(0)),
        dir,
        follow,
        updates: None,
        done: false,
    };
    let frames = futures_util::stream::unfold(state, |mut state| async move {
        let next = state.next().await;
        next.map(|bytes| (Ok::<_, std::io::Error>(bytes), state))
    });
    Ok((
        [(header::CONTENT_TYPE, PROCESS_OUTPUT_MEDIA_TYPE), (header::CACHE_CONTROL, "no-store")],
        Body::from_stream(frames),
    )
        .into_response())
}

/// The state of one output body.
struct Follower {
    dir: PathBuf,
    reader: log::Reader,
    follow: bool,
    /// The supervisor's notifications, while subscribed.
    updates: Option<UnixStream>,
    done: bool,
}

impl Follower {
    /// The next piece of the body; `None` at its end.
    async fn next(&mut self) -> Option<Bytes> {
        while !self.done {
            // Checked before reading: the status is written after the last output.
            let ended = process::read_final(&self.dir).is_some();
            match self.reader.read(CHUNK_BYTES) {
                Ok(chunks) if !chunks.is_empty() => return Some(encode(&chunks)),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!("cannot read process output in {}: {err}", self.dir.display());
                    self.done = true;
                    return None;
                }
            }
            if ended {
                return self.end().await;
            }
            if !self.follow {
                self.done = true;
                return None;
            }
            self.wait().await;
            if self.updates.is_none()
                && process::read_final(&self.dir).is_none()
                && !process::supervisor_alive(&self.dir)
            {
                // The supervisor died without a record: what was written is all there is.
                if self.reader.read(1).is_ok_and(|c| c.is_empty()) {
                    return self.end().await;
                }
            }
        }
        None
    }

    /// Waits for more output (or the end).
    async fn wait(&mut self) {
        if self.updates.is_none() {
            self.updates = control::subscribe(&self.dir).await;
            if self.updates.is_none() {
                // Starting, or just ended: look again shortly.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                return;
            }
        }
        if let Some(updates) = self.updates.as_mut() {
            let mut offset = [0u8; 8];
            if updates.read_exact(&mut offset).await.is_err() {
                self.updates = None;
            }
        }
    }

    /// The end frame, with the final status.
    async fn end(&mut self) -> Option<Bytes> {
        self.done = true;
        let status = process::status(&self.dir).await?;
        let body = serde_json::to_vec(&status).ok()?;
        let mut frame = Vec::with_capacity(OUTPUT_FRAME_HEADER + body.len());
        header_into(&mut frame, frame_kind::END, status.output_end, body.len());
        frame.extend_from_slice(&body);
        Some(Bytes::from(frame))
    }
}

fn header_into(out: &mut Vec<u8>, kind: u8, offset: u64, len: usize) {
    out.push(kind);
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn encode(chunks: &[log::Chunk]) -> Bytes {
    let total: usize = chunks.iter().map(|c| OUTPUT_FRAME_HEADER + c.data.len()).sum();
    let mut out = Vec::with_capacity(total);
    for chunk in chunks {
        header_into(&mut out, chunk.stream, chunk.offset, chunk.data.len());
        out.extend_from_slice(&chunk.data);
    }
    Bytes::from(out)
}
