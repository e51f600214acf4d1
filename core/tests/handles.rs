#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The ergonomic layer (namespaces and handles) against scripted in-process routes: which
//! requests each call makes, in which order, with which bodies, and how the answers are wrapped
//! (spec/README.md §9 and §11).

mod support;

use std::{
    io::Write,
    sync::{Arc, mpsc},
    thread::JoinHandle,
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::any,
};
use futures_util::StreamExt;
use porter_sandbox::{
    BinaryBody, ErrorKind, LogsQuery, Porter, Volume, VolumeFile, VolumeHandle,
    api::{ListSandboxesParams, SandboxFilter},
    types::{
        LogLineLevel, SandboxSpec, SandboxesPhase, SandboxesSource, SnapshotSpec, SnapshotStatus,
        StatusResponsePhase, VolumeSpec, VolumeType,
    },
};
use serde_json::{Value, json};
use support::{Seen, SeenRequest, seen, serve};

// ---------------------------------------------------------------------------------------------
// Scripted server
// ---------------------------------------------------------------------------------------------

/// One request as a scripted route sees it; `n` counts from 1.
struct Req {
    n: usize,
    method: Method,
    path: String,
    /// The raw (still percent-encoded) query; empty when there is none.
    query: String,
    headers: HeaderMap,
}

impl Req {
    /// `(method, path)`, for matching routes.
    fn route(&self) -> (&str, &str) {
        (self.method.as_str(), self.path.as_str())
    }

    fn range(&self) -> Option<&str> {
        self.headers.get(header::RANGE).and_then(|v| v.to_str().ok())
    }

    /// The raw value of query parameter `key`.
    fn param(&self, key: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    }
}

type Handler = Arc<dyn Fn(&Req) -> Response + Send + Sync>;

/// A server answering every request with `respond(&req)` and recording what arrived.
async fn scripted(
    respond: impl Fn(&Req) -> Response + Send + Sync + 'static,
) -> (String, Arc<Seen>) {
    let seen = seen();
    let handler: Handler = Arc::new(respond);
    let router = Router::new()
        .fallback(any(
            |State((seen, handler)): State<(Arc<Seen>, Handler)>,
             method: Method,
             uri: Uri,
             headers: HeaderMap,
             body: Bytes| async move {
                let n = seen.record(method.as_str(), &uri.to_string(), &headers, &body);
                let req = Req {
                    n,
                    path: uri.path().to_owned(),
                    query: uri.query().unwrap_or_default().to_owned(),
                    method,
                    headers,
                };
                handler(&req)
            },
        ))
        .with_state((seen.clone(), handler))
        .layer(DefaultBodyLimit::disable());
    (serve(router).await, seen)
}

/// A scripted server running on its own runtime in a background thread, for the blocking
/// client (which must not be called from inside a runtime). Stopped when dropped.
struct BackgroundServer {
    base: String,
    seen: Arc<Seen>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundServer {
    fn start(respond: impl Fn(&Req) -> Response + Send + Sync + 'static) -> Self {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                ready_tx.send(scripted(respond).await).unwrap();
                let _ = stop_rx.await;
            });
        });
        let (base, seen) = ready_rx.recv().unwrap();
        Self { base, seen, stop: Some(stop_tx), thread: Some(thread) }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn client(base: &str) -> Porter {
    Porter::builder().base_url(base).build().unwrap()
}

fn json_response(status: u16, value: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response()
}

/// The answer to a request no route expected: a 418 (never retried) naming it.
fn unexpected(r: &Req) -> Response {
    json_response(
        418,
        json!({"error": format!("unexpected request {} {}?{}", r.method, r.path, r.query)}),
    )
}

/// Serves `file` the way spec/README.md §9 describes: the whole file without `Range` (and for an
/// empty file whatever the `Range`), else `206` with `Content-Range: bytes s-e/size`, `e`
/// clamped to the last byte.
fn serve_range(file: &[u8], range: Option<&str>) -> Response {
    let octet = (header::CONTENT_TYPE, "application/octet-stream".to_owned());
    let Some(range) = range.filter(|_| !file.is_empty()) else {
        return (StatusCode::OK, [octet], file.to_vec()).into_response();
    };
    let (start, end) = range.strip_prefix("bytes=").unwrap().split_once('-').unwrap();
    let start: usize = start.parse().unwrap();
    let last = file.len() - 1;
    if start > last {
        return json_response(416, json!({"error": "range not satisfiable"}));
    }
    let end = if end.is_empty() { last } else { end.parse::<usize>().unwrap().min(last) };
    let content_range = (header::CONTENT_RANGE, format!("bytes {start}-{end}/{}", file.len()));
    (StatusCode::PARTIAL_CONTENT, [octet, content_range], file[start..=end].to_vec())
        .into_response()
}

/// `METHOD uri` of every request received, in order.
fn calls(seen: &Seen) -> Vec<String> {
    seen.requests().iter().map(|r| format!("{} {}", r.method, r.uri)).collect()
}

fn header_of(request: &SeenRequest, name: header::HeaderName) -> Option<&str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------------------------------------
// JSON fixtures
// ---------------------------------------------------------------------------------------------

fn status_json(id: &str, name: &str, phase: &str, tags: Option<Value>) -> Value {
    let mut status = json!({
        "id": id,
        "name": name,
        "image": "img",
        "phase": phase,
        "created_at": "2025-01-01T00:00:00Z",
        "host": format!("{id}.sandbox.local"),
    });
    if let Some(tags) = tags {
        status["tags"] = tags;
    }
    status
}

