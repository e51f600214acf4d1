#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The lifecycle helpers against scripted in-process servers: waiting (backoff, terminal
//! errors, timeouts, exit codes), get-or-create races, idempotency keys on create retries,
//! lease renewal and scoped guards.

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
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::any,
};
use porter_sandbox::{ErrorKind, Porter, api::IDEMPOTENCY_KEY_HEADER, types::SandboxSpec};
use serde_json::{Value, json};
use support::{Seen, seen, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Handler = Arc<dyn Fn(usize, &Method, &str) -> Response + Send + Sync>;

/// A server answering request number `n` (from 1) to `METHOD path` with `respond`.
async fn scripted(
    respond: impl Fn(usize, &Method, &str) -> Response + Send + Sync + 'static,
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
                handler(n, &method, uri.path())
            },
        ))
        .with_state((seen.clone(), handler));
    (serve(router).await, seen)
}

fn client(base: &str) -> Porter {
    Porter::builder().base_url(base).build().unwrap()
}

fn json_response(status: u16, value: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response()
}

fn status(phase: &str, extra: Value) -> Response {
    let mut body = json!({
        "id": "sb-1", "name": "one", "image": "host", "phase": phase,
        "created_at": "2025-01-01T00:00:00Z", "host": "",
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    json_response(200, body)
}

fn logs(lines: &[&str]) -> Response {
    let logs: Vec<Value> = lines
        .iter()
        .map(|l| json!({"timestamp": "2025-01-01T00:00:00Z", "line": l, "level": "info", "exec_id": ""}))
        .collect();
    json_response(200, json!({"sandbox_id": "sb-1", "logs": logs}))
}

fn calls(seen: &Seen, method: &str, suffix: &str) -> usize {
    seen.requests().iter().filter(|r| r.method == method && r.uri.ends_with(suffix)).count()
}

#[tokio::test]
async fn wait_until_running_polls_with_backoff_until_running() {
    let (base, seen) = scripted(|n, _, _| match n {
        1 => status("queued", json!({})),
        2 | 3 => status("creating", json!({})),
        _ => status("running", json!({})),
    })
    .await;
    let sandbox = client(&base).sandboxes().handle("sb-1");
    let started = Instant::now();
    let running = sandbox.wait_until_running(Some(Duration::from_secs(10))).await.unwrap();
    assert_eq!(running.phase.as_str(), "running");
    assert_eq!(seen.hits(), 4);
    // Pauses of 50 + 100 + 200 ms: fast at first, yet not a busy loop.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(350), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert_eq!(sandbox.phase().unwrap().as_str(), "running");
}

#[tokio::test]
async fn a_sandbox_that_ends_first_is_an_error_with_phase_reason_and_logs() {
    let (base, seen) = scripted(|_, _, path| {
        if path.ends_with("/logs") {
            logs(&["pulling image", "launch failed: no such image"])
        } else {
            status("failed", json!({"termination_reason": "launch_failed"}))
        }
    })
    .await;
    let sandbox = client(&base).sandboxes().handle("sb-1");
    let err = sandbox.wait_until_running(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SandboxTerminal);
    let message = err.message();
    assert!(message.contains("ended failed"), "{message}");
    assert!(message.contains("launch_failed"), "{message}");
    assert!(message.contains("launch failed: no such image"), "{message}");
    assert!(seen.requests().iter().any(|r| r.uri.ends_with("/logs?limit=20")));
    let Some(porter_sandbox::DecodedBody::Json(body)) = err.body() else { panic!("no body") };
    assert_eq!(body["termination_reason"], "launch_failed");
}

#[tokio::test]
async fn waits_time_out_with_the_timeout_kind() {
    let (base, _) = scripted(|_, _, _| status("creating", json!({}))).await;
    let sandbox = client(&base).sandboxes().handle("sb-1");
    let started = Instant::now();
    let err = sandbox.wait_until_running(Some(Duration::from_millis(300))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("still creating"), "{}", err.message());
    let err = sandbox.wait(Some(Duration::from_millis(300))).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    // At the timeouts, not never (generous, for a loaded machine).
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn wait_and_poll_return_the_exit_code_once_terminal() {
    let (base, _) = scripted(|n, _, _| match n {
        1 | 2 => status("running", json!({})),
        _ => status("failed", json!({"exit_code": 3, "termination_reason": "workload_exited"})),
    })
    .await;
    let sandbox = client(&base).sandboxes().handle("sb-1");
    assert_eq!(sandbox.poll().await.unwrap(), None);
    assert_eq!(sandbox.wait(None).await.unwrap(), 3);
    assert_eq!(sandbox.poll().await.unwrap(), Some(3));
}

#[tokio::test]
async fn terminal_sandboxes_without_an_exit_code_get_a_conventional_one() {
    let (base, _) = scripted(|n, _, _| match n {
        1 => status("terminated", json!({"termination_reason": "ttl_expired"})),
        2 => status("failed", json!({"termination_reason": "launch_failed"})),
        _ => status("succeeded", json!({})),
    })
    .await;
    let sandbox = client(&base).sandboxes().handle("sb-1");
    assert_eq!(sandbox.wait(None).await.unwrap(), 137);
    assert_eq!(sandbox.wait(None).await.unwrap(), 1);
    assert_eq!(sandbox.wait(None).await.unwrap(), 0);
}

#[tokio::test]
async fn get_or_create_returns_the_winner_of_a_name_race() {
    // Nobody has the name at the first lookup; the create loses the race (409); the second
    // lookup finds the winner.
    let lookups = Arc::new(AtomicUsize::new(0));
    let counter = lookups.clone();
    let (base, seen) = scripted(move |_, method, path| match (method.as_str(), path) {
        ("GET", "/v1/sandbox/lookup") => {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                json_response(404, json!({"error": "no sandbox is named \"one\""}))
            } else {
                json_response(200, json!({"id": "sb-1"}))
            }
        }
        ("POST", "/v1/sandbox/run") => {
            json_response(409, json!({"error": "sandbox name \"one\" is already used"}))
        }
        ("GET", "/v1/sandbox/sb-1") => status("running", json!({})),
        _ => json_response(418, json!({"error": "unexpected"})),
    })
    .await;
    let porter = client(&base);
    let sandbox = porter.sandboxes().get_or_create("one", SandboxSpec::new("host")).await.unwrap();
    assert_eq!(sandbox.id(), "sb-1");
    let create = seen.requests().into_iter().find(|r| r.method == "POST").unwrap();
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["name"], "one");
    assert_eq!(lookups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn get_or_create_returns_a_live_sandbox_without_creating() {
    let (base, seen) = scripted(|_, _, path| match path {
        "/v1/sandbox/lookup" => json_response(200, json!({"id": "sb-1"})),
        _ => status("creating", json!({})),
    })
    .await;
    let sandbox =
        client(&base).sandboxes().get_or_create("one", SandboxSpec::new("host")).await.unwrap();
    assert_eq!(sandbox.id(), "sb-1");
    assert_eq!(calls(&seen, "POST", "/run"), 0);
}

/// A raw server that reads each request whole and, for the first one, closes the connection
/// without answering (a response lost on the way); later ones get a 202. Returns the base URL
/// and the `Idempotency-Key` of each request.
async fn losing_first_response() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let keys = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen_keys = keys.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let request = loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buffer.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buffer).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buffer.len() >= end + 4 + length {
                        break Some(text[..end].to_owned());
                    }
                }
            };
            let Some(head) = request else { continue };
            let key = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case(IDEMPOTENCY_KEY_HEADER).then(|| value.trim().into())
                })
                .unwrap_or_default();
            let first = {
                let mut keys = seen_keys.lock().unwrap();
                keys.push(key);
                keys.len() == 1
            };
            if first {
                drop(socket);
                continue;
            }
            let body = r#"{"id":"sb-1","name":"sb-1"}"#;
            let response = format!(
                "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: \
                 {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (base, keys)
}

