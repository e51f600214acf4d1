//! Transport behaviour against a fault-injecting in-process server: retries, timeouts,
//! redirects, credentials, error mapping, bodies and query encoding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::any,
};
use porter_sandbox::{
    BinaryBody, DecodedBody, ErrorKind, Porter,
    api::{ListSandboxesParams, SandboxFilter},
    types::{ExecRequest, SandboxesPhase, VolumeFileMoveRequest},
};
use serde_json::json;
use support::{Seen, seen, serve};

/// One request as the scripted handler sees it; `n` counts from 1.
struct Hit {
    n: usize,
    method: Method,
    uri: Uri,
}

type Handler = Arc<dyn Fn(&Hit) -> Response + Send + Sync>;

/// A server answering every request with `respond(&hit)`.
async fn scripted(
    respond: impl Fn(&Hit) -> Response + Send + Sync + 'static,
) -> (String, Arc<Seen>) {
    scripted_after(Duration::ZERO, respond).await
}

/// Like [`scripted`], answering only after `delay` (an async wait: no worker is blocked).
async fn scripted_after(
    delay: Duration,
    respond: impl Fn(&Hit) -> Response + Send + Sync + 'static,
) -> (String, Arc<Seen>) {
    let seen = seen();
    let handler: Handler = Arc::new(respond);
    let state = (seen.clone(), handler);
    let router = Router::new().fallback(any(
        move |State((seen, handler)): State<(Arc<Seen>, Handler)>,
              method: Method,
              uri: Uri,
              headers: HeaderMap,
              body: Bytes| async move {
            let n = seen.record(method.as_str(), &uri.to_string(), &headers, &body);
            tokio::time::sleep(delay).await;
            handler(&Hit { n, method, uri })
        },
    ));
    let router = router.with_state(state).layer(DefaultBodyLimit::disable());
    (serve(router).await, seen)
}

fn json_response(status: u16, value: serde_json::Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response()
}

fn health_ok() -> Response {
    json_response(200, json!({"status": "ok"}))
}

fn client(base: &str) -> Porter {
    Porter::builder().base_url(base).build().unwrap()
}

#[tokio::test]
async fn retries_503_twice_then_succeeds() {
    let (base, seen) =
        scripted(
            |r: &Hit| {
                if r.n <= 2 { json_response(503, json!({"error": "busy"})) } else { health_ok() }
            },
        )
        .await;
    let health = client(&base).healthz().await.unwrap();
    assert_eq!(health.status, "ok");
    assert_eq!(seen.hits(), 3);
}

#[tokio::test]
async fn rate_limit_gives_up_after_four_attempts() {
    let (base, seen) = scripted(|_: &Hit| json_response(429, json!({"error": "slow down"}))).await;
    let err = client(&base).healthz().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimit);
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.message(), "slow down");
    assert_eq!(seen.hits(), 4);
}

#[tokio::test]
async fn max_retries_is_configurable() {
    let (base, seen) = scripted(|_: &Hit| json_response(500, json!({"error": "boom"}))).await;
    let porter = Porter::builder().base_url(&base).max_retries(0).build().unwrap();
    let err = porter.healthz().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(seen.hits(), 1);
}

#[tokio::test]
async fn exec_is_never_retried() {
    let (base, seen) = scripted(|_: &Hit| json_response(503, json!({"error": "busy"}))).await;
    let api = client(&base).raw().sandboxes();
    let err = api.exec_sandbox("sb-1", &ExecRequest::new(["true"]), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.status(), Some(503));
    assert_eq!(seen.hits(), 1);
}

#[tokio::test]
async fn timeout_fails_once_without_retry() {
    // The answer would come after 10 s: the call ends at its own 0.2 s timeout, well before.
    let (base, seen) = scripted_after(Duration::from_secs(10), |_: &Hit| health_ok()).await;
    let porter = Porter::builder().base_url(&base).timeout(Duration::from_millis(200)).build();
    let started = Instant::now();
    let err = porter.unwrap().healthz().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.message(), "Request timed out after 0.2s");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(seen.hits(), 1);
}