fn list_page(sandboxes: Vec<Value>, current: i64, total: i64, has_next: bool) -> Value {
    json!({
        "sandboxes": sandboxes,
        "pagination": {"current_page": current, "total_pages": total, "has_next_page": has_next},
    })
}

fn volume_json(id: &str, name: &str, kind: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "type": kind,
        "path": if kind == "object" { String::new() } else { format!("volumes/{id}") },
        "phase": "ready",
        "attached_to": [],
        "created_at": "2025-01-01T00:00:00Z",
    })
}

fn snapshot_json(id: &str, sandbox_id: &str, status: &str) -> Value {
    json!({"id": id, "sandbox_id": sandbox_id, "mode": "filesystem", "status": status})
}

fn file(name: &str, size: i64) -> Value {
    json!({"name": name, "type": "file", "size_bytes": size, "modified_at": "2025-01-01T00:00:00Z"})
}

/// A directory the walk read completely.
fn dir(name: &str, entries: Vec<Value>) -> Value {
    json!({"name": name, "type": "directory", "size_bytes": 0, "entries": entries})
}

/// A directory the walk read only partly: it has entries and is marked truncated.
fn partial_dir(name: &str, entries: Vec<Value>) -> Value {
    json!({"name": name, "type": "directory", "size_bytes": 0, "truncated": true, "entries": entries})
}

/// A directory the walk did not enter: truncated, no entries.
fn unread_dir(name: &str) -> Value {
    json!({"name": name, "type": "directory", "size_bytes": 0, "truncated": true})
}

fn listing(path: &str, entries: Vec<Value>, truncated: bool) -> Value {
    json!({"path": path, "entries": entries, "truncated": truncated})
}

// ---------------------------------------------------------------------------------------------
// Disk volume fixture
// ---------------------------------------------------------------------------------------------

const VOLUME_PATH: &str = "/v1/volume/vol-1";
const FILES_PATH: &str = "/v1/volume/vol-1/files";
const CONTENT_PATH: &str = "/v1/volume/vol-1/files/content";
const MOVE_PATH: &str = "/v1/volume/vol-1/files/move";

/// A server whose `GET /v1/volume/vol-1` answers a disk record and whose other routes are
/// `files`; returns the disk handle (read through that route) and the recorder.
async fn disk_server(
    files: impl Fn(&Req) -> Response + Send + Sync + 'static,
) -> (Volume, Arc<Seen>) {
    let (base, seen) = scripted(move |r: &Req| {
        if r.route() == ("GET", VOLUME_PATH) {
            json_response(200, volume_json("vol-1", "data", "disk"))
        } else {
            files(r)
        }
    })
    .await;
    let volume = client(&base).volumes().get_by_id("vol-1").await.unwrap().into_disk().unwrap();
    (volume, seen)
}

/// The requests made to the file endpoints of `vol-1` (the record read is left out).
fn file_requests(seen: &Seen) -> Vec<SeenRequest> {
    seen.requests().into_iter().filter(|r| r.uri.starts_with(FILES_PATH)).collect()
}

/// `METHOD uri` of the file requests.
fn file_calls(seen: &Seen) -> Vec<String> {
    file_requests(seen).iter().map(|r| format!("{} {}", r.method, r.uri)).collect()
}

fn paths(files: &[VolumeFile]) -> Vec<&str> {
    files.iter().map(|f| f.path.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Sandboxes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn create_sends_the_spec_verbatim_and_caches_status_only_after_refresh() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("POST", "/v1/sandbox/run") => json_response(202, json!({"id": "sb-1", "name": "n"})),
        ("GET", "/v1/sandbox/sb-1") => json_response(
            200,
            status_json("sb-1", "n", "running", Some(json!({"a": "1", "b": "2"}))),
        ),
        _ => unexpected(r),
    })
    .await;
    let porter = client(&base);

    let sandbox = porter
        .sandboxes()
        .create(SandboxSpec::new("img").name("n").tag("a", "1").tag("b", "2"))
        .await
        .unwrap();
    assert_eq!(sandbox.id(), "sb-1");
    assert_eq!(sandbox.phase(), None);
    assert_eq!(sandbox.tags(), None);
    assert!(sandbox.status().is_none());

    let requests = seen.requests();
    assert_eq!(calls(&seen), ["POST /v1/sandbox/run"]);
    assert_eq!(&requests[0].body[..], br#"{"image":"img","name":"n","tags":{"a":"1","b":"2"}}"#);
    assert_eq!(header_of(&requests[0], header::CONTENT_TYPE), Some("application/json"));

    // Clones share the cache: refreshing one fills the other.
    let clone = sandbox.clone();
    let status = sandbox.refresh().await.unwrap();
    assert_eq!(status.phase, StatusResponsePhase::Running);
    assert_eq!(calls(&seen), ["POST /v1/sandbox/run", "GET /v1/sandbox/sb-1"]);
    assert_eq!(sandbox.phase(), Some(StatusResponsePhase::Running));
    assert_eq!(clone.phase(), Some(StatusResponsePhase::Running));
    let tags: Vec<(String, String)> = sandbox.tags().unwrap().into_iter().collect();
    assert_eq!(tags, [("a".into(), "1".into()), ("b".into(), "2".into())]);
    assert_eq!(sandbox.status().unwrap().name, "n");
}

