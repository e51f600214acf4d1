//! The processes extension of the local server (spec/README.md, "Processes"): one method per
//! endpoint, on [`SandboxesApi`], and the discovery call that tells whether a server has it.

use bytes::Bytes;
use futures_util::TryStreamExt;

use super::SandboxesApi;
use crate::{
    Error, ErrorKind, Result,
    transport::{ChunkStream, RequestSpec, RequestTimeout, ResponseBody, segment},
    types::{
        PROCESS_OUTPUT_MEDIA_TYPE, ProcessList, ProcessRequest, ProcessStatus, ServerExtensions,
        SignalRequest, TerminalSize,
    },
};

/// Most bytes one stdin request carries (the server refuses larger bodies).
pub const MAX_STDIN_CHUNK: usize = 1024 * 1024;

/// Longest `wait_seconds` the server accepts on a status read.
pub const MAX_STATUS_WAIT_SECONDS: f64 = 60.0;

fn process_path(id: &str, exec_id: &str, tail: &str) -> String {
    format!("/v1/sandbox/{}/processes/{}{tail}", segment(id), segment(exec_id))
}

/// A server that answers a process call with 501 has the routes but cannot run processes
/// (no supervisor); say so as `Unsupported`, like a server without the routes.
fn unsupported_on_501(err: Error) -> Error {
    if err.status() == Some(501) {
        Error::new(ErrorKind::Unsupported, err.message().to_string())
    } else {
        err
    }
}

impl SandboxesApi {
    /// Retries of a retryable call, as configured on the client.
    pub(crate) fn max_retries(&self) -> u32 {
        self.transport.max_retries()
    }

    /// `GET /v1/extensions`: what this server offers beyond the Porter API, read once per
    /// client and cached. A server without the route (404, 405, 501) offers none.
    pub async fn server_extensions(&self) -> Result<ServerExtensions> {
        if let Some(known) = self.transport.cached_extensions() {
            return Ok(known.clone());
        }
        let spec = RequestSpec::get("/v1/extensions");
        let extensions = match self.transport.execute(spec).await {
            Ok(response) => response.json::<ServerExtensions>().await?,
            Err(err) if matches!(err.status(), Some(404 | 405 | 501)) => ServerExtensions {
                exec_options: false,
                processes: false,
                leases: false,
                idempotency: false,
                process_output_retention: 0,
            },
            Err(err) => return Err(err),
        };
        self.transport.cache_extensions(extensions.clone());
        Ok(extensions)
    }

    /// Fails at once with [`ErrorKind::Unsupported`] unless the server has the processes
    /// extension.
    pub async fn require_processes(&self) -> Result<()> {
        if self.server_extensions().await?.processes {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "the Sandbox API at {} does not offer processes (an extension of the local \
                 porter-sandbox server): use exec(), which runs a command to its end on any server",
                self.transport.base_url()
            ),
        ))
    }

    /// `POST /v1/sandbox/{id}/processes`: starts a process; answers at once with its status.
    /// Never retried (a retry could start it twice).
    pub async fn start_process(&self, id: &str, body: &ProcessRequest) -> Result<ProcessStatus> {
        let spec = RequestSpec::post(format!("/v1/sandbox/{}/processes", segment(id)))
            .json(body)?
            .no_retry();
        self.transport.execute(spec).await.map_err(unsupported_on_501)?.json().await
    }

    /// `GET /v1/sandbox/{id}/processes`: the sandbox's processes, newest first.
    pub async fn list_processes(&self, id: &str) -> Result<ProcessList> {
        let spec = RequestSpec::get(format!("/v1/sandbox/{}/processes", segment(id)));
        self.transport.execute(spec).await.map_err(unsupported_on_501)?.json().await
    }

    /// `GET /v1/sandbox/{id}/processes/{exec_id}`: its status; with `wait_seconds`, the
    /// server answers as soon as the process ends or when that time is up (at most 60 s).
    pub async fn get_process(
        &self,
        id: &str,
        exec_id: &str,
        wait_seconds: Option<f64>,
    ) -> Result<ProcessStatus> {
        let mut spec = RequestSpec::get(process_path(id, exec_id, ""));
        if let Some(wait) = wait_seconds {
            let wait = wait.clamp(0.0, MAX_STATUS_WAIT_SECONDS);
            // The request may last the wait, plus the client's usual allowance.
            spec = spec.query("wait_seconds", format!("{wait:.3}")).timeout(RequestTimeout::After(
                self.transport.timeout() + std::time::Duration::from_secs_f64(wait),
            ));
        }
        self.transport.execute(spec).await.map_err(unsupported_on_501)?.json().await
    }

    /// `GET …/output?offset=&follow=`: the raw frames of the output from `offset`
    /// ([`PROCESS_OUTPUT_MEDIA_TYPE`]); with `follow`, the body goes on until the process ends.
    /// [`crate::Process::output`] decodes it and resumes broken connections.
    pub async fn read_process_output(
        &self,
        id: &str,
        exec_id: &str,
        offset: u64,
        follow: bool,
    ) -> Result<ChunkStream> {
        let spec = RequestSpec::get(process_path(id, exec_id, "/output"))
            .query("offset", offset)
            .query("follow", follow)
            .accept(PROCESS_OUTPUT_MEDIA_TYPE)
            .timeout(RequestTimeout::Unbounded)
            .streaming();
        let response = self.transport.execute(spec).await.map_err(unsupported_on_501)?;
        Ok(match response.body {
            ResponseBody::Streaming(body) => {
                Box::pin(body.bytes_stream().map_err(std::io::Error::other))
            }
            ResponseBody::Buffered(bytes) => Box::pin(futures_util::stream::iter([Ok(bytes)])),
        })
    }

    /// `POST …/stdin`: appends `data` (at most [`MAX_STDIN_CHUNK`] bytes) to standard input.
    /// Never retried: a retry after a lost answer would write the bytes twice.
    pub async fn write_process_stdin(&self, id: &str, exec_id: &str, data: Bytes) -> Result<()> {
        let spec = RequestSpec::post(process_path(id, exec_id, "/stdin"))
            .binary(crate::BinaryBody::from_bytes(data))
            .no_retry();
        self.transport.execute(spec).await.map_err(unsupported_on_501).map(drop)
    }

    /// `POST …/stdin/close`: closes standard input (the process reads end-of-file).
    pub async fn close_process_stdin(&self, id: &str, exec_id: &str) -> Result<()> {
        let spec = RequestSpec::post(process_path(id, exec_id, "/stdin/close"));
        self.transport.execute(spec).await.map_err(unsupported_on_501).map(drop)
    }

    /// `POST …/signal`: sends a signal to the process's whole tree.
    pub async fn signal_process(
        &self,
        id: &str,
        exec_id: &str,
        body: &SignalRequest,
    ) -> Result<()> {
        let spec = RequestSpec::post(process_path(id, exec_id, "/signal")).json(body)?;
        self.transport.execute(spec).await.map_err(unsupported_on_501).map(drop)
    }

    /// `POST …/resize`: resizes the terminal of a process started with a pty.
    pub async fn resize_process(&self, id: &str, exec_id: &str, size: TerminalSize) -> Result<()> {
        let spec = RequestSpec::post(process_path(id, exec_id, "/resize")).json(&size)?;
        self.transport.execute(spec).await.map_err(unsupported_on_501).map(drop)
    }
}