#[tokio::test]
async fn exec_has_no_timeout_by_default_and_honours_an_explicit_one() {
    let (base, seen) = scripted_after(Duration::from_millis(600), |_: &Hit| {
        json_response(200, json!({"stdout": "hi\n", "stderr": "", "exit_code": 0}))
    })
    .await;
    let porter = Porter::builder().base_url(&base).timeout(Duration::from_millis(100)).build();
    let api = porter.unwrap().raw().sandboxes();
    let out = api.exec_sandbox("sb-1", &ExecRequest::new(["echo", "hi"]), None).await.unwrap();
    assert_eq!(out.stdout, "hi\n");
    let err = api
        .exec_sandbox("sb-1", &ExecRequest::new(["x"]), Some(Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(seen.hits(), 2);
}

/// A server that accepts connections and closes them at once: a network failure per attempt.
async fn slamming_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("http://{addr}"), accepted)
}

#[tokio::test]
async fn network_errors_are_retried_except_for_exec() {
    let (base, accepted) = slamming_server().await;
    let porter = client(&base);
    let err = porter.healthz().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.message().starts_with("Network error: "), "{}", err.message());
    assert_eq!(err.status(), None);
    assert_eq!(accepted.load(Ordering::SeqCst), 4);

    accepted.store(0, Ordering::SeqCst);
    let api = porter.raw().sandboxes();
    let err = api.exec_sandbox("sb-1", &ExecRequest::new(["true"]), None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_local_port_fails_at_once_with_a_hint() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let porter = client(&format!("http://{free}"));
    let err = porter.healthz().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.message().starts_with("Network error: "), "{}", err.message());
    assert!(err.message().contains("porter-sandbox serve"), "{}", err.message());
    assert!(err.message().contains(&format!("http://{free}")), "{}", err.message());
}