#[tokio::test]
async fn get_looks_the_name_up_then_reads_the_status() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("GET", "/v1/sandbox/lookup") => json_response(200, json!({"id": "sb-9"})),
        ("GET", "/v1/sandbox/sb-9") => {
            json_response(200, status_json("sb-9", "name", "creating", None))
        }
        _ => unexpected(r),
    })
    .await;

    let sandbox = client(&base).sandboxes().get("name").await.unwrap();

    assert_eq!(calls(&seen), ["GET /v1/sandbox/lookup?name=name", "GET /v1/sandbox/sb-9"]);
    assert_eq!(sandbox.id(), "sb-9");
    assert_eq!(sandbox.phase(), Some(StatusResponsePhase::Creating));
    assert_eq!(sandbox.tags(), None, "no tags were set");
    assert_eq!(sandbox.status().unwrap().name, "name");
}

#[tokio::test]
async fn list_sends_tag_and_phase_filters_and_caches_each_status() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("GET", "/v1/sandbox") => json_response(
            200,
            list_page(
                vec![
                    status_json("sb-1", "one", "running", Some(json!({"env": "prod"}))),
                    status_json("sb-2", "two", "running", Some(json!({"env": "prod"}))),
                ],
                1,
                1,
                false,
            ),
        ),
        _ => unexpected(r),
    })
    .await;

    let sandboxes = client(&base)
        .sandboxes()
        .list(SandboxFilter::new().tag("env", "prod").phase(SandboxesPhase::Running))
        .await
        .unwrap();

    assert_eq!(calls(&seen), ["GET /v1/sandbox?tag=env%3Dprod&phase=running"]);
    let ids: Vec<&str> = sandboxes.iter().map(porter_sandbox::Sandbox::id).collect();
    assert_eq!(ids, ["sb-1", "sb-2"]);
    for sandbox in &sandboxes {
        assert_eq!(sandbox.phase(), Some(StatusResponsePhase::Running));
        assert_eq!(sandbox.tags().unwrap()["env"], "prod");
    }
}

#[tokio::test]
async fn list_all_follows_has_next_page_to_the_last_page() {
    let (base, seen) = scripted(|r: &Req| {
        if r.route() != ("GET", "/v1/sandbox") {
            return unexpected(r);
        }
        let sandbox = |id: &str| status_json(id, id, "running", None);
        let page = match r.param("page") {
            Some("1") => list_page(vec![sandbox("sb-1"), sandbox("sb-2")], 1, 3, true),
            Some("2") => list_page(vec![sandbox("sb-3")], 2, 3, true),
            Some("3") => list_page(vec![sandbox("sb-4")], 3, 3, false),
            _ => return unexpected(r),
        };
        json_response(200, page)
    })
    .await;
    let porter = client(&base);

    let all = porter.sandboxes().list_all(SandboxFilter::new().tag("env", "prod")).await.unwrap();
    let ids: Vec<&str> = all.iter().map(porter_sandbox::Sandbox::id).collect();
    assert_eq!(ids, ["sb-1", "sb-2", "sb-3", "sb-4"]);
    assert_eq!(
        calls(&seen),
        [
            "GET /v1/sandbox?tag=env%3Dprod&page=1",
            "GET /v1/sandbox?tag=env%3Dprod&page=2",
            "GET /v1/sandbox?tag=env%3Dprod&page=3",
        ]
    );

    // The page given is the first one read.
    let rest = porter.sandboxes().list_all(ListSandboxesParams::new().page(2)).await.unwrap();
    let ids: Vec<&str> = rest.iter().map(porter_sandbox::Sandbox::id).collect();
    assert_eq!(ids, ["sb-3", "sb-4"]);
    assert_eq!(calls(&seen)[3..], ["GET /v1/sandbox?page=2", "GET /v1/sandbox?page=3"]);
}

#[tokio::test]
async fn exec_sends_the_argv_and_a_503_is_not_retried() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("POST", "/v1/sandbox/sb-ok/exec") => json_response(
            200,
            json!({"stdout": "2\n", "stderr": "", "exit_code": 3, "exec_id": "ex-1"}),
        ),
        ("POST", "/v1/sandbox/sb-busy/exec") => json_response(503, json!({"error": "busy"})),
        _ => unexpected(r),
    })
    .await;
    let porter = client(&base);

    let out =
        porter.sandboxes().handle("sb-ok").exec(["python3", "-c", "print(1 + 1)"]).await.unwrap();
    assert_eq!(out.stdout, "2\n");
    assert_eq!(out.exit_code, 3, "a non-zero exit code is a normal result");
    let requests = seen.requests();
    assert_eq!(&requests[0].body[..], br#"{"command":["python3","-c","print(1 + 1)"]}"#);
    assert_eq!(header_of(&requests[0], header::CONTENT_TYPE), Some("application/json"));

    let err = porter.sandboxes().handle("sb-busy").exec(["true"]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.message(), "busy");
    assert_eq!(seen.hits(), 2, "the 503 exec was sent exactly once");
    assert_eq!(calls(&seen), ["POST /v1/sandbox/sb-ok/exec", "POST /v1/sandbox/sb-busy/exec"]);
}

#[tokio::test]
async fn logs_send_limit_and_since_only_when_set() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("GET", "/v1/sandbox/sb-1/logs") => json_response(
            200,
            json!({"sandbox_id": "sb-1", "logs": [
                {"timestamp": "2025-01-01T00:00:00Z", "line": "hello", "level": "info", "exec_id": ""},
                {"timestamp": "2025-01-01T00:00:01Z", "line": "oops", "level": "error", "exec_id": "ex-1"},
            ]}),
        ),
        _ => unexpected(r),
    })
    .await;
    let sandbox = client(&base).sandboxes().handle("sb-1");

    let lines = sandbox.logs(LogsQuery::new().limit(5).since("10m")).await.unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].line, "hello");
    assert_eq!(lines[1].level, LogLineLevel::Error);
    assert_eq!(lines[1].exec_id, "ex-1");

    sandbox.logs(LogsQuery::new()).await.unwrap();
    assert_eq!(
        calls(&seen),
        ["GET /v1/sandbox/sb-1/logs?limit=5&since=10m", "GET /v1/sandbox/sb-1/logs"]
    );
}

