//! Commands in a pod: the sandbox's exec agent, started once through `pods/exec` (one
//! long-lived stream, commands multiplexed over it), as the local runtime does with its engine.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, AttachedProcess};
use tokio::{
    io::{AsyncRead, ReadBuf},
    sync::oneshot,
    task::JoinHandle,
};

use super::objects::{AGENT, CONTAINER};
use crate::runtime::agent_client::Agent;

/// Bytes buffered per direction of the exec stream.
const STREAM_BUFFER: usize = 256 * 1024;

/// The agent of one sandbox: started at most once at a time, again when it ended.
#[derive(Debug, Default)]
pub struct Slot(tokio::sync::Mutex<Option<Running>>);

struct Running {
    agent: Arc<Agent>,
    /// Holds the exec stream: dropping it ends the stream, and the agent.
    _stream: Held,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("agent", &self.agent).finish_non_exhaustive()
    }
}

/// Starts the exec agent of pod `id` in its container over one `pods/exec` stream (standard
/// input and output: the agent's protocol), with the container's environment and directory.
pub(super) async fn start_agent(pods: &Api<Pod>, id: &str) -> kube::Result<AttachedProcess> {
    let params = AttachParams::default()
        .container(CONTAINER)
        .stdin(true)
        .stdout(true)
        .stderr(false)
        .max_stdin_buf_size(STREAM_BUFFER)
        .max_stdout_buf_size(STREAM_BUFFER);
    pods.exec(id, [AGENT, "--inherit-env"], &params).await
}

impl Slot {
    /// The sandbox's agent, started if needed.
    pub async fn get(&self, pods: &Api<Pod>, id: &str) -> Result<Arc<Agent>, String> {
        let mut slot = self.0.lock().await;
        if let Some(running) = slot.as_ref().filter(|r| r.agent.is_alive()) {
            return Ok(running.agent.clone());
        }
        *slot = None;
        let mut stream = start_agent(pods, id)
            .await
            .map_err(|e| format!("cannot start the exec agent of {id} through the cluster: {e}"))?;
        let (Some(output), Some(input)) = (stream.stdout(), stream.stdin()) else {
            return Err(format!("the cluster's exec stream of {id} has no standard input/output"));
        };
        let (output, held) = ending_with(stream, output);
        let agent = Arc::new(Agent::spawn(output, input));
        *slot = Some(Running { agent: agent.clone(), _stream: held });
        Ok(agent)
    }
}

/// An exec stream kept running until this is dropped.
pub(super) struct Held(JoinHandle<()>);

impl Drop for Held {
    fn drop(&mut self) {
        // Dropping the stream (in the aborted task) ends it.
        self.0.abort();
    }
}

/// The output of an exec stream that ends when the stream does. kube leaves the output open
/// when the stream fails (the API server or the node went away: no end is written, only a
/// clean close writes one), and a reader would then wait forever.
pub(super) fn ending_with<R: AsyncRead + Unpin>(
    stream: AttachedProcess,
    output: R,
) -> (EndingOutput<R>, Held) {
    let (ended, watch) = oneshot::channel::<()>();
    let held = tokio::spawn(async move {
        let _ = stream.join().await;
        drop(ended);
    });
    (EndingOutput { output, ended: Some(watch) }, Held(held))
}

/// See [`ending_with`].
pub(super) struct EndingOutput<R> {
    output: R,
    /// Resolves (as closed) once the stream has ended; `None` after that.
    ended: Option<oneshot::Receiver<()>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for EndingOutput<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Poll::Ready(read) = Pin::new(&mut this.output).poll_read(cx, buf) {
            return Poll::Ready(read);
        }
        // Nothing buffered: once the stream has ended, nothing more will come.
        match this.ended.as_mut().map(|ended| Pin::new(ended).poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            _ => {
                this.ended = None;
                Poll::Ready(Ok(()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn the_output_of_a_failed_stream_ends_after_what_it_delivered() {
        let (reader, mut writer) = tokio::io::simplex(1024);
        let (ended, watch) = oneshot::channel::<()>();
        let mut output = EndingOutput { output: reader, ended: Some(watch) };
        writer.write_all(b"abc").await.unwrap();
        // A failed stream drops its writer without writing an end.
        drop(writer);
        let mut buf = [0u8; 16];
        assert_eq!(output.read(&mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        let waiting = tokio::time::timeout(Duration::from_millis(50), output.read(&mut buf)).await;
        assert!(waiting.is_err(), "no end before the stream has ended");
        drop(ended);
        assert_eq!(output.read(&mut buf).await.unwrap(), 0, "the end once it has");
    }
}
