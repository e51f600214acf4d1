//! Input hardening end to end: every bad query value and spec field answers 400 with a message
//! naming the parameter (never a panic, a dropped connection or a 500), and the good values
//! next to them are still accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use porter_sandbox::types::{
    SandboxSpec, SnapshotSpec, SnapshotStatus, StatusResponsePhase, VolumeSpec,
};
use serde_json::{Value, json};
use support::{TestServer, shared, start_server, unique, wait_started};

/// A bare HTTP/1.1 request with the harness's key; the status and the body.
async fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = server.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.authorization(),
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    // An error's message, decoded (quotes and escapes as the server wrote them).
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned));
    (code, message.unwrap_or(body))
}

#[tokio::test]
async fn out_of_range_query_values_answer_400_naming_the_parameter() {
    let server = shared();
    let spec = json!({"image": "host", "name": unique("q"), "command": ["true"]});
    let (code, body) = request(server, "POST", "/v1/sandbox/run", Some(&spec)).await;
    assert_eq!(code, 202, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap().to_owned();
    let big = "9223372036854775807";
    let metrics = |q: &str| format!("/v1/sandbox/{id}/metrics?metric=cpu_usage&{q}");
    let cases = [
        (format!("/v1/sandbox?page={big}"), 400, "page"),
        ("/v1/sandbox?page=0".to_owned(), 400, "page"),
        ("/v1/sandbox?page=-1".to_owned(), 400, "page"),
        ("/v1/sandbox?page=99999999999999999999".to_owned(), 400, "page"),
        ("/v1/sandbox?page=1000000000".to_owned(), 200, "pagination"),
        (format!("/v1/sandbox?{}", "tag=a=b&".repeat(1500)), 400, "tag"),
        (format!("/v1/sandbox?{}", "tag=a=b&".repeat(64)), 200, "pagination"),
        (format!("/v1/sandbox?{}", "phase=running&".repeat(1000)), 200, "pagination"),
        (format!("/v1/sandbox?search={}", "a".repeat(64)), 400, "search"),
        (format!("/v1/sandbox?search={}", "a".repeat(50001)), 400, "search"),
        (format!("/v1/sandbox?search={}", "a".repeat(63)), 200, "pagination"),
        (format!("/v1/sandbox?start_time={big}us"), 400, "start_time"),
        (format!("/v1/sandbox?end_time={big}us"), 400, "end_time"),
        (format!("/v1/sandbox/counts?start_time={big}us"), 400, "start_time"),
        (format!("/v1/sandbox/counts?end_time={big}us"), 400, "end_time"),
        ("/v1/sandbox/counts?start_time=1000000d".to_owned(), 400, "start_time"),
        ("/v1/sandbox/counts?start_time=0000-01-01T00:00:00Z".to_owned(), 200, "points"),
        ("/v1/sandbox/counts?end_time=9999-12-31T23:59:59Z".to_owned(), 200, "points"),
        ("/v1/sandbox/counts?start_time=700000d".to_owned(), 200, "points"),
        (format!("/v1/sandbox/{id}/metrics-summary?since={big}us"), 400, "since"),
        (format!("/v1/sandbox/{id}/metrics-summary?since=0000-01-01T00:00:00Z"), 200, "cpu"),
        (format!("/v1/sandbox/{id}/metrics-summary?since=10m"), 200, "cpu"),
        (format!("/v1/sandbox/{id}/logs?limit=0"), 400, "limit"),
        (format!("/v1/sandbox/{id}/logs?limit=-5"), 400, "limit"),
        (format!("/v1/sandbox/{id}/logs?since={big}us"), 400, "since"),
        (format!("/v1/sandbox/{id}/logs?limit={big}"), 200, "logs"),
        (format!("/v1/sandbox/{id}/logs?since=0000-01-01T00:00:00Z"), 200, "logs"),
        (metrics(&format!("start_time_utc={big}us&end_time_utc=1m")), 400, "start_time_utc"),
        (metrics(&format!("start_time_utc=1h&end_time_utc={big}us")), 400, "end_time_utc"),
        (
            metrics("start_time_utc=0000-01-01T00:00:00Z&end_time_utc=9999-12-31T23:59:59Z"),
            200,
            "series",
        ),
    ];
    for (path, status, word) in cases {
        let (code, body) = request(server, "GET", &path, None).await;
        let path: String = path.chars().take(120).collect();
        assert_eq!(code, status, "{path}: {body}");
        assert!(body.contains(word), "{path}: {body}");
    }
    request(server, "DELETE", &format!("/v1/sandbox/{id}"), None).await;
}

#[tokio::test]
async fn bad_specs_answer_400_naming_the_mount_tag_or_field() {
    let server = shared();
    let name = unique("in");
    let volume = server.client().volumes().create(VolumeSpec::named(&name)).await.unwrap();
    let vol = volume.id().to_owned();
    let spec = |extra: Value| {
        let mut spec = json!({"image": "host", "command": ["sleep", "300"]});
        spec.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        spec
    };
    let many_tags: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let many_env: serde_json::Map<String, Value> =
        (0..1025).map(|i| (format!("V{i}"), json!("x"))).collect();
    let mut bad = Vec::new();
    for path in ["//usr", "//proc", "/./usr", "/usr/", "/a/../usr", "/..", "//", "/dev/./shm"] {
        bad.push((spec(json!({"volume_mounts": {path: vol}})), format!("{path:?}")));
    }
    for (tags, word) in [
        (json!({"": "x"}), "tag \"\""),
        (json!({"a=b": "x"}), "tag \"a=b\""),
        (json!({"k\u{0}": "x"}), "tag \"k\\0\""),
        (json!({"nl": "a\nb"}), "tag \"nl\""),
        (json!({"k".repeat(64): "x"}), "longer than 63"),
        (json!({"v": "x".repeat(257)}), "tag \"v\""),
        (Value::Object(many_tags.clone()), "at most 64"),
    ] {
        bad.push((spec(json!({ "tags": tags })), word.to_owned()));
    }
    bad.push((spec(json!({ "env": many_env })), "env has 1025".to_owned()));
    let hosts: Vec<String> = (0..257).map(|i| format!("h{i}.test")).collect();
    let egress = json!({ "egress": {"allowed_destinations": hosts} });
    bad.push((spec(egress), "allowed_destinations has 257".to_owned()));
    bad.push((spec(json!({"env": {"BIG": "x".repeat(600 << 10)}})), "env is".to_owned()));
    bad.push((spec(json!({"args": ["x".repeat(600 << 10)]})), "command and args".to_owned()));
    for (body, word) in &bad {
        let (code, reply) = request(server, "POST", "/v1/sandbox/run", Some(body)).await;
        assert_eq!(code, 400, "{word}: {reply}");
        assert!(reply.contains(word.as_str()), "{word}: {reply}");
    }

    // The good neighbours are accepted.
    let mut max_tags = many_tags;
    max_tags.remove("k64");
    max_tags.insert("k".repeat(63), json!("é".repeat(256)));
    max_tags.remove("k0");
    let good = [
        spec(json!({"volume_mounts": {"/data/": vol}})),
        spec(json!({"volume_mounts": {"//work/./x": vol}})),
        spec(json!({"tags": max_tags, "env": {"A": "x".repeat(100 << 10)}})),
        spec(json!({"tags": {"team": "a b/c:d=e"}})),
    ];
    for body in &good {
        let (code, reply) = request(server, "POST", "/v1/sandbox/run", Some(body)).await;
        assert_eq!(code, 202, "{body}: {reply}");
        let id = serde_json::from_str::<Value>(&reply).unwrap()["id"].as_str().unwrap().to_owned();
        let (code, reply) = request(server, "DELETE", &format!("/v1/sandbox/{id}"), None).await;
        assert_eq!(code, 204, "{reply}");
    }
    server.client().volumes().delete(&name).await.unwrap();
}

#[tokio::test]
async fn a_failed_snapshot_does_not_tell_clients_where_the_data_dir_is() {
    let server = start_server(&[]);
    let porter = server.client();
    let spec = SandboxSpec::new("host").name(unique("snap")).command(["sleep", "300"]);
    let sandbox = porter.sandboxes().create(spec).await.unwrap();
    let started = wait_started(&sandbox, Duration::from_secs(30)).await;
    assert_eq!(started, StatusResponsePhase::Running);
    // Captures go under <data dir>/snapshots: a file in its place makes every capture fail.
    let snapshots = server.data_dir.join("snapshots");
    let _ = std::fs::remove_dir_all(&snapshots);
    std::fs::write(&snapshots, "not a directory").unwrap();
    let pending = porter.snapshots().create(sandbox.id(), SnapshotSpec::default()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let snapshot = loop {
        let snapshot = porter.snapshots().get(&pending.id).await.unwrap();
        if snapshot.status != SnapshotStatus::Pending || Instant::now() > deadline {
            break snapshot;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(snapshot.status, SnapshotStatus::Failed, "{snapshot:?}");
    let reason = snapshot.failure_reason.unwrap_or_default();
    let data_dir = server.data_dir.to_string_lossy().into_owned();
    assert!(!reason.is_empty() && !reason.contains(&data_dir), "{reason}");
    assert!(reason.contains("<data dir>"), "{reason}");
    sandbox.terminate().await.unwrap();
}