#[tokio::test]
async fn terminate_sends_no_source_and_terminate_from_sends_it() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("DELETE", "/v1/sandbox/sb-1") if r.query.is_empty() => {
            StatusCode::ACCEPTED.into_response()
        }
        ("DELETE", "/v1/sandbox/sb-1") => json_response(200, json!({"ignored": true})),
        _ => unexpected(r),
    })
    .await;
    let sandbox = client(&base).sandboxes().handle("sb-1");

    sandbox.terminate().await.unwrap();
    sandbox.terminate_from(SandboxesSource::Cli).await.unwrap();
    sandbox.terminate_from(SandboxesSource::Dashboard).await.unwrap();

    assert_eq!(
        calls(&seen),
        [
            "DELETE /v1/sandbox/sb-1",
            "DELETE /v1/sandbox/sb-1?source=cli",
            "DELETE /v1/sandbox/sb-1?source=dashboard",
        ]
    );
    assert!(seen.requests().iter().all(|r| r.body.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn volume_create_sends_an_empty_spec_and_wraps_records_by_type() {
    let (base, seen) = scripted(|r: &Req| {
        if r.route() != ("POST", "/v1/volume") {
            return unexpected(r);
        }
        let record = match r.n {
            1 => {
                let mut record = volume_json("vol-o", "bucket", "object");
                record["object"] =
                    json!({"bucket": "bkt", "prefix": "data", "access": "read_only"});
                record
            }
            2 => volume_json("vol-d", "disk", "disk"),
            3 => volume_json("vol-n", "nfs", "nfs"),
            4 => volume_json("vol-x", "bare", "object"),
            _ => return unexpected(r),
        };
        json_response(200, record)
    })
    .await;
    let volumes = client(&base).volumes();

    // An object record with its spec.
    let handle = volumes.create(VolumeSpec::default()).await.unwrap();
    assert!(matches!(handle, VolumeHandle::Object(_)));
    assert_eq!(handle.id(), "vol-o");
    assert!(handle.as_disk().is_none());
    let object = handle.as_object().unwrap().object().unwrap();
    assert_eq!(object.bucket, "bkt");
    assert_eq!(object.prefix.as_deref(), Some("data"));
    let err = handle.into_disk().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.message().contains("vol-o"), "{}", err.message());

    // A disk record.
    let handle = volumes.create(VolumeSpec::default()).await.unwrap();
    let VolumeHandle::Disk(disk) = &handle else { panic!("expected a disk handle: {handle:?}") };
    assert_eq!(disk.volume_type(), VolumeType::Disk);
    assert_eq!(disk.name(), "disk");
    assert_eq!(disk.path(), "volumes/vol-d");

    // Any other type, even one this crate does not know, is a disk handle.
    let handle = volumes.create(VolumeSpec::default()).await.unwrap();
    let VolumeHandle::Disk(disk) = &handle else { panic!("expected a disk handle: {handle:?}") };
    assert_eq!(disk.volume_type(), VolumeType::Unknown("nfs".into()));

    // An object record without its spec.
    let handle = volumes.create(VolumeSpec::default()).await.unwrap();
    let VolumeHandle::Object(object) = &handle else { panic!("expected an object: {handle:?}") };
    let err = object.object().unwrap_err();
    assert_eq!(err.message(), "volume record is missing its object spec");

    let requests = seen.requests();
    assert_eq!(requests.len(), 4);
    for request in &requests {
        assert_eq!(&request.body[..], b"{}");
        assert_eq!(header_of(request, header::CONTENT_TYPE), Some("application/json"));
    }
}

#[tokio::test]
async fn volume_get_and_delete_look_the_name_up_then_use_the_id() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("GET", "/v1/volume/lookup") => json_response(200, json!({"id": "vol-1"})),
        ("GET", "/v1/volume/vol-1") => json_response(200, volume_json("vol-1", "data", "disk")),
        ("DELETE", "/v1/volume/vol-1") => StatusCode::NO_CONTENT.into_response(),
        _ => unexpected(r),
    })
    .await;
    let volumes = client(&base).volumes();

    let handle = volumes.get("data").await.unwrap();
    assert_eq!(handle.id(), "vol-1");
    assert_eq!(handle.as_disk().unwrap().name(), "data");
    volumes.delete("data").await.unwrap();

    assert_eq!(
        calls(&seen),
        [
            "GET /v1/volume/lookup?name=data",
            "GET /v1/volume/vol-1",
            "GET /v1/volume/lookup?name=data",
            "DELETE /v1/volume/vol-1",
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Volume files: listing, walking, searching
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn listdir_sends_the_normalized_path_and_returns_direct_entries() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("GET", FILES_PATH) => json_response(
            200,
            listing(
                "/models",
                vec![
                    partial_dir("sub", vec![file("deep.bin", 9)]),
                    unread_dir("unread"),
                    file("a.txt", 3),
                ],
                true,
            ),
        ),
        _ => unexpected(r),
    })
    .await;

    let entries = volume.listdir("models/").await.unwrap();

    assert_eq!(file_calls(&seen), ["GET /v1/volume/vol-1/files?path=%2Fmodels"]);
    assert_eq!(paths(&entries), ["/models/sub", "/models/unread", "/models/a.txt"]);
    let [sub, unread, a] = &entries[..] else { unreachable!() };
    assert!(sub.is_directory() && sub.truncated);
    assert!(unread.is_directory() && unread.truncated);
    assert!(a.is_file() && !a.truncated);
    assert_eq!(a.name, "a.txt");
    assert_eq!(a.size_bytes, 3);
    assert_eq!(a.modified_at.as_deref(), Some("2025-01-01T00:00:00Z"));
}

