//! The output of a process as a stream of [`OutputChunk`]s that survives broken connections:
//! it resumes from the offset just past the last whole chunk it delivered, so no byte is lost
//! or repeated.

use std::{
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
};

use futures_util::{Stream, StreamExt};

use super::frames::{Frame, FrameDecoder, OutputChunk};
use crate::{
    Error, ErrorKind, Result, api::SandboxesApi, retry, transport::ChunkStream,
    types::ProcessStatus,
};

/// A stream of output chunks, ending when the process has ended and all of its output was
/// delivered.
pub type OutputStream = Pin<Box<dyn Stream<Item = Result<OutputChunk>> + Send + 'static>>;

struct Follow {
    api: SandboxesApi,
    sandbox_id: String,
    exec_id: String,
    /// Offset of the next byte to deliver.
    next: u64,
    follow: bool,
    body: Option<ChunkStream>,
    decoder: FrameDecoder,
    /// Consecutive failed attempts without a byte of progress.
    failures: u32,
    done: bool,
    /// Where the final status goes once the end frame arrives.
    last_status: Arc<Mutex<Option<ProcessStatus>>>,
}

/// The output of `exec_id` from `offset`: replayed, then (with `follow`) live until the end.
pub(crate) fn stream(
    api: SandboxesApi,
    sandbox_id: String,
    exec_id: String,
    offset: u64,
    follow: bool,
    last_status: Arc<Mutex<Option<ProcessStatus>>>,
) -> OutputStream {
    let state = Follow {
        api,
        sandbox_id,
        exec_id,
        next: offset,
        follow,
        body: None,
        decoder: FrameDecoder::default(),
        failures: 0,
        done: false,
        last_status,
    };
    Box::pin(futures_util::stream::unfold(state, |mut state| async move {
        match state.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), state)),
            Ok(None) => None,
            Err(err) => {
                state.done = true;
                Some((Err(err), state))
            }
        }
    }))
}

impl Follow {
    async fn next_chunk(&mut self) -> Result<Option<OutputChunk>> {
        loop {
            if self.done {
                return Ok(None);
            }
            match self.decoder.next_frame()? {
                Some(Frame::Data(mut chunk)) => {
                    // Never deliver a byte twice, whatever the server replays.
                    if chunk.end() <= self.next {
                        continue;
                    }
                    if chunk.offset < self.next {
                        let skip = usize::try_from(self.next - chunk.offset).unwrap_or(0);
                        chunk.data = chunk.data.slice(skip..);
                        chunk.offset = self.next;
                    }
                    self.next = chunk.end();
                    self.failures = 0;
                    return Ok(Some(chunk));
                }
                Some(Frame::End(status)) => {
                    *self.last_status.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(*status);
                    self.done = true;
                    return Ok(None);
                }
                None => {}
            }
            let Some(body) = self.body.as_mut() else {
                self.open().await?;
                continue;
            };
            match body.next().await {
                Some(Ok(bytes)) => self.decoder.push(&bytes),
                Some(Err(err)) => {
                    self.broken(Error::new(
                        ErrorKind::Network,
                        format!("Network error: the process output stream broke: {err}"),
                    ))
                    .await?;
                }
                None if !self.follow => {
                    // A one-time read: what the server had is all there is for now.
                    self.done = true;
                    return Ok(None);
                }
                None => {
                    self.broken(Error::new(
                        ErrorKind::Network,
                        "Network error: the process output stream ended before the process did",
                    ))
                    .await?;
                }
            }
        }
    }

    /// Opens a body from the next offset, retrying network errors and retryable statuses.
    async fn open(&mut self) -> Result<()> {
        loop {
            match self
                .api
                .read_process_output(&self.sandbox_id, &self.exec_id, self.next, self.follow)
                .await
            {
                Ok(body) => {
                    self.body = Some(body);
                    return Ok(());
                }
                // The transport has retried already; a stream that was flowing gets the
                // same budget again before giving up.
                Err(err) => self.broken(err).await?,
            }
        }
    }

    /// A connection broke (or could not be made): drop it and any partial frame, then wait
    /// and let the next read reconnect — unless the retry budget is spent.
    async fn broken(&mut self, err: Error) -> Result<()> {
        self.body = None;
        self.decoder.clear();
        let retryable = matches!(err.kind(), ErrorKind::Network | ErrorKind::Timeout)
            || err.status().is_some_and(retry::should_retry);
        if !retryable || self.failures >= self.api.max_retries() {
            return Err(err);
        }
        tokio::time::sleep(retry::backoff_delay(self.failures)).await;
        self.failures += 1;
        Ok(())
    }
}