#[tokio::test]
async fn a_retried_create_reuses_its_idempotency_key() {
    let (base, keys) = losing_first_response().await;
    let porter = client(&base);
    let sandbox = porter.sandboxes().create(SandboxSpec::new("host")).await.unwrap();
    assert_eq!(sandbox.id(), "sb-1");
    let sent = keys.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].len(), 32, "{sent:?}");
    assert_eq!(sent[0], sent[1]);
    // Another logical call gets a key of its own.
    porter.sandboxes().create(SandboxSpec::new("host")).await.unwrap();
    let sent = keys.lock().unwrap().clone();
    assert_eq!(sent.len(), 3);
    assert_ne!(sent[2], sent[0]);
}

#[tokio::test]
async fn leases_are_renewed_while_the_client_lives() {
    let (base, seen) = scripted(|_, method, path| match (method.as_str(), path) {
        ("POST", "/v1/sandbox/run") => json_response(202, json!({"id": "sb-1", "name": "sb-1"})),
        ("POST", "/v1/sandbox/sb-1/lease") => StatusCode::NO_CONTENT.into_response(),
        _ => json_response(418, json!({"error": "unexpected"})),
    })
    .await;
    let porter = client(&base);
    let spec = SandboxSpec::new("host").lease_seconds(3);
    let created = porter.sandboxes().create(spec).await.unwrap();
    assert_eq!(porter.leased_sandboxes(), vec![created.id().to_owned()]);
    // A 3 s lease is renewed every second.
    let deadline = Instant::now() + Duration::from_secs(30);
    while calls(&seen, "POST", "/lease") < 2 {
        assert!(Instant::now() < deadline, "the lease was not renewed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(created);
    drop(porter);
    // The renewing task stops: no renewal (one a second while it runs) arrives for 2.5 s.
    // A renewal in flight at the drop may still land, so quiet is awaited, within a bound.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let before = calls(&seen, "POST", "/lease");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        if calls(&seen, "POST", "/lease") == before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the lease is still renewed after the client was dropped"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_guard_terminates_its_sandbox_and_a_disarmed_one_does_not() {
    let (base, seen) = scripted(|_, method, _| match method.as_str() {
        "POST" => json_response(202, json!({"id": "sb-1", "name": "sb-1"})),
        _ => StatusCode::NO_CONTENT.into_response(),
    })
    .await;
    let porter = client(&base);
    let guard = porter.sandboxes().create_scoped(SandboxSpec::new("host")).await.unwrap();
    assert_eq!(guard.id(), "sb-1");
    drop(guard);
    // The drop waited for the terminate.
    assert_eq!(calls(&seen, "DELETE", "/v1/sandbox/sb-1"), 1);
    let kept = porter.sandboxes().create_scoped(SandboxSpec::new("host")).await.unwrap();
    let _sandbox = kept.into_inner();
    assert_eq!(calls(&seen, "DELETE", "/v1/sandbox/sb-1"), 1);
    let explicit = porter.sandboxes().create_scoped(SandboxSpec::new("host")).await.unwrap();
    explicit.terminate().await.unwrap();
    assert_eq!(calls(&seen, "DELETE", "/v1/sandbox/sb-1"), 2);
}

#[test]
fn the_blocking_guard_terminates_on_drop_and_on_panic() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (base, seen) = runtime.block_on(scripted(|_, method, _| match method.as_str() {
        "POST" => json_response(202, json!({"id": "sb-1", "name": "sb-1"})),
        "GET" => status("running", json!({})),
        _ => StatusCode::NO_CONTENT.into_response(),
    }));
    let porter = porter_sandbox::blocking::Porter::builder().base_url(&base).build().unwrap();
    let result = std::panic::catch_unwind(|| {
        let guard = porter.sandboxes().create_scoped(SandboxSpec::new("host")).unwrap();
        guard.wait_until_running(None).unwrap();
        panic!("the caller's code failed");
    });
    assert!(result.is_err());
    assert_eq!(calls(&seen, "DELETE", "/v1/sandbox/sb-1"), 1);
    drop(runtime);
}