#[tokio::test]
async fn every_file_call_sends_the_normalized_path() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("GET", FILES_PATH) => json_response(200, listing("/", vec![], false)),
        ("GET", CONTENT_PATH) => serve_range(b"x", None),
        ("PUT", CONTENT_PATH) | ("POST", MOVE_PATH) => StatusCode::OK.into_response(),
        _ => unexpected(r),
    })
    .await;

    volume.listdir("").await.unwrap();
    volume.listdir("///").await.unwrap();
    volume.listdir("/a/b/").await.unwrap();
    volume.search("q", "docs/").await.unwrap();
    let walked: Vec<_> = volume.iterdir("b/").collect().await;
    assert!(walked.is_empty());
    volume.read_file("a//b/", None, None).await.unwrap();
    volume.read_text("../x", None, None).await.unwrap();
    volume.write_text("/x/y/", "t").await.unwrap();

    assert_eq!(
        file_calls(&seen),
        [
            "GET /v1/volume/vol-1/files?path=%2F",
            "GET /v1/volume/vol-1/files?path=%2F",
            "GET /v1/volume/vol-1/files?path=%2Fa%2Fb",
            "GET /v1/volume/vol-1/files?path=%2Fdocs&search=q",
            "GET /v1/volume/vol-1/files?path=%2Fb",
            "GET /v1/volume/vol-1/files/content?path=%2Fa%2F%2Fb",
            "GET /v1/volume/vol-1/files/content?path=%2F..%2Fx",
            "PUT /v1/volume/vol-1/files/content?path=%2Fx%2Fy",
        ]
    );
}

#[tokio::test]
async fn iterdir_walks_pre_order_and_lists_unread_directories_lazily() {
    let (volume, seen) = disk_server(|r: &Req| {
        if r.route() != ("GET", FILES_PATH) {
            return unexpected(r);
        }
        let body = match r.query.as_str() {
            "path=%2F" => listing(
                "/",
                vec![
                    // Truncated but with entries: walked from those, never listed again.
                    partial_dir("a", vec![file("x.txt", 1)]),
                    // Unread: listed when the walk reaches it.
                    unread_dir("b"),
                    file("c.txt", 3),
                ],
                true,
            ),
            "path=%2Fb" => listing(
                "/b",
                vec![unread_dir("d"), dir("g", vec![file("h.txt", 2)]), file("f.txt", 4)],
                false,
            ),
            "path=%2Fb%2Fd" => listing("/b/d", vec![file("e.txt", 5)], false),
            _ => return unexpected(r),
        };
        json_response(200, body)
    })
    .await;
    let listings = || file_requests(&seen).len();

    let mut walk = volume.iterdir("/");
    assert_eq!(listings(), 0, "nothing is listed before the first item is asked for");

    // (path, listings made once the item was yielded)
    let expected = [
        ("/a", 1),
        ("/a/x.txt", 1),
        ("/b", 1),
        ("/b/d", 2),
        ("/b/d/e.txt", 3),
        ("/b/g", 3),
        ("/b/g/h.txt", 3),
        ("/b/f.txt", 3),
        ("/c.txt", 3),
    ];
    for (path, listed) in expected {
        let item = walk.next().await.unwrap().unwrap();
        assert_eq!(item.path, path);
        assert_eq!(listings(), listed, "listings made once {path} was yielded");
    }
    assert!(walk.next().await.is_none());
    assert_eq!(
        file_calls(&seen),
        [
            "GET /v1/volume/vol-1/files?path=%2F",
            "GET /v1/volume/vol-1/files?path=%2Fb",
            "GET /v1/volume/vol-1/files?path=%2Fb%2Fd",
        ]
    );
}

#[tokio::test]
async fn iterdir_yields_truncation_flags_and_stops_on_a_listing_error() {
    let (volume, seen) = disk_server(|r: &Req| match (r.route(), r.query.as_str()) {
        (("GET", FILES_PATH), "path=%2F") => {
            json_response(200, listing("/", vec![unread_dir("gone"), file("z.txt", 1)], true))
        }
        (("GET", FILES_PATH), "path=%2Fgone") => {
            json_response(404, json!({"error": "no such dir"}))
        }
        _ => unexpected(r),
    })
    .await;

    let mut walk = volume.iterdir("/");
    let gone = walk.next().await.unwrap().unwrap();
    assert_eq!(gone.path, "/gone");
    assert!(gone.is_directory() && gone.truncated);
    let err = walk.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.message(), "no such dir");
    assert!(walk.next().await.is_none(), "the walk ends after an error");
    assert_eq!(file_requests(&seen).len(), 2);
}

