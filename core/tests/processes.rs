#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The process client against scripted in-process servers: a server without the extension
//! fails at once with `Unsupported` (discovery read once per client), and an output stream
//! whose connection breaks mid-frame resumes from the next byte without losing or repeating
//! one.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use futures_util::StreamExt;
use porter_sandbox::{
    ErrorKind, ExecOptions, Porter, ProcessSpec,
    types::{OutputStreamName, frame_kind},
};
use serde_json::json;
use support::serve;

fn client(base_url: &str) -> Porter {
    Porter::builder().base_url(base_url).api_key("k").max_retries(2).build().unwrap()
}

fn frame(kind: u8, offset: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&offset.to_be_bytes());
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn status_json(state: &str, exit_code: Option<i64>, end: u64) -> serde_json::Value {
    json!({
        "exec_id": "ex-1", "sandbox_id": "sb-1", "command": ["x"], "state": state,
        "exit_code": exit_code, "timed_out": false, "pty": false, "stdin_open": false,
        "started_at": "2026-01-01T00:00:00Z", "stdout_bytes": end, "stderr_bytes": 0,
        "output_start": 0, "output_end": end,
    })
}

#[tokio::test]
async fn a_server_without_processes_fails_at_once_and_is_asked_once() {
    let hits = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .fallback(any(|State(hits): State<Arc<AtomicUsize>>| async move {
            hits.fetch_add(1, Ordering::SeqCst);
            (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Not Found"})))
        }))
        .with_state(hits.clone());
    let base = serve(router).await;
    let porter = client(&base);
    let sandbox = porter.sandboxes().handle("sb-1");
    let started = Instant::now();
    let err = sandbox.start(ProcessSpec::new(["sleep", "1"])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    assert!(err.message().contains("exec()"), "the message says what to use: {err}");
    for _ in 0..3 {
        let again = sandbox.process("ex-1").await.unwrap_err();
        assert_eq!(again.kind(), ErrorKind::Unsupported);
        assert_eq!(sandbox.processes().await.unwrap_err().kind(), ErrorKind::Unsupported);
    }
    // The hit count proves there were no retries; the bound only catches a hang.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the discovery call is cached per client");
    // Invalid specs are refused before any request.
    let empty = sandbox.start(ProcessSpec::new(Vec::<String>::new())).await.unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidArgument);
}

#[tokio::test]
async fn an_exec_deadline_is_enforced_by_the_client_on_a_plain_server() {
    // A server that ignores the deadline and never answers the exec.
    let router = Router::new().fallback(any(|| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        StatusCode::OK
    }));
    let base = serve(router).await;
    let porter = client(&base);
    let sandbox = porter.sandboxes().handle("sb-1");
    // The deadline plus the margin: a short deadline still means a bounded wait.
    let options = ExecOptions::new().timeout(Duration::from_millis(10));
    let started = Instant::now();
    let err =
        tokio::time::timeout(Duration::from_secs(30), sandbox.exec_with(["sleep", "99"], options))
            .await
            .expect("the client gives up by itself")
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() >= porter_sandbox::EXEC_DEADLINE_MARGIN);
}

#[derive(Clone)]
struct Script {
    opens: Arc<AtomicUsize>,
    offsets: Arc<std::sync::Mutex<Vec<u64>>>,
}

#[tokio::test]
async fn a_broken_output_stream_resumes_from_the_next_byte() {
    let script =
        Script { opens: Arc::new(AtomicUsize::new(0)), offsets: Arc::new(Default::default()) };
    let router = Router::new()
        .route(
            "/v1/extensions",
            get(|| async {
                axum::Json(json!({"exec_options": true, "processes": true, "leases": true,
                    "idempotency": true, "process_output_retention": 1024}))
            }),
        )
        .route(
            "/v1/sandbox/{id}/processes",
            post(|| async { (StatusCode::CREATED, axum::Json(status_json("running", None, 0))) }),
        )
        .route(
            "/v1/sandbox/{id}/processes/{exec_id}/output",
            get(
                |State(script): State<Script>,
                 Query(query): Query<std::collections::HashMap<String, String>>| async move {
                    let offset: u64 = query["offset"].parse().unwrap();
                    script.offsets.lock().unwrap().push(offset);
                    let n = script.opens.fetch_add(1, Ordering::SeqCst);
                    let body: Vec<u8> = match n {
                        // "hello " whole, then half of the next frame, then the connection ends.
                        0 => {
                            let mut body = frame(frame_kind::STDOUT, 0, b"hello ");
                            body.extend_from_slice(&frame(frame_kind::STDERR, 6, b"world")[..16]);
                            body
                        }
                        // A server that replays a little before the asked offset.
                        1 => {
                            let mut body = frame(frame_kind::STDOUT, 4, b"o ");
                            body.extend(frame(frame_kind::STDERR, 6, b"world"));
                            body
                        }
                        // The end, after one more chunk.
                        _ => {
                            let mut body = frame(frame_kind::STDOUT, 11, b"!");
                            let end =
                                serde_json::to_vec(&status_json("exited", Some(0), 12)).unwrap();
                            body.extend(frame(frame_kind::END, 12, &end));
                            body
                        }
                    };
                    Response::builder()
                        .header("content-type", "application/vnd.porter.process-output")
                        .body(Body::from(body))
                        .unwrap()
                        .into_response()
                },
            ),
        )
        .with_state(script.clone());
    let base = serve(router).await;
    let porter = client(&base);
    let process = porter.sandboxes().handle("sb-1").start(ProcessSpec::new(["x"])).await.unwrap();
    let mut stream = process.output(0);
    let mut chunks = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        chunks.push((chunk.stream, String::from_utf8(chunk.data.to_vec()).unwrap(), chunk.offset));
    }
    assert_eq!(
        chunks,
        vec![
            (OutputStreamName::Stdout, "hello ".to_owned(), 0),
            (OutputStreamName::Stderr, "world".to_owned(), 6),
            (OutputStreamName::Stdout, "!".to_owned(), 11),
        ]
    );
    assert_eq!(*script.offsets.lock().unwrap(), vec![0, 6, 11]);
    assert_eq!(process.last_status().unwrap().exit_code, Some(0));
}
