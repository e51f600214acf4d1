//! Volume file endpoints: list/search, read (whole, ranged, streamed), write, move.

use std::time::Duration;

use futures_util::TryStreamExt;
use reqwest::header;

use super::VolumesApi;
use crate::{
    Error, ErrorKind, Result,
    transport::{
        BinaryBody, BinaryContent, BinaryStream, ContentRange, RequestSpec, RequestTimeout,
        Response, ResponseBody, segment,
    },
    types::{VolumeFileListResponse, VolumeFileMoveRequest},
};

fn files_path(id: &str, rest: &str) -> String {
    format!("/v1/volume/{}/files{rest}", segment(id))
}

fn read_spec(id: &str, path: &str, range: Option<&str>, timeout: Option<Duration>) -> RequestSpec {
    RequestSpec::get(files_path(id, "/content"))
        .query("path", path)
        .accept("application/octet-stream")
        .range(range.map(str::to_owned))
        .timeout(RequestTimeout::unbounded_or(timeout))
}

fn content_range(response: &Response) -> Option<ContentRange> {
    response.header(header::CONTENT_RANGE).and_then(ContentRange::parse)
}

fn last_modified(response: &Response) -> Option<std::time::SystemTime> {
    response.header(header::LAST_MODIFIED).and_then(|v| httpdate::parse_http_date(v).ok())
}

impl VolumesApi {
    /// `GET /v1/volume/{id}/files`: a breadth-first walk of `path` (default the root) up to the
    /// server's entry budget, pruned to `search` matches when given. Paths are sent as given.
    pub async fn list_volume_files(
        &self,
        id: &str,
        path: Option<&str>,
        search: Option<&str>,
    ) -> Result<VolumeFileListResponse> {
        let spec = RequestSpec::get(files_path(id, ""))
            .query_opt("path", path)
            .query_opt("search", search);
        self.transport.execute(spec).await?.json().await
    }

    /// `GET /v1/volume/{id}/files/content`: read a file, or the byte range `range` (a raw `Range`
    /// header value such as `bytes=0-99`). `timeout` `None` waits as long as the transfer takes.
    pub async fn read_volume_file(
        &self,
        id: &str,
        path: &str,
        range: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<BinaryContent> {
        let response = self.transport.execute(read_spec(id, path, range, timeout)).await?;
        let content_range = content_range(&response);
        let last_modified = last_modified(&response);
        Ok(BinaryContent { data: response.bytes().await?, content_range, last_modified })
    }

    /// Like [`VolumesApi::read_volume_file`], but hands the body over as a stream of chunks, so
    /// a file of any size is read with bounded memory.
    pub async fn read_volume_file_stream(
        &self,
        id: &str,
        path: &str,
        range: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<BinaryStream> {
        let spec = read_spec(id, path, range, timeout).streaming();
        let response = self.transport.execute(spec).await?;
        let content_range = content_range(&response);
        let last_modified = last_modified(&response);
        let content_length =
            response.header(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        let stream = match response.body {
            ResponseBody::Streaming(body) => Box::pin(body.bytes_stream().map_err(|e| {
                Error::new(ErrorKind::Network, format!("Network error: reading the file: {e}"))
                    .with_source(e)
            })) as _,
            ResponseBody::Buffered(bytes) => Box::pin(futures_util::stream::iter([Ok(bytes)])) as _,
        };
        Ok(BinaryStream { content_range, last_modified, content_length, stream })
    }

    /// `PUT /v1/volume/{id}/files/content`: replace the file at `path` atomically, creating its
    /// parents. The body is streamed and re-sent from its start on the API's 307 and on retries.
    pub async fn write_volume_file(
        &self,
        id: &str,
        body: BinaryBody,
        path: &str,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let spec = RequestSpec::put(files_path(id, "/content"))
            .query("path", path)
            .binary(body)
            .timeout(RequestTimeout::unbounded_or(timeout));
        self.transport.execute(spec).await.map(drop)
    }

    /// `POST /v1/volume/{id}/files/move`: move or rename; never overwrites.
    pub async fn move_volume_file(&self, id: &str, body: &VolumeFileMoveRequest) -> Result<()> {
        let spec = RequestSpec::post(files_path(id, "/move")).json(body)?;
        self.transport.execute(spec).await.map(drop)
    }
}