#[tokio::test]
async fn search_keeps_case_insensitive_name_matches_without_following_truncated_dirs() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("GET", FILES_PATH) => json_response(
            200,
            listing(
                "/",
                vec![
                    dir(
                        "configs",
                        vec![
                            dir("nested", vec![file("db-conf.yaml", 5)]),
                            file("app.CONF", 10),
                            file("readme.md", 1),
                        ],
                    ),
                    unread_dir("conf-archive"),
                    partial_dir("misc", vec![file("myConfig.ini", 4)]),
                    file("Conf.txt", 2),
                    file("notes.txt", 1),
                ],
                true,
            ),
        ),
        _ => unexpected(r),
    })
    .await;

    let found = volume.search("CONF", "/").await.unwrap();

    assert_eq!(file_calls(&seen), ["GET /v1/volume/vol-1/files?path=%2F&search=CONF"]);
    assert_eq!(
        paths(&found),
        [
            "/configs",
            "/configs/nested/db-conf.yaml",
            "/configs/app.CONF",
            "/conf-archive",
            "/misc/myConfig.ini",
            "/Conf.txt",
        ]
    );
    assert!(found[3].truncated, "the unread match is returned, flagged, not listed");
}

// ---------------------------------------------------------------------------------------------
// Volume files: reading
// ---------------------------------------------------------------------------------------------

const TWENTY: &[u8] = b"abcdefghijklmnopqrst";
const TEN: &[u8] = b"0123456789";

#[tokio::test]
async fn read_file_sends_the_range_the_offset_and_length_ask_for() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("GET", CONTENT_PATH) => serve_range(TWENTY, r.range()),
        _ => unexpected(r),
    })
    .await;

    assert_eq!(&volume.read_file("f.bin", None, None).await.unwrap()[..], TWENTY);
    assert_eq!(&volume.read_file("f.bin", Some(10), Some(5)).await.unwrap()[..], b"klmno");
    assert_eq!(&volume.read_file("f.bin", Some(10), None).await.unwrap()[..], b"klmnopqrst");
    assert_eq!(&volume.read_file("f.bin", None, Some(5)).await.unwrap()[..], b"abcde");

    let requests = file_requests(&seen);
    let ranges: Vec<Option<&str>> = requests.iter().map(|r| header_of(r, header::RANGE)).collect();
    assert_eq!(ranges, [None, Some("bytes=10-14"), Some("bytes=10-"), Some("bytes=0-4")]);
    for request in &requests {
        assert_eq!(request.uri, "/v1/volume/vol-1/files/content?path=%2Ff.bin");
        assert_eq!(header_of(request, header::ACCEPT), Some("application/octet-stream"));
    }

    // Length 0: nothing to read, so no request.
    assert!(volume.read_file("f.bin", Some(3), Some(0)).await.unwrap().is_empty());
    assert!(volume.read_file("f.bin", None, Some(0)).await.unwrap().is_empty());
    assert_eq!(file_requests(&seen).len(), 4);
}

#[tokio::test]
async fn read_text_decodes_utf8_and_reports_invalid_bytes_as_decode_errors() {
    let (volume, _seen) = disk_server(|r: &Req| match (r.route(), r.param("path")) {
        (("GET", CONTENT_PATH), Some("%2Fgood.txt")) => serve_range("héllo ✓".as_bytes(), None),
        (("GET", CONTENT_PATH), Some("%2Fbad.bin")) => serve_range(&[b'o', b'k', 0xff, 0xfe], None),
        _ => unexpected(r),
    })
    .await;

    assert_eq!(volume.read_text("good.txt", None, None).await.unwrap(), "héllo ✓");
    let err = volume.read_text("bad.bin", None, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.message().contains("/bad.bin"), "{}", err.message());
}

#[tokio::test]
async fn stream_reads_ranged_chunks_until_the_reported_size() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("GET", CONTENT_PATH) => serve_range(TEN, r.range()),
        _ => unexpected(r),
    })
    .await;

    let chunks: Vec<Bytes> =
        volume.stream("ten.bin", 4).unwrap().map(Result::unwrap).collect().await;

    let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(chunks.concat(), TEN);
    let requests = file_requests(&seen);
    let mut ranges: Vec<Option<&str>> =
        requests.iter().map(|r| header_of(r, header::RANGE)).collect();
    // The first range comes first; the others are read ahead, concurrently, in any order.
    assert_eq!(ranges[0], Some("bytes=0-3"));
    ranges.sort();
    assert_eq!(ranges, [Some("bytes=0-3"), Some("bytes=4-7"), Some("bytes=8-11")]);
}

#[tokio::test]
async fn stream_fails_when_the_file_changes_size_while_it_is_read_ahead() {
    let (volume, _seen) = disk_server(|r: &Req| match r.route() {
        ("GET", CONTENT_PATH) if r.range() == Some("bytes=0-3") => serve_range(TEN, r.range()),
        ("GET", CONTENT_PATH) => serve_range(b"0123456789ab", r.range()),
        _ => unexpected(r),
    })
    .await;

    let results: Vec<_> = volume.stream("ten.bin", 4).unwrap().collect().await;

    assert_eq!(&results[0].as_ref().unwrap()[..], b"0123");
    assert_eq!(results.len(), 2, "the stream ends at its first error");
    let err = results[1].as_ref().expect_err("the change went unnoticed");
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.message().contains("changed while it was streamed"), "{}", err.message());
}

#[tokio::test]
async fn stream_is_lazy_and_an_exact_multiple_needs_no_extra_request() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("GET", CONTENT_PATH) => serve_range(TEN, r.range()),
        _ => unexpected(r),
    })
    .await;

    let mut chunks = volume.stream("ten.bin", 5).unwrap();
    assert_eq!(file_requests(&seen).len(), 0);
    assert_eq!(&chunks.next().await.unwrap().unwrap()[..], b"01234");
    assert_eq!(file_requests(&seen).len(), 1);
    assert_eq!(&chunks.next().await.unwrap().unwrap()[..], b"56789");
    assert!(chunks.next().await.is_none());
    assert_eq!(file_requests(&seen).len(), 2, "end + 1 == size stops without a request");
}