#[tokio::test]
async fn redirect_replays_streamed_upload_bodies() {
    let (base, seen) = scripted(|r: &Hit| {
        if r.uri.path().ends_with("/files/content") {
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/upload/tok?sig=1")])
                .into_response()
        } else {
            assert_eq!(r.method, Method::PUT);
            StatusCode::NO_CONTENT.into_response()
        }
    })
    .await;
    let api = client(&base).raw().volumes();
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("upload.bin");
    std::fs::write(&file, &content).unwrap();
    let shared = Bytes::from(content.clone());
    let bodies = [
        BinaryBody::from_bytes(content.clone()),
        BinaryBody::from_path(&file),
        BinaryBody::from_stream_factory(None, move || {
            let chunks: Vec<std::io::Result<Bytes>> =
                shared.chunks(100_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            Ok(Box::pin(futures_util::stream::iter(chunks)))
        }),
    ];
    for body in bodies {
        api.write_volume_file("vol-1", body, "/a/b.bin", None).await.unwrap();
    }
    let requests = seen.requests();
    assert_eq!(requests.len(), 6);
    for pair in requests.chunks(2) {
        assert_eq!(pair[0].uri, "/v1/volume/vol-1/files/content?path=%2Fa%2Fb.bin");
        assert_eq!(pair[1].uri, "/upload/tok?sig=1");
        for request in pair {
            assert_eq!(request.method, "PUT");
            assert_eq!(request.body.len(), content.len());
            assert!(request.body == content[..]);
            assert_eq!(request.headers[header::CONTENT_TYPE], "application/octet-stream");
        }
    }
    // The stream factory has no length: it must go out chunked.
    assert!(requests[4].headers.get(header::CONTENT_LENGTH).is_none());
    assert_eq!(requests[2].headers[header::CONTENT_LENGTH], content.len().to_string().as_str());
}

#[tokio::test]
async fn redirects_keep_method_and_body_on_every_status() {
    for status in [301u16, 302, 303, 307, 308] {
        let (base, seen) = scripted(move |r: &Hit| {
            if r.n == 1 {
                (StatusCode::from_u16(status).unwrap(), [(header::LOCATION, "/elsewhere")])
                    .into_response()
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        })
        .await;
        let api = client(&base).raw().volumes();
        let body = VolumeFileMoveRequest::new("/a", "/b");
        api.move_volume_file("vol-1", &body).await.unwrap();
        let requests = seen.requests();
        assert_eq!(requests.len(), 2, "{status}");
        assert_eq!(requests[1].method, "POST", "{status}");
        assert_eq!(requests[1].uri, "/elsewhere");
        assert_eq!(&requests[1].body[..], br#"{"from":"/a","to":"/b"}"#, "{status}");
    }
}

#[tokio::test]
async fn authorization_is_dropped_on_another_origin_only() {
    let (other, other_seen) = scripted(|_: &Hit| health_ok()).await;
    let target = format!("{other}/healthz");
    let (base, seen) = scripted(move |r: &Hit| match r.n {
        1 => (StatusCode::FOUND, [(header::LOCATION, "/same-origin")]).into_response(),
        2 => (StatusCode::FOUND, [(header::LOCATION, target.as_str())]).into_response(),
        _ => unreachable!(),
    })
    .await;
    let porter = Porter::builder().base_url(&base).api_key("secret-key").build().unwrap();
    porter.healthz().await.unwrap();
    let here = seen.requests();
    assert_eq!(here[0].headers[header::AUTHORIZATION], "Bearer secret-key");
    assert_eq!(here[1].headers[header::AUTHORIZATION], "Bearer secret-key");
    let there = other_seen.requests();
    assert_eq!(there.len(), 1);
    assert!(there[0].headers.get(header::AUTHORIZATION).is_none());
    assert_eq!(there[0].headers[header::ACCEPT], "application/json");
}

#[tokio::test]
async fn too_many_redirects_fail_without_retry() {
    let (base, seen) = scripted(|r: &Hit| {
        (StatusCode::FOUND, [(header::LOCATION, format!("/hop/{}", r.n))]).into_response()
    })
    .await;
    let err = client(&base).healthz().await.unwrap_err();
    assert_eq!(err.message(), "Too many redirects for /healthz");
    assert_eq!(seen.hits(), 6);
}

#[tokio::test]
async fn redirect_without_location_is_an_api_error() {
    let (base, _) = scripted(|_: &Hit| StatusCode::FOUND.into_response()).await;
    let err = client(&base).healthz().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.status(), Some(302));
    assert_eq!(err.message(), "HTTP 302");
}

#[tokio::test]
async fn error_statuses_map_to_kinds_with_the_servers_message() {
    for (status, kind) in [
        (400, ErrorKind::Api),
        (401, ErrorKind::Authentication),
        (403, ErrorKind::Api),
        (404, ErrorKind::NotFound),
        (409, ErrorKind::Api),
        (422, ErrorKind::Api),
    ] {
        let (base, seen) = scripted(move |_: &Hit| {
            json_response(status, json!({"error": format!("nope {status}"), "detail": 7}))
        })
        .await;
        let err = client(&base).raw().sandboxes().get_sandbox("sb-x").await.unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.message(), format!("nope {status}"));
        assert_eq!(err.to_string(), format!("nope {status}"));
        let expected = DecodedBody::Json(json!({"error": format!("nope {status}"), "detail": 7}));
        assert_eq!(err.body(), Some(&expected));
        assert_eq!(seen.hits(), 1, "{status} must not be retried");
    }
}

#[tokio::test]
async fn non_json_and_empty_error_bodies() {
    let (base, _) = scripted(|r: &Hit| match r.n {
        1 => (StatusCode::IM_A_TEAPOT, "short and stout").into_response(),
        2 => (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "application/json")], "{not json")
            .into_response(),
        3 => json_response(409, json!({"error": 5})),
        _ => StatusCode::FORBIDDEN.into_response(),
    })
    .await;
    let api = client(&base).raw().sandboxes();
    let err = api.get_sandbox("a").await.unwrap_err();
    assert_eq!(err.message(), "HTTP 418");
    assert_eq!(err.body(), Some(&DecodedBody::Text("short and stout".into())));
    let err = api.get_sandbox("a").await.unwrap_err();
    assert_eq!(err.message(), "HTTP 409");
    assert_eq!(err.body(), Some(&DecodedBody::Text("{not json".into())));
    let err = api.get_sandbox("a").await.unwrap_err();
    assert_eq!(err.message(), "HTTP 409");
    let err = api.get_sandbox("a").await.unwrap_err();
    assert_eq!(err.message(), "HTTP 403");
    assert_eq!(err.body(), None);
}