#[tokio::test]
async fn stream_of_an_empty_file_yields_nothing_after_one_request() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("GET", CONTENT_PATH) => serve_range(b"", r.range()),
        _ => unexpected(r),
    })
    .await;

    let chunks: Vec<_> = volume.stream("empty", 4).unwrap().collect().await;

    assert!(chunks.is_empty());
    let requests = file_requests(&seen);
    assert_eq!(requests.len(), 1);
    assert_eq!(header_of(&requests[0], header::RANGE), Some("bytes=0-3"));
}

#[tokio::test]
async fn stream_rejects_a_zero_chunk_size() {
    let (volume, seen) = disk_server(unexpected).await;

    let Err(err) = volume.stream("f.bin", 0) else { panic!("chunk size 0 was accepted") };
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(file_requests(&seen).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Volume files: writing and moving
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn write_file_streams_a_local_file() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("PUT", CONTENT_PATH) => StatusCode::OK.into_response(),
        _ => unexpected(r),
    })
    .await;
    // Larger than one upload read (1 MiB), so it goes out in several chunks.
    let content: Vec<u8> = (0..3 * 1024 * 1024 + 123).map(|i: u32| (i * 31 % 251) as u8).collect();
    let mut local = tempfile::NamedTempFile::new().unwrap();
    local.write_all(&content).unwrap();
    local.flush().unwrap();

    volume.write_file("uploads/blob.bin", BinaryBody::from_path(local.path())).await.unwrap();

    let requests = file_requests(&seen);
    assert_eq!(
        file_calls(&seen),
        ["PUT /v1/volume/vol-1/files/content?path=%2Fuploads%2Fblob.bin"]
    );
    assert_eq!(header_of(&requests[0], header::CONTENT_TYPE), Some("application/octet-stream"));
    let length = content.len().to_string();
    assert_eq!(header_of(&requests[0], header::CONTENT_LENGTH), Some(length.as_str()));
    assert!(requests[0].body[..] == content[..], "the server received other bytes");
}

#[tokio::test]
async fn write_text_sends_utf8_and_move_file_normalizes_both_paths() {
    let (volume, seen) = disk_server(|r: &Req| match r.route() {
        ("PUT", CONTENT_PATH) | ("POST", MOVE_PATH) => StatusCode::OK.into_response(),
        _ => unexpected(r),
    })
    .await;

    volume.write_text("notes/hello.txt", "héllo wörld ✓").await.unwrap();
    volume.move_file("a/", "/b").await.unwrap();

    assert_eq!(
        file_calls(&seen),
        [
            "PUT /v1/volume/vol-1/files/content?path=%2Fnotes%2Fhello.txt",
            "POST /v1/volume/vol-1/files/move",
        ]
    );
    let requests = file_requests(&seen);
    assert_eq!(&requests[0].body[..], "héllo wörld ✓".as_bytes());
    assert_eq!(header_of(&requests[0], header::CONTENT_TYPE), Some("application/octet-stream"));
    assert_eq!(&requests[1].body[..], br#"{"from":"/a","to":"/b"}"#);
    assert_eq!(header_of(&requests[1], header::CONTENT_TYPE), Some("application/json"));
}

// ---------------------------------------------------------------------------------------------
// Snapshots, health, closing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn snapshot_calls_use_their_paths_and_bodies() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("POST", "/v1/sandbox/sb-1/snapshot") => {
            json_response(202, snapshot_json("snap-1", "sb-1", "pending"))
        }
        ("GET", "/v1/snapshot") => {
            json_response(200, json!({"snapshots": [snapshot_json("snap-1", "sb-1", "ready")]}))
        }
        ("GET", "/v1/snapshot/snap-1") => {
            json_response(200, snapshot_json("snap-1", "sb-1", "ready"))
        }
        ("DELETE", "/v1/snapshot/snap-1") => StatusCode::NO_CONTENT.into_response(),
        _ => unexpected(r),
    })
    .await;
    let snapshots = client(&base).snapshots();

    let created = snapshots.create("sb-1", SnapshotSpec::default()).await.unwrap();
    assert_eq!(created.id, "snap-1");
    assert_eq!(created.status, SnapshotStatus::Pending);
    snapshots.create("sb-1", SnapshotSpec::full()).await.unwrap();
    let listed = snapshots.list(Some("sb-1")).await.unwrap();
    assert_eq!(listed.snapshots.len(), 1);
    snapshots.list(None).await.unwrap();
    let got = snapshots.get("snap-1").await.unwrap();
    assert_eq!(got.status, SnapshotStatus::Ready);
    snapshots.delete("snap-1").await.unwrap();

    assert_eq!(
        calls(&seen),
        [
            "POST /v1/sandbox/sb-1/snapshot",
            "POST /v1/sandbox/sb-1/snapshot",
            "GET /v1/snapshot?sandbox_id=sb-1",
            "GET /v1/snapshot",
            "GET /v1/snapshot/snap-1",
            "DELETE /v1/snapshot/snap-1",
        ]
    );
    let requests = seen.requests();
    assert_eq!(&requests[0].body[..], b"{}");
    assert_eq!(&requests[1].body[..], br#"{"mode":"full"}"#);
}

#[tokio::test]
async fn healthz_and_readyz() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("GET", "/healthz") => json_response(200, json!({"status": "ok"})),
        ("GET", "/readyz") => json_response(200, json!({"status": "ready", "active_sandboxes": 2})),
        _ => unexpected(r),
    })
    .await;
    let porter = client(&base);

    assert_eq!(porter.healthz().await.unwrap().status, "ok");
    let ready = porter.readyz().await.unwrap();
    assert_eq!(ready.status, "ready");
    assert_eq!(ready.active_sandboxes, 2);
    assert_eq!(calls(&seen), ["GET /healthz", "GET /readyz"]);
}

#[tokio::test]
async fn a_closed_client_refuses_every_call_without_a_request() {
    let (base, seen) = scripted(|r: &Req| match r.route() {
        ("GET", "/healthz") => json_response(200, json!({"status": "ok"})),
        ("GET", VOLUME_PATH) => json_response(200, volume_json("vol-1", "data", "disk")),
        _ => unexpected(r),
    })
    .await;
    let porter = client(&base);
    let clone = porter.clone();
    porter.healthz().await.unwrap();
    let volume = porter.volumes().get_by_id("vol-1").await.unwrap().into_disk().unwrap();
    let sandbox = porter.sandboxes().handle("sb-1");
    assert_eq!(seen.hits(), 2);

    porter.close();
    assert!(porter.is_closed());
    assert!(clone.is_closed(), "clones share the connection pool");

    let check = |err: porter_sandbox::Error| {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
        assert!(err.message().contains("closed"), "{}", err.message());
    };
    check(porter.healthz().await.unwrap_err());
    check(clone.readyz().await.unwrap_err());
    check(porter.sandboxes().create(SandboxSpec::new("img")).await.unwrap_err());
    check(sandbox.exec(["true"]).await.unwrap_err());
    check(porter.volumes().list().await.unwrap_err());
    check(porter.snapshots().list(None).await.unwrap_err());
    check(volume.listdir("/").await.unwrap_err());
    check(volume.iterdir("/").next().await.unwrap().unwrap_err());
    check(volume.stream("f", 4).unwrap().next().await.unwrap().unwrap_err());
    assert_eq!(seen.hits(), 2, "no request after close");
}

// ---------------------------------------------------------------------------------------------
// Blocking client
// ---------------------------------------------------------------------------------------------

#[test]
fn blocking_client_creates_execs_walks_and_streams() {
    let server = BackgroundServer::start(|r: &Req| match r.route() {
        ("POST", "/v1/sandbox/run") => json_response(202, json!({"id": "sb-1", "name": "sb-1"})),
        ("POST", "/v1/sandbox/sb-1/exec") => {
            json_response(200, json!({"stdout": "hi\n", "stderr": "", "exit_code": 0}))
        }
        ("GET", VOLUME_PATH) => json_response(200, volume_json("vol-1", "data", "disk")),
        ("GET", FILES_PATH) => match r.query.as_str() {
            "path=%2F" => {
                json_response(200, listing("/", vec![unread_dir("d"), file("top.txt", 1)], true))
            }
            "path=%2Fd" => json_response(200, listing("/d", vec![file("inner.txt", 1)], false)),
            _ => unexpected(r),
        },
        ("GET", CONTENT_PATH) => serve_range(TEN, r.range()),
        _ => unexpected(r),
    });
    assert!(tokio::runtime::Handle::try_current().is_err(), "a plain test has no runtime");
    let porter =
        porter_sandbox::blocking::Porter::builder().base_url(&server.base).build().unwrap();

    let sandbox = porter.sandboxes().create(SandboxSpec::new("img")).unwrap();
    assert_eq!(sandbox.id(), "sb-1");
    assert_eq!(sandbox.phase(), None);
    let out = sandbox.exec(["echo", "hi"]).unwrap();
    assert_eq!((out.stdout.as_str(), out.exit_code), ("hi\n", 0));

    let volume = porter.volumes().get_by_id("vol-1").unwrap().into_disk().unwrap();
    let mut walk = volume.iterdir("/");
    let first = walk.next().unwrap().unwrap();
    assert_eq!(first.path, "/d");
    let rest: Vec<VolumeFile> = walk.collect::<porter_sandbox::Result<_>>().unwrap();
    assert_eq!(paths(&rest), ["/d/inner.txt", "/top.txt"]);

    let chunks: Vec<Bytes> =
        volume.stream("ten.bin", 4).unwrap().collect::<porter_sandbox::Result<_>>().unwrap();
    let sizes: Vec<usize> = chunks.iter().map(Bytes::len).collect();
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(chunks.concat(), TEN);

    assert_eq!(
        calls(&server.seen),
        [
            "POST /v1/sandbox/run",
            "POST /v1/sandbox/sb-1/exec",
            "GET /v1/volume/vol-1",
            "GET /v1/volume/vol-1/files?path=%2F",
            "GET /v1/volume/vol-1/files?path=%2Fd",
            "GET /v1/volume/vol-1/files/content?path=%2Ften.bin",
            "GET /v1/volume/vol-1/files/content?path=%2Ften.bin",
            "GET /v1/volume/vol-1/files/content?path=%2Ften.bin",
        ]
    );
}

#[tokio::test]
async fn blocking_calls_inside_a_runtime_fail_instead_of_panicking() {
    let (base, seen) = scripted(unexpected).await;
    let porter = porter_sandbox::blocking::Porter::builder().base_url(&base).build().unwrap();

    for err in [
        porter.healthz().unwrap_err(),
        porter.sandboxes().create(SandboxSpec::new("img")).unwrap_err(),
        porter.sandboxes().handle("sb-1").exec(["true"]).unwrap_err(),
        porter.volumes().get("data").unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err:?}");
        assert!(err.message().contains("async runtime"), "{}", err.message());
    }
    assert_eq!(seen.hits(), 0);
}