#[tokio::test]
async fn no_content_and_bodies_that_are_ignored() {
    let (base, seen) = scripted(|r: &Hit| match r.n {
        1 => StatusCode::NO_CONTENT.into_response(),
        2 => json_response(200, json!({"whatever": true})),
        _ => (StatusCode::ACCEPTED, "").into_response(),
    })
    .await;
    let api = client(&base).raw().sandboxes();
    api.delete_sandbox("sb-1", None).await.unwrap();
    api.delete_sandbox("sb-1", None).await.unwrap();
    api.delete_sandbox("sb-1", None).await.unwrap();
    assert_eq!(seen.hits(), 3);
}

#[tokio::test]
async fn malformed_success_body_is_a_decode_error() {
    let (base, _) = scripted(|_: &Hit| json_response(200, json!({"state": "fine"}))).await;
    let err = client(&base).healthz().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.message().contains("GET /healthz"), "{}", err.message());
}

#[tokio::test]
async fn query_encoding_repeats_keys_and_escapes_equals() {
    let (base, seen) = scripted(|_: &Hit| {
        json_response(
            200,
            json!({"sandboxes": [], "pagination": {"current_page": 2, "total_pages": 2, "has_next_page": false}}),
        )
    })
    .await;
    let filter = SandboxFilter::new()
        .tag("env", "prod")
        .tag("expr", "a=b")
        .phase(SandboxesPhase::Running)
        .phase(SandboxesPhase::Queued)
        .search("web");
    let params = ListSandboxesParams::from(filter).page(2).include_filter_values(true);
    client(&base).raw().sandboxes().list_sandboxes(&params).await.unwrap();
    assert_eq!(
        seen.requests()[0].uri,
        "/v1/sandbox?search=web&tag=env%3Dprod&tag=expr%3Da%3Db&phase=running&phase=queued\
         &include_filter_values=true&page=2"
    );
}

#[tokio::test]
async fn headers_identify_and_authenticate() {
    let (base, seen) = scripted(|r: &Hit| match r.n {
        1 | 2 => health_ok(),
        _ => (StatusCode::PARTIAL_CONTENT, [(header::CONTENT_RANGE, "bytes 0-1/9")], "ab")
            .into_response(),
    })
    .await;
    client(&base).healthz().await.unwrap();
    let custom = Porter::builder()
        .base_url(format!("{base}///"))
        .api_key("k")
        .user_agent("python", "9.9.9")
        .build()
        .unwrap();
    custom.healthz().await.unwrap();
    let read = custom
        .raw()
        .volumes()
        .read_volume_file("vol-1", "/f", Some("bytes=0-1"), None)
        .await
        .unwrap();
    assert_eq!(&read.data[..], b"ab");
    assert_eq!(read.content_range.map(|r| (r.start, r.end, r.size)), Some((0, 1, 9)));

    let requests = seen.requests();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(requests[0].headers[header::USER_AGENT], format!("porter-sandbox-rust/{version}"));
    assert!(requests[0].headers.get(header::AUTHORIZATION).is_none());
    assert!(requests[0].headers.get(header::CONTENT_TYPE).is_none());
    assert_eq!(requests[1].uri, "/healthz");
    assert_eq!(requests[1].headers[header::USER_AGENT], "porter-sandbox-python/9.9.9");
    assert_eq!(requests[1].headers[header::AUTHORIZATION], "Bearer k");
    assert_eq!(requests[2].headers[header::ACCEPT], "application/octet-stream");
    assert_eq!(requests[2].headers[header::RANGE], "bytes=0-1");
}

#[tokio::test]
async fn json_bodies_are_sent_with_a_content_type() {
    let (base, seen) =
        scripted(|_: &Hit| json_response(202, json!({"id": "sb-1", "name": "sb-1"}))).await;
    let spec = porter_sandbox::types::SandboxSpec::new("host").env("A", "1");
    let created = client(&base).raw().sandboxes().create_sandbox(&spec).await.unwrap();
    assert_eq!(created.id, "sb-1");
    let request = &seen.requests()[0];
    assert_eq!(request.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(&request.body[..], br#"{"image":"host","env":{"A":"1"}}"#);
}

#[test]
fn secrets_never_reach_debug_output() {
    let porter = Porter::builder().base_url("http://127.0.0.1:1").api_key("s3cr3t").build();
    let text = format!("{:?}", porter.unwrap());
    assert!(!text.contains("s3cr3t"), "{text}");
}
